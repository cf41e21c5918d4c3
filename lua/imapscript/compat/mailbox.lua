-- compat/mailbox.lua — imapfilter's mailboxes (account.INBOX, account['a/b']): status,
-- IDLE, appending, and the searching, processing and fetching methods with their optional
-- trailing message set, on an imapscript mailbox.
local log = require "imapscript.log"
local Result = require "imapscript.result"
local ctx = require "imapscript.compat.context"
local opt = require "imapscript.compat.options"
local Set = require "imapscript.compat.set"
local search = require "imapscript.compat.search"
local process = require "imapscript.compat.process"
local Message = require "imapscript.compat.message"
local fetch = require "imapscript.compat.fetch"
local aux = require "imapscript.compat.auxiliary"
log.internal(debug.getinfo(1, "S").source)

local M = {}
local methods = {}
local Mailbox = { __name = "imapfilter.mailbox" }

function M.new(acct, name, nbox)
  local self = setmetatable({
    _type = "mailbox", _account = acct, _mailbox = name,
    _string = rawget(acct, "_string") .. "/" .. name,
    _native = nbox, _messages = setmetatable({}, { __mode = "v" }), _cache = {},
  }, Mailbox)
  ctx.box_of[nbox] = self
  return self
end

function Mailbox.__index(self, key)
  local m = methods[key]
  if m ~= nil then return m end
  if math.type(key) == "integer" or (type(key) == "number" and key == math.floor(key)) then
    key = math.tointeger(key)
    local msgs = rawget(self, "_messages")
    local msg = msgs[key]
    if not msg then
      msg = Message.new(self, key)
      msgs[key] = msg
    end
    return msg
  end
end

function Mailbox.__tostring(self) return "imapfilter mailbox " .. rawget(self, "_string") end

-- The native mailbox, its account ready (options applied, password asked).
local function native(self)
  require("imapscript.compat.account").prepare(rawget(self, "_account"))
  return rawget(self, "_native")
end

-- The messages of `messages` (a set or array of {mailbox, uid}) that are in this mailbox,
-- as a native result; nil when there are none. A pending search of this mailbox is kept as
-- it is, so a refining search is ANDed into it and costs no extra round trip.
local function restrict(self, messages, fname)
  if type(messages) ~= "table" then
    error(string.format("%s: table argument expected, got %s", fname, type(messages)), 4)
  end
  local nbox = native(self)
  local r = Set.native(messages)
  if not r then return nil end
  if r.box == nbox then return r end
  for _, p in ipairs(r:parts()) do
    if p.box == nbox then return #p.set > 0 and Result.known(nbox, p.set) or nil end
  end
  return nil
end

search.install(methods, function(self, messages, fname)
  if messages == nil then return native(self) end
  return restrict(self, messages, fname) or false
end)

process.install(methods, function(self, name, a, b)
  if process.takes_arg[name] then return restrict(self, b, name), a end
  return restrict(self, a, name), nil
end)

local function info(fmt, ...)
  if opt.flag(ctx.options, "info") then print(string.format(fmt, ...)) end
end

--- mbox:check_status(): messages, recent, unseen, uidnext; -1 four times (after the server's
--- NO, shown as a warning) for a mailbox the server will not tell about, as imapfilter.
function methods.check_status(self)
  local nbox = native(self)
  local ok, st = pcall(nbox.status, nbox)
  if not ok then
    if type(st) ~= "table" or st.kind ~= "no" then error(st, 0) end
    log.warn(string.format("%s: %s", log.where() or "?", tostring(st.message)))
    return -1, -1, -1, -1
  end
  local exist, recent, unseen, uidnext = st.messages or 0, st.recent or 0, st.unseen or 0, st.uidnext or 0
  info("%d messages, %d recent, %d unseen, in %s.", exist, recent, unseen, rawget(self, "_string"))
  return exist, recent, unseen, uidnext
end

--- mbox:enter_idle(): true and the event that ended it, or false without IDLE.
function methods.enter_idle(self)
  local nbox = native(self)
  aux.flush_all()
  local conn = Result.use_box(nbox)
  if not conn then return false end       -- the server will not open it (warned)
  local keepalive = opt.number(ctx.options, "keepalive")
  local secs = math.max(60, math.floor((keepalive > 0 and keepalive or 29) * 60))
  while true do
    local how, err = conn:idle(secs)
    if how == nil then
      if type(err) == "table" and err.kind == "capability" then return false end
      error(err, 0)
    end
    -- imapscript wakes on any change (EXISTS, EXPUNGE, FETCH): imapfilter's wakeonany.
    if how ~= "timeout" then return true, "CHANGED" end
  end
end

--- mbox:append_message(text [, flags [, date]])
function methods.append_message(self, text, flags, date)
  if type(text) ~= "string" then
    error("append_message: string argument expected, got " .. type(text), 2)
  end
  if type(flags) == "string" then
    local t = {}
    for f in flags:gmatch("%S+") do t[#t + 1] = f end
    flags = t
  elseif flags ~= nil and type(flags) ~= "table" then
    error("append_message: flags: table or string argument expected, got " .. type(flags), 2)
  end
  if date ~= nil and type(date) ~= "string" then
    error("append_message: date: string argument expected, got " .. type(date), 2)
  end
  local keep = {}
  for _, f in ipairs(flags or {}) do
    if f:lower() ~= "\\recent" then keep[#keep + 1] = f end
  end
  local nbox = native(self)
  local ok, err = pcall(nbox.append, nbox, text, #keep > 0 and keep or nil, date)
  if not ok and type(err) == "table" and err.code == "TRYCREATE" then
    -- imapfilter creates the mailbox on [TRYCREATE] (and subscribes it with options.subscribe).
    local acct = nbox.account
    ok, err = pcall(acct.create, acct, nbox.name)
    if ok and opt.flag(ctx.options, "subscribe") then ok, err = pcall(acct.subscribe, acct, nbox.name) end
    if ok then ok, err = pcall(nbox.append, nbox, text, #keep > 0 and keep or nil, date) end
  end
  if not ok then
    -- As imapfilter: the server's NO is shown, append_message returns false.
    if type(err) ~= "table" or err.kind ~= "no" then error(err, 0) end
    log.warn(string.format("%s: %s", log.where() or "?", tostring(err.message)))
    return false
  end
  info("Appended message of %d octets to %s.", #text, rawget(self, "_string"))
  return true
end

-- mbox:fetch_*(messages): {[uid] = value} for this mailbox's messages of the set, from one
-- FETCH (a few for fetch_fields: one per field, pipelined).
local function uids_of(self, messages, fname)
  local r = restrict(self, messages, fname)
  if not r then return nil end
  local parts = r:parts()
  return parts[1] and parts[1].set
end

local function fetch_map(self, messages, fname, items, value)
  local set = uids_of(self, messages, fname)
  if not set then return {} end
  local out = {}
  if not fetch.box(rawget(self, "_native"), set, items, function(m) out[m.uid] = value(m) end) then
    return nil             -- the server will not open the mailbox (warned)
  end
  return out
end

function methods.fetch_flags(self, messages)
  return fetch_map(self, messages, "fetch_flags", fetch.items.flags, function(m) return m.flags or {} end)
end
function methods.fetch_size(self, messages)
  return fetch_map(self, messages, "fetch_size", fetch.items.size, function(m) return m.size end)
end
function methods.fetch_date(self, messages)
  return fetch_map(self, messages, "fetch_date", fetch.items.date, function(m) return m.internaldate end)
end
function methods.fetch_header(self, messages)
  return fetch_map(self, messages, "fetch_header", fetch.items.header, function(m) return m.header end)
end
function methods.fetch_body(self, messages)
  return fetch_map(self, messages, "fetch_body", fetch.items.body, function(m) return m.body end)
end
function methods.fetch_message(self, messages)
  return fetch_map(self, messages, "fetch_message", fetch.items.raw, function(m) return m.raw end)
end
function methods.fetch_structure(self, messages)
  local mime = require "imapscript.compat.mime"
  return fetch_map(self, messages, "fetch_structure", fetch.items.raw,
    function(m) return m.raw and mime.structure(m.raw) end)
end
function methods.fetch_fields(self, fields, messages)
  if type(fields) ~= "table" then error("fetch_fields: table argument expected, got " .. type(fields), 2) end
  local set = uids_of(self, messages, "fetch_fields")
  if not set then return {} end
  local texts = {}
  for _, f in ipairs(fields) do
    local opened = fetch.box(rawget(self, "_native"), set, fetch.field_items(f), function(m)
      local t = texts[m.uid] or {}
      texts[m.uid] = t
      t[#t + 1] = ((m.fields or "\r\n"):gsub("\r\n\r\n$", "\n"))
    end)
    if not opened then return nil end
  end
  local out = {}
  for uid, t in pairs(texts) do out[uid] = (table.concat(t):gsub("\n$", "")) end
  return out
end
--- mbox:fetch_parts(parts, uid): {[part] = text}.
function methods.fetch_parts(self, parts, uid)
  if type(parts) ~= "table" then error("fetch_parts: table argument expected, got " .. type(parts), 2) end
  if type(uid) ~= "number" then error("fetch_parts: number argument expected, got " .. type(uid), 2) end
  native(self)
  local out = {}
  for _, p in ipairs(parts) do out[p] = Message.fetchers.part(self, math.tointeger(uid), p) or "" end
  return out
end

M.is_mailbox = function(v) return getmetatable(v) == Mailbox end
M.methods = methods
return M
