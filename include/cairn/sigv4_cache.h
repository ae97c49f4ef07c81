/*
 * sigv4_cache.h — a small bounded cache of SigV4 signing keys, so that a request whose
 * credential scope was seen recently does not derive its key again (four HMAC-SHA256 over the
 * secret, ~10 µs on the reference machine; a 4 KiB GET or HEAD costs cairnd ~50 µs in all).
 *
 * An entry is keyed by (access key, scope date, region, service) and holds the derived key and
 * a SHA-256 of the secret it was derived from. A lookup whose secret hashes differently for the
 * same tuple (the user was re-keyed) misses, and the old entry is wiped and replaced: a replaced
 * secret never verifies through the cache. The cache only saves the derivation: the caller still
 * looks the access key up on every request (a removed user fails there) and still compares the
 * request's signature in constant time (sigv4_verify()).
 *
 * Secrets: entries live in memory only; this module does no I/O and logs nothing. The secret
 * itself is not kept. An entry that is evicted, replaced or cleared is wiped with
 * OPENSSL_cleanse, and sigv4_cache_free() wipes every entry before freeing.
 *
 * Bounds: the table is fixed at creation: sets of SIGV4_CACHE_WAYS entries, the set chosen by a
 * hash of the tuple, the least recently used entry of a full set evicted. At most
 * SIGV4_CACHE_MAX_ENTRIES entries (~300 bytes each). A client cannot fill it without valid
 * credentials: the scope's region and service are checked (sigv4_check_scope()) and the access
 * key looked up before any key is derived, and the date is within the clock-skew window.
 *
 * Threads: every function may be called from any number of threads at once. One mutex guards
 * the table and is held only to compare and copy entries; the derivation on a miss runs outside
 * it (two threads missing the same tuple at once both derive, and one entry results).
 */
#ifndef CAIRN_SIGV4_CACHE_H
#define CAIRN_SIGV4_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/sigv4.h"

#define SIGV4_CACHE_WAYS 4		/* entries per set */
#define SIGV4_CACHE_MAX_ENTRIES 65536u	/* upper bound of sigv4_cache_new()'s entries */
#define SIGV4_CACHE_DEFAULT_ENTRIES 256 /* what the server uses */

struct sigv4_cache;

/* Counters since creation (for tests and diagnostics; they reveal nothing secret). */
struct sigv4_cache_stats {
	uint64_t hits;	   /* keys returned from an entry */
	uint64_t misses;   /* keys derived (including the rekeyed below) */
	uint64_t evicted;  /* entries of another tuple dropped to make room */
	uint64_t rekeyed;  /* entries dropped because the same tuple came with another secret */
	unsigned capacity; /* entries the table holds */
};

/* Creates a cache of at least `entries` entries (rounded up to a power of two number of sets of
 * SIGV4_CACHE_WAYS; 0 counts as 1; more than SIGV4_CACHE_MAX_ENTRIES is lowered to it). The
 * caller frees it with sigv4_cache_free(). Aborts when memory cannot be had (a fixed size). */
struct sigv4_cache *sigv4_cache_new(unsigned entries);

/* Wipes every entry and frees c. NULL is a no-op. No other thread may use c any more. */
void sigv4_cache_free(struct sigv4_cache *c);

/* Writes the signing key for a's scope (a->access_key, a->date, a->region, a->service) under
 * secret[0..secret_len) into key: from the cache when an entry for that tuple was derived from
 * the same secret, else derived with sigv4_signing_key() and stored (evicting the set's least
 * recently used entry when it is full). The result is always what sigv4_signing_key() gives. c
 * may be NULL: the key is then derived every time. key is as sensitive as the secret: wipe it
 * when done. Cannot fail. */
void sigv4_cache_signing_key(struct sigv4_cache *c, const struct sigv4_auth *a, const char *secret,
			     size_t secret_len, uint8_t key[SIGV4_KEY_LEN]);

/* Wipes and drops every entry; c stays usable. Counters are kept. */
void sigv4_cache_clear(struct sigv4_cache *c);

/* Copies the counters into *out. */
void sigv4_cache_stats(struct sigv4_cache *c, struct sigv4_cache_stats *out);

#endif
