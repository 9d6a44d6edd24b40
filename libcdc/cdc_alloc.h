/*
 * cdc_alloc: the project's one allocation policy.
 *
 * Every allocation in the project goes through these wrappers, which abort the process
 * with a message on out-of-memory. A CDC worker that cannot allocate cannot make progress
 * safely, and its positions are only acknowledged after Kafka delivery, so dying is the
 * lossless choice; checking every malloc by hand would only add untested error paths.
 */
#ifndef CDC_ALLOC_H
#define CDC_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* Like malloc/calloc/realloc/strdup, but never return NULL (abort on OOM instead). */
void *cdc_malloc(size_t size);
void *cdc_calloc(size_t nmemb, size_t size);
void *cdc_realloc(void *ptr, size_t size);
char *cdc_strdup(const char *s);
char *cdc_strndup(const char *s, size_t n);

/* printf into a new string; caller frees with free(). */
char *cdc_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cdc_vasprintf(const char *fmt, va_list ap);

#endif
