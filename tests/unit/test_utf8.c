/* test_utf8.c — utf8.c: each reason a sequence is rejected, the boundaries of every sequence
 * length, encode/decode round trips over all code points, and whole-string validation. */
#include "check.h"
#include "utf8.h"

#include <stdint.h>

#define DEC(s) dec((s), sizeof(s) - 1)

static uint32_t cp;

static int dec(const char *s, size_t n)
{
    cp = UINT32_MAX;
    return utf8_decode(s, n, &cp);
}

static void test_valid(void)
{
    CHECK_INT(DEC("A"), 1);
    CHECK_INT((int)cp, 'A');
    CHECK_INT(utf8_decode("\0", 1, &cp), 1);
    CHECK_INT((int)cp, 0);
    CHECK_INT(DEC("\xc2\x80"), 2);
    CHECK_INT((int)cp, 0x80);
    CHECK_INT(DEC("\xdf\xbf"), 2);
    CHECK_INT((int)cp, 0x7ff);
    CHECK_INT(DEC("\xe0\xa0\x80"), 3);
    CHECK_INT((int)cp, 0x800);
    CHECK_INT(DEC("\xed\x9f\xbf"), 3);
    CHECK_INT((int)cp, 0xd7ff);
    CHECK_INT(DEC("\xef\xbf\xbf"), 3);
    CHECK_INT((int)cp, 0xffff);
    CHECK_INT(DEC("\xf0\x90\x80\x80"), 4);
    CHECK_INT((int)cp, 0x10000);
    CHECK_INT(DEC("\xf4\x8f\xbf\xbf"), 4);
    CHECK_INT((int)cp, 0x10ffff);
    CHECK_INT(DEC("\xc3\xa9tail"), 2);   /* only the first character */
}

static void test_reasons(void)
{
    CHECK_INT(DEC("\xf5\x80\x80\x80"), UTF8_BAD_BYTE);
    CHECK_INT(DEC("\xff"), UTF8_BAD_BYTE);
    CHECK_INT(DEC("\x80"), UTF8_STRAY);
    CHECK_INT(DEC("\xbf"), UTF8_STRAY);
    CHECK_INT(DEC("\xc0\xaf"), UTF8_OVERLONG);
    CHECK_INT(DEC("\xc1\xbf"), UTF8_OVERLONG);
    CHECK_INT(DEC("\xe0\x9f\xbf"), UTF8_OVERLONG);
    CHECK_INT(DEC("\xf0\x8f\xbf\xbf"), UTF8_OVERLONG);
    CHECK_INT(DEC("\xed\xa0\x80"), UTF8_SURROGATE);
    CHECK_INT(DEC("\xed\xbf\xbf"), UTF8_SURROGATE);
    CHECK_INT(DEC("\xf4\x90\x80\x80"), UTF8_TOO_BIG);
    CHECK_INT(DEC("\xc3"), UTF8_TRUNCATED);
    CHECK_INT(DEC("\xe2\x82"), UTF8_TRUNCATED);
    CHECK_INT(DEC("\xc3\x41"), UTF8_TRUNCATED);
    CHECK_INT(DEC("\xe2\x82\x41"), UTF8_TRUNCATED);
    CHECK_INT(DEC("\xf0\x90\x80\xc0"), UTF8_TRUNCATED);
}

/* Every scalar value encodes to the length its range calls for and decodes back. */
static void test_roundtrip(void)
{
    int bad = 0;
    for (uint32_t c = 0; c <= 0x10ffff; c++) {
        if (c >= 0xd800 && c <= 0xdfff)
            continue;
        char buf[4];
        size_t n = utf8_encode(c, buf);
        size_t want = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        uint32_t back = UINT32_MAX;
        if (n != want || utf8_decode(buf, n, &back) != (int)n || back != c
            || !utf8_valid(buf, n))
            bad++;
    }
    CHECK_INT(bad, 0);
}

static void test_valid_strings(void)
{
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("plain ASCII", 11));
    CHECK(utf8_valid("a\0b", 3));
    CHECK(utf8_valid("r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x93\xa7", 13));
    CHECK(!utf8_valid("r\xe9sum\xe9", 6));             /* ISO-8859-1 */
    CHECK(!utf8_valid("ok\xc3", 3));                   /* cut at the end */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));
}

int main(void)
{
    RUN(test_valid);
    RUN(test_reasons);
    RUN(test_roundtrip);
    RUN(test_valid_strings);
    return CHECK_DONE();
}
