/* lua_mirror.c — the "imapscript.mirror" userdata (mirror.c): a mailbox's UIDs and flags kept
 * between runs, which a connection keeps exact while the mailbox is selected with it.
 *   core.mirror() -> m
 *   m:load{uidvalidity=, modseq=, complete=, uids=TEXT, flags={[flag]=TEXT}} -> true | nil, msg
 *   m:info() -> {uidvalidity=, modseq=, select_modseq=, select_uidnext=, exists=, count=,
 *                complete=, selected=, synced=, exact=, reset=, broken=, nomodseq=}
 *   m:uids() -> set    m:flags() -> {[flag] = set}    m:take_removed() -> set
 *   m:answer(query) -> set | nil [, "flags"] (the server must answer; "flags": only because the
 *                       flags of its messages are not kept)
 *   m:restrict(set) -> UIDs of set it lacks    m:sync_done() -> exact    m:forget_flags()
 * conn:select(name, ro, {mirror = m, ...}) (lua_commands.c) makes the connection feed it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_conn.h"
#include "mirror.h"
#include "query.h"

#define LUA_MIRROR_TYPE "imapscript.mirror"

/* A connection may feed the mirror after Lua dropped it (a LOGOUT at collection): whoever lets
 * go last frees it. */
struct lmirror {
    struct mirror *m;
    int attached;               /* connections that hold it */
    bool collected;             /* Lua's userdata is gone */
};

static struct lmirror **check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, LUA_MIRROR_TYPE);
}

static struct mirror *check_mirror(lua_State *L, int idx)
{
    struct lmirror *lm = *check(L, idx);
    if (!lm)
        luaL_error(L, "mirror: used after it was collected");
    return lm->m;
}

static void lmirror_release(struct lmirror *lm)
{
    if (lm->attached == 0 && lm->collected) {
        mirror_free(lm->m);
        free(lm);
    }
}

/* session_watch_fn: the selection's responses, into the mirror. No Lua here. */
static void watch(void *ud, enum session_watch_ev ev, const struct imap_response *r)
{
    struct lmirror *lm = ud;
    if (ev == SESSION_WATCH_SELECTING || ev == SESSION_WATCH_SELECTING_QRESYNC)
        mirror_begin_select(lm->m, ev == SESSION_WATCH_SELECTING_QRESYNC);
    else if (ev == SESSION_WATCH_END)
        mirror_end_select(lm->m);
    else if (r)
        mirror_observe(lm->m, r);
}

struct mirror *lua_mirror_check(lua_State *L, int idx, session_watch_fn *fn, void **ud)
{
    struct lmirror *lm = *check(L, idx);
    if (!lm)
        luaL_error(L, "mirror: used after it was collected");
    *fn = watch;
    *ud = lm;
    return lm->m;
}

void lua_mirror_attach(struct lconn *lc, void *ud)
{
    struct lmirror *lm = ud;
    for (size_t i = 0; i < lc->nmirrors; i++)
        if (lc->mirrors[i] == lm)
            return;
    if (lc->nmirrors == lc->capmirrors) {
        size_t cap = lc->capmirrors ? lc->capmirrors * 2 : 4;
        void **v = realloc(lc->mirrors, cap * sizeof *v);
        if (!v)
            return;         /* not kept: the caller's own reference keeps it alive meanwhile */
        lc->mirrors = v;
        lc->capmirrors = cap;
    }
    lc->mirrors[lc->nmirrors++] = lm;
    lm->attached++;
}

void lua_mirror_detach_all(struct lconn *lc)
{
    for (size_t i = 0; i < lc->nmirrors; i++) {
        struct lmirror *lm = lc->mirrors[i];
        lm->attached--;
        lmirror_release(lm);
    }
    free(lc->mirrors);
    lc->mirrors = NULL;
    lc->nmirrors = lc->capmirrors = 0;
}

/* core.mirror(): pushes 1, an empty mirror. */
static int lmirror_new(lua_State *L)
{
    struct lmirror **u = lua_newuserdatauv(L, sizeof *u, 0);
    *u = NULL;
    luaL_setmetatable(L, LUA_MIRROR_TYPE);
    struct lmirror *lm = calloc(1, sizeof *lm);
    if (!lm || !(lm->m = mirror_new())) {
        free(lm);
        return luaL_error(L, "mirror: out of memory");
    }
    *u = lm;
    return 1;
}

/* __gc: pushes nothing. */
static int lmirror_gc(lua_State *L)
{
    struct lmirror **u = check(L, 1);
    if (*u) {
        (*u)->collected = true;
        lmirror_release(*u);
        *u = NULL;
    }
    return 0;
}

static lua_Integer int_field(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    lua_Integer v = luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    return v;
}

/* m:load{...}: pushes 1, true; or 2: nil and why the saved state is not valid. */
static int lmirror_load(lua_State *L)
{
    struct mirror *m = check_mirror(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer uv = int_field(L, 2, "uidvalidity"), modseq = int_field(L, 2, "modseq");
    lua_getfield(L, 2, "complete");
    bool complete = lua_toboolean(L, -1);
    lua_pop(L, 1);
    char err[200];
    if (uv < 0 || uv > UINT32_MAX || modseq < 0) {
        mirror_load(m, 0, 0, true);
        luaL_pushfail(L);
        lua_pushliteral(L, "uidvalidity or modseq out of range");
        return 2;
    }
    mirror_load(m, (uint32_t)uv, (uint64_t)modseq, complete);
    size_t len;
    lua_getfield(L, 2, "uids");
    const char *text = lua_tolstring(L, -1, &len);
    int rc = mirror_load_uids(m, text ? text : "", text ? len : 0, err, sizeof err);
    lua_pop(L, 1);
    lua_getfield(L, 2, "flags");
    if (rc == 0 && lua_istable(L, -1)) {
        lua_pushnil(L);
        while (rc == 0 && lua_next(L, -2)) {
            const char *flag = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            text = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (!flag || !text) {
                snprintf(err, sizeof err, "flags must map names to set text");
                rc = -EINVAL;
            } else {
                rc = mirror_load_flag(m, flag, text, len, err, sizeof err);
            }
            lua_pop(L, 1);
        }
        if (rc != 0)
            lua_pop(L, 1);      /* the key lua_next left */
    }
    lua_pop(L, 1);
    if (rc != 0) {
        mirror_load(m, 0, 0, true);
        luaL_pushfail(L);
        lua_pushstring(L, rc == -ENOMEM ? "out of memory" : err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* m:info(): pushes 1. */
static int lmirror_info(lua_State *L)
{
    struct mirror_info i;
    mirror_info(check_mirror(L, 1), &i);
    lua_createtable(L, 0, 13);
    const struct { const char *name; lua_Integer v; } n[] = {
        { "uidvalidity", i.uidvalidity }, { "modseq", (lua_Integer)i.modseq },
        { "select_modseq", (lua_Integer)i.select_modseq }, { "select_uidnext", i.select_uidnext },
        { "exists", i.exists }, { "count", (lua_Integer)i.count },
    };
    for (size_t k = 0; k < sizeof n / sizeof n[0]; k++) {
        lua_pushinteger(L, n[k].v);
        lua_setfield(L, -2, n[k].name);
    }
    const struct { const char *name; bool v; } b[] = {
        { "complete", i.flags_complete }, { "selected", i.selected }, { "synced", i.synced },
        { "exact", i.exact }, { "reset", i.reset }, { "broken", i.broken },
        { "nomodseq", i.nomodseq },
    };
    for (size_t k = 0; k < sizeof b / sizeof b[0]; k++) {
        lua_pushboolean(L, b[k].v);
        lua_setfield(L, -2, b[k].name);
    }
    return 1;
}

/* Pushes 1: a copy of s as a set userdata. */
static void push_copy(lua_State *L, const struct msgset *s)
{
    struct msgset *c = lua_msgset_new(L);
    if (msgset_copy(c, s) < 0)
        luaL_error(L, "mirror: out of memory");
}

/* m:uids(): pushes 1. */
static int lmirror_uids(lua_State *L)
{
    push_copy(L, mirror_uids(check_mirror(L, 1)));
    return 1;
}

/* m:flags(): pushes 1, {[flag] = set}. */
static int lmirror_flags(lua_State *L)
{
    struct mirror *m = check_mirror(L, 1);
    size_t n = mirror_nflags(m);
    lua_createtable(L, 0, n < 64 ? (int)n : 64);
    for (size_t i = 0; i < n; i++) {
        push_copy(L, mirror_flag_set(m, i));
        lua_setfield(L, -2, mirror_flag_name(m, i));
    }
    return 1;
}

/* m:take_removed(): pushes 1, the UIDs removed since the last call. */
static int lmirror_take_removed(lua_State *L)
{
    struct mirror *m = check_mirror(L, 1);
    struct msgset *out = lua_msgset_new(L);
    mirror_take_removed(m, out);
    return 1;
}

/* m:answer(query): pushes 1, the set; or 2: nil (the server must answer) and "flags" when
 * only the flags of its messages are missing. */
static int lmirror_answer(lua_State *L)
{
    struct mirror *m = check_mirror(L, 1);
    const struct query *q = lua_query_check(L, 2);
    struct msgset *out = lua_msgset_new(L);
    int rc = mirror_eval(m, q, out);
    if (rc < 0)
        return luaL_error(L, "mirror: out of memory");
    if (rc == 0)
        return 1;
    lua_pushnil(L);
    if (rc == 2)
        lua_pushliteral(L, "flags");
    else
        lua_pushnil(L);
    return 2;
}

/* m:restrict(set): pushes 1, how many UIDs of set the mirror lacks. */
static int lmirror_restrict(lua_State *L)
{
    int64_t n = mirror_restrict(check_mirror(L, 1), lua_msgset_check(L, 2));
    if (n < 0)
        return luaL_error(L, "mirror: out of memory");
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* m:sync_done(): pushes 1, whether the mirror is exact. */
static int lmirror_sync_done(lua_State *L)
{
    lua_pushboolean(L, mirror_sync_done(check_mirror(L, 1)));
    return 1;
}

/* m:forget_flags(): pushes nothing. */
static int lmirror_forget_flags(lua_State *L)
{
    mirror_forget_flags(check_mirror(L, 1));
    return 0;
}

static const luaL_Reg methods[] = {
    { "load", lmirror_load }, { "info", lmirror_info }, { "uids", lmirror_uids },
    { "flags", lmirror_flags }, { "take_removed", lmirror_take_removed },
    { "answer", lmirror_answer }, { "restrict", lmirror_restrict },
    { "sync_done", lmirror_sync_done }, { "forget_flags", lmirror_forget_flags },
    { NULL, NULL },
};

void lua_mirror_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_MIRROR_TYPE);
    lua_pushcfunction(L, lmirror_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, lmirror_new);
    lua_setfield(L, -2, "mirror");
}
