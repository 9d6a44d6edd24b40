/*
 * cdc_hash: XXH64 (xxHash specification, section "XXH64 Algorithm Description") and
 * SHA-256 (FIPS 180-4, sections 4.1.2, 4.2.2, 5.1.1, 6.2). Inputs are read byte by byte
 * into little-/big-endian words, so the results do not depend on the host's byte order
 * or alignment.
 */
#include "cdc_hash.h"

#include "cdc_alloc.h"

#include <string.h>

/* ---------------------------------------------------------------------------------------
 * XXH64 */

#define P64_1 0x9E3779B185EBCA87ULL
#define P64_2 0xC2B2AE3D27D4EB4FULL
#define P64_3 0x165667B19E3779F9ULL
#define P64_4 0x85EBCA77C2B2AE63ULL
#define P64_5 0x27D4EB2F165667C5ULL

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t read_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

static uint32_t read_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t xxh_round(uint64_t acc, uint64_t lane)
{
    acc += lane * P64_2;
    acc = rotl64(acc, 31);
    return acc * P64_1;
}

static uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
    acc ^= xxh_round(0, v);
    return acc * P64_1 + P64_4;
}

uint64_t cdc_hash_xxh64(const void *data, size_t len, uint64_t seed)
{
    /* "" instead of a NULL p: even NULL + 0 is undefined behaviour. */
    const unsigned char *p = len > 0 ? data : (const void *)"", *end = p + len;
    uint64_t acc;

    if (len >= 32) {
        uint64_t v1 = seed + P64_1 + P64_2, v2 = seed + P64_2, v3 = seed, v4 = seed - P64_1;
        const unsigned char *limit = end - 32;
        do {
            v1 = xxh_round(v1, read_le64(p));
            v2 = xxh_round(v2, read_le64(p + 8));
            v3 = xxh_round(v3, read_le64(p + 16));
            v4 = xxh_round(v4, read_le64(p + 24));
            p += 32;
        } while (p <= limit);
        acc = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        acc = xxh_merge(acc, v1);
        acc = xxh_merge(acc, v2);
        acc = xxh_merge(acc, v3);
        acc = xxh_merge(acc, v4);
    } else {
        acc = seed + P64_5;
    }
    acc += (uint64_t)len;
    while (end - p >= 8) {
        acc ^= xxh_round(0, read_le64(p));
        acc = rotl64(acc, 27) * P64_1 + P64_4;
        p += 8;
    }
    if (end - p >= 4) {
        acc ^= (uint64_t)read_le32(p) * P64_1;
        acc = rotl64(acc, 23) * P64_2 + P64_3;
        p += 4;
    }
    while (p < end) {
        acc ^= (uint64_t)*p++ * P64_5;
        acc = rotl64(acc, 11) * P64_1;
    }
    /* Avalanche. */
    acc ^= acc >> 33;
    acc *= P64_2;
    acc ^= acc >> 29;
    acc *= P64_3;
    acc ^= acc >> 32;
    return acc;
}

void cdc_hash_row(const void *canon, size_t len, unsigned char out[CDC_HASH_ROW_SIZE])
{
    uint64_t h = cdc_hash_xxh64(canon, len, 0);
    for (int k = 7; k >= 0; k--) {
        out[k] = (unsigned char)(h & 0xff);
        h >>= 8;
    }
}

/* ---------------------------------------------------------------------------------------
 * SHA-256 */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr32(uint32_t x, int r)
{
    return (x >> r) | (x << (32 - r));
}

static void sha256_block(uint32_t h[8], const unsigned char *b)
{
    uint32_t w[64], a, bb, c, d, e, f, g, hh;

    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)b[4 * t] << 24 | (uint32_t)b[4 * t + 1] << 16 |
               (uint32_t)b[4 * t + 2] << 8 | (uint32_t)b[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr32(w[t - 15], 7) ^ rotr32(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr32(w[t - 2], 17) ^ rotr32(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = s1 + w[t - 7] + s0 + w[t - 16];
    }
    a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t s1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + s1 + ch + K256[t] + w[t];
        uint32_t s0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
        uint32_t maj = (a & bb) ^ (a & c) ^ (bb & c);
        uint32_t t2 = s0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = bb;
        bb = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void cdc_sha256_init(cdc_sha256_t *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->nbytes = 0;
    s->fill = 0;
}

void cdc_sha256_update(cdc_sha256_t *s, const void *data, size_t len)
{
    const unsigned char *p = data;

    if (len == 0)
        return; /* p may be NULL */
    s->nbytes += len;
    if (s->fill > 0) {
        size_t take = 64 - s->fill < len ? 64 - s->fill : len;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        len -= take;
        if (s->fill < 64)
            return;
        sha256_block(s->h, s->block);
        s->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        sha256_block(s->h, p);
    if (len > 0) {
        memcpy(s->block, p, len);
        s->fill = len;
    }
}

void cdc_sha256_final(cdc_sha256_t *s, unsigned char out[CDC_SHA256_SIZE])
{
    uint64_t bits = s->nbytes * 8;

    /* Padding (5.1.1): a 1 bit, zeros up to 56 mod 64, the length in bits big-endian. */
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        sha256_block(s->h, s->block);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    for (int k = 0; k < 8; k++)
        s->block[63 - k] = (unsigned char)(bits >> (8 * k));
    sha256_block(s->h, s->block);
    for (int k = 0; k < 8; k++) {
        out[4 * k] = (unsigned char)(s->h[k] >> 24);
        out[4 * k + 1] = (unsigned char)(s->h[k] >> 16);
        out[4 * k + 2] = (unsigned char)(s->h[k] >> 8);
        out[4 * k + 3] = (unsigned char)s->h[k];
    }
}

void cdc_sha256(const void *p, size_t len, unsigned char out[CDC_SHA256_SIZE])
{
    cdc_sha256_t s;
    cdc_sha256_init(&s);
    cdc_sha256_update(&s, p, len);
    cdc_sha256_final(&s, out);
}

void cdc_hash_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t k = 0; k < n; k++) {
        out[2 * k] = hex[bytes[k] >> 4];
        out[2 * k + 1] = hex[bytes[k] & 0x0f];
    }
    out[2 * n] = '\0';
}

char *cdc_hash_bytea_text(const unsigned char *bytes, size_t n)
{
    char *s = cdc_malloc(2 * n + 3);
    s[0] = '\\';
    s[1] = 'x';
    cdc_hash_hex(bytes, n, s + 2);
    return s;
}
