-- imapfilter's stale selection, kept as the differential test's named difference: after a
-- SELECT the server refused, imapfilter still takes the mailbox selected before as selected,
-- so its next command there fails with BAD "No mailbox selected" and does nothing.
-- imapscript selects it again. Needs Stale seeded (tests/integration/imapfilter_diff_spec.lua).
options.info = false

account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = os.getenv("TESTBED_PASSWORD"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),
}

account.Stale:is_answered():add_flags({ "$Answered" })
account.Nowhere:select_all():mark_seen()
account.Stale:is_flagged():add_flags({ "$Flagged" })
