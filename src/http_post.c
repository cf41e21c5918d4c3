/* http_post.c — the HTTPS form POST of http_post.h, with libcurl: it verifies the peer and its
 * name by default; we restrict it to HTTPS, forbid redirects and bound the answer. */
#include "http_post.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define ANSWER_MAX (1024 * 1024)

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct http_answer *a = ud;
    size_t n = size * nmemb;
    if (a->len + n > ANSWER_MAX)
        return 0;   /* curl fails the transfer: CURLE_WRITE_ERROR */
    char *b = malloc(a->len + n + 1);
    if (!b)
        return 0;
    if (a->body) {
        memcpy(b, a->body, a->len);
        explicit_bzero(a->body, a->len);
        free(a->body);
    }
    memcpy(b + a->len, p, n);
    a->len += n;
    b[a->len] = '\0';
    a->body = b;
    return n;
}

void http_answer_free(struct http_answer *a)
{
    if (a->body) {
        explicit_bzero(a->body, a->len);
        free(a->body);
    }
    memset(a, 0, sizeof *a);
}

/* name=value&... with both escaped; malloc'd, the caller wipes and frees. */
static char *form_encode(CURL *h, const struct http_field *f, size_t n, size_t *len)
{
    size_t cap = 1, used = 0;
    char *out = NULL;
    for (size_t i = 0; i < n; i++) {
        char *k = curl_easy_escape(h, f[i].name, 0), *v = curl_easy_escape(h, f[i].value, 0);
        size_t need = (k ? strlen(k) : 0) + (v ? strlen(v) : 0) + 2;
        char *grown = k && v ? malloc(cap + need) : NULL;
        if (grown) {
            if (out)
                memcpy(grown, out, used);
            used += (size_t)sprintf(grown + used, "%s%s=%s", used ? "&" : "", k, v);
        }
        if (out) {
            explicit_bzero(out, cap);
            free(out);
        }
        out = grown;
        cap += need;
        if (v)
            explicit_bzero(v, strlen(v));
        curl_free(k);
        curl_free(v);
        if (!out)
            return NULL;
    }
    if (!out)
        out = calloc(1, 1);
    *len = used;
    return out;
}

int http_post_form(const char *url, const struct http_field *fields, size_t n, const char *ca_file,
                   long timeout_s, struct http_answer *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "%s: only https:// URLs are allowed", url);
        return HTTP_ERR_USAGE;
    }
    static int inited;
    if (!inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl failed to initialise");
            return HTTP_ERR_NOMEM;
        }
        inited = 1;
    }
    CURL *h = curl_easy_init();
    size_t blen = 0;
    char *body = h ? form_encode(h, fields, n, &blen) : NULL;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    if (!h || !body || !hdrs) {
        if (body) {
            explicit_bzero(body, blen);
            free(body);
        }
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        snprintf(err, errlen, "out of memory");
        return HTTP_ERR_NOMEM;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 30L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout_s > 0 && timeout_s < 30 ? timeout_s : 30L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "imapscript/" IMAPSCRIPT_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)blen);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(h);
    int code = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        if (!out->body)
            out->body = calloc(1, 1);
        if (!out->body) {
            snprintf(err, errlen, "out of memory");
            code = HTTP_ERR_NOMEM;
        }
    } else {
        bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
                   rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM;
        snprintf(err, errlen, "POST %s: %s", url, rc == CURLE_WRITE_ERROR ?
                 "the answer is larger than 1 MiB" : cerr[0] ? cerr : curl_easy_strerror(rc));
        code = tls ? HTTP_ERR_TLS : HTTP_ERR_NET;
        http_answer_free(out);
    }
    explicit_bzero(body, blen);
    free(body);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return code;
}
