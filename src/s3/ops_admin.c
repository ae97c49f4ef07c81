/*
 * ops_admin.c — cairn's own admin endpoints under /_cairn/ (not S3): start a compaction and read
 * the compactor's and the scrubber's status. Requests are signed like any S3 request (SigV4 or
 * SigV2 with the root key pair); any other user gets AccessDenied. Bodies are JSON.
 *
 *   POST /_cairn/gc             asks the compactor thread for a run: 202 {"status":…}
 *   POST /_cairn/gc?wait=N      waits up to N seconds (1..3600) for that run: 200 with its result,
 *                               or 202 when it is still going
 *   GET  /_cairn/gc             200 {"enabled":…,"running":…,"runs":…,"last":{…}}
 *   GET  /_cairn/scrub          200 {"enabled":…,"rate":…,"errors":…,…}
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/gc.h"
#include "cairn/ops.h"
#include "cairn/scrub.h"

#define OPS_ADMIN_WAIT_MAX 3600

static bool
ops_admin_allowed(struct server_req *r)
{
	if (r->auth.is_root)
		return true;
	server_req_fail(r, S3E_ACCESS_DENIED, "The admin endpoints are for the root user only.");
	return false;
}

static void
ops_admin_json(struct server_req *r, int status)
{
	r->resp.status = status;
	server_resp_header(&r->resp, "Content-Type", "application/json");
	buf_append_str(&r->resp.body, "\n");
}

/* The wait parameter: 0 when absent; 1..OPS_ADMIN_WAIT_MAX. Returns 0 or fails r. */
static int
ops_admin_wait(struct server_req *r, uint32_t *wait_s)
{
	const char *v = s3req_param(&r->s3, "wait");
	unsigned long long x = 0;
	char *end = NULL;

	*wait_s = 0;
	if (!v)
		return 0;
	if (*v >= '0' && *v <= '9')
		x = strtoull(v, &end, 10);
	if (!end || *end || x < 1 || x > OPS_ADMIN_WAIT_MAX)
		return server_req_fail(r, S3E_INVALID_ARGUMENT,
				       "wait must be a number of seconds from 1 to 3600");
	*wait_s = (uint32_t)x;
	return 0;
}

void
ops_admin_gc(struct server_req *r)
{
	struct gc_status s;
	uint32_t wait_s;
	int rc;

	if (!ops_admin_allowed(r) || ops_admin_wait(r, &wait_s) != 0)
		return;
	rc = gc_service_trigger(r->srv->st, wait_s, &s);
	if (rc == CAIRN_E_NOTFOUND) {
		server_req_fail(r, S3E_SERVICE_UNAVAILABLE, "No compactor runs in this process.");
		return;
	}
	if (rc < 0 && rc != -ETIMEDOUT) {
		server_req_fail_rc(r, rc);
		return;
	}
	buf_reset(&r->resp.body);
	if (gc_status_json(&s, &r->resp.body) < 0) {
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
		return;
	}
	ops_admin_json(r, wait_s && rc == 0 ? 200 : 202);
}

void
ops_admin_gc_status(struct server_req *r)
{
	struct gc_status s;

	if (!ops_admin_allowed(r))
		return;
	gc_service_status(r->srv->st, &s);
	buf_reset(&r->resp.body);
	if (gc_status_json(&s, &r->resp.body) < 0) {
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
		return;
	}
	ops_admin_json(r, 200);
}

void
ops_admin_scrub_status(struct server_req *r)
{
	struct scrub_status s;

	if (!ops_admin_allowed(r))
		return;
	scrub_status(r->srv->st, &s);
	buf_reset(&r->resp.body);
	if (scrub_status_json(&s, &r->resp.body) < 0) {
		server_req_fail(r, S3E_INTERNAL_ERROR, NULL);
		return;
	}
	ops_admin_json(r, 200);
}
