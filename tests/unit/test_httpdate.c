#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/err.h"
#include "cairn/httpdate.h"

static int64_t
parse(const char *s)
{
	int64_t t = -1;

	if (httpdate_parse(s, strlen(s), &t) < 0)
		return -1;
	return t;
}

static void
test_parse_forms(void **state)
{
	(void)state;
	assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	assert_int_equal(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
	assert_int_equal(parse("Sun Nov  6 08:49:37 1994"), 784111777);
	assert_int_equal(parse("Fri, 24 May 2013 00:00:00 GMT"), 1369353600);
	assert_int_equal(parse("Fri, 24 May 2013 00:00:00 +0000"), 1369353600);
	assert_int_equal(parse("Fri, 24 May 2013 00:00:00 UTC"), 1369353600);
	assert_int_equal(parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
	assert_int_equal(parse("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799LL);
	assert_int_equal(parse("Tue, 29 Feb 2000 12:00:00 GMT"), 951825600);
	assert_int_equal(parse("Thu Jan 16 00:00:00 2020"), 1579132800);
	assert_int_equal(parse("Tuesday, 16-Jan-07 00:00:00 GMT"), 1168905600);
}

static void
test_parse_rejects(void **state)
{
	static const char *bad[] = {
	    "",
	    "Sun",
	    "Sun, 06 Nov 1994 08:49:37",
	    "Sun, 06 Nov 1994 08:49:37 GMT ",
	    "Sun, 6 Nov 1994 08:49:37 GMT",
	    "Sun, 06 nov 1994 08:49:37 GMT",
	    "Sun, 06 Nov 94 08:49:37 GMT",
	    "Sun, 31 Nov 1994 08:49:37 GMT",
	    "Sun, 29 Feb 1900 08:49:37 GMT",
	    "Sun, 06 Nov 1994 24:00:00 GMT",
	    "Sun, 06 Nov 1994 08:60:00 GMT",
	    "Sun, 06 Nov 1994 08:49:60 GMT",
	    "Sun, 06 Nov 1969 08:49:37 GMT",
	    "Sun, 06 Nov 1994 08:49:37 EST",
	    "Xyz, 06 Nov 1994 08:49:37 GMT",
	    "Sun, 00 Nov 1994 08:49:37 GMT",
	    "Sun Nov 6 08:49:37 1994",
	    "Sun Nov  6 08:49:37 94",
	    "Sunday, 06-Nov-1994 08:49:37 GMT",
	    "1994-11-06T08:49:37Z",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
}

static void
test_format(void **state)
{
	char out[HTTPDATE_LEN + 1], iso[25];

	(void)state;
	assert_int_equal(httpdate_format(784111777, out), 0);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(httpdate_format(0, out), 0);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	assert_int_equal(httpdate_format(253402300799LL, out), 0);
	assert_string_equal(out, "Fri, 31 Dec 9999 23:59:59 GMT");
	assert_int_equal(httpdate_format(-1, out), CAIRN_E_INVAL);
	assert_int_equal(httpdate_format(253402300800LL, out), CAIRN_E_INVAL);
	assert_int_equal(httpdate_format_iso8601(1255369830, iso), 0);
	assert_string_equal(iso, "2009-10-12T17:50:30.000Z");
	assert_int_equal(httpdate_format_iso8601(-5, iso), CAIRN_E_INVAL);
}

/* Every day from 1970 to 2400 round-trips through civil form and text. */
static void
test_roundtrip(void **state)
{
	int64_t t, back;
	char out[HTTPDATE_LEN + 1];

	(void)state;
	for (t = 0; t < 13569465600LL; t += 86400 + 3661) {
		struct httpdate_tm tm;

		assert_int_equal(httpdate_to_civil(t, &tm), 0);
		assert_int_equal(
		    httpdate_from_civil(tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec, &back),
		    0);
		assert_int_equal(back, t);
		assert_int_equal(httpdate_format(t, out), 0);
		assert_int_equal(parse(out), t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_forms),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
