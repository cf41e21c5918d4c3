-- undo.lua — imapscript --history (the runs in the journal, or one run's actions) and --undo
-- (reversing a run from the journal: moved messages go back, copies go away, flags return to
-- what they were; expunged messages are reported as not recoverable). An undo is a run of its
-- own, journaled like any other, so it can be undone too.
local core = require "imapscript.core"
local log = require "imapscript.log"
local settings = require "imapscript.settings"
local state = require "imapscript.state"
local journal = require "imapscript.journal"
local account = require "imapscript.account"
local secret = require "imapscript.secret"
local Result = require "imapscript.result"
local transfer = require "imapscript.transfer"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local function usage(msg) error(core.error("usage", msg), 0) end

local function db_or_fail()
  if not state.db() then usage("no state database: --history and --undo read the journal") end
end

local function when(t) return t and os.date("%Y-%m-%d %H:%M:%S", t) or "-" end

-- What became of a run: running, interrupted (its process is gone), done, failed, undone.
local function status_of(run)
  local s = run.status
  if s == "running" and not core.pid_alive(run.pid or 0) then s = "interrupted" end
  local undone = state.exec("run_undone_by", { id = run.id })
  if undone and undone[1] then s = s .. ", undone by " .. undone[1].id end
  return s
end

local past = { move = "moved", copy = "copied", delete = "deleted", store = "flagged",
  append = "appended" }

-- "moved 37, deleted 3 (1 unknown)" from a run's totals.
local function summary(run_id)
  local by, unknown = {}, 0
  for _, t in ipairs(state.exec("run_totals", { run = run_id }) or {}) do
    if t.state == "pending" or t.state == "copied" then
      unknown = unknown + t.entries
    elseif (t.state == "done" or t.state == "resolved") and past[t.verb] then
      by[t.verb] = (by[t.verb] or 0) + (t.messages or 0)
    end
  end
  local out = {}
  for _, v in ipairs { "move", "copy", "delete", "store", "append" } do
    if by[v] then out[#out + 1] = string.format("%s %d", past[v], by[v]) end
  end
  if unknown > 0 then out[#out + 1] = string.format("%d unknown", unknown) end
  return #out > 0 and table.concat(out, ", ") or "nothing"
end

local function script_name(run)
  if run.kind == "undo" then return string.format("(undo of run %s)", tostring(run.undo_of)) end
  local s = run.script or "(stdin or -e)"
  local home = os.getenv("HOME")
  if home and s:sub(1, #home + 1) == home .. "/" then s = "~" .. s:sub(#home + 1) end
  return s
end

-- One line per entry of a run: script line, verb, messages, where, what became of it.
local function entry_line(e)
  local where = e.mailbox or ""
  if e.dest_mailbox then
    local other = e.dest_account and e.dest_account ~= e.account and " (" .. e.dest_account .. ")" or ""
    where = (where ~= "" and where .. " -> " or "-> ") .. e.dest_mailbox .. other
  end
  if e.verb == "store" then
    where = string.format("%s %sFLAGS (%s)", where, e.mode == "=" and "" or e.mode or "", e.flags or "")
  end
  return string.format("  %-28s %-11s %6s  %-44s %s%s", e.line or "-", e.verb,
    e.method == "MAILBOX" and "" or tostring(e.count or "?"), where, e.state,
    e.outcome and ": " .. e.outcome or "")
end

--- imapscript --history [RUN]
function M.history(run_id)
  db_or_fail()
  if run_id then
    local run = (state.exec("run_get", { id = run_id }) or {})[1]
    if not run then usage(string.format("--history: no run %d in the journal", run_id)) end
    io.stdout:write(string.format("run %d: %s, %s .. %s, %s\n", run.id, script_name(run),
      when(run.started), when(run.finished), status_of(run)))
    for _, row in ipairs(state.exec("entries_of_run", { run = run.id }) or {}) do
      if row.verb ~= "undelete" then io.stdout:write(entry_line(row), "\n") end
    end
    return
  end
  io.stdout:write(string.format("%5s  %-19s  %-22s  %-32s  %s\n", "run", "started", "status",
    "script", "what it did"))
  for _, run in ipairs(state.exec("runs_recent", { limit = 50 }) or {}) do
    io.stdout:write(string.format("%5d  %-19s  %-22s  %-32s  %s\n", run.id, when(run.started),
      status_of(run), script_name(run), summary(run.id)))
  end
end

---------------------------------------------------------------------------------------
-- Accounts of a run, with their secrets.

-- The settings (with password) of every account a script makes, by key: the script runs in a
-- mode where imap.account only records its settings and the first use of a connection stops
-- it, so nothing is searched or changed.
local function accounts_of_script(path, args)
  local before = #account.all
  settings.accounts_only = true
  local env = setmetatable({ print = function() end }, { __index = _G })
  local chunk, err = loadfile(path, "t", env)
  if chunk then pcall(chunk, table.unpack(args or {})) end
  settings.accounts_only = false
  local found = {}
  for i = #account.all, before + 1, -1 do
    local a = table.remove(account.all, i)
    a.closed, a.queue = true, {}
    found[journal.key(a.cfg)] = a.cfg
  end
  return found, chunk == nil and err or nil
end

-- An account for key, made from the journal's settings and the password's source.
local function account_for(key, run, script, cache)
  if cache[key] then return cache[key] end
  local row = (state.exec("account_get", { key = key }) or {})[1]
  local cfg = row and journal.settings_of(row.settings)
  if not cfg then usage(string.format("--undo: the journal has no settings for %s", key)) end
  local from = cfg.password_from
  cfg.password_from = nil
  if from and from.source == "env" then
    cfg.password = secret.env(from.arg)
  elseif from and from.source == "command" then
    cfg.password = secret.command(from.arg)
  elseif from and from.source == "script" then
    local path = script or run.script
    if not path then
      usage(string.format("--undo: the password of %s was written in the run's script, which " ..
        "was read from standard input: give the script, imapscript --undo %d SCRIPT", key, run.id))
    end
    local args = journal.settings_of(run.args) or {}
    local found, err = accounts_of_script(path, script and {} or args)
    local from_script = found[key]
    if not from_script then
      usage(string.format("--undo: %s does not make the account %s%s (its password is not in " ..
        "the journal)", path, key, err and ": " .. err or ""))
    end
    cfg.password, cfg.oauth2 = from_script.password, from_script.oauth2
  end
  local a = account.new(cfg)
  cache[key] = a
  return a
end

---------------------------------------------------------------------------------------
-- Finding the messages of an entry where they are now.

-- {uid = message_id} of set in box (all of it when set is nil), fetched with the headers.
local function ids_in(box, set)
  local conn = Result.use_box(box)
  local out = {}
  local h = conn:fetch(set or core.set("1:4294967295"), { "uid", { "fields", "Message-ID" } }, function(m)
    if m.uid then out[m.uid] = transfer.message_id(m.fields) or false end
  end)
  conn:wait(h)
  local ok, err = h:result()
  if not ok then error(err, 0) end
  return out
end

-- The UIDs in box of the entry's messages (by Message-ID; candidates first, e.g. COPYUID's
-- destination UIDs), how many were not found, and {message_id = uid}.
local function locate(box, msgs, candidates)
  local want = {}
  for _, m in ipairs(msgs) do
    if m.message_id then want[m.message_id] = (want[m.message_id] or 0) + 1 end
  end
  local found, uid_of = {}, {}
  local function take(map)
    for uid, id in pairs(map) do
      if id and (want[id] or 0) > 0 and not found[uid] then
        found[uid], uid_of[id] = true, uid
        want[id] = want[id] - 1
      end
    end
  end
  if candidates and #candidates > 0 then take(ids_in(box, candidates)) end
  local left = 0
  for _, n in pairs(want) do left = left + n end
  if left > 0 then take(ids_in(box)) end
  local uids, missing = {}, 0
  for uid in pairs(found) do uids[#uids + 1] = uid end
  for _, n in pairs(want) do missing = missing + n end
  for _, m in ipairs(msgs) do if not m.message_id then missing = missing + 1 end end
  return core.set(uids), missing, uid_of
end

-- Queues an undo step for entry e: op's verb, dest, mode, flags on set of box.
local function step(box, set, e, op)
  if #set == 0 then return end
  op.kind, op.src, op.where = "action", Result.known(box, set), e.line
  op.label = "undo " .. (e.label or e.verb) .. (op.label and ": " .. op.label or "")
  box.account:_enqueue(op)
end

local function restore(box, set, mode, flags, e)
  step(box, set, e, { verb = "store", mode = mode, flags = flags,
    label = mode == "=" and "set flags" or (mode == "+" and "add " or "remove ") .. table.concat(flags, " ") })
end

local function strip_recent(flags)
  local out = {}
  for _, f in ipairs(flags) do if f:upper() ~= "\\RECENT" then out[#out + 1] = f end end
  return out
end

-- Flags back to what the pre-image says, for a store entry.
local function undo_store(acct, e)
  local box = acct:mailbox(e.mailbox)
  local msgs = e:messages()
  local _, missing, uid_of = locate(box, msgs, e.uids)
  local changed = {}       -- "mode flag" -> {uids}
  local sets = {}          -- "=" : flags text -> {uids}
  local flags = {}
  for f in (type(e.flags) == "table" and table.concat(e.flags, " ") or e.flags or ""):gmatch("%S+") do
    flags[#flags + 1] = f
  end
  for _, m in ipairs(msgs) do
    local uid = m.message_id and uid_of[m.message_id]
    if uid then
      local had = {}
      for _, f in ipairs(m.flags or {}) do had[f:upper()] = true end
      if e.mode == "=" then
        local before = table.concat(strip_recent(m.flags or {}), " ")
        sets[before] = sets[before] or {}
        table.insert(sets[before], uid)
      else
        for _, f in ipairs(flags) do
          -- +F took F where it was missing; -F took it where it was
          if (e.mode == "+") ~= (had[f:upper()] or false) then
            local k = (e.mode == "+" and "-" or "+") .. " " .. f
            changed[k] = changed[k] or {}
            table.insert(changed[k], uid)
          end
        end
      end
    end
  end
  for k, list in pairs(changed) do
    local mode, f = k:match("^(.) (.*)$")
    restore(box, core.set(list), mode, { f }, e)
  end
  for text, list in pairs(sets) do
    local fl = {}
    for f in text:gmatch("%S+") do fl[#fl + 1] = f end
    restore(box, core.set(list), "=", fl, e)
  end
  return missing
end

-- Moves back (or, for a copy, deletes) the messages an entry put into its destination.
local function undo_copy(acct, e, run, script, cache)
  local dest_acct = e.dest_account and e.dest_account ~= e.account
    and account_for(e.dest_account, run, script, cache) or acct
  local dest = dest_acct:mailbox(e.dest_mailbox)
  local uids, missing = locate(dest, e:messages(), e.dest_uids)
  if e.verb == "move" then
    local src = acct:mailbox(e.mailbox)
    step(dest, uids, e, { verb = "move", dest = src, label = "back to " .. src.name })
  else
    step(dest, uids, e, { verb = "delete", label = "delete the copies" })
  end
  return missing
end

-- A mailbox made, renamed or (un)subscribed goes back; a deleted one cannot come back.
local function undo_mailbox(acct, e)
  local function try(what, fn)
    local ok, err = pcall(fn)
    if not ok then
      log.warn(string.format("%s: undo %s: %s", e.line or "?", what, tostring(err.message or err)))
    end
  end
  if e.verb == "create" then
    -- (In a dry run an earlier step, a rename back, may not have happened: plan it anyway.)
    local ok, st = pcall(function() return acct:mailbox(e.mailbox):status() end)
    if ok and st.messages > 0 then
      log.warn(string.format("%s: %s is not empty: it stays", e.line or "?", e.mailbox))
    elseif ok or settings.dry_run then
      try("create " .. e.mailbox, function() acct:delete(e.mailbox) end)
    else
      log.warn(string.format("%s: undo create %s: %s", e.line or "?", e.mailbox,
        tostring(st.message or st)))
    end
  elseif e.verb == "rename" then
    try("rename", function() acct:rename(e.dest_mailbox, e.mailbox) end)
  elseif e.verb == "subscribe" or e.verb == "unsubscribe" then
    try(e.verb, function() acct[e.verb == "subscribe" and "unsubscribe" or "subscribe"](acct, e.mailbox) end)
  elseif e.verb == "delete" then
    log.warn(string.format("%s: the mailbox %s it deleted cannot come back", e.line or "?", e.mailbox))
  end
end

--- imapscript --undo [RUN] [SCRIPT]: reverses RUN (default: the latest run not undone).
function M.undo(run_id, script)
  db_or_fail()
  local run = run_id and (state.exec("run_get", { id = run_id }) or {})[1]
    or (state.exec("run_last_undoable", {}) or {})[1]
  if not run then
    usage(run_id and string.format("--undo: no run %d in the journal", run_id)
      or "--undo: no run in the journal changed anything")
  end
  local undone = (state.exec("run_undone_by", { id = run.id }) or {})[1]
  if undone then
    usage(string.format("--undo: run %d was undone already (by run %d)", run.id, undone.id))
  end
  if run.status == "running" and core.pid_alive(run.pid or 0) then
    usage(string.format("--undo: run %d is still running (pid %d)", run.id, run.pid))
  end
  if not settings.dry_run then
    journal.kind, journal.undo_of = "undo", run.id
  end
  log.action(string.format("%s run %d (%s, %s)", settings.dry_run and "plan to undo" or "undoing",
    run.id, script_name(run), when(run.started)))
  local cache, lost = {}, 0
  -- Newest first; the mailboxes the run created last of all, once what went into them has
  -- gone back (a transfer's destination is created after its entry is written).
  local order, made = {}, {}
  local rows = state.exec("entries_of_run", { run = run.id }) or {}
  for i = #rows, 1, -1 do
    local list = (rows[i].method == "MAILBOX" and rows[i].verb == "create") and made or order
    list[#list + 1] = rows[i]
  end
  for _, row in ipairs(made) do order[#order + 1] = row end
  for _, row in ipairs(order) do
    local e = journal.from_row(row)
    local acted = e.state == "done" or e.state == "resolved" or e.state == "copied" or e.state == "pending"
    if acted and not e.resolves and e.verb ~= "undelete" then
      local acct = account_for(e.account, run, script, cache)
      local missing = 0
      if e.method == "MAILBOX" then
        undo_mailbox(acct, e)
      elseif e.verb == "delete" then
        local n = #e:messages()
        lost = lost + n
        log.warn(string.format("%s: %s: %d messages expunged from %s are not recoverable " ..
          "(their Message-IDs: --history %d, and the --log)", e.line or "?", e.label or "delete", n,
          e.mailbox, run.id))
      elseif e.verb == "store" then
        missing = undo_store(acct, e)
      elseif (e.verb == "move" or e.verb == "copy" or e.verb == "append") and e.dest_mailbox then
        if e.verb == "move" and e.method ~= "APPEND" and e.state == "copied" then
          -- a MOVE-less move whose originals were never expunged: the copies go away
          e.verb = "copy"
        end
        missing = undo_copy(acct, e, run, script, cache)
      end
      if missing > 0 then
        log.warn(string.format("%s: %s: %d messages were not found where the run left them",
          e.line or "?", e.label or e.verb, missing))
      end
      -- Each step is done before the next looks for its messages.
      for _, a in pairs(cache) do a:flush() end
    end
  end
  if lost > 0 then
    log.warn(string.format("run %d expunged %d messages without a copy: they cannot come back",
      run.id, lost))
  end
end

return M
