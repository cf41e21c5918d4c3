/* tunnel.h — a command as the connection (mbsync's Tunnel, git imap-send's tunnel): /bin/sh -c
 * COMMAND, its stdout the transport's descriptor to read and its stdin the one to write; its
 * stderr read line by line on the loop; and its end: exit status, the last lines of stderr,
 * waiting for it and killing it when it does not go. */
#ifndef IMAPSCRIPT_TUNNEL_H
#define IMAPSCRIPT_TUNNEL_H

#include <stddef.h>
#include <sys/types.h>

struct loop;
struct tunnel;

/* Gets each line the command writes to its stderr (no newline, control characters made '?'). */
typedef void (*tunnel_line_fn)(void *ud, const char *line);

/* Starts command; *rfd reads its stdout (a pipe), *wfd writes its stdin (a socket: send with
 * MSG_NOSIGNAL); both non-blocking and close-on-exec, the caller watches and closes them. Lines
 * of the command's stderr go to line(ud, text) whenever the loop runs; without a function, to
 * our stderr. Returns 0 with *out, or -1 with err filled
 * ("tunnel: cannot start /bin/sh: ..."). Only a failure to start here is reported: a command
 * that is not found or fails shows as the end of the stream (tunnel_why_ended). */
int tunnel_start(struct loop *l, const char *command, tunnel_line_fn line, void *ud,
                 struct tunnel **out, int *rfd, int *wfd, char *err, size_t errlen);

/* Why the stream from the command ended, for messages: waits up to wait_ms for the command to
 * exit and for the rest of its stderr, then "the tunnel command exited with status 255 (stderr:
 * no such host)", "... was killed by signal 9 (Killed)", or, still running, "the tunnel
 * command closed its output". Valid until t is closed. */
const char *tunnel_why_ended(struct tunnel *t, int wait_ms);

/* The command's process id (the shell's). */
pid_t tunnel_pid(const struct tunnel *t);

/* After the caller closed its descriptors (the command reads end of file): waits up to
 * grace_ms for the command to exit, then sends SIGTERM to it and to every process under it,
 * SIGKILL a second later; reaps it, so no zombie is left; passes on the rest of its stderr;
 * frees t. NULL is fine. */
void tunnel_close(struct tunnel *t, int grace_ms);

#endif
