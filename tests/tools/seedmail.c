/* seedmail.c — writes N realistic RFC 5322 messages straight into a Maildir folder for the
 * test bed: deterministic for a seed, with the sizes, charsets, MIME shapes and flags real
 * mailboxes have, each file named and timestamped so Dovecot takes it as is. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ----------------------------------------------------------------------------- */

static void fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("seedmail: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- growable byte buffer --------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        fatal("out of memory (%zu bytes)", cap);
    b->p = p;
    b->cap = cap;
}

static void buf_put(struct buf *b, const void *s, size_t n)
{
    if (n == 0)
        return;
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }
static void buf_putc(struct buf *b, char c) { buf_put(b, &c, 1); }

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatal("vsnprintf failed");
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- deterministic randomness: splitmix64, one stream per (seed, message, purpose) ------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_stream(uint64_t seed, uint64_t i, uint64_t purpose)
{
    uint64_t s = seed * 0x100000001b3ULL ^ (i * 0x9e3779b97f4a7c15ULL) ^ (purpose << 56);
    rng_next(&s);
    return s;
}

static unsigned rng_below(uint64_t *s, unsigned n) { return (unsigned)(rng_next(s) % n); }
#define PICK(s, arr) (arr)[rng_below((s), (unsigned)(sizeof(arr) / sizeof((arr)[0])))]

/* ---- the pools -------------------------------------------------------------------------- */

/* Text in a legacy charset, with its UTF-8 form for the manifest (bytes checked by decoding). */
struct mime_text {
    const char *charset;
    char enc;           /* 'B' or 'Q' */
    const char *raw;    /* bytes in charset */
    const char *utf8;
};

static const struct mime_text SUBJECTS_8BIT[] = {
    { "UTF-8", 'B', "Gr\xc3\xbc\xc3\x9f""e aus M\xc3\xbcnchen \xe2\x80\x93 \xc3\x9c""bersicht f\xc3\xbcr M\xc3\xa4rz",
      "Gr\xc3\xbc\xc3\x9f""e aus M\xc3\xbcnchen \xe2\x80\x93 \xc3\x9c""bersicht f\xc3\xbcr M\xc3\xa4rz" },
    { "UTF-8", 'Q', "Caf\xc3\xa9 cr\xc3\xa8me, r\xc3\xa9sum\xc3\xa9 & na\xc3\xafvet\xc3\xa9",
      "Caf\xc3\xa9 cr\xc3\xa8me, r\xc3\xa9sum\xc3\xa9 & na\xc3\xafvet\xc3\xa9" },
    { "UTF-8", 'B', "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88 \xf0\x9f\x8e\x89",
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88 \xf0\x9f\x8e\x89" },
    { "UTF-8", 'Q', "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac: \xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1",
      "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac: \xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1" },
    { "ISO-8859-1", 'Q', "R\xe9union \xe0 Gen\xe8ve: ordre du jour",
      "R\xc3\xa9union \xc3\xa0 Gen\xc3\xa8ve: ordre du jour" },
    { "ISO-8859-1", 'Q', "Sm\xf6rg\xe5sbord f\xf6r alla",
      "Sm\xc3\xb6rg\xc3\xa5sbord f\xc3\xb6r alla" },
    { "ISO-8859-15", 'Q', "Prix sp\xe9""cial: 50 \xa4 seulement",
      "Prix sp\xc3\xa9""cial: 50 \xe2\x82\xac seulement" },
    { "KOI8-R", 'B', "\xf0\xd2\xc9\xd7\xc5\xd4, \xcb\xc1\xcb \xc4\xc5\xcc\xc1? \xef\xd4\xde\xa3\xd4 \xda\xc1 \xce\xc5\xc4\xc5\xcc\xc0",
      "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xba\xd0\xb0\xd0\xba \xd0\xb4\xd0\xb5\xd0\xbb\xd0\xb0? \xd0\x9e\xd1\x82\xd1\x87\xd1\x91\xd1\x82 \xd0\xb7\xd0\xb0 \xd0\xbd\xd0\xb5\xd0\xb4\xd0\xb5\xd0\xbb\xd1\x8e" },
    { "windows-1252", 'Q', "\x93Smart quotes\x94 \x96 and a \x80 sign\x85",
      "\xe2\x80\x9cSmart quotes\xe2\x80\x9d \xe2\x80\x93 and a \xe2\x82\xac sign\xe2\x80\xa6" },
    { "windows-1252", 'B', "\xc4rger mit \x84""Anf\xfchrungszeichen\x93",
      "\xc3\x84rger mit \xe2\x80\x9e""Anf\xc3\xbchrungszeichen\xe2\x80\x9c" },
};

/* Two words in different charsets side by side: decoders must drop the space between them. */
static const struct mime_text PAIR_FIRST = { "ISO-8859-1", 'Q', "Caf\xe9 ", "Caf\xc3\xa9 " };
static const struct mime_text PAIR_SECOND = { "KOI8-R", 'B', "\xf0\xd2\xc9\xd7\xc5\xd4",
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" };

static const struct mime_text NAMES_8BIT[] = {
    { "UTF-8", 'Q', "J\xc3\xbcrgen M\xc3\xbcller", "J\xc3\xbcrgen M\xc3\xbcller" },
    { "ISO-8859-1", 'Q', "Ren\xe9""e Fran\xe7ois", "Ren\xc3\xa9""e Fran\xc3\xa7ois" },
    { "KOI8-R", 'B', "\xe4\xcd\xc9\xd4\xd2\xc9\xca \xe9\xd7\xc1\xce\xcf\xd7",
      "\xd0\x94\xd0\xbc\xd0\xb8\xd1\x82\xd1\x80\xd0\xb8\xd0\xb9 \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2" },
    { "UTF-8", 'B', "Jos\xc3\xa9 N\xc3\xba\xc3\xb1""ez", "Jos\xc3\xa9 N\xc3\xba\xc3\xb1""ez" },
    { "windows-1252", 'Q', "Zo\xeb \xc6""bel\xf8", "Zo\xc3\xab \xc3\x86""bel\xc3\xb8" },
};
static const char *const NAMES_8BIT_ADDR[] = {
    "juergen.mueller@uni-example.de", "renee.francois@example.fr", "dmitry.ivanov@example.ru",
    "jose.nunez@example.es", "zoe.aebelo@example.dk",
};

static const char *const FIRST[] = {
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Wendy",
    "Yusuf", "Priya", "Chen", "Fatima",
};
static const char *const LAST[] = {
    "Smith", "Jones", "Nguyen", "Garcia", "Okafor", "Schmidt", "Rossi", "Tanaka", "Kowalski",
    "O'Brien", "Larsen", "Haddad", "Silva", "Novak", "Patel", "Cohen",
};
static const char *const DOMAINS[] = {
    "example.com", "example.org", "mail.example.net", "uni-example.de", "example.co.uk",
    "corp.example", "lists.example.org", "example.jp",
};

struct mailing_list {
    const char *id, *name, *post;
};
static const struct mailing_list LISTS[] = {
    { "lua-l.lists.lua.org", "Lua mailing list", "lua-l@lists.lua.org" },
    { "dovecot.dovecot.org", "Dovecot Mailing List", "dovecot@dovecot.org" },
    { "debian-devel.lists.debian.org", "Debian development", "debian-devel@lists.debian.org" },
    { "imapscript-dev.lists.seed.example", "imapscript development", "imapscript-dev@lists.seed.example" },
};

static const char *const TOPICS[] = {
    "quarterly report", "build failure on arm64", "meeting notes", "the release schedule",
    "coroutines and the C API", "IMAP IDLE timeouts", "package transition", "server migration",
    "lunch on Friday", "invoice 2023-117", "your account", "LuaJIT compatibility",
    "Maildir locking", "the new logo", "travel plans", "code review",
};
static const char *const SUBJECT_FORMS[] = {
    "Question about %s", "Update on %s", "Notes: %s", "%s", "Re-thinking %s",
    "Problem with %s", "Reminder: %s", "Draft proposal for %s", "FYI %s", "Help needed with %s",
};
static const char *const SUBSYS[] = { "parser", "session", "transport", "lua", "docs", "tests", "msgset", "auth" };
static const char *const PATCH_WHAT[] = {
    "fix off-by-one in literal length", "handle NIL in ENVELOPE", "avoid quadratic copy",
    "add COMPRESS=DEFLATE support", "check for NULL before free", "document the retry policy",
    "use the arena for response trees", "reject 8-bit atoms",
};
static const char *const WORDS[] = {
    "the", "server", "message", "mailbox", "and", "we", "should", "probably", "consider", "a",
    "new", "approach", "to", "this", "problem", "because", "it", "keeps", "coming", "back", "when",
    "users", "run", "scripts", "from", "cron", "every", "night", "I", "think", "that", "is", "fine",
    "but", "let", "us", "measure", "first", "latency", "matters", "more", "than", "throughput",
    "here", "please", "see", "attached", "patch", "for", "details", "thanks", "regards", "data",
    "release", "tomorrow", "test", "suite", "passes", "on", "my", "machine", "which", "surprised",
    "everyone", "including", "me", "in", "of", "with", "without", "config", "flag", "folder",
};
static const char *const WORDS_8BIT[] = {   /* UTF-8, for 8bit and quoted-printable bodies */
    "gr\xc3\xbc\xc3\x9f""e", "caf\xc3\xa9", "na\xc3\xafve", "\xc3\xa9t\xc3\xa9", "M\xc3\xbcnchen",
    "\xe2\x82\xac""42", "\xe2\x80\x9cquoted\xe2\x80\x9d", "se\xc3\xb1or", "\xc3\xa5r", "\xd0\xbc\xd0\xb8\xd1\x80",
};
static const char *const ZONES[] = { "+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900", "-0300", "+1000" };
static const int ZONE_MIN[] = { 0, 60, 120, -300, -480, 330, 540, -180, 600 };

/* ---- header helpers ----------------------------------------------------------------------- */

/* Writes header tokens, folding before a token that would pass column 76. */
struct header {
    struct buf *b;
    size_t col;
    int first;
};

static void header_begin(struct header *h, struct buf *b, const char *name)
{
    h->b = b;
    buf_puts(b, name);
    buf_puts(b, ":");
    h->col = strlen(name) + 1;
    h->first = 1;
}

static void header_token(struct header *h, const char *tok, size_t n)
{
    if (h->col + 1 + n > 76 && !h->first) {
        buf_puts(h->b, "\n ");
        h->col = 1;
    } else {
        buf_putc(h->b, ' ');
        h->col++;
    }
    buf_put(h->b, tok, n);
    h->col += n;
    h->first = 0;
}

/* Each word of an ASCII text becomes a token (single spaces only, so folding is lossless). */
static void header_words(struct header *h, const char *text)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p)
            header_token(h, p, (size_t)(e - p));
        p = e;
    }
}

static void header_end(struct header *h) { buf_putc(h->b, '\n'); }

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_put(struct buf *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n) v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        buf_putc(b, B64[(v >> 18) & 63]);
        buf_putc(b, B64[(v >> 12) & 63]);
        buf_putc(b, i + 1 < n ? B64[(v >> 6) & 63] : '=');
        buf_putc(b, i + 2 < n ? B64[v & 63] : '=');
    }
}

static int q_literal(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

/* RFC 2047 encoded words of at most 75 characters; UTF-8 is never split inside a character. */
static void header_encoded(struct header *h, const struct mime_text *t)
{
    const unsigned char *s = (const unsigned char *)t->raw;
    size_t n = strlen(t->raw), pos = 0;
    size_t room = 75 - (strlen(t->charset) + 7);
    int utf8 = strcmp(t->charset, "UTF-8") == 0;
    struct buf w = { 0 };
    while (pos < n) {
        size_t end = pos, cost = 0;
        while (end < n) {
            size_t c = t->enc == 'B' ? 0 : (q_literal(s[end]) || s[end] == ' ' ? 1 : 3);
            if (t->enc == 'B' && ((end - pos + 1 + 2) / 3) * 4 > room)
                break;
            if (t->enc == 'Q' && cost + c > room)
                break;
            cost += c;
            end++;
        }
        if (utf8)
            while (end < n && end > pos + 1 && (s[end] & 0xC0) == 0x80)
                end--;
        w.len = 0;
        buf_printf(&w, "=?%s?%c?", t->charset, t->enc);
        if (t->enc == 'B') {
            base64_put(&w, s + pos, end - pos);
        } else {
            for (size_t i = pos; i < end; i++) {
                if (s[i] == ' ')
                    buf_putc(&w, '_');
                else if (q_literal(s[i]))
                    buf_putc(&w, (char)s[i]);
                else
                    buf_printf(&w, "=%02X", s[i]);
            }
        }
        buf_puts(&w, "?=");
        header_token(h, w.p, w.len);
        pos = end;
    }
    free(w.p);
}

/* ---- one message -------------------------------------------------------------------------- */

struct options {
    const char *maildir, *folder, *manifest;
    unsigned long count;
    uint64_t seed;
    time_t start;
    long days;
    size_t max_size;
    int verbose, to_new, chown_set;
    uid_t uid;
    gid_t gid;
};

struct person {
    char display[96];          /* header form: "Name" <addr>, or encoded word + <addr> */
    char addr[80];
    const struct mime_text *name8; /* set when the display name is an encoded word */
};

static void person_pick(uint64_t *r, struct person *p)
{
    unsigned kind = rng_below(r, 100);
    p->name8 = NULL;
    p->display[0] = 0;
    if (kind < 10) {
        unsigned k = rng_below(r, sizeof(NAMES_8BIT) / sizeof(NAMES_8BIT[0]));
        p->name8 = &NAMES_8BIT[k];
        snprintf(p->addr, sizeof p->addr, "%s", NAMES_8BIT_ADDR[k]);
        return;
    }
    const char *f = PICK(r, FIRST), *l = PICK(r, LAST), *d = PICK(r, DOMAINS);
    char lf[32], ll[32];
    size_t j = 0;
    for (const char *c = f; *c && j < sizeof lf - 1; c++) lf[j++] = (char)(*c | 0x20);
    lf[j] = 0;
    j = 0;
    for (const char *c = l; *c && j < sizeof ll - 1; c++) if (*c != '\'') ll[j++] = (char)(*c | 0x20);
    ll[j] = 0;
    if (kind < 15)
        snprintf(p->addr, sizeof p->addr, "noreply@%s", d);
    else if (kind < 18)
        snprintf(p->addr, sizeof p->addr, "notifications@%s", d);
    else
        snprintf(p->addr, sizeof p->addr, "%s.%s@%s", lf, ll, d);
    if (kind < 25)
        snprintf(p->display, sizeof p->display, "<%s>", p->addr);     /* bare address */
    else if (kind < 35)
        snprintf(p->display, sizeof p->display, "\"%s, %s\" <%s>", l, f, p->addr);
    else if (strchr(l, '\''))
        snprintf(p->display, sizeof p->display, "\"%s %s\" <%s>", f, l, p->addr);
    else
        snprintf(p->display, sizeof p->display, "%s %s <%s>", f, l, p->addr);
}

static void header_person(struct header *h, const struct person *p, int comma)
{
    char tail[100];
    snprintf(tail, sizeof tail, "<%s>%s", p->addr, comma ? "," : "");
    if (p->name8) {
        header_encoded(h, p->name8);
        header_token(h, tail, strlen(tail));
        return;
    }
    char tmp[112];
    snprintf(tmp, sizeof tmp, "%s%s", p->display, comma ? "," : "");
    header_words(h, tmp);
}

/* The thread structure: about a quarter of messages answer an earlier one. */
static int thread_parent(uint64_t seed, unsigned long i, unsigned long *parent)
{
    if (i == 0)
        return 0;
    uint64_t r = rng_stream(seed, i, 1);
    if (rng_below(&r, 100) >= 25)
        return 0;
    unsigned long back = 1 + rng_below(&r, (unsigned)(i < 40 ? i : 40));
    *parent = i - back;
    return 1;
}

/* A thread's subject, list and shape come from its first message. */
struct thread_root {
    unsigned long index;
    int list;              /* -1: none */
    unsigned subject_kind;
    uint64_t subject_rng;
};

static void thread_root_get(uint64_t seed, unsigned long i, struct thread_root *t,
                            unsigned long *chain, unsigned *depth)
{
    unsigned long x = i, p;
    *depth = 0;
    while (*depth < 12 && thread_parent(seed, x, &p)) {
        chain[(*depth)++] = p;
        x = p;
    }
    uint64_t r = rng_stream(seed, x, 2);
    t->index = x;
    t->list = rng_below(&r, 100) < 30 ? (int)rng_below(&r, sizeof(LISTS) / sizeof(LISTS[0])) : -1;
    t->subject_kind = rng_below(&r, 1000);
    t->subject_rng = rng_next(&r);
}

/* Writes the Subject header (or none) and its decoded UTF-8 form into `decoded`. */
static void subject_put(struct buf *b, const struct thread_root *t, int reply, struct buf *decoded)
{
    uint64_t r = t->subject_rng;
    unsigned k = t->subject_kind;
    char ascii[200];
    const char *prefix = reply ? "Re: " : "";
    struct header h;
    decoded->len = 0;
    if (k < 5) {
        buf_puts(decoded, "(none)");
        return;                                            /* no Subject header at all */
    }
    header_begin(&h, b, "Subject");
    if (k < 450 || k >= 990) {
        const char *topic = PICK(&r, TOPICS);
        if (k >= 990)   /* long, folded */
            snprintf(ascii, sizeof ascii, "%sA rather long subject line about %s that goes on and on "
                     "so that it has to be folded across lines by %s", prefix, topic, PICK(&r, FIRST));
        else {
            char form[120];
            snprintf(form, sizeof form, PICK(&r, SUBJECT_FORMS), topic);
            snprintf(ascii, sizeof ascii, "%s%s%s", prefix, k < 30 && !reply ? "Fwd: " : "", form);
        }
        header_words(&h, ascii);
        buf_puts(decoded, ascii);
    } else if (k < 600) {
        unsigned v = 1 + rng_below(&r, 4), n = 1 + rng_below(&r, 9), m = 1 + rng_below(&r, n);
        if (v == 1)
            snprintf(ascii, sizeof ascii, "%s[PATCH %u/%u] %s: %s", prefix, m, n, PICK(&r, SUBSYS), PICK(&r, PATCH_WHAT));
        else
            snprintf(ascii, sizeof ascii, "%s[PATCH v%u %u/%u] %s: %s", prefix, v, m, n, PICK(&r, SUBSYS), PICK(&r, PATCH_WHAT));
        header_words(&h, ascii);
        buf_puts(decoded, ascii);
    } else if (k < 960) {
        const struct mime_text *s = &PICK(&r, SUBJECTS_8BIT);
        if (*prefix)
            header_words(&h, "Re:");
        buf_puts(decoded, prefix);
        header_encoded(&h, s);
        buf_puts(decoded, s->utf8);
        if (rng_below(&r, 4) == 0) {            /* encoded words followed by plain text */
            header_words(&h, "(2nd try)");
            buf_puts(decoded, " (2nd try)");
        }
    } else {
        if (*prefix)
            header_words(&h, "Re:");
        buf_puts(decoded, prefix);
        header_encoded(&h, &PAIR_FIRST);
        header_encoded(&h, &PAIR_SECOND);
        buf_puts(decoded, PAIR_FIRST.utf8);
        buf_puts(decoded, PAIR_SECOND.utf8);
    }
    header_end(&h);
}

/* As subject_put, with `decoded` NUL-terminated (its len excludes the NUL). */
static void subject_write(struct buf *b, const struct thread_root *t, int reply, struct buf *decoded)
{
    subject_put(b, t, reply, decoded);
    buf_putc(decoded, 0);
    decoded->len--;
}

static void date_format(char *out, size_t n, time_t t, uint64_t *r)
{
    unsigned z = rng_below(r, sizeof(ZONES) / sizeof(ZONES[0]));
    time_t local = t + (time_t)ZONE_MIN[z] * 60;
    struct tm tm;
    gmtime_r(&local, &tm);
    static const char *const WD[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const MON[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    unsigned style = rng_below(r, 100);
    if (style < 4)       /* no day of week */
        snprintf(out, n, "%d %s %d %02d:%02d:%02d %s", tm.tm_mday, MON[tm.tm_mon], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, ZONES[z]);
    else if (style < 10 && z == 0)
        snprintf(out, n, "%s, %02d %s %d %02d:%02d:%02d +0000 (UTC)", WD[tm.tm_wday], tm.tm_mday, MON[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(out, n, "%s, %d %s %d %02d:%02d:%02d %s", WD[tm.tm_wday], tm.tm_mday, MON[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, ZONES[z]);
}

/* A long tail: most messages a few KB, ~1% over 1 MB. Integer-only (no libm at link time). */
static size_t size_pick(uint64_t *r)
{
    unsigned p = rng_below(r, 10000);
    uint64_t u = rng_below(r, 1u << 16);
    size_t lo, hi;
    unsigned power;
    if (p < 6000)      { lo = 1000;    hi = 6000;    power = 1; }
    else if (p < 8500) { lo = 6000;    hi = 30000;   power = 2; }
    else if (p < 9700) { lo = 30000;   hi = 150000;  power = 2; }
    else if (p < 9900) { lo = 150000;  hi = 1000000; power = 3; }
    else               { lo = 1050000; hi = 3000000; power = 3; }
    uint64_t f = u;
    for (unsigned k = 1; k < power; k++)
        f = f * u >> 16;
    return lo + (size_t)(((hi - lo) * f) >> 16);
}

/* Base64 text of random bytes, whole 76-column lines, made once; attachments are slices. */
static struct buf b64_pool;
#define POOL_LINES 16384

static void pool_init(void)
{
    uint64_t s = 0x5eed;
    unsigned char raw[57];
    for (unsigned l = 0; l < POOL_LINES; l++) {
        for (unsigned i = 0; i < sizeof raw; i++)
            raw[i] = (unsigned char)rng_next(&s);
        base64_put(&b64_pool, raw, sizeof raw);
        buf_putc(&b64_pool, '\n');
    }
}

static void attachment_base64(struct buf *b, uint64_t *r, size_t bytes)
{
    size_t lines = bytes / 77 + 1;
    size_t at = rng_below(r, POOL_LINES);
    while (lines > 0) {
        size_t n = POOL_LINES - at < lines ? POOL_LINES - at : lines;
        buf_put(b, b64_pool.p + at * 77, n * 77);
        lines -= n;
        at = 0;
    }
    /* a short final line with padding, as real encoders produce */
    unsigned char tail[10];
    for (unsigned i = 0; i < sizeof tail; i++)
        tail[i] = (unsigned char)rng_next(r);
    base64_put(b, tail, 1 + rng_below(r, sizeof tail));
    buf_putc(b, '\n');
}

/* Plain text paragraphs, wrapped at 72 columns, until about `bytes` were written. */
static void text_put(struct buf *b, uint64_t *r, size_t bytes, int eightbit, const char *quote)
{
    size_t start = b->len, col = 0;
    if (quote) {
        buf_puts(b, quote);
        col = strlen(quote);
    }
    while (b->len - start < bytes) {
        const char *w = eightbit && rng_below(r, 8) == 0 ? PICK(r, WORDS_8BIT) : PICK(r, WORDS);
        size_t n = strlen(w);
        if (col + n + 1 > 72) {
            buf_putc(b, '\n');
            col = 0;
            if (rng_below(r, 6) == 0)
                buf_putc(b, '\n');
            if (quote) {
                buf_puts(b, quote);
                col = strlen(quote);
            }
        } else if (col > (quote ? strlen(quote) : 0)) {
            buf_putc(b, ' ');
            col++;
        }
        buf_put(b, w, n);
        col += n;
    }
    buf_puts(b, ".\n");
}

/* Quoted-printable of UTF-8 text; lines at most 76 with soft breaks. */
static void qp_put(struct buf *b, const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            buf_putc(b, '\n');
            col = 0;
            continue;
        }
        int lit = c >= 33 && c <= 126 && c != '=';
        if (c == ' ' && i + 1 < n && s[i + 1] != '\n')
            lit = 1;
        size_t w = lit ? 1 : 3;
        if (col + w > 75) {
            buf_puts(b, "=\n");
            col = 0;
        }
        if (lit)
            buf_putc(b, (char)c);
        else
            buf_printf(b, "=%02X", c);
        col += w;
    }
}

static void patch_put(struct buf *b, uint64_t *r, const char *who)
{
    const char *sub = PICK(r, SUBSYS);
    unsigned line = 10 + rng_below(r, 900);
    buf_printf(b, "The old code did not %s in all cases; this makes it explicit.\n\n"
                  "Signed-off-by: %s\n---\n src/%s.c | 3 ++-\n 1 file changed, 2 insertions(+), 1 deletion(-)\n\n"
                  "diff --git a/src/%s.c b/src/%s.c\nindex 3f2a1b7..8c9d0e4 100644\n--- a/src/%s.c\n+++ b/src/%s.c\n"
                  "@@ -%u,6 +%u,7 @@ static int %s_step(struct %s *s)\n"
                  "     if (s->len == 0)\n         return 0;\n-    n = s->len + 1;\n+    n = s->len;\n"
                  "+    /* the terminator is not part of the length */\n     memcpy(s->out, s->in, n);\n"
                  "     s->pos += n;\n     return 1;\n-- \n2.39.2\n",
               PICK(r, PATCH_WHAT), who, sub, sub, sub, sub, sub, line, line, sub, sub);
}

static const char HTML_HEAD[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><style>p{margin:0 0 1em}</style></head>\n<body>\n";

struct message_info {
    size_t size, vsize;
    char flags[8];
    time_t when;
};

static void boundary_make(char *out, size_t n, uint64_t seed, unsigned long i, int level)
{
    snprintf(out, n, "=_seed%llu_%lu_%d_%08x", (unsigned long long)seed, i, level, (unsigned)(seed * 2654435761u + i));
}

static void message_build(const struct options *o, unsigned long i, struct buf *b, struct buf *decoded,
                          struct message_info *info, struct person *from_out, int *list_out)
{
    uint64_t r = rng_stream(o->seed, i, 3);
    unsigned long chain[12];
    unsigned depth;
    struct thread_root t;
    thread_root_get(o->seed, i, &t, chain, &depth);
    int reply = depth > 0;

    /* Date: ascending with the index across the span, so UID order follows time. */
    uint64_t span = (uint64_t)o->days * 86400u;
    uint64_t step = o->count ? span / o->count : span;
    info->when = o->start + (time_t)(span * i / (o->count ? o->count : 1)) + (time_t)(step > 1 ? rng_next(&r) % step : 0);

    size_t target = size_pick(&r);
    if (o->max_size && target > o->max_size)
        target = o->max_size;

    struct person from, to[3], cc[2];
    person_pick(&r, &from);
    unsigned nto = 1 + (rng_below(&r, 10) < 2) + (rng_below(&r, 10) < 1);
    for (unsigned k = 0; k < nto; k++)
        person_pick(&r, &to[k]);
    unsigned ncc = rng_below(&r, 10) < 3 ? 1 + rng_below(&r, 2) : 0;
    for (unsigned k = 0; k < ncc; k++)
        person_pick(&r, &cc[k]);
    *from_out = from;
    *list_out = t.list;

    char date[64], rdate[64];
    date_format(date, sizeof date, info->when, &r);
    {   /* Received carries the receiving server's zone, always +0000 */
        time_t w = info->when;
        struct tm tm;
        gmtime_r(&w, &tm);
        strftime(rdate, sizeof rdate, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    }

    b->len = 0;
    buf_printf(b, "Return-Path: <%s>\n", from.addr);
    buf_printf(b, "Received: from mx%u.example.net (mx%u.example.net [192.0.2.%u])\n"
                  "\tby mail.seed.example (Postfix) with ESMTPS id %08llX\n\tfor <alice@seed.example>; %s\n",
               rng_below(&r, 9), rng_below(&r, 9), 1 + rng_below(&r, 250),
               (unsigned long long)(rng_next(&r) & 0xffffffffULL), rdate);
    buf_printf(b, "Date: %s\n", date);
    struct header h;
    header_begin(&h, b, "From");
    header_person(&h, &from, 0);
    header_end(&h);
    header_begin(&h, b, "To");
    if (t.list >= 0) {
        char l[100];
        snprintf(l, sizeof l, "%s <%s>", LISTS[t.list].name, LISTS[t.list].post);
        header_words(&h, l);
    } else {
        for (unsigned k = 0; k < nto; k++)
            header_person(&h, &to[k], k + 1 < nto);
    }
    header_end(&h);
    if (ncc) {
        header_begin(&h, b, "Cc");
        for (unsigned k = 0; k < ncc; k++)
            header_person(&h, &cc[k], k + 1 < ncc);
        header_end(&h);
    }
    subject_write(b, &t, reply, decoded);
    buf_printf(b, "Message-ID: <%llu-%lu@seed.example>\n", (unsigned long long)o->seed, i);
    if (reply) {
        buf_printf(b, "In-Reply-To: <%llu-%lu@seed.example>\n", (unsigned long long)o->seed, chain[0]);
        header_begin(&h, b, "References");
        for (unsigned k = depth; k-- > 0;) {
            char id[64];
            snprintf(id, sizeof id, "<%llu-%lu@seed.example>", (unsigned long long)o->seed, chain[k]);
            header_token(&h, id, strlen(id));
        }
        header_end(&h);
    }
    if (t.list >= 0) {
        buf_printf(b, "List-Id: %s <%s>\n", LISTS[t.list].name, LISTS[t.list].id);
        buf_printf(b, "List-Post: <mailto:%s>\n", LISTS[t.list].post);
        buf_printf(b, "List-Unsubscribe: <mailto:%s?subject=unsubscribe>\n", LISTS[t.list].post);
        buf_puts(b, "Precedence: list\n");
    }
    unsigned extra = rng_below(&r, 10);
    if (extra < 3)
        buf_puts(b, "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:102.0) Gecko/20100101 Thunderbird/102.10.0\n");
    else if (extra < 5)
        buf_puts(b, "X-Mailer: Apple Mail (2.3654.120.0.1.13)\n");
    if (rng_below(&r, 20) == 0)
        buf_puts(b, "X-Spam-Flag: YES\nX-Spam-Status: Yes, score=7.3 required=5.0\n");
    if (rng_below(&r, 25) == 0)
        buf_puts(b, "X-Priority: 1 (Highest)\nImportance: high\n");
    buf_puts(b, "MIME-Version: 1.0\n");

    char who[160];
    if (from.name8)
        snprintf(who, sizeof who, "%s <%s>", from.name8->utf8, from.addr);
    else
        snprintf(who, sizeof who, "%s", from.display);
    int patch = strstr(decoded->p, "[PATCH") != NULL;
    size_t head_len = b->len;
    size_t text_bytes = target > head_len + 400 ? target - head_len - 300 : 200;
    unsigned shape = rng_below(&r, 100);
    char bnd[80], bnd2[80];
    boundary_make(bnd, sizeof bnd, o->seed, i, 1);
    boundary_make(bnd2, sizeof bnd2, o->seed, i, 2);

    if (target < 20000 && shape < 55) {
        /* plain text: us-ascii 7bit, or UTF-8 8bit */
        int eight = shape >= 40;
        buf_printf(b, "Content-Type: text/plain; charset=%s; format=flowed\nContent-Transfer-Encoding: %s\n\n",
                   eight ? "utf-8" : "us-ascii", eight ? "8bit" : "7bit");
        if (reply) {
            buf_printf(b, "On %s, %s wrote:\n", date, PICK(&r, FIRST));
            text_put(b, &r, text_bytes / 3, 0, "> ");
            buf_putc(b, '\n');
        }
        if (patch)
            patch_put(b, &r, eight ? who : from.addr);
        text_put(b, &r, target > b->len ? target - b->len : 100, eight, NULL);
        buf_puts(b, "\n-- \nSent from the seed generator\n");
    } else if (target < 20000 && shape < 70) {
        /* quoted-printable UTF-8 */
        buf_puts(b, "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n");
        struct buf plain = { 0 };
        text_put(&plain, &r, text_bytes, 1, NULL);
        buf_puts(&plain, "Total: 2+2=4 \xe2\x80\x94 \xc3\xa0 bient\xc3\xb4t!\n");
        qp_put(b, plain.p, plain.len);
        free(plain.p);
    } else if (target < 20000 && shape < 90) {
        /* multipart/alternative text + html */
        buf_printf(b, "Content-Type: multipart/alternative;\n boundary=\"%s\"\n\n", bnd);
        buf_puts(b, "This is a multi-part message in MIME format.\n");
        buf_printf(b, "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n", bnd);
        size_t half = text_bytes / 3;
        struct buf plain = { 0 };
        text_put(&plain, &r, half, 1, NULL);
        buf_put(b, plain.p, plain.len);
        buf_printf(b, "\n--%s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n", bnd);
        struct buf html = { 0 };
        buf_puts(&html, HTML_HEAD);
        buf_puts(&html, "<p style=\"font-family: sans-serif\">");
        for (size_t k = 0; k < plain.len; k++) {
            if (plain.p[k] == '\n')
                buf_puts(&html, k + 1 < plain.len && plain.p[k + 1] == '\n' ? "</p>\n<p>" : "\n");
            else
                buf_putc(&html, plain.p[k]);
        }
        buf_puts(&html, "</p>\n<p><a href=\"https://example.org/unsubscribe?id=42&amp;x=1\">Unsubscribe</a></p>\n</body></html>\n");
        qp_put(b, html.p, html.len);
        buf_printf(b, "\n--%s--\n", bnd);
        free(plain.p);
        free(html.p);
    } else {
        /* multipart/mixed: a text (sometimes alternative) part and base64 attachments */
        static const char *const ATT_TYPE[] = { "application/pdf", "image/png", "image/jpeg", "application/octet-stream",
                                                "application/zip", "application/vnd.oasis.opendocument.text" };
        static const char *const ATT_NAME[] = { "report.pdf", "screenshot.png", "IMG_2041.JPG", "data.bin",
                                                "logs.zip", "minutes.odt" };
        unsigned a = rng_below(&r, 6);
        buf_printf(b, "Content-Type: multipart/mixed;\n boundary=\"%s\"\n\n", bnd);
        buf_puts(b, "This is a multi-part message in MIME format.\n");
        buf_printf(b, "--%s\n", bnd);
        size_t text_part = 400 + rng_below(&r, 1500);
        if (rng_below(&r, 3) == 0) {
            buf_printf(b, "Content-Type: multipart/alternative;\n boundary=\"%s\"\n\n--%s\n", bnd2, bnd2);
            buf_puts(b, "Content-Type: text/plain; charset=us-ascii\n\n");
            text_put(b, &r, text_part, 0, NULL);
            buf_printf(b, "\n--%s\nContent-Type: text/html; charset=us-ascii\n\n%s<p>", bnd2, HTML_HEAD);
            text_put(b, &r, text_part, 0, NULL);
            buf_printf(b, "</p></body></html>\n\n--%s--\n\n--%s\n", bnd2, bnd);
        } else {
            buf_puts(b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n");
            if (patch)
                patch_put(b, &r, who);
            text_put(b, &r, text_part, 1, NULL);
            buf_printf(b, "\n--%s\n", bnd);
        }
        if (rng_below(&r, 8) == 0)   /* RFC 2231 encoded file name */
            buf_printf(b, "Content-Type: %s;\n name=\"=?UTF-8?Q?=C3=9Cbersicht_2023.pdf?=\"\nContent-Disposition: attachment;\n"
                          " filename*=UTF-8''%%C3%%9Cbersicht%%202023.pdf\nContent-Transfer-Encoding: base64\n\n", ATT_TYPE[0]);
        else
            buf_printf(b, "Content-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\n"
                          "Content-Transfer-Encoding: base64\n\n", ATT_TYPE[a], ATT_NAME[a], ATT_NAME[a]);
        size_t room = target > b->len + 200 ? target - b->len - 200 : 64;
        attachment_base64(b, &r, room);
        buf_printf(b, "\n--%s--\n", bnd);
    }

    /* flags: mostly seen, some unseen, flagged, answered, a few deleted */
    unsigned f = rng_below(&r, 100);
    const char *flags = f < 25 ? "" : f < 33 ? "FS" : f < 45 ? "RS" : f < 47 ? "ST" : f < 49 ? "F" : "S";
    if (reply && f >= 49 && f < 55)
        flags = "RS";
    snprintf(info->flags, sizeof info->flags, "%s", flags);
    info->size = b->len;
    size_t lf = 0;
    for (const char *p = b->p, *e = b->p + b->len; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        lf++;
    info->vsize = b->len + lf;
}

/* ---- Maildir ----------------------------------------------------------------------------- */

static void dir_make(const char *path, const struct options *o)
{
    if (mkdir(path, 0700) == 0) {
        if (o->chown_set && chown(path, o->uid, o->gid) != 0)
            fatal("chown %s: %s", path, strerror(errno));
    } else if (errno != EEXIST) {
        fatal("mkdir %s: %s", path, strerror(errno));
    }
}

static void dir_make_parents(const char *path, const struct options *o)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        fatal("path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            dir_make(tmp, o);
            *p = '/';
        }
    }
    dir_make(tmp, o);
}

/* Maildir++ stores folder names in modified UTF-7 with '.' as the hierarchy separator. */
static void folder_to_maildir(const char *name, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)name;
    buf_putc(out, '.');
    while (*s) {
        if (*s == '/') {
            buf_putc(out, '.');
            s++;
        } else if (*s == '.') {
            fatal("mailbox name \"%s\": '.' is not allowed (Maildir++ separator)", name);
        } else if (*s == '&') {
            buf_puts(out, "&-");
            s++;
        } else if (*s >= 0x20 && *s < 0x7f) {
            buf_putc(out, (char)*s++);
        } else {
            /* a run of non-ASCII: UTF-8 -> UTF-16BE -> modified base64 */
            unsigned char u16[1024];
            size_t n = 0;
            while (*s && (*s < 0x20 || *s >= 0x7f) && n + 4 <= sizeof u16) {
                uint32_t cp;
                int len;
                if (*s < 0x80) { cp = *s; len = 1; }
                else if ((*s & 0xE0) == 0xC0) { cp = *s & 0x1F; len = 2; }
                else if ((*s & 0xF0) == 0xE0) { cp = *s & 0x0F; len = 3; }
                else if ((*s & 0xF8) == 0xF0) { cp = *s & 0x07; len = 4; }
                else fatal("mailbox name is not valid UTF-8");
                for (int k = 1; k < len; k++) {
                    if ((s[k] & 0xC0) != 0x80)
                        fatal("mailbox name is not valid UTF-8");
                    cp = cp << 6 | (s[k] & 0x3F);
                }
                s += len;
                if (cp >= 0x10000) {
                    cp -= 0x10000;
                    unsigned hi = 0xD800 | (cp >> 10), lo = 0xDC00 | (cp & 0x3FF);
                    u16[n++] = (unsigned char)(hi >> 8); u16[n++] = (unsigned char)hi;
                    u16[n++] = (unsigned char)(lo >> 8); u16[n++] = (unsigned char)lo;
                } else {
                    u16[n++] = (unsigned char)(cp >> 8); u16[n++] = (unsigned char)cp;
                }
            }
            buf_putc(out, '&');
            for (size_t k = 0; k < n; k += 3) {
                unsigned v = (unsigned)u16[k] << 16;
                if (k + 1 < n) v |= (unsigned)u16[k + 1] << 8;
                if (k + 2 < n) v |= u16[k + 2];
                int chars = k + 2 < n ? 4 : k + 1 < n ? 3 : 2;
                for (int c = 0; c < chars; c++) {
                    char ch = B64[(v >> (18 - 6 * c)) & 63];
                    buf_putc(out, ch == '/' ? ',' : ch);
                }
            }
            buf_putc(out, '-');
        }
    }
    buf_putc(out, 0);
}

static void usage(void)
{
    fputs("usage: seedmail --maildir PATH [--folder NAME] [--count N] [--seed S]\n"
          "                [--start-date YYYY-MM-DD] [--days D] [--max-size BYTES]\n"
          "                [--new] [--chown UID:GID] [--manifest FILE] [--verbose]\n"
          "Writes N deterministic RFC 5322 messages into a Maildir (cur/, or new/ with --new).\n"
          "--folder NAME writes into the Maildir++ folder NAME ('/' separated, UTF-8) below PATH.\n"
          "--manifest writes one tab-separated line per message: index, Message-ID, INTERNALDATE\n"
          "(epoch), size, flags, decoded subject, from address, List-Id (or -).\n", stderr);
}

static unsigned long num_arg(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        fatal("%s: not a number: \"%s\"", opt, v);
    return (unsigned long)n;
}

int main(int argc, char **argv)
{
    struct options o = { .count = 100, .seed = 1, .days = 5 * 365 + 1 };
    struct tm tm = { .tm_year = 2019 - 1900, .tm_mon = 0, .tm_mday = 1 };
    o.start = timegm(&tm);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose")) { o.verbose = 1; continue; }
        if (!strcmp(a, "--new")) { o.to_new = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(); return 0; }
        static const char *const WITH_VALUE[] = { "--maildir", "--folder", "--manifest", "--count", "--seed",
                                                  "--days", "--max-size", "--start-date", "--chown" };
        int known = 0;
        for (size_t k = 0; k < sizeof WITH_VALUE / sizeof WITH_VALUE[0]; k++)
            known |= !strcmp(a, WITH_VALUE[k]);
        if (!known) { usage(); fatal("unknown option %s", a); }
        if (!v) { usage(); fatal("%s needs a value", a); }
        i++;
        if (!strcmp(a, "--maildir")) o.maildir = v;
        else if (!strcmp(a, "--folder")) o.folder = v;
        else if (!strcmp(a, "--manifest")) o.manifest = v;
        else if (!strcmp(a, "--count")) o.count = num_arg(a, v);
        else if (!strcmp(a, "--seed")) o.seed = num_arg(a, v);
        else if (!strcmp(a, "--days")) o.days = (long)num_arg(a, v);
        else if (!strcmp(a, "--max-size")) o.max_size = num_arg(a, v);
        else if (!strcmp(a, "--start-date")) {
            struct tm d = { 0 };
            char *end = strptime(v, "%Y-%m-%d", &d);
            if (!end || (*end && *end != 'T' && *end != ' '))
                fatal("--start-date: want YYYY-MM-DD, got \"%s\"", v);
            if (*end)
                strptime(end + 1, "%H:%M:%S", &d);
            o.start = timegm(&d);
        } else if (!strcmp(a, "--chown")) {
            char *colon = strchr(v, ':');
            if (!colon)
                fatal("--chown: want UID:GID, got \"%s\"", v);
            char u[32];
            snprintf(u, sizeof u, "%.*s", (int)(colon - v), v);
            o.uid = (uid_t)num_arg(a, u);
            o.gid = (gid_t)num_arg(a, colon + 1);
            o.chown_set = 1;
        } else { usage(); fatal("unknown option %s", a); }
    }
    if (!o.maildir) { usage(); fatal("--maildir is required"); }
    if (o.days < 1)
        o.days = 1;

    struct timeval t0, t1;
    gettimeofday(&t0, NULL);

    struct buf path = { 0 };
    buf_puts(&path, o.maildir);
    while (path.len > 1 && path.p[path.len - 1] == '/')
        path.len--;
    if (o.folder && strcasecmp(o.folder, "INBOX") != 0) {
        buf_putc(&path, '/');
        folder_to_maildir(o.folder, &path);
        path.len--;
    }
    buf_putc(&path, 0);
    dir_make_parents(path.p, &o);
    static const char *const SUBS[] = { "cur", "new", "tmp" };
    int dfd[3];
    for (int k = 0; k < 3; k++) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", path.p, SUBS[k]);
        dir_make(sub, &o);
        dfd[k] = open(sub, O_RDONLY | O_DIRECTORY);
        if (dfd[k] < 0)
            fatal("open %s: %s", sub, strerror(errno));
    }
    const char *base = strrchr(path.p, '/');
    base = base ? base + 1 : path.p;
    if (base[0] == '.' && base[1] && strcmp(base, "..") != 0) {   /* Maildir++ folder marker */
        char marker[4200];
        snprintf(marker, sizeof marker, "%s/maildirfolder", path.p);
        int fd = open(marker, O_WRONLY | O_CREAT, 0600);
        if (fd < 0)
            fatal("create %s: %s", marker, strerror(errno));
        if (o.chown_set && fchown(fd, o.uid, o.gid) != 0)
            fatal("chown %s: %s", marker, strerror(errno));
        close(fd);
    }

    FILE *manifest = NULL;
    if (o.manifest && !(manifest = fopen(o.manifest, "w")))
        fatal("open %s: %s", o.manifest, strerror(errno));

    pool_init();
    struct buf msg = { 0 }, decoded = { 0 };
    unsigned long long total = 0;
    for (unsigned long i = 0; i < o.count; i++) {
        struct message_info info;
        struct person from;
        int list;
        message_build(&o, i, &msg, &decoded, &info, &from, &list);

        char name[256], final[300];
        snprintf(name, sizeof name, "%lld.M%luP%lluQ%lu.seedmail,S=%zu,W=%zu", (long long)info.when, i % 1000000,
                 (unsigned long long)o.seed, i, info.size, info.vsize);
        if (o.to_new)
            snprintf(final, sizeof final, "%s", name);
        else
            snprintf(final, sizeof final, "%s:2,%s", name, info.flags);

        int fd = openat(dfd[2], name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            fatal("create %s/tmp/%s: %s", path.p, name, strerror(errno));
        size_t off = 0;
        while (off < msg.len) {
            ssize_t w = write(fd, msg.p + off, msg.len - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                fatal("write %s/tmp/%s: %s", path.p, name, strerror(errno));
            }
            off += (size_t)w;
        }
        struct timespec ts[2] = { { .tv_sec = info.when }, { .tv_sec = info.when } };
        if (futimens(fd, ts) != 0)
            fatal("futimens %s: %s", name, strerror(errno));
        if (o.chown_set && fchown(fd, o.uid, o.gid) != 0)
            fatal("chown %s: %s", name, strerror(errno));
        if (close(fd) != 0)
            fatal("close %s: %s", name, strerror(errno));
        if (renameat(dfd[2], name, dfd[o.to_new ? 1 : 0], final) != 0)
            fatal("rename %s into %s: %s", name, o.to_new ? "new/" : "cur/", strerror(errno));
        total += info.size;

        if (manifest)
            fprintf(manifest, "%lu\t<%llu-%lu@seed.example>\t%lld\t%zu\t%s\t%s\t%s\t%s\n", i,
                    (unsigned long long)o.seed, i, (long long)info.when, info.size, o.to_new ? "" : info.flags,
                    decoded.p, from.addr, list >= 0 ? LISTS[list].id : "-");
    }
    if (manifest && fclose(manifest) != 0)
        fatal("write %s: %s", o.manifest, strerror(errno));
    for (int k = 0; k < 3; k++)
        close(dfd[k]);

    gettimeofday(&t1, NULL);
    if (o.verbose) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
        printf("seedmail: %lu messages, %llu bytes into %s in %.2f s\n", o.count, total, path.p, secs);
    }
    free(msg.p);
    free(decoded.p);
    free(path.p);
    free(b64_pool.p);
    return 0;
}
