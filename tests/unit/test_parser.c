/* test_parser.c — the response parser: RFC 3501 sample session, response codes, literals,
 * limits, malformed input with offsets, and identical trees for every split of the input. */
#include "parser.h"

#include "check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- a tree-to-string dumper ------------------------------------------------ */

struct sb { char *s; size_t len, cap; };

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = realloc(b->s, cap);
        if (!b->s)
            abort();
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void dump_bytes(struct sb *b, const char *s, size_t n)
{
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 32 || c >= 127)
            sb_printf(b, "\\x%02x", c);
        else
            sb_add(b, (const char *)&c, 1);
    }
    sb_add(b, "\"", 1);
}

static void dump_value(struct sb *b, const struct imap_value *v)
{
    switch (v->type) {
    case IMAP_NIL:
        sb_add(b, "NIL", 3);
        break;
    case IMAP_ATOM:
        sb_add(b, v->u.str, v->len);
        break;
    case IMAP_NUMBER:
        sb_printf(b, "%" PRIu64, v->u.num);
        break;
    case IMAP_STRING:
        dump_bytes(b, v->u.str, v->len);
        break;
    case IMAP_STREAMED:
        sb_printf(b, "<streamed %zu>", v->len);
        break;
    case IMAP_LIST:
        sb_add(b, "(", 1);
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                sb_add(b, " ", 1);
            dump_value(b, &v->u.items[i]);
        }
        sb_add(b, ")", 1);
        break;
    }
}

static void dump_response(struct sb *b, const struct imap_response *r)
{
    static const char *kinds[] = { "*", "T", "+" };
    static const char *sts[] = { "-", "OK", "NO", "BAD", "PREAUTH", "BYE" };
    sb_printf(b, "@%" PRIu64 " %s", (uint64_t)r->offset, kinds[r->kind]);
    if (r->tag)
        sb_printf(b, " tag=%s", r->tag);
    if (r->status)
        sb_printf(b, " %s", sts[r->status]);
    if (r->code.kind != IMAP_CODE_NONE) {
        sb_printf(b, " [%d %s|%s|%" PRIu64, (int)r->code.kind, r->code.name, r->code.text,
                  r->code.num);
        if (r->code.set1)
            sb_printf(b, "|%s", r->code.set1);
        if (r->code.set2)
            sb_printf(b, "|%s", r->code.set2);
        for (size_t i = 0; i < r->code.nlist; i++) {
            sb_add(b, i ? " " : "|", 1);
            dump_value(b, &r->code.list[i]);
        }
        sb_add(b, "]", 1);
    }
    if (r->has_number)
        sb_printf(b, " #%" PRIu64, r->number);
    if (r->name[0])
        sb_printf(b, " %s", r->name);
    for (size_t i = 0; i < r->nargs; i++) {
        sb_add(b, " ", 1);
        dump_value(b, &r->args[i]);
    }
    if (r->text[0])
        sb_printf(b, " text=%s", r->text);
    sb_add(b, "\n", 1);
}

/* With streaming limits: literals whose size is odd are taken (their bytes come as parts),
 * even ones left to be assembled. */
static bool take_odd_literals = true;

/* Dumps a part so that the dump does not depend on how the input was split: a literal's data
 * is gathered in *data and written when the literal is complete. */
static void dump_part(struct imap_parser *p, struct sb *b, struct sb *data,
                      const struct imap_response *r)
{
    switch (r->part) {
    case IMAP_PART_LITERAL:
        sb_printf(b, "LITERAL %" PRIu64 " #%" PRIu64 " in", r->lit_size, r->number);
        for (size_t i = 0; i < r->nopen; i++) {
            sb_add(b, " ", 1);
            dump_value(b, &r->open[i]);
        }
        sb_add(b, "\n", 1);
        if (take_odd_literals && r->lit_size % 2)
            parser_stream_literal(p);
        break;
    case IMAP_PART_DATA:
        sb_add(data, r->data, r->datalen);
        if (r->lit_left == 0) {
            sb_add(b, "DATA ", 5);
            dump_bytes(b, data->s, data->len);
            sb_add(b, "\n", 1);
            data->len = 0;
        }
        break;
    case IMAP_PART_VALUES:
        sb_printf(b, "VALUES %s", r->name);
        for (size_t i = 0; i < r->nargs; i++) {
            sb_add(b, " ", 1);
            dump_value(b, &r->args[i]);
        }
        sb_add(b, "\n", 1);
        break;
    default:
        break;
    }
}

/* Feeds `in` in pieces of the sizes `split` gives (0 = all at once) and dumps every
 * response; an error is dumped as "ERR <message>". Returns a malloc'd string. */
static char *parse_all(const char *in, size_t len, size_t (*split)(size_t), int *nresp,
                       const struct imap_parser_limits *lim)
{
    struct imap_parser *p = parser_new(lim);
    struct sb b = { 0 }, data = { 0 };
    size_t pos = 0;
    int n = 0;
    int failed = 0;
    sb_add(&b, "", 0);
    sb_add(&data, "", 0);
    while (!failed) {
        struct imap_response *r;
        int rc;
        while ((rc = parser_next(p, &r)) == 1) {
            if (r->part != IMAP_PART_NONE) {
                dump_part(p, &b, &data, r);
                continue;
            }
            if (r->tail)
                sb_add(&b, "TAIL ", 5);
            dump_response(&b, r);
            n++;
        }
        if (rc < 0) {
            sb_printf(&b, "ERR %s\n", parser_error(p));
            failed = 1;
            break;
        }
        if (pos == len)
            break;
        size_t k = split ? split(len - pos) : len - pos;
        if (k > len - pos)
            k = len - pos;
        if (k == 0)
            k = 1;
        CHECK(parser_feed(p, in + pos, k) == 0);
        pos += k;
    }
    if (!failed && parser_offset(p) != len)
        sb_printf(&b, "PARTIAL at %" PRIu64 "\n", parser_offset(p));
    parser_free(p);
    free(data.s);
    if (nresp)
        *nresp = n;
    return b.s;
}

static size_t split_one(size_t left) { (void)left; return 1; }
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static size_t split_random(size_t left) { (void)left; return 1 + rng() % 97; }
static size_t split_bigrandom(size_t left) { (void)left; return 1 + rng() % 5000; }

static char *dump1(const char *in)
{
    return parse_all(in, strlen(in), NULL, NULL, NULL);
}

#define CHECK_DUMP(in, want) do { \
    char *d_ = dump1(in); CHECK_STR(d_, want); free(d_); } while (0)

/* Parses exactly one response from in[0..len); it lives until the next call, and one(NULL, 0)
 * frees the last. */
static struct imap_response *one(const char *in, size_t len)
{
    static struct imap_parser *p;
    parser_free(p);
    p = in ? parser_new(NULL) : NULL;
    struct imap_response *r = NULL;
    if (!p || parser_feed(p, in, len) != 0 || parser_next(p, &r) != 1)
        return NULL;
    return r;
}

/* ---- the RFC 3501 §8 sample session ------------------------------------------ */

static char *rfc_header(void)
{
    /* A 342-byte header like the one in the RFC's example. */
    static char h[343];
    const char *lines =
        "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
        "From: Terry Gray <gray@cac.washington.edu>\r\n"
        "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
        "To: imap@cac.washington.edu\r\n"
        "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
        "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n";
    size_t n = strlen(lines);
    memset(h, 'x', 342);
    memcpy(h, lines, n);
    memcpy(h + 340, "\r\n", 2);
    h[342] = '\0';
    return h;
}

static const char *rfc_session(void)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
        "* OK IMAP4rev1 Service Ready\r\n"
        "a001 OK LOGIN completed\r\n"
        "* 18 EXISTS\r\n"
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        "* 2 RECENT\r\n"
        "* OK [UNSEEN 17] Message 17 is the first unseen message\r\n"
        "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
        "a002 OK [READ-WRITE] SELECT completed\r\n"
        "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
        "RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
        "\"IMAP4rev1 WG mtg summary and minutes\" "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((NIL NIL \"imap\" \"cac.washington.edu\")) "
        "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
        "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
        "\"<B27397-0100000@cac.washington.edu>\") "
        "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
        "a003 OK FETCH completed\r\n"
        "* 12 FETCH (BODY[HEADER] {342}\r\n%s)\r\n"
        "a004 OK FETCH completed\r\n"
        "* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\n"
        "a005 OK +FLAGS completed\r\n"
        "* BYE IMAP4rev1 server logging out\r\n"
        "a006 OK LOGOUT completed\r\n", rfc_header());
    return buf;
}

static void test_rfc3501_session(void)
{
    const char *s = rfc_session();
    int n = 0;
    char *d = parse_all(s, strlen(s), NULL, &n, NULL);
    CHECK_INT(n, 16);
    /* Spot checks by line, exact. */
    CHECK(strstr(d, "@0 * OK OK text=IMAP4rev1 Service Ready\n") == d);
    CHECK(strstr(d, "@30 T tag=a001 OK OK text=LOGIN completed\n"));
    CHECK(strstr(d, " * #18 EXISTS\n"));
    CHECK(strstr(d, " * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\n"));
    CHECK(strstr(d, " * OK [12 UNSEEN|17|17] OK text=Message 17 is the first unseen message\n"));
    CHECK(strstr(d, " * OK [10 UIDVALIDITY|3857529045|3857529045] OK text=UIDs valid\n"));
    CHECK(strstr(d, " T tag=a002 OK [5 READ-WRITE||0] OK text=SELECT completed\n"));
    CHECK(strstr(d, " * #12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
                    "RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
                    "\"IMAP4rev1 WG mtg summary and minutes\" "
                    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
                    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
                    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
                    "((NIL NIL \"imap\" \"cac.washington.edu\")) "
                    "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\") "
                    "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
                    "\"<B27397-0100000@cac.washington.edu>\") "
                    "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\n"));
    CHECK(strstr(d, " * #12 FETCH (BODY[HEADER] \"Date: Wed, 17 Jul 1996"));
    CHECK(strstr(d, " * BYE [") == NULL);
    CHECK(strstr(d, " * BYE BYE text=IMAP4rev1 server logging out\n"));
    CHECK(strstr(d, "ERR") == NULL);
    CHECK(strstr(d, "PARTIAL") == NULL);
    free(d);

    /* The literal's bytes exactly. */
    struct imap_parser *p = parser_new(NULL);
    CHECK(parser_feed(p, s, strlen(s)) == 0);
    struct imap_response *r;
    int k = 0, seen = 0;
    while (parser_next(p, &r) == 1) {
        k++;
        if (k == 11) {
            CHECK(r->has_number && r->number == 12);
            CHECK_STR(r->name, "FETCH");
            CHECK_INT(r->nargs, 1);
            CHECK_INT(r->args[0].type, IMAP_LIST);
            CHECK_INT(r->args[0].len, 2);
            CHECK(imap_value_is(&r->args[0].u.items[0], "body[header]"));
            CHECK_INT(r->args[0].u.items[1].type, IMAP_STRING);
            CHECK_INT(r->args[0].u.items[1].len, 342);
            CHECK(memcmp(r->args[0].u.items[1].u.str, rfc_header(), 342) == 0);
            seen = 1;
        }
    }
    CHECK(seen);
    CHECK_INT(k, 16);
    CHECK_INT(parser_offset(p), strlen(s));
    parser_free(p);
}

/* ---- every response code ------------------------------------------------------- */

static void test_codes(void)
{
    CHECK_DUMP("* OK [ALERT] System shutdown in 10 minutes\r\n",
               "@0 * OK [2 ALERT||0] OK text=System shutdown in 10 minutes\n");
    CHECK_DUMP("A1 NO [PARSE] bad header\r\n", "@0 T tag=A1 NO [3 PARSE||0] NO text=bad header\n");
    CHECK_DUMP("A1 OK [READ-ONLY] EXAMINE done\r\n",
               "@0 T tag=A1 OK [4 READ-ONLY||0] OK text=EXAMINE done\n");
    CHECK_DUMP("A1 NO [TRYCREATE] no such mailbox\r\n",
               "@0 T tag=A1 NO [6 TRYCREATE||0] NO text=no such mailbox\n");
    CHECK_DUMP("* NO [UIDNOTSTICKY] Non-persistent UIDs\r\n",
               "@0 * NO [7 UIDNOTSTICKY||0] NO text=Non-persistent UIDs\n");
    CHECK_DUMP("* OK [NOMODSEQ] Sorry\r\n", "@0 * OK [8 NOMODSEQ||0] OK text=Sorry\n");
    CHECK_DUMP("* OK [CLOSED] Previous mailbox closed\r\n",
               "@0 * OK [9 CLOSED||0] OK text=Previous mailbox closed\n");
    CHECK_DUMP("* OK [UIDNEXT 4392] Predicted next UID\r\n",
               "@0 * OK [11 UIDNEXT|4392|4392] OK text=Predicted next UID\n");
    CHECK_DUMP("* OK [HIGHESTMODSEQ 18446744073709551615] ok\r\n",
               "@0 * OK [13 HIGHESTMODSEQ|18446744073709551615|18446744073709551615] OK text=ok\n");
    CHECK_DUMP("A3 OK [APPENDUID 38505 3955] APPEND completed\r\n",
               "@0 T tag=A3 OK [14 APPENDUID|38505 3955|38505|3955] OK text=APPEND completed\n");
    CHECK_DUMP("A4 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
               "@0 T tag=A4 OK [15 COPYUID|38505 304,319:320 3956:3958|38505|304,319:320|3956:3958]"
               " OK text=Done\n");
    CHECK_DUMP("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Dovecot ready.\r\n",
               "@0 * OK [16 CAPABILITY|IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN|0|IMAP4rev1 LITERAL+"
               " SASL-IR AUTH=PLAIN] OK text=Dovecot ready.\n");
    CHECK_DUMP("* OK [PERMANENTFLAGS (\\Deleted \\Seen $Forwarded \\*)] Limited\r\n",
               "@0 * OK [17 PERMANENTFLAGS|(\\Deleted \\Seen $Forwarded \\*)|0|\\Deleted \\Seen"
               " $Forwarded \\*] OK text=Limited\n");
    CHECK_DUMP("* OK [PERMANENTFLAGS ()] none\r\n",
               "@0 * OK [17 PERMANENTFLAGS|()|0] OK text=none\n");
    CHECK_DUMP("A5 NO [BADCHARSET (UTF-8 \"ISO-8859-1\")] charset\r\n",
               "@0 T tag=A5 NO [18 BADCHARSET|(UTF-8 \"ISO-8859-1\")|0|UTF-8 \"ISO-8859-1\"] NO"
               " text=charset\n");
    CHECK_DUMP("A5 NO [BADCHARSET] charset\r\n", "@0 T tag=A5 NO [18 BADCHARSET||0] NO text=charset\n");
    CHECK_DUMP("* OK [READ-WRITE]\r\n", "@0 * OK [5 READ-WRITE||0] OK\n");
    CHECK_DUMP("* NO [X-WEIRD some (text) here] stuff\r\n",
               "@0 * NO [1 X-WEIRD|some (text) here|0] NO text=stuff\n");
    CHECK_DUMP("* OK [METADATA LONGENTRIES 2000] x\r\n",
               "@0 * OK [1 METADATA|LONGENTRIES 2000|0] OK text=x\n");
    CHECK_DUMP("* OK [uidvalidity 7] lower case\r\n",
               "@0 * OK [10 uidvalidity|7|7] OK text=lower case\n");
    CHECK_DUMP("* OK [UNSEEN 3]\r\n", "@0 * OK [12 UNSEEN|3|3] OK\n");
    CHECK_DUMP("* PREAUTH [CAPABILITY IMAP4rev1] hello\r\n",
               "@0 * PREAUTH [16 CAPABILITY|IMAP4rev1|0|IMAP4rev1] PREAUTH text=hello\n");

    /* The typed fields directly. */
    const char *in = "A4 OK [COPYUID 7 1:3 10:12] Moved\r\n";
    struct imap_response *r = one(in, strlen(in));
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->kind, IMAP_TAGGED);
        CHECK_STR(r->tag, "A4");
        CHECK_INT(r->status, IMAP_ST_OK);
        CHECK_INT(r->code.kind, IMAP_CODE_COPYUID);
        CHECK_STR(r->code.name, "COPYUID");
        CHECK_INT(r->code.num, 7);
        CHECK_STR(r->code.set1, "1:3");
        CHECK_STR(r->code.set2, "10:12");
        CHECK_STR(r->text, "Moved");
    }

    /* Malformed known codes are errors with the offset. */
    CHECK_DUMP("* OK [UIDNEXT abc] x\r\n", "ERR offset 14: expected number in UIDNEXT\n");
    CHECK_DUMP("* OK [UIDNEXT] x\r\n", "ERR offset 13: expected number in UIDNEXT\n");
    CHECK_DUMP("* OK [COPYUID 1 2] x\r\n", "ERR offset 17: expected SP in COPYUID\n");
    CHECK_DUMP("* OK [ALERT x\r\n", "ERR offset 13: expected ']' to end the response code\n");
    CHECK_DUMP("* OK [] x\r\n", "ERR offset 6: expected response code name after '['\n");
    CHECK_DUMP("* OK [UIDNEXT 99999999999999999999] x\r\n",
               "ERR offset 14: number too large (over 2^64-1)\n");
    CHECK_DUMP("* OK [PERMANENTFLAGS (\\Seen] x\r\n",
               "ERR offset 27: expected ')' or atom in PERMANENTFLAGS\n");
}

/* ---- status, continuation and data responses ---------------------------------- */

static void test_responses(void)
{
    CHECK_DUMP("+ Ready for literal data\r\n", "@0 + text=Ready for literal data\n");
    CHECK_DUMP("+\r\n", "@0 +\n");
    CHECK_DUMP("+ \r\n", "@0 +\n");
    CHECK_DUMP("+ dGVzdA==\r\n", "@0 + text=dGVzdA==\n");
    CHECK_DUMP("a1 OK\r\n", "@0 T tag=a1 OK OK\n");
    CHECK_DUMP("a1 OK \r\n", "@0 T tag=a1 OK OK\n");
    CHECK_DUMP("a1 ok done\r\n", "@0 T tag=a1 OK OK text=done\n");
    CHECK_DUMP("a1 BAD [ALERT]\r\n", "@0 T tag=a1 BAD [2 ALERT||0] BAD\n");
    CHECK_DUMP("* OK text with [brackets] and {5}\r\n",
               "@0 * OK OK text=text with [brackets] and {5}\n");
    CHECK_DUMP("* BYE\r\n", "@0 * BYE BYE\n");
    CHECK_DUMP("* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
               "@0 * CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\n");
    CHECK_DUMP("* 23 EXISTS\r\n* 3 RECENT\r\n* 44 EXPUNGE\r\n",
               "@0 * #23 EXISTS\n@13 * #3 RECENT\n@25 * #44 EXPUNGE\n");
    CHECK_DUMP("* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n",
               "@0 * LIST (\\Noselect) \"/\" ~/Mail/foo\n");
    CHECK_DUMP("* LIST () NIL {5}\r\nfo\"o)\r\n", "@0 * LIST () NIL \"fo\\\"o)\"\n");
    CHECK_DUMP("* LSUB (\\HasChildren) \".\" \"#news.comp.mail\"\r\n",
               "@0 * LSUB (\\HasChildren) \".\" \"#news.comp.mail\"\n");
    CHECK_DUMP("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
               "@0 * STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\n");
    CHECK_DUMP("* SEARCH 2 84 882\r\n", "@0 * SEARCH 2 84 882\n");
    CHECK_DUMP("* SEARCH\r\n", "@0 * SEARCH\n");
    CHECK_DUMP("* SEARCH \r\n", "@0 * SEARCH\n");
    CHECK_DUMP("* SEARCH 2 5 (MODSEQ 917162500)\r\n", "@0 * SEARCH 2 5 (MODSEQ 917162500)\n");
    CHECK_DUMP("* ESEARCH (TAG \"A1\") UID ALL 1:3,5 COUNT 4 MIN 1 MAX 5\r\n",
               "@0 * ESEARCH (TAG \"A1\") UID ALL 1:3,5 COUNT 4 MIN 1 MAX 5\n");
    CHECK_DUMP("* VANISHED (EARLIER) 1:5\r\n", "@0 * VANISHED (EARLIER) 1:5\n");
    CHECK_DUMP("* ENABLED CONDSTORE QRESYNC\r\n", "@0 * ENABLED CONDSTORE QRESYNC\n");
    CHECK_DUMP("* ID (\"name\" \"Dovecot\" \"version\" NIL)\r\n",
               "@0 * ID (\"name\" \"Dovecot\" \"version\" NIL)\n");
    CHECK_DUMP("* ID NIL\r\n", "@0 * ID NIL\n");
    CHECK_DUMP("* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\" \"X-P\" (\"a\" \"b\")))\r\n",
               "@0 * NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\" \"X-P\" (\"a\" \"b\")))\n");
    CHECK_DUMP("* XUNKNOWN a (b c) \"d\" 12\r\n", "@0 * XUNKNOWN a (b c) \"d\" 12\n");
    CHECK_DUMP("* 5 fetch (uid 7)\r\n", "@0 * #5 FETCH (uid 7)\n");
    CHECK_DUMP("* FLAGS (\\Answered $MDNSent)  \r\n", "@0 * FLAGS (\\Answered $MDNSent)\n");
    CHECK_DUMP("* 1 FETCH (FLAGS ( \\Seen  ))\r\n", "@0 * #1 FETCH (FLAGS (\\Seen))\n");

    const char *in = "* 3 EXISTS\r\n";
    struct imap_response *r = one(in, strlen(in));
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->kind, IMAP_UNTAGGED);
        CHECK(r->tag == NULL);
        CHECK_INT(r->status, IMAP_ST_NONE);
        CHECK_INT(r->code.kind, IMAP_CODE_NONE);
        CHECK(r->has_number);
        CHECK_INT(r->number, 3);
        CHECK_STR(r->name, "EXISTS");
        CHECK_STR(r->text, "");
        CHECK_INT(r->nargs, 0);
    }

    in = "+ go ahead\r\n";
    r = one(in, strlen(in));
    CHECK(r && r->kind == IMAP_CONTINUE);
    if (r)
        CHECK_STR(r->text, "go ahead");
}

/* ---- FETCH item names with sections -------------------------------------------- */

static void test_sections(void)
{
    CHECK_DUMP("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)]<0> {3}\r\nabc)\r\n",
               "@0 * #1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)]<0> \"abc\")\n");
    CHECK_DUMP("* 1 FETCH (BODY[] \"\")\r\n", "@0 * #1 FETCH (BODY[] \"\")\n");
    CHECK_DUMP("* 1 FETCH (BODY[1.MIME] NIL BINARY.SIZE[2] 40)\r\n",
               "@0 * #1 FETCH (BODY[1.MIME] NIL BINARY.SIZE[2] 40)\n");
    CHECK_DUMP("* 1 FETCH (BODY[HEADER.FIELDS  ( \"Subject\"  \"X-A]\" )] NIL)\r\n",
               "@0 * #1 FETCH (BODY[HEADER.FIELDS (\"Subject\" \"X-A]\")] NIL)\n");
    CHECK_DUMP("* 1 FETCH (BODY[HEADER.FIELDS.NOT (A B)]<100> NIL)\r\n",
               "@0 * #1 FETCH (BODY[HEADER.FIELDS.NOT (A B)]<100> NIL)\n");
    CHECK_DUMP("* 1 FETCH (BODY[1 NIL)\r\n", "ERR offset 15: expected ']' to end the section\n");
    CHECK_DUMP("* LIST () \"/\" foo[bar]baz\r\n", "@0 * LIST () \"/\" foo[bar]baz\n");

    /* literal8 keeps NULs. */
    const char in[] = "* 1 FETCH (BINARY[1] ~{4}\r\na\0b\0)\r\n";
    struct imap_response *r = one(in, sizeof in - 1);
    CHECK(r != NULL);
    if (r) {
        const struct imap_value *v = &r->args[0].u.items[1];
        CHECK_INT(v->type, IMAP_STRING);
        CHECK_INT(v->len, 4);
        CHECK(memcmp(v->u.str, "a\0b\0", 5) == 0);
        CHECK_STR(r->args[0].u.items[0].u.str, "BINARY[1]");
    }
}

/* ---- atoms, numbers, strings ------------------------------------------------------ */

static void test_values(void)
{
    CHECK_DUMP("* X 9223372036854775808 18446744073709551615 0 007\r\n",
               "@0 * X 9223372036854775808 18446744073709551615 0 7\n");
    CHECK_DUMP("* X 18446744073709551616\r\n", "ERR offset 4: number too large (over 2^64-1)\n");
    CHECK_DUMP("* X 99999999999999999999999\r\n", "ERR offset 4: number too large (over 2^64-1)\n");
    CHECK_DUMP("* 18446744073709551616 EXISTS\r\n", "ERR offset 2: number too large (over 2^64-1)\n");
    CHECK_DUMP("* X 12a 1:3 -5\r\n", "@0 * X 12a 1:3 -5\n");
    CHECK_DUMP("* X NIL nil Nil NILL \"NIL\"\r\n", "@0 * X NIL NIL NIL NILL \"NIL\"\n");
    CHECK_DUMP("* X \"a\\\"b\\\\c\" \"\" \"\\\\\"\r\n", "@0 * X \"a\\\"b\\\\c\" \"\" \"\\\\\"\n");
    CHECK_DUMP("* X (((a)) () (b (c)))\r\n", "@0 * X (((a)) () (b (c)))\n");
    CHECK_DUMP("* X (a)(b)\"c\"\"d\"\r\n", "@0 * X (a) (b) \"c\" \"d\"\n");
    CHECK_DUMP("* X \"caf\xc3\xa9\"\r\n", "@0 * X \"caf\\xc3\\xa9\"\n");

    const char *in = "* X 18446744073709551615 9223372036854775808 \"q\\\"\\\\\"\r\n";
    struct imap_response *r = one(in, strlen(in));
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->nargs, 3);
        CHECK(r->args[0].type == IMAP_NUMBER && r->args[0].u.num == UINT64_MAX);
        CHECK(r->args[1].type == IMAP_NUMBER && r->args[1].u.num == (uint64_t)1 << 63);
        CHECK_INT(r->args[2].type, IMAP_STRING);
        CHECK_INT(r->args[2].len, 3);
        CHECK_STR(r->args[2].u.str, "q\"\\");
        CHECK_STR(imap_value_str(&r->args[2]), "q\"\\");
        CHECK(imap_value_str(&r->args[0]) == NULL);
    }

    in = "* X NIL Foo (a)\r\n";
    r = one(in, strlen(in));
    CHECK(r != NULL);
    if (r) {
        CHECK_STR(imap_value_str(&r->args[0]), "");
        CHECK(imap_value_is(&r->args[1], "FOO"));
        CHECK(!imap_value_is(&r->args[1], "FO"));
        CHECK(!imap_value_is(&r->args[0], "NIL"));
        CHECK(imap_value_str(&r->args[2]) == NULL);
    }
}

/* ---- literals ------------------------------------------------------------------------- */

static void test_literals(void)
{
    CHECK_DUMP("* X {0}\r\n\r\n", "@0 * X \"\"\n");
    CHECK_DUMP("* X {3+}\r\nabc {2}\r\nde\r\n", "@0 * X \"abc\" \"de\"\n");
    CHECK_DUMP("* X ({2}\r\n\r\n)\r\n", "@0 * X (\"\\x0d\\x0a\")\n");
    CHECK_DUMP("* X {2}\r\n\r\n{1}\r\n\n\r\n", "@0 * X \"\\x0d\\x0a\" \"\\x0a\"\n");
    CHECK_DUMP("* X {3} \r\nabc\r\n", "ERR offset 7: expected CRLF after literal size\n");
    CHECK_DUMP("* X {3x}\r\nabc\r\n", "ERR offset 6: expected '}' after literal size\n");
    CHECK_DUMP("* X {}\r\n", "ERR offset 5: expected literal size after '{'\n");
    CHECK_DUMP("* X {99999999999999999999}\r\n", "ERR offset 5: literal size too large\n");

    /* 1 MiB literal, every byte value, fed in odd pieces. */
    size_t n = 1 << 20;
    char head[] = "* 7 FETCH (BODY[] {1048576}\r\n";
    size_t hl = strlen(head);
    char *in = malloc(hl + n + 32);
    memcpy(in, head, hl);
    for (size_t i = 0; i < n; i++)
        in[hl + i] = (char)(i * 7 + (i >> 9));
    memcpy(in + hl + n, " UID 9)\r\n", 9);
    size_t len = hl + n + 9;
    struct imap_parser *p = parser_new(NULL);
    struct imap_response *r = NULL;
    int rc = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        size_t k = 1 + rng() % 70000;
        if (k > len - pos)
            k = len - pos;
        CHECK(parser_feed(p, in + pos, k) == 0);
        pos += k;
        rc = parser_next(p, &r);
        if (pos < len)
            CHECK_INT(rc, 0);
    }
    CHECK_INT(rc, 1);
    if (rc == 1) {
        const struct imap_value *l = &r->args[0];
        CHECK_INT(l->len, 4);
        CHECK_INT(l->u.items[1].len, n);
        CHECK(memcmp(l->u.items[1].u.str, in + hl, n) == 0);
        CHECK_INT(l->u.items[1].u.str[n], 0);
        CHECK_INT(l->u.items[3].u.num, 9);
    }
    CHECK_INT(parser_offset(p), len);
    parser_free(p);
    free(in);

    /* A literal over the limit is refused before its bytes arrive. */
    struct imap_parser_limits lim = { .max_literal = 100 };
    char *d = parse_all("* X {101}\r\n", 11, NULL, NULL, &lim);
    CHECK_STR(d, "ERR offset 4: literal of 101 bytes exceeds the limit of 100\n");
    free(d);
    d = parse_all("* X {100}\r\n", 11, NULL, NULL, &lim);
    CHECK_STR(d, "");
    free(d);
    struct imap_parser_limits lim2 = { .max_response = 50 };
    d = parse_all("* X {45}\r\n", 10, NULL, NULL, &lim2);
    CHECK_STR(d, "ERR offset 4: response larger than the limit of 50 bytes\n");
    free(d);
    const char *three = "* X {10}\r\n0123456789 {10}\r\n0123456789 {10}\r\n";
    d = parse_all(three, strlen(three), NULL, NULL, &lim2);
    CHECK_STR(d, "ERR offset 38: response larger than the limit of 50 bytes\n");
    free(d);
}

/* ---- limits and malformed input --------------------------------------------------- */

static void test_limits(void)
{
    struct imap_parser_limits lim = { .max_depth = 3 };
    char *d = parse_all("* X (((a)))\r\n", 13, NULL, NULL, &lim);
    CHECK_STR(d, "@0 * X (((a)))\n");
    free(d);
    d = parse_all("* X ((((a))))\r\n", 15, NULL, NULL, &lim);
    CHECK_STR(d, "ERR offset 7: lists nested deeper than 3\n");
    free(d);

    /* Default depth 64: 64 is fine, 65 is not. */
    char buf[300];
    memcpy(buf, "* X ", 4);
    memset(buf + 4, '(', 65);
    memset(buf + 69, ')', 65);
    memcpy(buf + 134, "\r\n", 3);
    d = dump1(buf);
    CHECK_STR(d, "ERR offset 68: lists nested deeper than 64\n");
    free(d);
    memcpy(buf + 4 + 64, ")", 1);
    memcpy(buf + 4 + 64 + 64, "\r\n", 3);
    d = dump1(buf);
    CHECK(strncmp(d, "@0 * X ((((", 11) == 0);
    free(d);

    struct imap_parser_limits ll = { .max_line = 20 };
    d = parse_all("* OK 0123456789012\r\n", 20, NULL, NULL, &ll);
    CHECK_STR(d, "@0 * OK OK text=0123456789012\n");
    free(d);
    d = parse_all("* OK 01234567890123\r\n", 21, NULL, NULL, &ll);
    CHECK_STR(d, "ERR offset 0: line longer than 20 bytes\n");
    free(d);
    /* Without any LF in sight the limit still holds (bounded memory). */
    char *big = malloc(100000);
    memset(big, 'a', 100000);
    big[0] = '*';
    big[1] = ' ';
    d = parse_all(big, 100000, split_random, NULL, &ll);
    CHECK_STR(d, "ERR offset 0: line longer than 20 bytes\n");
    free(d);
    /* The second line of a response (after a literal) counts from its own start. */
    d = parse_all("* X {3}\r\nabc 01234567890123456789\r\n", 35, NULL, NULL, &ll);
    CHECK_STR(d, "ERR offset 12: line longer than 20 bytes\n");
    free(d);
    free(big);
}

static void test_malformed(void)
{
    static const struct { const char *in, *err; } cases[] = {
        { "\r\n", "offset 0: empty response line" },
        { "* OK hi\n", "offset 7: expected CRLF, got a bare LF" },
        { "\n", "offset 0: expected CRLF, got a bare LF" },
        { "* OK a\rb\r\n", "offset 6: CR inside a line" },
        { "*OK\r\n", "offset 1: expected SP after '*'" },
        { "A1\r\n", "offset 2: expected SP after the tag" },
        { "A1 FOO bar\r\n", "offset 3: expected OK, NO or BAD after the tag" },
        { "A1 BYE bar\r\n", "offset 3: expected OK, NO or BAD after the tag" },
        { "A1 OKAY\r\n", "offset 3: expected OK, NO or BAD after the tag" },
        { "A1 OK[ALERT] x\r\n", "offset 5: expected SP after the response keyword" },
        { "(x) OK\r\n", "offset 0: expected '*', '+' or a tag" },
        { "+x\r\n", "offset 1: expected SP after '+'" },
        { "* \r\n", "offset 2: expected response keyword" },
        { "* 12\r\n", "offset 4: expected SP after the message number" },
        { "* 12 (\r\n", "offset 5: expected response keyword" },
        { "* 1 FETCH (UID 1\r\n", "offset 16: expected ')' or value in list" },
        { "* 1 FETCH (UID 1))\r\n", "offset 17: unexpected ')'" },
        { "* 1 FETCH (UID \x01)\r\n", "offset 15: expected ')' or value in list" },
        { "* X \x7f\r\n", "offset 4: expected value" },
        { "* X \"abc\r\n", "offset 8: expected '\"' to end the quoted string at offset 4" },
        { "* X \"ab\\\"\r\n", "offset 9: expected '\"' to end the quoted string at offset 4" },
        { "* X \"ab\\\r\n", "offset 8: expected '\"' to end the quoted string at offset 4" },
        { "* X {3}x\r\n", "offset 7: expected CRLF after literal size" },
        { "* OK [ALERT]\r\n* X )\r\n", "offset 18: unexpected ')'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = dump1(cases[i].in);
        char want[200];
        snprintf(want, sizeof want, "ERR %s\n", cases[i].err);
        const char *errl = strstr(d, "ERR ");
        CHECK_STR(errl ? errl : d, want);
        /* The same error, at the same offset, for a byte-at-a-time feed. */
        char *d1 = parse_all(cases[i].in, strlen(cases[i].in), split_one, NULL, NULL);
        CHECK_STR(d1, d);
        free(d1);
        free(d);
    }
}

static void test_stays_failed(void)
{
    struct imap_parser *p = parser_new(NULL);
    struct imap_response *r;
    CHECK(parser_feed(p, "* X )\r\n* OK fine\r\n", 18) == 0);
    CHECK_INT(parser_next(p, &r), -1);
    CHECK_STR(parser_error(p), "offset 4: unexpected ')'");
    CHECK_INT(parser_next(p, &r), -1);
    CHECK(parser_feed(p, "* OK more\r\n", 11) == 0);
    CHECK_INT(parser_next(p, &r), -1);
    CHECK_STR(parser_error(p), "offset 4: unexpected ')'");
    parser_free(p);
}

/* ---- splits -------------------------------------------------------------------------- */

static char *transcript(size_t *len)
{
    struct sb b = { 0 };
    const char *s = rfc_session();
    sb_add(&b, s, strlen(s));
    /* `more` holds a NUL, so add it by its real size. */
    static const char more_bytes[] =
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE IDLE] ready\r\n"
        "* 1 FETCH (UID 5 BODY[HEADER.FIELDS (SUBJECT FROM)]<0> {12}\r\nSubject: hi\n"
        " BODY[TEXT] ~{3}\r\nx\0y MODSEQ (18446744073709551615))\r\n"
        "* LIST (\\HasNoChildren) \"/\" {11}\r\nmailbox \"x\"\r\n"
        "* ESEARCH (TAG \"A1\") UID ALL 1:3,5 COUNT 4\r\n"
        "* VANISHED (EARLIER) 1:5\r\n"
        "A9 OK [COPYUID 1 2:4 5:7] done\r\n"
        "+ \r\n"
        "* STATUS \"a \\\"b\\\"\" (MESSAGES 1 UNSEEN 0)\r\n"
        "* 2 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)(\"TEXT\" \"HTML\" "
        "NIL NIL NIL \"7BIT\" 2 1) \"ALTERNATIVE\"))\r\n"
        "* X {0}\r\n {0}\r\n\r\n";
    sb_add(&b, more_bytes, sizeof more_bytes - 1);
    *len = b.len;
    return b.s;
}

static void test_splits(void)
{
    size_t len;
    char *t = transcript(&len);
    int n0 = 0, n1 = 0;
    char *whole = parse_all(t, len, NULL, &n0, NULL);
    CHECK_INT(n0, 26);
    CHECK(strstr(whole, "ERR") == NULL);
    CHECK(strstr(whole, "PARTIAL") == NULL);
    CHECK(strstr(whole, " * #1 FETCH (UID 5 BODY[HEADER.FIELDS (SUBJECT FROM)]<0> \"Subject: hi\\x0a\""
                        " BODY[TEXT] \"x\\x00y\" MODSEQ (18446744073709551615))\n"));
    CHECK(strstr(whole, " * LIST (\\HasNoChildren) \"/\" \"mailbox \\\"x\\\"\"\n"));
    CHECK(strstr(whole, " * STATUS \"a \\\"b\\\"\" (MESSAGES 1 UNSEEN 0)\n"));
    CHECK(strstr(whole, " * X \"\" \"\"\n"));

    char *one_by_one = parse_all(t, len, split_one, &n1, NULL);
    CHECK_INT(n1, n0);
    CHECK_STR(one_by_one, whole);
    free(one_by_one);
    for (int i = 0; i < 200; i++) {
        char *d = parse_all(t, len, i % 2 ? split_random : split_bigrandom, NULL, NULL);
        CHECK_STR(d, whole);
        free(d);
    }
    free(whole);
    free(t);
}

/* The zero-copy input path gives the same result. */
static void test_space_commit(void)
{
    size_t len;
    char *t = transcript(&len);
    char *whole = parse_all(t, len, NULL, NULL, NULL);
    struct imap_parser *p = parser_new(NULL);
    struct sb b = { 0 };
    sb_add(&b, "", 0);
    size_t pos = 0;
    struct imap_response *r;
    while (pos < len) {
        size_t avail;
        size_t want = 1 + rng() % 300;
        char *sp = parser_space(p, want, &avail);
        CHECK(sp != NULL && avail >= want);
        if (!sp)
            break;
        size_t k = want < len - pos ? want : len - pos;
        memcpy(sp, t + pos, k);
        parser_commit(p, k);
        pos += k;
        while (parser_next(p, &r) == 1)
            dump_response(&b, r);
    }
    CHECK_STR(b.s, whole);
    free(b.s);
    free(whole);
    free(t);
    parser_free(p);
}

/* Many responses through one parser: memory stays flat (ASan catches leaks). */
static void test_long_run(void)
{
    struct imap_parser *p = parser_new(NULL);
    char line[512];
    struct imap_response *r;
    uint64_t total = 0, sum = 0;
    int count = 0;
    for (int i = 1; i <= 100000; i++) {
        int n = snprintf(line, sizeof line,
                         "* %d FETCH (UID %d FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n"
                         "Subject: %08d\r\n\r\n)\r\n%s",
                         i, i * 2, 21, i, i % 100 == 0 ? "A1 OK done\r\n" : "");
        CHECK(parser_feed(p, line, (size_t)n) == 0);
        total += (uint64_t)n;
        while (parser_next(p, &r) == 1) {
            count++;
            if (r->kind == IMAP_UNTAGGED)
                sum += r->args[0].u.items[1].u.num;
        }
    }
    CHECK_INT(parser_next(p, &r), 0);
    CHECK_INT(count, 101000);
    CHECK_INT(sum, (uint64_t)100000 * 100001);
    CHECK_INT(parser_offset(p), total);
    parser_free(p);
}

/* ---- streaming: big literals and long lines of numbers --------------------------- */

/* Every split of in gives the dump of the whole. Returns the dump (malloc'd). */
static char *dump_any_split(const char *in, size_t len, const struct imap_parser_limits *lim)
{
    char *whole = parse_all(in, len, NULL, NULL, lim);
    char *d = parse_all(in, len, split_one, NULL, lim);
    CHECK_STR(d, whole);
    free(d);
    for (int i = 0; i < 20; i++) {
        d = parse_all(in, len, i % 2 ? split_random : split_bigrandom, NULL, lim);
        CHECK_STR(d, whole);
        free(d);
    }
    return whole;
}

static void test_stream_literals(void)
{
    struct imap_parser_limits lim = { .stream_literal = 5, .max_literal = 6 };
    static const char in[] =
        "* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {11}\r\nhello world INTERNALDATE \"x\")\r\n"
        "* 2 FETCH (UID 6 BODY[] {4}\r\nabcd BODY[1] {6}\r\nabcdef)\r\n"
        "* 3 FETCH (BODY[] ~{7}\r\nb\0nary\n)\r\n"
        "A1 OK done\r\n";
    char *d = dump_any_split(in, sizeof in - 1, &lim);
    /* 11 and 7 bytes: streamed past max_literal; 6: offered, assembled; 4: under the threshold */
    CHECK_STR(d,
        "LITERAL 11 #1 in UID 5 FLAGS (\\Seen) BODY[] <streamed 11>\n"
        "DATA \"hello world\"\n"
        "@0 * #1 FETCH (UID 5 FLAGS (\\Seen) BODY[] <streamed 11> INTERNALDATE \"x\")\n"
        "LITERAL 6 #2 in UID 6 BODY[] \"abcd\" BODY[1] <streamed 6>\n"
        "@75 * #2 FETCH (UID 6 BODY[] \"abcd\" BODY[1] \"abcdef\")\n"
        "LITERAL 7 #3 in BODY[] <streamed 7>\n"
        "DATA \"b\\x00nary\\x0a\"\n"
        "@131 * #3 FETCH (BODY[] <streamed 7>)\n"
        "@165 T tag=A1 OK OK text=done\n");
    free(d);
    /* Left to be assembled, a literal over max_literal still fails. */
    take_odd_literals = false;
    d = dump1("");
    free(d);
    d = parse_all(in, sizeof in - 1, NULL, NULL, &lim);
    CHECK(strstr(d, "ERR offset 38: literal of 11 bytes exceeds the limit of 6\n"));
    free(d);
    take_odd_literals = true;
    /* A streamed literal does not count towards max_response. */
    struct imap_parser_limits small = { .stream_literal = 5, .max_response = 60 };
    static const char big[] = "* 1 FETCH (BODY[] {101}\r\n"
        "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
        " UID 1)\r\n";
    d = dump_any_split(big, sizeof big - 1, &small);
    CHECK(strstr(d, "@0 * #1 FETCH (BODY[] <streamed 101> UID 1)\n"));
    CHECK(!strstr(d, "ERR"));
    free(d);
}

/* Appends "* SEARCH 1 3 5 ... (MODSEQ 9)" with n odd numbers. */
static void search_line(struct sb *b, int n, const char *prefix, char sep, const char *suffix)
{
    sb_add(b, prefix, strlen(prefix));
    for (int i = 0; i < n; i++) {
        if (i)
            sb_add(b, &sep, 1);
        sb_printf(b, "%d", 2 * i + 1);
    }
    sb_add(b, suffix, strlen(suffix));
}

static void test_stream_lists(void)
{
    struct imap_parser_limits lim = { .stream_list = 64, .max_line = 100 };
    struct sb in = { 0 };
    search_line(&in, 3000, "* SEARCH ", ' ', " (MODSEQ 917)\r\n");
    search_line(&in, 3000, "* ESEARCH (TAG \"A 2\") UID ALL ", ',', " COUNT 3000\r\n");
    sb_add(&in, "* THREAD ", 9);
    for (int i = 0; i < 300; i++)
        sb_printf(&in, "(%d (%d)(%d %d))", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4);
    sb_add(&in, "\r\n* SORT 3 2 1\r\n* SEARCH\r\nA2 OK done\r\n", 38);
    char *d = dump_any_split(in.s, in.len, &lim);
    CHECK(!strstr(d, "ERR"));
    /* The pieces put back together give every number once, in order. */
    const char *q;
    int next = 1, searches = 0, parts = 0;
    for (const char *line = d; *line; line = strchr(line, '\n') + 1) {
        if (strncmp(line, "VALUES SEARCH ", 14) == 0)
            q = line + 14;
        else if (strncmp(line, "TAIL @0 * SEARCH ", 17) == 0)
            q = line + 17;
        else
            continue;
        for (;;) {
            while (*q == ' ')
                q++;
            if (*q < '0' || *q > '9')
                break;
            int v = atoi(q);
            CHECK_INT(v, next);
            next = v + 2;
            while (*q >= '0' && *q <= '9')
                q++;
        }
        searches++;
    }
    CHECK_INT(next, 6001);
    CHECK(searches > 10);
    CHECK(strstr(d, "TAIL @0 * SEARCH ") != NULL);
    CHECK(strstr(d, " (MODSEQ 917)\n"));
    /* ESEARCH: the set comes in pieces, each a set text of its own. */
    CHECK(strstr(d, "VALUES ESEARCH (TAG \"A 2\") UID ALL 1,3,5,") != NULL);
    for (q = d; (q = strstr(q, "VALUES ESEARCH")) != NULL; q++)
        parts++;
    CHECK(parts > 10);
    CHECK(strstr(d, " COUNT 3000\n"));
    /* THREAD: whole threads per part. */
    CHECK(strstr(d, "VALUES THREAD (1 (2) (3 4)) (5 (6) (7 8))"));
    CHECK(strstr(d, " * SORT 3 2 1\n"));
    CHECK(strstr(d, " * SEARCH\n"));
    CHECK(strstr(d, "T tag=A2 OK OK text=done\n"));
    free(d);
    free(in.s);

    /* The line limit still holds for every other response, and for a literal in a long line. */
    static const char list[] = "* LIST () \"/\" "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    d = parse_all(list, sizeof list - 1, NULL, NULL, &lim);
    CHECK(strstr(d, "ERR offset 0: line longer than 100 bytes\n"));
    free(d);
    struct sb lit = { 0 };
    search_line(&lit, 40, "* SEARCH ", ' ', " {3}\r\nabc\r\n");
    d = parse_all(lit.s, lit.len, NULL, NULL, &lim);
    CHECK(strstr(d, "ERR offset 124: unexpected literal in a long SEARCH line\n"));
    free(d);
    free(lit.s);
    /* A line limit under the streaming length: a list line is not refused before it can be
     * known to be one, whatever the split (found by the fuzzer). */
    struct imap_parser_limits tight = { .stream_list = 64, .max_line = 48 };
    struct sb mid = { 0 };
    search_line(&mid, 20, "* search ", ' ', "\r\n");
    search_line(&mid, 10, "* SORT ", ' ', "\r\n");
    static const char longlist[] = "* LIST () \"/\" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    sb_add(&mid, longlist, sizeof longlist - 1);
    d = dump_any_split(mid.s, mid.len, &tight);
    CHECK(strstr(d, "TAIL @0 * SEARCH 1 3 5") || strstr(d, "@0 * SEARCH 1 3 5"));
    CHECK(strstr(d, "@65 * SORT 1 3 5 7 9 11 13 15 17 19\n"));
    CHECK(strstr(d, "ERR offset 98: line longer than 48 bytes\n"));
    free(d);
    free(mid.s);
    /* A token without an end in sight. */
    struct sb tok = { 0 };
    sb_add(&tok, "* SEARCH ", 9);
    for (int i = 0; i < 400; i++)
        sb_add(&tok, "7", 1);
    d = parse_all(tok.s, tok.len, NULL, NULL, &lim);
    CHECK(strstr(d, "ERR offset 256: token longer than 256 bytes in a SEARCH line\n"));
    free(d);
    free(tok.s);
}

int main(void)
{
    RUN(test_rfc3501_session);
    RUN(test_codes);
    RUN(test_responses);
    RUN(test_sections);
    RUN(test_values);
    RUN(test_literals);
    RUN(test_limits);
    RUN(test_malformed);
    RUN(test_stays_failed);
    RUN(test_splits);
    RUN(test_space_commit);
    RUN(test_long_run);
    RUN(test_stream_literals);
    RUN(test_stream_lists);
    one(NULL, 0);
    return CHECK_DONE();
}
