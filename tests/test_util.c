/* test_util.c - strict parsing, unit formatting and status codes (util.c).
 *
 * Table-driven; expected values are written from the documented grammar in
 * util.h (suffix k = 1e3, M = 1e6, B/G = 1e9, T = 1e12; KiB = 2^10 ...,
 * KB = 1e3 ...; a bare K/M/G/T is binary), not from running the code.  At
 * least half of the cases are bad input: each must give ZP_EINVAL, leave the
 * output untouched and name the option (`what`) in the message. */
#include "util.h"
#include "tap.h"

#include <stdint.h>
#include <math.h>
#include <string.h>

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define GIB 1073741824.0  /* 2^30 */
#define MIB 1048576.0     /* 2^20 */

/* ---------------------------------------------------------- parse_count */

struct count_case {
    const char *in;
    zp_status st;
    double want;  /* when st == ZP_OK */
};

static const struct count_case count_cases[] = {
    /* good: the number times its suffix */
    {"11e9", ZP_OK, 11.0 * 1e9},
    {"11B", ZP_OK, 11.0 * 1e9},
    {"175b", ZP_OK, 175.0 * 1e9},
    {"7.5e9", ZP_OK, 7.5 * 1e9},
    {"350M", ZP_OK, 350.0 * 1e6},
    {"1.5T", ZP_OK, 1.5 * 1e12},
    {"125k", ZP_OK, 125.0 * 1e3},
    {" 7B ", ZP_OK, 7.0 * 1e9},
    {"13G", ZP_OK, 13.0 * 1e9},
    {"1e15", ZP_OK, 1e15},           /* the documented upper bound */
    {"1000T", ZP_OK, 1000.0 * 1e12}, /* = 1e15 */
    {".5B", ZP_OK, 0.5 * 1e9},
    /* bad */
    {"", ZP_EINVAL, 0},
    {"   ", ZP_EINVAL, 0},
    {"abc", ZP_EINVAL, 0},
    {"-5", ZP_EINVAL, 0},
    {"0", ZP_EINVAL, 0},
    {"-0", ZP_EINVAL, 0},
    {"0.5", ZP_EINVAL, 0},           /* fewer than one parameter */
    {"nan", ZP_EINVAL, 0},
    {"NaN", ZP_EINVAL, 0},
    {"inf", ZP_EINVAL, 0},
    {"-inf", ZP_EINVAL, 0},
    {"1e400", ZP_EINVAL, 0},
    {"1e-400", ZP_EINVAL, 0},        /* underflows to 0 */
    {"11X", ZP_EINVAL, 0},
    {"11BB", ZP_EINVAL, 0},
    {"0x10", ZP_EINVAL, 0},
    {"1e16", ZP_EINVAL, 0},
    {"1001T", ZP_EINVAL, 0},         /* 1.001e15 > 1e15 */
    {"B", ZP_EINVAL, 0},
    {"7B x", ZP_EINVAL, 0},
    {"11e", ZP_EINVAL, 0},
    {"1,5B", ZP_EINVAL, 0},
};

static void test_parse_count(void)
{
    for (int i = 0; i < N_(count_cases); i++) {
        const struct count_case *c = &count_cases[i];
        double out = -42.0;
        zp_err e = {0};
        zp_status st = zp_parse_count("--params", c->in, &out, &e);
        if (c->st == ZP_OK) {
            ok(st == ZP_OK, "parse_count('%s') accepted (status %d, msg '%s')", c->in, (int)st, e.msg);
            is_dbl(out, c->want, 1e-12, "parse_count('%s') = %.6g (got %.6g)", c->in, c->want, out);
        } else {
            ok(st == ZP_EINVAL && e.code == ZP_EINVAL, "parse_count('%s') rejected with EINVAL (status %d)",
               c->in, (int)st);
            ok(strstr(e.msg, "--params") != NULL && out == -42.0,
               "parse_count('%s') message names --params and output untouched: '%s'", c->in, e.msg);
        }
    }
    zp_err e = {0};
    double out;
    ok(zp_parse_count("--params", NULL, &out, &e) == ZP_EINVAL && strstr(e.msg, "--params"),
       "parse_count(NULL) rejected, message '%s'", e.msg);
    /* a NULL error record is allowed */
    ok(zp_parse_count("--params", "abc", &out, NULL) == ZP_EINVAL, "parse_count with NULL zp_err still fails");
}

/* ------------------------------------------------------------ parse_int */

struct int_case {
    const char *in;
    int64_t lo, hi;
    zp_status st;
    int64_t want;
};

static const struct int_case int_cases[] = {
    {"8", 1, 64, ZP_OK, 8},
    {"1", 1, 64, ZP_OK, 1},              /* inclusive bounds */
    {"64", 1, 64, ZP_OK, 64},
    {" 16 ", 1, 64, ZP_OK, 16},
    {"-3", -5, 5, ZP_OK, -3},
    {"0", 0, 0, ZP_OK, 0},
    /* beyond 2^53 a double cannot hold every integer: must stay exact */
    {"9007199254740993", 1, INT64_MAX / 2, ZP_OK, INT64_C(9007199254740993)},
    {"4611686018427387903", 1, INT64_MAX / 2, ZP_OK, INT64_MAX / 2},
    /* bad */
    {"0", 1, 64, ZP_EINVAL, 0},
    {"65", 1, 64, ZP_EINVAL, 0},
    {"-1", 1, 64, ZP_EINVAL, 0},
    {"1.5", 1, 64, ZP_EINVAL, 0},
    {"8x", 1, 64, ZP_EINVAL, 0},
    {"", 1, 64, ZP_EINVAL, 0},
    {"abc", 1, 64, ZP_EINVAL, 0},
    {"nan", 1, 64, ZP_EINVAL, 0},
    {"inf", 1, 64, ZP_EINVAL, 0},
    {"0x8", 1, 64, ZP_EINVAL, 0},
    {"8 8", 1, 64, ZP_EINVAL, 0},
    {"4611686018427387904", 1, INT64_MAX / 2, ZP_EINVAL, 0}, /* hi + 1 */
    {"99999999999999999999", 1, INT64_MAX / 2, ZP_EINVAL, 0},
    {"1e400", 1, 64, ZP_EINVAL, 0},
};

static void test_parse_int(void)
{
    for (int i = 0; i < N_(int_cases); i++) {
        const struct int_case *c = &int_cases[i];
        int64_t out = -42;
        zp_err e = {0};
        zp_status st = zp_parse_int("--tp", c->in, c->lo, c->hi, &out, &e);
        if (c->st == ZP_OK) {
            ok(st == ZP_OK && out == c->want, "parse_int('%s', [%lld, %lld]) = %lld (got %lld, status %d)", c->in,
               (long long)c->lo, (long long)c->hi, (long long)c->want, (long long)out, (int)st);
        } else {
            ok(st == ZP_EINVAL && out == -42 && strstr(e.msg, "--tp") != NULL,
               "parse_int('%s', [%lld, %lld]) rejected naming --tp (status %d, msg '%s')", c->in,
               (long long)c->lo, (long long)c->hi, (int)st, e.msg);
        }
    }
    zp_err e = {0};
    int64_t out;
    ok(zp_parse_int("--pp", NULL, 1, 8, &out, &e) == ZP_EINVAL && strstr(e.msg, "--pp"),
       "parse_int(NULL) rejected, message '%s'", e.msg);
    /* the range appears in the message, so the user knows what is allowed */
    zp_parse_int("--pp", "99", 1, 8, &out, &e);
    ok(strstr(e.msg, "1") && strstr(e.msg, "8"), "parse_int out-of-range message shows the range: '%s'", e.msg);
}

/* --------------------------------------------------------- parse_double */

struct dbl_case {
    const char *in;
    double lo, hi;
    zp_status st;
    double want;
};

static const struct dbl_case dbl_cases[] = {
    {"0.6", 0, 1, ZP_OK, 0.6},
    {"1", 0, 1, ZP_OK, 1.0},
    {"2.5e-6", 0, 1, ZP_OK, 2.5e-6},
    {"1.01", 0, 1, ZP_EINVAL, 0},
    {"-0.1", 0, 1, ZP_EINVAL, 0},
    {"nan", 0, 1, ZP_EINVAL, 0},
    {"0.5x", 0, 1, ZP_EINVAL, 0},
    {"", 0, 1, ZP_EINVAL, 0},
};

static void test_parse_double(void)
{
    for (int i = 0; i < N_(dbl_cases); i++) {
        const struct dbl_case *c = &dbl_cases[i];
        double out = -42.0;
        zp_err e = {0};
        zp_status st = zp_parse_double("--gemm-eff", c->in, c->lo, c->hi, &out, &e);
        if (c->st == ZP_OK)
            ok(st == ZP_OK && out == c->want, "parse_double('%s') = %g (got %g, status %d)", c->in, c->want, out,
               (int)st);
        else
            ok(st == ZP_EINVAL && out == -42.0 && strstr(e.msg, "--gemm-eff"),
               "parse_double('%s', [%g, %g]) rejected naming --gemm-eff (status %d, msg '%s')", c->in, c->lo, c->hi,
               (int)st, e.msg);
    }
}

/* ------------------------------------------------------ parse_bandwidth */

/* GB/s expected, by hand: 1 Gb/s = 1/8 GB/s; a bare number is GB/s up to
 * 100 (800 Gb/s, the fastest NIC per GPU); 400 alone is refused as the
 * gigabits it most likely means (it was read as 400 GB/s). */
static const struct {
    const char *in;
    zp_status st;
    double want;
    const char *says;   /* in the message of a refusal */
} bw_cases[] = {
    {"50", ZP_OK, 50, NULL},
    {"100", ZP_OK, 100, NULL},
    {"12.5", ZP_OK, 12.5, NULL},
    {"400Gbps", ZP_OK, 50, NULL},
    {"400Gb/s", ZP_OK, 50, NULL},
    {"400 Gbit/s", ZP_OK, 50, NULL},
    {"200Gbps", ZP_OK, 25, NULL},
    {"50GB/s", ZP_OK, 50, NULL},
    {"50GBps", ZP_OK, 50, NULL},
    {"400GB/s", ZP_OK, 400, NULL},
    {"1.6Tbps", ZP_OK, 200, NULL},
    {"800Mbps", ZP_OK, 0.1, NULL},
    {"100MB/s", ZP_OK, 0.1, NULL},
    {"400", ZP_EINVAL, 0, "400Gbps for gigabits"},
    {"101", ZP_EINVAL, 0, "more than any network card"},
    {"400gbps", ZP_EINVAL, 0, "unknown unit 'gbps'"},
    {"50GiB/s", ZP_EINVAL, 0, "unknown unit"},
    {"0", ZP_EINVAL, 0, "out of range"},
    {"-5Gbps", ZP_EINVAL, 0, "out of range"},
    {"fast", ZP_EINVAL, 0, "not a bandwidth"},
};

static void test_parse_bandwidth(void)
{
    for (int i = 0; i < N_(bw_cases); i++) {
        double out = -42.0;
        zp_err e = {0};
        zp_status st = zp_parse_bandwidth("--inter-node-gbps", bw_cases[i].in, &out, &e);
        if (bw_cases[i].st == ZP_OK)
            ok(st == ZP_OK && fabs(out - bw_cases[i].want) < 1e-12 * bw_cases[i].want,
               "parse_bandwidth('%s') = %g GB/s (got %g, status %d: %s)", bw_cases[i].in, bw_cases[i].want, out,
               (int)st, e.msg);
        else
            ok(st == ZP_EINVAL && out == -42.0 && strstr(e.msg, "--inter-node-gbps") &&
                   strstr(e.msg, bw_cases[i].says),
               "parse_bandwidth('%s') refused, saying '%s' (status %d, msg '%s')", bw_cases[i].in, bw_cases[i].says,
               (int)st, e.msg);
    }
}

/* ---------------------------------------------------------- parse_bytes */

struct bytes_case {
    const char *in;
    zp_status st;
    uint64_t want;
};

static const struct bytes_case bytes_cases[] = {
    {"80GiB", ZP_OK, (uint64_t)80 << 30},
    {"80GB", ZP_OK, UINT64_C(80) * 1000000000},
    {"80G", ZP_OK, (uint64_t)80 << 30},            /* bare G is binary */
    {"512MiB", ZP_OK, (uint64_t)512 << 20},
    {"512MB", ZP_OK, UINT64_C(512) * 1000000},
    {"512M", ZP_OK, (uint64_t)512 << 20},
    {"1e9", ZP_OK, UINT64_C(1000000000)},          /* plain number: bytes */
    {"4096", ZP_OK, 4096},
    {"4096B", ZP_OK, 4096},
    {"1K", ZP_OK, 1024},
    {"1KiB", ZP_OK, 1024},
    {"1KB", ZP_OK, 1000},
    {"2TB", ZP_OK, UINT64_C(2) * 1000000000000},
    {"1TiB", ZP_OK, (uint64_t)1 << 40},
    {"1.5GiB", ZP_OK, (uint64_t)3 << 29},          /* 1.5 * 2^30 */
    {" 80GiB ", ZP_OK, (uint64_t)80 << 30},
    {"80 GiB", ZP_OK, (uint64_t)80 << 30},
    /* bad */
    {"", ZP_EINVAL, 0},
    {"GiB", ZP_EINVAL, 0},
    {"80XB", ZP_EINVAL, 0},
    {"80Gb", ZP_EINVAL, 0},       /* gigabits are not a memory size */
    {"80gib", ZP_EINVAL, 0},
    {"80GiBs", ZP_EINVAL, 0},
    {"80 GiB x", ZP_EINVAL, 0},
    {"-1GiB", ZP_EINVAL, 0},
    {"-80", ZP_EINVAL, 0},
    {"0", ZP_EINVAL, 0},
    {"0GiB", ZP_EINVAL, 0},
    {"0.1", ZP_EINVAL, 0},        /* under one byte */
    {"nan", ZP_EINVAL, 0},
    {"inf", ZP_EINVAL, 0},
    {"1e30", ZP_EINVAL, 0},       /* above 2^64 */
    {"20000000TiB", ZP_EINVAL, 0},
    {"0x100", ZP_EINVAL, 0},
};

static void test_parse_bytes(void)
{
    for (int i = 0; i < N_(bytes_cases); i++) {
        const struct bytes_case *c = &bytes_cases[i];
        uint64_t out = 42;
        zp_err e = {0};
        zp_status st = zp_parse_bytes("--gpu-mem", c->in, &out, &e);
        if (c->st == ZP_OK)
            ok(st == ZP_OK && out == c->want, "parse_bytes('%s') = %llu (got %llu, status %d, msg '%s')", c->in,
               (unsigned long long)c->want, (unsigned long long)out, (int)st, st ? e.msg : "");
        else
            ok(st == ZP_EINVAL && out == 42 && strstr(e.msg, "--gpu-mem"),
               "parse_bytes('%s') rejected naming --gpu-mem (status %d, msg '%s')", c->in, (int)st, e.msg);
    }
}

/* Sizes where zero is allowed (--cuda-ctx, --nccl-mem): zero is zero in
 * any unit (issue: "--cuda-ctx 0B / 0MiB / 0.0 are refused as must be
 * positive"); below a byte but above zero, and negative, still refused. */
static void test_parse_bytes0(void)
{
    static const struct { const char *in; zp_status st; uint64_t want; } cases[] = {
        {"0", ZP_OK, 0}, {"0B", ZP_OK, 0}, {"0MiB", ZP_OK, 0}, {"0.0", ZP_OK, 0}, {"0 GiB", ZP_OK, 0},
        {"0e9", ZP_OK, 0}, {"1B", ZP_OK, 1}, {"500MiB", ZP_OK, 500ull << 20},
        {"0.5B", ZP_EINVAL, 0}, {"-1MiB", ZP_EINVAL, 0}, {"0furlongs", ZP_EINVAL, 0}, {"", ZP_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t out = 42;
        zp_err e = {0};
        zp_status st = zp_parse_bytes0("--cuda-ctx", cases[i].in, &out, &e);
        if (cases[i].st == ZP_OK)
            ok(st == ZP_OK && out == cases[i].want, "parse_bytes0('%s') = %llu (got %llu, status %d, '%s')",
               cases[i].in, (unsigned long long)cases[i].want, (unsigned long long)out, (int)st, e.msg);
        else
            ok(st == ZP_EINVAL && out == 42 && strstr(e.msg, "--cuda-ctx"), "parse_bytes0('%s') refused: %s",
               cases[i].in, e.msg);
    }
    uint64_t out = 42;
    zp_err e = {0};
    ok(zp_parse_bytes("--host-mem", "0B", &out, &e) == ZP_EINVAL && out == 42,
       "parse_bytes('0B') (a size that must be positive) still refused");
    /* a size without its unit: the digits alone (what --gpu-mem 80 meant) */
    struct { const char *in; int want; } ul[] = {{"80", 1}, {"1e9", 1}, {"80.", 1}, {"80 ", 1}, {"80GiB", 0},
                                                 {"512KiB", 0}, {"80B", 0}, {"", 0}};
    for (size_t i = 0; i < sizeof ul / sizeof ul[0]; i++)
        ok(zp_size_unitless(ul[i].in) == ul[i].want, "size_unitless('%s') = %d", ul[i].in, ul[i].want);
}

/* ----------------------------------------------------------- parse_enum */

static void test_parse_enum(void)
{
    static const char *const names[] = {"none", "selective", "full", NULL};
    static const struct { const char *in; int want; } cases[] = {
        {"none", 0}, {"selective", 1}, {"full", 2},
        {"Full", -1}, {"ful", -1}, {"fullx", -1}, {"", -1}, {" full", -1}, {NULL, -1},
    };
    for (int i = 0; i < N_(cases); i++) {
        int out = -42;
        zp_err e = {0};
        zp_status st = zp_parse_enum("--recompute", cases[i].in, names, &out, &e);
        const char *in = cases[i].in ? cases[i].in : "(null)";
        if (cases[i].want >= 0)
            ok(st == ZP_OK && out == cases[i].want, "parse_enum('%s') = %d (got %d)", in, cases[i].want, out);
        else
            ok(st == ZP_EINVAL && out == -42 && strstr(e.msg, "--recompute") &&
                   strstr(e.msg, "none, selective, full"),
               "parse_enum('%s') rejected, lists allowed names: '%s'", in, e.msg);
    }
}

/* ------------------------------------------------------------ formatting */

static void test_fmt(void)
{
    static const struct { uint64_t b; zp_units u; const char *want; } cases[] = {
        {(uint64_t)1 << 30, ZP_UNITS_BINARY, "1.00 GiB"},
        {UINT64_C(1000000000), ZP_UNITS_DECIMAL, "1.00 GB"},
        {(uint64_t)1 << 30, ZP_UNITS_DECIMAL, "1.07 GB"},   /* 1.073741824e9 */
        {UINT64_C(1000000000), ZP_UNITS_BINARY, "953.67 MiB"}, /* 1e9 / 2^20 = 953.674 */
        {(uint64_t)80 << 30, ZP_UNITS_BINARY, "80.00 GiB"},
        {(uint64_t)512 << 20, ZP_UNITS_BINARY, "512.00 MiB"},
        {1536, ZP_UNITS_BINARY, "1.50 KiB"},
        {1500, ZP_UNITS_DECIMAL, "1.50 kB"},
        {1023, ZP_UNITS_BINARY, "1023 B"},
        {0, ZP_UNITS_BINARY, "0 B"},
        {(uint64_t)3 << 40, ZP_UNITS_BINARY, "3.00 TiB"},
    };
    char buf[64];
    for (int i = 0; i < N_(cases); i++)
        is_str(zp_fmt_bytes(buf, sizeof buf, cases[i].b, cases[i].u), cases[i].want, "fmt_bytes(%llu, %s) = '%s'",
               (unsigned long long)cases[i].b, cases[i].u == ZP_UNITS_DECIMAL ? "decimal" : "binary",
               cases[i].want);
    is_dbl(zp_bytes_to_g((uint64_t)80 << 30, ZP_UNITS_BINARY), 80.0, 1e-15, "bytes_to_g(80 GiB, binary) = 80");
    is_dbl(zp_bytes_to_g(UINT64_C(80000000000), ZP_UNITS_DECIMAL), 80.0, 1e-15, "bytes_to_g(80e9, decimal) = 80");
    static const struct { double c; const char *want; } counts[] = {
        {10.96e9, "10.96B"}, {124439808.0, "124.4M"}, {1.5e12, "1.5T"}, {125e3, "125k"}, {999, "999"},
        {1e15, "1000T"}, {2.5e15, "2500T"}, {1.0123e12, "1.012T"},   /* 1000T, not 1e+03T */
    };
    for (int i = 0; i < N_(counts); i++)
        is_str(zp_fmt_count(buf, sizeof buf, counts[i].c), counts[i].want, "fmt_count(%.10g) = '%s'", counts[i].c,
               counts[i].want);
    /* times as the tables print them: whole seconds from 100, two decimals
     * to 1 s, then ms and us */
    static const struct { double s; const char *want; } times[] = {
        {1522.4, "1522 s"}, {100.0, "100 s"}, {21.4249, "21.42 s"}, {0.07811, "78.11 ms"}, {9.56e-5, "95.6 us"}};
    for (int i = 0; i < N_(times); i++)
        is_str(zp_fmt_secs(buf, sizeof buf, times[i].s), times[i].want, "fmt_secs(%g) = '%s'", times[i].s,
               times[i].want);
    /* edit distance, by hand: kitten -> sitting k/s, e/i, +g */
    static const struct { const char *a, *b; size_t d; } eds[] = {
        {"kitten", "sitting", 3}, {"", "abc", 3}, {"tp", "tp", 0}, {"attention_eficiency", "attention_efficiency", 1},
        {"bf_16", "bf16", 1}};
    for (int i = 0; i < N_(eds); i++)
        ok(zp_edit_distance(eds[i].a, eds[i].b) == eds[i].d, "edit distance '%s' -> '%s' = %zu", eds[i].a, eds[i].b,
           eds[i].d);
    char long61[62];
    memset(long61, 'a', 61);
    long61[61] = '\0';
    ok(zp_edit_distance(long61, "a") == (size_t)-1, "edit distance of a 61-character word: none (over 60)");
    /* the nearest of a list within 3 edits: itself when listed, the first
     * of equals, none beyond 3 */
    static const char *const names[] = {"memory_mib", "hbm_gbps", "nic_gbps", "nvlink_gbps", NULL};
    ok(zp_nearest_name(names, "hbm_gbps") == names[1], "nearest of a listed name: itself");
    ok(zp_nearest_name(names, "memory_mb") == names[0], "nearest of memory_mb: memory_mib (1 edit)");
    ok(zp_nearest_name(names, "nib_gbps") == names[2], "nib_gbps: nic_gbps (1 edit; hbm_gbps 3)");
    static const char *const ties[] = {"fp16", "fp32", NULL};
    ok(zp_nearest_name(ties, "fp12") == ties[0], "fp12: fp16 and fp32 1 edit each, the first");
    ok(zp_nearest_name(names, "comment") == NULL, "comment: nothing within 3 edits");
}

static void test_status(void)
{
    static const struct { zp_status s; int want; } cases[] = {
        {ZP_OK, 0}, {ZP_EINVAL, 2}, {ZP_ENOTFOUND, 2}, {ZP_ENOMEM, 1}, {ZP_EIO, 1}, {ZP_ESQL, 1},
    };
    for (int i = 0; i < N_(cases); i++)
        is_u64(zp_status_exit(cases[i].s), cases[i].want, "status_exit(%d) = %d", (int)cases[i].s, cases[i].want);
    zp_err e = {0};
    ok(zp_err_set(&e, ZP_EIO, "x=%d", 3) == ZP_EIO && e.code == ZP_EIO && strcmp(e.msg, "x=3") == 0,
       "err_set fills code and formatted message");
}

int main(void)
{
    tap_plan(0);
    test_parse_count();
    test_parse_int();
    test_parse_double();
    test_parse_bandwidth();
    test_parse_bytes();
    test_parse_bytes0();
    test_parse_enum();
    test_fmt();
    test_status();
    return tap_exit();
}
