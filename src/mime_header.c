/* mime_header.c — header fields of raw mail: finding fields in a header block, and decoding a
 * field's value (unfolding, RFC 2047 encoded words) to UTF-8. */
#include <stdlib.h>
#include <strings.h>

#include "mime_int.h"

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
