/* date.c — Date: fields and INTERNALDATE read into UTC seconds and a zone, IMAP date-times
 * written: a cursor over the text, lenient where real mail is sloppy, and calendar arithmetic. */
#include "date.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const month_names[12] = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
};

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), H. Hinnant's days_from_civil. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date z days after 1970-01-01, Hinnant's civil_from_days. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Skips blanks, line breaks and (nested, possibly unterminated) comments. */
static const char *skip_cfws(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p != '(')
            return p;
        int depth = 0;
        do {
            if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            else if (*p == '\\' && p[1])
                p++;
            p++;
        } while (*p && depth > 0);
    }
}

/* Reads 1..maxdigits digits at *pp into *out; returns how many, or -1 (nothing read). */
static int number(const char **pp, int maxdigits, int *out)
{
    const char *p = *pp;
    int n = 0, k = 0;
    while (isdigit((unsigned char)*p) && k < maxdigits) {
        n = n * 10 + (*p++ - '0');
        k++;
    }
    if (!k)
        return -1;
    *pp = p;
    *out = n;
    return k;
}

static size_t word_len(const char *p)
{
    size_t n = 0;
    while (isalpha((unsigned char)p[n]))
        n++;
    return n;
}

/* The month (1..12) the word p[0..n) names: its first three letters or more of its name, any
 * case ("Jul", "JULY"); 0 for anything else. */
static int month_of(const char *p, size_t n)
{
    for (int i = 0; n >= 3 && i < 12; i++)
        if (n <= strlen(month_names[i]) && strncasecmp(p, month_names[i], n) == 0)
            return i + 1;
    return 0;
}

/* Past a month name and the separator after it ("Jul-", "Jul. ", "July "). */
static const char *skip_month(const char *p, size_t n)
{
    p += n;
    if (*p == '.')
        p++;
    return *p == '-' ? p + 1 : skip_cfws(p);
}

/* h[h]:mm[:ss[.fraction]] at *pp. Returns 0, or -1 when there is no valid time there. */
static int parse_time(const char **pp, int *hh, int *mm, int *ss)
{
    const char *p = *pp;
    *ss = 0;
    if (number(&p, 2, hh) < 0 || *p != ':')
        return -1;
    p++;
    if (number(&p, 2, mm) < 0)
        return -1;
    if (*p == ':') {
        p++;
        if (number(&p, 2, ss) < 0)
            return -1;
        if (*p == '.' && isdigit((unsigned char)p[1]))   /* fractions of a second */
            for (p++; isdigit((unsigned char)*p); p++) {}
    }
    if (*hh > 23 || *mm > 59 || *ss > 60)
        return -1;
    *pp = p;
    return 0;
}

/* A numeric zone at p ("+0200", "-05:00", "+02"; alone or after GMT) in minutes east; 0 when
 * malformed. *end is set past what was read. */
static int numeric_zone(const char *p, const char **end)
{
    int sign = *p == '-' ? -1 : 1, hh = 0, mm = 0;
    const char *q = p + 1;
    int k = number(&q, 4, &hh);
    if (k == 4) {
        mm = hh % 100;
        hh /= 100;
    } else if (k > 0 && k < 3 && *q == ':') {
        q++;
        if (number(&q, 2, &mm) != 2)
            k = -1;
    } else if (k == 3) {
        k = -1;
    }
    *end = k < 0 ? p + 1 : q;
    if (k < 0 || hh > 23 || mm > 59)
        return 0;
    return sign * (hh * 60 + mm);
}

/* The zone at p in minutes east of UTC: numeric, or one of RFC 5322's names; military letters,
 * unknown names and no zone at all count as 0 ("-0000": the zone is not known). *end is set
 * past the zone. */
static int parse_zone(const char *p, const char **end)
{
    static const struct { const char *name; int hours; } names[] = {
        { "UT", 0 }, { "GMT", 0 }, { "UTC", 0 }, { "EST", -5 }, { "EDT", -4 }, { "CST", -6 },
        { "CDT", -5 }, { "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
    };
    p = skip_cfws(p);
    *end = p;
    if (*p == '+' || *p == '-')
        return numeric_zone(p, end);
    size_t n = word_len(p);
    *end = p + n;
    for (size_t i = 0; n && i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) != n || strncasecmp(p, names[i].name, n) != 0)
            continue;
        if (names[i].hours == 0 && (p[n] == '+' || p[n] == '-'))
            return numeric_zone(p + n, end);          /* "GMT+0200" */
        return names[i].hours * 60;
    }
    return 0;
}

int date_parse(const char *s, int64_t *utc, int *zone)
{
    const char *p = skip_cfws(s);
    size_t n = word_len(p);
    if (n && !month_of(p, n)) {          /* a day name, whatever it says */
        p = skip_cfws(p + n);
        if (*p == ',')
            p = skip_cfws(p + 1);
        n = word_len(p);
    }
    int day, month, year, digits, hh, mm, ss, z;
    const char *end;
    if (n) {                             /* asctime: "Jul  1 10:52:37 [PDT] 2003" */
        month = month_of(p, n);
        p = skip_month(p, n);
        if (!month || number(&p, 2, &day) < 0)
            return -1;
        p = skip_cfws(p);
        if (parse_time(&p, &hh, &mm, &ss) < 0)
            return -1;
        p = skip_cfws(p);
        bool zone_first = !isdigit((unsigned char)*p);
        z = zone_first ? parse_zone(p, &p) : 0;
        p = skip_cfws(p);
        if ((digits = number(&p, 4, &year)) < 0)
            return -1;
        if (!zone_first)
            z = parse_zone(p, &end);
    } else {                             /* "1 Jul 2003 10:52:37 +0200", "01-Jul-2003 ..." */
        if (number(&p, 2, &day) < 0)
            return -1;
        p = *p == '-' ? p + 1 : skip_cfws(p);
        n = word_len(p);
        if (!(month = month_of(p, n)))
            return -1;
        p = skip_month(p, n);
        if ((digits = number(&p, 4, &year)) < 0)
            return -1;
        p = skip_cfws(p);
        if (parse_time(&p, &hh, &mm, &ss) < 0)
            return -1;
        z = parse_zone(p, &end);
    }
    if (digits == 2)
        year += year < 50 ? 2000 : 1900;
    else if (digits == 3)
        year += 1900;
    if (day < 1 || day > 31 || year < 1)
        return -1;
    *utc = days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss -
           (int64_t)z * 60;
    if (zone)
        *zone = z;
    return 0;
}

int date_format_internal(int64_t t, int zone, char *out, size_t size)
{
    if (zone <= -24 * 60 || zone >= 24 * 60 || size <= DATE_INTERNAL_LEN)
        return -1;
    /* Far outside 1..9999 the arithmetic below could overflow: refuse early. */
    if (t < -62135596800LL - 86400 || t > 253402300799LL + 86400)
        return -1;
    int64_t local = t + (int64_t)zone * 60;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400, year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 1 || year > 9999)
        return -1;
    int az = zone < 0 ? -zone : zone;
    snprintf(out, size, "%2d-%.3s-%04d %02d:%02d:%02d %c%02d%02d", day, month_names[month - 1],
             (int)year, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
             zone < 0 ? '-' : '+', az / 60, az % 60);
    return 0;
}

int date_local_zone(int64_t t, int *zone)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((int64_t)tt != t || !localtime_r(&tt, &tm))
        return -1;
    *zone = (int)(tm.tm_gmtoff / 60);
    return 0;
}
