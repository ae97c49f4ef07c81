/*
 * http.h — the libmicrohttpd front end: listens, turns each HTTP request into a server_req
 * (server.h), streams request bodies into it as they arrive and streams responses out.
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION, with a small stack) plus
 * MHD's listening thread, so a blocking engine call (fdatasync at commit, an LMDB write) holds up
 * only its own connection, and a watchdog thread that enforces the time limits MHD lacks.
 *
 * Limits (docs/limits.md): idle connections time out (timeout_s). A connection past
 * max_connections is still accepted, up to an overflow of max_connections / 8 (at least 8)
 * more, and each of its requests is answered 503 SlowDown with "Connection: close"; beyond that
 * libmicrohttpd closes new connections at once. The watchdog cuts a connection whose request
 * header section is not complete header_timeout_s after the connection opened or its previous
 * request ended (slowloris), one whose request body averages less than body_min_rate bytes/s
 * over body_rate_window_s (time the server itself spends in the handler is not counted; the
 * client gets 400 RequestTimeout when nothing else is being written), and one whose client takes
 * a streamed response body (an object) at less than send_min_rate bytes/s over
 * send_rate_window_s (bytes handed to libmicrohttpd, whose buffers and the socket's absorb the
 * first few MB; time spent reading the store is not counted); a log line is written for each (at most
 * HTTP_LOG_BURST such lines a second; the rest are counted).
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
	const char *host;	     /* numeric address or name to bind */
	uint16_t port;		     /* 0 picks a free port (see http_port()) */
	unsigned max_connections;    /* concurrent connections served normally */
	unsigned timeout_s;	     /* idle connection timeout, seconds */
	unsigned header_timeout_s;   /* time to a complete header section, seconds; 0 = none */
	uint64_t body_min_rate;	     /* bytes/s a body must average over the window; 0 = none */
	unsigned body_rate_window_s; /* that window, seconds (0 counts as 1) */
	uint64_t send_min_rate;	     /* bytes/s a client must take a streamed response body at,
					averaged over send_rate_window_s; 0 = none */
	unsigned send_rate_window_s; /* that window, seconds (0 counts as 1) */
};

#define HTTP_LOG_BURST 10 /* limit-event log lines per second */

/* The connections libmicrohttpd admits for max_connections: the limit plus the overflow that is
 * answered 503 SlowDown. */
unsigned http_connection_cap(unsigned max_connections);

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
