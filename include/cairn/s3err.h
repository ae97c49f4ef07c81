/*
 * s3err.h — the one table of S3 errors: HTTP status, S3 <Code>, default <Message>.
 *
 * Every S3-facing failure in cairn ends as an enum s3_error. This module owns the mapping from
 * that enum to the HTTP status and the XML error document, and the mapping from cairn's internal
 * return codes (-errno, CAIRN_E_*) to an enum s3_error. It does no I/O and keeps no state: the
 * table is const data.
 *
 * It does not decide *which* error a request gets (the S3 operations do), nor send anything.
 */
#ifndef CAIRN_S3ERR_H
#define CAIRN_S3ERR_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/buf.h"

enum s3_error {
	S3E_OK = 0,				  /* not an error; s3err_*() treat it as 200 "OK" */
	S3E_ACCESS_DENIED,			  /* 403 AccessDenied */
	S3E_ACCOUNT_PROBLEM,			  /* 403 AccountProblem */
	S3E_AUTHORIZATION_HEADER_MALFORMED,	  /* 400 AuthorizationHeaderMalformed */
	S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR, /* 400 AuthorizationQueryParametersError */
	S3E_BAD_DIGEST,				  /* 400 BadDigest */
	S3E_BUCKET_ALREADY_EXISTS,		  /* 409 BucketAlreadyExists */
	S3E_BUCKET_ALREADY_OWNED_BY_YOU,	  /* 409 BucketAlreadyOwnedByYou */
	S3E_BUCKET_NOT_EMPTY,			  /* 409 BucketNotEmpty */
	S3E_ENTITY_TOO_LARGE,			  /* 400 EntityTooLarge */
	S3E_ENTITY_TOO_SMALL,			  /* 400 EntityTooSmall */
	S3E_EXPIRED_TOKEN,			  /* 400 ExpiredToken */
	S3E_INCOMPLETE_BODY,			  /* 400 IncompleteBody */
	S3E_INTERNAL_ERROR,			  /* 500 InternalError */
	S3E_INVALID_ACCESS_KEY_ID,		  /* 403 InvalidAccessKeyId */
	S3E_INVALID_ARGUMENT,			  /* 400 InvalidArgument */
	S3E_INVALID_BUCKET_NAME,		  /* 400 InvalidBucketName */
	S3E_INVALID_BUCKET_STATE,		  /* 409 InvalidBucketState */
	S3E_INVALID_DIGEST,			  /* 400 InvalidDigest */
	S3E_INVALID_LOCATION_CONSTRAINT,	  /* 400 InvalidLocationConstraint */
	S3E_INVALID_OBJECT_STATE,		  /* 403 InvalidObjectState */
	S3E_INVALID_PART,			  /* 400 InvalidPart */
	S3E_INVALID_PART_ORDER,			  /* 400 InvalidPartOrder */
	S3E_INVALID_RANGE,			  /* 416 InvalidRange */
	S3E_INVALID_REQUEST,			  /* 400 InvalidRequest */
	S3E_INVALID_STORAGE_CLASS,		  /* 400 InvalidStorageClass */
	S3E_INVALID_TOKEN,			  /* 400 InvalidToken */
	S3E_INVALID_URI,			  /* 400 InvalidURI */
	S3E_KEY_TOO_LONG,			  /* 400 KeyTooLongError */
	S3E_MALFORMED_XML,			  /* 400 MalformedXML */
	S3E_MALFORMED_POST_REQUEST,		  /* 400 MalformedPOSTRequest */
	S3E_MAX_MESSAGE_LENGTH_EXCEEDED,	  /* 400 MaxMessageLengthExceeded */
	S3E_METADATA_TOO_LARGE,			  /* 400 MetadataTooLarge */
	S3E_METHOD_NOT_ALLOWED,			  /* 405 MethodNotAllowed */
	S3E_MISSING_CONTENT_LENGTH,		  /* 411 MissingContentLength */
	S3E_MISSING_REQUEST_BODY,		  /* 400 MissingRequestBodyError */
	S3E_MISSING_SECURITY_HEADER,		  /* 400 MissingSecurityHeader */
	S3E_NO_SUCH_BUCKET,			  /* 404 NoSuchBucket */
	S3E_NO_SUCH_KEY,			  /* 404 NoSuchKey */
	S3E_NO_SUCH_UPLOAD,			  /* 404 NoSuchUpload */
	S3E_NO_SUCH_VERSION,			  /* 404 NoSuchVersion */
	S3E_NOT_IMPLEMENTED,			  /* 501 NotImplemented */
	S3E_NOT_MODIFIED,			  /* 304 NotModified — sent without a body */
	S3E_PRECONDITION_FAILED,		  /* 412 PreconditionFailed */
	S3E_REQUEST_TIME_TOO_SKEWED,		  /* 403 RequestTimeTooSkewed */
	S3E_REQUEST_TIMEOUT,			  /* 400 RequestTimeout */
	S3E_SIGNATURE_DOES_NOT_MATCH,		  /* 403 SignatureDoesNotMatch */
	S3E_SERVICE_UNAVAILABLE,		  /* 503 ServiceUnavailable */
	S3E_SLOW_DOWN,				  /* 503 SlowDown */
	S3E_TOO_MANY_BUCKETS,			  /* 400 TooManyBuckets */
	S3E_CONTENT_SHA256_MISMATCH,		  /* 400 XAmzContentSHA256Mismatch */
	S3E_INVALID_CHUNK_SIZE,			  /* 403 InvalidChunkSizeError */
	S3E_MALFORMED_TRAILER,			  /* 400 MalformedTrailerError */
	S3E_INSUFFICIENT_STORAGE,		  /* 507 InsufficientStorage */
	S3E_CONDITIONAL_REQUEST_CONFLICT,	  /* 409 ConditionalRequestConflict */
	S3E_UNEXPECTED_CONTENT,			  /* 400 UnexpectedContent */
	S3E_REQUEST_HEADER_SECTION_TOO_LARGE,	  /* 400 RequestHeaderSectionTooLarge */
	S3E_INVALID_PART_NUMBER,		  /* 416 InvalidPartNumber */
	S3E_COUNT				  /* number of entries; not an error */
};

/* One row of the table. Strings are static. */
struct s3_error_info {
	int status;	     /* HTTP status, e.g. 404 */
	const char *code;    /* S3 <Code>, e.g. "NoSuchKey" */
	const char *message; /* default <Message> */
};

/* Returns the row for e; an out-of-range e yields the InternalError row. Never NULL; static. */
const struct s3_error_info *s3err_info(enum s3_error e);

/* Shorthands for s3err_info(e)->status / ->code / ->message. */
int s3err_status(enum s3_error e);
const char *s3err_code(enum s3_error e);
const char *s3err_message(enum s3_error e);

/* True when the response for e carries an XML error document (false for NotModified and S3E_OK).
 * HEAD responses never carry a body either; that is the caller's business. */
bool s3err_has_body(enum s3_error e);

/* Looks up an error by its S3 code (exact, case-sensitive, e.g. "NoSuchKey"). Returns the enum, or
 * S3E_COUNT when code is unknown. For tests and tools. */
enum s3_error s3err_from_code(const char *code);

/* Maps a cairn return code to the S3 error a client should see:
 *   0 → S3E_OK; CAIRN_E_NOTFOUND → S3E_NO_SUCH_KEY (callers that know a bucket or upload is
 *   missing pick NoSuchBucket / NoSuchUpload themselves); CAIRN_E_EXISTS →
 *   S3E_BUCKET_ALREADY_OWNED_BY_YOU; CAIRN_E_TOOBIG → S3E_ENTITY_TOO_LARGE; CAIRN_E_INVAL →
 *   S3E_INVALID_ARGUMENT; CAIRN_E_NOTEMPTY → S3E_BUCKET_NOT_EMPTY; CAIRN_E_PRECONDITION →
 *   S3E_PRECONDITION_FAILED; CAIRN_E_NOKEY → S3E_NO_SUCH_KEY; CAIRN_E_BADDIGEST → S3E_BAD_DIGEST; CAIRN_E_RETRY → S3E_SLOW_DOWN;
 *   CAIRN_E_READONLY → S3E_SERVICE_UNAVAILABLE; -ENOSPC / -EDQUOT → S3E_INSUFFICIENT_STORAGE;
 *   -ENOMEM / -EAGAIN / -EMFILE / -ENFILE → S3E_SLOW_DOWN; -ETIMEDOUT → S3E_REQUEST_TIMEOUT;
 *   -ENAMETOOLONG → S3E_KEY_TOO_LONG; everything else (CAIRN_E_CORRUPT, -EIO, unknown) →
 *   S3E_INTERNAL_ERROR. */
enum s3_error s3err_from_cairn(int rc);

/* An extra element of the error document, e.g. {"BucketName", "photos"}. */
struct s3err_extra {
	const char *name;  /* element name; static text chosen by cairn, not escaped */
	const char *value; /* NUL-terminated; escaped on output; NULL skips the element */
};

/* Appends the XML error document for e to out:
 *   <?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>…</Code><Message>…</Message>
 *   [extras…]<Resource>…</Resource><RequestId>…</RequestId></Error>
 * message NULL uses the table's default; resource and request_id NULL omit those elements; extra
 * may be NULL when n_extra is 0. Text is XML-escaped. Returns 0, or CAIRN_E_TOOBIG when out's
 * maximum is reached (out then holds a partial document; reset it). Does not check
 * s3err_has_body(): rendering NotModified is allowed but pointless. */
int s3err_render(struct buf *out, enum s3_error e, const char *message, const char *resource,
		 const char *request_id, const struct s3err_extra *extra, size_t n_extra);

#endif
