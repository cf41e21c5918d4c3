-- Round trips, counted by a proxy on loopback (build/rtproxy: a client write after a server
-- write is one round trip): rules cost a handful, not one per rule or per message.
local S = require "tests.integration.support"

-- Runs body (after a prelude that opens the account and reads Dest1's status, so login,
-- ENABLE and the delimiter lookup are behind us) through a fresh proxy; returns round trips.
local function round_trips_once(body)
  local stats = os.tmpname()
  local p = io.popen(string.format("exec build/rtproxy 0 %s %s %s 20", S.env("TESTBED_HOST"),
    S.env("TESTBED_TLS_PORT"), stats), "r")
  local port = tonumber(p:read("l"):match("PORT (%d+)"))
  local script = S.script("acct.Dest1:status()\n" .. body, { port = port })
  local code, _, err = S.run("-q " .. script)
  assert.are.equal(0, code, err)
  p:close()   -- the proxy exits when the client is gone
  local f = assert(io.open(stats))
  local n = tonumber(f:read("a"):match("round_trips (%d+)"))
  f:close()
  return n
end

-- The least of three runs: at the very end the client's TLS close_notify races the server
-- closing, so the proxy sometimes sees one more client write. That noise only adds.
local function round_trips(body)
  local n = math.huge
  for _ = 1, 3 do n = math.min(n, round_trips_once(body)) end
  return n
end

describe("round trips", function()
  local baseline
  setup(function()
    S.seed("INBOX", 200, 71)
    S.seed("Known", 50, 72)
    local imap = require("imapscript")._configure { quiet = true }
    local a = imap.account(S.account_cfg())
    for _, name in ipairs { "Dest1", "Dest2", "Dest3" } do a:create(name) end
    a:logout()
    baseline = round_trips("")
  end)

  it("five rules, each a search and an action, cost at most 2 after login", function()
    local n = round_trips([[
      local inbox = acct.INBOX
      inbox:search(Q.header("List-Id", "lua-l")):move_to(acct.Dest1)
      inbox:search(Q.from "grace"):mark_flagged()
      inbox:search(Q.seen & Q.before "2023-01-01"):move_to(acct.Dest2)
      inbox:search(Q.larger(100000)):add_flags { "$Big" }
      inbox:search(Q.subject "PATCH"):copy_to(acct.Dest3)
    ]])
    assert.is_true(n - baseline <= 2, string.format("%d round trips after login", n - baseline))
    -- and they did their work
    assert.are.equal(200, S.count("INBOX") + S.count("Dest1") + S.count("Dest2"))
    assert.is_true(S.count("Dest1") > 0 and S.count("Dest2") > 0 and S.count("Dest3") > 0)
    local big = 0
    for _, flags in pairs(S.state("INBOX")) do if flags:find("$Big", 1, true) then big = big + 1 end end
    assert.is_true(big > 0)
  end)

  it("ten actions on known UID sets cost one", function()
    local n = round_trips([[
      for i = 1, 10 do acct.Known:uids { i, i + 20 }:add_flags { "$K" .. i } end
    ]])
    assert.is_true(n - baseline <= 1, string.format("%d round trips after login (%d in all, baseline %d)", n - baseline, n, baseline))
    local tagged = 0
    for _, flags in pairs(S.state("Known")) do if flags:find("$K", 1, true) then tagged = tagged + 1 end end
    assert.are.equal(20, tagged)
  end)
end)
