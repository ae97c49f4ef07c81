#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn/base64.h"
#include "cairn/checksum.h"
#include "cairn/err.h"
#include "cairn/httpdate.h"
#include "cairn/ops.h"
#include "cairn/s3name.h"
#include "cairn/urlenc.h"
#include "cairn/xml.h"

#define OPS_META_USER_MAX 2048 /* bytes of x-amz-meta-* names and values (S3's limit) */
#define OPS_META_MAX (16u << 10)

int
ops_key_check(struct server_req *r, const uint8_t *key, size_t len)
{
	int rc = s3name_key_check((const char *)key, len);

	if (rc == CAIRN_E_TOOBIG)
		return server_req_fail(r, S3E_KEY_TOO_LONG, NULL);
	if (rc < 0)
		return server_req_fail(r, S3E_INVALID_ARGUMENT, "Invalid object key");
	return 0;
}

/* Content-Encoding without the aws-chunked framing token; false when nothing is left. */
static bool
ops_content_encoding(const char *v, char *out, size_t n)
{
	const char *p = v;
	size_t used = 0;

	out[0] = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && *p == ' ') {
			p++;
			len--;
		}
		if (len && !(len == 11 && strncasecmp(p, "aws-chunked", 11) == 0) &&
		    used + len + 2 < n) {
			if (used)
				out[used++] = ',';
			memcpy(out + used, p, len);
			used += len;
			out[used] = 0;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return used > 0;
}

static int
ops_meta_put(struct buf *meta, const char *name, const char *value)
{
	struct slice v = {(const uint8_t *)value, strlen(value)};

	return store_meta_add(meta, name, v);
}

/* The system headers kept with an object. */
static const char *const ops_meta_system[][2] = {
    {"content-disposition", "Content-Disposition"},
    {"content-language", "Content-Language"},
    {"cache-control", "Cache-Control"},
    {"expires", "Expires"},
};

int
ops_meta_from_headers(struct server_req *r, struct buf *meta)
{
	const char *type = s3req_header(&r->s3, "content-type");
	const char *enc = s3req_header(&r->s3, "content-encoding");
	char enc_out[256];
	size_t user = 0, i;
	int rc;

	buf_reset(meta);
	rc = ops_meta_put(meta, "Content-Type", type ? type : "binary/octet-stream");
	if (rc == 0 && enc && ops_content_encoding(enc, enc_out, sizeof(enc_out)))
		rc = ops_meta_put(meta, "Content-Encoding", enc_out);
	for (i = 0; rc == 0 && i < sizeof(ops_meta_system) / sizeof(ops_meta_system[0]); i++) {
		const char *v = s3req_header(&r->s3, ops_meta_system[i][0]);

		if (v)
			rc = ops_meta_put(meta, ops_meta_system[i][1], v);
	}
	for (i = 0; rc == 0 && i < r->s3.n_headers; i++) {
		const struct kvpair *h = &r->s3.headers[i];

		if (h->name_len <= 11 || strncmp(h->name, "x-amz-meta-", 11) != 0)
			continue;
		user += h->name_len - 11 + h->value_len;
		if (user > OPS_META_USER_MAX)
			return server_req_fail(r, S3E_METADATA_TOO_LARGE, NULL);
		rc = ops_meta_put(meta, h->name, h->value);
	}
	if (rc < 0)
		return server_req_fail(r, S3E_METADATA_TOO_LARGE, NULL);
	return 0;
}

int
ops_unsupported_headers(struct server_req *r)
{
	static const char *const names[] = {"x-amz-tagging",
					    "x-amz-server-side-encryption",
					    "x-amz-server-side-encryption-customer-algorithm",
					    "x-amz-object-lock-mode",
					    "x-amz-object-lock-retain-until-date",
					    "x-amz-object-lock-legal-hold",
					    "x-amz-website-redirect-location"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (s3req_header(&r->s3, names[i])) {
			char msg[128];

			snprintf(msg, sizeof(msg), "Header %s is not supported", names[i]);
			return server_req_fail(r, S3E_NOT_IMPLEMENTED, msg);
		}
	}
	return 0;
}

/* ---- DeleteObject ---- */

void
ops_delete_object(struct server_req *r)
{
	const char *vid = s3req_param(&r->s3, "versionId");
	int rc;

	if (vid && strcmp(vid, "null") != 0) {
		server_req_fail(r, S3E_NO_SUCH_VERSION, NULL);
		return;
	}
	if (ops_bucket_access(r, r->s3.bucket, NULL) < 0)
		return;
	rc = store_delete(r->srv->st, r->s3.bucket, buf_slice(&r->s3.key));
	if (rc < 0 && rc != CAIRN_E_NOTFOUND) {
		server_req_fail_rc(r, rc);
		return;
	}
	r->resp.status = 204;
}
