/* utf8.h — UTF-8 (RFC 3629), one strict decoder and one encoder for the whole project: mailbox
 * names (mutf7.c), mail text (mime_*.c) and regex subjects (regex.c). */
#ifndef IMAPSCRIPT_UTF8_H
#define IMAPSCRIPT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why the bytes at a position are not UTF-8: utf8_decode's negative results. */
enum utf8_error {
    UTF8_BAD_BYTE = -1,     /* 0xf5..0xff, never in UTF-8 */
    UTF8_STRAY = -2,        /* a continuation byte (0x80..0xbf) without a lead byte */
    UTF8_OVERLONG = -3,     /* 0xc0, 0xc1, or a longer form than the code point needs */
    UTF8_SURROGATE = -4,    /* U+D800..U+DFFF */
    UTF8_TOO_BIG = -5,      /* above U+10FFFF */
    UTF8_TRUNCATED = -6,    /* the sequence stops early: input end or a non-continuation byte */
};

/* Decodes the character at s[0..n), n >= 1: returns its length 1..4 and sets *cp, or a
 * negative UTF8_* code. No overlong forms, surrogates or code points past U+10FFFF; a NUL
 * byte is a character like any other (callers that refuse it check *cp). */
int utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Whether s[0..n) is all valid UTF-8 (NUL bytes allowed). */
bool utf8_valid(const char *s, size_t n);

/* How many bytes at the end of s[0..n) begin a character that the text ends inside (0..3): what
 * a text cut in pieces carries to the next piece, or loses when cut for good. */
size_t utf8_cut_tail(const char *s, size_t n);

/* Writes the UTF-8 form of cp (at most U+10FFFF, not a surrogate) at out; returns its length,
 * 1..4. */
size_t utf8_encode(uint32_t cp, char *out);

#endif
