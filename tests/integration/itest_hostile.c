/* itest_hostile.c — the session against scripted fake servers that lie: bad codes, huge numbers,
 * unknown tags, stray continuations, deep nesting, oversized literals, invalid mailbox names,
 * and random bytes. Every case must end in a clear result: no crash, no hang, no leak (ASan).
 * Needs no test bed, but runs with the others under tests/run-integration. */
#include "check.h"
#include "fake_server.h"
#include "msgset.h"
#include "query.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int warnings;
static void warn_cb(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
    warnings++;
}

static struct session *connect_fake(struct fake *f, int *rc, char *err, size_t errlen)
{
    struct session_config c = { .host = "127.0.0.1", .port = f->port, .tls = SESSION_TLS_NONE,
                                .io_timeout_ms = 3000, .warn = warn_cb };
    struct session *s = NULL;
    *rc = session_connect(&c, &s, err, errlen);
    return s;
}

#define GREET "* OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS ESEARCH LITERAL+ IDLE] fake\r\n"
#define NSCRIPT(a) (sizeof(a) / sizeof(a)[0])

static void test_lying_codes_and_sets(void)
{
    static const char *const script[] = {
        /* UID MOVE: COPYUID with '*' and reversed/overflowing sets, then OK */
        "* OK [COPYUID 7 1:* 4294967296] moved\r\n%T OK [COPYUID 7 3,1 9:8] done\r\n",
        /* UID SEARCH: ESEARCH with an overflowing set and one for another tag */
        "* ESEARCH (TAG \"nope\") UID ALL 1:3\r\n* ESEARCH (TAG \"%T\") UID ALL 5:2,9,4294967295\r\n"
        "%T OK\r\n",
        /* STATUS with nonsense counts, for another mailbox, and huge numbers */
        "* STATUS Other (MESSAGES 3)\r\n* STATUS INBOX (MESSAGES 18446744073709551615 UIDNEXT 0)\r\n"
        "%T OK\r\n",
        /* unknown tag, stray continuation, huge EXISTS, then the real reply */
        "ZZZ9 OK who\r\n+ nothing to continue\r\n* 99999999999 EXISTS\r\n%T OK noop\r\n",
        /* LIST with an invalid mUTF-7 name, a NIL delimiter and odd attributes */
        "* LIST (\\Noselect \\Foo) NIL \"&Jjo\"\r\n* LIST () \"/\" \"A&-B\"\r\n%T OK\r\n",
    };
    struct fake f;
    if (fake_start(&f, GREET, script, NSCRIPT(script))) { CHECK(0); return; }
    char err[600];
    int rc;
    struct session *s = connect_fake(&f, &rc, err, sizeof err);
    CHECK_INT(rc, 0);
    if (s) {
        struct msgset set, src, dst, found;
        msgset_init(&set); msgset_init(&src); msgset_init(&dst); msgset_init(&found);
        msgset_add(&set, 1, 3);
        struct session_copyuid cu = { .src = &src, .dst = &dst };
        CHECK_INT(session_copy(s, &set, "X", true, &cu, err, sizeof err), 0);
        CHECK_INT(msgset_count(&src), 2);    /* unusable COPYUID sets are ignored */
        CHECK(msgset_contains(&src, 1) && msgset_contains(&src, 3));
        CHECK(msgset_contains(&dst, 8) && msgset_contains(&dst, 9));

        struct query *q = query_key(QUERY_ALL);
        CHECK_INT(session_search(s, q, false, &found, err, sizeof err), 0);
        CHECK(!msgset_contains(&found, 1));  /* the other tag's result was not taken */
        query_unref(q);

        struct session_status_info st;
        CHECK_INT(session_status(s, "INBOX", &st, err, sizeof err), 0);
        CHECK(st.messages != 3);             /* Other's STATUS was not taken */

        int w = warnings;
        CHECK_INT(session_noop(s, err, sizeof err), 0);
        CHECK(warnings >= w + 2);            /* unknown tag and stray "+" were reported */

        struct session_list l = { 0 };
        CHECK_INT(session_list(s, "", "*", false, false, &l, err, sizeof err), 0);
        CHECK_INT(l.n, 2);
        if (l.n == 2) {
            CHECK_STR(l.items[0].name, "&Jjo");      /* undecodable: kept raw */
            CHECK_INT(l.items[0].delimiter, 0);
            CHECK(l.items[0].attrs & SESSION_MB_NOSELECT);
            CHECK_STR(l.items[1].name, "A&B");
        }
        session_list_free(&l);
        msgset_free(&set); msgset_free(&src); msgset_free(&dst); msgset_free(&found);
        session_free(s);
    }
    fake_stop(&f);
}

static void test_limits(void)
{
    static char deep[600];
    size_t o = (size_t)snprintf(deep, sizeof deep, "* FLAGS ");
    for (int i = 0; i < 200; i++)
        deep[o++] = '(';
    memcpy(deep + o, "\r\n", 3);
    const char *cases[] = {
        deep,
        "* 1 FETCH (UID 1 BODY[] {99999999999999}\r\n",
        "* 1 FETCH (UID 1 BODY[] {18446744073709551616}\r\n",
        "%T OK [UIDNEXT 99999999999999999999999] x\r\n",
        "* OK [CAPABILITY" "\r\n",
        "%T OK [COPYUID x y z] done\r\n",
        "* \x01\x02\x03\r\n",
    };
    for (size_t i = 0; i < NSCRIPT(cases); i++) {
        struct fake f;
        if (fake_start_reply(&f, GREET, cases[i])) { CHECK(0); return; }
        char err[600];
        int rc;
        struct session *s = connect_fake(&f, &rc, err, sizeof err);
        if (s) {
            rc = session_noop(s, err, sizeof err);
            CHECK(rc == SESSION_ERR_PROTOCOL || rc == SESSION_ERR_CLOSED || rc == 0);
            if (rc == SESSION_ERR_PROTOCOL)
                CHECK(strstr(err, "offset") != NULL);
            session_free(s);
        }
        fake_stop(&f);
    }
}

/* The server accepts a synchronising literal's command with NO instead of "+": the writer
 * drops the rest of that command and goes on with the next. */
static void test_literal_refused(void)
{
    static const char *const script[] = {
        "%T NO [TOOBIG] no thanks\r\n",
        "%T OK noop\r\n",
    };
    struct fake f;
    if (fake_start(&f, "* OK [CAPABILITY IMAP4rev1] fake\r\n", script, NSCRIPT(script))) {
        CHECK(0);
        return;
    }
    char err[600];
    int rc;
    struct session *s = connect_fake(&f, &rc, err, sizeof err);
    if (s) {
        static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
        CHECK_INT(session_append(s, "INBOX", NULL, 0, NULL, msg, sizeof msg - 1, NULL, NULL, err,
                                 sizeof err), SESSION_ERR_NO);
        CHECK_STR(err, "APPEND INBOX: NO [TOOBIG] no thanks");
        CHECK_INT(session_noop(s, err, sizeof err), 0);
        session_free(s);
    }
    fake_stop(&f);
}

/* Random bytes after a valid greeting, in reply to NOOP: always an end, never a crash. */
static void test_random_replies(void)
{
    unsigned seed = 12345;
    int ends[3] = { 0, 0, 0 };
    for (int round = 0; round < 400; round++) {
        static char junk[2048];
        size_t n = 1 + (size_t)(rand_r(&seed) % (sizeof junk - 1));
        static const char alphabet[] = "* OK NO BAD FETCH EXISTS ()[]{}\"\\\r\n0123456789+~%T A1";
        for (size_t i = 0; i < n; i++)
            junk[i] = (rand_r(&seed) % 4) ? alphabet[rand_r(&seed) % (sizeof alphabet - 1)]
                                          : (char)(1 + rand_r(&seed) % 255);
        junk[n] = '\0';
        struct fake f;
        if (fake_start_reply(&f, GREET, junk)) { CHECK(0); return; }
        char err[600];
        int rc;
        struct session *s = connect_fake(&f, &rc, err, sizeof err);
        if (s) {
            rc = session_noop(s, err, sizeof err);
            ends[rc == 0 ? 0 : rc == SESSION_ERR_PROTOCOL ? 1 : 2]++;
            CHECK(rc == 0 || rc == SESSION_ERR_PROTOCOL || rc == SESSION_ERR_CLOSED ||
                  rc == SESSION_ERR_NO || rc == SESSION_ERR_BAD || rc == SESSION_ERR_NET);
            session_free(s);
        }
        fake_stop(&f);
    }
    fprintf(stderr, "  random replies: %d OK, %d protocol errors, %d other ends\n",
            ends[0], ends[1], ends[2]);
}

/* IDLE against a server that ends IDLE by itself, and one that drops the line. */
static void test_idle_ended_by_server(void)
{
    struct fake f;
    if (fake_start_reply(&f, GREET, "+ idling\r\n%T OK [ALERT] idle over\r\n")) {
        CHECK(0);
        return;
    }
    char err[600];
    int rc;
    struct session *s = connect_fake(&f, &rc, err, sizeof err);
    if (s) {
        CHECK_INT(session_idle_start(s, err, sizeof err), 0);
        rc = session_idle_wait(s, 2000, err, sizeof err);
        CHECK(rc < 0);
        CHECK(strstr(err, "IDLE") != NULL);
        CHECK_INT(session_idle_done(s, err, sizeof err), SESSION_ERR_USAGE);   /* not idling now */
        session_free(s);
    }
    fake_stop(&f);
}

/* A server that stops answering: the wait ends after the I/O timeout, naming the command,
 * while another session on the same loop keeps its own time. */
static void test_silent_server(void)
{
    static const char *const script[] = { "", "" };   /* NOOP gets nothing, then silence */
    struct fake f;
    if (fake_start(&f, GREET, script, NSCRIPT(script))) {
        CHECK(0);
        return;
    }
    struct session_config c = { .host = "127.0.0.1", .port = f.port, .tls = SESSION_TLS_NONE,
                                .io_timeout_ms = 300, .warn = warn_cb };
    struct session *s = NULL;
    char err[600];
    CHECK_INT(session_connect(&c, &s, err, sizeof err), 0);
    if (s) {
        CHECK_INT(session_noop(s, err, sizeof err), SESSION_ERR_NET);
        CHECK(strstr(err, "NOOP: read timeout after 0.3 s") != NULL);
        CHECK_INT(session_state(s), SESSION_BROKEN);
        session_free(s);
    }
    fake_stop(&f);
}

int main(void)
{
    RUN(test_lying_codes_and_sets);
    RUN(test_silent_server);
    RUN(test_limits);
    RUN(test_literal_refused);
    RUN(test_random_replies);
    RUN(test_idle_ended_by_server);
    return CHECK_DONE();
}
