-- become_daemon(interval, fn) as a config that runs for ever uses it: every second, mail of
-- Daemon whose subject says "daemon-catch" goes to Daemon/Caught (created only then). The
-- test adds such a message after the first round and ends the run once it was caught.
-- imapscript only: imapfilter's become_daemon detaches.
options.info = false

account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = os.getenv("TESTBED_PASSWORD"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),
}

local rounds = 0
become_daemon(1, function()
  rounds = rounds + 1
  local caught = account.Daemon:contain_subject("daemon-catch")
  local n = #caught
  caught:move_messages(account["Daemon/Caught"])
  print("round", rounds, n)
  io.stdout:flush()
  if n > 0 then error("caught it") end
end)
