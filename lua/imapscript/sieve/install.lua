-- sieve/install.lua — an account's ManageSieve side: connecting with its settings and
-- credentials, the script that was active before ours, installing ours so that one keeps
-- working (include), and removing ours again.
local core = require "imapscript.core"
local log = require "imapscript.log"
local secret = require "imapscript.secret"
local oauth2 = require "imapscript.oauth2"
local settings = require "imapscript.settings"
local text = require "imapscript.sieve.text"

local M = {}

-- What a refusal means for the user, by the server's response code.
local HINTS = {
  ["QUOTA"] = "the server's quota on Sieve scripts is reached",
  ["QUOTA/MAXSCRIPTS"] = "the server allows no more Sieve scripts for this account: delete " ..
    "one it no longer needs, or install over it with --name",
  ["QUOTA/MAXSIZE"] = "the translated script is larger than the server allows",
}

-- Raises err (an error object of a ManageSieve call) with a hint when there is one.
local function raise(err, what)
  local msg = err.message
  if what then msg = msg .. "\n" .. what end
  if err.code and HINTS[err.code] then msg = msg .. " (" .. HINTS[err.code] .. ")" end
  error(core.error(err.kind or "protocol", msg, { code = err.code, server_text = err.server_text }), 0)
end

-- Calls ms[method](ms, ...) and raises its failure.
local function call(ms, method, ...)
  local v, err = ms[method](ms, ...)
  if v == nil then raise(err) end
  return v, err
end

--- The account's ManageSieve connection: its host (or sieve_host) on sieve_port (4190),
--- STARTTLS unless tls = "none", its TLS settings, login methods and credentials.
function M.connect(acct)
  local cfg = acct.cfg
  local label = acct.label .. " (ManageSieve)"
  local token, cached
  if cfg.oauth2 ~= nil then token, cached = oauth2.token(acct.label, cfg.user, cfg.oauth2) end
  local function connect()
    return core.managesieve {
      host = cfg.sieve_host or cfg.host, port = cfg.sieve_port or 4190,
      tls = cfg.tls == "none" and "none" or "starttls", ca_file = cfg.ca_file,
      fingerprint = cfg.fingerprint, insecure = cfg.insecure, user = cfg.user,
      password = secret.reveal(cfg.password, acct.label), token = token, auth = cfg.auth,
      allow_plaintext = cfg.allow_plaintext, timeout = cfg.timeout, label = label,
      trace = settings.trace, warn = function(msg) log.warn(msg) end,
    }
  end
  local ok, ms = pcall(connect)
  if not ok and cached and type(ms) == "table" and ms.kind == "auth" then
    log.info(label .. ": the server refused the cached OAuth2 token; refreshing it")
    token = oauth2.token(acct.label, cfg.user, cfg.oauth2, true)
    ok, ms = pcall(connect)
  end
  if not ok then error(ms, 0) end
  return ms
end

--- The server's Sieve extensions as a set of lower-case names.
function M.extensions(ms)
  local exts = {}
  for e in (ms:capabilities().SIEVE or ""):gmatch("%S+") do exts[e:lower()] = true end
  return exts
end

--- The scripts on the server: a set of names, and the active one (or nil).
local function scripts(ms)
  local names, active = {}, nil
  for _, s in ipairs(call(ms, "list")) do
    names[s.name] = true
    if s.active then active = s.name end
  end
  return names, active
end

--- The script ours should include: the active one when it is not ours, else the one ours
--- already includes (so that installing again keeps it). Also whether ours is active.
function M.previous(ms, name)
  local names, active = scripts(ms)
  if not active then return nil, false end
  if active ~= name then return active, false end
  local prev = text.previous_of(call(ms, "get", name))
  return prev and names[prev] and prev or nil, true
end

--- Asks the server whether it accepts the script (CHECKSCRIPT); raises its words if not.
--- Returns its warnings, or nil when it has none.
function M.check(ms, script)
  local ok, words, code = ms:check(script)
  if not ok then raise(words, "The server rejects the translated script; the rules stay with the IMAP run.") end
  return code == "WARNINGS" and words or nil
end

--- PUTSCRIPT name, then SETACTIVE name unless it is active already.
function M.install(ms, name, script, active)
  call(ms, "put", name, script)
  if not active then call(ms, "setactive", name) end
end

--- Deactivates our script (the one it included becomes active again) and deletes it.
--- Returns what happened, for the log.
function M.remove(ms, name)
  local names, active = scripts(ms)
  if not names[name] then return string.format("no Sieve script %q on the server", name) end
  local prev
  if active == name then
    prev = text.previous_of(call(ms, "get", name))
    if prev and not names[prev] then prev = nil end
    call(ms, "setactive", prev or "")
  end
  call(ms, "delete", name)
  return string.format("removed Sieve script %q%s", name, prev and
    string.format("; %q is active again", prev) or (active == name and "; no script is active now" or ""))
end

return M
