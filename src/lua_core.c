/* lua_core.c — luaopen_imapscript_core: the C module under lua/imapscript, built into the
 * program and also as imapscript/core.so for the stock lua5.4. Opens each binding in turn. */
#include <syslog.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "privfile.h"

/* core.syslog(priority, message): priority among "debug", "info", "warning", "err".
 * Pops nothing, pushes nothing. */
static int core_syslog(lua_State *L)
{
    static const char *const names[] = { "debug", "info", "warning", "err", NULL };
    static const int levels[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
    static int opened;
    int level = levels[luaL_checkoption(L, 1, "info", names)];
    const char *msg = luaL_checkstring(L, 2);
    if (!opened) {
        openlog("imapscript", LOG_PID, LOG_MAIL);
        opened = 1;
    }
    syslog(level, "%s", msg);
    return 0;
}

/* core.private_dir(path): creates path and its parents with mode 0700.
 * Pushes true, or nil and a message. */
static int core_private_dir(lua_State *L)
{
    char err[512];
    if (privfile_mkdirs(luaL_checkstring(L, 1), err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.write_private(path, data): replaces path atomically with a file of mode 0600.
 * Pushes true, or nil and a message. */
static int core_write_private(lua_State *L)
{
    size_t len;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &len);
    char err[512];
    if (privfile_write(path, data, len, err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_imapscript_core(lua_State *L)
{
    lua_newtable(L);
    lua_pushliteral(L, IMAPSCRIPT_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushcfunction(L, core_syslog);
    lua_setfield(L, -2, "syslog");
    lua_pushcfunction(L, core_private_dir);
    lua_setfield(L, -2, "private_dir");
    lua_pushcfunction(L, core_write_private);
    lua_setfield(L, -2, "write_private");
    lua_msgset_open(L);
    lua_query_open(L);
    lua_regex_open(L);
    lua_mutf7_open(L);
    lua_mime_open(L);
    lua_error_open(L);
    lua_conn_open(L);
    lua_raw_open(L);
    lua_sort_open(L);
    lua_date_open(L);
    lua_oauth2_open(L);
    lua_loop_open(L);
    lua_managesieve_open(L);
    lua_state_open(L);
    lua_mirror_open(L);
    return 1;
}
