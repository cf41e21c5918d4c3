-- Differential test: the configs of tests/compat/configs run through Debian's imapfilter
-- 2.8 (`imapfilter -c CONFIG`) against a second, identically seeded test bed, and through
-- `imapscript --imapfilter` against this one. Their printed output and the final server
-- states (every mailbox of every user: Message-IDs and flags, read from the Maildirs) must
-- be equal, except for the one deliberate difference below.
--
-- The deliberate difference, named: imapfilter sends a bare EXPUNGE after every STORE of
-- \Deleted (options.expunge), which also removes every message that was already \Deleted
-- in that mailbox before the run. imapscript expunges only the messages it flagged (UID
-- EXPUNGE). So messages \Deleted before the run may still exist, \Deleted, on imapscript's
-- side where imapfilter's side lost them; nothing else may differ.
package.path = "./tests/compat/?.lua;" .. package.path
local S = require "tests.integration.support"
local state = require "state"

local have_imapfilter = os.execute("command -v imapfilter >/dev/null 2>&1") == true
local bed2, home, env2

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

local function seed_both(mailbox, count, seed)
  S.seed(mailbox, count, seed)
  local code = sh(string.format("scripts/testbed seed %s --user alice --mailbox %s --count %d --seed %d",
    S.shquote(bed2), S.shquote(mailbox), count, seed))
  assert.are.equal(0, code, "seeding the second bed")
end

-- Message-IDs \Deleted anywhere before a run (on imapfilter's bed).
local deleted_before = {}
local function remember_deleted()
  for _, box in pairs(state.read(env2.TESTBED_MAILROOT)) do
    for id, flags in pairs(box) do
      if flags:find("\\Deleted", 1, true) then deleted_before[id:gsub("#%d+$", "")] = true end
    end
  end
end

local function compare(config)
  remember_deleted()
  local cfg = "tests/compat/configs/" .. config
  local code1, out1 = sh((os.getenv("IMAPSCRIPT") or "build/imapscript") .. " --imapfilter " .. cfg)
  assert.are.equal(0, code1, "imapscript failed on " .. config)
  local code2, out2 = sh(string.format(". %s/env && HOME=%s imapfilter -c %s -t \"$TESTBED_CA\"",
    S.shquote(bed2), S.shquote(home), cfg))
  assert.are.equal(0, code2, "imapfilter failed on " .. config)
  assert.are.equal(out2, out1, config .. ": printed output differs")
  local ours = state.read(S.env("TESTBED_MAILROOT"))
  local theirs = state.read(env2.TESTBED_MAILROOT)
  local expected, unexpected = {}, {}
  for _, d in ipairs(state.diff(ours, theirs)) do
    local id = d.id:gsub("#%d+$", "")
    if d.b == nil and d.a and d.a:find("\\Deleted", 1, true) and deleted_before[id] then
      expected[#expected + 1] = string.format("%s %s (%s)", d.mailbox, d.id, d.a)
    else
      unexpected[#unexpected + 1] = string.format("%s %s: imapscript %s, imapfilter %s",
        d.mailbox, d.id, tostring(d.a), tostring(d.b))
    end
  end
  assert.are.same({}, unexpected, config .. ": states differ")
  return expected, state.count(ours), state.count(theirs)
end

local describe_if = have_imapfilter and describe or pending

describe_if("imapfilter 2.8 and imapscript --imapfilter, side by side", function()
  setup(function()
    bed2 = os.tmpname()
    os.remove(bed2)
    home = os.tmpname()
    os.remove(home)
    os.execute("mkdir -p " .. S.shquote(home))
    assert.are.equal(0, (sh("scripts/testbed start " .. S.shquote(bed2))), "second bed did not start")
    env2 = {}
    local f = assert(io.open(bed2 .. "/env"))
    for line in f:lines() do
      local k, v = line:match("^export ([%w_]+)=(.*)$")
      if k then env2[k] = v:gsub("^'(.*)'$", "%1") end
    end
    f:close()
  end)

  teardown(function()
    if bed2 then
      sh("scripts/testbed stop " .. S.shquote(bed2))
      os.execute("rm -rf " .. S.shquote(bed2) .. " " .. S.shquote(home))
    end
  end)

  it("agree on every searching method (search.lua)", function()
    seed_both("S", 300, 11)
    seed_both("T", 300, 12)
    local expected = compare("search.lua")
    assert.are.same({}, expected)      -- no \Deleted stores: no expunge difference either
  end)

  it("agree on processing, across mailboxes and accounts (process.lua), but for EXPUNGE", function()
    seed_both("P", 300, 13)
    seed_both("Q", 100, 14)
    local expected, ours, theirs = compare("process.lua")
    -- The deliberate difference shows, and is exactly the pre-deleted messages.
    assert.is_true(#expected > 0)
    assert.are.equal(#expected, ours - theirs)
    print(string.format("\nprocess.lua: %d messages \\Deleted before the run survive under imapscript, " ..
      "expunged by imapfilter's bare EXPUNGE:\n  %s", #expected, table.concat(expected, "\n  ")))
  end)

  it("agree on account methods and auxiliary functions (accounts.lua)", function()
    seed_both("L", 60, 15)
    compare("accounts.lua")
  end)
end)
