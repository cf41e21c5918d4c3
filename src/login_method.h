/* login_method.h — which way to log in, for every protocol that logs in with a password or an
 * OAuth2 token (IMAP in session_login.c, ManageSieve in managesieve.c): the account's `auth`
 * list or the automatic order, what the server offers, and the rule that no password or token
 * goes in clear without TLS unless the user allows it. Pure policy: no I/O. */
#ifndef IMAPSCRIPT_LOGIN_METHOD_H
#define IMAPSCRIPT_LOGIN_METHOD_H

#include <stdbool.h>
#include <stddef.h>

#include "session.h"    /* enum session_auth, SESSION_AUTH_MAX, SESSION_ERR_AUTH */

/* What the server and the connection offer, as the chooser needs it. */
struct login_offer {
    const char *label;                  /* the account, for messages */
    const enum session_auth *auth;      /* the configured methods; AUTO (or SESSION_AUTH_MAX
                                         * entries) ends the list; all AUTO: automatic */
    bool has_password, has_token;
    bool tls;                           /* the connection is encrypted */
    bool loopback;                      /* the host is this machine (or a tunnel's command) */
    bool allow_plaintext;               /* the user allows a secret in clear */
    bool login_command;                 /* the protocol has IMAP's LOGIN command */
    bool login_disabled;                /* the server said LOGINDISABLED */
    bool (*offers)(const void *ud, const char *mech);   /* SASL mechanism offered ("PLAIN") */
    const void *ud;
};

/* The SASL mechanism (enum sasl_mech) of a method, or -1 for IMAP's LOGIN command (and AUTO). */
int login_method_mech(enum session_auth a);
/* "scram-sha-256": the method as the account's `auth` setting spells it. */
const char *login_method_name(enum session_auth a);
/* The method sends the password or token itself (LOGIN, PLAIN, bearer tokens). */
bool login_method_in_clear(enum session_auth a);
/* The method logs in with an OAuth2 token rather than a password. */
bool login_method_takes_token(enum session_auth a);
/* localhost, 127.x.x.x, ::1. */
bool login_host_is_loopback(const char *host);

/* Picks the method to try (none of those in the skip mask, bit 1 << method): 0 and *out, or
 * SESSION_ERR_AUTH with err naming why none will do: the reason a sole method cannot be used;
 * else the first refusal to send a secret in clear (the one a user can act on); else what
 * was looked for. */
int login_method_choose(const struct login_offer *o, unsigned skip, enum session_auth *out,
                        char *err, size_t errlen);
/* After the server refused method a (the exchange itself went well): the next method worth one
 * try, 0 and *next, or -1. Only when a was picked automatically and is SCRAM: a server may offer
 * SCRAM yet keep a password hash it cannot check SCRAM with. */
int login_method_after_refusal(const struct login_offer *o, enum session_auth a,
                               enum session_auth *next);

#endif
