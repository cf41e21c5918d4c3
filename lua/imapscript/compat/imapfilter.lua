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

-- What imapfilter's methods print (on stdout, with options.info) once they acted:
-- "3 messages marked seen in alice@host/INBOX.", "5 messages moved from .../INBOX to .../Old."
local said = {
  add_flags = "flagged in", remove_flags = "flagged in", replace_flags = "flagged in",
  delete_messages = "deleted in", copy_messages = "copied from", move_messages = "moved from",
}
for _, f in ipairs { "answered", "deleted", "draft", "flagged", "seen" } do
  said["mark_" .. f] = "marked " .. f .. " in"
  said["unmark_" .. f] = "unmarked " .. f .. " in"
end

local print = print      -- the real one: these lines are written while a batch is read
local action = log.action
log.action = function(msg, step)
  local op = step and step.op
  if not (op and op.compat) then
    if opt.flag(ctx.options, "info") then action(msg) end
    return
  end
  if op.silent then return end    -- options.info was off when the config called it
  local line = string.format("%d messages %s %s", step.count, said[op.compat],
    rawget(ctx.compat_box(step.box), "_string"))
  if op.dest then line = line .. " to " .. rawget(ctx.compat_box(op.dest), "_string") end
  print(line .. ".")
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
  -- imapfilter acts at once: what a config prints comes after the info lines of the actions
  -- it called before, so the queued actions go out first.
  local real_print = G.print
  G.print = function(...)
    aux.flush_all()
    return real_print(...)
  end
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
