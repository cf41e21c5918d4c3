/* parser.h — incremental parser for IMAP server responses (RFC 3501 §9, RFC 9051).
 * Bytes go in as they arrive, in any split; whole responses come out as trees. */
#ifndef IMAPSCRIPT_PARSER_H
#define IMAPSCRIPT_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_type {
    IMAP_NIL,
    IMAP_ATOM,    /* str/len; FETCH item names keep their section: "BODY[HEADER.FIELDS (A B)]<0>" */
    IMAP_NUMBER,  /* num: 0 .. 2^63-1 and beyond up to UINT64_MAX */
    IMAP_STRING,  /* str/len: quoted (unescaped) or literal; NUL-terminated, may hold NULs (literal8) */
    IMAP_LIST,    /* items/len */
    IMAP_STREAMED,/* a literal of len bytes handed over in IMAP_PART_DATA parts (str is NULL) */
};

struct imap_value {
    enum imap_type type;
    size_t len;                    /* bytes of str, or count of items */
    union {
        const char *str;
        uint64_t num;
        struct imap_value *items;
    } u;
};

enum imap_kind { IMAP_UNTAGGED, IMAP_TAGGED, IMAP_CONTINUE };

enum imap_status {
    IMAP_ST_NONE,                  /* a data response: "* 3 EXISTS", "* LIST ..." */
    IMAP_ST_OK, IMAP_ST_NO, IMAP_ST_BAD, IMAP_ST_PREAUTH, IMAP_ST_BYE,
};

/* Parts of a response still arriving (only with the stream_* limits set): */
enum imap_part {
    IMAP_PART_NONE,     /* a whole response, or the last part of one that came in parts */
    IMAP_PART_LITERAL,  /* a literal of lit_size bytes starts (lit_size >= stream_literal):
                         * parser_stream_literal before the next parser_next has its bytes come
                         * as IMAP_PART_DATA (and its value be IMAP_STREAMED), else it is
                         * assembled as usual. open/nopen: the items of the innermost open list
                         * so far, the literal's own value last (a FETCH's "UID 5 BODY[] {n}") */
    IMAP_PART_DATA,     /* data/datalen: the literal's next bytes; lit_left bytes follow */
    IMAP_PART_VALUES,   /* args/nargs: the next top-level values of a SEARCH, SORT, ESEARCH or
                         * THREAD line longer than stream_list; more parts follow */
};

enum imap_code_kind {
    IMAP_CODE_NONE,                /* no [..] */
    IMAP_CODE_OTHER,               /* unknown: name and raw text kept */
    IMAP_CODE_ALERT, IMAP_CODE_PARSE, IMAP_CODE_READ_ONLY, IMAP_CODE_READ_WRITE,
    IMAP_CODE_TRYCREATE, IMAP_CODE_UIDNOTSTICKY, IMAP_CODE_NOMODSEQ, IMAP_CODE_CLOSED,
    IMAP_CODE_UIDVALIDITY,         /* num */
    IMAP_CODE_UIDNEXT,             /* num */
    IMAP_CODE_UNSEEN,              /* num */
    IMAP_CODE_HIGHESTMODSEQ,       /* num */
    IMAP_CODE_APPENDUID,           /* num = uidvalidity, set1 = uid set */
    IMAP_CODE_COPYUID,             /* num = uidvalidity, set1 = source uids, set2 = dest uids */
    IMAP_CODE_CAPABILITY,          /* list = atoms */
    IMAP_CODE_PERMANENTFLAGS,      /* list = flags ("\*" included as an atom) */
    IMAP_CODE_BADCHARSET,          /* list = charsets, maybe empty */
};

struct imap_code {
    enum imap_code_kind kind;
    const char *name;              /* as sent, e.g. "COPYUID"; NULL for NONE */
    const char *text;              /* raw bytes after the name up to ']' ("" if none) */
    uint64_t num;
    const char *set1, *set2;       /* uid-set text, e.g. "1:3,7" */
    struct imap_value *list;
    size_t nlist;
};

struct imap_response {
    enum imap_kind kind;
    const char *tag;               /* IMAP_TAGGED only */
    enum imap_status status;       /* OK/NO/BAD/PREAUTH/BYE, or NONE for data */
    struct imap_code code;         /* status responses only */
    const char *text;              /* human text of a status or continuation ("" if none) */
    bool has_number;               /* "* 23 EXISTS", "* 5 FETCH (...)" */
    uint64_t number;
    const char *name;              /* data keyword upper-cased: "EXISTS", "FETCH", "LIST", ... */
    struct imap_value *args;       /* what follows the keyword, as values */
    size_t nargs;
    size_t offset;                 /* stream offset of the response's first byte */
    /* Parts (see enum imap_part). kind, tag, name and number are set in every part. */
    enum imap_part part;
    bool tail;                     /* PART_NONE ending a response that came as PART_VALUES:
                                    * args holds only the values after those parts */
    uint64_t lit_size, lit_left;   /* PART_LITERAL, PART_DATA */
    const char *data;              /* PART_DATA: points into the parser's input buffer */
    size_t datalen;
    const struct imap_value *open; /* PART_LITERAL */
    size_t nopen;
    unsigned depth;                /* PART_LITERAL: lists open around it (1: a FETCH's own) */
};
/* Filled as follows: name is never NULL (the data keyword, the upper-cased status word
 * "OK"/"BYE"/... for status responses, "" for continuations); text and code.text are never
 * NULL; args/nargs are set for untagged data responses only. Every string, including
 * literal bytes, is a copy in the parser's arena: nothing points into the input buffer. */

struct imap_parser_limits {
    size_t max_line;               /* bytes of one line outside literals (default 1 MiB) */
    unsigned max_depth;            /* list nesting (default 64) */
    uint64_t max_literal;          /* bytes of one literal (default 256 MiB) */
    size_t max_response;           /* bytes of one whole response (default 512 MiB) */
    /* Streaming, off when 0 (unlike the fields above, 0 takes no default):
     * literals of at least stream_literal bytes are offered as IMAP_PART_LITERAL (when taken,
     * neither max_literal nor max_response bound them: they are not held); untagged SEARCH,
     * SORT, ESEARCH and THREAD lines longer than stream_list come as IMAP_PART_VALUES parts
     * cut every stream_list bytes at a token boundary (a long sequence set at a ',', each
     * piece then its own atom) instead of being held whole: max_line does not bound them. */
    uint64_t stream_literal;
    size_t stream_list;
};

struct imap_parser;

/* Returns a parser (free with parser_free) or NULL when out of memory.
 * limits may be NULL for the defaults; zero fields take their default too. */
struct imap_parser *parser_new(const struct imap_parser_limits *limits);
void parser_free(struct imap_parser *p);

/* Copies len bytes of server input into the parser. Returns 0, or -1 when out of memory. */
int parser_feed(struct imap_parser *p, const char *data, size_t len);

/* Zero-copy input: parser_space gives a place for at least `want` bytes (NULL when
 * out of memory); after reading n bytes into it, parser_commit(p, n). */
char *parser_space(struct imap_parser *p, size_t want, size_t *avail);
void parser_commit(struct imap_parser *p, size_t n);

/* Returns 1 and sets *out to the next whole response (or part of one, with streaming on),
 * 0 when more input is needed, -1 on malformed input or a broken limit (then parser_error
 * says where and why; the parser stays in error until parser_free).
 * *out and everything it points to stay valid until the next call of any parser function. */
int parser_next(struct imap_parser *p, struct imap_response **out);

/* After an IMAP_PART_LITERAL: its bytes are to come as IMAP_PART_DATA parts. */
void parser_stream_literal(struct imap_parser *p);

/* "offset 1234: expected ')' after list item" — valid while the parser lives. */
const char *parser_error(const struct imap_parser *p);

/* Total bytes consumed so far (responses returned plus the partial one). */
uint64_t parser_offset(const struct imap_parser *p);

/* Value helpers. imap_value_is(v, "FLAGS") compares an atom case-insensitively. */
bool imap_value_is(const struct imap_value *v, const char *atom);
/* NIL gives "", ATOM/STRING their text, NUMBER and LIST NULL. */
const char *imap_value_str(const struct imap_value *v);

#endif
