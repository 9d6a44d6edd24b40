/*
 * cdc_avro_canonical: Parsing Canonical Form and CRC-64-AVRO fingerprints of schemas
 * (Avro 1.11 specification, "Schema Resolution" / "Parsing Canonical Form for Schemas"
 * and "Schema Fingerprints"). avro-c has neither (DESIGN.md "Pitfalls"), and the
 * single-object encoding and the <prefix>.schemas topic are keyed by this fingerprint,
 * so it must agree with the Java and Python implementations byte for byte.
 */
#ifndef CDC_AVRO_CANONICAL_H
#define CDC_AVRO_CANONICAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parsing Canonical Form of a schema given as JSON text: [PRIMITIVES], [FULLNAMES],
 * [STRIP], [ORDER], [STRINGS], [INTEGERS], [WHITESPACE] of the specification. Returns
 * the canonical text (caller frees with free()), or NULL with the reason in errstr when
 * the text is not JSON or not a schema (unknown type name, record without fields, ...).
 */
char *cdc_avro_canonical_form(const char *json, size_t len, char *errstr, size_t errstr_size);

/* CRC-64-AVRO (Rabin) fingerprint of len bytes, as the specification defines it. */
uint64_t cdc_avro_crc64(const void *data, size_t len);

/* Fingerprint of a schema: CRC-64-AVRO of its canonical form. Returns 0 and sets *out, or
 * -1 with the reason in errstr (as cdc_avro_canonical_form()). */
int cdc_avro_fingerprint(const char *json, size_t len, uint64_t *out, char *errstr,
                         size_t errstr_size);

#endif
