/* session_idle.c — IDLE (RFC 2177): start, wait for an unsolicited response with a timeout, DONE. */
#include "session_int.h"

#include <stdio.h>

static int idle_on_cont(struct session_cmd *c, const struct imap_response *r)
{
    (void)r;
    c->priv = (void *)1;    /* idling */
    return 0;
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
    s->idle_events = 0;
    /* Write and wait for the "+ idling". */
    while (!cmd_complete(sc) && !sc->priv) {
        if (session_flush(s) < 0 || session_pump(s, -1) < 0)
            break;
    }
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
        return s->state == SESSION_BROKEN ? s->errcode : SESSION_ERR_USAGE;
    }
    int before = s->idle_events;
    while (!cmd_complete(s->idle) && s->idle_events == before) {
        int rc = session_pump(s, timeout_ms < 0 ? -1 : timeout_ms);
        if (rc == 0)
            return 0;
        if (rc < 0 && !cmd_complete(s->idle)) {
            snprintf(err, errlen, "IDLE: %s", rc == SESSION_ERR_USAGE
                     ? "cannot wait inside a response callback" : session_error(s));
            return rc;
        }
    }
    if (cmd_complete(s->idle)) {   /* the server ended IDLE itself, or the line broke */
        struct session_cmd *sc = s->idle;
        s->idle = NULL;
        int rc = cmd_finish(s, sc, err, errlen);
        if (rc == 0) {
            snprintf(err, errlen, "IDLE: ended by the server");
            rc = SESSION_ERR_CLOSED;
        }
        return rc;
    }
    return 1;
}

int session_idle_done(struct session *s, char *err, size_t errlen)
{
    struct session_cmd *sc = s->idle;
    if (!sc) {
        snprintf(err, errlen, "IDLE: not idling");
        return s->state == SESSION_BROKEN ? s->errcode : SESSION_ERR_USAGE;
    }
    s->idle = NULL;
    if (!cmd_complete(sc)) {
        session_trace_out(s, "DONE", 4);
        int trc = transport_write_all(s->t, "DONE\r\n", 6);
        if (trc < 0)
            session_break(s, map_transport(trc), transport_error(s->t));
    }
    sc->priv = NULL;
    return cmd_finish(s, sc, err, errlen);
}
