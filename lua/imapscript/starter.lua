-- starter.lua — the rules file a user starts from: where imapscript looks for it without a
-- script argument ($XDG_CONFIG_HOME/imapscript/rules.lua), and `imapscript --init`.
local core = require "imapscript.core"
local paths = require "imapscript.paths"

local M = {}

--- The script run when none is named on the command line.
function M.default_script()
  return paths.config_dir() .. "/rules.lua"
end

local template = [[
-- imapscript rules: run by `imapscript` without arguments, and by the systemd timer
-- `systemctl --user enable --now imapscript@rules.timer` every 5 minutes.
-- Try changes with `imapscript --dry-run` first: it prints what would happen.
-- Every function is in `man imapscript-api`.

local acct = imap.account {
  host = %s,           -- implicit TLS on port 993
  user = %s,
  create = true,       -- create a destination mailbox when something is moved there
  -- Where the password comes from: a command (first line of its output), an
  -- environment variable (imap.env "VAR"), or a string (keep this file private).
  password = imap.command %s,
  -- For Gmail or Microsoft 365, an OAuth2 token source instead of a password:
  -- oauth2 = { provider = "google", client_id = "...", refresh_token = imap.command "..." },
}
local Q = imap.query
local inbox = acct.INBOX

-- Mailing lists to their own folders (created when something first goes there).
-- inbox:search(Q.header("List-Id", "lua-l.lists.lua.org")):move_to(acct["Lists/lua-l"])

-- Read mail older than a year, not flagged, to the archive.
inbox:search(Q.seen & Q.before(imap.days_ago(365)) & ~Q.flagged):move_to(acct.Archive)

-- Flag mail from people who matter.
-- inbox:search(Q.unseen & (Q.from "boss@example.org" | Q.from "family@example.org")):mark_flagged()

-- Empty the trash of what has been there for a month.
-- acct.Trash:search(Q.before(imap.days_ago(30))):delete()
]]

-- A line typed at the prompt, or the default when it is empty (or there is no terminal).
local function ask(tty, question, default)
  if not tty then return default end
  io.write(string.format("%s [%s]: ", question, default))
  io.flush()
  local line = io.read("l")
  if not line then return default end
  line = line:match("^%s*(.-)%s*$")
  return line ~= "" and line or default
end

--- imapscript --init: writes a commented starter to the default script's place (mode
--- 0600), asking for the server and user on a terminal; never overwrites a file.
function M.init(tty)
  local path = M.default_script()
  local f = io.open(path, "r")
  if f then
    f:close()
    error(core.error("usage", path .. " exists already; --init leaves it as it is"), 0)
  end
  local host = ask(tty, "IMAP server", "imap.example.org")
  local user = ask(tty, "User name", os.getenv("USER") or "alice")
  local text = string.format(template, string.format("%q", host), string.format("%q", user),
                             string.format("%q", "pass show mail/" .. user))
  local ok, err = core.private_dir(paths.config_dir())
  if ok then ok, err = core.write_private(path, text) end
  if not ok then error(core.error("usage", "--init: " .. err), 0) end
  print("wrote " .. path .. " (edit it, then try: imapscript --dry-run)")
end

return M
