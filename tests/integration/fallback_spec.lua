-- Servers with fewer extensions: no MOVE, no UIDPLUS, no SEARCHRES, no WITHIN, no
-- LITERAL+. Each case runs on a test bed of its own started with a trimmed capability list.
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }
local Q = imap.query

local BASE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE " ..
  "LIST-EXTENDED CONDSTORE ESEARCH SPECIAL-USE"

local function bed(caps) return S.bed(imap, { caps = caps }) end

local function with(flag) return function(f) return (" " .. f .. " "):find(" " .. flag .. " ", 1, true) ~= nil end end
local function ids(st, pred)
  local out = {}
  for id, flags in pairs(st) do if not pred or pred(flags) then out[#out + 1] = id end end
  table.sort(out)
  return out
end

describe("without MOVE and UIDPLUS", function()
  local b
  setup(function() b = bed(BASE) end)
  teardown(function() b.stop() end)

  it("copies, then expunges exactly the moved messages: the others keep their \\Deleted", function()
    b.seed("F1", 30, 81)
    local acct = b.account { create = true }
    local caps = table.concat(acct:capabilities(), " ")
    assert.falsy(caps:find("MOVE", 1, true))
    assert.falsy(caps:find("UIDPLUS", 1, true))
    local before = b.state("F1")
    local seen = ids(before, with("\\Seen"))
    local unseen = ids(before, function(f) return not with("\\Seen")(f) end)
    assert.is_true(#seen > 0 and #seen < 30)
    acct.F1:search(~Q.seen):add_flags { "\\Deleted" }     -- someone else's \Deleted mail
    acct.F1:search(Q.seen):move_to(acct.F1_dest)
    acct:logout()
    assert.are.same(seen, ids(b.state("F1_dest")))
    -- The moved ones are gone; every other message is still there, still \Deleted.
    assert.are.same(unseen, ids(b.state("F1")))
    assert.are.same(unseen, ids(b.state("F1"), with("\\Deleted")))
    -- Run again: nothing matches twice, nothing is copied twice.
    acct = b.account { create = true }
    acct.F1:search(Q.seen):move_to(acct.F1_dest)
    acct:logout()
    assert.are.same(seen, ids(b.state("F1_dest")))
    S.mailroot = b.env.TESTBED_MAILROOT
    local _, n = S.state("F1_dest")          -- messages, copies included
    S.mailroot = nil
    assert.are.equal(#seen, n)
  end)

  it("lets CLOSE expunge when the account says expunge = \"all\"", function()
    b.seed("F2", 20, 82)
    local acct = b.account { create = true, expunge = "all" }
    local seen = ids(b.state("F2"), with("\\Seen"))
    assert.is_true(#seen > 0 and #seen < 20)
    acct.F2:search(Q.seen):move_to(acct.F2_dest)
    acct:logout()
    assert.are.same(seen, ids(b.state("F2_dest")))
    assert.are.equal(20 - #seen, #ids(b.state("F2")))
  end)

  it("runs OLDER and YOUNGER as dates without WITHIN", function()
    b.seed("F3", 40, 83)
    local acct = b.account()
    local old, young = acct.F3:search(Q.older(365 * 86400)), acct.F3:search(Q.younger(365 * 86400))
    assert.are.equal(40, #(old + young))
    acct:logout()
  end)

  it("sends literals synchronously without LITERAL+", function()
    local acct = b.account { user = "carol", password = b.env.TESTBED_PASSWORD3 }
    acct:create("Lit")
    acct.Lit:append(("x"):rep(5000) .. "\r\n", { "\\Seen" })
    assert.are.equal(1, acct.Lit:status().messages)
    acct:logout()
  end)
end)

describe("without MOVE, with UIDPLUS", function()
  local b
  setup(function() b = bed(BASE .. " UIDPLUS") end)
  teardown(function() b.stop() end)

  it("expunges exactly the copied messages with UID EXPUNGE", function()
    b.seed("G1", 30, 91)
    local acct = b.account { create = true }
    local before = b.state("G1")
    local seen, unseen = ids(before, with("\\Seen")), ids(before, function(f) return not with("\\Seen")(f) end)
    assert.is_true(#seen > 0 and #unseen > 0)
    acct.G1:search(~Q.seen):add_flags { "\\Deleted" }
    acct.G1:search(Q.seen):move_to(acct.G1_dest)
    acct:logout()
    assert.are.same(seen, ids(b.state("G1_dest")))
    assert.are.same(unseen, ids(b.state("G1")))
    assert.are.same(unseen, ids(b.state("G1"), with("\\Deleted")))
  end)
end)
