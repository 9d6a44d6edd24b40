/*
 * cdc_framing: single-object and Confluent headers (contract in cdc_framing.h).
 */
#include "cdc_framing.h"

const char *cdc_framing_kind_name(cdc_framing_kind_t kind)
{
    switch (kind) {
    case CDC_FRAMING_SINGLE_OBJECT:
        return "single-object";
    case CDC_FRAMING_CONFLUENT:
        return "confluent";
    case CDC_FRAMING_GARBAGE:
        break;
    }
    return "garbage";
}

size_t cdc_framing_single_object_encode(uint64_t fingerprint, unsigned char *out)
{
    out[0] = 0xC3;
    out[1] = 0x01;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(fingerprint >> (8 * i));
    return CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE;
}

size_t cdc_framing_confluent_encode(uint32_t schema_id, unsigned char *out)
{
    out[0] = 0x00;
    out[1] = (unsigned char)(schema_id >> 24);
    out[2] = (unsigned char)(schema_id >> 16);
    out[3] = (unsigned char)(schema_id >> 8);
    out[4] = (unsigned char)schema_id;
    return CDC_FRAMING_CONFLUENT_HEADER_SIZE;
}

cdc_framing_kind_t cdc_framing_detect(const void *payload, size_t len, uint64_t *fingerprint,
                                      uint32_t *schema_id, size_t *body_offset)
{
    const unsigned char *p = payload;

    if (!p)
        return CDC_FRAMING_GARBAGE;
    if (len >= CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE && p[0] == 0xC3 && p[1] == 0x01) {
        uint64_t fp = 0;

        for (int i = 7; i >= 0; i--)
            fp = (fp << 8) | p[2 + i];
        if (fingerprint)
            *fingerprint = fp;
        if (body_offset)
            *body_offset = CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE;
        return CDC_FRAMING_SINGLE_OBJECT;
    }
    if (len >= CDC_FRAMING_CONFLUENT_HEADER_SIZE && p[0] == 0x00) {
        if (schema_id)
            *schema_id = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) |
                         (uint32_t)p[4];
        if (body_offset)
            *body_offset = CDC_FRAMING_CONFLUENT_HEADER_SIZE;
        return CDC_FRAMING_CONFLUENT;
    }
    return CDC_FRAMING_GARBAGE;
}
