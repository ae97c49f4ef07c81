/*
 * The S3 service (server.h, ops_*.c) driven without HTTP: requests are built as the HTTP layer
 * builds them, SigV4-signed with the sigv4 module, run against a real store in a temp dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cairn/base64.h"
#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/index.h"
#include "cairn/server.h"
#include "cairn/sigv4.h"
#include "cairn/store.h"

#define ROOT_AK "AKROOTTEST"
#define ROOT_SK "root/secret+key"
#define ALICE_AK "AKALICE"
#define ALICE_SK "alice-secret"
#define NOW 1767225600 /* 2026-01-01T00:00:00Z */
#define AMZ_DATE "20260101T000000Z"

static char tmpdir[64];
static struct store *st;
static struct server *srv;
static int64_t fake_now = NOW;

static int64_t
test_now(void)
{
	return fake_now;
}

static int
add_alice(struct index_txn *txn, void *arg)
{
	struct index_user u;

	(void)arg;
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "alice");
	snprintf(u.access_key, sizeof(u.access_key), ALICE_AK);
	snprintf(u.secret_key, sizeof(u.secret_key), ALICE_SK);
	return index_user_put(txn, &u);
}

static int
setup(void **state)
{
	struct server_config sc = {"us-east-1", "", ROOT_AK, ROOT_SK, 1u << 20};
	struct store_config cfg;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_server_XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	store_config_default(&cfg);
	cfg.data_dir = tmpdir;
	assert_int_equal(store_open(&cfg, &st), 0);
	assert_int_equal(index_write(store_index(st), add_alice, NULL), 0);
	assert_int_equal(server_new(&sc, st, &srv), 0);
	srv->now = test_now;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	server_free(srv);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Adds x-amz-date, x-amz-content-sha256 and a SigV4 Authorization header for ak/sk. */
static void
sign(struct server_req *r, const char *ak, const char *sk, const char *payload_hash)
{
	struct sigv4_auth a;
	struct sigv4_request req;
	uint8_t key[SIGV4_KEY_LEN], sig[SIGV4_KEY_LEN];
	char sighex[2 * SIGV4_KEY_LEN + 1], authz[512];
	enum s3_error e;

	assert_int_equal(s3req_add_header(&r->s3, "X-Amz-Date", AMZ_DATE), 0);
	assert_int_equal(s3req_add_header(&r->s3, "X-Amz-Content-SHA256", payload_hash), 0);
	memset(&a, 0, sizeof(a));
	snprintf(a.access_key, sizeof(a.access_key), "%s", ak);
	memcpy(a.date, AMZ_DATE, 8);
	snprintf(a.region, sizeof(a.region), "us-east-1");
	snprintf(a.service, sizeof(a.service), "s3");
	snprintf(a.signed_headers, sizeof(a.signed_headers),
		 "host;x-amz-content-sha256;x-amz-date");
	snprintf(a.amz_date, sizeof(a.amz_date), AMZ_DATE);
	sigv4_signing_key(sk, strlen(sk), a.date, a.region, a.service, key);
	req = (struct sigv4_request){r->s3.method,   r->s3.target,  r->s3.path_len,  r->s3.params.v,
				     r->s3.params.n, r->s3.headers, r->s3.n_headers, payload_hash};
	assert_int_equal(sigv4_signature(&req, &a, SIGV4_URI_NORMALIZED, key, sig, &e), 0);
	hex_encode(sig, sizeof(sig), sighex);
	snprintf(authz, sizeof(authz),
		 "AWS4-HMAC-SHA256 Credential=%s/20260101/us-east-1/s3/aws4_request, "
		 "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s",
		 ak, sighex);
	assert_int_equal(s3req_add_header(&r->s3, "Authorization", authz), 0);
}

#define CALL(m, t, ...) (&(struct call){.method = (m), .target = (t), __VA_ARGS__})

struct call {
	const char *method;
	const char *target;
	const char *const *headers; /* name, value, …, NULL */
	const void *body;
	size_t len;
	const char *ak, *sk;	  /* default root */
	const char *payload_hash; /* default: SHA-256 of body */
};

/* Runs one request through begin / body (in 7-byte pieces) / end. Caller frees the result. */
static struct server_req *
run(const struct call *c)
{
	struct server_req *r = server_req_new(srv);
	char hash[65];
	size_t i;

	assert_int_equal(s3req_set_target(&r->s3, c->method, c->target), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Host", "127.0.0.1:9000"), 0);
	for (i = 0; c->headers && c->headers[i]; i += 2)
		assert_int_equal(s3req_add_header(&r->s3, c->headers[i], c->headers[i + 1]), 0);
	if (!s3req_header(&r->s3, "content-length")) {
		char len[24];

		snprintf(len, sizeof(len), "%zu", c->len);
		assert_int_equal(s3req_add_header(&r->s3, "Content-Length", len), 0);
	}
	sigv4_sha256_hex(c->body ? c->body : "", c->len, hash);
	sign(r, c->ak ? c->ak : ROOT_AK, c->sk ? c->sk : ROOT_SK,
	     c->payload_hash ? c->payload_hash : hash);
	if (server_req_begin(r))
		return r;
	for (i = 0; i < c->len; i += 7) {
		size_t n = c->len - i < 7 ? c->len - i : 7;

		server_req_body(r, (const uint8_t *)c->body + i, n);
	}
	server_req_end(r);
	return r;
}

/* Runs a call and returns its status, freeing the request. */
static int
status_of(const struct call *c)
{
	struct server_req *r = run(c);
	int status = r->resp.status;

	server_req_free(r);
	return status;
}

static const char *
resp_header(const struct server_req *r, const char *want)
{
	const char *name, *value;
	size_t pos = 0;

	while (server_resp_header_next(&r->resp, &pos, &name, &value))
		if (strcasecmp(name, want) == 0)
			return value;
	return NULL;
}

static bool
body_has(const struct server_req *r, const char *needle)
{
	return r->resp.body.p && strstr((const char *)r->resp.body.p, needle) != NULL;
}

/* Reads the body of a GET into out (at most n bytes); returns the length. A body of at most
 * 16 KiB is in memory (it leaves in one write with the headers), a larger one streams. */
static size_t
read_body(struct server_req *r, char *out, size_t n)
{
	struct store_get *g = server_resp_take_get(&r->resp);
	uint64_t left = r->resp.length;
	size_t got = 0;

	if (left <= (16u << 10)) {
		assert_null(g);
		assert_int_equal(r->resp.body.len, left);
		assert_true(left <= n);
		if (left)
			memcpy(out, r->resp.body.p, left);
		return (size_t)left;
	}
	assert_non_null(g);
	while (left) {
		struct slice span;

		assert_int_equal(store_get_next(g, left, &span), 0);
		assert_true(span.len > 0 && got + span.len <= n);
		memcpy(out + got, span.p, span.len);
		got += span.len;
		left -= span.len;
	}
	store_get_close(g);
	return got;
}

/* A body of several chunks and buffer refills: its signed SHA-256 is computed on the store's
 * digest threads beside chunking; a match stores it, one changed byte is a mismatch. */
static void
server_big_signed_body(void)
{
	size_t len = (1u << 20) - 4321, i; /* max_object_size is 1 MiB here */
	char *body = malloc(len), *back = malloc(len), hash[65];
	uint64_t x = 88172645463325252ull;
	struct server_req *r;

	assert_non_null(body);
	assert_non_null(back);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		body[i] = (char)x;
	}
	assert_int_equal(status_of(CALL("PUT", "/checks/big", .body = body, .len = len)), 200);
	r = run(CALL("GET", "/checks/big"));
	assert_int_equal(r->resp.status, 200);
	assert_int_equal(read_body(r, back, len), len);
	assert_memory_equal(back, body, len);
	server_req_free(r);
	sigv4_sha256_hex(body, len, hash);
	body[len - 1] ^= 1;
	r = run(CALL("PUT", "/checks/big2", .body = body, .len = len, .payload_hash = hash));
	assert_true(body_has(r, "XAmzContentSHA256Mismatch"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("GET", "/checks/big2")), 404);
	free(back);
	free(body);
}

static void
test_buckets(void **state)
{
	struct server_req *r;

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/alpha")), 200);
	r = run(CALL("PUT", "/alpha"));
	assert_int_equal(r->resp.status, 409);
	assert_true(body_has(r, "<Code>BucketAlreadyOwnedByYou</Code>"));
	assert_true(body_has(r, "<RequestId>"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("PUT", "/Bad_Name")), 400);
	assert_int_equal(status_of(CALL("HEAD", "/alpha")), 200);
	assert_int_equal(status_of(CALL("HEAD", "/nosuch")), 404);
	r = run(CALL("GET", "/"));
	assert_int_equal(r->resp.status, 200);
	assert_true(body_has(r, "<Name>alpha</Name>"));
	server_req_free(r);
	r = run(CALL("GET", "/alpha?location"));
	assert_true(body_has(r, "<LocationConstraint"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("GET", "/alpha?acl")), 501);
	assert_int_equal(status_of(CALL("PUT", "/alpha?versioning")), 501);
	assert_int_equal(status_of(CALL("DELETE", "/alpha")), 204);
	assert_int_equal(status_of(CALL("DELETE", "/alpha")), 404);
}

static void
test_auth(void **state)
{
	struct server_req *r;

	(void)state;
	r = run(CALL("GET", "/", .sk = "wrong"));
	assert_int_equal(r->resp.status, 403);
	assert_true(body_has(r, "SignatureDoesNotMatch"));
	server_req_free(r);
	r = run(CALL("GET", "/", .ak = "AKNOBODY"));
	assert_true(body_has(r, "InvalidAccessKeyId"));
	server_req_free(r);
	fake_now = NOW + 3600;
	r = run(CALL("GET", "/"));
	assert_true(body_has(r, "RequestTimeTooSkewed"));
	server_req_free(r);
	fake_now = NOW;
	/* No credentials at all. */
	r = server_req_new(srv);
	assert_int_equal(s3req_set_target(&r->s3, "GET", "/"), 0);
	assert_true(server_req_begin(r));
	assert_int_equal(r->resp.status, 403);
	server_req_free(r);
	/* Health needs none. */
	r = server_req_new(srv);
	assert_int_equal(s3req_set_target(&r->s3, "GET", "/_cairn/health"), 0);
	assert_true(server_req_begin(r));
	assert_int_equal(r->resp.status, 200);
	server_req_free(r);
}

static void
test_put_get(void **state)
{
	static const char *const put_hdrs[] = {
	    "Content-Type", "text/plain", "x-amz-meta-color", "blue", "Cache-Control",
	    "no-cache",	    NULL};
	static const char body[] = "the quick brown fox jumps over the lazy dog";
	const char *cond[] = {"If-None-Match", NULL, NULL};
	struct server_req *r;
	char etag[64], out[128];

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/objs")), 200);
	r = run(CALL("PUT", "/objs/dir/fox%20.txt", .headers = put_hdrs, .body = body,
		     .len = sizeof(body) - 1));
	assert_int_equal(r->resp.status, 200);
	assert_string_equal(resp_header(r, "ETag"), "\"77add1d5f41223d5582fca736a5cb335\"");
	snprintf(etag, sizeof(etag), "%s", resp_header(r, "ETag"));
	server_req_free(r);

	r = run(CALL("GET", "/objs/dir/fox%20.txt"));
	assert_int_equal(r->resp.status, 200);
	assert_string_equal(resp_header(r, "Content-Type"), "text/plain");
	assert_string_equal(resp_header(r, "x-amz-meta-color"), "blue");
	assert_string_equal(resp_header(r, "Cache-Control"), "no-cache");
	assert_non_null(resp_header(r, "Last-Modified"));
	assert_int_equal(read_body(r, out, sizeof(out)), sizeof(body) - 1);
	assert_memory_equal(out, body, sizeof(body) - 1);
	server_req_free(r);

	r = run(CALL("HEAD", "/objs/dir/fox%20.txt?response-content-type=a%2Fb"));
	assert_int_equal(r->resp.status, 200);
	assert_true(r->resp.head);
	assert_int_equal(r->resp.length, sizeof(body) - 1);
	assert_null(r->resp.get);
	assert_string_equal(resp_header(r, "Content-Type"), "a/b");
	server_req_free(r);

	cond[1] = etag;
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt", .headers = cond)), 304);
	cond[0] = "If-Match";
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt", .headers = cond)), 200);
	cond[1] = "\"0000\"";
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt", .headers = cond)), 412);
	cond[0] = "If-Modified-Since";
	cond[1] = "Fri, 01 Jan 2100 00:00:00 GMT";
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt", .headers = cond)), 304);
	cond[0] = "If-Unmodified-Since";
	cond[1] = "Thu, 01 Jan 1970 00:00:10 GMT";
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt", .headers = cond)), 412);

	r = run(CALL("GET", "/objs/dir/fox%20.txt",
		     .headers = (const char *const[]){"Range", "bytes=4-8", NULL}));
	assert_int_equal(r->resp.status, 206);
	assert_string_equal(resp_header(r, "Content-Range"), "bytes 4-8/43");
	assert_int_equal(read_body(r, out, sizeof(out)), 5);
	assert_memory_equal(out, "quick", 5);
	server_req_free(r);
	r = run(CALL("GET", "/objs/dir/fox%20.txt",
		     .headers = (const char *const[]){"Range", "bytes=-3", NULL}));
	assert_int_equal(read_body(r, out, sizeof(out)), 3);
	assert_memory_equal(out, "dog", 3);
	server_req_free(r);
	r = run(CALL("GET", "/objs/dir/fox%20.txt",
		     .headers = (const char *const[]){"Range", "bytes=43-", NULL}));
	assert_int_equal(r->resp.status, 416);
	assert_string_equal(resp_header(r, "Content-Range"), "bytes */43");
	server_req_free(r);
	assert_int_equal(status_of(CALL("GET", "/objs/nope")), 404);
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt?versionId=null")), 200);
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt?versionId=3")), 404);
	assert_int_equal(status_of(CALL("DELETE", "/objs/dir/fox%20.txt")), 204);
	assert_int_equal(status_of(CALL("DELETE", "/objs/dir/fox%20.txt")), 204);
	assert_int_equal(status_of(CALL("GET", "/objs/dir/fox%20.txt")), 404);
}

static void
test_put_checks(void **state)
{
	static const char *const bad_md5[] = {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==", NULL};
	static const char *const good_md5[] = {"Content-MD5", "kAFQmDzST7DWlj99KOF/cg==", NULL};
	static const char *const crc_ok[] = {"x-amz-checksum-crc32", "NSRBwg==", NULL};
	static const char *const crc_bad[] = {"x-amz-checksum-crc32", "AAAAAA==", NULL};
	static const char *const inm[] = {"If-None-Match", "*", NULL};
	static const char *const mode[] = {"x-amz-checksum-mode", "ENABLED", NULL};
	char meta_big[2100];
	const char *big_hdrs[] = {"x-amz-meta-big", meta_big, NULL};
	struct server_req *r;

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/checks")), 200);
	r = run(CALL("PUT", "/checks/a", .headers = bad_md5, .body = "abc", .len = 3));
	assert_true(body_has(r, "BadDigest"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("GET", "/checks/a")), 404);
	assert_int_equal(
	    status_of(CALL("PUT", "/checks/a", .headers = good_md5, .body = "abc", .len = 3)), 200);
	r = run(CALL("PUT", "/checks/b", .headers = crc_bad, .body = "abc", .len = 3));
	assert_true(body_has(r, "BadDigest"));
	server_req_free(r);
	r = run(CALL("PUT", "/checks/b", .headers = crc_ok, .body = "abc", .len = 3));
	assert_int_equal(r->resp.status, 200);
	assert_string_equal(resp_header(r, "x-amz-checksum-crc32"), "NSRBwg==");
	server_req_free(r);
	r = run(CALL("HEAD", "/checks/b"));
	assert_null(resp_header(r, "x-amz-checksum-crc32"));
	server_req_free(r);
	r = run(CALL("HEAD", "/checks/b", .headers = mode));
	assert_string_equal(resp_header(r, "x-amz-checksum-crc32"), "NSRBwg==");
	server_req_free(r);
	/* The body does not hash to x-amz-content-sha256: nothing is stored. */
	r = run(
	    CALL("PUT", "/checks/c", .body = "abc", .len = 3, .payload_hash = SIGV4_EMPTY_SHA256));
	assert_true(body_has(r, "XAmzContentSHA256Mismatch"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("GET", "/checks/c")), 404);
	server_big_signed_body();
	assert_int_equal(status_of(CALL("PUT", "/checks/u", .body = "abc", .len = 3,
					.payload_hash = "UNSIGNED-PAYLOAD")),
			 200);
	assert_int_equal(status_of(CALL("PUT", "/checks/a", .headers = inm, .body = "x", .len = 1)),
			 412);
	memset(meta_big, 'm', sizeof(meta_big) - 1);
	meta_big[sizeof(meta_big) - 1] = 0;
	r = run(CALL("PUT", "/checks/m", .headers = big_hdrs, .body = "x", .len = 1));
	assert_true(body_has(r, "MetadataTooLarge"));
	server_req_free(r);
	/* Bigger than max_object_size (1 MiB in this test). */
	r = run(CALL("PUT", "/checks/huge",
		     .headers = (const char *const[]){"Content-Length", "2000000", NULL}));
	assert_true(body_has(r, "EntityTooLarge"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("PUT", "/nobucket/x", .body = "x", .len = 1)), 404);
	/* Chunked transfer-encoding without a length: S3 refuses PutObject. */
	r = server_req_new(srv);
	assert_int_equal(s3req_set_target(&r->s3, "PUT", "/checks/nolen"), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Host", "h"), 0);
	sign(r, ROOT_AK, ROOT_SK, SIGV4_UNSIGNED_PAYLOAD);
	assert_true(server_req_begin(r));
	assert_int_equal(r->resp.status, 411);
	server_req_free(r);
	/* More than 8 KB of request headers. */
	memset(meta_big, 'p', sizeof(meta_big) - 1);
	r = run(
	    CALL("GET", "/checks/a",
		 .headers = (const char *const[]){"x-pad-1", meta_big, "x-pad-2", meta_big,
						  "x-pad-3", meta_big, "x-pad-4", meta_big, NULL}));
	assert_true(body_has(r, "RequestHeaderSectionTooLarge"));
	server_req_free(r);
}

/* A key that is not UTF-8 is refused by every operation (not only the writes), before the op
 * runs: it never reaches an error document or a log line as it is. */
static void
test_key_not_utf8(void **state)
{
	static const char *const targets[] = {"/utf8/bad%FFkey", "/utf8/over%C0%AF",
					      "/utf8/surrogate%ED%A0%80", "/utf8/cut%E2%82"};
	static const char *const methods[] = {"GET", "HEAD", "DELETE", "PUT"};
	struct server_req *r;
	size_t i, j;

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/utf8")), 200);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++) {
			r = run(CALL(methods[j], targets[i], .body = "x", .len = 1));
			assert_int_equal(r->resp.status, 400);
			assert_int_equal(r->resp.err, S3E_INVALID_ARGUMENT);
			server_req_free(r);
		}
	}
	assert_int_equal(status_of(CALL("PUT", "/utf8/caf%C3%A9", .body = "x", .len = 1)), 200);
	assert_int_equal(status_of(CALL("GET", "/utf8/caf%C3%A9")), 200);
}

/* A request freed halfway through its body leaves nothing behind. */
static void
test_put_abort(void **state)
{
	struct server_req *r;
	char hash[65];

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/aborts")), 200);
	r = server_req_new(srv);
	assert_int_equal(s3req_set_target(&r->s3, "PUT", "/aborts/half"), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Host", "h"), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Content-Length", "6"), 0);
	sigv4_sha256_hex("abcdef", 6, hash);
	sign(r, ROOT_AK, ROOT_SK, hash);
	assert_false(server_req_begin(r));
	server_req_body(r, (const uint8_t *)"abc", 3);
	server_req_free(r);
	assert_int_equal(status_of(CALL("GET", "/aborts/half")), 404);
	assert_int_equal(status_of(CALL("DELETE", "/aborts")), 204);
}

static void
put_small(const char *target)
{
	assert_int_equal(status_of(CALL("PUT", target, .body = "1", .len = 1)), 200);
}

/* Lists target and checks the body for each needle (NULL-terminated) in order. */
static void
list_expect(const char *target, const char *const *needles)
{
	struct server_req *r = run(CALL("GET", target));
	const char *p;
	size_t i;

	assert_int_equal(r->resp.status, 200);
	p = (const char *)r->resp.body.p;
	for (i = 0; needles[i]; i++) {
		const char *q = strstr(p, needles[i]);

		if (!q)
			fail_msg("%s: no %s after offset %zu in %s", target, needles[i],
				 (size_t)(p - (const char *)r->resp.body.p), r->resp.body.p);
		p = q + strlen(needles[i]);
	}
	server_req_free(r);
}

static void
test_list(void **state)
{
	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/lists")), 200);
	put_small("/lists/a.txt");
	put_small("/lists/d1/x");
	put_small("/lists/d1/y");
	put_small("/lists/d2/z");
	put_small("/lists/e%20f");
	put_small("/lists/p/q/r");

	list_expect("/lists?list-type=2",
		    (const char *const[]){"<KeyCount>6</KeyCount>", "<IsTruncated>false",
					  "<Key>a.txt</Key>", "<Key>d1/x</Key>", "<Key>p/q/r</Key>",
					  NULL});
	list_expect("/lists?list-type=2&delimiter=%2F",
		    (const char *const[]){"<KeyCount>5</KeyCount>", "<Key>a.txt</Key>",
					  "<Key>e f</Key>", "<Prefix>d1/</Prefix>",
					  "<Prefix>d2/</Prefix>", "<Prefix>p/</Prefix>", NULL});
	/* Page 1 of 2: a.txt, d1/; the token resumes after the whole d1/ prefix. */
	list_expect("/lists?list-type=2&delimiter=%2F&max-keys=2",
		    (const char *const[]){"<IsTruncated>true",
					  "<NextContinuationToken>ZDEv</NextContinuationToken>",
					  "<Key>a.txt</Key>", "<Prefix>d1/</Prefix>", NULL});
	list_expect("/lists?list-type=2&delimiter=%2F&max-keys=2&continuation-token=ZDEv",
		    (const char *const[]){"<IsTruncated>true", "<Prefix>d2/</Prefix>", NULL});
	list_expect("/lists?list-type=2&prefix=d1%2F&start-after=d1%2Fx",
		    (const char *const[]){"<KeyCount>1</KeyCount>", "<Key>d1/y</Key>", NULL});
	list_expect("/lists?marker=d2%2Fz",
		    (const char *const[]){"<Marker>d2/z</Marker>", "<Key>e f</Key>",
					  "<Key>p/q/r</Key>", NULL});
	list_expect(
	    "/lists?list-type=2&prefix=e&encoding-type=url",
	    (const char *const[]){"<EncodingType>url</EncodingType>", "<Key>e%20f</Key>", NULL});
	list_expect("/lists?list-type=2&prefix=p%2F&delimiter=%2F",
		    (const char *const[]){"<KeyCount>1</KeyCount>", "<Prefix>p/q/</Prefix>", NULL});
	assert_int_equal(status_of(CALL("GET", "/lists?list-type=2&max-keys=x")), 400);
	assert_int_equal(status_of(CALL("GET", "/lists?list-type=2&continuation-token=%21%21")),
			 400);
	assert_int_equal(status_of(CALL("GET", "/nolist?list-type=2")), 404);
	assert_int_equal(status_of(CALL("DELETE", "/lists")), 409);
}

static void
test_copy(void **state)
{
	static const char *const src[] = {"x-amz-copy-source", "/copies/src%20key", NULL};
	static const char *const replace[] = {"x-amz-copy-source",
					      "copies/src%20key",
					      "x-amz-metadata-directive",
					      "REPLACE",
					      "x-amz-meta-new",
					      "yes",
					      NULL};
	static const char *const cond[] = {"x-amz-copy-source", "copies/src%20key",
					   "x-amz-copy-source-if-match", "\"nope\"", NULL};
	static const char *const meta[] = {"x-amz-meta-old", "1", NULL};
	static const char *const missing[] = {"x-amz-copy-source", "copies/none", NULL};
	struct server_req *r;

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/copies")), 200);
	assert_int_equal(
	    status_of(CALL("PUT", "/copies/src%20key", .headers = meta, .body = "data", .len = 4)),
	    200);
	r = run(CALL("PUT", "/copies/dst", .headers = src));
	assert_int_equal(r->resp.status, 200);
	assert_true(body_has(r, "<CopyObjectResult"));
	assert_true(body_has(r, "<ETag>&quot;8d777f385d3dfec8815d20f7496026dc&quot;</ETag>"));
	server_req_free(r);
	r = run(CALL("HEAD", "/copies/dst"));
	assert_string_equal(resp_header(r, "x-amz-meta-old"), "1");
	server_req_free(r);
	r = run(CALL("PUT", "/copies/src%20key", .headers = src));
	assert_true(body_has(r, "InvalidRequest"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("PUT", "/copies/dst", .headers = replace)), 200);
	r = run(CALL("HEAD", "/copies/dst"));
	assert_string_equal(resp_header(r, "x-amz-meta-new"), "yes");
	assert_null(resp_header(r, "x-amz-meta-old"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("PUT", "/copies/dst", .headers = cond)), 412);
	assert_int_equal(status_of(CALL("PUT", "/copies/dst", .headers = missing)), 404);
}

/* Buckets belong to their creator; root may use all of them. */
static void
test_access(void **state)
{
	struct server_req *r;

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/rootbkt")), 200);
	assert_int_equal(status_of(CALL("PUT", "/alicebkt", .ak = ALICE_AK, .sk = ALICE_SK)), 200);
	put_small("/rootbkt/k");
	r = run(CALL("GET", "/rootbkt/k", .ak = ALICE_AK, .sk = ALICE_SK));
	assert_true(body_has(r, "AccessDenied"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("PUT", "/rootbkt/k2", .body = "x", .len = 1, .ak = ALICE_AK,
					.sk = ALICE_SK)),
			 403);
	assert_int_equal(
	    status_of(CALL("GET", "/rootbkt?list-type=2", .ak = ALICE_AK, .sk = ALICE_SK)), 403);
	assert_int_equal(status_of(CALL("DELETE", "/rootbkt", .ak = ALICE_AK, .sk = ALICE_SK)),
			 403);
	r = run(CALL("PUT", "/rootbkt", .ak = ALICE_AK, .sk = ALICE_SK));
	assert_true(body_has(r, "BucketAlreadyExists"));
	server_req_free(r);
	r = run(CALL("GET", "/", .ak = ALICE_AK, .sk = ALICE_SK));
	assert_true(body_has(r, "<Name>alicebkt</Name>"));
	assert_false(body_has(r, "<Name>rootbkt</Name>"));
	server_req_free(r);
	/* Root sees and uses alice's bucket. */
	put_small("/alicebkt/from-root");
	r = run(CALL("GET", "/"));
	assert_true(body_has(r, "<Name>alicebkt</Name>"));
	server_req_free(r);
}

static void
test_delete_objects(void **state)
{
	static const char xml[] = "<Delete><Object><Key>a</Key></Object><Object><Key>b</Key>"
				  "</Object><Object><Key>none</Key></Object></Delete>";
	const char *hdrs[] = {"Content-MD5", NULL, NULL};
	uint8_t digest[16];
	char b64[32];
	struct server_req *r;

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/dels")), 200);
	put_small("/dels/a");
	put_small("/dels/b");
	put_small("/dels/c");
	assert_int_equal(EVP_Digest(xml, sizeof(xml) - 1, digest, NULL, EVP_md5(), NULL), 1);
	base64_encode(digest, sizeof(digest), b64);
	hdrs[1] = b64;
	r = run(CALL("POST", "/dels?delete", .body = xml, .len = sizeof(xml) - 1));
	assert_true(body_has(r, "InvalidRequest")); /* no Content-MD5 or checksum */
	server_req_free(r);
	r = run(CALL("POST", "/dels?delete", .headers = hdrs, .body = xml, .len = sizeof(xml) - 1));
	assert_int_equal(r->resp.status, 200);
	assert_true(body_has(r, "<Deleted><Key>a</Key></Deleted>"));
	assert_true(body_has(r, "<Deleted><Key>none</Key></Deleted>"));
	server_req_free(r);
	assert_int_equal(status_of(CALL("GET", "/dels/a")), 404);
	assert_int_equal(status_of(CALL("GET", "/dels/c")), 200);
	/* Quiet mode lists only failures; a version other than null is one. */
	{
		static const char quiet[] =
		    "<Delete><Quiet>true</Quiet><Object><Key>c</Key></Object>"
		    "<Object><Key>c</Key><VersionId>v1</VersionId></Object>"
		    "</Delete>";

		assert_int_equal(
		    EVP_Digest(quiet, sizeof(quiet) - 1, digest, NULL, EVP_md5(), NULL), 1);
		base64_encode(digest, sizeof(digest), b64);
		r = run(CALL("POST", "/dels?delete", .headers = hdrs, .body = quiet,
			     .len = sizeof(quiet) - 1));
		assert_int_equal(r->resp.status, 200);
		assert_false(body_has(r, "<Deleted>"));
		assert_true(
		    body_has(r, "<Error><Key>c</Key><VersionId>v1</VersionId><Code>NoSuchVersion"));
		server_req_free(r);
	}
	assert_int_equal(status_of(CALL("GET", "/dels/c")), 404);
}

/* A presigned GET: query-string SigV4 with an expiry. */
static int
presigned_status(const char *path, int expires, int64_t now)
{
	struct server_req *r = server_req_new(srv);
	uint8_t key[SIGV4_KEY_LEN], sig[SIGV4_KEY_LEN];
	char target[512], sighex[2 * SIGV4_KEY_LEN + 1];
	struct sigv4_request req;
	struct sigv4_auth a;
	enum s3_error e;
	int status;

	snprintf(target, sizeof(target),
		 "%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" ROOT_AK
		 "%%2F20260101%%2Fus-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=" AMZ_DATE
		 "&X-Amz-Expires=%d&X-Amz-SignedHeaders=host",
		 path, expires);
	assert_int_equal(s3req_set_target(&r->s3, "GET", target), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Host", "127.0.0.1:9000"), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(sigv4_parse_query(r->s3.params.v, r->s3.params.n, &a, &e), CAIRN_E_INVAL);
	a.presigned = true;
	snprintf(a.access_key, sizeof(a.access_key), ROOT_AK);
	memcpy(a.date, AMZ_DATE, 8);
	snprintf(a.region, sizeof(a.region), "us-east-1");
	snprintf(a.service, sizeof(a.service), "s3");
	snprintf(a.signed_headers, sizeof(a.signed_headers), "host");
	snprintf(a.amz_date, sizeof(a.amz_date), AMZ_DATE);
	a.expires = (uint32_t)expires;
	sigv4_signing_key(ROOT_SK, strlen(ROOT_SK), a.date, a.region, a.service, key);
	req = (struct sigv4_request){.method = "GET",
				     .path = r->s3.target,
				     .path_len = r->s3.path_len,
				     .params = r->s3.params.v,
				     .n_params = r->s3.params.n,
				     .headers = r->s3.headers,
				     .n_headers = r->s3.n_headers,
				     .payload_hash = SIGV4_UNSIGNED_PAYLOAD};
	assert_int_equal(sigv4_signature(&req, &a, SIGV4_URI_NORMALIZED, key, sig, &e), 0);
	hex_encode(sig, sizeof(sig), sighex);
	server_req_free(r);

	r = server_req_new(srv);
	snprintf(target + strlen(target), sizeof(target) - strlen(target), "&X-Amz-Signature=%s",
		 sighex);
	assert_int_equal(s3req_set_target(&r->s3, "GET", target), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Host", "127.0.0.1:9000"), 0);
	fake_now = now;
	if (!server_req_begin(r))
		server_req_end(r);
	fake_now = NOW;
	status = r->resp.status;
	server_req_free(r);
	return status;
}

static void
test_presigned(void **state)
{
	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/presign")), 200);
	put_small("/presign/k");
	assert_int_equal(presigned_status("/presign/k", 60, NOW + 30), 200);
	assert_int_equal(presigned_status("/presign/k", 60, NOW + 61), 403);
	assert_int_equal(presigned_status("/presign/nokey", 60, NOW), 404);
}

/* Runs a SigV2 header-signed request whose StringToSign names resource, on server s. */
static int
sigv2_status(struct server *s, const char *method, const char *target, const char *host,
	     const char *resource)
{
	struct server_req *r = server_req_new(s);
	static const char date[] = "Thu, 01 Jan 2026 00:00:00 GMT";
	char sts[256], authz[128], b64[32];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int status;

	snprintf(sts, sizeof(sts), "%s\n\n\n%s\n%s", method, date, resource);
	assert_non_null(HMAC(EVP_sha1(), ROOT_SK, (int)strlen(ROOT_SK), (const uint8_t *)sts,
			     strlen(sts), mac, &maclen));
	base64_encode(mac, maclen, b64);
	snprintf(authz, sizeof(authz), "AWS %s:%s", ROOT_AK, b64);
	assert_int_equal(s3req_set_target(&r->s3, method, target), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Host", host), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Date", date), 0);
	assert_int_equal(s3req_add_header(&r->s3, "Authorization", authz), 0);
	if (!server_req_begin(r))
		server_req_end(r);
	status = r->resp.status;
	server_req_free(r);
	return status;
}

static void
test_sigv2(void **state)
{
	struct server_config sc = {"us-east-1", "s3.test", ROOT_AK, ROOT_SK, 1u << 20};
	struct server *vh;

	(void)state;
	assert_int_equal(status_of(CALL("PUT", "/sigv2")), 200);
	put_small("/sigv2/k%20x");
	assert_int_equal(sigv2_status(srv, "GET", "/sigv2/k%20x", "h", "/sigv2/k%20x"), 200);
	assert_int_equal(sigv2_status(srv, "GET", "/sigv2/k%20x", "h", "/sigv2/other"), 403);
	/* botocore signs a bare bucket path as "/bucket/". */
	assert_int_equal(sigv2_status(srv, "GET", "/sigv2", "h", "/sigv2/"), 200);
	assert_int_equal(sigv2_status(srv, "GET", "/sigv2", "h", "/sigv2"), 200);
	/* Virtual-hosted: the resource names the bucket. */
	assert_int_equal(server_new(&sc, st, &vh), 0);
	vh->now = test_now;
	assert_int_equal(sigv2_status(vh, "GET", "/k%20x", "sigv2.s3.test", "/sigv2/k%20x"), 200);
	assert_int_equal(sigv2_status(vh, "GET", "/k%20x", "sigv2.s3.test", "/k%20x"), 403);
	server_free(vh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buckets),	   cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_put_get),	   cmocka_unit_test(test_put_checks),
	    cmocka_unit_test(test_put_abort),	   cmocka_unit_test(test_list),
	    cmocka_unit_test(test_copy),	   cmocka_unit_test(test_access),
	    cmocka_unit_test(test_delete_objects), cmocka_unit_test(test_presigned),
	    cmocka_unit_test(test_sigv2),	   cmocka_unit_test(test_key_not_utf8),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
