/*
 * pack.c — chunk records (encode, check, decode) and the append-only pack store.
 *
 * Records are encoded byte by byte in little-endian order (never by casting a struct), and a
 * record's lengths are only trusted after they have been bounded by CHUNKER_MAX_SIZE_CEIL and by
 * the bytes actually at hand.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

#include "cairn/chunker.h"
#include "cairn/err.h"
#include "cairn/le.h"
#include "cairn/pack.h"

/* Header layout (see pack.h). */
#define PACK_OFF_MAGIC 0
#define PACK_OFF_VERSION 4
#define PACK_OFF_FLAGS 5
#define PACK_OFF_RESERVED 6
#define PACK_OFF_RAW_LEN 8
#define PACK_OFF_STORED_LEN 12
#define PACK_OFF_ID 16

/* The smallest record (an empty chunk) and the biggest (the biggest chunk the chunker can make,
 * stored raw). */
#define PACK_RECORD_MIN (PACK_HEADER_SIZE + PACK_TRAILER_SIZE)
#define PACK_RECORD_MAX (PACK_RECORD_MIN + CHUNKER_MAX_SIZE_CEIL)

/*
 * A chunk is stored compressed only when that saves at least 1/16 of its raw size. Every read of
 * a compressed chunk pays a decompression; a few percent of disk is not worth that CPU on every
 * GET, and already-compressed media (JPEG, video, archives) typically "compresses" by a percent
 * or two at most, which this margin stores raw.
 */
#define PACK_MIN_SAVING_SHIFT 4

/*
 * Adaptive backoff for incompressible streams (media, archives, encrypted data). zstd's fast
 * levels (1-4) already race through such data, but from level 5 on a futile attempt costs about
 * as much as a successful one (bench/bench_pack.c, 64 KiB random chunks: ~4 GB/s at level 3,
 * ~0.35 GB/s at levels 6 and 9; with the backoff 6-9 GB/s at every level).
 *
 * After PACK_PROBE_AFTER chunks in a row failed to compress, the encoder enters probe mode: a
 * chunk gets a full attempt only if a cheap statistic says it may compress. The statistic is the
 * collision entropy of a byte sample (PACK_PROBE_SLICES slices of PACK_PROBE_SLICE_LEN bytes
 * spread over the chunk): H2 = -log2(sum p_i^2), with the unbiased estimate
 * sum c_i (c_i - 1) / (n (n - 1)) of sum p_i^2 from the byte counts c_i. Uniform random bytes
 * give 8 bits; over chunks of compressed files (zip, gz, jpg, png, pdf) it stayed above 7.7,
 * while text, code, binaries and databases stayed below 5.5. Below PACK_PROBE_MAX_BITS a chunk
 * gets a full attempt. A histogram of 4 KiB costs about as much as copying the chunk.
 *
 * Redundancy that shows only as long repeats (a random block occurring twice) has full byte
 * entropy, so the probe cannot see it: after a run of probed chunks a full attempt is made anyway,
 * first after PACK_REPROBE_FIRST chunks, the interval doubling up to PACK_REPROBE_MAX while these
 * attempts keep failing. One successful compression leaves probe mode.
 */
#define PACK_PROBE_AFTER 2
#define PACK_PROBE_SLICES 4
#define PACK_PROBE_SLICE_LEN 1024
#define PACK_PROBE_MAX_BITS 7.5
#define PACK_REPROBE_FIRST 16
#define PACK_REPROBE_MAX 128

struct pack_encoder {
	ZSTD_CCtx *cctx;    /* NULL when level is 0 (store raw) */
	int level;	    /* zstd level */
	bool adaptive;	    /* backoff on (default) */
	unsigned misses;    /* chunks in a row that did not compress, up to PACK_PROBE_AFTER */
	unsigned probe_run; /* chunks probed since the last full attempt */
	unsigned reprobe;   /* probed chunks between full attempts in probe mode */
	struct pack_encoder_stats stats;
};

/* ---- encoder ---- */

struct pack_encoder *
pack_encoder_new(int level)
{
	struct pack_encoder *enc = calloc(1, sizeof(*enc));

	if (!enc)
		abort();
	if (level > ZSTD_maxCLevel())
		level = ZSTD_maxCLevel();
	enc->level = level;
	enc->adaptive = true;
	enc->reprobe = PACK_REPROBE_FIRST;
	if (level == 0)
		return enc;
	enc->cctx = ZSTD_createCCtx();
	if (!enc->cctx)
		abort();
	return enc;
}

void
pack_encoder_free(struct pack_encoder *enc)
{
	if (!enc)
		return;
	ZSTD_freeCCtx(enc->cctx);
	free(enc);
}

void
pack_encoder_set_adaptive(struct pack_encoder *enc, bool on)
{
	enc->adaptive = on;
	enc->misses = 0;
	enc->probe_run = 0;
	enc->reprobe = PACK_REPROBE_FIRST;
}

void
pack_encoder_get_stats(const struct pack_encoder *enc, struct pack_encoder_stats *out)
{
	*out = enc->stats;
}

/* Counts the bytes of p[len] into hist. Four tables, so that runs of one byte value do not
 * serialize on a single counter. */
static void
probe_count(const uint8_t *p, size_t len, uint32_t hist[4][256])
{
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		hist[0][p[i]]++;
		hist[1][p[i + 1]]++;
		hist[2][p[i + 2]]++;
		hist[3][p[i + 3]]++;
	}
	for (; i < len; i++)
		hist[0][p[i]]++;
}

/* True when a byte sample of raw[len] has a collision entropy below PACK_PROBE_MAX_BITS. */
static bool
encoder_probe_says_yes(struct pack_encoder *enc, const uint8_t *raw, size_t len)
{
	uint32_t hist[4][256] = {{0}};
	double pairs = 0, n;
	unsigned i;
	uint32_t c;

	enc->stats.probes++;
	if (len <= PACK_PROBE_SLICES * PACK_PROBE_SLICE_LEN) {
		probe_count(raw, len, hist);
		n = (double)len;
	} else {
		for (i = 0; i < PACK_PROBE_SLICES; i++)
			probe_count(raw +
					(len - PACK_PROBE_SLICE_LEN) * i / (PACK_PROBE_SLICES - 1),
				    PACK_PROBE_SLICE_LEN, hist);
		n = PACK_PROBE_SLICES * PACK_PROBE_SLICE_LEN;
	}
	for (i = 0; i < 256; i++) {
		c = hist[0][i] + hist[1][i] + hist[2][i] + hist[3][i];
		if (c > 1)
			pairs += (double)c * (c - 1);
	}
	/* No two equal bytes at all (a tiny sample) says nothing: try. */
	if (pairs == 0)
		return true;
	return -log2(pairs / (n * (n - 1))) < PACK_PROBE_MAX_BITS;
}

/* Decides whether raw[len] gets a full compression attempt. */
static bool
encoder_should_try(struct pack_encoder *enc, const uint8_t *raw, size_t len)
{
	if (!enc->adaptive || enc->misses < PACK_PROBE_AFTER)
		return true;
	if (++enc->probe_run >= enc->reprobe) {
		enc->probe_run = 0;
		if (enc->reprobe < PACK_REPROBE_MAX)
			enc->reprobe *= 2;
		return true;
	}
	return encoder_probe_says_yes(enc, raw, len);
}

/* Compresses raw[len] into dst (room for len bytes). Returns the compressed size, or 0 when the
 * chunk is to be stored raw. */
static size_t
encoder_compress(struct pack_encoder *enc, const uint8_t *raw, size_t len, uint8_t *dst)
{
	size_t cap = len - (len >> PACK_MIN_SAVING_SHIFT), c;

	if (!enc->cctx || len == 0)
		return 0;
	if (!encoder_should_try(enc, raw, len)) {
		enc->stats.skipped++;
		return 0;
	}
	/* With dst capped at the worthwhile size, zstd gives up (dstSize_tooSmall) as soon as
	 * the output cannot fit. */
	c = ZSTD_compressCCtx(enc->cctx, dst, cap, raw, len, enc->level);
	if (ZSTD_isError(c) || c >= len || c > cap) {
		if (enc->misses < PACK_PROBE_AFTER)
			enc->misses++;
		return 0;
	}
	enc->misses = 0;
	enc->probe_run = 0;
	enc->reprobe = PACK_REPROBE_FIRST;
	enc->stats.compressed++;
	return c;
}

static void
record_header_write(uint8_t *h, uint8_t flags, uint32_t raw_len, uint32_t stored_len,
		    const struct chunk_id *id)
{
	le32_put(h + PACK_OFF_MAGIC, PACK_RECORD_MAGIC);
	h[PACK_OFF_VERSION] = PACK_RECORD_VERSION;
	h[PACK_OFF_FLAGS] = flags;
	le16_put(h + PACK_OFF_RESERVED, 0);
	le32_put(h + PACK_OFF_RAW_LEN, raw_len);
	le32_put(h + PACK_OFF_STORED_LEN, stored_len);
	memcpy(h + PACK_OFF_ID, id->b, CHUNK_ID_LEN);
}

int
pack_record_encode(struct pack_encoder *enc, const struct chunk_id *id, const uint8_t *raw,
		   size_t len, struct buf *out)
{
	uint8_t *payload;
	size_t stored;
	uint8_t flags = PACK_FLAG_ZSTD;
	int rc;

	if (len > CHUNKER_MAX_SIZE_CEIL)
		return CAIRN_E_TOOBIG;
	buf_reset(out);
	rc = buf_reserve(out, PACK_RECORD_MIN + len);
	if (rc < 0)
		return rc;
	enc->stats.chunks++;
	payload = out->p + PACK_HEADER_SIZE;
	stored = encoder_compress(enc, raw, len, payload);
	if (stored == 0) {
		flags = 0;
		stored = len;
		if (len)
			memcpy(payload, raw, len);
	}
	record_header_write(out->p, flags, (uint32_t)len, (uint32_t)stored, id);
	le64_put(payload + stored, XXH3_64bits(out->p, PACK_HEADER_SIZE + stored));
	out->len = PACK_RECORD_MIN + stored;
	out->p[out->len] = 0;
	return 0;
}

/* ---- checking and decoding ---- */

/* Checks the header fields that can be checked without the payload; needs PACK_HEADER_SIZE
 * bytes at rec. Fills info (record_len included). */
static int
record_header_parse(const uint8_t *rec, struct pack_record_info *info)
{
	uint8_t flags = rec[PACK_OFF_FLAGS];

	if (le32_get(rec + PACK_OFF_MAGIC) != PACK_RECORD_MAGIC)
		return CAIRN_E_CORRUPT;
	if (rec[PACK_OFF_VERSION] != PACK_RECORD_VERSION)
		return CAIRN_E_VERSION;
	if ((flags & ~PACK_FLAG_ZSTD) || le16_get(rec + PACK_OFF_RESERVED) != 0)
		return CAIRN_E_CORRUPT;
	info->flags = flags;
	info->raw_len = le32_get(rec + PACK_OFF_RAW_LEN);
	info->stored_len = le32_get(rec + PACK_OFF_STORED_LEN);
	if (info->raw_len > CHUNKER_MAX_SIZE_CEIL || info->stored_len > info->raw_len)
		return CAIRN_E_CORRUPT;
	/* Raw payloads are the raw bytes; a zstd frame is never empty. */
	if (!(flags & PACK_FLAG_ZSTD) && info->stored_len != info->raw_len)
		return CAIRN_E_CORRUPT;
	if ((flags & PACK_FLAG_ZSTD) && info->stored_len == 0)
		return CAIRN_E_CORRUPT;
	info->record_len = PACK_RECORD_MIN + info->stored_len;
	memcpy(info->id.b, rec + PACK_OFF_ID, CHUNK_ID_LEN);
	return 0;
}

int
pack_record_check(const uint8_t *rec, size_t len, struct pack_record_info *info)
{
	size_t body;
	int rc;

	if (len < PACK_RECORD_MIN || len > PACK_RECORD_MAX)
		return CAIRN_E_CORRUPT;
	rc = record_header_parse(rec, info);
	if (rc < 0)
		return rc;
	if (info->record_len != len)
		return CAIRN_E_CORRUPT;
	body = len - PACK_TRAILER_SIZE;
	if (XXH3_64bits(rec, body) != le64_get(rec + body))
		return CAIRN_E_CORRUPT;
	return 0;
}

/*
 * One decompression context per thread, made on first use and freed when the thread exits:
 * pack_record_decode has no context parameter, and ZSTD_decompress would allocate a fresh
 * context (over 100 KiB) on every call.
 */
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t dctx_key;

static void
dctx_free(void *dctx)
{
	ZSTD_freeDCtx(dctx);
}

static void
dctx_key_create(void)
{
	if (pthread_key_create(&dctx_key, dctx_free) != 0)
		abort();
}

static ZSTD_DCtx *
dctx_get(void)
{
	ZSTD_DCtx *dctx;

	if (pthread_once(&dctx_once, dctx_key_create) != 0)
		abort();
	dctx = pthread_getspecific(dctx_key);
	if (dctx)
		return dctx;
	dctx = ZSTD_createDCtx();
	if (!dctx || pthread_setspecific(dctx_key, dctx) != 0)
		abort();
	return dctx;
}

int
pack_record_decode(const uint8_t *rec, size_t len, bool verify_id, struct buf *out)
{
	struct pack_record_info info;
	const uint8_t *payload = rec + PACK_HEADER_SIZE;
	struct chunk_id id;
	size_t n;
	int rc;

	buf_reset(out);
	rc = pack_record_check(rec, len, &info);
	if (rc < 0)
		return rc;
	rc = buf_reserve(out, info.raw_len);
	if (rc < 0)
		return rc;
	if (info.flags & PACK_FLAG_ZSTD) {
		n = ZSTD_decompressDCtx(dctx_get(), out->p, info.raw_len, payload, info.stored_len);
		if (ZSTD_isError(n) || n != info.raw_len)
			goto out_reset;
	} else if (info.raw_len) {
		memcpy(out->p, payload, info.raw_len);
	}
	out->len = info.raw_len;
	out->p[out->len] = 0;
	if (!verify_id)
		return 0;
	chunk_id_compute(out->p, out->len, &id);
	if (chunk_id_equal(&id, &info.id))
		return 0;
out_reset:
	buf_reset(out);
	return CAIRN_E_CORRUPT;
}

/* ---- pack store ---- */

struct packstore {
	struct pack_io *io;
	uint64_t max_bytes;
	bool writable;
	pthread_mutex_t lock;  /* guards everything below */
	pthread_cond_t synced; /* broadcast when a sync finishes */
	uint32_t cur_id;       /* pack appended to (writable stores) */
	uint64_t cur_size;     /* its bytes so far: the next record's offset */
	bool cur_dirty;	       /* cur has appends that no sync has taken up yet */
	bool cur_failed;       /* an append to cur failed: move on to a new pack */
	uint32_t *dirty;       /* older packs with appends that no sync has taken up yet */
	size_t ndirty;
	size_t dirty_cap;
	uint64_t append_seq; /* appends completed */
	uint64_t synced_seq; /* appends known durable */
	bool syncing;	     /* a sync is under way (run by the caller that started it) */
	int sync_err;	     /* sticky: after a failed fdatasync, durability is unknown */
};

int
packstore_open(struct pack_io *io, uint64_t pack_max_bytes, bool writable, struct packstore **out)
{
	struct packstore *ps;
	uint64_t size;
	uint32_t last = 0;
	int rc;

	if (writable) {
		rc = io->ops->last(io, &last, &size);
		if (rc < 0)
			goto out_close_io;
		rc = -EOVERFLOW;
		if (last == UINT32_MAX)
			goto out_close_io;
	}
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		abort();
	ps->io = io;
	ps->max_bytes = pack_max_bytes ? pack_max_bytes : PACK_DEFAULT_MAX_BYTES;
	io->pack_max_bytes = ps->max_bytes;
	ps->writable = writable;
	ps->cur_id = last + 1;
	if (pthread_mutex_init(&ps->lock, NULL) != 0 || pthread_cond_init(&ps->synced, NULL) != 0)
		abort();
	*out = ps;
	return 0;
out_close_io:
	io->ops->close(io);
	return rc;
}

void
packstore_close(struct packstore *ps)
{
	if (!ps)
		return;
	pthread_cond_destroy(&ps->synced);
	pthread_mutex_destroy(&ps->lock);
	free(ps->dirty);
	ps->io->ops->close(ps->io);
	free(ps);
}

/* Notes pack id as holding appends that a future sync must cover. Called with the lock held. */
static void
packstore_dirty_add(struct packstore *ps, uint32_t id)
{
	uint32_t *p;
	size_t cap;

	if (ps->ndirty == ps->dirty_cap) {
		cap = ps->dirty_cap ? 2 * ps->dirty_cap : 8;
		p = realloc(ps->dirty, cap * sizeof(*p));
		if (!p)
			abort();
		ps->dirty = p;
		ps->dirty_cap = cap;
	}
	ps->dirty[ps->ndirty++] = id;
}

static int packstore_next_locked(struct packstore *ps);

/* Moves on to a new pack when the record does not fit in the current one (or the last append
 * to it failed, leaving its tail unknown). An empty pack takes any record. Lock held. */
static int
packstore_roll(struct packstore *ps, size_t len)
{
	if (ps->cur_size == 0)
		return 0;
	if (!ps->cur_failed && ps->cur_size + len <= ps->max_bytes)
		return 0;
	return packstore_next_locked(ps);
}

/* A full check for assert(): appended records come from our own encoder or were verified. */
static bool
record_is_valid(const uint8_t *rec, size_t len)
{
	struct pack_record_info info;

	return pack_record_check(rec, len, &info) == 0;
}

int
packstore_append(struct packstore *ps, const uint8_t *rec, size_t len, struct chunk_loc *loc)
{
	uint32_t raw_len;
	int rc;

	if (!ps->writable)
		return CAIRN_E_READONLY;
	if (len < PACK_RECORD_MIN || len > PACK_RECORD_MAX)
		return CAIRN_E_INVAL;
	assert(record_is_valid(rec, len));
	raw_len = le32_get(rec + PACK_OFF_RAW_LEN);
	pthread_mutex_lock(&ps->lock);
	rc = ps->sync_err;
	if (rc < 0)
		goto out_unlock;
	rc = packstore_roll(ps, len);
	if (rc < 0)
		goto out_unlock;
	rc = ps->io->ops->append(ps->io, ps->cur_id, ps->cur_size, rec, len);
	if (rc < 0) {
		/* A failed append may leave a partial record behind; an empty pack can be
		 * reused from offset 0, any other is left with that tail. */
		ps->cur_failed = ps->cur_size > 0;
		goto out_unlock;
	}
	loc->pack_id = ps->cur_id;
	loc->offset = ps->cur_size;
	loc->record_len = (uint32_t)len;
	loc->raw_len = raw_len;
	ps->cur_size += len;
	ps->cur_dirty = true;
	ps->append_seq++;
out_unlock:
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

/* Runs one sync as leader: takes up every pack with unsynced appends, syncs them without the
 * lock, then publishes the result. Called with the lock held; returns with it held. */
static void
packstore_sync_lead(struct packstore *ps)
{
	uint64_t covered = ps->append_seq;
	uint32_t *ids;
	size_t n, i;
	int rc = 0, r;

	if (ps->cur_dirty)
		packstore_dirty_add(ps, ps->cur_id);
	ps->cur_dirty = false;
	ids = ps->dirty;
	n = ps->ndirty;
	ps->dirty = NULL;
	ps->ndirty = 0;
	ps->dirty_cap = 0;
	ps->syncing = true;
	pthread_mutex_unlock(&ps->lock);
	for (i = 0; i < n; i++) {
		r = ps->io->ops->sync(ps->io, ids[i]);
		/* A pack removed meanwhile needs no durability. */
		if (r < 0 && r != CAIRN_E_NOTFOUND && rc == 0)
			rc = r;
	}
	free(ids);
	pthread_mutex_lock(&ps->lock);
	ps->syncing = false;
	if (rc < 0)
		ps->sync_err = rc;
	else if (covered > ps->synced_seq)
		ps->synced_seq = covered;
	pthread_cond_broadcast(&ps->synced);
}

/*
 * Group commit: the caller needs every append completed before it came in (target). If a sync is
 * under way, it waits for it; if that sync covered target, it is done, otherwise the first waiter
 * to wake leads the next sync for itself and everyone who queued up meanwhile. After a failed
 * fdatasync the kernel may have dropped the dirty pages, so a retry could falsely succeed: the
 * error sticks, and every later sync and append fails with it.
 */
int
packstore_sync(struct packstore *ps)
{
	uint64_t target;
	int rc;

	if (!ps->writable)
		return 0;
	pthread_mutex_lock(&ps->lock);
	target = ps->append_seq;
	while (ps->synced_seq < target && ps->sync_err == 0) {
		if (ps->syncing)
			pthread_cond_wait(&ps->synced, &ps->lock);
		else
			packstore_sync_lead(ps);
	}
	rc = ps->synced_seq >= target ? 0 : ps->sync_err;
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

int
packstore_read(struct packstore *ps, const struct chunk_loc *loc, struct buf *rec)
{
	struct pack_record_info info;
	int rc;

	buf_reset(rec);
	if (loc->record_len < PACK_RECORD_MIN || loc->record_len > PACK_RECORD_MAX)
		return CAIRN_E_CORRUPT;
	rc = buf_reserve(rec, loc->record_len);
	if (rc < 0)
		return rc;
	rc = ps->io->ops->read(ps->io, loc->pack_id, loc->offset, rec->p, loc->record_len);
	if (rc < 0)
		return rc;
	rec->len = loc->record_len;
	rec->p[rec->len] = 0;
	rc = pack_record_check(rec->p, rec->len, &info);
	if (rc == 0 && info.raw_len != loc->raw_len)
		rc = CAIRN_E_CORRUPT;
	if (rc < 0)
		buf_reset(rec);
	return rc;
}

int
packstore_remove(struct packstore *ps, uint32_t pack_id)
{
	size_t i;

	if (!ps->writable)
		return CAIRN_E_READONLY;
	if (pack_id == 0)
		return CAIRN_E_INVAL;
	pthread_mutex_lock(&ps->lock);
	/* cur_id only grows, so a pack below it stays not current once checked. */
	if (pack_id >= ps->cur_id) {
		pthread_mutex_unlock(&ps->lock);
		return CAIRN_E_INVAL;
	}
	/* Removed bytes need no sync (and syncing a missing pack would fail). */
	i = 0;
	while (i < ps->ndirty) {
		if (ps->dirty[i] == pack_id)
			ps->dirty[i] = ps->dirty[--ps->ndirty];
		else
			i++;
	}
	pthread_mutex_unlock(&ps->lock);
	return ps->io->ops->remove(ps->io, pack_id);
}

uint32_t
packstore_current(struct packstore *ps)
{
	uint32_t id;

	pthread_mutex_lock(&ps->lock);
	id = ps->cur_id;
	pthread_mutex_unlock(&ps->lock);
	return id;
}

/* Moves appends on to the next pack. Lock held. */
static int
packstore_next_locked(struct packstore *ps)
{
	if (ps->cur_id == UINT32_MAX)
		return -EOVERFLOW;
	if (ps->cur_dirty)
		packstore_dirty_add(ps, ps->cur_id);
	ps->cur_id++;
	ps->cur_size = 0;
	ps->cur_dirty = false;
	ps->cur_failed = false;
	return 0;
}

int
packstore_seal(struct packstore *ps, uint32_t *sealed)
{
	int rc = 0;

	*sealed = 0;
	if (!ps->writable)
		return CAIRN_E_READONLY;
	pthread_mutex_lock(&ps->lock);
	if (ps->cur_size > 0) {
		*sealed = ps->cur_id;
		rc = packstore_next_locked(ps);
		if (rc < 0)
			*sealed = 0;
	}
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

int
packstore_pack_size(struct packstore *ps, uint32_t pack_id, uint64_t *size)
{
	if (!ps->io->ops->size)
		return -ENOTSUP;
	return ps->io->ops->size(ps->io, pack_id, size);
}

int
packstore_list(struct packstore *ps, int (*fn)(uint32_t pack_id, void *arg), void *arg)
{
	if (!ps->io->ops->list)
		return -ENOTSUP;
	return ps->io->ops->list(ps->io, fn, arg);
}

int
packstore_error(struct packstore *ps)
{
	int rc;

	pthread_mutex_lock(&ps->lock);
	rc = ps->sync_err;
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

/*
 * Every undurable append is abandoned: the dirty list goes (a second fdatasync of a pack whose
 * first one failed may report success for pages the kernel dropped), the appends count as
 * covered, and the next append starts a fresh pack. A sync under way finishes first.
 */
int
packstore_recover(struct packstore *ps)
{
	int rc;

	pthread_mutex_lock(&ps->lock);
	while (ps->syncing)
		pthread_cond_wait(&ps->synced, &ps->lock);
	rc = ps->sync_err;
	if (rc < 0) {
		ps->ndirty = 0;
		ps->cur_dirty = false;
		ps->synced_seq = ps->append_seq;
		ps->sync_err = 0;
		if (ps->cur_size > 0)
			ps->cur_failed = true;
	}
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

/* Reads and checks the record at offset of pack_id into rec; fills info. */
static int
packstore_scan_one(struct packstore *ps, uint32_t pack_id, uint64_t offset, struct buf *rec,
		   struct pack_record_info *info)
{
	const struct pack_io_ops *ops = ps->io->ops;
	int rc;

	buf_reset(rec);
	rc = buf_reserve(rec, PACK_HEADER_SIZE);
	if (rc < 0)
		return rc;
	rc = ops->read(ps->io, pack_id, offset, rec->p, PACK_HEADER_SIZE);
	if (rc < 0)
		return rc;
	/* The lengths are bounded by the parse before they size anything. */
	rc = record_header_parse(rec->p, info);
	if (rc < 0)
		return rc;
	rc = buf_reserve(rec, info->record_len);
	if (rc < 0)
		return rc;
	rc = ops->read(ps->io, pack_id, offset + PACK_HEADER_SIZE, rec->p + PACK_HEADER_SIZE,
		       info->record_len - PACK_HEADER_SIZE);
	if (rc < 0)
		return rc;
	return pack_record_check(rec->p, info->record_len, info);
}

/*
 * Returns 0 when the pack ends cleanly at *valid_end, CAIRN_E_CORRUPT when bytes that are not a
 * valid record follow it (a torn tail after a crash, or damage), CAIRN_E_VERSION at a record of
 * an unknown version, -errno, or fn's non-zero value.
 */
int
packstore_scan(struct packstore *ps, uint32_t pack_id,
	       int (*fn)(const struct pack_record_info *info, uint64_t offset, void *arg),
	       void *arg, uint64_t *valid_end)
{
	struct pack_record_info info;
	uint64_t offset = 0;
	struct buf rec;
	uint8_t byte;
	int rc;

	buf_init(&rec, PACK_RECORD_MAX);
	for (;;) {
		rc = packstore_scan_one(ps, pack_id, offset, &rec, &info);
		if (rc < 0)
			break;
		rc = fn(&info, offset, arg);
		offset += info.record_len;
		if (rc != 0)
			break;
	}
	/* Nothing at all past the last good record is a clean end. */
	if (rc == CAIRN_E_CORRUPT &&
	    ps->io->ops->read(ps->io, pack_id, offset, &byte, 1) == CAIRN_E_CORRUPT)
		rc = 0;
	buf_fini(&rec);
	if (valid_end)
		*valid_end = offset;
	return rc;
}
