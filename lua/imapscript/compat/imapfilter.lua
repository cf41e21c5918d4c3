-- compat/imapfilter.lua — `imapscript --imapfilter CONFIG`: the globals of imapfilter 2.8's
-- config API (imapfilter_config(5)) on imapscript's engine. install() is called by the
-- program before the config runs; imapscript's own table stays reachable as `imapscript`.
local log = require "imapscript.log"
local ctx = require "imapscript.compat.context"
local opt = require "imapscript.compat.options"
local Set = require "imapscript.compat.set"
local search = require "imapscript.compat.search"
local process = require "imapscript.compat.process"
local account = require "imapscript.compat.account"
local aux = require "imapscript.compat.auxiliary"

local M = {}

-- Result sets search and act like mailboxes, on their own messages.
search.install(Set.methods, function(self) return Set.native(self) or false end)
process.install(Set.methods, function(self, _, a) return Set.native(self), a end)

-- options.info = false silences the per-action lines, as imapfilter's summaries.
local action = log.action
log.action = function(msg)
  if opt.flag(ctx.options, "info") then action(msg) end
end

--- Makes the globals an imapfilter config expects; `imapscript` is imapscript's own
--- `imap` table, and `imap` is both callable (imapfilter's account constructor) and that
--- table. Returns the environment table (G, default _G).
function M.install(G)
  G = G or _G
  local imapscript = G.imap
  local function new_account(_, t) return account.new(t) end
  local class = setmetatable({}, { __call = new_account, __index = imapscript })
  G.imapscript = imapscript
  G.IMAP = class
  G.imap = class
  G.Account = class
  G.Set = Set.class
  local options = opt.new()
  ctx.options = options
  G.options = options
  G.form_date = aux.form_date
  G.get_password = aux.get_password
  G.become_daemon = aux.become_daemon
  G.pipe_to = aux.pipe_to
  G.pipe_from = aux.pipe_from
  G.regex_search = aux.regex_search
  G.sleep = aux.sleep
  G.recover = aux.recover
  if not table.unpack then table.unpack = G.unpack end
  G.unpack = G.unpack or table.unpack
  return G
end

--- The config file imapfilter would read: $IMAPFILTER_HOME/config.lua, else
--- ~/.imapfilter/config.lua.
function M.default_config()
  local home = os.getenv("IMAPFILTER_HOME")
  if home and home ~= "" then return home .. "/config.lua" end
  return (os.getenv("HOME") or ".") .. "/.imapfilter/config.lua"
end

return M
