/* schema.c - see schema.h. */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static zp_status bad(zp_err *e, const char *what, const char *path, const char *key, const char *why)
{
    return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s%s%s %s (was the database edited? "
                      "zplan writes every field)", what, path, *path ? "." : "", key, why);
}

static zp_status check_value(const cJSON *v, const zp_field *f, const char *what, const char *path, zp_err *e);

static zp_status check_obj(const cJSON *obj, const zp_field *table, const char *what, const char *path, zp_err *e)
{
    for (const zp_field *f = table; f->key; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->key);
        if (!v) {
            if (f->optional)
                continue;
            return bad(e, what, path, f->key, "is missing");
        }
        if (cJSON_IsNull(v)) {
            if (f->nullable)
                continue;
            return bad(e, what, path, f->key, "is null");
        }
        zp_status st = check_value(v, f, what, path, e);
        if (st)
            return st;
    }
    return ZP_OK;
}

static zp_status check_number(const cJSON *v, const zp_field *f, const char *what, const char *path, const char *key,
                              zp_err *e)
{
    char why[160];
    if (!cJSON_IsNumber(v))
        return bad(e, what, path, key, "is not a number");
    double x = v->valuedouble;
    if (!isfinite(x) || x < f->lo || x > f->hi) {
        snprintf(why, sizeof why, "= %.17g is out of range (allowed: %.17g to %.17g)", x, f->lo, f->hi);
        return bad(e, what, path, key, why);
    }
    if (f->type == ZP_F_INT && x != floor(x)) {
        snprintf(why, sizeof why, "= %.17g is not a whole number", x);
        return bad(e, what, path, key, why);
    }
    return ZP_OK;
}

static zp_status check_value(const cJSON *v, const zp_field *f, const char *what, const char *path, zp_err *e)
{
    char sub[512];
    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", f->key);
    switch (f->type) {
    case ZP_F_INT:
    case ZP_F_NUM:
        return check_number(v, f, what, path, f->key, e);
    case ZP_F_STR:
        if (!cJSON_IsString(v))
            return bad(e, what, path, f->key, "is not a string");
        if (f->names) {
            for (const char *const *n = f->names; *n; n++)
                if (strcmp(*n, v->valuestring) == 0)
                    return ZP_OK;
            return bad(e, what, path, f->key, "is not one of its names");
        }
        return ZP_OK;
    case ZP_F_BOOL:
        return cJSON_IsBool(v) ? ZP_OK : bad(e, what, path, f->key, "is not true or false");
    case ZP_F_OBJ:
        if (!cJSON_IsObject(v))
            return bad(e, what, path, f->key, "is not an object");
        return f->sub ? check_obj(v, f->sub, what, sub, e) : ZP_OK;
    case ZP_F_STRARR: {
        if (!cJSON_IsArray(v))
            return bad(e, what, path, f->key, "is not an array");
        const cJSON *x;
        cJSON_ArrayForEach(x, v) if (!cJSON_IsString(x)) return bad(e, what, path, f->key, "holds a non-string");
        return ZP_OK;
    }
    case ZP_F_ARR: {
        if (!cJSON_IsArray(v))
            return bad(e, what, path, f->key, "is not an array");
        const cJSON *x;
        int i = 0;
        cJSON_ArrayForEach(x, v)
        {
            char item[560], key[64];
            snprintf(item, sizeof item, "%s[%d]", sub, i);
            snprintf(key, sizeof key, "%s[%d]", f->key, i);
            i++;
            if (f->sub) {
                if (!cJSON_IsObject(x))
                    return bad(e, what, path, key, "is not an object");
                zp_status st = check_obj(x, f->sub, what, item, e);
                if (st)
                    return st;
            } else if (!(f->nullable && cJSON_IsNull(x))) {
                zp_status st = check_number(x, f, what, path, key, e);
                if (st)
                    return st;
            }
        }
        return ZP_OK;
    }
    }
    return ZP_OK;
}

zp_status zp_schema_check(const cJSON *obj, const zp_field *table, const char *what, zp_err *e)
{
    if (!cJSON_IsObject(obj))
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not a JSON object", what);
    return check_obj(obj, table, what, "", e);
}
