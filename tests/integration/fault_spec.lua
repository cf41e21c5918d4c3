-- Faults injected between the program and Dovecot by build/faultproxy: the connection cut
-- before a command reaches the server, after the server answered it (the answer lost), or in
-- the middle of a literal; and the client killed (-9) at random points. On a server with MOVE,
-- one without MOVE, and one without MOVE and UIDPLUS (the proxy refuses what Dovecot would still
-- run). After the faulted run and a rerun, every message is where the same rules leave it
-- without faults, with the same flags: none lost, none twice.
local S = require "tests.integration.support"
package.path = "./tests/compat/?.lua;" .. package.path
local oracle = require "state"

local RULES = "tests/integration/fault_rules.lua"
local BASE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE " ..
  "LIST-EXTENDED CONDSTORE ESEARCH SEARCHRES SPECIAL-USE LITERAL+"

local KINDS = {
  { name = "with MOVE", caps = nil, refuse = nil,
    cuts = { "after:UID MOVE", "before:UID MOVE:2", "mid:UID FETCH", "after:UID STORE",
             "after:UID EXPUNGE", "before:UID STORE:2", "mid:APPEND", "after:APPEND",
             "after:SELECT:2" },
    down = "after:UID MOVE:2" },
  { name = "without MOVE", caps = BASE .. " UIDPLUS", refuse = "MOVE,UID MOVE",
    cuts = { "after:UID COPY", "before:UID COPY:2", "before:UID EXPUNGE", "after:UID EXPUNGE:2",
             "after:UID STORE", "mid:UID FETCH:2", "mid:APPEND:3", "after:UID SEARCH:2" },
    down = "after:UID COPY:2" },
  { name = "without MOVE and UIDPLUS", caps = BASE, refuse = "MOVE,UID MOVE,UID EXPUNGE",
    cuts = { "after:UID COPY", "before:UID COPY:2", "after:UID STORE:2", "before:EXPUNGE",
             "after:EXPUNGE:2", "after:UID STORE:4", "mid:UID FETCH:3", "mid:APPEND",
             "before:UID SEARCH:3" },
    down = "after:EXPUNGE:2" },
}

-- Where each message of the rules' mailboxes is: {message-id = "where flags"}, "where" being
-- the mailbox after the source's name ("", "/old", ...) or "bob"; a second copy is "<id>#2".
local function where(b, src)
  local out = {}
  for name, box in pairs(oracle.read(b.env.TESTBED_MAILROOT)) do
    local place
    if name == "alice/" .. src or name:sub(1, #src + 7) == "alice/" .. src .. "/" then
      place = name:sub(#src + 7)
    elseif name == "bob/" .. src .. "-alice" then
      place = "bob"
    end
    if place then
      for id, flags in pairs(box) do
        assert.is_nil(out[id], "in two mailboxes: " .. id)
        out[id] = place .. " " .. flags
      end
    end
  end
  return out
end

-- Runs the rules through a proxy; returns exit code and stderr.
local function run(b, px, src, state, extra)
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(string.format("%s %s --state %s %s %d %s %s %s >%s 2>%s </dev/null",
    os.getenv("IMAPSCRIPT") or "build/imapscript", extra or "", S.shquote(state), RULES, px.port,
    S.shquote(src), S.shquote(b.env.TESTBED_PASSWORD), S.shquote(b.env.TESTBED_PASSWORD2), out, err))
  local f = io.open(err)
  local text = f:read("a")
  f:close()
  os.remove(out)
  os.remove(err)
  return code, text
end

local n = 0
local function fresh(b)
  n = n + 1
  local src = "f" .. n
  b.seed(src, 80, 21)
  local state = os.tmpname()
  os.remove(state)
  return src, state
end

-- The rules without a fault, and a rerun: what every trial must end with.
local function reference(b, kind)
  local src, state = fresh(b)
  local px = S.proxy(b.env, { refuse = kind.refuse })
  local code, err = run(b, px, src, state)
  assert.are.equal(0, code, err)
  code, err = run(b, px, src, state)
  assert.are.equal(0, code, err)
  px.stop()
  local ref = where(b, src)
  -- the rules did move, flag and delete something
  local places = {}
  for _, w in pairs(ref) do places[w:match("^(%S*)")] = true end
  assert.is_true(places["/lists"] and places["/old"] and places["/patches"] and places.bob, "rules did too little")
  return ref
end

-- A faulted run (it must reconnect and finish), then a rerun; both end like the reference.
local function cut_trial(b, kind, ref, cut)
  local src, state = fresh(b)
  local px = S.proxy(b.env, { refuse = kind.refuse, cut = cut })
  local code, err = run(b, px, src, state)
  px.stop()
  assert.are.equal(1, px.cuts(), cut .. ": the cut did not happen\n" .. px.text())
  assert.are.equal(0, code, cut .. ": " .. err)
  assert.truthy(err:find("reconnected", 1, true), cut .. ": " .. err)
  local px2 = S.proxy(b.env, { refuse = kind.refuse })
  local code2, err2 = run(b, px2, src, state)
  px2.stop()
  assert.are.equal(0, code2, err2)
  assert.are.same(ref, where(b, src), cut)
end

-- The server stays down after the cut: exit 3 with what became of each line; the next run
-- resolves what was unknown and finishes the work.
local function down_trial(b, kind, ref)
  local src, state = fresh(b)
  local px = S.proxy(b.env, { refuse = kind.refuse, cut = kind.down, down = true })
  local code, err = run(b, px, src, state)
  px.stop()
  assert.are.equal(3, code, err)
  -- one line per action of the script: done, not done or unknown
  local lines = 0
  for _ in err:gmatch("fault_rules%.lua:%d+: [^\n]-: [%a ]+[^\n]*\n") do lines = lines + 1 end
  assert.are.equal(7, lines, err)
  assert.truthy(err:find(": unknown (sent, no answer", 1, true), err)
  assert.truthy(err:find(": not done\n", 1, true), err)
  local px2 = S.proxy(b.env, { refuse = kind.refuse })
  local code2, err2 = run(b, px2, src, state)
  px2.stop()
  assert.are.equal(0, code2, err2)
  assert.truthy(err2:find("resolved", 1, true), err2)
  assert.are.same(ref, where(b, src))
end

-- kill -9 after ms milliseconds of a run slowed by the proxy, then a rerun. The rerun starts
-- over from the rules: a message a later rule had changed (marked seen) but not yet moved may
-- be caught by an earlier rule this time, so the end state need not be the reference's. What
-- the journal guarantees: no message twice, none lost (what is missing, the reference deleted
-- too: these rules only ever add flags, so a rerun deletes no more than the reference), and no
-- entry left unresolved.
local function kill_trial(b, kind, ref, ms)
  local src, state = fresh(b)
  local px = S.proxy(b.env, { refuse = kind.refuse, delay = 40 })   -- a run takes about 1.2 s
  os.execute(string.format("(%s --state %s %s %d %s %s %s >/dev/null 2>&1 </dev/null & pid=$!; " ..
    "sleep %.3f; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null)", os.getenv("IMAPSCRIPT") or "build/imapscript",
    S.shquote(state), RULES, px.port, S.shquote(src), S.shquote(b.env.TESTBED_PASSWORD),
    S.shquote(b.env.TESTBED_PASSWORD2), ms / 1000))
  px.stop()
  local px2 = S.proxy(b.env, { refuse = kind.refuse })
  local code, err = run(b, px2, src, state)
  px2.stop()
  assert.are.equal(0, code, err)
  local got = where(b, src)            -- fails on a message in two mailboxes
  for id in pairs(got) do
    assert.falsy(id:find("#%d+$"), "killed after " .. ms .. " ms: twice: " .. id)
  end
  for id in pairs(ref) do
    assert.truthy(got[id], "killed after " .. ms .. " ms: lost " .. id)
  end
  local _, out = S.run("--state " .. S.shquote(state) .. " --history")
  assert.falsy(out:find("unknown", 1, true), out)
end

for k, kind in ipairs(KINDS) do
  describe("faults on a server " .. kind.name, function()
    local b, ref
    setup(function()
      b = kind.caps and S.bed(nil, { caps = kind.caps }) or S.this_bed()
      ref = reference(b, kind)
    end)
    teardown(function() b.stop() end)

    for _, cut in ipairs(kind.cuts) do
      it("cut " .. cut .. ": reconnects, resolves, loses and duplicates nothing", function()
        cut_trial(b, kind, ref, cut)
      end)
    end

    it("stays down after a cut: exit 3 with done / not done / unknown per line; the next run finishes", function()
      down_trial(b, kind, ref)
    end)

    if k ~= 2 then
      it("kill -9 at a few points: the next run finishes the work exactly", function()
        math.randomseed(1100 + k)
        for _ = 1, 3 do kill_trial(b, kind, ref, math.random(100, 1100)) end
      end)
    end
  end)
end
