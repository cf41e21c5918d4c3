-- thread.lua — THREAD=REFERENCES (RFC 5256) computed here, for servers without it: the threads
-- Dovecot 2.3 would answer (index-thread*.c), from each message's ids, base subject and date.
local core = require "imapscript.core"
local log = require "imapscript.log"
log.internal(debug.getinfo(1, "S").source)

local M = {}

local ATEXT = "[%w!#$%%&'*+%-/=?^_`{|}~\128-\255]"

-- Skips whitespace and (nested) comments from i; returns the next position, or nil at the end
-- or in an unclosed comment.
local function skip_cfws(s, i)
  while i <= #s do
    local c = s:sub(i, i)
    if c == " " or c == "\t" or c == "\r" or c == "\n" then
      i = i + 1
    elseif c == "(" then
      local depth = 0
      repeat
        c = s:sub(i, i)
        if c == "" then return nil end
        if c == "\\" then i = i + 1
        elseif c == "(" then depth = depth + 1
        elseif c == ")" then depth = depth - 1 end
        i = i + 1
      until depth == 0
    else
      return i
    end
  end
  return nil
end

-- A dot-atom at i (dots may have CFWS around them): its text and the position after it.
local function dot_atom(s, i)
  local out = {}
  while true do
    local word = s:match("^" .. ATEXT .. "+", i)
    if not word then return nil end
    out[#out + 1] = word
    i = skip_cfws(s, i + #word)
    if not i or s:sub(i, i) ~= "." then return table.concat(out), i end
    out[#out + 1] = "."
    i = skip_cfws(s, i + 1)
    if not i then return nil end
  end
end

-- A quoted string at i (on '"'): its content and the position after it and any CFWS.
local function quoted(s, i)
  local out = {}
  i = i + 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == '"' then return table.concat(out), skip_cfws(s, i + 1) end
    if c == "\\" and i < #s then i = i + 1; c = s:sub(i, i) end
    if c ~= "\r" and c ~= "\n" then out[#out + 1] = c end
    i = i + 1
  end
end

-- The slow way, for ids holding quotes or comments: [CFWS] local "@" [CFWS] domain ">".
local function untokenized(s, i)
  i = skip_cfws(s, i)
  if not i then return nil end
  local left
  if s:sub(i, i) == '"' then left, i = quoted(s, i) else left, i = dot_atom(s, i) end
  if not left or not i or s:sub(i, i) ~= "@" then return nil end
  i = skip_cfws(s, i + 1)
  if not i then return nil end
  local right
  right, i = dot_atom(s, i)
  if not right or not i or s:sub(i, i) ~= ">" then return nil end
  return left .. "@" .. right, i + 1
end

--- thread.next_msgid(s, pos): the next valid message id "<a@b>" in s from pos, without its
--- brackets and whitespace, and the position after it; nil when there is none. As Dovecot's
--- message_id_get_next: an id without "@" is skipped; whitespace inside one is dropped.
function M.next_msgid(s, pos)
  pos = pos or 1
  while true do
    local lt = s:find("<", pos, true)
    if not lt then return nil end
    local stop = s:find('[>"(\0]', lt + 1)
    if not stop or s:byte(stop) == 0 then return nil end
    if s:sub(stop, stop) == ">" then
      local id = s:sub(lt + 1, stop - 1)
      pos = stop + 1
      if id:find("@", 1, true) then return (id:gsub("[ \t\r\n]", "")), pos end
    else
      local id, after = untokenized(s, lt + 1)
      if id then return id, after end
      pos = lt + 1
    end
  end
end

--- thread.fields(raw): the first value of each field of a fetched header block, unfolded and
--- undecoded, by lower-case name (as Dovecot reads the first header of each name).
function M.fields(raw)
  local out = {}
  for line in (raw:gsub("\r?\n([ \t])", "%1")):gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:%s]+)[ \t]*:[ \t]*(.*)$")
    if name then
      name = name:lower()
      if out[name] == nil then out[name] = value end
    end
  end
  return out
end

--- thread.record(uid, fields, internaldate): what threading needs of one message, from its
--- header fields ({["message-id"]=, references=, ["in-reply-to"]=, subject=, date=}, raw first
--- values): {uid=, id=, refs={...}, subject=, date=}.
function M.record(uid, fields, internaldate)
  local refs = {}
  local s, pos = fields.references or "", 1
  while true do
    local id
    id, pos = M.next_msgid(s, pos)
    if not id then break end
    refs[#refs + 1] = id
  end
  if #refs == 0 and fields["in-reply-to"] then refs[1] = M.next_msgid(fields["in-reply-to"]) end
  local date = fields.date and core.parse_date(fields.date)
  if not date or date == 0 then date = internaldate and core.parse_date(internaldate) or 0 end
  return { uid = uid, id = fields["message-id"] and M.next_msgid(fields["message-id"]),
           refs = refs, subject = fields.subject, date = date }
end

-- Links child under parent unless child has a parent already (that link stays) or the link
-- would make a loop (child is parent or above it). Only a parentless child that has been a
-- parent itself needs the walk up: References repeating a known chain, and a new message
-- answering the last of a long one, cost none.
local function link(parent, child)
  if child.parent then return end
  if child.had_kids or parent == child then
    local n = parent
    while n do
      if n == child then return end
      n = n.parent
    end
  end
  child.parent = parent
  parent.had_kids = true
end

local function before(a, b)
  if a.date ~= b.date then return a.date < b.date end
  return a.uid < b.uid
end

-- Step 4: sorts the roots by date (a dummy by its first child's); a dummy with one child gives
-- its place to that child, one with none is dropped.
local function sort_roots(roots)
  for _, r in ipairs(roots) do
    if not r.ignore then
      if r.dummy then
        local kids = r.node.kids
        if not kids or #kids == 0 then
          r.ignore = true
        else
          table.sort(kids, before)
          if #kids == 1 then r.node, r.dummy = kids[1], false end
          r.date, r.uid = kids[1].date, kids[1].uid
        end
      else
        r.date, r.uid = r.node.date, r.node.uid
      end
    end
    if r.ignore then r.date, r.uid = -math.huge, 0 end
  end
  table.sort(roots, function(a, b)
    if a.date ~= b.date then return a.date < b.date end
    return a.uid < b.uid
  end)
end

-- Step 5.B: the subject table, as a chain from each root to the one it merges into.
local function gather_subjects(roots)
  local table_ = {}
  for _, r in ipairs(roots) do
    local m = not r.ignore and (r.dummy and r.node.kids[1] or r.node)
    local base, reply
    if m and m.subject then base, reply = core.base_subject(core.decode_header(m.subject)) end
    if base and base ~= "" then
      local h = table_[base]
      if not h then
        table_[base] = r
      elseif not h.dummy and (r.dummy or (h.reply and not reply)) then
        h.up = r
        table_[base] = r
      else
        r.up = h
      end
      r.reply = reply
    end
  end
end

local function adopt(parent, child)
  parent.kids = parent.kids or {}
  parent.kids[#parent.kids + 1] = child
end

-- Step 5.C: merges the threads of one subject. Returns whether anything changed.
local function merge_subjects(roots)
  local changed = false
  for i = 1, #roots do
    local cur = roots[i]
    if cur.up and not cur.ignore then
      local top = cur.up
      while top.up do top = top.up end
      if cur.dummy then
        for _, k in ipairs(cur.node.kids) do adopt(top.node, k) end
        cur.node.kids = {}
      elseif top.dummy or (cur.reply and not top.reply) then
        adopt(top.node, cur.node)
      else
        local dummy = { node = { kids = { top.node, cur.node } }, dummy = true }
        top.up, top.ignore = dummy, true
        roots[#roots + 1] = dummy
      end
      cur.ignore = true
      changed = true
    end
  end
  return changed
end

-- The THREAD reply's shape: a lone child follows its parent in the same list, siblings each
-- get a list of their own.
local function emit(list, out, root)
  if #list == 1 and not root then
    local n = list[1]
    out[#out + 1] = n.uid
    if n.kids and #n.kids > 0 then
      table.sort(n.kids, before)
      emit(n.kids, out, false)
    end
    return
  end
  for _, n in ipairs(list) do
    local t = { n.uid }
    if n.kids and #n.kids > 0 then
      table.sort(n.kids, before)
      emit(n.kids, t, false)
    end
    out[#out + 1] = t
  end
end

--- thread.references(records): the threads of records (thread.record tables, any order) as
--- nested tables of UIDs, as r:threads gives them.
function M.references(records)
  table.sort(records, function(a, b) return a.uid < b.uid end)
  local nodes, by_id = {}, {}
  local function node_of(id)
    local n = by_id[id]
    if not n then
      n = {}
      by_id[id] = n
      nodes[#nodes + 1] = n
    end
    return n
  end
  -- Step 1, message by message in UID order.
  for _, m in ipairs(records) do
    local node = m.id and by_id[m.id]
    if not node or node.uid then        -- no id, or a duplicate: a node of its own
      node = {}
      if m.id and not by_id[m.id] then by_id[m.id] = node end
      nodes[#nodes + 1] = node
    end
    node.uid, node.date, node.subject = m.uid, m.date, m.subject
    local parent
    for _, id in ipairs(m.refs) do
      local n = node_of(id)
      if parent then link(parent, n) end
      parent = n
    end
    if node.parent ~= parent then node.parent = nil end
    if parent then link(parent, node) end
  end
  -- Steps 2 and 3: the roots; each message under its nearest real ancestor (or the top dummy).
  local roots = {}
  for _, n in ipairs(nodes) do
    if not n.parent then
      roots[#roots + 1] = { node = n, dummy = n.uid == nil }
    elseif n.uid then
      local p = n.parent
      while not p.uid and p.parent do p = p.parent end
      adopt(p, n)
    end
  end
  sort_roots(roots)
  gather_subjects(roots)
  if merge_subjects(roots) then sort_roots(roots) end
  local list = {}
  for _, r in ipairs(roots) do
    if not r.ignore then list[#list + 1] = r.node end
  end
  local out = {}
  emit(list, out, true)
  return out
end

return M
