/*
 * cli_user.c — `cairn user add|list|remove`: users live in the index alone, so these open the
 * data dir in index-only mode and work beside a running cairnd.
 *
 * Keys come from OpenSSL's RAND_bytes with rejection sampling (no modulo bias). The secret is
 * printed once and wiped from memory afterwards; `list` never shows secrets.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cairn/err.h"
#include "cli.h"

#define USER_AK_LEN 20
#define USER_SK_LEN 40

static const char ak_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char sk_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Fills out[n] with characters drawn uniformly from alphabet, and a NUL. */
static int
random_chars(char *out, size_t n, const char *alphabet)
{
	size_t alen = strlen(alphabet), got = 0, i;
	unsigned int limit = 256 - 256 % (unsigned int)alen;
	unsigned char rnd[64];

	while (got < n) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return CAIRN_E_INVAL;
		for (i = 0; i < sizeof(rnd) && got < n; i++)
			if (rnd[i] < limit)
				out[got++] = alphabet[rnd[i] % alen];
	}
	out[n] = 0;
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 0;
}

static bool
user_name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > INDEX_OWNER_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@'))
			return false;
	}
	return true;
}

struct user_ctx {
	const char *name;
	struct index_user u;
};

static int
user_match(const struct index_user *u, void *arg)
{
	struct user_ctx *c = arg;

	if (strcmp(u->name, c->name) != 0)
		return 0;
	memcpy(c->u.access_key, u->access_key, sizeof(c->u.access_key));
	return 1;
}

static int
user_add_fn(struct index_txn *txn, void *arg)
{
	struct user_ctx *c = arg;
	struct user_ctx probe = {.name = c->name};
	struct index_user other;
	int rc;

	rc = index_user_iter(txn, user_match, &probe);
	if (rc != 0)
		return rc < 0 ? rc : CAIRN_E_EXISTS;
	rc = index_user_get(txn, c->u.access_key, &other);
	if (rc == 0)
		return CAIRN_E_RETRY; /* a 20-character key collided: draw again */
	if (rc != CAIRN_E_NOTFOUND)
		return rc;
	return index_user_put(txn, &c->u);
}

static int
user_add(struct store *st, const char *name)
{
	struct user_ctx c = {.name = name};
	struct timespec now;
	int rc, tries = 0;

	memset(&c.u, 0, sizeof(c.u));
	memcpy(c.u.name, name, strlen(name));
	clock_gettime(CLOCK_REALTIME, &now);
	c.u.ctime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	do {
		rc = random_chars(c.u.access_key, USER_AK_LEN, ak_alphabet);
		if (rc == 0)
			rc = random_chars(c.u.secret_key, USER_SK_LEN, sk_alphabet);
		if (rc == 0)
			rc = index_write(store_index(st), user_add_fn, &c);
	} while (rc == CAIRN_E_RETRY && ++tries < 3);
	if (rc == 0) {
		printf("access_key_id: %s\nsecret_access_key: %s\n", c.u.access_key,
		       c.u.secret_key);
		fflush(stdout);
	} else if (rc == CAIRN_E_EXISTS) {
		cli_err("user %s already exists", name);
	} else {
		cli_err("user add: %s", cairn_strerror(rc));
	}
	OPENSSL_cleanse(&c.u, sizeof(c.u));
	return rc;
}

static int
user_print(const struct index_user *u, void *arg)
{
	(void)arg;
	printf("%s %s\n", u->name, u->access_key);
	return 0;
}

static int
user_list(struct store *st)
{
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(store_index(st), &txn);
	if (rc == 0) {
		rc = index_user_iter(txn, user_print, NULL);
		index_read_end(txn);
	}
	if (rc < 0)
		cli_err("user list: %s", cairn_strerror(rc));
	return rc;
}

static int
user_remove_fn(struct index_txn *txn, void *arg)
{
	struct user_ctx *c = arg;
	int rc;

	rc = index_user_iter(txn, user_match, c);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return CAIRN_E_NOTFOUND;
	return index_user_del(txn, c->u.access_key);
}

static int
user_remove(struct store *st, const char *name)
{
	struct user_ctx c = {.name = name};
	int rc;

	memset(&c.u, 0, sizeof(c.u));
	rc = index_write(store_index(st), user_remove_fn, &c);
	if (rc == CAIRN_E_NOTFOUND)
		cli_err("no user %s", name);
	else if (rc < 0)
		cli_err("user remove: %s", cairn_strerror(rc));
	else
		printf("removed %s %s\n", name, c.u.access_key);
	return rc;
}

int
cli_user(int argc, char **argv)
{
	bool list = argc == 2 && strcmp(argv[0], "list") == 0;
	bool named = argc == 3 && (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "remove") == 0);
	struct store *st;
	int status, rc;

	if (!list && !named) {
		cli_err("usage: cairn user add|remove DATADIR NAME, or cairn user list DATADIR");
		return CLI_USAGE;
	}
	if (named && !user_name_ok(argv[2])) {
		cli_err("bad user name '%s' (1-%d of A-Z a-z 0-9 . _ - @)", argv[2],
			INDEX_OWNER_MAX);
		return CLI_USAGE;
	}
	status = cli_store_open(argv[1], STORE_MODE_INDEX, &st);
	if (status != CLI_OK)
		return status;
	if (list)
		rc = user_list(st);
	else if (strcmp(argv[0], "add") == 0)
		rc = user_add(st, argv[2]);
	else
		rc = user_remove(st, argv[2]);
	store_close(st);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}
