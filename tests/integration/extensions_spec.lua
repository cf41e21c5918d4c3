-- Raw commands and the extensions built on them (QUOTA, ACL, NAMESPACE, ID, UNSELECT,
-- SPECIAL-USE) against a Dovecot with its quota and ACL plugins, read back from its files.
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }
local settings = require "imapscript.settings"
local Q = imap.query

local slurp = S.slurp

describe("extensions", function()
  local b, acct
  setup(function()
    b = S.bed(imap, { plugins = "quota,acl" })
    acct = b.account()
  end)
  teardown(function()
    acct:logout()
    b.stop()
  end)

  it("sends a raw command with a literal and returns its tagged and untagged replies", function()
    local text = "From: a@example.org\r\nSubject: raw \xc3\xa4\r\nMessage-ID: <raw-1@x>\r\n\r\nbody\r\n"
    acct:create "Raw"
    local res = acct:command("APPEND", acct:mailbox "Raw", { imap.atom "\\Flagged" }, text)
    assert.are.equal("OK", res.status)
    assert.are.equal("APPENDUID", res.code)
    assert.are.equal("\\Flagged", b.state("Raw")["<raw-1@x>"])
    local f = io.popen("cat " .. S.shquote(b.env.TESTBED_MAILROOT) .. "/alice/.Raw/cur/* " ..
      S.shquote(b.env.TESTBED_MAILROOT) .. "/alice/.Raw/new/* 2>/dev/null")
    assert.are.equal(text:gsub("\r\n", "\n"), f:read("a"))    -- Dovecot stores LF
    f:close()
    -- in the mailbox: selected first, the replies as tables (NIL is false, numbers integers)
    local s = acct:mailbox("Raw"):command("UID FETCH", imap.atom "1:*", { imap.atom "FLAGS", imap.atom "ENVELOPE" })
    local fetch = s.untagged[#s.untagged]
    assert.are.equal("FETCH", fetch.name)
    assert.are.equal(1, fetch.number)
    local items = {}
    for i = 1, #fetch[1], 2 do items[fetch[1][i]] = fetch[1][i + 1] end
    assert.are.equal("\\Flagged", items.FLAGS[1])
    assert.are.equal(false, items.ENVELOPE[1])        -- no Date: NIL
    assert.are.equal("<raw-1@x>", items.ENVELOPE[10])
    -- an ESEARCH of our own tag, and a query as the search keys
    local c = acct:mailbox("Raw"):command("UID SEARCH", imap.atom "RETURN (COUNT)", Q.flagged)
    local es = c.untagged[1]
    assert.are.equal("ESEARCH", es.name)
    assert.are.equal(1, es[#es])
  end)

  it("cuts a raw UID STORE or FETCH whose set passes the line limit into pieces", function()
    b.seed("Long", 300, 11)
    local trace = os.tmpname()
    settings.trace = assert(io.open(trace, "w"))
    settings.trace:setvbuf("line")
    local a = b.account()
    local ok, err = pcall(function()
      a.Long:all():remove_flags { "\\Flagged" }
      local odd = {}
      for uid = 1, 40001, 2 do odd[#odd + 1] = uid end      -- about 110 KB of set text
      local set = imap.set(odd)
      a.Long:command("UID STORE", set, imap.atom "+FLAGS.SILENT", { imap.atom "\\Flagged" })
      local f = a.Long:command("UID FETCH", set, { imap.atom "FLAGS" })
      assert.are.equal(150, #f.untagged)                    -- every part's replies, together
      for _, u in ipairs(f.untagged) do assert.are.equal(1, u[1][2] % 2) end
    end)
    a:logout()
    settings.trace:close()
    settings.trace = nil
    local parts, longest = 0, 0
    for line in io.lines(trace) do
      if line:find("^C: %S+ UID STORE ") then parts = parts + 1 end
      if line:find("^C: ") then longest = math.max(longest, #line) end
    end
    os.remove(trace)
    assert(ok, tostring(err))
    assert.is_true(parts >= 14, parts)
    assert.is_true(longest <= 8000, longest)
    local flagged = 0
    for _, flags in pairs(b.state("Long")) do
      if flags:find("\\Flagged", 1, true) then flagged = flagged + 1 end
    end
    assert.are.equal(150, flagged)
  end)

  it("raises the server's NO with its code, and refuses verbs that break the session", function()
    local ok, err = pcall(acct.command, acct, "APPEND", acct:mailbox "Missing", "Subject: x\r\n\r\n")
    assert.is_false(ok)
    assert.are.equal("no", err.kind)
    assert.are.equal("TRYCREATE", err.code)
    for _, verb in ipairs { "SELECT", "examine", "CLOSE", "LOGOUT", "AUTHENTICATE", "STARTTLS",
                            "COMPRESS", "IDLE", "ENABLE" } do
      ok, err = pcall(acct.command, acct, verb, "INBOX")
      assert.is_false(ok, verb)
      assert.are.equal("usage", err.kind)
      assert.truthy(tostring(err):find("bookkeeping", 1, true))
    end
    ok, err = pcall(acct.command, acct, "UID", "x")
    assert.is_false(ok)
    assert.are.equal("usage", err.kind)
    ok, err = pcall(acct.command, acct, "NOOP", { true })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("boolean has no IMAP form", 1, true))
    -- the session still works after the refusals
    assert.are.equal("OK", acct:command("NOOP").status)
  end)

  it("reads the quota of a mailbox", function()
    local q = acct:quota(acct.INBOX)
    assert.are.equal(1, #q)
    assert.are.equal("User quota", q[1].root)
    assert.are.equal(102400, q[1].storage.limit)
    acct.INBOX:append("Subject: big\r\n\r\n" .. string.rep("0123456789abcdef", 4096))
    assert.is_true(acct:quota()[1].storage.usage > q[1].storage.usage)
    -- The bed's users are quota admins; Dovecot stores SETQUOTA's limits in its quota_set
    -- dict (a file here), two lines per key, and sends no QUOTA reply
    local set = acct:set_quota("User quota", { storage = 1000, message = 50 })
    assert.are.same({ root = "User quota" }, set)
    local dict = {}
    local lines = io.lines(b.env.TESTBED_DIR .. "/home/alice/quota-limits")
    for key in lines do dict[key] = lines() end
    assert.are.same({ ["priv/quota/limit/storage"] = "1000", ["priv/quota/limit/messages"] = "50" }, dict)
    -- a resource the server does not know: its BAD comes back as the error, naming SETQUOTA
    local ok, err = pcall(acct.set_quota, acct, "User quota", { widgets = 3 })
    assert.is_false(ok)
    assert.are.equal("bad", err.kind)
    assert.truthy(err.message:find("SETQUOTA", 1, true))
    assert.truthy(err.message:find("Unsupported resource name", 1, true))
  end)

  it("sets, reads and deletes ACL entries, as the server stores them", function()
    acct:create "Team"
    local team = acct.Team
    assert.are.equal("lrwstipekxacd", team:my_rights())
    team:set_acl("bob", "lrs")
    local acl_file = b.env.TESTBED_MAILROOT .. "/alice/.Team/dovecot-acl"
    assert.truthy(slurp(acl_file):find("user=bob lrs", 1, true))
    local acl = team:acl()
    assert.are.equal("lrs", acl.bob)
    assert.are.equal("lrwstipekxacd", acl.alice)
    team:delete_acl("bob")
    assert.falsy(slurp(acl_file):find("bob", 1, true))
    assert.is_nil(team:acl().bob)
  end)

  it("plans changes in a dry run and still reads", function()
    settings.dry_run = true
    local ok, err = pcall(function()
      acct.Team:set_acl("carol", "lr")
      acct:set_quota("User quota", { storage = 7 })
      local r = acct:command("UID STORE", imap.set "1", imap.atom "+FLAGS", { imap.atom "\\Seen" })
      assert.is_true(r.planned)
      assert.are.equal("User quota", acct:quota()[1].root)
    end)
    settings.dry_run = false
    assert.is_true(ok, tostring(err))
    assert.is_nil(acct.Team:acl().carol)
    local limits = io.open(b.env.TESTBED_DIR .. "/home/alice/quota-limits"):read("a")
    assert.falsy(limits:find("\n7\n", 1, true))
  end)

  it("knows namespaces, the server's ID and special-use mailboxes", function()
    local ns = acct:namespaces()
    assert.are.same({ { prefix = "", delimiter = "/" } }, ns.personal)
    assert.are.same({}, ns.shared)
    assert.are.equal("Dovecot", acct:id { name = "imapscript", version = imap.version }.name)
    assert.are.equal("Trash", acct:special("\\Trash").name)
    assert.is_nil(acct:special("\\Important"))
    -- Dovecot 2.3 has no CREATE-SPECIAL-USE: a clear capability error, nothing created
    local ok, err = pcall(acct.create, acct, "Old", { use = "\\Archive" })
    assert.is_false(ok)
    assert.are.equal("capability", err.kind)
    S.mailroot = b.env.TESTBED_MAILROOT
    local exists = S.exists("Old")
    S.mailroot = nil
    assert.is_false(exists)
  end)

  it("unselects without expunging", function()
    b.seed("Keep", 3, 5)
    local r = acct.Keep:all()
    r:add_flags { "\\Deleted" }
    acct:flush()
    acct:unselect()
    assert.is_nil(acct.conn:selected())
    local n = 0
    for _, flags in pairs(b.state("Keep")) do
      assert.truthy(flags:find("\\Deleted", 1, true))
      n = n + 1
    end
    assert.are.equal(3, n)
  end)
end)

describe("counts by ESEARCH", function()
  it("counts a pending search with RETURN (COUNT MIN MAX) and searches again for its UIDs", function()
    local trace = os.tmpname()
    settings.trace = assert(io.open(trace, "w"))
    settings.trace:setvbuf("line")
    settings.no_cache = true     -- the server counts (cache_spec.lua: what the cache answers)
    local acct = imap.account(S.account_cfg())
    S.seed("INBOX", 30, 9)
    local r = acct.INBOX:search(Q.all)
    assert.are.equal(30, #r)
    assert.are.equal(1, r:min())
    assert.are.equal(30, r:max())
    local text = io.open(trace):read("a")
    assert.truthy(text:find("UID SEARCH RETURN (COUNT MIN MAX) ALL", 1, true), text)
    assert.falsy(text:find("RETURN (ALL)", 1, true), text)
    local n = 0
    for _ in r:uids() do n = n + 1 end
    assert.are.equal(30, n)
    -- an action queued after the search needs its UIDs: the count waits for the real search
    local s = acct.INBOX:search(Q.unseen)
    acct.INBOX:all():mark_seen()
    assert.is_true(#s > 0)
    acct:logout()
    settings.no_cache = false
    settings.trace:close()
    settings.trace = nil
    os.remove(trace)
  end)
end)
