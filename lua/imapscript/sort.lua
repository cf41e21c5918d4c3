-- sort.lua — r:sort and r:threads (RFC 5256): the server's UID SORT / UID THREAD when it offers
-- them, else the same order computed here over one FETCH, with the RFC's rules and comparator.
local core = require "imapscript.core"
local log = require "imapscript.log"
local Result = require "imapscript.result"
local extensions = require "imapscript.extensions"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local function usage(msg, level)
  error(core.error("usage", msg), (level or 1) + 1)
end

local sort_keys = { arrival = "ARRIVAL", cc = "CC", date = "DATE", from = "FROM", size = "SIZE",
  subject = "SUBJECT", to = "TO", displayfrom = "DISPLAYFROM", displayto = "DISPLAYTO" }

-- The one mailbox and UID set of r.
local function single(r, what)
  local parts = Result.resolve(r)
  if #parts > 1 then usage(what .. ": this result spans several mailboxes; sort each part", 3) end
  if #parts == 0 then return r.box, core.set("") end
  return parts[1].box, parts[1].set
end

-- What the fallbacks compare, from one FETCH of set in box: {seq=, uid=, ...}.
local function fetch_fields(box, set, want_refs)
  local conn = Result.use_box(box)
  local items = { "uid", "envelope", "date", "size" }
  if want_refs then items[#items + 1] = { "fields", "References" } end
  local out = {}
  local h = conn:fetch(set, items, function(m)
    if m.uid then out[#out + 1] = m end
  end)
  conn:wait(h)
  local ok, err = h:result()
  if not ok then error(err, 0) end
  return out
end

local function first_addr(env, field)
  local a = env and env[field] and env[field][1]
  return a
end

-- The value of one sort key for message m (numbers, or casemapped strings).
local function key_of(m, key)
  local env = m.envelope or {}
  if key == "ARRIVAL" or key == "DATE" then
    local arrival = m.internaldate and core.parse_date(m.internaldate) or 0
    if key == "ARRIVAL" then return arrival end
    local sent = env.date and core.parse_date(env.date)
    if not sent or sent == 0 then return arrival end   -- no usable Date: the arrival (RFC 5256)
    return sent
  elseif key == "SIZE" then
    return m.size or 0
  elseif key == "SUBJECT" then
    return (core.base_subject(core.decode_header(env.subject or "")))
  elseif key == "DISPLAYFROM" or key == "DISPLAYTO" then
    local a = first_addr(env, key == "DISPLAYFROM" and "from" or "to")
    if not a then return "" end
    local name = a.name and core.decode_header(a.name) or ""
    if name == "" then name = (a.mailbox or "") .. (a.host and ("@" .. a.host) or "") end
    return core.sort_key(name)
  end
  local a = first_addr(env, key:lower())
  return core.sort_key(a and a.mailbox or "")
end

-- Sorts msgs in place by program ({key=, reverse=}, ...), ties by sequence number.
local function sort_msgs(msgs, program)
  for _, m in ipairs(msgs) do
    m._keys = {}
    for i, p in ipairs(program) do m._keys[i] = key_of(m, p.key) end
  end
  table.sort(msgs, function(a, b)
    for i, p in ipairs(program) do
      local x, y = a._keys[i], b._keys[i]
      if x ~= y then
        if p.reverse then return x > y end
        return x < y
      end
    end
    return a.seq < b.seq
  end)
end

--- r:sort { "-date", "from", "subject" }: an ordered result (iteration and fetch follow the
--- order). One UID SORT, or one FETCH and the RFC 5256 order computed here.
function M.sort(r, keys)
  if type(keys) == "string" then keys = { keys } end
  if type(keys) ~= "table" or #keys == 0 then
    usage("sort: want a list of keys, e.g. {\"-date\", \"subject\"}", 2)
  end
  local program, wire, display = {}, {}, false
  for i, k in ipairs(keys) do
    local rev, name = tostring(k):match("^(%-?)(%a+)$")
    local key = name and sort_keys[name:lower()]
    if not key then
      usage(string.format("sort: unknown key %d %q (arrival, cc, date, from, size, subject, to, " ..
        "displayfrom, displayto; \"-\" in front reverses)", i, tostring(k)), 2)
    end
    program[#program + 1] = { key = key, reverse = rev == "-" }
    if rev == "-" then wire[#wire + 1] = core.atom "REVERSE" end
    wire[#wire + 1] = core.atom(key)
    display = display or key:find("^DISPLAY") ~= nil
  end
  local box, set = single(r, "sort")
  if #set == 0 then return Result.ordered(box, {}) end
  local acct = box.account
  local conn = acct:_connection()
  local order = {}
  if conn:has("SORT") and (not display or conn:has("SORT=DISPLAY")) then
    local res = extensions.run(acct, box, "UID SORT", { wire, "UTF-8", core.query_uid(set) })
    for _, u in ipairs(res.untagged) do
      if u.name == "SORT" then
        for _, uid in ipairs(u) do
          if math.type(uid) == "integer" and set:contains(uid) then order[#order + 1] = uid end
        end
      end
    end
  else
    acct:flush()
    local msgs = fetch_fields(box, set)
    sort_msgs(msgs, program)
    for i, m in ipairs(msgs) do order[i] = m.uid end
  end
  return Result.ordered(box, order)
end

-- ORDEREDSUBJECT over fetched messages: threads of one base subject, each the first message
-- (by sent date) with the others as its children, threads in the order of their first.
local function ordered_subject(msgs)
  sort_msgs(msgs, { { key = "SUBJECT" }, { key = "DATE" } })
  local threads, current, subject = {}, nil, nil
  for _, m in ipairs(msgs) do
    if current and m._keys[1] == subject then
      current.members[#current.members + 1] = m.uid
    else
      current = { first = m, members = { m.uid } }
      subject = m._keys[1]
      threads[#threads + 1] = current
    end
  end
  table.sort(threads, function(a, b)
    if a.first._keys[2] ~= b.first._keys[2] then return a.first._keys[2] < b.first._keys[2] end
    return a.first.seq < b.first.seq
  end)
  local out = {}
  for i, t in ipairs(threads) do
    local m = t.members
    if #m <= 2 then
      out[i] = m
    else
      local node = { m[1] }
      for k = 2, #m do node[#node + 1] = { m[k] } end
      out[i] = node
    end
  end
  return out
end

--- r:threads("references" | "orderedsubject"): the threads as nested tables of UIDs, as the
--- THREAD reply writes them: {3, 6, {4, 23}, {44, 7, 96}} is 3 -> 6 -> (4 -> 23 | 44 -> 7 -> 96).
function M.threads(r, algorithm)
  algorithm = (algorithm or "references"):upper()
  if algorithm ~= "REFERENCES" and algorithm ~= "ORDEREDSUBJECT" then
    usage("threads: want \"references\" or \"orderedsubject\"", 2)
  end
  local box, set = single(r, "threads")
  if #set == 0 then return {} end
  local acct = box.account
  local conn = acct:_connection()
  if conn:has("THREAD=" .. algorithm) then
    local res = extensions.run(acct, box, "UID THREAD",
      { core.atom(algorithm), "UTF-8", core.query_uid(set) })
    local out = {}
    for _, u in ipairs(res.untagged) do
      if u.name == "THREAD" then
        for _, t in ipairs(u) do if type(t) == "table" then out[#out + 1] = t end end
      end
    end
    return out
  end
  if algorithm == "REFERENCES" then
    error(core.error("capability", string.format("%s: threads: the server lacks THREAD=REFERENCES " ..
      "and imapscript has no client-side REFERENCES threading yet (\"orderedsubject\" works " ..
      "everywhere)", acct.label)), 2)
  end
  acct:flush()
  return ordered_subject(fetch_fields(box, set))
end

return M
