/* test_state.c — the state database (state.c) and run locks (runlock.c) on files in a temporary
 * directory: creation and migration, named statements, and the failures a run must survive
 * (not a database, a newer schema, locked by another writer). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "runlock.h"
#include "state.h"

static char dir[] = "/tmp/test_state.XXXXXX";

static const char *path_in(const char *name)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static int count_rows(void *ud, int n, const char *const *names, const struct state_value *v)
{
    (void)n; (void)names; (void)v;
    (*(int *)ud)++;
    return 0;
}

struct run_row { int64_t id; char script[64]; bool has_finished; };

static int read_run(void *ud, int n, const char *const *names, const struct state_value *v)
{
    struct run_row *r = ud;
    for (int c = 0; c < n; c++) {
        if (!strcmp(names[c], "id"))
            r->id = v[c].i;
        else if (!strcmp(names[c], "script") && v[c].type == STATE_T_TEXT)
            snprintf(r->script, sizeof r->script, "%s", v[c].s);
        else if (!strcmp(names[c], "finished"))
            r->has_finished = v[c].type != STATE_T_NULL;
    }
    return 0;
}

static void test_create_and_migrate(void)
{
    char err[600];
    struct state *st;
    const char *p = path_in("a.db");
    CHECK_INT(state_open(p, 1000, &st, err, sizeof err), 0);
    CHECK_INT(state_version(st), state_schema_latest());
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    state_close(st);
    /* Opening again migrates nothing and keeps what is there. */
    CHECK_INT(state_open(p, 1000, &st, err, sizeof err), 0);
    CHECK_INT(state_version(st), state_schema_latest());
    state_close(st);
}

static void test_statements(void)
{
    char err[600];
    struct state *st;
    CHECK_INT(state_open(path_in("b.db"), 1000, &st, err, sizeof err), 0);
    const char *names[40];
    int n = state_params(st, "run_begin", names, 40, err, sizeof err);
    CHECK_INT(n, 6);
    /* kind, undo_of, script, args, pid, started */
    struct state_value a[6] = { STATE_NULLV, STATE_NULLV, STATE_TEXT("rules.lua"), STATE_NULLV,
                                STATE_INT(42), STATE_INT(1000) };
    CHECK_INT(state_exec(st, "run_begin", a, 6, NULL, NULL, err, sizeof err), 0);
    int64_t id = state_last_id(st);
    CHECK(id > 0);
    struct run_row r = { 0 };
    struct state_value q[1] = { STATE_INT(id) };
    CHECK_INT(state_exec(st, "run_get", q, 1, read_run, &r, err, sizeof err), 0);
    CHECK_INT(r.id, id);
    CHECK_STR(r.script, "rules.lua");
    CHECK(!r.has_finished);
    /* A transaction rolled back leaves nothing. */
    CHECK_INT(state_begin(st, err, sizeof err), 0);
    CHECK_INT(state_exec(st, "run_begin", a, 6, NULL, NULL, err, sizeof err), 0);
    state_rollback(st);
    int rows = 0;
    struct state_value lim[1] = { STATE_INT(10) };
    CHECK_INT(state_exec(st, "runs_recent", lim, 1, count_rows, &rows, err, sizeof err), 0);
    CHECK_INT(rows, 1);
    /* Wrong use is a usage error with a message, not a crash. */
    CHECK_INT(state_exec(st, "no_such", NULL, 0, NULL, NULL, err, sizeof err), STATE_ERR_USAGE);
    CHECK(strstr(err, "no_such") != NULL);
    CHECK_INT(state_exec(st, "run_get", NULL, 0, NULL, NULL, err, sizeof err), STATE_ERR_USAGE);
    /* Every statement compiles against the schema. */
    for (const char *const *s = state_statement_names(); *s; s++)
        CHECK(state_params(st, *s, names, 40, err, sizeof err) >= 0);
    state_close(st);
}

/* Messages of entry id as messages_of reads them (any connection). */
static int preimage_rows(struct state *st, int64_t id)
{
    char err[600];
    int rows = 0;
    struct state_value e[1] = { STATE_INT(id) };
    CHECK_INT(state_exec(st, "messages_of", e, 1, count_rows, &rows, err, sizeof err), 0);
    return rows;
}

static void stage(struct state *st, int64_t id, int64_t uid)
{
    char err[600];
    struct state_value m[5] = { STATE_INT(id), STATE_INT(uid), STATE_TEXT("<a@b>"),
                                STATE_TEXT("\\Seen"), STATE_INT(100) };
    CHECK_INT(state_exec(st, "message_stage", m, 5, NULL, NULL, err, sizeof err), 0);
}

/* A streamed pre-image: staged rows are the connection's own, seen by no one until they become
 * the entry's at once (less the ones dropped); a connection closed before that leaves none. */
static void test_staged_preimage(void)
{
    char err[600];
    const char *p = path_in("staged.db");
    struct state *st, *other;
    CHECK_INT(state_open(p, 1000, &st, err, sizeof err), 0);
    CHECK_INT(state_open(p, 1000, &other, err, sizeof err), 0);
    sqlite3 *raw;
    CHECK_INT(sqlite3_open(p, &raw), SQLITE_OK);
    CHECK_INT(sqlite3_exec(raw, "INSERT INTO runs(id, started) VALUES(1, 0);"
        "INSERT INTO entries(id, run, account, verb, state, created, updated)"
        " VALUES(7, 1, 'a', 'move', 'pending', 0, 0), (8, 1, 'a', 'store', 'pending', 0, 0)",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    stage(st, 7, 10);
    stage(st, 7, 11);
    stage(st, 7, 12);
    CHECK_INT(preimage_rows(st, 7), 0);
    CHECK_INT(preimage_rows(other, 7), 0);
    struct state_value drop[2] = { STATE_INT(7), STATE_INT(11) };
    CHECK_INT(state_exec(st, "message_unstage", drop, 2, NULL, NULL, err, sizeof err), 0);
    struct state_value e[1] = { STATE_INT(7) };
    CHECK_INT(state_exec(st, "messages_from_staged", e, 1, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(state_exec(st, "staged_clear", e, 1, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(preimage_rows(other, 7), 2);
    /* Staged for entry 8, then the process is gone. */
    stage(st, 8, 20);
    state_close(st);
    CHECK_INT(state_open(p, 1000, &st, err, sizeof err), 0);
    struct state_value e8[1] = { STATE_INT(8) };
    CHECK_INT(state_exec(st, "messages_from_staged", e8, 1, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(preimage_rows(st, 8), 0);
    CHECK_INT(preimage_rows(st, 7), 2);
    state_close(st);
    state_close(other);
}

/* The cache database: its own schema, every statement compiles, a mailbox's rows go with it,
 * and the checksum notices a changed byte. */
static void test_cache_schema(void)
{
    char err[600];
    struct state *st;
    const char *p = path_in("cache.db");
    CHECK_INT(state_open_schema(p, STATE_CACHE, 1000, &st, err, sizeof err), 0);
    const char *names[40];
    for (const char *const *s = state_statement_names_of(STATE_CACHE); *s; s++)
        CHECK(state_params(st, *s, names, 40, err, sizeof err) >= 0);
    /* the journal's statements are not the cache's */
    CHECK_INT(state_exec(st, "run_get", NULL, 0, NULL, NULL, err, sizeof err), STATE_ERR_USAGE);
    struct state_value add[3] = { STATE_TEXT("a@h"), STATE_TEXT("INBOX"), STATE_INT(7) };
    CHECK_INT(state_exec(st, "mailbox_add", add, 3, NULL, NULL, err, sizeof err), 0);
    int64_t id = state_last_id(st);
    struct state_value f[1] = { STATE_TEXT("SUBJECT") };
    CHECK_INT(state_exec(st, "field_add", f, 1, NULL, NULL, err, sizeof err), 0);
    int64_t fid = state_last_id(st);
    struct state_value h[5] = { STATE_INT(id), STATE_INT(fid), STATE_INT(3), STATE_TEXT("Subject: x\r\n"),
                                STATE_INT(1) };
    CHECK_INT(state_exec(st, "header_put", h, 5, NULL, NULL, err, sizeof err), 0);
    int rows = 0;
    struct state_value in[4] = { STATE_INT(id), STATE_INT(fid), STATE_INT(1), STATE_INT(9) };
    CHECK_INT(state_exec(st, "headers_in", in, 4, count_rows, &rows, err, sizeof err), 0);
    CHECK_INT(rows, 1);
    struct state_value drop[1] = { STATE_INT(id) };
    CHECK_INT(state_exec(st, "mailbox_headers_drop", drop, 1, NULL, NULL, err, sizeof err), 0);
    rows = 0;
    CHECK_INT(state_exec(st, "headers_in", in, 4, count_rows, &rows, err, sizeof err), 0);
    CHECK_INT(rows, 0);
    state_close(st);
    uint32_t a = state_checksum(0, "Subject: x", 10), b = state_checksum(0, "Subject: y", 10);
    CHECK(a != b);
    CHECK(a == state_checksum(state_checksum(0, "Subject", 7), ": x", 3));
}

static void test_not_a_database(void)
{
    const char *p = path_in("garbage.db");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    for (int i = 0; i < 200; i++)
        CHECK(write(fd, "this is not sqlite ", 19) == 19);
    close(fd);
    char err[600];
    struct state *st = (struct state *)1;
    CHECK_INT(state_open(p, 100, &st, err, sizeof err), STATE_ERR_CORRUPT);
    CHECK(st == NULL);
    CHECK(strstr(err, p) != NULL);
    CHECK(strstr(err, "not a database") != NULL);
}

static void test_newer_schema(void)
{
    char err[600];
    struct state *st;
    const char *p = path_in("newer.db");
    CHECK_INT(state_open(p, 1000, &st, err, sizeof err), 0);
    state_close(st);
    /* Pretend a later imapscript migrated it further. */
    sqlite3 *raw;
    CHECK_INT(sqlite3_open(p, &raw), SQLITE_OK);
    CHECK_INT(sqlite3_exec(raw, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    CHECK_INT(state_open(p, 1000, &st, err, sizeof err), STATE_ERR_SCHEMA);
    CHECK(strstr(err, "999") != NULL);
}

static void test_busy(void)
{
    char err[600];
    struct state *a, *b;
    const char *p = path_in("busy.db");
    CHECK_INT(state_open(p, 1000, &a, err, sizeof err), 0);
    CHECK_INT(state_open(p, 100, &b, err, sizeof err), 0);
    CHECK_INT(state_begin(a, err, sizeof err), 0);
    CHECK_INT(state_begin(b, err, sizeof err), STATE_ERR_BUSY);
    CHECK(strstr(err, "locked") != NULL);
    CHECK_INT(state_commit(a, err, sizeof err), 0);
    CHECK_INT(state_begin(b, err, sizeof err), 0);
    CHECK_INT(state_commit(b, err, sizeof err), 0);
    state_close(a);
    state_close(b);
}

static void test_runlock(void)
{
    char err[600];
    long holder = -1;
    const char *p = path_in("acct.lock");
    int fd = runlock_acquire(p, 0, &holder, err, sizeof err);
    CHECK(fd >= 0);
    /* A second descriptor is another holder, even in this process. */
    CHECK_INT(runlock_acquire(p, 200, &holder, err, sizeof err), -EWOULDBLOCK);
    CHECK_INT(holder, getpid());
    runlock_release(fd);
    fd = runlock_acquire(p, 0, &holder, err, sizeof err);
    CHECK(fd >= 0);
    runlock_release(fd);
    CHECK(runlock_acquire("/nonexistent/dir/x.lock", 0, &holder, err, sizeof err) < 0);
    CHECK(strstr(err, "/nonexistent/dir/x.lock") != NULL);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_create_and_migrate);
    RUN(test_statements);
    RUN(test_staged_preimage);
    RUN(test_cache_schema);
    RUN(test_not_a_database);
    RUN(test_newer_schema);
    RUN(test_busy);
    RUN(test_runlock);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
