-- cache_mutate.lua — "another client" for cache_spec.lua: changes the mailboxes between two runs
-- of cache_rules.lua (run with --no-cache, so that it keeps nothing itself). Argument: the round.
local acct = imap.account {
  host = os.getenv("TESTBED_HOST"), port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  user = os.getenv("TESTBED_USER"), password = os.getenv("TESTBED_PASSWORD"),
  ca_file = os.getenv("TESTBED_CA"), create = true,
}
local Q = imap.query
local round = tonumber(arg[1])

local function append(box, n)
  for i = 1, n do
    box:append(string.format("From: %s\r\nSubject: %s %d\r\nX-Mailer: Apple Mail\r\n" ..
      "Message-ID: <r%d-%d@cache.test>\r\n\r\n%s\r\n", i % 2 == 0 and "noreply@robots.example"
      or "Ann <ann@example.org>", i % 3 == 0 and "Lunch on Friday" or "Re: plans", round, round, i,
      ("x"):rep(100 * i)))
  end
end

if round == 1 then
  -- flags changed, messages expunged and appended
  acct.INBOX:search(Q.subject "a" & Q.unseen):add_flags { "\\Flagged" }
  acct.INBOX:search(Q.seen & Q.larger(20000)):remove_flags { "\\Seen" }
  acct.INBOX:search(Q.keyword "$Lunch" & Q.larger(4000)):remove_flags { "$Lunch" }
  acct.INBOX:search(Q.subject "e" & Q.smaller(4000) & ~Q.keyword "$New"):delete()
  append(acct.INBOX, 7)
  append(acct.Work, 3)
elseif round == 2 then
  -- Work made anew (another UIDVALIDITY, its UIDs counted from 1 again), INBOX changed again
  acct:delete "Work"
  acct:create "Work"
  acct.Pool:all():copy_to(acct.Work)
  append(acct.Work, 4)
  acct.INBOX:search(Q.flagged):remove_flags { "\\Flagged" }
  acct.INBOX:search(Q.subject "o" & Q.seen):add_flags { "\\Answered" }
  acct.INBOX:search(Q.subject "i" & Q.larger(10000)):delete()
elseif round == 3 then
  append(acct.INBOX, 2)
end
