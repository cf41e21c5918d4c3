-- core_mime_spec.lua — core.decode_header, core.header_values, core.body_text and the
-- mailbox-name codec core.mutf7_encode / core.mutf7_decode.
local core = require "imapscript.core"

describe("core.decode_header", function()
  it("decodes RFC 2047 words in any charset iconv knows", function()
    assert.are.equal("André Pirard <p@example.org>",
                     core.decode_header(" =?ISO-8859-1?Q?Andr=E9?= Pirard <p@example.org>"))
    assert.are.equal("Grüße", core.decode_header("=?UTF-8?B?R3LD?= =?utf-8?B?vMOfZQ==?="))
    assert.are.equal("Привет, мир", core.decode_header("=?koi8-r?B?8NLJ18XULCDNydI=?="))
    assert.are.equal("“quoted” €", core.decode_header("=?windows-1252?Q?=93quoted=94_=80?="))
    assert.are.equal("(ab)", core.decode_header("(=?ISO-8859-1?Q?a?=\r\n =?ISO-8859-1?Q?b?=)"))
  end)

  it("keeps broken words and unknown charsets as written", function()
    assert.are.equal("=?UTF-8?B?###?=", core.decode_header("=?UTF-8?B?###?="))
    assert.are.equal("=?x-klingon?Q?abc?=", core.decode_header("=?x-klingon?Q?abc?="))
    assert.are.equal("a folded line", core.decode_header("a folded\r\n line"))
  end)
end)

describe("core.header_values", function()
  local hdr = "Received: one\r\n\tcontinued\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n" ..
              "RECEIVED: two\r\n\r\nReceived: body, not header\r\n"
  it("returns every value of a field, decoded, in order", function()
    assert.are.same({ "one\tcontinued", "two" }, core.header_values(hdr, "received"))
    assert.are.same({ "café" }, core.header_values(hdr, "Subject"))
    assert.are.same({}, core.header_values(hdr, "X-Missing"))
    assert.are.same({}, core.header_values("", "Subject"))
  end)
end)

describe("core.body_text", function()
  local msg = table.concat({
    "From: a@example.org",
    "Content-Type: multipart/alternative; boundary=\"alt\"",
    "",
    "--alt",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Caf=C3=A9 au lait, a long line that is=",
    " softly broken",
    "--alt",
    "Content-Type: text/html",
    "",
    "<p>HTML version</p>",
    "--alt--",
    "",
  }, "\r\n")

  it("gives the text/plain part, decoded", function()
    assert.are.equal("Café au lait, a long line that is softly broken", core.body_text(msg))
  end)

  it("falls back to HTML without tags", function()
    local html = "Content-Type: text/html; charset=utf-8\r\n\r\n" ..
                 "<html><style>x{}</style><p>Hello &amp; <b>bye</b></p></html>"
    assert.are.equal("Hello & bye", core.body_text(html))
  end)

  it("is bounded and never cuts a character", function()
    local big = "Content-Type: text/plain; charset=utf-8\r\n\r\n" .. ("é"):rep(100000)
    local t = core.body_text(big, 1001)
    assert.are.equal(1000, #t)
    assert.is_truthy(utf8.len(t))
    assert.are.equal("", core.body_text(big, 0))
    assert.has_error(function() core.body_text(big, -1) end)
  end)

  it("survives hostile input", function()
    math.randomseed(7)
    for _ = 1, 300 do
      local cut = math.random(0, #msg)
      local s = msg:sub(1, cut) .. string.char(math.random(0, 255)) .. msg:sub(cut + 2)
      assert.is_string(core.body_text(s))
    end
  end)
end)

describe("core.mutf7", function()
  it("round-trips mailbox names", function()
    assert.are.equal("Entw&APw-rfe", core.mutf7_encode("Entwürfe"))
    assert.are.equal("Entwürfe", core.mutf7_decode("Entw&APw-rfe"))
    assert.are.equal("&-", core.mutf7_encode("&"))
    assert.are.equal("INBOX", core.mutf7_decode("INBOX"))
    local name = "日本語/Ünïcödé & more"
    assert.are.equal(name, core.mutf7_decode(core.mutf7_encode(name)))
  end)

  it("returns nil, message on invalid input", function()
    local s, err = core.mutf7_decode("&Jjo")
    assert.is_nil(s)
    assert.is_string(err)
    s, err = core.mutf7_encode("\xff")
    assert.is_nil(s)
    assert.is_string(err)
  end)
end)
