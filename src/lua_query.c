/* lua_query.c — the "imapscript.query" userdata: one reference to an immutable query node,
 * built by the core.query_* constructors and combined with & | ~. */
#include <errno.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "msgset.h"
#include "query.h"

/* The userdata is one pointer: the reference it owns (NULL until the constructor succeeds). */
struct lquery { struct query *q; };

struct query_name { const char *name; enum query_op op; };

static const struct query_name key_names[] = {
    {"ALL", QUERY_ALL}, {"SEEN", QUERY_SEEN}, {"UNSEEN", QUERY_UNSEEN},
    {"ANSWERED", QUERY_ANSWERED}, {"UNANSWERED", QUERY_UNANSWERED},
    {"DELETED", QUERY_DELETED}, {"UNDELETED", QUERY_UNDELETED},
    {"DRAFT", QUERY_DRAFT}, {"UNDRAFT", QUERY_UNDRAFT},
    {"FLAGGED", QUERY_FLAGGED}, {"UNFLAGGED", QUERY_UNFLAGGED},
    {"RECENT", QUERY_RECENT}, {"NEW", QUERY_NEW}, {"OLD", QUERY_OLD}, {NULL, 0},
};
static const struct query_name string_names[] = {
    {"FROM", QUERY_FROM}, {"TO", QUERY_TO}, {"CC", QUERY_CC}, {"BCC", QUERY_BCC},
    {"SUBJECT", QUERY_SUBJECT}, {"BODY", QUERY_BODY}, {"TEXT", QUERY_TEXT},
    {"KEYWORD", QUERY_KEYWORD}, {"UNKEYWORD", QUERY_UNKEYWORD}, {"X-GM-RAW", QUERY_GMRAW},
    {NULL, 0},
};
static const struct query_name number_names[] = {
    {"LARGER", QUERY_LARGER}, {"SMALLER", QUERY_SMALLER}, {"OLDER", QUERY_OLDER},
    {"YOUNGER", QUERY_YOUNGER}, {"MODSEQ", QUERY_MODSEQ}, {"X-GM-MSGID", QUERY_GMMSGID},
    {"X-GM-THRID", QUERY_GMTHRID}, {NULL, 0},
};
static const struct query_name date_names[] = {
    {"BEFORE", QUERY_BEFORE}, {"ON", QUERY_ON}, {"SINCE", QUERY_SINCE},
    {"SENTBEFORE", QUERY_SENTBEFORE}, {"SENTON", QUERY_SENTON},
    {"SENTSINCE", QUERY_SENTSINCE}, {NULL, 0},
};
/* Every kind, for q:kind(). */
static const struct query_name kind_names[] = {
    {"ALL", QUERY_ALL}, {"ANSWERED", QUERY_ANSWERED}, {"DELETED", QUERY_DELETED},
    {"DRAFT", QUERY_DRAFT}, {"FLAGGED", QUERY_FLAGGED}, {"NEW", QUERY_NEW}, {"OLD", QUERY_OLD},
    {"RECENT", QUERY_RECENT}, {"SEEN", QUERY_SEEN}, {"UNANSWERED", QUERY_UNANSWERED},
    {"UNDELETED", QUERY_UNDELETED}, {"UNDRAFT", QUERY_UNDRAFT},
    {"UNFLAGGED", QUERY_UNFLAGGED}, {"UNSEEN", QUERY_UNSEEN}, {"BCC", QUERY_BCC},
    {"BODY", QUERY_BODY}, {"CC", QUERY_CC}, {"FROM", QUERY_FROM}, {"SUBJECT", QUERY_SUBJECT},
    {"TEXT", QUERY_TEXT}, {"TO", QUERY_TO}, {"X-GM-RAW", QUERY_GMRAW}, {"HEADER", QUERY_HEADER},
    {"KEYWORD", QUERY_KEYWORD}, {"UNKEYWORD", QUERY_UNKEYWORD}, {"LARGER", QUERY_LARGER},
    {"SMALLER", QUERY_SMALLER}, {"MODSEQ", QUERY_MODSEQ}, {"OLDER", QUERY_OLDER},
    {"YOUNGER", QUERY_YOUNGER}, {"X-GM-MSGID", QUERY_GMMSGID}, {"X-GM-THRID", QUERY_GMTHRID},
    {"BEFORE", QUERY_BEFORE}, {"ON", QUERY_ON},
    {"SINCE", QUERY_SINCE}, {"SENTBEFORE", QUERY_SENTBEFORE}, {"SENTON", QUERY_SENTON},
    {"SENTSINCE", QUERY_SENTSINCE}, {"UID", QUERY_UID}, {"SEQ", QUERY_SEQ},
    {"AND", QUERY_AND}, {"OR", QUERY_OR}, {"NOT", QUERY_NOT}, {NULL, 0},
};

/* The op named by argument arg (any case) in table t, else an argument error. */
static enum query_op check_name(lua_State *L, int arg, const struct query_name *t,
                                const char **name)
{
    const char *s = luaL_checkstring(L, arg);
    for (; t->name; t++)
        if (strcasecmp(s, t->name) == 0) {
            *name = t->name;
            return t->op;
        }
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown search key '%s'", s));
    return QUERY_ALL;
}

static struct query *toquery(lua_State *L, int idx)
{
    struct lquery *u = luaL_checkudata(L, idx, LUA_QUERY_TYPE);
    if (!u->q)
        luaL_argerror(L, idx, "query is being collected");
    return u->q;
}

const struct query *lua_query_check(lua_State *L, int idx)
{
    return toquery(L, idx);
}

/* Pushes 1: a new userdata with no node yet; the caller stores its reference in ->q. */
static struct lquery *query_push_empty(lua_State *L)
{
    struct lquery *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->q = NULL;
    luaL_setmetatable(L, LUA_QUERY_TYPE);
    return u;
}

/* Stores q (a new reference, or NULL after a failed constructor) into u, else raises an error
 * that names the key. Pops nothing, pushes nothing. */
static void query_store(lua_State *L, struct lquery *u, struct query *q, const char *what)
{
    if (!q) {
        if (errno == ENOMEM)
            luaL_error(L, "query: not enough memory");
        luaL_error(L, "query: invalid argument for %s", what);
    }
    u->q = q;
}

/* core.query_key(name): pushes 1, a query for a key without argument (ALL, SEEN, ...). */
static int lquery_key(lua_State *L)
{
    const char *name;
    enum query_op op = check_name(L, 1, key_names, &name);
    struct lquery *u = query_push_empty(L);
    errno = 0;
    query_store(L, u, query_key(op), name);
    return 1;
}

/* core.query_string(name, s): pushes 1, FROM/TO/CC/BCC/SUBJECT/BODY/TEXT s (UTF-8), or
 * KEYWORD/UNKEYWORD s (an atom). */
static int lquery_string(lua_State *L)
{
    const char *name;
    enum query_op op = check_name(L, 1, string_names, &name);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    struct lquery *u = query_push_empty(L);
    struct query *q;
    errno = 0;
    if (op == QUERY_KEYWORD || op == QUERY_UNKEYWORD) {
        if (strlen(s) != len)
            luaL_argerror(L, 2, "keyword contains NUL");
        q = query_keyword(op, s);
        if (!q && errno != ENOMEM)
            luaL_error(L, "query: %s needs a keyword atom, got '%s'", name, s);
    } else {
        q = query_string(op, s, len);
        if (!q && errno != ENOMEM)
            luaL_error(L, "query: %s needs valid UTF-8 text without NUL", name);
    }
    query_store(L, u, q, name);
    return 1;
}

/* core.query_header(name, value): pushes 1, HEADER name value. */
static int lquery_header(lua_State *L)
{
    size_t nlen, vlen;
    const char *n = luaL_checklstring(L, 1, &nlen);
    const char *v = luaL_checklstring(L, 2, &vlen);
    struct lquery *u = query_push_empty(L);
    errno = 0;
    struct query *q = query_header(n, nlen, v, vlen);
    if (!q && errno != ENOMEM)
        luaL_error(L, "query: HEADER needs a field name of printable ASCII without ':' or space "
                      "and a UTF-8 value without NUL");
    query_store(L, u, q, "HEADER");
    return 1;
}

/* core.query_number(name, n): pushes 1, LARGER/SMALLER/OLDER/YOUNGER/MODSEQ n. */
static int lquery_number(lua_State *L)
{
    const char *name;
    enum query_op op = check_name(L, 1, number_names, &name);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0, 2, "must be a non-negative integer");
    struct lquery *u = query_push_empty(L);
    errno = 0;
    struct query *q = query_number(op, (uint64_t)n);
    if (!q && errno != ENOMEM)
        luaL_error(L, "query: %s %I is out of range", name, n);
    query_store(L, u, q, name);
    return 1;
}

/* core.query_date(name, y, m, d): pushes 1, BEFORE/ON/SINCE/SENTBEFORE/SENTON/SENTSINCE. */
static int lquery_date(lua_State *L)
{
    const char *name;
    enum query_op op = check_name(L, 1, date_names, &name);
    lua_Integer y = luaL_checkinteger(L, 2), m = luaL_checkinteger(L, 3),
                d = luaL_checkinteger(L, 4);
    struct lquery *u = query_push_empty(L);
    struct query *q = NULL;
    errno = EINVAL;
    if (y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31)
        q = query_date(op, (int)y, (int)m, (int)d);
    if (!q && errno != ENOMEM)
        luaL_error(L, "query: %s %I-%I-%I is not a valid date", name, y, m, d);
    query_store(L, u, q, name);
    return 1;
}

/* core.query_uid(set): pushes 1, UID set (a set, set text or array of UIDs). */
static int lquery_uid(lua_State *L)
{
    const struct msgset *s = lua_msgset_coerce(L, 1);
    struct lquery *u = query_push_empty(L);
    errno = 0;
    query_store(L, u, query_uidset(s), "UID");
    return 1;
}

typedef struct query *(*query_combine)(struct query *const *, size_t);

/* Pushes 1: the combination of every query argument. */
static int lquery_combine(lua_State *L, query_combine combine, const char *name)
{
    int n = lua_gettop(L);
    struct query **kids = lua_newuserdatauv(L, (size_t)n * sizeof *kids + 1, 0);
    for (int i = 0; i < n; i++)
        kids[i] = toquery(L, i + 1);
    struct lquery *u = query_push_empty(L);
    errno = 0;
    query_store(L, u, combine(kids, (size_t)n), name);
    return 1;
}

/* core.query_and(q, ...), q & r: push 1. */
static int lquery_and(lua_State *L) { return lquery_combine(L, query_and, "AND"); }
/* core.query_or(q, ...), q | r: push 1. */
static int lquery_or(lua_State *L) { return lquery_combine(L, query_or, "OR"); }

/* core.query_not(q), ~q: push 1. (Lua passes ~'s operand twice; the second is ignored.) */
static int lquery_not(lua_State *L)
{
    struct query *q = toquery(L, 1);
    struct lquery *u = query_push_empty(L);
    errno = 0;
    query_store(L, u, query_not(q), "NOT");
    return 1;
}

static int lquery_band(lua_State *L)
{
    lua_settop(L, 2);
    return lquery_and(L);
}

static int lquery_bor(lua_State *L)
{
    lua_settop(L, 2);
    return lquery_or(L);
}

static int lquery_bnot(lua_State *L)
{
    lua_settop(L, 1);
    return lquery_not(L);
}

/* tostring(q), q:text(): pushes 1, the readable wire text. */
static int lquery_text(lua_State *L)
{
    char *text = query_to_string(toquery(L, 1));
    if (!text)
        return luaL_error(L, "query: not enough memory");
    lua_pushstring(L, text);
    free(text);
    return 1;
}

/* q:needs_utf8(): pushes 1, true when the keys hold 8-bit text (CHARSET UTF-8 needed). */
static int lquery_needs_utf8(lua_State *L)
{
    lua_pushboolean(L, query_needs_utf8(toquery(L, 1)));
    return 1;
}

/* q:uses_within(): pushes 1, true when the query has OLDER or YOUNGER (RFC 5032 WITHIN). */
static int lquery_uses_within(lua_State *L)
{
    lua_pushboolean(L, query_uses_within(toquery(L, 1)));
    return 1;
}

/* q:uses_gmail(): pushes 1, true when the query has a Gmail key (X-GM-RAW, X-GM-MSGID, ...). */
static int lquery_uses_gmail(lua_State *L)
{
    lua_pushboolean(L, query_uses_gmail(toquery(L, 1)));
    return 1;
}

/* q:without_within([now]): pushes 1, the query with OLDER n / YOUNGER n rewritten to BEFORE /
 * SINCE dates counted from now (default: the current time), for servers without WITHIN. */
static int lquery_without_within(lua_State *L)
{
    struct query *q = toquery(L, 1);
    time_t now = (time_t)luaL_optinteger(L, 2, (lua_Integer)time(NULL));
    struct lquery *u = query_push_empty(L);
    struct query *out = NULL;
    int rc = query_without_within(&out, q, now);
    if (rc < 0)
        return luaL_error(L, rc == -ENOMEM ? "query: not enough memory"
                                            : "query: OLDER/YOUNGER cannot be turned into dates");
    u->q = out;
    return 1;
}

/* query_flag_fn for q:with_flags: the query map[flag] (lua_State and the map's index in ud). */
struct flag_lookup { lua_State *L; int map; };

static struct query *lookup_flag(void *ud, const char *flag)
{
    struct flag_lookup *f = ud;
    lua_pushstring(f->L, flag);
    lua_rawget(f->L, f->map);
    struct lquery *u = luaL_testudata(f->L, -1, LUA_QUERY_TYPE);
    struct query *q = u ? query_ref(u->q) : NULL;
    lua_pop(f->L, 1);
    return q;
}

/* q:with_flags(map): pushes 1, q with each flag key replaced by map[flag] (a query saying "has
 * the flag", keyed "\\Seen", ..., or the keyword), for dry runs that model earlier actions. */
static int lquery_with_flags(lua_State *L)
{
    struct query *q = toquery(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct flag_lookup f = { L, 2 };
    struct lquery *u = query_push_empty(L);
    struct query *out = NULL;
    int rc = query_map_flags(&out, q, lookup_flag, &f);
    if (rc < 0)
        return luaL_error(L, rc == -ENOMEM ? "query: not enough memory"
                                            : "query: the flags cannot be replaced");
    u->q = out;
    return 1;
}

/* q:kind(): pushes 1, the top node's key name ("AND", "OR", "NOT", "FROM", "UID", ...). */
static int lquery_kind(lua_State *L)
{
    enum query_op op = query_kind(toquery(L, 1));
    for (const struct query_name *t = kind_names; t->name; t++)
        if (t->op == op) {
            lua_pushstring(L, t->name);
            return 1;
        }
    return 0;
}

/* q:parts(): pushes 1, the top node as a table {kind=, value=, field=, number=, year=, month=,
 * day=, [1..n] = the child queries}; each present only where the kind has it. */
static int lquery_parts(lua_State *L)
{
    struct query_view v;
    query_view(toquery(L, 1), &v);
    lua_settop(L, 1);
    lquery_kind(L);
    lua_createtable(L, (int)v.nkids, 4);
    lua_insert(L, -2);
    lua_setfield(L, -2, "kind");
    if (v.str) {
        lua_pushlstring(L, v.str, v.len);
        lua_setfield(L, -2, "value");
    }
    if (v.name) {
        lua_pushstring(L, v.name);
        lua_setfield(L, -2, "field");
    }
    if (v.op >= QUERY_LARGER && v.op <= QUERY_GMTHRID) {
        lua_pushinteger(L, (lua_Integer)v.num);
        lua_setfield(L, -2, "number");
    }
    if (v.op >= QUERY_BEFORE && v.op <= QUERY_SENTSINCE) {
        lua_pushinteger(L, v.y);
        lua_setfield(L, -2, "year");
        lua_pushinteger(L, v.m);
        lua_setfield(L, -2, "month");
        lua_pushinteger(L, v.d);
        lua_setfield(L, -2, "day");
    }
    for (size_t i = 0; i < v.nkids; i++) {
        struct lquery *u = query_push_empty(L);
        u->q = query_ref(v.kids[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int lquery_gc(lua_State *L)
{
    struct lquery *u = luaL_checkudata(L, 1, LUA_QUERY_TYPE);
    query_unref(u->q);
    u->q = NULL;
    return 0;
}

static const luaL_Reg query_meta[] = {
    {"__band", lquery_band},
    {"__bor", lquery_bor},
    {"__bnot", lquery_bnot},
    {"__tostring", lquery_text},
    {"__gc", lquery_gc},
    {"__index", NULL},  /* set below */
    {NULL, NULL},
};

static const luaL_Reg query_methods[] = {
    {"text", lquery_text},
    {"needs_utf8", lquery_needs_utf8},
    {"uses_within", lquery_uses_within},
    {"uses_gmail", lquery_uses_gmail},
    {"without_within", lquery_without_within},
    {"kind", lquery_kind},
    {"parts", lquery_parts},
    {"with_flags", lquery_with_flags},
    {NULL, NULL},
};

static const luaL_Reg query_funcs[] = {
    {"query_key", lquery_key},
    {"query_string", lquery_string},
    {"query_header", lquery_header},
    {"query_number", lquery_number},
    {"query_date", lquery_date},
    {"query_uid", lquery_uid},
    {"query_and", lquery_and},
    {"query_or", lquery_or},
    {"query_not", lquery_not},
    {NULL, NULL},
};

/* Pops nothing, pushes nothing: registers the metatable, sets core.query_* into the table on
 * top. */
void lua_query_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_QUERY_TYPE);
    luaL_setfuncs(L, query_meta, 0);
    luaL_newlib(L, query_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_setfuncs(L, query_funcs, 0);
}
