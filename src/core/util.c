/* util.c - error records, strict parsing and unit formatting (pure). */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

zp_status zp_err_set(zp_err *e, zp_status code, const char *fmt, ...)
{
    if (e) {
        /* formatted aside first: an argument may be e->msg itself
         * ("--scale: %s", e->msg), which vsnprintf must not write over
         * while it reads it */
        char msg[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        memcpy(e->msg, msg, sizeof msg);
        e->code = code;
    }
    return code;
}

int zp_status_exit(zp_status s)
{
    switch (s) {
    case ZP_OK: return 0;
    case ZP_EINVAL:
    case ZP_ENOTFOUND: return 2;
    default: return 1;
    }
}

/* strtod on the whole of s after trimming spaces; *endp gets the tail. */
static int parse_number_prefix(const char *s, double *v, const char **endp)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return -1;
    /* strtod accepts "nan", "inf", hex floats: allow decimal digits only */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
        return -1;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s)
        return -1;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return -1;
    if (errno == ERANGE && (*v == HUGE_VAL || *v == -HUGE_VAL))
        return -2;
    *endp = end;
    return 0;
}

static const char *skip_space(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

zp_status zp_parse_count(const char *what, const char *s, double *out, zp_err *e)
{
    double v, mul = 1.0;
    const char *end;
    if (!s)
        return zp_err_set(e, ZP_EINVAL, "%s needs a value (a parameter count such as 11e9, 7.5B or 350M)", what);
    int r = parse_number_prefix(s, &v, &end);
    if (r == -2)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is out of range (allowed: up to 1e15)", what, s);
    if (r < 0)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is not a number (allowed: e.g. 11e9, 7.5B, 350M, 1T)", what, s);
    switch (*end) {
    case 'k': case 'K': mul = 1e3; end++; break;
    case 'm': case 'M': mul = 1e6; end++; break;
    case 'b': case 'B': case 'g': case 'G': mul = 1e9; end++; break;
    case 't': case 'T': mul = 1e12; end++; break;
    default: break;
    }
    end = skip_space(end);
    if (*end != '\0')
        return zp_err_set(e, ZP_EINVAL, "%s '%s' has trailing characters '%s' (allowed suffixes: k, M, B, T)", what, s, end);
    v *= mul;
    if (!isfinite(v) || v > 1e15)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is out of range (allowed: 1 to 1e15 parameters)", what, s);
    if (v < 1.0)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' must be positive (allowed: 1 to 1e15 parameters)", what, s);
    *out = v;
    return ZP_OK;
}

zp_status zp_parse_int(const char *what, const char *s, int64_t lo, int64_t hi,
                       int64_t *out, zp_err *e)
{
    double v;
    const char *end;
    if (!s)
        return zp_err_set(e, ZP_EINVAL, "%s needs a value (an integer from %lld to %lld)", what, (long long)lo, (long long)hi);
    /* a plain digit string is read as an integer: exact beyond 2^53 */
    const char *q = skip_space(s), *d = q + (*q == '+' || *q == '-');
    if (isdigit((unsigned char)*d) && !(d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))) {
        char *iend;
        errno = 0;
        long long iv = strtoll(q, &iend, 10);
        if (*skip_space(iend) == '\0') {
            if (errno == ERANGE || iv < lo || iv > hi)
                return zp_err_set(e, ZP_EINVAL, "%s '%s' is out of range (allowed: %lld to %lld)", what, s, (long long)lo, (long long)hi);
            *out = (int64_t)iv;
            return ZP_OK;
        }
    }
    int r = parse_number_prefix(s, &v, &end);
    end = r == 0 ? skip_space(end) : end;
    if (r < 0 || *end != '\0' || v != floor(v))
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is not an integer (allowed: %lld to %lld)", what, s, (long long)lo, (long long)hi);
    if (v < (double)lo || v > (double)hi || fabs(v) >= 9223372036854775808.0 ||
        (int64_t)v < lo || (int64_t)v > hi)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is out of range (allowed: %lld to %lld)", what, s, (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return ZP_OK;
}

zp_status zp_parse_double(const char *what, const char *s, double lo, double hi,
                          double *out, zp_err *e)
{
    double v;
    const char *end;
    if (!s)
        return zp_err_set(e, ZP_EINVAL, "%s needs a value (a number from %g to %g)", what, lo, hi);
    int r = parse_number_prefix(s, &v, &end);
    end = r == 0 ? skip_space(end) : end;
    if (r < 0 || *end != '\0')
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is not a number (allowed: %g to %g)", what, s, lo, hi);
    if (!isfinite(v) || v < lo || v > hi)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is out of range (allowed: %g to %g)", what, s, lo, hi);
    *out = v;
    return ZP_OK;
}

/* A network bandwidth per GPU in GB/s (10^9 bytes per second).  Bytes and
 * bits are told apart by the unit's case, as NIC vendors write them:
 * 50GB/s, 50GBps = 400Gb/s, 400Gbps, 400Gbit/s.  A bare number is GB/s,
 * as --inter-node-gbps always read; above ZP_NIC_MAX_GBPS (no network card
 * per GPU moves more: 800 Gb/s is 100 GB/s) it is refused, since it is
 * most likely gigabits (400 meant 400 Gb/s and was read as 400 GB/s, more
 * than NVLink). */
zp_status zp_parse_bandwidth(const char *what, const char *s, double *gbytes_per_s, zp_err *e)
{
    static const struct { const char *suf; double gbytes; } units[] = {
        {"", 1}, {"GB/s", 1}, {"GBps", 1}, {"MB/s", 1e-3}, {"MBps", 1e-3}, {"TB/s", 1e3}, {"TBps", 1e3},
        {"Gb/s", 0.125}, {"Gbps", 0.125}, {"Gbit/s", 0.125}, {"Mb/s", 1.25e-4}, {"Mbps", 1.25e-4},
        {"Mbit/s", 1.25e-4}, {"Tb/s", 125}, {"Tbps", 125}, {"Tbit/s", 125},
    };
    double v;
    const char *end;
    if (!s)
        return zp_err_set(e, ZP_EINVAL, "%s needs a value (a bandwidth such as 400Gbps or 50GB/s)", what);
    int r = parse_number_prefix(s, &v, &end);
    if (r < 0)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is not a bandwidth (allowed: e.g. 400Gbps, 400Gb/s, 50GB/s)", what, s);
    end = skip_space(end);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suf) != 0)
            continue;
        double g = v * units[i].gbytes;
        if (!isfinite(g) || g < 1e-3 || g > 1e6)
            return zp_err_set(e, ZP_EINVAL, "%s '%s' is out of range (allowed: 1 MB/s to 1e6 GB/s)", what, s);
        if (i == 0 && g > ZP_NIC_MAX_GBPS)
            return zp_err_set(e, ZP_EINVAL, "%s %s: a bare number is GB/s per GPU, and %g GB/s is more than any "
                              "network card moves (800 Gb/s is %g GB/s); give the unit: %sGbps for gigabits, "
                              "%sGB/s for gigabytes", what, s, g, (double)ZP_NIC_MAX_GBPS, s, s);
        *gbytes_per_s = g;
        return ZP_OK;
    }
    return zp_err_set(e, ZP_EINVAL, "%s '%s' has an unknown unit '%s' (allowed: Gbps Gb/s Gbit/s Mbps Tbps for bits, "
                      "GB/s GBps MB/s TB/s for bytes; a bare number is GB/s)", what, s, end);
}

static zp_status parse_size(const char *what, const char *s, int zero_ok, uint64_t *out, zp_err *e)
{
    static const struct { const char *suf; double mul; } units[] = {
        {"", 1}, {"B", 1},
        {"K", 1024.0}, {"KiB", 1024.0}, {"KB", 1e3},
        {"M", 1048576.0}, {"MiB", 1048576.0}, {"MB", 1e6},
        {"G", 1073741824.0}, {"GiB", 1073741824.0}, {"GB", 1e9},
        {"T", 1099511627776.0}, {"TiB", 1099511627776.0}, {"TB", 1e12},
    };
    double v;
    const char *end;
    if (!s)
        return zp_err_set(e, ZP_EINVAL, "%s needs a value (a size such as 80GiB, 512MiB or 1e9)", what);
    int r = parse_number_prefix(s, &v, &end);
    if (r < 0)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is not a size (allowed: e.g. 80GiB, 512MiB, 2TB, 1e9)", what, s);
    end = skip_space(end);
    char suf[8];
    size_t n = strlen(end);
    while (n > 0 && isspace((unsigned char)end[n - 1]))
        n--;
    if (n >= sizeof suf)
        return zp_err_set(e, ZP_EINVAL, "%s '%s' has an unknown unit (allowed: KiB MiB GiB TiB, KB MB GB TB)", what, s);
    memcpy(suf, end, n);
    suf[n] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(suf, units[i].suf) == 0) {
            double b = v * units[i].mul;
            if (!isfinite(b) || b >= 9007199254740992.0)   /* 8 PiB: sums of sizes stay inside 64 bits */
                return zp_err_set(e, ZP_EINVAL, "%s '%s' is out of range (allowed: %s1 byte up to, not including, "
                                  "8 PiB)", what, s, zero_ok ? "0 or " : "");
            if (zero_ok && b == 0.0) {   /* zero is zero in any unit */
                *out = 0;
                return ZP_OK;
            }
            if (b < 1.0)
                return zp_err_set(e, ZP_EINVAL, "%s '%s' is under a byte (allowed: %s1 byte up to, not including, "
                                  "8 PiB)", what, s, zero_ok ? "0 or " : "");
            *out = (uint64_t)llround(b);
            return ZP_OK;
        }
    }
    return zp_err_set(e, ZP_EINVAL, "%s '%s' has an unknown unit '%s' (allowed: KiB MiB GiB TiB, KB MB GB TB)", what, s, suf);
}

int zp_size_unitless(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return n > 0 && (isdigit((unsigned char)s[n - 1]) || s[n - 1] == '.');
}

zp_status zp_parse_bytes(const char *what, const char *s, uint64_t *out, zp_err *e)
{
    return parse_size(what, s, 0, out, e);
}

zp_status zp_parse_bytes0(const char *what, const char *s, uint64_t *out, zp_err *e)
{
    return parse_size(what, s, 1, out, e);
}

zp_status zp_parse_enum(const char *what, const char *s, const char *const *names,
                        int *out, zp_err *e)
{
    char allowed[256] = "";
    size_t used = 0;
    for (int i = 0; names[i]; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = i;
            return ZP_OK;
        }
        int w = snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "", names[i]);
        if (w > 0 && (size_t)w < sizeof allowed - used)
            used += (size_t)w;
    }
    return zp_err_set(e, ZP_EINVAL, "%s '%s' is not allowed (allowed: %s)", what, s ? s : "", allowed);
}

const char *zp_fmt_bytes(char *buf, size_t n, uint64_t bytes, zp_units u)
{
    static const char *bin[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    static const char *dec[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    double base = u == ZP_UNITS_DECIMAL ? 1000.0 : 1024.0;
    const char **names = u == ZP_UNITS_DECIMAL ? dec : bin;
    double v = (double)bytes;
    int i = 0;
    while (v >= base && i < 5) {
        v /= base;
        i++;
    }
    if (i == 0)
        snprintf(buf, n, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, n, "%.2f %s", v, names[i]);
    return buf;
}

double zp_bytes_to_g(uint64_t bytes, zp_units u)
{
    return (double)bytes / (u == ZP_UNITS_DECIMAL ? 1e9 : 1073741824.0);
}

size_t zp_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b), d[64];
    if (n > 60 || m > 60)
        return (size_t)-1;
    for (size_t j = 0; j <= m; j++)
        d[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t prev = d[0];
        d[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cur = d[j], sub = prev + (a[i - 1] != b[j - 1]);
            d[j] = d[j] + 1 < d[j - 1] + 1 ? d[j] + 1 : d[j - 1] + 1;
            if (sub < d[j])
                d[j] = sub;
            prev = cur;
        }
    }
    return d[m];
}

const char *zp_nearest_name(const char *const *names, const char *w)
{
    const char *best = NULL;
    size_t bd = 4;
    for (; *names; names++) {
        size_t d = zp_edit_distance(w, *names);
        if (d < bd)
            bd = d, best = *names;
    }
    return best;
}

const char *zp_fmt_secs(char *buf, size_t n, double s)
{
    if (s >= 100)
        snprintf(buf, n, "%.0f s", s);
    else if (s >= 1)
        snprintf(buf, n, "%.2f s", s);
    else if (s >= 1e-3)
        snprintf(buf, n, "%.2f ms", s * 1e3);
    else
        snprintf(buf, n, "%.1f us", s * 1e6);
    return buf;
}

const char *zp_fmt_count(char *buf, size_t n, double c)
{
    if (c >= 1e12)
        snprintf(buf, n, c < 1e15 ? "%.4gT" : "%.0fT", c / 1e12);   /* 1000T, not 1e+03T */
    else if (c >= 1e9)
        snprintf(buf, n, "%.4gB", c / 1e9);
    else if (c >= 1e6)
        snprintf(buf, n, "%.4gM", c / 1e6);
    else if (c >= 1e3)
        snprintf(buf, n, "%.4gk", c / 1e3);
    else
        snprintf(buf, n, "%.0f", c);
    return buf;
}
