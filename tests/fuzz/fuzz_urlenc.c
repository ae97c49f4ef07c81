/*
 * fuzz_urlenc.c — percent-decoding, AWS URI-encoding, S3 list encoding and query splitting.
 *
 * Invariants: decode(encode(x)) == x for every NUL-free x (with and without URLENC_KEEP_SLASH;
 * encode_s3list with '+' read as space); encodings hold only unreserved bytes, '%XY' (and '/'
 * or '+' when asked for) and are at most 3 * len; a decoded string is never longer than its input
 * and re-encodes to something that decodes back to it; query parsing gives non-empty,
 * NUL-terminated names, at most URLENC_QUERY_MAX_PARAMS pairs, and finds what it returned.
 */
#include "fuzz.h"

#include "cairn/err.h"
#include "cairn/urlenc.h"

#define FUZZ_MAX (64 * 1024)

static bool
fuzz_is_unreserved(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* Checks the shape of an encoding: unreserved bytes, "%XY" with uppercase hex, and the extras. */
static void
fuzz_check_encoded(const struct buf *b, bool slash, bool plus)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		uint8_t c = b->p[i];

		if (c == '%') {
			FUZZ_CHECK(i + 2 < b->len);
			FUZZ_CHECK(strchr("0123456789ABCDEF", b->p[i + 1]) && b->p[i + 1]);
			FUZZ_CHECK(strchr("0123456789ABCDEF", b->p[i + 2]) && b->p[i + 2]);
			i += 2;
			continue;
		}
		FUZZ_CHECK(fuzz_is_unreserved(c) || (slash && c == '/') || (plus && c == '+'));
	}
	FUZZ_CHECK(b->p[b->len] == 0);
}

/* encode with flags (or the s3list form), check it, decode it back, compare. */
static void
fuzz_round_trip(const char *s, size_t len, unsigned flags, bool s3list)
{
	struct buf enc, dec;
	bool has_nul = memchr(s, 0, len) != NULL;
	int rc;

	buf_init(&enc, 3 * len + 1);
	buf_init(&dec, 3 * len + 1); /* urlenc_decode() reserves its input's length up front */
	rc = s3list ? urlenc_encode_s3list(s, len, &enc) : urlenc_encode(s, len, flags, &enc);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(enc.len <= 3 * len);
	fuzz_check_encoded(&enc, s3list || (flags & URLENC_KEEP_SLASH), s3list);
	rc = urlenc_decode((const char *)enc.p, enc.len, s3list ? URLENC_PLUS_SPACE : 0, &dec);
	if (has_nul) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL);
	} else {
		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(fuzz_eq(dec.p, dec.len, s, len));
	}
	buf_fini(&dec);
	buf_fini(&enc);
}

/* Arbitrary input decoded; what decodes re-encodes and decodes to the same bytes. A too-small
 * output buffer fails cleanly. */
static void
fuzz_decode(const char *s, size_t len, unsigned flags)
{
	struct buf dec, enc, again, small;
	int rc;

	buf_init(&dec, len + 1);
	rc = urlenc_decode(s, len, flags, &dec);
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc == 0) {
		FUZZ_CHECK(dec.len <= len && memchr(dec.p, 0, dec.len) == NULL);
		buf_init(&enc, 3 * dec.len + 1);
		FUZZ_CHECK(urlenc_encode((const char *)dec.p, dec.len, 0, &enc) == 0);
		buf_init(&again, enc.len + 1);
		FUZZ_CHECK(urlenc_decode((const char *)enc.p, enc.len, 0, &again) == 0);
		FUZZ_CHECK(fuzz_eq(again.p, again.len, dec.p, dec.len));
		buf_fini(&again);
		buf_fini(&enc);
		if (dec.len > 0) {
			buf_init(&small, dec.len - 1);
			rc = urlenc_decode(s, len, flags, &small);
			FUZZ_CHECK(rc == CAIRN_E_TOOBIG);
			buf_fini(&small);
		}
	}
	buf_fini(&dec);
}

static void
fuzz_query(const char *s, size_t len)
{
	struct urlenc_query q;
	size_t i, total = 0;
	int rc = urlenc_query_parse(s, len, &q);

	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL || rc == CAIRN_E_TOOBIG);
	if (rc < 0)
		FUZZ_CHECK(q.n == 0 && q.v == NULL && q.storage == NULL);
	if (len > URLENC_QUERY_MAX_LEN)
		FUZZ_CHECK(rc == CAIRN_E_TOOBIG);
	FUZZ_CHECK(q.n <= URLENC_QUERY_MAX_PARAMS);
	for (i = 0; i < q.n; i++) {
		const struct kvpair *kv = &q.v[i], *found;

		FUZZ_CHECK(kv->name_len > 0 && kv->name[kv->name_len] == 0);
		FUZZ_CHECK(kv->value[kv->value_len] == 0);
		FUZZ_CHECK(strlen(kv->name) == kv->name_len && strlen(kv->value) == kv->value_len);
		total += kv->name_len + kv->value_len;
		found = urlenc_query_find(&q, kv->name);
		FUZZ_CHECK(found && found <= kv &&
			   fuzz_eq(found->name, found->name_len, kv->name, kv->name_len));
	}
	FUZZ_CHECK(total <= len);
	urlenc_query_fini(&q);
	urlenc_query_fini(&q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	if (size > FUZZ_MAX)
		return 0;
	fuzz_round_trip(s, size, 0, false);
	fuzz_round_trip(s, size, URLENC_KEEP_SLASH, false);
	fuzz_round_trip(s, size, 0, true);
	fuzz_decode(s, size, 0);
	fuzz_decode(s, size, URLENC_PLUS_SPACE);
	fuzz_query(s, size);
	return 0;
}
