-- The Lua API against a real Dovecot: every action's effect is read back from the
-- server's Maildirs by tests/integration/support.lua, never through imapscript itself.
local S = require "tests.integration.support"
local imap = require "imapscript"
imap._configure { quiet = true }
local Q = imap.query

local function account(over, n) return imap.account(S.account_cfg(over, n)) end

-- Message-IDs of a mailbox whose flags satisfy pred, from the oracle.
local function ids(mailbox, pred, user)
  local out = {}
  for id, flags in pairs(S.state(mailbox, user)) do
    if not pred or pred(flags) then out[#out + 1] = id end
  end
  table.sort(out)
  return out
end
local function has(flag) return function(flags) return (" " .. flags .. " "):find(" " .. flag .. " ", 1, true) ~= nil end end
local function hasnt(flag) local h = has(flag) return function(f) return not h(f) end end

local function message(id, subject, body, extra)
  local text = table.concat({
    "From: Alice Example <alice@example.org>",
    "To: bob@example.org",
    "Subject: " .. subject,
    "Date: Mon, 3 Feb 2025 10:00:00 +0000",
    "Message-ID: " .. id,
    extra or "",
    "",
    body or "hello",
    "",
  }, "\r\n"):gsub("\r\n\r\n\r\n", "\r\n\r\n", 1)
  return text
end

describe("searches and actions", function()
  local acct
  setup(function()
    S.seed("T_move", 60, 11)
    S.seed("T_copy", 30, 12)
    S.seed("T_flags", 30, 13)
    S.seed("T_delete", 30, 14)
    acct = account { create = true }
  end)
  teardown(function() acct:logout() end)

  it("move_to moves exactly the messages the search found", function()
    local seen = ids("T_move", has("\\Seen"))
    local unseen = ids("T_move", hasnt("\\Seen"))
    assert.is_true(#seen > 0 and #unseen > 0)
    local r = acct.T_move:search(Q.seen)
    assert.are.equal(r, r:move_to(acct["Moved/Seen"]))
    acct:flush()
    assert.are.same(seen, ids("Moved/Seen"))
    assert.are.same(unseen, ids("T_move"))
  end)

  it("an action after #r acts on what was counted, not on mail that arrived since", function()
    local other = account()
    other:create("T_count")
    for i = 1, 3 do other:mailbox("T_count"):append(message("<count-" .. i .. "@t>", "counted")) end
    local r = acct:mailbox("T_count"):search(Q.subject "counted")
    assert.are.equal(3, #r)
    other:mailbox("T_count"):append(message("<count-late@t>", "counted"))
    assert.is_true(#acct.INBOX:all() >= 0)      -- another mailbox selected meanwhile
    r:add_flags { "$Counted" }
    acct:flush()
    other:logout()
    assert.are.same({ "<count-1@t>", "<count-2@t>", "<count-3@t>" }, ids("T_count", has("$Counted")))
    local none = acct:mailbox("T_count"):search(Q.subject "nothing like this")
    assert.are.equal(0, #none)
    other = account()
    other:mailbox("T_count"):append(message("<count-none@t>", "nothing like this"))
    other:logout()
    none:add_flags { "$Counted" }
    acct:flush()
    assert.are.equal(3, #ids("T_count", has("$Counted")))
  end)

  it("copy_to leaves the source as it was", function()
    local before = ids("T_copy")
    acct.T_copy:all():copy_to(acct.T_copy_dest)
    acct:flush()
    assert.are.same(before, ids("T_copy"))
    assert.are.same(before, ids("T_copy_dest"))
  end)

  it("sets, adds and removes flags and keywords", function()
    local all = ids("T_flags")
    local box = acct.T_flags
    box:all():mark_unseen():mark_flagged():add_flags { "$Todo", "Work" }
    acct:flush()
    assert.are.same(all, ids("T_flags", has("\\Flagged")))
    assert.are.same(all, ids("T_flags", has("$Todo")))
    assert.are.same({}, ids("T_flags", has("\\Seen")))
    box:search(Q.keyword "$Todo"):remove_flags { "$Todo" }:unmark_flagged():mark_seen()
    acct:flush()
    assert.are.same({}, ids("T_flags", has("$Todo")))
    assert.are.same(all, ids("T_flags", has("Work")))
    assert.are.same(all, ids("T_flags", has("\\Seen")))
    box:all():set_flags { "\\Answered" }
    acct:flush()
    for _, flags in pairs(S.state("T_flags")) do assert.are.equal("\\Answered", flags) end
  end)

  it("delete expunges only its own messages, never other \\Deleted ones", function()
    local box = acct.T_delete
    local flagged = ids("T_delete", has("\\Flagged"))
    local keep = ids("T_delete", hasnt("\\Flagged"))
    assert.is_true(#flagged > 0 and #keep > 0)
    -- Someone else's \Deleted messages must survive our delete.
    box:search(~Q.flagged):add_flags { "\\Deleted" }
    box:search(Q.flagged):delete()
    acct:flush()
    assert.are.same(keep, ids("T_delete"))
    assert.are.same(keep, ids("T_delete", has("\\Deleted")))
  end)

  it("move_to with expunge = false copies and leaves the originals flagged \\Deleted", function()
    S.seed("T_keep", 20, 15)
    local before = ids("T_keep")
    local deleted_before = ids("T_keep", has("\\Deleted"))   -- copies keep their flags
    assert.is_true(#deleted_before < #before)
    acct.T_keep:all():move_to(acct.T_keep_dest, { expunge = false })
    acct:flush()
    assert.are.same(before, ids("T_keep_dest"))
    assert.are.same(before, ids("T_keep", has("\\Deleted")))
    assert.are.same(deleted_before, ids("T_keep_dest", has("\\Deleted")))
  end)

  it("selects anew after the selected mailbox was renamed", function()
    S.seed("T_ren", 6, 16)
    local before = ids("T_ren")
    assert.are.equal(6, #acct.T_ren:all())          -- T_ren is now selected
    acct:rename("T_ren", "T_ren_old")
    acct:create("T_ren")
    acct.T_ren:all():delete()                        -- the new, empty T_ren
    acct:flush()
    assert.are.same(before, ids("T_ren_old"))
  end)

  it("answers a search queued behind a move or a delete of the same mailbox after them", function()
    -- Dovecot answers a UID SEARCH pipelined behind a MOVE or EXPUNGE from its view before
    -- them; the batch re-selects the mailbox first, so the count here is what is left.
    S.seed("T_behind", 40, 17)
    local before = S.state("T_behind")
    local seen, big = 0, 0
    for _, f in pairs(before) do if f:find("\\Seen", 1, true) then seen = seen + 1 end end
    acct.T_behind:search(Q.seen):move_to(acct.T_behind_dest)
    local left = acct.T_behind:search(Q.all)
    assert.are.equal(40 - seen, #left)
    acct.T_behind:search(Q.larger(10000)):delete()
    local rest = acct.T_behind:search(Q.all)
    local n = #rest
    assert.are.equal(S.count("T_behind"), n)
    for _, f in pairs(S.state("T_behind")) do big = big + 1 end
    assert.are.equal(big, n)
    assert.is_true(n < 40 - seen, "the delete found nothing to delete")
  end)

  it("reports a missing destination without create, and changes nothing", function()
    local strict = account()
    local before = S.state("T_copy")
    strict.T_copy:all():move_to(strict["No/Such/Box"])
    local ok, err = pcall(strict.flush, strict)
    strict:logout()
    assert.is_false(ok)
    assert.are.equal("no", err.kind)
    assert.truthy(tostring(err):find("api_spec.lua:%d+: move_to No/Such/Box: "))
    assert.truthy(tostring(err):find("TRYCREATE", 1, true))
    assert.are.same(before, S.state("T_copy"))
    assert.is_false(S.exists("No/Such/Box"))
  end)
end)

describe("results", function()
  local acct
  setup(function()
    S.seed("T_algebra", 80, 21)
    acct = account()
  end)
  teardown(function() acct:logout() end)

  it("are lazy until counted, and count what the server found", function()
    local box = acct.T_algebra
    local before = acct:stats().commands
    local r = box:search(Q.seen)
    assert.are.equal(before, acct:stats().commands)
    assert.are.equal(#ids("T_algebra", has("\\Seen")), #r)
  end)

  it("combine with + * - like sets", function()
    local box = acct.T_algebra
    local seen, flagged = box:search(Q.seen), box:search(Q.flagged)
    local n_seen = #ids("T_algebra", has("\\Seen"))
    local n_flagged = #ids("T_algebra", has("\\Flagged"))
    local n_both = #ids("T_algebra", function(f) return has("\\Seen")(f) and has("\\Flagged")(f) end)
    assert.are.equal(n_seen + n_flagged - n_both, #(seen + flagged))
    assert.are.equal(n_both, #(seen * flagged))
    assert.are.equal(n_seen - n_both, #(seen - flagged))
    assert.are.equal(n_both, #seen:search(Q.flagged))
    local uids = {}
    for uid in (seen * flagged):uids() do uids[#uids + 1] = uid end
    assert.are.equal(n_both, #uids)
  end)

  it("match a PCRE2 pattern on decoded header fields", function()
    local box = acct.T_match
    acct:create("T_match")
    box:append(message("<m1@t>", "=?UTF-8?B?w4RyZ2VyIG1pdCBkZXIgQmFobg==?="))
    box:append(message("<m2@t>", "=?ISO-8859-1?Q?=C4rger_im_B=FCro?="))
    box:append(message("<m3@t>", "[PATCH v2] fix the parser"))
    box:append(message("<m4@t>", "Re: [PATCH] fix the parser"))
    local arger = box:all():match("Subject", "^Ärger")
    assert.are.equal(2, #arger)
    local patch = box:all():match("Subject", [=[^\[PATCH(?: v\d+)?\]]=])
    assert.are.equal(1, #patch)
    patch:add_flags { "$Patch" }
    acct:flush()
    assert.are.same({ "<m3@t>" }, ids("T_match", has("$Patch")))
    assert.has_error(function() box:all():match("Subject", "([") end)
  end)

  it("match_body on the decoded text", function()
    local box = acct.T_body
    acct:create("T_body")
    box:append(message("<b1@t>", "qp", "Gr=FC=DFe aus M=FCnchen", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable"))
    box:append(message("<b2@t>", "plain", "nothing to see"))
    local r = box:all():match_body("Grüße aus München")
    assert.are.equal(1, #r)
  end)

  it("fetch streams message tables", function()
    local box = acct.T_fetch
    acct:create("T_fetch")
    box:append(message("<f1@t>", "=?UTF-8?Q?caf=C3=A9?=", "body one"), { "\\Seen" }, "14-Jul-2024 09:30:00 +0200")
    local n = 0
    for msg in box:all():fetch { "flags", "size", "date", "envelope", "headers", "body" } do
      n = n + 1
      assert.is_number(msg.uid)
      local flags = {}
      for _, f in ipairs(msg.flags) do if f ~= "\\Recent" then flags[#flags + 1] = f end end
      assert.are.same({ "\\Seen" }, flags)
      assert.is_true(msg.size > 100)
      -- The same instant; Maildir keeps no zone, so Dovecot answers in UTC.
      assert.truthy(msg.internaldate:find("14-Jul-2024 09:30:00 +0200", 1, true)
        or msg.internaldate:find("14-Jul-2024 07:30:00 +0000", 1, true), msg.internaldate)
      assert.are.equal("<f1@t>", msg.envelope.message_id)
      assert.are.equal("alice", msg.envelope.from[1].mailbox)
      assert.are.equal("example.org", msg.envelope.from[1].host)
      assert.are.equal("café", msg:header("Subject"))
      assert.truthy(msg.body:find("body one", 1, true))
    end
    assert.are.equal(1, n)
  end)
end)

describe("accounts and mailboxes", function()
  local acct
  setup(function() acct = account() end)
  teardown(function() acct:logout() end)

  it("create, rename, subscribe, list and delete mailboxes", function()
    acct:create("Work/Projects")
    assert.is_true(S.exists("Work/Projects"))
    acct:rename("Work/Projects", "Work/Done")
    assert.is_false(S.exists("Work/Projects"))
    assert.is_true(S.exists("Work/Done"))
    acct:subscribe("Work/Done")
    local names = {}
    for _, m in ipairs(acct:mailboxes()) do names[m.name] = m end
    assert.is_table(names["Work/Done"])
    assert.is_table(names.INBOX)
    acct:unsubscribe("Work/Done")
    acct:delete("Work/Done")
    assert.is_false(S.exists("Work/Done"))
  end)

  it("delete the selected mailbox and go on (Dovecot would say BYE)", function()
    S.seed("Gone/Child", 3, 41)
    S.seed("Gone2", 3, 42)
    assert.are.equal(3, #acct["Gone/Child"]:all())     -- selected now
    acct:delete("Gone/Child")
    assert.are.equal(3, #acct.Gone2:all())
    acct:delete("Gone2")
    assert.is_false(S.exists("Gone/Child"))
    assert.is_false(S.exists("Gone2"))
    assert.is_true(#acct.INBOX:all() >= 0)              -- the same connection still works
  end)

  it("handle UTF-8 mailbox names", function()
    acct:create("Reisen/München")
    local found = false
    for _, m in ipairs(acct:mailboxes("Reisen/*")) do found = found or m.name == "Reisen/München" end
    assert.is_true(found)
    acct["Reisen/München"]:append(message("<u1@t>", "x"))
    assert.are.equal(1, acct["Reisen/München"]:status().messages)
  end)

  it("status and capabilities", function()
    S.seed("T_status", 12, 31)
    local st = acct.T_status:status()
    assert.are.equal(12, st.messages)
    assert.is_number(st.uidnext)
    assert.is_number(st.uidvalidity)
    local caps = {}
    for _, c in ipairs(acct:capabilities()) do caps[c] = true end
    assert.is_true(caps.IMAP4REV1 or caps.IMAP4rev1 or false)
  end)

  it("append keeps flags and date and returns the UID", function()
    acct:create("T_append")
    local uid = acct.T_append:append(message("<a1@t>", "appended"), { "\\Flagged", "$Label1" },
      os.time { year = 2020, month = 5, day = 17, hour = 8 })
    assert.is_number(uid)
    assert.are.same({ "<a1@t>" }, ids("T_append", has("$Label1")))
    assert.are.same({ "<a1@t>" }, ids("T_append", has("\\Flagged")))
  end)

  it("rejects a wrong password with an auth error naming the account, not the password", function()
    local bad = account { password = "not-the-password-xyz" }
    local ok, err = pcall(function() return bad.INBOX:status() end)
    assert.is_false(ok)
    assert.are.equal("auth", err.kind)
    assert.truthy(tostring(err):find("alice", 1, true))
    assert.falsy(tostring(err):find("not-the-password-xyz", 1, true))
  end)

  it("compresses the connection when asked", function()
    local a = account { compress = true }
    assert.are.equal(12, a.T_status:status().messages)
    assert.is_true(a:stats().compressed)
    a:logout()
  end)

  it("takes passwords from a command or the environment", function()
    local a = account { password = imap.command("printf '%s\\n' " .. S.shquote(S.env("TESTBED_PASSWORD"))) }
    assert.is_number(a.INBOX:status().messages)
    a:logout()
    local b = account { password = imap.env "TESTBED_PASSWORD" }
    assert.is_number(b.INBOX:status().messages)
    b:logout()
  end)
end)

describe("safety", function()
  it("skips messages another client expunged between the search and the action", function()
    S.seed("T_race", 40, 41)
    local acct = account { create = true }
    local other = account()
    local r = acct.T_race:search(Q.all)
    assert.are.equal(40, #r)
    -- The other client deletes the flagged ones meanwhile.
    local gone = ids("T_race", has("\\Flagged"))
    local stay = ids("T_race", hasnt("\\Flagged"))
    other.T_race:search(Q.flagged):delete()
    other:flush()
    assert.are.same(stay, ids("T_race"))
    r:move_to(acct.T_race_dest)
    acct:flush()
    assert.are.same(stay, ids("T_race_dest"))
    assert.are.same({}, ids("T_race"))
    assert.is_true(#gone > 0)
    acct:logout()
    other:logout()
  end)

  it("retries in the right mailbox when later rules selected another", function()
    S.seed("T_raceA", 30, 42)
    S.seed("T_raceB", 30, 43)
    local acct = account { create = true }
    local other = account()
    local r = acct.T_raceA:search(Q.all)
    assert.are.equal(30, #r)
    other.T_raceA:search(Q.flagged):delete()    -- unseen by acct: its MOVE gets EXPUNGEISSUED
    other:flush()
    local stayA = ids("T_raceA")
    local beforeB = S.state("T_raceB")
    local flaggedB = ids("T_raceB", has("\\Flagged"))
    r:move_to(acct.T_raceA_dest)
    acct.T_raceB:search(Q.flagged):add_flags { "$Seen_by_rule2" }
    acct:flush()
    assert.are.same(stayA, ids("T_raceA_dest"))
    assert.are.same({}, ids("T_raceA"))
    assert.are.same(S.keys(beforeB), ids("T_raceB"))
    assert.are.same(flaggedB, ids("T_raceB", has("$Seen_by_rule2")))
    acct:logout()
    other:logout()
  end)

  it("moves across accounts keeping flags, deleting the source only after the copies", function()
    S.seed("T_cross", 25, 51)
    local alice = account()
    local bob = account({ create = true }, 2)
    local before = S.state("T_cross")
    alice.T_cross:all():move_to(bob["From/Alice"])
    alice:flush()
    assert.are.same(before, S.state("From/Alice", "bob"))
    assert.are.same({}, S.state("T_cross"))
    alice:logout()
    bob:logout()
  end)
end)
