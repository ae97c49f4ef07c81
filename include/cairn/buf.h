/*
 * buf.h — borrowed byte slices and growable buffers with a hard maximum size.
 *
 * A struct buf owns its bytes; buf_fini() frees them. Every buf carries a maximum: appending past
 * it fails with CAIRN_E_TOOBIG instead of growing, so that nothing a client controls can make a
 * buffer grow without bound. The bytes are always followed by a NUL (not counted in len), so a buf
 * holding text can be used as a C string.
 */
#ifndef CAIRN_BUF_H
#define CAIRN_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Borrowed bytes: the owner keeps them alive while the slice is used. */
struct slice {
	const uint8_t *p;
	size_t len;
};

struct buf {
	uint8_t *p;  /* owned; NULL until the first append */
	size_t len;  /* bytes in use */
	size_t cap;  /* bytes allocated (excluding the trailing NUL) */
	size_t max;  /* appends beyond this many bytes fail */
};

/* Prepares an empty buffer that may grow to max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Frees the bytes; the buf is empty afterwards and may be reused. */
void buf_fini(struct buf *b);

/* Empties the buffer, keeping its allocation. */
void buf_reset(struct buf *b);

/* Appends len bytes. Returns 0, or CAIRN_E_TOOBIG when len would pass the maximum (nothing is
 * appended then). Aborts if memory cannot be had. */
int buf_append(struct buf *b, const void *p, size_t len);

/* Appends a NUL-terminated string (without its NUL). Same returns as buf_append(). */
int buf_append_str(struct buf *b, const char *s);

/* Appends printf-formatted text. Same returns as buf_append(). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes room for at least extra more bytes. Same returns as buf_append(). */
int buf_reserve(struct buf *b, size_t extra);

/* Returns the buffer's bytes as a slice (valid until the next change to b). */
struct slice buf_slice(const struct buf *b);

#endif
