-- A helper module loaded with require(), as some imapfilter users keep their rules
-- (tests/compat/configs/accounts2.lua).
local M = {}

-- Moves results to dest, wherever the two are.
function M.forward(results, dest)
  results:move_messages(dest)
end

-- Read mail older than `days` days of mbox goes to dest.
function M.archive(mbox, days, dest)
  mbox:is_seen():is_older(days):move_messages(dest)
end

return M
