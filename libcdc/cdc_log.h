/*
 * cdc_log: the one logger of every binary.
 *
 * One line per event on stderr (stdout carries only data), either
 *   ts=2026-11-21T23:40:01.123Z level=info component=producer msg="..." key=value
 * or, with cdc_log_set_format(CDC_LOG_JSON), one JSON object per line.
 * The level is checked before anything is formatted (see CDC_LOG), and anything that
 * looks like a libpq password (password=...) is masked before it is written.
 */
#ifndef CDC_LOG_H
#define CDC_LOG_H

#include <stdarg.h>

typedef enum {
    CDC_LOG_ERROR = 0,
    CDC_LOG_WARN = 1,
    CDC_LOG_INFO = 2,
    CDC_LOG_DEBUG = 3,
} cdc_log_level_t;

typedef enum {
    CDC_LOG_KV = 0,
    CDC_LOG_JSON = 1,
} cdc_log_format_t;

/* Component name written in every line (e.g. "producer"); the string must outlive the
 * logger (pass a literal). */
void cdc_log_set_component(const char *component);
/* A field written in every line after the component, e.g. ("domain", "crm"): the sink and
 * the validator set their domain, so every line of a worker names it. Both strings are
 * copied; (NULL, NULL) clears it. Lines about one source name it in the message. */
void cdc_log_set_context(const char *key, const char *value);
void cdc_log_set_level(cdc_log_level_t level);
void cdc_log_set_format(cdc_log_format_t format);
/* Parses "error|warn|info|debug"; returns -1 on an unknown name. */
int cdc_log_level_parse(const char *name, cdc_log_level_t *out);
/* Parses "kv|json"; returns -1 on an unknown name. */
int cdc_log_format_parse(const char *name, cdc_log_format_t *out);
int cdc_log_enabled(cdc_log_level_t level);

/* Writes one line; use the macros, which skip formatting for disabled levels. */
void cdc_log_write(cdc_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cdc_log_vwrite(cdc_log_level_t level, const char *fmt, va_list ap);

/* Masks password=VALUE (conninfo) and :PASSWORD@ (URLs) in place. */
void cdc_log_mask_secrets(char *s);

#define CDC_LOG(lvl, ...)                                                                          \
    do {                                                                                           \
        if (cdc_log_enabled(lvl))                                                                  \
            cdc_log_write(lvl, __VA_ARGS__);                                                       \
    } while (0)
#define cdc_log_error(...) CDC_LOG(CDC_LOG_ERROR, __VA_ARGS__)
#define cdc_log_warn(...)  CDC_LOG(CDC_LOG_WARN, __VA_ARGS__)
#define cdc_log_info(...)  CDC_LOG(CDC_LOG_INFO, __VA_ARGS__)
#define cdc_log_debug(...) CDC_LOG(CDC_LOG_DEBUG, __VA_ARGS__)

#endif
