/* runlock.h — one imapscript run at a time per account: an exclusive flock(2) on a small file
 * in the state directory, which the kernel releases however the holding process ends. */
#ifndef IMAPSCRIPT_RUNLOCK_H
#define IMAPSCRIPT_RUNLOCK_H

#include <stddef.h>

/* Takes the lock on path (creating it with mode 0600), waiting up to wait_ms (0: one try).
 * Returns an open descriptor holding the lock, whose file then names our pid; or -EWOULDBLOCK
 * when another process kept it that long (*holder is its pid when known, else 0), or -errno;
 * err is filled either way. */
int runlock_acquire(const char *path, int wait_ms, long *holder, char *err, size_t errlen);
/* Releases the lock taken by runlock_acquire. */
void runlock_release(int fd);

#endif
