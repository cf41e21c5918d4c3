-- log.lua — what imapscript tells its user: one line per completed action (stderr or
-- syslog), warnings, the dry-run plan (text and JSON lines), the --log audit of every
-- message acted on (JSON lines), and progress on a terminal.
local core = require "imapscript.core"

local M = {
  quiet = false, verbose = 0, syslog = false, tty = false,
  journal = false,       -- stderr is systemd's journal: lines carry "<N>" priorities
  plan_file = nil,       -- an open file for --plan-json
  audit_file = nil,      -- an open file for --log
}

-- syslog(3) levels, for the journal's "<N>" line prefixes.
local levels = { err = 3, warning = 4, info = 6, debug = 7 }

local function emit(priority, msg)
  if M.syslog then
    core.syslog(priority, msg)
  elseif M.journal then
    io.stderr:write("<", levels[priority], ">imapscript: ", msg, "\n")
  else
    io.stderr:write("imapscript: ", msg, "\n")
  end
end

--- "1 message", "37 messages": a count and its noun, singular or plural.
function M.count(n, noun)
  return string.format("%d %s%s", n, noun, n == 1 and "" or "s")
end

--- An action completed: "moved 37 messages INBOX -> Archive". step ({op=, box=, count=}),
--- given for queued actions, is for a caller that words the line its own way (imapfilter).
function M.action(msg, step)
  if not M.quiet then emit("info", msg) end
end

function M.warn(msg)
  emit("warning", "warning: " .. msg)
end

--- What became of a script line's action after the connection was lost for good.
function M.report(msg)
  emit("warning", msg)
end

function M.info(msg, level)
  if M.verbose >= (level or 1) then emit("debug", msg) end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function json(v)
  local t = type(v)
  if t == "string" then return json_string(v)
  elseif t == "number" or t == "boolean" then return tostring(v)
  elseif t == "table" and #v > 0 then
    local out = {}
    for i, x in ipairs(v) do out[i] = json(x) end
    return "[" .. table.concat(out, ",") .. "]"
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = json_string(k) .. ":" .. json(v[k]) end
    return "{" .. table.concat(out, ",") .. "}"
  end
  return "null"
end

M.json = json

--- One message acted on, as a JSON line under --log ("where did my mail go?").
function M.audit(record)
  if M.audit_file then M.audit_file:write(json(record), "\n") end
end

--- A dry-run plan line on stdout, and the same as JSON under --plan-json.
-- step: {action=, count=, from=, to=, uids=, flags=, account=}
function M.plan(step, text)
  io.stdout:write(text, "\n")
  io.stdout:flush()
  if M.plan_file then
    M.plan_file:write(json(step), "\n")
    M.plan_file:flush()
  end
end

--- A progress bar on a terminal for work over more than 1,000 messages.
-- Returns a function(done) to call as work advances, and finish().
function M.progress(what, total)
  if not M.tty or M.quiet or total <= 1000 then
    return function() end, function() end
  end
  local last = -1
  local function update(done)
    local pct = math.floor(done * 100 / total)
    if pct ~= last then
      last = pct
      local width = 30
      local filled = math.floor(width * done / total)
      io.stderr:write(string.format("\r%s [%s%s] %d/%d", what, string.rep("#", filled),
        string.rep(".", width - filled), done, total))
    end
  end
  return update, function() io.stderr:write("\r\27[K") end
end

-- Sources of imapscript's own modules, so messages can name the user's script line.
local internal = {}
function M.internal(source) internal[source] = true end
M.internal(debug.getinfo(1, "S").source)

--- "rules.lua:12": the first caller outside imapscript's modules, or nil.
function M.where()
  for level = 2, 50 do
    local info = debug.getinfo(level, "Sl")
    if not info then return nil end
    if not internal[info.source] and info.what ~= "C" and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline
    end
  end
end

return M
