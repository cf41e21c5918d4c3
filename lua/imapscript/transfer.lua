-- transfer.lua — copying messages to another account: FETCH streamed into APPEND, a chunk at
-- a time, keeping flags and internal dates. Each chunk's messages (Message-ID, flags) join
-- the journal entry before they are appended, so that a cut-off transfer is resolved by what
-- the destination holds. Removing the originals of a move is the caller's (batch.lua).
local core = require "imapscript.core"
local Result = require "imapscript.result"
local create = require "imapscript.create"
local log = require "imapscript.log"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local CHUNK = 50        -- messages held in memory at once

--- The value of handle h once conn has read its answer; raises its error.
local function check(conn, h)
  conn:wait(h)
  local v, err = h:result()
  if v == nil then error(err, 0) end
  return v
end
M.check = check

-- \Recent is the server's to set; APPEND refuses it.
local function keep_flags(flags)
  local out = {}
  for _, f in ipairs(flags or {}) do
    if f:upper() ~= "\\RECENT" then out[#out + 1] = f end
  end
  return out
end

--- The Message-ID in a message or its header ("<...>"), or nil.
function M.message_id(raw)
  local v = raw and core.header_values(raw, "Message-ID")[1]
  return v and (v:match("<[^>]*>") or v:match("%S+")) or nil
end

--- Appends the messages set of box (on src_acct) to op.dest on its account, recording them in
--- journal entry e first. Returns the set of source UIDs appended, or nil and the error (after
--- an error, what was appended before it is in e).
function M.run(src_acct, box, set, op, e)
  local dest = op.dest
  local dest_acct = dest.account
  local copied = {}
  local ok, err = pcall(function()
    dest_acct:flush()
    local sconn, dconn = src_acct:_connection(), dest_acct:_connection()
    local h = src_acct:_select(sconn, box)
    if h then
      local sel = check(sconn, h)
      if type(sel) == "table" then src_acct.uidvalidity[box.name] = sel.uidvalidity end
    end
    if dest_acct.cfg.create and not create.known(dest_acct, dest) then
      local refused
      create.create(dest_acct, dconn, dest, function(hd, finish)
        dconn:wait(hd)
        finish(hd:result())
      end, function(cerr) refused = cerr end)
      if refused then error(refused, 0) end
    end
    -- Where the copies will start: a resolution looks for them from there.
    local st = dconn:status(dest:_wire())
    dconn:wait(st)
    local info = st:result()
    if info then e:update { dest_uidnext = info.uidnext, dest_uidvalidity = info.uidvalidity } end
    local dest_uids = {}
    for chunk in Result.chunks(set, CHUNK) do
      local msgs = {}
      check(sconn, sconn:fetch(chunk, { "uid", "flags", "date", "raw" }, function(m)
        if m.uid and m.raw then msgs[#msgs + 1] = m end
      end))
      table.sort(msgs, function(a, b) return a.uid < b.uid end)
      local pre = {}
      for i, m in ipairs(msgs) do
        pre[i] = { uid = m.uid, flags = keep_flags(m.flags), size = #m.raw,
                   message_id = M.message_id(m.raw) }
      end
      e:add_messages(pre)
      local handles = {}
      for i, m in ipairs(msgs) do
        handles[i] = dconn:append(dest:_wire(), m.raw, keep_flags(m.flags), m.internaldate)
        msgs[i].raw = nil
      end
      dconn:wait()
      for i, hd in ipairs(handles) do
        local v, herr = hd:result()
        if v == nil then error(herr, 0) end
        copied[#copied + 1] = msgs[i].uid
        if type(v) == "table" and v.uid then dest_uids[#dest_uids + 1] = v.uid end
      end
    end
    e:update { dest_uids = #dest_uids > 0 and core.set(dest_uids) or nil, count = #copied }
  end)
  if not ok then return nil, err end
  return core.set(copied)
end

return M
