#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn/err.h"
#include "cairn/httpdate.h"
#include "cairn/ops.h"
#include "cairn/range.h"
#include "cairn/store_upload.h"

/* ---- conditional requests ---- */

/* The opaque part of an entity tag: without W/ and the surrounding quotes. */
static struct slice
ops_etag_bare(const char *p, size_t len)
{
	struct slice s;

	if (len >= 2 && p[0] == 'W' && p[1] == '/') {
		p += 2;
		len -= 2;
	}
	if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
		p++;
		len -= 2;
	}
	s.p = (const uint8_t *)p;
	s.len = len;
	return s;
}

/* True when the comma-separated list names etag or is "*". */
static bool
ops_etag_list_matches(const char *list, const char *etag)
{
	struct slice want = ops_etag_bare(etag, strlen(etag));
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct slice got;

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 1 && *p == '*')
			return true;
		got = ops_etag_bare(p, len);
		if (got.len == want.len && memcmp(got.p, want.p, got.len) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

static const char *
ops_cond_header(const struct server_req *r, const char *prefix, const char *name)
{
	char full[64];

	snprintf(full, sizeof(full), "%s%s", prefix, name);
	return s3req_header(&r->s3, full);
}

/* Parses an HTTP date header; false when absent or invalid (the condition is then ignored). */
static bool
ops_cond_date(const char *v, int64_t *t)
{
	return v && httpdate_parse(v, strlen(v), t) == 0;
}

enum s3_error
ops_conditions(const struct server_req *r, const char *prefix, const char *etag, int64_t mtime_s)
{
	const char *im = ops_cond_header(r, prefix, "if-match");
	const char *inm = ops_cond_header(r, prefix, "if-none-match");
	int64_t t;

	if (im) {
		if (!ops_etag_list_matches(im, etag))
			return S3E_PRECONDITION_FAILED;
	} else if (ops_cond_date(ops_cond_header(r, prefix, "if-unmodified-since"), &t) &&
		   mtime_s > t) {
		return S3E_PRECONDITION_FAILED;
	}
	if (inm) {
		if (ops_etag_list_matches(inm, etag))
			return S3E_NOT_MODIFIED;
	} else if (ops_cond_date(ops_cond_header(r, prefix, "if-modified-since"), &t) &&
		   mtime_s <= t) {
		return S3E_NOT_MODIFIED;
	}
	return S3E_OK;
}

/* ---- response headers ---- */

/* response-* query parameters and the headers they override. */
static const char *const ops_overrides[][2] = {
    {"response-content-type", "Content-Type"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
};

#define OPS_NOVERRIDES (sizeof(ops_overrides) / sizeof(ops_overrides[0]))

static bool
ops_is_overridden(const struct server_req *r, struct slice name)
{
	size_t i;

	for (i = 0; i < OPS_NOVERRIDES; i++) {
		const char *h = ops_overrides[i][1];

		if (strlen(h) == name.len && strncasecmp(h, (const char *)name.p, name.len) == 0)
			return s3req_param(&r->s3, ops_overrides[i][0]) != NULL;
	}
	return false;
}

static bool
ops_is_checksum_name(struct slice name)
{
	return name.len > 15 && strncasecmp((const char *)name.p, "x-amz-checksum-", 15) == 0;
}

/* Adds the stored metadata (with response-* overrides applied) to the response. Checksums only
 * when asked for with x-amz-checksum-mode: ENABLED and the whole object is sent. */
static void
ops_meta_headers(struct server_req *r, struct slice meta, bool whole)
{
	const char *mode = s3req_header(&r->s3, "x-amz-checksum-mode");
	bool checksums = whole && mode && strcasecmp(mode, "ENABLED") == 0;
	struct slice name, value;
	bool has_type = false;
	size_t pos = 0, i;

	while (store_meta_next(meta, &pos, &name, &value) == 1) {
		if (ops_is_checksum_name(name) && !checksums)
			continue;
		if (name.len >= sizeof(STORE_META_INTERNAL_PREFIX) - 1 &&
		    memcmp(name.p, STORE_META_INTERNAL_PREFIX,
			   sizeof(STORE_META_INTERNAL_PREFIX) - 1) == 0)
			continue; /* the store's own (part boundaries) */
		if (ops_is_overridden(r, name))
			continue;
		if (name.len == 12 && strncasecmp((const char *)name.p, "Content-Type", 12) == 0)
			has_type = true;
		server_resp_header_slice(&r->resp, name, value);
	}
	for (i = 0; i < OPS_NOVERRIDES; i++) {
		const char *v = s3req_param(&r->s3, ops_overrides[i][0]);

		if (v)
			server_resp_header(&r->resp, ops_overrides[i][1], v);
	}
	if (!has_type && !s3req_param(&r->s3, "response-content-type"))
		server_resp_header(&r->resp, "Content-Type", "binary/octet-stream");
}

static void
ops_validators(struct server_req *r, const struct store_object_info *info)
{
	char date[HTTPDATE_LEN + 1];

	server_resp_header(&r->resp, "ETag", info->etag);
	if (httpdate_format(info->mtime_ns / 1000000000, date) == 0)
		server_resp_header(&r->resp, "Last-Modified", date);
}

/* ---- GetObject / HeadObject ---- */

/* Opens (GET) or stats (HEAD) the object; fills info and *meta. Returns 0 or fails r. */
static int
ops_get_open(struct server_req *r, bool head, struct store_get **g, struct store_object_info *info,
	     struct buf *meta_buf, struct slice *meta)
{
	struct slice key = buf_slice(&r->s3.key);
	int rc;

	if (head) {
		rc = store_stat(r->srv->st, r->s3.bucket, key, info, meta_buf);
		*meta = buf_slice(meta_buf);
	} else {
		rc = store_get_open(r->srv->st, r->s3.bucket, key, g);
		if (rc == 0) {
			*info = *store_get_info(*g);
			*meta = info->meta;
		}
	}
	if (rc == CAIRN_E_NOTFOUND)
		return server_req_fail(r, S3E_NO_SUCH_KEY, NULL);
	if (rc < 0)
		return server_req_fail_rc(r, rc);
	return 0;
}

/* Applies Range: sets status, Content-Range and the span; positions g. Returns 0 or fails r. */
static int
ops_get_range(struct server_req *r, struct store_get *g, uint64_t size, bool *whole)
{
	const char *hdr = s3req_header(&r->s3, "range");
	char cr[64];
	struct range rg;
	int rc;

	*whole = true;
	r->resp.length = size;
	switch (range_parse(hdr, hdr ? strlen(hdr) : 0, size, &rg)) {
	case RANGE_FULL:
		r->resp.status = 200;
		return 0;
	case RANGE_UNSATISFIABLE:
		server_req_fail(r, S3E_INVALID_RANGE, NULL);
		range_content_range(NULL, size, cr, sizeof(cr));
		server_resp_header(&r->resp, "Content-Range", cr);
		return CAIRN_E_INVAL;
	case RANGE_PARTIAL:
		break;
	}
	if (g && (rc = store_get_seek(g, rg.start)) < 0)
		return server_req_fail_rc(r, rc);
	*whole = false;
	r->resp.status = 206;
	r->resp.length = rg.len;
	range_content_range(&rg, size, cr, sizeof(cr));
	server_resp_header(&r->resp, "Content-Range", cr);
	return 0;
}

/* partNumber=N: that part's bytes (multipart objects; part 1 is the whole of any other
 * object), 206 with Content-Range and x-amz-mp-parts-count. Returns 0 or fails r. */
static int
ops_get_part(struct server_req *r, struct store_get *g, const struct store_object_info *info,
	     struct slice meta, uint32_t n)
{
	uint64_t start = 0, len = info->size;
	uint32_t count = 0;
	char cr[RANGE_CONTENT_RANGE_SIZE], num[16];
	struct range rg;
	int rc;

	rc = store_meta_part_range(meta, n, &start, &len, &count);
	if (rc == CAIRN_E_NOTFOUND && n == 1)
		rc = 0; /* not a multipart object (or its boundaries were not kept): one part */
	if (rc < 0)
		return server_req_fail(r, S3E_INVALID_PART_NUMBER, NULL);
	if (g && (rc = store_get_seek(g, start)) < 0)
		return server_req_fail_rc(r, rc);
	if (count) {
		snprintf(num, sizeof(num), "%u", count);
		server_resp_header(&r->resp, "x-amz-mp-parts-count", num);
	}
	r->resp.length = len;
	r->resp.status = 200;
	if (len == 0)
		return 0;
	rg.start = start;
	rg.len = len;
	r->resp.status = 206;
	range_content_range(&rg, info->size, cr, sizeof(cr));
	server_resp_header(&r->resp, "Content-Range", cr);
	return 0;
}

/* The partNumber parameter: 0 when absent, else 1..10000 (InvalidArgument otherwise, and with a
 * Range header InvalidRequest). Returns 0 or fails r. */
static int
ops_get_part_number(struct server_req *r, uint32_t *n)
{
	const char *v = s3req_param(&r->s3, "partNumber");
	unsigned long long x = 0;
	char *end = NULL;

	*n = 0;
	if (!v)
		return 0;
	if (*v >= '0' && *v <= '9')
		x = strtoull(v, &end, 10);
	if (!end || *end || x < 1 || x > STORE_PARTS_MAX)
		return server_req_fail(r, S3E_INVALID_ARGUMENT,
				       "Part number must be an integer between 1 and 10000, "
				       "inclusive");
	if (s3req_header(&r->s3, "range"))
		return server_req_fail(r, S3E_INVALID_REQUEST,
				       "Cannot specify both Range header and partNumber query "
				       "parameter");
	*n = (uint32_t)x;
	return 0;
}

/* A body up to this size is read whole before the response starts, so that it leaves in one
 * write with the headers (one syscall and no Nagle wait for a small GET) and a damaged chunk
 * anywhere in it is still a proper error; larger bodies stream. */
#define OPS_GET_SMALL (16u << 10)

/* Reads the resp.length bytes at g's position into the response body. Returns 0, or 1 after
 * failing the request. */
static int
ops_get_read_small(struct server_req *r, struct store_get *g)
{
	size_t len = (size_t)r->resp.length, n;
	int rc;

	rc = buf_reserve(&r->resp.body, len);
	while (rc == 0 && r->resp.body.len < len) {
		rc = store_get_read(g, r->resp.body.p + r->resp.body.len, len - r->resp.body.len,
				    &n);
		if (rc == 0 && n == 0)
			rc = CAIRN_E_CORRUPT;
		r->resp.body.len += rc == 0 ? n : 0;
	}
	if (rc < 0) {
		buf_reset(&r->resp.body);
		server_req_fail_rc(r, rc);
		return 1;
	}
	return 0;
}

void
ops_get_object(struct server_req *r, bool head)
{
	const char *vid = s3req_param(&r->s3, "versionId");
	struct store_object_info info;
	struct store_get *g = NULL;
	struct slice meta;
	struct buf meta_buf;
	enum s3_error e;
	uint32_t part;
	bool whole;
	int rc;

	if (vid && strcmp(vid, "null") != 0) {
		server_req_fail(r, S3E_NO_SUCH_VERSION, NULL);
		return;
	}
	if (ops_get_part_number(r, &part) != 0 || ops_bucket_access(r, r->s3.bucket, NULL) < 0)
		return;
	buf_init(&meta_buf, 1u << 20);
	if (ops_get_open(r, head, &g, &info, &meta_buf, &meta) != 0)
		goto out_free_meta;
	e = ops_conditions(r, "", info.etag, info.mtime_ns / 1000000000);
	if (e != S3E_OK) {
		server_req_fail(r, e, NULL);
		if (e == S3E_NOT_MODIFIED)
			ops_validators(r, &info);
		goto out_close_get;
	}
	whole = false;
	if (part ? ops_get_part(r, g, &info, meta, part) != 0
		 : ops_get_range(r, g, info.size, &whole) != 0)
		goto out_close_get;
	ops_validators(r, &info);
	server_resp_header(&r->resp, "Accept-Ranges", "bytes");
	ops_meta_headers(r, meta, whole);
	/* A damaged first chunk is still a proper error: nothing has been sent yet. (Past this
	 * point a damaged chunk can only cut the response short; see http.c.) */
	if (!head && r->resp.length && (rc = store_get_prefetch(g)) < 0) {
		server_req_fail_rc(r, rc);
		goto out_close_get;
	}
	if (!head && r->resp.length <= OPS_GET_SMALL) {
		if (ops_get_read_small(r, g) != 0)
			goto out_close_get;
	} else if (!head) {
		r->resp.get = g;
		g = NULL;
	}
out_close_get:
	store_get_close(g);
out_free_meta:
	buf_fini(&meta_buf);
}
