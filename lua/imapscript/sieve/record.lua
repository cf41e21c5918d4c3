-- sieve/record.lua — translation mode: the script runs as in a dry run (what it reads comes
-- from the server, read-only), and the searches and actions it queues are kept per account,
-- in order, for the translator instead of being sent.
local batch = require "imapscript.batch"
local result = require "imapscript.result"
local settings = require "imapscript.settings"
local log = require "imapscript.log"

local M = {
  ops = {},          -- account -> its searches and actions, in queue order
  provenance = {},   -- result of r:match -> {base=, field=, pattern=, flags=}; r:match_body -> {body=true}
  queries = {},      -- result of a search -> the query the script wrote (a count by ESEARCH
                     -- bounds the result's own query to the UIDs it counted)
}

local sources = setmetatable({}, { __mode = "k" })   -- imap.regex value -> {pattern, flags}
local finishing = false

--- From now on, queued operations are recorded; searches still run (read-only) whenever the
--- script needs their answers, until finish() says the script is over.
function M.start(imap)
  settings.dry_run = true
  log.plan = function() end        -- the plan is the Sieve script, not dry-run lines
  local run = batch.run
  batch.run = function(acct, ops)
    local list = M.ops[acct] or {}
    M.ops[acct] = list
    local searches = {}
    for _, op in ipairs(ops) do
      list[#list + 1] = op
      if op.kind == "search" then searches[#searches + 1] = op end
    end
    if not finishing and #searches > 0 then return run(acct, searches) end
  end

  local search = result.search
  result.search = function(box, q)
    local r = search(box, q)
    M.queries[r] = q
    return r
  end

  local match, match_body = result.methods.match, result.methods.match_body
  result.methods.match = function(self, field, pattern)
    local r = match(self, field, pattern)
    if type(pattern) == "string" then
      M.provenance[r] = { base = self, field = field, pattern = pattern, flags = "" }
    elseif sources[pattern] then
      M.provenance[r] = { base = self, field = field, pattern = sources[pattern][1],
                          flags = sources[pattern][2] }
    else
      M.provenance[r] = { opaque = true }
    end
    return r
  end
  result.methods.match_body = function(self, pattern)
    local r = match_body(self, pattern)
    M.provenance[r] = { body = true }
    return r
  end

  local regex = imap.regex
  imap.regex = function(pattern, flags)
    local re, err = regex(pattern, flags)
    if re then sources[re] = { pattern, flags or "" } end
    return re, err
  end
  -- A daemon's rules run once: what they queue is what Sieve should do for each new message.
  imap.watch = function(boxes, fn)
    if type(boxes) == "table" and boxes.account then boxes = { boxes } end
    for _, box in ipairs(boxes or {}) do
      if fn(box) == false then break end
    end
  end
end

--- The script is over: what is queued from now on is recorded, not searched.
function M.finishing() finishing = true end

return M
