-- secret.lua — where passwords, tokens and client secrets come from: a string,
-- imap.command "pass show x" (first line of its output, run only when a connection needs
-- it) or imap.env "VAR". A secret's value never reaches a message, a log or a trace.
local core = require "imapscript.core"

local M = {}
local Secret = {}
Secret.__index = Secret
Secret.__tostring = function(s) return "imap." .. s.source .. "(***)" end
Secret.__name = "imapscript.secret"

--- imap.command "pass show mail/alice"
function M.command(cmd)
  if type(cmd) ~= "string" or cmd == "" then
    error(core.error("usage", "imap.command: want a shell command string"), 2)
  end
  return setmetatable({ source = "command", arg = cmd }, Secret)
end

--- imap.env "MAIL_PASSWORD"
function M.env(name)
  if type(name) ~= "string" or name == "" then
    error(core.error("usage", "imap.env: want an environment variable name"), 2)
  end
  return setmetatable({ source = "env", arg = name }, Secret)
end

--- True for imap.command and imap.env values.
function M.is_source(v) return getmetatable(v) == Secret end

--- The secret's bytes; `label` names the account in errors, `what` the setting
--- ("password" unless said).
function M.reveal(v, label, what)
  what = what or "password"
  if v == nil or type(v) == "string" then return v end
  if getmetatable(v) ~= Secret then
    error(core.error("usage", string.format("%s: %s must be a string, imap.command or imap.env",
      label, what)), 0)
  end
  if v.value then return v.value end
  if v.source == "env" then
    v.value = os.getenv(v.arg)
    if not v.value then
      error(core.error("auth", string.format("%s: environment variable %s is not set", label, v.arg)), 0)
    end
  else
    local p = io.popen(v.arg, "r")
    local line = p and p:read("l")
    local ok, how, code = true, nil, nil
    if p then ok, how, code = p:close() end
    if not line or not ok then
      -- The command, not its output: the command names where the secret lives, not the secret.
      error(core.error("auth", string.format("%s: %s command %q failed (%s %s)",
        label, what, v.arg, tostring(how or "no output"), tostring(code or ""))), 0)
    end
    v.value = line
  end
  return v.value
end

return M
