-- compat/process.lua — imapfilter's processing methods (delete_messages, copy_messages,
-- move_messages, mark_*/unmark_*, add/remove/replace_flags) on imapscript's queued actions:
-- one command per mailbox for the whole set, pipelined with the searches before it.
-- imapfilter's options.expunge (EXPUNGE after every STORE of \Deleted) becomes UID EXPUNGE of
-- exactly the messages this config flagged, never of other \Deleted mail in the mailbox.
local log = require "imapscript.log"
local ctx = require "imapscript.compat.context"
local opt = require "imapscript.compat.options"
log.internal(debug.getinfo(1, "S").source)

local M = {}

-- Bumped by every action: cached flags of messages are stale afterwards.
M.generation = 0

local function check_flags(flags, fname)
  if type(flags) ~= "table" then
    error(string.format("%s: table argument expected, got %s", fname, type(flags)), 4)
  end
  local out, deleted = {}, false
  for _, f in ipairs(flags) do
    if type(f) ~= "string" then error(fname .. ": flags must be strings", 4) end
    if f:lower() == "\\deleted" then deleted = true end
    out[#out + 1] = f
  end
  return out, deleted
end

local function expunge() return opt.flag(ctx.options, "expunge") end

local function check_dest(dest, fname)
  local nbox = type(dest) == "table" and rawget(dest, "_native")
  if not nbox then
    error(string.format("%s: want a mailbox (account.mailbox or account['name']), got %s", fname,
      type(dest)), 4)
  end
  -- The destination's account may not have been used yet: its password, its options.
  local account = require "imapscript.compat.account"
  account.prepare(rawget(dest, "_account"))
  account.apply_create(nbox.account)     -- options.subscribe as it is now
  return dest, nbox
end

-- Cross-account copies must have happened before the config reads the destination.
local function settle(r, dest)
  local nbox = rawget(dest, "_native")
  local src = r.box and r.box.account
  if src ~= nbox.account then
    for _, a in ipairs(ctx.accounts) do rawget(a, "_native"):flush() end
  end
end

local actions = {}

function actions.delete_messages(r)
  if expunge() then r:delete() else r:add_flags { "\\Deleted" } end
end

function actions.copy_messages(r, dest)
  local _, nbox = check_dest(dest, "copy_messages")
  r:copy_to(nbox)
end

function actions.move_messages(r, dest)
  local _, nbox = check_dest(dest, "move_messages")
  -- imapfilter without expunge: copied, then (once the copy is confirmed) left flagged
  -- \Deleted in the source.
  r:move_to(nbox, { expunge = expunge() })
end

local function marker(flag, add)
  return function(r)
    if add then
      if flag == "\\Deleted" and expunge() then return r:delete() end
      r:add_flags { flag }
    else
      r:remove_flags { flag }
    end
  end
end
for _, f in ipairs { "answered", "deleted", "draft", "flagged", "seen" } do
  local flag = "\\" .. f:sub(1, 1):upper() .. f:sub(2)
  actions["mark_" .. f] = marker(flag, true)
  actions["unmark_" .. f] = marker(flag, false)
end

function actions.add_flags(r, flags)
  local list, deleted = check_flags(flags, "add_flags")
  if deleted and expunge() then
    local others = {}
    for _, f in ipairs(list) do if f:lower() ~= "\\deleted" then others[#others + 1] = f end end
    if #others > 0 then r:add_flags(others) end
    return r:delete()
  end
  if #list > 0 then r:add_flags(list) end
end

function actions.remove_flags(r, flags)
  local list = check_flags(flags, "remove_flags")
  if #list > 0 then r:remove_flags(list) end
end

function actions.replace_flags(r, flags)
  local list, deleted = check_flags(flags, "replace_flags")
  r:set_flags(list)
  if deleted and expunge() then r:delete() end
end

-- The arguments each action checks before the messages (so a missing argument is an error
-- even for an empty set, as in imapfilter).
local arg_checks = {
  copy_messages = function(d) check_dest(d, "copy_messages") end,
  move_messages = function(d) check_dest(d, "move_messages") end,
  add_flags = function(f) check_flags(f, "add_flags") end,
  remove_flags = function(f) check_flags(f, "remove_flags") end,
  replace_flags = function(f) check_flags(f, "replace_flags") end,
}

-- Marks the operations act() queued with the imapfilter method that made them, for its info
-- line (compat/imapfilter.lua), silent when options.info is off now. One method may queue two
-- operations on the same messages (add_flags with \Deleted: a STORE, then a delete): only
-- the last of them reports.
local function queues()
  local t = {}
  for _, a in ipairs(ctx.accounts) do
    local n = rawget(a, "_native")
    t[n] = { q = n.queue, len = #n.queue }
  end
  return t
end
local function mark(before, name)
  local quiet = not opt.flag(ctx.options, "info")
  for n, b in pairs(before) do
    local q = n.queue
    -- A result spanning accounts is resolved first: that flush starts a new queue.
    for i = q == b.q and b.len + 1 or 1, #q do
      q[i].compat = name
      q[i].silent = quiet or (q[i + 1] ~= nil and q[i + 1].src == q[i].src)
    end
  end
end

--- Adds the processing methods to `methods`. target(self, args...) gives the native
--- result to act on (nil: nothing to do) and the action's own arguments.
function M.install(methods, target)
  for name, act in pairs(actions) do
    methods[name] = function(self, ...)
      local r, a1 = target(self, name, ...)
      if arg_checks[name] then arg_checks[name](a1) end
      if r then
        local before = queues()
        act(r, a1)
        mark(before, name)
        if name == "copy_messages" or name == "move_messages" then settle(r, a1) end
        M.generation = M.generation + 1
      end
      return true
    end
  end
end

--- The actions whose first argument is not the messages (mailbox forms take it first).
M.takes_arg = { copy_messages = true, move_messages = true, add_flags = true,
  remove_flags = true, replace_flags = true }

return M
