/* state.h — the state database (SQLite in WAL mode): the one module that owns its schema, the
 * migrations between schema versions and every SQL statement. Callers run statements by name.
 *
 *   struct state *st; char err[300];
 *   if (state_open(path, 5000, &st, err, sizeof err) < 0) ...;      // created and migrated
 *   struct state_value a[] = { STATE_INT(run), STATE_TEXT("INBOX") };
 *   state_exec(st, "entries_of_run", a, 2, row_fn, ud, err, sizeof err);
 *   state_close(st);
 *
 * A new table is one more string at the end of its schema's migrations array in state.c and its
 * statements in that schema's statements array: nothing else changes. */
#ifndef IMAPSCRIPT_STATE_H
#define IMAPSCRIPT_STATE_H

#include <stddef.h>
#include <stdint.h>

struct state;

/* Error codes (negative). */
enum {
    STATE_ERR_OPEN    = -1,   /* cannot open or create the file */
    STATE_ERR_BUSY    = -2,   /* another process held the database longer than busy_ms */
    STATE_ERR_CORRUPT = -3,   /* not a database, or a damaged one */
    STATE_ERR_SCHEMA  = -4,   /* written by a newer imapscript (schema version too high) */
    STATE_ERR_IO      = -5,   /* disk full, read-only, I/O error */
    STATE_ERR_USAGE   = -6,   /* unknown statement name, wrong number of values */
    STATE_ERR_NOMEM   = -7,
    STATE_ERR_SQL     = -8,   /* anything else SQLite refused */
};

enum state_type { STATE_T_NULL, STATE_T_INT, STATE_T_REAL, STATE_T_TEXT };

/* A value bound to a statement or read from a row. Text need not be NUL-terminated when read
 * (len is its length) but is; when bound, len may be 0 for strlen. */
struct state_value {
    enum state_type type;
    int64_t i;
    double r;
    const char *s;
    size_t len;
};
#define STATE_NULLV           ((struct state_value){ .type = STATE_T_NULL })
#define STATE_INT(v)          ((struct state_value){ .type = STATE_T_INT, .i = (v) })
#define STATE_REAL(v)         ((struct state_value){ .type = STATE_T_REAL, .r = (v) })
#define STATE_TEXT(v)         ((struct state_value){ .type = STATE_T_TEXT, .s = (v) })

/* The databases state.c knows: the journal (state.db) and the cache of incremental runs
 * (cache.db), each with its own schema, migrations and statements. */
enum state_schema { STATE_JOURNAL, STATE_CACHE };

/* The schema version of the journal this build creates and understands. */
int state_schema_latest(void);

/* Opens (creating it with mode 0600 if missing) the database at path, turns on WAL, waits up to
 * busy_ms for other processes' locks, and migrates the schema to the latest version, each
 * migration in one transaction. Returns 0 with *out, or a STATE_ERR_* code with err filled
 * ("state database /x/state.db: file is not a database"); *out is NULL then. */
int state_open(const char *path, int busy_ms, struct state **out, char *err, size_t errlen);
/* The same for a database of another schema. */
int state_open_schema(const char *path, enum state_schema schema, int busy_ms,
                      struct state **out, char *err, size_t errlen);
/* Closes it (NULL is fine); an open transaction is rolled back. */
void state_close(struct state *st);
/* The schema version of the open database (after migration: state_schema_latest()). */
int state_version(struct state *st);

/* Called for each row: the column names and values (valid during the call only). Return
 * non-zero to stop reading rows. */
typedef int (*state_row_fn)(void *ud, int ncols, const char *const *names,
                            const struct state_value *vals);

/* Runs the statement called name (prepared once, kept for the next call) with nargs values
 * bound to ?1..?n, calling fn (may be NULL) for each row. Returns 0 or a STATE_ERR_* code. */
int state_exec(struct state *st, const char *name, const struct state_value *args, int nargs,
               state_row_fn fn, void *ud, char *err, size_t errlen);
/* The names (without ':') of statement name's parameters, in binding order, into names[0..max);
 * returns how many it has, or a STATE_ERR_* code. The strings live as long as st. */
int state_params(struct state *st, const char *name, const char **names, int max, char *err,
                 size_t errlen);
/* The rowid of the last INSERT. */
int64_t state_last_id(struct state *st);

/* BEGIN IMMEDIATE (the write lock is taken now, waiting up to busy_ms) / COMMIT / ROLLBACK.
 * Statements outside a transaction commit on their own. */
int state_begin(struct state *st, char *err, size_t errlen);
int state_commit(struct state *st, char *err, size_t errlen);
void state_rollback(struct state *st);

/* The names of the journal's statements, NULL-terminated (for tests and the binding's
 * messages). */
const char *const *state_statement_names(void);
/* The same for a schema. */
const char *const *state_statement_names_of(enum state_schema schema);

/* A 32-bit checksum of data[0..len) continuing sum (0 to start): what the cache stores beside
 * its rows to notice damage. */
uint32_t state_checksum(uint32_t sum, const void *data, size_t len);

#endif
