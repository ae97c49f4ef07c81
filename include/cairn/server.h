/*
 * server.h — the S3 service over a store: one request's life from its headers to its response,
 * independent of the HTTP library that carries it.
 *
 * The HTTP layer (http.h) drives a request through these calls, all from the one thread that
 * serves the connection:
 *
 *   r = server_req_new(srv);                       // when the request line arrives
 *   s3req_set_target(&r->s3, …); s3req_add_header(&r->s3, …) …   // copies of what arrived
 *   if (server_req_begin(r)) → respond now         // routing, auth, op checks before the body
 *   server_req_body(r, p, len) …                   // body bytes as they arrive
 *   server_req_end(r);                             // body complete: run the op
 *   … send r->resp (server_resp_take_get() moves a streaming body out) …
 *   server_req_free(r);                            // always; aborts an unfinished put
 *
 * Errors go through server_req_fail(): the one table in s3err.h gives status and code, the body
 * is the S3 XML error document with the request id. After a failure while the body is still
 * coming, the rest of the body is read and dropped and the error is sent at the end.
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/auth.h"
#include "cairn/buf.h"
#include "cairn/payload.h"
#include "cairn/router.h"
#include "cairn/s3err.h"
#include "cairn/s3req.h"
#include "cairn/store.h"

#define SERVER_RESP_HEADERS_MAX (64 * 1024) /* bytes of response header names and values */
#define SERVER_RESP_BODY_MAX (16u << 20)    /* in-memory response bodies (listings) */
#define SERVER_XML_BODY_MAX (2u << 20)	    /* request bodies read into memory (XML) */
#define SERVER_REQUEST_ID_LEN 16
#define SERVER_HEADER_SECTION_MAX 8192 /* bytes of request headers, as S3 */

struct server_config {
	const char *region;	     /* copied */
	const char *domain;	     /* copied; "" = path-style only */
	const char *root_access_key; /* copied */
	const char *root_secret_key; /* copied; wiped by server_free() */
	uint64_t max_object_size;    /* bytes of one PutObject body */
};

/* The service. Fields are read-only after server_new(); ops read them directly. */
struct server {
	struct store *st; /* borrowed: outlives the server */
	char region[INDEX_REGION_MAX + 1];
	char domain[256];
	char root_access_key[SIGV4_ACCESS_KEY_MAX + 1];
	char root_secret_key[AUTH_SECRET_MAX + 1];
	uint64_t max_object_size;
	int64_t (*now)(void); /* Unix seconds; tests may replace it */
};

/* Creates the service over st (borrowed). Returns 0, or CAIRN_E_INVAL when a string is too long
 * or a root credential is empty. */
int server_new(const struct server_config *cfg, struct store *st, struct server **out);

/* Frees srv (wiping the root secret). No request may be live. NULL is a no-op. */
void server_free(struct server *srv);

/* What to send back. */
struct server_resp {
	int status;	       /* HTTP status; 0 until decided */
	enum s3_error err;     /* S3E_OK, or the error being sent */
	struct buf headers;    /* pairs "name\0value\0", capped at SERVER_RESP_HEADERS_MAX */
	struct buf body;       /* an in-memory body (XML, "ok") */
	struct store_get *get; /* or a streamed body: length bytes from get's position */
	uint64_t length;       /* streamed length; for HEAD the length of the entity */
	bool head;	       /* HEAD: headers as for GET with Content-Length = length, no body */
};

/* Adds a response header (copied). Returns 0 or CAIRN_E_TOOBIG. */
int server_resp_header(struct server_resp *resp, const char *name, const char *value);

/* Adds a response header from slices (copied). Returns 0 or CAIRN_E_TOOBIG. */
int server_resp_header_slice(struct server_resp *resp, struct slice name, struct slice value);

/* Iterates the headers: *pos starts at 0. Returns true and sets name/value (valid until resp
 * changes), false at the end. */
bool server_resp_header_next(const struct server_resp *resp, size_t *pos, const char **name,
			     const char **value);

/* Moves the streamed body's store_get out of resp: the caller closes it. NULL when none. */
struct store_get *server_resp_take_get(struct server_resp *resp);

enum server_body {
	SERVER_BODY_DISCARD, /* read and drop (also after an error) */
	SERVER_BODY_BUFFER,  /* collect into r->body (capped) */
	SERVER_BODY_STREAM,  /* hand to r->sink */
};

struct server_req {
	struct server *srv;
	struct s3req s3;			    /* filled by the HTTP layer */
	char request_id[SERVER_REQUEST_ID_LEN + 1]; /* random hex */
	char host_id[32];			    /* x-amz-id-2 */
	enum router_op op;
	bool authed;
	struct auth_result auth; /* valid when authed */
	bool payload_live;
	struct payload payload;
	enum server_body body_mode;
	struct buf body;      /* SERVER_BODY_BUFFER */
	payload_sink_fn sink; /* SERVER_BODY_STREAM */
	void *op_state;	      /* owned by the op; freed with the req */
	void (*op_state_free)(void *op_state);
	struct server_resp resp;
};

/* Allocates a request (fresh random request id). Aborts if memory cannot be had. */
struct server_req *server_req_new(struct server *srv);

/* Frees r and everything it owns: an unfinished put is aborted, a store_get still in the
 * response is closed, key material is wiped. NULL is a no-op. */
void server_req_free(struct server_req *r);

/* Runs everything that can be decided before the body: resolution, routing, authentication,
 * the op's own early checks. Returns true when r->resp is complete (send it without reading the
 * body), false to go on with the body. */
bool server_req_begin(struct server_req *r);

/* Feeds the next body bytes. Never fails: an error is recorded in r->resp and the rest of the
 * body is dropped. */
void server_req_body(struct server_req *r, const uint8_t *p, size_t len);

/* Ends the body and runs the operation; r->resp is complete afterwards. */
void server_req_end(struct server_req *r);

/* Replaces any response with the error e (message NULL: the table's). Returns e's status. For the
 * ops. */
int server_req_fail(struct server_req *r, enum s3_error e, const char *message);

/* server_req_fail() for a cairn return code (s3err_from_cairn()). */
int server_req_fail_rc(struct server_req *r, int rc);

/* Starts an XML response with status: replaces any response, sets Content-Type and returns the
 * (empty) body buf for an xml_writer. */
struct buf *server_req_xml(struct server_req *r, int status);

#endif
