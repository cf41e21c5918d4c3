/* session_int.h — private to the session_*.c files: session.c (the core: queue, dispatch),
 * session_io.c (the loop: writing, reading, waiting), session_ops.c (typed commands),
 * session_login.c, session_idle.c, session_notify.c, session_trace.c. */
#ifndef IMAPSCRIPT_SESSION_INT_H
#define IMAPSCRIPT_SESSION_INT_H

#include "arena.h"
#include "command.h"
#include "loop.h"
#include "session.h"
#include "transport.h"

struct session_cmd {
    struct session *s;              /* NULL once detached (session freed) */
    struct session_cmd *qnext;      /* in-flight queue */
    struct session_cmd *part;       /* next part of a split command (owned by the head) */
    bool in_flight;                 /* in s's queue */
    bool orphan;                    /* owner freed it while in flight */
    bool has_secret;                /* wipe buf when done */
    bool barrier;                   /* nothing after it is written until it completes */
    bool await_cont;                /* written up to a literal wait point, needs "+" */
    bool is_logout;
    bool released;                  /* the owner flushed or waited: the loop may write it */
    bool switches_stream;           /* STARTTLS, COMPRESS: the session reads nothing after the
                                     * reply until the stream changed (session_resume) */
    bool own_hooks;                 /* on_done/h use only the command's own data (SELECT) */
    bool open;                      /* still being filled (session_stream.c): nothing after it
                                     * is written, and it is not late while it waits for bytes */
    bool is_select;                 /* SELECT/EXAMINE: the responses while it is the oldest
                                     * command are its own */
    char tag[16];
    char what[200];                 /* "UID MOVE", "SELECT Archive" for messages */
    char *buf;                      /* the encoded command; buf[0] is byte `drop` of it */
    size_t len, woff;               /* len: bytes so far, woff: written (both from its start) */
    size_t drop, cap;               /* written bytes let go of (an open command's) ; buf's size */
    size_t *waits;
    size_t nwaits, wi;
    size_t unacked;                 /* bytes of it written (window accounting) */
    session_handler h;
    void *ud;
    /* Internal hooks for typed commands. */
    void (*on_done)(struct session_cmd *c, const struct imap_response *r);  /* tagged reply */
    int (*on_cont)(struct session_cmd *c, const struct imap_response *r);   /* "+" not for a literal */
    void (*on_free)(struct session_cmd *c);
    void (*on_orphan)(struct session_cmd *c);   /* owner freed it in flight (own_hooks only) */
    /* A part of a response still arriving (parser.h: a big literal, a long line of numbers):
     * offered to written commands that have this hook; 1 takes it (a literal's bytes then
     * come as IMAP_PART_DATA, a line's next parts and its tail too), 0 passes, < 0 takes it
     * and fails the command (set a message first): the rest is dropped. */
    int (*on_part)(struct session_cmd *c, const struct imap_response *r);
    void (*on_drain)(struct session_cmd *c);    /* an open command's backlog ran low */
    session_handler part_h;         /* session_cmd_take_lines: the caller's on_part */
    void *priv;
    struct session_result res;
    char *strs[6];                  /* owned copies behind res's strings */
    char errbuf[600];
};

struct session {
    /* configuration (owned copies) */
    struct session_config cfg;
    char *host, *verify_name, *ca_file, *fingerprint, *user, *password, *token, *label, *tunnel;
    size_t password_len, token_len;

    struct transport *t;
    struct loop *loop;
    struct loop_timer timer;        /* the I/O timeout, armed while a reply is due */
    int64_t last_io;                /* loop_now_ms() of the last byte read or written */
    bool hold;                      /* see switches_stream */
    bool doomed;                    /* freed inside its own dispatch: memory goes after the round */
    struct transport_stats last_stats;  /* t's counters when the session broke */
    struct imap_parser *p;
    uint64_t committed;             /* bytes given to the parser */
    struct arena scratch;           /* per-response decoding, reset after each dispatch */
    unsigned long tagn;
    enum session_state state;
    bool got_greeting, preauth, bye_seen;
    int in_dispatch;                /* its loop callback is running (handlers, callbacks) */
    bool paused;                    /* session_pause: nothing is read */
    struct session_cmd *part_cmd;   /* took the parts of the response arriving now */
    bool part_drop;                 /* that response's parts go nowhere */
    char bye_text[200];

    char **caps;
    size_t ncaps;
    bool caps_fresh;                /* set whenever caps are replaced */
    char **enabled;
    size_t nenabled;

    struct session_view view;
    session_watch_fn watch;         /* follows the current selection (session_select_watch_start) */
    void *watch_ud;

    struct session_cmd *qhead, *qtail;
    size_t unacked;                 /* written bytes of incomplete commands */
    char *out;                      /* write coalescing */
    size_t outcap;

    uint64_t ncommands;
    session_event_fn ev;
    void *ev_ud;
    int idle_events;                /* untagged responses seen while idling */
    int idle_seen;                  /* of those, how many session_idle_wait reported */
    struct session_cmd *idle;       /* the IDLE command, owned by the session until DONE */

    /* incoming trace */
    char tline[1024];
    size_t tlen;
    bool ttrunc;
    uint64_t tlit;                  /* literal bytes left */
    uint64_t tlit_total;
    bool tlit_show;

    int errcode;
    char err[600];
};

/* session.c, for session_ops.c */
struct session_cmd *cmd_failed(struct session *s, const char *what, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct session_cmd *cmd_send(struct session *s, struct command *c, const char *what,
                             session_handler h, void *ud);
/* Queues c's bytes (no CRLF yet) as an open command whose bytes follow (session_stream.c). */
struct session_cmd *cmd_send_open(struct session *s, struct command *c, const char *what);
/* command_init with the session's literal mode, UTF-8 and BINARY (session_command_start's). */
void session_command_init(struct session *s, struct command *c);
/* session_ops.c: a flag (or keyword) a command may carry. */
bool flag_ok(const char *f);
int cmd_finish(struct session *s, struct session_cmd *c, char *err, size_t errlen);
/* Appends sc to the parts of a split command (head, last); false when sc failed before it was
 * sent: the pieces after it are not made. */
bool cmd_chain(struct session_cmd **head, struct session_cmd **last, struct session_cmd *sc);
void session_trace_out(struct session *s, const char *text, size_t len);
void view_clear(struct session_view *v);
/* Makes fn the watch of the current selection; the one it replaces (unless the same) hears END. */
void session_watch_set(struct session *s, session_watch_fn fn, void *ud);
int strv_from_values(const struct imap_value *items, size_t n, char ***out, size_t *nout);
void strv_free(char **v, size_t n);
/* Replaces *v (*n strings) with items' texts as strv_from_values copies them; on failure (out
 * of memory) returns -1 and keeps the old. */
int strv_replace(char ***v, size_t *n, const struct imap_value *items, size_t nitems);
int caps_set_from_values(struct session *s, const struct imap_value *items, size_t n);
int map_transport(int rc);
bool cmd_complete(const struct session_cmd *c);
/* Takes c out of the queue (complete), freeing it if its owner already let go. */
void cmd_complete_now(struct session *s, struct session_cmd *c);
void session_break(struct session *s, int code, const char *why);
/* Closes the connection, keeping its counters (session_break, and the end after LOGOUT). */
void session_close_transport(struct session *s);
/* One response to its command, the view and the event handler. */
void session_dispatch(struct session *s, const struct imap_response *r);
/* session_io.c: watch the transport once the greeting is in. */
void session_attach(struct session *s);
/* Reading goes on after a stream switch (or its refusal). */
void session_resume(struct session *s);
/* Writes bytes outside any command ("DONE"), breaking the session when that fails. */
void session_send_line(struct session *s, const char *line, size_t len);
/* Writes what released commands it may, without waiting. 0 or the session's error code. */
int session_push(struct session *s);
/* Runs the loop until done(s, arg), at most timeout_ms (< 0: no limit). Returns 1 once done
 * holds, 0 when the time ran out, SESSION_ERR_USAGE inside a loop callback, or the session's
 * error code once it broke. */
typedef bool (*session_cond)(const struct session *s, const void *arg);
int session_run(struct session *s, session_cond done, const void *arg, int timeout_ms);
/* Inside a loop callback (this session's or another's): waiting is impossible. */
bool session_waiting_forbidden(const struct session *s);
void warnf(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* session_ops.c: a mailbox name from the wire to UTF-8 (malloc'd): mUTF-7 decoded unless
 * UTF8=ACCEPT is on; names that do not decode are kept raw. */
char *name_from_wire(struct session *s, const char *wire);
/* session_login.c: a command without arguments ("NOOP"). */
struct session_cmd *cmd_simple(struct session *s, const char *verb);
/* session_trace.c */
bool session_tracing(const struct session *s);
void session_trace_in(struct session *s, const char *buf, size_t n);

#endif
