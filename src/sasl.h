/* sasl.h — SASL client mechanisms behind one interface: the session hands each server challenge
 * in and gets the next client response back, both base64 as IMAP carries them. GNU SASL does
 * PLAIN, LOGIN, CRAM-MD5 and SCRAM; XOAUTH2 and OAUTHBEARER (RFC 7628) are framed here.
 *
 *   struct sasl *x; sasl_new(SASL_SCRAM_SHA_256, &cred, &x, err, len);
 *   sasl_step(x, NULL, &resp, ...)          initial response (SASL-IR), or per "+ challenge":
 *   sasl_step(x, challenge, &resp, ...)     ... until the tagged reply; then on OK require
 *   sasl_complete(x)                        (SCRAM: the server proved it knows the password). */
#ifndef IMAPSCRIPT_SASL_H
#define IMAPSCRIPT_SASL_H

#include <stdbool.h>
#include <stddef.h>

enum sasl_mech {
    SASL_PLAIN, SASL_LOGIN, SASL_CRAM_MD5, SASL_SCRAM_SHA_1, SASL_SCRAM_SHA_256,
    SASL_XOAUTH2, SASL_OAUTHBEARER,
};

enum {
    SASL_STEP_DONE = 0,         /* nothing more expected from the server but its verdict */
    SASL_STEP_MORE = 1,         /* the server should send another challenge */
    SASL_ERR_CHALLENGE = -1,    /* a malformed or unexpected challenge */
    SASL_ERR_PROOF = -2,        /* the server failed to prove it knows the password (SCRAM) */
    SASL_ERR_CREDENTIAL = -3,   /* the credential cannot be used (bad bytes, SASLprep failed) */
    SASL_ERR_NOMEM = -4,
};

struct sasl_credentials {
    const char *user;
    const char *secret;         /* the password, or the access token for XOAUTH2/OAUTHBEARER */
    size_t secret_len;
    const char *host;           /* OAUTHBEARER's host= and port= (optional) */
    unsigned port;
};

struct sasl;

/* "SCRAM-SHA-256": the name in AUTH= capabilities and after AUTHENTICATE. */
const char *sasl_mech_name(enum sasl_mech m);
/* The mechanism starts with a client response (sent inline with SASL-IR). */
bool sasl_mech_client_first(enum sasl_mech m);
/* The mechanism sends the secret itself (PLAIN, LOGIN, and the bearer-token ones): never on a
 * connection without TLS unless the user allows it. */
bool sasl_mech_cleartext(enum sasl_mech m);
/* The secret is an OAuth2 access token rather than a password. */
bool sasl_mech_takes_token(enum sasl_mech m);

/* Starts an exchange; the credentials are copied. Returns 0, or a SASL_ERR_* with err filled;
 * free *out with sasl_free. */
int sasl_new(enum sasl_mech m, const struct sasl_credentials *c, struct sasl **out, char *err,
             size_t errlen);
/* The response to challenge (base64 text as the server sent it, "" for an empty one; NULL asks
 * for the initial response). *resp is malloc'd base64 text, possibly "": the caller wipes and
 * frees it. Returns SASL_STEP_DONE, SASL_STEP_MORE, or a SASL_ERR_* with err filled (then the
 * caller cancels the exchange with "*"). */
int sasl_step(struct sasl *x, const char *challenge, char **resp, size_t *resp_len, char *err,
              size_t errlen);
/* Every check the client makes has passed: what a server's OK must find. */
bool sasl_complete(const struct sasl *x);
/* XOAUTH2/OAUTHBEARER: the server's failure report (JSON, non-printable bytes dropped), else
 * NULL. Holds no secret. */
const char *sasl_server_error(const struct sasl *x);
/* Wipes and frees. NULL is fine. */
void sasl_free(struct sasl *x);

#endif
