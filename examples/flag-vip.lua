-- flag-vip.lua — flags unread mail from the people on a VIP list, and tags it $VIP.
-- All senders go into ONE search: OR of the From keys, evaluated by the server.
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
}
local Q = imap.query

local vips = { "ceo@example.org", "boss@example.org", "mum@example.net" }

local from_any = {}
for i, addr in ipairs(vips) do from_any[i] = Q.from(addr) end
acct.INBOX:search(Q.unseen & imap.Or(table.unpack(from_any)))
  :mark_flagged()
  :add_flags { "$VIP" }
