/* runlock.c — per-account run locks (see runlock.h). */
#include "runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* The pid the holder wrote into the file, or 0. */
static long read_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int runlock_acquire(const char *path, int wait_ms, long *holder, char *err, size_t errlen)
{
    *holder = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "lock %s: %s", path, strerror(e));
        return -e;
    }
    const struct timespec tick = { 0, 100 * 1000 * 1000 };
    for (int waited = 0;; waited += 100) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EWOULDBLOCK || waited >= wait_ms) {
            *holder = e == EWOULDBLOCK ? read_holder(fd) : 0;
            close(fd);
            if (e == EWOULDBLOCK)
                snprintf(err, errlen, "%s is locked by another imapscript run%s", path,
                         *holder ? "" : " (pid unknown)");
            else
                snprintf(err, errlen, "lock %s: %s", path, strerror(e));
            return -e;
        }
        nanosleep(&tick, NULL);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* The lock holds without the pid: only the message of a waiting run is poorer. */
    }
    return fd;
}

void runlock_release(int fd)
{
    if (fd >= 0)
        close(fd);   /* closing the only descriptor drops the flock */
}
