/*
 * fuzz_sigv2.c — SigV2: Authorization header and presigned-query parsing, the string to sign,
 * signature, verify and time checks, fed with a request parsed from the fuzz input.
 *
 * Input, one item per line:
 *   Authorization value ("AWS AKID:base64sig"; anything else leaves header auth unparsed)
 *   method
 *   raw path
 *   raw query string (split with urlenc_query_parse(); presigned when it carries the parameters)
 *   Name:value      (any number of header lines)
 * Invariants: errors are the documented (code, S3 error) pairs; a parsed header has a 1..128
 * byte access key and re-serialised as "AWS key:base64" parses to the same struct; a parsed
 * query is presigned; the string to sign starts with the method line; a signature from
 * sigv2_signature() verifies and a one-bit change does not.
 */
#include "fuzz.h"

#include "cairn/base64.h"
#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/sigv2.h"
#include "cairn/urlenc.h"

#define FUZZ_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define FUZZ_NOW 1369353600  /* Fri, 24 May 2013 00:00:00 GMT */
#define FUZZ_MAX_HEADERS 300 /* past SIGV2_MAX_HEADERS on purpose */

struct fuzz_req {
	char *method;
	struct urlenc_query q;
	struct kvpair *h;
	struct sigv2_request r;
	struct sigv2_auth a;
};

static void
fuzz_header_auth(const char *v, size_t len, struct sigv2_auth *a)
{
	char sig[BASE64_ENCODED_LEN(SIGV2_SIG_LEN) + 1];
	struct sigv2_auth b;
	enum s3_error e = S3E_OK;
	struct buf h;
	size_t n;
	int rc = sigv2_parse_header(v, len, a, &e);

	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL && e == S3E_INVALID_ARGUMENT);
		memset(a, 0, sizeof(*a));
		memcpy(a->access_key, "AK", 3);
		return;
	}
	n = strnlen(a->access_key, sizeof(a->access_key));
	FUZZ_CHECK(!a->presigned && n >= 1 && n <= SIGV2_ACCESS_KEY_MAX);
	base64_encode(a->signature, SIGV2_SIG_LEN, sig);
	buf_init(&h, 512);
	FUZZ_CHECK(buf_printf(&h, "AWS %s:%s", a->access_key, sig) == 0);
	FUZZ_CHECK(sigv2_parse_header((const char *)h.p, h.len, &b, &e) == 0);
	FUZZ_CHECK(strcmp(a->access_key, b.access_key) == 0);
	FUZZ_CHECK(memcmp(a->signature, b.signature, SIGV2_SIG_LEN) == 0 && !b.presigned);
	buf_fini(&h);
}

/* Splits the input into f. Returns false when there is no request to build. */
static bool
fuzz_req_parse(struct fuzz_in *in, struct fuzz_req *f)
{
	const char *authz, *m, *p, *qs, *line;
	size_t alen, mlen, plen, qlen, len, n = 0;
	enum s3_error e = S3E_OK;
	int rc;

	if (!fuzz_line(in, &authz, &alen) || !fuzz_line(in, &m, &mlen) ||
	    !fuzz_line(in, &p, &plen) || !fuzz_line(in, &qs, &qlen))
		return false;
	if (urlenc_query_parse(qs, qlen, &f->q) < 0)
		return false;
	f->h = calloc(FUZZ_MAX_HEADERS, sizeof(*f->h));
	if (!f->h)
		abort();
	while (n < FUZZ_MAX_HEADERS && fuzz_line(in, &line, &len)) {
		const char *colon = memchr(line, ':', len);

		if (!colon || colon == line)
			continue;
		f->h[n++] = (struct kvpair){line, (size_t)(colon - line), colon + 1,
					    len - (size_t)(colon - line) - 1};
	}
	f->method = fuzz_strdup(m, mlen);
	f->r = (struct sigv2_request){f->method, p, plen, f->q.v, f->q.n, f->h, n};
	if (!sigv2_is_presigned(f->q.v, f->q.n)) {
		fuzz_header_auth(authz, alen, &f->a);
		return true;
	}
	rc = sigv2_parse_query(f->q.v, f->q.n, &f->a, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL && e == S3E_ACCESS_DENIED);
		fuzz_header_auth(authz, alen, &f->a);
		return true;
	}
	FUZZ_CHECK(f->a.presigned && strnlen(f->a.access_key, sizeof(f->a.access_key)) >= 1);
	return true;
}

static void
fuzz_req_free(struct fuzz_req *f)
{
	urlenc_query_fini(&f->q);
	free(f->method);
	free(f->h);
}

static void
fuzz_time(const struct fuzz_req *f)
{
	enum s3_error e = S3E_OK;
	int rc = sigv2_check_time(&f->r, &f->a, FUZZ_NOW, &e);

	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc < 0)
		FUZZ_CHECK(e == S3E_ACCESS_DENIED ||
			   (!f->a.presigned && e == S3E_REQUEST_TIME_TOO_SKEWED));
	if (f->a.presigned)
		FUZZ_CHECK((rc == 0) == (FUZZ_NOW <= f->a.expires));
}

static void
fuzz_sign_verify(struct fuzz_req *f)
{
	struct buf sts;
	enum s3_error e = S3E_OK;
	size_t mlen = strlen(f->method);
	int rc;

	buf_init(&sts, SIGV2_STRING_TO_SIGN_MAX);
	rc = sigv2_string_to_sign(&f->r, &f->a, &sts, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_TOOBIG && e == S3E_INVALID_REQUEST);
		goto out_fini;
	}
	FUZZ_CHECK(sts.len > mlen && memcmp(sts.p, f->method, mlen) == 0 && sts.p[mlen] == '\n');
	FUZZ_CHECK(sigv2_signature(&f->r, &f->a, FUZZ_SECRET, 40, f->a.signature, &e) == 0);
	e = S3E_OK;
	FUZZ_CHECK(sigv2_verify(&f->r, &f->a, FUZZ_SECRET, 40, &e) == 0 && e == S3E_OK);
	f->a.signature[mlen % SIGV2_SIG_LEN] ^= 0x80;
	FUZZ_CHECK(sigv2_verify(&f->r, &f->a, FUZZ_SECRET, 40, &e) == CAIRN_E_BADDIGEST);
	FUZZ_CHECK(e == S3E_SIGNATURE_DOES_NOT_MATCH);
out_fini:
	buf_fini(&sts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct fuzz_req f;

	memset(&f, 0, sizeof(f));
	if (fuzz_req_parse(&in, &f)) {
		fuzz_time(&f);
		fuzz_sign_verify(&f);
	}
	fuzz_req_free(&f);
	return 0;
}
