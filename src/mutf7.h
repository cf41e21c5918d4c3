/* mutf7.h — modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3), to and from UTF-8.
 * Strict both ways: malformed input is an error with a message, never passed through. */
#ifndef IMAPSCRIPT_MUTF7_H
#define IMAPSCRIPT_MUTF7_H

#include <stddef.h>

/* Encodes UTF-8 utf8[0..len) as modified UTF-7. On success *out is a malloc'd NUL-terminated
 * string the caller frees, and 0 is returned. Errors: -EINVAL (invalid UTF-8: bad or truncated
 * sequence, overlong form, surrogate code point, > U+10FFFF, or a NUL byte; err names the byte
 * offset), -ENOMEM. *out is NULL on error. */
int mutf7_encode(const char *utf8, size_t len, char **out, char *err, size_t errlen);

/* Decodes modified UTF-7 mutf7[0..len) to UTF-8. Same ownership and return values. Rejected:
 * bytes outside 0x20..0x7e, "&" run not closed by "-", characters outside the modified base64
 * alphabet, non-zero pad bits or a partial UTF-16 unit, an encoded run holding a printable ASCII
 * character (0x20..0x7e), an empty run other than "&-", two adjacent runs ("&AGE-&AGE-"),
 * unpaired UTF-16 surrogates, and a decoded NUL. */
int mutf7_decode(const char *mutf7, size_t len, char **out, char *err, size_t errlen);

/* Checks that s[0..len) is valid UTF-8 (no overlong forms, surrogates, code points above
 * U+10FFFF or NUL bytes). Returns 0, or -EINVAL with a message naming the offset in err. */
int mutf7_utf8_check(const char *s, size_t len, char *err, size_t errlen);

#endif
