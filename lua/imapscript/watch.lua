-- watch.lua — imap.watch: run a function whenever mailboxes get new mail, as a daemon.
-- Each account IDLEs on its first watched mailbox (NOOP polling where IDLE is missing);
-- on a wake-up or every `interval` seconds, one pipelined STATUS per watched mailbox
-- tells which ones changed.
local core = require "imapscript.core"
local log = require "imapscript.log"
log.internal(debug.getinfo(1, "S").source)

local M = {}

-- Error kinds that mean the connection is gone, not that the script is wrong.
local CONNECTION_LOST = { network = true, closed = true, protocol = true }

local function usage(msg) error(core.error("usage", "imap.watch: " .. msg), 3) end

-- {box -> "uidnext:messages"} for the boxes of one account, in one round trip.
local function snapshot(acct, boxes, into)
  acct:flush()
  local conn = acct:_connection()
  local handles = {}
  for i, box in ipairs(boxes) do handles[i] = conn:status(box:_wire()) end
  conn:wait()
  for i, box in ipairs(boxes) do
    local st, err = handles[i]:result()
    if not st then error(err, 0) end
    into[box] = string.format("%s:%s", tostring(st.uidnext), tostring(st.messages))
  end
end

--- imap.watch(boxes, fn [, opts]): calls fn(box) at start and whenever box changes.
--- opts.interval: seconds between checks (default 300, also the IDLE restart period);
--- opts.rounds: stop after that many checks (for tests); fn returning false stops too.
--- A dropped connection is re-made (after 1, 2, 4 ... 60 s); changes made meanwhile
--- are seen at the next check.
function M.run(boxes, fn, opts)
  if type(boxes) ~= "table" then usage("want a list of mailboxes") end
  if boxes.account then boxes = { boxes } end
  if #boxes == 0 then usage("want at least one mailbox") end
  if type(fn) ~= "function" then usage("want a function to call") end
  opts = opts or {}
  local interval = opts.interval or 300
  local by_acct, order = {}, {}
  for i, box in ipairs(boxes) do
    if type(box) ~= "table" or not box.account then usage("item " .. i .. " is not a mailbox") end
    local a = box.account
    if not by_acct[a] then by_acct[a] = {}; order[#order + 1] = a end
    table.insert(by_acct[a], box)
  end

  local state = {}
  local function call(box)
    local ok, keep = pcall(fn, box)
    if not ok then error(keep, 0) end
    box.account:flush()
    return keep ~= false
  end
  for _, a in ipairs(order) do snapshot(a, by_acct[a], state) end
  if opts.initial ~= false then
    for _, box in ipairs(boxes) do
      if not call(box) then return end
    end
    for _, a in ipairs(order) do snapshot(a, by_acct[a], state) end
  end

  -- One IDLE wait on account a and the calls it leads to; false when fn asked to stop.
  local function check(a, slice)
    local conn = a:_connection()
    local h = a:_select(conn, by_acct[a][1])
    if h then
      conn:wait(h)
      local ok, err = h:result()
      if not ok then error(err, 0) end
    end
    local how, err = conn:idle(slice)
    if how == nil then
      if err and err.kind ~= "capability" then error(err, 0) end
      os.execute("sleep " .. slice)     -- no IDLE: wait here, then look
    end
    log.info(string.format("watch: %s %s", a.label, how or "poll"))
    local now = {}
    snapshot(a, by_acct[a], now)
    for _, box in ipairs(by_acct[a]) do
      if now[box] ~= state[box] then
        if not call(box) then return false end
        local after = {}
        snapshot(a, { box }, after)
        now[box] = after[box]
      end
      state[box] = now[box]
    end
    return true
  end

  -- A daemon outlives its connections: a dropped one is logged and the account
  -- reconnects after a pause that doubles up to a minute. Other errors end the watch.
  local pause = {}
  local rounds = 0
  while not opts.rounds or rounds < opts.rounds do
    rounds = rounds + 1
    local slice = math.max(1, math.floor(interval / #order))
    for _, a in ipairs(order) do
      local ok, res = pcall(check, a, slice)
      if ok then
        pause[a] = nil
        if res == false then return end
      elseif type(res) == "table" and CONNECTION_LOST[res.kind] then
        local wait = pause[a] or 1
        log.warn(string.format("watch: %s; reconnecting in %d s", tostring(res.message), wait))
        a:_reset()
        os.execute("sleep " .. wait)
        pause[a] = math.min(60, wait * 2)
      else
        error(res, 0)
      end
    end
  end
end

return M
