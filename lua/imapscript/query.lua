-- query.lua — search queries as users write them: imap.query (Q.seen, Q.from "x"),
-- imap.Query{...}, imap.Or, imap.Not, and the dates they take. Trees are built in C.
local core = require "imapscript.core"

local M = {}

local function usage(msg, level)
  error(core.error("usage", msg), (level or 1) + 1)
end

-- Dates: "YYYY-MM-DD", an os.time() number, or a table {year=, month=, day=}.
-- Returns year, month, day in local time.
local function ymd(d, what)
  if type(d) == "number" then
    local t = os.date("*t", math.floor(d))
    return t.year, t.month, t.day
  elseif type(d) == "string" then
    local y, m, dd = d:match("^(%d%d%d%d)%-(%d%d?)%-(%d%d?)$")
    if not y then
      usage(string.format("%s: bad date %q (want \"YYYY-MM-DD\", os.time() or imap.days_ago(n))",
        what, d), 3)
    end
    return tonumber(y), tonumber(m), tonumber(dd)
  elseif type(d) == "table" then
    local y, m, dd = d.year, d.month, d.day
    if math.type(y) ~= "integer" or math.type(m) ~= "integer" or math.type(dd) ~= "integer" then
      usage(string.format("%s: a date table needs whole numbers year, month and day " ..
        "(got year=%s, month=%s, day=%s)", what, tostring(y), tostring(m), tostring(dd)), 3)
    end
    return y, m, dd
  end
  usage(string.format("%s: bad date (a %s)", what, type(d)), 3)
end

--- The os.time() of n days ago (n may be fractional).
function M.days_ago(n)
  if type(n) ~= "number" or n < 0 then usage("days_ago: want a number of days >= 0", 2) end
  return os.time() - math.floor(n * 86400)
end

local function check_string(key, s)
  if type(s) ~= "string" and type(s) ~= "number" then
    usage(string.format("Q.%s: want a string, got %s", key, type(s)), 3)
  end
  return tostring(s)
end

-- The largest value each number key takes (IMAP number: 32 bits; mod-sequences and Gmail
-- ids: 63 bits).
local number_max = { larger = 2^32 - 1, smaller = 2^32 - 1, older = 2^32 - 1,
  younger = 2^32 - 1, modseq = math.maxinteger, gm_msgid = math.maxinteger,
  gm_thrid = math.maxinteger }

local function check_count(key, n)
  local x = tonumber(n)
  if not x then usage(string.format("Q.%s: want a whole number, got %s", key, tostring(n)), 3) end
  if x < 0 or x > number_max[key] then
    usage(string.format("Q.%s: want a number from 0 to %d, got %s", key,
      math.tointeger(number_max[key]), tostring(n)), 3)
  end
  local v = math.tointeger(x)
  if not v then usage(string.format("Q.%s: want a whole number, got %s", key, tostring(n)), 3) end
  return v
end

local flag_keys = {
  all = "ALL", seen = "SEEN", unseen = "UNSEEN", flagged = "FLAGGED", unflagged = "UNFLAGGED",
  answered = "ANSWERED", unanswered = "UNANSWERED", deleted = "DELETED", undeleted = "UNDELETED",
  draft = "DRAFT", undraft = "UNDRAFT", recent = "RECENT", new = "NEW", old = "OLD",
}
local string_keys = {
  from = "FROM", to = "TO", cc = "CC", bcc = "BCC", subject = "SUBJECT", body = "BODY",
  text = "TEXT", keyword = "KEYWORD", unkeyword = "UNKEYWORD", gmail = "X-GM-RAW",
}
local number_keys = { larger = "LARGER", smaller = "SMALLER", older = "OLDER",
  younger = "YOUNGER", modseq = "MODSEQ", gm_msgid = "X-GM-MSGID", gm_thrid = "X-GM-THRID" }
local date_keys = { before = "BEFORE", on = "ON", since = "SINCE", sent_before = "SENTBEFORE",
  sent_on = "SENTON", sent_since = "SENTSINCE" }

--- The Q table: flag keys are values, keys with an argument are functions.
local Q = {}
for name, key in pairs(flag_keys) do Q[name] = core.query_key(key) end
for name, key in pairs(string_keys) do
  Q[name] = function(s) return core.query_string(key, check_string(name, s)) end
end
for name, key in pairs(number_keys) do
  Q[name] = function(n) return core.query_number(key, check_count(name, n)) end
end
for name, key in pairs(date_keys) do
  Q[name] = function(d) return core.query_date(key, ymd(d, "Q." .. name)) end
end
function Q.header(field, s)
  return core.query_header(check_string("header", field), check_string("header", s))
end
function Q.uid(set)
  if type(set) ~= "userdata" then set = core.set(set) end
  return core.query_uid(set)
end
M.Q = Q

local function is_query(q)
  return type(q) == "userdata" and getmetatable(q) == getmetatable(Q.all)
end
M.is_query = is_query

local function check_query(q, i, fname)
  if not is_query(q) then
    usage(string.format("%s: argument %d is not a query (a %s)", fname, i, type(q)), 3)
  end
  return q
end

--- imap.Or(a, b, ...): any of the queries.
function M.Or(...)
  local n = select("#", ...)
  for i = 1, n do check_query(select(i, ...), i, "imap.Or") end
  return core.query_or(...)
end

--- imap.Not(q)
function M.Not(q)
  return core.query_not(check_query(q, 1, "imap.Not"))
end

--- imap.Query { Q.flagged, from = "x", unseen = true, larger = 1000, header = {"List-Id", "x"} }:
-- every key must hold; `false` negates a flag key (seen = false is UNSEEN's twin: NOT SEEN);
-- positional entries are queries, and-ed with the rest.
function M.Query(t)
  if type(t) ~= "table" then usage("imap.Query: want a table of keys", 2) end
  local names = {}
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > #t then names[#names + 1] = k end
  end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(names) do
    local v = t[k]
    local f = Q[k]
    if f == nil then
      usage(string.format("imap.Query: unknown key %q", tostring(k)), 2)
    elseif is_query(f) then
      if v == true then parts[#parts + 1] = f
      elseif v == false then parts[#parts + 1] = core.query_not(f)
      else usage(string.format("imap.Query: %s wants true or false", k), 2) end
    elseif k == "header" then
      if type(v) ~= "table" then usage("imap.Query: header wants {name, value}", 2) end
      parts[#parts + 1] = f(v[1], v[2])
    else
      parts[#parts + 1] = f(v)
    end
  end
  for i, q in ipairs(t) do parts[#parts + 1] = check_query(q, i, "imap.Query") end
  return core.query_and(table.unpack(parts))
end

return M
