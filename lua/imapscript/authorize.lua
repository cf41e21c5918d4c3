-- authorize.lua — imapscript --oauth2-authorize: the first authorization at an OAuth2
-- provider (authorization code with PKCE and a loopback redirect, or the device flow),
-- leaving the refresh token in a 0600 file or on stdout for a password manager.
local core = require "imapscript.core"
local oauth2 = require "imapscript.oauth2"
local paths = require "imapscript.paths"

local M = {}

M.usage = [[
usage: imapscript --oauth2-authorize PROVIDER --client-id ID [options]
PROVIDER is google, microsoft, or a name of your choice with --auth-url and --token-url.
  --client-id ID           the application's client id
  --client-secret-file F   read the client secret from the first line of F ("-": stdin);
                           also $IMAPSCRIPT_CLIENT_SECRET. --client-secret S works but shows
                           S to other users in ps while imapscript starts
  --scope S                instead of the provider's (google: https://mail.google.com/,
                           microsoft: https://outlook.office.com/IMAP.AccessAsUser.All
                           offline_access)
  --user NAME              the mailbox to authorize (a hint to the provider; names the file)
  --tenant T               microsoft: the directory (default common)
  --device                 the device-code flow (microsoft; others need --device-url)
  --auth-url URL --token-url URL --device-url URL
                           the endpoints of another provider
  --ca-file F              PEM CAs to trust for the token endpoint instead of the system's
  --output F               where to write the refresh token (mode 0600); default
                           $XDG_STATE_HOME/imapscript/PROVIDER[-USER].refresh-token
  --print                  print the refresh token on stdout instead (for pass insert -m)
  --timeout SECONDS        how long to wait for the browser or the device (default 300)
]]

local function fail(kind, msg) error(core.error(kind, msg), 0) end

local function say(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

local function url_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function url_unescape(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function query_encode(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = url_escape(k) .. "=" .. url_escape(t[k]) end
  return table.concat(out, "&")
end

local function query_decode(q)
  local t = {}
  for k, v in q:gmatch("([^&=]+)=([^&]*)") do t[url_unescape(k)] = url_unescape(v) end
  return t
end

-- Options: {flag = true} for switches, else the next argument.
local switches = { device = true, print = true }
local valued = {
  ["client-id"] = true, ["client-secret"] = true, ["client-secret-file"] = true, scope = true,
  user = true, tenant = true, ["auth-url"] = true, ["token-url"] = true, ["device-url"] = true,
  ["ca-file"] = true, output = true, timeout = true,
}

local function parse(args)
  local o = { provider = args[1] }
  if not o.provider or o.provider:sub(1, 1) == "-" then return nil, "--oauth2-authorize wants a PROVIDER" end
  local i = 2
  while i <= #args do
    local name = args[i]:match("^%-%-(.+)$")
    if name and switches[name] then
      o[name] = true
    elseif name and valued[name] then
      if not args[i + 1] then return nil, "option --" .. name .. " needs an argument" end
      o[name] = args[i + 1]
      i = i + 1
    else
      return nil, "unknown option " .. args[i]
    end
    i = i + 1
  end
  if not o["client-id"] then return nil, "--client-id is required" end
  o.timeout = tonumber(o.timeout or 300)
  if not o.timeout or o.timeout <= 0 then return nil, "--timeout wants a positive number" end
  return o
end

local function client_secret(o)
  local f = o["client-secret-file"]
  if f then
    local h = f == "-" and io.stdin or io.open(f)
    if not h then fail("usage", "--client-secret-file: cannot read " .. f) end
    local s = h:read("l")
    if h ~= io.stdin then h:close() end
    if not s or s == "" then fail("usage", "--client-secret-file: " .. f .. " is empty") end
    return s
  end
  local env = os.getenv("IMAPSCRIPT_CLIENT_SECRET")
  if env and env ~= "" then return env end
  return o["client-secret"]
end

-- A token endpoint answer must bring a refresh token.
local function need_refresh_token(doc, provider)
  if oauth2.token_ok(doc.refresh_token) then return doc.refresh_token end
  fail("auth", "the provider answered without a refresh token" .. (provider == "microsoft" and
    " (the scope needs offline_access)" or " (revoke the application's access and authorize again)"))
end

local function code_flow(o, ep, secret, secrets)
  if not ep.auth_url then fail("usage", "no authorization endpoint: give --auth-url") end
  local verifier = core.base64url(core.random_bytes(32))
  local state = core.base64url(core.random_bytes(16))
  local listener <close>, err = core.redirect_listen()
  if not listener then fail("network", err) end
  local redirect = string.format("http://127.0.0.1:%d/", listener:port())
  local q = {
    response_type = "code", client_id = o["client-id"], redirect_uri = redirect,
    state = state, code_challenge = core.base64url(core.sha256(verifier)),
    code_challenge_method = "S256", scope = ep.scope,
  }
  if o.provider == "google" then q.access_type, q.prompt = "offline", "consent" end
  if o.user then q.login_hint = o.user end
  local url = ep.auth_url .. (ep.auth_url:find("?", 1, true) and "&" or "?") .. query_encode(q)
  say("Open this address in a browser on this machine and allow access:\n\n  %s\n", url)
  say("Waiting up to %d s for the browser to come back to %s ...", o.timeout, redirect)
  local page = "<!doctype html><title>imapscript</title><p>imapscript got the provider's answer. " ..
    "You can close this window and go back to the terminal.</p>"
  local query, why = listener:wait("/", o.timeout, page)
  if not query then
    fail("network", why == "timeout" and "no answer from the browser in time" or why)
  end
  local got = query_decode(query)
  if got.state ~= state then fail("auth", "the redirect's state does not match: not our request") end
  if got.error then
    fail("auth", string.format("the provider refused: %s%s", oauth2.redact(got.error, secrets),
      got.error_description and (": " .. oauth2.redact(got.error_description, secrets)) or ""))
  end
  if not got.code or got.code == "" then fail("auth", "the redirect holds no code") end
  secrets[#secrets + 1] = got.code
  local doc, e = oauth2.request(ep.token_url, {
    grant_type = "authorization_code", code = got.code, redirect_uri = redirect,
    client_id = o["client-id"], client_secret = secret, code_verifier = verifier,
  }, o["ca-file"], "token request at " .. ep.token_url, secrets)
  if not doc then error(e, 0) end
  return need_refresh_token(doc, o.provider)
end

local function device_flow(o, ep, secret, secrets)
  if not ep.device_url then
    fail("usage", "no device authorization endpoint for " .. o.provider .. ": give --device-url")
  end
  local doc, e = oauth2.request(ep.device_url, { client_id = o["client-id"], scope = ep.scope },
    o["ca-file"], "device authorization at " .. ep.device_url, secrets)
  if not doc then error(e, 0) end
  if type(doc.device_code) ~= "string" or type(doc.user_code) ~= "string" then
    fail("network", "the device authorization answer has no device_code or user_code")
  end
  local uri = doc.verification_uri or doc.verification_url or "?"
  say("%s", type(doc.message) == "string" and doc.message or
    string.format("Open %s and enter the code %s", uri, doc.user_code))
  secrets[#secrets + 1] = doc.device_code
  local interval = math.max(1, math.tointeger(doc.interval) or 5)
  local deadline = os.time() + math.min(o.timeout, tonumber(doc.expires_in) or o.timeout)
  while os.time() < deadline do
    core.sleep(interval)
    local tok, err = oauth2.request(ep.token_url, {
      grant_type = "urn:ietf:params:oauth:grant-type:device_code", device_code = doc.device_code,
      client_id = o["client-id"], client_secret = secret,
    }, o["ca-file"], "token request at " .. ep.token_url, secrets)
    if tok then return need_refresh_token(tok, o.provider) end
    if err.oauth_error == "slow_down" then
      interval = interval + 5
    elseif err.oauth_error ~= "authorization_pending" then
      error(err, 0)
    end
  end
  fail("auth", "the device was not confirmed in time")
end

--- Runs the flow for the options after --oauth2-authorize; returns the exit code.
function M.main(args)
  if args[1] == "--help" or args[1] == "-h" then
    io.stdout:write(M.usage)
    return 0
  end
  local o, why = parse(args)
  if not o then
    io.stderr:write("imapscript: ", why, "\n", M.usage)
    return 2
  end
  local preset = oauth2.providers[o.provider]
  local ep = oauth2.endpoints(preset and o.provider or nil, {
    auth_url = o["auth-url"], token_url = o["token-url"], device_url = o["device-url"],
    scope = o.scope, tenant = o.tenant,
  })
  if not ep.token_url then
    io.stderr:write("imapscript: unknown provider ", o.provider, ": give --auth-url and --token-url\n")
    return 2
  end
  if not ep.scope then
    io.stderr:write("imapscript: give --scope for ", o.provider, "\n")
    return 2
  end
  local secret = client_secret(o)
  local secrets = { secret }
  local rt = (o.device and device_flow or code_flow)(o, ep, secret, secrets)
  if o.print then
    io.stdout:write(rt, "\n")
    io.stdout:flush()
    return 0
  end
  local path = o.output
  if not path then
    local name = o.provider .. (o.user and ("-" .. o.user) or "")
    path = paths.state_dir(true) .. "/" .. name:gsub("[^%w@%.%-_]", "_") .. ".refresh-token"
  end
  local ok, err = core.write_private(path, rt .. "\n")
  if not ok then fail("usage", "--output: " .. err) end
  say("The refresh token is in %s (mode 0600). In the account:\n" ..
      "  oauth2 = { %s, client_id = %q,%s\n" ..
      "             refresh_token = imap.command \"head -n1 %s\" },",
      path, preset and string.format("provider = %q", o.provider) or
        string.format("token_url = %q", ep.token_url), o["client-id"],
      secret and " client_secret = imap.env \"IMAPSCRIPT_CLIENT_SECRET\"," or "", path)
  return 0
end

return M
