-- The imapscript program against a real Dovecot: dry runs, exit codes, traces, logging.
local S = require "tests.integration.support"

describe("imapscript program", function()
  setup(function()
    S.seed("C_dry", 50, 61)
    S.seed("C_run", 30, 62)
  end)

  it("prints --version and --help, and exits 2 on bad usage", function()
    local code, out = S.run("--version")
    assert.are.equal(0, code)
    assert.truthy(out:find("^imapscript %d+%.%d+"))
    code, out = S.run("--help")
    assert.are.equal(0, code)
    assert.truthy(out:find("--dry-run", 1, true))
    local err
    code, _, err = S.run("--no-such-option")
    assert.are.equal(2, code)
    assert.truthy(err:find("unknown option", 1, true))
    code, _, err = S.run("--trace")   -- (no script at all: starter_spec, with its own HOME)
    assert.are.equal(2, code)
    assert.truthy(err:find("needs an argument", 1, true))
  end)

  it("words log lines for one message, and names both accounts of a cross-account move", function()
    S.seed("C_one", 1, 63)
    local bob = S.account_cfg(nil, 2)
    local script = S.script(string.format([[
      acct.C_one:all():mark_seen()
      local bob = imap.account { host = %q, port = %d, ca_file = %q, user = %q, password = %q,
                                 label = "Bob" }
      acct.C_one:all():copy_to(bob.INBOX)
      acct.C_one:all():move_to(acct.C_run, { expunge = false })
    ]], bob.host, bob.port, bob.ca_file, bob.user, bob.password), { label = "Alice" })
    local code, out, err = S.run("-n " .. script)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("copy 1 Alice:C_one -> Bob:INBOX", 1, true), out)
    code, _, err = S.run(script)
    assert.are.equal(0, code, err)
    assert.truthy(err:find("mark_seen 1 message in C_one\n", 1, true), err)
    assert.truthy(err:find("copied 1 message Alice:C_one -> Bob:INBOX\n", 1, true), err)
    assert.truthy(err:find("moved 1 message C_one -> C_run (the originals flagged \\Deleted, not expunged)",
      1, true), err)
  end)

  it("tells what each flush cost under -vv, and not under -v", function()
    local script = S.script([[
      acct.C_run:search(Q.unseen):mark_flagged()
      acct.C_run:search(Q.seen):remove_flags { "\\Flagged" }
    ]])
    local code, _, err = S.run("-vv " .. script)
    assert.are.equal(0, code, err)
    assert.truthy(err:find(": 4 operations cost %d+ commands, %d+ round trips, %d+ bytes out, %d+ in"), err)
    code, _, err = S.run("-v " .. script)
    assert.are.equal(0, code, err)
    assert.falsy(err:find("operations cost", 1, true), err)
  end)

  it("changes nothing in a dry run and prints the plan", function()
    local before = S.state("C_dry")
    local seen = 0
    for _, flags in pairs(before) do if flags:find("\\Seen", 1, true) then seen = seen + 1 end end
    local script = S.script([[
      acct.C_dry:search(Q.seen):move_to(acct.Archive)
      acct.C_dry:search(Q.unseen):mark_flagged()
      acct.C_dry:all():delete()
      acct:create("Dry/New")
    ]], { create = true })
    local json = os.tmpname()
    local code, out, err = S.run("-n --plan-json " .. json .. " " .. script)
    assert.are.equal(0, code, err)
    assert.truthy(out:find(string.format("move %d C_dry %%-> Archive %%(uids [%%d:,]+%%)", seen)), out)
    assert.truthy(out:find(string.format("store %%+FLAGS %%(\\Flagged%%) %d C_dry", 50 - seen)), out)
    -- The plan models the actions before it: what the move took is not deleted again.
    assert.truthy(out:find(string.format("delete %d C_dry", 50 - seen), 1, true), out)
    assert.truthy(out:find("create Dry/New", 1, true), out)
    assert.are.same(before, S.state("C_dry"))
    assert.is_false(S.exists("Archive"))
    assert.is_false(S.exists("Dry/New"))
    local f = io.open(json)
    local lines = {}
    for l in f:lines() do lines[#lines + 1] = l end
    f:close()
    assert.are.equal(4, #lines)
    assert.truthy(lines[1]:find('"action":"move"', 1, true))
    assert.truthy(lines[1]:find(string.format('"count":%d', seen), 1, true))
  end)

  it("logs one line per action and exits 0", function()
    local script = S.script([[ acct.C_run:search(Q.flagged):copy_to(acct.C_run_copy) ]], { create = true })
    local flagged = 0
    for _, flags in pairs(S.state("C_run")) do if flags:find("\\Flagged", 1, true) then flagged = flagged + 1 end end
    local code, _, err = S.run(script)
    assert.are.equal(0, code, err)
    assert.truthy(err:find(string.format("copied %d messages C_run %%-> C_run_copy", flagged)), err)
    assert.are.equal(flagged, S.count("C_run_copy"))
    code, _, err = S.run("-q " .. script)
    assert.are.equal(0, code)
    assert.are.equal("", err)
  end)

  it("exits 4 on a wrong password, naming the account but not the password", function()
    local script = S.script([[ print(acct.INBOX:status().messages) ]], { password = "wrong-pw-1234" })
    local code, _, err = S.run(script)
    assert.are.equal(4, code)
    assert.truthy(err:find("alice", 1, true))
    assert.falsy(err:find("wrong-pw-1234", 1, true))
  end)

  it("exits 3 when the server is unreachable or its certificate unknown", function()
    local script = S.script([[ print(acct.INBOX:status().messages) ]], { port = 1 })
    assert.are.equal(3, (S.run(script)))
    script = S.script([[ print(acct.INBOX:status().messages) ]], { ca_file = S.env("TESTBED_OTHER_CA") })
    local code, _, err = S.run(script)
    assert.are.equal(3, code)
    assert.truthy(err:lower():find("certificate", 1, true), err)
  end)

  it("reconnects when the server drops the connection and does the action once", function()
    S.seed("C_drop", 20, 63)
    local before = S.state("C_drop")
    local script = S.script(string.format([[
      acct.C_drop:status()
      local conf = %s
      os.execute("doveadm -c " .. conf .. " kick alice >/dev/null 2>&1")
      -- kick only signals the session: wait until it is gone
      for _ = 1, 50 do
        local p = io.popen("doveadm -c " .. conf .. " who alice 2>/dev/null")
        local out = p:read("a"); p:close()
        if not out:find("alice", 1, true) then break end
        os.execute("sleep 0.1")
      end
      acct.C_drop:all():move_to(acct.C_drop_dest)
      acct:flush()
    ]], string.format("%q", S.shquote(S.env("TESTBED_DIR") .. "/dovecot.conf"))), { create = true })
    local code, _, err = S.run(script)
    assert.are.equal(0, code, err)
    assert.truthy(err:find("reconnected", 1, true), err)
    assert.are.same({}, S.state("C_drop"))
    assert.are.same(before, S.state("C_drop_dest"))
  end)

  it("exits 1 on a script error, with the script's line", function()
    local script = S.script("local x = nil\nx.y = 1")
    local code, _, err = S.run(script)
    assert.are.equal(1, code)
    assert.truthy(err:find("%.lua:%d+:"), err)
  end)

  it("writes a wire trace without the password", function()
    local trace = os.tmpname()
    local script = S.script([[ print(acct.INBOX:status().messages) ]])
    local code, _, err = S.run("--trace " .. trace .. " " .. script)
    assert.are.equal(0, code, err)
    local f = io.open(trace)
    local text = f:read("a")
    f:close()
    assert.truthy(text:find("STATUS", 1, true))
    assert.truthy(text:find("***", 1, true))
    assert.falsy(text:find(S.env("TESTBED_PASSWORD"), 1, true))
  end)

  it("runs -e code and gives the script its arguments", function()
    local script = S.script([[ print(select("#", ...), table.concat({ ... }, ","), arg[1]) ]])
    local code, out = S.run("-e 'X = 42' " .. script .. " one two")
    assert.are.equal(0, code)
    assert.are.equal("2\tone,two\tone\n", out)
    code, out = S.run("-e 'print(X or \"unset\", imap.version ~= nil)'")
    assert.are.equal(0, code)
    assert.are.equal("unset\ttrue\n", out)
  end)

  it("gives a Lua prompt after the script with -i", function()
    local script = S.script([[ N = acct.C_run:status().messages ]])
    local code, out = S.run("-i " .. script, "N * 2\n")
    assert.are.equal(0, code)
    assert.truthy(out:find(tostring(S.count("C_run") * 2), 1, true), out)
  end)
end)
