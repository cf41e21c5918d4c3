-- demo.lua — what `make demo` runs against the throwaway test bed: a few everyday rules
-- on a seeded INBOX, with the mailbox counts before and after.
local acct = imap.account {
  host = os.getenv("TESTBED_HOST") or "127.0.0.1",
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  ca_file = os.getenv("TESTBED_CA"),           -- the test bed's own CA
  user = os.getenv("TESTBED_USER") or "alice",
  password = imap.env "TESTBED_PASSWORD",
  create = true,                               -- make destination mailboxes as needed
}
local Q = imap.query
local inbox = acct.INBOX

local function report(title)
  print(title)
  for _, m in ipairs(acct:mailboxes()) do
    local selectable = true
    for _, f in ipairs(m.flags) do selectable = selectable and f:upper() ~= "\\NOSELECT" end
    if not selectable then goto next end
    local st = acct[m.name]:status()
    print(string.format("  %-34s %6d messages, %5d unseen", m.name, st.messages, st.unseen))
    ::next::
  end
end

report("Before:")
local at_start = acct:stats()

-- 1. Mailing lists go to Lists/<name>, found by their List-Id header on the server.
for _, list in ipairs { "lua-l", "dovecot", "debian-devel" } do
  inbox:search(Q.header("List-Id", list)):move_to(acct["Lists/" .. list])
end

-- 2. Patches: a PCRE2 rule on the decoded Subject, one FETCH for all unseen mail.
inbox:search(Q.unseen):match("Subject", [=[^\[PATCH(?: v\d+)?(?: \d+/\d+)?\]]=]):add_flags { "$Patch" }

-- 3. Unread mail from colleagues (or from Grace, wherever she writes from) is flagged.
inbox:search(Q.unseen & (Q.from "@corp.example" | Q.from "grace")):mark_flagged()

-- 4. Seen, unflagged mail older than two years goes to Archive/<year of arrival>.
local cutoff = imap.days_ago(730)
for year = tonumber(os.date("%Y")) - 6, tonumber(os.date("%Y", cutoff)) do
  local window = Q.since(string.format("%d-01-01", year)) & Q.before(string.format("%d-01-01", year + 1))
  inbox:search(Q.seen & ~Q.flagged & Q.before(cutoff) & window):move_to(acct["Archive/" .. year])
end

-- 5. The five largest messages left in the INBOX.
acct:flush()
local rules = acct:stats()
local big = {}
for msg in inbox:search(Q.larger(500 * 1024)):fetch { "size", "envelope" } do
  big[#big + 1] = msg
end
table.sort(big, function(a, b) return a.size > b.size end)
print("\nLargest messages in INBOX:")
for i = 1, math.min(5, #big) do
  local m = big[i]
  print(string.format("  %8.1f KB  %s", m.size / 1024, m.envelope.subject or "(no subject)"))
end
print()

report("After:")
print(string.format("\nThe rules took %d commands in %d round trips (%d bytes sent, %d received).",
  rules.commands - at_start.commands, rules.round_trips - at_start.round_trips,
  rules.bytes_out - at_start.bytes_out, rules.bytes_in - at_start.bytes_in))
