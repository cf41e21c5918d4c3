-- attachments.lua — which messages carry attachments, how big, of what kind: one search for
-- multipart mail over a size, one FETCH of BODYSTRUCTURE (no bodies). Changes nothing.
-- Usage: imapscript attachments.lua [MAILBOX [MIN_KB]]
local name, min_kb = ...
min_kb = tonumber(min_kb) or 20
local acct = imap.account {
  host = os.getenv("IMAP_HOST") or "imap.example.org",
  user = os.getenv("IMAP_USER") or "alice",
  password = imap.env "IMAP_PASSWORD",
}
local Q = imap.query

local by_type, total, count = {}, 0, 0
local rows = {}
local candidates = acct:mailbox(name or "INBOX")
  :search(Q.header("Content-Type", "multipart/") & Q.larger(min_kb * 1024))
for msg in candidates:fetch { "bodystructure", "envelope" } do
  local files = {}
  for part in msg:parts() do
    -- An attachment: said so, or a named part that is not the text of the message.
    if part.disposition == "attachment" or (part.filename and part.type ~= "text") then
      -- base64 makes a part a third bigger on the server than the file it holds.
      local bytes = part.encoding == "base64" and math.floor(part.size * 3 / 4) or part.size
      files[#files + 1] = string.format("%s (%.0f KB)", part.filename or "(unnamed)", bytes / 1024)
      local kind = part.type .. "/" .. part.subtype
      by_type[kind] = (by_type[kind] or 0) + bytes
      total, count = total + bytes, count + 1
    end
  end
  if #files > 0 then
    local from = msg.envelope.from and msg.envelope.from[1] or {}
    rows[#rows + 1] = string.format("%6d  %-22s %s", msg.uid,
      (from.mailbox or "?") .. "@" .. (from.host or "?"), table.concat(files, ", "))
  end
end

for _, row in ipairs(rows) do print(row) end
local function n_of(n, noun) return string.format("%d %s%s", n, noun, n == 1 and "" or "s") end
print(string.format("%s in %s, %.1f MB", n_of(count, "attachment"), n_of(#rows, "message"), total / 2^20))
local kinds = {}
for kind, bytes in pairs(by_type) do kinds[#kinds + 1] = { kind = kind, bytes = bytes } end
table.sort(kinds, function(a, b) return a.bytes > b.bytes end)
for _, k in ipairs(kinds) do print(string.format("  %-32s %8.1f MB", k.kind, k.bytes / 2^20)) end
