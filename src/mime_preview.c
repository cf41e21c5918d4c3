/* mime_preview.c — a message's preview as RFC 8970 servers make it (and as Dovecot does): its
 * readable text without quoted lines, blanks folded to single spaces, cut to 200 characters. */
#include <stdint.h>
#include <stdlib.h>

#include "mime_int.h"

/* Source text read from the message: a preview needs only its beginning. */
#define PREVIEW_TEXT_MAX (64 * 1024)

struct preview {
    struct buf out;
    size_t chars;             /* characters in out */
    bool stop;                /* MIME_PREVIEW_MAX_CHARS reached */
};

/* Appends n bytes (one character) to p, unless that would pass the limit. */
static void emit(struct preview *p, const char *s, size_t n)
{
    if (p->chars >= MIME_PREVIEW_MAX_CHARS) {
        p->stop = true;
        return;
    }
    buf_add(&p->out, s, n);
    p->chars++;
}

/* Appends the lines of text[0..n) (UTF-8, "\n" line ends) that are quoted (start with ">",
 * which is dropped) or, with quoted false, the others, blanks and line breaks folded into one
 * space between words. */
static void add_lines(struct preview *p, const char *text, size_t n, bool quoted)
{
    bool line_start = true, in_quote = false, space = false, any = false;
    for (size_t i = 0; i < n && !p->stop && !p->out.err; i++) {
        char c = text[i];
        if (line_start) {
            line_start = false;
            in_quote = c == '>';
            if (in_quote && quoted)
                continue;
        }
        if (c == '\n') {
            line_start = true;
            space = true;
            continue;
        }
        if (in_quote != quoted)
            continue;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            space = true;
            continue;
        }
        if (space && any)
            emit(p, " ", 1);
        space = false;
        any = true;
        size_t k = 1;           /* the whole character: its continuation bytes with it */
        while (i + k < n && ((unsigned char)text[i + k] & 0xc0) == 0x80)
            k++;
        emit(p, text + i, k);
        i += k - 1;
    }
}

int mime_preview(const char *msg, size_t len, char **out, size_t *outlen)
{
    char *text;
    size_t tlen;
    int rc = mime_first_text(msg, len, PREVIEW_TEXT_MAX, &text, &tlen);
    if (rc < 0)
        return rc;
    struct preview p = { .chars = 0, .stop = false };
    buf_init(&p.out, SIZE_MAX);
    add_lines(&p, text, tlen, false);
    if (p.out.len == 0 && !p.out.err) {
        /* Nothing but quoted text: that, marked with one ">". */
        emit(&p, ">", 1);
        add_lines(&p, text, tlen, true);
        if (p.out.len == 1)
            p.out.len = 0;
    }
    free(text);
    if (p.out.len > 0 && p.out.p[p.out.len - 1] == ' ')
        p.out.len--;            /* the cut fell right after a word */
    return buf_finish(&p.out, out, outlen);
}
