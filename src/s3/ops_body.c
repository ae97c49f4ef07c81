/*
 * ops_body.c — the streamed body of PutObject and UploadPart (ops_body.h): Content-MD5, the
 * additional checksum from a header or an aws-chunked trailer, and the sink's bookkeeping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "cairn/base64.h"
#include "cairn/err.h"
#include "ops_body.h"

void
ops_body_fini(struct ops_body *b)
{
	store_put_abort(b->put);
	b->put = NULL;
	if (b->ck_live)
		checksum_fini(&b->ck);
	b->ck_live = false;
}

int
ops_body_md5(struct server_req *r, struct ops_body *b)
{
	const char *v = s3req_header(&r->s3, "content-md5");
	size_t n;

	if (!v)
		return 0;
	if (base64_decode(v, strlen(v), b->md5, sizeof(b->md5), &n) < 0 || n != 16)
		return server_req_fail(r, S3E_INVALID_DIGEST, NULL);
	b->has_md5 = true;
	return 0;
}

int
ops_body_client_checksum(struct server_req *r, struct ops_body *b)
{
	const char *trailer = s3req_header(&r->s3, "x-amz-trailer");
	size_t i;

	for (i = 0; i < r->s3.n_headers; i++) {
		const struct kvpair *h = &r->s3.headers[i];
		uint8_t d[CHECKSUM_MAX_LEN];
		enum checksum_algo a;

		if (checksum_algo_from_header(h->name, h->name_len, &a) < 0)
			continue;
		if (b->algo != CHECKSUM_NONE)
			return server_req_fail(r, S3E_INVALID_REQUEST,
					       "Expecting a single x-amz-checksum- header");
		if (checksum_from_base64(a, h->value, h->value_len, d) < 0 ||
		    h->value_len >= sizeof(b->ck_value))
			return server_req_fail(r, S3E_INVALID_REQUEST,
					       "Value for x-amz-checksum header is invalid.");
		b->algo = a;
		memcpy(b->ck_value, h->value, h->value_len + 1);
	}
	if (b->algo == CHECKSUM_NONE && trailer) {
		if (checksum_algo_from_header(trailer, strlen(trailer), &b->algo) < 0 ||
		    r->auth.payload != AUTH_PAYLOAD_CHUNKED)
			return server_req_fail(r, S3E_INVALID_REQUEST,
					       "The value specified in the x-amz-trailer header is "
					       "not supported");
		b->ck_trailer = true;
	}
	return 0;
}

int
ops_body_start(struct server_req *r, struct ops_body *b, payload_sink_fn sink)
{
	int rc;

	if (b->algo != CHECKSUM_NONE) {
		checksum_init(&b->ck, b->algo);
		b->ck_live = true;
	}
	rc = store_put_begin(r->srv->st, &b->put);
	if (rc < 0) {
		server_req_fail_rc(r, rc);
		return rc;
	}
	ops_put_digest_delegate(r, &b->put);
	r->body_mode = SERVER_BODY_STREAM;
	r->sink = sink;
	return 0;
}

int
ops_body_write(struct server_req *r, struct ops_body *b, const uint8_t *data, size_t len)
{
	int rc;

	if (len > b->max - b->received) {
		server_req_fail(r, S3E_ENTITY_TOO_LARGE, NULL);
		return CAIRN_E_TOOBIG;
	}
	b->received += len;
	if (b->ck_live)
		checksum_update(&b->ck, data, len);
	rc = store_put_write(b->put, data, len);
	if (rc < 0) {
		server_req_fail_rc(r, rc);
		return rc;
	}
	return 0;
}

int
ops_body_finish(struct server_req *r, struct ops_body *b)
{
	uint8_t md5[16];
	int rc;

	rc = store_put_finish(b->put, NULL, md5);
	if (rc < 0)
		return server_req_fail_rc(r, rc);
	if (b->has_md5 && CRYPTO_memcmp(md5, b->md5, sizeof(md5)) != 0)
		return server_req_fail(r, S3E_BAD_DIGEST, NULL);
	return 0;
}

int
ops_body_verify(struct server_req *r, struct ops_body *b, uint8_t d[CHECKSUM_MAX_LEN],
		bool bad_value_invalid)
{
	const char *expect = b->ck_value[0] ? b->ck_value : NULL;
	uint8_t want[CHECKSUM_MAX_LEN];
	bool bad_value;
	char msg[96];
	size_t n;

	if (!b->ck_live)
		return 0;
	n = checksum_final(&b->ck, d);
	b->ck_live = false;
	if (b->ck_trailer) {
		expect = payload_trailer(&r->payload, checksum_algo_header(b->algo));
		if (!expect) {
			server_req_fail(r, S3E_MALFORMED_TRAILER,
					"The announced checksum trailer is missing");
			return -1;
		}
	}
	if (!expect)
		return (int)n;
	bad_value = checksum_from_base64(b->algo, expect, strlen(expect), want) < 0;
	if (bad_value && bad_value_invalid) {
		server_req_fail(r, S3E_INVALID_REQUEST,
				"Value for x-amz-checksum header is invalid.");
		return -1;
	}
	if (bad_value || memcmp(d, want, n) != 0) {
		snprintf(msg, sizeof(msg),
			 "The %s you specified did not match the calculated checksum.",
			 checksum_algo_name(b->algo));
		server_req_fail(r, S3E_BAD_DIGEST, msg);
		return -1;
	}
	return (int)n;
}
