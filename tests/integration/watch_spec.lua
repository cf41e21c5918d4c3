-- imap.watch as a daemon: every watched mailbox of every account is heard (NOTIFY, or IDLE
-- and STATUS polls when NOTIFY is hidden), each new message reaches the callback once, also
-- when it arrives during a callback, and a dropped account reconnects while others go on.
-- Mail is delivered by APPEND on connections of the watching script's own; the callback
-- moves what it gets to Done/<mailbox>, so the server state tells what was handled.
local S = require "tests.integration.support"

local BOUND = 5   -- seconds a delivery may take to reach the callback (the server adds 0.5)

-- A script watching boxes ({user, mailbox} pairs) of the bed env; body runs first, with
-- accts[user], a deliver(user, box [, n]) that APPENDs on a connection of its own and
-- prints "SENT user box uid time" per message, and got(user, box) counting callbacks.
-- The callback prints "GOT user box what uid time" per message and moves the new ones to
-- Done/<box> (unless the body sets move_new = false); on_event(user, box, what, new) (if the
-- body sets it) runs first and returns false to stop. opts is Lua text for the watch options.
local function watch_script(env, boxes, body, opts)
  local users = { alice = env.TESTBED_PASSWORD, bob = env.TESTBED_PASSWORD2 }
  local cfgs = {}
  for user, pw in pairs(users) do
    cfgs[#cfgs + 1] = string.format("%s = { host = %q, port = %s, ca_file = %q, user = %q, password = %q, create = true }",
      user, env.TESTBED_HOST, env.TESTBED_TLS_PORT, env.TESTBED_CA, user, pw)
  end
  local list = {}
  for _, b in ipairs(boxes) do list[#list + 1] = string.format("accts.%s[%q]", b[1], b[2]) end
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(string.format([[
    local core = require "imapscript.core"
    local cfgs = { %s }
    local accts = {}
    for user, cfg in pairs(cfgs) do accts[user] = imap.account(cfg) end
    local conns, serial = {}, 0
    local function deliver(user, box, n)
      local ok = conns[user] and conns[user]:alive()
      if not ok then conns[user] = core.connect(cfgs[user]) end
      local c, hs = conns[user], {}
      for i = 1, n or 1 do
        serial = serial + 1
        hs[i] = c:append(box, "Subject: watched " .. serial .. "\r\nMessage-ID: <w" .. serial ..
          "@watch.test>\r\n\r\nhello\r\n")
      end
      c:wait()
      for _, h in ipairs(hs) do
        local v = assert(h:result())
        print(string.format("SENT %%s %%s %%d %%.3f", user, box, v.uid, core.now()))
      end
    end
    local counts = {}
    local function got(user, box) return counts[user .. " " .. box] or 0 end
    local on_event, move_new = nil, true
    %s
    imap.watch({ %s }, function(box, new, what)
      local user = box.account.cfg.user
      local key = user .. " " .. box.name
      local n = new and #new or 0
      counts[key] = (counts[key] or 0) + n
      for uid in (new and new:uids() or function() end) do
        print(string.format("GOT %%s %%s %%s %%d %%.3f", user, box.name, what, uid, core.now()))
      end
      if not new then print(string.format("GOT %%s %%s %%s 0 %%.3f", user, box.name, what, core.now())) end
      local go = not on_event or on_event(user, box.name, what, new) ~= false
      if new and what == "new" and move_new then new:move_to(box.account["Done/" .. box.name]) end
      return go
    end, %s)
  ]], table.concat(cfgs, ", "), body, table.concat(list, ", "), opts or "{ duration = 40 }"))
  f:close()
  return path
end

-- {"user box" = {uid = time}} of the SENT lines, and of GOT lines ({uid = {times}}) per what.
local function parse(out)
  local sent, got = {}, {}
  for user, box, uid, t in out:gmatch("SENT (%S+) (%S+) (%d+) ([%d.]+)") do
    local k = user .. " " .. box
    sent[k] = sent[k] or {}
    sent[k][tonumber(uid)] = tonumber(t)
  end
  for user, box, what, uid, t in out:gmatch("GOT (%S+) (%S+) (%S+) (%d+) ([%d.]+)") do
    local k = what .. " " .. user .. " " .. box
    got[k] = got[k] or {}
    got[k][tonumber(uid)] = got[k][tonumber(uid)] or {}
    table.insert(got[k][tonumber(uid)], tonumber(t))
  end
  return sent, got
end

-- Every message sent reached the callback exactly once, within BOUND seconds.
local function assert_each_once(out, sent, got)
  local n = 0
  for k, uids in pairs(sent) do
    for uid, t in pairs(uids) do
      local times = (got["new " .. k] or {})[uid]
      assert.is_truthy(times, string.format("%s uid %d never handled\n%s", k, uid, out))
      assert.are.equal(1, #times, string.format("%s uid %d handled %d times", k, uid, #times))
      assert.is_true(times[1] - t < BOUND, string.format("%s uid %d took %.2f s", k, uid, times[1] - t))
      n = n + 1
    end
  end
  return n
end

local function bed_env()
  return {
    TESTBED_HOST = S.env("TESTBED_HOST"), TESTBED_TLS_PORT = S.env("TESTBED_TLS_PORT"),
    TESTBED_CA = S.env("TESTBED_CA"), TESTBED_PASSWORD = S.env("TESTBED_PASSWORD"),
    TESTBED_PASSWORD2 = S.env("TESTBED_PASSWORD2"),
  }
end

-- Dovecot's capabilities without NOTIFY (the watch then uses IDLE and polls).
local NO_NOTIFY = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY " ..
  "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT " ..
  "CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES " ..
  "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SPECIAL-USE"

describe("imap.watch", function()
  it("hears every mailbox of two accounts at once (NOTIFY); mail arriving during a callback is handled once", function()
    S.seed("INBOX", 2, 301)
    S.seed("Lists", 1, 302)
    S.seed("Work", 1, 303)
    S.seed("INBOX", 1, 304, "bob")
    local script = watch_script(bed_env(),
      { { "alice", "INBOX" }, { "alice", "Lists" }, { "alice", "Work" }, { "bob", "INBOX" } }, [[
      local phase = 0
      on_event = function(user, box, what, new)
        local initial = got("alice", "INBOX") + got("alice", "Lists") + got("alice", "Work") + got("bob", "INBOX")
        if phase == 0 and initial == 5 then
          phase = 1          -- every mailbox's mail at start is in: one message into each
          deliver("alice", "INBOX") deliver("alice", "Lists") deliver("alice", "Work") deliver("bob", "INBOX")
        elseif phase == 1 and user == "alice" and box == "INBOX" then
          phase = 2          -- more while this callback works; the loop keeps listening meanwhile
          deliver("alice", "INBOX", 2) deliver("bob", "INBOX")
          local t = core.now()
          while core.now() - t < 1.5 do core.loop_wait(0.1) end
        end
        return initial < 5 + 4 + 3
      end
    ]])
    local code, out, err = S.run("-v " .. script)
    assert.are.equal(0, code, err)
    local sent, got = parse(out)
    assert.are.equal(7, assert_each_once(out, sent, got))
    assert.truthy(err:find("watch: alice@[^:]+: NOTIFY %(2 connections%)"), err)
    for _, box in ipairs { "INBOX", "Lists", "Work" } do assert.are.equal(0, S.count(box)) end
    assert.are.equal(0, S.count("INBOX", "bob"))
    assert.are.equal(5, S.count("Done/INBOX"))      -- 2 at start, 1, then 2 during a callback
    assert.are.equal(2, S.count("Done/Lists"))
    assert.are.equal(2, S.count("Done/Work"))
    assert.are.equal(3, S.count("Done/INBOX", "bob"))
  end)

  it("uses IDLE when NOTIFY is hidden, one connection per mailbox up to max_connections, and polls the rest", function()
    local bed = S.bed(nil, { caps = NO_NOTIFY })
    local env, stop = bed.env, bed.stop
    local ok, err_ = pcall(function()
      local script = watch_script(env, { { "alice", "INBOX" }, { "alice", "Work" }, { "alice", "Lists" } }, [[
        cfgs.alice.max_connections = 3      -- its own connection and two IDLE: Lists is polled
        accts.alice = imap.account(cfgs.alice)
        local started = false
        on_event = function()
          if not started then
            started = true
            deliver("alice", "INBOX") deliver("alice", "Work") deliver("alice", "Lists")
          end
          return got("alice", "INBOX") + got("alice", "Work") + got("alice", "Lists") < 6
        end
      ]], "{ duration = 40, interval = 1, refresh = 0.5 }")
      -- The first callback (for a message already there) starts the deliveries.
      for i, box in ipairs { "INBOX", "Work", "Lists" } do
        assert(os.execute(string.format("scripts/testbed seed %s --user alice --mailbox %s --count 1 --seed %d >/dev/null",
          S.shquote(env.TESTBED_DIR), box, 310 + i)))
      end
      local trace = os.tmpname()
      local code, out, err = S.run("-v --trace " .. trace .. " " .. script)
      assert.are.equal(0, code, err)
      local sent, got = parse(out)
      assert.are.equal(3, assert_each_once(out, sent, got))
      assert.truthy(err:find("IDLE INBOX, IDLE Work, 1 polled every 1 s (3 connections)", 1, true), err)
      -- IDLE restarted (opts.refresh, here every half second) while mail kept coming in.
      local f = assert(io.open(trace))
      local t = f:read("a")
      f:close()
      os.remove(trace)
      local idles, dones = select(2, t:gsub("C: A%d+ IDLE\n", "")), select(2, t:gsub("C: DONE\n", ""))
      assert.is_true(idles > 2 and dones >= idles - 2, string.format("%d IDLE, %d DONE", idles, dones))
    end)
    stop()
    if not ok then error(err_, 0) end
  end)

  it("goes on with the other accounts while one is dropped, and on reconnect handles what came meanwhile", function()
    S.seed("INBOX", 1, 306)
    local done_a, done_b = S.count("Done/INBOX"), S.count("Done/INBOX", "bob")
    local conf = S.shquote(S.env("TESTBED_DIR") .. "/dovecot.conf")
    local script = watch_script(bed_env(), { { "alice", "INBOX" }, { "bob", "INBOX" } }, string.format([[
      local kicked = false
      on_event = function(user)
        if not kicked then
          kicked = true     -- every connection of alice's goes, the watcher's too
          os.execute("doveadm -c %s kick alice >/dev/null 2>&1")
          deliver("bob", "INBOX") deliver("alice", "INBOX")
        end
        return got("alice", "INBOX") + got("bob", "INBOX") < 3
      end
    ]], conf), "{ duration = 40 }")
    local code, out, err = S.run(script)
    assert.are.equal(0, code, err)
    local sent, got = parse(out)
    assert.are.equal(2, assert_each_once(out, sent, got))
    assert.truthy(err:find("reconnecting in", 1, true), err)
    assert.are.equal(done_a + 2, S.count("Done/INBOX"))
    assert.are.equal(done_b + 1, S.count("Done/INBOX", "bob"))
  end)

  it("starts where the last watch stopped with opts.initial = \"unhandled\", across restarts", function()
    S.seed("Restart", 4, 305)
    local function script(initial)
      return S.script(string.format([[
        imap.watch(acct.Restart, function(box, new)
          local n = 0
          for _ in new:uids() do n = n + 1 end
          print("GOT " .. n)
          new:add_flags { "$Handled" }
          return false
        end, { initial = %s, duration = 2 })
      ]], initial))
    end
    local unhandled = script('"unhandled"')
    local function run(path)
      local code, out, err = S.run(path)
      assert.are.equal(0, code, err)
      return out
    end
    assert.are.equal("GOT 4\n", run(unhandled))      -- the first time: every message
    assert.are.equal("", run(unhandled))             -- nothing new: no call
    S.seed("Restart", 2, 306)                        -- mail while no watch runs
    assert.are.equal("GOT 2\n", run(unhandled))
    assert.are.equal("GOT 6\n", run(script("true")))  -- the default: everything there at start
    local handled = 0
    for _, flags in pairs(S.state("Restart")) do
      if flags:find("$Handled", 1, true) then handled = handled + 1 end
    end
    assert.are.equal(6, handled)
    local code, _, err = S.run(S.script([[imap.watch(acct.Restart, function() end, { initial = "new" })]]))
    assert.are.equal(1, code)
    assert.truthy(err:find('opts.initial must be true, false or "unhandled"', 1, true), err)
  end)

  it("reports flag changes and expunges when asked (opts.on)", function()
    S.seed("Flags", 3, 307)
    local script = watch_script(bed_env(), { { "alice", "Flags" } }, [[
      local c = core.connect(cfgs.alice)
      local seen = {}
      move_new = false
      on_event = function(user, box, what, new)
        seen[what] = true
        if what == "new" and not seen.started then
          seen.started = true           -- flag one message, expunge another
          c:select("Flags")
          c:store("1", "+", { "\\Flagged" })
          c:store("2", "+", { "\\Deleted" })
          c:expunge("2")
          assert(c:wait())
        end
        return not (seen.flags and seen.expunge)
      end
    ]], '{ duration = 40, on = { "new", "flags", "expunge" } }')
    local code, out, err = S.run(script)
    assert.are.equal(0, code, err)
    local _, got = parse(out)
    assert.truthy((got["flags alice Flags"] or {})[1], out)
    assert.truthy(got["expunge alice Flags"], out)
  end)
end)

