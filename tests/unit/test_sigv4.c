#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/sigv4.h"
#include "cairn/urlenc.h"

/* AWS documentation example credentials ("Signature Calculations for the Authorization Header",
 * "Authenticating Requests: Using Query Parameters"). */
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_SCOPE "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
#define DOC_HOST "examplebucket.s3.amazonaws.com"
#define DOC_DATE "20130524T000000Z"
#define DOC_T0 1369353600 /* 2013-05-24T00:00:00Z */

/* botocore 1.43 S3SigV4Auth at 2024-03-09T12:34:56Z, region eu-west-1 (see sigv4_vectors.py). */
#define BOTO_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define BOTO_DATE "20240309T123456Z"
#define BOTO_T0 1709987696

#define KV(n, v)                                                                                   \
	{                                                                                          \
		n, sizeof(n) - 1, v, sizeof(v) - 1                                                 \
	}
#define NKV(a) (sizeof(a) / sizeof((a)[0]))

static void
doc_key(uint8_t key[SIGV4_KEY_LEN])
{
	sigv4_signing_key(DOC_SECRET, strlen(DOC_SECRET), "20130524", "us-east-1", "s3", key);
}

/* Parses authz, sets the date and verifies req; returns sigv4_verify()'s result. */
static int
header_verify(const char *authz, const char *date, const char *secret,
	      const struct sigv4_request *req, enum s3_error *e)
{
	struct sigv4_auth a;
	uint8_t key[SIGV4_KEY_LEN];

	assert_int_equal(sigv4_parse_header(authz, strlen(authz), &a, e), 0);
	assert_int_equal(sigv4_auth_set_date(&a, date, strlen(date), e), 0);
	sigv4_signing_key(secret, strlen(secret), a.date, a.region, a.service, key);
	return sigv4_verify(req, &a, key, e);
}

static void
test_signing_key(void **state)
{
	uint8_t key[SIGV4_KEY_LEN];
	char hex[2 * SIGV4_KEY_LEN + 1];

	(void)state;
	doc_key(key);
	hex_encode(key, sizeof(key), hex);
	assert_string_equal(hex,
			    "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
}

static const struct kvpair get_object_headers[] = {
    KV("Host", DOC_HOST),
    KV("Range", "bytes=0-9"),
    KV("x-amz-content-sha256", SIGV4_EMPTY_SHA256),
    KV("x-amz-date", DOC_DATE),
    KV("User-Agent", "not signed"),
};

#define GET_OBJECT_AUTHZ                                                                           \
	"AWS4-HMAC-SHA256 Credential=" DOC_SCOPE ",SignedHeaders=host;range;x-amz-content-sha256;" \
	"x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"

/* AWS example "GET Object": canonical request, string to sign and signature. */
static void
test_doc_get_object(void **state)
{
	struct sigv4_request req = {"GET",
				    "/test.txt",
				    9,
				    NULL,
				    0,
				    get_object_headers,
				    NKV(get_object_headers),
				    SIGV4_EMPTY_SHA256};
	struct sigv4_auth a;
	struct buf creq, sts;
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(sigv4_parse_header(GET_OBJECT_AUTHZ, strlen(GET_OBJECT_AUTHZ), &a, &e), 0);
	assert_int_equal(sigv4_auth_set_date(&a, DOC_DATE, 16, &e), 0);
	buf_init(&creq, SIGV4_CANONICAL_MAX);
	buf_init(&sts, SIGV4_CANONICAL_MAX);
	assert_int_equal(sigv4_canonical_request(&req, &a, SIGV4_URI_NORMALIZED, &creq, &e), 0);
	assert_string_equal((const char *)creq.p,
			    "GET\n/test.txt\n\nhost:" DOC_HOST "\nrange:bytes=0-9\n"
			    "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:" DOC_DATE
			    "\n\nhost;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
	assert_int_equal(sigv4_string_to_sign(&a, creq.p, creq.len, &sts), 0);
	assert_string_equal((const char *)sts.p,
			    "AWS4-HMAC-SHA256\n" DOC_DATE "\n20130524/us-east-1/s3/aws4_request\n"
			    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	buf_fini(&creq);
	buf_fini(&sts);
	assert_int_equal(header_verify(GET_OBJECT_AUTHZ, DOC_DATE, DOC_SECRET, &req, &e), 0);
	assert_int_equal(e, S3E_OK);
}

/* AWS example "PUT Object": the '$' in the key is signed as %24 whether or not the client
 * encoded it on the wire. */
static void
test_doc_put_object(void **state)
{
	static const struct kvpair h[] = {
	    KV("Date", "Fri, 24 May 2013 00:00:00 GMT"),
	    KV("Host", DOC_HOST),
	    KV("x-amz-date", DOC_DATE),
	    KV("x-amz-storage-class", "REDUCED_REDUNDANCY"),
	    KV("x-amz-content-sha256",
	       "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
	};
	const char *authz = "AWS4-HMAC-SHA256 Credential=" DOC_SCOPE ", SignedHeaders=date;host;"
			    "x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature="
			    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";
	struct sigv4_request req = {
	    "PUT",  "/test$file.text",
	    15,	    NULL,
	    0,	    h,
	    NKV(h), "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"};
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(header_verify(authz, DOC_DATE, DOC_SECRET, &req, &e), 0);
	req.path = "/test%24file.text";
	req.path_len = 17;
	assert_int_equal(header_verify(authz, DOC_DATE, DOC_SECRET, &req, &e), 0);
	req.path = "/test%24file.texT";
	assert_int_equal(header_verify(authz, DOC_DATE, DOC_SECRET, &req, &e), CAIRN_E_BADDIGEST);
	assert_int_equal(e, S3E_SIGNATURE_DOES_NOT_MATCH);
}

static const struct kvpair doc_bucket_headers[] = {
    KV("host", DOC_HOST),
    KV("x-amz-date", DOC_DATE),
    KV("x-amz-content-sha256", SIGV4_EMPTY_SHA256),
};

/* Verifies a GET on the bucket root with the raw query string qs. */
static int
doc_bucket_get(const char *qs, const char *sig, enum s3_error *e)
{
	struct urlenc_query q;
	char authz[512];
	int rc;

	snprintf(authz, sizeof(authz),
		 "AWS4-HMAC-SHA256 Credential=" DOC_SCOPE
		 ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=%s",
		 sig);
	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	struct sigv4_request req = {"GET",
				    "/",
				    1,
				    q.v,
				    q.n,
				    doc_bucket_headers,
				    NKV(doc_bucket_headers),
				    SIGV4_EMPTY_SHA256};
	rc = header_verify(authz, DOC_DATE, DOC_SECRET, &req, e);
	urlenc_query_fini(&q);
	return rc;
}

/* AWS examples "GET Bucket Lifecycle" and "Get Bucket (List Objects)". */
static void
test_doc_bucket_examples(void **state)
{
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(
	    doc_bucket_get("lifecycle",
			   "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543", &e),
	    0);
	assert_int_equal(
	    doc_bucket_get("max-keys=2&prefix=J",
			   "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7", &e),
	    0);
	/* Parameter order on the wire does not matter: the canonical query is sorted. */
	assert_int_equal(
	    doc_bucket_get("prefix=J&max-keys=2",
			   "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7", &e),
	    0);
	assert_int_equal(
	    doc_bucket_get("max-keys=3&prefix=J",
			   "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7", &e),
	    CAIRN_E_BADDIGEST);
	assert_int_equal(e, S3E_SIGNATURE_DOES_NOT_MATCH);
}

#define DOC_PRESIGNED_QS                                                                           \
	"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"  \
	"east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"        \
	"SignedHeaders=host&X-Amz-Signature="                                                      \
	"aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

/* AWS example presigned URL (GET examplebucket/test.txt, 86400 s). */
static void
test_doc_presigned(void **state)
{
	static const struct kvpair h[] = {KV("Host", DOC_HOST)};
	struct urlenc_query q;
	struct sigv4_auth a;
	uint8_t key[SIGV4_KEY_LEN];
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(urlenc_query_parse(DOC_PRESIGNED_QS, strlen(DOC_PRESIGNED_QS), &q), 0);
	assert_true(sigv4_is_presigned(q.v, q.n));
	assert_int_equal(sigv4_parse_query(q.v, q.n, &a, &e), 0);
	assert_true(a.presigned);
	assert_string_equal(a.access_key, "AKIAIOSFODNN7EXAMPLE");
	assert_string_equal(a.amz_date, DOC_DATE);
	assert_int_equal(a.expires, 86400);
	assert_int_equal(sigv4_check_scope(&a, "us-east-1", &e), 0);
	assert_int_equal(sigv4_check_time(&a, DOC_T0 + 86400, &e), 0);
	assert_int_equal(sigv4_check_time(&a, DOC_T0 - 900, &e), 0);
	doc_key(key);
	struct sigv4_request req = {"GET", "/test.txt", 9,	q.v,
				    q.n,   h,		NKV(h), SIGV4_UNSIGNED_PAYLOAD};
	assert_int_equal(sigv4_verify(&req, &a, key, &e), 0);
	req.path = "/test.tx";
	req.path_len = 8;
	assert_int_equal(sigv4_verify(&req, &a, key, &e), CAIRN_E_BADDIGEST);
	urlenc_query_fini(&q);
}

/* A request signed by botocore: key with reserved characters and UTF-8, a header value with
 * runs of spaces, Content-MD5 and Content-Type signed. */
static void
test_botocore_put(void **state)
{
	static const char path[] = "/bucket/dir/a%20b%2Bc%3Dd%26e~f%21g%27h%28i%29%2Aj%C3%A9.txt";
	static const struct kvpair h[] = {
	    KV("Content-Type", "text/plain"),
	    KV("X-Amz-Meta-Note", "  two   spaces  here "),
	    KV("Content-MD5", "1B2M2Y8AsgTpgAAy4X2UQQ=="),
	    KV("X-Amz-Date", BOTO_DATE),
	    KV("Host", "127.0.0.1:9000"),
	    KV("X-Amz-Content-SHA256",
	       "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
	};
	const char *authz =
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240309/eu-west-1/s3/aws4_request, "
	    "SignedHeaders=content-md5;content-type;host;x-amz-content-sha256;x-amz-date;"
	    "x-amz-meta-note, Signature="
	    "f941986fdc139a820820be9a097fee75445909dfd4a964c36a53c933f59e251f";
	struct sigv4_request req = {
	    "PUT",
	    path,
	    strlen(path),
	    NULL,
	    0,
	    h,
	    NKV(h),
	    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"};
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(header_verify(authz, BOTO_DATE, BOTO_SECRET, &req, &e), 0);
	/* The same key sent with fewer escapes (as some clients do) verifies as well. */
	req.path = "/bucket/dir/a%20b+c=d&e~f!g'h(i)*j\xc3\xa9.txt";
	req.path_len = strlen(req.path);
	assert_int_equal(header_verify(authz, BOTO_DATE, BOTO_SECRET, &req, &e), 0);
}

static int
botocore_bucket(const char *method, const char *path, const char *qs, const char *sig)
{
	static const struct kvpair h[] = {
	    KV("X-Amz-Date", BOTO_DATE),
	    KV("X-Amz-Content-SHA256", SIGV4_EMPTY_SHA256),
	    KV("Host", "127.0.0.1:9000"),
	};
	struct urlenc_query q;
	enum s3_error e = S3E_OK;
	char authz[512];
	int rc;

	snprintf(authz, sizeof(authz),
		 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240309/eu-west-1/s3/aws4_request, "
		 "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s",
		 sig);
	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	struct sigv4_request req = {method, path, strlen(path), q.v,
				    q.n,    h,	  NKV(h),	SIGV4_EMPTY_SHA256};
	rc = header_verify(authz, BOTO_DATE, BOTO_SECRET, &req, &e);
	urlenc_query_fini(&q);
	return rc;
}

static void
test_botocore_queries(void **state)
{
	(void)state;
	assert_int_equal(
	    botocore_bucket("GET", "/bucket",
			    "list-type=2&prefix=photos%2F2024%20x%2By&delimiter=%2F&max-keys=10&"
			    "continuation-token=abc%3D%3D&encoding-type=url",
			    "ea763b572f70fa76e5d680b8b5c7812afda951fb457867b68e838ce5e6fc8a4a"),
	    0);
	assert_int_equal(
	    botocore_bucket("POST", "/bucket/key", "uploads",
			    "dbdef0579519d19725d3617e6b82155904cb0688e557141f8960d473ade1baf4"),
	    0);
	assert_int_equal(
	    botocore_bucket("DELETE", "/bucket/key", "uploadId=2~abc.def_GHI-jkl",
			    "9a7afb13fe14fbbeec1e07d98fe5e24439ee96c0edc46b5aa264782d82472b8c"),
	    0);
	assert_int_equal(
	    botocore_bucket("GET", "/bucket/key", "uploadId=2~abc.def_GHI-jkl",
			    "9a7afb13fe14fbbeec1e07d98fe5e24439ee96c0edc46b5aa264782d82472b8c"),
	    CAIRN_E_BADDIGEST);
}

static void
test_botocore_presigned(void **state)
{
	static const char qs[] =
	    "versionId=v1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
	    "20240309%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20240309T123456Z&X-Amz-"
	    "Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="
	    "7e9c7044d7c2eea3f8ec878194804cb92bc65164910f58817807b400dd6301cf";
	static const struct kvpair h[] = {KV("host", "127.0.0.1:9000")};
	static const char path[] = "/bucket/some%20key%2Bplus.bin";
	struct urlenc_query q;
	struct sigv4_auth a;
	uint8_t key[SIGV4_KEY_LEN];
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	assert_int_equal(sigv4_parse_query(q.v, q.n, &a, &e), 0);
	assert_int_equal(sigv4_check_scope(&a, "eu-west-1", &e), 0);
	assert_int_equal(sigv4_check_scope(&a, "us-east-1", &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR);
	assert_int_equal(sigv4_check_time(&a, BOTO_T0 + 3600, &e), 0);
	assert_int_equal(sigv4_check_time(&a, BOTO_T0 + 3601, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_ACCESS_DENIED);
	sigv4_signing_key(BOTO_SECRET, strlen(BOTO_SECRET), a.date, a.region, a.service, key);
	struct sigv4_request req = {"GET", path, strlen(path), q.v,
				    q.n,   h,	 NKV(h),       SIGV4_UNSIGNED_PAYLOAD};
	assert_int_equal(sigv4_verify(&req, &a, key, &e), 0);
	urlenc_query_fini(&q);
}

/* A client that signs the path exactly as it sent it, with an escape AWS would not use. */
static void
test_raw_path_fallback(void **state)
{
	static const struct kvpair h[] = {KV("host", "h")};
	struct sigv4_auth a;
	struct buf b;
	uint8_t key[SIGV4_KEY_LEN], sig_raw[SIGV4_KEY_LEN], sig_norm[SIGV4_KEY_LEN];
	enum s3_error e = S3E_OK;
	struct sigv4_request req = {"GET", "/b/a%7Eb", 8, NULL, 0, h, 1, SIGV4_EMPTY_SHA256};
	const char *authz = "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,"
			    "SignedHeaders=host,Signature=" SIGV4_EMPTY_SHA256;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(sigv4_canonical_uri("/b/a%7Eb", 8, SIGV4_URI_NORMALIZED, &b), 0);
	assert_string_equal((const char *)b.p, "/b/a~b");
	buf_fini(&b);
	assert_int_equal(sigv4_parse_header(authz, strlen(authz), &a, &e), 0);
	assert_int_equal(sigv4_auth_set_date(&a, DOC_DATE, 16, &e), 0);
	doc_key(key);
	assert_int_equal(sigv4_signature(&req, &a, SIGV4_URI_RAW, key, sig_raw, &e), 0);
	assert_int_equal(sigv4_signature(&req, &a, SIGV4_URI_NORMALIZED, key, sig_norm, &e), 0);
	assert_memory_not_equal(sig_raw, sig_norm, SIGV4_KEY_LEN);
	memcpy(a.signature, sig_raw, SIGV4_KEY_LEN);
	assert_int_equal(sigv4_verify(&req, &a, key, &e), 0);
	memcpy(a.signature, sig_norm, SIGV4_KEY_LEN);
	assert_int_equal(sigv4_verify(&req, &a, key, &e), 0);
	a.signature[0] ^= 1;
	assert_int_equal(sigv4_verify(&req, &a, key, &e), CAIRN_E_BADDIGEST);
	/* A bad escape in the path is an invalid URI. */
	req.path = "/b/%zz";
	req.path_len = 6;
	assert_int_equal(sigv4_verify(&req, &a, key, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_URI);
}

static void
test_parse_header_forms(void **state)
{
	struct sigv4_auth a;
	enum s3_error e = S3E_OK;
	const char *h = "AWS4-HMAC-SHA256   Signature=" SIGV4_EMPTY_SHA256 " ,  SignedHeaders=host"
			",Credential=AK/20130524/eu-central-1/s3/aws4_request  ";

	(void)state;
	assert_int_equal(sigv4_parse_header(h, strlen(h), &a, &e), 0);
	assert_false(a.presigned);
	assert_string_equal(a.access_key, "AK");
	assert_string_equal(a.date, "20130524");
	assert_string_equal(a.region, "eu-central-1");
	assert_string_equal(a.service, "s3");
	assert_string_equal(a.signed_headers, "host");
	assert_string_equal(a.amz_date, "");
	assert_int_equal(a.signature[0], 0xe3);
	assert_int_equal(e, S3E_OK);
}

static void
test_parse_header_errors(void **state)
{
	static const struct {
		const char *h;
		enum s3_error e;
	} bad[] = {
	    {"AWS AK:sig", S3E_INVALID_ARGUMENT},
	    {"AWS4-HMAC-SHA512 Credential=x", S3E_INVALID_ARGUMENT},
	    {"AWS4-HMAC-SHA256X Credential=x", S3E_INVALID_ARGUMENT},
	    {"", S3E_INVALID_ARGUMENT},
	    {"AWS4-HMAC-SHA256", S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 ", S3E_AUTHORIZATION_HEADER_MALFORMED},
#define C "Credential=AK/20130524/us-east-1/s3/aws4_request"
#define S "Signature=" SIGV4_EMPTY_SHA256
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host", S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C "," S, S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 SignedHeaders=host," S, S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C "," C ",SignedHeaders=host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host," S ",",
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host," S ",X=y",
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=range," S, S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host;Range," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host;;range," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host;host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host;," S, S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=," S, S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host,Signature=abc",
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host,Signature=" SIGV4_EMPTY_SHA256 "0",
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 " C ",SignedHeaders=host,Signature="
	     "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_requesT,SignedHeaders="
	     "host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3,SignedHeaders=host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request/x,SignedHeaders="
	     "host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 "
	     "Credential=/20130524/us-east-1/s3/aws4_request,SignedHeaders=host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 Credential=AK/20130532/us-east-1/s3/aws4_request,SignedHeaders="
	     "host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 "
	     "Credential=AK/2013052/us-east-1/s3/aws4_request,SignedHeaders=host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 Credential=AK/20130524//s3/aws4_request,SignedHeaders=host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
	    {"AWS4-HMAC-SHA256 Credential=AK/20130524/"
	     "region-name-that-is-far-too-long-x/s3/aws4_request,SignedHeaders=host," S,
	     S3E_AUTHORIZATION_HEADER_MALFORMED},
#undef C
#undef S
	};
	struct sigv4_auth a;
	size_t i;

	(void)state;
	for (i = 0; i < NKV(bad); i++) {
		enum s3_error e = S3E_OK;

		if (sigv4_parse_header(bad[i].h, strlen(bad[i].h), &a, &e) != CAIRN_E_INVAL ||
		    e != bad[i].e)
			fail_msg("case %zu not rejected as expected: %s", i, bad[i].h);
	}
}

static void
test_parse_header_caps(void **state)
{
	static char big[SIGV4_AUTH_HEADER_MAX + 200];
	struct sigv4_auth a;
	enum s3_error e = S3E_OK;
	size_t n;

	(void)state;
	/* An access key of exactly the maximum, then one more. */
	n = (size_t)snprintf(big, sizeof(big),
			     "AWS4-HMAC-SHA256 Credential=%0*d/20130524/r/s3/"
			     "aws4_request,SignedHeaders=host,Signature=%s",
			     SIGV4_ACCESS_KEY_MAX, 7, SIGV4_EMPTY_SHA256);
	assert_int_equal(sigv4_parse_header(big, n, &a, &e), 0);
	assert_int_equal(strlen(a.access_key), SIGV4_ACCESS_KEY_MAX);
	n = (size_t)snprintf(big, sizeof(big),
			     "AWS4-HMAC-SHA256 Credential=%0*d/20130524/r/s3/"
			     "aws4_request,SignedHeaders=host,Signature=%s",
			     SIGV4_ACCESS_KEY_MAX + 1, 7, SIGV4_EMPTY_SHA256);
	assert_int_equal(sigv4_parse_header(big, n, &a, &e), CAIRN_E_INVAL);
	/* Too many signed headers. */
	n = (size_t)snprintf(big, sizeof(big),
			     "AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/"
			     "aws4_request,Signature=%s,SignedHeaders=host",
			     SIGV4_EMPTY_SHA256);
	for (int i = 0; i < SIGV4_SIGNED_HEADERS_COUNT; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, ";h%d", i);
	assert_int_equal(sigv4_parse_header(big, n, &a, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_AUTHORIZATION_HEADER_MALFORMED);
	/* Over the header cap. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "AWS4-HMAC-SHA256 ", 17);
	assert_int_equal(sigv4_parse_header(big, SIGV4_AUTH_HEADER_MAX + 1, &a, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_AUTHORIZATION_HEADER_MALFORMED);
}

static int
parse_query(const char *qs, struct sigv4_auth *a, enum s3_error *e)
{
	struct urlenc_query q;
	int rc;

	assert_int_equal(urlenc_query_parse(qs, strlen(qs), &q), 0);
	rc = sigv4_parse_query(q.v, q.n, a, e);
	urlenc_query_fini(&q);
	return rc;
}

static void
test_parse_query_errors(void **state)
{
#define ALG "X-Amz-Algorithm=AWS4-HMAC-SHA256"
#define CRED "&X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
#define DATE "&X-Amz-Date=20130524T000000Z"
#define SH "&X-Amz-SignedHeaders=host"
#define SIG "&X-Amz-Signature=" SIGV4_EMPTY_SHA256
	static const char *bad[] = {
	    CRED DATE "&X-Amz-Expires=1" SH SIG,
	    "X-Amz-Algorithm=AWS4-HMAC-SHA1" CRED DATE "&X-Amz-Expires=1" SH SIG,
	    ALG CRED DATE SH SIG,
	    ALG CRED DATE "&X-Amz-Expires=0" SH SIG,
	    ALG CRED DATE "&X-Amz-Expires=604801" SH SIG,
	    ALG CRED DATE "&X-Amz-Expires=1000000" SH SIG,
	    ALG CRED DATE "&X-Amz-Expires=-1" SH SIG,
	    ALG CRED DATE "&X-Amz-Expires=1x" SH SIG,
	    ALG CRED DATE "&X-Amz-Expires=" SH SIG,
	    ALG CRED "&X-Amz-Date=20130525T000000Z&X-Amz-Expires=1" SH SIG,
	    ALG CRED "&X-Amz-Date=20130524T000000&X-Amz-Expires=1" SH SIG,
	    ALG CRED DATE "&X-Amz-Expires=1" SIG,
	    ALG CRED DATE "&X-Amz-Expires=1" SH,
	    ALG CRED DATE "&X-Amz-Expires=1" SH SIG SIG,
	    ALG CRED DATE "&X-Amz-Expires=1&X-Amz-SignedHeaders=range" SIG,
	    ALG "&X-Amz-Credential=AK/20130524/us-east-1/s3" DATE "&X-Amz-Expires=1" SH SIG,
	};
	struct sigv4_auth a;
	enum s3_error e;
	size_t i;

	(void)state;
	assert_int_equal(parse_query(ALG CRED DATE "&X-Amz-Expires=604800" SH SIG, &a, &e), 0);
	assert_int_equal(a.expires, 604800);
	assert_int_equal(parse_query(ALG CRED DATE "&X-Amz-Expires=1" SH SIG "&other=x", &a, &e),
			 0);
	for (i = 0; i < NKV(bad); i++) {
		e = S3E_OK;
		if (parse_query(bad[i], &a, &e) != CAIRN_E_INVAL ||
		    e != S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR)
			fail_msg("case %zu accepted: %s", i, bad[i]);
	}
	assert_int_equal(parse_query(ALG CRED DATE "&X-Amz-Expires=1" SH SIG
						   "&X-Amz-Security-Token=tok",
				     &a, &e),
			 CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_TOKEN);
#undef ALG
#undef CRED
#undef DATE
#undef SH
#undef SIG
}

static void
test_is_presigned(void **state)
{
	static const struct kvpair none[] = {KV("versionId", "x"), KV("X-Amz-Date", "y")};
	static const struct kvpair sig[] = {KV("a", ""), KV("X-Amz-Signature", "y")};
	static const struct kvpair alg[] = {KV("X-Amz-Algorithm", "y")};
	static const struct kvpair cred[] = {KV("X-Amz-Credential", "y")};

	(void)state;
	assert_false(sigv4_is_presigned(NULL, 0));
	assert_false(sigv4_is_presigned(none, NKV(none)));
	assert_true(sigv4_is_presigned(sig, NKV(sig)));
	assert_true(sigv4_is_presigned(alg, NKV(alg)));
	assert_true(sigv4_is_presigned(cred, NKV(cred)));
}

static void
test_dates(void **state)
{
	int64_t t;
	char out[SIGV4_AMZ_DATE_LEN + 1];
	static const char *bad[] = {"20130524T000000",	"20130524T000000z", "20130524t000000Z",
				    "2013052AT000000Z", "20130230T000000Z", "20130524T240000Z",
				    "20130524T006000Z", "20130524T000060Z", "19691231T235959Z",
				    "20130524 000000Z", "+0130524T000000Z", "20130524T000000ZZ"};
	size_t i;

	(void)state;
	assert_int_equal(sigv4_parse_amz_date(DOC_DATE, 16, &t), 0);
	assert_int_equal(t, DOC_T0);
	assert_int_equal(sigv4_parse_amz_date("20240229T235959Z", 16, &t), 0);
	assert_int_equal(t, 1709251199);
	for (i = 0; i < NKV(bad); i++)
		assert_int_equal(sigv4_parse_amz_date(bad[i], strlen(bad[i]), &t), CAIRN_E_INVAL);
	assert_int_equal(sigv4_format_amz_date(DOC_T0, out), 0);
	assert_string_equal(out, DOC_DATE);
	assert_int_equal(sigv4_format_amz_date(BOTO_T0, out), 0);
	assert_string_equal(out, BOTO_DATE);
	assert_int_equal(sigv4_format_amz_date(0, out), 0);
	assert_string_equal(out, "19700101T000000Z");
	assert_int_equal(sigv4_format_amz_date(-1, out), CAIRN_E_INVAL);
	assert_int_equal(sigv4_format_amz_date(253402300800LL, out), CAIRN_E_INVAL);
}

static void
test_set_date_scope_time(void **state)
{
	const char *h = "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,"
			"SignedHeaders=host,Signature=" SIGV4_EMPTY_SHA256;
	struct sigv4_auth a;
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(sigv4_parse_header(h, strlen(h), &a, &e), 0);
	/* Unset date. */
	assert_int_equal(sigv4_check_time(&a, DOC_T0, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_ACCESS_DENIED);
	assert_int_equal(sigv4_auth_set_date(&a, "garbage", 7, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_ACCESS_DENIED);
	assert_int_equal(sigv4_auth_set_date(&a, "20130525T000000Z", 16, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_AUTHORIZATION_HEADER_MALFORMED);
	assert_int_equal(sigv4_auth_set_date(&a, "20130524T235959Z", 16, &e), 0);
	assert_string_equal(a.amz_date, "20130524T235959Z");
	assert_int_equal(sigv4_auth_set_date(&a, DOC_DATE, 16, &e), 0);
	assert_int_equal(sigv4_check_time(&a, DOC_T0, &e), 0);
	assert_int_equal(sigv4_check_time(&a, DOC_T0 + SIGV4_MAX_SKEW, &e), 0);
	assert_int_equal(sigv4_check_time(&a, DOC_T0 - SIGV4_MAX_SKEW, &e), 0);
	e = S3E_OK;
	assert_int_equal(sigv4_check_time(&a, DOC_T0 + SIGV4_MAX_SKEW + 1, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_REQUEST_TIME_TOO_SKEWED);
	e = S3E_OK;
	assert_int_equal(sigv4_check_time(&a, DOC_T0 - SIGV4_MAX_SKEW - 1, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_REQUEST_TIME_TOO_SKEWED);
	assert_int_equal(sigv4_check_scope(&a, NULL, &e), 0);
	assert_int_equal(sigv4_check_scope(&a, "us-east-1", &e), 0);
	e = S3E_OK;
	assert_int_equal(sigv4_check_scope(&a, "eu-west-1", &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_AUTHORIZATION_HEADER_MALFORMED);
	snprintf(a.service, sizeof(a.service), "%s", "ec2");
	e = S3E_OK;
	assert_int_equal(sigv4_check_scope(&a, NULL, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_AUTHORIZATION_HEADER_MALFORMED);
	/* Presigned: not yet valid beyond the skew. */
	a.presigned = true;
	a.expires = 60;
	assert_int_equal(sigv4_check_time(&a, DOC_T0 - SIGV4_MAX_SKEW, &e), 0);
	assert_int_equal(sigv4_check_time(&a, DOC_T0 - SIGV4_MAX_SKEW - 1, &e), CAIRN_E_INVAL);
	assert_int_equal(sigv4_check_time(&a, DOC_T0 + 60, &e), 0);
	assert_int_equal(sigv4_check_time(&a, DOC_T0 + 61, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_ACCESS_DENIED);
}

static void
test_canonical_query(void **state)
{
	/* Sorted by encoded name, then value; "a" sorts before "a-b" although '=' > '-'. */
	static const struct kvpair p[] = {
	    KV("a-b", "1"),	 KV("a", "z"), KV("a", "y"), KV("X-Amz-Signature", "s"),
	    KV("k y", "v/w+x~"), KV("B", ""),
	};
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(sigv4_canonical_query(p, NKV(p), true, &b), 0);
	assert_string_equal((const char *)b.p, "B=&a=y&a=z&a-b=1&k%20y=v%2Fw%2Bx~");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_query(p, NKV(p), false, &b), 0);
	assert_string_equal((const char *)b.p,
			    "B=&X-Amz-Signature=s&a=y&a=z&a-b=1&k%20y=v%2Fw%2Bx~");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_query(NULL, 0, false, &b), 0);
	assert_int_equal(b.len, 0);
	buf_fini(&b);
	buf_init(&b, 10);
	assert_int_equal(sigv4_canonical_query(p, NKV(p), true, &b), CAIRN_E_TOOBIG);
	buf_fini(&b);
	assert_int_equal(sigv4_canonical_query(p, URLENC_QUERY_MAX_PARAMS + 1, true, &b),
			 CAIRN_E_TOOBIG);
}

static void
test_canonical_headers(void **state)
{
	static char big[SIGV4_HEADER_VALUE_MAX + 1];
	static const struct kvpair h[] = {
	    KV("X-Amz-Meta-A", "  one  "),
	    KV("host", "h"),
	    KV("x-amz-meta-a", "two\t\tthree"),
	    KV("X-Empty", ""),
	    KV("x-spaces", "   "),
	};
	struct kvpair hb[] = {KV("host", "h"), {"x-big", 5, big, sizeof(big)}};
	struct buf b;
	enum s3_error e = S3E_OK;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(
	    sigv4_canonical_headers(h, NKV(h), "host;x-amz-meta-a;x-empty;x-spaces", &b, &e), 0);
	assert_string_equal((const char *)b.p,
			    "host:h\nx-amz-meta-a:one,two three\nx-empty:\nx-spaces:\n");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_headers(h, NKV(h), "host;x-missing", &b, &e),
			 CAIRN_E_INVAL);
	assert_int_equal(e, S3E_SIGNATURE_DOES_NOT_MATCH);
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_headers(h, NKV(h), "host;;x", &b, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_AUTHORIZATION_HEADER_MALFORMED);
	buf_fini(&b);
	memset(big, 'v', sizeof(big));
	buf_init(&b, 4 * SIGV4_HEADER_VALUE_MAX);
	e = S3E_OK;
	assert_int_equal(sigv4_canonical_headers(hb, 2, "host;x-big", &b, &e), CAIRN_E_TOOBIG);
	assert_int_equal(e, S3E_INVALID_REQUEST);
	hb[1].value_len = SIGV4_HEADER_VALUE_MAX;
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_headers(hb, 2, "host;x-big", &b, &e), 0);
	buf_fini(&b);
}

static void
test_canonical_uri(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(sigv4_canonical_uri("", 0, SIGV4_URI_NORMALIZED, &b), 0);
	assert_string_equal((const char *)b.p, "/");
	buf_reset(&b);
	/* No dot-segment removal and no slash merging for S3. */
	assert_int_equal(sigv4_canonical_uri("/b//./../k", 10, SIGV4_URI_NORMALIZED, &b), 0);
	assert_string_equal((const char *)b.p, "/b//./../k");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_uri("/b/a%2Fb", 8, SIGV4_URI_NORMALIZED, &b), 0);
	assert_string_equal((const char *)b.p, "/b/a/b");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_uri("/b/%e2%82%ac x", 14, SIGV4_URI_NORMALIZED, &b), 0);
	assert_string_equal((const char *)b.p, "/b/%E2%82%AC%20x");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_uri("/b/%e2", 6, SIGV4_URI_RAW, &b), 0);
	assert_string_equal((const char *)b.p, "/b/%e2");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_uri("/b/%00", 6, SIGV4_URI_NORMALIZED, &b), CAIRN_E_INVAL);
	buf_fini(&b);
}

/* A header listed in SignedHeaders but missing from the request. */
static void
test_verify_missing_header(void **state)
{
	struct sigv4_request req = {"GET", "/test.txt",	       9, NULL,
				    0,	   get_object_headers, 2, SIGV4_EMPTY_SHA256};
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(header_verify(GET_OBJECT_AUTHZ, DOC_DATE, DOC_SECRET, &req, &e),
			 CAIRN_E_INVAL);
	assert_int_equal(e, S3E_SIGNATURE_DOES_NOT_MATCH);
	/* Wrong secret. */
	req.n_headers = NKV(get_object_headers);
	assert_int_equal(header_verify(GET_OBJECT_AUTHZ, DOC_DATE, BOTO_SECRET, &req, &e),
			 CAIRN_E_BADDIGEST);
	/* Different payload hash. */
	req.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
	assert_int_equal(header_verify(GET_OBJECT_AUTHZ, DOC_DATE, DOC_SECRET, &req, &e),
			 CAIRN_E_BADDIGEST);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signing_key),
	    cmocka_unit_test(test_doc_get_object),
	    cmocka_unit_test(test_doc_put_object),
	    cmocka_unit_test(test_doc_bucket_examples),
	    cmocka_unit_test(test_doc_presigned),
	    cmocka_unit_test(test_botocore_put),
	    cmocka_unit_test(test_botocore_queries),
	    cmocka_unit_test(test_botocore_presigned),
	    cmocka_unit_test(test_raw_path_fallback),
	    cmocka_unit_test(test_parse_header_forms),
	    cmocka_unit_test(test_parse_header_errors),
	    cmocka_unit_test(test_parse_header_caps),
	    cmocka_unit_test(test_parse_query_errors),
	    cmocka_unit_test(test_is_presigned),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_set_date_scope_time),
	    cmocka_unit_test(test_canonical_query),
	    cmocka_unit_test(test_canonical_headers),
	    cmocka_unit_test(test_canonical_uri),
	    cmocka_unit_test(test_verify_missing_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
