/* lua_handle.c — command handles ("imapscript.handle"): one per queued command, holding its
 * outputs until the reply is read, then its result as a Lua value or an error object. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_conn.h"
#include "lua_message.h"

struct lhandle *handle_check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, LUA_HANDLE_TYPE);
}

/* Frees a handle's command and outputs. Idempotent. */
static void handle_release(lua_State *L, struct lhandle *h)
{
    if (h->released)
        return;
    h->released = true;
    session_cmd_free(h->cmd);
    h->cmd = NULL;
    transfer_free(h->tr);
    h->tr = NULL;
    switch (h->kind) {
    case H_SEARCH: msgset_free(&h->out.set); break;
    case H_COPY: msgset_free(&h->out.copy.src); msgset_free(&h->out.copy.dst); break;
    case H_LIST: session_list_free(&h->out.list); break;
    default: break;
    }
    free(h->sync_msg);
    h->sync_msg = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, h->fnref);
    h->fnref = LUA_NOREF;
    luaL_unref(L, LUA_REGISTRYINDEX, h->fxref);     /* its state's __gc frees the rest */
    h->fxref = LUA_NOREF;
    h->fx = NULL;
}

/* The command's current result, or NULL for a handle without a command. */
static const struct session_result *handle_res(const struct lhandle *h)
{
    return h->cmd ? session_cmd_result(h->cmd) : NULL;
}

bool handle_done(const struct lhandle *h)
{
    if (h->tr)
        return transfer_done(h->tr);
    if (h->confirmed || !h->cmd)
        return true;
    return session_cmd_result(h->cmd)->status != SESSION_PENDING;
}

/* 0 when the handle succeeded, else its SESSION_ERR_* code. Only for done handles. */
int handle_code(const struct lhandle *h)
{
    if (!h->cmd)
        return h->sync_code;
    const struct session_result *r = session_cmd_result(h->cmd);
    if (r->status == SESSION_OK)
        return 0;
    return r->code ? r->code : SESSION_ERR_PROTOCOL;
}

/* Marks h complete and removes it from the pending table of the connection at cidx. */
void handle_confirm(lua_State *L, int cidx, int hidx, struct lhandle *h)
{
    if (h->confirmed)
        return;
    h->confirmed = true;
    lua_getiuservalue(L, cidx, CONN_UV_PENDING);
    lua_pushvalue(L, hidx);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Marks every pending handle of the connection at cidx complete (the session finished or freed
 * them all) and releases those already collected. With first, leaves on the stack the
 * earliest failed handle among them (or nil): pushes 1; else pushes nothing. */
void conn_confirm_all(lua_State *L, int cidx, bool first)
{
    cidx = lua_absindex(L, cidx);
    lua_getiuservalue(L, cidx, CONN_UV_PENDING);
    int t = lua_gettop(L);
    if (first)
        lua_pushnil(L);
    uint64_t best = UINT64_MAX;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        struct lhandle *h = luaL_testudata(L, -1, LUA_HANDLE_TYPE);
        if (h) {
            h->confirmed = true;
            if (h->dead) {
                handle_release(L, h);
            } else if (first && h->seq < best && handle_code(h) != 0) {
                best = h->seq;
                lua_pushvalue(L, -1);
                lua_replace(L, t + 1);
            }
        }
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, t);
    }
    lua_remove(L, t);
}

/* Pushes a new handle for the connection at index 1 (its kind and command name set, no command
 * yet) and returns it. mailbox/from (may be NULL) name what the command works on. Pushes 1. */
struct lhandle *handle_new(lua_State *L, enum hkind kind, const char *name, const char *mailbox,
                           const char *from)
{
    struct lconn *lc = conn_check(L, 1);
    struct lhandle *h = lua_newuserdatauv(L, sizeof *h, H_NUV);
    memset(h, 0, sizeof *h);
    h->lc = lc;
    h->kind = kind;
    h->fnref = LUA_NOREF;
    h->fxref = LUA_NOREF;
    h->seq = ++lc->seq;
    h->confirmed = true;          /* until a command is queued */
    snprintf(h->name, sizeof h->name, "%s", name);
    switch (kind) {
    case H_SEARCH: msgset_init(&h->out.set); break;
    case H_COPY:
        msgset_init(&h->out.copy.src);
        msgset_init(&h->out.copy.dst);
        h->out.copy.cu.src = &h->out.copy.src;
        h->out.copy.cu.dst = &h->out.copy.dst;
        break;
    default: break;
    }
    luaL_setmetatable(L, LUA_HANDLE_TYPE);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, H_UV_CONN);
    if (mailbox) {
        lua_pushstring(L, mailbox);
        lua_setiuservalue(L, -2, H_UV_MAILBOX);
    }
    if (from) {
        lua_pushstring(L, from);
        lua_setiuservalue(L, -2, H_UV_FROM);
    }
    return h;
}

/* Gives the handle on top its queued command and puts it in the pending table. A NULL cmd
 * (out of memory) raises. Pushes nothing. */
void handle_attach(lua_State *L, struct lhandle *h, struct session_cmd *cmd)
{
    if (!cmd)
        luaL_error(L, "%s: out of memory", h->name);
    h->cmd = cmd;
    handle_pend(L, h);
}

/* Puts the handle on top in the pending table of the connection at index 1 (its command may
 * still be written). Pushes nothing. */
void handle_pend(lua_State *L, struct lhandle *h)
{
    h->confirmed = false;
    lua_getiuservalue(L, 1, CONN_UV_PENDING);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Makes a handle finished without a command: code 0 or SESSION_ERR_*, msg for people.
 * Pushes nothing. */
void handle_finish(lua_State *L, struct lhandle *h, int code, const char *msg)
{
    h->sync_code = code;
    if (code) {
        h->sync_msg = strdup(msg ? msg : "");
        if (!h->sync_msg)
            luaL_error(L, "out of memory");
    }
}

/* The session to queue the handle's command on, or NULL after logout (the handle is then
 * finished as failed, kind "closed"). */
struct session *handle_session(lua_State *L, struct lhandle *h)
{
    struct lconn *lc = h->lc;
    if (lc->s)
        return lc->s;
    char msg[300];
    snprintf(msg, sizeof msg, "%s: the connection is logged out", h->name);
    handle_finish(L, h, SESSION_ERR_CLOSED, msg);
    return NULL;
}

/* Pushes the error object of the failed handle at idx, its message
 * "<label>: <name> [<from> ->] <mailbox>: NO [CODE] text" (or the session's words for failures
 * other than NO/BAD). Pushes 1. */
static void handle_push_error(lua_State *L, int idx, struct lhandle *h)
{
    idx = lua_absindex(L, idx);
    int code = handle_code(h);
    const struct session_result *r = handle_res(h);
    lua_getiuservalue(L, idx, H_UV_MAILBOX);
    lua_getiuservalue(L, idx, H_UV_FROM);
    const char *mailbox = lua_tostring(L, -2), *from = lua_tostring(L, -1);
    bool nobad = r && (r->status == SESSION_NO || r->status == SESSION_BAD);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, h->lc->label);
    luaL_addstring(&b, ": ");
    if (nobad) {
        luaL_addstring(&b, h->name);
        if (from) {
            luaL_addchar(&b, ' ');
            luaL_addstring(&b, from);
            luaL_addstring(&b, mailbox ? " ->" : "");
        }
        if (mailbox) {
            luaL_addchar(&b, ' ');
            luaL_addstring(&b, mailbox);
        }
        luaL_addstring(&b, r->status == SESSION_NO ? ": NO " : ": BAD ");
        if (r->code_name) {
            luaL_addchar(&b, '[');
            luaL_addstring(&b, r->code_name);
            if (r->code_text && *r->code_text) {
                luaL_addchar(&b, ' ');
                luaL_addstring(&b, r->code_text);
            }
            luaL_addstring(&b, "] ");
        }
        luaL_addstring(&b, r->text ? r->text : "");
    } else {
        luaL_addstring(&b, r ? (r->error ? r->error : "") : (h->sync_msg ? h->sync_msg : ""));
    }
    luaL_pushresult(&b);
    lua_error_push(L, lua_error_kind(code), lua_tostring(L, -1), h->name, mailbox,
                   nobad ? r->code_name : NULL, nobad ? r->text : NULL);
    if (from) {
        lua_pushvalue(L, -3);
        lua_setfield(L, -2, "from");
    }
    if (nobad && r->code_name && r->code_text && *r->code_text) {
        lua_pushstring(L, r->code_text);        /* "MAXSIZE 1024" of [METADATA MAXSIZE 1024] */
        lua_setfield(L, -2, "code_text");
    }
    lua_replace(L, -4);
    lua_pop(L, 2);
}

/* Pushes 1: {messages=, unseen=, recent=, uidnext=, uidvalidity=, highestmodseq=}, the items
 * the server sent. */
static void push_status(lua_State *L, const struct session_status_info *st)
{
    const struct { const char *name; int64_t v; } f[] = {
        { "messages", st->messages }, { "unseen", st->unseen }, { "recent", st->recent },
        { "uidnext", st->uidnext }, { "uidvalidity", st->uidvalidity },
        { "highestmodseq", st->highestmodseq },
    };
    lua_createtable(L, 0, 6);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].v < 0)
            continue;
        lua_pushinteger(L, f[i].v);
        lua_setfield(L, -2, f[i].name);
    }
}

/* Pushes 1: {copied=, uids=, uidvalidity=, messages=, bytes=, trycreate=, error=} of a done
 * transfer: what the target confirmed, and the first failure (an error object) if any. */
static void push_transfer(lua_State *L, struct lhandle *h)
{
    struct transfer_result r;
    struct msgset copy;
    transfer_result(h->tr, &r);
    lua_createtable(L, 0, 7);
    msgset_init(&copy);
    if (msgset_copy(&copy, r.copied) < 0)
        luaL_error(L, "out of memory");
    lua_msgset_push(L, &copy);
    lua_setfield(L, -2, "copied");
    if (msgset_copy(&copy, r.uids) < 0)
        luaL_error(L, "out of memory");
    lua_msgset_push(L, &copy);
    lua_setfield(L, -2, "uids");
    lua_pushinteger(L, r.uidvalidity);
    lua_setfield(L, -2, "uidvalidity");
    lua_message_pushu64(L, r.messages);
    lua_setfield(L, -2, "messages");
    lua_message_pushu64(L, r.bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushboolean(L, r.trycreate);
    lua_setfield(L, -2, "trycreate");
    if (r.code) {
        lua_error_push(L, lua_error_kind(r.code), r.error, "APPEND", NULL,
                       r.trycreate ? "TRYCREATE" : NULL, NULL);
        lua_setfield(L, -2, "error");
    }
}

/* Pushes 1: the value of a successful handle (true when the command has none). */
static void handle_push_value(lua_State *L, struct lhandle *h)
{
    const struct session_result *r = handle_res(h);
    switch (h->kind) {
    case H_SEARCH:
        lua_msgset_push(L, &h->out.set);
        break;
    case H_COPY:
        if (h->out.copy.cu.uidvalidity || h->out.copy.dst.n) {
            lua_createtable(L, 0, 3);
            lua_pushinteger(L, h->out.copy.cu.uidvalidity);
            lua_setfield(L, -2, "uidvalidity");
            lua_msgset_push(L, &h->out.copy.src);
            lua_setfield(L, -2, "src");
            lua_msgset_push(L, &h->out.copy.dst);
            lua_setfield(L, -2, "dst");
        } else {
            lua_pushboolean(L, 1);
        }
        break;
    case H_SELECT:
        lua_createtable(L, 0, 1);
        lua_message_pushu64(L, r ? r->code_num : 0);
        lua_setfield(L, -2, "uidvalidity");
        break;
    case H_APPEND:
        if (r && r->code_kind == IMAP_CODE_APPENDUID && r->set1) {
            char *end;
            errno = 0;
            unsigned long long uid = strtoull(r->set1, &end, 10);
            lua_createtable(L, 0, 2);
            lua_message_pushu64(L, r->code_num);
            lua_setfield(L, -2, "uidvalidity");
            if (!errno && *end == '\0' && end != r->set1) {
                lua_message_pushu64(L, uid);
                lua_setfield(L, -2, "uid");
            } else {
                lua_pushstring(L, r->set1);
                lua_setfield(L, -2, "uids");
            }
        } else {
            lua_pushboolean(L, 1);
        }
        break;
    case H_LIST: {
        const struct session_list *l = &h->out.list;
        lua_createtable(L, l->n < INT_MAX ? (int)l->n : 0, 0);
        for (size_t i = 0; i < l->n; i++) {
            const struct session_mailbox *m = &l->items[i];
            lua_createtable(L, 0, 3);
            lua_pushstring(L, m->name ? m->name : "");
            lua_setfield(L, -2, "name");
            if (m->delimiter) {
                lua_pushlstring(L, &m->delimiter, 1);
                lua_setfield(L, -2, "delimiter");
            }
            lua_message_pushstrv(L, m->flags, m->nflags);
            lua_setfield(L, -2, "flags");
            if (m->has_status) {
                push_status(L, &m->status);
                lua_setfield(L, -2, "status");
            }
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case H_STATUS:
        push_status(L, &h->out.st);
        break;
    case H_RAW:
        lua_raw_push(L, h);
        break;
    case H_TRANSFER:
        push_transfer(L, h);
        break;
    default:
        lua_pushboolean(L, 1);
        break;
    }
}

/* Converts a done handle's outcome, once, into H_UV_RESULT. Pushes nothing. */
void handle_cache(lua_State *L, int idx, struct lhandle *h)
{
    if (h->cached)
        return;
    idx = lua_absindex(L, idx);
    if (handle_code(h) == 0)
        handle_push_value(L, h);
    else
        handle_push_error(L, idx, h);
    lua_setiuservalue(L, idx, H_UV_RESULT);
    h->cached = true;
}

/* handle:result(): pushes 1, the value (true when there is none) of a successful command, or 2:
 * nil and its error object. Raises a usage error when the command is not done. */
static int handle_result(lua_State *L)
{
    struct lhandle *h = handle_check(L, 1);
    if (!h->cached && !handle_done(h))
        return lua_error_usage(L, "%s: %s has no result yet (conn:wait(handle) first)",
                               h->lc->label, h->name);
    handle_cache(L, 1, h);
    lua_getiuservalue(L, 1, H_UV_RESULT);
    if (handle_code(h) == 0)
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* handle:done(): pushes 1, whether the command is complete. */
static int handle_isdone(lua_State *L)
{
    lua_pushboolean(L, handle_done(handle_check(L, 1)));
    return 1;
}

/* handle:command(): pushes 1, the command's name ("UID MOVE"). */
static int handle_command(lua_State *L)
{
    lua_pushstring(L, handle_check(L, 1)->name);
    return 1;
}

/* tostring(handle): pushes 1. */
static int handle_tostring(lua_State *L)
{
    struct lhandle *h = handle_check(L, 1);
    lua_pushfstring(L, "imapscript.handle (%s, %s)", h->name,
                    !handle_done(h) ? "pending" : handle_code(h) ? "failed" : "ok");
    return 1;
}

/* __gc: frees the command and outputs, unless the command may still be read into them (then
 * the connection, collected in the same cycle, frees them after closing). Pushes nothing. */
static int handle_gc(lua_State *L)
{
    struct lhandle *h = luaL_checkudata(L, 1, LUA_HANDLE_TYPE);
    if (!h->confirmed) {
        h->dead = true;
        return 0;
    }
    handle_release(L, h);
    return 0;
}

const luaL_Reg handle_methods[] = {
    { "result", handle_result }, { "done", handle_isdone }, { "command", handle_command },
    { NULL, NULL },
};

const luaL_Reg handle_meta[] = {
    { "__gc", handle_gc }, { "__tostring", handle_tostring },
    { NULL, NULL },
};
