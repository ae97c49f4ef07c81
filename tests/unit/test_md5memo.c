#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "cairn/conf.h"
#include "cairn/err.h"
#include "cairn/md5memo.h"
#include "cairn/md5sha.h"

#include "test_data.h"

/* A key whose bucket bits (the first eight bytes) are bucket and whose other bytes are tag. */
static void
key_in_bucket(uint8_t key[MD5MEMO_KEY_LEN], uint64_t bucket, uint64_t tag)
{
	memcpy(key, &bucket, 8);
	memcpy(key + 8, &tag, 8);
}

static void
state_of(uint32_t h[4], uint32_t v)
{
	for (int i = 0; i < 4; i++)
		h[i] = v * 4 + (uint32_t)i;
}

static void
test_new_sizes(void **state)
{
	struct md5memo *m;

	(void)state;
	assert_null(md5memo_new(0));
	assert_null(md5memo_new(MD5MEMO_ENTRY_BYTES * 8 - 1));
	m = md5memo_new(MD5MEMO_ENTRY_BYTES * 8);
	assert_non_null(m);
	md5memo_free(m);
	md5memo_free(NULL);
}

/* What is put comes back under its key, and only under it; a second put replaces the value. */
static void
test_put_get(void **state)
{
	uint8_t k1[MD5MEMO_KEY_LEN], k2[MD5MEMO_KEY_LEN];
	uint32_t h[4], got[4];
	struct md5memo_stats st;
	struct md5memo *m = md5memo_new(1 << 20);

	(void)state;
	assert_non_null(m);
	test_fill(k1, sizeof(k1), 1);
	test_fill(k2, sizeof(k2), 2);
	assert_false(md5memo_get(m, k1, got));
	state_of(h, 7);
	md5memo_put(m, k1, h);
	assert_true(md5memo_get(m, k1, got));
	assert_memory_equal(got, h, sizeof(h));
	assert_false(md5memo_get(m, k2, got));
	state_of(h, 8);
	md5memo_put(m, k1, h);
	assert_true(md5memo_get(m, k1, got));
	assert_memory_equal(got, h, sizeof(h));
	md5memo_stats(m, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.puts, 2);
	md5memo_free(m);
}

/* A bucket keeps its eight most recently used facts: a ninth pushes out the one used longest
 * ago, and a lookup counts as a use. Other buckets are untouched. */
static void
test_bucket_lru(void **state)
{
	uint8_t key[MD5MEMO_KEY_LEN], other[MD5MEMO_KEY_LEN];
	uint32_t h[4], got[4];
	struct md5memo *m = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 4); /* four buckets */
	uint64_t t;

	(void)state;
	assert_non_null(m);
	key_in_bucket(other, 1, 99);
	state_of(h, 99);
	md5memo_put(m, other, h);
	for (t = 0; t < 8; t++) {
		key_in_bucket(key, 2, t);
		state_of(h, (uint32_t)t);
		md5memo_put(m, key, h);
	}
	key_in_bucket(key, 2, 0); /* oldest, now used: key 1 becomes the least recently used */
	assert_true(md5memo_get(m, key, got));
	key_in_bucket(key, 2, 8);
	state_of(h, 8);
	md5memo_put(m, key, h);
	for (t = 0; t <= 8; t++) {
		key_in_bucket(key, 2, t);
		assert_int_equal(md5memo_get(m, key, got), t != 1);
		if (t != 1) {
			state_of(h, (uint32_t)t);
			assert_memory_equal(got, h, sizeof(h));
		}
	}
	assert_true(md5memo_get(m, other, got));
	md5memo_free(m);
}

/* The key depends on every part of (state, partial bytes, chunk id) and on nothing else (the
 * state's byte count, which MD5's compression never reads). Never all zero (the empty mark). */
static void
test_key(void **state)
{
	uint8_t partial[63], id[32], k0[MD5MEMO_KEY_LEN], k[MD5MEMO_KEY_LEN], zero[16] = {0};
	struct md5_state s, s2;
	int pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		md5sha_use_extensions(pass == 0);
		test_fill(partial, sizeof(partial), 3);
		test_fill(id, sizeof(id), 4);
		md5_init(&s);
		md5memo_key(&s, partial, 10, id, k0);
		assert_memory_not_equal(k0, zero, sizeof(zero));
		s2 = s;
		s2.nbytes = 12345 * 64;
		md5memo_key(&s2, partial, 10, id, k);
		assert_memory_equal(k, k0, sizeof(k));
		s2 = s;
		s2.h[3] ^= 1;
		md5memo_key(&s2, partial, 10, id, k);
		assert_memory_not_equal(k, k0, sizeof(k));
		md5memo_key(&s, partial, 9, id, k);
		assert_memory_not_equal(k, k0, sizeof(k));
		md5memo_key(&s, partial, 11, id, k);
		assert_memory_not_equal(k, k0, sizeof(k));
		partial[5] ^= 0x80;
		md5memo_key(&s, partial, 10, id, k);
		assert_memory_not_equal(k, k0, sizeof(k));
		partial[5] ^= 0x80;
		partial[20] ^= 0x80; /* beyond plen: not part of the key */
		md5memo_key(&s, partial, 10, id, k);
		assert_memory_equal(k, k0, sizeof(k));
		id[31] ^= 1;
		md5memo_key(&s, partial, 10, id, k);
		assert_memory_not_equal(k, k0, sizeof(k));
	}
	md5sha_use_extensions(true);
}

/* Both key paths (SHA extensions and OpenSSL's SHA-256) give the same key. */
static void
test_key_paths_agree(void **state)
{
	uint8_t partial[63], id[32], a[MD5MEMO_KEY_LEN], b[MD5MEMO_KEY_LEN];
	struct md5_state s;
	size_t plen;

	(void)state;
	md5_init(&s);
	test_fill(partial, sizeof(partial), 5);
	test_fill(id, sizeof(id), 6);
	for (plen = 0; plen < sizeof(partial); plen++) {
		md5sha_use_extensions(true);
		md5memo_key(&s, partial, plen, id, a);
		md5sha_use_extensions(false);
		md5memo_key(&s, partial, plen, id, b);
		assert_memory_equal(a, b, sizeof(a));
	}
	md5sha_use_extensions(true);
}

/* The fact the memory is for: from the state S after the whole blocks before a chunk, with P
 * pending, the chunk's whole blocks lead to S' — the same S' for any body that reaches (S, P),
 * wherever the chunk lies. A body's MD5 rebuilt from facts recorded while hashing another body
 * with the same prefix equals OpenSSL's. */
static void
test_fact_replays(void **state)
{
	const size_t cuts[] = {100, 5000, 5001, 9000, 20000}, len = 20000;
	uint8_t *body = malloc(len), key[MD5MEMO_KEY_LEN], md[16], ref[16], id[32];
	struct md5memo *m = md5memo_new(1 << 16);
	struct md5_state s;
	uint64_t at = 0, start = 0;
	unsigned int n = 0;
	uint32_t after[4];
	size_t i;

	(void)state;
	assert_non_null(body);
	assert_non_null(m);
	test_fill(body, len, 7);
	/* record: hash chunk by chunk, the MD5 stopping at each chunk's last block boundary */
	md5_init(&s);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		uint64_t to = cuts[i] / 64 * 64;

		assert_true(EVP_Digest(body + start, cuts[i] - start, id, &n, EVP_sha256(), NULL));
		md5memo_key(&s, body + at, start - at, id, key);
		md5_blocks(&s, body + at, (to - at) / 64);
		md5memo_put(m, key, s.h);
		at = to;
		start = cuts[i];
	}
	/* replay: only lookups, no MD5 over whole blocks */
	md5_init(&s);
	at = start = 0;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		uint64_t to = cuts[i] / 64 * 64;

		assert_true(EVP_Digest(body + start, cuts[i] - start, id, &n, EVP_sha256(), NULL));
		md5memo_key(&s, body + at, start - at, id, key);
		assert_true(md5memo_get(m, key, after));
		memcpy(s.h, after, sizeof(after));
		s.nbytes = to;
		at = to;
		start = cuts[i];
	}
	md5_final(&s, body + at, len - at, md);
	assert_true(EVP_Digest(body, len, ref, &n, EVP_md5(), NULL));
	assert_memory_equal(md, ref, 16);
	md5memo_free(m);
	free(body);
}

struct race_arg {
	struct md5memo *m;
	uint64_t seed;
};

/* Puts and gets keys whose value is derived from the key: a torn entry would show as a wrong
 * value. */
static void *
race_run(void *p)
{
	struct race_arg *a = p;
	uint8_t key[MD5MEMO_KEY_LEN];
	uint32_t h[4], got[4];
	int i;

	for (i = 0; i < 200000; i++) {
		uint64_t k = (a->seed * 1000003u + (uint64_t)i) % 5000;

		key_in_bucket(key, k % 64, k);
		state_of(h, (uint32_t)k);
		if (i % 3 == 0)
			md5memo_put(a->m, key, h);
		else if (md5memo_get(a->m, key, got))
			assert_memory_equal(got, h, sizeof(h));
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct md5memo *m = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 64);
	struct race_arg a[4];
	pthread_t th[4];
	int i;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < 4; i++) {
		a[i] = (struct race_arg){m, (uint64_t)i};
		assert_int_equal(pthread_create(&th[i], NULL, race_run, &a[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	md5memo_free(m);
}

/* A memo saved and loaded into a fresh one of the same size answers every lookup as the first
 * did, bucket order (what is dropped next) included; one with room for more holds every saved
 * fact. */
static void
test_save_load(void **state)
{
	char path[] = "/tmp/cairn-test-md5memo-XXXXXX";
	struct md5memo *m = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 16), *back, *big;
	uint8_t key[MD5MEMO_KEY_LEN];
	uint32_t h[4], got[4];
	uint64_t n, t;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_non_null(m);
	for (t = 0; t < 300; t++) { /* 300 facts in 16 buckets of 8: each bucket drops some */
		key_in_bucket(key, t % 16, t + 1);
		state_of(h, (uint32_t)t);
		md5memo_put(m, key, h);
	}
	assert_int_equal(md5memo_save(m, fd), 0);
	back = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 16);
	big = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 1024);
	assert_non_null(back);
	assert_non_null(big);
	assert_int_equal(md5memo_load(back, fd, &n), 0);
	assert_int_equal(md5memo_load(big, fd, NULL), 0);
	assert_int_equal(n, 16 * 8);
	/* the same next victim in both: a new fact in bucket 5 pushes out the same old one */
	key_in_bucket(key, 5, 1000);
	md5memo_put(m, key, h);
	md5memo_put(back, key, h);
	for (t = 0, n = 0; t < 300; t++) {
		bool had;

		key_in_bucket(key, t % 16, t + 1);
		had = md5memo_get(m, key, h);
		assert_int_equal(md5memo_get(back, key, got), had);
		if (had)
			assert_memory_equal(got, h, sizeof(h));
		if (md5memo_get(big, key, got)) /* every saved fact: big drops none */
			n++;
		else
			assert_false(had);
	}
	assert_int_equal(n, 16 * 8);
	close(fd);
	md5memo_free(m);
	md5memo_free(back);
	md5memo_free(big);
}

/* A file that is not whole and unaltered adds nothing: a flipped bit anywhere, a missing tail,
 * an empty file, another format. */
static void
test_load_damaged(void **state)
{
	char path[] = "/tmp/cairn-test-md5memo-XXXXXX";
	struct md5memo *m = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 16), *back;
	const off_t flips[] = {0, 9, 13, 17, 30, 64, 64 + 5, 64 + 8 * 32 * 16 - 1};
	uint8_t key[MD5MEMO_KEY_LEN], byte;
	uint32_t h[4], got[4];
	struct stat sb;
	uint64_t n;
	size_t i;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_non_null(m);
	for (uint64_t t = 0; t < 100; t++) {
		key_in_bucket(key, t % 16, t + 1);
		state_of(h, (uint32_t)t);
		md5memo_put(m, key, h);
	}
	assert_int_equal(md5memo_save(m, fd), 0);
	for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		back = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 16);
		assert_non_null(back);
		assert_int_equal(pread(fd, &byte, 1, flips[i]), 1);
		byte ^= 0x10;
		assert_int_equal(pwrite(fd, &byte, 1, flips[i]), 1);
		assert_int_equal(md5memo_load(back, fd, &n), CAIRN_E_CORRUPT);
		assert_int_equal(n, 0);
		key_in_bucket(key, 99 % 16, 100);
		assert_false(md5memo_get(back, key, got));
		byte ^= 0x10;
		assert_int_equal(pwrite(fd, &byte, 1, flips[i]), 1);
		assert_int_equal(md5memo_load(back, fd, &n), 0); /* whole again */
		assert_int_equal(n, 100);
		md5memo_free(back);
	}
	back = md5memo_new(MD5MEMO_ENTRY_BYTES * 8 * 16);
	assert_non_null(back);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(ftruncate(fd, sb.st_size - 32), 0);
	assert_int_equal(md5memo_load(back, fd, &n), CAIRN_E_CORRUPT);
	assert_int_equal(ftruncate(fd, 10), 0);
	assert_int_equal(md5memo_load(back, fd, &n), CAIRN_E_CORRUPT);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(md5memo_load(back, fd, &n), CAIRN_E_CORRUPT);
	close(fd);
	md5memo_free(m);
	md5memo_free(back);
}

/* A memo with few facts saves to a file of holes: little disk, and it loads back whole. */
static void
test_save_sparse(void **state)
{
	char path[] = "/tmp/cairn-test-md5memo-XXXXXX";
	struct md5memo *m = md5memo_new(4 << 20), *back = md5memo_new(4 << 20);
	uint8_t key[MD5MEMO_KEY_LEN];
	uint32_t h[4], got[4];
	struct stat sb;
	uint64_t n;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_non_null(m);
	assert_non_null(back);
	test_fill(key, sizeof(key), 9);
	state_of(h, 9);
	md5memo_put(m, key, h);
	assert_int_equal(md5memo_save(m, fd), 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_size, 64 + (4 << 20));
	assert_true((uint64_t)sb.st_blocks * 512 < (1u << 20));
	assert_int_equal(md5memo_load(back, fd, &n), 0);
	assert_int_equal(n, 1);
	assert_true(md5memo_get(back, key, got));
	assert_memory_equal(got, h, sizeof(h));
	close(fd);
	md5memo_free(m);
	md5memo_free(back);
}

/* The daemon's knobs: md5_memo, in bytes, 16 MiB by default, 0 allowed (off); md5_memo_save, in
 * seconds, 60 by default, 0 allowed (only at a clean stop), at most a day. */
static void
test_conf_knob(void **state)
{
	struct conf c;

	(void)state;
	conf_default(&c);
	assert_int_equal(c.md5_memo_bytes, 16u << 20);
	assert_int_equal(conf_set(&c, "md5_memo", "0"), 0);
	assert_int_equal(c.md5_memo_bytes, 0);
	assert_int_equal(conf_set(&c, "md5-memo", "1048576"), 0);
	assert_int_equal(c.md5_memo_bytes, 1u << 20);
	assert_int_equal(conf_set(&c, "md5_memo", "16M"), CAIRN_E_INVAL);
	assert_int_equal(c.md5_memo_bytes, 1u << 20);
	assert_int_equal(c.md5_memo_save_s, 60);
	assert_int_equal(conf_set(&c, "md5-memo-save", "0"), 0);
	assert_int_equal(c.md5_memo_save_s, 0);
	assert_int_equal(conf_set(&c, "md5_memo_save", "86400"), 0);
	assert_int_equal(c.md5_memo_save_s, 86400);
	assert_int_equal(conf_set(&c, "md5_memo_save", "86401"), CAIRN_E_INVAL);
	assert_int_equal(c.md5_memo_save_s, 86400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_sizes),	    cmocka_unit_test(test_put_get),
	    cmocka_unit_test(test_bucket_lru),	    cmocka_unit_test(test_key),
	    cmocka_unit_test(test_key_paths_agree), cmocka_unit_test(test_fact_replays),
	    cmocka_unit_test(test_threads),	    cmocka_unit_test(test_save_load),
	    cmocka_unit_test(test_load_damaged),    cmocka_unit_test(test_save_sparse),
	    cmocka_unit_test(test_conf_knob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
