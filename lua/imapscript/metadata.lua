-- metadata.lua — METADATA (RFC 5464): annotations of the server and of mailboxes, read with
-- GETMETADATA and written with SETMETADATA, sent through the raw command of extensions.lua.
local core = require "imapscript.core"
local log = require "imapscript.log"
local settings = require "imapscript.settings"
log.internal(debug.getinfo(1, "S").source)

local M = { account = {}, mailbox = {} }

-- extensions.lua installs this module's methods: it is required here only when they run.
local function ext() return require "imapscript.extensions" end

local function usage(msg, level)
  error(core.error("usage", msg), level + 1)
end

-- Checks one entry name as RFC 5464 section 3.2 allows it: "/private/..." or "/shared/..."
-- (the bare roots only where a whole subtree is asked for), printable ASCII without blanks,
-- "*" or "%" (so it goes as an atom), no "//", no trailing "/".
local function check_entry(e, what, roots_ok, level)
  local ok = type(e) == "string" and (e:match("^/private/.") or e:match("^/shared/.")
    or (roots_ok and (e == "/private" or e == "/shared")))
    and not e:find("[\0-\32\127-\255*%%]") and not e:find("//", 1, true) and e:sub(-1) ~= "/"
  if not ok then
    usage(string.format("%s: %s is not an entry name such as \"/private/comment\" or " ..
      "\"/shared/vendor/example/x\"", what, type(e) == "string" and string.format("%q", e) or
      ("a " .. type(e))), level + 1)
  end
end

-- Raises a "capability" error unless the server offers what entries of target need:
-- METADATA (or METADATA-SERVER for the server's own).
local function need(acct, box, what)
  local conn = acct:_connection()
  if conn:has("METADATA") or (not box and conn:has("METADATA-SERVER")) then return end
  error(core.error("capability", string.format("%s: %s: the server does not offer %s", acct.label,
    what, box and "METADATA" or "METADATA or METADATA-SERVER"), { command = what }), 3)
end

-- What the METADATA response codes mean, for error messages.
local refusals = {
  TOOMANY = function() return "the server allows no more entries" end,
  MAXSIZE = function(n) return string.format("the value is larger than the server's limit of %s bytes", n) end,
  NOPRIVATE = function() return "the server keeps no private entries" end,
}

-- Runs a METADATA command. Its errors name the mailbox; a refusal with a [METADATA ...] code
-- says what it means and carries metadata = "toomany"|"maxsize"|"noprivate" (and maxsize = n).
local function run(acct, box, verb, args)
  local ok, err = pcall(ext().run, acct, nil, verb, args)
  if ok then return err end
  if type(err) ~= "table" or (err.kind ~= "no" and err.kind ~= "bad") then error(err, 0) end
  local where = verb .. (box and (" " .. box.name) or "")
  err.mailbox = box and box.name or nil
  local reply = err.message:match("^.-: " .. verb .. ": (.*)$") or err.message
  local word, arg = (err.code_text or ""):match("^(%S+)%s*(%S*)")
  local explain = err.code == "METADATA" and word and refusals[word:upper()]
  if explain then
    err.metadata = word:lower()
    if word:upper() == "MAXSIZE" then err.maxsize = math.tointeger(tonumber(arg)) end
    err.message = string.format("%s: %s: %s (%s)", acct.label, where, explain(arg), reply)
  else
    err.message = string.format("%s: %s: %s", acct.label, where, reply)
  end
  error(err, 0)
end

-- target:metadata(entries [, {depth = 0|1|"infinity", maxsize = n}]) for the server (box nil)
-- or a mailbox.
local function get(acct, box, entries, opts)
  local what = "metadata"
  local single = type(entries) == "string" and opts == nil
  local list = type(entries) == "table" and entries or { entries }
  if #list == 0 then usage(what .. ": want an entry name or a list of them", 3) end
  local options = {}
  if opts ~= nil then
    if type(opts) ~= "table" then usage(what .. ": options must be a table {depth =, maxsize =}", 3) end
    for k in pairs(opts) do
      if k ~= "depth" and k ~= "maxsize" then usage(what .. ": unknown option " .. tostring(k), 3) end
    end
    if opts.maxsize ~= nil then
      if math.type(opts.maxsize) ~= "integer" or opts.maxsize < 0 then
        usage(what .. ": maxsize must be a whole number of bytes", 3)
      end
      options[#options + 1] = core.atom "MAXSIZE"
      options[#options + 1] = opts.maxsize
    end
    if opts.depth ~= nil then
      local d = ({ [0] = "0", [1] = "1", infinity = "infinity" })[opts.depth]
      if not d then usage(what .. ": depth must be 0, 1 or \"infinity\"", 3) end
      options[#options + 1] = core.atom "DEPTH"
      options[#options + 1] = core.atom(d)
    end
  end
  local names = {}
  for i, e in ipairs(list) do
    check_entry(e, what, opts and opts.depth ~= nil, 3)
    names[i] = core.atom(e)
  end
  need(acct, box, "GETMETADATA")
  local args = {}
  if #options > 0 then args[1] = options end
  args[#args + 1] = box or ""
  args[#args + 1] = names
  local res = run(acct, box, "GETMETADATA", args)
  local out = {}
  for _, u in ipairs(res.untagged) do
    if u.name == "METADATA" and type(u[2]) == "table" then
      for i = 1, #u[2] - 1, 2 do
        local e, v = u[2][i], u[2][i + 1]
        if type(e) == "string" and type(v) == "string" then out[e] = v end
      end
    end
  end
  if single then return out[entries] end
  local longest = res.code == "METADATA" and (res.code_text or ""):match("^LONGENTRIES%s+(%d+)")
  return out, longest and math.tointeger(tonumber(longest)) or nil
end

-- target:set_metadata(entry, value) / target:set_metadata{[entry] = value or false}.
local function set(acct, box, entry, value, nargs)
  local what = "set_metadata"
  local pairs_ = {}
  if type(entry) == "table" then
    if nargs > 1 then usage(what .. ": give a table of entries, or an entry and its value", 3) end
    for e, v in pairs(entry) do pairs_[#pairs_ + 1] = { e, v } end
    table.sort(pairs_, function(a, b) return tostring(a[1]) < tostring(b[1]) end)
    if #pairs_ == 0 then usage(what .. ": want at least one entry", 3) end
  else
    if nargs < 2 then usage(what .. ": want a value, or nil to delete the entry", 3) end
    pairs_[1] = { entry, value }
  end
  local list, names = {}, {}
  for _, p in ipairs(pairs_) do
    local e, v = p[1], p[2]
    check_entry(e, what, false, 3)
    if v ~= nil and v ~= false and type(v) ~= "string" then
      usage(string.format("%s: the value of %s must be a string (nil or false deletes it)", what, e), 3)
    end
    if type(v) == "string" and v:find("\0", 1, true) then
      usage(string.format("%s: the value of %s holds a NUL byte", what, e), 3)
    end
    list[#list + 1] = core.atom(e)
    list[#list + 1] = type(v) == "string" and v or core.atom "NIL"
    names[#names + 1] = e
  end
  need(acct, box, "SETMETADATA")
  run(acct, box, "SETMETADATA", { box or "", list })
  if not settings.dry_run then
    log.action(string.format("set metadata %s on %s", table.concat(names, " "),
      box and box.name or "the server"))
  end
  return true
end

--- acct:metadata(entry | {entries} [, {depth =, maxsize =}]): the server's annotations.
function M.account.metadata(self, entries, opts) return get(self, nil, entries, opts) end

--- acct:set_metadata(entry, value | nil) or acct:set_metadata{[entry] = value | false}.
function M.account.set_metadata(self, entry, ...)
  return set(self, nil, entry, ..., select("#", ...) + 1)
end

--- box:metadata(...), box:set_metadata(...): the same for a mailbox.
function M.mailbox.metadata(self, entries, opts) return get(self.account, self, entries, opts) end

function M.mailbox.set_metadata(self, entry, ...)
  return set(self.account, self, entry, ..., select("#", ...) + 1)
end

return M
