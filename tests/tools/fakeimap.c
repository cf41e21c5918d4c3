/* fakeimap.c — a scripted plaintext IMAP server on loopback, for tests of how the program
 * behaves when a server lies, fails or hangs up (a real Dovecot never does).
 *
 *   build/fakeimap SCRIPTFILE
 *
 * Listens on a free 127.0.0.1 port, prints "PORT n" on stdout, serves one client following
 * SCRIPTFILE, then exits; it also gives up after 20 s without traffic. Script lines:
 *   S: text      sends text + CRLF; "$TAG" becomes the tag of the last command received,
 *                "$NUMS(first,last,step,sep)" the numbers first..last by step (sep "s": spaces,
 *                "c": commas), for a SEARCH or ESEARCH line of any length
 *   C: pattern   reads one command line and checks it, without its tag, against pattern,
 *                where '*' matches any run of characters ("C: *" accepts anything); on a
 *                mismatch: "fakeimap: expected ... got ..." on stderr, "$TAG BAD unexpected"
 *                to the client, exit 1
 *   # ...        a comment (so are blank lines)
 * Every line received (tag included) is appended to SCRIPTFILE.log, also those the client
 * sends after the script's end, until it closes: a test can assert on what was sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_MS 20000
#define LINE_MAX_LEN 65536

static int client = -1;
static FILE *transcript;
static char inbuf[LINE_MAX_LEN];
static size_t inlen;
static char tag[128] = "*";

/* Waits up to IDLE_MS for fd to be readable; false on timeout or error. */
static bool wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    do
        r = poll(&p, 1, IDLE_MS);
    while (r < 0 && errno == EINTR);
    return r > 0;
}

/* Reads the client's next line (without CRLF) into line; false at EOF, on error or when
 * idle too long. A line longer than the buffer comes back in buffer-sized pieces, and an
 * unterminated one at EOF as it is. */
static bool read_line(char *line, size_t cap)
{
    bool eof = false;
    for (;;) {
        char *nl = memchr(inbuf, '\n', inlen);
        size_t used = nl ? (size_t)(nl - inbuf) + 1 : (inlen == sizeof inbuf || eof) ? inlen : 0;
        if (used) {
            size_t n = nl ? used - 1 : used;
            if (n > 0 && inbuf[n - 1] == '\r')
                n--;
            if (n >= cap)
                n = cap - 1;
            memcpy(line, inbuf, n);
            line[n] = '\0';
            memmove(inbuf, inbuf + used, inlen - used);
            inlen -= used;
            fprintf(transcript, "%s\n", line);
            fflush(transcript);
            return true;
        }
        if (eof || !wait_readable(client))
            return false;
        ssize_t r = recv(client, inbuf + inlen, sizeof inbuf - inlen, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            eof = true;
        else
            inlen += (size_t)r;
    }
}

static void send_all(const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(client, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

/* Sends text + CRLF with every "$TAG" replaced by the last command's tag and every
 * "$NUMS(first,last,step,sep)" by the numbers first, first + step, ... up to last, sep between
 * them ("s" for a space, "c" for a comma): a long SEARCH or ESEARCH line. */
static void send_text(const char *text)
{
    static char out[LINE_MAX_LEN + 256];
    size_t o = 0, tl = strlen(tag);
    for (const char *p = text; *p; p++) {
        if (o + tl + 32 >= sizeof out) {
            send_all(out, o);
            o = 0;
        }
        unsigned long first, last, step;
        char sep;
        int used = 0;
        if (strncmp(p, "$TAG", 4) == 0) {
            memcpy(out + o, tag, tl);
            o += tl;
            p += 3;
        } else if (sscanf(p, "$NUMS(%lu,%lu,%lu,%c)%n", &first, &last, &step, &sep, &used) == 4 &&
                   used > 0 && step > 0) {
            for (unsigned long v = first; v <= last; v += step) {
                if (o + 32 >= sizeof out) {
                    send_all(out, o);
                    o = 0;
                }
                if (v != first)
                    out[o++] = sep == 'c' ? ',' : ' ';
                o += (size_t)snprintf(out + o, 24, "%lu", v);
            }
            p += used - 1;
        } else {
            out[o++] = *p;
        }
    }
    out[o++] = '\r';
    out[o++] = '\n';
    send_all(out, o);
}

/* True when s matches pattern, where '*' matches any run of characters. Greedy with one
 * backtrack point, so linear-ish in practice and never recursive. */
static bool glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*pat == '*') {
            star = ++pat;
            retry = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star;
            s = ++retry;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* After the script: stop sending, but log what the client still sends until it closes. */
static void drain(void)
{
    static char line[LINE_MAX_LEN];
    shutdown(client, SHUT_WR);
    while (read_line(line, sizeof line))
        ;
}

static int listen_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        perror("fakeimap: listen");
        return -1;
    }
    printf("PORT %u\n", (unsigned)ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fakeimap SCRIPTFILE\n");
        return 2;
    }
    FILE *script = fopen(argv[1], "r");
    char logpath[4096];
    snprintf(logpath, sizeof logpath, "%s.log", argv[1]);
    transcript = fopen(logpath, "w");
    if (!script || !transcript) {
        perror("fakeimap: open");
        return 2;
    }
    int lfd = listen_loopback();
    if (lfd < 0)
        return 2;
    if (!wait_readable(lfd) || (client = accept(lfd, NULL, NULL)) < 0) {
        fprintf(stderr, "fakeimap: no client\n");
        return 1;
    }
    close(lfd);

    static char sline[LINE_MAX_LEN], cline[LINE_MAX_LEN];
    int status = 0;
    while (fgets(sline, sizeof sline, script)) {
        sline[strcspn(sline, "\r\n")] = '\0';
        if (sline[0] == '#' || sline[0] == '\0')
            continue;
        const char *arg = sline + 2 + (sline[2] == ' ');
        if (strncmp(sline, "S:", 2) == 0) {
            send_text(arg);
        } else if (strncmp(sline, "C:", 2) == 0) {
            if (!read_line(cline, sizeof cline)) {
                fprintf(stderr, "fakeimap: expected \"%s\" got end of input\n", arg);
                status = 1;
                break;
            }
            size_t tl = strcspn(cline, " ");
            snprintf(tag, sizeof tag, "%.*s", (int)tl, cline);
            const char *cmd = cline + tl + (cline[tl] == ' ');
            if (!glob_match(arg, cmd)) {
                fprintf(stderr, "fakeimap: expected \"%s\" got \"%s\"\n", arg, cline);
                send_text("$TAG BAD unexpected");
                status = 1;
                break;
            }
        } else {
            fprintf(stderr, "fakeimap: bad script line: %s\n", sline);
            status = 2;
            break;
        }
    }
    fclose(script);
    drain();
    close(client);
    fclose(transcript);
    return status;
}
