/*
 * ops_multipart_copy.c — UploadPartCopy: a part made from (a range of) an existing object.
 *
 * x-amz-copy-source is "[/]bucket/key[?versionId=null]", percent-encoded: the key may hold "%25",
 * spaces ("%20"), '+' (a literal plus: the source is decoded as a path, not as form data) and
 * UTF-8. The store references the source's whole chunks and re-chunks only the partial chunks at
 * the range's edges (store_upload_part_copy); the range is read once for the part's MD5 and, when
 * the upload has a checksum algorithm, its checksum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/range.h"
#include "ops_copy.h"
#include "ops_multipart_priv.h"

struct opsmp_copy {
	struct ops_copy_src src;
	struct checksum_ctx ck;
	bool ck_live;
	enum checksum_algo algo;
};

/* Checks the source (access, existence, copy-source conditions) and the range into src. */
static int
opsmp_copy_check(struct server_req *r, struct opsmp_copy *c, struct store_part_copy *src)
{
	const char *hr = s3req_header(&r->s3, "x-amz-copy-source-range");
	struct store_object_info info;
	struct range rg;
	enum s3_error e = S3E_INVALID_ARGUMENT;

	if (ops_copy_source_check(r, &c->src, &info, NULL) != 0)
		return 1;
	src->whole = hr == NULL;
	if (hr) {
		if (range_parse_copy_source(hr, strlen(hr), info.size, &rg, &e) < 0)
			return server_req_fail(r, e, NULL);
		src->start = rg.start;
		src->len = rg.len;
	}
	if ((src->whole ? info.size : src->len) > STORE_PART_SIZE_MAX)
		return server_req_fail(r, S3E_INVALID_REQUEST,
				       "The specified copy source is larger than the maximum "
				       "allowable size for a copy source: 5368709120");
	return 0;
}

static void
opsmp_copy_data(void *arg, const uint8_t *p, size_t len)
{
	struct opsmp_copy *c = arg;

	checksum_update(&c->ck, p, len);
}

static size_t
opsmp_copy_checksum(void *arg, uint8_t out[INDEX_PART_CHECKSUM_MAX])
{
	struct opsmp_copy *c = arg;

	c->ck_live = false;
	return checksum_final(&c->ck, out);
}

static void
opsmp_copy_result(struct server_req *r, const struct opsmp_copy *c, const struct store_part *p)
{
	char date[25], etag[40], b64[CHECKSUM_B64_SIZE];
	struct xml_writer w;

	opsmp_iso8601(p->mtime_ns, date);
	etag[0] = '"';
	hex_encode(p->md5, 16, etag + 1);
	memcpy(etag + 33, "\"", 2);
	xml_writer_init(&w, server_req_xml(r, 200));
	xml_open_ns(&w, "CopyPartResult");
	xml_elem(&w, "LastModified", date);
	xml_elem(&w, "ETag", etag);
	if (c->algo != CHECKSUM_NONE && p->checksum_len == checksum_algo_len(c->algo)) {
		checksum_to_base64(p->checksum, p->checksum_len, b64);
		xml_elem(&w, checksum_algo_xml(c->algo), b64);
	}
	xml_close(&w);
	if (xml_writer_finish(&w) < 0)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
}

static void
opsmp_copy_run(struct server_req *r, struct opsmp_copy *c, struct store_part_copy *src,
	       const struct store_upload_info *info, uint32_t number)
{
	struct store_part p;
	int rc;

	src->src_bucket = c->src.bucket;
	src->src_key = buf_slice(&c->src.key);
	c->algo = (enum checksum_algo)info->checksum_algo;
	if (c->algo != CHECKSUM_NONE) {
		checksum_init(&c->ck, c->algo);
		c->ck_live = true;
		src->data_fn = opsmp_copy_data;
		src->checksum_fn = opsmp_copy_checksum;
		src->arg = c;
	}
	rc = store_upload_part_copy(r->srv->st, r->s3.bucket, buf_slice(&r->s3.key), info->id,
				    number, src, &p);
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, src->src_missing ? S3E_NO_SUCH_KEY : S3E_NO_SUCH_UPLOAD, NULL);
	else if (rc == CAIRN_E_INVAL)
		server_req_fail(r, S3E_INVALID_RANGE, NULL);
	else if (rc == CAIRN_E_TOOBIG)
		server_req_fail(r, S3E_ENTITY_TOO_LARGE, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		opsmp_copy_result(r, c, &p);
}

void
ops_upload_part_copy(struct server_req *r)
{
	struct store_part_copy src = {0};
	struct store_upload_info info;
	struct opsmp_copy c = {0};
	uint32_t number;

	buf_init(&c.src.key, S3NAME_KEY_MAX);
	if (opsmp_part_number(r, &number) == 0 && opsmp_upload(r, &info, NULL, NULL) == 0 &&
	    ops_copy_source_parse(r, &c.src) == 0 && opsmp_copy_check(r, &c, &src) == 0)
		opsmp_copy_run(r, &c, &src, &info, number);
	if (c.ck_live)
		checksum_fini(&c.ck);
	buf_fini(&c.src.key);
}
