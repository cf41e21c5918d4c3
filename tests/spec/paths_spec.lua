-- paths.lua and the owner-only file helpers of the core: the state directory is created
-- 0700, files in it are written atomically with mode 0600, XDG variables are honoured.
local core = require "imapscript.core"
local paths = require "imapscript.paths"
local settings = require "imapscript.settings"

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

describe("private files", function()
  local root
  before_each(function() root = sh("mktemp -d") end)
  after_each(function() os.execute("rm -rf '" .. root .. "'") end)

  it("creates the state directory and its parents with mode 0700", function()
    settings.state_dir = root .. "/a/b/imapscript"
    local dir = paths.state_dir(true)
    settings.state_dir = nil
    assert.equal(root .. "/a/b/imapscript", dir)
    assert.equal("700", sh("stat -c %a '" .. dir .. "'"))
    assert.equal("700", sh("stat -c %a '" .. root .. "/a'"))
  end)

  it("writes a file of mode 0600 and replaces it whole", function()
    local f = root .. "/token"
    assert.is_true(core.write_private(f, "first"))
    assert.is_true(core.write_private(f, "second\0bytes"))
    assert.equal("600", sh("stat -c %a '" .. f .. "'"))
    local h = io.open(f, "rb")
    assert.equal("second\0bytes", h:read("a"))
    h:close()
    assert.equal("", sh("ls '" .. root .. "' | grep tmp || true"))
  end)

  it("returns nil and a message where it cannot write", function()
    local ok, err = core.write_private(root .. "/missing/dir/file", "x")
    assert.is_nil(ok)
    assert.matches("cannot write .*missing/dir/file", err)
    ok, err = core.private_dir("/proc/self/no/such")
    assert.is_nil(ok)
    assert.matches("cannot create", err)
  end)

  it("follows XDG_STATE_HOME and XDG_CONFIG_HOME, else HOME", function()
    local lua = "lua5.4 -e \"package.path='./lua/?.lua;'..package.path;" ..
                "package.cpath='./build/lua/?.so;'..package.cpath;" ..
                "local p=require'imapscript.paths';print(p.state_dir(), p.config_dir())\""
    assert.equal("/x/s/imapscript\t/x/c/imapscript",
                 sh("env XDG_STATE_HOME=/x/s XDG_CONFIG_HOME=/x/c " .. lua))
    assert.equal("/h/.local/state/imapscript\t/h/.config/imapscript",
                 sh("env -u XDG_STATE_HOME -u XDG_CONFIG_HOME HOME=/h " .. lua))
    -- XDG wants absolute paths: a relative one is ignored.
    assert.equal("/h/.local/state/imapscript\t/h/.config/imapscript",
                 sh("env XDG_STATE_HOME=rel XDG_CONFIG_HOME=rel HOME=/h " .. lua))
  end)
end)
