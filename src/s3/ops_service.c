#include <string.h>

#include "cairn/httpdate.h"
#include "cairn/ops.h"
#include "cairn/xml.h"

void
ops_health(struct server_req *r)
{
	r->resp.status = 200;
	server_resp_header(&r->resp, "Content-Type", "text/plain");
	buf_append_str(&r->resp.body, "ok\n");
}

struct ops_list_buckets_ctx {
	struct xml_writer *w;
	const struct server_req *r;
	const char *prefix;
};

static int
ops_list_buckets_one(const char *name, const struct index_bucket *b, void *arg)
{
	struct ops_list_buckets_ctx *ctx = arg;
	char date[25];

	if (!ctx->r->auth.is_root && strcmp(b->owner, ctx->r->auth.user) != 0)
		return 0;
	if (ctx->prefix && strncmp(name, ctx->prefix, strlen(ctx->prefix)) != 0)
		return 0;
	if (httpdate_format_iso8601(b->ctime_ns / 1000000000, date) < 0)
		date[0] = 0;
	xml_open(ctx->w, "Bucket");
	xml_elem(ctx->w, "Name", name);
	xml_elem(ctx->w, "CreationDate", date);
	xml_elem(ctx->w, "BucketRegion", b->region);
	xml_close(ctx->w);
	return 0;
}

void
ops_list_buckets(struct server_req *r)
{
	struct ops_list_buckets_ctx ctx;
	struct xml_writer w;
	int rc;

	xml_writer_init(&w, server_req_xml(r, 200));
	xml_open_ns(&w, "ListAllMyBucketsResult");
	xml_open(&w, "Owner");
	xml_elem(&w, "ID", r->auth.user);
	xml_elem(&w, "DisplayName", r->auth.user);
	xml_close(&w);
	xml_open(&w, "Buckets");
	ctx.w = &w;
	ctx.r = r;
	ctx.prefix = s3req_param(&r->s3, "prefix");
	rc = store_bucket_list(r->srv->st, ops_list_buckets_one, &ctx);
	if (rc < 0) {
		server_req_fail_rc(r, rc);
		return;
	}
	xml_close(&w);
	xml_close(&w);
	rc = xml_writer_finish(&w);
	if (rc < 0)
		server_req_fail_rc(r, rc);
}
