/* date.h — dates as mail carries them: RFC 5322 Date: fields (with the obsolete and broken forms
 * real mail has) and IMAP INTERNALDATE, read into UTC seconds and a zone, and written back. */
#ifndef IMAPSCRIPT_DATE_H
#define IMAPSCRIPT_DATE_H

#include <stddef.h>
#include <stdint.h>

/* "17-Jul-1996 02:44:25 -0700": the length of an IMAP date-time without its quotes. */
#define DATE_INTERNAL_LEN 26

/* Reads a date from s (NUL-terminated; what follows the zone is ignored):
 *   RFC 5322   "Tue, 1 Jul 2003 10:52:37 +0200", and its obsolete forms: any day name or none,
 *              two- and three-digit years (00-49 are 2000-2049, 50-999 add 1900), missing
 *              seconds, comments and folding anywhere, full month names, named zones (UT,
 *              GMT, UTC, EST/EDT, CST/CDT, MST/MDT, PST/PDT; military letters and unknown
 *              names count as +0000, as RFC 5322 says), "+hh:mm", "GMT+0200", no zone at all
 *   RFC 850    "Tuesday, 01-Jul-03 10:52:37 GMT"
 *   INTERNALDATE " 1-Jul-2003 10:52:37 +0200"
 *   asctime    "Tue Jul  1 10:52:37 2003" (+0000 unless a zone follows)
 * *utc gets the seconds since 1970-01-01 UTC, *zone (when not NULL) the zone in minutes east of
 * UTC. Returns 0, or -1 when s is none of these (nothing written). */
int date_parse(const char *s, int64_t *utc, int *zone);

/* Writes t (seconds since the epoch, UTC) as it reads in zone (minutes east of UTC) as an IMAP
 * date-time without quotes, "17-Jul-1996 02:44:25 -0700" (day padded with a space), into
 * out[0..size) (size > DATE_INTERNAL_LEN). Returns 0, or -1 for a zone beyond +-23:59, a year
 * outside 1..9999 or a short buffer. */
int date_format_internal(int64_t t, int zone, char *out, size_t size);

/* The local zone's offset from UTC at time t, in minutes east (the TZ environment variable and
 * the system's zone files decide). Returns 0, or -1 when the C library cannot tell. */
int date_local_zone(int64_t t, int *zone);

#endif
