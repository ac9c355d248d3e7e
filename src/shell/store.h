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
/* Executions still 'running' whose launcher (zplan exec, on this machine
 * and boot: pid and start time recorded) is gone are marked 'lost', with a
 * reason.  Best effort, for list and show: a database that cannot be
 * written is left as it is.  Returns how many were marked. */
int zp_store_mark_lost(const char *path);
/* Delete run id and its rows (plans, stages, executions...): a planning
 * run whose answer could not be delivered. */
zp_status zp_store_delete_run(const char *path, int64_t id, zp_err *e);
/* Every execution of a run, oldest first: cb(arg, id, status, record_json);
 * a non-zero return stops. */
zp_status zp_store_execs(zp_store *s, int64_t run_id, int (*cb)(void *, int64_t, const char *, const char *),
                         void *arg, zp_err *e);
/* Hardware profiles (zplan calibrate): the GPU preset JSON under a name. */
zp_status zp_store_put_profile(zp_store *s, const char *name, const char *json, zp_err *e);
zp_status zp_store_profile(zp_store *s, const char *name, char **json, zp_err *e);

/* What an execution row holds besides its status and record: what
 * zp_store_add_exec was given. */
typedef struct zp_exec_info {
    int64_t run_id;      /* the planning run */
    int plan_rank;       /* which of its plans, 1.. */
    const char *backend; /* "cpu", "cuda" */
    int64_t ranks;       /* MPI ranks */
    int64_t steps;       /* training steps asked for */
    const char *scale;   /* the --scale spec, or "none" */
} zp_exec_info;

/* The end of an execution, when its measurement must not be lost: open the
 * store at dbpath (which must exist), finish execution exec_id (xi says
 * which run, plan, backend, ranks, steps, scale it is; the row is added if
 * it is missing) with status ("ok", "oom", "failed", "interrupted") and
 * record_json (a JSON object), in one transaction, and close the store.
 *
 * ZP_OK: recorded; saved_path is "".
 * When the store cannot be written (locked past $ZPLAN_DB_WAIT_S, read-only,
 * damaged, full, gone), the execution is written to a new file
 * <dbpath>.exec-<id>.json beside the database (else ./<name>.exec-<id>.json,
 * -2, -3... if taken; complete or absent, never half-written) and
 * ZP_EIO is returned with saved_path holding the file's name and e->msg
 * the line to print after "zplan: ", e.g. "the database zplan.db is locked
 * by another process: gave up after 120 s; the execution's record is in
 * zplan.db.exec-7.json: zplan import zplan.db.exec-7.json adds it".
 * Any other status: neither was possible (saved_path "", e says both
 * reasons); ZP_EINVAL for a bad argument (status, record_json, xi). */
zp_status zp_store_finish_exec_or_save(const char *dbpath, int64_t exec_id, const zp_exec_info *xi,
                                       const char *status, const char *record_json, char *saved_path,
                                       size_t saved_n, zp_err *e);

/* An execution saved by zp_store_finish_exec_or_save, as read back. */
typedef struct zp_saved_exec {
    char database[1024]; /* the database it belongs to (absolute path) */
    char saved[32];      /* when it was saved (UTC, ISO 8601) */
    int64_t exec_id;
    int64_t run_id, plan_rank, ranks, steps;
    char backend[32], scale[256], status[16];
    char *record_json;   /* malloc'd, compact JSON */
} zp_saved_exec;

typedef enum zp_import_how {
    ZP_IMPORT_FINISHED, /* the row was 'running': now finished */
    ZP_IMPORT_ADDED,    /* there was no row: added with its id */
    ZP_IMPORT_ALREADY,  /* the row already holds this status and record */
} zp_import_how;

/* zplan import: read file (validated, one line naming the field at fault,
 * ZP_EINVAL), open the store at dbpath (NULL: the database the file names;
 * it must exist) and, in one transaction, finish the execution's row, or add
 * it when it is missing (its run must be there).  Importing again changes
 * nothing and answers ZP_IMPORT_ALREADY; a row that is another execution
 * (other run, plan, backend, ranks, steps or scale) or that finished with
 * another status or record is refused (ZP_EINVAL), unchanged.  x is filled
 * (zp_saved_exec_fini frees it) and *db_used names the database. */
zp_status zp_store_import_exec(const char *file, const char *dbpath, zp_saved_exec *x, const char **db_used,
                               zp_import_how *how, zp_err *e);
void zp_saved_exec_fini(zp_saved_exec *x);

#endif
