-- Every script in examples/ runs against the test bed: for real where it is cheap to check,
-- in a dry run otherwise. The account settings come from IMAP_* variables, as the
-- examples document; -e points them at the test bed's port and CA.
local S = require "tests.integration.support"

local run = S.run_example

describe("examples", function()
  setup(function() S.seed("INBOX", 400, 101) end)

  it("largest.lua prints the largest messages, biggest first", function()
    local code, out, err = run("largest.lua", "INBOX 5")
    assert.are.equal(0, code, err)
    local sizes = {}
    for kb in out:gmatch("(%d+%.%d) KB") do sizes[#sizes + 1] = tonumber(kb) end
    assert.are.equal(5, #sizes)
    for i = 2, #sizes do assert.is_true(sizes[i - 1] >= sizes[i]) end
  end)

  it("sort-lists.lua files list mail by List-Id", function()
    local code, _, err = run("sort-lists.lua")
    assert.are.equal(0, code, err)
    assert.is_true(S.count("Lists/lua-l") > 0)
    assert.is_true(S.count("Lists/debian-devel") > 0)
  end)

  it("flag-vip.lua, purge-trash.lua and archive-by-year.lua plan their work in a dry run", function()
    local before = S.state("INBOX")
    for _, ex in ipairs { "flag-vip.lua", "purge-trash.lua", "archive-by-year.lua" } do
      local code, _, err = run(ex, "", "-n")
      assert.are.equal(0, code, ex .. ": " .. err)
    end
    local code, out = run("archive-by-year.lua", "30", "-n")
    assert.are.equal(0, code)
    assert.truthy(out:find("move %d+ INBOX %-> Archive/20%d%d"), out)
    assert.are.same(before, S.state("INBOX"))
  end)

  it("archive-by-year.lua moves old read mail into per-year folders", function()
    local code, _, err = run("archive-by-year.lua", "30")
    assert.are.equal(0, code, err)
    local years = 0
    for y = 2015, tonumber(os.date("%Y")) do
      if S.exists("Archive/" .. y) then years = years + 1 end
    end
    assert.is_true(years >= 2)
  end)

  it("demo.lua (what make demo runs) reports before and after", function()
    local code, out, err = S.run("examples/demo.lua")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("Before:", 1, true) and out:find("After:", 1, true), out)
    assert.truthy(out:find("The rules took %d+ commands in %d+ round trips"), out)
  end)

  it("unsubscribe-report.lua lists the lists with their unsubscribe links, changing nothing", function()
    local before = S.state("INBOX")
    local code, out, err = run("unsubscribe-report.lua")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("\n%s+%d+%s+%d+%%  [^\n]*<[%w.-]+>\n"), out)     -- a List-Id
    assert.truthy(out:find("<mailto:[^>]+%?subject=unsubscribe>"), out)
    local total = 0
    for n in out:gmatch("\n%s*(%d+)%s+%d+%%") do total = total + tonumber(n) end
    local listed = 0
    for _, m in pairs(S.state("INBOX")) do listed = listed + 1 end
    assert.is_true(total > 0 and total < listed, out)
    assert.are.same(before, S.state("INBOX"))
  end)

  it("out-of-office.lua files automatic replies, marked read, and leaves the rest", function()
    local replies = {
      "Auto-Submitted: auto-replied\r\nSubject: Re: your mail\r\n",
      "X-Autoreply: yes\r\nSubject: Away\r\n",
      "Subject: Automatic reply: Budget 2024\r\n",
      "Subject: Out of Office: back on Monday\r\n",
    }
    local body = {}
    for i, h in ipairs(replies) do
      body[#body + 1] = string.format("acct.INBOX:append(%q)",
        string.format("From: someone@example.net\r\nMessage-ID: <ooo-%d@test>\r\n%s\r\nI am away.\r\n", i, h))
    end
    body[#body + 1] = [[acct.INBOX:append("From: a@example.net\r\nMessage-ID: <ooo-keep@test>\r\nSubject: Office party\r\n\r\nhi\r\n")]]
    local code, _, err = S.run(S.script(table.concat(body, "\n")))
    assert.are.equal(0, code, err)
    local n_inbox = S.count("INBOX")
    code, _, err = run("out-of-office.lua")
    assert.are.equal(0, code, err)
    local filed = S.state("Auto-replies")
    for i = 1, #replies do
      assert.are.equal("\\Seen", filed["<ooo-" .. i .. "@test>"], "reply " .. i)
    end
    assert.is_nil(filed["<ooo-keep@test>"])
    assert.are.equal(n_inbox - #replies, S.count("INBOX"))
  end)

  it("digest.lua summarises two accounts, and stores the digest with --store", function()
    S.seed("INBOX", 30, 7, "bob")
    local second = string.format("IMAP2_HOST=%s IMAP2_USER=%s IMAP2_PASSWORD=%s", S.env("TESTBED_HOST"),
      S.env("TESTBED_USER2"), S.shquote(S.env("TESTBED_PASSWORD2")))
    local code, out, err = run("digest.lua", "", "", second)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("first:\n  INBOX%s+%d+ unread of %d+"), out)
    assert.truthy(out:find("second:\n  INBOX%s+%d+ unread of 30"), out)
    local n = S.count("INBOX")
    code, _, err = run("digest.lua", "--store", "", second)
    assert.are.equal(0, code, err)
    assert.are.equal(n + 1, S.count("INBOX"))
  end)

  it("archive-retention.lua archives by year and empties years past the policy", function()
    os.execute(string.format("scripts/testbed seed %s --user alice --mailbox Archive/2010 --count 20 --seed 9 " ..
      "--start-date 2010-02-01 --days 200 >/dev/null", S.shquote(S.env("TESTBED_DIR"))))
    local flagged = 0
    for _, flags in pairs(S.state("Archive/2010")) do
      if flags:find("\\Flagged") then flagged = flagged + 1 end
    end
    local code, _, err = run("archive-retention.lua", "30 7")
    assert.are.equal(0, code, err)
    if flagged == 0 then
      assert.is_false(S.exists("Archive/2010"))
    else
      assert.are.equal(flagged, S.count("Archive/2010"))
    end
    local years = 0
    for y = 2015, tonumber(os.date("%Y")) do
      if S.exists("Archive/" .. y) then years = years + 1 end
    end
    assert.is_true(years >= 2)
    for _, flags in pairs(S.state("INBOX")) do
      assert.is_nil(flags:find("\\Deleted"))
    end
  end)

  it("attachments.lua reports each attachment by name and size, and a total per type", function()
    -- 30,000 bytes in base64 (40,000 on the server), named the RFC 2231 way.
    local b64 = string.rep(string.rep("QUJD", 19) .. "\r\n", 526):sub(1, 40000 + 2 * 526)
    local msg = table.concat({
      "From: Carla <carla@example.net>", "Subject: report", "Message-ID: <att-1@t>",
      "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"', "",
      "--b", "Content-Type: text/plain", "", "See attached.", "",
      "--b", "Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
      "Content-Disposition: attachment; filename*=UTF-8''%C3%9Cbersicht.pdf", "", b64,
      "--b--", "" }, "\r\n")
    local code, _, err = S.run(S.script(string.format("acct:create('Att')\nacct.Att:append(%q)", msg)))
    assert.are.equal(0, code, err)
    local out
    code, out, err = run("attachments.lua", "Att 1")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("carla@example.net%s+\u{dc}bersicht%.pdf %(3%d KB%)"), out)
    assert.truthy(out:find("1 attachment in 1 message,", 1, true), out)
    assert.truthy(out:find("application/pdf%s+0%.0 MB"), out)
    code, out, err = run("attachments.lua", "INBOX 1")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("[1-9]%d* attachments? in [1-9]%d* messages?"), out)
  end)

  it("daemon.lua runs its rules and watches", function()
    local code, _, err = run("daemon.lua")
    assert.are.equal(0, code, err)
  end)
end)
