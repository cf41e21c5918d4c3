-- extensions.lua — commands beyond searches and actions: any raw command (acct:command,
-- box:command), and the extensions built on it: QUOTA, ACL, NAMESPACE, ID, UNSELECT, SPECIAL-USE,
-- METADATA (metadata.lua).
local core = require "imapscript.core"
local log = require "imapscript.log"
local settings = require "imapscript.settings"
log.internal(debug.getinfo(1, "S").source)

local M = { account = {}, mailbox = {} }
local A, B = M.account, M.mailbox

local function usage(msg, level)
  error(core.error("usage", msg), (level or 1) + 1)
end

-- Verbs that only read: a dry run sends them, and plans the others.
local read_only = {}
for v in ([[CAPABILITY NOOP CHECK LIST LSUB XLIST STATUS SEARCH FETCH SORT THREAD ESEARCH
    GETQUOTA GETQUOTAROOT GETACL LISTRIGHTS MYRIGHTS NAMESPACE ID GETMETADATA]]):gmatch("%S+") do
  read_only[v] = true
end

local function is_read_only(name)
  return read_only[name:upper():gsub("^UID%s+", "")] or false
end

-- The arguments with mailbox objects turned into mailbox names the server understands.
local function convert(acct, v)
  if type(v) == "table" then
    if getmetatable(v) and v.account and v._wire then
      if v.account ~= acct then usage("command: a mailbox of another account", 4) end
      return core.mailbox_arg(v:_wire())
    end
    if getmetatable(v) then return v end
    local out = {}
    for i = 1, #v do out[i] = convert(acct, v[i]) end
    return out
  end
  return v
end

-- Sends name args on acct (after its queue; in box, selected first in the same round trip)
-- and returns the raw result, or raises the command's error.
local function run(acct, box, name, args)
  if type(name) ~= "string" then usage("command: want a command name", 3) end
  if settings.dry_run and not is_read_only(name) then
    acct:flush()
    log.plan({ action = "command", account = acct.label, mailbox = box and box.name, command = name },
      string.format("command %s%s", name, box and (" in " .. box.name) or ""))
    return { status = "OK", planned = true, text = "", untagged = {} }
  end
  local conv = convert(acct, args)
  acct:flush()
  local conn = acct:_connection()
  local sel = box and acct:_select(conn, box)
  local h = conn:command(name, conv)
  conn:wait(h)
  if sel then
    local ok, err = sel:result()
    if not ok then
      acct:_deselect()
      error(err, 0)
    end
  end
  local v, err = h:result()
  if v == nil then error(err, 0) end
  return v
end
M.run = run

--- acct:command(name, ...): any IMAP command; returns {status=, code=, code_text=, text=,
--- untagged={...}}.
function A.command(self, name, ...)
  return run(self, nil, name, table.pack(...))
end

--- box:command(name, ...): the same, with box selected first.
function B.command(self, name, ...)
  return run(self.account, self, name, table.pack(...))
end

-- Raises a "capability" error unless the account's server announced cap.
local function need(acct, cap, what)
  if not acct:_connection():has(cap) then
    error(core.error("capability", string.format("%s: %s: the server does not offer %s",
      acct.label, what, cap), { command = what }), 3)
  end
end

-- The untagged replies called name.
local function replies(res, name)
  local out = {}
  for _, u in ipairs(res.untagged) do
    if u.name == name then out[#out + 1] = u end
  end
  return out
end

-- {resource = {usage=, limit=}} from a QUOTA list (STORAGE 10 512 MESSAGE 1 100).
local function resources(list)
  local out = {}
  for i = 1, #list - 2, 3 do
    local name, usage_, limit = list[i], list[i + 1], list[i + 2]
    if type(name) == "string" and math.type(usage_) == "integer" and math.type(limit) == "integer" then
      out[name:lower()] = { usage = usage_, limit = limit }
    end
  end
  return out
end

--- acct:quota([box]): the quota roots of box (INBOX by default), each
--- {root=, storage={usage=, limit=}, message={...}}; STORAGE counts KiB.
function A.quota(self, box)
  need(self, "QUOTA", "GETQUOTAROOT")
  box = box or self.INBOX
  if type(box) == "string" then box = self:mailbox(box) end
  local res = run(self, nil, "GETQUOTAROOT", { box })
  local by_root, out = {}, {}
  for _, q in ipairs(replies(res, "QUOTA")) do
    if type(q[1]) == "string" and type(q[2]) == "table" then by_root[q[1]] = resources(q[2]) end
  end
  for _, r in ipairs(replies(res, "QUOTAROOT")) do
    for i = 2, #r do
      local entry = { root = r[i] }
      for k, v in pairs(by_root[r[i]] or {}) do entry[k] = v end
      out[#out + 1] = entry
    end
  end
  return out
end

--- acct:set_quota(root, {storage = KiB, message = n}): SETQUOTA; returns the root's new
--- quota as acct:quota() shows it.
function A.set_quota(self, root, limits)
  if type(root) ~= "string" then usage("set_quota: want a quota root name", 2) end
  if type(limits) ~= "table" then usage("set_quota: want a table of limits, e.g. {storage = 1024}", 2) end
  need(self, "QUOTA", "SETQUOTA")
  local names, list = {}, {}
  for k, v in pairs(limits) do
    if type(k) ~= "string" or not k:match("^[%a%-]+$") or math.type(v) ~= "integer" or v < 0 then
      usage(string.format("set_quota: %s = %s is not a resource name and a whole number",
        tostring(k), tostring(v)), 2)
    end
    names[#names + 1] = k
  end
  table.sort(names)
  for _, k in ipairs(names) do
    list[#list + 1] = core.atom(k:upper())
    list[#list + 1] = limits[k]
  end
  local res = run(self, nil, "SETQUOTA", { root, list })
  local entry, q = { root = root }, replies(res, "QUOTA")[1]
  for k, v in pairs(q and resources(q[2] or {}) or {}) do entry[k] = v end
  return entry
end

--- acct:namespaces(): {personal = {{prefix=, delimiter=}, ...}, other = {...}, shared = {...}};
--- prefixes as the script names mailboxes ("/" separated, UTF-8).
function A.namespaces(self)
  need(self, "NAMESPACE", "NAMESPACE")
  local res = run(self, nil, "NAMESPACE", {})
  local ns = replies(res, "NAMESPACE")[1] or {}
  local out = {}
  for i, kind in ipairs { "personal", "other", "shared" } do
    local list = {}
    for _, n in ipairs(type(ns[i]) == "table" and ns[i] or {}) do
      if type(n) == "table" and type(n[1]) == "string" then
        local prefix, delim = n[1], n[2] or nil
        local decoded = core.mutf7_decode(prefix)
        prefix = decoded or prefix
        if delim and delim ~= "/" and delim ~= "" then prefix = prefix:gsub("%" .. delim, "/") end
        list[#list + 1] = { prefix = prefix, delimiter = delim or nil }
      end
    end
    out[kind] = list
  end
  return out
end

--- acct:id([fields]): sends our ID (fields such as {name = "imapscript", version = "0.1"}),
--- returns the server's as a table (empty when it says NIL).
function A.id(self, fields)
  need(self, "ID", "ID")
  local arg = core.atom "NIL"
  if fields ~= nil then
    if type(fields) ~= "table" then usage("id: want a table of fields", 2) end
    local names = {}
    for k, v in pairs(fields) do
      if type(k) ~= "string" or type(v) ~= "string" then usage("id: fields are strings", 2) end
      names[#names + 1] = k
    end
    table.sort(names)
    arg = {}
    for _, k in ipairs(names) do arg[#arg + 1] = k; arg[#arg + 1] = fields[k] end
    if #arg == 0 then arg = core.atom "NIL" end
  end
  local res = run(self, nil, "ID", { arg })
  local out = {}
  local r = replies(res, "ID")[1]
  if r and type(r[1]) == "table" then
    for i = 1, #r[1] - 1, 2 do
      if type(r[1][i]) == "string" then out[r[1][i]:lower()] = r[1][i + 1] or nil end
    end
  end
  return out
end

--- acct:unselect(): leaves the selected mailbox without expunging anything (UNSELECT, or
--- EXAMINE then CLOSE on servers without it). Returns true.
function A.unselect(self)
  self:flush()
  if not self.selecting or not self.conn then return true end
  local conn = self.conn
  if not conn:has("UNSELECT") then
    -- CLOSE expunges only a mailbox opened read-write: reopen read-only first.
    local h = conn:select(self.selecting, true)
    conn:wait(h)
    local ok, err = h:result()
    if not ok then self:_deselect(); error(err, 0) end
  end
  local h = conn:has("UNSELECT") and conn:unselect() or conn:close_mailbox()
  self:_deselect()
  local ok, err = h:result()
  if not ok then error(err, 0) end
  return true
end

--- acct:special(use): the mailbox marked with the special use ("\\Trash", "\\Archive", ...),
--- or nil. One LIST per account, remembered.
function A.special(self, use)
  if type(use) ~= "string" or not use:match("^\\%a+$") then
    usage("special: want a special use such as \"\\\\Archive\"", 2)
  end
  if not rawget(self, "_special_uses") then
    local map = {}
    for _, m in ipairs(self:mailboxes()) do
      for _, f in ipairs(m.flags) do
        if not map[f:upper()] then map[f:upper()] = m.name end
      end
    end
    rawset(self, "_special_uses", map)
  end
  local name = self._special_uses[use:upper()]
  return name and self:mailbox(name) or nil
end

--- acct:create(name, {use = "\\Archive"}): CREATE with a special use (CREATE-SPECIAL-USE).
function M.create_special(acct, name, use)
  if type(use) ~= "string" or not use:match("^\\%a+$") then
    usage("create: use must be a special use such as \"\\\\Archive\"", 3)
  end
  need(acct, "CREATE-SPECIAL-USE", "CREATE")
  run(acct, nil, "CREATE", { acct:mailbox(name), { core.atom "USE", { core.atom(use) } } })
  acct.exists[name] = true
  rawset(acct, "_special_uses", nil)
  if not settings.dry_run then log.action(string.format("created %s (%s)", name, use)) end
  return true
end

-- Whether a LIST entry names a mailbox that can be selected (and so has a status).
local function selectable(e)
  for _, f in ipairs(e.flags or {}) do
    local u = f:upper()
    if u == "\\NOSELECT" or u == "\\NONEXISTENT" then return false end
  end
  return true
end

--- The LIST entries of pattern (server's delimiter), each selectable one with its status={...}
--- (as box:status() gives it): one LIST-STATUS command (RFC 5819), else a LIST and then one
--- STATUS per mailbox, pipelined (two round trips however many mailboxes). A mailbox whose
--- STATUS the server refuses has no status, as LIST-STATUS leaves it.
function M.list_status(acct, pattern)
  local conn = acct:_connection()
  if conn:has("LIST-STATUS") then
    return acct:_now("mailboxes", function(c) return c:list("", pattern, true) end)
  end
  local list = acct:_now("mailboxes", function(c) return c:list("", pattern) end)
  local handles = {}
  for i, e in ipairs(list) do
    if selectable(e) then handles[i] = conn:status(e.name) end
  end
  conn:wait()
  for i, h in pairs(handles) do
    local st, err = h:result()
    if st then
      list[i].status = st
    elseif err.kind ~= "no" and err.kind ~= "bad" then
      error(err, 0)
    end
  end
  return list
end

--- box:acl(): {[identifier] = rights} (GETACL).
function B.acl(self)
  need(self.account, "ACL", "GETACL")
  local res = run(self.account, nil, "GETACL", { self })
  local out = {}
  for _, r in ipairs(replies(res, "ACL")) do
    for i = 2, #r - 1, 2 do out[r[i]] = r[i + 1] end
  end
  return out
end

--- box:my_rights(): the rights the logged-in user has on box, e.g. "lrswipkxtecda" (MYRIGHTS).
function B.my_rights(self)
  need(self.account, "ACL", "MYRIGHTS")
  local res = run(self.account, nil, "MYRIGHTS", { self })
  local r = replies(res, "MYRIGHTS")[1]
  return r and r[2] or ""
end

local function check_who(who, what)
  if type(who) ~= "string" or who == "" then usage(what .. ": want an identifier such as \"bob\"", 3) end
end

--- box:set_acl(who, rights): SETACL ("+r" adds, "-r" removes, "lr" replaces).
function B.set_acl(self, who, rights)
  check_who(who, "set_acl")
  if type(rights) ~= "string" then usage("set_acl: want rights such as \"lrs\"", 2) end
  need(self.account, "ACL", "SETACL")
  run(self.account, nil, "SETACL", { self, who, rights })
  if not settings.dry_run then log.action(string.format("set ACL %s %s on %s", who, rights, self.name)) end
  return true
end

--- box:delete_acl(who): DELETEACL.
function B.delete_acl(self, who)
  check_who(who, "delete_acl")
  need(self.account, "ACL", "DELETEACL")
  run(self.account, nil, "DELETEACL", { self, who })
  if not settings.dry_run then log.action(string.format("deleted ACL %s on %s", who, self.name)) end
  return true
end

-- acct:metadata, set_metadata and the mailbox's (metadata.lua) are methods like these.
local metadata = require "imapscript.metadata"
for name, f in pairs(metadata.account) do A[name] = f end
for name, f in pairs(metadata.mailbox) do B[name] = f end

return M
