/* session_search.c — UID SEARCH at any size: a query whose UID sets would make the line too long
 * goes as one search per range of UIDs (their answers united, or chained through "$" when the
 * result is saved), and a long SEARCH or ESEARCH reply is read in parts into the result. */
#include "session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgset.h"
#include "query.h"

/* The longest search line imapscript writes; more UIDs than fit go in several searches. */
#define SEARCH_BUDGET SESSION_LINE_BUDGET

struct search_priv {
    struct msgset *out;
    bool esearch;                   /* RETURN was sent: the answer is an ESEARCH, not a SEARCH */
    bool taking;                    /* the reply arriving in parts is ours */
    bool in_all;                    /* ESEARCH: inside ALL, whose set may come in pieces */
    bool skip;                      /* ESEARCH: the next value is another return item's */
    int refs;                       /* commands sharing it (a split search) */
};

/* Adds set text "1:3,5" (a piece of an ESEARCH ALL) to out, range by range. -1: not a set. */
static int add_set_text(struct msgset *out, const char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t v[2] = { 0, 0 };
        int k = 0;
        for (;;) {
            size_t d = i;
            while (i < len && t[i] >= '0' && t[i] <= '9' && v[k] <= UINT32_MAX)
                v[k] = v[k] * 10 + (uint64_t)(t[i++] - '0');
            if (d == i || v[k] == 0 || v[k] > UINT32_MAX)
                return -1;
            if (k == 0 && i < len && t[i] == ':') {
                k = 1;
                i++;
                continue;
            }
            break;
        }
        if (msgset_add(out, (uint32_t)v[0], (uint32_t)(k ? v[1] : v[0])) < 0)
            return -1;
        if (i < len && t[i++] != ',')
            return -1;
    }
    return 0;
}

/* The values of a SEARCH or ESEARCH reply, or of a part of one (first: its beginning), into
 * the result. 0, or -1 with msg for a reply that makes no sense. */
static int search_take(struct search_priv *sp, const struct imap_response *r, bool first,
                       char *msg, size_t msglen)
{
    const struct imap_value *v = r->args;
    size_t n = r->nargs, i = 0;
    if (strcmp(r->name, "SEARCH") == 0) {
        for (; i < n; i++) {
            if (v[i].type == IMAP_LIST)
                continue;               /* (MODSEQ n) */
            if (v[i].type != IMAP_NUMBER || v[i].u.num == 0 || v[i].u.num > UINT32_MAX)
                goto bad;
            if (sp->out && msgset_add(sp->out, (uint32_t)v[i].u.num, (uint32_t)v[i].u.num) < 0)
                goto bad;
        }
        return 0;
    }
    if (first) {
        sp->in_all = sp->skip = false;
        if (i < n && v[i].type == IMAP_LIST)
            i++;                        /* (TAG "A5") */
        if (i < n && imap_value_is(&v[i], "UID"))
            i++;
    }
    for (; i < n; i++) {
        const struct imap_value *x = &v[i];
        if (sp->skip) {                 /* the value of a return item not wanted here */
            sp->skip = false;
            continue;
        }
        if (sp->in_all && x->type == IMAP_NUMBER) {
            if (x->u.num == 0 || x->u.num > UINT32_MAX ||
                (sp->out && msgset_add(sp->out, (uint32_t)x->u.num, (uint32_t)x->u.num) < 0))
                goto bad;
            continue;
        }
        if (sp->in_all && x->type == IMAP_ATOM && x->u.str[0] >= '0' && x->u.str[0] <= '9') {
            if (sp->out && add_set_text(sp->out, x->u.str, x->len) < 0)
                goto bad;
            continue;
        }
        sp->in_all = imap_value_is(x, "ALL");
        sp->skip = !sp->in_all;
    }
    return 0;
bad:
    snprintf(msg, msglen, "%s: unexpected %s at value %zu", r->name,
             v[i].type == IMAP_NUMBER ? "number" : "value", i + 1);
    return -1;
}

/* A reply that belongs to c: the SEARCH of a search without RETURN, else an ESEARCH (one naming
 * another tag does not). */
static bool search_mine(struct session_cmd *c, const struct imap_response *r)
{
    const struct search_priv *sp = c->ud;
    if (r->kind != IMAP_UNTAGGED || r->status != IMAP_ST_NONE || !r->name)
        return false;
    if (strcmp(r->name, sp->esearch ? "ESEARCH" : "SEARCH") != 0)
        return false;
    if (!sp->esearch)
        return true;
    if (r->nargs && r->args[0].type == IMAP_LIST && r->args[0].len == 2 &&
        imap_value_is(&r->args[0].u.items[0], "TAG")) {
        const char *t = imap_value_str(&r->args[0].u.items[1]);
        return t && strcmp(t, c->tag) == 0;
    }
    return true;
}

static int search_fail(struct session_cmd *c, const char *msg)
{
    session_cmd_fail(c, SESSION_ERR_PROTOCOL, "%s: bad reply: %s", c->what, msg);
    return SESSION_ERR_PROTOCOL;
}

static int search_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    char msg[200];
    if (!search_mine(c, r))
        return 0;
    if (search_take(ud, r, true, msg, sizeof msg) < 0)
        return search_fail(c, msg);
    return 1;
}

/* The parts of a long SEARCH/ESEARCH line: the first decides whether it is ours. */
static int search_part(struct session_cmd *c, const struct imap_response *r)
{
    struct search_priv *sp = c->ud;
    char msg[200];
    bool first = !sp->taking;
    if (r->part != IMAP_PART_VALUES && !r->tail)
        return 0;
    if (first && !search_mine(c, r))
        return 0;
    sp->taking = !r->tail;
    if (search_take(sp, r, first, msg, sizeof msg) < 0) {
        sp->taking = false;
        return search_fail(c, msg);
    }
    return 1;
}

static void search_free(struct session_cmd *c)
{
    struct search_priv *sp = c->ud;
    if (sp && --sp->refs == 0)
        free(sp);
}

/* Queues one UID SEARCH: q whole (lo == 0), or within lo..hi (after "OR $" when chained).
 * ret is the RETURN option or NULL. */
static struct session_cmd *search_one(struct session *s, const struct query *q, const char *ret,
                                      bool chained, uint32_t lo, uint32_t hi,
                                      struct search_priv *sp)
{
    struct command c;
    session_command_start(s, &c, "UID SEARCH");
    if (ret)
        command_raw(&c, ret, strlen(ret));
    if (query_needs_utf8(q) && !session_enabled(s, "UTF8=ACCEPT"))
        command_raw(&c, "CHARSET UTF-8", 13);
    if (chained) {
        command_atom(&c, "OR");
        command_atom(&c, "$");
    }
    if (lo)
        query_emit_within(q, &c, lo, hi);
    else
        query_emit(q, &c);
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, "UID SEARCH", search_handler, sp);
    command_free(&c);
    if (sc && sc->in_flight) {
        sp->refs++;
        sc->on_part = search_part;
        sc->on_free = search_free;
    }
    return sc;
}

/* Where to cut q's UID sets so that each search fits the budget; *n == 0 when q fits whole. */
static int search_cuts(struct session *s, const struct query *q, uint32_t **cuts, size_t *n)
{
    struct command c;
    session_command_init(s, &c);
    command_start(&c, "A1", "UID SEARCH RETURN (SAVE ALL) CHARSET UTF-8 OR $");
    query_emit(q, &c);
    size_t whole = c.len;
    command_start(&c, "A1", "UID SEARCH RETURN (SAVE ALL) CHARSET UTF-8 OR $");
    query_emit_within(q, &c, 1, 1);
    size_t rest = c.len;          /* the query without its sets, about */
    int err = c.err;
    command_free(&c);
    *cuts = NULL;
    *n = 0;
    if (err || whole <= SEARCH_BUDGET)
        return 0;
    size_t budget = rest + 1000 < SEARCH_BUDGET ? SEARCH_BUDGET - rest - 40 : 1000;
    return query_split_uids(q, budget, cuts, n);
}

struct session_cmd *session_search_start(struct session *s, const struct query *q, bool save,
                                         struct msgset *out)
{
    const char *what = "UID SEARCH";
    if (save && !session_has_cap(s, "SEARCHRES"))
        return cmd_failed(s, what, SESSION_ERR_UNSUPPORTED, "%s: the server does not support "
                          "SEARCHRES", what);
    struct search_priv *sp = calloc(1, sizeof *sp);
    if (!sp)
        return cmd_failed(s, what, SESSION_ERR_NOMEM, "%s: out of memory", what);
    sp->out = out;
    uint32_t *cuts;
    size_t ncuts;
    if (search_cuts(s, q, &cuts, &ncuts) < 0) {
        free(sp);
        return cmd_failed(s, what, SESSION_ERR_NOMEM, "%s: out of memory", what);
    }
    const char *ret = save ? "RETURN (SAVE ALL)"
                    : session_has_cap(s, "ESEARCH") ? "RETURN (ALL)" : NULL;
    sp->esearch = ret != NULL;
    struct session_cmd *head = NULL, *last = NULL;
    for (size_t k = 0; k <= ncuts; k++) {
        uint32_t lo = ncuts ? (k ? cuts[k - 1] : 1) : 0;
        uint32_t hi = k < ncuts ? cuts[k] - 1 : UINT32_MAX;
        /* Saved: each piece adds to "$" (RFC 5182), only the last one says the whole. */
        const char *r = save && k < ncuts ? "RETURN (SAVE)" : ret;
        struct session_cmd *sc = search_one(s, q, r, save && k > 0, lo, hi, sp);
        if (!sc)
            sc = cmd_failed(s, what, SESSION_ERR_NOMEM, "%s: out of memory", what);
        if (!sc || !cmd_chain(&head, &last, sc))
            break;
    }
    free(cuts);
    if (sp->refs == 0)
        free(sp);
    return head ? head : cmd_failed(s, what, SESSION_ERR_NOMEM, "%s: out of memory", what);
}

int session_search(struct session *s, const struct query *q, bool save, struct msgset *out,
                   char *err, size_t errlen)
{
    return cmd_finish(s, session_search_start(s, q, save, out), err, errlen);
}
