-- imapfilter's hazards, kept out: search strings with quotes, backslashes and 8-bit bytes;
-- options.charset; a move that expunges only what it moved; a set too long for one command
-- line; match_* over many messages in one FETCH. imapscript only (imapfilter 2.8 sends the
-- strings unquoted, and EXPUNGEs every \Deleted message). Needs H (pre-deleted mail), W
-- (5000 messages) and the messages the spec appends to X.
options.info = false

local account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = os.getenv("TESTBED_PASSWORD"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),
}

local X = account.X
print("quotes", #X:contain_subject('say "hi" \\ now'))
print("backslash", #X:contain_field("X-Path", 'C:\\dir\\"x"'))
print("utf8", #X:contain_subject("Grüße"))
print("query", #X:send_query('SUBJECT "say \\"hi\\""'))
options.charset = "ISO-8859-1"
print("latin1", #X:contain_subject("Gr\xfc\xdfe"))
options.charset = ""

-- A move: the messages already flagged \Deleted in H stay.
account.H:is_undeleted():is_seen():move_messages(account["H/Moved"])

-- Every other message of W, 2500 UIDs that do not form ranges.
local odd = Set {}
for _, m in ipairs(account.W:select_all()) do
  if m[2] % 2 == 1 then table.insert(odd, m) end
end
print("odd", #odd)
odd:add_flags({ "$Odd" })

-- A regular expression over all 5000 messages.
print("patches", #account.W:match_subject("^\\[PATCH"))
