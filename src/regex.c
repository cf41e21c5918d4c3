/* regex.c — PCRE2 (8-bit) compiled once, JIT when it can, matched with one reusable match data.
 * Subjects that are not valid UTF-8 fall back to a byte-mode compilation instead of failing. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

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
