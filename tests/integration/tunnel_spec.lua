-- Accounts reached through a command (tunnel = "..."): Dovecot's own imap over stdin/stdout
-- (`doveadm exec imap`, PREAUTH) gives the same server state as TCP for the examples and a
-- move/flag script; a failing command is exit 3 quoting its stderr; the command is waited for
-- (or killed) after a run, an error and SIGTERM, checked in /proc; the watch runs one command
-- per connection; logins, TLS, COMPRESS, --trace, pipelining and the timeout over a tunnel.
local S = require "tests.integration.support"
local imap = require "imapscript"
imap._configure { quiet = true }

local function conf() return S.shquote(S.env("TESTBED_CONF")) end
-- Dovecot's imap for user over stdin/stdout, logged in (PREAUTH).
local function doveadm(user) return string.format("doveadm -c %s exec imap -u %s", conf(), user or "alice") end
-- The same run directly, which applies `protocol imap` settings (COMPRESS, imap_capability).
local function imapd(user, opts)
  return string.format("/usr/lib/dovecot/imap -c %s %s-u %s", conf(), opts or "", user or "alice")
end

local slurp = S.slurp

-- State and parent of a process from /proc: nil when it is gone.
local function proc(pid)
  local stat = slurp("/proc/" .. pid .. "/stat")
  local state, ppid = stat:match("%) (%S) (%d+)")
  return state, tonumber(ppid)
end
local function alive(pid)
  local state = proc(pid)
  return state ~= nil and state ~= "Z" and state ~= "X"
end
local function children(pid)
  local out = {}
  local p = io.popen("ls /proc")
  for name in p:lines() do
    if name:match("^%d+$") and select(2, proc(name)) == tonumber(pid) then out[#out + 1] = tonumber(name) end
  end
  p:close()
  return out
end
-- Pids written one a line by the tunnel commands (`echo $$ >>FILE`).
local function pids(file)
  local out = {}
  for pid in slurp(file):gmatch("%d+") do out[#out + 1] = tonumber(pid) end
  return out
end
local function wait_until(cond, secs)
  local deadline = os.time() + secs
  while not cond() and os.time() <= deadline do os.execute("sleep 0.05") end
  return cond()
end
local function none_alive(list)
  return function()
    for _, pid in ipairs(list) do if alive(pid) then return false end end
    return true
  end
end

-- Every folder of user's Maildir++ with its state (Message-ID -> flags), "/" separated.
local function all_state(user)
  local out = {}
  local root = S.env("TESTBED_MAILROOT") .. "/" .. user
  local p = io.popen("ls -a " .. S.shquote(root))
  for name in p:lines() do
    if name:match("^%.[^.]") then
      local box = name:sub(2):gsub("%.", "/")
      out[box] = S.state(box, user)
    end
  end
  p:close()
  out.INBOX = S.state("INBOX", user)
  return out
end

-- An example run with imap.account pointed at the bed: over TCP, or through tunnel.
local function run_example(example, args, user, password, tunnel)
  local patch = tunnel and string.format(
    "local a = imap.account; imap.account = function(c) c.host = nil; c.tunnel = %q; return a(c) end", tunnel)
    or string.format("local a = imap.account; imap.account = function(c) c.port = %d; c.ca_file = %q; return a(c) end",
      tonumber(S.env("TESTBED_TLS_PORT")), S.env("TESTBED_CA"))
  return S.run(string.format("-e %s examples/%s %s", S.shquote(patch), example, args or ""),
    nil, string.format("IMAP_HOST=%s IMAP_USER=%s IMAP_PASSWORD=%s", S.env("TESTBED_HOST"), user,
      S.shquote(password)))
end

describe("a tunnel", function()
  it("runs the examples and a move/flag script with the same final state as over TCP", function()
    for _, user in ipairs { "alice", "bob" } do
      S.seed("INBOX", 300, 101, user)
      S.seed("Trash", 20, 102, user)
      S.seed("Rules", 200, 103, user)
    end
    assert.are.same(all_state("alice"), all_state("bob"))
    local tunnel = doveadm("bob")
    local runs = {
      { "largest.lua", "INBOX 5" }, { "sort-lists.lua" }, { "flag-vip.lua" }, { "archive-by-year.lua", "30" },
      { "purge-trash.lua", "0" }, { "out-of-office.lua" }, { "unsubscribe-report.lua" }, { "archive-retention.lua", "30 7" },
    }
    for _, r in ipairs(runs) do
      local c1, out1, err1 = run_example(r[1], r[2], "alice", S.env("TESTBED_PASSWORD"))
      local c2, out2, err2 = run_example(r[1], r[2], "bob", S.env("TESTBED_PASSWORD2"), tunnel)
      assert.are.equal(0, c1, r[1] .. " over TCP: " .. err1)
      assert.are.equal(0, c2, r[1] .. " through the tunnel: " .. err2)
      local function same(s) return (s:gsub("alice@[%w.]+", "ACCOUNT"):gsub("bob@[%w.]+", "ACCOUNT")) end
      assert.are.equal(same(out1), same(out2), r[1])
    end
    local rules = [[
      local box = acct.Rules
      box:search(Q.larger(3000) & ~Q.flagged):mark_flagged():add_flags { "$Big" }
      box:search(Q.header("List-Id", "lua")):mark_seen():move_to(acct["Lists/lua"])
      box:search(Q.flagged):copy_to(acct.Keep)
      acct.Keep:search(Q.unseen):remove_flags { "$Big" }
      box:search(Q.subject "a" & Q.seen):delete()
      acct["Lists/lua"]:all():set_flags { "\\Seen", "$Done" }
    ]]
    local c1, _, err1 = S.run(S.script(rules, { create = true }))
    local c2, _, err2 = S.run(S.script(string.format("acct = imap.account { tunnel = %q, create = true }\n", tunnel) ..
      rules))
    assert.are.equal(0, c1, err1)
    assert.are.equal(0, c2, err2)
    local a, b = all_state("alice"), all_state("bob")
    assert.is_true(S.count("Keep") > 0 and S.count("Lists/lua") > 0, "the rules did nothing")
    assert.are.same(S.keys(a), S.keys(b))
    for box, st in pairs(a) do assert.are.same(st, b[box], box) end
  end)

  it("that fails is a connection failure (exit 3) quoting its stderr, which is passed on with the account's name", function()
    local code, _, err = S.run("-e " .. S.shquote([[
      local a = imap.account { tunnel = "echo no such host >&2; exit 255", label = "far" }
      print(a.INBOX:count())]]))
    assert.are.equal(3, code, err)
    assert.truthy(err:find("warning: far: no such host\n", 1, true), err)
    assert.truthy(err:find("far: greeting: the tunnel command exited with status 255 (stderr: no such host)", 1, true), err)
    code, _, err = S.run("-e " .. S.shquote([[
      print(imap.account { tunnel = "no-such-tunnel-command", label = "far" }.INBOX:count())]]))
    assert.are.equal(3, code, err)
    assert.truthy(err:find("exited with status 127 %(stderr: [^)]*no%-such%-tunnel%-command"), err)
  end)

  it("leaves no process behind after a run, a failure or a timeout: each is waited for (or killed)", function()
    local file = os.tmpname()
    -- The shell stays (no exec): its child, Dovecot's imap, is a grandchild of ours.
    local acct = imap.account { tunnel = "echo $$ >>" .. file .. "; " .. doveadm(), label = "t" }
    assert.are.equal(S.count("INBOX"), acct.INBOX:count())
    local shell = pids(file)[1]
    local below = children(shell)
    assert.is_true(alive(shell) and #below == 1 and alive(below[1]), "tunnel processes not found")
    acct:logout()
    -- Gone, not zombies: imapscript reaped the shell before logout returned.
    assert.is_nil(proc(shell))
    assert.is_nil(proc(below[1]))

    -- A command that answers nothing after its greeting and ignores its end of file: the
    -- read timeout (1 s) breaks the connection, the command is killed and reaped.
    os.remove(file)
    acct = imap.account { tunnel = "echo $$ >>" .. file .. "; printf '* PREAUTH hi\\r\\n'; exec sleep 60",
                          label = "t", timeout = 1 }
    local ok, err = pcall(function() return acct.INBOX:count() end)
    assert.is_false(ok)
    assert.are.equal("network", err.kind)
    assert.truthy(tostring(err):find("read timeout after 1 s", 1, true), tostring(err))
    local sleeper = pids(file)[1]
    assert.is_nil(proc(sleeper))
    pcall(acct.logout, acct)

    -- The program ending on a script error: its tunnel goes with it.
    os.remove(file)
    local code, _, err2 = S.run("-e " .. S.shquote(string.format([[
      local a = imap.account { tunnel = %q, label = "t" }
      a.INBOX:count()
      error("the script fails")]], "echo $$ >>" .. file .. "; exec " .. doveadm())))
    assert.are.equal(1, code, err2)
    local left = pids(file)
    assert.are.equal(1, #left)
    assert.is_true(wait_until(none_alive(left), 5), "tunnel left running after a script error")
    os.remove(file)
  end)

  it("goes with imapscript on SIGTERM, and the watch runs one command per connection", function()
    S.seed("W1", 1, 401)
    S.seed("W2", 1, 402)
    local file, out, ready = os.tmpname(), os.tmpname(), os.tmpname()
    os.remove(ready)
    -- NOTIFY hidden: an IDLE connection for each mailbox besides the account's own.
    local tunnel = "echo $$ >>" .. file .. "; " .. imapd("alice", "-o 'imap_capability=IMAP4rev1 IDLE UIDPLUS MOVE ESEARCH CONDSTORE' ")
    local script = os.tmpname() .. ".lua"
    local f = assert(io.open(script, "w"))
    f:write(string.format([[
      local core = require "imapscript.core"
      local acct = imap.account { tunnel = %q, label = "watched", create = true }
      local tcp = { host = %q, port = %s, ca_file = %q, user = "alice", password = %q }
      local delivered, moved, stay = false, 0, ...
      imap.watch({ acct.W1, acct.W2 }, function(box, new)
        moved = moved + #new
        new:move_to(acct["Done/" .. box.name])
        if not delivered then
          delivered = true
          local c = core.connect(tcp)
          c:append("W1", "Subject: one\r\nMessage-ID: <t1@tunnel.test>\r\n\r\nhi\r\n")
          c:append("W2", "Subject: two\r\nMessage-ID: <t2@tunnel.test>\r\n\r\nhi\r\n")
          c:wait()
          c:logout()
        end
        if moved == 4 and stay then io.open(%q, "w"):close() end
        return stay or moved < 4
      end, { duration = 30 })
    ]], tunnel, S.env("TESTBED_HOST"), S.env("TESTBED_TLS_PORT"), S.env("TESTBED_CA"),
      S.env("TESTBED_PASSWORD"), ready))
    f:close()

    -- Until every message is handled: 2 seeded, 2 delivered, each through its IDLE.
    local code, _, err = S.run("-v " .. script)
    assert.are.equal(0, code, err)
    assert.truthy(err:find("IDLE W1, IDLE W2 (3 connections)", 1, true), err)
    assert.are.equal(2, S.count("Done/W1"))
    assert.are.equal(2, S.count("Done/W2"))
    assert.is_not_nil(S.state("Done/W1")["<t1@tunnel.test>"])
    assert.is_not_nil(S.state("Done/W2")["<t2@tunnel.test>"])
    local ran = pids(file)
    assert.are.equal(3, #ran, "one command per connection")
    assert.is_true(wait_until(none_alive(ran), 5))

    -- The same watch left running, then SIGTERM: the shells and their imap processes go.
    os.remove(file)
    S.seed("W1", 1, 403)
    S.seed("W2", 1, 404)
    local bin = os.getenv("IMAPSCRIPT") or "build/imapscript"
    local pidfile = os.tmpname()
    os.execute(string.format("%s %s stay >%s 2>&1 </dev/null & echo $! >%s", bin, script, out, pidfile))
    local main = pids(pidfile)[1]
    assert.is_true(wait_until(function() return io.open(ready) ~= nil end, 20), slurp(out))
    local tree = pids(file)
    assert.are.equal(3, #tree)
    for _, shell in ipairs(pids(file)) do
      for _, child in ipairs(children(shell)) do tree[#tree + 1] = child end
    end
    assert.are.equal(6, #tree, "3 shells, each with Dovecot's imap under it")
    os.execute("kill -TERM " .. main)
    assert.is_true(wait_until(function() return not alive(main) end, 5))
    assert.is_true(wait_until(none_alive(tree), 5), "tunnel processes left after SIGTERM")
    for _, p in ipairs { file, out, ready, pidfile, script } do os.remove(p) end
  end)

  it("logs in as usual after an OK greeting, and carries TLS when the command's stream is TLS", function()
    local tcp = "socat - TCP:" .. S.env("TESTBED_HOST") .. ":"
    local trace = os.tmpname()
    -- A tunnel counts as local: the password goes without TLS, as to loopback.
    local code, out, err = S.run("--trace " .. trace .. " -e " .. S.shquote(string.format([[
      local a = imap.account { tunnel = %q, user = "alice", password = %q }
      print(a.INBOX:count(), a:stats().tls)]], tcp .. S.env("TESTBED_PORT"), S.env("TESTBED_PASSWORD"))))
    assert.are.equal(0, code, err)
    assert.are.equal(S.count("INBOX") .. "\tfalse\n", out)
    local t = slurp(trace)
    assert.truthy(t:find("S: * OK [CAPABILITY", 1, true), t)
    assert.truthy(t:find("C: A%d+ AUTHENTICATE PLAIN %*%*%*\n") or t:find("C: A%d+ LOGIN alice %*%*%*\n"), t)
    assert.is_nil(t:find(S.env("TESTBED_PASSWORD"), 1, true))
    os.remove(trace)
    -- Still not to a server that says LOGINDISABLED: refused before anything is sent.
    local got = os.tmpname()
    code, _, err = S.run("-e " .. S.shquote(string.format([[
      local a = imap.account { tunnel = %q, user = "alice", password = "s3cret", label = "ld" }
      a.INBOX:count()]], "printf '* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] hi\\r\\n'; cat >" .. got)))
    assert.are.equal(4, code, err)
    assert.truthy(err:find("LOGINDISABLED", 1, true), err)
    assert.are.equal("", slurp(got))
    os.remove(got)

    local tls = { tunnel = tcp .. S.env("TESTBED_TLS_PORT"), tls = "implicit", host = "localhost",
                  ca_file = S.env("TESTBED_CA"), user = "alice", password = S.env("TESTBED_PASSWORD") }
    local acct = imap.account(tls)
    assert.are.equal(S.count("INBOX"), acct.INBOX:count())
    assert.is_true(acct:stats().tls)
    acct:logout()
    tls.ca_file = S.env("TESTBED_OTHER_CA")
    local ok, e = pcall(function() return imap.account(tls).INBOX:count() end)
    assert.is_false(ok)
    assert.are.equal("tls", e.kind)
    assert.truthy(tostring(e):find("certificate verify failed", 1, true), tostring(e))
    -- No name to verify: refused, unless the certificate is pinned.
    tls.host, tls.ca_file = nil, nil
    ok, e = pcall(function() return imap.account(tls).INBOX:count() end)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("no name to verify", 1, true), tostring(e))
    tls.fingerprint = S.env("TESTBED_FINGERPRINT")
    acct = imap.account(tls)
    assert.are.equal(S.count("INBOX"), acct.INBOX:count())
    acct:logout()
  end)

  it("carries COMPRESS, --trace, pipelining and the timeout", function()
    S.seed("Bulk", 200, 501)
    local body = [[
      local n = 0
      for msg in acct.Bulk:all():fetch { "envelope" } do n = n + 1 end
      local before = acct:stats().round_trips
      for _, flag in ipairs { "$A", "$B", "$C", "$D", "$E" } do acct.Bulk:all():add_flags { flag } end
      acct:flush()
      local s = acct:stats()
      print(n, s.compressed, s.wire_in < s.bytes_in / 2, s.round_trips - before)
    ]]
    local trace = os.tmpname()
    local code, tunnel_out, err = S.run("--trace " .. trace .. " " ..
      S.script(string.format("acct = imap.account { tunnel = %q, compress = true }\n", imapd()) .. body))
    assert.are.equal(0, code, err)
    local code2, tcp_out, err2 = S.run(S.script(body, { compress = true }))
    assert.are.equal(0, code2, err2)
    assert.truthy(tunnel_out:find("^200\ttrue\ttrue\t%d+\n"), tunnel_out)
    -- The same round trips as over TCP: pipelined alike.
    assert.are.equal(tcp_out:match("(%d+)\n$"), tunnel_out:match("(%d+)\n$"))
    local t = slurp(trace)
    assert.truthy(t:find("S: * PREAUTH [CAPABILITY", 1, true), t)
    assert.truthy(t:find("C: A%d+ COMPRESS DEFLATE\n"), t)
    -- (+FLAGS.SILENT, or +FLAGS where the cache follows the flags: cache.lua)
    assert.truthy(t:find("C: A%d+ UID STORE [$%d:,]+ %+FLAGS[%.%u]* %(%$E%)\n"), t)
    os.remove(trace)
    for flag in ("$A $B $C $D $E"):gmatch("%S+") do
      for _, flags in pairs(S.state("Bulk")) do assert.truthy(flags:find(flag, 1, true)) end
    end
  end)
end)
