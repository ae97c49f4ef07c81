/*
 * fuzz_sigv4_canonical.c — the SigV4 canonical request, string to sign, signature and verify,
 * fed with a request parsed from the fuzz input.
 *
 * Input, one item per line:
 *   method
 *   raw path (percent-encoded, as on the request line)
 *   raw query string (split with urlenc_query_parse())
 *   SignedHeaders list ("host;x-amz-date")
 *   Name:value      (any number of header lines; x-amz-content-sha256 is the payload hash)
 * Scope and date are fixed (20130524/us-east-1/s3). Invariants: errors are the documented
 * (code, S3 error) pairs; a canonical request has one line per signed header plus five and ends
 * with the payload hash; the NORMALIZED canonical URI is a fixed point; a signature computed by
 * sigv4_signature() (either URI mode) verifies, and a one-bit change does not.
 */
#include "fuzz.h"

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/sigv4.h"
#include "cairn/urlenc.h"

#define FUZZ_MAX_HEADERS 64

struct fuzz_req {
	char *method;
	char *payload_hash;
	struct urlenc_query q;
	struct kvpair h[FUZZ_MAX_HEADERS];
	struct sigv4_request r;
	struct sigv4_auth a;
};

/* Splits the input into f. Returns false when it is not usable (no request to build). */
static bool
fuzz_req_parse(struct fuzz_in *in, struct fuzz_req *f)
{
	const char *m, *p, *qs, *sh, *line;
	size_t mlen, plen, qlen, shlen, len, n = 0;

	if (!fuzz_line(in, &m, &mlen) || !fuzz_line(in, &p, &plen) || !fuzz_line(in, &qs, &qlen) ||
	    !fuzz_line(in, &sh, &shlen) || shlen > SIGV4_SIGNED_HEADERS_MAX || memchr(sh, 0, shlen))
		return false;
	if (urlenc_query_parse(qs, qlen, &f->q) < 0)
		return false;
	while (n < FUZZ_MAX_HEADERS && fuzz_line(in, &line, &len)) {
		const char *colon = memchr(line, ':', len);

		if (!colon || colon == line)
			continue;
		f->h[n] = (struct kvpair){line, (size_t)(colon - line), colon + 1,
					  len - (size_t)(colon - line) - 1};
		if (fuzz_eq(line, f->h[n].name_len, "x-amz-content-sha256", 20) && !f->payload_hash)
			f->payload_hash = fuzz_strdup(f->h[n].value, f->h[n].value_len);
		n++;
	}
	f->method = fuzz_strdup(m, mlen);
	if (!f->payload_hash)
		f->payload_hash =
		    fuzz_strdup(SIGV4_UNSIGNED_PAYLOAD, strlen(SIGV4_UNSIGNED_PAYLOAD));
	f->r = (struct sigv4_request){f->method, p, plen, f->q.v, f->q.n, f->h, n, f->payload_hash};
	memcpy(f->a.signed_headers, sh, shlen);
	f->a.signed_headers[shlen] = 0;
	f->a.presigned = sigv4_is_presigned(f->q.v, f->q.n);
	memcpy(f->a.date, "20130524", 9);
	memcpy(f->a.region, "us-east-1", 10);
	memcpy(f->a.service, "s3", 3);
	memcpy(f->a.amz_date, "20130524T000000Z", 17);
	return true;
}

static void
fuzz_req_free(struct fuzz_req *f)
{
	urlenc_query_fini(&f->q);
	free(f->method);
	free(f->payload_hash);
}

static void
fuzz_check_error(int rc, enum s3_error e)
{
	if (rc == CAIRN_E_INVAL)
		FUZZ_CHECK(e == S3E_INVALID_URI || e == S3E_SIGNATURE_DOES_NOT_MATCH ||
			   e == S3E_AUTHORIZATION_HEADER_MALFORMED);
	else
		FUZZ_CHECK(rc == CAIRN_E_TOOBIG && e == S3E_INVALID_REQUEST);
}

/* Builds the canonical request in mode; returns its rc after checking its shape. */
static int
fuzz_canonical(const struct fuzz_req *f, enum sigv4_uri_mode mode)
{
	struct buf c, sts;
	enum s3_error e = S3E_OK;
	size_t i, lines = 0, names = 1, hlen = strlen(f->payload_hash);
	int rc;

	buf_init(&c, SIGV4_CANONICAL_MAX);
	rc = sigv4_canonical_request(&f->r, &f->a, mode, &c, &e);
	if (rc < 0) {
		fuzz_check_error(rc, e);
		goto out_fini_c;
	}
	for (i = 0; i < c.len; i++)
		lines += c.p[i] == '\n';
	for (i = 0; f->a.signed_headers[i]; i++)
		names += f->a.signed_headers[i] == ';';
	FUZZ_CHECK(lines == 5 + names); /* no input field can hold a '\n': lines were split */
	FUZZ_CHECK(c.len >= hlen && memcmp(c.p + c.len - hlen, f->payload_hash, hlen) == 0);
	buf_init(&sts, SIGV4_CANONICAL_MAX);
	FUZZ_CHECK(sigv4_string_to_sign(&f->a, c.p, c.len, &sts) == 0);
	FUZZ_CHECK(sts.len == strlen(SIGV4_ALGORITHM) + 1 + 16 + 1 + 34 + 1 + 64);
	buf_fini(&sts);
out_fini_c:
	buf_fini(&c);
	return rc;
}

/* NORMALIZED(NORMALIZED(p)) == NORMALIZED(p). */
static void
fuzz_uri_fixed_point(const char *p, size_t len)
{
	struct buf u1, u2;
	int rc;

	buf_init(&u1, 3 * len + 1);
	buf_init(&u2, 3 * len + 1);
	rc = sigv4_canonical_uri(p, len, SIGV4_URI_NORMALIZED, &u1);
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc == 0) {
		FUZZ_CHECK(u1.len >= 1);
		FUZZ_CHECK(sigv4_canonical_uri((const char *)u1.p, u1.len, SIGV4_URI_NORMALIZED,
					       &u2) == 0);
		FUZZ_CHECK(fuzz_eq(u1.p, u1.len, u2.p, u2.len));
	}
	buf_fini(&u2);
	buf_fini(&u1);
}

/* A signature made in mode verifies; flipping one bit makes it fail. */
static void
fuzz_sign_verify(struct fuzz_req *f, enum sigv4_uri_mode mode, const uint8_t key[SIGV4_KEY_LEN])
{
	enum s3_error e = S3E_OK;
	int rc;

	rc = sigv4_signature(&f->r, &f->a, mode, key, f->a.signature, &e);
	if (rc < 0) {
		fuzz_check_error(rc, e);
		return;
	}
	rc = sigv4_verify(&f->r, &f->a, key, &e);
	if (rc == CAIRN_E_INVAL && e == S3E_INVALID_URI) /* RAW signed, NORMALIZED cannot parse */
		return;
	FUZZ_CHECK(rc == 0 && e == S3E_OK);
	f->a.signature[f->r.path_len % SIGV4_KEY_LEN] ^= 1;
	FUZZ_CHECK(sigv4_verify(&f->r, &f->a, key, &e) == CAIRN_E_BADDIGEST);
	FUZZ_CHECK(e == S3E_SIGNATURE_DOES_NOT_MATCH);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct fuzz_req f;
	uint8_t key[SIGV4_KEY_LEN];

	memset(&f, 0, sizeof(f));
	if (!fuzz_req_parse(&in, &f))
		goto out_free;
	fuzz_uri_fixed_point(f.r.path, f.r.path_len);
	if (fuzz_canonical(&f, SIGV4_URI_NORMALIZED) == 0 ||
	    fuzz_canonical(&f, SIGV4_URI_RAW) == 0) {
		sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 40, f.a.date,
				  f.a.region, f.a.service, key);
		fuzz_sign_verify(&f, SIGV4_URI_NORMALIZED, key);
		fuzz_sign_verify(&f, SIGV4_URI_RAW, key);
	}
out_free:
	fuzz_req_free(&f);
	return 0;
}
