#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/http.h"
#include "cairn/log.h"

/* Per-connection memory libmicrohttpd may use: request headers, the read buffer the body passes
 * through and the write buffer of streamed responses. libmicrohttpd 0.9.75 zeroes the whole pool
 * after every request (MHD_pool_reset), so all of it stays resident on a keep-alive connection:
 * this size is what each such connection costs (docs/limits.md). */
#define HTTP_CONN_MEMORY (64u << 10)
/* libmicrohttpd gives a request's read buffer half the pool and grows it (by an eighth of what
 * is free, while that is at least 1 KiB) only when fewer than this many bytes are free before a
 * read. At the pool size it tries before every read, so a body arrives in ~57 KiB recv() calls
 * instead of ~32 KiB ones (half the poll/recv pairs per GiB) for no extra memory: the pool is
 * resident anyway. Header allocations still get room: libmicrohttpd takes it back from the
 * read buffer's free part. */
#define HTTP_CONN_MEMORY_INCREMENT HTTP_CONN_MEMORY
#define HTTP_STREAM_BLOCK (64u << 10)
/* Connection threads: the deepest request path (LMDB, zstd, SigV4) stays far below 64 KiB of
 * stack; a small stack keeps thousands of connections cheap. ASan's redzones need more. */
#if defined(__SANITIZE_ADDRESS__)
#define HTTP_THREAD_STACK (2u << 20)
#else
#define HTTP_THREAD_STACK (256u << 10)
#endif
#define HTTP_OVERFLOW_MIN 8    /* connections past the limit still answered (503) */
#define HTTP_WATCH_TICK_MS 200 /* how often the watchdog looks at every connection */
#define HTTP_CUTS_LOGGED 16    /* cut connections described per watchdog pass */
#define HTTP_NS 1000000000ll

/* Kinds of limit events; each has its own log-line budget, so that libmicrohttpd's chatter
 * under a flood cannot crowd out the watchdog's lines. */
enum http_log_kind {
	HTTP_LOG_MHD,	   /* libmicrohttpd's messages (connection limit reached …) */
	HTTP_LOG_SLOWDOWN, /* 503 SlowDown past max_connections */
	HTTP_LOG_TIMEOUT,  /* the watchdog's cuts */
	HTTP_LOG_KINDS,
};

struct http_ratelog {
	atomic_llong sec;  /* the current second */
	atomic_uint count; /* lines in it */
	atomic_uint dropped;
};

enum http_phase {
	HTTP_PHASE_HEADERS, /* waiting for a request's header section */
	HTTP_PHASE_BODY,    /* headers handled; the body, if any, is arriving */
	HTTP_PHASE_BUSY,    /* the handler runs, or a response from memory is going out */
	HTTP_PHASE_SEND,    /* a streamed response body (an object) is going out */
};

/* One connection: libmicrohttpd's socket context, from NOTIFY_STARTED to NOTIFY_CLOSED. The
 * fields after `overflow` change under hs->lock only. libmicrohttpd closes fd only after
 * NOTIFY_CLOSED (which unlinks the connection under the lock), so the watchdog may write to and
 * shutdown() a listed connection's socket. */
struct http_conn {
	struct http_conn *prev, *next;
	int fd;
	bool overflow; /* opened past max_connections: every request gets 503 SlowDown */
	char peer[INET6_ADDRSTRLEN + 8];
	enum http_phase phase;
	bool cut;	       /* shut down by the watchdog */
	bool request_line;     /* a request line arrived in this HEADERS phase */
	bool responded;	       /* a response is queued: the watchdog writes nothing then */
	bool in_handler;       /* the connection's thread is handing body bytes on or reading
				  response bytes from the store */
	unsigned requests;     /* requests completed on this connection */
	int64_t since_ns;      /* HEADERS: phase start; BODY, SEND: rate window start */
	int64_t busy_ns;       /* BODY, SEND: the server's own time inside the window */
	uint64_t bytes;	       /* BODY: body bytes received so far; SEND: body bytes handed to
				  libmicrohttpd so far */
	uint64_t window_bytes; /* BODY, SEND: bytes at the window start */
	char request_id[SERVER_REQUEST_ID_LEN + 1];
};

struct http_server {
	struct MHD_Daemon *mhd;
	struct server *srv;
	bool quiesced;
	uint16_t port;
	atomic_uint inflight;
	unsigned max_connections;
	int64_t header_timeout_ns; /* 0: none */
	uint64_t body_min_rate;	   /* 0: none */
	uint64_t send_min_rate;	   /* 0: none */
	int64_t body_window_ns;
	int64_t send_window_ns;
	pthread_mutex_t lock; /* conns, nconns, stopping and the connections' mutable fields */
	pthread_cond_t wake;  /* the watchdog's tick, or its stop */
	struct http_conn *conns;
	unsigned nconns;
	bool stopping;
	bool watchdog_live;
	pthread_t watchdog;
	struct http_ratelog logs[HTTP_LOG_KINDS];
};

/* One request. See http.h for the two references. */
struct http_req {
	atomic_int refs;
	struct http_server *hs;
	struct http_conn *conn; /* the connection, until the completion callback */
	struct server_req *sr;
	bool started;	/* the access handler saw the headers */
	bool responded; /* a response was queued */
	int status;
	struct timespec t0;
	char *uri;	       /* raw request-target from the URI log callback; owned */
	struct store_get *get; /* streamed response body; owned */
	uint64_t remaining;    /* bytes of it still to send */
	uint64_t sent;	       /* body bytes handed to libmicrohttpd */
};

static void
http_req_release(struct http_req *hr)
{
	if (atomic_fetch_sub(&hr->refs, 1) != 1)
		return;
	store_get_close(hr->get);
	server_req_free(hr->sr);
	free(hr->uri);
	free(hr);
}

static int64_t
http_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * HTTP_NS + ts.tv_nsec;
}

unsigned
http_connection_cap(unsigned max_connections)
{
	unsigned extra = max_connections / 8;

	return max_connections + (extra < HTTP_OVERFLOW_MIN ? HTTP_OVERFLOW_MIN : extra);
}

/* Logs a limit event (warn), at most HTTP_LOG_BURST lines a second of each kind: a flood of
 * hostile connections must not become a flood of log lines. The first line after dropped ones
 * counts them. */
static void http_log_limit(struct http_server *hs, enum http_log_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
http_log_limit(struct http_server *hs, enum http_log_kind kind, const char *fmt, ...)
{
	struct http_ratelog *rl = &hs->logs[kind];
	long long sec = http_now_ns() / HTTP_NS, cur = atomic_load(&rl->sec);
	unsigned dropped;
	char line[512];
	va_list ap;

	if (cur != sec && atomic_compare_exchange_strong(&rl->sec, &cur, sec))
		atomic_store(&rl->count, 0);
	if (atomic_fetch_add(&rl->count, 1) >= HTTP_LOG_BURST) {
		atomic_fetch_add(&rl->dropped, 1);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	dropped = atomic_exchange(&rl->dropped, 0);
	if (dropped)
		log_warn("%s (%u similar lines dropped)", line, dropped);
	else
		log_warn("%s", line);
}

/* ---- connections ---- */

static void
http_conn_peer(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, n, "%s:%u", ip, port);
}

static struct http_conn *
http_conn_new(struct http_server *hs, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct http_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		abort();
	conn->fd = ci ? ci->connect_fd : -1;
	http_conn_peer(c, conn->peer, sizeof(conn->peer));
	pthread_mutex_lock(&hs->lock);
	conn->next = hs->conns;
	if (hs->conns)
		hs->conns->prev = conn;
	hs->conns = conn;
	hs->nconns++;
	conn->overflow = hs->nconns > hs->max_connections;
	conn->phase = HTTP_PHASE_HEADERS;
	conn->since_ns = http_now_ns();
	pthread_mutex_unlock(&hs->lock);
	return conn;
}

static void
http_conn_free(struct http_server *hs, struct http_conn *conn)
{
	if (!conn)
		return;
	pthread_mutex_lock(&hs->lock);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		hs->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	hs->nconns--;
	pthread_mutex_unlock(&hs->lock);
	free(conn);
}

/* MHD_OPTION_NOTIFY_CONNECTION: a connection opens or closes. */
static void
http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		 enum MHD_ConnectionNotificationCode code)
{
	struct http_server *hs = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = http_conn_new(hs, c);
		return;
	}
	http_conn_free(hs, *socket_context);
	*socket_context = NULL;
}

static struct http_conn *
http_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The request's headers are in: the handler takes over (the watchdog leaves the connection
 * alone while it runs). Returns false when the watchdog already cut the connection. */
static bool
http_conn_enter(struct http_server *hs, struct http_conn *conn, const char *request_id)
{
	bool ok;

	if (!conn)
		return true;
	pthread_mutex_lock(&hs->lock);
	ok = !conn->cut;
	conn->phase = HTTP_PHASE_BUSY;
	snprintf(conn->request_id, sizeof(conn->request_id), "%s", request_id);
	pthread_mutex_unlock(&hs->lock);
	return ok;
}

/* The first handler call is over: the body (if any) comes next and its rate window starts. */
static void
http_conn_await_body(struct http_server *hs, struct http_conn *conn, bool responded)
{
	if (!conn)
		return;
	pthread_mutex_lock(&hs->lock);
	conn->phase = HTTP_PHASE_BODY;
	conn->responded = responded;
	conn->since_ns = http_now_ns();
	conn->busy_ns = 0;
	conn->bytes = conn->window_bytes = 0;
	pthread_mutex_unlock(&hs->lock);
}

/* A streamed response body was queued: its rate window starts. */
static void
http_conn_sending(struct http_server *hs, struct http_conn *conn)
{
	if (!conn)
		return;
	pthread_mutex_lock(&hs->lock);
	conn->phase = HTTP_PHASE_SEND;
	conn->since_ns = http_now_ns();
	conn->busy_ns = 0;
	conn->bytes = conn->window_bytes = 0;
	pthread_mutex_unlock(&hs->lock);
}

/* The connection's thread starts work of the server's own (handing a body piece on, reading
 * response bytes): the watchdog leaves the connection alone meanwhile. Returns false when the
 * connection was cut. */
static bool
http_conn_io_begin(struct http_server *hs, struct http_conn *conn)
{
	bool ok;

	if (!conn)
		return true;
	pthread_mutex_lock(&hs->lock);
	ok = !conn->cut;
	conn->in_handler = true;
	pthread_mutex_unlock(&hs->lock);
	return ok;
}

/* That work, begun at t0, is done and moved len bytes: its time is the server's, not the
 * client's, and does not count against the rate. */
static void
http_conn_io_end(struct http_server *hs, struct http_conn *conn, size_t len, int64_t t0)
{
	if (!conn)
		return;
	pthread_mutex_lock(&hs->lock);
	conn->in_handler = false;
	conn->bytes += len;
	conn->busy_ns += http_now_ns() - t0;
	pthread_mutex_unlock(&hs->lock);
}

/* The body is complete: the operation runs and the response goes out. Returns false when the
 * connection was cut. */
static bool
http_conn_busy(struct http_server *hs, struct http_conn *conn)
{
	bool ok;

	if (!conn)
		return true;
	pthread_mutex_lock(&hs->lock);
	ok = !conn->cut;
	conn->phase = HTTP_PHASE_BUSY;
	pthread_mutex_unlock(&hs->lock);
	return ok;
}

/* Returns true when the watchdog cut conn (and sent 400 RequestTimeout where it could). */
static bool
http_conn_was_cut(struct http_server *hs, struct http_conn *conn)
{
	bool cut;

	if (!conn)
		return false;
	pthread_mutex_lock(&hs->lock);
	cut = conn->cut;
	pthread_mutex_unlock(&hs->lock);
	return cut;
}

/* A request line arrived (start) or a request ended (!start): the header deadline runs from the
 * end of the previous request, so an idle keep-alive connection ends after header_timeout too. */
static void
http_conn_request_edge(struct http_server *hs, struct http_conn *conn, bool start)
{
	if (!conn)
		return;
	pthread_mutex_lock(&hs->lock);
	if (start) {
		conn->request_line = true;
	} else {
		conn->phase = HTTP_PHASE_HEADERS;
		conn->since_ns = http_now_ns();
		conn->request_line = false;
		conn->responded = false;
		conn->request_id[0] = 0;
		conn->requests++;
	}
	pthread_mutex_unlock(&hs->lock);
}

/* ---- the watchdog: header deadline and body rate floor ---- */

/* What the watchdog did to one connection, logged after the lock is released. */
struct http_cut {
	char peer[INET6_ADDRSTRLEN + 8];
	char request_id[SERVER_REQUEST_ID_LEN + 1];
	bool body;	/* the request body was too slow */
	bool send;	/* the client took the response body too slowly */
	bool idle;	/* an idle keep-alive connection: no log line at warn */
	uint64_t bytes; /* body bytes in the failed window */
};

/* Writes "400 RequestTimeout" straight to the socket. Only while libmicrohttpd writes nothing on
 * the connection (no response queued, handler not running); never blocks. Best effort. */
static void
http_conn_send_timeout(const struct http_conn *conn)
{
	char head[320], id[SERVER_REQUEST_ID_LEN + 1];
	struct iovec iov[2];
	struct msghdr msg;
	struct buf body;
	uint8_t rnd[SERVER_REQUEST_ID_LEN / 2];
	int n;

	if (conn->request_id[0]) {
		memcpy(id, conn->request_id, sizeof(id));
	} else {
		if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		hex_encode(rnd, sizeof(rnd), id);
	}
	buf_init(&body, 4096);
	if (s3err_render(&body, S3E_REQUEST_TIMEOUT, NULL, NULL, id, NULL, 0) < 0)
		goto out_free_body;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d Bad Request\r\nContent-Type: application/xml\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\nx-amz-request-id: %s\r\n"
		     "Server: cairn\r\n\r\n",
		     s3err_status(S3E_REQUEST_TIMEOUT), body.len, id);
	iov[0] = (struct iovec){head, (size_t)n};
	iov[1] = (struct iovec){body.p, body.len};
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	(void)sendmsg(conn->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
out_free_body:
	buf_fini(&body);
}

/* Cuts conn: the 400 when it is safe to write, then shutdown() wakes the connection's thread,
 * which sees the end of the stream and closes the connection (aborting an unfinished put). */
static void
http_conn_cut(struct http_conn *conn, bool write_error)
{
	conn->cut = true;
	if (conn->fd < 0)
		return;
	if (write_error)
		http_conn_send_timeout(conn);
	shutdown(conn->fd, SHUT_RDWR);
}

/* Checks one connection; fills *cut and returns true when it was cut. Under hs->lock. */
static bool
http_watch_conn(struct http_server *hs, struct http_conn *conn, int64_t now, struct http_cut *cut)
{
	int64_t client_ns, window_ns;
	uint64_t got, rate;

	if (conn->cut)
		return false;
	if (conn->phase == HTTP_PHASE_HEADERS) {
		if (!hs->header_timeout_ns || now - conn->since_ns < hs->header_timeout_ns)
			return false;
		*cut = (struct http_cut){.body = false,
					 .idle = conn->requests > 0 && !conn->request_line};
		http_conn_cut(conn, conn->request_line);
	} else if ((conn->phase == HTTP_PHASE_BODY || conn->phase == HTTP_PHASE_SEND) &&
		   !conn->in_handler) {
		rate = conn->phase == HTTP_PHASE_BODY ? hs->body_min_rate : hs->send_min_rate;
		window_ns =
		    conn->phase == HTTP_PHASE_BODY ? hs->body_window_ns : hs->send_window_ns;
		client_ns = now - conn->since_ns - conn->busy_ns;
		if (!rate || client_ns < window_ns)
			return false;
		got = conn->bytes - conn->window_bytes;
		if ((double)got * HTTP_NS >= (double)rate * (double)client_ns) {
			conn->since_ns = now; /* fast enough: a new window */
			conn->busy_ns = 0;
			conn->window_bytes = conn->bytes;
			return false;
		}
		*cut = (struct http_cut){.body = conn->phase == HTTP_PHASE_BODY,
					 .send = conn->phase == HTTP_PHASE_SEND,
					 .bytes = got};
		/* a 400 only while nothing else is written: never in the middle of a response */
		http_conn_cut(conn, conn->phase == HTTP_PHASE_BODY && !conn->responded);
	} else {
		return false;
	}
	memcpy(cut->peer, conn->peer, sizeof(cut->peer));
	memcpy(cut->request_id, conn->request_id, sizeof(cut->request_id));
	return true;
}

static void
http_watch_log(struct http_server *hs, const struct http_cut *cut)
{
	unsigned window_s = (unsigned)(hs->body_window_ns / HTTP_NS);

	if (cut->idle) {
		log_debug("closing idle connection %s", cut->peer);
	} else if (cut->body) {
		http_log_limit(hs, HTTP_LOG_TIMEOUT,
			       "RequestTimeout: connection %s cut, request %s: body %llu bytes in "
			       "%u s, below %llu bytes/s",
			       cut->peer, cut->request_id[0] ? cut->request_id : "-",
			       (unsigned long long)cut->bytes, window_s,
			       (unsigned long long)hs->body_min_rate);
	} else if (cut->send) {
		http_log_limit(
		    hs, HTTP_LOG_TIMEOUT,
		    "slow reader: connection %s cut, request %s: response body %llu bytes "
		    "in %u s, below %llu bytes/s",
		    cut->peer, cut->request_id[0] ? cut->request_id : "-",
		    (unsigned long long)cut->bytes, (unsigned)(hs->send_window_ns / HTTP_NS),
		    (unsigned long long)hs->send_min_rate);
	} else {
		http_log_limit(hs, HTTP_LOG_TIMEOUT,
			       "RequestTimeout: connection %s cut: request header section not "
			       "complete after %lld s",
			       cut->peer, (long long)(hs->header_timeout_ns / HTTP_NS));
	}
}

/* One pass over every connection; returns false when the server stops. */
static bool
http_watch_pass(struct http_server *hs)
{
	struct http_cut cuts[HTTP_CUTS_LOGGED];
	struct http_conn *conn;
	size_t n = 0, i;
	unsigned more = 0;
	int64_t now = http_now_ns();
	bool live;

	pthread_mutex_lock(&hs->lock);
	for (conn = hs->conns; conn; conn = conn->next) {
		struct http_cut cut;

		if (!http_watch_conn(hs, conn, now, &cut))
			continue;
		if (n < HTTP_CUTS_LOGGED)
			cuts[n++] = cut;
		else
			more++;
	}
	live = !hs->stopping;
	pthread_mutex_unlock(&hs->lock);
	for (i = 0; i < n; i++)
		http_watch_log(hs, &cuts[i]);
	if (more)
		http_log_limit(hs, HTTP_LOG_TIMEOUT, "watchdog: %u more connections cut", more);
	return live;
}

static void *
http_watchdog_main(void *arg)
{
	struct http_server *hs = arg;
	struct timespec until;

	while (http_watch_pass(hs)) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += HTTP_WATCH_TICK_MS * 1000000l;
		if (until.tv_nsec >= HTTP_NS) {
			until.tv_sec++;
			until.tv_nsec -= HTTP_NS;
		}
		pthread_mutex_lock(&hs->lock);
		if (!hs->stopping)
			pthread_cond_timedwait(&hs->wake, &hs->lock, &until);
		pthread_mutex_unlock(&hs->lock);
	}
	return NULL;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first thing MHD reports of a request, with the request-target
 * still raw (percent-encoded, query attached) — which is what SigV4 needs. */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server *hs = cls;
	struct http_req *hr = calloc(1, sizeof(*hr));

	if (!hr)
		abort();
	atomic_init(&hr->refs, 1);
	hr->hs = hs;
	hr->conn = http_conn_of(c);
	http_conn_request_edge(hs, hr->conn, true);
	hr->sr = server_req_new(hs->srv);
	clock_gettime(CLOCK_MONOTONIC, &hr->t0);
	hr->uri = strndup(uri, S3REQ_TARGET_MAX + 1);
	if (!hr->uri)
		abort();
	atomic_fetch_add(&hs->inflight, 1);
	return hr;
}

/* MHD_OPTION_UNESCAPE_CALLBACK: keep everything raw; cairn decodes paths and queries itself. */
static size_t
http_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* Writes s into out (n bytes) with non-printable bytes as \xNN, truncated: log lines carry
 * client-chosen keys. */
static void
http_log_safe(const uint8_t *s, size_t len, char *out, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < len && o + 5 < n; i++) {
		uint8_t ch = s[i];

		if (ch > 0x20 && ch < 0x7f && ch != '\\') {
			out[o++] = (char)ch;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hexd[ch >> 4];
		out[o++] = hexd[ch & 15];
	}
	if (i < len && o + 3 < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
}

static void
http_access_log(struct http_req *hr, enum MHD_RequestTerminationCode toe)
{
	const struct s3req *q = &hr->sr->s3;
	char bucket[80], key[300];
	struct timespec t1;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - hr->t0.tv_sec) * 1000 + (t1.tv_nsec - hr->t0.tv_nsec) / 1000000;
	http_log_safe((const uint8_t *)q->bucket, strlen(q->bucket), bucket, sizeof(bucket));
	http_log_safe(q->key.p, q->key.len, key, sizeof(key));
	/* the resource as S3 names it: "/" for the service, "/bucket/" and "/bucket/key" below it
	 */
	log_info("%s /%s%s%s %s %d %llu %ldms %s%s", q->method[0] ? q->method : "-", bucket,
		 bucket[0] ? "/" : "", key, router_op_name(hr->sr->op), hr->status,
		 (unsigned long long)hr->sent, ms, hr->sr->request_id,
		 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
}

/* MHD_OPTION_NOTIFY_COMPLETED: the request is over (sent, failed, or the client went away). */
static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
	       enum MHD_RequestTerminationCode toe)
{
	struct http_server *hs = cls;
	struct http_req *hr = *con_cls;

	(void)c;
	if (!hr)
		return;
	*con_cls = NULL;
	if (!hr->responded && http_conn_was_cut(hs, hr->conn))
		hr->status = s3err_status(S3E_REQUEST_TIMEOUT);
	http_conn_request_edge(hs, hr->conn, false);
	hr->conn = NULL;
	http_access_log(hr, toe);
	atomic_fetch_sub(&hs->inflight, 1);
	http_req_release(hr);
}

/* ---- responses ---- */

static ssize_t
http_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_req *hr = cls;
	int64_t t0 = http_now_ns();
	struct slice span;
	int rc;

	(void)pos;
	if (hr->remaining == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > hr->remaining)
		max = (size_t)hr->remaining;
	if (!http_conn_io_begin(hr->hs, hr->conn))
		return MHD_CONTENT_READER_END_WITH_ERROR; /* cut: a reader too slow */
	rc = store_get_next(hr->get, max, &span);
	http_conn_io_end(hr->hs, hr->conn, rc < 0 ? 0 : span.len, t0);
	if (rc < 0 || span.len == 0) {
		log_error("request %s: read failed after %llu bytes: %s", hr->sr->request_id,
			  (unsigned long long)hr->sent,
			  rc < 0 ? cairn_strerror(rc) : "short object");
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	memcpy(out, span.p, span.len);
	hr->remaining -= span.len;
	hr->sent += span.len;
	return (ssize_t)span.len;
}

static void
http_reader_free(void *cls)
{
	http_req_release(cls);
}

static struct MHD_Response *
http_make_response(struct http_req *hr)
{
	struct server_resp *resp = &hr->sr->resp;
	struct MHD_Response *mr;

	if (!resp->get && !resp->head) {
		hr->sent = resp->body.len;
		return MHD_create_response_from_buffer(resp->body.len, resp->body.p,
						       MHD_RESPMEM_MUST_COPY);
	}
	if (resp->head && !resp->get && resp->body.len) {
		/* An error document for a HEAD request: MHD sends its length, not its bytes. */
		return MHD_create_response_from_buffer(resp->body.len, resp->body.p,
						       MHD_RESPMEM_MUST_COPY);
	}
	/* A streamed object body, or HEAD's entity length (the reader is then never called). */
	hr->get = server_resp_take_get(resp);
	hr->remaining = hr->get ? resp->length : 0;
	atomic_fetch_add(&hr->refs, 1);
	mr = MHD_create_response_from_callback(resp->length, HTTP_STREAM_BLOCK, http_reader, hr,
					       http_reader_free);
	if (!mr)
		http_req_release(hr);
	return mr;
}

static enum MHD_Result
http_respond(struct http_req *hr, struct MHD_Connection *c)
{
	struct server_resp *resp = &hr->sr->resp;
	struct MHD_Response *mr;
	const char *name, *value;
	enum MHD_Result ret;
	size_t pos = 0;

	hr->responded = true;
	hr->status = resp->status ? resp->status : 500;
	mr = http_make_response(hr);
	if (!mr)
		return MHD_NO;
	while (server_resp_header_next(resp, &pos, &name, &value))
		MHD_add_response_header(mr, name, value);
	MHD_add_response_header(mr, "x-amz-request-id", hr->sr->request_id);
	MHD_add_response_header(mr, "x-amz-id-2", hr->sr->host_id);
	MHD_add_response_header(mr, "Server", "cairn");
	ret = MHD_queue_response(c, (unsigned)hr->status, mr);
	MHD_destroy_response(mr);
	if (ret == MHD_YES && hr->get)
		http_conn_sending(hr->hs, hr->conn);
	return ret;
}

/* ---- requests ---- */

static enum MHD_Result
http_copy_header(void *cls, enum MHD_ValueKind kind, const char *name, const char *value)
{
	struct http_req *hr = cls;

	(void)kind;
	if (s3req_add_header(&hr->sr->s3, name, value ? value : "") < 0) {
		server_req_fail(hr->sr, S3E_REQUEST_HEADER_SECTION_TOO_LARGE, NULL);
		return MHD_NO;
	}
	return MHD_YES;
}

/* First call of a request: copy what MHD parsed and run everything that precedes the body.
 * Returns true when the response is already decided. */
static bool
http_begin(struct http_req *hr, struct MHD_Connection *c, const char *method)
{
	struct server_req *sr = hr->sr;
	int rc;

	hr->started = true;
	rc = s3req_set_target(&sr->s3, method, hr->uri);
	if (hr->conn && hr->conn->overflow) {
		http_log_limit(hr->hs, HTTP_LOG_SLOWDOWN,
			       "SlowDown: over max_connections (%u): 503 to %s, request %s",
			       hr->hs->max_connections, hr->conn->peer, sr->request_id);
		server_req_fail(sr, S3E_SLOW_DOWN, NULL);
		server_resp_header(&sr->resp, "Connection", "close");
		return true;
	}
	if (rc < 0) {
		server_req_fail(sr, S3E_INVALID_URI,
				rc == CAIRN_E_TOOBIG ? "Request target too long" : NULL);
		return true;
	}
	MHD_get_connection_values(c, MHD_HEADER_KIND, http_copy_header, hr);
	if (sr->resp.status)
		return true;
	return server_req_begin(sr);
}

/* The first handler call: the header section is complete. */
static enum MHD_Result
http_first_call(struct http_req *hr, struct MHD_Connection *c, const char *method)
{
	enum MHD_Result ret = MHD_YES;

	if (!http_conn_enter(hr->hs, hr->conn, hr->sr->request_id))
		return MHD_NO;
	if (http_begin(hr, c, method))
		ret = http_respond(hr, c);
	http_conn_await_body(hr->hs, hr->conn, hr->responded);
	return ret;
}

static enum MHD_Result
http_body_call(struct http_req *hr, const char *data, size_t *len)
{
	int64_t t0 = http_now_ns();
	size_t n = *len;

	if (!http_conn_io_begin(hr->hs, hr->conn))
		return MHD_NO;
	if (!hr->responded)
		server_req_body(hr->sr, (const uint8_t *)data, n);
	*len = 0;
	http_conn_io_end(hr->hs, hr->conn, n, t0);
	return MHD_YES;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_req *hr = *con_cls;

	(void)cls;
	(void)url;
	(void)version;
	if (!hr)
		return MHD_NO;
	if (!hr->started)
		return http_first_call(hr, c, method);
	if (*upload_data_size)
		return http_body_call(hr, upload_data, upload_data_size);
	if (hr->responded)
		return MHD_YES;
	if (!http_conn_busy(hr->hs, hr->conn))
		return MHD_NO;
	server_req_end(hr->sr);
	return http_respond(hr, c);
}

/* ---- the daemon ---- */

/* libmicrohttpd's complaints ("Server reached connection limit" under a flood) go through the
 * limit-event rate limit. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	http_log_limit(cls, HTTP_LOG_MHD, "libmicrohttpd: %s", line);
}

static int
http_resolve(const struct http_config *cfg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *res;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", cfg->port);
	rc = getaddrinfo(cfg->host, port, &hints, &res);
	if (rc != 0) {
		log_error("cannot resolve listen address %s: %s", cfg->host, gai_strerror(rc));
		return CAIRN_E_INVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static uint16_t
http_bound_port(struct MHD_Daemon *mhd)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

/* Allocates hs with the limits of cfg; no thread yet. */
static struct http_server *
http_server_new(const struct http_config *cfg, struct server *srv)
{
	struct http_server *hs = calloc(1, sizeof(*hs));
	pthread_condattr_t ca;
	size_t i;

	if (!hs)
		abort();
	hs->srv = srv;
	atomic_init(&hs->inflight, 0);
	for (i = 0; i < HTTP_LOG_KINDS; i++) {
		atomic_init(&hs->logs[i].sec, 0);
		atomic_init(&hs->logs[i].count, 0);
		atomic_init(&hs->logs[i].dropped, 0);
	}
	hs->max_connections = cfg->max_connections;
	hs->header_timeout_ns = (int64_t)cfg->header_timeout_s * HTTP_NS;
	hs->body_min_rate = cfg->body_min_rate;
	hs->send_min_rate = cfg->send_min_rate;
	hs->body_window_ns =
	    (int64_t)(cfg->body_rate_window_s ? cfg->body_rate_window_s : 1) * HTTP_NS;
	hs->send_window_ns =
	    (int64_t)(cfg->send_rate_window_s ? cfg->send_rate_window_s : 1) * HTTP_NS;
	pthread_mutex_init(&hs->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hs->wake, &ca);
	pthread_condattr_destroy(&ca);
	return hs;
}

/* Frees hs after its daemon and watchdog are gone; connections still listed (none, normally)
 * are freed too. */
static void
http_server_free(struct http_server *hs)
{
	while (hs->conns) {
		struct http_conn *next = hs->conns->next;

		free(hs->conns);
		hs->conns = next;
	}
	pthread_cond_destroy(&hs->wake);
	pthread_mutex_destroy(&hs->lock);
	free(hs);
}

static void
http_watchdog_stop(struct http_server *hs)
{
	pthread_mutex_lock(&hs->lock);
	hs->stopping = true;
	pthread_cond_signal(&hs->wake);
	pthread_mutex_unlock(&hs->lock);
	if (hs->watchdog_live)
		pthread_join(hs->watchdog, NULL);
	hs->watchdog_live = false;
}

static struct MHD_Daemon *
http_mhd_start(const struct http_config *cfg, struct http_server *hs,
	       const struct sockaddr_storage *ss)
{
	/* poll(), not select(): connection sockets may be numbered past FD_SETSIZE once
	 * RLIMIT_NOFILE is raised. */
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;

	if (ss->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The logger goes first so that complaints about later options reach it. Function
	 * pointers travel as intptr_t in MHD_OPTION_ARRAY, as microhttpd.h prescribes. */
	struct MHD_OptionItem opts[] = {
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, hs},
	    {MHD_OPTION_SOCK_ADDR, 0, (void *)ss},
	    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)http_connection_cap(cfg->max_connections),
	     NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout_s, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)HTTP_CONN_MEMORY, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (intptr_t)HTTP_CONN_MEMORY_INCREMENT, NULL},
	    {MHD_OPTION_THREAD_STACK_SIZE, (intptr_t)HTTP_THREAD_STACK, NULL},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_conn_notify, hs},
	    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)http_uri_log, hs},
	    {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)http_unescape, NULL},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, hs},
	    {MHD_OPTION_END, 0, NULL},
	};
	return MHD_start_daemon(flags, cfg->port, NULL, NULL, http_access, hs, MHD_OPTION_ARRAY,
				opts, MHD_OPTION_END);
}

int
http_start(const struct http_config *cfg, struct server *srv, struct http_server **out)
{
	struct http_server *hs;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc;

	rc = http_resolve(cfg, &ss, &sslen);
	if (rc < 0)
		return rc;
	hs = http_server_new(cfg, srv);
	errno = 0;
	hs->mhd = http_mhd_start(cfg, hs, &ss);
	if (!hs->mhd) {
		rc = errno ? -errno : -EIO;
		goto out_free_hs;
	}
	rc = -pthread_create(&hs->watchdog, NULL, http_watchdog_main, hs);
	if (rc < 0)
		goto out_stop_mhd;
	hs->watchdog_live = true;
	hs->port = http_bound_port(hs->mhd);
	*out = hs;
	return 0;
out_stop_mhd:
	MHD_stop_daemon(hs->mhd);
out_free_hs:
	http_server_free(hs);
	return rc;
}

uint16_t
http_port(const struct http_server *hs)
{
	return hs->port;
}

void
http_quiesce(struct http_server *hs)
{
	MHD_socket fd;

	if (hs->quiesced)
		return;
	hs->quiesced = true;
	/* Closing the listening socket now makes new connections fail at once (refused) instead
	 * of waiting in the backlog until the daemon stops. */
	fd = MHD_quiesce_daemon(hs->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

unsigned
http_inflight(const struct http_server *hs)
{
	return atomic_load(&((struct http_server *)hs)->inflight);
}

void
http_stop(struct http_server *hs)
{
	if (!hs)
		return;
	http_watchdog_stop(hs);
	MHD_stop_daemon(hs->mhd);
	http_server_free(hs);
}
