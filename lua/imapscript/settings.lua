-- settings.lua — the run's settings from the command line (imapscript -n, --trace, ...),
-- shared by the modules that act on them.
return {
  dry_run = false,   -- -n: search and fetch, change nothing, print the plan
  trace = nil,       -- --trace: an open file receiving the wire dialogue
  state_dir = nil,   -- --state DIR: instead of $XDG_STATE_HOME/imapscript (paths.lua)
  no_state = false,  -- --no-state: no state database, no journal (said once)
  no_cache = false,  -- --no-cache: nothing kept between runs for incremental runs (cache.lua)
  accounts_only = false,   -- undo re-reads a run's script for its accounts: connect to nothing
  -- Seconds a run waits for another run working on the same account (IMAPSCRIPT_LOCK_WAIT).
  lock_wait = tonumber(os.getenv("IMAPSCRIPT_LOCK_WAIT")) or 300,
}
