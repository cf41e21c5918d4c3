-- SORT and THREAD: the server's answer, and the client-side fallbacks compared with Dovecot's own
-- on the same mail (SORT and THREAD hidden from the client by --caps; Dovecot still runs them).
local S = require "tests.integration.support"
local imap = require("imapscript")._configure { quiet = true }
local settings = require "imapscript.settings"
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

-- Crafted threads (each entry: header lines; a Date: is added from the index unless "nodate").
local CRAFTED = {
  { "Message-ID: <a1@x>", "Subject: Plan" },
  { "Message-ID: <a2@x>", "References: <a1@x>", "Subject: Re: Plan" },
  { "Message-ID: <a3@x>", "References: <a1@x> <a2@x>", "Subject: Re: Plan" },
  { "Message-ID: <a4@x>", "In-Reply-To: <a1@x>", "Subject: RE: plan" },
  -- replies to messages never received: a dummy root for siblings, a lone orphan promoted
  { "Message-ID: <b2@x>", "References: <b1@x>", "Subject: Re: Lost" },
  { "Message-ID: <b3@x>", "In-Reply-To: <b1@x>", "Subject: Re: Lost" },
  { "Message-ID: <c2@x>", "References: <gone@x> <c1@x>", "Subject: Re: Orphan" },
  -- duplicate Message-IDs
  { "Message-ID: <dup@x>", "Subject: First of two" },
  { "Message-ID: <dup@x>", "Subject: Second of two" },
  { "Message-ID: <d3@x>", "References: <dup@x>", "Subject: Re: First of two" },
  -- threads joined by subject only, in Re:/Fwd: forms; a second original makes a dummy
  { "Message-ID: <e1@x>", "Subject: Budget" },
  { "Message-ID: <e2@x>", "Subject: Re: Budget" },
  { "Message-ID: <e3@x>", "Subject: Fwd: budget" },
  { "Message-ID: <e4@x>", "Subject: [Fwd: Budget]" },
  { "Message-ID: <e5@x>", "Subject: Budget" },
  { "Message-ID: <e6@x>", "Subject: RE: [team] Budget (fwd)" },
  { "Message-ID: <b9@x>", "References: <b8@x>", "Subject: Lost" },
  -- loops, a self reference, ids without "@", with comments, spaces and text around them
  { "Message-ID: <p@x>", "References: <q@x>", "Subject: Loop" },
  { "Message-ID: <q@x>", "References: <p@x>", "Subject: Loop back" },
  { "Message-ID: <s@x>", "References: <s@x>", "Subject: Self" },
  { "Message-ID: <f2@x>", "References: <noat> <(comment) a2 @x>", "Subject: Re: Plan" },
  { "Message-ID: <f3@x>", "In-Reply-To: your message of Monday <b2@x>", "Subject: Re: Lost" },
  { "Message-ID: < f4 @ x >", "References: <f2@x>\r\n <f3@x>", "Subject: Re: Plan" },
  -- no Message-ID, no Date (the arrival counts), no Subject
  { "References: <a1@x>", "nodate" },
  { "Message-ID: <n2@x>", "nodate", "Subject: Budget" },
  { "Message-ID: <n3@x>" },
  -- named as a parent by others, then arriving without References: it loses that parent
  { "Message-ID: <g3@x>", "References: <g1@x> <g2@x>", "Subject: Re: Tree" },
  { "Message-ID: <g2@x>", "Subject: Tree" },
  { "Message-ID: <g4@x>", "References: <g2@x>", "Subject: Re: Tree" },
  -- encoded subjects
  { "Message-ID: <h1@x>", "Subject: =?UTF-8?Q?=C3=9Cbersicht?=" },
  { "Message-ID: <h2@x>", "Subject: Re: \u{dc}bersicht" },
}

local function crafted(i)
  local h, dated = {}, true
  for _, line in ipairs(CRAFTED[i]) do
    if line == "nodate" then dated = false else h[#h + 1] = line end
  end
  if dated then   -- some dates tie, some replies are older than what they answer
    h[#h + 1] = os.date("!Date: %a, %d %b %Y %H:%M:%S +0000", 1700000000 + ((i * 5) % 7) * 3600)
  end
  return table.concat(h, "\r\n") .. "\r\n\r\nbody " .. i .. "\r\n", 1700000000 + (i % 4) * 3600
end

-- Generated threads (seeded): ids that repeat, References and In-Reply-To to present and
-- missing messages, odd id forms, subjects from a small pool in reply and forward forms.
local function generated(n, seed)
  math.randomseed(seed)
  local forms = { "<m%d@x>", "<m%d @ x>", "<(c) m%d@x>", "<\"m%d\"@x>", "<m%d>", "m%d@x" }
  local function id(k)
    return string.format(forms[math.random() < 0.8 and 1 or math.random(2, #forms)], k)
  end
  local pre = { "", "", "", "Re: ", "RE: ", "Fwd: ", "Fw: ", "re: re: ", "[list] ", "Re: [list] " }
  local out = {}
  for i = 1, n do
    local h = {}
    if math.random() < 0.9 then h[#h + 1] = "Message-ID: " .. id(math.random(1, n)) end
    local nref = math.random(0, 5)
    if nref > 0 and math.random() < 0.7 then
      local refs = {}
      for k = 1, nref do refs[k] = id(math.random(1, n + 20)) end
      h[#h + 1] = "References: " .. table.concat(refs, math.random() < 0.5 and " " or "\r\n ")
    elseif nref > 0 then
      h[#h + 1] = "In-Reply-To: " .. (math.random() < 0.3 and "your mail " or "") .. id(math.random(1, n + 20))
    end
    if math.random() < 0.95 then
      local word = "w" .. math.random(1, 40)
      local p = pre[math.random(#pre)]
      h[#h + 1] = "Subject: " .. (math.random() < 0.1 and "[Fwd: " .. word .. "]" or p .. word)
    end
    if math.random() < 0.8 then
      h[#h + 1] = os.date("!Date: %a, %d %b %Y %H:%M:%S +0000", 1600000000 + math.random(0, 20) * 3600)
    end
    out[i] = { table.concat(h, "\r\n") .. "\r\n\r\nbody " .. i .. "\r\n",
               1600000000 + math.random(0, 20) * 3600 }
  end
  return out
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

  it("threads by ordered subject and by references client-side as Dovecot does", function()
    assert.is_false(acct:_connection():has("THREAD=REFERENCES"))
    assert.are.same(server_threads(acct.INBOX, "ORDEREDSUBJECT"),
      acct.INBOX:all():threads("orderedsubject"))
    assert.are.same(server_threads(acct.INBOX, "REFERENCES"), acct.INBOX:all():threads())
  end)

  it("threads crafted and generated mail by references as Dovecot does, subsets too", function()
    acct:create "Threads"
    for i = 1, #CRAFTED do
      local text, t = crafted(i)
      acct.Threads:append(text, nil, t)
    end
    acct:create "Random"
    for _, m in ipairs(generated(150, 7)) do acct.Random:append(m[1], nil, m[2]) end
    for _, box in ipairs { acct.Threads, acct.Random } do
      local mine = box:all():threads("references")
      assert.are.same(server_threads(box, "REFERENCES"), mine, box.name)
      assert.is_true(#mine > 5)
      local every3 = {}
      for uid = 1, #uids(box:all()), 3 do every3[#every3 + 1] = uid end
      local set = imap.set(every3)
      local res = box:command("UID THREAD", imap.atom "REFERENCES", "UTF-8", Q.uid(set))
      local server = {}
      for _, u in ipairs(res.untagged) do
        if u.name == "THREAD" then server = { table.unpack(u) } end
      end
      assert.are.same(server, box:search(Q.uid(set)):threads(), box.name .. " subset")
    end
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

  it("sorts and threads a set too long to send: the mailbox's order, threads computed here", function()
    assert(os.execute(string.format("scripts/testbed seed %s --mailbox Long --count 4000 " ..
      "--seed 5 --max-size 1500 >/dev/null", S.shquote(S.env("TESTBED_DIR")))))
    local trace = os.tmpname()
    settings.trace = assert(io.open(trace, "w"))
    settings.trace:setvbuf("line")
    local a = imap.account(S.account_cfg())
    local ok, err = pcall(function()
      local odd = {}
      for uid = 1, 4000, 2 do odd[#odd + 1] = uid end
      local set = imap.set(odd)
      assert.is_true(#tostring(set) > 8000)
      local r = a.Long:search(Q.uid(set))
      local want = {}
      for _, uid in ipairs(server_sort(a.Long, { "-size", "subject" })) do
        if uid % 2 == 1 then want[#want + 1] = uid end
      end
      assert.are.same(want, uids(r:sort { "-size", "subject" }))
      local res = a.Long:command("UID THREAD", imap.atom "REFERENCES", "UTF-8", Q.uid(set))
      local server = {}
      for _, u in ipairs(res.untagged) do
        if u.name == "THREAD" then server = { table.unpack(u) } end
      end
      assert.are.same(server, r:threads())
    end)
    a:logout()
    settings.trace:close()
    settings.trace = nil
    local sorts, threads = {}, 0
    for line in io.lines(trace) do
      if line:find("^C: %S+ UID SORT ") then sorts[#sorts + 1] = line:match("UID SORT .*") end
      if line:find("^C: %S+ UID THREAD ") then threads = threads + 1 end
    end
    os.remove(trace)
    assert(ok, tostring(err))
    assert.are.same({ 'UID SORT (REVERSE SIZE SUBJECT) "UTF-8" ALL',
      'UID SORT (REVERSE SIZE SUBJECT) "UTF-8" ALL' }, sorts)   -- the test's own, then r:sort's
    assert.are.equal(1, threads)            -- the test's own
  end)
end)
