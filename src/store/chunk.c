#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cairn/chunk.h"
#include "cairn/hex.h"

void
chunk_id_compute(const uint8_t *p, size_t len, struct chunk_id *out)
{
	unsigned int n = 0;

	/* EVP_Digest picks the SHA-NI implementation on CPUs that have it. */
	if (!EVP_Digest(p, len, out->b, &n, EVP_sha256(), NULL) || n != CHUNK_ID_LEN)
		abort();
}

void
chunk_id_hex(const struct chunk_id *id, char out[2 * CHUNK_ID_LEN + 1])
{
	hex_encode(id->b, CHUNK_ID_LEN, out);
}

bool
chunk_id_equal(const struct chunk_id *a, const struct chunk_id *b)
{
	return memcmp(a->b, b->b, CHUNK_ID_LEN) == 0;
}
