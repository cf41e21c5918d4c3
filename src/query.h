/* query.h — immutable, reference-counted search-query trees (RFC 3501 §6.4.4, RFC 7162 MODSEQ,
 * RFC 5032 OLDER/YOUNGER) and their SEARCH wire text. */
#ifndef IMAPSCRIPT_QUERY_H
#define IMAPSCRIPT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct command;
struct msgset;

enum query_op {
    /* keys without argument: query_key */
    QUERY_ALL, QUERY_ANSWERED, QUERY_DELETED, QUERY_DRAFT, QUERY_FLAGGED, QUERY_NEW,
    QUERY_OLD, QUERY_RECENT, QUERY_SEEN, QUERY_UNANSWERED, QUERY_UNDELETED, QUERY_UNDRAFT,
    QUERY_UNFLAGGED, QUERY_UNSEEN,
    /* string keys: query_string (X-GM-RAW: Gmail's search syntax, X-GM-EXT-1) */
    QUERY_BCC, QUERY_BODY, QUERY_CC, QUERY_FROM, QUERY_SUBJECT, QUERY_TEXT, QUERY_TO,
    QUERY_GMRAW,
    /* query_header */
    QUERY_HEADER,
    /* flag keys: query_keyword */
    QUERY_KEYWORD, QUERY_UNKEYWORD,
    /* number keys: query_number. LARGER/SMALLER 0..2^32-1, MODSEQ 0..2^63-1,
     * OLDER/YOUNGER 1..2^32-1 (seconds; RFC 5032 WITHIN), Gmail's X-GM-MSGID/X-GM-THRID
     * 1..2^63-1 */
    QUERY_LARGER, QUERY_SMALLER, QUERY_MODSEQ, QUERY_OLDER, QUERY_YOUNGER,
    QUERY_GMMSGID, QUERY_GMTHRID,
    /* date keys: query_date */
    QUERY_BEFORE, QUERY_ON, QUERY_SINCE, QUERY_SENTBEFORE, QUERY_SENTON, QUERY_SENTSINCE,
    /* sets: query_uidset ("UID 1:5"), query_seqset (bare "1:5") */
    QUERY_UID, QUERY_SEQ,
    /* combinations */
    QUERY_AND, QUERY_OR, QUERY_NOT,
};

struct query;

/* Trees deeper than this are refused (EINVAL) so that emitting and freeing stay bounded. */
#define QUERY_MAX_DEPTH 200

/* Ownership: every constructor returns a new reference (refcount 1) that the caller releases
 * with query_unref. Nodes never change after construction, so subtrees may be shared freely
 * (a & b, a | c, ~a all reuse a). Constructors that take nodes BORROW them: they take their own
 * references, and the caller still owns (and must unref) the ones it passed.
 * On failure constructors return NULL with errno = EINVAL (bad op or argument) or ENOMEM.
 * Reference counts are not atomic: a tree belongs to one thread. */
struct query *query_key(enum query_op op);
/* BCC BODY CC FROM SUBJECT TEXT TO X-GM-RAW. s[0..len) must be valid UTF-8 without NUL. */
struct query *query_string(enum query_op op, const char *s, size_t len);
/* HEADER name value; name: non-empty printable ASCII without ':' or space; value as above. */
struct query *query_header(const char *name, size_t namelen, const char *value, size_t valuelen);
/* KEYWORD / UNKEYWORD flag; flag must be an atom (no atom-specials, no '\'). */
struct query *query_keyword(enum query_op op, const char *flag);
struct query *query_number(enum query_op op, uint64_t n);
/* BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE; year 1..9999, a real calendar date. */
struct query *query_date(enum query_op op, int y, int m, int d);
/* Copies the set. An empty set matches nothing (sent as "NOT ALL"). */
struct query *query_uidset(const struct msgset *s);
struct query *query_seqset(const struct msgset *s);
/* AND / OR of n nodes. Simplified on construction: nested ANDs (ORs) are flattened; ALL is
 * dropped from an AND; one child gives that child; empty AND is ALL; empty OR matches nothing
 * ("NOT ALL"). A NULL kid is EINVAL. */
struct query *query_and(struct query *const *kids, size_t n);
struct query *query_or(struct query *const *kids, size_t n);
/* NOT q; NOT NOT x gives x. */
struct query *query_not(struct query *q);

struct query *query_ref(struct query *q);   /* returns q with one more reference; NULL-safe */
void query_unref(struct query *q);          /* NULL-safe; frees the node when the last goes */

enum query_op query_kind(const struct query *q);

/* A node's contents, for code that walks a tree (the Sieve translator): borrowed pointers,
 * valid while q lives. Fields a kind does not use are zero/NULL. */
struct query_view {
    enum query_op op;
    const char *str;            /* string keys, HEADER's value, KEYWORD's flag */
    size_t len;
    const char *name;           /* HEADER's field name */
    uint64_t num;               /* number keys */
    int y, m, d;                /* date keys */
    struct query *const *kids;  /* AND, OR, NOT */
    size_t nkids;
    const struct msgset *set;   /* UID and sequence sets */
};
void query_view(const struct query *q, struct query_view *out);

/* Appends the search keys to a command being built (after "UID SEARCH" and any CHARSET):
 * strings through command_string, so 8-bit text becomes a literal unless c->utf8. A top-level
 * AND is a plain key list; an AND inside OR/NOT is parenthesised; OR of n is nested binary ORs
 * "OR a OR b c". Returns 0 or the command's sticky error. */
int query_emit(const struct query *q, struct command *c);
/* The same for the messages with UIDs lo..hi only: "(UID lo:hi keys)" with every UID set of
 * q cut to lo..hi (one with nothing left there as "NOT ALL"). Returns 0 or the sticky error. */
int query_emit_within(const struct query *q, struct command *c, uint32_t lo, uint32_t hi);
/* Where to cut the UID space so that q's UID sets, cut there, each take at most about budget
 * bytes of text (query_emit_within per piece): *cuts (malloc'd, ascending, *ncuts of them,
 * none when q fits) are the first UIDs of the second, third, ... piece; the first piece starts
 * at 1, the last ends at 4294967295. Returns 0, -ENOMEM or -EINVAL. */
int query_split_uids(const struct query *q, size_t budget, uint32_t **cuts, size_t *ncuts);
/* True when some string holds 8-bit bytes: the caller then sends "CHARSET UTF-8" before the
 * keys — unless UTF8=ACCEPT is enabled (RFC 6855 forbids CHARSET then). */
bool query_needs_utf8(const struct query *q);
/* The wire text for tostring() and dry runs: exactly what follows "UID SEARCH" on a server with
 * LITERAL+ and without UTF8=ACCEPT, "CHARSET UTF-8" and literals ("{7+}\r\nGr\xc3\xbc...")
 * included. malloc'd, caller frees; NULL if out of memory. */
char *query_to_string(const struct query *q);

/* For servers without WITHIN: *out = q with OLDER n rewritten to BEFORE (now - n) and
 * YOUNGER n to SINCE (now - n), dates taken in local time. Day granularity: OLDER may miss
 * messages from the boundary day, YOUNGER may include older messages from it. *out is a new
 * reference (q itself, referenced, when nothing changes). Returns 0, -ENOMEM, -EINVAL. */
int query_without_within(struct query **out, const struct query *q, time_t now);
/* True when q contains OLDER or YOUNGER. */
bool query_uses_within(const struct query *q);
/* True when q contains a Gmail key (X-GM-RAW, X-GM-MSGID, X-GM-THRID). */
bool query_uses_gmail(const struct query *q);

/* The replacement for "the message has flag" ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
 * "\\Draft", or a keyword as written): a new reference, or NULL to keep the key as it is. */
typedef struct query *(*query_flag_fn)(void *ud, const char *flag);
/* For dry runs that model flag changes: *out = q with each flag key replaced through fn (SEEN by
 * fn("\\Seen"), UNSEEN by its NOT, NEW by RECENT and the NOT, KEYWORD k by fn(k), ...); RECENT and
 * OLD stay. *out is a new reference (q itself when nothing changes). 0, -ENOMEM or -EINVAL. */
int query_map_flags(struct query **out, const struct query *q, query_flag_fn fn, void *ud);

#endif
