-- transfer.lua — copying or moving messages to another account: FETCH streamed into
-- APPEND, a chunk at a time, keeping flags and internal dates. The source messages are
-- removed only after every APPEND of them succeeded.
local core = require "imapscript.core"
local log = require "imapscript.log"
local Result = require "imapscript.result"
local create = require "imapscript.create"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local CHUNK = 50        -- messages held in memory at once

local function check(conn, h)
  conn:wait(h)
  local v, err = h:result()
  if v == nil then error(err, 0) end
  return v
end

-- \Recent is the server's to set; APPEND refuses it.
local function keep_flags(flags)
  local out = {}
  for _, f in ipairs(flags or {}) do
    if f:upper() ~= "\\RECENT" then out[#out + 1] = f end
  end
  return out
end

--- Copies (op.verb "copy") or moves ("move") set of box to op.dest on its account.
--- fail(err) is called with the first error; nothing is removed after an error.
function M.run(src_acct, box, set, op, fail)
  if #set == 0 then return end
  local dest = op.dest
  local dest_acct = dest.account
  dest_acct:flush()
  local sconn, dconn = src_acct:_connection(), dest_acct:_connection()
  local ok, err = pcall(function()
    local h = src_acct:_select(sconn, box)
    if h then check(sconn, h) end
    if dest_acct.cfg.create and not create.known(dest_acct, dest) then
      local refused
      create.create(dest_acct, dconn, dest, function(hd, finish)
        dconn:wait(hd)
        finish(hd:result())
      end, function(e) refused = e end)
      if refused then error(refused, 0) end
    end
    local copied, moved = {}, 0
    for chunk in Result.chunks(set, CHUNK) do
      local msgs = {}
      check(sconn, sconn:fetch(chunk, { "uid", "flags", "date", "raw" }, function(m)
        if m.uid and m.raw then msgs[#msgs + 1] = m end
      end))
      local handles = {}
      for i, m in ipairs(msgs) do
        handles[i] = dconn:append(dest:_wire(), m.raw, keep_flags(m.flags), m.internaldate)
        msgs[i].raw = nil
      end
      dconn:wait()
      for i, hd in ipairs(handles) do
        local v, e = hd:result()
        if v == nil then error(e, 0) end
        copied[#copied + 1] = msgs[i].uid
      end
      moved = moved + #msgs
    end
    local done = core.set(copied)
    if op.verb == "move" and #done > 0 then
      check(sconn, sconn:store(done, "+", { "\\Deleted" }))
      if op.keep then
        -- move_to(box, {expunge = false}): the originals stay, flagged.
      elseif sconn:has("UIDPLUS") then
        check(sconn, sconn:expunge(done))
      elseif src_acct.cfg.expunge == "all" then
        check(sconn, sconn:close_mailbox())
        src_acct:_deselect()
      else
        log.warn(string.format("%s: the server lacks UIDPLUS, so the moved messages stay in %s " ..
          "flagged \\Deleted", op.label, box.name))
      end
    end
    log.action(string.format("%s %d messages %s -> %s (%s)", op.verb == "move" and "moved" or "copied",
      moved, box.name, dest.name, dest_acct.label), { op = op, box = box, count = moved })
  end)
  if not ok then fail(err) end
end

return M
