/* lua_fetch.c — what conn:fetch makes of message bodies: a big literal becomes a Lua string made
 * once and filled as its bytes arrive; {"text"}, {"match", re} and {"save", path} read a message
 * (or a part) of any size in bounded memory — its readable text spooled, searched piece by
 * piece, or written to a file. Small literals come whole and go the same ways. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lua_conn.h"
#include "lua_message.h"
#include "mime.h"
#include "regex.h"
#include "spool.h"
#include "utf8.h"

#define LFETCH_TYPE "imapscript.fetchstate"
#define TEXT_MEM (1024 * 1024)      /* a text's bytes kept in memory before its spool file */
#define TAKEN_MAX 16                /* big literals of one message taken in parts */
/* Strings from this size on are made once and filled in place (never an interned short one). */
#define BIG_STRING (64 * 1024)

enum lf_kind { LF_DROP, LF_STRING, LF_BODY, LF_FILE };

/* A message's readable text and a regex search of it, as its bytes come: channel 0 holds the
 * text/plain parts' text, 1 the text/html ones'; which is the message's is known at the end. */
struct lbody {
    struct mime_text *mt;
    bool text;
    uint64_t text_max;              /* 0: all */
    struct spool sp[2];
    char last[2][4];                /* the last bytes kept, to cut a cut character */
    bool text_cut[2];
    struct regex *re;
    uint64_t match_max;
    struct regex_stream *rs[2];
    int found[2];                   /* 1 matched, 0 not (yet), < 0 error */
    uint64_t searched[2];
    bool match_cut[2];
    bool plain;                     /* at the end: the message has a text/plain part */
};

/* A literal of the message being read that was taken in parts. */
struct taken {
    enum lf_kind kind;
    int ref;                        /* LF_STRING: registry ref of its string */
};

struct lfetch {
    /* what the items ask */
    bool raw;                       /* BODY[] as a string */
    bool text;
    uint64_t text_max;
    struct regex *re;
    uint64_t match_max;
    char *save_path;
    char save_item[96];             /* the item saved, as the server names it: "BODY[]" */
    char *save_encoding;            /* undone here, or NULL */
    /* the literal being taken */
    enum lf_kind kind;
    char *str;
    uint64_t size, off;
    struct lbody *body;
    FILE *file;
    struct mime_decoder *dec;
    /* what the message being read got */
    struct taken taken[TAKEN_MAX];
    size_t ntaken;
    struct lbody *done_body;
    bool have_saved;
    uint64_t saved;
    char save_err[300];
};

/* ---- a message's text and match ------------------------------------------------------------ */

/* mime_text_fn: text for the spool and the search, as far as each wants it. */
static bool body_out(void *ud, bool html, const char *text, size_t len)
{
    struct lbody *b = ud;
    int c = html;
    if (html && mime_text_plain(b->mt))
        return false;               /* a text/plain part exists: the HTML is not the text */
    bool more = false;
    if (b->text && !b->text_cut[c]) {
        size_t take = len;
        uint64_t have = spool_size(&b->sp[c]);
        if (b->text_max && have + take > b->text_max) {
            take = (size_t)(b->text_max - have);
            b->text_cut[c] = true;
        }
        spool_add(&b->sp[c], text, take);
        for (size_t i = take > 4 ? take - 4 : 0; i < take; i++) {
            memmove(b->last[c], b->last[c] + 1, 3);
            b->last[c][3] = text[i];
        }
        more = more || !b->text_cut[c];
    }
    if (b->re && b->found[c] == 0 && !b->match_cut[c]) {
        size_t take = len;
        if (b->match_max && b->searched[c] + take > b->match_max) {
            take = (size_t)(b->match_max - b->searched[c]);
            b->match_cut[c] = true;
        }
        b->searched[c] += take;
        b->found[c] = regex_stream_feed(b->rs[c], text, take);
        more = more || (b->found[c] == 0 && !b->match_cut[c]);
    }
    return more;
}

static void body_free(struct lbody *b)
{
    if (!b)
        return;
    mime_text_free(b->mt);
    for (int c = 0; c < 2; c++) {
        spool_free(&b->sp[c]);
        regex_stream_free(b->rs[c]);
    }
    free(b);
}

static struct lbody *body_new(const struct lfetch *fx)
{
    struct lbody *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->text = fx->text;
    b->text_max = fx->text_max;
    b->re = fx->re;
    b->match_max = fx->match_max;
    for (int c = 0; c < 2; c++) {
        spool_init(&b->sp[c], TEXT_MEM);
        if (b->re && !(b->rs[c] = regex_stream_new(b->re))) {
            body_free(b);
            return NULL;
        }
    }
    if (!(b->mt = mime_text_new(false, body_out, b))) {
        body_free(b);
        return NULL;
    }
    return b;
}

static void body_end(struct lbody *b)
{
    mime_text_end(b->mt);
    b->plain = mime_text_plain(b->mt);
    int c = b->plain ? 0 : 1;
    if (b->re && b->found[c] == 0)
        b->found[c] = regex_stream_end(b->rs[c]);
}

/* The whole message at once (a small literal, or the string "raw" made). */
static struct lbody *body_of(const struct lfetch *fx, const char *msg, size_t len)
{
    struct lbody *b = body_new(fx);
    if (b) {
        mime_text_feed(b->mt, msg, len);
        body_end(b);
    }
    return b;
}

/* ---- Lua strings made once --------------------------------------------------------------- */

/* Protected: (bytes, n) -> the string of those n bytes. */
static int push_copy(lua_State *L)
{
    lua_pushlstring(L, lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
    return 1;
}

/* Pushes a new string of n >= BIG_STRING zero bytes and returns its bytes, to be filled before
 * any Lua code sees it. Lua 5.4 makes strings only by copying, which would hold a big text
 * twice: a long string (never interned, its hash made only when first needed) is copied from
 * the zero page, which costs no memory, and written in place. NULL (nothing pushed) when out
 * of memory. */
static char *string_in_place(lua_State *L, size_t n)
{
    void *zeros = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (zeros == MAP_FAILED || !lua_checkstack(L, 4))
        return NULL;
    lua_pushcfunction(L, push_copy);
    lua_pushlightuserdata(L, zeros);
    lua_pushinteger(L, (lua_Integer)n);
    int rc = lua_pcall(L, 2, 1, 0);
    munmap(zeros, n);
    if (rc != LUA_OK) {
        lua_pop(L, 1);
        return NULL;
    }
    return (char *)lua_tostring(L, -1);
}

/* A string of n bytes to fill as a literal arrives, referenced from the registry (*ref); NULL
 * when it cannot be made now (no Lua thread runs the loop, a small one, out of memory). */
static char *new_string(size_t n, int *ref)
{
    lua_State *L = conn_driver();
    if (!L || n < BIG_STRING)
        return NULL;
    char *p = string_in_place(L, n);
    if (p)
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return p;
}

/* ---- saving ---------------------------------------------------------------------------- */

static void save_error(struct lfetch *fx, const char *what)
{
    if (!fx->save_err[0])
        snprintf(fx->save_err, sizeof fx->save_err, "%s: %s", fx->save_path, what);
}

static bool save_open(struct lfetch *fx)
{
    fx->have_saved = true;
    fx->saved = 0;
    fx->save_err[0] = '\0';
    fx->file = fopen(fx->save_path, "wb");
    if (!fx->file) {
        save_error(fx, strerror(errno));
        return false;
    }
    if (fx->save_encoding && !(fx->dec = mime_decoder_new(fx->save_encoding))) {
        save_error(fx, "out of memory");
        fclose(fx->file);
        fx->file = NULL;
        return false;
    }
    return true;
}

static void save_write(struct lfetch *fx, const char *p, size_t n, bool final)
{
    if (!fx->file)
        return;
    const char *out = p;
    size_t outlen = n;
    if (fx->dec && mime_decoder_feed(fx->dec, p, n, final, &out, &outlen) < 0) {
        save_error(fx, "out of memory");
        return;
    }
    if (outlen && fwrite(out, 1, outlen, fx->file) != outlen)
        save_error(fx, strerror(errno));
    fx->saved += outlen;
}

static void save_close(struct lfetch *fx)
{
    save_write(fx, "", 0, true);
    if (fx->file && fclose(fx->file) != 0)
        save_error(fx, strerror(errno));
    fx->file = NULL;
    mime_decoder_free(fx->dec);
    fx->dec = NULL;
}

/* ---- literals as they arrive ------------------------------------------------------------- */

/* Where the bytes of item go. */
static enum lf_kind consumer(const struct lfetch *fx, const char *item)
{
    bool whole = strcmp(item, "BODY[]") == 0;
    if (whole && fx->raw)
        return LF_STRING;
    if (fx->save_path && strcmp(item, fx->save_item) == 0)
        return LF_FILE;
    if (whole && (fx->text || fx->re))
        return LF_BODY;
    return LF_STRING;
}

/* session_literal_fn of a conn:fetch handle. */
int lfetch_literal(void *ud, const struct session_literal *l)
{
    struct lhandle *h = ud;
    struct lfetch *fx = h->fx;
    if (l->begin) {
        enum lf_kind k = LF_DROP;   /* a handle nobody can read: taken, and let go */
        int ref = LUA_NOREF;
        if (!(h->dead || h->released || h->lc->closing)) {
            if (fx->ntaken == TAKEN_MAX)
                return 0;
            k = consumer(fx, l->item);
            if (k == LF_STRING && !(fx->str = new_string((size_t)l->size, &ref)))
                return 0;           /* assembled instead */
            if (k == LF_BODY && !(fx->body = body_new(fx)))
                return 0;
            if (k == LF_FILE && !save_open(fx))
                k = LF_DROP;
            fx->taken[fx->ntaken].kind = k;
            fx->taken[fx->ntaken++].ref = ref;
        }
        fx->kind = k;
        fx->size = l->size;
        fx->off = 0;
        return 1;
    }
    switch (fx->kind) {
    case LF_STRING:
        memcpy(fx->str + fx->off, l->data, l->len);
        break;
    case LF_BODY:
        mime_text_feed(fx->body->mt, l->data, l->len);
        break;
    case LF_FILE:
        save_write(fx, l->data, l->len, false);
        break;
    default:
        break;
    }
    fx->off += l->len;
    if (l->left == 0) {             /* complete */
        if (fx->kind == LF_BODY) {
            body_end(fx->body);
            body_free(fx->done_body);
            fx->done_body = fx->body;
            fx->body = NULL;
        } else if (fx->kind == LF_FILE) {
            save_close(fx);
        }
        fx->str = NULL;
        fx->kind = LF_DROP;
    }
    return 0;
}

/* ---- the message table ---------------------------------------------------------------- */

/* Sets t.text (made once, in place when big) and t.text_truncated; t on top. */
static void push_text(lua_State *L, struct lbody *b)
{
    int c = b->plain ? 0 : 1;
    struct spool *sp = &b->sp[c];
    uint64_t n = spool_size(sp);
    if (b->text_cut[c])             /* a cut inside a character loses its first bytes */
        n -= utf8_cut_tail(b->last[c] + 4 - (n < 4 ? n : 4), n < 4 ? (size_t)n : 4);
    char *p = NULL;
    if (n >= BIG_STRING && (p = string_in_place(L, (size_t)n)) != NULL) {
        if (spool_read(sp, p, n) < 0) {
            lua_pop(L, 1);
            lua_pushliteral(L, "");
        }
    } else {
        luaL_Buffer lb;
        char *q = luaL_buffinitsize(L, &lb, (size_t)n);
        luaL_pushresultsize(&lb, spool_read(sp, q, n) < 0 ? 0 : (size_t)n);
    }
    lua_setfield(L, -2, "text");
    if (b->text_cut[c]) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "text_truncated");
    }
}

/* Sets t.match (and match_error, match_truncated, match_window); t on top. */
static void push_match(lua_State *L, struct lbody *b)
{
    int c = b->plain ? 0 : 1;
    if (b->found[c] < 0) {
        char msg[300];
        regex_error_text(b->found[c], msg, sizeof msg);
        lua_pushstring(L, msg);
        lua_setfield(L, -2, "match_error");
    }
    lua_pushboolean(L, b->found[c] == 1);
    lua_setfield(L, -2, "match");
    if (b->match_cut[c] && b->found[c] != 1) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "match_truncated");
    }
    if (b->rs[c] && regex_stream_cut(b->rs[c]) && b->found[c] != 1) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "match_window");
    }
}

/* "NAME[section]" of a decoded item, as the server wrote it. */
static void item_text(const struct imap_fetch_item *it, char *out, size_t len)
{
    snprintf(out, len, "%s[%s]", it->name, it->section ? it->section : "");
}

/* The bytes of a body item, whole: one that came whole, or the string made of one that came
 * in parts. NULL for others. Leaves the string pushed when it pushed one (*pushed). */
static const char *item_bytes(lua_State *L, const struct imap_value *v, const struct taken *t,
                              size_t *len, bool *pushed)
{
    *pushed = false;
    if (v->type == IMAP_STRING) {
        *len = v->len;
        return v->u.str;
    }
    if (v->type != IMAP_STREAMED || !t || t->kind != LF_STRING)
        return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    *pushed = true;
    return lua_tolstring(L, -1, len);
}

/* The message of f is complete: its table (on top) gets what its literals made — the strings
 * of those taken in parts, its text, match, saved — and the handle lets go of them. */
void lfetch_complete(lua_State *L, struct lhandle *h, const struct imap_fetch *f)
{
    struct lfetch *fx = h->fx;
    size_t k = 0;
    for (size_t i = 0; L && i < f->nitems; i++) {
        const struct imap_fetch_item *it = &f->items[i];
        const struct imap_value *v = it->value;
        const struct taken *t = v && v->type == IMAP_STREAMED && k < fx->ntaken
                              ? &fx->taken[k++] : NULL;
        if (!v || !it->section)
            continue;
        char item[96];
        item_text(it, item, sizeof item);
        bool whole = strcmp(item, "BODY[]") == 0 && it->origin < 0, pushed;
        size_t len;
        if (t && t->kind == LF_STRING) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
            lua_message_setsection(L, it->name, it->section, it->origin);
        }
        const char *bytes = item_bytes(L, v, t, &len, &pushed);
        if (bytes && whole && (fx->text || fx->re) && (fx->raw || v->type == IMAP_STRING)) {
            body_free(fx->done_body);
            fx->done_body = body_of(fx, bytes, len);
        }
        if (bytes && fx->save_path && it->origin < 0 && strcmp(item, fx->save_item) == 0 &&
            save_open(fx)) {
            save_write(fx, bytes, len, false);
            save_close(fx);
        }
        if (pushed)
            lua_pop(L, 1);
    }
    if (L && fx->done_body) {
        if (fx->text)
            push_text(L, fx->done_body);
        if (fx->re)
            push_match(L, fx->done_body);
    }
    if (L && fx->have_saved) {
        if (fx->save_err[0]) {
            lua_pushstring(L, fx->save_err);
            lua_setfield(L, -2, "save_error");
        } else {
            lua_pushinteger(L, (lua_Integer)fx->saved);
            lua_setfield(L, -2, "saved");
        }
    }
    lfetch_reset(L ? L : conn_driver(), fx);
}

/* Lets go of what the message being read holds (strings, text, a file left open). */
void lfetch_reset(lua_State *L, struct lfetch *fx)
{
    for (size_t i = 0; i < fx->ntaken; i++)
        if (fx->taken[i].ref != LUA_NOREF && L)
            luaL_unref(L, LUA_REGISTRYINDEX, fx->taken[i].ref);
    fx->ntaken = 0;
    body_free(fx->done_body);
    fx->done_body = NULL;
    body_free(fx->body);
    fx->body = NULL;
    if (fx->file)
        fclose(fx->file);
    fx->file = NULL;
    mime_decoder_free(fx->dec);
    fx->dec = NULL;
    fx->have_saved = false;
    fx->kind = LF_DROP;
    fx->str = NULL;
}

/* ---- the items ---------------------------------------------------------------------------- */

/* __gc of the state: frees what is left. */
static int lfetch_gc(lua_State *L)
{
    struct lfetch *fx = luaL_checkudata(L, 1, LFETCH_TYPE);
    lfetch_reset(L, fx);
    free(fx->save_path);
    free(fx->save_encoding);
    fx->save_path = fx->save_encoding = NULL;
    return 0;
}

struct lfetch *lfetch_new(lua_State *L)
{
    struct lfetch *fx = lua_newuserdatauv(L, sizeof *fx, 1);
    memset(fx, 0, sizeof *fx);
    if (luaL_newmetatable(L, LFETCH_TYPE)) {
        lua_pushcfunction(L, lfetch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return fx;
}

void lfetch_set_raw(struct lfetch *fx)
{
    fx->raw = true;
}

/* The optional byte count at index idx of the table at t (0 when absent). */
static uint64_t opt_count(lua_State *L, int t, int idx, const char *what)
{
    int ty = lua_rawgeti(L, t, idx);
    lua_Integer n = 0;
    if (ty != LUA_TNIL) {
        int ok;
        n = lua_tointegerx(L, -1, &ok);
        if (!ok || n < 0)
            lua_error_usage(L, "fetch: %s: the limit must be a byte count >= 0", what);
    }
    lua_pop(L, 1);
    return (uint64_t)n;
}

bool lfetch_item(lua_State *L, struct lfetch *fx, int fidx, int uv)
{
    lua_rawgeti(L, fidx, 1);
    const char *kind = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (!kind)
        return false;
    if (strcmp(kind, "text") == 0) {
        fx->text = true;
        fx->text_max = opt_count(L, fidx, 2, "text");
        lua_pushliteral(L, " BODY.PEEK[]");
        return true;
    }
    if (strcmp(kind, "match") == 0) {
        lua_rawgeti(L, fidx, 2);
        fx->re = lua_regex_check(L, -1);
        lua_setiuservalue(L, uv, 1);        /* kept alive with the state */
        fx->match_max = opt_count(L, fidx, 3, "match");
        lua_pushliteral(L, " BODY.PEEK[]");
        return true;
    }
    if (strcmp(kind, "save") != 0)
        return false;
    lua_rawgeti(L, fidx, 2);
    lua_rawgeti(L, fidx, 3);
    lua_rawgeti(L, fidx, 4);
    const char *path = lua_tostring(L, -3), *sec = lua_tostring(L, -2);
    const char *enc = lua_tostring(L, -1);
    if (!path || !*path)
        lua_error_usage(L, "fetch: {\"save\", path [, part [, encoding]]} wants a file name");
    size_t sl = sec ? strlen(sec) : 0;
    if (sec && (sl == 0 || sl > 60 || strspn(sec, "0123456789.") != sl || sec[0] == '.' ||
                sec[sl - 1] == '.' || strstr(sec, "..")))
        lua_error_usage(L, "fetch: save: \"%s\" is not a part number such as \"1.2\"", sec);
    bool binary = enc && strcmp(enc, "binary") == 0;
    free(fx->save_path);
    free(fx->save_encoding);
    fx->save_path = strdup(path);
    fx->save_encoding = enc && !binary ? strdup(enc) : NULL;
    if (!fx->save_path || (enc && !binary && !fx->save_encoding))
        luaL_error(L, "out of memory");
    snprintf(fx->save_item, sizeof fx->save_item, "%s[%s]", binary ? "BINARY" : "BODY",
             sec ? sec : "");
    lua_pop(L, 3);
    lua_pushfstring(L, " %s.PEEK[%s]", binary ? "BINARY" : "BODY", sec ? sec : "");
    return true;
}
