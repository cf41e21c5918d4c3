#!/bin/sh
# `make install PREFIX=...` installs a program that finds its Lua modules, a C module that
# the stock lua5.4 loads with `require "imapscript"`, and both man pages.
set -u
passed=0; failed=0
check() {   # check NAME COMMAND...
    name=$1; shift
    if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name" >&2; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s --no-print-directory B="$tmp/build" PREFIX="$tmp/prefix" install >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; echo "0 passed, 1 failed"; exit 1; }
p=$tmp/prefix
check "program installed" test -x "$p/bin/imapscript"
check "program runs a script with the installed modules" \
    sh -c "'$p/bin/imapscript' -e 'assert(imap.query.seen)' && '$p/bin/imapscript' --version | grep -q '^imapscript '"
check "stock lua5.4 loads the C module" \
    env LUA_PATH="$p/share/lua/5.4/?.lua;$p/share/lua/5.4/?/init.lua" LUA_CPATH="$p/lib/lua/5.4/?.so" \
    lua5.4 -e 'local imap = require "imapscript"; assert(tostring(imap.query.from "x") == "FROM \"x\"")'
# The pages themselves (a fresh machine may have no man command to render them).
check "imapscript(1) installed" sh -c "grep -q '^\.TH IMAPSCRIPT 1' '$p/share/man/man1/imapscript.1' &&
    grep -q 'dry\\\\-run' '$p/share/man/man1/imapscript.1'"
check "imapscript-api(5) installed" sh -c "grep -q '^\.TH IMAPSCRIPT-API 5' '$p/share/man/man5/imapscript-api.5' &&
    grep -q 'move_to' '$p/share/man/man5/imapscript-api.5'"
# systemd user units: installed with the program's path, and valid for systemd itself.
u=$p/lib/systemd/user
check "systemd units installed" test -f "$u/imapscript@.service" -a -f "$u/imapscript@.timer" -a \
    -f "$u/imapscript-watch@.service"
check "units run the installed program" grep -q "^ExecStart=$p/bin/imapscript " "$u/imapscript@.service"
mkdir -m 700 "$tmp/runtime"
check "systemd-analyze verify accepts the units" env XDG_RUNTIME_DIR="$tmp/runtime" \
    systemd-analyze verify --user --man=no "$u/imapscript@rules.service" "$u/imapscript@rules.timer" \
    "$u/imapscript-watch@daemon.service"
check "examples installed" test -f "$p/share/doc/imapscript/examples/sort-lists.lua"
echo "install_check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
