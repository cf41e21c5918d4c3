-- account.lua — an IMAP account: its settings, its connection (made on first use and
-- reused), its mailboxes, and its queue of actions waiting for the next flush.
local core = require "imapscript.core"
local log = require "imapscript.log"
local secret = require "imapscript.secret"
local oauth2 = require "imapscript.oauth2"
local Mailbox = require "imapscript.mailbox"
local batch = require "imapscript.batch"
local create = require "imapscript.create"
local settings = require "imapscript.settings"
local extensions = require "imapscript.extensions"
local tasks = require "imapscript.tasks"
local journal = require "imapscript.journal"
local resolve = require "imapscript.resolve"
local state = require "imapscript.state"
local cache = require "imapscript.cache"
log.internal(debug.getinfo(1, "S").source)

local Account = {}
local methods = {}
Account.__name = "imapscript.account"

local M = { all = {} }     -- every account made, flushed and closed at the end of the script

local function usage(msg)
  error(core.error("usage", msg), 3)
end

local known_keys = {
  host = "string", port = "number", user = "string", password = "any", tls = "string",
  ca_file = "string", fingerprint = "string", insecure = "boolean", create = "boolean",
  expunge = "string", timeout = "number", auth = "any", label = "string",
  compress = "boolean", oauth2 = "any", allow_plaintext = "boolean", subscribe = "boolean",
  missing = "string", max_connections = "number", tunnel = "string",
  sieve_host = "string", sieve_port = "number",      -- ManageSieve (sieve/install.lua)
  max_line = "number", max_body = "number",          -- longest reply line; text a match reads
}

-- A tunnel's stream is the command's: TLS only when asked for (when the command carries TLS).
local function tls_of(cfg)
  return cfg.tls or (cfg.tunnel and "none" or "implicit")
end

--- imap.account { host=, port=, user=, password=, oauth2=, tls=, ca_file=, fingerprint=,
--- insecure=, create=, subscribe=, missing=, expunge=, timeout=, auth=, allow_plaintext=,
--- tunnel=, max_line=, max_body= }
function M.new(cfg)
  if type(cfg) ~= "table" then usage("imap.account: want a table of settings") end
  for k, v in pairs(cfg) do
    local want = known_keys[k]
    if not want then usage(string.format("imap.account: unknown setting %q", tostring(k))) end
    if want ~= "any" and type(v) ~= want then
      usage(string.format("imap.account: %s must be a %s, not a %s", k, want, type(v)))
    end
  end
  if not cfg.host and not cfg.tunnel then usage("imap.account: host (or tunnel) is required") end
  if cfg.tunnel == "" then usage("imap.account: tunnel is an empty command") end
  local tls = tls_of(cfg)
  if tls ~= "implicit" and tls ~= "starttls" and tls ~= "none" then
    usage(string.format("imap.account: tls must be \"implicit\", \"starttls\" or \"none\", not %q", tls))
  end
  if cfg.expunge and cfg.expunge ~= "uids" and cfg.expunge ~= "all" then
    usage("imap.account: expunge must be \"uids\" or \"all\"")
  end
  if cfg.auth ~= nil and type(cfg.auth) ~= "string" and type(cfg.auth) ~= "table" then
    usage("imap.account: auth must be a method name or a list of them")
  end
  if cfg.oauth2 ~= nil then oauth2.check(cfg.oauth2, cfg.label or cfg.host or "tunnel") end
  if cfg.missing and cfg.missing ~= "error" and cfg.missing ~= "skip" then
    usage("imap.account: missing must be \"error\" or \"skip\"")
  end
  for _, k in ipairs { "max_line", "max_body" } do
    if cfg[k] ~= nil and (math.type(cfg[k]) ~= "integer" or cfg[k] < 1) then
      usage(string.format("imap.account: %s must be a whole number of bytes", k))
    end
  end
  local self = setmetatable({
    cfg = cfg,
    label = cfg.label or string.format("%s@%s", cfg.user or "?", cfg.host or "tunnel"),
    queue = {},
    boxes = {},
    conn = nil,
    closed = false,
    exists = {},         -- mailbox names known to exist, for create = true (create.lua)
    listing = nil,       -- the pending LIST that tells them
    uidvalidity = {},    -- mailbox name -> UIDVALIDITY seen by this connection
  }, Account)
  M.all[#M.all + 1] = self
  return self
end

-- Fields the account keeps that may be nil: reading them must not make a mailbox.
local nil_fields = { conn = true, selecting = true, selecting_ro = true, listing = true,
                     dead = true, reselect = true }

function Account.__index(self, key)
  local m = methods[key]
  if m ~= nil then return m end
  if type(key) == "string" and not nil_fields[key] then return methods.mailbox(self, key) end
end

function Account.__tostring(self) return "imap.account(" .. self.label .. ")" end

function Account.__close(self) self:logout() end

-- Tab completion at the -i prompt (complete.lua): the methods, then the mailboxes known so
-- far; a connected account lists its mailboxes once (one LIST), remembered in `listed`.
function Account.__complete(self, listed)
  local names = {}
  for k in pairs(methods) do names[#names + 1] = k end
  if self.conn and not listed[self] then
    listed[self] = true
    pcall(methods.mailboxes, self)
  end
  for k in pairs(self.exists) do names[#names + 1] = k end
  for k in pairs(self.boxes) do names[#names + 1] = k end
  return names
end

-- Under the stock lua5.4 interpreter nothing calls imap._finish: a finalizer sends what is
-- queued when the state closes (lua_close, also after a script error). Lua runs finalizers in
-- the reverse order objects got them, so the sentinel is made anew after every connection and
-- every queued operation: it then runs while they, their queries and sets are still alive.
local sentinel_id = 0
local function arm()
  sentinel_id = sentinel_id + 1
  local id = sentinel_id
  M.sentinel = setmetatable({}, { __gc = function()
    if id ~= sentinel_id or M.finished then return end
    local ok, err = pcall(M.finish_all)
    journal.finish(ok and "done" or "failed")
    cache.finish(ok)
    if not ok then
      io.stderr:write("imapscript: ", tostring(type(err) == "table" and err.message or err), "\n")
    end
  end })
end

cache.on_mirror = arm

--- A new connection with the account's settings (the watcher's listeners use more than one).
function methods._connect(self)
  if self.closed then
    error(core.error("usage", self.label .. ": account used after logout"), 0)
  end
  if settings.accounts_only then
    error(core.error("stop", self.label .. ": reading the script's accounts only"), 0)
  end
  local cfg = self.cfg
  local token, cached
  if cfg.oauth2 ~= nil then token, cached = oauth2.token(self.label, cfg.user, cfg.oauth2) end
  local function connect()
    return core.connect {
      host = cfg.host, port = cfg.port, tls = tls_of(cfg), tunnel = cfg.tunnel, ca_file = cfg.ca_file,
      fingerprint = cfg.fingerprint, insecure = cfg.insecure, user = cfg.user,
      password = secret.reveal(cfg.password, self.label), token = token, auth = cfg.auth,
      allow_plaintext = cfg.allow_plaintext, timeout = cfg.timeout, label = self.label,
      trace = settings.trace, compress = cfg.compress, max_line = cfg.max_line,
      warn = function(msg) log.warn(msg) end,
      qresync = cache.wanted(),
    }
  end
  local ok, conn = pcall(connect)
  if not ok and cached and type(conn) == "table" and conn.kind == "auth" then
    -- Revoked or expired before its time: one refresh, one more try.
    log.info(self.label .. ": the server refused the cached OAuth2 token; refreshing it")
    token = oauth2.token(self.label, cfg.user, cfg.oauth2, true)
    ok, conn = pcall(connect)
  end
  if not ok then error(conn, 0) end
  log.info(self.label .. ": connected")
  return conn
end

--- The live connection, made on first use. A new one first resolves what earlier runs (or
--- this one, before a drop) left unfinished on this account.
function methods._connection(self)
  if self.conn then return self.conn end
  self.conn = methods._connect(self)
  create.learn(self, self.conn)
  if not settings.dry_run then
    local release = state.lock(journal.register(self), self.label)
    local fine, err = pcall(resolve.account, self, M.all)
    release()
    if not fine then
      self:_reset()
      error(err, 0)
    end
  end
  arm()
  return self.conn
end

--- The server's name of a mailbox written with "/" as separator.
function methods._wire_name(self, name)
  if name:upper() == "INBOX" then return "INBOX" end
  local delim = self:_connection():delimiter()
  if delim and delim ~= "/" and delim ~= "" then
    name = name:gsub("/", delim)
  end
  return name
end

--- The script's name of a mailbox the server named with its own delimiter.
function methods._script_name(self, wire)
  local delim = self:_connection():delimiter()
  if delim and delim ~= "/" and delim ~= "" then
    wire = wire:gsub("%" .. delim, "/")
  end
  return wire
end

--- Makes box the selected mailbox unless it already is (EXAMINE in a dry run), its cache
--- brought up to date with it (cache.lua). Returns the SELECT's handle when one was sent, else
--- nil. Pipelined: no wait.
function methods._select(self, conn, box)
  local wire = box:_wire()
  local readonly = settings.dry_run
  if self.selecting == wire and self.selecting_ro == readonly and not self.reselect then return nil end
  self.selecting, self.selecting_ro, self.reselect = wire, readonly, nil
  return cache.select(self, conn, box, wire, readonly)
end

--- The selected mailbox changed behind commands still in flight (an expunge): the next
--- command on it selects it again (batch.lua, Run:changed).
function methods._stale(self) self.reselect = true end

--- Forgets the selected mailbox (after a failed SELECT, or CLOSE).
function methods._deselect(self) self.selecting = nil end

--- acct:mailbox(name): the mailbox object (also acct.INBOX, acct["Lists/lua-l"]).
function methods.mailbox(self, name)
  if type(name) ~= "string" or name == "" then usage("mailbox: want a non-empty name") end
  local key = name:upper() == "INBOX" and "INBOX" or name
  local box = self.boxes[key]
  if not box then
    box = Mailbox.new(self, key)
    self.boxes[key] = box
  end
  return box
end

--- Queues an operation; it goes out at the next flush.
function methods._enqueue(self, op)
  op.where = op.where or log.where()
  self.queue[#self.queue + 1] = op
  arm()
  return op
end

--- Sends every queued operation as pipelined batches and waits for the answers.
function methods.flush(self)
  if #self.queue == 0 then return end
  local ops = self.queue
  self.queue = {}
  local before = log.verbose >= 2 and self:stats()
  batch.run(self, ops)
  if before then
    local after = self:stats()
    log.info(string.format("%s: %d operations cost %d commands, %d round trips, %d bytes out, %d in",
      self.label, #ops, after.commands - before.commands, after.round_trips - before.round_trips,
      after.bytes_out - before.bytes_out, after.bytes_in - before.bytes_in), 2)
  end
end

--- Runs one command now (after the queue): used by calls that read or change
--- mailboxes. Returns the handle's value or raises its error naming `what`.
function methods._now(self, what, send)
  self:flush()
  local conn = self:_connection()
  local h = send(conn)
  conn:wait(h)
  local value, err = h:result()
  if value == nil then
    err.message = string.format("%s: %s", what, err.message)
    error(err, 0)
  end
  return value
end

--- acct:mailboxes([pattern]) or acct:mailboxes { pattern = "*", status = true }:
--- {name=, flags={...}, special_use=[, status={messages=, unseen=, ...}]}, names with "/".
function methods.mailboxes(self, opts)
  local pattern, status = opts, false
  if type(opts) == "table" then
    for k in pairs(opts) do
      if k ~= "pattern" and k ~= "status" then
        usage(string.format("mailboxes: unknown option %q (pattern, status)", tostring(k)))
      end
    end
    pattern, status = opts.pattern, opts.status
  end
  if pattern ~= nil and type(pattern) ~= "string" then usage("mailboxes: pattern must be a string") end
  pattern = pattern or "*"
  local list = status and extensions.list_status(self, self:_wire_name(pattern))
    or self:_now("mailboxes", function(conn) return conn:list("", self:_wire_name(pattern)) end)
  local out = {}
  for _, e in ipairs(list) do
    local name = e.name
    local gone = false
    for _, f in ipairs(e.flags or {}) do gone = gone or f:upper() == "\\NONEXISTENT" end
    if gone then goto next end
    if e.delimiter and e.delimiter ~= "/" and e.delimiter ~= "" then
      name = name:gsub("%" .. e.delimiter, "/")
    end
    local special
    for _, f in ipairs(e.flags or {}) do
      local u = f:upper()
      if u == "\\ARCHIVE" or u == "\\DRAFTS" or u == "\\JUNK" or u == "\\SENT"
          or u == "\\TRASH" or u == "\\ALL" or u == "\\FLAGGED" then
        special = f
      end
    end
    self.exists[name] = true
    out[#out + 1] = { name = name, flags = e.flags or {}, special_use = special, status = e.status }
    ::next::
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

local function mailbox_change(verb, plan_verb)
  return function(self, name, new)
    if type(name) ~= "string" then usage(verb .. ": want a mailbox name") end
    if plan_verb == "rename" and type(new) ~= "string" then usage("rename: want a new name") end
    if settings.dry_run then
      self:flush()
      local text = new and string.format("%s %s -> %s", plan_verb, name, new)
                     or string.format("%s %s", plan_verb, name)
      log.plan({ action = plan_verb, account = self.label, mailbox = name, to = new }, text)
      return true
    end
    self:flush()
    self:_connection()
    if plan_verb == "delete" or plan_verb == "rename" then
      -- Dovecot drops the connection when the selected mailbox goes ("BYE Selected mailbox
      -- was deleted"): leave it first (also when the name of one above it changes).
      -- The session knows what the server has selected, also after this side forgot it.
      local sel, wire = self.conn:selected(), self:_wire_name(name)
      if sel and sel:sub(1, #wire) == wire then
        self.selecting = sel
        self:unselect()
      end
    end
    -- Journaled like the actions, so that --undo can rename back and delete what it created.
    local e = journal.mailbox_entry(self, plan_verb, name, new, log.where())
    local ok, err = pcall(self._now, self, string.format("%s %s", verb, name), function(conn)
      if new then return conn[plan_verb](conn, self:_wire_name(name), self:_wire_name(new)) end
      return conn[plan_verb](conn, self:_wire_name(name))
    end)
    if not ok then
      e:failed(tostring(type(err) == "table" and err.message or err))
      error(err, 0)
    end
    e:done()
    if plan_verb == "create" then self.exists[name] = true
    elseif plan_verb == "delete" or plan_verb == "rename" then
      self.exists[name] = nil
      if new then self.exists[new] = true end
      -- The selected mailbox may be this one (or a child): select anew next time.
      self:_deselect()
    end
    log.action(new and string.format("%s %s -> %s", plan_verb .. "d", name, new)
                   or string.format("%s %s", (plan_verb:gsub("e$", "") .. "ed"), name))
    return true
  end
end
local create = mailbox_change("create", "create")
--- acct:create(name [, {use = "\\Archive"}]): with a special use, CREATE ... (USE (...)).
function methods.create(self, name, opts)
  if opts ~= nil then
    if type(opts) ~= "table" then usage("create: options must be a table") end
    if opts.use ~= nil then return extensions.create_special(self, name, opts.use) end
  end
  return create(self, name)
end
methods.delete = mailbox_change("delete", "delete")
methods.rename = mailbox_change("rename", "rename")
methods.subscribe = mailbox_change("subscribe", "subscribe")
methods.unsubscribe = mailbox_change("unsubscribe", "unsubscribe")

--- acct:capabilities(): the server's capability names, upper-case.
function methods.capabilities(self)
  return self:_connection():capabilities()
end

--- Round trips, commands and bytes so far on this account's connection.
function methods.stats(self)
  if not self.conn then return { commands = 0, bytes_in = 0, bytes_out = 0, round_trips = 0 } end
  return self.conn:stats()
end

--- Drops a broken connection; the next use connects again. Queued operations stay.
function methods._reset(self)
  cache.reset(self)
  if self.conn then pcall(self.conn.logout, self.conn) end
  self.conn, self.selecting = nil, nil
  -- A CREATE queued on the lost connection may never have run; the new one lists anew.
  self.uidvalidity, self.exists, self.listing = {}, {}, nil
end

--- acct:logout(): flushes the queue and logs out. Idempotent.
function methods.logout(self)
  if self.closed then return end
  local ok, err = pcall(methods.flush, self)
  self.closed = true
  if self.conn then
    pcall(cache.close, self)
    self.conn:logout()
    self.conn = nil
  end
  if not ok then error(err, 0) end
end

-- acct:command, quota, set_quota, namespaces, id, unselect, special (extensions.lua).
for name, f in pairs(extensions.account) do methods[name] = f end

-- Runs method on every account, all at once: their commands overlap on the loop. Accounts
-- whose queues move mail between them go one by one afterwards, in creation order, as a
-- transfer needs both connections in a known state. Returns {[account] = error}.
local function each_account(method)
  local linked, alone, fns = {}, {}, {}
  for _, a in ipairs(M.all) do
    for _, op in ipairs(a.queue) do
      if op.dest and op.dest.account ~= a then linked[a], linked[op.dest.account] = true, true end
    end
  end
  for _, a in ipairs(M.all) do
    if not linked[a] then
      alone[#alone + 1] = a
      fns[#fns + 1] = function() method(a) end
    end
  end
  local errors = {}
  for i, err in pairs(tasks.run(fns)) do errors[alone[i]] = err end
  for _, a in ipairs(M.all) do
    if linked[a] then
      local ok, err = pcall(method, a)
      if not ok then errors[a] = err end
    end
  end
  return errors
end

-- The first error in creation order, raised after every account had its turn.
local function raise_first(...)
  for _, a in ipairs(M.all) do
    for i = 1, select("#", ...) do
      local err = select(i, ...)[a]
      if err then error(err, 0) end
    end
  end
end

--- imap.flush(): every account's queue, sent side by side.
function M.flush_all()
  for _, a in ipairs(M.all) do
    if #a.queue > 0 then return raise_first(each_account(methods.flush)) end
  end
end

--- End of script: flush every account, then log out of all, side by side.
function M.finish_all()
  local flushed = each_account(methods.flush)
  raise_first(flushed, each_account(methods.logout))
end

return M
