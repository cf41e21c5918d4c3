-- Every script in examples/ runs against the test bed: for real where it is cheap to check,
-- in a dry run otherwise. The account settings come from IMAP_* variables, as the
-- examples document; -e points them at the test bed's port and CA.
local S = require "tests.integration.support"

local function run(example, args, opts)
  local patch = string.format(
    "local a = imap.account; imap.account = function(c) c.port = %d; c.ca_file = %q; return a(c) end; " ..
    "local w = imap.watch; imap.watch = function(b, f, o) o = o or {}; o.rounds = 1; o.interval = 1; return w(b, f, o) end",
    tonumber(S.env("TESTBED_TLS_PORT")), S.env("TESTBED_CA"))
  local cmd = string.format("env IMAP_HOST=%s IMAP_USER=%s IMAP_PASSWORD=%s %s %s -e %s examples/%s %s",
    S.env("TESTBED_HOST"), S.env("TESTBED_USER"), S.shquote(S.env("TESTBED_PASSWORD")),
    os.getenv("IMAPSCRIPT") or "build/imapscript", opts or "", S.shquote(patch), example, args or "")
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(cmd .. " >" .. out .. " 2>" .. err .. " </dev/null")
  local function slurp(p) local f = io.open(p); local s = f:read("a"); f:close(); os.remove(p); return s end
  return code, slurp(out), slurp(err)
end

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

  it("daemon.lua runs its rules and watches", function()
    local code, _, err = run("daemon.lua")
    assert.are.equal(0, code, err)
  end)
end)
