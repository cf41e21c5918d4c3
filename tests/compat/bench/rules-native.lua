-- tests/compat/bench/rules.lua's 20 rules in imapscript's own API (for scripts/bench).
local acct = imap.account {
  host = os.getenv("TESTBED_HOST"), port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  user = os.getenv("TESTBED_USER"), password = os.getenv("TESTBED_PASSWORD"),
  ca_file = os.getenv("TESTBED_CA"), create = true, timeout = 300,
}
local Q = imap.query
local inbox = acct.INBOX
local function before(d) return Q.before(d) end

inbox:search(Q.header("List-Id", "lua-l.lists.lua.org")):move_to(acct["Lists/lua-l"])
inbox:search(Q.header("List-Id", "dovecot.dovecot.org")):move_to(acct["Lists/dovecot"])
inbox:search(Q.header("List-Id", "debian-devel.lists.debian.org")):move_to(acct["Lists/debian-devel"])
inbox:search(Q.header("List-Id", "imapscript-dev")):move_to(acct["Lists/imapscript"])

inbox:all():match("From", [[^<?(noreply|notifications)@]]):move_to(acct.Notifications)
inbox:search(Q.unseen):match("Subject", [[^\[PATCH(?: v\d+)?]]):add_flags { "$Patch" }

inbox:search(Q.seen & before "2020-01-01" & ~Q.flagged):move_to(acct["Archive/2019"])
inbox:search(Q.seen & before "2021-01-01" & ~Q.flagged):move_to(acct["Archive/2020"])
inbox:search(Q.answered & Q.before(imap.days_ago(365 * 4))):move_to(acct["Archive/Answered"])

inbox:search(Q.larger(90000) & Q.seen):add_flags { "$Big" }
inbox:search(Q.subject "invoice"):mark_flagged()
inbox:all():match("Subject", [[(?i)\b(lunch|travel)\b]]):mark_seen()
inbox:search(Q.from "example.jp"):add_flags { "$Japan" }
inbox:search(Q.unseen & Q.before(imap.days_ago(365 * 6))):mark_seen()
inbox:all():match("X-Mailer", [[^Apple Mail]]):add_flags { "$Apple" }
inbox:search(Q.subject "build failure" | Q.subject "arm64"):add_flags { "$Build" }

inbox:search(Q.flagged & Q.seen & Q.subject "FYI"):remove_flags { "\\Flagged" }
inbox:search(Q.subject "Reminder" & Q.seen & Q.before(imap.days_ago(365))):delete()
inbox:search(Q.smaller(1200) & Q.seen):delete()
inbox:all():match("Subject", [[^Re: Re: ]]):search(Q.seen):mark_answered()
