/* session_stream.c — commands written while their bytes are still coming: an APPEND fed message
 * by message (several make one MULTIAPPEND, RFC 3502) as another connection's FETCH brings them.
 * Its buffer holds only what the transport has not taken yet. */
#include "session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stream_priv {
    uint64_t lit_left;              /* bytes of the message being written still to come */
    size_t messages;
    void (*drain)(void *ud);
    void *drain_ud;
};

static void stream_free(struct session_cmd *c)
{
    free(c->priv);
}

static void stream_drain(struct session_cmd *c)
{
    struct stream_priv *sp = c->priv;
    if (sp->drain)
        sp->drain(sp->drain_ud);
}

/* 0 while c can take bytes, else its error code. */
static int stream_state(const struct session_cmd *c)
{
    if (c->in_flight && c->s && c->s->state != SESSION_BROKEN)
        return c->open ? 0 : SESSION_ERR_USAGE;
    int rc = session_cmd_error(c, NULL, 0);
    return rc ? rc : SESSION_ERR_USAGE;
}

/* Appends n bytes to an open command, first letting go of the ones the transport took. */
static int stream_put(struct session_cmd *c, const char *p, size_t n)
{
    size_t gone = c->woff - c->drop, unsent = c->len - c->woff;
    if (gone && (gone >= unsent || c->len - c->drop + n > c->cap)) {
        memmove(c->buf, c->buf + gone, unsent);
        c->drop = c->woff;
    }
    size_t used = c->len - c->drop;
    if (used + n > c->cap) {
        size_t cap = c->cap ? c->cap : 65536;
        while (cap < used + n)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (!nb) {
            session_break(c->s, SESSION_ERR_NOMEM, "out of memory");
            return SESSION_ERR_NOMEM;
        }
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + used, p, n);
    c->len += n;
    return 0;
}

/* Writes what the socket takes now; 0 or the command's error. */
static int stream_push(struct session_cmd *c)
{
    session_push(c->s);
    if (!c->in_flight)
        return session_cmd_error(c, NULL, 0);
    return c->s->state == SESSION_BROKEN ? c->s->errcode : 0;
}

/* The owner let go of it while open: it can never be completed. */
static void stream_orphan(struct session_cmd *c)
{
    struct stream_priv *sp = c->priv;
    sp->drain = NULL;
    if (c->open)
        session_append_abort(c, "abandoned before its end");
}

struct session_cmd *session_append_open(struct session *s, const char *mailbox)
{
    char what[200];
    snprintf(what, sizeof what, "APPEND %s", mailbox);
    struct stream_priv *sp = calloc(1, sizeof *sp);
    if (!sp)
        return cmd_failed(s, what, SESSION_ERR_NOMEM, "%s: out of memory", what);
    struct command c;
    session_command_start(s, &c, "APPEND");
    command_mailbox(&c, mailbox, strlen(mailbox));
    struct session_cmd *sc = cmd_send_open(s, &c, what);
    command_free(&c);
    if (!sc || !sc->in_flight) {
        free(sp);
        return sc;
    }
    sc->priv = sp;
    sc->on_free = stream_free;
    sc->on_drain = stream_drain;
    sc->on_orphan = stream_orphan;
    sc->own_hooks = true;       /* its hooks use only its own data */
    sc->released = true;
    session_flush(s);           /* what was queued before it goes first */
    return sc;
}

int session_append_message(struct session_cmd *c, const char *const *flags, size_t nflags,
                           const char *date, uint64_t size)
{
    int rc = stream_state(c);
    if (rc)
        return rc;
    struct stream_priv *sp = c->priv;
    if (sp->lit_left || size == 0)
        return SESSION_ERR_USAGE;
    struct command m;
    session_command_init(c->s, &m);
    command_start(&m, NULL, NULL);
    m.need_space = true;
    if (nflags) {
        command_open(&m);
        for (size_t i = 0; i < nflags; i++) {
            if (!flags[i] || !flag_ok(flags[i]))
                m.err = m.err ? m.err : -1;
            else
                command_atom(&m, flags[i]);
        }
        command_close(&m);
    }
    if (date)
        command_string(&m, date, strlen(date));
    command_literal_header(&m, size);
    rc = m.err ? SESSION_ERR_USAGE : 0;
    size_t base = c->len;
    if (!rc && m.nwaits) {
        size_t *w = realloc(c->waits, (c->nwaits + m.nwaits) * sizeof *w);
        if (!w) {
            rc = SESSION_ERR_NOMEM;
        } else {
            c->waits = w;
            for (size_t i = 0; i < m.nwaits; i++)
                c->waits[c->nwaits++] = base + m.waits[i];
        }
    }
    if (!rc)
        rc = stream_put(c, m.buf, m.len);
    if (!rc && session_tracing(c->s)) {
        char line[600];
        size_t hl = m.len >= 2 ? m.len - 2 : m.len;
        snprintf(line, sizeof line, "%s (message %zu)%.*s <%llu bytes>", c->tag,
                 sp->messages + 1, (int)(hl < 400 ? hl : 400), m.buf,
                 (unsigned long long)size);
        session_trace_out(c->s, line, strlen(line));
    }
    command_free(&m);
    if (rc)
        return rc;
    sp->lit_left = size;
    sp->messages++;
    return stream_push(c);
}

int session_append_data(struct session_cmd *c, const char *data, size_t len)
{
    int rc = stream_state(c);
    if (rc)
        return rc;
    struct stream_priv *sp = c->priv;
    if (len > sp->lit_left)
        return SESSION_ERR_USAGE;
    if (!len)
        return 0;
    rc = stream_put(c, data, len);
    if (rc)
        return rc;
    sp->lit_left -= len;
    return stream_push(c);
}

int session_append_close(struct session_cmd *c)
{
    int rc = stream_state(c);
    if (rc)
        return rc;
    struct stream_priv *sp = c->priv;
    if (sp->lit_left || !sp->messages)
        return SESSION_ERR_USAGE;
    rc = stream_put(c, "\r\n", 2);
    if (rc)
        return rc;
    c->open = false;
    return stream_push(c);
}

void session_append_abort(struct session_cmd *c, const char *why)
{
    struct session *s = c->s;
    if (!c->in_flight || !s)
        return;
    if (c->woff == 0) {         /* nothing of it went out: it is simply not sent */
        session_cmd_fail(c, SESSION_ERR_CALLBACK, "%s: %s", c->what, why);
        cmd_complete_now(s, c);
        session_push(s);
        return;
    }
    /* The server holds part of the command: only closing the connection keeps it from ever
     * being completed. */
    session_cmd_fail(c, SESSION_ERR_CALLBACK, "%s: %s", c->what, why);
    session_break(s, SESSION_ERR_CLOSED, why);
}

size_t session_append_backlog(const struct session_cmd *c)
{
    return c->in_flight ? c->len - c->woff : 0;
}

void session_append_on_drain(struct session_cmd *c, void (*drain)(void *ud), void *ud)
{
    struct stream_priv *sp = c->in_flight ? c->priv : NULL;
    if (sp) {
        sp->drain = drain;
        sp->drain_ud = ud;
    }
}
