/*
 * fuzz_base64.c — base64_decode() on arbitrary text, and both round trips: a strict decoder
 * accepts exactly one encoding per byte string, so decode(s) == x implies encode(x) == s, and
 * decode(encode(x)) == x for every x.
 */
#include "fuzz.h"

#include "cairn/base64.h"
#include "cairn/err.h"

/* Every decodable s is the encoding of what it decodes to. */
static void
fuzz_decode_then_encode(const char *s, size_t len)
{
	size_t max = BASE64_DECODED_MAX(len), n = 0;
	uint8_t *dec = malloc(max ? max : 1);
	char *enc;
	int rc;

	if (!dec)
		abort();
	rc = base64_decode(s, len, dec, max, &n);
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc == 0) {
		FUZZ_CHECK(n <= max);
		enc = malloc(BASE64_ENCODED_LEN(n) + 1);
		if (!enc)
			abort();
		FUZZ_CHECK(base64_encode(dec, n, enc) == len);
		FUZZ_CHECK(fuzz_eq(enc, len, s, len));
		free(enc);
		/* One byte short of room must be refused, never overrun. */
		if (n > 0)
			FUZZ_CHECK(base64_decode(s, len, dec, n - 1, &n) == CAIRN_E_TOOBIG);
	}
	free(dec);
}

/* decode(encode(x)) == x. */
static void
fuzz_encode_then_decode(const uint8_t *p, size_t len)
{
	size_t elen = BASE64_ENCODED_LEN(len), n = 0;
	char *enc = malloc(elen + 1);
	uint8_t *dec = malloc(len ? len : 1);

	if (!enc || !dec)
		abort();
	FUZZ_CHECK(base64_encode(p, len, enc) == elen);
	FUZZ_CHECK(enc[elen] == 0);
	FUZZ_CHECK(base64_decode(enc, elen, dec, len, &n) == 0);
	FUZZ_CHECK(fuzz_eq(dec, n, p, len));
	free(dec);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode_then_encode((const char *)data, size);
	fuzz_encode_then_decode(data, size);
	return 0;
}
