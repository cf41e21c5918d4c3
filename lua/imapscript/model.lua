-- model.lua — a dry run's picture of what the actions it planned would have done: moved and
-- deleted messages leave their mailbox, flags change. Later searches are rewritten to see it
-- (q:with_flags, NOT UID), and later plans act only on what is left, so the plan's counts and
-- UIDs are the ones the real run acts on. Messages a plan moves INTO a mailbox are not
-- modelled: their UIDs do not exist before the real run.
local core = require "imapscript.core"

local M = {}

local SYSTEM = { ["\\SEEN"] = "\\Seen", ["\\ANSWERED"] = "\\Answered", ["\\FLAGGED"] = "\\Flagged",
  ["\\DELETED"] = "\\Deleted", ["\\DRAFT"] = "\\Draft" }
local KEY = { ["\\Seen"] = "SEEN", ["\\Answered"] = "ANSWERED", ["\\Flagged"] = "FLAGGED",
  ["\\Deleted"] = "DELETED", ["\\Draft"] = "DRAFT" }

local function norm(f) return SYSTEM[f:upper()] or f end
local function empty() return core.set("") end

-- box -> {removed = set, plus = {flag = set}, minus = {flag = set}, resets = {{uids=, flags=}}}
local boxes = setmetatable({}, { __mode = "k" })

local function of(box)
  local m = boxes[box]
  if not m then
    m = { removed = empty(), plus = {}, minus = {}, resets = {} }
    boxes[box] = m
  end
  return m
end

--- Forgets everything (a new dry run in the same process).
function M.reset() boxes = setmetatable({}, { __mode = "k" }) end

--- set without the messages earlier planned actions took out of box.
function M.present(box, set)
  local m = boxes[box]
  if not m or #m.removed == 0 then return set end
  return set - m.removed
end

-- Starts following flag f in m: the set_flags planned so far decide it for their messages.
local function follow(m, f)
  if m.plus[f] then return end
  m.plus[f], m.minus[f] = empty(), empty()
  for _, r in ipairs(m.resets) do
    if r.flags[f] then
      m.plus[f], m.minus[f] = m.plus[f] + r.uids, m.minus[f] - r.uids
    else
      m.minus[f], m.plus[f] = m.minus[f] + r.uids, m.plus[f] - r.uids
    end
  end
end

local function add(m, f, set)
  follow(m, f)
  m.plus[f], m.minus[f] = m.plus[f] + set, m.minus[f] - set
end

local function remove(m, f, set)
  follow(m, f)
  m.minus[f], m.plus[f] = m.minus[f] + set, m.plus[f] - set
end

--- Applies a planned action (op.verb, op.mode, op.flags, op.keep) to set of box.
function M.apply(op, box, set)
  local m = of(box)
  if (op.verb == "move" and not op.keep) or op.verb == "delete" then
    m.removed = m.removed + set
  elseif op.verb == "move" then
    add(m, "\\Deleted", set)            -- move_to(box, {expunge = false}): flagged, kept
  elseif op.verb == "store" then
    if op.mode == "=" then
      local flags = {}
      for _, f in ipairs(op.flags) do flags[norm(f)] = true end
      m.resets[#m.resets + 1] = { uids = set, flags = flags }
      for f in pairs(m.plus) do
        if flags[f] then add(m, f, set) else remove(m, f, set) end
      end
      for f in pairs(flags) do follow(m, f) end
    else
      for _, f in ipairs(op.flags) do
        if op.mode == "+" then add(m, norm(f), set) else remove(m, norm(f), set) end
      end
    end
  end
end

-- The key saying "has flag f" on the server.
local function has_key(f)
  if KEY[f] then return core.query_key(KEY[f]) end
  return core.query_string("KEYWORD", f)
end

--- q as box would answer it after the planned actions.
function M.query(box, q)
  local m = boxes[box]
  if not m then return q end
  -- After a set_flags every system flag may have changed (keywords the plan never named are
  -- not followed: a search for one misses that set_flags took it away).
  if #m.resets > 0 then
    for f in pairs(KEY) do follow(m, f) end
  end
  local map, any = {}, false
  for f, plus in pairs(m.plus) do
    local minus = m.minus[f]
    if #plus > 0 or #minus > 0 then
      local has = has_key(f)
      if #minus > 0 then has = has & core.query_not(core.query_uid(minus)) end
      if #plus > 0 then has = has | core.query_uid(plus) end
      map[f], any = has, true
    end
  end
  if any then q = q:with_flags(map) end
  if #m.removed > 0 then q = q & core.query_not(core.query_uid(m.removed)) end
  return q
end

--- True when query q tests one of flags (a search for UNSEEN tests \Seen).
function M.tests_flags(q, flags)
  local map = {}
  for _, f in ipairs(flags) do map[norm(f)] = core.query_key("ALL") end
  return tostring(q:with_flags(map)) ~= tostring(q)
end

--- The query of the messages a STORE of mode "+" or "-" with flags would change (those lacking
--- one of them, or having one).
function M.changed_by(mode, flags)
  local q
  for _, f in ipairs(flags) do
    local k = has_key(norm(f))
    if mode == "+" then k = core.query_not(k) end
    q = q and (q | k) or k
  end
  return q
end

--- The flags a fetched message of box would have after the planned actions.
function M.flags(box, uid, flags)
  local m = boxes[box]
  if not m or not flags then return flags end
  local out, seen = {}, {}
  for _, f in ipairs(flags) do
    local n = norm(f)
    if #m.resets > 0 then follow(m, n) end
    if not (m.minus[n] and m.minus[n]:contains(uid)) then
      out[#out + 1], seen[n] = f, true
    end
  end
  for f, plus in pairs(m.plus) do
    if not seen[f] and plus:contains(uid) then out[#out + 1] = f end
  end
  return out
end

return M
