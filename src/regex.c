/* regex.c — PCRE2 (8-bit) compiled once, JIT when it can, matched with one reusable match data.
 * Subjects that are not valid UTF-8 fall back to a byte-mode compilation instead of failing.
 * A text too big to hold is searched piece by piece with partial matching (PCRE2_PARTIAL_HARD):
 * only the start of a match that may go on, and the look-behind before it, are kept. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* A regex whose match overflows the default JIT stack gets its own, growing up to this; a
 * pattern that needs more runs in the interpreter, bounded by PCRE2's heap limit. */
#define REGEX_JIT_STACK_MIN (32 * 1024)
#define REGEX_JIT_STACK_MAX (4 * 1024 * 1024)

struct regex {
    pcre2_code *code;             /* as compiled: UTF mode when the pattern is valid UTF-8 */
    pcre2_code *bytes;            /* byte-mode twin for invalid-UTF-8 subjects, made on need */
    bool bytes_failed;            /* the pattern has no byte-mode form (e.g. \x{100}) */
    pcre2_match_data *md;         /* shared by both: they have the same groups */
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    char *pattern;                /* kept for the byte-mode compilation */
    size_t len;
    uint32_t options;             /* without UTF/UCP */
    unsigned groups;
    bool utf, jit;
    bool jit_partial;             /* JIT code for partial matching made (regex_stream) */
};

static bool jit_compile(pcre2_code *code)
{
    return pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

struct regex *regex_compile(const char *pattern, size_t len, unsigned flags,
                            char *err, size_t errlen)
{
    struct regex *re = calloc(1, sizeof *re);
    if (!re)
        goto nomem;
    re->options = 0;
    if (flags & REGEX_CASELESS)
        re->options |= PCRE2_CASELESS;
    if (flags & REGEX_MULTILINE)
        re->options |= PCRE2_MULTILINE;
    if (flags & REGEX_DOTALL)
        re->options |= PCRE2_DOTALL;
    if (flags & REGEX_EXTENDED)
        re->options |= PCRE2_EXTENDED;
    re->utf = utf8_valid(pattern, len);
    uint32_t opts = re->options;
    if (re->utf)
        opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK;

    int code;
    PCRE2_SIZE at;
    /* pcre2_compile wants a non-NULL pointer even for the empty pattern. */
    re->code = pcre2_compile((PCRE2_SPTR)(len ? pattern : ""), len, opts, &code, &at, NULL);
    if (!re->code) {
        if (code == PCRE2_ERROR_NOMEMORY) {
            regex_free(re);
            goto nomem;
        }
        char msg[256];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
        snprintf(err, errlen, "regex: %s at offset %zu", msg, (size_t)at);
        regex_free(re);
        return NULL;
    }
    uint32_t groups = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    re->groups = groups;
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    re->mctx = pcre2_match_context_create(NULL);
    re->pattern = malloc(len + 1);
    if (!re->md || !re->mctx || !re->pattern) {
        regex_free(re);
        goto nomem;
    }
    for (size_t i = 0; i < len; i++)
        re->pattern[i] = pattern[i];
    re->pattern[len] = '\0';
    re->len = len;
    re->jit = jit_compile(re->code);
    return re;

nomem:
    snprintf(err, errlen, "regex: out of memory");
    return NULL;
}

void regex_free(struct regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    pcre2_code_free(re->bytes);
    pcre2_match_data_free(re->md);
    pcre2_match_context_free(re->mctx);
    pcre2_jit_stack_free(re->jstack);
    free(re->pattern);
    free(re);
}

unsigned regex_groups(const struct regex *re)
{
    return re->groups;
}

bool regex_jit(const struct regex *re)
{
    return re->jit;
}

/* The code to run on a subject that is not valid UTF-8, NULL when there is none. */
static pcre2_code *bytes_code(struct regex *re)
{
    if (!re->utf)
        return re->code;
    if (re->bytes || re->bytes_failed)
        return re->bytes;
    int code;
    PCRE2_SIZE at;
    re->bytes = pcre2_compile((PCRE2_SPTR)re->pattern, re->len, re->options, &code, &at, NULL);
    if (!re->bytes) {
        /* Out of memory is not remembered: a later match may try again. */
        re->bytes_failed = code != PCRE2_ERROR_NOMEMORY;
        return NULL;
    }
    jit_compile(re->bytes);
    return re->bytes;
}

int regex_match(struct regex *re, const char *subject, size_t len, size_t *ov, size_t ovpairs)
{
    pcre2_code *code = re->code;
    uint32_t opts = 0;
    if (!subject)
        subject = "";
    if (re->utf) {
        /* utf8_valid accepts exactly what PCRE2's own check does (RFC 3629), so skipping
         * PCRE2's check is safe. */
        if (utf8_valid(subject, len)) {
            opts = PCRE2_NO_UTF_CHECK;
        } else {
            code = bytes_code(re);
            if (!code)
                return re->bytes_failed ? 0 : PCRE2_ERROR_NOMEMORY;
        }
    }
    int rc = pcre2_match(code, (PCRE2_SPTR)subject, len, 0, opts, re->md, re->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !re->jstack) {
        /* The default 32 KiB JIT stack on the machine stack was too small: give this regex a
         * private, bounded one (made only now, as most patterns never need it) and retry. */
        re->jstack = pcre2_jit_stack_create(REGEX_JIT_STACK_MIN, REGEX_JIT_STACK_MAX, NULL);
        if (re->jstack) {
            pcre2_jit_stack_assign(re->mctx, NULL, re->jstack);
            rc = pcre2_match(code, (PCRE2_SPTR)subject, len, 0, opts, re->md, re->mctx);
        }
    }
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)   /* the interpreter keeps its frames on the heap */
        rc = pcre2_match(code, (PCRE2_SPTR)subject, len, 0, opts | PCRE2_NO_JIT, re->md,
                         re->mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0)
        return rc;
    if (ov) {
        const PCRE2_SIZE *o = pcre2_get_ovector_pointer(re->md);
        size_t have = rc == 0 ? pcre2_get_ovector_count(re->md) : (size_t)rc;
        for (size_t i = 0; i < ovpairs; i++) {
            ov[2 * i] = i < have ? (size_t)o[2 * i] : REGEX_UNSET;
            ov[2 * i + 1] = i < have ? (size_t)o[2 * i + 1] : REGEX_UNSET;
        }
    }
    return 1;
}

void regex_error_text(int rc, char *buf, size_t buflen)
{
    char msg[256];
    if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof msg) < 0)
        snprintf(msg, sizeof msg, "error %d", rc);
    snprintf(buf, buflen, "regex: %s", msg);
}

/* ---- a text in pieces -------------------------------------------------------------------- */

struct regex_stream {
    struct regex *re;
    pcre2_code *code;             /* re->code, or its byte-mode twin once a piece was not UTF-8 */
    char *buf;                    /* kept text, then the new piece */
    size_t len, cap;
    size_t from;                  /* where the next search starts in buf */
    bool at_start;                /* buf[0] is the text's first byte */
    bool partial;                 /* the last search ended in a partial match */
    bool cut;                     /* a partial match outgrew the window and was let go */
    bool hopeless;                /* the text is not UTF-8 and the pattern has no byte form */
    int matched;                  /* 1 once matched, < 0 after an error */
    size_t lookbehind;            /* characters kept before the search start */
    char tail[4];                 /* a character split between pieces */
    size_t ntail;
};

struct regex_stream *regex_stream_new(struct regex *re)
{
    struct regex_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->re = re;
    st->code = re->code;
    st->at_start = true;
    uint32_t lb = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_MAXLOOKBEHIND, &lb);
    st->lookbehind = lb ? lb : 1;   /* one at least: \b, and ^ or $ under "m", look at it */
    if (re->jit && !re->jit_partial)
        re->jit_partial = pcre2_jit_compile(re->code, PCRE2_JIT_PARTIAL_HARD) == 0;
    return st;
}

void regex_stream_free(struct regex_stream *st)
{
    if (!st)
        return;
    free(st->buf);
    free(st);
}

bool regex_stream_cut(const struct regex_stream *st)
{
    return st->cut;
}

/* Start of the n-th character before byte i of buf (UTF-8 aware in UTF mode). */
static size_t back_chars(const struct regex_stream *st, size_t i, size_t n)
{
    bool utf = st->code == st->re->code && st->re->utf;
    while (n-- > 0 && i > 0) {
        i--;
        while (utf && i > 0 && ((unsigned char)st->buf[i] & 0xc0) == 0x80)
            i--;
    }
    return i;
}

/* One search of buf from st->from: 1 matched, 0 none (or partial: st->partial), < 0 error. */
static int stream_search(struct regex_stream *st, bool final)
{
    struct regex *re = st->re;
    uint32_t opts = (st->at_start ? 0 : PCRE2_NOTBOL) | (final ? 0 : PCRE2_PARTIAL_HARD);
    if (st->code == re->code && re->utf)
        opts |= PCRE2_NO_UTF_CHECK;
    PCRE2_SPTR subject = (PCRE2_SPTR)(st->buf ? st->buf : "");
    for (;;) {
        int rc = pcre2_match(st->code, subject, st->len, st->from, opts, re->md, re->mctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !re->jstack) {
            re->jstack = pcre2_jit_stack_create(REGEX_JIT_STACK_MIN, REGEX_JIT_STACK_MAX, NULL);
            if (re->jstack) {
                pcre2_jit_stack_assign(re->mctx, NULL, re->jstack);
                continue;
            }
        }
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(st->code, subject, st->len, st->from, opts | PCRE2_NO_JIT,
                             re->md, re->mctx);
        st->partial = rc == PCRE2_ERROR_PARTIAL;
        if (rc >= 0)
            return 1;
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        if (!st->partial)
            return rc;
        size_t start = (size_t)pcre2_get_ovector_pointer(re->md)[0];
        if (st->len - start <= REGEX_STREAM_WINDOW)
            return 0;
        /* A possible match longer than the window: let it go, look for one starting in the
         * window's second half (which the next pieces may still complete). */
        st->cut = true;
        st->from = st->len - REGEX_STREAM_WINDOW / 2;
        if (st->from <= start)
            st->from = start + 1;
        while (st->from < st->len && st->code == re->code && re->utf &&
               ((unsigned char)st->buf[st->from] & 0xc0) == 0x80)
            st->from++;
    }
}

/* Keeps what the next search needs: from a partial match's start, else the end, with the
 * look-behind before it. */
static void stream_keep(struct regex_stream *st)
{
    size_t start = st->partial ? (size_t)pcre2_get_ovector_pointer(st->re->md)[0] : st->len;
    size_t keep = back_chars(st, start, st->lookbehind);
    if (keep > 0) {
        memmove(st->buf, st->buf + keep, st->len - keep);
        st->len -= keep;
        st->at_start = false;
    }
    st->from = start - keep;
}

/* Appends p[0..n) to the kept text. */
static int stream_add(struct regex_stream *st, const char *p, size_t n)
{
    if (st->len + n > st->cap) {
        size_t cap = st->cap ? st->cap : 65536;
        while (cap < st->len + n)
            cap *= 2;
        char *nb = realloc(st->buf, cap);
        if (!nb)
            return PCRE2_ERROR_NOMEMORY;
        st->buf = nb;
        st->cap = cap;
    }
    if (n)
        memcpy(st->buf + st->len, p, n);
    st->len += n;
    return 0;
}

/* New text that is not UTF-8 (mail is not always) switches a UTF-mode stream to bytes, as
 * regex_match does. False when that failed (st->matched says why; hopeless when the pattern
 * has no byte form: nothing matches then). */
static bool stream_utf8_ok(struct regex_stream *st, const char *p, size_t n)
{
    if (st->code != st->re->code || !st->re->utf || utf8_valid(p, n))
        return true;
    st->code = bytes_code(st->re);
    if (st->code)
        return true;
    st->code = st->re->code;
    st->hopeless = st->re->bytes_failed;
    st->matched = st->hopeless ? 0 : PCRE2_ERROR_NOMEMORY;
    return st->hopeless;
}

int regex_stream_feed(struct regex_stream *st, const char *s, size_t n)
{
    if (st->matched)
        return st->matched;
    size_t before = st->len;
    int rc = stream_add(st, st->tail, st->ntail);
    st->ntail = 0;
    if (!rc)
        rc = stream_add(st, s, n);
    if (!rc && st->re->utf && st->len > before) {  /* a character cut at the end waits */
        st->ntail = utf8_cut_tail(st->buf + before, st->len - before);
        st->len -= st->ntail;
        if (st->ntail)
            memcpy(st->tail, st->buf + st->len, st->ntail);
    }
    if (!rc && st->len > before && !stream_utf8_ok(st, st->buf + before, st->len - before))
        return st->matched;
    if (st->hopeless)
        return 0;
    if (!rc)
        rc = stream_search(st, false);
    if (rc)
        return st->matched = rc;
    stream_keep(st);
    return 0;
}

int regex_stream_end(struct regex_stream *st)
{
    if (st->matched)
        return st->matched;
    int rc = stream_add(st, st->tail, st->ntail);
    st->ntail = 0;
    if (!rc && st->len && !stream_utf8_ok(st, st->buf, st->len))
        return st->matched;
    if (st->hopeless)
        return 0;
    if (!rc)
        rc = stream_search(st, true);
    st->matched = rc;
    return rc;
}
