-- oauth2.lua — OAuth2 access tokens for accounts: one given as it is (a string,
-- imap.command, imap.env), or one refreshed here at the provider's token endpoint from a
-- refresh token and cached in the state directory until shortly before it expires.
local core = require "imapscript.core"
local log = require "imapscript.log"
local paths = require "imapscript.paths"
local secret = require "imapscript.secret"
log.internal(debug.getinfo(1, "S").source)

local M = {}

-- Providers' endpoints; Microsoft's hold the tenant ("common" unless the table says).
M.providers = {
  google = {
    auth_url = "https://accounts.google.com/o/oauth2/v2/auth",
    token_url = "https://oauth2.googleapis.com/token",
    scope = "https://mail.google.com/",
  },
  microsoft = {
    auth_url = "https://login.microsoftonline.com/%s/oauth2/v2.0/authorize",
    token_url = "https://login.microsoftonline.com/%s/oauth2/v2.0/token",
    device_url = "https://login.microsoftonline.com/%s/oauth2/v2.0/devicecode",
    scope = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    refresh_scope = true,     -- its refresh requests name the scope again
  },
}

local table_keys = {
  provider = "string", client_id = "string", client_secret = "secret", refresh_token = "secret",
  token_url = "string", scope = "string", ca_file = "string", tenant = "string",
}

local function usage(msg) error(core.error("usage", msg), 0) end

--- The endpoints and scope for a provider name and explicit settings (explicit win).
function M.endpoints(provider, t)
  t = t or {}
  local p = provider and M.providers[provider]
  if provider and not p then
    usage(string.format("oauth2: unknown provider %q (google, microsoft, or give token_url)", provider))
  end
  p = p or {}
  local tenant = t.tenant or "common"
  local function url(u) return u and u:format(tenant) end
  return {
    auth_url = t.auth_url or url(p.auth_url), token_url = t.token_url or url(p.token_url),
    device_url = t.device_url or url(p.device_url), scope = t.scope or p.scope,
    send_scope = t.scope ~= nil or p.refresh_scope,
  }
end

--- Checks an account's `oauth2` setting when the account is made.
function M.check(v, label)
  if type(v) == "string" or secret.is_source(v) then return end
  if type(v) ~= "table" then
    usage(label .. ": oauth2 must be a token (string, imap.command, imap.env) or a table")
  end
  for k, x in pairs(v) do
    local want = table_keys[k]
    if not want then usage(string.format("%s: oauth2: unknown setting %q", label, tostring(k))) end
    if want == "secret" then
      if type(x) ~= "string" and not secret.is_source(x) then
        usage(string.format("%s: oauth2.%s must be a string, imap.command or imap.env", label, k))
      end
    elseif type(x) ~= want then
      usage(string.format("%s: oauth2.%s must be a %s, not a %s", label, k, want, type(x)))
    end
  end
  if not v.client_id or not v.refresh_token then
    usage(label .. ": oauth2 needs client_id and refresh_token")
  end
  local ep = M.endpoints(v.provider, v)
  if not ep.token_url then usage(label .. ": oauth2 needs provider or token_url") end
end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

--- text with every secret in `secrets` replaced by ***, control characters dropped, cut short.
function M.redact(text, secrets)
  text = tostring(text or "")
  for _, s in pairs(secrets) do
    if type(s) == "string" and #s >= 4 then
      local i = 1
      while true do
        local a, b = text:find(s, i, true)
        if not a then break end
        text = text:sub(1, a - 1) .. "***" .. text:sub(b + 1)
        i = a + 3
      end
    end
  end
  text = text:gsub("[%c]", " ")
  if #text > 300 then text = text:sub(1, 300) .. "..." end
  return text
end

--- A token endpoint's answer as a table, or an error object for people (kind auth when the
--- provider refused, with its code in oauth_error; network when it could not be asked or
--- answered nonsense).
function M.request(url, fields, ca_file, what, secrets)
  local status, body = core.http_post(url, fields, { ca_file = ca_file, timeout = 30 })
  if not status then
    body.message = string.format("%s: %s", what, M.redact(body.message, secrets))
    return nil, body
  end
  local doc = core.json_decode(body)
  if status == 200 and type(doc) == "table" then return doc end
  if type(doc) == "table" and type(doc.error) == "string" then
    local desc = type(doc.error_description) == "string" and (": " .. doc.error_description) or ""
    return nil, core.error(status >= 500 and "network" or "auth", string.format("%s: %s%s",
      what, M.redact(doc.error, secrets), M.redact(desc, secrets)),
      { command = "POST", oauth_error = doc.error })
  end
  return nil, core.error("network", string.format("%s: HTTP %d without an OAuth2 answer",
    what, status), { command = "POST" })
end

--- Whether s looks like a bearer token (RFC 6750 characters, no spaces).
function M.token_ok(s)
  return type(s) == "string" and #s > 0 and #s < 16384 and not s:find("[^%w%-%._~%+/=]")
end

-- ---- the cache ----------------------------------------------------------------------

local function cache_path(spec, ep, user)
  local key = table.concat({ ep.token_url, spec.client_id, user or "", ep.scope or "" }, "\n")
  local name = (user or "token"):gsub("[^%w@%.%-_]", "_"):sub(1, 64)
  return string.format("%s/oauth2-%s-%s.token", paths.state_dir(true), name,
    hex(core.sha256(key)):sub(1, 12))
end

local function cache_read(path)
  local f = io.open(path)
  if not f then return nil end
  local c = {}
  for line in f:lines() do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k then c[k] = v end
  end
  f:close()
  c.expires_at = tonumber(c.expires_at)
  if not c.expires_at or not M.token_ok(c.access_token) or not c.origin then return nil end
  return c
end

local function cache_write(path, c)
  local ok, err = core.write_private(path, string.format(
    "# imapscript OAuth2 token cache: delete it to force a refresh\n" ..
    "origin=%s\nexpires_at=%d\naccess_token=%s\nrefresh_token=%s\n",
    c.origin, c.expires_at, c.access_token, c.refresh_token or ""))
  if not ok then log.warn("OAuth2 token cache: " .. err) end
end

-- ---- access tokens ------------------------------------------------------------------

-- One refresh: pushes the answer {access_token=, expires_in=, refresh_token=} or raises.
local function refresh(label, spec, ep, rt, client_secret)
  local fields = { grant_type = "refresh_token", refresh_token = rt, client_id = spec.client_id,
                   client_secret = client_secret }
  if ep.send_scope and ep.scope then fields.scope = ep.scope end
  local what = string.format("%s: OAuth2 token refresh at %s", label, ep.token_url)
  local doc, err = M.request(ep.token_url, fields, spec.ca_file, what, { rt, client_secret })
  if doc and not M.token_ok(doc.access_token) then
    doc, err = nil, core.error("auth", what .. ": the answer holds no usable access_token")
  end
  return doc, err
end

--- The access token for an account's `oauth2` setting. Returns the token and whether it
--- came from the cache (a server refusing a cached token is worth one refresh: pass
--- force = true). Raises an error object when no token can be had.
function M.token(label, user, spec, force)
  if type(spec) ~= "table" or secret.is_source(spec) then
    return secret.reveal(spec, label, "oauth2 token"), false
  end
  local ep = M.endpoints(spec.provider, spec)
  local configured = secret.reveal(spec.refresh_token, label, "oauth2.refresh_token")
  local client_secret = secret.reveal(spec.client_secret, label, "oauth2.client_secret")
  local path = cache_path(spec, ep, user)
  local origin = hex(core.sha256(configured))
  local c = cache_read(path)
  if c and c.origin ~= origin then c = nil end    -- the user configured another refresh token
  if c and not force and c.expires_at - os.time() > 60 then
    log.info(label .. ": OAuth2 access token from the cache", 2)
    return c.access_token, true
  end
  -- A provider that rotates refresh tokens gave us a newer one; if it no longer works, the
  -- configured one may still do.
  local rt = c and c.refresh_token ~= "" and c.refresh_token or configured
  local doc, err = refresh(label, spec, ep, rt, client_secret)
  if not doc and rt ~= configured and err.kind == "auth" then
    rt = configured
    doc, err = refresh(label, spec, ep, rt, client_secret)
  end
  if not doc then
    if err.kind == "auth" then
      err.message = err.message .. " (imapscript --oauth2-authorize gets a new refresh token)"
    end
    error(err, 0)
  end
  local life = math.tointeger(doc.expires_in) or tonumber(doc.expires_in) or 3600
  local newrt = M.token_ok(doc.refresh_token) and doc.refresh_token or rt
  cache_write(path, { origin = origin, expires_at = os.time() + math.floor(life),
                      access_token = doc.access_token,
                      refresh_token = newrt ~= configured and newrt or "" })
  log.info(string.format("%s: OAuth2 access token refreshed (valid %d s)", label, math.floor(life)))
  return doc.access_token, false
end

return M
