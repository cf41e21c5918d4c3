-- daemon.lua — files new mail the moment it arrives: the server tells of every new message
-- (NOTIFY, or IDLE), and the rules run on just those messages. As a systemd user service:
-- copy it to ~/.config/imapscript/daemon.lua, then
-- systemctl --user enable --now imapscript-watch@daemon.service
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
  create = true,
}
local Q = imap.query

-- new: the messages that arrived since the last call (at start: those that arrived since this
-- daemon last ran, every message the first time).
local function rules(inbox, new)
  new:search(Q.header("List-Id", "lua-l.lists.lua.org")):move_to(acct["Lists/lua-l"])
  new:search(Q.from "noreply@" | Q.from "notifications@"):mark_seen():move_to(acct.Notifications)
end

imap.watch({ acct.INBOX }, rules, { initial = "unhandled" })
