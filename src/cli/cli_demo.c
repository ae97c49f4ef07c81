/*
 * cli_demo.c — `cairn demo`: a self-contained look at dedup. In a fresh temp dir it writes two
 * 24 MiB files that differ by a few small edits (like two checkpoints of the same model, or two
 * versions of a disk image), imports both, reads the second back, checks the store and prints the
 * statistics, then removes the temp dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/err.h"
#include "cli.h"

#define DEMO_BYTES (24u << 20)

/* Pseudo-random but mildly compressible bytes: random words from a small vocabulary, so that
 * compression has something to do besides dedup. */
static void
demo_fill(uint8_t *p, size_t len, uint64_t seed)
{
	static const char *const words[] = {"weight ", "layer ", "0.125 ", "-3.5e-2 ", "bias ",
					    "tensor ", "grad ",	 "17 ",	   "epoch ",   "loss "};
	uint64_t x = seed;
	size_t i = 0, n;
	const char *w;

	while (i < len) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w = words[x % 10];
		n = strlen(w);
		if (n > len - i)
			n = len - i;
		memcpy(p + i, w, n);
		i += n;
		if (i < len && (x >> 32) % 4 == 0)
			p[i++] = (uint8_t)(x >> 40); /* a random byte now and then */
	}
}

static int
demo_write_file(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* v2 = v1 with 100 bytes inserted at 5 MiB, 4 KiB rewritten at 12 MiB, 1 KiB dropped at 20 MiB. */
static size_t
demo_edit(const uint8_t *v1, uint8_t *v2)
{
	size_t a = 5u << 20, b = 12u << 20, c = 20u << 20, o = 0;

	memcpy(v2, v1, a);
	o = a;
	memset(v2 + o, '#', 100);
	o += 100;
	memcpy(v2 + o, v1 + a, c - a);
	memset(v2 + (b + 100), 'X', 4096);
	o += c - a;
	memcpy(v2 + o, v1 + c + 1024, DEMO_BYTES - c - 1024);
	return o + DEMO_BYTES - c - 1024;
}

static int
demo_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Reads bucket/key back and compares it with want[len]. */
static int
demo_verify(struct store *st, const char *key, const uint8_t *want, size_t len)
{
	struct slice k = {(const uint8_t *)key, strlen(key)}, span;
	struct store_get *g;
	size_t off = 0;
	int rc;

	rc = store_get_open(st, "demo", k, &g);
	while (rc == 0) {
		rc = store_get_next(g, 1u << 20, &span);
		if (rc < 0 || span.len == 0)
			break;
		if (span.len > len - off || memcmp(span.p, want + off, span.len) != 0)
			rc = CAIRN_E_CORRUPT;
		off += span.len;
	}
	store_get_close(g);
	return rc == 0 && off != len ? CAIRN_E_CORRUPT : rc;
}

static int
demo_run(const char *dir, const uint8_t *v1, const uint8_t *v2, size_t n2)
{
	char data[80], f1[80], f2[80];
	struct store_fsck_result r;
	struct store *st;
	int rc;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(f1, sizeof(f1), "%s/model-v1.bin", dir);
	snprintf(f2, sizeof(f2), "%s/model-v2.bin", dir);
	rc = demo_write_file(f1, v1, DEMO_BYTES);
	if (rc == 0)
		rc = demo_write_file(f2, v2, n2);
	if (rc < 0)
		return rc;
	printf("demo: two %u MiB files differing by three small edits, data dir %s\n",
	       DEMO_BYTES >> 20, data);
	if (cli_store_open(data, STORE_MODE_WRITE, &st) != CLI_OK)
		return CAIRN_E_INVAL;
	rc = store_bucket_create(st, "demo", "root", "", NULL);
	if (rc == 0)
		rc = cli_import_file(st, "demo", "model-v1.bin", f1);
	if (rc == 0)
		rc = cli_import_file(st, "demo", "model-v2.bin", f2);
	if (rc == 0)
		rc = demo_verify(st, "model-v2.bin", v2, n2);
	if (rc == 0)
		rc = store_fsck(st, NULL, NULL, &r);
	if (rc == 0) {
		printf("read back model-v2.bin: identical; fsck: %llu problems\n\n",
		       (unsigned long long)r.problems);
		rc = cli_stats_print(st, false);
	}
	store_close(st);
	return rc;
}

int
cli_demo(int argc, char **argv)
{
	char dir[] = "/tmp/cairn-demo-XXXXXX";
	uint8_t *v1, *v2;
	size_t n2;
	int rc;

	(void)argv;
	if (argc != 0) {
		cli_err("usage: cairn demo");
		return CLI_USAGE;
	}
	if (!mkdtemp(dir)) {
		cli_err("mkdtemp: %s", strerror(errno));
		return CLI_FAIL;
	}
	v1 = malloc(DEMO_BYTES);
	v2 = malloc(DEMO_BYTES + 100);
	if (!v1 || !v2)
		abort();
	demo_fill(v1, DEMO_BYTES, 0x9E3779B97F4A7C15ull);
	n2 = demo_edit(v1, v2);
	rc = demo_run(dir, v1, v2, n2);
	if (rc < 0)
		cli_err("demo: %s", cairn_strerror(rc));
	nftw(dir, demo_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(v1);
	free(v2);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}
