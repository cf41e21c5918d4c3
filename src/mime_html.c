/* mime_html.c — the readable text of an HTML part, for matching: tags, scripts, styles and
 * comments dropped, block tags as line breaks, entities decoded, blanks collapsed (and quotes
 * dropped, for previews). A state machine, so the part may come in pieces of any size. */
#include "mime_int.h"

enum {
    H_TEXT,       /* text */
    H_LT,         /* after "<" */
    H_BANG,       /* "<!", "<!-": a comment or a declaration */
    H_NAME,       /* a tag's name */
    H_TAG,        /* the rest of a tag, up to ">" outside quotes */
    H_COMMENT,    /* inside "<!--", match counts the "-" seen */
    H_RAW,        /* inside <script> or <style>, match counts its end tag's bytes seen */
    H_RAW_END,    /* after "</script", up to ">" */
    H_ENT,        /* after "&" */
};

static const char *const blocks[] = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4",
                                     "h5", "h6", "table", "ul", "ol", "blockquote", "hr",
                                     "pre", "dt", "dd", "title", "section", "article",
                                     "header", "footer", NULL};

static const struct { const char *name; uint32_t cp; } entities[] = {
    {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
    {"copy", 0xa9}, {"reg", 0xae}, {"euro", 0x20ac}, {"hellip", 0x2026}, {"mdash", 0x2014},
    {"ndash", 0x2013}, {"laquo", 0xab}, {"raquo", 0xbb}, {"rsquo", 0x2019},
    {"lsquo", 0x2018}, {"rdquo", 0x201d}, {"ldquo", 0x201c}, {"bull", 0x2022},
    {"auml", 0xe4}, {"ouml", 0xf6}, {"uuml", 0xfc}, {"Auml", 0xc4}, {"Ouml", 0xd6},
    {"Uuml", 0xdc}, {"szlig", 0xdf}, {"eacute", 0xe9}, {"egrave", 0xe8}, {"agrave", 0xe0},
    {"ccedil", 0xe7}, {NULL, 0},
};

/* An entity's name holds at most this many bytes before its ";". */
#define ENT_MAX 11

void html_init(struct html *h, bool skip_quotes)
{
    memset(h, 0, sizeof *h);
    h->skip_quotes = skip_quotes;
    h->space = true;
}

/* ---- output: blanks and line breaks wait in pend until text follows them ---------------- */

static void out_flush(struct html *h, struct buf *b)
{
    buf_add(b, h->pend, h->npend);
    h->npend = 0;
}

static void out_text(struct html *h, struct buf *b, const char *s, size_t n)
{
    out_flush(h, b);
    buf_add(b, s, n);
    h->any = true;
}

static void out_blank(struct html *h, struct buf *b, char c)
{
    if (h->npend == sizeof h->pend) {   /* a long run (entities): write all but the last two */
        buf_add(b, h->pend, h->npend - 2);
        memmove(h->pend, h->pend + h->npend - 2, 2);
        h->npend = 2;
        h->any = true;
    }
    h->pend[h->npend++] = c;
}

static void out_cp(struct html *h, struct buf *b, uint32_t cp)
{
    if (cp == ' ' || cp == '\n') {
        out_blank(h, b, (char)cp);
    } else {
        out_flush(h, b);
        buf_add_cp(b, cp);
        h->any = true;
    }
    h->space = cp == ' ';
}

static bool name_is(const struct html *h, const char *name)
{
    return eq_nocase(h->name, h->namelen, name);
}

/* A tag ended (its ">" seen): what it does to the text. */
static void tag_done(struct html *h, struct buf *b)
{
    h->state = H_TEXT;
    if (!h->closing && (name_is(h, "script") || name_is(h, "style"))) {
        h->script = name_is(h, "script");
        h->state = H_RAW;
        h->match = 0;
        return;
    }
    if (h->skip_quotes && name_is(h, "blockquote"))
        h->quotes += h->closing ? (h->quotes > 0 ? -1 : 0) : 1;
    bool block = false;
    for (size_t k = 0; blocks[k]; k++)
        if (name_is(h, blocks[k]))
            block = true;
    if (block) {
        /* No blanks at line ends; at most one empty line in a row. */
        while (h->npend && h->pend[h->npend - 1] == ' ')
            h->npend--;
        bool two = h->npend >= 2 && h->pend[h->npend - 1] == '\n' && h->pend[h->npend - 2] == '\n';
        if (!two && (h->any || h->npend))
            out_blank(h, b, '\n');
        h->space = true;
    } else if ((name_is(h, "td") || name_is(h, "th")) && !h->space) {
        out_blank(h, b, ' ');
        h->space = true;
    }
}

static void tag_start(struct html *h, bool closing)
{
    h->closing = closing;
    h->namelen = 0;
    h->quote = 0;
    h->state = H_NAME;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The entity in h->ent ended at c (';' or the byte after ENT_MAX): its code point, or 0. */
static uint32_t entity_value(const struct html *h)
{
    const char *e = h->ent;
    size_t elen = h->nent;
    if (!elen)
        return 0;
    if (e[0] == '#') {
        bool hex = elen > 1 && (e[1] == 'x' || e[1] == 'X');
        size_t k = hex ? 2 : 1;
        uint32_t v = 0;
        if (k >= elen)
            return 0;
        for (; k < elen; k++) {
            int d = hex ? hexval(e[k]) : (e[k] >= '0' && e[k] <= '9' ? e[k] - '0' : -1);
            if (d < 0 || v > 0x10ffff)
                return 0;
            v = v * (hex ? 16 : 10) + (uint32_t)d;
        }
        return v ? v : 0xfffd;
    }
    for (size_t k = 0; entities[k].name; k++)
        if (strlen(entities[k].name) == elen && memcmp(entities[k].name, e, elen) == 0)
            return entities[k].cp;
    return 0;
}

static void feed(struct html *h, struct buf *b, const char *s, size_t n);

/* "&" was not an entity: it stays, and the bytes read after it are text again. */
static void entity_fail(struct html *h, struct buf *b)
{
    char again[sizeof h->ent];
    size_t k = h->nent;
    memcpy(again, h->ent, k);
    h->state = H_TEXT;
    out_text(h, b, "&", 1);
    h->space = false;
    feed(h, b, again, k);           /* no "&" or "<" among them: no deeper than this */
}

/* One byte in an entity's name: returns false when c is not taken (it is read again). */
static bool entity_byte(struct html *h, struct buf *b, char c)
{
    if (h->nent == ENT_MAX || c == ';') {
        uint32_t cp = c == ';' ? entity_value(h) : 0;
        if (cp) {
            h->state = H_TEXT;
            out_cp(h, b, cp);
            return true;
        }
        entity_fail(h, b);
        return false;
    }
    if (c == '&' || c == '<' || is_wsp(c)) {
        entity_fail(h, b);
        return false;
    }
    h->ent[h->nent++] = c;
    return true;
}

static void feed(struct html *h, struct buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !b->err) {
        char c = s[i];
        switch (h->state) {
        case H_TEXT:
            if (c == '<') {
                h->state = H_LT;
                i++;
            } else if (h->quotes > 0) {     /* quoted text: skipped up to the next tag */
                const char *lt = memchr(s + i, '<', n - i);
                i = lt ? (size_t)(lt - s) : n;
            } else if (c == '&') {
                h->state = H_ENT;
                h->nent = 0;
                i++;
            } else if (is_wsp(c) || c == '\r' || c == '\n') {
                if (!h->space) {
                    out_blank(h, b, ' ');
                    h->space = true;
                }
                i++;
            } else {
                size_t j = i + 1;
                while (j < n && s[j] != '<' && s[j] != '&' && !is_wsp(s[j]) && s[j] != '\r' &&
                       s[j] != '\n')
                    j++;
                out_text(h, b, s + i, j - i);
                h->space = false;
                i = j;
            }
            break;
        case H_LT:
            if (c == '/') {
                tag_start(h, true);
                i++;
            } else if (is_alnum(c)) {
                tag_start(h, false);
            } else if (c == '!') {
                tag_start(h, false);
                h->state = H_BANG;
                h->match = 0;
                i++;
            } else if (c == '?') {
                tag_start(h, false);
                h->state = H_TAG;
            } else {                        /* a lone "<" in text */
                h->state = H_TEXT;
                out_text(h, b, "<", 1);
                h->space = false;
            }
            break;
        case H_BANG:
            if (c == '-' && h->match < 2) {
                h->match++;
                i++;
                if (h->match == 2) {
                    h->state = H_COMMENT;
                    h->match = 0;
                }
            } else {
                h->state = H_TAG;           /* "<!DOCTYPE ...>", "<!-x": a declaration */
            }
            break;
        case H_NAME:
            if (is_alnum(c)) {
                if (h->namelen < sizeof h->name)
                    h->name[h->namelen] = lower(c);
                h->namelen++;
                i++;
            } else {
                if (h->namelen >= sizeof h->name)
                    h->namelen = sizeof h->name + 1;   /* matches no name */
                h->state = H_TAG;
            }
            break;
        case H_TAG:
            if (h->quote) {
                if (c == h->quote)
                    h->quote = 0;
            } else if (c == '"' || c == '\'') {
                h->quote = c;
            } else if (c == '>') {
                if (h->namelen > sizeof h->name)
                    h->namelen = sizeof h->name + 1;
                tag_done(h, b);
            }
            i++;
            break;
        case H_COMMENT:
            if (c == '>' && h->match >= 2)
                h->state = H_TEXT;
            h->match = c == '-' ? h->match + 1 : 0;
            i++;
            break;
        case H_RAW: {
            const char *end = h->script ? "</script" : "</style";
            if (lower(c) == end[h->match])
                h->match++;
            else
                h->match = c == '<';
            if (!end[h->match])
                h->state = H_RAW_END;
            i++;
            break;
        }
        case H_RAW_END:
            if (c == '>')
                h->state = H_TEXT;
            i++;
            break;
        case H_ENT:
            if (entity_byte(h, b, c))
                i++;
            break;
        }
    }
}

void html_feed(struct html *h, struct buf *b, const char *s, size_t n, bool final)
{
    feed(h, b, s, n);
    if (!final)
        return;
    if (h->state == H_LT) {                 /* "<" at the very end: text */
        out_text(h, b, "<", 1);
    } else if (h->state == H_ENT) {
        entity_fail(h, b);
    }
    h->state = H_TEXT;
    h->npend = 0;                           /* no blanks or line breaks at the end */
}

void strip_html(struct buf *b, const char *h, size_t n, bool skip_quotes)
{
    struct html st;
    html_init(&st, skip_quotes);
    html_feed(&st, b, h, n, true);
}
