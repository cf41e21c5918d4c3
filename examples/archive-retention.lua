-- archive-retention.lua — an archive with a retention policy: read mail older than KEEP
-- days (default 90) leaves the INBOX for Archive/<year>, and archived years older than
-- YEARS (default 7) are emptied, then removed. Usage: imapscript archive-retention.lua [KEEP [YEARS]]
local keep_days, keep_years = tonumber((...)) or 90, tonumber(select(2, ...)) or 7
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
  create = true,
}
local Q = imap.query
local this_year = tonumber(os.date("%Y"))

-- 1. Archive: one server-side search per year that has old mail (flagged mail stays).
local old = acct.INBOX:search(Q.seen & ~Q.flagged & Q.before(imap.days_ago(keep_days)))
if #old > 0 then
  local years = {}
  for msg in old:fetch { "date" } do
    years[tonumber(msg.internaldate:match("%d+%-%a+%-(%d%d%d%d)"))] = true
  end
  for y in pairs(years) do
    old:search(Q.since(string.format("%d-01-01", y)) & Q.before(string.format("%d-01-01", y + 1)))
       :move_to(acct["Archive/" .. y])
  end
end

-- 2. Retention: years past the policy are emptied (flagged mail is kept) and, once
--    empty, removed.
for _, box in ipairs(acct:mailboxes "Archive/%") do
  local y = tonumber(box.name:match("^Archive/(%d%d%d%d)$"))
  if y and y < this_year - keep_years then
    local mbox = acct:mailbox(box.name)
    mbox:search(~Q.flagged):delete()
    if mbox:count() == 0 then acct:delete(box.name) end
  end
end
