/*
 * router.h — which S3 operation a request asks for. Pure: looks only at the method, whether a
 * bucket and a key are named, and the query parameters.
 *
 * Any query parameter the router does not know for that method and target (a subresource such as
 * ?acl, ?versioning, ?tagging, ?uploads) routes to ROUTER_OP_NOT_IMPLEMENTED, so an unsupported
 * operation is never mistaken for a supported one. Authentication parameters (X-Amz-*,
 * AWSAccessKeyId, Signature, Expires) and the SDKs' "x-id" are ignored here.
 */
#ifndef CAIRN_ROUTER_H
#define CAIRN_ROUTER_H

#include "cairn/s3req.h"

enum router_op {
	ROUTER_OP_HEALTH,	      /* GET /_cairn/health: no auth */
	ROUTER_OP_LIST_BUCKETS,	      /* GET / */
	ROUTER_OP_CREATE_BUCKET,      /* PUT /b */
	ROUTER_OP_HEAD_BUCKET,	      /* HEAD /b */
	ROUTER_OP_DELETE_BUCKET,      /* DELETE /b */
	ROUTER_OP_GET_LOCATION,	      /* GET /b?location */
	ROUTER_OP_GET_VERSIONING,     /* GET /b?versioning: always "never enabled" */
	ROUTER_OP_LIST_OBJECTS,	      /* GET /b */
	ROUTER_OP_LIST_OBJECTS_V2,    /* GET /b?list-type=2 */
	ROUTER_OP_DELETE_OBJECTS,     /* POST /b?delete */
	ROUTER_OP_PUT_OBJECT,	      /* PUT /b/k */
	ROUTER_OP_COPY_OBJECT,	      /* PUT /b/k with x-amz-copy-source */
	ROUTER_OP_GET_OBJECT,	      /* GET /b/k (?partNumber=N too) */
	ROUTER_OP_HEAD_OBJECT,	      /* HEAD /b/k */
	ROUTER_OP_DELETE_OBJECT,      /* DELETE /b/k */
	ROUTER_OP_CREATE_MULTIPART,   /* POST /b/k?uploads */
	ROUTER_OP_UPLOAD_PART,	      /* PUT /b/k?partNumber=N&uploadId=U */
	ROUTER_OP_UPLOAD_PART_COPY,   /* the same with x-amz-copy-source */
	ROUTER_OP_COMPLETE_MULTIPART, /* POST /b/k?uploadId=U */
	ROUTER_OP_ABORT_MULTIPART,    /* DELETE /b/k?uploadId=U */
	ROUTER_OP_LIST_PARTS,	      /* GET /b/k?uploadId=U */
	ROUTER_OP_LIST_MULTIPART,     /* GET /b?uploads */
	ROUTER_OP_NOT_IMPLEMENTED,    /* a valid-looking S3 request cairn does not support: 501 */
	ROUTER_OP_METHOD_NOT_ALLOWED, /* e.g. PUT / or POST /b/k with no subresource: 405 */
	ROUTER_OP_ADMIN_GC,	      /* POST /_cairn/gc: start a compaction (root only) */
	ROUTER_OP_ADMIN_GC_STATUS,    /* GET /_cairn/gc: the compactor's status (root only) */
	ROUTER_OP_ADMIN_SCRUB,	      /* GET /_cairn/scrub: the scrubber's status (root only) */
	ROUTER_OP_COUNT
};

/* Returns the operation r (after s3req_resolve()) asks for. */
enum router_op router_route(const struct s3req *r);

/* The operation's S3 name ("GetObject" …) for logs, "-" for ROUTER_OP_COUNT (not routed); static.
 */
const char *router_op_name(enum router_op op);

/* True when the operation never needs a request body (its body, if any, is read and dropped). */
bool router_op_has_body(enum router_op op);

#endif
