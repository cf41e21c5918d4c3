/* query.c — search-query trees: immutable ref-counted nodes, simplified as they are built,
 * emitted as SEARCH keys through the command encoder. */
#include "query.h"

#include "command.h"
#include "msgset.h"
#include "mutf7.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct query {
    int refs;
    enum query_op op;
    int depth;                  /* 1 for a leaf */
    char *str;                  /* string keys, HEADER value, KEYWORD flag; NUL-terminated */
    size_t len;
    char *name;                 /* HEADER field name */
    size_t namelen;
    uint64_t num;
    int y, m, d;
    struct msgset set;
    struct query **kids;        /* AND, OR (n >= 2), NOT (n == 1) */
    size_t nkids;
};

static const char *const op_names[] = {
    [QUERY_ALL] = "ALL", [QUERY_ANSWERED] = "ANSWERED", [QUERY_DELETED] = "DELETED",
    [QUERY_DRAFT] = "DRAFT", [QUERY_FLAGGED] = "FLAGGED", [QUERY_NEW] = "NEW",
    [QUERY_OLD] = "OLD", [QUERY_RECENT] = "RECENT", [QUERY_SEEN] = "SEEN",
    [QUERY_UNANSWERED] = "UNANSWERED", [QUERY_UNDELETED] = "UNDELETED",
    [QUERY_UNDRAFT] = "UNDRAFT", [QUERY_UNFLAGGED] = "UNFLAGGED", [QUERY_UNSEEN] = "UNSEEN",
    [QUERY_BCC] = "BCC", [QUERY_BODY] = "BODY", [QUERY_CC] = "CC", [QUERY_FROM] = "FROM",
    [QUERY_SUBJECT] = "SUBJECT", [QUERY_TEXT] = "TEXT", [QUERY_TO] = "TO",
    [QUERY_GMRAW] = "X-GM-RAW", [QUERY_GMMSGID] = "X-GM-MSGID", [QUERY_GMTHRID] = "X-GM-THRID",
    [QUERY_HEADER] = "HEADER", [QUERY_KEYWORD] = "KEYWORD", [QUERY_UNKEYWORD] = "UNKEYWORD",
    [QUERY_LARGER] = "LARGER", [QUERY_SMALLER] = "SMALLER", [QUERY_MODSEQ] = "MODSEQ",
    [QUERY_OLDER] = "OLDER", [QUERY_YOUNGER] = "YOUNGER",
    [QUERY_BEFORE] = "BEFORE", [QUERY_ON] = "ON", [QUERY_SINCE] = "SINCE",
    [QUERY_SENTBEFORE] = "SENTBEFORE", [QUERY_SENTON] = "SENTON",
    [QUERY_SENTSINCE] = "SENTSINCE", [QUERY_UID] = "UID", [QUERY_SEQ] = "",
    [QUERY_AND] = "AND", [QUERY_OR] = "OR", [QUERY_NOT] = "NOT",
};

static struct query *node_new(enum query_op op)
{
    struct query *q = calloc(1, sizeof *q);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    q->refs = 1;
    q->op = op;
    q->depth = 1;
    msgset_init(&q->set);
    return q;
}

static struct query *fail(struct query *q, int e)
{
    query_unref(q);
    errno = e;
    return NULL;
}

struct query *query_ref(struct query *q)
{
    if (q)
        q->refs++;
    return q;
}

void query_unref(struct query *q)
{
    if (!q || --q->refs > 0)
        return;
    for (size_t i = 0; i < q->nkids; i++)
        query_unref(q->kids[i]);
    free(q->kids);
    free(q->str);
    free(q->name);
    msgset_free(&q->set);
    free(q);
}

enum query_op query_kind(const struct query *q)
{
    return q->op;
}

void query_view(const struct query *q, struct query_view *out)
{
    *out = (struct query_view){
        .op = q->op, .str = q->str, .len = q->len, .name = q->name, .num = q->num,
        .y = q->y, .m = q->m, .d = q->d, .kids = q->kids, .nkids = q->nkids, .set = &q->set,
    };
}

struct query *query_key(enum query_op op)
{
    if (op < QUERY_ALL || op > QUERY_UNSEEN) {
        errno = EINVAL;
        return NULL;
    }
    return node_new(op);
}

/* Copies s[0..len) with a NUL; NULL on ENOMEM. */
static char *dup_bytes(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* Search strings: valid UTF-8 (so CHARSET UTF-8 is truthful), no NUL (no literal can carry it). */
static bool text_ok(const char *s, size_t len)
{
    char err[8];
    return (s || len == 0) && mutf7_utf8_check(s ? s : "", len, err, sizeof err) == 0;
}

struct query *query_string(enum query_op op, const char *s, size_t len)
{
    if (op < QUERY_BCC || op > QUERY_GMRAW || !text_ok(s, len)) {
        errno = EINVAL;
        return NULL;
    }
    struct query *q = node_new(op);
    if (!q)
        return NULL;
    if (!(q->str = dup_bytes(s, len)))
        return fail(q, ENOMEM);
    q->len = len;
    return q;
}

struct query *query_header(const char *name, size_t namelen, const char *value, size_t valuelen)
{
    /* RFC 5322 field name: printable ASCII except ':' (and no space). */
    if (!name || namelen == 0 || !text_ok(value, valuelen)) {
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < namelen; i++)
        if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == ':') {
            errno = EINVAL;
            return NULL;
        }
    struct query *q = node_new(QUERY_HEADER);
    if (!q)
        return NULL;
    if (!(q->name = dup_bytes(name, namelen)) || !(q->str = dup_bytes(value, valuelen)))
        return fail(q, ENOMEM);
    q->namelen = namelen;
    q->len = valuelen;
    return q;
}

struct query *query_keyword(enum query_op op, const char *flag)
{
    if ((op != QUERY_KEYWORD && op != QUERY_UNKEYWORD) || !flag || !*flag) {
        errno = EINVAL;
        return NULL;
    }
    for (const unsigned char *p = (const unsigned char *)flag; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("(){\"\\]%*", *p)) {
            errno = EINVAL;
            return NULL;
        }
    struct query *q = node_new(op);
    if (!q)
        return NULL;
    q->len = strlen(flag);
    if (!(q->str = dup_bytes(flag, q->len)))
        return fail(q, ENOMEM);
    return q;
}

struct query *query_number(enum query_op op, uint64_t n)
{
    bool ok;
    switch (op) {
    case QUERY_LARGER: case QUERY_SMALLER: ok = n <= UINT32_MAX; break;
    case QUERY_MODSEQ: ok = n <= INT64_MAX; break;
    case QUERY_GMMSGID: case QUERY_GMTHRID: ok = n >= 1 && n <= INT64_MAX; break;
    case QUERY_OLDER: case QUERY_YOUNGER: ok = n >= 1 && n <= UINT32_MAX; break;
    default: ok = false; break;
    }
    if (!ok) {
        errno = EINVAL;
        return NULL;
    }
    struct query *q = node_new(op);
    if (q)
        q->num = n;
    return q;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

struct query *query_date(enum query_op op, int y, int m, int d)
{
    if (op < QUERY_BEFORE || op > QUERY_SENTSINCE || y < 1 || y > 9999 || m < 1 || m > 12 ||
        d < 1 || d > days_in_month(y, m)) {
        errno = EINVAL;
        return NULL;
    }
    struct query *q = node_new(op);
    if (q) {
        q->y = y;
        q->m = m;
        q->d = d;
    }
    return q;
}

/* The query that matches nothing. */
static struct query *query_none(void)
{
    struct query *all = query_key(QUERY_ALL);
    if (!all)
        return NULL;
    struct query *q = query_not(all);
    query_unref(all);
    return q;
}

static struct query *set_node(enum query_op op, const struct msgset *s)
{
    if (!s) {
        errno = EINVAL;
        return NULL;
    }
    if (s->n == 0)
        return query_none();
    struct query *q = node_new(op);
    if (!q)
        return NULL;
    if (msgset_copy(&q->set, s))
        return fail(q, ENOMEM);
    return q;
}

struct query *query_uidset(const struct msgset *s)
{
    return set_node(QUERY_UID, s);
}

struct query *query_seqset(const struct msgset *s)
{
    return set_node(QUERY_SEQ, s);
}

/* AND/OR: flatten children of the same kind, drop ALL from an AND, simplify 0 and 1 children. */
static struct query *combine(enum query_op op, struct query *const *kids, size_t n)
{
    if (n && !kids) {
        errno = EINVAL;
        return NULL;
    }
    size_t total = 0;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (!kids[i]) {
            errno = EINVAL;
            return NULL;
        }
        size_t add = kids[i]->op == op ? kids[i]->nkids : 1;
        if (add > SIZE_MAX / sizeof(struct query *) / 2 - total) {
            errno = ENOMEM;
            return NULL;
        }
        total += add;
        if (kids[i]->depth > depth)
            depth = kids[i]->depth;
    }
    if (depth + 1 > QUERY_MAX_DEPTH) {
        errno = EINVAL;
        return NULL;
    }
    struct query **list = malloc((total ? total : 1) * sizeof *list);
    if (!list) {
        errno = ENOMEM;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (kids[i]->op == op) {
            for (size_t j = 0; j < kids[i]->nkids; j++)
                list[k++] = kids[i]->kids[j];
        } else if (!(op == QUERY_AND && kids[i]->op == QUERY_ALL)) {
            list[k++] = kids[i];
        }
    }
    if (k <= 1) {
        struct query *q = k == 1 ? query_ref(list[0])
                                 : op == QUERY_AND ? query_key(QUERY_ALL) : query_none();
        free(list);
        return q;
    }
    struct query *q = node_new(op);
    if (!q) {
        free(list);
        return NULL;
    }
    for (size_t i = 0; i < k; i++)
        query_ref(list[i]);
    q->kids = list;
    q->nkids = k;
    q->depth = depth + 1;
    return q;
}

struct query *query_and(struct query *const *kids, size_t n)
{
    return combine(QUERY_AND, kids, n);
}

struct query *query_or(struct query *const *kids, size_t n)
{
    return combine(QUERY_OR, kids, n);
}

struct query *query_not(struct query *x)
{
    if (!x || x->depth + 1 > QUERY_MAX_DEPTH) {
        errno = EINVAL;
        return NULL;
    }
    if (x->op == QUERY_NOT)
        return query_ref(x->kids[0]);
    struct query *q = node_new(QUERY_NOT);
    if (!q)
        return NULL;
    if (!(q->kids = malloc(sizeof *q->kids)))
        return fail(q, ENOMEM);
    q->kids[0] = query_ref(x);
    q->nkids = 1;
    q->depth = x->depth + 1;
    return q;
}

/* ---- emitting ---- */

static const char *const month_names[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* UID sets cut to the UIDs lo..hi (query_emit_within); hi == 0: whole. */
struct within { uint32_t lo, hi; };

/* "UID set" with set cut to w: a set with nothing left matches nothing there ("NOT ALL"). */
static void emit_uid(const struct query *q, struct command *c, const struct within *w)
{
    if (!w->hi) {
        command_atom(c, "UID");
        command_msgset(c, &q->set);
        return;
    }
    struct msgset range, cut;
    msgset_init(&range);
    msgset_init(&cut);
    if (msgset_add(&range, w->lo, w->hi) < 0 || msgset_intersect(&cut, &q->set, &range) < 0) {
        if (!c->err)
            c->err = -ENOMEM;
    } else if (cut.n == 0) {
        command_atom(c, "NOT");
        command_atom(c, "ALL");
    } else {
        command_atom(c, "UID");
        command_msgset(c, &cut);
    }
    msgset_free(&range);
    msgset_free(&cut);
}

static void emit(const struct query *q, struct command *c, bool top, const struct within *w)
{
    char buf[32];
    switch (q->op) {
    case QUERY_AND:
        if (!top)
            command_open(c);
        for (size_t i = 0; i < q->nkids; i++)
            emit(q->kids[i], c, false, w);
        if (!top)
            command_close(c);
        break;
    case QUERY_OR:
        /* OR a OR b c: right-nested, written iteratively */
        for (size_t i = 0; i + 1 < q->nkids; i++) {
            command_atom(c, "OR");
            emit(q->kids[i], c, false, w);
        }
        emit(q->kids[q->nkids - 1], c, false, w);
        break;
    case QUERY_NOT:
        command_atom(c, "NOT");
        emit(q->kids[0], c, false, w);
        break;
    case QUERY_BCC: case QUERY_BODY: case QUERY_CC: case QUERY_FROM: case QUERY_SUBJECT:
    case QUERY_TEXT: case QUERY_TO: case QUERY_GMRAW:
        command_atom(c, op_names[q->op]);
        command_string(c, q->str, q->len);
        break;
    case QUERY_HEADER:
        command_atom(c, "HEADER");
        command_astring(c, q->name, q->namelen);   /* printable ASCII: atom or quoted */
        command_string(c, q->str, q->len);
        break;
    case QUERY_KEYWORD: case QUERY_UNKEYWORD:
        command_atom(c, op_names[q->op]);
        command_atom(c, q->str);
        break;
    case QUERY_LARGER: case QUERY_SMALLER: case QUERY_MODSEQ: case QUERY_OLDER:
    case QUERY_YOUNGER: case QUERY_GMMSGID: case QUERY_GMTHRID:
        command_atom(c, op_names[q->op]);
        command_number(c, q->num);
        break;
    case QUERY_BEFORE: case QUERY_ON: case QUERY_SINCE: case QUERY_SENTBEFORE:
    case QUERY_SENTON: case QUERY_SENTSINCE:
        command_atom(c, op_names[q->op]);
        /* RFC 3501 date-year is four digits: year 999 is "0999" (Dovecot answers BAD to "999"). */
        snprintf(buf, sizeof buf, "%d-%s-%04d", q->d, month_names[q->m - 1], q->y);
        command_atom(c, buf);
        break;
    case QUERY_UID:
        emit_uid(q, c, w);
        break;
    case QUERY_SEQ:
        command_msgset(c, &q->set);
        break;
    default:
        command_atom(c, op_names[q->op]);
        break;
    }
}

int query_emit(const struct query *q, struct command *c)
{
    if (!q) {
        if (!c->err)
            c->err = -EINVAL;
        return c->err;
    }
    static const struct within whole = { 0, 0 };
    emit(q, c, true, &whole);
    return c->err;
}

int query_emit_within(const struct query *q, struct command *c, uint32_t lo, uint32_t hi)
{
    if (!q || lo == 0 || hi < lo) {
        if (!c->err)
            c->err = -EINVAL;
        return c->err;
    }
    const struct within w = { lo, hi };
    command_open(c);
    command_atom(c, "UID");
    char range[24];
    snprintf(range, sizeof range, "%u:%u", lo, hi);
    command_atom(c, range);
    emit(q, c, true, &w);
    command_close(c);
    return c->err;
}

/* Collects the ranges of every UID set of q (a set once per place it is emitted); *sets counts
 * the sets. */
static int uid_ranges(const struct query *q, struct msgset_range **v, size_t *n, size_t *cap,
                      size_t *sets)
{
    if (q->op == QUERY_UID) {
        (*sets)++;
        if (*n + q->set.n > *cap) {
            size_t nc = *cap ? *cap : 64;
            while (nc < *n + q->set.n)
                nc *= 2;
            struct msgset_range *nv = realloc(*v, nc * sizeof *nv);
            if (!nv)
                return -ENOMEM;
            *v = nv;
            *cap = nc;
        }
        memcpy(*v + *n, q->set.r, q->set.n * sizeof **v);
        *n += q->set.n;
    }
    for (size_t i = 0; i < q->nkids; i++)
        if (uid_ranges(q->kids[i], v, n, cap, sets) < 0)
            return -ENOMEM;
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct msgset_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static size_t range_text(const struct msgset_range *r)
{
    char t[24];
    return (size_t)(r->lo == r->hi ? snprintf(t, sizeof t, "%u", r->lo)
                                   : snprintf(t, sizeof t, "%u:%u", r->lo, r->hi));
}

int query_split_uids(const struct query *q, size_t budget, uint32_t **cuts, size_t *ncuts)
{
    struct msgset_range *v = NULL;
    size_t n = 0, cap = 0, k = 0, kcap = 0, total = 0, sets = 0;
    uint32_t *out = NULL;
    *cuts = NULL;
    *ncuts = 0;
    if (!q || uid_ranges(q, &v, &n, &cap, &sets) < 0) {
        free(v);
        return q ? -ENOMEM : -EINVAL;
    }
    qsort(v, n, sizeof *v, range_cmp);
    /* Each set may have one range straddling a cut, which then counts in the next piece too. */
    size_t slack = sets * (MSGSET_RANGE_MAX_TEXT + 1);
    if (budget < 2 * slack + 2 * MSGSET_RANGE_MAX_TEXT)
        budget = 2 * slack + 2 * MSGSET_RANGE_MAX_TEXT;
    for (size_t i = 0; i < n; i++) {
        size_t t = range_text(&v[i]) + 1;
        if (total + t > budget - slack && total > 0 && v[i].lo > 1 &&
            (k == 0 || v[i].lo > out[k - 1])) {
            if (k == kcap) {
                kcap = kcap ? 2 * kcap : 16;
                uint32_t *no = realloc(out, kcap * sizeof *no);
                if (!no) {
                    free(out);
                    free(v);
                    return -ENOMEM;
                }
                out = no;
            }
            out[k++] = v[i].lo;
            total = 0;
        }
        total += t;
    }
    free(v);
    *cuts = out;
    *ncuts = k;
    return 0;
}

static bool has_8bit(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

bool query_needs_utf8(const struct query *q)
{
    if (!q)
        return false;
    if (q->str && has_8bit(q->str, q->len))
        return true;
    for (size_t i = 0; i < q->nkids; i++)
        if (query_needs_utf8(q->kids[i]))
            return true;
    return false;
}

char *query_to_string(const struct query *q)
{
    if (!q) {
        errno = EINVAL;
        return NULL;
    }
    struct command c;
    command_init(&c, LITERAL_PLUS);
    command_start(&c, NULL, NULL);
    if (query_needs_utf8(q))
        command_raw(&c, "CHARSET UTF-8", 13);
    query_emit(q, &c);
    char *out = NULL;
    if (!c.err && (out = malloc(c.len + 1))) {
        memcpy(out, c.buf, c.len);
        out[c.len] = '\0';
    }
    command_free(&c);
    if (!out)
        errno = ENOMEM;
    return out;
}

bool query_uses_within(const struct query *q)
{
    if (!q)
        return false;
    if (q->op == QUERY_OLDER || q->op == QUERY_YOUNGER)
        return true;
    for (size_t i = 0; i < q->nkids; i++)
        if (query_uses_within(q->kids[i]))
            return true;
    return false;
}

bool query_uses_gmail(const struct query *q)
{
    if (!q)
        return false;
    if (q->op == QUERY_GMRAW || q->op == QUERY_GMMSGID || q->op == QUERY_GMTHRID)
        return true;
    for (size_t i = 0; i < q->nkids; i++)
        if (query_uses_gmail(q->kids[i]))
            return true;
    return false;
}

/* A leaf's replacement: a new reference (q itself, referenced, to keep it), or NULL with errno. */
typedef struct query *(*leaf_fn)(const struct query *q, void *ud);

/* q with every leaf replaced through fn; subtrees where nothing changed are shared. */
static struct query *map_leaves(const struct query *q, leaf_fn fn, void *ud)
{
    if (q->nkids == 0)
        return fn(q, ud);
    struct query **kids = calloc(q->nkids, sizeof *kids);
    if (!kids) {
        errno = ENOMEM;
        return NULL;
    }
    struct query *out = NULL;
    bool same = true;
    size_t i;
    for (i = 0; i < q->nkids; i++) {
        if (!(kids[i] = map_leaves(q->kids[i], fn, ud)))
            break;
        same = same && kids[i] == q->kids[i];
    }
    if (i == q->nkids) {
        if (same)
            out = query_ref((struct query *)q);
        else if (q->op == QUERY_AND)
            out = query_and(kids, q->nkids);
        else if (q->op == QUERY_OR)
            out = query_or(kids, q->nkids);
        else
            out = query_not(kids[0]);
    }
    int saved = errno;
    for (size_t j = 0; j < i; j++)
        query_unref(kids[j]);
    free(kids);
    errno = saved;
    return out;
}

/* OLDER n / YOUNGER n as BEFORE / SINCE the day n seconds before *(time_t *)ud. */
static struct query *within_as_date(const struct query *q, void *ud)
{
    if (q->op != QUERY_OLDER && q->op != QUERY_YOUNGER)
        return query_ref((struct query *)q);
    time_t t = *(const time_t *)ud - (time_t)q->num;
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        errno = EINVAL;
        return NULL;
    }
    return query_date(q->op == QUERY_OLDER ? QUERY_BEFORE : QUERY_SINCE,
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int query_without_within(struct query **out, const struct query *q, time_t now)
{
    if (!q) {
        *out = NULL;
        return -EINVAL;
    }
    *out = map_leaves(q, within_as_date, &now);
    if (!*out)
        return errno == ENOMEM ? -ENOMEM : -EINVAL;
    return 0;
}

struct flag_map { query_flag_fn fn; void *ud; };

/* The flag a flag key tests, and whether the key is its negation; NULL for other keys. */
static const char *flag_of(const struct query *q, bool *negated)
{
    *negated = false;
    switch (q->op) {
    case QUERY_UNSEEN: *negated = true; /* fall through */
    case QUERY_SEEN: case QUERY_NEW: return "\\Seen";
    case QUERY_UNANSWERED: *negated = true; /* fall through */
    case QUERY_ANSWERED: return "\\Answered";
    case QUERY_UNDELETED: *negated = true; /* fall through */
    case QUERY_DELETED: return "\\Deleted";
    case QUERY_UNDRAFT: *negated = true; /* fall through */
    case QUERY_DRAFT: return "\\Draft";
    case QUERY_UNFLAGGED: *negated = true; /* fall through */
    case QUERY_FLAGGED: return "\\Flagged";
    case QUERY_UNKEYWORD: *negated = true; /* fall through */
    case QUERY_KEYWORD: return q->str;
    default: return NULL;
    }
}

static struct query *flag_leaf(const struct query *q, void *ud)
{
    const struct flag_map *m = ud;
    bool negated;
    const char *flag = flag_of(q, &negated);
    struct query *has = flag ? m->fn(m->ud, flag) : NULL;
    if (!has)
        return query_ref((struct query *)q);
    struct query *out = NULL;
    if (q->op == QUERY_NEW) {
        /* NEW is RECENT UNSEEN: only its \Seen half changes. */
        struct query *kids[2] = { query_key(QUERY_RECENT), query_not(has) };
        if (kids[0] && kids[1])
            out = query_and(kids, 2);
        query_unref(kids[0]);
        query_unref(kids[1]);
    } else {
        out = negated ? query_not(has) : query_ref(has);
    }
    query_unref(has);
    return out;
}

int query_map_flags(struct query **out, const struct query *q, query_flag_fn fn, void *ud)
{
    if (!q || !fn) {
        *out = NULL;
        return -EINVAL;
    }
    struct flag_map m = { fn, ud };
    *out = map_leaves(q, flag_leaf, &m);
    if (!*out)
        return errno == ENOMEM ? -ENOMEM : -EINVAL;
    return 0;
}
