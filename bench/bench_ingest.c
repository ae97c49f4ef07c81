/*
 * bench_ingest.c — drives the storage engine (store.h) directly, for `make bench`.
 *
 *   bench_ingest DATADIR stream [--size BYTES] [--object-size BYTES] [--seed N] [--reps N]
 *                [chunk opts]
 *   bench_ingest DATADIR corpus CORPUSDIR [chunk opts]
 *   chunk opts: [--avg BYTES] (min = avg/4, max = avg*4) [--zstd LEVEL]
 *
 * stream: generates --size bytes of incompressible data in memory (no file reads in the timed
 * part), puts them as objects of --object-size bytes (fed in 1 MiB writes, as an HTTP body
 * arrives), then puts the very same bytes again under other keys: the first pass measures unique
 * ingest, the second fully duplicate ingest. Each commit fdatasyncs, as in the product. With
 * --reps N (at most 9) that is done N times with new bytes each time; the median, best and worst
 * rates are printed.
 *
 * corpus: puts every file of CORPUSDIR/v00, v01 … (in that order) as object vNN/NAME, so that the
 * dedup across snapshots is what gets measured, then prints the store's statistics.
 *
 * DATADIR must not exist yet or be empty (the numbers are for a fresh store). Output: lines
 * "name: value unit" on stdout. Exit status 0, 1 on usage errors, 2 when the engine fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/store.h"

#define INGEST_BUCKET "bench"
#define INGEST_WRITE (1u << 20)
#define INGEST_MAX_FILES 4096
#define INGEST_PATH_MAX 4096
#define INGEST_REPS_MAX 9

struct ingest_opts {
	const char *data_dir;
	const char *mode;
	const char *corpus;
	uint64_t size;
	uint64_t object_size;
	uint64_t seed;
	uint32_t reps;
	uint32_t avg;
	int zstd_level;
	bool zstd_set;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fill_random(uint64_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed;

	for (size_t i = 0; i < n; i++) {
		/* splitmix64: fast, and incompressible enough for zstd */
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		p[i] = z ^ (z >> 31);
	}
}

/* Commits put as key; consumes put. */
static int
ingest_commit(struct store_put *put, const char *key)
{
	struct store_object_info info;
	struct slice k = {(const uint8_t *)key, strlen(key)};
	struct slice meta = {NULL, 0};
	uint8_t md5[16];
	uint64_t size;
	int rc = store_put_finish(put, &size, md5);

	if (rc < 0) {
		store_put_abort(put);
		return rc;
	}
	return store_put_commit(put, INGEST_BUCKET, k, meta, NULL, &info);
}

/* Puts len bytes at p as key, in 1 MiB writes. */
static int
ingest_put_mem(struct store *st, const char *key, const uint8_t *p, size_t len)
{
	struct store_put *put;
	int rc = store_put_begin(st, &put);

	if (rc < 0)
		return rc;
	for (size_t off = 0; off < len; off += INGEST_WRITE) {
		size_t n = len - off < INGEST_WRITE ? len - off : INGEST_WRITE;

		rc = store_put_write(put, p + off, n);
		if (rc < 0) {
			store_put_abort(put);
			return rc;
		}
	}
	return ingest_commit(put, key);
}

/* Puts the whole buffer as objects prefix/N; returns the elapsed seconds in *secs. */
static int
ingest_pass(struct store *st, const char *prefix, const uint8_t *p, const struct ingest_opts *o,
	    double *secs)
{
	double t0 = now_s();
	char key[64];
	int rc = 0;

	for (uint64_t off = 0, i = 0; rc == 0 && off < o->size; off += o->object_size, i++) {
		uint64_t n = o->size - off < o->object_size ? o->size - off : o->object_size;

		snprintf(key, sizeof(key), "%s/%06llu", prefix, (unsigned long long)i);
		rc = ingest_put_mem(st, key, p + off, (size_t)n);
	}
	*secs = now_s() - t0;
	return rc;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Prints the median and the best of n rates (MB/s) under name; sorts r. */
static void
print_rates(const char *name, double *r, uint32_t n)
{
	qsort(r, n, sizeof(*r), cmp_double);
	printf("%s: %.1f MB/s\n", name, n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2);
	printf("%s_best: %.1f MB/s\n", name, r[n - 1]);
	printf("%s_worst: %.1f MB/s\n", name, r[0]);
}

/* Each repetition puts fresh random bytes (a new seed: unique even in a store that has the
 * previous repetitions' data) and then the same bytes again. */
static int
ingest_stream(struct store *st, const struct ingest_opts *o)
{
	uint64_t *p = malloc((size_t)((o->size + 7) & ~7ull));
	double unique[INGEST_REPS_MAX], dup[INGEST_REPS_MAX], t;
	char prefix[32];
	int rc = 0;

	if (!p) {
		fprintf(stderr, "bench_ingest: cannot allocate %llu bytes\n",
			(unsigned long long)o->size);
		return -ENOMEM;
	}
	for (uint32_t i = 0; rc == 0 && i < o->reps; i++) {
		fill_random(p, (size_t)((o->size + 7) / 8), o->seed + 0x1000 * i);
		snprintf(prefix, sizeof(prefix), "unique%u", i);
		rc = ingest_pass(st, prefix, (const uint8_t *)p, o, &t);
		unique[i] = (double)o->size / 1e6 / t;
		snprintf(prefix, sizeof(prefix), "dup%u", i);
		if (rc == 0)
			rc = ingest_pass(st, prefix, (const uint8_t *)p, o, &t);
		dup[i] = (double)o->size / 1e6 / t;
	}
	free(p);
	if (rc < 0)
		return rc;
	printf("ingest_bytes: %llu B\n", (unsigned long long)o->size);
	printf("ingest_reps: %u\n", o->reps);
	print_rates("ingest_unique", unique, o->reps);
	print_rates("ingest_dup", dup, o->reps);
	return 0;
}

/* Puts the file at path as key, reading it in 1 MiB pieces. Adds its size to *bytes. */
static int
ingest_put_file(struct store *st, const char *path, const char *key, uint8_t *buf, uint64_t *bytes)
{
	struct store_put *put;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = store_put_begin(st, &put);
	if (rc < 0)
		goto out_close_fd;
	for (;;) {
		ssize_t n = read(fd, buf, INGEST_WRITE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = store_put_write(put, buf, (size_t)n);
		if (rc < 0)
			break;
		*bytes += (uint64_t)n;
	}
	if (rc < 0)
		store_put_abort(put);
	else
		rc = ingest_commit(put, key);
out_close_fd:
	close(fd);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the entries of dir (no dot files) in name order into names (caller frees each and the
 * array). Returns the count, or a negative error. */
static int
list_dir(const char *dir, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	*names = calloc(INGEST_MAX_FILES, sizeof(char *));
	if (!*names)
		abort();
	while ((e = readdir(d)) != NULL && n < INGEST_MAX_FILES) {
		if (e->d_name[0] == '.')
			continue;
		(*names)[n] = strdup(e->d_name);
		if (!(*names)[n])
			abort();
		n++;
	}
	closedir(d);
	qsort(*names, (size_t)n, sizeof(char *), name_cmp);
	return n;
}

static void
free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Writes "a/b" into out. Returns 0 or -ENAMETOOLONG. */
static int
path_join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Puts every file of corpus/version as version/NAME. */
static int
ingest_version(struct store *st, const char *corpus, const char *version, uint8_t *buf,
	       uint64_t *bytes)
{
	char dir[INGEST_PATH_MAX], path[INGEST_PATH_MAX], key[INGEST_PATH_MAX];
	char **names;
	int n, rc = 0;

	rc = path_join(dir, sizeof(dir), corpus, version);
	if (rc < 0)
		return rc;
	n = list_dir(dir, &names);
	if (n < 0)
		return n;
	for (int i = 0; rc == 0 && i < n; i++) {
		rc = path_join(path, sizeof(path), dir, names[i]);
		if (rc == 0)
			rc = path_join(key, sizeof(key), version, names[i]);
		if (rc == 0)
			rc = ingest_put_file(st, path, key, buf, bytes);
	}
	free_names(names, n);
	return rc;
}

static void
print_stats(const struct store_stats *s)
{
	printf("objects: %llu\n", (unsigned long long)s->objects);
	printf("logical_bytes: %llu B\n", (unsigned long long)s->logical_bytes);
	printf("chunks: %llu\n", (unsigned long long)s->chunks);
	printf("raw_bytes: %llu B\n", (unsigned long long)s->raw_bytes);
	printf("stored_bytes: %llu B\n", (unsigned long long)s->stored_bytes);
	printf("pack_bytes: %llu B\n", (unsigned long long)s->pack_bytes);
	printf("index_bytes: %llu B\n", (unsigned long long)s->index_bytes);
	if (s->chunks)
		printf("avg_chunk: %llu B\n", (unsigned long long)(s->raw_bytes / s->chunks));
}

static int
ingest_corpus(struct store *st, const struct ingest_opts *o)
{
	uint8_t *buf = malloc(INGEST_WRITE);
	struct store_stats stats;
	uint64_t bytes = 0;
	char **versions;
	double t0 = now_s(), secs;
	int n, rc = 0;

	if (!buf)
		abort();
	n = list_dir(o->corpus, &versions);
	if (n < 0) {
		free(buf);
		return n;
	}
	for (int i = 0; rc == 0 && i < n; i++)
		rc = ingest_version(st, o->corpus, versions[i], buf, &bytes);
	secs = now_s() - t0;
	free_names(versions, n);
	free(buf);
	if (rc < 0)
		return rc;
	rc = store_stats(st, &stats);
	if (rc < 0)
		return rc;
	printf("versions: %d\n", n);
	printf("ingest_bytes: %llu B\n", (unsigned long long)bytes);
	printf("ingest_time: %.3f s\n", secs);
	printf("ingest_rate: %.1f MB/s\n", (double)bytes / 1e6 / secs);
	print_stats(&stats);
	return 0;
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_flag(struct ingest_opts *o, const char *flag, const char *val)
{
	uint64_t v;

	if (strcmp(flag, "--size") == 0)
		return parse_u64(val, 1, 1ull << 36, &o->size);
	if (strcmp(flag, "--object-size") == 0)
		return parse_u64(val, 1, 1ull << 36, &o->object_size);
	if (strcmp(flag, "--seed") == 0)
		return parse_u64(val, 0, UINT64_MAX, &o->seed);
	if (strcmp(flag, "--reps") == 0) {
		if (parse_u64(val, 1, INGEST_REPS_MAX, &v) < 0)
			return -EINVAL;
		o->reps = (uint32_t)v;
		return 0;
	}
	if (strcmp(flag, "--avg") == 0) {
		if (parse_u64(val, 256, 4u << 20, &v) < 0)
			return -EINVAL;
		o->avg = (uint32_t)v;
		return 0;
	}
	if (strcmp(flag, "--zstd") == 0) {
		if (parse_u64(val, 0, 22, &v) < 0)
			return -EINVAL;
		o->zstd_level = (int)v;
		o->zstd_set = true;
		return 0;
	}
	return -EINVAL;
}

static int
parse_args(int argc, char **argv, struct ingest_opts *o)
{
	int i = 3;

	*o = (struct ingest_opts){
	    .size = 1ull << 30, .object_size = 64ull << 20, .seed = 7, .reps = 1};
	if (argc < 3)
		return -EINVAL;
	o->data_dir = argv[1];
	o->mode = argv[2];
	if (strcmp(o->mode, "corpus") == 0) {
		if (argc < 4)
			return -EINVAL;
		o->corpus = argv[3];
		i = 4;
	} else if (strcmp(o->mode, "stream") != 0) {
		return -EINVAL;
	}
	for (; i < argc; i += 2) {
		if (i + 1 >= argc || parse_flag(o, argv[i], argv[i + 1]) < 0)
			return -EINVAL;
	}
	return 0;
}

static int
ingest_open(const struct ingest_opts *o, struct store **st)
{
	struct store_config cfg;
	int rc;

	store_config_default(&cfg);
	cfg.data_dir = o->data_dir;
	cfg.mode = STORE_MODE_WRITE;
	if (o->avg) {
		cfg.chunking.avg_size = o->avg;
		cfg.chunking.min_size = o->avg / 4;
		cfg.chunking.max_size = o->avg * 4;
	}
	if (o->zstd_set)
		cfg.zstd_level = o->zstd_level;
	printf("chunk_avg: %u B\n", cfg.chunking.avg_size);
	printf("chunk_min: %u B\n", cfg.chunking.min_size);
	printf("chunk_max: %u B\n", cfg.chunking.max_size);
	printf("zstd_level: %d\n", cfg.zstd_level);
	rc = store_open(&cfg, st);
	if (rc < 0)
		return rc;
	rc = store_bucket_create(*st, INGEST_BUCKET, "bench", "us-east-1", NULL);
	if (rc < 0 && rc != CAIRN_E_EXISTS) {
		store_close(*st);
		return rc;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct ingest_opts o;
	struct store *st;
	int rc;

	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr,
			"usage: bench_ingest DATADIR stream [--size B] [--object-size B] "
			"[--seed N] [--reps N] [--avg B] [--zstd L]\n"
			"       bench_ingest DATADIR corpus CORPUSDIR [--avg B] [--zstd L]\n");
		return 1;
	}
	rc = ingest_open(&o, &st);
	if (rc < 0) {
		fprintf(stderr, "bench_ingest: open %s: %s\n", o.data_dir, cairn_strerror(rc));
		return 2;
	}
	if (strcmp(o.mode, "stream") == 0)
		rc = ingest_stream(st, &o);
	else
		rc = ingest_corpus(st, &o);
	store_close(st);
	if (rc < 0) {
		fprintf(stderr, "bench_ingest: %s: %s\n", o.mode, cairn_strerror(rc));
		return 2;
	}
	return 0;
}
