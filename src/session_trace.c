/* session_trace.c — the --trace wire dialogue: outgoing lines already redacted by command_trace,
 * incoming bytes split into lines with long literals abbreviated. */
#include "session_int.h"

#include <stdio.h>
#include <string.h>

#define TRACE_LITERAL_MAX 200

static void trace_emit(struct session *s, char dir, const char *line, size_t len)
{
    if (s->cfg.trace)
        s->cfg.trace(s->cfg.trace_ud, dir, line, len);
    if (s->cfg.trace_file)
        fprintf(s->cfg.trace_file, "%c: %.*s\n", dir, (int)len, line);
}

bool session_tracing(const struct session *s)
{
    return s->cfg.trace || s->cfg.trace_file;
}

/* Outgoing text already redacted: one trace line per CRLF-terminated line. */
void session_trace_out(struct session *s, const char *text, size_t len)
{
    if (!session_tracing(s))
        return;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t l = e - i;
        if (l && text[i + l - 1] == '\r')
            l--;
        trace_emit(s, 'C', text + i, l);
        i = e + 1;
    }
}

static void tline_put(struct session *s, const char *p, size_t n)
{
    size_t room = sizeof s->tline - 4 - s->tlen;
    if (n > room) {
        n = room;
        s->ttrunc = true;
    }
    memcpy(s->tline + s->tlen, p, n);
    s->tlen += n;
}

/* "{123}" / "{123+}" / "~{123}" at the end of the line: the literal's size, or -1. */
static int64_t line_literal(const char *l, size_t n)
{
    if (n < 3 || l[n - 1] != '}')
        return -1;
    size_t e = n - 1;
    if (l[e - 1] == '+' || l[e - 1] == '-')
        e--;
    size_t b = e;
    while (b > 0 && l[b - 1] >= '0' && l[b - 1] <= '9')
        b--;
    if (b == e || b == 0 || l[b - 1] != '{' || e - b > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = b; i < e; i++)
        v = v * 10 + (l[i] - '0');
    return v;
}

/* Incoming bytes as received, one trace line per server line; literals over 200 bytes shown as
 * "<n bytes>", shorter ones inline with CR/LF escaped. */
void session_trace_in(struct session *s, const char *buf, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s->tlit > 0) {
            size_t k = s->tlit < n - i ? (size_t)s->tlit : n - i;
            if (s->tlit_show) {
                for (size_t j = 0; j < k; j++) {
                    char ch = buf[i + j];
                    if (ch == '\r') tline_put(s, "\\r", 2);
                    else if (ch == '\n') tline_put(s, "\\n", 2);
                    else tline_put(s, &ch, 1);
                }
            }
            s->tlit -= k;
            i += k;
            if (s->tlit == 0 && !s->tlit_show) {
                char note[48];
                int m = snprintf(note, sizeof note, "<%llu bytes>", (unsigned long long)s->tlit_total);
                tline_put(s, note, (size_t)m);
            }
            continue;
        }
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - buf) : n;
        tline_put(s, buf + i, e - i);
        i = e;
        if (!nl)
            break;
        i++;   /* the LF */
        size_t l = s->tlen;
        if (l && s->tline[l - 1] == '\r')
            l--;
        int64_t lit = s->ttrunc ? -1 : line_literal(s->tline, l);
        if (s->ttrunc) {
            memcpy(s->tline + l, "...", 3);
            l += 3;
        }
        trace_emit(s, 'S', s->tline, l);
        s->tlen = 0;
        s->ttrunc = false;
        if (lit > 0) {
            s->tlit = s->tlit_total = (uint64_t)lit;
            s->tlit_show = lit <= TRACE_LITERAL_MAX;
        }
    }
}
