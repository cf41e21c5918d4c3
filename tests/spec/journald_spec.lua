-- Under systemd (JOURNAL_STREAM names stderr), log lines and errors carry "<N>" syslog
-- priorities so the journal files them as warnings and errors; elsewhere they do not.
local function run(journal)
  local dir = io.popen("mktemp -d"):read("l")
  local file = dir .. "/stderr"
  local chunk = [[require('imapscript.log').warn('careful') error('broken')]]
  local stream = journal and string.format('JOURNAL_STREAM=$(stat -c %%d:%%i %s)', file) or ""
  os.execute(string.format("touch %s; exec 3>>%s; env %s build/imapscript -e \"%s\" 2>&3", file, file,
                           stream, chunk))
  local out = io.open(file):read("a")
  os.execute("rm -rf " .. dir)
  return out
end

describe("log lines for the journal", function()
  it("carry priorities when stderr is the journal", function()
    local out = run(true)
    assert.matches("<4>imapscript: warning: careful\n", out, 1, true)
    assert.matches("<3>imapscript: (command line):1: broken\n", out, 1, true)
  end)

  it("are plain otherwise", function()
    local out = run(false)
    assert.matches("^imapscript: warning: careful\n", out)
    assert.not_matches("<%d>", out)
  end)
end)
