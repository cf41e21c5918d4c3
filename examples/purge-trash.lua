-- purge-trash.lua — deletes what has been in Trash and Junk for more than 30 days.
-- Only those messages are expunged (UID EXPUNGE), never anything else.
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
}
local Q = imap.query
local days = tonumber((...)) or 30

for _, name in ipairs { "Trash", "Junk" } do
  for _, m in ipairs(acct:mailboxes(name)) do       -- skip a folder the server lacks
    acct[m.name]:search(Q.before(imap.days_ago(days))):delete()
  end
end
