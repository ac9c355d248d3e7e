/* fuzz.c - see fuzz.h. */
#define _GNU_SOURCE   /* memmem */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    int k = snprintf(msg, sizeof msg, "zplan-fuzz: %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    /* the sanitizers' report stream: still open under -close_fd_mask */
    __sanitizer_report_error_summary(msg);
    abort();
}

char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

const char *fuzz_dir(void)
{
    static char dir[4096];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/zplan-fuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "zplan-fuzz: mkdtemp %s: %s\n", dir, strerror(errno));
            abort();
        }
    }
    return dir;
}

const char *fuzz_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", fuzz_dir(), name);
    return buf;
}

int fuzz_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, size, f);
    return fclose(f) != 0 || w != size ? -1 : 0;
}

FILE *fuzz_null(void)
{
    static FILE *f;
    if (!f && !(f = fopen("/dev/null", "w")))
        abort();
    return f;
}

int fuzz_path_safe(const char *text, size_t n)
{
    static const char *const bad[] = {"dev/", "proc/", "sys/", NULL};
    for (int i = 0; bad[i]; i++)
        if (memmem(text, n, bad[i], strlen(bad[i])))
            return 0;
    /* the directories themselves, at the end of the input */
    static const char *const tail[] = {"/dev", "/proc", "/sys", NULL};
    for (int i = 0; tail[i]; i++) {
        size_t k = strlen(tail[i]);
        if (n >= k && !memcmp(text + n - k, tail[i], k))
            return 0;
    }
    return 1;
}
