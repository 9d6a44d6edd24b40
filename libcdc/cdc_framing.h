/*
 * cdc_framing: the two wire framings of Avro payloads (DESIGN.md "Records", Wire).
 *
 *   single-object  C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint | Avro binary
 *   Confluent      00    | 4-byte big-endian schema id                   | Avro binary
 *
 * Pure functions over byte buffers, no I/O and no allocation: the registry client and
 * the producer decide which framing to use; the fingerprint comes from
 * cdc_avro_canonical.h.
 */
#ifndef CDC_FRAMING_H
#define CDC_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#define CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE 10
#define CDC_FRAMING_CONFLUENT_HEADER_SIZE     5

typedef enum {
    CDC_FRAMING_GARBAGE = 0,       /* neither framing (or too short to carry one) */
    CDC_FRAMING_SINGLE_OBJECT = 1, /* C3 01 + fingerprint */
    CDC_FRAMING_CONFLUENT = 2,     /* 00 + schema id */
} cdc_framing_kind_t;

/* Stable lowercase name of a framing ("single-object", "confluent", "garbage"). */
const char *cdc_framing_kind_name(cdc_framing_kind_t kind);

/* Writes the 10-byte single-object header for fingerprint into out (which has room for
 * CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE bytes); returns the number of bytes written. */
size_t cdc_framing_single_object_encode(uint64_t fingerprint, unsigned char *out);

/* Writes the 5-byte Confluent header for schema_id into out (room for
 * CDC_FRAMING_CONFLUENT_HEADER_SIZE bytes); returns the number of bytes written. */
size_t cdc_framing_confluent_encode(uint32_t schema_id, unsigned char *out);

/*
 * Recognizes the framing of a payload of len bytes. On SINGLE_OBJECT sets *fingerprint,
 * on CONFLUENT sets *schema_id (either out pointer may be NULL); in both cases sets
 * *body_offset (may be NULL) to where the Avro binary starts. A header with no body
 * after it is still a valid framing (an Avro record with no fields encodes to zero bytes).
 * Returns GARBAGE for anything else, including a buffer shorter than the header.
 */
cdc_framing_kind_t cdc_framing_detect(const void *payload, size_t len, uint64_t *fingerprint,
                                      uint32_t *schema_id, size_t *body_offset);

#endif
