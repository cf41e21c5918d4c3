/* mime_body.c — the text a reader sees in a raw message: the MIME structure walked (multipart,
 * message/rfc822, attachments skipped), transfer encodings undone, text parts joined as UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "mime_int.h"
#include "utf8.h"

/* ---- transfer encodings ------------------------------------------------------------------- */


/* Lenient base64 (bodies): skips anything outside the alphabet; "=" ends a group, so
 * concatenated padded blocks decode too. Stops once limit bytes are out. */
static void base64_decode(struct buf *b, const char *s, size_t n, size_t limit)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t start = b->len;
    for (size_t i = 0; i < n && b->len - start < limit && !b->err; i++) {
        int v = b64val(s[i]);
        if (v < 0) {
            if (s[i] == '=')
                acc = 0, bits = 0;
            continue;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_addc(b, (char)(acc >> bits));
        }
    }
}

/* Quoted-printable (bodies): "=XX", soft line breaks ("=" then optional blanks and a line end);
 * any other "=" is kept. Stops once limit bytes are out. */
static void qp_decode(struct buf *b, const char *s, size_t n, size_t limit)
{
    size_t start = b->len;
    size_t i = 0;
    while (i < n && b->len - start < limit && !b->err) {
        size_t run = i;
        while (run < n && s[run] != '=')
            run++;
        buf_add(b, s + i, run - i);
        i = run;
        if (i >= n)
            break;
        int hi = i + 1 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
            buf_addc(b, (char)(hi << 4 | lo));
            i += 3;
            continue;
        }
        size_t j = i + 1;
        while (j < n && is_wsp(s[j]))
            j++;
        if (j < n && s[j] == '\r' && j + 1 < n && s[j + 1] == '\n') {
            i = j + 2;
        } else if (j < n && s[j] == '\n') {
            i = j + 1;
        } else if (j >= n) {
            i = n;
        } else {
            buf_addc(b, '=');
            i++;
        }
    }
}

int mime_part_decode(const char *data, size_t len, const char *encoding, const char *charset,
                     char **out, size_t *outlen)
{
    struct buf raw, conv;
    buf_init(&raw, SIZE_MAX);
    size_t el = encoding ? strlen(encoding) : 0;
    if (eq_nocase(encoding ? encoding : "", el, "base64"))
        base64_decode(&raw, data, len, SIZE_MAX);
    else if (eq_nocase(encoding ? encoding : "", el, "quoted-printable"))
        qp_decode(&raw, data, len, SIZE_MAX);
    else
        buf_add(&raw, data, len);
    if (!charset || raw.err)
        return buf_finish(&raw, out, outlen);
    buf_init(&conv, SIZE_MAX);
    const char *bytes = raw.p ? raw.p : "";
    if (!*charset || !add_charset(&conv, charset, strlen(charset), bytes, raw.len))
        add_sanitized(&conv, bytes, raw.len);
    free(raw.p);
    return buf_finish(&conv, out, outlen);
}

/* ---- MIME structure ----------------------------------------------------------------------- */

enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };

struct part {
    char type[32], subtype[64], charset[64], boundary[128];
    enum cte cte;
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
            p->cte = strcmp(enc, "quoted-printable") == 0 ? CTE_QP
                   : strcmp(enc, "base64") == 0 ? CTE_BASE64 : CTE_IDENTITY;
        } else if (f.namelen == 19 && strncasecmp(f.name, "Content-Disposition", 19) == 0) {
            char disp[32];
            read_token(f.value, f.valuelen, skip_cfws(f.value, f.valuelen, 0), disp, sizeof disp);
            p->attachment = strcmp(disp, "attachment") == 0;
        }
    }
}

/* Splits an entity into header block and body at the first empty line. No empty line: the
 * whole entity is header (a part that starts with one has no header at all). */
static void split_entity(const char *s, size_t n, size_t *hlen, size_t *body)
{
    size_t i = 0;
    while (i < n) {
        size_t eol = line_end(s, n, i);
        size_t content_end = eol > i && s[eol - 1] == '\r' ? eol - 1 : eol;
        if (content_end == i) {
            *hlen = i;
            *body = eol < n ? eol + 1 : n;
            return;
        }
        i = eol < n ? eol + 1 : n;
    }
    *hlen = n;
    *body = n;
}

struct walk {
    struct buf out;
    struct buf tmp;           /* a part's decoded bytes, reused */
    struct buf conv;          /* an HTML part converted to UTF-8, reused */
    bool html;                /* second pass: HTML parts */
    bool found;               /* a part of the kind wanted was seen */
    bool first;               /* only the first text part, plain or HTML (a preview's) */
};

static void walk_entity(struct walk *w, const char *s, size_t n, int depth, bool digest_child);

/* A delimiter line "--boundary" (or "--boundary--") at s[i..n), i at a line start. Returns 0
 * when it is not one, 1 for a delimiter, 2 for the close delimiter; *next is the next line. */
static int delimiter_at(const char *s, size_t n, size_t i, const char *bd, size_t bdlen,
                        size_t *next)
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
    *next = j < n ? j + 1 : n;
    return kind;
}

static void walk_multipart(struct walk *w, const char *s, size_t n, const struct part *p,
                           int depth)
{
    const char *bd = p->boundary;
    size_t bdlen = strlen(bd);
    if (bdlen == 0)
        return;
    bool digest = strcmp(p->subtype, "digest") == 0;
    size_t i = 0, part_start = 0;
    bool in_part = false;
    while (i < n && !w->out.full && !w->out.err && !(w->first && w->found)) {
        size_t next;
        int kind = delimiter_at(s, n, i, bd, bdlen, &next);
        if (kind) {
            if (in_part) {
                /* The line break before the delimiter belongs to it. */
                size_t end = i;
                if (end > part_start && s[end - 1] == '\n')
                    end--;
                if (end > part_start && s[end - 1] == '\r')
                    end--;
                walk_entity(w, s + part_start, end - part_start, depth + 1, digest);
            }
            if (kind == 2)
                return;
            in_part = true;
            part_start = next;
            i = next;
            continue;
        }
        size_t eol = line_end(s, n, i);
        i = eol < n ? eol + 1 : n;
    }
    /* no close delimiter: the last part runs to the end */
    if (in_part && !w->out.full && !(w->first && w->found))
        walk_entity(w, s + part_start, n - part_start, depth + 1, digest);
}

/* Decodes a leaf text part's body into w->out (plain) or through strip_html (HTML). */
static void walk_text(struct walk *w, const char *body, size_t n, const struct part *p)
{
    struct buf *dst = w->html ? &w->conv : &w->out;
    /* Plain text: no need to decode much more than fits (4 bytes in can make 1 out). */
    size_t room = w->out.max - w->out.len;
    size_t limit = w->html || room > SIZE_MAX / 8 ? SIZE_MAX : room * 4 + 64;
    w->tmp.len = 0;
    w->conv.len = 0;
    const char *bytes = body;
    size_t nbytes = n;
    if (p->cte != CTE_IDENTITY) {
        if (p->cte == CTE_QP)
            qp_decode(&w->tmp, body, n, limit);
        else
            base64_decode(&w->tmp, body, n, limit);
        if (w->tmp.err) {
            w->out.err = w->tmp.err;
            return;
        }
        bytes = w->tmp.p ? w->tmp.p : "";
        nbytes = w->tmp.len;
    } else if (nbytes > limit) {
        nbytes = limit;
    }
    if (w->out.len > 0 && w->out.p[w->out.len - 1] != '\n')
        buf_addc(&w->out, '\n');
    if (!p->charset[0] || !add_charset(dst, p->charset, strlen(p->charset), bytes, nbytes))
        add_sanitized(dst, bytes, nbytes);
    if (w->html) {
        if (w->conv.err)
            w->out.err = w->conv.err;
        else
            strip_html(&w->out, w->conv.p ? w->conv.p : "", w->conv.len, w->first);
    }
}

static void walk_entity(struct walk *w, const char *s, size_t n, int depth, bool digest_child)
{
    if (depth > MIME_MAX_DEPTH || w->out.full || w->out.err || (w->first && w->found))
        return;
    size_t hlen, body;
    split_entity(s, n, &hlen, &body);
    struct part p;
    parse_part(s, hlen, &p, digest_child);
    if (strcmp(p.type, "multipart") == 0) {
        walk_multipart(w, s + body, n - body, &p, depth);
    } else if (strcmp(p.type, "message") == 0 && strcmp(p.subtype, "rfc822") == 0
               && !p.attachment) {
        walk_entity(w, s + body, n - body, depth + 1, false);
    } else if (strcmp(p.type, "text") == 0 && !p.attachment) {
        if (w->first && (strcmp(p.subtype, "html") == 0 || strcmp(p.subtype, "plain") == 0))
            w->html = strcmp(p.subtype, "html") == 0;
        bool want = w->html ? strcmp(p.subtype, "html") == 0 : strcmp(p.subtype, "plain") == 0;
        if (want) {
            w->found = true;
            walk_text(w, s + body, n - body, &p);
        }
    }
}

/* mime_body_text, or with first the first text part's text alone (HTML quotes left out). */
static int body_text(const char *msg, size_t len, size_t max, bool first, char **out,
                     size_t *outlen)
{
    struct walk w;
    buf_init(&w.out, max ? max : MIME_BODY_TEXT_DEFAULT_MAX);
    buf_init(&w.tmp, SIZE_MAX);
    buf_init(&w.conv, SIZE_MAX);
    w.html = false;
    w.found = false;
    w.first = first;
    if (!msg)
        msg = "";
    walk_entity(&w, msg, len, 0, false);
    if (!w.found && !w.out.err && !first) {
        w.html = true;
        walk_entity(&w, msg, len, 0, false);
    }
    free(w.tmp.p);
    free(w.conv.p);
    if (w.out.err)
        return buf_finish(&w.out, out, outlen);
    /* Line ends become "\n"; a cut inside a character loses the partial character. */
    size_t k = 0;
    for (size_t i = 0; i < w.out.len; i++)
        if (!(w.out.p[i] == '\r' && i + 1 < w.out.len && w.out.p[i + 1] == '\n'))
            w.out.p[k++] = w.out.p[i];
    w.out.len = k;
    if (w.out.full) {
        size_t i = w.out.len;
        while (i > 0 && (w.out.p[i - 1] & 0xc0) == 0x80 && w.out.len - i < 3)
            i--;
        uint32_t cp;
        if (i > 0 && (unsigned char)w.out.p[i - 1] >= 0xc0
            && utf8_decode(w.out.p + i - 1, w.out.len - i + 1, &cp) < 0)
            w.out.len = i - 1;
    }
    return buf_finish(&w.out, out, outlen);
}

int mime_body_text(const char *msg, size_t len, size_t max, char **out, size_t *outlen)
{
    return body_text(msg, len, max, false, out, outlen);
}

int mime_first_text(const char *msg, size_t len, size_t max, char **out, size_t *outlen)
{
    return body_text(msg, len, max, true, out, outlen);
}
