-- unsubscribe-report.lua — which newsletters and lists fill the INBOX, how much of
-- them is read, and how to leave them (List-Unsubscribe). Changes nothing.
-- Usage: imapscript unsubscribe-report.lua [MAILBOX]
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
}
local Q = imap.query

-- The server finds the messages that offer an unsubscribe link; one FETCH brings their
-- headers and flags, streamed.
local senders = {}
local lists = acct:mailbox((...) or "INBOX"):search(Q.header("List-Unsubscribe", ""))
for msg in lists:fetch { "headers", "flags" } do
  local id = msg:header("List-Id") or msg:header("From") or "?"
  local s = senders[id]
  if not s then
    s = { id = id, count = 0, read = 0, link = msg:header("List-Unsubscribe") }
    senders[id] = s
  end
  s.count = s.count + 1
  for _, f in ipairs(msg.flags) do
    if f == "\\Seen" then s.read = s.read + 1 end
  end
end

local rows = {}
for _, s in pairs(senders) do rows[#rows + 1] = s end
table.sort(rows, function(a, b) return a.count > b.count end)
print(string.format("%6s %5s  %s", "count", "read", "list or sender / how to unsubscribe"))
for _, s in ipairs(rows) do
  print(string.format("%6d %4d%%  %s", s.count, math.floor(100 * s.read / s.count), s.id))
  print(string.format("%13s%s", "", s.link or "?"))
end
