#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <openssl/crypto.h>

#include "cairn/base64.h"
#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/log.h"
#include "cairn/ops.h"
#include "cairn/s3name.h"
#include "cairn/server.h"

static int64_t
server_now_real(void)
{
	return (int64_t)time(NULL);
}

static int
server_copy(char *dst, size_t size, const char *src, bool nonempty)
{
	size_t len = src ? strlen(src) : 0;

	if (len >= size || (nonempty && len == 0))
		return CAIRN_E_INVAL;
	if (len)
		memcpy(dst, src, len);
	dst[len] = 0;
	return 0;
}

int
server_new(const struct server_config *cfg, struct store *st, struct server **out)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		abort();
	if (server_copy(srv->region, sizeof(srv->region), cfg->region, true) < 0 ||
	    server_copy(srv->domain, sizeof(srv->domain), cfg->domain, false) < 0 ||
	    server_copy(srv->root_access_key, sizeof(srv->root_access_key), cfg->root_access_key,
			true) < 0 ||
	    server_copy(srv->root_secret_key, sizeof(srv->root_secret_key), cfg->root_secret_key,
			true) < 0) {
		server_free(srv);
		return CAIRN_E_INVAL;
	}
	srv->st = st;
	srv->max_object_size = cfg->max_object_size;
	srv->now = server_now_real;
	*out = srv;
	return 0;
}

void
server_free(struct server *srv)
{
	if (!srv)
		return;
	OPENSSL_cleanse(srv->root_secret_key, sizeof(srv->root_secret_key));
	free(srv);
}

/* ---- responses ---- */

int
server_resp_header(struct server_resp *resp, const char *name, const char *value)
{
	size_t nlen = strlen(name) + 1, vlen = strlen(value) + 1;
	int rc;

	rc = buf_reserve(&resp->headers, nlen + vlen);
	if (rc < 0)
		return rc;
	buf_append(&resp->headers, name, nlen);
	return buf_append(&resp->headers, value, vlen);
}

int
server_resp_header_slice(struct server_resp *resp, struct slice name, struct slice value)
{
	static const uint8_t nul = 0;
	int rc;

	if (memchr(name.p, 0, name.len) || memchr(value.p, 0, value.len))
		return CAIRN_E_INVAL;
	rc = buf_reserve(&resp->headers, name.len + value.len + 2);
	if (rc < 0)
		return rc;
	buf_append(&resp->headers, name.p, name.len);
	buf_append(&resp->headers, &nul, 1);
	buf_append(&resp->headers, value.p, value.len);
	return buf_append(&resp->headers, &nul, 1);
}

bool
server_resp_header_next(const struct server_resp *resp, size_t *pos, const char **name,
			const char **value)
{
	const char *base = (const char *)resp->headers.p;

	if (*pos >= resp->headers.len)
		return false;
	*name = base + *pos;
	*pos += strlen(*name) + 1;
	*value = base + *pos;
	*pos += strlen(*value) + 1;
	return true;
}

struct store_get *
server_resp_take_get(struct server_resp *resp)
{
	struct store_get *g = resp->get;

	resp->get = NULL;
	return g;
}

static void
server_resp_reset(struct server_resp *resp)
{
	resp->status = 0;
	resp->err = S3E_OK;
	buf_reset(&resp->headers);
	buf_reset(&resp->body);
	store_get_close(resp->get);
	resp->get = NULL;
	resp->length = 0;
}

/* ---- requests ---- */

static void
server_random_ids(struct server_req *r)
{
	uint8_t rnd[8 + 18];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);

		if (n < 0 && errno != EINTR)
			abort();
		if (n > 0)
			got += (size_t)n;
	}
	hex_encode(rnd, 8, r->request_id);
	base64_encode(rnd + 8, 18, r->host_id);
}

struct server_req *
server_req_new(struct server *srv)
{
	struct server_req *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->srv = srv;
	r->op = ROUTER_OP_COUNT; /* not routed yet */
	s3req_init(&r->s3);
	buf_init(&r->body, SERVER_XML_BODY_MAX);
	buf_init(&r->resp.headers, SERVER_RESP_HEADERS_MAX);
	buf_init(&r->resp.body, SERVER_RESP_BODY_MAX);
	server_random_ids(r);
	return r;
}

void
server_req_free(struct server_req *r)
{
	if (!r)
		return;
	if (r->op_state_free)
		r->op_state_free(r->op_state);
	if (r->payload_live)
		payload_fini(&r->payload);
	auth_result_wipe(&r->auth);
	store_get_close(r->resp.get);
	buf_fini(&r->resp.headers);
	buf_fini(&r->resp.body);
	buf_fini(&r->body);
	s3req_fini(&r->s3);
	free(r);
}

/* The Resource element of error documents: the request path as received. */
static void
server_resource(const struct server_req *r, char *out, size_t n)
{
	size_t len = r->s3.target ? r->s3.path_len : 0;

	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(out, r->s3.target, len);
	out[len] = 0;
}

int
server_req_fail(struct server_req *r, enum s3_error e, const char *message)
{
	struct s3err_extra extra[2];
	size_t n = 0;
	char resource[1024];

	server_resp_reset(&r->resp);
	r->resp.status = s3err_status(e);
	r->resp.err = e;
	if (!s3err_has_body(e))
		return r->resp.status;
	if (e == S3E_NO_SUCH_BUCKET || e == S3E_BUCKET_NOT_EMPTY ||
	    e == S3E_BUCKET_ALREADY_EXISTS || e == S3E_BUCKET_ALREADY_OWNED_BY_YOU)
		extra[n++] = (struct s3err_extra){"BucketName", r->s3.bucket};
	if (e == S3E_NO_SUCH_KEY && r->s3.key.len)
		extra[n++] = (struct s3err_extra){"Key", (const char *)r->s3.key.p};
	server_resource(r, resource, sizeof(resource));
	server_resp_header(&r->resp, "Content-Type", "application/xml");
	if (s3err_render(&r->resp.body, e, message, resource, r->request_id, extra, n) < 0) {
		buf_reset(&r->resp.body);
		s3err_render(&r->resp.body, e, NULL, NULL, r->request_id, NULL, 0);
	}
	return r->resp.status;
}

int
server_req_fail_rc(struct server_req *r, int rc)
{
	enum s3_error e = s3err_from_cairn(rc);

	if (e == S3E_INTERNAL_ERROR)
		log_error("request %s: %s", r->request_id, cairn_strerror(rc));
	return server_req_fail(r, e, NULL);
}

struct buf *
server_req_xml(struct server_req *r, int status)
{
	server_resp_reset(&r->resp);
	r->resp.status = status;
	server_resp_header(&r->resp, "Content-Type", "application/xml");
	return &r->resp.body;
}

/* ---- authentication ---- */

/* auth_lookup_fn: the root pair from the configuration, else a user from the index. */
static int
server_lookup(void *arg, const char *access_key, struct auth_identity *out)
{
	struct server *srv = arg;
	struct index_txn *txn;
	struct index_user u;
	int rc;

	if (strcmp(access_key, srv->root_access_key) == 0) {
		snprintf(out->user, sizeof(out->user), "%s", "root");
		out->is_root = true;
		memcpy(out->secret, srv->root_secret_key, sizeof(srv->root_secret_key));
		return 0;
	}
	rc = index_read_begin(store_index(srv->st), &txn);
	if (rc < 0)
		return rc;
	rc = index_user_get(txn, access_key, &u);
	index_read_end(txn);
	if (rc < 0)
		return rc;
	snprintf(out->user, sizeof(out->user), "%s", u.name);
	snprintf(out->secret, sizeof(out->secret), "%s", u.secret_key);
	OPENSSL_cleanse(&u, sizeof(u));
	return 0;
}

/* Parses an optional decimal header; -1 when absent. Returns 0 or CAIRN_E_INVAL. */
static int
server_header_u64(const struct server_req *r, const char *name, int64_t *out)
{
	const char *v = s3req_header(&r->s3, name);
	unsigned long long n;
	char *end;

	*out = -1;
	if (!v)
		return 0;
	if (*v < '0' || *v > '9')
		return CAIRN_E_INVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n > INT64_MAX)
		return CAIRN_E_INVAL;
	*out = (int64_t)n;
	return 0;
}

static bool
server_req_authenticate(struct server_req *r)
{
	struct server *srv = r->srv;
	enum s3_error e = S3E_INTERNAL_ERROR;
	int64_t decoded;

	if (auth_check(&r->s3, srv->region, srv->now(), server_lookup, srv, &r->auth, &e) < 0) {
		server_req_fail(r, e, NULL);
		return false;
	}
	r->authed = true;
	if (server_header_u64(r, "x-amz-decoded-content-length", &decoded) < 0) {
		server_req_fail(r, S3E_INVALID_ARGUMENT, "Invalid x-amz-decoded-content-length");
		return false;
	}
	r->payload_live = true;
	if (payload_init(&r->payload, &r->auth, decoded) < 0) {
		server_req_fail(r, r->payload.err, NULL);
		return false;
	}
	return true;
}

/* ---- the request's life ---- */

/* S3 limits the request's header section to 8 KB (names, values, ": " and CRLF). */
static bool
server_headers_too_large(const struct s3req *q)
{
	size_t i, total = 0;

	for (i = 0; i < q->n_headers; i++)
		total += q->headers[i].name_len + q->headers[i].value_len + 4;
	return total > SERVER_HEADER_SECTION_MAX;
}

bool
server_req_begin(struct server_req *r)
{
	int rc = s3req_resolve(&r->s3, r->srv->domain);

	if (server_headers_too_large(&r->s3)) {
		server_req_fail(r, S3E_REQUEST_HEADER_SECTION_TOO_LARGE, NULL);
		return true;
	}
	if (rc < 0) {
		server_req_fail(r, rc == CAIRN_E_TOOBIG ? S3E_KEY_TOO_LONG : S3E_INVALID_URI, NULL);
		return true;
	}
	/* Every operation, not only the writes: a key that is not UTF-8 would otherwise reach
	 * error documents and logs as it is. */
	if (r->s3.key.len && !s3name_is_utf8((const char *)r->s3.key.p, r->s3.key.len)) {
		server_req_fail(r, S3E_INVALID_ARGUMENT, "Invalid object key");
		return true;
	}
	r->op = router_route(&r->s3);
	r->resp.head = strcmp(r->s3.method, "HEAD") == 0;
	if (r->op == ROUTER_OP_HEALTH) {
		ops_health(r);
		return true;
	}
	if (!server_req_authenticate(r))
		return true;
	switch (r->op) {
	case ROUTER_OP_NOT_IMPLEMENTED:
		server_req_fail(r, S3E_NOT_IMPLEMENTED, NULL);
		return true;
	case ROUTER_OP_METHOD_NOT_ALLOWED:
		server_req_fail(r, S3E_METHOD_NOT_ALLOWED, NULL);
		return true;
	case ROUTER_OP_PUT_OBJECT:
		return ops_put_object_begin(r) < 0;
	case ROUTER_OP_UPLOAD_PART:
		return ops_upload_part_begin(r) < 0;
	case ROUTER_OP_COMPLETE_MULTIPART:
		return ops_complete_multipart_begin(r) < 0;
	case ROUTER_OP_CREATE_BUCKET:
	case ROUTER_OP_DELETE_OBJECTS:
		r->body_mode = SERVER_BODY_BUFFER;
		return false;
	default:
		r->body_mode = SERVER_BODY_DISCARD;
		return false;
	}
}

static int
server_req_sink(void *arg, const uint8_t *p, size_t len)
{
	struct server_req *r = arg;

	switch (r->body_mode) {
	case SERVER_BODY_DISCARD:
		return 0;
	case SERVER_BODY_BUFFER:
		if (buf_append(&r->body, p, len) == 0)
			return 0;
		server_req_fail(r, S3E_MAX_MESSAGE_LENGTH_EXCEEDED, NULL);
		return CAIRN_E_TOOBIG;
	case SERVER_BODY_STREAM:
		return r->sink(r, p, len);
	}
	return CAIRN_E_INVAL;
}

void
server_req_body(struct server_req *r, const uint8_t *p, size_t len)
{
	int rc;

	/* A response already decided (an error) means the rest of the body is dropped. */
	if (r->resp.status || !r->payload_live)
		return;
	rc = payload_feed(&r->payload, p, len, server_req_sink, r);
	if (rc < 0 && !r->resp.status)
		server_req_fail(r, r->payload.err != S3E_OK ? r->payload.err : S3E_INTERNAL_ERROR,
				NULL);
}

static void
server_req_dispatch_multipart(struct server_req *r)
{
	switch (r->op) {
	case ROUTER_OP_CREATE_MULTIPART:
		ops_create_multipart(r);
		break;
	case ROUTER_OP_UPLOAD_PART:
		ops_upload_part_end(r);
		break;
	case ROUTER_OP_UPLOAD_PART_COPY:
		ops_upload_part_copy(r);
		break;
	case ROUTER_OP_COMPLETE_MULTIPART:
		ops_complete_multipart(r);
		break;
	case ROUTER_OP_ABORT_MULTIPART:
		ops_abort_multipart(r);
		break;
	case ROUTER_OP_LIST_PARTS:
		ops_list_parts(r);
		break;
	case ROUTER_OP_LIST_MULTIPART:
		ops_list_multipart(r);
		break;
	default:
		server_req_fail(r, S3E_NOT_IMPLEMENTED, NULL);
		break;
	}
}

static void
server_req_dispatch(struct server_req *r)
{
	switch (r->op) {
	case ROUTER_OP_LIST_BUCKETS:
		ops_list_buckets(r);
		break;
	case ROUTER_OP_CREATE_BUCKET:
		ops_create_bucket(r);
		break;
	case ROUTER_OP_HEAD_BUCKET:
		ops_head_bucket(r);
		break;
	case ROUTER_OP_DELETE_BUCKET:
		ops_delete_bucket(r);
		break;
	case ROUTER_OP_GET_LOCATION:
		ops_get_bucket_location(r);
		break;
	case ROUTER_OP_GET_VERSIONING:
		ops_get_bucket_versioning(r);
		break;
	case ROUTER_OP_LIST_OBJECTS:
	case ROUTER_OP_LIST_OBJECTS_V2:
		ops_list_objects(r, r->op == ROUTER_OP_LIST_OBJECTS_V2);
		break;
	case ROUTER_OP_DELETE_OBJECTS:
		ops_delete_objects(r);
		break;
	case ROUTER_OP_PUT_OBJECT:
		ops_put_object_end(r);
		break;
	case ROUTER_OP_COPY_OBJECT:
		ops_copy_object(r);
		break;
	case ROUTER_OP_GET_OBJECT:
	case ROUTER_OP_HEAD_OBJECT:
		ops_get_object(r, r->op == ROUTER_OP_HEAD_OBJECT);
		break;
	case ROUTER_OP_DELETE_OBJECT:
		ops_delete_object(r);
		break;
	case ROUTER_OP_ADMIN_GC:
		ops_admin_gc(r);
		break;
	case ROUTER_OP_ADMIN_GC_STATUS:
		ops_admin_gc_status(r);
		break;
	case ROUTER_OP_ADMIN_SCRUB:
		ops_admin_scrub_status(r);
		break;
	default:
		server_req_dispatch_multipart(r);
		break;
	}
}

void
server_req_end(struct server_req *r)
{
	if (r->resp.status)
		return;
	if (r->payload_live && payload_finish(&r->payload) < 0) {
		server_req_fail(r, r->payload.err, NULL);
		return;
	}
	server_req_dispatch(r);
	if (!r->resp.status)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
}
