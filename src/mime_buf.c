/* mime_buf.c — the growing, size-limited output buffer the MIME decoders write into: bytes
 * past the limit are dropped, and an allocation failure is kept until the caller finishes. */
#include <errno.h>
#include <stdlib.h>

#include "mime_int.h"
#include "utf8.h"

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->full = false;
    b->err = 0;
}

bool buf_reserve(struct buf *b, size_t n)
{
    if (b->err)
        return false;
    if (b->cap - b->len > n)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
        if (cap > SIZE_MAX / 2) {
            b->err = -ENOMEM;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->err = -ENOMEM;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void buf_add(struct buf *b, const void *s, size_t n)
{
    if (b->full || b->err)
        return;
    if (n > b->max - b->len) {
        n = b->max - b->len;
        b->full = true;
    }
    if (n == 0 || !buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void buf_addc(struct buf *b, char c)
{
    buf_add(b, &c, 1);
}

void buf_add_cp(struct buf *b, uint32_t cp)
{
    char u[4];
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = 0xfffd;
    buf_add(b, u, utf8_encode(cp, u));
}

/* Hands the buffer's bytes to the caller as a NUL-terminated string. */
int buf_finish(struct buf *b, char **out, size_t *outlen)
{
    if (!b->err)
        buf_reserve(b, 1);
    if (b->err) {
        free(b->p);
        *out = NULL;
        if (outlen)
            *outlen = 0;
        return b->err;
    }
    b->p[b->len] = '\0';
    *out = b->p;
    if (outlen)
        *outlen = b->len;
    return 0;
}
