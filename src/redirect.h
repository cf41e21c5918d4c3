/* redirect.h — the loopback end of an OAuth2 authorization: a listener on 127.0.0.1 that waits
 * for the browser's redirect (GET /?code=...&state=...), answers it with a short page and hands
 * the query string over. */
#ifndef IMAPSCRIPT_REDIRECT_H
#define IMAPSCRIPT_REDIRECT_H

#include <stddef.h>

struct redirect;

/* Listens on a free port of 127.0.0.1 (*port). Returns 0, or -errno with err filled. */
int redirect_listen(struct redirect **out, unsigned *port, char *err, size_t errlen);
/* Waits up to timeout_ms for a GET of path ("/"); requests for other paths (a favicon) get a
 * 404 and the wait goes on. Answers the request with page (HTML). Returns 1 with *query the
 * malloc'd text after '?' ("" when none; the caller wipes and frees it: it holds the code),
 * 0 on timeout, or -errno with err filled. */
int redirect_wait(struct redirect *r, const char *path, int timeout_ms, const char *page,
                  char **query, char *err, size_t errlen);
/* Stops listening and frees. NULL is fine. */
void redirect_close(struct redirect *r);

#endif
