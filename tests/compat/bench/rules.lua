-- A realistic imapfilter config of 20 rules for scripts/bench: mailing lists sorted by
-- header, date-based archiving, regular expressions on subjects and senders, flagging,
-- deleting. Runs unchanged under imapfilter 2.8 and imapscript --imapfilter;
-- tests/compat/bench/rules-native.lua is the same rules in imapscript's own API.
options.info = false
options.timeout = 300

local account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = os.getenv("TESTBED_PASSWORD"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),
}
local inbox = account.INBOX

-- 1-4: mailing lists to their folders.
inbox:contain_field("List-Id", "lua-l.lists.lua.org"):move_messages(account["Lists/lua-l"])
inbox:contain_field("List-Id", "dovecot.dovecot.org"):move_messages(account["Lists/dovecot"])
inbox:contain_field("List-Id", "debian-devel.lists.debian.org"):move_messages(account["Lists/debian-devel"])
inbox:contain_field("List-Id", "imapscript-dev"):move_messages(account["Lists/imapscript"])

-- 5-6: regular expressions on senders and subjects.
inbox:match_from("^<?(noreply|notifications)@"):move_messages(account["Notifications"])
inbox:is_unseen():match_subject("^\\[PATCH(?: v\\d+)?"):add_flags({ "$Patch" })

-- 7-9: archiving by date.
local old = inbox:is_seen() * inbox:arrived_before("01-Jan-2020") - inbox:is_flagged()
old:move_messages(account["Archive/2019"])
old = inbox:is_seen() * inbox:arrived_before("01-Jan-2021") - inbox:is_flagged()
old:move_messages(account["Archive/2020"])
old = inbox:is_answered() * inbox:is_older(365 * 4)
old:move_messages(account["Archive/Answered"])

-- 10-16: flagging and marking.
inbox:is_larger(90000):is_seen():add_flags({ "$Big" })
inbox:contain_subject("invoice"):mark_flagged()
inbox:match_subject("(?i)\\b(lunch|travel)\\b"):mark_seen()
inbox:contain_from("example.jp"):add_flags({ "$Japan" })
inbox:is_unseen():is_older(365 * 6):mark_seen()
inbox:match_field("X-Mailer", "^Apple Mail"):add_flags({ "$Apple" })
inbox:send_query('OR SUBJECT "build failure" SUBJECT "arm64"'):add_flags({ "$Build" })

-- 17-20: cleaning up.
local fyi = inbox:is_flagged() * inbox:is_seen() * inbox:contain_subject("FYI")
fyi:unmark_flagged()
local reminders = inbox:contain_subject("Reminder") * inbox:is_seen() * inbox:is_older(365)
reminders:delete_messages()
inbox:is_smaller(1200):is_seen():delete_messages()
inbox:match_subject("^Re: Re: "):is_seen():mark_answered()
