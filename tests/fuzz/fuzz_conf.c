/*
 * fuzz_conf.c — the cairnd config file parser (conf_load_file over inih), conf_set() and
 * conf_parse_listen().
 *
 * Input: INI text. conf.h only reads files, so the text goes into a memfd and is loaded through
 * /proc/self/fd/N (no file left behind, nothing shared between runs). Every "name=value" line is
 * also applied alone with conf_set() to a default struct conf, and every line is tried as a
 * listen address. Invariants: the documented return codes; a failed load explains itself in err;
 * conf_set() leaves c unchanged when it fails and answers NOTFOUND exactly for non-keys; a parsed
 * listen address has a port in 1..65535 and a host of at most CONF_HOST_MAX bytes.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#include "cairn/conf.h"
#include "cairn/err.h"

static void
fuzz_load(const uint8_t *data, size_t size)
{
	char path[64], err[256];
	struct conf c;
	int fd, rc;

	fd = memfd_create("fuzz_conf", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	conf_default(&c);
	err[0] = 0;
	rc = conf_load_file(&c, path, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc < 0)
		FUZZ_CHECK(err[0] != 0 && strnlen(err, sizeof(err)) < sizeof(err));
	else
		FUZZ_CHECK(c.listen_port >= 1 &&
			   strnlen(c.listen_host, sizeof(c.listen_host)) <= CONF_HOST_MAX);
	close(fd);
}

static void
fuzz_set(const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	struct conf c, before;
	char *name, *value;
	int rc;

	if (!eq)
		return;
	name = fuzz_strdup(line, (size_t)(eq - line));
	value = fuzz_strdup(eq + 1, len - (size_t)(eq - line) - 1);
	conf_default(&c);
	memcpy(&before, &c, sizeof(c)); /* padding too: compared with memcmp */
	rc = conf_set(&c, name, value);
	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_NOTFOUND || rc == CAIRN_E_INVAL);
	FUZZ_CHECK((rc == CAIRN_E_NOTFOUND) == !conf_is_key(name));
	if (rc < 0)
		FUZZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	free(value);
	free(name);
}

static void
fuzz_listen(const char *line, size_t len)
{
	char *s = fuzz_strdup(line, len), host[CONF_HOST_MAX + 1];
	uint16_t port = 0;
	int rc = conf_parse_listen(s, host, &port);

	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc == 0)
		FUZZ_CHECK(port >= 1 && strnlen(host, sizeof(host)) <= CONF_HOST_MAX);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const char *line;
	size_t len;

	if (size > 64 * 1024)
		return 0;
	fuzz_load(data, size);
	while (fuzz_line(&in, &line, &len)) {
		fuzz_set(line, len);
		fuzz_listen(line, len);
	}
	return 0;
}
