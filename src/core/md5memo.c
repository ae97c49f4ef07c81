/*
 * md5memo.c — the MD5 transition memory: a fixed table of two-entry buckets under striped locks.
 *
 * An entry is 32 bytes (key, state after). The key is already a cryptographic hash, so its first
 * eight bytes pick the bucket. A new fact, or one just found, goes to the front of its bucket and
 * the others move back; a new one pushes the last out: a bucket keeps the most recently used.
 * Lookups and inserts are a few hundred per MiB of body (one per chunk), so a lock per group
 * of buckets costs nothing measurable; torn entries are impossible under it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "cairn/err.h"
#include "cairn/fileio.h"
#include "cairn/le.h"
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

static bool
md5memo_all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
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

	for (i = 0; i < 4; i++, len += 4)
		le32_put(msg + len, s->h[i]);
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
	if (md5memo_all_zero(key, MD5MEMO_KEY_LEN))
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

/* Records (key, h) first in bucket e: in key's place if there, else pushing the last out. */
static void
md5memo_insert(struct md5memo_entry *e, const uint8_t key[MD5MEMO_KEY_LEN], const uint32_t h[4])
{
	int w;

	for (w = 0; w < MD5MEMO_WAYS - 1; w++)
		if (memcmp(e[w].key, key, MD5MEMO_KEY_LEN) == 0)
			break;
	md5memo_to_front(e, w, key, h);
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

	pthread_mutex_lock(md5memo_stripe(m, b));
	md5memo_insert(e, key, h);
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

/* ---- the file: a 64-byte header, then every bucket's entries in table order ----
 * header: "CAIRNMM1", u32 version, u32 ways, u64 buckets, XXH3-128 of the entry bytes (high
 * then low half), zeros; integers little-endian. An entry: its key, then h[0..3]. */

#define MD5MEMO_MAGIC "CAIRNMM1"
#define MD5MEMO_VERSION 1u
#define MD5MEMO_HEADER 64
#define MD5MEMO_IO_BUCKETS 256 /* buckets per read or write: 64 KiB */
#define MD5MEMO_FILE_BUCKETS_MAX (1ull << 36)

/* Serialises n buckets from b on into out (n * MD5MEMO_WAYS * MD5MEMO_ENTRY_BYTES bytes). */
static void
md5memo_export(struct md5memo *m, size_t b, size_t n, uint8_t *out)
{
	for (size_t i = b; i < b + n; i++) {
		pthread_mutex_lock(md5memo_stripe(m, i));
		for (int w = 0; w < MD5MEMO_WAYS; w++) {
			const struct md5memo_entry *e = &m->entries[i * MD5MEMO_WAYS + (size_t)w];

			memcpy(out, e->key, MD5MEMO_KEY_LEN);
			for (int k = 0; k < 4; k++)
				le32_put(out + MD5MEMO_KEY_LEN + 4 * k, e->h[k]);
			out += MD5MEMO_ENTRY_BYTES;
		}
		pthread_mutex_unlock(md5memo_stripe(m, i));
	}
}

/* Writes p[len] at off, leaving its all-zero 4 KiB blocks as holes (the file is truncated to
 * its full length afterwards): a memo with few facts takes little disk. */
static int
md5memo_write_sparse(int fd, const uint8_t *p, size_t len, off_t off)
{
	size_t blk = 4096, i, n;
	int rc = 0;

	for (i = 0; i < len && rc == 0; i += n) {
		n = len - i < blk ? len - i : blk;
		if (!md5memo_all_zero(p + i, n))
			rc = fileio_pwrite_all(fd, p + i, n, off + (off_t)i);
	}
	return rc;
}

int
md5memo_save(struct md5memo *m, int fd)
{
	size_t piece = MD5MEMO_IO_BUCKETS * MD5MEMO_WAYS * MD5MEMO_ENTRY_BYTES, n;
	uint8_t header[MD5MEMO_HEADER] = {0}, *buf = malloc(piece);
	XXH3_state_t *x = XXH3_createState();
	off_t off = MD5MEMO_HEADER;
	XXH128_hash_t sum;
	int rc = 0;

	if (!buf || !x || XXH3_128bits_reset(x) != XXH_OK) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t b = 0; b < m->nbuckets && rc == 0; b += n) {
		n = m->nbuckets - b < MD5MEMO_IO_BUCKETS ? m->nbuckets - b : MD5MEMO_IO_BUCKETS;
		md5memo_export(m, b, n, buf);
		piece = n * MD5MEMO_WAYS * MD5MEMO_ENTRY_BYTES;
		XXH3_128bits_update(x, buf, piece);
		rc = md5memo_write_sparse(fd, buf, piece, off);
		off += (off_t)piece;
	}
	if (rc == 0 && ftruncate(fd, off) != 0)
		rc = -errno;
	if (rc < 0)
		goto out;
	sum = XXH3_128bits_digest(x);
	memcpy(header, MD5MEMO_MAGIC, 8);
	le32_put(header + 8, MD5MEMO_VERSION);
	le32_put(header + 12, MD5MEMO_WAYS);
	le64_put(header + 16, m->nbuckets);
	le64_put(header + 24, sum.high64);
	le64_put(header + 32, sum.low64);
	rc = fileio_pwrite_all(fd, header, sizeof(header), 0);
out:
	XXH3_freeState(x);
	free(buf);
	return rc;
}

/* Forgets every fact. */
static void
md5memo_clear(struct md5memo *m)
{
	for (size_t b = 0; b < m->nbuckets; b++) {
		pthread_mutex_lock(md5memo_stripe(m, b));
		memset(&m->entries[b * MD5MEMO_WAYS], 0, MD5MEMO_WAYS * sizeof(*m->entries));
		pthread_mutex_unlock(md5memo_stripe(m, b));
	}
}

/* Adds the non-empty entries of n serialised buckets at in, each bucket's oldest first. */
static uint64_t
md5memo_import(struct md5memo *m, const uint8_t *in, size_t n)
{
	uint8_t key[MD5MEMO_KEY_LEN];
	uint64_t added = 0;
	uint32_t h[4];

	for (size_t i = 0; i < n; i++) {
		for (int w = MD5MEMO_WAYS - 1; w >= 0; w--) {
			const uint8_t *e =
			    in + (i * MD5MEMO_WAYS + (size_t)w) * MD5MEMO_ENTRY_BYTES;
			size_t b;
			int k;

			if (md5memo_all_zero(e, MD5MEMO_KEY_LEN))
				continue; /* empty */
			memcpy(key, e, MD5MEMO_KEY_LEN);
			for (k = 0; k < 4; k++)
				h[k] = le32_get(e + MD5MEMO_KEY_LEN + 4 * k);
			b = md5memo_bucket(m, key);
			pthread_mutex_lock(md5memo_stripe(m, b));
			md5memo_insert(&m->entries[b * MD5MEMO_WAYS], key, h);
			pthread_mutex_unlock(md5memo_stripe(m, b));
			added++;
		}
	}
	return added;
}

/* Reads the file's entries in pieces: each piece goes to the hash, and with import also into m. */
static int
md5memo_pass(struct md5memo *m, int fd, uint64_t nbuckets, XXH128_hash_t *sum, bool import,
	     uint64_t *added)
{
	size_t piece = MD5MEMO_IO_BUCKETS * MD5MEMO_WAYS * MD5MEMO_ENTRY_BYTES, n;
	XXH3_state_t *x = XXH3_createState();
	uint8_t *buf = malloc(piece);
	off_t off = MD5MEMO_HEADER;
	int rc = 0;

	if (!buf || !x || XXH3_128bits_reset(x) != XXH_OK) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t b = 0; b < nbuckets && rc == 0; b += n) {
		n = nbuckets - b < MD5MEMO_IO_BUCKETS ? (size_t)(nbuckets - b) : MD5MEMO_IO_BUCKETS;
		piece = n * MD5MEMO_WAYS * MD5MEMO_ENTRY_BYTES;
		rc = fileio_pread_all(fd, buf, piece, off);
		if (rc == -EIO)
			rc = CAIRN_E_CORRUPT; /* shorter than its header says */
		if (rc < 0)
			break;
		XXH3_128bits_update(x, buf, piece);
		if (import)
			*added += md5memo_import(m, buf, n);
		off += (off_t)piece;
	}
	*sum = XXH3_128bits_digest(x);
out:
	XXH3_freeState(x);
	free(buf);
	return rc;
}

int
md5memo_load(struct md5memo *m, int fd, uint64_t *nfacts)
{
	uint8_t header[MD5MEMO_HEADER];
	uint64_t nbuckets, added = 0;
	XXH128_hash_t sum, want;
	struct stat sb;
	int rc;

	if (nfacts)
		*nfacts = 0;
	if (fstat(fd, &sb) != 0)
		return -errno;
	rc = fileio_pread_all(fd, header, sizeof(header), 0);
	if (rc < 0)
		return rc == -EIO ? CAIRN_E_CORRUPT : rc;
	nbuckets = le64_get(header + 16);
	if (memcmp(header, MD5MEMO_MAGIC, 8) != 0 || le32_get(header + 8) != MD5MEMO_VERSION ||
	    le32_get(header + 12) != MD5MEMO_WAYS || nbuckets == 0 ||
	    nbuckets > MD5MEMO_FILE_BUCKETS_MAX ||
	    (uint64_t)sb.st_size != MD5MEMO_HEADER + nbuckets * MD5MEMO_WAYS * MD5MEMO_ENTRY_BYTES)
		return CAIRN_E_CORRUPT;
	want.high64 = le64_get(header + 24);
	want.low64 = le64_get(header + 32);
	/* the whole file checked before a single fact is believed */
	rc = md5memo_pass(m, fd, nbuckets, &sum, false, &added);
	if (rc < 0)
		return rc;
	if (!XXH128_isEqual(sum, want))
		return CAIRN_E_CORRUPT;
	rc = md5memo_pass(m, fd, nbuckets, &sum, true, &added);
	if (rc == 0 && !XXH128_isEqual(sum, want))
		rc = CAIRN_E_CORRUPT; /* the file changed between the passes */
	if (rc < 0) {
		md5memo_clear(m); /* what came in is not to be believed */
		added = 0;
	}
	if (nfacts)
		*nfacts = added;
	return rc;
}
