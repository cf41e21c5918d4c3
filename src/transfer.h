/* transfer.h — messages copied from one connection to another as they arrive: the source's
 * UID FETCH streamed into APPENDs on the target (batched into MULTIAPPENDs, RFC 3502, when it
 * offers them), flags and internal dates kept; which source messages the target confirmed is
 * known command by command, so that only those are ever removed. Memory stays bounded
 * whatever the sizes: the source is paused while the target is behind. */
#ifndef IMAPSCRIPT_TRANSFER_H
#define IMAPSCRIPT_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "msgset.h"
#include "session.h"

struct transfer_opts {
    bool multiappend;               /* several messages per APPEND (the target offers MULTIAPPEND) */
    size_t batch_messages;          /* at most this many per APPEND (0: 100) */
    uint64_t batch_bytes;           /* a new APPEND once one holds this many bytes (0: 64 MiB) */
};

struct transfer;

/* Queues UID FETCH set (UID FLAGS INTERNALDATE BODY.PEEK[]) on src (a mailbox selected there)
 * whose messages are appended to mailbox (UTF-8) on dst as they arrive, and hands it to the
 * loop. Returns NULL when out of memory. Wait with transfer_wait; free with transfer_free. */
struct transfer *transfer_start(struct session *src, const struct msgset *set,
                                struct session *dst, const char *mailbox,
                                const struct transfer_opts *opts);
/* True once the FETCH is complete and every APPEND answered. */
bool transfer_done(struct transfer *t);
/* Runs the loop until transfer_done. 0, or SESSION_ERR_USAGE inside a loop callback. */
int transfer_wait(struct transfer *t);
/* The source FETCH (for its result and error). */
struct session_cmd *transfer_fetch(const struct transfer *t);

struct transfer_result {
    const struct msgset *copied;    /* source UIDs the target confirmed */
    const struct msgset *uids;      /* their UIDs on the target (APPENDUID), maybe empty */
    uint32_t uidvalidity;           /* of the target mailbox (APPENDUID), 0 when not said */
    uint64_t messages, bytes;       /* appended and confirmed */
    int code;                       /* 0, or the first failure's SESSION_ERR_* */
    const char *error;              /* "" or the first failure, for people */
    bool trycreate;                 /* an APPEND failed with [TRYCREATE] */
};
/* Valid once transfer_done; points into t. */
void transfer_result(const struct transfer *t, struct transfer_result *out);
void transfer_free(struct transfer *t);

#endif
