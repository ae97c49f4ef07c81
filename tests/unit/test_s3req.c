#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/err.h"
#include "cairn/router.h"
#include "cairn/s3req.h"

/* Builds a request from a method, a target and an optional Host header. */
static int
mkreq(struct s3req *r, const char *method, const char *target, const char *host, const char *domain)
{
	int rc;

	s3req_init(r);
	rc = s3req_set_target(r, method, target);
	if (rc < 0)
		return rc;
	if (host && s3req_add_header(r, "Host", host) < 0)
		return CAIRN_E_TOOBIG;
	return s3req_resolve(r, domain);
}

static void
test_path_style(void **state)
{
	struct s3req r;

	(void)state;
	assert_int_equal(mkreq(&r, "GET", "/bkt/a/b%20c+d?x=1", "localhost:9000", ""), 0);
	assert_string_equal(r.bucket, "bkt");
	assert_int_equal(r.key.len, 7);
	assert_memory_equal(r.key.p, "a/b c+d", 7);
	assert_false(r.virtual_host);
	assert_string_equal(s3req_param(&r, "x"), "1");
	assert_null(s3req_param(&r, "y"));
	assert_string_equal(s3req_header(&r, "host"), "localhost:9000");
	assert_int_equal(r.path_len, 14);
	s3req_fini(&r);

	assert_int_equal(mkreq(&r, "GET", "/", NULL, ""), 0);
	assert_string_equal(r.bucket, "");
	assert_int_equal(r.key.len, 0);
	s3req_fini(&r);

	assert_int_equal(mkreq(&r, "PUT", "/bkt/", NULL, ""), 0);
	assert_string_equal(r.bucket, "bkt");
	assert_int_equal(r.key.len, 0);
	s3req_fini(&r);

	assert_int_equal(mkreq(&r, "PUT", "/bkt//dbl//", NULL, ""), 0);
	assert_string_equal((char *)r.key.p, "/dbl//");
	s3req_fini(&r);
}

static void
test_errors(void **state)
{
	char big[1200 + 8], huge[3 + 6 * 512 + 2];
	struct s3req r;
	size_t i;

	(void)state;
	assert_int_equal(mkreq(&r, "GET", "/b/%zz", NULL, ""), CAIRN_E_INVAL);
	s3req_fini(&r);
	assert_int_equal(mkreq(&r, "GET", "/b/a%00", NULL, ""), CAIRN_E_INVAL);
	s3req_fini(&r);
	assert_int_equal(mkreq(&r, "GET", "http://x/b", NULL, ""), CAIRN_E_INVAL);
	s3req_fini(&r);
	memcpy(big, "/b/", 3);
	memset(big + 3, 'k', 1025);
	big[3 + 1025] = 0;
	assert_int_equal(mkreq(&r, "GET", big, NULL, ""), CAIRN_E_TOOBIG);
	s3req_fini(&r);
	big[3 + 1024] = 0;
	assert_int_equal(mkreq(&r, "GET", big, NULL, ""), 0);
	assert_int_equal(r.key.len, 1024);
	s3req_fini(&r);
	/* 512 two-byte characters, percent-encoded: 3072 bytes of path, 1024 of key. */
	for (i = 0; i < 512; i++)
		memcpy(huge + 3 + 6 * i, "%C3%A9", 6);
	memcpy(huge, "/b/", 3);
	huge[3 + 6 * 512] = 0;
	assert_int_equal(mkreq(&r, "GET", huge, NULL, ""), 0);
	assert_int_equal(r.key.len, 1024);
	s3req_fini(&r);
	memcpy(huge + 3 + 6 * 512, "x", 2);
	assert_int_equal(mkreq(&r, "GET", huge, NULL, ""), CAIRN_E_TOOBIG);
	s3req_fini(&r);
}

static void
test_virtual_host(void **state)
{
	struct s3req r;

	(void)state;
	assert_int_equal(mkreq(&r, "GET", "/k/1", "my.bkt.S3.Example.com:9000", "s3.example.com"),
			 0);
	assert_string_equal(r.bucket, "my.bkt");
	assert_string_equal((char *)r.key.p, "k/1");
	assert_true(r.virtual_host);
	s3req_fini(&r);
	/* The bare domain is path-style. */
	assert_int_equal(mkreq(&r, "GET", "/b/k", "s3.example.com", "s3.example.com"), 0);
	assert_string_equal(r.bucket, "b");
	assert_false(r.virtual_host);
	s3req_fini(&r);
	assert_int_equal(mkreq(&r, "GET", "/b/k", "xs3.example.com", "s3.example.com"), 0);
	assert_string_equal(r.bucket, "b");
	s3req_fini(&r);
	/* Without a configured domain the Host is ignored. */
	assert_int_equal(mkreq(&r, "GET", "/b/k", "a.s3.example.com", ""), 0);
	assert_string_equal(r.bucket, "b");
	s3req_fini(&r);
}

static void
test_header_caps(void **state)
{
	struct s3req r;
	int i, rc = 0;

	(void)state;
	s3req_init(&r);
	for (i = 0; i < S3REQ_HEADERS_MAX && rc == 0; i++)
		rc = s3req_add_header(&r, "X-A", "v");
	assert_int_equal(rc, 0);
	assert_int_equal(s3req_add_header(&r, "X-B", "v"), CAIRN_E_TOOBIG);
	assert_string_equal(s3req_header(&r, "x-a"), "v");
	s3req_fini(&r);
}

static enum router_op
route(const char *method, const char *target, const char *hdr)
{
	enum router_op op;
	struct s3req r;

	assert_int_equal(mkreq(&r, method, target, NULL, ""), 0);
	if (hdr)
		assert_int_equal(s3req_add_header(&r, hdr, "v"), 0);
	op = router_route(&r);
	s3req_fini(&r);
	return op;
}

static void
test_router(void **state)
{
	(void)state;
	assert_int_equal(route("GET", "/_cairn/health", NULL), ROUTER_OP_HEALTH);
	assert_int_equal(route("GET", "/", NULL), ROUTER_OP_LIST_BUCKETS);
	assert_int_equal(route("GET", "/?x-id=ListBuckets", NULL), ROUTER_OP_LIST_BUCKETS);
	assert_int_equal(route("PUT", "/", NULL), ROUTER_OP_METHOD_NOT_ALLOWED);
	assert_int_equal(route("PUT", "/b", NULL), ROUTER_OP_CREATE_BUCKET);
	assert_int_equal(route("PUT", "/b?acl", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("PUT", "/b?versioning", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("HEAD", "/b", NULL), ROUTER_OP_HEAD_BUCKET);
	assert_int_equal(route("DELETE", "/b/", NULL), ROUTER_OP_DELETE_BUCKET);
	assert_int_equal(route("DELETE", "/b?tagging", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("GET", "/b?location", NULL), ROUTER_OP_GET_LOCATION);
	assert_int_equal(route("GET", "/b?versioning", NULL), ROUTER_OP_GET_VERSIONING);
	assert_int_equal(route("GET", "/b?versioning&acl", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("GET", "/b?uploads", NULL), ROUTER_OP_LIST_MULTIPART);
	assert_int_equal(
	    route("GET", "/b?uploads&key-marker=a&upload-id-marker=b&max-uploads=2", NULL),
	    ROUTER_OP_LIST_MULTIPART);
	assert_int_equal(route("GET", "/b?uploads&acl", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("GET", "/b?prefix=a&marker=b", NULL), ROUTER_OP_LIST_OBJECTS);
	assert_int_equal(route("GET", "/b?list-type=2&start-after=x&X-Amz-Date=1", NULL),
			 ROUTER_OP_LIST_OBJECTS_V2);
	assert_int_equal(route("POST", "/b?delete", NULL), ROUTER_OP_DELETE_OBJECTS);
	assert_int_equal(route("POST", "/b", NULL), ROUTER_OP_METHOD_NOT_ALLOWED);
	assert_int_equal(route("PUT", "/b/k", NULL), ROUTER_OP_PUT_OBJECT);
	assert_int_equal(route("PUT", "/b/k?x-id=PutObject", NULL), ROUTER_OP_PUT_OBJECT);
	assert_int_equal(route("PUT", "/b/k", "x-amz-copy-source"), ROUTER_OP_COPY_OBJECT);
	assert_int_equal(route("PUT", "/b/k?partNumber=1&uploadId=x", NULL), ROUTER_OP_UPLOAD_PART);
	assert_int_equal(route("PUT", "/b/k?partNumber=1&uploadId=x", "x-amz-copy-source"),
			 ROUTER_OP_UPLOAD_PART_COPY);
	assert_int_equal(route("PUT", "/b/k?uploadId=x", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("PUT", "/b/k?partNumber=1&uploadId=x&acl", NULL),
			 ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("PUT", "/b/k?tagging", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("GET", "/b/k?response-content-type=a%2Fb&versionId=null", NULL),
			 ROUTER_OP_GET_OBJECT);
	assert_int_equal(route("GET", "/b/k?acl", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("GET", "/b/k?partNumber=1", NULL), ROUTER_OP_GET_OBJECT);
	assert_int_equal(route("HEAD", "/b/k?partNumber=1", NULL), ROUTER_OP_HEAD_OBJECT);
	assert_int_equal(route("GET", "/b/k?uploadId=1&max-parts=2&part-number-marker=3", NULL),
			 ROUTER_OP_LIST_PARTS);
	assert_int_equal(route("HEAD", "/b/k", NULL), ROUTER_OP_HEAD_OBJECT);
	assert_int_equal(route("DELETE", "/b/k?versionId=null", NULL), ROUTER_OP_DELETE_OBJECT);
	assert_int_equal(route("DELETE", "/b/k?uploadId=1", NULL), ROUTER_OP_ABORT_MULTIPART);
	assert_int_equal(route("POST", "/b/k?uploads", NULL), ROUTER_OP_CREATE_MULTIPART);
	assert_int_equal(route("POST", "/b/k?uploads&tagging", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("POST", "/b/k?uploadId=1", NULL), ROUTER_OP_COMPLETE_MULTIPART);
	assert_int_equal(route("POST", "/b/k?uploadId=1&x", NULL), ROUTER_OP_NOT_IMPLEMENTED);
	assert_int_equal(route("HEAD", "/b/k?uploadId=1", NULL), ROUTER_OP_METHOD_NOT_ALLOWED);
	assert_int_equal(route("PATCH", "/b/k", NULL), ROUTER_OP_METHOD_NOT_ALLOWED);
	assert_string_equal(router_op_name(ROUTER_OP_GET_OBJECT), "GetObject");
	assert_string_equal(router_op_name(ROUTER_OP_COUNT), "-");
	/* Found by fuzz_s3req: GetBucketVersioning had no name (NULL into the access log). */
	for (int op = 0; op < ROUTER_OP_COUNT; op++) {
		assert_non_null(router_op_name((enum router_op)op));
		assert_true(strlen(router_op_name((enum router_op)op)) > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_style),	 cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_virtual_host), cmocka_unit_test(test_header_caps),
	    cmocka_unit_test(test_router),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
