/* test_tunnel.c — tunnel.c and the transport over it, with small shell commands for servers:
 * bytes both ways, stderr lines (cleaned, the last ones quoted), how a command ended, no zombie
 * after close, and a command that ignores its end of file killed with everything it started. */
#include "check.h"
#include "loop.h"
#include "transport.h"
#include "tunnel.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct lines {
    char all[2048];
    int n;
};

static void on_line(void *ud, const char *line)
{
    struct lines *ls = ud;
    size_t o = strlen(ls->all);
    snprintf(ls->all + o, sizeof ls->all - o, "%s|", line);
    ls->n++;
}

/* Running (not a zombie, not gone). */
static bool alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Reads from fd until want bytes or end of file, the loop not involved (fd non-blocking). */
static size_t read_all(int fd, char *buf, size_t want)
{
    size_t got = 0;
    for (int tries = 0; got < want && tries < 500; tries++) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n == 0)
            break;
        if (n < 0)
            usleep(10000);
        else
            got += (size_t)n;
    }
    return got;
}

/* One command under test: its loop, tunnel, our two descriptors and the stderr lines seen. */
struct run {
    struct loop *l;
    struct tunnel *t;
    int rfd, wfd;
    struct lines ls;
};

static int run_start(struct run *r, const char *command)
{
    char err[300];
    memset(r, 0, sizeof *r);
    r->l = loop_new();
    return tunnel_start(r->l, command, on_line, &r->ls, &r->t, &r->rfd, &r->wfd, err, sizeof err);
}

static void run_end(struct run *r, int grace_ms)
{
    close(r->wfd);
    close(r->rfd);
    tunnel_close(r->t, grace_ms);
    loop_free(r->l);
}

/* Reaped already: waitpid finds no such child. */
static bool reaped(pid_t pid)
{
    errno = 0;
    return waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD;
}

static void test_echo_and_clean_end(void)
{
    struct run r;
    CHECK_INT(run_start(&r, "cat"), 0);
    CHECK_INT(write(r.wfd, "hello\r\n", 7), 7);
    char buf[16] = "";
    CHECK_INT(read_all(r.rfd, buf, 7), 7);
    CHECK(memcmp(buf, "hello\r\n", 7) == 0);
    pid_t pid = tunnel_pid(r.t);
    CHECK(alive(pid));
    CHECK_INT(r.ls.n, 0);
    run_end(&r, 5000);                              /* cat reads end of file and exits */
    CHECK(!alive(pid));
    CHECK(reaped(pid));                             /* no zombie left */
}

static void test_stderr_lines_and_status(void)
{
    struct run r;
    /* A terminal escape and a CR-LF line end; five lines, the last without a newline. */
    CHECK_INT(run_start(&r, "printf 'one\\ntwo\\r\\n\\nthree\\nfour\\n\\033[31mfive' >&2; "
                            "exit 3"), 0);
    char buf[8];
    CHECK_INT(read_all(r.rfd, buf, sizeof buf), 0); /* stdout closes: the command is done */
    CHECK_STR(tunnel_why_ended(r.t, 5000),
              "the tunnel command exited with status 3 (stderr: three / four / ?[31mfive)");
    CHECK_STR(r.ls.all, "one|two|three|four|?[31mfive|");
    run_end(&r, 5000);
}

static void test_long_stderr_line_in_pieces(void)
{
    struct run r;
    CHECK_INT(run_start(&r, "head -c 1500 /dev/zero | tr '\\0' x >&2; echo >&2"), 0);
    CHECK_STR(tunnel_why_ended(r.t, 5000), "the tunnel command exited with status 0 (stderr: "
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx / "
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx)");
    CHECK_INT(r.ls.n, 2);                           /* 1023 bytes, then the other 477 */
    CHECK_INT(strlen(r.ls.all), 1500 + 2);
    run_end(&r, 5000);
}

static void test_stderr_through_the_loop(void)
{
    struct run r;
    CHECK_INT(run_start(&r, "echo warming up >&2; exec cat"), 0);
    for (int i = 0; i < 100 && !r.ls.n; i++)
        loop_run_once(r.l, 50);
    CHECK_STR(r.ls.all, "warming up|");
    run_end(&r, 5000);
}

static void test_killed_and_not_found(void)
{
    struct run r;
    CHECK_INT(run_start(&r, "kill -9 $$"), 0);
    CHECK_STR(tunnel_why_ended(r.t, 5000), "the tunnel command was killed by signal 9 (Killed)");
    run_end(&r, 5000);

    CHECK_INT(run_start(&r, "no-such-command-here"), 0);
    const char *why = tunnel_why_ended(r.t, 5000);
    CHECK(strstr(why, "exited with status 127 (stderr: ") != NULL);
    CHECK(strstr(why, "no-such-command-here") != NULL);
    run_end(&r, 5000);
}

/* A command that ignores end of file and SIGTERM, with a child of its own doing the same: both
 * are gone after close (TERM, then KILL a second later), the parent reaped. */
static void test_stubborn_tree_killed(void)
{
    struct run r;
    CHECK_INT(run_start(&r, "trap '' TERM; sleep 30 & echo $!; while :; do sleep 1; done"), 0);
    char buf[32] = "";
    size_t n = 0;
    for (int i = 0; i < 500 && !memchr(buf, '\n', n); i++) {
        ssize_t k = read(r.rfd, buf + n, sizeof buf - 1 - n);
        if (k > 0)
            n += (size_t)k;
        else
            usleep(10000);
    }
    pid_t child = (pid_t)atoi(buf), shell = tunnel_pid(r.t);
    CHECK(child > 0 && alive(child));
    CHECK(alive(shell));
    run_end(&r, 100);
    CHECK(!alive(shell));
    for (int i = 0; i < 100 && alive(child); i++)   /* its new parent reaps it */
        usleep(10000);
    CHECK(!alive(child));
    CHECK(reaped(shell));
}

/* The transport over a tunnel: a server made of printf and cat; the end of the stream says how
 * the command ended. */
static void test_transport_over_tunnel(void)
{
    struct loop *l = loop_new();
    struct lines ls = { "", 0 };
    struct transport_config cfg = {
        .tunnel = "printf '* PREAUTH hi\\r\\n'; head -c 6 >/dev/null; echo bye >&2; exit 4",
        .tunnel_line = on_line, .tunnel_ud = &ls, .loop = l, .io_timeout_ms = 5000,
    };
    struct transport *t;
    char err[300];
    CHECK_INT(transport_connect(&cfg, &t, err, sizeof err), 0);
    char buf[64] = "";
    ssize_t n = transport_read(t, buf, sizeof buf - 1);
    CHECK_INT(n, 14);
    CHECK(memcmp(buf, "* PREAUTH hi\r\n", 14) == 0);
    CHECK_INT(transport_write_all(t, "A1 X\r\n", 6), 0);
    CHECK_INT(transport_read(t, buf, sizeof buf), 0);
    CHECK_STR(transport_eof_reason(t), "the tunnel command exited with status 4 (stderr: bye)");
    CHECK_STR(ls.all, "bye|");
    CHECK(!transport_is_tls(t));
    const struct transport_stats *st = transport_stats(t);
    CHECK_INT(st->bytes_in, 14);
    CHECK_INT(st->bytes_out, 6);
    transport_close(t);

    /* Writing to a command that is gone: an error naming how it ended, never SIGPIPE. */
    cfg.tunnel = "exec 0<&-; echo gone >&2; exit 0";
    ls.all[0] = '\0';
    CHECK_INT(transport_connect(&cfg, &t, err, sizeof err), 0);
    CHECK_INT(transport_read(t, buf, sizeof buf), 0);
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++)
        rc = transport_write_all(t, "A1 NOOP\r\n", 9);
    CHECK_INT(rc, TRANSPORT_ERR_NET);
    CHECK(strstr(transport_error(t), "write to tunnel: the tunnel command exited with status 0") !=
          NULL);
    transport_close(t);

    cfg.tunnel = NULL;
    CHECK_INT(transport_connect(&cfg, &t, err, sizeof err), TRANSPORT_ERR_CONFIG);
    loop_free(l);
}

int main(void)
{
    RUN(test_echo_and_clean_end);
    RUN(test_stderr_lines_and_status);
    RUN(test_long_stderr_line_in_pieces);
    RUN(test_stderr_through_the_loop);
    RUN(test_killed_and_not_found);
    RUN(test_stubborn_tree_killed);
    RUN(test_transport_over_tunnel);
    return CHECK_DONE();
}
