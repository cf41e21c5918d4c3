-- Two accounts, as people who filter a personal and a work mailbox in one config: passwords
-- from a command each (pipe_from), rules from a module loaded with require(), mail moved
-- between the accounts, a result set spanning both, a rule on a mailbox one of them does not
-- have. Runs unchanged under imapfilter 2.8 and imapscript --imapfilter. Needs INBOX of
-- both users and bob's Work seeded (tests/integration/imapfilter_diff_spec.lua).
options.timeout = 60
options.subscribe = true

local function account(n)
  local suffix = n == 1 and "" or tostring(n)
  local _, password = pipe_from("printenv TESTBED_PASSWORD" .. suffix)
  return IMAP {
    server = os.getenv("TESTBED_HOST"),
    port = tonumber(os.getenv("TESTBED_TLS_PORT")),
    username = os.getenv("TESTBED_USER" .. suffix),
    password = (password:gsub("%s+$", "")),
    ssl = "auto",
    ca_file = os.getenv("TESTBED_CA"),
  }
end
personal = account(1)
work = account(2)

package.path = "tests/compat/configs/lib/?.lua;" .. package.path
local sorting = require "sorting"

-- Work mail that reached the personal address goes to the work account.
sorting.forward(personal.INBOX:contain_to("corp.example"), work.INBOX)
-- Each account archives its own old read mail.
sorting.archive(personal.INBOX, 365 * 4, personal["Archive/Old"])
sorting.archive(work.Work, 365 * 4, work["Archive/Old"])
-- A folder only the personal account has.
work.Personal:is_unseen():mark_flagged()
work.INBOX:contain_subject("Invoice"):move_messages(work["Receipts/2025"])

-- Patches from either account, tagged together (printed order would depend on how
-- imapfilter walks a table, so quietly).
options.info = false
local patches = personal.INBOX:match_subject("^\\[PATCH") + work.Work:match_subject("^\\[PATCH")
patches:add_flags({ "$Patch" })
print("patches", #patches)
options.info = true
work.Work:has_keyword("$Patch"):move_messages(work["Dev/Patches"])

print("personal", personal.INBOX:check_status())
print("work", work.INBOX:check_status())
