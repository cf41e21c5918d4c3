-- SORT and THREAD: the server's answer, and the client-side fallbacks compared with Dovecot's own
-- on the same mail (SORT and THREAD hidden from the client by --caps; Dovecot still runs them).
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }
local Q = imap.query

local CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE " ..
  "LIST-EXTENDED CONDSTORE ESEARCH SPECIAL-USE UIDPLUS MOVE LITERAL+"

local subjects = { "hello", "Re: hello", "RE: Hello", "Fwd: hello", "[lua-l] hello",
  "Re: [lua-l] Re: hello (fwd)", "[Fwd: hello]", "\u{dc}bersicht", "ubersicht", "Uzzz", "Vorlage",
  "=?UTF-8?Q?=C3=9Cbersicht?=", "", "  spaced \t out ", "\u{fb01}sh", "fish", "Zebra", "zebra",
  "[only]", "Re:", "\u{1e9e}ungla", "=?ISO-8859-1?Q?=E9t=E9?=", "Ete" }
local froms = { "alice@x.org", "Bob <bob@x.org>", "=?UTF-8?Q?J=C3=BCrgen?= <jurgen@x.org>",
  "Zed <zed@x.org>", "\"\u{c4}rger\" <arger@x.org>", false, "<ALICE@x.org>", "undisclosed-recipients:;" }
local dates = { "Tue, 1 Jul 2003 10:52:37 +0200", "1 Jul 2003 08:52:37 +0000",
  "Wed, 2 Jul 2003 00:00:00 -1200", false, "garbage", "Mon, 30 Jun 2003 23:59:59 GMT",
  "30 Jun 03 19:00 EDT" }

-- The i-th test message, and its arrival time.
local function message(i)
  local function pick(list, k) return list[(k - 1) % #list + 1] end
  local h = { "Message-ID: <sort-" .. i .. "@x.org>" }
  local from = pick(froms, i * 3)
  if from then h[#h + 1] = "From: " .. from end
  h[#h + 1] = "To: " .. (pick(froms, i * 5 + 1) or "x@y")
  if i % 3 == 0 then h[#h + 1] = "Cc: " .. (pick(froms, i + 2) or "") end
  local date = pick(dates, i * 7)
  if date then h[#h + 1] = "Date: " .. date end
  h[#h + 1] = "Subject: " .. pick(subjects, i)
  local body = string.rep("x", (i * 37) % 200)
  return table.concat(h, "\r\n") .. "\r\n\r\n" .. body .. "\r\n", 1057000000 + ((i * 7919) % 50) * 3600
end

-- Dovecot's own SORT / THREAD (sent raw: the client does not see the capability).
local function server_sort(box, keys)
  local crit = {}
  for _, k in ipairs(keys) do
    local rev, name = k:match("^(%-?)(%a+)$")
    if rev == "-" then crit[#crit + 1] = imap.atom "REVERSE" end
    crit[#crit + 1] = imap.atom(name:upper())
  end
  local res = box:command("UID SORT", crit, "UTF-8", Q.all)
  for _, u in ipairs(res.untagged) do
    if u.name == "SORT" then return { table.unpack(u) } end
  end
  return {}
end

local function server_threads(box, alg)
  local res = box:command("UID THREAD", imap.atom(alg), "UTF-8", Q.all)
  for _, u in ipairs(res.untagged) do
    if u.name == "THREAD" then return { table.unpack(u) } end
  end
  return {}
end

local function uids(r)
  local out = {}
  for uid in r:uids() do out[#out + 1] = uid end
  return out
end

local PROGRAMS = { { "arrival" }, { "date" }, { "-date" }, { "from" }, { "subject" }, { "size" },
  { "to" }, { "cc" }, { "-subject", "date" }, { "displayfrom" }, { "displayto" },
  { "from", "-size" }, { "-cc", "-arrival" } }

describe("sort and threads", function()
  local b, acct
  setup(function()
    b = S.bed(imap, { caps = CAPS })
    acct = b.account()
    for i = 1, 60 do
      local text, t = message(i)
      acct.INBOX:append(text, nil, t)
    end
  end)
  teardown(function()
    acct:logout()
    b.stop()
  end)

  it("sorts client-side in Dovecot's order", function()
    assert.is_false(acct:_connection():has("SORT"))
    for _, keys in ipairs(PROGRAMS) do
      local mine = uids(acct.INBOX:all():sort(keys))
      assert.are.equal(table.concat(server_sort(acct.INBOX, keys), " "), table.concat(mine, " "), table.concat(keys, " "))
      assert.are.equal(60, #mine)
    end
  end)

  it("sorts a search result and fetches in that order", function()
    local r = acct.INBOX:search(Q.subject "hello"):sort { "-size" }
    local last = math.huge
    local n = 0
    for m in r:fetch { "size" } do
      assert.is_true(m.size <= last)
      last = m.size
      n = n + 1
    end
    assert.are.equal(#r, n)
    assert.is_true(n > 0 and n < 60)
  end)

  it("threads by ordered subject client-side as Dovecot does", function()
    assert.are.same(server_threads(acct.INBOX, "ORDEREDSUBJECT"),
      acct.INBOX:all():threads("orderedsubject"))
    local ok, err = pcall(function() return acct.INBOX:all():threads("references") end)
    assert.is_false(ok)
    assert.are.equal("capability", err.kind)
  end)
end)

describe("sort and threads on a server that has them", function()
  local acct
  setup(function()
    acct = imap.account(S.account_cfg())
    for i = 1, 20 do
      local text, t = message(i)
      acct.INBOX:append(text, nil, t)
    end
  end)
  teardown(function() acct:logout() end)

  it("asks the server and keeps its order", function()
    assert.is_true(acct:_connection():has("SORT"))
    for _, keys in ipairs { { "-date", "subject" }, { "displayfrom" } } do
      assert.are.same(server_sort(acct.INBOX, keys), uids(acct.INBOX:all():sort(keys)))
    end
    assert.are.same(server_threads(acct.INBOX, "REFERENCES"), acct.INBOX:all():threads())
    assert.are.same({}, acct.INBOX:search(Q.larger(10^9)):threads())
  end)
end)
