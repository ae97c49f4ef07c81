#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/urlenc.h"

static void
check_decode(const char *in, unsigned flags, const char *want)
{
	struct buf b;

	buf_init(&b, 1024);
	assert_int_equal(urlenc_decode(in, strlen(in), flags, &b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	assert_int_equal(b.p[b.len], 0);
	buf_fini(&b);
}

static void
check_encode(const char *in, size_t len, unsigned flags, const char *want)
{
	struct buf b;

	buf_init(&b, 1024);
	assert_int_equal(urlenc_encode(in, len, flags, &b), 0);
	assert_string_equal((const char *)b.p, want);
	buf_fini(&b);
}

static void
test_decode(void **state)
{
	(void)state;
	check_decode("", 0, "");
	check_decode("abc", 0, "abc");
	check_decode("a%20b", 0, "a b");
	check_decode("%2f%2F", 0, "//");
	check_decode("a+b", 0, "a+b");
	check_decode("a+b", URLENC_PLUS_SPACE, "a b");
	check_decode("%2B", URLENC_PLUS_SPACE, "+");
	check_decode("%E2%82%AC", 0, "\xe2\x82\xac");
	check_decode("%ff", 0, "\xff");
	check_decode("%7E~", 0, "~~");
}

static void
test_decode_rejects(void **state)
{
	static const char *bad[] = {"%", "%2", "a%2", "%zz", "%2g", "%g2", "%00", "x%00y"};
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		assert_int_equal(urlenc_decode(bad[i], strlen(bad[i]), 0, &b), CAIRN_E_INVAL);
	}
	/* A raw NUL byte is refused as well. */
	assert_int_equal(urlenc_decode("a\0b", 3, 0, &b), CAIRN_E_INVAL);
	buf_fini(&b);
}

static void
test_decode_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4);
	assert_int_equal(urlenc_decode("abcde", 5, 0, &b), CAIRN_E_TOOBIG);
	assert_int_equal(urlenc_decode("abcd", 4, 0, &b), 0);
	assert_int_equal(b.len, 4);
	buf_fini(&b);
}

static void
test_encode(void **state)
{
	(void)state;
	check_encode("", 0, 0, "");
	check_encode("AZaz09-_.~", 10, 0, "AZaz09-_.~");
	check_encode("a b", 3, 0, "a%20b");
	check_encode("a/b", 3, 0, "a%2Fb");
	check_encode("a/b", 3, URLENC_KEEP_SLASH, "a/b");
	check_encode("test$file.text", 14, URLENC_KEEP_SLASH, "test%24file.text");
	check_encode("+=&?#%", 6, 0, "%2B%3D%26%3F%23%25");
	check_encode("\xe2\x82\xac", 3, 0, "%E2%82%AC");
	check_encode("\x00\x01\xff", 3, 0, "%00%01%FF");
	check_encode("!*'()", 5, 0, "%21%2A%27%28%29");
}

static void
test_encode_s3list(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(urlenc_encode_s3list("dir/a b+c\n.txt", 14, &b), 0);
	assert_string_equal((const char *)b.p, "dir/a+b%2Bc%0A.txt");
	buf_fini(&b);
}

static void
test_encode_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(urlenc_encode("abc ", 4, 0, &b), CAIRN_E_TOOBIG);
	buf_reset(&b);
	assert_int_equal(urlenc_encode("a b", 3, 0, &b), 0);
	assert_string_equal((const char *)b.p, "a%20b");
	buf_fini(&b);
}

static void
test_encode_decode_roundtrip(void **state)
{
	char raw[255];
	struct buf e, d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (char)(i + 1);
	buf_init(&e, 4096);
	buf_init(&d, 4096);
	assert_int_equal(urlenc_encode(raw, sizeof(raw), 0, &e), 0);
	assert_int_equal(urlenc_decode((const char *)e.p, e.len, 0, &d), 0);
	assert_int_equal(d.len, sizeof(raw));
	assert_memory_equal(d.p, raw, sizeof(raw));
	buf_reset(&e);
	buf_reset(&d);
	assert_int_equal(urlenc_encode_s3list(raw, sizeof(raw), &e), 0);
	assert_int_equal(urlenc_decode((const char *)e.p, e.len, URLENC_PLUS_SPACE, &d), 0);
	assert_memory_equal(d.p, raw, sizeof(raw));
	buf_fini(&e);
	buf_fini(&d);
}

static void
check_param(const struct kvpair *kv, const char *name, const char *value)
{
	assert_non_null(kv);
	assert_int_equal(kv->name_len, strlen(name));
	assert_memory_equal(kv->name, name, kv->name_len);
	assert_int_equal(kv->value_len, strlen(value));
	assert_memory_equal(kv->value, value, kv->value_len);
	assert_int_equal(kv->name[kv->name_len], 0);
	assert_int_equal(kv->value[kv->value_len], 0);
}

static void
test_query_parse(void **state)
{
	const char *qs = "prefix=a+b%2Bc&delimiter=%2F&&uploads&max-keys=2&empty=&";
	struct urlenc_query q;

	(void)state;
	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	assert_int_equal(q.n, 5);
	check_param(&q.v[0], "prefix", "a b+c");
	check_param(&q.v[1], "delimiter", "/");
	check_param(&q.v[2], "uploads", "");
	check_param(&q.v[3], "max-keys", "2");
	check_param(&q.v[4], "empty", "");
	check_param(urlenc_query_find(&q, "uploads"), "uploads", "");
	assert_null(urlenc_query_find(&q, "Uploads"));
	assert_null(urlenc_query_find(&q, "upload"));
	urlenc_query_fini(&q);
	urlenc_query_fini(&q);
	assert_null(urlenc_query_find(&q, "prefix"));
}

static void
test_query_edge(void **state)
{
	struct urlenc_query q;

	(void)state;
	assert_int_equal(urlenc_query_parse("", 0, &q), 0);
	assert_int_equal(q.n, 0);
	urlenc_query_fini(&q);
	assert_int_equal(urlenc_query_parse("&&&", 3, &q), 0);
	assert_int_equal(q.n, 0);
	urlenc_query_fini(&q);
	/* '=' inside a value is kept; the first '=' splits. */
	assert_int_equal(urlenc_query_parse("a=b=c", 5, &q), 0);
	check_param(&q.v[0], "a", "b=c");
	urlenc_query_fini(&q);
	/* Repeated names are all kept, in order. */
	assert_int_equal(urlenc_query_parse("a=1&a=2", 7, &q), 0);
	assert_int_equal(q.n, 2);
	check_param(urlenc_query_find(&q, "a"), "a", "1");
	urlenc_query_fini(&q);
}

static void
test_query_errors(void **state)
{
	struct urlenc_query q;
	char big[URLENC_QUERY_MAX_LEN + 2];
	size_t i, n;

	(void)state;
	assert_int_equal(urlenc_query_parse("=x", 2, &q), CAIRN_E_INVAL);
	assert_null(q.v);
	assert_int_equal(urlenc_query_parse("a=1&b=%zz", 9, &q), CAIRN_E_INVAL);
	assert_int_equal(q.n, 0);
	assert_null(q.v);
	urlenc_query_fini(&q);
	assert_int_equal(urlenc_query_parse("a%00=1", 6, &q), CAIRN_E_INVAL);

	memset(big, 'a', sizeof(big));
	assert_int_equal(urlenc_query_parse(big, URLENC_QUERY_MAX_LEN + 1, &q), CAIRN_E_TOOBIG);
	assert_int_equal(urlenc_query_parse(big, URLENC_QUERY_MAX_LEN, &q), 0);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.v[0].name_len, URLENC_QUERY_MAX_LEN);
	urlenc_query_fini(&q);

	/* Exactly the maximum number of params, then one more. */
	for (i = 0, n = 0; n < URLENC_QUERY_MAX_PARAMS + 1; n++) {
		big[i++] = 'p';
		big[i++] = '&';
	}
	assert_int_equal(urlenc_query_parse(big, i, &q), CAIRN_E_TOOBIG);
	assert_int_equal(urlenc_query_parse(big, i - 2, &q), 0);
	assert_int_equal(q.n, URLENC_QUERY_MAX_PARAMS);
	urlenc_query_fini(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_decode_cap),
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_encode_s3list),
	    cmocka_unit_test(test_encode_cap),
	    cmocka_unit_test(test_encode_decode_roundtrip),
	    cmocka_unit_test(test_query_parse),
	    cmocka_unit_test(test_query_edge),
	    cmocka_unit_test(test_query_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
