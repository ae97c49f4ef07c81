/*
 * sigv2.c — AWS Signature Version 2 for S3 (legacy clients). See sigv2.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cairn/base64.h"
#include "cairn/err.h"
#include "cairn/httpdate.h"
#include "cairn/sigv2.h"

/* Query parameters that are part of the CanonicalizedResource (the S3 sub-resources and the
 * response-header overrides), as the SDKs sign them. */
static const char *const sigv2_subresources[] = {
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};

/* The two forms of the Date line: the documented one (x-amz-date present → empty Date line,
 * x-amz-date among the amz headers), and the one some AWS examples use (x-amz-date's value on the
 * Date line and not repeated below). */
enum sigv2_form { SIGV2_FORM_STANDARD, SIGV2_FORM_AMZDATE_AS_DATE };

static int
sigv2_fail(enum s3_error *s3e, enum s3_error e, int rc)
{
	if (s3e)
		*s3e = e;
	return rc;
}

static bool
sigv2_eq(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(p, lit, len) == 0;
}

static int
sigv2_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool
sigv2_eq_nocase(const char *p, size_t len, const char *lit)
{
	size_t i;

	if (strlen(lit) != len)
		return false;
	for (i = 0; i < len; i++) {
		if (sigv2_lower((unsigned char)p[i]) != lit[i])
			return false;
	}
	return true;
}

static bool
sigv2_set_key(struct sigv2_auth *a, const char *p, size_t len)
{
	if (len == 0 || len > SIGV2_ACCESS_KEY_MAX || memchr(p, 0, len))
		return false;
	memcpy(a->access_key, p, len);
	a->access_key[len] = 0;
	return true;
}

static bool
sigv2_set_signature(struct sigv2_auth *a, const char *p, size_t len)
{
	size_t n = 0;

	return base64_decode(p, len, a->signature, SIGV2_SIG_LEN, &n) == 0 && n == SIGV2_SIG_LEN;
}

int
sigv2_parse_header(const char *value, size_t len, struct sigv2_auth *out, enum s3_error *s3e)
{
	const char *colon;

	memset(out, 0, sizeof(*out));
	if (len < 4 || memcmp(value, "AWS ", 4) != 0)
		return sigv2_fail(s3e, S3E_INVALID_ARGUMENT, CAIRN_E_INVAL);
	colon = memchr(value + 4, ':', len - 4);
	if (!colon || !sigv2_set_key(out, value + 4, (size_t)(colon - value) - 4) ||
	    !sigv2_set_signature(out, colon + 1, len - (size_t)(colon + 1 - value)))
		return sigv2_fail(s3e, S3E_INVALID_ARGUMENT, CAIRN_E_INVAL);
	return 0;
}

static const struct kvpair *
sigv2_param(const struct kvpair *params, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (sigv2_eq(params[i].name, params[i].name_len, name))
			return &params[i];
	}
	return NULL;
}

bool
sigv2_is_presigned(const struct kvpair *params, size_t n)
{
	return sigv2_param(params, n, "AWSAccessKeyId") && sigv2_param(params, n, "Signature");
}

static bool
sigv2_parse_expires(const char *p, size_t len, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > 12)
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

int
sigv2_parse_query(const struct kvpair *params, size_t n, struct sigv2_auth *out, enum s3_error *s3e)
{
	const struct kvpair *ak = sigv2_param(params, n, "AWSAccessKeyId");
	const struct kvpair *sig = sigv2_param(params, n, "Signature");
	const struct kvpair *exp = sigv2_param(params, n, "Expires");

	memset(out, 0, sizeof(*out));
	out->presigned = true;
	if (!ak || !sig || !exp || !sigv2_set_key(out, ak->value, ak->value_len) ||
	    !sigv2_set_signature(out, sig->value, sig->value_len) ||
	    !sigv2_parse_expires(exp->value, exp->value_len, &out->expires))
		return sigv2_fail(s3e, S3E_ACCESS_DENIED, CAIRN_E_INVAL);
	return 0;
}

/* Appends the trimmed value v[0..len). */
static int
sigv2_append_trimmed(struct buf *out, const char *v, size_t len)
{
	while (len && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	return buf_append(out, v, len);
}

/* Appends the values of every header named name (lowercase), trimmed and joined with ','.
 * *found tells whether there was one. */
static int
sigv2_header_values(const struct sigv2_request *req, const char *name, struct buf *out, bool *found)
{
	size_t i, n = 0;
	int rc = 0;

	for (i = 0; i < req->n_headers && rc == 0; i++) {
		const struct kvpair *h = &req->headers[i];

		if (!sigv2_eq_nocase(h->name, h->name_len, name))
			continue;
		if (n++)
			rc = buf_append(out, ",", 1);
		if (rc == 0)
			rc = sigv2_append_trimmed(out, h->value, h->value_len);
	}
	*found = n > 0;
	return rc;
}

static int
sigv2_cmp_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; i < alen && i < blen; i++) {
		int c = sigv2_lower((unsigned char)a[i]) - sigv2_lower((unsigned char)b[i]);

		if (c)
			return c;
	}
	return alen < blen ? -1 : alen > blen;
}

static bool
sigv2_is_amz(const struct kvpair *h)
{
	return h->name_len > 6 && sigv2_cmp_nocase(h->name, 6, "x-amz-", 6) == 0;
}

/* Appends one "name:v1,v2\n" line for header idx's name (and all headers of that name). */
static int
sigv2_amz_line(const struct sigv2_request *req, const struct kvpair *h, struct buf *out)
{
	char name[128];
	size_t i;
	bool found;
	int rc;

	if (h->name_len >= sizeof(name))
		return CAIRN_E_TOOBIG;
	for (i = 0; i < h->name_len; i++)
		name[i] = (char)sigv2_lower((unsigned char)h->name[i]);
	name[i] = 0;
	rc = buf_append(out, name, h->name_len);
	if (rc == 0)
		rc = buf_append(out, ":", 1);
	if (rc == 0)
		rc = sigv2_header_values(req, name, out, &found);
	return rc ? rc : buf_append(out, "\n", 1);
}

/* Appends CanonicalizedAmzHeaders: distinct x-amz-* names in sorted order. */
static int
sigv2_amz_headers(const struct sigv2_request *req, bool skip_date, struct buf *out)
{
	const struct kvpair *last = NULL;
	int rc = 0;

	/* Selection by repeated minimum: n is small (request headers) and this needs no memory. */
	for (;;) {
		const struct kvpair *next = NULL;
		size_t i;

		for (i = 0; i < req->n_headers; i++) {
			const struct kvpair *h = &req->headers[i];

			if (!sigv2_is_amz(h) ||
			    (skip_date && sigv2_eq_nocase(h->name, h->name_len, "x-amz-date")))
				continue;
			if (last &&
			    sigv2_cmp_nocase(h->name, h->name_len, last->name, last->name_len) <= 0)
				continue;
			if (!next ||
			    sigv2_cmp_nocase(h->name, h->name_len, next->name, next->name_len) < 0)
				next = h;
		}
		if (!next)
			return rc;
		rc = sigv2_amz_line(req, next, out);
		if (rc < 0)
			return rc;
		last = next;
	}
}

static bool
sigv2_is_subresource(const struct kvpair *p)
{
	size_t i;

	for (i = 0; i < sizeof(sigv2_subresources) / sizeof(sigv2_subresources[0]); i++) {
		if (sigv2_eq(p->name, p->name_len, sigv2_subresources[i]))
			return true;
	}
	return false;
}

static int
sigv2_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen < blen ? -1 : alen > blen);
}

/* True when p sorts after q (by name, then by position, so the order is stable). */
static bool
sigv2_after(const struct kvpair *p, const struct kvpair *q)
{
	int c = sigv2_cmp(p->name, p->name_len, q->name, q->name_len);

	return c > 0 || (c == 0 && p > q);
}

/* Appends the path and "?sub&sub=value…" for the sub-resources present, sorted by name. */
static int
sigv2_resource(const struct sigv2_request *req, struct buf *out)
{
	const struct kvpair *last = NULL;
	int rc = buf_append(out, req->path, req->path_len);

	while (rc == 0) {
		const struct kvpair *next = NULL;
		size_t i;

		for (i = 0; i < req->n_params; i++) {
			const struct kvpair *p = &req->params[i];

			if (sigv2_is_subresource(p) && (!last || sigv2_after(p, last)) &&
			    (!next || sigv2_after(next, p)))
				next = p;
		}
		if (!next)
			break;
		rc = buf_append(out, last ? "&" : "?", 1);
		if (rc == 0)
			rc = buf_append(out, next->name, next->name_len);
		if (rc == 0 && next->value_len)
			rc = buf_append(out, "=", 1);
		if (rc == 0)
			rc = buf_append(out, next->value, next->value_len);
		last = next;
	}
	return rc;
}

/* Appends the value of header name and a newline. */
static int
sigv2_std_line(const struct sigv2_request *req, const char *name, struct buf *out)
{
	bool found;
	int rc = sigv2_header_values(req, name, out, &found);

	return rc ? rc : buf_append(out, "\n", 1);
}

static bool
sigv2_has_header(const struct sigv2_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n_headers; i++) {
		if (sigv2_eq_nocase(req->headers[i].name, req->headers[i].name_len, name))
			return true;
	}
	return false;
}

/* The Date line: Expires for presigned URLs, else Date, or per form when x-amz-date is sent. */
static int
sigv2_date_line(const struct sigv2_request *req, const struct sigv2_auth *a, enum sigv2_form form,
		struct buf *out)
{
	if (a->presigned)
		return buf_printf(out, "%lld\n", (long long)a->expires);
	if (!sigv2_has_header(req, "x-amz-date"))
		return sigv2_std_line(req, "date", out);
	if (form == SIGV2_FORM_AMZDATE_AS_DATE)
		return sigv2_std_line(req, "x-amz-date", out);
	return buf_append(out, "\n", 1);
}

static int
sigv2_sts_form(const struct sigv2_request *req, const struct sigv2_auth *a, enum sigv2_form form,
	       struct buf *out, enum s3_error *s3e)
{
	bool skip_date = form == SIGV2_FORM_AMZDATE_AS_DATE && !a->presigned;
	int rc;

	if (req->n_headers > SIGV2_MAX_HEADERS || req->n_params > URLENC_QUERY_MAX_PARAMS)
		return sigv2_fail(s3e, S3E_INVALID_REQUEST, CAIRN_E_TOOBIG);
	rc = buf_printf(out, "%s\n", req->method);
	if (rc == 0)
		rc = sigv2_std_line(req, "content-md5", out);
	if (rc == 0)
		rc = sigv2_std_line(req, "content-type", out);
	if (rc == 0)
		rc = sigv2_date_line(req, a, form, out);
	if (rc == 0)
		rc = sigv2_amz_headers(req, skip_date, out);
	if (rc == 0)
		rc = sigv2_resource(req, out);
	return rc < 0 ? sigv2_fail(s3e, S3E_INVALID_REQUEST, rc) : 0;
}

int
sigv2_string_to_sign(const struct sigv2_request *req, const struct sigv2_auth *a, struct buf *out,
		     enum s3_error *s3e)
{
	return sigv2_sts_form(req, a, SIGV2_FORM_STANDARD, out, s3e);
}

static int
sigv2_sign_form(const struct sigv2_request *req, const struct sigv2_auth *a, enum sigv2_form form,
		struct slice secret, uint8_t sig[SIGV2_SIG_LEN], enum s3_error *s3e)
{
	struct buf sts;
	unsigned int n = 0;
	int rc;

	buf_init(&sts, SIGV2_STRING_TO_SIGN_MAX);
	rc = sigv2_sts_form(req, a, form, &sts, s3e);
	if (rc == 0 && (!HMAC(EVP_sha1(), secret.p, (int)secret.len, sts.p, sts.len, sig, &n) ||
			n != SIGV2_SIG_LEN))
		abort();
	buf_fini(&sts);
	return rc;
}

int
sigv2_signature(const struct sigv2_request *req, const struct sigv2_auth *a, const char *secret,
		size_t secret_len, uint8_t sig[SIGV2_SIG_LEN], enum s3_error *s3e)
{
	struct slice key = {(const uint8_t *)secret, secret_len};

	return sigv2_sign_form(req, a, SIGV2_FORM_STANDARD, key, sig, s3e);
}

int
sigv2_verify(const struct sigv2_request *req, const struct sigv2_auth *a, const char *secret,
	     size_t secret_len, enum s3_error *s3e)
{
	struct slice key = {(const uint8_t *)secret, secret_len};
	uint8_t sig[SIGV2_SIG_LEN];
	int rc;

	rc = sigv2_sign_form(req, a, SIGV2_FORM_STANDARD, key, sig, s3e);
	if (rc < 0)
		return rc;
	if (CRYPTO_memcmp(sig, a->signature, SIGV2_SIG_LEN) == 0)
		return 0;
	if (!a->presigned && sigv2_has_header(req, "x-amz-date")) {
		rc = sigv2_sign_form(req, a, SIGV2_FORM_AMZDATE_AS_DATE, key, sig, s3e);
		if (rc < 0)
			return rc;
		if (CRYPTO_memcmp(sig, a->signature, SIGV2_SIG_LEN) == 0)
			return 0;
	}
	return sigv2_fail(s3e, S3E_SIGNATURE_DOES_NOT_MATCH, CAIRN_E_BADDIGEST);
}

/* The first header named name, or NULL. */
static const struct kvpair *
sigv2_header(const struct sigv2_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n_headers; i++) {
		if (sigv2_eq_nocase(req->headers[i].name, req->headers[i].name_len, name))
			return &req->headers[i];
	}
	return NULL;
}

int
sigv2_check_time(const struct sigv2_request *req, const struct sigv2_auth *a, int64_t now,
		 enum s3_error *s3e)
{
	const struct kvpair *h;
	int64_t t;

	if (a->presigned)
		return now > a->expires ? sigv2_fail(s3e, S3E_ACCESS_DENIED, CAIRN_E_INVAL) : 0;
	h = sigv2_header(req, "x-amz-date");
	if (!h)
		h = sigv2_header(req, "date");
	if (!h || httpdate_parse(h->value, h->value_len, &t) < 0)
		return sigv2_fail(s3e, S3E_ACCESS_DENIED, CAIRN_E_INVAL);
	if (t - now > SIGV2_MAX_SKEW || now - t > SIGV2_MAX_SKEW)
		return sigv2_fail(s3e, S3E_REQUEST_TIME_TOO_SKEWED, CAIRN_E_INVAL);
	return 0;
}
