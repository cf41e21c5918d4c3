-- cache_lua_spec.lua — the windows the cache reads its header rows in (cache.lua): every UID of
-- the set covered, in order, none wider than 5,000 UIDs (a window's rows are held at once).
local core = require "imapscript.core"
local cache = require "imapscript.cache"

describe("the cache's read windows", function()
  it("cover any set in order, each at most 5,000 UIDs wide", function()
    math.randomseed(7)
    for trial = 1, 300 do
      local parts, u = {}, 0
      for _ = 1, math.random(1, 40) do
        u = u + math.random(1, 2000)
        local len = math.random(0, 1) == 0 and math.random(0, 20) or math.random(0, 30000)
        parts[#parts + 1] = u .. ":" .. (u + len)
        u = u + len
      end
      local set = core.set(table.concat(parts, ","))
      local cover, last = {}, 0
      for a, b in cache.windows(set) do
        assert.is_true(a > last and b >= a and b - a < 5000, trial .. ": " .. a .. ":" .. b)
        last = b
        cover[#cover + 1] = a .. ":" .. b
      end
      assert.are.equal(0, #(set - core.set(table.concat(cover, ","))), "trial " .. trial)
    end
  end)

  it("cuts one long range", function()
    local got = {}
    for a, b in cache.windows(core.set("1:12000")) do got[#got + 1] = a .. ":" .. b end
    assert.are.same({ "1:5000", "5001:10000", "10001:12000" }, got)
  end)
end)
