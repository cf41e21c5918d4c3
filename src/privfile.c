/* privfile.c — the state directory and the owner-only files in it (see privfile.h). */
#include "privfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int privfile_mkdirs(const char *dir, char *err, size_t errlen)
{
    size_t n = strlen(dir);
    if (n == 0) {
        snprintf(err, errlen, "empty directory name");
        return -EINVAL;
    }
    char *p = strdup(dir);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* Each prefix ending at a '/', then the whole path. */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            int e = errno;
            snprintf(err, errlen, "cannot create %s: %s", p, strerror(e));
            free(p);
            return -e;
        }
        p[i] = c;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        return -ENOTDIR;
    }
    return 0;
}

int privfile_write(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(tmp, n + 16, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int e = 0;
    if (fd < 0) {
        e = errno;
    } else {
        const char *p = data;
        size_t left = len;
        while (left > 0 && e == 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno != EINTR)
                e = errno;
            else if (w > 0) {
                p += w;
                left -= (size_t)w;
            }
        }
        if (e == 0 && fsync(fd) < 0)
            e = errno;
        if (close(fd) < 0 && e == 0)
            e = errno;
        if (e == 0 && rename(tmp, path) < 0)
            e = errno;
        if (e != 0)
            unlink(tmp);
    }
    free(tmp);
    if (e != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}
