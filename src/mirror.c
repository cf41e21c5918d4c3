/* mirror.c — a mailbox's UIDs and flags as sets, kept exact from the server's responses while it
 * is selected, and searches answered from them (see mirror.h). */
#include "mirror.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "decode.h"
#include "query.h"

struct mirror_flag {
    char *name;                 /* as the server spells it */
    struct msgset set;
};

struct mirror {
    uint32_t uidvalidity, select_uidnext, exists;
    uint64_t modseq, select_modseq, max_seen;
    struct msgset uids, removed;
    struct mirror_flag *flags;
    size_t nflags, capflags;
    bool flags_complete, selected, synced, broken, reset, nomodseq;
    bool awaiting_select;       /* its SELECT is answered next */
    bool qresync;               /* that SELECT's reply is the sync */
    char expect[8][16];         /* tags of the commands that end a sync, oldest first */
    size_t nexpect;
    struct arena scratch;
};

struct mirror *mirror_new(void)
{
    struct mirror *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    msgset_init(&m->uids);
    msgset_init(&m->removed);
    arena_init(&m->scratch, 4096);
    m->flags_complete = true;
    return m;
}

static void drop_flags(struct mirror *m)
{
    for (size_t i = 0; i < m->nflags; i++) {
        free(m->flags[i].name);
        msgset_free(&m->flags[i].set);
    }
    m->nflags = 0;
}

void mirror_free(struct mirror *m)
{
    if (!m)
        return;
    drop_flags(m);
    free(m->flags);
    msgset_free(&m->uids);
    msgset_free(&m->removed);
    arena_free(&m->scratch);
    free(m);
}

/* Forgets the messages: UIDs and flags. */
static void forget(struct mirror *m)
{
    drop_flags(m);
    msgset_clear(&m->uids);
    msgset_clear(&m->removed);
}

void mirror_load(struct mirror *m, uint32_t uidvalidity, uint64_t modseq, bool flags_complete)
{
    forget(m);
    m->uidvalidity = uidvalidity;
    m->modseq = modseq;
    m->flags_complete = flags_complete;
    m->max_seen = 0;
    /* A selection going on goes on (what the server says next is applied), unsynced. */
    m->synced = m->broken = false;
}

static bool is_system(const char *flag) { return flag[0] == '\\'; }

/* System flags compare without case (RFC 3501: "\Seen" is an atom); keywords as spelt. */
static bool same_flag(const char *a, const char *b)
{
    return is_system(a) ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* The index of flag, made when missing (create); -1 when absent or out of memory. */
static long flag_index(struct mirror *m, const char *flag, size_t len, bool create)
{
    for (size_t i = 0; i < m->nflags; i++)
        if (strlen(m->flags[i].name) == len && (is_system(flag)
                ? strncasecmp(m->flags[i].name, flag, len) == 0
                : strncmp(m->flags[i].name, flag, len) == 0))
            return (long)i;
    if (!create)
        return -1;
    if (m->nflags == m->capflags) {
        size_t cap = m->capflags ? m->capflags * 2 : 8;
        struct mirror_flag *f = realloc(m->flags, cap * sizeof *f);
        if (!f)
            return -1;
        m->flags = f;
        m->capflags = cap;
    }
    char *name = malloc(len + 1);
    if (!name)
        return -1;
    memcpy(name, flag, len);
    name[len] = '\0';
    m->flags[m->nflags].name = name;
    msgset_init(&m->flags[m->nflags].set);
    return (long)m->nflags++;
}

int mirror_load_uids(struct mirror *m, const char *text, size_t len, char *err, size_t errlen)
{
    if (len == 0) {             /* an empty mailbox */
        msgset_clear(&m->uids);
        return 0;
    }
    return msgset_parse(&m->uids, text, len, 0, err, errlen);
}

int mirror_load_flag(struct mirror *m, const char *flag, const char *text, size_t len, char *err,
                     size_t errlen)
{
    if (!flag[0]) {
        snprintf(err, errlen, "an empty flag name");
        return -EINVAL;
    }
    long i = flag_index(m, flag, strlen(flag), true);
    if (i < 0)
        return -ENOMEM;
    struct msgset s, extra;
    msgset_init(&s);
    msgset_init(&extra);
    int rc = len ? msgset_parse(&s, text, len, 0, err, errlen) : 0;
    if (rc == 0 && (rc = msgset_difference(&extra, &s, &m->uids)) == 0 && extra.n) {
        snprintf(err, errlen, "flag %s names UIDs that are not in the mailbox", flag);
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = msgset_union(&extra, &m->flags[i].set, &s);
    if (rc == 0) {
        msgset_free(&m->flags[i].set);
        m->flags[i].set = extra;
        msgset_init(&extra);
    }
    msgset_free(&s);
    msgset_free(&extra);
    return rc;
}

void mirror_forget_flags(struct mirror *m)
{
    drop_flags(m);
    m->flags_complete = false;
}

static bool exact(const struct mirror *m)
{
    return m->synced && m->selected && !m->broken && msgset_count(&m->uids) == m->exists;
}

void mirror_info(const struct mirror *m, struct mirror_info *out)
{
    *out = (struct mirror_info){
        .uidvalidity = m->uidvalidity, .modseq = m->modseq, .select_modseq = m->select_modseq,
        .select_uidnext = m->select_uidnext, .exists = m->exists,
        .count = msgset_count(&m->uids), .flags_complete = m->flags_complete,
        .selected = m->selected, .synced = m->synced, .exact = exact(m), .reset = m->reset,
        .broken = m->broken, .nomodseq = m->nomodseq,
    };
}

const struct msgset *mirror_uids(const struct mirror *m) { return &m->uids; }
size_t mirror_nflags(const struct mirror *m) { return m->nflags; }
const char *mirror_flag_name(const struct mirror *m, size_t i) { return m->flags[i].name; }
const struct msgset *mirror_flag_set(const struct mirror *m, size_t i) { return &m->flags[i].set; }

int mirror_take_removed(struct mirror *m, struct msgset *out)
{
    msgset_free(out);
    *out = m->removed;
    msgset_init(&m->removed);
    return 0;
}

/* ---- applying what the server says -------------------------------------------------------- */

static void remove_range(struct mirror *m, uint32_t lo, uint32_t hi)
{
    int rc = msgset_remove(&m->uids, lo, hi);
    for (size_t i = 0; i < m->nflags && rc == 0; i++)
        rc = msgset_remove(&m->flags[i].set, lo, hi);
    if (rc == 0)
        rc = msgset_add(&m->removed, lo, hi);
    if (rc < 0)
        m->broken = true;
}

static void remove_set(struct mirror *m, const struct msgset *s)
{
    for (size_t i = 0; i < s->n; i++)
        remove_range(m, s->r[i].lo, s->r[i].hi);
}

/* uid now has exactly the flags of list (an IMAP list of atoms); \Recent is this session's. */
static void set_flags(struct mirror *m, uint32_t uid, const struct imap_value *list)
{
    int rc = msgset_add(&m->uids, uid, uid);
    for (size_t i = 0; i < m->nflags && rc == 0; i++) {
        bool has = false;
        for (size_t k = 0; k < list->len && !has; k++)
            has = list->u.items[k].type == IMAP_ATOM &&
                  strlen(m->flags[i].name) == list->u.items[k].len &&
                  same_flag(m->flags[i].name, list->u.items[k].u.str);
        if (has)
            rc = msgset_add(&m->flags[i].set, uid, uid);
        else if (msgset_contains(&m->flags[i].set, uid))
            rc = msgset_remove(&m->flags[i].set, uid, uid);
    }
    for (size_t k = 0; k < list->len && rc == 0; k++) {
        const struct imap_value *f = &list->u.items[k];
        if (f->type != IMAP_ATOM || f->len == 0 || strcasecmp(f->u.str, "\\Recent") == 0)
            continue;
        long i = flag_index(m, f->u.str, f->len, true);
        rc = i < 0 ? -ENOMEM : msgset_add(&m->flags[i].set, uid, uid);
    }
    if (rc < 0)
        m->broken = true;
}

static void on_fetch(struct mirror *m, const struct imap_response *r)
{
    struct imap_fetch f;
    char err[160];
    if (decode_fetch(r, &m->scratch, &f, err, sizeof err) < 0) {
        m->broken = true;
        return;
    }
    uint64_t uid = f.uid;
    if (!uid && (f.flags || f.modseq)) {
        /* Without UID (a server with CONDSTORE only): the sequence number, while exact. */
        if (!exact(m) || f.seq == 0 || f.seq > msgset_count(&m->uids)) {
            m->broken = true;
            return;
        }
        uid = msgset_nth(&m->uids, f.seq);
    }
    if (!uid || uid > UINT32_MAX)
        return;
    if (f.modseq > m->max_seen)
        m->max_seen = f.modseq;
    if (f.flags && f.flags->type == IMAP_LIST)
        set_flags(m, (uint32_t)uid, f.flags);
    else if (f.modseq && msgset_contains(&m->uids, (uint32_t)uid) && m->flags_complete)
        m->broken = true;       /* changed, but how is not said (a .SILENT STORE) */
}

static void on_vanished(struct mirror *m, const struct imap_response *r)
{
    struct imap_vanished v;
    char err[160];
    struct msgset s;
    msgset_init(&s);
    if (decode_vanished(r, &m->scratch, &v, err, sizeof err) < 0 ||
        msgset_parse(&s, v.uids, strlen(v.uids), 0, err, sizeof err) < 0) {
        m->broken = true;
        msgset_free(&s);
        return;
    }
    if (!v.earlier) {
        uint64_t k = msgset_count(&s);
        m->exists = k >= m->exists ? 0 : m->exists - (uint32_t)k;
    }
    remove_set(m, &s);
    msgset_free(&s);
}

static void on_expunge(struct mirror *m, uint64_t seq)
{
    /* A sequence number names a UID only while the mirror matches the server's numbering. */
    if (exact(m) && seq >= 1 && seq <= msgset_count(&m->uids)) {
        uint32_t uid = msgset_nth(&m->uids, seq);
        remove_range(m, uid, uid);
    } else {
        m->broken = true;
    }
    if (m->exists)
        m->exists--;
}

/* RFC 7162 §6: at a tagged reply (or an untagged [HIGHESTMODSEQ]) the known modseq becomes the
 * reply's HIGHESTMODSEQ, else the highest MODSEQ seen since the last tagged reply — only while
 * every change reported was applied. */
static void advance(struct mirror *m, bool has_code, uint64_t code)
{
    if (exact(m) && !m->nomodseq) {
        if (has_code)
            m->modseq = code;
        else if (m->max_seen > m->modseq)
            m->modseq = m->max_seen;
    }
    m->max_seen = 0;
}

static void try_sync(struct mirror *m)
{
    m->synced = !m->broken && msgset_count(&m->uids) == m->exists;
    if (m->synced && !m->nomodseq)
        m->modseq = m->select_modseq;
    m->max_seen = 0;
}

void mirror_begin_select(struct mirror *m, bool qresync)
{
    m->awaiting_select = true;
    m->qresync = qresync;
    m->selected = m->synced = m->broken = m->reset = m->nomodseq = false;
    m->select_modseq = m->max_seen = 0;
    m->select_uidnext = m->exists = 0;
}

void mirror_expect(struct mirror *m, const char *tag)
{
    if (m->nexpect == sizeof m->expect / sizeof m->expect[0]) {
        memmove(m->expect[0], m->expect[1], (m->nexpect - 1) * sizeof m->expect[0]);
        m->nexpect--;
    }
    snprintf(m->expect[m->nexpect++], sizeof m->expect[0], "%s", tag);
}

void mirror_end_select(struct mirror *m)
{
    /* A mirror already waiting for its next SELECT hears the end of the one before: nothing to
     * undo. */
    if (m->awaiting_select)
        return;
    m->selected = m->synced = false;
}

/* Whether tag ends a sync (and forgets it). */
static bool expected(struct mirror *m, const char *tag)
{
    for (size_t i = 0; tag && i < m->nexpect; i++) {
        if (strcmp(m->expect[i], tag) == 0) {
            memmove(m->expect[i], m->expect[i + 1], (m->nexpect - i - 1) * sizeof m->expect[0]);
            m->nexpect--;
            return true;
        }
    }
    return false;
}

static void on_tagged(struct mirror *m, const struct imap_response *r)
{
    if (m->awaiting_select) {
        /* The first tagged reply the mirror sees is its SELECT's (the session forwards nothing
         * earlier). */
        m->awaiting_select = false;
        m->selected = r->status == IMAP_ST_OK;
        if (m->selected && m->qresync)
            try_sync(m);
        m->max_seen = 0;
        return;
    }
    if (expected(m, r->tag)) {
        if (r->status == IMAP_ST_OK)
            try_sync(m);
        m->max_seen = 0;
        return;
    }
    advance(m, r->code.kind == IMAP_CODE_HIGHESTMODSEQ, r->code.num);
}

static void on_code(struct mirror *m, const struct imap_response *r)
{
    uint64_t n = r->code.num;
    switch (r->code.kind) {
    case IMAP_CODE_UIDVALIDITY:
        if (m->awaiting_select && n <= UINT32_MAX && n != m->uidvalidity) {
            /* Another mailbox under the same name: nothing held is true of it. */
            m->reset = m->uidvalidity != 0;
            forget(m);
            m->uidvalidity = (uint32_t)n;
            m->modseq = 0;
        }
        break;
    case IMAP_CODE_UIDNEXT:
        if (m->awaiting_select && n <= UINT32_MAX)
            m->select_uidnext = (uint32_t)n;
        break;
    case IMAP_CODE_HIGHESTMODSEQ:
        if (m->awaiting_select)
            m->select_modseq = n;
        else
            advance(m, true, n);
        break;
    case IMAP_CODE_NOMODSEQ:
        m->nomodseq = true;
        m->select_modseq = 0;
        break;
    case IMAP_CODE_CLOSED:
        if (!m->awaiting_select)
            mirror_end_select(m);
        break;
    default:
        break;
    }
}

void mirror_observe(struct mirror *m, const struct imap_response *r)
{
    arena_reset(&m->scratch);
    if (r->kind == IMAP_TAGGED) {
        on_tagged(m, r);
        return;
    }
    if (r->kind != IMAP_UNTAGGED)
        return;
    if (r->status != IMAP_ST_NONE) {
        on_code(m, r);
        return;
    }
    if (!r->name)
        return;
    if (strcmp(r->name, "EXISTS") == 0 && r->has_number && r->number <= UINT32_MAX)
        m->exists = (uint32_t)r->number;
    else if (strcmp(r->name, "EXPUNGE") == 0 && r->has_number)
        on_expunge(m, r->number);
    else if (strcmp(r->name, "VANISHED") == 0)
        on_vanished(m, r);
    else if (strcmp(r->name, "FETCH") == 0 && r->nargs >= 1 && r->args[0].type == IMAP_LIST)
        on_fetch(m, r);
}

int64_t mirror_restrict(struct mirror *m, const struct msgset *all)
{
    struct msgset gone, missing;
    msgset_init(&gone);
    msgset_init(&missing);
    int rc = msgset_difference(&gone, &m->uids, all);
    if (rc == 0)
        rc = msgset_difference(&missing, all, &m->uids);
    if (rc == 0)
        remove_set(m, &gone);
    int64_t n = rc < 0 ? rc : (int64_t)msgset_count(&missing);
    if (rc == 0 && !m->flags_complete) {
        /* Only UIDs are kept: the missing ones are simply added. */
        struct msgset u;
        msgset_init(&u);
        if (msgset_union(&u, &m->uids, &missing) < 0) {
            n = -ENOMEM;
        } else {
            msgset_free(&m->uids);
            m->uids = u;
            n = 0;
        }
    }
    msgset_free(&gone);
    msgset_free(&missing);
    return n;
}

bool mirror_sync_done(struct mirror *m)
{
    try_sync(m);
    return exact(m);
}

/* ---- answering searches ------------------------------------------------------------------- */

/* The set of flag (a system flag's key or a keyword) into *out (borrowed; NULL: nobody has it):
 * 0, or why it cannot be told here (see mirror_eval). */
static int flag_set(const struct mirror *m, const char *flag, const struct msgset **out)
{
    *out = NULL;
    if (!m->flags_complete)
        return 2;
    for (size_t i = 0; i < m->nflags; i++) {
        if (same_flag(m->flags[i].name, flag)) {
            *out = &m->flags[i].set;
        } else if (!is_system(flag) && strcasecmp(m->flags[i].name, flag) == 0 &&
                   m->flags[i].set.n) {
            /* "$Todo" and "$TODO": whether the server tells them apart is its business. */
            return 1;
        }
    }
    return 0;
}

static int eval(const struct mirror *m, const struct query *q, struct msgset *out);

/* out = uids - (the set of flag); negate false: out = the set. */
static int eval_flag(const struct mirror *m, const char *flag, bool negate, struct msgset *out)
{
    const struct msgset *s;
    int rc = flag_set(m, flag, &s);
    if (rc != 0)
        return rc;
    struct msgset empty;
    msgset_init(&empty);
    if (!s)
        s = &empty;
    return negate ? msgset_difference(out, &m->uids, s) : msgset_intersect(out, &m->uids, s);
}

static int eval_kids(const struct mirror *m, const struct query_view *v, struct msgset *out)
{
    struct msgset acc, kid, tmp;
    msgset_init(&acc);
    msgset_init(&kid);
    msgset_init(&tmp);
    /* A kid the server must answer decides (1), before one that only lacks flags (2). */
    int rc = eval(m, v->kids[0], &acc), why = 0;
    for (size_t i = 1; i < v->nkids && (rc == 0 || rc == 2); i++) {
        if (rc == 2)
            why = 2;
        rc = eval(m, v->kids[i], &kid);
        if (rc == 0)
            rc = v->op == QUERY_AND ? msgset_intersect(&tmp, &acc, &kid)
                                    : msgset_union(&tmp, &acc, &kid);
        if (rc == 0) {
            struct msgset swap = acc;
            acc = tmp;
            tmp = swap;
        }
    }
    if (rc == 0 && why)
        rc = why;
    if (rc == 0) {
        msgset_free(out);
        *out = acc;
        msgset_init(&acc);
    }
    msgset_free(&acc);
    msgset_free(&kid);
    msgset_free(&tmp);
    return rc;
}

static int eval(const struct mirror *m, const struct query *q, struct msgset *out)
{
    static const struct { enum query_op op; const char *flag; bool negate; } keys[] = {
        { QUERY_ANSWERED, "\\Answered", false }, { QUERY_UNANSWERED, "\\Answered", true },
        { QUERY_DELETED, "\\Deleted", false },   { QUERY_UNDELETED, "\\Deleted", true },
        { QUERY_DRAFT, "\\Draft", false },       { QUERY_UNDRAFT, "\\Draft", true },
        { QUERY_FLAGGED, "\\Flagged", false },   { QUERY_UNFLAGGED, "\\Flagged", true },
        { QUERY_SEEN, "\\Seen", false },         { QUERY_UNSEEN, "\\Seen", true },
    };
    struct query_view v;
    query_view(q, &v);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].op == v.op)
            return eval_flag(m, keys[i].flag, keys[i].negate, out);
    switch (v.op) {
    case QUERY_ALL:
        return msgset_copy(out, &m->uids);
    case QUERY_KEYWORD:
    case QUERY_UNKEYWORD:
        return eval_flag(m, v.str, v.op == QUERY_UNKEYWORD, out);
    case QUERY_UID:
        return msgset_intersect(out, &m->uids, v.set);
    case QUERY_AND:
    case QUERY_OR:
        return eval_kids(m, &v, out);
    case QUERY_NOT: {
        struct msgset kid;
        msgset_init(&kid);
        int rc = eval(m, v.kids[0], &kid);
        if (rc == 0)
            rc = msgset_difference(out, &m->uids, &kid);
        msgset_free(&kid);
        return rc;
    }
    default:
        return 1;   /* text, dates, sizes, MODSEQ, \Recent, sequence numbers: the server's */
    }
}

int mirror_eval(const struct mirror *m, const struct query *q, struct msgset *out)
{
    if (!exact(m))
        return 1;
    int rc = eval(m, q, out);
    if (rc != 0)
        msgset_clear(out);
    return rc;
}
