/*
 * gen_corpus.c — deterministic generator of ML-like corpora for `make bench`.
 *
 *   gen_corpus KIND OUTDIR [--seed N] [--versions N] [--scale N] [--edit-permille N] [--size N]
 *
 * Every kind writes snapshots OUTDIR/v00, OUTDIR/v01 … (each a complete directory as a user would
 * back it up); the same seed and options always give the same bytes. What each snapshot holds and
 * how it differs from the one before is what the dedup numbers measure:
 *
 *   checkpoints  vNN/model.safetensors: a safetensors-like file (u64 header length, a JSON header
 *                with names, shapes and offsets padded to a fixed size, then raw float32 data) of
 *                a small transformer (scale = layers, default 4: ~96 MiB). Between checkpoints the
 *                first half of the layers is frozen (identical), the other layers and the lm head
 *                get 5-20% of their rows rewritten in runs of 1-8 rows, the embedding 1-5% of its
 *                rows one by one, and the optimizer state is rewritten wholly. The header changes
 *                only in the fixed-width step number.
 *   logs         vNN/{train.jsonl,eval.jsonl,stdout.log}: append-only training logs; each snapshot
 *                is the previous one plus new lines (scale = MiB of the first train.jsonl).
 *   shards       vNN/shard-KKK.jsonl: JSON-lines text records of variable length (scale = shards
 *                of ~8 MiB); each snapshot deletes edit-permille of the records and inserts as many
 *                new ones at random positions, shifting everything after them.
 *   random       OUTDIR/random.bin: --size bytes of incompressible data (one file, no versions).
 *
 * Exit status 0 on success, 1 on a usage error, 2 on an I/O error (with a message on stderr).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define GEN_PATH_MAX 4096
#define GEN_IO_BUF (1u << 20)

struct gen_opts {
	const char *kind;
	const char *outdir;
	uint64_t seed;
	uint32_t versions;
	uint32_t scale;
	uint32_t edit_permille;
	uint64_t size;
};

/* ---- deterministic randomness: splitmix64 seeding xoshiro256** ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t
rotl64(uint64_t v, int k)
{
	return (v << k) | (v >> (64 - k));
}

static inline uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return out;
}

/* Uniform in [0, n); n > 0. The tiny modulo bias does not matter here. */
static inline uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)((rng_next(r) >> 32) % n);
}

/* Uniform in [0, 1). */
static inline double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* A weight-like value: triangular around 0 with scale 0.05 (mantissa bits effectively random,
 * exponents clustered, as in trained float32 weights). */
static inline float
rng_weight(struct rng *r)
{
	uint64_t v = rng_next(r);
	float a = (float)(v >> 40) * (1.0f / 16777216.0f);
	float b = (float)(v & 0xffffffu) * (1.0f / 16777216.0f);

	return (a + b - 1.0f) * 0.05f;
}

/* ---- files ---- */

static int
gen_mkdir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gen_corpus: mkdir %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Makes path and any missing parents (as mkdir -p). */
static int
gen_mkdir_parents(const char *path)
{
	char tmp[GEN_PATH_MAX];
	size_t len = strlen(path);
	int rc;

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (size_t i = 1; i < len; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		rc = gen_mkdir(tmp);
		tmp[i] = '/';
		if (rc < 0)
			return rc;
	}
	return gen_mkdir(path);
}

/* Makes outdir/vNN and writes its path into dir. */
static int
gen_version_dir(const struct gen_opts *o, uint32_t v, char *dir, size_t dirlen)
{
	int n = snprintf(dir, dirlen, "%s/v%02u", o->outdir, v);

	if (n < 0 || (size_t)n >= dirlen)
		return -ENAMETOOLONG;
	return gen_mkdir(dir);
}

/* Opens dir/name for writing with a large buffer. Returns NULL (after a message) on error. */
static FILE *
gen_open(const char *dir, const char *name)
{
	char path[GEN_PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f;

	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "gen_corpus: path too long: %s/%s\n", dir, name);
		return NULL;
	}
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "gen_corpus: open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	setvbuf(f, NULL, _IOFBF, GEN_IO_BUF);
	return f;
}

/* Closes f, reporting any write error that happened on it. Returns 0 or -EIO. */
static int
gen_close(FILE *f, const char *what)
{
	bool bad = ferror(f) != 0;

	if (fclose(f) != 0)
		bad = true;
	if (bad) {
		fprintf(stderr, "gen_corpus: write %s failed: %s\n", what, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* ---- checkpoints ---- */

enum tensor_policy {
	POLICY_FROZEN, /* never changes */
	POLICY_ROWS,   /* 5-20% of rows rewritten per checkpoint, in runs of 1-8 rows */
	POLICY_SPARSE, /* 1-5% of rows rewritten one by one (embedding rows of seen tokens) */
	POLICY_FULL,   /* rewritten wholly (optimizer state) */
};

struct tensor {
	char name[64];
	uint32_t rows, cols;
	enum tensor_policy policy;
	float *data;
};

struct model {
	struct tensor *t;
	uint32_t n, cap;
	char *header; /* the padded JSON header */
	size_t header_len;
};

#define MODEL_DIM 512u
#define MODEL_VOCAB 8192u
#define MODEL_HEADER_STEP_FMT "%010u"

static void
model_add(struct model *m, const char *name, uint32_t rows, uint32_t cols, enum tensor_policy p)
{
	struct tensor *t;

	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 32;
		m->t = realloc(m->t, m->cap * sizeof(*m->t));
		if (!m->t)
			abort();
	}
	t = &m->t[m->n++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->rows = rows;
	t->cols = cols;
	t->policy = p;
	t->data = malloc((size_t)rows * cols * sizeof(float));
	if (!t->data)
		abort();
}

static void
model_add_layer(struct model *m, uint32_t i, enum tensor_policy p)
{
	static const struct {
		const char *name;
		uint32_t rows_mul, cols_mul;
	} parts[] = {
	    {"attn.q.weight", 1, 1}, {"attn.k.weight", 1, 1}, {"attn.v.weight", 1, 1},
	    {"attn.o.weight", 1, 1}, {"mlp.up.weight", 1, 4}, {"mlp.down.weight", 4, 1},
	};
	char name[64];

	snprintf(name, sizeof(name), "layers.%u.ln1.weight", i);
	model_add(m, name, 1, MODEL_DIM, p);
	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
		snprintf(name, sizeof(name), "layers.%u.%s", i, parts[k].name);
		model_add(m, name, parts[k].rows_mul * MODEL_DIM, parts[k].cols_mul * MODEL_DIM, p);
	}
	snprintf(name, sizeof(name), "layers.%u.ln2.weight", i);
	model_add(m, name, 1, MODEL_DIM, p);
}

/* Lays out the model: embedding, layers (first half frozen), lm head, optimizer state. */
static void
model_build(struct model *m, uint32_t layers)
{
	memset(m, 0, sizeof(*m));
	model_add(m, "embed.weight", MODEL_VOCAB, MODEL_DIM, POLICY_SPARSE);
	for (uint32_t i = 0; i < layers; i++)
		model_add_layer(m, i, i < layers / 2 ? POLICY_FROZEN : POLICY_ROWS);
	model_add(m, "final_norm.weight", 1, MODEL_DIM, POLICY_ROWS);
	model_add(m, "lm_head.weight", MODEL_VOCAB, MODEL_DIM, POLICY_ROWS);
	model_add(m, "optimizer.exp_avg", MODEL_VOCAB / 2, MODEL_DIM, POLICY_FULL);
	model_add(m, "optimizer.exp_avg_sq", MODEL_VOCAB / 2, MODEL_DIM, POLICY_FULL);
}

static void
model_free(struct model *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		free(m->t[i].data);
	free(m->t);
	free(m->header);
}

static void
tensor_fill_rows(struct tensor *t, uint32_t row, uint32_t nrows, struct rng *r)
{
	float *p = t->data + (size_t)row * t->cols;

	for (size_t i = 0; i < (size_t)nrows * t->cols; i++)
		p[i] = rng_weight(r);
}

/* Rewrites about permille/1000 of t's rows in runs of 1..max_run rows. */
static void
tensor_touch_rows(struct tensor *t, uint32_t permille, uint32_t max_run, struct rng *r)
{
	uint64_t target = (uint64_t)t->rows * permille / 1000;
	uint64_t done = 0;

	while (done < target) {
		uint32_t run = 1 + rng_below(r, max_run);
		uint32_t row = rng_below(r, t->rows);

		if (run > t->rows - row)
			run = t->rows - row;
		tensor_fill_rows(t, row, run, r);
		done += run;
	}
}

/* Applies one training interval's changes to every tensor (the first checkpoint fills all). */
static void
model_step(struct model *m, uint32_t version, struct rng *r)
{
	for (uint32_t i = 0; i < m->n; i++) {
		struct tensor *t = &m->t[i];

		if (version == 0 || t->policy == POLICY_FULL)
			tensor_fill_rows(t, 0, t->rows, r);
		else if (t->policy == POLICY_ROWS)
			tensor_touch_rows(t, 50 + rng_below(r, 151), 8, r);
		else if (t->policy == POLICY_SPARSE)
			tensor_touch_rows(t, 10 + rng_below(r, 41), 1, r);
	}
}

static int header_add(char *h, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
header_add(char *h, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(h + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -ENOSPC;
	*len += (size_t)n;
	return 0;
}

/* Builds the JSON header for step (same length for every step: fixed-width step, padded to a
 * multiple of 8 with spaces as safetensors allows). */
static int
model_header(struct model *m, uint32_t step)
{
	size_t cap = 256 + (size_t)m->n * 160, len = 0;
	uint64_t off = 0;
	int rc;

	free(m->header);
	m->header = malloc(cap);
	if (!m->header)
		abort();
	rc = header_add(
	    m->header, cap, &len,
	    "{\"__metadata__\":{\"format\":\"pt\",\"step\":\"" MODEL_HEADER_STEP_FMT "\"}", step);
	for (uint32_t i = 0; rc == 0 && i < m->n; i++) {
		const struct tensor *t = &m->t[i];
		uint64_t end = off + (uint64_t)t->rows * t->cols * sizeof(float);

		rc = header_add(
		    m->header, cap, &len,
		    ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%u,%u],\"data_offsets\":[%llu,%llu]}",
		    t->name, t->rows, t->cols, (unsigned long long)off, (unsigned long long)end);
		off = end;
	}
	if (rc == 0)
		rc = header_add(m->header, cap, &len, "}");
	while (rc == 0 && len % 8 != 0)
		rc = header_add(m->header, cap, &len, " ");
	m->header_len = len;
	return rc;
}

static int
model_write(struct model *m, const char *dir, uint32_t step)
{
	uint8_t lenbuf[8];
	FILE *f;
	int rc = model_header(m, step);

	if (rc < 0)
		return rc;
	for (int i = 0; i < 8; i++)
		lenbuf[i] = (uint8_t)((uint64_t)m->header_len >> (8 * i));
	f = gen_open(dir, "model.safetensors");
	if (!f)
		return -EIO;
	fwrite(lenbuf, 1, sizeof(lenbuf), f);
	fwrite(m->header, 1, m->header_len, f);
	for (uint32_t i = 0; i < m->n; i++)
		fwrite(m->t[i].data, sizeof(float), (size_t)m->t[i].rows * m->t[i].cols, f);
	return gen_close(f, "model.safetensors");
}

static int
gen_checkpoints(const struct gen_opts *o)
{
	struct model m;
	struct rng r;
	char dir[GEN_PATH_MAX];
	int rc = 0;

	rng_seed(&r, o->seed, 1);
	model_build(&m, o->scale ? o->scale : 4);
	for (uint32_t v = 0; rc == 0 && v < o->versions; v++) {
		model_step(&m, v, &r);
		rc = gen_version_dir(o, v, dir, sizeof(dir));
		if (rc == 0)
			rc = model_write(&m, dir, 1000 * (v + 1));
	}
	model_free(&m);
	return rc;
}

/* ---- logs ---- */

/* Writes the train.jsonl line of one step; every line depends only on (seed, step). */
static void
log_train_line(FILE *f, uint64_t seed, uint32_t step)
{
	struct rng r;
	double loss;

	rng_seed(&r, seed, 0x10000000ull + step);
	loss = 2.0 + 8.0 / (1.0 + step / 500.0) + (rng_unit(&r) - 0.5) * 0.2;
	fprintf(f,
		"{\"step\":%u,\"epoch\":%.4f,\"loss\":%.6f,\"lr\":%.4e,\"grad_norm\":%.4f,"
		"\"tokens_per_sec\":%.1f,\"mem_gb\":%.2f,\"time\":\"2024-05-%02uT%02u:%02u:%02u.%"
		"03uZ\"}\n",
		step, step / 3125.0, loss, 3e-4 * (1.0 - step / 1e6), 0.5 + rng_unit(&r) * 2.0,
		41000.0 + rng_unit(&r) * 3000.0, 20.0 + rng_unit(&r) * 2.0, 1 + step / 86400 % 28,
		step / 3600 % 24, step / 60 % 60, step % 60, rng_below(&r, 1000));
}

static void
log_stdout_line(FILE *f, uint64_t seed, uint32_t step)
{
	struct rng r;

	rng_seed(&r, seed, 0x20000000ull + step);
	fprintf(f,
		"[rank0]:[2024-05-01 %02u:%02u:%02u] INFO trainer.py:%u step %u/1000000 | "
		"loss %.4f | lr %.3e | %.1f tok/s | data %.1fms | fwd %.1fms | bwd %.1fms\n",
		step / 3600 % 24, step / 60 % 60, step % 60, 200 + rng_below(&r, 50), step,
		2.0 + rng_unit(&r) * 4.0, 3e-4 * (1.0 - step / 1e6),
		41000.0 + rng_unit(&r) * 3000.0, rng_unit(&r) * 20.0, 100.0 + rng_unit(&r) * 30.0,
		200.0 + rng_unit(&r) * 60.0);
	if (step % 997 == 0)
		fprintf(
		    f,
		    "[rank0] WARNING: gradient overflow at step %u, skipping update, loss scale "
		    "%u\n",
		    step, 1u << (10 + rng_below(&r, 6)));
}

static void
log_eval_line(FILE *f, uint64_t seed, uint32_t step)
{
	struct rng r;

	rng_seed(&r, seed, 0x30000000ull + step);
	fprintf(f,
		"{\"step\":%u,\"eval_loss\":%.6f,\"eval_ppl\":%.4f,\"eval_acc\":%.5f,"
		"\"eval_runtime_s\":%.2f,\"samples\":%u}\n",
		step, 2.5 + rng_unit(&r), 12.0 + rng_unit(&r) * 5.0, 0.4 + rng_unit(&r) * 0.2,
		30.0 + rng_unit(&r) * 5.0, 4096u);
}

/* Writes the three logs of a run that has reached `steps` steps. */
static int
log_write(const char *dir, uint64_t seed, uint32_t steps)
{
	FILE *train = gen_open(dir, "train.jsonl");
	FILE *out = gen_open(dir, "stdout.log");
	FILE *eval = gen_open(dir, "eval.jsonl");
	int rc = 0;

	if (train && out && eval) {
		for (uint32_t s = 0; s < steps; s++) {
			log_train_line(train, seed, s);
			log_stdout_line(out, seed, s);
			if (s % 100 == 99)
				log_eval_line(eval, seed, s);
		}
	} else {
		rc = -EIO;
	}
	if (train && gen_close(train, "train.jsonl") < 0)
		rc = -EIO;
	if (out && gen_close(out, "stdout.log") < 0)
		rc = -EIO;
	if (eval && gen_close(eval, "eval.jsonl") < 0)
		rc = -EIO;
	return rc;
}

static int
gen_logs(const struct gen_opts *o)
{
	/* A train.jsonl line is ~150 bytes: scale MiB first, then half as much per snapshot. */
	uint32_t first = (o->scale ? o->scale : 2) * (1u << 20) / 150;
	char dir[GEN_PATH_MAX];
	int rc = 0;

	for (uint32_t v = 0; rc == 0 && v < o->versions; v++) {
		rc = gen_version_dir(o, v, dir, sizeof(dir));
		if (rc == 0)
			rc = log_write(dir, o->seed, first + v * (first / 2));
	}
	return rc;
}

/* ---- dataset shards ---- */

#define SHARD_VOCAB 8192u
#define SHARD_RECORDS 1800u /* per shard at first: ~8 MiB */

struct vocab {
	char words[SHARD_VOCAB][12];
	uint8_t len[SHARD_VOCAB];
};

static void
vocab_build(struct vocab *vb, uint64_t seed)
{
	static const char letters[] = "etaoinshrdlcumwfgypbvkjxqz";
	struct rng r;

	rng_seed(&r, seed, 0x40000000ull);
	for (uint32_t i = 0; i < SHARD_VOCAB; i++) {
		/* Frequent words are short; skewed letter choice gives text-like bytes. */
		uint32_t n = 1 + (i < 64 ? rng_below(&r, 3) : 2 + rng_below(&r, 8));
		double u;

		for (uint32_t k = 0; k < n; k++) {
			u = rng_unit(&r);
			vb->words[i][k] = letters[(uint32_t)(u * u * 26.0)];
		}
		vb->len[i] = (uint8_t)n;
	}
}

/* Writes record id: its content depends only on (seed, id). */
static void
shard_record(FILE *f, const struct vocab *vb, uint64_t seed, uint32_t id)
{
	static const char *const sources[] = {"web", "books", "code", "wiki", "forum", "news"};
	struct rng r;
	uint32_t words;

	rng_seed(&r, seed, 0x50000000ull + id);
	/* Skewed length: many short records, a tail of long ones (~4.5 KB on average). */
	words = 30 + (uint32_t)(pow(rng_unit(&r), 2.0) * 2200.0);
	fprintf(f,
		"{\"id\":\"doc-%08u\",\"source\":\"%s\",\"lang\":\"en\",\"n_words\":%u,\"text\":\"",
		id, sources[rng_below(&r, 6)], words);
	for (uint32_t w = 0; w < words; w++) {
		double u = rng_unit(&r);
		uint32_t k = (uint32_t)(u * u * u * SHARD_VOCAB);

		fwrite(vb->words[k], 1, vb->len[k], f);
		fputs(w % 17 == 16 ? ". " : " ", f);
	}
	fputs("\"}\n", f);
}

struct shard {
	uint32_t *ids;
	uint32_t n, cap;
};

/* Deletes then inserts permille/1000 of the records each at random positions. */
static void
shard_edit(struct shard *s, uint32_t permille, uint32_t *next_id, struct rng *r)
{
	uint32_t edits = s->n * permille / 1000;

	for (uint32_t e = 0; e < edits && s->n > 1; e++) {
		uint32_t at = rng_below(r, s->n);

		memmove(&s->ids[at], &s->ids[at + 1], (s->n - at - 1) * sizeof(uint32_t));
		s->n--;
	}
	for (uint32_t e = 0; e < edits; e++) {
		uint32_t at = rng_below(r, s->n + 1);

		if (s->n == s->cap) {
			s->cap *= 2;
			s->ids = realloc(s->ids, s->cap * sizeof(uint32_t));
			if (!s->ids)
				abort();
		}
		memmove(&s->ids[at + 1], &s->ids[at], (s->n - at) * sizeof(uint32_t));
		s->ids[at] = (*next_id)++;
		s->n++;
	}
}

static int
shard_write(const struct shard *s, uint32_t k, const char *dir, const struct vocab *vb,
	    uint64_t seed)
{
	char name[64];
	FILE *f;

	snprintf(name, sizeof(name), "shard-%03u.jsonl", k);
	f = gen_open(dir, name);
	if (!f)
		return -EIO;
	for (uint32_t i = 0; i < s->n; i++)
		shard_record(f, vb, seed, s->ids[i]);
	return gen_close(f, name);
}

static int
gen_shards(const struct gen_opts *o)
{
	uint32_t nshards = o->scale ? o->scale : 8, next_id = 0;
	struct shard *sh = calloc(nshards, sizeof(*sh));
	struct vocab *vb = malloc(sizeof(*vb));
	char dir[GEN_PATH_MAX];
	struct rng r;
	int rc = 0;

	if (!sh || !vb)
		abort();
	vocab_build(vb, o->seed);
	rng_seed(&r, o->seed, 3);
	for (uint32_t k = 0; k < nshards; k++) {
		sh[k].cap = 2 * SHARD_RECORDS;
		sh[k].ids = malloc(sh[k].cap * sizeof(uint32_t));
		if (!sh[k].ids)
			abort();
		for (sh[k].n = 0; sh[k].n < SHARD_RECORDS; sh[k].n++)
			sh[k].ids[sh[k].n] = next_id++;
	}
	for (uint32_t v = 0; rc == 0 && v < o->versions; v++) {
		rc = gen_version_dir(o, v, dir, sizeof(dir));
		for (uint32_t k = 0; rc == 0 && k < nshards; k++) {
			if (v > 0)
				shard_edit(&sh[k], o->edit_permille, &next_id, &r);
			rc = shard_write(&sh[k], k, dir, vb, o->seed);
		}
	}
	for (uint32_t k = 0; k < nshards; k++)
		free(sh[k].ids);
	free(sh);
	free(vb);
	return rc;
}

/* ---- random ---- */

static int
gen_random(const struct gen_opts *o)
{
	uint64_t *block = malloc(GEN_IO_BUF);
	struct rng r;
	FILE *f;
	int rc;

	if (!block)
		abort();
	rng_seed(&r, o->seed, 4);
	f = gen_open(o->outdir, "random.bin");
	if (!f) {
		free(block);
		return -EIO;
	}
	for (uint64_t left = o->size; left > 0;) {
		size_t n = left < GEN_IO_BUF ? (size_t)left : GEN_IO_BUF;

		for (size_t i = 0; i < GEN_IO_BUF / 8; i++)
			block[i] = rng_next(&r);
		fwrite(block, 1, n, f);
		left -= n;
	}
	rc = gen_close(f, "random.bin");
	free(block);
	return rc;
}

/* ---- command line ---- */

static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct gen_opts *o)
{
	uint64_t v;

	if (argc < 3 || (argc - 3) % 2 != 0)
		return -EINVAL;
	*o = (struct gen_opts){.kind = argv[1],
			       .outdir = argv[2],
			       .seed = 1,
			       .versions = 8,
			       .edit_permille = 20,
			       .size = 1ull << 30};
	for (int i = 3; i < argc; i += 2) {
		const char *flag = argv[i];

		if (strcmp(flag, "--seed") == 0 && parse_u64(argv[i + 1], UINT64_MAX, &v) == 0)
			o->seed = v;
		else if (strcmp(flag, "--versions") == 0 && parse_u64(argv[i + 1], 99, &v) == 0)
			o->versions = (uint32_t)v;
		else if (strcmp(flag, "--scale") == 0 && parse_u64(argv[i + 1], 64, &v) == 0)
			o->scale = (uint32_t)v;
		else if (strcmp(flag, "--edit-permille") == 0 &&
			 parse_u64(argv[i + 1], 500, &v) == 0)
			o->edit_permille = (uint32_t)v;
		else if (strcmp(flag, "--size") == 0 && parse_u64(argv[i + 1], 1ull << 40, &v) == 0)
			o->size = v;
		else
			return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int (*gen)(const struct gen_opts *) = NULL;
	struct gen_opts o;
	int rc;

	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr,
			"usage: gen_corpus checkpoints|logs|shards|random OUTDIR [--seed N] "
			"[--versions N] [--scale N] [--edit-permille N] [--size BYTES]\n");
		return 1;
	}
	if (strcmp(o.kind, "checkpoints") == 0)
		gen = gen_checkpoints;
	else if (strcmp(o.kind, "logs") == 0)
		gen = gen_logs;
	else if (strcmp(o.kind, "shards") == 0)
		gen = gen_shards;
	else if (strcmp(o.kind, "random") == 0)
		gen = gen_random;
	if (!gen) {
		fprintf(stderr, "gen_corpus: unknown kind %s\n", o.kind);
		return 1;
	}
	if (gen_mkdir_parents(o.outdir) < 0)
		return 2;
	rc = gen(&o);
	return rc < 0 ? 2 : 0;
}
