#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/sigv2.h"
#include "cairn/urlenc.h"

/* AWS SigV2 documentation examples ("Signing and authenticating REST requests"). */
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
/* botocore 1.43 HmacV1Auth / HmacV1QueryAuth (see sigv4_vectors.py). */
#define BOTO_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

#define KV(n, v)                                                                                   \
	{                                                                                          \
		n, sizeof(n) - 1, v, sizeof(v) - 1                                                 \
	}
#define N(a) (sizeof(a) / sizeof((a)[0]))

static int
verify(const char *authz, const char *secret, const char *method, const char *path, const char *qs,
       const struct kvpair *h, size_t nh, enum s3_error *e)
{
	struct urlenc_query q;
	struct sigv2_auth a;
	int rc;

	*e = S3E_OK;
	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	struct sigv2_request req = {method, path, strlen(path), q.v, q.n, h, nh};
	assert_int_equal(sigv2_parse_header(authz, strlen(authz), &a, e), 0);
	rc = sigv2_verify(&req, &a, secret, strlen(secret), e);
	urlenc_query_fini(&q);
	return rc;
}

static void
test_doc_examples(void **state)
{
	static const struct kvpair get[] = {KV("Host", "s3.amazonaws.com"),
					    KV("Date", "Tue, 27 Mar 2007 19:36:42 +0000")};
	static const struct kvpair put[] = {KV("Content-Type", "image/jpeg"),
					    KV("Content-Length", "94328"),
					    KV("Host", "johnsmith.s3.amazonaws.com"),
					    KV("Date", "Tue, 27 Mar 2007 21:15:45 +0000")};
	static const struct kvpair list[] = {KV("User-Agent", "Mozilla/5.0"),
					     KV("Date", "Tue, 27 Mar 2007 19:42:41 +0000")};
	static const struct kvpair acl[] = {KV("Date", "Tue, 27 Mar 2007 19:44:46 +0000")};
	static const struct kvpair del[] = {KV("User-Agent", "dotnet"),
					    KV("Date", "Tue, 27 Mar 2007 21:20:27 +0000"),
					    KV("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000")};
	static const struct kvpair upload[] = {
	    KV("Date", "Tue, 27 Mar 2007 21:06:08 +0000"),
	    KV("x-amz-acl", "public-read"),
	    KV("content-type", "application/x-download"),
	    KV("Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="),
	    KV("X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"),
	    KV("X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"),
	    KV("X-Amz-Meta-FileChecksum", "0x02661779"),
	    KV("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
	    KV("Content-Disposition", "attachment; filename=database.dat"),
	};
	enum s3_error e;

	(void)state;
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=", DOC_SECRET,
				"GET", "/johnsmith/photos/puppy.jpg", "", get, N(get), &e),
			 0);
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:MyyxeRY7whkBe+bq8fHCL/2kKUg=", DOC_SECRET,
				"PUT", "/johnsmith/photos/puppy.jpg", "", put, N(put), &e),
			 0);
	/* prefix, max-keys and marker are not sub-resources: not signed. */
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:htDYFYduRNen8P9ZfE/s9SuKy0U=", DOC_SECRET,
				"GET", "/johnsmith/", "prefix=photos&max-keys=50&marker=puppy",
				list, N(list), &e),
			 0);
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:c2WLPFtWHVgbEmeEG93a4cG37dM=", DOC_SECRET,
				"GET", "/johnsmith/", "acl", acl, N(acl), &e),
			 0);
	/* The documentation's form: x-amz-date's value on the Date line. */
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:lx3byBScXR6KzyMaifNkardMwNk=", DOC_SECRET,
				"DELETE", "/johnsmith/photos/puppy.jpg", "", del, N(del), &e),
			 0);
	/* The documented rule: empty Date line, x-amz-date among the amz headers. */
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:R4dJ53KECjStyBO5iTBJZ4XVOaI=", DOC_SECRET,
				"DELETE", "/johnsmith/photos/puppy.jpg", "", del, N(del), &e),
			 0);
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:ilyl83RwaSoYIEdixDQcA4OnAnc=", DOC_SECRET,
				"PUT", "/static.johnsmith.net/db-backup.dat.gz", "", upload,
				N(upload), &e),
			 0);
	assert_int_equal(verify("AWS AKIAIOSFODNN7EXAMPLE:ilyl83RwaSoYIEdixDQcA4OnAnc=", DOC_SECRET,
				"PUT", "/static.johnsmith.net/db-backup.dat.gZ", "", upload,
				N(upload), &e),
			 CAIRN_E_BADDIGEST);
	assert_int_equal(e, S3E_SIGNATURE_DOES_NOT_MATCH);
}

static void
test_string_to_sign(void **state)
{
	static const struct kvpair h[] = {
	    KV("Content-Type", "text/plain"),
	    KV("Content-MD5", "1B2M2Y8AsgTpgAAy4X2UQQ=="),
	    KV("X-Amz-Meta-B", " 2 "),
	    KV("x-amz-meta-a", "1"),
	    KV("X-Amz-Storage-Class", "STANDARD"),
	    KV("Date", "Sat, 09 Mar 2024 12:34:56 GMT"),
	};
	const char *qs = "partNumber=3&uploadId=xyz&foo=bar";
	struct urlenc_query q;
	struct sigv2_auth a;
	struct buf b;
	enum s3_error e = S3E_OK;
	const char *authz = "AWS AKIDEXAMPLE:qGFcuHizEH679afLTUmSomqeBqw=";

	(void)state;
	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	struct sigv2_request req = {"PUT", "/bucket/a%20b%2Bc.txt", 21, q.v, q.n, h, N(h)};
	assert_int_equal(sigv2_parse_header(authz, strlen(authz), &a, &e), 0);
	assert_string_equal(a.access_key, "AKIDEXAMPLE");
	buf_init(&b, SIGV2_STRING_TO_SIGN_MAX);
	assert_int_equal(sigv2_string_to_sign(&req, &a, &b, &e), 0);
	assert_string_equal((const char *)b.p,
			    "PUT\n1B2M2Y8AsgTpgAAy4X2UQQ==\ntext/plain\nSat, 09 Mar 2024 12:34:56 "
			    "GMT\nx-amz-meta-a:1\nx-amz-meta-b:2\nx-amz-storage-class:STANDARD\n"
			    "/bucket/a%20b%2Bc.txt?partNumber=3&uploadId=xyz");
	assert_int_equal(sigv2_verify(&req, &a, BOTO_SECRET, strlen(BOTO_SECRET), &e), 0);
	buf_fini(&b);
	urlenc_query_fini(&q);
	/* Sub-resources sorted, values decoded. */
	static const struct kvpair hd[] = {KV("Date", "Sat, 09 Mar 2024 12:34:56 GMT")};
	assert_int_equal(verify("AWS AKIDEXAMPLE:SS7+n4qbZxcECVr8rBPLF6f8wmo=", BOTO_SECRET, "GET",
				"/bucket", "versions&prefix=p&response-content-type=text%2Fhtml",
				hd, 1, &e),
			 0);
}

static void
test_presigned(void **state)
{
	const char *qs = "versionId=v1&AWSAccessKeyId=AKIDEXAMPLE&Signature="
			 "U59gs4%2FFb%2BqKKse8d%2BJltCAQ2Tg%3D&Expires=1709991296";
	static const struct kvpair h[] = {KV("Host", "127.0.0.1:9000")};
	struct urlenc_query q;
	struct sigv2_auth a;
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	assert_true(sigv2_is_presigned(q.v, q.n));
	assert_int_equal(sigv2_parse_query(q.v, q.n, &a, &e), 0);
	assert_true(a.presigned);
	assert_int_equal(a.expires, 1709991296);
	struct sigv2_request req = {"GET", "/bucket/key%20x", 15, q.v, q.n, h, 1};
	assert_int_equal(sigv2_verify(&req, &a, BOTO_SECRET, strlen(BOTO_SECRET), &e), 0);
	assert_int_equal(sigv2_check_time(&req, &a, 1709991296, &e), 0);
	assert_int_equal(sigv2_check_time(&req, &a, 1709991297, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_ACCESS_DENIED);
	req.method = "PUT";
	assert_int_equal(sigv2_verify(&req, &a, BOTO_SECRET, strlen(BOTO_SECRET), &e),
			 CAIRN_E_BADDIGEST);
	urlenc_query_fini(&q);
}

static void
test_parse_errors(void **state)
{
	static const char *bad[] = {
	    "",
	    "AWS",
	    "AWS ",
	    "AWS AK",
	    "AWS :bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
	    "AWS AK:",
	    "AWS AK:bWq2s1WEIj+Ydj0vQ697zp+IXMU",
	    "AWS AK:bWq2s1WEIj+Ydj0vQ697zp+IXMUAA==",
	    "AWS AK:YWJj",
	    "AWS4-HMAC-SHA256 Credential=x",
	    "aws AK:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
	};
	struct sigv2_auth a;
	enum s3_error e;
	size_t i;
	char big[300];

	(void)state;
	for (i = 0; i < N(bad); i++) {
		e = S3E_OK;
		if (sigv2_parse_header(bad[i], strlen(bad[i]), &a, &e) != CAIRN_E_INVAL ||
		    e != S3E_INVALID_ARGUMENT)
			fail_msg("case %zu accepted: %s", i, bad[i]);
	}
	snprintf(big, sizeof(big), "AWS %0*d:bWq2s1WEIj+Ydj0vQ697zp+IXMU=", SIGV2_ACCESS_KEY_MAX,
		 0);
	assert_int_equal(sigv2_parse_header(big, strlen(big), &a, &e), 0);
	snprintf(big, sizeof(big),
		 "AWS %0*d:bWq2s1WEIj+Ydj0vQ697zp+IXMU=", SIGV2_ACCESS_KEY_MAX + 1, 0);
	assert_int_equal(sigv2_parse_header(big, strlen(big), &a, &e), CAIRN_E_INVAL);
}

static void
test_query_errors(void **state)
{
	static const char *bad[] = {
	    "AWSAccessKeyId=AK&Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D",
	    "AWSAccessKeyId=AK&Expires=1",
	    "Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D&Expires=1",
	    "AWSAccessKeyId=AK&Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D&Expires=x",
	    "AWSAccessKeyId=AK&Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D&Expires=-1",
	    "AWSAccessKeyId=AK&Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D&Expires=",
	    "AWSAccessKeyId=AK&Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D&Expires="
	    "1234567890123",
	    /* a raw '+' becomes a space: not base64 */
	    "AWSAccessKeyId=AK&Signature=bWq2s1WEIj+Ydj0vQ697zp+IXMU%3D&Expires=1",
	    "AWSAccessKeyId=&Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D&Expires=1",
	};
	struct urlenc_query q;
	struct sigv2_auth a;
	enum s3_error e;
	size_t i;

	(void)state;
	for (i = 0; i < N(bad); i++) {
		assert_int_equal(urlenc_query_parse(bad[i], strlen(bad[i]), &q), 0);
		e = S3E_OK;
		if (sigv2_parse_query(q.v, q.n, &a, &e) != CAIRN_E_INVAL || e != S3E_ACCESS_DENIED)
			fail_msg("case %zu accepted", i);
		urlenc_query_fini(&q);
	}
	assert_false(sigv2_is_presigned(NULL, 0));
}

static void
test_check_time(void **state)
{
	static const struct kvpair date[] = {KV("Date", "Fri, 24 May 2013 00:00:00 GMT")};
	static const struct kvpair both[] = {KV("Date", "Fri, 24 May 2013 00:00:00 GMT"),
					     KV("X-Amz-Date", "Fri, 24 May 2013 01:00:00 GMT")};
	static const struct kvpair badd[] = {KV("Date", "yesterday")};
	struct sigv2_auth a = {0};
	enum s3_error e = S3E_OK;
	struct sigv2_request req = {"GET", "/", 1, NULL, 0, date, 1};
	const int64_t t0 = 1369353600;

	(void)state;
	assert_int_equal(sigv2_check_time(&req, &a, t0 + SIGV2_MAX_SKEW, &e), 0);
	assert_int_equal(sigv2_check_time(&req, &a, t0 - SIGV2_MAX_SKEW, &e), 0);
	assert_int_equal(sigv2_check_time(&req, &a, t0 + SIGV2_MAX_SKEW + 1, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_REQUEST_TIME_TOO_SKEWED);
	/* x-amz-date wins over Date. */
	req.headers = both;
	req.n_headers = 2;
	assert_int_equal(sigv2_check_time(&req, &a, t0 + 3600, &e), 0);
	assert_int_equal(sigv2_check_time(&req, &a, t0, &e), CAIRN_E_INVAL);
	req.headers = badd;
	req.n_headers = 1;
	e = S3E_OK;
	assert_int_equal(sigv2_check_time(&req, &a, t0, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_ACCESS_DENIED);
	req.n_headers = 0;
	assert_int_equal(sigv2_check_time(&req, &a, t0, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_ACCESS_DENIED);
}

static void
test_caps(void **state)
{
	static struct kvpair many[SIGV2_MAX_HEADERS + 1];
	struct sigv2_auth a = {0};
	struct buf b;
	enum s3_error e = S3E_OK;
	size_t i;

	(void)state;
	for (i = 0; i < N(many); i++)
		many[i] = (struct kvpair)KV("x-amz-meta-x", "v");
	struct sigv2_request req = {"GET", "/", 1, NULL, 0, many, SIGV2_MAX_HEADERS};
	buf_init(&b, SIGV2_STRING_TO_SIGN_MAX);
	assert_int_equal(sigv2_string_to_sign(&req, &a, &b, &e), 0);
	req.n_headers++;
	buf_reset(&b);
	assert_int_equal(sigv2_string_to_sign(&req, &a, &b, &e), CAIRN_E_TOOBIG);
	assert_int_equal(e, S3E_INVALID_REQUEST);
	buf_fini(&b);
	buf_init(&b, 16);
	req.n_headers = 1;
	e = S3E_OK;
	assert_int_equal(sigv2_string_to_sign(&req, &a, &b, &e), CAIRN_E_TOOBIG);
	assert_int_equal(e, S3E_INVALID_REQUEST);
	buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_doc_examples), cmocka_unit_test(test_string_to_sign),
	    cmocka_unit_test(test_presigned),	 cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_query_errors), cmocka_unit_test(test_check_time),
	    cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
