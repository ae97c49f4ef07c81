/*
 * fuzz_awschunked.c — the aws-chunked body decoder, fed in fuzz-chosen pieces.
 *
 * Input: a 6-byte header, then the body.
 *   byte 0     mode: byte % 3 ('0' signed, '1' signed with trailer, '2' unsigned with trailer)
 *   bytes 1-4  piece lengths for the split feed, used in turn (0 = an empty feed call)
 *   byte 5     low nibble: chunk_max = nibble * 64 (0: the default); bit 7: also run with a
 *              callback that fails once 64 bytes have been decoded
 * Signed modes use the AWS documentation's key (secret wJalr…EXAMPLEKEY, 20130524/us-east-1/s3)
 * and seed signature 4f232c43…a0a9 with X-Amz-Date 20130524T000000Z; tests/fuzz/corpus/
 * gen-awschunked.py writes correctly signed bodies under the same values.
 *
 * Invariants: decoding the body in one call and in the chosen pieces gives the same result
 * (return code, S3 error, decoded bytes, decoded length, done flag, finish code, trailers); errors
 * are sticky; the decoded length counts exactly the bytes handed to the callback; a body that
 * finishes has its trailers within the caps; a failing callback's code comes back unchanged.
 */
#include <errno.h>

#include "fuzz.h"

#include "cairn/awschunked.h"
#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/hex.h"

#define FUZZ_HDR 6
#define FUZZ_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

struct fuzz_sink {
	struct buf data;
	uint64_t fail_after; /* 0: never fail */
};

struct fuzz_result {
	int feed_rc;
	int finish_rc;
	enum s3_error s3e;
	bool done;
	uint64_t decoded;
	struct buf data;
	struct buf trailers; /* "name\0value\0" per trailer */
};

static int
fuzz_sink_fn(void *ctx, const uint8_t *p, size_t len)
{
	struct fuzz_sink *s = ctx;

	FUZZ_CHECK(len > 0 || p != NULL);
	if (s->fail_after && s->data.len + len > s->fail_after)
		return -EIO;
	FUZZ_CHECK(buf_append(&s->data, p, len) == 0); /* decoded <= body length */
	return 0;
}

static void
fuzz_auth(struct sigv4_auth *a, uint8_t key[SIGV4_KEY_LEN])
{
	memset(a, 0, sizeof(*a));
	memcpy(a->date, "20130524", 9);
	memcpy(a->region, "us-east-1", 10);
	memcpy(a->service, "s3", 3);
	memcpy(a->amz_date, "20130524T000000Z", 17);
	memcpy(a->signed_headers, "host", 5);
	if (hex_decode(FUZZ_SEED, SIGV4_KEY_LEN, a->signature) < 0)
		abort();
	sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 40, a->date, a->region,
			  a->service, key);
}

/* Feeds body in pieces of lens[] (all of it at once when lens is NULL) and records the outcome. */
static void
fuzz_decode(enum awschunked_mode mode, uint64_t chunk_max, const uint8_t *lens, const uint8_t *body,
	    size_t len, uint64_t fail_after, struct fuzz_result *r)
{
	struct awschunked d;
	struct sigv4_auth a;
	uint8_t key[SIGV4_KEY_LEN];
	struct fuzz_sink sink = {{0}, fail_after};
	const struct kvpair *t;
	size_t off = 0, i = 0, n;
	int rc;

	if (lens && !(lens[0] | lens[1] | lens[2] | lens[3]))
		lens = NULL; /* only empty pieces would never get through the body */
	fuzz_auth(&a, key);
	buf_init(&sink.data, len);
	FUZZ_CHECK(awschunked_init(&d, mode, key, &a, chunk_max) == 0);
	r->feed_rc = 0;
	do {
		size_t piece = lens ? lens[i++ % 4] : len - off;

		if (piece > len - off)
			piece = len - off;
		rc = awschunked_feed(&d, body + off, piece, fuzz_sink_fn, &sink);
		if (r->feed_rc < 0)
			FUZZ_CHECK(rc == r->feed_rc); /* sticky */
		else
			r->feed_rc = rc;
		off += piece;
	} while (off < len);
	r->done = awschunked_is_done(&d);
	r->finish_rc = awschunked_finish(&d);
	FUZZ_CHECK(r->feed_rc == 0 || r->finish_rc == r->feed_rc);
	FUZZ_CHECK((r->finish_rc == 0) == awschunked_is_done(&d));
	r->s3e = awschunked_error(&d);
	FUZZ_CHECK((r->s3e == S3E_OK) == (r->finish_rc == 0));
	r->decoded = awschunked_decoded_len(&d);
	FUZZ_CHECK(r->decoded == sink.data.len);
	r->data = sink.data;
	buf_init(&r->trailers, 2 * AWSCHUNKED_TRAILER_MAX);
	t = awschunked_trailers(&d, &n);
	FUZZ_CHECK(n <= AWSCHUNKED_TRAILERS_MAX);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(t[i].name_len > 0 && t[i].name[t[i].name_len] == 0);
		FUZZ_CHECK(t[i].value[t[i].value_len] == 0);
		FUZZ_CHECK(awschunked_trailer(&d, t[i].name) != NULL);
		FUZZ_CHECK(buf_append(&r->trailers, t[i].name, t[i].name_len + 1) == 0);
		FUZZ_CHECK(buf_append(&r->trailers, t[i].value, t[i].value_len + 1) == 0);
	}
	awschunked_fini(&d);
	awschunked_fini(&d); /* documented safe twice */
}

static void
fuzz_result_fini(struct fuzz_result *r)
{
	buf_fini(&r->data);
	buf_fini(&r->trailers);
}

static bool
fuzz_result_eq(const struct fuzz_result *a, const struct fuzz_result *b)
{
	return a->feed_rc == b->feed_rc && a->finish_rc == b->finish_rc && a->s3e == b->s3e &&
	       a->done == b->done && a->decoded == b->decoded &&
	       fuzz_eq(a->data.p, a->data.len, b->data.p, b->data.len) &&
	       fuzz_eq(a->trailers.p, a->trailers.len, b->trailers.p, b->trailers.len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum awschunked_mode mode;
	struct fuzz_result whole, split, failing;
	uint64_t chunk_max;
	const uint8_t *body = data + FUZZ_HDR;
	size_t len = size - FUZZ_HDR;

	if (size < FUZZ_HDR || size > 1024 * 1024)
		return 0;
	mode = (enum awschunked_mode)(data[0] % 3);
	chunk_max = (uint64_t)(data[5] & 0x0f) * 64;
	fuzz_decode(mode, chunk_max, NULL, body, len, 0, &whole);
	fuzz_decode(mode, chunk_max, data + 1, body, len, 0, &split);
	FUZZ_CHECK(fuzz_result_eq(&whole, &split));
	if (whole.feed_rc < 0)
		FUZZ_CHECK(whole.feed_rc == CAIRN_E_INVAL || whole.feed_rc == CAIRN_E_TOOBIG ||
			   whole.feed_rc == CAIRN_E_BADDIGEST);
	if (data[5] & 0x80) {
		fuzz_decode(mode, chunk_max, data + 1, body, len, 64, &failing);
		if (whole.decoded > 64)
			FUZZ_CHECK(failing.feed_rc == -EIO && failing.s3e == S3E_INTERNAL_ERROR);
		fuzz_result_fini(&failing);
	}
	fuzz_result_fini(&split);
	fuzz_result_fini(&whole);
	return 0;
}
