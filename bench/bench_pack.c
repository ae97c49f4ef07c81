/*
 * bench_pack.c — record encode/decode throughput, to pick the default zstd level and to show
 * what the encoder's backoff for incompressible data buys.
 *
 * Data sets (8 MiB each, cut into 32 KiB chunks, the store's default average chunk size):
 *   random  incompressible bytes (stands in for media, archives, encrypted data)
 *   text    words drawn with a skewed distribution from a 4096-word vocabulary
 *   source  C headers from /usr/include (real text; synthetic text if there are none)
 *   float   float32 sensor-like series: slow sines plus noise in the low mantissa bits
 *   mixed   runs of 24 random chunks and 8 text chunks in turn (a stream that changes nature)
 * For zstd levels 1, 3, 6 and 9, with and without the backoff: encode MB/s (raw bytes in) and
 * the ratio raw/stored; then decode MB/s (raw bytes out), with and without the SHA-256 check.
 *
 * Output: one `name: value unit` line per number; --json FILE also writes them as a JSON object.
 */
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cairn/buf.h"
#include "cairn/chunk.h"
#include "cairn/chunker.h"
#include "cairn/pack.h"

#define DATA_LEN (8u << 20)
#define CHUNK_LEN (32u << 10) /* chunker_params_default()'s avg_size */
#define NCHUNKS (DATA_LEN / CHUNK_LEN)
#define MIN_SECONDS 0.05
#define RUNS 3
#define REC_MAX (PACK_HEADER_SIZE + CHUNKER_MAX_SIZE_CEIL + PACK_TRAILER_SIZE)
#define MAX_RESULTS 256

struct result {
	char name[64];
	double value;
	const char *unit;
};

static struct result results[MAX_RESULTS];
static unsigned nresults;

static void report(const char *unit, double value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(const char *unit, double value, const char *fmt, ...)
{
	struct result *r;
	va_list ap;

	if (nresults == MAX_RESULTS)
		abort();
	r = &results[nresults++];
	va_start(ap, fmt);
	vsnprintf(r->name, sizeof(r->name), fmt, ap);
	va_end(ap);
	r->value = value;
	r->unit = unit;
	printf("%s: %.2f %s\n", r->name, value, unit);
	fflush(stdout);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static void
gen_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1, v;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		v = rng_next(&s);
		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)rng_next(&s);
}

/* Words of 2 to 10 letters; low word numbers are drawn far more often (u^3 skew), with
 * punctuation and line breaks: compresses about like English prose. */
static void
gen_text(uint8_t *p, size_t len, uint64_t seed)
{
	static char vocab[4096][12];
	uint64_t s = seed | 1;
	size_t i = 0, n, w, k;
	double u;

	for (w = 0; w < 4096; w++) {
		n = 2 + rng_next(&s) % 9;
		for (k = 0; k < n; k++)
			vocab[w][k] = (char)('a' + rng_next(&s) % 26);
		vocab[w][n] = 0;
	}
	while (i < len) {
		u = (double)(rng_next(&s) >> 11) / 9007199254740992.0;
		w = (size_t)(4096 * u * u * u);
		n = strlen(vocab[w]);
		for (k = 0; k < n && i < len; k++)
			p[i++] = (uint8_t)vocab[w][k];
		if (i < len)
			p[i++] = rng_next(&s) % 12 == 0 ? (rng_next(&s) % 3 ? '.' : '\n') : ' ';
	}
}

static void
gen_float(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1;
	size_t i;
	float f;

	for (i = 0; i + 4 <= len; i += 4) {
		double t = (double)(i / 4);
		double noise = (double)(rng_next(&s) % 1000) / 1e5;

		f = (float)(20.0 + 5.0 * sin(t / 3000.0) + 0.5 * sin(t / 17.0) + noise);
		memcpy(p + i, &f, 4);
	}
}

/* Real source text: the C headers under /usr/include (present wherever cairn builds), in the
 * order the directory walk finds them, repeated if they add up to less than the data set. */
static uint8_t *source_dst;
static size_t source_len, source_have;

static int
source_add(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t n = strlen(path);
	FILE *f;

	(void)ftw;
	if (type != FTW_F || n < 3 || strcmp(path + n - 2, ".h") != 0 || st->st_size <= 0)
		return 0;
	f = fopen(path, "rb");
	if (!f)
		return 0;
	source_have += fread(source_dst + source_have, 1, source_len - source_have, f);
	fclose(f);
	return source_have == source_len;
}

static void
gen_source(uint8_t *p, size_t len, uint64_t seed)
{
	size_t i;

	source_dst = p;
	source_len = len;
	source_have = 0;
	nftw("/usr/include", source_add, 16, FTW_PHYS);
	if (source_have == 0) {
		gen_text(p, len, seed);
		return;
	}
	for (i = source_have; i < len; i++)
		p[i] = p[i - source_have];
}

static void
gen_mixed(uint8_t *p, size_t len, uint64_t seed)
{
	size_t off;

	for (off = 0; off < len; off += CHUNK_LEN) {
		if ((off / CHUNK_LEN) % 32 < 24)
			gen_random(p + off, CHUNK_LEN, seed + off);
		else
			gen_text(p + off, CHUNK_LEN, seed + off);
	}
}

struct dataset {
	const char *name;
	uint8_t *data;
	struct chunk_id ids[NCHUNKS];
};

/* Encodes every chunk of ds once; returns the stored record bytes. Keeps copies of the records
 * in recs (when given) for the decode measurements. */
static uint64_t
encode_pass(struct pack_encoder *enc, const struct dataset *ds, struct buf *recs)
{
	uint64_t stored = 0;
	struct buf rec;
	unsigned i;

	buf_init(&rec, REC_MAX);
	for (i = 0; i < NCHUNKS; i++) {
		if (pack_record_encode(enc, &ds->ids[i], ds->data + (size_t)i * CHUNK_LEN,
				       CHUNK_LEN, &rec) != 0)
			abort();
		stored += rec.len;
		if (recs) {
			buf_reset(&recs[i]);
			if (buf_append(&recs[i], rec.p, rec.len) != 0)
				abort();
		}
	}
	buf_fini(&rec);
	return stored;
}

/* The best of RUNS timed runs, each repeating pass until MIN_SECONDS have gone by: the best
 * run is the one least disturbed by whatever else the machine was doing. Returns MB/s. */
static double
best_rate(void (*pass)(void *arg), void *arg)
{
	double best = 0, t0, dt, rate;
	unsigned run, passes;

	for (run = 0; run < RUNS; run++) {
		passes = 0;
		t0 = now();
		do {
			pass(arg);
			passes++;
		} while ((dt = now() - t0) < MIN_SECONDS);
		rate = (double)DATA_LEN * passes / dt / 1e6;
		if (rate > best)
			best = rate;
	}
	return best;
}

struct encode_job {
	struct pack_encoder *enc;
	const struct dataset *ds;
	uint64_t stored;
};

static void
encode_job_pass(void *arg)
{
	struct encode_job *job = arg;

	job->stored = encode_pass(job->enc, job->ds, NULL);
}

static void
bench_encode(const struct dataset *ds, int level, bool adaptive, struct buf *recs)
{
	struct encode_job job = {pack_encoder_new(level), ds, 0};
	const char *mode = adaptive ? "backoff" : "nobackoff";
	struct pack_encoder_stats st;
	double rate;

	pack_encoder_set_adaptive(job.enc, adaptive);
	rate = best_rate(encode_job_pass, &job);
	pack_encoder_get_stats(job.enc, &st);
	report("MB/s", rate, "encode_%s_l%d_%s", ds->name, level, mode);
	report("x", (double)DATA_LEN / (double)job.stored, "ratio_%s_l%d_%s", ds->name, level,
	       mode);
	if (adaptive)
		report("%", 100.0 * (double)st.skipped / (double)st.chunks, "skipped_%s_l%d",
		       ds->name, level);
	/* The records for the decode runs are kept by an untimed extra pass. */
	if (recs)
		encode_pass(job.enc, ds, recs);
	pack_encoder_free(job.enc);
}

struct decode_job {
	const struct buf *recs;
	bool verify;
	struct buf raw;
};

static void
decode_job_pass(void *arg)
{
	struct decode_job *job = arg;
	unsigned i;

	for (i = 0; i < NCHUNKS; i++) {
		if (pack_record_decode(job->recs[i].p, job->recs[i].len, job->verify, &job->raw) !=
			0 ||
		    job->raw.len != CHUNK_LEN)
			abort();
	}
}

static void
bench_decode(const struct dataset *ds, int level, bool verify, const struct buf *recs)
{
	struct decode_job job = {.recs = recs, .verify = verify};
	double rate;

	buf_init(&job.raw, CHUNKER_MAX_SIZE_CEIL);
	rate = best_rate(decode_job_pass, &job);
	report("MB/s", rate, "decode_%s_l%d%s", ds->name, level, verify ? "_verify" : "");
	buf_fini(&job.raw);
}

static void
write_json(const char *path)
{
	FILE *f = fopen(path, "w");
	unsigned i;

	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "{\n");
	for (i = 0; i < nresults; i++)
		fprintf(f, "  \"%s\": {\"value\": %.3f, \"unit\": \"%s\"}%s\n", results[i].name,
			results[i].value, results[i].unit, i + 1 < nresults ? "," : "");
	fprintf(f, "}\n");
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
dataset_make(struct dataset *ds, const char *name, void (*gen)(uint8_t *, size_t, uint64_t))
{
	unsigned i;

	ds->name = name;
	ds->data = malloc(DATA_LEN);
	if (!ds->data)
		abort();
	gen(ds->data, DATA_LEN, 42);
	for (i = 0; i < NCHUNKS; i++)
		chunk_id_compute(ds->data + (size_t)i * CHUNK_LEN, CHUNK_LEN, &ds->ids[i]);
}

int
main(int argc, char **argv)
{
	static const int levels[] = {1, 3, 6, 9};
	static struct dataset sets[5];
	static struct buf recs[NCHUNKS];
	const char *json = NULL;
	unsigned d, l, i;

	if (argc == 3 && strcmp(argv[1], "--json") == 0)
		json = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [--json FILE]\n", argv[0]);
		return 2;
	}
	dataset_make(&sets[0], "random", gen_random);
	dataset_make(&sets[1], "text", gen_text);
	dataset_make(&sets[2], "source", gen_source);
	dataset_make(&sets[3], "float", gen_float);
	dataset_make(&sets[4], "mixed", gen_mixed);
	for (i = 0; i < NCHUNKS; i++)
		buf_init(&recs[i], REC_MAX);
	for (d = 0; d < 5; d++) {
		bench_encode(&sets[d], 0, true, NULL);
		for (l = 0; l < 4; l++) {
			bench_encode(&sets[d], levels[l], false, NULL);
			bench_encode(&sets[d], levels[l], true, recs);
			if (d == 4)
				continue;
			bench_decode(&sets[d], levels[l], false, recs);
			if (levels[l] == 3)
				bench_decode(&sets[d], levels[l], true, recs);
		}
	}
	for (i = 0; i < NCHUNKS; i++)
		buf_fini(&recs[i]);
	for (d = 0; d < 5; d++)
		free(sets[d].data);
	if (json)
		write_json(json);
	return 0;
}
