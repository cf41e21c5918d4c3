/* lua_sort.c — core.sort_key, core.base_subject, core.parse_date: the keys client-side SORT and
 * THREAD compare (collate.c), for lua/imapscript/sort.lua. */
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

/* core.parse_date(s): pushes 1, the UTC seconds of an RFC 5322 or INTERNALDATE date, or nil. */
static int lparse_date(lua_State *L)
{
    int64_t t;
    if (collate_date(luaL_checkstring(L, 1), &t) < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)t);
    return 1;
}

static const luaL_Reg sort_funcs[] = {
    { "sort_key", lsort_key }, { "base_subject", lbase_subject }, { "parse_date", lparse_date },
    { NULL, NULL },
};

/* Sets core.sort_key, core.base_subject, core.parse_date into the table on top. */
void lua_sort_open(lua_State *L)
{
    luaL_setfuncs(L, sort_funcs, 0);
}
