-- journal.lua — the action journal: every state-changing step of this run is an entry, written
-- to the state database before its command goes out and completed when the reply comes; a
-- later run (or this one, after reconnecting) resolves what was left unfinished, and --undo
-- and --history read it back. Without a database the entries live in memory for this run.
local core = require "imapscript.core"
local log = require "imapscript.log"
local state = require "imapscript.state"
log.internal(debug.getinfo(1, "S").source)

local M = {
  kind = "run",          -- "undo" while undoing a run
  undo_of = nil,         -- the run being undone
}

local KEEP_DAYS = 90     -- runs older than this are pruned from the database

local run                -- this run: {id=, entries={}, by_id={}}
local registered = {}    -- account keys whose settings this run has recorded

--- The key naming an account across runs: "user@host" (whichever port reaches it); for a
--- tunnel without a host, "user@tunnel COMMAND" (a tunnel logged in by PREAUTH has no user).
function M.key(cfg)
  if not cfg.host and cfg.tunnel then
    return string.format("%s@tunnel %s", cfg.user or "", cfg.tunnel)
  end
  return string.format("%s@%s", cfg.user or "", tostring(cfg.host or ""):lower())
end

-- A value as Lua source (settings are read back with load in an empty environment).
local function literal(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys, out = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = string.format("[%q] = %s", k, literal(v[k])) end
  return "{ " .. table.concat(out, ", ") .. " }"
end

--- Settings text back into a table (nil when unreadable).
function M.settings_of(text)
  local f = text and load("return " .. text, "=settings", "t", {})
  local ok, t = pcall(f or error)
  return ok and type(t) == "table" and t or nil
end

local SAFE = { "host", "port", "user", "tls", "ca_file", "fingerprint", "insecure", "auth",
  "timeout", "compress", "label", "create", "expunge", "subscribe", "missing", "allow_plaintext",
  "tunnel" }

--- Records an account's settings without its secret: for a password from imap.env or
--- imap.command, where it comes from (the variable's name, the command); a literal password
--- and the oauth2 setting (tokens, client secrets) are not kept: undo reads them from the
--- run's script again.
function M.register(acct)
  local key = M.key(acct.cfg)
  if registered[key] then return key end
  registered[key] = true
  local t = {}
  for _, k in ipairs(SAFE) do t[k] = acct.cfg[k] end
  local pw = acct.cfg.password
  if acct.cfg.oauth2 ~= nil then
    t.password_from = { source = "script" }
  elseif type(pw) == "table" and pw.source then
    t.password_from = { source = pw.source, arg = pw.arg }
  elseif pw ~= nil then
    t.password_from = { source = "script" }
  end
  state.exec("account_put", { key = key, settings = literal(t), updated = os.time() })
  return key
end

-- The script of this run and its arguments, for --undo to read its accounts again.
local function script_of()
  local a = rawget(_G, "arg")
  local path = type(a) == "table" and a[0]
  if type(path) ~= "string" or path == "-" then return nil, nil end
  local args = {}
  for i = 1, #a do args[i] = tostring(a[i]) end
  return core.realpath(path) or path, literal(args)
end

--- The absolute path of this run's script (nil for -e code or stdin): what names it across runs.
function M.script() return (script_of()) end

-- Starts this run in the database at its first entry; prunes runs past KEEP_DAYS.
local function current()
  if run then return run end
  run = { entries = {}, by_id = {} }
  local script, args = script_of()
  local _, id = state.exec("run_begin", { kind = M.kind, undo_of = M.undo_of, script = script,
    args = args, pid = core.pid(), started = os.time() })
  run.id = id
  state.exec("runs_prune", { before = os.time() - KEEP_DAYS * 86400 })
  return run
end

--- True when actions first fetch what their messages are (Message-ID, flags): for the
--- journal, or for --log.
function M.wants_preimage()
  return state.on() or log.audit_file ~= nil
end

--- This run's id in the database (nil before its first entry, or without a database).
function M.run_id() return run and run.id end

local Entry = {}
Entry.__index = Entry

local PERSISTED = { "line", "label", "account", "verb", "method", "mailbox", "uidvalidity",
  "query", "dest_account", "dest_mailbox", "dest_uidvalidity", "dest_uidnext", "mode",
  "state", "count", "outcome", "resolves" }

-- The database row of an entry's fields (sets as text, flags space-separated).
local function row_of(e)
  local row = {}
  for _, k in ipairs(PERSISTED) do row[k] = e[k] end
  row.uids = e.uids and tostring(e.uids) or nil
  row.dest_uids = e.dest_uids and tostring(e.dest_uids) or nil
  row.flags = type(e.flags) == "table" and table.concat(e.flags, " ") or e.flags
  return row
end

local function add_messages(e, msgs)
  for _, m in ipairs(msgs or e.msgs or {}) do
    state.exec("message_add", { entry = e.id, uid = m.uid, message_id = m.message_id,
      flags = m.flags and table.concat(m.flags, " ") or nil, size = m.size })
  end
end

-- The held messages of uids (no database), sorted by UID.
local function held(msgs, uids)
  local kept = {}
  for _, m in ipairs(msgs or {}) do if uids:contains(m.uid) then kept[#kept + 1] = m end end
  table.sort(kept, function(a, b) return a.uid < b.uid end)
  return kept
end

-- Moves what staging staged (less the UIDs of unstage) to entry id. In a transaction.
local function take_staged(id, staging, unstage)
  for lo, hi in unstage:ranges() do
    for uid = lo, hi do state.exec("message_unstage", { entry = staging.id, uid = uid }) end
  end
  state.exec("messages_from_staged_as", { entry = id, staged = staging.id })
  state.exec("staged_clear", { entry = staging.id })
end

local staging_seq = 0

--- A pre-image streamed before its entry exists (a copy's: the FETCH decides its UIDs):
--- stage(msgs) and drop_staged() as on an entry; journal.entry takes it as t.staged.
function M.staging()
  staging_seq = staging_seq - 1
  return setmetatable({ id = state.on() and staging_seq or nil }, Entry)
end

--- A new entry, committed to the journal before this returns (its command goes out after).
--- t: verb ("move", "copy", "store", "delete", "undelete", "append"), method ("MOVE",
--- "COPY", "APPEND", "STORE", "EXPUNGE"), mailbox, uidvalidity, uids (a set, or nil while
--- the search deciding them is in flight: then query), dest_account, dest_mailbox,
--- dest_uidnext, mode, flags, line, label, msgs (the pre-image) or staged (a journal.staging
--- holding it, less the UIDs of unstage; uids then says which), resolves, account_label.
function M.entry(key, t)
  local r = current()
  local e = setmetatable(t, Entry)
  local staged, unstage = e.staged, e.unstage
  e.staged, e.unstage = nil, nil
  e.account, e.state, e.run = key, e.state or "pending", r.id
  if e.msgs then e.count = #e.msgs end
  if staged then
    e.count = #e.uids
    if not staged.id then e.msgs = held(staged.msgs, e.uids) end
  end
  r.entries[#r.entries + 1] = e
  if r.id then
    state.transaction(function()
      local row = row_of(e)
      row.run, row.now = r.id, os.time()
      local _, id = state.exec("entry_add", row)
      e.id = id
      if id then add_messages(e) end
      if id and staged and staged.id then take_staged(id, staged, unstage or core.set("")) end
    end)
    if e.id then r.by_id[e.id] = e end
  end
  return e
end

--- An entry for a change of mailboxes (verb: create, delete, rename to new, subscribe,
--- unsubscribe) on account acct, from script line where: --undo makes it again, renames back,
--- deletes what was created (empty by then) or subscribes back.
function M.mailbox_entry(acct, verb, name, new, where)
  return M.entry(M.key(acct.cfg), { verb = verb, method = "MAILBOX", mailbox = name,
    dest_mailbox = new, line = where, label = verb .. " " .. name, account_label = acct.label })
end

--- What the messages were before the change (uid, message_id, flags, size each), streamed
--- (batch.lua Run:preimage_into): stage(msgs) writes a chunk where no later run sees it yet,
--- and commit_staged(uids, extra) makes the staged messages of uids the entry's pre-image at
--- once (those of extra, answers the action did not ask for, are dropped); the entry's UIDs
--- become the ones that exist. A run that dies in between leaves no pre-image, as when it dies
--- before the FETCH is answered. Without a database (--log alone) the messages are held.
function Entry:stage(msgs)
  if not self.id then
    self.msgs = self.msgs or {}
    for _, m in ipairs(msgs) do self.msgs[#self.msgs + 1] = m end
    return
  end
  state.transaction(function()
    for _, m in ipairs(msgs) do
      state.exec("message_stage", { entry = self.id, uid = m.uid, message_id = m.message_id,
        flags = table.concat(m.flags, " "), size = m.size })
    end
  end)
end

function Entry:commit_staged(uids, extra)
  self.uids, self.count = uids, #uids
  if not self.id then
    self.msgs = held(self.msgs, uids)
    return
  end
  self.msgs = nil       -- Entry:messages reads them back when needed
  state.transaction(function()
    for lo, hi in extra:ranges() do
      for uid = lo, hi do state.exec("message_unstage", { entry = self.id, uid = uid }) end
    end
    state.exec("messages_from_staged", { entry = self.id })
    state.exec("staged_clear", { entry = self.id })
    state.exec("entry_update", { id = self.id, uids = tostring(uids), count = #uids,
      now = os.time() })
  end)
end

--- Forgets what was staged (its FETCH failed: the entry has no pre-image).
function Entry:drop_staged()
  if self.id then state.exec("staged_clear", { entry = self.id }) else self.msgs = nil end
end

--- Adds messages to the pre-image (a transfer, chunk by chunk, before appending them); in
--- the database, not held (held without one).
function Entry:add_messages(msgs)
  self.count = (self.count or 0) + #msgs
  if not self.id then
    self.msgs = self.msgs or {}
    for _, m in ipairs(msgs) do self.msgs[#self.msgs + 1] = m end
    return
  end
  self.msgs = nil
  state.transaction(function()
    add_messages(self, msgs)
    state.exec("entry_update", { id = self.id, count = self.count, now = os.time() })
  end)
end

--- Changes fields (state, count, dest_uids, dest_uidvalidity, dest_uidnext, outcome, ...).
function Entry:update(fields)
  for k, v in pairs(fields) do self[k] = v end
  if self.id then
    local row = { id = self.id, now = os.time(), state = fields.state, count = fields.count,
      outcome = fields.outcome, uidvalidity = fields.uidvalidity,
      dest_uidvalidity = fields.dest_uidvalidity, dest_uidnext = fields.dest_uidnext,
      uids = fields.uids and tostring(fields.uids) or nil,
      dest_uids = fields.dest_uids and tostring(fields.dest_uids) or nil }
    state.exec("entry_update", row)
  end
end

-- One --log line per message of a completed entry.
local function audit(e, how)
  if not log.audit_file then return end
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local flags = type(e.flags) == "table" and table.concat(e.flags, " ") or e.flags
  for _, m in ipairs(e:messages()) do
    log.audit { run = e.run, time = now, line = e.line, action = e.verb,
      account = e.account_label or e.account, mailbox = e.mailbox, uid = m.uid,
      message_id = m.message_id, target = e.dest_mailbox,
      target_account = e.dest_account ~= e.account and e.dest_account or nil,
      flags = flags and ((e.mode or "") .. flags) or nil, resolved = how == "resolved" or nil }
  end
  log.audit_file:flush()
end

--- The command succeeded.
function Entry:done(fields)
  fields = fields or {}
  fields.state = "done"
  self:update(fields)
  audit(self)
  self:let_go()
end

--- The server refused (nothing changed).
function Entry:failed(message)
  self:update { state = "failed", outcome = message }
  self:let_go()
end

-- A finished entry's pre-image is in the database (Entry:messages reads it back if ever
-- needed): the run does not keep it, so that its memory stays bounded by one action's
-- messages rather than growing with all it acted on.
function Entry:let_go()
  if self.id then self.msgs = nil end
end

--- A later look at the server decided what became of an unfinished entry: complete when its
--- change is now all made (by the original command or by the repair), else not.
function Entry:resolved(outcome, complete, count)
  self.complete = complete
  self:update { state = "resolved", outcome = outcome, count = count }
  if complete then audit(self, "resolved") end
end

--- The pre-image: from memory, else from the database (empty when unknown).
function Entry:messages()
  if self.msgs then return self.msgs end
  local rows = self.id and state.exec("messages_of", { entry = self.id }) or {}
  local msgs = {}
  for i, r in ipairs(rows) do
    local flags = {}
    for f in (r.flags or ""):gmatch("%S+") do flags[#flags + 1] = f end
    msgs[i] = { uid = r.uid, message_id = r.message_id, flags = flags, size = r.size }
  end
  self.msgs = msgs
  return msgs
end

--- An entry object for a database row.
function M.from_row(row)
  local e = setmetatable({}, Entry)
  for k, v in pairs(row) do e[k] = v end
  e.uids = row.uids and core.set(row.uids) or nil
  e.dest_uids = row.dest_uids and core.set(row.dest_uids) or nil
  local flags = {}
  for f in (row.flags or ""):gmatch("%S+") do flags[#flags + 1] = f end
  e.flags = row.flags and flags or nil
  return e
end

--- The unfinished entries (pending or copied) of an account: of every run in the database,
--- else of this run.
function M.open_entries(key)
  local out = {}
  local rows = state.on() and state.exec("entries_open", { account = key })
  if rows then
    for _, row in ipairs(rows) do
      out[#out + 1] = run and run.by_id[row.id] or M.from_row(row)
    end
  elseif run then
    for _, e in ipairs(run.entries) do
      if e.account == key and (e.state == "pending" or e.state == "copied") then out[#out + 1] = e end
    end
  end
  return out
end

--- End of the run: its status ("done", "failed") and exit code.
function M.finish(status, code)
  if run and run.id then
    state.exec("run_end", { id = run.id, finished = os.time(), status = status, exit_code = code })
  end
end

return M
