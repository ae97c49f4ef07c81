/*
 * sigv4.c — AWS Signature Version 4 for S3. See sigv4.h for the flow; comments here say why.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/httpdate.h"
#include "cairn/sigv4.h"

static int
sigv4_fail(enum s3_error *s3e, enum s3_error e, int rc)
{
	if (s3e)
		*s3e = e;
	return rc;
}

/* ---- small string helpers over (p, len) ---- */

static bool
sigv4_eq(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(p, lit, len) == 0;
}

static bool
sigv4_starts(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len >= n && memcmp(p, lit, n) == 0;
}

static int
sigv4_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool
sigv4_eq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++) {
		if (sigv4_lower((unsigned char)a[i]) != sigv4_lower((unsigned char)b[i]))
			return false;
	}
	return true;
}

/* Copies p[0..len) into out[0..max] as a C string when 1 <= len <= max. */
static bool
sigv4_copy(char *out, size_t max, const char *p, size_t len)
{
	if (len == 0 || len > max || memchr(p, 0, len))
		return false;
	memcpy(out, p, len);
	out[len] = 0;
	return true;
}

/* ---- dates ---- */

static bool
sigv4_digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Validates a "YYYYMMDD" scope date. */
static bool
sigv4_is_date8(const char *s, size_t len)
{
	int y, m, d;
	int64_t t;

	return len == 8 && sigv4_digits(s, 4, &y) && sigv4_digits(s + 4, 2, &m) &&
	       sigv4_digits(s + 6, 2, &d) && httpdate_from_civil(y, m, d, 0, 0, 0, &t) == 0;
}

int
sigv4_parse_amz_date(const char *s, size_t len, int64_t *epoch)
{
	int y, mo, d, h, mi, se;

	if (len != SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
		return CAIRN_E_INVAL;
	if (!sigv4_digits(s, 4, &y) || !sigv4_digits(s + 4, 2, &mo) ||
	    !sigv4_digits(s + 6, 2, &d) || !sigv4_digits(s + 9, 2, &h) ||
	    !sigv4_digits(s + 11, 2, &mi) || !sigv4_digits(s + 13, 2, &se))
		return CAIRN_E_INVAL;
	return httpdate_from_civil(y, mo, d, h, mi, se, epoch);
}

int
sigv4_format_amz_date(int64_t epoch, char out[SIGV4_AMZ_DATE_LEN + 1])
{
	struct httpdate_tm tm;
	int i, v[6];
	static const int width[6] = {4, 2, 2, 2, 2, 2};
	char *p = out;

	if (httpdate_to_civil(epoch, &tm) < 0)
		return CAIRN_E_INVAL;
	v[0] = tm.year, v[1] = tm.month, v[2] = tm.day;
	v[3] = tm.hour, v[4] = tm.min, v[5] = tm.sec;
	for (i = 0; i < 6; i++) {
		int w, x = v[i];

		if (i == 3)
			*p++ = 'T';
		for (w = width[i] - 1; w >= 0; w--, x /= 10)
			p[w] = (char)('0' + x % 10);
		p += width[i];
	}
	*p++ = 'Z';
	*p = 0;
	return 0;
}

/* ---- parsing the Authorization header and presigned parameters ---- */

/* Parses "AK/YYYYMMDD/region/service/aws4_request" into a. */
static bool
sigv4_parse_credential(const char *p, size_t len, struct sigv4_auth *a)
{
	const char *part[5];
	size_t plen[5], i, start = 0, n = 0;

	for (i = 0; i <= len && n < 5; i++) {
		if (i == len || p[i] == '/') {
			part[n] = p + start;
			plen[n++] = i - start;
			start = i + 1;
		}
	}
	if (n != 5 || i != len + 1)
		return false;
	return sigv4_copy(a->access_key, SIGV4_ACCESS_KEY_MAX, part[0], plen[0]) &&
	       sigv4_is_date8(part[1], plen[1]) && sigv4_copy(a->date, 8, part[1], plen[1]) &&
	       sigv4_copy(a->region, SIGV4_REGION_MAX, part[2], plen[2]) &&
	       sigv4_copy(a->service, SIGV4_SERVICE_MAX, part[3], plen[3]) &&
	       sigv4_eq(part[4], plen[4], "aws4_request");
}

static bool
sigv4_is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* Checks "a;b;c": lowercase token names, no empty or repeated name, at most
 * SIGV4_SIGNED_HEADERS_COUNT names, "host" among them. */
static bool
sigv4_signed_headers_ok(const char *s)
{
	const char *name[SIGV4_SIGNED_HEADERS_COUNT];
	size_t nlen[SIGV4_SIGNED_HEADERS_COUNT], n = 0, i, j;
	bool host = false;

	for (i = 0;; i++) {
		size_t start = i;

		while (s[i] && s[i] != ';' && sigv4_is_token_char(s[i]))
			i++;
		if (i == start || (s[i] && s[i] != ';') || n == SIGV4_SIGNED_HEADERS_COUNT)
			return false;
		for (j = 0; j < n; j++) {
			if (nlen[j] == i - start && memcmp(name[j], s + start, nlen[j]) == 0)
				return false;
		}
		name[n] = s + start;
		nlen[n++] = i - start;
		host |= sigv4_eq(s + start, i - start, "host");
		if (!s[i])
			break;
	}
	return host;
}

static bool
sigv4_parse_signature(const char *p, size_t len, uint8_t sig[SIGV4_KEY_LEN])
{
	return len == 2 * SIGV4_KEY_LEN && hex_decode(p, SIGV4_KEY_LEN, sig) == 0;
}

/* Handles one "Name=value" component of the header; seen is a bit set of components. */
static bool
sigv4_header_component(const char *p, size_t len, struct sigv4_auth *a, unsigned *seen)
{
	if (sigv4_starts(p, len, "Credential=") && !(*seen & 1)) {
		*seen |= 1;
		return sigv4_parse_credential(p + 11, len - 11, a);
	}
	if (sigv4_starts(p, len, "SignedHeaders=") && !(*seen & 2)) {
		*seen |= 2;
		return sigv4_copy(a->signed_headers, SIGV4_SIGNED_HEADERS_MAX, p + 14, len - 14) &&
		       sigv4_signed_headers_ok(a->signed_headers);
	}
	if (sigv4_starts(p, len, "Signature=") && !(*seen & 4)) {
		*seen |= 4;
		return sigv4_parse_signature(p + 10, len - 10, a->signature);
	}
	return false;
}

int
sigv4_parse_header(const char *value, size_t len, struct sigv4_auth *out, enum s3_error *s3e)
{
	size_t alg = strlen(SIGV4_ALGORITHM), i, start;
	unsigned seen = 0;

	memset(out, 0, sizeof(*out));
	if (!sigv4_starts(value, len, SIGV4_ALGORITHM) || (len > alg && value[alg] != ' '))
		return sigv4_fail(s3e, S3E_INVALID_ARGUMENT, CAIRN_E_INVAL);
	if (len > SIGV4_AUTH_HEADER_MAX)
		return sigv4_fail(s3e, S3E_AUTHORIZATION_HEADER_MALFORMED, CAIRN_E_INVAL);
	/* Components separated by ',' with optional spaces; an empty one (",," or a trailing ',')
	 * is malformed. */
	for (i = alg; i < len; i++) {
		size_t end;

		while (i < len && value[i] == ' ')
			i++;
		start = i;
		while (i < len && value[i] != ',')
			i++;
		end = i;
		while (end > start && value[end - 1] == ' ')
			end--;
		if (!sigv4_header_component(value + start, end - start, out, &seen) ||
		    (i == len - 1 && value[i] == ','))
			return sigv4_fail(s3e, S3E_AUTHORIZATION_HEADER_MALFORMED, CAIRN_E_INVAL);
	}
	if (seen != 7)
		return sigv4_fail(s3e, S3E_AUTHORIZATION_HEADER_MALFORMED, CAIRN_E_INVAL);
	return 0;
}

static bool
sigv4_is_presign_param(const struct kvpair *kv)
{
	return sigv4_eq(kv->name, kv->name_len, "X-Amz-Algorithm") ||
	       sigv4_eq(kv->name, kv->name_len, "X-Amz-Credential") ||
	       sigv4_eq(kv->name, kv->name_len, "X-Amz-Signature");
}

bool
sigv4_is_presigned(const struct kvpair *params, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (sigv4_is_presign_param(&params[i]))
			return true;
	}
	return false;
}

/* The presigned parameters, in the bit order used by sigv4_parse_query(). */
static const char *const sigv4_query_names[] = {
    "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
    "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature",
};

static bool
sigv4_parse_expires(const char *p, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (len == 0 || len > 6)
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v < 1 || v > SIGV4_EXPIRES_MAX)
		return false;
	*out = v;
	return true;
}

static bool
sigv4_query_param(int which, const char *v, size_t len, struct sigv4_auth *a)
{
	int64_t t;

	switch (which) {
	case 0:
		return sigv4_eq(v, len, SIGV4_ALGORITHM);
	case 1:
		return sigv4_parse_credential(v, len, a);
	case 2:
		return sigv4_parse_amz_date(v, len, &t) == 0 &&
		       sigv4_copy(a->amz_date, SIGV4_AMZ_DATE_LEN, v, len);
	case 3:
		return sigv4_parse_expires(v, len, &a->expires);
	case 4:
		return sigv4_copy(a->signed_headers, SIGV4_SIGNED_HEADERS_MAX, v, len) &&
		       sigv4_signed_headers_ok(a->signed_headers);
	default:
		return sigv4_parse_signature(v, len, a->signature);
	}
}

int
sigv4_parse_query(const struct kvpair *params, size_t n, struct sigv4_auth *out, enum s3_error *s3e)
{
	const enum s3_error bad = S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR;
	unsigned seen = 0;
	size_t i;
	int k;

	memset(out, 0, sizeof(*out));
	out->presigned = true;
	for (i = 0; i < n; i++) {
		const struct kvpair *kv = &params[i];

		if (sigv4_eq(kv->name, kv->name_len, "X-Amz-Security-Token"))
			return sigv4_fail(s3e, S3E_INVALID_TOKEN, CAIRN_E_INVAL);
		for (k = 0; k < 6; k++) {
			if (sigv4_eq(kv->name, kv->name_len, sigv4_query_names[k]))
				break;
		}
		if (k == 6)
			continue;
		if ((seen & (1u << k)) || !sigv4_query_param(k, kv->value, kv->value_len, out))
			return sigv4_fail(s3e, bad, CAIRN_E_INVAL);
		seen |= 1u << k;
	}
	if (seen != 0x3f || memcmp(out->amz_date, out->date, 8) != 0)
		return sigv4_fail(s3e, bad, CAIRN_E_INVAL);
	return 0;
}

int
sigv4_auth_set_date(struct sigv4_auth *a, const char *s, size_t len, enum s3_error *s3e)
{
	int64_t t;

	if (sigv4_parse_amz_date(s, len, &t) < 0)
		return sigv4_fail(s3e, S3E_ACCESS_DENIED, CAIRN_E_INVAL);
	if (memcmp(s, a->date, 8) != 0)
		return sigv4_fail(s3e, S3E_AUTHORIZATION_HEADER_MALFORMED, CAIRN_E_INVAL);
	memcpy(a->amz_date, s, SIGV4_AMZ_DATE_LEN);
	a->amz_date[SIGV4_AMZ_DATE_LEN] = 0;
	return 0;
}

int
sigv4_check_scope(const struct sigv4_auth *a, const char *region, enum s3_error *s3e)
{
	enum s3_error bad = a->presigned ? S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR
					 : S3E_AUTHORIZATION_HEADER_MALFORMED;

	if (strcmp(a->service, "s3") != 0)
		return sigv4_fail(s3e, bad, CAIRN_E_INVAL);
	if (region && strcmp(a->region, region) != 0)
		return sigv4_fail(s3e, bad, CAIRN_E_INVAL);
	return 0;
}

int
sigv4_check_time(const struct sigv4_auth *a, int64_t now, enum s3_error *s3e)
{
	int64_t t;

	if (sigv4_parse_amz_date(a->amz_date, strlen(a->amz_date), &t) < 0)
		return sigv4_fail(s3e, S3E_ACCESS_DENIED, CAIRN_E_INVAL);
	if (!a->presigned) {
		if (t - now > SIGV4_MAX_SKEW || now - t > SIGV4_MAX_SKEW)
			return sigv4_fail(s3e, S3E_REQUEST_TIME_TOO_SKEWED, CAIRN_E_INVAL);
		return 0;
	}
	if (t - now > SIGV4_MAX_SKEW || now - t > (int64_t)a->expires)
		return sigv4_fail(s3e, S3E_ACCESS_DENIED, CAIRN_E_INVAL);
	return 0;
}

void
sigv4_scope(const struct sigv4_auth *a, char out[SIGV4_SCOPE_SIZE])
{
	size_t n = 0, k;
	const char *parts[4] = {a->date, a->region, a->service, "aws4_request"};

	for (k = 0; k < 4; k++) {
		size_t len = strlen(parts[k]);

		if (k)
			out[n++] = '/';
		memcpy(out + n, parts[k], len);
		n += len;
	}
	out[n] = 0;
}

/* ---- canonical request ---- */

int
sigv4_canonical_uri(const char *path, size_t len, enum sigv4_uri_mode mode, struct buf *out)
{
	struct buf dec;
	int rc;

	if (len == 0)
		return buf_append(out, "/", 1);
	if (mode == SIGV4_URI_RAW)
		return buf_append(out, path, len);
	/* S3 signs the URI-encoded path once (no double encoding, no dot-segment removal), so
	 * decode what the client sent and encode it the AWS way. */
	buf_init(&dec, len);
	rc = urlenc_decode(path, len, 0, &dec);
	if (rc == 0)
		rc = urlenc_encode((const char *)dec.p, dec.len, URLENC_KEEP_SLASH, out);
	buf_fini(&dec);
	return rc;
}

struct sigv4_qpair {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

static int
sigv4_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
sigv4_qpair_cmp(const void *x, const void *y)
{
	const struct sigv4_qpair *a = x, *b = y;
	int c = sigv4_bytes_cmp(a->name, a->name_len, b->name, b->name_len);

	return c ? c : sigv4_bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

/* Encodes every kept pair into enc as "name" "value" back to back, recording lengths in q;
 * pointers are filled in afterwards because enc may move while it grows. */
static int
sigv4_encode_pairs(const struct kvpair *params, size_t n, bool skip_signature, struct buf *enc,
		   struct sigv4_qpair *q, size_t *nq)
{
	size_t i, k = 0, off = 0;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		const struct kvpair *kv = &params[i];

		if (skip_signature && sigv4_eq(kv->name, kv->name_len, "X-Amz-Signature"))
			continue;
		rc = urlenc_encode(kv->name, kv->name_len, 0, enc);
		q[k].name_len = enc->len - off;
		off = enc->len;
		if (rc == 0)
			rc = urlenc_encode(kv->value, kv->value_len, 0, enc);
		q[k].value_len = enc->len - off;
		off = enc->len;
		k++;
	}
	*nq = k;
	return rc;
}

int
sigv4_canonical_query(const struct kvpair *params, size_t n, bool skip_signature, struct buf *out)
{
	struct sigv4_qpair q[URLENC_QUERY_MAX_PARAMS];
	struct buf enc;
	size_t i, nq, off = 0;
	int rc;

	if (n > URLENC_QUERY_MAX_PARAMS)
		return CAIRN_E_TOOBIG;
	buf_init(&enc, out->max);
	rc = sigv4_encode_pairs(params, n, skip_signature, &enc, q, &nq);
	for (i = 0; i < nq && rc == 0; i++) {
		q[i].name = (const char *)enc.p + off;
		q[i].value = q[i].name + q[i].name_len;
		off += q[i].name_len + q[i].value_len;
	}
	if (rc == 0)
		qsort(q, nq, sizeof(q[0]), sigv4_qpair_cmp);
	for (i = 0; i < nq && rc == 0; i++) {
		if (i)
			rc = buf_append(out, "&", 1);
		if (rc == 0)
			rc = buf_append(out, q[i].name, q[i].name_len);
		if (rc == 0)
			rc = buf_append(out, "=", 1);
		if (rc == 0)
			rc = buf_append(out, q[i].value, q[i].value_len);
	}
	buf_fini(&enc);
	return rc;
}

/* Appends value trimmed, with runs of spaces and tabs collapsed to one space (as the SDKs do). */
static int
sigv4_append_trimmed(struct buf *out, const char *v, size_t len)
{
	size_t i = 0;
	bool pending_space = false, any = false;
	int rc = 0;

	for (i = 0; i < len && rc == 0; i++) {
		if (v[i] == ' ' || v[i] == '\t') {
			pending_space = any;
			continue;
		}
		if (pending_space)
			rc = buf_append(out, " ", 1);
		if (rc == 0)
			rc = buf_append(out, v + i, 1);
		pending_space = false;
		any = true;
	}
	return rc;
}

/* Appends "name:v1,v2\n" for the request headers named name[0..len). Returns 0, CAIRN_E_INVAL
 * when there is none, CAIRN_E_TOOBIG past the caps. */
static int
sigv4_header_line(const struct kvpair *headers, size_t n, const char *name, size_t len,
		  struct buf *out)
{
	size_t i, found = 0, start;
	int rc = buf_append(out, name, len);

	if (rc == 0)
		rc = buf_append(out, ":", 1);
	start = out->len;
	for (i = 0; i < n && rc == 0; i++) {
		const struct kvpair *h = &headers[i];

		if (!sigv4_eq_nocase(h->name, h->name_len, name, len))
			continue;
		if (h->value_len > SIGV4_HEADER_VALUE_MAX)
			return CAIRN_E_TOOBIG;
		if (found++)
			rc = buf_append(out, ",", 1);
		if (rc == 0)
			rc = sigv4_append_trimmed(out, h->value, h->value_len);
	}
	if (rc == 0 && out->len - start > SIGV4_HEADER_VALUE_MAX)
		rc = CAIRN_E_TOOBIG;
	if (rc == 0 && !found)
		rc = CAIRN_E_INVAL;
	return rc ? rc : buf_append(out, "\n", 1);
}

int
sigv4_canonical_headers(const struct kvpair *headers, size_t n, const char *signed_headers,
			struct buf *out, enum s3_error *s3e)
{
	const char *p = signed_headers;
	int rc;

	if (!sigv4_signed_headers_ok(signed_headers))
		return sigv4_fail(s3e, S3E_AUTHORIZATION_HEADER_MALFORMED, CAIRN_E_INVAL);
	for (;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		rc = sigv4_header_line(headers, n, p, len, out);
		if (rc == CAIRN_E_INVAL)
			return sigv4_fail(s3e, S3E_SIGNATURE_DOES_NOT_MATCH, rc);
		if (rc < 0)
			return sigv4_fail(s3e, S3E_INVALID_REQUEST, rc);
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int
sigv4_append_line(struct buf *out, const char *s)
{
	int rc = buf_append_str(out, s);

	return rc ? rc : buf_append(out, "\n", 1);
}

int
sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_auth *a,
			enum sigv4_uri_mode mode, struct buf *out, enum s3_error *s3e)
{
	int rc = sigv4_append_line(out, req->method);

	if (rc == 0) {
		rc = sigv4_canonical_uri(req->path, req->path_len, mode, out);
		if (rc == CAIRN_E_INVAL)
			return sigv4_fail(s3e, S3E_INVALID_URI, rc);
	}
	if (rc == 0)
		rc = buf_append(out, "\n", 1);
	if (rc == 0)
		rc = sigv4_canonical_query(req->params, req->n_params, a->presigned, out);
	if (rc == 0)
		rc = buf_append(out, "\n", 1);
	if (rc < 0)
		return sigv4_fail(s3e, S3E_INVALID_REQUEST, rc);
	rc = sigv4_canonical_headers(req->headers, req->n_headers, a->signed_headers, out, s3e);
	if (rc < 0)
		return rc;
	rc = buf_append(out, "\n", 1);
	if (rc == 0)
		rc = sigv4_append_line(out, a->signed_headers);
	if (rc == 0)
		rc = buf_append_str(out, req->payload_hash);
	if (rc < 0)
		return sigv4_fail(s3e, S3E_INVALID_REQUEST, rc);
	return 0;
}

/* ---- crypto ---- */

void
sigv4_sha256_hex(const void *p, size_t len, char out[2 * SIGV4_KEY_LEN + 1])
{
	uint8_t md[SIGV4_KEY_LEN];
	unsigned int mdlen = 0;

	if (!EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != SIGV4_KEY_LEN)
		abort();
	hex_encode(md, SIGV4_KEY_LEN, out);
}

void
sigv4_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t len,
	   uint8_t out[SIGV4_KEY_LEN])
{
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), key, (int)key_len, msg, len, out, &n) || n != SIGV4_KEY_LEN)
		abort();
}

int
sigv4_string_to_sign(const struct sigv4_auth *a, const uint8_t *canonical_request, size_t len,
		     struct buf *out)
{
	char scope[SIGV4_SCOPE_SIZE], hash[2 * SIGV4_KEY_LEN + 1];

	sigv4_scope(a, scope);
	sigv4_sha256_hex(canonical_request, len, hash);
	return buf_printf(out, "%s\n%s\n%s\n%s", SIGV4_ALGORITHM, a->amz_date, scope, hash);
}

void
sigv4_signing_key(const char *secret, size_t secret_len, const char *date, const char *region,
		  const char *service, uint8_t key[SIGV4_KEY_LEN])
{
	uint8_t k[SIGV4_KEY_LEN];
	uint8_t *first = malloc(secret_len + 4);

	if (!first)
		abort();
	memcpy(first, "AWS4", 4);
	memcpy(first + 4, secret, secret_len);
	sigv4_hmac(first, secret_len + 4, date, strlen(date), k);
	OPENSSL_cleanse(first, secret_len + 4);
	free(first);
	sigv4_hmac(k, sizeof(k), region, strlen(region), k);
	sigv4_hmac(k, sizeof(k), service, strlen(service), k);
	sigv4_hmac(k, sizeof(k), "aws4_request", 12, key);
	OPENSSL_cleanse(k, sizeof(k));
}

int
sigv4_signature(const struct sigv4_request *req, const struct sigv4_auth *a,
		enum sigv4_uri_mode mode, const uint8_t key[SIGV4_KEY_LEN],
		uint8_t sig[SIGV4_KEY_LEN], enum s3_error *s3e)
{
	struct buf creq, sts;
	int rc;

	buf_init(&creq, SIGV4_CANONICAL_MAX);
	buf_init(&sts, SIGV4_CANONICAL_MAX);
	rc = sigv4_canonical_request(req, a, mode, &creq, s3e);
	if (rc < 0)
		goto out_fini;
	rc = sigv4_string_to_sign(a, creq.p, creq.len, &sts);
	if (rc < 0) {
		sigv4_fail(s3e, S3E_INVALID_REQUEST, rc);
		goto out_fini;
	}
	sigv4_hmac(key, SIGV4_KEY_LEN, sts.p, sts.len, sig);
out_fini:
	buf_fini(&sts);
	buf_fini(&creq);
	return rc;
}

/* True when the RAW canonical URI differs from the NORMALIZED one, i.e. worth a second try. */
static bool
sigv4_raw_path_differs(const struct sigv4_request *req)
{
	struct buf norm;
	bool differs;

	buf_init(&norm, 3 * req->path_len + 1);
	differs = sigv4_canonical_uri(req->path, req->path_len, SIGV4_URI_NORMALIZED, &norm) == 0 &&
		  (norm.len != req->path_len || memcmp(norm.p, req->path, norm.len) != 0);
	buf_fini(&norm);
	return differs && req->path_len > 0;
}

int
sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *a,
	     const uint8_t key[SIGV4_KEY_LEN], enum s3_error *s3e)
{
	uint8_t sig[SIGV4_KEY_LEN];
	int rc;

	rc = sigv4_signature(req, a, SIGV4_URI_NORMALIZED, key, sig, s3e);
	if (rc < 0)
		return rc;
	if (CRYPTO_memcmp(sig, a->signature, SIGV4_KEY_LEN) == 0)
		return 0;
	if (sigv4_raw_path_differs(req)) {
		rc = sigv4_signature(req, a, SIGV4_URI_RAW, key, sig, s3e);
		if (rc < 0)
			return rc;
		if (CRYPTO_memcmp(sig, a->signature, SIGV4_KEY_LEN) == 0)
			return 0;
	}
	return sigv4_fail(s3e, S3E_SIGNATURE_DOES_NOT_MATCH, CAIRN_E_BADDIGEST);
}
