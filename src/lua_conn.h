/* lua_conn.h — private to the connection binding: lua_conn.c (connect, information, waiting,
 * IDLE, registration), lua_handle.c (command handles), lua_commands.c (the queued commands),
 * lua_raw.c (conn:command: any command, its untagged replies as tables), lua_listen.c (IDLE held
 * open, NOTIFY, the events they bring), lua_loop.c (the loop, tasks); lua_managesieve.c reads
 * its settings with the same helpers. */
#ifndef IMAPSCRIPT_LUA_CONN_H
#define IMAPSCRIPT_LUA_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "arena.h"
#include "lua_bind.h"
#include "msgset.h"
#include "session.h"
#include "transfer.h"

/* Connection uservalue 1: the table of pending handles (handle -> true): keeps every handle
 * whose command may still be written to alive until the session is done with it. */
enum { CONN_UV_PENDING = 1, CONN_NUV = 1 };

/* What the server said about one mailbox since conn:events() last took it (lua_listen.c). */
struct lconn_event {
    char *mailbox;                  /* UTF-8 */
    unsigned kinds;                 /* SESSION_EV_* */
    struct session_status_info st;  /* the latest STATUS values, -1 when absent */
};

struct lconn {
    struct session *s;              /* NULL after logout */
    lua_State *prev_driver;         /* conn_drive's value before conn_enter */
    bool busy;                      /* inside a read: no nested reads */
    bool closing;                   /* __gc/__close: callbacks must not run Lua */
    int idle_changed;               /* EXISTS/EXPUNGE/FETCH/VANISHED seen since reset */
    struct lconn_event *events;     /* one per mailbox, in arrival order */
    size_t nevents, capevents;
    bool events_lost;               /* more mailboxes than kept: the watcher checks all */
    int delim;                      /* cached LIST "" "" delimiter: -2 unknown, -1 NIL */
    int warnref, traceref;          /* registry refs: warn function, trace file */
    luaL_Stream *trace;
    int cberr;                      /* registry ref of a fetch callback's error, or LUA_NOREF */
    uint64_t seq;                   /* handles created */
    char *queued_mailbox;           /* last SELECT/EXAMINE queued, for messages */
    bool echo_stores;               /* that SELECT feeds a mirror: STOREs say what they did */
    void **mirrors;                 /* the mirrors it ever fed (lua_mirror.c), kept alive */
    size_t nmirrors, capmirrors;
    struct arena scratch;           /* envelope decoding during a fetch callback */
    struct session_counters last;   /* counters at logout */
    char label[256];
};

enum hkind { H_SIMPLE, H_SELECT, H_SEARCH, H_FETCH, H_COPY, H_APPEND, H_LIST, H_STATUS, H_RAW,
             H_TRANSFER };

/* Handle uservalues: the connection (keeps it alive), the converted result (value or error
 * object), the mailbox the command names, the mailbox it comes from (copy/move/rename), the
 * connection a transfer appends to. */
enum { H_UV_CONN = 1, H_UV_RESULT, H_UV_MAILBOX, H_UV_FROM, H_UV_TARGET, H_NUV = 5 };

struct lhandle {
    struct lconn *lc;
    struct session_cmd *cmd;        /* NULL: finished without a queued command (see sync_*) */
    enum hkind kind;
    char name[24];                  /* "UID MOVE", for messages and handle:command() */
    bool confirmed;                 /* complete and out of the pending table */
    bool dead;                      /* collected while its command was in flight */
    bool released;                  /* cmd and outputs freed */
    bool cached;                    /* result converted into H_UV_RESULT */
    int sync_code;                  /* cmd == NULL: 0 or SESSION_ERR_* */
    char *sync_msg;                 /* cmd == NULL: malloc'd message for sync_code */
    uint64_t seq;
    int fnref;                      /* fetch callback, or a raw command's untagged list: registry ref */
    struct lfetch *fx;              /* H_FETCH: what its items make of bodies (lua_fetch.c) */
    struct transfer *tr;            /* H_TRANSFER: owns its FETCH (cmd stays NULL) and APPENDs */
    int fxref;                      /* registry ref keeping fx alive */
    bool raw_part;                  /* H_RAW: the untagged reply arriving in parts is its */
    union {
        struct msgset set;
        struct { struct session_copyuid cu; struct msgset src, dst; } copy;
        struct session_list list;
        struct session_status_info st;
    } out;
};

/* lua_conn.c */
struct lconn *conn_check(lua_State *L, int idx);
/* Pushes 2: nil and an error object "<label>: <what>: the connection is logged out". */
int conn_push_closed(lua_State *L, struct lconn *lc, const char *what);
/* Pushes 2: nil and an error object for a failed synchronous session call. */
int conn_push_error(lua_State *L, struct lconn *lc, int rc, const char *what, const char *mailbox,
                    const char *err);
/* What every connection to a mail server takes from its settings table (core.connect's, also
 * core.managesieve's). Strings stay owned by the table. */
struct conn_fields {
    const char *host, *ca_file, *fingerprint, *user, *password, *token, *label;
    const char *tunnel;             /* a command instead of host:port (core.connect only) */
    size_t password_len;
    unsigned port;                  /* 0 when not given */
    int timeout_ms;                 /* connect and each read or write; 60 s when not given */
    bool insecure, allow_plaintext;
    enum session_auth auth[SESSION_AUTH_MAX];
};
/* Reads them from the table at idx: host (required unless tunnel), tunnel, port, timeout,
 * insecure, ca_file, fingerprint, user, password, token, label, auth, allow_plaintext; a bad
 * one is a usage error naming it. Pops nothing, pushes nothing. */
void conn_fields_read(lua_State *L, int idx, struct conn_fields *f);
/* The index of the table's string field name among opts (NULL-terminated), def when nil; a
 * usage error otherwise. Pops nothing, pushes nothing. */
int opt_enum_field(lua_State *L, int idx, const char *name, const char *const *opts, int def);
/* Before a call that reads: callbacks may run on L. Refuses nested reads (from a callback). */
void conn_enter(lua_State *L, struct lconn *lc);
/* After the read: raises the first error a fetch callback threw, if any. */
void conn_leave(lua_State *L, struct lconn *lc);

/* lua_listen.c: the session event handler (records events, counts IDLE news), the listening
 * methods, and freeing what the events hold. */
void conn_event(void *ud, const struct imap_response *r);
extern const luaL_Reg conn_listen_methods[];
void conn_events_free(struct lconn *lc);

/* lua_loop.c: the thread that drives the loop now, on which every connection's callbacks run
 * (NULL: none may run Lua). conn_drive sets it and returns the previous one. */
lua_State *conn_drive(lua_State *L);
lua_State *conn_driver(void);
/* True inside a coroutine made a task (core.task): conn:wait and conn:logout yield there. */
bool conn_in_task(lua_State *L);

/* lua_commands.c: the command methods of a connection, and the selected (or last queued)
 * mailbox, for messages; NULL when none. */
extern const luaL_Reg conn_command_methods[];
const char *conn_mailbox(struct lconn *lc);

/* lua_fetch.c: big literals and bodies of conn:fetch. lfetch_new pushes a new state (its
 * uservalue 1 keeps a {"match"} regex alive); lfetch_item reads a table item {"text", max},
 * {"match", re, max} or {"save", path, part, encoding} at fidx into it and pushes its wire text
 * (false, nothing pushed, for another table); lfetch_literal is the session_literal_fn;
 * lfetch_complete adds to the message table on top what the message's literals made, and
 * lfetch_reset lets go of what a message holds. */
struct lfetch;
struct lfetch *lfetch_new(lua_State *L);
void lfetch_set_raw(struct lfetch *fx);
bool lfetch_item(lua_State *L, struct lfetch *fx, int fidx, int uv);
int lfetch_literal(void *ud, const struct session_literal *l);
void lfetch_complete(lua_State *L, struct lhandle *h, const struct imap_fetch *f);
void lfetch_reset(lua_State *L, struct lfetch *fx);

/* lua_mirror.c: the mirror at idx (a usage error otherwise), with the watch to give the SELECT
 * that feeds it; attach keeps it alive while the connection may still feed it, detach_all lets
 * go (after the session is freed). */
struct mirror *lua_mirror_check(lua_State *L, int idx, session_watch_fn *fn, void **ud);
void lua_mirror_attach(struct lconn *lc, void *ud);
void lua_mirror_detach_all(struct lconn *lc);

/* lua_raw.c: conn:command, and the value of a raw command's handle (pushes 1). */
extern const luaL_Reg raw_command_methods[];
void lua_raw_push(lua_State *L, struct lhandle *h);

/* lua_handle.c */
extern const luaL_Reg handle_methods[], handle_meta[];
struct lhandle *handle_check(lua_State *L, int idx);
/* 0 when the handle succeeded, else its SESSION_ERR_* code. Only for done handles. */
int handle_code(const struct lhandle *h);
/* True once the handle's command is complete (or it never had one). */
bool handle_done(const struct lhandle *h);
/* Marks h (at hidx) complete and removes it from the pending table of the connection at cidx. */
void handle_confirm(lua_State *L, int cidx, int hidx, struct lhandle *h);
/* Marks every pending handle of the connection at cidx complete (the session finished or freed
 * them all) and releases those already collected. With first, leaves on the stack the
 * earliest failed handle among them (or nil): pushes 1; else pushes nothing. */
void conn_confirm_all(lua_State *L, int cidx, bool first);
/* Converts a done handle's outcome (at idx), once, into H_UV_RESULT. Pushes nothing. */
void handle_cache(lua_State *L, int idx, struct lhandle *h);
/* Pushes a new handle for the connection at index 1 (its kind and command name set, no command
 * yet) and returns it. mailbox/from (may be NULL) name what the command works on. Pushes 1. */
struct lhandle *handle_new(lua_State *L, enum hkind kind, const char *name, const char *mailbox,
                           const char *from);
/* Gives the handle on top its queued command and puts it in the pending table. A NULL cmd
 * (out of memory) raises. Pushes nothing. */
void handle_attach(lua_State *L, struct lhandle *h, struct session_cmd *cmd);
/* Puts the handle on top in the pending table (handle_attach without a command: a transfer's
 * commands are its own). Pushes nothing. */
void handle_pend(lua_State *L, struct lhandle *h);
/* Makes a handle finished without a command: code 0 or SESSION_ERR_*, msg for people.
 * Pushes nothing. */
void handle_finish(lua_State *L, struct lhandle *h, int code, const char *msg);
/* The session to queue the handle's command on, or NULL after logout (the handle is then
 * finished as failed, kind "closed"). */
struct session *handle_session(lua_State *L, struct lhandle *h);

#endif
