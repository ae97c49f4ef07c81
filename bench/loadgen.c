/*
 * loadgen.c — the HTTP load generator of bench/s3bench.sh. It drives cairnd (or nginx, for the
 * comparison rows) over loopback with libcurl: the multi interface keeps --conc transfers in
 * flight on one thread over kept-alive connections, and CURLOPT_AWS_SIGV4 signs every request
 * when credentials are given (nginx ignores the Authorization header, so both servers see the
 * same requests and the client does the same work for both).
 *
 * Usage: loadgen COMMAND --url http://127.0.0.1:PORT --bucket B [options]
 *   mb       create the bucket (200, or 409 when it is already there)
 *   put      PUT objects PREFIX%08u, u = start .. start+count-1, of --size bytes each
 *   get      GET --ops requests (default --count) cycling over objects start .. start+count-1
 *   head     HEAD, likewise
 *   ranged   GET object `start` (--size bytes) as --conc byte ranges fetched in parallel
 *   list     ListObjectsV2 pages of --max-keys under --prefix, following continuation tokens,
 *            until the listing ends or --ops pages; prints pages, keys and whether it ended
 *   mpu      multipart upload of object `start`, --size bytes in --part-size parts with --conc
 *            parts in flight; with --plain the parts are PUT as objects KEY.partNNNNN instead
 *            (what nginx can do). A 501 answer to CreateMultipartUpload exits 3.
 *   presign  print presigned paths "/bucket/key?X-Amz-…" (--method GET|HEAD) of objects
 *            start .. start+count-1, one a line, for wrk
 *   disk     no server: write object `start`'s --size bytes to the file --out and fdatasync
 *            it, timed as one op (the disk's own durable write rate, beside a PUT of new data,
 *            which must make the same bytes durable); --url and --bucket are not needed
 * Options: --prefix P (default "o/"), --start N, --count N, --size BYTES, --ops N, --conc N,
 *   --duration SEC (stop starting requests after SEC), --seed N, --skip BYTES (put: the body
 *   starts that far into the object's stream), --part-size BYTES,
 *   --max-keys N, --region R (us-east-1), --verify (check every byte received), --plain,
 *   --signed (put: send the body's SHA-256 as x-amz-content-sha256, as botocore does over plain
 *   HTTP, instead of UNSIGNED-PAYLOAD; the bodies are hashed before the timed run),
 *   --pids P[,P…] (server processes whose CPU time and VmHWM are reported), --expires SEC.
 *
 * Object bytes: object u holds the stream seeded by (seed, u) — the AES-128-CTR keystream under
 * a key drawn from (seed, u): incompressible, computable at any offset (so a GET can be
 * checked, and the parts of a multipart upload are made independently), and the same seed under
 * another prefix gives a byte-identical copy (every chunk a duplicate).
 * Credentials: LOADGEN_ACCESS_KEY and LOADGEN_SECRET_KEY; without both, requests go unsigned.
 * Output: "name: value unit" lines on stdout: ops, errors, bytes, seconds, ops_per_s, MB_per_s
 * (10^6 bytes), p50_ms and p99_ms of per-request latency, and with --pids the servers' CPU seconds
 * (utime + stime delta over the run), per GB moved and per request, peak RSS (VmHWM, max
 * over pids) and the peaks of its parts, RssAnon (heap, stacks, anonymous maps), RssFile
 * (mapped files: the binary, libraries, cairnd's index map) and RssShmem, sampled every
 * LG_SAMPLE_MS by a second thread (max over pids of each). Failed requests are described on
 * stderr (the first few).
 * Exit: 0 all requests succeeded; 1 some failed (the figures are still printed); 2 usage or
 * setup error; 3 mpu got 501 NotImplemented.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cairn/buf.h"
#include "cairn/hex.h"
#include "cairn/sigv4.h"

#define LG_CONC_MAX 1024u
#define LG_PIDS_MAX 16u
#define LG_SAMPLE_MS 100
#define LG_URL_MAX 4096u
#define LG_SIZE_MAX (64ull << 30) /* largest object or upload, bytes */
#define LG_OPS_MAX 1000000000ull
#define LG_PARTS_MAX 10000u
#define LG_ERR_KEEP 1024u      /* bytes kept of an ordinary response body (error documents) */
#define LG_RESP_MAX (8u << 20) /* bytes kept of list pages and multipart answers */
#define LG_ETAG_MAX 128u
#define LG_ERRORS_SHOWN 5u
#define LG_HIST_N 1280u
#define LG_SMALL_BODY (1u << 20)   /* smaller bodies go without waiting for 100 Continue */
#define LG_UPLOAD_BUF (512u << 10) /* libcurl's upload buffer for large bodies */
#define LG_GOLDEN 0x9e3779b97f4a7c15ull
#define LG_NS 1000000000ull
#define LG_SIGNED_MAX 64u /* put --signed: bodies hashed before the run */

enum lg_cmd {
	LG_CMD_MB,
	LG_CMD_PUT,
	LG_CMD_GET,
	LG_CMD_HEAD,
	LG_CMD_RANGED,
	LG_CMD_LIST,
	LG_CMD_MPU,
	LG_CMD_PRESIGN,
	LG_CMD_DISK,
	LG_CMD_COUNT,
};

static const char *const lg_cmd_names[LG_CMD_COUNT] = {
    "mb", "put", "get", "head", "ranged", "list", "mpu", "presign", "disk",
};

struct lg_opts {
	enum lg_cmd cmd;
	const char *url; /* endpoint, "http://host:port", no trailing '/' */
	const char *bucket;
	const char *prefix;
	const char *region;
	const char *method; /* presign: GET or HEAD */
	const char *out;    /* disk: the file written */
	const char *ak;	    /* NULL: unsigned requests */
	const char *sk;
	uint64_t size;
	uint64_t count;
	uint64_t start;
	uint64_t ops;
	uint64_t seed;
	uint64_t skip; /* put: the body is bytes [skip, skip + size) of the stream */
	uint64_t part_size;
	uint64_t max_keys;
	uint64_t expires;
	uint64_t conc;
	double duration; /* 0: none */
	bool verify;
	bool plain;
	bool signed_payload; /* put: x-amz-content-sha256 is the body's SHA-256 */
	pid_t pids[LG_PIDS_MAX];
	unsigned int npids;
};

/* Latency histogram in microseconds: exact below 64 us, then 32 buckets per power of two
 * (values within ~3 %). */
struct lg_hist {
	uint64_t n;
	uint64_t b[LG_HIST_N];
};

struct lg_run;

/* One transfer slot; reused for request after request. */
struct lg_xfer {
	CURL *easy;
	struct lg_run *run;
	struct curl_slist *hdrs; /* owned by this request (ranged GETs); NULL otherwise */
	uint64_t op;		 /* index of the operation in the run */
	uint64_t stream;	 /* data stream of the body sent or expected */
	uint64_t off;		 /* the body is bytes [off, off + len) of the stream */
	uint64_t len;
	uint64_t pos; /* bytes of the body sent so far */
	uint64_t got; /* bytes of the response body received so far */
	uint64_t t0;  /* start, ns */
	bool upload;  /* the request has a body */
	bool check;   /* compare the response body with the stream (--verify, GETs) */
	bool bad;     /* received bytes differ from the stream */
	struct buf resp;
	char etag[LG_ETAG_MAX];
	char url[LG_URL_MAX];
};

typedef int (*lg_setup_fn)(struct lg_run *r, struct lg_xfer *x);
typedef int (*lg_done_fn)(struct lg_run *r, struct lg_xfer *x, long status);

struct lg_run {
	const struct lg_opts *o;
	CURLM *multi;
	struct lg_xfer *x;
	unsigned int nx;
	struct curl_slist *h_body;   /* PUT */
	struct curl_slist *h_nobody; /* GET, HEAD, LIST */
	/* put --signed: op i's payload hash header */
	struct curl_slist *h_signed[LG_SIGNED_MAX];
	char sigv4[64]; /* "aws:amz:REGION:s3"; "" when unsigned */
	lg_setup_fn setup;
	lg_done_fn done;
	size_t resp_max; /* bytes of each response body kept */
	uint64_t next;	 /* next operation to start */
	uint64_t nops;
	uint64_t deadline; /* ns; 0: none */
	uint64_t ok;
	uint64_t errors;
	uint64_t bytes;
	unsigned int shown;
	bool stop;
	bool not_impl;
	struct lg_hist hist;
	/* list */
	char *token;
	uint64_t keys;
	bool complete;
	/* mpu */
	char *upload_id;
	char (*etags)[LG_ETAG_MAX];
	uint64_t nparts;
	struct buf body;
};

/* CPU time and peak RSS of the server processes. */
struct lg_usage {
	double cpu_s;
	uint64_t hwm_kb;
	bool ok;
};

/* The RSS parts of the servers, sampled while the run goes (lg_sampler_main). */
enum { LG_RSS_ANON, LG_RSS_FILE, LG_RSS_SHMEM, LG_RSS_N };

struct lg_sampler {
	const struct lg_opts *o;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* stop */
	bool stop;
	bool ok;		    /* every sample read */
	uint64_t peak_kb[LG_RSS_N]; /* max over samples and pids */
};

static uint64_t
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * LG_NS + (uint64_t)ts.tv_nsec;
}

/* ---- data streams ---- */

static inline uint64_t
lg_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
lg_stream(uint64_t seed, uint64_t obj)
{
	return lg_mix(lg_mix(seed + LG_GOLDEN) ^ lg_mix(obj * 0xd1b54a32d192ed03ull + 1));
}

/* The keystream of AES-128-CTR keyed by the stream: the bytes at any offset come straight from
 * the counter, and AES-NI makes them for ~0.1 CPU-s per GB — the earlier splitmix64 words cost
 * the client ~0.2 CPU-s per GB, taken from the two cores the server under test runs on. One
 * context is kept for the stream used last (loadgen runs its transfers on one thread). */
struct lg_cipher {
	EVP_CIPHER_CTX *ctx;
	uint64_t stream;
	bool keyed;
};

static struct lg_cipher lg_cipher;

#define LG_FILL_STEP 65536 /* zeros encrypted per call */

static bool
lg_cipher_key(uint64_t stream)
{
	uint8_t key[16];
	uint64_t a = lg_mix(stream), b = lg_mix(stream ^ LG_GOLDEN);

	if (lg_cipher.keyed && lg_cipher.stream == stream)
		return true;
	if (lg_cipher.ctx == NULL && (lg_cipher.ctx = EVP_CIPHER_CTX_new()) == NULL)
		return false;
	memcpy(key, &a, 8);
	memcpy(key + 8, &b, 8);
	lg_cipher.keyed =
	    EVP_EncryptInit_ex(lg_cipher.ctx, EVP_aes_128_ctr(), NULL, key, NULL) == 1;
	lg_cipher.stream = stream;
	return lg_cipher.keyed;
}

/* Writes bytes [off, off + len) of stream to p: the counter starts at block off / 16 and the
 * first off % 16 keystream bytes are drawn into scratch; the keystream is the encryption of
 * zeros, read from a constant page rather than written into p first. Aborts if OpenSSL fails, which
 * it does only without memory: a figure measured on wrong bytes would be worse than none. */
static void
lg_fill(uint64_t stream, uint64_t off, uint8_t *p, size_t len)
{
	static const uint8_t zeros[LG_FILL_STEP];
	uint8_t iv[16] = {0}, scratch[16];
	uint64_t block = off / 16;
	int skip = (int)(off % 16), n;

	for (int i = 0; i < 8; i++)
		iv[15 - i] = (uint8_t)(block >> (8 * i));
	if (!lg_cipher_key(stream) ||
	    EVP_EncryptInit_ex(lg_cipher.ctx, NULL, NULL, NULL, iv) != 1 ||
	    (skip > 0 && EVP_EncryptUpdate(lg_cipher.ctx, scratch, &n, zeros, skip) != 1)) {
		fprintf(stderr, "loadgen: AES-CTR keystream failed\n");
		abort();
	}
	while (len > 0) {
		int step = len < sizeof(zeros) ? (int)len : (int)sizeof(zeros);

		if (EVP_EncryptUpdate(lg_cipher.ctx, p, &n, zeros, step) != 1) {
			fprintf(stderr, "loadgen: AES-CTR keystream failed\n");
			abort();
		}
		p += step;
		len -= (size_t)step;
	}
}

static bool
lg_check(uint64_t stream, uint64_t off, const uint8_t *p, size_t len)
{
	uint8_t tmp[16384];
	size_t n;

	while (len > 0) {
		n = len < sizeof(tmp) ? len : sizeof(tmp);
		lg_fill(stream, off, tmp, n);
		if (memcmp(tmp, p, n) != 0)
			return false;
		off += n;
		p += n;
		len -= n;
	}
	return true;
}

/* ---- latency histogram ---- */

static unsigned int
lg_hist_index(uint64_t us)
{
	unsigned int shift, i;

	if (us < 64)
		return (unsigned int)us;
	shift = (unsigned int)(63 - __builtin_clzll(us)) - 5;
	i = 64 + (shift - 1) * 32 + (unsigned int)((us >> shift) - 32);
	return i < LG_HIST_N ? i : LG_HIST_N - 1;
}

/* The middle of bucket i, in microseconds. */
static double
lg_hist_value(unsigned int i)
{
	unsigned int shift;

	if (i < 64)
		return (double)i + 0.5;
	shift = (i - 64) / 32 + 1;
	return ((double)((i - 64) % 32 + 32) + 0.5) * (double)(1ull << shift);
}

static double
lg_hist_quantile_ms(const struct lg_hist *h, double q)
{
	uint64_t rank, seen = 0;
	unsigned int i;

	if (h->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < LG_HIST_N; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return lg_hist_value(i) / 1000.0;
	}
	return lg_hist_value(LG_HIST_N - 1) / 1000.0;
}

/* ---- server processes ---- */

/* Adds utime + stime of pid, in seconds, to *cpu. Returns 0 or -errno. */
static int
lg_proc_cpu(pid_t pid, double *cpu)
{
	char path[64], line[1024], *p, *end;
	unsigned long long ut, st;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return -EIO;
	/* After "pid (comm)": state is field 3; utime and stime are fields 14 and 15. */
	for (i = 0; i < 12 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -EIO;
	ut = strtoull(p + 1, &end, 10);
	if (*end != ' ')
		return -EIO;
	st = strtoull(end + 1, &end, 10);
	*cpu += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* Reads VmHWM (kB) of pid into *kb. Returns 0 or -errno. */
static int
lg_proc_hwm(pid_t pid, uint64_t *kb)
{
	char path[64], line[256], *end;
	int rc = -EIO;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmHWM:", 6) != 0)
			continue;
		*kb = strtoull(line + 6, &end, 10);
		rc = end != line + 6 ? 0 : -EIO;
		break;
	}
	fclose(f);
	return rc;
}

/* Reads RssAnon, RssFile and RssShmem (kB) of pid into kb[]. Returns 0 or -errno. */
static int
lg_proc_rss(pid_t pid, uint64_t kb[LG_RSS_N])
{
	static const char *const names[LG_RSS_N] = {"RssAnon:", "RssFile:", "RssShmem:"};
	char path[64], line[256], *end;
	unsigned int found = 0, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	while (found < LG_RSS_N && fgets(line, sizeof(line), f) != NULL) {
		for (i = 0; i < LG_RSS_N; i++) {
			size_t n = strlen(names[i]);

			if (strncmp(line, names[i], n) != 0)
				continue;
			kb[i] = strtoull(line + n, &end, 10);
			found += end != line + n;
		}
	}
	fclose(f);
	return found == LG_RSS_N ? 0 : -EIO;
}

static void
lg_sample(struct lg_sampler *s)
{
	uint64_t kb[LG_RSS_N];
	unsigned int i, j;

	for (i = 0; i < s->o->npids; i++) {
		if (lg_proc_rss(s->o->pids[i], kb) < 0) {
			s->ok = false;
			continue;
		}
		for (j = 0; j < LG_RSS_N; j++)
			if (kb[j] > s->peak_kb[j])
				s->peak_kb[j] = kb[j];
	}
}

static void *
lg_sampler_main(void *arg)
{
	struct lg_sampler *s = arg;
	struct timespec t;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		lg_sample(s);
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += LG_SAMPLE_MS * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &t);
	}
	lg_sample(s); /* the state at the end */
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Starts sampling the servers of o (none: nothing runs, s->ok stays false). */
static void
lg_sampler_start(struct lg_sampler *s, const struct lg_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->o = o;
	if (o->npids == 0)
		return;
	s->ok = true;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, lg_sampler_main, s) != 0) {
		s->ok = false;
		s->o = NULL;
	}
}

static void
lg_sampler_stop(struct lg_sampler *s)
{
	if (s->o == NULL || s->o->npids == 0)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

static void
lg_usage_read(const struct lg_opts *o, struct lg_usage *u)
{
	uint64_t kb;
	unsigned int i;

	u->cpu_s = 0;
	u->hwm_kb = 0;
	u->ok = o->npids > 0;
	for (i = 0; i < o->npids; i++) {
		if (lg_proc_cpu(o->pids[i], &u->cpu_s) < 0 || lg_proc_hwm(o->pids[i], &kb) < 0) {
			u->ok = false;
			continue;
		}
		if (kb > u->hwm_kb)
			u->hwm_kb = kb;
	}
}

/* ---- URLs and keys ---- */

/* Appends s AWS-URI-encoded (everything but A-Z a-z 0-9 - . _ ~ as %XX; '/' kept when keep_slash).
 * Returns 0 or CAIRN_E_TOOBIG. */
static int
lg_uri_encode(struct buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3];
	int rc = 0;

	for (; *s != '\0' && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
			rc = buf_append(b, s, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		rc = buf_append(b, esc, 3);
	}
	return rc;
}

/* Formats "URL/bucket/prefixNNNNNNNN" + suffix + ("?" query) into x->url.
 * Returns 0 or -ENAMETOOLONG. */
static int
lg_url(struct lg_xfer *x, uint64_t obj, const char *suffix, const char *query)
{
	const struct lg_opts *o = x->run->o;
	int n;

	n = snprintf(x->url, sizeof(x->url), "%s/%s/%s%08" PRIu64 "%s%s%s", o->url, o->bucket,
		     o->prefix, obj, suffix, query != NULL ? "?" : "", query != NULL ? query : "");
	return n > 0 && (size_t)n < sizeof(x->url) ? 0 : -ENAMETOOLONG;
}

/* ---- transfers ---- */

static size_t
lg_on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	struct lg_xfer *x = ud;
	uint64_t left = x->len - x->pos;
	size_t n = size * nmemb;

	if (n > left)
		n = (size_t)left;
	lg_fill(x->stream, x->off + x->pos, (uint8_t *)p, n);
	x->pos += n;
	return n;
}

static int
lg_on_seek(void *ud, curl_off_t offset, int origin)
{
	struct lg_xfer *x = ud;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->len)
		return CURL_SEEKFUNC_FAIL;
	x->pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t
lg_on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct lg_xfer *x = ud;
	size_t n = size * nmemb, keep;

	if (x->check && !x->bad && !lg_check(x->stream, x->off + x->got, (uint8_t *)p, n))
		x->bad = true;
	keep = x->resp.max - x->resp.len;
	if (keep > n)
		keep = n;
	if (keep > 0)
		buf_append(&x->resp, p, keep);
	x->got += n;
	return n;
}

/* Keeps the ETag response header (multipart parts). */
static size_t
lg_on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct lg_xfer *x = ud;
	size_t n = size * nmemb, v = 5;

	if (n < 6 || strncasecmp(p, "etag:", 5) != 0)
		return n;
	while (v < n && (p[v] == ' ' || p[v] == '\t'))
		v++;
	while (n > v && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	if (n - v < sizeof(x->etag)) {
		memcpy(x->etag, p + v, n - v);
		x->etag[n - v] = '\0';
	}
	return size * nmemb;
}

/* Options every request gets; the command's setup adds the rest. */
static void
lg_easy_common(struct lg_run *r, struct lg_xfer *x)
{
	CURL *e = x->easy;

	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, lg_on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->h_nobody);
	if (r->o->ak != NULL) {
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, r->sigv4);
		curl_easy_setopt(e, CURLOPT_USERNAME, r->o->ak);
		curl_easy_setopt(e, CURLOPT_PASSWORD, r->o->sk);
	}
}

/* Makes x an upload of bytes [off, off + len) of stream. */
static void
lg_easy_upload(struct lg_run *r, struct lg_xfer *x)
{
	CURL *e = x->easy;

	x->upload = true;
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->len);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, lg_on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, x);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, lg_on_seek);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->h_body);
	if (x->len >= LG_SMALL_BODY) {
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)LG_UPLOAD_BUF);
		return;
	}
	/* libcurl 7.88 signs an "Expect:" header meant to suppress Expect: 100-continue, then does
	 * not send it (the signature fails); so small bodies keep the header and go at once. */
	curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
}

static int
lg_start(struct lg_run *r, struct lg_xfer *x)
{
	int rc;

	curl_easy_reset(x->easy);
	buf_reset(&x->resp);
	x->resp.max = r->resp_max;
	x->op = r->next++;
	x->pos = 0;
	x->got = 0;
	x->len = 0;
	x->off = 0;
	x->upload = false;
	x->check = false;
	x->bad = false;
	x->etag[0] = '\0';
	lg_easy_common(r, x);
	rc = r->setup(r, x);
	if (rc < 0)
		return rc;
	curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
	if (x->hdrs != NULL)
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	x->t0 = lg_now();
	return curl_multi_add_handle(r->multi, x->easy) == CURLM_OK ? 0 : -EIO;
}

static void
lg_fail(struct lg_run *r, struct lg_xfer *x, long status, const char *why)
{
	char text[301];
	size_t i, n = x->resp.len < 300 ? x->resp.len : 300;

	r->errors++;
	if (r->shown >= LG_ERRORS_SHOWN)
		return;
	r->shown++;
	/* The start of the body (an error document), on one line, printable bytes only. */
	for (i = 0; i < n; i++)
		text[i] = x->resp.p[i] >= ' ' && x->resp.p[i] < 127 ? (char)x->resp.p[i] : ' ';
	text[n] = '\0';
	fprintf(stderr, "loadgen: %s %s: %ld %s: %s\n", lg_cmd_names[r->o->cmd], x->url, status,
		why, text);
}

static void
lg_finish(struct lg_run *r, struct lg_xfer *x, CURLcode res)
{
	uint64_t us = (lg_now() - x->t0) / 1000;
	long status = 0;

	curl_multi_remove_handle(r->multi, x->easy);
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (res != CURLE_OK) {
		lg_fail(r, x, status, curl_easy_strerror(res));
	} else if (r->done(r, x, status) == 0) {
		r->ok++;
		r->hist.n++;
		r->hist.b[lg_hist_index(us)]++;
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
}

static bool
lg_may_start(const struct lg_run *r)
{
	return !r->stop && r->next < r->nops && (r->deadline == 0 || lg_now() < r->deadline);
}

/* Runs nops operations (setup makes request `x->op`, done judges its answer), up to nx at once,
 * stopping early at the deadline or when done sets r->stop. Returns 0, or -EIO when libcurl
 * fails (not when a request does: those count in r->errors). */
static int
lg_run_ops(struct lg_run *r, uint64_t nops, lg_setup_fn setup, lg_done_fn done)
{
	unsigned int i, active = 0;
	struct lg_xfer *x;
	int running, left;
	char *priv;
	CURLMsg *m;

	r->setup = setup;
	r->done = done;
	r->next = 0;
	r->nops = nops;
	r->stop = false;
	for (i = 0; i < r->nx && lg_may_start(r); i++, active++)
		if (lg_start(r, &r->x[i]) < 0)
			return -EIO;
	while (active > 0) {
		if (curl_multi_perform(r->multi, &running) != CURLM_OK)
			return -EIO;
		while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
			x = (struct lg_xfer *)(void *)priv;
			lg_finish(r, x, m->data.result);
			active--;
			if (!lg_may_start(r))
				continue;
			if (lg_start(r, x) < 0)
				return -EIO;
			active++;
		}
		if (active > 0 && curl_multi_poll(r->multi, NULL, 0, 100, NULL) != CURLM_OK)
			return -EIO;
	}
	return 0;
}

/* ---- setup and completion of each kind of request ---- */

static int
lg_done_2xx(struct lg_run *r, struct lg_xfer *x, long status)
{
	const struct lg_opts *o = r->o;

	if (status < 200 || status > 299) {
		lg_fail(r, x, status, "unexpected status");
		return -EIO;
	}
	if (x->bad) {
		lg_fail(r, x, status, "received bytes differ from those stored");
		return -EIO;
	}
	if (o->cmd == LG_CMD_GET && o->size > 0 && x->got != o->size) {
		lg_fail(r, x, status, "short or long body");
		return -EIO;
	}
	r->bytes += x->upload ? x->len : x->got;
	return 0;
}

static int
lg_done_mb(struct lg_run *r, struct lg_xfer *x, long status)
{
	return status == 409 ? 0 : lg_done_2xx(r, x, status);
}

static int
lg_setup_mb(struct lg_run *r, struct lg_xfer *x)
{
	int n;

	n = snprintf(x->url, sizeof(x->url), "%s/%s", r->o->url, r->o->bucket);
	if (n < 0 || (size_t)n >= sizeof(x->url))
		return -ENAMETOOLONG;
	lg_easy_upload(r, x);
	return 0;
}

static int
lg_setup_put(struct lg_run *r, struct lg_xfer *x)
{
	uint64_t obj = r->o->start + x->op;

	x->stream = lg_stream(r->o->seed, obj);
	x->off = r->o->skip;
	x->len = r->o->size;
	lg_easy_upload(r, x);
	if (r->o->signed_payload)
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, r->h_signed[x->op]);
	return lg_url(x, obj, "", NULL);
}

static int
lg_setup_get(struct lg_run *r, struct lg_xfer *x)
{
	uint64_t obj = r->o->start + x->op % r->o->count;

	x->stream = lg_stream(r->o->seed, obj);
	x->check = r->o->verify;
	if (r->o->cmd == LG_CMD_HEAD)
		curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
	return lg_url(x, obj, "", NULL);
}

static int
lg_setup_ranged(struct lg_run *r, struct lg_xfer *x)
{
	const struct lg_opts *o = r->o;
	uint64_t a = o->size * x->op / o->conc, b = o->size * (x->op + 1) / o->conc;
	struct curl_slist *h;
	char range[80];

	x->stream = lg_stream(o->seed, o->start);
	x->check = o->verify;
	x->off = a;
	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, a, b - 1);
	x->hdrs = curl_slist_append(NULL, "x-amz-content-sha256: " SIGV4_EMPTY_SHA256);
	h = x->hdrs != NULL ? curl_slist_append(x->hdrs, range) : NULL;
	if (h == NULL)
		return -ENOMEM;
	return lg_url(x, o->start, "", NULL);
}

static int
lg_done_ranged(struct lg_run *r, struct lg_xfer *x, long status)
{
	uint64_t want = r->o->size * (x->op + 1) / r->o->conc - x->off;

	if (status != 206) {
		lg_fail(r, x, status, "expected 206 Partial Content");
		return -EIO;
	}
	if (x->got != want) {
		lg_fail(r, x, status, "range of the wrong length");
		return -EIO;
	}
	return lg_done_2xx(r, x, 200);
}

/* ---- ListObjectsV2 ---- */

/* Copies the text of the first <tag>…</tag> in body, XML entities decoded, into a new string
 * *out (the caller frees it). Returns 0, -ENOENT when there is none or -E2BIG when it is longer
 * than LG_URL_MAX. */
static int
lg_xml_text(const char *body, const char *tag, char **out)
{
	static const char *const ent[][2] = {
	    {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"},
	};
	char open[64], close[64], *s;
	const char *a, *b;
	size_t i, n = 0, k;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (body == NULL || (a = strstr(body, open)) == NULL)
		return -ENOENT;
	a += strlen(open);
	if ((b = strstr(a, close)) == NULL)
		return -ENOENT;
	if ((size_t)(b - a) > LG_URL_MAX)
		return -E2BIG;
	s = malloc((size_t)(b - a) + 1);
	if (s == NULL)
		abort();
	while (a < b) {
		for (k = 0; k < sizeof(ent) / sizeof(ent[0]); k++)
			if (strncmp(a, ent[k][0], strlen(ent[k][0])) == 0)
				break;
		i = k < sizeof(ent) / sizeof(ent[0]) ? strlen(ent[k][0]) : 1;
		s[n++] = k < sizeof(ent) / sizeof(ent[0]) ? ent[k][1][0] : *a;
		a += i;
	}
	s[n] = '\0';
	*out = s;
	return 0;
}

static int
lg_setup_list(struct lg_run *r, struct lg_xfer *x)
{
	const struct lg_opts *o = r->o;
	struct buf q;
	int rc = 0, n;

	buf_init(&q, LG_URL_MAX);
	if (r->token != NULL) {
		rc = buf_append_str(&q, "continuation-token=");
		if (rc == 0)
			rc = lg_uri_encode(&q, r->token, false);
		if (rc == 0)
			rc = buf_append_str(&q, "&");
	}
	if (rc == 0)
		rc = buf_printf(&q, "list-type=2&max-keys=%" PRIu64 "&prefix=", o->max_keys);
	if (rc == 0)
		rc = lg_uri_encode(&q, o->prefix, false);
	if (rc == 0) {
		n = snprintf(x->url, sizeof(x->url), "%s/%s?%s", o->url, o->bucket,
			     (const char *)q.p);
		rc = n > 0 && (size_t)n < sizeof(x->url) ? 0 : -ENAMETOOLONG;
	}
	buf_fini(&q);
	return rc;
}

static int
lg_done_list(struct lg_run *r, struct lg_xfer *x, long status)
{
	const char *body = (const char *)x->resp.p, *p;
	int rc;

	rc = lg_done_2xx(r, x, status);
	if (rc < 0)
		return rc;
	if (body == NULL || x->resp.len >= x->resp.max) {
		lg_fail(r, x, status, "empty page, or larger than the cap");
		r->stop = true;
		return -EIO;
	}
	for (p = body; (p = strstr(p, "<Key>")) != NULL; p += 5)
		r->keys++;
	free(r->token);
	r->token = NULL;
	if (strstr(body, "<IsTruncated>true</IsTruncated>") == NULL) {
		r->complete = true;
		r->stop = true;
		return 0;
	}
	rc = lg_xml_text(body, "NextContinuationToken", &r->token);
	if (rc < 0) {
		lg_fail(r, x, status, "truncated page without a NextContinuationToken");
		r->stop = true;
	}
	return rc;
}

/* ---- multipart upload ---- */

/* A header list for the multipart POSTs: unsigned payload and extra. NULL when out of memory.
 * The caller frees it with curl_slist_free_all(). */
static struct curl_slist *
lg_post_headers(const char *extra)
{
	struct curl_slist *h;

	h = curl_slist_append(NULL, "x-amz-content-sha256: " SIGV4_UNSIGNED_PAYLOAD);
	if (h != NULL && curl_slist_append(h, extra) == NULL) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

/* Sets x->url to the multipart object's URL with query "name=<upload id>" after prefix. */
static int
lg_url_upload(struct lg_run *r, struct lg_xfer *x, const char *before)
{
	struct buf q;
	int rc;

	buf_init(&q, LG_URL_MAX);
	rc = buf_append_str(&q, before);
	if (rc == 0)
		rc = lg_uri_encode(&q, r->upload_id, false);
	if (rc == 0)
		rc = lg_url(x, r->o->start, "", (const char *)q.p);
	buf_fini(&q);
	return rc;
}

static int
lg_setup_mpu_create(struct lg_run *r, struct lg_xfer *x)
{
	curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, 0L);
	x->hdrs = lg_post_headers("Content-Type: application/octet-stream");
	if (x->hdrs == NULL)
		return -ENOMEM;
	/* "uploads=" rather than "uploads": libcurl 7.88 signs the query as written. */
	return lg_url(x, r->o->start, "", "uploads=");
}

static int
lg_done_mpu_create(struct lg_run *r, struct lg_xfer *x, long status)
{
	int rc;

	if (status == 501) {
		r->not_impl = true;
		return -ENOSYS;
	}
	rc = lg_done_2xx(r, x, status);
	if (rc < 0)
		return rc;
	rc = lg_xml_text((const char *)x->resp.p, "UploadId", &r->upload_id);
	if (rc < 0)
		lg_fail(r, x, status, "no UploadId in the answer");
	return rc;
}

static int
lg_setup_mpu_part(struct lg_run *r, struct lg_xfer *x)
{
	const struct lg_opts *o = r->o;
	char suffix[32], before[64];

	x->stream = lg_stream(o->seed, o->start);
	x->off = x->op * o->part_size;
	x->len = o->size - x->off < o->part_size ? o->size - x->off : o->part_size;
	lg_easy_upload(r, x);
	if (o->plain) {
		snprintf(suffix, sizeof(suffix), ".part%05" PRIu64, x->op + 1);
		return lg_url(x, o->start, suffix, NULL);
	}
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, lg_on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	snprintf(before, sizeof(before), "partNumber=%" PRIu64 "&uploadId=", x->op + 1);
	return lg_url_upload(r, x, before);
}

static int
lg_done_mpu_part(struct lg_run *r, struct lg_xfer *x, long status)
{
	int rc;

	rc = lg_done_2xx(r, x, status);
	if (rc < 0 || r->o->plain)
		return rc;
	if (x->etag[0] == '\0') {
		lg_fail(r, x, status, "UploadPart answer without an ETag");
		return -EIO;
	}
	memcpy(r->etags[x->op], x->etag, sizeof(x->etag));
	return 0;
}

static int
lg_mpu_body(struct lg_run *r)
{
	uint64_t i;
	int rc;

	buf_reset(&r->body);
	rc = buf_append_str(&r->body, "<CompleteMultipartUpload>");
	for (i = 0; i < r->nparts && rc == 0; i++)
		rc = buf_printf(&r->body,
				"<Part><PartNumber>%" PRIu64 "</PartNumber>"
				"<ETag>%s</ETag></Part>",
				i + 1, r->etags[i]);
	if (rc == 0)
		rc = buf_append_str(&r->body, "</CompleteMultipartUpload>");
	return rc;
}

static int
lg_setup_mpu_complete(struct lg_run *r, struct lg_xfer *x)
{
	curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, (const char *)r->body.p);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body.len);
	x->hdrs = lg_post_headers("Content-Type: application/xml");
	if (x->hdrs == NULL)
		return -ENOMEM;
	return lg_url_upload(r, x, "uploadId=");
}

static int
lg_done_mpu_complete(struct lg_run *r, struct lg_xfer *x, long status)
{
	const char *body = (const char *)x->resp.p;
	int rc;

	rc = lg_done_2xx(r, x, status);
	if (rc < 0)
		return rc;
	/* S3 may answer 200 and still fail: the error is then in the body. */
	if (body == NULL || strstr(body, "<Error>") != NULL ||
	    strstr(body, "CompleteMultipartUploadResult") == NULL) {
		lg_fail(r, x, status, "CompleteMultipartUpload failed");
		return -EIO;
	}
	return 0;
}

/* Create, parts, complete (or with --plain, the parts only). r->bytes counts the parts. */
static int
lg_mpu(struct lg_run *r)
{
	const struct lg_opts *o = r->o;
	uint64_t parts_bytes;
	int rc;

	r->nparts = (o->size + o->part_size - 1) / o->part_size;
	if (!o->plain) {
		rc = lg_run_ops(r, 1, lg_setup_mpu_create, lg_done_mpu_create);
		if (rc < 0 || r->upload_id == NULL)
			return rc;
		r->etags = calloc(r->nparts, sizeof(*r->etags));
		if (r->etags == NULL)
			return -ENOMEM;
	}
	r->bytes = 0;
	rc = lg_run_ops(r, r->nparts, lg_setup_mpu_part, lg_done_mpu_part);
	parts_bytes = r->bytes;
	if (rc < 0 || o->plain || r->errors > 0)
		return rc;
	rc = lg_mpu_body(r);
	if (rc < 0)
		return rc;
	rc = lg_run_ops(r, 1, lg_setup_mpu_complete, lg_done_mpu_complete);
	r->bytes = parts_bytes;
	return rc;
}

/* ---- presigned URLs ---- */

/* Appends the query of a presigned URL (without the signature) for scope and amz date to q. */
static int
lg_presign_query(const struct lg_opts *o, const char *scope, const char *amz, struct buf *q)
{
	int rc;

	rc = buf_append_str(q, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
	if (rc == 0)
		rc = lg_uri_encode(q, o->ak, false);
	if (rc == 0)
		rc = buf_append_str(q, "%2F");
	if (rc == 0)
		rc = lg_uri_encode(q, scope, false);
	if (rc == 0)
		rc = buf_printf(q,
				"&X-Amz-Date=%s&X-Amz-Expires=%" PRIu64 "&X-Amz-SignedHeaders=host",
				amz, o->expires);
	return rc;
}

/* Prints the presigned path of object obj: "/bucket/key?query&X-Amz-Signature=…". c is scratch
 * space for the canonical request. Returns 0 or CAIRN_E_TOOBIG / -ENAMETOOLONG. */
static int
lg_presign_one(const struct lg_opts *o, const char *host, const char *amz,
	       const uint8_t key[SIGV4_KEY_LEN], uint64_t obj, struct buf *c)
{
	char raw[LG_URL_MAX], scope[SIGV4_SCOPE_SIZE + 64], hash[2 * SIGV4_KEY_LEN + 1];
	char sts[512], sig_hex[2 * SIGV4_KEY_LEN + 1];
	uint8_t sig[SIGV4_KEY_LEN];
	struct buf path, query;
	int rc, n;

	n = snprintf(raw, sizeof(raw), "/%s/%s%08" PRIu64, o->bucket, o->prefix, obj);
	if (n < 0 || (size_t)n >= sizeof(raw))
		return -ENAMETOOLONG;
	snprintf(scope, sizeof(scope), "%.8s/%s/s3/aws4_request", amz, o->region);
	buf_init(&path, LG_URL_MAX);
	buf_init(&query, LG_URL_MAX);
	buf_reset(c);
	rc = lg_uri_encode(&path, raw, true);
	if (rc == 0)
		rc = lg_presign_query(o, scope, amz, &query);
	if (rc == 0)
		rc = buf_printf(c, "%s\n%s\n%s\nhost:%s\n\nhost\n" SIGV4_UNSIGNED_PAYLOAD,
				o->method, (const char *)path.p, (const char *)query.p, host);
	if (rc == 0) {
		sigv4_sha256_hex(c->p, c->len, hash);
		n = snprintf(sts, sizeof(sts), SIGV4_ALGORITHM "\n%s\n%s\n%s", amz, scope, hash);
		sigv4_hmac(key, SIGV4_KEY_LEN, sts, (size_t)n, sig);
		hex_encode(sig, sizeof(sig), sig_hex);
		printf("%s?%s&X-Amz-Signature=%s\n", (const char *)path.p, (const char *)query.p,
		       sig_hex);
	}
	buf_fini(&query);
	buf_fini(&path);
	return rc;
}

static int
lg_presign(const struct lg_opts *o)
{
	char amz[SIGV4_AMZ_DATE_LEN + 1], date[9];
	uint8_t key[SIGV4_KEY_LEN];
	time_t now = time(NULL);
	struct buf c;
	struct tm tm;
	uint64_t i;
	int rc = 0;

	if (strncmp(o->url, "http://", 7) != 0 || o->ak == NULL)
		return -EINVAL;
	gmtime_r(&now, &tm);
	strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, amz, 8);
	date[8] = '\0';
	sigv4_signing_key(o->sk, strlen(o->sk), date, o->region, "s3", key);
	buf_init(&c, SIGV4_CANONICAL_MAX);
	for (i = 0; i < o->count && rc == 0; i++)
		rc = lg_presign_one(o, o->url + 7, amz, key, o->start + i, &c);
	buf_fini(&c);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* ---- arguments ---- */

struct lg_u64_opt {
	const char *name;
	size_t off;
	uint64_t lo;
	uint64_t hi;
};

static const struct lg_u64_opt lg_u64_opts[] = {
    {"--size", offsetof(struct lg_opts, size), 0, LG_SIZE_MAX},
    {"--count", offsetof(struct lg_opts, count), 1, LG_OPS_MAX},
    {"--start", offsetof(struct lg_opts, start), 0, LG_OPS_MAX},
    {"--ops", offsetof(struct lg_opts, ops), 1, LG_OPS_MAX},
    {"--seed", offsetof(struct lg_opts, seed), 0, UINT64_MAX},
    {"--skip", offsetof(struct lg_opts, skip), 0, LG_SIZE_MAX},
    {"--part-size", offsetof(struct lg_opts, part_size), 1, LG_SIZE_MAX},
    {"--max-keys", offsetof(struct lg_opts, max_keys), 1, 1000},
    {"--expires", offsetof(struct lg_opts, expires), 1, SIGV4_EXPIRES_MAX},
    {"--conc", offsetof(struct lg_opts, conc), 1, LG_CONC_MAX},
};

struct lg_str_opt {
	const char *name;
	size_t off;
};

static const struct lg_str_opt lg_str_opts[] = {
    {"--url", offsetof(struct lg_opts, url)},	    {"--bucket", offsetof(struct lg_opts, bucket)},
    {"--prefix", offsetof(struct lg_opts, prefix)}, {"--region", offsetof(struct lg_opts, region)},
    {"--method", offsetof(struct lg_opts, method)}, {"--out", offsetof(struct lg_opts, out)},
};

static int
lg_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
lg_parse_pids(const char *s, struct lg_opts *o)
{
	unsigned long long v;
	char *end;

	for (o->npids = 0; *s != '\0'; s = *end == ',' ? end + 1 : end) {
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0 || end == s || v == 0 || v > INT32_MAX || o->npids >= LG_PIDS_MAX ||
		    (*end != ',' && *end != '\0'))
			return -EINVAL;
		o->pids[o->npids++] = (pid_t)v;
	}
	return 0;
}

/* Parses one "--name value" pair. Returns 0 or -EINVAL. */
static int
lg_parse_pair(struct lg_opts *o, const char *name, const char *val)
{
	char *end;
	size_t i;

	for (i = 0; i < sizeof(lg_u64_opts) / sizeof(lg_u64_opts[0]); i++)
		if (strcmp(name, lg_u64_opts[i].name) == 0)
			return lg_parse_u64(val, lg_u64_opts[i].lo, lg_u64_opts[i].hi,
					    (uint64_t *)((char *)o + lg_u64_opts[i].off));
	for (i = 0; i < sizeof(lg_str_opts) / sizeof(lg_str_opts[0]); i++) {
		if (strcmp(name, lg_str_opts[i].name) == 0) {
			*(const char **)((char *)o + lg_str_opts[i].off) = val;
			return 0;
		}
	}
	if (strcmp(name, "--pids") == 0)
		return lg_parse_pids(val, o);
	if (strcmp(name, "--duration") == 0) {
		errno = 0;
		o->duration = strtod(val, &end);
		return errno == 0 && end != val && *end == '\0' && o->duration >= 0 &&
			       o->duration <= 86400
			   ? 0
			   : -EINVAL;
	}
	return -EINVAL;
}

static void
lg_defaults(struct lg_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->prefix = "o/";
	o->region = "us-east-1";
	o->method = "GET";
	o->count = 1;
	o->conc = 1;
	o->part_size = 8u << 20;
	o->max_keys = 1000;
	o->expires = 3600;
	o->ak = getenv("LOADGEN_ACCESS_KEY");
	o->sk = getenv("LOADGEN_SECRET_KEY");
	if (o->ak == NULL || o->sk == NULL || o->ak[0] == '\0')
		o->ak = o->sk = NULL;
}

/* Checks what each command needs and fills the defaults that depend on the command. */
static int
lg_validate(struct lg_opts *o)
{
	if (o->cmd == LG_CMD_DISK)
		return o->out != NULL && o->size > 0 ? 0 : -EINVAL;
	if (o->url == NULL || o->bucket == NULL || strncmp(o->url, "http://", 7) != 0)
		return -EINVAL;
	if (o->ops == 0)
		o->ops = o->cmd == LG_CMD_LIST ? LG_OPS_MAX : o->count;
	if (o->signed_payload && (o->cmd != LG_CMD_PUT || o->ops > LG_SIGNED_MAX || !o->ak))
		return -EINVAL;
	switch (o->cmd) {
	case LG_CMD_RANGED:
		return o->size >= o->conc ? 0 : -EINVAL;
	case LG_CMD_MPU:
		if (o->size == 0 || (o->size + o->part_size - 1) / o->part_size > LG_PARTS_MAX)
			return -EINVAL;
		return 0;
	case LG_CMD_PRESIGN:
		if (strcmp(o->method, "GET") != 0 && strcmp(o->method, "HEAD") != 0)
			return -EINVAL;
		return o->ak != NULL ? 0 : -EINVAL;
	default:
		return 0;
	}
}

static int
lg_parse_args(int argc, char **argv, struct lg_opts *o)
{
	int i;

	lg_defaults(o);
	if (argc < 2)
		return -EINVAL;
	for (i = 0; i < LG_CMD_COUNT && strcmp(argv[1], lg_cmd_names[i]) != 0; i++)
		;
	if (i == LG_CMD_COUNT)
		return -EINVAL;
	o->cmd = (enum lg_cmd)i;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--verify") == 0) {
			o->verify = true;
		} else if (strcmp(argv[i], "--signed") == 0) {
			o->signed_payload = true;
		} else if (strcmp(argv[i], "--plain") == 0) {
			o->plain = true;
		} else if (i + 1 >= argc || lg_parse_pair(o, argv[i], argv[i + 1]) < 0) {
			fprintf(stderr, "loadgen: bad option or value: %s\n", argv[i]);
			return -EINVAL;
		} else {
			i++;
		}
	}
	return lg_validate(o);
}

static const char lg_usage_text[] =
    "usage: loadgen COMMAND --url http://127.0.0.1:PORT --bucket B [options]\n"
    "  mb | put | get | head | ranged | list | mpu | presign | disk (see bench/loadgen.c)\n"
    "  --prefix P --start N --count N   objects P%08u, u = start .. start+count-1\n"
    "  --size BYTES --seed N            object size; bytes are the stream of (seed, u)\n"
    "  --skip BYTES                     put: the body starts that far into the stream\n"
    "  --conc N --ops N --duration SEC  in flight, requests (get/head/list), time cap\n"
    "  --part-size BYTES --plain        multipart; --plain: parts as separate objects\n"
    "  --max-keys N --verify --signed --pids P,P --region R --method GET|HEAD --expires SEC\n"
    "  --out FILE                       disk: the file to write and fdatasync\n"
    "  signing: LOADGEN_ACCESS_KEY and LOADGEN_SECRET_KEY (unsigned without them)\n";

/* ---- the run ---- */

/* put --signed: the header "x-amz-content-sha256: <hex>" of each op's body (object start + op,
 * bytes [skip, skip + size) of its stream), computed before the run so that hashing on this side
 * is not timed. */
static int
lg_signed_headers(struct lg_run *r)
{
	const struct lg_opts *o = r->o;
	uint8_t *piece = malloc(LG_UPLOAD_BUF), md[32];
	char line[96], hex[65];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = piece != NULL && ctx != NULL ? 0 : -ENOMEM;

	for (uint64_t op = 0; rc == 0 && op < o->ops; op++) {
		uint64_t stream = lg_stream(o->seed, o->start + op);
		unsigned int n = 0;

		if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
			rc = -ENOMEM;
			break;
		}
		for (uint64_t off = 0; off < o->size; off += LG_UPLOAD_BUF) {
			size_t len =
			    o->size - off < LG_UPLOAD_BUF ? (size_t)(o->size - off) : LG_UPLOAD_BUF;

			lg_fill(stream, o->skip + off, piece, len);
			if (EVP_DigestUpdate(ctx, piece, len) != 1)
				rc = -ENOMEM;
		}
		if (rc < 0 || EVP_DigestFinal_ex(ctx, md, &n) != 1) {
			rc = -ENOMEM;
			break;
		}
		hex_encode(md, sizeof(md), hex);
		snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
		r->h_signed[op] = curl_slist_append(NULL, line);
		if (r->h_signed[op] == NULL)
			rc = -ENOMEM;
	}
	EVP_MD_CTX_free(ctx);
	free(piece);
	return rc;
}

static int
lg_run_init(struct lg_run *r, const struct lg_opts *o)
{
	unsigned int i;

	r->o = o;
	r->nx = o->cmd == LG_CMD_LIST || o->cmd == LG_CMD_MB ? 1 : (unsigned int)o->conc;
	r->resp_max = o->cmd == LG_CMD_LIST || o->cmd == LG_CMD_MPU ? LG_RESP_MAX : LG_ERR_KEEP;
	buf_init(&r->body, 4u << 20);
	snprintf(r->sigv4, sizeof(r->sigv4), "aws:amz:%s:s3", o->region);
	r->multi = curl_multi_init();
	r->x = calloc(r->nx, sizeof(*r->x));
	if (r->multi == NULL || r->x == NULL)
		return -ENOMEM;
	for (i = 0; i < r->nx; i++) {
		r->x[i].run = r;
		buf_init(&r->x[i].resp, r->resp_max);
		r->x[i].easy = curl_easy_init();
		if (r->x[i].easy == NULL)
			return -ENOMEM;
	}
	r->h_nobody = curl_slist_append(NULL, "x-amz-content-sha256: " SIGV4_EMPTY_SHA256);
	r->h_body = curl_slist_append(NULL, "x-amz-content-sha256: " SIGV4_UNSIGNED_PAYLOAD);
	if (r->h_nobody == NULL || r->h_body == NULL)
		return -ENOMEM;
	return o->signed_payload ? lg_signed_headers(r) : 0;
}

/* Frees what lg_run_init() and the run allocated; safe on a partly initialised run. */
static void
lg_run_fini(struct lg_run *r)
{
	unsigned int i;

	for (i = 0; r->x != NULL && i < r->nx; i++) {
		if (r->multi != NULL && r->x[i].easy != NULL)
			curl_multi_remove_handle(r->multi, r->x[i].easy);
		curl_easy_cleanup(r->x[i].easy);
		curl_slist_free_all(r->x[i].hdrs);
		buf_fini(&r->x[i].resp);
	}
	free(r->x);
	if (r->multi != NULL)
		curl_multi_cleanup(r->multi);
	curl_slist_free_all(r->h_nobody);
	curl_slist_free_all(r->h_body);
	for (i = 0; i < LG_SIGNED_MAX; i++)
		curl_slist_free_all(r->h_signed[i]);
	buf_fini(&r->body);
	free(r->token);
	free(r->upload_id);
	free(r->etags);
}

/* disk: object `start`'s bytes into o->out, then fdatasync. One op of o->size bytes. */
static int
lg_disk(struct lg_run *r)
{
	const struct lg_opts *o = r->o;
	uint64_t stream = lg_stream(o->seed, o->start), off = 0;
	size_t cap = 1u << 20;
	uint8_t *p = malloc(cap);
	int fd, rc = 0;

	fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (p == NULL || fd < 0) {
		fprintf(stderr, "loadgen: %s: %s\n", o->out, strerror(p ? errno : ENOMEM));
		free(p);
		return -EIO;
	}
	while (off < o->size && rc == 0) {
		size_t n = o->size - off < cap ? (size_t)(o->size - off) : cap, done = 0;

		lg_fill(stream, off, p, n);
		while (done < n && rc == 0) {
			ssize_t w = write(fd, p + done, n - done);

			if (w < 0 && errno != EINTR)
				rc = -errno;
			done += w > 0 ? (size_t)w : 0;
		}
		off += n;
	}
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	free(p);
	if (rc < 0) {
		fprintf(stderr, "loadgen: %s: %s\n", o->out, strerror(-rc));
		r->errors++;
		return 0;
	}
	r->ok = 1;
	r->bytes = o->size;
	return 0;
}

static int
lg_command(struct lg_run *r)
{
	const struct lg_opts *o = r->o;

	if (o->duration > 0 && o->cmd != LG_CMD_MPU)
		r->deadline = lg_now() + (uint64_t)(o->duration * 1e9);
	switch (o->cmd) {
	case LG_CMD_MB:
		return lg_run_ops(r, 1, lg_setup_mb, lg_done_mb);
	case LG_CMD_PUT:
		return lg_run_ops(r, o->count, lg_setup_put, lg_done_2xx);
	case LG_CMD_GET:
	case LG_CMD_HEAD:
		return lg_run_ops(r, o->ops, lg_setup_get, lg_done_2xx);
	case LG_CMD_RANGED:
		return lg_run_ops(r, o->conc, lg_setup_ranged, lg_done_ranged);
	case LG_CMD_LIST:
		return lg_run_ops(r, o->ops, lg_setup_list, lg_done_list);
	case LG_CMD_MPU:
		return lg_mpu(r);
	case LG_CMD_DISK:
		return lg_disk(r);
	default:
		return -EINVAL;
	}
}

static void
lg_report(const struct lg_run *r, double secs, const struct lg_usage *u0, const struct lg_usage *u1,
	  const struct lg_sampler *smp)
{
	double cpu = u1->cpu_s - u0->cpu_s;

	printf("ops: %" PRIu64 "\nerrors: %" PRIu64 "\nbytes: %" PRIu64 " B\n", r->ok, r->errors,
	       r->bytes);
	printf("seconds: %.3f s\nops_per_s: %.1f ops/s\nMB_per_s: %.1f MB/s\n", secs,
	       (double)r->ok / secs, (double)r->bytes / 1e6 / secs);
	printf("p50_ms: %.3f ms\np99_ms: %.3f ms\n", lg_hist_quantile_ms(&r->hist, 0.50),
	       lg_hist_quantile_ms(&r->hist, 0.99));
	if (r->o->cmd == LG_CMD_LIST)
		printf("keys: %" PRIu64 "\ncomplete: %d\n", r->keys, r->complete ? 1 : 0);
	if (!u0->ok || !u1->ok)
		return;
	printf("server_cpu_s: %.2f s\n", cpu);
	if (r->bytes >= 1000000)
		printf("server_cpu_s_per_GB: %.3f s/GB\n", cpu / ((double)r->bytes / 1e9));
	if (r->ok > 0)
		printf("server_cpu_us_per_op: %.1f us\n", cpu * 1e6 / (double)r->ok);
	printf("server_vmhwm_kb: %" PRIu64 " kB\n", u1->hwm_kb);
	if (!smp->ok)
		return;
	printf("server_rss_anon_peak_kb: %" PRIu64 " kB\nserver_rss_file_peak_kb: %" PRIu64
	       " kB\nserver_rss_shmem_peak_kb: %" PRIu64 " kB\n",
	       smp->peak_kb[LG_RSS_ANON], smp->peak_kb[LG_RSS_FILE], smp->peak_kb[LG_RSS_SHMEM]);
}

int
main(int argc, char **argv)
{
	struct lg_usage u0, u1;
	struct lg_sampler smp;
	struct lg_opts o;
	struct lg_run *r;
	uint64_t t0;
	double secs;
	int rc;

	if (lg_parse_args(argc, argv, &o) < 0) {
		fputs(lg_usage_text, stderr);
		return 2;
	}
	if (o.cmd == LG_CMD_PRESIGN)
		return lg_presign(&o) < 0 ? 2 : 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 2;
	r = calloc(1, sizeof(*r));
	if (r == NULL || lg_run_init(r, &o) < 0) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 2;
	}
	lg_usage_read(&o, &u0);
	lg_sampler_start(&smp, &o);
	t0 = lg_now();
	rc = lg_command(r);
	secs = (double)(lg_now() - t0) / 1e9;
	lg_sampler_stop(&smp);
	lg_usage_read(&o, &u1);
	if (r->not_impl) {
		printf("not_implemented: 1\n");
		rc = 3;
	} else {
		lg_report(r, secs > 0 ? secs : 1e-9, &u0, &u1, &smp);
		rc = rc < 0 ? 2 : r->errors > 0 || r->ok == 0 ? 1 : 0;
	}
	lg_run_fini(r);
	free(r);
	curl_global_cleanup();
	return rc;
}
