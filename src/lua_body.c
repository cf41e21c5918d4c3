/* lua_body.c — a BODYSTRUCTURE as Lua tables: one per MIME part with its section number
 * ("1.2"), type, parameters (RFC 2231 and RFC 2047 decoded), disposition and children. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_message.h"
#include "mime.h"

/* Sets t[field] = s lower-cased, for a non-NULL s; t on top. */
static void set_lower(lua_State *L, const char *field, const char *s)
{
    if (!s)
        return;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (; *s; s++)
        luaL_addchar(&b, (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s);
    luaL_pushresult(&b);
    lua_setfield(L, -2, field);
}

static void set_str(lua_State *L, const char *field, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, field);
}

/* Sets t[field] = {name = decoded value, ...} (names lower-cased, RFC 2231 suffixes gone); t on
 * top. Also sets t.filename from want (the first of them present). */
static void set_params(lua_State *L, const char *field, const char **pairs, size_t n,
                       const char *want)
{
    lua_createtable(L, 0, (int)(n < 64 ? n : 64));
    for (size_t i = 0; i < n; i++) {
        const char *name = pairs[2 * i];
        if (!name)
            continue;
        size_t base = strcspn(name, "*");
        char key[128];
        if (base == 0 || base >= sizeof key)
            continue;
        for (size_t k = 0; k < base; k++)
            key[k] = (name[k] >= 'A' && name[k] <= 'Z') ? (char)(name[k] + 32) : name[k];
        key[base] = '\0';
        if (lua_getfield(L, -1, key) != LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        char *v = NULL;
        size_t vl = 0;
        int rc = mime_param_get((const char *const *)pairs, n, key, &v, &vl);
        if (rc < 0)
            luaL_error(L, "BODYSTRUCTURE: out of memory");
        if (rc == 1) {
            lua_pushlstring(L, v, vl);
            lua_setfield(L, -2, key);
        }
        free(v);
    }
    if (want && lua_getfield(L, -1, want) != LUA_TNIL)
        lua_setfield(L, -3, "filename");
    else if (want)
        lua_pop(L, 1);
    lua_setfield(L, -2, field);
}

/* Pushes the table of part b. section: its section number, or NULL for a multipart that has
 * none (the message itself, or the body of a message/rfc822 part); prefix: its children's. */
static void push_part(lua_State *L, const struct imap_body *b, const char *section,
                      const char *prefix, lua_Integer *order)
{
    luaL_checkstack(L, 8, "BODYSTRUCTURE nested too deep");
    lua_createtable(L, 0, 16);
    set_lower(L, "type", b->type);
    set_lower(L, "subtype", b->subtype);
    set_str(L, "part", section);
    set_params(L, "params", b->params, b->nparams, NULL);
    set_str(L, "id", b->id);
    set_str(L, "description", b->description);
    set_lower(L, "encoding", b->encoding);
    set_str(L, "md5", b->md5);
    set_str(L, "location", b->location);
    set_lower(L, "disposition", b->disposition);
    if (b->disposition)
        set_params(L, "disposition_params", b->disposition_params, b->ndisposition_params,
                   "filename");
    if (lua_getfield(L, -1, "filename") == LUA_TNIL) {      /* Content-Type name= instead */
        lua_getfield(L, -2, "params");
        lua_getfield(L, -1, "name");
        lua_setfield(L, -4, "filename");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (b->nlanguages) {
        lua_createtable(L, (int)b->nlanguages, 0);
        for (size_t i = 0; i < b->nlanguages; i++) {
            lua_pushstring(L, b->languages[i] ? b->languages[i] : "");
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "language");
    }
    bool multi = b->type && !strcmp(b->type, "MULTIPART");
    if (!multi) {
        lua_message_pushu64(L, b->size);
        lua_setfield(L, -2, "size");
    }
    if (b->lines || (b->type && !strcmp(b->type, "TEXT"))) {
        lua_message_pushu64(L, b->lines);
        lua_setfield(L, -2, "lines");
    }
    if (b->envelope) {
        lua_message_pushenvelope(L, b->envelope);
        lua_setfield(L, -2, "envelope");
    }
    lua_pushinteger(L, ++*order);
    lua_setfield(L, -2, "index");
    if (b->nparts) {
        lua_createtable(L, (int)(b->nparts < 1000 ? b->nparts : 0), 0);
        for (size_t i = 0; i < b->nparts; i++) {
            char sec[256];
            const struct imap_body *c = &b->parts[i];
            bool cmulti = c->type && !strcmp(c->type, "MULTIPART");
            if (!multi) {           /* message/rfc822: the encapsulated message */
                snprintf(sec, sizeof sec, "%s.1", section ? section : "1");
                push_part(L, c, cmulti ? NULL : sec, section ? section : "", order);
            } else {
                snprintf(sec, sizeof sec, "%s%s%zu", prefix, *prefix ? "." : "", i + 1);
                push_part(L, c, sec, sec, order);
            }
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "children");
    }
}

void lua_message_pushbody(lua_State *L, const struct imap_body *b)
{
    lua_Integer order = 0;
    bool multi = b->type && !strcmp(b->type, "MULTIPART");
    push_part(L, b, multi ? NULL : "1", "", &order);
}
