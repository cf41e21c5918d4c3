-- Round trips, counted by a proxy on loopback (build/rtproxy: a client write after a server
-- write is one round trip): rules cost a handful, not one per rule or per message.
local S = require "tests.integration.support"

-- Round trips that body costs: the proxy snapshots its counts (SIGUSR1) once the prelude
-- (login, ENABLE, the delimiter lookup, a STATUS) is done and again after body and a
-- flush, both while the connection is idle, so connecting and closing do not count.
local function round_trips(body, over)
  local stats = os.tmpname()
  local p = io.popen(string.format("exec build/rtproxy 0 %s %s %s 20", S.env("TESTBED_HOST"),
    S.env("TESTBED_TLS_PORT"), stats), "r")
  local port, pid = p:read("l"):match("PORT (%d+) PID (%d+)")
  local script = S.script(string.format([[
    local function snapshot()
      local function read()
        local f = io.open(%q)
        local t = f and f:read("a") or ""
        if f then f:close() end
        return tonumber(t:match("snapshots (%%d+)")) or 0, tonumber(t:match("round_trips (%%d+)"))
      end
      local before = read()
      os.execute("kill -USR1 %s")
      for _ = 1, 500 do
        local n, rt = read()
        if n > before then return rt end
        os.execute("sleep 0.01")
      end
      error("the proxy took no snapshot")
    end
    acct.Dest1:status()
    local start = snapshot()
    %s
    acct:flush()
    print("RT " .. (snapshot() - start))
  ]], stats, pid, body), { port = tonumber(port), create = over and over.create })
  local code, out, err = S.run("-q " .. script)
  assert.are.equal(0, code, err)
  p:close()   -- the proxy exits when the client is gone
  return tonumber(out:match("RT (%d+)"))
end

-- Five rules, each a search and an action, into Dest1..3 (which setup makes).
local FIVE_RULES = [[
  local inbox = acct.INBOX
  inbox:search(Q.header("List-Id", "lua-l")):move_to(acct.Dest1)
  inbox:search(Q.from "grace"):mark_flagged()
  inbox:search(Q.seen & Q.before "2023-01-01"):move_to(acct.Dest2)
  inbox:search(Q.larger(100000)):add_flags { "$Big" }
  inbox:search(Q.subject "PATCH"):copy_to(acct.Dest3)
]]

describe("round trips", function()
  setup(function()
    S.seed("INBOX", 200, 71)
    S.seed("Known", 50, 72)
    local imap = require("imapscript")._configure { quiet = true }
    local a = imap.account(S.account_cfg())
    for _, name in ipairs { "Dest1", "Dest2", "Dest3" } do a:create(name) end
    a:logout()
  end)

  it("five rules, each a search and an action, cost at most 2 after login", function()
    local n = round_trips(FIVE_RULES)
    assert.is_true(n >= 1 and n <= 2, string.format("%d round trips after login", n))
    -- and they did their work
    assert.are.equal(200, S.count("INBOX") + S.count("Dest1") + S.count("Dest2"))
    assert.is_true(S.count("Dest1") > 0 and S.count("Dest2") > 0 and S.count("Dest3") > 0)
    local big = 0
    for _, flags in pairs(S.state("INBOX")) do if flags:find("$Big", 1, true) then big = big + 1 end end
    assert.is_true(big > 0)
  end)

  it("with create = true, the same rules cost no more while their destinations exist", function()
    S.seed("INBOX", 200, 73)
    local n = round_trips(FIVE_RULES, { create = true })
    assert.is_true(n >= 1 and n <= 2, string.format("%d round trips after login", n))
    assert.is_true(S.count("Dest1") > 0 and S.count("Dest2") > 0)
  end)

  it("with create = true, a destination not known to exist costs a round trip at most", function()
    S.seed("INBOX", 200, 74)
    local n = round_trips([[
      local inbox = acct.INBOX
      inbox:search(Q.header("List-Id", "lua-l")):move_to(acct.New1)
      inbox:search(Q.from "grace"):mark_flagged()
      inbox:search(Q.subject "no such subject at all"):move_to(acct.New2)
    ]], { create = true })
    assert.is_true(n >= 2 and n <= 3, string.format("%d round trips after login", n))
    assert.is_true(S.count("New1") > 0)
    assert.is_false(S.exists("New2"))
  end)

  it("ten actions on known UID sets cost one", function()
    local n = round_trips([[
      for i = 1, 10 do acct.Known:uids { i, i + 20 }:add_flags { "$K" .. i } end
    ]])
    assert.are.equal(1, n, string.format("%d round trips after login", n))
    local tagged = 0
    for _, flags in pairs(S.state("Known")) do if flags:find("$K", 1, true) then tagged = tagged + 1 end end
    assert.are.equal(20, tagged)
  end)
end)
