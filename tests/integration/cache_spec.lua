-- The cache of incremental runs (cache.lua): the same rules give the same results and leave the
-- same mail with and without it, run after run, while another client changes the mailboxes in
-- between (flags, expunges, new mail, a mailbox made anew under its name); on servers without
-- QRESYNC and without CONDSTORE; with a damaged cache file. Plus the examples and imapfilter
-- configs alike, header fields split exactly as the server gives them one by one, and
-- --cache-stats.
local S = require "tests.integration.support"
package.path = "./tests/compat/?.lua;" .. package.path
local oracle = require "state"

-- Dovecot's capabilities after login (the test bed's), to hide some of.
local CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY " ..
  "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT " ..
  "CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES " ..
  "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE " ..
  "SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
local function without(...)
  local caps = " " .. CAPS .. " "
  for _, c in ipairs { ... } do caps = caps:gsub(" " .. c:gsub("%p", "%%%0") .. " ", " ") end
  return caps:match("^%s*(.-)%s*$")
end

local tmpdir = S.tmpdir

-- A bed to run on: b (S.bed's shape), the --state directory, whether it keeps a cache.
local function kind(b, cached)
  return { b = b, state = tmpdir(), cached = cached }
end

-- The environment that points a script at bed k as alice.
local function env_of(k)
  local e = setmetatable({}, { __index = k.b.env })
  e.TESTBED_USER, e.TESTBED_USER2 = "alice", "bob"     -- the bed's users
  return string.format("TESTBED_HOST=%s TESTBED_TLS_PORT=%s TESTBED_CA=%s TESTBED_USER=%s " ..
    "TESTBED_PASSWORD=%s TESTBED_USER2=%s TESTBED_PASSWORD2=%s IMAP_HOST=%s IMAP_USER=%s " ..
    "IMAP_PASSWORD=%s", e.TESTBED_HOST, e.TESTBED_TLS_PORT, S.shquote(e.TESTBED_CA),
    e.TESTBED_USER, S.shquote(e.TESTBED_PASSWORD), e.TESTBED_USER2, S.shquote(e.TESTBED_PASSWORD2),
    e.TESTBED_HOST, e.TESTBED_USER, S.shquote(e.TESTBED_PASSWORD))
end

-- Runs imapscript with args on k (its state, its cache or --no-cache); exit code, stdout, stderr.
local function run(k, args, trace)
  local opts = string.format("%s--state %s %s", k.cached and "" or "--no-cache ", S.shquote(k.state),
    trace and ("--trace " .. S.shquote(trace) .. " ") or "")
  return S.run(opts .. args, nil, env_of(k))
end

-- Every mailbox of every user on k's bed: {["user/mailbox"] = {message-id = flags}}.
local function everything(k) return oracle.read(k.b.env.TESTBED_MAILROOT) end

local function seed(k)
  k.b.seed("INBOX", 400, 301)
  k.b.seed("Pool", 60, 302)
  k.b.seed("Work", 60, 302)      -- the same messages: round 2 makes Work anew from Pool
end

local function slurp_rm(path)
  local t = S.slurp(path)
  os.remove(path)
  return t
end

-- Damages the file at path: cut to half its size, or bytes overwritten here and there.
local function damage(path, how)
  local f = assert(io.open(path, "r+b"))
  local size = f:seek("end")
  if how == "truncate" then
    f:close()
    assert(os.execute(string.format("truncate -s %d %s", size // 2, S.shquote(path))))
    return
  end
  for i = 1, 12 do
    f:seek("set", (size * i) // 13)
    f:write(("\xa5"):rep(64))
  end
  f:close()
end

describe("the cache", function()
  local ref, kinds

  setup(function()
    ref = kind(S.this_bed(), false)
    kinds = {
      { name = "QRESYNC", k = kind(S.bed(nil, {}), true), select = "SELECT INBOX %(QRESYNC" },
      -- the cache file cut to half its size before round 3
      { name = "CONDSTORE only", k = kind(S.bed(nil, { caps = without("QRESYNC") }), true),
        select = "UID FETCH 1:4294967295 %(UID FLAGS%) %(CHANGEDSINCE %d+%)",
        damage = 3, how = "truncate" },
      -- bytes of the cache file overwritten before round 4
      { name = "neither", k = kind(S.bed(nil, { caps = without("QRESYNC", "CONDSTORE") }), true),
        select = "UID SEARCH RETURN %(ALL%) ALL", damage = 4, how = "bytes" },
    }
    seed(ref)
    for _, x in ipairs(kinds) do seed(x.k) end
  end)
  teardown(function()
    for _, x in ipairs(kinds or {}) do x.k.b.stop() end
  end)

  it("gives the results of a run without it, run after run, whatever another client changed", function()
    for round = 1, 4 do
      local code, want, err = run(ref, "tests/integration/cache_rules.lua")
      assert.are.equal(0, code, err)
      local want_state = everything(ref)
      for _, x in ipairs(kinds) do
        if x.damage == round then damage(x.k.state .. "/cache.db", x.how) end
        local trace = os.tmpname()
        local got
        code, got, err = run(x.k, "-vv tests/integration/cache_rules.lua", trace)
        local t = slurp_rm(trace)
        assert.are.equal(0, code, x.name .. ", round " .. round .. ": " .. err)
        assert.are.equal(want, got, x.name .. ", round " .. round)
        assert.are.same(want_state, everything(x.k), x.name .. ", round " .. round)
        if round == 2 or (round == 4 and not x.damage) then
          -- resynchronised, not fetched anew: the header fields of new mail, and of messages a
          -- match reads for the first time (round 3 follows Work's making anew: all is new)
          assert.truthy(t:find(x.select), x.name .. " round " .. round .. "\n" .. t)
          local cached, fetched = 0, 0
          for c, n in err:gmatch("of (%d+) messages from the cache, (%d+) fetched") do
            cached, fetched = cached + tonumber(c), fetched + tonumber(n)
          end
          assert.is_true(cached > 600 and fetched < cached / 10, x.name .. " round " .. round .. ": " .. err)
        end
        if round >= 3 and x.damage ~= round then
          -- what the cache holds answered: flags (with CONDSTORE), UIDs (always)
          assert.truthy(err:find("search UID 10:80 NOT DELETED answered from the cache", 1, true) or
            (x.name == "neither" and err:find("search ALL answered from the cache", 1, true)), x.name .. " " .. round .. ": " .. err)
          assert.are.equal(x.name ~= "neither", err:find("search UNSEEN answered", 1, true) ~= nil,
            x.name .. " " .. round .. ": " .. err)
        end
        if round >= 2 and x.name ~= "neither" and x.damage ~= round then
          -- a STORE on known UIDs goes to the messages it changes only: $Lunch to the few new
          -- or changed ones, not to every lunch message again
          local lunch = tonumber(got:match("INBOX\tlunch\t(%d+)"))
          local stored = 0
          local set = t:match("UID STORE ([%d:,]+) %+FLAGS %(%$Lunch%)")
          for a, b in (set or ""):gmatch("(%d+):?(%d*)") do
            stored = stored + (b ~= "" and tonumber(b) - tonumber(a) + 1 or 1)
          end
          assert.is_true(stored < lunch and (round > 2 or stored > 0), x.name .. " round " .. round .. ": " ..
            tostring(set) .. " of " .. lunch)
        end
        if x.damage == round then
          -- said, and the next run makes the cache anew
          assert.truthy(err:find("cache database", 1, true) and (err:find("damaged", 1, true) or
            err:find("made anew", 1, true) or err:find("malformed", 1, true)), x.name .. ": " .. err)
        end
      end
      if round < 4 then
        for _, k in ipairs { ref, kinds[1].k, kinds[2].k, kinds[3].k } do
          code, _, err = S.run("--no-cache --no-state tests/integration/cache_mutate.lua " .. round,
            nil, env_of(k))
          assert.are.equal(0, code, err)
        end
      end
    end
    -- nothing kept with --no-cache; --cache-stats shows what was
    assert.is_nil(io.open(ref.state .. "/cache.db"))
    local code, out, err = run(kinds[1].k, "--cache-stats")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("\n%S+%s+INBOX%s+%d+%s+%d+%s+%d+%s+%d%d%d%d%-"), out)
    assert.truthy(out:find("\n%S+%s+Work%s+", 1), out)
  end)

  it("changes nothing in the results of the examples and the imapfilter configs", function()
    local cached = kinds[1].k
    local function both(args, what, setup_fn)
      if setup_fn then setup_fn(ref); setup_fn(cached) end
      for pass = 1, 2 do
        local code, want, err = run(ref, args)
        assert.are.equal(0, code, what .. ": " .. err)
        local code2, got, err2 = run(cached, args)
        assert.are.equal(0, code2, what .. ": " .. err2)
        want, got = want:gsub("digest of [%d: -]+", ""), got:gsub("digest of [%d: -]+", "")
        assert.are.equal(want, got, what .. " (run " .. pass .. ")")
        assert.are.same(everything(ref), everything(cached), what .. " (run " .. pass .. ")")
      end
    end
    -- The examples read IMAP_HOST, IMAP_USER and IMAP_PASSWORD; -e points them at the bed.
    local patch = "local a = imap.account; imap.account = function(c) c.port = " ..
      "tonumber(os.getenv('TESTBED_TLS_PORT')); c.ca_file = os.getenv('TESTBED_CA'); return a(c) end"
    for _, ex in ipairs { { "sort-lists.lua" }, { "flag-vip.lua" }, { "largest.lua", "INBOX 5" },
        { "unsubscribe-report.lua" }, { "out-of-office.lua" }, { "purge-trash.lua" },
        { "archive-by-year.lua", "30" }, { "archive-retention.lua", "30 7" }, { "digest.lua" } } do
      both(string.format("-e %s examples/%s %s", S.shquote(patch), ex[1], ex[2] or ""), ex[1])
    end
    for _, c in ipairs {
        { "search.lua", function(k) k.b.seed("S", 300, 11); k.b.seed("T", 300, 12) end },
        { "lists.lua", function(k) k.b.seed("Lists/lua", 5, 22) end },
        { "hazards.lua", function(k) k.b.seed("H", 200, 16); k.b.seed("W", 600, 17) end },
        { "process.lua", function(k) k.b.seed("P", 300, 13); k.b.seed("Q", 100, 14) end },
        { "accounts.lua", function(k) k.b.seed("L", 60, 15) end } } do
      both("--imapfilter tests/compat/configs/" .. c[1], c[1], c[2])
    end
  end)

  it("splits header fields fetched together exactly as the server gives each alone", function()
    local odd = {
      "Subject: plain\r\nFrom: a@example.org\r\n",
      "subject: lower case\r\nFROM: Upper <u@example.org>\r\n",
      "Subject: folded\r\n  over two\r\n\tand three lines\r\nFrom: b@example.org\r\n",
      "Subject: one\r\nX-Mailer: m\r\nSubject: two\r\nFrom: c@example.org\r\n",
      "From: only-from@example.org\r\n",
      "Subject:\r\nFrom: empty@example.org\r\n",
      "Subject : space before the colon\r\nFrom: d@example.org\r\n",
      "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nFrom: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>\r\n",
      "X-Mailer: Apple Mail (2.3)\r\nSubject: \xc3\xa4 raw 8-bit\r\nFrom: e@example.org\r\n",
      "From: f@example.org\r\nSubject: tab\there\r\nX-Mailer:\r\n  continued only\r\n",
    }
    local appends = {}
    for i, h in ipairs(odd) do
      appends[#appends + 1] = string.format("acct.Odd:append(%q)",
        h .. string.format("Message-ID: <odd-%d@cache.test>\r\n\r\nbody\r\n", i))
    end
    local code, _, err = S.run(S.script("acct:create 'Odd'\n" .. table.concat(appends, "\n")))
    assert.are.equal(0, code, err)
    code, _, err = S.run(S.script([[
      local core = require "imapscript.core"
      local conn = acct:_connection()
      conn:wait(conn:select("Odd"))
      local names = { "FROM", "SUBJECT", "X-MAILER" }
      local alone = {}
      for _, f in ipairs(names) do
        conn:wait(conn:fetch("1:4294967295", { "uid", { "fields", f } }, function(m)
          alone[m.uid .. f] = m.fields
        end))
      end
      local n = 0
      conn:wait(conn:fetch("1:4294967295", { "uid", { "fields", "FROM", "SUBJECT", "X-MAILER" } }, function(m)
        local parts = table.pack(core.header_lines(m.fields, table.unpack(names)))
        for i, f in ipairs(names) do
          n = n + 1
          if parts[i] .. "\r\n" ~= alone[m.uid .. f] then
            error(string.format("UID %d %s: %q split, %q alone", m.uid, f, parts[i] .. "\r\n",
              tostring(alone[m.uid .. f])))
          end
        end
      end))
      assert(n == 30, n)
    ]]))
    assert.are.equal(0, code, err)
  end)
end)
