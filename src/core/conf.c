#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/conf.h"
#include "cairn/err.h"

enum conf_type {
	CONF_T_PATH,   /* any non-empty string */
	CONF_T_NAME,   /* region: [a-z0-9-], non-empty */
	CONF_T_DOMAIN, /* host name: [a-zA-Z0-9.-], may be empty */
	CONF_T_LISTEN,
	CONF_T_U32,
	CONF_T_U64,
	CONF_T_INT,
	CONF_T_LEVEL,
	CONF_T_USER, /* account name: [A-Za-z0-9._-], not starting with '-'; may be empty */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off;  /* of the field in struct conf */
	size_t size; /* of the field (strings: buffer size) */
	long long min, max;
};

#define CONF_FIELD(f) offsetof(struct conf, f), sizeof(((struct conf *)0)->f)

/* One row per setting: the file key, env var (CAIRN_ + upper case) and flag share the name. */
static const struct conf_key conf_keys[] = {
    {"data", CONF_T_PATH, CONF_FIELD(data_dir), 0, 0},
    {"listen", CONF_T_LISTEN, 0, 0, 0, 0},
    {"region", CONF_T_NAME, CONF_FIELD(region), 0, 0},
    {"domain", CONF_T_DOMAIN, CONF_FIELD(domain), 0, 0},
    {"max_connections", CONF_T_U32, CONF_FIELD(max_connections), 1, 65536},
    {"connection_timeout", CONF_T_U32, CONF_FIELD(connection_timeout_s), 1, 86400},
    {"shutdown_timeout", CONF_T_U32, CONF_FIELD(shutdown_timeout_s), 0, 86400},
    {"max_object_size", CONF_T_U64, CONF_FIELD(max_object_size), 1, 1ll << 53},
    {"log_level", CONF_T_LEVEL, CONF_FIELD(log_level), 0, 0},
    {"zstd_level", CONF_T_INT, CONF_FIELD(zstd_level), -1, 19},
    {"pack_max_bytes", CONF_T_U64, CONF_FIELD(pack_max_bytes), 0, 1ll << 40},
    {"upload_max_age", CONF_T_U64, CONF_FIELD(upload_max_age_s), 0, 100ll * 365 * 86400},
    {"gc_threshold", CONF_T_U32, CONF_FIELD(gc_threshold_pct), 1, 100},
    {"gc_interval", CONF_T_U64, CONF_FIELD(gc_interval_s), 0, 100ll * 365 * 86400},
    {"gc_grace", CONF_T_U32, CONF_FIELD(gc_grace_s), 0, 86400},
    {"scrub_rate", CONF_T_U64, CONF_FIELD(scrub_rate), 0, 1ll << 40},
    {"min_free", CONF_T_U64, CONF_FIELD(min_free_bytes), 0, 1ll << 50},
    {"header_timeout", CONF_T_U32, CONF_FIELD(header_timeout_s), 0, 86400},
    {"body_min_rate", CONF_T_U64, CONF_FIELD(body_min_rate), 0, 1ll << 40},
    {"body_rate_window", CONF_T_U32, CONF_FIELD(body_rate_window_s), 1, 3600},
    {"send_min_rate", CONF_T_U64, CONF_FIELD(send_min_rate), 0, 1ll << 40},
    {"send_rate_window", CONF_T_U32, CONF_FIELD(send_rate_window_s), 1, 3600},
    {"index_resident_max", CONF_T_U64, CONF_FIELD(index_resident_max), 0, 1ll << 50},
    {"md5_memo", CONF_T_U64, CONF_FIELD(md5_memo_bytes), 0, 1ll << 40},
    {"md5_memo_save", CONF_T_U32, CONF_FIELD(md5_memo_save_s), 0, 86400},
    {"user", CONF_T_USER, CONF_FIELD(user), 0, 0},
};

#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

void
conf_default(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "%s", "./cairn-data");
	snprintf(c->listen_host, sizeof(c->listen_host), "%s", "127.0.0.1");
	c->listen_port = 9000;
	snprintf(c->region, sizeof(c->region), "%s", "us-east-1");
	c->max_connections = 4096;
	c->connection_timeout_s = 60;
	c->shutdown_timeout_s = 30;
	c->max_object_size = 5ull << 30;
	c->log_level = LOG_LEVEL_INFO;
	c->zstd_level = -1;
	c->pack_max_bytes = 0;
	c->upload_max_age_s = 7 * 86400;
	c->gc_threshold_pct = 50;
	c->gc_interval_s = 3600;
	c->gc_grace_s = 60;
	c->scrub_rate = 4u << 20;
	c->min_free_bytes = 64u << 20;
	c->header_timeout_s = 30;
	c->body_min_rate = 1024;
	c->body_rate_window_s = 30;
	c->send_min_rate = 1024;
	c->send_rate_window_s = 60;
	c->index_resident_max = 64u << 20;
	c->md5_memo_bytes = 16u << 20;
	c->md5_memo_save_s = 60;
}

/* Compares a setting name with '-' and '_' treated alike. */
static bool
conf_name_eq(const char *key, const char *name)
{
	for (; *key && *name; key++, name++) {
		char a = *key, b = *name == '-' ? '_' : *name;

		if (a != b)
			return false;
	}
	return *key == 0 && *name == 0;
}

static const struct conf_key *
conf_key_find(const char *name)
{
	size_t i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (conf_name_eq(conf_keys[i].name, name))
			return &conf_keys[i];
	return NULL;
}

bool
conf_is_key(const char *name)
{
	return conf_key_find(name) != NULL;
}

static int
conf_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (*s == 0)
		return CAIRN_E_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != 0 || v < min || v > max)
		return CAIRN_E_INVAL;
	*out = v;
	return 0;
}

static bool
conf_chars_ok(const char *s, const char *extra, bool upper_ok)
{
	for (; *s; s++) {
		char ch = *s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			continue;
		if (upper_ok && ch >= 'A' && ch <= 'Z')
			continue;
		if (!strchr(extra, ch))
			return false;
	}
	return true;
}

int
conf_parse_listen(const char *s, char host[CONF_HOST_MAX + 1], uint16_t *port)
{
	const char *colon, *h = s;
	size_t hlen;
	long long p;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return CAIRN_E_INVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return CAIRN_E_INVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen > CONF_HOST_MAX || conf_parse_ll(colon + 1, 1, 65535, &p) < 0)
		return CAIRN_E_INVAL;
	if (hlen == 0) {
		snprintf(host, CONF_HOST_MAX + 1, "%s", "127.0.0.1");
	} else {
		memcpy(host, h, hlen);
		host[hlen] = 0;
	}
	*port = (uint16_t)p;
	return 0;
}

static int
conf_parse_level(const char *s, enum log_level *out)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return CAIRN_E_INVAL;
}

static int
conf_set_string(const struct conf_key *k, char *field, const char *value)
{
	size_t len = strlen(value);

	if (len >= k->size)
		return CAIRN_E_INVAL;
	if (k->type == CONF_T_PATH && len == 0)
		return CAIRN_E_INVAL;
	if (k->type == CONF_T_NAME && (len == 0 || !conf_chars_ok(value, "-", false)))
		return CAIRN_E_INVAL;
	if (k->type == CONF_T_DOMAIN && !conf_chars_ok(value, ".-", true))
		return CAIRN_E_INVAL;
	if (k->type == CONF_T_USER && (value[0] == '-' || !conf_chars_ok(value, "._-", true)))
		return CAIRN_E_INVAL;
	memcpy(field, value, len + 1);
	return 0;
}

int
conf_set(struct conf *c, const char *name, const char *value)
{
	const struct conf_key *k = conf_key_find(name);
	char *field;
	long long v;
	int rc;

	if (!k)
		return CAIRN_E_NOTFOUND;
	field = (char *)c + k->off;
	switch (k->type) {
	case CONF_T_PATH:
	case CONF_T_NAME:
	case CONF_T_DOMAIN:
	case CONF_T_USER:
		return conf_set_string(k, field, value);
	case CONF_T_LISTEN:
		return conf_parse_listen(value, c->listen_host, &c->listen_port);
	case CONF_T_LEVEL:
		return conf_parse_level(value, &c->log_level);
	case CONF_T_U32:
	case CONF_T_U64:
	case CONF_T_INT:
		break;
	}
	rc = conf_parse_ll(value, k->min, k->max, &v);
	if (rc < 0)
		return rc;
	if (k->type == CONF_T_U32)
		*(uint32_t *)(void *)field = (uint32_t)v;
	else if (k->type == CONF_T_U64)
		*(uint64_t *)(void *)field = (uint64_t)v;
	else
		*(int *)(void *)field = (int)v;
	return 0;
}

struct conf_file_ctx {
	struct conf *c;
	const char *path;
	char *err;
	size_t err_len;
	int lineno_bad; /* first bad line's key was reported */
};

static int
conf_file_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_file_ctx *ctx = user;
	int rc;

	if (section[0] != 0 && strcmp(section, "cairnd") != 0)
		return 1;
	rc = conf_set(ctx->c, name, value);
	if (rc == 0)
		return 1;
	if (!ctx->lineno_bad) {
		snprintf(ctx->err, ctx->err_len, "%s: %s key '%s'", ctx->path,
			 rc == CAIRN_E_NOTFOUND ? "unknown" : "bad value for", name);
		ctx->lineno_bad = 1;
	}
	return 0;
}

int
conf_load_file(struct conf *c, const char *path, char *err, size_t err_len)
{
	struct conf_file_ctx ctx = {c, path, err, err_len, 0};
	FILE *f;
	int rc;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = ini_parse_file(f, conf_file_handler, &ctx);
	fclose(f);
	if (rc == 0)
		return 0;
	if (!ctx.lineno_bad)
		snprintf(err, err_len, "%s: syntax error", path);
	if (rc > 0) {
		size_t n = strlen(err);

		snprintf(err + n, err_len - n, " (line %d)", rc);
	}
	return CAIRN_E_INVAL;
}

static const char *
conf_getenv_default(const char *name)
{
	return getenv(name);
}

int
conf_load_env(struct conf *c, const char *(*getenv_fn)(const char *name), char *err, size_t err_len)
{
	char var[64];
	size_t i, j;

	if (!getenv_fn)
		getenv_fn = conf_getenv_default;
	for (i = 0; i < CONF_NKEYS; i++) {
		const char *v;
		size_t n = strlen(conf_keys[i].name);

		memcpy(var, "CAIRN_", 6);
		for (j = 0; j < n && 6 + j < sizeof(var) - 1; j++) {
			char ch = conf_keys[i].name[j];

			var[6 + j] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
		}
		var[6 + j] = 0;
		v = getenv_fn(var);
		if (!v)
			continue;
		if (conf_set(c, conf_keys[i].name, v) < 0) {
			snprintf(err, err_len, "environment variable %s: bad value", var);
			return CAIRN_E_INVAL;
		}
	}
	return 0;
}
