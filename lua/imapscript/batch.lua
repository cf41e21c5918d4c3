-- batch.lua — sends an account's queue of searches and actions as pipelined batches.
-- Commands go out back to back and the replies are read once (a round), except where an
-- answer is needed first: an action on a result whose UIDs are not known yet (unless
-- SEARCHRES lets it say "$"), and the COPY that must be confirmed before any \Deleted.
local core = require "imapscript.core"
local log = require "imapscript.log"
local settings = require "imapscript.settings"
local Result = require "imapscript.result"
local transfer = require "imapscript.transfer"
local create = require "imapscript.create"
log.internal(debug.getinfo(1, "S").source)

local Run = {}
Run.__index = Run

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

--- Writes what is queued and reads every answer; runs each finish in order.
function Run:round()
  if #self.inflight == 0 then return end
  self.conn:wait()
  local list = self.inflight
  self.inflight = {}
  self.saved = nil       -- every search of the round is resolved now: no need for "$"
  for _, t in ipairs(list) do
    local value, err = t.handle:result()
    t.finish(value, err)
  end
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
  local h = self.acct:_select(self.conn, box)
  if h then
    self.saved = nil     -- SELECT empties the server's saved result
    local sel = { box = box }
    self.sel = sel
    self:track(h, function(ok, err)
      if ok then return end
      self.acct:_deselect()
      if err.kind ~= "no" then return self:record(annotate(err, op)) end
      sel.err = annotate(err, { where = op.where, label = op.label or ("search " .. box.name) })
      sel.err.missing = true
      if self.acct.cfg.missing == "skip" then
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

-- Notes UIDs this run moved or expunged from box. Dovecot answers a search pipelined after
-- such a command as if they were still there (it shows expunges once the pipeline drains):
-- results leave them out, so that a later rule sees what an earlier one did.
function Run:removed(box, set)
  local gone = self.gone[box]
  self.gone[box] = gone and gone + set or set
end

-- Records the error of op's command, unless it only followed from its mailbox's failed
-- SELECT (sel.err), which is reported already.
function Run:fail(op, sel, err)
  if sel and sel.err then return end
  self:record(annotate(err, op))
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

function Run:send_search(op)
  local r = op.result
  self:select(op.box, op)
  local sel = self.sel
  local save = not settings.dry_run and self.conn:has("SEARCHRES")
  op.handle = self.conn:search(self:server_query(op.query), { save = save })
  self.saved = save and r or nil
  self:track(op.handle, function(set, err)
    if set then
      local gone = self.gone[op.box]
      r.resolved = { { box = op.box, set = gone and set - gone or set } }
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

-- Dry run: one plan line per mailbox part, nothing sent.
function Run:plan(op)
  for _, p in ipairs(self:parts_of(op.src, true)) do
    local n, uids = #p.set, tostring(p.set)
    local step = { action = op.verb, account = self.acct.label, from = p.box.name,
                   count = n, uids = uids }
    local text
    if op.verb == "move" or op.verb == "copy" then
      step.to = op.dest.name
      if op.dest.account ~= self.acct then step.to_account = op.dest.account.label end
      text = string.format("%s %d %s -> %s", op.verb, n, p.box.name, op.dest.name)
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
  end
end

local past = { move = "moved", copy = "copied", delete = "deleted" }

-- Marks a part \Deleted and expunges exactly it when the server can (UIDPLUS);
-- otherwise leaves it flagged and warns, unless the account allows a full expunge.
-- UIDs mean something only in their mailbox: it is selected first if it is not.
function Run:remove(op, part, then_log)
  local conn = self.conn
  if self:select(part.box, op) and part.set == "$" then
    error(core.error("usage", "internal: \"$\" after a new SELECT"), 0)
  end
  local sel = self.sel
  -- op.keep: the messages stay, flagged \Deleted (move_to(box, {expunge = false})).
  local uidplus = conn:has("UIDPLUS") and not op.keep
  -- STORE and its UID EXPUNGE go together, so that a retried STORE is expunged too.
  local function send(set)
    local h = conn:store(set, "+", { "\\Deleted" })
    if uidplus then
      self:track(conn:expunge(set), function(ok, err)
        if ok then self:removed(part.box, concrete(op.src, part)) else self:fail(op, sel, err) end
      end)
    end
    return h
  end
  self:track_uids(op, part, send, function(ok, err)
    if not ok then return self:fail(op, sel, err) end
    if uidplus or op.keep then return then_log() end
    if self.acct.cfg.expunge == "all" then
      -- CLOSE expunges the selected mailbox: later operations may have selected another.
      self:select(part.box, op)
      self:track(conn:close_mailbox(), function(closed, e)
        if closed then then_log() else self:record(annotate(e, op)) end
      end)
      self.acct:_deselect()
      return
    end
    log.warn(string.format("%s: %s: the server lacks UIDPLUS, so the messages stay in %s " ..
      "flagged \\Deleted (expunge = \"all\" would expunge every \\Deleted message there)",
      op.where or "?", op.label, part.box.name))
    then_log()
  end)
end

-- Queues CREATE of op's destination (and SUBSCRIBE with subscribe = true).
function Run:create_dest(op)
  create.create(self.acct, self.conn, op.dest, function(h, f) self:track(h, f) end, function(err)
    op.create_failed = true       -- its copies fail with [TRYCREATE]: reported here, once
    self:record(annotate(err, op))
  end)
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
        log.action(string.format("%s %s on %d messages in %s", op.label,
          table.concat(op.labels, " "), #p.set, p.box.name))
      end)
    end
  end
end

function Run:send_action(op)
  op = gmail_delete(self, op)
  if settings.dry_run then return self:plan(op) end
  if op.verb == "labels" then return self:send_labels(op) end
  local conn, verb = self.conn, op.verb
  if (verb == "move" or verb == "copy") and op.dest.account ~= self.acct then
    self:round()         -- earlier operations first: order is kept
    for _, p in ipairs(self:parts_of(op.src, true)) do
      transfer.run(self.acct, p.box, p.set, op, function(err) self:record(annotate(err, op)) end)
    end
    self.acct:_deselect()
    return
  end
  local fallback = verb == "move" and (op.keep or not conn:has("MOVE"))
  if op.dest then self:ensure_dest(op) end
  for _, p in ipairs(self:parts_of(op.src, fallback)) do
    local box, set = p.box, p.set
    if set == "$" or #set > 0 then
      self:select(box, op)
      local sel = self.sel
      local function done(n)
        -- step: what the imapfilter layer needs to word the line its own way.
        local step = { op = op, box = box, count = n }
        if n == 0 then
          log.info(string.format("%s: no messages in %s", op.label, box.name))
        elseif verb == "store" then
          log.action(string.format("%s %d messages in %s", op.label ..
            (op.label:find("flags$") and " " .. table.concat(op.flags, " ") or ""), n, box.name), step)
        elseif op.dest then
          log.action(string.format("%s %d messages %s -> %s", past[verb], n, box.name, op.dest.name), step)
        else
          log.action(string.format("%s %d messages from %s", past[verb], n, box.name), step)
        end
      end
      if verb == "store" then
        self:track_uids(op, p, function(uids) return conn:store(uids, op.mode, op.flags) end, function(ok, err)
          if ok then done(#concrete(op.src, p)) else self:fail(op, sel, err) end
        end)
      elseif verb == "delete" then
        self:remove(op, p, function() done(#concrete(op.src, p)) end)
      elseif verb == "copy" or not fallback then
        local send = verb == "move" and conn.move or conn.copy
        self:track_uids(op, p, function(uids) return send(conn, uids, op.dest:_wire()) end, function(v, err)
          if v then
            self.acct.exists[op.dest.name] = true
            -- COPYUID names what the server took (not UIDs expunged meanwhile).
            local asked = concrete(op.src, p)
            local took = type(v) == "table" and v.src and v.src * asked or asked
            if verb == "move" then self:removed(box, took) end
            done(#took)
          elseif not op.create_failed then
            self:fail(op, sel, err)
          end
        end)
      else
        -- MOVE-less (or expunge-less) move: the COPY must be confirmed before any message is flagged
        -- \Deleted, so it ends the round; the removal goes first in the next one.
        self:track_uids(op, p, function(uids) return conn:copy(uids, op.dest:_wire()) end, function(v, err)
          if not v then
            if not op.create_failed then self:fail(op, sel, err) end
            return
          end
          self.acct.exists[op.dest.name] = true
          -- COPYUID names what was copied: messages expunged meanwhile are not removed.
          -- Only UIDs we asked for, whatever a confused server claims.
          local copied = type(v) == "table" and v.src and (v.src * set) or set
          self:remove(op, { box = box, set = copied }, function() done(#copied) end)
        end)
        self:round()
      end
    end
  end
end

local M = {}

--- Runs ops (searches and actions queued on acct) in order; raises the first error
--- after every operation had its chance, with the script line that queued it.
function M.run(acct, ops)
  local run = setmetatable({
    acct = acct, conn = acct:_connection(), inflight = {}, saved = nil, errors = {}, gone = {},
  }, Run)
  for _, op in ipairs(ops) do
    local ok, err = pcall(op.kind == "search" and Run.send_search or Run.send_action, run, op)
    if not ok then run:record(annotate(err, op)) end
  end
  -- A round's answers may send more (a retry, the removal after a confirmed COPY).
  while #run.inflight > 0 do
    local ok, err = pcall(Run.round, run)
    if not ok then
      run:record(annotate(err, {}))
      break
    end
  end
  if run.errors[1] then error(run.errors[1], 0) end
end

return M
