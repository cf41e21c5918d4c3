-- watch.lua — imap.watch: calls a function with the new messages of any watched mailbox of any
-- account as they arrive. Listeners (listen.lua) mark mailboxes; a mark is checked against the
-- first UID not yet handled, one round trip, and the callback gets what is new. Everything
-- runs on the loop: while a callback works, the other connections keep listening.
local core = require "imapscript.core"
local log = require "imapscript.log"
local account = require "imapscript.account"
local listen = require "imapscript.listen"
local cache = require "imapscript.cache"
log.internal(debug.getinfo(1, "S").source)

local M = {}

-- Error kinds that mean a connection is gone, not that the script is wrong.
local CONNECTION_LOST = { network = true, closed = true, protocol = true }
local MAX_PAUSE = 60
local LAST_UID = 4294967295

local function usage(msg) error(core.error("usage", "imap.watch: " .. msg), 3) end

local Watcher = {}
Watcher.__index = Watcher

-- A pause that doubles after each failure, up to a minute.
local function backoff(holder, now)
  local pause = holder.pause or 1
  holder.pause = math.min(MAX_PAUSE, pause * 2)
  holder.due = now + pause
  return pause
end

--- What an event or a STATUS says about st: marks the kinds of change the watch wants.
function Watcher:mark(st, e)
  local on, dirty = self.on, st.dirty
  if e.new and on.new then dirty.new = true end
  if e.flags and on.flags then dirty.flags = true end
  if e.expunge and on.expunge then dirty.expunge = true end
  local s = e.status
  if not s then return end
  if s.uidvalidity and s.uidvalidity ~= st.uidvalidity then dirty.new = true end
  if on.new and s.uidnext and s.uidnext > st.next_uid then dirty.new = true end
  if on.flags and s.highestmodseq and st.modseq and s.highestmodseq > st.modseq then
    dirty.flags = true
  end
  if on.expunge and s.messages and st.messages then
    local arrived = (s.uidnext and st.uidnext) and math.max(0, s.uidnext - st.uidnext) or 0
    if s.messages < st.messages + arrived then dirty.expunge = true end
  end
  st.messages = s.messages or st.messages
  st.uidnext = s.uidnext or st.uidnext
end

-- STATUS of every state given, in one round trip: {state -> status}.
local function statuses(acct, states)
  local conn = acct:_connection()
  local hs = {}
  for i, st in ipairs(states) do hs[i] = conn:status(st.box:_wire()) end
  conn:wait()
  local out = {}
  for i, st in ipairs(states) do
    local v, err = hs[i]:result()
    if v == nil then error(err, 0) end
    out[st] = v
  end
  return out
end

--- Sets up: where each mailbox stands now, then the listeners (a NOTIFY the server refuses
--- falls back to IDLE; other failures end the watch before it began).
function Watcher:start(initial)
  self.persist = initial == "unhandled"
  for st, s in pairs(statuses(self.acct, self.states)) do
    st.uidvalidity, st.messages, st.uidnext = s.uidvalidity, s.messages, s.uidnext
    st.modseq = s.highestmodseq
    if self.persist then
      st.next_uid = cache.mark(self.acct, st.box, s.uidvalidity, "imap.watch")
    else
      st.next_uid = initial and 1 or s.uidnext
    end
  end
  self.listeners, self.polled = listen.plan(self.acct, self.states)
  local first = self.listeners[1]
  if first and first.kind == "notify" then
    local ok, err = pcall(first.start, first, self.on.flags)
    if not ok and type(err) == "table" and (err.kind == "no" or err.kind == "bad") then
      log.warn(string.format("watch: %s: NOTIFY refused (%s); using IDLE", self.acct.label,
        tostring(err.message)))
      self.listeners, self.polled = listen.plan(self.acct, self.states, true)
    elseif not ok then
      error(err, 0)
    end
  end
  for _, l in ipairs(self.listeners) do
    if not l.conn then l:start(self.on.flags) end
  end
  -- Whatever came between the STATUS and the listeners, and what was there at start.
  for _, st in ipairs(self.states) do st.dirty.new = self.on.new end
  local now = core.now()
  self.next_poll, self.next_refresh = now + self.interval, now + self.refresh
end

function Watcher:summary()
  local kinds = {}
  for _, l in ipairs(self.listeners) do kinds[#kinds + 1] = l:describe() end
  if #self.polled > 0 then
    kinds[#kinds + 1] = string.format("%d polled every %g s", #self.polled, self.interval)
  end
  return string.format("watch: %s: %s (%d connections)", self.acct.label,
    table.concat(kinds, ", "), #self.listeners + 1)
end

-- A listener's connection broke (or could not be made): log, and try again after a pause.
function Watcher:listener_down(l, why, now)
  if l.conn then l:stop() end
  local pause = backoff(l, now)
  log.warn(string.format("watch: %s %s: %s; reconnecting in %d s", self.acct.label,
    l:describe(), tostring(why), pause))
end

--- Collects the listeners' news, re-makes dropped listeners, refreshes IDLE and polls what
--- nobody listens for.
function Watcher:tend(now)
  local function mark(st, e) self:mark(st, e) end
  local unheard = {}
  for _, st in ipairs(self.polled) do unheard[#unheard + 1] = st end
  for _, l in ipairs(self.listeners) do
    if l.conn then
      local alive, why = l:collect(mark)
      if not alive then self:listener_down(l, why, now) end
    elseif now >= (l.due or 0) then
      local ok, err = pcall(l.start, l, self.on.flags)
      if ok then
        l.pause = nil
        log.info(string.format("watch: %s %s: listening again", self.acct.label, l:describe()))
        for _, st in ipairs(l.states) do mark(st, { new = true, flags = true }) end   -- meanwhile
      elseif type(err) == "table" and CONNECTION_LOST[err.kind] then
        self:listener_down(l, err.message, now)
      else
        error(err, 0)
      end
    end
    if not l.conn then
      for _, st in ipairs(l.states) do unheard[#unheard + 1] = st end
    end
  end
  -- A dropped connection of the account's own is made again when next needed.
  if self.acct.conn and not self.acct.conn:alive() then self.acct:_reset() end
  if now >= self.next_refresh then
    self.next_refresh = now + self.refresh
    for _, l in ipairs(self.listeners) do
      if l.conn then
        local ok, err = pcall(l.refresh, l)
        if not ok then self:listener_down(l, type(err) == "table" and err.message or err, now) end
      end
    end
    if #unheard == 0 then   -- keep the account's own connection from timing out too
      self.acct:_now("keepalive", function(conn) return conn:noop() end)
    end
  end
  if #unheard > 0 and now >= self.next_poll then
    self.next_poll = now + self.interval
    -- STATUS of the mailbox selected here may be stale (the server syncs the selected view at
    -- its own pace): that one is simply checked, which SELECTs it anew.
    local asked = {}
    for _, st in ipairs(unheard) do
      if self.acct.selecting == st.box:_wire() then
        mark(st, { new = true, flags = true })
      else
        asked[#asked + 1] = st
      end
    end
    if #asked > 0 then
      for st, s in pairs(statuses(self.acct, asked)) do mark(st, { status = s }) end
    end
  end
end

-- Calls fn for one event; flushes what it queued (on any account). False: fn asked to stop.
local function call(fn, box, r, what)
  local ok, keep = pcall(fn, box, r, what)
  if not ok then error(keep, 0) end
  account.flush_all()
  return keep ~= false
end

-- st's messages below next_uid are handled; with opts.initial = "unhandled" that is kept in
-- the state database, where the next start of this script's watch begins.
function Watcher:handled(st, next_uid)
  st.next_uid = next_uid
  if self.persist then cache.mark_now(self.acct, st.box, st.uidvalidity, next_uid) end
end

--- Checks one marked mailbox: its STATUS, and the UIDs past the last one handled (and those
--- whose flags changed), in one round trip; then fn for each kind of news. False: stop.
function Watcher:check(st, fn)
  local acct, box = self.acct, st.box
  local dirty = st.dirty
  st.dirty = {}
  local ok, res = pcall(function()
    acct:flush()
    local conn = acct:_connection()
    -- Always SELECT: it brings the server's view up to date (a search on a mailbox selected
    -- earlier may not see the newest mail yet) and tells UIDNEXT, UIDVALIDITY, HIGHESTMODSEQ.
    acct:_deselect()
    local hsel = acct:_select(conn, box)
    local hnew = conn:search(core.query_uid(core.set(st.next_uid .. ":" .. LAST_UID)))
    local hflags = dirty.flags and st.modseq and conn:search(core.query_number("MODSEQ", st.modseq + 1))
    conn:wait()
    local v, err = hsel:result()
    if v == nil then
      acct:_deselect()
      error(err, 0)
    end
    local _, s = conn:selected()
    s.messages = s.exists
    if s.uidvalidity ~= st.uidvalidity then
      log.warn(string.format("watch: %s: UIDVALIDITY changed; the messages there now count as seen",
        box.name))
      st.uidvalidity, st.modseq = s.uidvalidity, s.highestmodseq
      st.messages, st.uidnext = s.messages, s.uidnext
      self:handled(st, s.uidnext)
      return true
    end
    local seen = st.next_uid > 1 and core.set("1:" .. (st.next_uid - 1)) or core.set("")
    local fresh, e2 = hnew:result()
    if fresh == nil then error(e2, 0) end
    fresh = fresh - seen
    local old_next = st.next_uid
    st.messages, st.uidnext = s.messages, s.uidnext
    if self.on.new and #fresh > 0 then
      local go = call(fn, box, box:uids(fresh), "new")
      self:handled(st, fresh:max() + 1)
      if not go then return false end
    elseif not self.on.new and s.uidnext > st.next_uid then
      self:handled(st, s.uidnext)
    end
    if hflags then
      local changed, e3 = hflags:result()
      if changed == nil then error(e3, 0) end
      changed = changed - core.set(old_next .. ":" .. LAST_UID)
      st.modseq = s.highestmodseq
      if #changed > 0 and not call(fn, box, box:uids(changed), "flags") then return false end
    elseif dirty.flags then
      st.modseq = s.highestmodseq
      if not call(fn, box, box:all(), "flags") then return false end   -- no CONDSTORE
    end
    if dirty.expunge and not call(fn, box, nil, "expunge") then return false end
    return true
  end)
  if not ok then
    for k in pairs(dirty) do st.dirty[k] = true end   -- checked again after the pause
    error(res, 0)
  end
  return res
end

--- Checks every marked mailbox of the account. Returns false when fn asked to stop; connection
--- losses are logged and the account tried again after a pause.
function Watcher:handle(fn, now)
  if now < (self.due or 0) then return true end
  local ok, res = pcall(function()
    self:tend(now)
    for _, st in ipairs(self.states) do
      if next(st.dirty) then
        if not self:check(st, fn) then return false end
        self.busy = true
      end
    end
    return true
  end)
  if ok then
    self.pause = nil
    return res
  end
  if type(res) ~= "table" or not CONNECTION_LOST[res.kind] then error(res, 0) end
  for _, a in ipairs(account.all) do
    if a.conn and not a.conn:alive() then a:_reset() end
  end
  local pause = backoff(self, now)
  log.warn(string.format("watch: %s; reconnecting in %d s", tostring(res.message), pause))
  return true
end

-- When something is due next (nil: nothing timed).
function Watcher:deadline()
  local t = self.due or math.min(self.next_refresh, self.next_poll)
  for _, l in ipairs(self.listeners) do
    if not l.conn and l.due then t = math.min(t, l.due) end
  end
  return t
end

function Watcher:stop()
  for _, l in ipairs(self.listeners or {}) do l:stop() end
end

local EVENTS = { new = true, flags = true, expunge = true }

--- imap.watch(boxes, fn [, opts]): calls fn(box, new, "new") with a result holding the
--- messages that arrived in box since the last call (every message there at start unless
--- opts.initial = false; "unhandled": those that arrived since this script's watch last
--- handled the mailbox, kept in the state database), and for opts.on = { "new", "flags",
--- "expunge" } also fn(box, changed, "flags") and fn(box, nil, "expunge"). Runs until fn returns false (or
--- opts.duration seconds). opts.interval: seconds between STATUS polls of mailboxes nobody
--- listens for (60); opts.refresh: seconds between IDLE restarts (29 minutes).
function M.run(boxes, fn, opts)
  if type(boxes) ~= "table" then usage("want a list of mailboxes") end
  if boxes.account then boxes = { boxes } end
  if #boxes == 0 then usage("want at least one mailbox") end
  if type(fn) ~= "function" then usage("want a function to call") end
  opts = opts or {}
  if type(opts) ~= "table" then usage("options must be a table") end
  local on = {}
  for _, what in ipairs(opts.on or { "new" }) do
    if not EVENTS[what] then usage(string.format("unknown event %q (new, flags, expunge)", tostring(what))) end
    on[what] = true
  end
  if opts.initial ~= nil and type(opts.initial) ~= "boolean" and opts.initial ~= "unhandled" then
    usage("opts.initial must be true, false or \"unhandled\"")
  end
  for _, k in ipairs { "interval", "refresh", "duration" } do
    if opts[k] ~= nil and (type(opts[k]) ~= "number" or opts[k] <= 0) then
      usage(string.format("opts.%s must be a number of seconds > 0", k))
    end
  end
  local watchers, by_acct, seen = {}, {}, {}
  for i, box in ipairs(boxes) do
    if type(box) ~= "table" or not box.account then usage("item " .. i .. " is not a mailbox") end
    if seen[box] then goto next end   -- named twice: heard once, handled once
    seen[box] = true
    local w = by_acct[box.account]
    if not w then
      w = setmetatable({ acct = box.account, states = {}, on = on, interval = opts.interval or 60,
                         refresh = opts.refresh or 29 * 60 }, Watcher)
      by_acct[box.account] = w
      watchers[#watchers + 1] = w
    end
    w.states[#w.states + 1] = { box = box, dirty = {} }
    ::next::
  end

  local ends = opts.duration and core.now() + opts.duration
  local ok, err = pcall(function()
    for _, w in ipairs(watchers) do
      w:start(opts.initial == nil or opts.initial)
      log.info(w:summary())
    end
    while not ends or core.now() < ends do
      local now = core.now()
      local busy = false
      for _, w in ipairs(watchers) do
        w.busy = false
        if not w:handle(fn, now) then return end
        busy = busy or w.busy
      end
      -- After callbacks, news may already wait in the listeners: look again at once.
      local t = ends
      for _, w in ipairs(watchers) do
        local d = w:deadline()
        t = t and math.min(t, d) or d
      end
      core.loop_wait(busy and 0 or math.max(0, math.min(60, (t or now + 60) - core.now())))
    end
  end)
  for _, w in ipairs(watchers) do w:stop() end
  if not ok then error(err, 0) end
end

return M
