#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/base64.h"
#include "cairn/err.h"

/* RFC 4648 §10 test vectors. */
static const struct {
	const char *raw;
	const char *enc;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void
test_encode_rfc4648(void **state)
{
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t n =
		    base64_encode((const uint8_t *)vectors[i].raw, strlen(vectors[i].raw), out);

		assert_int_equal(n, strlen(vectors[i].enc));
		assert_int_equal(n, BASE64_ENCODED_LEN(strlen(vectors[i].raw)));
		assert_string_equal(out, vectors[i].enc);
	}
}

static void
test_decode_rfc4648(void **state)
{
	uint8_t out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *e = vectors[i].enc;

		assert_int_equal(base64_decode(e, strlen(e), out, sizeof(out), &n), 0);
		assert_int_equal(n, strlen(vectors[i].raw));
		assert_memory_equal(out, vectors[i].raw, n);
	}
}

static void
test_roundtrip_all_bytes(void **state)
{
	uint8_t raw[256], back[256];
	char enc[BASE64_ENCODED_LEN(256) + 1];
	size_t len, n;

	(void)state;
	for (len = 0; len < 256; len++)
		raw[len] = (uint8_t)(255 - len);
	for (len = 0; len <= 256; len++) {
		size_t e = base64_encode(raw, len, enc);

		assert_int_equal(base64_decode(enc, e, back, sizeof(back), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(back, raw, len);
	}
}

static void
test_decode_rejects(void **state)
{
	static const char *bad[] = {
	    "Zg",	/* not a multiple of 4 */
	    "Zg=",	/* idem */
	    "Zh==",	/* non-zero unused bits */
	    "Zm9=",	/* non-zero unused bits (one pad) */
	    "Zg==Zg==", /* padding in the middle */
	    "Z===",	/* three pads */
	    "====",	/* only pads */
	    "Zm9v\n",	/* whitespace */
	    "Zm 9",	/* space */
	    "Zm-_",	/* url-safe alphabet */
	    "Zm9*",	/* junk */
	    "=m9v",	/* pad first */
	};
	uint8_t out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n),
				 CAIRN_E_INVAL);
}

static void
test_decode_bounds(void **state)
{
	uint8_t out[4];
	size_t n = 99;

	(void)state;
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5, &n), CAIRN_E_TOOBIG);
	assert_int_equal(base64_decode("Zm9vYg==", 8, out, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(base64_decode("Zm9vYg==", 8, out, 3, &n), CAIRN_E_TOOBIG);
	assert_int_equal(base64_decode("", 0, NULL, 0, &n), 0);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_rfc4648),	cmocka_unit_test(test_decode_rfc4648),
	    cmocka_unit_test(test_roundtrip_all_bytes), cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_decode_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
