-- BINARY (RFC 3516) and PREVIEW (RFC 8970) against Dovecot, which offers both, against a
-- second Dovecot whose --caps hides them and a third that offers only SNIPPET=FUZZY (they
-- still run every command: the traces show what the client sent): parts fetched both ways
-- agree byte for byte, APPEND sends literal8 where it may, and the preview made here agrees
-- with Dovecot's own.
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }
local settings = require "imapscript.settings"

-- Dovecot's capabilities without BINARY, PREVIEW and SNIPPET.
local PLAIN_CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE " ..
  "UIDPLUS LIST-EXTENDED CONDSTORE ESEARCH MOVE SPECIAL-USE LITERAL+"

-- 3000 bytes with every byte value, NUL, CR and LF among them.
local BLOB = {}
for i = 0, 2999 do BLOB[#BLOB + 1] = string.char((i * 7 + (i // 256)) % 256) end
BLOB = table.concat(BLOB)

-- RFC 2045 base64, 76 characters a line.
local function base64(s)
  local abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 3, 0, -1 do q[#q + 1] = abc:sub((n >> (6 * k)) % 64 + 1, (n >> (6 * k)) % 64 + 1) end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return (table.concat(out):gsub(("."):rep(76), "%0\r\n"))
end

local function multipart(id, parts)
  local out = { "From: a@example.org\r\nSubject: parts\r\nMessage-ID: <" .. id .. ">\r\n" ..
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" }
  for _, p in ipairs(parts) do out[#out + 1] = "--B\r\n" .. p .. "\r\n" end
  out[#out + 1] = "--B--\r\n"
  return table.concat(out)
end

local MESSAGES = {
  multipart("good@x", {
    "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" ..
      "Gr=FC=DFe aus M=FCnchen,=\r\n ein Anhang.",
    "Content-Type: application/octet-stream; name=blob.bin\r\nContent-Disposition: attachment; " ..
      "filename=blob.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" .. base64(BLOB),
  }),
  -- Dovecot will not decode these (NO [UNKNOWN-CTE], NO [PARSE]): undecoded, then decoded here.
  multipart("odd@x", {
    "Content-Type: text/plain\r\n\r\nhello",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n`\r\nend",
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD*!!!REVG==Rw",
  }),
}

-- Mail whose previews take the rules' corners: quoted lines, only quotes, blanks, HTML with
-- a quote, no text, a non-text part first, long text, base64 Latin-1, text past 32 KiB.
local function single(id, ctype, cte, body)
  return "From: a@example.org\r\nSubject: p\r\nMessage-ID: <" .. id .. ">\r\nMIME-Version: 1.0\r\n" ..
    "Content-Type: " .. ctype .. "\r\n" .. (cte and ("Content-Transfer-Encoding: " .. cte .. "\r\n") or "") ..
    "\r\n" .. body
end
local PREVIEWS = {
  single("reply@x", "text/plain; charset=utf-8", nil,
    "On Monday Bob wrote:\r\n> quoted line\r\n>quoted2\r\n\r\nMy answer.\r\n -- \r\nsig\r\n"),
  single("quotes@x", "text/plain", nil, "> all\r\n> quoted\r\n>> deeper\r\n"),
  single("blanks@x", "text/plain", nil, "\r\n\r\n   Leading blanks\tand\ttabs  here.\r\nSecond line.\r\n"),
  single("html@x", "text/html; charset=utf-8", nil, "<html><head><style>p{x:y}</style></head><body>" ..
    "<p>Hello <b>World</b></p><blockquote>quoted html</blockquote><p>After &amp; more</p></body></html>\r\n"),
  single("empty@x", "text/plain", nil, ""),
  single("pdf@x", "application/pdf", "base64", "JVBERi0xLjQK\r\n"),
  single("long@x", "text/plain; charset=utf-8", nil, string.rep("Größere Wörter ", 40) .. "\r\n"),
  single("latin1@x", "text/plain; charset=iso-8859-1", "base64", base64("Caf\xe9 cr\xe8me, na\xefve\r\n")),
  multipart("big@x", { "Content-Type: text/plain\r\n\r\nFirst the text,\r\nthen a large attachment.",
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" ..
    base64(string.rep(BLOB, 20)) }),
  multipart("pdffirst@x", { "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0K",
    "Content-Type: text/plain\r\n\r\nThe text after the PDF." }),
}

-- Each account's trace goes to its own file (a connection takes the trace when it opens).
local traces = {}

local function account_traced(new_account)
  local path = os.tmpname()
  traces[#traces + 1] = path
  settings.trace = assert(io.open(path, "w"))
  settings.trace:setvbuf("line")
  local a = new_account()
  a:_connection()
  settings.trace = nil
  a._trace = path
  return a
end

-- Runs fn(); returns its result and the command lines acct sent meanwhile.
local function traced(acct, fn)
  local f = assert(io.open(acct._trace))
  local before = f:seek("end")
  f:close()
  local res = fn()
  f = assert(io.open(acct._trace))
  f:seek("set", before)
  local sent = {}
  for line in f:lines() do
    if line:find("^C: ") then sent[#sent + 1] = line end
  end
  f:close()
  return res, table.concat(sent, "\n")
end

-- {[message-id] = {[sec] = part_text, ["saved " .. sec] = what msg:save wrote}} for the parts
-- of the messages of r.
local function parts_of(r, sections)
  local items = { "headers" }
  for _, sec in ipairs(sections) do items[#items + 1] = "part:" .. sec end
  local out = {}
  for m in r:fetch(items) do
    local t = {}
    for _, sec in ipairs(sections) do
      t[sec] = m:part_text(sec)
      local path = os.tmpname()
      local n = assert(m:save(path, sec))
      local f = assert(io.open(path, "rb"))
      t["saved " .. sec] = f:read("a")
      f:close()
      os.remove(path)
      assert.are.equal(n, #t["saved " .. sec])
    end
    out[m:header("Message-ID")] = t
  end
  return out
end

describe("BINARY and PREVIEW", function()
  local acct, plain, plain_acct, snippet, snippet_acct
  setup(function()
    acct = account_traced(function() return imap.account(S.account_cfg()) end)
    plain = S.bed(imap, { caps = PLAIN_CAPS })
    plain_acct = account_traced(plain.account)
    snippet = S.bed(imap, { caps = PLAIN_CAPS .. " SNIPPET=FUZZY" })
    snippet_acct = account_traced(snippet.account)
    for _, a in ipairs { acct, plain_acct } do
      a:create "Bin"
      for _, m in ipairs(MESSAGES) do a.Bin:append(m) end
    end
    S.seed("Prev", 40, 7)
    for _, b in ipairs { plain, snippet } do b.seed("Prev", 40, 7) end
    for _, a in ipairs { acct, plain_acct, snippet_acct } do
      for _, m in ipairs(PREVIEWS) do a.Prev:append(m) end
    end
  end)
  teardown(function()
    acct:logout()
    plain_acct:logout()
    snippet_acct:logout()
    plain.stop()
    snippet.stop()
    for _, path in ipairs(traces) do os.remove(path) end
  end)

  it("fetches parts decoded by the server where it offers BINARY, the same bytes as decoded here", function()
    assert.is_true(acct:_connection():has("BINARY"))
    assert.is_false(plain_acct:_connection():has("BINARY"))
    local got, trace = {}, {}
    for i, a in ipairs { acct, plain_acct } do
      got[i], trace[i] = traced(a, function()
        local Q = imap.query
        local res = parts_of(a.Bin:search(Q.header("Message-ID", "good@x")), { "1", "2" })
        res["<odd@x>"] = parts_of(a.Bin:search(Q.header("Message-ID", "odd@x")), { "2", "3" })["<odd@x>"]
        return res
      end)
    end
    assert.truthy(trace[1]:find("UID FETCH 1 (UID BODY.PEEK[HEADER] BODYSTRUCTURE BINARY.PEEK[1] " ..
      "BINARY.PEEK[2])", 1, true), trace[1])
    assert.falsy(trace[1]:find("UID FETCH 1 (UID BODY.PEEK[HEADER] BODYSTRUCTURE BODY.PEEK", 1, true), trace[1])
    -- Dovecot will not decode the uuencoded part nor the broken base64: asked again undecoded
    assert.truthy(trace[1]:find("UID FETCH 2 (UID BODY.PEEK[HEADER] BODYSTRUCTURE BINARY.PEEK[2] " ..
      "BINARY.PEEK[3])", 1, true), trace[1])
    assert.truthy(trace[1]:find("UID FETCH 2 (UID BODY.PEEK[HEADER] BODYSTRUCTURE BODY.PEEK[2] " ..
      "BODY.PEEK[3])", 1, true), trace[1])
    assert.falsy(trace[2]:find("BINARY", 1, true), trace[2])
    local good = got[1]["<good@x>"]
    assert.are.equal(BLOB, good["2"])
    assert.are.equal(BLOB, good["saved 2"])
    assert.are.equal("Grüße aus München, ein Anhang.", good["1"])
    assert.are.equal("Gr\xfc\xdfe aus M\xfcnchen, ein Anhang.", good["saved 1"])  -- saved: its charset
    local odd = got[1]["<odd@x>"]
    assert.are.equal("begin 644 x\r\n`\r\nend", odd["2"])
    assert.are.equal("ABC", odd["3"]:sub(1, 3))
    assert.are.same(got[2], got[1])
  end)

  it("decodes a part fetched with BINARY once, not twice", function()
    -- base64 text that is itself base64: decoding it twice would change it
    local inner = base64("twice?")
    acct.Bin:append(multipart("b64@x", { "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" ..
      base64(inner) }))
    local r = acct.Bin:search(imap.query.header("Message-ID", "b64@x"))
    local m = r:fetch { "part:1" }()
    assert.are.equal(inner:gsub("\r\n$", ""), m:part_text("1"):gsub("\r\n$", ""))
    assert.is_true(m._binary["1"])
  end)

  it("APPENDs 8-bit and binary content as a literal8 where the server offers BINARY", function()
    local ASCII = "Subject: ascii\r\n\r\nplain\r\n"
    local nul = "From: a@example.org\r\nSubject: nul\r\nMessage-ID: <nul@x>\r\nMIME-Version: 1.0\r\n" ..
      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" .. BLOB
    local eight = "From: a@example.org\r\nSubject: 8bit\r\nMessage-ID: <eight@x>\r\n" ..
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n"
    local _, sent = traced(acct, function()
      acct:create "App"
      acct.App:append(nul)
      acct.App:append(eight)
      acct.App:append(ASCII)
    end)
    assert.truthy(sent:find("APPEND App ~{" .. #nul .. "+}", 1, true), sent)
    assert.truthy(sent:find("APPEND App ~{" .. #eight .. "+}", 1, true), sent)
    assert.truthy(sent:find("APPEND App {" .. #ASCII .. "+}", 1, true), sent)
    assert.are.equal(3, S.count("App"))
    -- Dovecot stores the binary part base64-encoded; it comes back the same
    local m = acct.App:search(imap.query.header("Message-ID", "nul@x")):fetch { "part:1" }()
    assert.are.equal(BLOB, m:part_text("1"))
    local f = io.popen("grep -l eight@x " .. S.shquote(S.env("TESTBED_MAILROOT")) .. "/alice/.App/*/* | xargs cat")
    assert.are.equal(eight:gsub("\r\n", "\n"), f:read("a"))     -- the 8-bit message as it was sent
    f:close()
    -- without BINARY: 8-bit text in a plain literal; NUL bytes refused before anything is sent
    _, sent = traced(plain_acct, function()
      plain_acct:create "App"
      plain_acct.App:append(eight)
      local ok, err = pcall(plain_acct.App.append, plain_acct.App, nul)
      assert.is_false(ok)
      assert.are.equal("usage", err.kind)
      assert.truthy(tostring(err):find("NUL byte, which only a server offering BINARY", 1, true), tostring(err))
    end)
    assert.truthy(sent:find("APPEND App {" .. #eight .. "+}", 1, true), sent)
    assert.falsy(sent:find("~{", 1, true), sent)
    assert.falsy(sent:find("nul@x", 1, true), sent)
    assert.are.same({ ["<eight@x>"] = "" }, plain.state("App"))
  end)

  it("gives the server's preview (PREVIEW, or Dovecot's SNIPPET), else one made here that agrees", function()
    local function previews(a)
      local out, n = {}, 0
      for m in a.Prev:all():fetch { "preview", "envelope" } do
        out[m.envelope.message_id] = m.preview
        n = n + 1
      end
      assert.are.equal(40 + #PREVIEWS, n)
      return out
    end
    local dovecot, sent = traced(acct, function() return previews(acct) end)
    assert.truthy(sent:find("UID FETCH 1:50 (UID PREVIEW ENVELOPE)", 1, true), sent)
    local fuzzy, fsent = traced(snippet_acct, function() return previews(snippet_acct) end)
    assert.truthy(fsent:find("(UID SNIPPET (FUZZY) ENVELOPE)", 1, true), fsent)
    local here, psent = traced(plain_acct, function() return previews(plain_acct) end)
    assert.truthy(psent:find("(UID BODY.PEEK[]<0.32768> ENVELOPE)", 1, true), psent)
    assert.are.same(dovecot, fuzzy)
    assert.are.same(dovecot, here)
    -- the corners, spelled out (Dovecot's answers, which the previews made here equal)
    assert.are.equal("On Monday Bob wrote: My answer. -- sig", here["<reply@x>"])
    assert.are.equal(">all quoted > deeper", here["<quotes@x>"])
    assert.are.equal("Leading blanks and tabs here. Second line.", here["<blanks@x>"])
    assert.are.equal("Hello World After & more", here["<html@x>"])
    assert.are.equal("", here["<empty@x>"])
    assert.are.equal("", here["<pdf@x>"])
    assert.are.equal("Café crème, naïve", here["<latin1@x>"])
    assert.are.equal("First the text, then a large attachment.", here["<big@x>"])
    assert.are.equal(200, utf8.len(here["<long@x>"]))
    -- RFC 8970: at most 256 characters, text without line breaks or runs of blanks
    for id, p in pairs(here) do
      assert.is_true(utf8.len(p) <= 200, id)
      assert.falsy(p:find("[\r\n\t]") or p:find("  ", 1, true) or p:find("^ ") or p:find(" $"), id)
    end
    -- the draft's spelling, PREVIEW (FUZZY), decoded the same way
    local conn = require("imapscript.result").use_box(acct.Prev)
    local draft = {}
    conn:wait(conn:fetch(imap.set "1:50", { "envelope", "preview_fuzzy" }, function(m)
      draft[m.envelope.message_id] = m.preview
    end))
    assert.are.same(dovecot, draft)
  end)
end)
