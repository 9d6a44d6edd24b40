/*
 * cdc_buf: a growable byte buffer, the output of every encoder (Avro binary, framing,
 * canonical text).
 *
 * The struct is public on purpose: encoders append, callers read data/len directly.
 * A buffer is reused across rows (cdc_buf_reset keeps the allocation), so the hot path
 * does no per-row allocation once the buffer has grown to its working size.
 */
#ifndef CDC_BUF_H
#define CDC_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct cdc_buf_s {
    unsigned char *data; /* NULL until the first append */
    size_t len;          /* bytes written */
    size_t cap;          /* bytes allocated */
} cdc_buf_t;

/* Initializer for a buffer on the stack or in a struct: cdc_buf_t b = CDC_BUF_INIT; */
#define CDC_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Sets an empty buffer that owns nothing yet. */
void cdc_buf_init(cdc_buf_t *b);

/* Frees the storage and leaves the buffer empty and reusable; NULL is a no-op. */
void cdc_buf_free(cdc_buf_t *b);

/* Empties the buffer but keeps its storage for the next use. */
void cdc_buf_reset(cdc_buf_t *b);

/* Makes room for at least extra more bytes (aborts on out-of-memory, cdc_alloc.h). */
void cdc_buf_reserve(cdc_buf_t *b, size_t extra);

/* Appends n bytes (p may be NULL when n is 0). Inline: every encoder appends small
 * pieces per value, and the call plus the capacity check was a visible share of a row. */
static inline void cdc_buf_put(cdc_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->len < n)
        cdc_buf_reserve(b, n);
    __builtin_memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends one byte. */
static inline void cdc_buf_put_byte(cdc_buf_t *b, unsigned char c)
{
    if (b->cap == b->len)
        cdc_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

/* Appends a NUL-terminated string without its terminator. */
void cdc_buf_put_str(cdc_buf_t *b, const char *s);

/* Appends printf output (without a terminator). */
void cdc_buf_printf(cdc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends v zigzag-encoded as a variable-length integer: the Avro encoding of int and long. */
void cdc_buf_put_varint_zigzag(cdc_buf_t *b, int64_t v);

/*
 * Reads the zigzag varint at p[*off] (len bytes in all), the inverse of
 * cdc_buf_put_varint_zigzag. *off moves past every byte read, also on failure, so that a
 * message can name where the reading stopped. Returns 0 with *v set, -1 when the bytes
 * end first, -2 when the varint is longer than 64 bits (*v untouched on failure).
 */
int cdc_buf_get_varint_zigzag(const unsigned char *p, size_t len, size_t *off, int64_t *v);

/*
 * cdc_buf_get_varint_zigzag for a decoder that names what it reads: the same reading, but
 * a failure is -1 with errstr "truncated FIELD" or "varint of FIELD longer than 64 bits",
 * for the decoder to place in its own message (where in which record). errstr is the
 * caller's buffer, written only on failure. 0 with *v set; on failure *v is untouched and
 * *off moved as cdc_buf_get_varint_zigzag moves it.
 */
int cdc_buf_get_varint_field(const unsigned char *p, size_t len, size_t *off, const char *field,
                             int64_t *v, char *errstr, size_t errstr_size);

/* Appends v as 8 bytes little-endian (Avro double bit pattern, CRC-64 fingerprints). */
void cdc_buf_put_le64(cdc_buf_t *b, uint64_t v);

/* Appends v as 4 bytes big-endian (Confluent schema id). */
void cdc_buf_put_be32(cdc_buf_t *b, uint32_t v);

/* Returns the contents as a NUL-terminated string: a terminator is kept after len
 * (not counted in len). The pointer is valid until the buffer is next modified. */
const char *cdc_buf_cstr(cdc_buf_t *b);

#endif
