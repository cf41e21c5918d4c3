/* test_decode.c — decoders over parsed responses: FETCH items and lookup, ENVELOPE with groups,
 * BODYSTRUCTURE (RFC 3501 §7.4.2 and nested message/rfc822 with extensions), SEARCH, ESEARCH,
 * LIST, STATUS, VANISHED, and errors for wrong shapes. */
#include "decode.h"

#include "check.h"

#include <stdlib.h>

static struct imap_parser *P;
static struct arena A;
static char err[256];

/* Parses one response (the previous one dies). */
static struct imap_response *parse(const char *s)
{
    parser_free(P);
    P = parser_new(NULL);
    arena_reset(&A);
    err[0] = '\0';
    struct imap_response *r = NULL;
    if (parser_feed(P, s, strlen(s)) < 0 || parser_next(P, &r) != 1) {
        fprintf(stderr, "parse failed: %s\n", parser_error(P));
        return NULL;
    }
    return r;
}

/* The value of the FETCH item `name` in the first (only) FETCH list. */
static const struct imap_value *fetch_value(struct imap_response *r, const char *name)
{
    const struct imap_value *l = &r->args[0];
    for (size_t i = 0; i + 1 < l->len; i += 2)
        if (imap_value_is(&l->u.items[i], name))
            return &l->u.items[i + 1];
    return NULL;
}

#define ENV_RFC "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" " \
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) " \
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) " \
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) " \
    "((NIL NIL \"imap\" \"cac.washington.edu\")) " \
    "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) " \
    "NIL NIL \"<B27397-0100000@cac.washington.edu>\")"

static void test_fetch(void)
{
    struct imap_response *r = parse(
        "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
        "RFC822.SIZE 4286 ENVELOPE " ENV_RFC " "
        "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92) "
        "UID 4827313 MODSEQ (12121231000) "
        "BODY[HEADER.FIELDS (SUBJECT FROM)]<0> {11}\r\nSubject: \r\n"
        " BINARY[1.2] ~{2}\r\nab BODY[] NIL body[1.mime] \"x\")\r\n");
    CHECK(r != NULL);
    if (!r)
        return;
    struct imap_fetch f;
    CHECK_INT(decode_fetch(r, &A, &f, err, sizeof err), 0);
    CHECK_INT(f.seq, 12);
    CHECK_INT(f.uid, 4827313);
    CHECK_INT(f.modseq, 12121231000);
    CHECK_INT(f.size, 4286);
    CHECK_STR(f.internaldate, "17-Jul-1996 02:44:25 -0700");
    CHECK(f.flags && f.flags->len == 1 && imap_value_is(&f.flags->u.items[0], "\\SEEN"));
    CHECK_INT(f.nitems, 11);
    CHECK_STR(f.items[0].name, "FLAGS");
    CHECK(f.items[0].section == NULL);
    CHECK_INT(f.items[0].origin, -1);
    CHECK_STR(f.items[7].name, "BODY");
    CHECK_STR(f.items[7].section, "HEADER.FIELDS (SUBJECT FROM)");
    CHECK_INT(f.items[7].origin, 0);
    CHECK_STR(f.items[8].name, "BINARY");
    CHECK_STR(f.items[8].section, "1.2");
    CHECK_STR(f.items[9].section, "");
    CHECK_STR(f.items[10].name, "BODY");
    CHECK_STR(f.items[10].section, "1.mime");

    const struct imap_fetch_item *it = fetch_item(&f, "body", "header.fields (subject from)");
    CHECK(it == &f.items[7]);
    CHECK(it && it->value->len == 11 && !memcmp(it->value->u.str, "Subject: \r\n", 12));
    CHECK(fetch_item(&f, "BODY", "HEADER.FIELDS ( \"Subject\"  \"From\" )") == &f.items[7]);
    CHECK(fetch_item(&f, "BODY", "HEADER.FIELDS (SUBJECT)") == NULL);
    CHECK(fetch_item(&f, "BODY", "HEADER.FIELDS (SUBJECT FROMX)") == NULL);
    CHECK(fetch_item(&f, "BODY", NULL) == &f.items[4]);
    CHECK(fetch_item(&f, "BODY", "") == &f.items[9]);
    CHECK(fetch_item(&f, "BODY", "1.MIME") == &f.items[10]);
    CHECK(fetch_item(&f, "BINARY", "1.2") == &f.items[8]);
    CHECK(fetch_item(&f, "uid", NULL) == &f.items[5]);
    CHECK(fetch_item(&f, "RFC822", NULL) == NULL);
    CHECK(fetch_item(&f, "UID", "1") == NULL);

    struct imap_envelope e;
    CHECK_INT(decode_envelope(fetch_item(&f, "ENVELOPE", NULL)->value, &A, &e, err, sizeof err), 0);
    CHECK_STR(e.date, "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
    CHECK_STR(e.subject, "IMAP4rev1 WG mtg summary and minutes");
    CHECK_INT(e.nfrom, 1);
    CHECK_STR(e.from[0].name, "Terry Gray");
    CHECK(e.from[0].adl == NULL);
    CHECK_STR(e.from[0].mailbox, "gray");
    CHECK_STR(e.from[0].host, "cac.washington.edu");
    CHECK_INT(e.nsender, 1);
    CHECK_INT(e.nreply_to, 1);
    CHECK_INT(e.nto, 1);
    CHECK(e.to[0].name == NULL);
    CHECK_STR(e.to[0].mailbox, "imap");
    CHECK_INT(e.ncc, 2);
    CHECK_STR(e.cc[1].name, "John Klensin");
    CHECK_STR(e.cc[1].host, "MIT.EDU");
    CHECK_INT(e.nbcc, 0);
    CHECK(e.bcc == NULL);
    CHECK(e.in_reply_to == NULL);
    CHECK_STR(e.message_id, "<B27397-0100000@cac.washington.edu>");

    struct imap_body b;
    CHECK_INT(decode_body(fetch_item(&f, "BODY", NULL)->value, &A, &b, err, sizeof err), 0);
    CHECK_STR(b.type, "TEXT");
    CHECK_STR(b.subtype, "PLAIN");
    CHECK_INT(b.size, 3028);
    CHECK_INT(b.lines, 92);

    /* Minimal FETCH. */
    r = parse("* 1 FETCH (FLAGS ())\r\n");
    CHECK_INT(decode_fetch(r, &A, &f, err, sizeof err), 0);
    CHECK_INT(f.seq, 1);
    CHECK_INT(f.uid, 0);
    CHECK(f.internaldate == NULL);
    CHECK(f.flags && f.flags->len == 0);
    r = parse("* 1 FETCH ()\r\n");
    CHECK_INT(decode_fetch(r, &A, &f, err, sizeof err), 0);
    CHECK_INT(f.nitems, 0);
    CHECK(f.flags == NULL);
    (void)fetch_value;
}

static void test_fetch_errors(void)
{
    static const struct { const char *in, *err; } cases[] = {
        { "* 3 EXISTS\r\n", "not a FETCH response" },
        { "* FETCH (UID 1)\r\n", "not a FETCH response" },
        { "A1 OK FETCH done\r\n", "not a FETCH response" },
        { "* 1 FETCH UID 1\r\n", "FETCH 1: expected one list of items" },
        { "* 1 FETCH (UID 1) (X)\r\n", "FETCH 1: expected one list of items" },
        { "* 1 FETCH (UID)\r\n", "FETCH 1: item without a value" },
        { "* 2 FETCH (UID \"7\")\r\n", "FETCH 2: UID is a string" },
        { "* 2 FETCH (\"UID\" 7)\r\n", "FETCH 2: expected an item name, got string" },
        { "* 2 FETCH (MODSEQ 7)\r\n", "FETCH 2: MODSEQ is not (number)" },
        { "* 2 FETCH (RFC822.SIZE NIL)\r\n", "FETCH 2: RFC822.SIZE is a NIL" },
        { "* 2 FETCH (INTERNALDATE 5)\r\n", "FETCH 2: INTERNALDATE is a number" },
        { "* 2 FETCH (FLAGS \\Seen)\r\n", "FETCH 2: FLAGS is a atom" },
        { "* 2 FETCH (BODY[1]x NIL)\r\n", "FETCH: malformed item name \"BODY[1]x\"" },
        { "* 2 FETCH (BODY[1]<a> NIL)\r\n", "FETCH: bad partial origin in \"BODY[1]<a>\"" },
        { "* 2 FETCH (BODY[1]<99999999999999999999> NIL)\r\n",
          "FETCH: bad partial origin in \"BODY[1]<99999999999999999999>\"" },
        { "* 2 FETCH ([1] NIL)\r\n", "FETCH: malformed item name \"[1]\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct imap_response *r = parse(cases[i].in);
        CHECK(r != NULL);
        struct imap_fetch f;
        CHECK_INT(decode_fetch(r, &A, &f, err, sizeof err), -1);
        CHECK_STR(err, cases[i].err);
    }
}

static void test_envelope_groups(void)
{
    /* RFC 2822 group syntax: "undisclosed-recipients:;" and "team: a@x, b@y;" */
    struct imap_response *r = parse(
        "* 1 FETCH (ENVELOPE (NIL NIL ((\"A\" NIL \"a\" \"x\")) NIL NIL "
        "((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"x\")(\"B\" \"@relay\" \"b\" \"y\")(NIL NIL NIL NIL)"
        "(NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) () NIL {4}\r\n<id>"
        " \"<m@x>\"))\r\n");
    CHECK(r != NULL);
    struct imap_fetch f;
    CHECK_INT(decode_fetch(r, &A, &f, err, sizeof err), 0);
    struct imap_envelope e;
    CHECK_INT(decode_envelope(f.items[0].value, &A, &e, err, sizeof err), 0);
    CHECK(e.date == NULL && e.subject == NULL);
    CHECK_INT(e.nfrom, 1);
    CHECK_INT(e.nsender, 0);
    CHECK_INT(e.nto, 6);
    CHECK_STR(e.to[0].mailbox, "team");
    CHECK(e.to[0].host == NULL);
    CHECK_STR(e.to[1].mailbox, "a");
    CHECK_STR(e.to[2].adl, "@relay");
    CHECK(e.to[3].mailbox == NULL && e.to[3].host == NULL);
    CHECK_STR(e.to[4].mailbox, "undisclosed-recipients");
    CHECK(e.to[5].mailbox == NULL);
    CHECK_INT(e.ncc, 0);
    CHECK_INT(e.nbcc, 0);
    CHECK_STR(e.in_reply_to, "<id>");
    CHECK_STR(e.message_id, "<m@x>");

    static const struct { const char *in, *err; } bad[] = {
        { "* X (NIL NIL NIL NIL NIL NIL NIL NIL NIL)\r\n",
          "ENVELOPE: expected a list of 10 fields, got a list of another length" },
        { "* X NIL\r\n", "ENVELOPE: expected a list of 10 fields, got a NIL" },
        { "* X ((a) NIL NIL NIL NIL NIL NIL NIL NIL NIL)\r\n",
          "ENVELOPE: date, subject, in-reply-to and message-id must be strings" },
        { "* X (NIL NIL \"x\" NIL NIL NIL NIL NIL NIL NIL)\r\n",
          "ENVELOPE: from is a string, not a list" },
        { "* X (NIL NIL NIL NIL NIL ((NIL NIL \"a\")) NIL NIL NIL NIL)\r\n",
          "ENVELOPE: to address 1 is not (name adl mailbox host)" },
        { "* X (NIL NIL NIL NIL NIL NIL (NIL) NIL NIL NIL)\r\n",
          "ENVELOPE: cc address 1 is not (name adl mailbox host)" },
        { "* X (NIL NIL NIL NIL NIL NIL NIL ((NIL (x) \"a\" \"b\")) NIL NIL)\r\n",
          "ENVELOPE: bcc address 1 is not (name adl mailbox host)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i].in);
        CHECK(r != NULL);
        CHECK_INT(decode_envelope(&r->args[0], &A, &e, err, sizeof err), -1);
        CHECK_STR(err, bad[i].err);
    }
    CHECK_INT(decode_envelope(NULL, &A, &e, err, sizeof err), -1);
}

static void test_bodystructure(void)
{
    /* RFC 3501 §7.4.2 */
    struct imap_response *r = parse(
        "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 "
        "23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
        "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) "
        "\"MIXED\"))\r\n");
    CHECK(r != NULL);
    struct imap_fetch f;
    struct imap_body b;
    CHECK_INT(decode_fetch(r, &A, &f, err, sizeof err), 0);
    CHECK_INT(decode_body(fetch_item(&f, "BODYSTRUCTURE", NULL)->value, &A, &b, err, sizeof err), 0);
    CHECK_STR(b.type, "MULTIPART");
    CHECK_STR(b.subtype, "MIXED");
    CHECK_INT(b.nparams, 0);
    CHECK_INT(b.nparts, 2);
    CHECK_STR(b.parts[0].type, "TEXT");
    CHECK_STR(b.parts[0].subtype, "PLAIN");
    CHECK_INT(b.parts[0].nparams, 1);
    CHECK_STR(b.parts[0].params[0], "CHARSET");
    CHECK_STR(b.parts[0].params[1], "US-ASCII");
    CHECK(b.parts[0].id == NULL && b.parts[0].description == NULL);
    CHECK_STR(b.parts[0].encoding, "7BIT");
    CHECK_INT(b.parts[0].size, 1152);
    CHECK_INT(b.parts[0].lines, 23);
    CHECK(b.parts[0].md5 == NULL && b.parts[0].disposition == NULL);
    CHECK_INT(b.parts[1].nparams, 2);
    CHECK_STR(b.parts[1].params[3], "cc.diff");
    CHECK_STR(b.parts[1].id, "<960723163407.20117h@cac.washington.edu>");
    CHECK_STR(b.parts[1].description, "Compiler diff");
    CHECK_STR(b.parts[1].encoding, "BASE64");
    CHECK_INT(b.parts[1].size, 4554);
    CHECK_INT(b.parts[1].lines, 73);

    r = parse("* X (\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)\r\n");
    CHECK_INT(decode_body(&r->args[0], &A, &b, err, sizeof err), 0);
    CHECK_STR(b.type, "TEXT");
    CHECK_STR(b.subtype, "PLAIN");
    CHECK_INT(b.size, 3028);
    CHECK_INT(b.lines, 92);
    CHECK_INT(b.nparts, 0);

    /* Nested: multipart/mixed of text, message/rfc822 (holding multipart with a pdf
     * carrying every extension field and a future extension), and an image. */
    r = parse(
        "* 7 FETCH (UID 9 BODYSTRUCTURE ("
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 120 5 NIL NIL NIL NIL)"
        "(\"MESSAGE\" \"RFC822\" (\"NAME\" \"fwd.eml\") NIL \"Forwarded\" \"7BIT\" 6000 "
        ENV_RFC " "
        "((\"TEXT\" \"HTML\" NIL NIL NIL \"8BIT\" 10 1 NIL NIL NIL NIL)"
        "(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") NIL NIL \"BASE64\" 4000 "
        "\"d41d8cd98f00b204e9800998ecf8427e\" (\"attachment\" (\"filename\" \"a.pdf\" \"size\" NIL)) "
        "(\"en\" \"de\") \"http://x/a.pdf\" (\"future\" 1 (2)) 7) "
        "\"MIXED\" (\"BOUNDARY\" \"b2\") NIL NIL NIL) 80 NIL (\"inline\" NIL) \"en\" NIL)"
        "(\"IMAGE\" \"PNG\" NIL \"<img1>\" NIL \"BASE64\" 300 NIL (\"INLINE\" NIL))"
        " \"mixed\" (\"BOUNDARY\" \"b1\") (\"inline\" NIL) (\"en\") \"loc\" 1 2))\r\n");
    CHECK(r != NULL);
    CHECK_INT(decode_fetch(r, &A, &f, err, sizeof err), 0);
    CHECK_INT(decode_body(fetch_item(&f, "BODYSTRUCTURE", NULL)->value, &A, &b, err, sizeof err), 0);
    CHECK_STR(b.type, "MULTIPART");
    CHECK_STR(b.subtype, "MIXED");
    CHECK_INT(b.nparts, 3);
    CHECK_INT(b.nparams, 1);
    CHECK_STR(b.params[0], "BOUNDARY");
    CHECK_STR(b.params[1], "b1");
    CHECK_STR(b.disposition, "inline");
    CHECK_INT(b.ndisposition_params, 0);
    CHECK_INT(b.nlanguages, 1);
    CHECK_STR(b.languages[0], "en");
    CHECK_STR(b.location, "loc");
    CHECK(b.md5 == NULL);

    const struct imap_body *t = &b.parts[0];
    CHECK_STR(t->encoding, "QUOTED-PRINTABLE");
    CHECK_INT(t->lines, 5);
    CHECK(t->md5 == NULL && t->disposition == NULL && t->nlanguages == 0 && t->location == NULL);

    const struct imap_body *m = &b.parts[1];
    CHECK_STR(m->type, "MESSAGE");
    CHECK_STR(m->subtype, "RFC822");
    CHECK_STR(m->description, "Forwarded");
    CHECK_INT(m->size, 6000);
    CHECK_INT(m->lines, 80);
    CHECK(m->envelope != NULL);
    if (m->envelope)
        CHECK_STR(m->envelope->from[0].mailbox, "gray");
    CHECK_STR(m->disposition, "inline");
    CHECK_INT(m->nlanguages, 1);
    CHECK_INT(m->nparts, 1);
    const struct imap_body *inner = &m->parts[0];
    CHECK_STR(inner->type, "MULTIPART");
    CHECK_STR(inner->subtype, "MIXED");
    CHECK_INT(inner->nparts, 2);
    CHECK_STR(inner->params[1], "b2");
    CHECK(inner->disposition == NULL);
    CHECK_STR(inner->parts[0].subtype, "HTML");
    const struct imap_body *pdf = &inner->parts[1];
    CHECK_STR(pdf->type, "APPLICATION");
    CHECK_STR(pdf->subtype, "PDF");
    CHECK_INT(pdf->lines, 0);
    CHECK_STR(pdf->md5, "d41d8cd98f00b204e9800998ecf8427e");
    CHECK_STR(pdf->disposition, "attachment");
    CHECK_INT(pdf->ndisposition_params, 2);
    CHECK_STR(pdf->disposition_params[0], "filename");
    CHECK_STR(pdf->disposition_params[1], "a.pdf");
    CHECK_STR(pdf->disposition_params[3], "");
    CHECK_INT(pdf->nlanguages, 2);
    CHECK_STR(pdf->languages[1], "de");
    CHECK_STR(pdf->location, "http://x/a.pdf");
    const struct imap_body *img = &b.parts[2];
    CHECK_STR(img->type, "IMAGE");
    CHECK_STR(img->id, "<img1>");
    CHECK_INT(img->size, 300);
    CHECK_STR(img->disposition, "INLINE");
    CHECK(img->location == NULL);
}

static void test_body_errors(void)
{
    static const struct { const char *in, *err; } bad[] = {
        { "* X NIL\r\n", "BODYSTRUCTURE: expected a non-empty list, got NIL" },
        { "* X ()\r\n", "BODYSTRUCTURE: expected a non-empty list, got list" },
        { "* X (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\")\r\n",
          "BODYSTRUCTURE: a part needs 7 fields, got 6" },
        { "* X (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10)\r\n",
          "BODYSTRUCTURE: text part without a line count" },
        { "* X (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" \"10\" 1)\r\n",
          "BODYSTRUCTURE: size is a string" },
        { "* X (NIL \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)\r\n",
          "BODYSTRUCTURE: type is a NIL, not a string" },
        { "* X (\"TEXT\" \"PLAIN\" (\"A\") NIL NIL \"7BIT\" 10 1)\r\n",
          "BODYSTRUCTURE: body parameters are not NIL or (name value ...)" },
        { "* X (\"TEXT\" \"PLAIN\" ((x) \"A\") NIL NIL \"7BIT\" 10 1)\r\n",
          "BODYSTRUCTURE: body parameter 1 is a list" },
        { "* X (\"TEXT\" \"PLAIN\" NIL (x) NIL \"7BIT\" 10 1)\r\n",
          "BODYSTRUCTURE: id, description and encoding must be strings" },
        { "* X ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1))\r\n",
          "BODYSTRUCTURE: multipart without a subtype" },
        { "* X ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1) 5)\r\n",
          "BODYSTRUCTURE: multipart subtype is a number, not a string" },
        { "* X ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10) \"MIXED\")\r\n",
          "BODYSTRUCTURE: text part without a line count" },
        { "* X (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 10 NIL)\r\n",
          "BODYSTRUCTURE: message/RFC822 needs envelope, body and lines" },
        { "* X (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 10 NIL (\"TEXT\" \"PLAIN\" NIL NIL NIL "
          "\"7BIT\" 1 1) 3)\r\n",
          "ENVELOPE: expected a list of 10 fields, got a NIL" },
        { "* X (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 10 (NIL NIL NIL NIL NIL NIL NIL NIL NIL "
          "NIL) NIL 3)\r\n",
          "BODYSTRUCTURE: expected a non-empty list, got NIL" },
        { "* X (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 10 (NIL NIL NIL NIL NIL NIL NIL NIL NIL "
          "NIL) (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1) x)\r\n",
          "BODYSTRUCTURE: message line count is a atom" },
        { "* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 (md5))\r\n", "BODYSTRUCTURE: MD5 is a list" },
        { "* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 NIL \"attachment\")\r\n",
          "BODYSTRUCTURE: disposition is a string" },
        { "* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 NIL (\"attachment\"))\r\n",
          "BODYSTRUCTURE: disposition is not (type params)" },
        { "* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 NIL (\"a\" (\"x\")))\r\n",
          "BODYSTRUCTURE: disposition parameters are not NIL or (name value ...)" },
        { "* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 NIL NIL 5)\r\n",
          "BODYSTRUCTURE: language is a number" },
        { "* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 NIL NIL ((en)))\r\n",
          "BODYSTRUCTURE: language 1 is a list" },
        { "* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 NIL NIL NIL (loc))\r\n",
          "BODYSTRUCTURE: location is a list" },
    };
    struct imap_body b;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct imap_response *r = parse(bad[i].in);
        CHECK(r != NULL);
        if (!r)
            continue;
        CHECK_INT(decode_body(&r->args[0], &A, &b, err, sizeof err), -1);
        CHECK_STR(err, bad[i].err);
    }
    /* Extension data beyond location is ignored; a non-TEXT part needs no line count. */
    struct imap_response *r = parse("* X (\"APP\" \"X\" NIL NIL NIL \"7BIT\" 10 NIL NIL NIL NIL (a (b)) 1)\r\n");
    CHECK_INT(decode_body(&r->args[0], &A, &b, err, sizeof err), 0);
    CHECK_INT(b.size, 10);
}

static void test_search(void)
{
    struct imap_search s;
    struct imap_response *r = parse("* SEARCH 2 84 882\r\n");
    CHECK_INT(decode_search(r, &A, &s, err, sizeof err), 0);
    CHECK_STR(s.all, "2,84,882");
    CHECK_INT(s.count, 3);
    CHECK(s.has_count);
    CHECK_INT(s.min, 2);
    CHECK_INT(s.max, 882);
    CHECK(s.tag == NULL && !s.uid);

    r = parse("* SEARCH 1 2 3 5 7 8 4 18446744073709551615 (MODSEQ 917162500)\r\n");
    CHECK_INT(decode_search(r, &A, &s, err, sizeof err), 0);
    CHECK_STR(s.all, "1:3,5,7:8,4,18446744073709551615");
    CHECK_INT(s.modseq, 917162500);
    CHECK_INT(s.count, 8);
    CHECK_INT(s.min, 1);
    CHECK(s.max == UINT64_MAX);

    r = parse("* SEARCH\r\n");
    CHECK_INT(decode_search(r, &A, &s, err, sizeof err), 0);
    CHECK(s.all == NULL);
    CHECK_INT(s.count, 0);

    r = parse("* ESEARCH (TAG \"A1\") UID ALL 1:3,5 COUNT 4 MIN 1 MAX 5\r\n");
    CHECK_INT(decode_search(r, &A, &s, err, sizeof err), 0);
    CHECK_STR(s.tag, "A1");
    CHECK(s.uid);
    CHECK_STR(s.all, "1:3,5");
    CHECK_INT(s.count, 4);
    CHECK(s.has_count);
    CHECK_INT(s.min, 1);
    CHECK_INT(s.max, 5);

    r = parse("* ESEARCH (TAG \"A2\") ALL 17 MODSEQ 99 PARTIAL (1:10 1,2) RELEVANCY (1 2)\r\n");
    CHECK_INT(decode_search(r, &A, &s, err, sizeof err), 0);
    CHECK_STR(s.tag, "A2");
    CHECK(!s.uid);
    CHECK_STR(s.all, "17");
    CHECK(!s.has_count);
    CHECK_INT(s.modseq, 99);

    r = parse("* ESEARCH (TAG \"A3\") UID COUNT 0\r\n");
    CHECK_INT(decode_search(r, &A, &s, err, sizeof err), 0);
    CHECK(s.all == NULL);
    CHECK(s.has_count && s.count == 0);

    r = parse("* ESEARCH\r\n");
    CHECK_INT(decode_search(r, &A, &s, err, sizeof err), 0);
    CHECK(s.all == NULL && s.tag == NULL && !s.has_count);

    static const struct { const char *in, *err; } bad[] = {
        { "* SEARCH 1 x\r\n", "SEARCH: result 2 is a atom, not a number" },
        { "* SEARCH 1 (MODSEQ)\r\n", "SEARCH: expected (MODSEQ number) at the end" },
        { "* ESEARCH (TAG) ALL 1\r\n", "ESEARCH: expected (TAG \"tag\")" },
        { "* ESEARCH ALL\r\n", "ESEARCH: ALL without a value" },
        { "* ESEARCH COUNT x\r\n", "ESEARCH: COUNT is a atom, not a number" },
        { "* ESEARCH ALL (1)\r\n", "ESEARCH: ALL is a list" },
        { "* ESEARCH 5 5\r\n", "ESEARCH: expected a result name, got number" },
        { "* 3 EXISTS\r\n", "not a SEARCH or ESEARCH response" },
        { "A1 OK SEARCH done\r\n", "not a SEARCH or ESEARCH response" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i].in);
        CHECK_INT(decode_search(r, &A, &s, err, sizeof err), -1);
        CHECK_STR(err, bad[i].err);
    }
}

static void test_list(void)
{
    struct imap_list_entry l;
    struct imap_response *r = parse("* LIST (\\Noselect \\HasChildren) \"/\" ~/Mail/foo\r\n");
    CHECK_INT(decode_list(r, &A, &l, err, sizeof err), 0);
    CHECK_INT(l.flags->len, 2);
    CHECK(imap_value_is(&l.flags->u.items[0], "\\noselect"));
    CHECK_INT(l.delimiter, '/');
    CHECK_STR(l.name, "~/Mail/foo");

    r = parse("* LSUB () \".\" \"#news.comp.mail.misc\"\r\n");
    CHECK_INT(decode_list(r, &A, &l, err, sizeof err), 0);
    CHECK_INT(l.flags->len, 0);
    CHECK_INT(l.delimiter, '.');
    CHECK_STR(l.name, "#news.comp.mail.misc");

    r = parse("* LIST (\\HasNoChildren) NIL {9}\r\nwith\"quot (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
    CHECK_INT(decode_list(r, &A, &l, err, sizeof err), 0);
    CHECK_INT(l.delimiter, 0);
    CHECK_STR(l.name, "with\"quot");

    r = parse("* LIST () \"\\\\\" 2024\r\n");
    CHECK_INT(decode_list(r, &A, &l, err, sizeof err), 0);
    CHECK_INT(l.delimiter, '\\');
    CHECK_STR(l.name, "2024");

    static const struct { const char *in, *err; } bad[] = {
        { "* LIST () \"/\"\r\n", "LIST: expected flags, delimiter and name" },
        { "* LIST NIL \"/\" x\r\n", "LIST: flags are a NIL, not a list" },
        { "* LIST (\"x\") \"/\" x\r\n", "LIST: flag 1 is a string" },
        { "* LIST () \"//\" x\r\n", "LIST: delimiter is not NIL or one character" },
        { "* LSUB () \"\" x\r\n", "LSUB: delimiter is not NIL or one character" },
        { "* LIST () \"/\" NIL\r\n", "LIST: mailbox name is a NIL" },
        { "* LIST () \"/\" (x)\r\n", "LIST: mailbox name is a list" },
        { "* STATUS x ()\r\n", "not a LIST or LSUB response" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i].in);
        CHECK_INT(decode_list(r, &A, &l, err, sizeof err), -1);
        CHECK_STR(err, bad[i].err);
    }
}

static void test_status(void)
{
    struct imap_status_data s;
    struct imap_response *r = parse("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n");
    CHECK_INT(decode_status(r, &A, &s, err, sizeof err), 0);
    CHECK_STR(s.mailbox, "blurdybloop");
    CHECK_INT(s.messages, 231);
    CHECK_INT(s.uidnext, 44292);
    CHECK_INT(s.recent, -1);
    CHECK_INT(s.uidvalidity, -1);
    CHECK_INT(s.unseen, -1);
    CHECK_INT(s.highestmodseq, -1);
    CHECK_INT(s.size, -1);

    r = parse("* STATUS \"INBOX\" (messages 1 RECENT 2 UIDNEXT 3 UIDVALIDITY 4 UNSEEN 5 "
              "HIGHESTMODSEQ 9223372036854775807 SIZE 7 DELETED 8 APPENDLIMIT 9)\r\n");
    CHECK_INT(decode_status(r, &A, &s, err, sizeof err), 0);
    CHECK_STR(s.mailbox, "INBOX");
    CHECK_INT(s.messages, 1);
    CHECK_INT(s.recent, 2);
    CHECK_INT(s.uidnext, 3);
    CHECK_INT(s.uidvalidity, 4);
    CHECK_INT(s.unseen, 5);
    CHECK_INT(s.highestmodseq, INT64_MAX);
    CHECK_INT(s.size, 7);

    r = parse("* STATUS {5}\r\na b c ()\r\n");
    CHECK_INT(decode_status(r, &A, &s, err, sizeof err), 0);
    CHECK_STR(s.mailbox, "a b c");
    CHECK_INT(s.messages, -1);

    static const struct { const char *in, *err; } bad[] = {
        { "* STATUS x (MESSAGES)\r\n", "STATUS: expected a mailbox and (name value ...)" },
        { "* STATUS x\r\n", "STATUS: expected a mailbox and (name value ...)" },
        { "* STATUS (x) ()\r\n", "STATUS: mailbox name is a list" },
        { "* STATUS x (MESSAGES x)\r\n", "STATUS: MESSAGES is not a number up to 2^63-1" },
        { "* STATUS x (UIDNEXT 9223372036854775808)\r\n",
          "STATUS: UIDNEXT is not a number up to 2^63-1" },
        { "* STATUS x (1 2)\r\n", "STATUS: expected an item name, got number" },
        { "* LIST () NIL x\r\n", "not a STATUS response" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i].in);
        CHECK_INT(decode_status(r, &A, &s, err, sizeof err), -1);
        CHECK_STR(err, bad[i].err);
    }
}

static void test_vanished(void)
{
    struct imap_vanished v;
    struct imap_response *r = parse("* VANISHED (EARLIER) 300:310,405,411\r\n");
    CHECK_INT(decode_vanished(r, &A, &v, err, sizeof err), 0);
    CHECK(v.earlier);
    CHECK_STR(v.uids, "300:310,405,411");
    r = parse("* VANISHED 405\r\n");
    CHECK_INT(decode_vanished(r, &A, &v, err, sizeof err), 0);
    CHECK(!v.earlier);
    CHECK_STR(v.uids, "405");

    static const struct { const char *in, *err; } bad[] = {
        { "* VANISHED\r\n", "VANISHED: expected [(EARLIER)] uid-set" },
        { "* VANISHED (LATER) 1\r\n", "VANISHED: expected (EARLIER)" },
        { "* VANISHED \"1\"\r\n", "VANISHED: uid set is a string" },
        { "* 1 EXPUNGE\r\n", "not a VANISHED response" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i].in);
        CHECK_INT(decode_vanished(r, &A, &v, err, sizeof err), -1);
        CHECK_STR(err, bad[i].err);
    }
}

int main(void)
{
    arena_init(&A, 0);
    RUN(test_fetch);
    RUN(test_fetch_errors);
    RUN(test_envelope_groups);
    RUN(test_bodystructure);
    RUN(test_body_errors);
    RUN(test_search);
    RUN(test_list);
    RUN(test_status);
    RUN(test_vanished);
    parser_free(P);
    arena_free(&A);
    return CHECK_DONE();
}
