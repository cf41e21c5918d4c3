/* command.c — builds one IMAP command line: picks atom, quoted string or literal for each item,
 * records where the writer must wait for "+" and which bytes a trace must hide. */
#include "command.h"

#include "msgset.h"
#include "mutf7.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void command_init(struct command *c, enum literal_mode lit)
{
    memset(c, 0, sizeof *c);
    c->lit = lit;
}

void command_free(struct command *c)
{
    free(c->buf);
    free(c->waits);
    free(c->secrets);
    free(c->lits);
    enum literal_mode lit = c->lit;
    command_init(c, lit);
}

void command_reset(struct command *c)
{
    c->tag[0] = '\0';
    c->len = 0;
    c->nwaits = c->nsecrets = c->nlits = 0;
    c->need_space = false;
    c->err = 0;
}

/* Grows an array to hold want elements of size each; doubling. */
static int grow(void **p, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < want) {
        if (n > SIZE_MAX / 2 / size)
            return -ENOMEM;
        n *= 2;
    }
    void *q = realloc(*p, n * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static void put(struct command *c, const char *s, size_t n)
{
    if (c->err)
        return;
    if (n > SIZE_MAX - c->len || grow((void **)&c->buf, &c->cap, c->len + n, 1)) {
        c->err = -ENOMEM;
        return;
    }
    if (n)
        memcpy(c->buf + c->len, s, n);
    c->len += n;
}

static void put_str(struct command *c, const char *s)
{
    put(c, s, strlen(s));
}

static void space(struct command *c)
{
    if (c->need_space)
        put(c, " ", 1);
}

static void span_add(struct command *c, struct command_span **arr, size_t *n, size_t *cap,
                     size_t off, size_t len)
{
    if (c->err)
        return;
    if (grow((void **)arr, cap, *n + 1, sizeof **arr)) {
        c->err = -ENOMEM;
        return;
    }
    (*arr)[*n].off = off;
    (*arr)[*n].len = len;
    (*n)++;
}

void command_start(struct command *c, const char *tag, const char *verb)
{
    command_reset(c);
    if (tag && *tag) {
        snprintf(c->tag, sizeof c->tag, "%s", tag);
        put_str(c, c->tag);
        c->need_space = true;
    }
    if (verb && *verb) {
        space(c);
        put_str(c, verb);
        c->need_space = true;
    }
}

void command_atom(struct command *c, const char *atom)
{
    if (c->err)
        return;
    if (!atom || !*atom || strpbrk(atom, " \r\n")) {
        c->err = -EINVAL;
        return;
    }
    space(c);
    put_str(c, atom);
    c->need_space = true;
}

void command_number(struct command *c, uint64_t n)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)n);
    command_atom(c, tmp);
}

void command_msgset(struct command *c, const struct msgset *s)
{
    if (c->err)
        return;
    if (s->n == 0) {
        c->err = -EINVAL;
        return;
    }
    char *text = msgset_format(s);
    if (!text) {
        c->err = -ENOMEM;
        return;
    }
    command_atom(c, text);
    free(text);
}

/* ATOM-CHAR of RFC 3501 minus ']' (kept quoted for simplicity). */
static bool is_atom_char(unsigned char ch)
{
    if (ch <= 0x20 || ch >= 0x7f)
        return false;
    return !strchr("(){\"\\]%*", ch);
}

enum form { FORM_ATOM, FORM_QUOTED, FORM_LITERAL };

/* Chooses how to send s; -EINVAL for a NUL byte. */
static int choose(const struct command *c, const char *s, size_t len, bool allow_atom,
                  enum form *form)
{
    const unsigned char *u = (const unsigned char *)s;
    bool atom = allow_atom && len > 0, quotable = len <= COMMAND_QUOTED_MAX, high = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = u[i];
        if (ch == 0)
            return -EINVAL;
        if (!is_atom_char(ch))
            atom = false;
        if (ch == '\r' || ch == '\n' || (ch < 0x20 && ch != '\t') || ch == 0x7f)
            quotable = false;
        else if (ch >= 0x80)
            high = true;
    }
    if (high && quotable) {
        char err[8];
        quotable = c->utf8 && mutf7_utf8_check(s, len, err, sizeof err) == 0;
    }
    *form = atom ? FORM_ATOM : quotable ? FORM_QUOTED : FORM_LITERAL;
    return 0;
}

static void put_quoted(struct command *c, const char *s, size_t len)
{
    put(c, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            put(c, s + start, i - start);
            put(c, "\\", 1);
            start = i;
        }
    }
    put(c, s + start, len - start);
    put(c, "\"", 1);
}

/* The header "{n}\r\n" (a wait point when synchronising) or "{n+}\r\n"; its offset. */
static size_t literal_header(struct command *c, uint64_t len, bool binary)
{
    space(c);
    bool sync = !(c->lit == LITERAL_PLUS ||
                  (c->lit == LITERAL_MINUS && len <= COMMAND_LITERAL_MINUS_MAX));
    char hdr[40];
    snprintf(hdr, sizeof hdr, "%s{%llu%s}\r\n", binary ? "~" : "", (unsigned long long)len,
             sync ? "" : "+");
    size_t start = c->len;
    put_str(c, hdr);
    if (sync && !c->err) {
        if (grow((void **)&c->waits, &c->capwaits, c->nwaits + 1, sizeof *c->waits))
            c->err = -ENOMEM;
        else
            c->waits[c->nwaits++] = c->len;
    }
    c->need_space = true;
    return start;
}

void command_literal(struct command *c, const char *s, size_t len, bool binary)
{
    if (c->err)
        return;
    if (!binary && memchr(s, '\0', len)) {
        c->err = -EINVAL;
        return;
    }
    size_t start = literal_header(c, len, binary);
    put(c, s, len);
    span_add(c, &c->lits, &c->nlits, &c->caplits, start, c->len - start);
}

void command_literal_header(struct command *c, uint64_t len)
{
    if (!c->err)
        literal_header(c, len, false);
}

static void put_string(struct command *c, const char *s, size_t len, bool allow_atom)
{
    if (c->err)
        return;
    enum form form;
    if (choose(c, s, len, allow_atom, &form)) {
        c->err = -EINVAL;
        return;
    }
    if (form == FORM_LITERAL) {
        command_literal(c, s, len, false);
        return;
    }
    space(c);
    if (form == FORM_ATOM)
        put(c, s, len);
    else
        put_quoted(c, s, len);
    c->need_space = true;
}

void command_astring(struct command *c, const char *s, size_t len)
{
    put_string(c, s, len, true);
}

void command_string(struct command *c, const char *s, size_t len)
{
    put_string(c, s, len, false);
}

void command_secret(struct command *c, const char *s, size_t len)
{
    if (c->err)
        return;
    space(c);
    c->need_space = false;
    size_t start = c->len;
    put_string(c, s, len, true);
    span_add(c, &c->secrets, &c->nsecrets, &c->capsecrets, start, c->len - start);
}

void command_mailbox(struct command *c, const char *utf8_name, size_t len)
{
    if (c->err)
        return;
    if (len == 5 && strncasecmp(utf8_name, "INBOX", 5) == 0) {
        command_atom(c, "INBOX");
        return;
    }
    char err[128];
    if (c->utf8) {
        if (mutf7_utf8_check(utf8_name, len, err, sizeof err)) {
            c->err = -EINVAL;
            return;
        }
        command_astring(c, utf8_name, len);
        return;
    }
    char *enc;
    int rc = mutf7_encode(utf8_name, len, &enc, err, sizeof err);
    if (rc) {
        c->err = rc;
        return;
    }
    command_astring(c, enc, strlen(enc));
    free(enc);
}

void command_open(struct command *c)
{
    space(c);
    put(c, "(", 1);
    c->need_space = false;
}

void command_close(struct command *c)
{
    put(c, ")", 1);
    c->need_space = true;
}

void command_raw(struct command *c, const char *text, size_t len)
{
    if (len == 0)
        return;
    if (text[0] != ')' && text[0] != ']')
        space(c);
    put(c, text, len);
    c->need_space = !(text[len - 1] == '(' || text[len - 1] == '[');
}

int command_end(struct command *c)
{
    put(c, "\r\n", 2);
    c->need_space = false;
    return c->err;
}

/* A growing NUL-terminated string for command_trace. */
struct text { char *p; size_t len, cap; int err; };

static void text_put(struct text *t, const char *s, size_t n)
{
    if (t->err)
        return;
    if (n > SIZE_MAX - t->len - 1 || grow((void **)&t->p, &t->cap, t->len + n + 1, 1)) {
        t->err = -ENOMEM;
        return;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

int command_trace(const struct command *c, char **out)
{
    struct text t = { NULL, 0, 0, 0 };
    text_put(&t, "", 0);
    size_t pos = 0, si = 0, li = 0;
    while (pos < c->len && !t.err) {
        /* skip spans already passed (literals inside a secret) */
        while (li < c->nlits && c->lits[li].off < pos)
            li++;
        size_t next_s = si < c->nsecrets ? c->secrets[si].off : c->len;
        size_t next_l = li < c->nlits ? c->lits[li].off : c->len;
        size_t next = next_s < next_l ? next_s : next_l;
        if (next > pos) {
            text_put(&t, c->buf + pos, next - pos);
            pos = next;
            continue;
        }
        if (next_s == pos && si < c->nsecrets) {
            text_put(&t, "***", 3);
            pos += c->secrets[si].len;
            si++;
            continue;
        }
        /* a literal: header "{n}\r\n" or "~{n+}\r\n", then n bytes */
        const struct command_span *l = &c->lits[li++];
        const char *nl = memchr(c->buf + l->off, '\n', l->len);
        size_t hdr = nl ? (size_t)(nl - (c->buf + l->off)) + 1 : l->len;
        size_t data = l->len - hdr;
        if (data > COMMAND_TRACE_LITERAL_MAX) {
            char note[48];
            text_put(&t, c->buf + l->off, hdr >= 2 ? hdr - 2 : hdr);
            int n = snprintf(note, sizeof note, " <%zu bytes>", data);
            text_put(&t, note, (size_t)n);
        } else {
            text_put(&t, c->buf + l->off, l->len);
        }
        pos = l->off + l->len;
    }
    if (t.err) {
        free(t.p);
        *out = NULL;
        return t.err;
    }
    *out = t.p;
    return 0;
}
