/* session_login.c — logging in: the method (the LOGIN command, or AUTHENTICATE with a mechanism
 * of sasl.c) picked from the config and the server's capabilities, the rule that no password or
 * token goes in clear where it must not, the SASL exchange over continuations; LOGOUT, and the
 * argument-less commands CAPABILITY and NOOP. */
#include "session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "login_method.h"
#include "sasl.h"

struct session_cmd *cmd_simple(struct session *s, const char *verb)
{
    struct command c;
    session_command_start(s, &c, verb);
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, verb, NULL, NULL);
    command_free(&c);
    return sc;
}

int session_capability(struct session *s, char *err, size_t errlen)
{
    return cmd_finish(s, cmd_simple(s, "CAPABILITY"), err, errlen);
}

int session_noop(struct session *s, char *err, size_t errlen)
{
    return cmd_finish(s, cmd_simple(s, "NOOP"), err, errlen);
}

struct session_cmd *session_noop_start(struct session *s)
{
    return cmd_simple(s, "NOOP");
}

/* ---- methods ------------------------------------------------------------------------ */

static bool offers_mech(const void *ud, const char *mech)
{
    char cap[64];
    snprintf(cap, sizeof cap, "AUTH=%s", mech);
    return session_has_cap(ud, cap);
}

/* The bytes stay on this machine: a loopback host, or a tunnel, a pipe to a command the user
 * chose (ssh encrypts; a command that carries them on in clear is the user's choice). */
static bool is_local_peer(const struct session *s)
{
    return s->tunnel || (s->host && login_host_is_loopback(s->host));
}

/* What login_method.c needs to know of this session. */
static struct login_offer method_offer(struct session *s)
{
    return (struct login_offer){
        .label = s->label, .auth = s->cfg.auth, .has_password = s->password != NULL,
        .has_token = s->token != NULL, .tls = transport_is_tls(s->t),
        .loopback = is_local_peer(s), .allow_plaintext = s->cfg.allow_plaintext,
        .login_command = true, .login_disabled = session_has_cap(s, "LOGINDISABLED"),
        .offers = offers_mech, .ud = s,
    };
}

/* ---- the SASL exchange --------------------------------------------------------------- */

struct auth_cont {
    struct sasl *x;
    int failed;                 /* a SASL_ERR_* once we cancelled */
    char why[300];
};

static int write_line(struct session *s, const char *data, size_t len, const char *shown)
{
    session_trace_out(s, shown, strlen(shown));
    int rc = transport_write_all(s->t, data, len);
    if (rc == 0)
        rc = transport_write_all(s->t, "\r\n", 2);
    return rc < 0 ? map_transport(rc) : 0;
}

/* Each "+ challenge" gets the mechanism's response; after a failure, "*" cancels. */
static int auth_on_cont(struct session_cmd *c, const struct imap_response *r)
{
    struct auth_cont *a = c->priv;
    struct session *s = c->s;
    if (a->failed)
        return write_line(s, "*", 1, "*");
    char *resp;
    size_t len;
    int rc = sasl_step(a->x, r->text, &resp, &len, a->why, sizeof a->why);
    if (rc < 0) {
        a->failed = rc;
        return write_line(s, "*", 1, "*");
    }
    rc = write_line(s, resp, len, len ? "***" : "");
    explicit_bzero(resp, len);
    free(resp);
    return rc;
}

static void auth_free(struct session_cmd *c)
{
    struct auth_cont *a = c->priv;
    if (a) {
        sasl_free(a->x);
        free(a);
    }
}

/* Queues AUTHENTICATE for mechanism m, with the initial response inline when SASL-IR allows. */
static struct session_cmd *authenticate_start(struct session *s, enum sasl_mech m, int *code,
                                              char *err, size_t errlen)
{
    struct sasl_credentials cr = {
        .user = s->user, .host = s->host, .port = s->cfg.port ? s->cfg.port :
            (s->cfg.tls == SESSION_TLS_IMPLICIT ? 993 : 143),
        .secret = sasl_mech_takes_token(m) ? s->token : s->password,
        .secret_len = sasl_mech_takes_token(m) ? s->token_len : s->password_len,
    };
    struct auth_cont *a = calloc(1, sizeof *a);
    char why[300];
    int rc = a ? sasl_new(m, &cr, &a->x, why, sizeof why) : SASL_ERR_NOMEM;
    char *ir = NULL;
    size_t irlen = 0;
    bool inline_ir = sasl_mech_client_first(m) && session_has_cap(s, "SASL-IR") &&
                     !s->cfg.no_sasl_ir;
    if (rc == 0 && inline_ir)
        rc = sasl_step(a->x, NULL, &ir, &irlen, why, sizeof why);
    if (rc < 0) {
        *code = rc == SASL_ERR_NOMEM ? SESSION_ERR_NOMEM : SESSION_ERR_AUTH;
        snprintf(err, errlen, "%s: %s", s->label, rc == SASL_ERR_NOMEM ? "out of memory" : why);
        if (a)
            sasl_free(a->x);
        free(a);
        return NULL;
    }
    struct command c;
    session_command_start(s, &c, "AUTHENTICATE");
    command_atom(&c, sasl_mech_name(m));
    if (ir)
        command_secret(&c, irlen ? ir : "=", irlen ? irlen : 1);   /* RFC 4959: "=" is empty */
    command_end(&c);
    char what[64];
    snprintf(what, sizeof what, "AUTHENTICATE %s", sasl_mech_name(m));
    struct session_cmd *sc = cmd_send(s, &c, what, NULL, NULL);
    if (c.buf)
        explicit_bzero(c.buf, c.len);
    command_free(&c);
    if (ir) {
        explicit_bzero(ir, irlen);
        free(ir);
    }
    if (sc && sc->in_flight) {
        sc->priv = a;
        sc->on_cont = auth_on_cont;
        sc->on_free = auth_free;
        sc->barrier = true;     /* nothing else is written until the exchange ends */
    } else {
        sasl_free(a->x);
        free(a);
    }
    if (!sc) {
        *code = SESSION_ERR_NOMEM;
        snprintf(err, errlen, "out of memory");
    }
    return sc;
}

static struct session_cmd *login_start(struct session *s)
{
    struct command c;
    session_command_start(s, &c, "LOGIN");
    command_astring(&c, s->user, strlen(s->user));
    command_secret(&c, s->password, s->password_len);
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, "LOGIN", NULL, NULL);
    if (c.buf)
        explicit_bzero(c.buf, c.len);
    command_free(&c);
    return sc;
}

/* The message for a refused login: the server's words, what the mechanism learnt. */
static void login_failed(struct session *s, const struct session_result *res,
                         const struct auth_cont *a, char *err, size_t errlen)
{
    char code[300] = "", extra[400] = "";
    if (res->code_name)
        snprintf(code, sizeof code, "[%s%s%s] ", res->code_name,
                 res->code_text && res->code_text[0] ? " " : "", res->code_text ? res->code_text : "");
    if (a && a->failed)
        snprintf(extra, sizeof extra, " (%s)", a->why);
    else if (a && a->x && sasl_server_error(a->x))
        snprintf(extra, sizeof extra, " (server: %s)", sasl_server_error(a->x));
    snprintf(err, errlen, "%s: authentication failed: %s%s%s", s->label, code, res->text, extra);
}

/* One login with method m: 0, or a code with err filled; *refused when the server said NO to
 * an exchange that went as it should (another method might still do). */
static int login_with(struct session *s, enum session_auth m, bool *refused, char *err,
                      size_t errlen)
{
    *refused = false;
    if (login_method_in_clear(m) && !transport_is_tls(s->t) &&
        (session_has_cap(s, "LOGINDISABLED") || !is_local_peer(s)))
        warnf(s, "%s: sending the %s in clear without TLS (allow_plaintext = true)", s->label,
              login_method_takes_token(m) ? "token" : "password");
    int rc = 0;
    struct session_cmd *sc;
    if (login_method_mech(m) < 0) {
        sc = login_start(s);
        if (!sc) {
            snprintf(err, errlen, "out of memory");
            return SESSION_ERR_NOMEM;
        }
    } else {
        sc = authenticate_start(s, (enum sasl_mech)login_method_mech(m), &rc, err, errlen);
        if (!sc)
            return rc;
    }
    s->caps_fresh = false;
    session_wait(s, sc);
    const struct session_result *res = session_cmd_result(sc);
    const struct auth_cont *a = sc->on_cont == auth_on_cont ? sc->priv : NULL;
    if (res->status == SESSION_NO || res->status == SESSION_BAD) {
        login_failed(s, res, a, err, errlen);
        *refused = res->status == SESSION_NO && !(a && a->failed);
        rc = SESSION_ERR_AUTH;
    } else if (res->status != SESSION_OK) {
        rc = session_cmd_error(sc, err, errlen);
    } else if (a && (a->failed || !sasl_complete(a->x))) {
        /* Logged in, but the server never proved who it is (SCRAM): do not use it. */
        snprintf(err, errlen, "%s: %s: %s", s->label, sc->what, a->failed ? a->why :
                 "the server accepted the login without completing the exchange "
                 "(no server signature)");
        session_break(s, SESSION_ERR_AUTH, err);
        rc = SESSION_ERR_AUTH;
    }
    session_cmd_free(sc);
    return rc;
}

int session_login(struct session *s, char *err, size_t errlen)
{
    if (!s->user || (!s->password && !s->token)) {
        snprintf(err, errlen, "%s: no user, password or token configured", s->label);
        return SESSION_ERR_USAGE;
    }
    if (s->state != SESSION_NOT_AUTH) {
        snprintf(err, errlen, "%s: already authenticated", s->label);
        return s->state == SESSION_BROKEN ? s->errcode : SESSION_ERR_USAGE;
    }
    enum session_auth m;
    struct login_offer o = method_offer(s);
    int rc = login_method_choose(&o, 0, &m, err, errlen);
    bool refused = false;
    if (rc == 0)
        rc = login_with(s, m, &refused, err, errlen);
    enum session_auth next;
    /* Only a session still waiting for a login has a transport to ask about (a broken one
     * has closed it). */
    if (rc == SESSION_ERR_AUTH && refused && s->state == SESSION_NOT_AUTH) {
        o = method_offer(s);
        if (login_method_after_refusal(&o, m, &next) == 0) {
            warnf(s, "%s: the server refused %s; trying %s (auth = \"%s\" skips this)", s->label,
                  login_method_name(m), login_method_name(next), login_method_name(next));
            rc = login_with(s, next, &refused, err, errlen);
        }
    }
    if (rc < 0)
        return rc;
    s->state = SESSION_AUTH;
    if (!s->caps_fresh)
        return session_capability(s, err, errlen);
    return 0;
}

int session_logout(struct session *s, char *err, size_t errlen)
{
    if (s->state == SESSION_LOGOUT)
        return 0;
    int rc = cmd_finish(s, session_logout_start(s), err, errlen);
    if (rc == SESSION_ERR_CLOSED && s->bye_seen)
        rc = 0;   /* the server closed right after its BYE */
    if (s->state != SESSION_BROKEN || rc == 0)
        s->state = SESSION_LOGOUT;
    view_clear(&s->view);
    return rc;
}
