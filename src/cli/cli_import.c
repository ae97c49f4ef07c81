/*
 * cli_import.c — `cairn import` and `cairn cat`: files in and out, streamed with bounded memory.
 *
 * import prints "stored KEY SIZE ETAG" only after the object is committed (durable), and flushes
 * it at once: a line on stdout means the object survives a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/err.h"
#include "cairn/fileio.h"
#include "cairn/s3name.h"
#include "cli.h"

#define CLI_IO_BYTES (1u << 20)

struct progress {
	bool on;
	struct timespec last;
	const char *key;
};

static void
progress_show(struct progress *pr, uint64_t bytes, bool force)
{
	struct timespec now;
	long ms;

	if (!pr->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - pr->last.tv_sec) * 1000 + (now.tv_nsec - pr->last.tv_nsec) / 1000000;
	if (!force && ms < 200)
		return;
	pr->last = now;
	fprintf(stderr, "\r\033[Kimporting %.60s: %.1f MiB", pr->key, (double)bytes / 1048576.0);
}

static void
progress_end(struct progress *pr)
{
	if (pr->on)
		fputs("\r\033[K", stderr);
}

/* Feeds fd into put. Returns 0, -errno (read) or a store error. */
static int
import_stream(struct store_put *put, int fd, struct progress *pr)
{
	uint8_t *buf = malloc(CLI_IO_BYTES);
	uint64_t total = 0;
	ssize_t n;
	int rc = 0;

	if (!buf)
		abort();
	for (;;) {
		n = read(fd, buf, CLI_IO_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = store_put_write(put, buf, (size_t)n);
		if (rc < 0)
			break;
		total += (uint64_t)n;
		progress_show(pr, total, false);
	}
	free(buf);
	return rc;
}

int
cli_import_file(struct store *st, const char *bucket, const char *key, const char *path)
{
	struct progress pr = {.on = isatty(2) == 1, .key = key};
	struct store_object_info info;
	struct slice k = {(const uint8_t *)key, strlen(key)};
	struct store_put *put;
	int fd, rc;

	if (k.len > INDEX_KEY_MAX || s3name_key_check(key, k.len) < 0) {
		cli_err("%s: not usable as a key (1 to %d bytes of UTF-8)", path, INDEX_KEY_MAX);
		return CAIRN_E_INVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cli_err("%s: %s", path, strerror(errno));
		return rc;
	}
	rc = store_put_begin(st, &put);
	if (rc < 0)
		goto out_close;
	rc = import_stream(put, fd, &pr);
	if (rc == 0)
		rc = store_put_finish(put, NULL, NULL);
	progress_end(&pr);
	if (rc < 0) {
		store_put_abort(put);
		goto out_close;
	}
	rc = store_put_commit(put, bucket, k, (struct slice){NULL, 0}, NULL, &info);
	if (rc == 0) {
		printf("stored %s %llu %s\n", key, (unsigned long long)info.size, info.etag);
		fflush(stdout);
	}
out_close:
	close(fd);
	if (rc < 0)
		cli_err("%s: %s", path, cairn_strerror(rc));
	return rc;
}

int
cli_import(int argc, char **argv)
{
	struct store *st;
	int i, status, rc;

	if (argc < 3) {
		cli_err("usage: cairn import DATADIR BUCKET FILE...");
		return CLI_USAGE;
	}
	if (!s3name_bucket_is_valid(argv[1], strlen(argv[1]))) {
		/* the S3 rules, or the objects could not be reached through cairnd */
		cli_err("%s: not a valid bucket name (3 to 63 lowercase letters, digits, dots and "
			"hyphens)",
			argv[1]);
		return CLI_USAGE;
	}
	status = cli_store_open(argv[0], STORE_MODE_WRITE, &st);
	if (status != CLI_OK)
		return status;
	rc = store_bucket_create(st, argv[1], "root", "", NULL);
	if (rc < 0 && rc != CAIRN_E_EXISTS) {
		cli_err("bucket %s: %s", argv[1], cairn_strerror(rc));
		store_close(st);
		return rc == CAIRN_E_INVAL ? CLI_USAGE : CLI_FAIL;
	}
	for (i = 2; i < argc; i++)
		if (cli_import_file(st, argv[1], argv[i], argv[i]) < 0)
			status = CLI_FAIL;
	store_close(st);
	return status;
}

int
cli_cat(int argc, char **argv)
{
	struct slice key, span;
	struct store_get *g = NULL;
	struct store *st;
	int status, rc;

	if (argc != 3) {
		cli_err("usage: cairn cat DATADIR BUCKET KEY");
		return CLI_USAGE;
	}
	status = cli_store_open(argv[0], STORE_MODE_READ, &st);
	if (status != CLI_OK)
		return status;
	key = (struct slice){(const uint8_t *)argv[2], strlen(argv[2])};
	rc = store_get_open(st, argv[1], key, &g);
	while (rc == 0) {
		rc = store_get_next(g, CLI_IO_BYTES, &span);
		if (rc < 0 || span.len == 0)
			break;
		rc = fileio_write_all(1, span.p, span.len);
	}
	store_get_close(g);
	if (rc < 0)
		cli_err("%s/%s: %s", argv[1], argv[2], cairn_strerror(rc));
	store_close(st);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}
