/*
 * cdc_hash: the two hashes of the parity checks (DESIGN.md invariant 8), both written
 * from their public specifications so that no library version can change a result:
 *
 *   XXH64    xxHash's 64-bit hash (https://github.com/Cyan4973/xxHash/blob/dev/doc/
 *            xxhash_spec.md), fast: the per-row hash. The envelope's row_hash is
 *            cdc_hash_row() of the row's canonical form (cdc_canon.h): XXH64 with seed 0,
 *            written as 8 bytes big-endian. Not a cryptographic hash: it detects changes
 *            made by accident (a bug, a lossy conversion), not by an adversary.
 *   SHA-256  FIPS 180-4: the audit's per-table digest over canonical rows in key order.
 *
 * Both are pure functions of their input bytes; the tests check the published vectors
 * (xxhsum's sanity buffer, NIST's SHA-256 examples).
 */
#ifndef CDC_HASH_H
#define CDC_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a row hash as carried in the envelope's row_hash field. */
#define CDC_HASH_ROW_SIZE 8

/* Bytes of a SHA-256 digest. */
#define CDC_SHA256_SIZE 32

/* XXH64 of len bytes at p (p may be NULL when len is 0) with the given seed. */
uint64_t cdc_hash_xxh64(const void *p, size_t len, uint64_t seed);

/* The row hash of a canonical row (cdc_canon.h): XXH64 seed 0, big-endian into out. */
void cdc_hash_row(const void *canon, size_t len, unsigned char out[CDC_HASH_ROW_SIZE]);

/*
 * Incremental SHA-256. The struct is public so that a digest can live on the stack or
 * inside another object (no allocation); its members are private to cdc_hash.c.
 */
typedef struct cdc_sha256_s {
    uint32_t h[8];
    uint64_t nbytes;         /* message bytes seen so far */
    unsigned char block[64]; /* partial block */
    size_t fill;             /* bytes in block */
} cdc_sha256_t;

/* Starts a digest. */
void cdc_sha256_init(cdc_sha256_t *s);

/* Adds len bytes (p may be NULL when len is 0). */
void cdc_sha256_update(cdc_sha256_t *s, const void *p, size_t len);

/* Writes the digest to out; s must be initialized again before reuse. */
void cdc_sha256_final(cdc_sha256_t *s, unsigned char out[CDC_SHA256_SIZE]);

/* One-shot SHA-256 of len bytes at p. */
void cdc_sha256(const void *p, size_t len, unsigned char out[CDC_SHA256_SIZE]);

/* Writes 2*n lowercase hex digits of bytes and a NUL into out (2*n+1 bytes). */
void cdc_hash_hex(const unsigned char *bytes, size_t n, char *out);

/* PostgreSQL's bytea text form of n bytes ("\\x" and hex digits), for text-format query
 * parameters; the caller frees the returned string. */
char *cdc_hash_bytea_text(const unsigned char *bytes, size_t n);

#endif
