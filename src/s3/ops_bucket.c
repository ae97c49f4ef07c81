#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cairn/err.h"
#include "cairn/ops.h"
#include "cairn/s3name.h"
#include "cairn/xml.h"

int
ops_bucket_access(struct server_req *r, const char *name, struct index_bucket *b)
{
	struct index_bucket tmp;
	int rc;

	if (!b)
		b = &tmp;
	if (strlen(name) > S3NAME_BUCKET_MAX) {
		server_req_fail(r, S3E_NO_SUCH_BUCKET, NULL);
		return CAIRN_E_NOTFOUND;
	}
	rc = store_bucket_get(r->srv->st, name, b);
	if (rc == CAIRN_E_NOTFOUND) {
		server_req_fail(r, S3E_NO_SUCH_BUCKET, NULL);
		return rc;
	}
	if (rc < 0) {
		server_req_fail_rc(r, rc);
		return rc;
	}
	if (!r->auth.is_root && strcmp(b->owner, r->auth.user) != 0) {
		server_req_fail(r, S3E_ACCESS_DENIED, NULL);
		return CAIRN_E_INVAL;
	}
	return 0;
}

/* Checks the optional CreateBucketConfiguration body: its LocationConstraint, when given, must
 * name this server's region. */
static int
ops_create_bucket_location(struct server_req *r)
{
	char location[XML_LOCATION_MAX + 1] = "";
	enum s3_error e = S3E_MALFORMED_XML;

	if (r->body.len &&
	    xml_parse_create_bucket((const char *)r->body.p, r->body.len, location, &e) < 0)
		return server_req_fail(r, e, NULL);
	if (location[0] && strcmp(location, r->srv->region) != 0)
		return server_req_fail(r, S3E_INVALID_LOCATION_CONSTRAINT,
				       "The specified location-constraint is not valid for this "
				       "server's region");
	return 0;
}

void
ops_create_bucket(struct server_req *r)
{
	const char *name = r->s3.bucket;
	const char *lock = s3req_header(&r->s3, "x-amz-bucket-object-lock-enabled");
	struct index_bucket existing;
	char location[S3REQ_BUCKET_SEGMENT_MAX + 2];
	int rc;

	if (!s3name_bucket_is_valid(name, strlen(name))) {
		server_req_fail(r, S3E_INVALID_BUCKET_NAME, NULL);
		return;
	}
	if (lock && strcasecmp(lock, "true") == 0) {
		server_req_fail(r, S3E_NOT_IMPLEMENTED, "Object Lock is not supported");
		return;
	}
	if (ops_create_bucket_location(r) != 0)
		return;
	memset(&existing, 0, sizeof(existing));
	rc = store_bucket_create(r->srv->st, name, r->auth.user, r->srv->region, &existing);
	if (rc == CAIRN_E_EXISTS) {
		server_req_fail(r,
				strcmp(existing.owner, r->auth.user) == 0
				    ? S3E_BUCKET_ALREADY_OWNED_BY_YOU
				    : S3E_BUCKET_ALREADY_EXISTS,
				NULL);
		return;
	}
	if (rc < 0) {
		server_req_fail_rc(r, rc);
		return;
	}
	r->resp.status = 200;
	snprintf(location, sizeof(location), "/%s", name);
	server_resp_header(&r->resp, "Location", location);
}

void
ops_head_bucket(struct server_req *r)
{
	struct index_bucket b;

	if (ops_bucket_access(r, r->s3.bucket, &b) < 0)
		return;
	r->resp.status = 200;
	server_resp_header(&r->resp, "x-amz-bucket-region", b.region);
}

void
ops_delete_bucket(struct server_req *r)
{
	int rc;

	if (ops_bucket_access(r, r->s3.bucket, NULL) < 0)
		return;
	rc = store_bucket_delete(r->srv->st, r->s3.bucket);
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, S3E_NO_SUCH_BUCKET, NULL);
	else if (rc == CAIRN_E_NOTEMPTY)
		server_req_fail(r, S3E_BUCKET_NOT_EMPTY, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		r->resp.status = 204;
}

void
ops_get_bucket_location(struct server_req *r)
{
	struct index_bucket b;
	struct xml_writer w;

	if (ops_bucket_access(r, r->s3.bucket, &b) < 0)
		return;
	xml_writer_init(&w, server_req_xml(r, 200));
	/* S3 reports us-east-1 as an empty constraint; SDKs map "" back to us-east-1. */
	xml_open_ns(&w, "LocationConstraint");
	if (strcmp(b.region, "us-east-1") != 0)
		xml_escape(&r->resp.body, b.region, strlen(b.region));
	xml_close(&w);
	if (xml_writer_finish(&w) < 0)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
}

void
ops_get_bucket_versioning(struct server_req *r)
{
	struct xml_writer w;

	if (ops_bucket_access(r, r->s3.bucket, NULL) < 0)
		return;
	xml_writer_init(&w, server_req_xml(r, 200));
	xml_open_ns(&w, "VersioningConfiguration");
	xml_close(&w);
	if (xml_writer_finish(&w) < 0)
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
}
