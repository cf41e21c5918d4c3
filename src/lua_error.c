/* lua_error.c — the error objects ("imapscript.error") the bindings raise or return: tables
 * {kind=, message=, command=, mailbox=, code=, server_text=} whose tostring is the message. */
#include <stdarg.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "session.h"

/* Sets t[name] = s for non-NULL s; t is on top. */
static void set_field_str(lua_State *L, const char *name, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, name);
}

/* Pushes a new error object (NULL fields left out). Pushes 1. */
void lua_error_push(lua_State *L, const char *kind, const char *message, const char *command,
                    const char *mailbox, const char *code, const char *server_text)
{
    lua_createtable(L, 0, 6);
    set_field_str(L, "kind", kind);
    set_field_str(L, "message", message);
    set_field_str(L, "command", command);
    set_field_str(L, "mailbox", mailbox);
    set_field_str(L, "code", code);
    set_field_str(L, "server_text", server_text);
    luaL_setmetatable(L, LUA_ERROR_TYPE);
}

/* Raises an error object of kind "usage" with a formatted message. Never returns. */
int lua_error_usage(lua_State *L, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lua_error_push(L, "usage", msg, NULL, NULL, NULL, NULL);
    return lua_error(L);
}

/* The error kind for a SESSION_ERR_* code. */
const char *lua_error_kind(int code)
{
    switch (code) {
    case SESSION_ERR_NET: return "network";
    case SESSION_ERR_TLS: return "tls";
    case SESSION_ERR_AUTH: return "auth";
    case SESSION_ERR_NO: return "no";
    case SESSION_ERR_BAD: return "bad";
    case SESSION_ERR_CLOSED: return "closed";
    case SESSION_ERR_UNSUPPORTED: return "capability";
    case SESSION_ERR_USAGE: return "usage";
    case SESSION_ERR_CALLBACK: return "usage";
    default: return "protocol";   /* PROTOCOL, NOMEM and anything new */
    }
}

/* err.__tostring: pushes 1, err.message (or a generic text). */
static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    if (!lua_isstring(L, -1)) {
        lua_getfield(L, 1, "kind");
        lua_pushfstring(L, "imapscript error (%s)", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    }
    return 1;
}

/* core.error(kind, message [, fields]): pushes 1, a new error object; fields' pairs are copied
 * first, then kind and message. */
static int core_error(lua_State *L)
{
    const char *kind = luaL_checkstring(L, 1);
    const char *message = luaL_checkstring(L, 2);
    lua_newtable(L);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    }
    set_field_str(L, "kind", kind);
    set_field_str(L, "message", message);
    luaL_setmetatable(L, LUA_ERROR_TYPE);
    return 1;
}

/* Registers the error metatable and sets core.error into the module table on top.
 * Pops nothing, pushes nothing. */
void lua_error_open(lua_State *L)
{
    luaL_newmetatable(L, LUA_ERROR_TYPE);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_pushcfunction(L, core_error);
    lua_setfield(L, -2, "error");
}
