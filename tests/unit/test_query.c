/* test_query.c — search queries: every key's wire text, OR nesting, NOT/AND placement, dates,
 * 8-bit strings as literals, quoting, simplification, sharing, the WITHIN rewrite, and long
 * UID sets cut into ranges. */
#include "check.h"
#include "command.h"
#include "msgset.h"
#include "query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* query_to_string(q) into a static buffer, then drops the caller's reference. */
static const char *str_of(struct query *q)
{
    static char out[4096];
    if (!q)
        return "(null)";
    char *s = query_to_string(q);
    snprintf(out, sizeof out, "%s", s ? s : "(oom)");
    free(s);
    query_unref(q);
    return out;
}

/* The keys as query_emit writes them after "A1 UID SEARCH", without the CRLF; drops q. */
static const char *wire_of(struct query *q, enum literal_mode mode, bool utf8)
{
    static char out[4096];
    struct command c;
    command_init(&c, mode);
    c.utf8 = utf8;
    command_start(&c, "A1", "UID SEARCH");
    if (q && query_needs_utf8(q) && !utf8) {
        command_atom(&c, "CHARSET");
        command_atom(&c, "UTF-8");
    }
    int rc = query_emit(q, &c);
    if (command_end(&c) || rc)
        snprintf(out, sizeof out, "ERR");
    else
        snprintf(out, sizeof out, "%.*s", (int)(c.len - 2), c.buf);
    command_free(&c);
    query_unref(q);
    return out;
}

#define WIRE(q) wire_of((q), LITERAL_PLUS, false)

static void test_simple_keys(void)
{
    static const struct { enum query_op op; const char *text; } keys[] = {
        { QUERY_ALL, "ALL" }, { QUERY_ANSWERED, "ANSWERED" }, { QUERY_DELETED, "DELETED" },
        { QUERY_DRAFT, "DRAFT" }, { QUERY_FLAGGED, "FLAGGED" }, { QUERY_NEW, "NEW" },
        { QUERY_OLD, "OLD" }, { QUERY_RECENT, "RECENT" }, { QUERY_SEEN, "SEEN" },
        { QUERY_UNANSWERED, "UNANSWERED" }, { QUERY_UNDELETED, "UNDELETED" },
        { QUERY_UNDRAFT, "UNDRAFT" }, { QUERY_UNFLAGGED, "UNFLAGGED" }, { QUERY_UNSEEN, "UNSEEN" },
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        CHECK_STR(str_of(query_key(keys[i].op)), keys[i].text);
        char want[64];
        snprintf(want, sizeof want, "A1 UID SEARCH %s", keys[i].text);
        CHECK_STR(WIRE(query_key(keys[i].op)), want);
        struct query *q = query_key(keys[i].op);
        CHECK(q && query_kind(q) == keys[i].op);
        query_unref(q);
    }
    errno = 0;
    CHECK(query_key(QUERY_FROM) == NULL);
    CHECK_INT(errno, EINVAL);
    CHECK(query_key(QUERY_AND) == NULL);
}

static void test_string_keys(void)
{
    static const struct { enum query_op op; const char *name; } keys[] = {
        { QUERY_BCC, "BCC" }, { QUERY_BODY, "BODY" }, { QUERY_CC, "CC" }, { QUERY_FROM, "FROM" },
        { QUERY_SUBJECT, "SUBJECT" }, { QUERY_TEXT, "TEXT" }, { QUERY_TO, "TO" },
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char want[64];
        snprintf(want, sizeof want, "A1 UID SEARCH %s \"alice@example.org\"", keys[i].name);
        CHECK_STR(WIRE(query_string(keys[i].op, "alice@example.org", 17)), want);
    }
    CHECK_STR(WIRE(query_string(QUERY_SUBJECT, "", 0)), "A1 UID SEARCH SUBJECT \"\"");
    CHECK_STR(WIRE(query_string(QUERY_SUBJECT, "say \"hi\" \\o/", 12)),
              "A1 UID SEARCH SUBJECT \"say \\\"hi\\\" \\\\o/\"");
    CHECK_STR(str_of(query_string(QUERY_SUBJECT, "say \"hi\" \\o/", 12)),
              "SUBJECT \"say \\\"hi\\\" \\\\o/\"");
    CHECK_STR(WIRE(query_header("List-Id", 7, "lua-l.lists.lua.org", 19)),
              "A1 UID SEARCH HEADER List-Id \"lua-l.lists.lua.org\"");
    CHECK_STR(str_of(query_header("X-Spam", 6, "", 0)), "HEADER X-Spam \"\"");
    CHECK_STR(WIRE(query_keyword(QUERY_KEYWORD, "$Patch")), "A1 UID SEARCH KEYWORD $Patch");
    CHECK_STR(WIRE(query_keyword(QUERY_UNKEYWORD, "$Junk")), "A1 UID SEARCH UNKEYWORD $Junk");

    /* invalid arguments */
    CHECK(query_string(QUERY_SEEN, "x", 1) == NULL);
    CHECK(query_string(QUERY_FROM, "a\0b", 3) == NULL);
    CHECK(query_string(QUERY_FROM, "caf\xc3", 4) == NULL);
    CHECK(query_header("", 0, "x", 1) == NULL);
    CHECK(query_header("Bad Name", 8, "x", 1) == NULL);
    CHECK(query_header("Bad:", 4, "x", 1) == NULL);
    CHECK(query_keyword(QUERY_KEYWORD, "\\Seen") == NULL);
    CHECK(query_keyword(QUERY_KEYWORD, "two words") == NULL);
    CHECK(query_keyword(QUERY_KEYWORD, "") == NULL);
    CHECK(query_keyword(QUERY_SEEN, "x") == NULL);
}

static void test_number_keys(void)
{
    CHECK_STR(WIRE(query_number(QUERY_LARGER, 10485760)), "A1 UID SEARCH LARGER 10485760");
    CHECK_STR(WIRE(query_number(QUERY_SMALLER, 0)), "A1 UID SEARCH SMALLER 0");
    CHECK_STR(WIRE(query_number(QUERY_MODSEQ, 9223372036854775807ull)),
              "A1 UID SEARCH MODSEQ 9223372036854775807");
    CHECK_STR(WIRE(query_number(QUERY_OLDER, 86400)), "A1 UID SEARCH OLDER 86400");
    CHECK_STR(WIRE(query_number(QUERY_YOUNGER, 3600)), "A1 UID SEARCH YOUNGER 3600");
    CHECK(query_number(QUERY_LARGER, 4294967296ull) == NULL);
    CHECK(query_number(QUERY_MODSEQ, 9223372036854775808ull) == NULL);
    CHECK(query_number(QUERY_OLDER, 0) == NULL);
    CHECK(query_number(QUERY_FROM, 1) == NULL);
}

static void test_dates(void)
{
    static const struct { enum query_op op; const char *name; } keys[] = {
        { QUERY_BEFORE, "BEFORE" }, { QUERY_ON, "ON" }, { QUERY_SINCE, "SINCE" },
        { QUERY_SENTBEFORE, "SENTBEFORE" }, { QUERY_SENTON, "SENTON" },
        { QUERY_SENTSINCE, "SENTSINCE" },
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char want[64];
        snprintf(want, sizeof want, "A1 UID SEARCH %s 1-Feb-2024", keys[i].name);
        CHECK_STR(WIRE(query_date(keys[i].op, 2024, 2, 1)), want);
    }
    CHECK_STR(str_of(query_date(QUERY_SINCE, 2023, 12, 31)), "SINCE 31-Dec-2023");
    CHECK_STR(str_of(query_date(QUERY_ON, 2024, 2, 29)), "ON 29-Feb-2024");
    CHECK_STR(str_of(query_date(QUERY_ON, 2000, 2, 29)), "ON 29-Feb-2000");
    CHECK_STR(str_of(query_date(QUERY_ON, 1999, 7, 4)), "ON 4-Jul-1999");
    /* RFC 3501 date-year is 4DIGIT: Dovecot answers BAD to "1-Jan-999" */
    CHECK_STR(str_of(query_date(QUERY_ON, 999, 1, 1)), "ON 1-Jan-0999");
    CHECK_STR(str_of(query_date(QUERY_ON, 1, 3, 9)), "ON 9-Mar-0001");
    CHECK(query_date(QUERY_ON, 2023, 2, 29) == NULL);
    CHECK(query_date(QUERY_ON, 1900, 2, 29) == NULL);
    CHECK(query_date(QUERY_ON, 2024, 4, 31) == NULL);
    CHECK(query_date(QUERY_ON, 2024, 13, 1) == NULL);
    CHECK(query_date(QUERY_ON, 2024, 0, 1) == NULL);
    CHECK(query_date(QUERY_ON, 2024, 1, 0) == NULL);
    CHECK(query_date(QUERY_ON, 0, 1, 1) == NULL);
    CHECK(query_date(QUERY_ON, 10000, 1, 1) == NULL);
    CHECK(query_date(QUERY_LARGER, 2024, 1, 1) == NULL);
}

static void test_sets(void)
{
    struct msgset s;
    msgset_init(&s);
    CHECK_INT(msgset_add(&s, 1, 100), 0);
    CHECK_INT(msgset_add(&s, 205, 205), 0);
    struct query *u = query_uidset(&s);
    msgset_add(&s, 300, 300);              /* the node keeps its own copy */
    CHECK_STR(WIRE(u), "A1 UID SEARCH UID 1:100,205");
    CHECK_STR(WIRE(query_seqset(&s)), "A1 UID SEARCH 1:100,205,300");
    msgset_clear(&s);
    CHECK_STR(WIRE(query_uidset(&s)), "A1 UID SEARCH NOT ALL");
    msgset_free(&s);
}

static struct query *key(enum query_op op)
{
    return query_key(op);
}

static void test_or_arity(void)
{
    struct query *k[5] = { key(QUERY_SEEN), key(QUERY_FLAGGED), key(QUERY_DRAFT),
                           key(QUERY_DELETED), key(QUERY_ANSWERED) };
    const char *want[6] = {
        "NOT ALL",
        "SEEN",
        "OR SEEN FLAGGED",
        "OR SEEN OR FLAGGED DRAFT",
        "OR SEEN OR FLAGGED OR DRAFT DELETED",
        "OR SEEN OR FLAGGED OR DRAFT OR DELETED ANSWERED",
    };
    for (size_t n = 0; n <= 5; n++)
        CHECK_STR(str_of(query_or(k, n)), want[n]);
    /* flattening: (a | b) | (c | d) is one OR of four */
    struct query *ab = query_or(k, 2), *cd = query_or(k + 2, 2);
    struct query *pair[2] = { ab, cd };
    CHECK_STR(str_of(query_or(pair, 2)), "OR SEEN OR FLAGGED OR DRAFT DELETED");
    query_unref(ab);
    query_unref(cd);
    for (int i = 0; i < 5; i++)
        query_unref(k[i]);
}

static void test_and_not_nesting(void)
{
    struct query *seen = key(QUERY_SEEN), *flagged = key(QUERY_FLAGGED), *all = key(QUERY_ALL);
    struct query *from = query_string(QUERY_FROM, "noreply@", 8);
    struct query *before = query_date(QUERY_BEFORE, 2024, 2, 1);

    CHECK_STR(str_of(query_and(NULL, 0)), "ALL");
    CHECK_STR(str_of(query_and(&seen, 1)), "SEEN");
    struct query *k2[2] = { seen, all };
    CHECK_STR(str_of(query_and(k2, 2)), "SEEN");    /* ALL dropped */

    /* top-level AND: a plain key list */
    struct query *nf = query_not(flagged);
    struct query *k3[3] = { seen, before, nf };
    struct query *stale = query_and(k3, 3);
    CHECK_STR(str_of(query_ref(stale)), "SEEN BEFORE 1-Feb-2024 NOT FLAGGED");

    /* AND inside OR is parenthesised */
    struct query *k4[2] = { stale, from };
    struct query *either = query_or(k4, 2);
    CHECK_STR(str_of(query_ref(either)),
              "OR (SEEN BEFORE 1-Feb-2024 NOT FLAGGED) FROM \"noreply@\"");
    /* NOT of OR, NOT of AND */
    CHECK_STR(str_of(query_not(either)),
              "NOT OR (SEEN BEFORE 1-Feb-2024 NOT FLAGGED) FROM \"noreply@\"");
    CHECK_STR(str_of(query_not(stale)), "NOT (SEEN BEFORE 1-Feb-2024 NOT FLAGGED)");
    /* NOT NOT x is x */
    struct query *nnf = query_not(nf);
    CHECK(nnf == flagged);
    query_unref(nnf);
    /* AND of ANDs flattens; an OR inside an AND needs no parentheses */
    struct query *k5[2] = { stale, either };
    CHECK_STR(str_of(query_and(k5, 2)),
              "SEEN BEFORE 1-Feb-2024 NOT FLAGGED OR (SEEN BEFORE 1-Feb-2024 NOT FLAGGED) "
              "FROM \"noreply@\"");
    /* on the wire the same */
    CHECK_STR(WIRE(query_ref(either)),
              "A1 UID SEARCH OR (SEEN BEFORE 1-Feb-2024 NOT FLAGGED) FROM \"noreply@\"");
    /* the shared subtrees are intact after all that */
    CHECK_STR(str_of(query_ref(stale)), "SEEN BEFORE 1-Feb-2024 NOT FLAGGED");

    CHECK(query_and((struct query *[]){ seen, NULL }, 2) == NULL);
    CHECK(query_not(NULL) == NULL);
    query_unref(either);
    query_unref(stale);
    query_unref(nf);
    query_unref(seen);
    query_unref(flagged);
    query_unref(all);
    query_unref(from);
    query_unref(before);
}

/* Alternating AND/OR nesting stops at QUERY_MAX_DEPTH with EINVAL instead of growing without
 * bound; what was built still prints. */
static void test_depth_limit(void)
{
    struct query *q = key(QUERY_SEEN);
    struct query *k[2];
    int built = 0;
    for (int i = 0; i < QUERY_MAX_DEPTH + 10; i++) {
        k[0] = q;
        k[1] = i % 2 ? key(QUERY_FLAGGED) : key(QUERY_DRAFT);
        struct query *n = i % 2 ? query_or(k, 2) : query_and(k, 2);
        query_unref(k[1]);
        if (!n) {
            CHECK_INT(errno, EINVAL);
            break;
        }
        query_unref(q);
        q = n;
        built++;
    }
    CHECK(built < QUERY_MAX_DEPTH);
    CHECK(built > QUERY_MAX_DEPTH - 5);
    char *s = query_to_string(q);
    CHECK(s != NULL);
    free(s);
    query_unref(q);
}

static void test_utf8_literals(void)
{
    const char *subj = "Gr\xc3\xbc\xc3\x9f\x65";   /* "Grüße" */
    struct query *q = query_string(QUERY_SUBJECT, subj, strlen(subj));
    CHECK(query_needs_utf8(q));
    /* tostring shows the wire text: CHARSET and the literal */
    CHECK_STR(str_of(query_ref(q)), "CHARSET UTF-8 SUBJECT {7+}\r\nGr\xc3\xbc\xc3\x9f\x65");
    CHECK_STR(wire_of(query_ref(q), LITERAL_PLUS, false),
              "A1 UID SEARCH CHARSET UTF-8 SUBJECT {7+}\r\nGr\xc3\xbc\xc3\x9f\x65");
    CHECK_STR(wire_of(query_ref(q), LITERAL_SYNC, false),
              "A1 UID SEARCH CHARSET UTF-8 SUBJECT {7}\r\nGr\xc3\xbc\xc3\x9f\x65");
    /* UTF8=ACCEPT: quoted, no CHARSET */
    CHECK_STR(wire_of(query_ref(q), LITERAL_SYNC, true),
              "A1 UID SEARCH SUBJECT \"Gr\xc3\xbc\xc3\x9f\x65\"");
    struct query *seen = key(QUERY_SEEN);
    CHECK(!query_needs_utf8(seen));
    struct query *k[2] = { seen, q };
    struct query *o = query_or(k, 2);
    CHECK(query_needs_utf8(o));
    struct query *n = query_not(o);
    CHECK(query_needs_utf8(n));
    query_unref(n);
    query_unref(o);
    query_unref(seen);
    query_unref(q);
    struct query *h = query_header("X-Label", 7, "\xe2\x9c\x93", 3);
    CHECK(query_needs_utf8(h));
    query_unref(h);
    /* CR/LF in a search string: a literal on the wire */
    CHECK_STR(WIRE(query_string(QUERY_BODY, "a\r\nb", 4)), "A1 UID SEARCH BODY {4+}\r\na\r\nb");
}

static void test_without_within(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    time_t now = 1706788800;   /* 2024-02-01 12:00:00 UTC */
    struct query *older = query_number(QUERY_OLDER, 86400 * 3);
    struct query *younger = query_number(QUERY_YOUNGER, 13 * 3600);   /* 2024-01-31 23:00 */
    struct query *seen = key(QUERY_SEEN);
    struct query *out;

    CHECK(query_uses_within(older));
    CHECK(!query_uses_within(seen));
    CHECK_INT(query_without_within(&out, older, now), 0);
    CHECK_STR(str_of(out), "BEFORE 29-Jan-2024");
    CHECK_INT(query_without_within(&out, younger, now), 0);
    CHECK_STR(str_of(out), "SINCE 31-Jan-2024");
    /* unchanged trees come back as the same node */
    CHECK_INT(query_without_within(&out, seen, now), 0);
    CHECK(out == seen);
    query_unref(out);

    struct query *k[2] = { seen, younger };
    struct query *a = query_and(k, 2);
    struct query *k2[2] = { a, older };
    struct query *o = query_or(k2, 2);
    struct query *n = query_not(o);
    CHECK_STR(str_of(query_ref(n)), "NOT OR (SEEN YOUNGER 46800) OLDER 259200");
    CHECK_INT(query_without_within(&out, n, now), 0);
    CHECK(!query_uses_within(out));
    CHECK_STR(str_of(out), "NOT OR (SEEN SINCE 31-Jan-2024) BEFORE 29-Jan-2024");
    /* the original is untouched */
    CHECK_STR(str_of(query_ref(n)), "NOT OR (SEEN YOUNGER 46800) OLDER 259200");
    /* a year boundary, and a leap day */
    struct query *y = query_number(QUERY_YOUNGER, 86400 * 32);
    CHECK_INT(query_without_within(&out, y, now), 0);
    CHECK_STR(str_of(out), "SINCE 31-Dec-2023");
    query_unref(y);
    y = query_number(QUERY_OLDER, 86400 * 2);
    CHECK_INT(query_without_within(&out, y, 1709208000 /* 2024-02-29 12:00 UTC */ + 86400 * 2), 0);
    CHECK_STR(str_of(out), "BEFORE 29-Feb-2024");
    query_unref(y);
    query_unref(n);
    query_unref(o);
    query_unref(a);
    query_unref(seen);
    query_unref(older);
    query_unref(younger);
}

/* query_flag_fn for the test: "has \\Seen" becomes (SEEN NOT UID 3) OR UID 7, "has $Todo" UID 9. */
static struct query *model_flag(void *ud, const char *flag)
{
    (void)ud;
    struct msgset s;
    msgset_init(&s);
    struct query *out = NULL;
    if (!strcmp(flag, "\\Seen")) {
        msgset_add(&s, 3, 3);
        struct query *minus = query_uidset(&s), *not_minus = query_not(minus);
        struct query *seen = key(QUERY_SEEN);
        struct query *k[2] = { seen, not_minus };
        struct query *kept = query_and(k, 2);
        msgset_free(&s);
        msgset_init(&s);
        msgset_add(&s, 7, 7);
        struct query *plus = query_uidset(&s);
        struct query *o[2] = { kept, plus };
        out = query_or(o, 2);
        query_unref(minus);
        query_unref(not_minus);
        query_unref(seen);
        query_unref(kept);
        query_unref(plus);
    } else if (!strcmp(flag, "$Todo")) {
        msgset_add(&s, 9, 9);
        out = query_uidset(&s);
    }
    msgset_free(&s);
    return out;
}

static void test_map_flags(void)
{
    struct query *out;
    struct query *unseen = key(QUERY_UNSEEN);
    CHECK_INT(query_map_flags(&out, unseen, model_flag, NULL), 0);
    CHECK_STR(str_of(out), "NOT OR (SEEN NOT UID 3) UID 7");
    struct query *nw = key(QUERY_NEW);
    CHECK_INT(query_map_flags(&out, nw, model_flag, NULL), 0);
    CHECK_STR(str_of(out), "RECENT NOT OR (SEEN NOT UID 3) UID 7");
    struct query *kw = query_keyword(QUERY_UNKEYWORD, "$Todo");
    struct query *from = query_string(QUERY_FROM, "x", 1);
    struct query *k[3] = { kw, from, key(QUERY_FLAGGED) };
    struct query *a = query_and(k, 3);
    CHECK_INT(query_map_flags(&out, a, model_flag, NULL), 0);
    CHECK_STR(str_of(out), "NOT UID 9 FROM \"x\" FLAGGED");
    /* nothing modelled: the same node comes back */
    CHECK_INT(query_map_flags(&out, from, model_flag, NULL), 0);
    CHECK(out == from);
    query_unref(out);
    CHECK_INT(query_map_flags(&out, NULL, model_flag, NULL), -EINVAL);
    query_unref(k[2]);
    query_unref(a);
    query_unref(kw);
    query_unref(from);
    query_unref(nw);
    query_unref(unseen);
}

/* The keys query_emit_within writes for lo..hi; drops nothing. */
static const char *within_of(const struct query *q, uint32_t lo, uint32_t hi)
{
    static char out[4096];
    struct command c;
    command_init(&c, LITERAL_PLUS);
    command_start(&c, NULL, NULL);
    int rc = query_emit_within(q, &c, lo, hi);
    snprintf(out, sizeof out, "%.*s", rc ? 3 : (int)c.len, rc ? "ERR" : c.buf);
    command_free(&c);
    return out;
}

static void test_within_and_split(void)
{
    struct msgset a, b;
    msgset_init(&a);
    msgset_init(&b);
    msgset_add(&a, 1, 10);
    msgset_add(&a, 20, 20);
    msgset_add(&b, 5, 25);
    struct query *ua = query_uidset(&a), *ub = query_uidset(&b), *seen = query_key(QUERY_SEEN);
    struct query *nb = query_not(ub);
    struct query *kids[] = { ua, seen };
    struct query *and = query_and(kids, 2);
    struct query *okids[] = { and, nb };
    struct query *q = query_or(okids, 2);
    CHECK_STR(within_of(q, 1, 4), "(UID 1:4 OR (UID 1:4 SEEN) NOT NOT ALL)");
    CHECK_STR(within_of(q, 11, 19), "(UID 11:19 OR (NOT ALL SEEN) NOT UID 11:19)");
    CHECK_STR(within_of(q, 20, 4294967295u), "(UID 20:4294967295 OR (UID 20 SEEN) NOT UID 20:25)");
    CHECK_STR(within_of(q, 0, 4), "ERR");

    /* 100,000 odd UIDs: pieces that fit, cover the UID space in order, and cut nothing out. */
    struct msgset big;
    msgset_init(&big);
    for (uint32_t u = 1; u < 200000; u += 2)
        msgset_add(&big, u, u);
    struct query *ubig = query_uidset(&big);
    uint32_t *cuts;
    size_t n;
    CHECK_INT(query_split_uids(ubig, 8000, &cuts, &n), 0);
    CHECK(n > 50 && n < 200);
    uint64_t members = 0;
    for (size_t k = 0; k <= n; k++) {
        uint32_t lo = k ? cuts[k - 1] : 1, hi = k < n ? cuts[k] - 1 : 4294967295u;
        CHECK(k == 0 || cuts[k - 1] > (k > 1 ? cuts[k - 2] : 1));
        struct command c;
        command_init(&c, LITERAL_PLUS);
        command_start(&c, NULL, NULL);
        query_emit_within(ubig, &c, lo, hi);
        CHECK(c.len <= 8000);
        /* "(UID lo:hi UID set)": the set's members */
        const char *t = memchr(c.buf + 5, ' ', c.len - 5);
        struct msgset piece;
        msgset_init(&piece);
        char err[100];
        CHECK(t && strncmp(t, " UID ", 5) == 0);
        if (t) {
            size_t len = (size_t)(c.buf + c.len - 1 - (t + 5));
            CHECK_INT(msgset_parse(&piece, t + 5, len, 0, err, sizeof err), 0);
        }
        members += msgset_count(&piece);
        msgset_free(&piece);
        command_free(&c);
    }
    CHECK_INT(members, 100000);
    free(cuts);
    /* A set that fits needs no cut. */
    CHECK_INT(query_split_uids(q, 8000, &cuts, &n), 0);
    CHECK_INT(n, 0);
    free(cuts);
    query_unref(ubig);
    query_unref(q);
    query_unref(nb);
    query_unref(and);
    query_unref(ua);
    query_unref(ub);
    query_unref(seen);
    msgset_free(&a);
    msgset_free(&b);
    msgset_free(&big);
}

int main(void)
{
    RUN(test_simple_keys);
    RUN(test_string_keys);
    RUN(test_number_keys);
    RUN(test_dates);
    RUN(test_sets);
    RUN(test_or_arity);
    RUN(test_and_not_nesting);
    RUN(test_depth_limit);
    RUN(test_utf8_literals);
    RUN(test_without_within);
    RUN(test_map_flags);
    RUN(test_within_and_split);
    return CHECK_DONE();
}
