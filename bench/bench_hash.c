/*
 * bench_hash.c — single-thread throughput of the per-byte work on the PUT path: the chunker,
 * SHA-256 (chunk ids) and MD5 (ETags) through OpenSSL EVP, cairn's own MD5 (md5sha.c), both
 * digests of every byte one after the other through OpenSSL (md5_then_sha256) against cairn's
 * stitched loop that the put uses (md5sha_stitched: both digests, in about the time of one),
 * and XXH3-64 for comparison.
 *
 * Usage: bench_hash [--mib N] [--reps N] [--json FILE]
 * Generates N MiB (default 1024) of pseudo-random bytes in memory, runs each algorithm over all
 * of it reps times (default 5) and prints the median as "name: value unit", one line each; with
 * --json also writes the figures as one JSON object to FILE.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "cairn/chunk.h"
#include "cairn/chunker.h"
#include "cairn/md5sha.h"

#define BENCH_PIECE (1u << 20) /* bytes handed over per call, as a network read would */
#define BENCH_MIB_MAX 8192u
#define BENCH_REPS_MAX 50u

struct bench_opts {
	size_t bytes;
	unsigned int reps;
	const char *json_path;
};

/* Sinks the results so the compiler cannot drop the work. */
static volatile uint64_t bench_sink;

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
		 unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || *out < lo || *out > hi)
		return -EINVAL;
	return 0;
}

static int
bench_parse_args(int argc, char **argv, struct bench_opts *o)
{
	unsigned long long v;
	int i;

	o->bytes = (size_t)1024 << 20;
	o->reps = 5;
	o->json_path = NULL;
	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return -EINVAL;
		if (strcmp(argv[i], "--json") == 0) {
			o->json_path = argv[++i];
		} else if (strcmp(argv[i], "--mib") == 0) {
			if (bench_parse_uint(argv[++i], 1, BENCH_MIB_MAX, &v) < 0)
				return -EINVAL;
			o->bytes = (size_t)v << 20;
		} else if (strcmp(argv[i], "--reps") == 0) {
			if (bench_parse_uint(argv[++i], 1, BENCH_REPS_MAX, &v) < 0)
				return -EINVAL;
			o->reps = (unsigned int)v;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/* xoshiro256+-style generator seeded by splitmix64: fast enough to fill a GiB in well under 1 s. */
static uint8_t *
bench_data_make(size_t len)
{
	uint64_t s[4], x = 0x62656e6368ull; /* "bench" */
	uint8_t *p = malloc(len);
	size_t i;
	int k;

	if (!p)
		return NULL;
	for (k = 0; k < 4; k++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		s[k] = z ^ (z >> 31);
	}
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t out = s[0] + s[3], t = s[1] << 17;

		s[2] ^= s[0];
		s[3] ^= s[1];
		s[1] ^= s[2];
		s[0] ^= s[3];
		s[2] ^= t;
		s[3] = (s[3] << 45) | (s[3] >> 19);
		memcpy(p + i, &out, 8);
	}
	memset(p + i, 0x5a, len - i);
	return p;
}

static size_t
bench_piece(size_t off, size_t len)
{
	return len - off < BENCH_PIECE ? len - off : BENCH_PIECE;
}

/* Returns the number of chunks, so the caller can report the mean chunk size. */
static uint64_t
bench_chunker(const uint8_t *p, size_t len)
{
	struct chunker_params prm;
	struct chunker c;
	uint64_t chunks = 0;
	size_t off = 0;

	chunker_params_default(&prm);
	chunker_init(&c, &prm);
	while (off < len) {
		size_t end = off + bench_piece(off, len);

		while (off < end) {
			bool is_cut;

			off += chunker_scan(&c, p + off, end - off, &is_cut);
			chunks += is_cut;
		}
	}
	return chunks;
}

static uint64_t
bench_evp(const EVP_MD *md, const uint8_t *p, size_t len)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int out_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t v = 0;
	size_t off;

	if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1)
		abort();
	for (off = 0; off < len; off += bench_piece(off, len))
		if (EVP_DigestUpdate(ctx, p + off, bench_piece(off, len)) != 1)
			abort();
	if (EVP_DigestFinal_ex(ctx, out, &out_len) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	memcpy(&v, out, sizeof(v));
	return v;
}

static uint64_t
bench_sha256(const uint8_t *p, size_t len)
{
	return bench_evp(EVP_sha256(), p, len);
}

static uint64_t
bench_md5(const uint8_t *p, size_t len)
{
	return bench_evp(EVP_md5(), p, len);
}

/* cairn's MD5 over the whole blocks, a piece at a time. */
static uint64_t
bench_md5_own(const uint8_t *p, size_t len)
{
	struct md5_state m;
	size_t off;

	md5_init(&m);
	for (off = 0; off < len; off += bench_piece(off, len))
		md5_blocks(&m, p + off, bench_piece(off, len) / MD5SHA_BLOCK);
	return m.h[0];
}

/* Both digests of every byte, one after the other (what a put did before the stitched loop). */
static uint64_t
bench_md5_then_sha256(const uint8_t *p, size_t len)
{
	return bench_md5(p, len) ^ bench_sha256(p, len);
}

/* Both digests of every byte in the stitched loop (SHA-256 restarted every 32 KiB, the mean
 * chunk); without SHA extensions, cairn's MD5 beside OpenSSL's SHA-256, as a put would. */
static uint64_t
bench_md5sha(const uint8_t *p, size_t len)
{
	const size_t chunk = 32768;
	struct sha256_state s;
	struct md5_state m;
	struct chunk_id id;
	uint64_t v = 0;
	size_t off, n;

	if (!md5sha_stitched_available())
		return bench_md5_own(p, len) ^ bench_sha256(p, len);
	md5_init(&m);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		sha256_init(&s);
		md5sha_blocks(&m, p + off, &s, p + off, n / MD5SHA_BLOCK);
		sha256_final(&s, p + off + n / MD5SHA_BLOCK * MD5SHA_BLOCK, n % MD5SHA_BLOCK, id.b);
		v += id.b[0];
	}
	return v ^ m.h[0];
}

static uint64_t
bench_xxh3(const uint8_t *p, size_t len)
{
	XXH3_state_t *st = XXH3_createState();
	uint64_t v;
	size_t off;

	if (!st || XXH3_64bits_reset(st) == XXH_ERROR)
		abort();
	for (off = 0; off < len; off += bench_piece(off, len))
		if (XXH3_64bits_update(st, p + off, bench_piece(off, len)) == XXH_ERROR)
			abort();
	v = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return v;
}

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct bench_case {
	const char *name;
	uint64_t (*fn)(const uint8_t *p, size_t len);
	double gbps; /* median over the repetitions */
	uint64_t result;
};

/* Runs one case reps times (reps <= BENCH_REPS_MAX) and stores the median throughput. */
static void
bench_case_run(struct bench_case *bc, const uint8_t *p, size_t len, unsigned int reps)
{
	double secs[BENCH_REPS_MAX];
	unsigned int r;

	for (r = 0; r < reps; r++) {
		double t0 = bench_now();

		bc->result = bc->fn(p, len);
		secs[r] = bench_now() - t0;
		bench_sink += bc->result;
	}
	qsort(secs, reps, sizeof(secs[0]), bench_cmp_double);
	bc->gbps = (double)len / 1e9 / secs[reps / 2];
}

/* Writes the figures to f (opened before the run, so a bad path fails early) and closes it. */
static int
bench_json_write(FILE *f, const struct bench_case *cases, size_t n, const struct bench_opts *o,
		 double mean_chunk)
{
	size_t i;

	fprintf(f, "{\"unit\": \"GB/s\", \"bytes\": %zu, \"repetitions\": %u", o->bytes, o->reps);
	for (i = 0; i < n; i++)
		fprintf(f, ", \"%s\": %.3f", cases[i].name, cases[i].gbps);
	fprintf(f, ", \"chunker_mean_chunk_bytes\": %.0f}\n", mean_chunk);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench_case cases[] = {
	    {"chunker", bench_chunker, 0, 0},
	    {"sha256", bench_sha256, 0, 0},
	    {"md5", bench_md5, 0, 0},
	    {"md5_own", bench_md5_own, 0, 0},
	    {"md5_then_sha256", bench_md5_then_sha256, 0, 0},
	    {"md5sha_stitched", bench_md5sha, 0, 0},
	    {"xxh3", bench_xxh3, 0, 0},
	};
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);
	struct bench_opts o;
	FILE *json = NULL;
	double mean_chunk;
	uint8_t *p;
	size_t i;
	int rc = 0;

	if (bench_parse_args(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: %s [--mib 1..%u] [--reps 1..%u] [--json FILE]\n", argv[0],
			BENCH_MIB_MAX, BENCH_REPS_MAX);
		return 2;
	}
	if (o.json_path && !(json = fopen(o.json_path, "w"))) {
		fprintf(stderr, "bench_hash: %s: %s\n", o.json_path, strerror(errno));
		return 1;
	}
	p = bench_data_make(o.bytes);
	if (!p) {
		fprintf(stderr, "bench_hash: cannot allocate %zu bytes\n", o.bytes);
		rc = -ENOMEM;
		goto out_close_json;
	}
	for (i = 0; i < ncases; i++) {
		bench_case_run(&cases[i], p, o.bytes, o.reps);
		printf("%s: %.2f GB/s\n", cases[i].name, cases[i].gbps);
		fflush(stdout);
	}
	mean_chunk = (double)o.bytes / (double)(cases[0].result + 1);
	printf("chunker_mean_chunk: %.0f bytes\n", mean_chunk);
	free(p);
	if (json) {
		rc = bench_json_write(json, cases, ncases, &o, mean_chunk);
		json = NULL;
		if (rc < 0)
			fprintf(stderr, "bench_hash: %s: %s\n", o.json_path, strerror(-rc));
	}
out_close_json:
	if (json)
		fclose(json);
	return rc < 0 ? 1 : 0;
}
