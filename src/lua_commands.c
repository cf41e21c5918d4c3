/* lua_commands.c — the connection's queued commands (conn:select, conn:fetch, conn:append, ...):
 * each checks its arguments, queues the session command and pushes its handle; nothing is read. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lua_conn.h"
#include "lua_message.h"
#include "mirror.h"

/* Protected part of the fetch callback: (fn, f, h) -> fn(message table). */
static int fetch_call(lua_State *L)
{
    const struct imap_fetch *f = lua_touserdata(L, 2);
    struct lhandle *h = lua_touserdata(L, 3);
    struct lconn *lc = h->lc;
    lua_settop(L, 1);
    lua_message_push(L, f, &lc->scratch);
    arena_reset(&lc->scratch);
    if (h->fx)
        lfetch_complete(L, h, f);
    lua_call(L, 1, 0);
    return 0;
}

/* session_fetch_fn: streams one message to the handle's Lua function. A Lua error stops the
 * delivery (the session still reads the rest of the reply) and is kept to be raised when the
 * read returns. */
static int fetch_cb(void *ud, const struct imap_fetch *f)
{
    struct lhandle *h = ud;
    struct lconn *lc = h->lc;
    lua_State *L = conn_driver();
    if (h->dead || h->released || lc->closing || !L || h->fnref == LUA_NOREF || !f->uid) {
        if (h->fx && !h->released && !lc->closing)
            lfetch_reset(L, h->fx);     /* what this message's literals made goes nowhere */
        return 0;
    }
    if (!lua_checkstack(L, 8))
        return 1;
    lua_pushcfunction(L, fetch_call);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->fnref);
    lua_pushlightuserdata(L, (void *)f);
    lua_pushlightuserdata(L, h);
    if (lua_pcall(L, 3, 0, 0) == LUA_OK)
        return 0;
    arena_reset(&lc->scratch);
    if (lc->cberr == LUA_NOREF)
        lc->cberr = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    return 1;
}


/* A UID set argument: NULL for "$" (SEARCHRES), else a set (or anything lua_msgset_coerce
 * takes). */
static const struct msgset *check_set(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len == 1 && s[0] == '$')
            return NULL;
    }
    return lua_msgset_coerce(L, idx);
}

/* The selected (or last queued) mailbox, for messages; NULL when none. */
const char *conn_mailbox(struct lconn *lc)
{
    if (lc->queued_mailbox)
        return lc->queued_mailbox;
    const struct session_view *v = lc->s ? session_view(lc->s) : NULL;
    return v ? v->name : NULL;
}

/* conn:select(name [, readonly [, opts]]): pushes 1, a handle (result {uidvalidity=}).
 * opts.mirror: a mirror (lua_mirror.c) the selection feeds; opts.qresync = {uidvalidity=,
 * modseq=, known=SET}: SELECT ... (QRESYNC (...)) (RFC 7162; QRESYNC must be enabled). */
static int conn_select(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    bool ro = lua_toboolean(L, 3);
    session_watch_fn watch = NULL;
    void *watch_ud = NULL;
    struct session_qresync q = { 0 }, *qp = NULL;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        if (lua_getfield(L, 4, "mirror") != LUA_TNIL)
            lua_mirror_check(L, lua_gettop(L), &watch, &watch_ud);
        if (lua_getfield(L, 4, "qresync") != LUA_TNIL) {
            int qi = lua_gettop(L);
            luaL_checktype(L, qi, LUA_TTABLE);
            lua_getfield(L, qi, "uidvalidity");
            lua_getfield(L, qi, "modseq");
            lua_Integer uv = luaL_checkinteger(L, -2), ms = luaL_checkinteger(L, -1);
            if (uv < 1 || uv > UINT32_MAX || ms < 1)
                lua_error_usage(L, "select: QRESYNC wants a UIDVALIDITY and a modseq");
            q.uidvalidity = (uint32_t)uv;
            q.modseq = (uint64_t)ms;
            if (lua_getfield(L, qi, "known") != LUA_TNIL)
                q.known = lua_msgset_coerce(L, lua_gettop(L));
            qp = &q;
        }
    }
    struct lhandle *h = handle_new(L, H_SELECT, ro ? "EXAMINE" : "SELECT", name, NULL);
    struct session *s = handle_session(L, h);
    if (!s)
        return 1;
    char *copy = strdup(name);
    if (!copy)
        return luaL_error(L, "out of memory");
    free(lc->queued_mailbox);
    lc->queued_mailbox = copy;
    /* A mirror keeps flags only with CONDSTORE, whose change reports no FETCH claims. */
    lc->echo_stores = watch != NULL && session_enabled(s, "CONDSTORE");
    if (watch)
        lua_mirror_attach(lc, watch_ud);
    handle_attach(L, h, watch || qp ? session_select_watch_start(s, name, ro, qp, watch, watch_ud)
                                    : session_select_start(s, name, ro));
    return 1;
}

/* conn:search(query [, {save=true}]): pushes 1, a handle (result: set of UIDs). */
static int conn_search(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const struct query *q = lua_query_check(L, 2);
    bool save = false;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "save");
        save = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    struct lhandle *h = handle_new(L, H_SEARCH, "UID SEARCH", conn_mailbox(lc), NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_search_start(s, q, save, &h->out.set));
    return 1;
}

/* Appends the wire text of item i of the array at items (" FLAGS", " BODY.PEEK[...]") to the
 * parts table at parts, BODY.PEEK[] once however many items want it; what items ask of bodies
 * goes into fx (its userdata at fxidx). Usage error on a bad item. Pops nothing, pushes
 * nothing. */
static void add_fetch_item(lua_State *L, int parts, int items, lua_Integer i, bool *modseq,
                           struct lfetch *fx, int fxidx, bool *whole)
{
    static const struct { const char *name, *wire; } simple[] = {
        { "uid", NULL }, { "flags", " FLAGS" }, { "size", " RFC822.SIZE" },
        { "date", " INTERNALDATE" }, { "envelope", " ENVELOPE" }, { "modseq", " MODSEQ" },
        { "header", " BODY.PEEK[HEADER]" }, { "body", " BODY.PEEK[TEXT]" },
        { "raw", " BODY.PEEK[]" }, { "bodystructure", " BODYSTRUCTURE" },
        { "labels", " X-GM-LABELS" }, { "gm_msgid", " X-GM-MSGID" }, { "gm_thrid", " X-GM-THRID" },
        /* a preview: RFC 8970, its draft (PREVIEW=FUZZY), Dovecot's SNIPPET=FUZZY, or the
         * message's first 32 KiB to make one from (core.preview) */
        { "preview", " PREVIEW" }, { "preview_fuzzy", " PREVIEW (FUZZY)" },
        { "snippet", " SNIPPET (FUZZY)" }, { "preview_source", " BODY.PEEK[]<0.32768>" },
    };
    lua_Integer np = (lua_Integer)lua_rawlen(L, parts);
    int t = lua_rawgeti(L, items, i);
    if (t == LUA_TSTRING) {
        const char *n = lua_tostring(L, -1);
        /* "part:1.2": BODY.PEEK[1.2]; "binary:1.2": BINARY.PEEK[1.2] (RFC 3516: decoded by
         * the server, which must offer BINARY) */
        bool binary = !strncmp(n, "binary:", 7);
        if (binary || !strncmp(n, "part:", 5)) {
            const char *sec = n + (binary ? 7 : 5);
            size_t sl = strlen(sec);
            if (sl == 0 || sl > 100 || strspn(sec, "0123456789.") != sl || sec[0] == '.' ||
                sec[sl - 1] == '.' || strstr(sec, "..") || strstr(sec, ".0") || sec[0] == '0')
                lua_error_usage(L, "fetch: \"%s\" is not a part number such as \"part:1.2\"", n);
            lua_pushfstring(L, binary ? " BINARY.PEEK[%s]" : " BODY.PEEK[%s]", sec);
            lua_rawseti(L, parts, ++np);
            lua_pop(L, 1);
            return;
        }
        size_t k;
        for (k = 0; k < sizeof simple / sizeof simple[0]; k++)
            if (!strcmp(simple[k].name, n))
                break;
        if (k == sizeof simple / sizeof simple[0])
            lua_error_usage(L, "fetch: unknown item \"%s\" (uid, flags, size, date, envelope, "
                            "modseq, header, body, raw, bodystructure, part:N, binary:N, labels, "
                            "gm_msgid, gm_thrid, preview, preview_fuzzy, snippet, preview_source "
                            "or {\"fields\", ...})", n);
        if (!strcmp(n, "raw")) {
            lfetch_set_raw(fx);
            if (*whole) {
                lua_pop(L, 1);
                return;
            }
            *whole = true;
        }
        if (simple[k].wire) {
            lua_pushstring(L, simple[k].wire);
            lua_rawseti(L, parts, ++np);
        }
        if (!strcmp(n, "modseq"))
            *modseq = true;
    } else if (t == LUA_TTABLE) {
        int ft = lua_gettop(L);
        if (lfetch_item(L, fx, ft, fxidx)) {
            bool dup = !strcmp(lua_tostring(L, -1), " BODY.PEEK[]");
            if (dup && *whole)
                lua_pop(L, 1);
            else
                lua_rawseti(L, parts, ++np);
            *whole = *whole || dup;
            lua_pop(L, 1);
            return;
        }
        lua_rawgeti(L, ft, 1);
        if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "fields") != 0)
            lua_error_usage(L, "fetch: item %d: a table item must be {\"fields\", name, ...}, "
                            "{\"text\" [, max]}, {\"match\", regex [, max]} or {\"save\", "
                            "path [, part [, encoding]]}", (int)i);
        lua_pop(L, 1);
        lua_Integer n = (lua_Integer)lua_rawlen(L, ft);
        if (n < 2)
            lua_error_usage(L, "fetch: item %d: {\"fields\"} needs at least one header name",
                            (int)i);
        lua_pushliteral(L, " BODY.PEEK[HEADER.FIELDS (");
        lua_rawseti(L, parts, ++np);
        for (lua_Integer j = 2; j <= n; j++) {
            lua_rawgeti(L, ft, j);
            size_t len = 0;
            const char *f = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (!f || len == 0 || len > 200)
                lua_error_usage(L, "fetch: item %d: header names must be strings of 1..200 "
                                "bytes", (int)i);
            char up[201];
            for (size_t c = 0; c < len; c++) {
                unsigned char ch = (unsigned char)f[c];
                if (ch <= 0x20 || ch >= 0x7f || ch == ':' || strchr("(){%*\"\\[]", ch))
                    lua_error_usage(L, "fetch: item %d: invalid header name \"%s\"", (int)i, f);
                up[c] = (char)((ch >= 'a' && ch <= 'z') ? ch - 32 : ch);
            }
            lua_pop(L, 1);
            if (j > 2) {
                lua_pushliteral(L, " ");
                lua_rawseti(L, parts, ++np);
            }
            lua_pushlstring(L, up, len);
            lua_rawseti(L, parts, ++np);
        }
        lua_pushliteral(L, ")]");
        lua_rawseti(L, parts, ++np);
    } else {
        lua_error_usage(L, "fetch: item %d must be a string or {\"fields\", ...}", (int)i);
    }
    lua_pop(L, 1);
}

/* conn:fetch(set, items, fn [, opts]): pushes 1, a handle (result true); fn(msg) (may be nil)
 * is called for each message as it arrives during a read. A big literal (SESSION_STREAM_LITERAL
 * bytes or more) is not held twice: its string is made once and filled as it arrives. {"text"},
 * {"match"} and {"save"} items read BODY.PEEK[] (or a part) in bounded memory (lua_fetch.c).
 * opts.changedsince = n: only messages changed since modseq n (RFC 7162 CHANGEDSINCE);
 * opts.sync = a mirror whose sync this FETCH ends. */
static int conn_fetch(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const struct msgset *set = check_set(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_Integer changedsince = 0;
    struct mirror *sync = NULL;
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        lua_getfield(L, 5, "changedsince");
        changedsince = luaL_optinteger(L, -1, 0);
        if (changedsince < 0)
            lua_error_usage(L, "fetch: changedsince must be a modseq");
        session_watch_fn fn;
        void *ud;
        if (lua_getfield(L, 5, "sync") != LUA_TNIL)
            sync = lua_mirror_check(L, lua_gettop(L), &fn, &ud);
    }
    lua_settop(L, 5);
    struct lfetch *fx = lfetch_new(L);
    int fxidx = lua_gettop(L);
    lua_newtable(L);
    int parts = lua_gettop(L);
    lua_pushliteral(L, "(UID");
    lua_rawseti(L, parts, 1);
    bool modseq = false, whole = false;
    lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
    for (lua_Integer i = 1; i <= n; i++)
        add_fetch_item(L, parts, 3, i, &modseq, fx, fxidx, &whole);
    lua_pushliteral(L, ")");
    lua_rawseti(L, parts, (lua_Integer)lua_rawlen(L, parts) + 1);
    if (changedsince) {
        lua_pushfstring(L, " (CHANGEDSINCE %I)", changedsince);
        lua_rawseti(L, parts, (lua_Integer)lua_rawlen(L, parts) + 1);
        modseq = true;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Integer np = (lua_Integer)lua_rawlen(L, parts);
    for (lua_Integer i = 1; i <= np; i++) {
        lua_rawgeti(L, parts, i);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    int items = lua_gettop(L);
    struct lhandle *h = handle_new(L, H_FETCH, "UID FETCH", conn_mailbox(lc), NULL);
    struct session *s = handle_session(L, h);
    if (!s)
        return 1;
    if (modseq && !session_has_cap(s, "CONDSTORE")) {
        handle_finish(L, h, SESSION_ERR_UNSUPPORTED,
                      "UID FETCH: modseq needs CONDSTORE, which the server lacks");
        return 1;
    }
    if (!lua_isnoneornil(L, 4)) {
        lua_pushvalue(L, 4);
        h->fnref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_pushvalue(L, fxidx);
    h->fxref = luaL_ref(L, LUA_REGISTRYINDEX);
    h->fx = fx;
    /* Without fn nobody reads the messages (a cache's sync, whose news come through the
     * selection's watch): the session may take every response that fits, literals unread. */
    bool reads = h->fnref != LUA_NOREF;
    handle_attach(L, h, session_fetch_stream_start(s, set, lua_tostring(L, items),
                                                   reads ? fetch_cb : NULL,
                                                   reads ? lfetch_literal : NULL, h));
    if (sync && h->cmd)
        mirror_expect(sync, session_cmd_tag(h->cmd));
    return 1;
}

/* Copies the array of strings at idx into a malloc'd vector owned by a userdata pushed on the
 * stack (so a Lua error frees it). Sets *n. Pushes 1. */
static const char **check_strings(lua_State *L, int idx, const char *what, size_t *n)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t len = lua_rawlen(L, idx);
    const char **v = lua_newuserdatauv(L, (len + 1) * sizeof *v, 0);
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            lua_error_usage(L, "%s: item %d must be a string", what, (int)i + 1);
        v[i] = lua_tostring(L, -1);     /* kept alive by the table */
        lua_pop(L, 1);
    }
    v[len] = NULL;
    *n = len;
    return v;
}

/* conn:store(set, op, flags): op "+", "-" or "="; pushes 1, a handle (result true). */
static int conn_store(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    lua_settop(L, 4);
    const struct msgset *set = check_set(L, 2);
    static const char *const ops[] = { "+", "-", "=", NULL };
    int op = luaL_checkoption(L, 3, NULL, ops);
    size_t nflags;
    const char **flags = check_strings(L, 4, "store: flags", &nflags);
    struct lhandle *h = handle_new(L, H_SIMPLE, "UID STORE", conn_mailbox(lc), NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, (lc->echo_stores ? session_store_echo_start : session_store_start)(
                                s, set, (enum session_store_op)op, flags, nflags));
    return 1;
}

/* conn:copy(set, dest) / conn:move(set, dest): pushes 1, a handle (result {uidvalidity=, src=,
 * dst=} with COPYUID, else true). */
static int copy_or_move(lua_State *L, bool move)
{
    struct lconn *lc = conn_check(L, 1);
    const struct msgset *set = check_set(L, 2);
    const char *dest = luaL_checkstring(L, 3);
    struct lhandle *h = handle_new(L, H_COPY, move ? "UID MOVE" : "UID COPY", dest,
                                   conn_mailbox(lc));
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_copy_start(s, set, dest, move, &h->out.copy.cu));
    return 1;
}

static int conn_copy(lua_State *L) { return copy_or_move(L, false); }
static int conn_move(lua_State *L) { return copy_or_move(L, true); }

/* conn:expunge(set): UID EXPUNGE; pushes 1, a handle (result true). */
static int conn_expunge(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const struct msgset *set = check_set(L, 2);
    struct lhandle *h = handle_new(L, H_SIMPLE, "UID EXPUNGE", conn_mailbox(lc), NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_expunge_start(s, set));
    return 1;
}

/* conn:expunge_all(): EXPUNGE; pushes 1, a handle (result true). */
static int conn_expunge_all(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    struct lhandle *h = handle_new(L, H_SIMPLE, "EXPUNGE", conn_mailbox(lc), NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_expunge_all_start(s));
    return 1;
}

/* CLOSE / UNSELECT: the session has them only as synchronous calls, so they read right away
 * (earlier queued commands complete first). Pushes 1, a finished handle. */
static int deselect(lua_State *L, bool close)
{
    struct lconn *lc = conn_check(L, 1);
    const char *name = close ? "CLOSE" : "UNSELECT";
    struct lhandle *h = handle_new(L, H_SIMPLE, name, conn_mailbox(lc), NULL);
    struct session *s = handle_session(L, h);
    if (!s)
        return 1;
    char err[600];
    conn_enter(L, lc);
    int rc = close ? session_close(s, err, sizeof err) : session_unselect(s, err, sizeof err);
    if (session_state(s) == SESSION_BROKEN)
        conn_confirm_all(L, 1, false);
    if (rc == 0) {
        free(lc->queued_mailbox);
        lc->queued_mailbox = NULL;
    }
    conn_leave(L, lc);
    handle_finish(L, h, rc, err);
    return 1;
}

static int conn_close_mailbox(lua_State *L) { return deselect(L, true); }
static int conn_unselect(lua_State *L) { return deselect(L, false); }

/* conn:append(name, message [, flags [, date]]): pushes 1, a handle (result {uidvalidity=,
 * uid=} with APPENDUID, else true). */
static int conn_append(lua_State *L)
{
    conn_check(L, 1);
    lua_settop(L, 5);
    const char *name = luaL_checkstring(L, 2);
    size_t len;
    const char *msg = luaL_checklstring(L, 3, &len);
    size_t nflags = 0;
    const char **flags = NULL;
    if (!lua_isnoneornil(L, 4))
        flags = check_strings(L, 4, "append: flags", &nflags);
    const char *date = luaL_optstring(L, 5, NULL);
    struct lhandle *h = handle_new(L, H_APPEND, "APPEND", name, NULL);
    struct session *s = handle_session(L, h);
    if (!s)
        return 1;
    handle_attach(L, h, session_append_start(s, name, flags, nflags, date, msg, len));
    return 1;
}

/* conn:transfer(set, dest_conn, mailbox [, {multiappend = bool}]): copies the messages to
 * mailbox on dest_conn as they arrive (transfer.h), with their flags and internal dates, in
 * MULTIAPPEND batches when multiappend. Pushes 1, a handle of this connection whose wait also
 * waits for the APPENDs; its result is {copied=, uids=, uidvalidity=, messages=, bytes=,
 * trycreate=, error=}: only copied (source UIDs) were confirmed by the target. */
static int conn_transfer(lua_State *L)
{
    struct lconn *lc = conn_check(L, 1);
    const struct msgset *set = lua_msgset_coerce(L, 2);
    struct lconn *dc = conn_check(L, 3);
    const char *mailbox = luaL_checkstring(L, 4);
    struct transfer_opts o = { 0 };
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        lua_getfield(L, 5, "multiappend");
        o.multiappend = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (dc == lc)
        return lua_error_usage(L, "transfer: the target is the same connection (use copy)");
    struct lhandle *h = handle_new(L, H_TRANSFER, "UID FETCH", conn_mailbox(lc), NULL);
    struct session *s = handle_session(L, h);
    if (!s)
        return 1;
    if (!dc->s) {
        handle_finish(L, h, SESSION_ERR_CLOSED, "APPEND: the target connection is logged out");
        return 1;
    }
    h->tr = transfer_start(s, set, dc->s, mailbox, &o);
    if (!h->tr)
        return luaL_error(L, "transfer: out of memory");
    lua_pushvalue(L, 3);                /* the target lives as long as the handle */
    lua_setiuservalue(L, -2, H_UV_TARGET);
    handle_pend(L, h);
    return 1;
}

/* conn:list(ref, pattern [, status]) / conn:lsub(ref, pattern): pushes 1, a handle (result:
 * array of {name=, delimiter=, flags={...}}; with status (LIST-STATUS) also status={...} as
 * conn:status gives it, for each selectable mailbox). */
static int list_or_lsub(lua_State *L, bool lsub)
{
    conn_check(L, 1);
    const char *ref = luaL_optstring(L, 2, "");
    const char *pattern = luaL_optstring(L, 3, "*");
    bool status = !lsub && lua_toboolean(L, 4);
    struct lhandle *h = handle_new(L, H_LIST, lsub ? "LSUB" : "LIST", NULL, NULL);
    struct session *s = handle_session(L, h);
    if (s && status)
        handle_attach(L, h, session_list_status_start(s, ref, pattern, &h->out.list));
    else if (s)
        handle_attach(L, h, session_list_start(s, ref, pattern, lsub, !lsub, &h->out.list));
    return 1;
}

static int conn_list(lua_State *L) { return list_or_lsub(L, false); }
static int conn_lsub(lua_State *L) { return list_or_lsub(L, true); }

/* conn:status(name): pushes 1, a handle (result {messages=, unseen=, recent=, uidnext=,
 * uidvalidity=, highestmodseq=}). */
static int conn_status(lua_State *L)
{
    conn_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    struct lhandle *h = handle_new(L, H_STATUS, "STATUS", name, NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_status_start(s, name, &h->out.st));
    return 1;
}

/* CREATE / DELETE / SUBSCRIBE / UNSUBSCRIBE name: pushes 1, a handle (result true). */
static int mailbox_op(lua_State *L, enum session_mbop op, const char *verb)
{
    conn_check(L, 1);
    const char *name = luaL_checkstring(L, 2);
    struct lhandle *h = handle_new(L, H_SIMPLE, verb, name, NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_mailbox_op_start(s, op, name));
    return 1;
}

static int conn_create(lua_State *L) { return mailbox_op(L, SESSION_CREATE, "CREATE"); }
static int conn_delete(lua_State *L) { return mailbox_op(L, SESSION_DELETE, "DELETE"); }
static int conn_subscribe(lua_State *L) { return mailbox_op(L, SESSION_SUBSCRIBE, "SUBSCRIBE"); }
static int conn_unsubscribe(lua_State *L)
{
    return mailbox_op(L, SESSION_UNSUBSCRIBE, "UNSUBSCRIBE");
}

/* conn:rename(old, new): pushes 1, a handle (result true). */
static int conn_rename(lua_State *L)
{
    conn_check(L, 1);
    const char *from = luaL_checkstring(L, 2);
    const char *to = luaL_checkstring(L, 3);
    struct lhandle *h = handle_new(L, H_SIMPLE, "RENAME", to, from);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_rename_start(s, from, to));
    return 1;
}

/* conn:noop(): pushes 1, a handle (result true). */
static int conn_noop(lua_State *L)
{
    conn_check(L, 1);
    struct lhandle *h = handle_new(L, H_SIMPLE, "NOOP", NULL, NULL);
    struct session *s = handle_session(L, h);
    if (s)
        handle_attach(L, h, session_noop_start(s));
    return 1;
}

const luaL_Reg conn_command_methods[] = {
    { "select", conn_select }, { "search", conn_search }, { "fetch", conn_fetch },
    { "store", conn_store }, { "copy", conn_copy }, { "move", conn_move },
    { "expunge", conn_expunge }, { "expunge_all", conn_expunge_all },
    { "close_mailbox", conn_close_mailbox },
    { "unselect", conn_unselect }, { "append", conn_append }, { "list", conn_list },
    { "lsub", conn_lsub }, { "status", conn_status }, { "create", conn_create },
    { "delete", conn_delete }, { "rename", conn_rename }, { "subscribe", conn_subscribe },
    { "unsubscribe", conn_unsubscribe }, { "noop", conn_noop }, { "transfer", conn_transfer },
    { NULL, NULL },
};
