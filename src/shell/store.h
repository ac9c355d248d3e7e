/* store.h - the SQLite store: every SQL statement of zplan lives in store.c.
 *
 * One file (./zplan.db, --db PATH or $ZPLAN_DB), versioned schema
 * (PRAGMA user_version, ordered migrations), WAL and a busy timeout, prepared
 * statements only, one transaction per logical write.  README "Store"
 * documents the tables. */
#ifndef ZP_STORE_H
#define ZP_STORE_H

#include "core.h"

typedef struct zp_store zp_store;

/* What a planning run records besides its plans. */
typedef struct zp_run_info {
    const char *command;      /* the command line, for the record */
    const char *version;
    const char *model_source; /* "params 11e9", "preset llama2-7b", "config path" */
    const zp_problem *pb;
    int64_t params;
    int64_t candidates;
    int64_t fitting;
} zp_run_info;

typedef struct zp_run_row {
    int64_t id;
    const char *created, *model, *gpu, *best;
    int64_t params, gpus, candidates, fitting;
} zp_run_row;

/* Open (creating and migrating) the store at path.  Whatever is at path is
 * looked at read-only first; only a new path, an empty file or database, or
 * a zplan database of a known schema is opened for writing (and switched to
 * WAL).  Anything else is refused with one line and left byte-identical: a
 * file that is not SQLite, another program's SQLite database, a newer
 * schema, a damaged file (PRAGMA quick_check), a file or directory this
 * process may not write (in the OS's words).  Every connection waits for a
 * locked database up to $ZPLAN_DB_WAIT_S seconds (default 120), printing a
 * progress line on stderr after 1 s and every 10 s. */
zp_status zp_store_open(const char *path, zp_store **out, zp_err *e);
/* Open an existing store read-only (never changing the file's mode; in a
 * read-only directory an unwritten WAL database is read as immutable);
 * ZP_ENOTFOUND when there is none or it holds nothing yet; the same refusals
 * as zp_store_open. */
zp_status zp_store_open_existing(const char *path, zp_store **out, zp_err *e);
void zp_store_close(zp_store *s);
int zp_store_schema_version(zp_store *s);

/* Writes: begin, add rows, set the result JSON, commit (or rollback). */
zp_status zp_store_begin(zp_store *s, zp_err *e);
zp_status zp_store_commit(zp_store *s, zp_err *e);
void zp_store_rollback(zp_store *s);
zp_status zp_store_add_run(zp_store *s, const zp_run_info *ri, int64_t *id, zp_err *e);
/* kind: "top" (rank 1..n) or "classic" (rank 1..7, with its name). */
zp_status zp_store_add_plan(zp_store *s, int64_t run, const char *kind, int rank, const char *name,
                            const zp_plan *p, zp_err *e);
zp_status zp_store_add_stage(zp_store *s, int64_t run, int64_t stage, const zp_mem *m, zp_err *e);
zp_status zp_store_add_comm(zp_store *s, int64_t run, int64_t stage, const zp_coll *c, zp_err *e);
zp_status zp_store_add_reject(zp_store *s, int64_t run, const char *reason, int64_t count, zp_err *e);
zp_status zp_store_set_result(zp_store *s, int64_t run, const char *json, zp_err *e);

/* Reads. */
zp_status zp_store_runs(zp_store *s, int limit, int (*cb)(void *, const zp_run_row *), void *arg, zp_err *e);
/* The result JSON of run id (malloc'd) and, if created is not NULL, its
 * creation time (UTC, ISO 8601); ZP_ENOTFOUND if no such run. */
zp_status zp_store_result(zp_store *s, int64_t id, char **json, char *created, size_t created_n, zp_err *e);
zp_status zp_store_latest(zp_store *s, int64_t *id, zp_err *e);

/* Executions (zplan exec): recorded as 'running' before the launch, then
 * finished with their status and record (one transaction each), so that a
 * run cut short still leaves a consistent row. */
zp_status zp_store_add_exec(zp_store *s, int64_t run, int plan_rank, const char *backend, int64_t ranks,
                            int64_t steps, const char *scale, int64_t *id, zp_err *e);
zp_status zp_store_finish_exec(zp_store *s, int64_t id, const char *status, const char *record_json, zp_err *e);
/* Every execution of a run, oldest first: cb(arg, id, status, record_json);
 * a non-zero return stops. */
zp_status zp_store_execs(zp_store *s, int64_t run_id, int (*cb)(void *, int64_t, const char *, const char *),
                         void *arg, zp_err *e);
/* Hardware profiles (zplan calibrate): the GPU preset JSON under a name. */
zp_status zp_store_put_profile(zp_store *s, const char *name, const char *json, zp_err *e);
zp_status zp_store_profile(zp_store *s, const char *name, char **json, zp_err *e);

#endif
