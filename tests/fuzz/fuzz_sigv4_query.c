/*
 * fuzz_sigv4_query.c — presigned-URL parameters: urlenc_query_parse(), sigv4_is_presigned(),
 * sigv4_parse_query() and the scope / time checks, plus sigv4_canonical_query().
 *
 * Input: a raw query string (without '?'). Invariants: a parsed presigned auth has its fields
 * within their caps, X-Amz-Expires in 1..604800 and an X-Amz-Date on the scope date; failures
 * carry the documented S3 errors; the canonical query string is a fixed point (splitting it
 * again and re-canonicalising gives the same bytes) and never contains X-Amz-Signature when it
 * is skipped.
 */
#include "fuzz.h"

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/sigv4.h"
#include "cairn/urlenc.h"

#define FUZZ_NOW 1369353600 /* 20130524T000000Z */

static void
fuzz_check_auth(const struct sigv4_auth *a)
{
	enum s3_error e = S3E_OK;
	size_t n;
	int rc;

	FUZZ_CHECK(a->presigned);
	FUZZ_CHECK(a->expires >= 1 && a->expires <= SIGV4_EXPIRES_MAX);
	FUZZ_CHECK(strnlen(a->amz_date, sizeof(a->amz_date)) == SIGV4_AMZ_DATE_LEN);
	FUZZ_CHECK(memcmp(a->amz_date, a->date, 8) == 0 && a->date[8] == 0);
	n = strnlen(a->access_key, sizeof(a->access_key));
	FUZZ_CHECK(n >= 1 && n <= SIGV4_ACCESS_KEY_MAX);
	FUZZ_CHECK(strstr(a->signed_headers, "host") != NULL);
	rc = sigv4_check_scope(a, NULL, &e);
	FUZZ_CHECK(rc == 0 ||
		   (rc == CAIRN_E_INVAL && e == S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR));
	e = S3E_OK;
	rc = sigv4_check_time(a, FUZZ_NOW, &e);
	FUZZ_CHECK(rc == 0 || (rc == CAIRN_E_INVAL && e == S3E_ACCESS_DENIED));
}

/* No "&"-separated pair of the canonical query is named X-Amz-Signature. */
static void
fuzz_check_no_signature(const struct buf *c)
{
	static const char sig[] = "X-Amz-Signature=";
	size_t i;

	for (i = 0; i < c->len; i++) {
		if (i == 0 || c->p[i - 1] == '&')
			FUZZ_CHECK(c->len - i < sizeof(sig) - 1 ||
				   memcmp(c->p + i, sig, sizeof(sig) - 1) != 0);
	}
}

/* Canonicalises q, splits the result and canonicalises that: the bytes must not change. */
static void
fuzz_canonical_fixed_point(const struct urlenc_query *q, bool skip)
{
	struct buf c1, c2;
	struct urlenc_query q2;
	int rc;

	buf_init(&c1, SIGV4_CANONICAL_MAX);
	buf_init(&c2, SIGV4_CANONICAL_MAX);
	rc = sigv4_canonical_query(q->v, q->n, skip, &c1);
	FUZZ_CHECK(rc == 0);
	if (skip)
		fuzz_check_no_signature(&c1);
	rc = urlenc_query_parse(c1.len ? (const char *)c1.p : "", c1.len, &q2);
	if (rc == 0) {
		FUZZ_CHECK(sigv4_canonical_query(q2.v, q2.n, false, &c2) == 0);
		FUZZ_CHECK(fuzz_eq(c1.p, c1.len, c2.p, c2.len));
	} else {
		/* Only the 3x growth of encoding can push it past the raw-length cap. */
		FUZZ_CHECK(rc == CAIRN_E_TOOBIG && c1.len > URLENC_QUERY_MAX_LEN);
	}
	urlenc_query_fini(&q2);
	buf_fini(&c2);
	buf_fini(&c1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct urlenc_query q;
	struct sigv4_auth a;
	enum s3_error e = S3E_OK;
	int rc;

	if (urlenc_query_parse((const char *)data, size, &q) < 0)
		return 0;
	rc = sigv4_parse_query(q.v, q.n, &a, &e);
	if (rc == 0) {
		FUZZ_CHECK(e == S3E_OK && sigv4_is_presigned(q.v, q.n));
		fuzz_check_auth(&a);
	} else {
		FUZZ_CHECK(rc == CAIRN_E_INVAL);
		FUZZ_CHECK(e == S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR || e == S3E_INVALID_TOKEN);
	}
	fuzz_canonical_fixed_point(&q, true);
	fuzz_canonical_fixed_point(&q, false);
	urlenc_query_fini(&q);
	return 0;
}
