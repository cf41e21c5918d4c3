/* decode.h — turns parsed response trees into typed structures: FETCH attributes,
 * ENVELOPE, BODYSTRUCTURE, SEARCH/ESEARCH, LIST/LSUB, STATUS, VANISHED.
 * Every decoder allocates from the arena given and returns 0, or -1 with err filled. */
/* Lifetime: decoded strings and values point into the response tree (valid until the next
 * parser_next) or into the arena given; copy what must outlive both. */
#ifndef IMAPSCRIPT_DECODE_H
#define IMAPSCRIPT_DECODE_H

#include "arena.h"
#include "parser.h"

struct imap_address { const char *name, *adl, *mailbox, *host; };   /* NULL for NIL */

struct imap_envelope {
    const char *date, *subject, *in_reply_to, *message_id;           /* NULL for NIL */
    struct imap_address *from, *sender, *reply_to, *to, *cc, *bcc;
    size_t nfrom, nsender, nreply_to, nto, ncc, nbcc;
};

struct imap_body {
    const char *type, *subtype;        /* upper-cased: "TEXT", "PLAIN"; "MULTIPART" for multiparts */
    const char **params;               /* name, value pairs */
    size_t nparams;                    /* pairs */
    const char *id, *description, *encoding;
    uint64_t size, lines;              /* lines for TEXT and MESSAGE/RFC822 */
    struct imap_envelope *envelope;    /* MESSAGE/RFC822 */
    struct imap_body *parts;           /* multipart children, or the one message/rfc822 body */
    size_t nparts;
    /* extension data (NULL/0 when absent) */
    const char *md5, *disposition, *location;
    const char **disposition_params;
    size_t ndisposition_params;
    const char **languages;
    size_t nlanguages;
};

struct imap_fetch_item {
    const char *name;                  /* "UID", "FLAGS", "BODY", "BINARY", ... upper-cased */
    const char *section;               /* "HEADER.FIELDS (SUBJECT FROM)", "" for BODY[], NULL if none */
    int64_t origin;                    /* <n> partial origin, -1 if none */
    const struct imap_value *value;
};

struct imap_fetch {
    uint64_t seq;
    uint64_t uid;                      /* 0 when absent */
    uint64_t modseq;                   /* 0 when absent */
    uint64_t size;                     /* RFC822.SIZE, 0 when absent */
    const char *internaldate;          /* NULL when absent */
    const struct imap_value *flags;    /* the FLAGS list, NULL when absent */
    struct imap_fetch_item *items;     /* every item, including the ones above */
    size_t nitems;
};

struct imap_search {                   /* SEARCH or ESEARCH */
    const char *tag;                   /* ESEARCH (TAG "x"), NULL otherwise */
    bool uid;                          /* ESEARCH ... UID */
    const char *all;                   /* ESEARCH ALL set text, or SEARCH numbers as set text */
    uint64_t min, max, count;          /* ESEARCH MIN/MAX/COUNT (0 when absent) */
    bool has_count;
    uint64_t modseq;
};

struct imap_list_entry {               /* LIST and LSUB */
    const struct imap_value *flags;    /* list of atoms */
    char delimiter;                    /* '\0' for NIL */
    const char *name;                  /* as on the wire (mUTF-7 unless UTF8=ACCEPT) */
};

struct imap_status_data {              /* STATUS name (MESSAGES n ...) ; -1 when absent */
    const char *mailbox;
    int64_t messages, recent, uidnext, uidvalidity, unseen, highestmodseq, size;
};

struct imap_vanished { bool earlier; const char *uids; };

int decode_fetch(const struct imap_response *r, struct arena *a, struct imap_fetch *out,
                 char *err, size_t errlen);
/* The item whose name and section match ("BODY", "HEADER.FIELDS (SUBJECT)"), or NULL. */
const struct imap_fetch_item *fetch_item(const struct imap_fetch *f, const char *name,
                                         const char *section);
int decode_envelope(const struct imap_value *v, struct arena *a, struct imap_envelope *out,
                    char *err, size_t errlen);
int decode_body(const struct imap_value *v, struct arena *a, struct imap_body *out,
                char *err, size_t errlen);
int decode_search(const struct imap_response *r, struct arena *a, struct imap_search *out,
                  char *err, size_t errlen);
int decode_list(const struct imap_response *r, struct arena *a, struct imap_list_entry *out,
                char *err, size_t errlen);
int decode_status(const struct imap_response *r, struct arena *a, struct imap_status_data *out,
                  char *err, size_t errlen);
int decode_vanished(const struct imap_response *r, struct arena *a, struct imap_vanished *out,
                    char *err, size_t errlen);

#endif
