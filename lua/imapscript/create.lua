-- create.lua — `create = true`: a destination is created only when something is moved there.
-- Which mailboxes exist is learnt from one LIST per connection, sent with its first commands.
local log = require "imapscript.log"
local journal = require "imapscript.journal"
log.internal(debug.getinfo(1, "S").source)

local M = {}

--- Queues LIST "" "*" on a new connection of an account that may create mailboxes. The
--- delimiter lookup every named mailbox needs writes it out, so it costs no round trip.
function M.learn(acct, conn)
  if acct.cfg.create then acct.listing = conn:list("", "*") end
end

-- Folds the LIST's answer into acct.exists (once): selectable mailboxes exist.
local function take_listing(acct)
  local h = acct.listing
  acct.listing = nil
  if not h:done() then acct.conn:wait(h) end
  local list = h:result()
  if not list then return end      -- no list: every destination counts as unknown
  for _, e in ipairs(list) do
    local closed = false
    for _, f in ipairs(e.flags or {}) do
      local u = f:upper()
      closed = closed or u == "\\NOSELECT" or u == "\\NONEXISTENT"
    end
    if not closed then acct.exists[acct:_script_name(e.name)] = true end
  end
end

--- True when box is known to exist (or is INBOX, which always does).
function M.known(acct, box)
  if box.name == "INBOX" or acct.exists[box.name] then return true end
  box:_wire()                       -- the delimiter lookup sends a queued LIST too
  if acct.listing then take_listing(acct) end
  return acct.exists[box.name] == true
end

local function reason(err) return tostring(type(err) == "table" and err.message or err) end

--- Queues CREATE box on conn, registering its handle with track(handle, finish); once it is
--- created, SUBSCRIBE too with the account's subscribe = true (only then: a refused CREATE
--- leaves no subscription behind). fail(err) gets a CREATE refused for another reason than
--- "it exists"; a refused SUBSCRIBE is a warning. Both are journaled (where: the script line).
function M.create(acct, conn, box, track, fail, where)
  local wire = box:_wire()
  acct.exists[box.name] = true      -- later moves in this batch do not create it again
  local e = journal.mailbox_entry(acct, "create", box.name, nil, where)
  track(conn:create(wire), function(ok, err)
    if not ok then
      e:failed(reason(err))         -- also when it exists: not this run's to delete
      if err.code == "ALREADYEXISTS" then return end
      acct.exists[box.name] = nil
      return fail(err)
    end
    e:done()
    log.action("created " .. box.name)
    if not acct.cfg.subscribe then return end
    local se = journal.mailbox_entry(acct, "subscribe", box.name, nil, where)
    track(conn:subscribe(wire), function(subscribed, serr)
      if subscribed then return se:done() end
      se:failed(reason(serr))
      log.warn(string.format("subscribe %s: %s", box.name, reason(serr)))
    end)
  end)
end

return M
