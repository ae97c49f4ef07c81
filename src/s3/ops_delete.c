#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cairn/base64.h"
#include "cairn/checksum.h"
#include "cairn/err.h"
#include "cairn/ops.h"
#include "cairn/s3name.h"
#include "cairn/xml.h"

/* DeleteObjects bodies must carry Content-MD5 or an x-amz-checksum-* header (as S3 requires);
 * whichever is present is verified. Returns 0 or non-zero after server_req_fail(). */
static int
ops_delete_check_digest(struct server_req *r)
{
	const char *md5 = s3req_header(&r->s3, "content-md5");
	uint8_t want[CHECKSUM_MAX_LEN], got[EVP_MAX_MD_SIZE];
	unsigned int glen = 0;
	size_t i, n;

	if (md5) {
		if (base64_decode(md5, strlen(md5), want, sizeof(want), &n) < 0 || n != 16)
			return server_req_fail(r, S3E_INVALID_DIGEST, NULL);
		if (EVP_Digest(r->body.p, r->body.len, got, &glen, EVP_md5(), NULL) != 1)
			return server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
		if (CRYPTO_memcmp(got, want, 16) != 0)
			return server_req_fail(r, S3E_BAD_DIGEST, NULL);
		return 0;
	}
	for (i = 0; i < r->s3.n_headers; i++) {
		const struct kvpair *h = &r->s3.headers[i];
		enum checksum_algo a;

		if (checksum_algo_from_header(h->name, h->name_len, &a) < 0)
			continue;
		if (checksum_from_base64(a, h->value, h->value_len, want) < 0)
			return server_req_fail(r, S3E_INVALID_REQUEST,
					       "Value for x-amz-checksum header is invalid.");
		n = checksum_compute(a, r->body.p, r->body.len, got);
		if (memcmp(got, want, n) != 0)
			return server_req_fail(r, S3E_BAD_DIGEST, NULL);
		return 0;
	}
	return server_req_fail(r, S3E_INVALID_REQUEST,
			       "Missing required header for this request: Content-MD5");
}

/* Deletes one listed object; returns S3E_OK or the per-key error. */
static enum s3_error
ops_delete_one(struct server_req *r, const struct xml_delete_object *o)
{
	struct slice key = {(const uint8_t *)o->key, o->key_len};
	int rc;

	if (o->version_id && strcmp(o->version_id, "null") != 0)
		return S3E_NO_SUCH_VERSION;
	if (s3name_key_check(o->key, o->key_len) < 0)
		return S3E_INVALID_ARGUMENT;
	rc = store_delete(r->srv->st, r->s3.bucket, key);
	if (rc == 0 || rc == CAIRN_E_NOTFOUND)
		return S3E_OK;
	return s3err_from_cairn(rc);
}

static void
ops_delete_result(struct server_req *r, const struct xml_delete *d)
{
	struct xml_writer w;
	size_t i;
	int rc;

	xml_writer_init(&w, server_req_xml(r, 200));
	xml_open_ns(&w, "DeleteResult");
	for (i = 0; i < d->n; i++) {
		const struct xml_delete_object *o = &d->objects[i];
		enum s3_error e = ops_delete_one(r, o);

		if (e == S3E_OK && d->quiet)
			continue;
		xml_open(&w, e == S3E_OK ? "Deleted" : "Error");
		xml_elem_n(&w, "Key", o->key, o->key_len);
		if (o->version_id)
			xml_elem(&w, "VersionId", o->version_id);
		if (e != S3E_OK) {
			xml_elem(&w, "Code", s3err_code(e));
			xml_elem(&w, "Message", s3err_message(e));
		}
		xml_close(&w);
	}
	xml_close(&w);
	rc = xml_writer_finish(&w);
	if (rc < 0)
		server_req_fail_rc(r, rc);
}

void
ops_delete_objects(struct server_req *r)
{
	enum s3_error e = S3E_MALFORMED_XML;
	struct xml_delete d;

	if (ops_bucket_access(r, r->s3.bucket, NULL) < 0 || ops_delete_check_digest(r) != 0)
		return;
	if (xml_parse_delete(r->body.p ? (const char *)r->body.p : "", r->body.len, &d, &e) < 0) {
		server_req_fail(r, e, NULL);
		return;
	}
	ops_delete_result(r, &d);
	xml_delete_fini(&d);
}
