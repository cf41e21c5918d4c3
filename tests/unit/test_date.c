/* test_date.c — dates as real mail writes them (RFC 5322, its obsolete forms, RFC 850, asctime,
 * INTERNALDATE) read into UTC seconds and a zone, and IMAP date-times written back. */
#include "check.h"
#include "date.h"

#include <stdlib.h>
#include <time.h>

/* Date: values seen in the wild, with the UTC seconds and zone each means (worked out with
 * Python's datetime, not with the code under test). */
static const struct { const char *text; long long utc; int zone; } real_world[] = {
    { "Tue, 1 Jul 2003 10:52:37 +0200", 1057049557LL, 120 },
    { "Thu, 13 Feb 2020 09:05:03 +0100 (CET)", 1581581103LL, 60 },
    { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777LL, 0 },
    { "Sunday, 06-Nov-94 08:49:37 GMT", 784111777LL, 0 },               /* RFC 850 */
    { "Sun Nov  6 08:49:37 1994", 784111777LL, 0 },                     /* asctime */
    { "Thu Feb 13 09:05:03 PST 2020", 1581613503LL, -480 },             /* date(1) */
    { "13 Feb 2020 09:05 -0500", 1581602700LL, -300 },                  /* no day, no seconds */
    { "Thu, 13 Feb 2020 9:05:03 +0100", 1581581103LL, 60 },
    { "Thu,13 Feb 2020 09:05:03 +0100", 1581581103LL, 60 },
    { "Thu, 13 Feb 2020 09:05:03 +01:00", 1581581103LL, 60 },
    { "Thu, 13 Feb 2020 09:05:03 GMT+0100", 1581581103LL, 60 },
    { "Thu, 13 Feb 20 09:05:03 EST", 1581602703LL, -300 },              /* two-digit years */
    { "Sat, 13 Feb 99 09:05:03 EDT", 918911103LL, -240 },
    { "1 Jul 03 01:52:37 PDT", 1057049557LL, -420 },
    { "Thu, 13 Feb 120 09:05:03 CDT", 1581602703LL, -300 },             /* year - 1900 */
    { "Thu, 13 February 2020 09:05:03 MDT", 1581606303LL, -360 },
    { "Thu, 13 Feb 2020 09:05:03.123 +0530", 1581564903LL, 330 },
    { "  Thu,  13  Feb  2020  09:05:03  -0330  ", 1581597303LL, -210 },
    { "Thu, 13 Feb 2020\r\n 09:05:03 UT", 1581584703LL, 0 },             /* folded */
    { "Thu (Thursday), 13 (day) Feb (month) 2020 09:05:03 (time) +0100 (CET)", 1581581103LL, 60 },
    { "Tue (c), 1 (x) Jul 2003 08:52 GMT", 1057049520LL, 0 },
    { "Thu, 13 Feb 2020 09:05:03 CEST", 1581584703LL, 0 },              /* unknown name: -0000 */
    { "Thu, 13 Feb 2020 09:05:03 A", 1581584703LL, 0 },                 /* military: -0000 */
    { "29 Feb 2024 12:00:00 Z", 1709208000LL, 0 },
    { "Thu, 13 Feb 2020 09:05:03", 1581584703LL, 0 },                   /* no zone */
    { "Thu, 13 Feb 2020 09:05:03 -0000", 1581584703LL, 0 },
    { "Wed, 02 Oct 2002 13:00:00 +9999", 1033563600LL, 0 },             /* no such zone */
    { "wed, 2 oct 2002 08:00:00 pdt", 1033570800LL, -420 },
    { "Mon, 31 Dec 2035 23:59:60 +0000", 2082758400LL, 0 },             /* leap second */
    { "Fri, 1 Jan 1960 00:00:00 MST", -315594000LL, -420 },
    { "1 Jan 1970 00:00:00 +0000", 0LL, 0 },
    { "17-Jul-1996 02:44:25 -0700", 837596665LL, -420 },                /* INTERNALDATE */
    { " 7-Jul-1996 02:44:25 +0000", 836707465LL, 0 },
};

static void test_real_world(void)
{
    for (size_t i = 0; i < sizeof real_world / sizeof real_world[0]; i++) {
        int64_t t = -1;
        int zone = 12345;
        check_current = real_world[i].text;
        CHECK_INT(date_parse(real_world[i].text, &t, &zone), 0);
        CHECK_INT(t, real_world[i].utc);
        CHECK_INT(zone, real_world[i].zone);
    }
}

static void test_not_dates(void)
{
    static const char *const bad[] = {
        "", "yesterday", "1 Foo 2003 10:00 +0000", "1 Jul 2003", "32 Jul 2003 10:00 +0000",
        "0 Jul 2003 10:00 +0000", "1 Jul 2003 24:00 +0000", "1 Jul 2003 10:60 +0000",
        "1 Jul 2003 10: +0000", "1 Ju 2003 10:00 +0000", "Jul 2003 10:00", "(unterminated",
        "Tue, 1 Jul 0000 10:00:00 +0000", "Tue Jul 1 2003", "2003-07-01 10:52:37",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        int zone = 7;
        check_current = bad[i];
        CHECK(date_parse(bad[i], &t, &zone) < 0);
        CHECK(t == 42 && zone == 7);
    }
    int64_t t;
    CHECK(date_parse("1 Jul 2003 10:00 +0000", &t, NULL) == 0);    /* the zone is optional */
}

static const char *fmt(int64_t t, int zone)
{
    static char buf[64];
    if (date_format_internal(t, zone, buf, sizeof buf) < 0)
        return "(error)";
    return buf;
}

static void test_format(void)
{
    CHECK_STR(fmt(837596665, -420), "17-Jul-1996 02:44:25 -0700");
    CHECK_STR(fmt(836707465, 0), " 7-Jul-1996 02:44:25 +0000");
    CHECK_STR(fmt(0, 330), " 1-Jan-1970 05:30:00 +0530");
    CHECK_STR(fmt(0, -59), "31-Dec-1969 23:01:00 -0059");
    CHECK_STR(fmt(-315594000, -420), " 1-Jan-1960 00:00:00 -0700");
    CHECK_STR(fmt(1709208000, 0), "29-Feb-2024 12:00:00 +0000");
    CHECK_STR(fmt(253402300799LL, 0), "31-Dec-9999 23:59:59 +0000");
    CHECK_STR(fmt(-62135596800LL, 0), " 1-Jan-0001 00:00:00 +0000");
    CHECK_STR(fmt(253402300800LL, 0), "(error)");
    CHECK_STR(fmt(-62135596801LL, 0), "(error)");
    CHECK_STR(fmt(0, 24 * 60), "(error)");
    CHECK_STR(fmt(0, -24 * 60), "(error)");
    char small[DATE_INTERNAL_LEN];
    CHECK(date_format_internal(0, 0, small, sizeof small) < 0);
    /* Every real-world date written in its own zone reads back the same. */
    for (size_t i = 0; i < sizeof real_world / sizeof real_world[0]; i++) {
        int64_t t;
        int zone;
        CHECK(date_parse(fmt(real_world[i].utc, real_world[i].zone), &t, &zone) == 0);
        CHECK(t == real_world[i].utc && zone == real_world[i].zone);
    }
}

static void test_local_zone(void)
{
    int zone = 99;
    setenv("TZ", "UTC0", 1);
    tzset();
    CHECK(date_local_zone(0, &zone) == 0 && zone == 0);
    setenv("TZ", "<+0530>-5:30", 1);
    tzset();
    CHECK(date_local_zone(0, &zone) == 0 && zone == 330);
    /* POSIX rules, no zone files needed: US Eastern, daylight saving from March to November. */
    setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
    tzset();
    CHECK(date_local_zone(1581584703, &zone) == 0 && zone == -300);     /* February */
    CHECK(date_local_zone(1057049557, &zone) == 0 && zone == -240);     /* July */
}

int main(void)
{
    RUN(test_real_world);
    RUN(test_not_dates);
    RUN(test_format);
    RUN(test_local_zone);
    return CHECK_DONE();
}
