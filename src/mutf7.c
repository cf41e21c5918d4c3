/* mutf7.c — modified UTF-7 (RFC 3501 §5.1.3) <-> UTF-8, strict in both directions so that every
 * mailbox name has exactly one encoding and malformed names are reported, never mangled. */
#include "mutf7.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "utf8.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == ',')
        return 63;
    return -1;
}

/* Decodes one UTF-8 character at s[*i]; returns the code point or -1 with a message in err. */
static long utf8_next(const char *s, size_t len, size_t *i, char *err, size_t errlen)
{
    size_t at = *i;
    uint32_t cp;
    int n = utf8_decode(s + at, len - at, &cp);
    if (n > 0 && cp != 0) {
        *i = at + (size_t)n;
        return (long)cp;
    }
    unsigned c = (unsigned char)s[at];
    switch (n) {
    case UTF8_BAD_BYTE:
        snprintf(err, errlen, "invalid UTF-8: byte 0x%02x at offset %zu", c, at);
        break;
    case UTF8_STRAY:
        snprintf(err, errlen, "invalid UTF-8: stray continuation byte 0x%02x at offset %zu", c,
                 at);
        break;
    case UTF8_OVERLONG:
        snprintf(err, errlen, "invalid UTF-8: overlong sequence at offset %zu", at);
        break;
    case UTF8_SURROGATE:
        snprintf(err, errlen, "invalid UTF-8: surrogate code point at offset %zu", at);
        break;
    case UTF8_TOO_BIG:
        snprintf(err, errlen, "invalid UTF-8: code point above U+10FFFF at offset %zu", at);
        break;
    case UTF8_TRUNCATED:
        snprintf(err, errlen, "invalid UTF-8: truncated sequence at offset %zu", at);
        break;
    default:
        snprintf(err, errlen, "NUL byte at offset %zu", at);
        break;
    }
    return -1;
}

int mutf7_utf8_check(const char *s, size_t len, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] >= 0x01 && (unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        if (utf8_next(s, len, &i, err, errlen) < 0)
            return -EINVAL;
    }
    return 0;
}

/* Base64 state of the run being written. */
struct run { char *p; uint32_t bits; int nbits; bool open; };

static void run_unit(struct run *r, unsigned unit)
{
    r->bits = (r->bits << 16) | unit;
    r->nbits += 16;
    while (r->nbits >= 6) {
        r->nbits -= 6;
        *r->p++ = b64[(r->bits >> r->nbits) & 0x3f];
    }
}

static void run_close(struct run *r)
{
    if (!r->open)
        return;
    if (r->nbits)
        *r->p++ = b64[(r->bits << (6 - r->nbits)) & 0x3f];
    *r->p++ = '-';
    r->bits = 0;
    r->nbits = 0;
    r->open = false;
}

int mutf7_encode(const char *utf8, size_t len, char **out, char *err, size_t errlen)
{
    *out = NULL;
    /* Worst case 5 output bytes per input byte: a lone control character is "&AAE-". */
    if (len > (SIZE_MAX - 1) / 5) {
        snprintf(err, errlen, "mailbox name too long");
        return -ENOMEM;
    }
    char *buf = malloc(len * 5 + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    struct run r = { buf, 0, 0, false };
    size_t i = 0;
    while (i < len) {
        long cp = utf8_next(utf8, len, &i, err, errlen);
        if (cp < 0) {
            free(buf);
            return -EINVAL;
        }
        if (cp >= 0x20 && cp <= 0x7e) {
            run_close(&r);
            *r.p++ = (char)cp;
            if (cp == '&')
                *r.p++ = '-';
            continue;
        }
        if (!r.open) {
            *r.p++ = '&';
            r.open = true;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            run_unit(&r, 0xd800 | (unsigned)(cp >> 10));
            run_unit(&r, 0xdc00 | (unsigned)(cp & 0x3ff));
        } else {
            run_unit(&r, (unsigned)cp);
        }
    }
    run_close(&r);
    *r.p = '\0';
    *out = buf;
    return 0;
}

/* Decodes the base64 run starting at in[*i] (just after '&') up to its '-'; writes UTF-8 at *pp. */
static int decode_run(const unsigned char *in, size_t len, size_t *i, char **pp,
                      char *err, size_t errlen)
{
    size_t start = *i - 1;   /* offset of the '&' */
    size_t at = *i;
    uint32_t bits = 0, high = 0;   /* high: pending high surrogate */
    int nbits = 0;
    char *p = *pp;
    for (;; at++) {
        if (at >= len) {
            snprintf(err, errlen, "invalid modified UTF-7: '&' at offset %zu not closed by '-'",
                     start);
            return -EINVAL;
        }
        if (in[at] == '-')
            break;
        int v = b64_value(in[at]);
        if (v < 0) {
            unsigned char ch = in[at];
            snprintf(err, errlen, "invalid modified UTF-7: '%c' at offset %zu is not base64",
                     (ch >= 0x20 && ch < 0x7f) ? ch : '?', at);
            return -EINVAL;
        }
        bits = (bits << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits < 16)
            continue;
        nbits -= 16;
        uint32_t unit = (bits >> nbits) & 0xffff;
        bits &= (1u << nbits) - 1;
        if (high) {
            if (unit < 0xdc00 || unit > 0xdfff) {
                snprintf(err, errlen, "invalid modified UTF-7: unpaired high surrogate in the "
                         "run at offset %zu", start);
                return -EINVAL;
            }
            p += utf8_encode(0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00), p);
            high = 0;
        } else if (unit >= 0xd800 && unit <= 0xdbff) {
            high = unit;
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            snprintf(err, errlen, "invalid modified UTF-7: unpaired low surrogate in the run at "
                     "offset %zu", start);
            return -EINVAL;
        } else if (unit >= 0x20 && unit <= 0x7e) {
            snprintf(err, errlen, "invalid modified UTF-7: printable ASCII '%c' encoded in the "
                     "run at offset %zu", (char)unit, start);
            return -EINVAL;
        } else if (unit == 0) {
            snprintf(err, errlen, "invalid modified UTF-7: NUL encoded in the run at offset %zu",
                     start);
            return -EINVAL;
        } else {
            p += utf8_encode(unit, p);
        }
    }
    if (at == *i) {
        /* "&-" is handled by the caller; an empty run cannot occur here. */
        snprintf(err, errlen, "invalid modified UTF-7: empty run at offset %zu", start);
        return -EINVAL;
    }
    if (high) {
        snprintf(err, errlen, "invalid modified UTF-7: unpaired high surrogate at the end of the "
                 "run at offset %zu", start);
        return -EINVAL;
    }
    if (nbits >= 6 || bits != 0) {
        snprintf(err, errlen, "invalid modified UTF-7: %s at the end of the run at offset %zu",
                 nbits >= 6 ? "partial UTF-16 unit" : "non-zero padding bits", start);
        return -EINVAL;
    }
    *i = at + 1;
    *pp = p;
    return 0;
}

int mutf7_decode(const char *mutf7, size_t len, char **out, char *err, size_t errlen)
{
    *out = NULL;
    /* Output never exceeds 9/8 of the input (3 UTF-8 bytes per 16 bits); 2x is a safe bound. */
    if (len > (SIZE_MAX - 1) / 2) {
        snprintf(err, errlen, "mailbox name too long");
        return -ENOMEM;
    }
    char *buf = malloc(len * 2 + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const unsigned char *in = (const unsigned char *)mutf7;
    char *p = buf;
    size_t i = 0;
    bool after_run = false;   /* the previous item was a base64 run */
    while (i < len) {
        unsigned char ch = in[i];
        if (ch < 0x20 || ch > 0x7e) {
            snprintf(err, errlen, "invalid modified UTF-7: byte 0x%02x at offset %zu", ch, i);
            goto fail;
        }
        if (ch != '&') {
            *p++ = (char)ch;
            i++;
            after_run = false;
            continue;
        }
        if (i + 1 < len && in[i + 1] == '-') {
            *p++ = '&';
            i += 2;
            after_run = false;
            continue;
        }
        if (after_run) {
            snprintf(err, errlen, "invalid modified UTF-7: two adjacent encoded runs at offset %zu",
                     i);
            goto fail;
        }
        i++;
        if (decode_run(in, len, &i, &p, err, errlen))
            goto fail;
        after_run = true;
    }
    *p = '\0';
    *out = buf;
    return 0;
fail:
    free(buf);
    return -EINVAL;
}
