/*
 * cli_gc.c — `cairn gc DATADIR [--threshold PERCENT] [--json]`: one compaction with the data dir
 * opened for writing, so cairnd must be stopped (a running cairnd compacts online: its
 * gc_interval, or POST /_cairn/gc). With no other writer there is no upload to wait for: every
 * selected pack is deleted in this run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/gc.h"
#include "cli.h"

static int
gc_args(int argc, char **argv, struct gc_config *cfg, bool *json)
{
	unsigned long pct;
	char *end;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			*json = true;
		} else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc) {
			pct = strtoul(argv[++i], &end, 10);
			if (*argv[i] == 0 || *end || pct < 1 || pct > 100)
				return -1;
			cfg->threshold = (double)pct / 100.0;
		} else {
			return -1;
		}
	}
	return 0;
}

static void
gc_print(const struct gc_result *r)
{
	printf("packs              %llu (%llu compacted, %llu removed, %llu kept)\n",
	       (unsigned long long)r->packs, (unsigned long long)r->packs_selected,
	       (unsigned long long)r->packs_removed, (unsigned long long)r->packs_kept);
	printf("chunks moved       %llu (%llu bytes)\n", (unsigned long long)r->chunks_moved,
	       (unsigned long long)r->bytes_moved);
	printf("chunks dropped     %llu\n", (unsigned long long)r->chunks_dropped);
	printf("pack bytes         %llu -> %llu\n", (unsigned long long)r->bytes_before,
	       (unsigned long long)r->bytes_after);
	printf("time               %llu ms\n", (unsigned long long)r->ms);
}

int
cli_gc(int argc, char **argv)
{
	struct gc_config cfg;
	struct gc_result res;
	struct store *st;
	struct buf out;
	bool json = false;
	int status, rc;

	gc_config_default(&cfg);
	if (argc < 1 || gc_args(argc, argv, &cfg, &json) < 0) {
		cli_err("usage: cairn gc DATADIR [--threshold PERCENT] [--json]");
		return CLI_USAGE;
	}
	status = cli_store_open_existing(argv[0], "gc (online: POST /_cairn/gc)", &st);
	if (status != CLI_OK)
		return status;
	rc = gc_run(st, &cfg, &res);
	store_close(st);
	if (json) {
		buf_init(&out, 4096);
		if (gc_result_json(&res, &out) == 0)
			printf("%s\n", (const char *)out.p);
		buf_fini(&out);
	} else {
		gc_print(&res);
	}
	if (rc < 0) {
		cli_err("gc: %s", cairn_strerror(rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}
