/* mime_int.h — private to the mime_*.c files: the output buffer (mime_buf.c), transfer
 * encodings (mime_cte.c), charset conversion (mime_charset.c), HTML to text (mime_html.c), and
 * small character helpers. Each converter takes its input in pieces and keeps what a piece
 * leaves undecided for the next. */
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

/* ---- transfer encodings (mime_cte.c) ------------------------------------------------------ */

enum cte_kind { CTE_IDENTITY, CTE_QP, CTE_BASE64 };

/* The encoding named name[0..len) ("base64", "quoted-printable"; anything else: none). */
enum cte_kind cte_kind_of(const char *name, size_t len);

struct cte {
    enum cte_kind kind;
    uint32_t acc;                   /* base64 bits not yet a byte */
    int bits;
    char held[1032];                /* quoted-printable: a "=" the next piece decides on */
    size_t nheld;
};

void cte_init(struct cte *d, enum cte_kind kind);
/* Appends the decoding of s[0..n) to b; final: no more input follows. */
void cte_feed(struct cte *d, struct buf *b, const char *s, size_t n, bool final);

/* ---- charset conversion (mime_charset.c) -------------------------------------------------- */

/* Text of unknown or undeclared charset: UTF-8 where valid, else Windows-1252. */
void add_sanitized(struct buf *b, const char *str, size_t n);
/* Appends s[0..n) in charset cs[0..cslen) as UTF-8. Returns false (appending nothing) when the
 * charset is unknown. */
bool add_charset(struct buf *b, const char *cs, size_t cslen, const char *s, size_t n);

/* A conversion to UTF-8 fed in pieces: a character split between two keeps its first bytes. */
struct conv {
    int kind;
    void *cd;                       /* iconv_t, for charsets iconv knows */
    char carry[16];
    size_t ncarry;
};
/* For charset cs[0..cslen) ("" or unknown: UTF-8 where valid, else Windows-1252). */
void conv_open(struct conv *cv, const char *cs, size_t cslen);
/* Appends s[0..n) as UTF-8; final: no more input follows. */
void conv_feed(struct conv *cv, struct buf *b, const char *s, size_t n, bool final);
void conv_close(struct conv *cv);

/* ---- HTML (mime_html.c) ------------------------------------------------------------------- */

/* HTML to plain text, fed in pieces: tags dropped (block tags become line breaks),
 * script/style/comments dropped, entities decoded, blanks collapsed; with skip_quotes, what
 * <blockquote> holds dropped too. Blanks and line breaks at the end of the text are held
 * until more text comes, and dropped at the end. */
struct html {
    int state;
    bool skip_quotes, space, closing, any;
    int quotes;
    char name[16];                  /* the tag's name, lower-cased ("" when longer) */
    size_t namelen;
    char quote;
    size_t match;                   /* bytes of "<!--", "-->", "</script" matched so far */
    bool script;                    /* raw text: script (else style) */
    char ent[16];                   /* an entity's name so far */
    size_t nent;
    char pend[72];                  /* trailing blanks and line breaks not written yet */
    size_t npend;
};
void html_init(struct html *h, bool skip_quotes);
/* Appends the text of h[0..n) to b; final: no more input follows. */
void html_feed(struct html *h, struct buf *b, const char *s, size_t n, bool final);
/* The whole of h[0..n) at once. */
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
