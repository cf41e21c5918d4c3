/* managesieve.c — the ManageSieve client: greeting and capabilities, STARTTLS, AUTHENTICATE
 * over sasl.c, and the script commands, one at a time over transport.c. */
#include "managesieve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "login_method.h"
#include "managesieve_parse.h"
#include "sasl.h"
#include "transport.h"

#define READ_CHUNK 16384
/* Strings longer than this (or holding quotes, backslashes, line breaks) go as literals. */
#define QUOTED_MAX 1000

struct managesieve {
    struct managesieve_config cfg;
    char *host, *user, *label;
    char *password, *token;         /* wiped when freed */
    size_t password_len, token_len;
    struct transport *t;
    struct msp p;
    char *in;                       /* bytes read, not yet parsed */
    size_t inlen, incap;
    char **caps;                    /* name, value, name, value, ... */
    size_t ncaps;                   /* names */
    bool broken;
    struct managesieve_reply last;
};

/* A command being built. */
struct buf {
    char *d;
    size_t len, cap;
    bool oom;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, data, n);
    b->len += n;
    b->d[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

/* A string argument: quoted when it can be, else a non-synchronising literal (RFC 5804). */
static void buf_string(struct buf *b, const char *s, size_t n)
{
    bool quotable = n <= QUOTED_MAX;
    for (size_t i = 0; quotable && i < n; i++)
        quotable = s[i] != '"' && s[i] != '\\' && s[i] != '\r' && s[i] != '\n' && s[i] != '\0';
    if (quotable) {
        buf_add(b, "\"", 1);
        buf_add(b, s, n);
        buf_add(b, "\"", 1);
    } else {
        char head[32];
        int k = snprintf(head, sizeof head, "{%zu+}\r\n", n);
        buf_add(b, head, (size_t)k);
        buf_add(b, s, n);
    }
}

static void buf_wipe(struct buf *b)
{
    if (b->d)
        explicit_bzero(b->d, b->cap);
    free(b->d);
    memset(b, 0, sizeof *b);
}

static void wipe_free(char *p, size_t n)
{
    if (p) {
        explicit_bzero(p, n);
        free(p);
    }
}

/* ---- errors, tracing ------------------------------------------------------------------- */

static int failf(struct managesieve *m, int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "<label>: <message>". A connection error leaves the client unusable. */
static int failf(struct managesieve *m, int code, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", m->label, msg);
    if (code != SESSION_ERR_NO && code != SESSION_ERR_USAGE)
        m->broken = true;
    return code;
}

static void warn(struct managesieve *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct managesieve *m, const char *fmt, ...)
{
    if (!m->cfg.warn)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    m->cfg.warn(m->cfg.warn_ud, msg);
}

/* One trace line per line of text (a script's lines included), without line ends. */
static void trace(struct managesieve *m, char dir, const char *text, size_t len)
{
    if (!m->cfg.trace)
        return;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, l = e - i;
        if (l && text[i + l - 1] == '\r')
            l--;
        m->cfg.trace(m->cfg.trace_ud, dir, text + i, l);
        i = e + 1;
    }
}

/* ---- reading and writing --------------------------------------------------------------- */

static int map_transport_code(int rc)
{
    return rc == TRANSPORT_ERR_TLS || rc == TRANSPORT_ERR_CONFIG ? SESSION_ERR_TLS
         : rc == TRANSPORT_ERR_NOMEM ? SESSION_ERR_NOMEM : SESSION_ERR_NET;
}

/* Writes data; shown is what the trace gets instead (NULL: the data itself). */
static int send_raw(struct managesieve *m, const char *what, const char *data, size_t len,
                    const char *shown, char *err, size_t errlen)
{
    if (m->broken)
        return failf(m, SESSION_ERR_CLOSED, err, errlen, "%s: the connection is closed", what);
    trace(m, 'C', shown ? shown : data, shown ? strlen(shown) : len);
    int rc = transport_write_all(m->t, data, len);
    if (rc < 0)
        return failf(m, map_transport_code(rc), err, errlen, "%s: %s", what, transport_error(m->t));
    return 0;
}

/* Reads one whole line into *l (valid until the next read). */
static int read_line(struct managesieve *m, const char *what, struct msp_line *l, char *err,
                     size_t errlen)
{
    if (m->broken)
        return failf(m, SESSION_ERR_CLOSED, err, errlen, "%s: the connection is closed", what);
    for (;;) {
        size_t used = 0, need = 0;
        int rc = m->inlen ? msp_parse(&m->p, m->in, m->inlen, l, &used, &need) : MSP_NEED_MORE;
        if (rc == MSP_LINE) {
            trace(m, 'S', m->in, used);
            memmove(m->in, m->in + used, m->inlen - used);
            m->inlen -= used;
            return 0;
        }
        if (rc < 0)
            return failf(m, rc == MSP_ERR_NOMEM ? SESSION_ERR_NOMEM : SESSION_ERR_PROTOCOL, err,
                         errlen, "%s: unreadable reply from the server: %s", what, m->p.err);
        if (need < m->inlen + 1)
            need = m->inlen + 1;
        if (need + READ_CHUNK > m->incap) {
            size_t cap = need + READ_CHUNK;
            char *in = realloc(m->in, cap);
            if (!in)
                return failf(m, SESSION_ERR_NOMEM, err, errlen, "out of memory");
            m->in = in;
            m->incap = cap;
        }
        ssize_t n = transport_read(m->t, m->in + m->inlen, m->incap - m->inlen);
        if (n == 0)
            return failf(m, SESSION_ERR_CLOSED, err, errlen, "%s: connection closed by server",
                         what);
        if (n < 0)
            return failf(m, map_transport_code((int)n), err, errlen, "%s: %s", what,
                         transport_error(m->t));
        m->inlen += (size_t)n;
    }
}

/* Keeps an OK/NO/BYE's code and words in m->last, line ends made "\n". */
static void keep_reply(struct managesieve *m, const struct msp_line *l)
{
    snprintf(m->last.code, sizeof m->last.code, "%s", l->code ? l->code : "");
    size_t k = 0;
    for (size_t i = 0; i < l->text_len && k + 1 < sizeof m->last.text; i++)
        if (l->text[i] != '\r' && l->text[i] != '\0')
            m->last.text[k++] = l->text[i];
    while (k && m->last.text[k - 1] == '\n')
        k--;
    m->last.text[k] = '\0';
}

/* The error for a NO or BYE: "<what>: [CODE] words". */
static int refused(struct managesieve *m, const struct msp_line *l, const char *what, char *err,
                   size_t errlen)
{
    keep_reply(m, l);
    const char *sep = strchr(m->last.text, '\n') ? ":\n" : ": ";
    if (l->kind == MSP_BYE)
        return failf(m, SESSION_ERR_CLOSED, err, errlen, "%s: the server closed the connection "
                     "(BYE %s)", what, m->last.text);
    if (m->last.code[0])
        return failf(m, SESSION_ERR_NO, err, errlen, "%s%s[%s] %s", what, sep, m->last.code,
                     m->last.text);
    return failf(m, SESSION_ERR_NO, err, errlen, "%s%s%s", what, sep, m->last.text);
}

typedef int (*data_fn)(struct managesieve *m, const struct msp_line *l, void *ud);

/* Sends a built command and reads its reply; data lines before it go to fn (else they are
 * ignored). 0 for OK, else the error. */
static int run(struct managesieve *m, const char *what, struct buf *b, const char *shown,
               data_fn fn, void *ud, char *err, size_t errlen)
{
    if (b->oom)
        return failf(m, SESSION_ERR_NOMEM, err, errlen, "out of memory");
    int rc = send_raw(m, what, b->d, b->len, shown, err, errlen);
    if (rc < 0)
        return rc;
    for (;;) {
        struct msp_line l;
        if ((rc = read_line(m, what, &l, err, errlen)) < 0)
            return rc;
        if (l.kind == MSP_OK) {
            keep_reply(m, &l);
            return 0;
        }
        if (l.kind != MSP_DATA)
            return refused(m, &l, what, err, errlen);
        if (fn && (rc = fn(m, &l, ud)) < 0)
            return failf(m, SESSION_ERR_PROTOCOL, err, errlen, "%s: unexpected reply line", what);
    }
}

/* ---- capabilities ---------------------------------------------------------------------- */

static void caps_clear(struct managesieve *m)
{
    for (size_t i = 0; i < 2 * m->ncaps; i++)
        free(m->caps[i]);
    free(m->caps);
    m->caps = NULL;
    m->ncaps = 0;
}

/* A capability line: "NAME" ["value"]. */
static int cap_line(struct managesieve *m, const struct msp_line *l, void *ud)
{
    (void)ud;
    if (l->n < 1 || l->n > 2 || !l->item[0].is_string)
        return -1;
    char **caps = realloc(m->caps, (2 * m->ncaps + 2) * sizeof *caps);
    if (!caps)
        return -1;
    m->caps = caps;
    char *name = strdup(l->item[0].s), *value = strdup(l->n > 1 ? l->item[1].s : "");
    if (!name || !value) {
        free(name);
        free(value);
        return -1;
    }
    for (char *q = name; *q; q++)
        if (*q >= 'a' && *q <= 'z')
            *q = (char)(*q - 32);
    caps[2 * m->ncaps] = name;
    caps[2 * m->ncaps + 1] = value;
    m->ncaps++;
    return 0;
}

/* Reads capability lines up to the OK that ends them (the greeting, after STARTTLS). */
static int read_caps(struct managesieve *m, const char *what, char *err, size_t errlen)
{
    caps_clear(m);
    for (;;) {
        struct msp_line l;
        int rc = read_line(m, what, &l, err, errlen);
        if (rc < 0)
            return rc;
        if (l.kind == MSP_OK)
            return 0;
        if (l.kind != MSP_DATA)
            return refused(m, &l, what, err, errlen);
        if (cap_line(m, &l, NULL) < 0)
            return failf(m, SESSION_ERR_PROTOCOL, err, errlen, "%s: a capability line that is "
                         "not \"NAME\" [\"value\"]", what);
    }
}

const char *managesieve_capability(const struct managesieve *m, const char *name)
{
    for (size_t i = 0; i < m->ncaps; i++)
        if (!strcasecmp(m->caps[2 * i], name))
            return m->caps[2 * i + 1];
    return NULL;
}

const char *const *managesieve_capabilities(const struct managesieve *m, size_t *n)
{
    *n = m->ncaps;
    return (const char *const *)m->caps;
}

const struct managesieve_reply *managesieve_last(const struct managesieve *m)
{
    return &m->last;
}

/* ---- STARTTLS and login ---------------------------------------------------------------- */

static int starttls(struct managesieve *m, char *err, size_t errlen)
{
    if (!managesieve_capability(m, "STARTTLS"))
        return failf(m, SESSION_ERR_TLS, err, errlen, "the ManageSieve server does not offer "
                     "STARTTLS; refusing to continue in plaintext");
    struct buf b = { 0 };
    buf_str(&b, "STARTTLS\r\n");
    int rc = run(m, "STARTTLS", &b, NULL, NULL, NULL, err, errlen);
    buf_wipe(&b);
    if (rc < 0)
        return rc == SESSION_ERR_NO ? failf(m, SESSION_ERR_TLS, err, errlen, "STARTTLS refused: "
                                            "%s", m->last.text) : rc;
    /* Bytes after the OK were sent before TLS: whoever sent them is not to be trusted. */
    if (m->inlen)
        return failf(m, SESSION_ERR_PROTOCOL, err, errlen, "STARTTLS: data after the server's "
                     "OK, before TLS (someone injecting?)");
    char msg[600];
    if ((rc = transport_starttls(m->t, msg, sizeof msg)) < 0)
        return failf(m, map_transport_code(rc), err, errlen, "%s", msg);
    /* RFC 5804 2.2: the server sends its capabilities again, now that they can be trusted. */
    return read_caps(m, "STARTTLS", err, errlen);
}

static bool sasl_offered(const void *ud, const char *mech)
{
    const char *list = managesieve_capability(ud, "SASL");
    size_t n = strlen(mech);
    while (list && *list) {
        while (*list == ' ')
            list++;
        size_t w = strcspn(list, " ");
        if (w == n && !strncasecmp(list, mech, n))
            return true;
        list += w;
    }
    return false;
}

static struct login_offer offer(struct managesieve *m)
{
    return (struct login_offer){
        .label = m->label, .auth = m->cfg.auth, .has_password = m->password != NULL,
        .has_token = m->token != NULL, .tls = transport_is_tls(m->t),
        .loopback = login_host_is_loopback(m->host), .allow_plaintext = m->cfg.allow_plaintext,
        .login_command = false, .offers = sasl_offered, .ud = m,
    };
}

/* Sends a SASL response (base64 text) as a string line; "*" cancels. */
static int send_response(struct managesieve *m, const char *resp, size_t len, bool secret,
                         char *err, size_t errlen)
{
    struct buf b = { 0 };
    buf_string(&b, resp, len);
    buf_str(&b, "\r\n");
    int rc = b.oom ? failf(m, SESSION_ERR_NOMEM, err, errlen, "out of memory")
                   : send_raw(m, "AUTHENTICATE", b.d, b.len, secret && len ? "\"***\"" : NULL,
                              err, errlen);
    buf_wipe(&b);
    return rc;
}

/* One AUTHENTICATE with method a. *no: the server refused an exchange that went as it should. */
static int authenticate(struct managesieve *m, enum session_auth a, bool *no, char *err,
                        size_t errlen)
{
    enum sasl_mech mech = (enum sasl_mech)login_method_mech(a);
    bool token = sasl_mech_takes_token(mech);
    char what[64], why[300] = "";
    snprintf(what, sizeof what, "AUTHENTICATE %s", sasl_mech_name(mech));
    *no = false;
    if (login_method_in_clear(a) && !transport_is_tls(m->t) && !login_host_is_loopback(m->host))
        warn(m, "%s: sending the %s in clear without TLS (allow_plaintext = true)", m->label,
             token ? "token" : "password");
    struct sasl_credentials cr = {
        .user = m->user, .host = m->host, .port = m->cfg.port ? m->cfg.port : 4190,
        .secret = token ? m->token : m->password,
        .secret_len = token ? m->token_len : m->password_len,
    };
    struct sasl *x = NULL;
    int rc = sasl_new(mech, &cr, &x, why, sizeof why);
    if (rc < 0)
        return failf(m, rc == SASL_ERR_NOMEM ? SESSION_ERR_NOMEM : SESSION_ERR_AUTH, err, errlen,
                     "%s", why);
    struct buf b = { 0 };
    char shown[96];
    snprintf(shown, sizeof shown, "AUTHENTICATE \"%s\"", sasl_mech_name(mech));
    buf_str(&b, shown);
    if (sasl_mech_client_first(mech)) {
        char *ir = NULL;
        size_t irlen = 0;
        if ((rc = sasl_step(x, NULL, &ir, &irlen, why, sizeof why)) < 0) {
            sasl_free(x);
            buf_wipe(&b);
            return failf(m, SESSION_ERR_AUTH, err, errlen, "%s", why);
        }
        buf_str(&b, " ");
        buf_string(&b, ir, irlen);
        strcat(shown, " \"***\"");
        wipe_free(ir, irlen);
    }
    buf_str(&b, "\r\n");
    rc = b.oom ? failf(m, SESSION_ERR_NOMEM, err, errlen, "out of memory")
               : send_raw(m, what, b.d, b.len, shown, err, errlen);
    buf_wipe(&b);
    int failed = 0;             /* a SASL_ERR_* once we cancelled */
    while (rc == 0) {
        struct msp_line l;
        if ((rc = read_line(m, what, &l, err, errlen)) < 0)
            break;
        if (l.kind == MSP_DATA) {
            if (l.n != 1 || !l.item[0].is_string) {
                rc = failf(m, SESSION_ERR_PROTOCOL, err, errlen, "%s: a challenge that is not "
                           "one string", what);
                break;
            }
            char *resp = NULL;
            size_t len = 0;
            int st = failed ? failed : sasl_step(x, l.item[0].s, &resp, &len, why, sizeof why);
            if (st < 0) {
                failed = st;
                rc = send_response(m, "*", 1, false, err, errlen);
            } else {
                rc = send_response(m, resp, len, true, err, errlen);
            }
            wipe_free(resp, len);
            continue;
        }
        if (l.kind == MSP_OK) {
            /* RFC 5804 2.1: the server's last SASL data may come in the OK (SCRAM's proof). */
            if (!failed && l.code && !strcmp(l.code, "SASL")) {
                char *resp = NULL;
                size_t len = 0;
                int st = sasl_step(x, l.code_arg, &resp, &len, why, sizeof why);
                wipe_free(resp, len);
                if (st < 0)
                    failed = st;
            }
            if (failed || !sasl_complete(x))
                rc = failf(m, SESSION_ERR_AUTH, err, errlen, "%s: %s", what, failed ? why :
                           "the server accepted the login without completing the exchange "
                           "(no server signature)");
            break;
        }
        keep_reply(m, &l);
        if (l.kind == MSP_BYE) {
            rc = refused(m, &l, what, err, errlen);
            break;
        }
        char extra[400] = "";
        if (failed)
            snprintf(extra, sizeof extra, " (%s)", why);
        else if (sasl_server_error(x))
            snprintf(extra, sizeof extra, " (server: %s)", sasl_server_error(x));
        *no = !failed;
        rc = failf(m, SESSION_ERR_AUTH, err, errlen, "authentication failed: %s%s%s%s",
                   m->last.code[0] ? "[" : "", m->last.code, m->last.code[0] ? "] " : "",
                   m->last.text);
        size_t el = strlen(err);
        snprintf(err + el, errlen - el, "%s", extra);
        m->broken = false;      /* a refused login leaves the connection usable */
    }
    sasl_free(x);
    return rc;
}

static int login(struct managesieve *m, char *err, size_t errlen)
{
    struct login_offer o = offer(m);
    enum session_auth a, next;
    int rc = login_method_choose(&o, 0, &a, err, errlen);
    bool no = false;
    if (rc == 0)
        rc = authenticate(m, a, &no, err, errlen);
    if (rc == SESSION_ERR_AUTH && no && login_method_after_refusal(&o, a, &next) == 0) {
        warn(m, "%s: the server refused %s; trying %s (auth = \"%s\" skips this)", m->label,
             login_method_name(a), login_method_name(next), login_method_name(next));
        rc = authenticate(m, next, &no, err, errlen);
    }
    if (rc < 0)
        return rc;
    /* The capabilities may differ once logged in (RFC 5804 2.1 does not resend them). */
    struct buf b = { 0 };
    buf_str(&b, "CAPABILITY\r\n");
    caps_clear(m);
    rc = run(m, "CAPABILITY", &b, NULL, cap_line, NULL, err, errlen);
    buf_wipe(&b);
    return rc;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

void managesieve_free(struct managesieve *m)
{
    if (!m)
        return;
    transport_close(m->t);
    msp_free(&m->p);
    caps_clear(m);
    free(m->in);
    free(m->host);
    free(m->user);
    free(m->label);
    wipe_free(m->password, m->password_len);
    wipe_free(m->token, m->token_len);
    free(m);
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int managesieve_open(const struct managesieve_config *cfg, struct managesieve **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (!cfg->host || !*cfg->host) {
        snprintf(err, errlen, "managesieve: no host given");
        return SESSION_ERR_USAGE;
    }
    struct managesieve *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return SESSION_ERR_NOMEM;
    }
    m->cfg = *cfg;
    msp_init(&m->p);
    m->host = strdup(cfg->host);
    m->user = cfg->user ? strdup(cfg->user) : NULL;
    char label[300];
    snprintf(label, sizeof label, "%s%s%s", cfg->user ? cfg->user : "", cfg->user ? "@" : "",
             cfg->host);
    m->label = strdup(cfg->label ? cfg->label : label);
    if (cfg->password) {
        m->password_len = cfg->password_len ? cfg->password_len : strlen(cfg->password);
        m->password = dup_bytes(cfg->password, m->password_len);
    }
    if (cfg->token) {
        m->token_len = strlen(cfg->token);
        m->token = dup_bytes(cfg->token, m->token_len);
    }
    if (!m->host || !m->label || (cfg->user && !m->user) || (cfg->password && !m->password) ||
        (cfg->token && !m->token)) {
        managesieve_free(m);
        snprintf(err, errlen, "out of memory");
        return SESSION_ERR_NOMEM;
    }
    m->cfg.host = m->host;
    m->cfg.user = m->user;
    m->cfg.label = m->label;
    m->cfg.password = m->cfg.token = NULL;      /* only the owned copies */
    int ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
    struct transport_config tc = {
        .host = m->host, .port = cfg->port ? cfg->port : 4190, .tls = false,
        .verify_name = cfg->verify_name, .ca_file = cfg->ca_file, .fingerprint = cfg->fingerprint,
        .insecure = cfg->insecure, .connect_timeout_ms = ms, .io_timeout_ms = ms,
    };
    char msg[600];
    int rc = transport_connect(&tc, &m->t, msg, sizeof msg);
    if (rc < 0)
        rc = failf(m, map_transport_code(rc), err, errlen, "ManageSieve: %s", msg);
    if (rc == 0)
        rc = read_caps(m, "greeting", err, errlen);
    if (rc == 0 && cfg->starttls)
        rc = starttls(m, err, errlen);
    if (rc == 0 && (!m->user || (!m->password && !m->token)))
        rc = failf(m, SESSION_ERR_USAGE, err, errlen, "no user, password or token configured");
    if (rc == 0)
        rc = login(m, err, errlen);
    if (rc < 0) {
        managesieve_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int managesieve_logout(struct managesieve *m, char *err, size_t errlen)
{
    if (m->broken)
        return 0;
    struct buf b = { 0 };
    buf_str(&b, "LOGOUT\r\n");
    int rc = run(m, "LOGOUT", &b, NULL, NULL, NULL, err, errlen);
    buf_wipe(&b);
    m->broken = true;
    return rc == SESSION_ERR_CLOSED ? 0 : rc;
}

/* ---- script commands ------------------------------------------------------------------- */

/* Runs VERB ["name"] [script literal]: the trace shows the script's size, not its text. */
static int script_command(struct managesieve *m, const char *verb, const char *name,
                          const char *script, size_t len, data_fn fn, void *ud, char *err,
                          size_t errlen)
{
    char what[300];
    snprintf(what, sizeof what, "%s%s%.200s", verb, name ? " " : "", name ? name : "");
    struct buf b = { 0 };
    buf_str(&b, verb);
    if (name) {
        buf_str(&b, " ");
        buf_string(&b, name, strlen(name));
    }
    size_t head = b.len;
    if (script) {
        char lit[32];
        snprintf(lit, sizeof lit, " {%zu+}\r\n", len);
        buf_str(&b, lit);
        head = b.len;
        buf_add(&b, script, len);
    }
    buf_str(&b, "\r\n");
    char shown[400];
    snprintf(shown, sizeof shown, "%.*s%s", (int)(head < 300 ? head : 300), b.d ? b.d : "",
             script ? "<the script>" : "");
    int rc = run(m, what, &b, shown, fn, ud, err, errlen);
    free(b.d);
    return rc;
}

int managesieve_check(struct managesieve *m, const char *script, size_t len, char *err,
                      size_t errlen)
{
    return script_command(m, "CHECKSCRIPT", NULL, script, len, NULL, NULL, err, errlen);
}

int managesieve_put(struct managesieve *m, const char *name, const char *script, size_t len,
                    char *err, size_t errlen)
{
    return script_command(m, "PUTSCRIPT", name, script, len, NULL, NULL, err, errlen);
}

int managesieve_setactive(struct managesieve *m, const char *name, char *err, size_t errlen)
{
    return script_command(m, "SETACTIVE", name, NULL, 0, NULL, NULL, err, errlen);
}

int managesieve_delete(struct managesieve *m, const char *name, char *err, size_t errlen)
{
    return script_command(m, "DELETESCRIPT", name, NULL, 0, NULL, NULL, err, errlen);
}

struct list_ctx {
    void (*fn)(void *ud, const char *name, size_t len, bool active);
    void *ud;
};

static int list_line(struct managesieve *m, const struct msp_line *l, void *ud)
{
    (void)m;
    struct list_ctx *c = ud;
    if (l->n < 1 || l->n > 2 || !l->item[0].is_string ||
        (l->n == 2 && (l->item[1].is_string || strcasecmp(l->item[1].s, "ACTIVE"))))
        return -1;
    c->fn(c->ud, l->item[0].s, l->item[0].len, l->n == 2);
    return 0;
}

int managesieve_list(struct managesieve *m, void (*fn)(void *ud, const char *name, size_t len,
                     bool active), void *ud, char *err, size_t errlen)
{
    struct list_ctx c = { fn, ud };
    return script_command(m, "LISTSCRIPTS", NULL, NULL, 0, list_line, &c, err, errlen);
}

struct get_ctx {
    char *script;
    size_t len;
};

static int get_line(struct managesieve *m, const struct msp_line *l, void *ud)
{
    (void)m;
    struct get_ctx *c = ud;
    if (c->script || l->n != 1 || !l->item[0].is_string)
        return -1;
    c->script = dup_bytes(l->item[0].s, l->item[0].len);
    c->len = l->item[0].len;
    return c->script ? 0 : -1;
}

int managesieve_get(struct managesieve *m, const char *name, char **script, size_t *len,
                    char *err, size_t errlen)
{
    struct get_ctx c = { NULL, 0 };
    int rc = script_command(m, "GETSCRIPT", name, NULL, 0, get_line, &c, err, errlen);
    if (rc == 0 && !c.script)
        rc = failf(m, SESSION_ERR_PROTOCOL, err, errlen, "GETSCRIPT %s: no script in the reply",
                   name);
    if (rc < 0) {
        free(c.script);
        return rc;
    }
    *script = c.script;
    *len = c.len;
    return 0;
}
