/* mime_cte.c — transfer encodings undone as the bytes come: lenient base64 and quoted-printable
 * (RFC 2045), whose state (bits, an "=" near the end of a piece) carries over between pieces. */
#include <stdlib.h>

#include "mime_int.h"

/* A "=" followed by more blanks than this before its line end is kept as a "=". */
#define QP_BLANKS_MAX 1024

void cte_init(struct cte *d, enum cte_kind kind)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
}

enum cte_kind cte_kind_of(const char *name, size_t len)
{
    if (eq_nocase(name, len, "base64"))
        return CTE_BASE64;
    if (eq_nocase(name, len, "quoted-printable"))
        return CTE_QP;
    return CTE_IDENTITY;
}

/* Lenient base64: skips anything outside the alphabet; "=" ends a group, so concatenated padded
 * blocks decode too. */
static void base64_feed(struct cte *d, struct buf *b, const char *s, size_t n)
{
    uint32_t acc = d->acc;
    int bits = d->bits;
    for (size_t i = 0; i < n && !b->err; i++) {
        int v = b64val(s[i]);
        if (v < 0) {
            if (s[i] == '=')
                acc = 0, bits = 0;
            continue;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_addc(b, (char)(acc >> bits));
        }
    }
    d->acc = acc;
    d->bits = bits;
}

/* Quoted-printable: "=XX", soft line breaks ("=" then optional blanks and a line end); any other
 * "=" is kept. Without final, stops at a "=" whose meaning the next piece decides; returns how
 * much of s was taken. */
static size_t qp_run(struct buf *b, const char *s, size_t n, bool final)
{
    size_t i = 0;
    while (i < n && !b->err) {
        size_t run = i;
        while (run < n && s[run] != '=')
            run++;
        buf_add(b, s + i, run - i);
        i = run;
        if (i >= n)
            break;
        int hi = i + 1 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
            buf_addc(b, (char)(hi << 4 | lo));
            i += 3;
            continue;
        }
        size_t j = i + 1;
        while (j < n && is_wsp(s[j]))
            j++;
        bool decided = j < n && !(s[j] == '\r' && j + 1 == n) &&
                       !(hi >= 0 && i + 2 >= n);
        if (!decided && !final && j - i <= QP_BLANKS_MAX)
            return i;                   /* the next piece says what this "=" is */
        if (j < n && s[j] == '\r' && j + 1 < n && s[j + 1] == '\n') {
            i = j + 2;
        } else if (j < n && s[j] == '\n') {
            i = j + 1;
        } else if (j >= n && (final || j - i <= QP_BLANKS_MAX)) {
            i = n;
        } else {
            buf_addc(b, '=');
            i++;
        }
    }
    return n;
}

static void qp_hold(struct cte *d, const char *s, size_t n)
{
    memcpy(d->held, s, n);
    d->nheld = n;
}

static void qp_feed(struct cte *d, struct buf *b, const char *s, size_t n, bool final)
{
    if (d->nheld) {
        /* The held "=" and its blanks, with enough of s to decide what they are. */
        char tmp[2 * sizeof d->held];
        size_t k = d->nheld, take = n < sizeof tmp - k ? n : sizeof tmp - k;
        memcpy(tmp, d->held, k);
        memcpy(tmp + k, s, take);
        d->nheld = 0;
        size_t used = qp_run(b, tmp, k + take, final && take == n);
        if (used < k) {                 /* still undecided: all of s is held too */
            qp_hold(d, tmp + used, k + take - used);
            return;
        }
        s += used - k;                  /* decided: s goes on from where the run stopped */
        n -= used - k;
    }
    size_t used = qp_run(b, s, n, final);
    if (used < n)
        qp_hold(d, s + used, n - used);
}

void cte_feed(struct cte *d, struct buf *b, const char *s, size_t n, bool final)
{
    switch (d->kind) {
    case CTE_BASE64:
        base64_feed(d, b, s, n);
        break;
    case CTE_QP:
        qp_feed(d, b, s, n, final);
        break;
    default:
        buf_add(b, s, n);
        break;
    }
}

/* ---- the public form: one part's bytes (mime.h) -------------------------------------------- */

struct mime_decoder {
    struct cte cte;
    struct buf out;
};

struct mime_decoder *mime_decoder_new(const char *encoding)
{
    struct mime_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    cte_init(&d->cte, cte_kind_of(encoding ? encoding : "", encoding ? strlen(encoding) : 0));
    buf_init(&d->out, SIZE_MAX);
    return d;
}

int mime_decoder_feed(struct mime_decoder *d, const char *in, size_t n, bool final,
                      const char **out, size_t *outlen)
{
    d->out.len = 0;
    cte_feed(&d->cte, &d->out, in, n, final);
    *out = d->out.p ? d->out.p : "";
    *outlen = d->out.len;
    return d->out.err;
}

void mime_decoder_free(struct mime_decoder *d)
{
    if (d) {
        free(d->out.p);
        free(d);
    }
}
