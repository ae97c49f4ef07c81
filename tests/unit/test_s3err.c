#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/s3err.h"
#include "cairn/s3name.h"

static void
test_table_complete(void **state)
{
	int e;

	(void)state;
	for (e = 0; e < S3E_COUNT; e++) {
		const struct s3_error_info *i = s3err_info((enum s3_error)e);

		assert_non_null(i->code);
		assert_non_null(i->message);
		assert_true(strlen(i->code) > 0);
		assert_true(i->status >= 200 && i->status <= 599);
		/* Codes are unique: the reverse lookup finds this very row. */
		assert_int_equal(s3err_from_code(i->code), e);
	}
	assert_int_equal(s3err_from_code("NoSuchThing"), S3E_COUNT);
}

static void
test_table_values(void **state)
{
	(void)state;
	assert_int_equal(s3err_status(S3E_NO_SUCH_KEY), 404);
	assert_string_equal(s3err_code(S3E_NO_SUCH_KEY), "NoSuchKey");
	assert_int_equal(s3err_status(S3E_ACCESS_DENIED), 403);
	assert_int_equal(s3err_status(S3E_SIGNATURE_DOES_NOT_MATCH), 403);
	assert_int_equal(s3err_status(S3E_INVALID_RANGE), 416);
	assert_int_equal(s3err_status(S3E_PRECONDITION_FAILED), 412);
	assert_int_equal(s3err_status(S3E_MISSING_CONTENT_LENGTH), 411);
	assert_int_equal(s3err_status(S3E_METHOD_NOT_ALLOWED), 405);
	assert_int_equal(s3err_status(S3E_BUCKET_NOT_EMPTY), 409);
	assert_int_equal(s3err_status(S3E_INTERNAL_ERROR), 500);
	assert_int_equal(s3err_status(S3E_NOT_IMPLEMENTED), 501);
	assert_int_equal(s3err_status(S3E_SLOW_DOWN), 503);
	assert_int_equal(s3err_status(S3E_INSUFFICIENT_STORAGE), 507);
	assert_int_equal(s3err_status(S3E_NOT_MODIFIED), 304);
	assert_string_equal(s3err_code(S3E_KEY_TOO_LONG), "KeyTooLongError");
	assert_string_equal(s3err_code(S3E_CONTENT_SHA256_MISMATCH), "XAmzContentSHA256Mismatch");
	assert_string_equal(s3err_code(S3E_INVALID_CHUNK_SIZE), "InvalidChunkSizeError");
	assert_string_equal(s3err_code(S3E_MALFORMED_TRAILER), "MalformedTrailerError");
	assert_string_equal(s3err_message(S3E_NO_SUCH_BUCKET),
			    "The specified bucket does not exist");
	/* Out of range falls back to InternalError. */
	assert_string_equal(s3err_code((enum s3_error)S3E_COUNT), "InternalError");
	assert_string_equal(s3err_code((enum s3_error) - 1), "InternalError");
	assert_false(s3err_has_body(S3E_NOT_MODIFIED));
	assert_false(s3err_has_body(S3E_OK));
	assert_true(s3err_has_body(S3E_NO_SUCH_KEY));
}

static void
test_from_cairn(void **state)
{
	(void)state;
	assert_int_equal(s3err_from_cairn(0), S3E_OK);
	assert_int_equal(s3err_from_cairn(5), S3E_OK);
	assert_int_equal(s3err_from_cairn(CAIRN_E_NOTFOUND), S3E_NO_SUCH_KEY);
	assert_int_equal(s3err_from_cairn(CAIRN_E_EXISTS), S3E_BUCKET_ALREADY_OWNED_BY_YOU);
	assert_int_equal(s3err_from_cairn(CAIRN_E_TOOBIG), S3E_ENTITY_TOO_LARGE);
	assert_int_equal(s3err_from_cairn(CAIRN_E_INVAL), S3E_INVALID_ARGUMENT);
	assert_int_equal(s3err_from_cairn(CAIRN_E_NOTEMPTY), S3E_BUCKET_NOT_EMPTY);
	assert_int_equal(s3err_from_cairn(CAIRN_E_PRECONDITION), S3E_PRECONDITION_FAILED);
	assert_int_equal(s3err_from_cairn(CAIRN_E_NOKEY), S3E_NO_SUCH_KEY);
	assert_int_equal(s3err_from_cairn(CAIRN_E_BADDIGEST), S3E_BAD_DIGEST);
	assert_int_equal(s3err_from_cairn(CAIRN_E_RETRY), S3E_SLOW_DOWN);
	assert_int_equal(s3err_from_cairn(CAIRN_E_READONLY), S3E_SERVICE_UNAVAILABLE);
	assert_int_equal(s3err_from_cairn(CAIRN_E_CORRUPT), S3E_INTERNAL_ERROR);
	assert_int_equal(s3err_from_cairn(CAIRN_E_LOCKED), S3E_INTERNAL_ERROR);
	assert_int_equal(s3err_from_cairn(CAIRN_E_VERSION), S3E_INTERNAL_ERROR);
	assert_int_equal(s3err_from_cairn(-5000), S3E_INTERNAL_ERROR);
	assert_int_equal(s3err_from_cairn(-ENOSPC), S3E_INSUFFICIENT_STORAGE);
	assert_int_equal(s3err_from_cairn(-EDQUOT), S3E_INSUFFICIENT_STORAGE);
	assert_int_equal(s3err_from_cairn(-ENOMEM), S3E_SLOW_DOWN);
	assert_int_equal(s3err_from_cairn(-EMFILE), S3E_SLOW_DOWN);
	assert_int_equal(s3err_from_cairn(-ETIMEDOUT), S3E_REQUEST_TIMEOUT);
	assert_int_equal(s3err_from_cairn(-ENAMETOOLONG), S3E_KEY_TOO_LONG);
	assert_int_equal(s3err_from_cairn(-EIO), S3E_INTERNAL_ERROR);
}

static void
test_render(void **state)
{
	struct s3err_extra extra[] = {{"BucketName", "b&b"}, {"Key", NULL}, {"Key", "a<\x01>"}};
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(s3err_render(&b, S3E_NO_SUCH_KEY, NULL, "/b/k", "REQ1", NULL, 0), 0);
	assert_string_equal((const char *)b.p,
			    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<Error><Code>NoSuchKey</Code>"
			    "<Message>The specified key does not exist.</Message>"
			    "<Resource>/b/k</Resource><RequestId>REQ1</RequestId></Error>");
	buf_reset(&b);
	assert_int_equal(s3err_render(&b, S3E_ACCESS_DENIED, "no \"way\"", NULL, NULL, extra, 3),
			 0);
	assert_string_equal((const char *)b.p,
			    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<Error><Code>AccessDenied</Code><Message>no &quot;way&quot;</Message>"
			    "<BucketName>b&amp;b</BucketName><Key>a&lt;&#x1;&gt;</Key></Error>");
	buf_fini(&b);
}

static void
test_render_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 60);
	assert_int_equal(s3err_render(&b, S3E_NO_SUCH_KEY, NULL, "/b/k", "REQ1", NULL, 0),
			 CAIRN_E_TOOBIG);
	assert_true(b.len <= 60);
	buf_fini(&b);
}

static bool
bucket_ok(const char *s)
{
	return s3name_bucket_is_valid(s, strlen(s));
}

static void
test_bucket_names(void **state)
{
	static const char *good[] = {
	    "abc",
	    "my-bucket",
	    "my.bucket.name",
	    "0bucket9",
	    "a-b.c-d",
	    "1.2.3",
	    "1.2.3.4.5",
	    "192.168.5.a",
	    "a23456789012345678901234567890123456789012345678901234567890123",
	    "xn-abc",
	    "s3alias",
	    "bucket-s3alia",
	};
	static const char *bad[] = {
	    "",
	    "ab",
	    "a234567890123456789012345678901234567890123456789012345678901234",
	    "Abc",
	    "abC",
	    "ab_c",
	    "ab c",
	    "-abc",
	    "abc-",
	    ".abc",
	    "abc.",
	    "a..b",
	    "a.-b",
	    "a-.b",
	    "192.168.5.4",
	    "1.1.1.1",
	    "xn--abc",
	    "sthree-abc",
	    "amzn-s3-demo-x",
	    "bucket-s3alias",
	    "bucket--ol-s3",
	    "bucket.mrap",
	    "bucket--x-s3",
	    "bucket--table-s3",
	    "ab\xc3\xa9",
	    "a\0b",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!bucket_ok(good[i]))
			fail_msg("rejected valid bucket name '%s'", good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bucket_ok(bad[i]))
			fail_msg("accepted invalid bucket name '%s'", bad[i]);
	}
	assert_false(s3name_bucket_is_valid("a\0b", 3));
}

static void
test_utf8(void **state)
{
	static const char *good[] = {"",
				     "abc",
				     "\xc3\xa9",
				     "\xe2\x82\xac",
				     "\xf0\x9f\x98\x80",
				     "\xef\xbf\xbf",
				     "\xf4\x8f\xbf\xbf",
				     "\xed\x9f\xbf"};
	static const char *bad[] = {"\x80",
				    "\xc0\xaf",
				    "\xc1\xbf",
				    "\xe0\x80\xaf",
				    "\xed\xa0\x80",
				    "\xf0\x80\x80\xaf",
				    "\xf4\x90\x80\x80",
				    "\xf5\x80\x80\x80",
				    "\xff",
				    "\xc3",
				    "\xe2\x82",
				    "\xe2\x28\xa1"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(s3name_is_utf8(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (s3name_is_utf8(bad[i], strlen(bad[i])))
			fail_msg("accepted bad UTF-8 #%zu", i);
	}
}

static void
test_key_check(void **state)
{
	char key[S3NAME_KEY_MAX + 1];

	(void)state;
	memset(key, 'k', sizeof(key));
	assert_int_equal(s3name_key_check("a", 1), 0);
	assert_int_equal(s3name_key_check("dir/\x01\n\xc3\xa9", 8), 0);
	assert_int_equal(s3name_key_check(key, S3NAME_KEY_MAX), 0);
	assert_int_equal(s3name_key_check(key, S3NAME_KEY_MAX + 1), CAIRN_E_TOOBIG);
	assert_int_equal(s3name_key_check("", 0), CAIRN_E_INVAL);
	assert_int_equal(s3name_key_check("a\0b", 3), CAIRN_E_INVAL);
	assert_int_equal(s3name_key_check("a\xff", 2), CAIRN_E_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_complete), cmocka_unit_test(test_table_values),
	    cmocka_unit_test(test_from_cairn),	   cmocka_unit_test(test_render),
	    cmocka_unit_test(test_render_cap),	   cmocka_unit_test(test_bucket_names),
	    cmocka_unit_test(test_utf8),	   cmocka_unit_test(test_key_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
