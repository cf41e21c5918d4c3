/* privfile.h — files only their owner may read: the state directory (mode 0700) and what
 * imapscript keeps in it (token cache, history; mode 0600), written atomically. */
#ifndef IMAPSCRIPT_PRIVFILE_H
#define IMAPSCRIPT_PRIVFILE_H

#include <stddef.h>

/* Creates dir and its missing parents with mode 0700 (existing ones are left as they are).
 * Returns 0, or -errno with err filled ("cannot create /x/y: Permission denied"). */
int privfile_mkdirs(const char *dir, char *err, size_t errlen);

/* Replaces path with data (len bytes) as one step: a temporary file of mode 0600 beside it,
 * fsync'd, then renamed over path. Readers see the old or the new content, never a mix.
 * Returns 0, or -errno with err filled. */
int privfile_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
