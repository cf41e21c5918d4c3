-- The -i prompt: chunks continued over lines as lua5.4 does, values printed, errors not
-- fatal; on a terminal (script(1) gives it one) TAB completes and history is kept 0600.
local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return out
end

describe("imapscript -i", function()
  it("runs multi-line chunks, prints values and carries on after an error", function()
    local out = sh([[printf 'x = 1 +\n 2\nx\n=x*2\nfor i=1,2 do\nprint("i" .. i)\nend\nerror("boom")\nx + 1\n' |
                     build/imapscript -i 2>&1]])
    assert.matches("imapscript> >> imapscript> 3\n", out, 1, true)
    assert.matches("6\n", out, 1, true)
    assert.matches("i1\ni2\n", out, 1, true)
    assert.matches("boom", out, 1, true)
    assert.matches("4\n", out, 1, true)
  end)

  it("completes with TAB and keeps a 0600 history without secrets on a terminal", function()
    if not sh("command -v script"):match("script") then pending("script(1) is missing") return end
    local dir = sh("mktemp -d"):gsub("%s+$", "")
    local input = dir .. "/in"
    local f = io.open(input, "w")
    f:write("imap.ver\t\npw = { password = 'hunter2' }\nx = 41 + 1\n")
    f:close()
    local out = sh(string.format("env XDG_STATE_HOME=%s timeout 20 script -qec 'build/imapscript -i' /dev/null < %s",
                                 dir, input))
    assert.matches(require("imapscript.core").version, out, 1, true)
    local hist = dir .. "/imapscript/history"
    assert.equal("600\n", sh("stat -c %a " .. hist))
    local h = io.open(hist):read("a")
    assert.matches("41\\040+\\0401", h, 1, true)
    assert.not_matches("hunter2", h, 1, true)
    os.execute("rm -rf " .. dir)
  end)
end)
