#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cairn/fileio.h"

#include "test_data.h"

/* A file written in pieces at offsets reads back whole and in pieces; a read past its end is
 * -EIO, not a short success. */
static void
test_pwrite_pread(void **state)
{
	char path[] = "/tmp/cairn-test-fileio-XXXXXX";
	size_t len = 3 << 20;
	uint8_t *data = malloc(len), *back = malloc(len);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_non_null(data);
	assert_non_null(back);
	test_fill(data, len, 1);
	assert_int_equal(fileio_pwrite_all(fd, data + 1000, len - 1000, 1000), 0);
	assert_int_equal(fileio_pwrite_all(fd, data, 1000, 0), 0);
	assert_int_equal(fileio_pread_all(fd, back, len, 0), 0);
	assert_memory_equal(back, data, len);
	assert_int_equal(fileio_pread_all(fd, back, 77, 12345), 0);
	assert_memory_equal(back, data + 12345, 77);
	assert_int_equal(fileio_pread_all(fd, back, 2, (off_t)len - 1), -EIO);
	assert_int_equal(fileio_pwrite_all(-1, data, 1, 0), -EBADF);
	close(fd);
	free(data);
	free(back);
}

/* A pipe takes a write larger than its buffer whole while a reader drains it. */
static void
test_write_all_pipe(void **state)
{
	size_t len = 1 << 20, got = 0;
	uint8_t *data = malloc(len), *back = malloc(len);
	int p[2], status;
	pid_t pid;

	(void)state;
	assert_non_null(data);
	assert_non_null(back);
	test_fill(data, len, 2);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(fileio_write_all(p[1], data, len) == 0 ? 0 : 1);
	}
	close(p[1]);
	while (got < len) {
		ssize_t n = read(p[0], back + got, len - got);

		assert_true(n > 0);
		got += (size_t)n;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_memory_equal(back, data, len);
	free(data);
	free(back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pwrite_pread),
	    cmocka_unit_test(test_write_all_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
