/*
 * fileio.c — whole-buffer reads and writes over pread/pwrite/write.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "cairn/fileio.h"

int
fileio_pwrite_all(int fd, const void *p, size_t len, off_t off)
{
	const uint8_t *q = p;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, q, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		q += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int
fileio_pread_all(int fd, void *p, size_t len, off_t off)
{
	uint8_t *q = p;
	ssize_t n;

	while (len > 0) {
		n = pread(fd, q, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		q += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int
fileio_write_all(int fd, const void *p, size_t len)
{
	const uint8_t *q = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, q, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		q += n;
		len -= (size_t)n;
	}
	return 0;
}
