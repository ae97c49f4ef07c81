/*
 * store_chunk.c — chunk-level operations for replication and chunk-aware clients.
 *
 * A chunk written here goes through the same in-flight table as a put's chunks (so a concurrent
 * put of the same chunk stores it once), is made durable, and is entered in the index with no
 * references: it is kept until a compactor reclaims unreferenced chunks, and any later put or
 * commit that uses it revives it.
 */
#include <stdlib.h>

#include "cairn/err.h"
#include "store_internal.h"

bool
store_chunk_has(struct store *st, const struct chunk_id *id)
{
	struct chunk_loc loc;

	if (store_inflight_loc(st, id, &loc) == 0)
		return true;
	return store_chunk_indexed(st, id, NULL) == 1;
}

int
store_chunk_read_stored(struct store *st, const struct chunk_id *id, struct buf *rec)
{
	struct index_chunk c;
	int rc;

	rc = store_chunk_indexed(st, id, &c);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		rc = store_inflight_loc(st, id, &c.loc);
		if (rc < 0)
			return rc;
	}
	return store_record_read(st, id, &c.loc, rec);
}

struct ensure_ctx {
	struct store_wctx w;
	const struct chunk_id *id;
};

static int
ensure_fn(struct index_txn *txn, void *arg)
{
	struct ensure_ctx *c = arg;
	int rc;

	store_wctx_reset(&c->w);
	rc = store_ref_ensure(&c->w, txn, c->id);
	if (rc < 0)
		return rc;
	return store_ref_flush(&c->w, txn);
}

/* Verifies rec completely: checksum, and the SHA-256 of its raw bytes against its id. */
static int
chunk_verify(const uint8_t *rec, size_t len, struct pack_record_info *info)
{
	struct buf raw;
	int rc;

	rc = pack_record_check(rec, len, info);
	if (rc < 0)
		return rc;
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	rc = pack_record_decode(rec, len, true, &raw);
	buf_fini(&raw);
	return rc;
}

int
store_chunk_write_stored(struct store *st, const uint8_t *rec, size_t len)
{
	struct ensure_ctx c;
	struct pack_record_info info;
	uint64_t epoch;
	int rc;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	rc = chunk_verify(rec, len, &info);
	if (rc < 0)
		return rc;
	if (!store_inflight_pin(st, &info.id, &epoch)) {
		rc = store_chunk_indexed(st, &info.id, NULL);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		rc = store_inflight_add(st, &info.id, rec, len, epoch);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	/* Pinned: durable bytes first, then the index entry, then the pin can go. */
	rc = packstore_sync(st->ps);
	if (rc == 0) {
		store_wctx_init(&c.w, st);
		c.id = &info.id;
		rc = index_write(st->ix, ensure_fn, &c);
		store_wctx_fini(&c.w);
	}
	store_inflight_unpin(st, &info.id, 1);
	return rc;
}
