/* transfer.c — a FETCH on one connection streamed into APPENDs on another: each message's
 * literal is written to the target as its bytes arrive (announced with its flags, internal date
 * and size), several per MULTIAPPEND when offered; the source waits while the target's backlog
 * is high. An APPEND's messages count as copied only once the target said OK to it. */
#include "transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The target's unwritten bytes past which the source is paused, and under which it goes on. */
#define BACKLOG_HIGH (1024 * 1024)
#define BACKLOG_LOW (256 * 1024)
#define FLAGS_MAX 64

/* One APPEND on the target and the source messages it holds, in order. */
struct batch {
    struct session_cmd *cmd;
    uint32_t *uids;
    size_t n, cap;
    uint64_t bytes;
    bool closed, counted;
    struct batch *next;
};

struct transfer {
    struct session *src, *dst;
    char *mailbox;
    struct transfer_opts o;
    struct session_cmd *fetch;
    struct batch *batches, **tail, *open;
    bool copying;                   /* a literal is being copied into the open batch */
    bool broken;                    /* the target failed: the rest is read and dropped */
    bool paused;
    struct msgset asked, seen;      /* the UIDs asked for; those already copied from */
    struct msgset copied, uids;
    uint32_t uidvalidity;
    uint64_t messages, bytes;
    int code;
    bool trycreate;
    char error[600];
};

static void fail(struct transfer *t, int code, const char *fmt, const char *what)
{
    if (!t->code) {
        t->code = code;
        snprintf(t->error, sizeof t->error, fmt, what);
    }
}

static void go_on(struct transfer *t)
{
    if (t->paused) {
        t->paused = false;
        session_pause(t->src, false);
    }
}

/* The target failed: nothing more is appended; the source, never left paused, is read to its
 * end. */
static void target_failed(struct transfer *t, const char *why)
{
    fail(t, SESSION_ERR_NET, "%s", why);
    t->broken = true;
    go_on(t);
}

static void drained(void *ud)
{
    struct transfer *t = ud;
    if (t->paused && (!t->open || session_append_backlog(t->open->cmd) < BACKLOG_LOW))
        go_on(t);
}

/* The target's error for a failed call on batch b. */
static void batch_failed(struct transfer *t, struct batch *b, int rc)
{
    char err[600];
    if (session_cmd_error(b->cmd, err, sizeof err) == 0 || !err[0])
        snprintf(err, sizeof err, "APPEND %s: %s", t->mailbox,
                 rc == SESSION_ERR_USAGE ? "refused the message (a bad flag or date?)"
                                         : session_error(t->dst));
    target_failed(t, err);
}

/* Ends the open batch: its APPEND is complete and answered in time. */
static void batch_close(struct transfer *t)
{
    struct batch *b = t->open;
    t->open = NULL;
    if (!b || b->closed)
        return;
    b->closed = true;
    int rc = session_append_close(b->cmd);
    if (rc)
        batch_failed(t, b, rc);
}

/* The batch the next message of size bytes goes into, opened (or renewed) as needed. */
static struct batch *batch_for(struct transfer *t, uint64_t size)
{
    struct batch *b = t->open;
    if (b && (!t->o.multiappend || b->n >= t->o.batch_messages ||
              b->bytes + size > t->o.batch_bytes))
        batch_close(t);
    if (t->broken)
        return NULL;
    if (t->open)
        return t->open;
    b = calloc(1, sizeof *b);
    if (!b) {
        target_failed(t, "out of memory");
        return NULL;
    }
    b->cmd = session_append_open(t->dst, t->mailbox);
    *t->tail = b;
    t->tail = &b->next;
    if (!b->cmd || !session_cmd_result(b->cmd) ||
        session_cmd_result(b->cmd)->status != SESSION_PENDING) {
        b->closed = true;
        if (b->cmd)
            batch_failed(t, b, SESSION_ERR_USAGE);
        else
            target_failed(t, "out of memory");
        return NULL;
    }
    session_append_on_drain(b->cmd, drained, t);
    t->open = b;
    return b;
}

/* A message's flags as the FETCH said them, \Recent left out (the server's to set). */
static size_t flags_of(const struct imap_value *items, size_t n, const char **out)
{
    size_t k = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (!imap_value_is(&items[i], "FLAGS") || items[i + 1].type != IMAP_LIST)
            continue;
        const struct imap_value *l = &items[i + 1];
        for (size_t j = 0; j < l->len && k < FLAGS_MAX; j++) {
            const char *f = imap_value_str(&l->u.items[j]);
            if (f && l->u.items[j].type == IMAP_ATOM && strcasecmp(f, "\\Recent") != 0)
                out[k++] = f;
        }
    }
    return k;
}

static const char *date_of(const struct imap_value *items, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        if (imap_value_is(&items[i], "INTERNALDATE") && items[i + 1].type == IMAP_STRING)
            return items[i + 1].u.str;
    return NULL;
}

static bool has_flags(const struct imap_value *items, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        if (imap_value_is(&items[i], "FLAGS"))
            return true;
    return false;
}

/* Starts message uid (flags, date, size bytes) on the target; false when it goes nowhere. */
static bool message_begin(struct transfer *t, uint32_t uid, const struct imap_value *items,
                          size_t nitems, uint64_t size)
{
    if (t->broken)
        return false;
    if (size == 0) {                /* not a message any server stores: it stays where it is */
        fail(t, SESSION_ERR_NO, "APPEND %s: an empty message cannot be appended", t->mailbox);
        return false;
    }
    /* A message not asked for, or sent twice, is not copied (nor ever removed for it). */
    if (!msgset_contains(&t->asked, uid) || msgset_contains(&t->seen, uid))
        return false;
    if (msgset_add(&t->seen, uid, uid) < 0) {
        target_failed(t, "out of memory");
        return false;
    }
    struct batch *b = batch_for(t, size);
    if (!b)
        return false;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        uint32_t *u = realloc(b->uids, cap * sizeof *u);
        if (!u) {
            target_failed(t, "out of memory");
            return false;
        }
        b->uids = u;
        b->cap = cap;
    }
    const char *flags[FLAGS_MAX];
    size_t nflags = flags_of(items, nitems, flags);
    int rc = session_append_message(b->cmd, flags, nflags, date_of(items, nitems), size);
    if (rc) {
        batch_failed(t, b, rc);
        return false;
    }
    b->uids[b->n++] = uid;
    b->bytes += size;
    return true;
}

/* Bytes of the message being copied; the source pauses while the target is behind. */
static void message_data(struct transfer *t, const char *data, size_t len)
{
    struct batch *b = t->open;
    if (t->broken || !b)
        return;
    int rc = session_append_data(b->cmd, data, len);
    if (rc) {
        batch_failed(t, b, rc);
        return;
    }
    if (!t->paused && session_append_backlog(b->cmd) > BACKLOG_HIGH) {
        t->paused = true;
        session_pause(t->src, true);
    }
}

/* session_literal_fn: a message's literal as it arrives, when what it needs came before it. */
static int on_literal(void *ud, const struct session_literal *l)
{
    struct transfer *t = ud;
    if (l->begin) {
        if (strcmp(l->item, "BODY[]") != 0 || !l->uid || l->uid > UINT32_MAX ||
            !has_flags(l->items, l->nitems) || !date_of(l->items, l->nitems))
            return 0;               /* assembled, and copied whole with the reply */
        t->copying = message_begin(t, (uint32_t)l->uid, l->items, l->nitems, l->size);
        return 1;
    }
    if (t->copying)
        message_data(t, l->data, l->len);
    if (l->left == 0)
        t->copying = false;
    return 0;
}

/* session_fetch_fn: a reply whose body came whole is copied now. */
static int on_fetch(void *ud, const struct imap_fetch *f)
{
    struct transfer *t = ud;
    const struct imap_fetch_item *it = fetch_item(f, "BODY", "");
    if (!it || !it->value || it->value->type != IMAP_STRING || !f->uid || f->uid > UINT32_MAX)
        return 0;                   /* streamed already, or not a message */
    /* The reply's items as the literal function sees them: the FETCH list itself. */
    struct imap_value items[2 * FLAGS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < f->nitems && n + 2 <= sizeof items / sizeof items[0]; i++) {
        items[n].type = IMAP_ATOM;
        items[n].u.str = f->items[i].name;
        items[n].len = strlen(f->items[i].name);
        items[n + 1] = *f->items[i].value;
        n += 2;
    }
    const struct imap_value *v = it->value;
    if (message_begin(t, (uint32_t)f->uid, items, n, v->len))
        message_data(t, v->u.str, v->len);
    return 0;
}

struct transfer *transfer_start(struct session *src, const struct msgset *set,
                                struct session *dst, const char *mailbox,
                                const struct transfer_opts *opts)
{
    struct transfer *t = calloc(1, sizeof *t);
    if (!t || !(t->mailbox = strdup(mailbox))) {
        free(t);
        return NULL;
    }
    t->src = src;
    t->dst = dst;
    t->tail = &t->batches;
    if (opts)
        t->o = *opts;
    if (!t->o.batch_messages)
        t->o.batch_messages = 100;
    if (!t->o.batch_bytes)
        t->o.batch_bytes = 64u << 20;
    msgset_init(&t->copied);
    msgset_init(&t->uids);
    msgset_init(&t->asked);
    msgset_init(&t->seen);
    if (msgset_copy(&t->asked, set) < 0) {
        transfer_free(t);
        return NULL;
    }
    t->fetch = session_fetch_stream_start(src, set, "(UID FLAGS INTERNALDATE BODY.PEEK[])",
                                          on_fetch, on_literal, t);
    if (!t->fetch) {
        transfer_free(t);
        return NULL;
    }
    session_flush(src);
    return t;
}

/* Counts what the target confirmed of b: its messages once it said OK, and (when it says them)
 * their new UIDs, which must be as many. */
static void batch_count(struct transfer *t, struct batch *b)
{
    const struct session_result *r = session_cmd_result(b->cmd);
    b->counted = true;
    if (r->status != SESSION_OK) {
        if (r->code_kind == IMAP_CODE_TRYCREATE)
            t->trycreate = true;
        fail(t, r->code ? r->code : SESSION_ERR_PROTOCOL, "%s", r->error);
        return;
    }
    if (r->code_kind == IMAP_CODE_APPENDUID && r->set1) {
        struct msgset got, sum;
        char e[120];
        msgset_init(&got);
        msgset_init(&sum);
        int rc = msgset_parse(&got, r->set1, strlen(r->set1), 0, e, sizeof e);
        if (rc == 0 && msgset_count(&got) != b->n) {
            char msg[300];
            snprintf(msg, sizeof msg, "APPEND %s: the server confirmed %llu messages of %zu; "
                     "their originals are kept", t->mailbox,
                     (unsigned long long)msgset_count(&got), b->n);
            fail(t, SESSION_ERR_PROTOCOL, "%s", msg);
            msgset_free(&got);
            return;
        }
        if (rc == 0 && msgset_union(&sum, &t->uids, &got) == 0) {
            msgset_free(&t->uids);
            t->uids = sum;
            t->uidvalidity = (uint32_t)r->code_num;
        }
        msgset_free(&got);
    }
    for (size_t i = 0; i < b->n; i++)
        msgset_add(&t->copied, b->uids[i], b->uids[i]);
    t->messages += b->n;
    t->bytes += b->bytes;
}

bool transfer_done(struct transfer *t)
{
    /* The open APPEND ended on its own (a NO to a literal, the target's connection lost): the
     * source, perhaps paused for it, goes on and the rest is dropped. */
    if (t->open && session_cmd_result(t->open->cmd)->status != SESSION_PENDING) {
        t->open->closed = true;
        batch_failed(t, t->open, SESSION_ERR_NET);
        t->open = NULL;
    }
    const struct session_result *fr = session_cmd_result(t->fetch);
    if (fr->status == SESSION_PENDING)
        return false;
    go_on(t);
    if (t->copying && t->open) {    /* the FETCH ended inside a message: it is not sent */
        session_append_abort(t->open->cmd, "the source failed in the middle of a message");
        t->open->closed = true;
        t->open = NULL;
        t->copying = false;
    }
    batch_close(t);
    for (struct batch *b = t->batches; b; b = b->next) {
        if (session_cmd_result(b->cmd)->status == SESSION_PENDING)
            return false;
        if (!b->counted)
            batch_count(t, b);
    }
    if (fr->status != SESSION_OK && !t->code) {
        char err[600];
        t->code = session_cmd_error(t->fetch, err, sizeof err);
        snprintf(t->error, sizeof t->error, "%s", err);
    }
    return true;
}

static bool done_cond(void *arg)
{
    return transfer_done(arg);
}

int transfer_wait(struct transfer *t)
{
    int rc = session_wait_for(t->src, done_cond, t);
    if (rc == SESSION_ERR_USAGE)
        return rc;
    while (!transfer_done(t)) {     /* the source broke: the target finishes on its own */
        rc = session_wait_for(t->dst, done_cond, t);
        if (rc == SESSION_ERR_USAGE)
            return rc;
        if (rc < 0 && !transfer_done(t))
            break;
    }
    return 0;
}

struct session_cmd *transfer_fetch(const struct transfer *t)
{
    return t->fetch;
}

void transfer_result(const struct transfer *t, struct transfer_result *out)
{
    out->copied = &t->copied;
    out->uids = &t->uids;
    out->uidvalidity = t->uidvalidity;
    out->messages = t->messages;
    out->bytes = t->bytes;
    out->code = t->code;
    out->error = t->error;
    out->trycreate = t->trycreate;
}

void transfer_free(struct transfer *t)
{
    if (!t)
        return;
    go_on(t);
    for (struct batch *b = t->batches, *n; b; b = n) {
        n = b->next;
        session_cmd_free(b->cmd);
        free(b->uids);
        free(b);
    }
    session_cmd_free(t->fetch);
    msgset_free(&t->copied);
    msgset_free(&t->uids);
    msgset_free(&t->asked);
    msgset_free(&t->seen);
    free(t->mailbox);
    free(t);
}
