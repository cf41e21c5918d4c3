-- The state database and what reads it: the journal of a run, --history, --log, --undo (across
-- two accounts), --no-state, a damaged or locked database, two runs on one account at once, and
-- queued actions under the stock lua5.4 interpreter.
local S = require "tests.integration.support"
package.path = "./tests/compat/?.lua;" .. package.path
local oracle = require "state"

local function state_db() return S.env("XDG_STATE_HOME") .. "/imapscript/state.db" end

-- {message-id = "mailbox flags"} for the mailboxes whose names start with one of prefixes.
local function placement(prefixes)
  local out = {}
  for name, box in pairs(oracle.read(S.env("TESTBED_MAILROOT"))) do
    for _, p in ipairs(prefixes) do
      if name:sub(1, #p) == p then
        for id, flags in pairs(box) do out[id] = name .. " " .. flags end
      end
    end
  end
  return out
end

local slurp = S.slurp

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

-- A second account, bob, in a script written by S.script.
local BOB = string.format([[
local bob = imap.account { host = %q, port = %s, ca_file = %q, user = "bob", password = %q, create = true }
]], S.env("TESTBED_HOST"), S.env("TESTBED_TLS_PORT"), S.env("TESTBED_CA"), S.env("TESTBED_PASSWORD2"))

local tmpdir = S.tmpdir     -- a --state DIR of its own

describe("the journal", function()
  it("records a run: --history lists it and its actions, --log has a line per message", function()
    S.seed("J1", 40, 201)
    local before = S.state("J1")
    local seen = 0
    for _, f in pairs(before) do if f:find("\\Seen", 1, true) then seen = seen + 1 end end
    local script = S.script([[
      acct.J1:search(Q.seen):move_to(acct["J1/seen"])
      acct.J1:search(Q.unseen):add_flags { "$Todo" }
    ]], { create = true })
    local logfile = os.tmpname()
    local code, _, err = S.run("--log " .. logfile .. " " .. script)
    assert.are.equal(0, code, err)
    local out
    code, out, err = S.run("--history")
    assert.are.equal(0, code, err)
    assert.truthy(out:find(string.format("moved %d, flagged %d", seen, 40 - seen), 1, true), out)
    local id = tonumber(out:match("\n%s*(%d+)%s"))
    code, out = S.run("--history " .. id)
    assert.are.equal(0, code)
    assert.truthy(out:find("move", 1, true) and out:find("J1 -> J1/seen", 1, true), out)
    assert.truthy(out:find("+FLAGS ($Todo)", 1, true), out)
    -- --log: one JSON line per message, naming where it went
    local text = slurp(logfile)
    local moved = S.state("J1/seen")
    assert.are.equal(seen, count(text, '"action":"move"'))
    assert.are.equal(40 - seen, count(text, '"action":"store"'))
    for line in text:gmatch("[^\n]+") do
      if line:find('"action":"move"', 1, true) then
        local mid = line:match('"message_id":"(<[^"]*>)"')
        assert.truthy(moved[mid], line)
        assert.truthy(line:find('"target":"J1/seen"', 1, true), line)
      end
    end
  end)

  it("--log without the state database still has a line per message", function()
    S.seed("J3", 30, 204)
    local seen = 0
    for _, f in pairs(S.state("J3")) do if f:find("\\Seen", 1, true) then seen = seen + 1 end end
    local script = S.script([[
      acct.J3:search(Q.seen):copy_to(acct["J3/copy"])
      acct.J3:search(Q.seen):move_to(acct["J3/seen"])
      acct.J3:search(Q.unseen):add_flags { "$Todo" }
      acct.J3:search(Q.unseen):delete()
    ]], { create = true })
    local logfile = os.tmpname()
    local code, _, err = S.run("--no-state --log " .. logfile .. " " .. script)
    assert.are.equal(0, code, err)
    local text = slurp(logfile)
    local moved = S.state("J3/seen")
    assert.are.equal(seen, count(text, '"action":"copy"'))
    assert.are.equal(seen, count(text, '"action":"move"'))
    assert.are.equal(30 - seen, count(text, '"action":"store"'))
    assert.are.equal(30 - seen, count(text, '"action":"delete"'))
    local checked = 0
    for line in text:gmatch("[^\n]+") do
      if line:find('"action":"move"', 1, true) then
        assert.truthy(moved[line:match('"message_id":"(<[^"]*>)"')], line)
        checked = checked + 1
      end
    end
    assert.are.equal(seen, checked)
    assert.are.equal(0, S.count("J3"))
  end)

  it("undoes a run that moved, flagged and transferred in two accounts; an undo plan changes nothing", function()
    S.seed("U2", 30, 202)
    S.seed("B2", 20, 203, "bob")
    local watched = { "alice/U2", "bob/B2", "bob/U2" }
    local before = placement(watched)
    local script = S.script(BOB .. [[
      acct.U2:search(Q.seen & ~Q.flagged):move_to(acct["U2/arch"])
      acct.U2:search(Q.flagged):add_flags { "$X" }
      acct.U2:search(Q.unseen):move_to(bob["U2-from-alice"])
      bob.B2:search(Q.seen):remove_flags { "\\Seen" }
      bob.B2:search(Q.larger(20000)):move_to(bob["B2/big"])
      acct:create "U2new"
      acct:rename("U2new", "U2ren")
      acct.U2:append("Message-ID: <undo-append@example.org>\r\nSubject: x\r\n\r\nx\r\n")
    ]], { create = true })
    local code, _, err = S.run(script)
    assert.are.equal(0, code, err)
    local after = placement(watched)
    assert.are_not.same(before, after)
    assert.is_true(S.count("U2-from-alice", "bob") > 0)
    assert.is_true(S.exists("U2/arch") and S.exists("B2/big", "bob"))   -- made on the way
    -- the plan of the undo changes nothing
    local out
    code, out, err = S.run("-n --undo")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("move %d+ U2/arch %-> U2"), out)
    assert.truthy(out:find("move %d+ bob@[%d.]+:U2%-from%-alice %-> alice@[%d.]+:U2 "), out)
    assert.are.same(after, placement(watched))
    -- the undo: every message back where it was, with its flags
    assert.is_true(S.exists("U2ren"))
    code, _, err = S.run("--undo")
    assert.are.equal(0, code, err)
    assert.are.same(before, placement(watched))       -- the appended message is gone too
    assert.is_false(S.exists("U2ren"))
    assert.is_false(S.exists("U2new"))
    assert.is_false(S.exists("U2/arch"))
    assert.is_false(S.exists("B2/big", "bob"), err)
    assert.is_false(S.exists("U2-from-alice", "bob"))
    assert.falsy(err:find(S.env("TESTBED_PASSWORD"), 1, true))
    code, out = S.run("--history")
    assert.truthy(out:find("undone by", 1, true), out)
    -- an undone run is not undone twice
    local id = out:match("(%d+)%s+%S+ %S+%s+done, undone by")
    code, _, err = S.run("--undo " .. id)
    assert.are.equal(1, code)
    assert.truthy(err:find("undone already", 1, true), err)
  end)

  it("keeps no secret: a password from imap.env comes back from the environment for undo", function()
    S.seed("U3", 20, 204)
    local before = placement { "alice/U3" }
    local script = S.script([[ acct.U3:search(Q.seen):move_to(acct["U3/x"]) ]],
      { create = true, password = "PASSWORD_FROM_ENV" })
    local text = slurp(script):gsub('password = "PASSWORD_FROM_ENV"', 'password = imap.env "PW"')
    local f = io.open(script, "w")
    f:write(text)
    f:close()
    local pw = "PW=" .. S.shquote(S.env("TESTBED_PASSWORD"))
    local code, _, err = S.run(script, nil, pw)
    assert.are.equal(0, code, err)
    assert.are_not.same(before, placement { "alice/U3" })
    local db = slurp(state_db()) .. slurp(state_db() .. "-wal")
    assert.truthy(db:find("PW", 1, true), "the password's source is recorded")
    assert.falsy(db:find(S.env("TESTBED_PASSWORD"), 1, true), "the password is in the state database")
    code, _, err = S.run("--undo", nil, pw)
    assert.are.equal(0, code, err)
    assert.are.same(before, placement { "alice/U3" })
  end)

  it("keys a tunnel account by its command: its history, and undo through the same tunnel", function()
    S.seed("T4", 20, 208)
    local before = placement { "alice/T4" }
    local tunnel = string.format("doveadm -c %s exec imap -u alice", S.shquote(S.env("TESTBED_CONF")))
    local script = os.tmpname() .. ".lua"
    local f = io.open(script, "w")
    f:write(string.format([[
      local acct = imap.account { tunnel = %q, create = true }
      acct.T4:search(imap.query.seen):move_to(acct["T4/x"])
    ]], tunnel))
    f:close()
    local code, _, err = S.run(script)
    assert.are.equal(0, code, err)
    assert.are_not.same(before, placement { "alice/T4" })
    local out
    code, out, err = S.run("--history")
    assert.are.equal(0, code, err)
    local id = out:match("\n%s*(%d+)%s")
    code, out = S.run("--history " .. id)
    assert.truthy(out:find("T4 -> T4/x", 1, true), out)
    local db = slurp(state_db()) .. slurp(state_db() .. "-wal")
    assert.truthy(db:find("@tunnel doveadm", 1, true), "the tunnel's command names the account")
    code, _, err = S.run("--undo")
    assert.are.equal(0, code, err)
    assert.are.same(before, placement { "alice/T4" })
  end)
end)

describe("without a usable state database", function()
  it("--no-state says once that the journal is off, and the run is done", function()
    S.seed("N1", 20, 205)
    local script = S.script([[
      acct.N1:search(Q.seen):move_to(acct["N1/a"])
      acct.N1:search(Q.unseen):mark_flagged()
      acct:flush()
      acct.N1:all():move_to(acct["N1/b"])
    ]], { create = true })
    local code, _, err = S.run("--no-state " .. script)
    assert.are.equal(0, code, err)
    assert.are.equal(1, count(err, "without the journal"), err)
    assert.are.equal(0, S.count("N1"))
    assert.are.equal(20, S.count("N1/a") + S.count("N1/b"))
  end)

  it("a damaged database: one clear warning, and the run is still correct", function()
    S.seed("N2", 20, 206)
    local dir = tmpdir()
    local f = io.open(dir .. "/state.db", "w")
    f:write(("not a database at all "):rep(200))
    f:close()
    local script = S.script([[ acct.N2:search(Q.seen):move_to(acct["N2/a"]) ]], { create = true })
    local code, _, err = S.run("--state " .. dir .. " " .. script)
    assert.are.equal(0, code, err)
    assert.are.equal(1, count(err, "without the journal"), err)
    assert.truthy(err:find(dir .. "/state.db", 1, true) and err:find("not a database", 1, true), err)
    assert.is_true(S.count("N2/a") > 0)
  end)

  it("a database another process holds: waits a little, then runs without it", function()
    S.seed("N3", 10, 207)
    local dir = tmpdir()
    -- another process takes the write lock and keeps it
    local ready = dir .. "/ready"
    os.execute(string.format([[lua5.4 -e 'package.cpath = "./build/lua/?.so;" .. package.cpath
      local core = require "imapscript.core"
      local db = assert(core.state_open(%q))
      assert(db:begin())
      io.open(%q, "w"):close()
      os.execute("sleep 8")' >/dev/null 2>&1 &]], dir .. "/state.db", ready))
    for _ = 1, 100 do
      local f = io.open(ready)
      if f then f:close() break end
      os.execute("sleep 0.05")
    end
    local script = S.script([[ acct.N3:all():move_to(acct["N3/a"]) ]], { create = true })
    local code, _, err = S.run("--state " .. dir .. " " .. script)
    assert.are.equal(0, code, err)
    assert.truthy(err:find("locked by another process", 1, true), err)
    assert.are.equal(1, count(err, "without the journal"), err)
    assert.are.equal(10, S.count("N3/a"))
  end)
end)

describe("two runs on the same account", function()
  -- A run slowed by the proxy (each answer held delay ms), once it works on the account.
  local function start_slow(script, delay)
    local px = S.proxy(S.this_bed().env, { delay = delay })
    local out = os.tmpname()
    local path = S.script(script, { port = px.port, tls = "none", ca_file = false, create = true })
    os.execute(string.format("(%s %s >/dev/null 2>%s </dev/null; echo $? >%s.rc) &",
      os.getenv("IMAPSCRIPT") or "build/imapscript", path, out, out))
    -- wait until it works on the account
    for _ = 1, 200 do
      if px.text():find("UID SEARCH", 1, true) then break end
      os.execute("sleep 0.05")
    end
    return px, out
  end
  local function finished(out)
    for _ = 1, 400 do
      local rc = slurp(out .. ".rc")
      if rc and rc ~= "" then return tonumber(rc), slurp(out) end
      os.execute("sleep 0.05")
    end
  end

  it("the second waits until the first is done; each message moves once", function()
    S.seed("C1", 40, 208)
    local px, out = start_slow([[
      acct.C1:search(Q.seen):move_to(acct["C1/a"])
      acct.C1:search(Q.unseen):move_to(acct["C1/b"])
    ]], 150)
    local script = S.script([[ acct.C1:all():move_to(acct["C1/c"]) ]], { create = true })
    local code, _, err = S.run(script)
    local code_a, err_a = finished(out)
    px.stop()
    assert.are.equal(0, code_a, err_a)
    assert.are.equal(0, code, err)
    assert.truthy(err:find("waiting for another imapscript run", 1, true), err)
    assert.are.equal(40, S.count("C1/a") + S.count("C1/b"))
    assert.are.equal(0, S.count("C1/c"))
  end)

  it("the second gives up with exit 5 when the wait is too long", function()
    S.seed("C2", 40, 209)
    local px, out = start_slow([[
      acct.C2:search(Q.seen):move_to(acct["C2/a"])
      acct.C2:search(Q.unseen):move_to(acct["C2/b"])
      acct:flush()
      acct.C2:search(Q.flagged):add_flags { "$F" }
    ]], 400)
    local script = S.script([[ acct.C2:all():move_to(acct["C2/c"]) ]], { create = true })
    local code, _, err = S.run(script, nil, "IMAPSCRIPT_LOCK_WAIT=0.3")
    finished(out)
    px.stop()
    assert.are.equal(5, code, err)
    assert.truthy(err:find("another imapscript run", 1, true), err)
    assert.are.equal(40, S.count("C2/a") + S.count("C2/b"))
  end)
end)

describe("under the stock lua5.4 interpreter", function()
  it("sends what is still queued when the script ends, also after an error", function()
    S.seed("L1", 20, 210)
    local cfg = S.account_cfg { create = true }
    local path = os.tmpname() .. ".lua"
    local f = io.open(path, "w")
    f:write(string.format([[
      package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
      package.cpath = "./build/lua/?.so;" .. package.cpath
      local imap = require "imapscript"
      local acct = imap.account { host = %q, port = %d, ca_file = %q, user = %q, password = %q, create = true }
      acct.L1:search(imap.query.seen):move_to(acct["L1/seen"])
      acct.L1:search(imap.query.unseen):move_to(acct["L1/unseen"])
      if arg[1] == "fail" then error("the script fails after queueing") end
    ]], cfg.host, cfg.port, cfg.ca_file, cfg.user, cfg.password))
    f:close()
    local ok = os.execute("lua5.4 " .. path .. " >/dev/null 2>&1")
    assert.is_true(ok)
    assert.are.equal(0, S.count("L1"))
    assert.are.equal(20, S.count("L1/seen") + S.count("L1/unseen"))
    S.seed("L1", 10, 211)
    os.execute("lua5.4 " .. path .. " fail >/dev/null 2>&1")
    assert.are.equal(0, S.count("L1"))
    assert.are.equal(30, S.count("L1/seen") + S.count("L1/unseen"))
  end)
end)
