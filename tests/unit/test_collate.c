/* test_collate.c — the keys of client-side SORT/THREAD: i;unicode-casemap (Dovecot's own test
 * vector included) and RFC 5256 base subjects (dates: test_date.c). */
#include "check.h"
#include "collate.h"

#include <stdlib.h>
#include <string.h>

static const char *casemap(const char *s)
{
    static char buf[256];
    char *out;
    size_t len;
    if (collate_casemap(s, strlen(s), &out, &len) < 0)
        return "(error)";
    snprintf(buf, sizeof buf, "%s", out);
    free(out);
    return buf;
}

static const char *base(const char *s, int *reply)
{
    static char buf[256];
    char *out;
    size_t len;
    if (collate_base_subject(s, strlen(s), &out, &len, reply) < 0)
        return "(error)";
    snprintf(buf, sizeof buf, "%s", out);
    free(out);
    return buf;
}

static void test_casemap(void)
{
    CHECK_STR(casemap("\xc3\xbc \xc2\xb3"), "U\xcc\x88 3");      /* Dovecot's test_unichar */
    CHECK_STR(casemap("Hello"), "HELLO");
    CHECK_STR(casemap("\xc3\x9c" "bersicht"), "U\xcc\x88" "BERSICHT");
    CHECK_STR(casemap("\xc7\x86"), "Dz\xcc\x8c");   /* dž titlecases to Dž (not DŽ), then
                                                   * decomposes */
    CHECK_STR(casemap("\xef\xac\x81"), "fi");       /* the ﬁ ligature decomposes after the
                                                   * titlecasing, as in Dovecot: one pass */
    CHECK_STR(casemap("a\xff" "b"), "A\xef\xbf\xbd" "B");   /* a bad byte: U+FFFD */
    char ueber[64];
    snprintf(ueber, sizeof ueber, "%s", casemap("\xc3\xbc" "ber"));
    /* compared byte by byte, as Dovecot does: Ü after every U..., before V */
    CHECK(strcmp(ueber, casemap("Uzzz")) > 0);
    CHECK(strcmp(ueber, casemap("V")) < 0);
}

static void test_base_subject(void)
{
    int r;
    CHECK_STR(base("Re: hello", &r), "HELLO");
    CHECK(r);
    CHECK_STR(base("hello", &r), "HELLO");
    CHECK(!r);
    CHECK_STR(base("Re: Fwd: RE[2]: [lua-l] Re:  patch (fwd)  (fwd)", &r), "PATCH");
    CHECK(r);
    CHECK_STR(base("[lua-l] news", &r), "NEWS");
    CHECK_STR(base("[only blob]", &r), "[ONLY BLOB]");
    CHECK_STR(base("[Fwd: Re: [x] plans]", &r), "PLANS");
    CHECK_STR(base("\tmany \t  blanks\r\n here ", &r), "MANY BLANKS HERE");
    CHECK_STR(base("Re:", &r), "");
    CHECK_STR(base("Fw : x", &r), "X");
    CHECK_STR(base("Reply: x", &r), "REPLY: X");
    CHECK_STR(base("", &r), "");
}

int main(void)
{
    RUN(test_casemap);
    RUN(test_base_subject);
    return CHECK_DONE();
}
