/* lua_regex.c — the "imapscript.regex" userdata: a compiled PCRE2 pattern with :match and :test,
 * used by client-side rules on fetched header fields and bodies. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "regex.h"

/* The userdata: the compiled regex, then room for its ovector (whole match + every group), so a
 * match allocates nothing. */
struct lregex {
    struct regex *re;
    size_t pairs;
    size_t ov[];
};

static struct lregex *check_lregex(lua_State *L, int idx)
{
    struct lregex *u = luaL_checkudata(L, idx, LUA_REGEX_TYPE);
    if (!u->re)
        luaL_argerror(L, idx, "regex is being collected");
    return u;
}

struct regex *lua_regex_check(lua_State *L, int idx)
{
    return check_lregex(L, idx)->re;
}

/* Pops 1 (the size), pushes 1: a zeroed regex userdata without a regex yet. */
static int lregex_alloc(lua_State *L)
{
    size_t size = (size_t)lua_tointeger(L, 1);
    memset(lua_newuserdatauv(L, size, 0), 0, size);
    luaL_setmetatable(L, LUA_REGEX_TYPE);
    return 1;
}

/* core.regex(pattern [, flags]): flags is a string of "i" (caseless), "m" (multiline), "s"
 * (dot matches newline), "x" (extended). Pushes 1, the regex, or 2: nil and the compile error
 * ("regex: missing closing parenthesis at offset 7"). */
static int lregex_new(lua_State *L)
{
    size_t len;
    const char *pattern = luaL_checklstring(L, 1, &len);
    const char *f = luaL_optstring(L, 2, "");
    unsigned flags = 0;
    for (; *f; f++) {
        switch (*f) {
        case 'i': flags |= REGEX_CASELESS; break;
        case 'm': flags |= REGEX_MULTILINE; break;
        case 's': flags |= REGEX_DOTALL; break;
        case 'x': flags |= REGEX_EXTENDED; break;
        default:
            return luaL_argerror(L, 2, lua_pushfstring(L, "unknown flag '%c' (use i, m, s, x)", *f));
        }
    }
    char err[300];
    struct regex *re = regex_compile(pattern, len, flags, err, sizeof err);
    if (!re) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    size_t pairs = (size_t)regex_groups(re) + 1;
    /* Allocated protected, so that the compiled regex is freed if the userdata cannot be. */
    lua_pushcfunction(L, lregex_alloc);
    lua_pushinteger(L, (lua_Integer)(sizeof(struct lregex) + 2 * pairs * sizeof(size_t)));
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        regex_free(re);
        return lua_error(L);
    }
    struct lregex *u = lua_touserdata(L, -1);
    u->re = re;
    u->pairs = pairs;
    return 1;
}

/* Runs the match; on an error pushes nil and the message and returns 2, else returns 0 and
 * leaves the result in u->ov (rc in *matched). */
static int run(lua_State *L, struct lregex *u, const char *s, size_t len, int *matched)
{
    int rc = regex_match(u->re, s, len, u->ov, u->pairs);
    if (rc < 0) {
        char msg[300];
        regex_error_text(rc, msg, sizeof msg);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    *matched = rc;
    return 0;
}

/* re:match(s): like string.match — pushes the captures (false for a group that did not take
 * part) when the pattern has groups, else the whole match; pushes nil when there is no match,
 * and nil, message on a match error (limit exceeded). */
static int lregex_match(lua_State *L)
{
    struct lregex *u = check_lregex(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    int matched, n = run(L, u, s, len, &matched);
    if (n)
        return n;
    if (!matched) {
        lua_pushnil(L);
        return 1;
    }
    size_t first = u->pairs > 1 ? 1 : 0;
    luaL_checkstack(L, (int)(u->pairs - first), "too many captures");
    for (size_t i = first; i < u->pairs; i++) {
        size_t a = u->ov[2 * i], b = u->ov[2 * i + 1];
        if (a == REGEX_UNSET || b < a || b > len)
            lua_pushboolean(L, 0);
        else
            lua_pushlstring(L, s + a, b - a);
    }
    return (int)(u->pairs - first);
}

/* re:test(s): pushes 1, true or false; or nil, message on a match error. */
static int lregex_test(lua_State *L)
{
    struct lregex *u = check_lregex(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    int rc = regex_match(u->re, s, len, NULL, 0);
    if (rc < 0) {
        char msg[300];
        regex_error_text(rc, msg, sizeof msg);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    lua_pushboolean(L, rc);
    return 1;
}

/* re:groups(): pushes 1, the number of capture groups. */
static int lregex_groups(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)regex_groups(check_lregex(L, 1)->re));
    return 1;
}

/* re:jit(): pushes 1, true when matches run JIT-compiled. */
static int lregex_jit(lua_State *L)
{
    lua_pushboolean(L, regex_jit(check_lregex(L, 1)->re));
    return 1;
}

static int lregex_gc(lua_State *L)
{
    struct lregex *u = luaL_checkudata(L, 1, LUA_REGEX_TYPE);
    regex_free(u->re);
    u->re = NULL;
    return 0;
}

static const luaL_Reg regex_meta[] = {
    {"__gc", lregex_gc},
    {"__close", lregex_gc},
    {"__index", NULL},  /* set below */
    {NULL, NULL},
};

static const luaL_Reg regex_methods[] = {
    {"match", lregex_match},
    {"test", lregex_test},
    {"groups", lregex_groups},
    {"jit", lregex_jit},
    {NULL, NULL},
};

static const luaL_Reg regex_funcs[] = {
    {"regex", lregex_new},
    {NULL, NULL},
};

/* Pops nothing, pushes nothing: registers the metatable, sets core.regex into the table on top. */
void lua_regex_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_REGEX_TYPE);
    luaL_setfuncs(L, regex_meta, 0);
    luaL_newlib(L, regex_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_setfuncs(L, regex_funcs, 0);
}
