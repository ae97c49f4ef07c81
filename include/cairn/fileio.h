/*
 * fileio.h — whole-buffer reads and writes on file descriptors: the loops over short transfers
 * and EINTR that every caller would otherwise repeat.
 */
#ifndef CAIRN_FILEIO_H
#define CAIRN_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes of p at offset off of fd. Returns 0 or -errno. */
int fileio_pwrite_all(int fd, const void *p, size_t len, off_t off);
/* Reads exactly len bytes at offset off of fd into p. Returns 0, -errno, or -EIO when the file
 * ends first. */
int fileio_pread_all(int fd, void *p, size_t len, off_t off);
/* Writes all len bytes of p to fd at its position (pipes, terminals). Returns 0 or -errno. */
int fileio_write_all(int fd, const void *p, size_t len);

#endif
