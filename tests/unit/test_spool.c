/* test_spool.c — spool.c: bytes past the memory limit go to an unlinked file in $TMPDIR and
 * come back in order; nothing is left behind in the directory. */
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "spool.h"

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_round_trip(void)
{
    char dir[] = "/tmp/test_spool_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    setenv("TMPDIR", dir, 1);
    struct spool s;
    spool_init(&s, 1000);
    size_t total = 0;
    char chunk[777];
    for (int i = 0; i < 40; i++) {
        for (size_t k = 0; k < sizeof chunk; k++)
            chunk[k] = (char)(total + k);
        size_t n = 1 + (size_t)(i * 97) % sizeof chunk;
        CHECK_INT(spool_add(&s, chunk, n), 0);
        total += n;
    }
    CHECK_INT(spool_size(&s), total);
    CHECK(s.file != NULL);
    CHECK_INT(entries(dir), 0);         /* unlinked at once */
    char *back = malloc(total);
    CHECK_INT(spool_read(&s, back, total), 0);
    size_t at = 0;
    bool same = true;
    for (int i = 0; i < 40; i++) {
        size_t n = 1 + (size_t)(i * 97) % sizeof chunk;
        for (size_t k = 0; k < n; k++)
            same = same && back[at + k] == (char)(at + k);
        at += n;
    }
    CHECK(same);
    /* a prefix, from memory alone and across into the file */
    memset(back, 0, total);
    CHECK_INT(spool_read(&s, back, 500), 0);
    CHECK(back[499] == (char)499 && back[500] == 0);
    CHECK_INT(spool_read(&s, back, 1500), 0);
    CHECK(back[1499] == (char)1499);
    free(back);
    spool_free(&s);
    CHECK_INT(rmdir(dir), 0);
    unsetenv("TMPDIR");
}

int main(void)
{
    RUN(test_round_trip);
    return CHECK_DONE();
}
