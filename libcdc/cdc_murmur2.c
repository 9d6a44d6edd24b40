/*
 * cdc_murmur2: Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), written
 * over unsigned 32-bit arithmetic, which wraps exactly like Java's int; Java's signed
 * right shift (>>>) is unsigned there, so no sign games are needed.
 */
#include "cdc_murmur2.h"

uint32_t cdc_murmur2(const void *data, size_t len)
{
    const unsigned char *p = data;
    const uint32_t seed = 0x9747b28cu;
    const uint32_t m = 0x5bd1e995u;
    const int r = 24;
    /* Java computes seed ^ length on an int: lengths past 2^31 cannot occur there. */
    uint32_t h = seed ^ (uint32_t)len;
    size_t blocks = len / 4;

    for (size_t i = 0; i < blocks; i++) {
        const unsigned char *b = p + i * 4;
        /* little-endian words, as the Java code assembles them byte by byte */
        uint32_t k = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
                     ((uint32_t)b[3] << 24);

        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    /* Tail: Java's switch falls through from case 3 to case 1. */
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[(len & ~(size_t)3) + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)p[(len & ~(size_t)3) + 1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)p[len & ~(size_t)3];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t cdc_murmur2_partition(const void *key, size_t len, int32_t partitions)
{
    if (partitions <= 0)
        return -1;
    return (int32_t)((cdc_murmur2(key, len) & 0x7fffffffu) % (uint32_t)partitions);
}
