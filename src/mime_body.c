/* mime_body.c — the text a reader sees in a raw message: the MIME structure walked line by line
 * as the bytes come (multipart, message/rfc822, attachments skipped), transfer encodings undone,
 * text parts joined as UTF-8; any size in bounded memory. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "mime_int.h"
#include "utf8.h"

/* ---- one part ---------------------------------------------------------------------------- */

int mime_part_decode(const char *data, size_t len, const char *encoding, const char *charset,
                     char **out, size_t *outlen)
{
    struct buf raw, conv_out;
    struct cte d;
    buf_init(&raw, SIZE_MAX);
    cte_init(&d, cte_kind_of(encoding ? encoding : "", encoding ? strlen(encoding) : 0));
    cte_feed(&d, &raw, data, len, true);
    if (!charset || raw.err)
        return buf_finish(&raw, out, outlen);
    buf_init(&conv_out, SIZE_MAX);
    const char *bytes = raw.p ? raw.p : "";
    if (!*charset || !add_charset(&conv_out, charset, strlen(charset), bytes, raw.len))
        add_sanitized(&conv_out, bytes, raw.len);
    free(raw.p);
    return buf_finish(&conv_out, out, outlen);
}

/* ---- MIME structure ----------------------------------------------------------------------- */

struct part {
    char type[32], subtype[64], charset[64], boundary[128];
    enum cte_kind cte;
    bool attachment;
};

/* Skips blanks, line breaks and (nested) comments in a structured header value. */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
    for (;;) {
        while (i < n && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i >= n || s[i] != '(')
            return i;
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            else if (s[i] == '(')
                depth++;
            else if (s[i] == ')' && --depth == 0) {
                i++;
                break;
            }
        }
    }
}

static bool is_tspecial(char c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* Reads an RFC 2045 token at s[i..n) into out (lower-cased, truncated to size - 1).
 * Returns the offset after it. */
static size_t read_token(const char *s, size_t n, size_t i, char *out, size_t size)
{
    size_t k = 0;
    while (i < n && (unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f && !is_tspecial(s[i])) {
        if (k + 1 < size)
            out[k++] = lower(s[i]);
        i++;
    }
    out[k] = '\0';
    return i;
}

/* Reads a token or quoted string value (case kept) into out. */
static size_t read_value(const char *s, size_t n, size_t i, char *out, size_t size)
{
    size_t k = 0;
    if (i < n && s[i] == '"') {
        for (i++; i < n && s[i] != '"'; i++) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            if (s[i] == '\r' || s[i] == '\n')
                continue;
            if (k + 1 < size)
                out[k++] = s[i];
        }
        out[k] = '\0';
        return i < n ? i + 1 : n;
    }
    while (i < n && (unsigned char)s[i] > ' ' && s[i] != ';' && s[i] != '"') {
        if (k + 1 < size)
            out[k++] = s[i];
        i++;
    }
    out[k] = '\0';
    return i;
}

/* Parses a Content-Type value into p's type, subtype, charset and boundary. */
static void parse_content_type(const char *s, size_t n, struct part *p)
{
    char type[32], subtype[64];
    size_t i = skip_cfws(s, n, 0);
    i = read_token(s, n, i, type, sizeof type);
    i = skip_cfws(s, n, i);
    if (i >= n || s[i] != '/' || !type[0])
        return;                    /* invalid: the default type stands */
    i = skip_cfws(s, n, i + 1);
    i = read_token(s, n, i, subtype, sizeof subtype);
    if (!subtype[0])
        return;
    memcpy(p->type, type, sizeof type);
    memcpy(p->subtype, subtype, sizeof subtype);
    while (i < n) {
        i = skip_cfws(s, n, i);
        if (i >= n || s[i] != ';') {
            i++;                   /* junk: resynchronise on the next ';' */
            continue;
        }
        i = skip_cfws(s, n, i + 1);
        char name[32], value[128];
        i = read_token(s, n, i, name, sizeof name);
        i = skip_cfws(s, n, i);
        if (i >= n || s[i] != '=')
            continue;
        i = skip_cfws(s, n, i + 1);
        i = read_value(s, n, i, value, sizeof value);
        if (strcmp(name, "charset") == 0)
            memcpy(p->charset, value, sizeof p->charset - 1), p->charset[sizeof p->charset - 1] = '\0';
        else if (strcmp(name, "boundary") == 0)
            memcpy(p->boundary, value, sizeof p->boundary);
    }
}

/* Reads the part's MIME fields from its header block. */
static void parse_part(const char *hdr, size_t hlen, struct part *p, bool digest_child)
{
    memset(p, 0, sizeof *p);
    strcpy(p->type, digest_child ? "message" : "text");
    strcpy(p->subtype, digest_child ? "rfc822" : "plain");
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(hdr, hlen, &pos, &f)) {
        if (f.namelen == 12 && strncasecmp(f.name, "Content-Type", 12) == 0) {
            parse_content_type(f.value, f.valuelen, p);
        } else if (f.namelen == 25 && strncasecmp(f.name, "Content-Transfer-Encoding", 25) == 0) {
            char enc[32];
            read_token(f.value, f.valuelen, skip_cfws(f.value, f.valuelen, 0), enc, sizeof enc);
            p->cte = cte_kind_of(enc, strlen(enc));
        } else if (f.namelen == 19 && strncasecmp(f.name, "Content-Disposition", 19) == 0) {
            char disp[32];
            read_token(f.value, f.valuelen, skip_cfws(f.value, f.valuelen, 0), disp, sizeof disp);
            p->attachment = strcmp(disp, "attachment") == 0;
        }
    }
}

/* A delimiter line "--boundary" (or "--boundary--") at s[i..n), i at a line start. Returns 0
 * when it is not one, 1 for a delimiter, 2 for the close delimiter. */
static int delimiter_at(const char *s, size_t n, size_t i, const char *bd, size_t bdlen)
{
    if (n - i < bdlen + 2 || s[i] != '-' || s[i + 1] != '-' || memcmp(s + i + 2, bd, bdlen) != 0)
        return 0;
    size_t j = i + 2 + bdlen;
    int kind = 1;
    if (j + 1 < n && s[j] == '-' && s[j + 1] == '-') {
        kind = 2;
        j += 2;
    }
    while (j < n && (is_wsp(s[j]) || s[j] == '\r'))
        j++;
    if (j < n && s[j] != '\n')
        return 0;                  /* "--boundaryX": a longer boundary, not ours */
    return kind;
}

/* ---- the walk, as the bytes come ------------------------------------------------------- */

/* A line longer than this cannot be a delimiter: its bytes go on as they come. */
#define LINE_HOLD 4096
/* Header blocks are read up to this size; more fields are not looked at. */
#define HEADER_MAX (256 * 1024)

enum { PLAIN, HTML };

struct level {                     /* an open multipart */
    char boundary[128];
    size_t blen;
    bool digest;
    int depth;
};

/* Where decoded text goes: text/plain parts, or text/html ones. */
struct channel {
    uint64_t raw;                  /* bytes produced (line ends as they were) */
    char last;                     /* the last of them */
    bool cr;                       /* a CR held back: dropped if a LF follows */
    bool closed;                   /* the consumer wants no more */
    struct buf out;                /* the piece being handed over */
};

struct mime_text {
    bool first;                    /* the first text part alone (previews) */
    mime_text_fn fn;
    void *ud;
    struct level levels[MIME_MAX_DEPTH + 1];
    int nlevels;
    int depth;                     /* of the entity being read: 0 for the message */
    bool in_header;                /* reading the entity's header block (else its body) */
    bool digest_child;
    int body;                      /* -1: skipped, else the channel its text goes to */
    bool html;                     /* the body is HTML */
    bool plain_seen, done;
    struct buf hdr, line;          /* the header block; the line that may be a delimiter */
    bool midline, cr_held;         /* inside a line too long to be a delimiter */
    char held[2];                  /* the line break after the body's last line */
    size_t nheld;
    struct cte cte;
    struct conv conv;
    struct html htm;
    bool conv_open;
    struct buf tmp, text;
    struct channel ch[2];
};

/* Hands a channel's pending piece to the consumer. */
static void channel_flush(struct mime_text *t, int c)
{
    struct channel *ch = &t->ch[c];
    if (ch->out.len && !ch->closed && !t->fn(t->ud, c == HTML, ch->out.p, ch->out.len)) {
        ch->closed = true;
        if (c == PLAIN || t->first)
            t->done = true;        /* the text is known: nothing more to decode */
    }
    ch->out.len = 0;
}

/* Text for a channel; "\r\n" becomes "\n" on the way. */
static void channel_add(struct mime_text *t, int c, const char *s, size_t n)
{
    struct channel *ch = &t->ch[c];
    if (!n || ch->closed)
        return;
    ch->raw += n;
    ch->last = s[n - 1];
    for (size_t i = 0; i < n; i++) {
        if (ch->cr && s[i] != '\n')
            buf_addc(&ch->out, '\r');
        ch->cr = s[i] == '\r';
        if (!ch->cr)
            buf_addc(&ch->out, s[i]);
    }
    if (ch->out.len >= 65536)
        channel_flush(t, c);
}

/* Decodes body bytes of the text part being read (final: its end). */
static void text_decode(struct mime_text *t, const char *s, size_t n, bool final)
{
    if (t->body < 0 || t->ch[t->body].closed)
        return;
    t->tmp.len = 0;
    cte_feed(&t->cte, &t->tmp, s, n, final);
    t->text.len = 0;
    conv_feed(&t->conv, &t->text, t->tmp.p ? t->tmp.p : "", t->tmp.len, final);
    if (t->html) {
        t->tmp.len = 0;
        html_feed(&t->htm, &t->tmp, t->text.p ? t->text.p : "", t->text.len, final);
        channel_add(t, t->body, t->tmp.p, t->tmp.len);
    } else {
        channel_add(t, t->body, t->text.p, t->text.len);
    }
}

/* Body bytes: the line break held from the line before goes first. */
static void body_bytes(struct mime_text *t, const char *s, size_t n)
{
    if (t->in_header) {
        buf_add(&t->hdr, s, n);
        return;
    }
    if (t->body < 0)
        return;
    if (t->nheld) {
        size_t k = t->nheld;
        t->nheld = 0;
        text_decode(t, t->held, k, false);
    }
    text_decode(t, s, n, false);
}

/* The line break ending a body line, held until it is known whether a delimiter follows (the
 * line break before a delimiter belongs to it). */
static void body_break(struct mime_text *t, const char *term, size_t n)
{
    if (t->in_header) {
        buf_add(&t->hdr, term, n);
        return;
    }
    memcpy(t->held, term, n);
    t->nheld = n;
}

/* The entity being read ends (at a delimiter, or with the input: then its last line break is
 * its own). */
static void entity_end(struct mime_text *t, bool at_delimiter);

/* The header block is complete: what the entity is decides where its body goes. */
static void header_done(struct mime_text *t)
{
    struct part p;
    parse_part(t->hdr.p ? t->hdr.p : "", t->hdr.len, &p, t->digest_child);
    t->hdr.len = 0;
    t->hdr.full = false;
    t->in_header = false;
    t->body = -1;
    t->nheld = 0;
    if (t->depth > MIME_MAX_DEPTH || (t->first && t->plain_seen))
        return;
    if (strcmp(p.type, "multipart") == 0) {
        size_t bl = strlen(p.boundary);
        if (bl && t->nlevels < MIME_MAX_DEPTH + 1) {
            struct level *l = &t->levels[t->nlevels++];
            memcpy(l->boundary, p.boundary, bl + 1);
            l->blen = bl;
            l->digest = strcmp(p.subtype, "digest") == 0;
            l->depth = t->depth;
        }
        return;                    /* its preamble is skipped */
    }
    if (strcmp(p.type, "message") == 0 && strcmp(p.subtype, "rfc822") == 0 && !p.attachment) {
        t->depth++;                /* the encapsulated message's header follows */
        t->in_header = true;
        t->digest_child = false;
        return;
    }
    if (strcmp(p.type, "text") != 0 || p.attachment)
        return;
    bool html = strcmp(p.subtype, "html") == 0, plain = strcmp(p.subtype, "plain") == 0;
    if (!html && !plain)
        return;
    int c = t->first ? PLAIN : html ? HTML : PLAIN;
    t->plain_seen = t->plain_seen || plain || t->first;
    if (t->ch[c].closed)
        return;
    /* Parts are joined with a line break. */
    if (t->ch[c].raw > 0 && t->ch[c].last != '\n')
        channel_add(t, c, "\n", 1);
    t->body = c;
    t->html = html;
    cte_init(&t->cte, p.cte);
    conv_open(&t->conv, p.charset, strlen(p.charset));
    t->conv_open = true;
    if (html)
        html_init(&t->htm, t->first);
}

static void entity_end(struct mime_text *t, bool at_delimiter)
{
    while (t->in_header)            /* no empty line: all header, the body is empty (and an */
        header_done(t);             /* encapsulated message's too) */
    if (t->body >= 0) {
        if (!at_delimiter && t->nheld)
            text_decode(t, t->held, t->nheld, false);
        text_decode(t, "", 0, true);
        if (t->first)
            t->done = true;        /* a preview's text is its first part */
    }
    if (t->conv_open)
        conv_close(&t->conv);
    t->conv_open = false;
    t->body = -1;
    t->nheld = 0;
}

/* A complete line (with its "\n", unless the input ended): a delimiter, a header line, or a
 * body line. */
static void line_done(struct mime_text *t, const char *l, size_t n)
{
    for (int k = 0; k < t->nlevels; k++) {       /* the outermost boundary wins */
        struct level *lv = &t->levels[k];
        int kind = delimiter_at(l, n, 0, lv->boundary, lv->blen);
        if (!kind)
            continue;
        entity_end(t, true);
        t->nlevels = k + 1;
        if (kind == 2) {           /* its epilogue is skipped */
            t->nlevels = k;
            t->depth = lv->depth;
            t->body = -1;
            return;
        }
        t->depth = lv->depth + 1;
        t->in_header = true;
        t->digest_child = lv->digest;
        return;
    }
    size_t c = n;
    if (c && l[c - 1] == '\n')
        c--;
    if (c && l[c - 1] == '\r')
        c--;
    if (t->in_header && c == 0) {
        header_done(t);
        return;
    }
    if (!t->in_header && t->body < 0)
        return;
    body_bytes(t, l, c);
    body_break(t, l + c, n - c);
}

/* Input bytes without a line start among them that can be a delimiter: from inside a long
 * line up to its end (the "\n" at s[n - 1] when lf). */
static void long_line(struct mime_text *t, const char *s, size_t n, bool lf)
{
    size_t c = lf ? n - 1 : n;
    if (t->cr_held && (c > 0 || !lf)) {          /* the CR was not the line's end */
        t->cr_held = false;
        body_bytes(t, "\r", 1);
    }
    bool cr_end = c > 0 && s[c - 1] == '\r';
    if (cr_end)
        c--;
    body_bytes(t, s, c);
    if (lf) {
        body_break(t, (cr_end || t->cr_held) ? "\r\n" : "\n", (cr_end || t->cr_held) ? 2 : 1);
        t->cr_held = false;
        t->midline = false;
    } else {
        t->cr_held = cr_end;
    }
}

/* The first allocation failure, or 0. */
static int mime_text_err(const struct mime_text *t)
{
    const struct buf *bufs[] = { &t->line, &t->hdr, &t->tmp, &t->text, &t->ch[PLAIN].out,
                                 &t->ch[HTML].out };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]->err)
            return bufs[i]->err;
    return 0;
}

int mime_text_feed(struct mime_text *t, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !t->done) {
        const char *lf = memchr(s + i, '\n', n - i);
        size_t end = lf ? (size_t)(lf - s) + 1 : n;
        if (t->midline) {
            long_line(t, s + i, end - i, lf != NULL);
        } else if (lf && t->line.len == 0) {
            line_done(t, s + i, end - i);        /* a whole line in the input: no copy */
        } else {
            buf_add(&t->line, s + i, end - i);
            if (lf) {
                line_done(t, t->line.p, t->line.len);
                t->line.len = 0;
            } else if (t->line.len > LINE_HOLD) {
                t->midline = true;
                size_t k = t->line.len;
                t->line.len = 0;
                long_line(t, t->line.p, k, false);
            }
        }
        i = end;
    }
    return mime_text_err(t);
}

int mime_text_end(struct mime_text *t)
{
    if (!t->done) {
        if (t->midline) {
            long_line(t, "", 0, false);
            if (t->cr_held)
                body_bytes(t, "\r", 1);
        } else if (t->line.len) {
            line_done(t, t->line.p, t->line.len);
        }
        t->line.len = 0;
        entity_end(t, false);
    }
    for (int c = 0; c < 2; c++) {
        if (t->ch[c].cr && !t->ch[c].closed)
            buf_addc(&t->ch[c].out, '\r');
        t->ch[c].cr = false;
        channel_flush(t, c);
    }
    t->done = true;
    return mime_text_err(t);
}

struct mime_text *mime_text_new(bool first, mime_text_fn fn, void *ud)
{
    struct mime_text *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->first = first;
    t->fn = fn;
    t->ud = ud;
    t->in_header = true;
    t->body = -1;
    buf_init(&t->hdr, HEADER_MAX);
    buf_init(&t->line, SIZE_MAX);
    buf_init(&t->tmp, SIZE_MAX);
    buf_init(&t->text, SIZE_MAX);
    buf_init(&t->ch[PLAIN].out, SIZE_MAX);
    buf_init(&t->ch[HTML].out, SIZE_MAX);
    return t;
}

bool mime_text_plain(const struct mime_text *t)
{
    return t->plain_seen;
}

void mime_text_free(struct mime_text *t)
{
    if (!t)
        return;
    if (t->conv_open)
        conv_close(&t->conv);
    free(t->hdr.p);
    free(t->line.p);
    free(t->tmp.p);
    free(t->text.p);
    free(t->ch[PLAIN].out.p);
    free(t->ch[HTML].out.p);
    free(t);
}

/* ---- the whole message at once ---------------------------------------------------------- */

struct gather {
    struct buf out[2];
};

static bool gather(void *ud, bool html, const char *text, size_t len)
{
    struct buf *b = &((struct gather *)ud)->out[html];
    buf_add(b, text, len);
    return !b->full && !b->err;
}

/* mime_body_text, or with first the first text part's text alone (HTML quotes left out). */
static int body_text(const char *msg, size_t len, size_t max, bool first, char **out,
                     size_t *outlen, bool *truncated)
{
    struct gather g;
    buf_init(&g.out[PLAIN], max ? max : SIZE_MAX);
    buf_init(&g.out[HTML], max ? max : SIZE_MAX);
    struct mime_text *t = mime_text_new(first, gather, &g);
    int rc = t ? mime_text_feed(t, msg ? msg : "", len) : -ENOMEM;
    if (!rc)
        rc = mime_text_end(t);
    bool plain = t && mime_text_plain(t);
    mime_text_free(t);
    struct buf *w = &g.out[plain ? PLAIN : HTML];
    free(g.out[plain ? HTML : PLAIN].p);
    if (rc && !w->err)
        w->err = rc;
    if (w->err)
        return buf_finish(w, out, outlen);
    if (truncated)
        *truncated = w->full;
    if (w->full)                   /* a cut inside a character loses the partial character */
        w->len -= utf8_cut_tail(w->p, w->len);
    return buf_finish(w, out, outlen);
}

int mime_body_text(const char *msg, size_t len, size_t max, char **out, size_t *outlen)
{
    return body_text(msg, len, max, false, out, outlen, NULL);
}

int mime_body_text_cut(const char *msg, size_t len, size_t max, char **out, size_t *outlen,
                       bool *truncated)
{
    *truncated = false;
    return body_text(msg, len, max, false, out, outlen, truncated);
}

int mime_first_text(const char *msg, size_t len, size_t max, char **out, size_t *outlen)
{
    return body_text(msg, len, max, true, out, outlen, NULL);
}
