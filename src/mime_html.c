/* mime_html.c — the readable text of an HTML part, for matching: tags, scripts, styles and
 * comments dropped, block tags as line breaks, entities decoded, blanks collapsed (and quotes
 * dropped, for previews). */
#include "mime_int.h"

void strip_html(struct buf *b, const char *h, size_t n, bool skip_quotes)
{
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
    size_t start = b->len;
    bool space = true;   /* the last thing written was a blank or line break */
    int quotes = 0;      /* open <blockquote>s, with skip_quotes */
    size_t i = 0;
    while (i < n && !b->full && !b->err) {
        char c = h[i];
        if (c == '<') {
            if (n - i >= 4 && memcmp(h + i, "<!--", 4) == 0) {
                const char *e = memmem(h + i + 4, n - i - 4, "-->", 3);
                i = e ? (size_t)(e - h) + 3 : n;
                continue;
            }
            size_t j = i + 1;
            bool closing = j < n && h[j] == '/';
            if (closing)
                j++;
            size_t name = j;
            while (j < n && ((h[j] >= 'a' && h[j] <= 'z') || (h[j] >= 'A' && h[j] <= 'Z')
                             || (h[j] >= '0' && h[j] <= '9')))
                j++;
            size_t namelen = j - name;
            if (namelen == 0 && !closing && !(j < n && (h[j] == '!' || h[j] == '?'))) {
                buf_addc(b, '<');    /* a lone "<" in text */
                space = false;
                i++;
                continue;
            }
            /* Find the tag's end, stepping over quoted attribute values. */
            char quote = 0;
            for (; j < n; j++) {
                if (quote) {
                    if (h[j] == quote)
                        quote = 0;
                } else if (h[j] == '"' || h[j] == '\'') {
                    quote = h[j];
                } else if (h[j] == '>') {
                    break;
                }
            }
            i = j < n ? j + 1 : n;
            if (!closing && (eq_nocase(h + name, namelen, "script")
                             || eq_nocase(h + name, namelen, "style"))) {
                bool script = eq_nocase(h + name, namelen, "script");
                const char *endtag = script ? "</script" : "</style";
                size_t el = strlen(endtag), k = i;
                while (k + el <= n && !eq_nocase(h + k, el, endtag))
                    k++;
                if (k + el > n) {
                    i = n;
                    continue;
                }
                const char *gt = memchr(h + k, '>', n - k);
                i = gt ? (size_t)(gt - h) + 1 : n;
                continue;
            }
            if (skip_quotes && eq_nocase(h + name, namelen, "blockquote"))
                quotes += closing ? (quotes > 0 ? -1 : 0) : 1;
            bool block = false;
            for (size_t k = 0; blocks[k]; k++)
                if (eq_nocase(h + name, namelen, blocks[k]))
                    block = true;
            if (block) {
                /* No blanks at line ends; at most one empty line in a row. */
                while (b->len > start && b->p[b->len - 1] == ' ')
                    b->len--;
                if (!(b->len - start >= 2 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\n')
                    && b->len > start)
                    buf_addc(b, '\n');
                space = true;
            } else if ((eq_nocase(h + name, namelen, "td") || eq_nocase(h + name, namelen, "th"))
                       && !space) {
                buf_addc(b, ' ');
                space = true;
            }
            continue;
        }
        if (quotes > 0) {      /* quoted text: skipped up to the next tag */
            const char *lt = memchr(h + i, '<', n - i);
            i = lt ? (size_t)(lt - h) : n;
            continue;
        }
        if (c == '&') {
            size_t j = i + 1;
            while (j < n && j - i < 12 && h[j] != ';' && h[j] != '&' && h[j] != '<'
                   && !is_wsp(h[j]))
                j++;
            uint32_t cp = 0;
            if (j < n && h[j] == ';' && j > i + 1) {
                const char *e = h + i + 1;
                size_t elen = j - i - 1;
                if (e[0] == '#') {
                    bool hex = elen > 1 && (e[1] == 'x' || e[1] == 'X');
                    size_t k = hex ? 2 : 1;
                    uint32_t v = 0;
                    bool ok = k < elen;
                    for (; k < elen && ok; k++) {
                        int d = hex ? hexval(e[k]) : (e[k] >= '0' && e[k] <= '9' ? e[k] - '0' : -1);
                        if (d < 0 || v > 0x10ffff)
                            ok = false;
                        else
                            v = v * (hex ? 16 : 10) + (uint32_t)d;
                    }
                    if (ok)
                        cp = v ? v : 0xfffd;
                } else {
                    for (size_t k = 0; entities[k].name; k++)
                        if (strlen(entities[k].name) == elen
                            && memcmp(entities[k].name, e, elen) == 0)
                            cp = entities[k].cp;
                }
            }
            if (cp) {
                buf_add_cp(b, cp);
                space = cp == ' ';
                i = j + 1;
            } else {
                buf_addc(b, '&');
                space = false;
                i++;
            }
            continue;
        }
        if (is_wsp(c) || c == '\r' || c == '\n') {
            if (!space) {
                buf_addc(b, ' ');
                space = true;
            }
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && h[j] != '<' && h[j] != '&' && !is_wsp(h[j]) && h[j] != '\r' && h[j] != '\n')
            j++;
        buf_add(b, h + i, j - i);
        space = false;
        i = j;
    }
    while (b->len > start && (b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\n'))
        b->len--;
}
