/* managesieve_parse.h — one line from a ManageSieve server (RFC 5804) as items: atoms and
 * strings (quoted ones unescaped, literals {n} of any bytes), and for OK/NO/BYE the response
 * code and the text. Pure: bytes in, items out; the caller reads and keeps the bytes.
 *
 *   "SIEVE" "fileinto imap4flags"           a data line: two strings
 *   "rules" ACTIVE                          a string and an atom
 *   NO (QUOTA/MAXSIZE) "Script too large"   kind NO, code "QUOTA/MAXSIZE", text
 *   OK (SASL "dj1...") "Logged in."         code "SASL", code_arg "dj1...", text
 *   NO {94}\r\n<94 bytes>\r\n               text from a literal */
#ifndef IMAPSCRIPT_MANAGESIEVE_PARSE_H
#define IMAPSCRIPT_MANAGESIEVE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

enum { MSP_MAX_ITEMS = 32 };

enum {
    MSP_LINE = 1,               /* a whole line was parsed */
    MSP_NEED_MORE = 0,          /* the line is not complete yet */
    MSP_ERR_SYNTAX = -1,        /* not ManageSieve */
    MSP_ERR_LIMIT = -2,         /* a line, literal or item count over the limits */
    MSP_ERR_NOMEM = -3,
};

enum msp_kind { MSP_DATA, MSP_OK, MSP_NO, MSP_BYE };

struct msp_item {
    bool is_string;             /* a quoted string or literal; else an atom */
    const char *s;              /* NUL-terminated copy (a literal may hold NULs: use len) */
    size_t len;
};

struct msp_line {
    enum msp_kind kind;
    struct msp_item item[MSP_MAX_ITEMS];   /* DATA: every item; OK/NO/BYE: none */
    size_t n;
    const char *code;           /* OK/NO/BYE: the response code atom, upper-cased, or NULL */
    const char *code_arg;       /* its first argument, "" when none */
    size_t code_arg_len;
    const char *text;           /* OK/NO/BYE: the human-readable string, "" when none */
    size_t text_len;
};

struct msp {
    char *out;                  /* the copies the items point into, valid until the next parse */
    size_t outlen, outcap;
    size_t max_line;            /* bytes of a line outside its literals (default 64 KiB) */
    size_t max_literal;         /* bytes of one literal (default 16 MiB) */
    char err[160];
};

void msp_init(struct msp *p);
void msp_free(struct msp *p);

/* Parses the line at the start of buf[0..len). MSP_LINE: *line filled, *used = the line's bytes
 * (its CRLF or LF included). MSP_NEED_MORE: *need = how many bytes the line needs at least
 * (> len): read until there are that many and call again. Negative: p->err says what is wrong
 * and at which offset. The line's items stay valid until the next call or msp_free. */
int msp_parse(struct msp *p, const char *buf, size_t len, struct msp_line *line, size_t *used,
              size_t *need);

#endif
