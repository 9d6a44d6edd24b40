/*
 * cdc_buf: growable byte buffer (see cdc_buf.h).
 */
#include "cdc_buf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cdc_alloc.h"

void cdc_buf_init(cdc_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cdc_buf_free(cdc_buf_t *b)
{
    if (b == NULL)
        return;
    free(b->data);
    cdc_buf_init(b);
}

void cdc_buf_reset(cdc_buf_t *b)
{
    b->len = 0;
}

void cdc_buf_reserve(cdc_buf_t *b, size_t extra)
{
    size_t need = b->len + extra;
    size_t cap;

    if (need < b->len)
        abort(); /* size_t overflow: no buffer can be that large */
    if (need <= b->cap)
        return;
    /* Doubling keeps appends amortized O(1); 64 bytes avoids tiny first steps. */
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    b->data = cdc_realloc(b->data, cap);
    b->cap = cap;
}

void cdc_buf_put_str(cdc_buf_t *b, const char *s)
{
    cdc_buf_put(b, s, strlen(s));
}

void cdc_buf_printf(cdc_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    /* First try into the free space; grow and redo only when it did not fit. */
    cdc_buf_reserve(b, 64);
    va_start(ap, fmt);
    n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort(); /* an encoding error in our own format string */
    if ((size_t)n >= b->cap - b->len) {
        cdc_buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

int cdc_buf_get_varint_zigzag(const unsigned char *p, size_t len, size_t *off, int64_t *v)
{
    uint64_t z = 0;

    for (int shift = 0; shift < 70; shift += 7) {
        unsigned char b;
        if (*off >= len)
            return -1;
        b = p[(*off)++];
        /* The tenth byte may only carry the 64th bit. */
        if (shift == 63 && (b & 0xfe) != 0)
            return -2;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return 0;
        }
    }
    return -2;
}

int cdc_buf_get_varint_field(const unsigned char *p, size_t len, size_t *off, const char *field,
                             int64_t *v, char *errstr, size_t errstr_size)
{
    switch (cdc_buf_get_varint_zigzag(p, len, off, v)) {
    case 0:
        return 0;
    case -1:
        snprintf(errstr, errstr_size, "truncated %s", field);
        return -1;
    default:
        snprintf(errstr, errstr_size, "varint of %s longer than 64 bits", field);
        return -1;
    }
}

void cdc_buf_put_varint_zigzag(cdc_buf_t *b, int64_t v)
{
    /* Shift on the unsigned value: left-shifting a negative int64_t is undefined. */
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char *o;

    /* Written in place: at most 10 bytes. */
    if (b->cap - b->len < 10)
        cdc_buf_reserve(b, 10);
    o = b->data + b->len;
    while (z >= 0x80) {
        *o++ = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    *o++ = (unsigned char)z;
    b->len = (size_t)(o - b->data);
}

void cdc_buf_put_le64(cdc_buf_t *b, uint64_t v)
{
    unsigned char tmp[8];

    for (int i = 0; i < 8; i++)
        tmp[i] = (unsigned char)(v >> (8 * i));
    cdc_buf_put(b, tmp, 8);
}

void cdc_buf_put_be32(cdc_buf_t *b, uint32_t v)
{
    unsigned char tmp[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                            (unsigned char)(v >> 8), (unsigned char)v};
    cdc_buf_put(b, tmp, 4);
}

const char *cdc_buf_cstr(cdc_buf_t *b)
{
    cdc_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return (const char *)b->data;
}
