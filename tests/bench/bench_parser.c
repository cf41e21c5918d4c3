/* bench_parser.c — parser + FETCH/ENVELOPE decoding throughput on a generated ~200 MB stream
 * of realistic header FETCH replies, fed in 64 KiB pieces like socket reads. */
#include "decode.h"
#include "parser.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_BYTES ((size_t)200 << 20)
#define CHUNK        65536

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *first[] = { "Alice", "Bob", "Carol", "Dave", "Eve", "Mallory", "Trent",
                               "Peggy", "Victor", "Walter", "Zoë", "Jürgen" };
static const char *last[] = { "Example", "Smith", "Müller", "O'Neil", "Nakamura", "Dubois",
                              "Kowalski", "Rossi" };
static const char *domains[] = { "example.org", "lists.lua.org", "mail.example.net",
                                 "corp.example.com", "gmail.com", "kernel.org" };
static const char *words[] = { "Re:", "[PATCH", "v2]", "lua", "release", "meeting", "notes",
                               "urgent", "update", "build", "failure", "on", "the", "new",
                               "parser", "weekly", "digest", "question", "about", "IMAP" };

struct gen { char *s; size_t len, cap; };

static void gen_add(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void gen_add(struct gen *g, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(g->s + g->len, g->cap - g->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < g->cap - g->len) {
            g->len += (size_t)n;
            return;
        }
        g->cap *= 2;
        g->s = realloc(g->s, g->cap);
        if (!g->s) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
}

static void subject(char *out, size_t cap)
{
    size_t k = 0, n = 3 + rng() % 9;
    out[0] = '\0';
    for (size_t i = 0; i < n && k + 20 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? " " : "", words[rng() % 20]);
}

static void address(struct gen *g)
{
    const char *f = first[rng() % 12], *l = last[rng() % 8], *d = domains[rng() % 6];
    gen_add(g, "(\"%s %s\" NIL \"%s.%s%u\" \"%s\")", f, l, f, l, (unsigned)(rng() % 100), d);
}

static size_t generate(struct gen *g)
{
    size_t n = 0;
    while (g->len < TARGET_BYTES) {
        n++;
        char subj[256], hdr[1024];
        subject(subj, sizeof subj);
        int hl = snprintf(hdr, sizeof hdr,
                          "Subject: %s\r\nFrom: %s %s <%s@%s>\r\nList-Id: Lua mailing list "
                          "<lua-l.lists.lua.org>\r\n\r\n",
                          subj, first[rng() % 12], last[rng() % 8], first[rng() % 12],
                          domains[rng() % 6]);
        gen_add(g, "* %zu FETCH (UID %zu FLAGS (\\Seen $X) RFC822.SIZE %u INTERNALDATE "
                   "\"%02u-Jul-2024 %02u:%02u:%02u +0200\" ENVELOPE (\"Wed, %u Jul 2024 "
                   "%02u:%02u:%02u +0200\" \"%s\" (",
                n, n * 3 + 1000, (unsigned)(2000 + rng() % 200000), (unsigned)(1 + rng() % 28),
                (unsigned)(rng() % 24), (unsigned)(rng() % 60), (unsigned)(rng() % 60),
                (unsigned)(1 + rng() % 28), (unsigned)(rng() % 24), (unsigned)(rng() % 60),
                (unsigned)(rng() % 60), subj);
        address(g);
        gen_add(g, ") (");
        address(g);
        gen_add(g, ") NIL (");
        for (unsigned i = 0, k = 1 + (unsigned)(rng() % 3); i < k; i++)
            address(g);
        gen_add(g, ") %s NIL %s \"<%zu.%u@%s>\") BODY[HEADER.FIELDS (SUBJECT FROM LIST-ID)] {%d}\r\n%s)\r\n",
                rng() % 3 ? "NIL" : "((NIL NIL \"team\" NIL)(\"Bob\" NIL \"bob\" \"x.org\")(NIL NIL NIL NIL))",
                rng() % 2 ? "NIL" : "\"<parent@example.org>\"", n, (unsigned)(rng() % 100000),
                domains[rng() % 6], hl, hdr);
    }
    return n;
}

int main(void)
{
    struct gen g = { malloc(1 << 20), 0, 1 << 20 };
    if (!g.s)
        return 1;
    size_t want = generate(&g);

    struct imap_parser *p = parser_new(NULL);
    struct arena a;
    arena_init(&a, 0);
    char err[256];
    size_t got = 0, addresses = 0;
    uint64_t uid_sum = 0, want_sum = 0;
    for (size_t i = 1; i <= want; i++)
        want_sum += i * 3 + 1000;

    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (size_t pos = 0; pos < g.len;) {
        size_t avail, k = g.len - pos < CHUNK ? g.len - pos : CHUNK;
        char *sp = parser_space(p, CHUNK, &avail);
        if (!sp) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        memcpy(sp, g.s + pos, k);   /* stands in for read(2) */
        parser_commit(p, k);
        pos += k;
        struct imap_response *r;
        int rc;
        while ((rc = parser_next(p, &r)) == 1) {
            struct imap_fetch f;
            struct imap_envelope e;
            const struct imap_fetch_item *it;
            if (decode_fetch(r, &a, &f, err, sizeof err) < 0 ||
                !(it = fetch_item(&f, "ENVELOPE", NULL)) ||
                decode_envelope(it->value, &a, &e, err, sizeof err) < 0 ||
                !fetch_item(&f, "BODY", "HEADER.FIELDS (SUBJECT FROM LIST-ID)")) {
                fprintf(stderr, "decode failed: %s\n", err);
                return 1;
            }
            uid_sum += f.uid;
            addresses += e.nfrom + e.nto + e.ncc;
            got++;
            arena_reset(&a);
        }
        if (rc < 0) {
            fprintf(stderr, "parse failed: %s\n", parser_error(p));
            return 1;
        }
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    double mb = (double)g.len / 1e6;
    /* CPU time of this thread is the one-core figure; wall time also counts other load. */
    printf("parsed %.0f MB in %.3f s: %.0f MB/s (%zu responses, %zu addresses; wall %.3f s, "
           "%.0f MB/s)\n", mb, cpu, mb / cpu, got, addresses, s, mb / s);
    parser_free(p);
    arena_free(&a);
    free(g.s);
    if (got != want || uid_sum != want_sum) {
        fprintf(stderr, "expected %zu responses (uid sum %" PRIu64 "), got %zu (%" PRIu64 ")\n",
                want, want_sum, got, uid_sum);
        return 1;
    }
    return 0;
}
