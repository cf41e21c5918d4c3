-- listen.lua — how imap.watch hears about an account's mailboxes: NOTIFY on one connection
-- when the server offers it, else IDLE on one connection per mailbox up to the account's
-- max_connections (its own connection counted), the rest polled with STATUS.
local core = require "imapscript.core"
local log = require "imapscript.log"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local Listener = {}
Listener.__index = Listener

--- The listeners for states (the watcher's mailboxes of acct) and the states left to poll.
--- no_notify: the server refused NOTIFY SET once, use IDLE.
function M.plan(acct, states, no_notify)
  local conn = acct:_connection()
  local room = math.floor(acct.cfg.max_connections or 5) - 1
  local listeners, polled = {}, {}
  if room >= 1 and conn:has("NOTIFY") and not no_notify then
    listeners[1] = setmetatable({ acct = acct, kind = "notify", states = states }, Listener)
    return listeners, polled
  end
  for _, st in ipairs(states) do
    if room > #listeners and conn:has("IDLE") then
      listeners[#listeners + 1] = setmetatable({ acct = acct, kind = "idle", states = { st } }, Listener)
    else
      polled[#polled + 1] = st
    end
  end
  return listeners, polled
end

function Listener:describe()
  if self.kind == "notify" then return "NOTIFY" end
  return "IDLE " .. self.states[1].box.name
end

-- Raises the error of a failed handle.
local function check(conn, h)
  conn:wait(h)
  local v, err = h:result()
  if v == nil then error(err, 0) end
end

--- Connects and starts listening (flags: FlagChange wanted too); raises on failure.
function Listener:start(flags)
  local conn = self.acct:_connect()
  local ok, err = pcall(function()
    if self.kind == "notify" then
      local names = {}
      self.by_name = {}
      for i, st in ipairs(self.states) do
        names[i] = st.box:_wire()
        self.by_name[names[i]:upper() == "INBOX" and "INBOX" or names[i]] = st
      end
      check(conn, conn:notify(names, flags))
    else
      check(conn, conn:select(self.states[1].box:_wire(), true))
      local v, e = conn:idle_start()
      if v == nil then error(e, 0) end
    end
  end)
  if not ok then
    pcall(conn.logout, conn)
    error(err, 0)
  end
  self.conn, self.since = conn, core.now()
end

--- Logs out (ending IDLE first), best effort.
function Listener:stop()
  local conn = self.conn
  self.conn = nil
  if conn then pcall(conn.logout, conn) end
end

--- Hands each event since the last call to mark(state, event); returns false and why when
--- the connection is gone (its events are handed over first).
function Listener:collect(mark)
  local events, lost = self.conn:events()
  for _, e in ipairs(events) do
    local st = self.states[1]
    if self.kind == "notify" then
      st = self.by_name[e.mailbox:upper() == "INBOX" and "INBOX" or e.mailbox]
    end
    if st then mark(st, e) end
  end
  if lost then
    for _, st in ipairs(self.states) do mark(st, { new = true, flags = true, expunge = true }) end
  end
  return self.conn:alive()
end

--- Restarts IDLE (servers end it after 30 minutes) or keeps NOTIFY's connection busy.
function Listener:refresh()
  local conn = self.conn
  if self.kind == "idle" then
    local v, e = conn:idle_stop()
    if v then v, e = conn:idle_start() end
    if v == nil then error(e, 0) end
  else
    check(conn, conn:noop())
  end
  self.since = core.now()
end

return M
