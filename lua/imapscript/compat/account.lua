-- compat/account.lua — imapfilter's IMAP{} accounts on imapscript accounts: settings from
-- the account table and `options`, the password prompt, listing and managing mailboxes.
local core = require "imapscript.core"
local log = require "imapscript.log"
local account = require "imapscript.account"
local ctx = require "imapscript.compat.context"
local opt = require "imapscript.compat.options"
local aux = require "imapscript.compat.auxiliary"
local Mailbox = require "imapscript.compat.mailbox"
log.internal(debug.getinfo(1, "S").source)

local M = {}
local methods = {}
local Account = { __name = "imapfilter.account" }

local function check(arg, want, what, optional)
  if arg == nil and optional then return end
  if type(arg) ~= want then
    error(string.format("IMAP: %s: %s argument expected, got %s", what, want, type(arg)), 3)
  end
end

-- Settings the account takes from `options` when it connects (the config may set options
-- after IMAP{}, as imapfilter reads them at login).
local function apply_options(self)
  local n = rawget(self, "_native")
  local o, cfg, spec = ctx.options, n.cfg, rawget(self, "_spec")
  if spec.ssl then
    cfg.tls = "implicit"
  else
    cfg.tls = opt.flag(o, "starttls") and "starttls" or "none"
  end
  cfg.port = spec.port or (spec.ssl and 993 or 143)
  cfg.insecure = not opt.flag(o, "certificates") or nil
  local t = opt.number(o, "timeout")
  cfg.timeout = t > 0 and t or 24 * 3600          -- 0: "block indefinitely"
  M.apply_create(n)
end

-- imapfilter creates a missing destination when a copy to it gets [TRYCREATE] (so only when
-- something is copied), subscribing it with options.subscribe; a search of a mailbox the
-- server will not open prints the server's NO and finds nothing.
function M.apply_create(n)
  n.cfg.create = true
  n.cfg.subscribe = opt.flag(ctx.options, "subscribe")
  n.cfg.missing = "skip"
end

local function prepare(self)
  local n = rawget(self, "_native")
  if n.conn then return n end
  local cfg = n.cfg
  opt.note_ignored(ctx.options)
  apply_options(self)
  if cfg.password == nil and cfg.oauth2 == nil then
    cfg.password = aux.get_password("Enter password for " .. rawget(self, "_string") .. ": ")
    if cfg.password == nil then
      error(core.error("auth", rawget(self, "_string") .. ": no password given"), 0)
    end
  end
  return n
end
M.prepare = prepare

--- IMAP { server=, username=, password=, oauth2=, port=, ssl= } (also imap{}, Account{}).
-- imapscript extensions, ignored by imapfilter: ca_file=, fingerprint=, allow_plaintext=.
function M.new(t)
  if type(t) ~= "table" then error("IMAP: table argument expected, got " .. type(t), 2) end
  check(t.server, "string", "server")
  check(t.username, "string", "username", t.oauth2 ~= nil)
  check(t.password, "string", "password", true)
  check(t.oauth2, "string", "oauth2", true)
  check(t.port, "number", "port", true)
  check(t.ssl, "string", "ssl", true)
  check(t.ca_file, "string", "ca_file", true)
  check(t.fingerprint, "string", "fingerprint", true)
  check(t.allow_plaintext, "boolean", "allow_plaintext", true)
  local label = (t.username or "?") .. "@" .. t.server
  -- oauth2: an access token for XOAUTH2, as imapfilter uses it; with a password too, the
  -- password logs in where the server offers no XOAUTH2.
  local n = account.new {
    host = t.server, user = t.username, password = t.password, label = label,
    ca_file = t.ca_file, fingerprint = t.fingerprint, create = true, oauth2 = t.oauth2,
    allow_plaintext = t.allow_plaintext,
    auth = t.oauth2 and (t.password and { "xoauth2", "scram-sha-256", "scram-sha-1", "plain", "login" }
      or "xoauth2") or nil,
  }
  local self = setmetatable({
    _type = "account",
    _string = label,
    _account = { server = t.server, username = t.username, port = tostring(t.port or (t.ssl and 993 or 143)),
                 ssl = t.ssl },
    _native = n,
    _spec = { port = t.port, ssl = t.ssl, oauth2 = t.oauth2 },
    _boxes = {},
  }, Account)
  ctx.account_of[n] = self
  ctx.accounts[#ctx.accounts + 1] = self
  apply_options(self)
  return self
end

function Account.__index(self, key)
  local m = methods[key]
  if m ~= nil then return m end
  if type(key) == "string" and key:sub(1, 1) ~= "_" then
    local boxes = rawget(self, "_boxes")
    local b = boxes[key]
    if not b then
      b = Mailbox.new(self, key, rawget(self, "_native"):mailbox(key))
      boxes[key] = b
    end
    return b
  end
end

function Account.__tostring(self) return "imapfilter account " .. rawget(self, "_string") end

local function name_arg(name, what)
  if type(name) ~= "string" then
    error(string.format("%s: string argument expected, got %s", what, type(name)), 3)
  end
end

-- The folder prefix imapfilter puts before a listing pattern.
local function prefix(folder)
  if folder == nil or folder == "" or folder == "/" then return "" end
  return folder .. "/"
end

-- LIST or LSUB: mailboxes (selectable) and folders (may hold mailboxes), as imapfilter
-- splits them, names with "/".
local function listing(self, folder, pattern, lsub)
  if folder ~= nil then name_arg(folder, lsub and "list_subscribed" or "list_all") end
  if pattern ~= nil then name_arg(pattern, lsub and "list_subscribed" or "list_all") end
  local n = prepare(self)
  local pre = prefix(folder)
  local want = pre .. (pattern or (lsub and "*" or "%"))
  -- The listing, and (in the same round trip) every mailbox below the folder: the server
  -- does not say \HasChildren when asked for special-use attributes, so children are
  -- found by name. A folder is a mailbox that has children, as imapfilter counts them.
  n:flush()
  local conn = n:_connection()
  local h = lsub and conn:lsub("", n:_wire_name(want)) or conn:list("", n:_wire_name(want))
  local hall = conn:list("", n:_wire_name(pre .. "*"))
  conn:wait()
  local list, err = h:result()
  if not list then error(err, 0) end
  local all = hall:result() or {}
  local function script_name(e)
    local name = e.name
    if e.delimiter and e.delimiter ~= "/" and e.delimiter ~= "" then
      name = name:gsub("%" .. e.delimiter, "/")
    end
    return name
  end
  local parents = {}
  for _, e in ipairs(all) do
    local name = script_name(e)
    for i = #name, 1, -1 do
      if name:sub(i, i) == "/" then parents[name:sub(1, i - 1)] = true end
    end
  end
  local boxes, folders = {}, {}
  for _, e in ipairs(list) do
    local name = script_name(e)
    local attrs = {}
    for _, f in ipairs(e.flags or {}) do attrs[f:upper()] = true end
    -- \NonExistent (LIST-EXTENDED) implies \Noselect.
    if not attrs["\\NOSELECT"] and not attrs["\\NONEXISTENT"] then boxes[#boxes + 1] = name end
    if not attrs["\\NOINFERIORS"] and (parents[name] or attrs["\\HASCHILDREN"]) then
      if name ~= folder and name ~= pre then folders[#folders + 1] = name end
    end
  end
  return boxes, folders
end

--- acct:list_all([folder [, mailbox]]): mailboxes, folders.
function methods.list_all(self, folder, pattern) return listing(self, folder, pattern, false) end

--- acct:list_subscribed([folder [, mailbox]]): subscribed mailboxes, folders.
function methods.list_subscribed(self, folder, pattern) return listing(self, folder, pattern, true) end

local function info(fmt, ...)
  if opt.flag(ctx.options, "info") then print(string.format(fmt, ...)) end
end

-- Runs the native account method `verb` (create, delete, ...). A mailbox the server refuses
-- to change is what imapfilter reports with the server's NO and a false return; the
-- config carries on. Returns true when it was done.
local function change(n, verb, ...)
  local ok, err = pcall(n[verb], n, ...)
  if ok then return true end
  if type(err) ~= "table" or err.kind ~= "no" then error(err, 0) end
  log.warn(string.format("%s: %s", log.where() or "?", tostring(err.message)))
  return false
end

function methods.create_mailbox(self, name)
  name_arg(name, "create_mailbox")
  if not change(prepare(self), "create", name) then return false end
  info("Created mailbox %s/%s.", rawget(self, "_string"), name)
  return true
end

function methods.delete_mailbox(self, name)
  name_arg(name, "delete_mailbox")
  local n = prepare(self)
  n:flush()
  -- As imapfilter does: the mailbox is closed first when it is the selected one.
  if n.conn and n.selecting == n:_wire_name(name) then
    n:_now("close " .. name, function(conn) return conn:close_mailbox() end)
    n:_deselect()
  end
  if not change(n, "delete", name) then return false end
  info("Deleted mailbox %s/%s.", rawget(self, "_string"), name)
  return true
end

function methods.rename_mailbox(self, old, new)
  name_arg(old, "rename_mailbox")
  name_arg(new, "rename_mailbox")
  local n = prepare(self)
  if not change(n, "rename", old, new) then return false end
  info("Renamed mailbox %s/%s to %s/%s.", rawget(self, "_string"), old, rawget(self, "_string"), new)
  return true
end

function methods.subscribe_mailbox(self, name)
  name_arg(name, "subscribe_mailbox")
  if not change(prepare(self), "subscribe", name) then return false end
  info("Subscribed mailbox %s/%s.", rawget(self, "_string"), name)
  return true
end

function methods.unsubscribe_mailbox(self, name)
  name_arg(name, "unsubscribe_mailbox")
  if not change(prepare(self), "unsubscribe", name) then return false end
  info("Unsubscribed mailbox %s/%s.", rawget(self, "_string"), name)
  return true
end

--- acct:login(), acct:logout() (imapfilter 2.8 aliases of its internal login/logout).
function methods.login(self)
  prepare(self):_connection()
  return true
end

function methods.logout(self)
  local n = rawget(self, "_native")
  n:flush()
  if n.conn then
    n.conn:logout()
    n.conn = nil
    n:_deselect()
  end
  return true
end

M.is_account = function(v) return getmetatable(v) == Account end
return M
