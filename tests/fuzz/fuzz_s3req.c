/*
 * fuzz_s3req.c — the request as received: s3req_set_target() (method, target, query split),
 * s3req_add_header(), s3req_resolve() (path-style and virtual-hosted bucket/key) and
 * router_route().
 *
 * Input, one item per line:
 *   METHOD SP request-target
 *   domain for virtual-hosted requests ("" = off)
 *   name:value      (any number of header lines; "host" picks the virtual host)
 * Invariants: the documented return codes; the query pointer lies inside the copied target;
 * each added header is found under its lower-cased name; a resolved key is at most
 * S3REQ_KEY_MAX bytes without NUL; the bucket and key, written back as a path-style target
 * (percent-encoded), resolve to the same bucket and key; every request routes to an operation
 * with a name.
 */
#include "fuzz.h"

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/router.h"
#include "cairn/s3req.h"
#include "cairn/urlenc.h"

static void
fuzz_headers(struct s3req *r, struct fuzz_in *in)
{
	const char *line;
	size_t len;

	while (fuzz_line(in, &line, &len)) {
		const char *colon = memchr(line, ':', len);
		char *name, *value, *lname;
		size_t nlen, i;
		int rc;

		if (!colon)
			continue;
		nlen = (size_t)(colon - line);
		name = fuzz_strdup(line, nlen);
		value = fuzz_strdup(colon + 1, len - nlen - 1);
		rc = s3req_add_header(r, name, value);
		FUZZ_CHECK(rc == 0 || rc == CAIRN_E_TOOBIG);
		if (rc == 0) {
			lname = fuzz_strdup(name, strlen(name));
			for (i = 0; lname[i]; i++)
				if (lname[i] >= 'A' && lname[i] <= 'Z')
					lname[i] = (char)(lname[i] + 32);
			FUZZ_CHECK(s3req_header(r, lname) != NULL);
			free(lname);
		}
		free(value);
		free(name);
	}
}

/* "/" enc(bucket) ["/" enc(key)] resolves path-style to the same bucket and key. */
static void
fuzz_path_style(const struct s3req *r)
{
	struct s3req again;
	struct buf t;
	int rc;

	buf_init(&t, 4 * S3REQ_TARGET_MAX);
	FUZZ_CHECK(buf_append(&t, "/", 1) == 0);
	FUZZ_CHECK(urlenc_encode(r->bucket, strlen(r->bucket), 0, &t) == 0);
	if (r->key.len) {
		FUZZ_CHECK(buf_append(&t, "/", 1) == 0);
		FUZZ_CHECK(
		    urlenc_encode((const char *)r->key.p, r->key.len, URLENC_KEEP_SLASH, &t) == 0);
	}
	s3req_init(&again);
	if (3 * strlen(r->bucket) <= S3REQ_BUCKET_SEGMENT_MAX && strlen(r->bucket) > 0) {
		FUZZ_CHECK(s3req_set_target(&again, "GET", (const char *)t.p) == 0);
		rc = s3req_resolve(&again, "");
		FUZZ_CHECK(rc == 0 && !again.virtual_host);
		FUZZ_CHECK(strcmp(again.bucket, r->bucket) == 0);
		FUZZ_CHECK(fuzz_eq(again.key.p, again.key.len, r->key.p, r->key.len));
	}
	s3req_fini(&again);
	buf_fini(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const char *line, *sp, *dline = "";
	size_t len, dlen = 0;
	char *method, *target, *domain;
	struct s3req r;
	enum router_op op;
	int rc;

	if (!fuzz_line(&in, &line, &len) || !(sp = memchr(line, ' ', len)))
		return 0;
	fuzz_line(&in, &dline, &dlen);
	method = fuzz_strdup(line, (size_t)(sp - line));
	target = fuzz_strdup(sp + 1, len - (size_t)(sp - line) - 1);
	domain = fuzz_strdup(dline, dlen);
	s3req_init(&r);
	rc = s3req_set_target(&r, method, target);
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_TOOBIG || rc == CAIRN_E_INVAL);
	if (rc < 0)
		goto out_fini;
	FUZZ_CHECK(r.target[0] == '/' && r.path_len >= 1 && r.path_len <= strlen(r.target));
	if (r.query)
		FUZZ_CHECK(r.query == r.target + r.path_len + 1 && r.query[-1] == '?');
	fuzz_headers(&r, &in);
	rc = s3req_resolve(&r, domain);
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_TOOBIG || rc == CAIRN_E_INVAL);
	if (rc < 0)
		goto out_fini;
	FUZZ_CHECK(strnlen(r.bucket, sizeof(r.bucket)) <= S3REQ_BUCKET_SEGMENT_MAX);
	FUZZ_CHECK(r.key.len <= S3REQ_KEY_MAX && (!r.key.len || !memchr(r.key.p, 0, r.key.len)));
	fuzz_path_style(&r);
	op = router_route(&r);
	FUZZ_CHECK(op < ROUTER_OP_COUNT && router_op_name(op) != NULL);
	(void)router_op_has_body(op);
out_fini:
	s3req_fini(&r);
	s3req_fini(&r);
	free(domain);
	free(target);
	free(method);
	return 0;
}
