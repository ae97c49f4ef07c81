/*
 * sigv2.h — AWS Signature Version 2 for S3 (legacy clients): "Authorization: AWS AKID:sig"
 * headers and presigned query strings (AWSAccessKeyId, Signature, Expires), HMAC-SHA1.
 *
 * StringToSign = method "\n" Content-MD5 "\n" Content-Type "\n" Date "\n"
 *                CanonicalizedAmzHeaders CanonicalizedResource
 * where Date is the Date header, "" when an x-amz-date header is present, or the Expires value
 * for presigned URLs; CanonicalizedAmzHeaders is one "name:value\n" per distinct x-amz-* header
 * (lowercase names sorted, repeated values joined with ',', values trimmed);
 * CanonicalizedResource is the raw request path (as received, percent-encoded) followed by the
 * sub-resources present in the query (acl, delete, lifecycle, location, partNumber, tagging,
 * uploadId, uploads, versionId, versioning, versions, response-* overrides, …) sorted by name, as
 * "?name" or "?name=value" with the decoded value, joined by '&'.
 *
 * Pure: no I/O, no globals. Never log signatures or secrets.
 */
#ifndef CAIRN_SIGV2_H
#define CAIRN_SIGV2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/s3err.h"
#include "cairn/urlenc.h"

#define SIGV2_SIG_LEN 20 /* HMAC-SHA1 */
#define SIGV2_ACCESS_KEY_MAX 128
#define SIGV2_MAX_SKEW 900 /* seconds */
#define SIGV2_STRING_TO_SIGN_MAX (64 * 1024)
#define SIGV2_MAX_HEADERS 256 /* request headers considered; more → S3E_INVALID_REQUEST */

struct sigv2_auth {
	bool presigned;
	char access_key[SIGV2_ACCESS_KEY_MAX + 1];
	uint8_t signature[SIGV2_SIG_LEN];
	int64_t expires; /* presigned only: Unix seconds */
};

/* What is signed. Pointers borrowed for the call; see struct sigv4_request for the meanings. */
struct sigv2_request {
	const char *method;
	const char *path; /* raw, percent-encoded, without the query */
	size_t path_len;
	const struct kvpair *params; /* decoded query parameters */
	size_t n_params;
	const struct kvpair *headers; /* all request headers */
	size_t n_headers;
};

/* Parses "AWS <access key>:<base64 signature>". Returns 0 or CAIRN_E_INVAL with *s3e =
 * S3E_INVALID_ARGUMENT (malformed: AWS says "AWS authorization header is invalid. Expected
 * AwsAccessKeyId:signature") — including a signature that is not base64 of 20 bytes. */
int sigv2_parse_header(const char *value, size_t len, struct sigv2_auth *out, enum s3_error *s3e);

/* True when params contain both AWSAccessKeyId and Signature. */
bool sigv2_is_presigned(const struct kvpair *params, size_t n);

/* Parses AWSAccessKeyId, Signature (base64) and Expires (decimal Unix seconds) from decoded
 * query parameters. Returns 0 or CAIRN_E_INVAL with *s3e = S3E_ACCESS_DENIED (missing or
 * malformed parameter, as AWS answers "Query-string authentication requires the Signature,
 * Expires and AWSAccessKeyId parameters"). */
int sigv2_parse_query(const struct kvpair *params, size_t n, struct sigv2_auth *out,
		      enum s3_error *s3e);

/* Appends the StringToSign for req to out (cap it at SIGV2_STRING_TO_SIGN_MAX). For presigned
 * auth the Expires value replaces the Date line. req->path is the path-style resource
 * ("/bucket/key" as received); for virtual-hosted requests the caller passes "/bucket" + path.
 * Returns 0 or CAIRN_E_TOOBIG (*s3e = S3E_INVALID_REQUEST: out's cap, more than
 * SIGV2_MAX_HEADERS headers or URLENC_QUERY_MAX_PARAMS parameters, an x-amz-* name over 127
 * bytes). */
int sigv2_string_to_sign(const struct sigv2_request *req, const struct sigv2_auth *a,
			 struct buf *out, enum s3_error *s3e);

/* Checks the request time. Header auth: the x-amz-date header (else Date) parsed as an HTTP date
 * must be within SIGV2_MAX_SKEW of now (missing/invalid → S3E_ACCESS_DENIED, skew →
 * S3E_REQUEST_TIME_TOO_SKEWED). Presigned: now must not be past a->expires (S3E_ACCESS_DENIED).
 * Returns 0 or CAIRN_E_INVAL. */
int sigv2_check_time(const struct sigv2_request *req, const struct sigv2_auth *a, int64_t now,
		     enum s3_error *s3e);

/* Computes HMAC-SHA1(secret, string to sign of req) into sig. Returns 0 or the errors of
 * sigv2_string_to_sign(). */
int sigv2_signature(const struct sigv2_request *req, const struct sigv2_auth *a, const char *secret,
		    size_t secret_len, uint8_t sig[SIGV2_SIG_LEN], enum s3_error *s3e);

/* Verifies a->signature in constant time. When an x-amz-date header is present and the standard
 * form does not match, the form of AWS's own SigV2 examples is tried too (x-amz-date's value on
 * the Date line, not repeated among the amz headers). Returns 0; CAIRN_E_BADDIGEST with *s3e =
 * S3E_SIGNATURE_DOES_NOT_MATCH; or the errors of sigv2_string_to_sign(). */
int sigv2_verify(const struct sigv2_request *req, const struct sigv2_auth *a, const char *secret,
		 size_t secret_len, enum s3_error *s3e);

#endif
