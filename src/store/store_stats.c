/*
 * store_stats.c — statistics from one read snapshot of the index, plus the pack files on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/err.h"
#include "store_internal.h"

struct stats_ctx {
	struct index_txn *txn;
	struct store_stats *s;
};

static int
stats_bucket(const char *name, const struct index_bucket *b, void *arg)
{
	struct stats_ctx *c = arg;
	struct index_cursor *cur;
	struct index_object obj;
	struct slice key;
	int rc;

	(void)b;
	c->s->buckets++;
	rc = index_object_cursor_open(c->txn, name, &cur);
	if (rc < 0)
		return rc;
	for (rc = index_object_cursor_seek(cur, (struct slice){NULL, 0}, &key, &obj); rc == 0;
	     rc = index_object_cursor_next(cur, &key, &obj)) {
		c->s->objects++;
		c->s->logical_bytes += obj.size;
	}
	index_cursor_close(cur);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

static int
stats_chunk(const struct chunk_id *id, const struct index_chunk *ch, void *arg)
{
	struct stats_ctx *c = arg;

	(void)id;
	c->s->chunks++;
	c->s->chunk_refs += ch->refcount;
	if (ch->refcount) {
		c->s->raw_bytes += ch->loc.raw_len;
		c->s->stored_bytes += ch->loc.record_len;
	} else {
		c->s->dead_bytes += ch->loc.record_len;
	}
	return 0;
}

/* Counts the pack files (the file backend's pack-*.cpk) and their bytes. */
static int
stats_pack_files(struct store *st, struct store_stats *s)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd;

	fd = open(st->packs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "pack-", 5) != 0)
			continue;
		if (fstatat(fd, de->d_name, &sb, 0) < 0 || !S_ISREG(sb.st_mode))
			continue;
		s->packs++;
		s->pack_bytes += (uint64_t)sb.st_size;
	}
	closedir(d);
	return 0;
}

int
store_stats(struct store *st, struct store_stats *out)
{
	struct stats_ctx c = {.s = out};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = index_read_begin(st->ix, &c.txn);
	if (rc < 0)
		return rc;
	rc = index_bucket_iter(c.txn, stats_bucket, &c);
	if (rc == 0)
		rc = index_chunk_iter(c.txn, stats_chunk, &c);
	index_read_end(c.txn);
	if (rc < 0)
		return rc;
	out->index_bytes = index_disk_bytes(st->ix);
	return stats_pack_files(st, out);
}

void
store_md5memo_stats(struct store *st, struct md5memo_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (st->md5memo)
		md5memo_stats(st->md5memo, out);
}
