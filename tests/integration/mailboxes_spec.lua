-- acct:mailboxes { status = true }: one LIST-STATUS command where Dovecot offers it, one
-- pipelined STATUS per mailbox where --caps hides it; both read back from the Maildirs.
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }
local settings = require "imapscript.settings"
local core = require "imapscript.core"

local CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE " ..
  "LIST-EXTENDED CONDSTORE ESEARCH SPECIAL-USE UIDPLUS MOVE LITERAL+"

-- What Dovecot holds for a mailbox: message and unseen counts from its files (Maildir++ names
-- folders in modified UTF-7), UIDVALIDITY from its dovecot-uidlist header ("3 V<uidvalidity>
-- N<uidnext> ...") and UIDNEXT from it or the highest UID listed below it.
local function oracle(root, mailbox)
  local wire = core.mutf7_encode(mailbox)
  S.mailroot = root
  local state, n = S.state(wire)
  S.mailroot = nil
  local unseen = 0
  for _, flags in pairs(state) do
    if not flags:find("\\Seen", 1, true) then unseen = unseen + 1 end
  end
  local dir = root .. "/alice" .. (mailbox == "INBOX" and "" or ("/." .. wire:gsub("/", ".")))
  local lines = io.lines(dir .. "/dovecot-uidlist")
  local head = lines()
  local uidnext = tonumber(head:match(" N(%d+)"))
  for line in lines do
    local uid = tonumber(line:match("^(%d+) "))
    if uid and uid >= uidnext then uidnext = uid + 1 end
  end
  return { messages = n, unseen = unseen, uidvalidity = tonumber(head:match(" V(%d+)")),
           uidnext = uidnext }
end

-- The wire trace, on for the connections made after trace_on(); trace_since(pos) gives the
-- client's command lines written after pos (settings.trace:seek() before the call).
local trace_path
local function trace_on()
  trace_path = os.tmpname()
  settings.trace = assert(io.open(trace_path, "w"))
  settings.trace:setvbuf("line")
end
local function trace_off()
  settings.trace:close()
  settings.trace = nil
  os.remove(trace_path)
end
local function trace_since(pos)
  local f = assert(io.open(trace_path))
  f:seek("set", pos)
  local lines = {}
  for line in f:lines() do
    if line:match("^C: ") then lines[#lines + 1] = line end
  end
  f:close()
  return lines
end

local function matching(lines, pattern)
  local out = {}
  for _, l in ipairs(lines) do
    if l:find(pattern) then out[#out + 1] = l end
  end
  return out
end

-- Lists with status and checks every selectable mailbox against the oracle. Returns the
-- round trips it cost and the client's command lines.
local function check(acct, root, expect_boxes)
  acct:flush()                              -- logged in, nothing queued, before counting
  local before, pos = acct:stats().round_trips, settings.trace:seek()
  local list = acct:mailboxes { status = true }
  local lines = trace_since(pos)
  local seen = {}
  for _, m in ipairs(list) do
    seen[m.name] = true
    assert.is_table(m.status, m.name)
    local want = oracle(root, m.name)
    for k, v in pairs(want) do assert.are.equal(v, m.status[k], m.name .. " " .. k) end
    assert.is_number(m.status.highestmodseq)
  end
  for _, name in ipairs(expect_boxes) do assert.is_true(seen[name], name) end
  assert.is_nil(seen.Parent)                -- \NonExistent: not listed, no STATUS asked
  return acct:stats().round_trips - before, lines
end

describe("mailboxes with status", function()
  before_each(trace_on)
  after_each(trace_off)
  it("costs one LIST-STATUS command on a server that has it", function()
    local acct = imap.account(S.account_cfg())
    S.seed("INBOX", 12, 3)
    S.seed("Lists/lua-l", 7, 4)
    acct:create "Parent/Child"
    acct.INBOX:all():mark_seen()
    local trips, lines = check(acct, S.env("TESTBED_MAILROOT"),
      { "INBOX", "Lists/lua-l", "Parent/Child", "Trash" })
    assert.are.equal(1, trips)
    assert.are.equal(1, #matching(lines, "LIST"))
    assert.are.equal(1, #matching(lines, 'LIST "" "%*" RETURN %(SPECIAL%-USE STATUS %(MESSAGES ' ..
      'UNSEEN RECENT UIDNEXT UIDVALIDITY HIGHESTMODSEQ%)%)$'))
    assert.are.equal(0, #matching(lines, "^C: %S+ STATUS"))
    -- without status: a plain LIST, no status fields; a misspelt option is refused
    for _, m in ipairs(acct:mailboxes()) do assert.is_nil(m.status) end
    local ok, err = pcall(acct.mailboxes, acct, { stauts = true })
    assert.is_false(ok)
    assert.are.equal("usage", err.kind)
    acct:logout()
  end)

  it("pipelines one STATUS per selectable mailbox without LIST-STATUS", function()
    local b = S.bed(imap, { caps = CAPS })
    local ok, err = pcall(function()
      b.seed("INBOX", 5, 7)
      b.seed("Work", 9, 8)
      b.seed("Caf\u{e9}", 2, 9)
      local acct = b.account()
      acct:create "Parent/Child"
      assert.is_false(acct:_connection():has("LIST-STATUS"))
      local trips, lines = check(acct, b.env.TESTBED_MAILROOT,
        { "INBOX", "Work", "Caf\u{e9}", "Parent/Child", "Drafts" })
      assert.are.equal(2, trips)              -- the LIST, then every STATUS at once
      local statuses = matching(lines, "^C: %S+ STATUS ")
      assert.are.equal(#acct:mailboxes(), #statuses)
      assert.are.equal(0, #matching(lines, "STATUS Parent "))
      assert.are.equal(1, #matching(lines, "STATUS Caf&AOk%- "))
      acct:logout()
    end)
    b.stop()
    assert(ok, tostring(err))
  end)
end)
