-- bigmail.lua — run by scripts/bench-bigmail, one case per process (BENCH_CASE), against a test
-- bed (TESTBED_* in the environment) or fakeimap (BENCH_PORT): what it does, and what the
-- strings Lua holds at the end weigh (the process' peak RSS is measured from outside).
local case = os.getenv("BENCH_CASE")
local function account(n)
  if (os.getenv("BENCH_PORT") or "") ~= "" then
    return imap.account { host = "127.0.0.1", port = tonumber(os.getenv("BENCH_PORT")), tls = "none",
      user = "u", password = "p" }
  end
  local suffix = n and tostring(n) or ""
  return imap.account { host = os.getenv("TESTBED_HOST"), port = tonumber(os.getenv("TESTBED_TLS_PORT")),
    ca_file = os.getenv("TESTBED_CA"), user = os.getenv("TESTBED_USER" .. suffix),
    password = os.getenv("TESTBED_PASSWORD" .. suffix), create = true }
end
local held = 0
local a = account()

if case == "setup" then
  -- one 50 MB attachment copied nine times in Big, one 50 MB text in Text
  local function append(box, path)
    local f = assert(io.open(path, "rb"))
    box:append(f:read("a"))
    f:close()
  end
  a:create "Big"
  a:create "Text"
  append(a.Big, os.getenv("BENCH_B64"))
  append(a.Text, os.getenv("BENCH_TXT"))
  for _ = 1, 9 do
    a.Big:uids({ 1 }):copy_to(a.Big)
    imap.flush()
  end
  assert(#a.Big:all() == 10)
elseif case == "idle" then
  assert(#a.Big:all() == 10)
elseif case == "raw" then
  for m in a.Big:all():fetch { "size" } do   -- one message: the first
    for full in a.Big:uids({ m.uid }):fetch { "raw" } do held = #full.raw end
    break
  end
elseif case == "body" or case == "text_body" then
  local box = case == "body" and a.Big or a.Text
  for m in box:all():fetch { "size" } do
    for full in box:uids({ m.uid }):fetch { "body" } do held = #full.body end
    break
  end
elseif case == "save" then
  for m in a.Big:all():fetch { "size" } do assert(m:save(os.getenv("BENCH_OUT")) == m.size) break end
elseif case == "match" then
  assert(#a.Text:all():match_body("NEEDLE-AT-THE-END") == 1)
elseif case == "move" then
  -- a copy made on the server (Maildir: links, no memory) is what moves
  a.Big:all():copy_to(a.Moving)
  imap.flush()
  local b = account(2)
  a.Moving:all():move_to(b.Moved)
  imap.flush()
  assert(#a.Moving:all() == 0 and #b.Moved:all() % 10 == 0)
elseif case == "search" then
  held = #a.INBOX:all():set()
  assert(held == 1000000)
  held = 0
end
io.stderr:write(string.format("held %d\n", held))
