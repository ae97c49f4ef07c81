/*
 * cli_stats.c — `cairn stats` and `cairn fsck`.
 *
 * dedup ratio = logical bytes / raw bytes of the distinct live chunks; compression ratio = raw
 * bytes / stored (record) bytes of those chunks. dead bytes: records of chunks no object
 * references (still in the index); reclaimable bytes: pack bytes that hold no live chunk (dead
 * chunks and the leftovers of aborted or crashed uploads), what compaction can give back.
 * Per bucket, chunk bytes are attributed in proportion to references (store.h), so the buckets'
 * stored bytes add up to the total; a bucket's dedup ratio counts sharing with other buckets.
 */
#include <stdio.h>
#include <string.h>

#include "cairn/err.h"
#include "cli.h"

static double
ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 1.0;
}

static uint64_t
reclaimable(const struct store_stats *s)
{
	return s->pack_bytes > s->stored_bytes ? s->pack_bytes - s->stored_bytes : 0;
}

static void
stats_text(const struct store_stats *s)
{
	printf("buckets            %llu\n", (unsigned long long)s->buckets);
	printf("objects            %llu\n", (unsigned long long)s->objects);
	printf("logical bytes      %llu (%.1f MiB)\n", (unsigned long long)s->logical_bytes,
	       (double)s->logical_bytes / 1048576.0);
	printf("raw unique bytes   %llu (%.1f MiB)\n", (unsigned long long)s->raw_bytes,
	       (double)s->raw_bytes / 1048576.0);
	printf("stored bytes       %llu (%.1f MiB)\n", (unsigned long long)s->stored_bytes,
	       (double)s->stored_bytes / 1048576.0);
	printf("dedup ratio        %.2f\n", ratio(s->logical_bytes, s->raw_bytes));
	printf("compression ratio  %.2f\n", ratio(s->raw_bytes, s->stored_bytes));
	printf("chunks             %llu (%llu references)\n", (unsigned long long)s->chunks,
	       (unsigned long long)s->chunk_refs);
	printf("dead bytes         %llu\n", (unsigned long long)s->dead_bytes);
	printf("reclaimable bytes  %llu\n", (unsigned long long)reclaimable(s));
	printf("packs              %llu (%llu bytes)\n", (unsigned long long)s->packs,
	       (unsigned long long)s->pack_bytes);
	printf("index bytes        %llu\n", (unsigned long long)s->index_bytes);
}

static void
stats_json(const struct store_stats *s)
{
	printf("{\"buckets\":%llu,\"objects\":%llu,\"logical_bytes\":%llu,\"raw_bytes\":%llu,"
	       "\"stored_bytes\":%llu,\"dead_bytes\":%llu,\"chunks\":%llu,\"chunk_refs\":%llu,"
	       "\"packs\":%llu,\"pack_bytes\":%llu,\"index_bytes\":%llu,\"dedup_ratio\":%.4f,"
	       "\"compression_ratio\":%.4f,\"reclaimable_bytes\":%llu,\"per_bucket\":[",
	       (unsigned long long)s->buckets, (unsigned long long)s->objects,
	       (unsigned long long)s->logical_bytes, (unsigned long long)s->raw_bytes,
	       (unsigned long long)s->stored_bytes, (unsigned long long)s->dead_bytes,
	       (unsigned long long)s->chunks, (unsigned long long)s->chunk_refs,
	       (unsigned long long)s->packs, (unsigned long long)s->pack_bytes,
	       (unsigned long long)s->index_bytes, ratio(s->logical_bytes, s->raw_bytes),
	       ratio(s->raw_bytes, s->stored_bytes), (unsigned long long)reclaimable(s));
}

/* Bucket names are [a-z0-9.-] (S3 rules): they need no JSON escaping. */
static int
bucket_json(const char *name, const struct store_bucket_stats *b, void *arg)
{
	int *n = arg;

	printf("%s{\"name\":\"%s\",\"objects\":%llu,\"logical_bytes\":%llu,\"raw_bytes\":%.0f,"
	       "\"stored_bytes\":%.0f,\"dedup_ratio\":%.4f,\"compression_ratio\":%.4f,"
	       "\"uploads\":%llu,\"upload_bytes\":%llu}",
	       (*n)++ ? "," : "", name, (unsigned long long)b->objects,
	       (unsigned long long)b->logical_bytes, b->raw_bytes, b->stored_bytes,
	       b->raw_bytes > 0 ? (double)(b->logical_bytes + b->upload_bytes) / b->raw_bytes : 1.0,
	       b->stored_bytes > 0 ? b->raw_bytes / b->stored_bytes : 1.0,
	       (unsigned long long)b->uploads, (unsigned long long)b->upload_bytes);
	return 0;
}

static int
bucket_text(const char *name, const struct store_bucket_stats *b, void *arg)
{
	int *n = arg;

	if ((*n)++ == 0)
		printf("\n%-24s %8s %14s %14s %14s %7s %7s\n", "bucket", "objects", "logical",
		       "raw", "stored", "dedup", "compr");
	printf("%-24s %8llu %14llu %14.0f %14.0f %7.2f %7.2f\n", name,
	       (unsigned long long)b->objects, (unsigned long long)b->logical_bytes, b->raw_bytes,
	       b->stored_bytes,
	       b->raw_bytes > 0 ? (double)(b->logical_bytes + b->upload_bytes) / b->raw_bytes : 1.0,
	       b->stored_bytes > 0 ? b->raw_bytes / b->stored_bytes : 1.0);
	return 0;
}

int
cli_stats_print(struct store *st, bool json)
{
	struct store_stats s;
	int rc, n = 0;

	rc = store_stats(st, &s);
	if (rc < 0) {
		cli_err("stats: %s", cairn_strerror(rc));
		return rc;
	}
	if (json)
		stats_json(&s);
	else
		stats_text(&s);
	rc = store_stats_buckets(st, json ? bucket_json : bucket_text, &n);
	if (json)
		printf("]}\n");
	if (rc < 0) {
		cli_err("stats: %s", cairn_strerror(rc));
		return rc;
	}
	return 0;
}

int
cli_stats(int argc, char **argv)
{
	bool json = false;
	struct store *st;
	int status;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = true;
	else if (argc != 1) {
		cli_err("usage: cairn stats DATADIR [--json]");
		return CLI_USAGE;
	}
	status = cli_store_open(argv[0], STORE_MODE_READ, &st);
	if (status != CLI_OK)
		return status;
	status = cli_stats_print(st, json) < 0 ? CLI_FAIL : CLI_OK;
	store_close(st);
	return status;
}

static void
fsck_problem(const char *problem, void *arg)
{
	(void)arg;
	printf("problem: %s\n", problem);
}

static void
fsck_repaired(const char *line, void *arg)
{
	(void)arg;
	printf("repair: %s\n", line);
}

/* --repair: check and repair with the data dir to ourselves, then check again. */
static int
fsck_repair(const char *dir)
{
	struct store_fsck_result r;
	struct store_repair_result done;
	struct store *st;
	int status, rc;

	status = cli_store_open_existing(dir, "fsck --repair", &st);
	if (status != CLI_OK)
		return status;
	rc = store_fsck_repair(st, fsck_problem, fsck_repaired, NULL, &r, &done);
	if (rc == 0 && r.problems) {
		printf("repaired: %llu objects deleted, %llu uploads aborted, %llu refcounts "
		       "fixed, %llu chunk entries dropped; checking again\n",
		       (unsigned long long)done.objects_deleted,
		       (unsigned long long)done.uploads_aborted,
		       (unsigned long long)done.refcounts_fixed,
		       (unsigned long long)done.chunks_dropped);
		rc = store_fsck(st, fsck_problem, NULL, &r);
	}
	store_close(st);
	if (rc < 0) {
		cli_err("fsck: %s", cairn_strerror(rc));
		return CLI_FAIL;
	}
	printf("fsck: %llu objects, %llu chunks checked, %llu problems\n",
	       (unsigned long long)r.objects_checked, (unsigned long long)r.chunks_checked,
	       (unsigned long long)r.problems);
	return r.problems ? CLI_FAIL : CLI_OK;
}

int
cli_fsck(int argc, char **argv)
{
	struct store_fsck_result r;
	struct store *st;
	int status, rc;

	if (argc == 2 && strcmp(argv[1], "--repair") == 0)
		return fsck_repair(argv[0]);
	if (argc != 1) {
		cli_err("usage: cairn fsck DATADIR [--repair]");
		return CLI_USAGE;
	}
	status = cli_store_open(argv[0], STORE_MODE_READ, &st);
	if (status != CLI_OK)
		return status;
	rc = store_fsck(st, fsck_problem, NULL, &r);
	store_close(st);
	if (rc < 0) {
		cli_err("fsck: %s", cairn_strerror(rc));
		return CLI_FAIL;
	}
	printf("fsck: %llu objects, %llu chunks checked, %llu problems\n",
	       (unsigned long long)r.objects_checked, (unsigned long long)r.chunks_checked,
	       (unsigned long long)r.problems);
	return r.problems ? CLI_FAIL : CLI_OK;
}
