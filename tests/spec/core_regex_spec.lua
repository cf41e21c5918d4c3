-- core_regex_spec.lua — imapscript.regex: flags, string.match-like captures, errors as nil,
-- message, UTF-8 and non-UTF-8 subjects.
local core = require "imapscript.core"

describe("core.regex", function()
  it("tests and matches like string.match", function()
    local re = assert(core.regex [=[^\[PATCH(?: v(\d+))?\]]=])
    assert.is_true(re:test("[PATCH v3] fix"))
    assert.is_false(re:test("Re: [PATCH] fix"))
    assert.are.equal("3", re:match("[PATCH v3] fix"))
    assert.are.equal(false, re:match("[PATCH] fix"))      -- group did not take part
    assert.is_nil(re:match("nothing"))
    assert.are.equal(1, re:groups())
    assert.is_true(re:jit())
    local whole = assert(core.regex "b+")
    assert.are.equal("bbb", whole:match("abbbc"))
    local two = assert(core.regex "(\\w+)@(\\w+)")
    local user, host = two:match("mail alice@example now")
    assert.are.equal("alice", user)
    assert.are.equal("example", host)
  end)

  it("takes flags i m s x", function()
    assert.is_true(core.regex("hello", "i"):test("HeLLo"))
    assert.is_false(core.regex("hello"):test("HeLLo"))
    assert.is_true(core.regex("^b$", "m"):test("a\nb\nc"))
    assert.is_true(core.regex("a.c", "s"):test("a\nc"))
    assert.is_true(core.regex("a b c # spaces ignored", "x"):test("abc"))
    assert.is_true(core.regex("^B$", "mi"):test("a\nb"))
    assert.has_error(function() core.regex("a", "q") end)
  end)

  it("matches UTF-8 caselessly and survives other bytes", function()
    assert.is_true(core.regex("ÄRGER", "i"):test("so ein ärger"))
    assert.are.equal("é", core.regex("caf(.)"):match("café"))
    -- ISO-8859-1 subject: no error, matched as bytes
    assert.is_true(core.regex("r.sum"):test("r\xe9sum\xe9"))
    assert.is_false(core.regex("ärger"):test("\xe4rger"))
    assert.is_true(core.regex("a\0b"):test("xa\0by"))
  end)

  it("returns nil and a message with the offset for a bad pattern", function()
    local re, err = core.regex("abc(def")
    assert.is_nil(re)
    assert.matches("^regex: missing closing parenthesis at offset 7", err)
    re, err = core.regex("[z-a]")
    assert.is_nil(re)
    assert.matches("offset", err)
  end)

  it("reports a match limit as nil, message instead of raising", function()
    local re = core.regex("^(a+)+$")
    local r, err = re:test(("a"):rep(40) .. "b")
    if r == nil then
      assert.matches("^regex: ", err)
    else
      assert.is_false(r)
    end
  end)

  it("matches a 10 MB subject", function()
    local s = ("x"):rep(10 * 1024 * 1024) .. "needle 42"
    assert.are.equal("42", core.regex("needle (\\d+)"):match(s))
  end)
end)
