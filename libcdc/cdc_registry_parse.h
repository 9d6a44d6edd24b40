/*
 * cdc_registry_parse: the bodies of the Confluent Schema Registry REST API, built and read
 * without any I/O (the HTTP side is cdc_registry.c). Separate so the unit tests can feed
 * it documented answers and malformed ones.
 *
 * Every reader takes a body of len bytes (not necessarily NUL-terminated) and returns 0 on
 * success, -1 when the body does not have the documented shape (reason in errstr).
 */
#ifndef CDC_REGISTRY_PARSE_H
#define CDC_REGISTRY_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* {"schema":"<schema_json, escaped>"}: the exact text travels as a JSON string. NULL with
 * the reason in errstr when schema_json is not valid UTF-8. Caller frees with free(). */
char *cdc_registry_body_schema(const char *schema_json, char *errstr, size_t errstr_size);

/* {"compatibility":"<level>"} (PUT /config). Caller frees with free(). */
char *cdc_registry_body_level(const char *level);

/* Percent-encodes s for one path segment (RFC 3986 unreserved characters stay as they
 * are). Caller frees with free(). */
char *cdc_registry_path_escape(const char *s);

/* An error body {"error_code":N,"message":"..."}: sets *error_code (0 when absent) and
 * copies the message (empty when absent). Never fails: a body that is not JSON yields
 * code 0 and its first bytes as the message, so an HTML error page is still shown. */
void cdc_registry_parse_error(const char *body, size_t len, int *error_code, char *msg,
                              size_t msg_size);

/* {"id":N} (register) or {"subject":..,"id":N,"version":V,"schema":..} (lookup): sets *id
 * and, when version is not NULL, *version (0 when absent). */
int cdc_registry_parse_id(const char *body, size_t len, uint32_t *id, int *version, char *errstr,
                          size_t errstr_size);

/* {"schema":"..."} (GET /schemas/ids/{id}): the schema text. Caller frees with free(). */
char *cdc_registry_parse_schema(const char *body, size_t len, char *errstr, size_t errstr_size);

/* {"is_compatible":B[,"messages":[...]]}: sets *compatible, and joins the messages with
 * "; " into messages (empty when none). */
int cdc_registry_parse_compat(const char *body, size_t len, int *compatible, char *messages,
                              size_t messages_size, char *errstr, size_t errstr_size);

/* {"compatibilityLevel":"X"} (GET /config) or {"compatibility":"X"} (PUT /config): copies
 * the level; fails when it is not a known level. */
int cdc_registry_parse_level(const char *body, size_t len, char *level, size_t level_size,
                             char *errstr, size_t errstr_size);

#endif
