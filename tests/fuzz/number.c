/* number.c - fuzz the strict number parsers (src/core/util.c): parameter
 * counts, integers, fractions, byte sizes and names, each with the ranges
 * the commands use.  The input is one option's value.  An accepted value
 * must lie in the range the parser promises; a refused one must leave a
 * one-line message. */
#include "fuzz.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void message_ok(const zp_err *e, const char *what)
{
    FUZZ_REQUIRE(memchr(e->msg, '\0', sizeof e->msg) != NULL, "%s: the message is not terminated", what);
    FUZZ_REQUIRE(e->code == ZP_EINVAL, "%s: refused with status %d, not ZP_EINVAL", what, (int)e->code);
    FUZZ_REQUIRE(strncmp(e->msg, what, strlen(what)) == 0, "%s: the message does not name the option: %s", what,
                 e->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size), buf[64];
    zp_err e = {0};
    double d;
    int64_t i;
    uint64_t u;
    int k;

    if (zp_parse_count("--params", s, &d, &e) == ZP_OK) {
        FUZZ_REQUIRE(isfinite(d) && d >= 1.0 && d <= 1e15, "--params '%s' gave %.17g", s, d);
        zp_fmt_count(buf, sizeof buf, d);
    } else
        message_ok(&e, "--params");

    /* the integer ranges of the commands: --gpus, --zero, a run id, --bucket-elems, all of int64 */
    static const struct { const char *what; int64_t lo, hi; } ints[] = {
        {"--gpus", 1, 1 << 24}, {"--zero", 0, 3}, {"run id", 1, INT64_MAX / 2},
        {"--bucket-elems", 0, (int64_t)1 << 40}, {"--any", INT64_MIN, INT64_MAX}, {"--small", -5, 5},
    };
    for (size_t j = 0; j < sizeof ints / sizeof ints[0]; j++) {
        e = (zp_err){0};
        if (zp_parse_int(ints[j].what, s, ints[j].lo, ints[j].hi, &i, &e) == ZP_OK)
            FUZZ_REQUIRE(i >= ints[j].lo && i <= ints[j].hi, "%s '%s' gave %lld", ints[j].what, s, (long long)i);
        else
            message_ok(&e, ints[j].what);
    }

    static const struct { const char *what; double lo, hi; } dbls[] = {
        {"--frag", 0, 1}, {"--gemm-eff", 1e-3, 1}, {"--any", -1e308, 1e308},
    };
    for (size_t j = 0; j < sizeof dbls / sizeof dbls[0]; j++) {
        e = (zp_err){0};
        if (zp_parse_double(dbls[j].what, s, dbls[j].lo, dbls[j].hi, &d, &e) == ZP_OK)
            FUZZ_REQUIRE(isfinite(d) && d >= dbls[j].lo && d <= dbls[j].hi, "%s '%s' gave %.17g", dbls[j].what, s, d);
        else
            message_ok(&e, dbls[j].what);
    }

    /* a network bandwidth: 1 MB/s to 1e6 GB/s, a bare number at most a NIC's */
    e = (zp_err){0};
    if (zp_parse_bandwidth("--inter-node-gbps", s, &d, &e) == ZP_OK)
        FUZZ_REQUIRE(isfinite(d) && d >= 1e-3 && d <= 1e6, "--inter-node-gbps '%s' gave %.17g", s, d);
    else
        message_ok(&e, "--inter-node-gbps");

    /* sizes: below 2^53 (8 PiB), so that sums of sizes stay inside 64 bits */
    e = (zp_err){0};
    if (zp_parse_bytes("--host-mem", s, &u, &e) == ZP_OK) {
        FUZZ_REQUIRE(u >= 1 && u < ((uint64_t)1 << 53), "--host-mem '%s' gave %llu", s, (unsigned long long)u);
        zp_fmt_bytes(buf, sizeof buf, u, ZP_UNITS_BINARY);
        zp_fmt_bytes(buf, sizeof buf, u, ZP_UNITS_DECIMAL);
    } else
        message_ok(&e, "--host-mem");
    e = (zp_err){0};
    if (zp_parse_bytes0("--cuda-ctx", s, &u, &e) == ZP_OK)
        FUZZ_REQUIRE(u < ((uint64_t)1 << 53), "--cuda-ctx '%s' gave %llu", s, (unsigned long long)u);
    else
        message_ok(&e, "--cuda-ctx");

    static const char *const names[] = {"none", "optimizer", "optimizer+params", NULL};
    e = (zp_err){0};
    if (zp_parse_enum("--offload", s, names, &k, &e) == ZP_OK)
        FUZZ_REQUIRE(k >= 0 && k < 3 && strcmp(names[k], s) == 0, "--offload '%s' gave %d", s, k);
    else
        message_ok(&e, "--offload");
    free(s);
    return 0;
}
