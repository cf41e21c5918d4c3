/* collate.c — the keys of client-side SORT and THREAD (RFC 5256): i;unicode-casemap (RFC 5051)
 * through ICU, and the base subject. Dates are date.c's. */
#include "collate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

/* ---- i;unicode-casemap ----------------------------------------------------------------------- */

int collate_casemap(const char *s, size_t len, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (len > INT32_MAX / 4)
        return -ENOMEM;
    UErrorCode e = U_ZERO_ERROR;
    int32_t n16 = 0;
    /* UTF-8 to UTF-16, bad bytes as U+FFFD. */
    u_strFromUTF8WithSub(NULL, 0, &n16, s, (int32_t)len, 0xFFFD, NULL, &e);
    if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e))
        return -EINVAL;
    UChar *u = malloc(((size_t)n16 + 1) * sizeof *u);
    UChar *t = malloc(((size_t)n16 * 2 + 2) * sizeof *t);   /* titlecase may leave the BMP */
    int rc = -ENOMEM;
    UChar *d = NULL;
    char *o = NULL;
    if (!u || !t)
        goto done;
    e = U_ZERO_ERROR;
    u_strFromUTF8WithSub(u, n16 + 1, NULL, s, (int32_t)len, 0xFFFD, NULL, &e);
    if (U_FAILURE(e))
        goto bad;
    int32_t tn = 0;
    for (int32_t i = 0; i < n16;) {
        UChar32 c;
        U16_NEXT(u, i, n16, c);
        c = u_totitle(c);
        U16_APPEND_UNSAFE(t, tn, c);
    }
    const UNormalizer2 *nfkd = unorm2_getNFKDInstance(&e);
    if (U_FAILURE(e))
        goto bad;
    int32_t dn = unorm2_normalize(nfkd, t, tn, NULL, 0, &e);
    if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e))
        goto bad;
    e = U_ZERO_ERROR;
    if (!(d = malloc(((size_t)dn + 1) * sizeof *d)))
        goto done;
    unorm2_normalize(nfkd, t, tn, d, dn + 1, &e);
    if (U_FAILURE(e))
        goto bad;
    int32_t n8 = 0;
    u_strToUTF8(NULL, 0, &n8, d, dn, &e);
    if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e))
        goto bad;
    e = U_ZERO_ERROR;
    if (!(o = malloc((size_t)n8 + 1)))
        goto done;
    u_strToUTF8(o, n8 + 1, NULL, d, dn, &e);
    if (U_FAILURE(e))
        goto bad;
    o[n8] = '\0';
    *out = o;
    *outlen = (size_t)n8;
    o = NULL;
    rc = 0;
    goto done;
bad:
    rc = -EINVAL;
done:
    free(u);
    free(t);
    free(d);
    free(o);
    return rc;
}

/* ---- base subject (RFC 5256 section 2.1) ----------------------------------------------------- */

static bool wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Length of a subj-blob ("[" *BLOBCHAR "]" *WSP) at s, or 0. */
static size_t blob_len(const char *s)
{
    if (*s != '[')
        return 0;
    size_t i = 1;
    while (s[i] && s[i] != '[' && s[i] != ']')
        i++;
    if (s[i] != ']')
        return 0;
    i++;
    while (s[i] == ' ')
        i++;
    return i;
}

/* Length of a subj-leader at s ((*subj-blob subj-refwd) / WSP), or 0. Input is casemapped:
 * "RE", "FW", "FWD" are upper case. */
static size_t leader_len(const char *s)
{
    if (*s == ' ')
        return 1;
    size_t i = 0, b;
    while ((b = blob_len(s + i)) > 0)
        i += b;
    if (!strncmp(s + i, "RE", 2))
        i += 2;
    else if (!strncmp(s + i, "FWD", 3))
        i += 3;
    else if (!strncmp(s + i, "FW", 2))
        i += 2;
    else
        return 0;
    while (s[i] == ' ')
        i++;
    i += blob_len(s + i);
    return s[i] == ':' ? i + 1 : 0;
}

int collate_base_subject(const char *s, size_t len, char **out, size_t *outlen, int *is_reply)
{
    char *m;
    size_t ml;
    *is_reply = 0;
    int rc = collate_casemap(s, len, &m, &ml);
    if (rc < 0)
        return rc;
    /* (1) blanks packed to single spaces */
    size_t k = 0;
    for (size_t i = 0; i < ml; i++) {
        char c = wsp(m[i]) ? ' ' : m[i];
        if (c == ' ' && (k == 0 || m[k - 1] == ' '))
            continue;
        m[k++] = c;
    }
    m[k] = '\0';
    char *p = m;
    for (;;) {
        /* (2) trailers: "(FWD)" and blanks */
        size_t n = strlen(p);
        for (;;) {
            if (n && p[n - 1] == ' ') {
                n--;
            } else if (n >= 5 && !strncmp(p + n - 5, "(FWD)", 5)) {
                n -= 5;
                *is_reply = 1;
            } else {
                break;
            }
        }
        p[n] = '\0';
        /* (3)-(5) leaders, and blobs that leave something behind */
        for (bool again = true; again;) {
            again = false;
            size_t l;
            while ((l = leader_len(p)) > 0) {
                if (p[0] != ' ')
                    *is_reply = 1;
                p += l;
                again = true;
            }
            l = blob_len(p);
            if (l > 0 && p[l] != '\0') {
                p += l;
                again = true;
            }
        }
        /* (6) "[FWD: ... ]" */
        n = strlen(p);
        if (n >= 6 && !strncmp(p, "[FWD:", 5) && p[n - 1] == ']') {
            p[n - 1] = '\0';
            p += 5;
            *is_reply = 1;
            continue;
        }
        break;
    }
    size_t n = strlen(p);
    memmove(m, p, n + 1);
    *out = m;
    *outlen = n;
    return 0;
}
