-- transfer.lua — copying messages to another account: each message's FETCH literal is written
-- into an APPEND on the other connection as it arrives (several per MULTIAPPEND where offered;
-- conn:transfer), flags and internal dates kept, in bounded memory whatever the sizes. Each
-- chunk's messages (Message-ID, flags) join the journal entry before they are appended, so
-- that a cut-off transfer is resolved by what the destination holds. Only what the destination
-- confirmed counts as appended; removing the originals of a move is the caller's (batch.lua).
local core = require "imapscript.core"
local Result = require "imapscript.result"
local create = require "imapscript.create"
local log = require "imapscript.log"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local CHUNK = 50        -- messages per FETCH (and MULTIAPPEND): what a failure costs at most

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
--- journal entry e first. Returns the set of source UIDs the destination confirmed, or nil
--- and the error (after an error, what was appended before it is in e).
function M.run(src_acct, box, set, op, e)
  local dest = op.dest
  local dest_acct = dest.account
  local copied, dest_uids = core.set(""), core.set("")
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
      end, function(cerr) refused = cerr end, op.where)
      if refused then error(refused, 0) end
    end
    -- Where the copies will start: a resolution looks for them from there.
    local st = dconn:status(dest:_wire())
    dconn:wait(st)
    local info = st:result()
    if info then e:update { dest_uidnext = info.uidnext, dest_uidvalidity = info.uidvalidity } end
    local multi = dconn:has("MULTIAPPEND")
    for chunk in Result.chunks(set, CHUNK) do
      -- What the journal needs of each message comes first, without its body.
      local pre = {}
      check(sconn, sconn:fetch(chunk, { "uid", "flags", "size", { "fields", "Message-ID" } },
        function(m)
          if m.uid then
            pre[#pre + 1] = { uid = m.uid, flags = keep_flags(m.flags), size = m.size,
                              message_id = M.message_id(m.fields) }
          end
        end))
      table.sort(pre, function(a, b) return a.uid < b.uid end)
      e:add_messages(pre)
      local r = check(sconn, sconn:transfer(chunk, dconn, dest:_wire(), { multiappend = multi }))
      copied = copied + r.copied
      dest_uids = dest_uids + r.uids
      if r.error then
        error(core.error(r.error.kind, string.format("%s: %s", dest_acct.label, r.error.message),
          r.error), 0)
      end
    end
    e:update { dest_uids = #dest_uids > 0 and dest_uids or nil, count = #copied }
  end)
  if not ok then return nil, err end
  return copied
end

return M
