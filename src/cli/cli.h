/*
 * cli.h — private declarations of the `cairn` admin tool (src/cli/). Not an API.
 *
 * Exit statuses: 0 success, 1 the command ran and failed (an object missing, fsck problems, an
 * I/O error), 2 the command could not start (bad arguments, missing data dir, the data dir
 * locked by another process).
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/store.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2
/* Internal to cli_store_open*(): the data dir is locked (never an exit status). */
#define CLI_LOCKED (-1)

/* Each command gets the arguments after its name. Returns an exit status. */
int cli_import(int argc, char **argv);
int cli_cat(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_fsck(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_uploads(int argc, char **argv);
int cli_gc(int argc, char **argv);

/* Prints "cairn: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Opens the data dir in mode, printing the one-line error itself. Returns CLI_OK, or the exit
 * status to use (CLI_USAGE for a missing or locked dir, CLI_FAIL otherwise). */
int cli_store_open(const char *dir, enum store_mode mode, struct store **out);

/* Opens an existing data dir for writing (gc, fsck --repair): unlike cli_store_open() it never
 * creates one. what names the command in the message when another process holds the lock.
 * Prints the one-line error itself. Returns CLI_OK, or CLI_USAGE (missing or locked data dir),
 * CLI_FAIL (anything else). */
int cli_store_open_existing(const char *dir, const char *what, struct store **out);

/* Streams the file at path into the store as bucket/key and prints "stored KEY SIZE ETAG". Shows
 * progress on stderr when it is a terminal. Returns 0 or an error (already reported). */
int cli_import_file(struct store *st, const char *bucket, const char *key, const char *path);

/* Prints the statistics of st as text (or JSON). Returns 0 or an error (already reported). */
int cli_stats_print(struct store *st, bool json);

#endif
