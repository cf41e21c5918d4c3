-- bench_fetch.lua — run by scripts/bench-fetch against one test bed (TESTBED_* in the
-- environment): bytes received for a 10 MiB attachment and for 2,000 previews.
local kind = os.getenv("BENCH_KIND")
local acct = imap.account { host = os.getenv("TESTBED_HOST"), port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  ca_file = os.getenv("TESTBED_CA"), user = "alice", password = os.getenv("TESTBED_PASSWORD") }

-- 10 MiB of pseudo-random bytes, as a base64 attachment (76-character lines, padded).
local bytes = {}
local x = 12345
for i = 1, 10 * 2^20 do
  x = (x * 1103515245 + 12345) % 2^31
  bytes[i] = string.char(x >> 23)
end
local blob = table.concat(bytes)
bytes = nil
local abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local lines, line = {}, {}
for i = 1, #blob, 3 do
  local a, b, c = blob:byte(i, i + 2)
  local n = a * 65536 + (b or 0) * 256 + (c or 0)
  for k = 3, 0, -1 do local d = (n >> (6 * k)) % 64 + 1; line[#line + 1] = abc:sub(d, d) end
  if not b then line[#line - 1] = "=" end
  if not c then line[#line] = "=" end
  if #line == 76 then lines[#lines + 1] = table.concat(line); line = {} end
end
if #line > 0 then lines[#lines + 1] = table.concat(line) end
acct:create "Big"
acct.Big:append("Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" ..
  "--B\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n--B\r\nContent-Type: application/" ..
  "octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" .. table.concat(lines, "\r\n") .. "\r\n--B--\r\n")
lines = nil

local conn = acct:_connection()
local function measure(what, r, items, each)
  r:count()                        -- the search's own round trip, not counted
  collectgarbage()
  local s0, t0 = conn:stats(), os.time()
  local c0 = os.clock()
  for m in r:fetch(items) do each(m) end
  local s1 = conn:stats()
  print(string.format("%-8s %-28s %8.2f MiB in  %3d round trips  %5.2f s cpu", kind, what,
    (s1.bytes_in - s0.bytes_in) / 2^20, s1.round_trips - s0.round_trips, os.clock() - c0))
end

measure("10 MiB attachment, part:2", acct.Big:all(), { "part:2" }, function(m)
  assert(m:part_text("2") == blob, "the attachment came back different")
end)
local n = 0
measure("2,000 previews", acct.Digest:all(), { "preview" }, function(m)
  assert(m.preview)
  n = n + 1
end)
assert(n == 2000)
acct:logout()
