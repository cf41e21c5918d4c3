/* test_command.c — the command encoder: atom/quoted/literal choice, literal modes and waits,
 * mailbox names, lists, sticky errors and trace redaction. */
#include "check.h"
#include "command.h"
#include "msgset.h"

#include <errno.h>
#include <stdlib.h>

/* The command text as a NUL-terminated string (static buffer; commands here are short). */
static const char *text(const struct command *c)
{
    static char out[8192];
    size_t n = c->len < sizeof out - 1 ? c->len : sizeof out - 1;
    memcpy(out, c->buf, n);
    out[n] = '\0';
    return out;
}

static const char *astring(enum literal_mode mode, bool utf8, const char *s, size_t len)
{
    struct command c;
    command_init(&c, mode);
    c.utf8 = utf8;
    command_start(&c, "A1", "X");
    command_astring(&c, s, len);
    const char *r = command_end(&c) == 0 ? text(&c) : "ERR";
    command_free(&c);
    return r;
}

#define AS(s) astring(LITERAL_SYNC, false, (s), sizeof(s) - 1)

static void test_astring_forms(void)
{
    CHECK_STR(AS("abc"), "A1 X abc\r\n");
    CHECK_STR(AS("\\Seen"), "A1 X \"\\\\Seen\"\r\n");
    CHECK_STR(AS(""), "A1 X \"\"\r\n");
    CHECK_STR(AS("a b"), "A1 X \"a b\"\r\n");
    CHECK_STR(AS("say \"hi\""), "A1 X \"say \\\"hi\\\"\"\r\n");
    CHECK_STR(AS("back\\slash"), "A1 X \"back\\\\slash\"\r\n");
    CHECK_STR(AS("\"\\"), "A1 X \"\\\"\\\\\"\r\n");
    CHECK_STR(AS("a]"), "A1 X \"a]\"\r\n");
    CHECK_STR(AS("a(b"), "A1 X \"a(b\"\r\n");
    CHECK_STR(AS("a{b"), "A1 X \"a{b\"\r\n");
    CHECK_STR(AS("50%"), "A1 X \"50%\"\r\n");
    CHECK_STR(AS("a*"), "A1 X \"a*\"\r\n");
    CHECK_STR(AS("tab\there"), "A1 X \"tab\there\"\r\n");
    CHECK_STR(AS("user@example.org"), "A1 X user@example.org\r\n");
    CHECK_STR(AS("two\r\nlines"), "A1 X {10}\r\ntwo\r\nlines\r\n");
    CHECK_STR(AS("bell\a"), "A1 X {5}\r\nbell\a\r\n");
    CHECK_STR(AS("caf\xc3\xa9"), "A1 X {5}\r\ncaf\xc3\xa9\r\n");
    CHECK_STR(AS("nul\0byte"), "ERR");
    /* UTF8=ACCEPT: valid UTF-8 is quoted, invalid still a literal */
    CHECK_STR(astring(LITERAL_SYNC, true, "caf\xc3\xa9", 5), "A1 X \"caf\xc3\xa9\"\r\n");
    CHECK_STR(astring(LITERAL_SYNC, true, "caf\xc3", 4), "A1 X {4}\r\ncaf\xc3\r\n");

    /* command_string never uses an atom */
    struct command c;
    command_init(&c, LITERAL_SYNC);
    command_start(&c, "A2", "SEARCH");
    command_atom(&c, "SUBJECT");
    command_string(&c, "abc", 3);
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "A2 SEARCH SUBJECT \"abc\"\r\n");

    /* long strings go as literals even when quotable */
    char big[COMMAND_QUOTED_MAX + 1];
    memset(big, 'x', sizeof big);
    command_start(&c, "A3", "X");
    command_string(&c, big, COMMAND_QUOTED_MAX);
    CHECK_INT(command_end(&c), 0);
    CHECK_INT(c.len, strlen("A3 X \"\"\r\n") + COMMAND_QUOTED_MAX);
    command_start(&c, "A3", "X");
    command_string(&c, big, sizeof big);
    CHECK_INT(command_end(&c), 0);
    CHECK(strncmp(text(&c), "A3 X {1025}\r\n", 13) == 0);
    CHECK_INT(c.nwaits, 1);
    command_free(&c);
}

static void test_login_literals(void)
{
    const char user[] = "j\xc3\xb6rg", pass[] = "p\xc3\xa4ss w\"rd";
    struct command c;
    command_init(&c, LITERAL_SYNC);
    command_start(&c, "A1", "LOGIN");
    command_astring(&c, user, sizeof user - 1);
    command_secret(&c, pass, sizeof pass - 1);
    CHECK_INT(command_end(&c), 0);
    const char *want = "A1 LOGIN {5}\r\nj\xc3\xb6rg {10}\r\np\xc3\xa4ss w\"rd\r\n";
    CHECK_STR(text(&c), want);
    CHECK_INT(c.nwaits, 2);
    CHECK_INT(c.waits[0], strlen("A1 LOGIN {5}\r\n"));
    CHECK_INT(c.waits[1], strlen("A1 LOGIN {5}\r\nj\xc3\xb6rg {10}\r\n"));
    char *tr;
    CHECK_INT(command_trace(&c, &tr), 0);
    CHECK_STR(tr, "A1 LOGIN {5}\r\nj\xc3\xb6rg ***\r\n");
    free(tr);

    command_free(&c);
    command_init(&c, LITERAL_PLUS);
    command_start(&c, "A1", "LOGIN");
    command_astring(&c, user, sizeof user - 1);
    command_secret(&c, pass, sizeof pass - 1);
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "A1 LOGIN {5+}\r\nj\xc3\xb6rg {10+}\r\np\xc3\xa4ss w\"rd\r\n");
    CHECK_INT(c.nwaits, 0);
    command_free(&c);

    /* a quoted password: hidden in the trace, quotes and all */
    command_init(&c, LITERAL_SYNC);
    command_start(&c, "A2", "LOGIN");
    command_astring(&c, "alice", 5);
    command_secret(&c, "se\"cret", 7);
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "A2 LOGIN alice \"se\\\"cret\"\r\n");
    CHECK_INT(command_trace(&c, &tr), 0);
    CHECK_STR(tr, "A2 LOGIN alice ***\r\n");
    CHECK(strstr(tr, "cret") == NULL);
    free(tr);
    command_free(&c);
}

static void test_literal_modes(void)
{
    static char data[5000];
    memset(data, 'a', sizeof data);
    struct command c;
    command_init(&c, LITERAL_MINUS);
    command_start(&c, "A1", "X");
    command_literal(&c, data, COMMAND_LITERAL_MINUS_MAX, false);
    command_literal(&c, data, COMMAND_LITERAL_MINUS_MAX + 1, false);
    CHECK_INT(command_end(&c), 0);
    CHECK(strncmp(c.buf, "A1 X {4096+}\r\n", 14) == 0);
    CHECK_INT(c.nwaits, 1);
    size_t second = 14 + 4096 + 1;
    CHECK(strncmp(c.buf + second, "{4097}\r\n", 8) == 0);
    CHECK_INT(c.waits[0], second + 8);
    command_free(&c);

    /* literal8 may hold NUL; a plain literal may not */
    command_init(&c, LITERAL_PLUS);
    command_start(&c, "A2", "X");
    command_literal(&c, "a\0b", 3, true);
    CHECK_INT(command_end(&c), 0);
    CHECK_INT(c.len, strlen("A2 X ~{3+}\r\n") + 3 + 2);
    CHECK(memcmp(c.buf, "A2 X ~{3+}\r\na\0b\r\n", c.len) == 0);
    command_start(&c, "A3", "X");
    command_literal(&c, "a\0b", 3, false);
    CHECK_INT(command_end(&c), -EINVAL);
    command_free(&c);

    command_init(&c, LITERAL_SYNC);
    command_start(&c, "A4", "X");
    command_literal(&c, "", 0, true);
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "A4 X ~{0}\r\n\r\n");
    CHECK_INT(c.nwaits, 1);
    command_free(&c);
}

static void test_append_big(void)
{
    size_t n = 5 * 1024 * 1024;
    char *msg = malloc(n);
    CHECK(msg != NULL);
    if (!msg)
        return;
    memset(msg, 'm', n);
    memcpy(msg, "From: a@b\r\n\r\n", 13);
    for (int mode = LITERAL_SYNC; mode <= LITERAL_PLUS; mode++) {
        struct command c;
        command_init(&c, (enum literal_mode)mode);
        command_start(&c, "A5", "APPEND");
        command_mailbox(&c, "Archive/2024", 12);
        command_open(&c);
        command_atom(&c, "\\Seen");
        command_atom(&c, "$Label1");
        command_close(&c);
        command_string(&c, "01-Feb-2024 10:00:00 +0000", 26);
        command_literal(&c, msg, n, false);
        CHECK_INT(command_end(&c), 0);
        const char *head = mode == LITERAL_PLUS
            ? "A5 APPEND Archive/2024 (\\Seen $Label1) \"01-Feb-2024 10:00:00 +0000\" {5242880+}\r\n"
            : "A5 APPEND Archive/2024 (\\Seen $Label1) \"01-Feb-2024 10:00:00 +0000\" {5242880}\r\n";
        size_t hl = strlen(head);
        CHECK_INT(c.len, hl + n + 2);
        CHECK(memcmp(c.buf, head, hl) == 0);
        CHECK(memcmp(c.buf + hl, msg, n) == 0);
        CHECK(memcmp(c.buf + hl + n, "\r\n", 2) == 0);
        CHECK_INT(c.nwaits, mode == LITERAL_PLUS ? 0 : 1);
        if (mode != LITERAL_PLUS && c.nwaits == 1)
            CHECK_INT(c.waits[0], hl);
        char *tr;
        CHECK_INT(command_trace(&c, &tr), 0);
        char want[256];
        snprintf(want, sizeof want, "%.*s <5242880 bytes>\r\n", (int)(hl - 2), head);
        CHECK_STR(tr, want);
        free(tr);
        command_free(&c);
    }
    free(msg);
}

static const char *mailbox(bool utf8, const char *name, size_t len)
{
    struct command c;
    command_init(&c, LITERAL_PLUS);
    c.utf8 = utf8;
    command_start(&c, "A1", "SELECT");
    command_mailbox(&c, name, len);
    int rc = command_end(&c);
    const char *r = rc == 0 ? text(&c) : rc == -EINVAL ? "EINVAL" : "ERR";
    command_free(&c);
    return r;
}

#define MB(s) mailbox(false, (s), sizeof(s) - 1)

static void test_mailbox(void)
{
    CHECK_STR(MB("inbox"), "A1 SELECT INBOX\r\n");
    CHECK_STR(MB("InBoX"), "A1 SELECT INBOX\r\n");
    CHECK_STR(MB("INBOX/Sub"), "A1 SELECT INBOX/Sub\r\n");
    CHECK_STR(MB("Tom & Jerry"), "A1 SELECT \"Tom &- Jerry\"\r\n");
    CHECK_STR(MB("R&D"), "A1 SELECT R&-D\r\n");
    CHECK_STR(MB("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
              "A1 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n");
    CHECK_STR(MB("Entw\xc3\xbcrfe"), "A1 SELECT Entw&APw-rfe\r\n");
    CHECK_STR(MB("Sent \"old\""), "A1 SELECT \"Sent \\\"old\\\"\"\r\n");
    CHECK_STR(MB(""), "A1 SELECT \"\"\r\n");
    CHECK_STR(MB("bad\xc3"), "EINVAL");
    CHECK_STR(MB("\xed\xa0\x80"), "EINVAL");
    CHECK_STR(mailbox(true, "Entw\xc3\xbcrfe", 9), "A1 SELECT \"Entw\xc3\xbcrfe\"\r\n");
    CHECK_STR(mailbox(true, "R&D", 3), "A1 SELECT R&D\r\n");
    CHECK_STR(mailbox(true, "bad\xc3", 4), "EINVAL");
}

static void test_lists_and_raw(void)
{
    struct command c;
    struct msgset s;
    msgset_init(&s);
    CHECK_INT(msgset_add(&s, 1, 5), 0);
    CHECK_INT(msgset_add(&s, 9, 9), 0);
    command_init(&c, LITERAL_SYNC);
    command_start(&c, "A3", "UID FETCH");
    command_msgset(&c, &s);
    command_open(&c);
    command_atom(&c, "UID");
    command_atom(&c, "FLAGS");
    command_raw(&c, "BODY.PEEK[HEADER.FIELDS (", 25);
    command_atom(&c, "FROM");
    command_atom(&c, "SUBJECT");
    command_raw(&c, ")]", 2);
    command_close(&c);
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "A3 UID FETCH 1:5,9 (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])\r\n");

    /* empty list, nested lists, numbers */
    command_start(&c, "A4", "X");
    command_open(&c);
    command_close(&c);
    command_open(&c);
    command_open(&c);
    command_number(&c, 18446744073709551615ull);
    command_close(&c);
    command_number(&c, 0);
    command_close(&c);
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "A4 X () ((18446744073709551615) 0)\r\n");

    /* an untagged line */
    command_start(&c, NULL, "DONE");
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "DONE\r\n");

    /* long tags are truncated in c->tag */
    command_start(&c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "NOOP");
    CHECK_STR(c.tag, "ABCDEFGHIJKLMNO");
    msgset_free(&s);
    command_free(&c);
}

static void test_sticky_errors(void)
{
    struct command c;
    struct msgset empty;
    msgset_init(&empty);
    command_init(&c, LITERAL_SYNC);
    command_start(&c, "A1", "X");
    command_atom(&c, "bad atom");
    command_astring(&c, "more", 4);
    CHECK_INT(command_end(&c), -EINVAL);
    command_start(&c, "A2", "X");     /* start clears the error */
    command_atom(&c, "");
    CHECK_INT(command_end(&c), -EINVAL);
    command_start(&c, "A3", "X");
    command_msgset(&c, &empty);
    CHECK_INT(command_end(&c), -EINVAL);
    command_start(&c, "A4", "NOOP");
    CHECK_INT(command_end(&c), 0);
    CHECK_STR(text(&c), "A4 NOOP\r\n");
    CHECK_INT(c.nwaits, 0);
    CHECK_INT(c.nsecrets, 0);
    command_free(&c);
    command_free(&c);   /* twice is harmless */
}

static void test_trace_mixed(void)
{
    /* secret as literal (8-bit), a short literal kept, a long one abbreviated */
    static char longlit[300];
    memset(longlit, 'z', sizeof longlit);
    struct command c;
    command_init(&c, LITERAL_SYNC);
    command_start(&c, "A9", "X");
    command_secret(&c, "p\xc3\xa4ss", 5);
    command_literal(&c, "short", 5, false);
    command_secret(&c, "tok", 3);
    command_literal(&c, longlit, sizeof longlit, false);
    CHECK_INT(command_end(&c), 0);
    CHECK_INT(c.nwaits, 3);
    CHECK_INT(c.nsecrets, 2);
    char *tr;
    CHECK_INT(command_trace(&c, &tr), 0);
    CHECK_STR(tr, "A9 X *** {5}\r\nshort *** {300} <300 bytes>\r\n");
    free(tr);
    command_free(&c);
}

int main(void)
{
    RUN(test_astring_forms);
    RUN(test_login_literals);
    RUN(test_literal_modes);
    RUN(test_append_big);
    RUN(test_mailbox);
    RUN(test_lists_and_raw);
    RUN(test_sticky_errors);
    RUN(test_trace_mixed);
    return CHECK_DONE();
}
