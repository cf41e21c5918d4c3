-- Big messages against Dovecot: a 50 MB attachment (base64) and a 20 MB quoted-printable text,
-- appended by the test, moved to another account and saved, compared byte for byte (SHA-256)
-- with what build/bigmail wrote; their text read whole and searched to its end.
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }
local core = require "imapscript.core"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function sha(path) return sh("sha256sum " .. S.shquote(path)):match("^(%x+)") end
-- As Dovecot keeps a message: its line ends LF.
local function sha_lf(path) return sh("tr -d '\\r' < " .. S.shquote(path) .. " | sha256sum"):match("^(%x+)") end
local function sha_str(s)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  local h = sha(path)
  os.remove(path)
  return h
end

-- The Maildir files of a mailbox, by Message-ID.
local function files(mailbox, user)
  local root = S.env("TESTBED_MAILROOT") .. "/" .. user .. (mailbox == "INBOX" and "" or "/." .. mailbox)
  local out = {}
  for _, sub in ipairs { "cur", "new" } do
    for name in sh("ls -1 " .. S.shquote(root .. "/" .. sub) .. " 2>/dev/null"):gmatch("[^\n]+") do
      local path = root .. "/" .. sub .. "/" .. name
      local f = assert(io.open(path))
      local head = f:read(4096)
      f:close()
      out[head:match("Message%-ID: (<[^>]+>)")] = { path = path, flags = name:match(":2,(.*)$") or "" }
    end
  end
  return out
end

local dir = S.tmpdir()
local B64, QP = dir .. "/b64.eml", dir .. "/qp.eml"
local DATE = "05-Mar-2021 09:30:00 +0100"

describe("a 50 MB attachment and a 20 MB quoted-printable text", function()
  local want = {}

  setup(function()
    assert(os.execute(string.format("build/bigmail %s base64 50000000 1 && build/bigmail %s qp 20000000 2",
      S.shquote(B64), S.shquote(QP))))
    for _, p in ipairs { B64, QP } do
      want[p] = { crlf = sha(p), lf = sha_lf(p), payload = sha(p .. ".payload") }
    end
    local conn = core.connect(S.account_cfg())
    conn:wait(conn:create("Big"))
    for _, p in ipairs { B64, QP } do
      local f = assert(io.open(p, "rb"))
      local h = conn:append("Big", f:read("a"), { "\\Flagged", "$Big" }, DATE)
      f:close()
      conn:wait(h)
      assert(h:result())
    end
    conn:logout()
    collectgarbage()
  end)

  teardown(function()
    os.execute("rm -rf " .. S.shquote(dir))
  end)

  it("move to another account byte for byte, flags and date kept, the originals gone", function()
    local a = imap.account(S.account_cfg())
    local b = imap.account(S.account_cfg({}, 2))
    a.Big:all():move_to(b.INBOX)
    imap.flush()
    a:logout()
    b:logout()
    assert.are.equal(0, S.count("Big"))
    local got, flags = files("INBOX", "bob"), S.state("INBOX", "bob")
    for id, p in pairs { ["<big-base64@example.org>"] = B64, ["<big-qp@example.org>"] = QP } do
      assert.truthy(got[id], id)
      assert.are.equal(want[p].lf, sha_lf(got[id].path), id)
      assert.are.equal("$Big \\Flagged", flags[id])
      -- Dovecot keeps the internal date as the file's mtime.
      assert.are.equal("1614933000", sh("stat -c %Y " .. S.shquote(got[id].path)):match("%d+"))
    end
  end)

  it("msg:save writes the message and its parts as they arrive, byte for byte", function()
    local b = imap.account(S.account_cfg({}, 2))
    local n, b64_uid = 0, nil
    for m in b.INBOX:all():fetch { "envelope", "size" } do
      n = n + 1
      local src = m.envelope.message_id == "<big-base64@example.org>" and B64 or QP
      if src == B64 then b64_uid = m.uid end
      local whole, part = dir .. "/whole", dir .. "/part"
      assert.are.equal(m.size, m:save(whole))
      assert.are.equal(want[src].crlf, sha(whole))
      -- the attachment (part 2), or the text (part 1): decoded by the server (BINARY)
      local bytes = assert(m:save(part, src == B64 and "2" or "1"))
      assert.are.equal(want[src].payload, sha(part))
      assert.are.equal(tonumber(sh("stat -c %s " .. S.shquote(src .. ".payload"))), bytes)
    end
    assert.are.equal(2, n)
    -- Decoded here instead (BODY[2] and its base64 undone as it arrives).
    local conn = core.connect(S.account_cfg({}, 2))
    conn:wait(conn:select("INBOX"))
    local saved
    conn:wait(conn:fetch({ b64_uid }, { "uid", { "save", dir .. "/local", "2", "base64" } }, function(m)
      saved = m.saved or m.save_error
    end))
    conn:logout()
    assert.are.equal(50000000, saved)
    assert.are.equal(want[B64].payload, sha(dir .. "/local"))
    b:logout()
  end)

  it("reads a body's whole text and finds a needle at its end", function()
    local b = imap.account(S.account_cfg({}, 2))
    local text
    for m in b.INBOX:all():fetch { "envelope", "body" } do
      if m.envelope.message_id == "<big-qp@example.org>" then text = m.body end
      assert.is_nil(m.body_truncated)
    end
    local expect = sha_lf(QP .. ".payload")
    assert.are.equal(expect, sha_str(text))
    text = nil
    assert.are.equal(1, #b.INBOX:all():match_body("NEEDLE-AT-THE-END"))
    assert.are.equal(1, #b.INBOX:all():match_body("Grüße around it\n?$"))
    assert.are.equal(0, #b.INBOX:all():match_body("NOT-A-NEEDLE"))
    b:logout()
  end)

  it("searches no further than max_body, and says so", function()
    local path = S.script([[
      local n = #acct.INBOX:all():match_body("NEEDLE-AT-THE-END", { max_body = 100000 })
      print("found " .. n)
    ]], { user = S.env("TESTBED_USER2"), password = S.env("TESTBED_PASSWORD2") })
    local code, out, err = S.run(path)
    os.remove(path)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("found 0", 1, true), out)
    assert.truthy(err:find("match_body: 1 message searched in its first 100000 bytes only",
      1, true), err)
  end)
end)
