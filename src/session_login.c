/* session_login.c — authentication (LOGIN, AUTHENTICATE PLAIN with or without SASL-IR), LOGOUT,
 * and the argument-less connection commands CAPABILITY and NOOP. */
#include "session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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

/* The SASL PLAIN response "\0user\0password", base64; malloc'd, the caller wipes and frees. */
static char *plain_token(const struct session *s, size_t *outlen)
{
    size_t ul = strlen(s->user), n = ul + s->password_len + 2;
    unsigned char *raw = malloc(n);
    char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    if (!raw || !b64) {
        free(raw);
        free(b64);
        return NULL;
    }
    raw[0] = '\0';
    memcpy(raw + 1, s->user, ul);
    raw[1 + ul] = '\0';
    memcpy(raw + 2 + ul, s->password, s->password_len);
    int m = EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
    explicit_bzero(raw, n);
    free(raw);
    *outlen = (size_t)m;
    return b64;
}

struct auth_cont {
    char *token;
    size_t len;
    int sent;
};

static int auth_on_cont(struct session_cmd *c, const struct imap_response *r)
{
    (void)r;
    struct auth_cont *a = c->priv;
    struct session *s = c->s;
    /* A second challenge means the server did not accept our response: cancel with "*". */
    const char *data = a->sent ? "*" : a->token;
    size_t len = a->sent ? 1 : a->len;
    a->sent++;
    session_trace_out(s, a->sent > 1 ? "*" : "***", a->sent > 1 ? 1 : 3);
    int rc = transport_write_all(s->t, data, len);
    if (rc == 0)
        rc = transport_write_all(s->t, "\r\n", 2);
    return rc < 0 ? map_transport(rc) : 0;
}

static void auth_free(struct session_cmd *c)
{
    struct auth_cont *a = c->priv;
    if (a) {
        explicit_bzero(a->token, a->len);
        free(a->token);
        free(a);
    }
}

int session_login(struct session *s, char *err, size_t errlen)
{
    if (!s->user || !s->password) {
        snprintf(err, errlen, "%s: no user or password configured", s->label);
        return SESSION_ERR_USAGE;
    }
    if (s->state != SESSION_NOT_AUTH) {
        snprintf(err, errlen, "%s: already authenticated", s->label);
        return s->state == SESSION_BROKEN ? s->errcode : SESSION_ERR_USAGE;
    }
    enum session_auth m = s->cfg.auth;
    if (m == SESSION_AUTH_AUTO)
        m = session_has_cap(s, "AUTH=PLAIN") ? SESSION_AUTH_PLAIN : SESSION_AUTH_LOGIN;
    struct command c;
    struct session_cmd *sc;
    if (m == SESSION_AUTH_LOGIN) {
        if (session_has_cap(s, "LOGINDISABLED")) {
            snprintf(err, errlen, "%s: the server disabled LOGIN (LOGINDISABLED)%s", s->label,
                     transport_is_tls(s->t) ? "" : "; it needs TLS first");
            return SESSION_ERR_AUTH;
        }
        session_command_start(s, &c, "LOGIN");
        command_astring(&c, s->user, strlen(s->user));
        command_secret(&c, s->password, s->password_len);
        command_end(&c);
        sc = cmd_send(s, &c, "LOGIN", NULL, NULL);
    } else {
        if (!session_has_cap(s, "AUTH=PLAIN")) {
            snprintf(err, errlen, "%s: the server does not offer AUTHENTICATE PLAIN", s->label);
            return SESSION_ERR_AUTH;
        }
        size_t tl;
        char *token = plain_token(s, &tl);
        if (!token) {
            snprintf(err, errlen, "out of memory");
            return SESSION_ERR_NOMEM;
        }
        bool ir = session_has_cap(s, "SASL-IR") && !s->cfg.no_sasl_ir;
        session_command_start(s, &c, "AUTHENTICATE");
        command_atom(&c, "PLAIN");
        if (ir)
            command_secret(&c, token, tl);
        command_end(&c);
        sc = cmd_send(s, &c, "AUTHENTICATE PLAIN", NULL, NULL);
        if (sc && !ir && sc->in_flight) {
            struct auth_cont *a = calloc(1, sizeof *a);
            if (a) {
                a->token = token;
                a->len = tl;
                token = NULL;
                sc->priv = a;
                sc->on_cont = auth_on_cont;
                sc->on_free = auth_free;
                sc->barrier = true;
            }
        }
        if (token) {
            explicit_bzero(token, tl);
            free(token);
        }
    }
    if (c.buf)
        explicit_bzero(c.buf, c.len);
    command_free(&c);
    if (!sc) {
        snprintf(err, errlen, "out of memory");
        return SESSION_ERR_NOMEM;
    }
    s->caps_fresh = false;
    session_wait(s, sc);
    const struct session_result *res = session_cmd_result(sc);
    int rc = 0;
    if (res->status == SESSION_NO || res->status == SESSION_BAD) {
        char code[300] = "";
        if (res->code_name)
            snprintf(code, sizeof code, "[%s%s%s] ", res->code_name,
                     res->code_text && res->code_text[0] ? " " : "", res->code_text ? res->code_text : "");
        snprintf(err, errlen, "%s: authentication failed: %s%s", s->label, code, res->text);
        rc = SESSION_ERR_AUTH;
    } else if (res->status != SESSION_OK) {
        rc = session_cmd_error(sc, err, errlen);
    }
    session_cmd_free(sc);
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
    struct session_cmd *sc = cmd_simple(s, "LOGOUT");
    if (sc && sc->in_flight)
        sc->is_logout = true;
    int rc = cmd_finish(s, sc, err, errlen);
    if (rc == SESSION_ERR_CLOSED && s->bye_seen)
        rc = 0;   /* the server closed right after its BYE */
    if (s->state != SESSION_BROKEN || rc == 0)
        s->state = SESSION_LOGOUT;
    view_clear(&s->view);
    return rc;
}
