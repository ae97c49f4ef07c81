/*
 * cli_uploads.c — `cairn uploads list DATADIR [BUCKET]` and `cairn uploads abort DATADIR
 * UPLOAD_ID`: the multipart uploads in progress, and ending one by hand.
 *
 * list opens the data dir read-only and pages through each bucket's uploads (store_upload_list,
 * 1000 at a time, so memory stays bounded), printing one tab-separated line per upload: id,
 * bucket, key, initiation time (UTC), part count, bytes held. abort opens the data dir in
 * index-only mode, so it works beside a running cairnd: the upload's chunk references are
 * released, and a part the daemon is receiving for it fails with NoSuchUpload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/err.h"
#include "cairn/store_upload.h"
#include "cli.h"

#define UPLOADS_PAGE 1000

struct uploads_bucket_names {
	char (*v)[INDEX_BUCKET_NAME_MAX + 1];
	size_t n;
	size_t cap;
	const char *only; /* NULL: every bucket */
};

static int
uploads_bucket_one(const char *name, const struct index_bucket *b, void *arg)
{
	struct uploads_bucket_names *bn = arg;

	(void)b;
	if (bn->only && strcmp(bn->only, name) != 0)
		return 0;
	if (bn->n == bn->cap) {
		bn->cap = bn->cap ? 2 * bn->cap : 16;
		bn->v = realloc(bn->v, bn->cap * sizeof(*bn->v));
		if (!bn->v)
			abort();
	}
	snprintf(bn->v[bn->n++], sizeof(bn->v[0]), "%s", name);
	return 0;
}

struct uploads_sum {
	uint64_t parts;
	uint64_t bytes;
};

static int
uploads_sum_part(const struct store_part *p, void *arg)
{
	struct uploads_sum *s = arg;

	s->parts++;
	s->bytes += p->size;
	return 0;
}

struct uploads_page {
	struct store *st;
	const char *bucket;
	char last_key[INDEX_KEY_MAX + 1];
	size_t last_key_len;
	char last_id[STORE_UPLOAD_ID_LEN + 1];
	uint64_t shown;
};

/* Prints one upload (after the listing's snapshot ended: the parts are summed here). */
static int
uploads_print(const struct store_upload_entry *e, void *arg)
{
	struct uploads_page *pg = arg;
	struct uploads_sum sum = {0};
	char when[32], key[INDEX_KEY_MAX + 1];
	time_t t = (time_t)(e->initiated_ns / 1000000000);
	struct tm tm;
	bool truncated;
	size_t i;

	memcpy(pg->last_key, e->key.p, e->key.len);
	pg->last_key_len = e->key.len;
	snprintf(pg->last_id, sizeof(pg->last_id), "%s", e->id);
	if (store_upload_parts(pg->st, pg->bucket, (struct slice){NULL, 0}, e->id, 0,
			       STORE_PARTS_MAX, uploads_sum_part, &sum, &truncated) < 0)
		return 0;		 /* completed or aborted since the listing: skip it */
	for (i = 0; i < e->key.len; i++) /* one line per upload whatever the key holds */
		key[i] = e->key.p[i] < 0x20 || e->key.p[i] == 0x7f ? '?' : (char)e->key.p[i];
	key[e->key.len] = 0;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s\t%s\t%s\t%s\t%llu\t%llu\n", e->id, pg->bucket, key, when,
	       (unsigned long long)sum.parts, (unsigned long long)sum.bytes);
	pg->shown++;
	return 0;
}

/* Pages through one bucket's uploads. */
static int
uploads_list_bucket(struct store *st, const char *bucket, uint64_t *shown)
{
	struct uploads_page pg = {.st = st, .bucket = bucket};
	struct store_upload_query q = {.max = UPLOADS_PAGE};
	bool truncated = true;
	int rc = 0;

	while (truncated && rc == 0) {
		rc = store_upload_list(st, bucket, &q, uploads_print, &pg, &truncated);
		q.key_marker = (struct slice){(const uint8_t *)pg.last_key, pg.last_key_len};
		q.id_marker = pg.last_id;
	}
	*shown += pg.shown;
	return rc;
}

static int
uploads_list(int argc, char **argv)
{
	struct uploads_bucket_names bn = {.only = argc == 2 ? argv[1] : NULL};
	struct store *st;
	uint64_t shown = 0;
	size_t i;
	int status, rc;

	if (argc != 1 && argc != 2) {
		cli_err("usage: cairn uploads list DATADIR [BUCKET]");
		return CLI_USAGE;
	}
	status = cli_store_open(argv[0], STORE_MODE_READ, &st);
	if (status != CLI_OK)
		return status;
	rc = store_bucket_list(st, uploads_bucket_one, &bn);
	for (i = 0; i < bn.n && rc == 0; i++)
		rc = uploads_list_bucket(st, bn.v[i], &shown);
	store_close(st);
	free(bn.v);
	if (rc < 0) {
		cli_err("uploads list: %s", cairn_strerror(rc));
		return CLI_FAIL;
	}
	if (bn.only && bn.n == 0) {
		cli_err("no bucket %s", bn.only);
		return CLI_FAIL;
	}
	fprintf(stderr, "%llu upload(s) in progress\n", (unsigned long long)shown);
	return CLI_OK;
}

struct uploads_find {
	const char *id;
	char bucket[INDEX_BUCKET_NAME_MAX + 1];
};

static int
uploads_find_one(const struct store_upload_info *info, void *arg)
{
	struct uploads_find *f = arg;

	if (strcmp(info->id, f->id) != 0)
		return 0;
	snprintf(f->bucket, sizeof(f->bucket), "%s", info->bucket);
	return 1;
}

static int
uploads_abort(int argc, char **argv)
{
	struct uploads_find f = {0};
	struct store *st;
	int status, rc;

	if (argc != 2) {
		cli_err("usage: cairn uploads abort DATADIR UPLOAD_ID");
		return CLI_USAGE;
	}
	f.id = argv[1];
	status = cli_store_open(argv[0], STORE_MODE_INDEX, &st);
	if (status != CLI_OK)
		return status;
	rc = store_upload_walk(st, NULL, uploads_find_one, &f);
	if (rc == 1)
		rc = store_upload_abort(st, f.bucket, f.id);
	else if (rc == 0)
		rc = CAIRN_E_NOTFOUND;
	store_close(st);
	if (rc == CAIRN_E_NOTFOUND) {
		cli_err("no upload %s", f.id);
		return CLI_FAIL;
	}
	if (rc < 0) {
		cli_err("uploads abort: %s", cairn_strerror(rc));
		return CLI_FAIL;
	}
	printf("aborted %s (bucket %s)\n", f.id, f.bucket);
	return CLI_OK;
}

int
cli_uploads(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return uploads_list(argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "abort") == 0)
		return uploads_abort(argc - 1, argv + 1);
	cli_err("usage: cairn uploads list DATADIR [BUCKET] | cairn uploads abort DATADIR "
		"UPLOAD_ID");
	return CLI_USAGE;
}
