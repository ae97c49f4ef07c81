/*
 * pack_io.h — the seam between the pack store and wherever pack bytes live.
 *
 * Today packs are files in <datadir>/packs/ (pack_io_file_open). Later a pack may live in Ceph
 * RADOS or an S3 bucket: such a backend implements these five operations and nothing above this
 * seam changes. Packs are numbered (uint32) and append-only: bytes once written at an offset are
 * never rewritten; a pack is only ever removed whole.
 *
 * Implementations must allow append/sync on one pack concurrently with read on any pack from
 * other threads.
 */
#ifndef CAIRN_PACK_IO_H
#define CAIRN_PACK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pack_io;

struct pack_io_ops {
	/* Writes len bytes at offset of pack id (creating the pack if it does not exist). offset
	 * is always the pack's current end. Returns 0 or -errno (-ENOSPC when the disk is full). */
	int (*append)(struct pack_io *io, uint32_t id, uint64_t offset, const void *p, size_t len);
	/* Reads exactly len bytes at offset. Returns 0, -EIO/-errno, or CAIRN_E_CORRUPT when the
	 * pack is shorter than offset+len. */
	int (*read)(struct pack_io *io, uint32_t id, uint64_t offset, void *p, size_t len);
	/* Makes every byte appended to pack id so far durable. Returns 0 or -errno. */
	int (*sync)(struct pack_io *io, uint32_t id);
	/* Removes pack id. Returns 0, CAIRN_E_NOTFOUND, or -errno. */
	int (*remove)(struct pack_io *io, uint32_t id);
	/* Reports the highest pack id present (0 when there is none) and its size in bytes. */
	int (*last)(struct pack_io *io, uint32_t *id, uint64_t *size);
	/* Releases the backend (closing cached descriptors). */
	void (*close)(struct pack_io *io);
	/* Optional (garbage collection; NULL when the backend lacks it). Reports the size in bytes
	 * of pack id. Returns 0, CAIRN_E_NOTFOUND or -errno. */
	int (*size)(struct pack_io *io, uint32_t id, uint64_t *size);
	/* Optional. Calls fn for every pack present (in no particular order); fn returns non-zero
	 * to stop (returned). Returns 0 or -errno. */
	int (*list)(struct pack_io *io, int (*fn)(uint32_t id, void *arg), void *arg);
};

struct pack_io {
	const struct pack_io_ops *ops;
	/* Set by the pack store that owns the backend: no pack grows past this many bytes (a
	 * backend may reserve space ahead of appends up to it); 0 while unknown. */
	uint64_t pack_max_bytes;
};

/* Opens the file backend rooted at dir (creating dir with mode 0700 when writable). The caller
 * owns the result and releases it with io->ops->close(io). Returns 0 or -errno. */
int pack_io_file_open(const char *dir, bool writable, struct pack_io **out);

#endif
