/* http_post.h — one HTTPS POST of a form, as OAuth2 token endpoints want it: the certificate
 * verified (system store or a CA file), HTTPS only, no redirects, bounded time and answer size. */
#ifndef IMAPSCRIPT_HTTP_POST_H
#define IMAPSCRIPT_HTTP_POST_H

#include <stddef.h>

enum { HTTP_ERR_NET = -1, HTTP_ERR_TLS = -2, HTTP_ERR_USAGE = -3, HTTP_ERR_NOMEM = -4 };

struct http_field {
    const char *name, *value;
};

struct http_answer {
    long status;                /* 200, 400, ... */
    char *body;                 /* NUL-terminated; may hold tokens: http_answer_free wipes it */
    size_t len;
};

/* POSTs the fields (application/x-www-form-urlencoded) to url and reads the answer (at most
 * 1 MiB) into *out. ca_file: PEM CAs to trust instead of the system's, or NULL. timeout_s: the
 * whole exchange. Returns 0 (any HTTP status), or an HTTP_ERR_* with err filled; err never
 * holds a field's value. */
int http_post_form(const char *url, const struct http_field *fields, size_t n, const char *ca_file,
                   long timeout_s, struct http_answer *out, char *err, size_t errlen);
void http_answer_free(struct http_answer *a);

#endif
