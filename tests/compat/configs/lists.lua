-- A config in the style most public dotfiles use: options first, the password from a command
-- (pipe_from), helpers in a second file (dofile), one rule per mailing list into folders
-- created on demand and subscribed (options.subscribe), lists that sent nothing (their
-- folders must not appear), rules on mailboxes that do not exist, and imapfilter's info
-- lines left on. Runs unchanged under imapfilter 2.8 and imapscript --imapfilter. Needs
-- INBOX seeded and Lists/lua existing (tests/integration/imapfilter_diff_spec.lua).
options.timeout = 120
options.subscribe = true
options.create = true

local _, password = pipe_from("printenv TESTBED_PASSWORD")
account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = password:gsub("\n$", ""),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),      -- imapscript only; imapfilter gets -t
}

dofile("tests/compat/configs/lib/filters.lua")

local inbox = account.INBOX
local lists = {
  { "lua-l.lists.lua.org", "Lists/lua" },                  -- exists already
  { "dovecot.dovecot.org", "Lists/dovecot" },
  { "debian-devel.lists.debian.org", "Lists/debian" },
  { "ubuntu-devel.lists.ubuntu.com", "Lists/ubuntu" },     -- these three send nothing
  { "kde-devel.kde.org", "Lists/kde" },
  { "freebsd-hackers.freebsd.org", "Lists/freebsd" },
  { "imapscript-dev.lists.seed.example", "Lists/imapscript" },
}
for _, l in ipairs(lists) do list_rule(account, inbox, l[1], l[2]) end

local robots = from_any(inbox, { "noreply@", "notifications@" })
robots:mark_seen()
robots:move_messages(account["Robots"])
inbox:contain_subject("zzz no such subject"):move_messages(account["Never/Created"])
inbox:contain_subject("zzz nor this one"):move_messages(account[string.rep("x", 300)])  -- too long

-- Old mail of folders this account does not have: imapfilter reports the server's NO and
-- goes on. (The rule after them selects another mailbox: imapfilter would still take INBOX
-- as selected, see stale.lua.)
account["Lists/ubuntu"]:is_older(90):delete_messages()
account.Receipts:is_seen():move_messages(account["Archive/Receipts"])
account["Lists/lua"]:contain_subject("Re:"):mark_flagged()
print("Receipts", account.Receipts:check_status())

inbox:is_seen():is_older(365 * 3):move_messages(account["Archive/Old"])
inbox:is_flagged():mark_seen()

local subscribed = account:list_subscribed()
table.sort(subscribed)
print("subscribed", table.concat(subscribed, " "))
print("Lists/lua", account["Lists/lua"]:check_status())
