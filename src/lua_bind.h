/* lua_bind.h — what the binding files (src/lua_*.c) share: each file's open function and the
 * accessors other bindings use to take sets, queries and regexes from the Lua stack. */
#ifndef IMAPSCRIPT_LUA_BIND_H
#define IMAPSCRIPT_LUA_BIND_H

#include <lua.h>

struct msgset;
struct query;
struct regex;

/* Registry names of the userdata metatables. */
#define LUA_MSGSET_TYPE "imapscript.set"
#define LUA_QUERY_TYPE  "imapscript.query"
#define LUA_REGEX_TYPE  "imapscript.regex"
#define LUA_CONN_TYPE   "imapscript.conn"
#define LUA_HANDLE_TYPE "imapscript.handle"
#define LUA_ERROR_TYPE  "imapscript.error"

/* Each opener registers its metatables and sets its functions into the module table on top of
 * the stack. Pops nothing, pushes nothing. luaopen_imapscript_core (lua_core.c) calls them all. */
void lua_msgset_open(lua_State *L);
void lua_query_open(lua_State *L);
void lua_regex_open(lua_State *L);
void lua_mime_open(lua_State *L);
void lua_mutf7_open(lua_State *L);
void lua_error_open(lua_State *L);     /* core.error (lua_error.c) */
void lua_conn_open(lua_State *L);      /* core.connect (lua_conn.c) */
void lua_raw_open(lua_State *L);       /* core.atom, core.mailbox_arg (lua_raw.c) */
void lua_sort_open(lua_State *L);      /* core.sort_key, base_subject (lua_sort.c) */
void lua_date_open(lua_State *L);      /* core.parse_date, core.internaldate (lua_date.c) */
void lua_oauth2_open(lua_State *L);    /* core.http_post, core.json_decode, ... (lua_oauth2.c) */
void lua_loop_open(lua_State *L);      /* core.loop_wait, core.now, core.task (lua_loop.c) */
void lua_managesieve_open(lua_State *L); /* core.managesieve (lua_managesieve.c) */
void lua_state_open(lua_State *L);     /* core.state_open, core.lock (lua_state.c) */
void lua_mirror_open(lua_State *L);    /* core.mirror (lua_mirror.c) */

/* Error objects (lua_error.c): tables {kind=, message=, command=, mailbox=, code=,
 * server_text=} with the "imapscript.error" metatable. lua_error_push pushes a new one, NULL
 * fields left out (pushes 1). lua_error_usage raises one of kind "usage" with a printf-style
 * message (never returns). lua_error_kind names the kind for a SESSION_ERR_* code ("network",
 * "tls", "auth", "no", "bad", "closed", "capability", "usage", else "protocol"). */
void lua_error_push(lua_State *L, const char *kind, const char *message, const char *command,
                    const char *mailbox, const char *code, const char *server_text);
int lua_error_usage(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *lua_error_kind(int code);

/* The set at idx (a "imapscript.set" userdata, else a Lua argument error). The pointer lives as
 * long as the userdata does; the set never changes. Pops nothing, pushes nothing. */
const struct msgset *lua_msgset_check(lua_State *L, int idx);
/* Like lua_msgset_check, but also accepts set text ("1:5,9") or an array of UIDs: those are
 * converted and the new set userdata replaces the value at idx. Errors name the bad offset or
 * array index. Pops nothing, pushes nothing (the stack slot at idx changes). */
const struct msgset *lua_msgset_coerce(lua_State *L, int idx);
/* Pushes a new set userdata that takes over *moved_in's ranges (*moved_in is left empty). On a
 * memory error the ranges are freed before the error is raised, so nothing leaks. Pushes 1. */
void lua_msgset_push(lua_State *L, struct msgset *moved_in);
/* Pushes a new empty set userdata and returns it for the caller to fill in (msgset_add,
 * msgset_union, ...) before any Lua code sees it; the userdata's __gc frees what it holds, so
 * a Lua error half-way leaks nothing. Pushes 1. */
struct msgset *lua_msgset_new(lua_State *L);

/* The query at idx (an "imapscript.query" userdata, else an argument error), owned by the
 * userdata: query_ref it to keep it longer. Pops nothing, pushes nothing. */
const struct query *lua_query_check(lua_State *L, int idx);

/* The compiled regex at idx (an "imapscript.regex" userdata, else an argument error), owned by
 * the userdata. Pops nothing, pushes nothing. */
struct regex *lua_regex_check(lua_State *L, int idx);

#endif
