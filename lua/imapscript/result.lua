-- result.lua — results: which messages (UIDs) of which mailboxes. Lazy: a search waits
-- in the account's queue until something needs its answer (#r, r:uids(), r:fetch, r:match);
-- actions on a result join the queue too and go out pipelined (see batch.lua).
local core = require "imapscript.core"
local log = require "imapscript.log"
local extensions = require "imapscript.extensions"
local query = require "imapscript.query"
local settings = require "imapscript.settings"
local model = require "imapscript.model"
local cache = require "imapscript.cache"
log.internal(debug.getinfo(1, "S").source)

local Result = {}
local R = {}                 -- methods
Result.__index = R
Result.__name = "imapscript.result"

local M = { methods = R }

local function usage(msg, level)
  error(core.error("usage", msg), (level or 1) + 1)
end

local function new(t) return setmetatable(t, Result) end
local function is_result(v) return getmetatable(v) == Result end
M.is_result = is_result

--- A search in box, queued on its account.
function M.search(box, q)
  local r = new { kind = "search", box = box, query = q }
  r.op = box.account:_enqueue { kind = "search", box = box, query = q, result = r }
  return r
end

--- A result whose UIDs are already known.
function M.known(box, set)
  return new { kind = "known", box = box, resolved = { { box = box, set = set } } }
end

--- A result of box whose UIDs come in a given order (SORT): iteration and fetch follow it.
function M.ordered(box, order)
  return new { kind = "known", box = box, resolved = { { box = box, set = core.set(order) } },
               order = order }
end

--- Parts of a resolved result, as {box=, set=}, one per mailbox, in a stable order.
local function by_box(parts)
  local map, order = {}, {}
  for _, p in ipairs(parts) do
    if map[p.box] then
      map[p.box] = map[p.box] + p.set
    else
      map[p.box] = p.set
      order[#order + 1] = p.box
    end
  end
  return map, order
end

-- a op b on resolved parts: union keeps every mailbox, intersection the common ones,
-- difference the left side's.
function M.combine_parts(how, pa, pb)
  local ma, oa = by_box(pa)
  local mb, ob = by_box(pb)
  local out = {}
  if how == "+" then
    for _, box in ipairs(oa) do
      out[#out + 1] = { box = box, set = mb[box] and (ma[box] + mb[box]) or ma[box] }
    end
    for _, box in ipairs(ob) do
      if not ma[box] then out[#out + 1] = { box = box, set = mb[box] } end
    end
  elseif how == "*" then
    for _, box in ipairs(oa) do
      if mb[box] then out[#out + 1] = { box = box, set = ma[box] * mb[box] } end
    end
  else
    for _, box in ipairs(oa) do
      out[#out + 1] = { box = box, set = mb[box] and (ma[box] - mb[box]) or ma[box] }
    end
  end
  return out
end

-- The single account a result lives in, or nil when it spans several.
local function account_of(r)
  if r.box then return r.box.account end
  if r.kind == "combine" then
    local a, b = account_of(r.a), account_of(r.b)
    if a and a == b then return a end
    return nil
  end
  local acct
  for _, p in ipairs(r.resolved or {}) do
    if acct and acct ~= p.box.account then return nil end
    acct = p.box.account
  end
  return acct
end

local function queued(acct, op)
  for i, o in ipairs(acct.queue) do
    if o == op then return i end
  end
end

--- Resolves r: flushes the accounts whose queues hold its searches. Returns its parts.
function M.resolve(r)
  if r.resolved then return r.resolved end
  if r.err then error(r.err, 0) end
  if r.kind == "search" then
    if not queued(r.box.account, r.op) then    -- its count was asked first: search now
      r.op = r.box.account:_enqueue { kind = "search", box = r.box, query = r.query, result = r }
    end
    r.box.account:flush()
    if r.err then error(r.err, 0) end
    if not r.resolved then usage("internal: search did not resolve") end
  elseif r.kind == "combine" then
    r.resolved = M.combine_parts(r.how, M.resolve(r.a), M.resolve(r.b))
  end
  return r.resolved
end

local function combine(how)
  return function(a, b)
    if not is_result(a) or not is_result(b) then
      usage(string.format("results combine only with results (got %s %s %s)",
        is_result(a) and "result" or type(a), how, is_result(b) and "result" or type(b)), 2)
    end
    if a.box and a.box == b.box then
      -- One mailbox: stays lazy, so both searches can go out in one batch.
      return new { kind = "combine", how = how, a = a, b = b, box = a.box }
    end
    return new { kind = "combine", how = how, a = a, b = b,
                 resolved = M.combine_parts(how, M.resolve(a), M.resolve(b)) }
  end
end
Result.__add = combine("+")
Result.__mul = combine("*")
Result.__sub = combine("-")

-- The error of a mailbox the server refused to open (a NO to its SELECT), with the script
-- line (and label): returned after a warning when the account says missing = "skip" (the caller takes
-- the mailbox as empty), raised otherwise.
local function refused(acct, err, label)
  local prefix = (log.where() and log.where() .. ": " or "") .. (label and label .. ": " or "")
  err = core.error(err.kind, prefix .. tostring(err.message), err)
  if err.kind == "no" and acct.cfg.missing == "skip" then
    log.warn(err.message .. " (taken as empty)")
    return err
  end
  error(err, 0)
end

-- {count=, min=, max=} of a search nothing else needs the UIDs of, from one
-- UID SEARCH RETURN (COUNT MIN MAX) that replaces the queued search; nil otherwise.
local function esearch_stats(r)
  if r.stats or r.resolved or r.err or r.kind ~= "search" then return r.stats end
  -- A dry run counts through its model of what the planned actions did (batch, model.lua).
  if settings.dry_run then return nil end
  local acct = r.box.account
  -- Only the last queued operation: the count then sees what every earlier one did, and
  -- nothing queued after it (which would run first) can use its UIDs.
  local at = queued(acct, r.op)
  if not at or at ~= #acct.queue or r.query:needs_utf8() then return nil end
  -- UID sets too long for one line: the queued search cuts them into several.
  if #tostring(r.query) > 7000 then return nil end
  -- Alone in the queue and answered by the mailbox's cache: resolved from it (batch.lua).
  if at == 1 and acct.selecting == r.box:_wire() and cache.answer(acct, r.box, r.query) then
    return nil
  end
  local conn = acct:_connection()
  if not conn:has("ESEARCH") or (r.query:uses_within() and not conn:has("WITHIN")) or
      (r.query:uses_gmail() and not conn:has("X-GM-EXT-1")) then
    return nil
  end
  table.remove(acct.queue, at)
  local ok, res = pcall(extensions.run, acct, r.box, "UID SEARCH",
    { core.atom "RETURN (COUNT MIN MAX)", r.query })
  if not ok and res.command == "SELECT" and refused(acct, res, "search " .. r.box.name) then
    r.resolved, r.stats = { { box = r.box, set = core.set("") } }, { count = 0 }
    return r.stats
  end
  if not ok then
    r.err = res
    error(res, 0)
  end
  local st = { count = 0 }
  for _, u in ipairs(res.untagged) do
    if u.name == "ESEARCH" then
      for i = 1, #u - 1 do
        if u[i] == "COUNT" then st.count = u[i + 1]
        elseif u[i] == "MIN" then st.min = u[i + 1]
        elseif u[i] == "MAX" then st.max = u[i + 1] end
      end
    end
  end
  r.stats = st
  -- What was counted is what later actions get: none when there were none, else a search
  -- bounded to the counted UIDs, so mail arriving meanwhile (higher UIDs) stays out of it.
  if st.count == 0 then
    r.resolved = { { box = r.box, set = core.set("") } }
  else
    r.query = query.Q.uid(string.format("%d:%d", st.min, st.max)) & r.query
  end
  return st
end

--- r:min(), r:max(): the smallest and largest UID (nil when empty); by ESEARCH alone when
--- nothing else needs the result's UIDs.
function R:min()
  local st = esearch_stats(self)
  if st then return st.min end
  local m
  for _, p in ipairs(M.resolve(self)) do
    local x = #p.set > 0 and p.set:min()
    if x and (not m or x < m) then m = x end
  end
  return m
end

function R:max()
  local st = esearch_stats(self)
  if st then return st.max end
  local m
  for _, p in ipairs(M.resolve(self)) do
    local x = #p.set > 0 and p.set:max()
    if x and (not m or x > m) then m = x end
  end
  return m
end

function Result.__len(r)
  local st = esearch_stats(r)
  if st then return st.count end
  local n = 0
  for _, p in ipairs(M.resolve(r)) do n = n + #p.set end
  return n
end
R.count = Result.__len

function Result.__tostring(r)
  if not r.resolved then
    return string.format("imap.result(%s: pending %s)", r.box and r.box.name or "?",
      r.query and tostring(r.query) or r.kind)
  end
  local t = {}
  for _, p in ipairs(r.resolved) do t[#t + 1] = p.box.name .. ": " .. tostring(p.set) end
  return "imap.result(" .. table.concat(t, "; ") .. ")"
end

--- r:set(): the UID set (a result of one mailbox).
function R:set()
  local parts = M.resolve(self)
  if #parts == 0 then return core.set("") end
  if #parts > 1 then usage("set(): this result spans several mailboxes; use r:parts()", 2) end
  return parts[1].set
end

--- r:parts(): {box=, set=} for each mailbox of the result.
function R:parts()
  local out = {}
  for i, p in ipairs(M.resolve(self)) do out[i] = { box = p.box, set = p.set } end
  return out
end

--- r:uids(): iterator of uid (and mailbox) over the result.
function R:uids()
  if self.order then
    local i, box = 0, self.box
    return function()
      i = i + 1
      if self.order[i] then return self.order[i], box end
    end
  end
  local parts = M.resolve(self)
  local i, it = 0, nil
  return function()
    while true do
      if it then
        local uid = it()
        if uid then return uid, parts[i].box end
      end
      i = i + 1
      if not parts[i] then return nil end
      it = parts[i].set:uids()
    end
  end
end

--- r:search(q): the messages of r that also match q, searched on the server.
function R:search(q)
  if self.kind == "search" and not self.resolved and not self.err then
    return M.search(self.box, self.query & q)
  end
  local out
  for _, p in ipairs(M.resolve(self)) do
    local r = M.search(p.box, core.query_uid(p.set) & q)
    out = out and (out + r) or r
  end
  return out or M.known(self.box, core.set(""))
end

---------------------------------------------------------------------------------------
-- Actions: queued on the account, returning the result so calls chain.

local function check_flags(flags, what)
  if type(flags) == "string" then flags = { flags } end
  if type(flags) ~= "table" or #flags == 0 then
    usage(what .. ": want a list of flags, e.g. {\"\\\\Seen\", \"$Todo\"}", 3)
  end
  for i, f in ipairs(flags) do
    if type(f) ~= "string" or f == "" or f:find("[%s%(%)%{%]\"%%%*%c]") then
      usage(string.format("%s: flag %d (%s) is not a valid flag", what, i, tostring(f)), 3)
    end
  end
  return flags
end

local function queue_action(r, op)
  op.kind = "action"
  op.src = r
  op.where = log.where()
  local acct = account_of(r)
  if acct then
    acct:_enqueue(op)
    return r
  end
  -- Spanning accounts: each mailbox's part goes to its own account's queue.
  for _, p in ipairs(M.resolve(r)) do
    local sub = {}
    for k, v in pairs(op) do sub[k] = v end
    sub.src = M.known(p.box, p.set)
    p.box.account:_enqueue(sub)
  end
  return r
end

local function check_box(box, what)
  if type(box) == "string" then
    usage(what .. ": want a mailbox (acct.Archive or acct[\"" .. box .. "\"]), not a string", 3)
  end
  if type(box) ~= "table" or not box.account then usage(what .. ": want a mailbox", 3) end
  return box
end

--- r:move_to(box [, {expunge = false}]): with expunge = false the originals are only
--- flagged \Deleted once the copy is confirmed, and left for another client to expunge.
function R:move_to(box, opts)
  check_box(box, "move_to")
  if opts ~= nil and type(opts) ~= "table" then usage("move_to: options must be a table", 2) end
  return queue_action(self, { verb = "move", dest = box, label = "move_to " .. box.name,
                              keep = opts ~= nil and opts.expunge == false })
end

function R:copy_to(box)
  check_box(box, "copy_to")
  return queue_action(self, { verb = "copy", dest = box, label = "copy_to " .. box.name })
end

function R:delete()
  return queue_action(self, { verb = "delete", label = "delete" })
end

local function store(mode, label, fixed)
  return function(self, flags)
    flags = fixed or check_flags(flags, label)
    return queue_action(self, { verb = "store", mode = mode, flags = flags, label = label })
  end
end
R.add_flags = store("+", "add_flags")
R.remove_flags = store("-", "remove_flags")
R.set_flags = store("=", "set_flags")
R.mark_seen = store("+", "mark_seen", { "\\Seen" })
R.mark_unseen = store("-", "mark_unseen", { "\\Seen" })
R.mark_flagged = store("+", "mark_flagged", { "\\Flagged" })
R.unmark_flagged = store("-", "unmark_flagged", { "\\Flagged" })
R.mark_answered = store("+", "mark_answered", { "\\Answered" })
R.unmark_answered = store("-", "unmark_answered", { "\\Answered" })

-- Gmail labels (X-GM-LABELS): names as scripts write them ("Work/Q1", "\\Important").
local function labels_action(mode, label)
  return function(self, labels)
    if type(labels) == "string" then labels = { labels } end
    if type(labels) ~= "table" or (#labels == 0 and mode ~= "=") then
      usage(label .. ": want a list of labels, e.g. {\"Work\", \"\\\\Important\"}", 2)
    end
    for i, l in ipairs(labels) do
      if type(l) ~= "string" or l == "" then
        usage(string.format("%s: label %d is not a non-empty string", label, i), 2)
      end
    end
    return queue_action(self, { verb = "labels", mode = mode, labels = labels, label = label })
  end
end
R.add_labels = labels_action("+", "add_labels")
R.remove_labels = labels_action("-", "remove_labels")
R.set_labels = labels_action("=", "set_labels")

---------------------------------------------------------------------------------------
-- Reading messages: one streamed FETCH per mailbox.

local fetch_names = {
  uid = "uid", flags = "flags", size = "size", date = "date", envelope = "envelope",
  headers = "header", body = "raw", raw = "raw", modseq = "modseq",
  bodystructure = "bodystructure", labels = "labels", gm_msgid = "gm_msgid", gm_thrid = "gm_thrid",
  preview = "preview",
}

-- The FETCH items asked of conn's server for the items of wire: a part decoded by the server
-- (BINARY.PEEK, RFC 3516) where it offers BINARY unless plain; the preview as RFC 8970's
-- PREVIEW, the draft's PREVIEW (FUZZY), Dovecot's SNIPPET (FUZZY), or else the message's
-- first 32 KiB ("preview_source"), from which core.preview makes one here.
local function server_items(wire, conn, plain)
  local out = {}
  for i, w in ipairs(wire) do
    local section = type(w) == "string" and w:match("^part:(.*)")
    if section and not plain and conn:has("BINARY") then
      w = "binary:" .. section
    elseif w == "preview" then
      w = conn:has("PREVIEW") and "preview" or conn:has("PREVIEW=FUZZY") and "preview_fuzzy"
        or conn:has("SNIPPET=FUZZY") and "snippet" or "preview_source"
    end
    out[i] = w
  end
  return out
end

local Message = {}
Message.__index = Message
Message.__name = "imapscript.message"

--- msg:header(name): the first value of a header field, decoded to UTF-8 (nil if absent).
function Message:header(name)
  local raw = rawget(self, "_header")
  if not raw then usage("header(): fetch {\"headers\"} first", 2) end
  return core.header_values(raw, name)[1]
end

--- msg:headers(name): every value of a header field, decoded.
function Message:headers(name)
  local raw = rawget(self, "_header")
  if not raw then usage("headers(): fetch {\"headers\"} first", 2) end
  return core.header_values(raw, name)
end

--- msg:parts(): iterator over every MIME part of the fetched bodystructure, depth first
--- (the message's own table first), each {part=, type=, subtype=, params=, filename=, ...}.
function Message:parts()
  local top = rawget(self, "bodystructure")
  if not top then usage("parts(): fetch {\"bodystructure\"} first", 2) end
  local stack = { top }
  return function()
    local p = table.remove(stack)
    if not p then return nil end
    local kids = p.children or {}
    for i = #kids, 1, -1 do stack[#stack + 1] = kids[i] end
    return p
  end
end

-- The bytes of the part fetched with "part:<section>" and its bodystructure entry, and the
-- transfer encoding they still have (none when the server decoded them: BINARY).
local function fetched_part(msg, section, what)
  local data = (rawget(msg, "_sections") or {})[section]
  if not data then usage(string.format("%s: fetch {\"part:%s\"} first", what, section), 3) end
  local part
  for p in msg:parts() do
    if p.part == section then part = p break end
  end
  if not part then usage(string.format("%s: the message has no part %s", what, section), 3) end
  local encoding = (rawget(msg, "_binary") or {})[section] and "binary" or part.encoding
  return data, part, encoding
end

--- msg:part_text(section): the part fetched with "part:<section>", its transfer encoding
--- undone and, for text parts, converted to UTF-8 (other parts: the decoded bytes).
function Message:part_text(section)
  local data, part, encoding = fetched_part(self, tostring(section), "part_text()")
  local charset
  if part.type == "text" then charset = part.params.charset or "" end
  return core.decode_part(data, encoding, charset)
end

local use_box

-- Writes bytes to the file path: their number, or nil and a message.
local function write_file(path, bytes)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(bytes)
  local cok, cerr = f:close()
  if not ok or not cok then return nil, string.format("%s: %s", path, werr or cerr) end
  return #bytes
end

-- One FETCH of msg's items on its mailbox's connection; the message table, or raises.
local function fetch_one(msg, items, what)
  local box = msg.mailbox
  local conn = box and use_box(box)
  if not conn then usage(what .. ": the message's mailbox cannot be opened", 3) end
  local got
  local h = conn:fetch(core.set { msg.uid }, items, function(m) got = m end)
  conn:wait(h)
  local ok, err = h:result()
  if not ok then return nil, err end
  if not got then
    return nil, core.error("no", string.format("%s: message %d of %s is gone", what, msg.uid,
      box.name), { command = "UID FETCH", mailbox = box.name })
  end
  return got
end

--- msg:save(path [, section]): writes the message (or the part numbered section, its transfer
--- encoding undone but not converted: an attachment's own bytes) to the file path. What was
--- fetched ("raw", "part:<section>") is written as it is; anything else is fetched now and
--- written as it arrives, so a message of any size passes in bounded memory. Returns the
--- number of bytes written, or nil and a message.
function Message:save(path, section)
  if type(path) ~= "string" then usage("save(): want a file name", 2) end
  if section == nil and rawget(self, "raw") then return write_file(path, self.raw) end
  if section ~= nil then
    section = tostring(section)
    if (rawget(self, "_sections") or {})[section] then
      local data, _, encoding = fetched_part(self, section, "save()")
      return write_file(path, core.decode_part(data, encoding))
    end
  end
  if not self.uid then usage("save(): the message has no UID", 2) end
  local box = self.mailbox
  local conn = box and use_box(box)
  if not conn then return nil, string.format("save(): %s cannot be opened", box and box.name or "?") end
  local encoding
  if section and not conn:has("BINARY") then
    -- Decoded here: the part's transfer encoding comes from its structure.
    if not rawget(self, "bodystructure") then
      local m, err = fetch_one(self, { "uid", "bodystructure" }, "save()")
      if not m then return nil, err end
      self.bodystructure = m.bodystructure
    end
    local part
    for p in self:parts() do if p.part == section then part = p break end end
    if not part then usage(string.format("save(): the message has no part %s", section), 2) end
    encoding = part.encoding or "7bit"
  elseif section then
    encoding = "binary"     -- BINARY.PEEK: the server undoes the encoding
  end
  local m, err = fetch_one(self, { "uid", { "save", path, section, encoding } }, "save()")
  if not m and encoding == "binary" and err.kind == "no" then
    -- The server would not decode it ([UNKNOWN-CTE]): the part as it is, decoded here.
    local st = fetch_one(self, { "uid", "bodystructure" }, "save()")
    self.bodystructure = st and st.bodystructure or self.bodystructure
    local part
    if rawget(self, "bodystructure") then
      for p in self:parts() do if p.part == section then part = p break end end
    end
    m, err = fetch_one(self, { "uid", { "save", path, section, part and part.encoding or "7bit" } },
      "save()")
  end
  if not m then return nil, err end
  if m.save_error then return nil, m.save_error end
  return m.saved or 0
end

-- Envelope strings arrive as the header had them: decode RFC 2047 words for scripts.
local function decode_envelope(env)
  if not env then return nil end
  if env.subject then env.subject = core.decode_header(env.subject) end
  for _, field in ipairs { "from", "sender", "reply_to", "to", "cc", "bcc" } do
    for _, addr in ipairs(env[field] or {}) do
      if addr.name then addr.name = core.decode_header(addr.name) end
    end
  end
  return env
end

-- Gmail's labels arrive in modified UTF-7 like mailbox names; system labels ("\\Inbox") as they are.
local function decode_labels(labels)
  if not labels then return nil end
  for i, l in ipairs(labels) do
    if l:sub(1, 1) ~= "\\" then labels[i] = core.mutf7_decode(l) or l end
  end
  return labels
end

local function message_table(m, want_body, want_raw, box, max_body)
  -- A dry run shows the flags its planned actions would have left.
  local flags = settings.dry_run and model.flags(box, m.uid, m.flags) or m.flags
  local msg = {
    uid = m.uid, seq = m.seq, flags = flags, size = m.size, internaldate = m.internaldate,
    modseq = m.modseq, envelope = decode_envelope(m.envelope), _header = m.header, mailbox = box,
    bodystructure = m.bodystructure, _sections = m.sections, _binary = m.binary,
    labels = decode_labels(m.labels),
    gm_msgid = m.gm_msgid, gm_thrid = m.gm_thrid,
    date = m.internaldate and core.parse_date(m.internaldate) or nil,
    preview = m.preview or (m.preview_source and core.preview(m.preview_source)),
  }
  if msg.bodystructure then
    local function walk(p)
      if p.envelope then decode_envelope(p.envelope) end
      for _, c in ipairs(p.children or {}) do walk(c) end
    end
    walk(msg.bodystructure)
  end
  if want_body and m.raw then
    local cut
    msg.body, cut = core.body_text(m.raw, max_body)
    msg.body_truncated = cut or nil
  elseif want_body then
    msg.body, msg.body_truncated = m.text or "", m.text_truncated
  end
  if want_raw then msg.raw = m.raw end
  return setmetatable(msg, Message)
end

-- An iterator of sets of at most n members that cover set in order (a mailbox a chunk at a
-- time). Each chunk is made when asked for: memory stays flat however large the set.
local function chunks(set, n)
  local ranges = set:ranges()
  local lo, hi = ranges()
  return function()
    if not lo then return nil end
    local text, count = {}, 0
    while lo and count < n do
      local take = math.min(hi - lo + 1, n - count)
      text[#text + 1] = take == 1 and tostring(lo) or (lo .. ":" .. (lo + take - 1))
      count = count + take
      lo = lo + take
      if lo > hi then lo, hi = ranges() end
    end
    return core.set(table.concat(text, ","))
  end
end
M.chunks = chunks

--- Selects box on its account's connection unless it is already the mailbox in use.
--- Returns the connection; nil (after a warning) when the server refuses to open the
--- mailbox and the account says missing = "skip": the caller takes it as empty.
function use_box(box)
  local acct = box.account
  acct:flush()
  local conn = acct:_connection()
  local h = acct:_select(conn, box)
  if h then
    conn:wait(h)
    local ok, err = h:result()
    if not ok then
      acct:_deselect()
      refused(acct, err)
      return nil
    end
  end
  return conn
end
M.use_box = use_box

--- r:fetch { "flags", "size", "date", "envelope", "headers", "body", "raw" }: an iterator
--- of message tables, fetched a chunk at a time (the next chunk is asked for while the
--- script works on this one), so memory stays flat in the mailbox size.
function R:fetch(items)
  if type(items) ~= "table" then usage("fetch: want a list of items, e.g. {\"envelope\", \"size\"}", 2) end
  local wire, seen, want_body, want_raw = { "uid" }, { uid = true }, false, false
  for i, it in ipairs(items) do
    local w = fetch_names[it]
    if type(it) == "string" and it:match("^part:") then
      w = it
      -- part_text needs the part's encoding and charset: the structure comes along.
      if not seen.bodystructure then seen.bodystructure = true; wire[#wire + 1] = "bodystructure" end
    end
    if not w then usage(string.format("fetch: unknown item %d %q", i, tostring(it)), 2) end
    if it == "body" then want_body = true end
    if it == "raw" then want_raw = true end
    if not seen[w] and it ~= "body" then seen[w] = true; wire[#wire + 1] = w end
  end
  -- The text alone: read as it arrives, never held whole (raw and body: from the raw).
  if want_body and not want_raw then wire[#wire + 1] = { "text" } end
  if want_body and want_raw and not seen.raw then wire[#wire + 1] = "raw" end
  -- Whole messages, or their first 32 KiB for a preview made here: smaller chunks.
  local per_chunk = (want_body or want_raw) and 50 or seen.preview and 200 or 500
  local parts = M.resolve(self)
  local total = 0
  for _, p in ipairs(parts) do total = total + #p.set end
  local progress, progress_done = log.progress("fetch", total)
  local done = 0

  local pi, pchunks = 0, nil
  local rank
  if self.order then
    -- A sorted result: chunks follow its order, and each chunk is put back in it.
    rank = {}
    for i, uid in ipairs(self.order) do rank[uid] = i end
    local pos = 0
    parts = { { box = self.box, set = false } }
    pi, pchunks = 1, function()
      if pos >= #self.order then return nil end
      local n = math.min(per_chunk, #self.order - pos)
      local uids = table.move(self.order, pos + 1, pos + n, 1, {})
      pos = pos + n
      return core.set(uids)
    end
  end
  local current, ready, next_pending = nil, 1, nil

  -- Sends the FETCH of chunk in box (plain: parts undecoded, BODY.PEEK); returns {handle=,
  -- msgs=, conn=, chunk=, box=, binary=}.
  local function send_chunk(conn, box, chunk, plain)
    local msgs = {}
    local items = server_items(wire, conn, plain)
    for i, w in ipairs(items) do      -- the text as far as its account's max_body
      if type(w) == "table" and w[1] == "text" then items[i] = { "text", box.account.cfg.max_body } end
    end
    local h = conn:fetch(chunk, items, function(m)
      if m.uid then
        msgs[#msgs + 1] = message_table(m, want_body, want_raw, box, box.account.cfg.max_body)
      end
    end)
    local binary = false
    for _, w in ipairs(items) do binary = binary or (type(w) == "string" and w:match("^binary:") ~= nil) end
    return { handle = h, msgs = msgs, conn = conn, chunk = chunk, box = box, binary = binary }
  end

  -- Sends the FETCH for the next chunk; returns send_chunk's record, or nil at the end.
  local function send_next()
    while true do
      local chunk = pchunks and pchunks()
      local conn = chunk and use_box(parts[pi].box)
      if chunk and not conn then
        pchunks = nil          -- a mailbox skipped as missing
      elseif chunk then
        return send_chunk(conn, parts[pi].box, chunk, false)
      end
      pi = pi + 1
      if not parts[pi] then return nil end
      pchunks = chunks(parts[pi].set, per_chunk)
    end
  end

  next_pending = send_next()
  return function()
    while true do
      if current and ready <= #current.msgs then
        local m = current.msgs[ready]
        current.msgs[ready] = nil
        ready = ready + 1
        done = done + 1
        progress(done)
        return m
      end
      if not next_pending then
        progress_done()
        return nil
      end
      current, ready = next_pending, 1
      current.conn:wait(current.handle)
      local ok, err = current.handle:result()
      if not ok and current.binary and err.kind == "no" then
        -- The server would not decode a part ([UNKNOWN-CTE], broken base64): the same chunk
        -- again undecoded, decoded here as leniently as without BINARY.
        current = send_chunk(current.conn, current.box, current.chunk, true)
        current.conn:wait(current.handle)
        ok, err = current.handle:result()
      end
      if not ok then progress_done(); error(err, 0) end
      if rank then
        table.sort(current.msgs, function(a, b) return rank[a.uid] < rank[b.uid] end)
      else
        table.sort(current.msgs, function(a, b) return a.uid < b.uid end)
      end
      next_pending = send_next()
    end
  end
end

-- Keeps the messages of each part for which keep(msg) is true, with one FETCH per part.
local function filter(r, items, keep, what)
  local out = {}
  local parts = M.resolve(r)
  local total, done = 0, 0
  for _, p in ipairs(parts) do total = total + #p.set end
  local progress, progress_done = log.progress(what, total)
  for _, p in ipairs(parts) do
    local uids = {}
    local conn = #p.set > 0 and use_box(p.box)
    if conn then
      local h = conn:fetch(p.set, type(items) == "function" and items(p.box) or items, function(m)
        done = done + 1
        progress(done)
        if m.uid and keep(m) then uids[#uids + 1] = m.uid end
      end)
      conn:wait(h)
      local ok, err = h:result()
      if not ok then
        progress_done()
        err.message = string.format("%s: %s", what, err.message)
        error(err, 0)
      end
    end
    out[#out + 1] = { box = p.box, set = core.set(uids) }
  end
  progress_done()
  local res = new { kind = "known", resolved = out }
  if #out == 1 then res.box = out[1].box end
  if #out == 0 then res.box = r.box end
  return res
end

--- Calls fn(uid, text, box) for each message of r, text being what BODY.PEEK[HEADER.FIELDS
--- (field)] gives for it (nil when the server gave nothing): from the cache where it holds the
--- field (cache.lua), else one FETCH per mailbox.
function M.each_field(r, field, fn, what)
  local parts = M.resolve(r)
  local total, done = 0, 0
  for _, p in ipairs(parts) do total = total + #p.set end
  local progress, progress_done = log.progress(what, total)
  local function each(box)
    return function(uid, text)
      done = done + 1
      progress(done)
      fn(uid, text, box)
    end
  end
  for _, p in ipairs(parts) do
    local conn = #p.set > 0 and use_box(p.box)
    if conn then
      local ok, err = pcall(function()
        if cache.fields(conn, p.box, p.set, field, each(p.box)) then return end
        local got = each(p.box)
        local h = conn:fetch(p.set, { "uid", { "fields", field } }, function(m)
          if m.uid then got(m.uid, m.fields) end
        end)
        conn:wait(h)
        local fine, ferr = h:result()
        if not fine then error(ferr, 0) end
      end)
      if not ok then
        progress_done()
        if type(err) == "table" then err.message = string.format("%s: %s", what, err.message) end
        error(err, 0)
      end
    end
  end
  progress_done()
end

local function compile(pattern, what)
  if type(pattern) == "userdata" then return pattern end
  if type(pattern) ~= "string" then usage(what .. ": want a pattern string", 3) end
  local re, err = core.regex(pattern)
  if not re then usage(string.format("%s: %s", what, err), 3) end
  return re
end

--- r:match(field, pattern): the messages whose header field matches the PCRE2 pattern,
--- field values decoded from RFC 2047 to UTF-8 first. The field comes from the cache where it
--- holds it, else from one FETCH (with every field this script's matches read there).
function R:match(field, pattern)
  if type(field) ~= "string" or field == "" or field:find("[%s:%c%(%)]") then
    usage("match: want a header field name, e.g. \"Subject\"", 2)
  end
  local re = compile(pattern, "match")
  local keep, order = {}, {}
  M.each_field(self, field, function(uid, text, box)
    for _, v in ipairs(core.header_values(text or "", field)) do
      if re:test(v) then
        if not keep[box] then keep[box] = {}; order[#order + 1] = box end
        keep[box][#keep[box] + 1] = uid
        return
      end
    end
  end, "match " .. field)
  local out = {}
  for _, p in ipairs(M.resolve(self)) do
    out[#out + 1] = { box = p.box, set = core.set(keep[p.box] or {}) }
  end
  local res = new { kind = "known", resolved = out }
  res.box = #out == 1 and out[1].box or (#out == 0 and self.box or nil)
  return res
end

--- r:match_body(pattern [, {max_body = n}]): the messages whose text body (decoded from its
--- transfer encoding and charset) matches. One FETCH; each message is searched as it arrives,
--- in pieces, so any size works in bounded memory. With max_body (or the account's setting)
--- only the first n bytes of each text are searched, and a warning says how many were longer.
function R:match_body(pattern, opts)
  local re = compile(pattern, "match_body")
  if opts ~= nil and type(opts) ~= "table" then usage("match_body: options must be a table", 2) end
  local max = opts and opts.max_body
  if max ~= nil and (math.type(max) ~= "integer" or max < 1) then
    usage("match_body: max_body must be a whole number of bytes", 2)
  end
  local cut, long, label, limit = 0, 0, nil, nil
  local res = filter(self, function(box)
    label, limit = box.account.label, max or box.account.cfg.max_body
    return { "uid", { "match", re, limit } }
  end, function(m)
    if m.match_error then
      error(core.error("regex", string.format("match_body: message %d: %s", m.uid, m.match_error)), 0)
    end
    if m.match_truncated then cut = cut + 1 end
    if m.match_window then long = long + 1 end
    return m.match
  end, "match_body")
  local function messages(n) return n == 1 and "1 message" or n .. " messages" end
  if cut > 0 then
    log.warn(string.format("%s: match_body: %s searched in %s first %d bytes only (max_body)",
      label, messages(cut), cut == 1 and "its" or "their", limit))
  end
  if long > 0 then
    log.warn(string.format("%s: match_body: in %s a possible match longer than 1 MiB of text " ..
      "was given up", label, messages(long)))
  end
  return res
end

return M
