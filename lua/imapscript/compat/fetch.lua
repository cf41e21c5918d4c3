-- compat/fetch.lua — the FETCHes behind imapfilter's match_* and fetch_* methods: one
-- UID FETCH per mailbox for a whole set (the session splits long sets), streamed to a
-- callback, never one command per message. Also the text forms imapfilter returns.
local Result = require "imapscript.result"
local log = require "imapscript.log"
log.internal(debug.getinfo(1, "S").source)

local M = {}

-- Wire items (as the session binding names them) for what imapfilter fetches.
M.items = {
  flags = { "uid", "flags" },
  size = { "uid", "size" },
  date = { "uid", "date" },
  header = { "uid", "header" },
  body = { "uid", "body" },
  raw = { "uid", "raw" },
}
function M.field_items(field) return { "uid", { "fields", field } } end

--- Runs one UID FETCH of items for set in native mailbox nbox (after the account's queue);
--- fn(msg) for each message, in the order the server sends them. Returns false when the
--- server will not open the mailbox (a warning was shown), else true.
function M.box(nbox, set, items, fn)
  if #set == 0 then return true end
  local conn = Result.use_box(nbox)
  if not conn then return false end
  local h = conn:fetch(set, items, function(m)
    if m.uid then fn(m) end
  end)
  conn:wait(h)
  local ok, err = h:result()
  if not ok then error(err, 0) end
  return true
end

--- The same for every mailbox of native result r: fn(msg, nbox).
function M.result(r, items, fn)
  for _, p in ipairs(r:parts()) do
    M.box(p.box, p.set, items, function(m) fn(m, p.box) end)
  end
end

--- The body (imapfilter's BODY[TEXT]) of a whole message: what follows the first empty line.
function M.body_of(raw)
  local i = raw:find("\r\n\r\n", 1, true)
  if i then return raw:sub(i + 4) end
  i = raw:find("\n\n", 1, true)
  if i then return raw:sub(i + 2) end
  return ""
end

--- The header (imapfilter's BODY[HEADER]) of a whole message, with its empty line.
function M.header_of(raw)
  local i = raw:find("\r\n\r\n", 1, true)
  if i then return raw:sub(1, i + 3) end
  i = raw:find("\n\n", 1, true)
  if i then return raw:sub(1, i + 1) end
  return raw
end

--- imapfilter's text of one fetched header field: "Subject: x" without the closing empty
--- line ("\r" when the message lacks the field), as its fetch_field returns it.
function M.field_text(fields)
  local s = (fields or ""):gsub("\r\n\r\n$", "\n")
  return (s:gsub("\n$", ""))
end

--- The value match_field tests: the field text without "Name: ".
function M.field_value(text)
  return (text:gsub("^[^:]*: ?(.*)$", "%1"))
end

return M
