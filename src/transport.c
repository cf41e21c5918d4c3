/* transport.c — TCP on a non-blocking socket watched by the loop (or a tunnel command's end of a
 * socket pair, the same to everything here), OpenSSL 3 TLS over it, and COMPRESS=DEFLATE above
 * both. Writes are queued and drained by the loop; blocking calls run the loop until this socket
 * is ready. Our own socket BIO sends with MSG_NOSIGNAL: a dropped peer is an error, never
 * SIGPIPE. */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include "loop.h"
#include "tunnel.h"

#define DEFAULT_TIMEOUT_MS 30000
#define TUNNEL_GRACE_MS 2000      /* a tunnel command running this long after close is killed */
#define TUNNEL_EOF_WAIT_MS 1000   /* for its exit status after it closed the stream */
#define ZBUF_SIZE (64 * 1024)

struct transport {
    int fd;                       /* read from (and, but for a tunnel, written to) */
    int wfd;                      /* written to: fd, or a tunnel command's stdin */
    bool fd_is_pipe;              /* fd is a tunnel command's stdout: read(2), not recv(2) */
    struct loop *loop;
    int mask;                     /* what the loop watches fd and wfd for, together */
    void (*ready)(void *ud);      /* the owner, told when the socket may have news */
    void *ready_ud;
    int wait_want, wait_got;      /* a blocking wait for this socket, and what it saw */
    bool read_wants_write;        /* SSL_read needs the socket writable first */
    bool write_wants_read;        /* SSL_write needs it readable */
    int werr;                     /* sticky failure of a write the loop made */
    char *obuf;                   /* queued output (compressed when compressing) */
    size_t ooff, olen, ocap;      /* obuf[ooff..olen) is still to write */
    SSL_CTX *ctx;
    SSL *ssl;
    char *host, *verify_name, *ca_file, *fingerprint;
    unsigned port;
    bool insecure;
    int connect_timeout_ms, io_timeout_ms;
    char label[300];              /* "host:port" (or "tunnel") for messages */
    struct tunnel *tunnel;        /* the command behind fd, when there is one */
    int sys_errno;                /* errno seen by the BIO, for TLS syscall errors */
    bool last_io_read;
    bool compressing, zin_init, zout_init, zin_ended;
    z_stream zin, zout;           /* COMPRESS=DEFLATE (RFC 4978): raw DEFLATE both ways */
    char *zbuf;                   /* compressed input waiting to be inflated */
    struct transport_stats st;
    char err[512];
};

/* ---- time and waiting ------------------------------------------------------ */

static int64_t deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : loop_now_ms() + timeout_ms;
}

static void fmt_seconds(char *buf, size_t len, int ms)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%d s", ms / 1000);
    else
        snprintf(buf, len, "%.1f s", ms / 1000.0);
}

/* What a failed read or write says: errno's text (e == 0: the peer closed), or for a tunnel
 * whose command went away, how it ended, with its last words on stderr. */
static const char *io_why(struct transport *t, int e)
{
    if (t->tunnel && (e == 0 || e == EPIPE || e == ECONNRESET))
        return tunnel_why_ended(t->tunnel, TUNNEL_EOF_WAIT_MS);
    return e ? strerror(e) : "connection closed by server";
}

const char *transport_eof_reason(struct transport *t)
{
    return io_why(t, 0);
}

/* What the loop should watch the socket for, from the owner's interest and the queue. */
static void update_mask(struct transport *t)
{
    if (t->fd < 0)
        return;
    int m = 0;
    if (t->ready || (t->wait_want & LOOP_READ) || t->write_wants_read)
        m |= LOOP_READ;
    if (t->olen > t->ooff || t->read_wants_write || (t->wait_want & LOOP_WRITE))
        m |= LOOP_WRITE;
    if (m != t->mask) {
        if (t->wfd == t->fd) {
            loop_set_mask(t->loop, t->fd, m);
        } else {
            loop_set_mask(t->loop, t->fd, m & LOOP_READ);
            loop_set_mask(t->loop, t->wfd, m & LOOP_WRITE);
        }
        t->mask = m;
    }
}

static int push_now(struct transport *t);

/* The loop's callback: a blocking wait takes the event; otherwise queued output is written and
 * the owner told. Nothing touches t after the owner's call (it may close t). */
static void transport_io(struct loop *l, int fd, int ready, void *ud)
{
    (void)l;
    struct transport *t = ud;
    if (t->wfd != t->fd)    /* a hang-up on one of two descriptors concerns that one only */
        ready &= fd == t->wfd ? LOOP_WRITE : LOOP_READ;
    if (t->wait_want) {
        t->wait_got |= ready;
        return;
    }
    if (t->olen > t->ooff && !t->werr)
        push_now(t);
    if (t->ready)
        t->ready(t->ready_ud);
}

/* Inside a loop callback the loop cannot run: wait on this socket alone. */
static int poll_one(struct transport *t, int want, int64_t deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - loop_now_ms();
            if (left <= 0)
                return 0;
            ms = left > INT_MAX ? INT_MAX : (int)left;
        }
        /* A tunnel's two descriptors: only the wanted one (a pipe's hang-up shows unasked). */
        bool two = t->wfd != t->fd;
        struct pollfd p[2] = {
            { .fd = !two || (want & LOOP_READ) ? t->fd : -1,
              .events = (short)(((want & LOOP_READ) ? POLLIN : 0) |
                                (!two && (want & LOOP_WRITE) ? POLLOUT : 0)) },
            { .fd = two && (want & LOOP_WRITE) ? t->wfd : -1, .events = POLLOUT },
        };
        int r = poll(p, two ? 2 : 1, ms);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Runs the loop until the socket is ready for want (LOOP_READ/LOOP_WRITE) or the deadline
 * passes. Returns 0, TRANSPORT_ERR_TIMEOUT or TRANSPORT_ERR_NET, filling t->err with
 * "<what> timeout after N s". */
static int wait_ready(struct transport *t, int want, int64_t deadline, const char *what, int total_ms)
{
    t->wait_want = want;
    t->wait_got = 0;
    update_mask(t);
    int rc = 0;
    while (!(t->wait_got & want)) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - loop_now_ms();
            if (left <= 0) {
                rc = TRANSPORT_ERR_TIMEOUT;
                break;
            }
            ms = left > INT_MAX ? INT_MAX : (int)left;
        }
        int r = loop_run_once(t->loop, ms);
        if (r == LOOP_ERR_NESTED) {
            r = poll_one(t, want, deadline);
            rc = r > 0 ? 0 : r == 0 ? TRANSPORT_ERR_TIMEOUT : TRANSPORT_ERR_NET;
            break;
        }
        if (r < 0) {
            rc = TRANSPORT_ERR_NET;
            break;
        }
    }
    t->wait_want = 0;
    update_mask(t);
    if (rc == TRANSPORT_ERR_TIMEOUT) {
        char secs[32];
        fmt_seconds(secs, sizeof secs, total_ms);
        snprintf(t->err, sizeof t->err, "%s timeout after %s", what, secs);
    } else if (rc < 0) {
        snprintf(t->err, sizeof t->err, "%s %s: poll: %s", what, t->label, strerror(errno));
    }
    return rc;
}

/* ---- the socket BIO ------------------------------------------------------ */

static BIO_METHOD *sock_method;
static CRYPTO_ONCE sock_once = CRYPTO_ONCE_STATIC_INIT;

static int sock_bio_write(BIO *b, const char *buf, int len)
{
    struct transport *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(t->wfd, buf, (size_t)len, MSG_NOSIGNAL);
    if (n >= 0) {
        t->st.wire_out += (uint64_t)n;
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        BIO_set_retry_write(b);
    else
        t->sys_errno = errno;
    return -1;
}

static int sock_bio_read(BIO *b, char *buf, int len)
{
    struct transport *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = t->fd_is_pipe ? read(t->fd, buf, (size_t)len) : recv(t->fd, buf, (size_t)len, 0);
    if (n >= 0) {
        t->st.wire_in += (uint64_t)n;
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        BIO_set_retry_read(b);
    else
        t->sys_errno = errno;
    return -1;
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int sock_bio_destroy(BIO *b)
{
    (void)b;
    return 1;
}

static void sock_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "imapscript socket");
    if (!m)
        return;
    BIO_meth_set_write(m, sock_bio_write);
    BIO_meth_set_read(m, sock_bio_read);
    BIO_meth_set_ctrl(m, sock_bio_ctrl);
    BIO_meth_set_create(m, sock_bio_create);
    BIO_meth_set_destroy(m, sock_bio_destroy);
    sock_method = m;
}

/* ---- TCP ----------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void format_addr(const struct sockaddr *sa, socklen_t salen, unsigned port,
                        char *buf, size_t len)
{
    char host[NI_MAXHOST];
    if (getnameinfo(sa, salen, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(host, sizeof host, "?");
    if (sa->sa_family == AF_INET6)
        snprintf(buf, len, "[%s]:%u", host, port);
    else
        snprintf(buf, len, "%s:%u", host, port);
}

/* Watches fd (read from) and wfd (written to, may be fd) from now on, quiet until someone wants
 * something. On failure neither is watched and the caller still owns both. */
static int watch_fds(struct transport *t, int fd, int wfd)
{
    if (loop_add(t->loop, fd, 0, transport_io, t) < 0)
        return -1;
    if (wfd != fd && loop_add(t->loop, wfd, 0, transport_io, t) < 0) {
        loop_remove(t->loop, fd);
        return -1;
    }
    t->fd = fd;
    t->wfd = wfd;
    t->mask = 0;
    return 0;
}

static void unwatch_fd(struct transport *t)
{
    if (t->wfd >= 0 && t->wfd != t->fd) {
        loop_remove(t->loop, t->wfd);
        close(t->wfd);
    }
    t->wfd = -1;
    if (t->fd >= 0) {
        loop_remove(t->loop, t->fd);
        close(t->fd);
        t->fd = -1;
    }
}

/* Non-blocking connect to one address, the loop running meanwhile. Returns 0 with t->fd set,
 * or -1 with errno-ish text in why. */
static int connect_one(struct transport *t, const struct addrinfo *ai, char *why, size_t whylen,
                       int *rc)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        *rc = TRANSPORT_ERR_NET;
        return -1;
    }
    if (watch_fds(t, fd, fd) < 0) {
        close(fd);
        snprintf(why, whylen, "out of memory");
        *rc = TRANSPORT_ERR_NOMEM;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS) {
        snprintf(why, whylen, "%s", strerror(errno));
        unwatch_fd(t);
        *rc = TRANSPORT_ERR_NET;
        return -1;
    }
    int w = wait_ready(t, LOOP_WRITE, deadline_after(t->connect_timeout_ms), "connect",
                       t->connect_timeout_ms);
    if (w < 0) {
        if (w == TRANSPORT_ERR_TIMEOUT) {
            char secs[32];
            fmt_seconds(secs, sizeof secs, t->connect_timeout_ms);
            snprintf(why, whylen, "timeout after %s", secs);
        } else {
            snprintf(why, whylen, "poll failed");
        }
        unwatch_fd(t);
        *rc = w;
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        soerr = errno;
    if (soerr) {
        snprintf(why, whylen, "%s", strerror(soerr));
        unwatch_fd(t);
        *rc = TRANSPORT_ERR_NET;
        return -1;
    }
    return 0;
}

static int tcp_connect(struct transport *t, char *err, size_t errlen)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%u", t->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int g = getaddrinfo(t->host, portstr, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "resolve %s: %s", t->host,
                 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return TRANSPORT_ERR_NET;
    }
    int rc = TRANSPORT_ERR_NET;
    char why[128] = "no address";
    char addr[NI_MAXHOST + 16] = "";
    bool literal = is_ip_literal(t->host);
    int ok = -1;
    for (struct addrinfo *ai = res; ai && ok < 0; ai = ai->ai_next) {
        format_addr(ai->ai_addr, ai->ai_addrlen, t->port, addr, sizeof addr);
        ok = connect_one(t, ai, why, sizeof why, &rc);
    }
    freeaddrinfo(res);
    if (ok < 0) {
        if (literal || !addr[0])
            snprintf(err, errlen, "connect %s: %s", addr[0] ? addr : t->label, why);
        else
            snprintf(err, errlen, "connect %s (%s): %s", t->label, addr, why);
        return rc;
    }
    int one = 1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

/* The command's stdout and stdin stand for the TCP socket. */
static int tunnel_connect(struct transport *t, const struct transport_config *cfg, char *err,
                          size_t errlen)
{
    int rfd, wfd;
    if (tunnel_start(t->loop, cfg->tunnel, cfg->tunnel_line, cfg->tunnel_ud, &t->tunnel, &rfd,
                     &wfd, err, errlen) < 0)
        return TRANSPORT_ERR_NET;
    t->fd_is_pipe = true;
    if (watch_fds(t, rfd, wfd) < 0) {
        close(rfd);
        close(wfd);
        snprintf(err, errlen, "out of memory");
        return TRANSPORT_ERR_NOMEM;
    }
    return 0;
}

/* ---- TLS ----------------------------------------------------------------- */

/* The first queued OpenSSL reason ("wrong version number"), or fallback. Clears the queue. */
static const char *ssl_reason(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_get_error(), first = e;
    while (e) {   /* the earliest error is usually the cause; keep it */
        e = ERR_get_error();
    }
    if (!first) {
        snprintf(buf, len, "%s", fallback);
        return buf;
    }
    const char *r = ERR_reason_error_string(first);
    if (r)
        snprintf(buf, len, "%s", r);
    else
        ERR_error_string_n(first, buf, len);
    return buf;
}

/* Parses 64 hex digits, colons/spaces between allowed, case-insensitive, optional "sha256:". */
static int parse_fingerprint(const char *s, unsigned char out[32])
{
    if (strncasecmp(s, "sha256:", 7) == 0 || strncasecmp(s, "sha256/", 7) == 0)
        s += 7;
    size_t n = 0;
    int half = -1;
    for (; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9') v = *s - '0';
        else if (*s >= 'a' && *s <= 'f') v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F') v = *s - 'A' + 10;
        else if ((*s == ':' || *s == ' ') && half < 0) continue;
        else return -1;
        if (half < 0) {
            half = v;
        } else {
            if (n == 32)
                return -1;
            out[n++] = (unsigned char)(half << 4 | v);
            half = -1;
        }
    }
    return n == 32 && half < 0 ? 0 : -1;
}

static void hex_colons(const unsigned char *md, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 <= len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ":%02x" : "%02x", md[i]);
    if (o < len)
        buf[o] = '\0';
}

static bool verifying_chain(const struct transport *t)
{
    return !t->insecure && !t->fingerprint;
}

static int tls_handshake(struct transport *t, char *err, size_t errlen)
{
    unsigned char want[32];
    const char *name = t->verify_name ? t->verify_name : t->host;
    if (!name && verifying_chain(t)) {
        snprintf(err, errlen, "TLS over a tunnel: no name to verify the certificate against "
                 "(set host, or a fingerprint)");
        return TRANSPORT_ERR_CONFIG;
    }
    bool named = name != NULL;
    if (!named)
        name = t->label;    /* for messages only: no SNI, and the fingerprint is checked */
    if (t->fingerprint && !t->insecure && parse_fingerprint(t->fingerprint, want) < 0) {
        snprintf(err, errlen, "TLS: invalid fingerprint for %s (want 64 hex digits of SHA-256)", name);
        return TRANSPORT_ERR_CONFIG;
    }
    CRYPTO_THREAD_run_once(&sock_once, sock_method_init);
    if (!sock_method) {
        snprintf(err, errlen, "TLS: out of memory");
        return TRANSPORT_ERR_NOMEM;
    }
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        snprintf(err, errlen, "TLS: cannot create context");
        return TRANSPORT_ERR_TLS;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* IMAP frames itself (tagged replies), so a missing close_notify cannot truncate silently. */
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (verifying_chain(t)) {
        if (t->ca_file) {
            if (SSL_CTX_load_verify_locations(t->ctx, t->ca_file, NULL) != 1) {
                char r[160];
                snprintf(err, errlen, "TLS: cannot load CA file %s: %s", t->ca_file,
                         ssl_reason(r, sizeof r, "unreadable"));
                return TRANSPORT_ERR_CONFIG;
            }
        } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            char r[160];
            snprintf(err, errlen, "TLS: cannot load the system certificate store: %s",
                     ssl_reason(r, sizeof r, "unknown"));
            return TRANSPORT_ERR_CONFIG;
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    }
    t->ssl = SSL_new(t->ctx);
    BIO *bio = t->ssl ? BIO_new(sock_method) : NULL;
    if (!bio) {
        snprintf(err, errlen, "TLS: out of memory");
        return TRANSPORT_ERR_NOMEM;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    /* Queued output is written from a buffer that grows and moves between tries. */
    SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    bool ip = is_ip_literal(name);
    if (!ip && named)
        SSL_set_tlsext_host_name(t->ssl, name);
    if (verifying_chain(t)) {
        int ok;
        if (ip) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name);
        } else {
            SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set1_host(t->ssl, name);
        }
        if (ok != 1) {
            snprintf(err, errlen, "TLS: cannot set the name to verify (%s)", name);
            return TRANSPORT_ERR_CONFIG;
        }
    }

    int64_t deadline = deadline_after(t->connect_timeout_ms);
    t->sys_errno = 0;
    for (;;) {
        int r = SSL_connect(t->ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(t->ssl, r);
        int w = 0;
        if (e == SSL_ERROR_WANT_READ)
            w = wait_ready(t, LOOP_READ, deadline, "TLS handshake", t->connect_timeout_ms);
        else if (e == SSL_ERROR_WANT_WRITE)
            w = wait_ready(t, LOOP_WRITE, deadline, "TLS handshake", t->connect_timeout_ms);
        else {
            long v = SSL_get_verify_result(t->ssl);
            char r2[200];
            if (verifying_chain(t) && v != X509_V_OK) {
                ERR_clear_error();
                snprintf(err, errlen, "TLS: certificate verify failed: %s (host %s)",
                         X509_verify_cert_error_string(v), name);
            } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
                snprintf(err, errlen, "TLS handshake with %s: %s", t->label,
                         io_why(t, t->sys_errno));
            } else {
                snprintf(err, errlen, "TLS handshake with %s: %s", t->label,
                         ssl_reason(r2, sizeof r2, "failed"));
            }
            return TRANSPORT_ERR_TLS;
        }
        if (w < 0) {
            snprintf(err, errlen, "%s (%s)", t->err, t->label);
            return w == TRANSPORT_ERR_TIMEOUT ? TRANSPORT_ERR_TIMEOUT : TRANSPORT_ERR_NET;
        }
    }

    if (t->fingerprint && !t->insecure) {
        X509 *cert = SSL_get0_peer_certificate(t->ssl);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        if (!cert || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
            snprintf(err, errlen, "TLS: no server certificate to check the fingerprint of (host %s)",
                     name);
            return TRANSPORT_ERR_TLS;
        }
        if (memcmp(md, want, 32) != 0) {
            char got[100], exp[100];
            hex_colons(md, 32, got, sizeof got);
            hex_colons(want, 32, exp, sizeof exp);
            snprintf(err, errlen, "TLS: certificate fingerprint mismatch for %s: got %s expected %s",
                     name, got, exp);
            return TRANSPORT_ERR_TLS;
        }
    }
    return 0;
}

/* ---- public -------------------------------------------------------------- */

void transport_close(struct transport *t)
{
    if (!t)
        return;
    if (t->ssl) {
        /* Best effort: one non-blocking attempt, no waiting for the peer's reply. */
        SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
    }
    SSL_CTX_free(t->ctx);
    ERR_clear_error();
    if (t->zin_init)
        inflateEnd(&t->zin);
    if (t->zout_init)
        deflateEnd(&t->zout);
    free(t->zbuf);
    free(t->obuf);
    unwatch_fd(t);
    if (t->tunnel) {     /* its stdin just closed: it should go by itself */
        int grace = t->io_timeout_ms > 0 && t->io_timeout_ms < TUNNEL_GRACE_MS ? t->io_timeout_ms
                                                                               : TUNNEL_GRACE_MS;
        tunnel_close(t->tunnel, grace);
    }
    free(t->host);
    free(t->verify_name);
    free(t->ca_file);
    free(t->fingerprint);
    free(t);
}

int transport_connect(const struct transport_config *cfg, struct transport **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    if ((!cfg->host || !cfg->host[0]) && !cfg->tunnel) {
        snprintf(err, errlen, "connect: no host given");
        return TRANSPORT_ERR_CONFIG;
    }
    struct transport *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return TRANSPORT_ERR_NOMEM;
    }
    t->fd = t->wfd = -1;
    t->loop = cfg->loop ? cfg->loop : loop_default();
    t->port = cfg->port ? cfg->port : (cfg->tls ? 993 : 143);
    t->host = dup_or_null(cfg->host && cfg->host[0] ? cfg->host : NULL);
    t->verify_name = dup_or_null(cfg->verify_name);
    t->ca_file = dup_or_null(cfg->ca_file);
    t->fingerprint = dup_or_null(cfg->fingerprint);
    t->insecure = cfg->insecure;
    t->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_TIMEOUT_MS;
    t->io_timeout_ms = cfg->io_timeout_ms ? cfg->io_timeout_ms : DEFAULT_TIMEOUT_MS;
    t->last_io_read = true;
    if (!t->loop || (cfg->host && cfg->host[0] && !t->host) ||
        (cfg->verify_name && !t->verify_name) || (cfg->ca_file && !t->ca_file) ||
        (cfg->fingerprint && !t->fingerprint)) {
        transport_close(t);
        snprintf(err, errlen, "out of memory");
        return TRANSPORT_ERR_NOMEM;
    }
    if (cfg->tunnel)
        snprintf(t->label, sizeof t->label, "tunnel");
    else if (strchr(t->host, ':'))
        snprintf(t->label, sizeof t->label, "[%s]:%u", t->host, t->port);
    else
        snprintf(t->label, sizeof t->label, "%s:%u", t->host, t->port);

    int rc = cfg->tunnel ? tunnel_connect(t, cfg, err, errlen) : tcp_connect(t, err, errlen);
    if (rc == 0 && cfg->tls)
        rc = tls_handshake(t, err, errlen);
    if (rc < 0) {
        transport_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

int transport_starttls(struct transport *t, char *err, size_t errlen)
{
    if (t->ssl) {
        snprintf(err, errlen, "STARTTLS: TLS is already active");
        return TRANSPORT_ERR_TLS;
    }
    int rc = tls_handshake(t, err, errlen);
    if (rc < 0) {
        /* The stream is in an unknown state: make every later read/write fail. */
        if (t->ssl) {
            SSL_free(t->ssl);
            t->ssl = NULL;
        }
        shutdown(t->fd, SHUT_RDWR);
        if (t->wfd != t->fd)
            shutdown(t->wfd, SHUT_RDWR);
        snprintf(t->err, sizeof t->err, "%s", err);
        t->werr = rc;   /* a tunnel's stdout pipe cannot be shut down: fail reads here too */
    }
    return rc;
}

/* ---- reading --------------------------------------------------------------- */

/* One read from the socket or TLS, without waiting: n > 0, 0 at EOF, TRANSPORT_AGAIN, or
 * TRANSPORT_ERR_*. Counts wire bytes only. */
static ssize_t raw_recv(struct transport *t, void *buf, size_t cap)
{
    if (t->werr)
        return t->werr;
    if (t->fd < 0) {
        snprintf(t->err, sizeof t->err, "read from %s: not connected", t->label);
        return TRANSPORT_ERR_NET;
    }
    if (cap > INT_MAX)
        cap = INT_MAX;
    if (t->ssl) {
        t->sys_errno = 0;
        ERR_clear_error();
        int r = SSL_read(t->ssl, buf, (int)cap);
        bool wanted_write = t->read_wants_write;
        t->read_wants_write = false;
        ssize_t out;
        if (r > 0) {
            out = r;
        } else {
            int e = SSL_get_error(t->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN) {
                out = 0;
            } else if (e == SSL_ERROR_WANT_READ) {
                out = TRANSPORT_AGAIN;
            } else if (e == SSL_ERROR_WANT_WRITE) {
                t->read_wants_write = true;
                out = TRANSPORT_AGAIN;
            } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
                out = 0;
                if (t->sys_errno) {
                    snprintf(t->err, sizeof t->err, "read from %s: %s", t->label,
                             io_why(t, t->sys_errno));
                    out = TRANSPORT_ERR_NET;
                }
            } else {
                char r2[200];
                snprintf(t->err, sizeof t->err, "TLS read from %s: %s", t->label,
                         ssl_reason(r2, sizeof r2, "failed"));
                out = TRANSPORT_ERR_TLS;
            }
        }
        if (wanted_write != t->read_wants_write)
            update_mask(t);
        return out;
    }
    for (;;) {
        ssize_t n = t->fd_is_pipe ? read(t->fd, buf, cap) : recv(t->fd, buf, cap, 0);
        if (n > 0) {
            t->st.wire_in += (uint64_t)n;
            return n;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return TRANSPORT_AGAIN;
        snprintf(t->err, sizeof t->err, "read from %s: %s", t->label, io_why(t, errno));
        return TRANSPORT_ERR_NET;
    }
}

/* Decompressed read (COMPRESS=DEFLATE): inflates what is buffered, reading more when empty. */
static ssize_t inflate_recv(struct transport *t, void *buf, size_t cap)
{
    z_stream *z = &t->zin;
    for (;;) {
        if (t->zin_ended)
            return 0;   /* the server finished its stream (it does at LOGOUT): end of data */
        z->next_out = buf;
        z->avail_out = cap > UINT_MAX ? UINT_MAX : (unsigned)cap;
        int zr = inflate(z, Z_SYNC_FLUSH);
        size_t made = (cap > UINT_MAX ? UINT_MAX : cap) - z->avail_out;
        if (zr == Z_STREAM_END)
            t->zin_ended = true;
        else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            snprintf(t->err, sizeof t->err, "COMPRESS: bad DEFLATE data from %s: %s", t->label,
                     z->msg ? z->msg : "inflate failed");
            return TRANSPORT_ERR_NET;
        }
        if (made > 0)
            return (ssize_t)made;
        if (z->avail_in == 0) {
            ssize_t n = raw_recv(t, t->zbuf, ZBUF_SIZE);
            if (n <= 0)
                return n;
            z->next_in = (unsigned char *)t->zbuf;
            z->avail_in = (unsigned)n;
        }
    }
}

ssize_t transport_recv(struct transport *t, void *buf, size_t cap)
{
    ssize_t n = t->compressing ? inflate_recv(t, buf, cap) : raw_recv(t, buf, cap);
    if (n > 0) {
        t->st.bytes_in += (uint64_t)n;
        t->st.reads++;
        t->last_io_read = true;
    }
    return n;
}

ssize_t transport_read_timeout(struct transport *t, void *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = deadline_after(timeout_ms);
    for (;;) {
        ssize_t n = transport_recv(t, buf, cap);
        if (n != TRANSPORT_AGAIN)
            return n;
        int w = wait_ready(t, t->read_wants_write ? LOOP_WRITE : LOOP_READ, deadline, "read",
                           timeout_ms);
        if (w < 0)
            return w;
    }
}

ssize_t transport_read(struct transport *t, void *buf, size_t cap)
{
    return transport_read_timeout(t, buf, cap, t->io_timeout_ms);
}

/* ---- writing --------------------------------------------------------------- */

/* Room for at least need more bytes at the end of obuf (written bytes dropped first). */
static int obuf_reserve(struct transport *t, size_t need)
{
    if (t->ooff > 0 && t->ooff == t->olen)
        t->ooff = t->olen = 0;
    if (t->olen + need <= t->ocap)
        return 0;
    if (t->ooff > 0) {   /* TLS accepts the moved buffer: same bytes, new place */
        memmove(t->obuf, t->obuf + t->ooff, t->olen - t->ooff);
        t->olen -= t->ooff;
        t->ooff = 0;
        if (t->olen + need <= t->ocap)
            return 0;
    }
    size_t cap = t->ocap ? t->ocap : 16384;
    while (cap < t->olen + need)
        cap *= 2;
    char *b = realloc(t->obuf, cap);
    if (!b) {
        snprintf(t->err, sizeof t->err, "out of memory");
        return TRANSPORT_ERR_NOMEM;
    }
    t->obuf = b;
    t->ocap = cap;
    return 0;
}

/* Fails every later read and write with rc (its message already in t->err). */
static int write_failed(struct transport *t, int rc)
{
    t->werr = rc;
    t->ooff = t->olen = 0;
    update_mask(t);
    return rc;
}

/* Writes queued bytes the socket takes now: 0 when all are written, 1 when some remain (the
 * loop writes them when it can), or TRANSPORT_ERR_*. Counts wire bytes only. */
static int push_now(struct transport *t)
{
    if (t->werr)
        return t->werr;
    while (t->ooff < t->olen) {
        size_t n = t->olen - t->ooff;
        if (n > INT_MAX)
            n = INT_MAX;
        if (t->ssl) {
            t->sys_errno = 0;
            ERR_clear_error();
            int r = SSL_write(t->ssl, t->obuf + t->ooff, (int)n);
            t->write_wants_read = false;
            if (r > 0) {
                t->ooff += (size_t)r;
                continue;
            }
            int e = SSL_get_error(t->ssl, r);
            if (e == SSL_ERROR_WANT_WRITE)
                break;
            if (e == SSL_ERROR_WANT_READ) {
                t->write_wants_read = true;
                break;
            }
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
                snprintf(t->err, sizeof t->err, "write to %s: %s", t->label,
                         io_why(t, t->sys_errno));
                return write_failed(t, TRANSPORT_ERR_NET);
            }
            char r2[200];
            snprintf(t->err, sizeof t->err, "TLS write to %s: %s", t->label,
                     ssl_reason(r2, sizeof r2, "failed"));
            return write_failed(t, TRANSPORT_ERR_TLS);
        }
        ssize_t w = send(t->wfd, t->obuf + t->ooff, n, MSG_NOSIGNAL);
        if (w > 0) {
            t->ooff += (size_t)w;
            t->st.wire_out += (uint64_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        snprintf(t->err, sizeof t->err, "write to %s: %s", t->label, io_why(t, w < 0 ? errno : 0));
        return write_failed(t, TRANSPORT_ERR_NET);
    }
    if (t->ooff == t->olen)
        t->ooff = t->olen = 0;
    update_mask(t);
    return t->olen > t->ooff;
}

/* Deflates buf with a sync flush (so the server can act on it now) onto the queue. */
static int deflate_queue(struct transport *t, const void *buf, size_t len)
{
    z_stream *z = &t->zout;
    const unsigned char *p = buf;
    for (;;) {
        size_t chunk = len > UINT_MAX ? UINT_MAX : len;
        z->next_in = (unsigned char *)p;
        z->avail_in = (unsigned)chunk;
        p += chunk;
        len -= chunk;
        int flush = len ? Z_NO_FLUSH : Z_SYNC_FLUSH;
        do {
            int rc = obuf_reserve(t, ZBUF_SIZE);
            if (rc < 0)
                return rc;
            size_t room = t->ocap - t->olen;
            z->next_out = (unsigned char *)t->obuf + t->olen;
            z->avail_out = room > UINT_MAX ? UINT_MAX : (unsigned)room;
            unsigned before = z->avail_out;
            int zr = deflate(z, flush);
            if (zr != Z_OK && zr != Z_BUF_ERROR) {
                snprintf(t->err, sizeof t->err, "COMPRESS: deflate failed");
                return TRANSPORT_ERR_NET;
            }
            t->olen += before - z->avail_out;
        } while (z->avail_in > 0 || z->avail_out == 0);
        if (!len)
            return 0;
    }
}

int transport_send(struct transport *t, const void *buf, size_t len)
{
    if (t->werr)
        return t->werr;
    if (!len)
        return 0;
    if (t->fd < 0) {
        snprintf(t->err, sizeof t->err, "write to %s: not connected", t->label);
        return TRANSPORT_ERR_NET;
    }
    if (t->last_io_read) {
        t->st.round_trips++;
        t->last_io_read = false;
    }
    int rc;
    if (t->compressing) {
        rc = deflate_queue(t, buf, len);
    } else {
        rc = obuf_reserve(t, len);
        if (rc == 0) {
            memcpy(t->obuf + t->olen, buf, len);
            t->olen += len;
        }
    }
    if (rc < 0)
        return write_failed(t, rc);
    t->st.bytes_out += len;
    t->st.writes++;
    rc = push_now(t);
    return rc < 0 ? rc : 0;
}

size_t transport_queued(const struct transport *t)
{
    return t->olen - t->ooff;
}

int transport_write_all(struct transport *t, const void *buf, size_t len)
{
    int rc = transport_send(t, buf, len);
    int64_t deadline = deadline_after(t->io_timeout_ms);
    while (rc == 0 && t->olen > t->ooff) {
        rc = wait_ready(t, t->write_wants_read ? LOOP_READ : LOOP_WRITE, deadline, "write",
                        t->io_timeout_ms);
        if (rc == 0)
            rc = push_now(t);
        if (rc > 0)
            rc = 0;
    }
    return rc;
}

void transport_set_ready(struct transport *t, void (*fn)(void *ud), void *ud)
{
    t->ready = fn;
    t->ready_ud = ud;
    update_mask(t);
}

void transport_kick(struct transport *t)
{
    if (t->fd >= 0)
        loop_kick(t->loop, t->fd);
}

int transport_compress(struct transport *t, char *err, size_t errlen)
{
    if (t->compressing) {
        snprintf(err, errlen, "COMPRESS: already active");
        return TRANSPORT_ERR_CONFIG;
    }
    t->zbuf = malloc(ZBUF_SIZE);
    if (!t->zbuf) {
        snprintf(err, errlen, "out of memory");
        return TRANSPORT_ERR_NOMEM;
    }
    if (inflateInit2(&t->zin, -15) != Z_OK) {
        snprintf(err, errlen, "COMPRESS: cannot start inflate");
        return TRANSPORT_ERR_NOMEM;
    }
    t->zin_init = true;
    if (deflateInit2(&t->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        snprintf(err, errlen, "COMPRESS: cannot start deflate");
        return TRANSPORT_ERR_NOMEM;
    }
    t->zout_init = true;
    t->compressing = true;
    return 0;
}

bool transport_is_compressed(const struct transport *t)
{
    return t->compressing;
}

const char *transport_error(const struct transport *t)
{
    return t->err[0] ? t->err : "no error";
}

bool transport_is_tls(const struct transport *t)
{
    return t->ssl != NULL;
}

const char *transport_describe(const struct transport *t, char *buf, size_t len)
{
    if (t->ssl)
        snprintf(buf, len, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
    else
        snprintf(buf, len, "plain");
    return buf;
}

const struct transport_stats *transport_stats(const struct transport *t)
{
    return &t->st;
}
