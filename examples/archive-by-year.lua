-- archive-by-year.lua — moves read mail older than N days (default 365) from the INBOX
-- into Archive/<year it arrived>. Usage: imapscript archive-by-year.lua [DAYS]
local days = tonumber((...)) or 365
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
  create = true,
}
local Q = imap.query

local old = acct.INBOX:search(Q.seen & ~Q.flagged & Q.before(imap.days_ago(days)))
if #old == 0 then return end

-- Which years are there? One FETCH of the arrival dates, streamed.
local years = {}
for msg in old:fetch { "date" } do
  local year = msg.internaldate:match("%d+%-%a+%-(%d%d%d%d)")
  years[year] = true
end
for year in pairs(years) do
  local y = tonumber(year)
  old:search(Q.since(string.format("%d-01-01", y)) & Q.before(string.format("%d-01-01", y + 1)))
     :move_to(acct["Archive/" .. year])
end
