/* redirect.c — the loopback listener of redirect.h: one request per connection, read with a
 * size limit and a deadline, since anything on this machine may connect to it. */
#include "redirect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_MAX 8192
#define REQUEST_MS 5000         /* for one client to send its request head */

struct redirect {
    int fd;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int redirect_listen(struct redirect **out, unsigned *port, char *err, size_t errlen)
{
    *out = NULL;
    struct redirect *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->fd, 8) < 0 ||
        getsockname(r->fd, (struct sockaddr *)&a, &al) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on 127.0.0.1: %s", strerror(e));
        redirect_close(r);
        return -e;
    }
    *port = ntohs(a.sin_port);
    *out = r;
    return 0;
}

void redirect_close(struct redirect *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, const char *status, const char *page)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, strlen(page));
    send_all(fd, head, (size_t)n);
    send_all(fd, page, strlen(page));
}

/* Reads a request head from fd until CRLF CRLF, within REQUEST_MS; its length, or -1. */
static int read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    long long deadline = now_ms() + REQUEST_MS;
    while (len + 1 < cap) {
        long long left = deadline - now_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        len += (size_t)k;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return (int)len;
    }
    return -1;
}

/* Handles one connection: 1 with *query when it asked for path, 0 otherwise. */
static int serve_one(int fd, const char *path, const char *page, char **query)
{
    static char buf[REQUEST_MAX];
    int n = read_head(fd, buf, sizeof buf);
    int got = 0;
    if (n < 0)
        return 0;
    size_t pl = strlen(path);
    char *sp = strchr(buf, ' ');
    char *target = sp ? sp + 1 : NULL;
    char *end = target ? strchr(target, ' ') : NULL;
    if (!target || !end || strncmp(buf, "GET ", 4) != 0) {
        respond(fd, "400 Bad Request", "<p>Bad request.</p>");
    } else if (strncmp(target, path, pl) != 0 || (target[pl] != '?' && target + pl != end)) {
        respond(fd, "404 Not Found", "<p>Not found.</p>");
    } else {
        const char *q = target[pl] == '?' ? target + pl + 1 : end;
        *query = strndup(q, (size_t)(end - q));
        respond(fd, "200 OK", page);
        got = *query ? 1 : 0;
    }
    explicit_bzero(buf, (size_t)n);
    return got;
}

int redirect_wait(struct redirect *r, const char *path, int timeout_ms, const char *page,
                  char **query, char *err, size_t errlen)
{
    *query = NULL;
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        int pr = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (pr < 0 && errno != EINTR) {
            int e = errno;
            snprintf(err, errlen, "waiting for the browser: %s", strerror(e));
            return -e;
        }
        if (pr <= 0)
            continue;
        int c = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        int got = serve_one(c, path, page, query);
        close(c);
        if (got)
            return 1;
    }
}
