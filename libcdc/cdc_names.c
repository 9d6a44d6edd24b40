/*
 * cdc_names: mangling of SQLite identifiers into Avro names (contract in cdc_names.h).
 *
 * The suffix hash is 32-bit FNV-1a of the original bytes, cut to 24 bits: short enough to
 * keep names readable, and since two originals only need it when their mangled bases
 * already coincide, a clash of both is rare and is still reported by
 * cdc_names_find_collision(), never silently accepted.
 */
#include "cdc_names.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"

typedef enum {
    MANGLE_FIELD,
    MANGLE_RECORD,
    MANGLE_NAMESPACE,
} mangle_mode_t;

/* Avro primitive type names may not name a defined type (specification, "Names"). */
static const char *const primitive_names[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static int is_alpha_(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_primitive(const char *name)
{
    for (size_t i = 0; i < sizeof(primitive_names) / sizeof(primitive_names[0]); i++)
        if (strcmp(name, primitive_names[i]) == 0)
            return 1;
    return 0;
}

int cdc_names_is_valid(const char *name)
{
    if (!name || !is_alpha_((unsigned char)name[0]))
        return 0;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_((unsigned char)*p) && !is_digit((unsigned char)*p))
            return 0;
    return 1;
}

static char *mangle(const char *original, mangle_mode_t mode)
{
    const char *src = original ? original : "";
    size_t len = strlen(src);
    /* '_' prefix + every byte + "_x" + 6 hex digits + NUL */
    char *out = cdc_malloc(len + 10);
    size_t n = 0;
    int changed = 0;

    if (len == 0 || is_digit((unsigned char)src[0])) {
        out[n++] = '_';
        changed = 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];

        if (is_alpha_(c) || is_digit(c)) {
            out[n++] = (char)c;
        } else {
            out[n++] = '_'; /* dots included: a namespace component is one name */
            changed = 1;
        }
    }
    out[n] = '\0';
    if (mode == MANGLE_RECORD && is_primitive(out))
        changed = 1;
    if (changed)
        snprintf(out + n, 9, "_x%06x", (unsigned)(fnv1a32(src) & 0xffffffu));
    return out;
}

char *cdc_names_field(const char *original)
{
    return mangle(original, MANGLE_FIELD);
}

char *cdc_names_record(const char *original)
{
    return mangle(original, MANGLE_RECORD);
}

char *cdc_names_namespace(const char *original)
{
    return mangle(original, MANGLE_NAMESPACE);
}

int cdc_names_find_collision(const char *const *originals, size_t n, cdc_names_mangle_fn fn,
                             size_t *first, size_t *second)
{
    char **mangled = cdc_calloc(n ? n : 1, sizeof(*mangled));
    int found = 0;

    for (size_t i = 0; i < n; i++)
        mangled[i] = fn(originals[i]);
    /* Quadratic on purpose: tables have tens of columns, and the first pair in index
     * order is the one a message should name. */
    for (size_t i = 0; i < n && !found; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(mangled[i], mangled[j]) == 0) {
                *first = i;
                *second = j;
                found = 1;
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(mangled[i]);
    free(mangled);
    return found;
}
