-- BODYSTRUCTURE as Lua tables, msg:parts() and part:N fetches, on real multipart mail appended
-- by the test: alternative inside mixed, message/rfc822, RFC 2231 and RFC 2047 file names.
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }

local MSG = table.concat({
  "From: Alice <alice@example.org>",
  "To: bob@example.org",
  "Subject: parts",
  "Message-ID: <parts-1@example.org>",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="outer"',
  "",
  "--outer",
  'Content-Type: multipart/alternative; boundary="alt"',
  "",
  "--alt",
  "Content-Type: text/plain; charset=iso-8859-1",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "Gr=FC=DFe aus K=F6ln",
  "--alt",
  "Content-Type: text/html; charset=utf-8",
  "",
  "<p>Gr&uuml;&szlig;e</p>",
  "--alt--",
  "--outer",
  "Content-Type: message/rfc822",
  "",
  "From: Carol <carol@example.org>",
  "Subject: =?UTF-8?Q?inn=C3=A9r?=",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="inner"',
  "",
  "--inner",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "inner text",
  "--inner",
  'Content-Type: application/octet-stream; name="data.bin"',
  "Content-Transfer-Encoding: base64",
  "",
  "AP8A",
  "--inner--",
  "--outer",
  "Content-Type: application/pdf; name*0*=utf-8''%E2%82%AC%20rates; name*1=\".pdf\"",
  "Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC%20rates;",
  ' filename*1=" 2024.pdf"',
  "Content-Transfer-Encoding: base64",
  "",
  "JVBERi0xLjQK",
  "--outer",
  'Content-Type: text/plain; name="=?UTF-8?B?w5xiZXJzaWNodC50eHQ=?="',
  'Content-Disposition: attachment; filename="=?UTF-8?B?w5xiZXJzaWNodC50eHQ=?="',
  "Content-Language: de",
  "Content-Location: http://example.org/u.txt",
  "",
  "x",
  "--outer--",
  "",
}, "\r\n")

describe("bodystructure", function()
  local acct
  setup(function() acct = imap.account(S.account_cfg()) end)
  teardown(function() acct:logout() end)

  it("gives the MIME tree as tables with section numbers and decoded names", function()
    acct.INBOX:append(MSG)
    local msg = acct.INBOX:search(imap.query.header("Message-ID", "parts-1"))
      :fetch { "bodystructure" }()
    local top = msg.bodystructure
    assert.are.equal("multipart", top.type)
    assert.are.equal("mixed", top.subtype)
    assert.is_nil(top.part)
    assert.are.equal("outer", top.params.boundary)
    local got = {}
    for p in msg:parts() do
      got[#got + 1] = string.format("%s %s/%s %s", p.part or "-", p.type, p.subtype, p.filename or "")
    end
    assert.are.same({
      "- multipart/mixed ",
      "1 multipart/alternative ",
      "1.1 text/plain ",
      "1.2 text/html ",
      "2 message/rfc822 ",
      "- multipart/mixed ",
      "2.1 text/plain ",
      "2.2 application/octet-stream data.bin",
      "3 application/pdf \u{20ac} rates 2024.pdf",
      "4 text/plain \u{dc}bersicht.txt",
    }, got)
    local plain = top.children[1].children[1]
    assert.are.equal("quoted-printable", plain.encoding)
    assert.are.equal("iso-8859-1", plain.params.charset)
    assert.are.equal("number", math.type(plain.lines) and "number")
    assert.is_true(plain.size > 0)
    local inner = top.children[2]
    assert.are.equal("inn\u{e9}r", inner.envelope.subject)
    assert.are.equal("carol", inner.envelope.from[1].mailbox)
    local pdf = top.children[3]
    assert.are.equal("attachment", pdf.disposition)
    assert.are.equal("\u{20ac} rates.pdf", pdf.params.name)
    local last = top.children[4]
    assert.are.same({ "de" }, last.language)
    assert.are.equal("http://example.org/u.txt", last.location)
  end)

  it("fetches single parts and decodes them", function()
    local r = acct.INBOX:search(imap.query.header("Message-ID", "parts-1"))
    local msg = r:fetch { "part:1.1", "part:2.2", "part:3", "part:2.1" }()
    assert.are.equal("Gr\u{fc}\u{df}e aus K\u{f6}ln", msg:part_text("1.1"))
    assert.are.equal("\0\255\0", msg:part_text("2.2"))
    assert.are.equal("%PDF-1.4\n", msg:part_text(3))
    assert.are.equal("inner text", msg:part_text("2.1"))
    assert.has_error(function() msg:part_text("1.2") end)
    assert.has_error(function() r:fetch { "part:1..2" } end)
  end)
end)
