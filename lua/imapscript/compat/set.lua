-- compat/set.lua — imapfilter's result sets: arrays of {mailbox, uid} with + (or), * (and)
-- and - (not), over imapscript's lazy results. A set made by a search stays a pending
-- search until the config looks inside it (s[i], #s, ipairs, pairs, table.insert); until
-- then searches and actions on it join the account's pipelined queue.
local core = require "imapscript.core"
local Result = require "imapscript.result"
local ctx = require "imapscript.compat.context"

local M = {}
local methods = { _type = "set" }      -- filled by compat/search.lua and compat/process.lua
M.methods = methods

local SetMT = { __name = "imapfilter.set" }
local pending = setmetatable({}, { __mode = "k" })   -- set -> native result, while lazy

-- Mailboxes whose messages were last listed by the config: message fetches read ahead
-- along this order (see compat/message.lua).
M.listed = setmetatable({}, { __mode = "k" })       -- compat mailbox -> {uids, pos}

-- Fills the array part from the native result.
local function materialise(s)
  local r = pending[s]
  if not r then return end
  local by_box = {}
  local entries = {}
  for uid, nbox in r:uids() do
    local box = ctx.compat_box(nbox)
    entries[#entries + 1] = { box, uid }
    local l = by_box[box]
    if not l then l = { uids = {}, pos = {} }; by_box[box] = l end
    l.uids[#l.uids + 1] = uid
    l.pos[uid] = #l.uids
  end
  pending[s] = nil
  for i, e in ipairs(entries) do rawset(s, i, e) end
  for box, l in pairs(by_box) do M.listed[box] = l end
end

function SetMT.__index(s, k)
  local m = methods[k]
  if m ~= nil then return m end
  if pending[s] then
    materialise(s)
    return rawget(s, k)
  end
end

function SetMT.__newindex(s, k, v)
  materialise(s)
  rawset(s, k, v)
end

-- #s resolves the search (its UIDs, not only a count): the actions the config then calls
-- on s act on exactly the messages it counted, even if mail arrived in between.
function SetMT.__len(s)
  local r = pending[s]
  if not r then return rawlen(s) end
  local n = 0
  for _, p in ipairs(r:parts()) do n = n + #p.set end
  return n
end

function SetMT.__pairs(s)
  materialise(s)
  return next, s, nil
end

function SetMT.__tostring(s)
  local r = pending[s]
  if r then return "imapfilter set " .. tostring(r) end
  return string.format("imapfilter set (%d messages)", rawlen(s))
end

--- A set over native result r (nil: the empty set).
local function wrap(r)
  local s = setmetatable({}, SetMT)
  if r then pending[s] = r end
  return s
end
M.wrap = wrap

--- The native result holding the messages of s (a set, or any array of {mailbox, uid}),
--- or nil when it is empty.
local function native(s)
  if type(s) ~= "table" then
    error(string.format("table argument expected, got %s", type(s)), 3)
  end
  local r = pending[s]
  if r then return r end
  local uids, order = {}, {}
  local n = getmetatable(s) == SetMT and rawlen(s) or #s
  for i = 1, n do
    local e = rawget(s, i)
    local box, uid = type(e) == "table" and e[1], type(e) == "table" and e[2]
    local nbox = type(box) == "table" and rawget(box, "_native")
    if not nbox or math.type(uid) ~= "integer" and not (type(uid) == "number" and uid == math.floor(uid)) then
      error(core.error("usage", string.format("result entry %d is not {mailbox, uid}", i)), 3)
    end
    if not uids[nbox] then uids[nbox] = {}; order[#order + 1] = nbox end
    local l = uids[nbox]
    l[#l + 1] = math.tointeger(uid)
  end
  local out
  for _, nbox in ipairs(order) do
    local k = Result.known(nbox, core.set(uids[nbox]))
    out = out and (out + k) or k
  end
  return out
end
M.native = native

local function combine(how)
  return function(a, b)
    local ra, rb = native(a), native(b)
    if how == "+" then
      if not ra then return wrap(rb) end
      if not rb then return wrap(ra) end
      return wrap(ra + rb)
    elseif how == "*" then
      if not ra or not rb then return wrap(nil) end
      return wrap(ra * rb)
    else
      if not ra then return wrap(nil) end
      if not rb then return wrap(ra) end
      return wrap(ra - rb)
    end
  end
end
SetMT.__add = combine("+")
SetMT.__mul = combine("*")
SetMT.__sub = combine("-")

--- Set(t) / Set {}: makes t (an array of {mailbox, uid}) a result set.
M.class = setmetatable({}, {
  __call = function(_, values)
    if values ~= nil and type(values) ~= "table" then
      error("Set: table argument expected, got " .. type(values), 2)
    end
    return setmetatable(values or {}, SetMT)
  end,
  __index = methods,
})

M.is_set = function(v) return getmetatable(v) == SetMT end
return M
