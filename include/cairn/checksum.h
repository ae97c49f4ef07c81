/*
 * checksum.h — the S3 additional checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.
 *
 * Streaming contexts (init / update / final), one-shot helpers, algorithm names and header names,
 * and the wire form: x-amz-checksum-* headers and XML elements carry the base64 of the digest's
 * big-endian bytes (CRC32 0xE3069283 → bytes E3 06 92 83 → "4waSgw=="). CRC32 and CRC32C use
 * ISA-L; CRC64NVME (the NVMe CRC-64, reflected polynomial 0x9A6C9329AC4BC9B5, init and final XOR
 * all ones; check value of "123456789" is 0xAE8B14860A799888) is cairn's own table-driven code;
 * SHA1 and SHA256 use OpenSSL EVP.
 *
 * No I/O, no mutable globals (CRC tables are const). A context is used by one thread at a time.
 *
 * Multipart uploads: S3 reports a composite checksum for multipart objects (the checksum of the
 * concatenated part checksums, with a "-N" suffix: a plain checksum_compute() over the part
 * digests) or, for CRCs, a full-object checksum obtained by combining part CRCs
 * (checksum_crc_combine()).
 */
#ifndef CAIRN_CHECKSUM_H
#define CAIRN_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum checksum_algo {
	CHECKSUM_NONE = 0,
	CHECKSUM_CRC32,
	CHECKSUM_CRC32C,
	CHECKSUM_CRC64NVME,
	CHECKSUM_SHA1,
	CHECKSUM_SHA256,
	CHECKSUM_COUNT /* not an algorithm */
};

#define CHECKSUM_MAX_LEN 32  /* largest digest (SHA256), bytes */
#define CHECKSUM_B64_SIZE 45 /* base64 of 32 bytes (44 chars) plus NUL */

struct checksum_ctx {
	/* private */
	enum checksum_algo algo;
	uint32_t crc32;
	uint64_t crc64;
	void *md; /* EVP_MD_CTX for SHA1 / SHA256 */
};

/* Parses an algorithm name as in x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm
 * ("CRC32", "crc32c", "CRC64NVME", "SHA1", "SHA256"; case-insensitive, exact length). Returns 0
 * with *out set, or CAIRN_E_INVAL (→ S3E_INVALID_REQUEST). */
int checksum_algo_parse(const char *name, size_t len, enum checksum_algo *out);

/* The canonical upper-case name ("CRC64NVME"), or "" for CHECKSUM_NONE / out of range. Static. */
const char *checksum_algo_name(enum checksum_algo a);

/* The request/response header name ("x-amz-checksum-crc32"), or NULL for CHECKSUM_NONE / out of
 * range. Static. */
const char *checksum_algo_header(enum checksum_algo a);

/* The XML element name in CompleteMultipartUpload / GetObjectAttributes ("ChecksumCRC32"), or
 * NULL for CHECKSUM_NONE / out of range. Static. */
const char *checksum_algo_xml(enum checksum_algo a);

/* Maps a header name (case-insensitive, e.g. "X-Amz-Checksum-SHA256") to its algorithm. Returns 0
 * with *out set, or CAIRN_E_NOTFOUND when name is not an x-amz-checksum-<algo> header. */
int checksum_algo_from_header(const char *name, size_t len, enum checksum_algo *out);

/* Digest length in bytes: 4, 4, 8, 20, 32; 0 for CHECKSUM_NONE / out of range. */
size_t checksum_algo_len(enum checksum_algo a);

/* Starts a checksum. CHECKSUM_NONE gives a context whose final digest is empty. Aborts if
 * OpenSSL cannot allocate its context (SHA1/SHA256); returns nothing. a out of range aborts. */
void checksum_init(struct checksum_ctx *c, enum checksum_algo a);

/* Adds p[0..len) (len may be 0, p may then be NULL). */
void checksum_update(struct checksum_ctx *c, const void *p, size_t len);

/* Finishes: writes checksum_algo_len() bytes (big-endian for CRCs) into out and returns that
 * length. Releases the context's resources; the context must be re-initialised before reuse. */
size_t checksum_final(struct checksum_ctx *c, uint8_t out[CHECKSUM_MAX_LEN]);

/* Releases an unfinished context (abandoned upload). Safe after checksum_final() and twice. */
void checksum_fini(struct checksum_ctx *c);

/* One-shot digest of p[0..len); returns the digest length. */
size_t checksum_compute(enum checksum_algo a, const void *p, size_t len,
			uint8_t out[CHECKSUM_MAX_LEN]);

/* Raw CRC primitives, chainable: pass the previous return value as crc (0 to start), e.g.
 * checksum_crc32(checksum_crc32(0, "1234", 4), "56789", 5) == checksum_crc32(0, "123456789", 9)
 * == 0xCBF43926. CRC32C of "123456789" is 0xE3069283. */
uint32_t checksum_crc32(uint32_t crc, const void *p, size_t len);
uint32_t checksum_crc32c(uint32_t crc, const void *p, size_t len);
uint64_t checksum_crc64nvme(uint64_t crc, const void *p, size_t len);

/* ---- multipart: combining part checksums ---- */

/* Combines CRCs of consecutive byte strings: given crc1 = CRC(A) and crc2 = CRC(B) where B is
 * len2 bytes long, returns CRC(A || B) without the bytes (GF(2) polynomial arithmetic: crc1 is
 * multiplied by x^(8 * len2) modulo the polynomial). a is CHECKSUM_CRC32, CHECKSUM_CRC32C or
 * CHECKSUM_CRC64NVME and the CRCs are the values checksum_crc32/crc32c/crc64nvme() return (and
 * checksum_digest_to_crc() extracts); any other a returns 0. About 64 * log2(len2) steps. */
uint64_t checksum_crc_combine(enum checksum_algo a, uint64_t crc1, uint64_t crc2, uint64_t len2);

/* The CRC value of a CRC digest d (the big-endian bytes checksum_final() writes): 4 bytes for
 * CRC32/CRC32C, 8 for CRC64NVME. 0 for other algorithms. */
uint64_t checksum_digest_to_crc(enum checksum_algo a, const uint8_t *d);

/* Writes crc as the digest of algorithm a (big-endian, checksum_algo_len(a) bytes) into out and
 * returns that length (0 for non-CRC algorithms). */
size_t checksum_crc_to_digest(enum checksum_algo a, uint64_t crc, uint8_t out[CHECKSUM_MAX_LEN]);

/* Writes base64(d[0..len)) and a NUL into out[CHECKSUM_B64_SIZE]; len <= CHECKSUM_MAX_LEN. */
void checksum_to_base64(const uint8_t *d, size_t len, char out[CHECKSUM_B64_SIZE]);

/* Decodes a header/XML value s[0..len) for algorithm a into out. Returns 0 with the digest in
 * out[0..checksum_algo_len(a)), or CAIRN_E_INVAL when s is not strict base64 of exactly that many
 * bytes (→ S3E_INVALID_REQUEST, "Value for x-amz-checksum-… header is invalid."). */
int checksum_from_base64(enum checksum_algo a, const char *s, size_t len,
			 uint8_t out[CHECKSUM_MAX_LEN]);

#endif
