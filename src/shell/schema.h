/* schema.h - checking a JSON document against a table of its fields before
 * anything reads it (shell code).  A stored run or execution record comes
 * from a database that a team shares (untrusted input), an engine's output
 * from another process: each is checked once, where it is read, so that a
 * missing or out-of-range field is a one-line error naming the document and
 * the field, never a division by zero or an overflow further on.
 *
 * A table is an array of zp_field ending with a NULL key.  Numbers are
 * checked against [lo, hi] (integers also for being whole); strings of an
 * enum against their names; objects and arrays of objects against a
 * sub-table; `optional` fields may be absent (old records), `nullable`
 * ones null. */
#ifndef ZP_SCHEMA_H
#define ZP_SCHEMA_H

#include <cjson/cJSON.h>
#include "core.h"

typedef enum zp_ftype {
    ZP_F_INT = 0,   /* a whole number in [lo, hi] */
    ZP_F_NUM,       /* a finite number in [lo, hi] */
    ZP_F_STR,       /* a string (names: one of them) */
    ZP_F_BOOL,
    ZP_F_OBJ,       /* an object (sub: its fields) */
    ZP_F_ARR,       /* an array (sub: its items' fields, items are objects; NULL: items are numbers in [lo, hi]
                     * or null when nullable) */
    ZP_F_STRARR,    /* an array of strings */
} zp_ftype;

typedef struct zp_field {
    const char *key;
    zp_ftype type;
    double lo, hi;
    const char *const *names;
    const struct zp_field *sub;
    int optional, nullable;
} zp_field;

/* Check obj against the table; on a failure, e names `what` (e.g. "run 5")
 * and the field's path ("plans[2].dp"), and the status is ZP_EIO (a
 * runtime failure: exit 1). */
zp_status zp_schema_check(const cJSON *obj, const zp_field *table, const char *what, zp_err *e);

#endif
