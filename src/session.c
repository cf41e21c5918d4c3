/* session.c — the IMAP connection core: greeting, STARTTLS, login, capabilities, the command
 * queue, and dispatch of every response to its command or the view. Its I/O on the loop and
 * the waits are in session_io.c. */
#include "session_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loop.h"
#include "msgset.h"

#define GREETING_CHUNK (16 * 1024)

/* ---- small helpers ----------------------------------------------------------------- */

void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Copies the atom/string texts of items (others skipped). */
int strv_from_values(const struct imap_value *items, size_t n, char ***out, size_t *nout)
{
    char **v = calloc(n ? n : 1, sizeof *v);
    size_t k = 0;
    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (items[i].type != IMAP_ATOM && items[i].type != IMAP_STRING)
            continue;
        v[k] = strndup(items[i].u.str, items[i].len);
        if (!v[k]) {
            strv_free(v, k);
            return -1;
        }
        k++;
    }
    *out = v;
    *nout = k;
    return 0;
}

int strv_replace(char ***v, size_t *n, const struct imap_value *items, size_t nitems)
{
    char **nv;
    size_t k;
    if (strv_from_values(items, nitems, &nv, &k) < 0)
        return -1;
    strv_free(*v, *n);
    *v = nv;
    *n = k;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void view_clear(struct session_view *v)
{
    free(v->name);
    strv_free(v->flags, v->nflags);
    strv_free(v->permanentflags, v->npermanentflags);
    memset(v, 0, sizeof *v);
}

void session_watch_set(struct session *s, session_watch_fn fn, void *ud)
{
    session_watch_fn old = s->watch;
    void *old_ud = s->watch_ud;
    s->watch = fn;
    s->watch_ud = ud;
    if (old && (old != fn || old_ud != ud))
        old(old_ud, SESSION_WATCH_END, NULL);
}

void warnf(struct session *s, const char *fmt, ...)
{
    if (!s->cfg.warn)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->cfg.warn(s->cfg.warn_ud, msg);
}

int map_transport(int rc)
{
    return rc == TRANSPORT_ERR_TLS ? SESSION_ERR_TLS
         : rc == TRANSPORT_ERR_NOMEM ? SESSION_ERR_NOMEM
         : rc == TRANSPORT_ERR_CONFIG ? SESSION_ERR_TLS
         : SESSION_ERR_NET;
}

/* ---- capabilities ------------------------------------------------------------------ */

int caps_set_from_values(struct session *s, const struct imap_value *items, size_t n)
{
    if (strv_replace(&s->caps, &s->ncaps, items, n) < 0)
        return -1;
    for (size_t i = 0; i < s->ncaps; i++)
        for (char *p = s->caps[i]; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 32);
    s->caps_fresh = true;
    return 0;
}

bool session_has_cap(const struct session *s, const char *cap)
{
    for (size_t i = 0; i < s->ncaps; i++)
        if (strcasecmp(s->caps[i], cap) == 0)
            return true;
    return false;
}

const char *const *session_caps(const struct session *s, size_t *n)
{
    *n = s->ncaps;
    return (const char *const *)s->caps;
}

bool session_enabled(const struct session *s, const char *ext)
{
    for (size_t i = 0; i < s->nenabled; i++)
        if (strcasecmp(s->enabled[i], ext) == 0)
            return true;
    return false;
}

static void enabled_add(struct session *s, const struct imap_value *items, size_t n)
{
    char **v;
    size_t k;
    if (strv_from_values(items, n, &v, &k) < 0)
        return;
    char **all = realloc(s->enabled, (s->nenabled + k + 1) * sizeof *all);
    if (!all) {
        strv_free(v, k);
        return;
    }
    s->enabled = all;
    for (size_t i = 0; i < k; i++)
        s->enabled[s->nenabled++] = v[i];
    free(v);
}

/* ---- accessors --------------------------------------------------------------------- */

enum session_state session_state(const struct session *s) { return s->state; }
const char *session_error(const struct session *s) { return s->err[0] ? s->err : "no error"; }
const char *session_label(const struct session *s) { return s->label; }
const struct session_view *session_view(const struct session *s) { return &s->view; }

void session_set_event_handler(struct session *s, session_event_fn fn, void *ud)
{
    s->ev = fn;
    s->ev_ud = ud;
}

void session_counters(const struct session *s, struct session_counters *out)
{
    memset(out, 0, sizeof *out);
    out->commands = s->ncommands;
    const struct transport_stats *st = s->t ? transport_stats(s->t) : &s->last_stats;
    out->bytes_in = st->bytes_in;
    out->bytes_out = st->bytes_out;
    out->round_trips = st->round_trips;
    out->writes = st->writes;
    out->reads = st->reads;
    out->wire_in = st->wire_in;
    out->wire_out = st->wire_out;
    out->tls = s->t && transport_is_tls(s->t);
    out->compressed = s->t && transport_is_compressed(s->t);
}

/* ---- commands: results ------------------------------------------------------------- */

const char *session_cmd_tag(const struct session_cmd *c) { return c->tag; }

bool cmd_complete(const struct session_cmd *c)
{
    return c->res.status != SESSION_PENDING && !c->in_flight;
}

/* For a split command: the first part that did not succeed, else the head. */
const struct session_result *session_cmd_result(const struct session_cmd *c)
{
    for (const struct session_cmd *p = c; p; p = p->part)
        if (p->res.status != SESSION_OK)
            return &p->res;
    return &c->res;
}

int session_cmd_error(const struct session_cmd *c, char *err, size_t errlen)
{
    const struct session_result *r = session_cmd_result(c);
    if (err && errlen)
        snprintf(err, errlen, "%s", r->error ? r->error : "");
    return r->status == SESSION_OK ? 0 : r->code ? r->code : SESSION_ERR_PROTOCOL;
}

static void cmd_set_str(struct session_cmd *c, int slot, const char **field, const char *v)
{
    free(c->strs[slot]);
    c->strs[slot] = v ? strdup(v) : NULL;
    *field = c->strs[slot] ? c->strs[slot] : (slot == 0 ? "" : NULL);
}

/* Marks c failed (unless it already failed) with a formatted message. */
static void cmd_failv(struct session_cmd *c, int code, const char *fmt, va_list ap)
{
    if (c->res.status == SESSION_FAILED)
        return;
    c->res.status = SESSION_FAILED;
    c->res.code = code;
    vsnprintf(c->errbuf, sizeof c->errbuf, fmt, ap);
    c->res.error = c->errbuf;
}

void session_cmd_fail(struct session_cmd *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cmd_failv(c, code, fmt, ap);
    va_end(ap);
}

static struct session_cmd *cmd_alloc(struct session *s, const char *what)
{
    struct session_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = s;
    snprintf(c->what, sizeof c->what, "%s", what);
    c->res.status = SESSION_PENDING;
    c->res.text = "";
    c->res.error = "";
    return c;
}

struct session_cmd *cmd_failed(struct session *s, const char *what, int code, const char *fmt, ...)
{
    struct session_cmd *c = cmd_alloc(s, what);
    if (!c)
        return NULL;
    c->s = NULL;
    va_list ap;
    va_start(ap, fmt);
    cmd_failv(c, code, fmt, ap);
    va_end(ap);
    return c;
}

static void cmd_destroy(struct session_cmd *c)
{
    if (c->on_free)
        c->on_free(c);
    if (c->buf && c->has_secret)
        explicit_bzero(c->buf, c->len);
    free(c->buf);
    free(c->waits);
    for (int i = 0; i < 6; i++)
        free(c->strs[i]);
    free(c);
}

void session_cmd_free(struct session_cmd *c)
{
    while (c) {
        struct session_cmd *next = c->part;
        c->part = NULL;
        if (c->in_flight) {
            c->orphan = true;       /* the session frees it when its reply comes */
            if (c->own_hooks && c->on_orphan)
                c->on_orphan(c);
            if (!c->own_hooks) {    /* the owner's output structs may be gone */
                c->h = NULL;
                c->on_done = NULL;
                c->on_part = NULL;
                c->on_drain = NULL;
                c->part_h = NULL;
            }
        } else
            cmd_destroy(c);
        c = next;
    }
}

/* Removes c from the queue and frees it if its owner already let go. */
void cmd_complete_now(struct session *s, struct session_cmd *c)
{
    struct session_cmd **pp = &s->qhead, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp) {
        *pp = c->qnext;
        if (s->qtail == c)
            s->qtail = prev;
    }
    c->qnext = NULL;
    c->in_flight = false;
    c->await_cont = false;
    c->open = false;
    c->woff = c->len;
    if (s->part_cmd == c) {
        s->part_cmd = NULL;
        s->part_drop = true;    /* the rest of what it took goes nowhere */
    }
    s->unacked -= c->unacked < s->unacked ? c->unacked : s->unacked;
    c->unacked = 0;
    if (c->buf && c->has_secret) {
        explicit_bzero(c->buf, c->len);
        c->has_secret = false;
    }
    if (c->orphan)
        cmd_destroy(c);
}

/* "[NAME text] " for messages, "" when there is no code. */
static void format_code(const struct imap_code *code, char *buf, size_t len)
{
    if (code->kind == IMAP_CODE_NONE || !code->name) {
        buf[0] = '\0';
        return;
    }
    if (code->text && code->text[0])
        snprintf(buf, len, "[%s %s] ", code->name, code->text);
    else
        snprintf(buf, len, "[%s] ", code->name);
}

static void cmd_record(struct session_cmd *c, const struct imap_response *r)
{
    cmd_set_str(c, 0, &c->res.text, r->text ? r->text : "");
    c->res.code_kind = r->code.kind;
    cmd_set_str(c, 1, &c->res.code_name, r->code.kind != IMAP_CODE_NONE ? r->code.name : NULL);
    cmd_set_str(c, 2, &c->res.code_text, r->code.kind != IMAP_CODE_NONE ? r->code.text : NULL);
    cmd_set_str(c, 3, &c->res.set1, r->code.set1);
    cmd_set_str(c, 4, &c->res.set2, r->code.set2);
    c->res.code_num = r->code.num;
    if (c->res.status == SESSION_FAILED)
        return;   /* a handler failed it: keep that error */
    if (r->status == IMAP_ST_OK) {
        c->res.status = SESSION_OK;
        c->res.code = 0;
        return;
    }
    char code[300];
    format_code(&r->code, code, sizeof code);
    bool no = r->status == IMAP_ST_NO;
    c->res.status = no ? SESSION_NO : SESSION_BAD;
    c->res.code = no ? SESSION_ERR_NO : SESSION_ERR_BAD;
    snprintf(c->errbuf, sizeof c->errbuf, "%s: %s %s%s", c->what, no ? "NO" : "BAD", code,
             r->text ? r->text : "");
    c->res.error = c->errbuf;
}

/* ---- breaking the session ---------------------------------------------------------- */

/* Closes the connection, keeping its counters. */
void session_close_transport(struct session *s)
{
    if (s->t) {
        s->last_stats = *transport_stats(s->t);   /* counters outlive the connection */
        transport_close(s->t);
        s->t = NULL;
    }
    if (s->loop)
        loop_timer_disarm(s->loop, &s->timer);
}

/* The connection is gone or unusable: every in-flight command fails naming itself, and the
 * session's error names the command that was running. */
void session_break(struct session *s, int code, const char *why)
{
    if (s->state == SESSION_BROKEN)
        return;
    if (s->qhead)
        snprintf(s->err, sizeof s->err, "%s: %s", s->qhead->what, why);
    else
        snprintf(s->err, sizeof s->err, "%s", why);
    s->errcode = code;
    s->state = SESSION_BROKEN;
    while (s->qhead) {
        struct session_cmd *c = s->qhead;
        session_cmd_fail(c, code, "%s: %s", c->what, why);
        cmd_complete_now(s, c);
    }
    session_close_transport(s);
    view_clear(&s->view);
    session_watch_set(s, NULL, NULL);
}

/* ---- sending ----------------------------------------------------------------------- */

void session_command_init(struct session *s, struct command *c)
{
    enum literal_mode lit = LITERAL_SYNC;
    if (!s->cfg.no_literal_plus) {
        if (session_has_cap(s, "LITERAL+"))
            lit = LITERAL_PLUS;
        else if (session_has_cap(s, "LITERAL-"))
            lit = LITERAL_MINUS;
    }
    command_init(c, lit);
    c->utf8 = session_enabled(s, "UTF8=ACCEPT");
    c->binary = session_has_cap(s, "BINARY");
}

void session_command_start(struct session *s, struct command *c, const char *verb)
{
    session_command_init(s, c);
    char tag[16];
    snprintf(tag, sizeof tag, "A%lu", ++s->tagn);
    command_start(c, tag, verb);
}

/* The verb after the tag, two words for "UID X". */
static void verb_of(const struct command *c, char *out, size_t outlen)
{
    const char *b = c->buf, *e = c->buf + c->len;
    const char *p = memchr(b, ' ', c->len);
    out[0] = '\0';
    if (!p)
        return;
    p++;
    const char *q = p;
    while (q < e && *q != ' ' && *q != '\r')
        q++;
    if (q - p == 3 && strncasecmp(p, "UID", 3) == 0 && q < e && *q == ' ') {
        q++;
        while (q < e && *q != ' ' && *q != '\r')
            q++;
    }
    size_t n = (size_t)(q - p);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* cmd_send, or with open the start of a command whose bytes follow (session_stream.c). */
static struct session_cmd *cmd_queue(struct session *s, struct command *c, const char *what,
                                     session_handler h, void *ud, bool open)
{
    char verb[64];
    if (c->buf)
        verb_of(c, verb, sizeof verb);
    else
        snprintf(verb, sizeof verb, "command");
    if (!what)
        what = verb;
    if (s->state == SESSION_BROKEN)
        return cmd_failed(s, what, s->errcode, "%s: session unusable: %s", what, s->err);
    if (s->state == SESSION_LOGOUT)
        return cmd_failed(s, what, SESSION_ERR_CLOSED, "%s: session logged out", what);
    if (c->err || c->len < 2 || (!open && memcmp(c->buf + c->len - 2, "\r\n", 2) != 0))
        return cmd_failed(s, what, c->err == -ENOMEM ? SESSION_ERR_NOMEM : SESSION_ERR_USAGE,
                          "%s: %s", what, c->err == -ENOMEM ? "out of memory"
                          : c->err ? "invalid argument for the command"
                          : "command not finished (command_end missing)");
    struct session_cmd *sc = cmd_alloc(s, what);
    if (!sc)
        return NULL;
    if (session_tracing(s)) {
        char *t = NULL;
        if (command_trace(c, &t) == 0) {
            session_trace_out(s, t, strlen(t));
            free(t);
        }
    }
    snprintf(sc->tag, sizeof sc->tag, "%s", c->tag);
    sc->buf = c->buf;
    sc->len = c->len;
    sc->cap = c->cap;
    sc->waits = c->waits;
    sc->nwaits = c->nwaits;
    sc->has_secret = c->nsecrets > 0;
    c->buf = NULL;
    c->len = c->cap = 0;
    c->waits = NULL;
    c->nwaits = c->capwaits = 0;
    sc->h = h;
    sc->ud = ud;
    sc->in_flight = true;
    sc->open = open;
    if (s->qtail)
        s->qtail->qnext = sc;
    else
        s->qhead = sc;
    s->qtail = sc;
    return sc;
}

struct session_cmd *cmd_send(struct session *s, struct command *c, const char *what,
                             session_handler h, void *ud)
{
    return cmd_queue(s, c, what, h, ud, false);
}

struct session_cmd *cmd_send_open(struct session *s, struct command *c, const char *what)
{
    return cmd_queue(s, c, what, NULL, NULL, true);
}

struct session_cmd *session_send(struct session *s, struct command *c, session_handler h, void *ud)
{
    return cmd_send(s, c, NULL, h, ud);
}

/* ---- dispatch ---------------------------------------------------------------------- */

/* The in-flight command with that tag; only written ones (a reply to a command the server has
 * not seen yet is a lie, reported as an unknown tag). */
static struct session_cmd *find_tag(struct session *s, const char *tag)
{
    for (struct session_cmd *c = s->qhead; c; c = c->qnext)
        if (c->woff > 0 && strcmp(c->tag, tag) == 0)
            return c;
    return NULL;
}

static void view_codes(struct session *s, const struct imap_response *r)
{
    struct session_view *v = &s->view;
    if (!v->name)
        return;
    switch (r->code.kind) {
    case IMAP_CODE_UIDNEXT: v->uidnext = (uint32_t)r->code.num; break;
    case IMAP_CODE_UIDVALIDITY: v->uidvalidity = (uint32_t)r->code.num; break;
    case IMAP_CODE_HIGHESTMODSEQ: v->highestmodseq = r->code.num; break;
    case IMAP_CODE_READ_ONLY: v->read_only = true; break;
    case IMAP_CODE_READ_WRITE: v->read_only = false; break;
    case IMAP_CODE_CLOSED: session_watch_set(s, NULL, NULL); break;
    case IMAP_CODE_PERMANENTFLAGS:
        strv_replace(&v->permanentflags, &v->npermanentflags, r->code.list, r->code.nlist);
        break;
    default: break;
    }
}

/* Unclaimed data the mailbox view keeps track of. */
static void view_update(struct session *s, const struct imap_response *r)
{
    struct session_view *v = &s->view;
    if (r->status != IMAP_ST_NONE) {
        view_codes(s, r);
        return;
    }
    if (!r->name)
        return;
    if (strcmp(r->name, "CAPABILITY") == 0) {
        caps_set_from_values(s, r->args, r->nargs);
    } else if (strcmp(r->name, "ENABLED") == 0) {
        enabled_add(s, r->args, r->nargs);
    } else if (!v->name) {
        return;
    } else if (strcmp(r->name, "EXISTS") == 0 && r->has_number) {
        v->exists = (uint32_t)r->number;
    } else if (strcmp(r->name, "RECENT") == 0 && r->has_number) {
        v->recent = (uint32_t)r->number;
    } else if (strcmp(r->name, "EXPUNGE") == 0) {
        if (v->exists)
            v->exists--;
        v->expunges++;
    } else if (strcmp(r->name, "VANISHED") == 0) {
        struct imap_vanished van;
        char e[160];
        if (decode_vanished(r, &s->scratch, &van, e, sizeof e) == 0 && !van.earlier && van.uids) {
            struct msgset set;
            msgset_init(&set);
            if (msgset_parse(&set, van.uids, strlen(van.uids), 0, e, sizeof e) == 0) {
                uint64_t k = msgset_count(&set);
                v->exists = k >= v->exists ? 0 : v->exists - (uint32_t)k;
                v->expunges += k;
            }
            msgset_free(&set);
        }
    } else if (strcmp(r->name, "FLAGS") == 0 && r->nargs == 1 && r->args[0].type == IMAP_LIST) {
        strv_replace(&v->flags, &v->nflags, r->args[0].u.items, r->args[0].len);
    }
}

static void dispatch_untagged(struct session *s, const struct imap_response *r)
{
    if (r->status != IMAP_ST_NONE) {
        if (r->code.kind == IMAP_CODE_CAPABILITY)
            caps_set_from_values(s, r->code.list, r->code.nlist);
        if (r->code.kind == IMAP_CODE_ALERT)
            warnf(s, "%s: server alert: %s", s->label, r->text ? r->text : "");
    }
    if (s->idle && !cmd_complete(s->idle))
        s->idle_events++;
    /* While a SELECT is being answered, what comes is the new mailbox's (its handler passes it
     * on to its own watch). */
    if (s->watch && !(s->qhead && s->qhead->is_select))
        s->watch(s->watch_ud, SESSION_WATCH_RESPONSE, r);
    for (struct session_cmd *c = s->qhead; c; c = c->qnext) {
        if (!c->h)
            continue;
        int rc = c->h(c, r, c->ud);
        if (rc < 0)
            session_cmd_fail(c, rc, "%s: failed while reading the reply", c->what);
        if (rc != 0)
            return;
    }
    view_update(s, r);
    if (s->ev)
        s->ev(s->ev_ud, r);
}

/* Calls the hook of the command taking the parts of the response arriving now. */
static void part_to(struct session *s, struct session_cmd *c, const struct imap_response *r)
{
    int rc = c->on_part ? c->on_part(c, r) : 0;
    if (rc < 0) {
        session_cmd_fail(c, rc, "%s: failed while reading the reply", c->what);
        s->part_cmd = NULL;
        s->part_drop = true;
    }
}

/* A part of a response still arriving (a big literal, a long line of numbers): the first is
 * offered to the written commands that take parts, the rest go to the one that took it. A big
 * literal nobody takes is assembled; a long line nobody takes is dropped with a warning. */
static void dispatch_part(struct session *s, const struct imap_response *r)
{
    bool first = r->part == IMAP_PART_LITERAL ||
                 (r->part == IMAP_PART_VALUES && !s->part_cmd && !s->part_drop);
    if (first) {
        s->part_cmd = NULL;
        s->part_drop = false;
        for (struct session_cmd *c = s->qhead; c; c = c->qnext) {
            if (!c->on_part || c->woff == 0)
                continue;
            int rc = c->on_part(c, r);
            if (rc == 0)
                continue;
            if (rc < 0) {
                session_cmd_fail(c, rc, "%s: failed while reading the reply", c->what);
                s->part_drop = true;
            } else {
                s->part_cmd = c;
            }
            break;
        }
        if (r->part == IMAP_PART_LITERAL) {
            if (s->part_cmd || s->part_drop)
                parser_stream_literal(s->p);
            return;
        }
        if (!s->part_cmd && !s->part_drop) {
            warnf(s, "%s: ignoring an unrequested %s response of more than %zu bytes", s->label,
                  r->name, (size_t)SESSION_STREAM_LIST);
            s->part_drop = true;
        }
        return;
    }
    if (s->part_cmd)
        part_to(s, s->part_cmd, r);
    if (r->part == IMAP_PART_DATA && r->lit_left == 0) {
        s->part_cmd = NULL;     /* the literal is complete: the response goes on as usual */
        s->part_drop = false;
    }
}

void session_dispatch(struct session *s, const struct imap_response *r)
{
    if (r->part != IMAP_PART_NONE) {
        dispatch_part(s, r);
        return;
    }
    if (r->tail) {              /* the end of a long line: for whoever took its parts */
        if (s->part_cmd)
            part_to(s, s->part_cmd, r);
        s->part_cmd = NULL;
        s->part_drop = false;
        return;
    }
    if (r->kind == IMAP_TAGGED) {
        struct session_cmd *c = find_tag(s, r->tag ? r->tag : "");
        if (!c) {
            warnf(s, "%s: ignoring a reply with unknown tag %s", s->label, r->tag ? r->tag : "");
            return;
        }
        if (r->code.kind == IMAP_CODE_CAPABILITY)
            caps_set_from_values(s, r->code.list, r->code.nlist);
        if (s->watch && !c->is_select)
            s->watch(s->watch_ud, SESSION_WATCH_RESPONSE, r);
        cmd_record(c, r);
        if (c->on_done)
            c->on_done(c, r);
        /* After STARTTLS or COMPRESS the stream changes: read nothing more until it did. */
        s->hold = s->hold || c->switches_stream;
        cmd_complete_now(s, c);
        return;
    }
    if (r->kind == IMAP_CONTINUE) {
        for (struct session_cmd *c = s->qhead; c; c = c->qnext) {
            if (c->await_cont) {
                c->await_cont = false;
                return;   /* the next flush writes the literal */
            }
        }
        for (struct session_cmd *c = s->qhead; c; c = c->qnext) {
            if (c->on_cont && c->woff >= c->len) {
                int rc = c->on_cont(c, r);
                if (rc < 0 && s->state != SESSION_BROKEN)
                    session_break(s, rc, "could not answer the server's continuation");
                return;
            }
        }
        warnf(s, "%s: ignoring an unexpected continuation request", s->label);
        return;
    }
    if (r->status == IMAP_ST_BYE) {
        snprintf(s->bye_text, sizeof s->bye_text, "%s", r->text ? r->text : "");
        s->bye_seen = true;
        for (struct session_cmd *c = s->qhead; c; c = c->qnext)
            if (c->is_logout)
                return;   /* expected: the tagged OK follows */
        char why[300];
        snprintf(why, sizeof why, "connection closed by server (BYE %s)", s->bye_text);
        session_break(s, SESSION_ERR_CLOSED, why);
        return;
    }
    dispatch_untagged(s, r);
}

static int line_part(struct session_cmd *c, const struct imap_response *r)
{
    if (r->part != IMAP_PART_VALUES && !r->tail)
        return 0;                   /* a literal: not for a caller of take_lines */
    return c->part_h ? c->part_h(c, r, c->ud) : 0;
}

void session_cmd_take_lines(struct session_cmd *c, session_handler fn)
{
    for (; c; c = c->part) {
        if (!c->in_flight)
            continue;
        c->part_h = fn;
        c->on_part = line_part;
    }
}

bool cmd_chain(struct session_cmd **head, struct session_cmd **last, struct session_cmd *sc)
{
    if (!*head)
        *head = sc;
    else
        (*last)->part = sc;
    *last = sc;
    return sc->in_flight;
}

/* Sync wrapper tail: waits, copies the error, frees. */
int cmd_finish(struct session *s, struct session_cmd *c, char *err, size_t errlen)
{
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return SESSION_ERR_NOMEM;
    }
    if (c->s)
        session_wait(s, c);
    int rc = session_cmd_error(c, err, errlen);
    session_cmd_free(c);
    return rc;
}

/* ---- lifecycle --------------------------------------------------------------------- */

/* What is left of a session once nothing stands on it any more. */
static void session_destroy(void *ud)
{
    struct session *s = ud;
    parser_free(s->p);
    arena_free(&s->scratch);
    strv_free(s->caps, s->ncaps);
    strv_free(s->enabled, s->nenabled);
    view_clear(&s->view);
    free(s->out);
    free(s->host);
    free(s->verify_name);
    free(s->ca_file);
    free(s->fingerprint);
    free(s->user);
    free(s->label);
    free(s->tunnel);
    free(s);
}

void session_free(struct session *s)
{
    if (!s || s->doomed)
        return;
    s->watch = NULL;        /* its owner goes too: nothing more to tell */
    while (s->qhead) {
        struct session_cmd *c = s->qhead;
        session_cmd_fail(c, SESSION_ERR_CLOSED, "%s: session closed", c->what);
        c->s = NULL;
        cmd_complete_now(s, c);
    }
    session_cmd_free(s->idle);
    s->idle = NULL;
    if (s->loop)
        loop_timer_disarm(s->loop, &s->timer);
    transport_close(s->t);
    s->t = NULL;
    if (s->password) {
        explicit_bzero(s->password, s->password_len);
        free(s->password);
        s->password = NULL;
    }
    if (s->token) {
        explicit_bzero(s->token, s->token_len);
        free(s->token);
        s->token = NULL;
    }
    if (s->in_dispatch && s->loop) {
        /* Freed by a callback of its own dispatch, which still stands on s: nothing more
         * reaches the owner, and the memory goes at the end of the loop's round. */
        s->doomed = true;
        s->state = SESSION_BROKEN;
        s->cfg.warn = NULL;
        s->cfg.trace = NULL;
        s->cfg.trace_file = NULL;
        s->ev = NULL;
        loop_later(s->loop, session_destroy, s);
        return;
    }
    session_destroy(s);
}

/* A line the tunnel command wrote to its stderr: a warning naming the account. */
static void tunnel_line(void *ud, const char *line)
{
    struct session *s = ud;
    warnf(s, "%s: %s", s->label, line);
}

static int fail_open(struct session *s, int code, char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    session_free(s);
    return code;
}

/* Sends verb [arg] and waits for the reply, writing nothing after it meanwhile: after the
 * server's OK the stream changes (TLS, compression). Returns 0 or the SESSION_ERR_* code; err
 * gets the reply's error. */
static int barrier_command(struct session *s, const char *verb, const char *arg, char *err,
                           size_t errlen)
{
    struct command c;
    session_command_start(s, &c, verb);
    if (arg)
        command_atom(&c, arg);
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, verb, NULL, NULL);
    command_free(&c);
    if (!sc) {
        snprintf(err, errlen, "out of memory");
        return SESSION_ERR_NOMEM;
    }
    sc->barrier = true;
    sc->switches_stream = true;
    int rc = session_wait(s, sc);
    session_cmd_error(sc, err, errlen);
    session_cmd_free(sc);
    if (rc < 0)
        session_resume(s);   /* refused: the stream stays as it was */
    return rc;
}

static int do_starttls(struct session *s, char *err, size_t errlen)
{
    if (!session_has_cap(s, "STARTTLS")) {
        snprintf(err, errlen, "%s: STARTTLS requested but the server does not offer it; "
                 "refusing to continue in plaintext", s->label);
        return SESSION_ERR_TLS;
    }
    int rc = barrier_command(s, "STARTTLS", NULL, err, errlen);
    if (rc < 0)
        return rc == SESSION_ERR_NO || rc == SESSION_ERR_BAD ? SESSION_ERR_TLS : rc;
    /* Anything the server sent after its OK came before TLS and could be injected: refuse. */
    if (s->committed != parser_offset(s->p)) {
        snprintf(err, errlen, "STARTTLS: the server sent plaintext data after its OK "
                 "(possible injection); refusing to continue");
        return SESSION_ERR_TLS;
    }
    int trc = transport_starttls(s->t, err, errlen);
    if (trc < 0)
        return map_transport(trc);
    session_resume(s);
    /* Capabilities learnt in plaintext are not trusted. */
    strv_free(s->caps, s->ncaps);
    s->caps = NULL;
    s->ncaps = 0;
    s->caps_fresh = false;
    return session_capability(s, err, errlen);
}

int session_connect(const struct session_config *cfg, struct session **out, char *err, size_t errlen)
{
    *out = NULL;
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return SESSION_ERR_NOMEM;
    }
    s->cfg = *cfg;
    s->host = dup_or_null(cfg->host);
    s->verify_name = dup_or_null(cfg->verify_name);
    s->ca_file = dup_or_null(cfg->ca_file);
    s->fingerprint = dup_or_null(cfg->fingerprint);
    s->user = dup_or_null(cfg->user);
    s->tunnel = dup_or_null(cfg->tunnel);
    if (cfg->password) {
        s->password_len = cfg->password_len ? cfg->password_len : strlen(cfg->password);
        s->password = malloc(s->password_len + 1);
        if (s->password) {
            memcpy(s->password, cfg->password, s->password_len);
            s->password[s->password_len] = '\0';
        }
    }
    if (cfg->token) {
        s->token_len = strlen(cfg->token);
        s->token = strdup(cfg->token);
    }
    if (cfg->label) {
        s->label = strdup(cfg->label);
    } else if (cfg->host || cfg->tunnel) {
        const char *where = cfg->host ? cfg->host : "tunnel";
        size_t n = (cfg->user ? strlen(cfg->user) + 1 : 0) + strlen(where) + 1;
        s->label = malloc(n);
        if (s->label)
            snprintf(s->label, n, "%s%s%s", cfg->user ? cfg->user : "", cfg->user ? "@" : "",
                     where);
    }
    s->cfg.host = s->host;
    s->cfg.verify_name = s->verify_name;
    s->cfg.ca_file = s->ca_file;
    s->cfg.fingerprint = s->fingerprint;
    s->cfg.user = s->user;
    s->cfg.tunnel = s->tunnel;
    s->cfg.password = NULL;     /* only s->password and s->token hold them */
    s->cfg.token = NULL;
    s->cfg.label = s->label;
    arena_init(&s->scratch, 16384);
    struct imap_parser_limits lim = {
        .max_line = cfg->max_line, .stream_literal = SESSION_STREAM_LITERAL,
        .stream_list = SESSION_STREAM_LIST,
    };
    s->p = parser_new(&lim);
    if ((!s->host && !s->tunnel) || !s->label || !s->p || (cfg->user && !s->user) ||
        (cfg->password && !s->password) || (cfg->token && !s->token) ||
        (cfg->verify_name && !s->verify_name) || (cfg->ca_file && !s->ca_file) ||
        (cfg->fingerprint && !s->fingerprint) || (cfg->host && !s->host) ||
        (cfg->tunnel && !s->tunnel))
        return fail_open(s, cfg->host || cfg->tunnel ? SESSION_ERR_NOMEM : SESSION_ERR_USAGE,
                         err, errlen, cfg->host || cfg->tunnel ? "out of memory" : "no host given");

    s->loop = cfg->loop ? cfg->loop : loop_default();
    if (!s->loop)
        return fail_open(s, SESSION_ERR_NOMEM, err, errlen, "out of memory");
    struct transport_config tc = {
        .loop = s->loop,
        .host = s->host,
        .port = cfg->port ? cfg->port : (cfg->tls == SESSION_TLS_IMPLICIT ? 993 : 143),
        .tls = cfg->tls == SESSION_TLS_IMPLICIT,
        .verify_name = s->verify_name,
        .ca_file = s->ca_file,
        .fingerprint = s->fingerprint,
        .insecure = cfg->insecure,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .io_timeout_ms = cfg->io_timeout_ms,
        .tunnel = s->tunnel,
        .tunnel_line = tunnel_line,
        .tunnel_ud = s,
    };
    char msg[600];
    int trc = transport_connect(&tc, &s->t, msg, sizeof msg);
    if (trc < 0)
        return fail_open(s, map_transport(trc), err, errlen, msg);

    /* The greeting: OK, PREAUTH or BYE. Dovecot may send an OK before it (auth process slow);
     * every untagged OK counts, the capability code refreshes the list. */
    struct imap_response *r;
    for (;;) {
        int pr = parser_next(s->p, &r);
        if (pr == 1)
            break;
        if (pr < 0) {
            snprintf(msg, sizeof msg, "%s: greeting: protocol error: %s", s->label, parser_error(s->p));
            return fail_open(s, SESSION_ERR_PROTOCOL, err, errlen, msg);
        }
        size_t avail;
        char *space = parser_space(s->p, GREETING_CHUNK, &avail);
        if (!space)
            return fail_open(s, SESSION_ERR_NOMEM, err, errlen, "out of memory");
        ssize_t n = transport_read(s->t, space, avail);
        if (n <= 0) {
            snprintf(msg, sizeof msg, "%s: greeting: %s", s->label,
                     n == 0 ? transport_eof_reason(s->t) : transport_error(s->t));
            return fail_open(s, n == 0 ? SESSION_ERR_CLOSED : map_transport((int)n), err, errlen, msg);
        }
        if (session_tracing(s))
            session_trace_in(s, space, (size_t)n);
        parser_commit(s->p, (size_t)n);
        s->committed += (uint64_t)n;
    }
    s->got_greeting = true;
    if (r->kind != IMAP_UNTAGGED ||
        (r->status != IMAP_ST_OK && r->status != IMAP_ST_PREAUTH && r->status != IMAP_ST_BYE)) {
        snprintf(msg, sizeof msg, "%s: greeting: expected OK, PREAUTH or BYE", s->label);
        return fail_open(s, SESSION_ERR_PROTOCOL, err, errlen, msg);
    }
    if (r->status == IMAP_ST_BYE) {
        snprintf(msg, sizeof msg, "%s: server refused the connection (BYE %s)", s->label,
                 r->text ? r->text : "");
        return fail_open(s, SESSION_ERR_CLOSED, err, errlen, msg);
    }
    if (r->code.kind == IMAP_CODE_CAPABILITY)
        caps_set_from_values(s, r->code.list, r->code.nlist);
    s->preauth = r->status == IMAP_ST_PREAUTH;
    s->state = s->preauth ? SESSION_AUTH : SESSION_NOT_AUTH;
    arena_reset(&s->scratch);
    session_attach(s);

    int rc = 0;
    if (cfg->tls == SESSION_TLS_STARTTLS) {
        if (s->preauth) {
            rc = SESSION_ERR_TLS;
            snprintf(msg, sizeof msg, "%s: server sent PREAUTH, so STARTTLS is impossible; "
                     "refusing to continue in plaintext", s->label);
        } else {
            if (!s->caps_fresh)
                rc = session_capability(s, msg, sizeof msg);
            if (rc == 0)
                rc = do_starttls(s, msg, sizeof msg);
        }
    } else if (!s->caps_fresh) {
        rc = session_capability(s, msg, sizeof msg);
    }
    if (rc < 0)
        return fail_open(s, rc, err, errlen, msg);
    *out = s;
    return 0;
}

int session_open(const struct session_config *cfg, struct session **out, char *err, size_t errlen)
{
    struct session *s;
    int rc = session_connect(cfg, &s, err, errlen);
    if (rc < 0)
        return rc;
    if (cfg->user && s->state == SESSION_NOT_AUTH) {
        rc = session_login(s, err, errlen);
        if (rc < 0) {
            session_free(s);
            *out = NULL;
            return rc;
        }
    }
    if (cfg->compress && s->state == SESSION_AUTH && session_has_cap(s, "COMPRESS=DEFLATE")) {
        char msg[600];
        rc = session_compress(s, msg, sizeof msg);
        if (rc < 0 && s->state == SESSION_BROKEN) {
            snprintf(err, errlen, "%s", msg);
            session_free(s);
            *out = NULL;
            return rc;
        }
        if (rc < 0)
            warnf(s, "%s", msg);
    }
    *out = s;
    return 0;
}

static void logout_done(struct session_cmd *c, const struct imap_response *r)
{
    (void)r;
    if (c->s && c->res.status == SESSION_OK) {
        c->s->state = SESSION_LOGOUT;
        view_clear(&c->s->view);
    }
}

struct session_cmd *session_logout_start(struct session *s)
{
    struct session_cmd *sc = cmd_simple(s, "LOGOUT");
    if (sc && sc->in_flight) {
        sc->is_logout = true;
        sc->on_done = logout_done;
        sc->own_hooks = true;   /* logout_done needs only the session: it runs if the owner let go */
    }
    return sc;
}

int session_compress(struct session *s, char *err, size_t errlen)
{
    if (!session_has_cap(s, "COMPRESS=DEFLATE")) {
        snprintf(err, errlen, "COMPRESS: the server does not support COMPRESS=DEFLATE");
        return SESSION_ERR_UNSUPPORTED;
    }
    if (s->t && transport_is_compressed(s->t))
        return 0;
    if (s->qhead) {
        snprintf(err, errlen, "COMPRESS: commands are still in flight");
        return SESSION_ERR_USAGE;
    }
    int rc = barrier_command(s, "COMPRESS", "DEFLATE", err, errlen);
    if (rc < 0)
        return rc;
    /* The server compresses from the byte after its OK; we must not have read any of that. */
    if (s->committed != parser_offset(s->p)) {
        session_break(s, SESSION_ERR_PROTOCOL, "COMPRESS: data arrived with the server's OK");
        snprintf(err, errlen, "%s", s->err);
        return SESSION_ERR_PROTOCOL;
    }
    int trc = transport_compress(s->t, err, errlen);
    if (trc < 0) {
        session_break(s, map_transport(trc), err);
        return map_transport(trc);
    }
    session_resume(s);
    return 0;
}
