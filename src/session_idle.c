/* session_idle.c — IDLE (RFC 2177): start, wait for an unsolicited response with a timeout, DONE.
 * While idling the loop keeps reading: responses reach the view and the event handler whoever
 * runs the loop, and session_idle_wait reports those it has not reported yet. */
#include "session_int.h"

#include <stdio.h>

static int idle_on_cont(struct session_cmd *c, const struct imap_response *r)
{
    (void)r;
    c->priv = (void *)1;    /* idling */
    return 0;
}

static bool idling_or_done(const struct session *s, const void *sc)
{
    (void)s;
    return ((const struct session_cmd *)sc)->priv || cmd_complete(sc);
}

static bool news_or_done(const struct session *s, const void *arg)
{
    (void)arg;
    return s->idle_events > s->idle_seen || cmd_complete(s->idle);
}

int session_idle_start(struct session *s, char *err, size_t errlen)
{
    if (!session_has_cap(s, "IDLE")) {
        snprintf(err, errlen, "IDLE: the server does not offer IDLE");
        return SESSION_ERR_UNSUPPORTED;
    }
    if (s->idle) {
        snprintf(err, errlen, "IDLE: already idling");
        return SESSION_ERR_USAGE;
    }
    if (session_waiting_forbidden(s)) {
        snprintf(err, errlen, "IDLE: cannot wait inside a response callback");
        return SESSION_ERR_USAGE;
    }
    struct session_cmd *sc = cmd_simple(s, "IDLE");
    if (!sc) {
        snprintf(err, errlen, "out of memory");
        return SESSION_ERR_NOMEM;
    }
    if (!sc->in_flight)
        return cmd_finish(s, sc, err, errlen);
    sc->barrier = true;
    sc->on_cont = idle_on_cont;
    s->idle = sc;
    s->idle_events = s->idle_seen = 0;
    /* Write and wait for the "+ idling". */
    if (session_flush(s) == 0)
        session_run(s, idling_or_done, sc, -1);
    if (cmd_complete(sc)) {   /* refused (NO/BAD) or broken */
        s->idle = NULL;
        return cmd_finish(s, sc, err, errlen);
    }
    return 0;
}

int session_idle_wait(struct session *s, int timeout_ms, char *err, size_t errlen)
{
    if (!s->idle) {
        snprintf(err, errlen, "IDLE: not idling");
        return SESSION_ERR_USAGE;
    }
    int rc = session_run(s, news_or_done, NULL, timeout_ms < 0 ? -1 : timeout_ms);
    if (cmd_complete(s->idle)) {   /* the server ended IDLE itself, or the line broke */
        struct session_cmd *sc = s->idle;
        s->idle = NULL;
        rc = cmd_finish(s, sc, err, errlen);
        if (rc == 0) {
            snprintf(err, errlen, "IDLE: ended by the server");
            rc = SESSION_ERR_CLOSED;
        }
        return rc;
    }
    if (rc < 0) {
        snprintf(err, errlen, "IDLE: %s", rc == SESSION_ERR_USAGE
                 ? "cannot wait inside a response callback" : session_error(s));
        return rc;
    }
    if (rc == 0)
        return 0;
    s->idle_seen = s->idle_events;
    return 1;
}

int session_idle_done(struct session *s, char *err, size_t errlen)
{
    struct session_cmd *sc = s->idle;
    if (!sc) {
        snprintf(err, errlen, "IDLE: not idling");
        return SESSION_ERR_USAGE;
    }
    s->idle = NULL;
    if (!cmd_complete(sc)) {
        session_trace_out(s, "DONE", 4);
        session_send_line(s, "DONE\r\n", 6);
    }
    sc->priv = NULL;
    return cmd_finish(s, sc, err, errlen);
}
