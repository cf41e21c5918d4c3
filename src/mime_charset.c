/* mime_charset.c — text in a declared charset to UTF-8: UTF-8 checked, Windows-1252 for
 * 7-bit, Latin-1 and unknown labels, iconv for the rest; the output is always valid UTF-8. */
#include <errno.h>
#include <iconv.h>

#include "mime_int.h"
#include "utf8.h"

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
        uint32_t cp;
        int k = utf8_decode(str + i, n - i, &cp);
        if (k > 0) {
            buf_add(b, s + i, (size_t)k);
            i += (size_t)k;
        } else {
            buf_add_cp(b, cp1252_fallback ? cp1252(s[i]) : 0xfffd);
            i++;
        }
    }
}

/* Text of unknown or undeclared charset: UTF-8 where valid, else Windows-1252. */
void add_sanitized(struct buf *b, const char *str, size_t n)
{
    add_utf8(b, str, n, true);
}

static void add_cp1252(struct buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n && !b->full && !b->err; i++)
        buf_add_cp(b, cp1252(s[i]));
}

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

/* Converts s[0..n) with cd into b; undecodable bytes become U+FFFD. Without final, stops
 * before a character the input ends inside and returns how much was taken; with final, such a
 * character becomes U+FFFD and the state is written out. */
static size_t iconv_run(struct buf *b, iconv_t cd, const char *s, size_t n, bool final)
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
            if (flushing || !final)
                break;
            flushing = true;   /* all input taken: write any shift sequence out */
            continue;
        }
        if (e == E2BIG)
            continue;
        if (flushing)
            break;
        if (e == EINVAL && !final)
            return n - inleft;          /* the rest begins a character: the next piece ends it */
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
    return n;
}

/* Converts as much of s[0..n) as is decided; returns how much was taken. */
static size_t conv_run(struct conv *cv, struct buf *b, const char *s, size_t n, bool final)
{
    size_t keep;
    switch (cv->kind) {
    case CS_UTF8:
    case CS_ASCII:
        keep = final ? 0 : utf8_cut_tail(s, n);
        add_utf8(b, s, n - keep, cv->kind == CS_ASCII);
        return n - keep;
    case CS_CP1252:
        add_cp1252(b, s, n);
        return n;
    default:
        return iconv_run(b, (iconv_t)cv->cd, s, n, final);
    }
}

void conv_open(struct conv *cv, const char *cs, size_t cslen)
{
    char name[64];
    iconv_t cd;
    memset(cv, 0, sizeof *cv);
    cv->kind = CS_ASCII;            /* none or unknown: UTF-8 where valid, else Windows-1252 */
    if (!cslen || !charset_name(cs, cslen, name, sizeof name))
        return;
    enum charset_kind k = charset_open(name, &cd);
    if (k == CS_ICONV)
        cv->cd = cd;
    if (k != CS_UNKNOWN)
        cv->kind = (int)k;
}

void conv_feed(struct conv *cv, struct buf *b, const char *s, size_t n, bool final)
{
    if (cv->ncarry) {
        char tmp[sizeof cv->carry * 2];
        size_t k = cv->ncarry, take = n < sizeof tmp - k ? n : sizeof tmp - k;
        memcpy(tmp, cv->carry, k);
        memcpy(tmp + k, s, take);
        cv->ncarry = 0;
        size_t used = conv_run(cv, b, tmp, k + take, final && take == n);
        if (used < k) {                 /* still inside the carried character */
            cv->ncarry = k + take - used;
            memcpy(cv->carry, tmp + used, cv->ncarry);
            return;
        }
        s += used - k;
        n -= used - k;
    }
    size_t used = conv_run(cv, b, s, n, final);
    if (used < n && n - used <= sizeof cv->carry) {
        cv->ncarry = n - used;
        memcpy(cv->carry, s + used, cv->ncarry);
    } else if (used < n) {              /* cannot happen: a character is never that long */
        add_sanitized(b, s + used, n - used);
    }
}

void conv_close(struct conv *cv)
{
    if (cv->kind == CS_ICONV)
        iconv_close((iconv_t)cv->cd);
    cv->kind = CS_ASCII;
    cv->ncarry = 0;
}

/* Appends s[0..n) in charset cs[0..cslen) as UTF-8. Returns false (appending nothing) when the
 * charset is unknown. */
bool add_charset(struct buf *b, const char *cs, size_t cslen, const char *s, size_t n)
{
    char name[64];
    iconv_t cd;
    if (!charset_name(cs, cslen, name, sizeof name))
        return false;
    enum charset_kind k = charset_open(name, &cd);
    if (k == CS_UNKNOWN)
        return false;
    struct conv cv = { .kind = (int)k, .cd = k == CS_ICONV ? cd : NULL };
    conv_feed(&cv, b, s, n, true);
    conv_close(&cv);
    return true;
}
