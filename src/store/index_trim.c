/*
 * index_trim.c — keeps the resident part of the index map under a budget.
 *
 * Why the map's pages are ours to drop. index.c opens LMDB without MDB_WRITEMAP, so LMDB maps
 * data.mdb PROT_READ, MAP_SHARED (test_index_trim checks the mapping is not writable): a write
 * transaction builds its dirty pages in malloc'd memory and writes them with pwrite/writev;
 * nothing is ever stored through the map. The map's pages are therefore the page cache's own,
 * clean from this mapping's point of view, and madvise(MADV_DONTNEED) on a shared file mapping
 * only removes them from this process's page tables: the page cache keeps the bytes, and the next
 * access maps the same page again (a minor fault, no I/O unless the kernel evicted it meanwhile).
 * A transaction reading beside a trim sees the same bytes at the same addresses. (Even with
 * WRITEMAP it would lose nothing: the kernel moves a dirty PTE's bit to the page before
 * zapping it; but then the dropped pages would be written back on the kernel's schedule, which
 * LMDB's commit already forces anyway.) What the trim saves is RSS: those pages count in RssFile
 * and VmHWM, and without it a walk over the objects table leaves the whole table mapped.
 *
 * Where the map is. MDB_envinfo.me_mapaddr is only set for MDB_FIXEDMAP environments (it is the
 * address recorded in the meta page), and LMDB offers no other accessor, so the map is found in
 * /proc/self/maps: the mapping that holds a value LMDB returns (meta "format", read in a short
 * read transaction), checked to be data.mdb (its inode) from offset 0. The address is kept until
 * a resize: mdb_env_set_mapsize() unmaps and maps again, possibly elsewhere, and the old range
 * may meanwhile hold other memory (advising it would zero the heap). So a trim holds the gate
 * shared, like a transaction, from finding the address to the end of madvise, and every resize
 * (which holds it exclusive) forgets the address before letting anyone in (index.c).
 *
 * When. A thread reads RssFile from /proc/self/status (a counter the kernel keeps; reading the
 * file costs ~6 us) every INDEX_TRIM_INTERVAL_MS and trims when it exceeds what it was just after
 * the last trim by more than the budget. Comparing with the level after a trim, not with zero,
 * leaves out the file-backed pages that are not the index (the binary and its libraries, ~10
 * MiB) and keeps a process whose other mappings are large from trimming on every tick. RssFile,
 * not /proc/self/statm's "shared" (1 us, but RssFile + RssShmem): the store's shared anonymous
 * ring buffers count as shmem and come and go with uploads. A listing faults in ~160 MB/s of
 * new pages at most, so the resident part overshoots the budget by ~8 MiB between two checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cairn/ticker.h"
#include "index_priv.h"

#define INDEX_TRIM_INTERVAL_MS 50
#define INDEX_MAPS_LINE 256
#define INDEX_STATUS_MAX 4096 /* /proc/self/status is ~1.5 KiB */

struct index_trimmer {
	struct index *ix;
	struct ticker *ticker; /* calls index_trimmer_tick every INDEX_TRIM_INTERVAL_MS */
	uint64_t budget;
	int status_fd;	/* /proc/self/status, read again from offset 0 at each check */
	uint64_t floor; /* RssFile just after the last trim (0: unknown) */
	int last_rc;	/* the last trim's result, so that a failure is logged once per kind */
};

void
index_map_forget(struct index *ix)
{
	ix->map_base = NULL;
	ix->map_len = 0;
}

/* Parses the start of a /proc/self/maps line ("start-end perms offset dev inode path").
 * Returns true when the line maps inode ino from offset 0, shared, and contains p. */
static bool
index_maps_line_match(const char *line, const void *p, ino_t ino, uintptr_t *start, uintptr_t *end)
{
	const char *s = line;
	char *e;
	unsigned long long lo, hi, off, inode;

	errno = 0;
	lo = strtoull(s, &e, 16);
	if (errno || e == s || *e != '-')
		return false;
	s = e + 1;
	hi = strtoull(s, &e, 16);
	if (errno || e == s || *e != ' ' || strlen(e) < 6 || e[4] != 's')
		return false;
	s = e + 6; /* " rwxs " */
	off = strtoull(s, &e, 16);
	if (errno || e == s || *e != ' ')
		return false;
	s = strchr(e + 1, ' '); /* past "major:minor" */
	if (!s)
		return false;
	inode = strtoull(s + 1, &e, 10);
	if (errno || e == s + 1 || off != 0 || inode != (unsigned long long)ino)
		return false;
	if ((uintptr_t)p < lo || (uintptr_t)p >= hi)
		return false;
	*start = (uintptr_t)lo;
	*end = (uintptr_t)hi;
	return true;
}

/* Finds the mapping of inode ino that contains p in /proc/self/maps. Lines longer than the
 * buffer are read on to their end (the fields that matter are at the start). */
static int
index_maps_find(const void *p, ino_t ino, uint8_t **base, size_t *len)
{
	char line[INDEX_MAPS_LINE];
	bool at_start = true, found = false;
	uintptr_t start = 0, end = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		bool whole = strchr(line, '\n') != NULL;

		if (at_start)
			found = index_maps_line_match(line, p, ino, &start, &end);
		at_start = whole;
	}
	fclose(f);
	if (!found)
		return CAIRN_E_NOTFOUND;
	*base = (uint8_t *)start;
	*len = end - start;
	return 0;
}

/* Finds the map (ix->map_base, map_len). Call with trim_mu held and the gate shared. */
static int
index_map_locate(struct index *ix)
{
	static const char name[] = "format";
	MDB_val k = {.mv_size = sizeof(name) - 1, .mv_data = (void *)name}, v;
	struct stat sb;
	MDB_txn *txn;
	int fd, rc;

	rc = mdb_env_get_fd(ix->env, &fd);
	if (rc)
		return index_mdb_err(rc);
	if (fstat(fd, &sb) < 0)
		return -errno;
	rc = index_mdb_read_begin(ix, &txn);
	if (rc == MDB_MAP_RESIZED)
		return -EAGAIN;
	if (rc)
		return index_mdb_err(rc);
	/* A read transaction's values point into the map: this one tells which mapping it is. */
	rc = index_mdb_err(mdb_get(txn, ix->dbi[INDEX_DB_META], &k, &v));
	if (rc == 0)
		rc = index_maps_find(v.mv_data, sb.st_ino, &ix->map_base, &ix->map_len);
	mdb_txn_abort(txn);
	return rc;
}

/* Bytes of the map up to its last used page (page-rounded), at most map_len. Gate shared. */
static size_t
index_map_used(struct index *ix, long page)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used;

	if (mdb_env_info(ix->env, &info) || mdb_env_stat(ix->env, &st))
		return ix->map_len;
	if (info.me_last_pgno >= ix->map_len / st.ms_psize)
		return ix->map_len;
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	used = (used + (size_t)page - 1) / (size_t)page * (size_t)page;
	return used < ix->map_len ? used : ix->map_len;
}

int
index_map_trim(struct index *ix)
{
	long page = sysconf(_SC_PAGESIZE);
	int rc = 0;

	pthread_mutex_lock(&ix->trim_mu);
	index_gate_shared(&ix->gate);
	if (!ix->map_base)
		rc = index_map_locate(ix);
	if (rc == 0 && madvise(ix->map_base, index_map_used(ix, page), MADV_DONTNEED) < 0)
		rc = -errno;
	if (rc == 0)
		ix->trims++;
	index_gate_shared_end(&ix->gate);
	pthread_mutex_unlock(&ix->trim_mu);
	return rc;
}

uint64_t
index_map_trims(struct index *ix)
{
	uint64_t n;

	pthread_mutex_lock(&ix->trim_mu);
	n = ix->trims;
	pthread_mutex_unlock(&ix->trim_mu);
	return n;
}

/* ---- the periodic thread ---- */

/* Reads this process's file-backed resident bytes (RssFile in /proc/self/status) into *out. */
static int
index_rss_file(const struct index_trimmer *tr, uint64_t *out)
{
	static const char key[] = "\nRssFile:";
	char buf[INDEX_STATUS_MAX], *s, *e;
	unsigned long long kb;
	ssize_t n;

	n = pread(tr->status_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	s = strstr(buf, key);
	if (!s)
		return -EIO;
	s += sizeof(key) - 1;
	errno = 0;
	kb = strtoull(s, &e, 10);
	if (errno || e == s || kb > UINT64_MAX >> 10)
		return -EIO;
	*out = (uint64_t)kb << 10;
	return 0;
}

/* Trims and sets the floor to the file-backed resident bytes just after. Failures are logged
 * once per kind; the floor still moves, so a failing trim is retried only after the budget
 * again. */
static void
index_trimmer_trim(struct index_trimmer *tr)
{
	int rc = index_map_trim(tr->ix);

	if (rc < 0 && rc != -EAGAIN && rc != tr->last_rc)
		log_warn("index: cannot drop the map's resident pages: %s", cairn_strerror(rc));
	tr->last_rc = rc;
	if (index_rss_file(tr, &tr->floor) < 0)
		tr->floor = 0;
}

static void
index_trimmer_tick(void *arg)
{
	struct index_trimmer *tr = arg;
	uint64_t rss;

	if (index_rss_file(tr, &rss) == 0 && rss > tr->floor && rss - tr->floor > tr->budget)
		index_trimmer_trim(tr);
}

int
index_trimmer_start(struct index *ix, uint64_t budget)
{
	struct index_trimmer *tr;
	int rc;

	if (budget == 0)
		return 0;
	if (ix->trimmer)
		return -EALREADY;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		abort();
	tr->ix = ix;
	tr->budget = budget;
	tr->status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (tr->status_fd < 0) {
		rc = -errno;
		free(tr);
		return rc;
	}
	/* The floor starts from a trim, so that what the opening mapped is not counted. */
	index_trimmer_trim(tr);
	rc = ticker_start(INDEX_TRIM_INTERVAL_MS, index_trimmer_tick, tr, &tr->ticker);
	if (rc < 0) {
		close(tr->status_fd);
		free(tr);
		return rc;
	}
	ix->trimmer = tr;
	log_info("index: keeping at most %.1f MiB of the index map resident",
		 (double)budget / (1 << 20));
	return 0;
}

void
index_trimmer_stop(struct index *ix)
{
	struct index_trimmer *tr = ix->trimmer;

	if (!tr)
		return;
	ticker_stop(tr->ticker);
	ix->trimmer = NULL;
	close(tr->status_fd);
	free(tr);
}
