/* fakeoauth.c — a fake OAuth2 provider for the test bed, and the "browser" that visits it:
 *
 *   build/fakeoauth serve DIR     (scripts/testbed start --oauth2 runs it)
 *   build/fakeoauth browse URL    GETs URL, follows redirects, prints the last answer
 *
 * serve listens on two free ports of 127.0.0.1, prints "HTTP n" and "HTTPS n" on stdout, and
 * answers one request per connection until 10 minutes pass without one:
 *   HTTP  POST /introspect   Dovecot's token check (oauth2 passdb, introspection_mode = post):
 *                            {"active":true,"username":U} for a token it issued and that has not
 *                            expired, or "static-token-alice"; {"active":false} otherwise
 *   HTTP  GET  /authorize    the user's consent, given at once: 302 to redirect_uri with code
 *                            and state; wants PKCE (S256) and a http://127.0.0.1:PORT/ redirect
 *   HTTPS POST /token        grant_type refresh_token ("rt-alice" and those it issued; others
 *                            are revoked: 400 invalid_grant), authorization_code (checks PKCE and
 *                            redirect_uri), device_code (authorization_pending once, then tokens)
 *   HTTPS POST /device       device authorization: device_code, user_code, interval 1
 * HTTPS uses DIR/tls/server.pem and server.key (the bed's CA signs them). Access tokens last
 * 3600 s. A client_id ending in "-rotate" gets a new refresh token on each refresh, and the old
 * one is revoked (as Microsoft's are replaced). A client_secret, when sent, must be
 * "fake-client-secret" (else 401 invalid_client). Every /token call appends a line to
 * DIR/oauth-calls: "GRANT client=ID secret=ok|none [pkce=ok]". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define IDLE_MS (10 * 60 * 1000)
#define REQ_MAX 16384
#define MAX_ITEMS 256
#define SECRET "fake-client-secret"

struct conn {
    int fd;
    SSL *ssl;
};

struct req {
    char method[8], path[256], query[4096];
    char body[REQ_MAX];
    size_t body_len;
};

/* What the fake remembers: issued access tokens, refresh tokens, codes, device codes. */
struct item {
    char value[160];
    char user[32];
    time_t expires;             /* access tokens */
    bool revoked;               /* refresh tokens */
    char challenge[128], redirect[256];  /* codes */
    int polls;                  /* device codes */
};
static struct item access_tokens[MAX_ITEMS], refresh_tokens[MAX_ITEMS], codes[MAX_ITEMS],
    devices[MAX_ITEMS];
static size_t naccess, nrefresh, ncodes, ndevices;
static unsigned long serial;
static unsigned http_port;
static char calls_path[4096];

/* ---- small helpers ------------------------------------------------------------------- */

static struct item *find(struct item *v, size_t n, const char *value)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].value, value) == 0)
            return &v[i];
    return NULL;
}

static struct item *add(struct item *v, size_t *n, const char *user, const char *fmt, ...)
{
    struct item *it = *n < MAX_ITEMS ? &v[(*n)++] : &v[MAX_ITEMS - 1];
    memset(it, 0, sizeof *it);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->value, sizeof it->value, fmt, ap);
    va_end(ap);
    snprintf(it->user, sizeof it->user, "%s", user);
    return it;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
           c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of name in a form or query string, percent-decoded, into out ("" if absent). */
static const char *form_get(const char *form, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = form; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || p[nl] != '=')
            continue;
        size_t o = 0;
        for (const char *q = p + nl + 1; *q && *q != '&' && o + 1 < cap; q++) {
            if (*q == '+') {
                out[o++] = ' ';
            } else if (*q == '%' && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
                out[o++] = (char)(hexval(q[1]) * 16 + hexval(q[2]));
                q += 2;
            } else {
                out[o++] = *q;
            }
        }
        out[o] = '\0';
        return out;
    }
    return out;
}

static void url_escape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static void pkce_s256(const char *verifier, char *out, size_t cap)
{
    unsigned char md[32];
    unsigned int n = 0;
    char b[64];
    EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL);
    int k = EVP_EncodeBlock((unsigned char *)b, md, (int)n);
    while (k > 0 && b[k - 1] == '=')
        k--;
    for (int i = 0; i < k; i++)
        b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
    snprintf(out, cap, "%.*s", k, b);
}

static void log_call(const char *fmt, ...)
{
    FILE *f = fopen(calls_path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

/* ---- connections --------------------------------------------------------------------- */

static ssize_t conn_read(struct conn *c, char *buf, size_t n)
{
    if (c->ssl) {
        int k = SSL_read(c->ssl, buf, (int)n);
        return k > 0 ? k : -1;
    }
    ssize_t k;
    do
        k = recv(c->fd, buf, n, 0);
    while (k < 0 && errno == EINTR);
    return k > 0 ? k : -1;
}

static void conn_write(struct conn *c, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, buf, (int)n) : send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

/* Reads one request: head, then Content-Length bytes of body. */
static bool read_request(struct conn *c, struct req *r)
{
    static char buf[REQ_MAX * 2];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len + 1 >= sizeof buf)
            return false;
        ssize_t k = conn_read(c, buf + len, sizeof buf - 1 - len);
        if (k <= 0)
            return false;
        len += (size_t)k;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head = (size_t)(end - buf) + 4;
    char target[4400];
    if (sscanf(buf, "%7s %4399s", r->method, target) != 2)
        return false;
    char *q = strchr(target, '?');
    snprintf(r->query, sizeof r->query, "%s", q ? q + 1 : "");
    if (q)
        *q = '\0';
    snprintf(r->path, sizeof r->path, "%.255s", target);
    size_t clen = 0;
    for (char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
        if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
            clen = strtoul(h + 17, NULL, 10);
    if (clen >= sizeof r->body)
        return false;
    size_t have = len - head;
    memcpy(r->body, buf + head, have < clen ? have : clen);
    while (have < clen) {
        ssize_t k = conn_read(c, r->body + have, clen - have);
        if (k <= 0)
            return false;
        have += (size_t)k;
    }
    r->body_len = clen;
    r->body[clen] = '\0';
    return true;
}

static void reply(struct conn *c, const char *status, const char *extra_headers, const char *fmt, ...)
{
    char body[4096], head[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n", status, strlen(body),
                     extra_headers ? extra_headers : "");
    conn_write(c, head, (size_t)n);
    conn_write(c, body, strlen(body));
}

/* ---- endpoints ----------------------------------------------------------------------- */

static void issue_tokens(struct conn *c, const char *user, const char *refresh)
{
    struct item *a = add(access_tokens, &naccess, user, "at-%s-%lu-%ld", user, ++serial,
                         (long)time(NULL));
    a->expires = time(NULL) + 3600;
    char rt[200] = "";
    if (refresh)
        snprintf(rt, sizeof rt, ",\"refresh_token\":\"%s\"", refresh);
    reply(c, "200 OK", NULL, "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
          "\"expires_in\":3600,\"scope\":\"mail\"%s}", a->value, rt);
}

static void token_error(struct conn *c, const char *status, const char *error, const char *desc)
{
    reply(c, status, NULL, "{\"error\":\"%s\",\"error_description\":\"%s\"}", error, desc);
}

static void endpoint_token(struct conn *c, const struct req *r)
{
    char grant[128], client[128], secret[128], v[512];
    form_get(r->body, "grant_type", grant, sizeof grant);
    form_get(r->body, "client_id", client, sizeof client);
    form_get(r->body, "client_secret", secret, sizeof secret);
    bool secret_ok = strcmp(secret, SECRET) == 0;
    if (secret[0] && !secret_ok) {
        log_call("%s client=%s secret=bad", grant, client);
        token_error(c, "401 Unauthorized", "invalid_client", "The client secret is wrong.");
        return;
    }
    const char *sec = secret_ok ? "ok" : "none";
    if (strcmp(grant, "refresh_token") == 0) {
        form_get(r->body, "refresh_token", v, sizeof v);
        log_call("refresh_token client=%s secret=%s", client, sec);
        struct item *rt = find(refresh_tokens, nrefresh, v);
        if (!rt || rt->revoked) {
            token_error(c, "400 Bad Request", "invalid_grant", "Token has been expired or revoked.");
            return;
        }
        size_t cl = strlen(client);
        if (cl > 7 && strcmp(client + cl - 7, "-rotate") == 0) {
            rt->revoked = true;
            struct item *nrt = add(refresh_tokens, &nrefresh, rt->user, "rt-%s-rotated-%lu",
                                   rt->user, ++serial);
            issue_tokens(c, nrt->user, nrt->value);
            return;
        }
        issue_tokens(c, rt->user, NULL);
    } else if (strcmp(grant, "authorization_code") == 0) {
        char verifier[256], redirect[256], want[128];
        form_get(r->body, "code", v, sizeof v);
        form_get(r->body, "code_verifier", verifier, sizeof verifier);
        form_get(r->body, "redirect_uri", redirect, sizeof redirect);
        struct item *code = find(codes, ncodes, v);
        pkce_s256(verifier, want, sizeof want);
        bool pkce = code && verifier[0] && strcmp(want, code->challenge) == 0;
        log_call("authorization_code client=%s secret=%s pkce=%s", client, sec, pkce ? "ok" : "bad");
        if (!code || code->revoked || strcmp(redirect, code->redirect) != 0) {
            token_error(c, "400 Bad Request", "invalid_grant", "Unknown code or redirect_uri.");
        } else if (!pkce) {
            token_error(c, "400 Bad Request", "invalid_grant", "PKCE verification failed.");
        } else {
            code->revoked = true;
            struct item *rt = add(refresh_tokens, &nrefresh, "alice", "rt-alice-%lu", ++serial);
            issue_tokens(c, "alice", rt->value);
        }
    } else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:device_code") == 0) {
        form_get(r->body, "device_code", v, sizeof v);
        log_call("device_code client=%s secret=%s", client, sec);
        struct item *d = find(devices, ndevices, v);
        if (!d || d->revoked) {
            token_error(c, "400 Bad Request", "expired_token", "Unknown device code.");
        } else if (d->polls++ == 0) {
            token_error(c, "400 Bad Request", "authorization_pending", "Waiting for the user.");
        } else {
            d->revoked = true;
            struct item *rt = add(refresh_tokens, &nrefresh, "alice", "rt-alice-%lu", ++serial);
            issue_tokens(c, "alice", rt->value);
        }
    } else {
        log_call("%s client=%s secret=%s", grant, client, sec);
        token_error(c, "400 Bad Request", "unsupported_grant_type", "Unknown grant_type.");
    }
}

static void endpoint_device(struct conn *c, const struct req *r)
{
    char client[128];
    form_get(r->body, "client_id", client, sizeof client);
    struct item *d = add(devices, &ndevices, "alice", "dc-%lu", ++serial);
    reply(c, "200 OK", NULL, "{\"device_code\":\"%s\",\"user_code\":\"FAKE-%04lu\","
          "\"verification_uri\":\"http://127.0.0.1:%u/device\",\"expires_in\":300,"
          "\"interval\":1,\"message\":\"To sign in, visit http://127.0.0.1:%u/device\"}",
          d->value, serial % 10000, http_port, http_port);
}

static void endpoint_authorize(struct conn *c, const struct req *r)
{
    char type[32], redirect[256], state[256], challenge[128], method[16], loc[2048], es[800];
    form_get(r->query, "response_type", type, sizeof type);
    form_get(r->query, "redirect_uri", redirect, sizeof redirect);
    form_get(r->query, "state", state, sizeof state);
    form_get(r->query, "code_challenge", challenge, sizeof challenge);
    form_get(r->query, "code_challenge_method", method, sizeof method);
    if (strncmp(redirect, "http://127.0.0.1:", 17) != 0) {
        reply(c, "400 Bad Request", NULL, "{\"error\":\"bad redirect_uri\"}");
        return;
    }
    url_escape(state, es, sizeof es);
    if (strcmp(type, "code") != 0 || strcmp(method, "S256") != 0 || !challenge[0]) {
        snprintf(loc, sizeof loc, "Location: %s?error=invalid_request&state=%s\r\n", redirect, es);
    } else {
        struct item *code = add(codes, &ncodes, "alice", "code-%lu", ++serial);
        snprintf(code->challenge, sizeof code->challenge, "%s", challenge);
        snprintf(code->redirect, sizeof code->redirect, "%s", redirect);
        snprintf(loc, sizeof loc, "Location: %s?code=%s&state=%s\r\n", redirect, code->value, es);
    }
    reply(c, "302 Found", loc, "{}");
}

static void endpoint_introspect(struct conn *c, const struct req *r)
{
    char tok[512];
    form_get(r->body, "token", tok, sizeof tok);
    struct item *a = find(access_tokens, naccess, tok);
    if (strcmp(tok, "static-token-alice") == 0)
        reply(c, "200 OK", NULL, "{\"active\":true,\"username\":\"alice\"}");
    else if (a && a->expires > time(NULL))
        reply(c, "200 OK", NULL, "{\"active\":true,\"username\":\"%s\"}", a->user);
    else
        reply(c, "200 OK", NULL, "{\"active\":false}");
}

static void serve_conn(struct conn *c, bool tls)
{
    static struct req r;
    memset(&r, 0, sizeof r);
    if (!read_request(c, &r))
        return;
    fprintf(stderr, "fakeoauth: %s %s %s\n", tls ? "https" : "http", r.method, r.path);
    if (tls && !strcmp(r.method, "POST") && !strcmp(r.path, "/token"))
        endpoint_token(c, &r);
    else if (tls && !strcmp(r.method, "POST") && !strcmp(r.path, "/device"))
        endpoint_device(c, &r);
    else if (!tls && !strcmp(r.method, "GET") && !strcmp(r.path, "/authorize"))
        endpoint_authorize(c, &r);
    else if (!tls && !strcmp(r.method, "POST") && !strcmp(r.path, "/introspect"))
        endpoint_introspect(c, &r);
    else
        reply(c, "404 Not Found", NULL, "{\"error\":\"not found\"}");
}

static int listen_loopback(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        perror("fakeoauth: listen");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int serve(const char *dir)
{
    char cert[4096], key[4096];
    snprintf(cert, sizeof cert, "%s/tls/server.pem", dir);
    snprintf(key, sizeof key, "%s/tls/server.key", dir);
    snprintf(calls_path, sizeof calls_path, "%s/oauth-calls", dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "fakeoauth: cannot load %s / %s\n", cert, key);
        ERR_print_errors_fp(stderr);
        return 2;
    }
    add(refresh_tokens, &nrefresh, "alice", "rt-alice");
    unsigned https_port;
    int lf[2] = { listen_loopback(&http_port), listen_loopback(&https_port) };
    printf("HTTP %u\nHTTPS %u\n", http_port, https_port);
    fflush(stdout);
    for (;;) {
        struct pollfd p[2] = { { .fd = lf[0], .events = POLLIN }, { .fd = lf[1], .events = POLLIN } };
        int n = poll(p, 2, IDLE_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            struct conn c = { .fd = accept4(lf[i], NULL, NULL, SOCK_CLOEXEC) };
            if (c.fd < 0)
                continue;
            struct timeval tv = { 5, 0 };
            setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            if (i == 1) {
                c.ssl = SSL_new(ctx);
                SSL_set_fd(c.ssl, c.fd);
                if (SSL_accept(c.ssl) == 1)
                    serve_conn(&c, true);
                SSL_shutdown(c.ssl);
                SSL_free(c.ssl);
            } else {
                serve_conn(&c, false);
            }
            close(c.fd);
        }
    }
}

/* ---- the browser --------------------------------------------------------------------- */

static int browse(const char *start)
{
    char url[4096];
    snprintf(url, sizeof url, "%s", start);
    for (int hop = 0; hop < 5; hop++) {
        unsigned port = 80;
        char host[64], path[4096] = "/";
        if (sscanf(url, "http://%63[^:/]:%u%4095s", host, &port, path) < 2 &&
            sscanf(url, "http://%63[^:/]%4095s", host, path) < 1) {
            fprintf(stderr, "fakeoauth: not an http:// URL: %s\n", url);
            return 2;
        }
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
            fprintf(stderr, "fakeoauth: want a numeric host: %s\n", host);
            return 2;
        }
        struct conn c = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
        struct timeval tv = { 10, 0 };
        setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(c.fd, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("fakeoauth: connect");
            return 1;
        }
        char rq[8192];
        int n = snprintf(rq, sizeof rq, "GET %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n\r\n",
                         path, host, port);
        conn_write(&c, rq, (size_t)n);
        static char resp[65536];
        size_t len = 0;
        ssize_t k;
        while (len + 1 < sizeof resp && (k = conn_read(&c, resp + len, sizeof resp - 1 - len)) > 0)
            len += (size_t)k;
        resp[len] = '\0';
        close(c.fd);
        char *loc = strcasestr(resp, "\r\nLocation: ");
        if (strncmp(resp, "HTTP/1.1 30", 11) == 0 && loc) {
            loc += 12;
            snprintf(url, sizeof url, "%.*s", (int)strcspn(loc, "\r\n"), loc);
            continue;
        }
        fputs(resp, stdout);
        return strncmp(resp + 9, "200", 3) == 0 ? 0 : 1;
    }
    fprintf(stderr, "fakeoauth: too many redirects\n");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2]);
    if (argc == 3 && strcmp(argv[1], "browse") == 0)
        return browse(argv[2]);
    fprintf(stderr, "usage: fakeoauth serve DIR | fakeoauth browse URL\n");
    return 2;
}
