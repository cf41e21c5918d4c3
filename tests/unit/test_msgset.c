/* test_msgset.c — message sets: parsing, formatting, splitting, and set algebra checked against
 * a bitmap oracle on random sets; one timed run on a million UIDs. */
#include "check.h"
#include "msgset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Parses text with star and returns the formatted result (static buffer), or "ERR". */
static const char *norm(const char *text, uint32_t star)
{
    static char out[256];
    struct msgset s;
    char err[128];
    msgset_init(&s);
    if (msgset_parse(&s, text, strlen(text), star, err, sizeof err) != 0) {
        msgset_free(&s);
        return "ERR";
    }
    char *f = msgset_format(&s);
    snprintf(out, sizeof out, "%s", f ? f : "(oom)");
    free(f);
    msgset_free(&s);
    return out;
}

static void test_add(void)
{
    struct msgset s;
    msgset_init(&s);
    char *f = msgset_format(&s);
    CHECK_STR(f, "");
    free(f);
    CHECK_INT(msgset_add(&s, 5, 7), 0);
    CHECK_INT(msgset_add(&s, 8, 8), 0);      /* adjacent: merges */
    CHECK_INT(msgset_add(&s, 10, 12), 0);
    CHECK_INT(msgset_add(&s, 2, 1), 0);      /* out of order, reversed */
    CHECK_INT(msgset_add(&s, 3, 3), 0);      /* fills the gap 3 */
    f = msgset_format(&s);
    CHECK_STR(f, "1:3,5:8,10:12");
    free(f);
    CHECK_INT(msgset_add(&s, 4, 9), 0);      /* bridges three ranges */
    f = msgset_format(&s);
    CHECK_STR(f, "1:12");
    free(f);
    CHECK_INT(msgset_add(&s, 0, 3), -EINVAL);
    CHECK_INT(msgset_add(&s, UINT32_MAX, UINT32_MAX - 1), 0);
    CHECK_INT(msgset_add(&s, 20, 20), 0);
    f = msgset_format(&s);
    CHECK_STR(f, "1:12,20,4294967294:4294967295");
    free(f);
    CHECK_INT(msgset_count(&s), 15);
    CHECK(msgset_contains(&s, 12));
    CHECK(!msgset_contains(&s, 13));
    CHECK(msgset_contains(&s, UINT32_MAX));
    CHECK(!msgset_contains(&s, 0));
    CHECK_INT(msgset_min(&s), 1);
    CHECK_INT(msgset_max(&s), UINT32_MAX);
    msgset_clear(&s);
    CHECK_INT(msgset_count(&s), 0);
    CHECK_INT(msgset_min(&s), 0);
    msgset_free(&s);
}

static void test_parse(void)
{
    CHECK_STR(norm("1:3,5,7:*", 10), "1:3,5,7:10");
    CHECK_STR(norm("*:4", 6), "4:6");
    CHECK_STR(norm("4:2", 6), "2:4");
    CHECK_STR(norm("*", 6), "6");
    CHECK_STR(norm("3,1,2", 0), "1:3");
    CHECK_STR(norm("1:5,2:3,4:9", 0), "1:9");
    CHECK_STR(norm("4294967295,1", 0), "1,4294967295");
    CHECK_STR(norm("1:4294967295", 0), "1:4294967295");
    CHECK_STR(norm("*:*", 3), "3");
    const char *bad[] = { "", "0", "1,", ",1", "1::2", "a", "1 2", "4294967296", "*", "01",
                          "1:0", "1:", ":1", "1,,2", "1;2", "99999999999999999999", "1:*x" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (strcmp(norm(bad[i], 0), "ERR") != 0)
            fprintf(stderr, "accepted bad set \"%s\"\n", bad[i]);
        CHECK_STR(norm(bad[i], 0), "ERR");
    }

    struct msgset s;
    char err[128];
    msgset_init(&s);
    CHECK_INT(msgset_parse(&s, "1:3,5x", 6, 0, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "offset 5") != NULL);
    CHECK_INT(s.n, 0);
    CHECK_INT(msgset_parse(&s, "1,*", 3, 0, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "offset 2") != NULL);
    /* not NUL-terminated: only len bytes are read */
    CHECK_INT(msgset_parse(&s, "12345", 2, 0, err, sizeof err), 0);
    CHECK_INT(msgset_max(&s), 12);
    msgset_free(&s);
}

/* ---- random sets against a bitmap oracle ---- */
#define U 300   /* universe size */

struct oracle { uint32_t base; unsigned char bit[U]; };

/* A random set over base..base+U-1, built by adds in random order, and its bitmap. */
static void random_set(struct msgset *s, struct oracle *o, uint32_t base)
{
    msgset_clear(s);
    memset(o->bit, 0, sizeof o->bit);
    o->base = base;
    int adds = (int)(rng() % 40);
    int maxlen = 1 + (int)(rng() % 30);
    for (int k = 0; k < adds; k++) {
        uint32_t a = (uint32_t)(rng() % U), len = (uint32_t)(rng() % (uint32_t)maxlen);
        uint32_t b = a + len >= U ? U - 1 : a + len;
        if (rng() & 1)
            CHECK_INT(msgset_add(s, base + b, base + a), 0);
        else
            CHECK_INT(msgset_add(s, base + a, base + b), 0);
        for (uint32_t v = a; v <= b; v++)
            o->bit[v] = 1;
    }
}

/* Checks the invariant and that s holds exactly o's members. */
static int matches(const struct msgset *s, const unsigned char *bit, uint32_t base)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->r[i].lo > s->r[i].hi || s->r[i].lo == 0)
            return 0;
        if (i && (uint64_t)s->r[i - 1].hi + 1 >= s->r[i].lo)
            return 0;
    }
    uint64_t count = 0;
    for (uint32_t v = 0; v < U; v++) {
        if (msgset_contains(s, base + v) != (bit[v] != 0))
            return 0;
        count += bit[v];
    }
    if (msgset_count(s) != count)
        return 0;
    struct msgset_iter it;
    uint32_t x, prev = 0;
    uint64_t seen = 0;
    msgset_iter_init(&it, s);
    while (msgset_iter_next(&it, &x)) {
        if (x < base || x - base >= U || !bit[x - base] || (seen && x <= prev))
            return 0;
        prev = x;
        seen++;
    }
    return seen == count;
}

static void test_algebra_random(void)
{
    struct msgset a, b, out, tmp;
    struct oracle oa, ob;
    unsigned char want[U];
    msgset_init(&a);
    msgset_init(&b);
    msgset_init(&out);
    msgset_init(&tmp);
    const uint32_t bases[] = { 1, 1000, UINT32_MAX - U + 1 };
    int bad = 0;
    for (int round = 0; round < 3000 && !bad; round++) {
        uint32_t base = bases[round % 3];
        random_set(&a, &oa, base);
        random_set(&b, &ob, base);
        if (!matches(&a, oa.bit, base) || !matches(&b, ob.bit, base)) {
            bad = 1;
            break;
        }
        CHECK_INT(msgset_union(&out, &a, &b), 0);
        for (int v = 0; v < U; v++)
            want[v] = oa.bit[v] | ob.bit[v];
        if (!matches(&out, want, base))
            bad = 2;
        CHECK_INT(msgset_intersect(&out, &a, &b), 0);
        for (int v = 0; v < U; v++)
            want[v] = oa.bit[v] & ob.bit[v];
        if (!matches(&out, want, base))
            bad = 3;
        CHECK_INT(msgset_difference(&out, &a, &b), 0);
        for (int v = 0; v < U; v++)
            want[v] = oa.bit[v] & !ob.bit[v];
        if (!matches(&out, want, base))
            bad = 4;
        /* laws: a - b = a & ~b via a - (a & b); union commutes; copy/equal */
        CHECK_INT(msgset_intersect(&tmp, &a, &b), 0);
        struct msgset d2;
        msgset_init(&d2);
        CHECK_INT(msgset_difference(&d2, &a, &tmp), 0);
        if (!msgset_equal(&d2, &out))
            bad = 5;
        CHECK_INT(msgset_union(&out, &a, &b), 0);
        CHECK_INT(msgset_union(&d2, &b, &a), 0);
        if (!msgset_equal(&d2, &out))
            bad = 6;
        CHECK_INT(msgset_copy(&d2, &a), 0);
        if (!msgset_equal(&d2, &a))
            bad = 7;
        msgset_free(&d2);
        int wmin = -1, wmax = -1;
        for (int v = 0; v < U; v++)
            if (oa.bit[v]) {
                if (wmin < 0)
                    wmin = v;
                wmax = v;
            }
        if (msgset_min(&a) != (wmin < 0 ? 0 : base + (uint32_t)wmin) ||
            msgset_max(&a) != (wmax < 0 ? 0 : base + (uint32_t)wmax))
            bad = 8;
    }
    if (bad)
        fprintf(stderr, "algebra mismatch kind %d\n", bad);
    CHECK_INT(bad, 0);
    msgset_free(&a);
    msgset_free(&b);
    msgset_free(&out);
    msgset_free(&tmp);
}

/* msgset_remove of random ranges and msgset_nth, against the bitmap. */
static void test_remove_nth_random(void)
{
    struct msgset a;
    struct oracle oa;
    msgset_init(&a);
    const uint32_t bases[] = { 1, 1000, UINT32_MAX - U + 1 };
    int bad = 0;
    for (int round = 0; round < 3000 && !bad; round++) {
        uint32_t base = bases[round % 3];
        random_set(&a, &oa, base);
        for (int k = 0; k < 4 && !bad; k++) {
            uint32_t lo = (uint32_t)(rng() % U), hi = (uint32_t)(rng() % U);
            if (rng() % 3 == 0)
                hi = lo;
            if (msgset_remove(&a, base + lo, base + hi) != 0)
                bad = 1;
            if (lo > hi) {
                uint32_t t = lo;
                lo = hi;
                hi = t;
            }
            for (uint32_t v = lo; v <= hi; v++)
                oa.bit[v] = 0;
            if (!matches(&a, oa.bit, base))
                bad = 2;
        }
        uint64_t n = 0;
        for (uint32_t v = 0; v < U && !bad; v++)
            if (oa.bit[v] && msgset_nth(&a, ++n) != base + v)
                bad = 3;
        if (msgset_nth(&a, n + 1) != 0 || msgset_nth(&a, 0) != 0)
            bad = 4;
    }
    if (bad)
        fprintf(stderr, "remove/nth mismatch kind %d\n", bad);
    CHECK_INT(bad, 0);
    CHECK_INT(msgset_remove(&a, 0, 5), -EINVAL);
    msgset_free(&a);
}

static void test_roundtrip_random(void)
{
    struct msgset a, b;
    struct oracle o;
    char err[128];
    msgset_init(&a);
    msgset_init(&b);
    int bad = 0;
    for (int round = 0; round < 3000; round++) {
        random_set(&a, &o, round % 2 ? 1 : UINT32_MAX - U + 1);
        if (a.n == 0)
            continue;
        char *f = msgset_format(&a);
        CHECK(f != NULL);
        if (msgset_parse(&b, f, strlen(f), 0, err, sizeof err) != 0 || !msgset_equal(&a, &b))
            bad++;
        free(f);
    }
    CHECK_INT(bad, 0);
    msgset_free(&a);
    msgset_free(&b);
}

/* Ranges written in shuffled order, some reversed, some overlapping: same set back. */
static void test_parse_any_order(void)
{
    struct msgset a, b;
    struct oracle o;
    char err[128];
    msgset_init(&a);
    msgset_init(&b);
    int bad = 0;
    for (int round = 0; round < 2000; round++) {
        random_set(&a, &o, round % 2 ? 1 : UINT32_MAX - U + 1);
        if (a.n == 0)
            continue;
        struct msgset_range items[U + 8];
        size_t n = 0;
        for (size_t i = 0; i < a.n; i++)
            items[n++] = a.r[i];
        if (n > 1)   /* a duplicate, overlapping its original */
            items[n++] = a.r[rng() % a.n];
        for (size_t i = n; i > 1; i--) {
            size_t j = rng() % i;
            struct msgset_range t = items[i - 1];
            items[i - 1] = items[j];
            items[j] = t;
        }
        char text[8192];
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t x = items[i].lo, y = items[i].hi;
            if (rng() & 1) {
                x = items[i].hi;
                y = items[i].lo;
            }
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%u:%u", i ? "," : "", x, y);
        }
        if (msgset_parse(&b, text, len, 0, err, sizeof err) != 0 || !msgset_equal(&a, &b))
            bad++;
    }
    CHECK_INT(bad, 0);
    msgset_free(&a);
    msgset_free(&b);
}

/* Descending text with gaps must not make parsing quadratic. */
static void test_parse_descending(void)
{
    size_t cap = 300000 * 8;
    char *text = malloc(cap);
    size_t len = 0;
    for (uint32_t v = 600000; v >= 2; v -= 2)
        len += (size_t)snprintf(text + len, cap - len, "%s%u", len ? "," : "", v);
    struct msgset s;
    char err[128];
    msgset_init(&s);
    double t0 = now_ms();
    CHECK_INT(msgset_parse(&s, text, len, 0, err, sizeof err), 0);
    double t1 = now_ms();
    CHECK_INT(s.n, 300000);
    CHECK_INT(msgset_min(&s), 2);
    CHECK_INT(msgset_max(&s), 600000);
    printf("msgset parse of 300000 descending numbers: %.1f ms\n", t1 - t0);
    msgset_free(&s);
    free(text);
}

static void test_pieces(void)
{
    struct msgset a, acc, one, tmp;
    struct oracle o;
    char buf[512], err[128];
    msgset_init(&a);
    msgset_init(&acc);
    msgset_init(&one);
    msgset_init(&tmp);
    int bad = 0;
    for (int round = 0; round < 1000; round++) {
        random_set(&a, &o, round % 2 ? 1 : UINT32_MAX - U + 1);
        size_t budget = MSGSET_RANGE_MAX_TEXT + (size_t)(rng() % 80);
        size_t pos = 0, pieces = 0;
        msgset_clear(&acc);
        while (pos < a.n) {
            size_t before = pos;
            size_t len = msgset_format_piece(&a, &pos, buf, budget);
            if (len == 0 || len > budget || pos <= before || strlen(buf) != len) {
                bad++;
                break;
            }
            if (msgset_parse(&one, buf, len, 0, err, sizeof err) != 0) {
                bad++;
                break;
            }
            /* pieces are disjoint and cover the set */
            CHECK_INT(msgset_intersect(&tmp, &acc, &one), 0);
            if (tmp.n)
                bad++;
            CHECK_INT(msgset_union(&tmp, &acc, &one), 0);
            CHECK_INT(msgset_copy(&acc, &tmp), 0);
            pieces++;
        }
        if (!msgset_equal(&acc, &a))
            bad++;
        CHECK_INT(msgset_format_piece(&a, &pos, buf, budget), 0);   /* done */
    }
    CHECK_INT(bad, 0);
    /* a budget too small for the next range: nothing written, pos unchanged */
    msgset_clear(&a);
    CHECK_INT(msgset_add(&a, 100000, 200000), 0);
    size_t pos = 0;
    CHECK_INT(msgset_format_piece(&a, &pos, buf, 5), 0);
    CHECK_INT(pos, 0);
    CHECK_STR(buf, "");
    CHECK_INT(msgset_format_piece(&a, &pos, buf, 13), 13);
    CHECK_STR(buf, "100000:200000");
    CHECK_INT(pos, 1);
    msgset_free(&a);
    msgset_free(&acc);
    msgset_free(&one);
    msgset_free(&tmp);
}

static void test_iter_edges(void)
{
    struct msgset s;
    struct msgset_iter it;
    uint32_t v, got[4];
    int n = 0;
    msgset_init(&s);
    msgset_iter_init(&it, &s);
    CHECK(!msgset_iter_next(&it, &v));
    CHECK_INT(msgset_add(&s, UINT32_MAX - 1, UINT32_MAX), 0);
    CHECK_INT(msgset_add(&s, 1, 1), 0);
    msgset_iter_init(&it, &s);
    while (n < 4 && msgset_iter_next(&it, &v))
        got[n++] = v;
    CHECK_INT(n, 3);
    CHECK_INT(got[0], 1);
    CHECK_INT(got[1], UINT32_MAX - 1);
    CHECK_INT(got[2], UINT32_MAX);
    CHECK(!msgset_iter_next(&it, &v));
    msgset_free(&s);
}

/* A million UIDs, every third missing: ~333k ranges. Timings are printed, not asserted. */
static void test_million(void)
{
    struct msgset a, b, c, d;
    char err[128];
    msgset_init(&a);
    msgset_init(&b);
    msgset_init(&c);
    msgset_init(&d);
    double t0 = now_ms();
    for (uint32_t v = 1; v <= 1500000; v++)
        if (v % 3 != 0)
            CHECK_INT(msgset_add(&a, v, v), 0);
    double t1 = now_ms();
    CHECK_INT(msgset_count(&a), 1000000);
    CHECK_INT(a.n, 500000);
    char *text = msgset_format(&a);
    double t2 = now_ms();
    CHECK(text != NULL);
    CHECK(strncmp(text, "1:2,4:5,7:8,", 12) == 0);
    CHECK_INT(msgset_parse(&b, text, strlen(text), 0, err, sizeof err), 0);
    double t3 = now_ms();
    CHECK(msgset_equal(&a, &b));
    for (uint32_t v = 2; v <= 1500000; v += 2)      /* the even UIDs */
        CHECK_INT(msgset_add(&c, v, v), 0);
    double t4 = now_ms();
    CHECK_INT(msgset_intersect(&d, &a, &c), 0);
    double t5 = now_ms();
    /* evens not divisible by 3: v % 6 in {2, 4} */
    CHECK_INT(msgset_count(&d), 500000);
    CHECK(msgset_contains(&d, 4) && !msgset_contains(&d, 6) && !msgset_contains(&d, 5));
    CHECK_INT(msgset_union(&b, &a, &c), 0);
    CHECK_INT(msgset_difference(&d, &a, &c), 0);
    double t6 = now_ms();
    CHECK_INT(msgset_count(&d), 500000);
    printf("msgset 1M UIDs (%zu ranges, %zu bytes of text): add %.1f ms, format %.1f ms, "
           "parse %.1f ms, intersect %.1f ms, union+difference %.1f ms\n",
           a.n, strlen(text), t1 - t0, t2 - t1, t3 - t2, t5 - t4, t6 - t5);
    free(text);
    msgset_free(&a);
    msgset_free(&b);
    msgset_free(&c);
    msgset_free(&d);
}

int main(void)
{
    RUN(test_add);
    RUN(test_parse);
    RUN(test_algebra_random);
    RUN(test_remove_nth_random);
    RUN(test_roundtrip_random);
    RUN(test_parse_any_order);
    RUN(test_parse_descending);
    RUN(test_pieces);
    RUN(test_iter_edges);
    RUN(test_million);
    return CHECK_DONE();
}
