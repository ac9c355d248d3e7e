/* store.c - SQLite persistence of planning runs and executions: opening
 * only what it recognises, waiting for locks, and an execution saved to a
 * file when the database cannot take it. */
#include "store.h"

#include "jsonget.h"
#include "preset.h"
#include "result.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct zp_store {
    sqlite3 *db;
    char path[1024];    /* as given, for messages */
    int readonly;       /* opened for reads only */
    int wait_s;         /* how long the busy handler waits for a lock */
    double busy_start;  /* when the current wait began (monotonic s) */
    double busy_report; /* when to print the next progress line */
    double waited_s;    /* how long the last wait lasted */
    int read_rc;        /* SQLite's extended code of contents()'s failure */
};

/* Ordered migrations: migration i brings user_version from i to i + 1. */
static const char *const migrations[] = {
    /* 1: planning runs, their plans, per-stage memory, communication,
     * rejections */
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    "  version TEXT NOT NULL,"
    "  command TEXT NOT NULL,"
    "  model_source TEXT NOT NULL,"
    "  model TEXT NOT NULL, params INTEGER NOT NULL, layers INTEGER NOT NULL, hidden INTEGER NOT NULL,"
    "  heads INTEGER NOT NULL, kv_heads INTEGER NOT NULL, ffn INTEGER NOT NULL, vocab INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL, global_batch INTEGER NOT NULL,"
    "  gpu TEXT NOT NULL, gpus INTEGER NOT NULL, gpus_per_node INTEGER NOT NULL,"
    "  gpu_mem_bytes INTEGER NOT NULL, host_mem_bytes INTEGER NOT NULL,"
    "  dtype TEXT NOT NULL, grad_dtype TEXT NOT NULL, master INTEGER NOT NULL, optimizer TEXT NOT NULL,"
    "  candidates INTEGER NOT NULL, fitting INTEGER NOT NULL,"
    "  result_json TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE plans ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('top','classic')),"
    "  rank INTEGER NOT NULL, name TEXT,"
    "  dp INTEGER NOT NULL, tp INTEGER NOT NULL, pp INTEGER NOT NULL, vp INTEGER NOT NULL,"
    "  zero INTEGER NOT NULL, offload TEXT NOT NULL, ckpt TEXT NOT NULL, sp INTEGER NOT NULL,"
    "  micro_batch INTEGER NOT NULL, grad_accum INTEGER NOT NULL,"
    "  fits INTEGER NOT NULL, reject TEXT, worst_stage INTEGER NOT NULL,"
    "  params_bytes INTEGER NOT NULL, grads_bytes INTEGER NOT NULL, optimizer_bytes INTEGER NOT NULL,"
    "  activations_bytes INTEGER NOT NULL, buffers_bytes INTEGER NOT NULL, overhead_bytes INTEGER NOT NULL,"
    "  total_bytes INTEGER NOT NULL, host_bytes INTEGER NOT NULL, host_bytes_per_node INTEGER NOT NULL,"
    "  comm_bytes_per_step INTEGER NOT NULL,"
    "  compute_s REAL NOT NULL, comm_exposed_s REAL NOT NULL, bubble_s REAL NOT NULL, optimizer_s REAL NOT NULL,"
    "  step_time_s REAL NOT NULL, tokens_per_s REAL NOT NULL, mfu REAL NOT NULL,"
    "  PRIMARY KEY (run_id, kind, rank));"
    "CREATE TABLE plan_stages ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  stage INTEGER NOT NULL,"
    "  params_bytes INTEGER NOT NULL, grads_bytes INTEGER NOT NULL, optimizer_bytes INTEGER NOT NULL,"
    "  activations_bytes INTEGER NOT NULL, buffers_bytes INTEGER NOT NULL, overhead_bytes INTEGER NOT NULL,"
    "  total_bytes INTEGER NOT NULL, host_bytes INTEGER NOT NULL,"
    "  PRIMARY KEY (run_id, stage));"
    "CREATE TABLE plan_comm ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  stage INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  collective TEXT NOT NULL, grp TEXT NOT NULL, what TEXT NOT NULL, group_size INTEGER NOT NULL,"
    "  inter_node INTEGER NOT NULL, bytes INTEGER NOT NULL, count INTEGER NOT NULL,"
    "  bus_bytes_per_step INTEGER NOT NULL, time_s REAL NOT NULL, overlap TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, stage, seq));"
    "CREATE TABLE rejections ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  reason TEXT NOT NULL, count INTEGER NOT NULL,"
    "  PRIMARY KEY (run_id, reason));",
    /* 2: executions of a run's plans (zplan exec), prediction beside
     * measurement in record_json */
    "CREATE TABLE executions ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  plan_rank INTEGER NOT NULL,"
    "  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    "  status TEXT NOT NULL CHECK (status IN ('running','ok','oom','failed','interrupted')),"
    "  backend TEXT NOT NULL, ranks INTEGER NOT NULL, steps INTEGER NOT NULL, scale TEXT NOT NULL,"
    "  record_json TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX executions_run ON executions(run_id);",
    /* 3: hardware profiles measured by zplan calibrate, in the GPU preset
     * format, usable as --gpu NAME */
    "CREATE TABLE profiles ("
    "  name TEXT PRIMARY KEY,"
    "  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    "  json TEXT NOT NULL);",
    /* 4: an execution knows its launcher (the zplan exec process: host,
     * boot, pid, start time), so that a run whose launcher is gone (killed,
     * the machine restarted) is marked 'lost' instead of 'running' for ever */
    "CREATE TABLE executions_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  plan_rank INTEGER NOT NULL,"
    "  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    "  status TEXT NOT NULL CHECK (status IN ('running','ok','oom','failed','interrupted','lost')),"
    "  backend TEXT NOT NULL, ranks INTEGER NOT NULL, steps INTEGER NOT NULL, scale TEXT NOT NULL,"
    "  record_json TEXT NOT NULL DEFAULT '{}',"
    "  launcher_host TEXT, launcher_boot TEXT, launcher_pid INTEGER, launcher_start INTEGER);"
    "INSERT INTO executions_v4 (id, run_id, plan_rank, created, status, backend, ranks, steps, scale, record_json)"
    "  SELECT id, run_id, plan_rank, created, status, backend, ranks, steps, scale, record_json FROM executions"
    "  WHERE run_id IN (SELECT id FROM runs);"   /* rows of runs deleted by hand (no foreign keys then) go */
    "DROP TABLE executions;"
    "ALTER TABLE executions_v4 RENAME TO executions;"
    "CREATE INDEX executions_run ON executions(run_id);",
    /* 5: context parallelism, a plan's cp (1 for the plans before it) */
    "ALTER TABLE plans ADD COLUMN cp INTEGER NOT NULL DEFAULT 1;",
    /* 6: activation offload, a plan's act_offload (0 for the plans before it) */
    "ALTER TABLE plans ADD COLUMN act_offload INTEGER NOT NULL DEFAULT 0;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* The tables each schema version has: zplan_tables[0 .. ntables_at[v]). */
static const char *const zplan_tables[] = {"runs", "plans", "plan_stages", "plan_comm", "rejections", "executions",
                                           "profiles"};
static const int ntables_at[NMIGRATIONS + 1] = {0, 5, 6, 7, 7, 7, 7};

/* How long a connection waits for a locked database: $ZPLAN_DB_WAIT_S, or
 * 120 s.  10 s lost measurements when a long transaction of another process
 * (a `sqlite3` shell, a backup) held the lock as a run ended. */
#define WAIT_DEFAULT_S 120
#define WAIT_MAX_S 86400

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static zp_status wait_limit(int *wait_s, zp_err *e)
{
    const char *v = getenv("ZPLAN_DB_WAIT_S");
    *wait_s = WAIT_DEFAULT_S;
    if (!v || !*v)
        return ZP_OK;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > WAIT_MAX_S || !isdigit((unsigned char)v[0]))
        return zp_err_set(e, ZP_EINVAL, "ZPLAN_DB_WAIT_S='%s': allowed are whole seconds from 0 to %d (how long to "
                          "wait for a database another process has locked; default %d)", v, WAIT_MAX_S,
                          WAIT_DEFAULT_S);
    *wait_s = (int)n;
    return ZP_OK;
}

/* SQLite's busy handler: sleep and retry until the lock is free or the
 * wait is over, saying on stderr what zplan is waiting for (after 1 s, then
 * every 10 s).  Returning 0 makes the statement fail with SQLITE_BUSY. */
static int on_busy(void *arg, int count)
{
    zp_store *s = arg;
    double now = mono_s();
    if (count == 0) {
        s->busy_start = now;
        s->busy_report = now + 1.0;
    }
    s->waited_s = now - s->busy_start;
    if (s->waited_s >= s->wait_s)
        return 0;
    if (now >= s->busy_report) {
        fprintf(stderr, "zplan: the database %s is locked by another process; waiting (%.0f s, at most %d s)\n",
                s->path, s->waited_s, s->wait_s);
        s->busy_report += 10.0;
    }
    double left_ms = (s->wait_s - s->waited_s) * 1000.0;
    int ms = count < 10 ? 10 : 100;
    sqlite3_sleep(left_ms < ms ? (int)left_ms + 1 : ms);
    return 1;
}

/* The directory of path, for the messages about its side files. */
static void dir_of(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else if (slash == path)
        snprintf(dir, n, "/");
    else
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* Why path cannot be written, in the OS's words; ZP_OK if the file and its
 * directory look writable (then the caller uses SQLite's message).  SQLite's
 * own errno is of no help here: it is that of the last file it tried (an
 * -shm that was not there). */
static zp_status why_unwritable(const char *path, zp_err *e)
{
    char dir[1024];
    dir_of(path, dir, sizeof dir);
    int exists = access(path, F_OK) == 0;
    if (exists && access(path, W_OK) != 0)
        return zp_err_set(e, ZP_EIO, "cannot write %s: %s (use another --db)", path, strerror(errno));
    if (!exists && access(dir, W_OK) != 0)
        return zp_err_set(e, ZP_EIO, "cannot create %s: its directory %s: %s (use another --db)", path, dir,
                          strerror(errno));
    if (access(dir, W_OK) != 0)
        return zp_err_set(e, ZP_EIO, "cannot write %s: its directory %s: %s (SQLite keeps %s-wal and %s-shm "
                          "beside the database; use another --db)", path, dir, strerror(errno), path, path);
    return ZP_OK;
}

/* The one-line message for a failed SQLite call on s, by what went wrong. */
static zp_status sql_err(zp_store *s, zp_err *e, const char *what)
{
    int rc = sqlite3_extended_errcode(s->db);
    const char *msg = sqlite3_errmsg(s->db);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: {
        char after[32] = "";
        if (s->waited_s >= 0.5)
            snprintf(after, sizeof after, ": gave up after %.0f s", s->waited_s);
        return zp_err_set(e, ZP_ESQL, "the database %s is locked by another process%s (ZPLAN_DB_WAIT_S sets how "
                          "long to wait)%s", s->path, after, s->readonly ? "" : "; nothing was written to it");
    }
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return zp_err_set(e, ZP_ESQL, "%s is damaged: %s (zplan changes nothing in it; use another --db, or "
                          "restore a copy)", s->path, msg);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH: {
        zp_status st = s->readonly ? ZP_OK : why_unwritable(s->path, e);
        if (st)
            return st;
        return zp_err_set(e, ZP_EIO, "cannot %s %s: %s", s->readonly ? "read" : "write", s->path, msg);
    }
    case SQLITE_FULL:
        return zp_err_set(e, ZP_EIO, "cannot write %s: %s; nothing was written", s->path, msg);
    case SQLITE_IOERR: {
        int en = sqlite3_system_errno(s->db);
        return zp_err_set(e, ZP_EIO, "%s: %s failed: %s (%s)", s->path, what, msg, en ? strerror(en) : "I/O error");
    }
    default:
        return zp_err_set(e, ZP_ESQL, "%s: %s: %s", s->path, what, msg);
    }
}

static zp_status exec(zp_store *s, const char *sql, zp_err *e)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sql_err(s, e, "write");
    return ZP_OK;
}

int zp_store_schema_version(zp_store *s)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

/* What an SQLite file holds, as far as telling zplan's from others goes. */
typedef struct db_contents {
    int version;       /* PRAGMA user_version */
    int ntables;       /* its tables, but SQLite's own */
    int has_runs;      /* it has zplan's first table */
    char names[256];   /* its tables, comma-separated (truncated to fit) */
    char missing[128]; /* zplan's tables for its version that it lacks */
} db_contents;

static zp_status contents_now(zp_store *s, db_contents *c, zp_err *e);

/* Read what the file of s holds.  Reads only, in one read transaction: the
 * version and the tables are of one moment (read apart, another process
 * creating the database in between showed version 0 with tables: "not
 * zplan's"). */
static zp_status contents(zp_store *s, db_contents *c, zp_err *e)
{
    if (!sqlite3_get_autocommit(s->db))   /* inside the caller's transaction */
        return contents_now(s, c, e);
    zp_status st = exec(s, "BEGIN", e);
    if (st == ZP_OK)
        st = contents_now(s, c, e);
    s->read_rc = st ? sqlite3_extended_errcode(s->db) : SQLITE_OK;   /* (the ROLLBACK clears it) */
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, st ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    return st;
}

static zp_status contents_now(zp_store *s, db_contents *c, zp_err *e)
{
    sqlite3_stmt *q;
    int rc;
    memset(c, 0, sizeof *c);
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "read the schema version");
    rc = sqlite3_step(q);
    c->version = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW)
        return sql_err(s, e, "read the schema version");
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
                           "ORDER BY name", -1, &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "read the tables");
    enum { NZT = sizeof zplan_tables / sizeof zplan_tables[0] };
    int found[NZT] = {0};
    size_t used = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        for (size_t i = 0; t && i < NZT; i++)
            if (strcmp(t, zplan_tables[i]) == 0)
                found[i] = 1;
        if (used + 1 < sizeof c->names) {
            int w = snprintf(c->names + used, sizeof c->names - used, "%s%s", c->ntables ? ", " : "", t ? t : "?");
            used = w < 0 || (size_t)w >= sizeof c->names - used ? sizeof c->names - 1 : used + (size_t)w;
        }
        c->ntables++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return sql_err(s, e, "read the tables");
    c->has_runs = found[0];
    used = 0;
    for (int i = 0; c->version >= 0 && c->version <= NMIGRATIONS && i < ntables_at[c->version]; i++)
        if (!found[i] && used + 1 < sizeof c->missing) {
            int w = snprintf(c->missing + used, sizeof c->missing - used, "%s%s", used ? ", " : "", zplan_tables[i]);
            used = w < 0 || (size_t)w >= sizeof c->missing - used ? sizeof c->missing - 1 : used + (size_t)w;
        }
    return ZP_OK;
}

/* Refuse what is not a zplan database of a version this zplan knows: a
 * newer schema, or another program's SQLite file (tables but no user_version,
 * or a user_version without zplan's runs table).  A zplan database that
 * lacks some of its tables can be read (what is there), not written. */
static zp_status recognise(const char *path, const db_contents *c, int for_write, zp_err *e)
{
    if (c->version > NMIGRATIONS)
        return zp_err_set(e, ZP_ESQL, "%s has schema version %d, newer than this zplan's (%d): a newer zplan "
                          "wrote it; use that zplan, or another --db (the file was not changed)", path, c->version,
                          NMIGRATIONS);
    if (c->version < 0 || (c->version == 0 && c->ntables > 0) || (c->version > 0 && !c->has_runs)) {
        char ver[48] = "";
        if (c->version != 0)
            snprintf(ver, sizeof ver, ", user_version %d", c->version);
        return zp_err_set(e, ZP_ESQL, "%s is an SQLite database but not zplan's (it has %s%s%s); use another --db "
                          "(the file was not changed)", path, c->ntables ? "tables " : "no tables", c->names, ver);
    }
    if (for_write && c->missing[0])
        return zp_err_set(e, ZP_ESQL, "%s is an incomplete zplan database (schema version %d without its tables "
                          "%s): zplan writes nothing to it; use another --db", path, c->version, c->missing);
    return ZP_OK;
}

/* A connection to path with the busy handler; s->readonly for reads. */
static zp_status connect_db(const char *path, const char *uri, int flags, int wait_s, zp_store **out, zp_err *e)
{
    zp_store *s = calloc(1, sizeof *s);
    if (!s)
        return zp_err_set(e, ZP_ENOMEM, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    s->wait_s = wait_s;
    s->readonly = !(flags & SQLITE_OPEN_READWRITE);
    if (sqlite3_open_v2(uri ? uri : path, &s->db, flags | (uri ? SQLITE_OPEN_URI : 0), NULL) != SQLITE_OK) {
        zp_status st = s->db ? sql_err(s, e, "open") : zp_err_set(e, ZP_ENOMEM, "out of memory");
        zp_store_close(s);
        return st;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_handler(s->db, on_busy, s);
    *out = s;
    return ZP_OK;
}

/* "file:PATH?immutable=1", PATH percent-encoded. */
static void immutable_uri(const char *path, char *uri, size_t n)
{
    size_t k = (size_t)snprintf(uri, n, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && k + 4 < n; p++)
        k += isalnum(*p) || strchr("/._-~", *p) ? (size_t)snprintf(uri + k, n - k, "%c", *p)
                                                 : (size_t)snprintf(uri + k, n - k, "%%%02X", *p);
    snprintf(uri + k, n - k, "?immutable=1");
}

enum { FILE_NEW, FILE_SQLITE };

/* Look at path without changing it: FILE_NEW (no file, or an empty one), or
 * FILE_SQLITE (it starts with SQLite's header).  Anything else is refused
 * here, in the OS's words. */
static zp_status look(const char *path, int *kind, zp_err *e)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) {
            *kind = FILE_NEW;
            return ZP_OK;
        }
        return zp_err_set(e, ZP_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    if (S_ISDIR(sb.st_mode))
        return zp_err_set(e, ZP_EINVAL, "%s is a directory: --db names a database file", path);
    if (sb.st_size == 0) {
        *kind = FILE_NEW;
        return ZP_OK;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return zp_err_set(e, ZP_EIO, "cannot read %s: %s", path, strerror(errno));
    char head[16];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got < sizeof head || memcmp(head, "SQLite format 3", 16) != 0)
        return zp_err_set(e, ZP_ESQL, "%s is not an SQLite database (it does not begin with SQLite's header); use "
                          "another --db (the file was not changed)", path);
    *kind = FILE_SQLITE;
    return ZP_OK;
}

/* Which of a WAL database's -wal and -shm files were there before a
 * read-only look (bit 1: -wal, bit 2: -shm). */
static int side_files(const char *path)
{
    char f[1100];
    int had = 0;
    snprintf(f, sizeof f, "%s-wal", path);
    had |= access(f, F_OK) == 0 ? 1 : 0;
    snprintf(f, sizeof f, "%s-shm", path);
    had |= access(f, F_OK) == 0 ? 2 : 0;
    return had;
}

/* After refusing a file: the -wal and -shm files a read-only connection to
 * a WAL database made beside it, which were not there before, are removed,
 * so that the refused file's directory is as it was; only while no other
 * connection has the database open (SQLite's unix VFS holds a shared lock
 * on byte 128 of the -shm file, its "DMS" byte, while it has it mapped: a
 * write lock there is refused to us then), and a -wal only when empty. */
static void side_files_restore(const char *path, int had)
{
    char shm[1100], walf[1100];
    struct stat sb;
    if (had & 3)   /* they were there: not ours */
        return;
    snprintf(shm, sizeof shm, "%s-shm", path);
    snprintf(walf, sizeof walf, "%s-wal", path);
    int fd = open(shm, O_RDWR | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 128;
    fl.l_len = 1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fcntl(fd, F_SETLK, &fl) == 0) {
        if (stat(walf, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
            unlink(walf);
        unlink(shm);
    }
    close(fd);   /* the lock goes with it */
}

/* A read-only connection to the SQLite file path that answers (reading its
 * schema).  A WAL database needs its -shm file: where the directory is
 * read-only and no -wal file holds pending changes, no writer can be there
 * either, and the file is read as immutable. */
static zp_status connect_ro(const char *path, int wait_s, zp_store **out, db_contents *c, zp_err *e)
{
    zp_store *s;
    zp_status st = connect_db(path, NULL, SQLITE_OPEN_READONLY, wait_s, &s, e);
    if (st == ZP_OK && (st = contents(s, c, e)) != ZP_OK) {
        char dir[1024], wal_path[1100];
        int rc = s->read_rc & 0xff;
        dir_of(path, dir, sizeof dir);
        snprintf(wal_path, sizeof wal_path, "%s-wal", path);
        zp_store_close(s);
        s = NULL;
        if ((rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY) && access(dir, W_OK) != 0 && access(wal_path, F_OK) != 0 &&
            access(path, R_OK) == 0) {
            char uri[3200];
            immutable_uri(path, uri, sizeof uri);
            if ((st = connect_db(path, uri, SQLITE_OPEN_READONLY, wait_s, &s, e)) == ZP_OK &&
                (st = contents(s, c, e)) != ZP_OK) {
                zp_store_close(s);
                s = NULL;
            }
        } else if (rc == SQLITE_CANTOPEN && access(path, R_OK) != 0)
            st = zp_err_set(e, ZP_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    if (st)
        return st;
    *out = s;
    return ZP_OK;
}

/* PRAGMA quick_check: a damaged file is not written to. */
static zp_status check_intact(zp_store *s, zp_err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "check");
    int rc = sqlite3_step(q);
    zp_status st = ZP_OK;
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(q, 0);
        if (!r || strcmp(r, "ok") != 0) {
            /* its first problem, on one line: "*** in database main ***\nPage 2: ..." */
            char what[256];
            size_t k = 0;
            if (r && strncmp(r, "*** in database main ***", 24) == 0)
                r += 24;
            for (; r && *r && k + 1 < sizeof what; r++)
                if (!isspace((unsigned char)*r) || (k > 0 && what[k - 1] != ' '))
                    what[k++] = isspace((unsigned char)*r) ? ' ' : *r;
            while (k > 0 && what[k - 1] == ' ')
                k--;
            what[k] = '\0';
            st = zp_err_set(e, ZP_ESQL, "%s is damaged: %s (zplan changes nothing in it; use another --db, or "
                            "restore a copy)", s->path, k ? what : "quick_check failed");
        }
    } else
        st = sql_err(s, e, "check");
    sqlite3_finalize(q);
    return st;
}

/* Bring the schema to NMIGRATIONS under the write lock (none is taken when
 * it is there already), refusing what recognise() refuses: the file may have
 * changed since it was looked at. */
static zp_status migrate(zp_store *s, zp_err *e)
{
    zp_status st;
    if (zp_store_schema_version(s) == NMIGRATIONS)
        return ZP_OK;
    if ((st = exec(s, "BEGIN IMMEDIATE", e)))
        return st;
    db_contents c;
    if ((st = contents(s, &c, e)) || (st = recognise(s->path, &c, 1, e))) {
        zp_store_rollback(s);
        return st;
    }
    for (int v = c.version; v < NMIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if ((st = exec(s, migrations[v], e)) || (st = exec(s, pragma, e))) {
            zp_store_rollback(s);
            return st;
        }
    }
    return exec(s, "COMMIT", e);
}

/* Switch to WAL (persistent, so once per file).  The switch needs the file
 * to itself; when several zplan processes create the same database at once
 * SQLite answers SQLITE_BUSY without calling the busy handler, so retry for
 * as long as the busy handler would have waited. */
static zp_status wal(zp_store *s, zp_err *e)
{
    double start = mono_s();
    for (;;) {
        sqlite3_stmt *q;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &q, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(q);
            sqlite3_finalize(q);
            if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                return ZP_OK;
        }
        s->waited_s = mono_s() - start;
        if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) || s->waited_s >= s->wait_s)
            return sql_err(s, e, "set WAL mode");
        sqlite3_sleep(20);
    }
}

/* Open path for writing.  Whatever is there is looked at read-only first,
 * and only a new path, an empty file, an empty SQLite database or a zplan
 * database of a known version is opened for writing: a file zplan does not
 * recognise is refused unchanged (no WAL switch, no tables). */
static zp_status open_rw(const char *path, int create, zp_store **out, zp_err *e)
{
    int wait_s, kind;
    zp_status st;
    if ((st = wait_limit(&wait_s, e)) || (st = look(path, &kind, e)))
        return st;
    if (kind == FILE_NEW && !create)
        return zp_err_set(e, ZP_ENOTFOUND, "%s: no zplan database here (pass --db PATH)", path);
    if (kind == FILE_SQLITE) {
        zp_store *ro;
        db_contents c;
        int had = side_files(path);
        if ((st = connect_ro(path, wait_s, &ro, &c, e))) {
            side_files_restore(path, had);
            return st;
        }
        if ((st = recognise(path, &c, 1, e)) == ZP_OK)
            st = check_intact(ro, e);
        zp_store_close(ro);
        if (st) {
            side_files_restore(path, had);
            return st;
        }
    }
    zp_store *s;
    if ((st = connect_db(path, NULL, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), wait_s, &s, e))) {
        zp_err why;
        return why_unwritable(path, &why) ? zp_err_set(e, why.code, "%s", why.msg) : st;
    }
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        /* SQLite opens a file it may not write read-only, silently */
        if ((st = why_unwritable(path, e)) == ZP_OK)
            st = zp_err_set(e, ZP_EIO, "cannot write %s: SQLite opened it read-only", path);
        zp_store_close(s);
        return st;
    }
    if ((st = wal(s, e)) || (st = exec(s, "PRAGMA foreign_keys=ON", e)) || (st = migrate(s, e))) {
        zp_store_close(s);
        return st;
    }
    *out = s;
    return ZP_OK;
}

zp_status zp_store_open(const char *path, zp_store **out, zp_err *e) { return open_rw(path, 1, out, e); }

zp_status zp_store_open_existing(const char *path, zp_store **out, zp_err *e)
{
    int wait_s, kind;
    db_contents c;
    zp_status st;
    if ((st = wait_limit(&wait_s, e)) || (st = look(path, &kind, e)))
        return st;
    if (kind == FILE_NEW)
        return zp_err_set(e, ZP_ENOTFOUND, access(path, F_OK) == 0 ? "%s holds no runs yet (plan something first)"
                          : "%s: no zplan database here (plan something first, or pass --db PATH)", path);
    zp_store *s;
    int had = side_files(path);
    if ((st = connect_ro(path, wait_s, &s, &c, e))) {
        side_files_restore(path, had);
        return st;
    }
    if (c.version == 0 && c.ntables == 0)
        st = zp_err_set(e, ZP_ENOTFOUND, "%s holds no runs yet (plan something first)", path);
    else if ((st = recognise(path, &c, 0, e)) == ZP_OK)
        st = check_intact(s, e);
    if (st) {
        zp_store_close(s);
        side_files_restore(path, had);
        return st;
    }
    *out = s;
    return ZP_OK;
}

void zp_store_close(zp_store *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

zp_status zp_store_begin(zp_store *s, zp_err *e) { return exec(s, "BEGIN IMMEDIATE", e); }
zp_status zp_store_commit(zp_store *s, zp_err *e) { return exec(s, "COMMIT", e); }
void zp_store_rollback(zp_store *s) { sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); }

/* Prepare, bind by a format string, step to done.  Format letters:
 * i int64, d double, t text (NULL allowed). */
static zp_status run(zp_store *s, zp_err *e, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        int rc;
        switch (fmt[i]) {
        case 'i': rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)); break;
        case 'd': rc = sqlite3_bind_double(st, i + 1, va_arg(ap, double)); break;
        default: {
            const char *t = va_arg(ap, const char *);
            rc = t ? sqlite3_bind_text(st, i + 1, t, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
        }
        }
        if (rc != SQLITE_OK) {
            va_end(ap);
            sqlite3_finalize(st);
            return sql_err(s, e, "bind");
        }
    }
    va_end(ap);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_err(s, e, "write");
    return ZP_OK;
}

zp_status zp_store_add_run(zp_store *s, const zp_run_info *ri, int64_t *id, zp_err *e)
{
    const zp_problem *pb = ri->pb;
    const zp_model *m = &pb->model;
    zp_status st = run(s, e,
        "INSERT INTO runs (version, command, model_source, model, params, layers, hidden, heads, kv_heads, ffn,"
        " vocab, seq, global_batch, gpu, gpus, gpus_per_node, gpu_mem_bytes, host_mem_bytes, dtype, grad_dtype,"
        " master, optimizer, candidates, fitting) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "ttttiiiiiiiiitiiiittitii", ri->version, ri->command, ri->model_source, m->name, ri->params,
        m->layers, m->hidden, m->heads, m->kv_heads, m->ffn, m->vocab, pb->train.seq, pb->train.global_batch,
        pb->cluster.gpu.name, pb->cluster.gpus, pb->cluster.gpus_per_node, (int64_t)pb->cluster.gpu.mem_bytes,
        (int64_t)pb->cluster.host_mem_bytes, zp_dtype_names[pb->train.dtype], zp_dtype_names[pb->train.grad_dtype],
        (int64_t)pb->train.master, zp_optim_names[pb->train.optim], ri->candidates, ri->fitting);
    if (st == ZP_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return st;
}

zp_status zp_store_add_plan(zp_store *s, int64_t runid, const char *kind, int rank, const char *name,
                            const zp_plan *p, zp_err *e)
{
    const zp_layout *l = &p->lay;
    const zp_mem *m = &p->mem;
    return run(s, e,
        "INSERT INTO plans (run_id, kind, rank, name, dp, tp, pp, vp, cp, zero, offload, act_offload, ckpt, sp,"
        " micro_batch, grad_accum, fits, reject, worst_stage, params_bytes, grads_bytes, optimizer_bytes,"
        " activations_bytes, buffers_bytes, overhead_bytes, total_bytes, host_bytes, host_bytes_per_node,"
        " comm_bytes_per_step, compute_s, comm_exposed_s, bubble_s, optimizer_s, step_time_s, tokens_per_s, mfu)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "ititiiiiiititiiiiti" "iiiiiiiiii" "ddddddd",
        runid, kind, (int64_t)rank, name, l->dp, l->tp, l->pp, l->vp, zp_cp(l), (int64_t)l->zero,
        zp_offload_names[l->offload], (int64_t)l->act_offload, zp_ckpt_names[l->ckpt], (int64_t)l->sp,
        l->micro_batch, l->grad_accum,
        (int64_t)(p->reject == ZP_REJ_NONE), p->reject == ZP_REJ_NONE ? NULL : zp_reject_names[p->reject],
        p->worst_stage, (int64_t)m->dev[ZP_MEM_PARAMS], (int64_t)m->dev[ZP_MEM_GRADS],
        (int64_t)m->dev[ZP_MEM_OPTIM], (int64_t)m->dev[ZP_MEM_ACT], (int64_t)m->dev[ZP_MEM_BUF],
        (int64_t)m->dev[ZP_MEM_OVERHEAD], (int64_t)m->dev_total, (int64_t)m->host_total,
        (int64_t)p->host_per_node, (int64_t)p->comm_bytes, p->cost.compute_s, p->cost.comm_exposed_s,
        p->cost.bubble_s, p->cost.optimizer_s, p->cost.step_s, p->cost.tokens_per_s, p->cost.mfu);
}

zp_status zp_store_add_stage(zp_store *s, int64_t runid, int64_t stage, const zp_mem *m, zp_err *e)
{
    return run(s, e,
        "INSERT INTO plan_stages (run_id, stage, params_bytes, grads_bytes, optimizer_bytes, activations_bytes,"
        " buffers_bytes, overhead_bytes, total_bytes, host_bytes) VALUES (?,?,?,?,?,?,?,?,?,?)",
        "iiiiiiiiii", runid, stage, (int64_t)m->dev[ZP_MEM_PARAMS], (int64_t)m->dev[ZP_MEM_GRADS],
        (int64_t)m->dev[ZP_MEM_OPTIM], (int64_t)m->dev[ZP_MEM_ACT], (int64_t)m->dev[ZP_MEM_BUF],
        (int64_t)m->dev[ZP_MEM_OVERHEAD], (int64_t)m->dev_total, (int64_t)m->host_total);
}

zp_status zp_store_add_comm(zp_store *s, int64_t runid, int64_t stage, const zp_coll *c, zp_err *e)
{
    sqlite3_stmt *q;
    int64_t seq = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM plan_comm WHERE run_id = ? AND stage = ?", -1, &q,
                           NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, runid);
    sqlite3_bind_int64(q, 2, stage);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        seq = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW)
        return sql_err(s, e, "read");
    return run(s, e,
        "INSERT INTO plan_comm (run_id, stage, seq, collective, grp, what, group_size, inter_node, bytes, count,"
        " bus_bytes_per_step, time_s, overlap) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "iiitttiiiiidt", runid, stage, seq, zp_coll_kind_names[c->kind], zp_group_names[c->group], c->what,
        c->group_size, (int64_t)c->inter_node, (int64_t)c->bytes, c->count,
        (int64_t)c->bus_bytes, c->time_s, zp_overlap_names[c->overlap]);
}

zp_status zp_store_add_reject(zp_store *s, int64_t runid, const char *reason, int64_t count, zp_err *e)
{
    return run(s, e, "INSERT INTO rejections (run_id, reason, count) VALUES (?,?,?)", "iti", runid, reason, count);
}

zp_status zp_store_set_result(zp_store *s, int64_t runid, const char *json, zp_err *e)
{
    return run(s, e, "UPDATE runs SET result_json = ? WHERE id = ?", "ti", json, runid);
}

zp_status zp_store_runs(zp_store *s, int limit, int (*cb)(void *, const zp_run_row *), void *arg, zp_err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
            "SELECT r.id, r.created, r.model, r.params, r.gpu, r.gpus, r.candidates,"
            /* with the layouts that fit with their activations offloaded (the JSON's count) */
            " r.fitting + coalesce(json_extract(r.result_json, '$.act_offload_fit'), 0),"
            " (SELECT printf('dp=%d tp=%d pp=%d', dp, tp, pp) || CASE WHEN vp > 1 THEN printf(' vp=%d', vp) ELSE '' END"
            "   || CASE WHEN cp > 1 THEN printf(' cp=%d', cp) ELSE '' END"
            "   || printf(' zero=%d offload=%s', zero, offload)"
            "   || CASE WHEN act_offload THEN ' act-offload' ELSE '' END"
            "   || printf(' ckpt=%s mb=%d', ckpt, micro_batch)"
            "    FROM plans p WHERE p.run_id = r.id AND p.kind = 'top' ORDER BY rank LIMIT 1)"
            " FROM runs r ORDER BY r.id DESC LIMIT ?", -1, &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    sqlite3_bind_int(q, 1, limit);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        zp_run_row r;
        r.id = sqlite3_column_int64(q, 0);
        r.created = (const char *)sqlite3_column_text(q, 1);
        r.model = (const char *)sqlite3_column_text(q, 2);
        r.params = sqlite3_column_int64(q, 3);
        r.gpu = (const char *)sqlite3_column_text(q, 4);
        r.gpus = sqlite3_column_int64(q, 5);
        r.candidates = sqlite3_column_int64(q, 6);
        r.fitting = sqlite3_column_int64(q, 7);
        r.best = (const char *)sqlite3_column_text(q, 8);
        if (cb(arg, &r))
            break;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_err(s, e, "read");
    return ZP_OK;
}

zp_status zp_store_result(zp_store *s, int64_t id, char **json, char *created, size_t created_n, zp_err *e)
{
    sqlite3_stmt *q;
    zp_status st = ZP_OK;
    if (sqlite3_prepare_v2(s->db, "SELECT result_json, created FROM runs WHERE id = ?", -1, &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        const char *c = (const char *)sqlite3_column_text(q, 1);
        if (created)
            snprintf(created, created_n, "%s", c ? c : "");
        *json = strdup(t ? t : "{}");
        if (!*json)
            st = zp_err_set(e, ZP_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE)
        st = zp_err_set(e, ZP_ENOTFOUND, "run %lld is not in %s (see zplan list)", (long long)id, s->path);
    else
        st = sql_err(s, e, "read");
    sqlite3_finalize(q);
    return st;
}

zp_status zp_store_latest(zp_store *s, int64_t *id, zp_err *e)
{
    sqlite3_stmt *q;
    zp_status st;
    if (sqlite3_prepare_v2(s->db, "SELECT max(id) FROM runs", -1, &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
        *id = sqlite3_column_int64(q, 0);
        st = ZP_OK;
    } else if (rc == SQLITE_ROW)
        st = zp_err_set(e, ZP_ENOTFOUND, "%s holds no runs yet", s->path);
    else
        st = sql_err(s, e, "read");
    sqlite3_finalize(q);
    return st;
}

/* A process as this machine knows it: the host, this boot of it
 * (/proc/sys/kernel/random/boot_id), the pid and its start time in clock
 * ticks since the boot (/proc/PID/stat, field 22), which a reused pid does
 * not share.  0 when pid is not running. */
static int proc_start(long pid, long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the name may hold blanks and parentheses */
    if (!p)
        return 0;
    /* after ") ": state is field 3; starttime is field 22 */
    long long v = 0;
    int field = 2;
    for (char *save = NULL, *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save))
        if (++field == 22) {
            v = atoll(t);
            break;
        }
    *start = v;
    return field == 22;
}

static void host_boot(char *host, size_t hn, char *boot, size_t bn)
{
    if (gethostname(host, hn) != 0)
        snprintf(host, hn, "?");
    host[hn - 1] = '\0';
    boot[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (fgets(boot, (int)bn, f))
            boot[strcspn(boot, "\n")] = '\0';
        fclose(f);
    }
}

zp_status zp_store_add_exec(zp_store *s, int64_t run_id, int plan_rank, const char *backend, int64_t ranks,
                            int64_t steps, const char *scale, int64_t *id, zp_err *e)
{
    char host[256], boot[64];
    long long start = 0;
    host_boot(host, sizeof host, boot, sizeof boot);
    proc_start((long)getpid(), &start);
    zp_status st = run(s, e,
        "INSERT INTO executions (run_id, plan_rank, status, backend, ranks, steps, scale, launcher_host, launcher_boot,"
        " launcher_pid, launcher_start) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        "iittiitttii", run_id, (int64_t)plan_rank, "running", backend, ranks, steps, scale, host, boot,
        (int64_t)getpid(), (int64_t)start);
    if (st == ZP_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return st;
}

int zp_store_mark_lost(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    sqlite3 *db = NULL;
    int marked = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *q = NULL, *u = NULL;
    char host[256], boot[64];
    host_boot(host, sizeof host, boot, sizeof boot);
    /* a database of schema 4 on: only then are launchers known */
    if (sqlite3_prepare_v2(db, "SELECT id, launcher_pid, launcher_start FROM executions WHERE status = 'running' AND "
                               "launcher_host = ? AND launcher_boot = ?", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE executions SET status = 'lost', record_json = json_object('exec_id', id, "
                               "'run_id', run_id, 'plan', plan_rank, 'status', 'lost', 'backend', backend, 'ranks', "
                               "ranks, 'steps', steps, 'reason', ?) WHERE id = ? AND status = 'running'",
                           -1, &u, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(q, 1, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, boot, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(q) == SQLITE_ROW) {
        long pid = (long)sqlite3_column_int64(q, 1);
        long long start = sqlite3_column_int64(q, 2), now = -1;
        if (start <= 0)
            continue;   /* recorded without /proc: its launcher cannot be told apart */
        if (pid > 0 && proc_start(pid, &now) && now == start)
            continue;   /* its launcher is still there */
        char why[160];
        snprintf(why, sizeof why, "its launcher (zplan exec, pid %ld) is gone without recording the end "
                 "(killed, or the machine restarted)", pid);
        sqlite3_bind_text(u, 1, why, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(u, 2, sqlite3_column_int64(q, 0));
        if (sqlite3_step(u) == SQLITE_DONE && sqlite3_changes(db) > 0)
            marked++;
        sqlite3_reset(u);
    }
out:
    sqlite3_finalize(q);
    sqlite3_finalize(u);
    sqlite3_close(db);
    return marked;
}

zp_status zp_store_finish_exec(zp_store *s, int64_t id, const char *status, const char *record_json, zp_err *e)
{
    return run(s, e, "UPDATE executions SET status = ?, record_json = ? WHERE id = ?", "tti", status, record_json, id);
}

zp_status zp_store_put_profile(zp_store *s, const char *name, const char *json, zp_err *e)
{
    return run(s, e, "INSERT OR REPLACE INTO profiles (name, json) VALUES (?, ?)", "tt", name, json);
}

zp_status zp_store_profile(zp_store *s, const char *name, char **json, zp_err *e)
{
    sqlite3_stmt *q;
    *json = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT json FROM profiles WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        *json = strdup(t ? t : "");
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return *json ? ZP_OK : zp_err_set(e, ZP_ENOMEM, "out of memory");
    if (rc != SQLITE_DONE)
        return sql_err(s, e, "read");
    return zp_err_set(e, ZP_ENOTFOUND, "no profile '%s' in %s", name, s->path);
}

zp_status zp_store_execs(zp_store *s, int64_t run_id, int (*cb)(void *, int64_t, const char *, const char *),
                         void *arg, zp_err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "SELECT id, status, record_json FROM executions WHERE run_id = ? ORDER BY id", -1,
                           &q, NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (cb(arg, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
               (const char *)sqlite3_column_text(q, 2)))
            break;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_err(s, e, "read");
    return ZP_OK;
}

/* ------------------------------------------------------------ executions saved to a file
 *
 * When the end of an execution cannot be written to the store, its row
 * goes to a JSON file that says what it is, and `zplan import FILE` writes
 * it later.  The file's format (format_version 1):
 *   format "zplan-execution", format_version 1, about (a sentence),
 *   database (absolute path), saved (UTC), reason (why the store refused),
 *   exec_id, run_id, plan, backend, ranks, steps, scale, status, record. */

#define SAVED_FORMAT "zplan-execution"
#define SAVED_VERSION 1
#define JSON_INT_MAX 9007199254740992.0 /* 2^53: a JSON number holds every integer up to it */

static const char *const finished_statuses[] = {"ok", "oom", "failed", "interrupted", NULL};

static int is_finished(const char *status)
{
    for (int i = 0; status && finished_statuses[i]; i++)
        if (strcmp(status, finished_statuses[i]) == 0)
            return 1;
    return 0;
}

/* One transaction: finish execution id (status, record), or add its row
 * when it is missing.  import: a row finished otherwise is refused. */
static zp_status put_exec(zp_store *s, int64_t id, const zp_exec_info *xi, const char *status, const char *record,
                          const char *created, int import, zp_import_how *how, zp_err *e)
{
    sqlite3_stmt *q = NULL;
    zp_status st;
    if ((st = zp_store_begin(s, e)))
        return st;
    if (sqlite3_prepare_v2(s->db, "SELECT run_id, plan_rank, backend, ranks, steps, scale, status, record_json "
                           "FROM executions WHERE id = ?", -1, &q, NULL) != SQLITE_OK) {
        st = sql_err(s, e, "read");
        goto fail;
    }
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        int64_t run_id = sqlite3_column_int64(q, 0), plan = sqlite3_column_int64(q, 1);
        int64_t ranks = sqlite3_column_int64(q, 3), steps = sqlite3_column_int64(q, 4);
        const char *backend = (const char *)sqlite3_column_text(q, 2), *scale = (const char *)sqlite3_column_text(q, 5);
        const char *was = (const char *)sqlite3_column_text(q, 6), *rec = (const char *)sqlite3_column_text(q, 7);
        if (run_id != xi->run_id || plan != xi->plan_rank || ranks != xi->ranks || steps != xi->steps ||
            strcmp(backend ? backend : "", xi->backend) || strcmp(scale ? scale : "", xi->scale)) {
            st = zp_err_set(e, ZP_EINVAL, "execution %lld in %s is of run %lld plan %lld (%s, %lld ranks, %lld "
                            "steps, scale %s), not of run %lld plan %lld (%s, %lld ranks, %lld steps, scale %s): the "
                            "record belongs to another database; nothing was changed", (long long)id, s->path,
                            (long long)run_id, (long long)plan, backend ? backend : "?", (long long)ranks,
                            (long long)steps, scale ? scale : "?", (long long)xi->run_id, (long long)xi->plan_rank,
                            xi->backend, (long long)xi->ranks, (long long)xi->steps, xi->scale);
            goto fail;
        }
        if (was && rec && strcmp(was, status) == 0 && strcmp(rec, record) == 0) {
            *how = ZP_IMPORT_ALREADY;
            sqlite3_finalize(q);
            zp_store_rollback(s);
            return ZP_OK;
        }
        /* a row still running, or marked lost by list or show while the
         * record waited in its file, is finished by the import */
        if (import && was && strcmp(was, "running") != 0 && strcmp(was, "lost") != 0) {
            st = zp_err_set(e, ZP_EINVAL, "execution %lld in %s already finished as '%s' with another record; "
                            "nothing was changed", (long long)id, s->path, was);
            goto fail;
        }
        sqlite3_finalize(q);
        q = NULL;
        *how = ZP_IMPORT_FINISHED;
        st = run(s, e, "UPDATE executions SET status = ?, record_json = ? WHERE id = ?", "tti", status, record, id);
    } else if (rc == SQLITE_DONE) {
        sqlite3_finalize(q);
        q = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT EXISTS (SELECT 1 FROM plans WHERE run_id = r.id AND kind = 'top' "
                               "AND rank = ?) FROM runs r WHERE r.id = ?", -1, &q, NULL) != SQLITE_OK) {
            st = sql_err(s, e, "read");
            goto fail;
        }
        sqlite3_bind_int64(q, 1, (int64_t)xi->plan_rank);
        sqlite3_bind_int64(q, 2, xi->run_id);
        rc = sqlite3_step(q);
        if (rc == SQLITE_DONE) {
            st = zp_err_set(e, ZP_EINVAL, "execution %lld is of run %lld, which is not in %s: the record belongs to "
                            "another database; nothing was changed", (long long)id, (long long)xi->run_id, s->path);
            goto fail;
        }
        if (rc == SQLITE_ROW && !sqlite3_column_int(q, 0)) {
            st = zp_err_set(e, ZP_EINVAL, "execution %lld is of run %lld plan %lld, which run %lld of %s does not "
                            "have: the record belongs to another database; nothing was changed", (long long)id,
                            (long long)xi->run_id, (long long)xi->plan_rank, (long long)xi->run_id, s->path);
            goto fail;
        }
        if (rc != SQLITE_ROW) {
            st = sql_err(s, e, "read");
            goto fail;
        }
        sqlite3_finalize(q);
        q = NULL;
        *how = ZP_IMPORT_ADDED;
        st = run(s, e, "INSERT INTO executions (id, run_id, plan_rank, created, status, backend, ranks, steps, scale,"
                 " record_json) VALUES (?, ?, ?, COALESCE(?, strftime('%Y-%m-%dT%H:%M:%SZ','now')), ?, ?, ?, ?, ?, ?)",
                 "iiitttiitt", id, xi->run_id, (int64_t)xi->plan_rank, created, status, xi->backend, xi->ranks,
                 xi->steps, xi->scale, record);
    } else {
        st = sql_err(s, e, "read");
        goto fail;
    }
    if (st == ZP_OK && (st = zp_store_commit(s, e)) == ZP_OK)
        return ZP_OK;
fail:
    sqlite3_finalize(q);
    zp_store_rollback(s);
    return st;
}

/* The record as compact JSON (malloc'd), or NULL if it is not an object. */
static char *compact_object(const char *json)
{
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    char *t = cJSON_IsObject(o) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return t;
}

/* Write text to a new file dir/name (dir NULL: the current directory), or
 * name-2, -3, ... when taken: a temporary file, synced, then linked to its
 * name, so the name holds all of it or does not exist. */
static zp_status write_new_file(const char *dir, const char *name, const char *text, char *path, size_t n, zp_err *e)
{
    char tmp[1200];
    char base[1100];
    snprintf(base, sizeof base, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", base, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return zp_err_set(e, ZP_EIO, "cannot write %s: %s", base, strerror(errno));
    size_t len = strlen(text), done = 0;
    errno = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int err = done < len ? (errno ? errno : EIO) : 0;
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (err) {
        unlink(tmp);
        return zp_err_set(e, ZP_EIO, "cannot write %s: %s", base, strerror(err));
    }
    /* base.exec-7.json, base.exec-7-2.json, ... */
    const char *ext = strrchr(base, '.');
    size_t stem = ext ? (size_t)(ext - base) : strlen(base);
    for (int k = 1; k < 100; k++) {
        if (k == 1)
            snprintf(path, n, "%s", base);
        else
            snprintf(path, n, "%.*s-%d%s", (int)stem, base, k, ext ? ext : "");
        if (link(tmp, path) == 0) {
            unlink(tmp);
            return ZP_OK;
        }
        if (errno == EEXIST)
            continue;
        /* a file system without hard links: rename, where nothing is */
        if (access(path, F_OK) != 0 && rename(tmp, path) == 0)
            return ZP_OK;
        err = errno;
        unlink(tmp);
        return zp_err_set(e, ZP_EIO, "cannot write %s: %s", path, strerror(err));
    }
    unlink(tmp);
    return zp_err_set(e, ZP_EIO, "cannot write %s: 99 files of that name are there already", base);
}

/* path in single quotes if a shell would split or expand it. */
static const char *shell_word(const char *path, char *buf, size_t n)
{
    if (!strpbrk(path, " \t\n'\"$`\\;&|<>()*?[]#~!{}"))
        return path;
    snprintf(buf, n, "'%s'", path);
    return buf;
}

static zp_status save_exec(const char *dbpath, int64_t id, const zp_exec_info *xi, const char *status,
                           const char *record, const char *reason, char *path, size_t n, zp_err *e)
{
    char abs[PATH_MAX + 1], cwd[PATH_MAX], when[32], name[1100], dir[1024];
    if (!realpath(dbpath, abs)) {
        if (dbpath[0] != '/' && getcwd(cwd, sizeof cwd))
            snprintf(abs, sizeof abs, "%s/%s", cwd, dbpath);
        else
            snprintf(abs, sizeof abs, "%s", dbpath);
    }
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    cJSON *o = cJSON_CreateObject(), *rec = cJSON_Parse(record);
    cJSON_AddStringToObject(o, "format", SAVED_FORMAT);
    cJSON_AddNumberToObject(o, "format_version", SAVED_VERSION);
    cJSON_AddStringToObject(o, "about", "an execution zplan could not record in its database; "
                                        "zplan import FILE adds it there");
    cJSON_AddStringToObject(o, "database", abs);
    cJSON_AddStringToObject(o, "saved", when);
    cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddNumberToObject(o, "exec_id", (double)id);
    cJSON_AddNumberToObject(o, "run_id", (double)xi->run_id);
    cJSON_AddNumberToObject(o, "plan", xi->plan_rank);
    cJSON_AddStringToObject(o, "backend", xi->backend);
    cJSON_AddNumberToObject(o, "ranks", (double)xi->ranks);
    cJSON_AddNumberToObject(o, "steps", (double)xi->steps);
    cJSON_AddStringToObject(o, "scale", xi->scale);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddItemToObject(o, "record", rec ? rec : cJSON_CreateObject());
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return zp_err_set(e, ZP_ENOMEM, "out of memory");
    size_t tl = strlen(text);
    char *t2 = realloc(text, tl + 2);
    if (!t2) {
        free(text);
        return zp_err_set(e, ZP_ENOMEM, "out of memory");
    }
    text = t2;
    memcpy(text + tl, "\n", 2);
    const char *slash = strrchr(dbpath, '/');
    snprintf(name, sizeof name, "%s.exec-%lld.json", slash ? slash + 1 : dbpath, (long long)id);
    dir_of(dbpath, dir, sizeof dir);
    zp_err e1, e2;
    zp_status st = write_new_file(slash ? dir : NULL, name, text, path, n, &e1);
    if (st && slash)   /* beside the database failed: the current directory */
        st = write_new_file(NULL, name, text, path, n, &e2);
    free(text);
    if (st)
        return zp_err_set(e, st, "%s%s%s", e1.msg, slash ? "; nor " : "", slash ? e2.msg : "");
    return ZP_OK;
}

zp_status zp_store_finish_exec_or_save(const char *dbpath, int64_t exec_id, const zp_exec_info *xi,
                                       const char *status, const char *record_json, char *saved_path,
                                       size_t saved_n, zp_err *e)
{
    if (saved_path && saved_n)
        saved_path[0] = '\0';
    if (!dbpath || !*dbpath || !xi || exec_id < 1 || xi->run_id < 1 || xi->plan_rank < 1 || !xi->backend ||
        !*xi->backend || xi->ranks < 1 || xi->steps < 1 || !xi->scale || !saved_path || saved_n < 2)
        return zp_err_set(e, ZP_EINVAL, "zp_store_finish_exec_or_save: execution %lld: a database, ids from 1, "
                          "a backend, ranks and steps from 1, a scale and a buffer for the file's name are needed",
                          (long long)exec_id);
    if (!is_finished(status))
        return zp_err_set(e, ZP_EINVAL, "execution %lld: status '%s' is not one an execution ends with (allowed: "
                          "ok, oom, failed, interrupted)", (long long)exec_id, status ? status : "(null)");
    char *rec = compact_object(record_json);
    if (!rec)
        return zp_err_set(e, ZP_EINVAL, "execution %lld: the record is not a JSON object", (long long)exec_id);
    zp_err se;
    zp_store *s;
    zp_import_how how;
    zp_status st = open_rw(dbpath, 0, &s, &se);
    if (st == ZP_OK) {
        st = put_exec(s, exec_id, xi, status, rec, NULL, 0, &how, &se);
        zp_store_close(s);
    }
    if (st == ZP_OK) {
        free(rec);
        return ZP_OK;
    }
    char file[1200], word[1300];
    zp_err fe;
    zp_status fs = save_exec(dbpath, exec_id, xi, status, rec, se.msg, file, sizeof file, &fe);
    free(rec);
    if (fs)
        return zp_err_set(e, st, "%s; nor could execution %lld be saved to a file: %s", se.msg, (long long)exec_id,
                          fe.msg);
    snprintf(saved_path, saved_n, "%s", file);
    return zp_err_set(e, ZP_EIO, "%s; the execution's record is in %s: zplan import %s adds it", se.msg, file,
                      shell_word(file, word, sizeof word));
}

/* Reading a saved execution back: each field checked, the error naming it. */

static zp_status bad_field(const char *file, const char *field, const char *allowed, const cJSON *got, zp_err *e)
{
    if (!got)
        return zp_err_set(e, ZP_EINVAL, "%s: field '%s' is missing (%s)", file, field, allowed);
    char *t = cJSON_PrintUnformatted(got);
    zp_status st = zp_err_set(e, ZP_EINVAL, "%s: field '%s' is %.60s%s: %s", file, field, t ? t : "?",
                              t && strlen(t) > 60 ? "..." : "", allowed);
    free(t);
    return st;
}

static zp_status get_int(const char *file, const cJSON *o, const char *field, int64_t lo, int64_t hi, int64_t *v,
                         zp_err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, field);
    char allowed[96];
    snprintf(allowed, sizeof allowed, "allowed: a whole number from %lld to %lld", (long long)lo, (long long)hi);
    if (!cJSON_IsNumber(x) || x->valuedouble != x->valuedouble || x->valuedouble < (double)lo ||
        x->valuedouble > (double)hi || x->valuedouble != (double)(int64_t)x->valuedouble)
        return bad_field(file, field, allowed, x, e);
    *v = (int64_t)x->valuedouble;
    return ZP_OK;
}

static zp_status get_str(const char *file, const cJSON *o, const char *field, size_t max, char *out, size_t n,
                         zp_err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, field);
    char allowed[64];
    snprintf(allowed, sizeof allowed, "allowed: a string of 1 to %zu characters", max);
    if (!cJSON_IsString(x) || !x->valuestring[0] || strlen(x->valuestring) > max || strlen(x->valuestring) >= n)
        return bad_field(file, field, allowed, x, e);
    snprintf(out, n, "%s", x->valuestring);
    return ZP_OK;
}

static zp_status load_saved(const char *file, zp_saved_exec *x, zp_err *e)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return zp_err_set(e, errno == ENOENT ? ZP_ENOTFOUND : ZP_EIO, "cannot read %s: %s", file, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    for (size_t got; text && (got = fread(text + len, 1, cap - len - 1, f)) > 0;) {
        len += got;
        if (len + 1 == cap) {
            char *t = cap < ((size_t)1 << 30) ? realloc(text, cap *= 2) : NULL;
            if (!t) {
                free(text);
                text = NULL;
            }
            text = t;
        }
    }
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (!text)
        return zp_err_set(e, ZP_ENOMEM, "%s: out of memory (is it a saved execution?)", file);
    if (rerr) {
        free(text);
        /* a directory is the user's mistake (exit 2, as a missing file), a read error the machine's */
        return zp_err_set(e, rerr == EISDIR ? ZP_EINVAL : ZP_EIO, "cannot read %s: %s%s", file, strerror(rerr),
                          rerr == EISDIR ? " (allowed: a saved execution, DB.exec-ID.json)" : "");
    }
    text[len] = '\0';
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(text, &end, 1);
    if (!o) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = 1;
        for (const char *p = text; at && p < at && *p; p++)
            line += *p == '\n';
        free(text);
        return zp_err_set(e, ZP_EINVAL, "%s: not JSON (at line %d): not an execution saved by zplan", file, line);
    }
    free(text);
    zp_status st = ZP_OK;
    const char *dup = cJSON_IsObject(o) ? zp_json_dup_key(o) : NULL;
    if (dup) {
        st = zp_err_set(e, ZP_EINVAL, "%s: the key \"%.64s\" appears twice in one object: not an execution as zplan "
                        "saves it", file, dup);
        goto out;
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
    int64_t ver = 0;
    if (!cJSON_IsObject(o))
        st = zp_err_set(e, ZP_EINVAL, "%s: not a JSON object: not an execution saved by zplan", file);
    else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, SAVED_FORMAT) != 0)
        st = bad_field(file, "format", "allowed: \"" SAVED_FORMAT "\", the mark of an execution saved by zplan", fmt,
                       e);
    else if ((st = get_int(file, o, "format_version", 1, 1000000, &ver, e)))
        ;
    else if (ver != SAVED_VERSION)
        st = zp_err_set(e, ZP_EINVAL, "%s: field 'format_version' is %lld: this zplan reads %d (a newer zplan saved "
                        "it; import it with that one)", file, (long long)ver, SAVED_VERSION);
    else if ((st = get_str(file, o, "database", sizeof x->database - 1, x->database, sizeof x->database, e)))
        ;
    else if (x->database[0] != '/')
        st = bad_field(file, "database", "allowed: an absolute path", cJSON_GetObjectItemCaseSensitive(o, "database"),
                       e);
    if (st)
        goto out;
    const cJSON *saved = cJSON_GetObjectItemCaseSensitive(o, "saved");
    if (saved) {
        static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
        int okay = cJSON_IsString(saved) && strlen(saved->valuestring) == sizeof pat - 1;
        for (size_t i = 0; okay && i < sizeof pat - 1; i++)
            okay = pat[i] == 'd' ? isdigit((unsigned char)saved->valuestring[i]) != 0 : saved->valuestring[i] == pat[i];
        if (!okay) {
            st = bad_field(file, "saved", "allowed: a UTC time as 2026-01-31T12:00:00Z", saved, e);
            goto out;
        }
        snprintf(x->saved, sizeof x->saved, "%s", saved->valuestring);
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(o, "record");
    if ((st = get_int(file, o, "exec_id", 1, (int64_t)JSON_INT_MAX, &x->exec_id, e)) ||
        (st = get_int(file, o, "run_id", 1, (int64_t)JSON_INT_MAX, &x->run_id, e)) ||
        (st = get_int(file, o, "plan", 1, 1000000, &x->plan_rank, e)) ||
        (st = get_str(file, o, "backend", sizeof x->backend - 1, x->backend, sizeof x->backend, e)) ||
        (st = get_int(file, o, "ranks", 1, 1000000, &x->ranks, e)) ||
        (st = get_int(file, o, "steps", 1, 1000000000, &x->steps, e)) ||
        (st = get_str(file, o, "scale", sizeof x->scale - 1, x->scale, sizeof x->scale, e)))
        goto out;
    if (!cJSON_IsString(status) || !is_finished(status->valuestring)) {
        st = bad_field(file, "status", "allowed: \"ok\", \"oom\", \"failed\", \"interrupted\"", status, e);
        goto out;
    }
    snprintf(x->status, sizeof x->status, "%s", status->valuestring);
    if (!cJSON_IsObject(rec)) {
        st = bad_field(file, "record", "allowed: a JSON object, the execution's record", rec, e);
        goto out;
    }
    /* the record says which execution it is: the same as the file's header */
    {
        const struct { const char *key; int64_t v; } same[] = {
            {"exec_id", x->exec_id}, {"run_id", x->run_id}, {"plan", x->plan_rank}, {"ranks", x->ranks},
            {"steps", x->steps}};
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, same[i].key);
            if (v && (!cJSON_IsNumber(v) || v->valuedouble != (double)same[i].v)) {
                char want[96];
                snprintf(want, sizeof want, "allowed: %lld, the file's own '%s'", (long long)same[i].v, same[i].key);
                char key[48];
                snprintf(key, sizeof key, "record.%s", same[i].key);
                st = bad_field(file, key, want, v, e);
                goto out;
            }
        }
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(rec, "status");
        if (rs && (!cJSON_IsString(rs) || strcmp(rs->valuestring, x->status))) {
            st = bad_field(file, "record.status", "allowed: the file's own 'status'", rs, e);
            goto out;
        }
    }
    /* every field of the record as zplan show and report will read it
     * (zp_exec_record_check), so that nothing goes into the database that
     * they then refuse */
    {
        zp_err ce = {0};
        char where[600];
        snprintf(where, sizeof where, "%s: record", file);
        if (zp_exec_record_check(rec, where, &ce)) {
            char msg[sizeof ce.msg];
            snprintf(msg, sizeof msg, "%s", ce.msg);
            char *cut = strstr(msg, " (was the database edited?");
            if (cut)
                *cut = '\0';
            const char *tag = "the stored document is not valid: ", *at = strstr(msg, tag);
            if (at)
                memmove((char *)at, at + strlen(tag), strlen(at + strlen(tag)) + 1);
            st = zp_err_set(e, ZP_EINVAL, "%s (not imported: the record must be as zplan exec saved it)", msg);
            goto out;
        }
        const cJSON *ls = zp_jobj(rec, "losses"), *sd = zp_jobj(rec, "steps_done");
        if (cJSON_IsArray(ls) && cJSON_IsNumber(sd) && (double)cJSON_GetArraySize(ls) != sd->valuedouble) {
            char want[96];
            snprintf(want, sizeof want, "allowed: %d, the number of record.losses", cJSON_GetArraySize(ls));
            st = bad_field(file, "record.steps_done", want, sd, e);
            goto out;
        }
    }
    if (!(x->record_json = cJSON_PrintUnformatted(rec)))
        st = zp_err_set(e, ZP_ENOMEM, "out of memory");
out:
    cJSON_Delete(o);
    return st;
}

void zp_saved_exec_fini(zp_saved_exec *x)
{
    if (!x)
        return;
    free(x->record_json);
    x->record_json = NULL;
}

zp_status zp_store_import_exec(const char *file, const char *dbpath, zp_saved_exec *x, const char **db_used,
                               zp_import_how *how, zp_err *e)
{
    memset(x, 0, sizeof *x);
    *db_used = dbpath;
    zp_status st = load_saved(file, x, e);
    if (st)
        return st;
    const char *db = dbpath ? dbpath : x->database;
    *db_used = db;
    zp_store *s;
    if ((st = open_rw(db, 0, &s, e)))
        return st;
    zp_exec_info xi = {x->run_id, (int)x->plan_rank, x->backend, x->ranks, x->steps, x->scale};
    st = put_exec(s, x->exec_id, &xi, x->status, x->record_json, x->saved[0] ? x->saved : NULL, 1, how, e);
    zp_store_close(s);
    return st;
}

zp_status zp_store_delete_run(const char *path, int64_t id, zp_err *e)
{
    zp_store *s;
    zp_status st = zp_store_open(path, &s, e);
    if (st)
        return st;
    st = run(s, e, "DELETE FROM runs WHERE id = ?", "i", id);
    zp_store_close(s);
    return st;
}
