/*
 * fuzz_checksum.c — the streaming checksums and their wire forms.
 *
 * Input: 4 bytes of piece lengths (used in turn, 0 allowed), then the data. Invariants, for every
 * algorithm: streaming the data in those pieces gives the one-shot digest (split invariance);
 * the raw CRC primitives chain across a split and agree with a bitwise reference CRC written here
 * from the polynomials (CRC32 0xEDB88320, CRC32C 0x82F63B78, CRC64NVME 0x9A6C9329AC4BC9B5, all
 * reflected, init and final XOR all ones) and checksum_crc_combine() joins the CRCs of the two
 * halves into the CRC of the whole; digests survive base64 and back; a checksum header
 * value that decodes re-encodes to itself; algorithm and header names parse only to names that
 * match them.
 */
#include <strings.h>

#include "fuzz.h"

#include "cairn/checksum.h"
#include "cairn/err.h"

#define FUZZ_REF_MAX 4096 /* bytes checked against the bitwise CRCs */

static uint64_t
fuzz_ref_crc(uint64_t poly, unsigned bits, const uint8_t *p, size_t len)
{
	uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1, crc = mask;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? poly : 0);
	}
	return ~crc & mask;
}

/* Streams data in the given piece lengths and compares with the one-shot digest. */
static void
fuzz_stream(enum checksum_algo a, const uint8_t lens[4], const uint8_t *p, size_t len)
{
	struct checksum_ctx c;
	uint8_t one[CHECKSUM_MAX_LEN], streamed[CHECKSUM_MAX_LEN], dec[CHECKSUM_MAX_LEN];
	char b64[CHECKSUM_B64_SIZE];
	size_t off = 0, i = 0, n = checksum_compute(a, p, len, one);
	bool all_zero = !(lens[0] | lens[1] | lens[2] | lens[3]);

	FUZZ_CHECK(n == checksum_algo_len(a));
	checksum_init(&c, a);
	while (off < len) {
		size_t piece = all_zero ? 1 : lens[i++ % 4];

		if (piece > len - off)
			piece = len - off;
		checksum_update(&c, p + off, piece);
		off += piece;
	}
	FUZZ_CHECK(checksum_final(&c, streamed) == n);
	checksum_fini(&c); /* safe after final */
	FUZZ_CHECK(fuzz_eq(one, n, streamed, n));
	if (n == 0)
		return;
	checksum_to_base64(one, n, b64);
	FUZZ_CHECK(checksum_from_base64(a, b64, strlen(b64), dec) == 0);
	FUZZ_CHECK(fuzz_eq(dec, n, one, n));
}

/* CRC(A || B) from CRC(A), CRC(B) and len(B), as multipart full-object checksums are built;
 * and the CRC survives its digest form. */
static void
fuzz_combine(enum checksum_algo a, uint64_t whole, uint64_t crc1, uint64_t crc2, uint64_t len2)
{
	uint8_t d[CHECKSUM_MAX_LEN];

	FUZZ_CHECK(checksum_crc_combine(a, crc1, crc2, len2) == whole);
	FUZZ_CHECK(checksum_crc_to_digest(a, whole, d) == checksum_algo_len(a));
	FUZZ_CHECK(checksum_digest_to_crc(a, d) == whole);
}

static void
fuzz_crcs(const uint8_t *p, size_t len, size_t cut)
{
	uint32_t c32 = checksum_crc32(0, p, len), c32c = checksum_crc32c(0, p, len);
	uint64_t c64 = checksum_crc64nvme(0, p, len);

	FUZZ_CHECK(checksum_crc32(checksum_crc32(0, p, cut), p + cut, len - cut) == c32);
	FUZZ_CHECK(checksum_crc32c(checksum_crc32c(0, p, cut), p + cut, len - cut) == c32c);
	FUZZ_CHECK(checksum_crc64nvme(checksum_crc64nvme(0, p, cut), p + cut, len - cut) == c64);
	fuzz_combine(CHECKSUM_CRC32, c32, checksum_crc32(0, p, cut),
		     checksum_crc32(0, p + cut, len - cut), len - cut);
	fuzz_combine(CHECKSUM_CRC32C, c32c, checksum_crc32c(0, p, cut),
		     checksum_crc32c(0, p + cut, len - cut), len - cut);
	fuzz_combine(CHECKSUM_CRC64NVME, c64, checksum_crc64nvme(0, p, cut),
		     checksum_crc64nvme(0, p + cut, len - cut), len - cut);
	if (len > FUZZ_REF_MAX)
		return;
	FUZZ_CHECK(c32 == fuzz_ref_crc(0xEDB88320u, 32, p, len));
	FUZZ_CHECK(c32c == fuzz_ref_crc(0x82F63B78u, 32, p, len));
	FUZZ_CHECK(c64 == fuzz_ref_crc(0x9A6C9329AC4BC9B5ull, 64, p, len));
}

/* The data as a name, a header name and a base64 checksum value. */
static void
fuzz_names(const char *s, size_t len)
{
	enum checksum_algo a;
	uint8_t d[CHECKSUM_MAX_LEN];
	char b64[CHECKSUM_B64_SIZE];
	int rc;

	if (checksum_algo_parse(s, len, &a) == 0)
		FUZZ_CHECK(strlen(checksum_algo_name(a)) == len &&
			   strncasecmp(checksum_algo_name(a), s, len) == 0);
	rc = checksum_algo_from_header(s, len, &a);
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_NOTFOUND);
	if (rc == 0)
		FUZZ_CHECK(strlen(checksum_algo_header(a)) == len &&
			   strncasecmp(checksum_algo_header(a), s, len) == 0);
	for (a = CHECKSUM_NONE; a < CHECKSUM_COUNT; a++) {
		rc = checksum_from_base64(a, s, len, d);
		FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
		if (rc < 0)
			continue;
		checksum_to_base64(d, checksum_algo_len(a), b64);
		FUZZ_CHECK(fuzz_eq(b64, strlen(b64), s, len));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t lens[4] = {0, 0, 0, 0};
	enum checksum_algo a;

	if (size > 256 * 1024)
		return 0;
	fuzz_names((const char *)data, size);
	if (size < 4)
		return 0;
	memcpy(lens, data, 4);
	for (a = CHECKSUM_NONE; a < CHECKSUM_COUNT; a++)
		fuzz_stream(a, lens, data + 4, size - 4);
	fuzz_crcs(data + 4, size - 4, (size_t)(lens[0] | lens[1] << 8) % (size - 4 + 1));
	return 0;
}
