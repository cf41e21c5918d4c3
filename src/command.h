/* command.h — the one encoder every IMAP command goes through: tag, atoms, quoted strings,
 * literals (synchronising, LITERAL+ / LITERAL-, literal8), mailbox names, trace redaction. */
#ifndef IMAPSCRIPT_COMMAND_H
#define IMAPSCRIPT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msgset;

enum literal_mode {
    LITERAL_SYNC,    /* every literal "{n}\r\n" waits for a "+" continuation */
    LITERAL_MINUS,   /* RFC 7888 LITERAL-: "{n+}" up to 4096 bytes, larger ones synchronise */
    LITERAL_PLUS,    /* RFC 7888 LITERAL+: every literal is "{n+}" */
};

#define COMMAND_LITERAL_MINUS_MAX 4096
/* Strings longer than this go as literals even when they could be quoted, to keep lines short. */
#define COMMAND_QUOTED_MAX 1024
/* command_trace shows literals longer than this as "{n} <n bytes>". */
#define COMMAND_TRACE_LITERAL_MAX 256

struct command_span { size_t off, len; };

/* A command being built. All functions append to buf; the first failure is kept in err (sticky)
 * and later calls do nothing, so callers check once, at command_end. */
struct command {
    char tag[16];                 /* "A7", NUL-terminated, truncated to 15 bytes */
    char *buf;                    /* the whole command, tag to CRLF (not NUL-terminated) */
    size_t len, cap;
    /* Offsets in buf just after each synchronising literal header "{n}\r\n", ascending: the writer
     * sends buf up to waits[0], waits for "+ ...", sends up to waits[1], ... then the rest. */
    size_t *waits;
    size_t nwaits, capwaits;
    /* Byte ranges of secrets (command_secret: the whole encoded item, literal header included),
     * shown as *** by command_trace. */
    struct command_span *secrets;
    size_t nsecrets, capsecrets;
    /* Byte ranges of literals, header "{n}\r\n" through data, for command_trace. */
    struct command_span *lits;
    size_t nlits, caplits;
    enum literal_mode lit;
    bool utf8;                    /* UTF8=ACCEPT enabled: valid UTF-8 may be quoted, mailbox
                                   * names go as UTF-8 instead of modified UTF-7 */
    bool binary;                  /* BINARY capability: literal8 allowed (informational) */
    bool need_space;              /* next item needs a leading space */
    int err;                      /* sticky: 0, -ENOMEM, -EINVAL */
};

/* utf8 and binary start false; the session sets them from capabilities/ENABLE. */
void command_init(struct command *c, enum literal_mode lit);
void command_free(struct command *c);
/* Empties the command for reuse; keeps allocations, lit, utf8 and binary; clears err. */
void command_reset(struct command *c);

/* Resets c and writes "tag verb" ("A7", "UID FETCH" -> "A7 UID FETCH"). A NULL or empty tag
 * writes the verb alone, for untagged lines such as "DONE". */
void command_start(struct command *c, const char *tag, const char *verb);
/* Pre-validated atom text, written verbatim: numbers, set text, flags ("\Seen"), keywords, verbs.
 * An empty atom or one with SP, CR, LF or NUL sets err = -EINVAL. */
void command_atom(struct command *c, const char *atom);
void command_number(struct command *c, uint64_t n);
/* A message set as sequence-set text ("1:3,5"); an empty set sets err = -EINVAL. */
void command_msgset(struct command *c, const struct msgset *s);
/* Atom if every byte is an ATOM-CHAR (and not "]"), else quoted ("" for empty; " and \ escaped)
 * if printable 7-bit (or, when c->utf8, valid UTF-8) without CR/LF and at most
 * COMMAND_QUOTED_MAX bytes, else a literal. NUL anywhere sets err = -EINVAL. */
void command_astring(struct command *c, const char *s, size_t len);
/* Same, never an atom: quoted or literal. */
void command_string(struct command *c, const char *s, size_t len);
/* Always a literal: "{n}" (synchronising, recorded in waits) or "{n+}" per c->lit; binary gives
 * literal8 "~{n}" / "~{n+}" (RFC 3516, may hold NUL). A NUL in a non-binary literal sets -EINVAL. */
void command_literal(struct command *c, const char *s, size_t len, bool binary);
/* Only the header of a literal of len bytes ("{n}" with its wait point, or "{n+}"), for a
 * writer that sends the bytes themselves as they come (session_stream.c). */
void command_literal_header(struct command *c, uint64_t len);
/* An astring (as command_astring) whose encoding command_trace replaces by "***". */
void command_secret(struct command *c, const char *s, size_t len);
/* A mailbox name given in UTF-8: "INBOX" in any case is sent as INBOX; otherwise modified UTF-7
 * (or raw UTF-8 when c->utf8), as an astring. Invalid UTF-8 sets err = -EINVAL. */
void command_mailbox(struct command *c, const char *utf8_name, size_t len);
/* "(" (after a space if needed); the next item follows without a space. */
void command_open(struct command *c);
/* ")"; the next item gets a space. */
void command_close(struct command *c);
/* Verbatim text, after a space if needed (none when text starts with ")" or "]"). The next item
 * follows without a space when text ends with "(" or "[":
 *   command_raw(c, "BODY.PEEK[HEADER.FIELDS (", 25); atoms...; command_raw(c, ")]", 2); */
void command_raw(struct command *c, const char *text, size_t len);
/* Appends CRLF. Returns 0 or the sticky error; the command is complete in buf[0..len). */
int command_end(struct command *c);

/* For --trace: *out = malloc'd NUL-terminated copy of buf with each secret span replaced by "***"
 * and each literal longer than COMMAND_TRACE_LITERAL_MAX shown as "{n} <n bytes>". The caller
 * frees *out. Returns 0 or -ENOMEM. */
int command_trace(const struct command *c, char **out);

#endif
