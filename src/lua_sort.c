/* lua_sort.c — core.sort_key, core.base_subject: the keys client-side SORT and THREAD compare
 * (collate.c), for lua/imapscript/sort.lua; sent dates come from core.parse_date (lua_date.c). */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "collate.h"
#include "lua_bind.h"

/* core.sort_key(s): pushes 1, s in i;unicode-casemap form (compare with < or ==). */
static int lsort_key(lua_State *L)
{
    size_t len, ol;
    const char *s = luaL_checklstring(L, 1, &len);
    char *out;
    if (collate_casemap(s, len, &out, &ol) < 0)
        return luaL_error(L, "sort_key: the Unicode library failed (out of memory?)");
    lua_pushlstring(L, out, ol);
    free(out);
    return 1;
}

/* core.base_subject(s): pushes 2, the RFC 5256 base subject (casemapped) and whether a reply or
 * forward marker was removed. */
static int lbase_subject(lua_State *L)
{
    size_t len, ol;
    const char *s = luaL_checklstring(L, 1, &len);
    char *out;
    int reply;
    if (collate_base_subject(s, len, &out, &ol, &reply) < 0)
        return luaL_error(L, "base_subject: the Unicode library failed (out of memory?)");
    lua_pushlstring(L, out, ol);
    free(out);
    lua_pushboolean(L, reply);
    return 2;
}

static const luaL_Reg sort_funcs[] = {
    { "sort_key", lsort_key }, { "base_subject", lbase_subject },
    { NULL, NULL },
};

/* Sets core.sort_key and core.base_subject into the table on top. */
void lua_sort_open(lua_State *L)
{
    luaL_setfuncs(L, sort_funcs, 0);
}
