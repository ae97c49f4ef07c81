/*
 * http.h — the libmicrohttpd front end: listens, turns each HTTP request into a server_req
 * (server.h), streams request bodies into it as they arrive and streams responses out.
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION) plus MHD's listening
 * thread, so a blocking engine call (fdatasync at commit, an LMDB write) holds up only its own
 * connection. Connections are capped (max_connections) and idle ones time out (timeout_s).
 *
 * Ownership: everything taken from libmicrohttpd is copied into the request during the callback.
 * Each request's state (struct http_req, private to http.c) is reference-counted: one reference
 * for the request, dropped in MHD's completion callback (which also aborts an unfinished put, so a
 * client that disconnects mid-upload leaves no trace), and one for a streamed response body,
 * dropped when libmicrohttpd frees the response. The last reference frees it.
 *
 * Every response carries x-amz-request-id, x-amz-id-2 and "Server: cairn". One access-log line
 * per request goes to stderr through log.h: method, bucket, key, status, body bytes sent,
 * duration in ms, request id.
 */
#ifndef CAIRN_HTTP_H
#define CAIRN_HTTP_H

#include <stdint.h>

#include "cairn/server.h"

struct http_config {
	const char *host;	  /* numeric address or name to bind */
	uint16_t port;		  /* 0 picks a free port (see http_port()) */
	unsigned max_connections; /* concurrent connections */
	unsigned timeout_s;	  /* idle connection timeout, seconds */
};

struct http_server;

/* Binds and starts serving srv (borrowed: it must outlive the http_server). Returns 0, -errno
 * (-EADDRINUSE, -EACCES …), CAIRN_E_INVAL for an address that does not resolve, or -EIO when
 * libmicrohttpd refuses to start. */
int http_start(const struct http_config *cfg, struct server *srv, struct http_server **out);

/* The port actually bound. */
uint16_t http_port(const struct http_server *hs);

/* Stops accepting new connections; requests in flight go on. Idempotent. */
void http_quiesce(struct http_server *hs);

/* Number of requests between their request line and their completion right now. */
unsigned http_inflight(const struct http_server *hs);

/* Closes every connection (requests still running fail), waits for the connection threads and
 * frees hs. NULL is a no-op. */
void http_stop(struct http_server *hs);

#endif
