/* launch.c - the processes zplan starts (shell code): the engine's ranks
 * under mpirun or srun, captured with a timeout and an interruption; see
 * launch.h. */
#include "launch.h"
#include "result.h"
#include "jsonget.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* The engine binary: $ZPLAN_ENGINE, else beside this program. */
const char *zp_engine_path(char *buf, size_t n)
{
    const char *env = getenv("ZPLAN_ENGINE");
    if (env && *env)
        return env;
    ssize_t k = readlink("/proc/self/exe", buf, n - 16);
    if (k > 0) {
        buf[k] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash + 1, "zplan-engine");
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "zplan-engine";
}

int zp_in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, prog);
        if (len && access(buf, X_OK) == 0)
            return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

/* The launcher's part of the command line, in args[0 .. *n):
 * inside a Slurm allocation (SLURM_JOB_ID set, srun on PATH, no hostfile)
 * `srun -n NP`, else `mpirun -np NP [--hostfile F]`; ZPLAN_LAUNCHER=mpirun
 * or srun chooses.  Checks that the launcher and the engine exist and sets
 * the environment the ranks need. */
zp_status zp_launcher(char **args, int *n_out, const char *npbuf, const char *hostfile, const char *eng,
                          const char **name, zp_err *e)
{
    const char *want = getenv("ZPLAN_LAUNCHER");
    int srun = want && *want ? strcmp(want, "srun") == 0
                             : getenv("SLURM_JOB_ID") && !hostfile && zp_in_path("srun");
    if (want && *want && strcmp(want, "srun") && strcmp(want, "mpirun"))
        return zp_err_set(e, ZP_EINVAL, "ZPLAN_LAUNCHER='%s' (allowed: mpirun, srun)", want);
    if (srun && hostfile)
        return zp_err_set(e, ZP_EINVAL, "--hostfile is for mpirun; inside a Slurm allocation srun places the ranks");
    if (hostfile && access(hostfile, R_OK) != 0)
        return zp_err_set(e, ZP_EINVAL, "--hostfile %s: %s (an Open MPI hostfile: a line 'HOST slots=N' per machine)",
                          hostfile, strerror(errno));
    if (srun && !zp_in_path("srun"))
        return zp_err_set(e, ZP_EIO, "srun not found: ZPLAN_LAUNCHER=srun needs Slurm's srun on PATH");
    if (!srun && !zp_in_path("mpirun"))
        return zp_err_set(e, ZP_EIO, "mpirun not found: install Open MPI (Debian: apt-get install openmpi-bin, or "
                          "sh scripts/setup) or put mpirun on PATH");
    if (!zp_in_path(eng)) {
        struct stat sb;
        if (strchr(eng, '/') && stat(eng, &sb) == 0)
            return zp_err_set(e, ZP_EIO, "%s is not an executable program (ZPLAN_ENGINE names zplan-engine, built "
                              "with MPI and OpenBLAS)", eng);
        return zp_err_set(e, ZP_EIO, "%s not found: build it (needs MPI and OpenBLAS at configure time) or set "
                          "ZPLAN_ENGINE", eng);
    }
    int n = 0;
    *name = srun ? "srun" : "mpirun";
    args[n++] = (char *)*name;
    args[n++] = srun ? "-n" : "-np";
    args[n++] = (char *)npbuf;
    if (hostfile) {
        args[n++] = "--hostfile";
        args[n++] = (char *)hostfile;
    }
    if (getuid() == 0) {
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    }
    if (!hostfile && !srun)
        setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    *n_out = n;
    return ZP_OK;
}

/* A progress line of the engine ({"progress":{...}}, progress=1), shown on
 * stderr as it arrives; not one that exec would not count as a step
 * (zp_engine_progress_check). */
static void show_progress(const char *prog, const char *line, size_t len)
{
    static const char key[] = "{\"progress\":";
    if (len < sizeof key - 1 || memcmp(line, key, sizeof key - 1) != 0)
        return;
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *p = zp_jobj(j, "progress");
    char loss[32] = "-";   /* null: not finite */
    zp_err e;
    if (cJSON_IsNumber(zp_jobj(p, "loss")))
        snprintf(loss, sizeof loss, "%.4f", zp_jnum(p, "loss"));
    if (p && zp_engine_progress_check(p, &e) == ZP_OK)
        fprintf(stderr, "%s: step %.0f/%.0f  loss %s  %.3f s%s\n", prog, zp_jnum(p, "step"), zp_jnum(p, "steps"),
                loss, zp_jnum(p, "time_s"), zp_jnum(p, "applied") ? "" : "  (skipped: overflow)");
    cJSON_Delete(j);
}

/* Run argv in its own process group, capturing stdout into *out
 * (malloc'd, possibly NULL); stderr passes through, and with `progress`
 * (the program's name) so do the engine's progress lines, as text.  Reads
 * until the child closes its output, then reaps it.  On timeout or
 * interruption the group gets SIGTERM, then SIGKILL 5 s later; 5 s after
 * that the output is abandoned even if some process outside the group
 * still holds it.  Returns the exit status, 124 on timeout, 130 when
 * interrupted, -1 when it could not start. */
int zp_run_capture(char *const *argv, int64_t timeout_s, const char *progress, char **out,
                   const volatile sig_atomic_t *stop)
{
    int fd[2];
    *out = NULL;
    if (pipe(fd) != 0)
        return -1;
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        /* if zplan dies (SIGKILL, a lost terminal), the launcher is told
         * to end and takes its ranks with it: no orphaned ranks */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(130);
        setpgid(0, 0);
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);   /* also here, so that kill(-pid) works at once */
    close(fd[1]);
    size_t len = 0, cap = 65536, shown = 0;
    char *buf = malloc(cap);
    time_t start = time(NULL), term_at = 0, kill_at = 0;
    int killed = 0, eof = 0, status = 0;
    /* read the output until it ends, then wait for the child to exit; both
     * under the timeout and the interruption */
    for (;;) {
        if (!eof) {
            struct timeval tv = {0, 200000};
            fd_set rs;
            FD_ZERO(&rs);
            FD_SET(fd[0], &rs);
            if (select(fd[0] + 1, &rs, NULL, NULL, &tv) > 0) {
                char tmp[65536];
                ssize_t k = read(fd[0], tmp, sizeof tmp);
                if (k == 0 || (k < 0 && errno != EINTR)) {
                    eof = 1;
                    close(fd[0]);
                } else if (k > 0 && buf) {
                    if (len + (size_t)k + 1 > cap) {
                        while (len + (size_t)k + 1 > cap)
                            cap *= 2;
                        char *nb = realloc(buf, cap);
                        if (!nb) {
                            free(buf);
                            buf = NULL;   /* keep draining; the output is lost */
                        } else
                            buf = nb;
                    }
                    if (buf) {
                        memcpy(buf + len, tmp, (size_t)k);
                        len += (size_t)k;
                        for (char *nl; progress && (nl = memchr(buf + shown, '\n', len - shown));) {
                            show_progress(progress, buf + shown, (size_t)(nl - (buf + shown)));
                            shown = (size_t)(nl - buf) + 1;
                        }
                    }
                }
            }
        } else {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid || (w < 0 && errno != EINTR))
                break;
            struct timespec ts = {0, 50000000};
            nanosleep(&ts, NULL);
        }
        if (!killed && ((stop && *stop) || (timeout_s > 0 && time(NULL) - start > timeout_s))) {
            kill(-pid, SIGTERM);
            killed = stop && *stop ? 130 : 124;
            term_at = time(NULL);
        }
        if (killed && term_at && time(NULL) - term_at > 5) {
            kill(-pid, SIGKILL);
            term_at = 0;
            kill_at = time(NULL);
        }
        if (!eof && kill_at && time(NULL) - kill_at > 5) {
            eof = 1;   /* a process outside the group keeps the pipe open */
            close(fd[0]);
        }
    }
    if (buf)
        buf[len] = '\0';
    *out = buf;
    if (killed)
        return killed;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

zp_status zp_hostfile_check(const char *path, zp_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return zp_err_set(e, ZP_EINVAL, "--hostfile %s: %s (an Open MPI hostfile: a line 'HOST slots=N' per machine)",
                          path, strerror(errno));
    char line[1024];
    int lineno = 0, hosts = 0;
    zp_status st = ZP_OK;
    while (st == ZP_OK && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = zp_err_set(e, ZP_EINVAL, "--hostfile %s:%d: the line is too long (a line 'HOST slots=N' per machine)",
                            path, lineno);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\r' || *p == '\n')
            continue;
        char *host = p;
        while (*p && !strchr(" \t\r\n", *p))
            p++;
        int hlen = (int)(p - host);
        /* [user@]host: what Open MPI takes from a hostfile line's first field */
        for (const char *q = host; q < p && st == ZP_OK; q++)
            if (!isalnum((unsigned char)*q) && !strchr(".-_:[]@", *q))
                st = zp_err_set(e, ZP_EINVAL, "--hostfile %s:%d: '%.*s' is not a host name (a line 'HOST slots=N' "
                                "per machine)", path, lineno, hlen > 40 ? 40 : hlen, host);
        /* then KEY=N pairs, blanks allowed around '=' as Open MPI's reader allows them */
        static const char *const keys[] = {"slots", "slot", "count", "cpu", "cpus", "max_slots", "max-slots",
                                           "max_slot", "max-slot"};
        while (st == ZP_OK) {
            while (*p && strchr(" \t\r\n", *p))
                p++;
            if (!*p)
                break;
            char *item = p;
            while (isalpha((unsigned char)*p) || *p == '_' || *p == '-')
                p++;
            size_t klen = (size_t)(p - item);
            int key = 0;
            for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
                key |= klen == strlen(keys[k]) && !strncmp(item, keys[k], klen);
            while (*p == ' ' || *p == '\t')
                p++;
            long v = 0;
            char *end = p;
            if (key && *p == '=') {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                v = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : 0;
            }
            if (!key || end == p || (*end && !strchr(" \t\r\n", *end)) || v < 1 || v > 1000000) {
                int ilen = (int)strcspn(item, "\r\n");
                st = zp_err_set(e, ZP_EINVAL, "--hostfile %s:%d: '%.*s' (allowed after the host: slots=N, "
                                "max_slots=N, count=N, cpu=N, N >= 1)", path, lineno, ilen > 40 ? 40 : ilen, item);
                break;
            }
            p = end;
        }
        hosts++;
    }
    if (st == ZP_OK && ferror(f))
        st = zp_err_set(e, ZP_EINVAL, "--hostfile %s: %s", path, strerror(errno));
    fclose(f);
    if (st == ZP_OK && hosts == 0)
        st = zp_err_set(e, ZP_EINVAL, "--hostfile %s has no host (a line 'HOST slots=N' per machine)", path);
    return st;
}
