/* mirror.h — what imapscript keeps of one mailbox between runs and keeps exact while it is
 * selected: its UIDVALIDITY, its UIDs as a set, the flags of its messages as one UID set per flag,
 * and the HIGHESTMODSEQ up to which every change the server reported has been applied (RFC 7162
 * §6). The session hands it every response of the selected mailbox (session_select_watch_start);
 * searches on what it holds (ALL, UID sets, flag keys, AND/OR/NOT of them) are answered here.
 *
 *   struct mirror *m = mirror_new();
 *   mirror_load(m, 1795982026, 1234, true);  mirror_load_uids(m, "1:500", ...);  ...
 *   mirror_begin_select(m, true);          // SELECT ... (QRESYNC (1795982026 1234 1:500))
 *   ... every response of the mailbox: mirror_observe(m, r) ...
 *   mirror_eval(m, query, &out)            // 0: answered; 1: ask the server
 *
 * Synced means: the sync the caller sent after the SELECT (the QRESYNC reply itself, a
 * CHANGEDSINCE or full FETCH of flags, ending with the command whose tag mirror_expect names)
 * completed and the mirror then held as many UIDs as the server's EXISTS. Exact means synced,
 * still as many UIDs as EXISTS, and nothing seen that could not be applied. The stored modseq
 * only moves while exact: a later run that resynchronises from it misses no change. */
#ifndef IMAPSCRIPT_MIRROR_H
#define IMAPSCRIPT_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgset.h"
#include "parser.h"

struct mirror;
struct query;

struct mirror_info {
    uint32_t uidvalidity;       /* 0: unknown */
    uint64_t modseq;            /* every change up to it is applied (0: none known) */
    uint64_t select_modseq;     /* HIGHESTMODSEQ of the last SELECT (0: none, NOMODSEQ) */
    uint32_t select_uidnext;    /* UIDNEXT of the last SELECT */
    uint32_t exists;            /* the server's message count, as told */
    uint64_t count;             /* UIDs held */
    bool flags_complete;        /* the flags of every UID held are known */
    bool selected;              /* between a SELECT's OK and the next SELECT, CLOSE, [CLOSED] */
    bool synced, exact;
    bool reset;                 /* the last SELECT found another UIDVALIDITY: all was dropped */
    bool broken;                /* a response could not be applied (until the next SELECT) */
    bool nomodseq;              /* the mailbox keeps no mod-sequences ([NOMODSEQ]) */
};

/* NULL when out of memory. */
struct mirror *mirror_new(void);
void mirror_free(struct mirror *m);

/* A saved state: forgets the messages, then takes these (UIDs and flags through the two below).
 * During a selection it stays selected, not synced until the sync the caller sends next. */
void mirror_load(struct mirror *m, uint32_t uidvalidity, uint64_t modseq, bool flags_complete);
/* Set text ("1:5,9"); 0, or -EINVAL with err filled, or -ENOMEM. */
int mirror_load_uids(struct mirror *m, const char *text, size_t len, char *err, size_t errlen);
/* The UIDs having flag (as the server spells it); they must be among the UIDs loaded. */
int mirror_load_flag(struct mirror *m, const char *flag, const char *text, size_t len, char *err,
                     size_t errlen);
/* Flags are no longer known for every message (a server without CONDSTORE). */
void mirror_forget_flags(struct mirror *m);

void mirror_info(const struct mirror *m, struct mirror_info *out);
const struct msgset *mirror_uids(const struct mirror *m);
/* The flags held: names and UID sets, i < mirror_nflags (a flag nobody has may have an empty
 * set). */
size_t mirror_nflags(const struct mirror *m);
const char *mirror_flag_name(const struct mirror *m, size_t i);
const struct msgset *mirror_flag_set(const struct mirror *m, size_t i);
/* UIDs removed (expunged, or missing from mirror_restrict) since load or the last take: moved to
 * out (caller-initialised, cleared first). */
int mirror_take_removed(struct mirror *m, struct msgset *out);

/* A SELECT of the mailbox was sent: not synced until its sync completes. With qresync the
 * SELECT's own reply is the sync (RFC 7162 §3.2.5); else mirror_expect names its last command. */
void mirror_begin_select(struct mirror *m, bool qresync);
/* The command tagged tag ends the sync: once it is answered OK, the mirror is synced if it holds
 * as many UIDs as EXISTS. */
void mirror_expect(struct mirror *m, const char *tag);
/* A response of the mailbox (untagged, or a tagged reply while it is selected). */
void mirror_observe(struct mirror *m, const struct imap_response *r);
/* The selection ended (CLOSE, another SELECT): no more changes are reported. */
void mirror_end_select(struct mirror *m);
/* After UID SEARCH ALL: drops the UIDs not in all. Returns how many UIDs of all are not held
 * (their flags must be fetched: each FETCH with FLAGS adds its UID). -ENOMEM on failure. */
int64_t mirror_restrict(struct mirror *m, const struct msgset *all);
/* Marks the mirror synced at the last SELECT's HIGHESTMODSEQ (after a repair the caller ran);
 * returns whether it is exact. */
bool mirror_sync_done(struct mirror *m);

/* The UIDs matching q into out (caller-initialised, cleared first): 0; 1 when q needs the server
 * (not exact, or a key not kept here: text, dates, sizes, \Recent, sequence numbers, a keyword
 * held in other capitalisations); 2 when only the flags are missing (a mirror of UIDs only);
 * -ENOMEM. */
int mirror_eval(const struct mirror *m, const struct query *q, struct msgset *out);

#endif
