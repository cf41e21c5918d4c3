-- sort.lua — r:sort and r:threads (RFC 5256): the server's UID SORT / UID THREAD when it offers
-- them, else the same order computed here over one FETCH, with the RFC's rules and comparator.
local core = require "imapscript.core"
local log = require "imapscript.log"
local Result = require "imapscript.result"
local extensions = require "imapscript.extensions"
local thread = require "imapscript.thread"
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

-- Streams one FETCH of items over set in box to each(m).
local function fetch_each(box, set, items, each)
  local conn = Result.use_box(box)
  local h = conn:fetch(set, items, function(m)
    if m.uid then each(m) end
  end)
  conn:wait(h)
  local ok, err = h:result()
  if not ok then error(err, 0) end
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

-- The keys of program for each message of set, from one FETCH of only the items they need:
-- {uid=, key1, key2, ...} per message (the keys are kept, not the messages).
local function fetch_keys(box, set, program)
  local items, want = { "uid" }, {}
  for _, p in ipairs(program) do
    if p.key == "ARRIVAL" or p.key == "DATE" then want.date = true end
    if p.key == "SIZE" then want.size = true end
    if p.key ~= "ARRIVAL" and p.key ~= "SIZE" then want.envelope = true end
  end
  for _, item in ipairs { "date", "size", "envelope" } do
    if want[item] then items[#items + 1] = item end
  end
  local out = {}
  fetch_each(box, set, items, function(m)
    local rec = { uid = m.uid }
    for i, p in ipairs(program) do rec[i] = key_of(m, p.key) end
    out[#out + 1] = rec
  end)
  return out
end

-- Sorts records of fetch_keys in place by program ({key=, reverse=}, ...), ties by UID (the
-- sequence number order the RFC asks for).
local function sort_records(recs, program)
  table.sort(recs, function(a, b)
    for i, p in ipairs(program) do
      local x, y = a[i], b[i]
      if x ~= y then
        if p.reverse then return x > y end
        return x < y
      end
    end
    return a.uid < b.uid
  end)
end

-- A UID set too long for one command line: sent as a search key, the server would refuse it.
local function too_long(set)
  return #tostring(set) > 7000
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
    -- The whole mailbox's order restricted to set is set's order: a long set need not be sent.
    local keys = too_long(set) and core.atom "ALL" or core.query_uid(set)
    local res = extensions.run(acct, box, "UID SORT", { wire, "UTF-8", keys })
    for _, u in ipairs(res.untagged) do
      if u.name == "SORT" then
        for _, uid in ipairs(u) do
          if math.type(uid) == "integer" and set:contains(uid) then order[#order + 1] = uid end
        end
      end
    end
  else
    acct:flush()
    local recs = fetch_keys(box, set, program)
    sort_records(recs, program)
    for i, m in ipairs(recs) do order[i] = m.uid end
  end
  return Result.ordered(box, order)
end

-- ORDEREDSUBJECT over fetch_keys records of {SUBJECT, DATE}: threads of one base subject, each
-- the first message (by sent date) with the others as its children, threads in the order of
-- their first.
local function ordered_subject(recs)
  sort_records(recs, { { key = "SUBJECT" }, { key = "DATE" } })
  local threads, current = {}, nil
  for _, m in ipairs(recs) do
    if current and m[1] == current.first[1] then
      current.members[#current.members + 1] = m.uid
    else
      current = { first = m, members = { m.uid } }
      threads[#threads + 1] = current
    end
  end
  table.sort(threads, function(a, b)
    if a.first[2] ~= b.first[2] then return a.first[2] < b.first[2] end
    return a.first.uid < b.first.uid
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

local THREAD_FIELDS = { "fields", "Message-ID", "References", "In-Reply-To", "Subject", "Date" }

-- REFERENCES over one FETCH of the header fields threading reads (thread.lua).
local function references(box, set)
  local recs = {}
  fetch_each(box, set, { "uid", "date", THREAD_FIELDS }, function(m)
    recs[#recs + 1] = thread.record(m.uid, thread.fields(m.fields or ""), m.internaldate)
  end)
  return thread.references(recs)
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
  if conn:has("THREAD=" .. algorithm) and not too_long(set) then
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
  acct:flush()
  if algorithm == "REFERENCES" then return references(box, set) end
  return ordered_subject(fetch_keys(box, set, { { key = "SUBJECT" }, { key = "DATE" } }))
end

return M
