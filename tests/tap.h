/* tap.h - a minimal TAP producer for zplan's C tests.
 *
 *   tap_plan(n);            or tap_plan(0) and tap_done() at the end
 *   ok(cond, "fmt", ...);   prints "ok N - msg" / "not ok N - msg" and, on
 *                           failure, "# at file:line"
 *   is_u64(got, want, "msg"), is_dbl(got, want, reltol, "msg"), is_str(...)
 *   skip(n, "reason");      "ok N # SKIP reason"
 *   diag("fmt", ...);       "# ..."
 *   hand_check(cond, "fmt", ...);  the test's own arithmetic: no test, a bail-out when false
 *   return tap_exit();      non-zero when any test failed or the plan differs
 */
#ifndef ZP_TAP_H
#define ZP_TAP_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_fail, tap_planned = -1;

static void tap_plan(int n)
{
    tap_planned = n;
    if (n > 0)
        printf("1..%d\n", n);
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

static int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), unused));
static int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    if (!cond) {
        tap_fail++;
        printf("# failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* hand_check(cond, "fmt", ...): a check of the test's own derivation (a
 * hand count against a published number, an ordering the test's setup
 * relies on), not of the program: it counts no test and, when false, bails
 * out, since every expected value derived from it would be wrong. */
#define hand_check(cond, ...)                                                               \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            printf("Bail out! the test's own derivation is wrong at %s:%d: ", __FILE__,     \
                   __LINE__);                                                               \
            printf(__VA_ARGS__);                                                            \
            putchar('\n');                                                                  \
            fflush(stdout);                                                                 \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#define is_u64(got, want, ...)                                                              \
    do {                                                                                    \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                               \
        if (!ok(g_ == w_, __VA_ARGS__))                                                     \
            printf("#   got %" PRIu64 ", expected %" PRIu64 "\n", g_, w_);                  \
    } while (0)

#define is_dbl(got, want, rel, ...)                                                         \
    do {                                                                                    \
        double g_ = (double)(got), w_ = (double)(want);                                     \
        double d_ = fabs(g_ - w_), s_ = fabs(w_) > 0 ? fabs(w_) : 1.0;                      \
        if (!ok(d_ <= (rel) * s_, __VA_ARGS__))                                             \
            printf("#   got %.10g, expected %.10g (relative tolerance %g)\n", g_, w_,        \
                   (double)(rel));                                                          \
    } while (0)

#define is_str(got, want, ...)                                                              \
    do {                                                                                    \
        const char *g_ = (got), *w_ = (want);                                               \
        if (!ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__))                              \
            printf("#   got '%s', expected '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");  \
    } while (0)

static void skip(int n, const char *reason) __attribute__((unused));
static void skip(int n, const char *reason)
{
    for (int i = 0; i < n; i++)
        printf("ok %d # SKIP %s\n", ++tap_n, reason);
}

static int tap_exit(void)
{
    if (tap_planned <= 0)
        printf("1..%d\n", tap_n);
    else if (tap_n != tap_planned) {
        printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
        return 1;
    }
    return tap_fail ? 1 : 0;
}

#endif
