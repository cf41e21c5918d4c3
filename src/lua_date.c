/* lua_date.c — core.parse_date and core.internaldate (imap.parse_date, imap.internaldate): mail
 * dates to os.time() seconds and a zone, and os.time() seconds to IMAP date-times (date.c). */
#include <lauxlib.h>
#include <lua.h>

#include "date.h"
#include "lua_bind.h"

/* core.parse_date(s): pushes 2, the UTC seconds of an RFC 5322 or INTERNALDATE date and its
 * zone in minutes east of UTC; or nil and a message when s is not a date. */
static int ldate_parse(lua_State *L)
{
    const char *s = luaL_checkstring(L, 1);
    int64_t t;
    int zone;
    if (date_parse(s, &t, &zone) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "parse_date: not a date: \"%s\"", s);
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)t);
    lua_pushinteger(L, zone);
    return 2;
}

/* core.internaldate(t [, zone]): pushes 1, the IMAP date-time of os.time() value t (fractions
 * dropped) in zone (minutes east of UTC; default: the local zone at t). */
static int ldate_internaldate(lua_State *L)
{
    lua_Number n = luaL_checknumber(L, 1);
    if (!(n >= -9.2e18 && n <= 9.2e18))
        return lua_error_usage(L, "internaldate: %f is not a time", (double)n);
    int64_t t = (int64_t)n;
    if ((lua_Number)t > n)
        t--;                        /* toward minus infinity, as os.date does */
    int zone;
    if (lua_isnoneornil(L, 2)) {
        if (date_local_zone(t, &zone) < 0)
            return lua_error_usage(L, "internaldate: the local zone at %lld is unknown",
                                   (long long)t);
    } else {
        lua_Integer z = luaL_checkinteger(L, 2);
        if (z <= -24 * 60 || z >= 24 * 60)
            return lua_error_usage(L, "internaldate: zone %lld is not minutes east of UTC "
                                   "(-1439..1439)", (long long)z);
        zone = (int)z;
    }
    char out[DATE_INTERNAL_LEN + 1];
    if (date_format_internal(t, zone, out, sizeof out) < 0)
        return lua_error_usage(L, "internaldate: %lld is outside the years 1 to 9999",
                               (long long)t);
    lua_pushstring(L, out);
    return 1;
}

static const luaL_Reg date_funcs[] = {
    { "parse_date", ldate_parse }, { "internaldate", ldate_internaldate },
    { NULL, NULL },
};

/* Sets core.parse_date and core.internaldate into the table on top. */
void lua_date_open(lua_State *L)
{
    luaL_setfuncs(L, date_funcs, 0);
}
