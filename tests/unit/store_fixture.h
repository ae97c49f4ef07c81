/*
 * store_fixture.h — a store in a fresh temporary directory, and test data, for the unit tests
 * that drive the whole store. Static inline on purpose: the Makefile builds each
 * tests/unit/test_*.c into its own binary and links nothing else of tests/unit, so the helpers
 * live here whole. Include after <cmocka.h> (they fail the test through cmocka's asserts).
 */
#ifndef CAIRN_TEST_STORE_FIXTURE_H
#define CAIRN_TEST_STORE_FIXTURE_H

#ifndef assert_true
#error "include <cmocka.h> before store_fixture.h"
#endif

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/store.h"

/* A store open on its own directory, with bucket "b" owned by root. */
struct store_fx {
	char dir[64];
	struct store_config cfg; /* cfg.data_dir points at dir: reopen with store_open(&cfg) */
	struct store *st;
};

static inline int
store_fx_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Creates /tmp/cairn-test-<name>-XXXXXX, opens a store there with the default configuration and
 * creates bucket "b". Fails the test on any error. */
static inline void
store_fx_open(struct store_fx *fx, const char *name)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cairn-test-%s-XXXXXX", name);
	assert_non_null(mkdtemp(fx->dir));
	store_config_default(&fx->cfg);
	fx->cfg.data_dir = fx->dir;
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	assert_int_equal(store_bucket_create(fx->st, "b", "root", "", NULL), 0);
}

/* Closes the store and removes its directory. */
static inline void
store_fx_close(struct store_fx *fx)
{
	store_close(fx->st);
	fx->st = NULL;
	nftw(fx->dir, store_fx_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A cmocka teardown for a fixture malloc'd by its setup: closes the store, frees the fixture. */
static inline int
store_fx_teardown(void **state)
{
	struct store_fx *fx = *state;

	store_fx_close(fx);
	free(fx);
	return 0;
}

/* store_fsck's problem callback: prints each problem, so a failing check says what it found. */
static inline void
store_fx_fsck_print(const char *problem, void *arg)
{
	(void)arg;
	fprintf(stderr, "fsck: %s\n", problem);
}

/* Fails the test unless store_fsck finds st clean. */
static inline void
store_fx_assert_fsck_clean(struct store *st)
{
	struct store_fsck_result r;

	assert_int_equal(store_fsck(st, store_fx_fsck_print, NULL, &r), 0);
	assert_int_equal(r.problems, 0);
}

/* len deterministic pseudo-random bytes (xorshift64*) from seed: incompressible, so zstd is tried
 * and fails. The caller frees them. */
static inline uint8_t *
gen_data(uint64_t seed, size_t len)
{
	uint8_t *p = malloc(len);
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = (uint8_t)((x * 0x2545F4914F6CDD1Dull) >> 56);
	}
	return p;
}

/* The slice of a C string (without its NUL). */
static inline struct slice
S(const char *s) {
	return (struct slice){(const uint8_t *)s, strlen(s)};
}

/* Flips the bits of mask in byte off of the file name in dir (a pack, the memo's file). */
static inline void
store_fx_flip(const char *dir, const char *name, off_t off, uint8_t mask)
{
	char path[256];
	uint8_t b;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= mask;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* Flips the bits of mask in byte off of pack pack_id in the store at dir. */
static inline void
store_fx_flip_pack(const char *dir, uint32_t pack_id, off_t off, uint8_t mask)
{
	char name[32];

	snprintf(name, sizeof(name), "packs/pack-%08x.cpk", pack_id);
	store_fx_flip(dir, name, off, mask);
}

#endif
