/* sasl.c — SASL client mechanisms: GNU SASL for PLAIN, LOGIN, CRAM-MD5 and SCRAM (its SCRAM
 * client checks the server's signature), our own framing for XOAUTH2 and OAUTHBEARER. */
#include "sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>

struct sasl {
    enum sasl_mech mech;
    Gsasl *ctx;                 /* GNU SASL mechanisms only */
    Gsasl_session *gs;
    int steps;                  /* responses produced so far */
    bool complete;
    char *user, *token, *host;  /* bearer-token mechanisms only */
    size_t token_len;
    unsigned port;
    char server_error[300];
};

static const struct {
    const char *name;
    bool client_first, cleartext, token;
} mechs[] = {
    [SASL_PLAIN] = { "PLAIN", true, true, false },
    [SASL_LOGIN] = { "LOGIN", false, true, false },
    [SASL_CRAM_MD5] = { "CRAM-MD5", false, false, false },
    [SASL_SCRAM_SHA_1] = { "SCRAM-SHA-1", true, false, false },
    [SASL_SCRAM_SHA_256] = { "SCRAM-SHA-256", true, false, false },
    [SASL_XOAUTH2] = { "XOAUTH2", true, true, true },
    [SASL_OAUTHBEARER] = { "OAUTHBEARER", true, true, true },
};

const char *sasl_mech_name(enum sasl_mech m) { return mechs[m].name; }
bool sasl_mech_client_first(enum sasl_mech m) { return mechs[m].client_first; }
bool sasl_mech_cleartext(enum sasl_mech m) { return mechs[m].cleartext; }
bool sasl_mech_takes_token(enum sasl_mech m) { return mechs[m].token; }
bool sasl_complete(const struct sasl *x) { return x->complete; }

const char *sasl_server_error(const struct sasl *x)
{
    return x->server_error[0] ? x->server_error : NULL;
}

static void wipe_free(char *p, size_t n)
{
    if (p) {
        explicit_bzero(p, n);
        free(p);
    }
}

void sasl_free(struct sasl *x)
{
    if (!x)
        return;
    if (x->gs)
        gsasl_finish(x->gs);
    if (x->ctx)
        gsasl_done(x->ctx);
    free(x->user);
    free(x->host);
    wipe_free(x->token, x->token_len);
    free(x);
}

/* Printable ASCII without spaces: what a bearer token and the user of an OAuth2 login may hold
 * (anything else would break the \x01-separated framing). */
static bool token_bytes_ok(const char *s, size_t n, bool space_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || (c == ' ' && !space_ok))
            return false;
    }
    return true;
}

int sasl_new(enum sasl_mech m, const struct sasl_credentials *c, struct sasl **out, char *err,
             size_t errlen)
{
    *out = NULL;
    struct sasl *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return SASL_ERR_NOMEM;
    }
    x->mech = m;
    const char *user = c->user ? c->user : "";
    if (mechs[m].token) {
        if (!token_bytes_ok(c->secret, c->secret_len, false) || c->secret_len == 0) {
            sasl_free(x);
            snprintf(err, errlen, "the OAuth2 access token is empty or holds spaces or control "
                     "characters");
            return SASL_ERR_CREDENTIAL;
        }
        if (!token_bytes_ok(user, strlen(user), true)) {
            sasl_free(x);
            snprintf(err, errlen, "%s needs a user name of printable ASCII", mechs[m].name);
            return SASL_ERR_CREDENTIAL;
        }
        x->user = strdup(user);
        x->host = strdup(c->host ? c->host : "");
        x->token = malloc(c->secret_len + 1);
        x->token_len = c->secret_len;
        x->port = c->port;
        if (!x->user || !x->host || !x->token) {
            sasl_free(x);
            snprintf(err, errlen, "out of memory");
            return SASL_ERR_NOMEM;
        }
        memcpy(x->token, c->secret, c->secret_len);
        x->token[c->secret_len] = '\0';
        *out = x;
        return 0;
    }
    int rc = gsasl_init(&x->ctx);
    if (rc == GSASL_OK)
        rc = gsasl_client_start(x->ctx, mechs[m].name, &x->gs);
    if (rc == GSASL_OK)
        rc = gsasl_property_set(x->gs, GSASL_AUTHID, user);
    if (rc == GSASL_OK)
        rc = gsasl_property_set_raw(x->gs, GSASL_PASSWORD, c->secret, c->secret_len);
    if (rc != GSASL_OK) {
        snprintf(err, errlen, "%s: %s", mechs[m].name, gsasl_strerror(rc));
        sasl_free(x);
        return rc == GSASL_MALLOC_ERROR ? SASL_ERR_NOMEM : SASL_ERR_CREDENTIAL;
    }
    *out = x;
    return 0;
}

/* Base64 of n bytes into a malloc'd string. */
static char *b64(const char *raw, size_t n, size_t *outlen)
{
    char *g = NULL;
    size_t gl = 0;
    if (gsasl_base64_to(raw, n, &g, &gl) != GSASL_OK)
        return NULL;
    char *mine = malloc(gl + 1);
    if (mine) {
        memcpy(mine, g, gl);
        mine[gl] = '\0';
        *outlen = gl;
    }
    explicit_bzero(g, gl);
    gsasl_free(g);
    return mine;
}

/* XOAUTH2: "user=U\1auth=Bearer T\1\1". OAUTHBEARER (RFC 7628): "n,a=U,\1host=H\1port=P\1
 * auth=Bearer T\1\1", with ',' and '=' in U escaped as =2C and =3D. */
static char *bearer_message(const struct sasl *x, size_t *outlen)
{
    size_t ul = strlen(x->user), hl = strlen(x->host);
    size_t cap = 3 * ul + hl + x->token_len + 64;
    char *raw = malloc(cap);
    if (!raw)
        return NULL;
    size_t n = 0;
    if (x->mech == SASL_XOAUTH2) {
        n += (size_t)snprintf(raw + n, cap - n, "user=%s\1", x->user);
    } else {
        n += (size_t)snprintf(raw + n, cap - n, "n,a=");
        for (size_t i = 0; i < ul; i++) {
            const char *esc = x->user[i] == ',' ? "=2C" : x->user[i] == '=' ? "=3D" : NULL;
            if (esc) {
                memcpy(raw + n, esc, 3);
                n += 3;
            } else {
                raw[n++] = x->user[i];
            }
        }
        n += (size_t)snprintf(raw + n, cap - n, ",\1");
        if (hl)
            n += (size_t)snprintf(raw + n, cap - n, "host=%s\1", x->host);
        if (x->port)
            n += (size_t)snprintf(raw + n, cap - n, "port=%u\1", x->port);
    }
    n += (size_t)snprintf(raw + n, cap - n, "auth=Bearer ");
    memcpy(raw + n, x->token, x->token_len);
    n += x->token_len;
    raw[n++] = '\1';
    raw[n++] = '\1';
    char *out = b64(raw, n, outlen);
    explicit_bzero(raw, cap);
    free(raw);
    return out;
}

/* A challenge after the bearer token is the server's failure report (RFC 7628 3.2.2): keep
 * its printable text for the error message and answer as the mechanism wants (XOAUTH2: an
 * empty response, OAUTHBEARER: %x01), after which the server sends its NO. */
static int bearer_step(struct sasl *x, const char *challenge, char **resp, size_t *rlen,
                       char *err, size_t errlen)
{
    if (x->steps == 0) {
        *resp = bearer_message(x, rlen);
        x->complete = true;
        return *resp ? SASL_STEP_DONE : SASL_ERR_NOMEM;
    }
    if (x->steps > 1 || !challenge) {
        snprintf(err, errlen, "%s: the server sent another challenge after its failure report",
                 mechs[x->mech].name);
        return SASL_ERR_CHALLENGE;
    }
    char *raw = NULL;
    size_t n = 0, k = 0;
    if (gsasl_base64_from(challenge, strlen(challenge), &raw, &n) != GSASL_OK) {
        snprintf(err, errlen, "%s: the server's challenge is not base64", mechs[x->mech].name);
        return SASL_ERR_CHALLENGE;
    }
    for (size_t i = 0; i < n && k + 1 < sizeof x->server_error; i++)
        if (raw[i] >= 0x20 && raw[i] < 0x7f)
            x->server_error[k++] = raw[i];
    x->server_error[k] = '\0';
    gsasl_free(raw);
    *resp = strdup(x->mech == SASL_XOAUTH2 ? "" : "AQ==");
    *rlen = *resp ? strlen(*resp) : 0;
    return *resp ? SASL_STEP_DONE : SASL_ERR_NOMEM;
}

int sasl_step(struct sasl *x, const char *challenge, char **resp, size_t *resp_len, char *err,
              size_t errlen)
{
    *resp = NULL;
    *resp_len = 0;
    int rc;
    if (mechs[x->mech].token) {
        rc = bearer_step(x, challenge, resp, resp_len, err, errlen);
    } else if (x->complete) {
        snprintf(err, errlen, "%s: the server sent a challenge after the exchange was complete",
                 mechs[x->mech].name);
        rc = SASL_ERR_CHALLENGE;
    } else if (!challenge && !mechs[x->mech].client_first) {
        snprintf(err, errlen, "%s has no initial response", mechs[x->mech].name);
        rc = SASL_ERR_CHALLENGE;
    } else {
        char *g = NULL;
        /* A client-first mechanism's first response answers the server's empty "+". */
        int grc = gsasl_step64(x->gs, x->steps == 0 && mechs[x->mech].client_first ? "" :
                               challenge, &g);
        if (grc == GSASL_OK || grc == GSASL_NEEDS_MORE) {
            *resp = strdup(g ? g : "");
            *resp_len = *resp ? strlen(*resp) : 0;
            x->complete = grc == GSASL_OK;
            rc = !*resp ? SASL_ERR_NOMEM : grc == GSASL_OK ? SASL_STEP_DONE : SASL_STEP_MORE;
        } else if (grc == GSASL_AUTHENTICATION_ERROR) {
            snprintf(err, errlen, "%s: the server's proof does not match: it does not know the "
                     "password, or someone tampered with the exchange", mechs[x->mech].name);
            rc = SASL_ERR_PROOF;
        } else if (grc == GSASL_SASLPREP_ERROR) {
            snprintf(err, errlen, "%s: the password is not valid for SASLprep (RFC 4013)",
                     mechs[x->mech].name);
            rc = SASL_ERR_CREDENTIAL;
        } else if (grc == GSASL_MALLOC_ERROR) {
            snprintf(err, errlen, "out of memory");
            rc = SASL_ERR_NOMEM;
        } else {
            snprintf(err, errlen, "%s: bad challenge from the server (%s)", mechs[x->mech].name,
                     gsasl_strerror(grc));
            rc = SASL_ERR_CHALLENGE;
        }
        if (g) {
            explicit_bzero(g, strlen(g));
            gsasl_free(g);
        }
    }
    if (rc >= 0)
        x->steps++;
    return rc;
}
