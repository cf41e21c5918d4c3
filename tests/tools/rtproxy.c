/* rtproxy.c — a byte- and round-trip-counting TCP proxy for tests on loopback.
 * A round trip is counted when the client sends after the server has sent (the client talking
 * again after listening), so a pipelined batch costs one however many commands it holds.
 *
 *   build/rtproxy LISTEN_PORT TARGET_HOST TARGET_PORT STATSFILE [IDLE_SECONDS [DELAY_MS]]
 *
 * DELAY_MS holds every chunk that long in each direction before passing it on (a round trip
 * then costs 2 x DELAY_MS), for measuring what pipelining saves under latency: the kernel here
 * has no netem. A negative DELAY_MS delays by -DELAY_MS only from the first snapshot on, so
 * that connecting and logging in stay fast.
 * LISTEN_PORT 0 picks a free port; the port and the proxy's pid are printed on stdout
 * ("PORT 12345 PID 678") either way once listening. SIGUSR1 rewrites STATSFILE at once and counts
 * it in "snapshots", so a test can read the counts while the connection is idle, away from the
 * noise of connecting and closing. Serves one client, then exits when either side closes, after IDLE_SECONDS (default
 * 30) without traffic, or on SIGTERM/SIGINT. STATSFILE gets "key value" lines (client_bytes,
 * server_bytes, round_trips, client_writes, server_writes, connections), rewritten at each
 * connection close and on exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop, snapshot;

static struct {
    uint64_t client_bytes, server_bytes, round_trips, client_writes, server_writes, connections,
        snapshots;
} st;

static const char *statsfile;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_usr1(int sig)
{
    (void)sig;
    snapshot = 1;
}

static void write_stats(void)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", statsfile);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "client_bytes %llu\nserver_bytes %llu\nround_trips %llu\nclient_writes %llu\n"
               "server_writes %llu\nconnections %llu\nsnapshots %llu\n",
            (unsigned long long)st.client_bytes, (unsigned long long)st.server_bytes,
            (unsigned long long)st.round_trips, (unsigned long long)st.client_writes,
            (unsigned long long)st.server_writes, (unsigned long long)st.connections,
            (unsigned long long)st.snapshots);
    fclose(f);
    rename(tmp, statsfile);
}

static int connect_target(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g) {
        fprintf(stderr, "rtproxy: resolve %s: %s\n", host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "rtproxy: connect %s:%s: %s\n", host, port, strerror(errno));
    return fd;
}

/* Writes all of buf; returns 0 or -1. */
static int send_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Chunks waiting for their delivery time, per direction. */
struct chunk {
    struct chunk *next;
    int64_t due;
    size_t len, off;
    char data[];
};
struct pipe_q {
    struct chunk *head, *tail;
    size_t bytes;
};

#define QUEUE_MAX (16u << 20)   /* stop reading a side while this much waits */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int q_push(struct pipe_q *q, const char *buf, size_t n, int64_t due)
{
    struct chunk *c = malloc(sizeof *c + n);
    if (!c)
        return -1;
    c->next = NULL;
    c->due = due;
    c->len = n;
    c->off = 0;
    memcpy(c->data, buf, n);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += n;
    return 0;
}

/* Sends every chunk that is due. Returns 0 or -1 when the peer is gone. */
static int q_flush(struct pipe_q *q, int fd, int64_t now)
{
    while (q->head && q->head->due <= now) {
        struct chunk *c = q->head;
        if (send_all(fd, c->data, c->len) < 0)
            return -1;
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        q->bytes -= c->len;
        free(c);
    }
    return 0;
}

static void q_free(struct pipe_q *q)
{
    while (q->head) {
        struct chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    q->tail = NULL;
    q->bytes = 0;
}

/* Shuttles bytes until a side closes, the idle timeout or a signal. */
static void relay(int cfd, int sfd, int idle_s, int delay_arg)
{
    int delay_ms = delay_arg > 0 ? delay_arg : 0;
    static char buf[65536];
    int last = 's';   /* the server spoke last (it greets first) */
    int one = 1;
    struct pipe_q toserver = { 0 }, toclient = { 0 };
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int64_t last_traffic = now_ms();
    bool closing = false;
    while (!stop) {
        if (snapshot) {
            snapshot = 0;
            st.snapshots++;
            write_stats();
            if (delay_arg < 0)
                delay_ms = -delay_arg;
        }
        int64_t now = now_ms();
        if (q_flush(&toserver, sfd, now) < 0 || q_flush(&toclient, cfd, now) < 0)
            break;
        if (closing && !toserver.head && !toclient.head)
            break;
        int timeout = idle_s * 1000 - (int)(now - last_traffic);
        if (timeout <= 0)
            break;
        struct chunk *next = toserver.head;
        if (toclient.head && (!next || toclient.head->due < next->due))
            next = toclient.head;
        if (next && next->due - now < timeout)
            timeout = next->due - now < 0 ? 0 : (int)(next->due - now);
        struct pollfd p[2] = {
            { .fd = closing || toserver.bytes > QUEUE_MAX ? -1 : cfd, .events = POLLIN },
            { .fd = closing || toclient.bytes > QUEUE_MAX ? -1 : sfd, .events = POLLIN },
        };
        int r = poll(p, 2, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                closing = true;   /* deliver what is queued, then stop */
                break;
            }
            last_traffic = now_ms();
            if (i == 0) {
                if (last == 's')
                    st.round_trips++;
                last = 'c';
                st.client_bytes += (uint64_t)n;
                st.client_writes++;
            } else {
                last = 's';
                st.server_bytes += (uint64_t)n;
                st.server_writes++;
            }
            if (q_push(i == 0 ? &toserver : &toclient, buf, (size_t)n, last_traffic + delay_ms) < 0)
                closing = true;
        }
    }
    q_free(&toserver);
    q_free(&toclient);
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: rtproxy LISTEN_PORT TARGET_HOST TARGET_PORT STATSFILE "
                        "[IDLE_SECONDS [DELAY_MS]]\n");
        return 2;
    }
    statsfile = argv[4];
    int idle_s = argc >= 6 ? atoi(argv[5]) : 30;
    if (idle_s <= 0)
        idle_s = 30;
    int delay_ms = argc == 7 ? atoi(argv[6]) : 0;
    if (delay_ms < -10000 || delay_ms > 10000)
        delay_ms = 0;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction su = { .sa_handler = on_usr1 };   /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGUSR1, &su, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4) < 0) {
        fprintf(stderr, "rtproxy: listen on port %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    printf("PORT %u PID %ld\n", ntohs(a.sin_port), (long)getpid());
    fflush(stdout);
    write_stats();

    struct pollfd p = { .fd = lfd, .events = POLLIN };
    int r;
    while ((r = poll(&p, 1, idle_s * 1000)) < 0 && errno == EINTR && !stop)
        ;
    if (r > 0 && !stop) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd >= 0) {
            int sfd = connect_target(argv[2], argv[3]);
            if (sfd >= 0) {
                st.connections++;
                relay(cfd, sfd, idle_s, delay_ms);
                close(sfd);
            }
            close(cfd);
        }
    }
    close(lfd);
    write_stats();
    return 0;
}
