/* fuzz_parser.c — libFuzzer target: the parser fed in several splits must give the same
 * responses (hashed) as a one-shot feed, and every decoder runs on every response. With
 * streaming on, odd-sized big literals are taken in parts (their bytes hashed as they come)
 * and long lines of numbers come in parts (their values hashed one after the other). */
#include "decode.h"
#include "parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_value(uint64_t h, const struct imap_value *v)
{
    h = mix(h, &v->type, sizeof v->type);
    h = mix(h, &v->len, sizeof v->len);
    switch (v->type) {
    case IMAP_ATOM:
    case IMAP_STRING:
        h = mix(h, v->u.str, v->len + 1);
        break;
    case IMAP_NUMBER:
        h = mix(h, &v->u.num, sizeof v->u.num);
        break;
    case IMAP_STREAMED:
        break;
    case IMAP_LIST:
        for (size_t i = 0; i < v->len; i++)
            h = hash_value(h, &v->u.items[i]);
        break;
    default:
        break;
    }
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return s ? mix(h, s, strlen(s) + 1) : mix(h, "\xff", 1);
}

static uint64_t hash_response(uint64_t h, const struct imap_response *r)
{
    h = mix(h, &r->kind, sizeof r->kind);
    h = mix(h, &r->status, sizeof r->status);
    h = hash_str(h, r->tag);
    h = hash_str(h, r->text);
    h = hash_str(h, r->name);
    h = mix(h, &r->has_number, sizeof r->has_number);
    h = mix(h, &r->number, sizeof r->number);
    h = mix(h, &r->offset, sizeof r->offset);
    h = mix(h, &r->code.kind, sizeof r->code.kind);
    h = hash_str(h, r->code.name);
    h = hash_str(h, r->code.text);
    h = hash_str(h, r->code.set1);
    h = hash_str(h, r->code.set2);
    h = mix(h, &r->code.num, sizeof r->code.num);
    for (size_t i = 0; i < r->code.nlist; i++)
        h = hash_value(h, &r->code.list[i]);
    for (size_t i = 0; i < r->nargs; i++)
        h = hash_value(h, &r->args[i]);
    return h;
}

/* Runs decode_envelope and decode_body on every list in the tree. */
static void decode_lists(const struct imap_value *v, struct arena *a, char *err, size_t errlen)
{
    if (v->type != IMAP_LIST)
        return;
    struct imap_envelope e;
    struct imap_body b;
    (void)decode_envelope(v, a, &e, err, errlen);
    (void)decode_body(v, a, &b, err, errlen);
    for (size_t i = 0; i < v->len; i++)
        decode_lists(&v->u.items[i], a, err, errlen);
}

static void decode_all(const struct imap_response *r, struct arena *a)
{
    char err[256];
    struct imap_fetch f;
    if (decode_fetch(r, a, &f, err, sizeof err) == 0) {
        const struct imap_fetch_item *it;
        (void)fetch_item(&f, "BODY", "HEADER.FIELDS (SUBJECT FROM)");
        (void)fetch_item(&f, "BINARY", "1");
        if ((it = fetch_item(&f, "ENVELOPE", NULL)) != NULL) {
            struct imap_envelope e;
            (void)decode_envelope(it->value, a, &e, err, sizeof err);
        }
        if ((it = fetch_item(&f, "BODYSTRUCTURE", NULL)) != NULL) {
            struct imap_body b;
            (void)decode_body(it->value, a, &b, err, sizeof err);
        }
    }
    struct imap_search s;
    struct imap_list_entry l;
    struct imap_status_data st;
    struct imap_vanished v;
    (void)decode_search(r, a, &s, err, sizeof err);
    (void)decode_list(r, a, &l, err, sizeof err);
    (void)decode_status(r, a, &st, err, sizeof err);
    (void)decode_vanished(r, a, &v, err, sizeof err);
    for (size_t i = 0; i < r->nargs; i++) {
        (void)imap_value_str(&r->args[i]);
        (void)imap_value_is(&r->args[i], "NIL");
        decode_lists(&r->args[i], a, err, sizeof err);
    }
    arena_reset(a);
}

/* A part: hashed so that how the input was split does not show. */
static uint64_t hash_part(uint64_t h, struct imap_parser *p, const struct imap_response *r)
{
    if (r->part == IMAP_PART_DATA)      /* how many parts depends on the split: not hashed */
        return mix(h, r->data, r->datalen);
    h = mix(h, &r->part, sizeof r->part);
    switch (r->part) {
    case IMAP_PART_LITERAL:
        h = mix(h, &r->lit_size, sizeof r->lit_size);
        for (size_t i = 0; i < r->nopen; i++)
            h = hash_value(h, &r->open[i]);
        if (r->lit_size % 2)
            parser_stream_literal(p);
        return h;
    default:
        for (size_t i = 0; i < r->nargs; i++)
            h = hash_value(h, &r->args[i]);
        return h;
    }
}

/* Feeds data in pieces of `step` bytes (0 = varying, from the data itself); returns a hash
 * of every response and the final error. */
static uint64_t run(const uint8_t *data, size_t size, size_t step,
                    const struct imap_parser_limits *lim, bool decode)
{
    struct imap_parser *p = parser_new(lim);
    if (!p)
        return 0;
    struct arena a;
    arena_init(&a, 4096);
    uint64_t h = 14695981039346656037ull;
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        struct imap_response *r;
        while ((rc = parser_next(p, &r)) == 1) {
            if (r->part != IMAP_PART_NONE) {
                h = hash_part(h, p, r);
                continue;
            }
            h = hash_response(h, r);
            h = mix(h, &r->tail, sizeof r->tail);
            if (decode)
                decode_all(r, &a);
        }
        if (rc < 0 || pos == size)
            break;
        size_t k = step ? step : 1 + (data[pos] % 13) * (data[pos] % 7);
        if (k > size - pos)
            k = size - pos;
        if (parser_feed(p, (const char *)data + pos, k) < 0)
            break;
        pos += k;
    }
    if (rc < 0)
        h = hash_str(h, parser_error(p));
    h = mix(h, &rc, sizeof rc);
    uint64_t off = parser_offset(p);
    h = mix(h, &off, sizeof off);
    parser_free(p);
    arena_free(&a);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0], lim_sel = data[1];
    data += 2;
    size -= 2;
    struct imap_parser_limits lim = { 0 };
    if (lim_sel & 1) {
        lim.max_line = 16 + (lim_sel >> 1) * 8;
        lim.max_depth = 1 + (lim_sel >> 4);
        lim.max_literal = (lim_sel >> 2) * 16;
        lim.max_response = 64 + (size_t)lim_sel * 4;
    }
    if (mode & 0x80) {
        lim.stream_literal = 1 + (mode & 0x1f);
        lim.stream_list = 64;
    }
    static const size_t steps[] = { 1, 2, 3, 7, 64, 0 };
    size_t step = steps[mode % (sizeof steps / sizeof steps[0])];
    uint64_t whole = run(data, size, size ? size : 1, &lim, true);
    uint64_t split = run(data, size, step, &lim, false);
    if (whole != split)
        __builtin_trap();   /* a split changed the result */
    return 0;
}

/* Undefined behaviour stops the run like a crash, so the input is kept. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}
