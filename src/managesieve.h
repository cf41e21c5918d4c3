/* managesieve.h — a ManageSieve client (RFC 5804): connect over transport.c (STARTTLS verified
 * like IMAP), log in with sasl.c by login_method.c's rules (never a secret in clear), then one
 * command at a time: CAPABILITY, CHECKSCRIPT, PUTSCRIPT, SETACTIVE, LISTSCRIPTS, GETSCRIPT,
 * DELETESCRIPT, LOGOUT. The protocol has no pipelining worth having: each call is one round trip.
 *
 * Errors are SESSION_ERR_* codes (session.h), with the same meaning as for IMAP: NET, TLS,
 * AUTH, NO (the server refused: its response code and words are in managesieve_reply), CLOSED
 * (BYE or dropped), PROTOCOL (unparsable), USAGE, NOMEM. Messages name the account label and
 * never hold a password or token. */
#ifndef IMAPSCRIPT_MANAGESIEVE_H
#define IMAPSCRIPT_MANAGESIEVE_H

#include <stdbool.h>
#include <stddef.h>

#include "session.h"    /* SESSION_ERR_*, enum session_auth, session_trace_fn, session_warn_fn */

struct managesieve_config {
    const char *host;
    unsigned port;                  /* 0: 4190 */
    bool starttls;                  /* STARTTLS, refusing to go on without it; false: plain */
    const char *verify_name, *ca_file, *fingerprint;
    bool insecure;
    int timeout_ms;                 /* connect and each read or write; 0: 30 s */
    const char *user;
    const char *password;           /* bytes, never logged */
    size_t password_len;            /* 0: strlen(password) */
    const char *token;              /* OAuth2 access token (XOAUTH2, OAUTHBEARER) */
    enum session_auth auth[SESSION_AUTH_MAX];   /* as for IMAP; "login" means automatic here */
    bool allow_plaintext;
    const char *label;              /* the account in messages; default user@host */
    session_trace_fn trace;         /* "C: ..." / "S: ..." lines, secrets shown as *** */
    void *trace_ud;
    session_warn_fn warn;           /* a password about to go in clear, a login retried */
    void *warn_ud;
};

/* The server's last refusal (NO): its response code ("QUOTA/MAXSCRIPTS", "NONEXISTENT",
 * "ACTIVE", ...) or "", and its words (several lines for a rejected script). Also the words of
 * an OK, which CHECKSCRIPT and PUTSCRIPT use for warnings. */
struct managesieve_reply {
    char code[64];
    char text[4096];
};

struct managesieve;

/* Connects, reads the greeting, does STARTTLS when configured, logs in, asks for the
 * capabilities. 0 and *out, or a code with err filled and *out NULL. */
int managesieve_open(const struct managesieve_config *cfg, struct managesieve **out, char *err,
                     size_t errlen);

/* The value of a capability ("SIEVE" -> "fileinto imap4flags ...", "STARTTLS" -> ""), or NULL
 * when the server did not announce it. Names are case-insensitive. */
const char *managesieve_capability(const struct managesieve *m, const char *name);
/* The announced capabilities in order: *n pairs of name (upper case) and value. */
const char *const *managesieve_capabilities(const struct managesieve *m, size_t *n);
/* The last reply's code and words. */
const struct managesieve_reply *managesieve_last(const struct managesieve *m);

/* Each returns 0 on OK, SESSION_ERR_NO when the server refused (see managesieve_last), or
 * another code; err is filled for every failure: "<label>: PUTSCRIPT rules: [QUOTA/MAXSIZE]
 * Script is too large". */
int managesieve_check(struct managesieve *m, const char *script, size_t len, char *err, size_t errlen);
int managesieve_put(struct managesieve *m, const char *name, const char *script, size_t len,
                    char *err, size_t errlen);
/* "" deactivates every script. */
int managesieve_setactive(struct managesieve *m, const char *name, char *err, size_t errlen);
int managesieve_delete(struct managesieve *m, const char *name, char *err, size_t errlen);
/* Calls fn(ud, name, len, active) for each script. */
int managesieve_list(struct managesieve *m, void (*fn)(void *ud, const char *name, size_t len,
                     bool active), void *ud, char *err, size_t errlen);
/* *script: malloc'd, NUL-terminated, *len bytes; the caller frees. */
int managesieve_get(struct managesieve *m, const char *name, char **script, size_t *len,
                    char *err, size_t errlen);
/* LOGOUT; the connection is unusable afterwards (free it still). */
int managesieve_logout(struct managesieve *m, char *err, size_t errlen);
/* Closes and frees; NULL is fine. */
void managesieve_free(struct managesieve *m);

#endif
