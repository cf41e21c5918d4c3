-- digest.lua — one summary of several accounts: unread mail per mailbox and the newest
-- unread subjects, printed (or appended to the first account's INBOX with --store).
-- Accounts come from IMAP_HOST/IMAP_USER/IMAP_PASSWORD and IMAP2_HOST/... for a second.
-- Usage: imapscript digest.lua [--store]
local store = (...) == "--store"
local Q = imap.query

local accounts = {}
for _, prefix in ipairs { "IMAP", "IMAP2" } do
  local user = os.getenv(prefix .. "_USER")
  if user or prefix == "IMAP" then
    accounts[#accounts + 1] = imap.account {
      host = os.getenv(prefix .. "_HOST") or "imap.example.org",
      user = user or "alice",
      password = imap.env(prefix .. "_PASSWORD"),
      label = user and (prefix == "IMAP" and "first" or "second") or nil,
    }
  end
end

local lines = { "Mail digest of " .. os.date("%Y-%m-%d %H:%M"), "" }
for _, acct in ipairs(accounts) do
  lines[#lines + 1] = acct.label .. ":"
  for _, box in ipairs(acct:mailboxes()) do
    local selectable = true
    for _, f in ipairs(box.flags) do selectable = selectable and f:upper() ~= "\\NOSELECT" end
    local st = selectable and acct:mailbox(box.name):status() or {}
    if st.unseen and st.unseen > 0 then
      lines[#lines + 1] = string.format("  %-30s %5d unread of %d", box.name, st.unseen, st.messages)
    end
  end
  -- The five newest unread messages of the INBOX: one search, one FETCH of envelopes.
  local newest = {}
  for msg in acct.INBOX:search(Q.unseen & Q.since(imap.days_ago(7))):fetch { "envelope", "date" } do
    newest[#newest + 1] = msg
  end
  table.sort(newest, function(a, b) return a.uid > b.uid end)
  for i = 1, math.min(5, #newest) do
    local e = newest[i].envelope
    local from = e.from and e.from[1] or {}
    lines[#lines + 1] = string.format("    %-24s %s", (from.name or from.mailbox or "?"):sub(1, 24),
                                      e.subject or "(no subject)")
  end
end

local text = table.concat(lines, "\n")
if store then
  local first = accounts[1]
  first.INBOX:append(table.concat({
    "From: imapscript digest <digest@localhost>",
    "To: " .. (os.getenv("IMAP_USER") or "me"),
    "Subject: Mail digest " .. os.date("%Y-%m-%d"),
    "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S +0000"),
    "Content-Type: text/plain; charset=UTF-8",
    "", text, "" }, "\r\n"))
else
  print(text)
end
