#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn/err.h"
#include "cairn/s3req.h"

void
s3req_init(struct s3req *r)
{
	memset(r, 0, sizeof(*r));
	/* Room for the encoded form: urlenc_decode() reserves the input length before decoding;
	 * the decoded length is checked against S3REQ_KEY_MAX afterwards. */
	buf_init(&r->key, S3REQ_TARGET_MAX);
}

static int
s3req_decode_key(struct s3req *r, const char *p, size_t len)
{
	int rc = urlenc_decode(p, len, 0, &r->key);

	if (rc == 0 && r->key.len > S3REQ_KEY_MAX)
		return CAIRN_E_TOOBIG;
	return rc;
}

void
s3req_fini(struct s3req *r)
{
	size_t i;

	for (i = 0; i < r->n_headers; i++) {
		free((char *)r->headers[i].name);
		free((char *)r->headers[i].value);
	}
	free(r->headers);
	free(r->target);
	urlenc_query_fini(&r->params);
	buf_fini(&r->key);
	s3req_init(r);
}

int
s3req_set_target(struct s3req *r, const char *method, const char *target)
{
	size_t mlen = strlen(method), tlen = strlen(target);
	const char *q;
	int rc;

	if (mlen > S3REQ_METHOD_MAX || tlen > S3REQ_TARGET_MAX)
		return CAIRN_E_TOOBIG;
	if (target[0] != '/')
		return CAIRN_E_INVAL;
	memcpy(r->method, method, mlen + 1);
	free(r->target);
	urlenc_query_fini(&r->params);
	r->target = strdup(target);
	if (!r->target)
		abort();
	q = strchr(r->target, '?');
	r->path_len = q ? (size_t)(q - r->target) : tlen;
	r->query = q ? q + 1 : NULL;
	r->query_len = q ? tlen - r->path_len - 1 : 0;
	if (!q)
		return 0;
	rc = urlenc_query_parse(r->query, r->query_len, &r->params);
	return rc;
}

static char *
s3req_strdup(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		abort();
	memcpy(p, s, len);
	p[len] = 0;
	return p;
}

int
s3req_add_header(struct s3req *r, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value), i;
	struct kvpair *kv;
	char *lname;

	if (r->n_headers >= S3REQ_HEADERS_MAX ||
	    nlen + vlen > S3REQ_HEADER_BYTES_MAX - r->header_bytes)
		return CAIRN_E_TOOBIG;
	if (!r->headers) {
		r->headers = calloc(S3REQ_HEADERS_MAX, sizeof(*r->headers));
		if (!r->headers)
			abort();
	}
	lname = s3req_strdup(name, nlen);
	for (i = 0; i < nlen; i++)
		if (lname[i] >= 'A' && lname[i] <= 'Z')
			lname[i] = (char)(lname[i] - 'A' + 'a');
	kv = &r->headers[r->n_headers++];
	kv->name = lname;
	kv->name_len = nlen;
	kv->value = s3req_strdup(value, vlen);
	kv->value_len = vlen;
	r->header_bytes += nlen + vlen;
	return 0;
}

const char *
s3req_header(const struct s3req *r, const char *lname)
{
	size_t i;

	for (i = 0; i < r->n_headers; i++)
		if (strcmp(r->headers[i].name, lname) == 0)
			return r->headers[i].value;
	return NULL;
}

const char *
s3req_param(const struct s3req *r, const char *name)
{
	const struct kvpair *kv = urlenc_query_find(&r->params, name);

	return kv ? kv->value : NULL;
}

/* Returns the bucket prefix length when host (port stripped) is "<bucket>.<domain>", else 0. */
static size_t
s3req_vhost_bucket_len(const char *host, const char *domain)
{
	size_t hlen, dlen = strlen(domain);
	const char *colon;

	if (!host || dlen == 0)
		return 0;
	colon = strrchr(host, ':');
	hlen = colon && !strchr(host, ']') ? (size_t)(colon - host) : strlen(host);
	if (hlen < dlen + 2 || host[hlen - dlen - 1] != '.')
		return 0;
	if (strncasecmp(host + hlen - dlen, domain, dlen) != 0)
		return 0;
	return hlen - dlen - 1;
}

static int
s3req_set_bucket(struct s3req *r, const char *p, size_t len)
{
	struct buf b;
	int rc;

	buf_init(&b, S3REQ_BUCKET_SEGMENT_MAX);
	rc = urlenc_decode(p, len, 0, &b);
	if (rc == 0 && b.len)
		memcpy(r->bucket, b.p, b.len + 1);
	buf_fini(&b);
	return rc == CAIRN_E_TOOBIG ? CAIRN_E_INVAL : rc;
}

int
s3req_resolve(struct s3req *r, const char *domain)
{
	const char *path = r->target, *slash;
	size_t path_len = r->path_len, blen;
	int rc;

	r->bucket[0] = 0;
	buf_reset(&r->key);
	blen = s3req_vhost_bucket_len(s3req_header(r, "host"), domain);
	r->virtual_host = blen > 0;
	if (r->virtual_host) {
		const char *host = s3req_header(r, "host");

		if (blen > S3REQ_BUCKET_SEGMENT_MAX)
			return CAIRN_E_INVAL;
		memcpy(r->bucket, host, blen);
		r->bucket[blen] = 0;
		return s3req_decode_key(r, path + 1, path_len - 1);
	}
	slash = memchr(path + 1, '/', path_len - 1);
	blen = slash ? (size_t)(slash - path - 1) : path_len - 1;
	rc = s3req_set_bucket(r, path + 1, blen);
	if (rc < 0 || !slash)
		return rc;
	return s3req_decode_key(r, slash + 1, path_len - blen - 2);
}
