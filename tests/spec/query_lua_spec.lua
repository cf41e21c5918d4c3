-- The query layer scripts use (lua/imapscript/query.lua): keys, Query{}, Or, Not, dates.
local query = require "imapscript.query"
local Q = query.Q

describe("imap.query", function()
  it("has every flag key as a value", function()
    for name, wire in pairs { all = "ALL", seen = "SEEN", unseen = "UNSEEN", flagged = "FLAGGED",
        unflagged = "UNFLAGGED", answered = "ANSWERED", unanswered = "UNANSWERED",
        deleted = "DELETED", undeleted = "UNDELETED", draft = "DRAFT", undraft = "UNDRAFT",
        recent = "RECENT", new = "NEW", old = "OLD" } do
      assert.are.equal(wire, tostring(Q[name]))
    end
  end)

  it("builds keys with arguments", function()
    assert.are.equal('FROM "alice@example.org"', tostring(Q.from "alice@example.org"))
    assert.are.equal('HEADER List-Id "lua-l.lists.lua.org"',
      tostring(Q.header("List-Id", "lua-l.lists.lua.org")))
    assert.are.equal("LARGER 1000", tostring(Q.larger(1000)))
    assert.are.equal("OLDER 86400", tostring(Q.older(86400)))
    assert.are.equal("UID 1:3,7", tostring(Q.uid "1:3,7"))
    assert.are.equal("UID 1:3", tostring(Q.uid { 3, 1, 2 }))
  end)

  it("takes dates as YYYY-MM-DD, os.time() and days_ago", function()
    assert.are.equal("BEFORE 1-Feb-2024", tostring(Q.before "2024-02-01"))
    assert.are.equal("SENTSINCE 29-Feb-2024", tostring(Q.sent_since "2024-02-29"))
    local t = os.time { year = 2023, month = 12, day = 31, hour = 12 }
    assert.are.equal("ON 31-Dec-2023", tostring(Q.on(t)))
    local want = os.date("*t", os.time() - 3 * 86400)
    local text = tostring(Q.since(query.days_ago(3)))
    assert.truthy(text:find(string.format("^SINCE %d%%-", want.day)))
  end)

  it("rejects bad dates and numbers with a clear message", function()
    assert.has_error(function() Q.before "2024-13-01" end)
    assert.has_error(function() Q.before "yesterday" end)
    assert.has_error(function() Q.larger(-1) end)
    assert.has_error(function() Q.larger(1.5) end)
  end)

  it("combines with & | ~ into one search", function()
    local q = Q.seen & Q.before "2024-01-01" & ~Q.flagged
    assert.are.equal("SEEN BEFORE 1-Jan-2024 NOT FLAGGED", tostring(q))
    assert.are.equal('OR FROM "noreply@" FROM "notifications@"',
      tostring(Q.from "noreply@" | Q.from "notifications@"))
  end)

  it("offers the seeds' spellings: Query{}, Or, Not", function()
    local q = query.Query { from = "x", unseen = true, larger = 1000 }
    assert.are.equal('FROM "x" LARGER 1000 UNSEEN', tostring(q))
    assert.are.equal("NOT SEEN", tostring(query.Query { seen = false }))
    assert.are.equal("OR SEEN OR FLAGGED DRAFT", tostring(query.Or(Q.seen, Q.flagged, Q.draft)))
    assert.are.equal("NOT SEEN", tostring(query.Not(Q.seen)))
    assert.has_error(function() query.Query { nonsense = 1 } end)
    assert.has_error(function() query.Or(Q.seen, "x") end)
  end)
end)
