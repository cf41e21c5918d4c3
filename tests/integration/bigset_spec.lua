-- A 200,000-UID set with gaps everywhere through every command that carries one: search (cut
-- into UID ranges, chained through $), fetch, store, copy, move and expunge. Each line stays
-- under the budget (read back from the trace), and what happened is read back from the
-- Maildirs, UIDs from Dovecot's own dovecot-uidlist.
local S = require "tests.integration.support"

-- The Maildir files of alice's mailbox: {name=, flags=, id=} (flags as the file name has them).
local function files(mailbox)
  local root = S.env("TESTBED_MAILROOT") .. "/alice" .. (mailbox == "INBOX" and "" or "/." .. mailbox)
  local out = {}
  for _, sub in ipairs { "cur", "new" } do
    local p = io.popen("ls -1 " .. S.shquote(root .. "/" .. sub) .. " 2>/dev/null")
    for name in p:lines() do
      local f = assert(io.open(root .. "/" .. sub .. "/" .. name))
      local id = f:read(4096):match("[Mm]essage%-[Ii][Dd]:%s*(<[^>]*>)")
      f:close()
      out[#out + 1] = { name = name:match("^(.-):2,") or name, flags = name:match(":2,(.*)$") or "",
                        id = id }
    end
    p:close()
  end
  return out, root
end

-- {uid = {flags=, id=}} of alice's mailbox, UIDs from Dovecot's dovecot-uidlist; and the count.
local function by_uid(mailbox)
  local list, root = files(mailbox)
  local uid_of = {}
  local f = io.open(root .. "/dovecot-uidlist")
  if f then
    f:read("l")
    for line in f:lines() do
      local uid, name = line:match("^(%d+) .*:(.-)$")
      if uid then uid_of[name] = tonumber(uid) end
    end
    f:close()
  end
  local out = {}
  for _, m in ipairs(list) do
    local uid = assert(uid_of[m.name], "no UID for " .. m.name)
    out[uid] = m
  end
  return out, #list
end

-- Runs body against the test bed with a trace; returns the trace's longest command line and
-- how many UID SEARCH lines it sent.
local function run(body)
  local path, trace = S.script(body, { create = true }), os.tmpname()
  local code, out, err = S.run("--trace " .. S.shquote(trace) .. " " .. S.shquote(path))
  os.remove(path)
  assert.are.equal(0, code, out .. err)
  local longest, searches, chained = 0, 0, 0
  for line in io.lines(trace) do
    if line:sub(1, 3) == "C: " then
      longest = math.max(longest, #line - 3)
      if line:find("^C: A%d+ UID SEARCH") then searches = searches + 1 end
      if line:find("^C: A%d+ UID SEARCH RETURN %(SAVE ?A?L?L?%) OR %$ %(UID %d+:%d+ ") then
        chained = chained + 1
      end
    end
  end
  os.remove(trace)
  return longest, searches, chained
end

local PRELUDE = [[
local odd, even = {}, {}
for u = 1, 399999, 2 do odd[#odd + 1] = u end
for u = 2, 400000, 2 do even[#even + 1] = u end
assert(#odd == 200000)
]]

describe("a 200,000-UID set", function()
  setup(function()
    S.seed("INBOX", 6000, 15)
  end)

  it("goes through search, fetch, store and copy, each line under the budget", function()
    local before = {}
    for _, m in ipairs(files("INBOX")) do before[m.id] = m.flags end
    local longest, searches, chained = run(PRELUDE .. [[
local odds = acct.INBOX:uids(odd)
assert(#odds:search(Q.all) == 3000)
local n = 0
for m in odds:fetch { "flags" } do
  assert(m.uid % 2 == 1)
  n = n + 1
end
assert(n == 3000, n)
odds:add_flags { "\\Flagged" }
odds:copy_to(acct.Copies)
imap.flush()
-- a search whose action runs on its saved result: ranges chained through $
odds:search(Q.flagged):add_flags { "$Odd" }
]])
    assert.is_true(longest <= 8100, "a line of " .. longest .. " bytes")
    assert.is_true(searches >= 40, searches .. " searches")
    assert.is_true(chained >= 20, chained .. " searches chained through $")
    local inbox, n = by_uid("INBOX")
    assert.are.equal(6000, n)
    for uid = 1, 6000 do
      local m = inbox[uid]
      if uid % 2 == 1 then
        assert.truthy(m.flags:find("F") and m.flags:find("a"), uid .. ": " .. m.flags)
      else
        assert.are.equal(before[m.id], m.flags, uid)
      end
    end
    local copies, nc = by_uid("Copies")
    assert.are.equal(3000, nc)
    for _, m in pairs(copies) do assert.truthy(m.flags:find("F"), m.flags) end
  end)

  it("goes through move and expunge", function()
    local longest = run(PRELUDE .. [[
acct.INBOX:uids(even):move_to(acct.Moved)
acct.INBOX:uids(odd):delete()
]])
    assert.is_true(longest <= 8100, "a line of " .. longest .. " bytes")
    local _, left = by_uid("INBOX")
    assert.are.equal(0, left)
    local _, nm = by_uid("Moved")
    assert.are.equal(3000, nm)
  end)
end)
