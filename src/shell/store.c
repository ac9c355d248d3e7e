/* store.c - SQLite persistence of planning runs. */
#include "store.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct zp_store {
    sqlite3 *db;
    char path[1024];
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
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static zp_status sql_err(zp_store *s, zp_err *e, const char *what)
{
    return zp_err_set(e, ZP_ESQL, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static zp_status exec(zp_store *s, const char *sql, zp_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        zp_status st = zp_err_set(e, ZP_ESQL, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return st;
    }
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

static zp_status migrate(zp_store *s, zp_err *e)
{
    zp_status st;
    if ((st = exec(s, "BEGIN IMMEDIATE", e)))
        return st;
    int v = zp_store_schema_version(s);
    if (v < 0 || v > NMIGRATIONS) {
        zp_store_rollback(s);
        return zp_err_set(e, ZP_ESQL, "%s: schema version %d is not one this zplan knows (0 to %d): "
                          "a newer zplan wrote it, or it is not a zplan database", s->path, v, NMIGRATIONS);
    }
    for (; v < NMIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if ((st = exec(s, migrations[v], e)) || (st = exec(s, pragma, e))) {
            zp_store_rollback(s);
            return st;
        }
    }
    return exec(s, "COMMIT", e);
}

static zp_status open_db(const char *path, int flags, zp_store **out, zp_err *e)
{
    zp_store *s = calloc(1, sizeof *s);
    if (!s)
        return zp_err_set(e, ZP_ENOMEM, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        zp_status st = zp_err_set(e, ZP_EIO, "%s: cannot open the database: %s", path,
                                  s->db ? sqlite3_errmsg(s->db) : "out of memory");
        zp_store_close(s);
        return st;
    }
    sqlite3_busy_timeout(s->db, 10000);
    *out = s;
    return ZP_OK;
}

/* Switch to WAL (persistent, so once per file).  The switch needs the file
 * to itself; when several zplan processes create the same database at once
 * SQLite answers SQLITE_BUSY without calling the busy handler, so retry for
 * as long as the busy timeout would have waited. */
static zp_status wal(zp_store *s, zp_err *e)
{
    for (int waited_ms = 0;; waited_ms += 20) {
        sqlite3_stmt *q;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &q, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(q);
            sqlite3_finalize(q);
            if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                return ZP_OK;
        }
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= 10000)
            return sql_err(s, e, "set WAL mode");
        sqlite3_sleep(20);
    }
}

zp_status zp_store_open(const char *path, zp_store **out, zp_err *e)
{
    zp_store *s;
    zp_status st = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s, e);
    if (st)
        return st;
    if ((st = wal(s, e)) || (st = exec(s, "PRAGMA foreign_keys=ON", e)) || (st = migrate(s, e))) {
        zp_store_close(s);
        return st;
    }
    *out = s;
    return ZP_OK;
}

zp_status zp_store_open_existing(const char *path, zp_store **out, zp_err *e)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return zp_err_set(e, ZP_ENOTFOUND, "%s: no zplan database here (plan something first, or pass --db PATH)",
                          path);
    zp_store *s;
    zp_status st = open_db(path, SQLITE_OPEN_READONLY, &s, e);
    if (st)
        return st;
    int v = zp_store_schema_version(s);
    if (v < 1 || v > NMIGRATIONS) {
        st = zp_err_set(e, v == 0 ? ZP_ENOTFOUND : ZP_ESQL, "%s: not a zplan database (schema version %d)", path, v);
        zp_store_close(s);
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
        "INSERT INTO plans (run_id, kind, rank, name, dp, tp, pp, vp, zero, offload, ckpt, sp, micro_batch,"
        " grad_accum, fits, reject, worst_stage, params_bytes, grads_bytes, optimizer_bytes, activations_bytes,"
        " buffers_bytes, overhead_bytes, total_bytes, host_bytes, host_bytes_per_node, comm_bytes_per_step,"
        " compute_s, comm_exposed_s, bubble_s, optimizer_s, step_time_s, tokens_per_s, mfu)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "ititiiiiittiiiiti" "iiiiiiiiii" "ddddddd",
        runid, kind, (int64_t)rank, name, l->dp, l->tp, l->pp, l->vp, (int64_t)l->zero,
        zp_offload_names[l->offload], zp_ckpt_names[l->ckpt], (int64_t)l->sp, l->micro_batch, l->grad_accum,
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
    static const char *const ovl[] = {"none", "backward", "forward+backward"};
    sqlite3_stmt *q;
    int64_t seq = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM plan_comm WHERE run_id = ? AND stage = ?", -1, &q,
                           NULL) != SQLITE_OK)
        return sql_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, runid);
    sqlite3_bind_int64(q, 2, stage);
    if (sqlite3_step(q) == SQLITE_ROW)
        seq = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return run(s, e,
        "INSERT INTO plan_comm (run_id, stage, seq, collective, grp, what, group_size, inter_node, bytes, count,"
        " bus_bytes_per_step, time_s, overlap) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "iiitttiiiiidt", runid, stage, seq, zp_coll_kind_names[c->kind], zp_group_names[c->group], c->what,
        c->group_size, (int64_t)c->inter_node, (int64_t)c->bytes, c->count,
        (int64_t)c->bus_bytes, c->time_s, ovl[c->overlap]);
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
            "SELECT r.id, r.created, r.model, r.params, r.gpu, r.gpus, r.candidates, r.fitting,"
            " (SELECT printf('dp%d tp%d pp%d zero%d %s %s mb%d', dp, tp, pp, zero, offload, ckpt, micro_batch)"
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
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
        *id = sqlite3_column_int64(q, 0);
        st = ZP_OK;
    } else
        st = zp_err_set(e, ZP_ENOTFOUND, "%s holds no runs yet", s->path);
    sqlite3_finalize(q);
    return st;
}

zp_status zp_store_add_exec(zp_store *s, int64_t run_id, int plan_rank, const char *backend, int64_t ranks,
                            int64_t steps, const char *scale, int64_t *id, zp_err *e)
{
    zp_status st = run(s, e,
        "INSERT INTO executions (run_id, plan_rank, status, backend, ranks, steps, scale) VALUES (?,?,?,?,?,?,?)",
        "iittiit", run_id, (int64_t)plan_rank, "running", backend, ranks, steps, scale);
    if (st == ZP_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return st;
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
