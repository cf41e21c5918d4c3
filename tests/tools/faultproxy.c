/* faultproxy.c — a plaintext IMAP proxy for tests that cuts the connection at a chosen point of a
 * chosen command, and answers BAD to commands a server should not have (Dovecot still runs MOVE
 * and UID EXPUNGE when imap_capability hides them).
 *
 *   build/faultproxy [--cut WHEN:COMMAND[:N]] [--refuse "CMD,CMD"] [--down-after-cut]
 *                    [--delay MS] [--log FILE] TARGET_HOST TARGET_PORT
 *
 * WHEN is where the Nth (default 1st) command named COMMAND ("UID COPY", "SELECT"; counted over
 * every connection) is cut:
 *   before  the command never reaches the server (those before it in the same write do);
 *   after   the server runs it and answers, but nothing it sent from then on is delivered;
 *   mid     a literal is cut in half: the command's own (APPEND), else the first one the
 *           server sends after the command (a FETCH); without any literal, as "after".
 * Only one cut happens. --down-after-cut: connections after the cut are closed at once (a server
 * that stays down). --delay holds each chunk from the server that long (a slow link, so that a
 * test can kill the client while it waits). Listens on a free 127.0.0.1 port, prints "PORT n PID p" on stdout; serves
 * each connection in a child process; exits on SIGTERM or after 60 s without a connection.
 * The log (default stderr) has a line per command seen and per fault. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum when { CUT_NONE, CUT_BEFORE, CUT_AFTER, CUT_MID };

/* Shared by the children (mmap): the commands counted so far, whether the cut happened. */
struct shared { int seen; int cut_done; };

static struct {
    enum when when;
    char command[64];
    int nth;
    char refuse[16][32];
    int nrefuse;
    bool down_after_cut;
    int delay_ms;
    const char *host, *port;
    FILE *log;
} cfg = { .nth = 1 };

static struct shared *sh;
static int conn_no;
static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(cfg.log, "faultproxy: conn %d: ", conn_no);
    vfprintf(cfg.log, fmt, ap);
    fputc('\n', cfg.log);
    fflush(cfg.log);
    va_end(ap);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int connect_target(void)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    if (getaddrinfo(cfg.host, cfg.port, &hints, &res))
        return -1;
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* One direction's parse state: the current line, and literal bytes still to come. */
struct side {
    char line[16384];
    size_t len;
    unsigned long long lit;
    bool continuation;          /* the next line continues a command after a literal */
};

/* The literal announced at the end of line[0..n) ("{123}" or "{123+}"), or -1. */
static long long literal_at_end(const char *line, size_t n)
{
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (n < 3 || line[n - 1] != '}')
        return -1;
    size_t i = n - 1;
    if (i && line[i - 1] == '+')
        i--;
    size_t end = i;
    while (i && isdigit((unsigned char)line[i - 1]))
        i--;
    if (i == end || !i || line[i - 1] != '{')
        return -1;
    return strtoll(line + i, NULL, 10);
}

/* "UID COPY", "SELECT": the command name after the tag, upper-cased, into out. */
static void command_name(const char *line, size_t n, char *tag, size_t taglen, char *out,
                         size_t outlen)
{
    size_t i = 0, t = 0, o = 0;
    while (i < n && line[i] != ' ' && t + 1 < taglen)
        tag[t++] = line[i++];
    tag[t] = '\0';
    for (int words = 0; words < 2 && i < n; words++) {
        while (i < n && line[i] == ' ')
            i++;
        size_t start = o;
        while (i < n && line[i] != ' ' && line[i] != '\r' && line[i] != '\n' && o + 2 < outlen)
            out[o++] = (char)toupper((unsigned char)line[i++]);
        out[o] = '\0';
        if (words == 0 && strcmp(out + start, "UID") == 0)
            out[o++] = ' ';
        else
            break;
    }
    out[o] = '\0';
}

static bool refused(const char *name)
{
    for (int i = 0; i < cfg.nrefuse; i++)
        if (!strcmp(cfg.refuse[i], name))
            return true;
    return false;
}

/* The relay of one connection. Returns when either side closes or a cut happens. */
static void relay(int cfd, int sfd)
{
    struct side c = { .len = 0 }, s = { .len = 0 };
    char buf[65536];
    char cut_tag[64] = "";
    enum { RUN, WITHHOLD, MID_WAIT } mode = RUN;
    bool client_mid = false;        /* cut the armed command's own literal (APPEND) */
    bool in_armed = false;          /* the armed command is still being forwarded */
    for (;;) {
        struct pollfd p[2] = { { .fd = cfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
        if (poll(p, 2, 60000) <= 0 || stop)
            return;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(cfd, buf, sizeof buf, 0);
            if (n <= 0)
                return;
            for (ssize_t i = 0; i < n; i++) {
                if (c.lit) {
                    /* literal bytes: forwarded as they are, or cut in half (mid) */
                    size_t k = (size_t)n - (size_t)i;
                    if (k > c.lit)
                        k = (size_t)c.lit;
                    if (client_mid) {
                        size_t half = (size_t)(c.lit / 2);
                        send_all(sfd, buf + i, k < half ? k : half);
                        logf_("cut mid-literal of %s (%s)", cfg.command, cut_tag);
                        return;
                    }
                    if ((mode == RUN || in_armed) && send_all(sfd, buf + i, k) < 0)
                        return;
                    c.lit -= k;
                    i += (ssize_t)k - 1;
                    continue;
                }
                if (c.len < sizeof c.line)
                    c.line[c.len++] = buf[i];
                if (buf[i] != '\n')
                    continue;
                long long lit = literal_at_end(c.line, c.len);
                /* Nothing after an armed command reaches the server: it dies with the cut. */
                bool forward = mode == RUN || (in_armed && c.continuation);
                if (!c.continuation) {
                    char tag[64], name[64];
                    command_name(c.line, c.len, tag, sizeof tag, name, sizeof name);
                    logf_("C: %s %s", tag, name);
                    if (refused(name)) {
                        char reply[200];
                        int r = snprintf(reply, sizeof reply, "%s BAD Command not allowed by "
                                         "the test proxy\r\n", tag);
                        logf_("refused %s (%s)", name, tag);
                        send_all(cfd, reply, (size_t)r);
                        c.len = 0;
                        continue;
                    }
                    if (cfg.when != CUT_NONE && !sh->cut_done && !strcmp(name, cfg.command) &&
                        __sync_add_and_fetch(&sh->seen, 1) == cfg.nth) {
                        sh->cut_done = 1;
                        snprintf(cut_tag, sizeof cut_tag, "%s", tag);
                        if (cfg.when == CUT_BEFORE) {
                            logf_("cut before %s (%s)", name, tag);
                            return;
                        }
                        client_mid = cfg.when == CUT_MID && lit >= 0;
                        in_armed = true;
                        mode = cfg.when == CUT_AFTER ? WITHHOLD : MID_WAIT;
                        logf_("armed %s %s (%s)", cfg.when == CUT_AFTER ? "after" : "mid",
                              name, tag);
                        forward = true;
                    }
                }
                if (forward && send_all(sfd, c.line, c.len) < 0)
                    return;
                c.continuation = lit >= 0;
                if (!c.continuation)
                    in_armed = false;   /* the armed command's last line is out */
                c.lit = lit > 0 ? (unsigned long long)lit : 0;
                c.len = 0;
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(sfd, buf, sizeof buf, 0);
            if (n <= 0)
                return;
            if (cfg.delay_ms > 0)
                usleep((useconds_t)cfg.delay_ms * 1000);
            for (ssize_t i = 0; i < n; i++) {
                if (s.lit) {
                    size_t k = (size_t)n - (size_t)i;
                    if (k > s.lit)
                        k = (size_t)s.lit;
                    if (mode == MID_WAIT) {
                        size_t half = (size_t)(s.lit / 2);
                        send_all(cfd, buf + i, k < half ? k : half);
                        logf_("cut mid-literal of the reply to %s (%s)", cfg.command, cut_tag);
                        return;
                    }
                    if (mode == RUN && send_all(cfd, buf + i, k) < 0)
                        return;
                    s.lit -= k;
                    i += (ssize_t)k - 1;
                    continue;
                }
                if (s.len < sizeof s.line)
                    s.line[s.len++] = buf[i];
                if (buf[i] != '\n')
                    continue;
                long long lit = literal_at_end(s.line, s.len);
                size_t tl = strlen(cut_tag);
                bool tagged = tl && s.len > tl && !strncmp(s.line, cut_tag, tl) &&
                              s.line[tl] == ' ';
                if (mode == RUN || (mode == MID_WAIT && !tagged)) {
                    if (send_all(cfd, s.line, s.len) < 0)
                        return;
                }
                if (tagged && mode != RUN) {
                    logf_("cut after the server answered %s (%s), before delivering it",
                          cfg.command, cut_tag);
                    return;
                }
                s.lit = lit > 0 ? (unsigned long long)lit : 0;
                s.len = 0;
            }
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: faultproxy [--cut before|after|mid:COMMAND[:N]] [--refuse CMD,CMD] "
                    "[--down-after-cut] [--delay MS] [--log FILE] TARGET_HOST TARGET_PORT\n");
    exit(2);
}

static void parse_cut(const char *spec)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", spec);
    char *cmd = strchr(copy, ':');
    if (!cmd)
        usage();
    *cmd++ = '\0';
    cfg.when = !strcmp(copy, "before") ? CUT_BEFORE : !strcmp(copy, "after") ? CUT_AFTER
             : !strcmp(copy, "mid") ? CUT_MID : CUT_NONE;
    if (cfg.when == CUT_NONE)
        usage();
    char *nth = strchr(cmd, ':');
    if (nth) {
        *nth++ = '\0';
        cfg.nth = atoi(nth);
    }
    for (char *p = cmd; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    snprintf(cfg.command, sizeof cfg.command, "%s", cmd);
}

static void parse_refuse(const char *list)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *t = strtok(copy, ","); t && cfg.nrefuse < 16; t = strtok(NULL, ",")) {
        while (*t == ' ')
            t++;
        for (char *p = t; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        snprintf(cfg.refuse[cfg.nrefuse++], sizeof cfg.refuse[0], "%s", t);
    }
}

int main(int argc, char **argv)
{
    cfg.log = stderr;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--cut") && i + 1 < argc)
            parse_cut(argv[++i]);
        else if (!strcmp(argv[i], "--refuse") && i + 1 < argc)
            parse_refuse(argv[++i]);
        else if (!strcmp(argv[i], "--down-after-cut"))
            cfg.down_after_cut = true;
        else if (!strcmp(argv[i], "--delay") && i + 1 < argc)
            cfg.delay_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
            if (!(cfg.log = fopen(argv[++i], "a"))) {
                perror(argv[i]);
                return 1;
            }
        } else
            usage();
    }
    if (argc - i != 2)
        usage();
    cfg.host = argv[i];
    cfg.port = argv[i + 1];
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    struct sigaction sa = { .sa_handler = on_term };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);      /* children are reaped by the kernel */

    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
        perror("faultproxy: listen");
        return 1;
    }
    printf("PORT %u PID %ld\n", ntohs(a.sin_port), (long)getpid());
    fflush(stdout);
    while (!stop) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        int r = poll(&p, 1, 60000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        conn_no++;
        if (cfg.down_after_cut && sh->cut_done) {
            logf_("refused: the server is down after the cut");
            close(cfd);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            int sfd = connect_target();
            if (sfd >= 0) {
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                relay(cfd, sfd);
                close(sfd);
            }
            close(cfd);
            _exit(0);
        }
        close(cfd);
    }
    return 0;
}
