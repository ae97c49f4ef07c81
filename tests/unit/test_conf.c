#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cairn/conf.h"
#include "cairn/err.h"

static void
test_defaults(void **state)
{
	struct conf c;

	(void)state;
	conf_default(&c);
	assert_string_equal(c.data_dir, "./cairn-data");
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 9000);
	assert_string_equal(c.region, "us-east-1");
	assert_string_equal(c.domain, "");
	assert_int_equal(c.max_connections, 4096);
	assert_int_equal(c.connection_timeout_s, 60);
}

static void
test_set(void **state)
{
	struct conf c;

	(void)state;
	conf_default(&c);
	assert_int_equal(conf_set(&c, "listen", "0.0.0.0:8080"), 0);
	assert_string_equal(c.listen_host, "0.0.0.0");
	assert_int_equal(c.listen_port, 8080);
	assert_int_equal(conf_set(&c, "listen", "[::1]:9001"), 0);
	assert_string_equal(c.listen_host, "::1");
	assert_int_equal(c.listen_port, 9001);
	assert_int_equal(conf_set(&c, "listen", ":9002"), 0);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(conf_set(&c, "listen", "host:0"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "listen", "host:65536"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "listen", "host"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "listen", "::1:80"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "listen", "h:12x"), CAIRN_E_INVAL);
	assert_int_equal(c.listen_port, 9002);

	assert_int_equal(conf_set(&c, "max-connections", "10"), 0);
	assert_int_equal(c.max_connections, 10);
	assert_int_equal(conf_set(&c, "max_connections", "0"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "max_connections", "-5"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "max_connections", ""), CAIRN_E_INVAL);
	assert_int_equal(c.max_connections, 10);
	assert_int_equal(conf_set(&c, "region", "eu-west-1"), 0);
	assert_string_equal(c.region, "eu-west-1");
	assert_int_equal(conf_set(&c, "region", "EU"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "region", ""), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "domain", "s3.example.com"), 0);
	assert_int_equal(conf_set(&c, "domain", "a/b"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "log_level", "debug"), 0);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(conf_set(&c, "log_level", "loud"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "zstd_level", "-1"), 0);
	assert_int_equal(conf_set(&c, "zstd_level", "20"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "max_object_size", "1048576"), 0);
	assert_int_equal(c.max_object_size, 1048576);
	assert_int_equal(conf_set(&c, "nope", "1"), CAIRN_E_NOTFOUND);
	assert_true(conf_is_key("shutdown-timeout"));
	assert_false(conf_is_key("shutdown"));
}

static void
test_file(void **state)
{
	char path[] = "/tmp/test_conf_XXXXXX";
	const char *text = "; comment\ndata = /tmp/x\n[other]\nunknown = 1\n[cairnd]\n"
			   "listen = 127.0.0.1:9100\nregion = eu-central-1\n";
	char err[256] = "";
	struct conf c;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	conf_default(&c);
	assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.data_dir, "/tmp/x");
	assert_int_equal(c.listen_port, 9100);
	assert_string_equal(c.region, "eu-central-1");

	f = fopen(path, "w");
	fputs("data = /a\nbogus = 2\n", f);
	fclose(f);
	assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), CAIRN_E_INVAL);
	assert_non_null(strstr(err, "bogus"));
	assert_non_null(strstr(err, "line 2"));
	unlink(path);
	assert_true(conf_load_file(&c, path, err, sizeof(err)) < 0);
}

static const char *
fake_env(const char *name)
{
	if (strcmp(name, "CAIRN_LISTEN") == 0)
		return "127.0.0.1:7000";
	if (strcmp(name, "CAIRN_DATA") == 0)
		return "/srv/cairn";
	if (strcmp(name, "CAIRN_CONNECTION_TIMEOUT") == 0)
		return "5";
	return NULL;
}

static const char *
bad_env(const char *name)
{
	return strcmp(name, "CAIRN_MAX_CONNECTIONS") == 0 ? "lots" : NULL;
}

static void
test_env(void **state)
{
	char err[256] = "";
	struct conf c;

	(void)state;
	conf_default(&c);
	assert_int_equal(conf_load_env(&c, fake_env, err, sizeof(err)), 0);
	assert_int_equal(c.listen_port, 7000);
	assert_string_equal(c.data_dir, "/srv/cairn");
	assert_int_equal(c.connection_timeout_s, 5);
	assert_int_equal(conf_load_env(&c, bad_env, err, sizeof(err)), CAIRN_E_INVAL);
	assert_non_null(strstr(err, "CAIRN_MAX_CONNECTIONS"));
}

/* The hostile-client limits (docs/limits.md) and the --user switch. */
static void
test_limits_and_user(void **state)
{
	struct conf c;

	(void)state;
	conf_default(&c);
	assert_int_equal(c.header_timeout_s, 30);
	assert_int_equal(c.body_min_rate, 1024);
	assert_int_equal(c.body_rate_window_s, 30);
	assert_int_equal(c.send_min_rate, 1024);
	assert_int_equal(c.send_rate_window_s, 60);
	assert_string_equal(c.user, "");
	assert_int_equal(conf_set(&c, "header-timeout", "0"), 0);
	assert_int_equal(c.header_timeout_s, 0);
	assert_int_equal(conf_set(&c, "header_timeout", "86401"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "body_min_rate", "0"), 0);
	assert_int_equal(c.body_min_rate, 0);
	assert_int_equal(conf_set(&c, "body_rate_window", "0"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "body_rate_window", "5"), 0);
	assert_int_equal(c.body_rate_window_s, 5);
	assert_int_equal(conf_set(&c, "send-min-rate", "0"), 0);
	assert_int_equal(c.send_min_rate, 0);
	assert_int_equal(conf_set(&c, "send_min_rate", "1K"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "send-rate-window", "0"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "send_rate_window", "3600"), 0);
	assert_int_equal(c.send_rate_window_s, 3600);
	assert_int_equal(conf_set(&c, "user", "cairn_svc-1.x"), 0);
	assert_string_equal(c.user, "cairn_svc-1.x");
	assert_int_equal(conf_set(&c, "user", "-root"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "user", "a b"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "user", "a/b"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "user",
				  "u234567890123456789012345678901234567890123456789"
				  "0123456789012345"),
			 CAIRN_E_INVAL);
	assert_string_equal(c.user, "cairn_svc-1.x");
	assert_int_equal(conf_set(&c, "user", ""), 0);
	assert_string_equal(c.user, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_limits_and_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
