-- compat/search.lua — imapfilter's searching methods (select_all, is_*, has_keyword,
-- is_larger, arrived_*, sent_*, contain_*, match_*, send_query) for mailboxes and sets.
-- Searches become one UID SEARCH each (ANDed into the search they refine when that is still
-- pending); match_* fetch just the field for the whole set in one FETCH and run PCRE2 here.
local core = require "imapscript.core"
local query = require "imapscript.query"
local Result = require "imapscript.result"
local log = require "imapscript.log"
local ctx = require "imapscript.compat.context"
local criteria = require "imapscript.compat.criteria"
local aux = require "imapscript.compat.auxiliary"
local fetch = require "imapscript.compat.fetch"
local Set = require "imapscript.compat.set"
log.internal(debug.getinfo(1, "S").source)

local Q = query.Q
local M = {}

local function check(arg, want, fname, n)
  if arg == nil then error(fname .. ": required argument left out", 4) end
  if type(arg) ~= want then
    error(string.format("%s: argument %d: %s argument expected, got %s", fname, n, want, type(arg)), 4)
  end
end

local function b64(s)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return (s:gsub("..?.?", function(g)
    local a, b, c = g:byte(1, 3)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local out = {}
    for i = 3, 0, -1 do
      local k = (n >> (6 * i)) & 63
      out[#out + 1] = chars:sub(k + 1, k + 1)
    end
    if not b then out[3], out[4] = "=", "=" elseif not c then out[4] = "=" end
    return table.concat(out)
  end))
end

-- Search strings are in options.charset (imapfilter passes it as SEARCH CHARSET); the
-- encoder wants UTF-8, so other charsets are converted through the MIME decoder.
local function conv(s)
  local cs = ctx.options.charset
  if type(cs) ~= "string" or cs == "" or not s:find("[\128-\255]") then return s end
  local lc = cs:lower()
  if lc == "utf-8" or lc == "utf8" or lc == "us-ascii" then return s end
  local out = core.decode_header("=?" .. cs .. "?B?" .. b64(s) .. "?=")
  if out:sub(1, 2) == "=?" then
    error(core.error("usage", string.format("options.charset %q is not a charset imapscript knows", cs)), 0)
  end
  return out
end

local function date_arg(d, fname)
  local t = criteria.date(d)
  if not t then
    error(core.error("usage", string.format("%s: want a date like 01-Jan-2024, not %q", fname, d)), 0)
  end
  return t
end

local function days_ago(days) return os.time() - math.floor(days * 86400) end

-- name = {number of arguments before the optional messages, their types, query builder}
local searches = {
  select_all = { 0, {}, function() return Q.all end },
  is_answered = { 0, {}, function() return Q.answered end },
  is_deleted = { 0, {}, function() return Q.deleted end },
  is_draft = { 0, {}, function() return Q.draft end },
  is_flagged = { 0, {}, function() return Q.flagged end },
  is_new = { 0, {}, function() return Q.new end },
  is_old = { 0, {}, function() return Q.old end },
  is_recent = { 0, {}, function() return Q.recent end },
  is_seen = { 0, {}, function() return Q.seen end },
  is_unanswered = { 0, {}, function() return Q.unanswered end },
  is_undeleted = { 0, {}, function() return Q.undeleted end },
  is_undraft = { 0, {}, function() return Q.undraft end },
  is_unflagged = { 0, {}, function() return Q.unflagged end },
  is_unseen = { 0, {}, function() return Q.unseen end },
  has_keyword = { 1, { "string" }, function(f) return Q.keyword(f) end },
  has_unkeyword = { 1, { "string" }, function(f) return Q.unkeyword(f) end },
  is_larger = { 1, { "number" }, function(n) return Q.larger(math.floor(n)) end },
  is_smaller = { 1, { "number" }, function(n) return Q.smaller(math.floor(n)) end },
  is_newer = { 1, { "number" }, function(d) return Q.since(days_ago(d)) end },
  is_older = { 1, { "number" }, function(d) return Q.before(days_ago(d)) end },
  arrived_before = { 1, { "string" }, function(d) return Q.before(date_arg(d, "arrived_before")) end },
  arrived_on = { 1, { "string" }, function(d) return Q.on(date_arg(d, "arrived_on")) end },
  arrived_since = { 1, { "string" }, function(d) return Q.since(date_arg(d, "arrived_since")) end },
  sent_before = { 1, { "string" }, function(d) return Q.sent_before(date_arg(d, "sent_before")) end },
  sent_on = { 1, { "string" }, function(d) return Q.sent_on(date_arg(d, "sent_on")) end },
  sent_since = { 1, { "string" }, function(d) return Q.sent_since(date_arg(d, "sent_since")) end },
  contain_field = { 2, { "string", "string" }, function(f, s) return Q.header(f, conv(s)) end },
  contain_bcc = { 1, { "string" }, function(s) return Q.bcc(conv(s)) end },
  contain_cc = { 1, { "string" }, function(s) return Q.cc(conv(s)) end },
  contain_from = { 1, { "string" }, function(s) return Q.from(conv(s)) end },
  contain_subject = { 1, { "string" }, function(s) return Q.subject(conv(s)) end },
  contain_to = { 1, { "string" }, function(s) return Q.to(conv(s)) end },
  contain_header = { 1, { "string" }, function(s) return Q.text(conv(s)) & ~Q.body(conv(s)) end },
  contain_body = { 1, { "string" }, function(s) return Q.body(conv(s)) end },
  contain_message = { 1, { "string" }, function(s) return Q.text(conv(s)) end },
}
searches.has_flag = searches.has_keyword

-- What a match_* method fetches, and the text it tests for a fetched message. A header field
-- is named instead (items = the field's name): it may come from the cache (Result.each_field).
local function field_matcher(field)
  return field, function(m)
    return fetch.field_value(fetch.field_text(m.fields))
  end
end
local matches = {
  match_field = { 2, function(field) return field_matcher(field) end },
  match_bcc = { 1, function() return field_matcher("Bcc") end },
  match_cc = { 1, function() return field_matcher("Cc") end },
  match_from = { 1, function() return field_matcher("From") end },
  match_subject = { 1, function() return field_matcher("Subject") end },
  match_to = { 1, function() return field_matcher("To") end },
  match_header = { 1, function() return fetch.items.header, function(m) return m.header or "" end end },
  match_body = { 1, function() return fetch.items.body, function(m) return m.body or "" end end },
  match_message = { 1, function() return fetch.items.raw, function(m) return m.raw or "" end end },
}

-- The messages of native result `within` (or of native mailbox `box` when within is nil)
-- whose text matches re: one FETCH per mailbox.
local function match(box, within, items, text_of, re)
  local r = within or box:all()
  local keep = {}
  local order = {}
  local function test(m, nbox)
    if re:test(text_of(m)) == true then
      if not keep[nbox] then keep[nbox] = {}; order[#order + 1] = nbox end
      local l = keep[nbox]
      l[#l + 1] = m.uid
    end
  end
  if type(items) == "string" then
    Result.each_field(r, items, function(uid, text, nbox) test({ uid = uid, fields = text }, nbox) end,
      "match " .. items)
  else
    fetch.result(r, items, test)
  end
  local out
  for _, nbox in ipairs(order) do
    local k = Result.known(nbox, core.set(keep[nbox]))
    out = out and (out + k) or k
  end
  return Set.wrap(out)
end

--- Adds the searching methods to `methods`. base(self, messages) says where to search:
--- a native mailbox (all of it), a native result, or false (nothing: the result is empty).
function M.install(methods, base)
  for name, spec in pairs(searches) do
    local nargs, types, build = spec[1], spec[2], spec[3]
    methods[name] = function(self, ...)
      local args = table.pack(...)
      for i = 1, nargs do check(args[i], types[i], name, i) end
      local where = base(self, args[nargs + 1], name)
      if not where then return Set.wrap(nil) end
      local q = build(table.unpack(args, 1, nargs))
      return Set.wrap(where:search(q))
    end
  end
  methods.send_query = function(self, text, messages)
    if text ~= nil and type(text) ~= "string" then
      error("send_query: string argument expected, got " .. type(text), 2)
    end
    local where = base(self, messages, "send_query")
    if not where then return Set.wrap(nil) end
    return Set.wrap(where:search(text and criteria.parse(text, conv) or Q.all))
  end
  for name, spec in pairs(matches) do
    local nargs, how = spec[1], spec[2]
    methods[name] = function(self, ...)
      local args = table.pack(...)
      for i = 1, nargs do check(args[i], "string", name, i) end
      local where = base(self, args[nargs + 1], name)
      if not where then return Set.wrap(nil) end
      local pattern = args[nargs]
      local re = aux.regex(pattern, name)
      local items, text_of = how(nargs == 2 and args[1] or nil)
      if query.is_query(where) then error("internal: match on a query") end
      if Result.is_result(where) then return match(nil, where, items, text_of, re) end
      return match(where, nil, items, text_of, re)
    end
  end
end

M.conv = conv
return M
