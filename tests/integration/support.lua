-- support.lua — what the integration specs share: the test bed's settings, seeding,
-- running the program, and an oracle that reads the server's state straight from its
-- Maildirs (not through imapscript), so assertions never trust the code under test.
package.path = "./tests/integration/?.lua;" .. package.path
local M = {}

local function env(name)
  local v = os.getenv(name)
  assert(v and v ~= "", name .. " is not set: run under tests/run-integration")
  return v
end
M.env = env

local function shquote(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end
M.shquote = shquote

--- A new empty directory under /tmp (the caller removes it).
function M.tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shquote(dir)))
  return dir
end

--- A file's contents ("" when it cannot be read); a file written whole.
function M.slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- Settings for imap.account on the test bed's implicit-TLS port; `over` overrides.
function M.account_cfg(over, n)
  local suffix = (n and n > 1) and tostring(n) or ""
  local cfg = {
    host = env("TESTBED_HOST"), port = tonumber(env("TESTBED_TLS_PORT")),
    ca_file = env("TESTBED_CA"), user = env("TESTBED_USER" .. suffix),
    password = env("TESTBED_PASSWORD" .. suffix),
  }
  for k, v in pairs(over or {}) do cfg[k] = v end
  return cfg
end

--- Seeds count generated messages into user's mailbox (created if missing).
function M.seed(mailbox, count, seed, user)
  local cmd = string.format("scripts/testbed seed %s --user %s --mailbox %s --count %d --seed %d >/dev/null",
    shquote(env("TESTBED_DIR")), user or "alice", shquote(mailbox), count, seed or 1)
  assert(os.execute(cmd), "seeding failed: " .. cmd)
end

--- Runs build/imapscript with args (and env, "VAR=value ..." before it); returns exit code,
--- stdout, stderr.
function M.run(args, stdin_text, env)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = (env and "env " .. env .. " " or "") .. (os.getenv("IMAPSCRIPT") or "build/imapscript") .. " " .. args ..
    " >" .. out .. " 2>" .. err .. (stdin_text and "" or " </dev/null")
  local _, _, code
  if stdin_text then
    local p = io.popen(cmd .. "; echo $? >" .. out .. ".rc", "w")
    p:write(stdin_text)
    p:close()
    local f = io.open(out .. ".rc"); code = tonumber(f:read("l")); f:close()
    os.remove(out .. ".rc")
  else
    _, _, code = os.execute(cmd)
  end
  local function slurp(p) local f = io.open(p); local s = f:read("a"); f:close(); os.remove(p); return s end
  return code, slurp(out), slurp(err)
end

--- Runs examples/EXAMPLE with args and opts (options before it) against the test bed, with
--- env ("VAR=value ...") in its environment: the account settings come from IMAP_* variables,
--- as the examples document; -e points them at the test bed's port and CA (and makes
--- imap.watch stop after 2 s). Returns exit code, stdout, stderr.
function M.run_example(example, args, opts, env_vars)
  local patch = string.format(
    "local a = imap.account; imap.account = function(c) c.port = %d; c.ca_file = %q; return a(c) end; " ..
    "local w = imap.watch; imap.watch = function(b, f, o) o = o or {}; o.duration = 2; return w(b, f, o) end",
    tonumber(env("TESTBED_TLS_PORT")), env("TESTBED_CA"))
  local cmd = string.format("env IMAP_HOST=%s IMAP_USER=%s IMAP_PASSWORD=%s %s %s %s -e %s examples/%s %s",
    env("TESTBED_HOST"), env("TESTBED_USER"), shquote(env("TESTBED_PASSWORD")), env_vars or "",
    os.getenv("IMAPSCRIPT") or "build/imapscript", opts or "", shquote(patch), example, args or "")
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(cmd .. " >" .. out .. " 2>" .. err .. " </dev/null")
  local function slurp(p) local f = io.open(p); local s = f:read("a"); f:close(); os.remove(p); return s end
  return code, slurp(out), slurp(err)
end

--- Writes a script file holding `body` after a prelude that defines `acct` on the test bed
--- (over: settings to change; false drops one).
function M.script(body, over)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  local cfg = M.account_cfg(over)
  local fields = {}
  for k, v in pairs(cfg) do
    if v ~= false then   -- false drops a default (ca_file = false)
      fields[#fields + 1] = string.format("%s = %s", k, type(v) == "string" and string.format("%q", v) or tostring(v))
    end
  end
  table.sort(fields)
  f:write("local acct = imap.account { ", table.concat(fields, ", "), " }\n",
    "local Q = imap.query\n", body, "\n")
  f:close()
  return path
end

--- Starts a test bed of its own (opts.caps: the capability list, opts.plugins: "quota,acl");
--- returns {env=, dir=, seed(mailbox, n, seed [, user]), account(over), state(mailbox), stop()}.
--- imap (the module, for account) may be nil for specs that run the program.
function M.bed(imap, opts)
  local dir = os.tmpname()
  os.remove(dir)
  local args = ""
  if opts.caps then args = args .. " --caps " .. shquote(opts.caps) end
  if opts.plugins then args = args .. " --plugins " .. shquote(opts.plugins) end
  assert(os.execute(string.format("scripts/testbed start %s%s", shquote(dir), args)))
  local env = {}
  for line in io.lines(dir .. "/env") do
    local k, v = line:match("^export ([%w_]+)=(.*)$")
    if k then env[k] = v:gsub("^'(.*)'$", "%1") end
  end
  local bed = { env = env, dir = dir }
  function bed.seed(mailbox, n, s, user)
    assert(os.execute(string.format("scripts/testbed seed %s --user %s --mailbox %s --count %d --seed %d >/dev/null",
      shquote(dir), user or "alice", shquote(mailbox), n, s)))
  end
  function bed.account(over)
    local cfg = { host = env.TESTBED_HOST, port = tonumber(env.TESTBED_TLS_PORT), ca_file = env.TESTBED_CA,
                  user = "alice", password = env.TESTBED_PASSWORD }
    for k, v in pairs(over or {}) do cfg[k] = v end
    return imap.account(cfg)
  end
  function bed.state(mailbox)
    M.mailroot = env.TESTBED_MAILROOT
    local st = M.state(mailbox)
    M.mailroot = nil
    return st
  end
  function bed.stop()
    os.execute(string.format("scripts/testbed stop %s >/dev/null 2>&1; rm -rf %s", shquote(dir), shquote(dir)))
  end
  return bed
end

--- The bed tests/run-integration started for this spec, in the shape M.bed gives.
function M.this_bed()
  local env = {}
  for _, k in ipairs { "TESTBED_DIR", "TESTBED_HOST", "TESTBED_PORT", "TESTBED_TLS_PORT", "TESTBED_CA",
                       "TESTBED_PASSWORD", "TESTBED_PASSWORD2", "TESTBED_MAILROOT" } do
    env[k] = os.getenv(k)
  end
  return { dir = env.TESTBED_DIR, env = env, stop = function() end,
           seed = function(mailbox, n, s, user) M.seed(mailbox, n, s, user) end }
end

--- Starts build/faultproxy in front of a bed's plaintext port: opts.cut ("after:UID COPY"),
--- opts.refuse ("MOVE,UID MOVE"), opts.down (stays down after the cut), opts.delay (ms).
--- Returns {port=, log=path, stop=function, cuts=function -> number of cuts made}.
function M.proxy(env, opts)
  opts = opts or {}
  local log = os.tmpname()
  local args = {}
  if opts.cut then args[#args + 1] = "--cut " .. shquote(opts.cut) end
  if opts.refuse then args[#args + 1] = "--refuse " .. shquote(opts.refuse) end
  if opts.down then args[#args + 1] = "--down-after-cut" end
  if opts.delay then args[#args + 1] = "--delay " .. tonumber(opts.delay) end
  local p = assert(io.popen(string.format("exec build/faultproxy %s --log %s %s %s", table.concat(args, " "),
    shquote(log), env.TESTBED_HOST, env.TESTBED_PORT)))
  local port, pid = (p:read("l") or ""):match("PORT (%d+) PID (%d+)")
  assert(port, "faultproxy did not start")
  local px = { port = tonumber(port), log = log }
  function px.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    p:close()
  end
  function px.text()
    local f = io.open(log)
    local t = f and f:read("a") or ""
    if f then f:close() end
    return t
  end
  function px.cuts()
    local n = 0
    for _ in px.text():gmatch("cut ") do n = n + 1 end
    return n
  end
  return px
end

---------------------------------------------------------------------------------------
-- The Maildir oracle.

-- M.mailroot, when set, points the oracle at another test bed's mail.
local function maildir_path(user, mailbox)
  local root = (M.mailroot or env("TESTBED_MAILROOT")) .. "/" .. user
  if mailbox:upper() == "INBOX" then return root end
  return root .. "/." .. mailbox:gsub("/", ".")
end

local function list_dir(dir)
  local p = io.popen("ls -1 " .. shquote(dir) .. " 2>/dev/null")
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  return names
end

local function keywords(dir)
  local map = {}
  local f = io.open(dir .. "/dovecot-keywords")
  if f then
    for line in f:lines() do
      local i, name = line:match("^(%d+) (.+)$")
      if i then map[string.char(97 + tonumber(i))] = name end
    end
    f:close()
  end
  return map
end

local system_flags = { D = "\\Draft", F = "\\Flagged", R = "\\Answered", S = "\\Seen", T = "\\Deleted" }

--- {[message-id] = "sorted flags"} of a mailbox, read from its Maildir files.
function M.state(mailbox, user)
  local dir = maildir_path(user or "alice", mailbox)
  local kw = keywords(dir)
  local out, count = {}, 0
  for _, sub in ipairs { "cur", "new" } do
    for _, name in ipairs(list_dir(dir .. "/" .. sub)) do
      local f = io.open(dir .. "/" .. sub .. "/" .. name)
      if f then
        local id
        for line in f:lines() do
          if line == "" or line == "\r" then break end
          id = id or line:match("^[Mm]essage%-[Ii][Dd]:%s*(<[^>]*>)")
        end
        f:close()
        local flags = {}
        for c in (name:match(":2,(.*)$") or ""):gmatch(".") do
          flags[#flags + 1] = system_flags[c] or kw[c] or ("?" .. c)
        end
        table.sort(flags)
        out[id or name] = table.concat(flags, " ")
        count = count + 1
      end
    end
  end
  return out, count
end

--- Number of messages in a mailbox, by its Maildir.
function M.count(mailbox, user)
  local _, n = M.state(mailbox, user)
  return n
end

--- True when the mailbox's directory exists on the server.
function M.exists(mailbox, user)
  local f = io.open(maildir_path(user or "alice", mailbox) .. "/cur")
  if f then f:close() return true end
  return os.execute("test -d " .. shquote(maildir_path(user or "alice", mailbox))) == true
end

--- The set of keys of a table, sorted, for comparing states.
function M.keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

return M
