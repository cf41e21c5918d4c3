/* mime_param.c — MIME parameter values as a reader means them: RFC 2231 continuations
 * (name*0=, name*1*=) joined, extended values (charset'lang'%XX) decoded to UTF-8, and RFC 2047
 * encoded words in plain values (as many mailers write file names) decoded too. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "mime_int.h"

#define PARAM_MAX_SEGMENTS 100

/* The parameter name's suffix after its base: -1 none, else the continuation number (0 for a
 * bare "*"); *ext is set for a trailing "*" (percent-encoded value). false if base differs. */
static bool param_split(const char *pname, const char *name, int *num, bool *ext)
{
    size_t bl = strlen(name), pl = strlen(pname);
    const char *star = memchr(pname, '*', pl);
    size_t base = star ? (size_t)(star - pname) : pl;
    if (!eq_nocase(pname, base, name) || base != bl)
        return false;
    *num = -1;
    *ext = false;
    if (!star)
        return true;
    const char *p = star + 1;
    if (*p == '\0') {           /* name*=charset'lang'value */
        *num = 0;
        *ext = true;
        return true;
    }
    int n = 0;
    for (; *p >= '0' && *p <= '9' && n < 10000; p++)
        n = n * 10 + (*p - '0');
    if (p == star + 1)
        return false;
    if (*p == '*') {
        *ext = true;
        p++;
    }
    if (*p != '\0')
        return false;
    *num = n;
    return true;
}

/* Appends value with %XX decoded. */
static void add_percent(struct buf *b, const char *v)
{
    for (size_t i = 0; v[i]; i++) {
        int hi, lo;
        if (v[i] == '%' && (hi = hexval(v[i + 1])) >= 0 && (lo = hexval(v[i + 2])) >= 0) {
            buf_addc(b, (char)(hi << 4 | lo));
            i += 2;
        } else {
            buf_addc(b, v[i]);
        }
    }
}

int mime_param_get(const char *const *pairs, size_t n, const char *name, char **out,
                   size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    const char *plain = NULL, *seg[PARAM_MAX_SEGMENTS] = { 0 };
    bool segext[PARAM_MAX_SEGMENTS] = { false }, any = false;
    for (size_t i = 0; i < n; i++) {
        int num;
        bool ext;
        if (!pairs[2 * i] || !pairs[2 * i + 1] || !param_split(pairs[2 * i], name, &num, &ext))
            continue;
        if (num < 0) {
            plain = plain ? plain : pairs[2 * i + 1];
        } else if (num < PARAM_MAX_SEGMENTS && !seg[num]) {
            seg[num] = pairs[2 * i + 1];
            segext[num] = ext;
            any = true;
        }
    }
    if (!any && !plain)
        return 0;
    if (!any || !seg[0]) {      /* a plain value (or continuations without a first one) */
        if (!plain)
            return 0;
        int rc = mime_decode_header(plain, strlen(plain), out, outlen);
        return rc < 0 ? rc : 1;
    }
    /* RFC 2231: the first extended segment starts with charset'language'. */
    const char *charset = NULL, *first = seg[0];
    size_t cslen = 0;
    if (segext[0]) {
        const char *q1 = strchr(first, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
        if (q2) {
            charset = first;
            cslen = (size_t)(q1 - first);
            first = q2 + 1;
        }
    }
    struct buf raw, conv;
    buf_init(&raw, SIZE_MAX);
    buf_init(&conv, SIZE_MAX);
    for (int k = 0; k < PARAM_MAX_SEGMENTS && seg[k]; k++) {
        const char *v = k == 0 ? first : seg[k];
        if (segext[k])
            add_percent(&raw, v);
        else
            buf_add(&raw, v, strlen(v));
    }
    const char *bytes = raw.p ? raw.p : "";
    if (!cslen || !add_charset(&conv, charset, cslen, bytes, raw.len))
        add_sanitized(&conv, bytes, raw.len);
    if (raw.err)
        conv.err = raw.err;
    char *tmp = NULL;
    size_t tl;
    buf_finish(&raw, &tmp, &tl);
    free(tmp);
    int rc = buf_finish(&conv, out, outlen);
    return rc < 0 ? rc : 1;
}
