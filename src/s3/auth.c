#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "cairn/auth.h"
#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/sigv2.h"
#include "cairn/sigv4_cache.h"

/* The process's SigV4 signing keys by credential scope (sigv4_cache.h): a client signing many
 * requests on one day costs one key derivation, not one per request. Created on first use,
 * wiped at exit; it holds no secret, only keys derived from them and their SHA-256. */
static pthread_once_t auth_keys_once = PTHREAD_ONCE_INIT;
static struct sigv4_cache *auth_keys;

static void
auth_keys_wipe(void)
{
	sigv4_cache_clear(auth_keys);
}

static void
auth_keys_init(void)
{
	auth_keys = sigv4_cache_new(SIGV4_CACHE_DEFAULT_ENTRIES);
	atexit(auth_keys_wipe);
}

static struct sigv4_cache *
auth_keys_get(void)
{
	pthread_once(&auth_keys_once, auth_keys_init);
	return auth_keys;
}

void
auth_result_wipe(struct auth_result *res)
{
	OPENSSL_cleanse(res->signing_key, sizeof(res->signing_key));
}

static int
auth_fail(enum s3_error *s3e, enum s3_error e)
{
	*s3e = e;
	return CAIRN_E_INVAL;
}

/* Looks the access key up and copies the identity into out; the secret stays in id. */
static int
auth_lookup(auth_lookup_fn lookup, void *arg, const char *access_key, struct auth_identity *id,
	    struct auth_result *out, enum s3_error *s3e)
{
	int rc;

	memset(id, 0, sizeof(*id));
	rc = lookup(arg, access_key, id);
	if (rc == CAIRN_E_NOTFOUND)
		return auth_fail(s3e, S3E_INVALID_ACCESS_KEY_ID);
	if (rc < 0)
		return auth_fail(s3e, S3E_INTERNAL_ERROR);
	memcpy(out->user, id->user, sizeof(out->user));
	out->is_root = id->is_root;
	return 0;
}

/* Classifies x-amz-content-sha256 (hdr may be NULL) into out->payload. Returns the hash value to
 * put into the canonical request. */
static const char *
auth_payload_kind(const char *hdr, struct auth_result *out, enum s3_error *s3e)
{
	size_t len;

	out->payload = AUTH_PAYLOAD_UNSIGNED;
	if (!hdr)
		return SIGV4_EMPTY_SHA256;
	len = strlen(hdr);
	if (strcmp(hdr, SIGV4_UNSIGNED_PAYLOAD) == 0)
		return hdr;
	switch (awschunked_mode_parse(hdr, len, &out->chunked)) {
	case 0:
		out->payload = AUTH_PAYLOAD_CHUNKED;
		return hdr;
	case CAIRN_E_INVAL:
		*s3e = S3E_NOT_IMPLEMENTED;
		return NULL;
	default:
		break;
	}
	if (len != 64 || hex_decode(hdr, 32, out->payload_sha256) < 0) {
		*s3e = S3E_INVALID_ARGUMENT;
		return NULL;
	}
	out->payload = AUTH_PAYLOAD_SHA256;
	return hdr;
}

static bool
auth_has_body(const struct s3req *r)
{
	const char *cl = s3req_header(r, "content-length");

	return s3req_header(r, "transfer-encoding") || (cl && strcmp(cl, "0") != 0);
}

static void
auth_v4_request(const struct s3req *r, const char *payload_hash, struct sigv4_request *req)
{
	req->method = r->method;
	req->path = r->target;
	req->path_len = r->path_len;
	req->params = r->params.v;
	req->n_params = r->params.n;
	req->headers = r->headers;
	req->n_headers = r->n_headers;
	req->payload_hash = payload_hash;
}

/* Verifies a parsed SigV4 authorization (header or presigned) and fills out. */
static int
auth_v4_verify(const struct s3req *r, const char *payload_hash, auth_lookup_fn lookup, void *arg,
	       struct auth_result *out, enum s3_error *s3e)
{
	struct sigv4_auth *a = &out->v4;
	struct sigv4_request req;
	struct auth_identity id;
	int rc;

	rc = auth_lookup(lookup, arg, a->access_key, &id, out, s3e);
	if (rc < 0)
		return rc;
	sigv4_cache_signing_key(auth_keys_get(), a, id.secret, strlen(id.secret), out->signing_key);
	OPENSSL_cleanse(&id, sizeof(id));
	auth_v4_request(r, payload_hash, &req);
	rc = sigv4_verify(&req, a, out->signing_key, s3e);
	/* Only the signed aws-chunked variants need the key after this point. */
	if (rc < 0 || out->payload != AUTH_PAYLOAD_CHUNKED ||
	    out->chunked == AWSCHUNKED_UNSIGNED_TRAILER)
		auth_result_wipe(out);
	return rc < 0 ? CAIRN_E_INVAL : 0;
}

static int
auth_v4_header(const struct s3req *r, const char *authz, const char *region, int64_t now,
	       auth_lookup_fn lookup, void *arg, struct auth_result *out, enum s3_error *s3e)
{
	struct sigv4_auth *a = &out->v4;
	const char *date, *payload_hash, *hash_hdr;
	int rc;

	if (sigv4_parse_header(authz, strlen(authz), a, s3e) < 0)
		return CAIRN_E_INVAL;
	date = s3req_header(r, "x-amz-date");
	if (!date)
		return auth_fail(s3e, S3E_ACCESS_DENIED);
	if (sigv4_auth_set_date(a, date, strlen(date), s3e) < 0 ||
	    sigv4_check_scope(a, region, s3e) < 0 || sigv4_check_time(a, now, s3e) < 0)
		return CAIRN_E_INVAL;
	hash_hdr = s3req_header(r, "x-amz-content-sha256");
	payload_hash = auth_payload_kind(hash_hdr, out, s3e);
	if (!payload_hash)
		return CAIRN_E_INVAL;
	rc = auth_v4_verify(r, payload_hash, lookup, arg, out, s3e);
	/* Without the header only curl's empty-payload signature is accepted. A mismatch on a
	 * request with a body most likely signed the body's hash (what S3 requires the header
	 * for), so that signer is told what S3 tells it: the header is required. Without a body
	 * a mismatch is a plain wrong signature. */
	if (rc < 0 && !hash_hdr && *s3e == S3E_SIGNATURE_DOES_NOT_MATCH && auth_has_body(r))
		*s3e = S3E_INVALID_REQUEST;
	return rc;
}

static int
auth_v4_query(const struct s3req *r, const char *region, int64_t now, auth_lookup_fn lookup,
	      void *arg, struct auth_result *out, enum s3_error *s3e)
{
	struct sigv4_auth *a = &out->v4;

	if (sigv4_parse_query(r->params.v, r->params.n, a, s3e) < 0 ||
	    sigv4_check_scope(a, region, s3e) < 0 || sigv4_check_time(a, now, s3e) < 0)
		return CAIRN_E_INVAL;
	out->payload = AUTH_PAYLOAD_UNSIGNED;
	return auth_v4_verify(r, SIGV4_UNSIGNED_PAYLOAD, lookup, arg, out, s3e);
}

/* SigV2's CanonicalizedResource names the bucket: a virtual-hosted request signs "/bucket" and
 * its path; a bucket addressed path-style as "/bucket" is signed by SDKs (botocore) as
 * "/bucket/", which S3 accepts, so that form is tried too. */
static int
auth_v2_verify(const struct s3req *r, struct sigv2_request *req, const struct sigv2_auth *a,
	       const char *secret, enum s3_error *s3e)
{
	bool bare_bucket = !r->virtual_host && r->bucket[0] && r->key.len == 0 &&
			   r->target[r->path_len - 1] != '/';
	struct buf path;
	int rc;

	if (!r->virtual_host) {
		rc = sigv2_verify(req, a, secret, strlen(secret), s3e);
		if (rc != CAIRN_E_BADDIGEST || !bare_bucket)
			return rc;
	}
	buf_init(&path, S3REQ_TARGET_MAX + S3REQ_BUCKET_SEGMENT_MAX + 2);
	if (r->virtual_host)
		rc = buf_printf(&path, "/%s%.*s", r->bucket, (int)r->path_len, r->target);
	else
		rc = buf_printf(&path, "%.*s/", (int)r->path_len, r->target);
	if (rc == 0) {
		req->path = (const char *)path.p;
		req->path_len = path.len;
		rc = sigv2_verify(req, a, secret, strlen(secret), s3e);
	}
	buf_fini(&path);
	return rc;
}

static int
auth_v2(const struct s3req *r, const char *authz, int64_t now, auth_lookup_fn lookup, void *arg,
	struct auth_result *out, enum s3_error *s3e)
{
	struct sigv2_request req = {r->method,	 r->target,  r->path_len, r->params.v,
				    r->params.n, r->headers, r->n_headers};
	struct auth_identity id;
	struct sigv2_auth a;
	int rc;

	if (authz)
		rc = sigv2_parse_header(authz, strlen(authz), &a, s3e);
	else
		rc = sigv2_parse_query(r->params.v, r->params.n, &a, s3e);
	if (rc < 0 || sigv2_check_time(&req, &a, now, s3e) < 0)
		return CAIRN_E_INVAL;
	rc = auth_lookup(lookup, arg, a.access_key, &id, out, s3e);
	if (rc < 0)
		return rc;
	rc = auth_v2_verify(r, &req, &a, id.secret, s3e);
	OPENSSL_cleanse(&id, sizeof(id));
	out->payload = AUTH_PAYLOAD_UNSIGNED;
	return rc < 0 ? CAIRN_E_INVAL : 0;
}

int
auth_check(const struct s3req *r, const char *region, int64_t now, auth_lookup_fn lookup,
	   void *lookup_arg, struct auth_result *out, enum s3_error *s3e)
{
	const char *authz = s3req_header(r, "authorization");

	memset(out, 0, sizeof(*out));
	if (authz) {
		if (strncmp(authz, "AWS4-", 5) == 0)
			return auth_v4_header(r, authz, region, now, lookup, lookup_arg, out, s3e);
		if (strncmp(authz, "AWS ", 4) == 0)
			return auth_v2(r, authz, now, lookup, lookup_arg, out, s3e);
		return auth_fail(s3e, S3E_INVALID_ARGUMENT);
	}
	if (sigv4_is_presigned(r->params.v, r->params.n))
		return auth_v4_query(r, region, now, lookup, lookup_arg, out, s3e);
	if (sigv2_is_presigned(r->params.v, r->params.n))
		return auth_v2(r, NULL, now, lookup, lookup_arg, out, s3e);
	return auth_fail(s3e, S3E_ACCESS_DENIED);
}
