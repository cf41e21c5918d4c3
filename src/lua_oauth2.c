/* lua_oauth2.c — what lua/imapscript/oauth2.lua and authorize.lua need from C, thin:
 *   core.http_post(url, {name=value,...} [, {ca_file=, timeout=}]) -> status, body
 *                                        | nil, error object (kind network or tls)
 *   core.json_decode(text) -> value | nil, message      (objects and arrays become tables,
 *                                                        null is left out)
 *   core.random_bytes(n) core.sha256(s) core.base64url(s) -> string
 *   core.sleep(seconds)
 *   core.redirect_listen() -> listener | nil, message   ("imapscript.redirect")
 *   listener:port() listener:wait(path, seconds, page) -> query | nil ("timeout") | nil, msg
 *   listener:close()                                    (also __gc and __close) */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "http_post.h"
#include "lua_bind.h"
#include "redirect.h"

#define LUA_REDIRECT_TYPE "imapscript.redirect"
#define FIELDS_MAX 16

/* core.http_post(url, fields [, opts]): pushes 2, the status and the body; or nil and an
 * error object. */
static int core_http_post(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct http_field f[FIELDS_MAX];
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (n == FIELDS_MAX || lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "http_post: want at most %d string fields", FIELDS_MAX);
        f[n].name = lua_tostring(L, -2);
        f[n++].value = lua_tostring(L, -1);   /* stays referenced by the table */
        lua_pop(L, 1);
    }
    const char *ca = NULL;
    long timeout = 30;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "ca_file");
        ca = lua_tostring(L, -1);
        lua_getfield(L, 3, "timeout");
        if (lua_isinteger(L, -1))
            timeout = (long)lua_tointeger(L, -1);
        lua_pop(L, 1);   /* ca_file stays on the stack while in use */
    }
    struct http_answer a;
    char err[400];
    int rc = http_post_form(url, f, n, ca, timeout, &a, err, sizeof err);
    if (rc < 0) {
        lua_pushnil(L);
        lua_error_push(L, rc == HTTP_ERR_TLS ? "tls" : rc == HTTP_ERR_USAGE ? "usage" : "network",
                       err, "POST", NULL, NULL, NULL);
        return 2;
    }
    lua_pushinteger(L, a.status);
    lua_pushlstring(L, a.body, a.len);
    http_answer_free(&a);
    return 2;
}

/* Pushes v as a Lua value (1). */
static void push_json(lua_State *L, json_t *v)
{
    luaL_checkstack(L, 4, "JSON nested too deeply");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (json_is_null(x))
                continue;
            push_json(L, x);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(v), 0);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (json_is_null(x))
                continue;
            push_json(L, x);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default: lua_pushnil(L); break;
    }
}

/* core.json_decode(text): pushes 1, the value; or 2, nil and "line L column C: why". */
static int core_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!v) {
        lua_pushnil(L);
        lua_pushfstring(L, "line %d column %d: %s", e.line, e.column, e.text);
        return 2;
    }
    push_json(L, v);
    json_decref(v);
    return 1;
}

/* core.random_bytes(n): pushes n bytes from the system's CSPRNG (via OpenSSL). */
static int core_random_bytes(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0 && n <= 1024, 1, "want 1..1024 bytes");
    unsigned char buf[1024];
    if (RAND_bytes(buf, (int)n) != 1)
        return luaL_error(L, "random_bytes: the random generator failed");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    return 1;
}

/* core.sha256(s): pushes the 32-byte digest. */
static int core_sha256(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL))
        return luaL_error(L, "sha256: digest failed");
    lua_pushlstring(L, (const char *)md, mdlen);
    return 1;
}

/* core.base64url(s): pushes s in base64url without padding (RFC 4648 section 5). */
static int core_base64url(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, len <= INT_MAX / 2, 1, "too long");
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, 4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

/* core.sleep(seconds): pushes nothing. */
static int core_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && s <= 3600, 1, "want 0..3600 seconds");
    struct timespec ts = { (time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

struct lredirect {
    struct redirect *r;
    unsigned port;
};

static struct lredirect *redirect_check(lua_State *L)
{
    struct lredirect *lr = luaL_checkudata(L, 1, LUA_REDIRECT_TYPE);
    if (!lr->r)
        luaL_error(L, "redirect listener is closed");
    return lr;
}

/* core.redirect_listen(): pushes the listener, or nil and a message. */
static int core_redirect_listen(lua_State *L)
{
    struct lredirect *lr = lua_newuserdatauv(L, sizeof *lr, 0);
    memset(lr, 0, sizeof *lr);
    luaL_setmetatable(L, LUA_REDIRECT_TYPE);
    char err[256];
    if (redirect_listen(&lr->r, &lr->port, err, sizeof err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

/* listener:port(): pushes the port. */
static int redirect_port(lua_State *L)
{
    lua_pushinteger(L, redirect_check(L)->port);
    return 1;
}

/* listener:wait(path, seconds, page): pushes the query string; nil, "timeout"; or nil, msg. */
static int redirect_wait_l(lua_State *L)
{
    struct lredirect *lr = redirect_check(L);
    const char *path = luaL_checkstring(L, 2);
    lua_Number secs = luaL_checknumber(L, 3);
    const char *page = luaL_checkstring(L, 4);
    int ms = secs * 1000 >= INT_MAX ? INT_MAX : secs <= 0 ? 0 : (int)(secs * 1000);
    char *query, err[256];
    int rc = redirect_wait(lr->r, path, ms, page, &query, err, sizeof err);
    if (rc <= 0) {
        lua_pushnil(L);
        lua_pushstring(L, rc == 0 ? "timeout" : err);
        return 2;
    }
    lua_pushstring(L, query);
    explicit_bzero(query, strlen(query));
    free(query);
    return 1;
}

/* listener:close(): pushes nothing; idempotent. */
static int redirect_close_l(lua_State *L)
{
    struct lredirect *lr = luaL_checkudata(L, 1, LUA_REDIRECT_TYPE);
    redirect_close(lr->r);
    lr->r = NULL;
    return 0;
}

void lua_oauth2_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "port", redirect_port }, { "wait", redirect_wait_l }, { "close", redirect_close_l },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, LUA_REDIRECT_TYPE)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, redirect_close_l);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, redirect_close_l);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        { "http_post", core_http_post }, { "json_decode", core_json_decode },
        { "random_bytes", core_random_bytes }, { "sha256", core_sha256 },
        { "base64url", core_base64url }, { "sleep", core_sleep },
        { "redirect_listen", core_redirect_listen }, { NULL, NULL },
    };
    luaL_setfuncs(L, fns, 0);
}
