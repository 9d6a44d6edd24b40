#include "cdc_log.h"

#include "cdc_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_component = "cdc";
static cdc_log_level_t log_level = CDC_LOG_INFO;
static cdc_log_format_t log_format = CDC_LOG_KV;
static char log_ctx_key[32];
static char log_ctx_value[128];

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cdc_log_set_component(const char *component)
{
    log_component = component;
}

void cdc_log_set_context(const char *key, const char *value)
{
    snprintf(log_ctx_key, sizeof(log_ctx_key), "%s", key ? key : "");
    snprintf(log_ctx_value, sizeof(log_ctx_value), "%s", key && value ? value : "");
}

void cdc_log_set_level(cdc_log_level_t level)
{
    log_level = level;
}

void cdc_log_set_format(cdc_log_format_t format)
{
    log_format = format;
}

int cdc_log_level_parse(const char *name, cdc_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (cdc_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int cdc_log_format_parse(const char *name, cdc_log_format_t *out)
{
    if (strcmp(name, "kv") == 0)
        *out = CDC_LOG_KV;
    else if (strcmp(name, "json") == 0)
        *out = CDC_LOG_JSON;
    else
        return -1;
    return 0;
}

int cdc_log_enabled(cdc_log_level_t level)
{
    return level <= log_level;
}

/* Replaces the characters of a secret value starting at p with '*' up to a delimiter. */
static void mask_until(char *p, const char *delims)
{
    for (; *p && !strchr(delims, *p); p++)
        *p = '*';
}

void cdc_log_mask_secrets(char *s)
{
    for (char *p = s; (p = strstr(p, "password=")) != NULL;) {
        p += strlen("password=");
        if (*p == '\'') {
            p++;
            mask_until(p, "'");
        } else {
            mask_until(p, " \t\"&");
        }
    }
    /* scheme://user:secret@host */
    for (char *p = s; (p = strstr(p, "://")) != NULL;) {
        p += 3;
        char *at = strpbrk(p, "@ /\"");
        char *colon = strchr(p, ':');
        if (at && *at == '@' && colon && colon < at) {
            for (char *q = colon + 1; q < at; q++)
                *q = '*';
        }
    }
}

/* Writes s as a JSON string body (without quotes), escaping what JSON requires. */
static void put_json_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
}

void cdc_log_vwrite(cdc_log_level_t level, const char *fmt, va_list ap)
{
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);

    char *msg = cdc_vasprintf(fmt, ap);
    cdc_log_mask_secrets(msg);
    flockfile(stderr);
    if (log_format == CDC_LOG_JSON) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",", ts,
                level_names[level], log_component);
        if (log_ctx_key[0]) {
            fputc('"', stderr);
            put_json_escaped(stderr, log_ctx_key);
            fputs("\":\"", stderr);
            put_json_escaped(stderr, log_ctx_value);
            fputs("\",", stderr);
        }
        fputs("\"msg\":\"", stderr);
        put_json_escaped(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "ts=%s level=%s component=%s ", ts, level_names[level], log_component);
        if (log_ctx_key[0])
            fprintf(stderr, "%s=%s ", log_ctx_key, log_ctx_value);
        fputs("msg=\"", stderr);
        for (const char *p = msg; *p; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', stderr);
            fputc(*p == '\n' ? ' ' : *p, stderr);
        }
        fputs("\"\n", stderr);
    }
    funlockfile(stderr);
    free(msg);
}

void cdc_log_write(cdc_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cdc_log_vwrite(level, fmt, ap);
    va_end(ap);
}
