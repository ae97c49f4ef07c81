/*
 * s3req.h — one S3 request as received: method, raw request-target, query parameters, headers,
 * and the bucket and key they address. Pure: no I/O, no globals.
 *
 * The HTTP layer copies everything it gets from libmicrohttpd into a struct s3req (nothing is
 * borrowed from the HTTP library), then s3req_resolve() works out the bucket and key, path-style
 * ("/bucket/key") or virtual-hosted ("Host: bucket.<domain>", path "/key").
 *
 * Every size a client controls is capped: the target (S3REQ_TARGET_MAX), the number of headers
 * (S3REQ_HEADERS_MAX) and their total bytes (S3REQ_HEADER_BYTES_MAX), the query (urlenc.h caps).
 */
#ifndef CAIRN_S3REQ_H
#define CAIRN_S3REQ_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/buf.h"
#include "cairn/urlenc.h"

#define S3REQ_METHOD_MAX 15
#define S3REQ_TARGET_MAX 16384
#define S3REQ_HEADERS_MAX 128
#define S3REQ_HEADER_BYTES_MAX 65536
#define S3REQ_BUCKET_SEGMENT_MAX 255 /* longer first path segments are rejected outright */
#define S3REQ_KEY_MAX 1024	     /* bytes of a decoded key (S3's limit) */

struct s3req {
	char method[S3REQ_METHOD_MAX + 1]; /* "GET", "PUT" … as received */
	char *target;			   /* owned copy of the raw request-target */
	size_t path_len;		   /* target[0..path_len) is the raw path */
	const char *query;		   /* raw query after '?' (into target), or NULL */
	size_t query_len;
	struct urlenc_query params; /* decoded query parameters */
	struct kvpair *headers;	    /* names lower-cased; strings owned, NUL-terminated */
	size_t n_headers;
	size_t header_bytes;
	/* Filled by s3req_resolve(): */
	char bucket[S3REQ_BUCKET_SEGMENT_MAX + 1]; /* decoded; "" when the request names none */
	struct buf key;				   /* decoded key bytes; len 0 when none */
	bool virtual_host;			   /* the bucket came from the Host header */
};

/* Prepares an empty request. Allocates nothing. */
void s3req_init(struct s3req *r);

/* Frees everything r owns; r is empty (as after s3req_init) afterwards. */
void s3req_fini(struct s3req *r);

/* Copies the method and the raw request-target ("/path?query") and parses the query.
 * Returns 0; CAIRN_E_TOOBIG when the method, the target or the query pass their caps;
 * CAIRN_E_INVAL when the target does not start with '/' or the query has a bad escape. */
int s3req_set_target(struct s3req *r, const char *method, const char *target);

/* Copies one header (the name is lower-cased). Repeated names are kept in order. Returns 0 or
 * CAIRN_E_TOOBIG when S3REQ_HEADERS_MAX or S3REQ_HEADER_BYTES_MAX would be passed. */
int s3req_add_header(struct s3req *r, const char *name, const char *value);

/* Returns the first value of header lname (lower-case name), or NULL. Lives as long as r. */
const char *s3req_header(const struct s3req *r, const char *lname);

/* Returns the decoded value of query parameter name ("" for "?name"), or NULL. */
const char *s3req_param(const struct s3req *r, const char *name);

/*
 * Works out the bucket and key. With domain non-empty and a Host header (port stripped) of the
 * form "<bucket>.<domain>" (case-insensitive) the bucket is that prefix and the whole path is the
 * key; otherwise the first path segment is the bucket and the rest after its '/' the key. Both
 * are percent-decoded ('+' stays '+'). Returns 0; CAIRN_E_INVAL for a bad escape or %00
 * (InvalidURI), or a bucket segment longer than S3REQ_BUCKET_SEGMENT_MAX (InvalidBucketName);
 * CAIRN_E_TOOBIG for a key longer than S3REQ_KEY_MAX (KeyTooLongError).
 */
int s3req_resolve(struct s3req *r, const char *domain);

#endif
