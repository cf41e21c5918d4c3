/* test_mime.c — the mime_*.c files (mime.h) on real-world shapes: RFC 2047 words in many
 * charsets, split and broken words, header lookup with folding, and body text from multipart
 * mail, bounded and nested, and previews. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mime.h"

/* fn (mime_decode_header, mime_preview) of v; returns a static copy so checks stay short. */
static const char *conv(int (*fn)(const char *, size_t, char **, size_t *), const char *v)
{
    static char keep[2048];
    char *out = NULL;
    size_t len = 0;
    if (fn(v, strlen(v), &out, &len) != 0)
        return NULL;
    snprintf(keep, sizeof keep, "%s", out);
    if (strlen(out) != len)
        snprintf(keep, sizeof keep, "(length mismatch)");
    free(out);
    return keep;
}

/* Decodes a header value. */
static const char *dec(const char *v)
{
    return conv(mime_decode_header, v);
}

static void test_rfc2047_examples(void)
{
    /* RFC 2047 section 8. */
    CHECK_STR(dec(" =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
              "André Pirard <PIRARD@vm1.ulg.ac.be>");
    CHECK_STR(dec("(=?ISO-8859-1?Q?a?=)"), "(a)");
    CHECK_STR(dec("(=?ISO-8859-1?Q?a?= b)"), "(a b)");
    CHECK_STR(dec("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)"), "(ab)");
    CHECK_STR(dec("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)"), "(ab)");
    CHECK_STR(dec("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)"), "(ab)");
    CHECK_STR(dec("(=?ISO-8859-1?Q?a_b?=)"), "(a b)");
    CHECK_STR(dec("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)"), "(a b)");
    CHECK_STR(dec("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>"), "Keith Moore <moore@cs.utk.edu>");
    CHECK_STR(dec("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
                  " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="),
              "If you can read this you understand the example.");
}

static void test_charsets(void)
{
    /* Lower-case q, language suffix (RFC 2231). */
    CHECK_STR(dec("=?iso-8859-1*de?q?Gr=FC=DFe?= aus K=F6ln"), "Grüße aus K=F6ln");
    /* UTF-8 bytes of one character split across two B words. */
    CHECK_STR(dec("=?UTF-8?B?R3LD?= =?utf-8?B?vMOfZQ==?="), "Grüße");
    /* KOI8-R through iconv. */
    CHECK_STR(dec("=?koi8-r?B?8NLJ18XULCDNydI=?="), "Привет, мир");
    /* Windows-1252 specials: curly quotes and the euro sign. */
    CHECK_STR(dec("=?windows-1252?Q?=93quoted=94_=80?="), "“quoted” €");
    /* ISO-8859-15 euro (0xA4) differs from Latin-1's currency sign. */
    CHECK_STR(dec("=?ISO-8859-15?Q?10_=A4?="), "10 €");
    /* Words between plain text keep the blanks around them. */
    CHECK_STR(dec("Re: =?UTF-8?Q?caf=C3=A9?= tonight"), "Re: café tonight");
    /* Raw 8-bit: valid UTF-8 kept, anything else read as Windows-1252. */
    CHECK_STR(dec("Gr\xc3\xbc\xc3\x9f" "e"), "Grüße");
    CHECK_STR(dec("caf\xe9 \x80"), "café €");
}

static void test_broken_words(void)
{
    CHECK_STR(dec("=?UTF-8?B?###?="), "=?UTF-8?B?###?=");
    CHECK_STR(dec("=?UTF-8?Q?abc"), "=?UTF-8?Q?abc");
    CHECK_STR(dec("=?UTF-8?X?abc?="), "=?UTF-8?X?abc?=");
    CHECK_STR(dec("=?UTF-8?Q?a=ZZ?= ok"), "=?UTF-8?Q?a=ZZ?= ok");
    CHECK_STR(dec("=??Q?abc?="), "=??Q?abc?=");
    CHECK_STR(dec("=?x-klingon?Q?abc?= =?x-klingon?Q?def?="), "=?x-klingon?Q?abc?= =?x-klingon?Q?def?=");
    CHECK_STR(dec("=?UTF-8?Q?ok?= =?UTF-8?B?###?= =?UTF-8?Q?ok?="), "ok =?UTF-8?B?###?= ok");
    CHECK_STR(dec("a =?"), "a =?");
    CHECK_STR(dec("=?UTF-8?B?R3LD?="), "Gr\xef\xbf\xbd");   /* truncated character: U+FFFD */
    CHECK_STR(dec(""), "");
    CHECK_STR(dec("   "), "");
    CHECK_STR(dec("=?utf-8?q?=E2=82?="), "\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_header_lookup(void)
{
    const char *hdr =
        "Received: from a by b;\r\n\tMon, 1 Jan 2024 10:00:00 +0000\r\n"
        "Subject: a very long\r\n subject line\r\n"
        "received: second\r\n"
        "From : =?UTF-8?Q?J=C3=B6rg?= <j@example.org>\r\n"
        "not a field line\r\n"
        "X-Empty:\r\n"
        "\r\n"
        "Subject: not a header, the body\r\n";
    size_t len = strlen(hdr), pos = 0;
    struct mime_field f;
    int n = 0;
    while (mime_header_find(hdr, len, &pos, "RECEIVED", 8, &f))
        n++;
    CHECK_INT(n, 2);
    pos = 0;
    CHECK(mime_header_find(hdr, len, &pos, "subject", 7, &f));
    char *out;
    size_t olen;
    CHECK_INT(mime_decode_header(f.value, f.valuelen, &out, &olen), 0);
    CHECK_STR(out, "a very long subject line");
    free(out);
    CHECK(!mime_header_find(hdr, len, &pos, "subject", 7, &f));
    pos = 0;
    CHECK(mime_header_find(hdr, len, &pos, "from", 4, &f));
    CHECK_INT(mime_decode_header(f.value, f.valuelen, &out, &olen), 0);
    CHECK_STR(out, "Jörg <j@example.org>");
    free(out);
    pos = 0;
    CHECK(mime_header_find(hdr, len, &pos, "x-empty", 7, &f));
    CHECK_INT(f.valuelen, 0);
    /* Bare LF line ends, no final line end, a leading continuation line. */
    const char *lf = " stray\nSubject: one\n two\nTo: x";
    pos = 0;
    n = 0;
    while (mime_header_next(lf, strlen(lf), &pos, &f))
        n++;
    CHECK_INT(n, 2);
    CHECK_INT(f.namelen, 2);
    CHECK_INT(f.valuelen, 2);
    /* Every prefix of a header block parses without reading past it. */
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, hdr, cut);
        pos = 0;
        while (mime_header_next(copy, cut, &pos, &f)) {
            CHECK(f.value >= copy && f.value + f.valuelen <= copy + cut);
            char *o;
            if (mime_decode_header(f.value, f.valuelen, &o, NULL) == 0)
                free(o);
        }
        free(copy);
    }
}

static char *body(const char *msg, size_t max)
{
    char *out = NULL;
    size_t len;
    if (mime_body_text(msg, strlen(msg), max, &out, &len) != 0)
        return NULL;
    return out;
}

static void test_body_plain(void)
{
    char *t = body("Subject: hi\r\n\r\nHello\r\nworld\r\n", 0);
    CHECK_STR(t, "Hello\nworld\n");
    free(t);
    t = body("Content-Type: text/plain; charset=iso-8859-1\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
             "Gr=FC=DFe, a long line that is=\r\n softly broken =3D ok\r\n", 0);
    CHECK_STR(t, "Grüße, a long line that is softly broken = ok\n");
    free(t);
    /* No header at all, no body at all. */
    t = body("", 0);
    CHECK_STR(t, "");
    free(t);
    t = body("Subject: only a header", 0);
    CHECK_STR(t, "");
    free(t);
}

static void test_body_alternative_qp(void)
{
    const char *msg =
        "From: a@example.org\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative;\r\n boundary=\"=_alt_42\"\r\n"
        "\r\n"
        "This is a multi-part message in MIME format.\r\n"
        "--=_alt_42\r\n"
        "Content-Type: text/plain; charset=\"utf-8\"\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Caf=C3=A9 au lait =E2=82=AC 3\r\n"
        "--=_alt_42\r\n"
        "Content-Type: text/html; charset=\"utf-8\"\r\n"
        "\r\n"
        "<p>Caf&eacute; <b>au lait</b></p>\r\n"
        "--=_alt_42--\r\n"
        "epilogue\r\n";
    char *t = body(msg, 0);
    CHECK_STR(t, "Café au lait € 3");
    free(t);
}

static void test_body_html_only(void)
{
    const char *msg =
        "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
        "--b1\r\n"
        "Content-Type: text/html; charset=windows-1252\r\n\r\n"
        "<html><head><style>p { color: red }</style><script>var x = '<p>';</script></head>\r\n"
        "<body><!-- hidden --><p>Hello&nbsp;&amp; \x93welcome\x94</p><br>"
        "<table><tr><td>a</td><td>b</td></tr></table>&#8364;&#x41;&bogus; 1 < 2</body></html>\r\n"
        "--b1\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Disposition: attachment; filename=log.txt\r\n\r\n"
        "attached log, not body text\r\n"
        "--b1--\r\n";
    char *t = body(msg, 0);
    CHECK_STR(t, "Hello & “welcome”\n\na b\n\n€A&bogus; 1 < 2");
    free(t);
}

static void test_body_base64_latin9(void)
{
    const char *msg =
        "Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n\r\n"
        "--XyZ\r\n"
        "Content-Type: text/plain; charset=ISO-8859-15\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "UHJlaXM6IDEwIKQgLSBn/G5zdGlnDQpad2VpdGUgWmVpbGUgbWl0ILx1dnJl\r\n"
        "DQo=\r\n"
        "--XyZ\r\n"
        "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw0KGgo=\r\n"
        "--XyZ--\r\n";
    char *t = body(msg, 0);
    CHECK_STR(t, "Preis: 10 € - günstig\nZweite Zeile mit Œuvre\n");
    free(t);
}

static void test_body_koi8_and_forward(void)
{
    const char *msg =
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
        "--outer\r\n\r\n"
        "Forwarded:\r\n"
        "--outer\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        "Subject: inner\r\n"
        "Content-Type: text/plain; charset=koi8-r\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
        "--outer--\r\n";
    char *t = body(msg, 0);
    CHECK_STR(t, "Forwarded:\nПривет");
    free(t);
}

static void test_body_nested_past_limit(void)
{
    /* 40 levels of multipart/mixed, a text part at each level. */
    enum { LEVELS = 40 };
    size_t cap = 100000, len = 0;
    char *msg = malloc(cap);
    len += (size_t)sprintf(msg + len, "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for (int i = 0; i < LEVELS; i++) {
        len += (size_t)sprintf(msg + len,
                               "--b%d\r\nContent-Type: text/plain\r\n\r\nlevel %d\r\n"
                               "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n",
                               i, i + 1, i, i + 1);
    }
    for (int i = LEVELS; i >= 0; i--)
        len += (size_t)sprintf(msg + len, "--b%d--\r\n", i);
    char *out;
    size_t olen;
    CHECK_INT(mime_body_text(msg, len, 0, &out, &olen), 0);
    CHECK(strstr(out, "level 1\n") == out);
    char want[32];
    snprintf(want, sizeof want, "level %d", MIME_MAX_DEPTH);
    CHECK(strstr(out, want) != NULL);
    snprintf(want, sizeof want, "level %d", MIME_MAX_DEPTH + 1);
    CHECK(strstr(out, want) == NULL);
    free(out);
    free(msg);
}

static void test_body_bounded(void)
{
    /* A 1 MB body cut at 1000 bytes, never inside a character. */
    size_t n = 1 << 20;
    char *msg = malloc(n + 64);
    size_t len = (size_t)sprintf(msg, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    while (len + 2 < n) {
        memcpy(msg + len, "\xc3\xa9", 2);   /* é */
        len += 2;
    }
    char *out;
    size_t olen;
    CHECK_INT(mime_body_text(msg, len, 999, &out, &olen), 0);
    CHECK_INT(olen, 998);
    free(out);
    CHECK_INT(mime_body_text(msg, len, 1000, &out, &olen), 0);
    CHECK_INT(olen, 1000);
    free(out);
    free(msg);
}

static void test_body_hostile(void)
{
    const char *msgs[] = {
        "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
        "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x",
        "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n",
        "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno end",
        "Content-Type: multipart/mixed; boundary=\"unterminated\r\n\r\n--unterminated\r\n\r\nx",
        "Content-Type: text/plain; charset=\"x-klingon\"\r\n\r\ncaf\xe9",
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n====A===\r\n!!",
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=4=",
        "Content-Type: text/html\r\n\r\n<script>never closed",
        "Content-Type: text/html\r\n\r\n<a href=\"x>y",
        "Content-Type: text/html\r\n\r\n&#99999999999; &#x; &#; &",
        "Content-Type: (comment (nested)) text / plain ; ; charset = \"utf-8\" (c)\r\n\r\nok",
        "Content-Type: text/plain; charset=utf-16le\r\n\r\nA\0B",
        "Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B",
    };
    const char *want[] = {"", "", "", "no end", "x", "café", "", "=4", "", "",
                          "&#99999999999; &#x; &#; &", "ok", "AB", "こんにちは"};
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        size_t len = strlen(msgs[i]);
        if (i == 12)
            len += 3;   /* "A\0B\0": the string's own NUL ends the second unit */
        char *out;
        size_t olen;
        CHECK_INT(mime_body_text(msgs[i], len, 0, &out, &olen), 0);
        if (strcmp(out, want[i]) != 0)
            fprintf(stderr, "hostile %zu: got \"%s\"\n", i, out);
        CHECK_STR(out, want[i]);
        free(out);
        /* Every truncation of it as well. */
        for (size_t cut = 0; cut < len; cut++) {
            char *copy = malloc(cut ? cut : 1);
            memcpy(copy, msgs[i], cut);
            CHECK_INT(mime_body_text(copy, cut, 0, &out, &olen), 0);
            free(out);
            free(copy);
        }
    }
}

/* Random byte mutations of a rich message: never a crash, an out-of-bounds read (ASan) or a
 * failure; the output stays within the limit. Deterministic (fixed seed). */
static void test_mutations(void)
{
    const char *seed =
        "Subject: =?UTF-8?B?R3LD?= =?utf-8?B?vMOfZQ==?=\r\n"
        "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
        "--o\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
        "--a\r\nContent-Type: text/plain; charset=koi8-r\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n8NLJ18XU\r\n"
        "--a\r\nContent-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>x=3D&amp;<script>y</script></p>\r\n"
        "--a--\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n--o--\r\n";
    size_t len = strlen(seed);
    char *m = malloc(len);
    unsigned long x = 12345;
    for (int round = 0; round < 20000; round++) {
        memcpy(m, seed, len);
        int edits = 1 + round % 8;
        for (int e = 0; e < edits; e++) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            m[(x >> 33) % len] = (char)(x >> 17);
        }
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        size_t cut = len - (x >> 40) % 16;
        char *out;
        size_t olen;
        int rc = mime_body_text(m, cut, 200, &out, &olen);
        CHECK_INT(rc, 0);
        if (rc == 0) {
            CHECK(olen <= 200 && strlen(out) <= olen);
            free(out);
        }
        rc = mime_decode_header(m, cut, &out, &olen);
        CHECK_INT(rc, 0);
        if (rc == 0)
            free(out);
    }
    free(m);
}

/* ---- the same text from pieces of any size ------------------------------------------------ */

struct pieces { char *out[2]; size_t len[2]; };

static bool collect(void *ud, bool html, const char *text, size_t len)
{
    struct pieces *p = ud;
    p->out[html] = realloc(p->out[html], p->len[html] + len + 1);
    memcpy(p->out[html] + p->len[html], text, len);
    p->len[html] += len;
    p->out[html][p->len[html]] = '\0';
    return true;
}

static unsigned long split_rng = 99;

/* mime_text fed msg in pieces of 1 byte (step 1), random sizes (step 0) or step bytes. */
static char *streamed(const char *msg, size_t len, size_t step, bool first)
{
    struct pieces p = { { NULL, NULL }, { 0, 0 } };
    struct mime_text *t = mime_text_new(first, collect, &p);
    size_t pos = 0;
    while (pos < len) {
        split_rng = split_rng * 6364136223846793005UL + 1442695040888963407UL;
        size_t k = step ? step : 1 + (split_rng >> 33) % 300;
        if (k > len - pos)
            k = len - pos;
        CHECK_INT(mime_text_feed(t, msg + pos, k), 0);
        pos += k;
    }
    CHECK_INT(mime_text_end(t), 0);
    int pick = mime_text_plain(t) ? 0 : 1;
    mime_text_free(t);
    free(p.out[!pick]);
    return p.out[pick] ? p.out[pick] : strdup("");
}

/* Every message of the tests above, and long lines: the text does not depend on how the
 * message was cut. */
static void test_body_streamed(void)
{
    static const char *const msgs[] = {
        "Subject: hi\r\n\r\nHello\r\nworld\r\n",
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Gr=FC=DFe, a long line that is=\r\n softly broken =3D ok=  \r\nend=\r\n",
        "Content-Type: multipart/alternative; boundary=\"=_alt_42\"\r\n\r\npre\r\n"
        "--=_alt_42\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n"
        "<p>Caf&eacute; <b>au\r\nlait</b></p><!-- c -- > --><blockquote>q</blockquote>"
        "<script>if (a</b) x = '</scr'</script>&#8364;&amp&lt;x&gt;<br><br><br>t &nbsp; "
        "&averyveryverylongentity; &#x1F600;<td>a</td><td>b\r\n"
        "--=_alt_42\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 =E2=82=AC 3\r\n"
        "--=_alt_42--\r\nepilogue\r\n",
        "Content-Type: text/html\r\n\r\n<html><head><style>p{}</style></head><body>\r\n"
        "<p>x</p><div>y</div><!DOCTYPE z><? q ?>< lone &#10;&#10;&#10; end</body>",
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n\r\nFwd:\r\n"
        "--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
        "Content-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
        "--outer\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
        "Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n"
        "--d--\r\n--outer--\r\n",
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "w6nDqcOpw6nDqcOpw6nDqcOpw6kgw6k=\r\n",
        "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n"
        "\r\nno end\r\n\r\n",
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=4=",
    };
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        for (int first = 0; first < 2; first++) {
            char *whole = streamed(msgs[i], strlen(msgs[i]), strlen(msgs[i]) + 1, first);
            if (!first) {           /* the whole at once is what mime_body_text says */
                char *ref = NULL;
                size_t rl;
                CHECK_INT(mime_body_text(msgs[i], strlen(msgs[i]), 1 << 20, &ref, &rl), 0);
                CHECK_STR(whole, ref);
                free(ref);
            }
            for (size_t step = 0; step < 8; step++) {
                char *d = streamed(msgs[i], strlen(msgs[i]), step, first);
                if (strcmp(d, whole) != 0)
                    fprintf(stderr, "message %zu first %d step %zu: \"%s\" vs \"%s\"\n", i, first,
                            step, d, whole);
                CHECK_STR(d, whole);
                free(d);
            }
            free(whole);
        }
    }
    /* Lines far longer than a delimiter can be: a base64 body without line breaks, a text line
     * of 100000 bytes, a CR at the end of a piece. */
    size_t n = 300000;
    char *m = malloc(n + 200);
    size_t len = (size_t)sprintf(m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                                 "Content-Transfer-Encoding: base64\r\n\r\n");
    for (size_t k = 0; k < 40000; k++)
        memcpy(m + len + 4 * k, "YWJj", 4);
    len += 160000;
    len += (size_t)sprintf(m + len, "\r\n--b\r\n\r\n");
    memset(m + len, 'z', 100000);
    len += 100000;
    len += (size_t)sprintf(m + len, "\r\n--b--\r\n");
    char *whole = streamed(m, len, len, false);
    CHECK_INT(strlen(whole), 120000 + 1 + 100000);
    CHECK(whole[119999] == 'c' && whole[120000] == '\n' && whole[120001] == 'z');
    for (size_t step = 0; step < 3; step++) {
        char *d = streamed(m, len, step ? 4096 * step + 1 : 0, false);
        CHECK_STR(d, whole);
        free(d);
    }
    free(whole);
    free(m);
}

/* mime_param_get on pairs; "(absent)" or the value, into a static buffer. */
static const char *param(const char *const *pairs, size_t n, const char *name)
{
    static char buf[512];
    char *out = NULL;
    size_t len = 0;
    int rc = mime_param_get(pairs, n, name, &out, &len);
    snprintf(buf, sizeof buf, "%s", rc < 0 ? "(error)" : rc == 0 ? "(absent)" : out);
    CHECK(rc != 1 || strlen(out) == len);
    free(out);
    return buf;
}

static void test_rfc2231_params(void)
{
    /* RFC 2231 section 3 and 4 examples, and what mailers send */
    const char *const single[] = { "filename*", "utf-8''%E2%82%AC%20rates.pdf", "name", "x" };
    CHECK_STR(param(single, 2, "FILENAME"), "\xe2\x82\xac rates.pdf");
    CHECK_STR(param(single, 2, "name"), "x");
    CHECK_STR(param(single, 2, "size"), "(absent)");
    const char *const cont[] = { "URL*1", "cp/pub/", "url*0", "ftp://", "URL*2", "x.tar" };
    CHECK_STR(param(cont, 3, "url"), "ftp://cp/pub/x.tar");
    const char *const mixed[] = { "title*2", "isn't it!", "title*1*", "%2A%2A%2Afun%2A%2A%2A%20",
                                  "title*0*", "us-ascii'en'This%20is%20even%20more%20" };
    CHECK_STR(param(mixed, 3, "title"), "This is even more ***fun*** isn't it!");
    const char *const latin[] = { "filename*0*", "iso-8859-1''Gr%FC", "filename*1*", "%DFe.txt" };
    CHECK_STR(param(latin, 2, "filename"), "Gr\xc3\xbc\xc3\x9f" "e.txt");
    /* RFC 2047 in a quoted value, not standard but common */
    const char *const ew[] = { "name", "=?UTF-8?B?w5xiZXJzaWNodC5wZGY=?=" };
    CHECK_STR(param(ew, 1, "name"), "\xc3\x9c" "bersicht.pdf");
    /* hostile: missing first segment, bad percent, unknown charset, huge index */
    const char *const bad[] = { "n*1", "b", "n*99999", "c", "m*", "x-nonsense''%FF%", "n", "p" };
    CHECK_STR(param(bad, 4, "n"), "p");
    CHECK_STR(param(bad, 4, "m"), "\xc3\xbf%");
}

static void test_part_decode(void)
{
    char *out = NULL;
    size_t len = 0;
    CHECK(mime_part_decode("R3LDvMOfZSE=\r\n", 14, "BASE64", "utf-8", &out, &len) == 0);
    CHECK_STR(out, "Gr\xc3\xbc\xc3\x9f" "e!");
    free(out);
    CHECK(mime_part_decode("caf=E9 =\r\nau lait", 17, "quoted-printable", "iso-8859-1", &out,
                           &len) == 0);
    CHECK_STR(out, "caf\xc3\xa9 au lait");
    free(out);
    /* no charset: the decoded bytes as they are */
    CHECK(mime_part_decode("AP8A", 4, "base64", NULL, &out, &len) == 0);
    CHECK(len == 3 && out[0] == 0 && (unsigned char)out[1] == 0xff && out[2] == 0);
    free(out);
    CHECK(mime_part_decode("plain", 5, NULL, "", &out, &len) == 0);
    CHECK_STR(out, "plain");
    free(out);
}

static const char *preview(const char *msg)
{
    return conv(mime_preview, msg);
}

static void test_preview(void)
{
    /* Dovecot's own cases (test-message-snippet.c), which RFC 8970 servers follow. */
    CHECK_STR(preview("Content-Type: text/plain\n\nline1\n>quote2\nline2\n"), "line1 line2");
    CHECK_STR(preview("Content-Type: text/plain\n\nline1\n>quote2\n> quote3\n > line4\n\n  \t\t  \n"
                      "line5\n  \t "), "line1 > line4 line5");
    CHECK_STR(preview("Subject: x\r\n\r\n> a\r\n>> b\r\n"), ">a > b");
    CHECK_STR(preview("Subject: x\r\n\r\n"), "");
    CHECK_STR(preview("Content-Type: image/png\r\n\r\nxyz"), "");
    CHECK_STR(preview("Content-Type: text/html\r\n\r\n<p>a<blockquote>q<blockquote>qq</blockquote>"
                      "q</blockquote>b</p>"), "a b");
    /* the first text part only, through an attachment that comes first */
    CHECK_STR(preview("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                      "Content-Type: image/png\r\n\r\nPNG\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n"),
              "one");
    /* 200 characters, not bytes; no blank left at the cut */
    char msg[2200] = "Subject: x\r\n\r\n";
    for (int i = 0; i < 150; i++)
        strcat(msg, "\xc3\xa4 ");                     /* "ä " */
    const char *p = preview(msg);
    CHECK(p != NULL && strlen(p) == 100 * 3 - 1);     /* 100 ä and 99 blanks */
    CHECK(p != NULL && p[strlen(p) - 1] != ' ');
    char big[2200] = "Subject: x\r\n\r\n";
    for (int i = 0; i < 300; i++)
        strcat(big, "x");
    CHECK_INT(strlen(preview(big)), MIME_PREVIEW_MAX_CHARS);
}

int main(void)
{
    RUN(test_rfc2231_params);
    RUN(test_part_decode);
    RUN(test_rfc2047_examples);
    RUN(test_charsets);
    RUN(test_broken_words);
    RUN(test_header_lookup);
    RUN(test_body_plain);
    RUN(test_body_alternative_qp);
    RUN(test_body_html_only);
    RUN(test_body_base64_latin9);
    RUN(test_body_koi8_and_forward);
    RUN(test_body_nested_past_limit);
    RUN(test_body_bounded);
    RUN(test_body_hostile);
    RUN(test_mutations);
    RUN(test_body_streamed);
    RUN(test_preview);
    return CHECK_DONE();
}
