/*
 * conf.h — cairnd's settings: defaults, the INI config file, CAIRN_* environment variables and
 * command-line flags, applied in that order so that flags > env > file > defaults.
 *
 * Every setting has one name used everywhere: "listen" is the config-file key `listen`, the
 * environment variable CAIRN_LISTEN and the flag --listen. config/cairnd.conf documents each key,
 * its default and its unit. Config-file keys may stand before any section or in a [cairnd]
 * section; keys of other sections are ignored (other tools may share the file).
 *
 * This module does no networking and keeps no globals: a struct conf is a plain value.
 */
#ifndef CAIRN_CONF_H
#define CAIRN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/log.h"

#define CONF_PATH_MAX 4096
#define CONF_HOST_MAX 255
#define CONF_REGION_MAX 32
#define CONF_DOMAIN_MAX 255
#define CONF_USER_MAX 64

struct conf {
	char data_dir[CONF_PATH_MAX];	     /* "data": the data directory */
	char listen_host[CONF_HOST_MAX + 1]; /* "listen": host part of HOST:PORT */
	uint16_t listen_port;		     /* "listen": port part */
	char region[CONF_REGION_MAX + 1];    /* "region": the server's region name */
	char domain[CONF_DOMAIN_MAX + 1];    /* "domain": virtual-hosted base domain, "" = off */
	uint32_t max_connections;	     /* "max_connections": concurrent connections */
	uint32_t connection_timeout_s;	     /* "connection_timeout": idle seconds before close */
	uint32_t shutdown_timeout_s; /* "shutdown_timeout": seconds in-flight requests get */
	uint64_t max_object_size;    /* "max_object_size": bytes of one PUT body */
	enum log_level log_level;    /* "log_level": debug|info|warn|error */
	int zstd_level;		     /* "zstd_level": 0 stores raw, 1..19; -1 engine default */
	uint64_t pack_max_bytes;     /* "pack_max_bytes": pack rollover; 0 engine default */
	uint64_t upload_max_age_s;   /* "upload_max_age": seconds before an unfinished multipart
					upload is aborted by the sweep; 0 = never */
	uint32_t gc_threshold_pct;   /* "gc_threshold": a pack is compacted when this percentage
					of its bytes is dead (1..100) */
	uint64_t gc_interval_s;	     /* "gc_interval": seconds between background compactions;
					0 = only when POST /_cairn/gc asks */
	uint32_t gc_grace_s;	     /* "gc_grace": seconds a compaction waits for older uploads
					before it defers a pack's deletion to the next run */
	uint64_t scrub_rate;	     /* "scrub_rate": bytes/s the scrubber re-verifies; 0 = off */
	uint64_t min_free_bytes;     /* "min_free": free bytes kept on the data dir's file system
					for deletes and compaction; new data is refused below */
	uint32_t header_timeout_s;   /* "header_timeout": seconds a connection gets from its
					opening (or the end of its previous request) to the end
					of a request's header section; 0 = off (docs/limits.md) */
	uint64_t body_min_rate;	     /* "body_min_rate": bytes/s a request body must average
					over each body_rate_window; 0 = off */
	uint32_t body_rate_window_s; /* "body_rate_window": seconds of that window */
	uint64_t send_min_rate;	     /* "send_min_rate": bytes/s a client must take an object's
					body at over each send_rate_window; 0 = off */
	uint32_t send_rate_window_s; /* "send_rate_window": seconds of that window */
	uint64_t index_resident_max; /* "index_resident_max": bytes of the index map cairnd keeps
					mapped (file-backed RSS) beyond its level after the last
					trim; 0 = never trim (include/cairn/index.h) */
	uint64_t md5_memo_bytes; /* "md5_memo": bytes remembering MD5 states at chunk boundaries,
				    so that re-uploads skip their MD5 (md5memo.h); 0 = off */
	uint32_t md5_memo_save_s; /* "md5_memo_save": seconds between saves of a changed memo to
				     <data>/md5memo while running; 0 = only at a clean stop */
	/* "user": the account to switch to when started as root; "" = no switch */
	char user[CONF_USER_MAX + 1];
};

/* Fills c with the defaults: data ./cairn-data, listen 127.0.0.1:9000, region us-east-1, no
 * domain, 4096 connections, 60 s idle timeout, 30 s shutdown timeout, 5 GiB objects, log level
 * info, zstd level and pack size left to the engine (-1 and 0), unfinished multipart uploads
 * aborted after 7 days, compaction hourly at 50 % dead with a 60 s grace, scrubbing at 4 MiB/s,
 * 64 MiB kept free, 30 s for a request's headers, request bodies at least 1 KiB/s over 30 s and
 * object bodies over 60 s, 64 MiB of the index map resident, a 16 MiB MD5 memo saved every 60 s, no user
 * switch. */
void conf_default(struct conf *c);

/*
 * Sets one setting from text. name is a key as in the config file ("listen"); '-' is accepted
 * for '_' so that flag names can be passed as they are. Numbers are parsed strictly (decimal,
 * range-checked). Returns 0, CAIRN_E_NOTFOUND for an unknown name, or CAIRN_E_INVAL for a value
 * that does not parse or is out of range (c is unchanged then).
 */
int conf_set(struct conf *c, const char *name, const char *value);

/*
 * Reads the INI file at path and applies every key of its top level and [cairnd] section.
 * On failure a one-line explanation (naming the file and line) is written into err[err_len].
 * Returns 0, -errno when the file cannot be opened, or CAIRN_E_INVAL on a syntax error, an
 * unknown key or a bad value.
 */
int conf_load_file(struct conf *c, const char *path, char *err, size_t err_len);

/*
 * Applies every CAIRN_<NAME> environment variable naming a setting (CAIRN_DATA, CAIRN_LISTEN
 * …). getenv is the source so tests can pass their own; NULL uses the process environment.
 * Returns 0 or CAIRN_E_INVAL for a bad value (its variable named in err).
 */
int conf_load_env(struct conf *c, const char *(*getenv_fn)(const char *name), char *err,
		  size_t err_len);

/* Returns true when name ("data", "listen" …, '-' accepted for '_') is a setting. */
bool conf_is_key(const char *name);

/* Parses "HOST:PORT", "[V6ADDR]:PORT" or ":PORT" (host then defaults to 127.0.0.1) into host
 * (NUL-terminated, at most CONF_HOST_MAX bytes) and *port (1..65535). Returns 0 or CAIRN_E_INVAL.
 */
int conf_parse_listen(const char *s, char host[CONF_HOST_MAX + 1], uint16_t *port);

#endif
