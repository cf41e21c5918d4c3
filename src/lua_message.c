/* lua_message.c — turns decoded FETCH, ENVELOPE and STATUS data into Lua tables, in one place,
 * so every binding shows the server's answers with the same field names. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_message.h"

/* Pushes s, or nil. */
void lua_message_pushstr(lua_State *L, const char *s)
{
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

/* Pushes n as an integer when it fits, else as a float. */
void lua_message_pushu64(lua_State *L, uint64_t n)
{
    if (n <= (uint64_t)INT64_MAX)
        lua_pushinteger(L, (lua_Integer)n);
    else
        lua_pushnumber(L, (lua_Number)n);
}

/* Pushes an array of a list's atoms and strings (numbers as integers, nested lists skipped). */
void lua_message_pushlist(lua_State *L, const struct imap_value *list)
{
    if (!list || list->type != IMAP_LIST) {
        lua_newtable(L);
        return;
    }
    lua_createtable(L, (int)(list->len < INT32_MAX ? list->len : 0), 0);
    lua_Integer n = 0;
    for (size_t i = 0; i < list->len; i++) {
        const struct imap_value *v = &list->u.items[i];
        if (v->type == IMAP_ATOM || v->type == IMAP_STRING)
            lua_pushlstring(L, v->u.str, v->len);
        else if (v->type == IMAP_NUMBER)
            lua_message_pushu64(L, v->u.num);
        else
            continue;
        lua_rawseti(L, -2, ++n);
    }
}

/* Pushes an array of C strings. */
void lua_message_pushstrv(lua_State *L, char *const *v, size_t n)
{
    lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* Sets t[name] = s for a non-NULL s; t is on top. */
static void set_str(lua_State *L, const char *name, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, name);
}

/* Sets t[name] = array of {name=, mailbox=, host=} (adl too when present); t is on top. */
static void set_addresses(lua_State *L, const char *name, const struct imap_address *a, size_t n)
{
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        set_str(L, "name", a[i].name);
        set_str(L, "adl", a[i].adl);
        set_str(L, "mailbox", a[i].mailbox);
        set_str(L, "host", a[i].host);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, name);
}

/* Pushes the envelope table (see lua_message.h). */
void lua_message_pushenvelope(lua_State *L, const struct imap_envelope *e)
{
    lua_createtable(L, 0, 10);
    set_str(L, "date", e->date);
    set_str(L, "subject", e->subject);
    set_addresses(L, "from", e->from, e->nfrom);
    set_addresses(L, "sender", e->sender, e->nsender);
    set_addresses(L, "reply_to", e->reply_to, e->nreply_to);
    set_addresses(L, "to", e->to, e->nto);
    set_addresses(L, "cc", e->cc, e->ncc);
    set_addresses(L, "bcc", e->bcc, e->nbcc);
    set_str(L, "in_reply_to", e->in_reply_to);
    set_str(L, "message_id", e->message_id);
}

/* Pushes t[name], made an empty table first if missing; t on top. Pushes 1. */
static void get_table(lua_State *L, const char *name)
{
    if (lua_getfield(L, -1, name) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
    }
}

/* The field a body section item goes to: raw, header, body, fields, preview_source, or
 * "sections" (then *part is its section number); NULL for none. */
static const char *section_field(const char *name, const char *sec, int64_t origin,
                                 const char **part)
{
    *part = NULL;
    if (!sec)
        return NULL;
    if (strcmp(name, "BODY") != 0 && strcmp(name, "BINARY") != 0)
        return NULL;
    if (origin >= 0)
        return !strcmp(name, "BODY") && !*sec && origin == 0 ? "preview_source" : NULL;
    if (!*sec)
        return "raw";
    if (!strcmp(sec, "HEADER"))
        return "header";
    if (!strcmp(sec, "TEXT"))
        return "body";
    if (!strncmp(sec, "HEADER.FIELDS", 13))
        return "fields";
    if (strspn(sec, "0123456789.") == strlen(sec)) {
        *part = sec;
        return "sections";
    }
    return NULL;
}

bool lua_message_setsection(lua_State *L, const char *name, const char *sec, int64_t origin)
{
    const char *part;
    const char *field = section_field(name, sec, origin, &part);
    if (!field) {
        lua_pop(L, 1);
        return false;
    }
    if (!part) {
        lua_setfield(L, -2, field);
        return true;
    }
    /* sections[sec] = value; binary[sec] = true for BINARY[1.2] (decoded by the server) */
    lua_pushvalue(L, -2);
    get_table(L, "sections");
    lua_remove(L, -2);
    lua_insert(L, -2);
    lua_setfield(L, -2, part);
    lua_pop(L, 1);
    if (strcmp(name, "BINARY") == 0) {
        get_table(L, "binary");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, part);
        lua_pop(L, 1);
    }
    return true;
}

/* Sets the field of a body section item to its string value (a part's NIL as ""; nothing for
 * other NILs, or a literal that came in parts); t on top. */
static void set_section(lua_State *L, const struct imap_fetch_item *it)
{
    const struct imap_value *v = it->value;
    const char *part;
    if (!section_field(it->name, it->section, it->origin, &part) || !v)
        return;
    if (v->type == IMAP_NIL && part)
        lua_pushliteral(L, "");
    else if (v->type == IMAP_STRING || v->type == IMAP_ATOM)
        lua_pushlstring(L, v->u.str, v->len);
    else
        return;
    lua_message_setsection(L, it->name, it->section, it->origin);
}

/* Sets t.preview from PREVIEW "text" or PREVIEW/SNIPPET (FUZZY "text") (nothing for NIL);
 * t on top. */
static void set_preview(lua_State *L, const struct imap_value *v)
{
    if (v->type == IMAP_LIST && v->len > 0)
        v = &v->u.items[v->len - 1];
    if (v->type != IMAP_STRING && v->type != IMAP_ATOM)
        return;
    lua_pushlstring(L, v->u.str, v->len);
    lua_setfield(L, -2, "preview");
}

/* Pushes the message table for one FETCH response (see lua_message.h). */
void lua_message_push(lua_State *L, const struct imap_fetch *f, struct arena *scratch)
{
    lua_createtable(L, 0, 8);
    lua_message_pushu64(L, f->seq);
    lua_setfield(L, -2, "seq");
    if (f->uid) {
        lua_message_pushu64(L, f->uid);
        lua_setfield(L, -2, "uid");
    }
    if (f->flags) {
        lua_message_pushlist(L, f->flags);
        lua_setfield(L, -2, "flags");
    }
    set_str(L, "internaldate", f->internaldate);
    for (size_t i = 0; i < f->nitems; i++) {
        const struct imap_fetch_item *it = &f->items[i];
        if (!it->name)
            continue;
        if (!strcmp(it->name, "RFC822.SIZE")) {
            lua_message_pushu64(L, f->size);
            lua_setfield(L, -2, "size");
        } else if (!strcmp(it->name, "MODSEQ")) {
            lua_message_pushu64(L, f->modseq);
            lua_setfield(L, -2, "modseq");
        } else if (!strcmp(it->name, "ENVELOPE") && it->value) {
            struct imap_envelope env;
            char err[160];
            if (decode_envelope(it->value, scratch, &env, err, sizeof err) == 0) {
                lua_message_pushenvelope(L, &env);
                lua_setfield(L, -2, "envelope");
            }
        } else if ((!strcmp(it->name, "BODY") || !strcmp(it->name, "BINARY")) && it->section) {
            set_section(L, it);
        } else if ((!strcmp(it->name, "BODYSTRUCTURE") || (!strcmp(it->name, "BODY") &&
                    !it->section)) && it->value) {
            struct imap_body body;
            char err[160];
            if (decode_body(it->value, scratch, &body, err, sizeof err) == 0) {
                lua_message_pushbody(L, &body);
                lua_setfield(L, -2, "bodystructure");
            }
        } else if ((!strcmp(it->name, "PREVIEW") || !strcmp(it->name, "SNIPPET")) && it->value) {
            set_preview(L, it->value);
        } else if (!strcmp(it->name, "X-GM-LABELS") && it->value) {
            lua_message_pushlist(L, it->value);
            lua_setfield(L, -2, "labels");
        } else if ((!strcmp(it->name, "X-GM-MSGID") || !strcmp(it->name, "X-GM-THRID")) &&
                   it->value && it->value->type == IMAP_NUMBER) {
            lua_message_pushu64(L, it->value->u.num);
            lua_setfield(L, -2, it->name[5] == 'M' ? "gm_msgid" : "gm_thrid");
        } else if (!strcmp(it->name, "RFC822") || !strcmp(it->name, "RFC822.HEADER") ||
                   !strcmp(it->name, "RFC822.TEXT")) {
            const struct imap_value *v = it->value;
            if (v && (v->type == IMAP_STRING || v->type == IMAP_ATOM)) {
                lua_pushlstring(L, v->u.str, v->len);
                lua_setfield(L, -2, it->name[6] == '.' ? (it->name[7] == 'H' ? "header" : "body")
                                                       : "raw");
            }
        }
    }
}
