/* spool.c — bytes kept in memory up to a limit, then in an unlinked temporary file: a message's
 * text bigger than the process should hold waits in the page cache until it is wanted. */
#include "spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void spool_init(struct spool *s, size_t max_mem)
{
    memset(s, 0, sizeof *s);
    s->max_mem = max_mem;
}

/* A temporary file nobody else can open: made 0600 (mkstemp) and unlinked at once. */
static FILE *spool_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/imapscript-spool-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f)
        close(fd);
    return f;
}

int spool_add(struct spool *s, const void *p, size_t n)
{
    if (s->err || !n)
        return s->err;
    if (!s->file && s->len + n <= s->max_mem) {
        if (s->len + n > s->cap) {
            size_t cap = s->cap ? s->cap : 16384;
            while (cap < s->len + n)
                cap *= 2;
            if (cap > s->max_mem)
                cap = s->max_mem;
            char *m = realloc(s->mem, cap);
            if (!m)
                return s->err = -ENOMEM;
            s->mem = m;
            s->cap = cap;
        }
        memcpy(s->mem + s->len, p, n);
        s->len += n;
    } else {
        if (!s->file && !(s->file = spool_file()))
            return s->err = -errno;
        if (fwrite(p, 1, n, s->file) != n)
            return s->err = -(errno ? errno : EIO);
    }
    s->size += n;
    return 0;
}

int spool_read(struct spool *s, char *dst, uint64_t n)
{
    if (s->err)
        return s->err;
    if (n > s->size)
        n = s->size;
    size_t head = n < s->len ? (size_t)n : s->len;
    if (head)
        memcpy(dst, s->mem, head);
    if (!s->file || n <= s->len)
        return 0;
    size_t rest = (size_t)(n - s->len);
    if (fflush(s->file) != 0 || fseek(s->file, 0, SEEK_SET) != 0 ||
        fread(dst + s->len, 1, rest, s->file) != rest)
        return s->err = -(errno ? errno : EIO);
    return 0;
}

uint64_t spool_size(const struct spool *s)
{
    return s->size;
}

void spool_free(struct spool *s)
{
    free(s->mem);
    if (s->file)
        fclose(s->file);
    memset(s, 0, sizeof *s);
}
