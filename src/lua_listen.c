/* lua_listen.c — a connection that listens: IDLE (waited out here, or held open across loop
 * rounds), NOTIFY SET, and the mailbox events the session reports, which the watcher takes.
 *   conn:idle(seconds) -> "changed" | "timeout" | nil, error object
 *   conn:idle_start() -> true | nil, error    IDLE, once the server said "+ idling"
 *   conn:idle_stop() -> true | nil, error     DONE, and its reply
 *   conn:notify(names [, flags]) -> handle    NOTIFY SET (mailboxes (names...))
 *                                             (MessageNew MessageExpunge [FlagChange])
 *   conn:events() -> list, lost               {mailbox=, new=, expunge=, flags=, status=} per
 *                                             mailbox since the last call; lost: some dropped
 *   conn:alive() -> true | false, message     false once the connection broke or logged out */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "lua_conn.h"
#include "lua_message.h"

/* Mailboxes remembered between two conn:events(); beyond, the watcher is told to look at all. */
#define MAX_EVENT_MAILBOXES 1000

void conn_events_free(struct lconn *lc)
{
    for (size_t i = 0; i < lc->nevents; i++)
        free(lc->events[i].mailbox);
    free(lc->events);
    lc->events = NULL;
    lc->nevents = lc->capevents = 0;
    lc->events_lost = false;
}

/* The entry of mailbox, made if needed; NULL when full or out of memory. */
static struct lconn_event *event_slot(struct lconn *lc, const char *mailbox)
{
    for (size_t i = 0; i < lc->nevents; i++)
        if (strcmp(lc->events[i].mailbox, mailbox) == 0)
            return &lc->events[i];
    if (lc->nevents == MAX_EVENT_MAILBOXES)
        return NULL;
    if (lc->nevents == lc->capevents) {
        size_t cap = lc->capevents ? lc->capevents * 2 : 8;
        struct lconn_event *e = realloc(lc->events, cap * sizeof *e);
        if (!e)
            return NULL;
        lc->events = e;
        lc->capevents = cap;
    }
    struct lconn_event *e = &lc->events[lc->nevents];
    e->mailbox = strdup(mailbox);
    if (!e->mailbox)
        return NULL;
    e->kinds = 0;
    e->st.messages = e->st.unseen = e->st.recent = e->st.uidnext = e->st.uidvalidity =
        e->st.highestmodseq = -1;
    lc->nevents++;
    return e;
}

/* session_event_fn: no Lua here (it runs during any wait on the loop); the watcher reads the
 * list with conn:events(). */
void conn_event(void *ud, const struct imap_response *r)
{
    struct lconn *lc = ud;
    struct session_event ev;
    if (!lc->s || session_event_decode(lc->s, r, &ev) < 0)
        return;
    if (ev.kind != SESSION_EV_STATUS)
        lc->idle_changed++;
    struct lconn_event *e = event_slot(lc, ev.mailbox);
    if (!e) {
        lc->events_lost = true;
        return;
    }
    e->kinds |= ev.kind;
    const int64_t *from[] = { &ev.st.messages, &ev.st.unseen, &ev.st.recent, &ev.st.uidnext,
                              &ev.st.uidvalidity, &ev.st.highestmodseq };
    int64_t *to[] = { &e->st.messages, &e->st.unseen, &e->st.recent, &e->st.uidnext,
                      &e->st.uidvalidity, &e->st.highestmodseq };
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++)
        if (*from[i] >= 0)
            *to[i] = *from[i];
}

/* conn:events(): pushes 2, the list of mailboxes with news since the last call and whether
 * some were dropped (more than MAX_EVENT_MAILBOXES); the list starts empty again. */
static int conn_events(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    lua_createtable(L, lc->nevents < INT_MAX ? (int)lc->nevents : 0, 0);
    for (size_t i = 0; i < lc->nevents; i++) {
        const struct lconn_event *e = &lc->events[i];
        lua_createtable(L, 0, 5);
        lua_pushstring(L, e->mailbox);
        lua_setfield(L, -2, "mailbox");
        const struct { const char *name; unsigned bit; } k[] = {
            { "new", SESSION_EV_NEW }, { "expunge", SESSION_EV_EXPUNGE }, { "flags", SESSION_EV_FLAGS },
        };
        for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
            if (e->kinds & k[j].bit) {
                lua_pushboolean(L, 1);
                lua_setfield(L, -2, k[j].name);
            }
        }
        if (e->kinds & SESSION_EV_STATUS) {
            const struct { const char *name; int64_t v; } f[] = {
                { "messages", e->st.messages }, { "unseen", e->st.unseen },
                { "uidnext", e->st.uidnext }, { "uidvalidity", e->st.uidvalidity },
                { "highestmodseq", e->st.highestmodseq },
            };
            lua_createtable(L, 0, 5);
            for (size_t j = 0; j < sizeof f / sizeof f[0]; j++) {
                if (f[j].v >= 0) {
                    lua_pushinteger(L, f[j].v);
                    lua_setfield(L, -2, f[j].name);
                }
            }
            lua_setfield(L, -2, "status");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushboolean(L, lc->events_lost);
    conn_events_free(lc);
    return 2;
}

/* conn:alive(): pushes 1, true; or 2: false and why the connection is gone. */
static int conn_alive(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    if (lc->s && session_state(lc->s) != SESSION_BROKEN && session_state(lc->s) != SESSION_LOGOUT) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, !lc->s || session_state(lc->s) == SESSION_LOGOUT ? "logged out"
                                                                       : session_error(lc->s));
    return 2;
}

/* ---- IDLE ------------------------------------------------------------------------------ */

/* Pushes 2 (nil and an error object of kind "capability") unless the server offers IDLE;
 * returns 0 when it does. */
static int idle_missing(lua_State *L, struct lconn *lc)
{
    if (session_has_cap(lc->s, "IDLE"))
        return 0;
    char msg[300];
    snprintf(msg, sizeof msg, "%s: IDLE: the server does not offer IDLE", lc->label);
    lua_pushnil(L);
    lua_error_push(L, "capability", msg, "IDLE", conn_mailbox(lc), NULL, NULL);
    return 2;
}

/* IDLE after every pending command; the caller entered the connection. 0 or SESSION_ERR_*. */
static int idle_begin(lua_State *L, struct lconn *lc, char *err, size_t errlen)
{
    session_wait_all(lc->s);
    conn_confirm_all(L, 1, false);
    lc->idle_changed = 0;
    return session_idle_start(lc->s, err, errlen);
}

/* Pushes 1 (true) when rc is 0, else 2: nil and the error object for IDLE. */
static int idle_result(lua_State *L, struct lconn *lc, int rc, const char *err)
{
    if (lc->s && session_state(lc->s) == SESSION_BROKEN)
        conn_confirm_all(L, 1, false);
    conn_leave(L, lc);
    if (rc < 0)
        return conn_push_error(L, lc, rc, "IDLE", conn_mailbox(lc), err);
    lua_pushboolean(L, 1);
    return 1;
}

/* conn:idle(seconds): waits (after every pending command) in IDLE until the server reports
 * EXISTS, EXPUNGE, FETCH or VANISHED, or the time is up. Pushes 1: "changed" or "timeout"; or 2:
 * nil and an error object (kind "capability" without IDLE). */
static int conn_idle(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    lua_Number secs = luaL_checknumber(L, 2);
    if (!(secs >= 0))
        return lua_error_usage(L, "idle: the timeout must be a number of seconds >= 0");
    if (!lc->s)
        return conn_push_closed(L, lc, "IDLE");
    int n = idle_missing(L, lc);
    if (n)
        return n;
    int64_t total = secs * 1000 > (lua_Number)INT_MAX ? INT_MAX : (int64_t)(secs * 1000);
    char err[600];
    conn_enter(L, lc);
    int rc = idle_begin(L, lc, err, sizeof err);
    bool changed = false;
    if (rc == 0) {
        int64_t deadline = loop_now_ms() + total;
        for (;;) {
            int64_t left = deadline - loop_now_ms();
            if (left <= 0 || lc->idle_changed)
                break;
            int w = session_idle_wait(lc->s, (int)left, err, sizeof err);
            if (w < 0) {
                rc = w;
                break;
            }
            if (w == 0)
                break;
        }
        changed = lc->idle_changed > 0;
        if (rc == 0)
            rc = session_idle_done(lc->s, err, sizeof err);
        else
            session_idle_done(lc->s, err + strlen(err), 0);
        changed = changed || lc->idle_changed > 0;
    }
    if (rc < 0)
        return idle_result(L, lc, rc, err);
    idle_result(L, lc, 0, err);
    lua_pop(L, 1);
    lua_pushstring(L, changed ? "changed" : "timeout");
    return 1;
}

/* conn:idle_start(): IDLE (after every pending command), returning once the server accepted
 * it; the loop then brings its news to conn:events(). Pushes 1 (true), or 2: nil and an
 * error object. */
static int conn_idle_start(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    if (!lc->s)
        return conn_push_closed(L, lc, "IDLE");
    int n = idle_missing(L, lc);
    if (n)
        return n;
    char err[600];
    conn_enter(L, lc);
    int rc = idle_begin(L, lc, err, sizeof err);
    return idle_result(L, lc, rc, err);
}

/* conn:idle_stop(): DONE and its reply. Pushes 1 (true), or 2: nil and an error object. */
static int conn_idle_stop(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    if (!lc->s)
        return conn_push_closed(L, lc, "IDLE");
    char err[600];
    conn_enter(L, lc);
    int rc = session_idle_done(lc->s, err, sizeof err);
    return idle_result(L, lc, rc, err);
}

/* ---- NOTIFY ---------------------------------------------------------------------------- */

/* conn:notify(names [, flags]): queues NOTIFY SET for the mailboxes names (UTF-8, the server's
 * delimiter), with FlagChange when flags is true. Pushes 1, a handle. */
static int conn_notify(lua_State *L)
{
    conn_check(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    bool flags = lua_toboolean(L, 3);
    lua_Integer n = luaL_len(L, 2);
    if (n < 1 || n > 10000)
        return lua_error_usage(L, "notify: want a list of 1 to 10000 mailbox names");
    const char **names = lua_newuserdatauv(L, (size_t)n * sizeof *names, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            return lua_error_usage(L, "notify: name %d is not a string", (int)i);
        names[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);   /* the table keeps the string */
    }
    struct lhandle *h = handle_new(L, H_SIMPLE, "NOTIFY", NULL, NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_notify_start(s, names, (size_t)n, flags));
    return 1;
}

const luaL_Reg conn_listen_methods[] = {
    { "idle", conn_idle }, { "idle_start", conn_idle_start }, { "idle_stop", conn_idle_stop },
    { "notify", conn_notify }, { "events", conn_events }, { "alive", conn_alive },
    { NULL, NULL },
};
