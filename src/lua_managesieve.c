/* lua_managesieve.c — the "imapscript.managesieve" userdata: one ManageSieve connection
 * (managesieve.c). Thin glue; what to install and why lives in lua/imapscript/sieve/.
 *
 *   core.managesieve(cfg) -> ms          cfg as core.connect's (host, port (4190), tls
 *                                        "starttls" | "none", ca_file, fingerprint, insecure,
 *                                        timeout, user, password, token, auth, allow_plaintext,
 *                                        label, trace, warn); raises an error object
 *   ms:capabilities() -> {NAME = value}
 *   ms:check(script), ms:put(name, script) -> true, the server's words, its response code
 *                                        ("WARNINGS" when it has some) | nil, err
 *   ms:setactive(name), ms:delete(name)   -> true | nil, err
 *   ms:list() -> {{name=, active=}, ...} | nil, err
 *   ms:get(name) -> script | nil, err
 *   ms:logout()                          idempotent; also __gc and __close
 * err is an error object: kind "no" when the server refused (code = its response code, e.g.
 * "QUOTA/MAXSCRIPTS", server_text = its words), else "network", "tls", "closed", "protocol". */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_conn.h"
#include "managesieve.h"

#define LUA_MANAGESIEVE_TYPE "imapscript.managesieve"

struct lms {
    struct managesieve *m;          /* NULL after logout */
    luaL_Stream *trace;
    int traceref;                   /* registry ref keeping the trace file alive */
    char label[256];
};

static struct lms *check_lms(lua_State *L)
{
    return luaL_checkudata(L, 1, LUA_MANAGESIEVE_TYPE);
}

static void trace_cb(void *ud, char dir, const char *line, size_t len)
{
    struct lms *u = ud;
    if (u->trace && u->trace->closef && u->trace->f)
        fprintf(u->trace->f, "%c: %.*s\n", dir, (int)(len > INT_MAX ? INT_MAX : len), line);
}

/* During core.managesieve only: calls cfg.warn (at index 1's field) in protected mode. */
struct warn_ctx { lua_State *L; };

static void warn_cb(void *ud, const char *msg)
{
    lua_State *L = ((struct warn_ctx *)ud)->L;
    if (!lua_checkstack(L, 3))
        return;
    lua_getfield(L, 1, "warn");
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        fprintf(stderr, "imapscript: warning: %s\n", msg);
        return;
    }
    lua_pushstring(L, msg);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}

/* Pushes 2: nil and the error object for a failed call. */
static int push_fail(lua_State *L, struct lms *u, int rc, const char *what, const char *err)
{
    const struct managesieve_reply *r = u->m ? managesieve_last(u->m) : NULL;
    bool no = rc == SESSION_ERR_NO && r;
    lua_pushnil(L);
    lua_error_push(L, lua_error_kind(rc), err, what, NULL, no && r->code[0] ? r->code : NULL,
                   no ? r->text : NULL);
    return 2;
}

static struct managesieve *live(lua_State *L, struct lms *u)
{
    if (!u->m)
        lua_error_usage(L, "%s: the ManageSieve connection is logged out", u->label);
    return u->m;
}

/* core.managesieve(cfg): pushes 1, the connection; raises an error object on failure. */
static int lms_connect(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct conn_fields f;
    conn_fields_read(L, 1, &f);
    if (!f.host)
        lua_error_usage(L, "managesieve: cfg.host is required (no tunnel for ManageSieve)");
    struct managesieve_config cfg = {
        .host = f.host, .port = f.port, .ca_file = f.ca_file, .fingerprint = f.fingerprint,
        .insecure = f.insecure, .timeout_ms = f.timeout_ms, .user = f.user,
        .password = f.password, .password_len = f.password_len, .token = f.token,
        .allow_plaintext = f.allow_plaintext, .label = f.label,
    };
    memcpy(cfg.auth, f.auth, sizeof cfg.auth);
    static const char *const tls_opts[] = { "starttls", "none", NULL };
    cfg.starttls = opt_enum_field(L, 1, "tls", tls_opts, 0) == 0;

    struct lms *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    u->traceref = LUA_NOREF;
    luaL_setmetatable(L, LUA_MANAGESIEVE_TYPE);
    int uidx = lua_gettop(L);
    snprintf(u->label, sizeof u->label, "%s%s%s", cfg.label ? cfg.label : cfg.user ? cfg.user : "",
             !cfg.label && cfg.user ? "@" : "", cfg.label ? "" : cfg.host);
    lua_getfield(L, 1, "trace");
    if (!lua_isnil(L, -1)) {
        u->trace = luaL_testudata(L, -1, LUA_FILEHANDLE);
        if (!u->trace)
            lua_error_usage(L, "managesieve: cfg.trace must be a file handle");
        u->traceref = luaL_ref(L, LUA_REGISTRYINDEX);
        cfg.trace = trace_cb;
        cfg.trace_ud = u;
    } else {
        lua_pop(L, 1);
    }
    struct warn_ctx wc = { L };
    cfg.warn = warn_cb;
    cfg.warn_ud = &wc;
    if (cfg.insecure)
        warn_cb(&wc, "TLS certificate verification is disabled (insecure = true)");
    char err[1400];
    int rc = managesieve_open(&cfg, &u->m, err, sizeof err);
    if (rc < 0) {
        lua_error_push(L, lua_error_kind(rc), err, "connect", NULL, NULL, NULL);
        return lua_error(L);
    }
    lua_settop(L, uidx);
    return 1;
}

/* ms:capabilities(): pushes 1, {NAME = value} ("" for a capability without value). */
static int lms_capabilities(lua_State *L)
{
    struct lms *u = check_lms(L);
    size_t n = 0;
    const char *const *caps = managesieve_capabilities(live(L, u), &n);
    lua_createtable(L, 0, (int)(n < 64 ? n : 64));
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, caps[2 * i + 1]);
        lua_setfield(L, -2, caps[2 * i]);
    }
    return 1;
}

/* Pushes 3 (true, the server's words, its response code or nil) or the failure. */
static int push_ok_words(lua_State *L, struct lms *u, int rc, const char *what, const char *err)
{
    if (rc < 0)
        return push_fail(L, u, rc, what, err);
    const struct managesieve_reply *r = managesieve_last(u->m);
    lua_pushboolean(L, 1);
    lua_pushstring(L, r->text);
    if (r->code[0])
        lua_pushstring(L, r->code);
    else
        lua_pushnil(L);
    return 3;
}

/* ms:check(script): pushes true, the server's words and code, or nil and an error. */
static int lms_check(lua_State *L)
{
    struct lms *u = check_lms(L);
    size_t len;
    const char *script = luaL_checklstring(L, 2, &len);
    char err[1400];
    int rc = managesieve_check(live(L, u), script, len, err, sizeof err);
    return push_ok_words(L, u, rc, "CHECKSCRIPT", err);
}

/* ms:put(name, script): pushes true, the server's words and code, or nil and an error. */
static int lms_put(lua_State *L)
{
    struct lms *u = check_lms(L);
    const char *name = luaL_checkstring(L, 2);
    size_t len;
    const char *script = luaL_checklstring(L, 3, &len);
    char err[1400];
    int rc = managesieve_put(live(L, u), name, script, len, err, sizeof err);
    return push_ok_words(L, u, rc, "PUTSCRIPT", err);
}

typedef int (*name_cmd)(struct managesieve *, const char *, char *, size_t);

/* Pushes true, or nil and an error. */
static int lms_name_cmd(lua_State *L, name_cmd fn, const char *what)
{
    struct lms *u = check_lms(L);
    const char *name = luaL_checkstring(L, 2);
    char err[1400];
    int rc = fn(live(L, u), name, err, sizeof err);
    if (rc < 0)
        return push_fail(L, u, rc, what, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ms:setactive(name) ("" deactivates all), ms:delete(name). */
static int lms_setactive(lua_State *L) { return lms_name_cmd(L, managesieve_setactive, "SETACTIVE"); }
static int lms_delete(lua_State *L) { return lms_name_cmd(L, managesieve_delete, "DELETESCRIPT"); }

struct list_state { lua_State *L; lua_Integer n; };

static void list_cb(void *ud, const char *name, size_t len, bool active)
{
    struct list_state *st = ud;
    lua_createtable(st->L, 0, 2);
    lua_pushlstring(st->L, name, len);
    lua_setfield(st->L, -2, "name");
    lua_pushboolean(st->L, active);
    lua_setfield(st->L, -2, "active");
    lua_rawseti(st->L, -2, ++st->n);
}

/* ms:list(): pushes 1, {{name=, active=}, ...}, or nil and an error. */
static int lms_list(lua_State *L)
{
    struct lms *u = check_lms(L);
    struct managesieve *m = live(L, u);
    lua_newtable(L);
    struct list_state st = { L, 0 };
    char err[1400];
    int rc = managesieve_list(m, list_cb, &st, err, sizeof err);
    if (rc < 0)
        return push_fail(L, u, rc, "LISTSCRIPTS", err);
    return 1;
}

/* ms:get(name): pushes 1, the script text, or nil and an error. */
static int lms_get(lua_State *L)
{
    struct lms *u = check_lms(L);
    const char *name = luaL_checkstring(L, 2);
    char *script;
    size_t len;
    char err[1400];
    int rc = managesieve_get(live(L, u), name, &script, &len, err, sizeof err);
    if (rc < 0)
        return push_fail(L, u, rc, "GETSCRIPT", err);
    lua_pushlstring(L, script, len);
    free(script);
    return 1;
}

/* ms:logout(): pushes nothing; LOGOUT once, then the connection is closed. */
static int lms_logout(lua_State *L)
{
    struct lms *u = check_lms(L);
    if (u->m) {
        char err[600];
        managesieve_logout(u->m, err, sizeof err);
        managesieve_free(u->m);
        u->m = NULL;
    }
    if (u->traceref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, u->traceref);
        u->traceref = LUA_NOREF;
        u->trace = NULL;
    }
    return 0;
}

static const luaL_Reg lms_methods[] = {
    {"capabilities", lms_capabilities},
    {"check", lms_check},
    {"put", lms_put},
    {"setactive", lms_setactive},
    {"delete", lms_delete},
    {"list", lms_list},
    {"get", lms_get},
    {"logout", lms_logout},
    {NULL, NULL},
};

/* Registers the metatable and sets core.managesieve into the module table on top.
 * Pops nothing, pushes nothing. */
void lua_managesieve_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_MANAGESIEVE_TYPE);
    luaL_newlib(L, lms_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lms_logout);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lms_logout);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    lua_pushcfunction(L, lms_connect);
    lua_setfield(L, -2, "managesieve");
}
