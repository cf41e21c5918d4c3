-- mailbox.lua — a mailbox of an account: searches that make results, status, append.
-- Names are UTF-8 with "/" as separator; the account maps them to the server's.
local core = require "imapscript.core"
local log = require "imapscript.log"
local query = require "imapscript.query"
local Result = require "imapscript.result"
local settings = require "imapscript.settings"
local extensions = require "imapscript.extensions"
local journal = require "imapscript.journal"
local transfer = require "imapscript.transfer"
local cache = require "imapscript.cache"
log.internal(debug.getinfo(1, "S").source)

local Mailbox = {}
Mailbox.__index = Mailbox
Mailbox.__name = "imapscript.mailbox"

local M = {}

function M.new(account, name)
  return setmetatable({ account = account, name = name }, Mailbox)
end
M.is_mailbox = function(v) return getmetatable(v) == Mailbox end

function Mailbox.__tostring(self)
  return string.format("imap.mailbox(%s %s)", self.account.label, self.name)
end

function Mailbox:_wire() return self.account:_wire_name(self.name) end

--- box:search(q): a lazy result; the search joins the account's queue.
function Mailbox:search(q)
  if not query.is_query(q) then
    error(core.error("usage", string.format("%s: search wants a query (a %s)", self.name, type(q))), 2)
  end
  return Result.search(self, q)
end

--- box:all(): every message.
function Mailbox:all() return self:search(query.Q.all) end

--- box:new_since_last_run(): the messages that arrived since this script last completed a run
--- (one that ended without error) on this mailbox: UIDs from where that run stopped (its
--- UIDNEXT, kept in the state database) up to this run's. The first run, after the mailbox was
--- recreated (another UIDVALIDITY), or without a state database: every message. Selects the
--- mailbox now (one round trip, after what is queued).
function Mailbox:new_since_last_run()
  local acct = self.account
  local conn = Result.use_box(self)
  if not conn then return Result.known(self, core.set("")) end
  local _, view = conn:selected()
  local uv, upto = view and view.uidvalidity or 0, view and view.uidnext or 0
  if upto == 0 then
    local st = self:status()
    uv, upto = st.uidvalidity, st.uidnext
  end
  local from = cache.mark(acct, self, uv)
  cache.mark_later(acct, self, uv, upto)
  if from >= upto then return Result.known(self, core.set("")) end
  return self:search(query.Q.uid(string.format("%d:%d", from, upto - 1)))
end

--- box:uids(set): a result for UIDs the script already knows.
function Mailbox:uids(set)
  if type(set) ~= "userdata" then set = core.set(set) end
  return Result.known(self, set)
end

--- box:status(): {messages, unseen, recent, uidnext, uidvalidity}.
function Mailbox:status()
  return self.account:_now("status " .. self.name, function(conn)
    return conn:status(self:_wire())
  end)
end

--- box:count(): the number of messages (STATUS MESSAGES).
function Mailbox:count() return self:status().messages end

local function format_date(d)
  if d == nil or type(d) == "string" then return d end
  if type(d) == "number" then return core.internaldate(d) end
  error(core.error("usage", "append: date must be an os.time() number or an IMAP date-time string"), 3)
end

--- box:append(text [, flags [, date]]): stores a message; returns its UID when the
--- server says (APPENDUID), else true.
function Mailbox:append(text, flags, date)
  if type(text) ~= "string" then
    error(core.error("usage", self.name .. ": append wants the message text"), 2)
  end
  if flags ~= nil and type(flags) ~= "table" then
    error(core.error("usage", self.name .. ": append flags must be a table"), 2)
  end
  local idate = format_date(date)
  if settings.dry_run then
    self.account:flush()
    log.plan({ action = "append", account = self.account.label, to = self.name, size = #text },
      string.format("append %d bytes -> %s", #text, self.name))
    return true
  end
  local acct = self.account
  acct:flush()
  local conn = acct:_connection()
  -- Journaled first: an APPEND cut off is found again by its Message-ID, from UIDNEXT on.
  local key = journal.key(acct.cfg)
  local e = journal.entry(key, { verb = "append", method = "APPEND", dest_account = key,
    dest_mailbox = self.name, line = log.where(), label = "append", account_label = acct.label,
    msgs = { { uid = 0, message_id = transfer.message_id(text), flags = flags or {}, size = #text } } })
  local st = conn:status(self:_wire())
  local h = conn:append(self:_wire(), text, flags, idate)
  conn:wait(h)
  local info = st:done() and st:result()
  if info then e:update { dest_uidnext = info.uidnext, dest_uidvalidity = info.uidvalidity } end
  local v, err = h:result()
  if v == nil then
    e:failed(tostring(err.message))
    err.message = string.format("append %s: %s", self.name, err.message)
    error(err, 0)
  end
  e:done { dest_uids = type(v) == "table" and v.uid and core.set({ v.uid }) or nil, count = 1 }
  log.action(string.format("appended 1 message (%d bytes) to %s", #text, self.name))
  return type(v) == "table" and v.uid or true
end

-- box:command, acl, my_rights, set_acl, delete_acl (extensions.lua).
for name, f in pairs(extensions.mailbox) do Mailbox[name] = f end

return M
