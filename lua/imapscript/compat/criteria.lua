-- compat/criteria.lua — imapfilter's send_query() text (RFC 3501 search keys, e.g.
-- 'OR FROM "a" (UNSEEN LARGER 1000)') turned into an imapscript query, so it is sent
-- through the one encoder (quoting, literals, CHARSET) like every other search.
local core = require "imapscript.core"
local query = require "imapscript.query"

local Q = query.Q
local M = {}

local months = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8,
  sep = 9, oct = 10, nov = 11, dec = 12 }

--- "dd-Mon-yyyy" (imapfilter's and IMAP's date form) -> {year=, month=, day=}, or nil.
function M.date(s)
  if type(s) ~= "string" then return nil end
  local d, mon, y = s:match("^%s*(%d%d?)%-(%a%a%a)%-(%d%d%d%d)%s*$")
  local m = mon and months[mon:lower()]
  if not m then return nil end
  d = tonumber(d)
  if d < 1 or d > 31 then return nil end
  return { year = tonumber(y), month = m, day = d }
end

local function fail(text, msg)
  error(core.error("usage", string.format("send_query: %s in %q", msg, text)), 0)
end

-- Tokens: "(" ")" or {kind="atom"|"string", v=}.
local function tokenize(text)
  local toks, i, n = {}, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == "(" or c == ")" then
      toks[#toks + 1] = c
      i = i + 1
    elseif c == '"' then
      local buf, j = {}, i + 1
      while true do
        if j > n then fail(text, "unterminated quoted string") end
        local ch = text:sub(j, j)
        if ch == "\\" then
          buf[#buf + 1] = text:sub(j + 1, j + 1)
          j = j + 2
        elseif ch == '"' then
          break
        else
          buf[#buf + 1] = ch
          j = j + 1
        end
      end
      toks[#toks + 1] = { kind = "string", v = table.concat(buf) }
      i = j + 1
    elseif c == "{" then
      local len, stop = text:match("^{(%d+)%+?}\r?\n()", i)
      if not len then fail(text, "bad literal") end
      len = tonumber(len)
      toks[#toks + 1] = { kind = "string", v = text:sub(stop, stop + len - 1) }
      i = stop + len
    else
      local atom = text:match('^[^%s%(%)"]+', i)
      toks[#toks + 1] = { kind = "atom", v = atom }
      i = i + #atom
    end
  end
  return toks
end

local flag_keys = {
  ALL = "all", ANSWERED = "answered", DELETED = "deleted", DRAFT = "draft", FLAGGED = "flagged",
  NEW = "new", OLD = "old", RECENT = "recent", SEEN = "seen", UNANSWERED = "unanswered",
  UNDELETED = "undeleted", UNDRAFT = "undraft", UNFLAGGED = "unflagged", UNSEEN = "unseen",
}
local string_keys = { BCC = "bcc", BODY = "body", CC = "cc", FROM = "from", SUBJECT = "subject",
  TEXT = "text", TO = "to", KEYWORD = "keyword", UNKEYWORD = "unkeyword" }
local number_keys = { LARGER = "larger", SMALLER = "smaller", OLDER = "older", YOUNGER = "younger",
  MODSEQ = "modseq" }
local date_keys = { BEFORE = "before", ON = "on", SINCE = "since", SENTBEFORE = "sent_before",
  SENTON = "sent_on", SENTSINCE = "sent_since" }

--- The query for criteria text; conv(s) converts search strings (options.charset).
function M.parse(text, conv)
  conv = conv or function(s) return s end
  local toks, pos = tokenize(text), 1
  local function next_tok() local t = toks[pos]; pos = pos + 1; return t end
  local function value(key)
    local t = next_tok()
    if type(t) ~= "table" then fail(text, key .. " wants an argument") end
    return t.v
  end
  local key_list
  local function key()
    local t = next_tok()
    if t == nil then fail(text, "a search key is missing") end
    if t == "(" then
      local q = key_list(")")
      return q
    end
    if t == ")" then fail(text, "unexpected ')'") end
    if t.kind == "string" then fail(text, string.format("%q is not a search key", t.v)) end
    local k = t.v:upper()
    if flag_keys[k] then return Q[flag_keys[k]] end
    if string_keys[k] then
      local v = value(k)
      if k == "KEYWORD" or k == "UNKEYWORD" then return Q[string_keys[k]](v) end
      return Q[string_keys[k]](conv(v))
    end
    if number_keys[k] then
      local v = tonumber(value(k))
      if not v then fail(text, k .. " wants a number") end
      return Q[number_keys[k]](v)
    end
    if date_keys[k] then
      local v = value(k)
      local d = M.date(v)
      if not d then fail(text, string.format("%s wants a date like 01-Jan-2024, not %q", k, v)) end
      return Q[date_keys[k]](d)
    end
    if k == "HEADER" then
      local field = value(k)
      return Q.header(field, conv(value(k)))
    end
    if k == "UID" then
      local v = value(k)
      if v:find("%*") then fail(text, "UID sets with '*' are not supported") end
      return Q.uid(core.set(v))
    end
    if k == "NOT" then return core.query_not(key()) end
    if k == "OR" then
      local a = key()
      return core.query_or(a, key())
    end
    if k:match("^[%d:,%*]+$") then
      fail(text, "message sequence numbers are not supported (use UID " .. t.v .. ")")
    end
    fail(text, "unknown search key " .. t.v)
  end
  function key_list(close)
    local parts = {}
    while true do
      local t = toks[pos]
      if t == nil then
        if close then fail(text, "missing ')'") end
        break
      end
      if t == ")" then
        if not close then fail(text, "unexpected ')'") end
        pos = pos + 1
        break
      end
      parts[#parts + 1] = key()
    end
    if #parts == 0 then
      if close then fail(text, "empty parentheses") end
      return Q.all
    end
    if #parts == 1 then return parts[1] end
    return core.query_and(table.unpack(parts))
  end
  return key_list(nil)
end

return M
