-- sieve/translate.lua — an account's recorded searches and actions as Sieve rules: each
-- INBOX rule that Sieve can run at delivery with the same outcome, and why the others stay
-- with the IMAP run. Pure: the caller gives the server's extensions and the mailbox names.
local text = require "imapscript.sieve.text"
local regex = require "imapscript.sieve.regex"

local M = {}

---------------------------------------------------------------------------------------
-- Conditions. A condition is one of
--   { const = true|false, why = "..." }   known for every message delivered from now on
--   { no = "why" }                         Sieve cannot say it
--   { node = N, flags = bool, needs = {ext = true} }   a Sieve test (flags: reads flags)
-- with N = { test = "text" } | { all = {N...} } | { any = {N...} } | { nope = N }.

local function no(why) return { no = why } end
local function test(s, needs, flags) return { node = { test = s }, needs = needs or {}, flags = flags } end

local FLAG_KEYS = {
  SEEN = { "\\Seen", true }, UNSEEN = { "\\Seen", false },
  ANSWERED = { "\\Answered", true }, UNANSWERED = { "\\Answered", false },
  FLAGGED = { "\\Flagged", true }, UNFLAGGED = { "\\Flagged", false },
  DELETED = { "\\Deleted", true }, UNDELETED = { "\\Deleted", false },
  DRAFT = { "\\Draft", true }, UNDRAFT = { "\\Draft", false },
}
local HEADER_KEYS = { FROM = "From", TO = "To", CC = "Cc", BCC = "Bcc", SUBJECT = "Subject" }

-- "2026-08-31" for comparing dates as strings.
local function ymd(y, m, d) return string.format("%04d-%02d-%02d", y, m, d) end

local function hasflag(flag, set, env)
  if not env.exts.imap4flags then return no("flag tests need the server's imap4flags extension") end
  local t = "hasflag " .. text.quote(flag)
  return test(set and t or ("not " .. t), { imap4flags = true }, true)
end

-- header :contains, with the comparator IMAP's case-insensitive SEARCH needs.
local function contains(field, value, q, env)
  local f, v = text.quote(field), text.quote(value)
  if not f or not v then return no(tostring(q) .. " holds a control character") end
  if value == "" then return no(tostring(q) .. ": an empty search string") end
  if value:find("[\128-\255]") then
    -- i;ascii-casemap folds ASCII only; IMAP servers fold every letter.
    if not env.exts["comparator-i;unicode-casemap"] then
      return no(tostring(q) .. ": non-ASCII text needs the server's comparator-i;unicode-casemap")
    end
    return test(string.format('header :contains :comparator "i;unicode-casemap" %s %s', f, v),
      { ["comparator-i;unicode-casemap"] = true })
  end
  return test(string.format("header :contains %s %s", f, v))
end

-- The condition for the IMAP search key q, as seen at delivery of a new message.
local function condition(q, env)
  local p = q:parts()
  local k = p.kind
  if k == "ALL" then return { const = true, why = "ALL" } end
  if FLAG_KEYS[k] then return hasflag(FLAG_KEYS[k][1], FLAG_KEYS[k][2], env) end
  if k == "KEYWORD" or k == "UNKEYWORD" then return hasflag(p.value, k == "KEYWORD", env) end
  if HEADER_KEYS[k] then return contains(HEADER_KEYS[k], p.value, q, env) end
  if k == "HEADER" then
    if p.value == "" then
      local f = text.quote(p.field)
      return f and test("exists " .. f) or no(tostring(q) .. " holds a control character")
    end
    return contains(p.field, p.value, q, env)
  end
  if k == "LARGER" then return test("size :over " .. p.number) end
  if k == "SMALLER" then return test("size :under " .. p.number) end
  -- A new message arrives now: its arrival date is today, for every delivery to come.
  if k == "OLDER" then return { const = false, why = tostring(q) } end
  if k == "YOUNGER" then return { const = true, why = tostring(q) } end
  if k == "BEFORE" or k == "ON" or k == "SINCE" then
    local d, today = ymd(p.year, p.month, p.day), env.today
    -- A day of margin for the server's time zone.
    if d < env.yesterday then
      if k == "SINCE" then return { const = true, why = tostring(q) } end
      return { const = false, why = tostring(q) }
    end
    return no(tostring(q) .. ": " .. (d > today and "a date to come" or "a date this close to today"))
  end
  if k == "AND" or k == "OR" then
    local all = k == "AND"
    local kids, flags, needs = {}, false, {}
    local first_no
    for _, kid in ipairs(p) do
      local c = condition(kid, env)
      if c.const ~= nil then
        if c.const ~= all then return c end      -- false in AND, true in OR decides
      elseif c.no then
        first_no = first_no or c
      else
        kids[#kids + 1] = c.node
        flags = flags or c.flags
        for e in pairs(c.needs) do needs[e] = true end
      end
    end
    if first_no then return first_no end
    if #kids == 0 then return { const = all, why = tostring(q) } end
    if #kids == 1 then return { node = kids[1], flags = flags, needs = needs } end
    return { node = all and { all = kids } or { any = kids }, flags = flags, needs = needs }
  end
  if k == "NOT" then
    local c = condition(p[1], env)
    if c.const ~= nil then return { const = not c.const, why = "NOT " .. c.why } end
    if c.no then return c end
    return { node = { nope = c.node }, flags = c.flags, needs = c.needs }
  end
  local why = {
    RECENT = "\\Recent depends on the IMAP session", NEW = "\\Recent depends on the IMAP session",
    OLD = "\\Recent depends on the IMAP session",
    BODY = "Sieve's body test does not search text as IMAP's BODY does",
    TEXT = "Sieve's body test does not search text as IMAP's TEXT does",
    SENTBEFORE = "the script may have computed the date from today",
    SENTON = "the script may have computed the date from today",
    SENTSINCE = "the script may have computed the date from today",
    UID = "UIDs name messages already in the mailbox", SEQ = "sequence numbers",
    MODSEQ = "mod-sequences exist only in the mailbox",
  }
  return no(tostring(q) .. ": " .. (why[k] or "no Sieve equivalent"))
end
M.condition = condition

-- Combines two conditions with AND/OR, the same way condition() does for queries.
local function combine(all, a, b)
  for _, c in ipairs { a, b } do
    if c.const ~= nil and c.const ~= all then return c end
  end
  if a.no then return a end
  if b.no then return b end
  if a.const ~= nil then return b end
  if b.const ~= nil then return a end
  local needs = {}
  for e in pairs(a.needs) do needs[e] = true end
  for e in pairs(b.needs) do needs[e] = true end
  return { node = all and { all = { a.node, b.node } } or { any = { a.node, b.node } },
           flags = a.flags or b.flags, needs = needs }
end

local function negate(c)
  if c.const ~= nil then return { const = not c.const, why = "NOT " .. c.why } end
  if c.no then return c end
  return { node = { nope = c.node }, flags = c.flags, needs = c.needs }
end

-- The condition of result r (a search, a combination on one mailbox, or r:match), and the
-- searches it rests on; nil and why when it is not a rule over the account's INBOX.
local function result_condition(r, env, searches)
  local from = env.provenance[r]
  if from then
    if from.body then return no("match_body: Sieve's body test is not the same") end
    if from.opaque then return no("match with a regex made outside imap.regex") end
    local base = result_condition(from.base, env, searches)
    if not env.exts.regex then return no("match needs the server's regex extension") end
    local ere, caseless = regex.to_ere(from.pattern, from.flags)
    if not ere then return no("match " .. from.field .. ": " .. caseless) end
    local f, e = text.quote(from.field), text.quote(ere)
    return combine(true, base, test(string.format('header :regex :comparator "%s" %s %s',
      caseless and "i;ascii-casemap" or "i;octet", f, e), { regex = true }))
  end
  if r.kind == "search" then
    searches[#searches + 1] = r
    return condition(env.queries and env.queries[r] or r.query, env)
  end
  if r.kind == "combine" and r.a and r.b then
    local a = result_condition(r.a, env, searches)
    local b = result_condition(r.b, env, searches)
    if r.how == "+" then return combine(false, a, b) end
    if r.how == "*" then return combine(true, a, b) end
    return combine(true, a, negate(b))
  end
  return no(r.kind == "combine" and "a result combined across mailboxes"
    or "messages the script picked by UID")
end

-- The mailbox a result's messages are in, when it is one.
local function box_of(r, env)
  local from = env.provenance[r]
  if from and from.base then return box_of(from.base, env) end
  return r.box
end

---------------------------------------------------------------------------------------
-- Actions: Sieve commands for each action of a rule.

local function fileinto(op, env, copy)
  if op.dest.account ~= env.account then return nil, "moves to another account" end
  if not env.exts.fileinto then return nil, "the server lacks the fileinto extension" end
  local args, needs = {}, { fileinto = true }
  if copy then
    if not env.exts.copy then return nil, "copy_to needs the server's copy extension" end
    args[#args + 1], needs.copy = ":copy", true
  end
  if env.account.cfg.create then
    if not env.exts.mailbox then
      return nil, "create = true needs the server's mailbox extension (fileinto :create)"
    end
    args[#args + 1], needs.mailbox = ":create", true
  end
  local name = text.quote(env.wire(op.dest.name))
  if not name then return nil, "a mailbox name with a control character" end
  args[#args + 1] = name
  return "fileinto " .. table.concat(args, " ") .. ";", nil, needs
end

-- Sieve lines for op, whether it ends the message's way through the rules, and what it needs.
local function action(op, env)
  local v = op.verb
  if v == "move" then
    if op.keep then return nil, "expunge = false leaves the original in INBOX" end
    local line, why, needs = fileinto(op, env, false)
    if not line then return nil, why end
    return { line, "stop;" }, nil, needs, true
  elseif v == "copy" then
    local line, why, needs = fileinto(op, env, true)
    if not line then return nil, why end
    return { line }, nil, needs, false
  elseif v == "delete" then
    return { "discard;", "stop;" }, nil, {}, true
  elseif v == "store" then
    if not env.exts.imap4flags then return nil, "flags need the server's imap4flags extension" end
    local cmd = ({ ["+"] = "addflag", ["-"] = "removeflag", ["="] = "setflag" })[op.mode]
    return { cmd .. " " .. text.list(op.flags) .. ";" }, nil, { imap4flags = true }, false
  end
  return nil, op.verb == "labels" and "Gmail labels" or ("no Sieve equivalent for " .. op.verb)
end

---------------------------------------------------------------------------------------
-- Rules: the actions on one result that follow each other in the queue.

local function group(ops)
  local rules, first_search = {}, {}
  for i, op in ipairs(ops) do
    if op.kind == "search" then
      first_search[op.result] = first_search[op.result] or i
    else
      local last = rules[#rules]
      if last and last.src == op.src then
        last.actions[#last.actions + 1] = op
      else
        rules[#rules + 1] = { src = op.src, actions = { op }, at = i, where = op.where }
      end
    end
  end
  return rules, first_search
end

-- The rule's condition is evaluated at its first action in Sieve, at its searches over IMAP:
-- a flag changed in between by another action makes them differ.
local function flags_changed(ops, from, to)
  for i = from + 1, to - 1 do
    local op = ops[i]
    if op.kind ~= "search" and op.verb == "store" then return op end
  end
end

local function render(n, indent)
  if n.test then return n.test end
  if n.nope then return "not " .. render(n.nope, indent) end
  local kids = n.all or n.any
  local word = n.all and "allof" or "anyof"
  local parts = {}
  for i, k in ipairs(kids) do parts[i] = render(k, indent .. string.rep(" ", #word + 2)) end
  local one = word .. " (" .. table.concat(parts, ", ") .. ")"
  if #one + #indent <= 90 and not one:find("\n") then return one end
  return word .. " (" .. table.concat(parts, ",\n" .. indent .. string.rep(" ", #word + 2)) .. ")"
end

local function what(rule)
  local t = {}
  for i, op in ipairs(rule.actions) do
    t[i] = op.label
    if op.verb == "store" and op.label:find("flags$") then
      t[i] = op.label .. " " .. table.concat(op.flags, " ")
    end
  end
  return table.concat(t, ", ")
end

--- translate(ops, env) -> { rules = {{where=, what=, status=, why=}}, blocks = {text...},
--- requires = {ext...} }. status: "sieve" (translated), "never" (cannot match new mail, so
--- Sieve need not run it), "imap" (stays with the IMAP run; why says why).
--- env: account, exts (the server's SIEVE extensions, a set), wire(name) (the server's
--- mailbox name), today and yesterday ("YYYY-MM-DD"), provenance (result -> {base, field,
--- pattern, flags} for r:match, {body = true} for r:match_body), queries (result -> the
--- query the script searched with, when the result's own may have changed since).
function M.translate(ops, env)
  local rules, first_search = group(ops)
  local out = { rules = {}, blocks = {}, requires = {} }
  local needs_all = {}
  local blocked
  for _, rule in ipairs(rules) do
    local row = { where = rule.where or "?", what = what(rule) }
    out.rules[#out.rules + 1] = row
    local box = box_of(rule.src, env)
    if not box or box.account ~= env.account or box.name ~= "INBOX" then
      row.status, row.why = "imap", box and ("works on " .. box.name) or "works on several mailboxes"
      goto next
    end
    do
      local searches = {}
      local cond = result_condition(rule.src, env, searches)
      if cond.const == false then
        row.status, row.why = "never", cond.why
        goto next
      end
      if blocked then
        row.status, row.why = "imap", "comes after " .. blocked ..
          ", which stays IMAP-only and may act on the same messages first"
        goto next
      end
      local why = cond.no
      local at = rule.at
      for _, r in ipairs(searches) do
        if first_search[r] and first_search[r] < at then at = first_search[r] end
      end
      local changer = not why and cond.flags and flags_changed(ops, at, rule.at)
      if changer then
        why = "its search reads flags that " .. (changer.where or "another action") ..
          " changes before it acts"
      end
      local lines, needs, ends = {}, {}, false
      for _, op in ipairs(rule.actions) do
        if why then break end
        if ends then
          row.note = (row.note and row.note .. ", " or "") .. op.label ..
            " after the message left INBOX does nothing, over IMAP too"
        else
          local l, w, n, e = action(op, env)
          if not l then
            why = op.label .. ": " .. w
          else
            for _, s in ipairs(l) do lines[#lines + 1] = s end
            for x in pairs(n) do needs[x] = true end
            ends = e
          end
        end
      end
      if why then
        row.status, row.why = "imap", why
        blocked = row.where
        goto next
      end
      for x in pairs(needs) do needs_all[x] = true end
      for x in pairs(cond.needs or {}) do needs_all[x] = true end
      local body = "  " .. table.concat(lines, "\n  ")
      local block = "# " .. row.where .. ": " .. row.what .. "\n"
      if cond.const == true then
        block = block .. "if true {\n" .. body .. "\n}"
      else
        block = block .. "if " .. render(cond.node, "   ") .. " {\n" .. body .. "\n}"
      end
      out.blocks[#out.blocks + 1] = block
      row.status = "sieve"
    end
    ::next::
  end
  for x in pairs(needs_all) do out.requires[#out.requires + 1] = x end
  table.sort(out.requires)
  return out
end

--- The table of rules, one line each: where, what, and where it runs (and why).
function M.table_lines(rules)
  local w1, w2 = 0, 0
  for _, r in ipairs(rules) do
    w1, w2 = math.max(w1, #r.where), math.max(w2, math.min(#r.what, 40))
  end
  local lines = {}
  for _, r in ipairs(rules) do
    local status = r.status == "sieve" and "Sieve, at delivery"
      or r.status == "never" and "IMAP only (cannot match new mail: " .. r.why .. ")"
      or "IMAP only: " .. r.why
    if r.note then status = status .. " (" .. r.note .. ")" end
    lines[#lines + 1] = string.format("%-" .. w1 .. "s  %-" .. w2 .. "s  %s", r.where, r.what, status)
  end
  return lines
end

--- The whole script: a header (the table), require, the include of the script that was
--- active before (when there is one), then the rules.
function M.compose(result, opts)
  local again = "imapscript --sieve-install " ..
    ((opts.name and opts.name ~= "imapscript") and ("--name " .. opts.name .. " ") or "") .. opts.source
  local out = { "# Sieve rules made by imapscript from " .. opts.source .. " for " .. opts.label ..
    ".", "# Made again by: " .. again .. "  (by hand, edits are lost then).", "#" }
  for _, l in ipairs(M.table_lines(result.rules)) do out[#out + 1] = "#   " .. l end
  local requires = {}
  for i, r in ipairs(result.requires) do requires[i] = r end
  if opts.include then requires[#requires + 1] = "include" end
  table.sort(requires)
  out[#out + 1] = ""
  if #requires > 0 then out[#out + 1] = "require " .. text.list(requires) .. ";" end
  if opts.include then
    out[#out + 1] = ""
    out[#out + 1] = "# First what the script active before did; a message it filed away with"
    out[#out + 1] = "# stop never meets the rules below."
    out[#out + 1] = text.include_line(opts.include)
  end
  for _, b in ipairs(result.blocks) do
    out[#out + 1] = ""
    out[#out + 1] = b
  end
  return table.concat(out, "\n") .. "\n"
end

return M
