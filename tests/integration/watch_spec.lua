-- imap.watch as a daemon: it runs the rules at start, again when mail arrives, and
-- survives the server dropping its connection.
local S = require "tests.integration.support"

describe("imap.watch", function()
  it("files new mail, reconnecting after the server drops the connection", function()
    S.seed("W", 10, 111)
    local dir = S.env("TESTBED_DIR")
    local conf = S.shquote(dir .. "/dovecot.conf")
    -- In the background: drop the session after 2 s, deliver a message after 5 s.
    local later = string.format("(sleep 2; doveadm -c %s kick alice; sleep 3; " ..
      "scripts/testbed seed %s --mailbox W --count 1 --seed 112) >/dev/null 2>&1 &",
      conf, S.shquote(dir))
    local script = S.script(string.format([[
      os.execute(%q)
      local calls = 0
      imap.watch({ acct.W }, function(box)
        calls = calls + 1
        box:search(Q.unseen):mark_seen()
      end, { interval = 1, rounds = 12 })
      print("calls", calls)
    ]], later))
    local code, out, err = S.run(script)
    assert.are.equal(0, code, err)
    assert.truthy(err:find("reconnecting", 1, true), err)
    local calls = tonumber(out:match("calls%s+(%d+)"))
    assert.is_true(calls >= 2, out)
    local st, n = S.state("W")
    assert.are.equal(11, n)
    for id, flags in pairs(st) do assert.truthy(flags:find("\\Seen", 1, true), id) end
  end)
end)
