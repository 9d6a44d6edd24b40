#include "cdc_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cdc_alloc_die(size_t size)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *cdc_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        cdc_alloc_die(size);
    return p;
}

void *cdc_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        cdc_alloc_die(nmemb * size);
    return p;
}

void *cdc_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        cdc_alloc_die(size);
    return p;
}

char *cdc_strdup(const char *s)
{
    return cdc_strndup(s, strlen(s));
}

char *cdc_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = cdc_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *cdc_vasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        cdc_alloc_die(0);
    char *p = cdc_malloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *cdc_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = cdc_vasprintf(fmt, ap);
    va_end(ap);
    return p;
}
