/*
 * md5sha.h — MD5 and SHA-256 block functions, and the two computed together ("stitched") over
 * two byte streams at once.
 *
 * A put hashes every body byte twice: MD5 over the whole body (the ETag) and SHA-256 over each
 * chunk (its id). Both are serial chains of dependent instructions, MD5 on the integer units and
 * SHA-256 (with the CPU's SHA extensions) on the vector units, so one loop that interleaves a
 * block of each runs both in about the time of the MD5 alone: on the bench machine 0.73 GB/s
 * for the pair against 0.52 GB/s for OpenSSL's MD5 then SHA-256 (docs/performance.md).
 *
 * The caller drives whole 64-byte blocks and keeps the count; the final functions pad. The two
 * streams may be any two places in memory (a put's MD5 runs at body offsets, a chunk's SHA-256
 * at chunk offsets). Pure functions over caller-owned state: no allocation, no globals except
 * the CPU feature test's cached answer and the tests' switch, safe on any thread.
 */
#ifndef CAIRN_MD5SHA_H
#define CAIRN_MD5SHA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MD5SHA_BLOCK 64

struct md5_state {
	uint32_t h[4];
	uint64_t nbytes; /* bytes hashed so far (whole blocks) */
};

struct sha256_state {
	uint32_t h[8];
	uint64_t nbytes;
};

void md5_init(struct md5_state *s);
/* Hashes nblocks 64-byte blocks at p (portable C; as fast as OpenSSL's assembly here). */
void md5_blocks(struct md5_state *s, const uint8_t *p, size_t nblocks);
/* Hashes the last len bytes at tail (any length), pads and writes the digest to out. s is spent. */
void md5_final(struct md5_state *s, const uint8_t *tail, size_t len, uint8_t out[16]);

/* True when this CPU has the SHA extensions (x86-64 SHA-NI) that the functions below need, and
 * they are not switched off; never call them otherwise (chunk_id_compute() is the portable
 * SHA-256). */
bool md5sha_stitched_available(void);
/* Tests: false makes md5sha_stitched_available() answer false, so that the portable path runs
 * on any CPU; true (the default) uses the extensions where present. Not for concurrent use. */
void md5sha_use_extensions(bool use);

void sha256_init(struct sha256_state *s);
void sha256_blocks(struct sha256_state *s, const uint8_t *p, size_t nblocks);
void sha256_final(struct sha256_state *s, const uint8_t *tail, size_t len, uint8_t out[32]);

/* md5_blocks(m, p, nblocks) and sha256_blocks(s, q, nblocks) in one interleaved loop. */
void md5sha_blocks(struct md5_state *m, const uint8_t *p, struct sha256_state *s, const uint8_t *q,
		   size_t nblocks);

#endif
