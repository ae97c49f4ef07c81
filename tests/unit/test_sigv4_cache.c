#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/hex.h"
#include "cairn/sigv4.h"
#include "cairn/sigv4_cache.h"

/* AWS documentation example credentials; the key is test_sigv4.c's test_signing_key vector. */
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_KEY_HEX "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378"
#define OTHER_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEz"

static struct sigv4_auth
scope(const char *ak, const char *date, const char *region, const char *service)
{
	struct sigv4_auth a;

	memset(&a, 0, sizeof(a));
	snprintf(a.access_key, sizeof(a.access_key), "%s", ak);
	snprintf(a.date, sizeof(a.date), "%s", date);
	snprintf(a.region, sizeof(a.region), "%s", region);
	snprintf(a.service, sizeof(a.service), "%s", service);
	return a;
}

/* The key sigv4_signing_key() derives for a under secret. */
static void
direct(const struct sigv4_auth *a, const char *secret, uint8_t key[SIGV4_KEY_LEN])
{
	sigv4_signing_key(secret, strlen(secret), a->date, a->region, a->service, key);
}

/* Gets a's key through c under secret and checks it is the derived one. */
static void
get_checked(struct sigv4_cache *c, const struct sigv4_auth *a, const char *secret)
{
	uint8_t got[SIGV4_KEY_LEN], want[SIGV4_KEY_LEN];

	memset(got, 0xaa, sizeof(got));
	sigv4_cache_signing_key(c, a, secret, strlen(secret), got);
	direct(a, secret, want);
	assert_memory_equal(got, want, SIGV4_KEY_LEN);
}

static struct sigv4_cache_stats
stats(struct sigv4_cache *c)
{
	struct sigv4_cache_stats s;

	sigv4_cache_stats(c, &s);
	return s;
}

static void
test_hit_and_miss(void **state)
{
	struct sigv4_cache *c = sigv4_cache_new(16);
	struct sigv4_auth a = scope("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3");
	uint8_t key[SIGV4_KEY_LEN];
	char hex[2 * SIGV4_KEY_LEN + 1];

	(void)state;
	for (int i = 0; i < 3; i++) {
		memset(key, 0, sizeof(key));
		sigv4_cache_signing_key(c, &a, DOC_SECRET, strlen(DOC_SECRET), key);
		hex_encode(key, sizeof(key), hex);
		assert_string_equal(hex, DOC_KEY_HEX);
	}
	assert_int_equal(stats(c).misses, 1);
	assert_int_equal(stats(c).hits, 2);
	assert_int_equal(stats(c).evicted, 0);
	assert_int_equal(stats(c).capacity, 16);
	sigv4_cache_clear(c);
	get_checked(c, &a, DOC_SECRET);
	assert_int_equal(stats(c).misses, 2);
	sigv4_cache_free(c);
	sigv4_cache_free(NULL);
}

/* Each part of the scope is part of the entry's identity. */
static void
test_scope_parts(void **state)
{
	struct sigv4_cache *c = sigv4_cache_new(64);
	const struct sigv4_auth v[] = {
	    scope("AK1", "20240601", "us-east-1", "s3"),
	    scope("AK1", "20240602", "us-east-1", "s3"),
	    scope("AK1", "20240601", "eu-west-1", "s3"),
	    scope("AK1", "20240601", "us-east-1", "s4"),
	    scope("AK2", "20240601", "us-east-1", "s3"),
	    scope("AK12", "0240601", "us-east-1", "s3"),
	};
	uint8_t k[6][SIGV4_KEY_LEN];
	size_t n = sizeof(v) / sizeof(v[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		get_checked(c, &v[i], DOC_SECRET);
	assert_int_equal(stats(c).misses, n);
	assert_int_equal(stats(c).hits, 0);
	for (size_t i = 0; i < n; i++) {
		sigv4_cache_signing_key(c, &v[i], DOC_SECRET, strlen(DOC_SECRET), k[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[i].date, v[j].date) != 0 || strcmp(v[i].region, v[j].region) ||
			    strcmp(v[i].service, v[j].service))
				assert_memory_not_equal(k[i], k[j], SIGV4_KEY_LEN);
	}
	assert_int_equal(stats(c).hits, n);
	assert_int_equal(stats(c).misses, n);
	sigv4_cache_free(c);
}

/* A user re-keyed under the same access key: the old entry must not answer for the new secret,
 * nor the new one for the old. */
static void
test_changed_secret(void **state)
{
	struct sigv4_cache *c = sigv4_cache_new(16);
	struct sigv4_auth a = scope("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3");
	uint8_t k1[SIGV4_KEY_LEN], k2[SIGV4_KEY_LEN];

	(void)state;
	sigv4_cache_signing_key(c, &a, DOC_SECRET, strlen(DOC_SECRET), k1);
	sigv4_cache_signing_key(c, &a, OTHER_SECRET, strlen(OTHER_SECRET), k2);
	assert_memory_not_equal(k1, k2, SIGV4_KEY_LEN);
	get_checked(c, &a, OTHER_SECRET);
	assert_int_equal(stats(c).misses, 2);
	assert_int_equal(stats(c).hits, 1);
	assert_int_equal(stats(c).rekeyed, 1);
	get_checked(c, &a, DOC_SECRET);
	assert_int_equal(stats(c).rekeyed, 2);
	/* The secret's length counts too: a prefix of it is another secret. */
	get_checked(c, &a, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE");
	assert_int_equal(stats(c).rekeyed, 3);
	get_checked(c, &a, DOC_SECRET);
	assert_int_equal(stats(c).misses, 5);
	assert_int_equal(stats(c).hits, 1);
	sigv4_cache_free(c);
}

/* One set of SIGV4_CACHE_WAYS entries: the least recently used goes first. */
static void
test_eviction(void **state)
{
	struct sigv4_cache *c = sigv4_cache_new(SIGV4_CACHE_WAYS);
	struct sigv4_auth t[SIGV4_CACHE_WAYS + 1];
	char ak[16];

	(void)state;
	assert_int_equal(stats(c).capacity, SIGV4_CACHE_WAYS);
	for (int i = 0; i <= SIGV4_CACHE_WAYS; i++) {
		snprintf(ak, sizeof(ak), "AK%d", i);
		t[i] = scope(ak, "20240601", "us-east-1", "s3");
	}
	for (int i = 0; i < SIGV4_CACHE_WAYS; i++)
		get_checked(c, &t[i], DOC_SECRET);
	get_checked(c, &t[0], DOC_SECRET); /* t[1] is now the least recently used */
	assert_int_equal(stats(c).hits, 1);
	assert_int_equal(stats(c).evicted, 0);
	get_checked(c, &t[SIGV4_CACHE_WAYS], DOC_SECRET);
	assert_int_equal(stats(c).evicted, 1);
	for (int i = 0; i <= SIGV4_CACHE_WAYS; i++)
		if (i != 1)
			get_checked(c, &t[i], DOC_SECRET);
	assert_int_equal(stats(c).hits, SIGV4_CACHE_WAYS + 1);
	assert_int_equal(stats(c).misses, SIGV4_CACHE_WAYS + 1);
	get_checked(c, &t[1], DOC_SECRET); /* evicted: derived again */
	assert_int_equal(stats(c).misses, SIGV4_CACHE_WAYS + 2);
	assert_int_equal(stats(c).evicted, 2);
	sigv4_cache_free(c);
}

static void
test_sizes(void **state)
{
	struct sigv4_cache *c;
	struct sigv4_auth a = scope("AK", "20240601", "us-east-1", "s3");
	const unsigned ask[][2] = {
	    {0, SIGV4_CACHE_WAYS},
	    {1, SIGV4_CACHE_WAYS},
	    {SIGV4_CACHE_WAYS + 1, 2 * SIGV4_CACHE_WAYS},
	    {SIGV4_CACHE_DEFAULT_ENTRIES, SIGV4_CACHE_DEFAULT_ENTRIES},
	    {4000000000u, SIGV4_CACHE_MAX_ENTRIES},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ask) / sizeof(ask[0]); i++) {
		c = sigv4_cache_new(ask[i][0]);
		assert_int_equal(stats(c).capacity, ask[i][1]);
		get_checked(c, &a, DOC_SECRET);
		sigv4_cache_free(c);
	}
	get_checked(NULL, &a, DOC_SECRET); /* no cache: derived */
}

/* Many more scopes than entries, two secrets, several threads at once: every key returned is
 * the derived one for its scope and secret. */
#define THREADS 4
#define ROUNDS 1500
#define SCOPES 24

struct hammer {
	struct sigv4_cache *c;
	const struct sigv4_auth *scopes;
	uint8_t (*want)[2][SIGV4_KEY_LEN];
	unsigned seed;
	unsigned wrong;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	static const char *const secrets[2] = {DOC_SECRET, OTHER_SECRET};
	uint8_t key[SIGV4_KEY_LEN];

	for (int i = 0; i < ROUNDS; i++) {
		unsigned s, x;

		h->seed = h->seed * 1103515245u + 12345u;
		x = h->seed >> 8;
		s = x % SCOPES;
		/* The secret changes rarely, as a re-keyed user's does. */
		sigv4_cache_signing_key(h->c, &h->scopes[s], secrets[x % 97 == 0],
					strlen(secrets[x % 97 == 0]), key);
		if (memcmp(key, h->want[s][x % 97 == 0], SIGV4_KEY_LEN) != 0)
			h->wrong++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct sigv4_cache *c = sigv4_cache_new(8);
	struct sigv4_auth scopes[SCOPES];
	uint8_t want[SCOPES][2][SIGV4_KEY_LEN];
	struct hammer h[THREADS];
	pthread_t tid[THREADS];
	char ak[16];
	struct sigv4_cache_stats s;

	(void)state;
	for (int i = 0; i < SCOPES; i++) {
		snprintf(ak, sizeof(ak), "AK%d", i % 8);
		scopes[i] = scope(ak, i < 8 ? "20240601" : "20240602", i < 16 ? "r1" : "r2", "s3");
		direct(&scopes[i], DOC_SECRET, want[i][0]);
		direct(&scopes[i], OTHER_SECRET, want[i][1]);
	}
	for (int i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){c, scopes, want, 7u + (unsigned)i, 0};
		assert_int_equal(pthread_create(&tid[i], NULL, hammer_main, &h[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(h[i].wrong, 0);
	}
	sigv4_cache_stats(c, &s);
	assert_int_equal(s.hits + s.misses, THREADS * ROUNDS);
	assert_true(s.hits > 0);
	assert_true(s.evicted > 0);
	assert_true(s.rekeyed > 0);
	sigv4_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hit_and_miss),   cmocka_unit_test(test_scope_parts),
	    cmocka_unit_test(test_changed_secret), cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_sizes),	   cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
