-- daemon.lua — files new mail the moment it arrives: the rules run at start and again
-- whenever the INBOX changes (IDLE). Run it from a systemd service with Restart=on-failure.
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
  create = true,
}
local Q = imap.query

local function rules(inbox)
  inbox:search(Q.header("List-Id", "lua-l.lists.lua.org")):move_to(acct["Lists/lua-l"])
  inbox:search(Q.from "noreply@" | Q.from "notifications@"):mark_seen():move_to(acct.Notifications)
end

imap.watch({ acct.INBOX }, rules, { interval = tonumber(os.getenv("WATCH_INTERVAL")) or 300 })
