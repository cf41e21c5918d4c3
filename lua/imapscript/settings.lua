-- settings.lua — the run's settings from the command line (imapscript -n, --trace, ...),
-- shared by the modules that act on them.
return {
  dry_run = false,   -- -n: search and fetch, change nothing, print the plan
  trace = nil,       -- --trace: an open file receiving the wire dialogue
  state_dir = nil,   -- --state DIR: instead of $XDG_STATE_HOME/imapscript (paths.lua)
}
