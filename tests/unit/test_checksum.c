#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/checksum.h"
#include "cairn/err.h"
#include "cairn/hex.h"

static const char check[] = "123456789";

static void
b64_of(enum checksum_algo a, const void *p, size_t len, char out[CHECKSUM_B64_SIZE])
{
	uint8_t d[CHECKSUM_MAX_LEN];
	size_t n = checksum_compute(a, p, len, d);

	assert_int_equal(n, checksum_algo_len(a));
	checksum_to_base64(d, n, out);
}

static void
test_check_values(void **state)
{
	char b64[CHECKSUM_B64_SIZE];
	uint8_t d[CHECKSUM_MAX_LEN];
	char hex[2 * CHECKSUM_MAX_LEN + 1];

	(void)state;
	assert_int_equal(checksum_crc32(0, check, 9), 0xCBF43926u);
	assert_int_equal(checksum_crc32c(0, check, 9), 0xE3069283u);
	assert_true(checksum_crc64nvme(0, check, 9) == 0xAE8B14860A799888ull);
	assert_int_equal(checksum_crc32(0, "", 0), 0);
	assert_int_equal(checksum_crc32c(0, "", 0), 0);
	assert_true(checksum_crc64nvme(0, "", 0) == 0);
	b64_of(CHECKSUM_CRC32, check, 9, b64);
	assert_string_equal(b64, "y/Q5Jg==");
	b64_of(CHECKSUM_CRC32C, check, 9, b64);
	assert_string_equal(b64, "4waSgw==");
	b64_of(CHECKSUM_CRC64NVME, check, 9, b64);
	assert_string_equal(b64, "rosUhgp5mIg=");
	b64_of(CHECKSUM_CRC32, "", 0, b64);
	assert_string_equal(b64, "AAAAAA==");
	assert_int_equal(checksum_compute(CHECKSUM_SHA1, "abc", 3, d), 20);
	hex_encode(d, 20, hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_int_equal(checksum_compute(CHECKSUM_SHA256, "abc", 3, d), 32);
	hex_encode(d, 32, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	b64_of(CHECKSUM_SHA256, "", 0, b64);
	assert_string_equal(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	assert_int_equal(checksum_compute(CHECKSUM_NONE, "abc", 3, d), 0);
}

/* The AWS trailing-checksum example: 66560 bytes of 'a' have CRC32C "sOO8/Q==". */
static void
test_aws_example(void **state)
{
	char *a = malloc(66560);
	char b64[CHECKSUM_B64_SIZE];

	(void)state;
	memset(a, 'a', 66560);
	b64_of(CHECKSUM_CRC32C, a, 66560, b64);
	assert_string_equal(b64, "sOO8/Q==");
	free(a);
}

/* Bit-at-a-time CRC-64/NVME straight from the definition, for comparison. */
static uint64_t
crc64_bitwise(const uint8_t *p, size_t len)
{
	uint64_t c = ~0ull;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x9A6C9329AC4BC9B5ull : c >> 1;
	}
	return ~c;
}

static void
test_crc64_against_bitwise(void **state)
{
	uint8_t buf[1031];
	size_t i, len;
	uint32_t x = 12345;

	(void)state;
	for (i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (len = 0; len < 40; len++)
		assert_true(checksum_crc64nvme(0, buf, len) == crc64_bitwise(buf, len));
	/* Unaligned starts and odd lengths through the 8-byte path. */
	for (i = 0; i < 9; i++)
		assert_true(checksum_crc64nvme(0, buf + i, sizeof(buf) - i) ==
			    crc64_bitwise(buf + i, sizeof(buf) - i));
}

/* Splitting the input anywhere gives the same result as one pass, for every algorithm. */
static void
test_streaming_splits(void **state)
{
	uint8_t buf[4099], one[CHECKSUM_MAX_LEN], many[CHECKSUM_MAX_LEN];
	size_t i, split;
	int a;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	for (a = CHECKSUM_NONE; a < CHECKSUM_COUNT; a++) {
		size_t n = checksum_compute((enum checksum_algo)a, buf, sizeof(buf), one);

		for (split = 0; split <= sizeof(buf); split += 409) {
			struct checksum_ctx c;

			checksum_init(&c, (enum checksum_algo)a);
			checksum_update(&c, buf, split);
			checksum_update(&c, NULL, 0);
			for (i = split; i < sizeof(buf); i += 3)
				checksum_update(&c, buf + i,
						sizeof(buf) - i < 3 ? sizeof(buf) - i : 3);
			assert_int_equal(checksum_final(&c, many), n);
			assert_memory_equal(one, many, n);
			checksum_fini(&c);
		}
	}
	/* Chaining the raw CRC functions. */
	assert_int_equal(checksum_crc32(checksum_crc32(0, check, 4), check + 4, 5), 0xCBF43926u);
	assert_int_equal(checksum_crc32c(checksum_crc32c(0, check, 4), check + 4, 5), 0xE3069283u);
	assert_true(checksum_crc64nvme(checksum_crc64nvme(0, check, 3), check + 3, 6) ==
		    0xAE8B14860A799888ull);
}

static void
test_abandon(void **state)
{
	struct checksum_ctx c;

	(void)state;
	checksum_init(&c, CHECKSUM_SHA256);
	checksum_update(&c, "x", 1);
	checksum_fini(&c);
	checksum_fini(&c);
}

static void
test_names(void **state)
{
	enum checksum_algo a = CHECKSUM_NONE;

	(void)state;
	assert_int_equal(checksum_algo_parse("CRC32", 5, &a), 0);
	assert_int_equal(a, CHECKSUM_CRC32);
	assert_int_equal(checksum_algo_parse("crc32c", 6, &a), 0);
	assert_int_equal(a, CHECKSUM_CRC32C);
	assert_int_equal(checksum_algo_parse("Crc64Nvme", 9, &a), 0);
	assert_int_equal(a, CHECKSUM_CRC64NVME);
	assert_int_equal(checksum_algo_parse("sha1", 4, &a), 0);
	assert_int_equal(a, CHECKSUM_SHA1);
	assert_int_equal(checksum_algo_parse("SHA256", 6, &a), 0);
	assert_int_equal(a, CHECKSUM_SHA256);
	assert_int_equal(checksum_algo_parse("CRC3", 4, &a), CAIRN_E_INVAL);
	assert_int_equal(checksum_algo_parse("CRC32CC", 7, &a), CAIRN_E_INVAL);
	assert_int_equal(checksum_algo_parse("", 0, &a), CAIRN_E_INVAL);
	assert_int_equal(checksum_algo_parse("MD5", 3, &a), CAIRN_E_INVAL);
	assert_string_equal(checksum_algo_name(CHECKSUM_CRC64NVME), "CRC64NVME");
	assert_string_equal(checksum_algo_name(CHECKSUM_NONE), "");
	assert_string_equal(checksum_algo_name((enum checksum_algo)99), "");
	assert_string_equal(checksum_algo_header(CHECKSUM_SHA1), "x-amz-checksum-sha1");
	assert_null(checksum_algo_header(CHECKSUM_NONE));
	assert_null(checksum_algo_header((enum checksum_algo)99));
	assert_string_equal(checksum_algo_xml(CHECKSUM_CRC32C), "ChecksumCRC32C");
	assert_null(checksum_algo_xml(CHECKSUM_NONE));
	assert_int_equal(checksum_algo_from_header("X-Amz-Checksum-SHA256", 21, &a), 0);
	assert_int_equal(a, CHECKSUM_SHA256);
	assert_int_equal(checksum_algo_from_header("x-amz-checksum-crc32", 20, &a), 0);
	assert_int_equal(a, CHECKSUM_CRC32);
	assert_int_equal(checksum_algo_from_header("x-amz-checksum-type", 19, &a),
			 CAIRN_E_NOTFOUND);
	assert_int_equal(checksum_algo_from_header("x-amz-checksum-algorithm", 24, &a),
			 CAIRN_E_NOTFOUND);
	assert_int_equal(checksum_algo_len(CHECKSUM_CRC32), 4);
	assert_int_equal(checksum_algo_len(CHECKSUM_CRC32C), 4);
	assert_int_equal(checksum_algo_len(CHECKSUM_CRC64NVME), 8);
	assert_int_equal(checksum_algo_len(CHECKSUM_SHA1), 20);
	assert_int_equal(checksum_algo_len(CHECKSUM_SHA256), 32);
	assert_int_equal(checksum_algo_len(CHECKSUM_NONE), 0);
	assert_int_equal(checksum_algo_len(CHECKSUM_COUNT), 0);
}

static void
test_from_base64(void **state)
{
	uint8_t d[CHECKSUM_MAX_LEN];

	(void)state;
	assert_int_equal(checksum_from_base64(CHECKSUM_CRC32, "y/Q5Jg==", 8, d), 0);
	assert_int_equal(d[0], 0xCB);
	assert_int_equal(d[3], 0x26);
	assert_int_equal(checksum_from_base64(CHECKSUM_CRC64NVME, "rosUhgp5mIg=", 12, d), 0);
	assert_int_equal(d[0], 0xAE);
	assert_int_equal(checksum_from_base64(CHECKSUM_SHA256,
					      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 44,
					      d),
			 0);
	/* Wrong length for the algorithm, bad base64, non-canonical bits, NONE. */
	assert_int_equal(checksum_from_base64(CHECKSUM_CRC32, "rosUhgp5mIg=", 12, d),
			 CAIRN_E_INVAL);
	assert_int_equal(checksum_from_base64(CHECKSUM_CRC32, "y/Q5Jg=", 7, d), CAIRN_E_INVAL);
	assert_int_equal(checksum_from_base64(CHECKSUM_CRC32, "y/Q5Jh==", 8, d), CAIRN_E_INVAL);
	assert_int_equal(checksum_from_base64(CHECKSUM_CRC32, "y/Q5J===", 8, d), CAIRN_E_INVAL);
	assert_int_equal(checksum_from_base64(CHECKSUM_CRC32, "y/Q5Jg!=", 8, d), CAIRN_E_INVAL);
	assert_int_equal(checksum_from_base64(CHECKSUM_NONE, "", 0, d), CAIRN_E_INVAL);
	assert_int_equal(checksum_from_base64(CHECKSUM_SHA1, "y/Q5Jg==", 8, d), CAIRN_E_INVAL);
}

/* checksum_crc_combine: CRC(A || B) from CRC(A), CRC(B) and |B|, for every split of a buffer,
 * including empty halves and a long B (many squarings). */
static void
test_crc_combine(void **state)
{
	static const enum checksum_algo algos[] = {CHECKSUM_CRC32, CHECKSUM_CRC32C,
						   CHECKSUM_CRC64NVME};
	static uint8_t buf[70000];
	uint8_t d[CHECKSUM_MAX_LEN];
	size_t i, a, splits[] = {0, 1, 7, 8, 9, 100, 4096, 65535, 69999, 70000};
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (a = 0; a < 3; a++) {
		enum checksum_algo al = algos[a];
		uint64_t whole;

		checksum_compute(al, buf, sizeof(buf), d);
		whole = checksum_digest_to_crc(al, d);
		for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
			size_t s = splits[i];
			uint64_t c1, c2;

			checksum_compute(al, buf, s, d);
			c1 = checksum_digest_to_crc(al, d);
			checksum_compute(al, buf + s, sizeof(buf) - s, d);
			c2 = checksum_digest_to_crc(al, d);
			assert_true(checksum_crc_combine(al, c1, c2, sizeof(buf) - s) == whole);
		}
		assert_int_equal(checksum_crc_to_digest(al, whole, d), checksum_algo_len(al));
		assert_true(checksum_digest_to_crc(al, d) == whole);
	}
	assert_true(checksum_crc_combine(CHECKSUM_SHA256, 1, 2, 3) == 0);
	assert_int_equal(checksum_crc_to_digest(CHECKSUM_SHA1, 5, d), 0);
	/* The check values: "1234" + "56789". */
	assert_true(checksum_crc_combine(CHECKSUM_CRC32, checksum_crc32(0, "1234", 4),
					 checksum_crc32(0, "56789", 5), 5) == 0xCBF43926u);
	assert_true(checksum_crc_combine(CHECKSUM_CRC64NVME, checksum_crc64nvme(0, "1234", 4),
					 checksum_crc64nvme(0, "56789", 5),
					 5) == 0xAE8B14860A799888ull);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_values),
	    cmocka_unit_test(test_aws_example),
	    cmocka_unit_test(test_crc64_against_bitwise),
	    cmocka_unit_test(test_streaming_splits),
	    cmocka_unit_test(test_abandon),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_from_base64),
	    cmocka_unit_test(test_crc_combine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
