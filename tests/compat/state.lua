-- tests/compat/state.lua — the Maildir oracle for two test beds at once: every mailbox of
-- every user under a mail root, as {["user/mailbox"] = {[message-id] = "sorted flags"}}, and
-- the subscriptions, read from the files (not over IMAP), and a comparison of two states.
local M = {}

local function shquote(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

local function lines(cmd)
  local p = io.popen(cmd)
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

local system_flags = { D = "\\Draft", F = "\\Flagged", R = "\\Answered", S = "\\Seen", T = "\\Deleted" }

local function mailbox_state(dir)
  local kw = {}
  local f = io.open(dir .. "/dovecot-keywords")
  if f then
    for line in f:lines() do
      local i, name = line:match("^(%d+) (.+)$")
      if i then kw[string.char(97 + tonumber(i))] = name end
    end
    f:close()
  end
  local out = {}
  for _, sub in ipairs { "cur", "new" } do
    for _, name in ipairs(lines("ls -1 " .. shquote(dir .. "/" .. sub) .. " 2>/dev/null")) do
      local mf = io.open(dir .. "/" .. sub .. "/" .. name)
      if mf then
        local id
        for line in mf:lines() do
          if line == "" or line == "\r" then break end
          id = id or line:match("^[Mm]essage%-[Ii][Dd]:%s*(<[^>]*>)")
        end
        mf:close()
        local flags = {}
        for c in (name:match(":2,(.*)$") or ""):gmatch(".") do
          flags[#flags + 1] = system_flags[c] or kw[c] or ("?" .. c)
        end
        table.sort(flags)
        local key = id or name
        out[key] = out[key] or {}
        table.insert(out[key], table.concat(flags, " "))
      end
    end
  end
  -- The same message more than once (copies): <id>, <id>#2, ... in flag order.
  local st = {}
  for id, list in pairs(out) do
    table.sort(list)
    for i, flags in ipairs(list) do st[i == 1 and id or (id .. "#" .. i)] = flags end
  end
  return st
end

--- Every mailbox of every user below root (a test bed's TESTBED_MAILROOT).
function M.read(root)
  local all = {}
  for _, user in ipairs(lines("ls -1 " .. shquote(root))) do
    local base = root .. "/" .. user
    if os.execute("test -d " .. shquote(base .. "/cur")) then
      all[user .. "/INBOX"] = mailbox_state(base)
      for _, d in ipairs(lines("ls -1a " .. shquote(base))) do
        if d:match("^%.[^.]") and os.execute("test -d " .. shquote(base .. "/" .. d .. "/cur")) then
          all[user .. "/" .. d:sub(2):gsub("%.", "/")] = mailbox_state(base .. "/" .. d)
        end
      end
    end
  end
  return all
end

--- Differences between states a and b: a list of {mailbox=, id=, a=flags|nil, b=flags|nil}.
function M.diff(a, b)
  local out = {}
  local boxes = {}
  for k in pairs(a) do boxes[k] = true end
  for k in pairs(b) do boxes[k] = true end
  for box in pairs(boxes) do
    local ma, mb = a[box] or {}, b[box] or {}
    local ids = {}
    for id in pairs(ma) do ids[id] = true end
    for id in pairs(mb) do ids[id] = true end
    for id in pairs(ids) do
      if ma[id] ~= mb[id] then out[#out + 1] = { mailbox = box, id = id, a = ma[id], b = mb[id] } end
    end
  end
  table.sort(out, function(x, y)
    if x.mailbox ~= y.mailbox then return x.mailbox < y.mailbox end
    return x.id < y.id
  end)
  return out
end

--- Every user's subscriptions below root, as sorted "user/mailbox" names (Dovecot keeps them
--- in the file `subscriptions`: a version line, an empty line, then names with a tab as
--- the hierarchy separator).
function M.subscriptions(root)
  local out = {}
  for _, user in ipairs(lines("ls -1 " .. shquote(root))) do
    local f = io.open(root .. "/" .. user .. "/subscriptions")
    if f then
      for line in f:lines() do
        if line ~= "" and not line:match("^V\t") then out[#out + 1] = user .. "/" .. line:gsub("\t", "/") end
      end
      f:close()
    end
  end
  table.sort(out)
  return out
end

--- Number of messages in a state.
function M.count(st)
  local n = 0
  for _, box in pairs(st) do for _ in pairs(box) do n = n + 1 end end
  return n
end

return M
