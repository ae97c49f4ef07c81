/*
 * store_get.c — streaming reads of an object, and stat.
 *
 * A get pins its object's oid (store_pin.c) and then reads as it goes: the page covering the read
 * position (one cursor seek in a short read txn), the chunk's location, its record from the pack
 * (checked by its XXH3 checksum), decoded into the get's buffer. The SHA-256 of the chunk is not
 * recomputed on this path: the checksum covers the stored bytes, and fsck checks ids.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "store_internal.h"

struct store_get {
	struct store *st;
	char *bucket;
	uint8_t *key;
	size_t key_len;
	struct store_object_info info;
	struct buf meta;
	uint64_t oid;
	uint64_t pos;
	struct index_page_entry *page; /* the page covering the current chunk */
	size_t page_n;
	uint64_t page_start;
	bool page_ok;
	bool chunk_ok;
	uint64_t chunk_start;
	uint64_t chunk_end;
	struct buf rec;
	struct buf raw; /* the decoded current chunk */
};

static struct store_get *
get_new(struct store *st, const char *bucket, struct slice key)
{
	struct store_get *g = calloc(1, sizeof(*g));

	if (!g)
		abort();
	g->st = st;
	g->bucket = strdup(bucket);
	g->key = malloc(key.len + 1);
	g->page = malloc(STORE_PAGE_BYTES);
	if (!g->bucket || !g->key || !g->page)
		abort();
	if (key.len)
		memcpy(g->key, key.p, key.len);
	g->key_len = key.len;
	buf_init(&g->meta, STORE_META_MAX);
	buf_init(&g->rec, STORE_RECORD_MAX);
	buf_init(&g->raw, CHUNKER_MAX_SIZE_CEIL);
	return g;
}

static void
get_free(struct store_get *g)
{
	buf_fini(&g->raw);
	buf_fini(&g->rec);
	buf_fini(&g->meta);
	free(g->page);
	free(g->key);
	free(g->bucket);
	free(g);
}

/* Looks the key up in a short read txn: fills g's info and meta, and *oid. */
static int
get_lookup(struct store_get *g, uint64_t *oid)
{
	struct slice key = {g->key, g->key_len};
	struct index_object obj;
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(g->st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_object_get(txn, g->bucket, key, &obj);
	if (rc < 0)
		goto out_end;
	buf_reset(&g->meta);
	rc = buf_append(&g->meta, obj.meta.p, obj.meta.len);
	if (rc < 0)
		goto out_end;
	*oid = obj.oid;
	store_info_from_object(&obj, &g->info);
	g->info.meta = buf_slice(&g->meta);
out_end:
	index_read_end(txn);
	return rc;
}

/* Counts g as a reader of oid unless a write txn is releasing it (returns false after waiting
 * for that txn to settle: the caller looks again). pins.mu is never held across a read txn: the
 * index's resize gate could otherwise deadlock with a writer waiting for pins.mu. */
static bool
get_pin(struct store *st, uint64_t oid)
{
	struct pin *p;
	bool pinned = false;

	pthread_mutex_lock(&st->pins.mu);
	p = store_pin_find(&st->pins, oid);
	if (p && p->dying) {
		while ((p = store_pin_find(&st->pins, oid)) != NULL && p->dying)
			pthread_cond_wait(&st->pins.cv, &st->pins.mu);
	} else {
		store_pin_get(&st->pins, oid)->readers++;
		pinned = true;
	}
	pthread_mutex_unlock(&st->pins.mu);
	return pinned;
}

/*
 * Pin, then verify: the pin is taken after a first lookup, and a second lookup (a snapshot newer
 * than the pin) must still find the same oid. A writer retiring the oid checks pins inside its
 * txn, under pins.mu: if it checked before our pin, it marked the oid dying, and either we saw
 * the mark (and waited) or the mark was already cleared, which means its commit happened before
 * our second snapshot, which then shows the new oid (mismatch: drop and retry). If it checked
 * after our pin, it kept the pages (zombie). Either way a pinned, verified oid keeps its pages.
 */
int
store_get_open(struct store *st, const char *bucket, struct slice key, struct store_get **out)
{
	struct store_get *g;
	uint64_t oid = 0, again = 0;
	int rc;

	*out = NULL;
	if (key.len == 0 || key.len > INDEX_KEY_MAX)
		return CAIRN_E_NOTFOUND;
	g = get_new(st, bucket, key);
	rc = get_lookup(g, &oid);
	while (rc == 0) {
		if (!get_pin(st, oid)) {
			rc = get_lookup(g, &oid);
			continue;
		}
		rc = get_lookup(g, &again);
		if (rc == 0 && again == oid)
			break;
		store_pin_drop(st, oid);
		oid = again;
	}
	if (rc < 0) {
		get_free(g);
		return rc;
	}
	g->oid = oid;
	*out = g;
	return 0;
}

const struct store_object_info *
store_get_info(const struct store_get *g)
{
	return &g->info;
}

uint64_t
store_get_oid(const struct store_get *g)
{
	return g->oid;
}

int
store_get_seek(struct store_get *g, uint64_t offset)
{
	if (offset > g->info.size)
		return CAIRN_E_INVAL;
	g->pos = offset;
	return 0;
}

static void
get_log_corrupt(struct store_get *g, const struct chunk_id *id, int rc)
{
	char hex[2 * CHUNK_ID_LEN + 1];
	int klen = g->key_len > 256 ? 256 : (int)g->key_len;

	chunk_id_hex(id, hex);
	log_error("store: %s/%.*s: chunk %s at offset %llu: %s", g->bucket, klen,
		  (const char *)g->key, hex, (unsigned long long)g->chunk_start,
		  cairn_strerror(rc));
}

/* Index of the first entry of the current page ending after pos (pos is inside the page). */
static size_t
get_page_index(const struct store_get *g, uint64_t pos)
{
	size_t lo = 0, hi = g->page_n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (g->page[mid].end > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Finds the chunk covering g->pos (loading its page when needed) and its location. */
static int
get_locate(struct store_get *g, struct chunk_id *id, struct index_chunk *c)
{
	struct index_txn *txn;
	size_t i;
	int rc;

	rc = index_read_begin(g->st->ix, &txn);
	if (rc < 0)
		return rc;
	if (!g->page_ok || g->pos < g->page_start || g->pos >= g->page[g->page_n - 1].end) {
		g->page_ok = false;
		rc = index_page_find(txn, g->oid, g->pos, &g->page_start, g->page, &g->page_n);
		if (rc < 0)
			goto out_end;
		if (g->page_n == 0 || g->pos < g->page_start ||
		    g->pos >= g->page[g->page_n - 1].end) {
			rc = CAIRN_E_CORRUPT;
			goto out_end;
		}
		g->page_ok = true;
	}
	i = get_page_index(g, g->pos);
	g->chunk_start = i ? g->page[i - 1].end : g->page_start;
	g->chunk_end = g->page[i].end;
	*id = g->page[i].id;
	rc = index_chunk_get(txn, id, c);
out_end:
	index_read_end(txn);
	return rc;
}

static int
get_load_chunk(struct store_get *g)
{
	struct index_chunk c;
	struct chunk_id id;
	int rc;

	g->chunk_ok = false;
	memset(&id, 0, sizeof(id));
	rc = get_locate(g, &id, &c);
	if (rc < 0)
		goto out_log;
	rc = store_record_read(g->st, &id, &c.loc, &g->rec);
	if (rc < 0)
		goto out_log;
	rc = pack_record_decode(g->rec.p, g->rec.len, false, &g->raw);
	if (rc < 0)
		goto out_log;
	if (g->raw.len != g->chunk_end - g->chunk_start || g->chunk_end <= g->chunk_start) {
		rc = CAIRN_E_CORRUPT;
		goto out_log;
	}
	g->chunk_ok = true;
	store_call_read_hook(g->st, &id);
	return 0;
out_log:
	get_log_corrupt(g, &id, rc);
	return rc;
}

int
store_get_next(struct store_get *g, size_t max, struct slice *span)
{
	uint64_t n;
	int rc;

	span->p = NULL;
	span->len = 0;
	if (max == 0)
		return CAIRN_E_INVAL;
	if (g->pos >= g->info.size)
		return 0;
	if (!g->chunk_ok || g->pos < g->chunk_start || g->pos >= g->chunk_end) {
		rc = get_load_chunk(g);
		if (rc < 0)
			return rc;
	}
	n = g->chunk_end - g->pos;
	if (n > max)
		n = max;
	span->p = g->raw.p + (g->pos - g->chunk_start);
	span->len = (size_t)n;
	g->pos += n;
	return 0;
}

int
store_get_prefetch(struct store_get *g)
{
	if (g->pos >= g->info.size)
		return 0;
	if (g->chunk_ok && g->pos >= g->chunk_start && g->pos < g->chunk_end)
		return 0;
	return get_load_chunk(g);
}

int
store_get_read(struct store_get *g, void *p, size_t len, size_t *n)
{
	struct slice span;
	uint8_t *q = p;
	int rc;

	*n = 0;
	while (*n < len) {
		rc = store_get_next(g, len - *n, &span);
		if (rc < 0)
			return rc;
		if (span.len == 0)
			break;
		memcpy(q + *n, span.p, span.len);
		*n += span.len;
	}
	return 0;
}

void
store_get_close(struct store_get *g)
{
	if (!g)
		return;
	store_pin_drop(g->st, g->oid);
	get_free(g);
}

int
store_stat(struct store *st, const char *bucket, struct slice key, struct store_object_info *info,
	   struct buf *meta_out)
{
	struct index_object obj;
	struct index_txn *txn;
	int rc;

	if (key.len == 0 || key.len > INDEX_KEY_MAX)
		return CAIRN_E_NOTFOUND;
	rc = index_read_begin(st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_object_get(txn, bucket, key, &obj);
	if (rc < 0)
		goto out_end;
	store_info_from_object(&obj, info);
	if (meta_out) {
		buf_reset(meta_out);
		rc = buf_append(meta_out, obj.meta.p, obj.meta.len);
		info->meta = buf_slice(meta_out);
	}
out_end:
	index_read_end(txn);
	return rc;
}
