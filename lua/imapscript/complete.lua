-- complete.lua — tab completion for the -i prompt: globals and keywords, fields of tables,
-- methods of accounts, mailboxes and results, and the mailbox names an account knows.
local M = {}

local keywords = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
  "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

-- What a TAB after the account's first mailbox listing has learnt, per account.
local listed = setmetatable({}, { __mode = "k" })

local function is_name(s) return s:match("^[%a_][%w_]*$") ~= nil end

-- The names reachable with "." or ":" from v: its own string keys, those of its metatable's
-- __index tables, and what a __complete metamethod adds (accounts: mailbox names).
local function fields(v)
  local out, seen = {}, {}
  local function add(k)
    if type(k) == "string" and not seen[k] and k:sub(1, 1) ~= "_" then
      seen[k] = true
      out[#out + 1] = k
    end
  end
  -- An object that knows its own names (an account: methods and mailboxes) says them.
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__complete) == "function" then
    local ok, names = pcall(mt.__complete, v, listed)
    if ok and type(names) == "table" then
      for _, k in ipairs(names) do add(k) end
    end
    return out
  end
  local t, depth = v, 0
  while t ~= nil and depth < 8 do
    if type(t) == "table" then
      for k in next, t do add(k) end
    end
    mt = getmetatable(t)
    t = type(mt) == "table" and type(mt.__index) == "table" and mt.__index or nil
    depth = depth + 1
  end
  return out
end

-- The value of a dotted path of names ("acct.INBOX", "imap.query"), read with rawget so
-- that completing never connects and never runs a script's own __index; objects that
-- complete themselves (accounts) are indexed as usual, which only makes a mailbox object.
local function resolve(path)
  local v = _G
  for name in path:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    local mt = getmetatable(v)
    local nv = rawget(v, name)
    if nv == nil and type(mt) == "table" then
      if type(mt.__complete) == "function" then
        local ok, got = pcall(function() return v[name] end)
        nv = ok and got or nil
      elseif type(mt.__index) == "table" then
        nv = rawget(mt.__index, name)
      end
    end
    v = nv
  end
  return v
end

local function sorted(list)
  table.sort(list)
  return list
end

--- The completions of `text`, the word before the cursor (line is the whole line).
function M.candidates(text, line)
  local out = {}
  -- acct["Lists/lu  -> acct["Lists/lua-l"]
  local base, partial = text:match('^([%a_][%w_.]*)%["([^"]*)$')
  if base then
    local v = resolve(base)
    for _, k in ipairs(fields(v)) do
      if k:sub(1, #partial) == partial then out[#out + 1] = string.format('%s["%s"]', base, k) end
    end
    return sorted(out)
  end
  -- acct.IN / acct:mail / imap.query.fr
  local path, sep, prefix = text:match("^([%a_][%w_.]*)([.:])([%w_]*)$")
  if path then
    local v = resolve(path)
    if v == nil then return out end
    for _, k in ipairs(fields(v)) do
      if k:sub(1, #prefix) == prefix then
        if is_name(k) then
          out[#out + 1] = path .. sep .. k
        elseif sep == "." then
          out[#out + 1] = string.format('%s["%s"]', path, k)
        end
      end
    end
    return sorted(out)
  end
  if not text:match("^[%a_]?[%w_]*$") then return out end
  for k in next, _G do
    if type(k) == "string" and k:sub(1, #text) == text then out[#out + 1] = k end
  end
  for _, k in ipairs(keywords) do
    if k:sub(1, #text) == text then out[#out + 1] = k end
  end
  return sorted(out)
end

return M
