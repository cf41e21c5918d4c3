-- A dry run's plan equals what the real run then does: for each example and for a set of
-- rules that overlap (a later rule searches what an earlier one moved or flagged), the UIDs of
-- every planned step (--plan-json) are the UIDs the real run's --log names, step by step.
local S = require "tests.integration.support"

-- The UIDs of a set's text ("1:3,7"), sorted.
local function expand(text)
  local out = {}
  for lo, hi in text:gmatch("(%d+):?(%d*)") do
    for u = tonumber(lo), tonumber(hi ~= "" and hi or lo) do out[#out + 1] = u end
  end
  table.sort(out)
  return out
end

local function field(line, name)
  return line:match('"' .. name .. '":"([^"]*)"') or line:match('"' .. name .. '":(%d+)')
end

local ACTIONS = { move = true, copy = true, store = true, delete = true }

-- {step key = sorted UIDs} from a plan (JSON lines) or a log (JSON lines); the key is the
-- script line, the action, the mailbox and the target.
local function steps(text, from_key, uids_of)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local action = field(line, "action")
    if ACTIONS[action] then
      local key = table.concat({ field(line, "line") or "?", action, field(line, from_key) or "",
        field(line, "to") or field(line, "target") or "" }, " ")
      out[key] = out[key] or {}
      for _, u in ipairs(uids_of(line)) do table.insert(out[key], u) end
    end
  end
  for k, list in pairs(out) do
    table.sort(list)
    if #list == 0 then out[k] = nil end
  end
  return out
end

local slurp = S.slurp

-- Runs run(opts) twice: a dry run, then the real one; compares their steps.
local function compare(what, run)
  local plan, logfile = os.tmpname(), os.tmpname()
  local code, _, err = run("-n --plan-json " .. plan)
  assert.are.equal(0, code, what .. ": " .. err)
  code, _, err = run("--log " .. logfile)
  assert.are.equal(0, code, what .. ": " .. err)
  local planned = steps(slurp(plan), "from", function(l) return expand(field(l, "uids") or "") end)
  local done = steps(slurp(logfile), "mailbox", function(l) return { tonumber(field(l, "uid")) } end)
  assert.are.same(planned, done, what)
  return planned
end

describe("a dry run's plan", function()
  setup(function()
    S.seed("INBOX", 400, 301)
    S.seed("Trash", 60, 302)
    S.seed("Junk", 40, 303)
  end)

  for _, ex in ipairs { { "sort-lists.lua" }, { "flag-vip.lua" }, { "archive-by-year.lua", "30" },
                        { "purge-trash.lua", "10" }, { "daemon.lua" } } do
    it("matches the run of examples/" .. ex[1], function()
      compare(ex[1], function(opts) return S.run_example(ex[1], ex[2], opts) end)
    end)
  end

  it("matches the run of examples/demo.lua", function()
    compare("demo.lua", function(opts) return S.run(opts .. " examples/demo.lua") end)
  end)

  it("matches the run of rules that overlap: later rules see what earlier ones did", function()
    S.seed("OV", 120, 304)
    local script = S.script([[
      local box = acct.OV
      box:search(Q.seen):add_flags { "$A" }
      box:search(Q.keyword "$A" & Q.flagged):move_to(acct["OV/flagged"])
      box:search(Q.from "example.org"):move_to(acct["OV/org"])
      box:search(Q.seen & Q.larger(5000)):delete()
      box:search(Q.unseen):mark_seen()
      box:search(Q.seen & Q.before "2021-01-01"):copy_to(acct["OV/copy"])
      local all = box:search(Q.all);
      (all - box:search(Q.keyword "$A")):set_flags { "$B" }
      box:search(Q.keyword "$B" & ~Q.seen):move_to(acct["OV/b"])
      box:uids("1:40"):remove_flags { "$A" }
    ]], { create = true })
    local planned = compare("overlapping rules", function(opts) return S.run(opts .. " " .. script) end)
    -- every kind of step was there to compare
    local kinds = {}
    for k in pairs(planned) do kinds[k:match("^%S+ (%S+)")] = true end
    assert.is_true(kinds.move and kinds.store and kinds.delete and kinds.copy, "too few steps")
  end)
end)
