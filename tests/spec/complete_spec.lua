-- complete.lua: what TAB offers at the -i prompt, without ever connecting or making
-- mailboxes a script did not name.
local imap = require "imapscript"
local complete = require "imapscript.complete"

local function c(text) return table.concat(complete.candidates(text, text), " ") end

describe("tab completion", function()
  local acct
  setup(function()
    acct = imap.account { host = "completion.invalid", user = "u", password = "p" }
    _G.acct, _G.imap = acct, imap
    local _ = acct["Lists/lua-l"]
    _G.r = acct.INBOX:all()
  end)
  teardown(function() _G.acct, _G.r, _G.imap = nil, nil, nil end)

  it("offers globals and keywords", function()
    assert.equal("print", c("pri"))
    assert.equal("while", c("whi"))
  end)

  it("offers fields of nested tables", function()
    assert.equal("imap.query", c("imap.qu"))
    assert.equal("imap.query.from", c("imap.query.fr"))
  end)

  it("offers an account's methods and the mailboxes it knows, quoted when they need it", function()
    assert.equal("acct:mailbox acct:mailboxes", c("acct:mailb"))
    assert.matches('acct%["Lists/lua%-l"%]', c("acct."))
    assert.equal('acct["Lists/lua-l"]', c('acct["Li'))
    assert.equal("acct.INBOX", c("acct.IN"))
    assert.is_nil(rawget(acct, "conn"), "completion must not connect")
  end)

  it("offers mailbox and result methods", function()
    assert.equal("acct.INBOX:search", c("acct.INBOX:sea"))
    assert.equal("r:move_to", c("r:move"))
  end)

  it("offers nothing for unknown names and never makes a mailbox", function()
    assert.equal("", c("nosuch.x"))
    assert.equal("", c("acct.Nope.x"))
    assert.is_nil(rawget(acct.boxes, "Nope.x"))
  end)
end)
