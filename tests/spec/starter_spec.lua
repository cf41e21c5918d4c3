-- Without a script argument imapscript runs $XDG_CONFIG_HOME/imapscript/rules.lua;
-- --init writes a starter there (0600), never over an existing file.
local function sh(cmd)
  local p = io.popen(cmd .. "; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  return out
end

describe("the default rules file", function()
  local home
  before_each(function() home = io.popen("mktemp -d"):read("l") end)
  after_each(function() os.execute("rm -rf '" .. home .. "'") end)
  local function run(args, env)
    return sh(string.format("env -u XDG_CONFIG_HOME HOME='%s' %s build/imapscript %s </dev/null 2>&1",
                            home, env or "", args))
  end

  it("is asked for, with a hint, when it does not exist", function()
    local out = run("")
    assert.matches("rc=2", out, 1, true)
    assert.matches(home .. "/.config/imapscript/rules.lua does not exist", out, 1, true)
    assert.matches("imapscript --init", out, 1, true)
  end)

  it("is written by --init with mode 0600, a valid script, and never overwritten", function()
    local out = run("--init")
    assert.matches("rc=0", out, 1, true)
    local path = home .. "/.config/imapscript/rules.lua"
    assert.equal("600", io.popen("stat -c %a " .. path):read("l"))
    assert.equal("700", io.popen("stat -c %a " .. home .. "/.config/imapscript"):read("l"))
    local text = io.open(path):read("a")
    assert.truthy(load(text, "rules.lua"), "the starter compiles")
    assert.matches('host = "imap.example.org"', text, 1, true)
    local f = io.open(path, "w")
    f:write("print('mine')\n")
    f:close()
    out = run("--init")
    assert.matches("rc=2", out, 1, true)
    assert.matches("exists already", out, 1, true)
    assert.equal("print('mine')\n", io.open(path):read("a"))
  end)

  it("is run when no script is named, from XDG_CONFIG_HOME when set", function()
    os.execute(string.format("mkdir -p '%s/cfg/imapscript' && echo 'print(\"ran \" .. #arg)' > '%s/cfg/imapscript/rules.lua'",
                             home, home))
    local out = run("", "XDG_CONFIG_HOME=" .. home .. "/cfg")
    assert.matches("ran 0\nrc=0", out, 1, true)
  end)

  it("asks for the server and user on a terminal", function()
    if not io.popen("command -v script"):read("l") then pending("script(1) is missing") return end
    local input = home .. "/answers"
    local f = io.open(input, "w")
    f:write("mail.example.net\nbob \"the\" builder\n")
    f:close()
    sh(string.format("env -u XDG_CONFIG_HOME HOME='%s' timeout 20 script -qec 'build/imapscript --init' /dev/null < '%s'",
                     home, input))
    local text = io.open(home .. "/.config/imapscript/rules.lua"):read("a")
    assert.matches('host = "mail.example.net"', text, 1, true)
    assert.matches('user = "bob \\"the\\" builder"', text, 1, true)
    assert.truthy(load(text, "rules.lua"))
  end)
end)
