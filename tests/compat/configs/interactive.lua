-- imapfilter's interactive and long-running parts: the password prompt (no password in
-- IMAP{}), enter_idle (the spec adds a message meanwhile), become_daemon (stopped by an
-- error after two rounds). imapscript only: imapfilter's become_daemon detaches.
options.info = false

local account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),
}
local before = account.I:check_status()
print("logged in", before >= 0)
io.stdout:flush()
print("idle", account.I:enter_idle())
local calls = 0
become_daemon(1, function()
  calls = calls + 1
  print("tick", calls, account.I:check_status() > before)
  io.stdout:flush()
  if calls == 2 then error("stop the daemon") end
end)
