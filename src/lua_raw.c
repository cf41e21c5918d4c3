/* lua_raw.c — conn:command(verb, args): any IMAP command the typed ones lack, its arguments
 * encoded by command.c like every other command, its untagged replies handed back as Lua tables.
 *
 * Arguments (the array args): a string goes quoted or as a literal (never an atom), a whole
 * number >= 0 as a number, a table as a parenthesised list, a set userdata as a sequence set, a
 * query as its search keys, core.atom(text) verbatim, core.mailbox_arg(name) as a mailbox name
 * (modified UTF-7 unless UTF8=ACCEPT). Verbs that would break the session's bookkeeping (the
 * selected mailbox, the connection's state) are refused. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "lua_conn.h"
#include "lua_message.h"
#include "query.h"

#define LUA_ARG_TYPE "imapscript.arg"
#define RAW_MAX_DEPTH 32

/* core.atom / core.mailbox_arg values: the text and how to send it. */
struct larg { bool mailbox; size_t len; char text[]; };

/* Verbs a raw command may not send, and what to use instead. */
static const struct { const char *verb, *instead; } forbidden[] = {
    { "SELECT", "box:command (it selects the mailbox) or the mailbox's methods" },
    { "EXAMINE", "box:command (it selects the mailbox) or the mailbox's methods" },
    { "CLOSE", "acct:unselect()" }, { "UNSELECT", "acct:unselect()" },
    { "LOGOUT", "acct:logout()" }, { "LOGIN", "the account's settings" },
    { "AUTHENTICATE", "the account's settings" }, { "STARTTLS", "tls = \"starttls\"" },
    { "COMPRESS", "compress = true" }, { "IDLE", "imap.watch" }, { "DONE", "imap.watch" },
    { "ENABLE", "nothing: imapscript enables what it understands" },
    { "NOTIFY", "imap.watch" },
};

/* 0 when verb is one or two words ("UID SORT") of letters, digits, '-', '.' and '_' and not
 * forbidden; else a usage error. */
static void check_verb(lua_State *L, const char *verb, size_t len)
{
    int words = 0;
    size_t i = 0;
    const char *last = verb;
    while (i < len) {
        size_t b = i;
        while (i < len && (isalnum((unsigned char)verb[i]) || strchr("-._", verb[i])))
            i++;
        if (i == b || (i < len && verb[i] != ' ') || ++words > 2)
            lua_error_usage(L, "command: \"%s\" is not a command name (one word, or UID and "
                            "one word)", verb);
        if (words == 2 && strncasecmp(verb, "UID ", 4) != 0)
            lua_error_usage(L, "command: \"%s\" is not a command name (one word, or UID and "
                            "one word)", verb);
        last = verb + b;
        if (i < len)
            i++;
    }
    if (!len || (words == 1 && len == 3 && strncasecmp(verb, "UID", 3) == 0))
        lua_error_usage(L, "command: want a command name (\"UID\" needs the command after it)");
    size_t ll = (size_t)(verb + len - last);
    for (size_t k = 0; k < sizeof forbidden / sizeof forbidden[0]; k++)
        if (strlen(forbidden[k].verb) == ll && strncasecmp(last, forbidden[k].verb, ll) == 0)
            lua_error_usage(L, "command: %s would break the session's bookkeeping; use %s",
                            forbidden[k].verb, forbidden[k].instead);
}

/* Checks (c == NULL: raising a usage error for a value with no IMAP form) or encodes into c
 * (never raising: only after a check) the value at idx. */
static void walk(lua_State *L, struct command *c, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    if (depth > RAW_MAX_DEPTH)
        lua_error_usage(L, "command: lists nested deeper than %d", RAW_MAX_DEPTH);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!c && memchr(s, '\0', len))
            lua_error_usage(L, "command: a string argument holds a NUL byte");
        if (c)
            command_string(c, s, len);
        return;
    }
    case LUA_TNUMBER: {
        int ok;
        lua_Integer n = lua_tointegerx(L, idx, &ok);
        if (!c && (!ok || n < 0))
            lua_error_usage(L, "command: numbers must be whole and >= 0 (got %s)",
                            lua_tostring(L, idx));
        if (c)
            command_number(c, (uint64_t)n);
        return;
    }
    case LUA_TTABLE: {
        if (!c && lua_getmetatable(L, idx))
            lua_error_usage(L, "command: a table argument must be a plain list");
        if (!c)
            luaL_checkstack(L, 4, "command: lists nested too deep");
        else if (!lua_checkstack(L, 4))
            return;         /* cannot happen after the check pass */
        if (c)
            command_open(c);
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            walk(L, c, -1, depth + 1);
            lua_pop(L, 1);
        }
        if (c)
            command_close(c);
        return;
    }
    case LUA_TUSERDATA: {
        struct larg *a = luaL_testudata(L, idx, LUA_ARG_TYPE);
        if (a) {
            if (c && a->mailbox)
                command_mailbox(c, a->text, a->len);
            else if (c)
                command_raw(c, a->text, a->len);
            return;
        }
        const struct msgset *set = luaL_testudata(L, idx, LUA_MSGSET_TYPE)
                                 ? lua_msgset_check(L, idx) : NULL;
        if (set) {
            if (!c && set->n == 0)
                lua_error_usage(L, "command: an empty set has no IMAP form");
            if (c)
                command_msgset(c, set);
            return;
        }
        if (luaL_testudata(L, idx, LUA_QUERY_TYPE)) {
            const struct query *q = lua_query_check(L, idx);
            if (c)
                query_emit(q, c);
            return;
        }
        break;
    }
    default:
        break;
    }
    lua_error_usage(L, "command: a %s has no IMAP form (strings, numbers, lists, sets, "
                    "queries, imap.atom)", luaL_typename(L, idx));
}

/* Pushes one IMAP value as Lua: NIL false, atoms and strings strings, numbers integers, lists
 * tables. */
static void push_value(lua_State *L, const struct imap_value *v)
{
    luaL_checkstack(L, 4, "command: reply nested too deep");
    switch (v->type) {
    case IMAP_NIL: case IMAP_STREAMED: lua_pushboolean(L, 0); break;   /* raw takes no parts */
    case IMAP_ATOM: case IMAP_STRING: lua_pushlstring(L, v->u.str, v->len); break;
    case IMAP_NUMBER: lua_message_pushu64(L, v->u.num); break;
    case IMAP_LIST:
        lua_createtable(L, v->len < 1000000 ? (int)v->len : 0, 0);
        for (size_t i = 0; i < v->len; i++) {
            push_value(L, &v->u.items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
}

static const char *const status_names[] = { NULL, "OK", "NO", "BAD", "PREAUTH", "BYE" };

/* Protected part of the handler: (t, r) -> appends the response's table to t. */
static int raw_append(lua_State *L)
{
    const struct imap_response *r = lua_touserdata(L, 2);
    lua_settop(L, 1);
    lua_createtable(L, (int)(r->nargs < 1000000 ? r->nargs : 0), 4);
    lua_pushstring(L, r->name ? r->name : "");
    lua_setfield(L, -2, "name");
    if (r->has_number) {
        lua_message_pushu64(L, r->number);
        lua_setfield(L, -2, "number");
    }
    if (r->status != IMAP_ST_NONE) {
        lua_pushstring(L, status_names[r->status]);
        lua_setfield(L, -2, "status");
        if (r->code.kind != IMAP_CODE_NONE && r->code.name) {
            lua_pushstring(L, r->code.name);
            lua_setfield(L, -2, "code");
            lua_pushstring(L, r->code.text ? r->code.text : "");
            lua_setfield(L, -2, "code_text");
        }
        lua_pushstring(L, r->text ? r->text : "");
        lua_setfield(L, -2, "text");
    }
    for (size_t i = 0; i < r->nargs; i++) {
        push_value(L, &r->args[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_rawseti(L, 1, (lua_Integer)lua_rawlen(L, 1) + 1);
    return 0;
}

/* Protected part of a long line's next part: (t, r) -> its values appended to t's last table. */
static int raw_extend(lua_State *L)
{
    const struct imap_response *r = lua_touserdata(L, 2);
    lua_settop(L, 1);
    if (lua_rawgeti(L, 1, (lua_Integer)lua_rawlen(L, 1)) != LUA_TTABLE)
        return 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    for (size_t i = 0; i < r->nargs; i++) {
        push_value(L, &r->args[i]);
        lua_rawseti(L, 2, ++n);
    }
    return 0;
}

/* What the session keeps track of itself: recorded for the command, left for the view too. */
static bool view_wants(const struct imap_response *r)
{
    if (r->status != IMAP_ST_NONE)
        return true;
    static const char *const names[] = { "EXISTS", "RECENT", "EXPUNGE", "VANISHED", "FLAGS",
                                         "CAPABILITY", "ENABLED" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (r->name && strcmp(r->name, names[i]) == 0)
            return true;
    return false;
}

/* session_handler: every untagged response while the command runs becomes a table in the
 * handle's list (ESEARCH answering another tag excepted). */
static int raw_handler(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    struct lhandle *h = ud;
    struct lconn *lc = h->lc;
    if (r->kind != IMAP_UNTAGGED || r->status == IMAP_ST_BYE)
        return 0;
    if (r->name && strcmp(r->name, "ESEARCH") == 0 && r->nargs && r->args[0].type == IMAP_LIST &&
        r->args[0].len == 2 && imap_value_is(&r->args[0].u.items[0], "TAG")) {
        const char *t = imap_value_str(&r->args[0].u.items[1]);
        if (t && strcmp(t, session_cmd_tag(c)) != 0)
            return 0;
    }
    lua_State *L = conn_driver();
    if (!h->dead && !h->released && !lc->closing && L && h->fnref != LUA_NOREF) {
        if (lua_checkstack(L, 8)) {
            lua_pushcfunction(L, raw_append);
            lua_rawgeti(L, LUA_REGISTRYINDEX, h->fnref);
            lua_pushlightuserdata(L, (void *)r);
            if (lua_pcall(L, 2, 0, 0) != LUA_OK)
                lua_pop(L, 1);   /* out of memory: that response is missing, said nowhere */
        }
    }
    return view_wants(r) ? 0 : 1;
}

/* A long SEARCH, SORT, ESEARCH or THREAD line in parts: the first makes the reply's table (an
 * ESEARCH answering another tag excepted), the next ones and the tail add to it. */
static int raw_part(struct session_cmd *c, const struct imap_response *r, void *ud)
{
    struct lhandle *h = ud;
    bool first = !h->raw_part;
    if (first && r->name && strcmp(r->name, "ESEARCH") == 0 && r->nargs &&
        r->args[0].type == IMAP_LIST && r->args[0].len == 2 &&
        imap_value_is(&r->args[0].u.items[0], "TAG")) {
        const char *t = imap_value_str(&r->args[0].u.items[1]);
        if (t && strcmp(t, session_cmd_tag(c)) != 0)
            return 0;
    }
    h->raw_part = !r->tail;
    lua_State *L = conn_driver();
    if (!h->dead && !h->released && !h->lc->closing && L && h->fnref != LUA_NOREF &&
        lua_checkstack(L, 8)) {
        lua_pushcfunction(L, first ? raw_append : raw_extend);
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->fnref);
        lua_pushlightuserdata(L, (void *)r);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK)
            lua_pop(L, 1);
    }
    return 1;
}

/* Whether verb's first argument, a UID set, may be cut into pieces sent as several commands, as
 * the typed UID FETCH/STORE/COPY/MOVE/EXPUNGE do (sequence numbers shift under MOVE: not those). */
static bool verb_splits(const char *upper)
{
    static const char *const verbs[] = { "UID FETCH", "UID STORE", "UID COPY", "UID MOVE",
                                         "UID EXPUNGE" };
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(upper, verbs[i]) == 0)
            return true;
    return false;
}

/* The arguments after the set, for each piece of a split command. */
struct raw_tail { lua_State *L; int args; };

static void raw_tail(struct session *s, struct command *c, const void *arg)
{
    (void)s;
    const struct raw_tail *t = arg;
    lua_Integer n = (lua_Integer)lua_rawlen(t->L, t->args);
    for (lua_Integer i = 2; i <= n; i++) {
        lua_rawgeti(t->L, t->args, i);
        walk(t->L, c, -1, 1);
        lua_pop(t->L, 1);
    }
}

/* The set that opens args (at index args), when a line of len octets should be split on it. */
static const struct msgset *split_set(lua_State *L, const char *upper, int args, size_t len)
{
    if (len <= SESSION_LINE_BUDGET || !verb_splits(upper))
        return NULL;
    lua_rawgeti(L, args, 1);
    const struct msgset *set = luaL_testudata(L, -1, LUA_MSGSET_TYPE) ? lua_msgset_check(L, -1)
                                                                       : NULL;
    lua_pop(L, 1);      /* the args table keeps it alive */
    return set;
}

/* conn:command(verb, args): pushes 1, a handle (result {status=, code=, code_text=, text=,
 * untagged={...}}). A UID FETCH/STORE/COPY/MOVE/EXPUNGE whose line would pass the budget goes as
 * several commands, one per piece of its set, that the handle waits for together. */
static int conn_command(lua_State *L)
{
    conn_check(L, 1);
    size_t vlen;
    const char *verb = luaL_checklstring(L, 2, &vlen);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    check_verb(L, verb, vlen);
    char upper[64];
    size_t ul = vlen < sizeof upper - 1 ? vlen : sizeof upper - 1;
    for (size_t i = 0; i < ul; i++)
        upper[i] = (char)((verb[i] >= 'a' && verb[i] <= 'z') ? verb[i] - 32 : verb[i]);
    upper[ul] = '\0';
    lua_settop(L, 3);
    struct lhandle *h = handle_new(L, H_RAW, upper, NULL, NULL);
    int hidx = lua_gettop(L);
    struct session *s = handle_session(L, h);
    if (!s)
        return 1;
    if (!lua_isnoneornil(L, 3))
        walk(L, NULL, 3, 0);        /* raises before anything is allocated */
    struct command c;
    session_command_start(s, &c, upper);
    if (!lua_isnoneornil(L, 3)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 3, i);
            walk(L, &c, -1, 1);
            lua_pop(L, 1);
        }
    }
    command_end(&c);
    lua_newtable(L);
    h->fnref = luaL_ref(L, LUA_REGISTRYINDEX);
    const struct msgset *set = lua_isnoneornil(L, 3) ? NULL : split_set(L, upper, 3, c.len);
    struct session_cmd *sc;
    if (set) {
        char *text = msgset_format(set);
        size_t setlen = text ? strlen(text) : 0;
        free(text);
        struct raw_tail t = { L, 3 };
        sc = session_send_split(s, upper, set, c.len > setlen ? c.len - setlen : 0, raw_tail, &t,
                                raw_handler, h);
    } else {
        sc = session_send(s, &c, raw_handler, h);
    }
    command_free(&c);
    lua_settop(L, hidx);
    handle_attach(L, h, sc);
    session_cmd_take_lines(sc, raw_part);
    return 1;
}

/* Pushes the value of a successful raw handle: {status=, code=, code_text=, text=,
 * untagged={...}}. Pushes 1. */
void lua_raw_push(lua_State *L, struct lhandle *h)
{
    const struct session_result *r = h->cmd ? session_cmd_result(h->cmd) : NULL;
    lua_createtable(L, 0, 5);
    lua_pushliteral(L, "OK");
    lua_setfield(L, -2, "status");
    if (r && r->code_name) {
        lua_pushstring(L, r->code_name);
        lua_setfield(L, -2, "code");
        lua_pushstring(L, r->code_text ? r->code_text : "");
        lua_setfield(L, -2, "code_text");
    }
    lua_pushstring(L, r && r->text ? r->text : "");
    lua_setfield(L, -2, "text");
    if (h->fnref != LUA_NOREF)
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->fnref);
    else
        lua_newtable(L);
    lua_setfield(L, -2, "untagged");
}

/* core.atom(text) / core.mailbox_arg(name): pushes 1, an argument sent verbatim / as a mailbox
 * name. Verbatim text is printable ASCII (spaces allowed: "BODY.PEEK[HEADER.FIELDS (A B)]"). */
static int arg_new(lua_State *L, bool mailbox)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    for (size_t i = 0; !mailbox && i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            lua_error_usage(L, "imap.atom: \"%s\" holds a control or 8-bit byte", s);
    if (!mailbox && len == 0)
        lua_error_usage(L, "imap.atom: want a non-empty text");
    struct larg *a = lua_newuserdatauv(L, sizeof *a + len + 1, 0);
    a->mailbox = mailbox;
    a->len = len;
    memcpy(a->text, s, len);
    a->text[len] = '\0';
    luaL_setmetatable(L, LUA_ARG_TYPE);
    return 1;
}

static int core_atom(lua_State *L) { return arg_new(L, false); }
static int core_mailbox_arg(lua_State *L) { return arg_new(L, true); }

/* tostring(arg): pushes 1, the text. */
static int arg_tostring(lua_State *L)
{
    struct larg *a = luaL_checkudata(L, 1, LUA_ARG_TYPE);
    lua_pushlstring(L, a->text, a->len);
    return 1;
}

const luaL_Reg raw_command_methods[] = {
    { "command", conn_command },
    { NULL, NULL },
};

/* Registers the argument type; sets core.atom and core.mailbox_arg into the table on top.
 * Pops nothing, pushes nothing. */
void lua_raw_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_ARG_TYPE);
    lua_pushcfunction(L, arg_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_pushcfunction(L, core_atom);
    lua_setfield(L, -2, "atom");
    lua_pushcfunction(L, core_mailbox_arg);
    lua_setfield(L, -2, "mailbox_arg");
}
