/* lua_mutf7.c — core.mutf7_encode / core.mutf7_decode: IMAP mailbox names between UTF-8 and
 * modified UTF-7, for scripts and the dry-run planner. */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "mutf7.h"

typedef int (*mutf7_conv)(const char *, size_t, char **, char *, size_t);

/* Pushes 1, the converted name, or 2: nil and a message naming the bad offset. */
static int convert(lua_State *L, mutf7_conv conv)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char *out = NULL, err[200] = "";
    if (conv(s, len, &out, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err[0] ? err : "mutf7: not enough memory");
        return 2;
    }
    lua_pushstring(L, out);
    free(out);
    return 1;
}

/* core.mutf7_encode(utf8): pushes the modified UTF-7 name, or nil, message. */
static int lmutf7_encode(lua_State *L) { return convert(L, mutf7_encode); }
/* core.mutf7_decode(mutf7): pushes the UTF-8 name, or nil, message. */
static int lmutf7_decode(lua_State *L) { return convert(L, mutf7_decode); }

static const luaL_Reg mutf7_funcs[] = {
    {"mutf7_encode", lmutf7_encode},
    {"mutf7_decode", lmutf7_decode},
    {NULL, NULL},
};

/* Pops nothing, pushes nothing: sets core.mutf7_* into the table on top. */
void lua_mutf7_open(lua_State *L)
{
    luaL_setfuncs(L, mutf7_funcs, 0);
}
