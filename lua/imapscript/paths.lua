-- paths.lua — where imapscript keeps files of its own: the state directory (state
-- database, OAuth2 token cache, REPL history) and the config directory, per XDG.
local core = require "imapscript.core"
local settings = require "imapscript.settings"

local M = {}

-- $VAR/imapscript when VAR holds an absolute path (XDG ignores relative ones), else
-- ~/<fallback>/imapscript.
local function xdg(var, fallback)
  local base = os.getenv(var)
  if not base or base:sub(1, 1) ~= "/" then
    local home = os.getenv("HOME")
    if not home or home == "" then
      error(core.error("usage", string.format("neither %s nor HOME is set", var)), 0)
    end
    base = home .. "/" .. fallback
  end
  return base .. "/imapscript"
end

--- The state directory (--state DIR, else $XDG_STATE_HOME/imapscript, else
--- ~/.local/state/imapscript), created with mode 0700 when `create` is true.
function M.state_dir(create)
  local dir = settings.state_dir or xdg("XDG_STATE_HOME", ".local/state")
  if create then
    local ok, err = core.private_dir(dir)
    if not ok then error(core.error("usage", "state directory: " .. err), 0) end
  end
  return dir
end

--- The config directory: $XDG_CONFIG_HOME/imapscript, else ~/.config/imapscript.
function M.config_dir()
  return xdg("XDG_CONFIG_HOME", ".config")
end

return M
