-- An imapfilter config exercising every processing method, result sets across mailboxes
-- and accounts, messages and their fetch_* methods, and appending. Runs unchanged under
-- imapfilter 2.8 and imapscript --imapfilter. Needs mailboxes P and Q of the first user
-- seeded (see tests/integration/compat_spec.lua).
options.info = false
options.timeout = 30

local function account(n)
  local suffix = n == 1 and "" or tostring(n)
  return IMAP {
    server = os.getenv("TESTBED_HOST"),
    port = tonumber(os.getenv("TESTBED_TLS_PORT")),
    username = os.getenv("TESTBED_USER" .. suffix),
    password = os.getenv("TESTBED_PASSWORD" .. suffix),
    ssl = "auto",
    ca_file = os.getenv("TESTBED_CA"),
  }
end
local alice, bob = account(1), account(2)
local P, Q = alice.P, alice.Q

-- Flags: every mark_*/unmark_* and add/remove/replace_flags.
P:is_larger(60000):mark_flagged()
P:is_smaller(1500):mark_seen()
P:contain_subject("Reminder"):mark_answered()
P:contain_subject("Question"):mark_draft()
P:is_draft():contain_subject("quarterly"):unmark_draft()
P:contain_from("noreply"):unmark_seen()
P:is_answered():contain_subject("Re:"):unmark_answered()
P:is_flagged():is_unseen():unmark_flagged()
P:contain_subject("lunch"):add_flags({ "$Lunch", "Work" })
P:has_keyword("Work"):remove_flags({ "Work" })
P:contain_subject("travel"):replace_flags({ "\\Seen", "$Travel" })
P:contain_subject("logo"):mark_deleted()
P:is_deleted():contain_subject("logo"):unmark_deleted()

-- Moving, copying and deleting, within the account and to another one.
P:contain_field("List-Id", "lua-l"):move_messages(alice["Lists/lua"])
P:contain_field("List-Id", "debian"):copy_messages(alice["Lists/debian"])
P:match_subject("^\\[PATCH"):move_messages(bob["Patches"])
P:contain_field("List-Id", "dovecot"):copy_messages(bob.INBOX)
P:match_from("^<?noreply@"):delete_messages()
Q:is_seen():is_older(365 * 6):delete_messages()

-- Mailbox forms, with the messages given last.
local notes = P:contain_subject("Notes")
P:mark_flagged(notes)
P:add_flags({ "$Notes" }, notes)
P:move_messages(alice["Notes"], notes)

-- Result sets across mailboxes and accounts.
local both = P:contain_subject("review") + Q:contain_subject("review")
both:add_flags({ "$Review" })
local mixed = (P:is_flagged() + Q:is_flagged() + bob.INBOX:is_seen()) - Q:is_larger(20000)
  - P:is_deleted()
mixed:add_flags({ "$Mixed" })
print("review", #both, "mixed", #mixed)

-- Sets built by hand, and messages.
local picked = Set {}
for _, m in ipairs(Q:select_all()) do
  local mbox, uid = table.unpack(m)
  local subject = mbox[uid]:fetch_field("Subject") or ""
  if subject:find("Re:", 1, true) and mbox[uid]:fetch_size() > 3000 then
    table.insert(picked, m)
  end
end
print("picked", #picked)
picked:mark_flagged()
picked:copy_messages(alice["Picked"])

local first = Q:select_all()[1]
local mbox, uid = table.unpack(first)
local msg = mbox[uid]
local text = msg:fetch_message()
print("message", #text == #msg:fetch_header() + #msg:fetch_body(), msg:fetch_size() == #text)
print("fields", msg:fetch_fields({ "Message-ID", "Subject" }) ==
  msg:fetch_field("Message-ID") .. "\n" .. msg:fetch_field("Subject"))
local structure = msg:fetch_structure()
local ids = {}
for id, part in pairs(structure) do ids[#ids + 1] = id .. "=" .. part.type end
table.sort(ids)
print("structure", table.concat(ids, " "))
print("part1", #(msg:fetch_part("1") or "") > 0)

-- Appending a fetched message elsewhere, with its flags and date.
local flags = {}
for _, f in ipairs(msg:fetch_flags()) do if f ~= "\\Recent" then flags[#flags + 1] = f end end
alice["Appended"]:append_message(text, flags, msg:fetch_date())
alice.Appended:append_message("From: a@example.org\r\nSubject: plain\r\nMessage-ID: <appended@compat>\r\n\r\nhello\r\n")
print("appended", #alice.Appended:select_all())
