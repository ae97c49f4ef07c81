/*
 * auth.h — who sent an S3 request: SigV4 (Authorization header or presigned query) and SigV2
 * (header or presigned query) checks wired to a credential lookup, and how the body's integrity
 * is to be verified afterwards (payload.h).
 *
 * The signature and time checks themselves live in sigv4.h / sigv2.h; this module decides which
 * applies, asks the caller's lookup function for the secret, and translates the outcome into one
 * enum s3_error. It does no I/O of its own. The one state it keeps between calls is a process-wide
 * cache of SigV4 signing keys (sigv4_cache.h, 256 entries, thread-safe, wiped at exit): the secret
 * is still looked up for every request and the key is re-derived when it changed.
 *
 * Body hashing: with SigV4 the x-amz-content-sha256 header tells how the body is protected:
 *   a hex SHA-256      → AUTH_PAYLOAD_SHA256 (compare after the body, XAmzContentSHA256Mismatch)
 *   UNSIGNED-PAYLOAD   → AUTH_PAYLOAD_UNSIGNED
 *   STREAMING-*        → AUTH_PAYLOAD_CHUNKED (aws-chunked framing, awschunked.h)
 *   absent             → the signature is checked against the hash of the empty payload (curl's
 *                        --aws-sigv4 signs so) and the body is treated as unsigned; a mismatch
 *                        on a request with a body gets InvalidRequest (S3: the header is
 *                        required), without a body SignatureDoesNotMatch.
 * SigV2 and presigned requests carry unsigned bodies.
 */
#ifndef CAIRN_AUTH_H
#define CAIRN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/awschunked.h"
#include "cairn/index.h"
#include "cairn/s3err.h"
#include "cairn/s3req.h"
#include "cairn/sigv4.h"

#define AUTH_SECRET_MAX 128

/* A principal known to the server. */
struct auth_identity {
	char user[INDEX_OWNER_MAX + 1]; /* "root" for the root credentials */
	bool is_root;
	char secret[AUTH_SECRET_MAX + 1]; /* wiped by auth_result_wipe() */
};

/* Finds the identity for access_key. Returns 0 and fills *out, or CAIRN_E_NOTFOUND (→
 * InvalidAccessKeyId), or another error (→ InternalError). Called once per request. */
typedef int (*auth_lookup_fn)(void *arg, const char *access_key, struct auth_identity *out);

enum auth_payload {
	AUTH_PAYLOAD_UNSIGNED,
	AUTH_PAYLOAD_SHA256,
	AUTH_PAYLOAD_CHUNKED,
};

struct auth_result {
	char user[INDEX_OWNER_MAX + 1];
	bool is_root;
	enum auth_payload payload;
	uint8_t payload_sha256[32];	    /* AUTH_PAYLOAD_SHA256: what the body must hash to */
	enum awschunked_mode chunked;	    /* AUTH_PAYLOAD_CHUNKED: the framing variant */
	struct sigv4_auth v4;		    /* AUTH_PAYLOAD_CHUNKED signed modes: the seed */
	uint8_t signing_key[SIGV4_KEY_LEN]; /* ditto; wiped by auth_result_wipe() */
};

/*
 * Authenticates r (resolved) at time now (Unix seconds) for a server in region. On success
 * fills *out and returns 0. On failure returns a negative code and sets *s3e:
 * AccessDenied (no credentials at all, expired presigned URL), InvalidAccessKeyId,
 * SignatureDoesNotMatch, RequestTimeTooSkewed, AuthorizationHeaderMalformed,
 * AuthorizationQueryParametersError, InvalidArgument, InvalidRequest (bad
 * x-amz-content-sha256), NotImplemented (SigV4a streaming), InternalError (lookup failure).
 */
int auth_check(const struct s3req *r, const char *region, int64_t now, auth_lookup_fn lookup,
	       void *lookup_arg, struct auth_result *out, enum s3_error *s3e);

/* Wipes the key material in res (call when the request ends). */
void auth_result_wipe(struct auth_result *res);

#endif
