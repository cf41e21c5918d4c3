/* msgset.c — message sets as sorted disjoint ranges: parsing, formatting, splitting, algebra.
 * Everything is linear in the number of ranges; appending in ascending order is O(1) amortised. */
#include "msgset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void msgset_init(struct msgset *s)
{
    s->r = NULL;
    s->n = s->cap = 0;
}

void msgset_free(struct msgset *s)
{
    free(s->r);
    msgset_init(s);
}

void msgset_clear(struct msgset *s)
{
    s->n = 0;
}

static int reserve(struct msgset *s, size_t want)
{
    if (want <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 8;
    while (cap < want) {
        if (cap > SIZE_MAX / 2 / sizeof *s->r)
            return -ENOMEM;
        cap *= 2;
    }
    struct msgset_range *r = realloc(s->r, cap * sizeof *r);
    if (!r)
        return -ENOMEM;
    s->r = r;
    s->cap = cap;
    return 0;
}

/* Appends lo..hi where lo is not below the last range's lo: merges with the last range when they
 * overlap or touch. The caller has reserved room for one more range. */
static void push(struct msgset *s, uint32_t lo, uint32_t hi)
{
    if (s->n) {
        struct msgset_range *last = &s->r[s->n - 1];
        if ((uint64_t)lo <= (uint64_t)last->hi + 1) {
            if (hi > last->hi)
                last->hi = hi;
            return;
        }
    }
    s->r[s->n].lo = lo;
    s->r[s->n].hi = hi;
    s->n++;
}

/* Binary searches over the sorted ranges, from index a: the first range ending at or after v,
 * and the first starting after v. */
static size_t first_ending_from(const struct msgset *s, size_t a, uint64_t v)
{
    size_t b = s->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (s->r[m].hi < v)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

static size_t first_starting_after(const struct msgset *s, size_t a, uint64_t v)
{
    size_t b = s->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (s->r[m].lo <= v)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* lo:hi in order, as IMAP allows either; false for 0 (no such UID). */
static bool range_order(uint32_t *lo, uint32_t *hi)
{
    if (*lo > *hi) {
        uint32_t t = *lo;
        *lo = *hi;
        *hi = t;
    }
    return *lo != 0;
}

int msgset_add(struct msgset *s, uint32_t lo, uint32_t hi)
{
    if (!range_order(&lo, &hi))
        return -EINVAL;
    if (reserve(s, s->n + 1))
        return -ENOMEM;
    if (s->n == 0 || lo >= s->r[s->n - 1].lo) {
        push(s, lo, hi);
        return 0;
    }
    /* Out of order: the ranges lo:hi touches or overlaps are i up to j (exclusive). */
    size_t i = first_ending_from(s, 0, (uint64_t)lo - 1);
    size_t j = first_starting_after(s, i, (uint64_t)hi + 1);
    if (i == j) {
        memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof *s->r);
        s->r[i].lo = lo;
        s->r[i].hi = hi;
        s->n++;
        return 0;
    }
    if (s->r[i].lo < lo)
        lo = s->r[i].lo;
    if (s->r[j - 1].hi > hi)
        hi = s->r[j - 1].hi;
    s->r[i].lo = lo;
    s->r[i].hi = hi;
    memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof *s->r);
    s->n -= j - i - 1;
    return 0;
}

int msgset_remove(struct msgset *s, uint32_t lo, uint32_t hi)
{
    if (!range_order(&lo, &hi))
        return -EINVAL;
    /* The ranges lo:hi overlaps are i up to j (exclusive). */
    size_t i = first_ending_from(s, 0, lo);
    size_t j = first_starting_after(s, i, hi);
    if (i == j)
        return 0;
    /* What survives of the first and last ranges touched: a head below lo, a tail above hi. */
    bool head = s->r[i].lo < lo, tail = s->r[j - 1].hi > hi;
    struct msgset_range h = { s->r[i].lo, lo - 1 }, t = { hi + 1, s->r[j - 1].hi };
    size_t keep = (size_t)head + (size_t)tail;
    if (keep > j - i && reserve(s, s->n + 1))
        return -ENOMEM;
    memmove(&s->r[i + keep], &s->r[j], (s->n - j) * sizeof *s->r);
    s->n = s->n - (j - i) + keep;
    if (head)
        s->r[i++] = h;
    if (tail)
        s->r[i] = t;
    return 0;
}

/* Reads one sequence number or '*' at text[*i]; returns 0 and the value, or -EINVAL. */
static int parse_number(const char *text, size_t len, size_t *i, uint32_t star, uint32_t *out,
                        char *err, size_t errlen)
{
    size_t at = *i;
    if (at < len && text[at] == '*') {
        if (star == 0) {
            snprintf(err, errlen, "message set: '*' at offset %zu but the mailbox is empty", at);
            return -EINVAL;
        }
        *out = star;
        *i = at + 1;
        return 0;
    }
    if (at >= len || text[at] < '1' || text[at] > '9') {
        if (at >= len)
            snprintf(err, errlen, "message set: number expected at offset %zu (end of text)", at);
        else if (text[at] == '0')
            snprintf(err, errlen, "message set: zero or leading zero at offset %zu", at);
        else
            snprintf(err, errlen, "message set: unexpected '%c' at offset %zu",
                     (text[at] >= 0x21 && text[at] < 0x7f) ? text[at] : '?', at);
        return -EINVAL;
    }
    uint64_t v = 0;
    while (at < len && text[at] >= '0' && text[at] <= '9') {
        v = v * 10 + (uint64_t)(text[at] - '0');
        if (v > UINT32_MAX) {
            snprintf(err, errlen, "message set: number at offset %zu exceeds 4294967295", *i);
            return -EINVAL;
        }
        at++;
    }
    *out = (uint32_t)v;
    *i = at;
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct msgset_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Restores the invariant over raw ranges in s->r: sorts if needed, then merges in place.
 * O(n log n) for any order, so hostile descending text cannot make parsing quadratic. */
static void normalize(struct msgset *s)
{
    qsort(s->r, s->n, sizeof *s->r, range_cmp);
    size_t n = s->n;
    s->n = 0;
    for (size_t i = 0; i < n; i++)
        push(s, s->r[i].lo, s->r[i].hi);   /* writes at index <= i: safe in place */
}

int msgset_parse(struct msgset *s, const char *text, size_t len, uint32_t star,
                 char *err, size_t errlen)
{
    msgset_clear(s);
    if (len == 0) {
        snprintf(err, errlen, "message set: empty text");
        return -EINVAL;
    }
    size_t i = 0;
    bool sorted = true;
    for (;;) {
        uint32_t lo, hi;
        int rc = parse_number(text, len, &i, star, &lo, err, errlen);
        if (rc)
            goto fail;
        hi = lo;
        if (i < len && text[i] == ':') {
            i++;
            rc = parse_number(text, len, &i, star, &hi, err, errlen);
            if (rc)
                goto fail;
            if (lo > hi) {
                uint32_t t = lo;
                lo = hi;
                hi = t;
            }
        }
        /* Raw ranges first; normalize() merges them once at the end. */
        if (reserve(s, s->n + 1)) {
            snprintf(err, errlen, "message set: out of memory");
            msgset_clear(s);
            return -ENOMEM;
        }
        if (s->n && lo < s->r[s->n - 1].lo)
            sorted = false;
        if (sorted)
            push(s, lo, hi);
        else {
            s->r[s->n].lo = lo;
            s->r[s->n].hi = hi;
            s->n++;
        }
        if (i == len) {
            if (!sorted)
                normalize(s);
            return 0;
        }
        if (text[i] != ',') {
            unsigned char ch = (unsigned char)text[i];
            snprintf(err, errlen, "message set: unexpected '%c' at offset %zu (',' expected)",
                     (ch >= 0x21 && ch < 0x7f) ? ch : '?', i);
            goto fail;
        }
        i++;
    }
fail:
    msgset_clear(s);
    return -EINVAL;
}

static size_t digits(uint32_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static size_t range_text_len(const struct msgset_range *r)
{
    return r->lo == r->hi ? digits(r->lo) : digits(r->lo) + 1 + digits(r->hi);
}

/* Writes v's decimal digits at p; returns the end. */
static char *put_u32(char *p, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_range(char *p, const struct msgset_range *r)
{
    p = put_u32(p, r->lo);
    if (r->hi != r->lo) {
        *p++ = ':';
        p = put_u32(p, r->hi);
    }
    return p;
}

char *msgset_format(const struct msgset *s)
{
    size_t total = 1;
    for (size_t i = 0; i < s->n; i++)
        total += range_text_len(&s->r[i]) + (i > 0);
    char *out = malloc(total);
    if (!out)
        return NULL;
    char *p = out;
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            *p++ = ',';
        p = put_range(p, &s->r[i]);
    }
    *p = '\0';
    return out;
}

size_t msgset_format_piece(const struct msgset *s, size_t *pos, char *buf, size_t budget)
{
    size_t used = 0;
    size_t i = *pos;
    while (i < s->n) {
        size_t need = range_text_len(&s->r[i]) + (used > 0);
        if (used + need > budget)
            break;
        if (used)
            buf[used++] = ',';
        used = (size_t)(put_range(buf + used, &s->r[i]) - buf);
        i++;
    }
    buf[used] = '\0';
    *pos = i;
    return used;
}

/* Each operation may produce at most a.n + b.n ranges. */
static int prepare(struct msgset *out, const struct msgset *a, const struct msgset *b)
{
    msgset_clear(out);
    if (a->n > SIZE_MAX / 2 || b->n > SIZE_MAX / 2)
        return -ENOMEM;
    return reserve(out, a->n + b->n);
}

int msgset_union(struct msgset *out, const struct msgset *a, const struct msgset *b)
{
    if (prepare(out, a, b))
        return -ENOMEM;
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        const struct msgset_range *r;
        if (j >= b->n || (i < a->n && a->r[i].lo <= b->r[j].lo))
            r = &a->r[i++];
        else
            r = &b->r[j++];
        push(out, r->lo, r->hi);
    }
    return 0;
}

int msgset_intersect(struct msgset *out, const struct msgset *a, const struct msgset *b)
{
    if (prepare(out, a, b))
        return -ENOMEM;
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        uint32_t lo = a->r[i].lo > b->r[j].lo ? a->r[i].lo : b->r[j].lo;
        uint32_t hi = a->r[i].hi < b->r[j].hi ? a->r[i].hi : b->r[j].hi;
        if (lo <= hi) {
            out->r[out->n].lo = lo;   /* inputs are disjoint, so pieces never touch */
            out->r[out->n].hi = hi;
            out->n++;
        }
        if (a->r[i].hi < b->r[j].hi)
            i++;
        else
            j++;
    }
    return 0;
}

int msgset_difference(struct msgset *out, const struct msgset *a, const struct msgset *b)
{
    if (prepare(out, a, b))
        return -ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t lo = a->r[i].lo, hi = a->r[i].hi;
        while (j < b->n && b->r[j].hi < lo)
            j++;
        /* b ranges from j on end at or after lo; cut each out of lo..hi. */
        size_t k = j;
        while (lo <= hi && k < b->n && b->r[k].lo <= hi) {
            if (b->r[k].lo > lo) {
                out->r[out->n].lo = (uint32_t)lo;
                out->r[out->n].hi = b->r[k].lo - 1;
                out->n++;
            }
            lo = (uint64_t)b->r[k].hi + 1;
            k++;
        }
        if (lo <= hi) {
            out->r[out->n].lo = (uint32_t)lo;
            out->r[out->n].hi = (uint32_t)hi;
            out->n++;
        }
        /* b->r[k-1] may reach into a->r[i+1]: keep j there, not past it. */
        if (k > j)
            j = k - 1;
    }
    return 0;
}

int msgset_copy(struct msgset *dst, const struct msgset *src)
{
    msgset_clear(dst);
    if (reserve(dst, src->n))
        return -ENOMEM;
    if (src->n)
        memcpy(dst->r, src->r, src->n * sizeof *src->r);
    dst->n = src->n;
    return 0;
}

uint64_t msgset_count(const struct msgset *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += (uint64_t)s->r[i].hi - s->r[i].lo + 1;
    return n;
}

bool msgset_contains(const struct msgset *s, uint32_t v)
{
    size_t a = 0, b = s->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (s->r[m].hi < v)
            a = m + 1;
        else
            b = m;
    }
    return a < s->n && s->r[a].lo <= v;
}

bool msgset_equal(const struct msgset *a, const struct msgset *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof *a->r) == 0);
}

uint32_t msgset_min(const struct msgset *s)
{
    return s->n ? s->r[0].lo : 0;
}

uint32_t msgset_max(const struct msgset *s)
{
    return s->n ? s->r[s->n - 1].hi : 0;
}

uint32_t msgset_nth(const struct msgset *s, uint64_t n)
{
    for (size_t i = 0; i < s->n && n > 0; i++) {
        uint64_t len = (uint64_t)s->r[i].hi - s->r[i].lo + 1;
        if (n <= len)
            return (uint32_t)(s->r[i].lo + (n - 1));
        n -= len;
    }
    return 0;
}

void msgset_iter_init(struct msgset_iter *it, const struct msgset *s)
{
    it->s = s;
    it->i = 0;
    it->next = s->n ? s->r[0].lo : 0;
}

bool msgset_iter_next(struct msgset_iter *it, uint32_t *out)
{
    const struct msgset *s = it->s;
    if (it->i >= s->n)
        return false;
    *out = (uint32_t)it->next;
    if (it->next >= s->r[it->i].hi) {
        it->i++;
        if (it->i < s->n)
            it->next = s->r[it->i].lo;
    } else {
        it->next++;
    }
    return true;
}
