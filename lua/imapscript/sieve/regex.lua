-- sieve/regex.lua — a PCRE2 pattern of r:match as the POSIX extended regex Sieve's regex
-- extension runs, when the two would match the same header values; else why not.
local M = {}

-- ERE metacharacters: escaped when the pattern escapes them.
local ERE_SPECIAL = { ["."] = true, ["["] = true, ["("] = true, [")"] = true, ["*"] = true,
  ["+"] = true, ["?"] = true, ["{"] = true, ["|"] = true, ["^"] = true, ["$"] = true,
  ["\\"] = true }

-- Escapes PCRE gives a meaning POSIX shares (ASCII only: Sieve's server matches bytes).
local CLASSES = { d = "[0-9]", s = "[[:space:]]" }

--- to_ere(pattern, flags) -> ere, caseless | nil, reason. flags as imap.regex takes them.
function M.to_ere(pattern, flags)
  flags = flags or ""
  if flags:find("x") then return nil, "the x flag (extended syntax)" end
  local caseless = flags:find("i") ~= nil
  if pattern:find("[\128-\255]") then
    return nil, "non-ASCII characters (the server's regex matches bytes, not characters)"
  end
  if pattern:find("[%z\1-\31\127]") then return nil, "control characters" end
  local out, i, n = {}, 1, #pattern
  if pattern:sub(1, 4) == "(?i)" then caseless, i = true, 5 end
  -- A single . or [^...] matches one character in PCRE and one byte on the server: the same
  -- only when repeated with * or +.
  local function one_char_ok(after)
    local q = pattern:sub(after, after)
    return q == "*" or q == "+"
  end
  while i <= n do
    local c = pattern:sub(i, i)
    if c == "\\" then
      local e = pattern:sub(i + 1, i + 1)
      if e == "" then return nil, "a trailing backslash" end
      if CLASSES[e] then
        out[#out + 1] = CLASSES[e]
      elseif e:match("%p") then
        out[#out + 1] = ERE_SPECIAL[e] and ("\\" .. e) or e
      else
        return nil, "\\" .. e .. " (no POSIX equivalent)"
      end
      i = i + 2
    elseif c == "[" then
      local j = i + 1
      local negated = pattern:sub(j, j) == "^"
      if negated then j = j + 1 end
      if pattern:sub(j, j) == "]" then j = j + 1 end
      while j <= n and pattern:sub(j, j) ~= "]" do
        local d = pattern:sub(j, j)
        if d == "\\" then return nil, "a backslash inside [...]" end
        if d == "[" and pattern:sub(j + 1, j + 1) == ":" then
          local close = pattern:find(":]", j + 2, true)
          if not close then return nil, "an unclosed [: class" end
          j = close + 2
        else
          j = j + 1
        end
      end
      if j > n then return nil, "an unclosed [" end
      if negated and not one_char_ok(j + 1) then
        return nil, "a single [^...] (one character in PCRE, one byte on the server)"
      end
      out[#out + 1] = pattern:sub(i, j)
      i = j + 1
    elseif c == "(" then
      if pattern:sub(i + 1, i + 2) == "?:" then
        out[#out + 1] = "("
        i = i + 3
      elseif pattern:sub(i + 1, i + 1) == "?" then
        return nil, "(?" .. pattern:sub(i + 2, i + 2) .. " groups"
      else
        out[#out + 1] = "("
        i = i + 1
      end
    elseif c == "*" or c == "+" or c == "?" then
      local q = pattern:sub(i + 1, i + 1)
      if q == "?" or q == "+" then return nil, "lazy or possessive quantifiers (" .. c .. q .. ")" end
      out[#out + 1] = c
      i = i + 1
    elseif c == "{" then
      local body = pattern:match("^{(%d+,?%d*)}", i)
      if body then
        if #body > 9 then return nil, "a repeat count this large" end
        local q = pattern:sub(i + #body + 2, i + #body + 2)
        if q == "?" or q == "+" then return nil, "lazy or possessive quantifiers" end
        out[#out + 1] = "{" .. body .. "}"
        i = i + #body + 2
      else
        out[#out + 1] = "\\{"         -- PCRE reads a { that starts no repeat as itself
        i = i + 1
      end
    elseif c == "." then
      if not one_char_ok(i + 1) then
        return nil, "a single . (one character in PCRE, one byte on the server)"
      end
      out[#out + 1] = "."
      i = i + 1
    else
      out[#out + 1] = c               -- ) | ^ $ and ordinary characters
      i = i + 1
    end
  end
  return table.concat(out), caseless
end

return M
