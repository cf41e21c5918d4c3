-- compat/context.lua — what the imapfilter compatibility modules share: the config's
-- `options` table and the way back from imapscript's objects to imapfilter's.
local options = require "imapscript.compat.options"

local M = {
  options = options.new(),      -- replaced by the global the config sees (same table)
  box_of = setmetatable({}, { __mode = "k" }),      -- native mailbox -> compat mailbox
  account_of = setmetatable({}, { __mode = "k" }),  -- native account -> compat account
  accounts = {},                -- compat accounts, in creation order
}

--- The compat mailbox of a native one (made on demand for mailboxes reached natively).
function M.compat_box(nbox)
  local b = M.box_of[nbox]
  if b then return b end
  local acct = M.account_of[nbox.account]
  if not acct then error("internal: a mailbox of an account imapfilter did not make", 2) end
  return acct[nbox.name]
end

return M
