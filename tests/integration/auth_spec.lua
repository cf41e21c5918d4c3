-- Logging in every way there is, against Dovecot with every mechanism on and build/fakeoauth
-- as its OAuth2 provider (auth_spec.testbed: scripts/testbed start --sasl --oauth2); and
-- against build/fakeimap for servers that would take a password in clear.
local S = require "tests.integration.support"

local env = S.env
local q = S.shquote

local slurp = S.slurp

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function count(text, pattern)
  local n = 0
  for _ in text:gmatch(pattern) do n = n + 1 end
  return n
end

local function calls() return slurp(env("TESTBED_OAUTH_CALLS")) end

-- A private state directory per test: the token cache lives there.
local state
before_each(function()
  state = S.tmpdir()
end)
after_each(function() os.execute("rm -rf " .. q(state)) end)

-- Runs build/imapscript with args and XDG_STATE_HOME set to our state directory (plus
-- run_env); returns the exit code, stdout and stderr.
local run_env = ""
local function run(args)
  local prefix = "env XDG_STATE_HOME=" .. q(state) .. " " .. run_env .. " " ..
    (os.getenv("IMAPSCRIPT") or "build/imapscript")
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(prefix .. " " .. args .. " >" .. out .. " 2>" .. err .. " </dev/null")
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  return code, o, e
end

-- Account fields refreshing tokens at fakeoauth with refresh token $RT.
local function refreshing(rt, client)
  return string.format('user = "alice", oauth2 = { token_url = %q, ca_file = %q, client_id = %q, ' ..
    'refresh_token = imap.env "RT", client_secret = "fake-client-secret" }',
    env("TESTBED_OAUTH_HTTPS") .. "/token", env("TESTBED_CA"), client or "app1"), rt
end

local made = 0
--- Runs a script logging in with `fields` (Lua source for the account table, after host,
--- port and ca_file) that creates a mailbox; returns the exit code, stderr, the wire trace
--- and the mailbox's name (which exists afterwards only if the login worked).
local function login(fields, envs)
  made = made + 1
  local box = "Made" .. made
  local path = os.tmpname() .. ".lua"
  write(path, string.format("local acct = imap.account { host = %q, port = %s, ca_file = %q, %s }\n" ..
    "acct:create(%q)\n", env("TESTBED_HOST"), env("TESTBED_TLS_PORT"), env("TESTBED_CA"), fields, box))
  local trace = path .. ".trace"
  local code, _, err = run(string.format("--trace %s %s", q(trace), q(path)))
  local t = slurp(trace)
  os.remove(path)
  os.remove(trace)
  return code, err, t, box
end

describe("password logins", function()
  local methods = {
    { "scram-sha-256", "AUTHENTICATE SCRAM-SHA-256" }, { "scram-sha-1", "AUTHENTICATE SCRAM-SHA-1" },
    { "cram-md5", "AUTHENTICATE CRAM-MD5" }, { "plain", "AUTHENTICATE PLAIN" },
    { "authenticate-login", "AUTHENTICATE LOGIN" }, { "login", "LOGIN alice ***" },
  }
  for _, m in ipairs(methods) do
    it(m[1] .. " logs in, and a wrong password is exit 4 without the password anywhere", function()
      local code, err, trace, box = login(string.format('user = "alice", password = %q, auth = %q',
        env("TESTBED_PASSWORD"), m[1]))
      assert.are.equal(0, code, err)
      assert.truthy(S.exists(box), err)
      assert.truthy(trace:find("C: A1 " .. m[2], 1, true), trace)
      assert.falsy(trace:find(env("TESTBED_PASSWORD"), 1, true))
      code, err, trace, box = login(string.format('user = "alice", password = "Wr0ng-%s", auth = %q',
        m[1], m[1]))
      assert.are.equal(4, code, err)
      assert.truthy(err:find("authentication failed", 1, true), err)
      assert.falsy(S.exists(box))
      assert.falsy((err .. trace):find("Wr0ng", 1, true), err .. trace)
    end)
  end

  it("auto picks SCRAM-SHA-256; a server keeping only a SCRAM or CRAM-MD5 hash verifies it", function()
    local code, err, trace, box = login(string.format('user = %q, password = %q',
      env("TESTBED_SCRAM_USER"), env("TESTBED_SCRAM_PASSWORD")))
    assert.are.equal(0, code, err)
    assert.truthy(trace:find("C: A1 AUTHENTICATE SCRAM-SHA-256 ***", 1, true), trace)
    assert.truthy(S.exists(box, env("TESTBED_SCRAM_USER")))
    code, err, _, box = login(string.format('user = %q, password = %q, auth = "cram-md5"',
      env("TESTBED_CRAM_USER"), env("TESTBED_CRAM_PASSWORD")))
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box, env("TESTBED_CRAM_USER")))
    -- auto: SCRAM cannot be checked against a CRAM-MD5 hash; PLAIN (over TLS) gets one try.
    code, err, trace, box = login(string.format('user = %q, password = %q',
      env("TESTBED_CRAM_USER"), env("TESTBED_CRAM_PASSWORD")))
    assert.are.equal(0, code, err)
    assert.truthy(err:find("the server refused scram-sha-256; trying plain", 1, true), err)
    assert.truthy(trace:find("C: A2 AUTHENTICATE PLAIN ***", 1, true), trace)
    assert.truthy(S.exists(box, env("TESTBED_CRAM_USER")))
  end)

  it("a list of methods is tried in order, skipping those without their credential", function()
    local code, err, trace = login(string.format(
      'user = "alice", password = %q, auth = { "xoauth2", "cram-md5", "plain" }', env("TESTBED_PASSWORD")))
    assert.are.equal(0, code, err)
    assert.truthy(trace:find("C: A1 AUTHENTICATE CRAM-MD5", 1, true), trace)
    assert.falsy(trace:find("AUTHENTICATE XOAUTH2", 1, true), trace)
  end)
end)

describe("OAuth2 bearer tokens", function()
  it("log in with XOAUTH2 (a string) and OAUTHBEARER (imap.command); a bad token is exit 4", function()
    local code, err, trace, box = login('user = "alice", oauth2 = "static-token-alice", auth = "xoauth2"')
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box))
    assert.truthy(trace:find("C: A1 AUTHENTICATE XOAUTH2 ***", 1, true), trace)
    assert.falsy(trace:find("static-token", 1, true), trace)
    code, err, trace, box = login('user = "alice", oauth2 = imap.command "echo static-token-alice"')
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box))
    assert.truthy(trace:find("C: A1 AUTHENTICATE OAUTHBEARER ***", 1, true), trace)
    code, err, trace = login('user = "alice", oauth2 = "forged-token-123"')
    assert.are.equal(4, code, err)
    assert.truthy(err:find("invalid_token", 1, true), err)       -- the server's report
    assert.falsy((err .. trace):find("forged-token-123", 1, true), err .. trace)
  end)

  it("refreshes once, and a second run within the token's life costs no refresh", function()
    local fields, rt = refreshing("rt-alice")
    run_env = "RT=" .. rt
    local before = count(calls(), "refresh_token client=app1 secret=ok")
    local code, err, _, box = login(fields)
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box))
    code, err, _, box = login(fields)
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box))
    assert.are.equal(before + 1, count(calls(), "refresh_token client=app1 secret=ok"))
    local p = io.popen("stat -c %a " .. q(state) .. "/imapscript/oauth2-alice-*.token")
    assert.are.equal("600", p:read("l"))
    p:close()
  end)

  it("a cached token the server refuses is refreshed once, then the login works", function()
    local fields, rt = refreshing("rt-alice")
    run_env = "RT=" .. rt
    assert.are.equal(0, (login(fields)))
    local p = io.popen("ls " .. q(state) .. "/imapscript/oauth2-alice-*.token")
    local path = p:read("l")
    p:close()
    -- Revoked before its time: the cache still believes in it.
    local text = slurp(path):gsub("access_token=[^\n]*", "access_token=at-revoked-early")
    write(path, text)
    local before = count(calls(), "refresh_token")
    local code, err, _, box = login(fields)
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box))
    assert.are.equal(before + 1, count(calls(), "refresh_token"))
    assert.falsy(slurp(path):find("at-revoked-early", 1, true))
  end)

  it("a revoked refresh token is exit 4 with the provider's words and no secret", function()
    local fields, rt = refreshing("rt-revoked-by-user")
    run_env = "RT=" .. rt
    local code, err = login(fields)
    assert.are.equal(4, code, err)
    assert.truthy(err:find("invalid_grant: Token has been expired or revoked.", 1, true), err)
    assert.truthy(err:find("--oauth2-authorize", 1, true), err)
    assert.falsy(err:find("rt-revoked-by-user", 1, true), err)
    assert.falsy(err:find("fake-client-secret", 1, true), err)
  end)
end)

describe("imapscript --oauth2-authorize", function()
  local function authorize(args)
    local base = os.tmpname()
    local cmd = string.format("(env XDG_STATE_HOME=%s IMAPSCRIPT_CLIENT_SECRET=fake-client-secret %s " ..
      "--oauth2-authorize fake --client-id app1 --scope mail --token-url %s --ca-file %s %s " ..
      ">%s.out 2>%s.err </dev/null; echo $? >%s.rc) &", q(state),
      os.getenv("IMAPSCRIPT") or "build/imapscript", q(env("TESTBED_OAUTH_HTTPS") .. "/token"),
      q(env("TESTBED_CA")), args, base, base, base)
    assert(os.execute(cmd))
    return base
  end
  local function wait_for(path, pattern)
    for _ = 1, 300 do
      local got = slurp(path):match(pattern)
      if got then return got end
      os.execute("sleep 0.05")
    end
    error("timed out waiting for " .. pattern .. " in " .. path .. ": " .. slurp(path))
  end

  it("runs the code flow with PKCE and a loopback redirect; its refresh token then logs in", function()
    local base = authorize("--print --timeout 30 --auth-url " .. q(env("TESTBED_OAUTH_HTTP") .. "/authorize"))
    local url = wait_for(base .. ".err", "(http://127%.0%.0%.1:%d+/authorize%?%S+)")
    assert.truthy(url:find("code_challenge_method=S256", 1, true), url)
    local p = io.popen("build/fakeoauth browse " .. q(url) .. " 2>&1")
    local page = p:read("a")
    p:close()
    assert.truthy(page:find("close this window", 1, true), page)
    assert.are.equal("0", wait_for(base .. ".rc", "^(%d+)"), slurp(base .. ".err"))
    local rt = slurp(base .. ".out"):match("^(%S+)\n$")
    assert.truthy(rt, slurp(base .. ".out"))
    assert.truthy(calls():find("authorization_code client=app1 secret=ok pkce=ok", 1, true), calls())
    assert.falsy((slurp(base .. ".err") .. slurp(base .. ".out")):find("fake-client-secret", 1, true))
    local fields = refreshing(rt)
    run_env = "RT=" .. rt
    local code, err, _, box = login(fields)
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box))
    for _, x in ipairs { ".out", ".err", ".rc", "" } do os.remove(base .. x) end
  end)

  it("runs the device flow through authorization_pending into a 0600 file", function()
    local base = authorize("--device --user alice --device-url " .. q(env("TESTBED_OAUTH_HTTPS") .. "/device"))
    assert.are.equal("0", wait_for(base .. ".rc", "^(%d+)"), slurp(base .. ".err"))
    assert.truthy(slurp(base .. ".err"):find("To sign in, visit", 1, true))
    local path = state .. "/imapscript/fake-alice.refresh-token"
    assert.truthy(slurp(path):match("^rt%-alice%-%d+\n$"), slurp(path))
    local p = io.popen("stat -c %a " .. q(path))
    assert.are.equal("600", p:read("l"))
    p:close()
    assert.truthy(count(calls(), "device_code client=app1 secret=ok") >= 2, calls())
    for _, x in ipairs { ".out", ".err", ".rc", "" } do os.remove(base .. x) end
  end)
end)

describe("rotating refresh tokens", function()
  it("keeps the newest one the provider gives and refreshes with it", function()
    local fields, rt = refreshing("rt-alice", "app-rotate")
    run_env = "RT=" .. rt
    assert.are.equal(0, (login(fields)))
    local p = io.popen("ls " .. q(state) .. "/imapscript/oauth2-alice-*.token")
    local path = p:read("l")
    p:close()
    assert.truthy(slurp(path):find("refresh_token=rt-alice-rotated-", 1, true))
    write(path, (slurp(path):gsub("expires_at=%d+", "expires_at=0")))
    local code, err, _, box = login(fields)     -- rt-alice is revoked now: the rotated one works
    assert.are.equal(0, code, err)
    assert.truthy(S.exists(box))
  end)
end)

describe("no secret in clear", function()
  local function against(script, fields, host)
    local base = os.tmpname()
    write(base .. ".imap", script)
    local fake = assert(io.popen("build/fakeimap " .. q(base .. ".imap") .. " 2>" .. q(base .. ".ferr")))
    local port = tonumber((fake:read("l") or ""):match("^PORT (%d+)$"))
    write(base .. ".lua", string.format('local a = imap.account { host = %q, port = %d, tls = "none", ' ..
      'user = "u", %s }\nprint(a.INBOX:count())\n', host or "127.0.0.1", port, fields))
    local code, _, err = run(q(base .. ".lua"))
    fake:close()
    local log = slurp(base .. ".imap.log")
    for _, x in ipairs { "", ".imap", ".imap.log", ".ferr", ".lua" } do os.remove(base .. x) end
    return code, err, log
  end
  local pw = "S3cret-Pa55-xyz"
  local b64 = "AHUAUzNjcmV0LVBhNTUteHl6"   -- base64("\0u\0S3cret-Pa55-xyz")

  it("never sends the password to a server saying LOGINDISABLED without TLS", function()
    local code, err, log = against("S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR] hi\n",
      string.format("password = %q", pw))
    assert.are.equal(4, code, err)
    assert.truthy(err:find("LOGINDISABLED", 1, true), err)
    assert.falsy(log:find(pw, 1, true) or log:find(b64, 1, true), log)
    assert.falsy(log:find("AUTHENTICATE", 1, true) or log:find("LOGIN", 1, true), log)
    -- Tokens alike.
    code, err, log = against("S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=XOAUTH2 SASL-IR] hi\n",
      'oauth2 = "tok-en-123"')
    assert.are.equal(4, code, err)
    assert.falsy(log:find("AUTHENTICATE", 1, true), log)
  end)

  it("sends it, with a warning, when the account says allow_plaintext", function()
    local code, err, log = against([[
S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR] hi
C: AUTHENTICATE PLAIN *
S: $TAG NO [AUTHENTICATIONFAILED] nope
]], string.format("password = %q, allow_plaintext = true", pw))
    assert.are.equal(4, code, err)
    assert.truthy(err:find("sending the password in clear", 1, true), err)
    assert.truthy(log:find("AUTHENTICATE PLAIN " .. b64, 1, true), log)
  end)

  it("answers the server's empty challenge when there is no SASL-IR (XOAUTH2 bytes exact)", function()
    local code, err, log = against([[
S: * OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] hi
C: AUTHENTICATE XOAUTH2
S: +
C: *
S: A1 OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] in
C: STATUS INBOX *
S: * STATUS INBOX (MESSAGES 7)
S: A2 OK done
C: LOGOUT
S: * BYE bye
S: A3 OK done
]], 'oauth2 = "tok-123"')
    assert.are.equal(0, code, err .. log)
    assert.truthy(log:find("A1 AUTHENTICATE XOAUTH2\ndXNlcj11AWF1dGg9QmVhcmVyIHRvay0xMjMBAQ==\n", 1, true),
      log)
  end)

  it("refuses cleartext to a host that is not loopback, but not SCRAM", function()
    -- 0.0.0.0 reaches this machine, but is not a loopback name.
    local code, err, log = against("S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\n",
      string.format("password = %q", pw), "0.0.0.0")
    assert.are.equal(4, code, err)
    assert.truthy(err:find("host is not loopback", 1, true), err)
    assert.falsy(log:find("AUTHENTICATE", 1, true) or log:find("LOGIN", 1, true), log)
    code, err, log = against([[
S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=SCRAM-SHA-256 SASL-IR] hi
C: AUTHENTICATE SCRAM-SHA-256 *
S: $TAG NO no
]], string.format("password = %q", pw), "0.0.0.0")
    assert.are.equal(4, code, err)
    assert.truthy(log:find("AUTHENTICATE SCRAM-SHA-256 ", 1, true), log)
    assert.falsy(log:find(pw, 1, true), log)
  end)
end)

describe("imapfilter configs", function()
  it("log in with XOAUTH2 when IMAP{} has oauth2", function()
    local path = os.tmpname() .. ".lua"
    write(path, string.format("local a = IMAP { server = %q, port = %s, ssl = 'auto', " ..
      "username = 'alice', oauth2 = 'static-token-alice', ca_file = %q }\n" ..
      "a:create_mailbox('FromImapfilter')\n", env("TESTBED_HOST"), env("TESTBED_TLS_PORT"),
      env("TESTBED_CA")))
    local code, _, err = run("--imapfilter --trace " .. q(path .. ".trace") .. " " .. q(path))
    local trace = slurp(path .. ".trace")
    os.remove(path)
    os.remove(path .. ".trace")
    assert.are.equal(0, code, err)
    assert.truthy(S.exists("FromImapfilter"), err)
    assert.truthy(trace:find("C: A1 AUTHENTICATE XOAUTH2 ***", 1, true), trace)
  end)
end)
