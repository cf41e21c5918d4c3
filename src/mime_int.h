/* mime_int.h — private to the mime_*.c files: the output buffer (mime_buf.c), charset
 * conversion (mime_charset.c), HTML to text (mime_html.c), and small character helpers. */
#ifndef IMAPSCRIPT_MIME_INT_H
#define IMAPSCRIPT_MIME_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mime.h"

/* ---- output buffer (mime_buf.c) ----------------------------------------------------------- */

/* A growing buffer with an optional size limit: bytes past max are dropped and full is set.
 * err is sticky (-ENOMEM), so callers check once at the end. */
struct buf {
    char *p;
    size_t len, cap, max;
    bool full;
    int err;
};

void buf_init(struct buf *b, size_t max);
/* Room for n more bytes (and one for a final NUL); false (err set) when out of memory. */
bool buf_reserve(struct buf *b, size_t n);
void buf_add(struct buf *b, const void *s, size_t n);
void buf_addc(struct buf *b, char c);
/* Appends code point cp as UTF-8; NUL, surrogates and values past U+10FFFF become U+FFFD. */
void buf_add_cp(struct buf *b, uint32_t cp);
/* Hands the buffer's bytes to the caller as a NUL-terminated string (or frees them and returns
 * the error). */
int buf_finish(struct buf *b, char **out, size_t *outlen);

/* ---- charset conversion (mime_charset.c) -------------------------------------------------- */

/* Text of unknown or undeclared charset: UTF-8 where valid, else Windows-1252. */
void add_sanitized(struct buf *b, const char *str, size_t n);
/* Appends s[0..n) in charset cs[0..cslen) as UTF-8. Returns false (appending nothing) when the
 * charset is unknown. */
bool add_charset(struct buf *b, const char *cs, size_t cslen, const char *s, size_t n);

/* ---- HTML (mime_html.c) ------------------------------------------------------------------- */

/* Appends HTML text h[0..n) (UTF-8) as plain text: tags dropped (block tags become line
 * breaks), script/style/comments dropped, entities decoded, blanks collapsed; with
 * skip_quotes, what <blockquote> holds dropped too. */
void strip_html(struct buf *b, const char *h, size_t n, bool skip_quotes);

/* ---- the first text part (mime_body.c) ---------------------------------------------------- */

/* As mime_body_text, but only the first text/plain or text/html part that is not an
 * attachment, an HTML one without what its <blockquote>s hold: what a preview is made of. */
int mime_first_text(const char *msg, size_t len, size_t max, char **out, size_t *outlen);

/* ---- characters --------------------------------------------------------------------------- */

static inline bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static inline bool eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* End of the line starting at i: the offset of its "\n", or len. */
static inline size_t line_end(const char *s, size_t len, size_t i)
{
    const char *nl = memchr(s + i, '\n', len - i);
    return nl ? (size_t)(nl - s) : len;
}

#endif
