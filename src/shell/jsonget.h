/* jsonget.h - reading a stored result object (cJSON) without ceremony:
 * a missing or mistyped member reads as 0, "" or false.  Shared by the text
 * renderer and the report. */
#ifndef ZP_JSONGET_H
#define ZP_JSONGET_H

#include <cjson/cJSON.h>

static inline const cJSON *zp_jobj(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static inline double zp_jnum(const cJSON *o, const char *k)
{
    const cJSON *v = zp_jobj(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static inline const char *zp_jstr(const cJSON *o, const char *k)
{
    const cJSON *v = zp_jobj(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static inline int zp_jflag(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(zp_jobj(o, k));
}

#endif
