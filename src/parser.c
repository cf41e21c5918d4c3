/* parser.c — incremental parser for IMAP server responses (RFC 3501 §9, RFC 9051).
 * Lines are found once with memchr and parsed once; literals are copied once into the arena,
 * or handed over in parts (big literals, long lines of numbers) when the caller asks. */
#include "parser.h"

#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_LINE     ((size_t)1 << 20)
#define DEFAULT_MAX_DEPTH    64u
#define DEFAULT_MAX_LITERAL  ((uint64_t)256 << 20)
#define DEFAULT_MAX_RESPONSE ((size_t)512 << 20)
#define ARENA_CHUNK          65536
#define VALS_KEEP            4096      /* value-stack entries kept between responses */
#define LIST_PIECE_MIN       64        /* stream_list floor: the keyword is always in view */
#define LIST_TOKEN_MAX       4         /* pieces: a token longer than 4 * stream_list fails */

/* Character classes: 1 = atom char (astring: ']' included, '[' starts a section),
 * 2 = response-code atom char (no '[' or ']'), 4 = digit. */
enum { CH_ATOM = 1, CH_CODE = 2, CH_DIGIT = 4 };
static const unsigned char ch_class[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,3,0,3,3,3,3,3,0,0,3,3,3,3,3,3,7,7,7,7,7,7,7,7,7,7,3,3,3,3,3,3,
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,0,3,1,3,3,
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,0,3,3,3,0,
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
};
#define IS(c, cls) (ch_class[(unsigned char)(c)] & (cls))

enum parse_state {
    PS_START,      /* waiting for the first line of a response */
    PS_LINE,       /* waiting for a line that continues a response after a literal */
    PS_LITERAL,    /* copying literal bytes */
    PS_LIT_OFFER,  /* a big literal was offered (IMAP_PART_LITERAL): stream or assemble it */
    PS_LIT_STREAM, /* handing a literal's bytes out as IMAP_PART_DATA */
    PS_LIST,       /* a long SEARCH/SORT/ESEARCH/THREAD line, parsed and handed out in pieces */
    PS_FAILED,
};

struct imap_parser {
    struct imap_parser_limits lim;
    char *buf;
    size_t cap, start, end;    /* unconsumed input is buf[start..end) */
    size_t scan;               /* LF search resumes here: buf[start..scan) has no LF */
    uint64_t base;             /* stream offset of buf[0] */
    enum parse_state state;
    bool returned;             /* resp was handed out; reset at the next call */
    struct arena arena;
    struct imap_response resp;
    /* values of the response being built; frames[i] = first item of open list i */
    struct imap_value *vals;
    size_t nvals, capvals;
    size_t *frames;
    unsigned depth, capframes;
    char *lit_dst;
    uint64_t lit_left;
    uint64_t lit_at, lit_off;  /* stream offsets of the literal's '{' and of its first byte */
    bool lit_take;             /* parser_stream_literal was called for the offered literal */
    uint64_t streamed;         /* bytes of the response handed out as IMAP_PART_DATA */
    bool part_out;             /* a part was handed out; cleared at the next call */
    const char *list_name;     /* PS_LIST: the keyword (static) */
    bool list_head;            /* PS_LIST: the head is parsed */
    size_t list_parts;         /* PS_LIST: IMAP_PART_VALUES handed out */
    char err[200];
};

static const char empty[] = "";

static uint64_t off_of(const struct imap_parser *p, const char *at)
{
    return p->base + (uint64_t)(at - p->buf);
}

static int fail(struct imap_parser *p, uint64_t off, const char *fmt, ...)
{
    int n = snprintf(p->err, sizeof p->err, "offset %llu: ", (unsigned long long)off);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof p->err)
        vsnprintf(p->err + n, sizeof p->err - (size_t)n, fmt, ap);
    va_end(ap);
    p->state = PS_FAILED;
    return -1;
}

static int fail_oom(struct imap_parser *p, const char *at)
{
    return fail(p, off_of(p, at), "out of memory");
}

struct imap_parser *parser_new(const struct imap_parser_limits *limits)
{
    struct imap_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (limits)
        p->lim = *limits;
    if (!p->lim.max_line)
        p->lim.max_line = DEFAULT_MAX_LINE;
    if (!p->lim.max_depth)
        p->lim.max_depth = DEFAULT_MAX_DEPTH;
    if (!p->lim.max_literal)
        p->lim.max_literal = DEFAULT_MAX_LITERAL;
    if (!p->lim.max_response)
        p->lim.max_response = DEFAULT_MAX_RESPONSE;
    if (p->lim.stream_list && p->lim.stream_list < LIST_PIECE_MIN)
        p->lim.stream_list = LIST_PIECE_MIN;
    arena_init(&p->arena, ARENA_CHUNK);
    p->resp.text = empty;
    p->resp.name = empty;
    p->resp.code.text = empty;
    return p;
}

void parser_free(struct imap_parser *p)
{
    if (!p)
        return;
    arena_free(&p->arena);
    free(p->buf);
    free(p->vals);
    free(p->frames);
    free(p);
}

/* Makes room for `want` more bytes after end, moving unconsumed bytes to the front first. */
static int buf_reserve(struct imap_parser *p, size_t want)
{
    if (p->state == PS_FAILED)
        p->start = p->scan = p->end;   /* input after an error is never parsed: drop it */
    if (p->cap - p->end >= want)
        return 0;
    if (p->start) {
        size_t n = p->end - p->start;
        memmove(p->buf, p->buf + p->start, n);
        p->base += p->start;
        p->scan -= p->start;
        p->end = n;
        p->start = 0;
        if (p->cap - p->end >= want)
            return 0;
    }
    if (want > SIZE_MAX / 2 - p->end)
        return -1;
    size_t cap = p->cap ? p->cap : 65536;
    while (cap - p->end < want)
        cap *= 2;
    char *nb = realloc(p->buf, cap);
    if (!nb)
        return -1;
    p->buf = nb;
    p->cap = cap;
    return 0;
}

int parser_feed(struct imap_parser *p, const char *data, size_t len)
{
    if (!len || p->state == PS_FAILED)
        return 0;
    if (buf_reserve(p, len) < 0)
        return -1;
    memcpy(p->buf + p->end, data, len);
    p->end += len;
    return 0;
}

char *parser_space(struct imap_parser *p, size_t want, size_t *avail)
{
    if (buf_reserve(p, want ? want : 1) < 0) {
        if (avail)
            *avail = 0;
        return NULL;
    }
    if (avail)
        *avail = p->cap - p->end;
    return p->buf + p->end;
}

void parser_commit(struct imap_parser *p, size_t n)
{
    if (n > p->cap - p->end)
        n = p->cap - p->end;
    p->end += n;
}

const char *parser_error(const struct imap_parser *p)
{
    return p->err[0] ? p->err : "no error";
}

uint64_t parser_offset(const struct imap_parser *p)
{
    return p->base + p->start;
}

bool imap_value_is(const struct imap_value *v, const char *atom)
{
    if (!v || v->type != IMAP_ATOM)
        return false;
    size_t n = strlen(atom);
    return v->len == n && strncasecmp(v->u.str, atom, n) == 0;
}

const char *imap_value_str(const struct imap_value *v)
{
    if (!v)
        return NULL;
    switch (v->type) {
    case IMAP_NIL:
        return empty;
    case IMAP_ATOM:
    case IMAP_STRING:
        return v->u.str;
    default:
        return NULL;
    }
}

/* ---- value stack -------------------------------------------------------- */

static struct imap_value *val_grow(struct imap_parser *p)
{
    size_t cap = p->capvals ? p->capvals * 2 : 256;
    struct imap_value *nv = realloc(p->vals, cap * sizeof *nv);
    if (!nv)
        return NULL;
    p->vals = nv;
    p->capvals = cap;
    return &p->vals[p->nvals++];
}

static inline struct imap_value *val_push(struct imap_parser *p)
{
    if (p->nvals < p->capvals)
        return &p->vals[p->nvals++];
    return val_grow(p);
}

/* Moves vals[from..nvals) into the arena; *n gets the count. */
static struct imap_value *vals_take(struct imap_parser *p, size_t from, size_t *n)
{
    size_t k = p->nvals - from;
    *n = k;
    if (!k)
        return NULL;
    struct imap_value *items = arena_alloc(&p->arena, k * sizeof *items);
    if (!items)
        return NULL;
    memcpy(items, p->vals + from, k * sizeof *items);
    p->nvals = from;
    return items;
}

/* Digits s..e into *out; -1 on overflow past UINT64_MAX. */
static int digits_u64(const char *s, const char *e, uint64_t *out)
{
    uint64_t v = 0;
    for (; s < e; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---- tokens --------------------------------------------------------------- */

/* Quoted string at p ('"'); stores it unescaped in *v. Returns the byte after the
 * closing quote, or NULL (error set). */
static const char *parse_quoted(struct imap_parser *p, const char *s, const char *e,
                                struct imap_value *v)
{
    const char *b = s + 1;
    const char *q = memchr(b, '"', (size_t)(e - b));
    if (!q) {
        fail(p, off_of(p, e), "expected '\"' to end the quoted string at offset %llu",
             (unsigned long long)off_of(p, s));
        return NULL;
    }
    const char *bs = memchr(b, '\\', (size_t)(q - b));
    if (!bs) {
        char *d = arena_strndup(&p->arena, b, (size_t)(q - b));
        if (!d) {
            fail_oom(p, s);
            return NULL;
        }
        v->type = IMAP_STRING;
        v->len = (size_t)(q - b);
        v->u.str = d;
        return q + 1;
    }
    /* Escapes: find the real end, then copy unescaped. */
    size_t n = (size_t)(bs - b);
    const char *r = bs;
    bool closed = false;
    while (r < e) {
        if (*r == '\\') {
            if (r + 1 >= e)
                break;
            r += 2;
            n++;
        } else if (*r == '"') {
            closed = true;
            break;
        } else {
            r++;
            n++;
        }
    }
    if (!closed) {
        fail(p, off_of(p, e), "expected '\"' to end the quoted string at offset %llu",
             (unsigned long long)off_of(p, s));
        return NULL;
    }
    char *d = arena_alloc(&p->arena, n + 1);
    if (!d) {
        fail_oom(p, s);
        return NULL;
    }
    size_t k = 0;
    for (const char *c = b; c < r; c++) {
        if (*c == '\\')
            c++;
        d[k++] = *c;
    }
    d[k] = '\0';
    v->type = IMAP_STRING;
    v->len = k;
    v->u.str = d;
    return r + 1;
}

/* Skips a section body after '[' up to and including the matching ']'; NULL if none. */
static const char *skip_section(const char *s, const char *e)
{
    int depth = 0;
    while (s < e) {
        char c = *s;
        if (c == '"') {
            for (s++; s < e && *s != '"'; s++)
                if (*s == '\\')
                    s++;
            if (s >= e)
                return NULL;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (--depth < 0)
                return NULL;
        } else if (c == ']' && depth == 0) {
            return s + 1;
        } else if ((unsigned char)c < 32 || c == 127) {
            return NULL;
        }
        s++;
    }
    return NULL;
}

/* Copies an atom holding a section, collapsing runs of spaces and dropping spaces
 * after '(' and before ')' or ']' (outside quoted strings). */
static char *section_dup(struct arena *a, const char *s, const char *e, size_t *len)
{
    char *d = arena_alloc(a, (size_t)(e - s) + 1);
    if (!d)
        return NULL;
    size_t k = 0;
    bool inq = false;
    for (; s < e; s++) {
        char c = *s;
        if (inq) {
            d[k++] = c;
            if (c == '\\' && s + 1 < e)
                d[k++] = *++s;
            else if (c == '"')
                inq = false;
            continue;
        }
        if (c == ' ' && (k == 0 || d[k - 1] == ' ' || d[k - 1] == '(' || d[k - 1] == '['))
            continue;
        if ((c == ')' || c == ']') && k && d[k - 1] == ' ')
            k--;
        if (c == '"')
            inq = true;
        d[k++] = c;
    }
    d[k] = '\0';
    *len = k;
    return d;
}

static int literal_assemble(struct imap_parser *p);

/* Literal marker at s ('{' or '~{') that must end the line at e. Pushes the string
 * value and arms the literal state. Returns 1, 2 when the literal is to be offered
 * (IMAP_PART_LITERAL; an IMAP_STREAMED value is pushed), or -1 on error. */
static int start_literal(struct imap_parser *p, const char *s, const char *e)
{
    const char *q = s + (*s == '~' ? 2 : 1);
    const char *ds = q;
    while (q < e && IS(*q, CH_DIGIT))
        q++;
    if (q == ds)
        return fail(p, off_of(p, q), "expected literal size after '{'");
    uint64_t n;
    if (digits_u64(ds, q, &n) < 0)
        return fail(p, off_of(p, ds), "literal size too large");
    if (q < e && *q == '+')
        q++;
    if (q >= e || *q != '}')
        return fail(p, off_of(p, q), "expected '}' after literal size");
    if (q + 1 != e)
        return fail(p, off_of(p, q + 1), "expected CRLF after literal size");
    if (n >= SIZE_MAX)
        return fail(p, off_of(p, s), "literal size too large");
    p->lit_at = off_of(p, s);
    p->lit_off = off_of(p, e) + 2;
    p->lit_left = n;
    if (p->lim.stream_literal && n >= p->lim.stream_literal) {
        struct imap_value *v = val_push(p);
        if (!v)
            return fail_oom(p, s);
        v->type = IMAP_STREAMED;
        v->len = (size_t)n;
        v->u.str = NULL;
        return 2;
    }
    return literal_assemble(p);
}

/* The literal just announced (lit_left bytes at lit_off) goes into the arena: its value is the
 * last one pushed when it was offered, else pushed now. Returns 1, or -1 on error. */
static int literal_assemble(struct imap_parser *p)
{
    uint64_t n = p->lit_left;
    if (n > p->lim.max_literal)
        return fail(p, p->lit_at, "literal of %llu bytes exceeds the limit of %llu",
                    (unsigned long long)n, (unsigned long long)p->lim.max_literal);
    uint64_t so_far = p->lit_off - p->resp.offset - p->streamed;
    if (n > (uint64_t)p->lim.max_response || so_far + n > (uint64_t)p->lim.max_response)
        return fail(p, p->lit_at, "response larger than the limit of %zu bytes",
                    p->lim.max_response);
    char *d = arena_alloc(&p->arena, (size_t)n + 1);
    bool offered = p->state == PS_LIT_OFFER;
    struct imap_value *v = !d ? NULL : offered ? &p->vals[p->nvals - 1] : val_push(p);
    if (!v)
        return fail(p, p->lit_at, "out of memory");
    d[n] = '\0';
    v->type = IMAP_STRING;
    v->len = (size_t)n;
    v->u.str = d;
    p->lit_dst = d;
    return 1;
}

static int list_error(struct imap_parser *p, const char *at)
{
    if (p->depth)
        return fail(p, off_of(p, at), "expected ')' or value in list");
    return fail(p, off_of(p, at), "expected value");
}

/* Values from s up to e (the line's CR). Returns 0 at the end of the line, 1 when a
 * literal follows, 2 when a literal is offered, -1 on error. */
static int parse_values(struct imap_parser *p, const char *s, const char *e)
{
    for (;;) {
        while (s < e && *s == ' ')
            s++;
        if (s == e)
            return 0;
        unsigned char c = (unsigned char)*s;
        if (c == '{' || (c == '~' && s + 1 < e && s[1] == '{'))
            return start_literal(p, s, e);
        if (IS(c, CH_ATOM) || c == '[') {
            const char *t = s;
            bool sect = false;
            for (;;) {
                while (s < e && IS(*s, CH_ATOM))
                    s++;
                if (s < e && *s == '[') {
                    const char *x = skip_section(s + 1, e);
                    if (!x)
                        return fail(p, off_of(p, s), "expected ']' to end the section");
                    s = x;
                    sect = true;
                    continue;
                }
                break;
            }
            struct imap_value *v = val_push(p);
            if (!v)
                return fail_oom(p, t);
            size_t n = (size_t)(s - t);
            if (!sect && IS(c, CH_DIGIT)) {
                const char *d = t + 1;
                while (d < s && IS(*d, CH_DIGIT))
                    d++;
                if (d == s) {
                    v->type = IMAP_NUMBER;
                    v->len = 0;
                    if (digits_u64(t, s, &v->u.num) < 0)
                        return fail(p, off_of(p, t), "number too large (over 2^64-1)");
                    continue;
                }
            }
            if (n == 3 && (t[0] | 32) == 'n' && (t[1] | 32) == 'i' && (t[2] | 32) == 'l') {
                v->type = IMAP_NIL;
                v->len = 0;
                v->u.str = NULL;
                continue;
            }
            char *d = sect ? section_dup(&p->arena, t, s, &n) : arena_strndup(&p->arena, t, n);
            if (!d)
                return fail_oom(p, t);
            v->type = IMAP_ATOM;
            v->len = n;
            v->u.str = d;
        } else if (c == '"') {
            struct imap_value *v = val_push(p);
            if (!v)
                return fail_oom(p, s);
            s = parse_quoted(p, s, e, v);
            if (!s)
                return -1;
        } else if (c == '(') {
            if (p->depth >= p->lim.max_depth)
                return fail(p, off_of(p, s), "lists nested deeper than %u", p->lim.max_depth);
            if (p->depth == p->capframes) {
                unsigned cap = p->capframes ? p->capframes * 2 : 16;
                size_t *nf = realloc(p->frames, cap * sizeof *nf);
                if (!nf)
                    return fail_oom(p, s);
                p->frames = nf;
                p->capframes = cap;
            }
            p->frames[p->depth++] = p->nvals;
            s++;
        } else if (c == ')') {
            if (!p->depth)
                return fail(p, off_of(p, s), "unexpected ')'");
            size_t from = p->frames[--p->depth], k;
            struct imap_value *items = vals_take(p, from, &k);
            if (k && !items)
                return fail_oom(p, s);
            struct imap_value *v = val_push(p);
            if (!v)
                return fail_oom(p, s);
            v->type = IMAP_LIST;
            v->len = k;
            v->u.items = items;
            s++;
        } else {
            return list_error(p, s);
        }
    }
}

/* ---- response codes ----------------------------------------------------- */

static const struct {
    const char *name;
    enum imap_code_kind kind;
} code_names[] = {
    { "ALERT", IMAP_CODE_ALERT },           { "PARSE", IMAP_CODE_PARSE },
    { "READ-ONLY", IMAP_CODE_READ_ONLY },   { "READ-WRITE", IMAP_CODE_READ_WRITE },
    { "TRYCREATE", IMAP_CODE_TRYCREATE },   { "UIDNOTSTICKY", IMAP_CODE_UIDNOTSTICKY },
    { "NOMODSEQ", IMAP_CODE_NOMODSEQ },     { "CLOSED", IMAP_CODE_CLOSED },
    { "UIDVALIDITY", IMAP_CODE_UIDVALIDITY }, { "UIDNEXT", IMAP_CODE_UIDNEXT },
    { "UNSEEN", IMAP_CODE_UNSEEN },         { "HIGHESTMODSEQ", IMAP_CODE_HIGHESTMODSEQ },
    { "APPENDUID", IMAP_CODE_APPENDUID },   { "COPYUID", IMAP_CODE_COPYUID },
    { "CAPABILITY", IMAP_CODE_CAPABILITY }, { "PERMANENTFLAGS", IMAP_CODE_PERMANENTFLAGS },
    { "BADCHARSET", IMAP_CODE_BADCHARSET },
};

static const char *skip_sp(const char *s, const char *e)
{
    while (s < e && *s == ' ')
        s++;
    return s;
}

static const char *code_number(struct imap_parser *p, const char *s, const char *e,
                               uint64_t *out, const char *what)
{
    const char *t = s;
    while (s < e && IS(*s, CH_DIGIT))
        s++;
    if (s == t || (s < e && *s != ' ' && *s != ']')) {
        fail(p, off_of(p, t), "expected number in %s", what);
        return NULL;
    }
    if (digits_u64(t, s, out) < 0) {
        fail(p, off_of(p, t), "number too large (over 2^64-1)");
        return NULL;
    }
    return s;
}

static const char *code_set(struct imap_parser *p, const char *s, const char *e,
                            const char **out, const char *what)
{
    const char *t = s;
    while (s < e && (IS(*s, CH_DIGIT) || *s == ':' || *s == ',' || *s == '*'))
        s++;
    if (s == t || (s < e && *s != ' ' && *s != ']')) {
        fail(p, off_of(p, t), "expected uid set in %s", what);
        return NULL;
    }
    *out = arena_strndup(&p->arena, t, (size_t)(s - t));
    if (!*out) {
        fail_oom(p, t);
        return NULL;
    }
    return s;
}

static const char *code_sp(struct imap_parser *p, const char *s, const char *e, const char *what)
{
    if (s >= e || *s != ' ') {
        fail(p, off_of(p, s), "expected SP in %s", what);
        return NULL;
    }
    return skip_sp(s, e);
}

/* Atoms (and quoted strings when `quoted`) up to ')' (when `paren`) or ']'. */
static const char *code_items(struct imap_parser *p, const char *s, const char *e, bool paren,
                              bool quoted, const char *what)
{
    for (;;) {
        s = skip_sp(s, e);
        if (s >= e)
            break;
        if (paren ? *s == ')' : *s == ']')
            return paren ? s + 1 : s;
        struct imap_value *v = val_push(p);
        if (!v) {
            fail_oom(p, s);
            return NULL;
        }
        if (*s == '"' && quoted) {
            s = parse_quoted(p, s, e, v);
            if (!s)
                return NULL;
            continue;
        }
        const char *t = s;
        while (s < e && IS(*s, CH_CODE))
            s++;
        if (s == t)
            break;
        v->type = IMAP_ATOM;
        v->len = (size_t)(s - t);
        v->u.str = arena_strndup(&p->arena, t, v->len);
        if (!v->u.str) {
            fail_oom(p, t);
            return NULL;
        }
    }
    fail(p, off_of(p, s), "expected %s or atom in %s", paren ? "')'" : "']'", what);
    return NULL;
}

/* Response code after '['; returns the byte after ']' or NULL. */
static const char *parse_code(struct imap_parser *p, const char *s, const char *e)
{
    struct imap_code *c = &p->resp.code;
    const char *t = s;
    while (s < e && IS(*s, CH_CODE))
        s++;
    if (s == t) {
        fail(p, off_of(p, s), "expected response code name after '['");
        return NULL;
    }
    size_t n = (size_t)(s - t);
    c->name = arena_strndup(&p->arena, t, n);
    if (!c->name) {
        fail_oom(p, t);
        return NULL;
    }
    c->kind = IMAP_CODE_OTHER;
    for (size_t i = 0; i < sizeof code_names / sizeof code_names[0]; i++)
        if (strlen(code_names[i].name) == n && strncasecmp(code_names[i].name, t, n) == 0)
            c->kind = code_names[i].kind;
    const char *name = c->name;
    if (s < e && *s == ' ')
        s++;
    else if (s >= e || *s != ']') {
        fail(p, off_of(p, s), "expected SP or ']' after response code name");
        return NULL;
    }
    const char *ts = s;
    switch (c->kind) {
    case IMAP_CODE_UIDVALIDITY:
    case IMAP_CODE_UIDNEXT:
    case IMAP_CODE_UNSEEN:
    case IMAP_CODE_HIGHESTMODSEQ:
        s = code_number(p, s, e, &c->num, name);
        break;
    case IMAP_CODE_APPENDUID:
    case IMAP_CODE_COPYUID:
        s = code_number(p, s, e, &c->num, name);
        s = s ? code_sp(p, s, e, name) : NULL;
        s = s ? code_set(p, s, e, &c->set1, name) : NULL;
        if (s && c->kind == IMAP_CODE_COPYUID) {
            s = code_sp(p, s, e, name);
            s = s ? code_set(p, s, e, &c->set2, name) : NULL;
        }
        break;
    case IMAP_CODE_CAPABILITY:
        s = code_items(p, s, e, false, false, name);
        break;
    case IMAP_CODE_PERMANENTFLAGS:
    case IMAP_CODE_BADCHARSET:
        s = skip_sp(s, e);
        if (s < e && *s == '(') {
            s = code_items(p, s + 1, e, true, c->kind == IMAP_CODE_BADCHARSET, name);
        } else if (s < e && *s != ']') {
            fail(p, off_of(p, s), "expected '(' in %s", name);
            return NULL;
        }
        break;
    default: {
        const char *q = memchr(s, ']', (size_t)(e - s));
        if (!q) {
            fail(p, off_of(p, e), "expected ']' to end the response code");
            return NULL;
        }
        s = q;
    }
    }
    if (!s)
        return NULL;
    s = skip_sp(s, e);
    if (s >= e || *s != ']') {
        fail(p, off_of(p, s), "expected ']' to end the response code");
        return NULL;
    }
    c->list = vals_take(p, 0, &c->nlist);
    if (c->nlist && !c->list) {
        fail_oom(p, s);
        return NULL;
    }
    const char *te = s;
    while (te > ts && te[-1] == ' ')
        te--;
    c->text = arena_strndup(&p->arena, ts, (size_t)(te - ts));
    if (!c->text) {
        fail_oom(p, ts);
        return NULL;
    }
    return s + 1;
}

/* ---- the first line ----------------------------------------------------- */

static enum imap_status status_of(const char *s, size_t n)
{
    static const struct { const char *w; enum imap_status st; } words[] = {
        { "OK", IMAP_ST_OK }, { "NO", IMAP_ST_NO }, { "BAD", IMAP_ST_BAD },
        { "PREAUTH", IMAP_ST_PREAUTH }, { "BYE", IMAP_ST_BYE },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i].w) == n && strncasecmp(words[i].w, s, n) == 0)
            return words[i].st;
    return IMAP_ST_NONE;
}

/* resp-text after the status word: [SP ["[" code "]" [SP]] text] */
static int parse_resp_text(struct imap_parser *p, const char *s, const char *e)
{
    if (s < e) {
        if (*s != ' ')
            return fail(p, off_of(p, s), "expected SP after the status");
        s++;
        if (s < e && *s == '[') {
            s = parse_code(p, s + 1, e);
            if (!s)
                return -1;
            if (s < e && *s == ' ')
                s++;
        }
    }
    if (s < e) {
        p->resp.text = arena_strndup(&p->arena, s, (size_t)(e - s));
        if (!p->resp.text)
            return fail_oom(p, s);
    }
    return 0;
}

static int parse_first_line(struct imap_parser *p, const char *s, const char *e)
{
    struct imap_response *r = &p->resp;
    if (s == e)
        return fail(p, off_of(p, s), "empty response line");
    if (*s == '+') {
        r->kind = IMAP_CONTINUE;
        s++;
        if (s < e) {
            if (*s != ' ')
                return fail(p, off_of(p, s), "expected SP after '+'");
            s++;
            r->text = arena_strndup(&p->arena, s, (size_t)(e - s));
            if (!r->text)
                return fail_oom(p, s);
        }
        return 0;
    }
    const char *t = s;
    if (*s == '*') {
        r->kind = IMAP_UNTAGGED;
        s++;
    } else {
        r->kind = IMAP_TAGGED;
        while (s < e && IS(*s, CH_ATOM) && *s != '+')
            s++;
        if (s == t)
            return fail(p, off_of(p, s), "expected '*', '+' or a tag");
        r->tag = arena_strndup(&p->arena, t, (size_t)(s - t));
        if (!r->tag)
            return fail_oom(p, t);
    }
    if (s >= e || *s != ' ')
        return fail(p, off_of(p, s), "expected SP after %s", r->kind == IMAP_TAGGED ? "the tag" : "'*'");
    s++;
    if (r->kind == IMAP_UNTAGGED && s < e && IS(*s, CH_DIGIT)) {
        t = s;
        while (s < e && IS(*s, CH_DIGIT))
            s++;
        if (s >= e || *s != ' ')
            return fail(p, off_of(p, s), "expected SP after the message number");
        if (digits_u64(t, s, &r->number) < 0)
            return fail(p, off_of(p, t), "number too large (over 2^64-1)");
        r->has_number = true;
        s++;
    }
    t = s;
    while (s < e && IS(*s, CH_CODE))
        s++;
    if (s == t)
        return fail(p, off_of(p, s), r->kind == IMAP_TAGGED ? "expected OK, NO or BAD after the tag"
                                                            : "expected response keyword");
    if (s < e && *s != ' ')
        return fail(p, off_of(p, s), "expected SP after the response keyword");
    size_t n = (size_t)(s - t);
    r->name = arena_strndup_upper(&p->arena, t, n);
    if (!r->name)
        return fail_oom(p, t);
    if (!r->has_number)
        r->status = status_of(t, n);
    if (r->kind == IMAP_TAGGED) {
        if (r->status != IMAP_ST_OK && r->status != IMAP_ST_NO && r->status != IMAP_ST_BAD)
            return fail(p, off_of(p, t), "expected OK, NO or BAD after the tag");
    }
    if (r->status != IMAP_ST_NONE)
        return parse_resp_text(p, s, e);
    return parse_values(p, s, e);
}

/* ---- long lines of numbers ------------------------------------------------------- */

static const char *const list_names[] = { "SEARCH", "SORT", "ESEARCH", "THREAD" };

/* Whether line s..e (its bytes so far) begins "* NAME " for one of list_names, or could still:
 * with prefix, when e comes before the space. Returns the name, or NULL. */
static const char *list_match(const char *s, const char *e, bool prefix)
{
    size_t have = (size_t)(e - s);
    for (size_t i = 0; i < sizeof list_names / sizeof list_names[0]; i++) {
        const char *name = list_names[i];
        size_t n = strlen(name), k = 0;
        for (; k < have && k < n + 3; k++) {
            char want = k < 2 ? "* "[k] : k < n + 2 ? name[k - 2] : ' ', got = s[k];
            if (k >= 2 && k < n + 2 && got >= 'a' && got <= 'z')
                got = (char)(got - 32);
            if (got != want)
                break;
        }
        if (k == n + 3 || (prefix && k == have))
            return name;
    }
    return NULL;
}

/* The keyword when line s..e is an untagged SEARCH, SORT, ESEARCH or THREAD: the responses
 * whose long lines may come in pieces. */
static const char *list_kind(const char *s, const char *e)
{
    return list_match(s, e, false);
}

/* The next piece of a PS_LIST line: it ends at the first token boundary (SP, '(', ')', or a
 * ',' inside a sequence set, which is dropped) at least stream_list bytes on, or at the line's
 * CRLF (*last). Quoted strings are not cut. Pieces depend on the bytes alone, never on how
 * they arrived. Returns 1 (*cut: the piece's end, *next: where the next one starts), 0 when
 * more input is needed, -1 on error. */
static int list_cut(struct imap_parser *p, size_t *cut, size_t *next, bool *last)
{
    const char *b = p->buf;
    size_t want = p->start + p->lim.stream_list;
    size_t limit = p->start + LIST_TOKEN_MAX * p->lim.stream_list;
    bool quoted = false;
    for (size_t i = p->start; i < p->end; i++) {
        char c = b[i];
        if (c == '\r') {
            if (i + 1 == p->end)
                return 0;
            if (b[i + 1] != '\n')
                return fail(p, p->base + i, "CR inside a line");
            *cut = i;
            *next = i + 2;
            *last = true;
            return 1;
        }
        if (c == '\n')
            return fail(p, p->base + i, "expected CRLF, got a bare LF");
        if (i >= limit)
            return fail(p, p->base + i, "token longer than %zu bytes in a %s line",
                        LIST_TOKEN_MAX * p->lim.stream_list, p->list_name);
        if (quoted) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quoted = false;
            continue;
        }
        if (c == '"') {
            quoted = true;
        } else if (c == '{') {
            return fail(p, p->base + i, "unexpected literal in a long %s line", p->list_name);
        } else if (i >= want && (c == ' ' || c == '(' || c == ')' || c == ',')) {
            *cut = i;
            *next = c == ',' ? i + 1 : i;
            *last = false;
            return 1;
        }
    }
    return 0;
}

/* One step of a PS_LIST line: parses the next piece and hands out what is complete. Returns
 * 1 with *out, 0 when more input is needed, -1 on error. */
static int list_step(struct imap_parser *p, struct imap_response **out)
{
    for (;;) {
        size_t cut = 0, next = 0;
        bool last = false;
        int r = list_cut(p, &cut, &next, &last);
        if (r <= 0)
            return r;
        char *s = p->buf + p->start, *e = p->buf + cut;
        if (off_of(p, e) - p->resp.offset > (uint64_t)p->lim.max_response)
            return fail(p, off_of(p, e), "response larger than the limit of %zu bytes",
                        p->lim.max_response);
        r = p->list_head ? parse_values(p, s, e) : parse_first_line(p, s, e);
        if (r < 0)
            return -1;
        p->list_head = true;
        p->resp.name = p->list_name;        /* outlives the arena's resets between parts */
        p->start = p->scan = next;
        if (last) {
            if (p->depth)
                return fail(p, off_of(p, e), "expected ')' or value in list");
            p->resp.args = vals_take(p, 0, &p->resp.nargs);
            if (p->resp.nargs && !p->resp.args)
                return fail_oom(p, e);
            p->resp.tail = p->list_parts > 0;
            p->state = PS_START;
            p->returned = true;
            *out = &p->resp;
            return 1;
        }
        if (p->depth == 0 && p->nvals > 0) {
            p->resp.args = vals_take(p, 0, &p->resp.nargs);
            if (!p->resp.args)
                return fail_oom(p, e);
            p->resp.part = IMAP_PART_VALUES;
            p->list_parts++;
            p->part_out = true;
            *out = &p->resp;
            return 1;
        }
    }
}

/* ---- driver ----------------------------------------------------------------- */

static void response_reset(struct imap_parser *p)
{
    arena_reset(&p->arena);
    memset(&p->resp, 0, sizeof p->resp);
    p->resp.text = empty;
    p->resp.name = empty;
    p->resp.code.text = empty;
    p->nvals = 0;
    p->depth = 0;
    if (p->capvals > VALS_KEEP) {
        free(p->vals);
        p->vals = NULL;
        p->capvals = 0;
    }
    p->returned = false;
    p->streamed = 0;
}

/* The part handed out last is done with: values of a PART_VALUES are dropped with the arena
 * (the response's head does not live there); a literal's parts leave the tree in progress. */
static void part_reset(struct imap_parser *p)
{
    if (p->resp.part == IMAP_PART_VALUES)
        arena_reset(&p->arena);
    p->resp.part = IMAP_PART_NONE;
    p->resp.args = NULL;
    p->resp.nargs = 0;
    p->resp.data = NULL;
    p->resp.datalen = 0;
    p->resp.open = NULL;
    p->resp.nopen = 0;
    p->resp.depth = 0;
    p->part_out = false;
}

void parser_stream_literal(struct imap_parser *p)
{
    if (p->state == PS_LIT_OFFER)
        p->lit_take = true;
}

/* Hands out the next bytes of a streamed literal; 0 when none have come. */
static int literal_part(struct imap_parser *p, struct imap_response **out)
{
    size_t avail = p->end - p->start;
    if (!avail)
        return 0;
    size_t n = p->lit_left < avail ? (size_t)p->lit_left : avail;
    p->resp.part = IMAP_PART_DATA;
    p->resp.data = p->buf + p->start;
    p->resp.datalen = n;
    p->lit_left -= n;
    p->resp.lit_left = p->lit_left;
    p->streamed += n;
    p->start = p->scan = p->start + n;
    if (!p->lit_left)
        p->state = PS_LINE;
    p->part_out = true;
    *out = &p->resp;
    return 1;
}

int parser_next(struct imap_parser *p, struct imap_response **out)
{
    if (p->state == PS_FAILED)
        return -1;
    if (p->returned)
        response_reset(p);
    else if (p->part_out)
        part_reset(p);
    for (;;) {
        if (p->state == PS_LIT_OFFER) {
            if (p->lit_take) {
                p->state = PS_LIT_STREAM;
            } else {
                if (literal_assemble(p) < 0)
                    return -1;
                p->state = PS_LITERAL;
            }
        }
        if (p->state == PS_LIT_STREAM)
            return literal_part(p, out);
        if (p->state == PS_LIST)
            return list_step(p, out);
        if (p->state == PS_LITERAL) {
            size_t avail = p->end - p->start;
            size_t n = p->lit_left < avail ? (size_t)p->lit_left : avail;
            memcpy(p->lit_dst, p->buf + p->start, n);
            p->lit_dst += n;
            p->lit_left -= n;
            p->start += n;
            p->scan = p->start;
            if (p->lit_left)
                return 0;
            p->state = PS_LINE;
        }
        if (p->scan < p->start)
            p->scan = p->start;
        char *lf = p->end > p->scan ? memchr(p->buf + p->scan, '\n', p->end - p->scan) : NULL;
        if (p->state == PS_START && p->lim.stream_list) {
            /* The same decision whether the line came whole or is still arriving. */
            size_t have = lf ? (size_t)(lf - (p->buf + p->start)) + 1 : p->end - p->start;
            const char *kind = have > p->lim.stream_list
                             ? list_kind(p->buf + p->start, p->buf + p->end) : NULL;
            if (kind) {
                p->state = PS_LIST;
                p->list_name = kind;
                p->list_head = false;
                p->list_parts = 0;
                p->resp.offset = p->base + p->start;
                return list_step(p, out);
            }
        }
        if (!lf) {
            p->scan = p->end;
            /* A line that may yet be a list to stream waits to be one (the same decision,
             * however the input was split). */
            if (p->end - p->start > p->lim.max_line &&
                !(p->state == PS_START && p->lim.stream_list &&
                  list_match(p->buf + p->start, p->buf + p->end, true)))
                return fail(p, p->base + p->start, "line longer than %zu bytes", p->lim.max_line);
            return 0;
        }
        char *ls = p->buf + p->start;
        if ((size_t)(lf - ls) + 1 > p->lim.max_line)
            return fail(p, p->base + p->start, "line longer than %zu bytes", p->lim.max_line);
        if (lf == ls || lf[-1] != '\r')
            return fail(p, off_of(p, lf), "expected CRLF, got a bare LF");
        char *cr = lf - 1;
        char *bad = memchr(ls, '\r', (size_t)(cr - ls));
        if (bad)
            return fail(p, off_of(p, bad), "CR inside a line");
        if (p->state == PS_START)
            p->resp.offset = p->base + p->start;
        if (off_of(p, lf) + 1 - p->resp.offset - p->streamed > (uint64_t)p->lim.max_response) {
            return fail(p, off_of(p, lf), "response larger than the limit of %zu bytes",
                        p->lim.max_response);
        }
        int r = p->state == PS_START ? parse_first_line(p, ls, cr) : parse_values(p, ls, cr);
        if (r < 0)
            return -1;
        p->start = p->scan = (size_t)(lf - p->buf) + 1;
        if (r == 2) {
            size_t from = p->depth ? p->frames[p->depth - 1] : 0;
            p->state = PS_LIT_OFFER;
            p->lit_take = false;
            p->resp.part = IMAP_PART_LITERAL;
            p->resp.lit_size = p->resp.lit_left = p->lit_left;
            p->resp.open = p->vals + from;
            p->resp.nopen = p->nvals - from;
            p->resp.depth = p->depth;
            p->part_out = true;
            *out = &p->resp;
            return 1;
        }
        if (r == 1) {
            p->state = PS_LITERAL;
            continue;
        }
        if (p->depth)
            return fail(p, off_of(p, cr), "expected ')' or value in list");
        if (p->resp.status == IMAP_ST_NONE && p->resp.kind == IMAP_UNTAGGED) {
            p->resp.args = vals_take(p, 0, &p->resp.nargs);
            if (p->resp.nargs && !p->resp.args)
                return fail_oom(p, cr);
        }
        p->state = PS_START;
        p->returned = true;
        *out = &p->resp;
        return 1;
    }
}
