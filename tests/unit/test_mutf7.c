/* test_mutf7.c — modified UTF-7: RFC examples, astral characters, every class of invalid input
 * in both directions, and random round trips. */
#include "check.h"
#include "mutf7.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static char got[4096];

/* Returns the encoding of s (static buffer) or "ERR". */
static const char *enc(const char *s, size_t len)
{
    char *out, err[160];
    if (mutf7_encode(s, len, &out, err, sizeof err) != 0) {
        CHECK(out == NULL);
        CHECK(err[0] != '\0');
        return "ERR";
    }
    snprintf(got, sizeof got, "%s", out);
    free(out);
    return got;
}

static const char *dec(const char *s)
{
    char *out, err[160];
    err[0] = '\0';
    if (mutf7_decode(s, strlen(s), &out, err, sizeof err) != 0) {
        CHECK(out == NULL);
        CHECK(err[0] != '\0');
        return "ERR";
    }
    snprintf(got, sizeof got, "%s", out);
    free(out);
    return got;
}

#define ENC(s) enc((s), sizeof(s) - 1)

static void test_rfc_examples(void)
{
    CHECK_STR(ENC("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
              "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    CHECK_STR(dec("~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
              "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    CHECK_STR(ENC("&"), "&-");
    CHECK_STR(dec("&-"), "&");
    CHECK_STR(ENC("Tom & Jerry"), "Tom &- Jerry");
    CHECK_STR(dec("Tom &- Jerry"), "Tom & Jerry");
    CHECK_STR(ENC(""), "");
    CHECK_STR(dec(""), "");
    CHECK_STR(ENC("INBOX/Sent Items"), "INBOX/Sent Items");
    /* Entw\u00fcrfe, the German Drafts folder as Dovecot and Thunderbird write it */
    CHECK_STR(ENC("Entw\xc3\xbcrfe"), "Entw&APw-rfe");
    CHECK_STR(dec("Entw&APw-rfe"), "Entw\xc3\xbcrfe");
    /* an encoded run followed by a literal '&' */
    CHECK_STR(ENC("\xc3\xbc&"), "&APw-&-");
    CHECK_STR(dec("&APw-&-"), "\xc3\xbc&");
    /* control characters and DEL are encoded */
    CHECK_STR(ENC("a\tb\x7f"), "a&AAk-b&AH8-");
    CHECK_STR(dec("a&AAk-b&AH8-"), "a\tb\x7f");
    /* '~' and '\\' are plain printable ASCII in modified UTF-7 */
    CHECK_STR(ENC("a~b\\c"), "a~b\\c");
}

static void test_astral(void)
{
    /* U+1F600 GRINNING FACE = D83D DE00 */
    CHECK_STR(ENC("\xf0\x9f\x98\x80"), "&2D3eAA-");
    CHECK_STR(dec("&2D3eAA-"), "\xf0\x9f\x98\x80");
    /* U+10FFFF = DBFF DFFF; mixed with BMP text in one run */
    CHECK_STR(ENC("x\xf4\x8f\xbf\xbf\xc3\xa9y"), "x&2,,f,wDp-y");
    CHECK_STR(dec("x&2,,f,wDp-y"), "x\xf4\x8f\xbf\xbf\xc3\xa9y");
    /* U+10000 = D800 DC00 */
    CHECK_STR(ENC("\xf0\x90\x80\x80"), "&2ADcAA-");
    CHECK_STR(dec("&2ADcAA-"), "\xf0\x90\x80\x80");
}

static void test_encode_invalid(void)
{
    CHECK_STR(ENC("\x80"), "ERR");                 /* stray continuation */
    CHECK_STR(ENC("a\xc3"), "ERR");                /* truncated */
    CHECK_STR(ENC("\xe6\x97"), "ERR");             /* truncated 3-byte */
    CHECK_STR(ENC("\xc0\xaf"), "ERR");             /* overlong '/' */
    CHECK_STR(ENC("\xc1\xbf"), "ERR");             /* overlong */
    CHECK_STR(ENC("\xe0\x80\xaf"), "ERR");         /* overlong 3-byte */
    CHECK_STR(ENC("\xf0\x80\x80\xaf"), "ERR");     /* overlong 4-byte */
    CHECK_STR(ENC("\xed\xa0\x80"), "ERR");         /* U+D800 surrogate */
    CHECK_STR(ENC("\xed\xbf\xbf"), "ERR");         /* U+DFFF surrogate */
    CHECK_STR(ENC("\xf4\x90\x80\x80"), "ERR");     /* U+110000 */
    CHECK_STR(ENC("\xf5\x80\x80\x80"), "ERR");
    CHECK_STR(ENC("\xff"), "ERR");
    CHECK_STR(ENC("\xc3\x28"), "ERR");             /* bad continuation */
    CHECK_STR(ENC("\xe6\x28\xa5"), "ERR");
    CHECK_STR(ENC("a\0b"), "ERR");                 /* NUL */
    char out_err[160];
    char *out;
    CHECK_INT(mutf7_encode("ab\xc3", 3, &out, out_err, sizeof out_err), -EINVAL);
    CHECK(strstr(out_err, "offset 2") != NULL);
    CHECK_INT(mutf7_utf8_check("ok \xc3\xa9", 5, out_err, sizeof out_err), 0);
    CHECK_INT(mutf7_utf8_check("\xed\xa0\x80", 3, out_err, sizeof out_err), -EINVAL);
    CHECK(strstr(out_err, "surrogate") != NULL);
}

static void test_decode_invalid(void)
{
    const char *bad[] = {
        "&",              /* unterminated */
        "&U,BTFw",        /* unterminated */
        "a&ZeVnLIqe",     /* unterminated */
        "&U,B.Fw-",       /* '.' not base64 */
        "&U=BTFw-",       /* '=' padding is not modified base64 */
        "&U/BTFw-",       /* '/' is plain base64, not modified */
        "&APx-",          /* non-zero pad bits (&APw- is u-umlaut, x sets a pad bit) */
        "&AG-",           /* partial UTF-16 unit (12 bits) */
        "&A-",            /* partial unit (6 bits) */
        "&AGE-",          /* encodes printable 'a' */
        "&ACY-",          /* encodes '&' itself */
        "&AGEAYg-",       /* 'ab' encoded */
        "&APw-&APw-",     /* adjacent runs, must be one run */
        "&AGE-&AGE-",
        "&2D0-",          /* lone high surrogate */
        "&2D0AYQ-",       /* high surrogate followed by a non-surrogate */
        "&3gA-",          /* lone low surrogate */
        "&3gDYPQ-",       /* reversed pair */
        "&AAA-",          /* NUL */
        "caf\xc3\xa9",    /* raw 8-bit */
        "a\tb",           /* raw control character */
        "a\x7f",          /* raw DEL */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *r = dec(bad[i]);
        if (strcmp(r, "ERR") != 0)
            fprintf(stderr, "decoded invalid \"%s\" as \"%s\"\n", bad[i], r);
        CHECK_STR(r, "ERR");
    }
    char err[160], *out;
    CHECK_INT(mutf7_decode("ab&AGE-", 7, &out, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "offset 2") != NULL);
    CHECK_INT(mutf7_decode("abc\x80", 4, &out, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "offset 3") != NULL);
    /* length is honoured: the '&' past len is not read */
    CHECK_INT(mutf7_decode("ab&", 2, &out, err, sizeof err), 0);
    CHECK_STR(out, "ab");
    free(out);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t put_cp(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xe0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (char)(0xf0 | (cp >> 18));
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    p[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static uint32_t random_cp(void)
{
    for (;;) {
        uint32_t cp;
        switch (rng() % 6) {
        case 0: case 1: cp = 0x20 + (uint32_t)(rng() % 0x5f); break;   /* printable, & included */
        case 2: cp = 1 + (uint32_t)(rng() % 0x7f); break;              /* any ASCII but NUL */
        case 3: cp = 0x80 + (uint32_t)(rng() % 0x780); break;
        case 4: cp = 0x800 + (uint32_t)(rng() % 0xf800); break;
        default: cp = 0x10000 + (uint32_t)(rng() % 0x100000); break;
        }
        if (cp < 0xd800 || cp > 0xdfff)
            return cp;
    }
}

static void test_random_roundtrip(void)
{
    char in[512], err[160];
    int bad = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = 0, count = rng() % 40;
        for (size_t k = 0; k < count; k++)
            n += put_cp(in + n, random_cp());
        char *e, *d;
        if (mutf7_encode(in, n, &e, err, sizeof err) != 0) {
            bad++;
            continue;
        }
        /* encoded text is 7-bit printable */
        for (const char *p = e; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                bad++;
        if (mutf7_decode(e, strlen(e), &d, err, sizeof err) != 0) {
            fprintf(stderr, "decode of own encoding failed: %s (%s)\n", e, err);
            bad++;
        } else {
            if (strlen(d) != n || memcmp(d, in, n) != 0)
                bad++;
            free(d);
        }
        free(e);
    }
    CHECK_INT(bad, 0);
}

/* Random bytes must never crash the decoder, and anything it accepts must re-encode to the same
 * text (one canonical encoding per name). */
static void test_random_garbage(void)
{
    static const char alphabet[] = "&-AZaz09+,/=.~ \x80\x01";
    char in[64], err[160];
    int bad = 0, accepted = 0;
    for (int round = 0; round < 50000; round++) {
        size_t n = rng() % 16;
        for (size_t k = 0; k < n; k++)
            in[k] = rng() % 4 ? alphabet[rng() % (sizeof alphabet - 1)] : (char)(0x20 + rng() % 0x5f);
        char *d, *e;
        if (mutf7_decode(in, n, &d, err, sizeof err) != 0)
            continue;
        accepted++;
        if (mutf7_encode(d, strlen(d), &e, err, sizeof err) != 0) {
            bad++;
        } else {
            if (strlen(e) != n || memcmp(e, in, n) != 0)
                bad++;
            free(e);
        }
        free(d);
    }
    CHECK_INT(bad, 0);
    CHECK(accepted > 0);
}

int main(void)
{
    RUN(test_rfc_examples);
    RUN(test_astral);
    RUN(test_encode_invalid);
    RUN(test_decode_invalid);
    RUN(test_random_roundtrip);
    RUN(test_random_garbage);
    return CHECK_DONE();
}
