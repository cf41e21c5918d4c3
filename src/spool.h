/* spool.h — bytes kept for later, whatever their number: in memory up to a limit, beyond it in
 * an unlinked temporary file, so that the page cache, not the process, holds a big text. */
#ifndef IMAPSCRIPT_SPOOL_H
#define IMAPSCRIPT_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct spool {
    char *mem;
    size_t len, cap, max_mem;
    FILE *file;                     /* the bytes past max_mem, once there are any */
    uint64_t size;
    int err;                        /* sticky: 0 or -errno */
};

/* An empty spool holding up to max_mem bytes in memory. Allocates nothing yet. */
void spool_init(struct spool *s, size_t max_mem);
/* Appends n bytes; 0, or the sticky -errno (out of memory, no temporary file, disk full). The
 * file is made in $TMPDIR (else /tmp), mode 0600, and unlinked at once. */
int spool_add(struct spool *s, const void *p, size_t n);
/* Copies the first n bytes (at most spool_size) to dst, in order. 0 or -errno. */
int spool_read(struct spool *s, char *dst, uint64_t n);
uint64_t spool_size(const struct spool *s);
void spool_free(struct spool *s);

#endif
