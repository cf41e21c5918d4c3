-- tasks.lua — runs functions side by side as coroutines over the C loop: where one waits for
-- a server (conn:wait, conn:logout) it yields, and the loop moves every connection on.
local core = require "imapscript.core"
local log = require "imapscript.log"
log.internal(debug.getinfo(1, "S").source)

local M = {}

--- Runs every function of fns until all have returned; returns {[i] = error} for those
--- that raised. Inside a task already (nested), they run one after the other in it.
function M.run(fns)
  local errors = {}
  if core.task() then
    for i, fn in ipairs(fns) do
      local ok, err = pcall(fn)
      if not ok then errors[i] = err end
    end
    return errors
  end
  local live = {}
  for i, fn in ipairs(fns) do
    local co = coroutine.create(fn)
    core.task(co)
    live[#live + 1] = { co = co, i = i }
  end
  while #live > 0 do
    local still = {}
    for _, t in ipairs(live) do
      local ok, err = coroutine.resume(t.co)
      if not ok then
        errors[t.i] = err
      elseif coroutine.status(t.co) ~= "dead" then
        still[#still + 1] = t
      end
    end
    live = still
    -- Every task left waits for a reply: one round of the loop brings some.
    if #live > 0 then core.loop_wait() end
  end
  return errors
end

return M
