-- state.lua — this process's handle on the state database (state.c): opened on first use at
-- paths.state_dir() .. "/state.db"; when it is missing, locked, damaged or turned off, the run
-- goes on without it and says so once. Also the per-account run locks beside it.
local core = require "imapscript.core"
local log = require "imapscript.log"
local paths = require "imapscript.paths"
local settings = require "imapscript.settings"

local M = {}

local db, tried, warned = nil, false, false
local held = {}          -- account key -> {lock=, count=}: one flock per key per process

-- Says once that the journal's guarantees do not hold for this run.
local function without(reason)
  if warned then return end
  warned = true
  log.warn(reason .. "; this run goes on without the journal: an action cut off by a dropped " ..
    "connection or a crash may be left half-done or unknown for later runs, and the run " ..
    "cannot be undone")
end

--- The open database, or nil (turned off, or it failed: said once).
function M.db()
  if db or tried then return db end
  tried = true
  if settings.no_state then
    without("--no-state")
    return nil
  end
  local ok, dir = pcall(paths.state_dir, true)
  if not ok then
    without(tostring(dir.message or dir))
    return nil
  end
  local d, err = core.state_open(dir .. "/state.db", 2)   -- commits are short: 2 s is long
  if not d then
    without(err)
    return nil
  end
  db = d
  return db
end

--- Runs statement name with params; returns the rows and the last insert id, or nil when the
--- database is off or failed (then it is off for the rest of the run, said once).
function M.exec(name, params)
  local d = M.db()
  if not d then return nil end
  local rows, id, kind = d:exec(name, params)
  if not rows then
    M.off(id)
    return nil, kind
  end
  return rows, id
end

--- Runs fn() inside one transaction; false when the database is off or failed.
function M.transaction(fn)
  local d = M.db()
  if not d then return false end
  local ok, err = d:begin()
  if not ok then M.off(err) return false end
  local fine, ferr = pcall(fn)
  if not fine then
    if db then d:rollback() end
    error(ferr, 0)
  end
  if not db then return false end      -- a statement inside failed: already off
  ok, err = d:commit()
  if not ok then M.off(err) return false end
  return true
end

--- Turns the database off for the rest of the run after a failure, saying why (once).
function M.off(reason)
  if db then db:close() end
  db, tried = nil, true
  without(tostring(reason))
end

--- True when a journal is kept (the database is open).
function M.on() return M.db() ~= nil end

-- The lock file of an account: its key with anything but [%w.@_-] as %XX; a key too long for
-- a file name (a tunnel's command) by the start of its SHA-256 instead.
local function lock_path(dir, key)
  local name = key:gsub("[^%w%.@_%-]", function(c) return string.format("%%%02X", c:byte()) end)
  if #name > 200 then
    name = "h-" .. core.sha256(key):gsub(".", function(c) return string.format("%02x", c:byte()) end):sub(1, 32)
  end
  return string.format("%s/locks/%s.lock", dir, name)
end

--- Takes the run lock of account key (label names it in messages), waiting up to
--- settings.lock_wait seconds for another run; returns a function that releases it. Nothing
--- is locked without a state directory (--no-state). Raises kind "busy" after the wait.
function M.lock(key, label)
  if settings.no_state then return function() end end
  local h = held[key]
  if not h then
    local ok, dir = pcall(paths.state_dir, true)
    if not ok or not core.private_dir(dir .. "/locks") then return function() end end
    local path = lock_path(dir, key)
    local lock, err, holder = core.lock(path, 0)
    if not lock and holder then
      log.warn(string.format("%s: waiting for another imapscript run (pid %s) working on this " ..
        "account", label, holder > 0 and holder or "unknown"))
      lock, err, holder = core.lock(path, settings.lock_wait)
      if not lock and holder then
        error(core.error("busy", string.format("%s: another imapscript run (pid %s) has been " ..
          "working on this account for %g s; try again later (IMAPSCRIPT_LOCK_WAIT sets the wait)",
          label, holder > 0 and holder or "unknown", settings.lock_wait)), 0)
      end
    end
    if not lock then
      log.warn(string.format("%s: %s; going on without the run lock", label, err))
      return function() end
    end
    h = { lock = lock, count = 0 }
    held[key] = h
  end
  h.count = h.count + 1
  local released = false
  return function()
    if released then return end
    released = true
    h.count = h.count - 1
    if h.count == 0 then
      h.lock:release()
      held[key] = nil
    end
  end
end

return M
