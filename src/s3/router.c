#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "cairn/router.h"

static const char *const router_names[ROUTER_OP_COUNT] = {
    [ROUTER_OP_HEALTH] = "Health",
    [ROUTER_OP_LIST_BUCKETS] = "ListBuckets",
    [ROUTER_OP_CREATE_BUCKET] = "CreateBucket",
    [ROUTER_OP_HEAD_BUCKET] = "HeadBucket",
    [ROUTER_OP_DELETE_BUCKET] = "DeleteBucket",
    [ROUTER_OP_GET_LOCATION] = "GetBucketLocation",
    [ROUTER_OP_GET_VERSIONING] = "GetBucketVersioning",
    [ROUTER_OP_LIST_OBJECTS] = "ListObjects",
    [ROUTER_OP_LIST_OBJECTS_V2] = "ListObjectsV2",
    [ROUTER_OP_DELETE_OBJECTS] = "DeleteObjects",
    [ROUTER_OP_PUT_OBJECT] = "PutObject",
    [ROUTER_OP_COPY_OBJECT] = "CopyObject",
    [ROUTER_OP_GET_OBJECT] = "GetObject",
    [ROUTER_OP_HEAD_OBJECT] = "HeadObject",
    [ROUTER_OP_DELETE_OBJECT] = "DeleteObject",
    [ROUTER_OP_CREATE_MULTIPART] = "CreateMultipartUpload",
    [ROUTER_OP_UPLOAD_PART] = "UploadPart",
    [ROUTER_OP_UPLOAD_PART_COPY] = "UploadPartCopy",
    [ROUTER_OP_COMPLETE_MULTIPART] = "CompleteMultipartUpload",
    [ROUTER_OP_ABORT_MULTIPART] = "AbortMultipartUpload",
    [ROUTER_OP_LIST_PARTS] = "ListParts",
    [ROUTER_OP_LIST_MULTIPART] = "ListMultipartUploads",
    [ROUTER_OP_NOT_IMPLEMENTED] = "NotImplemented",
    [ROUTER_OP_METHOD_NOT_ALLOWED] = "MethodNotAllowed",
    [ROUTER_OP_ADMIN_GC] = "AdminGc",
    [ROUTER_OP_ADMIN_GC_STATUS] = "AdminGcStatus",
    [ROUTER_OP_ADMIN_SCRUB] = "AdminScrubStatus",
};

const char *
router_op_name(enum router_op op)
{
	return op < ROUTER_OP_COUNT ? router_names[op] : "-";
}

bool
router_op_has_body(enum router_op op)
{
	return op == ROUTER_OP_CREATE_BUCKET || op == ROUTER_OP_DELETE_OBJECTS ||
	       op == ROUTER_OP_PUT_OBJECT || op == ROUTER_OP_UPLOAD_PART ||
	       op == ROUTER_OP_COMPLETE_MULTIPART;
}

/* Parameters that carry authentication (SigV4/SigV2 presigned URLs, header values presigned
 * into the query) or SDK bookkeeping, never an operation. */
static bool
router_param_is_ignored(const char *name)
{
	return strncasecmp(name, "x-amz-", 6) == 0 || strcmp(name, "AWSAccessKeyId") == 0 ||
	       strcmp(name, "Signature") == 0 || strcmp(name, "Expires") == 0 ||
	       strcmp(name, "x-id") == 0;
}

static bool
router_in_list(const char *name, const char *const *list)
{
	for (; *list; list++) {
		size_t n = strlen(*list);

		/* A trailing '*' in the list matches any suffix ("response-*"). */
		if ((*list)[n - 1] == '*' ? strncmp(name, *list, n - 1) == 0
					  : strcmp(name, *list) == 0)
			return true;
	}
	return false;
}

/* True when every parameter of r is ignorable or in allowed (NULL-terminated). */
static bool
router_params_only(const struct s3req *r, const char *const *allowed)
{
	size_t i;

	for (i = 0; i < r->params.n; i++) {
		const char *name = r->params.v[i].name;

		if (!router_param_is_ignored(name) && !router_in_list(name, allowed))
			return false;
	}
	return true;
}

static const char *const router_none[] = {NULL};
static const char *const router_service_params[] = {"max-buckets", "continuation-token", "prefix",
						    "bucket-region", NULL};
static const char *const router_list_params[] = {
    "prefix",	   "delimiter",	  "marker",    "max-keys", "encoding-type", "continuation-token",
    "start-after", "fetch-owner", "list-type", NULL};
static const char *const router_get_object_params[] = {"response-*", "versionId", "partNumber",
						       NULL};
static const char *const router_list_parts_params[] = {"uploadId", "max-parts",
						       "part-number-marker", "encoding-type", NULL};
static const char *const router_list_uploads_params[] = {
    "uploads",		"prefix",      "delimiter",	"key-marker",
    "upload-id-marker", "max-uploads", "encoding-type", NULL};
static const char *const router_part_params[] = {"partNumber", "uploadId", NULL};
static const char *const router_uploads_param[] = {"uploads", NULL};
static const char *const router_upload_id_param[] = {"uploadId", NULL};
static const char *const router_version_param[] = {"versionId", NULL};
static const char *const router_location_param[] = {"location", NULL};
static const char *const router_versioning_param[] = {"versioning", NULL};
static const char *const router_delete_param[] = {"delete", NULL};

static enum router_op
router_route_service(const struct s3req *r)
{
	if (strcmp(r->method, "GET") != 0)
		return ROUTER_OP_METHOD_NOT_ALLOWED;
	return router_params_only(r, router_service_params) ? ROUTER_OP_LIST_BUCKETS
							    : ROUTER_OP_NOT_IMPLEMENTED;
}

static enum router_op
router_route_bucket_get(const struct s3req *r)
{
	const char *lt;

	if (s3req_param(r, "location"))
		return router_params_only(r, router_location_param) ? ROUTER_OP_GET_LOCATION
								    : ROUTER_OP_NOT_IMPLEMENTED;
	if (s3req_param(r, "versioning"))
		return router_params_only(r, router_versioning_param) ? ROUTER_OP_GET_VERSIONING
								      : ROUTER_OP_NOT_IMPLEMENTED;
	if (s3req_param(r, "uploads"))
		return router_params_only(r, router_list_uploads_params)
			   ? ROUTER_OP_LIST_MULTIPART
			   : ROUTER_OP_NOT_IMPLEMENTED;
	if (!router_params_only(r, router_list_params))
		return ROUTER_OP_NOT_IMPLEMENTED;
	lt = s3req_param(r, "list-type");
	return lt && strcmp(lt, "2") == 0 ? ROUTER_OP_LIST_OBJECTS_V2 : ROUTER_OP_LIST_OBJECTS;
}

static enum router_op
router_route_bucket(const struct s3req *r)
{
	const char *m = r->method;

	if (strcmp(m, "GET") == 0)
		return router_route_bucket_get(r);
	if (strcmp(m, "POST") == 0) {
		if (s3req_param(r, "delete") && router_params_only(r, router_delete_param))
			return ROUTER_OP_DELETE_OBJECTS;
		return r->params.n ? ROUTER_OP_NOT_IMPLEMENTED : ROUTER_OP_METHOD_NOT_ALLOWED;
	}
	if (strcmp(m, "HEAD") != 0 && strcmp(m, "PUT") != 0 && strcmp(m, "DELETE") != 0)
		return ROUTER_OP_METHOD_NOT_ALLOWED;
	if (!router_params_only(r, router_none))
		return ROUTER_OP_NOT_IMPLEMENTED;
	if (m[0] == 'H')
		return ROUTER_OP_HEAD_BUCKET;
	return m[0] == 'P' ? ROUTER_OP_CREATE_BUCKET : ROUTER_OP_DELETE_BUCKET;
}

/* The multipart operations on an object, or ROUTER_OP_COUNT when r is none of them. */
static enum router_op
router_route_multipart(const struct s3req *r)
{
	const char *m = r->method;
	bool id = s3req_param(r, "uploadId") != NULL;

	if (strcmp(m, "POST") == 0 && s3req_param(r, "uploads"))
		return router_params_only(r, router_uploads_param) ? ROUTER_OP_CREATE_MULTIPART
								   : ROUTER_OP_NOT_IMPLEMENTED;
	if (!id)
		return ROUTER_OP_COUNT;
	if (strcmp(m, "PUT") == 0) {
		if (!s3req_param(r, "partNumber") || !router_params_only(r, router_part_params))
			return ROUTER_OP_NOT_IMPLEMENTED;
		return s3req_header(r, "x-amz-copy-source") ? ROUTER_OP_UPLOAD_PART_COPY
							    : ROUTER_OP_UPLOAD_PART;
	}
	if (strcmp(m, "GET") == 0)
		return router_params_only(r, router_list_parts_params) ? ROUTER_OP_LIST_PARTS
								       : ROUTER_OP_NOT_IMPLEMENTED;
	if (!router_params_only(r, router_upload_id_param))
		return ROUTER_OP_NOT_IMPLEMENTED;
	if (strcmp(m, "POST") == 0)
		return ROUTER_OP_COMPLETE_MULTIPART;
	return strcmp(m, "DELETE") == 0 ? ROUTER_OP_ABORT_MULTIPART : ROUTER_OP_METHOD_NOT_ALLOWED;
}

static enum router_op
router_route_object(const struct s3req *r)
{
	const char *m = r->method;
	enum router_op mp = router_route_multipart(r);

	if (mp != ROUTER_OP_COUNT)
		return mp;
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
		if (!router_params_only(r, router_get_object_params))
			return ROUTER_OP_NOT_IMPLEMENTED;
		return m[0] == 'G' ? ROUTER_OP_GET_OBJECT : ROUTER_OP_HEAD_OBJECT;
	}
	if (strcmp(m, "PUT") == 0) {
		if (!router_params_only(r, router_none))
			return ROUTER_OP_NOT_IMPLEMENTED;
		return s3req_header(r, "x-amz-copy-source") ? ROUTER_OP_COPY_OBJECT
							    : ROUTER_OP_PUT_OBJECT;
	}
	if (strcmp(m, "DELETE") == 0)
		return router_params_only(r, router_version_param) ? ROUTER_OP_DELETE_OBJECT
								   : ROUTER_OP_NOT_IMPLEMENTED;
	if (strcmp(m, "POST") == 0)
		return r->params.n ? ROUTER_OP_NOT_IMPLEMENTED : ROUTER_OP_METHOD_NOT_ALLOWED;
	return ROUTER_OP_METHOD_NOT_ALLOWED;
}

/* The admin endpoints under /_cairn/ (never a bucket: '_' is not allowed in bucket names), or
 * ROUTER_OP_COUNT. */
static enum router_op
router_route_admin(const struct s3req *r)
{
	static const char gc[] = "/_cairn/gc", scrub[] = "/_cairn/scrub";
	const char *m = r->method;

	if (r->virtual_host)
		return ROUTER_OP_COUNT;
	if (r->path_len == sizeof(gc) - 1 && memcmp(r->target, gc, r->path_len) == 0) {
		if (strcmp(m, "POST") == 0)
			return ROUTER_OP_ADMIN_GC;
		return strcmp(m, "GET") == 0 ? ROUTER_OP_ADMIN_GC_STATUS
					     : ROUTER_OP_METHOD_NOT_ALLOWED;
	}
	if (r->path_len == sizeof(scrub) - 1 && memcmp(r->target, scrub, r->path_len) == 0)
		return strcmp(m, "GET") == 0 ? ROUTER_OP_ADMIN_SCRUB : ROUTER_OP_METHOD_NOT_ALLOWED;
	return ROUTER_OP_COUNT;
}

enum router_op
router_route(const struct s3req *r)
{
	static const char health[] = "/_cairn/health";
	enum router_op admin = router_route_admin(r);

	if (!r->virtual_host && r->path_len == sizeof(health) - 1 &&
	    memcmp(r->target, health, r->path_len) == 0 &&
	    (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0))
		return ROUTER_OP_HEALTH;
	if (admin != ROUTER_OP_COUNT)
		return admin;
	if (r->bucket[0] == 0)
		return router_route_service(r);
	if (r->key.len == 0)
		return router_route_bucket(r);
	return router_route_object(r);
}
