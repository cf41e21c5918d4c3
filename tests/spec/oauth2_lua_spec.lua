-- oauth2.lua and the bindings it stands on, without a server: PKCE's hash (RFC 7636's own
-- example), strict JSON, redaction, the checks on an account's oauth2 and auth settings.
local core = require "imapscript.core"
local oauth2 = require "imapscript.oauth2"
local account = require "imapscript.account"

describe("the OAuth2 helpers of the core", function()
  it("computes RFC 7636's S256 challenge, and random verifiers differ", function()
    assert.are.equal("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      core.base64url(core.sha256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")))
    local a, b = core.base64url(core.random_bytes(32)), core.base64url(core.random_bytes(32))
    assert.are.equal(43, #a)
    assert.are_not.equal(a, b)
    assert.falsy(a:find("[+/=]"))
  end)

  it("decodes JSON strictly", function()
    local v = core.json_decode('{"access_token":"x\\u00e9","expires_in":3599,"n":null,"a":[1,true]}')
    assert.are.equal("x\xc3\xa9", v.access_token)
    assert.are.equal(3599, v.expires_in)
    assert.is_nil(v.n)
    assert.are.same({ 1, true }, v.a)
    for _, bad in ipairs { '{"a":1} trailing', '{"a":1,"a":2}', "{'a':1}", '{"a":01}', "" } do
      local got, err = core.json_decode(bad)
      assert.is_nil(got, bad)
      assert.truthy(err:find("line %d+ column"), err)
    end
  end)

  it("posts only over https", function()
    local status, err = core.http_post("http://127.0.0.1:1/token", { a = "b" })
    assert.is_nil(status)
    assert.are.equal("usage", err.kind)
  end)
end)

describe("oauth2.lua", function()
  it("redacts every secret from a provider's text", function()
    assert.are.equal("bad token *** for *** x", oauth2.redact("bad token rt-123456 for s3cr3t\nx",
      { "rt-123456", "s3cr3t" }))
  end)

  it("knows Google's and Microsoft's endpoints, with the tenant", function()
    local g = oauth2.endpoints("google")
    assert.are.equal("https://oauth2.googleapis.com/token", g.token_url)
    assert.are.equal("https://mail.google.com/", g.scope)
    local m = oauth2.endpoints("microsoft", { tenant = "contoso.onmicrosoft.com" })
    assert.are.equal("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
      m.token_url)
    assert.are.equal("https://outlook.office.com/IMAP.AccessAsUser.All offline_access", m.scope)
    assert.truthy(m.send_scope)
  end)

  it("refuses a malformed oauth2 setting when the account is made", function()
    local function made(o) return pcall(account.new, { host = "h", user = "u", oauth2 = o }) end
    assert.truthy(made("a-token"))
    assert.truthy(made { provider = "google", client_id = "c", refresh_token = "r" })
    for _, bad in ipairs {
      { provider = "google", client_id = "c" },                              -- no refresh token
      { provider = "yahoo", client_id = "c", refresh_token = "r" },          -- unknown provider
      { client_id = "c", refresh_token = "r" },                              -- no endpoint
      { provider = "google", client_id = "c", refresh_token = "r", colour = "red" },
      { provider = "google", client_id = 5, refresh_token = "r" },
      42,
    } do
      local ok, err = made(bad)
      assert.falsy(ok)
      assert.are.equal("usage", err.kind)
    end
    account.all = {}
  end)

  it("refuses an unknown login method before connecting", function()
    local ok, err = pcall(core.connect, { host = "127.0.0.1", port = 1, user = "u", password = "p",
      auth = { "scram-sha-256", "digest-md5" } })
    assert.falsy(ok)
    assert.are.equal("usage", err.kind)
    assert.truthy(err.message:find("digest-md5", 1, true))
  end)
end)
