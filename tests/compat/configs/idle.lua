-- The enter_idle loop many configs end with: filter, wait for new mail, filter again (two
-- rounds here, so that it ends). Prints "waiting" before it idles; the test delivers a
-- message then. Runs unchanged under imapfilter 2.8 and imapscript --imapfilter. Needs Idle
-- seeded (tests/integration/imapfilter_diff_spec.lua, compat_spec.lua).
options.timeout = 60
options.info = false

account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = os.getenv("TESTBED_PASSWORD"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),
}

local function filter()
  account.Idle:is_unseen():contain_field("List-Id", "lua-l"):move_messages(account["Idle/Lua"])
  account.Idle:is_unseen():mark_seen()
end

for round = 1, 2 do
  filter()
  print("round", round, #account.Idle:select_all())
  if round == 2 then break end
  print("waiting")
  io.stdout:flush()
  local ok = account.Idle:enter_idle()
  print("woke", ok)
end
