-- lua/imapscript/sieve/translate.lua, regex.lua, text.lua without a server: the queue of a
-- script's searches and actions (made by the real API, never flushed) as Sieve rules, the
-- table of what stays IMAP-only and why, PCRE to POSIX, Sieve strings.
local imap = require "imapscript"
local translate = require "imapscript.sieve.translate"
local regex = require "imapscript.sieve.regex"
local text = require "imapscript.sieve.text"
local Q = imap.query

local ALL_EXTS = { fileinto = true, imap4flags = true, copy = true, mailbox = true, regex = true,
                   include = true }

-- A fresh account (never connected) and a translation of what the function f queues on it.
local function run(f, over)
  over = over or {}
  local acct = imap.account { host = "imap.example.org", user = "u", password = "p",
                              create = over.create }
  local provenance = {}
  f(acct, acct.INBOX, provenance)
  local env = {
    account = acct, exts = over.exts or ALL_EXTS, provenance = provenance,
    today = "2026-11-29", yesterday = "2026-11-28",
    wire = function(name) return (name:gsub("/", over.delim or "/")) end,
  }
  local out = translate.translate(acct.queue, env)
  out.script = table.concat(out.blocks, "\n")
  return out
end

local function statuses(out)
  local t = {}
  for i, r in ipairs(out.rules) do t[i] = r.status end
  return t
end

describe("sieve translation of queries", function()
  local function cond(q, exts)
    local acct = imap.account { host = "h" }
    local c = translate.condition(q, { exts = exts or ALL_EXTS, today = "2026-11-29",
                                       yesterday = "2026-11-28", account = acct })
    if c.node then
      local function r(n)
        if n.test then return n.test end
        if n.nope then return "not " .. r(n.nope) end
        local t = {}
        for i, k in ipairs(n.all or n.any) do t[i] = r(k) end
        return (n.all and "allof(" or "anyof(") .. table.concat(t, ", ") .. ")"
      end
      return r(c.node)
    end
    return c
  end

  it("map header keys to header :contains, sizes to size, flags to hasflag", function()
    assert.are.equal('header :contains "From" "grace"', cond(Q.from "grace"))
    assert.are.equal('header :contains "To" "a@b"', cond(Q.to "a@b"))
    assert.are.equal('header :contains "Cc" "x"', cond(Q.cc "x"))
    assert.are.equal('header :contains "Subject" "say \\"hi\\" \\\\o/"', cond(Q.subject 'say "hi" \\o/'))
    assert.are.equal('header :contains "List-Id" "lua-l"', cond(Q.header("List-Id", "lua-l")))
    assert.are.equal('exists "X-Autoreply"', cond(Q.header("X-Autoreply", "")))
    assert.are.equal("size :over 1000", cond(Q.larger(1000)))
    assert.are.equal("size :under 500", cond(Q.smaller(500)))
    assert.are.equal('hasflag "\\\\Seen"', cond(Q.seen))
    assert.are.equal('not hasflag "\\\\Flagged"', cond(Q.unflagged))
    assert.are.equal('hasflag "$Patch"', cond(Q.keyword "$Patch"))
    assert.are.equal('not hasflag "$Patch"', cond(Q.unkeyword "$Patch"))
  end)

  it("combine with allof, anyof and not", function()
    assert.are.equal('allof(not hasflag "\\\\Seen", anyof(header :contains "From" "a", header :contains "From" "b"))',
      cond(Q.unseen & (Q.from "a" | Q.from "b")))
    assert.are.equal('not anyof(size :over 5, hasflag "\\\\Seen")', cond(~(Q.larger(5) | Q.seen)))
  end)

  it("know what dates mean for mail arriving from now on", function()
    assert.are.same({ const = false, why = "BEFORE 1-Jan-2026" }, cond(Q.before "2026-01-01"))
    assert.are.same({ const = true, why = "SINCE 1-Jan-2026" }, cond(Q.since "2026-01-01"))
    assert.are.same({ const = false, why = "OLDER 60" }, cond(Q.older(60)))
    assert.are.equal(true, cond(Q.younger(60)).const)
    -- A date this close to today or after it is not the same every day: IMAP only.
    assert.truthy(cond(Q.since "2026-11-29").no:find("close to today"))
    assert.truthy(cond(Q.before "2027-01-01").no:find("a date to come"))
    -- AND with a false part is false whatever the rest; OR with a true part is true.
    assert.are.equal(false, cond(Q.body "x" & Q.before "2020-01-01").const)
    assert.are.equal(true, cond(Q.body "x" | Q.since "2020-01-01").const)
    assert.are.equal('header :contains "From" "a"', cond(Q.from "a" & Q.since "2020-01-01"))
    assert.are.equal(false, cond(~Q.since "2020-01-01").const)
  end)

  it("leave to IMAP what Sieve cannot say the same way, saying why", function()
    for _, q in ipairs { Q.body "x", Q.text "x", Q.recent, Q.new, Q.sent_before "2020-01-01",
                         Q.uid "1:5", Q.modseq(5), Q.from "", Q.subject "Grüße",
                         Q.header("X", "a\nb") } do
      local c = cond(q)
      assert.is_string(c.no, tostring(q))
    end
    assert.truthy(cond(Q.subject "Grüße").no:find("unicode%-casemap"))
    assert.truthy(cond(Q.seen, { fileinto = true }).no:find("imap4flags"))
    -- A part Sieve cannot say makes an AND or OR IMAP-only, unless the rest decides it.
    assert.is_string(cond(Q.from "a" & Q.body "x").no)
    assert.is_string(cond(Q.from "a" | Q.body "x").no)
  end)

  it("use the server's unicode-casemap comparator for non-ASCII text when it has one", function()
    local exts = { ["comparator-i;unicode-casemap"] = true }
    assert.are.equal('header :contains :comparator "i;unicode-casemap" "Subject" "Grüße"',
      cond(Q.subject "Grüße", exts))
  end)
end)

describe("sieve translation of rules", function()
  it("turns moves into fileinto + stop, in the script's order", function()
    local out = run(function(acct, inbox)
      inbox:search(Q.header("List-Id", "lua-l")):move_to(acct["Lists/lua-l"])
      inbox:search(Q.from "boss"):mark_flagged()
      inbox:search(Q.all):copy_to(acct.Copies)
      inbox:search(Q.subject "spam"):delete()
    end, { delim = "." })
    assert.are.same({ "sieve", "sieve", "sieve", "sieve" }, statuses(out))
    assert.are.same({ "copy", "fileinto", "imap4flags" }, out.requires)
    local s = out.script
    local a = s:find('fileinto "Lists.lua-l";\n  stop;', 1, true)
    local b = s:find('addflag "\\\\Flagged";', 1, true)
    local c = s:find('if true {\n  fileinto :copy "Copies";', 1, true)
    local d = s:find('discard;\n  stop;', 1, true)
    assert.truthy(a and b and c and d, s)
    assert.is_true(a < b and b < c and c < d)
  end)

  it("keeps one result's actions together, under one condition evaluated once", function()
    local out = run(function(acct, inbox)
      inbox:search(Q.unseen & Q.from "noreply@"):mark_seen():move_to(acct.Notifications):add_flags { "$X" }
    end, { create = true })
    assert.are.equal(1, #out.rules)
    assert.are.equal("sieve", out.rules[1].status)
    assert.truthy(out.script:find('{\n  addflag "\\\\Seen";\n  fileinto :create "Notifications";\n  stop;\n}', 1, true),
      out.script)
    assert.truthy(out.rules[1].note:find("add_flags after the message left INBOX"))
    assert.are.same({ "fileinto", "imap4flags", "mailbox" }, out.requires)
  end)

  it("translates combinations of one mailbox's results and r:match", function()
    local out = run(function(acct, inbox, prov)
      local a, b = inbox:search(Q.from "a"), inbox:search(Q.from "b")
      ;(a + b):add_flags { "$AB" }
      ;(a - b):add_flags { "$A" }
      local m = { kind = "known", box = inbox, resolved = {} }
      setmetatable(m, getmetatable(a))
      prov[m] = { base = inbox:search(Q.unseen), field = "Subject", pattern = [=[^\[PATCH(?: v\d+)?\]]=], flags = "" }
      m:add_flags { "$Patch" }
      local ci = setmetatable({ kind = "known", box = inbox, resolved = {} }, getmetatable(a))
      prov[ci] = { base = inbox:search(Q.all), field = "Subject", pattern = "^re:", flags = "i" }
      ci:mark_answered()
    end)
    assert.are.same({ "sieve", "sieve", "sieve", "sieve" }, statuses(out))
    local s = out.script
    assert.truthy(s:find('anyof (header :contains "From" "a", header :contains "From" "b")', 1, true), s)
    assert.truthy(s:find('allof (header :contains "From" "a", not header :contains "From" "b")', 1, true), s)
    assert.truthy(s:find('header :regex :comparator "i;octet" "Subject" "^\\\\[PATCH( v[0-9]+)?]"', 1, true), s)
    assert.truthy(s:find('if header :regex :comparator "i;ascii-casemap" "Subject" "^re:"', 1, true), s)
    assert.are.same({ "imap4flags", "regex" }, out.requires)
  end)

  it("keeps rules after one that stays IMAP-only for IMAP, but not those that never match new mail", function()
    local out = run(function(acct, inbox)
      inbox:search(Q.seen & Q.before "2020-01-01"):move_to(acct.Archive)     -- never
      acct.Trash:search(Q.all):delete()                                     -- not INBOX
      inbox:search(Q.from "a"):move_to(acct.A)                               -- sieve
      inbox:search(Q.body "invoice"):move_to(acct.Invoices)                  -- imap
      inbox:search(Q.from "b"):move_to(acct.B)                               -- blocked
    end)
    assert.are.same({ "never", "imap", "sieve", "imap", "imap" }, statuses(out))
    assert.truthy(out.rules[2].why:find("works on Trash"))
    assert.truthy(out.rules[4].why:find("BODY"))
    assert.truthy(out.rules[5].why:find("comes after"))
    assert.are.equal(1, #out.blocks)
  end)

  it("keeps for IMAP a rule whose search reads flags another action changes before it acts", function()
    local out = run(function(acct, inbox)
      local big = inbox:search(Q.larger(10))
      inbox:search(Q.from "y"):mark_flagged()
      big:add_flags { "$Big" }          -- reads no flag: fine
      local unseen = inbox:search(Q.unseen)
      inbox:search(Q.from "x"):mark_seen()
      unseen:add_flags { "$New" }
    end)
    assert.are.same({ "sieve", "sieve", "sieve", "imap" }, statuses(out))
    assert.truthy(out.rules[4].why:find("reads flags that %S+ changes"))
  end)

  it("says why an action stays with IMAP", function()
    local function why(f, over)
      local out = run(f, over)
      return out.rules[1].status, out.rules[1].why
    end
    local other = imap.account { host = "other.example.org" }
    local st, w = why(function(_, inbox) inbox:search(Q.all):move_to(other.INBOX) end)
    assert.are.equal("imap", st)
    assert.truthy(w:find("another account"))
    _, w = why(function(acct, inbox) inbox:search(Q.all):move_to(acct.X, { expunge = false }) end)
    assert.truthy(w:find("expunge = false"))
    _, w = why(function(_, inbox) inbox:search(Q.all):add_labels { "L" } end)
    assert.truthy(w:find("Gmail"))
    _, w = why(function(acct, inbox) inbox:search(Q.all):move_to(acct.X) end,
      { create = true, exts = { fileinto = true } })
    assert.truthy(w:find("mailbox extension"))
    _, w = why(function(acct, inbox) inbox:search(Q.all):copy_to(acct.X) end, { exts = { fileinto = true } })
    assert.truthy(w:find("copy extension"))
    _, w = why(function(_, inbox) inbox:uids("1:3"):delete() end)
    assert.truthy(w:find("by UID"))
  end)

  it("composes the script with the table, require and the include of the script before", function()
    local out = run(function(acct, inbox)
      inbox:search(Q.from "a"):move_to(acct.A)
      inbox:search(Q.body "b"):move_to(acct.B)
    end)
    local s = translate.compose(out, { source = "rules.lua", label = "u@h", include = 'old "one"' })
    assert.truthy(s:find('require ["fileinto", "include"];', 1, true), s)
    assert.truthy(s:find("\n#   %S+  move_to A  Sieve, at delivery\n"), s)
    assert.truthy(s:find("IMAP only: BODY", 1, true), s)
    assert.are.equal('old "one"', text.previous_of(s))
    local inc = s:find("include :personal", 1, true)
    assert.is_true(inc < s:find("fileinto", inc, true))
  end)
end)

describe("PCRE to POSIX", function()
  it("converts what both read alike", function()
    assert.are.same({ "^\\[PATCH( v[0-9]+)?( [0-9]+/[0-9]+)?]", false },
      { regex.to_ere([=[^\[PATCH(?: v\d+)?(?: \d+/\d+)?\]]=]) })
    assert.are.same({ "a.*b[[:space:]]+c{2,3}\\{x", true }, { regex.to_ere([[a.*b\s+c{2,3}{x]], "i") })
    assert.are.same({ "^re:", true }, { regex.to_ere("(?i)^re:") })
    assert.are.same({ "[^]a-z[:digit:]]+", false }, { regex.to_ere("[^]a-z[:digit:]]+") })
    assert.are.same({ "\\.\\$-/", false }, { regex.to_ere([[\.\$\-\/]]) })
  end)
  it("refuses what they would read differently", function()
    for _, p in ipairs { [[\bword]], [[\w+]], [[a.b]], "[^x]", "a*?", "a++", [[(?=x)]], "é",
                         "[\\d]", "a{2}?", [[\1]], "[abc" } do
      local ere, why = regex.to_ere(p)
      assert.is_nil(ere, p)
      assert.is_string(why, p)
    end
    assert.is_nil((regex.to_ere("a", "x")))
  end)
end)

describe("sieve strings", function()
  it("quote and unquote", function()
    assert.are.equal([["a\"b\\c"]], text.quote([[a"b\c]]))
    assert.are.equal([[a"b\c]], text.unquote(text.quote([[a"b\c]])))
    assert.is_nil(text.quote("a\rb"))
    assert.are.equal('["a", "b"]', text.list { "a", "b" })
    assert.is_nil(text.previous_of('include :personal :optional "x";\n'))
  end)
end)
