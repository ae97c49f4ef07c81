/*
 * md5memo.h — a bounded, thread-safe memory of MD5 state transitions over chunks, so that a put
 * of bytes the store has hashed before can skip their MD5.
 *
 * MD5 is one serial chain over the whole body: on a put of stored data it is the costliest work
 * left (docs/performance.md, section 10). But its compression function depends only on the state
 * before a block and the block's bytes, not on where the block sits in the body. So "from MD5
 * state S, with partial block P pending, hashing the chunk whose id is C leaves state S'" is a
 * fact that holds for any body that reaches S with P and goes on with C; the id (SHA-256 of the
 * chunk) stands for the chunk's bytes. A put that computed S' records the fact; a later put
 * that reaches the same (S, P) and cuts a chunk with the same id takes S' from here instead of
 * hashing the chunk. A body identical to one put before (a re-upload, the same file under
 * another key, an unchanged part of a multipart upload, whose MD5 starts afresh) thus follows
 * the chain from the first chunk to the last; after the first chunk it has not seen, a body's
 * state is new and no fact recorded before can match it again.
 *
 * A transition is kept under a 16-byte key: the first half of the SHA-256 of (S, P, C). The
 * table is fixed in size (set at creation), in buckets of eight entries kept in order of last
 * use, the least recently used dropped when a ninth arrives; it lives in memory, and a file
 * (md5memo_save, md5memo_load) carries it from one process to the next. Every
 * function may be called from any thread.
 */
#ifndef CAIRN_MD5MEMO_H
#define CAIRN_MD5MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/md5sha.h"

#define MD5MEMO_KEY_LEN 16
/* Bytes of one entry: what a memory of n bytes holds is about n / MD5MEMO_ENTRY_BYTES facts. */
#define MD5MEMO_ENTRY_BYTES 32

struct md5memo;

/* Creates a memory of at most bytes bytes (rounded down to a power-of-two number of buckets of
 * eight entries). Its pages are taken as entries arrive (at random places: nearly all after a few
 * entries per page). Returns NULL when bytes is below one bucket (256) or memory is short. Free
 * with md5memo_free(). */
struct md5memo *md5memo_new(size_t bytes);
/* Frees m; NULL is a no-op. No call on m may be running. */
void md5memo_free(struct md5memo *m);

/* The key of hashing the chunk with id chunk_id from state s (its whole-block hash; s->nbytes
 * is not part of it) with partial bytes [partial, partial + plen) pending, plen < 64. */
void md5memo_key(const struct md5_state *s, const uint8_t *partial, size_t plen,
		 const uint8_t chunk_id[32], uint8_t key[MD5MEMO_KEY_LEN]);
/* Looks up key: true and the state after the chunk's whole blocks in h, or false. */
bool md5memo_get(struct md5memo *m, const uint8_t key[MD5MEMO_KEY_LEN], uint32_t h[4]);
/* Records that key leads to state h (replacing what key held). key is never all zero (the mark
 * of an empty entry; md5memo_key never makes one). */
void md5memo_put(struct md5memo *m, const uint8_t key[MD5MEMO_KEY_LEN], const uint32_t h[4]);

/* Writes every fact to fd (a new, empty file, written from offset 0) with a checksum, so that a
 * later process can start with them: facts do not age. Calls on m may run meanwhile (each bucket
 * is copied under its lock). Returns 0 or -errno. */
int md5memo_save(struct md5memo *m, int fd);
/* Adds the facts of a file md5memo_save wrote (by any process, with any table size) to m, the
 * older ones of a bucket first, so that a table of the same size comes back as it was. The
 * whole file is checked before anything is added: a torn, truncated or altered file, or one of
 * another format, adds nothing and returns CAIRN_E_CORRUPT (a file that changes while it is
 * read empties m). Reads in pieces (bounded memory); meant for a memory nobody uses yet.
 * Returns 0, CAIRN_E_CORRUPT or -errno; *nfacts (may be NULL) gets the facts added. */
int md5memo_load(struct md5memo *m, int fd, uint64_t *nfacts);

/* Lookups answered and missed, and facts recorded, since creation (for stats and tests). */
struct md5memo_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t puts;
};
void md5memo_stats(struct md5memo *m, struct md5memo_stats *out);

#endif
