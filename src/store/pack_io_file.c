/*
 * pack_io_file.c — the file backend of pack_io.h: pack N is <dir>/pack-NNNNNNNN.cpk (N as eight
 * lowercase hex digits, so names sort by number), written with pwrite and made durable with
 * fdatasync (plus an fsync of the directory once a new pack file has been created).
 *
 * Open descriptors are kept in a small cache. Entries are reference-counted: a thread reading
 * from a pack holds its entry, so evicting or removing the pack meanwhile never closes (and lets
 * the kernel reuse) a descriptor still in use; the last holder closes it.
 *
 * Preallocation. Appends reserve the pack's blocks ahead of them, PACK_IO_FILE_PREALLOC at a
 * time (fallocate with FALLOC_FL_KEEP_SIZE: the file's size still ends at the last record): a
 * buffered write into allocated blocks skips the file system's per-block reservation of delayed
 * allocation, about a third of the kernel's cost of taking the bytes of a large put. When
 * appends move on to another pack, the previous one's unused reservation is given back
 * (ftruncate to its own size). Reservations stop at the pack store's largest pack (a record past
 * it only lands in an empty pack). A crash can leave one reservation (at most
 * PACK_IO_FILE_PREALLOC) behind the last pack. Where fallocate fails (no space for a whole step,
 * a file system without it), appends go on without.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cairn/pack_io.h"

#define PACK_IO_FILE_CACHE 16
#define PACK_IO_FILE_NAME_MAX 32
#define PACK_IO_FILE_PREALLOC (8ull << 20)

struct pack_file {
	uint32_t id;
	int fd;
	unsigned refs; /* holders, counting the cache while cached */
	bool cached;   /* in a cache slot */
	uint64_t used; /* cache tick of the last use, for eviction */
};

struct pack_io_file {
	struct pack_io io; /* first: the ops cast back from it */
	int dirfd;
	bool writable;
	pthread_mutex_t lock; /* guards the fields below and every pack_file's refs and cached */
	bool dir_dirty;	      /* a pack file was created since the directory was last synced */
	uint64_t tick;
	/* The pack appends go to (the pack store appends one at a time), its end, and how far its
	 * blocks are reserved; prealloc_off after a failed fallocate. */
	uint32_t append_id;
	uint64_t append_end;
	uint64_t prealloc_end;
	bool prealloc_off;
	struct pack_file *slots[PACK_IO_FILE_CACHE];
};

static struct pack_io_file *
file_io(struct pack_io *io)
{
	return (struct pack_io_file *)io;
}

static void
pack_file_name(uint32_t id, char name[PACK_IO_FILE_NAME_MAX])
{
	snprintf(name, PACK_IO_FILE_NAME_MAX, "pack-%08" PRIx32 ".cpk", id);
}

/* Parses a pack file name strictly. Returns true and sets *id for "pack-XXXXXXXX.cpk". */
static bool
pack_file_name_parse(const char *name, uint32_t *id)
{
	uint32_t v = 0;
	int i, d;

	if (strlen(name) != 17 || memcmp(name, "pack-", 5) != 0 || strcmp(name + 13, ".cpk") != 0)
		return false;
	for (i = 5; i < 13; i++) {
		if (name[i] >= '0' && name[i] <= '9')
			d = name[i] - '0';
		else if (name[i] >= 'a' && name[i] <= 'f')
			d = name[i] - 'a' + 10;
		else
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*id = v;
	return v != 0;
}

/* Drops one reference; the last closes the descriptor. Lock held. */
static void
pack_file_unref_locked(struct pack_file *f)
{
	if (--f->refs > 0)
		return;
	close(f->fd);
	free(f);
}

static void
pack_file_put(struct pack_io_file *fio, struct pack_file *f)
{
	pthread_mutex_lock(&fio->lock);
	pack_file_unref_locked(f);
	pthread_mutex_unlock(&fio->lock);
}

/* Takes f out of the cache (its holders keep it open until they are done). Lock held. */
static void
pack_file_uncache_locked(struct pack_io_file *fio, unsigned slot)
{
	struct pack_file *f = fio->slots[slot];

	fio->slots[slot] = NULL;
	f->cached = false;
	pack_file_unref_locked(f);
}

/* Puts f in a free slot, or in place of the least recently used idle entry. When every slot is
 * busy, f stays uncached (its last holder closes it). Lock held. */
static void
pack_file_cache_locked(struct pack_io_file *fio, struct pack_file *f)
{
	unsigned i, victim = PACK_IO_FILE_CACHE;

	for (i = 0; i < PACK_IO_FILE_CACHE; i++) {
		if (!fio->slots[i]) {
			victim = i;
			break;
		}
		if (fio->slots[i]->refs == 1 && (victim == PACK_IO_FILE_CACHE ||
						 fio->slots[i]->used < fio->slots[victim]->used))
			victim = i;
	}
	if (victim == PACK_IO_FILE_CACHE)
		return;
	if (fio->slots[victim])
		pack_file_uncache_locked(fio, victim);
	fio->slots[victim] = f;
	f->cached = true;
	f->refs++;
}

/* Opens pack id (creating it when create is set), noting a creation for the next sync. */
static int
pack_file_open_fd(struct pack_io_file *fio, uint32_t id, bool create)
{
	char name[PACK_IO_FILE_NAME_MAX];
	int flags = O_CLOEXEC | (fio->writable ? O_RDWR : O_RDONLY), fd;

	pack_file_name(id, name);
	if (create) {
		fd = openat(fio->dirfd, name, flags | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			fio->dir_dirty = true;
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	fd = openat(fio->dirfd, name, flags);
	return fd >= 0 ? fd : -errno;
}

/* Returns pack id's open file in *out, holding a reference (release with pack_file_put). Opening
 * under the lock keeps a concurrent remove from racing with it. Returns 0 or -errno. */
static int
pack_file_get(struct pack_io_file *fio, uint32_t id, bool create, struct pack_file **out)
{
	struct pack_file *f;
	unsigned i;
	int fd;

	pthread_mutex_lock(&fio->lock);
	fio->tick++;
	for (i = 0; i < PACK_IO_FILE_CACHE; i++) {
		f = fio->slots[i];
		if (f && f->id == id)
			goto out_found;
	}
	fd = pack_file_open_fd(fio, id, create);
	if (fd < 0) {
		pthread_mutex_unlock(&fio->lock);
		return fd;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	f->id = id;
	f->fd = fd;
	pack_file_cache_locked(fio, f);
out_found:
	f->refs++;
	f->used = fio->tick;
	pthread_mutex_unlock(&fio->lock);
	*out = f;
	return 0;
}

/* Cuts off the partial record a failed append left, so the pack ends at offset again. Best
 * effort: after a failed append the pack store only reuses a pack that was empty. */
static void
pack_file_truncate_back(struct pack_file *f, uint64_t offset)
{
	if (ftruncate(f->fd, (off_t)offset) != 0)
		log_warn("pack %" PRIu32 ": cannot cut a failed append at %" PRIu64 ": %s", f->id,
			 offset, strerror(errno));
}

/* Gives back the unused reservation of the pack appends were going to (its size is unchanged). */
static void
file_prealloc_release(struct pack_io_file *fio)
{
	struct pack_file *f;

	if (fio->append_id == 0 || fio->prealloc_end <= fio->append_end ||
	    pack_file_get(fio, fio->append_id, false, &f) < 0)
		return;
	if (ftruncate(f->fd, (off_t)fio->append_end) != 0)
		log_warn("pack %" PRIu32 ": cannot give back its preallocated blocks: %s", f->id,
			 strerror(errno));
	pack_file_put(fio, f);
}

/* Reserves pack f's blocks up to at least end (the end of the append about to be written). */
static void
file_prealloc(struct pack_io_file *fio, struct pack_file *f, uint64_t end)
{
	uint64_t to;

	if (f->id != fio->append_id) {
		file_prealloc_release(fio);
		fio->append_id = f->id;
		fio->append_end = 0;
		fio->prealloc_end = 0;
		fio->prealloc_off = false;
	}
	if (fio->prealloc_off || end <= fio->prealloc_end)
		return;
	to = (end + PACK_IO_FILE_PREALLOC - 1) / PACK_IO_FILE_PREALLOC * PACK_IO_FILE_PREALLOC;
	if (fio->io.pack_max_bytes && to > fio->io.pack_max_bytes)
		to = end > fio->io.pack_max_bytes ? end : fio->io.pack_max_bytes;
	if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)fio->prealloc_end,
		      (off_t)(to - fio->prealloc_end)) == 0)
		fio->prealloc_end = to;
	else
		fio->prealloc_off = true;
}

static int
file_append(struct pack_io *io, uint32_t id, uint64_t offset, const void *p, size_t len)
{
	struct pack_io_file *fio = file_io(io);
	const uint8_t *src = p;
	struct pack_file *f;
	size_t done = 0;
	ssize_t n;
	int rc;

	if (!fio->writable)
		return -EROFS;
	rc = pack_file_get(fio, id, true, &f);
	if (rc < 0)
		return rc;
	file_prealloc(fio, f, offset + len);
	while (done < len) {
		n = pwrite(f->fd, src + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (rc < 0 && done > 0)
		pack_file_truncate_back(f, offset);
	if (rc == 0)
		fio->append_end = offset + len;
	pack_file_put(fio, f);
	return rc;
}

static int
file_read(struct pack_io *io, uint32_t id, uint64_t offset, void *p, size_t len)
{
	struct pack_io_file *fio = file_io(io);
	uint8_t *dst = p;
	struct pack_file *f;
	size_t done = 0;
	ssize_t n;
	int rc;

	if (offset > (uint64_t)INT64_MAX - len)
		return CAIRN_E_CORRUPT;
	rc = pack_file_get(fio, id, false, &f);
	if (rc < 0)
		return rc;
	while (done < len) {
		n = pread(f->fd, dst + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : CAIRN_E_CORRUPT;
			break;
		}
		done += (size_t)n;
	}
	pack_file_put(fio, f);
	return rc;
}

/* Makes the directory entries of newly created packs durable. */
static int
file_sync_dir(struct pack_io_file *fio)
{
	bool dirty;

	pthread_mutex_lock(&fio->lock);
	dirty = fio->dir_dirty;
	fio->dir_dirty = false;
	pthread_mutex_unlock(&fio->lock);
	if (!dirty || fsync(fio->dirfd) == 0)
		return 0;
	pthread_mutex_lock(&fio->lock);
	fio->dir_dirty = true;
	pthread_mutex_unlock(&fio->lock);
	return -errno;
}

static int
file_sync(struct pack_io *io, uint32_t id)
{
	struct pack_io_file *fio = file_io(io);
	struct pack_file *f;
	int rc;

	if (!fio->writable)
		return 0;
	rc = pack_file_get(fio, id, false, &f);
	if (rc == -ENOENT)
		return CAIRN_E_NOTFOUND;
	if (rc < 0)
		return rc;
	rc = fdatasync(f->fd) == 0 ? 0 : -errno;
	pack_file_put(fio, f);
	if (rc < 0)
		return rc;
	return file_sync_dir(fio);
}

static int
file_remove(struct pack_io *io, uint32_t id)
{
	struct pack_io_file *fio = file_io(io);
	char name[PACK_IO_FILE_NAME_MAX];
	unsigned i;
	int rc = 0;

	if (!fio->writable)
		return -EROFS;
	pack_file_name(id, name);
	pthread_mutex_lock(&fio->lock);
	if (unlinkat(fio->dirfd, name, 0) != 0)
		rc = errno == ENOENT ? CAIRN_E_NOTFOUND : -errno;
	for (i = 0; rc == 0 && i < PACK_IO_FILE_CACHE; i++) {
		if (fio->slots[i] && fio->slots[i]->id == id)
			pack_file_uncache_locked(fio, i);
	}
	pthread_mutex_unlock(&fio->lock);
	/* Removal is rare (garbage collection): make it durable right away. */
	if (rc == 0 && fsync(fio->dirfd) != 0)
		rc = -errno;
	return rc;
}

static int
file_last(struct pack_io *io, uint32_t *id, uint64_t *size)
{
	struct pack_io_file *fio = file_io(io);
	char name[PACK_IO_FILE_NAME_MAX];
	struct dirent *de;
	struct stat st;
	uint32_t best = 0, v;
	DIR *d;
	int fd;

	fd = openat(fio->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (pack_file_name_parse(de->d_name, &v) && v > best)
			best = v;
	}
	closedir(d);
	*id = best;
	*size = 0;
	if (best == 0)
		return 0;
	pack_file_name(best, name);
	if (fstatat(fio->dirfd, name, &st, 0) != 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int
file_size(struct pack_io *io, uint32_t id, uint64_t *size)
{
	struct pack_io_file *fio = file_io(io);
	char name[PACK_IO_FILE_NAME_MAX];
	struct stat st;

	pack_file_name(id, name);
	if (fstatat(fio->dirfd, name, &st, 0) != 0)
		return errno == ENOENT ? CAIRN_E_NOTFOUND : -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int
file_list(struct pack_io *io, int (*fn)(uint32_t id, void *arg), void *arg)
{
	struct pack_io_file *fio = file_io(io);
	struct dirent *de;
	uint32_t v;
	DIR *d;
	int fd, rc = 0;

	fd = openat(fio->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (pack_file_name_parse(de->d_name, &v))
			rc = fn(v, arg);
	}
	closedir(d);
	return rc;
}

static void
file_close(struct pack_io *io)
{
	struct pack_io_file *fio = file_io(io);
	unsigned i;

	if (fio->writable)
		file_prealloc_release(fio);
	for (i = 0; i < PACK_IO_FILE_CACHE; i++) {
		if (fio->slots[i])
			pack_file_uncache_locked(fio, i);
	}
	pthread_mutex_destroy(&fio->lock);
	close(fio->dirfd);
	free(fio);
}

static const struct pack_io_ops pack_io_file_ops = {
    .append = file_append,
    .read = file_read,
    .sync = file_sync,
    .remove = file_remove,
    .last = file_last,
    .close = file_close,
    .size = file_size,
    .list = file_list,
};

/* Makes a newly created directory's entry in its parent durable. */
static int
dir_sync_parent(int dirfd)
{
	int fd = openat(dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
pack_io_file_open(const char *dir, bool writable, struct pack_io **out)
{
	struct pack_io_file *fio;
	bool created = false;
	int dirfd, rc;

	if (writable) {
		created = mkdir(dir, 0700) == 0;
		if (!created && errno != EEXIST)
			return -errno;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	rc = created ? dir_sync_parent(dirfd) : 0;
	if (rc < 0) {
		close(dirfd);
		return rc;
	}
	fio = calloc(1, sizeof(*fio));
	if (!fio)
		abort();
	fio->io.ops = &pack_io_file_ops;
	fio->dirfd = dirfd;
	fio->writable = writable;
	if (pthread_mutex_init(&fio->lock, NULL) != 0)
		abort();
	*out = &fio->io;
	return 0;
}
