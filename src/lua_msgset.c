/* lua_msgset.c — the "imapscript.set" userdata: an immutable set of UIDs with + * - algebra,
 * compact text, and iterators that walk the ranges without materialising the members. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "msgset.h"

/* The userdata holds the struct msgset itself; its ranges are malloc'd and freed by __gc. */

static int set_alloc(lua_State *L)
{
    struct msgset *s = lua_newuserdatauv(L, sizeof *s, 0);
    msgset_init(s);
    luaL_setmetatable(L, LUA_MSGSET_TYPE);
    return 1;
}

/* Pushes 1: a new empty set. */
struct msgset *lua_msgset_new(lua_State *L)
{
    set_alloc(L);
    return lua_touserdata(L, -1);
}

/* Pushes 1. The allocation runs protected so that moved_in can be freed before the error. */
void lua_msgset_push(lua_State *L, struct msgset *moved_in)
{
    lua_pushcfunction(L, set_alloc);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        msgset_free(moved_in);
        lua_error(L);
    }
    struct msgset *s = lua_touserdata(L, -1);
    *s = *moved_in;
    msgset_init(moved_in);
}

const struct msgset *lua_msgset_check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, LUA_MSGSET_TYPE);
}

static void set_nomem(lua_State *L)
{
    luaL_error(L, "set: not enough memory");
}

static int uid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Fills s from the array at idx: sorted first so that msgset_add runs in O(1) each.
 * Pushes nothing (the scratch array is popped). */
static void set_from_table(lua_State *L, int idx, struct msgset *s)
{
    lua_Unsigned n = lua_rawlen(L, idx);
    if (n > SIZE_MAX / sizeof(uint32_t))
        set_nomem(L);
    uint32_t *v = lua_newuserdatauv(L, (size_t)n * sizeof *v + 1, 0);
    for (lua_Unsigned i = 0; i < n; i++) {
        int isint = 0;
        lua_rawgeti(L, idx, (lua_Integer)(i + 1));
        lua_Integer u = lua_tointegerx(L, -1, &isint);
        if (!isint || lua_type(L, -1) != LUA_TNUMBER || u < 1 || u > (lua_Integer)UINT32_MAX)
            luaL_error(L, "set: element [%I] is not a UID (an integer 1..4294967295)",
                       (lua_Integer)(i + 1));
        lua_pop(L, 1);
        v[i] = (uint32_t)u;
    }
    qsort(v, (size_t)n, sizeof *v, uid_cmp);
    for (size_t i = 0; i < (size_t)n; i++) {
        /* Collect runs of consecutive UIDs into one range. */
        size_t j = i;
        while (j + 1 < (size_t)n && (v[j + 1] == v[j] || v[j + 1] == v[j] + 1))
            j++;
        if (msgset_add(s, v[i], v[j]) != 0)
            set_nomem(L);
        i = j;
    }
    lua_pop(L, 1);
}

const struct msgset *lua_msgset_coerce(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *text = lua_tolstring(L, idx, &len);
        struct msgset *s = lua_msgset_new(L);
        const char *star = memchr(text, '*', len);
        if (star)
            luaL_error(L, "message set: '*' at offset %I: a set holds known UIDs only",
                       (lua_Integer)(star - text));
        if (len > 0) {
            char err[160];
            int rc = msgset_parse(s, text, len, 0, err, sizeof err);
            if (rc == -ENOMEM)
                set_nomem(L);
            if (rc != 0)
                luaL_error(L, "%s", err);
        }
        lua_replace(L, idx);
        return s;
    }
    case LUA_TTABLE: {
        struct msgset *s = lua_msgset_new(L);
        set_from_table(L, idx, s);
        lua_replace(L, idx);
        return s;
    }
    default: {
        const struct msgset *s = luaL_testudata(L, idx, LUA_MSGSET_TYPE);
        if (!s)
            luaL_typeerror(L, idx, "set, set text or array of UIDs");
        return s;
    }
    }
}

/* core.set(x): x a set (copied), set text "1:5,9" or an array of UIDs. Pushes 1: a set. */
static int set_new(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    const struct msgset *src = luaL_testudata(L, 1, LUA_MSGSET_TYPE);
    if (src) {
        struct msgset *s = lua_msgset_new(L);
        if (msgset_copy(s, src) != 0)
            set_nomem(L);
        return 1;
    }
    lua_msgset_coerce(L, 1);
    return 1;
}

typedef int (*set_op)(struct msgset *, const struct msgset *, const struct msgset *);

/* Pops nothing; pushes 1: a op b (either may be set text or an array of UIDs). */
static int set_binop(lua_State *L, set_op op)
{
    const struct msgset *a = lua_msgset_coerce(L, 1);
    const struct msgset *b = lua_msgset_coerce(L, 2);
    struct msgset *out = lua_msgset_new(L);
    if (op(out, a, b) != 0)
        set_nomem(L);
    return 1;
}

static int set_add(lua_State *L) { return set_binop(L, msgset_union); }
static int set_mul(lua_State *L) { return set_binop(L, msgset_intersect); }
static int set_sub(lua_State *L) { return set_binop(L, msgset_difference); }

/* #s: pushes 1, the member count. */
static int set_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)msgset_count(lua_msgset_check(L, 1)));
    return 1;
}

/* s == t: pushes 1, a boolean. */
static int set_eq(lua_State *L)
{
    lua_pushboolean(L, msgset_equal(lua_msgset_check(L, 1), lua_msgset_check(L, 2)));
    return 1;
}

/* tostring(s): pushes 1, the compact text ("" for the empty set). Built in a luaL_Buffer from
 * pieces so that a memory error leaks nothing. */
static int set_tostring(lua_State *L)
{
    const struct msgset *s = lua_msgset_check(L, 1);
    enum { PIECE = 4096 };
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t pos = 0;
    while (pos < s->n) {
        if (pos > 0)
            luaL_addchar(&b, ',');
        char *p = luaL_prepbuffsize(&b, PIECE + 1);
        luaL_addsize(&b, msgset_format_piece(s, &pos, p, PIECE));
    }
    luaL_pushresult(&b);
    return 1;
}

static int set_gc(lua_State *L)
{
    msgset_free(luaL_checkudata(L, 1, LUA_MSGSET_TYPE));
    return 0;
}

/* s:contains(uid): pushes 1, a boolean (false for numbers outside 1..2^32-1). */
static int set_contains(lua_State *L)
{
    const struct msgset *s = lua_msgset_check(L, 1);
    lua_Integer u = luaL_checkinteger(L, 2);
    lua_pushboolean(L, u >= 1 && u <= (lua_Integer)UINT32_MAX && msgset_contains(s, (uint32_t)u));
    return 1;
}

/* Upvalues: 1 the set (kept alive), 2 a struct msgset_iter userdata. Pushes 1: the next UID,
 * or nil at the end. */
static int set_uids_next(lua_State *L)
{
    struct msgset_iter *it = lua_touserdata(L, lua_upvalueindex(2));
    uint32_t uid;
    if (!msgset_iter_next(it, &uid))
        return 0;
    lua_pushinteger(L, (lua_Integer)uid);
    return 1;
}

/* s:uids(): pushes 1, an iterator over the members in ascending order. */
static int set_uids(lua_State *L)
{
    const struct msgset *s = lua_msgset_check(L, 1);
    lua_settop(L, 1);
    struct msgset_iter *it = lua_newuserdatauv(L, sizeof *it, 0);
    msgset_iter_init(it, s);
    lua_pushcclosure(L, set_uids_next, 2);
    return 1;
}

/* Upvalues: 1 the set, 2 the next range index. Pushes 2 (lo, hi) or nothing at the end. */
static int set_ranges_next(lua_State *L)
{
    const struct msgset *s = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
    if (i < 0 || (size_t)i >= s->n)
        return 0;
    lua_pushinteger(L, i + 1);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushinteger(L, (lua_Integer)s->r[i].lo);
    lua_pushinteger(L, (lua_Integer)s->r[i].hi);
    return 2;
}

/* s:ranges(): pushes 1, an iterator of (lo, hi) pairs in ascending order. */
static int set_ranges(lua_State *L)
{
    lua_msgset_check(L, 1);
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, set_ranges_next, 2);
    return 1;
}

/* Upvalues: 1 the set, 2 the next range index, 3 the budget. Pushes 1: the next piece of set
 * text, or nothing at the end. */
static int set_pieces_next(lua_State *L)
{
    const struct msgset *s = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
    size_t budget = (size_t)lua_tointeger(L, lua_upvalueindex(3));
    if (i < 0 || (size_t)i >= s->n)
        return 0;
    size_t pos = (size_t)i;
    /* Never ask for more buffer than the rest of the set can fill. */
    size_t rest = s->n - pos;
    if (rest < SIZE_MAX / (MSGSET_RANGE_MAX_TEXT + 1) && budget > rest * (MSGSET_RANGE_MAX_TEXT + 1))
        budget = rest * (MSGSET_RANGE_MAX_TEXT + 1);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, budget + 1);
    size_t len = msgset_format_piece(s, &pos, p, budget);
    if (len == 0)      /* cannot happen with budget >= 21; never loop on it */
        return 0;
    luaL_pushresultsize(&b, len);
    lua_pushinteger(L, (lua_Integer)pos);
    lua_replace(L, lua_upvalueindex(2));
    return 1;
}

/* s:pieces(budget): pushes 1, an iterator of set texts of at most budget bytes each (budget >=
 * 21, the longest range "4294967295:4294967295") that together cover s exactly. */
static int set_pieces(lua_State *L)
{
    lua_msgset_check(L, 1);
    lua_Integer budget = luaL_checkinteger(L, 2);
    luaL_argcheck(L, budget >= MSGSET_RANGE_MAX_TEXT, 2, "budget must be at least 21 bytes");
    if ((lua_Unsigned)budget > SIZE_MAX / 2)
        budget = (lua_Integer)(SIZE_MAX / 2);
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    lua_pushinteger(L, budget);
    lua_pushcclosure(L, set_pieces_next, 3);
    return 1;
}

/* s:min(), s:max(): push 1, the smallest / largest member, nil when empty. */
static int set_min(lua_State *L)
{
    const struct msgset *s = lua_msgset_check(L, 1);
    if (s->n == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)msgset_min(s));
    return 1;
}

static int set_max(lua_State *L)
{
    const struct msgset *s = lua_msgset_check(L, 1);
    if (s->n == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)msgset_max(s));
    return 1;
}

/* s:is_empty(): pushes 1, a boolean. */
static int set_is_empty(lua_State *L)
{
    lua_pushboolean(L, lua_msgset_check(L, 1)->n == 0);
    return 1;
}

static const luaL_Reg set_meta[] = {
    {"__add", set_add},
    {"__mul", set_mul},
    {"__sub", set_sub},
    {"__len", set_len},
    {"__eq", set_eq},
    {"__tostring", set_tostring},
    {"__gc", set_gc},
    {"__index", NULL},  /* set below */
    {NULL, NULL},
};

static const luaL_Reg set_methods[] = {
    {"contains", set_contains},
    {"uids", set_uids},
    {"ranges", set_ranges},
    {"pieces", set_pieces},
    {"min", set_min},
    {"max", set_max},
    {"is_empty", set_is_empty},
    {"text", set_tostring},
    {NULL, NULL},
};

static const luaL_Reg set_funcs[] = {
    {"set", set_new},
    {NULL, NULL},
};

/* Pops nothing, pushes nothing: registers the metatable, sets core.set into the table on top. */
void lua_msgset_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_MSGSET_TYPE);
    luaL_setfuncs(L, set_meta, 0);
    luaL_newlib(L, set_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_setfuncs(L, set_funcs, 0);
}
