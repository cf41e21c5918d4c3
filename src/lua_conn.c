/* lua_conn.c — the Lua binding of one IMAP connection ("imapscript.conn"): connect, information,
 * waiting, IDLE, logout. Its queued commands are in lua_commands.c, their handles
 * ("imapscript.handle") in lua_handle.c, the error objects ("imapscript.error") in lua_error.c.
 * Thin glue: arguments in, session.c calls, results out; policy lives in lua/imapscript.
 *
 * What Lua sees (mailbox names are UTF-8 in the server's delimiter; SET is a set userdata,
 * set text, an array of UIDs, or "$" for the saved search result):
 *   core.connect(cfg) -> conn            raises an error object (kind network/tls/auth/...);
 *                                        cfg.tunnel: a command instead of host:port;
 *                                        cfg.qresync: ENABLE QRESYNC too (RFC 7162)
 *   core.error(kind, message [, fields]) -> error object (tostring gives .message)
 *   conn:capabilities() conn:has(cap) conn:enabled(ext) conn:stats() conn:selected()
 *   conn:delimiter()
 *   conn:logout()                        waits for pending commands, LOGOUT; idempotent
 *   conn:select(name [, readonly [, {mirror=, qresync=}]]) conn:search(query [, {save=}])
 *   conn:fetch(SET, items, fn [, {changedsince=, sync=}])
 *   conn:store(SET, "+"|"-"|"=", flags) conn:copy(SET, dest) conn:move(SET, dest)
 *   conn:expunge(SET) conn:close_mailbox() conn:unselect() conn:append(name, text [, flags
 *   [, date]]) conn:list(ref, pat [, status]) conn:lsub(ref, pat) conn:status(name)
 *   conn:create(name) conn:delete(name) conn:rename(old, new) conn:subscribe(name)
 *   conn:unsubscribe(name)
 *   conn:noop() conn:expunge_all()       -> handle: queued, nothing written yet
 *   conn:transfer(SET, dest_conn, name [, {multiappend=}])  -> handle: the messages appended
 *                                        to name on dest_conn as they arrive (lua_commands.c)
 *   (a SELECT's handle gives {uidvalidity=}, a search's a set, a copy's {uidvalidity=, src=,
 *   dst=} with COPYUID, an append's {uidvalidity=, uid=} with APPENDUID, a transfer's
 *   {copied=, uids=, uidvalidity=, messages=, bytes=, trycreate=, error=}; others true)
 *   fetch items beyond the names: {"fields", ...}, {"text" [, max]}, {"match", re [, max]},
 *   {"save", path [, part [, encoding]]} (lua_fetch.c)
 *   conn:wait([handle]) -> true | false, first error object     (never raises for NO/BAD)
 *   handle:result() -> value | nil, error object; handle:done(); handle:command()
 *   (IDLE, NOTIFY and events: lua_listen.c)
 * Commands are written at wait, idle, logout, delimiter, close_mailbox and unselect (the
 * session has no queued CLOSE/UNSELECT). Replies are read whenever the loop runs — during any
 * of those calls on any connection, or core.loop_wait — and fetch callbacks run then, on the
 * thread driving the loop; they may queue commands but not wait (usage error); the first
 * error one raises stops that FETCH's delivery and is re-raised by the connection's next
 * wait, the stream staying in sync. Inside a task (core.task) wait and logout yield instead
 * of blocking, and the task's driver runs the loop.
 * __gc/__close log out without running Lua callbacks and never raise; queued commands are
 * still written before the LOGOUT. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_conn.h"
#include "lua_message.h"

struct lconn *conn_check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, LUA_CONN_TYPE);
}

/* The live session of the connection at idx, or NULL after logout. */
static struct session *conn_session(lua_State *L, int idx)
{
    return conn_check(L, idx)->s;
}

/* ---- callbacks from the session ------------------------------------------------------------- */

/* Protected part of the warn callback: (fn, msg) -> fn(msg). */
static int warn_call(lua_State *L)
{
    const char *msg = lua_touserdata(L, 2);
    lua_settop(L, 1);
    lua_pushstring(L, msg);
    lua_call(L, 1, 0);
    return 0;
}

/* session_warn_fn: the cfg.warn function, or stderr (also while closing: no Lua then, but a
 * tunnel command's last words still show). Errors in the function are ignored. */
static void warn_cb(void *ud, const char *msg)
{
    struct lconn *lc = ud;
    lua_State *L = conn_driver();
    if (lc->warnref == LUA_NOREF || !L || lc->closing) {
        fprintf(stderr, "imapscript: warning: %s\n", msg);
        return;
    }
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

/* Before a call that reads: callbacks may run on L. Refuses nested reads (from a callback). */
void conn_enter(lua_State *L, struct lconn *lc)
{
    if (lc->busy)
        lua_error_usage(L, "%s: the connection is busy reading (called from a fetch callback?)",
                        lc->label);
    lc->prev_driver = conn_drive(L);
    lc->busy = true;
}

/* After the read: raises the first error a fetch callback threw, if any. */
void conn_leave(lua_State *L, struct lconn *lc)
{
    lc->busy = false;
    conn_drive(lc->prev_driver);
    lc->prev_driver = NULL;
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
        lua_error_usage(L, "connect: cfg.%s must be a string, not %s", name, luaL_typename(L, -1));
    lua_pop(L, 1);   /* the string stays referenced by the table */
    return s;
}

/* Index of name among opts (NULL-terminated), def when the field is nil; usage error else. */
int opt_enum_field(lua_State *L, int idx, const char *name, const char *const *opts, int def)
{
    const char *s = opt_str_field(L, idx, name, NULL);
    if (!s)
        return def;
    for (int i = 0; opts[i]; i++)
        if (!strcmp(opts[i], s))
            return i;
    return lua_error_usage(L, "connect: cfg.%s: unknown value \"%s\"", name, s);
}

/* cfg.auth: nil, a method name or an array of them in order of preference -> out. */
static void auth_field(lua_State *L, int idx, enum session_auth *out)
{
    lua_getfield(L, idx, "auth");
    int n = lua_istable(L, -1) ? (int)luaL_len(L, -1) : lua_isnil(L, -1) ? 0 : 1;
    if (n > SESSION_AUTH_MAX)
        lua_error_usage(L, "connect: cfg.auth lists more than %d methods", SESSION_AUTH_MAX);
    for (int i = 0; i < n; i++) {
        if (lua_istable(L, -1))
            lua_geti(L, -1, i + 1);
        else
            lua_pushvalue(L, -1);
        const char *name = lua_tostring(L, -1);
        int a = lua_type(L, -1) == LUA_TSTRING ? session_auth_parse(name) : -1;
        if (a < 0 || (a == SESSION_AUTH_AUTO && n > 1))
            lua_error_usage(L, "connect: cfg.auth: unknown login method %s%s%s (auto, plain, "
                            "login, authenticate-login, cram-md5, scram-sha-1, scram-sha-256, "
                            "xoauth2, oauthbearer)", name ? "\"" : "", name ? name :
                            luaL_typename(L, -1), name ? "\"" : "");
        out[i] = (enum session_auth)a;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void conn_fields_read(lua_State *L, int idx, struct conn_fields *f)
{
    memset(f, 0, sizeof *f);
    f->host = opt_str_field(L, idx, "host", NULL);
    size_t tunnel_len = 0;
    f->tunnel = opt_str_field(L, idx, "tunnel", &tunnel_len);
    if (f->host && !*f->host)
        f->host = NULL;
    if (f->tunnel && (!*f->tunnel || strlen(f->tunnel) != tunnel_len))
        lua_error_usage(L, "connect: cfg.tunnel is empty or holds a NUL byte");
    if (!f->host && !f->tunnel)
        lua_error_usage(L, "connect: cfg.host (or cfg.tunnel) is required");
    auth_field(L, idx, f->auth);
    lua_getfield(L, idx, "port");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Integer port = lua_tointegerx(L, -1, &ok);
        if (!ok || port < 1 || port > 65535)
            lua_error_usage(L, "connect: cfg.port must be an integer 1..65535");
        f->port = (unsigned)port;
    }
    lua_getfield(L, idx, "timeout");
    double timeout = 60;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0))
            lua_error_usage(L, "connect: cfg.timeout must be a positive number of seconds");
        timeout = lua_tonumber(L, -1);
    }
    int ms = timeout * 1000 >= INT_MAX ? INT_MAX : (int)(timeout * 1000);
    f->timeout_ms = ms > 0 ? ms : 1;
    lua_getfield(L, idx, "insecure");
    f->insecure = lua_toboolean(L, -1);
    lua_getfield(L, idx, "allow_plaintext");
    f->allow_plaintext = lua_toboolean(L, -1);
    lua_pop(L, 4);
    f->ca_file = opt_str_field(L, idx, "ca_file", NULL);
    f->fingerprint = opt_str_field(L, idx, "fingerprint", NULL);
    f->user = opt_str_field(L, idx, "user", NULL);
    f->password = opt_str_field(L, idx, "password", &f->password_len);
    size_t token_len = 0;
    f->token = opt_str_field(L, idx, "token", &token_len);
    f->label = opt_str_field(L, idx, "label", NULL);
    if ((f->password || f->token) && !f->user)
        lua_error_usage(L, "connect: cfg.password or cfg.token given without cfg.user");
    if (f->token && strlen(f->token) != token_len)
        lua_error_usage(L, "connect: cfg.token holds a NUL byte");
}

/* core.connect(cfg): pushes 1, the connection; raises an error object on failure. */
static int core_connect(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct conn_fields f;
    conn_fields_read(L, 1, &f);
    struct session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    static const char *const tls_opts[] = { "implicit", "starttls", "none", NULL };
    cfg.tls = (enum session_tls)opt_enum_field(L, 1, "tls", tls_opts, 0);
    memcpy(cfg.auth, f.auth, sizeof cfg.auth);
    cfg.host = f.host;
    cfg.tunnel = f.tunnel;
    cfg.port = f.port;
    cfg.connect_timeout_ms = cfg.io_timeout_ms = f.timeout_ms;
    cfg.insecure = f.insecure;
    cfg.allow_plaintext = f.allow_plaintext;
    cfg.ca_file = f.ca_file;
    cfg.fingerprint = f.fingerprint;
    cfg.user = f.user;
    cfg.password = f.password;
    cfg.password_len = f.password_len;
    cfg.token = f.token;
    cfg.label = f.label;
    lua_getfield(L, 1, "compress");
    cfg.compress = lua_toboolean(L, -1);
    lua_getfield(L, 1, "max_line");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Integer n = lua_tointegerx(L, -1, &ok);
        if (!ok || n < 1024)
            lua_error_usage(L, "connect: cfg.max_line must be a byte count of at least 1024");
        cfg.max_line = (size_t)n;
    }
    lua_pop(L, 1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "qresync");
    bool qresync = lua_toboolean(L, -1);
    lua_pop(L, 1);

    /* The userdata first, so that whatever fails below is collected. */
    struct lconn *lc = lua_newuserdatauv(L, sizeof *lc, CONN_NUV);
    memset(lc, 0, sizeof *lc);
    lc->warnref = lc->traceref = lc->cberr = LUA_NOREF;
    lc->delim = -2;
    arena_init(&lc->scratch, 16384);
    luaL_setmetatable(L, LUA_CONN_TYPE);
    lua_newtable(L);
    lua_setiuservalue(L, -2, CONN_UV_PENDING);
    int cidx = lua_gettop(L);
    if (cfg.label)
        snprintf(lc->label, sizeof lc->label, "%s", cfg.label);
    else
        snprintf(lc->label, sizeof lc->label, "%s%s%s", cfg.user ? cfg.user : "",
                 cfg.user ? "@" : "", cfg.host ? cfg.host : "tunnel");

    lua_getfield(L, 1, "warn");
    if (lua_isfunction(L, -1))
        lc->warnref = luaL_ref(L, LUA_REGISTRYINDEX);
    else if (!lua_isnil(L, -1))
        lua_error_usage(L, "connect: cfg.warn must be a function");
    else
        lua_pop(L, 1);
    lua_getfield(L, 1, "trace");
    if (!lua_isnil(L, -1)) {
        luaL_Stream *st = luaL_testudata(L, -1, LUA_FILEHANDLE);
        if (!st)
            lua_error_usage(L, "connect: cfg.trace must be a file handle (io.open(...), "
                            "io.stderr)");
        lc->trace = st;
        lc->traceref = luaL_ref(L, LUA_REGISTRYINDEX);
        cfg.trace = trace_cb;
        cfg.trace_ud = lc;
    } else {
        lua_pop(L, 1);
    }
    cfg.warn = warn_cb;
    cfg.warn_ud = lc;

    lua_State *prev = conn_drive(L);
    if (cfg.insecure)
        warn_cb(lc, "TLS certificate verification is disabled (insecure = true)");
    char err[600];
    struct session *s = NULL;
    int rc = session_open(&cfg, &s, err, sizeof err);
    if (rc == 0) {
        session_set_event_handler(s, conn_event, lc);
        lc->s = s;
        /* CONDSTORE: MODSEQ in FETCH/STATUS/SELECT for incremental runs (QRESYNC too when
         * cfg.qresync: VANISHED then replaces EXPUNGE); UTF8=ACCEPT: mailbox names and search
         * strings as UTF-8. Refusals are harmless: warn and go on. */
        static const char *const exts[] = { "CONDSTORE", "UTF8=ACCEPT", "QRESYNC" };
        char e2[600];
        if (session_enable(s, exts, qresync ? 3 : 2, e2, sizeof e2) < 0 &&
            session_state(s) != SESSION_BROKEN)
            warn_cb(lc, e2);
        if (session_state(s) == SESSION_BROKEN) {
            snprintf(err, sizeof err, "%s", session_error(s));
            rc = SESSION_ERR_CLOSED;
            session_free(s);
            s = lc->s = NULL;
        }
    }
    conn_drive(prev);
    if (rc < 0) {
        const char *kind = lua_error_kind(rc);
        char msg[900];
        size_t ll = strlen(lc->label);
        if (!strncmp(err, lc->label, ll) && err[ll] == ':')
            snprintf(msg, sizeof msg, "%s", err);
        else
            snprintf(msg, sizeof msg, "%s: %s", lc->label, err);
        lua_error_push(L, kind, msg, rc == SESSION_ERR_AUTH ? "LOGIN" : "connect", NULL, NULL,
                       NULL);
        return lua_error(L);
    }
    lc->s = s;
    lua_settop(L, cidx);
    return 1;
}

/* ---- synchronous information -------------------------------------------------------------- */

/* conn:enabled(ext): pushes 1, whether the server confirmed ENABLE ext ("QRESYNC"). */
static int conn_enabled(lua_State *L)
{
    struct session *s = conn_session(L, 1);
    const char *ext = luaL_checkstring(L, 2);
    lua_pushboolean(L, s && session_enabled(s, ext));
    return 1;
}

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
    const struct { const char *name; uint64_t v; } n[] = {
        { "commands", c.commands }, { "bytes_in", c.bytes_in }, { "bytes_out", c.bytes_out },
        { "round_trips", c.round_trips }, { "reads", c.reads }, { "writes", c.writes },
        { "wire_in", c.wire_in }, { "wire_out", c.wire_out },
    };
    lua_createtable(L, 0, 10);
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        lua_message_pushu64(L, n[i].v);
        lua_setfield(L, -2, n[i].name);
    }
    lua_pushboolean(L, c.tls);
    lua_setfield(L, -2, "tls");
    lua_pushboolean(L, c.compressed);
    lua_setfield(L, -2, "compressed");
    return 1;
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
    lua_message_pushstrv(L, v->flags, v->nflags);
    lua_setfield(L, -2, "flags");
    lua_message_pushstrv(L, v->permanentflags, v->npermanentflags);
    lua_setfield(L, -2, "permanentflags");
    lua_message_pushu64(L, v->expunges);
    lua_setfield(L, -2, "expunges");
    return 2;
}

int conn_push_closed(lua_State *L, struct lconn *lc, const char *what)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s: the connection is logged out", lc->label, what);
    lua_pushnil(L);
    lua_error_push(L, "closed", msg, what, NULL, NULL, NULL);
    return 2;
}

int conn_push_error(lua_State *L, struct lconn *lc, int rc, const char *what, const char *mailbox,
                    const char *err)
{
    char msg[900];
    snprintf(msg, sizeof msg, "%s: %s", lc->label, err);
    lua_pushnil(L);
    lua_error_push(L, lua_error_kind(rc), msg, what, mailbox, NULL, NULL);
    return 2;
}

/* conn:delimiter(): pushes 1, the hierarchy delimiter (a one-character string, nil for a
 * flat namespace), from LIST "" "" once per connection; or 2: nil and an error object. */
static int conn_delimiter(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    if (lc->delim == -2) {
        if (!lc->s)
            return conn_push_closed(L, lc, "LIST");
        struct session_list out = { 0 };
        char err[600];
        conn_enter(L, lc);
        int rc = session_list(lc->s, "", "", false, false, &out, err, sizeof err);
        if (rc == 0)
            lc->delim = out.n > 0 && out.items[0].delimiter ? (unsigned char)out.items[0].delimiter : -1;
        session_list_free(&out);
        conn_leave(L, lc);
        if (rc < 0)
            return conn_push_error(L, lc, rc, "LIST", NULL, err);
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
        if (session_state(lc->s) != SESSION_BROKEN && session_state(lc->s) != SESSION_LOGOUT) {
            session_idle_done(lc->s, err, sizeof err);   /* an IDLE held open ends first */
            session_logout(lc->s, err, sizeof err);
        }
        session_counters(lc->s, &lc->last);
        session_free(lc->s);
        lc->s = NULL;
    }
    conn_confirm_all(L, cidx, false);
    lua_mirror_detach_all(lc);
}

/* In a task: true when the caller must yield because lc has commands in flight, handed to the
 * loop (written as far as it goes) for the task's driver to progress. */
static bool must_yield(lua_State *L, struct lconn *lc, const struct lhandle *h)
{
    if (!lc->s || lc->busy || !conn_in_task(L))
        return false;
    if (h ? handle_done(h) : !session_busy(lc->s))
        return false;
    session_flush(lc->s);
    return h ? !handle_done(h) : session_busy(lc->s);
}

/* conn:logout(): waits for every pending command (fetch callbacks run), sends LOGOUT and
 * closes. Idempotent. Pushes 1, true. In a task both waits yield (ctx 1: LOGOUT sent). */
static int conn_logout_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    struct lconn *lc = conn_check(L, 1);
    if (lc->s && !lc->busy && ctx == 0) {
        char err[600];
        lua_State *prev = conn_drive(L);
        session_idle_done(lc->s, err, sizeof err);   /* an IDLE held open ends first */
        conn_drive(prev);
    }
    if (must_yield(L, lc, NULL))
        return lua_yieldk(L, 0, ctx, conn_logout_k);
    if (lc->s && ctx == 0 && conn_in_task(L) && !lc->busy &&
        session_state(lc->s) != SESSION_BROKEN && session_state(lc->s) != SESSION_LOGOUT) {
        /* Detached: the session finishes it and is LOGOUT once it is answered. */
        session_cmd_free(session_logout_start(lc->s));
        if (must_yield(L, lc, NULL))
            return lua_yieldk(L, 0, 1, conn_logout_k);
    }
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

static int conn_logout(lua_State *L)
{
    return conn_logout_k(L, LUA_OK, 0);
}

/* __gc and __close: LOGOUT without running Lua callbacks; never raises. Pushes nothing. */
static int conn_gc(lua_State *L)
{
    struct lconn *lc = luaL_checkudata(L, 1, LUA_CONN_TYPE);
    if (lc->busy)
        return 0;          /* __close from inside a callback: the running read goes on */
    lc->closing = true;    /* no Lua for this connection's callbacks; others' run on L */
    lua_State *prev = conn_drive(L);
    conn_shutdown(L, 1, lc);
    conn_drive(prev);
    lc->closing = false;
    conn_events_free(lc);
    lua_mirror_detach_all(lc);
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

/* ---- waiting -------------------------------------------------------------------------------- */

/* conn:wait([handle]): writes what is queued and reads until handle (or every pending command)
 * is complete. Pushes 1, true, or 2: false and the first error object among those waited for.
 * Raises the error a fetch callback threw, once the reply that carried it is read. In a task
 * it yields until then. */
static int conn_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    struct lconn *lc = conn_check(L, 1);
    struct lhandle *wh = lua_isnoneornil(L, 2) ? NULL : handle_check(L, 2);
    if (wh && wh->lc != lc)
        return lua_error_usage(L, "conn:wait: the handle belongs to another connection");
    if (must_yield(L, lc, wh))
        return lua_yieldk(L, 0, ctx, conn_wait_k);
    int hidx;
    if (wh && wh->tr) {             /* a transfer: its FETCH here and APPENDs elsewhere */
        if (!wh->confirmed) {
            conn_enter(L, lc);
            transfer_wait(wh->tr);
            handle_confirm(L, 1, 2, wh);
            conn_leave(L, lc);
        }
        lua_pushboolean(L, 1);
        return 1;
    }
    if (wh) {
        hidx = 2;
        struct lhandle *h = wh;
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

static int conn_wait(lua_State *L)
{
    return conn_wait_k(L, LUA_OK, 0);
}

/* ---- registration ----------------------------------------------------------------------- */

static const luaL_Reg conn_methods[] = {
    { "capabilities", conn_capabilities }, { "has", conn_has }, { "enabled", conn_enabled },
    { "stats", conn_stats },
    { "selected", conn_selected }, { "delimiter", conn_delimiter }, { "logout", conn_logout },
    { "wait", conn_wait },
    { NULL, NULL },
};

static const luaL_Reg conn_meta[] = {
    { "__gc", conn_gc }, { "__close", conn_gc }, { "__tostring", conn_tostring },
    { NULL, NULL },
};

/* Creates the metatable name with meta and an __index table of methods (and more, if not
 * NULL). Pushes nothing. */
static void new_type(lua_State *L, const char *name, const luaL_Reg *meta,
                     const luaL_Reg *methods, const luaL_Reg *more)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    if (more)
        luaL_setfuncs(L, more, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* Registers the conn and handle types and sets core.connect into the module table on top.
 * Pops nothing, pushes nothing. */
void lua_conn_open(lua_State *L)
{
    new_type(L, LUA_CONN_TYPE, conn_meta, conn_methods, conn_command_methods);
    luaL_getmetatable(L, LUA_CONN_TYPE);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, raw_command_methods, 0);
    luaL_setfuncs(L, conn_listen_methods, 0);
    lua_pop(L, 2);
    new_type(L, LUA_HANDLE_TYPE, handle_meta, handle_methods, NULL);
    lua_pushcfunction(L, core_connect);
    lua_setfield(L, -2, "connect");
}
