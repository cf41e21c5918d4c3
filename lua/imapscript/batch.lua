-- batch.lua — sends an account's queue of searches and actions as pipelined batches, each
-- state-changing step written to the journal (journal.lua) before its command goes out.
-- Commands go out back to back and the replies are read once (a round), except where an
-- answer is needed first: an action on a result whose UIDs are not known yet (unless
-- SEARCHRES lets it say "$"), a COPY (it waits until the journal names its messages), and the
-- removal that must follow a confirmed COPY. After a command that expunges (MOVE, EXPUNGE) the
-- next command re-selects the mailbox: servers answer commands pipelined behind an expunge from
-- their view before it. A dropped connection is made again (3 tries), the journal resolved, and
-- what was not done is sent again.
local core = require "imapscript.core"
local log = require "imapscript.log"
local settings = require "imapscript.settings"
local Result = require "imapscript.result"
local transfer = require "imapscript.transfer"
local journal = require "imapscript.journal"
local model = require "imapscript.model"
local state = require "imapscript.state"
local create = require "imapscript.create"
local cache = require "imapscript.cache"
log.internal(debug.getinfo(1, "S").source)

local Run = {}
Run.__index = Run

-- Error kinds that mean the connection is gone (a garbled reply is not retried: kind protocol).
local LOST = { network = true, closed = true }
local Lost = {}                     -- metatable of the error that unwinds to M.run
local BACKOFF = { 1, 2 }            -- seconds before the 2nd and 3rd reconnection tries
local MAX_RESUMES = 5               -- per flush, so that a server that always drops ends it

local function is_lost(err) return getmetatable(err) == Lost end

-- "rules.lua:12: move_to Archive: <server's error>" for an error of a queued operation.
local function annotate(err, op)
  if type(err) ~= "table" then err = core.error("usage", tostring(err)) end
  local prefix = {}
  if op.where then prefix[#prefix + 1] = op.where end
  if op.label then prefix[#prefix + 1] = op.label end
  if #prefix == 0 then return err end
  local msg = table.concat(prefix, ": ") .. ": " .. tostring(err.message)
  return core.error(err.kind or "usage", msg, err)
end

-- The first error is raised at the end of the run; later ones are shown as they come.
function Run:record(err)
  if #self.errors > 0 then log.warn(tostring(err.message or err)) end
  self.errors[#self.errors + 1] = err
end

-- Remembers a handle and what to do with its answer at the end of the round.
function Run:track(handle, finish)
  self.inflight[#self.inflight + 1] = { handle = handle, finish = finish }
end

--- Writes what is queued and reads every answer; runs each finish in order. When the
--- connection was lost, the answers that did arrive are still finished, then Lost is raised.
function Run:round()
  if #self.inflight == 0 then return end
  self.conn:wait()
  local list = self.inflight
  self.inflight = {}
  self.saved = nil       -- every search of the round is resolved now: no need for "$"
  self.fetching = nil
  local lost
  for _, t in ipairs(list) do
    local value, err = t.handle:result()
    if value == nil and err and LOST[err.kind] then
      lost = lost or err
    elseif not lost then
      t.finish(value, err)
    elseif value ~= nil then
      -- What the server did before the drop is journaled; what it leads to waits for resume.
      local ok, ferr = pcall(t.finish, value, err)
      if not ok and not is_lost(ferr) then self:record(ferr) end
    end
  end
  if lost then error(setmetatable({ err = lost }, Lost), 0) end
end

-- An operation has one more part whose last command is in flight / one less.
local function part_begin(op) op.waiting = (op.waiting or 0) + 1 end
local function part_end(op, failed)
  op.waiting = op.waiting - 1
  if failed then op.failed = true end
end

-- The UIDs of a part whose set may still be "$", once its search's round is over.
local function concrete(src, part)
  if part.set ~= "$" then return part.set end
  for _, p in ipairs(src.resolved or {}) do
    if p.box == part.box then return p.set end
  end
  return core.set("")
end

-- Sends send(set) for a part of op's result. When another client expunged some of those
-- messages unseen by this session, Dovecot answers NO [EXPUNGEISSUED] and (for COPY and
-- MOVE) does nothing; after a NOOP has told us of the expunges, the command is sent again.
-- A destination believed to exist that another client deleted meanwhile gives [TRYCREATE]:
-- with create = true it is created and the command sent again. By then later operations
-- may have selected another mailbox (and emptied "$"): the retry selects the part's
-- mailbox again and names its UIDs.
function Run:track_uids(op, part, send, finish)
  self:track(send(part.set), function(v, err)
    local code = v == nil and err and err.code
    local again = code == "EXPUNGEISSUED" or (code == "TRYCREATE" and op.dest
      and self.acct.cfg.create and not op.create_failed)
    if not again then return finish(v, err) end
    self:select(part.box, op)
    if code == "TRYCREATE" then
      self:create_dest(op)
    else
      self:track(self.conn:noop(), function() end)
    end
    self:track(send(concrete(op.src, part)), finish)
  end)
end

-- Selects box for op (whose script line an error names) unless it is selected already.
-- Returns true when a SELECT was sent. self.sel is the selection the commands sent next
-- rely on: when the server refuses to open the mailbox (NO: missing, or not selectable),
-- they fail too ("no mailbox selected"), and sel.err is reported once, for all of them:
-- an error naming the mailbox and the script line, or with missing = "skip" a warning.
function Run:select(box, op)
  local acct = self.acct
  local h = acct:_select(self.conn, box)
  if h then
    self.saved = nil     -- SELECT empties the server's saved result
    self.fetching = nil
    local sel = { box = box }
    self.sel = sel
    self:track(h, function(v, err)
      if v then
        if type(v) == "table" then acct.uidvalidity[box.name] = v.uidvalidity end
        return
      end
      acct:_deselect()
      if err.kind ~= "no" then return self:record(annotate(err, op)) end
      sel.err = annotate(err, { where = op.where, label = op.label or ("search " .. box.name) })
      sel.err.missing = true
      if acct.cfg.missing == "skip" then
        log.warn(sel.err.message .. " (taken as empty)")
      else
        self:record(sel.err)
      end
    end)
  elseif not self.sel or self.sel.box ~= box then
    self.sel = { box = box }
  end
  return h ~= nil
end

-- Records the error of op's command, unless it only followed from its mailbox's failed
-- SELECT (sel.err), which is reported already.
function Run:fail(op, sel, err)
  if sel and sel.err then return end
  self:record(annotate(err, op))
end

-- After a command that expunges from the selected mailbox (MOVE, EXPUNGE, or a STORE of
-- \Deleted, whose EXPUNGE follows) the next command re-selects it: servers answer commands
-- pipelined behind an expunge from their view before it (Dovecot's SEARCH after a MOVE still
-- finds the moved messages). A SELECT runs only once everything before it is done. (It also
-- ends \Recent for this session: only a rule after a removal sees that.)
function Run:changed()
  self.acct:_stale()
  self.saved = nil
end

-- Queries the server can run: OLDER/YOUNGER become dates without WITHIN (RFC 5032).
function Run:server_query(q)
  if q:uses_gmail() and not self.conn:has("X-GM-EXT-1") then
    error(core.error("capability", self.acct.label ..
      ": Gmail's search keys (Q.gmail, Q.gm_msgid, Q.gm_thrid) need a Gmail server (X-GM-EXT-1)"), 0)
  end
  if not self.conn:has("WITHIN") and q:uses_within() then
    return q:without_within(os.time())
  end
  return q
end

-- The answer of a search from the mailbox's cache (cache.lua): only in a real run, on the
-- selected mailbox, with nothing in flight that could still change it.
function Run:local_answer(box, q)
  if settings.dry_run or #self.inflight > 0 or self.acct.selecting ~= box:_wire() then return nil end
  local set = cache.answer(self.acct, box, q)
  if set then log.info(string.format("%s: search %s answered from the cache", box.name, tostring(q)), 2) end
  return set
end

-- A STORE on "$" goes to the messages it changes only: before it (and its pre-image FETCH),
-- "$" is narrowed on the server to those lacking (+) or having (-) one of its flags, by
-- UID SEARCH RETURN (SAVE) UID $ ..., when no later action in the batch uses "$" for the same
-- result and --log does not want a line for every message of the result. A rule that flags
-- the same messages on every run then costs a search, not their pre-image. Returns true when
-- narrowed.
function Run:narrow(op, r)
  if op.mode == "=" or log.audit_file or self.saved ~= r then return false end
  local after = false
  for _, o in ipairs(self.ops or {}) do
    if after and o.src == r then return false end
    after = after or o == op
  end
  local sel = self.sel
  self:track(self.conn:command("UID SEARCH",
    { core.atom "RETURN (SAVE) UID $", model.changed_by(op.mode, op.flags) }), function(v, err)
      if v ~= nil and v.status == "OK" then return end
      if sel and sel.err then return end       -- the mailbox would not open: said once
      op.failed = true
      self:record(annotate(err or core.error("no", "UID SEARCH: " .. tostring(v and v.text)), op))
    end)
  self.saved = nil
  return true
end

-- What a STORE on known UIDs changes, when the mailbox's cache knows their flags: the UIDs it
-- changes (lacking (+) or having (-) one of its flags) and how many of the set exist; nil
-- otherwise. The STORE goes to those only, and is neither sent nor journaled when they are none
-- (a rule adding flags its messages all have already): a rule flagging the same messages on
-- every run costs nothing for them. Not with --log, whose lines name every message acted on.
function Run:store_changes(op, box, set)
  if op.mode == "=" or log.audit_file then return nil end
  local changed = self:local_answer(box, core.query_uid(set) & model.changed_by(op.mode, op.flags))
  local present = changed and self:local_answer(box, core.query_uid(set))
  if not present then return nil end
  return changed, #present
end

function Run:send_search(op)
  local r = op.result
  local set = self:local_answer(op.box, op.query)
  if set then
    r.resolved = { { box = op.box, set = set } }
    return
  end
  self:select(op.box, op)
  local sel = self.sel
  local save = not settings.dry_run and self.conn:has("SEARCHRES")
  local q = settings.dry_run and model.query(op.box, op.query) or op.query
  op.handle = self.conn:search(self:server_query(q), { save = save })
  self.saved = save and r or nil
  self:track(op.handle, function(set, err)
    if set then
      r.resolved = { { box = op.box, set = set } }
    elseif sel.err then
      -- The mailbox could not be opened: no messages (missing = "skip"), or its error.
      if self.acct.cfg.missing == "skip" then
        r.resolved = { { box = op.box, set = core.set("") } }
      else
        r.err = sel.err
      end
    else
      r.err = annotate(err, { where = op.where, label = "search " .. op.box.name })
      self:record(r.err)
    end
  end)
end

-- The parts of result r for an action: {box=, set=}, where set may be "$" when the
-- server holds r as its saved search result. concrete = true never gives "$".
function Run:parts_of(r, concrete)
  if r.resolved then return r.resolved end
  if r.err and r.err.missing then return {} end   -- reported with its SELECT
  if r.err then error(r.err, 0) end
  if r.kind == "search" then
    if not concrete and self.saved == r and self.acct.selecting == r.box:_wire() then
      return { { box = r.box, set = "$" } }
    end
    if r.op and r.op.handle then
      self:round()
      if r.err and r.err.missing then return {} end
      if r.err then error(r.err, 0) end
      return r.resolved
    end
    return Result.resolve(r)
  end
  -- A combination of results of this mailbox: both sides must be known.
  r.resolved = Result.combine_parts(r.how, self:parts_of(r.a, true), self:parts_of(r.b, true))
  return r.resolved
end

-- "+FLAGS (\Seen)" for a store operation's plan line.
local function store_text(op)
  local how = { ["+"] = "+FLAGS", ["-"] = "-FLAGS", ["="] = "FLAGS" }
  return string.format("%s (%s)", how[op.mode], table.concat(op.flags, " "))
end

-- Dry run: one plan line per mailbox part, nothing sent. The parts lose what earlier planned
-- actions took away, and the model learns what this one does.
function Run:plan(op)
  for _, p in ipairs(self:parts_of(op.src, true)) do
    local set = model.present(p.box, p.set)
    local n, uids = #set, tostring(set)
    local step = { action = op.verb, account = self.acct.label, from = p.box.name,
                   count = n, uids = uids, line = op.where }
    local text
    if op.verb == "move" or op.verb == "copy" then
      step.to = op.dest.name
      if op.dest.account ~= self.acct then
        -- To another account: both sides name their account ("move 4 Work:INBOX -> Home:INBOX").
        step.to_account = op.dest.account.label
        text = string.format("%s %d %s:%s -> %s:%s", op.verb, n, self.acct.label, p.box.name,
          op.dest.account.label, op.dest.name)
      else
        text = string.format("%s %d %s -> %s", op.verb, n, p.box.name, op.dest.name)
      end
    elseif op.verb == "store" then
      step.mode, step.flags = op.mode, op.flags
      text = string.format("store %s %d %s", store_text(op), n, p.box.name)
    elseif op.verb == "labels" then
      step.mode, step.labels = op.mode, op.labels
      text = string.format("labels %s(%s) %d %s", op.mode == "=" and "" or op.mode,
        table.concat(op.labels, " "), n, p.box.name)
    else
      text = string.format("%s %d %s", op.verb, n, p.box.name)
    end
    log.plan(step, string.format("%s (uids %s)", text, n > 0 and uids or "none"))
    model.apply(op, p.box, set)
  end
end

local past = { move = "moved", copy = "copied", delete = "deleted" }

-- The log line of a completed part: "moved 37 messages INBOX -> Archive". The step is what
-- the imapfilter layer needs to word the line its own way.
local function log_done(op, box, n)
  local step = { op = op, box = box, count = n }
  local msgs = log.count(n, "message")
  if n == 0 then
    log.info(string.format("%s: no messages in %s", op.label, box.name))
  elseif op.verb == "store" then
    log.action(string.format("%s %s in %s", op.label ..
      (op.label:find("flags$") and " " .. table.concat(op.flags, " ") or ""), msgs, box.name), step)
  elseif op.dest then
    -- move_to(box, {expunge = false}) leaves the originals: the line says so.
    log.action(string.format("%s %s %s -> %s%s", past[op.verb], msgs, box.name, op.dest.name,
      op.keep and " (the originals flagged \\Deleted, not expunged)" or ""), step)
  else
    log.action(string.format("%s %s from %s", past[op.verb], msgs, box.name), step)
  end
end

-- True for a STORE whose flags its own search tests, when another action follows on the same
-- result (r:mark_seen():move_to(...) of a search for unseen mail): it goes out on known UIDs, not
-- on "$". Were its search's answer lost in a dropped connection, the search sent again after
-- reconnecting would no longer find what the STORE changed, and the next action would miss it.
function Run:changes_own_search(op)
  local r = op.src
  if op.verb ~= "store" or r.kind ~= "search" or not model.tests_flags(r.query, op.flags) then
    return false
  end
  local after = false
  for _, o in ipairs(self.ops or {}) do
    if after and o.src == r then return true end
    after = after or o == op
  end
  return false
end

-- A part's last command was refused: its entry says so, and the error is reported once (not
-- when it only followed from a failed SELECT or CREATE, reported already).
function Run:part_failed(op, e, sel, err)
  e:failed(tostring(err and err.message))
  part_end(op, true)
  if not op.create_failed then self:fail(op, sel, err) end
end

-- A journal entry for a part of op, in the journal before this returns.
-- t.verb is op's verb unless given (the "undelete" entry of a removal without UIDPLUS).
function Run:entry(op, part, t)
  if not t.verb then
    t.verb = op.verb
    if op.dest then
      t.dest_mailbox, t.dest_account = op.dest.name, journal.key(op.dest.account.cfg)
    end
    if op.verb == "store" then t.mode, t.flags = op.mode, op.flags end
  end
  t.line, t.label, t.resolves = op.where, op.label, op.resolves
  t.mailbox = part.box.name
  t.uidvalidity = self.acct.uidvalidity[t.mailbox]
  t.account_label = self.acct.label
  local e = journal.entry(self.key, t)
  op.entries[#op.entries + 1] = e
  return e
end

local PRE_ITEMS = { "uid", "flags", "size", { "fields", "Message-ID" } }

local message_id = transfer.message_id

local CHUNK = 2000       -- pre-image messages written to the journal at a time

-- Queues the FETCH of what a part's messages are before a change (UID, flags, size,
-- Message-ID), staged into e (a journal entry, or a journal.staging() for an entry made once
-- the answer is in) CHUNK messages at a time as they arrive, not held: an action on any number
-- of messages costs bounded memory. fix(m), when given, adjusts each message first.
-- done(uids, extra) once all is in: the part's messages, and answers about others to drop
-- (an unsolicited FETCH of another client's flag change must never join a pre-image, which a
-- removal on a server without MOVE or UIDPLUS then acts on); nil and the error on failure,
-- what was staged dropped. src: the result whose part it is.
function Run:preimage(part, e, src, fix, done)
  self.fetching = true   -- see Run:send_action, delete
  local chunk, got = {}, core.set("")
  local function flush()
    if #chunk == 0 then return end
    local uids = {}
    for i, m in ipairs(chunk) do uids[i] = m.uid end
    got = got + core.set(uids)
    e:stage(chunk)
    chunk = {}
  end
  local h = self.conn:fetch(part.set, PRE_ITEMS, function(m)
    if not m.uid then return end
    local pm = { uid = m.uid, flags = m.flags or {}, size = m.size, message_id = message_id(m.fields) }
    if fix then fix(pm) end
    chunk[#chunk + 1] = pm
    if #chunk >= CHUNK then flush() end
  end)
  self:track(h, function(ok, err)
    if not ok then
      e:drop_staged()
      return done(nil, err)
    end
    flush()
    -- known now that the part's search is answered
    local only = part.set ~= "$" and part.set or (src and concrete(src, part))
    local uids = only and got * only or got
    done(uids, got - uids)
  end)
end

-- Run:preimage into entry e, made its pre-image once all is in; done(count) (nil on failure).
function Run:preimage_into(part, e, src, fix, done)
  self:preimage(part, e, src, fix, function(uids, extra)
    if not uids then return done(nil) end
    e:commit_staged(uids, extra)
    done(#uids)
  end)
end

-- Marks a part \Deleted and expunges exactly it (e: its journal entry; others: the other
-- \Deleted messages of the mailbox, known for servers without UIDPLUS), then done().
-- pre(set), when given, queues the pre-image FETCH right after the STORE: a STORE of \Deleted
-- that runs while a FETCH of message text is still being answered is not seen by an EXPUNGE
-- behind it (Dovecot), so no such FETCH may come before it in the same write.
function Run:remove(op, part, e, others, done, pre)
  local conn, set = self.conn, part.set
  if self:select(part.box, op) and set == "$" then
    error(core.error("usage", "internal: \"$\" after a new SELECT"), 0)
  end
  local sel = self.sel
  part_begin(op)
  local function finish(ok, err)
    if not ok then return self:part_failed(op, e, sel, err) end
    e:done { uidvalidity = self.acct.uidvalidity[part.box.name] }
    part_end(op)
    done()
  end
  local uidplus = conn:has("UIDPLUS")
  if op.keep then
    -- move_to(box, {expunge = false}): the messages stay, flagged \Deleted.
    self:track_uids(op, part, function(s) return conn:store(s, "+", { "\\Deleted" }) end, finish)
    self:changed()
  elseif uidplus then
    -- STORE and its UID EXPUNGE go together, so that a retried STORE is expunged too.
    local function send(s)
      local h = conn:store(s, "+", { "\\Deleted" })
      if pre then pre(s) end
      pre = nil
      self:track(conn:expunge(s), function(ok, err)
        if not ok then self:fail(op, sel, err) end
      end)
      return h
    end
    self:track_uids(op, part, send, finish)
    self:changed()
  elseif self.acct.cfg.expunge == "all" then
    local h = conn:store(set, "+", { "\\Deleted" })
    if pre then pre(set) end
    self:track(h, function(ok, err)
      if not ok then return finish(ok, err) end
      -- CLOSE expunges the selected mailbox: later operations may have selected another.
      self:select(part.box, op)
      self:track(conn:close_mailbox(), finish)
      self.acct:_deselect()
    end)
  else
    -- No UIDPLUS: EXPUNGE takes every \Deleted message, so the others lose the flag for it and
    -- get it back after; the journal names them first, so that a cut in between is repaired.
    others = (others or core.set("")) - set
    local u = #others > 0 and self:entry(op, { box = part.box },
      { verb = "undelete", method = "STORE", uids = others }) or nil
    local function check(ok, err) if not ok then self:fail(op, sel, err) end end
    self:track(conn:store(set, "+", { "\\Deleted" }), check)
    if u then self:track(conn:store(others, "-", { "\\Deleted" }), check) end
    self:track(conn:expunge_all(), finish)
    if u then
      self:track(conn:store(others, "+", { "\\Deleted" }), function(ok, err)
        if ok then u:done() else check(ok, err) end
      end)
    end
    self:changed()
  end
end

-- Queues CREATE of op's destination (and SUBSCRIBE with subscribe = true).
function Run:create_dest(op)
  create.create(self.acct, self.conn, op.dest, function(h, f) self:track(h, f) end, function(err)
    op.create_failed = true       -- its copies fail with [TRYCREATE]: reported here, once
    self:record(annotate(err, op))
  end, op.where)
end

-- With create = true, a destination not known to exist is created only when something goes
-- there: the result's answer is needed first (a round boundary, only in this case).
function Run:ensure_dest(op)
  local acct = self.acct
  if not acct.cfg.create or create.known(acct, op.dest) then return end
  for _, p in ipairs(self:parts_of(op.src, true)) do
    if #p.set > 0 then return self:create_dest(op) end
  end
end

-- Gmail: deleting from a label only takes the label off; a move to the Trash deletes.
local function gmail_delete(self, op)
  if op.verb ~= "delete" or not self.conn:has("X-GM-EXT-1") then return op end
  local trash = self.acct:special("\\Trash")
  if not trash or op.src.box == trash then return op end
  local moved = {}
  for k, v in pairs(op) do moved[k] = v end
  moved.verb, moved.dest = "move", trash
  moved.label = op.label .. " (Gmail: to " .. trash.name .. ")"
  return moved
end

-- Gmail labels: one UID STORE X-GM-LABELS per part.
function Run:send_labels(op)
  if not self.conn:has("X-GM-EXT-1") then
    return self:record(annotate(core.error("capability", self.acct.label ..
      ": the server has no Gmail labels (X-GM-EXT-1)"), op))
  end
  local item = ({ ["+"] = "+X-GM-LABELS.SILENT", ["-"] = "-X-GM-LABELS.SILENT",
                  ["="] = "X-GM-LABELS.SILENT" })[op.mode]
  local list = {}
  for i, l in ipairs(op.labels) do
    list[i] = l:sub(1, 1) == "\\" and core.atom(l) or core.mailbox_arg(l)
  end
  for _, p in ipairs(self:parts_of(op.src, true)) do
    if #p.set > 0 then
      self:select(p.box, op)
      self:track(self.conn:command("UID STORE", { p.set, core.atom(item), list }), function(ok, err)
        if not ok then return self:record(annotate(err, op)) end
        log.action(string.format("%s %s on %s in %s", op.label,
          table.concat(op.labels, " "), log.count(#p.set, "message"), p.box.name))
      end)
    end
  end
end

-- Operations whose commands wait until the journal names their messages: a COPY (whether a
-- cut-off COPY was done is then found by the copies' Message-IDs) and an expunge without
-- UIDPLUS (the other \Deleted messages must be known first).
function Run:two_phase(op)
  local conn = self.conn
  if op.verb == "copy" then return true end
  if op.verb == "move" then return op.keep or not conn:has("MOVE") end
  return op.verb == "delete" and not conn:has("UIDPLUS") and self.acct.cfg.expunge ~= "all"
end

-- Sends an operation that cannot go out on "$": first (one round) what its parts' messages
-- are, the other \Deleted messages and the destination's UIDNEXT; then, journaled, the COPY
-- (whose confirmation leads to the removal) or the removal.
function Run:send_two_phase(op)
  local conn, acct = self.conn, self.acct
  local dance = not conn:has("UIDPLUS") and acct.cfg.expunge ~= "all" and not op.keep
  local info = {}
  for _, p in ipairs(self:parts_of(op.src, false)) do
    if p.set == "$" or #p.set > 0 then
      local at = { box = p.box, staging = journal.staging() }
      info[#info + 1] = at
      self:select(p.box, op)
      self:preimage(p, at.staging, op.src, nil, function(uids, extra)
        if uids then at.uids, at.extra = uids, extra else at.err = extra end
      end)
      if dance and op.verb ~= "copy" then
        self:track(conn:search(core.query_key("DELETED")), function(set) at.deleted = set end)
      end
      if op.dest and op.dest ~= p.box then
        self:track(conn:status(op.dest:_wire()), function(st) at.uidnext = st and st.uidnext end)
      end
    end
  end
  self:round()
  if op.dest then self:ensure_dest(op) end
  local removing = false
  for _, at in ipairs(info) do
    if at.err then
      op.failed = true
      self:record(annotate(at.err, op))
    else
      local set = at.uids
      if op.skip and op.skip[at.box.name] then set = set - op.skip[at.box.name] end
      local part = { box = at.box, set = set }
      if #set == 0 then
        at.staging:drop_staged()
        log_done(op, at.box, 0)
      else
        -- the staged pre-image becomes the entry's as it is written (journal.entry)
        local e = self:entry(op, part, { method = op.verb == "delete" and "EXPUNGE" or "COPY",
          uids = set, staged = at.staging, unstage = at.extra + (at.uids - set),
          dest_uidnext = at.uidnext })
        if op.verb == "delete" then
          self:remove(op, part, e, at.deleted, function() log_done(op, at.box, #set) end)
        else
          removing = removing or op.verb == "move"
          self:send_copy(op, part, e, at.deleted)
        end
      end
    end
  end
  -- The removal is queued when the COPY is confirmed: it must go before later operations.
  if removing then self:round() end
end

-- The COPY of a journaled part; for a move, the removal of what it copied follows.
function Run:send_copy(op, part, e, deleted)
  local conn = self.conn
  self:select(part.box, op)
  local sel = self.sel
  part_begin(op)
  self:track_uids(op, part, function(s) return conn:copy(s, op.dest:_wire()) end, function(v, err)
    if not v then return self:part_failed(op, e, sel, err) end
    self.acct.exists[op.dest.name] = true
    local cu = type(v) == "table" and v or {}
    -- COPYUID names what was copied: messages expunged meanwhile are not removed.
    -- Only UIDs we asked for, whatever a confused server claims.
    local copied = cu.src and (cu.src * part.set) or part.set
    local fields = { dest_uids = cu.dst, dest_uidvalidity = cu.uidvalidity,
                     uidvalidity = self.acct.uidvalidity[part.box.name], count = #copied }
    part_end(op)
    if op.verb == "copy" then
      e:done(fields)
      return log_done(op, part.box, #copied)
    end
    fields.state = "copied"
    e:update(fields)
    self:remove(op, { box = part.box, set = copied }, e, deleted,
      function() log_done(op, part.box, #copied) end)
  end)
end

-- A move or copy to another account (transfer.lua), then the removal of what it appended.
function Run:send_transfer(op, p)
  local skip = op.skip and op.skip[p.box.name]
  local set = skip and p.set - skip or p.set
  local function done(n)
    log.action(string.format("%s %s %s:%s -> %s:%s", past[op.verb], log.count(n, "message"),
      self.acct.label, p.box.name, op.dest.account.label, op.dest.name),
      { op = op, box = p.box, count = n })
  end
  if #set == 0 then return done(0) end
  local e = self:entry(op, p, { method = "APPEND", uids = set, msgs = {} })
  part_begin(op)
  local copied, err = transfer.run(self.acct, p.box, set, op, e)
  if not copied then
    if LOST[err.kind] then
      op.dest.account:_reset()
      error(setmetatable({ err = err }, Lost), 0)
    end
    e:failed(tostring(err.message))
    part_end(op, true)
    return self:record(annotate(err, op))
  end
  part_end(op)
  if op.verb == "copy" then
    e:done()
    return done(#copied)
  end
  e:update { state = "copied" }
  local deleted
  if not self.conn:has("UIDPLUS") and self.acct.cfg.expunge ~= "all" and not op.keep then
    self:select(p.box, op)
    self:track(self.conn:search(core.query_key("DELETED")), function(s) deleted = s end)
    self:round()
  end
  self:remove(op, { box = p.box, set = copied }, e, deleted, function() done(#copied) end)
end

function Run:send_action(op)
  op = gmail_delete(self, op)
  if settings.dry_run then return self:plan(op) end
  if op.verb == "labels" then return self:send_labels(op) end
  local conn, verb = self.conn, op.verb
  if (verb == "move" or verb == "copy") and op.dest.account ~= self.acct then
    self:round()         -- earlier operations first: order is kept
    for _, p in ipairs(self:parts_of(op.src, true)) do
      if #p.set > 0 then self:send_transfer(op, p) end
    end
    self.acct:_deselect()
    return
  end
  if self:two_phase(op) then return self:send_two_phase(op) end
  -- A removal must not share a write with an earlier FETCH of message text (Run:remove).
  if verb == "delete" and self.fetching then self:round() end
  if op.dest then self:ensure_dest(op) end
  local keep = journal.wants_preimage()
  for _, p in ipairs(self:parts_of(op.src, self:changes_own_search(op))) do
    local box, set = p.box, p.set
    local changes, present
    if verb == "store" and set ~= "$" and #set > 0 then
      changes, present = self:store_changes(op, box, set)
      if changes and #changes < #set then p, set = { box = box, set = changes }, changes end
    end
    if changes and #changes == 0 then
      log_done(op, box, present)
    elseif set == "$" or #set > 0 then
      self:select(box, op)
      local sel = self.sel
      local r = op.src
      local e = self:entry(op, p, { method = verb == "delete" and "EXPUNGE" or verb:upper(),
        uids = set ~= "$" and set or nil, query = set == "$" and tostring(r.query) or nil })
      local count
      local narrowed = verb == "store" and set == "$" and self:narrow(op, r)
      if keep and verb ~= "delete" then
        self:preimage_into(p, e, r, nil, function(n) count = n end)
      end
      if verb == "store" then
        part_begin(op)
        self:track_uids(op, p, function(uids) return conn:store(uids, op.mode, op.flags) end, function(ok, err)
          if not ok then return self:part_failed(op, e, sel, err) end
          local n = count or #concrete(op.src, p)
          e:done { count = n, uidvalidity = self.acct.uidvalidity[box.name] }
          part_end(op)
          -- the rule's messages, also those it found with the flags already (narrowed)
          log_done(op, box, present or (narrowed and #concrete(op.src, p)) or n)
        end)
        for _, f in ipairs(op.flags) do
          if f:upper() == "\\DELETED" then self:changed() end
        end
      elseif verb == "delete" then
        self:remove(op, p, e, nil, function() log_done(op, box, count or #concrete(op.src, p)) end,
          keep and function(s)
            -- \Deleted was just set; what it was before no undo needs (nothing comes back).
            local function undeleted(m)
              local f = {}
              for _, x in ipairs(m.flags) do if x:upper() ~= "\\DELETED" then f[#f + 1] = x end end
              m.flags = f
            end
            self:preimage_into({ box = box, set = s }, e, r, undeleted, function(n) count = n end)
          end)
      else
        part_begin(op)
        self:track_uids(op, p, function(uids) return conn:move(uids, op.dest:_wire()) end, function(v, err)
          if not v then return self:part_failed(op, e, sel, err) end
          self.acct.exists[op.dest.name] = true
          -- COPYUID names what the server took (not UIDs expunged meanwhile).
          local cu = type(v) == "table" and v or {}
          local asked = concrete(op.src, p)
          local n = cu.src and #(cu.src * asked) or count or #asked
          e:done { count = n, dest_uids = cu.dst, dest_uidvalidity = cu.uidvalidity,
                   uidvalidity = self.acct.uidvalidity[box.name] }
          part_end(op)
          log_done(op, box, n)
        end)
        self:changed()
      end
    end
  end
end

---------------------------------------------------------------------------------------
-- Resuming after a dropped connection.

-- True when every part op sent is done (by its reply, or found done after the drop).
local function complete(op)
  if op.failed then return true end
  if not op.sent then return false end
  if (op.waiting or 0) == 0 then return true end
  for _, e in ipairs(op.entries or {}) do
    if e.state ~= "done" and not (e.state == "resolved" and e.complete) then return false end
  end
  return true
end

-- What the summary says of an operation.
local function status(op)
  if op.failed then return "failed" end
  if complete(op) then return "done" end
  for _, e in ipairs(op.entries or {}) do
    if e.state == "pending" or e.state == "copied" or (e.state == "resolved" and e.unknown) then
      return "unknown"
    end
  end
  return "not done"
end

-- Per script line: done, not done, unknown (the next run resolves those).
local function summary(ops)
  for _, op in ipairs(ops) do
    if op.kind == "action" then
      local s = status(op)
      local n = 0
      for _, e in ipairs(op.entries or {}) do n = n + (e.count or 0) end
      local detail = s == "done" and n > 0 and " (" .. log.count(n, "message") .. ")"
        or s == "unknown" and " (sent, no answer; the next run resolves it)" or ""
      log.report(string.format("%s: %s: %s%s", op.where or "?", op.label, s, detail))
    end
  end
end

-- Waits s seconds while the loop keeps every other connection's reads and writes going (the
-- other accounts' tasks go on once this one yields again).
local function sleep(s)
  local deadline = core.now() + s
  repeat core.loop_wait(deadline - core.now()) until core.now() >= deadline
end

-- Reconnects (resolving the journal) after err; returns the operations to send again, or
-- prints the summary and raises when the account cannot be reached.
function Run:resume(err, ops, n)
  local acct = self.acct
  log.warn(string.format("%s: connection lost (%s)", acct.label, tostring(err.message)))
  local last = err
  if n <= MAX_RESUMES then
    for try = 1, 3 do
      acct:_reset()
      local ok, e = pcall(acct._connection, acct)
      if ok then last = nil break end
      last = e
      if type(e) ~= "table" or not LOST[e.kind] then break end
      if try < 3 then
        log.warn(string.format("%s: reconnecting failed (%s); again in %d s", acct.label,
          tostring(e.message), BACKOFF[try]))
        sleep(BACKOFF[try])
      end
    end
  end
  if last then
    acct:_reset()
    acct.dead = last
    summary(ops)
    error(last, 0)
  end
  log.warn(string.format("%s: reconnected; the journal is resolved, going on", acct.label))
  local again = {}
  -- What cannot be told done or not is not done again (it might be done twice): the run ends
  -- with exit 3, the next one resolves it if it can.
  for _, op in ipairs(ops) do
    for _, e in ipairs(op.entries or {}) do
      if e.unknown and not e.reported then
        e.reported = true
        self:record(core.error("closed", string.format("%s: %s: %s", op.where or "?", op.label,
          e.outcome or "unknown")))
      end
    end
  end
  for _, op in ipairs(ops) do
    if op.kind == "search" then
      local r = op.result
      if not r.resolved and not r.err then
        op.handle = nil
        again[#again + 1] = op
      end
    elseif not complete(op) then
      -- What was found done is not done twice (a copy is not idempotent).
      op.skip = op.skip or {}
      for _, e in ipairs(op.entries or {}) do
        local got = e.done_uids or ((e.complete or e.unknown) and e.uids)
        if e.state == "resolved" and got and e.verb == op.verb then
          op.skip[e.mailbox] = (op.skip[e.mailbox] or core.set("")) + got
        end
      end
      op.sent, op.waiting = false, 0
      again[#again + 1] = op
    end
  end
  return again
end

local M = {}

-- Sends ops in order and reads every answer; returns nil, or the Lost error.
function Run:send_all(ops)
  self.ops = ops
  for _, op in ipairs(ops) do
    if op.kind == "action" then op.entries, op.waiting = op.entries or {}, op.waiting or 0 end
    local ok, err = pcall(op.kind == "search" and Run.send_search or Run.send_action, self, op)
    if not ok then
      if is_lost(err) then return err end
      op.failed = true
      self:record(annotate(err, op))
    elseif op.kind == "action" then
      op.sent = true
    end
  end
  -- A round's answers may send more (a retry, the removal after a confirmed COPY).
  while #self.inflight > 0 do
    local ok, err = pcall(Run.round, self)
    if not ok then
      if is_lost(err) then return err end
      self:record(annotate(err, {}))
      break
    end
  end
end

local function new_run(acct, errors)
  return setmetatable({
    acct = acct, conn = acct:_connection(), inflight = {}, saved = nil, errors = errors or {},
    key = journal.key(acct.cfg),
  }, Run)
end

--- Runs ops (searches and actions queued on acct) in order; raises the first error
--- after every operation had its chance, with the script line that queued it.
function M.run(acct, ops)
  if acct.dead then
    summary(ops)
    error(acct.dead, 0)
  end
  local release = settings.dry_run and function() end or state.lock(journal.key(acct.cfg), acct.label)
  local ok, err = pcall(function()
    local run = new_run(acct)
    local queue, n = ops, 0
    while true do
      local lost = run:send_all(queue)
      if not lost then break end
      n = n + 1
      queue = run:resume(lost.err, ops, n)
      run = new_run(acct, run.errors)
    end
    if run.errors[1] then error(run.errors[1], 0) end
  end)
  release()
  if not ok then error(err, 0) end
end

M.message_id = message_id
M.summary = summary

return M
