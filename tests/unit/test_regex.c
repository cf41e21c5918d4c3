/* test_regex.c — regex.c: compile flags, captures, UTF-8 caseless matching, errors with offsets,
 * subjects that are not UTF-8, a 10 MB subject, and texts searched in pieces: a needle cut at
 * every position gives what the whole text gives. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "regex.h"

static struct regex *compile(const char *p, unsigned flags)
{
    char err[256] = "";
    struct regex *re = regex_compile(p, strlen(p), flags, err, sizeof err);
    if (!re)
        fprintf(stderr, "compile %s: %s\n", p, err);
    return re;
}

static int match(struct regex *re, const char *s)
{
    return regex_match(re, s, strlen(s), NULL, 0);
}

static void test_jit_on(void)
{
    struct regex *re = compile("^\\[PATCH(?: v\\d+)?\\]", 0);
    CHECK(re != NULL);
    if (!re)
        return;
    CHECK(regex_jit(re));
    CHECK_INT(match(re, "[PATCH v3] fix it"), 1);
    CHECK_INT(match(re, "[PATCH] fix it"), 1);
    CHECK_INT(match(re, "Re: [PATCH] fix it"), 0);
    regex_free(re);
}

static void test_captures(void)
{
    struct regex *re = compile("(\\w+)@(example)\\.(org)?(x)?", 0);
    CHECK(re != NULL);
    if (!re)
        return;
    CHECK_INT(regex_groups(re), 4);
    size_t ov[10];
    const char *s = "mail from alice@example.org today";
    CHECK_INT(regex_match(re, s, strlen(s), ov, 5), 1);
    CHECK_INT(ov[0], 10);
    CHECK_INT(ov[1], 27);
    CHECK_INT(ov[2], 10);
    CHECK_INT(ov[3], 15);
    CHECK_INT(ov[4], 16);
    CHECK_INT(ov[5], 23);
    CHECK_INT(ov[6], 24);
    CHECK(ov[8] == REGEX_UNSET && ov[9] == REGEX_UNSET);
    /* Fewer pairs than groups: only those are written. */
    size_t two[4] = {7, 7, 7, 7};
    CHECK_INT(regex_match(re, s, strlen(s), two, 1), 1);
    CHECK_INT(two[0], 10);
    CHECK_INT(two[2], 7);
    regex_free(re);
}

static void test_flags(void)
{
    struct regex *re = compile("^b$", REGEX_MULTILINE);
    CHECK_INT(match(re, "a\nb\nc"), 1);
    regex_free(re);
    re = compile("^b$", 0);
    CHECK_INT(match(re, "a\nb\nc"), 0);
    regex_free(re);
    re = compile("a.c", REGEX_DOTALL);
    CHECK_INT(match(re, "a\nc"), 1);
    regex_free(re);
    re = compile("a.c", 0);
    CHECK_INT(match(re, "a\nc"), 0);
    regex_free(re);
    re = compile("a b  c # comment", REGEX_EXTENDED);
    CHECK_INT(match(re, "xabcx"), 1);
    regex_free(re);
    re = compile("HELLO", REGEX_CASELESS);
    CHECK_INT(match(re, "say hello"), 1);
    regex_free(re);
}

static void test_caseless_utf8(void)
{
    struct regex *re = compile("ÄRGER", REGEX_CASELESS);
    CHECK_INT(match(re, "So ein ärger!"), 1);
    CHECK_INT(match(re, "So ein aerger!"), 0);
    regex_free(re);
    /* One character, not two bytes: "." matches "é" whole. */
    re = compile("^caf.$", 0);
    CHECK_INT(match(re, "café"), 1);
    regex_free(re);
    /* \w knows letters beyond ASCII (UCP). */
    re = compile("^\\w+$", 0);
    CHECK_INT(match(re, "Größe"), 1);
    regex_free(re);
    re = compile("ΣΟΦΙΑ", REGEX_CASELESS);
    CHECK_INT(match(re, "σοφια"), 1);
    regex_free(re);
}

static void test_invalid_pattern(void)
{
    char err[256] = "";
    struct regex *re = regex_compile("abc(def", 7, 0, err, sizeof err);
    CHECK(re == NULL);
    CHECK(strstr(err, "regex: missing closing parenthesis") == err);
    CHECK(strstr(err, "at offset 7") != NULL);
    re = regex_compile("a[b", 3, 0, err, sizeof err);
    CHECK(re == NULL);
    CHECK(strstr(err, "at offset 3") != NULL);
    re = regex_compile("x{2,1}", 6, 0, err, sizeof err);
    CHECK(re == NULL);
    CHECK(strncmp(err, "regex: ", 7) == 0);
    /* A tiny buffer is filled safely. */
    char small[8];
    re = regex_compile("(", 1, 0, small, sizeof small);
    CHECK(re == NULL);
    CHECK_INT(strlen(small), 7);
}

static void test_invalid_utf8_subject(void)
{
    struct regex *re = compile("r.sum", 0);
    /* "résumé" in ISO-8859-1: not UTF-8; matched in byte mode, "." takes the 0xe9 byte. */
    const char latin1[] = "r\xe9sum\xe9";
    CHECK_INT(regex_match(re, latin1, strlen(latin1), NULL, 0), 1);
    /* Truncated sequence, overlong, surrogate, bytes past U+10FFFF. */
    const char *bad[] = {"abc\xc3", "\xc0\xafr_sum", "\xed\xa0\x80 r-sum", "\xf5\x80\x80\x80 r=sum",
                         "\xff\xfe r-sum"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INT(regex_match(re, bad[i], strlen(bad[i]), NULL, 0), i == 0 ? 0 : 1);
    regex_free(re);
    /* A pattern only UTF mode can express: no byte form, so no match (not an error). */
    re = compile("\\x{100}", 0);
    CHECK_INT(regex_match(re, "\xff\xfe", 2, NULL, 0), 0);
    CHECK_INT(match(re, "\xc4\x80"), 1);
    regex_free(re);
    /* A pattern that is not UTF-8 itself matches bytes. */
    char err[128];
    re = regex_compile("\xe9t\xe9", 3, REGEX_CASELESS, err, sizeof err);
    CHECK(re != NULL);
    CHECK_INT(regex_match(re, "l'\xe9T\xe9", 5, NULL, 0), 1);
    regex_free(re);
}

static void test_nul_and_empty(void)
{
    char err[128];
    struct regex *re = regex_compile("a\0b", 3, 0, err, sizeof err);
    CHECK(re != NULL);
    CHECK_INT(regex_match(re, "xa\0by", 5, NULL, 0), 1);
    CHECK_INT(regex_match(re, "xab", 3, NULL, 0), 0);
    regex_free(re);
    re = regex_compile("", 0, 0, err, sizeof err);
    CHECK(re != NULL);
    CHECK_INT(regex_match(re, "", 0, NULL, 0), 1);
    CHECK_INT(regex_match(re, NULL, 0, NULL, 0), 1);
    regex_free(re);
    regex_free(NULL);
}

static void test_big_subject(void)
{
    size_t n = 10u << 20;
    char *s = malloc(n);
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    memcpy(s + n - 20, "Subject: needle 42", 18);
    struct regex *re = compile("needle (\\d+)", 0);
    size_t ov[4];
    for (int round = 0; round < 3; round++) {
        CHECK_INT(regex_match(re, s, n, ov, 2), 1);
        CHECK_INT(ov[2], n - 20 + 16);
    }
    regex_free(re);
    /* Invalid UTF-8 near the end forces the byte-mode path over the whole subject. */
    s[n - 1] = (char)0xff;
    re = compile("(?i)SUBJECT: n", 0);
    CHECK_INT(regex_match(re, s, n, NULL, 0), 1);
    regex_free(re);
    free(s);
}

static void test_match_limit(void)
{
    /* Catastrophic backtracking must end in an error or a result, never hang or crash. */
    struct regex *re = compile("^(a+)+$", 0);
    char s[64];
    memset(s, 'a', 40);
    s[40] = 'b';
    s[41] = '\0';
    int rc = match(re, s);
    CHECK(rc <= 0);
    if (rc < 0) {
        char msg[128];
        regex_error_text(rc, msg, sizeof msg);
        CHECK(strncmp(msg, "regex: ", 7) == 0);
    }
    regex_free(re);
}

static void test_deep_jit_stack(void)
{
    /* A repeated group over a long subject overflows the default 32 KiB JIT stack: the regex
     * then gets a bigger stack, and past that the interpreter; either way the answer is right. */
    size_t n = 200000;
    char *s = malloc(n);
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        s[i] = "ab"[i % 2];
    s[n - 1] = 'c';
    struct regex *re = compile("^(a|b)*c$", 0);
    CHECK_INT(regex_match(re, s, n, NULL, 0), 1);
    s[n - 1] = 'a';
    CHECK_INT(regex_match(re, s, n, NULL, 0), 0);
    regex_free(re);
    free(s);
}

/* The text in the pieces cuts[] gives (ascending offsets): what the stream says. */
static int stream(struct regex *re, const char *t, size_t len, const size_t *cuts, size_t n)
{
    struct regex_stream *st = regex_stream_new(re);
    size_t at = 0;
    int rc = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        size_t end = i < n ? cuts[i] : len;
        rc = regex_stream_feed(st, t + at, end - at);
        at = end;
    }
    if (rc == 0)
        rc = regex_stream_end(st);
    regex_stream_free(st);
    return rc;
}

/* Every cut into two pieces, and every cut of the needle's neighbourhood into three, says
 * what regex_match says of the whole. */
static void every_cut(const char *pattern, unsigned flags, const char *text)
{
    struct regex *re = compile(pattern, flags);
    CHECK(re != NULL);
    if (!re)
        return;
    size_t len = strlen(text);
    int want = regex_match(re, text, len, NULL, 0);
    for (size_t a = 0; a <= len; a++) {
        int got = stream(re, text, len, &a, 1);
        if (got != want)
            fprintf(stderr, "/%s/ on \"%s\" cut at %zu: %d, want %d\n", pattern, text, a, got,
                    want);
        CHECK_INT(got, want);
        for (size_t b = a; b <= len && b < a + 12; b++) {
            size_t cuts[2] = { a, b };
            int got2 = stream(re, text, len, cuts, 2);
            if (got2 != want)
                fprintf(stderr, "/%s/ on \"%s\" cut at %zu, %zu: %d, want %d\n", pattern, text,
                        a, b, got2, want);
            CHECK_INT(got2, want);
        }
    }
    size_t ones[256];
    for (size_t i = 0; i < len && i < 256; i++)
        ones[i] = i;
    CHECK_INT(stream(re, text, len, ones, len < 256 ? len : 256), want);
    regex_free(re);
}

static void test_stream_cuts(void)
{
    every_cut("NEEDLE", 0, "hay hay hay NEEDLE hay");
    every_cut("NEEDLE", 0, "hay hay NEEDL hay EEDLE");
    every_cut("NEE.*DLE", 0, "hay NEE and more and more DLE hay");
    every_cut("NEE.*DLE", 0, "hay NEE and more\nDLE hay");          /* no DOTALL: none */
    every_cut("NEE.*DLE", REGEX_DOTALL, "hay NEE and more\nDLE hay");
    every_cut("(?<=xx)NEEDLE", 0, "hay xxNEEDLE hay");
    every_cut("(?<=xx)NEEDLE", 0, "hay x NEEDLE hay");
    every_cut("\\bNEEDLE\\b", 0, "hayNEEDLE NEEDLEhay NEEDLE");
    every_cut("\\bNEEDLE\\b", 0, "hayNEEDLE NEEDLEhay");
    every_cut("^NEEDLE", REGEX_MULTILINE, "hay\nNEEDLE");
    every_cut("^NEEDLE", 0, "hay\nNEEDLE");
    every_cut("^hay", 0, "hay\nNEEDLE");
    every_cut("NEEDLE$", 0, "hay NEEDLE");
    every_cut("NEEDLE$", 0, "hay NEEDLE hay");
    every_cut("NEEDLE\\z", 0, "NEEDLE\n");
    every_cut("\\d+ EUR", 0, "costs 12345 EUR today");
    every_cut("ärger", REGEX_CASELESS, "viel \xc3\x84RGER hier");     /* cut inside the Ä too */
    every_cut("\xc3\xa9t\xc3\xa9", 0, "un \xc3\xa9t\xc3\xa9 chaud");
    every_cut("caf.", 0, "un caf\xe9 noir");                        /* not UTF-8: bytes */
    every_cut("", 0, "anything");
    every_cut("x*$", 0, "abc");
}

/* A possible match longer than the window is given up, and a later one still found. */
static void test_stream_window(void)
{
    struct regex *re = compile("a.*z", REGEX_DOTALL);
    size_t n = 3 * REGEX_STREAM_WINDOW;
    char *t = malloc(n + 1);
    memset(t, 'a', n);
    struct regex_stream *st = regex_stream_new(re);
    for (size_t at = 0; at < n; at += 65536)
        CHECK_INT(regex_stream_feed(st, t + at, 65536), 0);
    CHECK_INT(regex_stream_end(st), 0);
    CHECK(regex_stream_cut(st));
    regex_stream_free(st);
    t[n - 1] = 'z';
    st = regex_stream_new(re);
    for (size_t at = 0; at < n; at += 65536)    /* ".*" may go on: known only at the end */
        CHECK_INT(regex_stream_feed(st, t + at, 65536), 0);
    CHECK_INT(regex_stream_end(st), 1);
    regex_stream_free(st);
    /* An ordinary needle after 10 MB: the stream holds little. */
    regex_free(re);
    re = compile("NEEDLE", 0);
    st = regex_stream_new(re);
    memset(t, 'a', n);
    for (size_t at = 0; at < n; at += 4096)
        CHECK_INT(regex_stream_feed(st, t + at, 4096), 0);
    CHECK_INT(regex_stream_feed(st, "NEED", 4), 0);
    CHECK_INT(regex_stream_feed(st, "LE", 2), 1);
    CHECK(!regex_stream_cut(st));
    regex_stream_free(st);
    regex_free(re);
    free(t);
}

int main(void)
{
    RUN(test_jit_on);
    RUN(test_captures);
    RUN(test_flags);
    RUN(test_caseless_utf8);
    RUN(test_invalid_pattern);
    RUN(test_invalid_utf8_subject);
    RUN(test_nul_and_empty);
    RUN(test_big_subject);
    RUN(test_match_limit);
    RUN(test_deep_jit_stack);
    RUN(test_stream_cuts);
    RUN(test_stream_window);
    return CHECK_DONE();
}
