/*
 * err.h — cairn's error codes.
 *
 * Fallible functions return int: 0 on success, a negative errno value (-ENOMEM, -EIO, -ENOSPC …)
 * for system errors, or one of the CAIRN_E_* codes below (all below -1000) for cairn's own
 * conditions. The S3 layer owns the single table that maps these to HTTP status + S3 error code.
 */
#ifndef CAIRN_ERR_H
#define CAIRN_ERR_H

enum {
	CAIRN_E_BASE = -1000,
	CAIRN_E_CORRUPT = -1001,      /* stored bytes fail their checksum or format check */
	CAIRN_E_NOTFOUND = -1002,     /* no such bucket, object, chunk, user or upload */
	CAIRN_E_EXISTS = -1003,       /* the thing being created already exists */
	CAIRN_E_LOCKED = -1004,       /* another process holds the data dir's write lock */
	CAIRN_E_TOOBIG = -1005,       /* a size limit was exceeded */
	CAIRN_E_INVAL = -1006,        /* malformed input or invalid argument */
	CAIRN_E_NOTEMPTY = -1007,     /* bucket still holds objects */
	CAIRN_E_PRECONDITION = -1008, /* a conditional write's condition did not hold */
	CAIRN_E_BADDIGEST = -1009,    /* a supplied digest does not match the data */
	CAIRN_E_RETRY = -1010,        /* a transient conflict; the operation may be retried */
	CAIRN_E_READONLY = -1011,     /* the store was opened read-only */
	CAIRN_E_VERSION = -1012,      /* an on-disk record has a version this build cannot read */
	CAIRN_E_NOKEY = -1013,        /* a write conditional on the key's ETag found no such key */
	CAIRN_E_LAST = -1014,
};

/* Returns a static, human-readable description of rc (a -errno or CAIRN_E_* value). Never NULL. */
const char *cairn_strerror(int rc);

#endif
