-- core_gc_spec.lua — creating 100k sets, queries and regexes keeps memory flat: __gc frees the
-- C side (checked through the process RSS, which collectgarbage("count") cannot see).
local core = require "imapscript.core"

local function rss_kb()
  local f = io.open("/proc/self/statm")
  if not f then return nil end
  local pages = f:read("n") and f:read("n")
  f:close()
  return pages and pages * 4
end

-- The collector paces itself by the size of the whole heap, which the other specs loaded with
-- this one change: collecting every 1000 objects keeps how many wait for it (and the C memory
-- they hold, which Lua does not count) the same whatever ran before; a leak still grows. A
-- full collection frees what the previous one finalized, hence two.
local function collect()
  collectgarbage("collect")
  collectgarbage("collect")
end

local function flat(make)
  collect()
  for _ = 1, 1000 do make() end           -- warm up allocator and caches
  collect()
  local lua0, rss0 = collectgarbage("count"), rss_kb()
  for i = 1, 100000 do
    make()
    if i % 1000 == 0 then collectgarbage("collect") end
  end
  collect()
  local lua1, rss1 = collectgarbage("count"), rss_kb()
  assert(lua1 - lua0 < 1024, ("Lua heap grew by %.0f KB"):format(lua1 - lua0))
  if rss0 and rss1 then
    assert(rss1 - rss0 < 16 * 1024, ("RSS grew by %d KB"):format(rss1 - rss0))
  end
end

describe("__gc", function()
  it("keeps memory flat for sets and their algebra", function()
    local base = core.set("1:1000,2000:3000,5000")
    flat(function()
      local s = core.set { 7, 3, 9, 1000000 } + base
      local _ = (s - "1:10") * base
      for _ in s:ranges() do break end
    end)
  end)

  it("keeps memory flat for queries", function()
    local K, S = core.query_key, core.query_string
    flat(function()
      local q = (S("FROM", "noreply@example.org") | K"SEEN") & ~K"FLAGGED"
      local _ = tostring(q & core.query_uid("1:100"))
    end)
  end)

  it("keeps memory flat for regexes", function()
    flat(function()
      local re = core.regex("^\\[PATCH(?: v(\\d+))?\\]", "i")
      local _ = re:match("[patch v2] x")
    end)
  end)

  it("keeps memory flat for MIME decoding", function()
    flat(function()
      local _ = core.decode_header("=?UTF-8?B?R3LD?= =?koi8-r?B?8NLJ18XULCDNydI=?=")
    end)
  end)
end)
