#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cairn/err.h"
#include "cairn/httpdate.h"
#include "cairn/urlenc.h"
#include "cairn/xml.h"
#include "ops_copy.h"

int
ops_copy_source_parse(struct server_req *r, struct ops_copy_src *src)
{
	const char *v = s3req_header(&r->s3, "x-amz-copy-source");
	const char *q = strstr(v, "?versionId=");
	size_t len = q ? (size_t)(q - v) : strlen(v);
	struct buf dec;
	const uint8_t *slash;
	int rc;

	if (q && strcmp(q + 11, "null") != 0)
		return server_req_fail(r, S3E_NO_SUCH_VERSION, NULL);
	if (len && v[0] == '/') {
		v++;
		len--;
	}
	buf_init(&dec, S3NAME_BUCKET_MAX + 1 + S3NAME_KEY_MAX);
	rc = urlenc_decode(v, len, 0, &dec);
	slash = rc == 0 && dec.len ? memchr(dec.p, '/', dec.len) : NULL;
	if (!slash || slash == dec.p || (size_t)(slash - dec.p) > S3NAME_BUCKET_MAX ||
	    slash + 1 == dec.p + dec.len) {
		buf_fini(&dec);
		return server_req_fail(r, S3E_INVALID_ARGUMENT, "Invalid copy source");
	}
	memcpy(src->bucket, dec.p, (size_t)(slash - dec.p));
	src->bucket[slash - dec.p] = 0;
	rc = buf_append(&src->key, slash + 1, (size_t)(dec.p + dec.len - slash - 1));
	buf_fini(&dec);
	if (rc < 0)
		return server_req_fail(r, S3E_KEY_TOO_LONG, NULL);
	return 0;
}

int
ops_copy_source_check(struct server_req *r, const struct ops_copy_src *src,
		      struct store_object_info *info, struct buf *meta)
{
	enum s3_error e;
	int rc;

	if (ops_bucket_access(r, src->bucket, NULL) < 0)
		return 1;
	rc = store_stat(r->srv->st, src->bucket, buf_slice(&src->key), info, meta);
	if (rc == CAIRN_E_NOTFOUND)
		return server_req_fail(r, S3E_NO_SUCH_KEY,
				       "The specified copy source does not exist");
	if (rc < 0)
		return server_req_fail_rc(r, rc);
	e = ops_conditions(r, "x-amz-copy-source-", info->etag, info->mtime_ns / 1000000000);
	if (e != S3E_OK)
		return server_req_fail(r, S3E_PRECONDITION_FAILED, NULL);
	return 0;
}

/* With REPLACE the new metadata comes from the request, keeping the source's checksums (the
 * bytes are the same). Returns 0 or non-zero after server_req_fail(). */
static int
ops_copy_replace_meta(struct server_req *r, struct slice src_meta, struct buf *meta)
{
	struct slice name, value;
	size_t pos = 0;

	if (ops_meta_from_headers(r, meta) != 0)
		return 1;
	while (store_meta_next(src_meta, &pos, &name, &value) == 1) {
		char n[64];

		if (name.len < 15 || name.len >= sizeof(n) ||
		    strncasecmp((const char *)name.p, "x-amz-checksum-", 15) != 0)
			continue;
		memcpy(n, name.p, name.len);
		n[name.len] = 0;
		if (store_meta_add(meta, n, value) < 0)
			return server_req_fail(r, S3E_METADATA_TOO_LARGE, NULL);
	}
	return 0;
}

static void
ops_copy_result(struct server_req *r, const struct store_object_info *info)
{
	struct xml_writer w;
	char date[25];

	if (httpdate_format_iso8601(info->mtime_ns / 1000000000, date) < 0)
		date[0] = 0;
	xml_writer_init(&w, server_req_xml(r, 200));
	xml_open_ns(&w, "CopyObjectResult");
	xml_elem(&w, "LastModified", date);
	xml_elem(&w, "ETag", info->etag);
	xml_close(&w);
	if (xml_writer_finish(&w) < 0)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
}

/* Runs the copy once source and destination were checked. */
static void
ops_copy_run(struct server_req *r, struct ops_copy_src *src, struct slice src_meta,
	     struct buf *meta)
{
	const char *directive = s3req_header(&r->s3, "x-amz-metadata-directive");
	bool replace = directive && strcmp(directive, "REPLACE") == 0;
	struct store_object_info info;
	struct slice new_meta;
	int rc;

	if (directive && !replace && strcmp(directive, "COPY") != 0) {
		server_req_fail(r, S3E_INVALID_ARGUMENT, "Unknown metadata directive.");
		return;
	}
	if (!replace && strcmp(src->bucket, r->s3.bucket) == 0 && src->key.len == r->s3.key.len &&
	    memcmp(src->key.p, r->s3.key.p, src->key.len) == 0) {
		server_req_fail(r, S3E_INVALID_REQUEST,
				"This copy request is illegal because it is trying to copy an "
				"object to itself without changing the object's metadata, storage "
				"class, website redirect location or encryption attributes.");
		return;
	}
	if (replace && ops_copy_replace_meta(r, src_meta, meta) != 0)
		return;
	new_meta = buf_slice(meta);
	rc = store_copy(r->srv->st, src->bucket, buf_slice(&src->key), r->s3.bucket,
			buf_slice(&r->s3.key), replace ? &new_meta : NULL, NULL, &info);
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, S3E_NO_SUCH_KEY, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		ops_copy_result(r, &info);
}

void
ops_copy_object(struct server_req *r)
{
	struct buf src_meta, meta;
	struct store_object_info info;
	struct ops_copy_src src;

	if (ops_key_check(r, r->s3.key.p, r->s3.key.len) != 0 ||
	    ops_bucket_access(r, r->s3.bucket, NULL) < 0 || ops_unsupported_headers(r) != 0)
		return;
	buf_init(&src.key, S3NAME_KEY_MAX);
	buf_init(&src_meta, 1u << 20);
	buf_init(&meta, 16u << 10);
	if (ops_copy_source_parse(r, &src) == 0 &&
	    ops_copy_source_check(r, &src, &info, &src_meta) == 0)
		ops_copy_run(r, &src, buf_slice(&src_meta), &meta);
	buf_fini(&meta);
	buf_fini(&src_meta);
	buf_fini(&src.key);
}
