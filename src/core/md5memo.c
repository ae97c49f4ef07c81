/*
 * md5memo.c — the MD5 transition memory: a fixed table of two-entry buckets under striped locks.
 *
 * An entry is 32 bytes (key, state after). The key is already a cryptographic hash, so its first
 * eight bytes pick the bucket. A new fact, or one just found, goes to the front of its bucket and
 * the others move back; a new one pushes the last out: a bucket keeps the most recently used.
 * Lookups and inserts are a few hundred per MiB of body (one per chunk), so a lock per group
 * of buckets costs nothing measurable; torn entries are impossible under it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cairn/md5memo.h"

#define MD5MEMO_STRIPES 16
/* A body of n chunks needs all n of its facts: with two ways, a table 6 % full already had ~75
 * buckets with a third key, each a broken chain; eight ways (four cache lines) make an overflow
 * at that fill vanishingly rare, so facts leave only when the table is really full. */
#define MD5MEMO_WAYS 8

struct md5memo_entry {
	uint8_t key[MD5MEMO_KEY_LEN]; /* all zero: empty */
	uint32_t h[4];
};

struct md5memo {
	struct md5memo_entry *entries; /* nbuckets * MD5MEMO_WAYS */
	size_t nbuckets;	       /* a power of two */
	pthread_mutex_t stripes[MD5MEMO_STRIPES];
	_Atomic uint64_t hits, misses, puts;
};

struct md5memo *
md5memo_new(size_t bytes)
{
	size_t n = bytes / (MD5MEMO_ENTRY_BYTES * MD5MEMO_WAYS), nb = 1;
	struct md5memo *m;
	int i;

	if (n == 0)
		return NULL;
	while (nb * 2 <= n)
		nb *= 2;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	/* calloc of a large block maps fresh zero pages: memory is taken as buckets fill */
	m->entries = calloc(nb * MD5MEMO_WAYS, sizeof(*m->entries));
	if (!m->entries) {
		free(m);
		return NULL;
	}
	m->nbuckets = nb;
	for (i = 0; i < MD5MEMO_STRIPES; i++)
		if (pthread_mutex_init(&m->stripes[i], NULL) != 0)
			abort();
	return m;
}

void
md5memo_free(struct md5memo *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i < MD5MEMO_STRIPES; i++)
		pthread_mutex_destroy(&m->stripes[i]);
	free(m->entries);
	free(m);
}

void
md5memo_key(const struct md5_state *s, const uint8_t *partial, size_t plen,
	    const uint8_t chunk_id[32], uint8_t key[MD5MEMO_KEY_LEN])
{
	uint8_t msg[16 + 1 + MD5SHA_BLOCK + 32], out[32];
	struct sha256_state sha;
	unsigned int n = 0;
	size_t len = 0;
	int i;

	for (i = 0; i < 4; i++) {
		msg[len++] = (uint8_t)s->h[i];
		msg[len++] = (uint8_t)(s->h[i] >> 8);
		msg[len++] = (uint8_t)(s->h[i] >> 16);
		msg[len++] = (uint8_t)(s->h[i] >> 24);
	}
	if (plen >= MD5SHA_BLOCK)
		abort(); /* a caller bug: a whole block is part of the state */
	msg[len++] = (uint8_t)plen;
	memcpy(msg + len, partial, plen);
	len += plen;
	memcpy(msg + len, chunk_id, 32);
	len += 32;
	if (md5sha_stitched_available()) {
		sha256_init(&sha);
		sha256_final(&sha, msg, len, out);
	} else if (!EVP_Digest(msg, len, out, &n, EVP_sha256(), NULL) || n != 32) {
		abort();
	}
	memcpy(key, out, MD5MEMO_KEY_LEN);
	/* all zero marks an empty entry; a real key of all zero (2^-128) becomes another key */
	for (i = 0; i < MD5MEMO_KEY_LEN && key[i] == 0; i++)
		;
	if (i == MD5MEMO_KEY_LEN)
		key[0] = 1;
}

static size_t
md5memo_bucket(const struct md5memo *m, const uint8_t key[MD5MEMO_KEY_LEN])
{
	uint64_t x;

	memcpy(&x, key, sizeof(x));
	return (size_t)x & (m->nbuckets - 1);
}

static pthread_mutex_t *
md5memo_stripe(struct md5memo *m, size_t bucket)
{
	return &m->stripes[bucket % MD5MEMO_STRIPES];
}

/* Puts (key, h) first in bucket e, moving ways 0..w-1 back one (way w, the key's old place or
 * the last, is overwritten). */
static void
md5memo_to_front(struct md5memo_entry *e, int w, const uint8_t key[MD5MEMO_KEY_LEN],
		 const uint32_t h[4])
{
	memmove(&e[1], &e[0], (size_t)w * sizeof(*e));
	memcpy(e[0].key, key, MD5MEMO_KEY_LEN);
	memcpy(e[0].h, h, sizeof(e[0].h));
}

bool
md5memo_get(struct md5memo *m, const uint8_t key[MD5MEMO_KEY_LEN], uint32_t h[4])
{
	size_t b = md5memo_bucket(m, key);
	struct md5memo_entry *e = &m->entries[b * MD5MEMO_WAYS];
	bool found = false;
	int w;

	pthread_mutex_lock(md5memo_stripe(m, b));
	for (w = 0; w < MD5MEMO_WAYS && !found; w++)
		found = memcmp(e[w].key, key, MD5MEMO_KEY_LEN) == 0;
	if (found) {
		memcpy(h, e[w - 1].h, sizeof(e[w - 1].h));
		md5memo_to_front(e, w - 1, key, h);
	}
	pthread_mutex_unlock(md5memo_stripe(m, b));
	atomic_fetch_add_explicit(found ? &m->hits : &m->misses, 1, memory_order_relaxed);
	return found;
}

void
md5memo_put(struct md5memo *m, const uint8_t key[MD5MEMO_KEY_LEN], const uint32_t h[4])
{
	size_t b = md5memo_bucket(m, key);
	struct md5memo_entry *e = &m->entries[b * MD5MEMO_WAYS];
	int w;

	pthread_mutex_lock(md5memo_stripe(m, b));
	for (w = 0; w < MD5MEMO_WAYS - 1; w++)
		if (memcmp(e[w].key, key, MD5MEMO_KEY_LEN) == 0)
			break;
	md5memo_to_front(e, w, key, h);
	pthread_mutex_unlock(md5memo_stripe(m, b));
	atomic_fetch_add_explicit(&m->puts, 1, memory_order_relaxed);
}

void
md5memo_stats(struct md5memo *m, struct md5memo_stats *out)
{
	out->hits = atomic_load_explicit(&m->hits, memory_order_relaxed);
	out->misses = atomic_load_explicit(&m->misses, memory_order_relaxed);
	out->puts = atomic_load_explicit(&m->puts, memory_order_relaxed);
}
