-- sieve_rules.lua — rules written for sieve_spec.lua: each one can run at delivery, and
-- together they use every line of docs/sieve.md's translation table, the order of rules,
-- stop after a move, and flags set by one rule read by a later one. The account comes from
-- IMAP_HOST, IMAP_PORT, IMAP_CA, IMAP_USER, IMAP_PASSWORD and SIEVE_PORT.
local acct = imap.account {
  host = os.getenv "IMAP_HOST", port = tonumber(os.getenv "IMAP_PORT"), ca_file = os.getenv "IMAP_CA",
  user = os.getenv "IMAP_USER", password = imap.env "IMAP_PASSWORD",
  sieve_port = tonumber(os.getenv "SIEVE_PORT"), create = true,
}
local Q = imap.query
local inbox = acct.INBOX

-- header :contains, fileinto :create, stop: list mail leaves, later rules never see it.
inbox:search(Q.header("List-Id", "lua-l.lists.lua.org")):move_to(acct["Lists/lua-l"])

-- exists and anyof; two actions under one condition (the flag travels with the move).
inbox:search(Q.header("Auto-Submitted", "auto-replied") | Q.header("X-Autoreply", ""))
  :mark_seen():move_to(acct["Auto-replies"])

-- A regular expression (header :regex), then a flag it set read back (hasflag) with FROM.
inbox:search(Q.unseen):match("Subject", [=[^\[PATCH(?: v\d+)?]=]):add_flags { "$Patch" }
inbox:search(Q.keyword "$Patch" & (Q.from "@corp.example" | Q.from "example.jp")):mark_flagged()

-- size :over, NOT of a flag; fileinto :copy keeps the message in INBOX as well.
inbox:search(Q.larger(20000) & ~Q.flagged):copy_to(acct.Big)

-- A date in the past is true of all new mail; a flag added, then taken off some again.
inbox:search(Q.since(imap.days_ago(30)) & Q.subject "Question about"):add_flags { "$Question" }
inbox:search(Q.keyword "$Question" & Q.smaller(3000)):remove_flags { "$Question" }

-- Results of INBOX combined: To example.jp but not Cc example.org.
local jp, cc = inbox:search(Q.to "example.jp"), inbox:search(Q.cc "example.org")
;(jp - cc):add_flags { "$JP" }

-- discard: reminders without a List-Id are deleted (a list's reminder left by rule 1 already).
inbox:search(Q.subject "Reminder:" & ~Q.header("List-Id", "")):delete()

-- A move after all that, with a NOT of a keyword.
inbox:search(Q.subject "FYI" & ~Q.keyword "$Patch"):move_to(acct.FYI)
