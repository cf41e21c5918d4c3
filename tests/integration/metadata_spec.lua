-- METADATA (RFC 5464) against Dovecot with imap_metadata and a file dict (metadata_spec.testbed:
-- --metadata): server and mailbox entries written, read back through the server's own dict
-- file, deleted, read by depth and size; what it refuses and what a dry run sends.
-- ([METADATA TOOMANY] and [METADATA MAXSIZE], which Dovecot 2.3 never sends: hostile_spec.lua.)
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }

-- The entries in Dovecot's dict file (HOME/dovecot-attributes: key and value lines, tab-escaped),
-- keyed without the mailbox GUID: "shared/comment", "priv/vendor/vendor.dovecot/pvt/server/x".
local function dict()
  local f = io.open(S.env("TESTBED_DIR") .. "/home/alice/dovecot-attributes")
  local out = {}
  if not f then return out end
  local unescape = { ["1"] = "\1", t = "\t", r = "\r", n = "\n" }
  local key
  for line in f:lines() do
    if key then
      out[key] = line:gsub("\1(.)", unescape)
      key = nil
    else
      key = line:gsub("/%x+/", "/", 1)
    end
  end
  f:close()
  return out
end

local SERVER = "priv/vendor/vendor.dovecot/pvt/server/"

describe("METADATA", function()
  local acct
  setup(function() acct = imap.account(S.account_cfg()) end)
  teardown(function() acct:logout() end)

  it("writes, reads and deletes the server's entries", function()
    assert.is_nil(acct:metadata "/private/comment")
    assert.is_true(acct:set_metadata("/private/comment", "Alice's server"))
    assert.are.equal("Alice's server", dict()[SERVER .. "comment"])
    assert.are.equal("Alice's server", acct:metadata "/private/comment")
    -- a value that needs a literal: line breaks, 8-bit text, over 1 KiB
    local long = "Grüße\r\nline two\r\n" .. string.rep("x", 2000)
    acct:set_metadata("/private/vendor/example/notes", long)
    assert.are.equal(long, dict()[SERVER .. "vendor/example/notes"])
    assert.are.same({ ["/private/comment"] = "Alice's server", ["/private/vendor/example/notes"] = long },
      acct:metadata { "/private/comment", "/private/vendor/example/notes", "/private/missing" })
    acct:set_metadata("/private/comment", nil)
    assert.is_nil(dict()[SERVER .. "comment"])
    assert.is_nil(acct:metadata "/private/comment")
  end)

  it("sets several entries of a mailbox in one command, false deleting", function()
    local box = acct:mailbox "INBOX"
    box:set_metadata { ["/private/todo"] = "reply", ["/shared/comment"] = "team inbox",
                       ["/private/gone"] = "soon" }
    assert.are.equal("team inbox", dict()["shared/comment"])
    assert.are.equal("reply", dict()["priv/todo"])
    box:set_metadata { ["/private/gone"] = false, ["/private/todo"] = "done" }
    local d = dict()
    assert.is_nil(d["priv/gone"])
    assert.are.equal("done", d["priv/todo"])
    assert.are.equal("done", box:metadata "/private/todo")
    -- the server's entries and the mailbox's are apart
    assert.is_nil(acct:metadata "/private/todo")
  end)

  it("reads a whole subtree by depth, and says how large the entries left out by maxsize are", function()
    acct:create "Lists"
    local box = acct:mailbox "Lists"
    box:set_metadata { ["/private/a"] = "1", ["/private/a/b"] = "22", ["/private/a/b/c"] = "333",
                       ["/shared/z"] = "4444" }
    assert.are.same({ ["/private/a"] = "1" }, (box:metadata({ "/private/a" }, { depth = 0 })))
    assert.are.same({ ["/private/a"] = "1", ["/private/a/b"] = "22" },
      (box:metadata({ "/private/a" }, { depth = 1 })))
    local all, longest = box:metadata({ "/private", "/shared" }, { depth = "infinity" })
    assert.are.same({ ["/private/a"] = "1", ["/private/a/b"] = "22", ["/private/a/b/c"] = "333",
                      ["/shared/z"] = "4444" }, all)
    assert.is_nil(longest)
    local small
    small, longest = box:metadata({ "/private", "/shared" }, { depth = "infinity", maxsize = 2 })
    assert.are.same({ ["/private/a"] = "1", ["/private/a/b"] = "22" }, small)
    assert.are.equal(4, longest)
  end)

  it("refuses bad entry names and values before sending anything, and names the mailbox in errors", function()
    for _, bad in ipairs { "/comment", "private/x", "/private/", "/private//x", "/private/a*",
                           "/private/50%", "/private/two words", "/private/ü", "/private" } do
      local ok, err = pcall(acct.set_metadata, acct, bad, "v")
      assert.is_false(ok)
      assert.are.equal("usage", err.kind, bad)
    end
    local ok, err = pcall(acct.set_metadata, acct, "/private/x", "nul\0byte")
    assert.are.equal("usage", err.kind)
    ok, err = pcall(acct.set_metadata, acct, "/private/x", 42)
    assert.are.equal("usage", err.kind)
    ok, err = pcall(acct.set_metadata, acct, "/private/x")
    assert.are.equal("usage", err.kind)
    ok, err = pcall(acct.metadata, acct, "/private/x", { depth = 2 })
    assert.are.equal("usage", err.kind)
    assert.is_nil(dict()[SERVER .. "x"])
    ok, err = pcall(function() return acct:mailbox("No/Such"):metadata "/private/x" end)
    assert.is_false(ok)
    assert.are.equal("no", err.kind)
    assert.truthy(err.message:find("GETMETADATA No/Such: NO", 1, true), err.message)
  end)

  it("sends GETMETADATA but plans SETMETADATA in a dry run", function()
    acct:set_metadata("/private/dry", "before")
    local path = S.script([[
print("read", acct:metadata "/private/dry")
acct:set_metadata("/private/dry", "after")
acct.INBOX:set_metadata { ["/shared/dry"] = "after" }]])
    local code, out, err = S.run("-n " .. S.shquote(path))
    os.remove(path)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("read\tbefore", 1, true), out)
    assert.truthy(out:find("command SETMETADATA", 1, true), out)
    assert.are.equal("before", dict()[SERVER .. "dry"])
    assert.is_nil(dict()["shared/dry"])
  end)
end)
