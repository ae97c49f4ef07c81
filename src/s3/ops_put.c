#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/checksum.h"
#include "cairn/err.h"
#include "cairn/ops.h"
#include "ops_body.h"

/* PutObject's state while the body streams in; owned by the request (op_state). */
struct ops_put {
	struct ops_body body;
	struct buf meta;
	bool if_none_match_any;
	char if_match[80];
};

static void
ops_put_free(void *arg)
{
	struct ops_put *p = arg;

	ops_body_fini(&p->body);
	buf_fini(&p->meta);
	free(p);
}

static int
ops_put_sink(void *arg, const uint8_t *data, size_t len)
{
	struct server_req *r = arg;
	struct ops_put *p = r->op_state;

	return ops_body_write(r, &p->body, data, len);
}

/* Finds the additional checksum: an x-amz-checksum-<algo> header, or one announced in
 * x-amz-trailer, or only an algorithm (x-amz-sdk-checksum-algorithm: computed and stored). */
static int
ops_put_checksum(struct server_req *r, struct ops_body *b)
{
	const char *sdk = s3req_header(&r->s3, "x-amz-sdk-checksum-algorithm");

	if (ops_body_client_checksum(r, b) != 0)
		return 1;
	if (b->algo == CHECKSUM_NONE && sdk && checksum_algo_parse(sdk, strlen(sdk), &b->algo) < 0)
		return server_req_fail(r, S3E_INVALID_REQUEST,
				       "Invalid x-amz-sdk-checksum-algorithm");
	return 0;
}

/* Refuses bodies announced larger than the limit before any byte is read. */
static int
ops_put_size(struct server_req *r)
{
	static const char *const names[] = {"x-amz-decoded-content-length", "content-length"};
	size_t i;

	/* S3 wants the length up front: Content-Length, or for aws-chunked bodies (which SDKs
	 * may send with chunked transfer-encoding) x-amz-decoded-content-length. */
	if (!s3req_header(&r->s3, "content-length") &&
	    !s3req_header(&r->s3, "x-amz-decoded-content-length"))
		return server_req_fail(r, S3E_MISSING_CONTENT_LENGTH, NULL);

	for (i = 0; i < 2; i++) {
		const char *v = s3req_header(&r->s3, names[i]);
		unsigned long long n;
		char *end;

		if (!v)
			continue;
		errno = 0;
		n = strtoull(v, &end, 10);
		if (*v < '0' || *v > '9' || errno || *end)
			return server_req_fail(r, S3E_INVALID_ARGUMENT, "Invalid content length");
		if (n > r->srv->max_object_size)
			return server_req_fail(r, S3E_ENTITY_TOO_LARGE, NULL);
		/* With aws-chunked framing only the decoded length counts. */
		if (i == 0)
			break;
	}
	return 0;
}

static int
ops_put_conditions(struct server_req *r, struct ops_put *p)
{
	const char *inm = s3req_header(&r->s3, "if-none-match");
	const char *im = s3req_header(&r->s3, "if-match");

	if (inm) {
		if (strcmp(inm, "*") != 0)
			return server_req_fail(r, S3E_NOT_IMPLEMENTED,
					       "If-None-Match on writes supports only *");
		p->if_none_match_any = true;
	}
	if (im) {
		if (strlen(im) >= sizeof(p->if_match))
			return server_req_fail(r, S3E_PRECONDITION_FAILED, NULL);
		memcpy(p->if_match, im, strlen(im) + 1);
	}
	return 0;
}

/* payload_finish() wants the delegated SHA-256 complete: the put's digests catch up first. */
static void
ops_put_digest_sync(void *arg)
{
	struct store_put **put = arg;

	if (*put)
		store_put_digest_sync(*put);
}

void
ops_put_digest_delegate(struct server_req *r, struct store_put *const *put)
{
	void *sha;

	/* The signed payload hash runs on the store's digest threads, beside chunking and MD5. */
	sha = payload_sha_delegate(&r->payload, ops_put_digest_sync, (void *)put);
	if (sha && store_put_digest_also(*put, sha) < 0)
		abort(); /* a fresh put always takes one */
}

int
ops_put_object_begin(struct server_req *r)
{
	struct ops_put *p;

	if (ops_key_check(r, r->s3.key.p, r->s3.key.len) != 0 ||
	    ops_bucket_access(r, r->s3.bucket, NULL) < 0 || ops_put_size(r) != 0 ||
	    ops_unsupported_headers(r) != 0)
		return CAIRN_E_INVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->body.max = r->srv->max_object_size;
	buf_init(&p->meta, 16u << 10);
	r->op_state = p;
	r->op_state_free = ops_put_free;
	if (ops_body_md5(r, &p->body) != 0 || ops_put_checksum(r, &p->body) != 0 ||
	    ops_put_conditions(r, p) != 0 || ops_meta_from_headers(r, &p->meta) != 0)
		return CAIRN_E_INVAL;
	return ops_body_start(r, &p->body, ops_put_sink);
}

/* Verifies the additional checksum against the header or trailer value and records it in the
 * object's metadata and the response. Returns 0 or non-zero after server_req_fail(). */
static int
ops_put_verify_checksum(struct server_req *r, struct ops_put *p)
{
	const char *hname = checksum_algo_header(p->body.algo);
	uint8_t got[CHECKSUM_MAX_LEN];
	char b64[CHECKSUM_B64_SIZE];
	int n;

	n = ops_body_verify(r, &p->body, got, true);
	if (n <= 0)
		return n;
	checksum_to_base64(got, (size_t)n, b64);
	if (store_meta_add(&p->meta, hname, (struct slice){(const uint8_t *)b64, strlen(b64)}) < 0)
		return server_req_fail(r, S3E_METADATA_TOO_LARGE, NULL);
	server_resp_header(&r->resp, hname, b64);
	return 0;
}

static void
ops_put_commit(struct server_req *r, struct ops_put *p)
{
	struct store_put_cond cond = {p->if_none_match_any, p->if_match[0] ? p->if_match : NULL};
	struct store_put *put = p->body.put;
	struct store_object_info info;
	int rc;

	p->body.put = NULL; /* store_put_commit consumes it, whatever the outcome */
	rc = store_put_commit(put, r->s3.bucket, buf_slice(&r->s3.key), buf_slice(&p->meta), &cond,
			      &info);
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, S3E_NO_SUCH_BUCKET, NULL);
	else if (rc == CAIRN_E_PRECONDITION)
		server_req_fail(r, S3E_PRECONDITION_FAILED, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		server_resp_header(&r->resp, "ETag", info.etag);
}

void
ops_put_object_end(struct server_req *r)
{
	struct ops_put *p = r->op_state;

	if (ops_body_finish(r, &p->body) != 0)
		return;
	r->resp.status = 200;
	if (ops_put_verify_checksum(r, p) != 0)
		return;
	ops_put_commit(r, p);
}
