#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "cairn/err.h"
#include "cairn/http.h"
#include "cairn/log.h"

/* Per-connection memory libmicrohttpd may use: request headers, the read buffer the body passes
 * through and the write buffer of streamed responses. */
#define HTTP_CONN_MEMORY (128u << 10)
#define HTTP_STREAM_BLOCK (64u << 10)

struct http_server {
	struct MHD_Daemon *mhd;
	struct server *srv;
	bool quiesced;
	uint16_t port;
	atomic_uint inflight;
};

/* One request. See http.h for the two references. */
struct http_req {
	atomic_int refs;
	struct http_server *hs;
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

/* MHD_OPTION_URI_LOG_CALLBACK: the first thing MHD reports of a request, with the request-target
 * still raw (percent-encoded, query attached) — which is what SigV4 needs. */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server *hs = cls;
	struct http_req *hr = calloc(1, sizeof(*hr));

	(void)c;
	if (!hr)
		abort();
	atomic_init(&hr->refs, 1);
	hr->hs = hs;
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
	log_info("%s /%s/%s %s %d %llu %ldms %s%s", q->method[0] ? q->method : "-", bucket, key,
		 router_op_name(hr->sr->op), hr->status, (unsigned long long)hr->sent, ms,
		 hr->sr->request_id, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
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
	http_access_log(hr, toe);
	atomic_fetch_sub(&hs->inflight, 1);
	http_req_release(hr);
}

/* ---- responses ---- */

static ssize_t
http_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_req *hr = cls;
	struct slice span;
	int rc;

	(void)pos;
	if (hr->remaining == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > hr->remaining)
		max = (size_t)hr->remaining;
	rc = store_get_next(hr->get, max, &span);
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
	if (!hr->started) {
		if (http_begin(hr, c, method))
			return http_respond(hr, c);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!hr->responded)
			server_req_body(hr->sr, (const uint8_t *)upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (hr->responded)
		return MHD_YES;
	server_req_end(hr->sr);
	return http_respond(hr, c);
}

/* ---- the daemon ---- */

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	log_warn("libmicrohttpd: %s", line);
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

int
http_start(const struct http_config *cfg, struct server *srv, struct http_server **out)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct http_server *hs;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc;

	rc = http_resolve(cfg, &ss, &sslen);
	if (rc < 0)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		abort();
	/* The logger goes first so that complaints about later options reach it. Function
	 * pointers travel as intptr_t in MHD_OPTION_ARRAY, as microhttpd.h prescribes. */
	struct MHD_OptionItem opts[] = {
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, NULL},
	    {MHD_OPTION_SOCK_ADDR, 0, &ss},
	    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout_s, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)HTTP_CONN_MEMORY, NULL},
	    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)http_uri_log, hs},
	    {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)http_unescape, NULL},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, hs},
	    {MHD_OPTION_END, 0, NULL},
	};
	hs->srv = srv;
	atomic_init(&hs->inflight, 0);
	errno = 0;
	hs->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, http_access, hs, MHD_OPTION_ARRAY,
				   opts, MHD_OPTION_END);
	if (!hs->mhd) {
		rc = errno ? -errno : -EIO;
		free(hs);
		return rc;
	}
	hs->port = http_bound_port(hs->mhd);
	*out = hs;
	return 0;
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
	MHD_stop_daemon(hs->mhd);
	free(hs);
}
