/*
 * fuzz_sigv4_header.c — sigv4_parse_header() on arbitrary Authorization values, then the date,
 * scope and time checks a request would go through.
 *
 * Input: the header value; when it contains a '\n', the bytes after the first one are used as the
 * X-Amz-Date header. Invariants: failures carry one of the documented S3 errors; a parsed header
 * has NUL-terminated fields within their caps, a valid scope date, a lowercase SignedHeaders list
 * naming "host", and re-serialised in the canonical "Credential=…,SignedHeaders=…,Signature=…"
 * form it parses to the same struct.
 */
#include "fuzz.h"

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/sigv4.h"

static void
fuzz_check_fields(const struct sigv4_auth *a)
{
	size_t n;

	FUZZ_CHECK(!a->presigned && a->amz_date[0] == 0 && a->expires == 0);
	n = strnlen(a->access_key, sizeof(a->access_key));
	FUZZ_CHECK(n >= 1 && n <= SIGV4_ACCESS_KEY_MAX);
	FUZZ_CHECK(strnlen(a->date, sizeof(a->date)) == 8);
	n = strnlen(a->region, sizeof(a->region));
	FUZZ_CHECK(n >= 1 && n <= SIGV4_REGION_MAX);
	n = strnlen(a->service, sizeof(a->service));
	FUZZ_CHECK(n >= 1 && n <= SIGV4_SERVICE_MAX);
	n = strnlen(a->signed_headers, sizeof(a->signed_headers));
	FUZZ_CHECK(n >= 4 && n <= SIGV4_SIGNED_HEADERS_MAX);
	FUZZ_CHECK(strstr(a->signed_headers, "host") != NULL);
	for (const char *p = a->signed_headers; *p; p++)
		FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z') && *p != ' ' && *p != ',');
}

/* Writes a in the canonical header form and parses it again. */
static void
fuzz_reparse(const struct sigv4_auth *a)
{
	char sig[2 * SIGV4_KEY_LEN + 1];
	struct sigv4_auth b;
	enum s3_error e = S3E_OK;
	struct buf h;

	hex_encode(a->signature, SIGV4_KEY_LEN, sig);
	buf_init(&h, 2 * SIGV4_AUTH_HEADER_MAX);
	FUZZ_CHECK(buf_printf(&h,
			      SIGV4_ALGORITHM
			      " Credential=%s/%s/%s/%s/aws4_request,SignedHeaders=%s,Signature=%s",
			      a->access_key, a->date, a->region, a->service, a->signed_headers,
			      sig) == 0);
	if (h.len <= SIGV4_AUTH_HEADER_MAX) {
		FUZZ_CHECK(sigv4_parse_header((const char *)h.p, h.len, &b, &e) == 0);
		FUZZ_CHECK(e == S3E_OK);
		FUZZ_CHECK(memcmp(a, &b, sizeof(b)) == 0);
	}
	buf_fini(&h);
}

static void
fuzz_date_checks(struct sigv4_auth *a, const char *date, size_t len)
{
	enum s3_error e = S3E_OK;
	char scope[SIGV4_SCOPE_SIZE];
	int rc;

	sigv4_scope(a, scope);
	FUZZ_CHECK(strlen(scope) < SIGV4_SCOPE_SIZE && memcmp(scope, a->date, 8) == 0);
	rc = sigv4_check_scope(a, "us-east-1", &e);
	FUZZ_CHECK(rc == 0 || (rc == CAIRN_E_INVAL && e == S3E_AUTHORIZATION_HEADER_MALFORMED));
	e = S3E_OK;
	FUZZ_CHECK(sigv4_check_time(a, 1369353600, &e) == CAIRN_E_INVAL && e == S3E_ACCESS_DENIED);
	if (!date)
		return;
	e = S3E_OK;
	rc = sigv4_auth_set_date(a, date, len, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL);
		FUZZ_CHECK(e == S3E_ACCESS_DENIED || e == S3E_AUTHORIZATION_HEADER_MALFORMED);
		FUZZ_CHECK(a->amz_date[0] == 0);
		return;
	}
	FUZZ_CHECK(len == SIGV4_AMZ_DATE_LEN && memcmp(a->amz_date, a->date, 8) == 0);
	e = S3E_OK;
	rc = sigv4_check_time(a, 1369353600, &e);
	FUZZ_CHECK(rc == 0 || (rc == CAIRN_E_INVAL && e == S3E_REQUEST_TIME_TOO_SKEWED));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data, *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - v) : size;
	struct sigv4_auth a;
	enum s3_error e = S3E_OK;
	int rc;

	rc = sigv4_parse_header(v, len, &a, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL);
		FUZZ_CHECK(e == S3E_INVALID_ARGUMENT || e == S3E_AUTHORIZATION_HEADER_MALFORMED);
		return 0;
	}
	FUZZ_CHECK(e == S3E_OK && len <= SIGV4_AUTH_HEADER_MAX);
	fuzz_check_fields(&a);
	fuzz_reparse(&a);
	fuzz_date_checks(&a, nl ? nl + 1 : NULL, nl ? size - len - 1 : 0);
	return 0;
}
