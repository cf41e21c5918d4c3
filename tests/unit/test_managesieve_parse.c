/* test_managesieve_parse.c — ManageSieve server lines: Dovecot's greeting and replies (as seen
 * on the wire), literals of any bytes, response codes, and every malformed line refused with
 * its offset; a line fed a byte at a time parses the same as whole. */
#include "check.h"
#include "managesieve_parse.h"

#include <stdlib.h>

/* Parses text whole; returns the code, *used the bytes taken. */
static int parse(struct msp *p, const char *text, size_t len, struct msp_line *l, size_t *used)
{
    size_t need = 0;
    return msp_parse(p, text, len, l, used, &need);
}

/* Feeds text growing one byte at a time, as a slow server would, checking that every
 * NEED_MORE asks for more than it had; returns the final code. */
static int parse_trickle(struct msp *p, const char *text, size_t len, struct msp_line *l,
                         size_t *used)
{
    for (size_t have = 0; have <= len; have++) {
        size_t need = 0;
        int rc = msp_parse(p, text, have, l, used, &need);
        if (rc != MSP_NEED_MORE)
            return rc;
        CHECK(need > have);
        if (need > have + 1)
            have = need - 1;          /* a literal: wait for all of it at once */
    }
    return MSP_NEED_MORE;
}

static void test_greeting(void)
{
    static const char g[] =
        "\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"\r\n"
        "\"SIEVE\" \"fileinto reject regex imap4flags\"\r\n"
        "\"STARTTLS\"\r\n"
        "OK \"Dovecot (Debian) ready.\"\r\n";
    struct msp p;
    msp_init(&p);
    struct msp_line l;
    size_t used, off = 0;
    CHECK_INT(parse(&p, g, sizeof g - 1, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_DATA);
    CHECK_INT(l.n, 2);
    CHECK(l.item[0].is_string);
    CHECK_STR(l.item[0].s, "IMPLEMENTATION");
    CHECK_STR(l.item[1].s, "Dovecot (Debian) Pigeonhole");
    off += used;
    CHECK_INT(parse(&p, g + off, sizeof g - 1 - off, &l, &used), MSP_LINE);
    CHECK_STR(l.item[1].s, "fileinto reject regex imap4flags");
    off += used;
    CHECK_INT(parse(&p, g + off, sizeof g - 1 - off, &l, &used), MSP_LINE);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.item[0].s, "STARTTLS");
    off += used;
    CHECK_INT(parse_trickle(&p, g + off, sizeof g - 1 - off, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_OK);
    CHECK(l.code == NULL);
    CHECK_STR(l.text, "Dovecot (Debian) ready.");
    CHECK_INT(off + used, sizeof g - 1);
    msp_free(&p);
}

static void test_response_codes(void)
{
    struct msp p;
    msp_init(&p);
    struct msp_line l;
    size_t used;
    static const char q[] = "NO (QUOTA/MAXSIZE) \"Script is too large (max 65536 bytes).\"\r\n";
    CHECK_INT(parse_trickle(&p, q, sizeof q - 1, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_NO);
    CHECK_STR(l.code, "QUOTA/MAXSIZE");
    CHECK_STR(l.code_arg, "");
    CHECK_STR(l.text, "Script is too large (max 65536 bytes).");
    static const char s[] = "ok (sasl \"dj1yTjN4\") \"Logged in.\"\r\n";
    CHECK_INT(parse(&p, s, sizeof s - 1, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_OK);
    CHECK_STR(l.code, "SASL");
    CHECK_STR(l.code_arg, "dj1yTjN4");
    CHECK_STR(l.text, "Logged in.");
    static const char a[] = "NO (ACTIVE) \"Cannot delete the active Sieve script.\"\r\n";
    CHECK_INT(parse(&p, a, sizeof a - 1, &l, &used), MSP_LINE);
    CHECK_STR(l.code, "ACTIVE");
    static const char bye[] = "BYE\r\n";
    CHECK_INT(parse(&p, bye, sizeof bye - 1, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_BYE);
    CHECK_STR(l.text, "");
    static const char tag[] = "OK (TAG {3}\r\na\"b) \"x\\\"y\\\\z\"\n";
    CHECK_INT(parse_trickle(&p, tag, sizeof tag - 1, &l, &used), MSP_LINE);
    CHECK_STR(l.code, "TAG");
    CHECK_STR(l.code_arg, "a\"b");
    CHECK_STR(l.text, "x\"y\\z");
    CHECK_INT(used, sizeof tag - 1);
    msp_free(&p);
}

static void test_literals(void)
{
    struct msp p;
    msp_init(&p);
    struct msp_line l;
    size_t used, need = 0;
    /* CHECKSCRIPT's errors come as a literal of several lines. */
    static const char no[] = "NO {52}\r\nline 1: error: unknown capability.\r\nerror: failed.\r\n\r\n";
    CHECK_INT(msp_parse(&p, no, 12, &l, &used, &need), MSP_NEED_MORE);
    CHECK_INT(need, 9 + 52 + 2);
    CHECK_INT(parse_trickle(&p, no, sizeof no - 1, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_NO);
    CHECK_INT(l.text_len, 52);
    CHECK(memcmp(l.text, "line 1: error: unknown capability.\r\nerror: failed.\r\n", 52) == 0);
    CHECK_INT(used, sizeof no - 1);
    /* GETSCRIPT: a script with NUL and quote bytes, then OK on its own line. */
    static const char get[] = "{6+}\r\na\0\"\r\n}\r\nOK \"Getscript completed.\"\r\n";
    CHECK_INT(parse(&p, get, sizeof get - 1, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_DATA);
    CHECK_INT(l.n, 1);
    CHECK_INT(l.item[0].len, 6);
    CHECK(memcmp(l.item[0].s, "a\0\"\r\n}", 6) == 0);
    CHECK_INT(used, 14);
    CHECK_INT(parse(&p, get + used, sizeof get - 1 - used, &l, &used), MSP_LINE);
    CHECK_INT(l.kind, MSP_OK);
    /* LISTSCRIPTS. */
    static const char ls[] = "\"rules\" ACTIVE\r\n{4}\r\nold1\r\n";
    CHECK_INT(parse(&p, ls, sizeof ls - 1, &l, &used), MSP_LINE);
    CHECK_INT(l.n, 2);
    CHECK(!l.item[1].is_string);
    CHECK_STR(l.item[1].s, "ACTIVE");
    CHECK_INT(parse(&p, ls + used, sizeof ls - 1 - used, &l, &used), MSP_LINE);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.item[0].s, "old1");
    msp_free(&p);
}

static void test_malformed(void)
{
    static const struct { const char *text; int rc; const char *err; } bad[] = {
        { "\"abc\r\n\"\r\n", MSP_ERR_SYNTAX, "line break or NUL inside a quoted string at offset 0" },
        { "OK (QUOTA \"x\"\r\n", MSP_ERR_SYNTAX, "response code not closed" },
        { "OK (\"x\") \"y\"\r\n", MSP_ERR_SYNTAX, "a response code must start with an atom" },
        { "OK \"a\" \"b\"\r\n", MSP_ERR_SYNTAX, "more than one text after a response" },
        { "NO ACTIVE\r\n", MSP_ERR_SYNTAX, "a response's text must be a string" },
        { "\"a\")\r\n", MSP_ERR_SYNTAX, "')' outside a response code" },
        { "\"a\"\rX", MSP_ERR_SYNTAX, "CR without LF at offset 3" },
        { "{x}\r\n", MSP_ERR_SYNTAX, "bad literal header" },
        { "{3}\r\rab", MSP_ERR_SYNTAX, "no line break after a literal header" },
        { "{99999999999}\r\n", MSP_ERR_LIMIT, "literal too large" },
        { "\"a\"\"b\"\r\n", MSP_ERR_SYNTAX, "expected a space" },
        { "a\x01" "b\r\n", MSP_ERR_SYNTAX, "expected a space" },
        { "\x01\r\n", MSP_ERR_SYNTAX, "unexpected character at offset 0" },
    };
    struct msp p;
    msp_init(&p);
    struct msp_line l;
    size_t used;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse_trickle(&p, bad[i].text, strlen(bad[i].text), &l, &used);
        if (rc != bad[i].rc || !strstr(p.err, bad[i].err))
            fprintf(stderr, "case %zu: rc %d, err \"%s\"\n", i, rc, p.err);
        CHECK_INT(rc, bad[i].rc);
        CHECK(strstr(p.err, bad[i].err) != NULL);
    }
    msp_free(&p);
}

static void test_limits(void)
{
    struct msp p;
    msp_init(&p);
    p.max_line = 100;
    p.max_literal = 1000;
    struct msp_line l;
    size_t used, need;
    char line[300];
    memset(line, 'a', sizeof line);
    CHECK_INT(msp_parse(&p, line, sizeof line, &l, &used, &need), MSP_ERR_LIMIT);
    CHECK(strstr(p.err, "line too long") != NULL);
    /* Bytes inside a literal do not count against the line limit. */
    char *big = malloc(1100);
    int n = snprintf(big, 1100, "{900}\r\n");
    memset(big + n, 'x', 900);
    memcpy(big + n + 900, "\r\n", 2);
    CHECK_INT(parse(&p, big, (size_t)n + 902, &l, &used), MSP_LINE);
    CHECK_INT(l.item[0].len, 900);
    snprintf(big, 1100, "{1001}\r\n");
    CHECK_INT(parse(&p, big, 8, &l, &used), MSP_ERR_LIMIT);
    free(big);
    /* More items than a line may hold. */
    char many[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "a ");
    strcat(many, "a\r\n");
    CHECK_INT(parse(&p, many, strlen(many), &l, &used), MSP_ERR_LIMIT);
    msp_free(&p);
}

int main(void)
{
    RUN(test_greeting);
    RUN(test_response_codes);
    RUN(test_literals);
    RUN(test_malformed);
    RUN(test_limits);
    return CHECK_DONE();
}
