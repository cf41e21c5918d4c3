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

  -- Found by the differential test against Dovecot (issue 13); each failed before its fix.
  it("takes positional queries in Query{} beside named keys", function()
    assert.are.equal('FROM "x" SEEN', tostring(query.Query { Q.seen, from = "x" }))
    assert.are.equal("SEEN FLAGGED", tostring(query.Query { Q.seen, Q.flagged }))
    assert.has_error(function() query.Query { "x" } end)
  end)

  it("sends four-digit years", function()
    assert.are.equal("BEFORE 1-Jan-0999", tostring(Q.before { year = 999, month = 1, day = 1 }))
  end)

  it("shows the wire text in tostring, CHARSET and literals included", function()
    assert.are.equal("CHARSET UTF-8 FROM {7+}\r\nJ\u{fc}rgen", tostring(Q.from "J\u{fc}rgen"))
    assert.are.equal('SEEN SUBJECT {6+}\r\na\r\nb c', tostring(Q.seen & Q.subject "a\r\nb c"))
  end)

  it("names the argument when a number or date is out of reach", function()
    local function msg(f)
      local ok, err = pcall(f)
      assert.is_false(ok)
      return tostring(err)
    end
    assert.truthy(msg(function() Q.larger(math.huge) end):find("Q.larger: want a number from 0 to 4294967295", 1, true))
    assert.truthy(msg(function() Q.larger(2^32) end):find("Q.larger", 1, true))
    assert.truthy(msg(function() Q.older(0/0) end):find("Q.older: want a whole number", 1, true))
    assert.truthy(msg(function() Q.before { year = 2024 } end):find("Q.before: a date table needs", 1, true))
  end)

  it("has Gmail's keys", function()
    assert.are.equal('X-GM-RAW "has:attachment older_than:1y"',
      tostring(Q.gmail "has:attachment older_than:1y"))
    assert.are.equal("X-GM-THRID 1278455344230334865", tostring(Q.gm_thrid(1278455344230334865)))
    assert.is_true((Q.seen & Q.gmail "x"):uses_gmail())
    assert.is_false(Q.seen:uses_gmail())
  end)
end)
