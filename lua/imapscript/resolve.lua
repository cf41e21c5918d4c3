-- resolve.lua — what became of the journal entries a run left unfinished (a dropped connection,
-- a crash, a kill): looked up on the server when an account connects, before it does anything
-- else. A COPY whose copies exist in the target is not copied again, only its originals are
-- expunged; a STORE is applied again; the \Deleted flags cleared for an EXPUNGE without UIDPLUS
-- are restored. Messages are recognised by UID and Message-ID together, so a mailbox recreated
-- meanwhile (new UIDVALIDITY) is never mistaken for the old one.
local core = require "imapscript.core"
local log = require "imapscript.log"
local journal = require "imapscript.journal"
local Result = require "imapscript.result"
local batch = require "imapscript.batch"
local transfer = require "imapscript.transfer"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local LOST = { network = true, closed = true }
local TOP = 4294967295      -- the largest UID: "n:TOP" is every UID from n on

local check = transfer.check

-- Selects mailbox name of acct; returns the mailbox object.
local function select(acct, name)
  local box = acct:mailbox(name)
  local h = acct:_select(acct.conn, box)
  if h then
    local ok, v = pcall(check, acct.conn, h)
    if not ok then
      acct:_deselect()
      error(v, 0)
    end
    acct.uidvalidity[name] = v.uidvalidity
  end
  return box
end

-- {uid -> {flags=, message_id=}} of set in the selected mailbox.
local function fetch_ids(conn, set)
  local out = {}
  check(conn, conn:fetch(set, { "uid", "flags", { "fields", "Message-ID" } }, function(m)
    if m.uid then out[m.uid] = { flags = m.flags or {}, message_id = batch.message_id(m.fields) } end
  end))
  return out
end

-- The entry's messages still in its mailbox: a set, and {uid -> flags}. With a pre-image, a
-- UID counts only while it still holds the same Message-ID.
local function present(acct, e)
  select(acct, e.mailbox)
  local pre = {}
  for _, m in ipairs(e:messages()) do pre[m.uid] = m end
  local here, flags = {}, {}
  for uid, m in pairs(fetch_ids(acct.conn, e.uids)) do
    local p = pre[uid]
    if not next(pre) or (p and p.message_id == m.message_id) then
      here[#here + 1] = uid
      flags[uid] = m.flags
    end
  end
  return core.set(here), flags
end

-- How many times each Message-ID of ids is found in mailbox name of acct, from UID uidnext on
-- (all when the UIDNEXT before the copy is unknown).
local function find(acct, name, uidnext, ids)
  local want = {}
  for _, id in ipairs(ids) do want[id] = true end
  select(acct, name)
  local found = {}
  local from = math.tointeger(uidnext) or 1
  for _, m in pairs(fetch_ids(acct.conn, core.set(string.format("%d:%d", from, TOP)))) do
    if m.message_id and want[m.message_id] then found[m.message_id] = (found[m.message_id] or 0) + 1 end
  end
  return found
end

-- Expunges exactly uids of the entry's mailbox, journaled as its repair.
local function expunge(acct, e, uids, why)
  if #uids == 0 then return end
  batch.run(acct, { { kind = "action", verb = "delete", src = Result.known(acct:mailbox(e.mailbox), uids),
    label = why, where = e.line, resolves = e.id } })
end

local function flagged(flags)
  for _, f in ipairs(flags) do if f:upper() == "\\DELETED" then return true end end
  return false
end

-- The Message-IDs of an entry's pre-image, and how many of its messages lack one.
local function ids_of(e)
  local ids, missing = {}, 0
  for _, m in ipairs(e:messages()) do
    if m.message_id then ids[#ids + 1] = m.message_id else missing = missing + 1 end
  end
  return ids, missing
end

-- Copies made (COPY or APPEND) for entry e: the originals of a move are expunged.
local function copies_made(acct, e, dest_acct, what)
  local ids, missing = ids_of(e)
  if e.state == "copied" then
    if e.verb == "move" then
      local here = present(acct, e)
      expunge(acct, e, here, "expunge the originals of " .. (e.label or "a move"))
      return e:resolved(string.format("copied; %d originals expunged now", #here), true, e.count)
    end
    return e:resolved("copied", true, e.count)
  end
  if missing == 0 and #ids == 0 then
    -- A transfer records each chunk before appending it: nothing recorded, nothing sent.
    return e:resolved(string.format("not done: the %s had not started", what), false, 0)
  end
  if #ids == 0 then
    e.unknown = true
    return e:resolved(string.format("cannot tell whether the %s was made: the messages have " ..
      "no Message-ID; the originals are kept", what), false)
  end
  local found = find(dest_acct, e.dest_mailbox, e.dest_uidnext, ids)
  -- Each copy found stands for one original: of two messages with the same Message-ID of which
  -- one was copied, only one original counts as copied (and is expunged).
  local done = {}
  for _, m in ipairs(e:messages()) do
    local n = m.message_id and found[m.message_id]
    if n and n > 0 then
      done[#done + 1] = m.uid
      found[m.message_id] = n - 1
    end
  end
  done = core.set(done)
  if #done == 0 then
    return e:resolved(string.format("not done: no copies in %s", e.dest_mailbox), false, 0)
  end
  if e.verb == "move" then
    local here = present(acct, e)
    expunge(acct, e, here * done, "expunge the originals of " .. (e.label or "a move"))
  end
  local all = #done == #e:messages() - missing
  e:resolved(string.format("%d of %d copied before the connection dropped%s", #done,
    #e:messages(), e.verb == "move" and "; their originals expunged now" or ""), all, #done)
  -- What was copied is not copied again when this run goes on after a reconnection.
  e.done_uids = done
end

local resolvers = {}

resolvers.MOVE = function(acct, e)
  if not e.uids then
    return e:resolved("unknown how many: the answer was lost; MOVE is atomic, nothing is " ..
      "half-done, and the rule moves what is left when it runs again", false)
  end
  local here = present(acct, e)
  local gone = e.uids - here
  e:resolved(string.format("%d moved before the connection dropped, %d not", #gone, #here),
    #here == 0, #gone)
end

resolvers.STORE = function(acct, e)
  if e.verb == "undelete" then
    local here = present(acct, e)
    if #here > 0 then check(acct.conn, acct.conn:store(here, "+", { "\\Deleted" })) end
    return e:resolved(string.format("\\Deleted restored on %d messages", #here), true, #here)
  end
  if not e.uids then
    return e:resolved("unknown which messages: the rule applies the flags when it runs again",
      false)
  end
  local here = present(acct, e)
  if #here > 0 then check(acct.conn, acct.conn:store(here, e.mode, e.flags)) end
  e:resolved(string.format("applied again to %d messages", #here), true, #here)
end

resolvers.EXPUNGE = function(acct, e)
  if not e.uids then
    return e:resolved("unknown which messages: the rule deletes what is left when it runs again",
      false)
  end
  local here, flags = present(acct, e)
  local marked = {}
  for uid in here:uids() do if flagged(flags[uid]) then marked[#marked + 1] = uid end end
  marked = core.set(marked)
  expunge(acct, e, marked, "expunge what " .. (e.label or "a delete") .. " flagged")
  local left = here - marked
  e:resolved(string.format("%d expunged, %d not flagged (not done)", #(e.uids - left), #left),
    #left == 0, #(e.uids - left))
end

resolvers.COPY = function(acct, e) copies_made(acct, e, acct, "copy") end

resolvers.APPEND = function(acct, e, accounts)
  if e.verb == "append" then
    -- box:append: the message is there (by its Message-ID) or it is not.
    local ids = ids_of(e)
    if #ids == 0 then
      e.unknown = true
      return e:resolved("cannot tell whether the message was appended: it has no Message-ID", false)
    end
    local n = 0
    for _, k in pairs(find(acct, e.dest_mailbox, e.dest_uidnext, ids)) do n = n + k end
    return e:resolved(n > 0 and "appended before the connection dropped" or "not appended", n > 0, n)
  end
  local dest
  for _, a in ipairs(accounts) do
    if journal.key(a.cfg) == e.dest_account and not a.closed then dest = a end
  end
  if not dest then
    log.warn(string.format("%s: %s: the transfer to %s was cut off; it is resolved by a run " ..
      "that uses that account too", acct.label, e.line or "?", e.dest_account))
    return
  end
  dest:_connection()
  copies_made(acct, e, dest, "transfer")
end

-- CREATE, DELETE, RENAME, (UN)SUBSCRIBE: done or not, as LIST shows the mailboxes now.
resolvers.MAILBOX = function(acct, e)
  local function exists(name)
    return #acct:mailboxes(name) > 0
  end
  local done = ({
    create = function() return exists(e.mailbox) end,
    delete = function() return not exists(e.mailbox) end,
    rename = function() return exists(e.dest_mailbox) and not exists(e.mailbox) end,
  })[e.verb]
  local complete = not done or done()
  e:resolved(complete and "done before the connection dropped" or "not done", complete)
end

--- Resolves the unfinished entries of acct (connected): accounts are the run's, for transfers.
function M.account(acct, accounts)
  local entries = journal.open_entries(journal.key(acct.cfg))
  for _, e in ipairs(entries) do
    local fn = resolvers[e.method]
    if fn then
      local ok, err = pcall(fn, acct, e, accounts)
      if not ok then
        if type(err) == "table" and LOST[err.kind] then error(err, 0) end
        log.warn(string.format("%s: could not resolve the unfinished %s of %s: %s", acct.label,
          e.label or e.verb, e.line or "an earlier run", tostring(err.message or err)))
      elseif e.state == "resolved" then
        log.action(string.format("resolved %s: %s%s: %s", e.line or "?", e.label or e.verb,
          e.run ~= journal.run_id() and string.format(" (run %s)", tostring(e.run)) or "",
          e.outcome))
      end
    end
  end
end

return M
