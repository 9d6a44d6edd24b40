#include "cdc_config_expand.h"

#include "cdc_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends n bytes of s to the growing string *buf (length *len, capacity *cap). */
static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap *= 2;
        *buf = cdc_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

char *cdc_config_expand(const char *text, char *errstr, size_t errstr_size)
{
    size_t cap = strlen(text) + 16, len = 0;
    char *out = cdc_malloc(cap);
    out[0] = '\0';
    for (const char *p = text; *p;) {
        if (p[0] == '$' && p[1] == '$') {
            append(&out, &len, &cap, "$", 1);
            p += 2;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            append(&out, &len, &cap, p, 1);
            p++;
            continue;
        }
        const char *close = strchr(p + 2, '}');
        if (!close) {
            snprintf(errstr, errstr_size, "\"${\" without a closing \"}\" in \"%s\"", text);
            free(out);
            return NULL;
        }
        char *name = cdc_strndup(p + 2, (size_t)(close - p - 2));
        char *fallback = strstr(name, ":-");
        if (fallback) {
            *fallback = '\0';
            fallback += 2;
        }
        const char *value = getenv(name);
        if (!value || (fallback && !*value))
            value = fallback;
        if (!value) {
            snprintf(errstr, errstr_size, "environment variable %s is not set", name);
            free(name);
            free(out);
            return NULL;
        }
        append(&out, &len, &cap, value, strlen(value));
        free(name);
        p = close + 1;
    }
    return out;
}
