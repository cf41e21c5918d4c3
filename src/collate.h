/* collate.h — what SORT and THREAD compare (RFC 5256): the i;unicode-casemap form of a string
 * (RFC 5051: titlecase, then decomposed, as Dovecot does) and the base subject. Sent dates are
 * read by date.h. */
#ifndef IMAPSCRIPT_COLLATE_H
#define IMAPSCRIPT_COLLATE_H

#include <stddef.h>
#include <stdint.h>

/* s[0..len) (UTF-8; invalid bytes become U+FFFD) in i;unicode-casemap form: each character
 * titlecased (simple mapping), then the whole compatibility-decomposed (NFKD). Two strings
 * compare as their forms do, byte by byte. *out is malloc'd, NUL-terminated, freed by the
 * caller. Returns 0, -ENOMEM, or -EINVAL when the Unicode library fails. */
int collate_casemap(const char *s, size_t len, char **out, size_t *outlen);

/* The RFC 5256 base subject of a decoded (UTF-8) subject, in casemapped form: blanks packed,
 * trailing "(fwd)", leading "Re:", "Fw:", "Fwd:" with their [blobs], other leading [blobs]
 * and a "[fwd: ...]" wrapper removed, repeatedly. *is_reply is set when something of that
 * kind was removed (THREAD ORDEREDSUBJECT does not care; REFERENCES does). *out as above. */
int collate_base_subject(const char *s, size_t len, char **out, size_t *outlen, int *is_reply);

#endif
