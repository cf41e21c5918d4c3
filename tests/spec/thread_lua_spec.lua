-- lua/imapscript/thread.lua without a server: message ids read as Dovecot reads them, header
-- fields, and the REFERENCES steps on small hand-made mailboxes (sort_spec compares whole
-- mailboxes with Dovecot's own THREAD).
local thread = require "imapscript.thread"

local function ids(s)
  local out, pos = {}, 1
  while true do
    local id
    id, pos = thread.next_msgid(s, pos)
    if not id then return out end
    out[#out + 1] = id
  end
end

-- A record: uid, its id, references (list), subject, date (hours).
local function rec(uid, id, refs, subject, hours)
  return { uid = uid, id = id, refs = refs or {}, subject = subject, date = (hours or uid) * 3600 }
end

describe("message ids", function()
  it("are read as Dovecot reads them", function()
    assert.are.same({ "a@b", "c.d@e" }, ids("<a@b> <c.d@e>"))
    assert.are.same({ "a@b" }, ids("<noat> garbage <a@b>"))          -- no "@": skipped
    assert.are.same({ "a@b" }, ids("<a \r\n @ b>"))                   -- whitespace dropped
    assert.are.same({ "a@b" }, ids("<(comment) a@b>"))                -- the slow way
    assert.are.same({ "quoted local@b" }, ids('<"quoted local"@b>'))
    assert.are.same({ "x@y" }, ids('<"unclosed@b <x@y>'))
    assert.are.same({}, ids("a@b"))
    assert.are.same({}, ids("<a@b"))
    assert.are.same({}, ids(""))
    assert.are.same({ "a@b" }, ids("your message of Monday <a@b> (and <c@d"))
  end)

  it("come from the first header of each name, unfolded", function()
    local f = thread.fields("Message-ID: <1@x>\r\nReferences: <a@x>\r\n <b@x>\r\n" ..
      "Subject:  Re: hi\r\nmessage-id: <2@x>\r\n\r\n")
    assert.are.equal("<1@x>", f["message-id"])
    assert.are.equal("<a@x> <b@x>", f.references)
    assert.are.equal("Re: hi", f.subject)
    local r = thread.record(7, { references = "<noat>", ["in-reply-to"] = "<p@x> <q@x>" },
      "01-Jan-2024 10:00:00 +0000")
    assert.are.same({ "p@x" }, r.refs)                               -- no valid References
    assert.are.equal(1704103200, r.date)                              -- no Date: the arrival
    assert.is_nil(r.id)
  end)
end)

describe("REFERENCES", function()
  it("nests replies, a lone child in its parent's list", function()
    local t = thread.references {
      rec(1, "a@x", nil, "plan"), rec(2, "b@x", { "a@x" }, "Re: plan"),
      rec(3, "c@x", { "a@x", "b@x" }, "Re: plan"), rec(4, "d@x", { "a@x" }, "Re: plan"),
    }
    assert.are.same({ { 1, { 2, 3 }, { 4 } } }, t)
  end)

  it("keeps a dummy root for siblings whose parent is missing, and promotes a lone child", function()
    local t = thread.references {
      rec(1, "b@x", { "gone@x" }, "x"), rec(2, "c@x", { "gone@x" }, "y"),
      rec(3, "d@x", { "gone2@x" }, "z"),
    }
    assert.are.same({ { { 1 }, { 2 } }, { 3 } }, t)
  end)

  it("gives a duplicate id a node of its own and links replies to the first", function()
    local t = thread.references {
      rec(1, "dup@x", nil, "one"), rec(2, "dup@x", nil, "two"), rec(3, "r@x", { "dup@x" }, "three"),
    }
    assert.are.same({ { 1, 3 }, { 2 } }, t)
  end)

  it("merges threads by base subject: replies under the original, two originals under a dummy", function()
    local t = thread.references {
      rec(1, "a@x", nil, "Budget"), rec(2, "b@x", nil, "Re: budget"),
      rec(3, "c@x", nil, "[Fwd: Budget]"), rec(4, "d@x", nil, "Other"),
    }
    assert.are.same({ { 1, { 2 }, { 3 } }, { 4 } }, t)
    t = thread.references { rec(1, "a@x", nil, "Budget"), rec(2, "b@x", nil, "Budget", 5) }
    assert.are.same({ { { 1 }, { 2 } } }, t)
  end)

  it("ignores links that would make a loop and sorts by date, then UID", function()
    local t = thread.references {
      rec(1, "p@x", { "q@x" }, "loop", 9), rec(2, "q@x", { "p@x" }, "loop2", 1),
      rec(3, "s@x", { "s@x" }, "self", 1),
    }
    assert.are.same({ { 2, 1 }, { 3 } }, t)          -- q (hour 1) is the root, before s by UID
  end)
end)
