#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "cairn/hex.h"
#include "cairn/md5sha.h"

#include "test_data.h"

/* Reference digests from OpenSSL. */
static void
ref_digest(const EVP_MD *md, const uint8_t *p, size_t len, uint8_t *out)
{
	unsigned int n = 0;

	assert_true(EVP_Digest(p, len, out, &n, md, NULL));
}

/* MD5 of p[len] through md5_blocks for the whole blocks and md5_final for the rest. */
static void
own_md5(const uint8_t *p, size_t len, uint8_t out[16])
{
	struct md5_state s;
	size_t whole = len / MD5SHA_BLOCK;

	md5_init(&s);
	md5_blocks(&s, p, whole);
	md5_final(&s, p + whole * MD5SHA_BLOCK, len - whole * MD5SHA_BLOCK, out);
}

static void
test_md5_rfc1321(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
	    {"", "d41d8cd98f00b204e9800998ecf8427e"},
	    {"a", "0cc175b9c0f1b6a831c399e269772661"},
	    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
	    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
	    {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	     "57edf4a22be3c955ac49da2e2107b67a"},
	};
	uint8_t out[16];
	char hex[33];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		own_md5((const uint8_t *)v[i].in, strlen(v[i].in), out);
		hex_encode(out, 16, hex);
		assert_string_equal(hex, v[i].hex);
	}
}

/* Every length 0..300 (each padding case: tails of 0-55 bytes fit one block, 56-63 need two)
 * and some long ones, whole blocks first or everything through md5_final. */
static void
test_md5_matches_openssl(void **state)
{
	static const size_t longs[] = {4096, 65535, 65536, 65537, 1000003};
	uint8_t *buf = malloc(1000003), want[16], got[16];
	struct md5_state s;

	(void)state;
	assert_non_null(buf);
	test_fill(buf, 1000003, 1);
	for (size_t len = 0; len <= 300; len++) {
		ref_digest(EVP_md5(), buf, len, want);
		own_md5(buf, len, got);
		assert_memory_equal(got, want, 16);
		md5_init(&s);
		md5_final(&s, buf, len, got);
		assert_memory_equal(got, want, 16);
	}
	for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
		ref_digest(EVP_md5(), buf, longs[i], want);
		own_md5(buf, longs[i], got);
		assert_memory_equal(got, want, 16);
	}
	free(buf);
}

static void
test_sha256_matches_openssl(void **state)
{
	uint8_t *buf = malloc(200000), want[32], got[32];
	struct sha256_state s;

	(void)state;
	if (!md5sha_stitched_available())
		skip();
	assert_non_null(buf);
	test_fill(buf, 200000, 2);
	for (size_t i = 0; i <= 303; i++) {
		size_t len = i <= 300 ? i : (i == 301 ? 65536 : (i == 302 ? 131071 : 199999));
		size_t whole = len / MD5SHA_BLOCK;

		ref_digest(EVP_sha256(), buf, len, want);
		sha256_init(&s);
		sha256_blocks(&s, buf, whole);
		sha256_final(&s, buf + whole * MD5SHA_BLOCK, len - whole * MD5SHA_BLOCK, got);
		assert_memory_equal(got, want, 32);
		sha256_init(&s);
		sha256_final(&s, buf, len, got);
		assert_memory_equal(got, want, 32);
	}
	free(buf);
}

/* The stitched loop gives both digests exactly, for two unrelated streams at unaligned places,
 * whatever way the blocks are split between calls. */
static void
test_stitched_equals_separate(void **state)
{
	enum { LEN = 70000 };
	uint8_t *a = malloc(LEN + 3), *b = malloc(LEN + 5), want_m[16], want_s[32], m[16], s[32];
	struct md5_state ms;
	struct sha256_state ss;

	(void)state;
	if (!md5sha_stitched_available())
		skip();
	assert_non_null(a);
	assert_non_null(b);
	test_fill(a, LEN + 3, 3);
	test_fill(b, LEN + 5, 4);
	for (size_t len = 0; len <= LEN; len = len * 3 + 61) {
		size_t whole = len / MD5SHA_BLOCK, done = 0, step = 1;

		ref_digest(EVP_md5(), a + 3, len, want_m);
		ref_digest(EVP_sha256(), b + 5, len, want_s);
		md5_init(&ms);
		sha256_init(&ss);
		while (done < whole) {
			size_t n = step < whole - done ? step : whole - done;

			md5sha_blocks(&ms, a + 3 + done * 64, &ss, b + 5 + done * 64, n);
			done += n;
			step = step * 2 + 1;
		}
		md5_final(&ms, a + 3 + whole * 64, len - whole * 64, m);
		sha256_final(&ss, b + 5 + whole * 64, len - whole * 64, s);
		assert_memory_equal(m, want_m, 16);
		assert_memory_equal(s, want_s, 32);
	}
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_md5_rfc1321),
	    cmocka_unit_test(test_md5_matches_openssl),
	    cmocka_unit_test(test_sha256_matches_openssl),
	    cmocka_unit_test(test_stitched_equals_separate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
