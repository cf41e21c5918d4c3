/* mime.h — mail as text for client-side matching: RFC 2047 header decoding and unfolding, header
 * field lookup in a raw header block (mime_header.c), the UTF-8 text of a raw message's text
 * parts (mime_body.c) and its preview (mime_preview.c). */
#ifndef IMAPSCRIPT_MIME_H
#define IMAPSCRIPT_MIME_H

#include <stdbool.h>
#include <stddef.h>

/* Multipart nesting deeper than this is not looked into (the top-level message is depth 0). */
#define MIME_MAX_DEPTH 16

/* Decodes one header field value value[0..len) (as it stands after the colon, possibly folded)
 * to UTF-8: folds removed (CR and LF dropped), RFC 2047 encoded words (B and Q, any charset
 * iconv knows) decoded, the whitespace between adjacent encoded words dropped and their bytes
 * joined before conversion (so a character split across two words survives), leading and
 * trailing blanks trimmed. Malformed words and words in unknown charsets are kept as they are;
 * bytes that are not UTF-8 are read as Windows-1252; the result is always valid UTF-8 (NUL
 * bytes may appear if the input encodes them). *out is malloc'd, NUL-terminated, freed by the
 * caller; *outlen its length. Returns 0 or -ENOMEM (*out NULL). */
int mime_decode_header(const char *value, size_t len, char **out, size_t *outlen);

/* One header field in a raw header block: name (without the colon and trailing blanks) and raw
 * value (everything after the colon through its continuation lines, line breaks included). */
struct mime_field {
    const char *name, *value;
    size_t namelen, valuelen;
};

/* Iterates over the fields of a raw header block hdr[0..len) (a whole message is fine: the
 * block ends at the first empty line). Start with *pos = 0; each call fills *f with the next
 * field and returns true, or returns false at the end. Lines that are not fields (no colon,
 * stray continuation lines) are skipped. CRLF and bare LF line ends are both accepted. */
bool mime_header_next(const char *hdr, size_t len, size_t *pos, struct mime_field *f);

/* Same, but only fields named name[0..namelen) (ASCII case-insensitive). */
bool mime_header_find(const char *hdr, size_t len, size_t *pos, const char *name,
                      size_t namelen, struct mime_field *f);

/* The text a reader sees in the raw message msg[0..len) (RFC 5322 + MIME): its text/plain
 * parts, or when it has none its text/html parts with tags, scripts and styles removed and
 * entities decoded; attachments (Content-Disposition: attachment) are left out. Parts are
 * decoded from quoted-printable or base64, converted from their charset to UTF-8 (unknown
 * charsets: UTF-8 if valid, else Windows-1252), joined with newlines; line ends become "\n".
 * Multiparts are walked recursively up to MIME_MAX_DEPTH, message/rfc822 parts included.
 * At most max bytes are produced (0: no limit), cut at a character boundary.
 * *out is malloc'd, NUL-terminated, freed by the caller. Returns 0 or -ENOMEM (*out NULL). */
int mime_body_text(const char *msg, size_t len, size_t max, char **out, size_t *outlen);
/* The same, telling whether max cut the text short. */
int mime_body_text_cut(const char *msg, size_t len, size_t max, char **out, size_t *outlen,
                       bool *truncated);

/* The same text from a message given in pieces of any size, in bounded memory. out(ud, html,
 * text, len) gets the text of the text/plain parts (html false) and of the text/html ones
 * (html true) as it is decoded, each kind joined with line breaks as above; the message's text
 * is the plain one when it has a text/plain part (mime_text_plain, known at the end), else the
 * HTML one. out returns false when it wants no more of that kind (no more plain text: nothing
 * more is decoded). first: the first text part alone, as a preview takes it (always as plain).
 * mime_text_new returns NULL when out of memory; feed and end return 0 or -ENOMEM. */
struct mime_text;
typedef bool (*mime_text_fn)(void *ud, bool html, const char *text, size_t len);
struct mime_text *mime_text_new(bool first, mime_text_fn out, void *ud);
int mime_text_feed(struct mime_text *t, const char *data, size_t len);
int mime_text_end(struct mime_text *t);
bool mime_text_plain(const struct mime_text *t);
void mime_text_free(struct mime_text *t);

/* The longest preview mime_preview makes, in characters (RFC 8970 allows 256; Dovecot makes 200). */
#define MIME_PREVIEW_MAX_CHARS 200

/* The preview of the raw message msg[0..len) (or of its beginning), as RFC 8970 servers make
 * one and as Dovecot does: the text of the first text/plain or text/html part that is not an
 * attachment (an HTML one without its <blockquote>s), lines quoted with ">" left out (when
 * there is nothing else, the quoted text after one ">"), blanks and line breaks folded into
 * single spaces, leading and trailing ones dropped, at most MIME_PREVIEW_MAX_CHARS characters;
 * "" when the message has no text. *out is malloc'd, NUL-terminated, freed by the caller.
 * Returns 0 or -ENOMEM. */
int mime_preview(const char *msg, size_t len, char **out, size_t *outlen);

/* One MIME part's body data[0..len) as fetched (BODY[1.2]): its transfer encoding undone
 * (encoding "base64", "quoted-printable", anything else as is) and, when charset is not NULL
 * (a text part), converted from it to UTF-8 ("" or unknown: UTF-8 where valid, else
 * Windows-1252). *out is malloc'd, NUL-terminated, freed by the caller. 0 or -ENOMEM. */
int mime_part_decode(const char *data, size_t len, const char *encoding, const char *charset,
                     char **out, size_t *outlen);

/* A part's transfer encoding ("base64", "quoted-printable", anything else: none) undone as its
 * bytes come, for a part saved as it arrives: *out gets the decoding of in[0..n) (valid until
 * the next call); final: no more input follows. new returns NULL, feed -ENOMEM, when out of
 * memory. */
struct mime_decoder;
struct mime_decoder *mime_decoder_new(const char *encoding);
int mime_decoder_feed(struct mime_decoder *d, const char *in, size_t n, bool final,
                      const char **out, size_t *outlen);
void mime_decoder_free(struct mime_decoder *d);

/* The value of MIME parameter name (ASCII case-insensitive) among n name/value pairs as a
 * BODYSTRUCTURE lists them: RFC 2231 continuations (name*0, name*1*, ...) joined in order,
 * extended values (charset'language'%XX) decoded and converted to UTF-8, a plain value
 * RFC 2047-decoded (mailers write encoded words in quoted file names). *out is malloc'd,
 * NUL-terminated, freed by the caller. Returns 1 (found), 0 (absent) or -ENOMEM. */
int mime_param_get(const char *const *pairs, size_t n, const char *name, char **out,
                   size_t *outlen);

#endif
