/*
 * ops_multipart.c — CreateMultipartUpload, UploadPart and AbortMultipartUpload, and the helpers
 * the other multipart operations share (ops_multipart_priv.h).
 *
 * UploadPart streams like PutObject, through the same ops_body.c: the body goes into a store_put
 * as it arrives (chunked and deduplicated on the way), Content-MD5 and the additional checksum are
 * verified at the end, and only then is the part committed (store_upload_part_commit). A part of
 * an upload created with a checksum algorithm always gets that algorithm's checksum: verified
 * against what the client sent, or computed here when it sent none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/httpdate.h"
#include "cairn/urlenc.h"
#include "ops_body.h"
#include "ops_multipart_priv.h"

/* ---- shared helpers ---- */

const char *
opsmp_checksum_type_name(uint8_t type)
{
	switch (type) {
	case OPSMP_CK_COMPOSITE:
		return "COMPOSITE";
	case OPSMP_CK_FULL:
		return "FULL_OBJECT";
	default:
		return NULL;
	}
}

int
opsmp_part_number(struct server_req *r, uint32_t *out)
{
	const char *v = s3req_param(&r->s3, "partNumber");
	unsigned long long n;
	char *end;

	errno = 0;
	n = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
	if (!v || errno || *v < '0' || *v > '9' || *end || n < 1 || n > STORE_PARTS_MAX)
		return server_req_fail(r, S3E_INVALID_ARGUMENT,
				       "Part number must be an integer between 1 and 10000, "
				       "inclusive");
	*out = (uint32_t)n;
	return 0;
}

int
opsmp_upload(struct server_req *r, struct store_upload_info *info, struct buf *key,
	     struct buf *meta)
{
	const char *id = s3req_param(&r->s3, "uploadId");
	int rc;

	if (ops_bucket_access(r, r->s3.bucket, NULL) < 0)
		return 1;
	rc = store_upload_get(r->srv->st, r->s3.bucket, id ? id : "", buf_slice(&r->s3.key), info,
			      key, meta);
	if (rc == CAIRN_E_NOTFOUND)
		return server_req_fail(r, S3E_NO_SUCH_UPLOAD, NULL);
	if (rc < 0)
		return server_req_fail_rc(r, rc);
	return 0;
}

void
opsmp_xml_user(struct xml_writer *w, const char *name, const char *user)
{
	xml_open(w, name);
	xml_elem(w, "ID", user);
	xml_elem(w, "DisplayName", user);
	xml_close(w);
}

void
opsmp_xml_key(struct xml_writer *w, const char *name, struct slice key, bool url)
{
	struct buf enc;

	if (!url) {
		xml_elem_n(w, name, (const char *)key.p, key.len);
		return;
	}
	buf_init(&enc, 3 * INDEX_KEY_MAX + 1);
	if (urlenc_encode((const char *)key.p, key.len, URLENC_KEEP_SLASH, &enc) == 0)
		xml_elem_n(w, name, (const char *)enc.p, enc.len);
	buf_fini(&enc);
}

void
opsmp_iso8601(int64_t ns, char out[25])
{
	if (httpdate_format_iso8601(ns / 1000000000, out) < 0)
		out[0] = 0;
}

/* ---- CreateMultipartUpload ---- */

/* x-amz-checksum-algorithm and x-amz-checksum-type, with S3's combinations: CRC64NVME only as
 * FULL_OBJECT, SHA1/SHA256 only as COMPOSITE, CRC32/CRC32C either (COMPOSITE by default). */
static int
opsmp_create_checksum(struct server_req *r, struct store_upload_info *set)
{
	const char *a = s3req_header(&r->s3, "x-amz-checksum-algorithm");
	const char *t = s3req_header(&r->s3, "x-amz-checksum-type");
	enum checksum_algo algo = CHECKSUM_NONE;
	bool full;

	if (a && checksum_algo_parse(a, strlen(a), &algo) < 0)
		return server_req_fail(r, S3E_INVALID_REQUEST,
				       "Checksum algorithm provided is unsupported.");
	if (t && strcmp(t, "COMPOSITE") != 0 && strcmp(t, "FULL_OBJECT") != 0)
		return server_req_fail(r, S3E_INVALID_REQUEST, "Invalid x-amz-checksum-type");
	if (t && !a)
		return server_req_fail(r, S3E_INVALID_REQUEST,
				       "The x-amz-checksum-type header can only be used with the "
				       "x-amz-checksum-algorithm header.");
	if (!a)
		return 0;
	full = t ? strcmp(t, "FULL_OBJECT") == 0 : algo == CHECKSUM_CRC64NVME;
	if ((full && (algo == CHECKSUM_SHA1 || algo == CHECKSUM_SHA256)) ||
	    (!full && algo == CHECKSUM_CRC64NVME))
		return server_req_fail(r, S3E_INVALID_REQUEST,
				       "The COMPOSITE/FULL_OBJECT checksum type is not supported "
				       "for this checksum algorithm.");
	set->checksum_algo = (uint8_t)algo;
	set->checksum_type = full ? OPSMP_CK_FULL : OPSMP_CK_COMPOSITE;
	return 0;
}

static void
opsmp_create_result(struct server_req *r, const struct store_upload_info *set, const char *id)
{
	struct xml_writer w;

	xml_writer_init(&w, server_req_xml(r, 200));
	xml_open_ns(&w, "InitiateMultipartUploadResult");
	xml_elem(&w, "Bucket", r->s3.bucket);
	opsmp_xml_key(&w, "Key", buf_slice(&r->s3.key), false);
	xml_elem(&w, "UploadId", id);
	xml_close(&w);
	if (xml_writer_finish(&w) < 0) {
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
		return;
	}
	if (set->checksum_algo) {
		server_resp_header(&r->resp, "x-amz-checksum-algorithm",
				   checksum_algo_name(set->checksum_algo));
		server_resp_header(&r->resp, "x-amz-checksum-type",
				   opsmp_checksum_type_name(set->checksum_type));
	}
}

void
ops_create_multipart(struct server_req *r)
{
	struct store_upload_info set;
	char id[STORE_UPLOAD_ID_LEN + 1];
	struct buf meta;
	int rc;

	memset(&set, 0, sizeof(set));
	if (ops_key_check(r, r->s3.key.p, r->s3.key.len) != 0 ||
	    ops_bucket_access(r, r->s3.bucket, NULL) < 0 || ops_unsupported_headers(r) != 0 ||
	    opsmp_create_checksum(r, &set) != 0)
		return;
	buf_init(&meta, 16u << 10);
	if (ops_meta_from_headers(r, &meta) != 0)
		goto out_free_meta;
	set.meta = buf_slice(&meta);
	rc = store_upload_create(r->srv->st, r->s3.bucket, buf_slice(&r->s3.key), r->auth.user,
				 &set, id);
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, S3E_NO_SUCH_BUCKET, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		opsmp_create_result(r, &set, id);
out_free_meta:
	buf_fini(&meta);
}

/* ---- UploadPart ---- */

/* UploadPart's state while the body streams in; owned by the request (op_state). */
struct opsmp_part {
	struct ops_body body; /* body.algo: what is computed for this part */
	uint32_t number;
	enum checksum_algo upload_algo; /* the upload's algorithm, CHECKSUM_NONE if none */
};

static void
opsmp_part_free(void *arg)
{
	struct opsmp_part *p = arg;

	ops_body_fini(&p->body);
	free(p);
}

static int
opsmp_part_sink(void *arg, const uint8_t *data, size_t len)
{
	struct server_req *r = arg;
	struct opsmp_part *p = r->op_state;

	return ops_body_write(r, &p->body, data, len);
}

/* Content-Length is required and at most 5 GiB (decoded length for aws-chunked bodies). */
static int
opsmp_part_size(struct server_req *r)
{
	const char *dec = s3req_header(&r->s3, "x-amz-decoded-content-length");
	const char *v = dec ? dec : s3req_header(&r->s3, "content-length");
	unsigned long long n;
	char *end;

	if (!s3req_header(&r->s3, "content-length"))
		return server_req_fail(r, S3E_MISSING_CONTENT_LENGTH, NULL);
	errno = 0;
	n = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
	if (*v < '0' || *v > '9' || errno || *end)
		return server_req_fail(r, S3E_INVALID_ARGUMENT, "Invalid content length");
	if (n > STORE_PART_SIZE_MAX)
		return server_req_fail(r, S3E_ENTITY_TOO_LARGE, NULL);
	return 0;
}

/* Settles which checksum the part gets (the client's must be the upload's algorithm). */
static int
opsmp_part_checksum(struct server_req *r, struct opsmp_part *p)
{
	struct ops_body *b = &p->body;
	char msg[128];

	if (ops_body_client_checksum(r, b) != 0)
		return 1;
	if (p->upload_algo != CHECKSUM_NONE && b->algo != CHECKSUM_NONE &&
	    b->algo != p->upload_algo) {
		snprintf(msg, sizeof(msg),
			 "Checksum Type mismatch occurred, expected checksum Type: %s, actual "
			 "checksum Type: %s",
			 checksum_algo_name(p->upload_algo), checksum_algo_name(b->algo));
		return server_req_fail(r, S3E_INVALID_REQUEST, msg);
	}
	if (b->algo == CHECKSUM_NONE)
		b->algo = p->upload_algo;
	return 0;
}

int
ops_upload_part_begin(struct server_req *r)
{
	struct store_upload_info info;
	struct opsmp_part *p;
	uint32_t number;

	if (opsmp_part_number(r, &number) != 0 || opsmp_upload(r, &info, NULL, NULL) != 0 ||
	    opsmp_part_size(r) != 0)
		return CAIRN_E_INVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->body.max = STORE_PART_SIZE_MAX;
	p->number = number;
	p->upload_algo = (enum checksum_algo)info.checksum_algo;
	r->op_state = p;
	r->op_state_free = opsmp_part_free;
	if (ops_body_md5(r, &p->body) != 0 || opsmp_part_checksum(r, p) != 0)
		return CAIRN_E_INVAL;
	return ops_body_start(r, &p->body, opsmp_part_sink);
}

static void
opsmp_part_commit(struct server_req *r, struct opsmp_part *p, const uint8_t *d, size_t n)
{
	const char *id = s3req_param(&r->s3, "uploadId");
	struct store_put *put = p->body.put;
	struct store_part out;
	char etag[64], b64[CHECKSUM_B64_SIZE];
	int rc;

	p->body.put = NULL; /* consumed whatever the outcome */
	rc = store_upload_part_commit(put, r->s3.bucket, buf_slice(&r->s3.key), id ? id : "",
				      p->number, d, n, &out);
	if (rc == CAIRN_E_NOTFOUND) {
		server_req_fail(r, S3E_NO_SUCH_UPLOAD, NULL);
		return;
	}
	if (rc < 0) {
		server_req_fail_rc(r, rc);
		return;
	}
	r->resp.status = 200;
	etag[0] = '"';
	hex_encode(out.md5, 16, etag + 1);
	memcpy(etag + 33, "\"", 2);
	server_resp_header(&r->resp, "ETag", etag);
	if (n) {
		checksum_to_base64(d, n, b64);
		server_resp_header(&r->resp, checksum_algo_header(p->body.algo), b64);
	}
}

void
ops_upload_part_end(struct server_req *r)
{
	struct opsmp_part *p = r->op_state;
	uint8_t d[CHECKSUM_MAX_LEN];
	int n;

	if (ops_body_finish(r, &p->body) != 0)
		return;
	/* A value that does not decode is a mismatch here (BadDigest), unlike PutObject. */
	n = ops_body_verify(r, &p->body, d, false);
	if (n < 0)
		return;
	opsmp_part_commit(r, p, d, (size_t)n);
}

/* ---- AbortMultipartUpload ---- */

void
ops_abort_multipart(struct server_req *r)
{
	struct store_upload_info info;
	int rc;

	if (opsmp_upload(r, &info, NULL, NULL) != 0)
		return;
	rc = store_upload_abort(r->srv->st, r->s3.bucket, info.id);
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, S3E_NO_SUCH_UPLOAD, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		r->resp.status = 204;
}
