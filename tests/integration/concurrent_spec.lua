-- Several accounts' batches go out at once: through proxies that hold every chunk 500 ms
-- each way (a round trip costs a second), imap.flush() and the end of a script cost about
-- the round trips of one account, not their sum. Each proxy counts its round trips.
local S = require "tests.integration.support"
local core = require "imapscript.core"

local DELAY = 500
local USERS = { "alice", "bob", "carol" }

-- A proxy that starts delaying at its first snapshot (connecting stays fast).
local function proxy()
  local stats = os.tmpname()
  local p = io.popen(string.format("exec build/rtproxy 0 %s %s %s 60 %d", S.env("TESTBED_HOST"),
    S.env("TESTBED_TLS_PORT"), stats, -DELAY), "r")
  local port, pid = p:read("l"):match("PORT (%d+) PID (%d+)")
  return { pipe = p, port = tonumber(port), pid = pid, stats = stats }
end

-- Lua source for a table constructor of cfg.
local function literal(cfg)
  local fields = {}
  for k, v in pairs(cfg) do
    fields[#fields + 1] = string.format("%s = %s", k, type(v) == "string" and string.format("%q", v) or tostring(v))
  end
  table.sort(fields)
  return "{ " .. table.concat(fields, ", ") .. " }"
end

describe("several accounts", function()
  it("flush side by side: one round trip each, and the time of one", function()
    local proxies, accounts = {}, {}
    for i, user in ipairs(USERS) do
      S.seed("INBOX", 5, 200 + i, user)
      proxies[i] = proxy()
      accounts[i] = literal(S.account_cfg({ port = proxies[i].port }, i))
    end
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(string.format([[
      local core = require "imapscript.core"
      local accts = { imap.account %s, imap.account %s, imap.account %s }
      local pids, stats = { %s, %s, %s }, { %q, %q, %q }
      -- Has each proxy snapshot its counts (while the connections are idle); returns the
      -- round trips each had counted by then.
      local function snapshot()
        local function read(file)
          local h = io.open(file)
          local t = h and h:read("a") or ""
          if h then h:close() end
          return tonumber(t:match("snapshots (%%d+)")) or 0, tonumber(t:match("round_trips (%%d+)"))
        end
        local before, rts = {}, {}
        for i = 1, 3 do before[i] = read(stats[i]) end
        os.execute("kill -USR1 " .. table.concat(pids, " "))
        for i = 1, 3 do
          for _ = 1, 500 do
            local n, rt = read(stats[i])
            if n > before[i] then rts[i] = rt break end
            os.execute("sleep 0.01")
          end
          if not rts[i] then error("proxy " .. i .. " took no snapshot") end
        end
        return rts
      end
      for _, a in ipairs(accts) do a.INBOX:status() end     -- connected, delimiter known
      local rt0 = snapshot()                                -- the proxies delay from here on
      for _, a in ipairs(accts) do a.INBOX:uids { 1, 2 }:add_flags { "$Flush" } end
      local t0 = core.now()
      imap.flush()
      print(string.format("FLUSH %%.3f", core.now() - t0))
      local rt1 = snapshot()
      for i = 1, 3 do print(string.format("RT %%d %%d", i, rt1[i] - rt0[i])) end
      for _, a in ipairs(accts) do a.INBOX:uids { 3 }:add_flags { "$End" } end
      print(string.format("END %%.3f", core.now()))
    ]], accounts[1], accounts[2], accounts[3], proxies[1].pid, proxies[2].pid, proxies[3].pid,
      proxies[1].stats, proxies[2].stats, proxies[3].stats))
    f:close()
    local code, out, err = S.run("-q " .. path)
    local finished = core.now()
    assert.are.equal(0, code, err)
    -- Sequential flushes would take three round trips (3 s); side by side about one.
    local flush = tonumber(out:match("FLUSH ([%d.]+)"))
    assert.is_true(flush >= 0.9 and flush < 2.0, "imap.flush took " .. tostring(flush) .. " s")
    -- The end of the script: flush and LOGOUT, each account's overlapping (6 s one by one).
    local ending = finished - tonumber(out:match("END ([%d.]+)"))
    assert.is_true(ending < 4.0, "the end of the script took " .. ending .. " s")
    -- Each connection: SELECT and STORE in one round trip.
    for i, px in ipairs(proxies) do
      assert.are.equal("1", out:match("RT " .. i .. " (%d+)"), out)
      px.pipe:close()
    end
    for i, user in ipairs(USERS) do
      local flush_n, end_n = 0, 0
      for _, flags in pairs(S.state("INBOX", user)) do
        if flags:find("$Flush", 1, true) then flush_n = flush_n + 1 end
        if flags:find("$End", 1, true) then end_n = end_n + 1 end
      end
      assert.are.equal(2, flush_n, user)
      assert.are.equal(1, end_n, user)
    end
  end)
end)
