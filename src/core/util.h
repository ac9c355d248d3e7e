/* util.h - status codes, error records, strict number parsing, unit formatting.
 *
 * Pure helpers shared by every module: no I/O, no globals.  Functions return a
 * zp_status and fill a caller-owned zp_err whose message names the input, the
 * value and what is allowed, ready to be printed as "zplan: <msg>".
 */
#ifndef ZP_UTIL_H
#define ZP_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef enum zp_status {
    ZP_OK = 0,
    ZP_EINVAL,   /* bad input: a usage error (exit 2) */
    ZP_ENOTFOUND,/* unknown preset, run id, file (exit 2) */
    ZP_ENOMEM,   /* allocation failed (exit 1) */
    ZP_EIO,      /* file or process error (exit 1) */
    ZP_ESQL,     /* SQLite error (exit 1) */
} zp_status;

typedef struct zp_err {
    zp_status code;
    char msg[512];
} zp_err;

/* Fill *e (may be NULL) and return code. printf-style message; its
 * arguments may include e->msg (a message prefixed: "--scale: %s"). */
zp_status zp_err_set(zp_err *e, zp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Exit status for a status: 0 ok, 2 usage/input, 1 runtime. */
int zp_status_exit(zp_status s);

/* Parse a parameter count: "11e9", "7.5e9", "11B", "175b", "350M", "1.5T",
 * "125k".  Suffixes k/K=1e3, M/m=1e6, B/b/G/g=1e9, T/t=1e12.  Rejects empty,
 * garbage, trailing characters, NaN, infinities, values <= 0 and > 1e15.
 * `what` names the input in the error ("--params"). */
zp_status zp_parse_count(const char *what, const char *s, double *out, zp_err *e);

/* Strict integer in [lo, hi]. */
zp_status zp_parse_int(const char *what, const char *s, int64_t lo, int64_t hi,
                       int64_t *out, zp_err *e);

/* Strict finite double in [lo, hi]. */
/* The fastest network card per GPU in GB/s (800 Gb/s): a bare number above
 * it is refused by zp_parse_bandwidth as most likely gigabits. */
#define ZP_NIC_MAX_GBPS 100
/* A network bandwidth per GPU (--inter-node-gbps) in GB/s: 400Gbps,
 * 400Gb/s, 50GB/s, 50GBps, or a bare number of GB/s up to ZP_NIC_MAX_GBPS. */
zp_status zp_parse_bandwidth(const char *what, const char *s, double *gbytes_per_s, zp_err *e);
zp_status zp_parse_double(const char *what, const char *s, double lo, double hi,
                          double *out, zp_err *e);

/* Byte size: a plain number is bytes; suffixes KiB MiB GiB TiB (binary),
 * KB MB GB TB (decimal); a bare K/M/G/T is binary, as in ulimit and
 * nvidia-smi.  Rejects negative, zero, NaN and overflow. */
zp_status zp_parse_bytes(const char *what, const char *s, uint64_t *out, zp_err *e);
/* Whether a size was given without a unit (a bare number of bytes: "80"
 * meant 80 GiB more often than 80 bytes). */
int zp_size_unitless(const char *s);
/* The same, zero allowed (in any unit: 0, 0B, 0MiB, 0.0). */
zp_status zp_parse_bytes0(const char *what, const char *s, uint64_t *out, zp_err *e);

/* Pick one of a NULL-terminated list of names; *out is the index. */
zp_status zp_parse_enum(const char *what, const char *s, const char *const *names,
                        int *out, zp_err *e);

/* Unit system for printed sizes: binary (GiB, default) or decimal (GB). */
typedef enum zp_units { ZP_UNITS_BINARY = 0, ZP_UNITS_DECIMAL = 1 } zp_units;

/* Format bytes as "12.34 GiB" / "512.0 MiB" (or GB/MB) into buf. */
const char *zp_fmt_bytes(char *buf, size_t n, uint64_t bytes, zp_units u);

/* Bytes in the unit used for table columns: GiB (or GB). */
double zp_bytes_to_g(uint64_t bytes, zp_units u);

/* Format a parameter count: "10.96B", "124.4M". */
const char *zp_fmt_count(char *buf, size_t n, double count);

/* Levenshtein distance between a and b (insertions, deletions and
 * substitutions), or (size_t)-1 when either is over 60 characters. */
size_t zp_edit_distance(const char *a, const char *b);
/* Of a NULL-terminated list, the name nearest to w within 3 edits (the
 * first of equals; w itself when listed), or NULL. */
const char *zp_nearest_name(const char *const *names, const char *w);

/* A time as the tables print it: "1522 s", "21.42 s", "78.11 ms", "95.6 us". */
const char *zp_fmt_secs(char *buf, size_t n, double s);

/* Ceiling division for positive integers. */
static inline int64_t zp_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

#endif
