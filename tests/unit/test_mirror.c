/* test_mirror.c — a mailbox's mirror fed server responses as text: a full sync, a QRESYNC
 * resync, UIDVALIDITY changing, a count that disagrees and its repair, the client's own STOREs
 * and moves moving the modseq (and a .SILENT reply, new mail or a lost expunge freezing it), the
 * searches it answers and the ones it leaves to the server. */
#include "mirror.h"

#include "check.h"
#include "query.h"

#include <errno.h>
#include <stdlib.h>

/* Feeds every response of text (CRLF-separated lines) to m, as the session would. */
static void feed(struct mirror *m, const char *text)
{
    struct imap_parser *p = parser_new(NULL);
    struct imap_response *r;
    CHECK(parser_feed(p, text, strlen(text)) == 0);
    int rc;
    while ((rc = parser_next(p, &r)) == 1)
        mirror_observe(m, r);
    CHECK_INT(rc, 0);
    parser_free(p);
}

static char *fmt(const struct msgset *s)
{
    static char buf[256];
    char *t = msgset_format(s);
    snprintf(buf, sizeof buf, "%s", t ? t : "(oom)");
    free(t);
    return buf;
}

/* The answer to q as text, "server" when the mirror cannot tell, "flags" when it lacks them. */
static const char *answer(struct mirror *m, struct query *q)
{
    struct msgset out;
    msgset_init(&out);
    int rc = mirror_eval(m, q, &out);
    const char *s = rc == 0 ? fmt(&out) : rc == 1 ? "server" : rc == 2 ? "flags" : "error";
    msgset_free(&out);
    query_unref(q);
    return s;
}

static struct query *uidq(const char *text)
{
    struct msgset s;
    char err[100];
    msgset_init(&s);
    msgset_parse(&s, text, strlen(text), 0, err, sizeof err);
    struct query *q = query_uidset(&s);
    msgset_free(&s);
    return q;
}

static struct query *and2(struct query *a, struct query *b)
{
    struct query *k[2] = { a, b };
    struct query *q = query_and(k, 2);
    query_unref(a);
    query_unref(b);
    return q;
}

static struct mirror_info info(struct mirror *m)
{
    struct mirror_info i;
    mirror_info(m, &i);
    return i;
}

static const char *flag_of(struct mirror *m, const char *name)
{
    for (size_t i = 0; i < mirror_nflags(m); i++)
        if (strcmp(mirror_flag_name(m, i), name) == 0)
            return fmt(mirror_flag_set(m, i));
    return "(none)";
}

/* The first run: SELECT, then UID FETCH 1:* (FLAGS) ending the sync. */
static struct mirror *full_sync(void)
{
    struct mirror *m = mirror_new();
    mirror_begin_select(m, false);
    mirror_expect(m, "a2");
    feed(m, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
            "* 4 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 77] x\r\n* OK [UIDNEXT 9] x\r\n"
            "* OK [HIGHESTMODSEQ 20] x\r\na1 OK [READ-WRITE] done\r\n");
    CHECK(info(m).selected);
    CHECK(!info(m).synced);
    feed(m, "* 1 FETCH (UID 2 FLAGS (\\Seen))\r\n* 2 FETCH (UID 3 FLAGS (\\Seen \\Flagged $Todo))\r\n"
            "* 3 FETCH (UID 5 FLAGS (\\Recent))\r\n* 4 FETCH (UID 8 FLAGS (\\Answered \\Seen))\r\n"
            "a2 OK done\r\n");
    return m;
}

static void test_full_sync_answers(void)
{
    struct mirror *m = full_sync();
    struct mirror_info i = info(m);
    CHECK(i.synced && i.exact);
    CHECK_INT(i.uidvalidity, 77);
    CHECK_INT(i.modseq, 20);
    CHECK_INT(i.select_uidnext, 9);
    CHECK_STR(fmt(mirror_uids(m)), "2:3,5,8");
    CHECK_STR(flag_of(m, "\\Seen"), "2:3,8");
    CHECK_STR(flag_of(m, "\\Recent"), "(none)");
    CHECK_STR(answer(m, query_key(QUERY_ALL)), "2:3,5,8");
    CHECK_STR(answer(m, query_key(QUERY_UNSEEN)), "5");
    CHECK_STR(answer(m, query_keyword(QUERY_KEYWORD, "$Todo")), "3");
    CHECK_STR(answer(m, query_keyword(QUERY_UNKEYWORD, "$Todo")), "2,5,8");
    CHECK_STR(answer(m, query_keyword(QUERY_KEYWORD, "$Never")), "");
    CHECK_STR(answer(m, and2(query_key(QUERY_SEEN), uidq("3:100"))), "3,8");
    struct query *o[2] = { query_key(QUERY_FLAGGED), query_key(QUERY_ANSWERED) };
    CHECK_STR(answer(m, query_or(o, 2)), "3,8");
    struct query *n = query_not(o[0]);
    CHECK_STR(answer(m, n), "2,5,8");
    query_unref(o[0]);
    query_unref(o[1]);
    /* What only the server knows. */
    CHECK_STR(answer(m, query_key(QUERY_RECENT)), "server");
    CHECK_STR(answer(m, query_number(QUERY_LARGER, 100)), "server");
    CHECK_STR(answer(m, and2(query_key(QUERY_SEEN), query_string(QUERY_SUBJECT, "x", 1))), "server");
    /* "$todo" beside "$Todo": the server decides whether case matters. */
    feed(m, "* 1 FETCH (UID 2 MODSEQ (21) FLAGS (\\Seen $todo))\r\na3 OK x\r\n");
    CHECK_STR(answer(m, query_keyword(QUERY_KEYWORD, "$Todo")), "server");
    CHECK_INT(info(m).modseq, 21);
    mirror_free(m);
}

/* The client's own changes: a STORE's FETCH (UID FLAGS MODSEQ) and a MOVE's VANISHED and
 * [HIGHESTMODSEQ] keep the mirror exact and move the modseq; another client's change too. */
static void test_own_changes_move_modseq(void)
{
    struct mirror *m = full_sync();
    feed(m, "* 1 FETCH (UID 2 MODSEQ (22) FLAGS (\\Seen $Big))\r\n"
            "* 4 FETCH (UID 8 MODSEQ (22) FLAGS (\\Answered \\Seen $Big))\r\na3 OK stored\r\n");
    CHECK_INT(info(m).modseq, 22);
    CHECK_STR(answer(m, query_keyword(QUERY_KEYWORD, "$Big")), "2,8");
    feed(m, "* OK [COPYUID 5 2:3 1:2] moved\r\n* VANISHED 2:3\r\na4 OK [HIGHESTMODSEQ 25] moved\r\n");
    CHECK_INT(info(m).modseq, 25);
    CHECK_INT(info(m).exists, 2);
    CHECK(info(m).exact);
    CHECK_STR(answer(m, query_key(QUERY_ALL)), "5,8");
    struct msgset gone;
    msgset_init(&gone);
    mirror_take_removed(m, &gone);
    CHECK_STR(fmt(&gone), "2:3");
    msgset_free(&gone);
    /* New mail: not exact (its UID unknown) and the modseq stays, until its FETCH arrives. */
    feed(m, "* 3 EXISTS\r\na5 OK [HIGHESTMODSEQ 27] x\r\n");
    CHECK(!info(m).exact);
    CHECK_INT(info(m).modseq, 25);
    CHECK_STR(answer(m, query_key(QUERY_ALL)), "server");
    feed(m, "* 3 FETCH (UID 9 MODSEQ (26) FLAGS ())\r\na6 OK x\r\n");
    CHECK(info(m).exact);
    CHECK_INT(info(m).modseq, 26);
    CHECK_STR(answer(m, query_key(QUERY_UNSEEN)), "5,9");
    /* An expunge by sequence number (no QRESYNC) while exact: the 2nd UID. */
    feed(m, "* 2 EXPUNGE\r\na7 OK x\r\n");
    CHECK_STR(answer(m, query_key(QUERY_ALL)), "5,9");
    /* A .SILENT STORE's reply says a message changed, not how: frozen until the next SELECT. */
    feed(m, "* 1 FETCH (UID 5 MODSEQ (30))\r\na8 OK [HIGHESTMODSEQ 30] x\r\n");
    CHECK(info(m).broken);
    CHECK_INT(info(m).modseq, 26);
    CHECK_STR(answer(m, query_key(QUERY_ALL)), "server");
    mirror_free(m);
}

static void test_qresync_resync(void)
{
    struct mirror *m = mirror_new();
    char err[100];
    mirror_load(m, 77, 20, true);
    CHECK_INT(mirror_load_uids(m, "2:3,5,8", 7, err, sizeof err), 0);
    CHECK_INT(mirror_load_flag(m, "\\Seen", "2:3,8", 5, err, sizeof err), 0);
    CHECK_INT(mirror_load_flag(m, "$X", "9", 1, err, sizeof err), -EINVAL);   /* not held */
    mirror_begin_select(m, true);
    feed(m, "* 4 EXISTS\r\n* OK [UIDVALIDITY 77] x\r\n* OK [HIGHESTMODSEQ 31] x\r\n"
            "* VANISHED (EARLIER) 3,4\r\n* 3 FETCH (UID 8 FLAGS () MODSEQ (25))\r\n"
            "* 4 FETCH (UID 10 FLAGS (\\Seen) MODSEQ (30))\r\n* 2 FETCH (UID 5 FLAGS (\\Seen))\r\n"
            "a1 OK [READ-WRITE] x\r\n");
    /* 2, 5, 8, 10 and only \Seen changed where the server said. */
    CHECK(info(m).exact);
    CHECK_INT(info(m).modseq, 31);
    CHECK_STR(answer(m, query_key(QUERY_SEEN)), "2,5,10");
    /* The selection ends: nothing more is known to be true. */
    mirror_end_select(m);
    CHECK_STR(answer(m, query_key(QUERY_ALL)), "server");
    /* UIDVALIDITY changed: everything goes; the reply's own FETCHes are the new mailbox's. */
    mirror_begin_select(m, true);
    feed(m, "* 1 EXISTS\r\n* OK [UIDVALIDITY 78] x\r\n* OK [HIGHESTMODSEQ 3] x\r\na2 OK x\r\n");
    CHECK(info(m).reset);
    CHECK(!info(m).synced);
    CHECK_INT(info(m).count, 0);
    CHECK_INT(info(m).modseq, 0);
    mirror_expect(m, "a3");
    feed(m, "* 1 FETCH (UID 1 FLAGS (\\Draft))\r\na3 OK x\r\n");
    CHECK(info(m).exact);
    CHECK_INT(info(m).uidvalidity, 78);
    CHECK_INT(info(m).modseq, 3);
    CHECK_STR(answer(m, query_key(QUERY_DRAFT)), "1");
    mirror_free(m);
}

/* CONDSTORE without QRESYNC: expunges are not reported, so the count disagrees; UID SEARCH ALL
 * repairs it. A sync command that fails leaves it unsynced. */
static void test_count_repair(void)
{
    struct mirror *m = mirror_new();
    char err[100];
    mirror_load(m, 77, 20, true);
    mirror_load_uids(m, "1:5", 3, err, sizeof err);
    mirror_begin_select(m, false);
    mirror_expect(m, "a2");
    feed(m, "* 4 EXISTS\r\n* OK [UIDVALIDITY 77] x\r\n* OK [HIGHESTMODSEQ 40] x\r\na1 OK x\r\n"
            "* 4 FETCH (UID 6 FLAGS (\\Seen) MODSEQ (33))\r\na2 OK x\r\n");
    CHECK(!info(m).synced);
    struct msgset all;
    msgset_init(&all);
    msgset_parse(&all, "1,3,6,7", 7, 0, err, sizeof err);
    CHECK_INT(mirror_restrict(m, &all), 1);          /* 7 is new: its flags are fetched */
    CHECK(!mirror_sync_done(m));
    feed(m, "* 4 FETCH (UID 7 FLAGS ())\r\na3 OK x\r\n");
    CHECK(mirror_sync_done(m));
    CHECK_INT(info(m).modseq, 40);
    CHECK_STR(answer(m, query_key(QUERY_UNSEEN)), "1,3,7");
    msgset_free(&all);
    /* Without CONDSTORE only UIDs are kept: flag searches go to the server. */
    mirror_forget_flags(m);
    CHECK_STR(answer(m, query_key(QUERY_UNSEEN)), "flags");
    CHECK_STR(answer(m, and2(query_key(QUERY_UNSEEN), query_number(QUERY_LARGER, 5))), "server");
    CHECK_STR(answer(m, uidq("2:6")), "3,6");
    mirror_begin_select(m, false);
    mirror_expect(m, "a5");
    feed(m, "* 2 EXISTS\r\na4 OK x\r\na5 NO no\r\n");
    CHECK(!info(m).synced);
    msgset_parse(&all, "3,9", 3, 0, err, sizeof err);
    CHECK_INT(mirror_restrict(m, &all), 0);          /* UIDs only: 9 is simply added */
    CHECK(mirror_sync_done(m));
    CHECK_STR(answer(m, query_key(QUERY_ALL)), "3,9");
    msgset_free(&all);
    mirror_free(m);
}

int main(void)
{
    RUN(test_full_sync_answers);
    RUN(test_own_changes_move_modseq);
    RUN(test_qresync_resync);
    RUN(test_count_repair);
    return CHECK_DONE();
}
