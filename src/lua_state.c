/* lua_state.c — the binding of the state database ("imapscript.state", state.c) and of the
 * per-account run locks ("imapscript.lock", runlock.c). Thin: values in, rows out; what the rows
 * mean is lua/imapscript/journal.lua's business.
 *
 *   core.state_open(path [, busy_seconds [, "cache"]]) -> db | nil, message, kind
 *       the journal's database, or with "cache" the cache of incremental runs (state.h)
 *       kind: "busy", "corrupt", "schema", "io", "open" (failures a run survives without state)
 *   db:exec(name [, {param = value}]) -> rows, last_insert_id | nil, message, kind
 *       rows: an array of {column = value} (NULL columns absent); values are integers, numbers,
 *       strings (booleans bind as 0/1); a key that is not a parameter of the statement raises
 *   db:begin() db:commit() -> true | nil, message, kind;  db:rollback();  db:close()
 *   db:version() -> schema version;  core.state_statements() -> the statement names
 *   core.lock(path [, wait_seconds]) -> lock | nil, message, holder_pid;  lock:release()
 *   core.pid_alive(pid) -> boolean;  core.pid() -> this process's pid
 *   core.realpath(path) -> absolute path | nil   (a run's script, recorded for --undo)
 *   core.checksum(v, ...) -> integer      of the strings (and numbers) given, for cache rows */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "runlock.h"
#include "state.h"

#define LUA_STATE_TYPE "imapscript.state"
#define LUA_LOCK_TYPE  "imapscript.lock"

struct lstate { struct state *st; };
struct llock { int fd; };

static const char *kind_of(int code)
{
    switch (code) {
    case STATE_ERR_BUSY: return "busy";
    case STATE_ERR_CORRUPT: return "corrupt";
    case STATE_ERR_SCHEMA: return "schema";
    case STATE_ERR_IO: return "io";
    case STATE_ERR_OPEN: return "open";
    case STATE_ERR_USAGE: return "usage";
    default: return "sql";
    }
}

/* Pushes 3: nil, err, the kind of code. */
static int push_fail(lua_State *L, int code, const char *err)
{
    luaL_pushfail(L);
    lua_pushstring(L, err);
    lua_pushstring(L, kind_of(code));
    return 3;
}

/* The open database at idx, or NULL when it is closed (callers push a failure). */
static struct state *check_db(lua_State *L, int idx)
{
    return ((struct lstate *)luaL_checkudata(L, idx, LUA_STATE_TYPE))->st;
}

#define CLOSED(L) push_fail((L), STATE_ERR_OPEN, "state database is closed")

/* core.state_open(path [, busy_seconds]): pushes 1, the database, or 3 (see push_fail). */
static int lstate_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Number busy = luaL_optnumber(L, 2, 5);
    static const char *const kinds[] = { "journal", "cache", NULL };
    enum state_schema schema = luaL_checkoption(L, 3, "journal", kinds) ? STATE_CACHE
                                                                          : STATE_JOURNAL;
    struct lstate *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->st = NULL;
    luaL_setmetatable(L, LUA_STATE_TYPE);
    char err[600];
    int rc = state_open_schema(path, schema, busy > 0 ? (int)(busy * 1000) : 0, &u->st, err,
                               sizeof err);
    if (rc < 0)
        return push_fail(L, rc, err);
    return 1;
}

/* Row callback: appends {column = value} to the table on top of the stack. */
static int push_row(void *ud, int ncols, const char *const *names, const struct state_value *v)
{
    lua_State *L = ud;
    lua_createtable(L, 0, ncols);
    for (int c = 0; c < ncols; c++) {
        switch (v[c].type) {
        case STATE_T_INT: lua_pushinteger(L, (lua_Integer)v[c].i); break;
        case STATE_T_REAL: lua_pushnumber(L, v[c].r); break;
        case STATE_T_TEXT: lua_pushlstring(L, v[c].s, v[c].len); break;
        default: continue;
        }
        lua_setfield(L, -2, names[c]);
    }
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

/* The value at the top of the stack as a state value (strings stay on the stack). */
static struct state_value to_value(lua_State *L, const char *param)
{
    switch (lua_type(L, -1)) {
    case LUA_TNIL: return STATE_NULLV;
    case LUA_TBOOLEAN: return STATE_INT(lua_toboolean(L, -1));
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1))
            return STATE_INT(lua_tointeger(L, -1));
        return STATE_REAL(lua_tonumber(L, -1));
    case LUA_TSTRING: {
        struct state_value v = STATE_TEXT(lua_tostring(L, -1));
        v.len = lua_rawlen(L, -1);
        if (v.len == 0)
            v.s = "";
        return v;
    }
    default:
        luaL_error(L, "state: :%s cannot hold a %s", param, luaL_typename(L, -1));
        return STATE_NULLV;
    }
}

/* db:exec(name [, params]): pushes 2, the rows and the last insert id, or 3 (see push_fail). */
static int lstate_exec(lua_State *L)
{
    enum { MAXPARAMS = 40 };
    struct state *st = check_db(L, 1);
    const char *name = luaL_checkstring(L, 2);
    if (!st)
        return CLOSED(L);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    char err[600];
    const char *pnames[MAXPARAMS];
    int n = state_params(st, name, pnames, MAXPARAMS, err, sizeof err);
    if (n < 0)
        return n == STATE_ERR_USAGE ? luaL_error(L, "%s", err) : push_fail(L, n, err);
    if (n > MAXPARAMS)
        return luaL_error(L, "state: %s has too many parameters", name);
    /* Every key must be a parameter: a misspelt one would silently bind NULL. */
    if (!lua_isnil(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pop(L, 1);
            const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            int i = 0;
            while (k && i < n && strcmp(pnames[i], k) != 0)
                i++;
            if (!k || i == n)
                return luaL_error(L, "state: %s has no parameter :%s", name,
                                  k ? k : luaL_typename(L, -1));
        }
    }
    struct state_value args[MAXPARAMS];
    luaL_checkstack(L, n + 8, "state: too many parameters");
    for (int i = 0; i < n; i++) {
        if (lua_isnil(L, 3))
            lua_pushnil(L);
        else
            lua_getfield(L, 3, pnames[i]);
        args[i] = to_value(L, pnames[i]);     /* the string stays on the stack */
    }
    lua_newtable(L);
    int rc = state_exec(st, name, args, n, push_row, L, err, sizeof err);
    if (rc < 0)
        return push_fail(L, rc, err);
    lua_pushinteger(L, (lua_Integer)state_last_id(st));
    return 2;
}

/* Runs begin or commit on the db at index 1: pushes 1, true, or 3 (see push_fail). */
static int tx_step(lua_State *L, int (*step)(struct state *, char *, size_t))
{
    char err[600];
    struct state *st = check_db(L, 1);
    if (!st)
        return CLOSED(L);
    int rc = step(st, err, sizeof err);
    if (rc < 0)
        return push_fail(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:begin() / db:commit(). */
static int lstate_begin(lua_State *L) { return tx_step(L, state_begin); }
static int lstate_commit(lua_State *L) { return tx_step(L, state_commit); }

/* db:rollback(): pushes nothing. */
static int lstate_rollback(lua_State *L)
{
    struct state *st = check_db(L, 1);
    if (st)
        state_rollback(st);
    return 0;
}

/* db:version(): pushes 1, the schema version. */
static int lstate_version(lua_State *L)
{
    struct state *st = check_db(L, 1);
    lua_pushinteger(L, st ? state_version(st) : 0);
    return 1;
}

/* db:close(), __gc, __close: pushes nothing; idempotent. */
static int lstate_close(lua_State *L)
{
    struct lstate *u = luaL_checkudata(L, 1, LUA_STATE_TYPE);
    state_close(u->st);
    u->st = NULL;
    return 0;
}

/* core.state_statements(): pushes 1, an array of the statement names. */
static int lstate_statements(lua_State *L)
{
    const char *const *names = state_statement_names();
    lua_newtable(L);
    for (int i = 0; names[i]; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* core.lock(path [, wait_seconds]): pushes 1, the lock, or 3: nil, message, holder pid (0 when
 * unknown; nil when the failure is not another holder). */
static int llock_take(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Number wait = luaL_optnumber(L, 2, 0);
    struct llock *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->fd = -1;
    luaL_setmetatable(L, LUA_LOCK_TYPE);
    char err[600];
    long holder = 0;
    int fd = runlock_acquire(path, wait > 0 ? (int)(wait * 1000) : 0, &holder, err, sizeof err);
    if (fd < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        if (fd == -EWOULDBLOCK)
            lua_pushinteger(L, holder);
        else
            lua_pushnil(L);
        return 3;
    }
    u->fd = fd;
    return 1;
}

/* lock:release(), __gc: pushes nothing; idempotent. */
static int llock_release(lua_State *L)
{
    struct llock *u = luaL_checkudata(L, 1, LUA_LOCK_TYPE);
    runlock_release(u->fd);
    u->fd = -1;
    return 0;
}

/* core.pid_alive(pid): pushes 1, whether a process with that pid exists. */
static int lpid_alive(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    lua_pushboolean(L, pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM));
    return 1;
}

/* core.pid(): pushes 1, this process's pid. */
static int lpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* core.realpath(path): pushes 1, the absolute path with links resolved, or nil. */
static int lrealpath(lua_State *L)
{
    char *p = realpath(luaL_checkstring(L, 1), NULL);
    if (!p) {
        luaL_pushfail(L);
        return 1;
    }
    lua_pushstring(L, p);
    free(p);
    return 1;
}

/* core.checksum(v, ...): pushes 1, the checksum of the values' text, each ended by a NUL. */
static int lchecksum(lua_State *L)
{
    uint32_t sum = 0;
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_checklstring(L, i, &len);
        sum = state_checksum(sum, s, len + 1);
    }
    lua_pushinteger(L, (lua_Integer)(sum & 0x7fffffff));
    return 1;
}

static const luaL_Reg state_methods[] = {
    { "exec", lstate_exec }, { "begin", lstate_begin }, { "commit", lstate_commit },
    { "rollback", lstate_rollback }, { "version", lstate_version }, { "close", lstate_close },
    { NULL, NULL },
};

static const luaL_Reg lock_methods[] = { { "release", llock_release }, { NULL, NULL } };

static const luaL_Reg funcs[] = {
    { "state_open", lstate_open }, { "state_statements", lstate_statements },
    { "lock", llock_take }, { "pid_alive", lpid_alive }, { "pid", lpid },
    { "realpath", lrealpath }, { "checksum", lchecksum }, { NULL, NULL },
};

/* Registers both metatables and sets the functions into the module table on top. Pops nothing,
 * pushes nothing. */
void lua_state_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_STATE_TYPE);
    lua_pushcfunction(L, lstate_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lstate_close);
    lua_setfield(L, -2, "__close");
    luaL_newlib(L, state_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, LUA_LOCK_TYPE);
    lua_pushcfunction(L, llock_release);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, lock_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
