-- sieve/mode.lua — imapscript --sieve, --sieve-install, --sieve-remove: runs the script in
-- translation mode (record.lua), then for each account prints, checks and installs the Sieve
-- script of its INBOX rules (translate.lua, install.lua), or removes it.
local core = require "imapscript.core"
local log = require "imapscript.log"
local account = require "imapscript.account"
local record = require "imapscript.sieve.record"
local translate = require "imapscript.sieve.translate"
local install = require "imapscript.sieve.install"
log.internal(debug.getinfo(1, "S").source)

local M = {}
local opts

--- opts: mode ("print", "install" or "remove"), name (the script's name on the server).
function M.begin(imap, o)
  opts = o
  if type(opts.name) ~= "string" or opts.name == "" or opts.name:find("[%z\1-\31\127]") then
    error(core.error("usage", "--name: want a script name without control characters"), 0)
  end
  record.start(imap)
end

-- Lines on stderr for the user (the table of rules, what was done), unless -q.
local function tell(line)
  if not log.quiet then io.stderr:write(line, "\n") end
end

local function source_name()
  local s = type(arg) == "table" and type(arg[0]) == "string" and arg[0] or "the script"
  return s:match("([^/]+)$") or s
end

-- Whether acct queued an action on a result of its INBOX: else it has nothing for Sieve, and
-- its ManageSieve server need not be asked.
local function has_inbox_rules(acct)
  for _, op in ipairs(record.ops[acct] or {}) do
    local box = op.kind ~= "search" and op.src.box
    if box and box.account == acct and box.name == "INBOX" then return true end
  end
  return false
end

-- Translates, checks and (with install) installs one account's rules. Returns how many
-- rules run at delivery now.
local function process(acct, ms)
  local env = {
    account = acct, exts = install.extensions(ms), provenance = record.provenance,
    queries = record.queries,
    today = os.date("%Y-%m-%d"), yesterday = os.date("%Y-%m-%d", os.time() - 86400),
    wire = function(name)
      -- The server's delimiter is needed only for names with levels.
      return name:find("/", 1, true) and acct:_wire_name(name) or name
    end,
  }
  local result = translate.translate(record.ops[acct], env)
  local prev, active = install.previous(ms, opts.name)
  local script = translate.compose(result, { source = source_name(), label = acct.label,
                                             name = opts.name, include = prev })
  local n = 0
  for _, r in ipairs(result.rules) do
    if r.status == "sieve" then n = n + 1 end
  end
  if opts.mode == "print" then
    io.stdout:write(script)
    io.stdout:flush()
  else
    for _, l in ipairs(translate.table_lines(result.rules)) do tell("  " .. l) end
  end
  local warnings = install.check(ms, script)
  if warnings then log.warn(acct.label .. ": the server warns about the Sieve script: " .. warnings) end
  if opts.mode == "install" then
    if n == 0 then
      log.warn(acct.label .. ": no rule of INBOX can run at delivery; nothing installed for it")
      return 0
    end
    install.install(ms, opts.name, script, active)
    log.action(string.format("%s: installed Sieve script %q (%d of %d rules)%s", acct.label,
      opts.name, n, #result.rules, prev and string.format(", which runs %q first", prev) or ""))
  end
  return n
end

-- The work of one account, its ManageSieve connection closed whatever happens. Returns nil
-- when the account has nothing to do with Sieve, else how many rules it has there.
local function each(acct)
  if opts.mode ~= "remove" and not has_inbox_rules(acct) then return nil end
  local ms = install.connect(acct)
  local ok, n = pcall(function()
    if opts.mode == "remove" then
      log.action(acct.label .. ": " .. install.remove(ms, opts.name))
      return 0
    end
    return process(acct, ms)
  end)
  ms:logout()
  if not ok then error(n, 0) end
  return n
end

--- After the script: every account's queue is recorded, then each account with rules gets
--- its Sieve script (printed, checked, installed) or loses it (remove); IMAP connections
--- close last, as mailbox names may need the server's delimiter. After a script error
--- (failed) nothing is translated: the rules recorded are only those before the error.
function M.finish(failed)
  record.finishing()
  if failed then
    log.warn("the script failed: no Sieve script translated, installed or removed")
    return account.finish_all()
  end
  local ok, err = pcall(function()
    local accounts, rules = 0, 0
    for _, acct in ipairs(account.all) do
      acct:flush()
      local n = each(acct)
      if n then accounts, rules = accounts + 1, rules + n end
    end
    if accounts == 0 then
      error(core.error("usage", opts.mode == "remove" and "the script makes no account" or
        "the script acts on no INBOX: there are no rules for Sieve"), 0)
    elseif opts.mode == "install" and rules == 0 then
      error(core.error("usage", "no rule of INBOX can run at delivery: nothing installed " ..
        "(the table above says why)"), 0)
    end
  end)
  local ok2, err2 = pcall(account.finish_all)
  if not ok then error(err, 0) end
  if not ok2 then error(err2, 0) end
end

return M
