/* mime.c — turns raw mail into UTF-8 text for client-side rules: encoded-word header decoding,
 * header lookup, and the text of a message's text parts. All input is treated as hostile. */
#include "mime.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- output buffer ------------------------------------------------------------------------ */

/* A growing buffer with an optional size limit: bytes past max are dropped and full is set.
 * err is sticky (-ENOMEM), so callers check once at the end. */
struct buf {
    char *p;
    size_t len, cap, max;
    bool full;
    int err;
};

static void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->full = false;
    b->err = 0;
}

static bool buf_reserve(struct buf *b, size_t n)
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

static void buf_add(struct buf *b, const void *s, size_t n)
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

static void buf_addc(struct buf *b, char c)
{
    buf_add(b, &c, 1);
}

static void buf_add_cp(struct buf *b, uint32_t cp)
{
    char u[4];
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = 0xfffd;
    if (cp < 0x80) {
        u[0] = (char)cp;
        buf_add(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        buf_add(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        buf_add(b, u, 3);
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        buf_add(b, u, 4);
    }
}

/* Hands the buffer's bytes to the caller as a NUL-terminated string. */
static int buf_finish(struct buf *b, char **out, size_t *outlen)
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

/* ---- characters --------------------------------------------------------------------------- */

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of the valid (RFC 3629) UTF-8 sequence at s[0..n), 0 if there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0) lo = 0xa0;
        if (s[0] == 0xed) hi = 0x9f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0) lo = 0x90;
        if (s[0] == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Windows-1252 0x80..0x9f; the five unassigned bytes map to the C1 controls, as browsers do. */
static const uint16_t cp1252_high[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
    0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static uint32_t cp1252(unsigned char c)
{
    return c >= 0x80 && c < 0xa0 ? cp1252_high[c - 0x80] : c;
}

/* Appends s[0..n): valid UTF-8 as is, every other byte read as Windows-1252 (cp1252) or
 * replaced by U+FFFD. */
static void add_utf8(struct buf *b, const char *str, size_t n, bool cp1252_fallback)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n && !b->full && !b->err) {
        size_t run = i;
        while (run < n && s[run] < 0x80)
            run++;
        if (run > i) {
            buf_add(b, s + i, run - i);
            i = run;
            continue;
        }
        size_t k = utf8_seq(s + i, n - i);
        if (k) {
            buf_add(b, s + i, k);
            i += k;
        } else {
            buf_add_cp(b, cp1252_fallback ? cp1252(s[i]) : 0xfffd);
            i++;
        }
    }
}

/* Text of unknown or undeclared charset: UTF-8 where valid, else Windows-1252. */
static void add_sanitized(struct buf *b, const char *str, size_t n)
{
    add_utf8(b, str, n, true);
}

static void add_cp1252(struct buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n && !b->full && !b->err; i++)
        buf_add_cp(b, cp1252(s[i]));
}

/* ---- charset conversion ------------------------------------------------------------------- */

/* Copies a charset name, lower-cased, without an RFC 2231 "*language" suffix, into name
 * (NUL-terminated). Returns false when it is empty, too long, or holds odd bytes. */
static bool charset_name(const char *cs, size_t len, char *name, size_t size)
{
    const char *star = memchr(cs, '*', len);
    if (star)
        len = (size_t)(star - cs);
    if (len == 0 || len >= size)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)cs[i];
        if (c <= ' ' || c >= 0x7f || c == '/' || c == '"')
            return false;
        name[i] = lower(cs[i]);
    }
    name[len] = '\0';
    return true;
}

enum charset_kind { CS_UNKNOWN, CS_UTF8, CS_ASCII, CS_CP1252, CS_ICONV };

/* Classifies a cleaned charset name; for CS_ICONV *cd is an open descriptor to close. */
static enum charset_kind charset_open(const char *name, iconv_t *cd)
{
    static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8", NULL};
    /* 7-bit or unlabelled: 8-bit bytes in them are usually Windows-1252 in disguise. */
    static const char *const ascii[] = {"us-ascii", "ascii", "ansi_x3.4-1968", "x-unknown",
                                        "unknown-8bit", "unknown", "default", NULL};
    static const char *const latin1[] = {"iso-8859-1", "iso8859-1", "latin1", "l1",
                                         "windows-1252", "cp1252", "x-cp1252", "iso_8859-1",
                                         NULL};
    for (size_t i = 0; utf8[i]; i++)
        if (strcmp(name, utf8[i]) == 0)
            return CS_UTF8;
    for (size_t i = 0; ascii[i]; i++)
        if (strcmp(name, ascii[i]) == 0)
            return CS_ASCII;
    for (size_t i = 0; latin1[i]; i++)
        if (strcmp(name, latin1[i]) == 0)
            return CS_CP1252;
    *cd = iconv_open("UTF-8", name);
    return *cd == (iconv_t)-1 ? CS_UNKNOWN : CS_ICONV;
}

/* Converts s[0..n) with cd into b; undecodable bytes become U+FFFD. */
static void add_iconv(struct buf *b, iconv_t cd, const char *s, size_t n)
{
    char chunk[4096];
    char *in = (char *)s;
    size_t inleft = n;
    bool flushing = false;
    while (!b->full && !b->err) {
        char *outp = chunk;
        size_t outleft = sizeof chunk;
        size_t rc = flushing ? iconv(cd, NULL, NULL, &outp, &outleft)
                             : iconv(cd, &in, &inleft, &outp, &outleft);
        int e = errno;
        buf_add(b, chunk, (size_t)(outp - chunk));
        if (rc != (size_t)-1) {
            if (flushing)
                break;
            flushing = true;   /* all input taken: write any shift sequence out */
            continue;
        }
        if (e == E2BIG)
            continue;
        if (flushing)
            break;
        /* EILSEQ: skip one bad byte; EINVAL: the input ends inside a character. */
        buf_add_cp(b, 0xfffd);
        if (e == EILSEQ && inleft > 0) {
            in++;
            inleft--;
            continue;
        }
        if (e == EINVAL)
            flushing = true;
        else
            break;
    }
}

/* Appends s[0..n) in charset cs[0..cslen) as UTF-8. Returns false (appending nothing) when the
 * charset is unknown. */
static bool add_charset(struct buf *b, const char *cs, size_t cslen, const char *s, size_t n)
{
    char name[64];
    iconv_t cd;
    if (!charset_name(cs, cslen, name, sizeof name))
        return false;
    switch (charset_open(name, &cd)) {
    case CS_UTF8:
        add_utf8(b, s, n, false);
        return true;
    case CS_ASCII:
        add_sanitized(b, s, n);
        return true;
    case CS_CP1252:
        add_cp1252(b, s, n);
        return true;
    case CS_ICONV:
        add_iconv(b, cd, s, n);
        iconv_close(cd);
        return true;
    case CS_UNKNOWN:
        break;
    }
    return false;
}

/* ---- transfer encodings ------------------------------------------------------------------- */

static int b64val(char c)
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

/* Lenient base64 (bodies): skips anything outside the alphabet; "=" ends a group, so
 * concatenated padded blocks decode too. Stops once limit bytes are out. */
static void base64_decode(struct buf *b, const char *s, size_t n, size_t limit)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t start = b->len;
    for (size_t i = 0; i < n && b->len - start < limit && !b->err; i++) {
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
}

/* Quoted-printable (bodies): "=XX", soft line breaks ("=" then optional blanks and a line end);
 * any other "=" is kept. Stops once limit bytes are out. */
static void qp_decode(struct buf *b, const char *s, size_t n, size_t limit)
{
    size_t start = b->len;
    size_t i = 0;
    while (i < n && b->len - start < limit && !b->err) {
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
        if (j < n && s[j] == '\r' && j + 1 < n && s[j + 1] == '\n') {
            i = j + 2;
        } else if (j < n && s[j] == '\n') {
            i = j + 1;
        } else if (j >= n) {
            i = n;
        } else {
            buf_addc(b, '=');
            i++;
        }
    }
}

/* ---- RFC 2047 encoded words --------------------------------------------------------------- */

struct eword {
    const char *charset;
    size_t charsetlen;
    char enc;                 /* 'b' or 'q' */
    const char *text;
    size_t textlen;
    size_t end;               /* offset just past "?=" */
};

/* Parses "=?charset?e?text?=" at s[i..n). */
static bool eword_parse(const char *s, size_t n, size_t i, struct eword *w)
{
    if (i + 1 >= n || s[i] != '=' || s[i + 1] != '?')
        return false;
    size_t j = i + 2, cs = j;
    while (j < n && s[j] != '?' && (unsigned char)s[j] > ' ' && (unsigned char)s[j] < 0x7f)
        j++;
    if (j >= n || s[j] != '?' || j == cs || j - cs > 60)
        return false;
    w->charset = s + cs;
    w->charsetlen = j - cs;
    if (j + 2 >= n || s[j + 2] != '?')
        return false;
    w->enc = lower(s[j + 1]);
    if (w->enc != 'b' && w->enc != 'q')
        return false;
    j += 3;
    size_t t = j;
    while (j + 1 < n && !(s[j] == '?' && s[j + 1] == '=')) {
        if ((unsigned char)s[j] <= ' ' || (unsigned char)s[j] >= 0x7f)
            return false;
        j++;
    }
    if (j + 1 >= n)
        return false;
    w->text = s + t;
    w->textlen = j - t;
    w->end = j + 2;
    return true;
}

/* Decodes a word's text into b. Strict: false (b possibly extended; the caller rewinds) on any
 * malformation, so a broken word is kept as written. */
static bool eword_decode(const struct eword *w, struct buf *b)
{
    const char *s = w->text;
    size_t n = w->textlen;
    if (w->enc == 'q') {
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '_') {
                buf_addc(b, ' ');
            } else if (s[i] == '=') {
                int hi = i + 1 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
                if (hi < 0 || lo < 0)
                    return false;
                buf_addc(b, (char)(hi << 4 | lo));
                i += 2;
            } else {
                buf_addc(b, s[i]);
            }
        }
        return true;
    }
    uint32_t acc = 0;
    int bits = 0;
    size_t i = 0;
    for (; i < n && s[i] != '='; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return false;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_addc(b, (char)(acc >> bits));
        }
    }
    for (; i < n; i++)   /* only padding may follow */
        if (s[i] != '=')
            return false;
    return bits < 6;      /* a lone sextet is not a byte */
}

/* Adjacent words in one charset are converted together, so that a character whose bytes are
 * split across two words comes out whole. */
struct pending {
    const char *charset;
    size_t charsetlen;
    size_t raw_start, raw_end;     /* the words as written, for an unknown charset */
    struct buf bytes;
    bool active;
};

static void pending_flush(struct pending *p, struct buf *out, const char *s)
{
    if (!p->active)
        return;
    if (p->bytes.err)
        out->err = p->bytes.err;
    else if (!add_charset(out, p->charset, p->charsetlen, p->bytes.p ? p->bytes.p : "",
                          p->bytes.len))
        add_sanitized(out, s + p->raw_start, p->raw_end - p->raw_start);
    p->bytes.len = 0;
    p->active = false;
}

/* Drops CR and LF (unfolding) into a new buffer. */
static int unfold(const char *s, size_t n, struct buf *u)
{
    buf_init(u, SIZE_MAX);
    if (!buf_reserve(u, n))
        return u->err;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n')
            u->p[u->len++] = s[i];
    return 0;
}

int mime_decode_header(const char *value, size_t len, char **out, size_t *outlen)
{
    struct buf u, b;
    struct pending p = {0};
    buf_init(&b, SIZE_MAX);
    buf_init(&p.bytes, SIZE_MAX);
    if (unfold(value, len, &u) != 0)
        return buf_finish(&u, out, outlen);
    const char *s = u.p ? u.p : "";
    size_t n = u.len, i = 0;
    while (i < n && is_wsp(s[i]))
        i++;
    while (n > i && is_wsp(s[n - 1]))
        n--;
    bool after_word = false;
    size_t ws_start = 0, ws_end = 0;     /* blanks held after a word */
    while (i < n && !b.err) {
        struct eword w;
        if (s[i] == '=' && eword_parse(s, n, i, &w)) {
            size_t mark = p.bytes.len;
            bool same = p.active && p.charsetlen == w.charsetlen
                        && strncasecmp(p.charset, w.charset, w.charsetlen) == 0;
            if (!same)
                mark = 0;
            if (!same)
                pending_flush(&p, &b, s);
            if (eword_decode(&w, &p.bytes)) {
                if (!same) {
                    p.charset = w.charset;
                    p.charsetlen = w.charsetlen;
                    p.raw_start = i;
                }
                p.raw_end = w.end;
                p.active = true;
                after_word = true;
                ws_start = ws_end = 0;
                i = w.end;
                continue;
            }
            p.bytes.len = mark;   /* broken word: falls through as plain text */
            if (p.bytes.err)
                b.err = p.bytes.err;
        }
        if (is_wsp(s[i])) {
            size_t j = i;
            while (j < n && is_wsp(s[j]))
                j++;
            if (after_word) {
                ws_start = i;
                ws_end = j;
            } else {
                buf_add(&b, s + i, j - i);
            }
            i = j;
            continue;
        }
        /* Plain text up to the next blank or possible word. */
        pending_flush(&p, &b, s);
        if (after_word)
            buf_add(&b, s + ws_start, ws_end - ws_start);
        after_word = false;
        size_t j = i + 1;
        while (j < n && !is_wsp(s[j]) && s[j] != '=')
            j++;
        add_sanitized(&b, s + i, j - i);
        i = j;
    }
    pending_flush(&p, &b, s);
    free(p.bytes.p);
    free(u.p);
    return buf_finish(&b, out, outlen);
}

/* ---- header fields ------------------------------------------------------------------------ */

/* End of the line starting at i: the offset of its "\n", or len. */
static size_t line_end(const char *s, size_t len, size_t i)
{
    const char *nl = memchr(s + i, '\n', len - i);
    return nl ? (size_t)(nl - s) : len;
}

bool mime_header_next(const char *hdr, size_t len, size_t *pos, struct mime_field *f)
{
    size_t i = *pos;
    while (i < len) {
        size_t eol = line_end(hdr, len, i);
        size_t next = eol < len ? eol + 1 : len;
        size_t content_end = eol > i && hdr[eol - 1] == '\r' ? eol - 1 : eol;
        if (content_end == i) {          /* empty line: end of the header block */
            *pos = len;
            return false;
        }
        if (is_wsp(hdr[i])) {            /* continuation without a field */
            i = next;
            continue;
        }
        const char *colon = memchr(hdr + i, ':', content_end - i);
        size_t nend = colon ? (size_t)(colon - hdr) : i;
        while (nend > i && is_wsp(hdr[nend - 1]))
            nend--;
        if (!colon || nend == i) {
            i = next;
            continue;
        }
        /* The value runs on through every line that starts with a blank. */
        size_t vstart = (size_t)(colon - hdr) + 1, vend = content_end;
        while (next < len && is_wsp(hdr[next])) {
            eol = line_end(hdr, len, next);
            vend = eol > next && hdr[eol - 1] == '\r' ? eol - 1 : eol;
            next = eol < len ? eol + 1 : len;
        }
        f->name = hdr + i;
        f->namelen = nend - i;
        f->value = hdr + vstart;
        f->valuelen = vend - vstart;
        *pos = next;
        return true;
    }
    *pos = len;
    return false;
}

bool mime_header_find(const char *hdr, size_t len, size_t *pos, const char *name,
                      size_t namelen, struct mime_field *f)
{
    while (mime_header_next(hdr, len, pos, f))
        if (f->namelen == namelen && strncasecmp(f->name, name, namelen) == 0)
            return true;
    return false;
}

/* ---- MIME structure ----------------------------------------------------------------------- */

enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };

struct part {
    char type[32], subtype[64], charset[64], boundary[128];
    enum cte cte;
    bool attachment;
};

/* Skips blanks, line breaks and (nested) comments in a structured header value. */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
    for (;;) {
        while (i < n && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i >= n || s[i] != '(')
            return i;
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            else if (s[i] == '(')
                depth++;
            else if (s[i] == ')' && --depth == 0) {
                i++;
                break;
            }
        }
    }
}

static bool is_tspecial(char c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* Reads an RFC 2045 token at s[i..n) into out (lower-cased, truncated to size - 1).
 * Returns the offset after it. */
static size_t read_token(const char *s, size_t n, size_t i, char *out, size_t size)
{
    size_t k = 0;
    while (i < n && (unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f && !is_tspecial(s[i])) {
        if (k + 1 < size)
            out[k++] = lower(s[i]);
        i++;
    }
    out[k] = '\0';
    return i;
}

/* Reads a token or quoted string value (case kept) into out. */
static size_t read_value(const char *s, size_t n, size_t i, char *out, size_t size)
{
    size_t k = 0;
    if (i < n && s[i] == '"') {
        for (i++; i < n && s[i] != '"'; i++) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            if (s[i] == '\r' || s[i] == '\n')
                continue;
            if (k + 1 < size)
                out[k++] = s[i];
        }
        out[k] = '\0';
        return i < n ? i + 1 : n;
    }
    while (i < n && (unsigned char)s[i] > ' ' && s[i] != ';' && s[i] != '"') {
        if (k + 1 < size)
            out[k++] = s[i];
        i++;
    }
    out[k] = '\0';
    return i;
}

/* Parses a Content-Type value into p's type, subtype, charset and boundary. */
static void parse_content_type(const char *s, size_t n, struct part *p)
{
    char type[32], subtype[64];
    size_t i = skip_cfws(s, n, 0);
    i = read_token(s, n, i, type, sizeof type);
    i = skip_cfws(s, n, i);
    if (i >= n || s[i] != '/' || !type[0])
        return;                    /* invalid: the default type stands */
    i = skip_cfws(s, n, i + 1);
    i = read_token(s, n, i, subtype, sizeof subtype);
    if (!subtype[0])
        return;
    memcpy(p->type, type, sizeof type);
    memcpy(p->subtype, subtype, sizeof subtype);
    while (i < n) {
        i = skip_cfws(s, n, i);
        if (i >= n || s[i] != ';') {
            i++;                   /* junk: resynchronise on the next ';' */
            continue;
        }
        i = skip_cfws(s, n, i + 1);
        char name[32], value[128];
        i = read_token(s, n, i, name, sizeof name);
        i = skip_cfws(s, n, i);
        if (i >= n || s[i] != '=')
            continue;
        i = skip_cfws(s, n, i + 1);
        i = read_value(s, n, i, value, sizeof value);
        if (strcmp(name, "charset") == 0)
            memcpy(p->charset, value, sizeof p->charset - 1), p->charset[sizeof p->charset - 1] = '\0';
        else if (strcmp(name, "boundary") == 0)
            memcpy(p->boundary, value, sizeof p->boundary);
    }
}

/* Reads the part's MIME fields from its header block. */
static void parse_part(const char *hdr, size_t hlen, struct part *p, bool digest_child)
{
    memset(p, 0, sizeof *p);
    strcpy(p->type, digest_child ? "message" : "text");
    strcpy(p->subtype, digest_child ? "rfc822" : "plain");
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(hdr, hlen, &pos, &f)) {
        if (f.namelen == 12 && strncasecmp(f.name, "Content-Type", 12) == 0) {
            parse_content_type(f.value, f.valuelen, p);
        } else if (f.namelen == 25 && strncasecmp(f.name, "Content-Transfer-Encoding", 25) == 0) {
            char enc[32];
            read_token(f.value, f.valuelen, skip_cfws(f.value, f.valuelen, 0), enc, sizeof enc);
            p->cte = strcmp(enc, "quoted-printable") == 0 ? CTE_QP
                   : strcmp(enc, "base64") == 0 ? CTE_BASE64 : CTE_IDENTITY;
        } else if (f.namelen == 19 && strncasecmp(f.name, "Content-Disposition", 19) == 0) {
            char disp[32];
            read_token(f.value, f.valuelen, skip_cfws(f.value, f.valuelen, 0), disp, sizeof disp);
            p->attachment = strcmp(disp, "attachment") == 0;
        }
    }
}

/* Splits an entity into header block and body at the first empty line. No empty line: the
 * whole entity is header (a part that starts with one has no header at all). */
static void split_entity(const char *s, size_t n, size_t *hlen, size_t *body)
{
    size_t i = 0;
    while (i < n) {
        size_t eol = line_end(s, n, i);
        size_t content_end = eol > i && s[eol - 1] == '\r' ? eol - 1 : eol;
        if (content_end == i) {
            *hlen = i;
            *body = eol < n ? eol + 1 : n;
            return;
        }
        i = eol < n ? eol + 1 : n;
    }
    *hlen = n;
    *body = n;
}

struct walk {
    struct buf out;
    struct buf tmp;           /* a part's decoded bytes, reused */
    struct buf conv;          /* an HTML part converted to UTF-8, reused */
    bool html;                /* second pass: HTML parts */
    bool found;               /* a part of the kind wanted was seen */
};

static void walk_entity(struct walk *w, const char *s, size_t n, int depth, bool digest_child);

/* A delimiter line "--boundary" (or "--boundary--") at s[i..n), i at a line start. Returns 0
 * when it is not one, 1 for a delimiter, 2 for the close delimiter; *next is the next line. */
static int delimiter_at(const char *s, size_t n, size_t i, const char *bd, size_t bdlen,
                        size_t *next)
{
    if (n - i < bdlen + 2 || s[i] != '-' || s[i + 1] != '-' || memcmp(s + i + 2, bd, bdlen) != 0)
        return 0;
    size_t j = i + 2 + bdlen;
    int kind = 1;
    if (j + 1 < n && s[j] == '-' && s[j + 1] == '-') {
        kind = 2;
        j += 2;
    }
    while (j < n && (is_wsp(s[j]) || s[j] == '\r'))
        j++;
    if (j < n && s[j] != '\n')
        return 0;                  /* "--boundaryX": a longer boundary, not ours */
    *next = j < n ? j + 1 : n;
    return kind;
}

static void walk_multipart(struct walk *w, const char *s, size_t n, const struct part *p,
                           int depth)
{
    const char *bd = p->boundary;
    size_t bdlen = strlen(bd);
    if (bdlen == 0)
        return;
    bool digest = strcmp(p->subtype, "digest") == 0;
    size_t i = 0, part_start = 0;
    bool in_part = false;
    while (i < n && !w->out.full && !w->out.err) {
        size_t next;
        int kind = delimiter_at(s, n, i, bd, bdlen, &next);
        if (kind) {
            if (in_part) {
                /* The line break before the delimiter belongs to it. */
                size_t end = i;
                if (end > part_start && s[end - 1] == '\n')
                    end--;
                if (end > part_start && s[end - 1] == '\r')
                    end--;
                walk_entity(w, s + part_start, end - part_start, depth + 1, digest);
            }
            if (kind == 2)
                return;
            in_part = true;
            part_start = next;
            i = next;
            continue;
        }
        size_t eol = line_end(s, n, i);
        i = eol < n ? eol + 1 : n;
    }
    if (in_part && !w->out.full)  /* no close delimiter: the last part runs to the end */
        walk_entity(w, s + part_start, n - part_start, depth + 1, digest);
}

static bool name_is(const char *s, size_t n, const char *name)
{
    return eq_nocase(s, n, name);
}

/* Appends HTML text h[0..n) (UTF-8) as plain text: tags dropped (block tags become line
 * breaks), script/style/comments dropped, entities decoded, blanks collapsed. */
static void strip_html(struct buf *b, const char *h, size_t n)
{
    static const char *const blocks[] = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4",
                                         "h5", "h6", "table", "ul", "ol", "blockquote", "hr",
                                         "pre", "dt", "dd", "title", "section", "article",
                                         "header", "footer", NULL};
    static const struct { const char *name; uint32_t cp; } entities[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
        {"copy", 0xa9}, {"reg", 0xae}, {"euro", 0x20ac}, {"hellip", 0x2026}, {"mdash", 0x2014},
        {"ndash", 0x2013}, {"laquo", 0xab}, {"raquo", 0xbb}, {"rsquo", 0x2019},
        {"lsquo", 0x2018}, {"rdquo", 0x201d}, {"ldquo", 0x201c}, {"bull", 0x2022},
        {"auml", 0xe4}, {"ouml", 0xf6}, {"uuml", 0xfc}, {"Auml", 0xc4}, {"Ouml", 0xd6},
        {"Uuml", 0xdc}, {"szlig", 0xdf}, {"eacute", 0xe9}, {"egrave", 0xe8}, {"agrave", 0xe0},
        {"ccedil", 0xe7}, {NULL, 0},
    };
    size_t start = b->len;
    bool space = true;   /* the last thing written was a blank or line break */
    size_t i = 0;
    while (i < n && !b->full && !b->err) {
        char c = h[i];
        if (c == '<') {
            if (n - i >= 4 && memcmp(h + i, "<!--", 4) == 0) {
                const char *e = memmem(h + i + 4, n - i - 4, "-->", 3);
                i = e ? (size_t)(e - h) + 3 : n;
                continue;
            }
            size_t j = i + 1;
            bool closing = j < n && h[j] == '/';
            if (closing)
                j++;
            size_t name = j;
            while (j < n && ((h[j] >= 'a' && h[j] <= 'z') || (h[j] >= 'A' && h[j] <= 'Z')
                             || (h[j] >= '0' && h[j] <= '9')))
                j++;
            size_t namelen = j - name;
            if (namelen == 0 && !closing && !(j < n && (h[j] == '!' || h[j] == '?'))) {
                buf_addc(b, '<');    /* a lone "<" in text */
                space = false;
                i++;
                continue;
            }
            /* Find the tag's end, stepping over quoted attribute values. */
            char quote = 0;
            for (; j < n; j++) {
                if (quote) {
                    if (h[j] == quote)
                        quote = 0;
                } else if (h[j] == '"' || h[j] == '\'') {
                    quote = h[j];
                } else if (h[j] == '>') {
                    break;
                }
            }
            i = j < n ? j + 1 : n;
            if (!closing && (name_is(h + name, namelen, "script")
                             || name_is(h + name, namelen, "style"))) {
                const char *endtag = name_is(h + name, namelen, "script") ? "</script" : "</style";
                size_t el = strlen(endtag), k = i;
                while (k + el <= n && !eq_nocase(h + k, el, endtag))
                    k++;
                if (k + el > n) {
                    i = n;
                    continue;
                }
                const char *gt = memchr(h + k, '>', n - k);
                i = gt ? (size_t)(gt - h) + 1 : n;
                continue;
            }
            bool block = false;
            for (size_t k = 0; blocks[k]; k++)
                if (name_is(h + name, namelen, blocks[k]))
                    block = true;
            if (block) {
                /* No blanks at line ends; at most one empty line in a row. */
                while (b->len > start && b->p[b->len - 1] == ' ')
                    b->len--;
                if (!(b->len - start >= 2 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\n')
                    && b->len > start)
                    buf_addc(b, '\n');
                space = true;
            } else if ((name_is(h + name, namelen, "td") || name_is(h + name, namelen, "th"))
                       && !space) {
                buf_addc(b, ' ');
                space = true;
            }
            continue;
        }
        if (c == '&') {
            size_t j = i + 1;
            while (j < n && j - i < 12 && h[j] != ';' && h[j] != '&' && h[j] != '<'
                   && !is_wsp(h[j]))
                j++;
            uint32_t cp = 0;
            if (j < n && h[j] == ';' && j > i + 1) {
                const char *e = h + i + 1;
                size_t elen = j - i - 1;
                if (e[0] == '#') {
                    bool hex = elen > 1 && (e[1] == 'x' || e[1] == 'X');
                    size_t k = hex ? 2 : 1;
                    uint32_t v = 0;
                    bool ok = k < elen;
                    for (; k < elen && ok; k++) {
                        int d = hex ? hexval(e[k]) : (e[k] >= '0' && e[k] <= '9' ? e[k] - '0' : -1);
                        if (d < 0 || v > 0x10ffff)
                            ok = false;
                        else
                            v = v * (hex ? 16 : 10) + (uint32_t)d;
                    }
                    if (ok)
                        cp = v ? v : 0xfffd;
                } else {
                    for (size_t k = 0; entities[k].name; k++)
                        if (strlen(entities[k].name) == elen
                            && memcmp(entities[k].name, e, elen) == 0)
                            cp = entities[k].cp;
                }
            }
            if (cp) {
                buf_add_cp(b, cp);
                space = cp == ' ';
                i = j + 1;
            } else {
                buf_addc(b, '&');
                space = false;
                i++;
            }
            continue;
        }
        if (is_wsp(c) || c == '\r' || c == '\n') {
            if (!space) {
                buf_addc(b, ' ');
                space = true;
            }
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && h[j] != '<' && h[j] != '&' && !is_wsp(h[j]) && h[j] != '\r' && h[j] != '\n')
            j++;
        buf_add(b, h + i, j - i);
        space = false;
        i = j;
    }
    while (b->len > start && (b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\n'))
        b->len--;
}

/* Decodes a leaf text part's body into w->out (plain) or through strip_html (HTML). */
static void walk_text(struct walk *w, const char *body, size_t n, const struct part *p)
{
    struct buf *dst = w->html ? &w->conv : &w->out;
    /* Plain text: no need to decode much more than fits (4 bytes in can make 1 out). */
    size_t room = w->out.max - w->out.len;
    size_t limit = w->html || room > SIZE_MAX / 8 ? SIZE_MAX : room * 4 + 64;
    w->tmp.len = 0;
    w->conv.len = 0;
    const char *bytes = body;
    size_t nbytes = n;
    if (p->cte != CTE_IDENTITY) {
        if (p->cte == CTE_QP)
            qp_decode(&w->tmp, body, n, limit);
        else
            base64_decode(&w->tmp, body, n, limit);
        if (w->tmp.err) {
            w->out.err = w->tmp.err;
            return;
        }
        bytes = w->tmp.p ? w->tmp.p : "";
        nbytes = w->tmp.len;
    } else if (nbytes > limit) {
        nbytes = limit;
    }
    if (w->out.len > 0 && w->out.p[w->out.len - 1] != '\n')
        buf_addc(&w->out, '\n');
    if (!p->charset[0] || !add_charset(dst, p->charset, strlen(p->charset), bytes, nbytes))
        add_sanitized(dst, bytes, nbytes);
    if (w->html) {
        if (w->conv.err)
            w->out.err = w->conv.err;
        else
            strip_html(&w->out, w->conv.p ? w->conv.p : "", w->conv.len);
    }
}

static void walk_entity(struct walk *w, const char *s, size_t n, int depth, bool digest_child)
{
    if (depth > MIME_MAX_DEPTH || w->out.full || w->out.err)
        return;
    size_t hlen, body;
    split_entity(s, n, &hlen, &body);
    struct part p;
    parse_part(s, hlen, &p, digest_child);
    if (strcmp(p.type, "multipart") == 0) {
        walk_multipart(w, s + body, n - body, &p, depth);
    } else if (strcmp(p.type, "message") == 0 && strcmp(p.subtype, "rfc822") == 0
               && !p.attachment) {
        walk_entity(w, s + body, n - body, depth + 1, false);
    } else if (strcmp(p.type, "text") == 0 && !p.attachment) {
        bool want = w->html ? strcmp(p.subtype, "html") == 0 : strcmp(p.subtype, "plain") == 0;
        if (want) {
            w->found = true;
            walk_text(w, s + body, n - body, &p);
        }
    }
}

int mime_body_text(const char *msg, size_t len, size_t max, char **out, size_t *outlen)
{
    struct walk w;
    buf_init(&w.out, max ? max : MIME_BODY_TEXT_DEFAULT_MAX);
    buf_init(&w.tmp, SIZE_MAX);
    buf_init(&w.conv, SIZE_MAX);
    w.html = false;
    w.found = false;
    if (!msg)
        msg = "";
    walk_entity(&w, msg, len, 0, false);
    if (!w.found && !w.out.err) {
        w.html = true;
        walk_entity(&w, msg, len, 0, false);
    }
    free(w.tmp.p);
    free(w.conv.p);
    if (w.out.err)
        return buf_finish(&w.out, out, outlen);
    /* Line ends become "\n"; a cut inside a character loses the partial character. */
    size_t k = 0;
    for (size_t i = 0; i < w.out.len; i++)
        if (!(w.out.p[i] == '\r' && i + 1 < w.out.len && w.out.p[i + 1] == '\n'))
            w.out.p[k++] = w.out.p[i];
    w.out.len = k;
    if (w.out.full) {
        size_t i = w.out.len;
        while (i > 0 && (w.out.p[i - 1] & 0xc0) == 0x80 && w.out.len - i < 3)
            i--;
        if (i > 0 && (unsigned char)w.out.p[i - 1] >= 0xc0
            && utf8_seq((const unsigned char *)w.out.p + i - 1, w.out.len - i + 1) == 0)
            w.out.len = i - 1;
    }
    return buf_finish(&w.out, out, outlen);
}
