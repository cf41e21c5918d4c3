-- Destinations and sources that do not exist, in the native API: `create = true` creates a
-- destination only when something is moved there (SUBSCRIBEs it with `subscribe = true`), and
-- a source mailbox the server will not open is an error naming it and the script line, or
-- with `missing = "skip"` an empty result and a warning. Server state read from the Maildirs.
package.path = "./tests/compat/?.lua;" .. package.path
local S = require "tests.integration.support"
local state = require "state"

-- Runs body as a script; returns exit code, stdout, stderr.
local function run(body, over, args)
  local path = S.script(body, over)
  local code, out, err = S.run((args or "") .. " " .. path)
  os.remove(path)
  return code, out, err, path
end

-- alice's subscriptions, from Dovecot's file.
local function subscribed()
  local out = {}
  for _, name in ipairs(state.subscriptions(S.env("TESTBED_MAILROOT"))) do
    out[#out + 1] = name:match("^alice/(.*)$")
  end
  return out
end

describe("create = true", function()
  it("creates a destination only when something is moved there, and subscribes it", function()
    S.seed("C1", 50, 31)
    local script = S.script([[
      acct.C1:search(Q.subject "no such subject at all"):move_to(acct["Empty/Never"])
      acct.C1:search(Q.subject "nothing either"):copy_to(acct["Empty/Copy"])
      acct.C1:search(Q.header("List-Id", "lua-l")):copy_to(acct["Got/Lua"])
      acct.C1:search(Q.seen):move_to(acct["Got/Seen"])
    ]], { create = true, subscribe = true })
    local code, _, err = S.run(script)
    assert.are.equal(0, code, err)
    assert.is_false(S.exists("Empty/Never"))
    assert.is_false(S.exists("Empty/Copy"))
    assert.is_true(S.count("Got/Seen") > 0)
    assert.is_true(S.count("Got/Lua") > 0)
    assert.are.same({ "Got/Lua", "Got/Seen" }, subscribed())
    assert.truthy(err:find("created Got/Seen", 1, true), err)
    -- --undo takes it all back: the mail, the mailboxes made on the way, their subscriptions
    local before = S.count("C1")
    code, _, err = S.run("--undo")
    assert.are.equal(0, code, err)
    assert.is_true(S.count("C1") > before)
    assert.is_false(S.exists("Got/Seen"))
    assert.is_false(S.exists("Got/Lua"))
    assert.are.same({}, subscribed())
    os.remove(script)
  end)

  it("creates a destination another client deleted after the mailbox list was read, and moves", function()
    S.seed("C2", 40, 32)
    local imap = require("imapscript")._configure { quiet = true }
    local other = imap.account(S.account_cfg())
    other:create "Gone/Soon"
    local acct = imap.account(S.account_cfg { create = true })
    acct.C2:status()                   -- connected: the list says Gone/Soon exists
    other:delete "Gone/Soon"
    other:logout()
    local n = S.count("C2")
    acct.C2:all():move_to(acct["Gone/Soon"])
    acct:logout()
    assert.are.equal(n, S.count("Gone/Soon"))
    assert.are.equal(0, S.count("C2"))
  end)

  it("reports a destination the server refuses to create, only when something goes there", function()
    S.seed("C3", 20, 33)
    local long = string.rep("x", 300)
    local code, out, err = run(string.format([[
      acct.C3:search(Q.subject "no such subject at all"):move_to(acct[%q])
      acct:flush()
      print("empty ok")
      acct.C3:all():move_to(acct[%q])
    ]], long, long), { create = true })
    assert.are.equal(1, code)
    assert.truthy(out:find("empty ok", 1, true), err)
    assert.truthy(err:find(":6: move_to " .. long .. ": ", 1, true), err)
    assert.truthy(err:find("CREATE", 1, true), err)
    assert.are.equal(20, S.count("C3"))     -- nothing moved, nothing lost
  end)

  it("creates a destination on another account only when something goes there", function()
    S.seed("C4", 20, 34)
    local code, _, err = run([[
      local bob = imap.account { host = acct.cfg.host, port = acct.cfg.port, ca_file = acct.cfg.ca_file,
        user = os.getenv("TESTBED_USER2"), password = imap.env "TESTBED_PASSWORD2", create = true }
      acct.C4:search(Q.subject "no such subject at all"):copy_to(bob["From/Alice/None"])
      acct.C4:search(Q.seen):copy_to(bob["From/Alice"])
    ]])
    assert.are.equal(0, code, err)
    assert.is_false(S.exists("From/Alice/None", "bob"))
    assert.is_true(S.count("From/Alice", "bob") > 0)
  end)

  it("leaves out of later results what an earlier rule of the same batch moved away", function()
    S.seed("C5", 80, 35)
    local code, out, err = run([[
      local before = #acct.C5:all()
      local lua = acct.C5:search(Q.header("List-Id", "lua-l"))
      lua:move_to(acct["C5 lua"])
      local rest = acct.C5:all()
      print("counts", before, #rest + #lua)
    ]], { create = true })
    assert.are.equal(0, code, err)
    local before, sum = out:match("counts\t(%d+)\t(%d+)")
    assert.are.equal(before, sum)
    assert.are.equal(tonumber(before), S.count("C5") + S.count("C5 lua"))
  end)
end)

describe("a source mailbox that does not exist", function()
  it("is an error naming the mailbox and the script line; the other rules still ran", function()
    S.seed("M1", 30, 36)
    local code, _, err = run([[
      acct.M1:search(Q.unseen):mark_flagged()
      acct["No/Such"]:search(Q.all):mark_seen()
      acct.M1:search(Q.seen):add_flags { "$Seen" }
    ]])
    assert.are.equal(1, code)
    assert.truthy(err:find(":4: search No/Such: ", 1, true), err)
    assert.truthy(err:find("SELECT No/Such: NO", 1, true), err)
    assert.falsy(err:find("BAD", 1, true), err)      -- its search and action are not reported too
    local flagged, tagged = 0, 0
    for _, flags in pairs(S.state("M1")) do
      if flags:find("\\Flagged", 1, true) and not flags:find("\\Seen", 1, true) then flagged = flagged + 1 end
      if flags:find("$Seen", 1, true) then tagged = tagged + 1 end
    end
    assert.is_true(flagged > 0 and tagged > 0)
  end)

  it("with missing = \"skip\" is an empty result and a warning", function()
    S.seed("M2", 30, 37)
    local code, out, err = run([[
      print("count", #acct["No/Such"]:search(Q.all))
      acct["No/Such"]:all():move_to(acct.M2_dest)
      for m in acct["No/Such"]:uids("1:5"):fetch { "flags" } do print("fetched", m.uid) end
      acct.M2:search(Q.unseen):mark_seen()
      print("unseen", #acct.M2:search(Q.unseen))
    ]], { missing = "skip", create = true })
    assert.are.equal(0, code, err)
    assert.truthy(out:find("count\t0", 1, true), out)
    assert.falsy(out:find("fetched", 1, true), out)
    assert.truthy(out:find("unseen\t0", 1, true), out)
    assert.truthy(err:find(":3: search No/Such: .-NO.-%(taken as empty%)"), err)
    assert.truthy(err:find(":5: .-SELECT No/Such: NO"), err)
    assert.is_false(S.exists("M2_dest"))
  end)

  it("rejects an unknown missing setting", function()
    local code, _, err = run("", { missing = "ignore" })
    assert.are.equal(1, code)
    assert.truthy(err:find("missing must be", 1, true), err)
  end)
end)

describe("log lines", function()
  it("name the action the script called", function()
    S.seed("G1", 30, 38)
    local code, _, err = run([[
      acct.G1:search(Q.unseen):mark_seen()
      acct.G1:search(Q.seen):add_flags { "$Done" }
      acct.G1:search(Q.flagged):unmark_flagged()
    ]])
    assert.are.equal(0, code, err)
    assert.truthy(err:find("mark_seen %d+ messages in G1"), err)
    assert.truthy(err:find("add_flags %$Done %d+ messages in G1"), err)
    assert.truthy(err:find("unmark_flagged %d+ messages in G1"), err)
  end)
end)
