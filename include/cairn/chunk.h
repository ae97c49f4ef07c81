/*
 * chunk.h — the identity and location of a stored chunk, shared by pack, index and store.
 *
 * A chunk is addressed by the SHA-256 of its raw (uncompressed) bytes. Chunk ids are 32 bytes:
 * copy them, never share pointers to them between threads.
 */
#ifndef CAIRN_CHUNK_H
#define CAIRN_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNK_ID_LEN 32

struct chunk_id {
	uint8_t b[CHUNK_ID_LEN];
};

/* Where a chunk's record lives. */
struct chunk_loc {
	uint32_t pack_id;    /* pack file number */
	uint32_t record_len; /* header + payload + checksum, bytes */
	uint64_t offset;     /* of the record's first byte within the pack */
	uint32_t raw_len;    /* uncompressed chunk bytes */
};

/* Computes the chunk id (SHA-256) of len raw bytes. */
void chunk_id_compute(const uint8_t *p, size_t len, struct chunk_id *out);

/* Writes the 64 hex digits of id and a NUL into out[65]. */
void chunk_id_hex(const struct chunk_id *id, char out[2 * CHUNK_ID_LEN + 1]);

/* True when a and b are the same id. */
bool chunk_id_equal(const struct chunk_id *a, const struct chunk_id *b);

#endif
