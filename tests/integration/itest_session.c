/* itest_session.c — session.c against the Dovecot test bed: login paths, STARTTLS, every typed
 * command with the server's state read back through a second session, pipelining measured in
 * round trips, and fake servers that drop the line, say BYE mid-command or send garbage. */
#include "check.h"
#include "fake_server.h"
#include "msgset.h"
#include "query.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *host, *ca, *user, *password, *user3, *password3, *testbed, *beddir;
static unsigned port, tls_port;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "itest_session: %s not set (run via tests/run-integration)\n", name);
        exit(2);
    }
    return v;
}

static void seed(const char *u, const char *mailbox, int count, int seedno)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' seed '%s' --user %s --mailbox '%s' --count %d --seed %d >/dev/null",
             testbed, beddir, u, mailbox, count, seedno);
    if (system(cmd) != 0)
        fprintf(stderr, "seeding %s/%s failed\n", u, mailbox);
}

/* ---- trace capture ----------------------------------------------------------------- */

static char tracebuf[1 << 20];
static size_t tracelen;

static void trace_cb(void *ud, char dir, const char *line, size_t len)
{
    (void)ud;
    if (tracelen + len + 4 < sizeof tracebuf) {
        tracebuf[tracelen++] = dir;
        tracebuf[tracelen++] = ':';
        memcpy(tracebuf + tracelen, line, len);
        tracelen += len;
        tracebuf[tracelen++] = '\n';
    }
}

static bool trace_has(const char *s)
{
    return memmem(tracebuf, tracelen, s, strlen(s)) != NULL;
}

/* ---- sessions ---------------------------------------------------------------------- */

static struct session_config cfg_tls(void)
{
    struct session_config c = {
        .host = host, .port = tls_port, .tls = SESSION_TLS_IMPLICIT, .ca_file = ca,
        .user = user, .password = password, .io_timeout_ms = 20000,
    };
    return c;
}

static struct session *open_cfg(const struct session_config *c)
{
    struct session *s;
    char err[600];
    int rc = session_open(c, &s, err, sizeof err);
    if (rc) {
        fprintf(stderr, "  session_open: %d %s\n", rc, err);
        return NULL;
    }
    return s;
}

static struct session *open_alice(void)
{
    struct session_config c = cfg_tls();
    return open_cfg(&c);
}

/* Every UID of a mailbox (EXAMINE + UID SEARCH ALL). */
static int all_uids(struct session *s, const char *mailbox, struct msgset *out)
{
    char err[600];
    int rc = session_select(s, mailbox, true, err, sizeof err);
    if (rc) {
        fprintf(stderr, "  examine %s: %s\n", mailbox, err);
        return rc;
    }
    struct query *q = query_key(QUERY_ALL);
    rc = session_search(s, q, false, out, err, sizeof err);
    query_unref(q);
    if (rc)
        fprintf(stderr, "  search %s: %s\n", mailbox, err);
    return rc;
}

/* Message-IDs of a mailbox, fetched with BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]. */
struct idlist {
    char **v;
    uint32_t *uid;
    size_t n;
    char *flags[64];    /* flags text per first 64 messages, "FLAGS (...)" */
};

static void idlist_free(struct idlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    free(l->uid);
    memset(l, 0, sizeof *l);
}

static int collect_id(void *ud, const struct imap_fetch *f)
{
    struct idlist *l = ud;
    const struct imap_fetch_item *it = fetch_item(f, "BODY", "HEADER.FIELDS (MESSAGE-ID)");
    const char *v = it ? imap_value_str(it->value) : NULL;
    const char *lt = v ? strchr(v, '<') : NULL, *gt = lt ? strchr(lt, '>') : NULL;
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->uid = realloc(l->uid, (l->n + 1) * sizeof *l->uid);
    l->v[l->n] = lt && gt ? strndup(lt, (size_t)(gt - lt + 1)) : strdup("");
    l->uid[l->n] = (uint32_t)f->uid;
    l->n++;
    return 0;
}

static int ids_of(struct session *s, const char *mailbox, struct idlist *out)
{
    struct msgset uids;
    msgset_init(&uids);
    memset(out, 0, sizeof *out);
    int rc = all_uids(s, mailbox, &uids);
    if (rc == 0 && uids.n) {
        char err[600];
        rc = session_fetch(s, &uids, "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", collect_id, out,
                           err, sizeof err);
        if (rc)
            fprintf(stderr, "  fetch ids: %s\n", err);
    }
    msgset_free(&uids);
    return rc;
}

static bool idlist_has(const struct idlist *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], id) == 0)
            return true;
    return false;
}

/* ---- login ------------------------------------------------------------------------- */

static void test_login_methods(void)
{
    struct session_config c = cfg_tls();
    for (int m = 0; m < 3; m++) {
        c.auth[0] = m == 0 ? SESSION_AUTH_AUTO : m == 1 ? SESSION_AUTH_LOGIN : SESSION_AUTH_PLAIN;
        struct session *s = open_cfg(&c);
        CHECK(s != NULL);
        if (!s)
            continue;
        CHECK_INT(session_state(s), SESSION_AUTH);
        CHECK(session_has_cap(s, "MOVE"));          /* post-login capabilities */
        CHECK(session_has_cap(s, "uidplus"));
        char err[600];
        CHECK_INT(session_noop(s, err, sizeof err), 0);
        CHECK_INT(session_logout(s, err, sizeof err), 0);
        CHECK_INT(session_state(s), SESSION_LOGOUT);
        session_free(s);
    }
}

static void test_login_wrong_password(void)
{
    const char *bad = "Wr0ng-Pa55word-xyz";
    for (int m = 0; m < 2; m++) {
        struct session_config c = cfg_tls();
        c.password = bad;
        c.auth[0] = m ? SESSION_AUTH_PLAIN : SESSION_AUTH_LOGIN;
        c.trace = trace_cb;
        tracelen = 0;
        struct session *s;
        char err[600];
        CHECK_INT(session_open(&c, &s, err, sizeof err), SESSION_ERR_AUTH);
        CHECK(s == NULL);
        char want[200];
        snprintf(want, sizeof want, "%s@%s: authentication failed: [AUTHENTICATIONFAILED] ", user, host);
        CHECK(strncmp(err, want, strlen(want)) == 0);
        CHECK(strstr(err, bad) == NULL);
        CHECK(!trace_has(bad));
        CHECK(trace_has("***"));
    }
}

static void test_carol_8bit_password(void)
{
    /* LOGIN over a synchronising literal, over LITERAL+, AUTHENTICATE PLAIN with SASL-IR and
     * through a continuation. */
    for (int m = 0; m < 4; m++) {
        struct session_config c = cfg_tls();
        c.user = user3;
        c.password = password3;
        c.auth[0] = m < 2 ? SESSION_AUTH_LOGIN : SESSION_AUTH_PLAIN;
        c.no_literal_plus = m == 0;
        c.no_sasl_ir = m == 3;
        c.trace = trace_cb;
        tracelen = 0;
        struct session *s = open_cfg(&c);
        CHECK(s != NULL);
        if (s)
            CHECK_INT(session_state(s), SESSION_AUTH);
        CHECK(!trace_has(password3));
        CHECK(!trace_has("w\xc3\xb6rd"));
        if (m == 0)
            CHECK(trace_has("LOGIN carol ***"));
        session_free(s);
    }
}

static void test_starttls(void)
{
    struct session_config c = cfg_tls();
    c.port = port;
    c.tls = SESSION_TLS_STARTTLS;
    c.trace = trace_cb;
    tracelen = 0;
    struct session *s = open_cfg(&c);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(trace_has("STARTTLS"));
    CHECK(!session_has_cap(s, "STARTTLS"));    /* the list was refreshed inside TLS */
    CHECK(session_has_cap(s, "IMAP4REV1"));
    CHECK_INT(session_state(s), SESSION_AUTH);
    session_free(s);

    /* Plain text when explicitly asked (the bed allows LOGIN on 127.0.0.1). */
    c.tls = SESSION_TLS_NONE;
    c.auth[0] = SESSION_AUTH_LOGIN;
    s = open_cfg(&c);
    CHECK(s != NULL);
    session_free(s);
}

/* ---- SELECT / LIST / STATUS / mailbox management --------------------------------------- */

static void test_select_examine(void)
{
    struct session *s = open_alice();
    if (!s) { CHECK(0); return; }
    char err[600];
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    const struct session_view *v = session_view(s);
    CHECK_STR(v->name, "INBOX");
    CHECK_INT(v->exists, 40);
    CHECK(v->uidvalidity > 0);
    CHECK(v->uidnext > 40);
    CHECK(!v->read_only);
    CHECK(v->nflags >= 5);
    CHECK(v->npermanentflags >= 5);
    CHECK_INT(session_state(s), SESSION_SELECTED);

    CHECK_INT(session_select(s, "INBOX", true, err, sizeof err), 0);
    CHECK(v->read_only);

    CHECK_INT(session_select(s, "No/Such/Box", false, err, sizeof err), SESSION_ERR_NO);
    CHECK(strncmp(err, "SELECT No/Such/Box: NO ", 23) == 0);
    CHECK(session_view(s)->name == NULL);
    CHECK_INT(session_state(s), SESSION_AUTH);

    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    CHECK_INT(session_unselect(s, err, sizeof err), 0);
    CHECK(session_view(s)->name == NULL);
    CHECK_INT(session_select(s, "INBOX", true, err, sizeof err), 0);   /* EXAMINE: CLOSE expunges nothing */
    CHECK_INT(session_close(s, err, sizeof err), 0);
    CHECK_INT(session_state(s), SESSION_AUTH);
    session_free(s);
}

static const struct session_mailbox *find_mb(const struct session_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

static void test_list_and_mailbox_ops(void)
{
    struct session *s = open_alice();
    if (!s) { CHECK(0); return; }
    char err[600];
    const char *utf = "Entw\xc3\xbc" "rfe & Co";       /* "Entwürfe & Co" */
    const char *renamed = "\xc3\x84rger/\xe6\x97\xa5\xe6\x9c\xac";   /* "Ärger/日本" */
    CHECK_INT(session_mailbox_op(s, SESSION_CREATE, utf, err, sizeof err), 0);
    session_mailbox_op(s, SESSION_CREATE, "Archive", err, sizeof err);   /* special_use, not auto */
    CHECK_INT(session_mailbox_op(s, SESSION_SUBSCRIBE, utf, err, sizeof err), 0);

    struct session_list l = { 0 };
    CHECK_INT(session_list(s, "", "*", false, true, &l, err, sizeof err), 0);
    CHECK(find_mb(&l, "INBOX") != NULL);
    const struct session_mailbox *a = find_mb(&l, "Archive");
    CHECK(a && (a->attrs & SESSION_MB_ARCHIVE));
    const struct session_mailbox *t = find_mb(&l, "Trash");
    CHECK(t && (t->attrs & SESSION_MB_TRASH));
    const struct session_mailbox *u = find_mb(&l, utf);
    CHECK(u != NULL);
    if (u)
        CHECK(u->delimiter != '\0');
    session_list_free(&l);

    CHECK_INT(session_list(s, "", "*", true, false, &l, err, sizeof err), 0);
    CHECK(find_mb(&l, utf) != NULL);
    session_list_free(&l);
    CHECK_INT(session_mailbox_op(s, SESSION_UNSUBSCRIBE, utf, err, sizeof err), 0);
    CHECK_INT(session_list(s, "", "*", true, false, &l, err, sizeof err), 0);
    CHECK(find_mb(&l, utf) == NULL);
    session_list_free(&l);

    CHECK_INT(session_rename(s, utf, renamed, err, sizeof err), 0);
    CHECK_INT(session_list(s, "", "*", false, false, &l, err, sizeof err), 0);
    CHECK(find_mb(&l, utf) == NULL);
    CHECK(find_mb(&l, renamed) != NULL);
    session_list_free(&l);
    struct session_status_info st;
    CHECK_INT(session_status(s, renamed, &st, err, sizeof err), 0);
    CHECK_INT(st.messages, 0);
    CHECK_INT(session_mailbox_op(s, SESSION_DELETE, renamed, err, sizeof err), 0);
    CHECK_INT(session_mailbox_op(s, SESSION_DELETE, renamed, err, sizeof err), SESSION_ERR_NO);
    CHECK(strstr(err, "DELETE ") == err);

    CHECK_INT(session_status(s, "INBOX", &st, err, sizeof err), 0);
    CHECK_INT(st.messages, 40);
    CHECK(st.uidnext > 40 && st.uidvalidity > 0 && st.unseen >= 0 && st.highestmodseq > 0);
    session_free(s);
}

/* ---- SEARCH / FETCH / STORE ------------------------------------------------------------ */

static int count_cb(void *ud, const struct imap_fetch *f)
{
    (*(int *)ud)++;
    return f->uid == 0;   /* every reply to UID FETCH carries the UID */
}

static void test_search_fetch(void)
{
    struct session *s = open_alice();
    if (!s) { CHECK(0); return; }
    char err[600];
    CHECK_INT(session_select(s, "INBOX", true, err, sizeof err), 0);
    struct msgset set;
    msgset_init(&set);
    struct query *all = query_key(QUERY_ALL);
    CHECK_INT(session_search(s, all, false, &set, err, sizeof err), 0);
    CHECK_INT(msgset_count(&set), 40);

    /* 8-bit text: CHARSET UTF-8 goes with it; the server accepts the search. */
    struct msgset none;
    msgset_init(&none);
    struct query *q8 = query_string(QUERY_SUBJECT, "\xc3\xa4\xc3\xb6\xc3\xbc-nothing-matches", 22);
    tracelen = 0;
    CHECK_INT(session_search(s, q8, false, &none, err, sizeof err), 0);
    CHECK_INT(msgset_count(&none), 0);

    /* SEARCHRES: RETURN (SAVE ALL), then FETCH "$". */
    msgset_clear(&none);
    CHECK_INT(session_search(s, all, true, &none, err, sizeof err), 0);
    int n = 0;
    CHECK_INT(session_fetch(s, NULL, "(UID FLAGS)", count_cb, &n, err, sizeof err), 0);
    CHECK_INT(n, 40);

    n = 0;
    CHECK_INT(session_fetch(s, &set, "(UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)",
                            count_cb, &n, err, sizeof err), 0);
    CHECK_INT(n, 40);

    struct idlist ids;
    CHECK_INT(ids_of(s, "INBOX", &ids), 0);
    CHECK_INT(ids.n, 40);
    CHECK(ids.n && ids.v[0][0] == '<');
    idlist_free(&ids);

    /* Only UID asked for: every FETCH with a UID is ours. */
    n = 0;
    struct msgset one;
    msgset_init(&one);
    msgset_add(&one, 1, 0xffffffffu);
    CHECK_INT(session_fetch(s, &one, "UID", count_cb, &n, err, sizeof err), 0);
    CHECK_INT(n, 40);
    msgset_free(&one);

    query_unref(all);
    query_unref(q8);
    msgset_free(&set);
    msgset_free(&none);
    session_free(s);
}

static int stop_cb(void *ud, const struct imap_fetch *f)
{
    (void)f;
    return ++*(int *)ud >= 3;
}

static void test_fetch_callback_stop(void)
{
    struct session *s = open_alice();
    if (!s) { CHECK(0); return; }
    char err[600];
    struct msgset set;
    msgset_init(&set);
    CHECK_INT(all_uids(s, "INBOX", &set), 0);
    int n = 0;
    CHECK_INT(session_fetch(s, &set, "(FLAGS)", stop_cb, &n, err, sizeof err), SESSION_ERR_CALLBACK);
    CHECK_INT(n, 3);
    CHECK_INT(session_noop(s, err, sizeof err), 0);   /* still in sync */
    msgset_free(&set);
    session_free(s);
}

struct reenter { struct session *s; int calls, sync_rc; struct session_cmd *queued;
                 struct session_status_info st; };

static int reenter_cb(void *ud, const struct imap_fetch *f)
{
    (void)f;
    struct reenter *re = ud;
    if (re->calls++ == 0) {
        char err[600];
        re->sync_rc = session_status(re->s, "INBOX", &re->st, err, sizeof err);
        re->queued = session_status_start(re->s, "INBOX", &re->st);
    }
    return 0;
}

static void test_callback_reentry(void)
{
    struct session *s = open_alice();
    if (!s) { CHECK(0); return; }
    struct msgset set;
    msgset_init(&set);
    CHECK_INT(all_uids(s, "INBOX", &set), 0);
    struct reenter re = { .s = s };
    char err[600];
    CHECK_INT(session_fetch(s, &set, "(FLAGS)", reenter_cb, &re, err, sizeof err), 0);
    CHECK_INT(re.calls, (int)msgset_count(&set));
    CHECK_INT(re.sync_rc, SESSION_ERR_USAGE);        /* no waiting inside a callback */
    CHECK(re.queued != NULL);
    if (re.queued) {                                  /* but queueing works */
        CHECK_INT(session_wait(s, re.queued), 0);
        CHECK_INT(re.st.messages, (int64_t)msgset_count(&set));
        session_cmd_free(re.queued);
    }
    msgset_free(&set);
    session_free(s);
}

struct flagcheck { uint32_t uid; bool flagged, seen, label; int found; };

static int flag_cb(void *ud, const struct imap_fetch *f)
{
    struct flagcheck *fc = ud;
    for (; fc->uid; fc++) {
        if (fc->uid != f->uid || !f->flags)
            continue;
        fc->found++;
        fc->flagged = fc->seen = fc->label = false;
        for (size_t i = 0; i < f->flags->len; i++) {
            const struct imap_value *v = &f->flags->u.items[i];
            if (imap_value_is(v, "\\Flagged")) fc->flagged = true;
            if (imap_value_is(v, "\\Seen")) fc->seen = true;
            if (imap_value_is(v, "$Label1")) fc->label = true;
        }
    }
    return 0;
}

static void test_store_read_back(void)
{
    struct session *s = open_alice(), *r = open_alice();
    if (!s || !r) { CHECK(0); session_free(s); session_free(r); return; }
    char err[600];
    struct msgset set, pick;
    msgset_init(&set);
    msgset_init(&pick);
    CHECK_INT(all_uids(s, "INBOX", &set), 0);
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    uint32_t u1 = msgset_min(&set), u2 = u1 + 1;
    msgset_add(&pick, u1, u2);
    const char *add[] = { "\\Flagged", "$Label1" };
    CHECK_INT(session_store(s, &pick, SESSION_STORE_ADD, add, 2, err, sizeof err), 0);
    const char *rem[] = { "$Label1" };
    struct msgset only2;
    msgset_init(&only2);
    msgset_add(&only2, u2, u2);
    CHECK_INT(session_store(s, &only2, SESSION_STORE_REMOVE, rem, 1, err, sizeof err), 0);

    struct flagcheck fc[3] = { { .uid = u1 }, { .uid = u2 }, { 0 } };
    CHECK_INT(session_select(r, "INBOX", true, err, sizeof err), 0);
    CHECK_INT(session_fetch(r, &pick, "(UID FLAGS)", flag_cb, fc, err, sizeof err), 0);
    CHECK(fc[0].found && fc[0].flagged && fc[0].label);
    CHECK(fc[1].found && fc[1].flagged && !fc[1].label);

    const char *rep[] = { "\\Seen" };
    CHECK_INT(session_store(s, &pick, SESSION_STORE_REPLACE, rep, 1, err, sizeof err), 0);
    fc[0].found = fc[1].found = 0;
    CHECK_INT(session_fetch(r, &pick, "(UID FLAGS)", flag_cb, fc, err, sizeof err), 0);
    CHECK(fc[0].found && fc[0].seen && !fc[0].flagged && !fc[0].label);

    const char *bad[] = { "bad flag" };
    CHECK_INT(session_store(s, &pick, SESSION_STORE_ADD, bad, 1, err, sizeof err), SESSION_ERR_USAGE);
    struct msgset empty;
    msgset_init(&empty);
    CHECK_INT(session_store(s, &empty, SESSION_STORE_ADD, add, 1, err, sizeof err), SESSION_ERR_USAGE);
    msgset_free(&set);
    msgset_free(&pick);
    msgset_free(&only2);
    session_free(s);
    session_free(r);
}

/* ---- COPY / MOVE / EXPUNGE / APPEND ---------------------------------------------------- */

static void test_copy_move(void)
{
    struct session *s = open_alice(), *r = open_alice();
    if (!s || !r) { CHECK(0); session_free(s); session_free(r); return; }
    char err[600];
    session_mailbox_op(s, SESSION_DELETE, "Dest", err, sizeof err);   /* left by an aborted run */
    CHECK_INT(session_mailbox_op(s, SESSION_CREATE, "Dest", err, sizeof err), 0);
    struct idlist before;
    CHECK_INT(ids_of(s, "INBOX", &before), 0);
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    CHECK(before.n >= 10);
    if (before.n < 10) { session_free(s); session_free(r); return; }

    /* COPY the first 3 */
    struct msgset cset, src, dst;
    msgset_init(&cset); msgset_init(&src); msgset_init(&dst);
    for (int i = 0; i < 3; i++)
        msgset_add(&cset, before.uid[i], before.uid[i]);
    struct session_copyuid cu = { .src = &src, .dst = &dst };
    CHECK_INT(session_copy(s, &cset, "Dest", false, &cu, err, sizeof err), 0);
    CHECK(msgset_equal(&src, &cset));
    CHECK_INT(msgset_count(&dst), 3);
    CHECK(cu.uidvalidity > 0);

    /* MOVE the next 3 */
    struct msgset mset;
    msgset_init(&mset);
    for (int i = 3; i < 6; i++)
        msgset_add(&mset, before.uid[i], before.uid[i]);
    msgset_clear(&src); msgset_clear(&dst);
    uint32_t exists = session_view(s)->exists;
    CHECK_INT(session_copy(s, &mset, "Dest", true, &cu, err, sizeof err), 0);
    CHECK(msgset_equal(&src, &mset));
    CHECK_INT(msgset_count(&dst), 3);
    CHECK_INT(session_view(s)->exists, exists - 3);    /* the expunges reached the view */

    struct idlist isrc, idst;
    CHECK_INT(ids_of(r, "INBOX", &isrc), 0);
    CHECK_INT(ids_of(r, "Dest", &idst), 0);
    CHECK_INT(idst.n, 6);
    for (int i = 0; i < 3; i++) {
        CHECK(idlist_has(&isrc, before.v[i]));      /* copied: still there */
        CHECK(idlist_has(&idst, before.v[i]));
    }
    for (int i = 3; i < 6; i++) {
        CHECK(!idlist_has(&isrc, before.v[i]));     /* moved: gone from the source */
        CHECK(idlist_has(&idst, before.v[i]));
    }

    /* TRYCREATE is reported distinctly. */
    struct session_copyuid cu2 = { 0 };
    CHECK_INT(session_copy(s, &cset, "Does/Not/Exist", false, &cu2, err, sizeof err), SESSION_ERR_NO);
    CHECK(cu2.trycreate);
    CHECK(strstr(err, "[TRYCREATE]") != NULL);
    CHECK_INT(session_mailbox_op(s, SESSION_DELETE, "Dest", err, sizeof err), 0);

    idlist_free(&before); idlist_free(&isrc); idlist_free(&idst);
    msgset_free(&cset); msgset_free(&mset); msgset_free(&src); msgset_free(&dst);
    session_free(s);
    session_free(r);
}

static void test_uid_expunge_exact(void)
{
    struct session *s = open_alice(), *r = open_alice();
    if (!s || !r) { CHECK(0); session_free(s); session_free(r); return; }
    char err[600];
    struct idlist before;
    CHECK_INT(ids_of(s, "INBOX", &before), 0);
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    size_t n = before.n;
    CHECK(n >= 3);
    if (n < 3) { session_free(s); session_free(r); return; }
    struct msgset del, gone;
    msgset_init(&del); msgset_init(&gone);
    for (size_t i = n - 3; i < n; i++)
        msgset_add(&del, before.uid[i], before.uid[i]);
    for (size_t i = n - 2; i < n; i++)
        msgset_add(&gone, before.uid[i], before.uid[i]);
    const char *d[] = { "\\Deleted" };
    CHECK_INT(session_store(s, &del, SESSION_STORE_ADD, d, 1, err, sizeof err), 0);
    CHECK_INT(session_expunge(s, &gone, err, sizeof err), 0);
    struct idlist after;
    CHECK_INT(ids_of(r, "INBOX", &after), 0);
    CHECK_INT(after.n, n - 2);
    CHECK(idlist_has(&after, before.v[n - 3]));   /* \Deleted but not in the set: kept */
    CHECK(!idlist_has(&after, before.v[n - 2]));
    CHECK(!idlist_has(&after, before.v[n - 1]));
    struct msgset keep;
    msgset_init(&keep);
    msgset_add(&keep, before.uid[n - 3], before.uid[n - 3]);
    CHECK_INT(session_store(s, &keep, SESSION_STORE_REMOVE, d, 1, err, sizeof err), 0);
    idlist_free(&before); idlist_free(&after);
    msgset_free(&del); msgset_free(&gone); msgset_free(&keep);
    session_free(s);
    session_free(r);
}

struct appended { uint32_t uid; int found; char date[64]; bool seen, custom; char mid[80]; };

static int appended_cb(void *ud, const struct imap_fetch *f)
{
    struct appended *a = ud;
    if (f->uid != a->uid)
        return 0;
    a->found++;
    snprintf(a->date, sizeof a->date, "%s", f->internaldate ? f->internaldate : "");
    for (size_t i = 0; f->flags && i < f->flags->len; i++) {
        if (imap_value_is(&f->flags->u.items[i], "\\Seen")) a->seen = true;
        if (imap_value_is(&f->flags->u.items[i], "$Custom")) a->custom = true;
    }
    const struct imap_fetch_item *it = fetch_item(f, "BODY", "HEADER.FIELDS (MESSAGE-ID)");
    if (it)
        snprintf(a->mid, sizeof a->mid, "%s", imap_value_str(it->value));
    return 0;
}

static void test_append(void)
{
    struct session *s = open_alice(), *r = open_alice();
    if (!s || !r) { CHECK(0); session_free(s); session_free(r); return; }
    char err[600];
    static const char msg[] =
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: appended\r\n"
        "Message-ID: <appended-1@itest>\r\n\r\nbody line\r\n";
    const char *flags[] = { "\\Seen", "$Custom" };
    uint32_t uidv = 0, uid = 0;
    for (int lp = 0; lp < 2; lp++) {
        struct session_config c = cfg_tls();
        c.no_literal_plus = lp == 0;        /* the message as a synchronising literal, then {n+} */
        struct session *a = open_cfg(&c);
        if (!a) { CHECK(0); continue; }
        CHECK_INT(session_append(a, "INBOX", flags, 2, "01-Feb-2023 10:11:12 +0000", msg,
                                 sizeof msg - 1, &uidv, &uid, err, sizeof err), 0);
        session_free(a);
    }
    CHECK(uidv > 0 && uid > 0);
    CHECK_INT(session_select(r, "INBOX", true, err, sizeof err), 0);
    struct msgset one;
    msgset_init(&one);
    msgset_add(&one, uid, uid);
    struct appended ap = { .uid = uid };
    CHECK_INT(session_fetch(r, &one, "(UID FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
                            appended_cb, &ap, err, sizeof err), 0);
    CHECK_INT(ap.found, 1);
    CHECK_STR(ap.date, "01-Feb-2023 10:11:12 +0000");
    CHECK(ap.seen && ap.custom);
    CHECK(strstr(ap.mid, "<appended-1@itest>") != NULL);

    CHECK_INT(session_append(s, "No/Such", NULL, 0, NULL, msg, sizeof msg - 1, NULL, NULL,
                             err, sizeof err), SESSION_ERR_NO);
    CHECK(strstr(err, "TRYCREATE") != NULL);
    /* remove them again so the other tests' counts hold */
    struct msgset both;
    msgset_init(&both);
    msgset_add(&both, uid - 1, uid);
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    const char *d[] = { "\\Deleted" };
    CHECK_INT(session_store(s, &both, SESSION_STORE_ADD, d, 1, err, sizeof err), 0);
    CHECK_INT(session_expunge(s, &both, err, sizeof err), 0);
    msgset_free(&one);
    msgset_free(&both);
    session_free(s);
    session_free(r);
}

/* ---- pipelining ------------------------------------------------------------------------ */

static void test_pipelined_status_one_round_trip(void)
{
    struct session *s = open_alice();
    if (!s) { CHECK(0); return; }
    enum { K = 20 };
    char names[K][32];
    struct session_cmd *c[K];
    struct session_counters c0, c1;

    /* Setup, itself pipelined: 20 CREATEs in one batch, then copies of k % 4 messages. */
    for (int k = 0; k < K; k++) {
        snprintf(names[k], sizeof names[k], "Pipe%02d", k);
        c[k] = session_mailbox_op_start(s, SESSION_CREATE, names[k]);
    }
    session_counters(s, &c0);
    CHECK_INT(session_wait_all(s), 0);
    session_counters(s, &c1);
    CHECK_INT(c1.round_trips - c0.round_trips, 1);
    for (int k = 0; k < K; k++) {
        CHECK_INT(session_cmd_result(c[k])->status, SESSION_OK);
        session_cmd_free(c[k]);
    }
    struct msgset all;
    msgset_init(&all);
    CHECK_INT(all_uids(s, "INBOX", &all), 0);
    char err[600];
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    uint32_t first = msgset_min(&all);
    struct msgset sets[K];
    for (int k = 0; k < K; k++) {
        msgset_init(&sets[k]);
        if (k % 4)
            msgset_add(&sets[k], first, first + (uint32_t)(k % 4) - 1);
    }
    int ncopy = 0;
    struct session_cmd *cc[K];
    for (int k = 0; k < K; k++)
        if (k % 4)
            cc[ncopy++] = session_copy_start(s, &sets[k], names[k], false, NULL);
    CHECK_INT(session_wait_all(s), 0);
    for (int i = 0; i < ncopy; i++) {
        CHECK_INT(session_cmd_result(cc[i])->status, SESSION_OK);
        session_cmd_free(cc[i]);
    }

    /* The measured batch: 20 STATUS, written together, one round trip. */
    struct session_status_info st[K];
    session_counters(s, &c0);
    for (int k = 0; k < K; k++)
        c[k] = session_status_start(s, names[k], &st[k]);
    session_counters(s, &c1);
    CHECK_INT(c1.commands - c0.commands, 0);          /* queued, nothing written yet */
    CHECK_INT(c1.bytes_out - c0.bytes_out, 0);
    CHECK_INT(session_wait(s, c[K - 1]), 0);
    CHECK_INT(session_wait_all(s), 0);
    session_counters(s, &c1);
    CHECK_INT(c1.commands - c0.commands, K);
    CHECK_INT(c1.round_trips - c0.round_trips, 1);
    for (int k = 0; k < K; k++) {
        CHECK_INT(session_cmd_result(c[k])->status, SESSION_OK);
        CHECK_INT(st[k].messages, k % 4);
        CHECK(st[k].uidvalidity > 0);
        session_cmd_free(c[k]);
    }
    fprintf(stderr, "  pipelined STATUS x%d: %llu round trip(s), %llu bytes out, %llu bytes in\n", K,
            (unsigned long long)(c1.round_trips - c0.round_trips),
            (unsigned long long)(c1.bytes_out - c0.bytes_out),
            (unsigned long long)(c1.bytes_in - c0.bytes_in));

    /* Mixed batch: NOOPs, SEARCHes and a failing command, each with its own result. */
    struct query *q = query_key(QUERY_ALL);
    struct msgset res[5];
    struct session_cmd *m[11];
    session_counters(s, &c0);
    for (int i = 0; i < 5; i++) {
        msgset_init(&res[i]);
        m[2 * i] = session_noop_start(s);
        m[2 * i + 1] = session_search_start(s, q, false, &res[i]);
    }
    m[10] = session_select_start(s, "Nope", true);
    CHECK_INT(session_wait_all(s), 0);
    session_counters(s, &c1);
    CHECK_INT(c1.round_trips - c0.round_trips, 1);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(session_cmd_result(m[2 * i + 1])->status, SESSION_OK);
        CHECK(msgset_equal(&res[i], &all));
        msgset_free(&res[i]);
    }
    CHECK_INT(session_cmd_result(m[10])->status, SESSION_NO);
    CHECK_INT(session_cmd_result(m[10])->code, SESSION_ERR_NO);
    for (int i = 0; i < 11; i++)
        session_cmd_free(m[i]);
    query_unref(q);

    /* Clean up (pipelined). */
    for (int k = 0; k < K; k++)
        session_cmd_free(session_mailbox_op_start(s, SESSION_DELETE, names[k]));
    CHECK_INT(session_wait_all(s), 0);
    for (int k = 0; k < K; k++)
        msgset_free(&sets[k]);
    msgset_free(&all);
    session_free(s);
}

/* Starts rtproxy in front of the test bed's plaintext port with delay_ms of latency each way
 * (0: none); stats (a mkstemp template) becomes the file of its counters. Returns the pipe to
 * pclose (the proxy exits when the client disconnects) with the proxy's port in *pport, or
 * NULL (the file removed). */
static FILE *proxy_start(char *stats, int delay_ms, unsigned *pport)
{
    int fd = mkstemp(stats);
    if (fd < 0)
        return NULL;
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "build/rtproxy 0 %s %u %s 20 %d", host, port, stats, delay_ms);
    FILE *p = popen(cmd, "r");
    if (!p || fscanf(p, "PORT %u", pport) != 1) {
        if (p)
            pclose(p);
        unlink(stats);
        return NULL;
    }
    return p;
}

/* A session through the proxy on pport: plaintext, LOGIN. */
static struct session *open_proxied(unsigned pport)
{
    struct session_config c = cfg_tls();
    c.port = pport;
    c.tls = SESSION_TLS_NONE;
    c.auth[0] = SESSION_AUTH_LOGIN;
    return open_cfg(&c);
}

/* rtproxy confirms on the wire what the session counts. */
static void test_round_trips_on_the_wire(void)
{
    char stats[] = "/tmp/itest-rtproxy-XXXXXX";
    unsigned pport = 0;
    FILE *p = proxy_start(stats, 0, &pport);
    if (!p) { CHECK(0); return; }
    struct session *s = open_proxied(pport);
    CHECK(s != NULL);
    struct session_counters sc = { 0 };
    if (s) {
        struct session_status_info st[10];
        struct session_cmd *cm[10];
        for (int i = 0; i < 10; i++)
            cm[i] = session_status_start(s, "INBOX", &st[i]);
        CHECK_INT(session_wait_all(s), 0);
        for (int i = 0; i < 10; i++) {
            CHECK_INT(st[i].messages, 40);
            session_cmd_free(cm[i]);
        }
        session_counters(s, &sc);
        char err[600];
        session_logout(s, err, sizeof err);
        session_counters(s, &sc);
        session_free(s);
    }
    pclose(p);   /* the proxy exits when the client disconnects */
    FILE *f = fopen(stats, "r");
    unsigned long long rt = 0, cb = 0, v;
    char key[64];
    while (f && fscanf(f, "%63s %llu", key, &v) == 2) {
        if (strcmp(key, "round_trips") == 0) rt = v;
        if (strcmp(key, "client_bytes") == 0) cb = v;
    }
    if (f) fclose(f);
    unlink(stats);
    /* greeting, CAPABILITY?, LOGIN, 10 x STATUS, LOGOUT: the proxy agrees with the counters. */
    CHECK(rt > 0);
    CHECK_INT(rt, sc.round_trips);
    CHECK(cb > 0);
    fprintf(stderr, "  on the wire: %llu round trips for the whole session (login + 10 STATUS + "
            "logout), %llu bytes from the client\n", rt, cb);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Under 2 x 25 ms of latency (rtproxy's delay), 20 STATUS one by one cost 20 round trips;
 * pipelined they cost one. */
static void test_pipelining_under_latency(void)
{
    char stats[] = "/tmp/itest-rtproxy-XXXXXX";
    unsigned pport = 0;
    FILE *p = proxy_start(stats, 25, &pport);
    if (!p) { CHECK(0); return; }
    struct session *s = open_proxied(pport);
    CHECK(s != NULL);
    if (s) {
        enum { K = 20 };
        const char *boxes[] = { "INBOX", "Drafts", "Sent", "Junk", "Trash" };
        struct session_status_info st[K];
        char err[600];
        double t0 = now_s();
        for (int i = 0; i < K; i++)
            CHECK_INT(session_status(s, boxes[i % 5], &st[i], err, sizeof err), 0);
        double seq = now_s() - t0;
        struct session_cmd *cm[K];
        t0 = now_s();
        for (int i = 0; i < K; i++)
            cm[i] = session_status_start(s, boxes[i % 5], &st[i]);
        CHECK_INT(session_wait_all(s), 0);
        double pipe = now_s() - t0;
        for (int i = 0; i < K; i++) {
            CHECK_INT(session_cmd_result(cm[i])->status, SESSION_OK);
            CHECK(st[i].uidvalidity > 0);
            session_cmd_free(cm[i]);
        }
        CHECK(pipe * 5 < seq);
        fprintf(stderr, "  20 x STATUS at 50 ms round-trip time: %.0f ms one by one, %.0f ms "
                "pipelined\n", seq * 1000, pipe * 1000);
        session_logout(s, err, sizeof err);
        session_free(s);
    }
    pclose(p);
    unlink(stats);
}

static void test_split_long_sets(void)
{
    seed(user, "Big", 4000, 7);
    struct session *s = open_alice();
    if (!s) { CHECK(0); return; }
    struct msgset all, odd;
    msgset_init(&all);
    msgset_init(&odd);
    CHECK_INT(all_uids(s, "Big", &all), 0);
    CHECK_INT(msgset_count(&all), 4000);
    struct msgset_iter it;
    uint32_t u;
    int i = 0;
    msgset_iter_init(&it, &all);
    while (msgset_iter_next(&it, &u))
        if (i++ % 2 == 0)
            msgset_add(&odd, u, u);
    char *text = msgset_format(&odd);
    size_t tl = strlen(text);
    free(text);
    CHECK(tl > 9000);   /* too long for one command line */
    char err[600];
    CHECK_INT(session_select(s, "Big", false, err, sizeof err), 0);
    struct session_counters c0, c1;
    session_counters(s, &c0);
    int n = 0;
    CHECK_INT(session_fetch(s, &odd, "(UID FLAGS)", count_cb, &n, err, sizeof err), 0);
    session_counters(s, &c1);
    CHECK_INT(n, 2000);
    CHECK(c1.commands - c0.commands >= 2);
    CHECK_INT(c1.round_trips - c0.round_trips, 1);
    fprintf(stderr, "  UID FETCH of 2000 scattered UIDs (%zu bytes of set): %llu commands, "
            "%llu round trip(s)\n", tl, (unsigned long long)(c1.commands - c0.commands),
            (unsigned long long)(c1.round_trips - c0.round_trips));
    const char *f[] = { "\\Flagged" };
    session_counters(s, &c0);
    CHECK_INT(session_store(s, &odd, SESSION_STORE_ADD, f, 1, err, sizeof err), 0);
    session_counters(s, &c1);
    CHECK(c1.commands - c0.commands >= 2);
    struct msgset flagged;
    msgset_init(&flagged);
    struct query *q = query_key(QUERY_FLAGGED);
    CHECK_INT(session_search(s, q, false, &flagged, err, sizeof err), 0);
    struct msgset missing;
    msgset_init(&missing);
    CHECK_INT(msgset_difference(&missing, &odd, &flagged), 0);   /* seeded flags add others */
    CHECK_INT(missing.n, 0);
    msgset_free(&missing);
    query_unref(q);
    msgset_free(&flagged);
    msgset_free(&all);
    msgset_free(&odd);
    session_free(s);
}

static void test_trace_literals(void)
{
    struct session_config c = cfg_tls();
    c.trace = trace_cb;
    struct session *s = open_cfg(&c);
    if (!s) { CHECK(0); return; }
    char err[600];
    static char big[5000];
    memset(big, 'Z', sizeof big);
    memcpy(big, "Subject: big\r\n\r\n", 16);
    memcpy(big + sizeof big - 2, "\r\n", 2);
    uint32_t uid = 0;
    CHECK_INT(session_append(s, "INBOX", NULL, 0, NULL, big, sizeof big, NULL, &uid, err, sizeof err), 0);
    CHECK(uid > 0);
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    struct msgset one;
    msgset_init(&one);
    msgset_add(&one, uid, uid);
    tracelen = 0;
    int n = 0;
    CHECK_INT(session_fetch(s, &one, "(UID BODY.PEEK[] BODY.PEEK[HEADER])", count_cb, &n, err, sizeof err), 0);
    CHECK_INT(n, 1);
    CHECK(trace_has("<5000 bytes>"));           /* the long literal abbreviated */
    CHECK(!trace_has("ZZZZZZZZZZ"));
    CHECK(trace_has("Subject: big\\r\\n"));    /* the short one inline, CR LF escaped */
    CHECK(trace_has("C:A"));
    const char *d[] = { "\\Deleted" };
    CHECK_INT(session_store(s, &one, SESSION_STORE_ADD, d, 1, err, sizeof err), 0);
    CHECK_INT(session_expunge(s, &one, err, sizeof err), 0);
    msgset_free(&one);
    session_free(s);
}

static void test_compress(void)
{
    struct session_counters plain = { 0 }, comp = { 0 };
    int counts[2] = { 0, 0 };
    for (int z = 0; z < 2; z++) {
        struct session_config c = cfg_tls();
        c.compress = z == 1;
        struct session *s = open_cfg(&c);
        if (!s) { CHECK(0); return; }
        struct session_counters c0, c1;
        session_counters(s, &c0);
        CHECK(c0.tls);
        CHECK(c0.compressed == (z == 1));
        struct msgset all;
        msgset_init(&all);
        CHECK_INT(all_uids(s, "Big", &all), 0);
        char err[600];
        CHECK_INT(session_fetch(s, &all, "(UID FLAGS BODY.PEEK[HEADER])", count_cb, &counts[z],
                                err, sizeof err), 0);
        session_counters(s, &c1);
        struct session_counters *d = z ? &comp : &plain;
        d->bytes_in = c1.bytes_in - c0.bytes_in;
        d->wire_in = c1.wire_in - c0.wire_in;
        msgset_free(&all);
        int lrc = session_logout(s, err, sizeof err);
        CHECK_INT(lrc, 0);
        if (lrc)
            fprintf(stderr, "  logout: %s\n", err);
        session_free(s);
    }
    CHECK_INT(counts[0], 4000);
    CHECK_INT(counts[1], 4000);
    CHECK(comp.wire_in * 2 < plain.wire_in);     /* headers compress well */
    fprintf(stderr, "  headers of 4000 messages: %llu bytes of IMAP; on the wire %llu with TLS, "
            "%llu with TLS + COMPRESS=DEFLATE\n", (unsigned long long)plain.bytes_in,
            (unsigned long long)plain.wire_in, (unsigned long long)comp.wire_in);
}

/* Sums the RFC822.SIZE of fetched messages. */
static int size_cb(void *ud, const struct imap_fetch *f)
{
    *(uint64_t *)ud += f->size;
    return 0;
}

/* Literals far larger than what the transport queues at once (128 KB) go out piece by piece as
 * the socket takes them, with and without COMPRESS, and commands queued behind them follow. */
static void test_large_literals(void)
{
    enum { BIG = 3 << 20 };
    char *big = malloc(BIG);
    if (!big) { CHECK(0); return; }
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)('a' + (i * 7 + i / 61) % 26);
    for (size_t i = 76; i < BIG; i += 78) {
        big[i] = '\r';
        big[i + 1] = '\n';
    }
    memcpy(big, "Subject: large\r\n\r\n", 18);
    for (int z = 0; z < 2; z++) {
        struct session_config c = cfg_tls();
        c.compress = z == 1;
        struct session *s = open_cfg(&c);
        if (!s) { CHECK(0); break; }
        char err[600];
        CHECK_INT(session_mailbox_op(s, SESSION_CREATE, "Large", err, sizeof err) == 0 ||
                  session_mailbox_op(s, SESSION_CREATE, "Large", err, sizeof err) == SESSION_ERR_NO, 1);
        struct session_cmd *a[3];
        for (int i = 0; i < 3; i++)
            a[i] = session_append_start(s, "Large", NULL, 0, NULL, big, BIG - (size_t)i * 1000);
        struct session_cmd *noop = session_noop_start(s);
        CHECK_INT(session_wait(s, noop), 0);
        for (int i = 0; i < 3; i++) {
            CHECK_INT(session_cmd_result(a[i])->status, SESSION_OK);
            if (session_cmd_result(a[i])->status != SESSION_OK)
                fprintf(stderr, "  append: %s\n", session_cmd_result(a[i])->error);
            session_cmd_free(a[i]);
        }
        session_cmd_free(noop);
        struct msgset all;
        msgset_init(&all);
        CHECK_INT(all_uids(s, "Large", &all), 0);
        uint64_t total = 0;
        CHECK_INT(session_fetch(s, &all, "(UID RFC822.SIZE)", size_cb, &total, err, sizeof err), 0);
        CHECK_INT(total, (uint64_t)(z + 1) * (3 * (uint64_t)BIG - 3000));
        msgset_free(&all);
        session_free(s);
    }
    free(big);
}

static bool cmd_done(const struct session_cmd *c)
{
    return session_cmd_result(c)->status != SESSION_PENDING;
}

/* Sessions share the loop: waiting on one reads and dispatches the replies of another. */
static void test_waits_progress_other_sessions(void)
{
    struct session *a = open_alice(), *b = open_alice();
    if (!a || !b) { CHECK(0); session_free(a); session_free(b); return; }
    struct session_status_info st;
    struct session_cmd *sb = session_status_start(b, "INBOX", &st);
    CHECK_INT(session_flush(b), 0);                 /* handed to the loop, never waited for */
    char err[600];
    int rounds = 0;
    while (!cmd_done(sb) && rounds < 500) {
        CHECK_INT(session_noop(a, err, sizeof err), 0);
        rounds++;
    }
    CHECK(cmd_done(sb));
    CHECK_INT(session_cmd_result(sb)->status, SESSION_OK);
    CHECK(st.uidnext > 0);
    CHECK(!session_busy(b));
    session_cmd_free(sb);
    session_free(a);
    session_free(b);
}

/* ---- IDLE ------------------------------------------------------------------------------ */

static void test_idle(void)
{
    struct session *s = open_alice(), *b = open_alice();
    if (!s || !b) { CHECK(0); session_free(s); session_free(b); return; }
    char err[600];
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    uint32_t exists = session_view(s)->exists;
    CHECK_INT(session_idle_start(s, err, sizeof err), 0);
    CHECK_INT(session_idle_wait(s, 200, err, sizeof err), 0);     /* nothing yet: timeout */
    static const char msg[] = "Subject: idle\r\nMessage-ID: <idle@itest>\r\n\r\nx\r\n";
    uint32_t uid = 0;
    CHECK_INT(session_append(b, "INBOX", NULL, 0, NULL, msg, sizeof msg - 1, NULL, &uid, err,
                             sizeof err), 0);
    CHECK_INT(session_idle_wait(s, 10000, err, sizeof err), 1);
    CHECK_INT(session_idle_done(s, err, sizeof err), 0);
    CHECK_INT(session_view(s)->exists, exists + 1);
    struct msgset one;
    msgset_init(&one);
    msgset_add(&one, uid, uid);
    const char *d[] = { "\\Deleted" };
    CHECK_INT(session_store(s, &one, SESSION_STORE_ADD, d, 1, err, sizeof err), 0);
    CHECK_INT(session_expunge(s, &one, err, sizeof err), 0);
    CHECK_INT(session_view(s)->exists, exists);
    msgset_free(&one);
    session_free(s);
    session_free(b);
}

static void test_enable_qresync_id(void)
{
    struct session *s = open_alice(), *r = open_alice();
    if (!s || !r) { CHECK(0); session_free(s); session_free(r); return; }
    char err[600];
    const char *ids[] = { "name", "imapscript-itest", "version", "0" };
    CHECK_INT(session_id(s, ids, 2, err, sizeof err), 0);
    CHECK_INT(session_id(s, NULL, 0, err, sizeof err), 0);
    const char *ext[] = { "CONDSTORE", "QRESYNC", "X-NOT-OFFERED" };
    CHECK_INT(session_enable(s, ext, 3, err, sizeof err), 0);
    CHECK(session_enabled(s, "QRESYNC"));
    CHECK(session_enabled(s, "condstore"));
    CHECK(!session_enabled(s, "X-NOT-OFFERED"));
    CHECK_INT(session_select(s, "INBOX", false, err, sizeof err), 0);
    const struct session_view *v = session_view(s);
    CHECK(v->highestmodseq > 0);
    uint32_t exists = v->exists;
    /* With QRESYNC the server reports expunges as VANISHED: the view follows. */
    static const char msg[] = "Subject: q\r\nMessage-ID: <qresync@itest>\r\n\r\nx\r\n";
    uint32_t uid = 0;
    CHECK_INT(session_append(r, "INBOX", NULL, 0, NULL, msg, sizeof msg - 1, NULL, &uid, err,
                             sizeof err), 0);
    CHECK_INT(session_noop(s, err, sizeof err), 0);
    CHECK_INT(v->exists, exists + 1);
    struct msgset one;
    msgset_init(&one);
    msgset_add(&one, uid, uid);
    const char *d[] = { "\\Deleted" };
    CHECK_INT(session_store(s, &one, SESSION_STORE_ADD, d, 1, err, sizeof err), 0);
    uint64_t before = v->expunges;
    CHECK_INT(session_expunge(s, &one, err, sizeof err), 0);
    CHECK_INT(v->exists, exists);
    CHECK_INT(v->expunges, before + 1);
    msgset_free(&one);
    session_free(s);
    session_free(r);
}

struct changed { uint32_t uid; int seen_changed; int calls; };

static int changed_cb(void *ud, const struct imap_fetch *f)
{
    struct changed *ch = ud;
    ch->calls++;
    if (f->uid == ch->uid && f->modseq > 0)
        ch->seen_changed++;
    return 0;
}

static void test_qresync_select(void)
{
    struct session *s = open_alice(), *b = open_alice();
    if (!s || !b) { CHECK(0); session_free(s); session_free(b); return; }
    char err[600];
    const char *ext[] = { "QRESYNC" };
    CHECK_INT(session_enable(s, ext, 1, err, sizeof err), 0);
    CHECK_INT(session_select(s, "INBOX", true, err, sizeof err), 0);
    uint32_t uidv = session_view(s)->uidvalidity;
    uint64_t modseq = session_view(s)->highestmodseq;
    CHECK(modseq > 0);
    CHECK_INT(session_unselect(s, err, sizeof err), 0);

    /* Meanwhile another client flags one message and expunges another. */
    static const char msg[] = "Subject: gone\r\nMessage-ID: <gone@itest>\r\n\r\nx\r\n";
    uint32_t gone = 0;
    CHECK_INT(session_append(b, "INBOX", NULL, 0, NULL, msg, sizeof msg - 1, NULL, &gone, err,
                             sizeof err), 0);
    struct msgset all, one, g;
    msgset_init(&all); msgset_init(&one); msgset_init(&g);
    CHECK_INT(all_uids(b, "INBOX", &all), 0);
    CHECK_INT(session_select(b, "INBOX", false, err, sizeof err), 0);
    uint32_t flagged = msgset_min(&all);
    msgset_add(&one, flagged, flagged);
    msgset_add(&g, gone, gone);
    const char *f[] = { "$Changed" };
    CHECK_INT(session_store(b, &one, SESSION_STORE_ADD, f, 1, err, sizeof err), 0);
    const char *d[] = { "\\Deleted" };
    CHECK_INT(session_store(b, &g, SESSION_STORE_ADD, d, 1, err, sizeof err), 0);
    CHECK_INT(session_expunge(b, &g, err, sizeof err), 0);

    struct msgset vanished;
    msgset_init(&vanished);
    struct changed ch = { .uid = flagged };
    struct session_qresync q = { .uidvalidity = uidv, .modseq = modseq, .known = &all,
                                 .vanished = &vanished, .changed = changed_cb, .ud = &ch };
    CHECK_INT(session_select_qresync(s, "INBOX", true, &q, err, sizeof err), 0);
    CHECK(msgset_contains(&vanished, gone));
    CHECK_INT(ch.seen_changed, 1);
    CHECK(ch.calls <= 2);                        /* only what changed, not the mailbox */
    CHECK_STR(session_view(s)->name, "INBOX");
    CHECK(session_view(s)->highestmodseq > modseq);

    struct session *p = open_alice();   /* without ENABLE QRESYNC: refused before sending */
    if (p) {
        CHECK_INT(session_select_qresync(p, "INBOX", true, &q, err, sizeof err),
                  SESSION_ERR_UNSUPPORTED);
        session_free(p);
    }
    msgset_free(&all); msgset_free(&one); msgset_free(&g); msgset_free(&vanished);
    session_free(s);
    session_free(b);
}

/* ---- fake servers ---------------------------------------------------------------------- */

static struct session *fake_session(struct fake *f, int *rc, char *err, size_t errlen)
{
    struct session_config c = { .host = "127.0.0.1", .port = f->port, .tls = SESSION_TLS_NONE,
                                .io_timeout_ms = 5000 };
    struct session *s = NULL;
    *rc = session_connect(&c, &s, err, errlen);
    return s;
}

#define CAPS "* OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS LITERAL+] fake ready\r\n"

static void test_bye_mid_command(void)
{
    struct fake f;
    if (fake_start_reply(&f, CAPS, "* BYE Shutting down\r\n")) { CHECK(0); return; }
    char err[600];
    int rc;
    struct session *s = fake_session(&f, &rc, err, sizeof err);
    CHECK_INT(rc, 0);
    if (s) {
        struct msgset set;
        msgset_init(&set);
        msgset_add(&set, 1, 5);
        CHECK_INT(session_copy(s, &set, "Archive", true, NULL, err, sizeof err), SESSION_ERR_CLOSED);
        CHECK_STR(err, "UID MOVE: connection closed by server (BYE Shutting down)");
        CHECK_INT(session_state(s), SESSION_BROKEN);
        /* later calls fail fast with that error */
        CHECK_INT(session_noop(s, err, sizeof err), SESSION_ERR_CLOSED);
        CHECK(strstr(err, "UID MOVE: connection closed by server (BYE Shutting down)") != NULL);
        msgset_free(&set);
        session_free(s);
    }
    fake_stop(&f);
}

static void test_close_mid_command_pipelined(void)
{
    struct fake f;
    if (fake_start_reply(&f, CAPS, NULL)) { CHECK(0); return; }
    char err[600];
    int rc;
    struct session *s = fake_session(&f, &rc, err, sizeof err);
    CHECK_INT(rc, 0);
    if (s) {
        struct session_status_info st;
        struct session_cmd *a = session_status_start(s, "INBOX", &st);
        struct session_cmd *b = session_noop_start(s);
        CHECK_INT(session_wait(s, b), SESSION_ERR_CLOSED);
        CHECK_STR(session_cmd_result(a)->error, "STATUS INBOX: connection closed by server");
        CHECK_STR(session_cmd_result(b)->error, "NOOP: connection closed by server");
        CHECK_STR(session_error(s), "STATUS INBOX: connection closed by server");
        session_cmd_free(a);
        session_cmd_free(b);
        session_free(s);
    }
    fake_stop(&f);
}

static int fake_fetch_cb(void *ud, const struct imap_fetch *f)
{
    *(uint64_t *)ud = f->uid;
    return 0;
}

static void test_bye_mid_fetch(void)
{
    struct fake f;
    if (fake_start_reply(&f, CAPS, "* 1 FETCH (UID 5 FLAGS (\\Seen))\r\n"
                         "* 2 FETCH (UID 6 BODY[] {100}\r\npartial\r\n* BYE going away\r\n")) {
        CHECK(0);
        return;
    }
    char err[600];
    int rc;
    struct session *s = fake_session(&f, &rc, err, sizeof err);
    if (s) {
        struct msgset set;
        msgset_init(&set);
        msgset_add(&set, 5, 6);
        uint64_t last = 0;
        /* The BYE arrives inside a literal: it is data, then the line closes mid-literal. */
        CHECK_INT(session_fetch(s, &set, "(FLAGS BODY.PEEK[])", fake_fetch_cb, &last, err, sizeof err),
                  SESSION_ERR_CLOSED);
        CHECK_INT(last, 5);
        CHECK_STR(err, "UID FETCH: connection closed by server");
        msgset_free(&set);
        session_free(s);
    }
    fake_stop(&f);

    if (fake_start_reply(&f, CAPS,
                         "* 1 FETCH (UID 5 FLAGS (\\Seen))\r\n* BYE server shutting down\r\n")) {
        CHECK(0);
        return;
    }
    s = fake_session(&f, &rc, err, sizeof err);
    if (s) {
        struct msgset set;
        msgset_init(&set);
        msgset_add(&set, 5, 6);
        uint64_t last = 0;
        CHECK_INT(session_fetch(s, &set, "(FLAGS)", fake_fetch_cb, &last, err, sizeof err),
                  SESSION_ERR_CLOSED);
        CHECK_INT(last, 5);
        CHECK_STR(err, "UID FETCH: connection closed by server (BYE server shutting down)");
        msgset_free(&set);
        session_free(s);
    }
    fake_stop(&f);
}

/* What a selection's watch heard, one letter or word a response: S(ELECTING), E(ND), T(agged)
 * or the data response's name. */
struct heard { char log[512]; };

static void hear(void *ud, enum session_watch_ev ev, const struct imap_response *r)
{
    struct heard *h = ud;
    size_t n = strlen(h->log);
    const char *what = ev == SESSION_WATCH_SELECTING ? "S" : ev == SESSION_WATCH_END ? "E"
                     : r->kind == IMAP_TAGGED ? "T" : r->status != IMAP_ST_NONE ? "OK" : r->name;
    snprintf(h->log + n, sizeof h->log - n, "%s%s", n ? " " : "", what);
}

struct sizes { int n, with_size; };

static int count_sizes(void *ud, const struct imap_fetch *f)
{
    struct sizes *z = ud;
    z->n++;
    z->with_size += f->size > 0;
    return 0;
}

/* A watch hears its selection from its SELECT's answer to the next SELECT's [CLOSED], every
 * response before a command takes it; a STORE answers with FLAGS; a report of a flag change
 * arriving during a FETCH of sizes is not taken for its answer. */
static void test_select_watch(void)
{
    static const char *const script[] = {
        "* 3 EXISTS\r\n* OK [UIDVALIDITY 5] v\r\n%T OK [READ-WRITE] selected\r\n",
        "* 1 FETCH (UID 1 FLAGS ($X) MODSEQ (9))\r\n%T OK stored\r\n",
        "* 2 FETCH (UID 2 FLAGS ($Y) MODSEQ (10))\r\n* 1 FETCH (UID 1 FLAGS ($X) RFC822.SIZE 10)\r\n"
        "* 2 FETCH (UID 2 FLAGS ($Y) RFC822.SIZE 20)\r\n* 3 FETCH (UID 3 FLAGS () RFC822.SIZE 30)\r\n"
        "%T OK fetched\r\n",
        "* OK [CLOSED] closed\r\n* 1 EXISTS\r\n%T OK [READ-WRITE] selected\r\n",
    };
    struct fake f;
    if (fake_start(&f, CAPS, script, 4)) { CHECK(0); return; }
    char err[600];
    int rc;
    struct session *s = fake_session(&f, &rc, err, sizeof err);
    if (s) {
        struct heard a = { "" }, b = { "" };
        struct sizes z = { 0, 0 };
        struct msgset one, all;
        msgset_init(&one);
        msgset_init(&all);
        msgset_add(&one, 1, 1);
        msgset_add(&all, 1, 3);
        const char *fl[] = { "$X" };
        struct session_cmd *c[4] = {
            session_select_watch_start(s, "A", false, NULL, hear, &a),
            session_store_echo_start(s, &one, SESSION_STORE_ADD, fl, 1),
            session_fetch_start(s, &all, "(UID FLAGS RFC822.SIZE)", count_sizes, &z),
            session_select_watch_start(s, "B", false, NULL, hear, &b),
        };
        session_wait_all(s);      /* the fake closes after its script: B's watch hears END */
        CHECK_STR(a.log, "S EXISTS OK T FETCH T FETCH FETCH FETCH FETCH T E");
        CHECK_STR(b.log, "S OK EXISTS T E");
        CHECK_INT(z.n, 3);
        CHECK_INT(z.with_size, 3);
        for (int i = 0; i < 4; i++) {
            CHECK_INT(session_cmd_result(c[i])->status, SESSION_OK);
            session_cmd_free(c[i]);
        }
        msgset_free(&one);
        msgset_free(&all);
        session_free(s);
    }
    fake_stop(&f);
}

static void test_garbage(void)
{
    struct fake f;
    if (fake_start_reply(&f, CAPS, "* 1 FETCH (UID 1 FLAGS (\\Seen\r\n")) { CHECK(0); return; }
    char err[600];
    int rc;
    struct session *s = fake_session(&f, &rc, err, sizeof err);
    if (s) {
        CHECK_INT(session_noop(s, err, sizeof err), SESSION_ERR_PROTOCOL);
        CHECK(strncmp(err, "NOOP: protocol error: ", 22) == 0);
        CHECK(strstr(err, "offset") != NULL);
        session_free(s);
    }
    fake_stop(&f);

    /* A garbage greeting. */
    if (fake_start_reply(&f, "\x01\x02 hello\r\n", NULL)) { CHECK(0); return; }
    s = fake_session(&f, &rc, err, sizeof err);
    CHECK(s == NULL);
    CHECK_INT(rc, SESSION_ERR_PROTOCOL);
    CHECK(strstr(err, "greeting") != NULL);
    fake_stop(&f);
}

static void test_capability_checks(void)
{
    struct fake f;
    char err[600];
    int rc;
    /* No MOVE, no UIDPLUS: refused before anything is sent. */
    if (fake_start_reply(&f, "* OK [CAPABILITY IMAP4rev1] plain old\r\n", "* BYE unexpected\r\n")) {
        CHECK(0);
        return;
    }
    struct session *s = fake_session(&f, &rc, err, sizeof err);
    if (s) {
        struct msgset set;
        msgset_init(&set);
        msgset_add(&set, 1, 2);
        CHECK_INT(session_copy(s, &set, "X", true, NULL, err, sizeof err), SESSION_ERR_UNSUPPORTED);
        CHECK_STR(err, "UID MOVE: the server does not support MOVE");
        CHECK_INT(session_expunge(s, &set, err, sizeof err), SESSION_ERR_UNSUPPORTED);
        CHECK_INT(session_idle_start(s, err, sizeof err), SESSION_ERR_UNSUPPORTED);
        CHECK_INT(session_state(s), SESSION_NOT_AUTH);   /* still usable */
        msgset_free(&set);
        session_free(s);
    }
    fake_stop(&f);

    /* STARTTLS asked for but not offered: refuse, never plaintext. */
    if (fake_start_reply(&f, "* OK [CAPABILITY IMAP4rev1] no tls\r\n", NULL)) { CHECK(0); return; }
    struct session_config c = { .host = "127.0.0.1", .port = f.port, .tls = SESSION_TLS_STARTTLS,
                                .user = "u", .password = "p", .io_timeout_ms = 5000 };
    CHECK_INT(session_open(&c, &s, err, sizeof err), SESSION_ERR_TLS);
    CHECK(strstr(err, "STARTTLS") != NULL && strstr(err, "refusing") != NULL);
    fake_stop(&f);

    /* LOGINDISABLED */
    if (fake_start_reply(&f, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n", NULL)) {
        CHECK(0);
        return;
    }
    c.port = f.port;
    c.tls = SESSION_TLS_NONE;
    c.auth[0] = SESSION_AUTH_LOGIN;
    CHECK_INT(session_open(&c, &s, err, sizeof err), SESSION_ERR_AUTH);
    CHECK(strstr(err, "LOGINDISABLED") != NULL);
    fake_stop(&f);
}

int main(void)
{
    host = env("TESTBED_HOST");
    port = (unsigned)atoi(env("TESTBED_PORT"));
    tls_port = (unsigned)atoi(env("TESTBED_TLS_PORT"));
    ca = env("TESTBED_CA");
    user = env("TESTBED_USER");
    password = env("TESTBED_PASSWORD");
    user3 = env("TESTBED_USER3");
    password3 = env("TESTBED_PASSWORD3");
    beddir = env("TESTBED_DIR");
    testbed = getenv("TESTBED") ? getenv("TESTBED") : "scripts/testbed";
    seed(user, "INBOX", 40, 1);

    RUN(test_login_methods);
    RUN(test_login_wrong_password);
    RUN(test_carol_8bit_password);
    RUN(test_starttls);
    RUN(test_select_examine);
    RUN(test_list_and_mailbox_ops);
    RUN(test_search_fetch);
    RUN(test_fetch_callback_stop);
    RUN(test_callback_reentry);
    RUN(test_store_read_back);
    RUN(test_pipelined_status_one_round_trip);
    RUN(test_round_trips_on_the_wire);
    RUN(test_pipelining_under_latency);
    RUN(test_append);
    RUN(test_idle);
    RUN(test_trace_literals);
    RUN(test_enable_qresync_id);
    RUN(test_qresync_select);
    RUN(test_copy_move);
    RUN(test_uid_expunge_exact);
    RUN(test_split_long_sets);
    RUN(test_compress);
    RUN(test_large_literals);
    RUN(test_waits_progress_other_sessions);
    RUN(test_bye_mid_command);
    RUN(test_close_mid_command_pipelined);
    RUN(test_bye_mid_fetch);
    RUN(test_select_watch);
    RUN(test_garbage);
    RUN(test_capability_checks);
    return CHECK_DONE();
}
