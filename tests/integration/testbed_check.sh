#!/bin/bash
# testbed_check.sh — proves the Dovecot test bed works as the integration tests expect: TLS
# verification against its CA (and failure against another), STARTTLS, logins including an
# 8-bit password sent as a literal, seeded mail visible to SELECT, special-use folders, --caps.
# Runs inside tests/run-integration (TESTBED_* set), or alone: it then starts its own bed.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
TESTBED=${TESTBED:-$ROOT/scripts/testbed}
own_dirs=()
cleanup() {
    local d
    for d in ${own_dirs[@]+"${own_dirs[@]}"}; do
        "$TESTBED" stop "$d" >/dev/null 2>&1
        rm -rf -- "$d"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${TESTBED_DIR:-}" ]; then
    d=$(mktemp -d /tmp/tbcheck.XXXXXX)
    own_dirs+=("$d")
    "$TESTBED" start "$d" || { echo "cannot start a test bed"; echo "0 passed, 1 failed"; exit 1; }
    . "$d/env"
fi

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     | /'; }
check() {   # NAME COMMAND... : passes when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# Sends the lines on stdin (LF ends, sent as CRLF) to an IMAP port at once and prints the
# replies until the server closes the connection (end the script with LOGOUT).
imap_plain() {
    local port=$1 input
    input=$(sed 's/$/\r/'; printf x)
    input=${input%x}
    timeout 20 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "%s" "$2" >&3
        cat <&3' _ "$port" "$input" | tr -d '\r'
}

imap_tls() {   # PORT CAFILE [extra s_client args]
    local port=$1 ca=$2
    shift 2
    sed 's/$/\r/' | timeout 20 openssl s_client -connect "127.0.0.1:$port" -quiet -verify_return_error \
        -CAfile "$ca" -verify_hostname localhost "$@" 2>/dev/null | tr -d '\r'
}

# ---- TLS --------------------------------------------------------------------------------------
out=$(printf 'a LOGOUT\n' | imap_tls "$TESTBED_TLS_PORT" "$TESTBED_CA")
case $out in '* OK'*) ok "implicit TLS verifies against TESTBED_CA (hostname localhost)" ;;
    *) fail "implicit TLS verifies against TESTBED_CA" "$out" ;; esac

out=$(printf 'a LOGOUT\n' | timeout 20 openssl s_client -connect "127.0.0.1:$TESTBED_TLS_PORT" -quiet \
    -verify_return_error -CAfile "$TESTBED_CA" -verify_ip 127.0.0.1 2>&1 | tr -d '\r')
case $out in *'* OK'*) ok "certificate carries IP:127.0.0.1" ;; *) fail "certificate carries IP:127.0.0.1" "$out" ;; esac

if out=$(printf 'a LOGOUT\n' | timeout 20 openssl s_client -connect "127.0.0.1:$TESTBED_TLS_PORT" -quiet \
    -verify_return_error -CAfile "$TESTBED_OTHER_CA" 2>&1) && printf '%s' "$out" | grep -q '^\* OK'; then
    fail "TLS must fail against TESTBED_OTHER_CA" "$out"
else
    ok "TLS fails against TESTBED_OTHER_CA"
fi

fp=$(timeout 20 openssl s_client -connect "127.0.0.1:$TESTBED_TLS_PORT" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
check "TESTBED_FINGERPRINT is the served certificate's SHA-256" [ "$fp" = "$TESTBED_FINGERPRINT" ]

issuer=$(openssl x509 -in "$TESTBED_CA" -noout -subject)
served=$(timeout 20 openssl s_client -connect "127.0.0.1:$TESTBED_TLS_PORT" </dev/null 2>/dev/null |
    openssl x509 -noout -subject)
check "server certificate is not the CA certificate" [ "$issuer" != "$served" ]

# ---- plain port, STARTTLS, logins ------------------------------------------------------------
out=$(printf 'a LOGOUT\n' | imap_plain "$TESTBED_PORT")
case $out in '* OK [CAPABILITY '*STARTTLS*) ok "plain port greeting advertises STARTTLS" ;;
    *) fail "plain port greeting advertises STARTTLS" "$out" ;; esac

out=$(printf 'a LOGIN %s %s\nb LOGOUT\n' "$TESTBED_USER" "$TESTBED_PASSWORD" | imap_plain "$TESTBED_PORT")
case $out in *$'\n''a OK '*) ok "LOGIN alice on the plain port" ;; *) fail "LOGIN alice on the plain port" "$out" ;; esac

out=$(printf 'a LOGIN %s wrong-password\nb LOGOUT\n' "$TESTBED_USER" | imap_plain "$TESTBED_PORT")
case $out in *$'\n''a NO '*) ok "LOGIN with a wrong password is refused" ;;
    *) fail "LOGIN with a wrong password is refused" "$out" ;; esac

start=$(date +%s)
out=$(printf 'a LOGIN %s %s\nb LOGOUT\n' "$TESTBED_USER2" "$TESTBED_PASSWORD2" | imap_plain "$TESTBED_PORT")
took=$(( $(date +%s) - start ))
case $out in *$'\n''a OK '*) ok "LOGIN bob right after a failed login" ;; *) fail "LOGIN bob" "$out" ;; esac
check "no auth penalty delay after a failed login (${took} s)" [ "$took" -le 1 ]

out=$(printf 'a LOGIN %s %s\nb CAPABILITY\nc LOGOUT\n' "$TESTBED_USER" "$TESTBED_PASSWORD" |
    timeout 20 openssl s_client -starttls imap -connect "127.0.0.1:$TESTBED_PORT" -quiet \
        -verify_return_error -CAfile "$TESTBED_CA" -verify_hostname localhost 2>/dev/null | tr -d '\r')
case $out in *'a OK '*) ok "STARTTLS verifies against TESTBED_CA, then LOGIN" ;;
    *) fail "STARTTLS then LOGIN" "$out" ;; esac

# carol's password: p ä " s s SP w ö r d \  — 13 bytes in UTF-8; only a literal can carry it.
got_hex=$(printf '%s' "$TESTBED_PASSWORD3" | od -An -tx1 | tr -d ' \n')
check "TESTBED_PASSWORD3 is exactly the agreed bytes" [ "$got_hex" = 70c3a42273732077c3b672645c ]
n=$(printf '%s' "$TESTBED_PASSWORD3" | wc -c)
out=$({ printf 'a LOGIN %s {%d+}\n' "$TESTBED_USER3" "$n"; printf '%s\n' "$TESTBED_PASSWORD3"; printf 'b LOGOUT\n'; } |
    imap_tls "$TESTBED_TLS_PORT" "$TESTBED_CA")
case $out in *$'\n''a OK '*) ok "LOGIN carol with the 8-bit password as a literal" ;;
    *) fail "LOGIN carol with the 8-bit password as a literal" "$out" ;; esac

# ---- capabilities, folders --------------------------------------------------------------------
out=$(printf 'a LOGIN %s %s\nb CAPABILITY\nc LIST "" "*" RETURN (SPECIAL-USE)\nd LOGOUT\n' \
    "$TESTBED_USER" "$TESTBED_PASSWORD" | imap_plain "$TESTBED_PORT")
caps=$(printf '%s\n' "$out" | grep '^\* CAPABILITY' | head -n 1)
for c in MOVE UIDPLUS CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN LITERAL+ IDLE SPECIAL-USE ENABLE ID COMPRESS=DEFLATE; do
    case " ${caps#\* CAPABILITY } " in *" $c "*) ok "capability $c" ;; *) fail "capability $c" "$caps" ;; esac
done
for m in 'Drafts' 'Sent' 'Junk' 'Trash'; do
    case $out in *"\\$m) \"/\" $m"*|*"\\$m) \"/\" \"$m\""*) ok "special-use folder $m" ;;
        *) fail "special-use folder $m" "$(printf '%s\n' "$out" | grep LIST)" ;; esac
done
out=$(printf 'a LOGIN %s %s\nb CREATE Archive\nc LIST "" Archive RETURN (SPECIAL-USE)\nd LOGOUT\n' \
    "$TESTBED_USER" "$TESTBED_PASSWORD" | imap_plain "$TESTBED_PORT")
case $out in *'\Archive'*' Archive'*) ok "CREATE Archive gets \\Archive" ;; *) fail "CREATE Archive gets \\Archive" "$out" ;; esac

# ---- seeding -----------------------------------------------------------------------------------
manifest=$(mktemp /tmp/tbcheck-manifest.XXXXXX)
if "$TESTBED" seed "$TESTBED_DIR" --user "$TESTBED_USER" --count 500 --seed 42 --manifest "$manifest"; then
    ok "seed 500 messages into alice's INBOX"
else
    fail "seed 500 messages into alice's INBOX"
fi
out=$(printf 'a LOGIN %s %s\nb SELECT INBOX\nc FETCH 1,500 (UID INTERNALDATE RFC822.SIZE ENVELOPE)\nd LOGOUT\n' \
    "$TESTBED_USER" "$TESTBED_PASSWORD" | imap_plain "$TESTBED_PORT")
case $out in *$'\n''* 500 EXISTS'$'\n'*) ok "SELECT INBOX reports * 500 EXISTS" ;;
    *) fail "SELECT INBOX reports * 500 EXISTS" "$(printf '%s\n' "$out" | head -n 12)" ;; esac

# UID order follows the dates; INTERNALDATE is the file mtime; RFC822.SIZE is exact.
for row in 1 500; do
    line=$(sed -n "${row}p" "$manifest")
    want_date=$(printf '%s' "$line" | cut -f3)
    want_size=$(printf '%s' "$line" | cut -f4)
    want_id=$(printf '%s' "$line" | cut -f2)
    fetch=$(printf '%s\n' "$out" | grep "^\* $row FETCH")
    idate=$(printf '%s' "$fetch" | sed -n 's/.*INTERNALDATE "\([^"]*\)".*/\1/p')
    size=$(printf '%s' "$fetch" | sed -n 's/.*RFC822.SIZE \([0-9]*\).*/\1/p')
    got_date=$(date -d "$(printf '%s' "$idate" | sed 's/-/ /g; s/ \([+-][0-9]\{4\}\)$/ \1/')" +%s 2>/dev/null)
    case $fetch in *"$want_id"*) ok "message $row is $want_id (UID order = date order)" ;;
        *) fail "message $row is $want_id" "$fetch" ;; esac
    check "message $row INTERNALDATE = seeded date ($idate)" [ "${got_date:-x}" = "$want_date" ]
    # RFC822.SIZE counts CRLF line ends: the file size plus one byte per line.
    file=
    for f in "$TESTBED_MAILROOT/$TESTBED_USER/cur/"*"P42Q$((row - 1)).seedmail,"*; do file=${f##*/}; done
    vsize=$(printf '%s' "$file" | sed -n 's/.*,W=\([0-9]*\).*/\1/p')
    check "message $row RFC822.SIZE = W= of its file ($size)" [ "$size" = "$vsize" ]
    check "message $row file size = S= ($want_size)" [ "$(printf '%s' "$file" | sed -n 's/.*,S=\([0-9]*\).*/\1/p')" = "$want_size" ]
done
# Dovecot decodes the seeded encoded words (UTF-8, KOI8-R, ISO-8859-15, windows-1252) as the
# manifest says: a SEARCH for a decoded word finds exactly the manifest's messages.
for word in 'München' 'Привет' '€' 'Genève'; do
    want=$(awk -F'\t' -v w="$word" 'index($6, w) { n++ } END { print n + 0 }' "$manifest")
    n=$(printf '%s' "$word" | wc -c)
    out=$({ printf 'a LOGIN %s %s\nb SELECT INBOX\n' "$TESTBED_USER" "$TESTBED_PASSWORD"
            printf 'c SEARCH CHARSET UTF-8 SUBJECT {%d+}\n%s\nd LOGOUT\n' "$n" "$word"; } |
        imap_plain "$TESTBED_PORT")
    got=$(printf '%s\n' "$out" | grep '^\* SEARCH' | wc -w)
    got=$((got - 2))
    check "SEARCH SUBJECT $word finds the manifest's $want" test "$got" = "$want" -a "$want" -gt 0
done
rm -f "$manifest"

# Mail seeded while the server already knows the mailbox shows up on the next SELECT.
"$TESTBED" seed "$TESTBED_DIR" --user "$TESTBED_USER" --count 25 --seed 43 || fail "second seed"
out=$(printf 'a LOGIN %s %s\nb SELECT INBOX\nc LOGOUT\n' "$TESTBED_USER" "$TESTBED_PASSWORD" | imap_plain "$TESTBED_PORT")
case $out in *$'\n''* 525 EXISTS'$'\n'*) ok "mail seeded after a SELECT appears on the next (525)" ;;
    *) fail "mail seeded after a SELECT appears on the next (525)" "$(printf '%s\n' "$out" | head -n 8)" ;; esac

# A folder (Maildir++ with a '/' hierarchy and a non-ASCII name).
"$TESTBED" seed "$TESTBED_DIR" --user "$TESTBED_USER2" --mailbox "Lists/lua-l" --count 30 --seed 5 &&
"$TESTBED" seed "$TESTBED_DIR" --user "$TESTBED_USER2" --mailbox "Entwürfe" --count 3 --seed 6 ||
    fail "seed into folders"
out=$(printf 'a LOGIN %s %s\nb LIST "" "*"\nc SELECT "Lists/lua-l"\nd STATUS "Entw&APw-rfe" (MESSAGES)\ne LOGOUT\n' \
    "$TESTBED_USER2" "$TESTBED_PASSWORD2" | imap_plain "$TESTBED_PORT")
case $out in *'"/" Lists/lua-l'*'* 30 EXISTS'*) ok "seeded folder Lists/lua-l listed and SELECTed (30)" ;;
    *) fail "seeded folder Lists/lua-l" "$out" ;; esac
case $out in *'STATUS "Entw&APw-rfe" (MESSAGES 3)'* | *'STATUS Entw&APw-rfe (MESSAGES 3)'*) ok "seeded folder Entwürfe (mUTF-7 on disk)" ;;
    *) fail "seeded folder Entwürfe" "$out" ;; esac

# Seeded flags: \Seen etc. come from the file names.
out=$(printf 'a LOGIN %s %s\nb SELECT INBOX\nc SEARCH UNSEEN\nd SEARCH DELETED\ne SEARCH FLAGGED\nf LOGOUT\n' \
    "$TESTBED_USER" "$TESTBED_PASSWORD" | imap_plain "$TESTBED_PORT")
unseen=$(printf '%s\n' "$out" | grep '^\* SEARCH' | sed -n 1p | wc -w)
deleted=$(printf '%s\n' "$out" | grep '^\* SEARCH' | sed -n 2p | wc -w)
check "a mix of seen and unseen messages ($((unseen - 2)) unseen)" [ "$unseen" -gt 52 ]
check "a few \\Deleted messages ($((deleted - 2)))" [ "$deleted" -gt 2 ]

# ---- --caps: a bed without MOVE, UIDPLUS and COMPRESS --------------------------------------------
d=$(mktemp -d /tmp/tbcaps.XXXXXX)
own_dirs+=("$d")
if "$TESTBED" start "$d" --caps "IMAP4rev1 LITERAL+ IDLE NAMESPACE"; then
    port=$(sed -n 's/^export TESTBED_PORT=//p' "$d/env")
    out=$(printf 'a LOGIN alice alice-secret\nb CAPABILITY\nc LOGOUT\n' | imap_plain "$port")
    caps=$(printf '%s\n' "$out" | grep '^\* CAPABILITY' | head -n 1)
    case " $caps " in
        *" MOVE "* | *" UIDPLUS "* | *COMPRESS*) fail "--caps limits the capabilities" "$caps" ;;
        *" IDLE "*) ok "--caps limits the capabilities ($caps)" ;;
        *) fail "--caps limits the capabilities" "$out" ;;
    esac
else
    fail "start a bed with --caps"
fi
"$TESTBED" stop "$d" && ok "stop a bed" || fail "stop a bed"
check "stopped bed's port is closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
