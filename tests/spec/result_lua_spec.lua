-- Pure parts of lua/imapscript/result.lua: algebra over mailbox parts, chunking.
local core = require "imapscript.core"
local result = require "imapscript.result"

local A, B = { name = "A" }, { name = "B" }
local function part(box, text) return { box = box, set = core.set(text) } end
local function text(parts)
  local t = {}
  for _, p in ipairs(parts) do t[#t + 1] = p.box.name .. "=" .. tostring(p.set) end
  return table.concat(t, " ")
end

describe("result parts", function()
  local a = { part(A, "1:10"), part(B, "5") }
  local b = { part(A, "5:20") }

  it("unite per mailbox and keep mailboxes of either side", function()
    assert.are.equal("A=1:20 B=5", text(result.combine_parts("+", a, b)))
  end)
  it("intersect only mailboxes on both sides", function()
    assert.are.equal("A=5:10", text(result.combine_parts("*", a, b)))
  end)
  it("subtract per mailbox", function()
    assert.are.equal("A=1:4 B=5", text(result.combine_parts("-", a, b)))
  end)
  it("merge duplicate parts of one mailbox", function()
    assert.are.equal("A=1:3,7", text(result.combine_parts("+", { part(A, "1:3"), part(A, "7") }, {})))
  end)
end)

describe("chunks", function()
  it("split a set into pieces of at most n members, covering it exactly", function()
    local s = core.set("1:7,10,20:25")
    local t = {}
    for p in result.chunks(s, 4) do
      assert.is_true(#p <= 4)
      t[#t + 1] = tostring(p)
    end
    assert.are.same({ "1:4", "5:7,10", "20:23", "24:25" }, t)
    assert.is_nil(result.chunks(core.set(""), 4)())
  end)

  it("are made one at a time, so a huge set costs nothing up front", function()
    local next_chunk = result.chunks(core.set("1:4294967295"), 500)
    assert.are.equal("1:500", tostring(next_chunk()))
    assert.are.equal("501:1000", tostring(next_chunk()))
  end)
end)
