/* test_store.c - the end of an execution when the database stays locked:
 * zp_store_finish_exec_or_save saves the record to a file (waiting with
 * progress first), `zplan import FILE` adds it once the lock is gone, and
 * `zplan show` lists it.  Another connection holds BEGIN IMMEDIATE, as a
 * `sqlite3` shell or a backup would.  Runs the zplan binary ($ZPLAN, else
 * ./zplan) to plan the run and to import. */
#include "store.h"
#include "tap.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/zplan-test-store.XXXXXX";
static char db[256], errlog[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run a shell command line; its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* One value of a query on a connection of our own ("" when none). */
static const char *value(sqlite3 *c, const char *sql)
{
    static char out[4096];
    sqlite3_stmt *q;
    out[0] = '\0';
    if (sqlite3_prepare_v2(c, sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    return out;
}

static const char *record = "{\"exec_id\":1,\"run_id\":1,\"plan\":1,\"status\":\"ok\",\"backend\":\"cpu\",\"ranks\":2,"
                            "\"steps\":3,\"steps_done\":3,\"step_time_s\":{\"predicted\":0.2,\"measured\":0.25},"
                            "\"losses\":[10.5,10.25,10.125]}";

int main(void)
{
    char zplan[PATH_MAX];
    tap_plan(0);
    if (!realpath(getenv("ZPLAN") ? getenv("ZPLAN") : "./zplan", zplan)) {
        printf("Bail out! no zplan binary (build it, or set ZPLAN)\n");
        return 1;
    }
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(errlog, sizeof errlog, "%s/stderr", dir);
    setenv("ZPLAN_DB", db, 1);

    ok(sh("'%s' --params 1e9 --gpus 1 --db '%s' >/dev/null", zplan, db) == 0, "a planning run records run 1");
    zp_store *s = NULL;
    zp_err e = {0};
    int64_t id = 0, id2 = 0;
    ok(zp_store_open(db, &s, &e) == ZP_OK && zp_store_add_exec(s, 1, 1, "cpu", 2, 3, "none", &id, &e) == ZP_OK &&
       zp_store_add_exec(s, 1, 1, "cpu", 2, 3, "none", &id2, &e) == ZP_OK && id == 1 && id2 == 2,
       "executions 1 and 2 are recorded as running (%s)", e.msg);
    zp_store_close(s);
    zp_exec_info xi = {1, 1, "cpu", 2, 3, "none"};

    /* ---- locked: wait with progress, then save to a file */
    sqlite3 *lock;
    ok(sqlite3_open(db, &lock) == SQLITE_OK && sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK,
       "another connection holds BEGIN IMMEDIATE");
    setenv("ZPLAN_DB_WAIT_S", "2", 1);
    char saved[1024] = "x";
    fflush(stderr);
    int keep = dup(2);
    FILE *log = freopen(errlog, "w", stderr);
    double t0 = now_s();
    zp_status st = zp_store_finish_exec_or_save(db, id, &xi, "ok", record, saved, sizeof saved, &e);
    double waited = now_s() - t0;
    fflush(stderr);
    dup2(keep, 2);
    close(keep);
    (void)log;
    char want[1024];
    snprintf(want, sizeof want, "%s.exec-1.json", db);
    ok(st == ZP_EIO, "locked: finish_exec_or_save answers ZP_EIO (got %d)", st);
    is_str(saved, want, "locked: the record is saved beside the database as t.db.exec-1.json");
    ok(waited >= 1.9 && waited < 10, "locked: it waited ZPLAN_DB_WAIT_S=2 s first (%.2f s)", waited);
    ok(strstr(e.msg, "is locked by another process") && strstr(e.msg, want) && strstr(e.msg, "zplan import ") &&
       !strchr(e.msg, '\n'), "locked: one line saying why, where the file is and how to import it");
    diag("%s", e.msg);
    char *progress = slurp(errlog);
    ok(progress && strstr(progress, "zplan: the database ") &&
       strstr(progress, "is locked by another process; waiting (1 s, at most 2 s)"),
       "locked: a progress line on stderr while waiting");
    if (progress) {
        progress[strcspn(progress, "\n")] = '\0';
        diag("stderr: %s", progress);
    }
    free(progress);
    is_str(value(lock, "SELECT status FROM executions WHERE id = 1"), "running", "locked: the row is still running");

    /* the file says what it is */
    char *text = slurp(want);
    cJSON *f = text ? cJSON_Parse(text) : NULL;
    char abs[PATH_MAX];
    ok(f && realpath(db, abs), "the saved file is JSON");
    const cJSON *rec = cJSON_GetObjectItem(f, "record");
    char *rect = rec ? cJSON_PrintUnformatted(rec) : NULL;
    ok(f && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(f, "format")), "zplan-execution") == 0 &&
           cJSON_GetNumberValue(cJSON_GetObjectItem(f, "format_version")) == 1 &&
           strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(f, "database")), abs) == 0 &&
           cJSON_GetNumberValue(cJSON_GetObjectItem(f, "exec_id")) == 1 &&
           cJSON_GetNumberValue(cJSON_GetObjectItem(f, "run_id")) == 1 &&
           cJSON_GetNumberValue(cJSON_GetObjectItem(f, "plan")) == 1 &&
           strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(f, "status")), "ok") == 0 &&
           strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(f, "backend")), "cpu") == 0 && rect &&
           strcmp(rect, record) == 0,
       "the saved file holds format, database (absolute), exec_id, run_id, plan, status, backend and the record");
    free(rect);
    cJSON_Delete(f);
    free(text);

    /* import waits for the lock too, and changes nothing while it is held */
    setenv("ZPLAN_DB_WAIT_S", "1", 1);
    ok(sh("'%s' import '%s' >/dev/null 2>'%s'", zplan, want, errlog) == 1,
       "import while the lock is held: exit 1 after the wait");
    is_str(value(lock, "SELECT status FROM executions WHERE id = 1"), "running",
           "import while the lock is held: the row is unchanged");

    /* ---- the lock goes: zplan import adds it, zplan show lists it */
    sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(lock);
    char out[512];
    snprintf(out, sizeof out, "%s/show.json", dir);
    ok(sh("cd '%s' && '%s' import t.db.exec-1.json >/dev/null", dir, zplan) == 0,
       "zplan import FILE (the database the file names) exits 0");
    ok(sh("'%s' show 1 --db '%s' --json >'%s'", zplan, db, out) == 0, "zplan show 1 exits 0");
    text = slurp(out);
    f = text ? cJSON_Parse(text) : NULL;
    const cJSON *x = cJSON_GetArrayItem(cJSON_GetObjectItem(f, "executions"), 0);
    ok(x && cJSON_GetNumberValue(cJSON_GetObjectItem(x, "exec_id")) == 1 &&
           strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(x, "status")), "ok") == 0 &&
           cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "step_time_s"), "measured")) == 0.25,
       "zplan show lists execution 1 as ok with its record");
    cJSON_Delete(f);
    free(text);

    /* importing again: nothing changes (the API says so) */
    zp_saved_exec sx;
    zp_import_how how = ZP_IMPORT_ADDED;
    const char *used = NULL;
    st = zp_store_import_exec(want, NULL, &sx, &used, &how, &e);
    ok(st == ZP_OK && how == ZP_IMPORT_ALREADY && used && strcmp(used, abs) == 0,
       "importing the file again: ZP_OK, already there, into the database the file names (%s)", st ? e.msg : "");
    zp_saved_exec_fini(&sx);

    /* ---- not locked: recorded at once, no file */
    saved[0] = 'x';
    st = zp_store_finish_exec_or_save(db, id2, &xi, "oom", "{\"status\":\"oom\"}", saved, sizeof saved, &e);
    snprintf(want, sizeof want, "%s.exec-2.json", db);
    ok(st == ZP_OK && saved[0] == '\0' && access(want, F_OK) != 0, "not locked: recorded, no file (%s)",
       st ? e.msg : "");
    sqlite3 *c;
    sqlite3_open(db, &c);
    is_str(value(c, "SELECT status || ' ' || record_json FROM executions WHERE id = 2"), "oom {\"status\":\"oom\"}",
           "not locked: execution 2 is finished with its status and record");
    /* a row that is missing is added */
    st = zp_store_finish_exec_or_save(db, 7, &xi, "failed", "{}", saved, sizeof saved, &e);
    is_str(value(c, "SELECT status || ' ' || run_id || ' ' || backend FROM executions WHERE id = 7"), "failed 1 cpu",
           "a missing row is added with its id");
    sqlite3_close(c);

    /* bad arguments: refused, nothing saved */
    st = zp_store_finish_exec_or_save(db, 2, &xi, "running", "{}", saved, sizeof saved, &e);
    ok(st == ZP_EINVAL && saved[0] == '\0' && strstr(e.msg, "'running'"), "status 'running': ZP_EINVAL (%s)", e.msg);
    st = zp_store_finish_exec_or_save(db, 2, &xi, "ok", "[1]", saved, sizeof saved, &e);
    ok(st == ZP_EINVAL && saved[0] == '\0', "a record that is not a JSON object: ZP_EINVAL (%s)", e.msg);

    /* the database gone: saved to a file all the same */
    char gone[300];
    snprintf(gone, sizeof gone, "%s/gone.db", dir);
    st = zp_store_finish_exec_or_save(gone, 3, &xi, "ok", "{}", saved, sizeof saved, &e);
    snprintf(want, sizeof want, "%s.exec-3.json", gone);
    ok(st == ZP_EIO && strcmp(saved, want) == 0 && access(gone, F_OK) != 0,
       "no database: the record is saved to gone.db.exec-3.json, no database is created (%s)", e.msg);
    /* a second save of the same execution does not overwrite the first */
    st = zp_store_finish_exec_or_save(gone, 3, &xi, "ok", "{}", saved, sizeof saved, &e);
    snprintf(want, sizeof want, "%s.exec-3-2.json", gone);
    is_str(saved, want, "saved again: a new file, gone.db.exec-3-2.json");

    sh("rm -rf '%s'", dir);
    return tap_exit();
}
