#!/bin/sh
# The packages: `make deb` builds a Debian package that lintian accepts and that, once
# installed, gives a working program, `require "imapscript"` in the stock lua5.4 and the
# man pages; `luarocks make` installs the module from the rockspec. Ends with
# "package: N passed, N failed"; skips (with the reason) what this machine cannot do.
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
check() {   # check NAME COMMAND...
    name=$1; shift
    if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name" >&2; fi
}
skip() { echo "package: skipped: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
    skip "dpkg-buildpackage or debhelper missing (scripts/install-deps installs them)"
else
    if make -s --no-print-directory B="$tmp/build" deb >"$tmp/deb.log" 2>&1; then
        passed=$((passed + 1))
    else
        tail -n 30 "$tmp/deb.log" >&2
        failed=$((failed + 1)); echo "FAIL: make deb" >&2
    fi
    deb=$(ls "$tmp"/build/deb/imapscript_*.deb 2>/dev/null | head -n 1)
    if [ -n "$deb" ] && command -v lintian >/dev/null; then
        # Errors fail the check; warnings are shown.
        lintian --allow-root "$deb" >"$tmp/lintian" 2>&1
        grep -E '^W: ' "$tmp/lintian" >&2
        check "lintian finds no errors" sh -c "! grep -q '^E: ' '$tmp/lintian'"
    fi
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    if [ -z "$deb" ]; then
        :
    elif dpkg-query -W -f='${Status}' imapscript 2>/dev/null | grep -q "install ok installed"; then
        skip "imapscript is installed on this machine already: not replaced by the test package"
    elif ! $SUDO true 2>/dev/null; then
        skip "installing the package needs root"
    else
        check "dpkg installs the package" $SUDO dpkg -i "$deb"
        check "the installed program runs" sh -c "/usr/bin/imapscript --version | grep -q '^imapscript '"
        check "stock lua5.4 requires imapscript" env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 \
            sh -c "cd / && lua5.4 -e 'assert(tostring(require(\"imapscript\").query.seen) == \"SEEN\")'"
        if grep -qs 'path-exclude=*/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
            skip "dpkg on this machine excludes man pages (/etc/dpkg/dpkg.cfg.d)"
        else
            check "man -w imapscript finds the page" man -w imapscript
            check "man -w imapscript-api finds the page" man -w 5 imapscript-api
        fi
        check "the user units are installed" test -f /usr/lib/systemd/user/imapscript@.timer
        check "dpkg removes the package" $SUDO dpkg --purge imapscript
    fi
fi

if ! command -v luarocks >/dev/null; then
    skip "luarocks missing (scripts/install-deps installs it)"
else
    check "luarocks make installs the rock" luarocks --lua-version=5.4 make --tree="$tmp/tree" \
        imapscript-0.1.0-1.rockspec
    check "lua5.4 requires the rock" sh -c "eval \"\$(luarocks --lua-version=5.4 --tree='$tmp/tree' path)\" &&
        cd / && lua5.4 -e 'assert(require(\"imapscript\").version == \"0.1.0\")'"
    rm -rf build/rock
fi
echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
