-- out-of-office.lua — files automatic replies (out-of-office notices, vacation
-- responders) out of the INBOX into "Auto-replies", marked read.
-- Usage: imapscript out-of-office.lua
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
  create = true,
}
local Q = imap.query

-- What responders put in their headers (RFC 3834, and the common older markers): found by
-- the server in one search.
local marked = Q.header("Auto-Submitted", "auto-replied") | Q.header("X-Autoreply", "")
             | Q.header("X-Autorespond", "") | Q.header("X-Auto-Response-Suppress", "")
-- Responders that mark nothing are recognised by their subject, with one regex over one
-- FETCH of the subjects of the unread mail that has no list headers.
local subject = [[^(?:Out of (?:the )?Office|Automatic reply|Auto(?:matische)?[- ]?(?:Antwort|reply)|Abwesenheitsnotiz|Absence|R[ée]ponse automatique)\b]]

local inbox = acct.INBOX
local auto = inbox:search(marked)
           + inbox:search(Q.unseen & ~Q.header("List-Id", "")):match("Subject", imap.regex(subject, "i"))
auto:mark_seen():move_to(acct["Auto-replies"])
