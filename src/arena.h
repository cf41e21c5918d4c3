/* arena.h — bump allocator for data that dies together (one response's parse tree).
 * Everything allocated from an arena is freed at once by arena_reset or arena_free. */
#ifndef IMAPSCRIPT_ARENA_H
#define IMAPSCRIPT_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;   /* chunk being filled; older chunks follow */
    size_t chunk_size;          /* size of ordinary chunks */
    size_t used;                /* bytes handed out since the last reset */
};

void arena_init(struct arena *a, size_t chunk_size);
/* Returns n bytes aligned for any type, or NULL when memory runs out. */
void *arena_alloc(struct arena *a, size_t n);
/* Copies s[0..n) and a NUL into the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Same, with ASCII letters upper-cased (atoms compared case-insensitively: "FETCH", "FLAGS"). */
char *arena_strndup_upper(struct arena *a, const char *s, size_t n);
/* Frees all but the first chunk and makes it empty again. */
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
