/*
 * sigv4.h — AWS Signature Version 4 for S3: parsing the Authorization header and presigned-URL
 * query parameters, building the canonical request and string to sign, deriving the signing key,
 * verifying signatures in constant time, and the date / clock-skew checks.
 *
 * Pure: no I/O, no globals, no locks; every input size is capped (see the *_MAX constants) and
 * all outputs go to caller-owned fixed arrays or capped struct bufs. It does not look up secret
 * keys (the caller does, by access key), does not read the body (for aws-chunked bodies see
 * awschunked.h), and does not decide which errors are logged (never log a signature, a secret or a
 * signing key).
 *
 * Typical header-auth flow (the caller holds the request's headers and decoded query params as
 * struct kvpair arrays, see urlenc.h):
 *
 *   struct sigv4_auth a;
 *   enum s3_error e;
 *   sigv4_parse_header(authz, authz_len, &a, &e);        // "AWS4-HMAC-SHA256 Credential=…"
 *   sigv4_auth_set_date(&a, xamzdate, xamzdate_len, &e);  // the X-Amz-Date header
 *   sigv4_check_scope(&a, "us-east-1", &e);
 *   sigv4_check_time(&a, time(NULL), &e);
 *   secret = lookup(a.access_key)                         // unknown → S3E_INVALID_ACCESS_KEY_ID
 *   sigv4_signing_key(secret, secret_len, a.date, a.region, a.service, key);
 *   sigv4_verify(&req, &a, key, &e);                      // → S3E_SIGNATURE_DOES_NOT_MATCH
 *
 * Presigned URLs: sigv4_is_presigned(params) → sigv4_parse_query() (fills amz_date and expires
 * too) → sigv4_check_scope → sigv4_check_time → key → sigv4_verify with payload_hash
 * "UNSIGNED-PAYLOAD".
 *
 * Every function that can fail for a client-visible reason takes `enum s3_error *s3e` (may be
 * NULL): on failure it receives the S3 error to send; on success it is left untouched.
 */
#ifndef CAIRN_SIGV4_H
#define CAIRN_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/s3err.h"
#include "cairn/urlenc.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIGV4_AUTH_HEADER_MAX 4096    /* Authorization header value, bytes */
#define SIGV4_ACCESS_KEY_MAX 128      /* access key id, bytes */
#define SIGV4_REGION_MAX 32	      /* region name in the scope */
#define SIGV4_SERVICE_MAX 16	      /* service name in the scope ("s3") */
#define SIGV4_SIGNED_HEADERS_MAX 1024 /* the "a;b;c" list, bytes */
#define SIGV4_SIGNED_HEADERS_COUNT 64 /* names in that list */
#define SIGV4_HEADER_VALUE_MAX 8192   /* one signed header's value, bytes */
#define SIGV4_AMZ_DATE_LEN 16	      /* "YYYYMMDDTHHMMSSZ" */
#define SIGV4_EXPIRES_MAX 604800      /* presigned X-Amz-Expires upper bound (7 days) */
#define SIGV4_MAX_SKEW 900	      /* allowed clock skew, seconds (15 minutes, as AWS) */
#define SIGV4_KEY_LEN 32	      /* signing key and signature, bytes */
/* "YYYYMMDD/" region "/" service "/aws4_request" and a NUL */
#define SIGV4_SCOPE_SIZE (9 + SIGV4_REGION_MAX + 1 + SIGV4_SERVICE_MAX + 13 + 1)
/* Cap suggested for the canonical request / string-to-sign bufs passed below. */
#define SIGV4_CANONICAL_MAX (256 * 1024)

/* A parsed SigV4 authorization, from the header or from presigned query parameters. All strings
 * are NUL-terminated copies (nothing borrowed). */
struct sigv4_auth {
	bool presigned;
	char access_key[SIGV4_ACCESS_KEY_MAX + 1];
	char date[9]; /* YYYYMMDD of the credential scope */
	char region[SIGV4_REGION_MAX + 1];
	char service[SIGV4_SERVICE_MAX + 1];
	char signed_headers[SIGV4_SIGNED_HEADERS_MAX + 1]; /* "host;range;x-amz-date" as sent */
	uint8_t signature[SIGV4_KEY_LEN];
	char amz_date[SIGV4_AMZ_DATE_LEN + 1]; /* request time; "" until set */
	uint32_t expires;		       /* presigned only: X-Amz-Expires, 1..604800 */
};

/* What is signed. All pointers are borrowed for the duration of the call. */
struct sigv4_request {
	const char *method;	      /* "GET", "PUT", … NUL-terminated */
	const char *path;	      /* raw request path as received: percent-encoded, with */
	size_t path_len;	      /* the leading '/', without '?' and the query */
	const struct kvpair *params;  /* decoded query parameters, any order; may be NULL */
	size_t n_params;	      /*   when n_params is 0 */
	const struct kvpair *headers; /* all request headers, names in any case, any order; */
	size_t n_headers;	      /*   repeated names allowed (values joined with ',') */
	const char *payload_hash;     /* the x-amz-content-sha256 value (hex SHA-256, */
	/* "UNSIGNED-PAYLOAD" or a STREAMING-* value); */
	/* "UNSIGNED-PAYLOAD" for presigned URLs */
};

/* How the canonical URI is formed from req->path. */
enum sigv4_uri_mode {
	SIGV4_URI_NORMALIZED, /* percent-decode the path, then AWS URI-encode it once, keeping '/'
			       */
	SIGV4_URI_RAW,	      /* the path bytes exactly as received */
};

/* Parses an Authorization header value
 *   "AWS4-HMAC-SHA256 Credential=AK/YYYYMMDD/region/service/aws4_request,
 *    SignedHeaders=a;b;c, Signature=<64 hex>"
 * (the three components in any order, separated by ',' and optional spaces, each exactly once).
 * Fills *out (presigned = false, amz_date = ""). Returns 0 or CAIRN_E_INVAL with *s3e =
 * S3E_INVALID_ARGUMENT (another algorithm) or S3E_AUTHORIZATION_HEADER_MALFORMED (anything
 * malformed or over a cap: missing/duplicate component, bad credential scope, terminal not
 * "aws4_request", SignedHeaders not lowercase ';'-separated unique names, no "host" in
 * SignedHeaders, signature not 64 hex digits). */
int sigv4_parse_header(const char *value, size_t len, struct sigv4_auth *out, enum s3_error *s3e);

/* True when params carry presigned SigV4 parameters (an X-Amz-Algorithm, X-Amz-Credential or
 * X-Amz-Signature parameter is present). */
bool sigv4_is_presigned(const struct kvpair *params, size_t n);

/* Parses presigned-URL parameters X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders and X-Amz-Signature (decoded values) into *out (presigned = true). Returns
 * 0 or CAIRN_E_INVAL with *s3e = S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR (a parameter missing,
 * repeated or malformed, algorithm not AWS4-HMAC-SHA256, X-Amz-Expires not in 1..604800, date of
 * X-Amz-Date differing from the scope date) or S3E_INVALID_TOKEN (X-Amz-Security-Token present:
 * cairn issues no session tokens). */
int sigv4_parse_query(const struct kvpair *params, size_t n, struct sigv4_auth *out,
		      enum s3_error *s3e);

/* Sets a->amz_date from the X-Amz-Date header value s[0..len) (header auth). Returns 0 or
 * CAIRN_E_INVAL with *s3e = S3E_ACCESS_DENIED when s is not a valid YYYYMMDDTHHMMSSZ (AWS:
 * "AWS authentication requires a valid Date or x-amz-date header"), or
 * S3E_AUTHORIZATION_HEADER_MALFORMED when its date differs from the credential scope date. */
int sigv4_auth_set_date(struct sigv4_auth *a, const char *s, size_t len, enum s3_error *s3e);

/* Checks the credential scope: service must be "s3"; when region is not NULL the scope region
 * must equal it. Returns 0 or CAIRN_E_INVAL with *s3e = S3E_AUTHORIZATION_HEADER_MALFORMED
 * (S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR for presigned). */
int sigv4_check_scope(const struct sigv4_auth *a, const char *region, enum s3_error *s3e);

/* Checks a->amz_date against now (Unix seconds). Header auth: |now - t| must be at most
 * SIGV4_MAX_SKEW, else S3E_REQUEST_TIME_TOO_SKEWED. Presigned: t may not be more than
 * SIGV4_MAX_SKEW in the future (S3E_ACCESS_DENIED, "not yet valid") and now may not be past
 * t + expires (S3E_ACCESS_DENIED, "Request has expired"). An unset or invalid amz_date gives
 * S3E_ACCESS_DENIED. Returns 0 or CAIRN_E_INVAL. */
int sigv4_check_time(const struct sigv4_auth *a, int64_t now, enum s3_error *s3e);

/* Parses an ISO 8601 basic timestamp "YYYYMMDDTHHMMSSZ" (exactly 16 characters, UTC, calendar-
 * checked, years 1970..9999) into Unix seconds. Returns 0 or CAIRN_E_INVAL. */
int sigv4_parse_amz_date(const char *s, size_t len, int64_t *epoch);

/* Formats Unix seconds (0 .. 253402300799) as "YYYYMMDDTHHMMSSZ" plus NUL into out. Returns 0 or
 * CAIRN_E_INVAL when epoch is out of that range. */
int sigv4_format_amz_date(int64_t epoch, char out[SIGV4_AMZ_DATE_LEN + 1]);

/* Writes "YYYYMMDD/region/service/aws4_request" and a NUL into out[SIGV4_SCOPE_SIZE]. */
void sigv4_scope(const struct sigv4_auth *a, char out[SIGV4_SCOPE_SIZE]);

/* Appends the canonical URI for path[0..len) (see enum sigv4_uri_mode) to out. An empty path
 * gives "/". Returns 0, CAIRN_E_INVAL (bad percent escape or %00, NORMALIZED mode only) or
 * CAIRN_E_TOOBIG (out's maximum). */
int sigv4_canonical_uri(const char *path, size_t len, enum sigv4_uri_mode mode, struct buf *out);

/* Appends the canonical query string: each decoded (name, value) AWS URI-encoded (no '/' kept),
 * joined as name=value, sorted by encoded name then encoded value (byte order), joined by '&'.
 * When skip_signature is true, X-Amz-Signature is left out (presigned URLs). Returns 0 or
 * CAIRN_E_TOOBIG (out's maximum, or more than URLENC_QUERY_MAX_PARAMS parameters). */
int sigv4_canonical_query(const struct kvpair *params, size_t n, bool skip_signature,
			  struct buf *out);

/* Appends the canonical headers block for the names in signed_headers ("a;b;c"): for each name,
 * in the list's order, "name:value\n" where value is the request's values for that name (case-
 * insensitive match) joined with ',', each trimmed and with runs of spaces collapsed to one.
 * Returns 0; CAIRN_E_INVAL with *s3e = S3E_SIGNATURE_DOES_NOT_MATCH when a signed header is
 * absent from headers, or S3E_AUTHORIZATION_HEADER_MALFORMED when the list is malformed;
 * CAIRN_E_TOOBIG with *s3e = S3E_INVALID_REQUEST when a value passes SIGV4_HEADER_VALUE_MAX or
 * out's maximum is reached. */
int sigv4_canonical_headers(const struct kvpair *headers, size_t n, const char *signed_headers,
			    struct buf *out, enum s3_error *s3e);

/* Appends the whole canonical request
 *   method \n canonical-uri \n canonical-query \n canonical-headers \n signed-headers \n
 *   payload-hash
 * to out. Returns 0 or the errors of the three functions above (CAIRN_E_INVAL / CAIRN_E_TOOBIG;
 * a bad path escape gives S3E_INVALID_URI). */
int sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_auth *a,
			    enum sigv4_uri_mode mode, struct buf *out, enum s3_error *s3e);

/* Appends "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(SHA-256(canonical_request)) to out.
 * Returns 0 or CAIRN_E_TOOBIG. */
int sigv4_string_to_sign(const struct sigv4_auth *a, const uint8_t *canonical_request, size_t len,
			 struct buf *out);

/* Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request") into key. date is "YYYYMMDD". Intermediate copies of the secret are wiped.
 * The key is as sensitive as the secret: wipe it (OPENSSL_cleanse) when done. Cannot fail. */
void sigv4_signing_key(const char *secret, size_t secret_len, const char *date, const char *region,
		       const char *service, uint8_t key[SIGV4_KEY_LEN]);

/* HMAC-SHA256 of msg[0..len) under key → out. Cannot fail (aborts if OpenSSL fails). */
void sigv4_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t len,
		uint8_t out[SIGV4_KEY_LEN]);

/* SHA-256 of p[0..len) as 64 lowercase hex digits and a NUL. */
void sigv4_sha256_hex(const void *p, size_t len, char out[2 * SIGV4_KEY_LEN + 1]);

/* Computes the signature of req under the signing key into sig (canonical request → string to
 * sign → HMAC). a->amz_date must be set. Returns 0 or the errors of sigv4_canonical_request().
 * Allocates two capped bufs internally (SIGV4_CANONICAL_MAX) and frees them. */
int sigv4_signature(const struct sigv4_request *req, const struct sigv4_auth *a,
		    enum sigv4_uri_mode mode, const uint8_t key[SIGV4_KEY_LEN],
		    uint8_t sig[SIGV4_KEY_LEN], enum s3_error *s3e);

/* Verifies a->signature for req under key, comparing in constant time. The canonical URI is tried
 * SIGV4_URI_NORMALIZED first, then SIGV4_URI_RAW if that differs (clients that encode the path
 * differently from AWS, e.g. '!' as "%21" or '~' as "%7E", still verify). Returns 0 when the
 * signature matches; CAIRN_E_BADDIGEST with *s3e = S3E_SIGNATURE_DOES_NOT_MATCH when it does not;
 * or the errors of sigv4_canonical_request(). */
int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *a,
		 const uint8_t key[SIGV4_KEY_LEN], enum s3_error *s3e);

#endif
