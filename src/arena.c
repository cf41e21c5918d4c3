/* arena.c — bump allocator: chunks linked newest first, freed together.
 * Large requests get a chunk of their own so ordinary chunks stay small. */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
};

void arena_init(struct arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 16384;
    a->used = 0;
}

static struct arena_chunk *chunk_new(size_t size, struct arena_chunk *next)
{
    struct arena_chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->next = next;
    c->size = size;
    c->used = 0;
    return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n > SIZE_MAX - align)
        return NULL;
    n = (n + align - 1) & ~(align - 1);
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        if (n > a->chunk_size / 4) {
            /* A big block gets its own chunk behind the current one, so the
             * current chunk keeps its free space. */
            struct arena_chunk *big = chunk_new(n, c ? c->next : NULL);
            if (!big)
                return NULL;
            if (c)
                c->next = big;
            else
                a->head = big;
            big->used = n;
            a->used += n;
            return big->data;
        }
        c = chunk_new(a->chunk_size, a->head);
        if (!c)
            return NULL;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? arena_alloc(a, n + 1) : NULL;
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strndup_upper(struct arena *a, const char *s, size_t n)
{
    char *p = arena_strndup(a, s, n);
    for (size_t i = 0; p && i < n; i++)
        if (p[i] >= 'a' && p[i] <= 'z')
            p[i] = (char)(p[i] - 'a' + 'A');
    return p;
}

void arena_reset(struct arena *a)
{
    /* Keep one ordinary-sized chunk for the next response. */
    struct arena_chunk *keep = NULL, *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        if (!keep && c->size == a->chunk_size)
            keep = c;
        else
            free(c);
        c = next;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
    a->used = 0;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}
