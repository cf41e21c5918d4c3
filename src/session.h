/* session.h — one IMAP connection: greeting, STARTTLS, login, capabilities, the selected-mailbox
 * view, and a queue of pipelined commands whose untagged replies are claimed per command.
 *
 * Two levels:
 *  - typed synchronous calls (session_select, session_search, ...) that send, wait and return
 *    0 or a SESSION_ERR_* code with a message in err — what most callers use;
 *  - the pipelining core: every typed command also has a *_start variant that only queues the
 *    command and returns its struct session_cmd; nothing is written until session_wait,
 *    session_wait_all or session_flush, so a batch of N independent commands costs one round
 *    trip. Results land in caller-owned output structs given to *_start, which must stay alive
 *    until the command is complete.
 *
 * Every session lives on a loop (loop.h; the process' default one unless the config names
 * another): whatever arrives is read and dispatched whenever that loop runs, whoever runs it.
 * So a wait on one session lets every other session progress: flush several, wait on each,
 * and their round trips overlap. Handlers, callbacks and the event handler therefore run
 * during any wait on the loop, not only during one on their own session.
 *
 *   struct session_status_info st[20]; struct session_cmd *c[20];
 *   for (i = 0; i < 20; i++) c[i] = session_status_start(s, names[i], &st[i]);
 *   session_wait_all(s);                                   // 1 round trip
 *   for (i = 0; i < 20; i++) { if (session_cmd_result(c[i])->status == SESSION_OK) ...;
 *                              session_cmd_free(c[i]); }
 *
 * Mailbox names are UTF-8 everywhere in this API (mUTF-7 on the wire). Message sets are UIDs;
 * a NULL `const struct msgset *set` means "$", the SEARCHRES saved result (RFC 5182). */
#ifndef IMAPSCRIPT_SESSION_H
#define IMAPSCRIPT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decode.h"
#include "parser.h"

struct command;
struct loop;
struct msgset;
struct query;
struct session;
struct session_cmd;

/* Error codes: every failing call returns one of these (negative). main maps NET and TLS to
 * exit code 3, AUTH to 4. */
enum {
    SESSION_ERR_NET         = -1,   /* resolve/connect/read/write failure or timeout */
    SESSION_ERR_TLS         = -2,   /* handshake, verification, pin mismatch, STARTTLS missing */
    SESSION_ERR_AUTH        = -3,   /* NO to LOGIN/AUTHENTICATE, LOGINDISABLED, no usable mechanism */
    SESSION_ERR_NO          = -4,   /* the server said NO */
    SESSION_ERR_BAD         = -5,   /* the server said BAD */
    SESSION_ERR_PROTOCOL    = -6,   /* unparsable server output (message has the offset) */
    SESSION_ERR_CLOSED      = -7,   /* BYE or connection closed while commands were in flight */
    SESSION_ERR_UNSUPPORTED = -8,   /* the server lacks a capability the command needs; not sent */
    SESSION_ERR_NOMEM       = -9,
    SESSION_ERR_USAGE       = -10,  /* bad argument from the caller (empty set, bad name, ...) */
    SESSION_ERR_CALLBACK    = -11,  /* a caller's callback asked to stop (FETCH), message is its */
};

enum session_tls { SESSION_TLS_IMPLICIT, SESSION_TLS_STARTTLS, SESSION_TLS_NONE };
/* How to log in. LOGIN is the IMAP LOGIN command; the others are AUTHENTICATE with that SASL
 * mechanism (src/sasl.c); AUTO picks the strongest the server offers for the credential. */
enum session_auth {
    SESSION_AUTH_AUTO, SESSION_AUTH_LOGIN, SESSION_AUTH_PLAIN, SESSION_AUTH_SASL_LOGIN,
    SESSION_AUTH_CRAM_MD5, SESSION_AUTH_SCRAM_SHA_1, SESSION_AUTH_SCRAM_SHA_256,
    SESSION_AUTH_XOAUTH2, SESSION_AUTH_OAUTHBEARER,
};
#define SESSION_AUTH_MAX 9          /* entries of session_config.auth */
/* "scram-sha-256" -> SESSION_AUTH_SCRAM_SHA_256 (also "auto", "login", "authenticate-login"),
 * case-insensitive; -1 when unknown. */
int session_auth_parse(const char *name);

/* Trace sink: dir is 'C' (client to server) or 'S'; line has no CRLF and holds no secret. */
typedef void (*session_trace_fn)(void *ud, char dir, const char *line, size_t len);
typedef void (*session_warn_fn)(void *ud, const char *msg);

struct session_config {
    const char *host;               /* may be NULL with a tunnel */
    unsigned port;                  /* 0: 993 for IMPLICIT, 143 otherwise */
    /* A command run with /bin/sh -c instead of connecting to host:port: IMAP over its stdin and
     * stdout (a PREAUTH greeting needs no login), its stderr lines passed to warn prefixed with
     * the label. It counts as a local peer for sending a password without TLS. */
    const char *tunnel;
    enum session_tls tls;
    const char *verify_name;        /* name to verify in the certificate (default host) */
    const char *ca_file;            /* instead of the system store */
    const char *fingerprint;        /* SHA-256 pin of the server certificate */
    bool insecure;                  /* no certificate verification (caller warns) */
    const char *user;               /* NULL: no login in session_open */
    const char *password;           /* bytes, never logged */
    size_t password_len;            /* 0: strlen(password) */
    const char *token;              /* an OAuth2 access token (XOAUTH2, OAUTHBEARER), never logged */
    /* Methods in order of preference, the first AUTO ending the list; all AUTO (the default):
     * a token gives OAUTHBEARER, else XOAUTH2; a password SCRAM-SHA-256, SCRAM-SHA-1, (without
     * TLS: CRAM-MD5,) PLAIN, LOGIN, AUTHENTICATE LOGIN — each only when the server offers it. */
    enum session_auth auth[SESSION_AUTH_MAX];
    /* Send a password or token in clear without TLS even to a host other than loopback or to a
     * server saying LOGINDISABLED (with a warning); otherwise such a login is refused. */
    bool allow_plaintext;
    int connect_timeout_ms;         /* 0: 30 s */
    int io_timeout_ms;              /* 0: 30 s; each read/write */
    const char *label;              /* account label in messages; default "user@host" ("user@tunnel") */
    session_trace_fn trace;         /* wire trace callback, or ... */
    FILE *trace_file;               /* ... lines "C: A1 LOGIN alice ***" / "S: * OK ..." */
    void *trace_ud;
    session_warn_fn warn;           /* server [ALERT]s, ignored oddities */
    void *warn_ud;
    bool no_literal_plus;           /* ignore LITERAL+/LITERAL- (tests the synchronising path) */
    bool no_sasl_ir;                /* ignore SASL-IR (tests the continuation path) */
    bool compress;                  /* COMPRESS=DEFLATE after login when offered */
    size_t max_line;                /* longest reply line taken (0: 1 MiB); long SEARCH, SORT,
                                     * ESEARCH and THREAD lines are read in parts instead */
    struct loop *loop;              /* NULL: loop_default() */
};

/* ---- lifecycle ------------------------------------------------------------------------ */

/* Connects, reads the greeting, does STARTTLS when cfg->tls says so (refusing to go on in
 * plaintext if the server does not offer it), learns capabilities, and logs in when cfg->user
 * is set (unless PREAUTH). Returns 0 with *out, or a code with err filled; *out is NULL then.
 * The config's strings are copied. */
int session_open(const struct session_config *cfg, struct session **out, char *err, size_t errlen);
/* Only connect + greeting (+ STARTTLS if configured): for tests and callers that log in later. */
int session_connect(const struct session_config *cfg, struct session **out, char *err, size_t errlen);
/* Logs in with the configured user/password and method, then refreshes capabilities. */
int session_login(struct session *s, char *err, size_t errlen);
/* COMPRESS DEFLATE (RFC 4978; needs COMPRESS=DEFLATE, nothing else in flight). session_open does
 * it after login when cfg->compress is set; a refusal there is only a warning. */
int session_compress(struct session *s, char *err, size_t errlen);
/* LOGOUT (waits for the tagged OK; BYE is expected). The session is unusable afterwards. */
int session_logout(struct session *s, char *err, size_t errlen);
/* Closes the connection without LOGOUT and frees everything. Commands still in flight are
 * failed and detached; their owners must still session_cmd_free them. NULL is fine. From
 * inside one of the session's own callbacks the memory goes at the end of the loop's round. */
void session_free(struct session *s);
/* LOGOUT queued (the session is LOGOUT once its reply came); wait like any command. */
struct session_cmd *session_logout_start(struct session *s);

/* ---- state ---------------------------------------------------------------------------- */

enum session_state { SESSION_NOT_AUTH, SESSION_AUTH, SESSION_SELECTED, SESSION_LOGOUT, SESSION_BROKEN };
enum session_state session_state(const struct session *s);
/* Why the session is BROKEN ("UID MOVE: connection closed by server (BYE Shutting down)"). */
const char *session_error(const struct session *s);
const char *session_label(const struct session *s);

/* Capabilities as last announced (upper-cased). Case-insensitive lookup; "AUTH=PLAIN" works. */
bool session_has_cap(const struct session *s, const char *cap);
const char *const *session_caps(const struct session *s, size_t *n);
/* Extensions the server confirmed with ENABLED ("CONDSTORE", "QRESYNC", "UTF8=ACCEPT"). */
bool session_enabled(const struct session *s, const char *ext);

/* The selected mailbox; name is NULL when nothing is selected. Updated by SELECT/EXAMINE and by
 * every unsolicited EXISTS/EXPUNGE/VANISHED/FLAGS/RECENT/[UIDNEXT]/[HIGHESTMODSEQ]. */
struct session_view {
    char *name;                     /* UTF-8 */
    bool read_only;
    uint32_t exists, recent, unseen;    /* unseen: [UNSEEN n] first unseen seq, 0 if none */
    uint32_t uidvalidity, uidnext;
    uint64_t highestmodseq;         /* 0 when absent or NOMODSEQ */
    char **flags;                   /* FLAGS */
    size_t nflags;
    char **permanentflags;          /* PERMANENTFLAGS, "\*" included */
    size_t npermanentflags;
    uint64_t expunges;              /* EXPUNGE / VANISHED (not EARLIER) seen since SELECT */
};
const struct session_view *session_view(const struct session *s);

/* Unclaimed untagged responses (after the view took what it wants), e.g. for IDLE. */
typedef void (*session_event_fn)(void *ud, const struct imap_response *r);
void session_set_event_handler(struct session *s, session_event_fn fn, void *ud);

struct session_counters {
    uint64_t commands;              /* tagged commands written */
    uint64_t bytes_in, bytes_out;   /* application bytes (before TLS) */
    uint64_t round_trips;           /* writes that followed a read */
    uint64_t writes, reads;
    uint64_t wire_in, wire_out;     /* socket bytes: TLS records and compression included */
    bool tls, compressed;
};
void session_counters(const struct session *s, struct session_counters *out);

/* Replies are read in parts, not held whole: literals from this size on (FETCH hands them to
 * a session_literal_fn, else they are assembled), and SEARCH/SORT/ESEARCH/THREAD lines past
 * this length (searches and raw commands take their parts). */
#define SESSION_STREAM_LITERAL (1024 * 1024)
#define SESSION_STREAM_LIST (64 * 1024)

/* Stops reading s's replies (their consumer cannot take more now), or goes on. While paused
 * they wait in the socket, and s's I/O timeout does not run. */
void session_pause(struct session *s, bool pause);

/* ---- the pipelining core -------------------------------------------------------------- */

enum session_status { SESSION_PENDING, SESSION_OK, SESSION_NO, SESSION_BAD, SESSION_FAILED };

struct session_result {
    enum session_status status;
    int code;                       /* 0 when OK, else SESSION_ERR_* */
    const char *text;               /* the server's text of the tagged reply ("" if none) */
    enum imap_code_kind code_kind;  /* response code of the tagged reply */
    const char *code_name;          /* "TRYCREATE", "APPENDUID", ... NULL when none */
    const char *code_text;          /* raw text after the name */
    uint64_t code_num;              /* UIDVALIDITY of APPENDUID/COPYUID, of a SELECT's mailbox */
    const char *set1, *set2;        /* COPYUID source/dest sets, APPENDUID uid set */
    const char *error;              /* for people, "" when OK: "UID MOVE: NO [TRYCREATE] ..." */
};

/* Offered each untagged response while the command is in flight, before the view. Return 1 to
 * claim it, 0 to pass; < 0 claims it and fails the command with that SESSION_ERR_* code (set a
 * message first with session_cmd_fail) — the session keeps reading to the tagged reply. */
typedef int (*session_handler)(struct session_cmd *c, const struct imap_response *r, void *ud);

/* Initialises c (command_init) for this session: literal mode and UTF-8 from capabilities, and
 * starts it with a fresh tag and the verb. Build the arguments with command.h, then send. */
void session_command_start(struct session *s, struct command *c, const char *verb);
/* Queues c (it must be complete: command_end done) without writing anything. Takes over c's
 * buffers (c is left empty; command_free it as usual). h may be NULL. Returns NULL only when out
 * of memory; on a BROKEN session, or if c holds an encoding error, the returned command is
 * already FAILED. The caller owns the result and frees it with session_cmd_free. */
struct session_cmd *session_send(struct session *s, struct command *c, session_handler h, void *ud);
/* The longest command line imapscript writes when it can cut a message set into pieces. */
#define SESSION_LINE_BUDGET 8000
/* Writes a command's arguments after its message set (session_send_split). */
typedef void (*session_tail_fn)(struct session *s, struct command *c, const void *arg);
/* Queues "verb piece tail" for each piece of set that fits SESSION_LINE_BUDGET (tail_len octets
 * of it for the tail), as the typed FETCH/STORE/COPY/MOVE/EXPUNGE do: one command
 * whose parts session_wait and session_cmd_result treat as one. h and ud go to every part. */
struct session_cmd *session_send_split(struct session *s, const char *verb,
                                       const struct msgset *set, size_t tail_len,
                                       session_tail_fn tail, const void *arg,
                                       session_handler h, void *ud);
/* Has the parts of a long SEARCH, SORT, ESEARCH or THREAD line (read in pieces past
 * SESSION_STREAM_LIST bytes, parser.h) offered to fn, for c and every part of it: fn(c, r, ud)
 * gets the first part (r->part IMAP_PART_VALUES; 1 takes them), then each next part and the
 * tail (r->tail) instead of the whole line, which never comes. */
void session_cmd_take_lines(struct session_cmd *c, session_handler fn);
/* Hands everything queued to the loop: writes what the socket takes now, without waiting;
 * whoever runs the loop next writes the rest and reads the replies. 0 or the session's error. */
int session_flush(struct session *s);
/* True while commands are queued or in flight. */
bool session_busy(const struct session *s);
/* Writes what is queued, then reads and dispatches until c (and every part of it, for split
 * FETCH/STORE/COPY/MOVE) is complete. Returns 0 when OK, else the command's SESSION_ERR_*.
 * Other commands finishing meanwhile get their results recorded, on this session and on every
 * other session of the loop. Inside a handler or callback (FETCH callback, event handler, of
 * any session) commands may be queued but not waited for: the wait fails with
 * SESSION_ERR_USAGE and c's unsent parts are failed. */
int session_wait(struct session *s, struct session_cmd *c);
/* Until nothing is in flight. Returns 0, or the code of the first failure of the session itself
 * (individual NO/BAD are in each command's result). */
int session_wait_all(struct session *s);
/* Runs the loop until done(arg) holds (every session of the loop progresses meanwhile): for
 * what spans sessions, such as a transfer. Returns 1 once done holds, SESSION_ERR_USAGE inside
 * a loop callback, or s's error code once s broke. */
int session_wait_for(struct session *s, bool (*done)(void *arg), void *arg);

const struct session_result *session_cmd_result(const struct session_cmd *c);
const char *session_cmd_tag(const struct session_cmd *c);
/* Records a failure message (the handler then returns the code). */
void session_cmd_fail(struct session_cmd *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Frees c (and its parts). If still in flight it is detached: the session finishes it silently. */
void session_cmd_free(struct session_cmd *c);

/* Copies c's error into err (for the sync wrappers' callers) and returns its code. */
int session_cmd_error(const struct session_cmd *c, char *err, size_t errlen);

/* ---- typed commands ------------------------------------------------------------------- */

/* A FETCH reply, decoded, valid only during the call; non-zero stops delivery. */
typedef int (*session_fetch_fn)(void *ud, const struct imap_fetch *f);
/* Each X_start queues and returns the command (free with session_cmd_free; NULL only when out
 * of memory); each sync X sends, waits, frees, and returns 0 or SESSION_ERR_* with err filled.
 * A command needing a missing capability fails UNSUPPORTED without being sent. */

int session_capability(struct session *s, char *err, size_t errlen);
int session_noop(struct session *s, char *err, size_t errlen);
struct session_cmd *session_noop_start(struct session *s);

/* ENABLE the given extensions among those the server offers (others skipped silently);
 * e.g. {"CONDSTORE", "QRESYNC", "UTF8=ACCEPT"}. Result in session_enabled. */
int session_enable(struct session *s, const char *const *exts, size_t n, char *err, size_t errlen);

/* ID: pairs of field, value (n pairs) or NULL for "ID NIL"; the server's ID is ignored. */
int session_id(struct session *s, const char *const *pairs, size_t n, char *err, size_t errlen);

/* SELECT, or EXAMINE when read_only. Fills the view; on failure nothing is selected. */
int session_select(struct session *s, const char *mailbox, bool read_only, char *err, size_t errlen);
struct session_cmd *session_select_start(struct session *s, const char *mailbox, bool read_only);
/* SELECT/EXAMINE mailbox (QRESYNC (uidvalidity modseq [known])) — RFC 7162, after
 * session_enable of QRESYNC: for a mailbox seen before, the server reports only what changed
 * since modseq: expunged UIDs (VANISHED (EARLIER), added to *vanished) and the changed messages'
 * FETCH (UID FLAGS MODSEQ) to changed(ud, f). If uidvalidity no longer matches, nothing is
 * reported: compare the view's uidvalidity and resync fully. UNSUPPORTED unless QRESYNC is on. */
struct session_qresync {
    uint32_t uidvalidity;
    uint64_t modseq;
    const struct msgset *known;     /* UIDs the caller knows, or NULL */
    struct msgset *vanished;        /* caller-initialised, or NULL */
    session_fetch_fn changed;       /* or NULL */
    void *ud;
};
int session_select_qresync(struct session *s, const char *mailbox, bool read_only,
                           const struct session_qresync *q, char *err, size_t errlen);
struct session_cmd *session_select_qresync_start(struct session *s, const char *mailbox,
                                                 bool read_only, const struct session_qresync *q);
/* Follows one selection of a mailbox, response by response: SELECTING (SELECTING_QRESYNC for a
 * SELECT with the QRESYNC parameter) when the server starts answering the SELECT (every command
 * before it is complete), then RESPONSE for each response
 * that concerns the mailbox — the SELECT's own, and from its OK on every untagged response before
 * any command claims it and every tagged reply — and END when the selection is over (another
 * SELECT, CLOSE, UNSELECT, [CLOSED], a broken connection). Runs inside the session's dispatch: it
 * must not send or wait. r is NULL for SELECTING and END. */
enum session_watch_ev {
    SESSION_WATCH_SELECTING, SESSION_WATCH_SELECTING_QRESYNC, SESSION_WATCH_RESPONSE,
    SESSION_WATCH_END,
};
typedef void (*session_watch_fn)(void *ud, enum session_watch_ev ev, const struct imap_response *r);
/* SELECT/EXAMINE (with QRESYNC when q is not NULL) whose selection fn follows. */
struct session_cmd *session_select_watch_start(struct session *s, const char *mailbox,
                                               bool read_only, const struct session_qresync *q,
                                               session_watch_fn fn, void *ud);
/* CLOSE (expunges \Deleted) or UNSELECT (does not; needs UNSELECT). */
int session_close(struct session *s, char *err, size_t errlen);
int session_unselect(struct session *s, char *err, size_t errlen);

/* LIST/LSUB results. Flags are the upper-cased attribute atoms ("\HASNOCHILDREN"). */
enum {
    SESSION_MB_NOSELECT = 1 << 0, SESSION_MB_NOINFERIORS = 1 << 1, SESSION_MB_HASCHILDREN = 1 << 2,
    SESSION_MB_HASNOCHILDREN = 1 << 3, SESSION_MB_MARKED = 1 << 4, SESSION_MB_UNMARKED = 1 << 5,
    SESSION_MB_SUBSCRIBED = 1 << 6, SESSION_MB_NONEXISTENT = 1 << 7,
    /* special use (RFC 6154) */
    SESSION_MB_ALL = 1 << 8, SESSION_MB_ARCHIVE = 1 << 9, SESSION_MB_DRAFTS = 1 << 10,
    SESSION_MB_FLAGGED = 1 << 11, SESSION_MB_JUNK = 1 << 12, SESSION_MB_SENT = 1 << 13,
    SESSION_MB_TRASH = 1 << 14, SESSION_MB_IMPORTANT = 1 << 15,
};
/* STATUS items of one mailbox (session_status, LIST-STATUS). */
struct session_status_info {
    int64_t messages, unseen, recent, uidnext, uidvalidity, highestmodseq;   /* -1 when absent */
};
struct session_mailbox {
    char *name;                     /* UTF-8 (decoded from mUTF-7) */
    char delimiter;                 /* '\0' for NIL */
    unsigned attrs;                 /* SESSION_MB_* */
    char **flags;                   /* every attribute as sent, e.g. "\HasNoChildren" */
    size_t nflags;
    bool has_status;                /* LIST-STATUS sent this mailbox's STATUS */
    struct session_status_info status;
};
struct session_list {
    struct session_mailbox *items;
    size_t n, cap;
};
void session_list_free(struct session_list *l);
/* LIST ref pattern (lsub: LSUB). With special_use and SPECIAL-USE offered, adds
 * RETURN (SPECIAL-USE). Names the server sends that are not valid mUTF-7 are kept raw
 * with a warning. */
int session_list(struct session *s, const char *ref, const char *pattern, bool lsub,
                 bool special_use, struct session_list *out, char *err, size_t errlen);
struct session_cmd *session_list_start(struct session *s, const char *ref, const char *pattern,
                                       bool lsub, bool special_use, struct session_list *out);
/* LIST ref pattern RETURN (SPECIAL-USE STATUS (...)) (LIST-STATUS, RFC 5819): the mailboxes and,
 * in the same reply, the status of each selectable one (has_status), the items of
 * session_status. Fails without LIST-STATUS. */
struct session_cmd *session_list_status_start(struct session *s, const char *ref,
                                              const char *pattern, struct session_list *out);

/* STATUS: MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY, plus HIGHESTMODSEQ with CONDSTORE. */
int session_status(struct session *s, const char *mailbox, struct session_status_info *out,
                   char *err, size_t errlen);
struct session_cmd *session_status_start(struct session *s, const char *mailbox,
                                         struct session_status_info *out);

enum session_mbop { SESSION_CREATE, SESSION_DELETE, SESSION_SUBSCRIBE, SESSION_UNSUBSCRIBE };
int session_mailbox_op(struct session *s, enum session_mbop op, const char *mailbox,
                       char *err, size_t errlen);
struct session_cmd *session_mailbox_op_start(struct session *s, enum session_mbop op,
                                             const char *mailbox);
int session_rename(struct session *s, const char *from, const char *to, char *err, size_t errlen);
struct session_cmd *session_rename_start(struct session *s, const char *from, const char *to);

/* UID SEARCH q; the matching UIDs are added to out (caller-initialised). With ESEARCH offered
 * uses RETURN (ALL). save: RETURN (SAVE ALL) — the result is also kept as "$" (needs SEARCHRES).
 * CHARSET UTF-8 is sent when the query has 8-bit text (and UTF8=ACCEPT is not enabled). */
int session_search(struct session *s, const struct query *q, bool save, struct msgset *out,
                   char *err, size_t errlen);
struct session_cmd *session_search_start(struct session *s, const struct query *q, bool save,
                                         struct msgset *out);

/* A big literal of a FETCH reply as it arrives (SESSION_STREAM_LITERAL bytes or more). */
struct session_literal {
    bool begin;                     /* first call: nothing of it has come yet (data NULL) */
    uint64_t seq, uid;              /* uid 0 when the reply had not said it before the literal */
    const char *item;               /* the item as sent, upper-cased: "BODY[]", "BINARY[2]" */
    const struct imap_value *items; /* begin: the FETCH list so far (FLAGS, INTERNALDATE, ...) */
    size_t nitems;
    uint64_t size, left;            /* its size; bytes still to come after these */
    const char *data;               /* the next bytes */
    size_t len;
};
/* At begin, returns 1 to take the literal's bytes (then called for each piece; its value in
 * the decoded FETCH is IMAP_STREAMED), 0 to have it assembled as usual. For a piece, 0, or
 * non-zero to fail the command (SESSION_ERR_CALLBACK; the rest of the literal is dropped). */
typedef int (*session_literal_fn)(void *ud, const struct session_literal *lit);

/* UID FETCH set items: items is the parenthesised-or-single item text, e.g.
 * "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])". cb gets each message as it arrives, decoded
 * (valid only during the call); returning non-zero stops delivery and fails the command with
 * SESSION_ERR_CALLBACK (the replies are still read to keep the stream in sync). Long sets are
 * split into several pipelined commands of at most ~8000 bytes each. */
int session_fetch(struct session *s, const struct msgset *set, const char *items,
                  session_fetch_fn cb, void *ud, char *err, size_t errlen);
struct session_cmd *session_fetch_start(struct session *s, const struct msgset *set,
                                        const char *items, session_fetch_fn cb, void *ud);
/* The same, with lit offered every big literal of the replies (session_literal_fn). */
struct session_cmd *session_fetch_stream_start(struct session *s, const struct msgset *set,
                                               const char *items, session_fetch_fn cb,
                                               session_literal_fn lit, void *ud);

/* UID STORE set {+,-,}FLAGS.SILENT (flags). Split like FETCH. */
enum session_store_op { SESSION_STORE_ADD, SESSION_STORE_REMOVE, SESSION_STORE_REPLACE };
int session_store(struct session *s, const struct msgset *set, enum session_store_op op,
                  const char *const *flags, size_t nflags, char *err, size_t errlen);
struct session_cmd *session_store_start(struct session *s, const struct msgset *set,
                                        enum session_store_op op, const char *const *flags,
                                        size_t nflags);
/* The same without .SILENT: the server answers with the FLAGS (and, with CONDSTORE, MODSEQ) of
 * each message it changed, which a mirror of the mailbox (mirror.h) applies. */
struct session_cmd *session_store_echo_start(struct session *s, const struct msgset *set,
                                             enum session_store_op op, const char *const *flags,
                                             size_t nflags);

/* UID COPY / UID MOVE (needs MOVE). When the server sends COPYUID (UIDPLUS), the source and
 * destination UIDs are added to src_out/dst_out (either may be NULL) and *uidvalidity_out set.
 * A NO [TRYCREATE] reply is reported as SESSION_ERR_NO with result code_kind
 * IMAP_CODE_TRYCREATE; session_copy/session_move return SESSION_ERR_NO and set *trycreate. */
struct session_copyuid {
    uint32_t uidvalidity;
    struct msgset *src, *dst;       /* caller-initialised sets, or NULL */
    bool trycreate;                 /* set when a part failed with [TRYCREATE] */
};
int session_copy(struct session *s, const struct msgset *set, const char *mailbox, bool move,
                 struct session_copyuid *out, char *err, size_t errlen);
struct session_cmd *session_copy_start(struct session *s, const struct msgset *set,
                                       const char *mailbox, bool move, struct session_copyuid *out);

/* UID EXPUNGE set (needs UIDPLUS): expunges exactly those messages (if \Deleted). */
int session_expunge(struct session *s, const struct msgset *set, char *err, size_t errlen);
struct session_cmd *session_expunge_start(struct session *s, const struct msgset *set);
/* EXPUNGE: every \Deleted message of the selected mailbox (callers without UIDPLUS clear the
 * \Deleted of messages they must keep first). */
struct session_cmd *session_expunge_all_start(struct session *s);

/* APPEND mailbox (flags) "date" {len}: date is an IMAP date-time ("01-Jan-2024 10:00:00 +0000")
 * or NULL; no flag list when nflags is 0. A msg with 8-bit or NUL bytes goes as a literal8
 * ~{len} (RFC 3516) when the server offers BINARY. An invalid flag, or a NUL byte without
 * BINARY, fails USAGE without being sent. APPENDUID (UIDPLUS) lands in *uidvalidity_out / *uid_out when not NULL;
 * after session_append_start it is in the result (code_kind IMAP_CODE_APPENDUID, code_num the
 * UIDVALIDITY, set1 the UID set). */
int session_append(struct session *s, const char *mailbox, const char *const *flags, size_t nflags,
                   const char *date, const char *msg, size_t len,
                   uint32_t *uidvalidity_out, uint32_t *uid_out, char *err, size_t errlen);
struct session_cmd *session_append_start(struct session *s, const char *mailbox,
                                         const char *const *flags, size_t nflags,
                                         const char *date, const char *msg, size_t len);

/* A streamed APPEND (session_stream.c): its messages are written as their bytes come, so one
 * can be copied from another connection's FETCH while it arrives. session_append_open queues
 * "APPEND mailbox" (releasing what is queued before it); each message is announced with
 * session_append_message (flags, date, exact size) and its bytes given with
 * session_append_data; several messages make one MULTIAPPEND (RFC 3502; the caller checks the
 * capability). session_append_close ends the command, which then completes as any other
 * (APPENDUID: code_kind IMAP_CODE_APPENDUID, set1 the new UIDs in order). Nothing queued after
 * it is written before it is closed. These return 0, or the command's error code once it
 * failed (a NO to a synchronising literal, the session broke): the caller stops feeding it. */
struct session_cmd *session_append_open(struct session *s, const char *mailbox);
int session_append_message(struct session_cmd *c, const char *const *flags, size_t nflags,
                           const char *date, uint64_t size);
int session_append_data(struct session_cmd *c, const char *data, size_t len);
int session_append_close(struct session_cmd *c);
/* The bytes of a message cannot all come (its source failed): c fails with why; if any of it
 * was written, the connection is closed, so that the server never completes the APPEND. */
void session_append_abort(struct session_cmd *c, const char *why);
/* Bytes given to c and not yet taken by the transport. drain(c, ud) is called whenever some
 * were written: the caller resumes a paused source once the backlog is low again. */
size_t session_append_backlog(const struct session_cmd *c);
void session_append_on_drain(struct session_cmd *c, void (*drain)(void *ud), void *ud);

/* NOTIFY SET (mailboxes (boxes...) (MessageNew MessageExpunge [FlagChange])) (RFC 5465; needs
 * NOTIFY): the server then reports changes to those mailboxes, unselected, as untagged STATUS
 * responses, to the event handler. boxes are UTF-8 names. */
struct session_cmd *session_notify_start(struct session *s, const char *const *boxes, size_t n,
                                         bool flags);

/* What an unsolicited response (as the event handler gets it) says about a mailbox. */
enum { SESSION_EV_NEW = 1, SESSION_EV_EXPUNGE = 2, SESSION_EV_FLAGS = 4, SESSION_EV_STATUS = 8 };
struct session_event {
    unsigned kind;                      /* one SESSION_EV_*: EXISTS, EXPUNGE/VANISHED, FETCH, STATUS */
    const char *mailbox;                /* UTF-8: the selected mailbox, or the one STATUS names;
                                         * valid during the event handler's call */
    struct session_status_info st;      /* STATUS only (else all -1) */
};
/* 0 with *out filled, or -1 when r says nothing about a mailbox. */
int session_event_decode(struct session *s, const struct imap_response *r,
                         struct session_event *out);

/* IDLE (needs IDLE): start, then wait up to timeout_ms for an untagged response (returns 1, the
 * response went to the view and the event handler), 0 on timeout, < 0 on error; then DONE. */
int session_idle_start(struct session *s, char *err, size_t errlen);
int session_idle_wait(struct session *s, int timeout_ms, char *err, size_t errlen);
int session_idle_done(struct session *s, char *err, size_t errlen);

#endif
