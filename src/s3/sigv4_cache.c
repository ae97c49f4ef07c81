/* sigv4_cache.c — signing keys by credential scope; see sigv4_cache.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include "cairn/sigv4_cache.h"

struct sigv4_cache_entry {
	bool used;
	uint64_t tick; /* cache tick of the last use: the set's smallest is evicted first */
	uint64_t hash; /* of the tuple, to skip most string compares */
	char access_key[SIGV4_ACCESS_KEY_MAX + 1];
	char date[9];
	char region[SIGV4_REGION_MAX + 1];
	char service[SIGV4_SERVICE_MAX + 1];
	uint8_t secret_sha[SIGV4_KEY_LEN]; /* SHA-256 of the secret the key came from */
	uint8_t key[SIGV4_KEY_LEN];
};

struct sigv4_cache {
	pthread_mutex_t lock; /* everything below */
	size_t set_mask;      /* sets - 1; sets is a power of two */
	uint64_t tick;
	struct sigv4_cache_stats stats;
	struct sigv4_cache_entry *entries; /* sets * SIGV4_CACHE_WAYS */
};

struct sigv4_cache *
sigv4_cache_new(unsigned entries)
{
	struct sigv4_cache *c = calloc(1, sizeof(*c));
	size_t sets = 1;

	if (!c)
		abort();
	if (entries > SIGV4_CACHE_MAX_ENTRIES)
		entries = SIGV4_CACHE_MAX_ENTRIES;
	while (sets * SIGV4_CACHE_WAYS < entries)
		sets *= 2;
	c->entries = calloc(sets * SIGV4_CACHE_WAYS, sizeof(*c->entries));
	if (!c->entries)
		abort();
	c->set_mask = sets - 1;
	c->stats.capacity = (unsigned)(sets * SIGV4_CACHE_WAYS);
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void
sigv4_cache_free(struct sigv4_cache *c)
{
	if (!c)
		return;
	OPENSSL_cleanse(c->entries, (c->set_mask + 1) * SIGV4_CACHE_WAYS * sizeof(*c->entries));
	free(c->entries);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void
sigv4_cache_clear(struct sigv4_cache *c)
{
	pthread_mutex_lock(&c->lock);
	OPENSSL_cleanse(c->entries, (c->set_mask + 1) * SIGV4_CACHE_WAYS * sizeof(*c->entries));
	pthread_mutex_unlock(&c->lock);
}

void
sigv4_cache_stats(struct sigv4_cache *c, struct sigv4_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}

/* Appends s and its NUL at p; returns the end. */
static uint8_t *
sigv4_cache_put_str(uint8_t *p, const char *s, size_t size)
{
	size_t n = strnlen(s, size - 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p + n + 1;
}

/* Hash of the tuple; the NULs keep ("ab", "c") and ("a", "bc") apart. The strings are bounded
 * by struct sigv4_auth's arrays, the buffer by their sizes. */
static uint64_t
sigv4_cache_hash(const struct sigv4_auth *a)
{
	uint8_t
	    buf[sizeof(a->access_key) + sizeof(a->date) + sizeof(a->region) + sizeof(a->service)];
	uint8_t *p = buf;

	p = sigv4_cache_put_str(p, a->access_key, sizeof(a->access_key));
	p = sigv4_cache_put_str(p, a->date, sizeof(a->date));
	p = sigv4_cache_put_str(p, a->region, sizeof(a->region));
	p = sigv4_cache_put_str(p, a->service, sizeof(a->service));
	return XXH3_64bits(buf, (size_t)(p - buf));
}

static bool
sigv4_cache_entry_is(const struct sigv4_cache_entry *e, uint64_t hash, const struct sigv4_auth *a)
{
	return e->used && e->hash == hash && strcmp(e->access_key, a->access_key) == 0 &&
	       strcmp(e->date, a->date) == 0 && strcmp(e->region, a->region) == 0 &&
	       strcmp(e->service, a->service) == 0;
}

static struct sigv4_cache_entry *
sigv4_cache_set(struct sigv4_cache *c, uint64_t hash)
{
	return &c->entries[(hash & c->set_mask) * SIGV4_CACHE_WAYS];
}

/* Under c->lock: the set's entry for the tuple, or NULL. */
static struct sigv4_cache_entry *
sigv4_cache_find(struct sigv4_cache *c, uint64_t hash, const struct sigv4_auth *a)
{
	struct sigv4_cache_entry *set = sigv4_cache_set(c, hash);

	for (unsigned i = 0; i < SIGV4_CACHE_WAYS; i++)
		if (sigv4_cache_entry_is(&set[i], hash, a))
			return &set[i];
	return NULL;
}

/* Under c->lock: the slot a new entry for the tuple goes to — the tuple's old entry, a free
 * one, or the least recently used (counted as evicted). The slot is wiped. */
static struct sigv4_cache_entry *
sigv4_cache_slot(struct sigv4_cache *c, uint64_t hash, const struct sigv4_auth *a)
{
	struct sigv4_cache_entry *set = sigv4_cache_set(c, hash);
	struct sigv4_cache_entry *e = sigv4_cache_find(c, hash, a);

	for (unsigned i = 0; !e && i < SIGV4_CACHE_WAYS; i++)
		if (!set[i].used)
			e = &set[i];
	if (!e) {
		e = &set[0];
		for (unsigned i = 1; i < SIGV4_CACHE_WAYS; i++)
			if (set[i].tick < e->tick)
				e = &set[i];
		c->stats.evicted++;
	}
	OPENSSL_cleanse(e, sizeof(*e));
	return e;
}

/* Under c->lock: copies the entry's key into key when the tuple is cached from the same secret.
 * An entry of the tuple from another secret is wiped. Returns true on a hit. */
static bool
sigv4_cache_lookup(struct sigv4_cache *c, uint64_t hash, const struct sigv4_auth *a,
		   const uint8_t secret_sha[SIGV4_KEY_LEN], uint8_t key[SIGV4_KEY_LEN])
{
	struct sigv4_cache_entry *e = sigv4_cache_find(c, hash, a);

	if (!e)
		return false;
	if (CRYPTO_memcmp(e->secret_sha, secret_sha, SIGV4_KEY_LEN) != 0) {
		OPENSSL_cleanse(e, sizeof(*e));
		c->stats.rekeyed++;
		return false;
	}
	memcpy(key, e->key, SIGV4_KEY_LEN);
	e->tick = ++c->tick;
	return true;
}

static void
sigv4_cache_store(struct sigv4_cache *c, uint64_t hash, const struct sigv4_auth *a,
		  const uint8_t secret_sha[SIGV4_KEY_LEN], const uint8_t key[SIGV4_KEY_LEN])
{
	struct sigv4_cache_entry *e = sigv4_cache_slot(c, hash, a);

	e->used = true;
	e->tick = ++c->tick;
	e->hash = hash;
	/* The sources are NUL-terminated within arrays of these same sizes. */
	memcpy(e->access_key, a->access_key, sizeof(e->access_key));
	memcpy(e->date, a->date, sizeof(e->date));
	memcpy(e->region, a->region, sizeof(e->region));
	memcpy(e->service, a->service, sizeof(e->service));
	memcpy(e->secret_sha, secret_sha, SIGV4_KEY_LEN);
	memcpy(e->key, key, SIGV4_KEY_LEN);
}

void
sigv4_cache_signing_key(struct sigv4_cache *c, const struct sigv4_auth *a, const char *secret,
			size_t secret_len, uint8_t key[SIGV4_KEY_LEN])
{
	uint8_t secret_sha[SIGV4_KEY_LEN];
	unsigned int n = 0;
	uint64_t hash;
	bool hit;

	if (!c) {
		sigv4_signing_key(secret, secret_len, a->date, a->region, a->service, key);
		return;
	}
	if (!EVP_Digest(secret, secret_len, secret_sha, &n, EVP_sha256(), NULL) ||
	    n != SIGV4_KEY_LEN)
		abort();
	hash = sigv4_cache_hash(a);
	pthread_mutex_lock(&c->lock);
	hit = sigv4_cache_lookup(c, hash, a, secret_sha, key);
	if (hit)
		c->stats.hits++;
	else
		c->stats.misses++;
	pthread_mutex_unlock(&c->lock);
	if (!hit) {
		sigv4_signing_key(secret, secret_len, a->date, a->region, a->service, key);
		pthread_mutex_lock(&c->lock);
		sigv4_cache_store(c, hash, a, secret_sha, key);
		pthread_mutex_unlock(&c->lock);
	}
	OPENSSL_cleanse(secret_sha, sizeof(secret_sha));
}
