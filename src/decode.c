/* decode.c — typed views of parsed responses: FETCH, ENVELOPE, BODYSTRUCTURE, SEARCH/ESEARCH,
 * LIST/LSUB, STATUS, VANISHED. Strings point into the tree or the caller's arena; wrong shapes are errors. */
#include "decode.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX_DEPTH 100

static int derr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *type_name(const struct imap_value *v)
{
    static const char *names[] = { "NIL", "atom", "number", "string", "list", "streamed literal" };
    return v && v->type <= IMAP_STREAMED ? names[v->type] : "nothing";
}

static const char *number_text(struct arena *a, uint64_t n)
{
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%" PRIu64, n);
    return arena_strndup(a, tmp, (size_t)k);
}

/* nstring: NIL gives NULL; strings and atoms their text. 0, or -1 for another type. */
static int get_nstring(const struct imap_value *v, const char **out)
{
    if (v->type == IMAP_NIL) {
        *out = NULL;
        return 0;
    }
    if (v->type == IMAP_STRING || v->type == IMAP_ATOM) {
        *out = v->u.str;
        return 0;
    }
    return -1;
}

/* astring: strings, atoms, and numbers (as decimal text). */
static int get_astring(struct arena *a, const struct imap_value *v, const char **out)
{
    if (v->type == IMAP_STRING || v->type == IMAP_ATOM) {
        *out = v->u.str;
        return 0;
    }
    if (v->type == IMAP_NUMBER) {
        *out = number_text(a, v->u.num);
        return *out ? 0 : -1;
    }
    return -1;
}

static bool name_is(const char *name, const char *want)
{
    return name && strcasecmp(name, want) == 0;
}

/* ---- FETCH -------------------------------------------------------------------- */

/* "BODY[HEADER.FIELDS (A)]<0>" into name "BODY", section "HEADER.FIELDS (A)", origin 0. */
static int split_item(struct arena *a, const struct imap_value *v, struct imap_fetch_item *it,
                      char *err, size_t errlen)
{
    const char *s = v->u.str, *e = s + v->len;
    const char *lb = memchr(s, '[', v->len);
    it->origin = -1;
    it->section = NULL;
    if (!lb) {
        it->name = arena_strndup_upper(a, s, v->len);
        return it->name ? 0 : derr(err, errlen, "FETCH: out of memory");
    }
    const char *rb = e;
    while (rb > lb && rb[-1] != ']')
        rb--;
    if (rb == lb || lb == s)
        return derr(err, errlen, "FETCH: malformed item name \"%.80s\"", s);
    rb--;   /* at ']' */
    const char *t = rb + 1;
    if (t < e) {
        if (*t != '<' || e[-1] != '>' || e - t < 3)
            return derr(err, errlen, "FETCH: malformed item name \"%.80s\"", s);
        int64_t o = 0;
        for (const char *d = t + 1; d < e - 1; d++) {
            if (*d < '0' || *d > '9' || o > (INT64_MAX - 9) / 10)
                return derr(err, errlen, "FETCH: bad partial origin in \"%.80s\"", s);
            o = o * 10 + (*d - '0');
        }
        it->origin = o;
    }
    it->name = arena_strndup_upper(a, s, (size_t)(lb - s));
    it->section = arena_strndup(a, lb + 1, (size_t)(rb - lb - 1));
    if (!it->name || !it->section)
        return derr(err, errlen, "FETCH: out of memory");
    return 0;
}

int decode_fetch(const struct imap_response *r, struct arena *a, struct imap_fetch *out,
                 char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!r || r->kind != IMAP_UNTAGGED || !name_is(r->name, "FETCH") || !r->has_number)
        return derr(err, errlen, "not a FETCH response");
    out->seq = r->number;
    if (r->nargs != 1 || r->args[0].type != IMAP_LIST)
        return derr(err, errlen, "FETCH %" PRIu64 ": expected one list of items", r->number);
    const struct imap_value *l = &r->args[0];
    if (l->len % 2)
        return derr(err, errlen, "FETCH %" PRIu64 ": item without a value", r->number);
    size_t n = l->len / 2;
    if (n) {
        out->items = arena_alloc(a, n * sizeof *out->items);
        if (!out->items)
            return derr(err, errlen, "FETCH: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const struct imap_value *k = &l->u.items[2 * i], *v = k + 1;
        struct imap_fetch_item *it = &out->items[i];
        if (k->type != IMAP_ATOM)
            return derr(err, errlen, "FETCH %" PRIu64 ": expected an item name, got %s",
                        r->number, type_name(k));
        if (split_item(a, k, it, err, errlen) < 0)
            return -1;
        it->value = v;
        out->nitems = i + 1;
        if (it->section)
            continue;
        const char *nm = it->name;
        if (!strcmp(nm, "UID")) {
            if (v->type != IMAP_NUMBER)
                return derr(err, errlen, "FETCH %" PRIu64 ": UID is a %s", r->number, type_name(v));
            out->uid = v->u.num;
        } else if (!strcmp(nm, "MODSEQ")) {
            if (v->type == IMAP_LIST && v->len == 1 && v->u.items[0].type == IMAP_NUMBER)
                out->modseq = v->u.items[0].u.num;
            else
                return derr(err, errlen, "FETCH %" PRIu64 ": MODSEQ is not (number)", r->number);
        } else if (!strcmp(nm, "RFC822.SIZE")) {
            if (v->type != IMAP_NUMBER)
                return derr(err, errlen, "FETCH %" PRIu64 ": RFC822.SIZE is a %s", r->number,
                            type_name(v));
            out->size = v->u.num;
        } else if (!strcmp(nm, "INTERNALDATE")) {
            if (v->type != IMAP_STRING)
                return derr(err, errlen, "FETCH %" PRIu64 ": INTERNALDATE is a %s", r->number,
                            type_name(v));
            out->internaldate = v->u.str;
        } else if (!strcmp(nm, "FLAGS")) {
            if (v->type != IMAP_LIST)
                return derr(err, errlen, "FETCH %" PRIu64 ": FLAGS is a %s", r->number, type_name(v));
            out->flags = v;
        }
    }
    return 0;
}

/* Section text compared case-insensitively, ignoring quotes and spacing around parens. */
static int sect_next(const char **pp, int *prev)
{
    const char *p = *pp;
    for (;;) {
        char c = *p;
        if (!c) {
            *pp = p;
            return -1;
        }
        p++;
        if (c == '"')
            continue;
        if (c == ' ' || c == '\t') {
            while (*p == ' ' || *p == '\t' || *p == '"')
                p++;
            if (*prev == 0 || *prev == '(' || *p == ')' || *p == '\0')
                continue;
            *pp = p;
            *prev = ' ';
            return ' ';
        }
        int u = (c >= 'a' && c <= 'z') ? c - 32 : (unsigned char)c;
        *pp = p;
        *prev = u;
        return u;
    }
}

static bool section_equal(const char *a, const char *b)
{
    if (strcasecmp(a, b) == 0)
        return true;
    int pa = 0, pb = 0;
    for (;;) {
        int ca = sect_next(&a, &pa), cb = sect_next(&b, &pb);
        if (ca != cb)
            return false;
        if (ca < 0)
            return true;
    }
}

const struct imap_fetch_item *fetch_item(const struct imap_fetch *f, const char *name,
                                         const char *section)
{
    if (!f || !name)
        return NULL;
    for (size_t i = 0; i < f->nitems; i++) {
        const struct imap_fetch_item *it = &f->items[i];
        if (strcasecmp(it->name, name) != 0)
            continue;
        if (!section ? !it->section : it->section && section_equal(it->section, section))
            return it;
    }
    return NULL;
}

/* ---- ENVELOPE --------------------------------------------------------------------- */

static int decode_addresses(const struct imap_value *v, struct arena *a, struct imap_address **out,
                            size_t *n, const char *field, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (v->type == IMAP_NIL)
        return 0;
    if (v->type != IMAP_LIST)
        return derr(err, errlen, "ENVELOPE: %s is a %s, not a list", field, type_name(v));
    if (!v->len)
        return 0;
    struct imap_address *ad = arena_alloc(a, v->len * sizeof *ad);
    if (!ad)
        return derr(err, errlen, "ENVELOPE: out of memory");
    for (size_t i = 0; i < v->len; i++) {
        const struct imap_value *x = &v->u.items[i];
        if (x->type != IMAP_LIST || x->len != 4 || get_nstring(&x->u.items[0], &ad[i].name) < 0 ||
            get_nstring(&x->u.items[1], &ad[i].adl) < 0 ||
            get_nstring(&x->u.items[2], &ad[i].mailbox) < 0 ||
            get_nstring(&x->u.items[3], &ad[i].host) < 0)
            return derr(err, errlen, "ENVELOPE: %s address %zu is not (name adl mailbox host)",
                        field, i + 1);
    }
    *out = ad;
    *n = v->len;
    return 0;
}

int decode_envelope(const struct imap_value *v, struct arena *a, struct imap_envelope *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!v || v->type != IMAP_LIST || v->len != 10)
        return derr(err, errlen, "ENVELOPE: expected a list of 10 fields, got %s%s",
                    v && v->type == IMAP_LIST ? "a list of another length" : "a ",
                    v && v->type == IMAP_LIST ? "" : type_name(v));
    const struct imap_value *f = v->u.items;
    if (get_nstring(&f[0], &out->date) < 0 || get_nstring(&f[1], &out->subject) < 0 ||
        get_nstring(&f[8], &out->in_reply_to) < 0 || get_nstring(&f[9], &out->message_id) < 0)
        return derr(err, errlen, "ENVELOPE: date, subject, in-reply-to and message-id must be strings");
    if (decode_addresses(&f[2], a, &out->from, &out->nfrom, "from", err, errlen) < 0 ||
        decode_addresses(&f[3], a, &out->sender, &out->nsender, "sender", err, errlen) < 0 ||
        decode_addresses(&f[4], a, &out->reply_to, &out->nreply_to, "reply-to", err, errlen) < 0 ||
        decode_addresses(&f[5], a, &out->to, &out->nto, "to", err, errlen) < 0 ||
        decode_addresses(&f[6], a, &out->cc, &out->ncc, "cc", err, errlen) < 0 ||
        decode_addresses(&f[7], a, &out->bcc, &out->nbcc, "bcc", err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- BODYSTRUCTURE ------------------------------------------------------------------- */

/* NIL or (name value ...) into name, value pairs; NIL values become "". */
static int decode_params(const struct imap_value *v, struct arena *a, const char ***out, size_t *n,
                         const char *what, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (v->type == IMAP_NIL)
        return 0;
    if (v->type != IMAP_LIST || v->len % 2)
        return derr(err, errlen, "BODYSTRUCTURE: %s parameters are not NIL or (name value ...)", what);
    if (!v->len)
        return 0;
    const char **p = arena_alloc(a, v->len * sizeof *p);
    if (!p)
        return derr(err, errlen, "BODYSTRUCTURE: out of memory");
    for (size_t i = 0; i < v->len; i++) {
        if (get_astring(a, &v->u.items[i], &p[i]) < 0) {
            if (v->u.items[i].type != IMAP_NIL || i % 2 == 0)
                return derr(err, errlen, "BODYSTRUCTURE: %s parameter %zu is a %s", what, i / 2 + 1,
                            type_name(&v->u.items[i]));
            p[i] = "";
        }
    }
    *out = p;
    *n = v->len / 2;
    return 0;
}

/* Extension data from items[i]: md5 (single part only), disposition, language, location. */
static int decode_body_ext(const struct imap_value *it, size_t i, size_t n, bool single,
                           struct arena *a, struct imap_body *b, char *err, size_t errlen)
{
    if (single && i < n) {
        if (get_nstring(&it[i], &b->md5) < 0)
            return derr(err, errlen, "BODYSTRUCTURE: MD5 is a %s", type_name(&it[i]));
        i++;
    }
    if (i < n) {
        const struct imap_value *d = &it[i++];
        if (d->type == IMAP_LIST) {
            if (d->len != 2 || get_nstring(&d->u.items[0], &b->disposition) < 0 || !b->disposition)
                return derr(err, errlen, "BODYSTRUCTURE: disposition is not (type params)");
            if (decode_params(&d->u.items[1], a, &b->disposition_params, &b->ndisposition_params,
                              "disposition", err, errlen) < 0)
                return -1;
        } else if (d->type != IMAP_NIL) {
            return derr(err, errlen, "BODYSTRUCTURE: disposition is a %s", type_name(d));
        }
    }
    if (i < n) {
        const struct imap_value *l = &it[i++];
        if (l->type == IMAP_STRING || l->type == IMAP_ATOM) {
            b->languages = arena_alloc(a, sizeof *b->languages);
            if (!b->languages)
                return derr(err, errlen, "BODYSTRUCTURE: out of memory");
            b->languages[0] = l->u.str;
            b->nlanguages = 1;
        } else if (l->type == IMAP_LIST && l->len) {
            b->languages = arena_alloc(a, l->len * sizeof *b->languages);
            if (!b->languages)
                return derr(err, errlen, "BODYSTRUCTURE: out of memory");
            for (size_t k = 0; k < l->len; k++)
                if (get_astring(a, &l->u.items[k], &b->languages[k]) < 0)
                    return derr(err, errlen, "BODYSTRUCTURE: language %zu is a %s", k + 1,
                                type_name(&l->u.items[k]));
            b->nlanguages = l->len;
        } else if (l->type != IMAP_NIL && l->type != IMAP_LIST) {
            return derr(err, errlen, "BODYSTRUCTURE: language is a %s", type_name(l));
        }
    }
    if (i < n && get_nstring(&it[i], &b->location) < 0)
        return derr(err, errlen, "BODYSTRUCTURE: location is a %s", type_name(&it[i]));
    /* Anything further is body-extension data for future use: ignored. */
    return 0;
}

static int body_string(struct arena *a, const struct imap_value *v, const char **out,
                       const char *what, char *err, size_t errlen)
{
    if (v->type != IMAP_STRING && v->type != IMAP_ATOM)
        return derr(err, errlen, "BODYSTRUCTURE: %s is a %s, not a string", what, type_name(v));
    *out = arena_strndup_upper(a, v->u.str, v->len);
    return *out ? 0 : derr(err, errlen, "BODYSTRUCTURE: out of memory");
}

static int body_parse(const struct imap_value *v, struct arena *a, struct imap_body *b,
                      unsigned depth, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (depth > BODY_MAX_DEPTH)
        return derr(err, errlen, "BODYSTRUCTURE: nested too deeply");
    if (!v || v->type != IMAP_LIST || v->len == 0)
        return derr(err, errlen, "BODYSTRUCTURE: expected a non-empty list, got %s", type_name(v));
    const struct imap_value *it = v->u.items;
    size_t n = v->len;
    if (it[0].type == IMAP_LIST) {
        size_t k = 0;
        while (k < n && it[k].type == IMAP_LIST)
            k++;
        b->parts = arena_alloc(a, k * sizeof *b->parts);
        if (!b->parts)
            return derr(err, errlen, "BODYSTRUCTURE: out of memory");
        for (size_t i = 0; i < k; i++) {
            if (body_parse(&it[i], a, &b->parts[i], depth + 1, err, errlen) < 0)
                return -1;
            b->nparts = i + 1;
        }
        b->type = "MULTIPART";
        if (k == n)
            return derr(err, errlen, "BODYSTRUCTURE: multipart without a subtype");
        if (body_string(a, &it[k], &b->subtype, "multipart subtype", err, errlen) < 0)
            return -1;
        size_t i = k + 1;
        if (i < n && decode_params(&it[i++], a, &b->params, &b->nparams, "multipart", err, errlen) < 0)
            return -1;
        return decode_body_ext(it, i, n, false, a, b, err, errlen);
    }
    if (n < 7)
        return derr(err, errlen, "BODYSTRUCTURE: a part needs 7 fields, got %zu", n);
    if (body_string(a, &it[0], &b->type, "type", err, errlen) < 0 ||
        body_string(a, &it[1], &b->subtype, "subtype", err, errlen) < 0 ||
        decode_params(&it[2], a, &b->params, &b->nparams, "body", err, errlen) < 0)
        return -1;
    if (get_nstring(&it[3], &b->id) < 0 || get_nstring(&it[4], &b->description) < 0 ||
        get_nstring(&it[5], &b->encoding) < 0)
        return derr(err, errlen, "BODYSTRUCTURE: id, description and encoding must be strings");
    if (it[6].type != IMAP_NUMBER)
        return derr(err, errlen, "BODYSTRUCTURE: size is a %s", type_name(&it[6]));
    b->size = it[6].u.num;
    size_t i = 7;
    if (!strcmp(b->type, "MESSAGE") && (!strcmp(b->subtype, "RFC822") ||
                                        !strcmp(b->subtype, "GLOBAL"))) {
        if (n < 10)
            return derr(err, errlen, "BODYSTRUCTURE: message/%s needs envelope, body and lines",
                        b->subtype);
        b->envelope = arena_alloc(a, sizeof *b->envelope);
        b->parts = arena_alloc(a, sizeof *b->parts);
        if (!b->envelope || !b->parts)
            return derr(err, errlen, "BODYSTRUCTURE: out of memory");
        if (decode_envelope(&it[7], a, b->envelope, err, errlen) < 0 ||
            body_parse(&it[8], a, b->parts, depth + 1, err, errlen) < 0)
            return -1;
        b->nparts = 1;
        if (it[9].type != IMAP_NUMBER)
            return derr(err, errlen, "BODYSTRUCTURE: message line count is a %s", type_name(&it[9]));
        b->lines = it[9].u.num;
        i = 10;
    } else if (!strcmp(b->type, "TEXT")) {
        if (n < 8 || it[7].type != IMAP_NUMBER)
            return derr(err, errlen, "BODYSTRUCTURE: text part without a line count");
        b->lines = it[7].u.num;
        i = 8;
    }
    return decode_body_ext(it, i, n, true, a, b, err, errlen);
}

int decode_body(const struct imap_value *v, struct arena *a, struct imap_body *out,
                char *err, size_t errlen)
{
    return body_parse(v, a, out, 0, err, errlen);
}

/* ---- SEARCH / ESEARCH ---------------------------------------------------------------- */

static int search_plain(const struct imap_response *r, struct arena *a, struct imap_search *out,
                        char *err, size_t errlen)
{
    size_t n = r->nargs;
    if (n && r->args[n - 1].type == IMAP_LIST) {
        const struct imap_value *m = &r->args[n - 1];
        if (m->len != 2 || !imap_value_is(&m->u.items[0], "MODSEQ") ||
            m->u.items[1].type != IMAP_NUMBER)
            return derr(err, errlen, "SEARCH: expected (MODSEQ number) at the end");
        out->modseq = m->u.items[1].u.num;
        n--;
    }
    if (!n)
        return 0;
    /* Up to 20 digits, ':' and ',' per number; runs n, n+1, ... become "n:m". */
    char *s = arena_alloc(a, n * 42 + 1);
    if (!s)
        return derr(err, errlen, "SEARCH: out of memory");
    size_t k = 0;
    out->min = UINT64_MAX;
    for (size_t i = 0; i < n;) {
        if (r->args[i].type != IMAP_NUMBER)
            return derr(err, errlen, "SEARCH: result %zu is a %s, not a number", i + 1,
                        type_name(&r->args[i]));
        uint64_t first = r->args[i].u.num, last = first;
        size_t j = i + 1;
        while (j < n && r->args[j].type == IMAP_NUMBER && last != UINT64_MAX &&
               r->args[j].u.num == last + 1)
            last = r->args[j++].u.num;
        for (size_t x = i; x < j; x++) {
            uint64_t u = r->args[x].u.num;
            if (u < out->min)
                out->min = u;
            if (u > out->max)
                out->max = u;
        }
        if (k)
            s[k++] = ',';
        if (first == last)
            k += (size_t)sprintf(s + k, "%" PRIu64, first);
        else
            k += (size_t)sprintf(s + k, "%" PRIu64 ":%" PRIu64, first, last);
        i = j;
    }
    s[k] = '\0';
    out->all = s;
    out->count = n;
    out->has_count = true;
    return 0;
}

static int esearch_number(const struct imap_value *v, uint64_t *out, const char *what,
                          char *err, size_t errlen)
{
    if (v->type != IMAP_NUMBER)
        return derr(err, errlen, "ESEARCH: %s is a %s, not a number", what, type_name(v));
    *out = v->u.num;
    return 0;
}

int decode_search(const struct imap_response *r, struct arena *a, struct imap_search *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!r || r->kind != IMAP_UNTAGGED)
        return derr(err, errlen, "not a SEARCH or ESEARCH response");
    if (name_is(r->name, "SEARCH"))
        return search_plain(r, a, out, err, errlen);
    if (!name_is(r->name, "ESEARCH"))
        return derr(err, errlen, "not a SEARCH or ESEARCH response");
    size_t i = 0, n = r->nargs;
    const struct imap_value *g = r->args;
    if (i < n && g[i].type == IMAP_LIST) {
        const struct imap_value *c = &g[i++];
        if (c->len != 2 || !imap_value_is(&c->u.items[0], "TAG") ||
            get_astring(a, &c->u.items[1], &out->tag) < 0)
            return derr(err, errlen, "ESEARCH: expected (TAG \"tag\")");
    }
    if (i < n && imap_value_is(&g[i], "UID")) {
        out->uid = true;
        i++;
    }
    for (; i < n; i += 2) {
        if (g[i].type != IMAP_ATOM)
            return derr(err, errlen, "ESEARCH: expected a result name, got %s", type_name(&g[i]));
        if (i + 1 >= n)
            return derr(err, errlen, "ESEARCH: %s without a value", g[i].u.str);
        const struct imap_value *v = &g[i + 1];
        if (imap_value_is(&g[i], "ALL")) {
            if (v->type == IMAP_NUMBER)
                out->all = number_text(a, v->u.num);
            else if (v->type == IMAP_ATOM)
                out->all = v->u.str;
            else
                return derr(err, errlen, "ESEARCH: ALL is a %s", type_name(v));
            if (!out->all)
                return derr(err, errlen, "ESEARCH: out of memory");
        } else if (imap_value_is(&g[i], "MIN")) {
            if (esearch_number(v, &out->min, "MIN", err, errlen) < 0)
                return -1;
        } else if (imap_value_is(&g[i], "MAX")) {
            if (esearch_number(v, &out->max, "MAX", err, errlen) < 0)
                return -1;
        } else if (imap_value_is(&g[i], "COUNT")) {
            if (esearch_number(v, &out->count, "COUNT", err, errlen) < 0)
                return -1;
            out->has_count = true;
        } else if (imap_value_is(&g[i], "MODSEQ")) {
            if (esearch_number(v, &out->modseq, "MODSEQ", err, errlen) < 0)
                return -1;
        }
        /* Other return data (PARTIAL, RELEVANCY, ...) is skipped with its value. */
    }
    return 0;
}

/* ---- LIST / LSUB, STATUS, VANISHED --------------------------------------------------- */

int decode_list(const struct imap_response *r, struct arena *a, struct imap_list_entry *out,
                char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!r || r->kind != IMAP_UNTAGGED ||
        !(name_is(r->name, "LIST") || name_is(r->name, "LSUB") || name_is(r->name, "XLIST")))
        return derr(err, errlen, "not a LIST or LSUB response");
    if (r->nargs < 3)
        return derr(err, errlen, "%s: expected flags, delimiter and name", r->name);
    const struct imap_value *f = &r->args[0], *d = &r->args[1], *nm = &r->args[2];
    if (f->type != IMAP_LIST)
        return derr(err, errlen, "%s: flags are a %s, not a list", r->name, type_name(f));
    for (size_t i = 0; i < f->len; i++)
        if (f->u.items[i].type != IMAP_ATOM)
            return derr(err, errlen, "%s: flag %zu is a %s", r->name, i + 1,
                        type_name(&f->u.items[i]));
    out->flags = f;
    if (d->type == IMAP_STRING && d->len == 1)
        out->delimiter = d->u.str[0];
    else if (d->type != IMAP_NIL)
        return derr(err, errlen, "%s: delimiter is not NIL or one character", r->name);
    if (get_astring(a, nm, &out->name) < 0)
        return derr(err, errlen, "%s: mailbox name is a %s", r->name, type_name(nm));
    if (!out->name)
        return derr(err, errlen, "%s: out of memory", r->name);
    return 0;
}

int decode_status(const struct imap_response *r, struct arena *a, struct imap_status_data *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->messages = out->recent = out->uidnext = out->uidvalidity = out->unseen =
        out->highestmodseq = out->size = -1;
    if (!r || r->kind != IMAP_UNTAGGED || !name_is(r->name, "STATUS"))
        return derr(err, errlen, "not a STATUS response");
    if (r->nargs != 2 || r->args[1].type != IMAP_LIST || r->args[1].len % 2)
        return derr(err, errlen, "STATUS: expected a mailbox and (name value ...)");
    if (get_astring(a, &r->args[0], &out->mailbox) < 0 || !out->mailbox)
        return derr(err, errlen, "STATUS: mailbox name is a %s", type_name(&r->args[0]));
    const struct imap_value *l = &r->args[1];
    for (size_t i = 0; i < l->len; i += 2) {
        const struct imap_value *k = &l->u.items[i], *v = k + 1;
        if (k->type != IMAP_ATOM)
            return derr(err, errlen, "STATUS: expected an item name, got %s", type_name(k));
        if (v->type != IMAP_NUMBER || v->u.num > (uint64_t)INT64_MAX)
            return derr(err, errlen, "STATUS: %s is not a number up to 2^63-1", k->u.str);
        int64_t n = (int64_t)v->u.num;
        if (imap_value_is(k, "MESSAGES"))
            out->messages = n;
        else if (imap_value_is(k, "RECENT"))
            out->recent = n;
        else if (imap_value_is(k, "UIDNEXT"))
            out->uidnext = n;
        else if (imap_value_is(k, "UIDVALIDITY"))
            out->uidvalidity = n;
        else if (imap_value_is(k, "UNSEEN"))
            out->unseen = n;
        else if (imap_value_is(k, "HIGHESTMODSEQ"))
            out->highestmodseq = n;
        else if (imap_value_is(k, "SIZE"))
            out->size = n;
    }
    return 0;
}

int decode_vanished(const struct imap_response *r, struct arena *a, struct imap_vanished *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!r || r->kind != IMAP_UNTAGGED || !name_is(r->name, "VANISHED"))
        return derr(err, errlen, "not a VANISHED response");
    size_t i = 0;
    if (r->nargs == 2) {
        const struct imap_value *m = &r->args[0];
        if (m->type != IMAP_LIST || m->len != 1 || !imap_value_is(&m->u.items[0], "EARLIER"))
            return derr(err, errlen, "VANISHED: expected (EARLIER)");
        out->earlier = true;
        i = 1;
    } else if (r->nargs != 1) {
        return derr(err, errlen, "VANISHED: expected [(EARLIER)] uid-set");
    }
    const struct imap_value *s = &r->args[i];
    if (s->type == IMAP_NUMBER)
        out->uids = number_text(a, s->u.num);
    else if (s->type == IMAP_ATOM)
        out->uids = s->u.str;
    else
        return derr(err, errlen, "VANISHED: uid set is a %s", type_name(s));
    return out->uids ? 0 : derr(err, errlen, "VANISHED: out of memory");
}
