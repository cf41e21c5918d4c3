/* test_sasl.c — the SASL client mechanisms: SCRAM and CRAM-MD5 against GNU SASL's server side
 * (a forged server signature must fail), the exact bytes of PLAIN, LOGIN, XOAUTH2 and
 * OAUTHBEARER, and the bearer mechanisms' failure report. */
#include "check.h"
#include "sasl.h"

#include <stdlib.h>

#include <gsasl.h>

static const char *server_password = "pencil \xc3\xa9t\xc3\xa9";

static int server_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
    (void)ctx;
    if (prop == GSASL_PASSWORD)
        return gsasl_property_set(sctx, GSASL_PASSWORD, server_password);
    return GSASL_NO_CALLBACK;
}

/* Decodes base64 into a static buffer (NUL-terminated; raw bytes may hold \1). */
static const char *unb64(const char *in, size_t *n)
{
    static char buf[4096];
    char *out = NULL;
    size_t len = 0;
    if (gsasl_base64_from(in, strlen(in), &out, &len) != GSASL_OK || len >= sizeof buf)
        return "ERR";
    memcpy(buf, out, len);
    buf[len] = '\0';
    gsasl_free(out);
    if (n)
        *n = len;
    return buf;
}

static struct sasl *start(enum sasl_mech m, const char *user, const char *secret)
{
    struct sasl_credentials c = { .user = user, .secret = secret, .secret_len = strlen(secret),
                                  .host = "imap.example.org", .port = 993 };
    struct sasl *x = NULL;
    char err[300];
    CHECK_INT(sasl_new(m, &c, &x, err, sizeof err), 0);
    return x;
}

/* Runs m with the client's password against GNU SASL's server; tamper flips a byte of the
 * server's last message. Returns the client's last sasl_step code; *server_rc the server's. */
static int exchange(enum sasl_mech m, const char *password, bool tamper, int *server_rc,
                    bool *complete)
{
    Gsasl *ctx;
    Gsasl_session *srv;
    gsasl_init(&ctx);
    gsasl_callback_set(ctx, server_cb);
    CHECK_INT(gsasl_server_start(ctx, sasl_mech_name(m), &srv), GSASL_OK);
    struct sasl *x = start(m, "alice", password);
    char err[300] = "", *resp = NULL, *chal = NULL;
    size_t rlen;
    int rc = 0, src = GSASL_NEEDS_MORE;
    if (sasl_mech_client_first(m))
        rc = sasl_step(x, NULL, &resp, &rlen, err, sizeof err);
    else
        resp = strdup("");
    for (int round = 0; rc >= 0 && round < 6; round++) {
        src = gsasl_step64(srv, resp, &chal);
        free(resp);
        resp = NULL;
        if (src != GSASL_NEEDS_MORE && src != GSASL_OK)
            break;
        if (src == GSASL_OK && (!chal || !*chal)) {
            gsasl_free(chal);
            break;
        }
        if (tamper && src == GSASL_OK) {
            size_t n;
            char *raw = (char *)unb64(chal, &n);
            raw[2] = raw[2] == 'A' ? 'B' : 'A';   /* "v=X..." */
            char *b = NULL;
            size_t bl;
            gsasl_base64_to(raw, n, &b, &bl);
            gsasl_free(chal);
            chal = b;
        }
        rc = sasl_step(x, chal, &resp, &rlen, err, sizeof err);
        gsasl_free(chal);
        chal = NULL;
        if (src == GSASL_OK)
            break;
    }
    free(resp);
    *server_rc = src;
    *complete = sasl_complete(x);
    if (rc < 0)
        CHECK(err[0] != '\0');
    sasl_free(x);
    gsasl_finish(srv);
    gsasl_done(ctx);
    return rc;
}

static void test_scram_and_cram_against_gsasl(void)
{
    const enum sasl_mech ms[] = { SASL_SCRAM_SHA_256, SASL_SCRAM_SHA_1, SASL_CRAM_MD5 };
    for (size_t i = 0; i < 3; i++) {
        int src;
        bool complete;
        CHECK_INT(exchange(ms[i], server_password, false, &src, &complete), SASL_STEP_DONE);
        CHECK_INT(src, GSASL_OK);
        CHECK(complete);
        /* A wrong password: the server refuses it. */
        exchange(ms[i], "wrong", false, &src, &complete);
        CHECK(src != GSASL_OK);
    }
}

static void test_scram_forged_server_signature(void)
{
    const enum sasl_mech ms[] = { SASL_SCRAM_SHA_256, SASL_SCRAM_SHA_1 };
    for (size_t i = 0; i < 2; i++) {
        int src;
        bool complete;
        CHECK_INT(exchange(ms[i], server_password, true, &src, &complete), SASL_ERR_PROOF);
        CHECK(!complete);
    }
}

static void test_scram_garbage_challenge(void)
{
    struct sasl *x = start(SASL_SCRAM_SHA_256, "alice", "pw");
    char err[300] = "", *resp;
    size_t n;
    CHECK_INT(sasl_step(x, NULL, &resp, &n, err, sizeof err), SASL_STEP_MORE);
    CHECK(strncmp(unb64(resp, NULL), "n,,n=alice,r=", 13) == 0);
    free(resp);
    CHECK(sasl_step(x, "bm9uc2Vuc2U=", &resp, &n, err, sizeof err) < 0);   /* "nonsense" */
    CHECK(err[0] != '\0');
    CHECK(!sasl_complete(x));
    sasl_free(x);
}

static void test_plain_and_login_bytes(void)
{
    struct sasl *x = start(SASL_PLAIN, "alice", "s3cret");
    char err[300], *resp;
    size_t n, rn;
    CHECK_INT(sasl_step(x, NULL, &resp, &n, err, sizeof err), SASL_STEP_DONE);
    const char *raw = unb64(resp, &rn);
    CHECK_INT(rn, 13);
    CHECK(memcmp(raw, "\0alice\0s3cret", 13) == 0);
    CHECK(sasl_complete(x));
    free(resp);
    sasl_free(x);

    x = start(SASL_LOGIN, "alice", "s3cret");
    CHECK(!sasl_mech_client_first(SASL_LOGIN));
    CHECK(sasl_step(x, NULL, &resp, &n, err, sizeof err) < 0);
    CHECK_INT(sasl_step(x, "VXNlcm5hbWU6", &resp, &n, err, sizeof err), SASL_STEP_MORE);
    CHECK_STR(unb64(resp, NULL), "alice");
    free(resp);
    CHECK_INT(sasl_step(x, "UGFzc3dvcmQ6", &resp, &n, err, sizeof err), SASL_STEP_DONE);
    CHECK_STR(unb64(resp, NULL), "s3cret");
    CHECK(sasl_complete(x));
    free(resp);
    sasl_free(x);
}

static void test_bearer_framing(void)
{
    char err[300], *resp;
    size_t n, rn;
    struct sasl *x = start(SASL_XOAUTH2, "alice@example.org", "ya29.tok-en_~+/=");
    CHECK_INT(sasl_step(x, NULL, &resp, &n, err, sizeof err), SASL_STEP_DONE);
    const char *raw = unb64(resp, &rn);
    const char want[] = "user=alice@example.org\1auth=Bearer ya29.tok-en_~+/=\1\1";
    CHECK_INT(rn, sizeof want - 1);
    CHECK(memcmp(raw, want, sizeof want - 1) == 0);
    free(resp);
    CHECK(sasl_server_error(x) == NULL);
    /* The failure report: kept for the message, answered with an empty response. */
    CHECK_INT(sasl_step(x, "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=", &resp, &n, err,
                        sizeof err), SASL_STEP_DONE);
    CHECK_STR(resp, "");
    CHECK_STR(sasl_server_error(x), "{\"status\":\"401\",\"schemes\":\"bearer\"}");
    free(resp);
    CHECK(sasl_step(x, "", &resp, &n, err, sizeof err) < 0);
    sasl_free(x);

    x = start(SASL_OAUTHBEARER, "a,b=c", "tok");
    CHECK_INT(sasl_step(x, NULL, &resp, &n, err, sizeof err), SASL_STEP_DONE);
    raw = unb64(resp, &rn);
    const char want2[] = "n,a=a=2Cb=3Dc,\1host=imap.example.org\1port=993\1auth=Bearer tok\1\1";
    CHECK_INT(rn, sizeof want2 - 1);
    CHECK(memcmp(raw, want2, sizeof want2 - 1) == 0);
    free(resp);
    CHECK_INT(sasl_step(x, "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=", &resp, &n, err, sizeof err),
              SASL_STEP_DONE);
    CHECK_STR(resp, "AQ==");
    CHECK_STR(sasl_server_error(x), "{\"status\":\"invalid_token\"}");
    free(resp);
    sasl_free(x);
}

static void test_bad_credentials(void)
{
    struct sasl_credentials c = { .user = "alice", .secret = "two words", .secret_len = 9 };
    struct sasl *x = NULL;
    char err[300] = "";
    CHECK_INT(sasl_new(SASL_XOAUTH2, &c, &x, err, sizeof err), SASL_ERR_CREDENTIAL);
    CHECK(x == NULL);
    CHECK(strstr(err, "two words") == NULL);
    c.secret = "";
    c.secret_len = 0;
    CHECK_INT(sasl_new(SASL_OAUTHBEARER, &c, &x, err, sizeof err), SASL_ERR_CREDENTIAL);
    c.user = "al\1ce";
    c.secret = "tok";
    c.secret_len = 3;
    CHECK_INT(sasl_new(SASL_XOAUTH2, &c, &x, err, sizeof err), SASL_ERR_CREDENTIAL);
    CHECK(sasl_mech_cleartext(SASL_PLAIN) && sasl_mech_cleartext(SASL_XOAUTH2));
    CHECK(!sasl_mech_cleartext(SASL_SCRAM_SHA_256) && !sasl_mech_cleartext(SASL_CRAM_MD5));
}

int main(void)
{
    RUN(test_scram_and_cram_against_gsasl);
    RUN(test_scram_forged_server_signature);
    RUN(test_scram_garbage_challenge);
    RUN(test_plain_and_login_bytes);
    RUN(test_bearer_framing);
    RUN(test_bad_credentials);
    return CHECK_DONE();
}
