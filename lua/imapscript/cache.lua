-- cache.lua — incremental runs: what imapscript keeps between runs of each mailbox it reads (its
-- UIDs and the flags of its messages, resynchronised on SELECT with QRESYNC or CONDSTORE; see
-- mirror.c), the header fields match rules read (immutable per UIDVALIDITY and UID), and which
-- fields each script reads, all in cache.db beside the journal. The server stays the truth: what
-- the cache cannot vouch for is asked again, and a damaged cache is thrown away.
local core = require "imapscript.core"
local log = require "imapscript.log"
local paths = require "imapscript.paths"
local settings = require "imapscript.settings"
local journal = require "imapscript.journal"
local state = require "imapscript.state"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local ALL = "1:4294967295"           -- every UID, without "*" (whose meaning depends on the mailbox)
local ALL_KEY = core.query_key("ALL")
local BATCH = 2000                   -- header rows written per transaction
local KNOWN_MAX = 2000               -- longest UID set sent as QRESYNC's known UIDs

local db, tried, warned, path
local boxes = setmetatable({}, { __mode = "k" })   -- account -> {[mailbox name] = record}
local field_ids = {}                 -- header field name (upper case) -> id in cache.db
local marks = {}                     -- new_since_last_run: "key\0mailbox" -> {uidvalidity=, uidnext=}

--- Whether this run keeps a cache (before the database is opened): not with --no-cache or
--- --no-state.
function M.wanted() return not settings.no_cache and not settings.no_state end

--- Called after a mirror is made (account.lua re-arms its end-of-script finalizer, so that it
--- runs while the mirror is still alive).
M.on_mirror = nil

-- Says once that the run goes on without the cache.
local function without(reason)
  if warned then return end
  warned = true
  log.warn(tostring(reason) .. "; this run goes on without the cache (it asks the server again " ..
    "for what it would have kept)")
end

local function remove_files(p)
  for _, suffix in ipairs { "", "-wal", "-shm" } do os.remove(p .. suffix) end
end

-- The cache database, opened on first use; a damaged file is replaced by a new one.
local function open()
  if db or tried then return db end
  tried = true
  if not M.wanted() then return nil end
  local ok, dir = pcall(paths.state_dir, true)
  if not ok then
    without(type(dir) == "table" and dir.message or dir)
    return nil
  end
  path = dir .. "/cache.db"
  local d, err, kind = core.state_open(path, 2, "cache")
  if not d and kind == "corrupt" then
    log.warn(err .. "; the cache is made anew")
    remove_files(path)
    d, err = core.state_open(path, 2, "cache")
  end
  if not d then
    without(err)
    return nil
  end
  db = d
  return db
end

-- Turns the cache off for the rest of the run (said once); a damaged file goes, so that the next
-- run makes a new one.
local function off(reason, damaged)
  if db then db:close() end
  db, tried = nil, true
  if damaged and path then
    remove_files(path)
    reason = string.format("cache database %s is damaged (%s); it is removed", path, reason)
  end
  without(reason)
end

-- Runs a statement of cache.db: the rows, or nil once the cache is off.
local function run(name, params)
  if not db then return nil end
  local rows, id, kind = db:exec(name, params)
  if not rows then
    off(id, kind == "corrupt")
    return nil
  end
  return rows, id
end

-- Runs fn() in one transaction of cache.db (nothing when the cache is off).
local function transaction(fn)
  if not db then return end
  local ok, err, kind = db:begin()
  if not ok then return off(err, kind == "corrupt") end
  local fine, ferr = pcall(fn)
  if not db then return end
  if not fine then
    db:rollback()
    error(ferr, 0)
  end
  ok, err, kind = db:commit()
  if not ok then off(err, kind == "corrupt") end
end

-- This run's script, as cache.db and the marks name it.
local script
local function script_key()
  script = script or journal.script() or "(no script file)"
  return script
end

-- The checksum stored beside a mailbox's state: its values and every flag's set, in flag order.
local function state_sum(uidvalidity, modseq, complete, uids, flags)
  local names, parts = {}, { uidvalidity, modseq, complete, uids }
  for f in pairs(flags) do names[#names + 1] = f end
  table.sort(names)
  for _, f in ipairs(names) do parts[#parts + 1] = f; parts[#parts + 1] = flags[f] end
  return core.checksum(table.unpack(parts))
end

--- The record of box (nil when the cache is off): {mirror=, id=, row_uv=, state=, sync=, used=,
--- wants_flags=, evict=}, its saved state loaded (and checked) on first use.
local function mailbox(acct, box)
  if not M.wanted() or not open() then return nil end
  local t = boxes[acct]
  if not t then t = {}; boxes[acct] = t end
  local mb = t[box.name]
  if mb then return mb end
  mb = { acct = acct, name = box.name, key = journal.key(acct.cfg), mirror = core.mirror(),
         used = {}, evict = core.set("") }
  if M.on_mirror then M.on_mirror() end
  local rows = run("mailbox_get", { account = mb.key, name = box.name })
  if not rows then return nil end
  local row = rows[1]
  if row then
    mb.id, mb.row_uv, mb.wants_flags = row.id, row.uidvalidity, row.wants_flags == 1
    local loaded = { uidvalidity = row.uidvalidity }
    if row.sum then
      local frows = run("flags_of", { mailbox = row.id })
      if not frows then return nil end
      local flags = {}
      for _, f in ipairs(frows) do flags[f.flag] = f.uids end
      if state_sum(row.uidvalidity, row.modseq, row.complete, row.uids, flags) ~= row.sum then
        off(box.name .. ": its saved state does not match its checksum", true)
        return nil
      end
      loaded = { uidvalidity = row.uidvalidity, modseq = row.modseq, complete = row.complete == 1,
                 uids = row.uids, flags = flags }
    end
    local ok, err = mb.mirror:load(loaded)
    if not ok then
      off(box.name .. ": " .. err, true)
      return nil
    end
    mb.state = row.sum ~= nil and row.modseq > 0
  end
  t[box.name] = mb
  return mb
end

-- The database row of mb for UIDVALIDITY uv, made or (another mailbox under that name) emptied.
local function ensure_row(mb, uv)
  if mb.id and mb.row_uv == uv then return true end
  if not mb.id then
    run("mailbox_add", { account = mb.key, name = mb.name, uidvalidity = uv })
    local rows = run("mailbox_get", { account = mb.key, name = mb.name })
    if not rows or not rows[1] then return false end
    mb.id, mb.row_uv = rows[1].id, rows[1].uidvalidity
  end
  if mb.row_uv ~= uv then
    transaction(function()
      run("mailbox_headers_drop", { id = mb.id })
      run("mailbox_flags_drop", { id = mb.id })
      run("mailbox_reset", { id = mb.id, uidvalidity = uv })
    end)
    mb.row_uv = uv
  end
  return db ~= nil
end

local function field_id(name)
  local id = field_ids[name]
  if id then return id end
  run("field_add", { name = name })
  local rows = run("field_get", { name = name })
  id = rows and rows[1] and rows[1].id
  field_ids[name] = id
  return id
end

-- Writes header rows {uid=, name=, value=} of mb (its mirror's UIDVALIDITY) and empties rows.
local function put_headers(mb, rows)
  if #rows == 0 then return end
  local uv = mb.mirror:info().uidvalidity
  if db and uv > 0 and ensure_row(mb, uv) then
    transaction(function()
      for _, r in ipairs(rows) do
        local fid = field_id(r.name)
        if not fid then break end
        run("header_put", { mailbox = mb.id, field = fid, uid = r.uid, value = r.value,
                            sum = core.checksum(r.uid, r.name, r.value) })
      end
    end)
  end
  for i = #rows, 1, -1 do rows[i] = nil end
end

-- The header fields this script's match rules read in mb's mailbox (last run and this one).
local function recorded(mb)
  if not mb.recorded then
    mb.recorded = {}
    local rows = run("script_fields", { script = script_key(), account = mb.key, mailbox = mb.name })
    for f in ((rows and rows[1] and rows[1].fields) or ""):gmatch("%S+") do mb.recorded[f] = true end
  end
  return mb.recorded
end

-- The fields worth fetching in mb with one (upper case), sorted: those this script read here
-- last time and no match has read yet in this run (those did fetch what they lacked).
local function wanted_fields(mb, one)
  local out = { one }
  for f in pairs(recorded(mb)) do
    if f ~= one and not mb.used[f] then out[#out + 1] = f end
  end
  table.sort(out)
  return out
end

-- Fetches fields of set on conn, keeping them; each(uid, texts) gets the texts of a message by
-- field name (nil when the server sent no header item). Returns the FETCH's handle.
local function fetch_fields(mb, conn, set, fields, each)
  local rows = {}
  local h = conn:fetch(set, { "uid", { "fields", table.unpack(fields) } }, function(m)
    if not m.uid then return end
    if not m.fields then return each and each(m.uid, nil) end
    local texts, lines = {}, table.pack(core.header_lines(m.fields, table.unpack(fields)))
    for i, f in ipairs(fields) do
      texts[f] = lines[i]
      rows[#rows + 1] = { uid = m.uid, name = f, value = lines[i] }
    end
    if #rows >= BATCH then put_headers(mb, rows) end
    if each then each(m.uid, texts) end
  end)
  return h, function() put_headers(mb, rows) end
end

---------------------------------------------------------------------------------------
-- Synchronising a mailbox as it is selected.

-- Waits (yielding) until h is answered; its result.
local function await(h)
  while not h:done() do coroutine.yield() end
  return h:result()
end

-- The sync of one selection of mb on conn (s: what was sent with the SELECT), a step at a time:
-- whatever it must send next goes out only while its mailbox is still the one selected.
local function sync(mb, conn, s)
  local m, acct = mb.mirror, mb.acct
  local function still()
    return acct.conn == conn and acct.selecting == s.wire and not acct.reselect
  end
  if not await(s.select) then return "failed" end
  if s.how == "none" then return "none" end
  local info = m:info()
  if not ensure_row(mb, info.uidvalidity) then return "failed" end
  if info.reset and s.how ~= "full" and s.how ~= "uids" then
    -- Another mailbox under the same name: what was sent was for the old one.
    if not still() then return "abandoned" end
    if conn:has("CONDSTORE") and mb.wants_flags then
      m:load { uidvalidity = info.uidvalidity, complete = true }
      s.how, s.fetch = "full", conn:fetch(ALL, { "flags" }, nil, { sync = m })
    else
      m:load { uidvalidity = info.uidvalidity }
      s.how, s.search = "uids", conn:search(ALL_KEY)
    end
  end
  if s.fetch and not await(s.fetch) then return "failed" end
  if s.search then
    local all = await(s.search)
    if not all then return "failed" end
    m:restrict(all)
    m:sync_done()
  end
  if not m:info().synced then
    -- The count disagrees with EXISTS (CONDSTORE reports no expunges): which UIDs exist, then
    -- the flags of the ones not held.
    if not still() then return "abandoned" end
    local all = await(conn:search(ALL_KEY))
    if not all then return "failed" end
    if m:restrict(all) > 0 then
      if not still() then return "abandoned" end
      if not await(conn:fetch(all - m:uids(), { "flags" })) then return "failed" end
    end
    m:sync_done()
  end
  if s.old then mb.evict = mb.evict + (s.old - m:uids()) end
  mb.synced_at = os.time()
  log.info(string.format("%s: %s: %s, %d messages", acct.label, mb.name,
    ({ qresync = "resynchronised (QRESYNC)", changedsince = "resynchronised (CONDSTORE)",
       full = "synchronised (flags of every message)", uids = "UIDs synchronised" })[s.how],
    m:info().count), 2)
  return "done"
end

-- Moves mb's sync on as far as the answers in allow.
local function step(mb)
  local s = mb.sync
  if not s or s.finished then return end
  local ok, res = pcall(s.co)
  if not ok then
    s.finished = true
    log.info(string.format("%s: %s: cache sync: %s", mb.acct.label, mb.name,
      tostring(type(res) == "table" and res.message or res)), 2)
  elseif res then
    s.finished, s.result = true, res
  end
end

--- SELECT (EXAMINE when readonly) of box, whose name on the server is wire, on the account's
--- connection conn: with the cache, the mailbox's mirror follows the selection and is brought
--- up to date by commands pipelined with the SELECT (QRESYNC's own reply, a CONDSTORE FETCH of
--- what changed, or a first full synchronisation), with the header fields this script reads
--- prefetched for new messages. Returns the SELECT's handle.
function M.select(acct, conn, box, wire, readonly)
  local mb = mailbox(acct, box)
  if not mb then return conn:select(wire, readonly) end
  local m = mb.mirror
  local info = m:info()
  local condstore = conn:has("CONDSTORE")
  local incremental = info.modseq > 0 and condstore and (info.complete or not mb.wants_flags)
  local before = mb.sync
  local top = info.count > 0 and m:uids():max() or 0     -- new mail is above
  local s = { wire = wire, conn = conn }
  local opts = { mirror = m }
  if incremental and conn:enabled("QRESYNC") then
    local known = m:uids()
    opts.qresync = { uidvalidity = info.uidvalidity, modseq = info.modseq,
                     known = #known > 0 and #tostring(known) <= KNOWN_MAX and known or nil }
    s.how = "qresync"
  elseif incremental then
    s.how = "changedsince"
  elseif before and before.conn == conn and (not before.finished or not condstore) then
    -- Selected again while its first sync is still being answered (nothing is known yet to
    -- resynchronise from), or without CONDSTORE (its UIDs were listed once this run): the
    -- mirror follows this selection without a sync of its own (no answers from it, its modseq
    -- stays where the first sync leaves it).
    s.how = "none"
  elseif condstore and mb.wants_flags then
    s.how, s.old = "full", m:uids()
    m:load { uidvalidity = info.uidvalidity, complete = true }
  else
    s.how = "uids"
    if info.complete then m:forget_flags() end
  end
  s.select = conn:select(wire, readonly, opts)
  if s.how == "changedsince" then
    s.fetch = conn:fetch(ALL, { "flags" }, nil, { changedsince = info.modseq, sync = m })
  elseif s.how == "full" then
    s.fetch = conn:fetch(ALL, { "flags" }, nil, { sync = m })
  elseif s.how == "uids" then
    s.search = conn:search(ALL_KEY)
  end
  -- New mail's header fields, in the same round trip (once a run).
  if mb.state and not mb.prefetching and next(recorded(mb)) then
    mb.prefetching = true
    local fields = {}
    for f in pairs(recorded(mb)) do fields[#fields + 1] = f end
    table.sort(fields)
    local h, done = fetch_fields(mb, conn, (top + 1) .. ":4294967295", fields, nil)
    mb.prefetch = { handle = h, conn = conn, done = done }
  end
  s.co = coroutine.wrap(function() return sync(mb, conn, s) end)
  mb.sync = s
  return s.select
end

--- The UIDs of box matching q from its mirror, or nil when the server must answer: the cache
--- is on, the mailbox is selected and synchronised, and q asks only what the mirror holds. The
--- caller makes sure nothing that changes the mailbox is still in flight.
function M.answer(acct, box, q)
  local mb = db and boxes[acct] and boxes[acct][box.name]
  if not mb then return nil end
  step(mb)
  if not mb.sync or mb.sync.result ~= "done" then return nil end
  local set, why = mb.mirror:answer(q)
  if not set and why == "flags" then mb.wants_flags = true end
  return set
end

-- Windows over set's ranges for reading the cache, at most SPAN UIDs wide (a window's rows are
-- read at once): neighbouring ranges merged while the gaps are small, so that a scattered set
-- costs few queries and few rows read for nothing, and a long range cut.
local SPAN = 5000
local function windows(set)
  local ranges = set:ranges()
  local lo, hi = ranges()
  return function()
    if not lo then return nil end
    local a, b = lo, math.min(hi, lo + SPAN - 1)
    if b < hi then
      lo = b + 1
      return a, b
    end
    lo, hi = ranges()
    while lo and lo - b <= 256 and hi - a < SPAN do
      b = hi
      lo, hi = ranges()
    end
    return a, b
  end
end
M.windows = windows     -- for its spec

--- Calls fn(uid, text) for each message of set in box (selected on conn): text is what
--- BODY.PEEK[HEADER.FIELDS (field)] gives for it (nil when the server gave nothing). Messages
--- the cache holds come from it; the others are fetched in one UID FETCH of every field this
--- script reads there, and kept. Returns false (having done nothing) when the cache is off.
function M.fields(conn, box, set, field, fn)
  local mb = mailbox(box.account, box)
  if not mb then return false end
  step(mb)
  local pre = mb.prefetch
  if pre and pre.conn == conn then
    -- the fields of new mail, fetched with the SELECT: in the cache before it is read
    conn:wait(pre.handle)
    pre.done()
    mb.prefetch = nil
  end
  local uv = mb.mirror:info().uidvalidity
  local F = field:upper()
  local fid = uv > 0 and ensure_row(mb, uv) and field_id(F)
  if not fid then return false end
  local fields = wanted_fields(mb, F)
  mb.used[F] = true
  local have, count = core.set(""), 0
  for lo, hi in windows(set) do
    local rows = db and run("headers_in", { mailbox = mb.id, field = fid, lo = lo, hi = hi })
    if not rows then break end
    local got = {}
    for _, r in ipairs(rows) do
      if set:contains(r.uid) then
        if core.checksum(r.uid, F, r.value) ~= r.sum then
          off(string.format("%s: the header cache of UID %d does not match its checksum",
            box.name, r.uid), true)
          break
        end
        got[#got + 1] = r.uid
        fn(r.uid, r.value .. "\r\n")
      end
    end
    have, count = have + core.set(got), count + #got
  end
  local missing = set - have
  if #missing > 0 then
    if not db then fields = { F } end
    local h, done = fetch_fields(mb, conn, missing, fields, function(uid, texts)
      fn(uid, texts and texts[F] .. "\r\n")
    end)
    conn:wait(h)
    done()
    local ok, err = h:result()
    if not ok then error(err, 0) end
  end
  log.info(string.format("%s: %s: %s of %d messages from the cache, %d fetched",
    box.account.label, box.name, field, count, #missing), 2)
  return true
end

---------------------------------------------------------------------------------------
-- Saving.

-- Writes mb's mirror (when its selection got an answer) and drops the header rows of the
-- messages gone. In a transaction of the caller's.
local function save(mb)
  if not mb.sync or not mb.id then return end
  local m = mb.mirror
  local info = m:info()
  if info.uidvalidity == 0 or info.uidvalidity ~= mb.row_uv then return end
  local uids = tostring(m:uids())
  local flags = {}
  if info.complete then
    for f, set in pairs(m:flags()) do
      if #set > 0 then flags[f] = tostring(set) end
    end
  end
  local complete = info.complete and 1 or 0
  run("mailbox_flags_drop", { id = mb.id })
  for f, text in pairs(flags) do run("flag_save", { mailbox = mb.id, flag = f, uids = text }) end
  run("mailbox_save", { id = mb.id, uidvalidity = info.uidvalidity, modseq = info.modseq,
    complete = complete, uids = uids, wants_flags = mb.wants_flags and 1 or 0,
    synced = mb.synced_at, sum = state_sum(info.uidvalidity, info.modseq, complete, uids, flags) })
  local gone = m:take_removed() + mb.evict
  mb.evict = core.set("")
  if #gone > 0 then
    for _, f in ipairs(run("header_fields_of", { mailbox = mb.id }) or {}) do
      for lo, hi in gone:ranges() do
        run("headers_evict", { mailbox = mb.id, field = f.id, lo = lo, hi = hi })
      end
    end
  end
end

--- Before acct logs out: lets the syncs still in flight finish, then saves every mailbox's
--- mirror.
function M.close(acct)
  local t = boxes[acct]
  if not t or not db then return end
  local conn = acct.conn
  for _, mb in pairs(t) do
    for _ = 1, 4 do
      step(mb)
      if not mb.sync or mb.sync.finished or mb.sync.conn ~= conn or not conn then break end
      conn:wait()
    end
    if mb.prefetch then
      mb.prefetch.done()
      mb.prefetch = nil
    end
  end
  transaction(function()
    for _, mb in pairs(t) do save(mb) end
  end)
end

--- The connection of acct is gone: the syncs sent on it will not be answered.
function M.reset(acct)
  for _, mb in pairs(boxes[acct] or {}) do
    if mb.sync and not mb.sync.finished then mb.sync.finished = true end
  end
end

---------------------------------------------------------------------------------------
-- box:new_since_last_run() and the end of the run.

local function mark_key(acct, box) return journal.key(acct.cfg) .. "\0" .. box.name end

--- Where this script's last completed run stopped in box (its UIDNEXT then), for the mailbox
--- of UIDVALIDITY uv: 1 when unknown (no record, another UIDVALIDITY, no state database). who
--- names the asker in the warning without a state database (new_since_last_run).
function M.mark(acct, box, uv, who)
  local rows = state.exec("mark_get", { script = script_key(), account = journal.key(acct.cfg),
    mailbox = box.name })
  local row = rows and rows[1]
  if not row then
    if not state.on() then
      log.warn(string.format("%s: %s: without the state database every message is new", box.name,
        who or "new_since_last_run"))
    end
    return 1
  end
  return row.uidvalidity == uv and row.uidnext or 1
end

--- This run will have dealt with box's messages below uidnext if it completes.
function M.mark_later(acct, box, uv, uidnext)
  local k = mark_key(acct, box)
  local m = marks[k]
  if m and m.uidvalidity == uv and m.uidnext >= uidnext then return end
  marks[k] = { account = journal.key(acct.cfg), mailbox = box.name, uidvalidity = uv,
               uidnext = uidnext }
end

--- box's messages below uidnext are handled, kept at once: a watch (opts.initial =
--- "unhandled") never completes a run, and starts again from here.
function M.mark_now(acct, box, uv, uidnext)
  if settings.dry_run then return end
  local m = marks[mark_key(acct, box)]
  if m and m.uidvalidity == uv and m.uidnext < uidnext then m.uidnext = uidnext end
  state.exec("mark_put", { script = script_key(), account = journal.key(acct.cfg),
    mailbox = box.name, uidvalidity = uv, uidnext = uidnext, updated = os.time() })
end

--- The end of the run: when it completed (ok), the marks of new_since_last_run and the header
--- fields each mailbox's match rules read are kept for the next run of this script.
function M.finish(ok)
  if ok and not settings.dry_run then
    for _, m in pairs(marks) do
      state.exec("mark_put", { script = script_key(), account = m.account, mailbox = m.mailbox,
        uidvalidity = m.uidvalidity, uidnext = m.uidnext, updated = os.time() })
    end
    transaction(function()
      for _, t in pairs(boxes) do
        for _, mb in pairs(t) do
          local fields = {}
          for f in pairs(mb.used) do fields[#fields + 1] = f end
          if #fields > 0 then
            table.sort(fields)
            run("script_fields_put", { script = script_key(), account = mb.key, mailbox = mb.name,
              fields = table.concat(fields, " "), updated = os.time() })
          end
        end
      end
    end)
  end
  marks = {}
  if db then db:close() end
  db = nil
end

--- imapscript --cache-stats: per account and mailbox, what the cache holds.
function M.stats(out)
  out = out or io.stdout
  if not open() then return 1 end
  local rows = run("cache_stats", {}) or {}
  out:write(string.format("%-28s %-24s %9s %9s %11s  %s\n", "account", "mailbox", "messages",
    "headers", "bytes", "last sync"))
  for _, r in ipairs(rows) do
    local n = #core.set(r.uids)
    out:write(string.format("%-28s %-24s %9d %9d %11d  %s%s\n", r.account, r.name, n, r.headers,
      r.bytes + r.flag_bytes + #r.uids, r.synced and os.date("%Y-%m-%d %H:%M", r.synced) or "never",
      r.complete == 1 and "" or " (UIDs only)"))
  end
  local f = io.open(path, "rb")
  local size = f and f:seek("end") or 0
  if f then f:close() end
  out:write(string.format("%s: %d bytes\n", path, size))
  return 0
end

return M
