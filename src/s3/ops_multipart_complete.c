/*
 * ops_multipart_complete.c — CompleteMultipartUpload.
 *
 * The XML part list is checked against the stored parts in one ordered walk (both ascend by part
 * number): each listed part must exist with the ETag the client gives (InvalidPart), every part
 * but the last must be at least 5 MiB (EntityTooSmall), and a checksum the client lists must be
 * the stored one. The same walk builds the object's checksum: for a COMPOSITE upload the checksum
 * of the concatenated part checksums with "-N", for FULL_OBJECT the parts' CRCs combined into the
 * CRC of the whole object. The store then stitches the parts in one transaction; it re-checks
 * that each part is still the one validated here (a concurrent re-upload makes it InvalidPart).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/urlenc.h"
#include "ops_multipart_priv.h"

struct opsmp_complete {
	const struct xml_complete *req;
	struct store_complete_part *parts; /* req->n, filled as they are matched */
	size_t j;			   /* the next listed part to match */
	enum checksum_algo algo;
	uint8_t type;
	struct checksum_ctx comp; /* COMPOSITE: over the part digests */
	uint64_t crc;		  /* FULL_OBJECT: combined so far */
	uint64_t size;
	enum s3_error err; /* the first problem found, S3E_OK while none */
	char msg[192];
};

static int
opsmp_complete_fail(struct opsmp_complete *c, enum s3_error e, uint32_t number, const char *why)
{
	c->err = e;
	snprintf(c->msg, sizeof(c->msg), "%s (part %u)", why, number);
	return 1;
}

/* Checks a matched part's checksum and adds it to the object's. */
static int
opsmp_complete_checksum(struct opsmp_complete *c, const struct xml_part *x,
			const struct store_part *p)
{
	uint8_t want[CHECKSUM_MAX_LEN];
	size_t len = checksum_algo_len(c->algo);

	if (c->algo == CHECKSUM_NONE)
		return 0;
	if (p->checksum_len != len)
		return opsmp_complete_fail(c, S3E_INVALID_PART, p->number,
					   "The part was stored without the upload's checksum");
	if (x->checksum_algo != CHECKSUM_NONE &&
	    (x->checksum_algo != c->algo ||
	     checksum_from_base64(c->algo, x->checksum, strlen(x->checksum), want) < 0 ||
	     memcmp(want, p->checksum, len) != 0))
		return opsmp_complete_fail(c, S3E_INVALID_PART, p->number,
					   "The checksum given does not match the part's");
	if (c->type == OPSMP_CK_COMPOSITE)
		checksum_update(&c->comp, p->checksum, len);
	else /* the CRC of no bytes is 0, so the first part combines like the others */
		c->crc = checksum_crc_combine(
		    c->algo, c->crc, checksum_digest_to_crc(c->algo, p->checksum), p->size);
	return 0;
}

/* The ETag as listed (quotes already removed by the parser) must be the part's MD5. */
static bool
opsmp_etag_matches(const char *etag, const uint8_t md5[16])
{
	uint8_t got[16];
	size_t len = strlen(etag);

	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
		etag++;
		len -= 2;
	}
	return len == 32 && hex_decode(etag, 16, got) == 0 && memcmp(got, md5, 16) == 0;
}

/* store_upload_parts() callback: matches stored parts with listed ones, in number order. */
static int
opsmp_complete_part(const struct store_part *p, void *arg)
{
	struct opsmp_complete *c = arg;
	const struct xml_part *x;

	if (c->j == c->req->n)
		return 1;
	x = &c->req->parts[c->j];
	if (x->part_number < p->number)
		return opsmp_complete_fail(c, S3E_INVALID_PART, x->part_number,
					   "One or more of the specified parts could not be found");
	if (x->part_number > p->number)
		return 0; /* a stored part not listed: released by the completion */
	if (!opsmp_etag_matches(x->etag, p->md5))
		return opsmp_complete_fail(c, S3E_INVALID_PART, p->number,
					   "The specified entity tag does not match the part's");
	if (c->j + 1 < c->req->n && p->size < STORE_PART_SIZE_MIN)
		return opsmp_complete_fail(c, S3E_ENTITY_TOO_SMALL, p->number,
					   "Your proposed upload is smaller than the minimum "
					   "allowed size: every part but the last must be at "
					   "least 5 MiB");
	if (opsmp_complete_checksum(c, x, p) != 0)
		return 1;
	c->parts[c->j].number = p->number;
	c->parts[c->j].size = p->size;
	memcpy(c->parts[c->j].md5, p->md5, 16);
	c->size += p->size;
	c->j++;
	return 0;
}

/* Parses the body: MalformedXML, InvalidArgument (part number), InvalidPartOrder. */
static int
opsmp_complete_parse(struct server_req *r, struct xml_complete *req)
{
	enum s3_error e = S3E_MALFORMED_XML;
	size_t i;

	if (xml_parse_complete((const char *)r->body.p, r->body.len, req, &e) < 0)
		return server_req_fail(r, e, NULL);
	for (i = 1; i < req->n; i++)
		if (req->parts[i].part_number <= req->parts[i - 1].part_number)
			return server_req_fail(r, S3E_INVALID_PART_ORDER, NULL);
	return 0;
}

/* Walks the stored parts; on success c->parts holds the validated list. */
static int
opsmp_complete_match(struct server_req *r, const struct store_upload_info *info,
		     struct opsmp_complete *c)
{
	bool truncated;
	int rc;

	c->algo = (enum checksum_algo)info->checksum_algo;
	c->type = info->checksum_type;
	if (c->algo != CHECKSUM_NONE && c->type == OPSMP_CK_COMPOSITE)
		checksum_init(&c->comp, c->algo);
	rc = store_upload_parts(r->srv->st, r->s3.bucket, buf_slice(&r->s3.key), info->id,
				c->req->parts[0].part_number - 1, STORE_PARTS_MAX,
				opsmp_complete_part, c, &truncated);
	if (rc == 1)
		rc = 0;
	if (rc == 0 && c->err == S3E_OK && c->j < c->req->n)
		opsmp_complete_fail(c, S3E_INVALID_PART, c->req->parts[c->j].part_number,
				    "One or more of the specified parts could not be found");
	if (rc == CAIRN_E_NOTFOUND)
		return server_req_fail(r, S3E_NO_SUCH_UPLOAD, NULL);
	if (rc < 0)
		return server_req_fail_rc(r, rc);
	if (c->err != S3E_OK)
		return server_req_fail(r, c->err, c->msg);
	return 0;
}

/* The object's checksum value (base64, "-N" for composite) into out; "" when none. */
static void
opsmp_complete_value(struct opsmp_complete *c, char out[CHECKSUM_B64_SIZE + 8])
{
	uint8_t d[CHECKSUM_MAX_LEN];
	char b64[CHECKSUM_B64_SIZE];
	size_t n;

	out[0] = 0;
	if (c->algo == CHECKSUM_NONE)
		return;
	if (c->type == OPSMP_CK_COMPOSITE) {
		n = checksum_final(&c->comp, d);
		checksum_to_base64(d, n, b64);
		snprintf(out, CHECKSUM_B64_SIZE + 8, "%s-%zu", b64, c->req->n);
	} else {
		n = checksum_crc_to_digest(c->algo, c->crc, d);
		checksum_to_base64(d, n, out);
	}
}

/* x-amz-mp-object-size and a full-object checksum header, when the client sends them. */
static int
opsmp_complete_client_checks(struct server_req *r, struct opsmp_complete *c, const char *value)
{
	const char *sz = s3req_header(&r->s3, "x-amz-mp-object-size");
	const char *hv = c->algo ? s3req_header(&r->s3, checksum_algo_header(c->algo)) : NULL;
	unsigned long long n;
	char *end;

	if (sz) {
		errno = 0;
		n = strtoull(sz, &end, 10);
		if (*sz < '0' || *sz > '9' || errno || *end || n != c->size)
			return server_req_fail(
			    r, S3E_INVALID_REQUEST,
			    "The provided x-amz-mp-object-size header value does "
			    "not match the size of the object");
	}
	if (hv && c->type == OPSMP_CK_FULL && strcmp(hv, value) != 0)
		return server_req_fail(r, S3E_BAD_DIGEST, NULL);
	return 0;
}

/* The upload's metadata plus the object's checksum. */
static int
opsmp_complete_meta(struct server_req *r, struct opsmp_complete *c, const char *value,
		    struct buf *meta)
{
	const char *type = opsmp_checksum_type_name(c->type);
	int rc = 0;

	if (c->algo == CHECKSUM_NONE)
		return 0;
	rc = store_meta_add(meta, checksum_algo_header(c->algo),
			    (struct slice){(const uint8_t *)value, strlen(value)});
	if (rc == 0)
		rc = store_meta_add(meta, "x-amz-checksum-type",
				    (struct slice){(const uint8_t *)type, strlen(type)});
	if (rc < 0)
		return server_req_fail(r, S3E_METADATA_TOO_LARGE, NULL);
	return 0;
}

static int
opsmp_complete_cond(struct server_req *r, struct store_put_cond *cond)
{
	const char *inm = s3req_header(&r->s3, "if-none-match");

	cond->if_match = s3req_header(&r->s3, "if-match");
	if (inm && strcmp(inm, "*") != 0)
		return server_req_fail(r, S3E_NOT_IMPLEMENTED,
				       "If-None-Match on writes supports only *");
	cond->if_none_match_any = inm != NULL;
	return 0;
}

static void
opsmp_complete_result(struct server_req *r, struct opsmp_complete *c,
		      const struct store_object_info *info, const char *value)
{
	const char *host = s3req_header(&r->s3, "host");
	struct xml_writer w;
	struct buf loc;

	buf_init(&loc, 4 * INDEX_KEY_MAX);
	buf_printf(&loc, "http://%s/%s/", host ? host : "localhost", r->s3.bucket);
	urlenc_encode((const char *)r->s3.key.p, r->s3.key.len, URLENC_KEEP_SLASH, &loc);
	xml_writer_init(&w, server_req_xml(r, 200));
	xml_open_ns(&w, "CompleteMultipartUploadResult");
	xml_elem_n(&w, "Location", (const char *)loc.p, loc.len);
	xml_elem(&w, "Bucket", r->s3.bucket);
	opsmp_xml_key(&w, "Key", buf_slice(&r->s3.key), false);
	xml_elem(&w, "ETag", info->etag);
	if (c->algo != CHECKSUM_NONE) {
		xml_elem(&w, checksum_algo_xml(c->algo), value);
		xml_elem(&w, "ChecksumType", opsmp_checksum_type_name(c->type));
	}
	xml_close(&w);
	buf_fini(&loc);
	if (xml_writer_finish(&w) < 0)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
}

/* Validated: stitch. */
static void
opsmp_complete_commit(struct server_req *r, struct opsmp_complete *c,
		      const struct store_upload_info *up, struct buf *meta)
{
	char value[CHECKSUM_B64_SIZE + 8];
	struct store_object_info info;
	struct store_put_cond cond;
	int rc;

	opsmp_complete_value(c, value);
	if (opsmp_complete_client_checks(r, c, value) != 0 || opsmp_complete_cond(r, &cond) != 0 ||
	    opsmp_complete_meta(r, c, value, meta) != 0)
		return;
	rc = store_upload_complete(r->srv->st, r->s3.bucket, buf_slice(&r->s3.key), up->id,
				   c->parts, c->req->n, buf_slice(meta), &cond, &info);
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, S3E_NO_SUCH_UPLOAD, NULL);
	else if (rc == CAIRN_E_BADDIGEST)
		server_req_fail(r, S3E_INVALID_PART, "A part changed while the upload completed");
	else if (rc == CAIRN_E_PRECONDITION)
		server_req_fail(r, S3E_PRECONDITION_FAILED, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		opsmp_complete_result(r, c, &info, value);
}

int
ops_complete_multipart_begin(struct server_req *r)
{
	/* The part list of 10,000 parts with checksums passes the default XML body cap. */
	buf_fini(&r->body);
	buf_init(&r->body, XML_COMPLETE_BODY_MAX);
	r->body_mode = SERVER_BODY_BUFFER;
	return 0;
}

void
ops_complete_multipart(struct server_req *r)
{
	struct opsmp_complete c = {0};
	struct store_upload_info info;
	struct xml_complete req = {0};
	struct buf meta;

	buf_init(&meta, 64u << 10);
	if (opsmp_upload(r, &info, NULL, &meta) != 0 || opsmp_complete_parse(r, &req) != 0)
		goto out_free;
	c.req = &req;
	c.parts = calloc(req.n, sizeof(*c.parts));
	if (!c.parts)
		abort();
	if (opsmp_complete_match(r, &info, &c) == 0)
		opsmp_complete_commit(r, &c, &info, &meta);
	if (c.algo != CHECKSUM_NONE && c.type == OPSMP_CK_COMPOSITE)
		checksum_fini(&c.comp);
	free(c.parts);
out_free:
	xml_complete_fini(&req);
	buf_fini(&meta);
}
