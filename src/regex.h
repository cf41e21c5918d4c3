/* regex.h — PCRE2 regular expressions for client-side matching of header fields and bodies:
 * compiled once (JIT when available), matched many times without allocating. */
#ifndef IMAPSCRIPT_REGEX_H
#define IMAPSCRIPT_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum regex_flag {
    REGEX_CASELESS  = 1 << 0,   /* "i" */
    REGEX_MULTILINE = 1 << 1,   /* "m": ^ and $ match at line breaks */
    REGEX_DOTALL    = 1 << 2,   /* "s": . matches a newline */
    REGEX_EXTENDED  = 1 << 3,   /* "x": whitespace and # comments in the pattern are ignored */
};

/* Offset of a capture group that did not take part in the match. */
#define REGEX_UNSET SIZE_MAX

struct regex;

/* Compiles pattern[0..len) (may hold NUL bytes). A pattern that is valid UTF-8 is compiled in
 * UTF mode with Unicode case folding and classes (so "ÄRGER" caseless matches "ärger"); any other
 * pattern matches bytes. JIT-compiled when the library supports it, silently interpreted when
 * JIT fails. Returns a regex the caller frees with regex_free, or NULL with a message in err
 * ("regex: missing closing parenthesis at offset 7"; "regex: out of memory"). */
struct regex *regex_compile(const char *pattern, size_t len, unsigned flags,
                            char *err, size_t errlen);
void regex_free(struct regex *re);             /* NULL-safe */

/* Number of capture groups in the pattern (not counting the whole match). */
unsigned regex_groups(const struct regex *re);
/* True when matches run JIT-compiled code. */
bool regex_jit(const struct regex *re);

/* Searches subject[0..len) for the first match (unanchored unless the pattern says ^). When ov
 * is not NULL, it receives up to ovpairs pairs of (start, end) byte offsets: the whole match,
 * then each group (REGEX_UNSET when the group did not take part). Returns 1 on a match, 0 on
 * none, negative on an error (PCRE2's match or heap limit exceeded by a pathological pattern:
 * regex_error_text explains it). A match that overflows the default JIT stack is retried with a
 * private JIT stack (up to 4 MiB), then in the interpreter.
 * Subjects need not be valid UTF-8: a UTF-mode regex matches a subject that is not valid UTF-8
 * with a byte-mode compilation of the same pattern (0 when the pattern has no byte form, e.g.
 * \x{100}), so hostile mail can never make a match fail or crash. Uses the regex's own match
 * data: not reentrant for one regex; allocates nothing per match beyond what PCRE2 keeps in the
 * match data (the byte-mode twin and the JIT stack are made once, on first need). */
int regex_match(struct regex *re, const char *subject, size_t len, size_t *ov, size_t ovpairs);

/* A search in a text that comes in pieces (of any size, cut anywhere): what regex_match would
 * say of the whole text, holding only the start of a match that may go on into the next piece
 * (and the look-behind before it). A possible match longer than REGEX_STREAM_WINDOW bytes is
 * given up (regex_stream_cut tells) and the search goes on after its start. feed returns 1 once
 * it matched (no need to feed more), 0 so far none, < 0 an error; end says for the whole text.
 * Uses re's match data (not reentrant for one regex, but streams of one regex may interleave). */
#define REGEX_STREAM_WINDOW (1024 * 1024)
struct regex_stream;
struct regex_stream *regex_stream_new(struct regex *re);     /* NULL when out of memory */
int regex_stream_feed(struct regex_stream *st, const char *s, size_t n);
int regex_stream_end(struct regex_stream *st);
bool regex_stream_cut(const struct regex_stream *st);
void regex_stream_free(struct regex_stream *st);              /* NULL-safe */

/* Writes a message for a negative regex_match result into buf ("regex: match limit exceeded"). */
void regex_error_text(int rc, char *buf, size_t buflen);

#endif
