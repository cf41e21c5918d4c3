-- cache_rules.lua — rules for cache_spec.lua, whose answers the cache could change if it were
-- wrong: regex matches on header fields, searches on flags alone, on UID ranges and on all,
-- searches on results, new mail since the last run, moves, flags, deletes, a fetch of flags.
-- Prints counts only (UIDs differ between test beds). The account comes from TESTBED_*.
local acct = imap.account {
  host = os.getenv("TESTBED_HOST"), port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  user = os.getenv("TESTBED_USER"), password = os.getenv("TESTBED_PASSWORD"),
  ca_file = os.getenv("TESTBED_CA"), create = true,
}
local Q = imap.query

local function note(box, name, r) print(box.name, name, #r) end

for _, box in ipairs { acct.INBOX, acct.Work } do
  local new = box:new_since_last_run()
  note(box, "new", new)
  new:add_flags { "$New" }
  acct:flush()
  -- nothing queued: what the cache holds answers these
  note(box, "unseen", box:search(Q.unseen))
  note(box, "flagged-or-answered", box:search(Q.flagged | Q.answered))
  note(box, "new-unseen", box:search(Q.keyword "$New" & ~Q.seen))
  note(box, "some-uids", box:search(Q.uid "10:80" & ~Q.deleted))
  local lunch = box:all():match("Subject", [[(?i)\b(lunch|travel)\b]])
  note(box, "lunch", lunch)
  lunch:add_flags { "$Lunch" }
  local robots = box:search(Q.unseen):match("From", [[^<?(noreply|notifications)@]])
  note(box, "robots", robots)
  robots:move_to(acct.Robots)
  note(box, "flagged-seen", box:search(Q.flagged & Q.seen))
  local re = box:all():match("Subject", "^Re: "):search(Q.seen)
  note(box, "re-seen", re)
  re:add_flags { "$ReSeen" }
  note(box, "keywords", box:search(Q.keyword "$Lunch" | Q.keyword "$ReSeen"))
  note(box, "uids", box:search(Q.uid "1:60"))
  note(box, "mailer", box:search(Q.larger(2000)):match("X-Mailer", "(?i)apple|outlook"))
  box:search(Q.seen & Q.before "2021-06-01" & ~Q.flagged):move_to(acct.Old)
  note(box, "left", box:all())
  note(box, "quiet", box:search(~Q.keyword "$Lunch" & ~Q.seen & ~Q.answered))
  box:search(Q.smaller(1800) & Q.keyword "$Lunch"):delete()
  box:search(Q.flagged):mark_seen()
  local n = 0
  for m in box:search(Q.flagged):fetch { "flags" } do
    for _, f in ipairs(m.flags) do if f == "\\Seen" then n = n + 1 end end
  end
  print(box.name, "fetched-seen", n)
  note(box, "final", box:all())
  note(box, "final-seen", box:search(Q.seen))
end
