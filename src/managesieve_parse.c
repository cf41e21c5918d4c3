/* managesieve_parse.c — parses one ManageSieve server line into atoms and strings (RFC 5804
 * section 4): re-parsed from its start whenever more bytes arrive, which costs little since
 * a literal's size is known from its header and the reader waits for all of it at once. */
#include "managesieve_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void msp_init(struct msp *p)
{
    memset(p, 0, sizeof *p);
    p->max_line = 64 * 1024;
    p->max_literal = 16 * 1024 * 1024;
}

void msp_free(struct msp *p)
{
    free(p->out);
    p->out = NULL;
    p->outlen = p->outcap = 0;
}

/* The parse of one line: where it is in buf, and what it found. */
struct cursor {
    struct msp *p;
    const char *buf;
    size_t len, pos;
    size_t literal_bytes;       /* inside literals so far (not counted against max_line) */
    size_t need;                /* on NEED_MORE */
};

static int fail(struct cursor *c, int code, const char *what)
{
    snprintf(c->p->err, sizeof c->p->err, "%s at offset %zu", what, c->pos);
    return code;
}

static int more(struct cursor *c, size_t need)
{
    if (need - c->literal_bytes > c->p->max_line)
        return fail(c, MSP_ERR_LIMIT, "line too long");
    c->need = need;
    return MSP_NEED_MORE;
}

/* Reserves n + 1 bytes in p->out (kept, not moved: the offset is returned, the pointers are
 * made once the line is whole). */
static long reserve(struct msp *p, size_t n)
{
    if (p->outlen + n + 1 > p->outcap) {
        size_t cap = p->outcap ? p->outcap : 256;
        while (cap < p->outlen + n + 1)
            cap *= 2;
        char *o = realloc(p->out, cap);
        if (!o)
            return -1;
        p->out = o;
        p->outcap = cap;
    }
    long at = (long)p->outlen;
    p->outlen += n + 1;
    return at;
}

/* What an item holds while parsing: an offset into p->out (p->out may still move). */
struct raw_item { bool is_string; size_t off, len; };

static bool atom_char(unsigned char ch)
{
    return ch > ' ' && ch < 0x7f && ch != '(' && ch != ')' && ch != '{' && ch != '"' &&
           ch != '\\';
}

/* One item at c->pos: a quoted string, a literal or an atom. */
static int parse_item(struct cursor *c, struct raw_item *it)
{
    struct msp *p = c->p;
    if (c->pos >= c->len)
        return more(c, c->len + 1);
    char ch = c->buf[c->pos];
    if (ch == '"') {
        size_t i = c->pos + 1, n = 0;
        for (;; i++) {          /* first pass: the length, and whether it ends */
            if (i >= c->len)
                return more(c, c->len + 1);
            if (c->buf[i] == '"')
                break;
            if (c->buf[i] == '\r' || c->buf[i] == '\n' || c->buf[i] == '\0')
                return fail(c, MSP_ERR_SYNTAX, "line break or NUL inside a quoted string");
            if (c->buf[i] == '\\') {
                i++;
                if (i >= c->len)
                    return more(c, c->len + 1);
            }
            n++;
        }
        long at = reserve(p, n);
        if (at < 0)
            return fail(c, MSP_ERR_NOMEM, "out of memory");
        char *o = p->out + at;
        for (size_t j = c->pos + 1; j < i; j++) {
            if (c->buf[j] == '\\')
                j++;
            *o++ = c->buf[j];
        }
        *o = '\0';
        *it = (struct raw_item){ true, (size_t)at, n };
        c->pos = i + 1;
        return MSP_LINE;
    }
    if (ch == '{') {
        size_t i = c->pos + 1, n = 0, digits = 0;
        for (; i < c->len && isdigit((unsigned char)c->buf[i]); i++, digits++) {
            if (n > (p->max_literal - (size_t)(c->buf[i] - '0')) / 10)
                return fail(c, MSP_ERR_LIMIT, "literal too large");
            n = n * 10 + (size_t)(c->buf[i] - '0');
        }
        if (i < c->len && c->buf[i] == '+')
            i++;
        if (i + 1 >= c->len)
            return more(c, c->len + 1);
        if (!digits || c->buf[i] != '}')
            return fail(c, MSP_ERR_SYNTAX, "bad literal header");
        i++;
        if (c->buf[i] == '\r')
            i++;
        if (i >= c->len)
            return more(c, c->len + 1);
        if (c->buf[i] != '\n')
            return fail(c, MSP_ERR_SYNTAX, "no line break after a literal header");
        i++;
        if (c->len - i < n) {
            c->literal_bytes += n;
            return more(c, i + n + 2);
        }
        long at = reserve(p, n);
        if (at < 0)
            return fail(c, MSP_ERR_NOMEM, "out of memory");
        memcpy(p->out + at, c->buf + i, n);
        p->out[at + (long)n] = '\0';
        *it = (struct raw_item){ true, (size_t)at, n };
        c->literal_bytes += n;
        c->pos = i + n;
        return MSP_LINE;
    }
    size_t i = c->pos;
    while (i < c->len && atom_char((unsigned char)c->buf[i]))
        i++;
    if (i == c->pos)
        return fail(c, MSP_ERR_SYNTAX, "unexpected character");
    if (i >= c->len)
        return more(c, c->len + 1);
    long at = reserve(p, i - c->pos);
    if (at < 0)
        return fail(c, MSP_ERR_NOMEM, "out of memory");
    memcpy(p->out + at, c->buf + c->pos, i - c->pos);
    p->out[at + (long)(i - c->pos)] = '\0';
    *it = (struct raw_item){ false, (size_t)at, i - c->pos };
    c->pos = i;
    return MSP_LINE;
}

/* After an item: a space (then another item), or the end of the line. Returns 1 for a space,
 * 0 at the end (c->pos past the line break), or a NEED_MORE/error code. */
static int separator(struct cursor *c, int *rc)
{
    if (c->pos >= c->len) {
        *rc = more(c, c->len + 1);
        return -1;
    }
    char ch = c->buf[c->pos];
    if (ch == ' ') {
        while (c->pos < c->len && c->buf[c->pos] == ' ')
            c->pos++;
        if (c->pos >= c->len) {
            *rc = more(c, c->len + 1);
            return -1;
        }
        return c->buf[c->pos] == '\r' || c->buf[c->pos] == '\n' ? separator(c, rc) : 1;
    }
    if (ch == '\r') {
        if (c->pos + 1 >= c->len) {
            *rc = more(c, c->len + 1);
            return -1;
        }
        if (c->buf[c->pos + 1] != '\n') {
            *rc = fail(c, MSP_ERR_SYNTAX, "CR without LF");
            return -1;
        }
        c->pos += 2;
        return 0;
    }
    if (ch == '\n') {
        c->pos++;
        return 0;
    }
    if (ch == ')')
        return 2;
    *rc = fail(c, MSP_ERR_SYNTAX, "expected a space or the end of the line");
    return -1;
}

int msp_parse(struct msp *p, const char *buf, size_t len, struct msp_line *line, size_t *used,
              size_t *need)
{
    struct cursor c = { .p = p, .buf = buf, .len = len };
    struct raw_item items[MSP_MAX_ITEMS + 2];
    size_t n = 0;
    bool code_open = false, code_done = false, response = false;
    size_t code_at = 0, code_n = 0;   /* items inside the parentheses */
    int rc;
    p->outlen = 0;
    p->err[0] = '\0';
    memset(line, 0, sizeof *line);
    for (;;) {
        if (response && n == 1 && !code_done && c.pos < c.len && buf[c.pos] == '(') {
            c.pos++;
            code_open = true;
            code_at = n;
        }
        if (n >= MSP_MAX_ITEMS + 2)
            return fail(&c, MSP_ERR_LIMIT, "too many items on one line");
        rc = parse_item(&c, &items[n]);
        if (rc != MSP_LINE)
            goto out;
        n++;
        if (n == 1 && !items[0].is_string) {
            const char *a = p->out + items[0].off;
            response = !strcasecmp(a, "OK") || !strcasecmp(a, "NO") || !strcasecmp(a, "BYE");
        }
        if (code_open && n == code_at + 1 && items[code_at].is_string)
            return fail(&c, MSP_ERR_SYNTAX, "a response code must start with an atom");
        int sep = separator(&c, &rc);
        if (sep < 0)
            goto out;
        if (sep == 2) {
            if (!code_open)
                return fail(&c, MSP_ERR_SYNTAX, "')' outside a response code");
            c.pos++;
            code_open = false;
            code_done = true;
            code_n = n - code_at;
            sep = separator(&c, &rc);
            if (sep < 0)
                goto out;
            if (sep == 2)
                return fail(&c, MSP_ERR_SYNTAX, "unbalanced ')'");
        }
        if (sep == 0) {
            if (code_open)
                return fail(&c, MSP_ERR_SYNTAX, "response code not closed");
            break;
        }
    }
    /* The line is whole: p->out no longer moves, pointers can be made. */
    if (!response) {
        if (n > MSP_MAX_ITEMS)
            return fail(&c, MSP_ERR_LIMIT, "too many items on one line");
        line->kind = MSP_DATA;
        for (size_t i = 0; i < n; i++)
            line->item[i] = (struct msp_item){ items[i].is_string, p->out + items[i].off,
                                               items[i].len };
        line->n = n;
    } else {
        const char *a = p->out + items[0].off;
        line->kind = !strcasecmp(a, "OK") ? MSP_OK : !strcasecmp(a, "NO") ? MSP_NO : MSP_BYE;
        size_t rest = 1;
        line->code_arg = line->text = "";
        if (code_done) {
            char *code = p->out + items[code_at].off;
            for (char *q = code; *q; q++)
                *q = (char)toupper((unsigned char)*q);
            line->code = code;
            if (code_n > 1) {
                line->code_arg = p->out + items[code_at + 1].off;
                line->code_arg_len = items[code_at + 1].len;
            }
            rest = code_at + code_n;
        }
        if (n > rest + 1)
            return fail(&c, MSP_ERR_SYNTAX, "more than one text after a response");
        if (n == rest + 1) {
            if (!items[rest].is_string)
                return fail(&c, MSP_ERR_SYNTAX, "a response's text must be a string");
            line->text = p->out + items[rest].off;
            line->text_len = items[rest].len;
        }
    }
    *used = c.pos;
    return MSP_LINE;
out:
    if (rc == MSP_NEED_MORE)
        *need = c.need;
    return rc;
}
