-- gmail-labels.lua — sorts a Gmail inbox with labels: list mail gets its list's label and
-- leaves the inbox, receipts get "Receipts", promotions older than a week are archived.
-- Gmail's own search syntax (X-GM-RAW) does the finding; each rule is one search and one
-- label STORE. Logs in with OAuth2 (see docs/api.md) or an app password in IMAP_PASSWORD.
-- Usage: imapscript gmail-labels.lua
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.gmail.com",
  user = os.getenv("IMAP_USER") or "alice@gmail.com",
  password = os.getenv("IMAP_PASSWORD") and imap.env "IMAP_PASSWORD" or nil,
  oauth2 = not os.getenv("IMAP_PASSWORD") and {
    provider = "google",
    client_id = os.getenv("GMAIL_CLIENT_ID"),
    client_secret = os.getenv("GMAIL_CLIENT_SECRET"),
    refresh_token = imap.command "pass show mail/gmail-refresh-token",
  } or nil,
}
local Q = imap.query
local inbox = acct.INBOX

local lists = {
  { "lua-l.lists.lua.org", "Lists/lua-l" },
  { "debian-devel.lists.debian.org", "Lists/debian-devel" },
}
for _, l in ipairs(lists) do
  inbox:search(Q.header("List-Id", l[1])):add_labels { l[2] }:remove_labels { "\\Inbox" }
end
inbox:search(Q.gmail "subject:(receipt OR invoice OR order) -label:Receipts"):add_labels { "Receipts" }
inbox:search(Q.gmail "category:promotions older_than:7d"):remove_labels { "\\Inbox" }
