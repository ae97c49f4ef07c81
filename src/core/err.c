#include <string.h>

#include "cairn/err.h"

static const char *const cairn_messages[] = {
	[-(CAIRN_E_CORRUPT - CAIRN_E_BASE)] = "stored data is corrupt",
	[-(CAIRN_E_NOTFOUND - CAIRN_E_BASE)] = "not found",
	[-(CAIRN_E_EXISTS - CAIRN_E_BASE)] = "already exists",
	[-(CAIRN_E_LOCKED - CAIRN_E_BASE)] = "data dir is locked by another process",
	[-(CAIRN_E_TOOBIG - CAIRN_E_BASE)] = "size limit exceeded",
	[-(CAIRN_E_INVAL - CAIRN_E_BASE)] = "invalid argument",
	[-(CAIRN_E_NOTEMPTY - CAIRN_E_BASE)] = "not empty",
	[-(CAIRN_E_PRECONDITION - CAIRN_E_BASE)] = "precondition failed",
	[-(CAIRN_E_BADDIGEST - CAIRN_E_BASE)] = "digest mismatch",
	[-(CAIRN_E_RETRY - CAIRN_E_BASE)] = "transient conflict, retry",
	[-(CAIRN_E_READONLY - CAIRN_E_BASE)] = "store is read-only",
	[-(CAIRN_E_VERSION - CAIRN_E_BASE)] = "unsupported on-disk record version",
	[-(CAIRN_E_NOKEY - CAIRN_E_BASE)] = "no such key for a conditional write",
};

const char *
cairn_strerror(int rc)
{
	if (rc >= 0)
		return "success";
	if (rc < CAIRN_E_BASE && rc > CAIRN_E_LAST)
		return cairn_messages[-(rc - CAIRN_E_BASE)];
	if (rc > CAIRN_E_BASE)
		return strerror(-rc);
	return "unknown error";
}
