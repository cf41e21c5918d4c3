-- watch_watcher.lua — the watching side of scripts/bench-watch: watches BENCH_BOXES of the first
-- BENCH_USERS users of the test bed, moves every new message to Filed/<box> at once and prints
-- "MOVED user box uid time" when the move is confirmed. Prints "READY seconds rss_kb" once the
-- BENCH_READY messages there at start are filed, and "MEMORY rss_kb hwm_kb" at the end; stops
-- after BENCH_EXPECT messages or BENCH_SECONDS.
local core = require "imapscript.core"
io.stdout:setvbuf("line")

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function user(i)
  local names = { "alice", "bob", "carol" }
  local pws = { env("TESTBED_PASSWORD"), env("TESTBED_PASSWORD2"), env("TESTBED_PASSWORD3") }
  if i <= 3 then return names[i], pws[i] end
  return "user" .. i, "user" .. i .. "-secret"
end

local function memory()
  local out = {}
  for line in io.lines("/proc/self/status") do
    local k, v = line:match("^(Vm%u%u%u?):%s+(%d+) kB")
    if k then out[k] = tonumber(v) end
  end
  return out.VmRSS, out.VmHWM
end

local boxes = {}
for b in env("BENCH_BOXES", "INBOX"):gmatch("%S+") do boxes[#boxes + 1] = b end
local watched = {}
for i = 1, tonumber(env("BENCH_USERS", "3")) do
  local name, pw = user(i)
  local acct = imap.account {
    host = env("TESTBED_HOST"), port = tonumber(env("TESTBED_TLS_PORT")), ca_file = env("TESTBED_CA"),
    user = name, password = pw, create = true,
  }
  for _, b in ipairs(boxes) do watched[#watched + 1] = acct[b] end
end

local ready_at, expect = tonumber(env("BENCH_READY", "0")), tonumber(env("BENCH_EXPECT", "0"))
local started, moved = core.now(), 0
if ready_at == 0 then print(string.format("READY 0 %d", memory())) end
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
