/*
 * ops_multipart_list.c — ListParts and ListMultipartUploads, with their paging markers
 * (part-number-marker / max-parts; key-marker, upload-id-marker / max-uploads) and
 * encoding-type=url. At most 1000 entries per page, as S3.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/urlenc.h"
#include "ops_multipart_priv.h"

#define OPSMP_LIST_MAX 1000
#define OPSMP_ARG_MAX 1024 /* bytes of prefix, delimiter, key-marker */

/* An optional decimal parameter (absent: *out unchanged). Returns 0 or non-zero after
 * server_req_fail(). */
static int
opsmp_param_u32(struct server_req *r, const char *name, uint32_t max, uint32_t *out)
{
	const char *v = s3req_param(&r->s3, name);
	unsigned long long n;
	char msg[96];
	char *end;

	if (!v)
		return 0;
	errno = 0;
	n = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
	if (*v < '0' || *v > '9' || errno || *end) {
		snprintf(msg, sizeof(msg), "Provided %s not an integer or within integer range",
			 name);
		return server_req_fail(r, S3E_INVALID_ARGUMENT, msg);
	}
	*out = n > max ? max : (uint32_t)n;
	return 0;
}

static int
opsmp_param_url(struct server_req *r, bool *url)
{
	const char *enc = s3req_param(&r->s3, "encoding-type");

	if (enc && strcmp(enc, "url") != 0)
		return server_req_fail(r, S3E_INVALID_ARGUMENT,
				       "Invalid Encoding Method specified in Request");
	*url = enc != NULL;
	return 0;
}

/* ---- ListParts ---- */

struct opsmp_lp {
	struct xml_writer *w;
	enum checksum_algo algo;
	uint32_t last;
};

static int
opsmp_lp_part(const struct store_part *p, void *arg)
{
	struct opsmp_lp *lp = arg;
	char date[25], etag[40], b64[CHECKSUM_B64_SIZE];

	opsmp_iso8601(p->mtime_ns, date);
	etag[0] = '"';
	hex_encode(p->md5, 16, etag + 1);
	memcpy(etag + 33, "\"", 2);
	xml_open(lp->w, "Part");
	xml_elem_u64(lp->w, "PartNumber", p->number);
	xml_elem(lp->w, "LastModified", date);
	xml_elem(lp->w, "ETag", etag);
	xml_elem_u64(lp->w, "Size", p->size);
	if (lp->algo != CHECKSUM_NONE && p->checksum_len == checksum_algo_len(lp->algo)) {
		checksum_to_base64(p->checksum, p->checksum_len, b64);
		xml_elem(lp->w, checksum_algo_xml(lp->algo), b64);
	}
	xml_close(lp->w);
	lp->last = p->number;
	return 0;
}

static void
opsmp_lp_head(struct server_req *r, struct xml_writer *w, const struct store_upload_info *info,
	      bool url, uint32_t marker)
{
	xml_open_ns(w, "ListPartsResult");
	xml_elem(w, "Bucket", r->s3.bucket);
	opsmp_xml_key(w, "Key", info->key, url);
	xml_elem(w, "UploadId", info->id);
	if (url)
		xml_elem(w, "EncodingType", "url");
	opsmp_xml_user(w, "Initiator", info->owner);
	opsmp_xml_user(w, "Owner", info->owner);
	xml_elem(w, "StorageClass", "STANDARD");
	xml_elem_u64(w, "PartNumberMarker", marker);
	if (info->checksum_algo) {
		xml_elem(w, "ChecksumAlgorithm", checksum_algo_name(info->checksum_algo));
		xml_elem(w, "ChecksumType", opsmp_checksum_type_name(info->checksum_type));
	}
}

void
ops_list_parts(struct server_req *r)
{
	uint32_t max = OPSMP_LIST_MAX, marker = 0;
	struct store_upload_info info;
	struct opsmp_lp lp = {0};
	struct xml_writer w;
	bool url, truncated = false;
	struct buf key;
	int rc;

	buf_init(&key, INDEX_KEY_MAX);
	if (opsmp_param_u32(r, "max-parts", OPSMP_LIST_MAX, &max) != 0 ||
	    opsmp_param_u32(r, "part-number-marker", UINT32_MAX, &marker) != 0 ||
	    opsmp_param_url(r, &url) != 0 || opsmp_upload(r, &info, &key, NULL) != 0)
		goto out_free_key;
	xml_writer_init(&w, server_req_xml(r, 200));
	opsmp_lp_head(r, &w, &info, url, marker);
	lp.w = &w;
	lp.algo = (enum checksum_algo)info.checksum_algo;
	lp.last = marker;
	rc = store_upload_parts(r->srv->st, r->s3.bucket, buf_slice(&r->s3.key), info.id, marker,
				max, opsmp_lp_part, &lp, &truncated);
	if (rc < 0) {
		server_req_fail(r, rc == CAIRN_E_NOTFOUND ? S3E_NO_SUCH_UPLOAD : S3E_INTERNAL_ERROR,
				NULL);
		goto out_free_key;
	}
	xml_elem_u64(&w, "NextPartNumberMarker", lp.last);
	xml_elem_u64(&w, "MaxParts", max);
	xml_elem_bool(&w, "IsTruncated", truncated);
	xml_close(&w);
	if (xml_writer_finish(&w) < 0)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
out_free_key:
	buf_fini(&key);
}

/* ---- ListMultipartUploads ---- */

struct opsmp_lu {
	struct xml_writer *w;
	bool url;
	struct buf prefixes; /* <CommonPrefixes> elements, written after the uploads */
	struct buf tmp;
	struct buf last_key; /* the last entry: next key-marker */
	char last_id[STORE_UPLOAD_ID_LEN + 1];
	int err;
};

/* Appends <CommonPrefixes><Prefix>p</Prefix></CommonPrefixes> to lu->prefixes. */
static int
opsmp_lu_prefix(struct opsmp_lu *lu, struct slice p)
{
	int rc = buf_append_str(&lu->prefixes, "<CommonPrefixes><Prefix>");

	if (rc == 0 && lu->url) {
		buf_reset(&lu->tmp);
		rc = urlenc_encode((const char *)p.p, p.len, URLENC_KEEP_SLASH, &lu->tmp);
		p = buf_slice(&lu->tmp);
	}
	if (rc == 0)
		rc = xml_escape(&lu->prefixes, (const char *)p.p, p.len);
	return rc ? rc : buf_append_str(&lu->prefixes, "</Prefix></CommonPrefixes>");
}

static int
opsmp_lu_entry(const struct store_upload_entry *e, void *arg)
{
	struct opsmp_lu *lu = arg;
	const char *algo = checksum_algo_name(e->checksum_algo);
	char date[25];

	buf_reset(&lu->last_key);
	buf_append(&lu->last_key, e->key.p, e->key.len);
	snprintf(lu->last_id, sizeof(lu->last_id), "%s", e->is_prefix ? "" : e->id);
	if (e->is_prefix)
		return lu->err = opsmp_lu_prefix(lu, e->key);
	opsmp_iso8601(e->initiated_ns, date);
	xml_open(lu->w, "Upload");
	opsmp_xml_key(lu->w, "Key", e->key, lu->url);
	xml_elem(lu->w, "UploadId", e->id);
	opsmp_xml_user(lu->w, "Initiator", e->owner);
	opsmp_xml_user(lu->w, "Owner", e->owner);
	xml_elem(lu->w, "StorageClass", "STANDARD");
	xml_elem(lu->w, "Initiated", date);
	if (algo[0]) {
		xml_elem(lu->w, "ChecksumAlgorithm", algo);
		xml_elem(lu->w, "ChecksumType", opsmp_checksum_type_name(e->checksum_type));
	}
	xml_close(lu->w);
	return 0;
}

/* A string parameter of at most OPSMP_ARG_MAX bytes ("" when absent). */
static int
opsmp_param_str(struct server_req *r, const char *name, struct slice *out)
{
	const char *v = s3req_param(&r->s3, name);
	char msg[64];

	out->p = (const uint8_t *)(v ? v : "");
	out->len = v ? strlen(v) : 0;
	if (out->len > OPSMP_ARG_MAX) {
		snprintf(msg, sizeof(msg), "%s is too long", name);
		return server_req_fail(r, S3E_INVALID_ARGUMENT, msg);
	}
	return 0;
}

static int
opsmp_lu_params(struct server_req *r, struct store_upload_query *q, bool *url)
{
	uint32_t max = OPSMP_LIST_MAX;

	if (opsmp_param_str(r, "prefix", &q->prefix) != 0 ||
	    opsmp_param_str(r, "delimiter", &q->delimiter) != 0 ||
	    opsmp_param_str(r, "key-marker", &q->key_marker) != 0 ||
	    opsmp_param_u32(r, "max-uploads", OPSMP_LIST_MAX, &max) != 0 ||
	    opsmp_param_url(r, url) != 0)
		return 1;
	q->id_marker = s3req_param(&r->s3, "upload-id-marker");
	q->max = max;
	return 0;
}

static void
opsmp_lu_head(struct server_req *r, struct xml_writer *w, const struct store_upload_query *q,
	      bool url)
{
	xml_open_ns(w, "ListMultipartUploadsResult");
	xml_elem(w, "Bucket", r->s3.bucket);
	opsmp_xml_key(w, "KeyMarker", q->key_marker, url);
	xml_elem(w, "UploadIdMarker", q->id_marker ? q->id_marker : "");
	if (q->prefix.len)
		opsmp_xml_key(w, "Prefix", q->prefix, url);
	if (q->delimiter.len)
		opsmp_xml_key(w, "Delimiter", q->delimiter, url);
	xml_elem_u64(w, "MaxUploads", q->max);
	if (url)
		xml_elem(w, "EncodingType", "url");
}

/* After the entries: the common prefixes, the truncation flag and the next markers. */
static void
opsmp_lu_tail(struct server_req *r, struct xml_writer *w, struct opsmp_lu *lu, bool truncated)
{
	/* The writer appends to the response body and has no element open but the root here. */
	if (lu->prefixes.len && buf_append(&r->resp.body, lu->prefixes.p, lu->prefixes.len) < 0)
		lu->err = CAIRN_E_TOOBIG;
	xml_elem_bool(w, "IsTruncated", truncated);
	if (truncated) {
		opsmp_xml_key(w, "NextKeyMarker", buf_slice(&lu->last_key), lu->url);
		xml_elem(w, "NextUploadIdMarker", lu->last_id);
	}
	xml_close(w);
}

void
ops_list_multipart(struct server_req *r)
{
	struct store_upload_query q = {0};
	struct opsmp_lu lu = {0};
	struct xml_writer w;
	bool truncated = false;
	int rc;

	if (ops_bucket_access(r, r->s3.bucket, NULL) < 0 || opsmp_lu_params(r, &q, &lu.url) != 0)
		return;
	buf_init(&lu.prefixes, SERVER_RESP_BODY_MAX / 2);
	buf_init(&lu.tmp, 3 * INDEX_KEY_MAX + 1);
	buf_init(&lu.last_key, INDEX_KEY_MAX);
	xml_writer_init(&w, server_req_xml(r, 200));
	opsmp_lu_head(r, &w, &q, lu.url);
	lu.w = &w;
	rc = store_upload_list(r->srv->st, r->s3.bucket, &q, opsmp_lu_entry, &lu, &truncated);
	if (rc == 0)
		opsmp_lu_tail(r, &w, &lu, truncated);
	if (rc < 0 || lu.err < 0 || xml_writer_finish(&w) < 0)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
	buf_fini(&lu.last_key);
	buf_fini(&lu.tmp);
	buf_fini(&lu.prefixes);
}
