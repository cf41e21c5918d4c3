-- watch_deliver.lua — the delivering side of scripts/bench-watch: BENCH_COUNT messages at random
-- moments (exponential gaps averaging BENCH_GAP seconds) into random BENCH_BOXES of the first
-- BENCH_USERS users, by APPEND on a connection per user; prints "SENT user box uid time" once
-- each APPEND is confirmed (time: CLOCK_MONOTONIC, the watcher's clock too).
local core = require "imapscript.core"
io.stdout:setvbuf("line")

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local names = { "alice", "bob", "carol" }
local pws = { env("TESTBED_PASSWORD"), env("TESTBED_PASSWORD2"), env("TESTBED_PASSWORD3") }
local conns = {}
for i = 1, tonumber(env("BENCH_USERS", "3")) do
  conns[i] = core.connect {
    host = env("TESTBED_HOST"), port = tonumber(env("TESTBED_TLS_PORT")), ca_file = env("TESTBED_CA"),
    user = names[i] or ("user" .. i), password = pws[i] or ("user" .. i .. "-secret"),
  }
end
local boxes = {}
for b in env("BENCH_BOXES", "INBOX"):gmatch("%S+") do boxes[#boxes + 1] = b end

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
  print(string.format("SENT %s %s %d %.4f", names[i] or ("user" .. i), box, v.uid, core.now()))
end
for _, c in ipairs(conns) do c:logout() end
