-- Pure parts of the imapfilter compatibility layer (lua/imapscript/compat): send_query's
-- criteria parser, the MIME structure and parts of fetch_structure/fetch_part, the field
-- text imapfilter's match_* and fetch_field work on, regex_search, form_date.
local criteria = require "imapscript.compat.criteria"
local mime = require "imapscript.compat.mime"
local fetch = require "imapscript.compat.fetch"
local aux = require "imapscript.compat.auxiliary"

describe("send_query criteria", function()
  local function text(s) return tostring(criteria.parse(s)) end
  it("become the same search through the encoder", function()
    assert.are.equal("ALL", text(""))
    assert.are.equal("UNSEEN", text("unseen"))
    assert.are.equal('OR FROM "noreply" SUBJECT "Reminder"', text('OR FROM "noreply" SUBJECT "Reminder"'))
    assert.are.equal("NOT SEEN LARGER 10000", text("NOT SEEN LARGER 10000"))
    assert.are.equal("SUBJECT \"say \\\"hi\\\"\"", text('SUBJECT "say \\"hi\\""'))
    assert.are.equal("SINCE 1-Jan-2024", text("SINCE 01-Jan-2024"))
    assert.are.equal('HEADER List-Id "lua-l"', text("HEADER List-Id lua-l"))
    assert.are.equal("UID 1:5,9", text("UID 1:5,9"))
  end)
  it("refuse what they cannot send right", function()
    for _, bad in ipairs { "1:5", "FROM", "(SEEN", "SEEN)", "BOGUS x", "SINCE yesterday", 'SUBJECT "x' } do
      assert.has_error(function() criteria.parse(bad) end)
    end
  end)
  it("read imapfilter's dates", function()
    assert.are.same({ year = 2007, month = 1, day = 1 }, criteria.date("01-Jan-2007"))
    assert.are.same({ year = 2024, month = 12, day = 9 }, criteria.date("9-dec-2024"))
    assert.is_nil(criteria.date("2024-01-01"))
    assert.is_nil(criteria.date("32-Jan-2024"))
  end)
end)

describe("MIME structure and parts", function()
  local msg = table.concat({
    "From: a@example.org", "Subject: x", "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="outer"', "", "preamble",
    "--outer", 'Content-Type: multipart/alternative; boundary="inner"', "",
    "--inner", "Content-Type: text/plain; charset=utf-8", "", "plain text", "--inner",
    "Content-Type: text/html", "", "<p>html</p>", "--inner--", "",
    "--outer", "Content-Type: application/pdf; name=\"report.pdf\"",
    "Content-Disposition: attachment; filename=\"r.pdf\"", "Content-Transfer-Encoding: base64", "",
    "AAAA", "--outer", "Content-Type: message/rfc822", "", "Subject: inner", "", "inner body",
    "--outer--", "" }, "\r\n")
  it("has imapfilter's shape", function()
    local s = mime.structure(msg)
    assert.are.equal("multipart/alternative", s["1"].type)
    assert.are.equal("text/plain", s["1.1"].type)
    assert.are.equal(#"plain text", s["1.1"].size)
    assert.are.equal("text/html", s["1.2"].type)
    assert.are.equal("application/pdf", s["2"].type)
    assert.are.equal("r.pdf", s["2"].name)
    assert.are.equal("message/rfc822", s["3"].type)
    assert.are.equal("text/plain", s["3.1"].type)
  end)
  it("gives parts as BODY[part] does", function()
    assert.are.equal("plain text", mime.part(msg, "1.1"))
    assert.are.equal("<p>html</p>", mime.part(msg, "1.2"))
    assert.are.equal("AAAA", mime.part(msg, "2"))
    assert.are.equal("Subject: inner\r\n\r\ninner body", mime.part(msg, "3"))
    assert.are.equal("inner body", mime.part(msg, "3.1"))
    assert.is_nil(mime.part(msg, "9"))
    local single = "Subject: s\r\n\r\nbody\r\n"
    assert.are.equal("body\r\n", mime.part(single, "1"))
    assert.are.same({ ["1"] = { type = "text/plain", size = 6 } }, mime.structure(single))
  end)
  it("survives nonsense", function()
    for _, s in ipairs { "", "\r\n", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b", "--b--" } do
      mime.structure(s)
      mime.part(s, "1.2.3")
    end
  end)
end)

describe("field text", function()
  it("is what imapfilter's fetch_field and match_field see", function()
    assert.are.equal("Subject: hello", fetch.field_text("Subject: hello\r\n\r\n"))
    assert.are.equal("\r", fetch.field_text("\r\n"))
    assert.are.equal("hello", fetch.field_value("Subject: hello"))
    assert.are.equal("a\r\n b", fetch.field_value(fetch.field_text("Subject: a\r\n b\r\n\r\n")))
    assert.are.equal("Subject: x\r\n\r\n", fetch.header_of("Subject: x\r\n\r\nbody"))
    assert.are.equal("body", fetch.body_of("Subject: x\r\n\r\nbody"))
  end)
end)

describe("auxiliary functions", function()
  it("regex_search returns the match and captures, or false", function()
    assert.are.same({ "abc-123", "abc", "123" }, { aux.regex_search("^(\\w+)-(\\d+)$", "abc-123") })
    assert.are.same({ "a", "a" }, { aux.regex_search("(a)(z)?", "ab") })
    assert.are.same({ "bb" }, { aux.regex_search("b+", "abbc") })
    assert.are.same({ false }, { aux.regex_search("^x", "abc") })
    assert.has_error(function() aux.regex_search("(", "x") end)
  end)
  it("form_date counts days back", function()
    assert.are.equal(os.date("%d-%b-%Y"), aux.form_date(0))
    assert.are.equal(os.date("%d-%b-%Y", os.time() - 86400 * 10), aux.form_date(10))
  end)
end)
