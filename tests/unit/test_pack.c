/*
 * test_pack.c — records (round trips, every single-byte corruption, truncation, crafted headers),
 * the encoder's backoff, the pack store (rollover, reopen, scan of torn tails, bad locations,
 * concurrent appends and reads, group commit, sync errors, removal) and the file backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <xxhash.h>

#include "cairn/buf.h"
#include "cairn/chunk.h"
#include "cairn/chunker.h"
#include "cairn/err.h"
#include "cairn/pack.h"
#include "cairn/pack_io.h"

#define REC_MAX (PACK_HEADER_SIZE + CHUNKER_MAX_SIZE_CEIL + PACK_TRAILER_SIZE)
#define TEST_MAX_PACKS 4096

/* ---- data and helpers ---- */

static uint64_t
rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic, good enough for test data */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static void
fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1, v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rng_next(&s);
		p[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
}

/* Text-like bytes: words from a small vocabulary, so zstd finds plenty to squeeze. */
static void
fill_text(uint8_t *p, size_t len, uint64_t seed)
{
	static const char *const words[] = {"cairn ",  "object ", "store ", "chunk ", "pack ",
					    "record ", "the ",	  "of ",    "and ",   "index\n"};
	uint64_t s = seed + 7;
	size_t i = 0, n;
	const char *w;

	while (i < len) {
		w = words[rng_next(&s) % 10];
		n = strlen(w);
		if (n > len - i)
			n = len - i;
		memcpy(p + i, w, n);
		i += n;
	}
}

static void
encode(struct pack_encoder *enc, const uint8_t *raw, size_t len, struct buf *rec)
{
	struct chunk_id id;

	chunk_id_compute(raw, len, &id);
	assert_int_equal(pack_record_encode(enc, &id, raw, len, rec), 0);
}

/* Recomputes the trailer after a test altered the header on purpose. */
static void
reseal(uint8_t *rec, size_t len)
{
	uint64_t h = XXH3_64bits(rec, len - PACK_TRAILER_SIZE);
	int i;

	for (i = 0; i < 8; i++)
		rec[len - 8 + i] = (uint8_t)(h >> (8 * i));
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct tmp {
	char root[64];
	char packs[96];
};

static void
tmp_make(struct tmp *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/cairn-test-pack-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->packs, sizeof(t->packs), "%s/packs", t->root);
}

static void
tmp_remove(struct tmp *t)
{
	nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Per-test setup and teardown: a fresh temp dir as the state, removed even when a test fails. */
static int
tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	tmp_make(t);
	*state = t;
	return 0;
}

static int
tmp_teardown(void **state)
{
	tmp_remove(*state);
	free(*state);
	return 0;
}

static void
pack_path(const struct tmp *t, uint32_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/pack-%08" PRIx32 ".cpk", t->packs, id);
}

static bool
path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

static struct packstore *
store_open(const struct tmp *t, uint64_t max, bool writable)
{
	struct packstore *ps = NULL;
	struct pack_io *io;

	assert_int_equal(pack_io_file_open(t->packs, writable, &io), 0);
	assert_int_equal(packstore_open(io, max, writable, &ps), 0);
	return ps;
}

/* Reads loc back, decodes it with id verification and compares with want[len]. */
static int
read_back(struct packstore *ps, const struct chunk_loc *loc, const uint8_t *want, size_t len)
{
	struct buf rec, raw;
	int rc;

	buf_init(&rec, REC_MAX);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	rc = packstore_read(ps, loc, &rec);
	if (rc == 0)
		rc = pack_record_decode(rec.p, rec.len, true, &raw);
	if (rc == 0 && (raw.len != len || (len && memcmp(raw.p, want, len) != 0)))
		rc = -EBADMSG;
	buf_fini(&rec);
	buf_fini(&raw);
	return rc;
}

/* ---- a pack_io wrapping the file backend: counts syncs, injects errors, tracks durability ---- */

struct test_io {
	struct pack_io io;
	struct pack_io *inner;
	pthread_mutex_t lock;
	unsigned syncs;
	int fail_append; /* returned once by the next append */
	int fail_sync;	 /* returned once by the next sync */
	unsigned sync_delay_us;
	uint64_t appended[TEST_MAX_PACKS]; /* end of the last append per pack */
	uint64_t durable[TEST_MAX_PACKS];  /* bytes covered by a successful sync per pack */
};

static int
tio_append(struct pack_io *io, uint32_t id, uint64_t off, const void *p, size_t len)
{
	struct test_io *t = (struct test_io *)io;
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = t->fail_append;
	t->fail_append = 0;
	pthread_mutex_unlock(&t->lock);
	if (rc)
		return rc;
	rc = t->inner->ops->append(t->inner, id, off, p, len);
	pthread_mutex_lock(&t->lock);
	if (rc == 0 && id < TEST_MAX_PACKS)
		t->appended[id] = off + len;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static int
tio_read(struct pack_io *io, uint32_t id, uint64_t off, void *p, size_t len)
{
	struct test_io *t = (struct test_io *)io;

	return t->inner->ops->read(t->inner, id, off, p, len);
}

static int
tio_sync(struct pack_io *io, uint32_t id)
{
	struct test_io *t = (struct test_io *)io;
	uint64_t covered;
	int rc;

	pthread_mutex_lock(&t->lock);
	t->syncs++;
	covered = id < TEST_MAX_PACKS ? t->appended[id] : 0;
	rc = t->fail_sync;
	t->fail_sync = 0;
	pthread_mutex_unlock(&t->lock);
	if (rc)
		return rc;
	if (t->sync_delay_us)
		usleep(t->sync_delay_us);
	rc = t->inner->ops->sync(t->inner, id);
	pthread_mutex_lock(&t->lock);
	if (rc == 0 && id < TEST_MAX_PACKS && covered > t->durable[id])
		t->durable[id] = covered;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static int
tio_remove(struct pack_io *io, uint32_t id)
{
	struct test_io *t = (struct test_io *)io;

	return t->inner->ops->remove(t->inner, id);
}

static int
tio_last(struct pack_io *io, uint32_t *id, uint64_t *size)
{
	struct test_io *t = (struct test_io *)io;

	return t->inner->ops->last(t->inner, id, size);
}

static void
tio_close(struct pack_io *io)
{
	struct test_io *t = (struct test_io *)io;

	t->inner->ops->close(t->inner);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static const struct pack_io_ops tio_ops = {
    .append = tio_append,
    .read = tio_read,
    .sync = tio_sync,
    .remove = tio_remove,
    .last = tio_last,
    .close = tio_close,
};

/* Opens a writable store over a test_io; *tio stays valid until the store is closed. */
static struct packstore *
tio_store_open(const struct tmp *tmp, uint64_t max, struct test_io **tio)
{
	struct test_io *t = calloc(1, sizeof(*t));
	struct packstore *ps = NULL;

	assert_non_null(t);
	t->io.ops = &tio_ops;
	pthread_mutex_init(&t->lock, NULL);
	assert_int_equal(pack_io_file_open(tmp->packs, true, &t->inner), 0);
	assert_int_equal(packstore_open(&t->io, max, true, &ps), 0);
	*tio = t;
	return ps;
}

static bool
tio_is_durable(struct test_io *t, const struct chunk_loc *loc)
{
	bool ok;

	pthread_mutex_lock(&t->lock);
	ok = loc->pack_id < TEST_MAX_PACKS &&
	     t->durable[loc->pack_id] >= loc->offset + loc->record_len;
	pthread_mutex_unlock(&t->lock);
	return ok;
}

/* ---- records ---- */

static void
test_record_roundtrip(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 100, 4096, 65536, 256 << 10};
	static const int levels[] = {0, 1, 3, 19};
	struct pack_record_info info;
	struct buf rec, raw;
	uint8_t *data = malloc(256 << 10);
	size_t si, li, kind;

	(void)state;
	assert_non_null(data);
	buf_init(&rec, REC_MAX);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	for (li = 0; li < 4; li++) {
		struct pack_encoder *enc = pack_encoder_new(levels[li]);

		for (si = 0; si < 7; si++) {
			for (kind = 0; kind < 3; kind++) {
				size_t n = sizes[si];

				if (kind == 0)
					fill_text(data, n, si);
				else if (kind == 1)
					fill_random(data, n, si);
				else
					memset(data, 0, n);
				encode(enc, data, n, &rec);
				assert_int_equal(pack_record_check(rec.p, rec.len, &info), 0);
				assert_int_equal(info.raw_len, n);
				assert_int_equal(info.record_len, rec.len);
				assert_int_equal(rec.len, PACK_HEADER_SIZE + info.stored_len +
							      PACK_TRAILER_SIZE);
				assert_true(info.stored_len <= n);
				/* What should compress does; what should not, does not. */
				if (levels[li] == 0 || kind == 1 || n < 64)
					assert_int_equal(info.flags, 0);
				else if (n >= 4096)
					assert_int_equal(info.flags, PACK_FLAG_ZSTD);
				assert_int_equal(pack_record_decode(rec.p, rec.len, true, &raw), 0);
				assert_int_equal(raw.len, n);
				assert_true(n == 0 || memcmp(raw.p, data, n) == 0);
			}
		}
		pack_encoder_free(enc);
	}
	buf_fini(&rec);
	buf_fini(&raw);
	free(data);
}

/* Flips every byte of rec (three ways) and expects check and decode to refuse each. */
static void
corrupt_each_byte(const struct buf *rec)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	struct pack_record_info info;
	uint8_t *copy = malloc(rec->len);
	struct buf raw;
	size_t i, m;
	int rc;

	assert_non_null(copy);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	for (i = 0; i < rec->len; i++) {
		for (m = 0; m < 3; m++) {
			memcpy(copy, rec->p, rec->len);
			copy[i] ^= masks[m];
			rc = pack_record_check(copy, rec->len, &info);
			assert_true(rc == CAIRN_E_CORRUPT || rc == CAIRN_E_VERSION);
			rc = pack_record_decode(copy, rec->len, false, &raw);
			assert_true(rc == CAIRN_E_CORRUPT || rc == CAIRN_E_VERSION);
		}
	}
	buf_fini(&raw);
	free(copy);
}

static void
test_record_corrupt_each_byte(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct pack_record_info info;
	struct buf rec;
	uint8_t data[300];

	(void)state;
	buf_init(&rec, REC_MAX);
	fill_text(data, sizeof(data), 1);
	encode(enc, data, sizeof(data), &rec);
	assert_int_equal(pack_record_check(rec.p, rec.len, &info), 0);
	assert_int_equal(info.flags, PACK_FLAG_ZSTD);
	corrupt_each_byte(&rec);
	fill_random(data, 100, 2);
	encode(enc, data, 100, &rec);
	assert_int_equal(pack_record_check(rec.p, rec.len, &info), 0);
	assert_int_equal(info.flags, 0);
	corrupt_each_byte(&rec);
	encode(enc, data, 0, &rec);
	corrupt_each_byte(&rec);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

static void
test_record_truncated(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct pack_record_info info;
	struct buf rec, raw;
	uint8_t data[2000];
	size_t n;

	(void)state;
	buf_init(&rec, REC_MAX);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	fill_text(data, sizeof(data), 3);
	encode(enc, data, sizeof(data), &rec);
	for (n = 0; n < rec.len; n++) {
		assert_int_equal(pack_record_check(rec.p, n, &info), CAIRN_E_CORRUPT);
		assert_int_equal(pack_record_decode(rec.p, n, false, &raw), CAIRN_E_CORRUPT);
	}
	/* One byte too many is as wrong as one too few. */
	assert_int_equal(buf_append(&rec, "x", 1), 0);
	assert_int_equal(pack_record_check(rec.p, rec.len, &info), CAIRN_E_CORRUPT);
	buf_fini(&rec);
	buf_fini(&raw);
	pack_encoder_free(enc);
}

/* Records whose checksum is right but whose header is not. */
static void
test_record_crafted(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct pack_record_info info;
	struct buf rec, raw;
	uint8_t data[4096], *c;
	size_t len;

	(void)state;
	buf_init(&rec, REC_MAX);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	fill_text(data, sizeof(data), 4);
	encode(enc, data, sizeof(data), &rec);
	len = rec.len;
	c = malloc(len);
	assert_non_null(c);

	/* version from the future */
	memcpy(c, rec.p, len);
	c[4] = 2;
	reseal(c, len);
	assert_int_equal(pack_record_check(c, len, &info), CAIRN_E_VERSION);
	/* unknown flag, reserved bits */
	memcpy(c, rec.p, len);
	c[5] |= 2;
	reseal(c, len);
	assert_int_equal(pack_record_check(c, len, &info), CAIRN_E_CORRUPT);
	memcpy(c, rec.p, len);
	c[7] = 1;
	reseal(c, len);
	assert_int_equal(pack_record_check(c, len, &info), CAIRN_E_CORRUPT);
	/* raw_len beyond any chunk */
	memcpy(c, rec.p, len);
	put32(c + 8, CHUNKER_MAX_SIZE_CEIL + 1);
	reseal(c, len);
	assert_int_equal(pack_record_check(c, len, &info), CAIRN_E_CORRUPT);
	/* raw payload whose stored_len differs from raw_len */
	memcpy(c, rec.p, len);
	c[5] = 0;
	reseal(c, len);
	assert_int_equal(pack_record_check(c, len, &info), CAIRN_E_CORRUPT);
	/* a frame that decompresses to another size than raw_len says */
	memcpy(c, rec.p, len);
	put32(c + 8, sizeof(data) + 1);
	reseal(c, len);
	assert_int_equal(pack_record_check(c, len, &info), 0);
	assert_int_equal(pack_record_decode(c, len, false, &raw), CAIRN_E_CORRUPT);
	memcpy(c, rec.p, len);
	put32(c + 8, sizeof(data) - 1);
	reseal(c, len);
	assert_int_equal(pack_record_decode(c, len, false, &raw), CAIRN_E_CORRUPT);
	/* garbage where the zstd frame should be */
	memcpy(c, rec.p, len);
	fill_random(c + PACK_HEADER_SIZE, len - PACK_HEADER_SIZE - PACK_TRAILER_SIZE, 5);
	reseal(c, len);
	assert_int_equal(pack_record_decode(c, len, false, &raw), CAIRN_E_CORRUPT);
	free(c);
	buf_fini(&rec);
	buf_fini(&raw);
	pack_encoder_free(enc);
}

static void
test_record_verify_id(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct chunk_id wrong;
	struct buf rec, raw;
	uint8_t data[8192];
	int kind;

	(void)state;
	buf_init(&rec, REC_MAX);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	for (kind = 0; kind < 2; kind++) {
		if (kind == 0)
			fill_text(data, sizeof(data), 6);
		else
			fill_random(data, sizeof(data), 6);
		chunk_id_compute((const uint8_t *)"other", 5, &wrong);
		assert_int_equal(pack_record_encode(enc, &wrong, data, sizeof(data), &rec), 0);
		assert_int_equal(pack_record_decode(rec.p, rec.len, false, &raw), 0);
		assert_memory_equal(raw.p, data, sizeof(data));
		assert_int_equal(pack_record_decode(rec.p, rec.len, true, &raw), CAIRN_E_CORRUPT);
	}
	buf_fini(&rec);
	buf_fini(&raw);
	pack_encoder_free(enc);
}

static void
test_record_toobig(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(1);
	uint8_t *big = calloc(1, CHUNKER_MAX_SIZE_CEIL + 1);
	struct chunk_id id = {{0}};
	struct buf rec, small;

	(void)state;
	assert_non_null(big);
	buf_init(&rec, REC_MAX);
	buf_init(&small, 100);
	assert_int_equal(pack_record_encode(enc, &id, big, CHUNKER_MAX_SIZE_CEIL + 1, &rec),
			 CAIRN_E_TOOBIG);
	assert_int_equal(pack_record_encode(enc, &id, big, 1000, &small), CAIRN_E_TOOBIG);
	/* the largest chunk there can be still fits */
	encode(enc, big, CHUNKER_MAX_SIZE_CEIL, &rec);
	assert_int_equal(pack_record_decode(rec.p, rec.len, false, &small), CAIRN_E_TOOBIG);
	buf_fini(&rec);
	buf_fini(&small);
	free(big);
	pack_encoder_free(enc);
}

/* ---- encoder backoff ---- */

static void
encode_many(struct pack_encoder *enc, int kind, unsigned n, uint64_t seed)
{
	const size_t len = 64 << 10;
	uint8_t *data = malloc(len);
	struct buf rec, raw;
	unsigned i, j;

	assert_non_null(data);
	buf_init(&rec, REC_MAX);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	for (i = 0; i < n; i++) {
		if (kind == 0)
			fill_text(data, len, seed + i);
		else if (kind == 1)
			fill_random(data, len, seed + i);
		/* kind 2: an 8 KiB random block repeated, redundant only at long range */
		for (j = 0; kind == 2 && j < 8; j++) {
			if (j == 0)
				fill_random(data, 8192, seed + i);
			else
				memcpy(data + 8192 * j, data, 8192);
		}
		encode(enc, data, len, &rec);
		assert_int_equal(pack_record_decode(rec.p, rec.len, true, &raw), 0);
		assert_memory_equal(raw.p, data, len);
	}
	buf_fini(&rec);
	buf_fini(&raw);
	free(data);
}

static void
test_encoder_backoff(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct pack_encoder_stats st;

	(void)state;
	/* A random stream: after two misses, chunks are probed, not compressed in full. */
	encode_many(enc, 1, 40, 100);
	pack_encoder_get_stats(enc, &st);
	assert_int_equal(st.chunks, 40);
	assert_int_equal(st.compressed, 0);
	assert_true(st.skipped >= 30);
	assert_true(st.probes >= st.skipped);
	/* Turning compressible: the first probe says yes, every chunk compresses. */
	encode_many(enc, 0, 10, 200);
	pack_encoder_get_stats(enc, &st);
	assert_int_equal(st.compressed, 10);
	/* Random again, then data the probes cannot see through: a periodic full attempt finds
	 * it within PACK_REPROBE_EVERY (16) chunks, and then it all compresses. */
	encode_many(enc, 1, 10, 300);
	encode_many(enc, 2, 40, 400);
	pack_encoder_get_stats(enc, &st);
	assert_true(st.compressed >= 10 + 40 - 16);
	pack_encoder_free(enc);

	/* Without the backoff every chunk gets a full attempt. */
	enc = pack_encoder_new(3);
	pack_encoder_set_adaptive(enc, false);
	encode_many(enc, 1, 20, 500);
	pack_encoder_get_stats(enc, &st);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.probes, 0);
	assert_int_equal(st.compressed, 0);
	pack_encoder_free(enc);
}

/* ---- pack store ---- */

static void
test_packstore_basic(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct chunk_loc locs[20];
	uint8_t data[20][3000];
	uint64_t expect = 0;
	struct tmp *t = *state;
	struct packstore *ps;
	struct stat st;
	char path[160];
	struct buf rec;
	int i;

	(void)state;
	ps = store_open(t, 0, true);
	buf_init(&rec, REC_MAX);
	for (i = 0; i < 20; i++) {
		if (i % 2)
			fill_text(data[i], sizeof(data[i]), (uint64_t)i);
		else
			fill_random(data[i], sizeof(data[i]), (uint64_t)i);
		encode(enc, data[i], (size_t)(i * 150), &rec);
		assert_int_equal(packstore_append(ps, rec.p, rec.len, &locs[i]), 0);
		assert_int_equal(locs[i].pack_id, 1);
		assert_int_equal(locs[i].offset, expect);
		assert_int_equal(locs[i].record_len, rec.len);
		assert_int_equal(locs[i].raw_len, i * 150);
		expect += rec.len;
	}
	assert_int_equal(packstore_sync(ps), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(read_back(ps, &locs[i], data[i], (size_t)(i * 150)), 0);
	/* A malformed record is refused, not appended. */
	assert_int_equal(packstore_append(ps, rec.p, 10, &locs[0]), CAIRN_E_INVAL);
	pack_path(t, 1, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((uint64_t)st.st_size, expect);
	assert_int_equal(stat(t->packs, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

static void
test_packstore_rollover(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(0);
	static uint8_t data[31][20000];
	struct chunk_loc locs[31];
	uint64_t size[16] = {0};
	struct packstore *ps;
	struct buf rec;
	struct tmp *t = *state;
	int i;

	(void)state;
	ps = store_open(t, 16 << 10, true);
	buf_init(&rec, REC_MAX);
	for (i = 0; i < 31; i++) {
		size_t n = i == 30 ? 20000 : 3000;

		fill_random(data[i], n, (uint64_t)i + 50);
		encode(enc, data[i], n, &rec);
		assert_int_equal(packstore_append(ps, rec.p, rec.len, &locs[i]), 0);
		assert_true(locs[i].pack_id < 16);
		assert_int_equal(locs[i].offset, size[locs[i].pack_id]);
		size[locs[i].pack_id] += rec.len;
	}
	/* 3000-byte chunks make 3056-byte records: five fit in 16 KiB. */
	assert_int_equal(locs[5].pack_id, 2);
	assert_int_equal(locs[29].pack_id, 6);
	/* A record larger than a pack gets one to itself. */
	assert_int_equal(locs[30].pack_id, 7);
	assert_int_equal(locs[30].offset, 0);
	for (i = 1; i <= 6; i++)
		assert_true(size[i] <= 16 << 10);
	for (i = 0; i < 31; i++)
		assert_int_equal(read_back(ps, &locs[i], data[i], i == 30 ? 20000 : 3000), 0);
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

static void
test_packstore_reopen(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct chunk_loc a, b, c;
	uint8_t data[5000];
	struct packstore *ps;
	struct buf rec;
	struct tmp *t = *state;

	(void)state;
	fill_text(data, sizeof(data), 9);
	buf_init(&rec, REC_MAX);
	encode(enc, data, sizeof(data), &rec);
	ps = store_open(t, 0, true);
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &a), 0);
	assert_int_equal(packstore_sync(ps), 0);
	packstore_close(ps);
	/* A writable reopen starts a new pack; the old one stays readable. */
	ps = store_open(t, 0, true);
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &b), 0);
	assert_int_equal(a.pack_id, 1);
	assert_int_equal(b.pack_id, 2);
	assert_int_equal(b.offset, 0);
	assert_int_equal(read_back(ps, &a, data, sizeof(data)), 0);
	packstore_close(ps);
	/* A reopen that appends nothing creates no pack, so the next one still is 3. */
	ps = store_open(t, 0, true);
	packstore_close(ps);
	ps = store_open(t, 0, false);
	assert_int_equal(read_back(ps, &b, data, sizeof(data)), 0);
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &c), CAIRN_E_READONLY);
	assert_int_equal(packstore_remove(ps, 1), CAIRN_E_READONLY);
	assert_int_equal(packstore_sync(ps), 0);
	packstore_close(ps);
	ps = store_open(t, 0, true);
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &c), 0);
	assert_int_equal(c.pack_id, 3);
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

struct scan_log {
	unsigned n;
	unsigned stop_at; /* return 7 at this record (1-based); 0 never */
	uint64_t offsets[16];
	uint32_t raw_lens[16];
};

static int
scan_cb(const struct pack_record_info *info, uint64_t offset, void *arg)
{
	struct scan_log *log = arg;

	if (log->n < 16) {
		log->offsets[log->n] = offset;
		log->raw_lens[log->n] = info->raw_len;
	}
	log->n++;
	return log->n == log->stop_at ? 7 : 0;
}

static int
scan(struct packstore *ps, uint32_t id, unsigned stop_at, struct scan_log *log, uint64_t *end)
{
	memset(log, 0, sizeof(*log));
	log->stop_at = stop_at;
	return packstore_scan(ps, id, scan_cb, log, end);
}

/* Writes five records to pack 1 of a fresh store; returns their locations. */
static void
scan_setup(const struct tmp *t, struct chunk_loc locs[5])
{
	struct pack_encoder *enc = pack_encoder_new(3);
	struct packstore *ps = store_open(t, 0, true);
	uint8_t data[3000];
	struct buf rec;
	int i;

	buf_init(&rec, REC_MAX);
	for (i = 0; i < 5; i++) {
		fill_text(data, sizeof(data), (uint64_t)i + 20);
		encode(enc, data, 1000 + 400 * (size_t)i, &rec);
		assert_int_equal(packstore_append(ps, rec.p, rec.len, &locs[i]), 0);
	}
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

static void
test_packstore_scan(void **state)
{
	struct chunk_loc locs[5];
	struct scan_log log;
	struct packstore *ps;
	uint64_t end, size;
	struct tmp *t = *state;
	int i;

	(void)state;
	scan_setup(t, locs);
	size = locs[4].offset + locs[4].record_len;
	ps = store_open(t, 0, false);
	assert_int_equal(scan(ps, 1, 0, &log, &end), 0);
	assert_int_equal(log.n, 5);
	assert_int_equal(end, size);
	for (i = 0; i < 5; i++) {
		assert_int_equal(log.offsets[i], locs[i].offset);
		assert_int_equal(log.raw_lens[i], 1000 + 400 * i);
	}
	assert_int_equal(scan(ps, 1, 3, &log, &end), 7);
	assert_int_equal(end, locs[2].offset + locs[2].record_len);
	assert_int_equal(scan(ps, 9, 0, &log, &end), -ENOENT);
	packstore_close(ps);
}

static void
test_packstore_scan_torn(void **state)
{
	struct chunk_loc locs[5], l;
	struct scan_log log;
	struct packstore *ps;
	char path[160];
	struct buf rec;
	struct tmp *t = *state;
	uint64_t end;

	(void)state;
	scan_setup(t, locs);
	/* Torn tails: mid-payload, mid-header, and a cut exactly between records. */
	pack_path(t, 1, path, sizeof(path));
	assert_int_equal(truncate(path, (off_t)(locs[3].offset + 100)), 0);
	ps = store_open(t, 0, false);
	assert_int_equal(scan(ps, 1, 0, &log, &end), CAIRN_E_CORRUPT);
	assert_int_equal(log.n, 3);
	assert_int_equal(end, locs[3].offset);
	assert_int_equal(truncate(path, (off_t)(locs[3].offset + 10)), 0);
	assert_int_equal(scan(ps, 1, 0, &log, &end), CAIRN_E_CORRUPT);
	assert_int_equal(end, locs[3].offset);
	/* the torn record reads as corrupt through its location too */
	buf_init(&rec, REC_MAX);
	assert_int_equal(packstore_read(ps, &locs[3], &rec), CAIRN_E_CORRUPT);
	assert_int_equal(truncate(path, (off_t)locs[3].offset), 0);
	assert_int_equal(scan(ps, 1, 0, &log, &end), 0);
	assert_int_equal(log.n, 3);
	assert_int_equal(end, locs[3].offset);
	packstore_close(ps);

	/* Damage in the middle stops the scan there. */
	{
		FILE *f = fopen(path, "r+b");

		assert_non_null(f);
		assert_int_equal(fseek(f, (long)locs[1].offset + 60, SEEK_SET), 0);
		assert_int_equal(fputc('!', f), '!');
		assert_int_equal(fclose(f), 0);
	}
	ps = store_open(t, 0, true);
	assert_int_equal(scan(ps, 1, 0, &log, &end), CAIRN_E_CORRUPT);
	assert_int_equal(log.n, 1);
	assert_int_equal(end, locs[1].offset);
	/* The torn pack is never appended to again. */
	{
		uint8_t d[10] = {0};
		struct pack_encoder *enc = pack_encoder_new(0);

		encode(enc, d, sizeof(d), &rec);
		assert_int_equal(packstore_append(ps, rec.p, rec.len, &l), 0);
		assert_int_equal(l.pack_id, 2);
		pack_encoder_free(enc);
	}
	packstore_close(ps);
	buf_fini(&rec);
}

static void
test_packstore_bad_loc(void **state)
{
	struct chunk_loc locs[5], l;
	struct packstore *ps;
	struct buf rec, small;
	struct tmp *t = *state;

	(void)state;
	scan_setup(t, locs);
	ps = store_open(t, 0, false);
	buf_init(&rec, REC_MAX);
	buf_init(&small, 64);
	assert_int_equal(packstore_read(ps, &locs[2], &rec), 0);
	l = locs[2];
	l.record_len++;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	assert_int_equal(rec.len, 0);
	l = locs[2];
	l.record_len--;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	l = locs[2];
	l.offset++;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	l = locs[2];
	l.raw_len++;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	l = locs[2];
	l.record_len = UINT32_MAX;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	l.record_len = 3;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	l = locs[4];
	l.offset += l.record_len;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	l.offset = UINT64_MAX - 10;
	assert_int_equal(packstore_read(ps, &l, &rec), CAIRN_E_CORRUPT);
	l = locs[2];
	l.pack_id = 77;
	assert_int_equal(packstore_read(ps, &l, &rec), -ENOENT);
	assert_int_equal(packstore_read(ps, &locs[2], &small), CAIRN_E_TOOBIG);
	packstore_close(ps);
	buf_fini(&rec);
	buf_fini(&small);
}

/* ---- concurrency ---- */

#define CONC_THREADS 4
#define CONC_RECORDS 150

struct conc_arg {
	struct packstore *ps;
	struct test_io *tio;
	unsigned thread;
	struct chunk_loc locs[CONC_RECORDS];
	atomic_int *failures;
};

static size_t
conc_len(unsigned thread, unsigned i)
{
	return 100 + (thread * 7919 + i * 104729) % 2900;
}

static void
conc_data(unsigned thread, unsigned i, uint8_t *p, size_t len)
{
	if (i % 3 == 0)
		fill_random(p, len, thread * 1000 + i);
	else
		fill_text(p, len, thread * 1000 + i);
}

static void
conc_fail(struct conc_arg *a, const char *what, unsigned i, int rc)
{
	fprintf(stderr, "thread %u record %u: %s (%d)\n", a->thread, i, what, rc);
	atomic_fetch_add(a->failures, 1);
}

/* Appends records, reads back an earlier one after each, syncs every tenth and checks that the
 * sync really covered everything this thread appended. */
static void *
conc_worker(void *p)
{
	struct conc_arg *a = p;
	struct pack_encoder *enc = pack_encoder_new(1);
	uint8_t data[3000];
	struct chunk_id id;
	struct buf rec;
	unsigned i, j, k;
	size_t n;
	int rc;

	buf_init(&rec, REC_MAX);
	for (i = 0; i < CONC_RECORDS; i++) {
		n = conc_len(a->thread, i);
		conc_data(a->thread, i, data, n);
		chunk_id_compute(data, n, &id);
		pack_record_encode(enc, &id, data, n, &rec);
		rc = packstore_append(a->ps, rec.p, rec.len, &a->locs[i]);
		if (rc < 0)
			conc_fail(a, "append", i, rc);
		j = (i * 31) % (i + 1);
		n = conc_len(a->thread, j);
		conc_data(a->thread, j, data, n);
		rc = read_back(a->ps, &a->locs[j], data, n);
		if (rc < 0)
			conc_fail(a, "read back", j, rc);
		if (i % 10 != 9)
			continue;
		rc = packstore_sync(a->ps);
		if (rc < 0)
			conc_fail(a, "sync", i, rc);
		for (k = 0; k <= i; k++) {
			if (!tio_is_durable(a->tio, &a->locs[k]))
				conc_fail(a, "not durable after sync", k, 0);
		}
	}
	buf_fini(&rec);
	pack_encoder_free(enc);
	return NULL;
}

static int
loc_cmp(const void *x, const void *y)
{
	const struct chunk_loc *a = x, *b = y;

	if (a->pack_id != b->pack_id)
		return a->pack_id < b->pack_id ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* The records of all threads tile each pack from offset 0 without a gap or an overlap. */
static void
check_tiling(struct conc_arg *args, unsigned nthreads)
{
	size_t n = (size_t)nthreads * CONC_RECORDS, i;
	struct chunk_loc *all = malloc(n * sizeof(*all));
	uint64_t end = 0;

	assert_non_null(all);
	for (i = 0; i < n; i++)
		all[i] = args[i / CONC_RECORDS].locs[i % CONC_RECORDS];
	qsort(all, n, sizeof(*all), loc_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && all[i].pack_id != all[i - 1].pack_id)
			end = 0;
		assert_int_equal(all[i].offset, end);
		end += all[i].record_len;
	}
	assert_true(all[n - 1].pack_id > 10);
	free(all);
}

static void
test_packstore_concurrent(void **state)
{
	struct conc_arg args[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	atomic_int failures = 0;
	struct test_io *tio;
	struct packstore *ps;
	uint8_t data[3000];
	struct tmp *t = *state;
	unsigned i, j;

	(void)state;
	ps = tio_store_open(t, 16 << 10, &tio);
	for (i = 0; i < CONC_THREADS; i++) {
		args[i] =
		    (struct conc_arg){.ps = ps, .tio = tio, .thread = i, .failures = &failures};
		assert_int_equal(pthread_create(&th[i], NULL, conc_worker, &args[i]), 0);
	}
	for (i = 0; i < CONC_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	check_tiling(args, CONC_THREADS);
	for (i = 0; i < CONC_THREADS; i++) {
		for (j = 0; j < CONC_RECORDS; j++) {
			size_t n = conc_len(i, j);

			conc_data(i, j, data, n);
			assert_int_equal(read_back(ps, &args[i].locs[j], data, n), 0);
		}
	}
	packstore_close(ps);
}

#define GC_THREADS 8
#define GC_ROUNDS 10

struct gc_arg {
	struct packstore *ps;
	struct test_io *tio;
	atomic_int *failures;
	unsigned thread;
};

static void *
gc_worker(void *p)
{
	struct gc_arg *a = p;
	struct pack_encoder *enc = pack_encoder_new(0);
	struct chunk_loc loc;
	uint8_t data[500];
	struct chunk_id id;
	struct buf rec;
	unsigned i;

	buf_init(&rec, REC_MAX);
	for (i = 0; i < GC_ROUNDS; i++) {
		fill_random(data, sizeof(data), a->thread * 100 + i);
		chunk_id_compute(data, sizeof(data), &id);
		pack_record_encode(enc, &id, data, sizeof(data), &rec);
		if (packstore_append(a->ps, rec.p, rec.len, &loc) != 0 ||
		    packstore_sync(a->ps) != 0 || !tio_is_durable(a->tio, &loc))
			atomic_fetch_add(a->failures, 1);
	}
	buf_fini(&rec);
	pack_encoder_free(enc);
	return NULL;
}

static void
test_packstore_group_commit(void **state)
{
	struct gc_arg args[GC_THREADS];
	pthread_t th[GC_THREADS];
	atomic_int failures = 0;
	struct test_io *tio;
	struct packstore *ps;
	struct tmp *t = *state;
	unsigned i, syncs;

	(void)state;
	ps = tio_store_open(t, 0, &tio);
	/* A slow disk: while one fdatasync runs, the others queue up behind it. */
	tio->sync_delay_us = 3000;
	for (i = 0; i < GC_THREADS; i++) {
		args[i] = (struct gc_arg){.ps = ps, .tio = tio, .failures = &failures, .thread = i};
		assert_int_equal(pthread_create(&th[i], NULL, gc_worker, &args[i]), 0);
	}
	for (i = 0; i < GC_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	syncs = tio->syncs;
	print_message("group commit: %u fdatasyncs for %u syncs\n", syncs, GC_THREADS * GC_ROUNDS);
	assert_true(syncs >= 1);
	assert_true(syncs < GC_THREADS * GC_ROUNDS / 2);
	/* Nothing appended since: a sync costs nothing. */
	assert_int_equal(packstore_sync(ps), 0);
	assert_int_equal(tio->syncs, syncs);
	packstore_close(ps);
}

/* One sync covers every pack that rolled over with unsynced bytes. */
static void
test_packstore_sync_rollover(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(0);
	struct chunk_loc locs[10];
	struct test_io *tio;
	struct packstore *ps;
	uint8_t data[1500];
	struct buf rec;
	struct tmp *t = *state;
	int i;

	(void)state;
	ps = tio_store_open(t, 4096, &tio);
	buf_init(&rec, REC_MAX);
	for (i = 0; i < 10; i++) {
		fill_random(data, sizeof(data), (uint64_t)i);
		encode(enc, data, sizeof(data), &rec);
		assert_int_equal(packstore_append(ps, rec.p, rec.len, &locs[i]), 0);
	}
	assert_int_equal(locs[9].pack_id, 5);
	assert_int_equal(tio->syncs, 0);
	assert_int_equal(packstore_sync(ps), 0);
	assert_int_equal(tio->syncs, 5);
	for (i = 0; i < 10; i++)
		assert_true(tio_is_durable(tio, &locs[i]));
	/* A pack removed before the sync is dropped from it. */
	for (i = 0; i < 3; i++)
		assert_int_equal(packstore_append(ps, rec.p, rec.len, &locs[i]), 0);
	assert_int_equal(locs[0].pack_id, 6);
	assert_int_equal(locs[1].pack_id, 6);
	assert_int_equal(locs[2].pack_id, 7);
	assert_int_equal(packstore_remove(ps, 6), 0);
	assert_int_equal(packstore_sync(ps), 0);
	assert_int_equal(tio->syncs, 6);
	assert_true(tio_is_durable(tio, &locs[2]));
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

static void
test_packstore_io_errors(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(0);
	struct chunk_loc loc;
	struct test_io *tio;
	struct packstore *ps;
	uint8_t data[100] = {1};
	struct buf rec;
	struct tmp *t = *state;

	(void)state;
	buf_init(&rec, REC_MAX);
	encode(enc, data, sizeof(data), &rec);
	ps = tio_store_open(t, 0, &tio);
	/* A failed append to an empty pack leaves it usable from offset 0 ... */
	tio->fail_append = -ENOSPC;
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &loc), -ENOSPC);
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &loc), 0);
	assert_int_equal(loc.pack_id, 1);
	assert_int_equal(loc.offset, 0);
	/* ... one that fails after others moves on to a new pack. */
	tio->fail_append = -ENOSPC;
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &loc), -ENOSPC);
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &loc), 0);
	assert_int_equal(loc.pack_id, 2);
	assert_int_equal(loc.offset, 0);
	assert_int_equal(read_back(ps, &loc, data, sizeof(data)), 0);
	/* A failed sync sticks. */
	tio->fail_sync = -EIO;
	assert_int_equal(packstore_sync(ps), -EIO);
	assert_int_equal(packstore_sync(ps), -EIO);
	assert_int_equal(packstore_append(ps, rec.p, rec.len, &loc), -EIO);
	assert_int_equal(read_back(ps, &loc, data, sizeof(data)), 0);
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

static void
test_packstore_remove(void **state)
{
	struct pack_encoder *enc = pack_encoder_new(0);
	struct chunk_loc locs[4];
	struct packstore *ps;
	uint8_t data[3000];
	char path[160];
	struct buf rec;
	struct tmp *t = *state;
	int i;

	(void)state;
	ps = store_open(t, 4096, true);
	buf_init(&rec, REC_MAX);
	for (i = 0; i < 4; i++) {
		fill_random(data, sizeof(data), (uint64_t)i);
		encode(enc, data, sizeof(data), &rec);
		assert_int_equal(packstore_append(ps, rec.p, rec.len, &locs[i]), 0);
		assert_int_equal(locs[i].pack_id, i + 1);
	}
	assert_int_equal(packstore_remove(ps, 1), 0);
	pack_path(t, 1, path, sizeof(path));
	assert_false(path_exists(path));
	assert_int_equal(read_back(ps, &locs[0], data, sizeof(data)), -ENOENT);
	assert_int_equal(packstore_remove(ps, 1), CAIRN_E_NOTFOUND);
	assert_int_equal(packstore_remove(ps, 4), CAIRN_E_INVAL);
	assert_int_equal(packstore_remove(ps, 5), CAIRN_E_INVAL);
	assert_int_equal(packstore_remove(ps, 0), CAIRN_E_INVAL);
	assert_int_equal(read_back(ps, &locs[3], data, sizeof(data)), 0);
	assert_int_equal(packstore_remove(ps, 3), 0);
	assert_int_equal(packstore_sync(ps), 0);
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
}

/* ---- the file backend itself ---- */

static void
touch(const struct tmp *t, const char *name)
{
	char path[200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->packs, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void
test_file_io(void **state)
{
	struct pack_io *io, *ro;
	uint8_t buf[64] = {0}, back[64];
	uint64_t size;
	char path[200];
	struct tmp *t = *state;
	uint32_t id;
	unsigned i;

	(void)state;
	assert_int_equal(pack_io_file_open(t->packs, false, &ro), -ENOENT);
	snprintf(path, sizeof(path), "%s/no/such", t->root);
	assert_int_equal(pack_io_file_open(path, true, &io), -ENOENT);
	assert_int_equal(pack_io_file_open(t->packs, true, &io), 0);
	assert_int_equal(io->ops->last(io, &id, &size), 0);
	assert_int_equal(id, 0);
	assert_int_equal(io->ops->append(io, 0x2a, 0, "hello", 5), 0);
	snprintf(path, sizeof(path), "%s/pack-0000002a.cpk", t->packs);
	assert_true(path_exists(path));
	touch(t, "pack-0000002g.cpk");
	touch(t, "pack-000000ff.cpk.tmp");
	touch(t, "pack-000000FF.cpk");
	touch(t, "pack-00000000.cpk");
	touch(t, "other");
	assert_int_equal(io->ops->last(io, &id, &size), 0);
	assert_int_equal(id, 0x2a);
	assert_int_equal(size, 5);
	assert_int_equal(io->ops->read(io, 0x2a, 1, back, 4), 0);
	assert_memory_equal(back, "ello", 4);
	assert_int_equal(io->ops->read(io, 0x2a, 3, back, 4), CAIRN_E_CORRUPT);
	assert_int_equal(io->ops->read(io, 0x2a, 5, back, 1), CAIRN_E_CORRUPT);
	assert_int_equal(io->ops->read(io, 0x2a, 6, back, 1), CAIRN_E_CORRUPT);
	assert_int_equal(io->ops->read(io, 0x2b, 0, back, 1), -ENOENT);
	assert_int_equal(io->ops->sync(io, 0x2a), 0);
	assert_int_equal(io->ops->sync(io, 0x2b), CAIRN_E_NOTFOUND);
	assert_int_equal(io->ops->remove(io, 0x2b), CAIRN_E_NOTFOUND);
	/* More packs than the descriptor cache holds. */
	for (i = 1; i <= 40; i++) {
		buf[0] = (uint8_t)i;
		assert_int_equal(io->ops->append(io, i, 0, buf, sizeof(buf)), 0);
	}
	for (i = 1; i <= 40; i++) {
		assert_int_equal(io->ops->read(io, i, 0, back, sizeof(back)), 0);
		assert_int_equal(back[0], i);
		assert_int_equal(io->ops->sync(io, i), 0);
	}
	assert_int_equal(pack_io_file_open(t->packs, false, &ro), 0);
	assert_int_equal(ro->ops->append(ro, 0x50, 0, buf, 1), -EROFS);
	assert_int_equal(ro->ops->remove(ro, 0x2a), -EROFS);
	assert_int_equal(ro->ops->read(ro, 0x2a, 0, back, 5), 0);
	assert_int_equal(io->ops->remove(io, 0x2a), 0);
	assert_false(path_exists(path));
	assert_int_equal(io->ops->read(io, 0x2a, 0, back, 5), -ENOENT);
	ro->ops->close(ro);
	io->ops->close(io);
}

/* Bytes of disk that pack id holds (allocated blocks) and its size. */
static void
pack_space(const struct tmp *t, uint32_t id, uint64_t *alloc, uint64_t *size)
{
	char path[200];
	struct stat st;

	pack_path(t, id, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	*alloc = (uint64_t)st.st_blocks * 512;
	*size = (uint64_t)st.st_size;
}

/* Appends len bytes of zeros to pack id at offset off, in 1 MiB pieces. */
static void
append_zeros(struct pack_io *io, uint32_t id, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[1 << 20];
	uint64_t n;

	for (uint64_t done = 0; done < len; done += n) {
		n = len - done < sizeof(zeros) ? len - done : sizeof(zeros);
		assert_int_equal(io->ops->append(io, id, off + done, zeros, n), 0);
	}
}

/* Whether this file system takes fallocate(FALLOC_FL_KEEP_SIZE) (a scratch file in t's root). */
static bool
keep_size_fallocate_works(const struct tmp *t)
{
	char path[200];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s/probe", t->root);
	fd = open(path, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	ok = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20) == 0;
	close(fd);
	unlink(path);
	return ok;
}

/* The file backend reserves blocks ahead of appends (8 MiB steps, never past the pack store's
 * largest pack) and gives the unused part back when appends move to another pack and on close:
 * a pack's size is always its records' end. */
static void
test_file_io_prealloc(void **state)
{
	const uint64_t mib = 1u << 20, slack = 64u << 10;
	struct tmp *t = *state;
	uint64_t alloc, size;
	struct pack_io *io;

	if (!keep_size_fallocate_works(t))
		skip(); /* nothing can be reserved on this file system */
	assert_int_equal(pack_io_file_open(t->packs, true, &io), 0);
	io->pack_max_bytes = 12 * mib; /* what a pack store of 12 MiB packs sets */
	append_zeros(io, 1, 0, mib);
	pack_space(t, 1, &alloc, &size);
	assert_int_equal(size, mib);
	assert_true(alloc >= 8 * mib);
	append_zeros(io, 1, mib, 9 * mib);
	pack_space(t, 1, &alloc, &size);
	assert_int_equal(size, 10 * mib);
	assert_true(alloc >= 12 * mib);
	assert_true(alloc < 12 * mib + slack); /* capped at the largest pack, not 16 MiB */
	append_zeros(io, 2, 0, 3 * mib);
	pack_space(t, 1, &alloc, &size);
	assert_true(alloc < size + slack); /* given back when appends moved on */
	pack_space(t, 2, &alloc, &size);
	assert_int_equal(size, 3 * mib);
	assert_true(alloc >= 8 * mib);
	io->ops->close(io);
	pack_space(t, 2, &alloc, &size);
	assert_int_equal(size, 3 * mib);
	assert_true(alloc < size + slack); /* and on close */
}

/* Enters a private mount namespace (and a user namespace when not root) so a tiny tmpfs can be
 * mounted without touching the host. Returns false when the kernel does not allow it. */
static bool
enter_private_mounts(void)
{
	char map[64];
	uid_t uid = getuid();
	FILE *f;

	if (uid != 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
			return false;
		f = fopen("/proc/self/setgroups", "w");
		if (f)
			fclose(f), f = NULL;
		f = fopen("/proc/self/uid_map", "w");
		if (!f)
			return false;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		fputs(map, f);
		if (fclose(f) != 0)
			return false;
	} else if (unshare(CLONE_NEWNS) != 0) {
		return false;
	}
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

/* In the child: fills a 1 MiB tmpfs. Exit codes: 0 ok, 77 skip, others name the failed step. */
static int
enospc_child(const char *mnt)
{
	static uint8_t data[200000];
	struct pack_encoder *enc = pack_encoder_new(0);
	struct chunk_loc loc, first = {0};
	char packs[200], path[240];
	struct packstore *ps;
	struct pack_io *io;
	struct chunk_id id;
	uint64_t total = 0;
	struct buf rec;
	struct stat st;
	int rc = 0, i;

	if (!enter_private_mounts() || mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0)
		return 77;
	snprintf(packs, sizeof(packs), "%s/packs", mnt);
	if (pack_io_file_open(packs, true, &io) != 0 || packstore_open(io, 0, true, &ps) != 0)
		return 2;
	buf_init(&rec, REC_MAX);
	for (i = 0; i < 10 && rc == 0; i++) {
		fill_random(data, sizeof(data), (uint64_t)i);
		chunk_id_compute(data, sizeof(data), &id);
		pack_record_encode(enc, &id, data, sizeof(data), &rec);
		rc = packstore_append(ps, rec.p, rec.len, &loc);
		if (rc == 0 && i == 0)
			first = loc;
		if (rc == 0)
			total += rec.len;
	}
	snprintf(path, sizeof(path), "%s/pack-00000001.cpk", packs);
	if (rc != -ENOSPC)
		return 3;
	/* The partial record was cut off again; what was appended before is intact. */
	if (stat(path, &st) != 0 || (uint64_t)st.st_size != total)
		return 4;
	fill_random(data, sizeof(data), 0);
	if (read_back(ps, &first, data, sizeof(data)) != 0)
		return 5;
	if (packstore_append(ps, rec.p, rec.len, &loc) != -ENOSPC)
		return 6;
	packstore_close(ps);
	buf_fini(&rec);
	pack_encoder_free(enc);
	return 0;
}

static void
test_file_io_enospc(void **state)
{
	struct tmp *t = *state;
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(enospc_child(t->root));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		print_message("no private mount namespace here: ENOSPC test skipped\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_roundtrip),
	    cmocka_unit_test(test_record_corrupt_each_byte),
	    cmocka_unit_test(test_record_truncated),
	    cmocka_unit_test(test_record_crafted),
	    cmocka_unit_test(test_record_verify_id),
	    cmocka_unit_test(test_record_toobig),
	    cmocka_unit_test(test_encoder_backoff),
	    cmocka_unit_test_setup_teardown(test_packstore_basic, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_rollover, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_reopen, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_scan, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_scan_torn, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_bad_loc, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_concurrent, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_group_commit, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_sync_rollover, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_io_errors, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_packstore_remove, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_file_io, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_file_io_prealloc, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_file_io_enospc, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
