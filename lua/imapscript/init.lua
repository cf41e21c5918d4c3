-- imapscript — the `imap` table scripts use: accounts, queries, sets, password sources.
-- `require "imapscript"` gives the same table from the stock lua5.4 interpreter.
local core = require "imapscript.core"
local log = require "imapscript.log"
local settings = require "imapscript.settings"
local secret = require "imapscript.secret"
local query = require "imapscript.query"
local account = require "imapscript.account"
local mailbox = require "imapscript.mailbox"
local result = require "imapscript.result"
local watch = require "imapscript.watch"
local sort = require "imapscript.sort"
result.methods.sort = sort.sort           -- r:sort, r:threads (sort.lua)
result.methods.threads = sort.threads
local journal = require "imapscript.journal"

local imap = {
  version = core.version,
  account = account.new,
  query = query.Q,
  Query = query.Query,
  Or = query.Or,
  Not = query.Not,
  days_ago = query.days_ago,
  set = core.set,
  atom = core.atom,
  regex = core.regex,
  command = secret.command,
  env = secret.env,
  error = core.error,
  watch = watch.run,
  is_result = result.is_result,
  is_mailbox = mailbox.is_mailbox,
  internaldate = core.internaldate,
  parse_date = core.parse_date,
}

--- imap.flush(): sends every account's queued actions now, all accounts at once.
imap.flush = account.flush_all

local sieve_mode   -- imapscript.sieve.mode under --sieve, --sieve-install, --sieve-remove

-- A file named by an option, opened for mode ("a" ones line-buffered), or a usage error.
local function open_out(path, mode, option)
  local f, err = io.open(path, mode)
  if not f then error(core.error("usage", option .. ": " .. err), 0) end
  if mode == "a" then f:setvbuf("line") end
  return f
end

--- Settings from the command line; called by the imapscript program before the script.
function imap._configure(opts)
  settings.dry_run = opts.dry_run and true or false
  log.quiet = opts.quiet and true or false
  log.verbose = opts.verbose or 0
  log.syslog = opts.syslog and true or false
  log.tty = opts.tty and true or false
  log.journal = opts.journal and true or false
  settings.trace = opts.trace and open_out(opts.trace, "a", "--trace")
  log.plan_file = opts.plan_json and open_out(opts.plan_json, "w", "--plan-json")
  if opts.sieve then
    sieve_mode = require "imapscript.sieve.mode"
    sieve_mode.begin(imap, { mode = opts.sieve, name = opts.sieve_name })
  end
  -- The state database and the audit log (journal.lua, state.lua).
  settings.state_dir = opts.state_dir or settings.state_dir
  settings.no_state = opts.no_state and true or false
  settings.no_cache = opts.no_cache and true or false
  log.audit_file = opts.log and open_out(opts.log, "a", "--log")
  return imap
end

--- End of the script (code: how it ended, 0 when well): flushes every queue, logs out
--- everywhere, and closes the run in the journal. After a script error (code ~= 0),
--- --sieve-install installs nothing.
function imap._finish(code)
  account.finished = true
  local failed = (code or 0) ~= 0
  local ok, err = pcall(function()
    if sieve_mode then sieve_mode.finish(failed) else account.finish_all() end
  end)
  journal.finish((ok and not failed) and "done" or "failed", ok and code or nil)
  require("imapscript.cache").finish(ok and not failed)
  if log.plan_file then log.plan_file:close() end
  if log.audit_file then log.audit_file:close() end
  if not ok then error(err, 0) end
end

--- imapscript --cache-stats (cache.lua).
function imap._cache_stats() return require("imapscript.cache").stats() end

--- imapscript --history [RUN] and --undo [RUN] (undo.lua).
function imap._history(run) return require("imapscript.undo").history(run) end
function imap._undo(run, script) return require("imapscript.undo").undo(run, script) end

return imap
