/* session_io.c — a session on the loop: writing queued commands as far as the window, literal
 * waits and barriers allow; reading and dispatching whatever arrives, whoever waits; the I/O
 * timeout; and the waits, which run the loop so that every other session progresses too. */
#include "session_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

/* Written-but-unanswered command bytes allowed before the writer waits for replies: what a
 * server reads ahead without trouble. */
#define WRITE_WINDOW (48 * 1024)
#define READ_CHUNK (64 * 1024)
/* Bytes queued in the transport before the writer waits for the socket: bounds memory when a
 * literal is large. */
#define OUT_HIGH (128 * 1024)
/* Bytes read in one loop callback before the other connections get their turn. */
#define READ_BURST (1024 * 1024)
/* Command bytes written straight from the command instead of coalesced with others. */
#define COALESCE_MAX (16 * 1024)

static int io_timeout(const struct session *s)
{
    return s->cfg.io_timeout_ms ? s->cfg.io_timeout_ms : 30000;
}

/* A reply is due: a written command is incomplete (an IDLE the server accepted waits by design,
 * an open command written as far as it goes waits for its next bytes, and nothing is due from
 * a paused session). */
static bool expecting(const struct session *s)
{
    if (s->paused)
        return false;
    for (const struct session_cmd *c = s->qhead; c; c = c->qnext)
        if (c->woff > 0 && !(c == s->idle && c->priv) && !(c->open && c->woff == c->len))
            return true;
    return false;
}

/* The timer runs while a reply is due; it fires io_timeout after the last byte either way. */
static void timer_update(struct session *s)
{
    if (!s->t || s->state == SESSION_BROKEN || io_timeout(s) < 0 || !expecting(s)) {
        loop_timer_disarm(s->loop, &s->timer);
        return;
    }
    if (!s->timer.armed)
        loop_timer_arm(s->loop, &s->timer, s->last_io + io_timeout(s));
}

static void on_timer(struct loop *l, struct loop_timer *tm)
{
    struct session *s = (struct session *)((char *)tm - offsetof(struct session, timer));
    if (s->state == SESSION_BROKEN || !expecting(s))
        return;
    int64_t due = s->last_io + io_timeout(s);
    if (loop_now_ms() < due) {
        loop_timer_arm(l, tm, due);
        return;
    }
    char why[64];
    int ms = io_timeout(s);
    if (ms % 1000 == 0)
        snprintf(why, sizeof why, "read timeout after %d s", ms / 1000);
    else
        snprintf(why, sizeof why, "read timeout after %.1f s", ms / 1000.0);
    session_break(s, SESSION_ERR_NET, why);
}

/* ---- writing ------------------------------------------------------------------------ */

static int out_write(struct session *s, const char *p, size_t n)
{
    int rc = transport_send(s->t, p, n);
    if (rc < 0) {
        session_break(s, map_transport(rc), transport_error(s->t));
        return s->errcode;
    }
    return 0;
}

/* One pass of session_push; *full tells that it stopped at OUT_HIGH. */
static int push_pass(struct session *s, bool *full)
{
    size_t olen = 0, queued = transport_queued(s->t);
    bool wrote = false;
    *full = false;
    for (struct session_cmd *c = s->qhead; c; c = c->qnext) {
        if (c->woff >= c->len) {
            if (c->barrier || c->open)
                break;
            continue;
        }
        if (!c->released || c->await_cont)
            break;
        size_t end = c->wi < c->nwaits ? c->waits[c->wi] : c->len;
        if (end > c->len || end < c->woff)
            end = c->len;
        size_t seg = end - c->woff;
        if (s->unacked > 0 && s->unacked + seg > WRITE_WINDOW && c->woff == 0)
            break;
        if (queued + olen >= OUT_HIGH) {
            *full = true;
            break;
        }
        if (seg > OUT_HIGH - queued - olen)
            seg = OUT_HIGH - queued - olen;
        if (c->woff == 0)
            s->ncommands++;
        if (seg > COALESCE_MAX) {
            if (olen && out_write(s, s->out, olen) < 0)
                return s->errcode;
            olen = 0;
            if (out_write(s, c->buf + (c->woff - c->drop), seg) < 0)
                return s->errcode;
            queued = transport_queued(s->t);
        } else {
            if (olen + seg > s->outcap) {
                size_t cap = s->outcap ? s->outcap : 16384;
                while (cap < olen + seg)
                    cap *= 2;
                char *o = realloc(s->out, cap);
                if (!o) {
                    session_break(s, SESSION_ERR_NOMEM, "out of memory");
                    return s->errcode;
                }
                s->out = o;
                s->outcap = cap;
            }
            memcpy(s->out + olen, c->buf + (c->woff - c->drop), seg);
            olen += seg;
        }
        c->woff += seg;
        c->unacked += seg;
        s->unacked += seg;
        wrote = true;
        if (c->on_drain)
            c->on_drain(c);
        if (c->woff < end) {
            *full = true;   /* the rest once the socket took some */
            break;
        }
        if (end < c->len) {
            c->wi++;
            c->await_cont = true;
            break;
        }
        if (c->barrier || c->open)
            break;
    }
    if (olen && out_write(s, s->out, olen) < 0)
        return s->errcode;
    if (wrote) {
        s->last_io = loop_now_ms();
        timer_update(s);
    }
    return 0;
}

/* Writes what released commands it may: stops at a synchronising literal (until "+"), behind a
 * barrier command (STARTTLS, IDLE, AUTHENTICATE without SASL-IR), at the write window, and when
 * the transport holds OUT_HIGH bytes (it calls on_ready again once the socket took them). */
int session_push(struct session *s)
{
    if (s->state == SESSION_BROKEN)
        return s->errcode;
    bool full = true;
    while (full && s->t && !s->hold && s->state != SESSION_BROKEN) {
        if (push_pass(s, &full) < 0)
            return s->errcode;
        /* The socket may have taken everything at once: then nothing calls back. */
        if (s->t && transport_queued(s->t) >= OUT_HIGH)
            break;
    }
    return s->state == SESSION_BROKEN ? s->errcode : 0;
}

void session_send_line(struct session *s, const char *line, size_t len)
{
    if (!s->t || s->state == SESSION_BROKEN)
        return;
    if (out_write(s, line, len) < 0)
        return;
    s->last_io = loop_now_ms();
    timer_update(s);
}

int session_flush(struct session *s)
{
    for (struct session_cmd *c = s->qhead; c; c = c->qnext)
        c->released = true;
    return session_push(s);
}

/* ---- reading ------------------------------------------------------------------------ */

/* The read ended the stream (n == 0) or failed. */
static void read_failed(struct session *s, ssize_t n)
{
    if (s->state == SESSION_LOGOUT) {   /* the server closes after LOGOUT: expected */
        if (s->qhead) {                 /* commands sent behind the LOGOUT fail */
            session_break(s, SESSION_ERR_CLOSED, "session logged out");
            s->state = SESSION_LOGOUT;
        }
        session_close_transport(s);
        return;
    }
    if (n < 0) {
        session_break(s, map_transport((int)n), transport_error(s->t));
        return;
    }
    char why[800];
    if (s->bye_seen)
        snprintf(why, sizeof why, "%s (BYE %s)", transport_eof_reason(s->t), s->bye_text);
    else
        snprintf(why, sizeof why, "%s", transport_eof_reason(s->t));
    bool logout = s->qhead && s->qhead->is_logout && s->bye_seen;
    session_break(s, SESSION_ERR_CLOSED, why);
    if (logout)
        s->state = SESSION_LOGOUT;
}

static bool stopped(const struct session *s)
{
    return s->doomed || s->hold || s->paused || s->state == SESSION_BROKEN || !s->t;
}

/* Dispatches every complete response the parser holds. */
static void dispatch_parsed(struct session *s)
{
    while (!stopped(s)) {
        struct imap_response *r;
        int pr = parser_next(s->p, &r);
        if (pr == 0)
            return;
        if (pr < 0) {
            char why[400];
            snprintf(why, sizeof why, "protocol error: %s", parser_error(s->p));
            session_break(s, SESSION_ERR_PROTOCOL, why);
            return;
        }
        session_dispatch(s, r);
        arena_reset(&s->scratch);
    }
}

/* The transport's ready function: more to write, something to read. Reads until the socket
 * has nothing more (or READ_BURST, then the loop comes back). */
static void on_ready(void *ud)
{
    struct session *s = ud;
    if (stopped(s))
        return;
    s->in_dispatch++;
    session_push(s);
    size_t burst = 0;
    for (;;) {
        dispatch_parsed(s);
        if (stopped(s))
            break;
        if (burst >= READ_BURST) {
            transport_kick(s->t);
            break;
        }
        size_t avail;
        char *space = parser_space(s->p, READ_CHUNK, &avail);
        if (!space) {
            session_break(s, SESSION_ERR_NOMEM, "out of memory");
            break;
        }
        ssize_t n = transport_recv(s->t, space, avail);
        if (n == TRANSPORT_AGAIN)
            break;
        if (n <= 0) {
            read_failed(s, n);
            break;
        }
        s->last_io = loop_now_ms();
        if (session_tracing(s))
            session_trace_in(s, space, (size_t)n);
        parser_commit(s->p, (size_t)n);
        s->committed += (uint64_t)n;
        burst += (size_t)n;
    }
    if (!stopped(s))
        session_push(s);   /* the replies may have opened the window */
    s->in_dispatch--;
    if (!s->doomed)
        timer_update(s);
}

void session_attach(struct session *s)
{
    s->timer.fn = on_timer;
    s->last_io = loop_now_ms();
    transport_set_ready(s->t, on_ready, s);
    transport_kick(s->t);   /* the greeting's read may have brought more */
}

void session_pause(struct session *s, bool pause)
{
    if (s->paused == pause)
        return;
    s->paused = pause;
    if (s->t && s->state != SESSION_BROKEN) {
        /* Not watched for reading while paused: what the server sends waits in the socket. */
        transport_set_ready(s->t, pause ? NULL : on_ready, s);
        if (!pause)
            transport_kick(s->t);
    }
    if (!s->doomed)
        timer_update(s);
}

void session_resume(struct session *s)
{
    s->hold = false;
    if (s->t && s->state != SESSION_BROKEN)
        transport_kick(s->t);
}

/* ---- waiting ------------------------------------------------------------------------ */

int session_run(struct session *s, session_cond done, const void *arg, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : loop_now_ms() + timeout_ms;
    for (;;) {
        if (done(s, arg))
            return 1;
        if (s->state == SESSION_BROKEN)
            return s->errcode;
        if (!s->t)
            return SESSION_ERR_CLOSED;   /* logged out: nothing will come */
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - loop_now_ms();
            if (left <= 0)
                return 0;
            ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
        }
        int r = loop_run_once(s->loop, ms);
        if (r == LOOP_ERR_NESTED)
            return SESSION_ERR_USAGE;
        if (r < 0) {
            session_break(s, SESSION_ERR_NET, "poll failed");
            return s->errcode;
        }
    }
}

static bool group_complete(const struct session_cmd *c)
{
    for (; c; c = c->part)
        if (!cmd_complete(c))
            return false;
    return true;
}

static bool group_done(const struct session *s, const void *c)
{
    (void)s;
    return group_complete(c);
}

static bool queue_empty(const struct session *s, const void *arg)
{
    (void)arg;
    return !s->qhead;
}

bool session_busy(const struct session *s)
{
    return s->qhead != NULL;
}

bool session_waiting_forbidden(const struct session *s)
{
    return s->in_dispatch || loop_dispatching(s->loop);
}

/* Waiting runs the loop, which would pull the parser's current response from under a callback
 * that is still looking at it: inside one, commands can be queued, not waited for. The parts
 * of c not yet written are taken back and failed. */
static int wait_in_callback(struct session *s, struct session_cmd *c)
{
    for (struct session_cmd *p = c; p; p = p->part) {
        if (p->in_flight && p->woff == 0) {
            session_cmd_fail(p, SESSION_ERR_USAGE, "%s: cannot wait for a command inside a "
                             "response callback", p->what);
            cmd_complete_now(s, p);
        }
    }
    return SESSION_ERR_USAGE;
}

int session_wait(struct session *s, struct session_cmd *c)
{
    if (group_complete(c))
        return session_cmd_error(c, NULL, 0);
    if (session_waiting_forbidden(s))
        return wait_in_callback(s, c);
    if (session_flush(s) == 0)
        session_run(s, group_done, c, -1);
    return session_cmd_error(c, NULL, 0);
}

int session_wait_all(struct session *s)
{
    if (session_waiting_forbidden(s))
        return s->qhead ? SESSION_ERR_USAGE : 0;
    if (session_flush(s) < 0)
        return s->errcode;
    int rc = session_run(s, queue_empty, NULL, -1);
    if (s->state == SESSION_BROKEN)
        return s->errcode;
    return rc < 0 ? rc : 0;
}

struct wait_for { bool (*done)(void *arg); void *arg; };

static bool wait_for_cond(const struct session *s, const void *arg)
{
    (void)s;
    const struct wait_for *w = arg;
    return w->done(w->arg);
}

int session_wait_for(struct session *s, bool (*done)(void *arg), void *arg)
{
    if (done(arg))
        return 1;
    if (session_waiting_forbidden(s))
        return SESSION_ERR_USAGE;
    struct wait_for w = { done, arg };
    return session_run(s, wait_for_cond, &w, -1);
}
