-- compat/options.lua — imapfilter's `options` table: every option imapfilter_config(5)
-- documents, with its default, and how each one maps onto an imapscript account.
local log = require "imapscript.log"

local M = {}

-- imapfilter 2.8's defaults (imapfilter_config(5) and its options.lua).
M.defaults = {
  cache = true, certificates = true, charset = "", close = false, create = false,
  expunge = true, hostnames = true, info = true, keepalive = 29, limit = 0,
  namespace = true, range = math.huge, starttls = true, subscribe = false, timeout = 60,
  wakeonany = false,
}

-- Why an option is accepted but does nothing here, shown once under -v when it is set
-- away from its default.
local ignored = {
  close = "options.close is ignored: imapscript never CLOSEs to expunge; deleted and " ..
    "moved messages are expunged one by one with UID EXPUNGE",
  hostnames = "options.hostnames = false is ignored: the server's name is always " ..
    "checked against its certificate (use options.certificates = false to skip checks)",
  limit = "options.limit is ignored: long requests are split automatically",
  range = "options.range is ignored: message sets are sent compact and split automatically",
  namespace = "options.namespace is ignored: mailbox names always use '/' and are " ..
    "mapped to the server's delimiter",
}

--- A fresh options table holding the defaults.
function M.new()
  local t = {}
  for k, v in pairs(M.defaults) do t[k] = v end
  return t
end

local noted = {}

--- Notes (under -v, once each) the options that are set but have no effect here.
function M.note_ignored(options)
  for name, why in pairs(ignored) do
    local v = options[name]
    if v ~= nil and v ~= M.defaults[name] and not noted[name]
        and not (name == "limit" and v == 0) then
      noted[name] = true
      log.info("imapfilter compat: " .. why)
    end
  end
  if options.cache == false and not noted.cache then
    noted.cache = true
    log.info("imapfilter compat: options.cache = false: message parts are fetched anew each time")
  end
end

--- The value of a boolean option, its default when unset or not a boolean.
function M.flag(options, name)
  local v = options[name]
  if type(v) ~= "boolean" then return M.defaults[name] end
  return v
end

--- The value of a number option, its default when unset or not a number.
function M.number(options, name)
  local v = options[name]
  if type(v) ~= "number" then return M.defaults[name] end
  return v
end

return M
