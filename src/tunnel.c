/* tunnel.c — runs a tunnel command under /bin/sh with a socket for its stdin and pipes for its
 * stdout and stderr, passes its stderr on line by line, and ends it: waits for it, and kills it
 * and what it started (found through /proc) when it does not exit in time. */
#include "tunnel.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "loop.h"

#define LINE_MAX_LEN 1024       /* a longer stderr line is passed on in pieces */
#define TAIL_LINES 3            /* stderr lines quoted when the command ends */
#define TAIL_LEN 160
#define TERM_WAIT_MS 1000       /* between SIGTERM and SIGKILL */

struct tunnel {
    pid_t pid;
    int errfd;                  /* read end of the command's stderr; -1 once at end of file */
    struct loop *loop;
    tunnel_line_fn line;
    void *line_ud;
    char lbuf[LINE_MAX_LEN];    /* the stderr line being read */
    size_t llen;
    char tail[TAIL_LINES][TAIL_LEN];    /* the last non-empty lines, a ring */
    unsigned ntail;             /* lines ever put in the ring */
    bool exited;
    int status;                 /* waitpid's, once exited */
    int emitting;               /* inside line(): it may close the tunnel */
    bool dead;                  /* closed from inside line(): freed at the end of the round */
    char why[600];
};

/* ---- the command's stderr ---------------------------------------------------------------- */

static void line_emit(struct tunnel *t)
{
    t->lbuf[t->llen] = '\0';
    if (t->llen && t->lbuf[t->llen - 1] == '\r')
        t->lbuf[--t->llen] = '\0';
    for (size_t i = 0; i < t->llen; i++)    /* hostile text: no terminal escapes, no NULs */
        if ((unsigned char)t->lbuf[i] < 0x20 || t->lbuf[i] == 0x7f)
            t->lbuf[i] = '?';
    if (t->llen) {
        char *slot = t->tail[t->ntail % TAIL_LINES];    /* a long line quoted in part */
        size_t k = t->llen < TAIL_LEN - 1 ? t->llen : TAIL_LEN - 1;
        memcpy(slot, t->lbuf, k);
        slot[k] = '\0';
        t->ntail++;
        t->llen = 0;
        t->emitting++;
        if (t->line)
            t->line(t->line_ud, t->lbuf);
        else
            fprintf(stderr, "%s\n", t->lbuf);
        t->emitting--;
    }
    t->llen = 0;
}

static void stderr_close(struct tunnel *t)
{
    if (t->errfd < 0)
        return;
    if (t->llen && !t->dead)
        line_emit(t);
    if (t->errfd < 0)
        return;
    loop_remove(t->loop, t->errfd);
    close(t->errfd);
    t->errfd = -1;
}

/* Reads what the pipe holds now, passing complete lines on; closes it at end of file. */
static void stderr_drain(struct tunnel *t)
{
    char buf[4096];
    while (t->errfd >= 0) {
        ssize_t n = read(t->errfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            stderr_close(t);
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || t->llen >= LINE_MAX_LEN - 1)    /* line_emit empties lbuf */
                line_emit(t);
            if (t->dead)
                return;
            if (buf[i] != '\n')
                t->lbuf[t->llen++] = buf[i];
        }
    }
}

static void on_stderr(struct loop *l, int fd, int ready, void *ud)
{
    (void)l;
    (void)fd;
    (void)ready;
    stderr_drain(ud);
}

/* ---- starting ---------------------------------------------------------------------------- */

/* fd moved above the standard descriptors (the child puts others on 0, 1 and 2). */
static int above_std(int fd)
{
    if (fd > STDERR_FILENO)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    close(fd);
    return n;
}

/* In the child: only async-signal-safe calls until exec. */
static void child_exec(const char *command, int in, int out, int errw, pid_t parent)
{
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
        dup2(errw, STDERR_FILENO) < 0)
        _exit(127);
    /* Our own choices are not the command's: SIGPIPE is ignored here, and so would it be there. */
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
#ifdef __linux__
    /* imapscript killed (SIGKILL, a crash): the command goes too rather than linger. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
#else
    (void)parent;
#endif
    /* Files Lua opened are not close-on-exec; the command has no business with them. */
    close_range(STDERR_FILENO + 1, ~0U, 0);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    static const char msg[] = "cannot run /bin/sh\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
}

int tunnel_start(struct loop *l, const char *command, tunnel_line_fn line, void *ud,
                 struct tunnel **out, int *rfd, int *wfd, char *err, size_t errlen)
{
    *out = NULL;
    *rfd = *wfd = -1;
    struct tunnel *t = calloc(1, sizeof *t);
    /* stdin is a socket (we write with MSG_NOSIGNAL: a command gone is an error, not SIGPIPE);
     * stdout a pipe, as servers run by hand expect: Dovecot's imap takes a socket on stdout for
     * inetd and refuses to run. */
    int sv[2] = { -1, -1 }, op[2] = { -1, -1 }, ep[2] = { -1, -1 };
    if (!t) {
        snprintf(err, errlen, "tunnel: out of memory");
        return -1;
    }
    t->loop = l;
    t->line = line;
    t->line_ud = ud;
    t->errfd = -1;
    const char *what = "socketpair";
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        goto fail;
    what = "pipe";
    if (pipe2(op, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
        goto fail;
    what = "dup";
    if ((sv[1] = above_std(sv[1])) < 0 || (op[1] = above_std(op[1])) < 0 ||
        (ep[1] = above_std(ep[1])) < 0)
        goto fail;
    what = "fork";
    pid_t parent = getpid();
    t->pid = fork();
    if (t->pid < 0)
        goto fail;
    if (t->pid == 0)
        child_exec(command, sv[1], op[1], ep[1], parent);
    close(sv[1]);
    close(op[1]);
    close(ep[1]);
    int fds[3] = { sv[0], op[0], ep[0] };
    for (int i = 0; i < 3; i++)
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    t->errfd = ep[0];
    if (loop_add(l, t->errfd, LOOP_READ, on_stderr, t) < 0) {
        /* Unwatched, the pipe could fill and stall the command: stop here. */
        close(sv[0]);
        close(op[0]);
        tunnel_close(t, 0);
        snprintf(err, errlen, "tunnel: out of memory");
        return -1;
    }
    *rfd = op[0];
    *wfd = sv[0];
    *out = t;
    return 0;

fail:
    snprintf(err, errlen, "tunnel: cannot start /bin/sh (%s): %s", what, strerror(errno));
    for (int i = 0; i < 2; i++) {
        int *p[3] = { &sv[i], &op[i], &ep[i] };
        for (int k = 0; k < 3; k++)
            if (*p[k] >= 0)
                close(*p[k]);
    }
    free(t);
    return -1;
}

pid_t tunnel_pid(const struct tunnel *t)
{
    return t->pid;
}

/* ---- the end ----------------------------------------------------------------------------- */

static bool reap(struct tunnel *t)
{
    if (!t->exited) {
        pid_t r;
        while ((r = waitpid(t->pid, &t->status, WNOHANG)) < 0 && errno == EINTR)
            ;
        /* ECHILD: someone else reaped it (a waitpid(-1) we do not control); it is gone. */
        if (r == t->pid || (r < 0 && errno == ECHILD))
            t->exited = true;
    }
    return t->exited;
}

/* Waits until the command exited (then takes what its stderr holds) or until deadline, passing
 * its stderr on meanwhile. Returns whether it exited. */
static bool wait_exit(struct tunnel *t, int64_t deadline)
{
    for (;;) {
        if (reap(t)) {
            stderr_drain(t);
            return true;
        }
        int64_t left = deadline - loop_now_ms();
        if (left <= 0)
            return false;
        int ms = left < 10 ? (int)left : 10;   /* exit shows in waitpid, not on a descriptor */
        struct pollfd p = { .fd = t->errfd, .events = POLLIN };
        if (poll(&p, t->errfd >= 0 ? 1 : 0, ms) > 0)
            stderr_drain(t);
    }
}

const char *tunnel_why_ended(struct tunnel *t, int wait_ms)
{
    wait_exit(t, loop_now_ms() + wait_ms);
    size_t o;
    if (!t->exited)
        o = (size_t)snprintf(t->why, sizeof t->why, "the tunnel command closed its output");
    else if (WIFSIGNALED(t->status))
        o = (size_t)snprintf(t->why, sizeof t->why,
                             "the tunnel command was killed by signal %d (%s)",
                             WTERMSIG(t->status), strsignal(WTERMSIG(t->status)));
    else
        o = (size_t)snprintf(t->why, sizeof t->why, "the tunnel command exited with status %d",
                             WIFEXITED(t->status) ? WEXITSTATUS(t->status) : -1);
    unsigned n = t->ntail < TAIL_LINES ? t->ntail : TAIL_LINES;
    for (unsigned i = 0; i < n && o < sizeof t->why; i++)
        o += (size_t)snprintf(t->why + o, sizeof t->why - o, "%s%s", i ? " / " : " (stderr: ",
                              t->tail[(t->ntail - n + i) % TAIL_LINES]);
    if (n && o < sizeof t->why)
        snprintf(t->why + o, sizeof t->why - o, ")");
    return t->why;
}

/* A process of the command's tree, with its start time so that a recycled pid is left alone. */
struct proc_ref {
    pid_t pid, ppid;
    unsigned long long start;
};

/* Parent and start time of pid from /proc/PID/stat; -1 when it is gone. */
static int proc_stat(pid_t pid, struct proc_ref *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the command name may hold anything, even ") " */
    if (!p)
        return -1;
    /* after ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
     * stime cutime cstime priority nice num_threads itrealvalue starttime */
    char state;
    int ppid;
    unsigned long long start;
    if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d"
               " %llu", &state, &ppid, &start) != 3 || state == 'Z')
        return -1;
    out->pid = pid;
    out->ppid = ppid;
    out->start = start;
    return 0;
}

/* Every live process at or under root (found by parent links in /proc); *n of them, malloc'd.
 * Without /proc, root alone. */
static struct proc_ref *tree_scan(pid_t root, size_t *n)
{
    struct proc_ref *all = NULL, *tree = NULL;
    size_t nall = 0, capall = 0;
    *n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        struct proc_ref r;
        if (proc_stat((pid_t)atoi(e->d_name), &r) < 0)
            continue;
        if (nall == capall) {
            size_t cap = capall ? capall * 2 : 256;
            struct proc_ref *b = realloc(all, cap * sizeof *b);
            if (!b)
                break;
            all = b;
            capall = cap;
        }
        all[nall++] = r;
    }
    if (d)
        closedir(d);
    tree = malloc((nall + 1) * sizeof *tree);
    if (!tree || proc_stat(root, &tree[0]) < 0) {
        free(all);
        free(tree);
        return NULL;
    }
    size_t k = 1;
    for (size_t i = 0; i < k; i++)          /* breadth first: children of each found one */
        for (size_t j = 0; j < nall; j++)
            if (all[j].ppid == tree[i].pid && all[j].pid != root && k < nall + 1) {
                tree[k++] = all[j];
                all[j].ppid = -1;           /* taken */
            }
    free(all);
    *n = k;
    return tree;
}

/* Sends sig to those of procs still running as the same process. */
static void procs_signal(const struct proc_ref *procs, size_t n, int sig)
{
    for (size_t i = 0; i < n; i++) {
        struct proc_ref now;
        if (proc_stat(procs[i].pid, &now) == 0 && now.start == procs[i].start)
            kill(procs[i].pid, sig);
    }
}

void tunnel_close(struct tunnel *t, int grace_ms)
{
    if (!t)
        return;
    if (!wait_exit(t, loop_now_ms() + grace_ms)) {
        size_t n = 0;
        struct proc_ref *procs = tree_scan(t->pid, &n);
        if (procs)
            procs_signal(procs, n, SIGTERM);
        else
            kill(t->pid, SIGTERM);
        wait_exit(t, loop_now_ms() + TERM_WAIT_MS);
        /* What is left of the tree (the shell may be gone, a child ignoring SIGTERM not). */
        if (procs)
            procs_signal(procs, n, SIGKILL);
        else if (!t->exited)
            kill(t->pid, SIGKILL);
        free(procs);
        wait_exit(t, loop_now_ms() + TERM_WAIT_MS);
    }
    if (t->emitting) {
        /* Closed by its own line function, which still stands on t. */
        t->dead = true;
        stderr_close(t);
        loop_later(t->loop, free, t);   /* out of memory: a small leak rather than a crash */
        return;
    }
    stderr_close(t);
    free(t);
}
