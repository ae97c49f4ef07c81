#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/err.h"
#include "cairn/range.h"

static enum range_kind
parse(const char *h, uint64_t size, struct range *r)
{
	r->start = 77;
	r->len = 77;
	return range_parse(h, strlen(h), size, r);
}

static void
expect_partial(const char *h, uint64_t size, uint64_t start, uint64_t len)
{
	struct range r;

	if (parse(h, size, &r) != RANGE_PARTIAL || r.start != start || r.len != len)
		fail_msg("'%s' on %llu: got start %llu len %llu", h, (unsigned long long)size,
			 (unsigned long long)r.start, (unsigned long long)r.len);
}

static void
test_partial(void **state)
{
	(void)state;
	expect_partial("bytes=0-9", 100, 0, 10);
	expect_partial("bytes=0-0", 100, 0, 1);
	expect_partial("bytes=99-99", 100, 99, 1);
	expect_partial("bytes=10-", 100, 10, 90);
	expect_partial("bytes=99-", 100, 99, 1);
	expect_partial("bytes=50-1000", 100, 50, 50);
	expect_partial("bytes=0-18446744073709551614", 100, 0, 100);
	expect_partial("bytes=-10", 100, 90, 10);
	expect_partial("bytes=-100", 100, 0, 100);
	expect_partial("bytes=-1000", 100, 0, 100);
	expect_partial("bytes=-1", 1, 0, 1);
	expect_partial("BYTES=1-2", 100, 1, 2);
	expect_partial("Bytes=0-", 1, 0, 1);
	expect_partial("bytes=0000000000000000005-6", 100, 5, 2);	/* leading zeros */
	expect_partial("bytes=0-99999999999999999999999", 100, 0, 100); /* saturates */
	expect_partial("bytes=-99999999999999999999999", 100, 0, 100);
}

static void
test_unsatisfiable(void **state)
{
	struct range r;

	(void)state;
	assert_int_equal(parse("bytes=100-", 100, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=100-200", 100, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=-0", 100, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=0-", 0, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=0-0", 0, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=-5", 0, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=9999999999999999999-", 100, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=99999999999999999999999-", 100, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=18446744073709551615-", UINT64_MAX, &r), RANGE_UNSATISFIABLE);
	assert_int_equal(r.start, 77); /* untouched */
}

static void
test_ignored(void **state)
{
	static const char *ign[] = {
	    "",		  "bytes",	     "bytes=",		 "bytes=-",    "bytes=a-b",
	    "bytes=5-3",  "bytes=0-9,20-29", "bytes=0-9, 20-29", "bytes= 0-9", "bytes=0 -9",
	    "bytes=0-9 ", "bytes =0-9",	     "items=0-9",	 "bytes:0-9",  "bytes=+1-2",
	    "bytes=-+2",  "bytes=1--2",	     "bytes=0x10-20",	 "bytes=--5",
	};
	struct range r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ign) / sizeof(ign[0]); i++) {
		if (parse(ign[i], 100, &r) != RANGE_FULL)
			fail_msg("'%s' was not ignored", ign[i]);
	}
	assert_int_equal(range_parse(NULL, 0, 100, &r), RANGE_FULL);
	assert_int_equal(range_parse("bytes=0-9\0", 10, 100, &r), RANGE_FULL);
}

static void
test_header_cap(void **state)
{
	char h[RANGE_HEADER_MAX + 2];
	struct range r;

	(void)state;
	memset(h, '0', sizeof(h));
	memcpy(h, "bytes=", 6);
	/* "bytes=000…0-0": valid at the cap, ignored past it. */
	h[RANGE_HEADER_MAX - 2] = '-';
	h[RANGE_HEADER_MAX - 1] = '0';
	assert_int_equal(range_parse(h, RANGE_HEADER_MAX, 100, &r), RANGE_PARTIAL);
	assert_int_equal(r.len, 1);
	h[RANGE_HEADER_MAX - 1] = '0';
	h[RANGE_HEADER_MAX] = '0';
	assert_int_equal(range_parse(h, RANGE_HEADER_MAX + 1, 100, &r), RANGE_FULL);
}

static void
test_copy_source(void **state)
{
	static const char *bad[] = {"bytes=0-",	 "bytes=-5",  "bytes=5-3", "bytes=0-1,2-3",
				    "items=0-1", "bytes=a-b", "",	   "bytes=0-1 "};
	struct range r;
	enum s3_error e;
	size_t i;

	(void)state;
	assert_int_equal(range_parse_copy_source("bytes=0-9", 9, 100, &r, &e), 0);
	assert_int_equal(r.start, 0);
	assert_int_equal(r.len, 10);
	assert_int_equal(range_parse_copy_source("bytes=99-99", 11, 100, &r, NULL), 0);
	assert_int_equal(r.len, 1);
	e = S3E_OK;
	assert_int_equal(range_parse_copy_source("bytes=0-100", 11, 100, &r, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_RANGE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = S3E_OK;
		assert_int_equal(range_parse_copy_source(bad[i], strlen(bad[i]), 100, &r, &e),
				 CAIRN_E_INVAL);
		assert_int_equal(e, S3E_INVALID_ARGUMENT);
	}
	assert_int_equal(range_parse_copy_source(NULL, 0, 100, &r, NULL), CAIRN_E_INVAL);
}

static void
test_content_range(void **state)
{
	struct range r = {10, 5};
	struct range big = {0, UINT64_MAX};
	char out[RANGE_CONTENT_RANGE_SIZE];

	(void)state;
	assert_int_equal(range_content_range(&r, 100, out, sizeof(out)), 0);
	assert_string_equal(out, "bytes 10-14/100");
	assert_int_equal(range_content_range(NULL, 100, out, sizeof(out)), 0);
	assert_string_equal(out, "bytes */100");
	assert_int_equal(range_content_range(&big, UINT64_MAX, out, sizeof(out)), 0);
	assert_string_equal(out, "bytes 0-18446744073709551614/18446744073709551615");
	/* Found by fuzz_range: the longest value has three 20-digit numbers (68 characters). */
	big = (struct range){UINT64_MAX - 1, 1};
	assert_int_equal(range_content_range(&big, UINT64_MAX, out, sizeof(out)), 0);
	assert_string_equal(out, "bytes 18446744073709551614-18446744073709551614/"
				 "18446744073709551615");
	assert_int_equal(range_content_range(&r, 100, out, 15), CAIRN_E_TOOBIG);
	assert_int_equal(range_content_range(NULL, 100, out, 11), CAIRN_E_TOOBIG);
	assert_int_equal(range_content_range(&r, 100, out, 16), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_partial),	cmocka_unit_test(test_unsatisfiable),
	    cmocka_unit_test(test_ignored),	cmocka_unit_test(test_header_cap),
	    cmocka_unit_test(test_copy_source), cmocka_unit_test(test_content_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
