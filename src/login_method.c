/* login_method.c — picks the login method from the account's `auth` list (or the automatic
 * order) and what the server offers, refusing any that would send a secret in clear. */
#include "login_method.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sasl.h"

static const struct {
    const char *name;           /* as the account's `auth` setting spells it */
    int mech;                   /* enum sasl_mech, or -1 for the LOGIN command (and AUTO) */
} methods[] = {
    [SESSION_AUTH_AUTO] = { "auto", -1 },
    [SESSION_AUTH_LOGIN] = { "login", -1 },
    [SESSION_AUTH_PLAIN] = { "plain", SASL_PLAIN },
    [SESSION_AUTH_SASL_LOGIN] = { "authenticate-login", SASL_LOGIN },
    [SESSION_AUTH_CRAM_MD5] = { "cram-md5", SASL_CRAM_MD5 },
    [SESSION_AUTH_SCRAM_SHA_1] = { "scram-sha-1", SASL_SCRAM_SHA_1 },
    [SESSION_AUTH_SCRAM_SHA_256] = { "scram-sha-256", SASL_SCRAM_SHA_256 },
    [SESSION_AUTH_XOAUTH2] = { "xoauth2", SASL_XOAUTH2 },
    [SESSION_AUTH_OAUTHBEARER] = { "oauthbearer", SASL_OAUTHBEARER },
};

int session_auth_parse(const char *name)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcasecmp(methods[i].name, name) == 0)
            return (int)i;
    return -1;
}

int login_method_mech(enum session_auth a) { return methods[a].mech; }
const char *login_method_name(enum session_auth a) { return methods[a].name; }

bool login_method_in_clear(enum session_auth a)
{
    return methods[a].mech < 0 || sasl_mech_cleartext((enum sasl_mech)methods[a].mech);
}

bool login_method_takes_token(enum session_auth a)
{
    return methods[a].mech >= 0 && sasl_mech_takes_token((enum sasl_mech)methods[a].mech);
}

bool login_host_is_loopback(const char *host)
{
    return !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1") ||
           !strcmp(host, "[::1]");
}

/* "LOGIN" or "AUTHENTICATE SCRAM-SHA-256", for messages. */
static void method_label(enum session_auth a, char *buf, size_t len)
{
    if (methods[a].mech < 0)
        snprintf(buf, len, "LOGIN");
    else
        snprintf(buf, len, "AUTHENTICATE %s", sasl_mech_name((enum sasl_mech)methods[a].mech));
}

enum verdict { USABLE, NOT_OFFERED, NO_CREDENTIAL, IN_CLEAR };

/* Whether method a may log in; why not in why. */
static enum verdict method_check(const struct login_offer *o, enum session_auth a, char *why,
                                 size_t whylen)
{
    char label[64];
    method_label(a, label, sizeof label);
    bool token = login_method_takes_token(a);
    if (token ? !o->has_token : !o->has_password) {
        snprintf(why, whylen, "%s needs %s", label, token ? "an OAuth2 token (oauth2)" :
                 "a password");
        return NO_CREDENTIAL;
    }
    if (methods[a].mech < 0) {
        if (!o->login_command) {
            snprintf(why, whylen, "the protocol has no LOGIN command");
            return NOT_OFFERED;
        }
        if (o->login_disabled) {
            snprintf(why, whylen, "the server disabled LOGIN (LOGINDISABLED)%s",
                     o->tls ? "" : "; it needs TLS first");
            return NOT_OFFERED;
        }
    } else if (!o->offers(o->ud, sasl_mech_name((enum sasl_mech)methods[a].mech))) {
        snprintf(why, whylen, "the server does not offer %s", label);
        return NOT_OFFERED;
    }
    if (login_method_in_clear(a) && !o->tls && !o->allow_plaintext &&
        (o->login_disabled || !o->loopback)) {
        snprintf(why, whylen, "refusing to send the %s in clear with %s: the connection has no "
                 "TLS%s; use tls = \"implicit\" or \"starttls\" (or allow_plaintext = true)",
                 token ? "token" : "password", label,
                 o->login_disabled ? " and the server says LOGINDISABLED" :
                 " and the host is not loopback");
        return IN_CLEAR;
    }
    return USABLE;
}

/* The methods to try, in order: the configured list, or the automatic one. A protocol without
 * a LOGIN command skips it (and goes automatic when nothing else was configured). */
static size_t method_candidates(const struct login_offer *o, enum session_auth *out)
{
    size_t n = 0;
    for (size_t i = 0; i < SESSION_AUTH_MAX && o->auth[i] != SESSION_AUTH_AUTO; i++)
        if (o->login_command || o->auth[i] != SESSION_AUTH_LOGIN)
            out[n++] = o->auth[i];
    if (n)
        return n;
    if (o->has_token) {
        out[n++] = SESSION_AUTH_OAUTHBEARER;
        out[n++] = SESSION_AUTH_XOAUTH2;
    }
    if (o->has_password) {
        out[n++] = SESSION_AUTH_SCRAM_SHA_256;
        out[n++] = SESSION_AUTH_SCRAM_SHA_1;
        if (!o->tls)
            out[n++] = SESSION_AUTH_CRAM_MD5;   /* hides the password where nothing else does */
        out[n++] = SESSION_AUTH_PLAIN;
        if (o->login_command)
            out[n++] = SESSION_AUTH_LOGIN;
        out[n++] = SESSION_AUTH_SASL_LOGIN;
    }
    return n;
}

int login_method_choose(const struct login_offer *o, unsigned skip, enum session_auth *out,
                        char *err, size_t errlen)
{
    enum session_auth cand[2 * SESSION_AUTH_MAX];
    size_t n = method_candidates(o, cand);
    char why[400], first[400] = "", clear[400] = "", names[300] = "";
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip & (1u << cand[i]))
            continue;
        enum verdict v = method_check(o, cand[i], why, sizeof why);
        if (v == USABLE) {
            *out = cand[i];
            return 0;
        }
        if (!first[0])
            snprintf(first, sizeof first, "%s", why);
        if (v == IN_CLEAR && !clear[0])
            snprintf(clear, sizeof clear, "%s", why);
        if (v == NOT_OFFERED && nl < sizeof names)
            nl += (size_t)snprintf(names + nl, sizeof names - nl, "%s%s", nl ? ", " : "",
                                   methods[cand[i]].name);
    }
    if (clear[0])
        snprintf(err, errlen, "%s: %s", o->label, clear);
    else if (n == 1 || !names[0])
        snprintf(err, errlen, "%s: %s", o->label, n ? first : "no password or token to log in with");
    else
        snprintf(err, errlen, "%s: the server offers none of the login methods tried (%s)",
                 o->label, names);
    return SESSION_ERR_AUTH;
}

int login_method_after_refusal(const struct login_offer *o, enum session_auth a,
                               enum session_auth *next)
{
    unsigned scram = 1u << SESSION_AUTH_SCRAM_SHA_1 | 1u << SESSION_AUTH_SCRAM_SHA_256;
    char err[400];
    if (o->auth[0] != SESSION_AUTH_AUTO || !(scram & (1u << a)))
        return -1;
    return login_method_choose(o, scram, next, err, sizeof err) == 0 ? 0 : -1;
}
