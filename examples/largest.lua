-- largest.lua — reports the N largest messages of a mailbox (default INBOX, 20).
-- Usage: imapscript largest.lua [MAILBOX [N]]
local name, n = ...
n = tonumber(n) or 20
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
}
local Q = imap.query

-- Ask the server only for messages over 100 KB, then sort what comes back.
local big = {}
for msg in acct:mailbox(name or "INBOX"):search(Q.larger(100 * 1024)):fetch { "size", "envelope" } do
  big[#big + 1] = { size = msg.size, subject = msg.envelope.subject or "(no subject)",
                    from = (msg.envelope.from[1] or {}).mailbox or "?" }
end
table.sort(big, function(a, b) return a.size > b.size end)
for i = 1, math.min(n, #big) do
  local m = big[i]
  print(string.format("%9.1f KB  %-20s %s", m.size / 1024, m.from, m.subject))
end
