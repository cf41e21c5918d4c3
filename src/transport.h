/* transport.h — one byte stream to a server: TCP (IPv4/IPv6, timeouts) or a tunnel command's
 * stdin/stdout, OpenSSL TLS (implicit or STARTTLS upgrade, chain + host name verification,
 * SHA-256 fingerprint pins), DEFLATE.
 * The socket is non-blocking and watched by a loop (loop.h): the owner reads when told it is
 * ready and queues what it writes; the blocking calls run that loop, so that waiting on one
 * connection lets every other one progress. */
#ifndef IMAPSCRIPT_TRANSPORT_H
#define IMAPSCRIPT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Return codes. Every one of them is a "network or TLS" failure for the program's exit code;
 * TIMEOUT is a network failure the caller may want to tell apart (IDLE). */
enum {
    TRANSPORT_ERR_NET     = -1,   /* resolve, connect, read, write, reset */
    TRANSPORT_ERR_TLS     = -2,   /* handshake, verification, pin mismatch, TLS record errors */
    TRANSPORT_ERR_TIMEOUT = -3,   /* connect/read/write took longer than allowed */
    TRANSPORT_ERR_NOMEM   = -4,
    TRANSPORT_ERR_CONFIG  = -5,   /* bad fingerprint text, unreadable ca_file, ... */
    TRANSPORT_AGAIN       = -6,   /* transport_recv: nothing now, the loop says when */
};

struct loop;

struct transport_config {
    const char *host;             /* name or IP literal (IPv6 without brackets) */
    unsigned port;
    bool tls;                     /* implicit TLS right after connect */
    const char *verify_name;      /* name checked in the certificate and sent as SNI; NULL = host */
    const char *ca_file;          /* PEM bundle used instead of the system store; NULL = system */
    const char *fingerprint;      /* SHA-256 of the server certificate (DER), hex, colons optional;
                                   * a match replaces chain verification, a mismatch is refused */
    bool insecure;                /* no verification at all (the caller warns) */
    int connect_timeout_ms;       /* 0 = 30 s */
    int io_timeout_ms;            /* each read or write; 0 = 30 s; < 0 = none */
    struct loop *loop;            /* NULL: loop_default() */
    /* Instead of host:port, run this command with /bin/sh -c and speak over its stdin and
     * stdout (tunnel.h); host is then optional (the name TLS verifies, if TLS is on). */
    const char *tunnel;
    void (*tunnel_line)(void *ud, const char *line);  /* its stderr lines; NULL: our stderr */
    void *tunnel_ud;
};

/* Application-level counters (bytes before TLS framing). A round trip is counted at each write
 * that follows a read (the client talking again after having listened), so a batch of pipelined
 * commands written before their replies are read costs one. */
struct transport_stats {
    uint64_t bytes_in, bytes_out;
    uint64_t reads, writes;       /* transport_read calls that returned data, transport_write_all calls */
    uint64_t round_trips;
    uint64_t wire_in, wire_out;   /* bytes on the socket, TLS records and compression included */
};

struct transport;

/* Connects (and with cfg->tls, handshakes and verifies). Returns 0 and *out, or a TRANSPORT_ERR_*
 * code with err filled: "connect 127.0.0.1:993: Connection refused", "TLS: certificate verify
 * failed: unable to get local issuer certificate (host imap.example.org)". Never holds secrets. */
int transport_connect(const struct transport_config *cfg, struct transport **out,
                      char *err, size_t errlen);

/* Upgrades a plain connection to TLS in place (after the server's OK to STARTTLS), verifying as
 * transport_connect does with the same config. Returns 0 or a TRANSPORT_ERR_* code. */
int transport_starttls(struct transport *t, char *err, size_t errlen);

/* ---- driven by the loop ---- */

/* fn(ud) is called from the loop whenever the socket may have news (readable, or writable after
 * the transport wrote what it had queued): the owner then calls transport_recv until
 * TRANSPORT_AGAIN. fn may close t. NULL stops it (and reading interest). */
void transport_set_ready(struct transport *t, void (*fn)(void *ud), void *ud);
/* Reads up to cap bytes without waiting: n > 0, 0 at end of stream, TRANSPORT_AGAIN, or a
 * TRANSPORT_ERR_* code (message in transport_error). Data TLS or DEFLATE hold back is returned
 * before the socket is asked again. */
ssize_t transport_recv(struct transport *t, void *buf, size_t cap);
/* Queues len bytes (compressed with COMPRESS on) and writes what the socket takes now; the loop
 * writes the rest. Returns 0 or a TRANSPORT_ERR_* code (also for an earlier write that failed). */
int transport_send(struct transport *t, const void *buf, size_t len);
/* Bytes queued and not yet taken by the socket. */
size_t transport_queued(const struct transport *t);
/* Has the owner's ready function called in the next loop round without waiting. */
void transport_kick(struct transport *t);

/* ---- blocking: the loop runs (other connections progress) until this one is ready ---- */

/* Reads up to cap bytes: returns n > 0, 0 at end of stream (orderly close), or a TRANSPORT_ERR_*
 * code with the message kept for transport_error. Waits at most the configured I/O timeout. */
ssize_t transport_read(struct transport *t, void *buf, size_t cap);
/* The same with an explicit timeout in ms (< 0 = forever); TRANSPORT_ERR_TIMEOUT when it passes. */
ssize_t transport_read_timeout(struct transport *t, void *buf, size_t cap, int timeout_ms);
/* Writes all len bytes (transport_send, then waits until the socket took them). Inside a loop
 * callback it waits on this socket alone. Returns 0 or a TRANSPORT_ERR_* code. */
int transport_write_all(struct transport *t, const void *buf, size_t len);

/* Starts COMPRESS=DEFLATE (RFC 4978) after the server's OK: every later byte both ways is raw
 * DEFLATE (inside TLS when TLS is on). The stats' bytes_* stay uncompressed, wire_* show the
 * saving. Returns 0 or a TRANSPORT_ERR_* code. */
int transport_compress(struct transport *t, char *err, size_t errlen);
bool transport_is_compressed(const struct transport *t);

/* Why the stream ended, after a read returned 0: "connection closed by server", or for a tunnel
 * how its command ended ("the tunnel command exited with status 255 (stderr: ...)"; waits up to
 * a second for it to exit). */
const char *transport_eof_reason(struct transport *t);
/* Message for the last failed read/write ("read timeout after 30 s"). */
const char *transport_error(const struct transport *t);
bool transport_is_tls(const struct transport *t);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "plain". */
const char *transport_describe(const struct transport *t, char *buf, size_t len);
const struct transport_stats *transport_stats(const struct transport *t);

/* Sends close_notify when TLS is up (best effort), closes the socket, frees t. NULL is fine.
 * A tunnel's command is then waited for, and killed if it is still running after 2 s (or the
 * I/O timeout, if shorter). */
void transport_close(struct transport *t);

#endif
