-- imapscript --imapfilter against a real Dovecot: imapfilter configs (tests/compat/configs)
-- that call every function of imapfilter_config(5), with the server state read back from
-- the Maildirs; and imapfilter's hazards, kept out.
local S = require "tests.integration.support"

local CONFIGS = "tests/compat/configs/"

-- Runs a config; returns stdout lines as a table {first word -> rest of the line}.
local function run(config, extra)
  local code, out, err = S.run((extra or "") .. " --imapfilter " .. CONFIGS .. config)
  assert.are.equal(0, code, err)
  local lines = {}
  for line in out:gmatch("[^\n]+") do
    local k, v = line:match("^(%S+)%s*(.*)$")
    if k then lines[k] = v end
  end
  return lines, out, err
end

local function with_flag(state, flag)
  local n = 0
  for _, flags in pairs(state) do
    if (" " .. flags .. " "):find(" " .. flag .. " ", 1, true) then n = n + 1 end
  end
  return n
end

describe("imapscript --imapfilter", function()
  it("runs every searching method (search.lua)", function()
    S.seed("S", 300, 11)
    S.seed("T", 300, 12)
    local before = S.state("S")
    local out = run("search.lua")
    local after = S.state("S")
    for _, k in ipairs { "\\Flagged", "\\Seen", "\\Answered", "\\Deleted" } do
      local name = ({ ["\\Flagged"] = "flagged", ["\\Seen"] = "seen", ["\\Answered"] = "answered",
                      ["\\Deleted"] = "deleted" })[k]
      assert.are.equal(with_flag(before, k), tonumber(out[name]), name)
      for id, flags in pairs(after) do
        local has = (" " .. flags .. " "):find(" " .. k .. " ", 1, true) ~= nil
        local tagged = (" " .. flags .. " "):find(" $" .. name .. " ", 1, true) ~= nil
        assert.are.equal(has, tagged, id .. " " .. flags)
      end
    end
    assert.are.equal(300, tonumber(out.all))
    assert.are.equal(300 - with_flag(before, "\\Seen"), tonumber(out.unseen))
    assert.are.equal(300, with_flag(after, "$all"))
    local T = S.state("T")
    assert.are.equal(tonumber(out.msubject), with_flag(T, "$msubject"))
    assert.is_true(tonumber(out.msubject) > 0 and tonumber(out.mfrom) > 0)
    assert.are.equal(300, tonumber(out.query3))
    -- Meta-searching only narrows: every "meta" message is seen and matched the others.
    for id, flags in pairs(T) do
      if (" " .. flags .. " "):find(" $meta ", 1, true) then
        assert.truthy(flags:find("\\Seen", 1, true), id)
      end
    end
  end)

  it("runs every processing method, across mailboxes and accounts (process.lua)", function()
    S.seed("P", 300, 13)
    S.seed("Q", 100, 14)
    local before = S.state("P")
    local out, text = run("process.lua")
    assert.truthy(text:find("message\ttrue\ttrue", 1, true), text)
    assert.truthy(text:find("fields\ttrue", 1, true), text)
    assert.truthy(text:find("part1\ttrue", 1, true), text)
    assert.are.equal("2", out.appended)
    for _, box in ipairs { "Lists/lua", "Lists/debian", "Notes", "Picked", "Appended" } do
      assert.is_true(S.exists(box), box)
      assert.is_true(S.count(box) > 0, box)
    end
    assert.is_true(S.count("Patches", "bob") > 0)
    assert.is_true(S.count("INBOX", "bob") > 0)
    assert.truthy(S.state("Appended")["<appended@compat>"])
    -- Messages flagged \Deleted before the run are still there (UID EXPUNGE of what was
    -- deleted, not EXPUNGE of everything \Deleted).
    local after = S.state("P")
    local all = {}
    for _, box in ipairs { "P", "Notes", "Lists/lua", "Lists/debian" } do
      for id in pairs(S.state(box)) do all[id] = true end
    end
    for id in pairs(S.state("Patches", "bob")) do all[id] = true end
    for id, flags in pairs(before) do
      if flags:find("\\Deleted", 1, true) then assert.truthy(all[id], id .. " was expunged") end
    end
    -- Messages matching noreply were deleted; P shrank.
    assert.is_true(S.count("P") < 300)
    assert.is_true(with_flag(after, "$Lunch") > 0)
    assert.are.equal(0, with_flag(after, "Work"))
  end)

  it("manages mailboxes and runs the auxiliary functions (accounts.lua)", function()
    S.seed("L", 60, 15)
    local _, text = run("accounts.lua")
    local want = {
      "Work mailboxes\tWork/2024,Work/2025",
      "subscribed\tWork/2024",
      "subscribed after move\tWork/2024,Work/Replies",
      "regex\tabc-123\tabc\t123",
      "regex unset\ta\ta",
      "regex no\tfalse",
      "pipe_to\t0\t3",
      "pipe_from\t0\tone\ntwo",
      "recover\ttrue\tfine\t1",
      "recover fails\tfalse",
    }
    for _, w in ipairs(want) do assert.truthy(text:find(w, 1, true), w .. "\n--- in ---\n" .. text) end
    local all = text:match("all mailboxes\t([^\n]*)")
    local folders = text:match("all folders\t([^\n]*)")
    for _, name in ipairs { "INBOX", "L", "Older", "Work" } do
      assert.truthy(("," .. all .. ","):find("," .. name .. ",", 1, true), name)
    end
    assert.falsy(("," .. all .. ","):find(",Gone,", 1, true))
    assert.falsy(("," .. all .. ","):find(",Work/2024,", 1, true))   -- '%': one level only
    assert.truthy(("," .. folders .. ","):find(",Work,", 1, true))
    assert.is_false(S.exists("Gone"))
    assert.is_true(S.exists("Older"))
    assert.is_true(S.count("Work/Replies") > 0)
  end)

  it("keeps imapfilter's hazards out (hazards.lua)", function()
    S.seed("H", 200, 16)
    S.seed("W", 5000, 17)
    local x = "From: a@example.org\r\nX-Path: C:\\dir\\\"x\"\r\nSubject: say \"hi\" \\ now\r\n" ..
      "Message-ID: <q1@compat>\r\n\r\nbody\r\n"
    local y = "From: a@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Wien\r\n" ..
      "Message-ID: <q2@compat>\r\n\r\nbody\r\n"
    local script = S.script(string.format([[acct:create "X"; acct.X:append(%q); acct.X:append(%q)]], x, y))
    assert.are.equal(0, (S.run(script)))
    local before = S.state("H")
    local trace = os.tmpname()
    local out = run("hazards.lua", "--trace " .. trace)
    assert.are.equal("1", out.quotes)
    assert.are.equal("1", out.backslash)
    assert.are.equal("1", out.utf8)
    assert.are.equal("1", out.query)
    assert.are.equal("1", out.latin1)
    -- The move left the messages that were \Deleted before.
    local after = S.state("H")
    for id, flags in pairs(before) do
      if flags:find("\\Deleted", 1, true) then assert.truthy(after[id], id .. " was expunged") end
    end
    assert.is_true(S.count("H/Moved") > 0)
    -- 2500 scattered UIDs flagged, no more, no fewer.
    assert.are.equal("2500", out.odd)
    assert.are.equal(2500, with_flag(S.state("W"), "$Odd"))
    -- One FETCH of the Subject for all 5000 messages (the session may split it into a few
    -- pipelined commands by line length, never one per message), no bare EXPUNGE.
    local f = io.open(trace)
    local fetches, stores, expunge = 0, 0, 0
    for line in f:lines() do
      if line:find("^C: %S+ UID FETCH .*HEADER%.FIELDS %(SUBJECT%)") then fetches = fetches + 1 end
      if line:find("^C: %S+ UID STORE") then stores = stores + 1 end
      if line:find("^C: %S+ EXPUNGE") then expunge = expunge + 1 end
    end
    f:close()
    os.remove(trace)
    assert.is_true(fetches >= 1 and fetches <= 3, "fetches: " .. fetches)
    assert.is_true(stores >= 1 and stores <= 10, "stores: " .. stores)
    assert.are.equal(0, expunge)
  end)

  it("asks for a missing password, wakes from enter_idle, runs become_daemon rounds", function()
    S.seed("I", 10, 18)
    local out = os.tmpname()
    local p = io.popen(string.format("%s --imapfilter %sinteractive.lua >%s 2>&1",
      os.getenv("IMAPSCRIPT") or "build/imapscript", CONFIGS, out), "w")
    p:write(S.env("TESTBED_PASSWORD"), "\n")
    p:flush()
    -- Wait until it is logged in (and so about to IDLE), then add mail.
    for _ = 1, 100 do
      local f = io.open(out)
      local s = f and f:read("a") or ""
      if f then f:close() end
      if s:find("logged in", 1, true) then break end
      os.execute("sleep 0.1")
    end
    os.execute("sleep 1")
    S.seed("I", 1, 19)
    p:close()
    local f = io.open(out)
    local text = f:read("a")
    f:close()
    os.remove(out)
    assert.truthy(text:find("Enter password for", 1, true), text)
    assert.truthy(text:find("idle\ttrue\tCHANGED", 1, true), text)
    assert.truthy(text:find("tick\t2\ttrue", 1, true), text)
    assert.truthy(text:find("stop the daemon", 1, true), text)
  end)

  it("creates only the folders that receive mail, carries on past missing mailboxes (lists.lua)", function()
    S.seed("INBOX", 400, 21)
    S.seed("Lists/lua", 5, 22)
    local code, out, err = S.run("--imapfilter " .. CONFIGS .. "lists.lua")
    assert.are.equal(0, code, err)
    for _, box in ipairs { "Lists/dovecot", "Lists/debian", "Lists/imapscript", "Robots", "Archive/Old" } do
      assert.is_true(S.count(box) > 0, box)
      assert.truthy(out:find(" messages moved from alice@127.0.0.1/INBOX to alice@127.0.0.1/" .. box .. ".",
        1, true), box .. "\n" .. out)
    end
    for _, box in ipairs { "Lists/ubuntu", "Lists/kde", "Lists/freebsd", "Never/Created", "Receipts",
                           "Archive/Receipts" } do
      assert.is_false(S.exists(box), box)
    end
    -- Subscribed: what it created (Lists/lua and Lists/debian existed before).
    local subscribed = " " .. (out:match("subscribed\t([^\n]*)") or "") .. " "
    for _, box in ipairs { "Archive/Old", "Lists/dovecot", "Lists/imapscript", "Robots" } do
      assert.truthy(subscribed:find(" " .. box .. " ", 1, true), box .. subscribed)
    end
    assert.falsy(subscribed:find(" Lists/lua ", 1, true), subscribed)
    assert.falsy(subscribed:find(" Lists/debian ", 1, true), subscribed)
    assert.truthy(out:find("Receipts\t-1\t-1\t-1\t-1", 1, true), out)
    assert.truthy(err:find("lists.lua:44: search Lists/ubuntu: .-NO"), err)
    assert.truthy(err:find("lists.lua:47: status Receipts: .-NO"), err)
  end)

  it("runs become_daemon rounds and catches mail that arrives between two (daemon.lua)", function()
    S.seed("Daemon", 10, 40)
    local out = os.tmpname()
    os.execute(string.format("(timeout -k 5 60 %s --imapfilter %sdaemon.lua >%s 2>&1; echo $? >%s.rc) &",
      os.getenv("IMAPSCRIPT") or "build/imapscript", CONFIGS, out, out))
    local function text()
      local f = io.open(out)
      local s = f and f:read("a") or ""
      if f then f:close() end
      return s
    end
    for _ = 1, 300 do
      if text():find("round\t1\t0", 1, true) then break end
      os.execute("sleep 0.1")
    end
    assert.truthy(text():find("round\t1\t0", 1, true), text())
    assert.is_false(S.exists("Daemon/Caught"))     -- nothing moved yet: not created
    local add = S.script([[acct.Daemon:append("From: a@example.org\r\nSubject: daemon-catch\r\n" ..
      "Message-ID: <daemon@compat>\r\n\r\nhi\r\n")]])
    assert.are.equal(0, (S.run(add)))
    os.remove(add)
    local code
    for _ = 1, 600 do
      local f = io.open(out .. ".rc")
      if f then code = tonumber(f:read("l")); f:close(); break end
      os.execute("sleep 0.1")
    end
    local s = text()
    os.remove(out); os.remove(out .. ".rc")
    assert.are.equal(1, code, s)                   -- ended by the config's error, not the timeout
    local caught = tonumber(s:match("round\t(%d+)\t1"))
    assert.is_true(caught and caught >= 2, s)
    for i = 1, caught - 1 do assert.truthy(s:find("round\t" .. i .. "\t0", 1, true), s) end
    assert.truthy(s:find("caught it", 1, true), s)
    assert.truthy(S.state("Daemon/Caught")["<daemon@compat>"])
    assert.falsy(S.state("Daemon")["<daemon@compat>"])
  end)

  it("runs the default config from $IMAPFILTER_HOME and shows the options in --help", function()
    local _, out = S.run("--help")
    assert.truthy(out:find("--imapfilter", 1, true))
    local dir = S.tmpdir()
    local f = io.open(dir .. "/config.lua", "w")
    f:write("print(type(IMAP), type(options), options.expunge, options.keepalive, imapscript.version ~= nil)\n")
    f:close()
    local code, text, err = S.run("--imapfilter", nil)
    local _ = code
    code, text, err = (function()
      local p = io.popen("IMAPFILTER_HOME=" .. dir .. " build/imapscript --imapfilter 2>&1")
      local s = p:read("a")
      local ok, _, c = p:close()
      return c, s, ok
    end)()
    assert.are.equal(0, code, text)
    assert.truthy(text:find("table\ttable\ttrue\t29\ttrue", 1, true), text)
    local _e = err
    os.execute("rm -rf " .. dir)
  end)
end)
