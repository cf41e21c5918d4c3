-- The program against a scripted fake server (build/fakeimap) that lies, refuses or hangs up,
-- which a real Dovecot never does: exit codes, error messages, and what the client sent.
local S = require "tests.integration.support"

local FAKE = "build/fakeimap"

-- The dialogue up to a selected INBOX, as the client runs it (SELECT and LIST pipelined).
local LOGIN = [[
S: * OK [CAPABILITY IMAP4rev1 UIDPLUS ESEARCH] ready
C: LOGIN u p
S: $TAG OK logged in
C: CAPABILITY
S: * CAPABILITY IMAP4rev1 UIDPLUS ESEARCH
S: $TAG OK done
C: SELECT INBOX
S: * 3 EXISTS
S: * OK [UIDVALIDITY 7] ok
S: * OK [UIDNEXT 4] ok
S: $TAG OK [READ-WRITE] selected
]]
local LIST = [[
C: LIST "" ""
S: * LIST (\Noselect) "/" ""
S: $TAG OK done
]]
-- Before a COPY the client learns what the messages are (the journal's pre-image) and where the
-- copies will start in the destination (STATUS), in one round.
local PRE = [[
C: UID FETCH 1:3 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])
S: * 1 FETCH (UID 1 FLAGS () RFC822.SIZE 100)
S: * 2 FETCH (UID 2 FLAGS () RFC822.SIZE 100)
S: * 3 FETCH (UID 3 FLAGS () RFC822.SIZE 100)
S: $TAG OK done
]]
local STATUS = [[
C: STATUS Archive (MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY)
S: * STATUS Archive (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 9)
S: $TAG OK done
]]
local LOGOUT = [[
C: LOGOUT
S: * BYE bye
S: $TAG OK done
]]

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local slurp = S.slurp

--- Runs `body` (Lua, with `a` the account) against a fake server following `script`.
--- Returns the program's exit code, its stderr, the fake's log of what the client sent, the
--- fake's exit code and the fake's stderr.
-- Starts build/fakeimap playing script, calls run(port, base) for imapscript's exit code and
-- stderr (base: a temporary path prefix of its own, base .. ".state" its state directory), and
-- returns the code, stderr with the trace and the fake's stderr, the fake's log of what it
-- received, the fake's exit code and stderr.
local function with_fake(script, run)
  local base = os.tmpname()
  local spath = base .. ".imap"
  write(spath, script)
  local fake = assert(io.popen(FAKE .. " " .. S.shquote(spath) .. " 2>" .. S.shquote(spath .. ".err")))
  local port = tonumber((fake:read("l") or ""):match("^PORT (%d+)$"))
  assert(port, "fakeimap did not print its port: " .. slurp(spath .. ".err"))
  local code, err = run(port, base)
  local _, _, fake_code = fake:close()
  local log, fake_err, trace = slurp(spath .. ".log"), slurp(spath .. ".err"), slurp(base .. ".trace")
  os.execute("rm -rf " .. S.shquote(base) .. "*")
  return code, err .. "\n-- trace:\n" .. trace .. "-- fake: " .. fake_err, log, fake_code, fake_err
end

-- Runs body (Lua, with account a and Q) against build/fakeimap playing script. A state
-- directory of its own: what one lying server left unfinished is not resolved against the
-- next one. No cache: the scripted dialogues have no room for its own commands.
local function against(script, body)
  return with_fake(script, function(port, base)
    write(base .. ".lua", string.format('local a = imap.account { host = "127.0.0.1", port = %d, ' ..
      'tls = "none", user = "u", password = "p" }\nlocal Q = imap.query\n%s\n', port, body))
    local rc, _, stderr = S.run("--no-cache --state " .. S.shquote(base .. ".state") .. " --trace " ..
      S.shquote(base .. ".trace") .. " " .. S.shquote(base .. ".lua"))
    return rc, stderr
  end)
end

describe("against a hostile server", function()
  it("moves only the copied messages when COPYUID claims more (no MOVE)", function()
    local code, err, log, fake_code = against(LOGIN .. PRE .. LIST .. STATUS .. [[
C: UID COPY 1:3 Archive
S: $TAG OK [COPYUID 9 1:1000 1:1000] done
C: UID STORE 1:3 +FLAGS.SILENT (\Deleted)
S: $TAG OK done
C: UID EXPUNGE 1:3
S: $TAG OK done
]] .. LOGOUT, [[a.INBOX:uids("1:3"):move_to(a.Archive)]])
    assert.are.equal(0, code, err)
    assert.are.equal(0, fake_code, err)
    assert.truthy(log:find("UID STORE 1:3 +FLAGS.SILENT (\\Deleted)\n", 1, true), log)
    assert.truthy(log:find("UID EXPUNGE 1:3\n", 1, true), log)
    assert.falsy(log:find("1000", 1, true), log)
    assert.falsy(log:find("MOVE", 1, true), log)
  end)

  it("neither flags nor expunges when the COPY of a move fails", function()
    local code, err, log, fake_code = against(LOGIN .. PRE .. LIST .. STATUS .. [[
C: UID COPY 1:3 Archive
S: $TAG NO copy refused
]] .. LOGOUT, [[a.INBOX:uids("1:3"):move_to(a.Archive)]])
    assert.are.equal(1, code, err)
    assert.truthy(err:find("move_to", 1, true), err)
    assert.truthy(err:find("copy refused", 1, true), err)
    assert.falsy(log:find("STORE", 1, true), log)
    assert.falsy(log:find("EXPUNGE", 1, true), log)
    assert.are.equal(0, fake_code, err)
  end)

  it("fails with exit 3 and the offset on garbage in a SEARCH reply", function()
    local code, err, log = against(LOGIN .. [[
C: UID SEARCH RETURN (ALL) ALL
S: * ESEARCH (TAG "$TAG") UID ALL 1:(((
S: $TAG OK done
]], [[print(#a.INBOX:search(Q.all):set())]])
    assert.are.equal(3, code, err)
    assert.truthy(err:find("offset %d+"), err)
    assert.truthy(err:find("search INBOX", 1, true), err)
    assert.falsy(err:find("Sanitizer", 1, true) or err:find("egmentation", 1, true), err)
    assert.truthy(log:find("UID SEARCH", 1, true), log)
  end)

  it("fails with exit 3, naming the action unknown, when the server hangs up after UID COPY and stays down", function()
    local code, err, log, fake_code = against(LOGIN .. PRE .. LIST .. STATUS .. [[
C: UID COPY 1:3 Archive
]], [[a.INBOX:uids("1:3"):move_to(a.Archive)]])
    assert.are.equal(3, code, err)
    assert.are.equal(0, fake_code, err)
    assert.truthy(log:find("UID COPY 1:3 Archive\n", 1, true), log)
    assert.falsy(log:find("STORE", 1, true), log)
    assert.falsy(log:find("EXPUNGE", 1, true), log)
    -- Three tries to reconnect, then what became of each script line.
    assert.truthy(err:find("move_to Archive: unknown", 1, true), err)
  end)
end)

-- Gmail's extensions (X-GM-EXT-1), which Dovecot lacks: the fake checks every command.
describe("against a scripted Gmail", function()
  it("searches with X-GM-RAW, reads and changes labels, and deletes by moving to the Trash", function()
    local code, err, log, fake_code = against([[
S: * OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE X-GM-EXT-1 SPECIAL-USE ESEARCH LITERAL+] Gimap ready
C: LOGIN u p
S: $TAG OK logged in
C: CAPABILITY
S: * CAPABILITY IMAP4rev1 UIDPLUS MOVE X-GM-EXT-1 SPECIAL-USE ESEARCH LITERAL+
S: $TAG OK done
C: SELECT INBOX
S: * 3 EXISTS
S: * OK [UIDVALIDITY 7] ok
S: * OK [UIDNEXT 9] ok
S: $TAG OK [READ-WRITE] selected
C: UID SEARCH RETURN (ALL) X-GM-RAW "has:attachment older_than:1y" UNSEEN
S: * ESEARCH (TAG "$TAG") UID ALL 1:2
S: $TAG OK done
C: UID FETCH 1:2 (UID X-GM-LABELS X-GM-MSGID X-GM-THRID)
S: * 1 FETCH (UID 1 X-GM-LABELS (\Inbox "Work/Q1" Tr&AOg-s) X-GM-MSGID 1278455344230334865 X-GM-THRID 1278455344230334865)
S: * 2 FETCH (UID 2 X-GM-LABELS () X-GM-MSGID 1278455344230334866 X-GM-THRID 1278455344230334865)
S: $TAG OK done
C: UID STORE 1:2 +X-GM-LABELS.SILENT (Work/Q1 \Important)
S: $TAG OK done
C: UID STORE 1:2 -X-GM-LABELS.SILENT (Tr&AOg-s)
S: $TAG OK done
C: LIST "" ""
S: * LIST (\Noselect) "/" ""
S: $TAG OK done
C: LIST "" "*" RETURN (SPECIAL-USE)
S: * LIST (\HasNoChildren) "/" "INBOX"
S: * LIST (\HasNoChildren \Trash) "/" "[Gmail]/Trash"
S: * LIST (\All \HasNoChildren) "/" "[Gmail]/All Mail"
S: $TAG OK done
C: UID FETCH 5 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])
S: * 3 FETCH (UID 5 FLAGS () RFC822.SIZE 100)
S: $TAG OK done
C: UID MOVE 5 "[Gmail]/Trash"
S: * OK [COPYUID 7 5 31] moved
S: * 3 EXPUNGE
S: $TAG OK done
]] .. LOGOUT, [[
local r = a.INBOX:search(Q.gmail "has:attachment older_than:1y" & Q.unseen)
for m in r:fetch { "labels", "gm_msgid", "gm_thrid" } do
  io.stderr:write(string.format("msg %d [%s] %d %d\n", m.uid, table.concat(m.labels, ","), m.gm_msgid, m.gm_thrid))
end
r:add_labels { "Work/Q1", "\\Important" }
r:remove_labels { "Tr\u{e8}s" }
a.INBOX:uids("5"):delete()]])
    assert.are.equal(0, code, err)
    assert.are.equal(0, fake_code, err)
    assert.truthy(err:find("msg 1 [\\Inbox,Work/Q1,Tr\u{e8}s] 1278455344230334865 1278455344230334865", 1, true), err)
    assert.truthy(err:find("msg 2 [] 1278455344230334866 1278455344230334865", 1, true), err)
    assert.falsy(log:find("\\Deleted", 1, true), log)       -- a move to the Trash, no expunge
    assert.falsy(log:find("EXPUNGE", 1, true), log)
  end)

  it("runs examples/gmail-labels.lua: one search and one label STORE per rule", function()
    local code, err, _, fake_code, fake_err = with_fake([[
S: * OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE X-GM-EXT-1 SPECIAL-USE ESEARCH LITERAL+] Gimap ready
C: LOGIN alice@gmail.com p
S: $TAG OK logged in
C: CAPABILITY
S: * CAPABILITY IMAP4rev1 UIDPLUS MOVE X-GM-EXT-1 SPECIAL-USE ESEARCH LITERAL+
S: $TAG OK done
C: SELECT INBOX
S: * 6 EXISTS
S: * OK [UIDVALIDITY 7] ok
S: * OK [UIDNEXT 20] ok
S: $TAG OK [READ-WRITE] selected
C: UID SEARCH RETURN (ALL) HEADER List-Id "lua-l.lists.lua.org"
S: * ESEARCH (TAG "$TAG") UID ALL 3:4
S: $TAG OK done
C: UID STORE 3:4 +X-GM-LABELS.SILENT (Lists/lua-l)
S: $TAG OK done
C: UID STORE 3:4 -X-GM-LABELS.SILENT (\Inbox)
S: $TAG OK done
C: UID SEARCH RETURN (ALL) HEADER List-Id "debian-devel.lists.debian.org"
S: * ESEARCH (TAG "$TAG") UID
S: $TAG OK done
C: UID SEARCH RETURN (ALL) X-GM-RAW "subject:(receipt OR invoice OR order) -label:Receipts"
S: * ESEARCH (TAG "$TAG") UID ALL 7,9
S: $TAG OK done
C: UID STORE 7,9 +X-GM-LABELS.SILENT (Receipts)
S: $TAG OK done
C: UID SEARCH RETURN (ALL) X-GM-RAW "category:promotions older_than:7d"
S: * ESEARCH (TAG "$TAG") UID ALL 11:12
S: $TAG OK done
C: UID STORE 11:12 -X-GM-LABELS.SILENT (\Inbox)
S: $TAG OK done
]] .. LOGOUT, function(port, base)
      local patch = string.format("local a = imap.account; imap.account = function(c) c.port = %d; " ..
        "c.tls = 'none'; return a(c) end", port)
      local rc, _, stderr = S.run(string.format("--no-cache --state %s --trace %s -e %s " ..
        "examples/gmail-labels.lua", S.shquote(base .. ".state"), S.shquote(base .. ".trace"),
        S.shquote(patch)), nil, "IMAP_HOST=127.0.0.1 IMAP_USER=alice@gmail.com IMAP_PASSWORD=p")
      return rc, stderr
    end)
    assert.are.equal(0, code, err)
    assert.are.equal(0, fake_code, fake_err)
  end)

  it("refuses Gmail keys and labels on a server without them", function()
    local code, err, log = against(LOGIN .. LIST .. LOGOUT, [[
a.INBOX:uids("1"):add_labels { "x" }
io.stderr:write("labels: ", tostring(select(2, pcall(a.flush, a))), "\n")
local ok, e = pcall(function() return #a.INBOX:search(Q.gmail "x") end)
io.stderr:write("search: ", tostring(e), "\n")
error(e)]])
    assert.are.equal(1, code, err)
    assert.truthy(err:find("labels (X-GM-EXT-1)", 1, true), err)
    assert.truthy(err:find("search: .*need a Gmail server"), err)
    assert.falsy(log:find("X-GM", 1, true), log)
  end)
end)

-- METADATA limits (RFC 5464 section 4.3), which Dovecot 2.3 has no settings for.
describe("against a server with METADATA limits", function()
  local META = [[
S: * OK [CAPABILITY IMAP4rev1 METADATA LITERAL+] ready
C: LOGIN u p
S: $TAG OK logged in
C: CAPABILITY
S: * CAPABILITY IMAP4rev1 METADATA LITERAL+
S: $TAG OK done
]]

  it("raises TOOMANY, MAXSIZE and NOPRIVATE refusals saying what they mean", function()
    local code, err, log, fake_code = against(META .. [[
C: SETMETADATA "" (/private/a "1" /private/b "2")
S: $TAG NO [METADATA TOOMANY] Too many annotations
C: SETMETADATA INBOX (/shared/big "a large value")
S: $TAG NO [METADATA MAXSIZE 1024] Annotation too large
C: SETMETADATA INBOX (/private/x "y")
S: $TAG NO [METADATA NOPRIVATE] No private annotations here
]] .. LOGOUT, [[
local ok, e = pcall(a.set_metadata, a, { ["/private/a"] = "1", ["/private/b"] = "2" })
io.stderr:write("toomany: ", e.metadata, " | ", tostring(e), "\n")
ok, e = pcall(a.INBOX.set_metadata, a.INBOX, "/shared/big", "a large value")
io.stderr:write("maxsize: ", e.metadata, " ", e.maxsize, " ", e.code, " ", e.code_text, " | ", tostring(e), "\n")
ok, e = pcall(a.INBOX.set_metadata, a.INBOX, "/private/x", "y")
io.stderr:write("noprivate: ", e.metadata, " | ", tostring(e), "\n")]])
    assert.are.equal(0, code, err)
    assert.are.equal(0, fake_code, err)
    assert.truthy(err:find("toomany: toomany | u@127.0.0.1: SETMETADATA: the server allows no more entries " ..
      "(NO [METADATA TOOMANY] Too many annotations)", 1, true), err)
    assert.truthy(err:find("maxsize: maxsize 1024 METADATA MAXSIZE 1024 | u@127.0.0.1: SETMETADATA INBOX: " ..
      "the value is larger than the server's limit of 1024 bytes", 1, true), err)
    assert.truthy(err:find("noprivate: noprivate | u@127.0.0.1: SETMETADATA INBOX: the server keeps no " ..
      "private entries", 1, true), err)
    assert.truthy(log:find("SETMETADATA INBOX (/private/x \"y\")\n", 1, true), log)
  end)

  it("refuses METADATA on a server without it, sending nothing", function()
    local code, err, log = against(LOGIN:gsub("\nC: SELECT.*$", "\n") .. LOGOUT, [[
local ok, e = pcall(a.metadata, a, "/private/comment")
io.stderr:write("get: ", e.kind, " | ", tostring(e), "\n")
ok, e = pcall(a.INBOX.set_metadata, a.INBOX, "/private/comment", "x")
io.stderr:write("set: ", e.kind, "\n")]])
    assert.are.equal(0, code, err)
    assert.truthy(err:find("get: capability | u@127.0.0.1: GETMETADATA: the server does not offer " ..
      "METADATA or METADATA-SERVER", 1, true), err)
    assert.truthy(err:find("set: capability", 1, true), err)
    assert.falsy(log:find("METADATA", 1, true), log)
  end)
end)

describe("against a server with long replies", function()
  local function login(caps)
    return string.format([[
S: * OK [CAPABILITY %s] ready
C: LOGIN u p
S: $TAG OK logged in
C: CAPABILITY
S: * CAPABILITY %s
S: $TAG OK done
C: SELECT INBOX
S: * 1500000 EXISTS
S: * OK [UIDVALIDITY 7] ok
S: * OK [UIDNEXT 3000000] ok
S: $TAG OK [READ-WRITE] selected
]], caps, caps)
  end

  it("reads a 10 MB SEARCH line (no ESEARCH) in parts", function()
    local code, err, log, fake_code = against(login("IMAP4rev1 UIDPLUS") .. [[
C: UID SEARCH ALL
S: * SEARCH $NUMS(1,2999999,2,s)
S: $TAG OK done
]] .. LOGOUT, [[
local set = a.INBOX:all():set()
assert(#set == 1500000, "got " .. #set)
assert(set:min() == 1 and set:max() == 2999999 and set:contains(1001) and not set:contains(1002))]])
    assert.are.equal(0, code, err)
    assert.are.equal(0, fake_code, err)
    assert.truthy(log:find("UID SEARCH ALL\n", 1, true), log)
  end)

  it("reads a 1 MB ESEARCH ALL in parts, and refuses a long unrequested line", function()
    local code, err, _, fake_code = against(login("IMAP4rev1 UIDPLUS ESEARCH") .. [[
C: UID SEARCH RETURN (ALL) UNSEEN
S: * SEARCH $NUMS(1,2000000,1,s)
S: * ESEARCH (TAG "$TAG") UID ALL $NUMS(1,299999,2,c) COUNT 150000
S: $TAG OK done
]] .. LOGOUT, [[
local n = 0
for uid in a.INBOX:search(Q.unseen):uids() do
  assert(uid % 2 == 1)
  n = n + 1
end
assert(n == 150000, "got " .. n)]])
    assert.are.equal(0, code, err)
    assert.are.equal(0, fake_code, err)
    assert.truthy(err:find("ignoring an unrequested SEARCH response of more than 65536 bytes", 1,
      true), err)
  end)
end)

describe("a move to another account from a server that stops in the middle of a message", function()
  it("leaves nothing on the target and removes nothing", function()
    local before = S.count("INBOX", "bob")
    local code, err, log = against(LOGIN .. [[
C: UID FETCH 1 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])
S: * 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 3000000 BODY[HEADER.FIELDS (MESSAGE-ID)] {21}
S: Message-ID: <cut@x>
S: )
S: $TAG OK done
C: UID FETCH 1 (UID FLAGS INTERNALDATE BODY.PEEK[])
S: * 1 FETCH (UID 1 FLAGS (\Seen) INTERNALDATE "01-Jan-2020 10:00:00 +0000" BODY[] {3000000}
S: $NUMS(1,200000,1,s)
]], string.format([[
local b = imap.account { host = %q, port = %d, ca_file = %q, user = %q, password = %q }
a.INBOX:uids({ 1 }):move_to(b.INBOX)]], S.env("TESTBED_HOST"), tonumber(S.env("TESTBED_TLS_PORT")),
      S.env("TESTBED_CA"), S.env("TESTBED_USER2"), S.env("TESTBED_PASSWORD2")))
    assert.are_not.equal(0, code, err)
    assert.truthy(err:find("the source failed in the middle of a message", 1, true), err)
    assert.are.equal(before, S.count("INBOX", "bob"))
    assert.falsy(log:find("STORE", 1, true), log)
    assert.falsy(log:find("EXPUNGE", 1, true), log)
  end)
end)
