/* session_ops.c — the typed IMAP commands over the session core: each builds its command with
 * command.h, claims its own untagged replies, and fills the caller's output struct. */
#include "session_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgset.h"
#include "mutf7.h"
#include "query.h"

/* Line budget of one UID FETCH/STORE/COPY/MOVE/EXPUNGE: servers accept 8000+ octets. */
#define LINE_BUDGET SESSION_LINE_BUDGET

static struct session_cmd *need_cap(struct session *s, const char *what, const char *cap)
{
    if (session_has_cap(s, cap))
        return NULL;
    return cmd_failed(s, what, SESSION_ERR_UNSUPPORTED, "%s: the server does not support %s",
                      what, cap);
}

static struct session_cmd *oom(struct session *s, const char *what)
{
    return cmd_failed(s, what, SESSION_ERR_NOMEM, "%s: out of memory", what);
}

/* Parses set text and adds it to out. */
static void set_add_text(struct msgset *out, const char *text)
{
    if (!out || !text || !text[0])
        return;
    struct msgset tmp, sum;
    char e[120];
    msgset_init(&tmp);
    msgset_init(&sum);
    if (msgset_parse(&tmp, text, strlen(text), 0, e, sizeof e) == 0 &&
        msgset_union(&sum, out, &tmp) == 0) {
        msgset_free(out);
        *out = sum;
    } else {
        msgset_free(&sum);
    }
    msgset_free(&tmp);
}

char *name_from_wire(struct session *s, const char *wire)
{
    if (session_enabled(s, "UTF8=ACCEPT"))
        return strdup(wire);
    char *out = NULL, e[120];
    if (mutf7_decode(wire, strlen(wire), &out, e, sizeof e) == 0)
        return out;
    return strdup(wire);
}

bool flag_ok(const char *f)
{
    const unsigned char *p = (const unsigned char *)f;
    if (*p == '\\')
        p++;
    if (!*p)
        return false;
    for (; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
            return false;
    return true;
}

/* ---- ENABLE, ID -------------------------------------------------------------------- */

int session_enable(struct session *s, const char *const *exts, size_t n, char *err, size_t errlen)
{
    if (!session_has_cap(s, "ENABLE"))
        return 0;
    struct command c;
    session_command_start(s, &c, "ENABLE");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (session_has_cap(s, exts[i]) && !session_enabled(s, exts[i])) {
            command_atom(&c, exts[i]);
            k++;
        }
    }
    if (!k) {
        command_free(&c);
        return 0;
    }
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, "ENABLE", NULL, NULL);
    command_free(&c);
    return cmd_finish(s, sc, err, errlen);
}

static int id_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    (void)c; (void)ud;
    return r->status == IMAP_ST_NONE && r->name && strcmp(r->name, "ID") == 0;
}

int session_id(struct session *s, const char *const *pairs, size_t n, char *err, size_t errlen)
{
    struct session_cmd *sc = need_cap(s, "ID", "ID");
    if (!sc) {
        struct command c;
        session_command_start(s, &c, "ID");
        if (!pairs || !n) {
            command_atom(&c, "NIL");
        } else {
            command_open(&c);
            for (size_t i = 0; i < 2 * n; i++)
                command_string(&c, pairs[i], strlen(pairs[i]));
            command_close(&c);
        }
        command_end(&c);
        sc = cmd_send(s, &c, "ID", id_handler, NULL);
        command_free(&c);
    }
    return cmd_finish(s, sc, err, errlen);
}

/* ---- SELECT / EXAMINE / CLOSE / UNSELECT -------------------------------------------- */

struct select_priv {
    struct session_view v;          /* becomes the session's view on OK */
    session_watch_fn watch;         /* follows this selection (session_select_watch_start) */
    void *watch_ud;
    bool began;                     /* the watch heard SELECTING */
    bool qresync;
    struct msgset *vanished;        /* caller's, for VANISHED (EARLIER); NULL once orphaned */
    session_fetch_fn cb;            /* caller's, for the changed messages' FETCH */
    void *cb_ud;
};

/* The watch hears SELECTING once, when the server starts answering the SELECT. */
static void select_begin(struct select_priv *sp)
{
    if (!sp->began && sp->watch)
        sp->watch(sp->watch_ud, sp->qresync ? SESSION_WATCH_SELECTING_QRESYNC
                                            : SESSION_WATCH_SELECTING, NULL);
    sp->began = true;
}

static int select_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    struct select_priv *sp = ud;
    struct session_view *v = &sp->v;
    /* Until every command before it is done, what comes is theirs (the old mailbox's). */
    if (c->s->qhead != c)
        return 0;
    select_begin(sp);
    if (sp->watch)
        sp->watch(sp->watch_ud, SESSION_WATCH_RESPONSE, r);
    if (r->status == IMAP_ST_OK) {
        switch (r->code.kind) {
        case IMAP_CODE_UIDVALIDITY: v->uidvalidity = (uint32_t)r->code.num; return 1;
        case IMAP_CODE_UIDNEXT: v->uidnext = (uint32_t)r->code.num; return 1;
        case IMAP_CODE_UNSEEN: v->unseen = (uint32_t)r->code.num; return 1;
        case IMAP_CODE_HIGHESTMODSEQ: v->highestmodseq = r->code.num; return 1;
        case IMAP_CODE_NOMODSEQ: v->highestmodseq = 0; return 1;
        case IMAP_CODE_PERMANENTFLAGS:
            strv_replace(&v->permanentflags, &v->npermanentflags, r->code.list, r->code.nlist);
            return 1;
        default: return 0;
        }
    }
    if (r->status != IMAP_ST_NONE || !r->name)
        return 0;
    if (strcmp(r->name, "EXISTS") == 0 && r->has_number) {
        v->exists = (uint32_t)r->number;
        return 1;
    }
    if (strcmp(r->name, "RECENT") == 0 && r->has_number) {
        v->recent = (uint32_t)r->number;
        return 1;
    }
    if (strcmp(r->name, "FLAGS") == 0 && r->nargs == 1 && r->args[0].type == IMAP_LIST) {
        strv_replace(&v->flags, &v->nflags, r->args[0].u.items, r->args[0].len);
        return 1;
    }
    if (!sp->qresync)
        return 0;
    char msg[200];
    if (strcmp(r->name, "VANISHED") == 0) {
        struct imap_vanished van;
        if (decode_vanished(r, &c->s->scratch, &van, msg, sizeof msg) == 0 && van.earlier) {
            set_add_text(sp->vanished, van.uids);
            return 1;
        }
        return 0;
    }
    if (strcmp(r->name, "FETCH") == 0) {
        struct imap_fetch f;
        if (decode_fetch(r, &c->s->scratch, &f, msg, sizeof msg) < 0) {
            session_cmd_fail(c, SESSION_ERR_PROTOCOL, "%s: bad reply: %s", c->what, msg);
            return SESSION_ERR_PROTOCOL;
        }
        if (sp->cb && sp->cb(sp->cb_ud, &f) != 0) {
            sp->cb = NULL;
            session_cmd_fail(c, SESSION_ERR_CALLBACK, "%s: stopped by the callback", c->what);
            return SESSION_ERR_CALLBACK;
        }
        return 1;
    }
    return 0;
}

static void select_done(struct session_cmd *c, const struct imap_response *r)
{
    struct session *s = c->s;
    struct select_priv *sp = c->ud;
    view_clear(&s->view);
    /* The selection before this one is over, whatever the answer; this one's watch hears its
     * tagged reply, and follows it from its OK on. */
    select_begin(sp);
    session_watch_set(s, c->res.status == SESSION_OK ? sp->watch : NULL, sp->watch_ud);
    if (sp->watch)
        sp->watch(sp->watch_ud, SESSION_WATCH_RESPONSE, r);
    if (c->res.status == SESSION_OK) {
        if (r->code.kind == IMAP_CODE_READ_ONLY)
            sp->v.read_only = true;
        else if (r->code.kind == IMAP_CODE_READ_WRITE)
            sp->v.read_only = false;
        s->view = sp->v;
        memset(&sp->v, 0, sizeof sp->v);
        s->state = SESSION_SELECTED;
        /* Kept with the command: by the time its owner looks, a later SELECT may own the view. */
        c->res.code_num = s->view.uidvalidity;
    } else if (s->state == SESSION_SELECTED) {
        s->state = SESSION_AUTH;
    }
}

static void select_free(struct session_cmd *c)
{
    struct select_priv *sp = c->ud;
    if (sp) {
        view_clear(&sp->v);
        free(sp);
    }
}

/* The owner let go: keep updating the view, forget the owner's outputs. */
static void select_orphan(struct session_cmd *c)
{
    struct select_priv *sp = c->ud;
    sp->vanished = NULL;
    sp->cb = NULL;
    sp->watch = NULL;
}

static struct session_cmd *select_send(struct session *s, const char *mailbox, bool read_only,
                                       const struct session_qresync *q, session_watch_fn watch,
                                       void *watch_ud)
{
    const char *verb = read_only ? "EXAMINE" : "SELECT";
    char what[200];
    snprintf(what, sizeof what, "%s %s", verb, mailbox);
    if (q && !session_enabled(s, "QRESYNC"))
        return cmd_failed(s, what, SESSION_ERR_UNSUPPORTED, "%s: QRESYNC is not enabled "
                          "(the server lacks it, or ENABLE QRESYNC was not done)", what);
    struct select_priv *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->v.name = strdup(mailbox))) {
        free(sp);
        return oom(s, what);
    }
    sp->v.read_only = read_only;
    sp->watch = watch;
    sp->watch_ud = watch_ud;
    struct command c;
    session_command_start(s, &c, verb);
    command_mailbox(&c, mailbox, strlen(mailbox));
    if (q) {
        sp->qresync = true;
        sp->vanished = q->vanished;
        sp->cb = q->changed;
        sp->cb_ud = q->ud;
        command_raw(&c, "(QRESYNC (", 10);
        command_number(&c, q->uidvalidity);
        command_number(&c, q->modseq);
        if (q->known && q->known->n)
            command_msgset(&c, q->known);
        command_raw(&c, "))", 2);
    }
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, what, select_handler, sp);
    command_free(&c);
    if (!sc || !sc->in_flight) {
        view_clear(&sp->v);
        free(sp);
        if (sc)
            sc->ud = NULL;
        return sc;
    }
    sc->on_done = select_done;
    sc->on_free = select_free;
    sc->on_orphan = select_orphan;
    sc->own_hooks = true;
    sc->is_select = true;
    return sc;
}

struct session_cmd *session_select_start(struct session *s, const char *mailbox, bool read_only)
{
    return select_send(s, mailbox, read_only, NULL, NULL, NULL);
}

int session_select(struct session *s, const char *mailbox, bool read_only, char *err, size_t errlen)
{
    return cmd_finish(s, select_send(s, mailbox, read_only, NULL, NULL, NULL), err, errlen);
}

struct session_cmd *session_select_qresync_start(struct session *s, const char *mailbox,
                                                 bool read_only, const struct session_qresync *q)
{
    return select_send(s, mailbox, read_only, q, NULL, NULL);
}

int session_select_qresync(struct session *s, const char *mailbox, bool read_only,
                           const struct session_qresync *q, char *err, size_t errlen)
{
    return cmd_finish(s, select_send(s, mailbox, read_only, q, NULL, NULL), err, errlen);
}

struct session_cmd *session_select_watch_start(struct session *s, const char *mailbox,
                                               bool read_only, const struct session_qresync *q,
                                               session_watch_fn fn, void *ud)
{
    return select_send(s, mailbox, read_only, q, fn, ud);
}

static void deselect_done(struct session_cmd *c, const struct imap_response *r)
{
    (void)r;
    if (c->res.status == SESSION_OK) {
        session_watch_set(c->s, NULL, NULL);
        view_clear(&c->s->view);
        c->s->state = SESSION_AUTH;
    }
}

static int deselect(struct session *s, const char *verb, char *err, size_t errlen)
{
    struct session_cmd *sc = strcmp(verb, "UNSELECT") == 0 ? need_cap(s, verb, "UNSELECT") : NULL;
    if (!sc) {
        struct command c;
        session_command_start(s, &c, verb);
        command_end(&c);
        sc = cmd_send(s, &c, verb, NULL, NULL);
        command_free(&c);
        if (sc && sc->in_flight)
            sc->on_done = deselect_done;
    }
    return cmd_finish(s, sc, err, errlen);
}

int session_close(struct session *s, char *err, size_t errlen)
{
    return deselect(s, "CLOSE", err, errlen);
}

int session_unselect(struct session *s, char *err, size_t errlen)
{
    return deselect(s, "UNSELECT", err, errlen);
}

/* ---- LIST / LSUB ------------------------------------------------------------------- */

void session_list_free(struct session_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        strv_free(l->items[i].flags, l->items[i].nflags);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

static const struct { const char *name; unsigned bit; } mb_attrs[] = {
    { "\\NOSELECT", SESSION_MB_NOSELECT }, { "\\NOINFERIORS", SESSION_MB_NOINFERIORS },
    { "\\HASCHILDREN", SESSION_MB_HASCHILDREN }, { "\\HASNOCHILDREN", SESSION_MB_HASNOCHILDREN },
    { "\\MARKED", SESSION_MB_MARKED }, { "\\UNMARKED", SESSION_MB_UNMARKED },
    { "\\SUBSCRIBED", SESSION_MB_SUBSCRIBED }, { "\\NONEXISTENT", SESSION_MB_NONEXISTENT },
    { "\\ALL", SESSION_MB_ALL }, { "\\ARCHIVE", SESSION_MB_ARCHIVE },
    { "\\DRAFTS", SESSION_MB_DRAFTS }, { "\\FLAGGED", SESSION_MB_FLAGGED },
    { "\\JUNK", SESSION_MB_JUNK }, { "\\SENT", SESSION_MB_SENT }, { "\\TRASH", SESSION_MB_TRASH },
    { "\\IMPORTANT", SESSION_MB_IMPORTANT },
};

struct list_priv {
    struct session_list *out;
    const char *verb;
    bool status;                    /* LIST-STATUS: STATUS replies belong to the list too */
};

/* The STATUS items imapscript asks for, with HIGHESTMODSEQ when the server has CONDSTORE. */
static const char *status_items(struct session *s)
{
    return session_has_cap(s, "CONDSTORE")
         ? "(MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
         : "(MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY)";
}

static void status_take(struct session_status_info *out, const struct imap_status_data *d)
{
    out->messages = d->messages;
    out->unseen = d->unseen;
    out->recent = d->recent;
    out->uidnext = d->uidnext;
    out->uidvalidity = d->uidvalidity;
    out->highestmodseq = d->highestmodseq;
}

/* A LIST-STATUS reply's STATUS: given to the listed mailbox of that name (usually the last one
 * listed: RFC 5819 sends it right after its LIST). 1 claimed, 0 not ours, < 0 error. */
static int list_status_take(struct session_cmd *c, const struct imap_response *r)
{
    struct list_priv *lp = c->priv;
    struct imap_status_data d;
    char msg[200];
    if (decode_status(r, &c->s->scratch, &d, msg, sizeof msg) < 0)
        return 0;
    char *name = name_from_wire(c->s, d.mailbox ? d.mailbox : "");
    if (!name) {
        session_cmd_fail(c, SESSION_ERR_NOMEM, "%s: out of memory", c->what);
        return SESSION_ERR_NOMEM;
    }
    bool inbox = strcasecmp(name, "INBOX") == 0;
    struct session_list *l = lp->out;
    for (size_t i = l->n; i-- > 0;) {
        struct session_mailbox *m = &l->items[i];
        if (inbox ? strcasecmp(m->name, "INBOX") == 0 : strcmp(m->name, name) == 0) {
            status_take(&m->status, &d);
            m->has_status = true;
            free(name);
            return 1;
        }
    }
    free(name);
    return 0;
}

static void list_free(struct session_cmd *c)
{
    free(c->priv);
}

static int list_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    struct list_priv *lp = c->priv;
    struct session *s = c->s;
    (void)ud;
    if (r->status != IMAP_ST_NONE || !r->name)
        return 0;
    if (lp->status && strcmp(r->name, "STATUS") == 0)
        return list_status_take(c, r);
    if (strcmp(r->name, lp->verb) != 0)
        return 0;
    struct imap_list_entry e;
    char msg[200];
    if (decode_list(r, &s->scratch, &e, msg, sizeof msg) < 0) {
        session_cmd_fail(c, SESSION_ERR_PROTOCOL, "%s: bad reply: %s", c->what, msg);
        return SESSION_ERR_PROTOCOL;
    }
    struct session_list *l = lp->out;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct session_mailbox *it = realloc(l->items, cap * sizeof *it);
        if (!it)
            goto nomem;
        l->items = it;
        l->cap = cap;
    }
    struct session_mailbox *m = &l->items[l->n];
    memset(m, 0, sizeof *m);
    m->name = name_from_wire(s, e.name ? e.name : "");
    m->delimiter = e.delimiter;
    if (!m->name)
        goto nomem;
    if (e.flags && e.flags->type == IMAP_LIST) {
        if (strv_from_values(e.flags->u.items, e.flags->len, &m->flags, &m->nflags) < 0) {
            free(m->name);
            goto nomem;
        }
        for (size_t i = 0; i < m->nflags; i++)
            for (size_t k = 0; k < sizeof mb_attrs / sizeof mb_attrs[0]; k++)
                if (strcasecmp(m->flags[i], mb_attrs[k].name) == 0)
                    m->attrs |= mb_attrs[k].bit;
    }
    l->n++;
    return 1;
nomem:
    session_cmd_fail(c, SESSION_ERR_NOMEM, "%s: out of memory", c->what);
    return SESSION_ERR_NOMEM;
}

static struct session_cmd *list_start(struct session *s, const char *ref, const char *pattern,
                                      bool lsub, bool special_use, bool status,
                                      struct session_list *out)
{
    const char *verb = lsub ? "LSUB" : "LIST";
    struct list_priv *lp = calloc(1, sizeof *lp);
    if (!lp)
        return oom(s, verb);
    lp->out = out;
    lp->verb = verb;
    lp->status = status;
    struct command c;
    session_command_start(s, &c, verb);
    command_mailbox(&c, ref ? ref : "", ref ? strlen(ref) : 0);
    command_mailbox(&c, pattern ? pattern : "*", pattern ? strlen(pattern) : 1);
    special_use = !lsub && special_use && session_has_cap(s, "SPECIAL-USE");
    if (special_use || status) {
        command_raw(&c, "RETURN (", 8);
        if (special_use)
            command_raw(&c, "SPECIAL-USE", 11);
        if (status) {
            const char *items = status_items(s);
            command_atom(&c, "STATUS");
            command_raw(&c, items, strlen(items));
        }
        command_raw(&c, ")", 1);
    }
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, verb, list_handler, NULL);
    command_free(&c);
    if (!sc || !sc->in_flight) {
        free(lp);
        return sc;
    }
    sc->priv = lp;
    sc->on_free = list_free;
    return sc;
}

struct session_cmd *session_list_start(struct session *s, const char *ref, const char *pattern,
                                       bool lsub, bool special_use, struct session_list *out)
{
    return list_start(s, ref, pattern, lsub, special_use, false, out);
}

struct session_cmd *session_list_status_start(struct session *s, const char *ref,
                                              const char *pattern, struct session_list *out)
{
    struct session_cmd *f = need_cap(s, "LIST", "LIST-STATUS");
    if (f)
        return f;
    return list_start(s, ref, pattern, false, true, true, out);
}

int session_list(struct session *s, const char *ref, const char *pattern, bool lsub,
                 bool special_use, struct session_list *out, char *err, size_t errlen)
{
    return cmd_finish(s, session_list_start(s, ref, pattern, lsub, special_use, out), err, errlen);
}

/* ---- STATUS ------------------------------------------------------------------------ */

struct status_priv {
    struct session_status_info *out;
    char *wire;                     /* the name as sent, to claim only our STATUS */
};

static int status_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    struct status_priv *sp = ud;
    if (r->status != IMAP_ST_NONE || !r->name || strcmp(r->name, "STATUS") != 0)
        return 0;
    struct imap_status_data d;
    char msg[200];
    if (decode_status(r, &c->s->scratch, &d, msg, sizeof msg) < 0)
        return 0;
    const char *name = d.mailbox ? d.mailbox : "";
    bool inbox = strcasecmp(name, "INBOX") == 0 && strcasecmp(sp->wire, "INBOX") == 0;
    if (!inbox && strcmp(name, sp->wire) != 0)
        return 0;
    status_take(sp->out, &d);
    return 1;
}

static void status_free(struct session_cmd *c)
{
    struct status_priv *sp = c->ud;
    if (sp) {
        free(sp->wire);
        free(sp);
    }
}

struct session_cmd *session_status_start(struct session *s, const char *mailbox,
                                         struct session_status_info *out)
{
    char what[200];
    snprintf(what, sizeof what, "STATUS %s", mailbox);
    out->messages = out->unseen = out->recent = out->uidnext = out->uidvalidity =
        out->highestmodseq = -1;
    struct status_priv *sp = calloc(1, sizeof *sp);
    if (!sp)
        return oom(s, what);
    sp->out = out;
    if (strcasecmp(mailbox, "INBOX") == 0 || session_enabled(s, "UTF8=ACCEPT")) {
        sp->wire = strdup(mailbox);
    } else {
        char e[120];
        if (mutf7_encode(mailbox, strlen(mailbox), &sp->wire, e, sizeof e) < 0) {
            free(sp);
            return cmd_failed(s, what, SESSION_ERR_USAGE, "%s: %s", what, e);
        }
    }
    if (!sp->wire) {
        free(sp);
        return oom(s, what);
    }
    struct command c;
    session_command_start(s, &c, "STATUS");
    command_mailbox(&c, mailbox, strlen(mailbox));
    const char *items = status_items(s);
    command_raw(&c, items, strlen(items));
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, what, status_handler, sp);
    command_free(&c);
    if (!sc || !sc->in_flight) {
        free(sp->wire);
        free(sp);
        if (sc)
            sc->ud = NULL;
        return sc;
    }
    sc->on_free = status_free;
    return sc;
}

int session_status(struct session *s, const char *mailbox, struct session_status_info *out,
                   char *err, size_t errlen)
{
    return cmd_finish(s, session_status_start(s, mailbox, out), err, errlen);
}

/* ---- CREATE DELETE SUBSCRIBE UNSUBSCRIBE RENAME ----------------------------------------- */

struct session_cmd *session_mailbox_op_start(struct session *s, enum session_mbop op,
                                             const char *mailbox)
{
    static const char *const verbs[] = { "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE" };
    const char *verb = verbs[op];
    char what[200];
    snprintf(what, sizeof what, "%s %s", verb, mailbox);
    struct command c;
    session_command_start(s, &c, verb);
    command_mailbox(&c, mailbox, strlen(mailbox));
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, what, NULL, NULL);
    command_free(&c);
    return sc;
}

int session_mailbox_op(struct session *s, enum session_mbop op, const char *mailbox,
                       char *err, size_t errlen)
{
    return cmd_finish(s, session_mailbox_op_start(s, op, mailbox), err, errlen);
}

struct session_cmd *session_rename_start(struct session *s, const char *from, const char *to)
{
    char what[200];
    snprintf(what, sizeof what, "RENAME %s", from);
    struct command c;
    session_command_start(s, &c, "RENAME");
    command_mailbox(&c, from, strlen(from));
    command_mailbox(&c, to, strlen(to));
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, what, NULL, NULL);
    command_free(&c);
    return sc;
}

int session_rename(struct session *s, const char *from, const char *to, char *err, size_t errlen)
{
    return cmd_finish(s, session_rename_start(s, from, to), err, errlen);
}

/* ---- split set commands (FETCH STORE COPY MOVE EXPUNGE) ----------------------------- */

typedef session_tail_fn tail_fn;

/* Sends "verb piece tail" for each piece of set that fits the line budget (one command for
 * "$"), chaining the parts to the first. Handler/ud/on_done go to every part. */
static struct session_cmd *send_split(struct session *s, const char *verb, const struct msgset *set,
                                      size_t tail_len, tail_fn tail, const void *arg,
                                      session_handler h, void *ud,
                                      void (*on_done)(struct session_cmd *, const struct imap_response *))
{
    if (set && set->n == 0)
        return cmd_failed(s, verb, SESSION_ERR_USAGE, "%s: empty message set", verb);
    size_t budget = LINE_BUDGET > tail_len + 64 + MSGSET_RANGE_MAX_TEXT
                  ? LINE_BUDGET - tail_len - 64 : MSGSET_RANGE_MAX_TEXT;
    char *piece = malloc(budget + 1);
    if (!piece)
        return oom(s, verb);
    struct session_cmd *head = NULL, *last = NULL;
    size_t pos = 0;
    do {
        struct command c;
        session_command_start(s, &c, verb);
        if (set) {
            size_t n = msgset_format_piece(set, &pos, piece, budget);
            if (n == 0) {
                command_free(&c);
                break;
            }
            command_atom(&c, piece);
        } else {
            command_atom(&c, "$");
        }
        tail(s, &c, arg);
        command_end(&c);
        struct session_cmd *sc = cmd_send(s, &c, verb, h, ud);
        command_free(&c);
        if (!sc) {
            sc = oom(s, verb);
            if (!sc)
                break;
        }
        if (sc->in_flight)
            sc->on_done = on_done;
        if (!cmd_chain(&head, &last, sc))
            break;     /* failed before sending: stop here */
    } while (set && pos < set->n);
    free(piece);
    if (!head)
        return oom(s, verb);
    return head;
}

struct session_cmd *session_send_split(struct session *s, const char *verb,
                                       const struct msgset *set, size_t tail_len,
                                       session_tail_fn tail, const void *arg,
                                       session_handler h, void *ud)
{
    return send_split(s, verb, set, tail_len, tail, arg, h, ud, NULL);
}

/* FETCH */

struct fetch_priv {
    session_fetch_fn cb;
    session_literal_fn lit;         /* offered big literals, or NULL */
    void *ud;
    bool stopped;
    struct session_literal cur;     /* the literal being taken (item in cur_item) */
    char cur_item[128];
    char names[32][24];             /* item names the command asked for, upper-cased, no section */
    size_t nnames;
    bool modseq;                    /* it asked for MODSEQ */
    int refs;                       /* parts sharing it */
    /* Two FETCHes of the same messages may be in flight at once: each claims a UID it asked
     * for once, the next answer for that UID belongs to the next command (or the view). */
    struct msgset want, got;
    bool have_want;                 /* false for "$" */
};

/* The UID in a FETCH response's list, or 0. */
static uint32_t fetch_uid(const struct imap_response *r)
{
    const struct imap_value *it = r->args[0].u.items;
    for (size_t i = 0; i + 1 < r->args[0].len; i += 2)
        if (it[i].type == IMAP_ATOM && it[i].len == 3 && strncasecmp(it[i].u.str, "UID", 3) == 0 &&
            it[i + 1].type == IMAP_NUMBER && it[i + 1].u.num <= UINT32_MAX)
            return (uint32_t)it[i + 1].u.num;
    return 0;
}

static void fetch_name_add(struct fetch_priv *fp, const char *n, size_t len)
{
    if (len == 0 || len >= sizeof fp->names[0] || fp->nnames == 32)
        return;
    char up[24];
    for (size_t i = 0; i < len; i++)
        up[i] = (char)((n[i] >= 'a' && n[i] <= 'z') ? n[i] - 32 : n[i]);
    up[len] = '\0';
    if (strcmp(up, "ALL") == 0 || strcmp(up, "FAST") == 0 || strcmp(up, "FULL") == 0) {
        fetch_name_add(fp, "FLAGS", 5);
        fetch_name_add(fp, "INTERNALDATE", 12);
        fetch_name_add(fp, "RFC822.SIZE", 11);
        if (up[1] != 'A') fetch_name_add(fp, "ENVELOPE", 8);
        if (up[1] == 'U') fetch_name_add(fp, "BODY", 4);
        return;
    }
    size_t l = strlen(up);
    if (l > 5 && strcmp(up + l - 5, ".PEEK") == 0)
        up[l - 5] = '\0';
    if (strcmp(up, "MODSEQ") == 0)
        fp->modseq = true;
    if (strcmp(up, "UID") == 0 || strcmp(up, "MODSEQ") == 0)
        return;
    memcpy(fp->names[fp->nnames++], up, strlen(up) + 1);
}

/* Item names from the item text: tokens outside [] and <>, up to the end of the item list (a
 * modifier such as "(CHANGEDSINCE 5)" may follow). */
static void fetch_names(struct fetch_priv *fp, const char *items)
{
    const char *p = items;
    int parens = 0;
    while (*p) {
        while (*p == ' ' || *p == '(' || *p == ')') {
            if (*p == '(')
                parens++;
            else if (*p == ')' && --parens <= 0)
                return;
            p++;
        }
        const char *b = p;
        while (*p && *p != ' ' && *p != '(' && *p != ')' && *p != '[' && *p != '<')
            p++;
        fetch_name_add(fp, b, (size_t)(p - b));
        int depth = 0;
        while (*p == '[' || *p == '<' || depth > 0) {
            if (*p == '[' || *p == '<') depth++;
            else if (*p == ']' || *p == '>') depth--;
            if (!*p) break;
            p++;
        }
    }
}

/* An item name as sent ("body[1]<0>") is one the command asked for. */
static bool fetch_asked(const struct fetch_priv *fp, const char *name, size_t len)
{
    size_t l = 0;
    while (l < len && name[l] != '[' && name[l] != '<')
        l++;
    for (size_t k = 0; k < fp->nnames; k++)
        if (strlen(fp->names[k]) == l && strncasecmp(fp->names[k], name, l) == 0)
            return true;
    return false;
}

/* True for a FETCH response of UID, FLAGS and MODSEQ alone, MODSEQ included: how a server with
 * CONDSTORE on reports a change of flags. */
static bool change_report(const struct imap_response *r)
{
    const struct imap_value *it = r->args[0].u.items;
    bool modseq = false;
    for (size_t i = 0; i + 1 < r->args[0].len; i += 2) {
        if (imap_value_is(&it[i], "MODSEQ"))
            modseq = true;
        else if (!imap_value_is(&it[i], "UID") && !imap_value_is(&it[i], "FLAGS"))
            return false;
    }
    return modseq;
}

static bool fetch_claims(const struct fetch_priv *fp, const struct imap_response *r)
{
    if (r->nargs < 1 || r->args[0].type != IMAP_LIST)
        return false;
    uint32_t uid = fetch_uid(r);
    /* A FETCH nobody reads (a cache's sync: what it learns comes through the selection's
     * watch) takes every response that fits, not only the first of each message: a second one
     * (its own answer after a STORE's report it took) must not wander to another FETCH. */
    if (uid && ((fp->have_want && !msgset_contains(&fp->want, uid)) ||
                (fp->cb && msgset_contains(&fp->got, uid))))
        return false;
    const struct imap_value *it = r->args[0].u.items;
    size_t n = r->args[0].len;
    bool has_uid = false;
    if (!fp->modseq && change_report(r)) {
        /* A flag change (another client's, or a STORE's answer with CONDSTORE on) arriving
         * meanwhile: not an answer to a FETCH that asked for more than FLAGS. */
        for (size_t k = 0; k < fp->nnames; k++)
            if (strcmp(fp->names[k], "FLAGS") != 0)
                return false;
    }
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (it[i].type != IMAP_ATOM)
            continue;
        size_t l = 0;
        while (l < it[i].len && it[i].u.str[l] != '[' && it[i].u.str[l] != '<')
            l++;
        if (l == 3 && strncasecmp(it[i].u.str, "UID", 3) == 0)
            has_uid = true;
        if (fetch_asked(fp, it[i].u.str, it[i].len))
            return true;
    }
    return fp->nnames == 0 && has_uid;
}

static int fetch_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    struct fetch_priv *fp = ud;
    if (r->status != IMAP_ST_NONE || !r->name || strcmp(r->name, "FETCH") != 0 ||
        !fetch_claims(fp, r))
        return 0;
    uint32_t uid = fetch_uid(r);
    if (uid && msgset_add(&fp->got, uid, uid) < 0) {
        session_cmd_fail(c, SESSION_ERR_NOMEM, "%s: out of memory", c->what);
        return SESSION_ERR_NOMEM;
    }
    if (fp->stopped)
        return 1;
    struct imap_fetch f;
    char msg[200];
    if (decode_fetch(r, &c->s->scratch, &f, msg, sizeof msg) < 0) {
        session_cmd_fail(c, SESSION_ERR_PROTOCOL, "%s: bad reply: %s", c->what, msg);
        return SESSION_ERR_PROTOCOL;
    }
    if (fp->cb && fp->cb(fp->ud, &f) != 0) {
        fp->stopped = true;
        session_cmd_fail(c, SESSION_ERR_CALLBACK, "%s: stopped by the callback", c->what);
        return SESSION_ERR_CALLBACK;
    }
    return 1;
}

/* A big literal of one of our FETCH replies (one directly in the list, of an item we asked
 * for), and then its bytes: offered to the caller's literal function. */
static int fetch_part(struct session_cmd *c, const struct imap_response *r)
{
    struct fetch_priv *fp = c->ud;
    struct session_literal *l = &fp->cur;
    if (r->part == IMAP_PART_LITERAL) {
        if (!r->name || strcmp(r->name, "FETCH") != 0 || r->depth != 1 || r->nopen < 2 ||
            r->nopen % 2 || r->open[r->nopen - 2].type != IMAP_ATOM)
            return 0;
        const struct imap_value *name = &r->open[r->nopen - 2];
        if (!fetch_asked(fp, name->u.str, name->len))
            return 0;
        if (fp->stopped)
            return 1;           /* dropped, not assembled */
        if (!fp->lit)
            return 0;
        size_t n = name->len < sizeof fp->cur_item - 1 ? name->len : sizeof fp->cur_item - 1;
        for (size_t i = 0; i < n; i++) {
            char ch = name->u.str[i];
            fp->cur_item[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
        }
        fp->cur_item[n] = '\0';
        memset(l, 0, sizeof *l);
        l->begin = true;
        l->seq = r->number;
        for (size_t i = 0; i + 2 < r->nopen; i += 2)
            if (imap_value_is(&r->open[i], "UID") && r->open[i + 1].type == IMAP_NUMBER)
                l->uid = r->open[i + 1].u.num;
        l->item = fp->cur_item;
        l->items = r->open;
        l->nitems = r->nopen - 2;
        l->size = l->left = r->lit_size;
        return fp->lit(fp->ud, l) ? 1 : 0;
    }
    if (r->part != IMAP_PART_DATA)
        return 0;
    if (fp->stopped)
        return 1;
    l->begin = false;
    l->items = NULL;
    l->nitems = 0;
    l->data = r->data;
    l->len = r->datalen;
    l->left = r->lit_left;
    if (fp->lit(fp->ud, l) != 0) {
        fp->stopped = true;
        session_cmd_fail(c, SESSION_ERR_CALLBACK, "%s: stopped by the callback", c->what);
    }
    return 1;
}

static void fetch_free(struct session_cmd *c)
{
    struct fetch_priv *fp = c->ud;
    if (fp && --fp->refs == 0) {
        msgset_free(&fp->want);
        msgset_free(&fp->got);
        free(fp);
    }
}

static void fetch_tail(struct session *s, struct command *c, const void *arg)
{
    (void)s;
    const char *items = arg;
    command_raw(c, items, strlen(items));
}

struct session_cmd *session_fetch_stream_start(struct session *s, const struct msgset *set,
                                               const char *items, session_fetch_fn cb,
                                               session_literal_fn lit, void *ud)
{
    if (!items || !items[0])
        return cmd_failed(s, "UID FETCH", SESSION_ERR_USAGE, "UID FETCH: no items given");
    struct fetch_priv *fp = calloc(1, sizeof *fp);
    if (!fp)
        return oom(s, "UID FETCH");
    fp->cb = cb;
    fp->lit = lit;
    fp->ud = ud;
    msgset_init(&fp->want);
    msgset_init(&fp->got);
    if (set) {
        if (msgset_copy(&fp->want, set) < 0) {
            free(fp);
            return oom(s, "UID FETCH");
        }
        fp->have_want = true;
    }
    fetch_names(fp, items);
    struct session_cmd *head = send_split(s, "UID FETCH", set, strlen(items), fetch_tail, items,
                                          fetch_handler, fp, NULL);
    for (struct session_cmd *p = head; p; p = p->part) {
        if (p->ud == fp) {
            fp->refs++;
            p->on_free = fetch_free;
            p->on_part = fetch_part;
        }
    }
    if (fp->refs == 0) {
        msgset_free(&fp->want);
        free(fp);
    }
    return head;
}

struct session_cmd *session_fetch_start(struct session *s, const struct msgset *set,
                                        const char *items, session_fetch_fn cb, void *ud)
{
    return session_fetch_stream_start(s, set, items, cb, NULL, ud);
}

static int wait_group(struct session *s, struct session_cmd *c, char *err, size_t errlen)
{
    return cmd_finish(s, c, err, errlen);
}

int session_fetch(struct session *s, const struct msgset *set, const char *items,
                  session_fetch_fn cb, void *ud, char *err, size_t errlen)
{
    return wait_group(s, session_fetch_start(s, set, items, cb, ud), err, errlen);
}

/* STORE */

struct store_arg {
    enum session_store_op op;
    const char *const *flags;
    size_t nflags;
    bool echo;
};

static void store_tail(struct session *s, struct command *c, const void *arg)
{
    (void)s;
    const struct store_arg *a = arg;
    static const char *const ops[] = { "+FLAGS.SILENT", "-FLAGS.SILENT", "FLAGS.SILENT" };
    static const char *const echo[] = { "+FLAGS", "-FLAGS", "FLAGS" };
    command_atom(c, (a->echo ? echo : ops)[a->op]);
    command_open(c);
    for (size_t i = 0; i < a->nflags; i++)
        command_atom(c, a->flags[i]);
    command_close(c);
}

static struct session_cmd *store_send(struct session *s, const struct msgset *set,
                                      enum session_store_op op, const char *const *flags,
                                      size_t nflags, bool echo)
{
    size_t tl = 20;
    for (size_t i = 0; i < nflags; i++) {
        if (!flags[i] || !flag_ok(flags[i]))
            return cmd_failed(s, "UID STORE", SESSION_ERR_USAGE, "UID STORE: invalid flag \"%s\"",
                              flags[i] ? flags[i] : "(null)");
        tl += strlen(flags[i]) + 1;
    }
    if ((unsigned)op > SESSION_STORE_REPLACE)
        return cmd_failed(s, "UID STORE", SESSION_ERR_USAGE, "UID STORE: invalid operation");
    struct store_arg a = { op, flags, nflags, echo };
    return send_split(s, "UID STORE", set, tl, store_tail, &a, NULL, NULL, NULL);
}

struct session_cmd *session_store_start(struct session *s, const struct msgset *set,
                                        enum session_store_op op, const char *const *flags,
                                        size_t nflags)
{
    return store_send(s, set, op, flags, nflags, false);
}

struct session_cmd *session_store_echo_start(struct session *s, const struct msgset *set,
                                             enum session_store_op op, const char *const *flags,
                                             size_t nflags)
{
    return store_send(s, set, op, flags, nflags, true);
}

int session_store(struct session *s, const struct msgset *set, enum session_store_op op,
                  const char *const *flags, size_t nflags, char *err, size_t errlen)
{
    return wait_group(s, session_store_start(s, set, op, flags, nflags), err, errlen);
}

/* COPY / MOVE */

static void copyuid_take(struct session_copyuid *o, const struct imap_code *code)
{
    if (!o || code->kind != IMAP_CODE_COPYUID)
        return;
    o->uidvalidity = (uint32_t)code->num;
    set_add_text(o->src, code->set1);
    set_add_text(o->dst, code->set2);
}

static int copy_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    (void)c;
    /* MOVE sends COPYUID in an untagged OK before the expunges (RFC 6851). */
    if (r->status == IMAP_ST_OK && r->code.kind == IMAP_CODE_COPYUID) {
        copyuid_take(ud, &r->code);
        return 1;
    }
    return 0;
}

static void copy_done(struct session_cmd *c, const struct imap_response *r)
{
    struct session_copyuid *o = c->ud;
    if (!o)
        return;
    if (c->res.status == SESSION_OK)
        copyuid_take(o, &r->code);
    else if (r->code.kind == IMAP_CODE_TRYCREATE)
        o->trycreate = true;
}

static void mailbox_tail(struct session *s, struct command *c, const void *arg)
{
    (void)s;
    const char *mb = arg;
    command_mailbox(c, mb, strlen(mb));
}

struct session_cmd *session_copy_start(struct session *s, const struct msgset *set,
                                       const char *mailbox, bool move, struct session_copyuid *out)
{
    const char *verb = move ? "UID MOVE" : "UID COPY";
    if (move) {
        struct session_cmd *f = need_cap(s, verb, "MOVE");
        if (f)
            return f;
    }
    if (out)
        out->trycreate = false;
    return send_split(s, verb, set, strlen(mailbox) * 2 + 8, mailbox_tail, mailbox,
                      copy_handler, out, copy_done);
}

int session_copy(struct session *s, const struct msgset *set, const char *mailbox, bool move,
                 struct session_copyuid *out, char *err, size_t errlen)
{
    return wait_group(s, session_copy_start(s, set, mailbox, move, out), err, errlen);
}

/* UID EXPUNGE */

static void no_tail(struct session *s, struct command *c, const void *arg)
{
    (void)s; (void)c; (void)arg;
}

struct session_cmd *session_expunge_start(struct session *s, const struct msgset *set)
{
    struct session_cmd *f = need_cap(s, "UID EXPUNGE", "UIDPLUS");
    if (f)
        return f;
    return send_split(s, "UID EXPUNGE", set, 0, no_tail, NULL, NULL, NULL, NULL);
}

int session_expunge(struct session *s, const struct msgset *set, char *err, size_t errlen)
{
    return wait_group(s, session_expunge_start(s, set), err, errlen);
}

struct session_cmd *session_expunge_all_start(struct session *s)
{
    return cmd_simple(s, "EXPUNGE");
}

/* ---- APPEND ------------------------------------------------------------------------ */

struct session_cmd *session_append_start(struct session *s, const char *mailbox,
                                         const char *const *flags, size_t nflags,
                                         const char *date, const char *msg, size_t len)
{
    char what[200];
    snprintf(what, sizeof what, "APPEND %s", mailbox);
    for (size_t i = 0; i < nflags; i++)
        if (!flags[i] || !flag_ok(flags[i]))
            return cmd_failed(s, what, SESSION_ERR_USAGE, "%s: invalid flag \"%s\"", what,
                              flags[i] ? flags[i] : "(null)");
    /* 8-bit and binary content goes as a literal8 (RFC 3516) where the server offers BINARY;
     * elsewhere NUL bytes cannot be sent at all. */
    bool eight = false;
    for (size_t i = 0; i < len && !eight; i++)
        eight = (unsigned char)msg[i] >= 0x80;
    bool nul = memchr(msg, '\0', len) != NULL;
    if (nul && !session_has_cap(s, "BINARY"))
        return cmd_failed(s, what, SESSION_ERR_USAGE, "%s: the message holds a NUL byte, which "
                          "only a server offering BINARY accepts", what);
    struct command c;
    session_command_start(s, &c, "APPEND");
    command_mailbox(&c, mailbox, strlen(mailbox));
    if (nflags) {
        command_open(&c);
        for (size_t i = 0; i < nflags; i++)
            command_atom(&c, flags[i]);
        command_close(&c);
    }
    if (date)
        command_string(&c, date, strlen(date));
    command_literal(&c, msg, len, c.binary && (nul || eight));
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, what, NULL, NULL);
    command_free(&c);
    return sc;
}

int session_append(struct session *s, const char *mailbox, const char *const *flags, size_t nflags,
                   const char *date, const char *msg, size_t len,
                   uint32_t *uidvalidity_out, uint32_t *uid_out, char *err, size_t errlen)
{
    struct session_cmd *sc = session_append_start(s, mailbox, flags, nflags, date, msg, len);
    if (sc && sc->s)
        session_wait(s, sc);
    const struct session_result *r = sc ? session_cmd_result(sc) : NULL;
    if (r && r->status == SESSION_OK && r->code_kind == IMAP_CODE_APPENDUID) {
        if (uidvalidity_out)
            *uidvalidity_out = (uint32_t)r->code_num;
        if (uid_out && r->set1)
            *uid_out = (uint32_t)strtoul(r->set1, NULL, 10);
    }
    return cmd_finish(s, sc, err, errlen);
}
