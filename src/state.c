/* state.c — the state database (see state.h): schema migrations numbered by PRAGMA user_version,
 * and every SQL statement imapscript runs, prepared once per connection and found by name. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

/* Two databases, each with its schema, its migrations and its statements: the journal (state.db:
 * what must survive a crash) and the cache (cache.db: what can be thrown away and fetched again).
 * Migration N (1-based) turns schema N-1 into N, in one transaction. Append, never edit. */
static const char *const journal_migrations[] = {
    /* 1: runs, the accounts they used (settings without secrets), the action journal (one
     * entry per state-changing step, written before it is sent) and the messages an entry
     * touched (their Message-ID and flags before the change). */
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL DEFAULT 'run',"          /* 'run' or 'undo' */
    "  undo_of INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    "  script TEXT, args TEXT, pid INTEGER,"
    "  started INTEGER NOT NULL, finished INTEGER,"
    "  status TEXT NOT NULL DEFAULT 'running',"    /* running, done, failed */
    "  exit_code INTEGER);"
    "CREATE TABLE accounts ("
    "  key TEXT PRIMARY KEY, settings TEXT NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE entries ("
    "  id INTEGER PRIMARY KEY,"
    "  run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  line TEXT, label TEXT, account TEXT NOT NULL,"
    "  verb TEXT NOT NULL, method TEXT,"           /* move/MOVE, move/COPY, store/STORE, ... */
    "  mailbox TEXT, uidvalidity INTEGER, uids TEXT, query TEXT,"
    "  dest_account TEXT, dest_mailbox TEXT, dest_uidvalidity INTEGER, dest_uidnext INTEGER,"
    "  dest_uids TEXT, mode TEXT, flags TEXT,"
    "  state TEXT NOT NULL,"                       /* pending, copied, done, failed, resolved */
    "  count INTEGER, outcome TEXT,"
    "  resolves INTEGER REFERENCES entries(id) ON DELETE SET NULL,"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX entries_by_run ON entries(run);"
    "CREATE INDEX entries_open ON entries(account) WHERE state IN ('pending', 'copied');"
    "CREATE TABLE messages ("
    "  entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,"
    "  uid INTEGER NOT NULL, message_id TEXT, flags TEXT, size INTEGER,"
    "  PRIMARY KEY (entry, uid)) WITHOUT ROWID;",
    /* 2: where a script's last completed run stopped in a mailbox: box:new_since_last_run()
     * starts at uidnext (kept here, not in the cache: losing it would make old mail new). */
    "CREATE TABLE marks ("
    "  script TEXT NOT NULL, account TEXT NOT NULL, mailbox TEXT NOT NULL,"
    "  uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  PRIMARY KEY (script, account, mailbox)) WITHOUT ROWID;",
};

/* The cache of incremental runs (cache.lua): per mailbox its UIDs and the UIDs of each flag as
 * set text (mirror.c) up to a modseq, the header fields match rules read (a field's lines as
 * HEADER.FIELDS (field) gives them, "" when absent), and per script what it read and where its
 * last completed run stopped (box:new_since_last_run()). sum: a checksum of the row, so that a
 * damaged file is noticed rather than believed. */
static const char *const cache_migrations[] = {
    "CREATE TABLE mailboxes ("
    "  id INTEGER PRIMARY KEY,"
    "  account TEXT NOT NULL, name TEXT NOT NULL,"
    "  uidvalidity INTEGER NOT NULL,"
    "  modseq INTEGER NOT NULL DEFAULT 0,"         /* every change up to it is in uids, flags */
    "  complete INTEGER NOT NULL DEFAULT 0,"       /* the flags of every UID are known */
    "  uids TEXT NOT NULL DEFAULT '',"
    "  wants_flags INTEGER NOT NULL DEFAULT 0,"    /* a search was sent for want of flags */
    "  synced INTEGER, sum INTEGER,"
    "  UNIQUE (account, name));"
    "CREATE TABLE flags ("
    "  mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
    "  flag TEXT NOT NULL, uids TEXT NOT NULL,"
    "  PRIMARY KEY (mailbox, flag)) WITHOUT ROWID;"
    "CREATE TABLE fields (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE headers ("
    "  mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
    "  field INTEGER NOT NULL REFERENCES fields(id),"
    "  uid INTEGER NOT NULL, value BLOB NOT NULL, sum INTEGER NOT NULL,"
    "  PRIMARY KEY (mailbox, field, uid)) WITHOUT ROWID;"
    "CREATE TABLE scripts ("
    "  script TEXT NOT NULL, account TEXT NOT NULL, mailbox TEXT NOT NULL,"
    "  fields TEXT NOT NULL,"                      /* header fields its match rules read */
    "  updated INTEGER NOT NULL,"
    "  PRIMARY KEY (script, account, mailbox)) WITHOUT ROWID;",
};

struct statement { const char *name, *sql; };

/* Every statement, by name. Parameters are named (:run, :uids); unbound ones are NULL. */
static const struct statement journal_statements[] = {
    { "run_begin",
      "INSERT INTO runs(kind, undo_of, script, args, pid, started)"
      " VALUES(COALESCE(:kind, 'run'), :undo_of, :script, :args, :pid, :started)" },
    { "run_end",
      "UPDATE runs SET finished = :finished, status = :status, exit_code = :exit_code"
      " WHERE id = :id" },
    { "run_get", "SELECT * FROM runs WHERE id = :id" },
    { "runs_recent", "SELECT * FROM runs ORDER BY id DESC LIMIT :limit" },
    /* The latest run that changed something and has not been undone. */
    { "run_last_undoable",
      "SELECT * FROM runs r WHERE EXISTS (SELECT 1 FROM entries e WHERE e.run = r.id"
      "   AND e.state IN ('done', 'resolved', 'copied', 'pending'))"
      " AND NOT EXISTS (SELECT 1 FROM runs u WHERE u.undo_of = r.id AND u.status = 'done')"
      " ORDER BY r.id DESC LIMIT 1" },
    { "run_undone_by",
      "SELECT id FROM runs WHERE undo_of = :id AND status = 'done' ORDER BY id DESC LIMIT 1" },
    { "run_totals",
      "SELECT verb, state, COUNT(*) AS entries, SUM(count) AS messages FROM entries"
      " WHERE run = :run GROUP BY verb, state ORDER BY verb, state" },
    { "runs_prune", "DELETE FROM runs WHERE finished IS NOT NULL AND finished < :before" },
    { "account_put",
      "INSERT INTO accounts(key, settings, updated) VALUES(:key, :settings, :updated)"
      " ON CONFLICT(key) DO UPDATE SET settings = excluded.settings, updated = excluded.updated" },
    { "account_get", "SELECT * FROM accounts WHERE key = :key" },
    { "entry_add",
      "INSERT INTO entries(run, line, label, account, verb, method, mailbox, uidvalidity, uids,"
      " query, dest_account, dest_mailbox, dest_uidvalidity, dest_uidnext, dest_uids, mode,"
      " flags, state, count, outcome, resolves, created, updated)"
      " VALUES(:run, :line, :label, :account, :verb, :method, :mailbox, :uidvalidity, :uids,"
      " :query, :dest_account, :dest_mailbox, :dest_uidvalidity, :dest_uidnext, :dest_uids,"
      " :mode, :flags, :state, :count, :outcome, :resolves, :now, :now)" },
    /* NULL leaves a field as it is. */
    { "entry_update",
      "UPDATE entries SET state = COALESCE(:state, state), uids = COALESCE(:uids, uids),"
      " uidvalidity = COALESCE(:uidvalidity, uidvalidity),"
      " dest_uids = COALESCE(:dest_uids, dest_uids),"
      " dest_uidvalidity = COALESCE(:dest_uidvalidity, dest_uidvalidity),"
      " dest_uidnext = COALESCE(:dest_uidnext, dest_uidnext),"
      " count = COALESCE(:count, count), outcome = COALESCE(:outcome, outcome),"
      " updated = :now WHERE id = :id" },
    { "entries_open",
      "SELECT * FROM entries WHERE account = :account AND state IN ('pending', 'copied')"
      " ORDER BY id" },
    { "entries_of_run", "SELECT * FROM entries WHERE run = :run ORDER BY id" },
    { "message_add",
      "INSERT OR REPLACE INTO messages(entry, uid, message_id, flags, size)"
      " VALUES(:entry, :uid, :message_id, :flags, :size)" },
    { "messages_of",
      "SELECT uid, message_id, flags, size FROM messages WHERE entry = :entry ORDER BY uid" },
    /* A pre-image streamed in chunks (journal.lua Entry:stage) waits in the connection's own
     * staged table and becomes the entry's at once, or never if the process dies first. */
    { "message_stage",
      "INSERT OR REPLACE INTO staged(entry, uid, message_id, flags, size)"
      " VALUES(:entry, :uid, :message_id, :flags, :size)" },
    { "message_unstage", "DELETE FROM staged WHERE entry = :entry AND uid = :uid" },
    { "messages_from_staged",
      "INSERT OR REPLACE INTO messages(entry, uid, message_id, flags, size)"
      " SELECT entry, uid, message_id, flags, size FROM staged WHERE entry = :entry" },
    { "staged_clear", "DELETE FROM staged WHERE entry = :entry" },
    /* Staged before its entry existed (journal.staging: a negative number of its own). */
    { "messages_from_staged_as",
      "INSERT OR REPLACE INTO messages(entry, uid, message_id, flags, size)"
      " SELECT :entry, uid, message_id, flags, size FROM staged WHERE entry = :staged" },
    { "mark_get",
      "SELECT * FROM marks WHERE script = :script AND account = :account AND mailbox = :mailbox" },
    { "mark_put",
      "INSERT INTO marks(script, account, mailbox, uidvalidity, uidnext, updated)"
      " VALUES(:script, :account, :mailbox, :uidvalidity, :uidnext, :updated)"
      " ON CONFLICT(script, account, mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
      " uidnext = excluded.uidnext, updated = excluded.updated" },
};

static const struct statement cache_statements[] = {
    { "mailbox_get", "SELECT * FROM mailboxes WHERE account = :account AND name = :name" },
    { "mailbox_add",
      "INSERT INTO mailboxes(account, name, uidvalidity) VALUES(:account, :name, :uidvalidity)"
      " ON CONFLICT(account, name) DO NOTHING" },
    /* Another UIDVALIDITY: everything held of the old mailbox goes. */
    { "mailbox_reset",
      "UPDATE mailboxes SET uidvalidity = :uidvalidity, modseq = 0, complete = 0, uids = '',"
      " synced = NULL, sum = NULL WHERE id = :id" },
    { "mailbox_headers_drop", "DELETE FROM headers WHERE mailbox = :id" },
    { "mailbox_flags_drop", "DELETE FROM flags WHERE mailbox = :id" },
    { "mailbox_save",
      "UPDATE mailboxes SET modseq = :modseq, complete = :complete, uids = :uids,"
      " wants_flags = :wants_flags, synced = :synced, sum = :sum"
      " WHERE id = :id AND uidvalidity = :uidvalidity" },
    { "flag_save", "INSERT INTO flags(mailbox, flag, uids) VALUES(:mailbox, :flag, :uids)" },
    { "flags_of", "SELECT flag, uids FROM flags WHERE mailbox = :mailbox ORDER BY flag" },
    { "field_add", "INSERT INTO fields(name) VALUES(:name) ON CONFLICT(name) DO NOTHING" },
    { "field_get", "SELECT id FROM fields WHERE name = :name" },
    { "header_put",
      "INSERT OR IGNORE INTO headers(mailbox, field, uid, value, sum)"
      " VALUES(:mailbox, :field, :uid, :value, :sum)" },
    { "headers_in",
      "SELECT uid, value, sum FROM headers WHERE mailbox = :mailbox AND field = :field"
      " AND uid BETWEEN :lo AND :hi ORDER BY uid" },
    { "headers_evict",
      "DELETE FROM headers WHERE mailbox = :mailbox AND field = :field"
      " AND uid BETWEEN :lo AND :hi" },
    { "header_fields_of",
      "SELECT DISTINCT f.id, f.name FROM fields f WHERE EXISTS"
      " (SELECT 1 FROM headers h WHERE h.mailbox = :mailbox AND h.field = f.id)" },
    { "script_fields",
      "SELECT fields FROM scripts WHERE script = :script AND account = :account"
      " AND mailbox = :mailbox" },
    { "script_fields_put",
      "INSERT INTO scripts(script, account, mailbox, fields, updated)"
      " VALUES(:script, :account, :mailbox, :fields, :updated)"
      " ON CONFLICT(script, account, mailbox) DO UPDATE SET fields = excluded.fields,"
      " updated = excluded.updated" },
    { "cache_stats",
      "SELECT m.account, m.name, m.uids, m.synced, m.complete,"
      " (SELECT COUNT(DISTINCT uid) FROM headers h WHERE h.mailbox = m.id) AS headers,"
      " (SELECT COALESCE(SUM(length(value)), 0) FROM headers h WHERE h.mailbox = m.id) AS bytes,"
      " (SELECT COALESCE(SUM(length(uids)), 0) FROM flags f WHERE f.mailbox = m.id) AS flag_bytes"
      " FROM mailboxes m ORDER BY m.account, m.name" },
};

static const struct schema {
    const char *name;               /* in messages: "state database", "cache database" */
    const char *const *migrations;
    int nmigrations;
    const struct statement *statements;
    int nstatements;
    const char *synchronous;
    const char *temp;               /* tables of one connection, gone when it closes, or NULL */
} schemas[] = {
#define N(a) ((int)(sizeof a / sizeof a[0]))
    /* FULL: a committed journal entry survives a power cut, not only a crash of this process;
     * it costs one fsync per commit. The cache needs only to stay consistent: NORMAL. */
    [STATE_JOURNAL] = { "state database", journal_migrations, N(journal_migrations),
                        journal_statements,
                        N(journal_statements), "PRAGMA synchronous = FULL",
                        "CREATE TEMP TABLE staged ("
                        "  entry INTEGER NOT NULL, uid INTEGER NOT NULL, message_id TEXT,"
                        "  flags TEXT, size INTEGER, PRIMARY KEY (entry, uid)) WITHOUT ROWID" },
    [STATE_CACHE] = { "cache database", cache_migrations, N(cache_migrations), cache_statements,
                      N(cache_statements), "PRAGMA synchronous = NORMAL", NULL },
#undef N
};

struct state {
    sqlite3 *db;
    char *path;
    const struct schema *schema;
    sqlite3_stmt **stmts;           /* one per statement of the schema, prepared on first use */
    bool in_tx;
};

int state_schema_latest(void) { return schemas[STATE_JOURNAL].nmigrations; }

const char *const *state_statement_names_of(enum state_schema schema)
{
    enum { J = sizeof journal_statements / sizeof journal_statements[0],
           C = sizeof cache_statements / sizeof cache_statements[0] };
    static const char *names[2][(J > C ? J : C) + 1];
    const struct schema *sc = &schemas[schema];
    for (int i = 0; i < sc->nstatements; i++)
        names[schema][i] = sc->statements[i].name;
    names[schema][sc->nstatements] = NULL;
    return names[schema];
}

const char *const *state_statement_names(void)
{
    return state_statement_names_of(STATE_JOURNAL);
}

/* A STATE_ERR_* code for an SQLite result code. */
static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY: case SQLITE_LOCKED: return STATE_ERR_BUSY;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: return STATE_ERR_CORRUPT;
    case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_READONLY: case SQLITE_PERM:
        return STATE_ERR_IO;
    case SQLITE_CANTOPEN: return STATE_ERR_OPEN;
    case SQLITE_NOMEM: return STATE_ERR_NOMEM;
    default: return STATE_ERR_SQL;
    }
}

/* What a database is called in messages. */
static const char *db_name(const struct state *st)
{
    return st && st->schema ? st->schema->name : "state database";
}

/* Fills err with "state database PATH: what: SQLite's words" and returns the code for rc. */
static int fail(struct state *st, const char *path, int rc, const char *what, char *err,
                size_t errlen)
{
    const char *why = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    if (map_rc(rc) == STATE_ERR_BUSY)
        why = "it is locked by another process";
    snprintf(err, errlen, "%s %s: %s%s%s", db_name(st), path, what ? what : "", what ? ": " : "",
             why);
    return map_rc(rc);
}

static int exec_sql(struct state *st, const char *sql, const char *what, char *err,
                    size_t errlen)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(st, st->path, rc, what, err, errlen);
}

/* The single integer a PRAGMA returns, or a code. */
static int pragma_int(struct state *st, const char *sql, int *out, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_OK || rc == SQLITE_DONE ? 0 : fail(st, st->path, rc, NULL, err, errlen);
}

/* Brings the schema to the latest version, one transaction per migration. */
static int migrate(struct state *st, char *err, size_t errlen)
{
    int version = 0;
    int rc = pragma_int(st, "PRAGMA user_version", &version, err, errlen);
    if (rc < 0)
        return rc;
    int latest = st->schema->nmigrations;
    if (version > latest) {
        snprintf(err, errlen, "%s %s: schema version %d is newer than this imapscript knows "
                 "(%d)", db_name(st), st->path, version, latest);
        return STATE_ERR_SCHEMA;
    }
    for (int v = version; v < latest; v++) {
        char what[64], bump[64];
        snprintf(what, sizeof what, "migration to schema %d", v + 1);
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if ((rc = exec_sql(st, "BEGIN IMMEDIATE", what, err, errlen)) < 0)
            return rc;
        /* Another process may have migrated while we waited for the lock. */
        int now = 0;
        if ((rc = pragma_int(st, "PRAGMA user_version", &now, err, errlen)) < 0 ||
            (now == v && ((rc = exec_sql(st, st->schema->migrations[v], what, err, errlen)) < 0 ||
                          (rc = exec_sql(st, bump, what, err, errlen)) < 0)) ||
            (rc = exec_sql(st, "COMMIT", what, err, errlen)) < 0) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if (now > v)
            v = now - 1;
    }
    return 0;
}

int state_open(const char *path, int busy_ms, struct state **out, char *err, size_t errlen)
{
    return state_open_schema(path, STATE_JOURNAL, busy_ms, out, err, errlen);
}

int state_open_schema(const char *path, enum state_schema schema, int busy_ms,
                      struct state **out, char *err, size_t errlen)
{
    *out = NULL;
    /* Created by us first, so SQLite (and its -wal and -shm files, which copy the mode) keep
     * the mode 0600. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", schemas[schema].name, path, strerror(errno));
        return STATE_ERR_OPEN;
    }
    close(fd);
    struct state *st = calloc(1, sizeof *st);
    if (st) {
        st->schema = &schemas[schema];
        st->stmts = calloc((size_t)st->schema->nstatements, sizeof *st->stmts);
    }
    if (!st || !st->stmts || !(st->path = strdup(path))) {
        if (st)
            free(st->stmts);
        free(st);
        snprintf(err, errlen, "%s %s: out of memory", schemas[schema].name, path);
        return STATE_ERR_NOMEM;
    }
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = fail(st, path, rc, NULL, err, errlen);
        state_close(st);
        return rc;
    }
    sqlite3_busy_timeout(st->db, busy_ms > 0 ? busy_ms : 0);
    sqlite3_extended_result_codes(st->db, 1);
    /* WAL: readers never block the writer. */
    if ((rc = exec_sql(st, "PRAGMA journal_mode = WAL", NULL, err, errlen)) < 0 ||
        (rc = exec_sql(st, st->schema->synchronous, NULL, err, errlen)) < 0 ||
        (rc = exec_sql(st, "PRAGMA foreign_keys = ON", NULL, err, errlen)) < 0 ||
        (rc = migrate(st, err, errlen)) < 0 ||
        (st->schema->temp && (rc = exec_sql(st, st->schema->temp, NULL, err, errlen)) < 0)) {
        state_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void state_close(struct state *st)
{
    if (!st)
        return;
    if (st->in_tx)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; st->stmts && i < st->schema->nstatements; i++)
        sqlite3_finalize(st->stmts[i]);
    sqlite3_close(st->db);
    free(st->stmts);
    free(st->path);
    free(st);
}

int state_version(struct state *st)
{
    int v = 0;
    char err[200];
    pragma_int(st, "PRAGMA user_version", &v, err, sizeof err);
    return v;
}

/* The prepared statement called name (prepared on first use), or NULL with err filled. */
static sqlite3_stmt *statement(struct state *st, const char *name, int *code, char *err,
                               size_t errlen)
{
    const struct statement *statements = st->schema->statements;
    for (int i = 0; i < st->schema->nstatements; i++) {
        if (strcmp(statements[i].name, name) != 0)
            continue;
        if (!st->stmts[i]) {
            int rc = sqlite3_prepare_v3(st->db, statements[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                        &st->stmts[i], NULL);
            if (rc != SQLITE_OK) {
                *code = fail(st, st->path, rc, name, err, errlen);
                return NULL;
            }
        }
        return st->stmts[i];
    }
    snprintf(err, errlen, "state database: no statement called \"%s\"", name);
    *code = STATE_ERR_USAGE;
    return NULL;
}

int state_params(struct state *st, const char *name, const char **names, int max, char *err,
                 size_t errlen)
{
    int code = 0;
    sqlite3_stmt *s = statement(st, name, &code, err, errlen);
    if (!s)
        return code;
    int n = sqlite3_bind_parameter_count(s);
    for (int i = 0; i < n && i < max; i++) {
        const char *p = sqlite3_bind_parameter_name(s, i + 1);
        names[i] = p ? p + 1 : "";     /* without the ':' */
    }
    return n;
}

static int bind(sqlite3_stmt *s, int i, const struct state_value *v)
{
    switch (v->type) {
    case STATE_T_INT: return sqlite3_bind_int64(s, i, v->i);
    case STATE_T_REAL: return sqlite3_bind_double(s, i, v->r);
    case STATE_T_TEXT:
        return sqlite3_bind_text(s, i, v->s, v->len ? (int)v->len : -1, SQLITE_TRANSIENT);
    default: return sqlite3_bind_null(s, i);
    }
}

/* Calls fn with the current row of s. Returns its answer. */
static int deliver_row(sqlite3_stmt *s, state_row_fn fn, void *ud)
{
    enum { MAXCOLS = 40 };
    int n = sqlite3_column_count(s);
    if (n > MAXCOLS)
        n = MAXCOLS;
    const char *names[MAXCOLS];
    struct state_value vals[MAXCOLS];
    for (int c = 0; c < n; c++) {
        names[c] = sqlite3_column_name(s, c);
        memset(&vals[c], 0, sizeof vals[c]);
        switch (sqlite3_column_type(s, c)) {
        case SQLITE_INTEGER:
            vals[c].type = STATE_T_INT;
            vals[c].i = sqlite3_column_int64(s, c);
            break;
        case SQLITE_FLOAT:
            vals[c].type = STATE_T_REAL;
            vals[c].r = sqlite3_column_double(s, c);
            break;
        case SQLITE_NULL:
            vals[c].type = STATE_T_NULL;
            break;
        default:
            vals[c].type = STATE_T_TEXT;
            vals[c].s = (const char *)sqlite3_column_text(s, c);
            vals[c].len = (size_t)sqlite3_column_bytes(s, c);
            if (!vals[c].s)
                vals[c].type = STATE_T_NULL;
            break;
        }
    }
    return fn(ud, n, names, vals);
}

int state_exec(struct state *st, const char *name, const struct state_value *args, int nargs,
               state_row_fn fn, void *ud, char *err, size_t errlen)
{
    int code = 0;
    sqlite3_stmt *s = statement(st, name, &code, err, errlen);
    if (!s)
        return code;
    if (nargs != sqlite3_bind_parameter_count(s)) {
        snprintf(err, errlen, "state database: %s takes %d values, not %d", name,
                 sqlite3_bind_parameter_count(s), nargs);
        return STATE_ERR_USAGE;
    }
    int rc = SQLITE_OK;
    for (int i = 0; i < nargs && rc == SQLITE_OK; i++)
        rc = bind(s, i + 1, &args[i]);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && fn && deliver_row(s, fn, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    int result = rc == SQLITE_DONE ? 0 : fail(st, st->path, rc, name, err, errlen);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return result;
}

int64_t state_last_id(struct state *st)
{
    return sqlite3_last_insert_rowid(st->db);
}

int state_begin(struct state *st, char *err, size_t errlen)
{
    int rc = exec_sql(st, "BEGIN IMMEDIATE", "begin", err, errlen);
    st->in_tx = rc == 0;
    return rc;
}

int state_commit(struct state *st, char *err, size_t errlen)
{
    int rc = exec_sql(st, "COMMIT", "commit", err, errlen);
    if (rc < 0)
        state_rollback(st);
    st->in_tx = false;
    return rc;
}

void state_rollback(struct state *st)
{
    if (st->in_tx)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_tx = false;
}

uint32_t state_checksum(uint32_t sum, const void *data, size_t len)
{
    /* FNV-1a: a damaged byte changes it; not meant against anyone who writes the file. */
    const unsigned char *p = data;
    if (sum == 0)
        sum = 2166136261u;
    for (size_t i = 0; i < len; i++)
        sum = (sum ^ p[i]) * 16777619u;
    return sum;
}
