-- sort-lists.lua — files mailing-list mail into Lists/<name> by its List-Id header.
-- One server-side search and one move per list, all sent in one pipelined batch.
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
  create = true,                    -- Lists/<name> is made on first use
}
local Q = imap.query

local lists = {                     -- List-Id substring -> folder
  ["lua-l.lists.lua.org"] = "Lists/lua-l",
  ["dovecot.dovecot.org"] = "Lists/dovecot",
  ["debian-devel.lists.debian.org"] = "Lists/debian-devel",
}

for id, folder in pairs(lists) do
  acct.INBOX:search(Q.header("List-Id", id)):move_to(acct[folder])
end
