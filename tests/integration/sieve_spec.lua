-- Sieve at delivery against Dovecot with Pigeonhole (bed: sieve_spec.testbed): the same mail
-- delivered by dovecot-lda through the installed Sieve script, and into a plain INBOX then
-- filed by the IMAP run of the same rules, ends in the same mailboxes with the same flags;
-- a later IMAP run changes nothing. ManageSieve errors are clear; a scripted fake server
-- plays what Dovecot never does.
local S = require "tests.integration.support"
local core = require "imapscript.core"

local IMAPSCRIPT = os.getenv("IMAPSCRIPT") or "build/imapscript"
local DIR, MAILROOT = S.env("TESTBED_DIR"), S.env("TESTBED_MAILROOT")
local HOST, PORT, SPORT, CA = S.env("TESTBED_HOST"), S.env("TESTBED_TLS_PORT"), S.env("TESTBED_SIEVE_PORT"),
  S.env("TESTBED_CA")

local slurp, write = S.slurp, S.write

--- Runs the program as `user`; the rules read IMAP_* and SIEVE_PORT (and the examples are
--- pointed at the bed by the -e patch). Returns exit code, stdout, stderr.
local function run(user, password, args)
  local patch = string.format("local a = imap.account; imap.account = function(c) c.port = %s; " ..
    "c.ca_file = %q; c.sieve_port = %s; return a(c) end", PORT, CA, SPORT)
  local cmd = string.format("env IMAP_HOST=%s IMAP_PORT=%s IMAP_CA=%s IMAP_USER=%s IMAP_PASSWORD=%s " ..
    "SIEVE_PORT=%s TESTBED_USER=%s TESTBED_PASSWORD=%s %s -e %s %s", HOST, PORT, S.shquote(CA), user,
    S.shquote(password), SPORT, user, S.shquote(password), IMAPSCRIPT, S.shquote(patch), args)
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(cmd .. " >" .. out .. " 2>" .. err .. " </dev/null")
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  return code, o, e
end

local function managesieve(user, password)
  return core.managesieve { host = HOST, port = tonumber(SPORT), ca_file = CA, user = user,
                            password = password }
end

local function scripts_of(user, password)
  local ms = managesieve(user, password)
  local t = {}
  for _, s in ipairs(assert(ms:list())) do t[s.name] = s.active end
  ms:logout()
  return t
end

-- Every non-empty mailbox of a user: {name = {message-id = "flags"}}, from the Maildirs.
local function all_state(user)
  local names = { "INBOX" }
  local p = io.popen("ls -1a " .. S.shquote(MAILROOT .. "/" .. user))
  for line in p:lines() do
    if line:match("^%.[^.]") and os.execute("test -d " .. S.shquote(MAILROOT .. "/" .. user .. "/" .. line)) then
      names[#names + 1] = line:sub(2):gsub("%.", "/")
    end
  end
  p:close()
  local out = {}
  for _, name in ipairs(names) do
    local st, n = S.state(name, user)
    if n > 0 then out[name] = st end
  end
  return out
end

local function total(state)
  local n = 0
  for _, box in pairs(state) do
    for _ in pairs(box) do n = n + 1 end
  end
  return n
end

local function has_flag(state, flag)
  for _, box in pairs(state) do
    for _, flags in pairs(box) do
      if (" " .. flags .. " "):find(" " .. flag .. " ", 1, true) then return true end
    end
  end
  return false
end

-- Messages written for the rules (CRLF, as SMTP and LMTP carry them, so that Sieve's size and
-- IMAP's RFC822.SIZE count the same bytes).
local function crafted(i, headers, size)
  local lines = { "Message-ID: <crafted-" .. i .. "@sieve.test>", "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S +0000"),
                  "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii" }
  for _, h in ipairs(headers) do lines[#lines + 1] = h end
  local msg = table.concat(lines, "\r\n") .. "\r\n\r\nHello.\r\n"
  if size then msg = msg .. string.rep("x", size - #msg - 2) .. "\r\n" end
  assert(not size or #msg == size)
  return msg
end

local CRAFTED = {
  { "From: Away <away@example.com>", "To: alice@example.org", "Subject: Automatic reply: away",
    "Auto-Submitted: auto-replied" },
  { "From: Old <old@example.net>", "To: alice@example.org", "Subject: Out of office", "X-Autoreply: yes" },
  { "From: List <x@lists.lua.org>", "To: lua-l@lists.lua.org", "Subject: FYI Reminder: meeting",
    "List-Id: Lua list <lua-l.lists.lua.org>" },
  { "From: Grace <grace@corp.example>", "To: alice@example.org", "Subject: [PATCH v2 3/3] fix it" },
  { "From: Boss <boss@example.org>", "To: alice@example.org", "Subject: FYI budget" },
  { "From: A <a@example.com>", "To: Ken <ken@example.jp>", "Cc: c@example.org", "Subject: both" },
  { "From: A <a@example.com>", "To: Ken <ken@example.jp>", "Subject: only jp" },
  { "From: B <b@example.com>", "To: alice@example.org", "Subject: Reminder: dentist" },
  { "From: S <s@example.com>", "To: alice@example.org", "Subject: exactly the limit", n = 20000 },
  { "From: S <s@example.com>", "To: alice@example.org", "Subject: one over the limit", n = 20001 },
  { "From: Away <away@example.com>", "To: alice@example.org", "Subject: FYI: big auto reply",
    "Auto-Submitted: auto-replied", n = 30000 },
}

-- The mail both users get: generated (realistic) plus crafted, as CRLF files. Returns paths.
local function make_mail(count, seed)
  local dir = DIR .. "/mail-src-" .. seed
  assert(os.execute(string.format("rm -rf %s && mkdir -p %s && %s --maildir %s --count %d --seed %d " ..
    "--max-size 40000 --new >/dev/null", S.shquote(dir), S.shquote(dir), os.getenv("SEEDMAIL") or "build/seedmail",
    S.shquote(dir), count, seed)))
  local files = {}
  local p = io.popen("ls -1 " .. S.shquote(dir .. "/new"))
  for name in p:lines() do
    local path = dir .. "/new/" .. name
    write(dir .. "/" .. #files .. ".eml", slurp(path):gsub("\r?\n", "\r\n"))
    files[#files + 1] = dir .. "/" .. #files .. ".eml"
  end
  p:close()
  for i, c in ipairs(CRAFTED) do
    local path = dir .. "/crafted-" .. seed .. "-" .. i .. ".eml"
    write(path, crafted(seed * 100 + i, c, c.n))
    files[#files + 1] = path
  end
  return files
end

-- dovecot-lda for both users at once (two cores).
local function deliver(users, files)
  local quoted = {}
  for i, f in ipairs(files) do quoted[i] = S.shquote(f) end
  local cmds = {}
  for i, u in ipairs(users) do
    cmds[i] = string.format("scripts/testbed deliver %s --user %s %s", S.shquote(DIR), u, table.concat(quoted, " "))
  end
  assert(os.execute("(" .. table.concat(cmds, ") & (") .. ") & wait"))
end

describe("Sieve at delivery", function()
  it("files the written-for-the-test rules as the IMAP run does, and the run after it changes nothing", function()
    local rules = "tests/integration/sieve_rules.lua"
    -- Every rule translates.
    local code, out, err = run("alice", "alice-secret", "--sieve " .. rules)
    assert.are.equal(0, code, err)
    assert.truthy(out:find('require ["copy", "fileinto", "imap4flags", "mailbox", "regex"];', 1, true), out)
    local rows = 0
    for line in out:gmatch("#   tests/integration/sieve_rules%.lua:%d+ +[^\n]*") do
      rows = rows + 1
      assert.truthy(line:find("Sieve, at delivery", 1, true), line)
    end
    assert.are.equal(10, rows, out)

    code, _, err = run("alice", "alice-secret", "--sieve-install " .. rules)
    assert.are.equal(0, code, err)
    assert.truthy(err:find('installed Sieve script "imapscript" (10 of 10 rules)', 1, true), err)
    assert.are.same({ imapscript = true }, scripts_of("alice", "alice-secret"))

    local files = make_mail(70, 16)
    deliver({ "alice", "bob" }, files)
    assert.are.equal(#files, S.count("INBOX", "bob"))       -- no Sieve script: all in INBOX
    local sieved = all_state("alice")
    code, _, err = run("bob", "bob-secret", rules)
    assert.are.equal(0, code, err)
    local filed = all_state("bob")

    -- The mail exercises the rules (else equality would prove nothing) ...
    for _, box in ipairs { "Lists/lua-l", "Auto-replies", "Big", "FYI" } do
      assert.truthy(filed[box], box .. " is empty after the IMAP run")
    end
    for _, flag in ipairs { "$Patch", "$Question", "$JP", "\\Flagged", "\\Seen" } do
      assert.is_true(has_flag(filed, flag), flag)
    end
    assert.is_true(total(filed) < #files + #S.keys(filed.Big), "nothing was deleted")
    assert.are.equal("", filed["Lists/lua-l"]["<crafted-1603@sieve.test>"])   -- left by rule 1 only
    assert.is_nil(filed.FYI["<crafted-1603@sieve.test>"])
    assert.are.equal("\\Seen", filed["Auto-replies"]["<crafted-1611@sieve.test>"])
    assert.is_nil(filed.Big["<crafted-1611@sieve.test>"])
    assert.are.equal("\\Seen", filed["Auto-replies"]["<crafted-1601@sieve.test>"])
    assert.is_nil(filed.INBOX["<crafted-1608@sieve.test>"])                    -- discarded
    assert.is_nil(filed.Big["<crafted-1609@sieve.test>"])                      -- 20000 is not over 20000
    assert.are.equal("", filed.Big["<crafted-1610@sieve.test>"])
    assert.are.equal("$JP", filed.INBOX["<crafted-1607@sieve.test>"])
    assert.are.equal("", filed.INBOX["<crafted-1606@sieve.test>"])
    -- ... and Sieve alone did exactly what the IMAP run did.
    assert.are.same(filed, sieved)

    -- The IMAP run over mail Sieve filed finds nothing left to change.
    code, _, err = run("alice", "alice-secret", rules)
    assert.are.equal(0, code, err)
    assert.are.same(sieved, all_state("alice"))

    -- A rule that counted first (ESEARCH, which bounds the result to the UIDs it counted)
    -- is translated from the search the script wrote.
    local counted = os.tmpname() .. ".lua"
    write(counted, slurp(rules):match("^(.-local inbox = acct.INBOX\n)") ..
      'local r = inbox:search(Q.subject "Question about")\nif #r > 0 then r:add_flags { "$Q" } end\n')
    code, out, err = run("alice", "alice-secret", "--sieve " .. counted)
    os.remove(counted)
    assert.are.equal(0, code, err)
    assert.truthy(out:find('if header :contains "Subject" "Question about" {\n  addflag "$Q";', 1, true), out)
  end)

  it("runs the examples chained by include, each installed on top of the one before", function()
    local chain = { { "sort-lists.lua", "lists" }, { "flag-vip.lua", "vip" }, { "demo.lua", "demo" } }
    for i, ex in ipairs(chain) do
      local code, _, err = run("user4", "user4-secret", "--sieve-install --name " .. ex[2] .. " examples/" .. ex[1])
      assert.are.equal(0, code, ex[1] .. ": " .. err)
      if i > 1 then assert.truthy(err:find(string.format('which runs %q first', chain[i - 1][2]), 1, true), err) end
    end
    assert.are.same({ lists = false, vip = false, demo = true }, scripts_of("user4", "user4-secret"))

    local files = make_mail(60, 23)
    deliver({ "user4", "user5" }, files)
    assert.are.equal(#files, S.count("INBOX", "user5"))
    for _, user in ipairs { "user5", "user4" } do     -- user4: the cron run after Sieve
      for _, ex in ipairs(chain) do
        local code, _, err = run(user, user .. "-secret", "examples/" .. ex[1])
        assert.are.equal(0, code, ex[1] .. ": " .. err)
      end
    end
    local filed, sieved = all_state("user5"), all_state("user4")
    assert.truthy(filed["Lists/lua-l"] and filed["Lists/dovecot"], "the lists were not filed")
    assert.is_true(has_flag(filed, "$VIP") and has_flag(filed, "$Patch"))
    assert.are.same(filed, sieved)

    -- --sieve-remove takes the top one off; the one it included is active again.
    local code, _, err = run("user4", "user4-secret", "--sieve-remove --name demo examples/demo.lua")
    assert.are.equal(0, code, err)
    assert.truthy(err:find('removed Sieve script "demo"; "vip" is active again', 1, true), err)
    assert.are.same({ lists = false, vip = true }, scripts_of("user4", "user4-secret"))
  end)

  it("says which rules of the other examples stay with IMAP, and why", function()
    local code, out, err = run("user6", "user6-secret", "--sieve examples/out-of-office.lua")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("mark_seen, move_to Auto%-replies +IMAP only: match Subject: "), out)
    code, _, err = run("user6", "user6-secret", "--sieve-install examples/out-of-office.lua")
    assert.are.equal(1, code, err)
    assert.truthy(err:find("no rule of INBOX can run at delivery: nothing installed", 1, true), err)
    -- No rule of INBOX at all: nothing to ask the server.
    code, out, err = run("user6", "user6-secret", "--sieve examples/purge-trash.lua")
    assert.are.equal(1, code, err)
    assert.truthy(err:find("the script acts on no INBOX: there are no rules for Sieve", 1, true), err)
    assert.are.equal("", out)
    -- Options that do not go together.
    code, _, err = run("user6", "user6-secret", "--name x examples/flag-vip.lua")
    assert.are.equal(2, code, err)
    assert.truthy(err:find("--name goes with --sieve", 1, true), err)
    code, _, err = run("user6", "user6-secret", "--sieve --sieve-remove examples/flag-vip.lua")
    assert.are.equal(2, code, err)
    assert.are.same({}, scripts_of("user6", "user6-secret"))
  end)

  it("gives clear errors: a wrong password, a script the server rejects, a quota on scripts", function()
    local rules = os.tmpname() .. ".lua"
    local function rules_with(dest)
      write(rules, string.format([[
local acct = imap.account { host = os.getenv "IMAP_HOST", port = tonumber(os.getenv "IMAP_PORT"),
  ca_file = os.getenv "IMAP_CA", user = os.getenv "IMAP_USER", password = imap.env "IMAP_PASSWORD",
  sieve_port = tonumber(os.getenv "SIEVE_PORT") }
acct.INBOX:search(imap.query.from "x"):move_to(acct[%q])
]], dest))
    end
    rules_with("Elsewhere")
    local code, out, err = run("user6", "no-such-password", "--sieve-install " .. S.shquote(rules))
    assert.are.equal(4, code, err)
    assert.truthy(err:find("user6@127.0.0.1 (ManageSieve): authentication failed", 1, true), err)
    assert.falsy((out .. err):find("no-such-password", 1, true))

    rules_with("Bad\255name")
    code, _, err = run("user6", "user6-secret", "--sieve-install " .. S.shquote(rules))
    assert.are.equal(1, code, err)
    assert.truthy(err:find("CHECKSCRIPT:\nline %d+: error: fileinto command: invalid folder name"), err)
    assert.truthy(err:find("The server rejects the translated script; the rules stay with the IMAP run.", 1, true), err)
    assert.are.same({}, scripts_of("user6", "user6-secret"))

    -- The bed allows 20 scripts per user.
    local ms = managesieve("user6", "user6-secret")
    for i = 1, 20 do assert(ms:put("other" .. i, "keep;\n")) end
    ms:logout()
    rules_with("Elsewhere")
    code, _, err = run("user6", "user6-secret", "--sieve-install " .. S.shquote(rules))
    assert.are.equal(1, code, err)
    assert.truthy(err:find("PUTSCRIPT imapscript: [QUOTA/MAXSCRIPTS]", 1, true), err)
    assert.truthy(err:find("install over it with --name", 1, true), err)
    code, _, err = run("user6", "user6-secret", "--sieve-install --name other3 " .. S.shquote(rules))
    assert.are.equal(0, code, err)

    -- A script that fails installs nothing: only the rules before the error were recorded.
    ms = managesieve("user6", "user6-secret")
    assert(ms:delete("other1"))
    ms:logout()
    write(rules, slurp(rules) .. 'error("rules.lua is broken")\n')
    code, _, err = run("user6", "user6-secret", "--sieve-install " .. S.shquote(rules))
    assert.are.equal(1, code, err)
    assert.truthy(err:find("rules.lua is broken", 1, true), err)
    assert.truthy(err:find("the script failed: no Sieve script translated, installed or removed", 1, true), err)
    assert.is_nil(scripts_of("user6", "user6-secret").imapscript)
    os.remove(rules)
  end)
end)

describe("ManageSieve logins", function()
  -- --sieve for a one-rule script as `account` says (Lua fields); returns code, stderr, trace.
  local function sieve_as(account)
    local path, trace = os.tmpname() .. ".lua", os.tmpname()
    write(path, string.format('local a = imap.account { host = %q, port = %s, ca_file = %q, sieve_port = %s, %s }\n' ..
      'a.INBOX:search(imap.query.from "x"):move_to(a.X)\n', HOST, PORT, CA, SPORT, account))
    local out, err = os.tmpname(), os.tmpname()
    local _, _, code = os.execute(string.format("%s --trace %s --sieve %s >%s 2>%s </dev/null", IMAPSCRIPT,
      S.shquote(trace), S.shquote(path), out, err))
    local e, t = slurp(err), slurp(trace)
    for _, p in ipairs { path, trace, out, err } do os.remove(p) end
    return code, e, t
  end

  it("use SCRAM with a server that keeps only a hash, checking its proof", function()
    local code, err, trace = sieve_as(string.format('user = %q, password = %q', S.env("TESTBED_SCRAM_USER"),
      S.env("TESTBED_SCRAM_PASSWORD")))
    assert.are.equal(0, code, err)
    assert.truthy(trace:find('C: AUTHENTICATE "SCRAM-SHA-256" "***"', 1, true), trace)
    assert.truthy(trace:find("C: STARTTLS", 1, true), trace)
    assert.falsy(trace:find(S.env("TESTBED_SCRAM_PASSWORD"), 1, true))
  end)

  it("log in with the account's OAuth2 token", function()
    local code, err, trace = sieve_as('user = "alice", oauth2 = "static-token-alice"')
    assert.are.equal(0, code, err)
    assert.truthy(trace:find('C: AUTHENTICATE "OAUTHBEARER" "***"', 1, true), trace)
    assert.falsy(trace:find("static-token-alice", 1, true))
    code, err = sieve_as('user = "alice", oauth2 = "forged-token-1"')
    assert.are.equal(4, code, err)
    assert.truthy(err:find("alice@127.0.0.1 (ManageSieve): authentication failed", 1, true), err)
    assert.falsy(err:find("forged-token-1", 1, true))
  end)
end)

describe("ManageSieve against a scripted fake server", function()
  -- Runs --sieve for a one-rule script whose ManageSieve server is build/fakeimap playing
  -- `script`; returns exit code, stderr, what the client sent.
  local function against(script, tls)
    local base = os.tmpname()
    write(base .. ".ms", script)
    local fake = assert(io.popen("build/fakeimap " .. S.shquote(base .. ".ms") .. " 2>/dev/null"))
    local port = tonumber((fake:read("l") or ""):match("^PORT (%d+)$"))
    write(base .. ".lua", string.format('local a = imap.account { host = "127.0.0.1", tls = %q, ' ..
      'user = "u", password = "p", sieve_port = %d }\na.INBOX:search(imap.query.from "x"):move_to(a.X)\n',
      tls or "none", port))
    local out, err = os.tmpname(), os.tmpname()
    local _, _, code = os.execute(string.format("%s --sieve %s >%s 2>%s </dev/null", IMAPSCRIPT,
      S.shquote(base .. ".lua"), out, err))
    fake:close()
    local e, sent = slurp(err), slurp(base .. ".ms.log")
    for _, p in ipairs { base, base .. ".ms", base .. ".lua", base .. ".ms.log", out, err } do os.remove(p) end
    return code, e, sent
  end

  it("refuses a SCRAM login the server accepts without proving it knows the password", function()
    local code, err, sent = against('S: "SASL" "SCRAM-SHA-256 PLAIN"\nS: OK "ready"\nC: *\nS: OK "Logged in."\n')
    assert.are.equal(4, code, err)
    assert.truthy(err:find("without completing the exchange (no server signature)", 1, true), err)
    assert.truthy(sent:find('^AUTHENTICATE "SCRAM%-SHA%-256" "'), sent)
    assert.falsy(sent:find("CAPABILITY", 1, true), sent)
  end)

  it("refuses a server's final SASL data that does not check out", function()
    local code, err = against('S: "SASL" "SCRAM-SHA-256"\nS: OK "ready"\nC: *\nS: OK (SASL "dj1ub3RoaXM=") "Logged in."\n')
    assert.are.equal(4, code, err)
    assert.truthy(err:find("AUTHENTICATE SCRAM-SHA-256: SCRAM-SHA-256: ", 1, true), err)
  end)

  it("sends no password when STARTTLS goes wrong", function()
    -- Refused, or a reply with more after it (sent before TLS: not to be trusted).
    local code, err, sent = against('S: "SASL" "PLAIN"\nS: "STARTTLS"\nS: OK "ready"\nC: *\n' ..
      'S: NO "not now"\n', "starttls")
    assert.are.equal(3, code, err)
    assert.truthy(err:find("STARTTLS refused: not now", 1, true), err)
    assert.falsy(sent:find("AUTHENTICATE", 1, true), sent)
    code, err, sent = against('S: "SASL" "PLAIN"\nS: "STARTTLS"\nS: OK "ready"\nC: *\n' ..
      'S: OK "go"\nS: "SASL" "PLAIN"\n', "starttls")
    assert.are.equal(3, code, err)
    assert.falsy(sent:find("AUTHENTICATE", 1, true), sent)
    code, err, sent = against('S: "SASL" "PLAIN"\nS: OK "ready"\n', "starttls")
    assert.are.equal(3, code, err)
    assert.truthy(err:find("does not offer STARTTLS; refusing to continue in plaintext", 1, true), err)
    assert.are.equal("", sent)
  end)

  it("names garbage and a hang-up for what they are", function()
    local code, err = against("S: * OK [CAPABILITY IMAP4rev1] an IMAP server\n")
    assert.are.equal(3, code, err)
    assert.truthy(err:find('greeting: a capability line that is not "NAME" ["value"]', 1, true), err)
    code, err = against('S: "SASL" "PLAIN"\nS: OK "ready"\nC: *\nS: OK {99999999999}\n')
    assert.are.equal(3, code, err)
    assert.truthy(err:find("unreadable reply from the server: literal too large", 1, true), err)
    code, err = against('S: "SASL" "PLAIN"\nS: OK "ready"\nC: *\nS: BYE "shutting down"\n')
    assert.are.equal(3, code, err)
    assert.truthy(err:find('the server closed the connection (BYE shutting down)', 1, true), err)
  end)
end)
