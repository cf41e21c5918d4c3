-- watch.lua — the two processes of scripts/bench-watch, on the test bed whose TESTBED_*
-- variables are set, for the first BENCH_USERS users and their BENCH_BOXES:
--   imapscript watch.lua watch     watches them, moves every new message to Filed/<box> at
--     once and prints "MOVED user box uid time" when the move is confirmed; "READY seconds
--     rss_kb" once the BENCH_READY messages there at start are filed, "MEMORY rss_kb hwm_kb"
--     at the end; stops after BENCH_EXPECT messages or BENCH_SECONDS.
--   imapscript watch.lua deliver   APPENDs BENCH_COUNT messages at random moments (gaps of
--     BENCH_GAP seconds on average) into random mailboxes, one connection per user, and
--     prints "SENT user box uid time" once each is confirmed.
-- Times are CLOCK_MONOTONIC (core.now), the same clock in both processes.
local core = require "imapscript.core"
io.stdout:setvbuf("line")

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

-- Settings of the test bed's user i (alice, bob, carol, then user4...).
local function cfg(i)
  local names = { "alice", "bob", "carol" }
  local pws = { env("TESTBED_PASSWORD"), env("TESTBED_PASSWORD2"), env("TESTBED_PASSWORD3") }
  return { host = env("TESTBED_HOST"), port = tonumber(env("TESTBED_TLS_PORT")),
           ca_file = env("TESTBED_CA"), user = names[i] or ("user" .. i),
           password = pws[i] or ("user" .. i .. "-secret") }
end

local users = tonumber(env("BENCH_USERS", "3"))
local boxes = {}
for b in env("BENCH_BOXES", "INBOX"):gmatch("%S+") do boxes[#boxes + 1] = b end

local function memory()
  local out = {}
  for line in io.lines("/proc/self/status") do
    local k, v = line:match("^(Vm%u%u%u?):%s+(%d+) kB")
    if k then out[k] = tonumber(v) end
  end
  return out.VmRSS, out.VmHWM
end

local function watch()
  local watched = {}
  for i = 1, users do
    local c = cfg(i)
    c.create = true
    local acct = imap.account(c)
    for _, b in ipairs(boxes) do watched[#watched + 1] = acct[b] end
  end
  local ready_at, expect = tonumber(env("BENCH_READY", "0")), tonumber(env("BENCH_EXPECT", "0"))
  local started, moved = core.now(), 0
  imap.watch(watched, function(box, new)
    local uids = {}
    for uid in new:uids() do uids[#uids + 1] = uid end
    new:move_to(box.account["Filed/" .. box.name])
    box.account:flush()
    local t = core.now()
    for _, uid in ipairs(uids) do
      print(string.format("MOVED %s %s %d %.4f", box.account.cfg.user, box.name, uid, t))
    end
    local before = moved
    moved = moved + #uids
    if before < ready_at and moved >= ready_at then
      print(string.format("READY %.3f %d", core.now() - started, memory()))
    end
    return expect == 0 or moved < expect
  end, { duration = tonumber(env("BENCH_SECONDS", "300")) })
  print(string.format("MEMORY %d %d", memory()))
end

local function deliver()
  local conns = {}
  for i = 1, users do conns[i] = core.connect(cfg(i)) end
  math.randomseed(tonumber(env("BENCH_SEED", "1")))
  local gap = tonumber(env("BENCH_GAP", "0.1"))
  for n = 1, tonumber(env("BENCH_COUNT", "300")) do
    local due = core.now() - math.log(1 - math.random()) * gap
    while core.now() < due do core.loop_wait(due - core.now()) end
    local i, box = math.random(#conns), boxes[math.random(#boxes)]
    local h = conns[i]:append(box, string.format("From: bench@example.org\r\nSubject: delivery %d\r\n" ..
      "Message-ID: <bench%d@example.org>\r\n\r\nmessage %d\r\n", n, n, n))
    conns[i]:wait(h)
    local v = assert(h:result())
    print(string.format("SENT %s %s %d %.4f", cfg(i).user, box, v.uid, core.now()))
  end
  for _, c in ipairs(conns) do c:logout() end
end

if arg[1] == "watch" then watch()
elseif arg[1] == "deliver" then deliver()
else error("usage: imapscript tests/bench/watch.lua watch|deliver") end
