-- core_set_spec.lua — imapscript.set: algebra against a Lua-table oracle on random sets, text
-- round trips, iterators, and errors on hostile input.
local core = require "imapscript.core"

-- The oracle: a set is a table uid -> true.
local function oracle(t)
  local o = {}
  for _, u in ipairs(t) do o[u] = true end
  return o
end

local function sorted(o)
  local r = {}
  for u in pairs(o) do r[#r + 1] = u end
  table.sort(r)
  return r
end

local function members(s)
  local r = {}
  for u in s:uids() do r[#r + 1] = u end
  return r
end

local function random_uids(rng_max, n)
  local t = {}
  for i = 1, n do t[i] = math.random(1, rng_max) end
  return t
end

describe("core.set", function()
  it("builds from text, arrays (any order, duplicates) and other sets", function()
    local a = core.set("1:5,9")
    assert.are.equal("1:5,9", tostring(a))
    assert.are.equal(6, #a)
    assert.are.equal(math.type(#a), "integer")
    local b = core.set({ 9, 3, 4, 100, 100, 101, 5 })
    assert.are.equal("3:5,9,100:101", tostring(b))
    local c = core.set(a)
    assert.are.equal(a, c)
    assert.are_not.equal(rawequal(a, c), true)
    assert.are.equal("", tostring(core.set("")))
    assert.are.equal("", tostring(core.set({})))
    assert.are.equal("4294967295", tostring(core.set({ 4294967295 })))
    assert.are.equal("2:4", tostring(core.set("4:2")))
  end)

  it("matches the oracle for + * - on random sets", function()
    math.randomseed(42)
    for round = 1, 200 do
      local max = ({ 20, 100, 1000, 4294967295 })[round % 4 + 1]
      local ta, tb = random_uids(max, math.random(0, 60)), random_uids(max, math.random(0, 60))
      local a, b = core.set(ta), core.set(tb)
      local oa, ob = oracle(ta), oracle(tb)
      local ou, oi, od = {}, {}, {}
      for u in pairs(oa) do ou[u] = true; if ob[u] then oi[u] = true else od[u] = true end end
      for u in pairs(ob) do ou[u] = true end
      assert.are.same(sorted(ou), members(a + b))
      assert.are.same(sorted(oi), members(a * b))
      assert.are.same(sorted(od), members(a - b))
      assert.are.equal(#sorted(ou), #(a + b))
      for _, u in ipairs(tb) do assert.is_true((a + b):contains(u)) end
      -- operands may be text or arrays too
      assert.are.equal(a + b, a + tb)
      assert.are.equal(a * b, tostring(b) * a)
      -- text round trip
      assert.are.equal(a, core.set(tostring(a)))
      local sa = sorted(oa)
      assert.are.equal(sa[1], a:min())
      assert.are.equal(sa[#sa], a:max())
      assert.are.equal(#sa == 0, a:is_empty())
    end
  end)

  it("iterates ranges and members in ascending order", function()
    local s = core.set("1:3,7,10:12")
    local r = {}
    for lo, hi in s:ranges() do r[#r + 1] = lo .. "-" .. hi end
    assert.are.same({ "1-3", "7-7", "10-12" }, r)
    assert.are.same({ 1, 2, 3, 7, 10, 11, 12 }, members(s))
    -- a huge set iterates lazily: take only the first few
    local huge = core.set("1:4000000000")
    assert.are.equal(4000000000, #huge)
    local n = 0
    for u in huge:uids() do n = n + 1; if n == 5 then break end end
    assert.are.equal(5, n)
    assert.is_nil(core.set(""):min())
    assert.is_nil(core.set(""):max())
    for _ in core.set(""):uids() do error("empty set has no members") end
  end)

  it("splits into pieces within a byte budget that cover the set exactly", function()
    local t = {}
    for i = 1, 3000 do t[#t + 1] = i * 3 end
    local s = core.set(t)
    local back = core.set("")
    local count = 0
    for piece in s:pieces(100) do
      assert.is_true(#piece <= 100 and #piece > 0)
      back = back + piece
      count = count + 1
    end
    assert.are.equal(s, back)
    assert.is_true(count > 1)
    local one = 0
    for piece in s:pieces(1e12) do one = one + 1; assert.are.equal(tostring(s), piece) end
    assert.are.equal(1, one)
    for _ in core.set(""):pieces(50) do error("no pieces for the empty set") end
    assert.has_error(function() s:pieces(20) end)
  end)

  it("contains() answers for any integer", function()
    local s = core.set("5:10")
    assert.is_true(s:contains(5))
    assert.is_false(s:contains(11))
    assert.is_false(s:contains(0))
    assert.is_false(s:contains(-3))
    assert.is_false(s:contains(2 ^ 40 // 1))
  end)

  it("rejects bad text with the offset and bad array elements with the index", function()
    local ok, err = pcall(core.set, "1:5,x")
    assert.is_false(ok)
    assert.matches("offset 4", err)
    ok, err = pcall(core.set, "1,*")
    assert.is_false(ok)
    assert.matches("offset 2", err)
    for _, bad in ipairs { "0", "1,,2", "1:", ":3", " 1", "4294967296", "1:2:3", "-1" } do
      assert.has_error(function() core.set(bad) end)
    end
    ok, err = pcall(core.set, { 1, 2, 0 })
    assert.is_false(ok)
    assert.matches("%[3%]", err)
    ok, err = pcall(core.set, { 1, 2.5 })
    assert.matches("%[2%]", err)
    ok, err = pcall(core.set, { 1, "3" })
    assert.matches("%[2%]", err)
    ok, err = pcall(core.set, { 4294967296 })
    assert.matches("%[1%]", err)
    assert.has_error(function() core.set(5) end)
    assert.has_error(function() core.set() end)
    assert.has_error(function() return core.set("1") + 5 end)
    assert.has_error(function() return core.set("1") + {} + { true } end)
  end)

  it("is immutable: operators return new sets", function()
    local a = core.set("1:3")
    local b = a + "5"
    assert.are.equal("1:3", tostring(a))
    assert.are.equal("1:3,5", tostring(b))
  end)
end)
