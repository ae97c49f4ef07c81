/*
 * test_chunker.c — content-defined chunking: boundaries against an independent byte-at-a-time
 * reference (gear table regenerated from its documented recipe), stability (golden values),
 * split invariance, size limits, mean size, shift resilience and parameter checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/chunker.h"
#include "cairn/err.h"

/* Boundaries: end offsets of every chunk, the last one being the input length. */
struct cuts {
	size_t *off;
	size_t n;
	size_t cap;
};

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint8_t *
data_random(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len + 8);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i += 8) {
		uint64_t v = splitmix64(&seed);

		memcpy(p + i, &v, 8);
	}
	return p;
}

static void
cuts_init(struct cuts *c, size_t len, const struct chunker_params *prm)
{
	c->cap = len / prm->min_size + 2;
	c->off = calloc(c->cap, sizeof(*c->off));
	assert_non_null(c->off);
	c->n = 0;
}

static void
cuts_fini(struct cuts *c)
{
	free(c->off);
	c->off = NULL;
}

static void
cuts_add(struct cuts *c, size_t off)
{
	assert_true(c->n < c->cap);
	c->off[c->n++] = off;
}

static void
cuts_assert_equal(const struct cuts *a, const struct cuts *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_int_equal(a->off[i], b->off[i]);
}

/* A piece size for split feeding: often 1 byte, else small, medium or large. */
static size_t
piece_size(uint64_t r)
{
	switch (r & 3) {
	case 0:
		return 1;
	case 1:
		return 1 + (r >> 8) % 16;
	case 2:
		return 1 + (r >> 8) % 5000;
	default:
		return 1 + (r >> 8) % 300000;
	}
}

/*
 * Feeds data to the chunker in pieces (mode 0: the whole input at once, 1: all 1-byte pieces,
 * 2: pieces of piece_size() drawn from rng) and records the boundaries in out (initialized here).
 */
static void
chunk_split(const struct chunker_params *prm, const uint8_t *p, size_t len, int mode, uint64_t *rng,
	    struct cuts *out)
{
	struct chunker c;
	size_t off = 0, last = 0;

	cuts_init(out, len, prm);
	chunker_init(&c, prm);
	while (off < len) {
		size_t piece = mode == 0 ? len : mode == 1 ? 1 : piece_size(splitmix64(rng));
		size_t end = off + (piece < len - off ? piece : len - off);

		while (off < end) {
			bool is_cut;

			off += chunker_scan(&c, p + off, end - off, &is_cut);
			if (is_cut) {
				cuts_add(out, off);
				last = off;
			} else {
				assert_int_equal(off, end);
			}
		}
	}
	if (last < len)
		cuts_add(out, len);
}

static void
chunk_whole(const struct chunker_params *prm, const uint8_t *p, size_t len, struct cuts *out)
{
	uint64_t rng = 0;

	chunk_split(prm, p, len, 0, &rng, out);
}

/* The reference: the specification, one byte at a time, with no cleverness. */
static uint64_t ref_gear[256];

static void
ref_gear_make(void)
{
	uint64_t state = 0x636169726e676561ull; /* "cairngea", as documented in chunker.c */
	int i;

	for (i = 0; i < 256; i++)
		ref_gear[i] = splitmix64(&state);
}

/* nbits bits at positions 60 - floor(j * 48 / nbits), j = 0 .. nbits - 1. */
static uint64_t
ref_mask(unsigned int nbits)
{
	uint64_t m = 0;
	unsigned int j;

	for (j = 0; j < nbits; j++)
		m |= 1ull << (60 - (j * 48) / nbits);
	return m;
}

static unsigned int
ref_log2(uint32_t v)
{
	unsigned int b = 0;

	while ((1u << b) < v)
		b++;
	return b;
}

static void
chunk_ref(const struct chunker_params *prm, const uint8_t *p, size_t len, struct cuts *out)
{
	uint64_t strict = ref_mask(ref_log2(prm->avg_size) + 2);
	uint64_t loose = ref_mask(ref_log2(prm->avg_size) - 2);
	size_t start = 0, i;
	uint64_t h = 0;

	cuts_init(out, len, prm);
	for (i = 0; i < len; i++) {
		size_t pos = i - start; /* index of byte i within its chunk */
		bool cut = false;

		if (pos >= prm->min_size) {
			h = (h << 1) + ref_gear[p[i]];
			cut = (h & (pos < prm->avg_size ? strict : loose)) == 0 ||
			      pos + 1 == prm->max_size;
		}
		if (cut) {
			cuts_add(out, i + 1);
			start = i + 1;
			h = 0;
		}
	}
	if (start < len)
		cuts_add(out, len);
}

static void
assert_same_as_ref(const struct chunker_params *prm, const uint8_t *p, size_t len)
{
	struct cuts a, b;

	chunk_whole(prm, p, len, &a);
	chunk_ref(prm, p, len, &b);
	assert_true(a.n > 1);
	cuts_assert_equal(&a, &b);
	cuts_fini(&a);
	cuts_fini(&b);
}

static void
test_masks(void **state)
{
	struct chunker_params prm;
	struct chunker c;
	unsigned int b;

	(void)state;
	for (b = 7; b <= 23; b++) {
		prm.min_size = 64;
		prm.avg_size = 1u << b;
		prm.max_size = CHUNKER_MAX_SIZE_CEIL;
		assert_int_equal(chunker_params_check(&prm), 0);
		chunker_init(&c, &prm);
		assert_int_equal(__builtin_popcountll(c.mask_strict), b + 2);
		assert_int_equal(__builtin_popcountll(c.mask_loose), b - 2);
		assert_true((c.mask_strict >> 61) == 0);
		assert_true((c.mask_loose >> 61) == 0);
		assert_true(c.mask_strict == ref_mask(b + 2));
		assert_true(c.mask_loose == ref_mask(b - 2));
		assert_int_equal(c.hash, 0);
		assert_int_equal(c.pos, 0);
	}
}

/* Mixed content: random, long zero runs, low-entropy text-like bytes. */
static uint8_t *
data_mixed(size_t len, uint64_t seed)
{
	uint8_t *p = data_random(len, seed);
	size_t i;

	memset(p + len / 4, 0, len / 8);
	for (i = len / 2; i < len / 2 + len / 8; i++)
		p[i] = (uint8_t)("etaoin shrdlu\n"[p[i] % 14]);
	memset(p + len - len / 16, 0xff, len / 16);
	return p;
}

static void
test_matches_reference(void **state)
{
	static const struct chunker_params prms[] = {
	    {64, 128, 1024},
	    {256, 1024, 4096},
	    {1000, 4096, 5000},
	    {2048, 8192, 65536},
	    {16u << 10, 64u << 10, 256u << 10},
	};
	const size_t len = 8u << 20;
	uint8_t *rnd = data_random(len, 1);
	uint8_t *mix = data_mixed(len, 2);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prms) / sizeof(prms[0]); i++) {
		assert_same_as_ref(&prms[i], rnd, len);
		assert_same_as_ref(&prms[i], mix, len);
		assert_same_as_ref(&prms[i], rnd + 1, len - 3);
	}
	free(rnd);
	free(mix);
}

/*
 * Boundaries for a fixed input must never change: stored data is deduplicated against chunks cut
 * by earlier versions. These values were recorded once from this implementation (after it matched
 * the reference above).
 */
static void
test_golden(void **state)
{
	static const size_t want[] = {
	    66526,  147279, 217397, 324818, 391930, 463700, 531084,
	    616308, 717252, 789922, 874622, 909580, 991397, 1048576,
	};
	static const struct chunker_params prm = {16u << 10, 64u << 10, 256u << 10};
	struct cuts got;
	uint8_t *p = data_random(1u << 20, 0x676f6c64); /* "gold" */
	size_t i;

	(void)state;
	chunk_whole(&prm, p, 1u << 20, &got);
	assert_int_equal(got.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(got.off[i], want[i]);
	cuts_fini(&got);
	free(p);
}

static void
assert_split_invariant(const struct chunker_params *prm, const uint8_t *p, size_t len, int rounds,
		       uint64_t seed)
{
	struct cuts whole, split;
	int r;

	chunk_whole(prm, p, len, &whole);
	for (r = 0; r < rounds; r++) {
		chunk_split(prm, p, len, r == 0 ? 1 : 2, &seed, &split);
		cuts_assert_equal(&whole, &split);
		cuts_fini(&split);
	}
	cuts_fini(&whole);
}

static void
test_split_invariance(void **state)
{
	static const struct chunker_params small = {64, 256, 1024};
	static const struct chunker_params mid = {1024, 4096, 16384};
	struct chunker_params def;
	const size_t len = 4u << 20;
	uint8_t *p = data_mixed(len, 3);

	(void)state;
	chunker_params_default(&def);
	assert_split_invariant(&small, p, 256u << 10, 20, 11);
	assert_split_invariant(&mid, p, 1u << 20, 20, 12);
	assert_split_invariant(&def, p, len, 10, 13);
	free(p);
}

static void
assert_sizes_in_range(const struct chunker_params *prm, const struct cuts *c)
{
	size_t i, prev = 0;

	for (i = 0; i < c->n; i++) {
		size_t sz = c->off[i] - prev;

		if (i + 1 < c->n)
			assert_in_range(sz, prm->min_size, prm->max_size);
		else
			assert_in_range(sz, 1, prm->max_size);
		prev = c->off[i];
	}
}

static void
test_size_limits(void **state)
{
	static const struct chunker_params prms[] = {
	    {64, 128, 200},
	    {512, 2048, 4096},
	    {16u << 10, 64u << 10, 256u << 10},
	};
	const size_t len = 4u << 20;
	uint8_t *p = data_mixed(len, 4);
	struct cuts c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prms) / sizeof(prms[0]); i++) {
		chunk_whole(&prms[i], p, len, &c);
		assert_true(c.n > 10);
		assert_int_equal(c.off[c.n - 1], len);
		assert_sizes_in_range(&prms[i], &c);
		cuts_fini(&c);
	}
	free(p);
}

/* Constant input never satisfies a mask here: every chunk is cut at max_size. */
static void
test_zeros_cut_at_max(void **state)
{
	struct chunker_params prm;
	const size_t len = (1u << 20) + 100;
	uint8_t *p = calloc(1, len);
	struct cuts c;
	size_t i;

	(void)state;
	assert_non_null(p);
	chunker_params_default(&prm);
	chunk_whole(&prm, p, len, &c);
	assert_int_equal(c.n, len / prm.max_size + 1);
	for (i = 0; i + 1 < c.n; i++)
		assert_int_equal(c.off[i], (i + 1) * prm.max_size);
	assert_int_equal(c.off[c.n - 1], len);
	cuts_fini(&c);
	free(p);
}

/*
 * Expected chunk length on random data, assuming each hashed byte passes a mask of b bits with
 * probability 2^-b: E[L] = sum over k >= 0 of P(L > k), where P(L > k) is 1 below min, the chance
 * that no byte from min to k passes its mask for k in [min, max - 1), and 0 from max - 1 on.
 */
static double
mean_expected(const struct chunker_params *prm)
{
	unsigned int b = ref_log2(prm->avg_size);
	double ps = 1.0 - 1.0 / (double)(1ull << (b + 2));
	double pl = 1.0 - 1.0 / (double)(1ull << (b - 2));
	double surv = 1.0, sum = prm->min_size;
	uint32_t k;

	for (k = prm->min_size; k + 1 < prm->max_size; k++) {
		surv *= k < prm->avg_size ? ps : pl;
		sum += surv;
	}
	return sum;
}

static void
assert_mean(const struct chunker_params *prm, const uint8_t *p, size_t len)
{
	double mean, want = mean_expected(prm);
	struct cuts c;

	chunk_whole(prm, p, len, &c);
	/* The last chunk is cut by the end of input: leave it out. */
	mean = (double)c.off[c.n - 2] / (double)(c.n - 1);
	print_message("avg %u: mean %.0f, expected %.0f, %zu chunks\n", prm->avg_size, mean, want,
		      c.n);
	assert_true(mean > 0.9 * prm->avg_size && mean < 1.4 * prm->avg_size);
	assert_true(mean > 0.96 * want && mean < 1.04 * want);
	cuts_fini(&c);
}

static void
test_mean_size(void **state)
{
	static const struct chunker_params prms[] = {
	    {256, 1024, 8192},
	    {1024, 4096, 16384},
	    {2048, 8192, 65536},
	    {16u << 10, 64u << 10, 256u << 10},
	};
	const size_t len = 64u << 20;
	uint8_t *p = data_random(len, 5);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prms) / sizeof(prms[0]); i++)
		assert_mean(&prms[i], p, len);
	free(p);
}

/* How many boundaries of a, after skip_before, appear in b shifted by delta. */
static size_t
cuts_survivors(const struct cuts *a, const struct cuts *b, size_t skip_before, size_t delta)
{
	size_t i, j = 0, n = 0;

	for (i = 0; i < a->n; i++) {
		if (a->off[i] < skip_before)
			continue;
		while (j < b->n && b->off[j] < a->off[i] + delta)
			j++;
		if (j < b->n && b->off[j] == a->off[i] + delta)
			n++;
	}
	return n;
}

static void
test_shifted_content(void **state)
{
	static const struct chunker_params prm = {2048, 8192, 65536};
	const size_t len = 4u << 20, ins = 123, at = 1000;
	uint8_t *orig = data_random(len, 6);
	uint8_t *shifted = malloc(len + ins);
	struct cuts a, b;
	size_t later, kept;

	(void)state;
	assert_non_null(shifted);
	memcpy(shifted, orig, at);
	memset(shifted + at, 0x5a, ins);
	memcpy(shifted + at + ins, orig + at, len - at);
	chunk_whole(&prm, orig, len, &a);
	chunk_whole(&prm, shifted, len + ins, &b);
	later = cuts_survivors(&a, &a, at, 0);
	kept = cuts_survivors(&a, &b, at, ins);
	print_message("shift: %zu of %zu later boundaries kept\n", kept, later);
	assert_true(later > 300);
	assert_true(kept + 3 >= later);
	cuts_fini(&a);
	cuts_fini(&b);
	free(shifted);
	free(orig);
}

static void
assert_params_rc(uint32_t min, uint32_t avg, uint32_t max, int want)
{
	struct chunker_params prm = {min, avg, max};

	assert_int_equal(chunker_params_check(&prm), want);
}

static void
test_params_check(void **state)
{
	struct chunker_params def;

	(void)state;
	chunker_params_default(&def);
	assert_int_equal(chunker_params_check(&def), 0);
	assert_params_rc(64, 128, 129, 0);
	assert_params_rc(64, 128, CHUNKER_MAX_SIZE_CEIL, 0);
	assert_params_rc(4096, 8u << 20, CHUNKER_MAX_SIZE_CEIL, 0);
	assert_params_rc(63, 128, 1024, CAIRN_E_INVAL);	   /* min below the floor */
	assert_params_rc(0, 128, 1024, CAIRN_E_INVAL);	   /* zero min */
	assert_params_rc(64, 0, 1024, CAIRN_E_INVAL);	   /* zero avg */
	assert_params_rc(64, 192, 1024, CAIRN_E_INVAL);	   /* avg not a power of two */
	assert_params_rc(1000, 4095, 8192, CAIRN_E_INVAL); /* avg not a power of two */
	assert_params_rc(128, 128, 1024, CAIRN_E_INVAL);   /* min == avg */
	assert_params_rc(256, 128, 1024, CAIRN_E_INVAL);   /* min > avg */
	assert_params_rc(64, 1024, 1024, CAIRN_E_INVAL);   /* avg == max */
	assert_params_rc(64, 2048, 1024, CAIRN_E_INVAL);   /* avg > max */
	assert_params_rc(64, 1024, 0, CAIRN_E_INVAL);	   /* zero max */
	assert_params_rc(64, 1024, CHUNKER_MAX_SIZE_CEIL + 1, CAIRN_E_INVAL);
	assert_params_rc(64, 1u << 31, UINT32_MAX, CAIRN_E_INVAL);
	assert_params_rc(UINT32_MAX, 1u << 31, UINT32_MAX, CAIRN_E_INVAL);
}

/* Empty buffers change nothing; a chunk cut exactly at a buffer's end is reported there. */
static void
test_edges(void **state)
{
	static const struct chunker_params prm = {64, 128, 200};
	uint8_t *p = calloc(1, 1000);
	struct chunker c;
	bool is_cut = true;

	(void)state;
	assert_non_null(p);
	chunker_init(&c, &prm);
	assert_int_equal(chunker_scan(&c, p, 0, &is_cut), 0);
	assert_false(is_cut);
	assert_int_equal(chunker_scan(&c, p, 64, &is_cut), 64);
	assert_false(is_cut);
	assert_int_equal(c.pos, 64);
	assert_int_equal(chunker_scan(&c, p, 0, &is_cut), 0);
	assert_false(is_cut);
	assert_int_equal(chunker_scan(&c, p, 136, &is_cut), 136);
	assert_true(is_cut);
	assert_int_equal(c.pos, 0);
	assert_int_equal(c.hash, 0);
	assert_int_equal(chunker_scan(&c, p, 1000, &is_cut), 200);
	assert_true(is_cut);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params_check), cmocka_unit_test(test_masks),
	    cmocka_unit_test(test_edges),	 cmocka_unit_test(test_matches_reference),
	    cmocka_unit_test(test_golden),	 cmocka_unit_test(test_split_invariance),
	    cmocka_unit_test(test_size_limits),	 cmocka_unit_test(test_zeros_cut_at_max),
	    cmocka_unit_test(test_mean_size),	 cmocka_unit_test(test_shifted_content),
	};

	ref_gear_make();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
