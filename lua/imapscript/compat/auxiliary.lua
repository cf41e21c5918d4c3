-- compat/auxiliary.lua — imapfilter's auxiliary functions: form_date, get_password,
-- become_daemon, pipe_to, pipe_from, regex_search, sleep, recover.
local core = require "imapscript.core"
local log = require "imapscript.log"
local ctx = require "imapscript.compat.context"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local function check(arg, want, fname, n, optional)
  if arg == nil and optional then return end
  if arg == nil then error(fname .. ": required argument left out", 3) end
  if type(arg) ~= want then
    error(string.format("%s: argument %d: %s argument expected, got %s", fname, n, want, type(arg)), 3)
  end
end

-- Sends every account's queued actions: before the config waits, sleeps or hands data to
-- another program, what it did so far must have happened (imapfilter acts at once).
local function flush_all()
  for _, a in ipairs(ctx.accounts) do rawget(a, "_native"):flush() end
end
M.flush_all = flush_all

--- form_date(days): the date `days` days ago as "dd-Mon-yyyy".
function M.form_date(days)
  check(days, "number", "form_date", 1)
  return os.date("%d-%b-%Y", os.time() - math.floor(days * 86400))
end

local function stdin_tty() return os.execute("test -t 0") == true end

--- get_password([prompt]): reads a line with echo off (on a terminal).
function M.get_password(prompt)
  check(prompt, "string", "get_password", 1, true)
  io.write(prompt or "Enter password: ")
  io.flush()
  local tty = stdin_tty()
  if tty then os.execute("stty -echo 2>/dev/null") end
  local ok, p = pcall(io.read, "l")
  if tty then
    os.execute("stty echo 2>/dev/null")
    io.write("\n")
  end
  if not ok then error(p, 0) end
  return p
end

--- sleep(seconds): waits, after sending what is queued.
function M.sleep(interval)
  check(interval, "number", "sleep", 1)
  flush_all()
  if interval > 0 then os.execute(string.format("sleep %d", math.floor(interval))) end
  return 0
end

--- pipe_to(command, data): runs command with data on its stdin; returns its exit status.
function M.pipe_to(command, data)
  check(command, "string", "pipe_to", 1)
  check(data, "string", "pipe_to", 2)
  flush_all()
  local p = assert(io.popen(command, "w"))
  p:write(data)
  local _, how, code = p:close()
  if how == "signal" then return 128 + (code or 0) end
  return code or 0
end

--- pipe_from(command): runs command; returns its exit status and its output.
function M.pipe_from(command)
  check(command, "string", "pipe_from", 1)
  flush_all()
  local p = assert(io.popen(command, "r"))
  local out = p:read("a") or ""
  local _, how, code = p:close()
  if how == "signal" then return 128 + (code or 0), out end
  return code or 0, out
end

-- Compiled patterns, kept for the run as imapfilter does.
local regex_cache = {}

--- The compiled PCRE2 pattern (cached); raises a usage error for a bad pattern.
function M.regex(pattern, what)
  local re = regex_cache[pattern]
  if re then return re end
  local err
  re, err = core.regex(pattern)
  if not re then error(core.error("usage", string.format("%s: bad pattern %q: %s", what, pattern, err)), 0) end
  regex_cache[pattern] = re
  return re
end

--- regex_search(pattern, subject): false, or (as imapfilter 2.8 does) the whole match
--- followed by the captures, up to the last one that took part.
function M.regex_search(pattern, subject)
  check(pattern, "string", "regex_search", 1)
  check(subject, "string", "regex_search", 2)
  local re = M.regex(pattern, "regex_search")
  if re:groups() == 0 then
    local whole = re:match(subject)
    if whole == nil then return false end
    return whole
  end
  if pattern:find("\\%d") or pattern:find("%(%?%d") or pattern:find("\\g") then
    -- Back references: wrapping the pattern in a group would renumber them.
    local caps = table.pack(re:match(subject))
    if caps[1] == nil then return false end
    return true, table.unpack(caps, 1, caps.n)
  end
  local caps = table.pack(M.regex("(" .. pattern .. ")", "regex_search"):match(subject))
  if caps[1] == nil then return false end
  local last = caps.n
  while last > 1 and caps[last] == false do last = last - 1 end
  for i = 1, last do if caps[i] == false then caps[i] = "" end end
  return table.unpack(caps, 1, last)
end

--- become_daemon(interval, commands [, nochdir [, noclose]]): runs commands every
-- interval seconds, for ever. imapscript stays in the foreground (see the migration guide).
function M.become_daemon(interval, commands, nochdir, noclose)
  check(interval, "number", "become_daemon", 1)
  check(commands, "function", "become_daemon", 2)
  check(nochdir, "boolean", "become_daemon", 3, true)
  check(noclose, "boolean", "become_daemon", 4, true)
  log.info("imapfilter compat: become_daemon runs in the foreground; use systemd, or nohup and &")
  if not nochdir then
    log.info("imapfilter compat: become_daemon keeps the working directory")
  end
  while true do
    commands()
    flush_all()
    collectgarbage()
    M.sleep(interval)
  end
end

-- After an error, the connections may be broken: drop them (and what was queued on them),
-- so the next attempt logs in afresh.
local function reset_connections()
  for _, a in ipairs(ctx.accounts) do
    local n = rawget(a, "_native")
    n.queue = {}
    if n.conn then
      pcall(n.conn.logout, n.conn)
      n.conn = nil
    end
    n:_deselect()
  end
end

--- recover(commands [, retries]): runs commands, again after an error (backing off up to a
-- minute), at most `retries` more times. Returns true and commands' results, or false and
-- the error.
function M.recover(commands, retries)
  check(commands, "function", "recover", 1)
  check(retries, "number", "recover", 2, true)
  local count = 0
  while true do
    local r = table.pack(pcall(function()
      local res = table.pack(commands())
      flush_all()
      return table.unpack(res, 1, res.n)
    end))
    if r[1] then return table.unpack(r, 1, r.n) end
    if retries and count >= retries then return false, r[2] end
    log.warn("recover: " .. tostring(r[2]) .. " (trying again)")
    reset_connections()
    count = count + 1
    collectgarbage()
    os.execute(string.format("sleep %d", math.min(2 ^ count, 60)))
  end
end

return M
