/* test_login_method.c — the choice of login method shared by IMAP and ManageSieve: the
 * automatic order, what the server offers, and never a secret in clear without TLS off this
 * machine unless allowed; a protocol without IMAP's LOGIN command never picks it. */
#include "check.h"
#include "login_method.h"

/* The server's SASL mechanisms, space separated, in ud. */
static bool offers(const void *ud, const char *mech)
{
    const char *list = ud;
    size_t n = strlen(mech);
    for (const char *p = strstr(list, mech); p; p = strstr(p + 1, mech))
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

static enum session_auth auto_list[SESSION_AUTH_MAX];

static struct login_offer offer(const char *mechs, bool tls, bool loopback)
{
    return (struct login_offer){
        .label = "u@h", .auth = auto_list, .has_password = true, .tls = tls,
        .loopback = loopback, .login_command = true, .offers = offers, .ud = mechs,
    };
}

static int choose(const struct login_offer *o, enum session_auth *a, char *err, size_t len)
{
    err[0] = '\0';
    return login_method_choose(o, 0, a, err, len);
}

static void test_automatic_order(void)
{
    char err[400];
    enum session_auth a;
    struct login_offer o = offer("PLAIN SCRAM-SHA-1 SCRAM-SHA-256", true, false);
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    CHECK_INT(a, SESSION_AUTH_SCRAM_SHA_256);
    o.ud = "PLAIN LOGIN";
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    CHECK_INT(a, SESSION_AUTH_PLAIN);
    /* Without TLS, CRAM-MD5 hides the password where PLAIN would not. */
    o = offer("PLAIN CRAM-MD5", false, true);
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    CHECK_INT(a, SESSION_AUTH_CRAM_MD5);
    /* A token: the bearer mechanisms only. */
    o = offer("PLAIN XOAUTH2", true, false);
    o.has_password = false;
    o.has_token = true;
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    CHECK_INT(a, SESSION_AUTH_XOAUTH2);
}

static void test_never_in_clear(void)
{
    char err[400];
    enum session_auth a;
    struct login_offer o = offer("PLAIN LOGIN", false, false);
    CHECK_INT(choose(&o, &a, err, sizeof err), SESSION_ERR_AUTH);
    CHECK(strstr(err, "u@h: refusing to send the password in clear") != NULL);
    CHECK(strstr(err, "allow_plaintext") != NULL);
    o.loopback = true;                  /* this machine: allowed */
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    o.loopback = false;
    o.allow_plaintext = true;           /* the user says so */
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    CHECK_INT(a, SESSION_AUTH_PLAIN);
    /* LOGINDISABLED: not even to loopback. */
    o = offer("PLAIN", false, true);
    o.login_disabled = true;
    CHECK_INT(choose(&o, &a, err, sizeof err), SESSION_ERR_AUTH);
    CHECK(strstr(err, "LOGINDISABLED") != NULL);
}

static void test_configured_and_protocol(void)
{
    char err[400];
    enum session_auth a;
    enum session_auth want[SESSION_AUTH_MAX] = { SESSION_AUTH_LOGIN };
    struct login_offer o = offer("PLAIN SCRAM-SHA-256", true, false);
    o.auth = want;
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    CHECK_INT(a, SESSION_AUTH_LOGIN);
    /* ManageSieve has no LOGIN command: "login" alone means automatic there. */
    o.login_command = false;
    CHECK_INT(choose(&o, &a, err, sizeof err), 0);
    CHECK_INT(a, SESSION_AUTH_SCRAM_SHA_256);
    o.auth = auto_list;
    o.ud = "";
    CHECK_INT(choose(&o, &a, err, sizeof err), SESSION_ERR_AUTH);
    CHECK(strstr(err, "none of the login methods tried") != NULL);
    CHECK(strstr(err, ", login") == NULL);
    /* One method asked for and not offered: that is the message. */
    enum session_auth scram[SESSION_AUTH_MAX] = { SESSION_AUTH_SCRAM_SHA_1 };
    o.auth = scram;
    CHECK_INT(choose(&o, &a, err, sizeof err), SESSION_ERR_AUTH);
    CHECK_STR(err, "u@h: the server does not offer AUTHENTICATE SCRAM-SHA-1");
}

static void test_after_refusal(void)
{
    enum session_auth next;
    struct login_offer o = offer("SCRAM-SHA-256 PLAIN", true, false);
    CHECK_INT(login_method_after_refusal(&o, SESSION_AUTH_SCRAM_SHA_256, &next), 0);
    CHECK_INT(next, SESSION_AUTH_PLAIN);
    CHECK_INT(login_method_after_refusal(&o, SESSION_AUTH_PLAIN, &next), -1);
    enum session_auth want[SESSION_AUTH_MAX] = { SESSION_AUTH_SCRAM_SHA_256, SESSION_AUTH_PLAIN };
    o.auth = want;                      /* configured: no second guess */
    CHECK_INT(login_method_after_refusal(&o, SESSION_AUTH_SCRAM_SHA_256, &next), -1);
}

int main(void)
{
    RUN(test_automatic_order);
    RUN(test_never_in_clear);
    RUN(test_configured_and_protocol);
    RUN(test_after_refusal);
    return CHECK_DONE();
}
