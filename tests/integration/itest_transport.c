/* itest_transport.c — transport.c against the Dovecot test bed: TCP errors and timeouts, implicit
 * TLS verification (CA, host name, unknown CA, fingerprint pins, insecure), STARTTLS, counters. */
#include "check.h"
#include "transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *host, *ca, *other_ca, *fp;
static unsigned port, tls_port;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "itest_transport: %s not set (run via tests/run-integration)\n", name);
        exit(2);
    }
    return v;
}

static struct transport_config tls_cfg(void)
{
    struct transport_config c = { .host = host, .port = tls_port, .tls = true, .ca_file = ca,
                                  .io_timeout_ms = 10000 };
    return c;
}

/* Reads until buf holds a line starting with want (or EOF / error); returns 0 if found. */
static int read_until(struct transport *t, const char *want, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = transport_read(t, buf + len, cap - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, want))
            return 0;
    }
    return -1;
}

static void test_implicit_tls_verified(void)
{
    struct transport_config c = tls_cfg();
    struct transport *t;
    char err[512], buf[4096];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    if (!t) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(transport_is_tls(t));
    CHECK_INT(read_until(t, "* OK", buf, sizeof buf), 0);
    char d[128];
    CHECK(strncmp(transport_describe(t, d, sizeof d), "TLSv1.", 6) == 0);
    transport_close(t);

    /* The certificate names localhost too. */
    c.verify_name = "localhost";
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    transport_close(t);
}

static void test_wrong_host_name_refused(void)
{
    struct transport_config c = tls_cfg();
    c.verify_name = "wrong.example";
    struct transport *t;
    char err[512];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_TLS);
    CHECK(t == NULL);
    CHECK(strstr(err, "TLS: certificate verify failed") != NULL);
    CHECK(strstr(err, "wrong.example") != NULL);
}

static void test_unknown_ca_refused(void)
{
    struct transport_config c = tls_cfg();
    c.ca_file = other_ca;
    struct transport *t;
    char err[512];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_TLS);
    CHECK(strstr(err, "TLS: certificate verify failed") != NULL);
    /* The system store does not know the test CA either. */
    c.ca_file = NULL;
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_TLS);
}

static void test_missing_ca_file(void)
{
    struct transport_config c = tls_cfg();
    c.ca_file = "/nonexistent/ca.pem";
    struct transport *t;
    char err[512];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_CONFIG);
    CHECK(strstr(err, "/nonexistent/ca.pem") != NULL);
}

static void test_fingerprint_pin(void)
{
    struct transport_config c = tls_cfg();
    struct transport *t;
    char err[512];
    /* A matching pin replaces chain verification: the unknown CA does not matter. */
    c.ca_file = other_ca;
    c.fingerprint = fp;
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    transport_close(t);

    /* Upper case with colons works the same. */
    char colons[200];
    size_t o = 0;
    for (size_t i = 0; fp[i] && o + 4 < sizeof colons; i += 2) {
        if (i)
            colons[o++] = ':';
        colons[o++] = (char)(fp[i] >= 'a' ? fp[i] - 32 : fp[i]);
        colons[o++] = (char)(fp[i + 1] >= 'a' ? fp[i + 1] - 32 : fp[i + 1]);
    }
    colons[o] = '\0';
    c.fingerprint = colons;
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    transport_close(t);

    /* A wrong pin is refused even though the chain would verify. */
    char wrong[100];
    snprintf(wrong, sizeof wrong, "%s", fp);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    c.ca_file = ca;
    c.fingerprint = wrong;
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_TLS);
    CHECK(strstr(err, "TLS: certificate fingerprint mismatch for 127.0.0.1: got ") != NULL);
    CHECK(strstr(err, "expected ") != NULL);

    c.fingerprint = "not-hex";
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_CONFIG);
}

static void test_insecure(void)
{
    struct transport_config c = tls_cfg();
    c.ca_file = other_ca;
    c.verify_name = "wrong.example";
    c.insecure = true;
    struct transport *t;
    char err[512], buf[4096];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    if (t) {
        CHECK_INT(read_until(t, "* OK", buf, sizeof buf), 0);
        transport_close(t);
    }
}

static void test_tls_to_plain_port(void)
{
    struct transport_config c = tls_cfg();
    c.port = port;
    c.connect_timeout_ms = 5000;
    struct transport *t;
    char err[512];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_TLS);
    CHECK(strstr(err, "TLS handshake with 127.0.0.1:") != NULL);
}

static void test_starttls_and_counters(void)
{
    struct transport_config c = { .host = host, .port = port, .ca_file = ca };
    struct transport *t;
    char err[512], buf[8192];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    if (!t)
        return;
    CHECK(!transport_is_tls(t));
    CHECK_INT(read_until(t, "\r\n", buf, sizeof buf), 0);
    CHECK(strstr(buf, "STARTTLS") != NULL);
    const struct transport_stats *st = transport_stats(t);
    CHECK_INT(st->round_trips, 0);
    CHECK_INT(transport_write_all(t, "a1 NOOP\r\na2 NOOP\r\n", 18), 0);
    CHECK_INT(transport_write_all(t, "a3 STARTTLS\r\n", 13), 0);
    CHECK_INT(st->round_trips, 1);     /* three writes, no read between: one round trip */
    CHECK_INT(st->bytes_out, 31);
    CHECK_INT(read_until(t, "a3 OK", buf, sizeof buf), 0);
    CHECK_INT(transport_starttls(t, err, sizeof err), 0);
    CHECK(transport_is_tls(t));
    CHECK_INT(transport_write_all(t, "b1 CAPABILITY\r\n", 15), 0);
    CHECK_INT(st->round_trips, 2);
    CHECK_INT(read_until(t, "b1 OK", buf, sizeof buf), 0);
    CHECK(strstr(buf, "STARTTLS") == NULL);   /* not offered again inside TLS */
    CHECK(st->wire_in > st->bytes_in);         /* TLS records cost bytes */
    transport_close(t);
}

static void test_connect_refused(void)
{
    /* A port nobody listens on: bind one, learn its number, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    struct transport_config c = { .host = "127.0.0.1", .port = ntohs(a.sin_port) };
    struct transport *t;
    char err[512], want[100];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_NET);
    snprintf(want, sizeof want, "connect 127.0.0.1:%u: Connection refused", ntohs(a.sin_port));
    CHECK_STR(err, want);

    c.host = "host.invalid";
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_NET);
    CHECK(strncmp(err, "resolve host.invalid: ", 22) == 0);
}

static void test_read_timeout(void)
{
    /* A listener that accepts (the kernel does) but never speaks. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 1);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    struct transport_config c = { .host = "127.0.0.1", .port = ntohs(a.sin_port),
                                  .io_timeout_ms = 300 };
    struct transport *t;
    char err[512], buf[64];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    if (t) {
        CHECK_INT(transport_read(t, buf, sizeof buf), TRANSPORT_ERR_TIMEOUT);
        CHECK_STR(transport_error(t), "read timeout after 0.3 s");
        transport_close(t);
    }
    /* TLS handshake against a silent server times out too. */
    c.tls = true;
    c.connect_timeout_ms = 300;
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_TIMEOUT);
    CHECK(strstr(err, "TLS handshake timeout after 0.3 s") != NULL);
    close(lfd);
}

/* "localhost" may resolve to ::1 first, where nothing listens: the next address is tried. */
static void test_each_address_tried(void)
{
    struct transport_config c = tls_cfg();
    c.host = "localhost";
    struct transport *t;
    char err[512], buf[4096];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    if (t) {
        CHECK_INT(read_until(t, "* OK", buf, sizeof buf), 0);
        transport_close(t);
    } else {
        fprintf(stderr, "  %s\n", err);
    }
}

static void test_ipv6(void)
{
    int lfd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    socklen_t al = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1) < 0) {
        fprintf(stderr, "  no IPv6 loopback here; skipped\n");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    getsockname(lfd, (struct sockaddr *)&a, &al);
    struct transport_config c = { .host = "::1", .port = ntohs(a.sin6_port), .io_timeout_ms = 2000 };
    struct transport *t;
    char err[512], buf[16];
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), 0);
    int cfd = accept(lfd, NULL, NULL);
    CHECK(cfd >= 0);
    if (t && cfd >= 0) {
        send(cfd, "* OK v6\r\n", 9, 0);
        CHECK_INT(transport_read(t, buf, sizeof buf), 9);
        close(cfd);
        CHECK_INT(transport_read(t, buf, sizeof buf), 0);     /* orderly close: EOF */
    }
    transport_close(t);
    close(lfd);
    /* and the message format for IPv6 literals */
    c.port = 1;
    CHECK_INT(transport_connect(&c, &t, err, sizeof err), TRANSPORT_ERR_NET);
    CHECK_STR(err, "connect [::1]:1: Connection refused");
}

int main(void)
{
    host = env("TESTBED_HOST");
    port = (unsigned)atoi(env("TESTBED_PORT"));
    tls_port = (unsigned)atoi(env("TESTBED_TLS_PORT"));
    ca = env("TESTBED_CA");
    other_ca = env("TESTBED_OTHER_CA");
    fp = env("TESTBED_FINGERPRINT");
    RUN(test_implicit_tls_verified);
    RUN(test_wrong_host_name_refused);
    RUN(test_unknown_ca_refused);
    RUN(test_missing_ca_file);
    RUN(test_fingerprint_pin);
    RUN(test_insecure);
    RUN(test_tls_to_plain_port);
    RUN(test_starttls_and_counters);
    RUN(test_connect_refused);
    RUN(test_read_timeout);
    RUN(test_each_address_tried);
    RUN(test_ipv6);
    return CHECK_DONE();
}
