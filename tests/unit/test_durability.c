/*
 * test_durability.c — the order of a commit's syncs. fdatasync and fsync are interposed (the
 * store's pack writer and LMDB both call them through the dynamic symbol table) to log which file
 * each one syncs: a put's pack bytes must be synced before LMDB syncs the transaction that
 * references them, and a put whose pack sync fails must leave no trace in the index, also after
 * a reopen.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cairn/store.h"
#include "store_fixture.h"

/* ---- fdatasync and fsync interposed: a log of what was synced ---- */

enum sync_kind { SYNC_OTHER, SYNC_PACK, SYNC_PACKDIR, SYNC_INDEX };

#define SYNC_LOG_MAX 4096
static _Atomic int sync_n;
static enum sync_kind sync_log[SYNC_LOG_MAX];
static atomic_int fail_pack_sync;

static enum sync_kind
fd_kind(int fd)
{
	char link[64], path[512];
	ssize_t n;
	size_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return SYNC_OTHER;
	path[n] = 0;
	len = (size_t)n;
	if (strstr(path, "/packs/pack-"))
		return SYNC_PACK;
	if (len >= 6 && strcmp(path + len - 6, "/packs") == 0)
		return SYNC_PACKDIR;
	if (len >= 15 && strcmp(path + len - 15, "/index/data.mdb") == 0)
		return SYNC_INDEX;
	return SYNC_OTHER;
}

static int
sync_note(int fd)
{
	enum sync_kind k = fd_kind(fd);
	int i;

	if (k == SYNC_PACK && atomic_load(&fail_pack_sync)) {
		errno = EIO;
		return -1;
	}
	i = atomic_fetch_add(&sync_n, 1);
	if (i < SYNC_LOG_MAX)
		sync_log[i] = k;
	return 0;
}

int
fdatasync(int fd)
{
	if (sync_note(fd) < 0)
		return -1;
	return (int)syscall(SYS_fdatasync, fd);
}

int
fsync(int fd)
{
	if (sync_note(fd) < 0)
		return -1;
	return (int)syscall(SYS_fsync, fd);
}

/* Index in the log of the first (first = true) or last sync of kind k; -1 if none. */
static int
log_find(enum sync_kind k, bool first)
{
	int n = atomic_load(&sync_n), found = -1;

	assert_true(n <= SYNC_LOG_MAX);
	for (int i = 0; i < n; i++) {
		if (sync_log[i] != k)
			continue;
		found = i;
		if (first)
			break;
	}
	return found;
}

/* ---- fixture ---- */

static int
fx_setup(void **state)
{
	struct store_fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	store_fx_open(fx, "durability");
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct store_fx *fx = *state;

	atomic_store(&fail_pack_sync, 0);
	store_fx_close(fx);
	free(fx);
	return 0;
}

/* Writes len bytes of p into a new put and finishes it (no commit). */
static struct store_put *
put_body(struct store *st, const uint8_t *p, size_t len)
{
	struct store_put *put;

	assert_int_equal(store_put_begin(st, &put), 0);
	assert_int_equal(store_put_write(put, p, len), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	return put;
}

/* ---- tests ---- */

static void
test_pack_sync_before_index_sync(void **state)
{
	struct store_fx *fx = *state;
	const size_t len = 2u << 20;
	uint8_t *data = gen_data(7, len);
	struct store_object_info info;
	struct store_put *put;
	int last_pack, first_index;

	put = put_body(fx->st, data, len);
	atomic_store(&sync_n, 0); /* only the commit's syncs from here */
	assert_int_equal(store_put_commit(put, "b", S("k"), (struct slice){NULL, 0}, NULL, &info),
			 0);
	last_pack = log_find(SYNC_PACK, false);
	first_index = log_find(SYNC_INDEX, true);
	assert_true(last_pack >= 0);   /* the put's appends were synced … */
	assert_true(first_index >= 0); /* … LMDB synced its transaction (interposition works) … */
	assert_true(last_pack < first_index); /* … and in that order */
	assert_int_equal(store_stat(fx->st, "b", S("k"), &info, NULL), 0);
	assert_int_equal(info.size, len);
	free(data);
}

static void
test_failed_pack_sync_leaves_no_object(void **state)
{
	struct store_fx *fx = *state;
	const size_t len = 1u << 20;
	uint8_t *data = gen_data(8, len);
	struct store_object_info info;
	struct store_fsck_result fr;
	struct store_put *put;

	put = put_body(fx->st, data, len);
	atomic_store(&sync_n, 0);
	atomic_store(&fail_pack_sync, 1);
	assert_int_equal(store_put_commit(put, "b", S("k"), (struct slice){NULL, 0}, NULL, &info),
			 -EIO);
	atomic_store(&fail_pack_sync, 0);
	assert_int_equal(log_find(SYNC_INDEX, true), -1); /* no index transaction was synced */
	assert_int_equal(store_stat(fx->st, "b", S("k"), &info, NULL), CAIRN_E_NOTFOUND);
	store_close(fx->st);
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	assert_int_equal(store_stat(fx->st, "b", S("k"), &info, NULL), CAIRN_E_NOTFOUND);
	assert_int_equal(store_fsck(fx->st, NULL, NULL, &fr), 0);
	assert_int_equal(fr.problems, 0);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pack_sync_before_index_sync, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_pack_sync_leaves_no_object, fx_setup,
					    fx_teardown),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
