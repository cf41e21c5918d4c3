-- compat/message.lua — imapfilter's messages (mailbox[uid]) and their fetch_* methods.
-- A config that loops over a result calling mbox[uid]:fetch_field(...) would cost one round
-- trip per message; here the first call fetches that item for the next messages of the
-- result the config is walking too (one FETCH per window), and later calls read the cache.
local core = require "imapscript.core"
local log = require "imapscript.log"
local ctx = require "imapscript.compat.context"
local opt = require "imapscript.compat.options"
local fetch = require "imapscript.compat.fetch"
local mime = require "imapscript.compat.mime"
local Set = require "imapscript.compat.set"
local process = require "imapscript.compat.process"
log.internal(debug.getinfo(1, "S").source)

local M = {}
local methods = {}
local Message = { __name = "imapfilter.message", __index = methods }

-- Messages fetched per command when reading ahead: small items many, whole messages few.
local WINDOW = { flags = 500, size = 500, date = 500, field = 500, header = 100, body = 25, raw = 25 }
-- Items too big to keep for the whole run: only the latest window stays cached.
local BIG = { header = true, body = true, raw = true }

local function cache_of(box, key)
  local c = rawget(box, "_cache")
  local t = c[key]
  if not t then t = {}; c[key] = t end
  return t
end

-- The value of item `key` for message uid of box, fetching it (and its window) if needed.
-- items: the wire items; value(m): what to keep of a fetched message.
local function get(box, uid, key, kind, items, value)
  local caching = opt.flag(ctx.options, "cache")
  local c = cache_of(box, key)
  local hit = c[uid]
  if hit ~= nil and (kind ~= "flags" or hit.gen == process.generation) then
    if kind == "flags" then return hit.v end
    return hit
  end
  local uids = { uid }
  local listed = Set.listed[box]
  if caching and listed and listed.pos[uid] then
    local i, n = listed.pos[uid] + 1, WINDOW[kind]
    while #uids < n and listed.uids[i] do
      local u = listed.uids[i]
      local h = c[u]
      if h == nil or (kind == "flags" and h.gen ~= process.generation) then uids[#uids + 1] = u end
      i = i + 1
    end
  end
  if BIG[kind] then
    c = {}
    rawget(box, "_cache")[key] = c
  end
  local got
  fetch.box(rawget(box, "_native"), core.set(uids), items, function(m)
    local v = value(m)
    if m.uid == uid then got = v end
    if caching and v ~= nil then
      c[m.uid] = kind == "flags" and { gen = process.generation, v = v } or v
    end
  end)
  return got
end
M.get = get

-- Each fetch_* as a function of (box, uid): the value imapfilter's method returns.
local fetchers = {}
function fetchers.flags(box, uid)
  return get(box, uid, "flags", "flags", fetch.items.flags, function(m) return m.flags or {} end)
end
function fetchers.size(box, uid)
  return get(box, uid, "size", "size", fetch.items.size, function(m) return m.size end)
end
function fetchers.date(box, uid)
  return get(box, uid, "date", "date", fetch.items.date, function(m) return m.internaldate end)
end
local function raw(box, uid)
  return get(box, uid, "raw", "raw", fetch.items.raw, function(m) return m.raw end)
end
function fetchers.message(box, uid) return raw(box, uid) end
function fetchers.header(box, uid)
  local r = rawget(box, "_cache").raw
  if r and r[uid] then return fetch.header_of(r[uid]) end
  return get(box, uid, "header", "header", fetch.items.header, function(m) return m.header end)
end
function fetchers.body(box, uid)
  local r = rawget(box, "_cache").raw
  if r and r[uid] then return fetch.body_of(r[uid]) end
  return get(box, uid, "body", "body", fetch.items.body, function(m) return m.body end)
end
-- The raw text of one header field ("Name: value\r\n\r\n", "\r\n" when absent).
local function field_raw(box, uid, field)
  return get(box, uid, "field:" .. field:lower(), "field", fetch.field_items(field),
    function(m) return m.fields or "\r\n" end)
end
M.field_raw = field_raw
function fetchers.field(box, uid, field)
  local f = field_raw(box, uid, field)
  return f and fetch.field_text(f)
end
function fetchers.fields(box, uid, fields)
  local out = {}
  for _, f in ipairs(fields) do
    local t = field_raw(box, uid, f)
    if t == nil then return nil end
    out[#out + 1] = (t:gsub("\r\n\r\n$", "\n"))
  end
  return (table.concat(out):gsub("\n$", ""))
end
function fetchers.structure(box, uid)
  local r = raw(box, uid)
  return r and mime.structure(r)
end
function fetchers.part(box, uid, part)
  local r = raw(box, uid)
  return r and mime.part(r, part)
end
M.fetchers = fetchers

local what = {
  message = "message %s", header = "the header of %s", body = "the body of %s",
  size = "the size of %s", date = "the date of %s", flags = "the flags of %s",
  structure = "the structure of %s",
}

local function info(fmt, ...)
  if opt.flag(ctx.options, "info") then print(string.format(fmt, ...)) end
end

for name, f in pairs(fetchers) do
  methods["fetch_" .. name] = function(self, arg)
    if (name == "field" or name == "part") and type(arg) ~= "string" then
      error(string.format("fetch_%s: string argument expected, got %s", name, type(arg)), 2)
    end
    if name == "fields" and type(arg) ~= "table" then
      error("fetch_fields: table argument expected, got " .. type(arg), 2)
    end
    local v = f(rawget(self, "_mailbox"), rawget(self, "_uid"), arg)
    if v == nil then return end        -- nothing, as imapfilter (not even nil)
    if what[name] then
      info("Fetched " .. what[name] .. ".", rawget(self, "_string"))
    elseif name == "fields" then
      info("Fetched some of the fields of %s.", rawget(self, "_string"))
    else
      info('Fetched %s "%s" of %s.', name, arg, rawget(self, "_string"))
    end
    return v
  end
end

--- The message object for uid in compat mailbox box.
function M.new(box, uid)
  return setmetatable({
    _type = "message", _mailbox = box, _account = rawget(box, "_account"), _uid = uid,
    _string = rawget(box, "_string") .. "[" .. tostring(uid) .. "]",
  }, Message)
end

return M
