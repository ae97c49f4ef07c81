/*
 * pack.h — chunk records and the append-only pack store.
 *
 * Record format (all integers little-endian), PACK_HEADER_SIZE + stored_len + 8 bytes:
 *   u32 magic "CRC1"  u8 version (1)  u8 flags (bit 0: payload is zstd)  u16 reserved (0)
 *   u32 raw_len       u32 stored_len  u8 sha256[32] (the chunk id, of the raw bytes)
 *   payload[stored_len]
 *   u64 XXH3-64 of header + payload
 * A record is self-describing, so a pack can be scanned from the start without the index.
 *
 * Encoding (compression, framing) runs in the writer's own thread with its own encoder; only the
 * append itself takes the pack store's lock. Reading a record always verifies its checksum:
 * corrupt bytes come back as CAIRN_E_CORRUPT, never as data.
 */
#ifndef CAIRN_PACK_H
#define CAIRN_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/chunk.h"
#include "cairn/pack_io.h"

#define PACK_RECORD_MAGIC 0x31435243u /* "CRC1" read as little-endian u32 */
#define PACK_RECORD_VERSION 1
#define PACK_HEADER_SIZE 48
#define PACK_TRAILER_SIZE 8
#define PACK_FLAG_ZSTD 1u
#define PACK_DEFAULT_MAX_BYTES (256ull << 20)

/* What a record header says (filled by pack_record_check). */
struct pack_record_info {
	struct chunk_id id;
	uint32_t flags;
	uint32_t raw_len;
	uint32_t stored_len;
	uint32_t record_len;
};

/* Per-writer compression state. Not thread-safe: one per concurrent writer. */
struct pack_encoder;

/* Creates an encoder compressing at zstd level (0 stores everything raw). Aborts on ENOMEM. */
struct pack_encoder *pack_encoder_new(int level);
void pack_encoder_free(struct pack_encoder *enc);

/* Encodes raw[len] with id into a complete record, replacing out's contents. The payload is
 * stored raw when compression does not save a worthwhile share, and the encoder stops trying to
 * compress for a while after a run of incompressible chunks (so random data does not pay the full
 * compression cost on every chunk). Returns 0 or CAIRN_E_TOOBIG (len above CHUNKER_MAX_SIZE_CEIL,
 * or out's maximum below PACK_HEADER_SIZE + len + PACK_TRAILER_SIZE). */
int pack_record_encode(struct pack_encoder *enc, const struct chunk_id *id, const uint8_t *raw,
		       size_t len, struct buf *out);

/* What an encoder has done so far (for benchmarks and tests). */
struct pack_encoder_stats {
	uint64_t chunks;     /* records encoded */
	uint64_t compressed; /* stored zstd-compressed */
	uint64_t probes;     /* cheap sample probes run in place of a full compression attempt */
	uint64_t skipped;    /* stored raw without a full compression attempt */
};

/* Copies enc's counters into out. */
void pack_encoder_get_stats(const struct pack_encoder *enc, struct pack_encoder_stats *out);

/* Turns the backoff for incompressible data on (the default) or off (every chunk then gets a full
 * compression attempt; for benchmarks and tests). */
void pack_encoder_set_adaptive(struct pack_encoder *enc, bool on);

/* Checks a complete record: magic, version, lengths (len must equal the record length) and the
 * XXH3 checksum. Fills info. Returns 0, CAIRN_E_CORRUPT or CAIRN_E_VERSION. */
int pack_record_check(const uint8_t *rec, size_t len, struct pack_record_info *info);

/* Checks rec and writes its raw bytes into out (reset first; grows to raw_len). When verify_id is
 * set, also recomputes the SHA-256 of the raw bytes and compares it with the id (used for records
 * received from elsewhere). Returns 0, CAIRN_E_CORRUPT, CAIRN_E_VERSION or CAIRN_E_TOOBIG. */
int pack_record_decode(const uint8_t *rec, size_t len, bool verify_id, struct buf *out);

struct packstore;

/* Opens a pack store over io (ownership of io passes to the store, even on failure). When
 * writable, appends go to a new pack numbered one past the highest existing one, so a torn tail
 * left in an older pack by a crash is never appended to. pack_max_bytes 0 means
 * PACK_DEFAULT_MAX_BYTES. Returns 0 or -errno. */
int packstore_open(struct pack_io *io, uint64_t pack_max_bytes, bool writable,
		   struct packstore **out);

/* Closes the store (syncing nothing: callers sync what they need durable). NULL is a no-op. */
void packstore_close(struct packstore *ps);

/* Appends one complete record (thread-safe), rolling over to a new pack first when the current
 * one would pass pack_max_bytes. Fills loc. Returns 0, CAIRN_E_READONLY, CAIRN_E_INVAL (len is
 * no possible record length), or -errno (also the sticky error of a failed sync). */
int packstore_append(struct packstore *ps, const uint8_t *rec, size_t len, struct chunk_loc *loc);

/* Makes every record appended (by any thread) before the call durable. Concurrent callers share
 * one fdatasync: a caller whose appends are covered by a sync already under way waits for it
 * instead of issuing its own. Returns 0 or -errno. A failed fdatasync is sticky: every later
 * sync (that has undurable appends to cover) and append returns the same error. */
int packstore_sync(struct packstore *ps);

/* Reads the record at loc into rec (replacing its contents) and checks it (pack_record_check).
 * Returns 0, CAIRN_E_CORRUPT, CAIRN_E_VERSION, CAIRN_E_TOOBIG or -errno. */
int packstore_read(struct packstore *ps, const struct chunk_loc *loc, struct buf *rec);

/* Removes a whole pack (never the one being appended to). Returns 0, CAIRN_E_INVAL (pack 0, or
 * not below the current pack), CAIRN_E_NOTFOUND, CAIRN_E_READONLY or -errno. */
int packstore_remove(struct packstore *ps, uint32_t pack_id);

/* ---- for garbage collection and recovery (src/store/gc.c) ---- */

/* The id of the pack appends go to now (it may not exist yet as a file). */
uint32_t packstore_current(struct packstore *ps);

/* Makes the next append start a new pack when the current one holds anything, so that the
 * current pack can be compacted. Sets *sealed to the id of the pack sealed (0 when the current
 * pack was empty). Returns 0, CAIRN_E_READONLY or -EOVERFLOW. */
int packstore_seal(struct packstore *ps, uint32_t *sealed);

/* Reports the size in bytes of pack_id. Returns 0, CAIRN_E_NOTFOUND, -ENOTSUP (backend without
 * sizes) or -errno. */
int packstore_pack_size(struct packstore *ps, uint32_t pack_id, uint64_t *size);

/* Calls fn for every pack present, in no particular order; fn returns non-zero to stop (that
 * value is returned). Returns 0, -ENOTSUP (backend without listing) or -errno. */
int packstore_list(struct packstore *ps, int (*fn)(uint32_t pack_id, void *arg), void *arg);

/* The sticky error of a failed sync (0 when there is none). */
int packstore_error(struct packstore *ps);

/*
 * Clears the sticky error of a failed sync so that writing can go on (a failed fdatasync on a
 * full disk must not fail every later write until a restart). Records appended before the
 * failure that no successful sync covered are of unknown durability: the caller guarantees that
 * nothing will ever reference them (no put that appended or pinned one is still in progress).
 * They are abandoned (dead bytes), and appends continue in a new pack. Returns the error that
 * was cleared (0 when there was none).
 */
int packstore_recover(struct packstore *ps);

/* Calls fn for each record of pack_id in order (for fsck and recovery). Stops at the first
 * record that fails its check, reporting the offset where valid records end through *valid_end
 * (may be NULL). fn returns 0 to go on, non-zero to stop (that value is returned; *valid_end is
 * then the end of the record fn stopped at). Returns 0 when the pack ends cleanly at *valid_end,
 * CAIRN_E_CORRUPT when bytes that are no valid record follow it (a torn tail or damage),
 * CAIRN_E_VERSION at a record of a newer version, or -errno (-ENOENT: no such pack). */
int packstore_scan(struct packstore *ps, uint32_t pack_id,
		   int (*fn)(const struct pack_record_info *info, uint64_t offset, void *arg),
		   void *arg, uint64_t *valid_end);

#endif
