/*
 * cairnd — the S3 daemon: settings (conf.h), root credentials, the store, the S3 service and the
 * HTTP front end; then it waits for SIGTERM/SIGINT and shuts down gracefully.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "cairn/conf.h"
#include "cairn/err.h"
#include "cairn/gc.h"
#include "cairn/http.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/scrub.h"
#include "cairn/server.h"
#include "cairn/store.h"
#include "cairn/store_upload.h"

#define CAIRND_VERSION "0.1"
#define CAIRND_CREDS_FILE "root-credentials"
#define CAIRND_KEY_MAX 128
#define CAIRND_FD_RESERVE 256 /* descriptors kept for packs, the index, logs */

struct cairnd_creds {
	char access_key[CAIRND_KEY_MAX + 1];
	char secret_key[CAIRND_KEY_MAX + 1];
};

static void
cairnd_usage(FILE *f)
{
	fprintf(f,
		"usage: cairnd [--config FILE] [--data DIR] [--listen HOST:PORT] [--region NAME]\n"
		"              [--domain NAME] [--user NAME] [--KEY VALUE ...] [--help]\n"
		"              [--version]\n"
		"Every setting of config/cairnd.conf is also a flag (--max-connections 64) and an\n"
		"environment variable (CAIRN_MAX_CONNECTIONS). Precedence: flags > environment >\n"
		"config file > defaults. Root credentials: CAIRN_ROOT_ACCESS_KEY and\n"
		"CAIRN_ROOT_SECRET_KEY, else generated into <data>/" CAIRND_CREDS_FILE ".\n"
		"Started as root with --user NAME, cairnd creates the data dir for NAME and runs\n"
		"as NAME. Limits on what clients may send: docs/limits.md.\n");
}

/* Finds --config FILE (or --config=FILE) among the flags, else CAIRN_CONFIG. */
static const char *
cairnd_config_path(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return getenv("CAIRN_CONFIG");
}

/* Applies the flags to c. Returns 0, 1 when the program should exit successfully (--help,
 * --version), or -1 after printing an error. */
static int
cairnd_flags(struct conf *c, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		char name[64];
		const char *arg = argv[i], *eq, *value;
		size_t len;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			cairnd_usage(stdout);
			return 1;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("cairnd %s\n", CAIRND_VERSION);
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0)
			goto bad;
		arg += 2;
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		if (len >= sizeof(name))
			goto bad;
		memcpy(name, arg, len);
		name[len] = 0;
		if ((strcmp(name, "config") != 0 && !conf_is_key(name)) || (!eq && i + 1 >= argc))
			goto bad;
		value = eq ? eq + 1 : argv[++i];
		if (strcmp(name, "config") == 0)
			continue;
		if (conf_set(c, name, value) < 0) {
			fprintf(stderr, "cairnd: bad value for --%s: %s\n", name, value);
			return -1;
		}
	}
	return 0;
bad:
	fprintf(stderr, "cairnd: unknown or incomplete option '%s'\n", argv[i]);
	cairnd_usage(stderr);
	return -1;
}

/* Settings from defaults, file, environment and flags, in that order of increasing precedence. */
static int
cairnd_settings(struct conf *c, int argc, char **argv)
{
	const char *path = cairnd_config_path(argc, argv);
	char err[512];
	int rc;

	conf_default(c);
	/* Flags are applied once first only to fail fast and to honour --help before any file. */
	rc = cairnd_flags(c, argc, argv);
	if (rc != 0)
		return rc;
	conf_default(c);
	if (path && conf_load_file(c, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "cairnd: %s\n", err);
		return -1;
	}
	if (conf_load_env(c, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "cairnd: %s\n", err);
		return -1;
	}
	return cairnd_flags(c, argc, argv);
}

/* ---- root credentials ---- */

static void
cairnd_random_string(char *out, size_t len, const char *alphabet)
{
	size_t n = strlen(alphabet), i = 0;
	uint8_t b;

	while (i < len) {
		if (getrandom(&b, 1, 0) != 1)
			continue;
		/* Rejection sampling keeps every character equally likely. */
		if (b >= 256 - 256 % n)
			continue;
		out[i++] = alphabet[b % n];
	}
	out[len] = 0;
}

static int
cairnd_creds_ini(void *user, const char *section, const char *name, const char *value)
{
	struct cairnd_creds *cr = user;

	(void)section;
	if (strcmp(name, "access_key_id") == 0)
		snprintf(cr->access_key, sizeof(cr->access_key), "%s", value);
	else if (strcmp(name, "secret_access_key") == 0)
		snprintf(cr->secret_key, sizeof(cr->secret_key), "%s", value);
	return 1;
}

/* Writes the generated pair to path (mode 0600) through a temporary file and a rename. */
static int
cairnd_creds_write(const char *path, const struct cairnd_creds *cr)
{
	char tmp[CONF_PATH_MAX + 48];
	FILE *f;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* A stale temporary file would keep its old mode: start from a new one. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	fprintf(f,
		"; cairn root credentials, generated on first start. Keep this file secret.\n"
		"access_key_id = %s\nsecret_access_key = %s\n",
		cr->access_key, cr->secret_key);
	if (fflush(f) != 0 || fsync(fd) != 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Root credentials from the environment, else from <data>/root-credentials, generated there on
 * first start. */
static int
cairnd_root_creds(const struct conf *c, struct cairnd_creds *cr)
{
	const char *ak = getenv("CAIRN_ROOT_ACCESS_KEY"), *sk = getenv("CAIRN_ROOT_SECRET_KEY");
	char path[CONF_PATH_MAX + 32];
	int rc;

	memset(cr, 0, sizeof(*cr));
	if (ak || sk) {
		if (!ak || !sk || !*ak || !*sk || strlen(ak) > CAIRND_KEY_MAX ||
		    strlen(sk) > CAIRND_KEY_MAX) {
			log_error("set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY "
				  "(1..%d characters each)",
				  CAIRND_KEY_MAX);
			return CAIRN_E_INVAL;
		}
		snprintf(cr->access_key, sizeof(cr->access_key), "%s", ak);
		snprintf(cr->secret_key, sizeof(cr->secret_key), "%s", sk);
		log_info("root credentials from the environment (access key %s)", cr->access_key);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", c->data_dir, CAIRND_CREDS_FILE);
	if (access(path, F_OK) == 0) {
		rc = ini_parse(path, cairnd_creds_ini, cr);
		if (rc == 0 && cr->access_key[0] && cr->secret_key[0]) {
			log_info("root credentials in %s (access key %s)", path, cr->access_key);
			return 0;
		}
		log_error("%s is unreadable or incomplete; fix or remove it", path);
		return CAIRN_E_INVAL;
	}
	cairnd_random_string(cr->access_key, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
	cairnd_random_string(cr->secret_key, 40,
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	rc = cairnd_creds_write(path, cr);
	if (rc < 0) {
		log_error("cannot write %s: %s", path, cairn_strerror(rc));
		return rc;
	}
	log_info("generated root credentials in %s (access key %s)", path, cr->access_key);
	return 0;
}

/* ---- process limits and privileges ---- */

/* Raises the soft RLIMIT_NOFILE to the hard limit so that the connection limit is reachable
 * (every connection is a socket); when even the hard limit is too low, lowers
 * c->max_connections to what fits and says so. */
static void
cairnd_raise_nofile(struct conf *c)
{
	struct rlimit rl;
	rlim_t want, room;
	unsigned m;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = old;
	}
	want = (rlim_t)http_connection_cap(c->max_connections) + CAIRND_FD_RESERVE;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return;
	room =
	    rl.rlim_cur > 2 * CAIRND_FD_RESERVE ? rl.rlim_cur - CAIRND_FD_RESERVE : rl.rlim_cur / 2;
	for (m = (unsigned)(room * 8 / 9); m > 1 && http_connection_cap(m) > room; m--)
		;
	log_warn("open file limit %llu is too low for max_connections %u: serving %u (raise the "
		 "hard limit, ulimit -Hn)",
		 (unsigned long long)rl.rlim_cur, c->max_connections, m);
	c->max_connections = m;
}

/* Creates the data dir for uid/gid when it is missing (mode 0700, then handed to them); an
 * existing one is left as it is, with a warning when it belongs to someone else. Returns 0, or
 * -1 after a log line. */
static int
cairnd_data_dir_for(const char *dir, uid_t uid, gid_t gid)
{
	struct stat sb;

	if (mkdir(dir, 0700) == 0) {
		if (chown(dir, uid, gid) < 0) {
			log_error("cannot hand data dir %s to uid %u: %s", dir, (unsigned)uid,
				  strerror(errno));
			rmdir(dir);
			return -1;
		}
		return 0;
	}
	if (errno != EEXIST || stat(dir, &sb) < 0) {
		log_error("cannot create data dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (sb.st_uid != uid)
		log_warn("data dir %s belongs to uid %u, not to uid %u: cairnd may be unable to "
			 "write it",
			 dir, (unsigned)sb.st_uid, (unsigned)uid);
	return 0;
}

/* With `user` set, started as root: prepares the data dir and switches to that account for good
 * (supplementary groups, gid, uid), before any thread exists. Returns 0, or -1 after a log line
 * (unknown user, not root, a switch that fails or can be undone). */
static int
cairnd_drop_privileges(const struct conf *c)
{
	struct passwd pw, *found = NULL;
	char pwbuf[4096];

	if (!c->user[0])
		return 0;
	if (getpwnam_r(c->user, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || !found) {
		log_error("--user %s: no such user", c->user);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw.pw_uid)
			return 0;
		log_error("--user %s: cairnd must be started as root to switch users", c->user);
		return -1;
	}
	if (pw.pw_uid == 0) {
		log_error("--user %s: name an unprivileged account", c->user);
		return -1;
	}
	if (cairnd_data_dir_for(c->data_dir, pw.pw_uid, pw.pw_gid) < 0)
		return -1;
	if (setgroups(1, &pw.pw_gid) < 0 || setgid(pw.pw_gid) < 0 || setuid(pw.pw_uid) < 0) {
		log_error("--user %s: cannot switch: %s", c->user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		log_error("--user %s: root privileges could be regained; stopping", c->user);
		return -1;
	}
	log_info("running as %s (uid %u, gid %u)", c->user, (unsigned)pw.pw_uid,
		 (unsigned)pw.pw_gid);
	return 0;
}

/* ---- running ---- */

static int
cairnd_open_store(const struct conf *c, struct store **st)
{
	struct store_config sc;
	int rc;

	store_config_default(&sc);
	sc.data_dir = c->data_dir;
	sc.mode = STORE_MODE_WRITE;
	if (c->zstd_level >= 0)
		sc.zstd_level = c->zstd_level;
	if (c->pack_max_bytes)
		sc.pack_max_bytes = c->pack_max_bytes;
	sc.min_free_bytes = c->min_free_bytes;
	sc.md5_memo_bytes = c->md5_memo_bytes;
	sc.md5_memo_save_s = c->md5_memo_save_s;
	rc = store_open(&sc, st);
	if (rc < 0) {
		log_error("cannot open data dir %s: %s", c->data_dir, cairn_strerror(rc));
		return rc;
	}
	/* Bounds the index pages mapped in cairnd's RSS; store_close() stops the thread. */
	rc = index_trimmer_start(store_index(*st), c->index_resident_max);
	if (rc < 0)
		log_warn("index map resident size not bounded: %s", cairn_strerror(rc));
	return 0;
}

/* The compactor thread (periodic runs and POST /_cairn/gc) and the scrubber. Failing to start
 * either is logged, not fatal. */
static void
cairnd_maintenance_start(const struct conf *c, struct store *st)
{
	struct gc_config gcfg;
	int rc;

	gc_config_default(&gcfg);
	gcfg.threshold = c->gc_threshold_pct / 100.0;
	gcfg.grace_ms = c->gc_grace_s * 1000;
	rc = gc_service_start(st, &gcfg, c->gc_interval_s);
	if (rc < 0)
		log_warn("no compactor thread: %s", cairn_strerror(rc));
	if (c->scrub_rate && (rc = scrub_start(st, c->scrub_rate)) < 0)
		log_warn("no scrubber: %s", cairn_strerror(rc));
}

/* Stops accepting, gives requests in flight up to the shutdown timeout, then closes the rest. */
static void
cairnd_shutdown(const struct conf *c, struct http_server *hs)
{
	struct timespec nap = {0, 20 * 1000 * 1000};
	time_t deadline = time(NULL) + (time_t)c->shutdown_timeout_s;
	unsigned n;

	http_quiesce(hs);
	while ((n = http_inflight(hs)) > 0 && time(NULL) < deadline)
		nanosleep(&nap, NULL);
	if (n > 0)
		log_warn("closing %u request(s) still in flight", n);
	http_stop(hs);
}

/* Serves until SIGTERM or SIGINT (blocked in every thread, taken here with sigwait). */
static int
cairnd_serve(const struct conf *c, struct server *srv, const sigset_t *sigs)
{
	struct http_config hc = {.host = c->listen_host,
				 .port = c->listen_port,
				 .max_connections = c->max_connections,
				 .timeout_s = c->connection_timeout_s,
				 .header_timeout_s = c->header_timeout_s,
				 .body_min_rate = c->body_min_rate,
				 .body_rate_window_s = c->body_rate_window_s,
				 .send_min_rate = c->send_min_rate,
				 .send_rate_window_s = c->send_rate_window_s};
	struct http_server *hs;
	int rc, sig = 0;

	rc = http_start(&hc, srv, &hs);
	if (rc < 0) {
		log_error("cannot listen on %s:%u: %s", c->listen_host, c->listen_port,
			  cairn_strerror(rc));
		return rc;
	}
	log_info("cairnd %s listening on %s:%u, data %s, region %s%s%s", CAIRND_VERSION,
		 c->listen_host, http_port(hs), c->data_dir, c->region,
		 c->domain[0] ? ", domain " : "", c->domain);
	while (sigwait(sigs, &sig) != 0)
		;
	log_info("signal %d: shutting down", sig);
	cairnd_shutdown(c, hs);
	return 0;
}

static int
cairnd_run(const struct conf *c, const sigset_t *sigs)
{
	struct server_config scfg;
	struct cairnd_creds cr;
	struct server *srv = NULL;
	struct store *st = NULL;
	struct store_upload_worker *uw = NULL;
	int rc;

	rc = cairnd_open_store(c, &st);
	if (rc < 0)
		return rc;
	rc = cairnd_root_creds(c, &cr);
	if (rc < 0)
		goto out_close_store;
	scfg = (struct server_config){c->region, c->domain, cr.access_key, cr.secret_key,
				      c->max_object_size};
	rc = server_new(&scfg, st, &srv);
	OPENSSL_cleanse(&cr, sizeof(cr));
	if (rc < 0) {
		log_error("bad server settings: %s", cairn_strerror(rc));
		goto out_close_store;
	}
	rc = store_upload_worker_start(st, c->upload_max_age_s, 0, &uw);
	if (rc < 0)
		log_warn("no multipart upload worker (sweep, seam healing): %s",
			 cairn_strerror(rc));
	cairnd_maintenance_start(c, st);
	rc = cairnd_serve(c, srv, sigs);
	gc_service_stop(st);
	scrub_stop(st);
	store_upload_worker_stop(uw);
	server_free(srv);
out_close_store:
	store_close(st);
	return rc;
}

int
main(int argc, char **argv)
{
	struct conf c;
	sigset_t sigs;
	int rc;

	rc = cairnd_settings(&c, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_set_level(c.log_level);
	/* The data dir, the index and the credentials are private to the daemon's user. */
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	cairnd_raise_nofile(&c);
	if (cairnd_drop_privileges(&c) < 0)
		return 1;
	/* Block the shutdown signals before any thread starts, so that all threads inherit the
	 * mask and only sigwait() sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	rc = cairnd_run(&c, &sigs);
	log_info("cairnd stopped");
	return rc < 0 ? 1 : 0;
}
