/* lua_session.c — the Lua binding of one IMAP connection ("imapscript.conn"), its pipelined
 * command handles ("imapscript.handle") and the error objects ("imapscript.error"). Thin glue:
 * arguments in, session.c calls, results out; policy lives in lua/imapscript.
 *
 * What Lua sees (mailbox names are UTF-8 in the server's delimiter; SET is a set userdata,
 * set text, an array of UIDs, or "$" for the saved search result):
 *   core.connect(cfg) -> conn            raises an error object (kind network/tls/auth/...)
 *   core.error(kind, message [, fields]) -> error object (tostring gives .message)
 *   conn:capabilities() conn:has(cap) conn:stats() conn:selected() conn:delimiter()
 *   conn:logout()                        waits for pending commands, LOGOUT; idempotent
 *   conn:select(name [, readonly]) conn:search(query [, {save=}]) conn:fetch(SET, items, fn)
 *   conn:store(SET, "+"|"-"|"=", flags) conn:copy(SET, dest) conn:move(SET, dest)
 *   conn:expunge(SET) conn:close_mailbox() conn:unselect() conn:append(name, text [, flags
 *   [, date]]) conn:list(ref, pat) conn:lsub(ref, pat) conn:status(name) conn:create(name)
 *   conn:delete(name) conn:rename(old, new) conn:subscribe(name) conn:unsubscribe(name)
 *   conn:noop()                          -> handle: queued, nothing written yet
 *   conn:wait([handle]) -> true | false, first error object     (never raises for NO/BAD)
 *   conn:idle(seconds) -> "changed" | "timeout" | nil, error object
 *   handle:result() -> value | nil, error object; handle:done(); handle:command()
 * Reads happen only in wait, idle, logout, delimiter, close_mailbox and unselect (the session
 * has no queued CLOSE/UNSELECT). Fetch callbacks run during those reads, on the calling thread;
 * they may queue commands but not read (usage error); the first error one raises stops that
 * FETCH's delivery and is re-raised once the read returns, the stream staying in sync.
 * __gc/__close log out without running Lua callbacks and never raise; queued commands are
 * still written before the LOGOUT. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "arena.h"
#include "command.h"
#include "lua_bind.h"
#include "lua_message.h"
#include "msgset.h"
#include "session.h"

#define CONN_TYPE   LUA_CONN_TYPE
#define HANDLE_TYPE LUA_HANDLE_TYPE
#define ERROR_TYPE  LUA_ERROR_TYPE

/* ---- error objects ------------------------------------------------------------------------ */

/* Sets t[name] = s for non-NULL s; t is on top. */
static void set_field_str(lua_State *L, const char *name, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, name);
}

/* Pushes a new error object {kind=, message=, command=, mailbox=, code=, server_text=}
 * (NULL fields left out). Pushes 1. */
static void error_push(lua_State *L, const char *kind, const char *message, const char *command,
                       const char *mailbox, const char *code, const char *server_text)
{
    lua_createtable(L, 0, 6);
    set_field_str(L, "kind", kind);
    set_field_str(L, "message", message);
    set_field_str(L, "command", command);
    set_field_str(L, "mailbox", mailbox);
    set_field_str(L, "code", code);
    set_field_str(L, "server_text", server_text);
    luaL_setmetatable(L, ERROR_TYPE);
}

/* Raises an error object of kind "usage" with a formatted message. Never returns. */
static int usage_error(lua_State *L, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_push(L, "usage", msg, NULL, NULL, NULL, NULL);
    return lua_error(L);
}

/* The error kind for a SESSION_ERR_* code. */
static const char *error_kind(int code)
{
    switch (code) {
    case SESSION_ERR_NET: return "network";
    case SESSION_ERR_TLS: return "tls";
    case SESSION_ERR_AUTH: return "auth";
    case SESSION_ERR_NO: return "no";
    case SESSION_ERR_BAD: return "bad";
    case SESSION_ERR_CLOSED: return "closed";
    case SESSION_ERR_UNSUPPORTED: return "capability";
    case SESSION_ERR_USAGE: return "usage";
    case SESSION_ERR_CALLBACK: return "usage";
    default: return "protocol";   /* PROTOCOL, NOMEM and anything new */
    }
}

/* err.__tostring: pushes 1, err.message (or a generic text). */
static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    if (!lua_isstring(L, -1)) {
        lua_getfield(L, 1, "kind");
        lua_pushfstring(L, "imapscript error (%s)", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    }
    return 1;
}

/* core.error(kind, message [, fields]): pushes 1, a new error object; fields' pairs are copied
 * first, then kind and message. */
static int core_error(lua_State *L)
{
    const char *kind = luaL_checkstring(L, 1);
    const char *message = luaL_checkstring(L, 2);
    lua_newtable(L);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    }
    set_field_str(L, "kind", kind);
    set_field_str(L, "message", message);
    luaL_setmetatable(L, ERROR_TYPE);
    return 1;
}

/* ---- userdata ------------------------------------------------------------------------------- */

/* Connection uservalue 1: the table of pending handles (handle -> true): keeps every handle
 * whose command may still be written to alive until the session is done with it. */
enum { CONN_UV_PENDING = 1, CONN_NUV = 1 };

struct lconn {
    struct session *s;              /* NULL after logout */
    lua_State *L;                   /* the thread running a call that reads (callbacks use it) */
    bool busy;                      /* inside a read: no nested reads */
    bool closing;                   /* __gc/__close: callbacks must not run Lua */
    int idle_changed;               /* EXISTS/EXPUNGE/FETCH/VANISHED seen since reset */
    int delim;                      /* cached LIST "" "" delimiter: -2 unknown, -1 NIL */
    int warnref, traceref;          /* registry refs: warn function, trace file */
    luaL_Stream *trace;
    int cberr;                      /* registry ref of a fetch callback's error, or LUA_NOREF */
    uint64_t seq;                   /* handles created */
    char *queued_mailbox;           /* last SELECT/EXAMINE queued, for messages */
    struct arena scratch;           /* envelope decoding during a fetch callback */
    struct session_counters last;   /* counters at logout */
    char label[256];
};

enum hkind { H_SIMPLE, H_SELECT, H_SEARCH, H_FETCH, H_COPY, H_APPEND, H_LIST, H_STATUS };

/* Handle uservalues: the connection (keeps it alive), the converted result (value or error
 * object), the mailbox the command names, the mailbox it comes from (copy/move/rename). */
enum { H_UV_CONN = 1, H_UV_RESULT, H_UV_MAILBOX, H_UV_FROM, H_NUV = 4 };

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
    int fnref;                      /* fetch callback, registry ref */
    union {
        struct msgset set;
        struct { struct session_copyuid cu; struct msgset src, dst; } copy;
        struct session_list list;
        struct session_status_info st;
    } out;
};

static struct lconn *conn_check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, CONN_TYPE);
}

/* The live session of the connection at idx, or NULL after logout. */
static struct session *conn_session(lua_State *L, int idx)
{
    return conn_check(L, idx)->s;
}

static struct lhandle *handle_check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, HANDLE_TYPE);
}

/* Frees a handle's command and outputs. Idempotent. */
static void handle_release(lua_State *L, struct lhandle *h)
{
    if (h->released)
        return;
    h->released = true;
    session_cmd_free(h->cmd);
    h->cmd = NULL;
    switch (h->kind) {
    case H_SEARCH: msgset_free(&h->out.set); break;
    case H_COPY: msgset_free(&h->out.copy.src); msgset_free(&h->out.copy.dst); break;
    case H_LIST: session_list_free(&h->out.list); break;
    default: break;
    }
    free(h->sync_msg);
    h->sync_msg = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, h->fnref);
    h->fnref = LUA_NOREF;
}

/* The command's current result, or NULL for a handle without a command. */
static const struct session_result *handle_res(const struct lhandle *h)
{
    return h->cmd ? session_cmd_result(h->cmd) : NULL;
}

static bool handle_done(const struct lhandle *h)
{
    if (h->confirmed || !h->cmd)
        return true;
    return session_cmd_result(h->cmd)->status != SESSION_PENDING;
}

/* 0 when the handle succeeded, else its SESSION_ERR_* code. Only for done handles. */
static int handle_code(const struct lhandle *h)
{
    if (!h->cmd)
        return h->sync_code;
    const struct session_result *r = session_cmd_result(h->cmd);
    if (r->status == SESSION_OK)
        return 0;
    return r->code ? r->code : SESSION_ERR_PROTOCOL;
}

/* Marks h complete and removes it from the pending table of the connection at cidx. */
static void handle_confirm(lua_State *L, int cidx, int hidx, struct lhandle *h)
{
    if (h->confirmed)
        return;
    h->confirmed = true;
    lua_getiuservalue(L, cidx, CONN_UV_PENDING);
    lua_pushvalue(L, hidx);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Marks every pending handle of the connection at cidx complete (the session finished or freed
 * them all) and releases those already collected. With first, leaves on the stack the
 * earliest failed handle among them (or nil): pushes 1; else pushes nothing. */
static void conn_confirm_all(lua_State *L, int cidx, bool first)
{
    cidx = lua_absindex(L, cidx);
    lua_getiuservalue(L, cidx, CONN_UV_PENDING);
    int t = lua_gettop(L);
    if (first)
        lua_pushnil(L);
    uint64_t best = UINT64_MAX;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        struct lhandle *h = luaL_testudata(L, -1, HANDLE_TYPE);
        if (h) {
            h->confirmed = true;
            if (h->dead) {
                handle_release(L, h);
            } else if (first && h->seq < best && handle_code(h) != 0) {
                best = h->seq;
                lua_pushvalue(L, -1);
                lua_replace(L, t + 1);
            }
        }
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, t);
    }
    lua_remove(L, t);
}

/* ---- callbacks from the session ------------------------------------------------------------- */

/* Protected part of the fetch callback: (fn, f, lc) -> fn(message table). */
static int fetch_call(lua_State *L)
{
    const struct imap_fetch *f = lua_touserdata(L, 2);
    struct lconn *lc = lua_touserdata(L, 3);
    lua_settop(L, 1);
    lua_message_push(L, f, &lc->scratch);
    arena_reset(&lc->scratch);
    lua_call(L, 1, 0);
    return 0;
}

/* session_fetch_fn: streams one message to the handle's Lua function. A Lua error stops the
 * delivery (the session still reads the rest of the reply) and is kept to be raised when the
 * read returns. */
static int fetch_cb(void *ud, const struct imap_fetch *f)
{
    struct lhandle *h = ud;
    struct lconn *lc = h->lc;
    if (h->dead || h->released || lc->closing || !lc->L || h->fnref == LUA_NOREF || !f->uid)
        return 0;
    lua_State *L = lc->L;
    if (!lua_checkstack(L, 8))
        return 1;
    lua_pushcfunction(L, fetch_call);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->fnref);
    lua_pushlightuserdata(L, (void *)f);
    lua_pushlightuserdata(L, lc);
    if (lua_pcall(L, 3, 0, 0) == LUA_OK)
        return 0;
    arena_reset(&lc->scratch);
    if (lc->cberr == LUA_NOREF)
        lc->cberr = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    return 1;
}

/* Protected part of the warn callback: (fn, msg) -> fn(msg). */
static int warn_call(lua_State *L)
{
    const char *msg = lua_touserdata(L, 2);
    lua_settop(L, 1);
    lua_pushstring(L, msg);
    lua_call(L, 1, 0);
    return 0;
}

/* session_warn_fn: the cfg.warn function, or stderr. Errors in the function are ignored. */
static void warn_cb(void *ud, const char *msg)
{
    struct lconn *lc = ud;
    if (lc->closing)
        return;
    if (lc->warnref == LUA_NOREF || !lc->L) {
        fprintf(stderr, "imapscript: warning: %s\n", msg);
        return;
    }
    lua_State *L = lc->L;
    if (!lua_checkstack(L, 4))
        return;
    lua_pushcfunction(L, warn_call);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lc->warnref);
    lua_pushlightuserdata(L, (void *)msg);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}

/* session_trace_fn: "C: ..." / "S: ..." lines into the Lua file, while it is open. */
static void trace_cb(void *ud, char dir, const char *line, size_t len)
{
    struct lconn *lc = ud;
    if (!lc->trace || !lc->trace->closef || !lc->trace->f)
        return;
    fprintf(lc->trace->f, "%c: %.*s\n", dir, (int)(len > INT_MAX ? INT_MAX : len), line);
}

/* session_event_fn: remembers mailbox changes for conn:idle. */
static void event_cb(void *ud, const struct imap_response *r)
{
    struct lconn *lc = ud;
    if (r->kind != IMAP_UNTAGGED || r->status != IMAP_ST_NONE || !r->name)
        return;
    if (!strcmp(r->name, "EXISTS") || !strcmp(r->name, "EXPUNGE") || !strcmp(r->name, "FETCH") ||
        !strcmp(r->name, "VANISHED"))
        lc->idle_changed++;
}

/* Before a call that reads: callbacks may run on L. Refuses nested reads (from a callback). */
static void conn_enter(lua_State *L, struct lconn *lc)
{
    if (lc->busy)
        usage_error(L, "%s: the connection is busy reading (called from a fetch callback?)",
                    lc->label);
    lc->L = L;
    lc->busy = true;
}

/* After the read: raises the first error a fetch callback threw, if any. */
static void conn_leave(lua_State *L, struct lconn *lc)
{
    lc->busy = false;
    lc->L = NULL;
    if (lc->cberr != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, lc->cberr);
        luaL_unref(L, LUA_REGISTRYINDEX, lc->cberr);
        lc->cberr = LUA_NOREF;
        lua_error(L);
    }
}

/* ---- core.connect ------------------------------------------------------------------------- */

/* Optional string field of the table at idx (NULL when nil); a usage error otherwise. */
static const char *opt_str_field(lua_State *L, int idx, const char *name, size_t *len)
{
    lua_getfield(L, idx, name);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tolstring(L, -1, len);
    else if (!lua_isnil(L, -1))
        usage_error(L, "connect: cfg.%s must be a string, not %s", name, luaL_typename(L, -1));
    lua_pop(L, 1);   /* the string stays referenced by the table */
    return s;
}

/* Index of name among opts (NULL-terminated), def when the field is nil; usage error else. */
static int opt_enum_field(lua_State *L, int idx, const char *name, const char *const *opts, int def)
{
    const char *s = opt_str_field(L, idx, name, NULL);
    if (!s)
        return def;
    for (int i = 0; opts[i]; i++)
        if (!strcmp(opts[i], s))
            return i;
    return usage_error(L, "connect: cfg.%s: unknown value \"%s\"", name, s);
}

static bool is_loopback(const char *host)
{
    return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

/* core.connect(cfg): pushes 1, the connection; raises an error object on failure. */
static int core_connect(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = opt_str_field(L, 1, "host", NULL);
    if (!cfg.host || !*cfg.host)
        usage_error(L, "connect: cfg.host is required");
    static const char *const tls_opts[] = { "implicit", "starttls", "none", NULL };
    static const char *const auth_opts[] = { "auto", "login", "plain", NULL };
    cfg.tls = (enum session_tls)opt_enum_field(L, 1, "tls", tls_opts, 0);
    cfg.auth = (enum session_auth)opt_enum_field(L, 1, "auth", auth_opts, 0);
    lua_getfield(L, 1, "port");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Integer port = lua_tointegerx(L, -1, &ok);
        if (!ok || port < 1 || port > 65535)
            usage_error(L, "connect: cfg.port must be an integer 1..65535");
        cfg.port = (unsigned)port;
    }
    lua_getfield(L, 1, "timeout");
    double timeout = 60;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0))
            usage_error(L, "connect: cfg.timeout must be a positive number of seconds");
        timeout = lua_tonumber(L, -1);
    }
    int ms = timeout * 1000 >= INT_MAX ? INT_MAX : (int)(timeout * 1000);
    cfg.connect_timeout_ms = cfg.io_timeout_ms = ms > 0 ? ms : 1;
    lua_getfield(L, 1, "insecure");
    cfg.insecure = lua_toboolean(L, -1);
    lua_getfield(L, 1, "compress");
    cfg.compress = lua_toboolean(L, -1);
    lua_pop(L, 4);
    cfg.ca_file = opt_str_field(L, 1, "ca_file", NULL);
    cfg.fingerprint = opt_str_field(L, 1, "fingerprint", NULL);
    cfg.user = opt_str_field(L, 1, "user", NULL);
    cfg.password = opt_str_field(L, 1, "password", &cfg.password_len);
    cfg.label = opt_str_field(L, 1, "label", NULL);
    if (cfg.password && !cfg.user)
        usage_error(L, "connect: cfg.password given without cfg.user");

    /* The userdata first, so that whatever fails below is collected. */
    struct lconn *lc = lua_newuserdatauv(L, sizeof *lc, CONN_NUV);
    memset(lc, 0, sizeof *lc);
    lc->warnref = lc->traceref = lc->cberr = LUA_NOREF;
    lc->delim = -2;
    arena_init(&lc->scratch, 16384);
    luaL_setmetatable(L, CONN_TYPE);
    lua_newtable(L);
    lua_setiuservalue(L, -2, CONN_UV_PENDING);
    int cidx = lua_gettop(L);
    if (cfg.label)
        snprintf(lc->label, sizeof lc->label, "%s", cfg.label);
    else
        snprintf(lc->label, sizeof lc->label, "%s%s%s", cfg.user ? cfg.user : "",
                 cfg.user ? "@" : "", cfg.host);

    lua_getfield(L, 1, "warn");
    if (lua_isfunction(L, -1))
        lc->warnref = luaL_ref(L, LUA_REGISTRYINDEX);
    else if (!lua_isnil(L, -1))
        usage_error(L, "connect: cfg.warn must be a function");
    else
        lua_pop(L, 1);
    lua_getfield(L, 1, "trace");
    if (!lua_isnil(L, -1)) {
        luaL_Stream *st = luaL_testudata(L, -1, LUA_FILEHANDLE);
        if (!st)
            usage_error(L, "connect: cfg.trace must be a file handle (io.open(...), io.stderr)");
        lc->trace = st;
        lc->traceref = luaL_ref(L, LUA_REGISTRYINDEX);
        cfg.trace = trace_cb;
        cfg.trace_ud = lc;
    } else {
        lua_pop(L, 1);
    }
    cfg.warn = warn_cb;
    cfg.warn_ud = lc;

    lc->L = L;
    if (cfg.insecure)
        warn_cb(lc, "TLS certificate verification is disabled (insecure = true)");
    if (cfg.tls == SESSION_TLS_NONE && cfg.password && !is_loopback(cfg.host)) {
        char w[400];
        snprintf(w, sizeof w, "%s: the password goes to %s without TLS (tls = \"none\")",
                 lc->label, cfg.host);
        warn_cb(lc, w);
    }
    char err[600];
    struct session *s = NULL;
    int rc = session_open(&cfg, &s, err, sizeof err);
    if (rc == 0) {
        session_set_event_handler(s, event_cb, lc);
        /* CONDSTORE: MODSEQ in FETCH/STATUS/SELECT for incremental runs; UTF8=ACCEPT: mailbox
         * names and search strings as UTF-8. Refusals are harmless: warn and go on. */
        static const char *const exts[] = { "CONDSTORE", "UTF8=ACCEPT" };
        char e2[600];
        if (session_enable(s, exts, 2, e2, sizeof e2) < 0 && session_state(s) != SESSION_BROKEN)
            warn_cb(lc, e2);
        if (session_state(s) == SESSION_BROKEN) {
            snprintf(err, sizeof err, "%s", session_error(s));
            rc = SESSION_ERR_CLOSED;
            session_free(s);
            s = NULL;
        }
    }
    lc->L = NULL;
    if (rc < 0) {
        const char *kind = error_kind(rc);
        char msg[900];
        size_t ll = strlen(lc->label);
        if (!strncmp(err, lc->label, ll) && err[ll] == ':')
            snprintf(msg, sizeof msg, "%s", err);
        else
            snprintf(msg, sizeof msg, "%s: %s", lc->label, err);
        error_push(L, kind, msg, rc == SESSION_ERR_AUTH ? "LOGIN" : "connect", NULL, NULL, NULL);
        return lua_error(L);
    }
    lc->s = s;
    lua_settop(L, cidx);
    return 1;
}

/* ---- synchronous information -------------------------------------------------------------- */

/* conn:capabilities(): pushes 1, an array of the capability names (empty after logout). */
static int conn_capabilities(lua_State *L)
{
    struct session *s = conn_session(L, 1);
    size_t n = 0;
    const char *const *caps = s ? session_caps(s, &n) : NULL;
    lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, caps[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* conn:has(cap): pushes 1, whether the server announced cap (case-insensitive). */
static int conn_has(lua_State *L)
{
    struct session *s = conn_session(L, 1);
    const char *cap = luaL_checkstring(L, 2);
    lua_pushboolean(L, s && session_has_cap(s, cap));
    return 1;
}

/* conn:stats(): pushes 1, {commands=, bytes_in=, bytes_out=, round_trips=, reads=, writes=,
 * wire_in=, wire_out=, tls=, compressed=} (bytes_* before TLS and compression, wire_* after). */
static int conn_stats(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    struct session_counters c = lc->last;
    if (lc->s)
        session_counters(lc->s, &c);
    lua_createtable(L, 0, 10);
    lua_message_pushu64(L, c.commands);
    lua_setfield(L, -2, "commands");
    lua_message_pushu64(L, c.bytes_in);
    lua_setfield(L, -2, "bytes_in");
    lua_message_pushu64(L, c.bytes_out);
    lua_setfield(L, -2, "bytes_out");
    lua_message_pushu64(L, c.round_trips);
    lua_setfield(L, -2, "round_trips");
    lua_message_pushu64(L, c.reads);
    lua_setfield(L, -2, "reads");
    lua_message_pushu64(L, c.writes);
    lua_setfield(L, -2, "writes");
    lua_message_pushu64(L, c.wire_in);
    lua_setfield(L, -2, "wire_in");
    lua_message_pushu64(L, c.wire_out);
    lua_setfield(L, -2, "wire_out");
    lua_pushboolean(L, c.tls);
    lua_setfield(L, -2, "tls");
    lua_pushboolean(L, c.compressed);
    lua_setfield(L, -2, "compressed");
    return 1;
}

/* Pushes an array of C strings. */
static void push_strv(lua_State *L, char *const *v, size_t n)
{
    lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* conn:selected(): pushes 1 (nil: nothing selected) or 2: the mailbox name and its view
 * {exists=, recent=, unseen=, uidvalidity=, uidnext=, highestmodseq=, readonly=, flags=,
 * permanentflags=, expunges=}. */
static int conn_selected(lua_State *L)
{
    struct session *s = conn_session(L, 1);
    const struct session_view *v = s ? session_view(s) : NULL;
    if (!v || !v->name) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushstring(L, v->name);
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, v->exists);
    lua_setfield(L, -2, "exists");
    lua_pushinteger(L, v->recent);
    lua_setfield(L, -2, "recent");
    if (v->unseen) {
        lua_pushinteger(L, v->unseen);
        lua_setfield(L, -2, "unseen");
    }
    lua_pushinteger(L, v->uidvalidity);
    lua_setfield(L, -2, "uidvalidity");
    lua_pushinteger(L, v->uidnext);
    lua_setfield(L, -2, "uidnext");
    if (v->highestmodseq) {
        lua_message_pushu64(L, v->highestmodseq);
        lua_setfield(L, -2, "highestmodseq");
    }
    lua_pushboolean(L, v->read_only);
    lua_setfield(L, -2, "readonly");
    push_strv(L, v->flags, v->nflags);
    lua_setfield(L, -2, "flags");
    push_strv(L, v->permanentflags, v->npermanentflags);
    lua_setfield(L, -2, "permanentflags");
    lua_message_pushu64(L, v->expunges);
    lua_setfield(L, -2, "expunges");
    return 2;
}

/* Pushes 2: nil and an error object "<label>: <what>: connection logged out". */
static int push_closed(lua_State *L, struct lconn *lc, const char *what)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s: the connection is logged out", lc->label, what);
    lua_pushnil(L);
    error_push(L, "closed", msg, what, NULL, NULL, NULL);
    return 2;
}

/* Pushes 2: nil and an error object for a failed synchronous session call. */
static int push_sync_error(lua_State *L, struct lconn *lc, int rc, const char *what,
                           const char *mailbox, const char *err)
{
    char msg[900];
    snprintf(msg, sizeof msg, "%s: %s", lc->label, err);
    lua_pushnil(L);
    error_push(L, error_kind(rc), msg, what, mailbox, NULL, NULL);
    return 2;
}

/* conn:delimiter(): pushes 1, the hierarchy delimiter (a one-character string, nil for a
 * flat namespace), from LIST "" "" once per connection; or 2: nil and an error object. */
static int conn_delimiter(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    if (lc->delim == -2) {
        if (!lc->s)
            return push_closed(L, lc, "LIST");
        struct session_list out = { 0 };
        char err[600];
        conn_enter(L, lc);
        int rc = session_list(lc->s, "", "", false, false, &out, err, sizeof err);
        if (rc == 0)
            lc->delim = out.n > 0 && out.items[0].delimiter ? (unsigned char)out.items[0].delimiter : -1;
        session_list_free(&out);
        conn_leave(L, lc);
        if (rc < 0)
            return push_sync_error(L, lc, rc, "LIST", NULL, err);
    }
    if (lc->delim < 0) {
        lua_pushnil(L);
    } else {
        char d = (char)lc->delim;
        lua_pushlstring(L, &d, 1);
    }
    return 1;
}

/* Logs out (best effort) and frees the session; every pending handle is then complete. */
static void conn_shutdown(lua_State *L, int cidx, struct lconn *lc)
{
    if (lc->s) {
        char err[600];
        session_counters(lc->s, &lc->last);
        if (session_state(lc->s) != SESSION_BROKEN && session_state(lc->s) != SESSION_LOGOUT)
            session_logout(lc->s, err, sizeof err);
        session_counters(lc->s, &lc->last);
        session_free(lc->s);
        lc->s = NULL;
    }
    conn_confirm_all(L, cidx, false);
}

/* conn:logout(): waits for every pending command (fetch callbacks run), sends LOGOUT and
 * closes. Idempotent. Pushes 1, true. */
static int conn_logout(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    if (lc->s) {
        conn_enter(L, lc);
        session_wait_all(lc->s);
        lc->closing = true;    /* nothing more for Lua callbacks during LOGOUT */
        conn_shutdown(L, 1, lc);
        lc->closing = false;
        conn_leave(L, lc);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc and __close: LOGOUT without running Lua callbacks; never raises. Pushes nothing. */
static int conn_gc(lua_State *L)
{
    struct lconn *lc = luaL_checkudata(L, 1, CONN_TYPE);
    if (lc->busy)
        return 0;          /* __close from inside a callback: the running read goes on */
    lc->closing = true;
    lc->L = L;
    conn_shutdown(L, 1, lc);
    lc->L = NULL;
    lc->closing = false;
    luaL_unref(L, LUA_REGISTRYINDEX, lc->warnref);
    luaL_unref(L, LUA_REGISTRYINDEX, lc->traceref);
    luaL_unref(L, LUA_REGISTRYINDEX, lc->cberr);
    lc->warnref = lc->traceref = lc->cberr = LUA_NOREF;
    lc->trace = NULL;
    free(lc->queued_mailbox);
    lc->queued_mailbox = NULL;
    arena_free(&lc->scratch);
    arena_init(&lc->scratch, 16384);
    return 0;
}

/* tostring(conn): pushes 1. */
static int conn_tostring(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    lua_pushfstring(L, "imapscript.conn (%s%s)", lc->label, lc->s ? "" : ", logged out");
    return 1;
}

/* ---- handles -------------------------------------------------------------------------------- */

/* Pushes a new handle for the connection at index 1 (its kind and command name set, no command
 * yet) and returns it. mailbox/from (may be NULL) name what the command works on. Pushes 1. */
static struct lhandle *handle_new(lua_State *L, enum hkind kind, const char *name,
                                  const char *mailbox, const char *from)
{
    struct lconn *lc = conn_check(L, 1);
    struct lhandle *h = lua_newuserdatauv(L, sizeof *h, H_NUV);
    memset(h, 0, sizeof *h);
    h->lc = lc;
    h->kind = kind;
    h->fnref = LUA_NOREF;
    h->seq = ++lc->seq;
    h->confirmed = true;          /* until a command is queued */
    snprintf(h->name, sizeof h->name, "%s", name);
    switch (kind) {
    case H_SEARCH: msgset_init(&h->out.set); break;
    case H_COPY:
        msgset_init(&h->out.copy.src);
        msgset_init(&h->out.copy.dst);
        h->out.copy.cu.src = &h->out.copy.src;
        h->out.copy.cu.dst = &h->out.copy.dst;
        break;
    default: break;
    }
    luaL_setmetatable(L, HANDLE_TYPE);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, H_UV_CONN);
    if (mailbox) {
        lua_pushstring(L, mailbox);
        lua_setiuservalue(L, -2, H_UV_MAILBOX);
    }
    if (from) {
        lua_pushstring(L, from);
        lua_setiuservalue(L, -2, H_UV_FROM);
    }
    return h;
}

/* Gives the handle on top its queued command and puts it in the pending table. A NULL cmd
 * (out of memory) raises. Pushes nothing. */
static void handle_attach(lua_State *L, struct lhandle *h, struct session_cmd *cmd)
{
    if (!cmd)
        luaL_error(L, "%s: out of memory", h->name);
    h->cmd = cmd;
    h->confirmed = false;
    lua_getiuservalue(L, 1, CONN_UV_PENDING);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Makes a handle finished without a command: code 0 or SESSION_ERR_*, msg for people.
 * Pushes nothing. */
static void handle_finish(lua_State *L, struct lhandle *h, int code, const char *msg)
{
    h->sync_code = code;
    if (code) {
        h->sync_msg = strdup(msg ? msg : "");
        if (!h->sync_msg)
            luaL_error(L, "out of memory");
    }
}

/* The session to queue the handle's command on, or NULL after logout (the handle is then
 * finished as failed, kind "closed"). */
static struct session *queue_session(lua_State *L, struct lhandle *h)
{
    struct lconn *lc = h->lc;
    if (lc->s)
        return lc->s;
    char msg[300];
    snprintf(msg, sizeof msg, "%s: the connection is logged out", h->name);
    handle_finish(L, h, SESSION_ERR_CLOSED, msg);
    return NULL;
}

/* Pushes the error object of the failed handle at idx, its message
 * "<label>: <name> [<from> ->] <mailbox>: NO [CODE] text" (or the session's words for failures
 * other than NO/BAD). Pushes 1. */
static void handle_push_error(lua_State *L, int idx, struct lhandle *h)
{
    idx = lua_absindex(L, idx);
    int code = handle_code(h);
    const struct session_result *r = handle_res(h);
    lua_getiuservalue(L, idx, H_UV_MAILBOX);
    lua_getiuservalue(L, idx, H_UV_FROM);
    const char *mailbox = lua_tostring(L, -2), *from = lua_tostring(L, -1);
    bool nobad = r && (r->status == SESSION_NO || r->status == SESSION_BAD);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, h->lc->label);
    luaL_addstring(&b, ": ");
    if (nobad) {
        luaL_addstring(&b, h->name);
        if (from) {
            luaL_addchar(&b, ' ');
            luaL_addstring(&b, from);
            luaL_addstring(&b, mailbox ? " ->" : "");
        }
        if (mailbox) {
            luaL_addchar(&b, ' ');
            luaL_addstring(&b, mailbox);
        }
        luaL_addstring(&b, r->status == SESSION_NO ? ": NO " : ": BAD ");
        if (r->code_name) {
            luaL_addchar(&b, '[');
            luaL_addstring(&b, r->code_name);
            if (r->code_text && *r->code_text) {
                luaL_addchar(&b, ' ');
                luaL_addstring(&b, r->code_text);
            }
            luaL_addstring(&b, "] ");
        }
        luaL_addstring(&b, r->text ? r->text : "");
    } else {
        luaL_addstring(&b, r ? (r->error ? r->error : "") : (h->sync_msg ? h->sync_msg : ""));
    }
    luaL_pushresult(&b);
    error_push(L, error_kind(code), lua_tostring(L, -1), h->name, mailbox,
               nobad ? r->code_name : NULL, nobad ? r->text : NULL);
    if (from) {
        lua_pushvalue(L, -3);
        lua_setfield(L, -2, "from");
    }
    lua_replace(L, -4);
    lua_pop(L, 2);
}

/* Pushes 1: the value of a successful handle (true when the command has none). */
static void handle_push_value(lua_State *L, struct lhandle *h)
{
    const struct session_result *r = handle_res(h);
    switch (h->kind) {
    case H_SEARCH:
        lua_msgset_push(L, &h->out.set);
        break;
    case H_COPY:
        if (h->out.copy.cu.uidvalidity || h->out.copy.dst.n) {
            lua_createtable(L, 0, 3);
            lua_pushinteger(L, h->out.copy.cu.uidvalidity);
            lua_setfield(L, -2, "uidvalidity");
            lua_msgset_push(L, &h->out.copy.src);
            lua_setfield(L, -2, "src");
            lua_msgset_push(L, &h->out.copy.dst);
            lua_setfield(L, -2, "dst");
        } else {
            lua_pushboolean(L, 1);
        }
        break;
    case H_APPEND:
        if (r && r->code_kind == IMAP_CODE_APPENDUID && r->set1) {
            char *end;
            errno = 0;
            unsigned long long uid = strtoull(r->set1, &end, 10);
            lua_createtable(L, 0, 2);
            lua_message_pushu64(L, r->code_num);
            lua_setfield(L, -2, "uidvalidity");
            if (!errno && *end == '\0' && end != r->set1) {
                lua_message_pushu64(L, uid);
                lua_setfield(L, -2, "uid");
            } else {
                lua_pushstring(L, r->set1);
                lua_setfield(L, -2, "uids");
            }
        } else {
            lua_pushboolean(L, 1);
        }
        break;
    case H_LIST: {
        const struct session_list *l = &h->out.list;
        lua_createtable(L, l->n < INT_MAX ? (int)l->n : 0, 0);
        for (size_t i = 0; i < l->n; i++) {
            const struct session_mailbox *m = &l->items[i];
            lua_createtable(L, 0, 3);
            lua_pushstring(L, m->name ? m->name : "");
            lua_setfield(L, -2, "name");
            if (m->delimiter) {
                lua_pushlstring(L, &m->delimiter, 1);
                lua_setfield(L, -2, "delimiter");
            }
            push_strv(L, m->flags, m->nflags);
            lua_setfield(L, -2, "flags");
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case H_STATUS: {
        const struct session_status_info *st = &h->out.st;
        const struct { const char *name; int64_t v; } f[] = {
            { "messages", st->messages }, { "unseen", st->unseen }, { "recent", st->recent },
            { "uidnext", st->uidnext }, { "uidvalidity", st->uidvalidity },
            { "highestmodseq", st->highestmodseq },
        };
        lua_createtable(L, 0, 6);
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            if (f[i].v < 0)
                continue;
            lua_pushinteger(L, f[i].v);
            lua_setfield(L, -2, f[i].name);
        }
        break;
    }
    default:
        lua_pushboolean(L, 1);
        break;
    }
}

/* Converts a done handle's outcome, once, into H_UV_RESULT. Pushes nothing. */
static void handle_cache(lua_State *L, int idx, struct lhandle *h)
{
    if (h->cached)
        return;
    idx = lua_absindex(L, idx);
    if (handle_code(h) == 0)
        handle_push_value(L, h);
    else
        handle_push_error(L, idx, h);
    lua_setiuservalue(L, idx, H_UV_RESULT);
    h->cached = true;
}

/* handle:result(): pushes 1, the value (true when there is none) of a successful command, or 2:
 * nil and its error object. Raises a usage error when the command is not done. */
static int handle_result(lua_State *L)
{
    struct lhandle *h = handle_check(L, 1);
    if (!h->cached && !handle_done(h))
        return usage_error(L, "%s: %s has no result yet (conn:wait(handle) first)",
                           h->lc->label, h->name);
    handle_cache(L, 1, h);
    lua_getiuservalue(L, 1, H_UV_RESULT);
    if (handle_code(h) == 0)
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* handle:done(): pushes 1, whether the command is complete. */
static int handle_isdone(lua_State *L)
{
    lua_pushboolean(L, handle_done(handle_check(L, 1)));
    return 1;
}

/* handle:command(): pushes 1, the command's name ("UID MOVE"). */
static int handle_command(lua_State *L)
{
    lua_pushstring(L, handle_check(L, 1)->name);
    return 1;
}

/* tostring(handle): pushes 1. */
static int handle_tostring(lua_State *L)
{
    struct lhandle *h = handle_check(L, 1);
    lua_pushfstring(L, "imapscript.handle (%s, %s)", h->name,
                    !handle_done(h) ? "pending" : handle_code(h) ? "failed" : "ok");
    return 1;
}

/* __gc: frees the command and outputs, unless the command may still be read into them (then
 * the connection, collected in the same cycle, frees them after closing). Pushes nothing. */
static int handle_gc(lua_State *L)
{
    struct lhandle *h = luaL_checkudata(L, 1, HANDLE_TYPE);
    if (!h->confirmed) {
        h->dead = true;
        return 0;
    }
    handle_release(L, h);
    return 0;
}

/* ---- waiting -------------------------------------------------------------------------------- */

/* conn:wait([handle]): writes what is queued and reads until handle (or every pending command)
 * is complete. Pushes 1, true, or 2: false and the first error object among those waited for.
 * Raises the error a fetch callback threw, once the reply that carried it is read. */
static int conn_wait(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    int hidx;
    if (!lua_isnoneornil(L, 2)) {
        hidx = 2;
        struct lhandle *h = handle_check(L, 2);
        if (h->lc != lc)
            return usage_error(L, "conn:wait: the handle belongs to another connection");
        if (!h->confirmed) {
            conn_enter(L, lc);
            session_wait(lc->s, h->cmd);
            handle_confirm(L, 1, 2, h);
            if (session_state(lc->s) == SESSION_BROKEN)
                conn_confirm_all(L, 1, false);
            conn_leave(L, lc);
        }
        if (handle_code(h) == 0) {
            lua_pushboolean(L, 1);
            return 1;
        }
    } else {
        if (lc->s) {
            conn_enter(L, lc);
            session_wait_all(lc->s);
            conn_confirm_all(L, 1, true);
            conn_leave(L, lc);
        } else {
            conn_confirm_all(L, 1, true);
        }
        if (lua_isnil(L, -1)) {
            lua_pushboolean(L, 1);
            return 1;
        }
        hidx = lua_gettop(L);
    }
    struct lhandle *h = lua_touserdata(L, hidx);
    lua_pushboolean(L, 0);
    handle_cache(L, hidx, h);
    lua_getiuservalue(L, hidx, H_UV_RESULT);
    return 2;
}

/* ---- queued commands ------------------------------------------------------------------------ */

/* A UID set argument: NULL for "$" (SEARCHRES), else a set (or anything lua_msgset_coerce
 * takes). */
static const struct msgset *check_set(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len == 1 && s[0] == '$')
            return NULL;
    }
    return lua_msgset_coerce(L, idx);
}

/* The selected (or last queued) mailbox, for messages; NULL when none. */
static const char *context_mailbox(struct lconn *lc)
{
    if (lc->queued_mailbox)
        return lc->queued_mailbox;
    const struct session_view *v = lc->s ? session_view(lc->s) : NULL;
    return v ? v->name : NULL;
}

/* conn:select(name [, readonly]): pushes 1, a handle (result true). */
static int conn_select(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    bool ro = lua_toboolean(L, 3);
    struct lhandle *h = handle_new(L, H_SELECT, ro ? "EXAMINE" : "SELECT", name, NULL);
    struct session *s = queue_session(L, h);
    if (!s)
        return 1;
    char *copy = strdup(name);
    if (!copy)
        return luaL_error(L, "out of memory");
    free(lc->queued_mailbox);
    lc->queued_mailbox = copy;
    handle_attach(L, h, session_select_start(s, name, ro));
    return 1;
}

/* conn:search(query [, {save=true}]): pushes 1, a handle (result: set of UIDs). */
static int conn_search(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const struct query *q = lua_query_check(L, 2);
    bool save = false;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "save");
        save = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    struct lhandle *h = handle_new(L, H_SEARCH, "UID SEARCH", context_mailbox(lc), NULL);
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_search_start(s, q, save, &h->out.set));
    return 1;
}

/* Appends the wire text of item i of the array at items (" FLAGS", " BODY.PEEK[...]") to the
 * parts table at parts; usage error on a bad item. Pops nothing, pushes nothing. */
static void add_fetch_item(lua_State *L, int parts, int items, lua_Integer i, bool *modseq)
{
    static const struct { const char *name, *wire; } simple[] = {
        { "uid", NULL }, { "flags", " FLAGS" }, { "size", " RFC822.SIZE" },
        { "date", " INTERNALDATE" }, { "envelope", " ENVELOPE" }, { "modseq", " MODSEQ" },
        { "header", " BODY.PEEK[HEADER]" }, { "body", " BODY.PEEK[TEXT]" },
        { "raw", " BODY.PEEK[]" },
    };
    lua_Integer np = (lua_Integer)lua_rawlen(L, parts);
    int t = lua_rawgeti(L, items, i);
    if (t == LUA_TSTRING) {
        const char *n = lua_tostring(L, -1);
        size_t k;
        for (k = 0; k < sizeof simple / sizeof simple[0]; k++)
            if (!strcmp(simple[k].name, n))
                break;
        if (k == sizeof simple / sizeof simple[0])
            usage_error(L, "fetch: unknown item \"%s\" (uid, flags, size, date, envelope, modseq, "
                        "header, body, raw or {\"fields\", ...})", n);
        if (simple[k].wire) {
            lua_pushstring(L, simple[k].wire);
            lua_rawseti(L, parts, ++np);
        }
        if (!strcmp(n, "modseq"))
            *modseq = true;
    } else if (t == LUA_TTABLE) {
        int ft = lua_gettop(L);
        lua_rawgeti(L, ft, 1);
        if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "fields") != 0)
            usage_error(L, "fetch: item %d: a table item must be {\"fields\", name, ...}", (int)i);
        lua_pop(L, 1);
        lua_Integer n = (lua_Integer)lua_rawlen(L, ft);
        if (n < 2)
            usage_error(L, "fetch: item %d: {\"fields\"} needs at least one header name", (int)i);
        lua_pushliteral(L, " BODY.PEEK[HEADER.FIELDS (");
        lua_rawseti(L, parts, ++np);
        for (lua_Integer j = 2; j <= n; j++) {
            lua_rawgeti(L, ft, j);
            size_t len = 0;
            const char *f = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (!f || len == 0 || len > 200)
                usage_error(L, "fetch: item %d: header names must be strings of 1..200 bytes",
                            (int)i);
            char up[201];
            for (size_t c = 0; c < len; c++) {
                unsigned char ch = (unsigned char)f[c];
                if (ch <= 0x20 || ch >= 0x7f || ch == ':' || strchr("(){%*\"\\[]", ch))
                    usage_error(L, "fetch: item %d: invalid header name \"%s\"", (int)i, f);
                up[c] = (char)((ch >= 'a' && ch <= 'z') ? ch - 32 : ch);
            }
            lua_pop(L, 1);
            if (j > 2) {
                lua_pushliteral(L, " ");
                lua_rawseti(L, parts, ++np);
            }
            lua_pushlstring(L, up, len);
            lua_rawseti(L, parts, ++np);
        }
        lua_pushliteral(L, ")]");
        lua_rawseti(L, parts, ++np);
    } else {
        usage_error(L, "fetch: item %d must be a string or {\"fields\", ...}", (int)i);
    }
    lua_pop(L, 1);
}

/* conn:fetch(set, items, fn): pushes 1, a handle (result true); fn(msg) is called for each
 * message as it arrives during a read. */
static int conn_fetch(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const struct msgset *set = check_set(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    lua_newtable(L);
    int parts = lua_gettop(L);
    lua_pushliteral(L, "(UID");
    lua_rawseti(L, parts, 1);
    bool modseq = false;
    lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
    for (lua_Integer i = 1; i <= n; i++)
        add_fetch_item(L, parts, 3, i, &modseq);
    lua_pushliteral(L, ")");
    lua_rawseti(L, parts, (lua_Integer)lua_rawlen(L, parts) + 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Integer np = (lua_Integer)lua_rawlen(L, parts);
    for (lua_Integer i = 1; i <= np; i++) {
        lua_rawgeti(L, parts, i);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    int items = lua_gettop(L);
    struct lhandle *h = handle_new(L, H_FETCH, "UID FETCH", context_mailbox(lc), NULL);
    struct session *s = queue_session(L, h);
    if (!s)
        return 1;
    if (modseq && !session_has_cap(s, "CONDSTORE")) {
        handle_finish(L, h, SESSION_ERR_UNSUPPORTED,
                      "UID FETCH: modseq needs CONDSTORE, which the server lacks");
        return 1;
    }
    if (!lua_isnoneornil(L, 4)) {
        lua_pushvalue(L, 4);
        h->fnref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    handle_attach(L, h, session_fetch_start(s, set, lua_tostring(L, items), fetch_cb, h));
    return 1;
}

/* Copies the array of strings at idx into a malloc'd vector owned by a userdata pushed on the
 * stack (so a Lua error frees it). Sets *n. Pushes 1. */
static const char **check_strings(lua_State *L, int idx, const char *what, size_t *n)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t len = lua_rawlen(L, idx);
    const char **v = lua_newuserdatauv(L, (len + 1) * sizeof *v, 0);
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            usage_error(L, "%s: item %d must be a string", what, (int)i + 1);
        v[i] = lua_tostring(L, -1);     /* kept alive by the table */
        lua_pop(L, 1);
    }
    v[len] = NULL;
    *n = len;
    return v;
}

/* conn:store(set, op, flags): op "+", "-" or "="; pushes 1, a handle (result true). */
static int conn_store(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    lua_settop(L, 4);
    const struct msgset *set = check_set(L, 2);
    static const char *const ops[] = { "+", "-", "=", NULL };
    int op = luaL_checkoption(L, 3, NULL, ops);
    size_t nflags;
    const char **flags = check_strings(L, 4, "store: flags", &nflags);
    struct lhandle *h = handle_new(L, H_SIMPLE, "UID STORE", context_mailbox(lc), NULL);
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_store_start(s, set, (enum session_store_op)op, flags, nflags));
    return 1;
}

/* conn:copy(set, dest) / conn:move(set, dest): pushes 1, a handle (result {uidvalidity=, src=,
 * dst=} with COPYUID, else true). */
static int copy_or_move(lua_State *L, bool move)
{
    struct lconn *lc = conn_check(L, 1);
    const struct msgset *set = check_set(L, 2);
    const char *dest = luaL_checkstring(L, 3);
    struct lhandle *h = handle_new(L, H_COPY, move ? "UID MOVE" : "UID COPY", dest,
                                   context_mailbox(lc));
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_copy_start(s, set, dest, move, &h->out.copy.cu));
    return 1;
}

static int conn_copy(lua_State *L) { return copy_or_move(L, false); }
static int conn_move(lua_State *L) { return copy_or_move(L, true); }

/* conn:expunge(set): UID EXPUNGE; pushes 1, a handle (result true). */
static int conn_expunge(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const struct msgset *set = check_set(L, 2);
    struct lhandle *h = handle_new(L, H_SIMPLE, "UID EXPUNGE", context_mailbox(lc), NULL);
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_expunge_start(s, set));
    return 1;
}

/* CLOSE / UNSELECT: the session has them only as synchronous calls, so they read right away
 * (earlier queued commands complete first). Pushes 1, a finished handle. */
static int deselect(lua_State *L, bool close)
{
    struct lconn *lc = conn_check(L, 1);
    const char *name = close ? "CLOSE" : "UNSELECT";
    struct lhandle *h = handle_new(L, H_SIMPLE, name, context_mailbox(lc), NULL);
    struct session *s = queue_session(L, h);
    if (!s)
        return 1;
    char err[600];
    conn_enter(L, lc);
    int rc = close ? session_close(s, err, sizeof err) : session_unselect(s, err, sizeof err);
    if (session_state(s) == SESSION_BROKEN)
        conn_confirm_all(L, 1, false);
    if (rc == 0) {
        free(lc->queued_mailbox);
        lc->queued_mailbox = NULL;
    }
    conn_leave(L, lc);
    handle_finish(L, h, rc, err);
    return 1;
}

static int conn_close_mailbox(lua_State *L) { return deselect(L, true); }
static int conn_unselect(lua_State *L) { return deselect(L, false); }

/* Queues a command built here: verb, then mailbox names (NULL-terminated). Pushes nothing. */
static void queue_mailbox_command(lua_State *L, struct lhandle *h, struct session *s,
                                  const char *verb, const char *const *names)
{
    struct command c;
    session_command_start(s, &c, verb);
    for (size_t i = 0; names[i]; i++)
        command_mailbox(&c, names[i], strlen(names[i]));
    command_end(&c);
    struct session_cmd *sc = session_send(s, &c, NULL, NULL);
    command_free(&c);
    handle_attach(L, h, sc);
}

/* conn:append(name, message [, flags [, date]]): pushes 1, a handle (result {uidvalidity=,
 * uid=} with APPENDUID, else true). */
static int conn_append(lua_State *L)
{
    conn_check(L, 1);
    lua_settop(L, 5);
    const char *name = luaL_checkstring(L, 2);
    size_t len;
    const char *msg = luaL_checklstring(L, 3, &len);
    size_t nflags = 0;
    const char **flags = NULL;
    if (!lua_isnoneornil(L, 4))
        flags = check_strings(L, 4, "append: flags", &nflags);
    const char *date = luaL_optstring(L, 5, NULL);
    struct lhandle *h = handle_new(L, H_APPEND, "APPEND", name, NULL);
    struct session *s = queue_session(L, h);
    if (!s)
        return 1;
    struct command c;
    session_command_start(s, &c, "APPEND");
    command_mailbox(&c, name, strlen(name));
    if (flags) {
        command_open(&c);
        for (size_t i = 0; i < nflags; i++)
            command_atom(&c, flags[i]);
        command_close(&c);
    }
    if (date)
        command_string(&c, date, strlen(date));
    command_literal(&c, msg, len, false);
    command_end(&c);
    struct session_cmd *sc = session_send(s, &c, NULL, NULL);
    command_free(&c);
    handle_attach(L, h, sc);
    return 1;
}

/* conn:list(ref, pattern) / conn:lsub(ref, pattern): pushes 1, a handle (result: array of
 * {name=, delimiter=, flags={...}}). */
static int list_or_lsub(lua_State *L, bool lsub)
{
    conn_check(L, 1);
    const char *ref = luaL_optstring(L, 2, "");
    const char *pattern = luaL_optstring(L, 3, "*");
    struct lhandle *h = handle_new(L, H_LIST, lsub ? "LSUB" : "LIST", NULL, NULL);
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_list_start(s, ref, pattern, lsub, !lsub, &h->out.list));
    return 1;
}

static int conn_list(lua_State *L) { return list_or_lsub(L, false); }
static int conn_lsub(lua_State *L) { return list_or_lsub(L, true); }

/* conn:status(name): pushes 1, a handle (result {messages=, unseen=, recent=, uidnext=,
 * uidvalidity=, highestmodseq=}). */
static int conn_status(lua_State *L)
{
    conn_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    struct lhandle *h = handle_new(L, H_STATUS, "STATUS", name, NULL);
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_status_start(s, name, &h->out.st));
    return 1;
}

/* CREATE / DELETE / SUBSCRIBE / UNSUBSCRIBE name: pushes 1, a handle (result true). */
static int mailbox_op(lua_State *L, enum session_mbop op, const char *verb)
{
    conn_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    struct lhandle *h = handle_new(L, H_SIMPLE, verb, name, NULL);
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_mailbox_op_start(s, op, name));
    return 1;
}

static int conn_create(lua_State *L) { return mailbox_op(L, SESSION_CREATE, "CREATE"); }
static int conn_delete(lua_State *L) { return mailbox_op(L, SESSION_DELETE, "DELETE"); }
static int conn_subscribe(lua_State *L) { return mailbox_op(L, SESSION_SUBSCRIBE, "SUBSCRIBE"); }
static int conn_unsubscribe(lua_State *L)
{
    return mailbox_op(L, SESSION_UNSUBSCRIBE, "UNSUBSCRIBE");
}

/* conn:rename(old, new): pushes 1, a handle (result true). */
static int conn_rename(lua_State *L)
{
    conn_check(L, 1);
    const char *from = luaL_checkstring(L, 2);
    const char *to = luaL_checkstring(L, 3);
    struct lhandle *h = handle_new(L, H_SIMPLE, "RENAME", to, from);
    struct session *s = queue_session(L, h);
    if (s) {
        const char *names[] = { from, to, NULL };
        queue_mailbox_command(L, h, s, "RENAME", names);
    }
    return 1;
}

/* conn:noop(): pushes 1, a handle (result true). */
static int conn_noop(lua_State *L)
{
    conn_check(L, 1);
    struct lhandle *h = handle_new(L, H_SIMPLE, "NOOP", NULL, NULL);
    struct session *s = queue_session(L, h);
    if (s)
        handle_attach(L, h, session_noop_start(s));
    return 1;
}

/* ---- IDLE ------------------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* conn:idle(seconds): waits (after every pending command) in IDLE until the server reports
 * EXISTS, EXPUNGE, FETCH or VANISHED, or the time is up. Pushes 1: "changed" or "timeout"; or 2:
 * nil and an error object (kind "capability" without IDLE). */
static int conn_idle(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    lua_Number secs = luaL_checknumber(L, 2);
    if (!(secs >= 0))
        return usage_error(L, "idle: the timeout must be a number of seconds >= 0");
    if (!lc->s)
        return push_closed(L, lc, "IDLE");
    if (!session_has_cap(lc->s, "IDLE")) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s: IDLE: the server does not offer IDLE", lc->label);
        lua_pushnil(L);
        error_push(L, "capability", msg, "IDLE", context_mailbox(lc), NULL, NULL);
        return 2;
    }
    int64_t total = secs * 1000 > (lua_Number)INT_MAX ? INT_MAX : (int64_t)(secs * 1000);
    char err[600];
    conn_enter(L, lc);
    session_wait_all(lc->s);
    conn_confirm_all(L, 1, false);
    lc->idle_changed = 0;
    int rc = session_idle_start(lc->s, err, sizeof err);
    bool changed = false;
    if (rc == 0) {
        int64_t deadline = now_ms() + total;
        for (;;) {
            int64_t left = deadline - now_ms();
            if (left <= 0 || lc->idle_changed)
                break;
            int w = session_idle_wait(lc->s, (int)left, err, sizeof err);
            if (w < 0) {
                rc = w;
                break;
            }
            if (w == 0)
                break;
        }
        changed = lc->idle_changed > 0;
        if (rc == 0)
            rc = session_idle_done(lc->s, err, sizeof err);
        else
            session_idle_done(lc->s, err + strlen(err), 0);
        changed = changed || lc->idle_changed > 0;
    }
    if (session_state(lc->s) == SESSION_BROKEN)
        conn_confirm_all(L, 1, false);
    conn_leave(L, lc);
    if (rc < 0)
        return push_sync_error(L, lc, rc, "IDLE", context_mailbox(lc), err);
    lua_pushstring(L, changed ? "changed" : "timeout");
    return 1;
}

/* ---- registration ----------------------------------------------------------------------- */

static const luaL_Reg conn_methods[] = {
    { "capabilities", conn_capabilities }, { "has", conn_has }, { "stats", conn_stats },
    { "selected", conn_selected }, { "delimiter", conn_delimiter }, { "logout", conn_logout },
    { "wait", conn_wait }, { "idle", conn_idle },
    { "select", conn_select }, { "search", conn_search }, { "fetch", conn_fetch },
    { "store", conn_store }, { "copy", conn_copy }, { "move", conn_move },
    { "expunge", conn_expunge }, { "close_mailbox", conn_close_mailbox },
    { "unselect", conn_unselect }, { "append", conn_append }, { "list", conn_list },
    { "lsub", conn_lsub }, { "status", conn_status }, { "create", conn_create },
    { "delete", conn_delete }, { "rename", conn_rename }, { "subscribe", conn_subscribe },
    { "unsubscribe", conn_unsubscribe }, { "noop", conn_noop },
    { NULL, NULL },
};

static const luaL_Reg conn_meta[] = {
    { "__gc", conn_gc }, { "__close", conn_gc }, { "__tostring", conn_tostring },
    { NULL, NULL },
};

static const luaL_Reg handle_methods[] = {
    { "result", handle_result }, { "done", handle_isdone }, { "command", handle_command },
    { NULL, NULL },
};

static const luaL_Reg handle_meta[] = {
    { "__gc", handle_gc }, { "__tostring", handle_tostring },
    { NULL, NULL },
};

/* Creates the metatable name with meta and an __index table of methods. Pushes nothing. */
static void new_type(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

/* Registers the conn, handle and error types and sets core.connect and core.error into the
 * module table on top. Pops nothing, pushes nothing. */
void lua_session_open(lua_State *L)
{
    new_type(L, CONN_TYPE, conn_meta, conn_methods);
    new_type(L, HANDLE_TYPE, handle_meta, handle_methods);
    luaL_newmetatable(L, ERROR_TYPE);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_pushcfunction(L, core_connect);
    lua_setfield(L, -2, "connect");
    lua_pushcfunction(L, core_error);
    lua_setfield(L, -2, "error");
}
