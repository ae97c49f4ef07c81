#include <errno.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/s3err.h"
#include "cairn/xml.h"

/* The one table. Messages follow the AWS S3 error-response documentation. */
static const struct s3_error_info s3err_table[S3E_COUNT] = {
    [S3E_OK] = {200, "OK", "OK"},
    [S3E_ACCESS_DENIED] = {403, "AccessDenied", "Access Denied"},
    [S3E_ACCOUNT_PROBLEM] = {403, "AccountProblem",
			     "There is a problem with your account that prevents the "
			     "operation from completing successfully."},
    [S3E_AUTHORIZATION_HEADER_MALFORMED] = {400, "AuthorizationHeaderMalformed",
					    "The authorization header you provided is "
					    "invalid."},
    [S3E_AUTHORIZATION_QUERY_PARAMETERS_ERROR] =
	{400, "AuthorizationQueryParametersError",
	 "Query-string authentication version 4 requires the X-Amz-Algorithm, "
	 "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
	 "X-Amz-Expires parameters."},
    [S3E_BAD_DIGEST] = {400, "BadDigest",
			"The Content-MD5 or checksum you specified did not match what we "
			"received."},
    [S3E_BUCKET_ALREADY_EXISTS] = {409, "BucketAlreadyExists",
				   "The requested bucket name is not available. The bucket "
				   "namespace is shared by all users of the system. Please "
				   "select a different name and try again."},
    [S3E_BUCKET_ALREADY_OWNED_BY_YOU] = {409, "BucketAlreadyOwnedByYou",
					 "Your previous request to create the named bucket "
					 "succeeded and you already own it."},
    [S3E_BUCKET_NOT_EMPTY] = {409, "BucketNotEmpty", "The bucket you tried to delete is not empty"},
    [S3E_ENTITY_TOO_LARGE] = {400, "EntityTooLarge",
			      "Your proposed upload exceeds the maximum allowed size"},
    [S3E_ENTITY_TOO_SMALL] = {400, "EntityTooSmall",
			      "Your proposed upload is smaller than the minimum allowed "
			      "object size."},
    [S3E_EXPIRED_TOKEN] = {400, "ExpiredToken", "The provided token has expired."},
    [S3E_INCOMPLETE_BODY] = {400, "IncompleteBody",
			     "You did not provide the number of bytes specified by the "
			     "Content-Length HTTP header."},
    [S3E_INTERNAL_ERROR] = {500, "InternalError",
			    "We encountered an internal error. Please try again."},
    [S3E_INVALID_ACCESS_KEY_ID] = {403, "InvalidAccessKeyId",
				   "The AWS Access Key Id you provided does not exist in "
				   "our records."},
    [S3E_INVALID_ARGUMENT] = {400, "InvalidArgument", "Invalid Argument"},
    [S3E_INVALID_BUCKET_NAME] = {400, "InvalidBucketName", "The specified bucket is not valid."},
    [S3E_INVALID_BUCKET_STATE] = {409, "InvalidBucketState",
				  "The request is not valid with the current state of "
				  "the bucket."},
    [S3E_INVALID_DIGEST] = {400, "InvalidDigest", "The Content-MD5 you specified is not valid."},
    [S3E_INVALID_LOCATION_CONSTRAINT] = {400, "InvalidLocationConstraint",
					 "The specified location constraint is not valid."},
    [S3E_INVALID_OBJECT_STATE] = {403, "InvalidObjectState",
				  "The operation is not valid for the current state of "
				  "the object."},
    [S3E_INVALID_PART] = {400, "InvalidPart",
			  "One or more of the specified parts could not be found. The part "
			  "may not have been uploaded, or the specified entity tag may not "
			  "match the part's entity tag."},
    [S3E_INVALID_PART_ORDER] = {400, "InvalidPartOrder",
				"The list of parts was not in ascending order. Parts must "
				"be ordered by part number."},
    [S3E_INVALID_RANGE] = {416, "InvalidRange", "The requested range is not satisfiable"},
    [S3E_INVALID_REQUEST] = {400, "InvalidRequest", "Invalid Request"},
    [S3E_INVALID_STORAGE_CLASS] = {400, "InvalidStorageClass",
				   "The storage class you specified is not valid"},
    [S3E_INVALID_TOKEN] = {400, "InvalidToken",
			   "The provided token is malformed or otherwise invalid."},
    [S3E_INVALID_URI] = {400, "InvalidURI", "Couldn't parse the specified URI."},
    [S3E_KEY_TOO_LONG] = {400, "KeyTooLongError", "Your key is too long"},
    [S3E_MALFORMED_XML] = {400, "MalformedXML",
			   "The XML you provided was not well-formed or did not validate "
			   "against our published schema"},
    [S3E_MALFORMED_POST_REQUEST] = {400, "MalformedPOSTRequest",
				    "The body of your POST request is not well-formed "
				    "multipart/form-data."},
    [S3E_MAX_MESSAGE_LENGTH_EXCEEDED] = {400, "MaxMessageLengthExceeded",
					 "Your request was too big."},
    [S3E_METADATA_TOO_LARGE] = {400, "MetadataTooLarge",
				"Your metadata headers exceed the maximum allowed "
				"metadata size."},
    [S3E_METHOD_NOT_ALLOWED] = {405, "MethodNotAllowed",
				"The specified method is not allowed against this "
				"resource."},
    [S3E_MISSING_CONTENT_LENGTH] = {411, "MissingContentLength",
				    "You must provide the Content-Length HTTP header."},
    [S3E_MISSING_REQUEST_BODY] = {400, "MissingRequestBodyError", "Request Body is empty"},
    [S3E_MISSING_SECURITY_HEADER] = {400, "MissingSecurityHeader",
				     "Your request is missing a required header."},
    [S3E_NO_SUCH_BUCKET] = {404, "NoSuchBucket", "The specified bucket does not exist"},
    [S3E_NO_SUCH_KEY] = {404, "NoSuchKey", "The specified key does not exist."},
    [S3E_NO_SUCH_UPLOAD] = {404, "NoSuchUpload",
			    "The specified multipart upload does not exist. The upload ID "
			    "may be invalid, or the upload may have been aborted or "
			    "completed."},
    [S3E_NO_SUCH_VERSION] = {404, "NoSuchVersion", "The specified version does not exist."},
    [S3E_NOT_IMPLEMENTED] = {501, "NotImplemented",
			     "A header you provided implies functionality that is not "
			     "implemented."},
    [S3E_NOT_MODIFIED] = {304, "NotModified", "Not Modified"},
    [S3E_PRECONDITION_FAILED] = {412, "PreconditionFailed",
				 "At least one of the pre-conditions you specified did "
				 "not hold"},
    [S3E_REQUEST_TIME_TOO_SKEWED] = {403, "RequestTimeTooSkewed",
				     "The difference between the request time and the "
				     "server's time is too large."},
    [S3E_REQUEST_TIMEOUT] = {400, "RequestTimeout",
			     "Your socket connection to the server was not read from or "
			     "written to within the timeout period."},
    [S3E_SIGNATURE_DOES_NOT_MATCH] = {403, "SignatureDoesNotMatch",
				      "The request signature we calculated does not match "
				      "the signature you provided. Check your key and "
				      "signing method."},
    [S3E_SERVICE_UNAVAILABLE] = {503, "ServiceUnavailable",
				 "The service is unable to handle the request right now. "
				 "Please retry."},
    [S3E_SLOW_DOWN] = {503, "SlowDown", "Please reduce your request rate."},
    [S3E_TOO_MANY_BUCKETS] = {400, "TooManyBuckets",
			      "You have attempted to create more buckets than allowed"},
    [S3E_CONTENT_SHA256_MISMATCH] = {400, "XAmzContentSHA256Mismatch",
				     "The provided 'x-amz-content-sha256' header does not "
				     "match what was computed."},
    [S3E_INVALID_CHUNK_SIZE] = {403, "InvalidChunkSizeError",
				"The size of a chunk of the aws-chunked body is not "
				"valid."},
    [S3E_MALFORMED_TRAILER] = {400, "MalformedTrailerError",
			       "The request contained trailing data that was not "
			       "well-formed or did not conform to our published schema."},
    [S3E_INSUFFICIENT_STORAGE] = {507, "InsufficientStorage",
				  "Insufficient storage space to complete the request."},
    [S3E_CONDITIONAL_REQUEST_CONFLICT] = {409, "ConditionalRequestConflict",
					  "A conflicting operation occurred. Retry the "
					  "request."},
    [S3E_UNEXPECTED_CONTENT] = {400, "UnexpectedContent", "This request does not support content."},
    [S3E_REQUEST_HEADER_SECTION_TOO_LARGE] =
	{400, "RequestHeaderSectionTooLarge",
	 "Your request header section exceeds the maximum allowed size."},
    [S3E_INVALID_PART_NUMBER] = {416, "InvalidPartNumber",
				 "The requested partnumber is not satisfiable"},
};

const struct s3_error_info *
s3err_info(enum s3_error e)
{
	if ((unsigned)e >= S3E_COUNT)
		e = S3E_INTERNAL_ERROR;
	return &s3err_table[e];
}

int
s3err_status(enum s3_error e)
{
	return s3err_info(e)->status;
}

const char *
s3err_code(enum s3_error e)
{
	return s3err_info(e)->code;
}

const char *
s3err_message(enum s3_error e)
{
	return s3err_info(e)->message;
}

bool
s3err_has_body(enum s3_error e)
{
	return e != S3E_OK && e != S3E_NOT_MODIFIED;
}

enum s3_error
s3err_from_code(const char *code)
{
	int e;

	for (e = 0; e < S3E_COUNT; e++) {
		if (strcmp(s3err_table[e].code, code) == 0)
			return (enum s3_error)e;
	}
	return S3E_COUNT;
}

static enum s3_error
s3err_from_errno(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return S3E_INSUFFICIENT_STORAGE;
	case ENOMEM:
	case EAGAIN:
	case EMFILE:
	case ENFILE:
		return S3E_SLOW_DOWN;
	case ETIMEDOUT:
		return S3E_REQUEST_TIMEOUT;
	case ENAMETOOLONG:
		return S3E_KEY_TOO_LONG;
	default:
		return S3E_INTERNAL_ERROR;
	}
}

enum s3_error
s3err_from_cairn(int rc)
{
	if (rc >= 0)
		return S3E_OK;
	switch (rc) {
	case CAIRN_E_NOTFOUND:
		return S3E_NO_SUCH_KEY;
	case CAIRN_E_EXISTS:
		return S3E_BUCKET_ALREADY_OWNED_BY_YOU;
	case CAIRN_E_TOOBIG:
		return S3E_ENTITY_TOO_LARGE;
	case CAIRN_E_INVAL:
		return S3E_INVALID_ARGUMENT;
	case CAIRN_E_NOTEMPTY:
		return S3E_BUCKET_NOT_EMPTY;
	case CAIRN_E_PRECONDITION:
		return S3E_PRECONDITION_FAILED;
	case CAIRN_E_NOKEY:
		return S3E_NO_SUCH_KEY;
	case CAIRN_E_BADDIGEST:
		return S3E_BAD_DIGEST;
	case CAIRN_E_RETRY:
		return S3E_SLOW_DOWN;
	case CAIRN_E_READONLY:
		return S3E_SERVICE_UNAVAILABLE;
	default:
		break;
	}
	if (rc > CAIRN_E_BASE)
		return s3err_from_errno(-rc);
	return S3E_INTERNAL_ERROR;
}

static void
s3err_elem(struct xml_writer *w, const char *name, const char *value)
{
	if (value)
		xml_elem(w, name, value);
}

int
s3err_render(struct buf *out, enum s3_error e, const char *message, const char *resource,
	     const char *request_id, const struct s3err_extra *extra, size_t n_extra)
{
	const struct s3_error_info *info = s3err_info(e);
	struct xml_writer w;
	size_t i;

	xml_writer_init(&w, out);
	xml_open(&w, "Error");
	xml_elem(&w, "Code", info->code);
	xml_elem(&w, "Message", message ? message : info->message);
	for (i = 0; i < n_extra; i++)
		s3err_elem(&w, extra[i].name, extra[i].value);
	s3err_elem(&w, "Resource", resource);
	s3err_elem(&w, "RequestId", request_id);
	xml_close(&w);
	return xml_writer_finish(&w);
}
