/* lua_mime.c — core.decode_header, core.header_values, core.header_lines, core.body_text,
 * core.decode_part, core.preview: fetched mail as UTF-8 text for client-side rules. */
#include <stdint.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_bind.h"
#include "mime.h"

/* Pushes the malloc'd result of a mime_* call and frees it; raises on out of memory. */
static void push_result(lua_State *L, int rc, char *out, size_t len)
{
    if (rc != 0)
        luaL_error(L, "mime: not enough memory");
    lua_pushlstring(L, out, len);
    free(out);
}

/* Pushes 1: fn (mime_decode_header, mime_preview) of the string argument 1. */
static int push_converted(lua_State *L, int (*fn)(const char *, size_t, char **, size_t *))
{
    size_t len, outlen = 0;
    const char *s = luaL_checklstring(L, 1, &len);
    char *out = NULL;
    int rc = fn(s, len, &out, &outlen);
    push_result(L, rc, out, outlen);
    return 1;
}

/* core.decode_header(s): pushes 1, the value unfolded and RFC 2047-decoded to UTF-8. */
static int lmime_decode_header(lua_State *L)
{
    return push_converted(L, mime_decode_header);
}

/* core.header_values(raw_headers, name): pushes 1, an array of the decoded values of every
 * field called name (any case), in order; empty when there is none. */
static int lmime_header_values(lua_State *L)
{
    size_t len, namelen;
    const char *hdr = luaL_checklstring(L, 1, &len);
    const char *name = luaL_checklstring(L, 2, &namelen);
    lua_newtable(L);
    size_t pos = 0;
    lua_Integer n = 0;
    struct mime_field f;
    while (mime_header_find(hdr, len, &pos, name, namelen, &f)) {
        char *out = NULL;
        size_t outlen = 0;
        int rc = mime_decode_header(f.value, f.valuelen, &out, &outlen);
        push_result(L, rc, out, outlen);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

/* core.header_lines(raw_headers, name, ...): pushes one string per name: the raw lines of every
 * field called name (any case), continuation lines and line ends included, in order; "" when
 * there is none. From HEADER.FIELDS (A B) they are what HEADER.FIELDS (A) gives without its
 * closing empty line. */
static int lmime_header_lines(lua_State *L)
{
    size_t len;
    const char *hdr = luaL_checklstring(L, 1, &len);
    int n = lua_gettop(L);
    luaL_checkstack(L, n + 2, "header_lines: too many names");
    for (int i = 2; i <= n; i++) {
        size_t namelen;
        const char *name = luaL_checklstring(L, i, &namelen);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        size_t pos = 0;
        struct mime_field f;
        while (mime_header_find(hdr, len, &pos, name, namelen, &f))
            luaL_addlstring(&b, f.name, (size_t)(hdr + pos - f.name));
        luaL_pushresult(&b);
    }
    return n - 1;
}

/* core.body_text(raw_message [, max_bytes]): pushes 2, the message's readable text in UTF-8
 * (text/plain parts, else text/html stripped of tags), all of it or at most max_bytes, and
 * whether max_bytes cut it short. */
static int lmime_body_text(lua_State *L)
{
    size_t len, outlen = 0;
    const char *msg = luaL_checklstring(L, 1, &len);
    lua_Integer max = luaL_optinteger(L, 2, LUA_MAXINTEGER);
    luaL_argcheck(L, max >= 0, 2, "must be a non-negative byte count");
    if (max == 0) {
        lua_pushliteral(L, "");
        lua_pushboolean(L, len > 0);
        return 2;
    }
    char *out = NULL;
    bool cut;
    int rc = mime_body_text_cut(msg, len, (uint64_t)max > SIZE_MAX ? SIZE_MAX : (size_t)max,
                                &out, &outlen, &cut);
    push_result(L, rc, out, outlen);
    lua_pushboolean(L, cut);
    return 2;
}

/* core.decode_part(data, encoding [, charset]): pushes 1, a part's body with its transfer
 * encoding undone, and converted to UTF-8 from charset when one is given ("" for unknown). */
static int lmime_decode_part(lua_State *L)
{
    size_t len, outlen = 0;
    const char *data = luaL_checklstring(L, 1, &len);
    const char *enc = luaL_optstring(L, 2, NULL);
    const char *cs = luaL_optstring(L, 3, NULL);
    char *out = NULL;
    int rc = mime_part_decode(data, len, enc, cs, &out, &outlen);
    push_result(L, rc, out, outlen);
    return 1;
}

/* core.preview(raw_message): pushes 1, its RFC 8970 preview (at most 200 characters). */
static int lmime_preview(lua_State *L)
{
    return push_converted(L, mime_preview);
}

static const luaL_Reg mime_funcs[] = {
    {"preview", lmime_preview},
    {"decode_part", lmime_decode_part},
    {"decode_header", lmime_decode_header},
    {"header_values", lmime_header_values},
    {"header_lines", lmime_header_lines},
    {"body_text", lmime_body_text},
    {NULL, NULL},
};

/* Pops nothing, pushes nothing: sets core.decode_header, core.header_values, core.header_lines,
 * core.body_text,
 * core.decode_part and core.preview into the table on top. */
void lua_mime_open(lua_State *L)
{
    luaL_setfuncs(L, mime_funcs, 0);
}
