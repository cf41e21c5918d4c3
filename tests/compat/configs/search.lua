-- An imapfilter config exercising every searching method. Each search tags what it
-- found with its own keyword, so the final server state records every result; the
-- counts are printed too. Runs unchanged under imapfilter 2.8 and imapscript --imapfilter.
-- Needs mailboxes S and T seeded (tests/integration/compat_spec.lua, imapfilter_diff_spec.lua).
options.info = false
options.timeout = 30

local account = IMAP {
  server = os.getenv("TESTBED_HOST"),
  port = tonumber(os.getenv("TESTBED_TLS_PORT")),
  username = os.getenv("TESTBED_USER"),
  password = os.getenv("TESTBED_PASSWORD"),
  ssl = "auto",
  ca_file = os.getenv("TESTBED_CA"),      -- imapscript only; imapfilter gets -t
}

local function tag(name, results)
  print(string.format("%-24s %d", name, #results))
  results:add_flags({ "$" .. name })
end

-- States, sizes and dates, in mailbox S.
local S = account.S
tag("answered", S:is_answered())
tag("deleted", S:is_deleted())
tag("draft", S:is_draft())
tag("flagged", S:is_flagged())
tag("seen", S:is_seen())
tag("unanswered", S:is_unanswered())
tag("undeleted", S:is_undeleted())
tag("undraft", S:is_undraft())
tag("unflagged", S:is_unflagged())
tag("unseen", S:is_unseen())
tag("old", S:is_old())
print("recent+new", #S:is_recent() - #S:is_new() >= 0)
tag("haskw", S:has_keyword("$flagged"))
tag("hasunkw", S:has_unkeyword("$seen"))
tag("larger", S:is_larger(40000))
tag("smaller", S:is_smaller(2500))
tag("newer", S:is_newer(365 * 4))
tag("older", S:is_older(365 * 6))
tag("arrbefore", S:arrived_before("01-Jan-2021"))
tag("arrsince", S:arrived_since("01-Jun-2023"))
tag("sentbefore", S:sent_before("15-Mar-2020"))
tag("sentsince", S:sent_since("01-Jan-2024"))
-- A day that has mail: the arrival day of the first message.
local first = S:select_all()[1]
local mbox, uid = table.unpack(first)
local day = mbox[uid]:fetch_date():match("^%s*(%d+%-%a+%-%d+)")
tag("arron", S:arrived_on(day))
tag("senton", S:sent_on(day))
tag("all", S:select_all())

-- Text searches, regular expressions, raw queries and meta-searching, in mailbox T.
local T = account.T
tag("from", T:contain_from("noreply"))
tag("to", T:contain_to("lua-l"))
tag("cc", T:contain_cc("example"))
tag("bcc", T:contain_bcc("example"))
tag("subject", T:contain_subject("PATCH"))
tag("field", T:contain_field("List-Id", "debian-devel"))
tag("body", T:contain_body("measure"))
tag("message", T:contain_message("coroutines"))
tag("mfrom", T:match_from("^<?(noreply|notifications)@"))
tag("msubject", T:match_subject("^\\[PATCH v\\d+ \\d+/\\d+\\]"))
tag("mto", T:match_to("lists\\.(lua|debian)\\.org>$"))
tag("mcc", T:match_cc("@example\\.(org|com)"))
tag("mbcc", T:match_bcc("."))
tag("mfield", T:match_field("X-Mailer", "^Apple"))
tag("mheader", T:match_header("(?m)^List-Post: <mailto:dovecot"))
tag("mbody", T:match_body("(?i)measure\\s+first"))
tag("mmessage", T:match_message("multipart/alternative"))
tag("query1", T:send_query('OR FROM "noreply" SUBJECT "Reminder"'))
tag("query2", T:send_query("NOT SEEN LARGER 10000"))
tag("query3", T:send_query())
tag("meta", T:is_seen():contain_subject("Re:"):match_from("\\.(com|org)>?$"))
tag("metambox", T:is_unseen(T:contain_to("lists")))
tag("algebra", (T:is_seen() + T:is_flagged()) * T:is_larger(5000) - T:contain_from("noreply"))
