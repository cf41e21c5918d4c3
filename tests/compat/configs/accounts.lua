-- An imapfilter config exercising the account methods (listing, creating, renaming,
-- deleting, subscribing), check_status, and the auxiliary functions. Runs unchanged under
-- imapfilter 2.8 and imapscript --imapfilter; prints what it finds.
options.info = false
options.timeout = 30
options.subscribe = true

local account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = os.getenv("TESTBED_PASSWORD"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),
}

local function show(name, list)
  local t = {}
  for _, v in ipairs(list) do t[#t + 1] = v end
  table.sort(t)
  print(name, table.concat(t, ","))
end

account:create_mailbox("Work")
account:create_mailbox("Work/2024")
account:create_mailbox("Work/2025")
account:create_mailbox("Old")
account:rename_mailbox("Old", "Older")
account:create_mailbox("Gone")
account:delete_mailbox("Gone")
account:subscribe_mailbox("Work/2024")
account:subscribe_mailbox("Older")
account:unsubscribe_mailbox("Older")

local m, f = account:list_all()
show("all mailboxes", m)
show("all folders", f)
m, f = account:list_all("Work")
show("Work mailboxes", m)
m = account:list_all("", "W*")
show("W* mailboxes", m)
m, f = account:list_subscribed()
show("subscribed", m)

-- A move into a mailbox that does not exist yet creates it (and, with
-- options.subscribe, subscribes it).
account.L:contain_subject("Re:"):move_messages(account["Work/Replies"])
m = account:list_subscribed()
show("subscribed after move", m)

-- (imapfilter expunged L's other \Deleted messages during the move; imapscript did not:
-- they are left out of the count.)
local exist, recent, unseen, uidnext = account.L:check_status()
print("status L", exist - #account.L:is_deleted(), unseen, uidnext)
exist, recent, unseen, uidnext = account["Work/Replies"]:check_status()
print("status Work/Replies", exist, unseen, uidnext)

-- Auxiliary functions.
print("form_date", form_date(0) == os.date("%d-%b-%Y"))
print("regex", regex_search("^(\\w+)-(\\d+)$", "abc-123"))
print("regex unset", regex_search("(a)(z)?", "ab"))
print("regex plain", regex_search("b+", "abbc"))
print("regex no", regex_search("^x", "abc"))
print("pipe_to", pipe_to("cat >/dev/null", "data"), pipe_to("exit 3", ""))
print("pipe_from", pipe_from("printf 'one\\ntwo'"))
print("sleep", sleep(0))
local calls = 0
print("recover", recover(function() calls = calls + 1; return "fine", calls end, 2))
print("recover fails", (recover(function() error("always") end, 0)))
