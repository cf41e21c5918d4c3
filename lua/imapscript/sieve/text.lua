-- sieve/text.lua — Sieve's lexical side (RFC 5228 section 2): quoted strings, string lists,
-- and reading back the one line imapscript writes to remember the script it includes.
local M = {}

--- The Sieve quoted string for s, or nil when s holds a control character (a Sieve string
--- could carry it, but nothing a rule compares should).
function M.quote(s)
  if s:find("[%z\1-\31\127]") then return nil end
  return '"' .. s:gsub('[\\"]', "\\%0") .. '"'
end

--- A string list: "a" for one, ["a", "b"] for more. Every item must quote.
function M.list(items)
  local out = {}
  for i, s in ipairs(items) do out[i] = assert(M.quote(s)) end
  if #out == 1 then return out[1] end
  return "[" .. table.concat(out, ", ") .. "]"
end

--- The inverse of quote for the strings imapscript writes (nil for anything else).
function M.unquote(q)
  local body = q:match('^"(.*)"$')
  if not body then return nil end
  local out, i = {}, 1
  while i <= #body do
    local c = body:sub(i, i)
    if c == "\\" then
      i = i + 1
      c = body:sub(i, i)
      if c == "" then return nil end
    elseif c == '"' then
      return nil
    end
    out[#out + 1] = c
    i = i + 1
  end
  return table.concat(out)
end

-- The include line of an installed script: which script was active before ours.
local MARK = "# imapscript: the script active before"

--- `include :personal :optional "name";` with the mark that previous_of finds again.
function M.include_line(name)
  return string.format("include :personal :optional %s;  %s", assert(M.quote(name)), MARK)
end

--- The name a script made by include_line includes, or nil.
function M.previous_of(script)
  for line in (script .. "\n"):gmatch("([^\n]*)\n") do
    local q = line:match('^include :personal :optional (".*");  ' .. MARK:gsub("%p", "%%%0") .. "\r?$")
    if q then return M.unquote(q) end
  end
  return nil
end

return M
