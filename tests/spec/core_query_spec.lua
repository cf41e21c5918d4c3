-- core_query_spec.lua — imapscript.query: constructors, & | ~ operators and the exact wire text
-- query.c produces (tostring is the wire text, literals included), and errors on bad arguments.
local core = require "imapscript.core"
local K, S = core.query_key, core.query_string

describe("core.query", function()
  it("has every key without argument, by name in any case", function()
    for _, name in ipairs { "ALL", "SEEN", "UNSEEN", "ANSWERED", "UNANSWERED", "DELETED",
                            "UNDELETED", "DRAFT", "UNDRAFT", "FLAGGED", "UNFLAGGED", "RECENT",
                            "NEW", "OLD" } do
      assert.are.equal(name, tostring(K(name)))
      assert.are.equal(name, tostring(K(name:lower())))
      assert.are.equal(name, K(name):kind())
    end
  end)

  it("quotes strings, keeps keywords as atoms", function()
    assert.are.equal('FROM "x"', tostring(S("FROM", "x")))
    assert.are.equal('SUBJECT "say \\"hi\\" \\\\o/"', tostring(S("SUBJECT", 'say "hi" \\o/')))
    assert.are.equal('BODY ""', tostring(S("body", "")))
    assert.are.equal("KEYWORD $Patch", tostring(S("KEYWORD", "$Patch")))
    assert.are.equal("UNKEYWORD Junk", tostring(S("UNKEYWORD", "Junk")))
    assert.are.equal('HEADER List-Id "lua-l.lists.lua.org"',
                     tostring(core.query_header("List-Id", "lua-l.lists.lua.org")))
    assert.are.equal("CHARSET UTF-8 TEXT {7+}\r\nGrüße", tostring(S("TEXT", "Grüße")))
  end)

  it("numbers, dates and UID sets", function()
    assert.are.equal("LARGER 1000", tostring(core.query_number("LARGER", 1000)))
    assert.are.equal("SMALLER 0", tostring(core.query_number("SMALLER", 0)))
    assert.are.equal("YOUNGER 3600", tostring(core.query_number("YOUNGER", 3600)))
    assert.are.equal("MODSEQ 4611686018427387904",
                     tostring(core.query_number("MODSEQ", 4611686018427387904)))
    assert.are.equal("BEFORE 5-Jan-2024", tostring(core.query_date("BEFORE", 2024, 1, 5)))
    assert.are.equal("SENTON 29-Feb-2024", tostring(core.query_date("senton", 2024, 2, 29)))
    assert.are.equal("UID 1:3,7", tostring(core.query_uid(core.set("1:3,7"))))
    assert.are.equal("UID 1:3", tostring(core.query_uid { 3, 1, 2 }))
    assert.are.equal("NOT ALL", tostring(core.query_uid("")))
  end)

  it("combines with & | ~ into exact wire text", function()
    local q = S("FROM", "x") | K("SEEN")
    assert.are.equal('OR FROM "x" SEEN', tostring(q))
    assert.are.equal("OR", q:kind())
    assert.are.equal('NOT OR FROM "x" SEEN', tostring(~q))
    assert.are.equal("OR (SEEN FLAGGED) DELETED", tostring(K"SEEN" & K"FLAGGED" | K"DELETED"))
    assert.are.equal("SEEN FLAGGED DELETED", tostring(K"SEEN" & (K"FLAGGED" & K"DELETED")))
    assert.are.equal("NOT (SEEN FLAGGED)", tostring(~(K"SEEN" & K"FLAGGED")))
    assert.are.equal("SEEN", tostring(~~K"SEEN"))
    assert.are.equal("OR SEEN OR NEW OLD", tostring(core.query_or(K"SEEN", K"NEW", K"OLD")))
    assert.are.equal("ALL", tostring(core.query_and()))
    assert.are.equal("NOT ALL", tostring(core.query_or()))
    assert.are.equal("SEEN", tostring(core.query_and(K"SEEN")))
    assert.are.equal("NOT SEEN", tostring(core.query_not(K"SEEN")))
    assert.are.equal(tostring(q), q:text())
    -- operands are shared, not consumed
    local a = K"FLAGGED"
    local b, c = a & K"SEEN", a | K"SEEN"
    assert.are.equal("FLAGGED SEEN", tostring(b))
    assert.are.equal("OR FLAGGED SEEN", tostring(c))
    assert.are.equal("FLAGGED", tostring(a))
  end)

  it("knows when CHARSET UTF-8 is needed", function()
    assert.is_false(K"SEEN":needs_utf8())
    assert.is_false(S("FROM", "ascii"):needs_utf8())
    assert.is_true((K"SEEN" & S("SUBJECT", "Grüße")):needs_utf8())
    assert.is_true(core.query_number("OLDER", 60):uses_within())
    assert.is_false(K"SEEN":uses_within())
  end)

  it("rejects bad arguments", function()
    local bad = {
      function() return K("BOGUS") end,
      function() return K("FROM") end,
      function() return S("SEEN", "x") end,
      function() return S("FROM", "a\0b") end,
      function() return S("FROM", "\xff\xfe") end,
      function() return S("KEYWORD", "two words") end,
      function() return S("KEYWORD", "\\Seen") end,
      function() return core.query_header("Bad Name", "x") end,
      function() return core.query_header("", "x") end,
      function() return core.query_number("LARGER", -1) end,
      function() return core.query_number("LARGER", 1.5) end,
      function() return core.query_number("LARGER", 2 ^ 32 // 1) end,
      function() return core.query_number("OLDER", 0) end,
      function() return core.query_date("ON", 2023, 2, 29) end,
      function() return core.query_date("ON", 2023, 13, 1) end,
      function() return core.query_date("ON", 0, 1, 1) end,
      function() return core.query_date("ON", 2 ^ 40 // 1, 1, 1) end,
      function() return core.query_uid("1,x") end,
      function() return core.query_and(K"SEEN", "SEEN") end,
      function() return K"SEEN" & 1 end,
      function() return ~"x" end,
    }
    for i, f in ipairs(bad) do
      local ok = pcall(f)
      assert(not ok, "case " .. i .. " should fail")
    end
    local ok, err = pcall(core.query_date, "ON", 2023, 2, 29)
    assert.matches("not a valid date", err)
  end)
end)
