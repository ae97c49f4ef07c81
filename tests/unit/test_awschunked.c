#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/awschunked.h"
#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/sigv4.h"

/* The AWS examples "Signature Calculations for the Authorization Header: Transferring Payload in
 * Multiple Chunks" and "... Including Trailing Headers": 65536 + 1024 bytes of 'a'. */
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_DATE "20130524T000000Z"
#define SEED_SIGNED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SEED_TRAILER "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"

static const char *const sigs_signed[3] = {
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
};
static const char *const sigs_trailer[3] = {
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
};
#define TRAILER_SIG "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"

static uint8_t doc_key[SIGV4_KEY_LEN];

static void
doc_auth(struct sigv4_auth *a, const char *seed)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->access_key, sizeof(a->access_key), "%s", "AKIAIOSFODNN7EXAMPLE");
	snprintf(a->date, sizeof(a->date), "%s", "20130524");
	snprintf(a->region, sizeof(a->region), "%s", "us-east-1");
	snprintf(a->service, sizeof(a->service), "%s", "s3");
	snprintf(a->amz_date, sizeof(a->amz_date), "%s", DOC_DATE);
	assert_int_equal(hex_decode(seed, SIGV4_KEY_LEN, a->signature), 0);
}

/* Builds the example body: chunk headers with sigs[] ("" entries give unsigned headers). */
static void
doc_body(struct buf *b, const char *const sigs[3], const char *tail)
{
	static const size_t sizes[3] = {65536, 1024, 0};
	size_t i, k;

	buf_init(b, 1 << 20);
	for (i = 0; i < 3; i++) {
		if (sigs)
			buf_printf(b, "%zx;chunk-signature=%s\r\n", sizes[i], sigs[i]);
		else
			buf_printf(b, "%zx\r\n", sizes[i]);
		for (k = 0; k < sizes[i]; k++)
			buf_append(b, "a", 1);
		if (i < 2)
			buf_append(b, "\r\n", 2);
	}
	buf_append_str(b, tail);
}

static int
collect(void *ctx, const uint8_t *p, size_t len)
{
	return buf_append(ctx, p, len);
}

/* Feeds body in slices of step bytes (0: all at once); returns the first error or finish(). */
static int
run(struct awschunked *d, const struct buf *body, size_t step, struct buf *out)
{
	size_t off = 0;
	int rc;

	buf_init(out, 1 << 20);
	while (off < body->len) {
		size_t n = step && body->len - off > step ? step : body->len - off;

		rc = awschunked_feed(d, body->p + off, n, collect, out);
		if (rc < 0)
			return rc;
		off += n;
	}
	return awschunked_finish(d);
}

static void
check_all_a(const struct buf *out, size_t n)
{
	size_t i;

	assert_int_equal(out->len, n);
	for (i = 0; i < n; i++) {
		if (out->p[i] != 'a')
			fail_msg("byte %zu is %02x", i, out->p[i]);
	}
}

static int
setup(void **state)
{
	(void)state;
	sigv4_signing_key(DOC_SECRET, strlen(DOC_SECRET), "20130524", "us-east-1", "s3", doc_key);
	return 0;
}

static void
test_mode_parse(void **state)
{
	enum awschunked_mode m;

	(void)state;
	assert_int_equal(awschunked_mode_parse("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 34, &m), 0);
	assert_int_equal(m, AWSCHUNKED_SIGNED);
	assert_int_equal(
	    awschunked_mode_parse("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", 42, &m), 0);
	assert_int_equal(m, AWSCHUNKED_SIGNED_TRAILER);
	assert_int_equal(awschunked_mode_parse("STREAMING-UNSIGNED-PAYLOAD-TRAILER", 34, &m), 0);
	assert_int_equal(m, AWSCHUNKED_UNSIGNED_TRAILER);
	assert_int_equal(awschunked_mode_parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", 40, &m),
			 CAIRN_E_INVAL);
	assert_int_equal(awschunked_mode_parse("STREAMING-", 10, &m), CAIRN_E_INVAL);
	assert_int_equal(awschunked_mode_parse("UNSIGNED-PAYLOAD", 16, &m), CAIRN_E_NOTFOUND);
	assert_int_equal(awschunked_mode_parse(SIGV4_EMPTY_SHA256, 64, &m), CAIRN_E_NOTFOUND);
	assert_int_equal(awschunked_mode_parse("", 0, &m), CAIRN_E_NOTFOUND);
}

/* The seed signatures of both examples verify as ordinary SigV4 header signatures. */
static void
test_doc_seed_signatures(void **state)
{
	struct kvpair h[] = {
	    {"Host", 4, "s3.amazonaws.com", 16},
	    {"x-amz-date", 10, DOC_DATE, 16},
	    {"x-amz-storage-class", 19, "REDUCED_REDUNDANCY", 18},
	    {"x-amz-content-sha256", 20, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 34},
	    {"Content-Encoding", 16, "aws-chunked", 11},
	    {"x-amz-decoded-content-length", 28, "66560", 5},
	    {"Content-Length", 14, "66824", 5},
	    {"x-amz-trailer", 13, "x-amz-checksum-crc32c", 21},
	};
	struct sigv4_request req = {"PUT", "/examplebucket/chunkObject.txt",	30, NULL, 0, h,
				    8,	   "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"};
	struct sigv4_auth a;
	enum s3_error e = S3E_OK;

	(void)state;
	doc_auth(&a, SEED_SIGNED);
	snprintf(a.signed_headers, sizeof(a.signed_headers), "%s",
		 "content-encoding;content-length;host;x-amz-content-sha256;"
		 "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class");
	assert_int_equal(sigv4_verify(&req, &a, doc_key, &e), 0);
	doc_auth(&a, SEED_TRAILER);
	snprintf(a.signed_headers, sizeof(a.signed_headers), "%s",
		 "content-encoding;host;x-amz-content-sha256;x-amz-date;"
		 "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer");
	req.payload_hash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
	h[3].value = req.payload_hash;
	h[3].value_len = strlen(req.payload_hash);
	assert_int_equal(sigv4_verify(&req, &a, doc_key, &e), 0);
}

static void
test_doc_signed(void **state)
{
	static const size_t steps[] = {0, 1, 2, 7, 89, 4096, 65537};
	struct sigv4_auth a;
	struct buf body, out;
	size_t i;

	(void)state;
	doc_auth(&a, SEED_SIGNED);
	doc_body(&body, sigs_signed, "\r\n");
	assert_int_equal(body.len, 66824); /* the example's Content-Length */
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct awschunked d;

		assert_int_equal(awschunked_init(&d, AWSCHUNKED_SIGNED, doc_key, &a, 0), 0);
		assert_int_equal(run(&d, &body, steps[i], &out), 0);
		assert_true(awschunked_is_done(&d));
		assert_int_equal(awschunked_error(&d), S3E_OK);
		assert_int_equal(awschunked_decoded_len(&d), 66560);
		check_all_a(&out, 66560);
		buf_fini(&out);
		awschunked_fini(&d);
		awschunked_fini(&d);
	}
	buf_fini(&body);
}

static void
test_doc_signed_trailer(void **state)
{
	static const char *const tails[] = {
	    "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TRAILER_SIG "\r\n\r\n",
	    /* a blank line before the trailers, and no closing blank line */
	    "\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TRAILER_SIG "\r\n",
	    /* header name case and value padding do not change the signed form */
	    "X-Amz-Checksum-CRC32C:  sOO8/Q== \r\nX-Amz-Trailer-Signature:" TRAILER_SIG "\r\n\r\n",
	};
	struct sigv4_auth a;
	struct buf body, out;
	size_t i, step;

	(void)state;
	doc_auth(&a, SEED_TRAILER);
	for (i = 0; i < 3; i++) {
		doc_body(&body, sigs_trailer, tails[i]);
		for (step = 0; step < 40; step += 13) {
			struct awschunked d;
			const struct kvpair *kv;
			size_t n;

			assert_int_equal(
			    awschunked_init(&d, AWSCHUNKED_SIGNED_TRAILER, doc_key, &a, 0), 0);
			assert_int_equal(run(&d, &body, step, &out), 0);
			check_all_a(&out, 66560);
			kv = awschunked_trailer(&d, "x-amz-checksum-CRC32C");
			assert_non_null(kv);
			assert_string_equal(kv->name, "x-amz-checksum-crc32c");
			assert_string_equal(kv->value, "sOO8/Q==");
			assert_int_equal(kv->value_len, 8);
			assert_null(awschunked_trailer(&d, "x-amz-trailer-signature"));
			assert_null(awschunked_trailer(&d, "x-amz-checksum-crc32"));
			assert_non_null(awschunked_trailers(&d, &n));
			assert_int_equal(n, 1);
			buf_fini(&out);
			awschunked_fini(&d);
		}
		buf_fini(&body);
	}
}

static void
test_unsigned_trailer(void **state)
{
	static const char *const tails[] = {
	    "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n",
	    "x-amz-checksum-crc32c:sOO8/Q==\r\n",
	    "\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-meta-x: y\r\n\r\n",
	    "\r\n",
	    "",
	};
	static const size_t ntrailers[] = {1, 1, 2, 0, 0};
	struct buf body, out;
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		struct awschunked d;
		size_t n;

		doc_body(&body, NULL, tails[i]);
		assert_int_equal(awschunked_init(&d, AWSCHUNKED_UNSIGNED_TRAILER, NULL, NULL, 0),
				 0);
		assert_int_equal(run(&d, &body, 3, &out), 0);
		check_all_a(&out, 66560);
		awschunked_trailers(&d, &n);
		assert_int_equal(n, ntrailers[i]);
		buf_fini(&out);
		buf_fini(&body);
		awschunked_fini(&d);
	}
}

/* Unsigned chunks may carry chunk extensions; size digits in either case. */
static void
test_unsigned_forms(void **state)
{
	static const char body[] = "A;ext=1\r\n0123456789\r\n00000001\r\nx\r\n0\r\n\r\n";
	struct awschunked d;
	struct buf out;

	(void)state;
	buf_init(&out, 64);
	assert_int_equal(awschunked_init(&d, AWSCHUNKED_UNSIGNED_TRAILER, NULL, NULL, 0), 0);
	assert_int_equal(
	    awschunked_feed(&d, (const uint8_t *)body, sizeof(body) - 1, collect, &out), 0);
	/* "0\r\n\r\n" may still be followed by trailers: only the end of the body tells. */
	assert_false(awschunked_is_done(&d));
	assert_int_equal(awschunked_finish(&d), 0);
	assert_true(awschunked_is_done(&d));
	assert_int_equal(out.len, 11);
	assert_memory_equal(out.p, "0123456789x", 11);
	/* Anything after the end is refused. */
	assert_int_equal(awschunked_feed(&d, (const uint8_t *)"x", 1, collect, &out),
			 CAIRN_E_INVAL);
	assert_int_equal(awschunked_error(&d), S3E_INVALID_REQUEST);
	assert_int_equal(awschunked_finish(&d), CAIRN_E_INVAL);
	awschunked_fini(&d);
	buf_fini(&out);
}

/* Runs body (a C string) through a fresh decoder; returns rc and the S3 error. */
static int
run_str(enum awschunked_mode mode, const char *seed, const char *body, uint64_t chunk_max,
	enum s3_error *e)
{
	struct sigv4_auth a;
	struct awschunked d;
	struct buf b, out;
	int rc;

	doc_auth(&a, seed ? seed : SEED_SIGNED);
	buf_init(&b, 1 << 20);
	buf_append_str(&b, body);
	assert_int_equal(awschunked_init(&d, mode, doc_key, &a, chunk_max), 0);
	rc = run(&d, &b, 5, &out);
	*e = awschunked_error(&d);
	awschunked_fini(&d);
	buf_fini(&out);
	buf_fini(&b);
	return rc;
}

static void
test_framing_errors(void **state)
{
	static const struct {
		const char *body;
		int rc;
		enum s3_error e;
	} cases[] = {
	    {"", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"3\r\nab", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"3\r\nabc", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"3\r\nabcX\n0\r\n\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"3\r\nabc\rX0\r\n\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"3\nabc\r\n0\r\n\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"g\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {" 3\r\nabc\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"3 \r\nabc\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"-3\r\nabc\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"11111111111111111\r\n", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"ffffffffffffffff\r\n", CAIRN_E_TOOBIG, S3E_INVALID_CHUNK_SIZE},
	    {"11\r\n", CAIRN_E_TOOBIG, S3E_INVALID_CHUNK_SIZE},
	    {"10\r\n0123456789abcdef\r\n0\r\n\r\n", 0, S3E_OK},
	    {"0\r\nbad trailer\r\n\r\n", CAIRN_E_INVAL, S3E_MALFORMED_TRAILER},
	    {"0\r\n:v\r\n\r\n", CAIRN_E_INVAL, S3E_MALFORMED_TRAILER},
	    {"0\r\nna me:v\r\n\r\n", CAIRN_E_INVAL, S3E_MALFORMED_TRAILER},
	    {"0\r\nname:v\x01\r\n\r\n", CAIRN_E_INVAL, S3E_MALFORMED_TRAILER},
	    {"0\r\nname:v\r\nname2:v\n\r\n", CAIRN_E_INVAL, S3E_MALFORMED_TRAILER},
	    {"0\r\nx-amz-trailer-signature:" TRAILER_SIG "\r\n\r\n", CAIRN_E_INVAL,
	     S3E_MALFORMED_TRAILER},
	    {"0\r\nname:v", CAIRN_E_INVAL, S3E_INCOMPLETE_BODY},
	    {"0\r\n\r\n\r\nx", CAIRN_E_INVAL, S3E_INVALID_REQUEST},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum s3_error e;
		int rc = run_str(AWSCHUNKED_UNSIGNED_TRAILER, NULL, cases[i].body, 16, &e);

		if (rc != cases[i].rc || e != cases[i].e)
			fail_msg("case %zu: rc %d e %d", i, rc, e);
	}
}

static void
test_line_caps(void **state)
{
	char body[AWSCHUNKED_TRAILER_MAX * 2];
	enum s3_error e;
	size_t n, i;

	(void)state;
	/* A header line of exactly the maximum (leading extension bytes) passes, one more fails. */
	n = (size_t)snprintf(body, sizeof(body), "1;%0*d\r\nx\r\n0\r\n\r\n",
			     AWSCHUNKED_LINE_MAX - 2, 0);
	assert_int_equal(run_str(AWSCHUNKED_UNSIGNED_TRAILER, NULL, body, 0, &e), 0);
	n = (size_t)snprintf(body, sizeof(body), "1;%0*d\r\nx\r\n0\r\n\r\n",
			     AWSCHUNKED_LINE_MAX - 1, 0);
	assert_int_equal(run_str(AWSCHUNKED_UNSIGNED_TRAILER, NULL, body, 0, &e), CAIRN_E_TOOBIG);
	assert_int_equal(e, S3E_INCOMPLETE_BODY);
	/* Too many trailer lines. */
	n = (size_t)snprintf(body, sizeof(body), "0\r\n");
	for (i = 0; i <= AWSCHUNKED_TRAILERS_MAX; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "t%zu:v\r\n", i);
	snprintf(body + n, sizeof(body) - n, "\r\n");
	assert_int_equal(run_str(AWSCHUNKED_UNSIGNED_TRAILER, NULL, body, 0, &e), CAIRN_E_TOOBIG);
	assert_int_equal(e, S3E_MALFORMED_TRAILER);
	/* Exactly the maximum number is fine. */
	n = (size_t)snprintf(body, sizeof(body), "0\r\n");
	for (i = 0; i < AWSCHUNKED_TRAILERS_MAX; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "t%zu:v\r\n", i);
	snprintf(body + n, sizeof(body) - n, "\r\n");
	assert_int_equal(run_str(AWSCHUNKED_UNSIGNED_TRAILER, NULL, body, 0, &e), 0);
	/* Trailer bytes over the cap: one huge line, then several lines that add up. */
	n = (size_t)snprintf(body, sizeof(body), "0\r\nt:%0*d\r\n\r\n", AWSCHUNKED_TRAILER_MAX, 0);
	assert_int_equal(run_str(AWSCHUNKED_UNSIGNED_TRAILER, NULL, body, 0, &e), CAIRN_E_TOOBIG);
	assert_int_equal(e, S3E_MALFORMED_TRAILER);
	n = (size_t)snprintf(body, sizeof(body), "0\r\n");
	for (i = 0; i < 3; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "t%zu:%0*d\r\n", i,
				      AWSCHUNKED_TRAILER_MAX / 3, 0);
	snprintf(body + n, sizeof(body) - n, "\r\n");
	assert_int_equal(run_str(AWSCHUNKED_UNSIGNED_TRAILER, NULL, body, 0, &e), CAIRN_E_TOOBIG);
	(void)n;
}

/* Flips one byte of the signed example at off and expects a signature failure. */
static void
expect_bad_signature(const char *tail, enum awschunked_mode mode, const char *seed,
		     const char *const sigs[3], size_t off, size_t max_decoded)
{
	struct sigv4_auth a;
	struct awschunked d;
	struct buf body, out;

	doc_auth(&a, seed);
	doc_body(&body, sigs, tail);
	/* Change one byte, keeping hex digits hex so that the signature (not the syntax) fails. */
	if (off == SIZE_MAX)
		; /* nothing to change */
	else if (body.p[off] == 'f' || body.p[off] == '9')
		body.p[off]--;
	else if (strchr("0123456789abcdef", body.p[off]))
		body.p[off]++;
	else
		body.p[off] ^= 1;
	assert_int_equal(awschunked_init(&d, mode, doc_key, &a, 0), 0);
	assert_int_equal(run(&d, &body, 1000, &out), CAIRN_E_BADDIGEST);
	assert_int_equal(awschunked_error(&d), S3E_SIGNATURE_DOES_NOT_MATCH);
	assert_false(awschunked_is_done(&d));
	assert_true(awschunked_decoded_len(&d) <= max_decoded);
	/* Sticky. */
	assert_int_equal(awschunked_feed(&d, (const uint8_t *)"0", 1, collect, &out),
			 CAIRN_E_BADDIGEST);
	assert_int_equal(awschunked_finish(&d), CAIRN_E_BADDIGEST);
	awschunked_fini(&d);
	buf_fini(&out);
	buf_fini(&body);
}

static void
test_signature_errors(void **state)
{
	const char *trail =
	    "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TRAILER_SIG "\r\n\r\n";
	size_t first = 88, second = 88 + 65536 + 2 + 86;

	(void)state;
	/* Data of chunk 1 or 2, a chunk signature, the final signature. */
	expect_bad_signature("\r\n", AWSCHUNKED_SIGNED, SEED_SIGNED, sigs_signed, first + 100,
			     65536);
	expect_bad_signature("\r\n", AWSCHUNKED_SIGNED, SEED_SIGNED, sigs_signed, second + 1023,
			     66560);
	expect_bad_signature("\r\n", AWSCHUNKED_SIGNED, SEED_SIGNED, sigs_signed, 30, 65536);
	expect_bad_signature("\r\n", AWSCHUNKED_SIGNED, SEED_SIGNED, sigs_signed,
			     second + 1024 + 30, 66560);
	/* Trailer value and trailer signature. */
	expect_bad_signature(trail, AWSCHUNKED_SIGNED_TRAILER, SEED_TRAILER, sigs_trailer,
			     second + 1024 + 2 + 84 + 24, 66560);
	expect_bad_signature(trail, AWSCHUNKED_SIGNED_TRAILER, SEED_TRAILER, sigs_trailer,
			     second + 1024 + 2 + 84 + 32 + 40, 66560);
	/* The right chunks under the wrong seed: the first chunk already fails. */
	expect_bad_signature("\r\n", AWSCHUNKED_SIGNED, SEED_TRAILER, sigs_signed, SIZE_MAX, 65536);
}

static void
test_signed_trailer_errors(void **state)
{
	static const char *const tails[] = {
	    "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n",
	    "x-amz-checksum-crc32c:sOO8/Q==\r\n",
	    "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:abc\r\n\r\n",
	    "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TRAILER_SIG
	    "\r\nx-late:1\r\n\r\n",
	    "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TRAILER_SIG
	    "\r\nx-amz-trailer-signature:" TRAILER_SIG "\r\n\r\n",
	};
	struct sigv4_auth a;
	struct buf body, out;
	size_t i;

	(void)state;
	doc_auth(&a, SEED_TRAILER);
	for (i = 0; i < 5; i++) {
		struct awschunked d;

		doc_body(&body, sigs_trailer, tails[i]);
		assert_int_equal(awschunked_init(&d, AWSCHUNKED_SIGNED_TRAILER, doc_key, &a, 0), 0);
		if (run(&d, &body, 0, &out) != CAIRN_E_INVAL ||
		    awschunked_error(&d) != S3E_MALFORMED_TRAILER)
			fail_msg("tail %zu accepted", i);
		awschunked_fini(&d);
		buf_fini(&out);
		buf_fini(&body);
	}
	/* A signed chunk header without its signature, or an unsigned decoder fed signed
	 * headers with a size that does not parse. */
	enum s3_error e;
	assert_int_equal(run_str(AWSCHUNKED_SIGNED, NULL, "0\r\n\r\n", 0, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INCOMPLETE_BODY);
	assert_int_equal(run_str(AWSCHUNKED_SIGNED, NULL, "0;chunk-signature=zz\r\n\r\n", 0, &e),
			 CAIRN_E_INVAL);
	assert_int_equal(
	    run_str(AWSCHUNKED_SIGNED, NULL, "0;chunk-signatur=" SEED_SIGNED "\r\n\r\n", 0, &e),
	    CAIRN_E_INVAL);
}

static int
refuse(void *ctx, const uint8_t *p, size_t len)
{
	size_t *calls = ctx;

	(void)p;
	(void)len;
	return ++*calls == 2 ? -28 : 0;
}

static void
test_callback_error(void **state)
{
	static const char body[] = "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n";
	struct awschunked d;
	size_t calls = 0;

	(void)state;
	assert_int_equal(awschunked_init(&d, AWSCHUNKED_UNSIGNED_TRAILER, NULL, NULL, 0), 0);
	assert_int_equal(
	    awschunked_feed(&d, (const uint8_t *)body, sizeof(body) - 1, refuse, &calls), -28);
	assert_int_equal(awschunked_error(&d), S3E_INTERNAL_ERROR);
	assert_int_equal(awschunked_finish(&d), -28);
	assert_int_equal(calls, 2);
	awschunked_fini(&d);
}

static void
test_init_errors(void **state)
{
	struct awschunked d;
	struct sigv4_auth a;

	(void)state;
	doc_auth(&a, SEED_SIGNED);
	assert_int_equal(awschunked_init(&d, AWSCHUNKED_SIGNED, NULL, &a, 0), CAIRN_E_INVAL);
	awschunked_fini(&d);
	assert_int_equal(awschunked_init(&d, AWSCHUNKED_SIGNED_TRAILER, doc_key, NULL, 0),
			 CAIRN_E_INVAL);
	awschunked_fini(&d);
	a.amz_date[0] = 0;
	assert_int_equal(awschunked_init(&d, AWSCHUNKED_SIGNED, doc_key, &a, 0), CAIRN_E_INVAL);
	assert_int_equal(awschunked_feed(&d, (const uint8_t *)"0", 1, collect, NULL),
			 CAIRN_E_INVAL);
	awschunked_fini(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mode_parse),	     cmocka_unit_test(test_doc_seed_signatures),
	    cmocka_unit_test(test_doc_signed),	     cmocka_unit_test(test_doc_signed_trailer),
	    cmocka_unit_test(test_unsigned_trailer), cmocka_unit_test(test_unsigned_forms),
	    cmocka_unit_test(test_framing_errors),   cmocka_unit_test(test_line_caps),
	    cmocka_unit_test(test_signature_errors), cmocka_unit_test(test_signed_trailer_errors),
	    cmocka_unit_test(test_callback_error),   cmocka_unit_test(test_init_errors),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
