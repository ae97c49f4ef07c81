/*
 * main.c — `cairn`, the admin tool: command dispatch and usage.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cli.h"

static const char usage_text[] =
    "usage: cairn COMMAND [ARGS]\n"
    "\n"
    "  import DATADIR BUCKET FILE...    store files as objects (key = the path as given);\n"
    "                                   creates the data dir and the bucket when missing\n"
    "  cat DATADIR BUCKET KEY           write an object to stdout\n"
    "  stats DATADIR [--json]           objects, bytes, dedup and compression ratios\n"
    "  fsck DATADIR [--repair]          check every chunk, object and refcount; reports\n"
    "                                   damaged objects by bucket/key. --repair (cairnd\n"
    "                                   stopped) deletes objects that use unreadable chunks\n"
    "                                   and fixes refcounts and pack accounting\n"
    "  user add DATADIR NAME            create a user; prints its access key and secret once\n"
    "  user list DATADIR                list users and their access keys\n"
    "  user remove DATADIR NAME         remove a user\n"
    "  uploads list DATADIR [BUCKET]    multipart uploads in progress: id, bucket, key,\n"
    "                                   initiated, parts, bytes (tab-separated)\n"
    "  uploads abort DATADIR UPLOAD_ID  abort an upload, releasing what it holds (works\n"
    "                                   beside a running cairnd)\n"
    "  gc DATADIR [--threshold PCT] [--json]\n"
    "                                   compact packs whose dead share reaches PCT (50);\n"
    "                                   needs cairnd stopped (online: POST /_cairn/gc)\n"
    "  demo                             import two similar files into a temp dir, show dedup\n"
    "  --help                           this text\n"
    "\n"
    "Exit status: 0 ok, 1 failed, 2 bad arguments, missing data dir or data dir in use.\n";

void
cli_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cairn: %s\n", line);
}

/* cli_store_open(), but a locked data dir is returned as CLI_LOCKED without a message. */
static int
cli_store_open_quiet(const char *dir, enum store_mode mode, struct store **out)
{
	struct store_config cfg;
	int rc;

	store_config_default(&cfg);
	cfg.data_dir = dir;
	cfg.mode = mode;
	rc = store_open(&cfg, out);
	if (rc == 0)
		return CLI_OK;
	if (rc == CAIRN_E_LOCKED)
		return CLI_LOCKED;
	if (rc == CAIRN_E_NOTFOUND || rc == -ENOENT || rc == -ENOTDIR) {
		cli_err("%s: no such data dir", dir);
		return CLI_USAGE;
	}
	cli_err("%s: cannot open: %s", dir, cairn_strerror(rc));
	return CLI_FAIL;
}

int
cli_store_open(const char *dir, enum store_mode mode, struct store **out)
{
	int status = cli_store_open_quiet(dir, mode, out);

	if (status == CLI_LOCKED) {
		cli_err("%s is in use by another process (lock held)", dir);
		return CLI_USAGE;
	}
	return status;
}

int
cli_store_open_existing(const char *dir, const char *what, struct store **out)
{
	char index_dir[4096];
	struct stat sb;
	int n, status;

	n = snprintf(index_dir, sizeof(index_dir), "%s/index", dir);
	if (n < 0 || (size_t)n >= sizeof(index_dir) || stat(index_dir, &sb) < 0 ||
	    !S_ISDIR(sb.st_mode)) {
		cli_err("%s: no such data dir", dir);
		return CLI_USAGE;
	}
	status = cli_store_open_quiet(dir, STORE_MODE_WRITE, out);
	if (status == CLI_LOCKED) {
		cli_err("%s is in use by another process (lock held): %s needs the data dir to "
			"itself, stop cairnd first",
			dir, what);
		return CLI_USAGE;
	}
	return status;
}

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
    {"import", cli_import}, {"cat", cli_cat},	{"stats", cli_stats},	  {"fsck", cli_fsck},
    {"user", cli_user},	    {"demo", cli_demo}, {"uploads", cli_uploads}, {"gc", cli_gc},
};

int
main(int argc, char **argv)
{
	size_t i;

	log_set_level(LOG_LEVEL_WARN);
	if (argc < 2) {
		cli_err("usage: cairn COMMAND [ARGS] (cairn --help lists the commands)");
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return CLI_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 2, argv + 2);
	cli_err("unknown command '%s' (see cairn --help)", argv[1]);
	return CLI_USAGE;
}
