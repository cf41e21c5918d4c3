/* fake_server.h — a scripted IMAP server on a loopback port for the C integration tests: it
 * sends a greeting, then answers each command line it reads with the next script entry, every
 * "%T" in it replaced by that command's tag ("DONE" lines get no answer); after the last entry
 * it closes the line. Header-only, because each itest_*.c is built on its own. */
#ifndef IMAPSCRIPT_FAKE_SERVER_H
#define IMAPSCRIPT_FAKE_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct fake {
    int lfd;
    unsigned port;
    const char *greeting;
    const char *const *script;
    size_t nscript;
    const char *one;               /* the script of fake_start_reply */
    pthread_t th;
};

static void send_tagged(int c, const char *text, const char *tag)
{
    char out[8192];
    size_t o = 0;
    for (const char *p = text; *p && o + 32 < sizeof out; p++) {
        if (p[0] == '%' && p[1] == 'T') {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", tag);
            p++;
        } else {
            out[o++] = *p;
        }
    }
    send(c, out, o, MSG_NOSIGNAL);
}

static void *fake_run(void *arg)
{
    struct fake *f = arg;
    int c = accept(f->lfd, NULL, NULL);
    if (c < 0)
        return NULL;
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    send(c, f->greeting, strlen(f->greeting), MSG_NOSIGNAL);
    char buf[16384];
    size_t len = 0, step = 0;
    while (step < f->nscript) {
        char *nl = memchr(buf, '\n', len);
        if (!nl) {
            if (len == sizeof buf)
                len = 0;
            ssize_t n = recv(c, buf + len, sizeof buf - len, 0);
            if (n <= 0)
                break;
            len += (size_t)n;
            continue;
        }
        char tag[64] = "";
        size_t tl = strcspn(buf, " \r\n");
        if (tl < sizeof tag)
            memcpy(tag, buf, tl), tag[tl] = '\0';
        size_t used = (size_t)(nl - buf) + 1;
        memmove(buf, buf + used, len - used);
        len -= used;
        if (strncmp(tag, "DONE", 4) == 0)
            continue;
        send_tagged(c, f->script[step++], tag);
    }
    shutdown(c, SHUT_WR);
    while (recv(c, buf, sizeof buf, 0) > 0)   /* until the client lets go */
        ;
    close(c);
    return NULL;
}

/* Listens on a free loopback port (f->port) and serves one connection in a thread. */
static inline int fake_listen(struct fake *f)
{
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(f->lfd, 1) < 0)
        return -1;
    getsockname(f->lfd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->th, NULL, fake_run, f);
}

/* Serves greeting, then the n entries of script (which must outlive the server). */
static inline int fake_start(struct fake *f, const char *greeting, const char *const *script,
                             size_t n)
{
    memset(f, 0, sizeof *f);
    f->greeting = greeting;
    f->script = script;
    f->nscript = n;
    return fake_listen(f);
}

/* Serves greeting, answers the first command with reply (NULL: nothing), then closes. */
static inline int fake_start_reply(struct fake *f, const char *greeting, const char *reply)
{
    memset(f, 0, sizeof *f);
    f->greeting = greeting;
    f->one = reply ? reply : "";
    f->script = &f->one;
    f->nscript = 1;
    return fake_listen(f);
}

/* Waits for the server to finish its script and close. */
static inline void fake_stop(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
}

#endif
