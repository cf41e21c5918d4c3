-- compat/mime.lua — the MIME shape of a whole message, for imapfilter's fetch_structure()
-- ({["1.2"] = {type=, size=, name=}}) and fetch_part("1.2") (that part's body as IMAP's
-- BODY[1.2] gives it), computed from the message text. Depth and part count are bounded.
local M = {}

local MAX_DEPTH, MAX_PARTS = 20, 1000

-- header text, body text of an entity (split at the first empty line).
local function split(text)
  if text:sub(1, 2) == "\r\n" then return "", text:sub(3) end
  local i = text:find("\r\n\r\n", 1, true)
  if i then return text:sub(1, i + 1), text:sub(i + 4) end
  return text, ""
end

-- The unfolded value of the first `name` field of a header, or nil.
local function field(header, name)
  local lname = name:lower()
  local value
  for line in (header .. "\r\n"):gmatch("(.-)\r\n") do
    if value then
      if line:match("^[ \t]") then
        value = value .. " " .. line:gsub("^%s+", "")
      else
        break
      end
    else
      local n, v = line:match("^([^:%s]+)%s*:%s*(.*)$")
      if n and n:lower() == lname then value = v end
    end
  end
  return value
end

-- type/subtype (lower case) and the parameters of a Content-Type-like value.
local function parse_params(value)
  local params = {}
  if not value then return nil, params end
  local head, rest = value:match("^%s*([^;]*)(.*)$")
  for k, v in rest:gmatch(';%s*([^=;%s]+)%s*=%s*("[^"]*"?[^;]*)') do
    params[k:lower()] = v:gsub('^"', ""):gsub('"%s*$', "")
  end
  for k, v in rest:gmatch(";%s*([^=;%s]+)%s*=%s*([^\";%s][^;]*)") do
    params[k:lower()] = params[k:lower()] or v:gsub("%s+$", "")
  end
  return head:gsub("%s+$", ""):lower(), params
end

-- The parts of a multipart body: array of entity texts (without the CRLF before each
-- delimiter, which belongs to the delimiter).
local function multipart_parts(body, boundary)
  local delim = "--" .. boundary
  local parts = {}
  local function is_delim_at(i)
    local after = body:sub(i + #delim, i + #delim + 1)
    return after == "--" or after:match("^[\r \t]") or after == ""
  end
  local i
  if body:sub(1, #delim) == delim and is_delim_at(1) then
    i = 1
  else
    local from = 1
    while true do
      local j = body:find("\r\n" .. delim, from, true)
      if not j then return parts end
      if is_delim_at(j + 2) then i = j + 2; break end
      from = j + 2
    end
  end
  local start
  while i and #parts < MAX_PARTS do
    if start then parts[#parts + 1] = body:sub(start, i - 3) end
    if body:sub(i + #delim, i + #delim + 1) == "--" then break end
    local eol = body:find("\r\n", i, true)
    if not eol then break end
    start = eol + 2
    local from, nxt = start - 2, nil
    while true do
      local j = body:find("\r\n" .. delim, from, true)
      if not j then break end
      if is_delim_at(j + 2) then nxt = j + 2; break end
      from = j + 2
    end
    if not nxt then
      parts[#parts + 1] = body:sub(start)
      break
    end
    i = nxt
  end
  return parts
end

-- The tree of an entity: {type=, size=, name=, body=, parts={...}, message=bool}.
-- `default` is the type when there is no Content-Type (message/rfc822 in multipart/digest).
local function entity(text, depth, default)
  local header, body = split(text)
  local ctype, params = parse_params(field(header, "Content-Type"))
  ctype = ctype and ctype:find("/", 1, true) and ctype or (default or "text/plain")
  local _, dparams = parse_params(field(header, "Content-Disposition"))
  local node = { type = ctype, body = body, size = #body, name = dparams.filename or params.name }
  if depth >= MAX_DEPTH then return node end
  if ctype:sub(1, 10) == "multipart/" and params.boundary then
    node.parts = {}
    local sub_default = ctype == "multipart/digest" and "message/rfc822" or nil
    for _, p in ipairs(multipart_parts(body, params.boundary)) do
      node.parts[#node.parts + 1] = entity(p, depth + 1, sub_default)
    end
  elseif ctype == "message/rfc822" then
    node.message = entity(body, depth + 1)
  end
  return node
end

-- IMAP numbering: the children of a multipart are 1, 2, ...; an encapsulated message's
-- parts are those of its body (its own single part is .1).
local function children(node)
  if node.parts then return node.parts end
  if node.message then
    local inner = node.message
    if inner.parts then return inner.parts end
    return { inner }
  end
  return nil
end

--- imapfilter's structure table of a message.
function M.structure(raw)
  local top = entity(raw, 0)
  local out = {}
  local function add(id, node)
    out[id] = { type = node.type, size = not node.parts and node.size or nil, name = node.name }
    local kids = children(node)
    for i, k in ipairs(kids or {}) do add(id .. "." .. i, k) end
  end
  if top.parts then
    for i, k in ipairs(top.parts) do add(tostring(i), k) end
  else
    add("1", top)
  end
  return out
end

--- The text of part `id` ("1", "2.1") as BODY[id] gives it, or nil when there is none.
function M.part(raw, id)
  local node = entity(raw, 0)
  if not node.parts then
    -- A single-part message: part 1 is its body.
    node = { parts = { node } }
  end
  for n in tostring(id):gmatch("[^.]+") do
    local k = tonumber(n)
    local kids = node.parts or children(node)
    if not k or not kids or not kids[k] then return nil end
    node = kids[k]
  end
  return node.body
end

return M
