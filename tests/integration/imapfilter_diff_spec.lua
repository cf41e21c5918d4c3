-- Differential test: the configs of tests/compat/configs run through Debian's imapfilter
-- 2.8 (`imapfilter -c CONFIG`) against a second, identically seeded test bed, and through
-- `imapscript --imapfilter` against this one. Compared, read from the Maildirs: every
-- user's mailboxes, subscriptions, and each message's mailbox and flags; and the exit
-- status, stdout, and the server's refusals each printed on stderr. They must be equal but
-- for the differences named below (docs/migrating-from-imapfilter.md), each allowed only
-- where it shows and reported when it does.
package.path = "./tests/compat/?.lua;" .. package.path
local S = require "tests.integration.support"
local state = require "state"

-- imapfilter sends a bare EXPUNGE after every STORE of \Deleted (options.expunge), which
-- also removes the messages that were \Deleted in that mailbox before the run; imapscript
-- expunges only what it flagged (UID EXPUNGE).
local EXPUNGE = "imapfilter's bare EXPUNGE removed messages \\Deleted before the run"
-- After a SELECT the server refused, imapfilter still takes the mailbox selected before as
-- selected, so its next command there fails with BAD "No mailbox selected".
local STALE = "imapfilter's stale selection after a refused SELECT"
-- imapfilter learns that a destination is missing from the NO [TRYCREATE] of its COPY, and
-- prints that NO; imapscript knows it from its mailbox list and creates it before the move.
local TRYCREATE = "imapfilter prints the NO [TRYCREATE] it creates a destination on"

local have_imapfilter = os.execute("command -v imapfilter >/dev/null 2>&1") == true
local bed2, home, env2

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

local function slurp(path)
  local f = io.open(path)
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s
end

-- Runs cmd (under a timeout); when its stdout says "waiting", runs during(). Returns the exit
-- status, stdout and stderr.
local function run(cmd, during)
  local out, err, rc = os.tmpname(), os.tmpname(), os.tmpname()
  os.execute(string.format("(timeout -k 5 60 sh -c %s >%s 2>%s </dev/null; echo $? >%s) &",
    S.shquote(cmd), out, err, rc))
  local waited = false
  for _ = 1, 700 do
    if slurp(rc) ~= "" then break end
    if during and not waited and slurp(out):find("waiting", 1, true) then
      waited = true
      os.execute("sleep 1")     -- it is in IDLE by now
      during()
    end
    os.execute("sleep 0.1")
  end
  local code = tonumber(slurp(rc))
  local o, e = slurp(out), slurp(err)
  os.remove(out); os.remove(err); os.remove(rc)
  return code, o, e
end

local function seed_both(mailbox, count, seed, user)
  S.seed(mailbox, count, seed, user)
  local code = sh(string.format("scripts/testbed seed %s --user %s --mailbox %s --count %d --seed %d",
    S.shquote(bed2), user or "alice", S.shquote(mailbox), count, seed))
  assert.are.equal(0, code, "seeding the second bed")
end

-- Removes the seeded messages flagged \Deleted from a mailbox on both beds: with info lines
-- on, imapfilter's bare EXPUNGE (EXPUNGE above) would show in the counts it prints too.
local function purge_deleted(mailbox, user)
  for _, root in ipairs { S.env("TESTBED_MAILROOT"), env2.TESTBED_MAILROOT } do
    local dir = root .. "/" .. (user or "alice") .. (mailbox == "INBOX" and "" or "/." .. mailbox:gsub("/", "."))
    assert(os.execute("find " .. S.shquote(dir .. "/cur") .. " -name '*:2,*T*' -delete"))
  end
end

-- Named message differences earlier configs left on the shared beds.
local known = {}

-- Message-IDs \Deleted anywhere before a run (on imapfilter's bed).
local deleted_before = {}
local function remember_deleted()
  for _, box in pairs(state.read(env2.TESTBED_MAILROOT)) do
    for id, flags in pairs(box) do
      if flags:find("\\Deleted", 1, true) then deleted_before[id:gsub("#%d+$", "")] = true end
    end
  end
end

-- The server's refusals a run printed on stderr, as "NO text" without Dovecot's timing,
-- sorted; imapfilter's [TRYCREATE] and stale-selection lines go to named.
local function refusals(err, named)
  local out = {}
  for line in err:gmatch("[^\n]+") do
    local what, text = line:match("^imapfilter: IMAP %(%d+%): %x+ (%u+) (.-)\r?$")
    if not what then
      what, text = line:match("^imapscript: warning: .-: (%u%u%u?) (.*)$")
    end
    if what == "NO" or what == "BAD" then
      text = text:gsub(" %(taken as empty%)$", ""):gsub("%s*%([%d.+ ]+secs%)%.?$", "")
      if text:find("[TRYCREATE]", 1, true) then
        named[TRYCREATE] = (named[TRYCREATE] or 0) + 1
      elseif what == "BAD" and text == "No mailbox selected" then
        named[STALE] = (named[STALE] or 0) + 1
      else
        out[#out + 1] = what .. " " .. text
      end
    end
  end
  table.sort(out)
  return out
end

-- Runs config through both; compares. allow(d) may name a message difference d
-- ({mailbox=, id=, a=ours, b=theirs}) the config is known to cause. Returns the named
-- differences that showed: {[name] = count}.
local function compare(config, allow, during)
  remember_deleted()
  local cfg = "tests/compat/configs/" .. config
  local code1, out1, err1 = run((os.getenv("IMAPSCRIPT") or "build/imapscript") .. " --imapfilter " .. cfg,
    during and function() during(nil) end)
  local code2, out2, err2 = run(string.format(". %s/env && HOME=%s imapfilter -c %s -t \"$TESTBED_CA\"",
    S.shquote(bed2), S.shquote(home), cfg), during and function() during(bed2) end)
  assert.are.equal(0, code1, config .. ": imapscript failed:\n" .. err1)
  assert.are.equal(code2, code1, config .. ": exit status")
  assert.are.equal(out2, out1, config .. ": printed output differs")
  local named = {}
  assert.are.same(refusals(err2, named), refusals(err1, {}), config .. ": the server's refusals differ")
  local root1, root2 = S.env("TESTBED_MAILROOT"), env2.TESTBED_MAILROOT
  local ours, theirs = state.read(root1), state.read(root2)
  assert.are.same(S.keys(theirs), S.keys(ours), config .. ": mailboxes differ")
  assert.are.same(state.subscriptions(root2), state.subscriptions(root1), config .. ": subscriptions differ")
  local unexpected = {}
  for _, d in ipairs(state.diff(ours, theirs)) do
    local id = d.id:gsub("#%d+$", "")
    local key = table.concat({ d.mailbox, d.id, tostring(d.a), tostring(d.b) }, " ")
    local name = known[key] or d.b == nil and d.a and d.a:find("\\Deleted", 1, true)
      and deleted_before[id] and EXPUNGE or allow and allow(d)
    if known[key] then
      -- shown by an earlier config: the beds are shared
    elseif name then
      known[key] = name
      named[name] = (named[name] or 0) + 1
    else
      unexpected[#unexpected + 1] = string.format("%s %s: imapscript %s, imapfilter %s",
        d.mailbox, d.id, tostring(d.a), tostring(d.b))
    end
  end
  assert.are.same({}, unexpected, config .. ": states differ")
  for name, n in pairs(named) do print(string.format("\n%s: %s (%d)", config, name, n)) end
  return named
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
    assert.are.same({}, compare("search.lua"))   -- no \Deleted stores: no difference at all
  end)

  it("agree on processing, across mailboxes and accounts (process.lua), but for EXPUNGE", function()
    seed_both("P", 300, 13)
    seed_both("Q", 100, 14)
    local named = compare("process.lua")
    assert.is_true(named[EXPUNGE] > 0)       -- the deliberate difference shows
  end)

  it("agree on account methods and auxiliary functions (accounts.lua)", function()
    seed_both("L", 60, 15)
    compare("accounts.lua")
  end)

  it("agree on a list-sorting config with missing mailboxes, creating only what receives mail (lists.lua)", function()
    seed_both("INBOX", 400, 21)
    seed_both("Lists/lua", 5, 22)
    purge_deleted("INBOX")
    local named = compare("lists.lua")
    assert.is_true(named[TRYCREATE] > 0)     -- imapfilter created its destinations as they came
    local boxes = table.concat(S.keys(state.read(S.env("TESTBED_MAILROOT"))), " ")
    assert.truthy(boxes:find("alice/Lists/dovecot", 1, true), boxes)
    for _, never in ipairs { "Lists/ubuntu", "Lists/kde", "Lists/freebsd", "Never/Created", "Receipts" } do
      assert.falsy(boxes:find("alice/" .. never, 1, true), never .. " was created")
    end
  end)

  it("agree on two accounts, mail moved between them, a module loaded with require (accounts2.lua)", function()
    seed_both("INBOX", 200, 23, "bob")
    seed_both("Work", 200, 24, "bob")
    purge_deleted("INBOX", "bob")
    purge_deleted("Work", "bob")
    compare("accounts2.lua")
  end)

  it("agree on an enter_idle loop woken by new mail (idle.lua)", function()
    seed_both("Idle", 40, 25)
    compare("idle.lua", nil, function(bed)
      local code = sh(string.format("scripts/testbed seed %s --user alice --mailbox Idle --count 3 --seed 26",
        S.shquote(bed or S.env("TESTBED_DIR"))))
      assert.are.equal(0, code)
    end)
  end)

  it("differ after a refused SELECT only by imapfilter's stale selection (stale.lua)", function()
    seed_both("Stale", 60, 27)
    local named = compare("stale.lua", function(d)
      -- The messages of Stale that are \Flagged: tagged by imapscript only.
      if d.mailbox == "alice/Stale" and d.a and d.b and d.a:find("\\Flagged", 1, true)
          and (" " .. d.a .. " "):gsub(" %$Flagged ", " ") == " " .. d.b .. " " then
        return STALE
      end
    end)
    assert.is_true(named[STALE] > 1)         -- the BAD line and the untouched messages
  end)
end)
