/* lua_loop.c — the loop as Lua sees it: core.loop_wait (one round), core.now, and tasks:
 * coroutines whose conn:wait and conn:logout yield instead of blocking, so that Lua code can
 * run several accounts' batches side by side (lua/imapscript/tasks.lua drives them).
 *   core.loop_wait([seconds]) -> n        one round of the loop: waits for I/O or a timer
 *   core.now() -> seconds                 CLOCK_MONOTONIC, the same clock in every process
 *   core.task(co)                         makes co a task; core.task() -> is the caller one?
 * Also the thread on which the connections' Lua callbacks run while the loop is driven. */
#include <limits.h>

#include <lauxlib.h>
#include <lua.h>

#include "loop.h"
#include "lua_conn.h"

/* Every connection's data is read whenever the loop runs, so a fetch callback may run during
 * a wait on another connection: on whatever thread drives the loop now. */
static lua_State *driver;

lua_State *conn_drive(lua_State *L)
{
    lua_State *prev = driver;
    driver = L;
    return prev;
}

lua_State *conn_driver(void)
{
    return driver;
}

/* Registry key of the weak table {coroutine = true} of tasks. */
static const char TASKS_KEY = 't';

/* Pushes the tasks table, making it once. Pushes 1. */
static void push_tasks(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TASKS_KEY) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &TASKS_KEY);
}

bool conn_in_task(lua_State *L)
{
    if (!lua_isyieldable(L))
        return false;
    push_tasks(L);
    lua_pushthread(L);
    lua_rawget(L, -2);
    bool yes = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return yes;
}

/* core.task(co): marks co as a task; pushes nothing. core.task(): pushes 1, whether the
 * running coroutine is one. */
static int core_task(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_pushboolean(L, conn_in_task(L));
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTHREAD);
    push_tasks(L);
    lua_pushvalue(L, 1);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    return 0;
}

/* core.loop_wait([seconds]): one round of the loop, waiting at most seconds (no limit when
 * nil) for a connection to be ready or a timer to fire. Pushes 1, how many callbacks ran.
 * From inside a callback: a usage error. */
static int core_loop_wait(lua_State *L)
{
    int ms = -1;
    if (!lua_isnoneornil(L, 1)) {
        lua_Number s = luaL_checknumber(L, 1);
        ms = !(s > 0) ? 0 : s * 1000 >= INT_MAX ? INT_MAX : (int)(s * 1000);
    }
    lua_State *prev = conn_drive(L);
    int r = loop_run_once(loop_default(), ms);
    conn_drive(prev);
    if (r == LOOP_ERR_NESTED)
        return lua_error_usage(L, "loop_wait: cannot wait inside a response callback");
    lua_pushinteger(L, r < 0 ? 0 : r);
    return 1;
}

/* core.now(): pushes 1, seconds on CLOCK_MONOTONIC (milliseconds resolution). */
static int core_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)loop_now_ms() / 1000);
    return 1;
}

void lua_loop_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "loop_wait", core_loop_wait }, { "now", core_now }, { "task", core_task },
        { NULL, NULL },
    };
    luaL_setfuncs(L, fns, 0);
}
