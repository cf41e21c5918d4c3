-- conn_spec.lua — the connection binding (src/lua_conn.c and its siblings) against a real Dovecot: every
-- method, its results and errors, with the server state read back through a second
-- connection or the Maildir oracle in support.lua.
local S = require "tests.integration.support"
local core = require "imapscript.core"

local function cfg(over, n) return S.account_cfg(over, n) end
local function connect(over, n) return core.connect(cfg(over, n)) end

-- Raises unless f raises; returns the error value.
local function raises(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return err
end

-- Waits for h and returns its value, failing the test with the error's message otherwise.
local function value(conn, h)
  conn:wait(h)
  local v, err = h:result()
  assert(err == nil, err and tostring(err))
  return v
end

local function ALL() return core.query_key("ALL") end

-- Mailbox names unique to this run, so the spec also passes on a bed already used.
local P = string.format("C%d_", os.time() % 1000000)
local function M(name) return P .. name end

-- {uid = message-id} of the selected mailbox of conn, through FETCH.
local function message_ids(conn)
  local set = value(conn, conn:search(ALL()))
  local out = {}
  if #set == 0 then return out end
  value(conn, conn:fetch(set, { "uid", { "fields", "Message-ID" } }, function(m)
    out[m.uid] = m.fields:match("<[^>]*>")
  end))
  return out
end

local function sorted_values(t)
  local out = {}
  for _, v in pairs(t) do out[#out + 1] = v end
  table.sort(out)
  return out
end

local function count_fds()
  local stat = io.open("/proc/self/stat")   -- closed at once: a handle left to __gc skews the count
  local pid = stat:read("n")
  stat:close()
  local p = io.popen("ls /proc/" .. pid .. "/fd | wc -l")
  local n = p:read("n")
  p:close()
  return n
end

describe("core.connect", function()
  it("connects with implicit TLS and verifies against the CA", function()
    local c = connect()
    assert.truthy(getmetatable(c))
    assert.is_true(c:has("IMAP4rev1"))
    assert.is_true(c:has("imap4rev1"))
    assert.is_false(c:has("X-NOT-A-CAPABILITY"))
    local caps = c:capabilities()
    assert.truthy(#caps > 5)
    for _, cap in ipairs(caps) do assert.equal(cap:upper(), cap) end
    assert.is_true(c:logout())
    assert.is_true(c:logout())      -- idempotent
  end)

  it("does STARTTLS and plaintext on the other port", function()
    local c = connect { port = tonumber(S.env("TESTBED_PORT")), tls = "starttls" }
    assert.is_true(c:has("IMAP4REV1"))
    c:logout()
    local warned = {}
    c = connect { port = tonumber(S.env("TESTBED_PORT")), tls = "none", warn = function(m) warned[#warned + 1] = m end }
    assert.is_true(c:has("IMAP4REV1"))
    assert.equal(0, #warned)   -- loopback: no plaintext warning
    c:logout()
  end)

  it("accepts a certificate pin instead of the chain, and warns when insecure", function()
    local c = connect { ca_file = S.env("TESTBED_OTHER_CA"), fingerprint = S.env("TESTBED_FINGERPRINT") }
    c:logout()
    local warned = {}
    c = connect { ca_file = S.env("TESTBED_OTHER_CA"), insecure = true,
                  warn = function(m) warned[#warned + 1] = m end }
    c:logout()
    assert.equal(1, #warned)
    assert.truthy(warned[1]:find("insecure", 1, true))
  end)

  it("reports a wrong password as kind auth, without the password", function()
    local err = raises(connect, { password = "wrong-Secret-123" })
    assert.equal("table", type(err))
    assert.equal("imapscript.error", getmetatable(err) and "imapscript.error")
    assert.equal("auth", err.kind)
    assert.truthy(err.message:find("alice@127.0.0.1", 1, true))
    assert.falsy(err.message:find("wrong-Secret-123", 1, true))
    assert.equal(err.message, tostring(err))
  end)

  it("reports an unknown CA as kind tls and a closed port as kind network", function()
    local err = raises(connect, { ca_file = S.env("TESTBED_OTHER_CA") })
    assert.equal("tls", err.kind)
    err = raises(connect, { port = 1, timeout = 5 })
    assert.equal("network", err.kind)
    assert.truthy(err.message:find("alice@127.0.0.1", 1, true))
  end)

  it("labels messages and rejects bad settings as usage errors", function()
    local err = raises(connect, { password = "nope", label = "work" })
    assert.truthy(err.message:find("^work: "))
    assert.equal("usage", raises(connect, { tls = "sometimes" }).kind)
    assert.equal("usage", raises(connect, { port = "x" }).kind)
    assert.equal("usage", raises(connect, { trace = "file.txt" }).kind)
    assert.equal("usage", raises(core.connect, { port = 993 }).kind)
  end)

  it("compresses with COMPRESS=DEFLATE when asked and offered", function()
    local c = connect { compress = true }
    local offered = c:has("COMPRESS=DEFLATE")
    value(c, c:list("", "*"))
    local st = c:stats()
    assert.equal(offered, st.compressed)
    assert.is_true(st.tls)
    assert.truthy(st.wire_in > 0 and st.bytes_in > 0)
    c:logout()
    c = connect()
    assert.is_false(c:stats().compressed)
    c:logout()
  end)

  it("writes the wire dialogue to a trace file with the password as ***", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local c = connect { trace = f }
    value(c, c:noop())
    c:logout()
    f:close()
    local text = assert(io.open(path)):read("a")
    os.remove(path)
    assert.truthy(text:find("C: A%d+ NOOP"))
    assert.truthy(text:find("S: A%d+ OK"))
    assert.falsy(text:find(S.env("TESTBED_PASSWORD"), 1, true))
    assert.truthy(text:find("***", 1, true))
  end)
end)

describe("core.error", function()
  it("makes error objects from Lua", function()
    local e = core.error("usage", "bad thing", { command = "X", code = "Y" })
    assert.equal("usage", e.kind)
    assert.equal("bad thing", e.message)
    assert.equal("X", e.command)
    assert.equal("Y", e.code)
    assert.equal("bad thing", tostring(e))
    local ok, got = pcall(error, e)
    assert.is_false(ok)
    assert.equal(e, got)
  end)
end)

describe("a connection", function()
  local c, c2

  setup(function()
    S.seed(M("main"), 40, 21)
    S.seed(M("src"), 30, 22)
    S.seed(M("exp"), 10, 23)
    c = connect()
    c2 = connect()
  end)

  teardown(function()
    c:logout()
    c2:logout()
  end)

  it("gives each of two FETCHes of the same messages in flight its own answers", function()
    local h0 = c:select(M("main"))
    local a, b = {}, {}
    local ha = c:fetch("1:5", { "uid", "flags" }, function(m) a[#a + 1] = m.uid end)
    local hb = c:fetch("1:5", { "uid", "flags" }, function(m) b[#b + 1] = m.uid end)
    assert.is_true(c:wait())
    assert.truthy(h0:result() and ha:result() and hb:result())
    table.sort(a)
    table.sort(b)
    assert.are.same({ 1, 2, 3, 4, 5 }, a)
    assert.are.same({ 1, 2, 3, 4, 5 }, b)
  end)

  it("knows its hierarchy delimiter and selected mailbox", function()
    assert.equal("string", type(c:delimiter()))
    assert.equal(c:delimiter(), c:delimiter())
    local h = c:select(M("main"))
    assert.equal("SELECT", h:command())
    assert.is_true(c:wait(h))
    local sel = h:result()
    local name, view = c:selected()
    assert.equal(view.uidvalidity, sel.uidvalidity)   -- kept with the SELECT's handle
    assert.equal(M("main"), name)
    assert.equal(40, view.exists)
    assert.truthy(view.uidvalidity > 0)
    assert.truthy(view.uidnext > 40)
    assert.is_false(view.readonly)
    assert.truthy(#view.flags >= 5)
    assert.equal("number", type(view.highestmodseq))   -- CONDSTORE enabled
    value(c, c:select(M("main"), true))
    name, view = c:selected()
    assert.is_true(view.readonly)
  end)

  it("searches and streams FETCH results with every item", function()
    value(c, c:select(M("main")))
    local set = value(c, c:search(ALL()))
    assert.equal(40, #set)
    local seen, order = 0, {}
    local h = c:fetch(set, { "uid", "flags", "size", "date", "envelope", "modseq", "header", "body", "raw",
                             { "fields", "Subject", "Message-ID" } }, function(m)
      seen = seen + 1
      order[#order + 1] = m.uid
      assert.equal("number", type(m.uid))
      assert.equal("table", type(m.flags))
      assert.truthy(m.size > 0)
      assert.equal(m.size, #m.raw)
      assert.truthy(m.internaldate:match("^%d%d%-%a%a%a%-%d%d%d%d"))
      assert.truthy(m.modseq > 0)
      assert.equal("table", type(m.envelope))
      assert.equal("table", type(m.envelope.from))
      assert.truthy(m.envelope.from[1].mailbox and m.envelope.from[1].host)
      assert.equal("table", type(m.envelope.cc))
      assert.truthy(m.envelope.message_id:match("^<.*>$"))
      assert.truthy(m.header:find("Message-ID:", 1, true) or m.header:find("Message-Id:", 1, true))
      assert.equal(m.header .. m.body, m.raw)
      assert.truthy(m.fields:find("Subject:", 1, true))
      assert.falsy(m.fields:find("Received:", 1, true))
    end)
    assert.equal("UID FETCH", h:command())
    assert.is_true(c:wait(h))
    assert.is_true(h:result())
    assert.equal(40, seen)
    for i = 2, #order do assert.truthy(order[i] > order[i - 1]) end
  end)

  it("searches with queries the server evaluates", function()
    value(c, c:select(M("main")))
    local all = value(c, c:search(ALL()))
    local first = all:min()
    local one = value(c, c:search(core.query_uid(core.set(tostring(first)))))
    assert.equal(1, #one)
    assert.is_true(one:contains(first))
    local none = value(c, c:search(core.query_header("Message-ID", "no-such-id-anywhere")))
    assert.equal(0, #none)
  end)

  it("stores flags, read back through a second connection", function()
    value(c, c:select(M("main")))
    local all = value(c, c:search(ALL()))
    local some = core.set(all:min() .. ":" .. (all:min() + 4))
    value(c, c:store(some, "-", { "\\Flagged" }))
    value(c2, c2:select(M("main"), true))
    local base = #value(c2, c2:search(core.query_key("FLAGGED")))
    value(c, c:store(some, "+", { "\\Flagged", "$Checked" }))
    value(c2, c2:noop())   -- Dovecot shows another session's changes after a command
    local flagged = value(c2, c2:search(core.query_key("FLAGGED")))
    assert.equal(base + 5, #flagged)
    local kw = value(c2, c2:search(core.query_string("KEYWORD", "$Checked")))
    assert.equal(5, #kw)
    value(c, c:store(some, "-", { "$Checked" }))
    value(c, c:store(core.set(tostring(all:min())), "=", { "\\Seen" }))
    value(c2, c2:noop())
    kw = value(c2, c2:search(core.query_string("KEYWORD", "$Checked")))
    assert.equal(0, #kw)
    flagged = value(c2, c2:search(core.query_key("FLAGGED")))
    assert.equal(base + 4, #flagged)
    assert.is_false(flagged:contains(all:min()))
    local h = c:store(some, "+", { "bad flag" })
    assert.is_false(c:wait(h))
    local _, err = h:result()
    assert.equal("usage", err.kind)
  end)

  it("moves with COPYUID and the messages arrive intact", function()
    value(c, c:create(M("dst")))
    value(c, c:select(M("src")))
    local before = message_ids(c)
    local all = value(c, c:search(ALL()))
    local part = core.set(all:min() .. ":" .. (all:min() + 9))
    local moved_ids = {}
    for uid in pairs(before) do if part:contains(uid) then moved_ids[#moved_ids + 1] = before[uid] end end
    table.sort(moved_ids)
    local h = c:move(part, M("dst"))
    assert.equal("UID MOVE", h:command())
    local r = value(c, h)
    assert.equal("table", type(r))
    assert.truthy(r.uidvalidity > 0)
    assert.equal(10, #r.src)
    assert.equal(10, #r.dst)
    assert.is_true(r.src == part)
    -- read back with the other connection
    value(c2, c2:select(M("dst"), true))
    assert.same(moved_ids, sorted_values(message_ids(c2)))
    value(c2, c2:select(M("src"), true))
    assert.equal(20, #value(c2, c2:search(ALL())))
    -- and from the Maildirs
    assert.equal(10, S.count(M("dst")))
    assert.equal(20, S.count(M("src")))
  end)

  it("copies, leaving the source as it was", function()
    value(c, c:select(M("src")))
    local all = value(c, c:search(ALL()))
    local r = value(c, c:copy(all, M("dst")))
    assert.equal(#all, #r.dst)
    assert.equal(#all + 10, S.count(M("dst")))
    assert.equal(#all, S.count(M("src")))
  end)

  it("reports NO [TRYCREATE] as an error object naming command and mailboxes", function()
    value(c, c:select(M("src")))
    local all = value(c, c:search(ALL()))
    local h = c:move(all, M("missing"))
    local ok, err = c:wait(h)
    assert.is_false(ok)
    assert.equal("no", err.kind)
    assert.equal("TRYCREATE", err.code)
    assert.equal("UID MOVE", err.command)
    assert.equal(M("missing"), err.mailbox)
    assert.equal("alice@127.0.0.1: UID MOVE " .. M("src") .. " -> " .. M("missing") .. ": NO [TRYCREATE] ",
                 err.message:sub(1, #("alice@127.0.0.1: UID MOVE " .. M("src") .. " -> " .. M("missing") .. ": NO [TRYCREATE] ")))
    assert.equal("string", type(err.server_text))
    local v, e2 = h:result()
    assert.is_nil(v)
    assert.equal(err, e2)
    assert.equal(#all, S.count(M("src")))
  end)

  it("expunges exactly the UIDs given (UID EXPUNGE)", function()
    value(c, c:select(M("exp")))
    local all = value(c, c:search(ALL()))
    value(c, c:store(all, "+", { "\\Deleted" }))
    local two = core.set(all:min() .. "," .. all:max())
    value(c, c:expunge(two))
    assert.equal(8, S.count(M("exp")))
    local left = value(c, c:search(ALL()))
    assert.equal(8, #left)
    assert.is_false(left:contains(all:min()))
    value(c, c:store(left, "-", { "\\Deleted" }))
    value(c, c:close_mailbox())
    assert.is_nil(c:selected())
    assert.equal(8, S.count(M("exp")))
    value(c, c:select(M("exp")))
    value(c, c:unselect())
    assert.is_nil(c:selected())
  end)

  it("appends with flags and a date, reporting APPENDUID", function()
    local msg = "From: A <a@example.org>\r\nSubject: appended\r\nMessage-ID: <append-1@test>\r\n\r\nhi\r\n"
    local r = value(c, c:append(M("main"), msg, { "\\Seen", "$Tag" }, "01-Feb-2024 10:00:00 +0000"))
    assert.equal("table", type(r))
    assert.truthy(r.uidvalidity > 0 and r.uid > 0)
    assert.equal("\\Seen $Tag", S.state(M("main"))["<append-1@test>"]:gsub("^(%S+) (%S+)$", "%2 %1"))
    value(c2, c2:select(M("main"), true))
    local got
    value(c2, c2:fetch(core.set(tostring(r.uid)), { "raw", "date" }, function(m) got = m end))
    assert.equal(msg, got.raw)
    assert.truthy(got.internaldate:find("01-Feb-2024 10:00:00", 1, true))
    assert.equal("appended", (value(c2, c2:status(M("main"))) and "appended"))
  end)

  it("lists, creates, renames, subscribes and deletes mailboxes", function()
    value(c, c:create(M("tmp")))
    local list = value(c, c:list("", M("*")))
    local names = {}
    for _, m in ipairs(list) do
      names[m.name] = true
      assert.equal("table", type(m.flags))
      assert.equal(c:delimiter(), m.delimiter)
    end
    assert.is_true(names[M("tmp")] and names[M("main")] and true)
    value(c, c:rename(M("tmp"), M("tmp2")))
    value(c, c:subscribe(M("tmp2")))
    local subs = value(c, c:lsub("", M("tmp*")))
    assert.equal(1, #subs)
    assert.equal(M("tmp2"), subs[1].name)
    value(c, c:unsubscribe(M("tmp2")))
    assert.equal(0, #value(c, c:lsub("", M("tmp*"))))
    value(c, c:delete(M("tmp2")))
    assert.equal(0, #value(c, c:list("", M("tmp*"))))
    local h = c:delete(M("tmp2"))
    local ok, err = c:wait(h)
    assert.is_false(ok)
    assert.equal("no", err.kind)
    assert.equal(M("tmp2"), err.mailbox)
  end)

  it("handles non-ASCII mailbox names as UTF-8", function()
    value(c, c:create(M("Entwürfe")))
    local list = value(c, c:list("", M("Entw*")))
    assert.equal(1, #list)
    assert.equal(M("Entwürfe"), list[1].name)
    local st = value(c, c:status(M("Entwürfe")))
    assert.equal(0, st.messages)
    value(c, c:delete(M("Entwürfe")))
  end)

  it("reports STATUS counters", function()
    local st = value(c, c:status(M("main")))
    assert.equal(41, st.messages)
    for _, k in ipairs { "unseen", "recent", "uidnext", "uidvalidity", "highestmodseq" } do
      assert.equal("number", type(st[k]), k)
    end
  end)

  it("pipelines: 20 STATUS then one wait cost one round trip", function()
    local before = c:stats()
    local hs = {}
    for i = 1, 20 do hs[i] = c:status(i % 2 == 0 and M("main") or M("src")) end
    for i = 1, 20 do assert.is_false(hs[i]:done()) end
    assert.is_true(c:wait())
    local after = c:stats()
    assert.equal(before.round_trips + 1, after.round_trips)
    assert.equal(before.commands + 20, after.commands)
    assert.truthy(after.bytes_in > before.bytes_in and after.bytes_out > before.bytes_out)
    for i = 1, 20 do
      assert.is_true(hs[i]:done())
      assert.equal(i % 2 == 0 and 41 or 20, hs[i]:result().messages)
    end
  end)

  it("returns the first failure among those waited for", function()
    local a = c:status(M("nope1"))
    local b = c:noop()
    local d = c:status(M("nope2"))
    local ok, err = c:wait()
    assert.is_false(ok)
    assert.equal(M("nope1"), err.mailbox)
    assert.is_true(b:result())
    assert.equal(M("nope2"), select(2, d:result()).mailbox)
    assert.equal(err, select(2, a:result()))
    assert.is_true(c:wait())   -- nothing pending any more
  end)

  it("refuses result() before the command is done", function()
    local h = c:noop()
    assert.is_false(h:done())
    local err = raises(h.result, h)
    assert.equal("usage", err.kind)
    assert.is_true(c:wait(h))
    assert.is_true(h:done())
    assert.truthy(tostring(h):find("NOOP", 1, true))
  end)

  it("saves a search result as $ and uses it", function()
    value(c, c:select(M("main")))
    local set = value(c, c:search(core.query_key("FLAGGED"), { save = true }))
    assert.truthy(#set >= 4)
    local got = {}
    value(c, c:fetch("$", { "uid" }, function(m) got[#got + 1] = m.uid end))
    assert.equal(#set, #got)
    for _, uid in ipairs(got) do assert.is_true(set:contains(uid)) end
  end)

  it("propagates an error raised by the fetch callback and stays usable", function()
    value(c, c:select(M("main")))
    local all = value(c, c:search(ALL()))
    local calls = 0
    local h = c:fetch(all, { "flags" }, function()
      calls = calls + 1
      error("callback failed here")
    end)
    local ok, err = pcall(c.wait, c, h)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("callback failed here", 1, true))
    assert.equal(1, calls)
    assert.is_true(h:done())
    -- the stream is still in sync: next command works
    assert.equal(41, #value(c, c:search(ALL())))
    -- nested reads from a callback are refused
    h = c:fetch(core.set(tostring(all:min())), { "uid" }, function() c:wait() end)
    ok, err = pcall(c.wait, c, h)
    assert.is_false(ok)
    assert.equal("usage", err.kind)
    assert.is_true(value(c, c:noop()))
  end)

  it("waits in IDLE until a change or the timeout", function()
    value(c, c:select(M("main")))
    local t0 = os.time()
    assert.equal("timeout", c:idle(1))
    assert.truthy(os.time() - t0 <= 3)
    -- another connection appends while we idle: fork a helper that appends after 1 s
    local cmd = string.format([[(sleep 1; lua5.4 -e 'package.cpath=%q..";"..package.cpath
      local c = require("imapscript.core").connect{host=%q, port=%d, ca_file=%q, user=%q, password=%q}
      c:wait(c:append(%q, "Subject: idle\r\n\r\nx\r\n")) c:logout()') >/dev/null 2>&1 &]],
      package.cpath, S.env("TESTBED_HOST"), tonumber(S.env("TESTBED_TLS_PORT")), S.env("TESTBED_CA"),
      S.env("TESTBED_USER"), S.env("TESTBED_PASSWORD"), M("main"))
    os.execute(cmd)
    assert.equal("changed", c:idle(20))
    local _, view = c:selected()
    assert.equal(42, view.exists)
  end)
end)

describe("connection lifetime", function()
  it("makes commands on a logged-out connection fail as closed", function()
    local c = connect()
    c:logout()
    local h = c:noop()
    assert.is_true(h:done())
    local ok, err = c:wait(h)
    assert.is_false(ok)
    assert.equal("closed", err.kind)
    assert.equal(0, #c:capabilities())
    assert.is_nil(c:selected())
    local v, e = c:idle(1)
    assert.is_nil(v)
    assert.equal("closed", e.kind)
  end)

  it("logs out from __close and __gc without leaking descriptors", function()
    -- Twice: a connection of an earlier test finalized by the first cycle is freed (its
    -- descriptor closed) by the second, not during the count below.
    collectgarbage()
    collectgarbage()
    local before = count_fds()
    for _ = 1, 25 do
      local c <close> = connect()
      c:noop()        -- left pending on purpose
    end
    for _ = 1, 25 do
      local c = connect()
      c:status("INBOX")
      c = nil
      collectgarbage()
    end
    collectgarbage()
    collectgarbage()
    -- Not more than before: a leak of these 50 connections shows; a handle of an earlier
    -- test that the collector closes meanwhile (one fewer) does not make the test flaky.
    local after = count_fds()
    assert.is_true(after <= before, string.format("%d descriptors open before, %d after", before, after))
  end)

  it("fails every outstanding handle when the server drops the connection", function()
    local c = connect({}, 2)
    value(c, c:select("INBOX"))
    assert.truthy(os.execute("doveadm -c " .. S.shquote(S.env("TESTBED_DIR") .. "/dovecot.conf") ..
                             " kick " .. S.env("TESTBED_USER2") .. " >/dev/null 2>&1"))
    local h1, h2 = c:noop(), c:status("INBOX")
    local ok, err = c:wait()
    assert.is_false(ok)
    assert.truthy(err.kind == "closed" or err.kind == "network", err.kind)
    assert.equal("NOOP", err.command)
    local _, e2 = h2:result()
    assert.truthy(e2.kind == "closed" or e2.kind == "network")
    assert.is_nil(c:selected())
    ok, err = c:wait(c:noop())
    assert.is_false(ok)
    assert.truthy(err.kind == "closed" or err.kind == "network")
    assert.is_true(c:logout())
    assert.is_nil(h1:result())
  end)

  it("collects a connection with fetches in flight without running their callbacks", function()
    S.seed(M("gc"), 20, 31)
    local calls = 0
    do
      local c = connect()
      c:wait(c:select(M("gc")))
      local h = c:search(ALL())
      c:wait(h)
      for _ = 1, 3 do c:fetch(h:result(), { "envelope" }, function() calls = calls + 1 end) end
      c:status(M("gc"))
    end
    collectgarbage()
    collectgarbage()
    assert.equal(0, calls)
  end)

  it("lets a fetch callback queue commands, written during the same wait", function()
    S.seed(M("cb"), 12, 32)
    local c = connect()
    value(c, c:select(M("cb")))
    local all = value(c, c:search(ALL()))
    local stores = {}
    local h = c:fetch(all, { "uid" }, function(m)
      if m.uid % 2 == 0 then stores[#stores + 1] = c:store(core.set(tostring(m.uid)), "+", { "$Even" }) end
    end)
    assert.is_true(c:wait(h))
    assert.is_true(c:wait())
    assert.truthy(#stores > 0)
    for _, st in ipairs(stores) do assert.is_true(st:result()) end
    assert.equal(#stores, #value(c, c:search(core.query_string("KEYWORD", "$Even"))))
    local other = connect()
    local err = raises(other.wait, other, h)
    assert.equal("usage", err.kind)
    other:logout()
    c:logout()
  end)

  it("keeps handle results after the connection is gone", function()
    local c = connect()
    local h = c:status("INBOX")
    c:logout()
    assert.is_true(h:done())
    assert.equal("number", type(h:result().messages))
  end)
end)
