/*
 * test_upload_limits.c — the S3 limits of multipart uploads in the engine, and what completion
 * costs: part numbers 1..10,000; parts of at most 5 GiB and objects of at most 5 TiB at
 * completion (checked from the part list before the transaction, so no such data is needed);
 * and a 10 GiB object stitched from 160 UploadPartCopy parts completes in one short
 * transaction that reads no chunk and appends no pack byte.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cairn/store.h"
#include "cairn/store_upload.h"

#include "store_fixture.h"

static const struct slice no_meta = {NULL, 0};

/* Store defaults (the chunk sizes cairnd runs with). */
static int
fx_setup(void **state)
{
	struct store_fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	store_fx_open(fx, "uplimits");
	*state = fx;
	return 0;
}

static int
put_part(struct store *st, const char *key, const char *id, uint32_t number, const uint8_t *p,
	 size_t len, struct store_part *out)
{
	struct store_put *put;

	assert_int_equal(store_put_begin(st, &put), 0);
	assert_int_equal(store_put_write(put, p, len), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	return store_upload_part_commit(put, "b", S(key), id, number, NULL, 0, out);
}

static void
put_object(struct store *st, const char *key, const uint8_t *p, size_t len)
{
	struct store_object_info info;
	struct store_put *put;

	assert_int_equal(store_put_begin(st, &put), 0);
	assert_int_equal(store_put_write(put, p, len), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_commit(put, "b", S(key), no_meta, NULL, &info), 0);
}

/* ---- part numbers ---- */

static void
test_part_numbers(void **state)
{
	struct store_fx *fx = *state;
	char id[STORE_UPLOAD_ID_LEN + 1];
	struct store_complete_part cp;
	struct store_object_info info;
	struct store_part p;
	uint8_t body[100];

	memset(body, 'x', sizeof(body));
	assert_int_equal(store_upload_create(fx->st, "b", S("n"), "root", NULL, id), 0);
	assert_int_equal(put_part(fx->st, "n", id, 0, body, sizeof(body), &p), CAIRN_E_INVAL);
	assert_int_equal(put_part(fx->st, "n", id, STORE_PARTS_MAX + 1, body, sizeof(body), &p),
			 CAIRN_E_INVAL);
	assert_int_equal(put_part(fx->st, "n", id, STORE_PARTS_MAX, body, sizeof(body), &p), 0);
	assert_int_equal(p.number, STORE_PARTS_MAX);
	cp = (struct store_complete_part){.number = p.number, .size = p.size};
	memcpy(cp.md5, p.md5, 16);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("n"), id, &cp, 1, no_meta, NULL, &info), 0);
	assert_int_equal(info.size, sizeof(body));
	store_fx_assert_fsck_clean(fx->st);
}

/* ---- sizes at completion ---- */

static void
test_size_limits(void **state)
{
	struct store_fx *fx = *state;
	const size_t n = 1025; /* 1025 x 5 GiB = 5 TiB + 5 GiB */
	struct store_complete_part *cp = calloc(STORE_PARTS_MAX, sizeof(*cp));
	char id[STORE_UPLOAD_ID_LEN + 1];
	struct store_object_info info;
	struct store_upload_info ui;
	struct store_part p;
	uint8_t body[100];

	assert_non_null(cp);
	memset(body, 'y', sizeof(body));
	assert_int_equal(store_upload_create(fx->st, "b", S("big"), "root", NULL, id), 0);
	assert_int_equal(put_part(fx->st, "big", id, 1, body, sizeof(body), &p), 0);
	for (size_t i = 0; i < STORE_PARTS_MAX; i++)
		cp[i] = (struct store_complete_part){.number = (uint32_t)i + 1,
						     .size = STORE_PART_SIZE_MAX};
	/* More than 5 TiB in all. */
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("big"), id, cp, n, no_meta, NULL, &info),
	    CAIRN_E_TOOBIG);
	assert_int_equal(store_upload_complete(fx->st, "b", S("big"), id, cp, STORE_PARTS_MAX,
					       no_meta, NULL, &info),
			 CAIRN_E_TOOBIG);
	/* Exactly 5 TiB passes the limit (and then fails on the parts, which do not exist). */
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("big"), id, cp, n - 1, no_meta, NULL, &info),
	    CAIRN_E_BADDIGEST);
	/* One part above 5 GiB. */
	cp[1].size = STORE_PART_SIZE_MAX + 1;
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("big"), id, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_INVAL);
	/* Nothing happened to the upload. */
	assert_int_equal(store_upload_get(fx->st, "b", id, S("big"), &ui, NULL, NULL), 0);
	assert_int_equal(store_stat(fx->st, "b", S("big"), &info, NULL), CAIRN_E_NOTFOUND);
	store_fx_assert_fsck_clean(fx->st);
	free(cp);
}

/* ---- completion is cheap ---- */

static void
hook_count(const struct chunk_id *id, void *arg)
{
	(void)id;
	(*(int *)arg)++;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
read_at(struct store *st, const char *key, uint64_t off, uint8_t *p, size_t len)
{
	struct store_get *g;
	size_t n;

	assert_int_equal(store_get_open(st, "b", S(key), &g), 0);
	assert_int_equal(store_get_seek(g, off), 0);
	assert_int_equal(store_get_read(g, p, len, &n), 0);
	assert_int_equal(n, len);
	store_get_close(g);
}

/* 160 parts, each the whole of a 64 MiB object by reference: a 10 GiB upload. */
static void
test_complete_10gib_cheap(void **state)
{
	struct store_fx *fx = *state;
	enum { PARTS = 160 };
	const size_t src_len = 64u << 20;
	uint8_t *src = gen_data(3, src_len), got[4096];
	struct store_complete_part *cp = calloc(PARTS, sizeof(*cp));
	struct store_stats before, after;
	char id[STORE_UPLOAD_ID_LEN + 1];
	struct store_object_info info;
	struct store_part p;
	int reads = 0;
	double ms;

	assert_non_null(cp);
	put_object(fx->st, "src", src, src_len);
	assert_int_equal(store_upload_create(fx->st, "b", S("ten"), "root", NULL, id), 0);
	for (uint32_t i = 0; i < PARTS; i++) {
		struct store_part_copy c = {.src_bucket = "b", .src_key = S("src"), .whole = true};

		assert_int_equal(store_upload_part_copy(fx->st, "b", S("ten"), id, i + 1, &c, &p),
				 0);
		cp[i] = (struct store_complete_part){.number = p.number, .size = p.size};
		memcpy(cp[i].md5, p.md5, 16);
	}
	assert_int_equal(store_stats(fx->st, &before), 0);
	store_set_read_hook(fx->st, hook_count, &reads);
	ms = now_ms();
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("ten"), id, cp, PARTS, no_meta, NULL, &info), 0);
	ms = now_ms() - ms;
	store_set_read_hook(fx->st, NULL, NULL);
	assert_int_equal(store_stats(fx->st, &after), 0);
	print_message("completing %d parts, %llu bytes: %.1f ms\n", PARTS,
		      (unsigned long long)info.size, ms);
	assert_int_equal(info.size, (uint64_t)PARTS * src_len);
	assert_int_equal(reads, 0);			       /* no chunk read … */
	assert_int_equal(after.pack_bytes, before.pack_bytes); /* … nor written */
	assert_int_equal(after.chunk_refs, before.chunk_refs); /* references moved, not taken */
	assert_true(ms < 2000.0); /* tens of ms; generous for a loaded 2-core machine */
	/* Bytes across a seam and at the very end. */
	read_at(fx->st, "ten", 37 * (uint64_t)src_len - 2048, got, sizeof(got));
	assert_memory_equal(got, src + src_len - 2048, 2048);
	assert_memory_equal(got + 2048, src, 2048);
	read_at(fx->st, "ten", PARTS * (uint64_t)src_len - 4096, got, sizeof(got));
	assert_memory_equal(got, src + src_len - 4096, 4096);
	store_fx_assert_fsck_clean(fx->st);
	free(cp);
	free(src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_part_numbers, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_size_limits, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_complete_10gib_cheap, fx_setup, store_fx_teardown),
	};

	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
