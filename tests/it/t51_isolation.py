#!/usr/bin/env python3
"""Cross-user isolation: user B ("bob") can do nothing to user A's ("alice") buckets, by any
operation, signed with SigV4 or SigV2 in headers, presigned with either, or unsigned.

Every operation is tried twice, once naming something of alice's that exists (her object, her
multipart upload) and once naming something that does not: both attempts must get the same
403 AccessDenied, never NoSuchKey or NoSuchUpload, and no response may carry anything of hers
(body bytes, ETag, Last-Modified, metadata, sizes, her user name). Afterwards alice's bucket,
her multipart upload and its part are exactly as they were, and bob's bucket holds nothing
copied out of hers.

t21 (IsolationTests) already checks the plain boto3 calls on existing keys; this suite adds
missing keys and uploads, the multipart family, UploadPartCopy and CopyObject in both
directions with conditions, every signing mode, and the leak checks.
"""

import hashlib
import hmac
import http.client
import os
import random
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import (  # noqa: E402
    REGION, CairnTestCase, ClientError, RawResponse, amz_now, canonical_query, md5_b64,
    parse_error, sha256_hex, sigv4_signing_key, uri_encode,
)

SECRET = bytes(random.getrandbits(8) for _ in range(7777))  # an unusual size, seen if leaked
LEAKY_HEADERS = ("etag", "last-modified", "content-range", "accept-ranges", "x-amz-version-id",
                 "x-amz-mp-parts-count", "x-amz-storage-class", "x-amz-copy-source-version-id")
AUTH_PARAMS = {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
               "x-amz-signedheaders", "x-amz-signature", "x-amz-security-token",
               "awsaccesskeyid", "signature", "expires"}


def send(method, url, body=None, headers=None):
    """One request to a full URL over a fresh connection; a RawResponse."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        target = u.path + ("?" + u.query if u.query else "")
        hdrs = dict(headers or {})
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def presign_v4(endpoint, creds, method, path, query, expires=300):
    """A SigV4 query-signed URL (only host signed, UNSIGNED-PAYLOAD), for the requests
    botocore's presigner cannot make (it chokes on DeleteObjects' body)."""
    now = amz_now()
    scope = "%s/%s/s3/aws4_request" % (now[:8], REGION)
    q = list(query) + [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                       ("X-Amz-Credential", "%s/%s" % (creds[0], scope)),
                       ("X-Amz-Date", now), ("X-Amz-Expires", str(expires)),
                       ("X-Amz-SignedHeaders", "host")]
    host = urllib.parse.urlsplit(endpoint).netloc
    canonical = "\n".join([method, uri_encode(path, safe="/-_.~"), canonical_query(q),
                           "host:%s\n" % host, "host", "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", now, scope,
                         sha256_hex(canonical.encode("utf-8"))])
    sig = hmac.new(sigv4_signing_key(creds[1], now[:8]), to_sign.encode(),
                   hashlib.sha256).hexdigest()
    return "%s%s?%s&X-Amz-Signature=%s" % (endpoint, uri_encode(path, safe="/-_.~"),
                                           canonical_query(q), sig)


def unsigned(url):
    """url without its presigning query parameters: an anonymous request."""
    u = urllib.parse.urlsplit(url)
    kept = [p for p in u.query.split("&")
            if p and urllib.parse.unquote(p.split("=", 1)[0]).lower() not in AUTH_PARAMS]
    return urllib.parse.urlunsplit(u._replace(query="&".join(kept)))


class IsolationTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.alice_creds = cls.add_user("alice")
        cls.bob_creds = cls.add_user("bob")
        cls.a = cls.client(cls.alice_creds)
        cls.b = cls.client(cls.bob_creds)
        cls.b2 = cls.client(cls.bob_creds, signature_version="s3")  # SigV2
        # botocore presigns S3 URLs with SigV2 unless told otherwise.
        cls.b4 = cls.client(cls.bob_creds, signature_version="s3v4")
        cls.abucket = cls.unique("iso-a")
        cls.bbucket = cls.unique("iso-b")
        cls.a.create_bucket(Bucket=cls.abucket)
        cls.b.create_bucket(Bucket=cls.bbucket)
        put = cls.a.put_object(Bucket=cls.abucket, Key="secret", Body=SECRET,
                               Metadata={"owner-note": "for-alice-only"})
        cls.secret_etag = put["ETag"]
        cls.a.put_object(Bucket=cls.abucket, Key="dir/nested", Body=b"nested secret")
        cls.b.put_object(Bucket=cls.bbucket, Key="mine", Body=b"bob's own")
        cls.aup = cls.a.create_multipart_upload(Bucket=cls.abucket, Key="mp-secret")["UploadId"]
        part = cls.a.upload_part(Bucket=cls.abucket, Key="mp-secret", UploadId=cls.aup,
                                 PartNumber=1, Body=SECRET)
        cls.apart_etag = part["ETag"]
        cls.bup = cls.b.create_multipart_upload(Bucket=cls.bbucket, Key="bob-mp")["UploadId"]
        cls.alice_before = cls.alice_state()

    @classmethod
    def alice_state(cls):
        objs = cls.a.list_objects_v2(Bucket=cls.abucket).get("Contents", [])
        ups = cls.a.list_multipart_uploads(Bucket=cls.abucket).get("Uploads", [])
        parts = cls.a.list_parts(Bucket=cls.abucket, Key="mp-secret", UploadId=cls.aup)
        return ([(o["Key"], o["ETag"], o["Size"]) for o in objs],
                [(u["Key"], u["UploadId"]) for u in ups],
                [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts.get("Parts", [])])

    def tearDown(self):
        self.assertEqual(self.alice_state(), self.alice_before, "alice's things changed")
        self.assertEqual(self.a.get_object(Bucket=self.abucket, Key="secret")["Body"].read(),
                         SECRET)
        keys = [o["Key"] for o in self.b.list_objects_v2(Bucket=self.bbucket)["Contents"]]
        self.assertEqual(keys, ["mine"], "bob's bucket gained something")
        parts = self.b.list_parts(Bucket=self.bbucket, Key="bob-mp", UploadId=self.bup)
        self.assertEqual(parts.get("Parts", []), [], "bob's upload got a part of alice's")

    # ---- the operations, each naming alice's thing (real=True) or a missing one ----

    def key(self, real):
        return "secret" if real else "no-such-key-%d" % random.randint(0, 1 << 30)

    def upload_id(self, real):
        return self.aup if real else "bm8tc3VjaC11cGxvYWQ" + str(random.randint(0, 1 << 30))

    def operations(self):
        """name -> (client method, params(real), HTTP method, body, extra headers)."""
        ab, bb = self.abucket, self.bbucket
        complete = (b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
                    b"</Part></CompleteMultipartUpload>" % self.apart_etag.encode())
        delete = b"<Delete><Object><Key>secret</Key></Object></Delete>"
        return {
            "GetObject": ("get_object", lambda r: dict(Bucket=ab, Key=self.key(r)),
                          "GET", None, {}),
            "GetObject range": ("get_object", lambda r: dict(Bucket=ab, Key=self.key(r),
                                                             Range="bytes=0-9"),
                                "GET", None, {"Range": "bytes=0-9"}),
            "GetObject partNumber": ("get_object", lambda r: dict(
                Bucket=ab, Key=self.key(r), PartNumber=1), "GET", None, {}),
            "GetObject if-match": ("get_object", lambda r: dict(
                Bucket=ab, Key=self.key(r), IfMatch=self.secret_etag), "GET", None,
                {"If-Match": self.secret_etag}),
            "GetObject if-none-match": ("get_object", lambda r: dict(
                Bucket=ab, Key=self.key(r), IfNoneMatch=self.secret_etag), "GET", None,
                {"If-None-Match": self.secret_etag}),
            "HeadObject": ("head_object", lambda r: dict(Bucket=ab, Key=self.key(r)),
                           "HEAD", None, {}),
            "PutObject": ("put_object", lambda r: dict(Bucket=ab, Key=self.key(r),
                                                       Body=b"bob was here"),
                          "PUT", b"bob was here", {}),
            "PutObject if-none-match": ("put_object", lambda r: dict(
                Bucket=ab, Key=self.key(r), Body=b"bob", IfNoneMatch="*"), "PUT", b"bob",
                {"If-None-Match": "*"}),
            "DeleteObject": ("delete_object", lambda r: dict(Bucket=ab, Key=self.key(r)),
                             "DELETE", None, {}),
            "DeleteObjects": ("delete_objects", lambda r: dict(Bucket=ab, Delete={
                "Objects": [{"Key": self.key(r)}]}), "POST", delete,
                {"Content-MD5": md5_b64(delete)}),
            "ListObjectsV2 prefix": ("list_objects_v2", lambda r: dict(
                Bucket=ab, Prefix=self.key(r)), "GET", None, {}),
            "ListObjects prefix": ("list_objects", lambda r: dict(Bucket=ab, Prefix=self.key(r)),
                                   "GET", None, {}),
            "HeadBucket": ("head_bucket", lambda r: dict(Bucket=ab), "HEAD", None, {}),
            "GetBucketLocation": ("get_bucket_location", lambda r: dict(Bucket=ab), "GET",
                                  None, {}),
            "DeleteBucket": ("delete_bucket", lambda r: dict(Bucket=ab), "DELETE", None, {}),
            "CreateMultipartUpload": ("create_multipart_upload", lambda r: dict(
                Bucket=ab, Key=self.key(r)), "POST", None, {}),
            "UploadPart": ("upload_part", lambda r: dict(
                Bucket=ab, Key="mp-secret" if r else self.key(r), UploadId=self.upload_id(r),
                PartNumber=2, Body=b"bob's part"), "PUT", b"bob's part", {}),
            "UploadPart over part 1": ("upload_part", lambda r: dict(
                Bucket=ab, Key="mp-secret", UploadId=self.upload_id(r), PartNumber=1,
                Body=b"bob's part"), "PUT", b"bob's part", {}),
            "ListParts": ("list_parts", lambda r: dict(
                Bucket=ab, Key="mp-secret" if r else self.key(r), UploadId=self.upload_id(r)),
                "GET", None, {}),
            "ListMultipartUploads": ("list_multipart_uploads", lambda r: dict(
                Bucket=ab, Prefix=self.key(r)), "GET", None, {}),
            "CompleteMultipartUpload": ("complete_multipart_upload", lambda r: dict(
                Bucket=ab, Key="mp-secret", UploadId=self.upload_id(r),
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": self.apart_etag}]}),
                "POST", complete, {}),
            "AbortMultipartUpload": ("abort_multipart_upload", lambda r: dict(
                Bucket=ab, Key="mp-secret", UploadId=self.upload_id(r)), "DELETE", None, {}),
            # Copies out of alice's bucket into bob's, and from bob's into alice's.
            "CopyObject out": ("copy_object", lambda r: dict(
                Bucket=bb, Key="stolen", CopySource={"Bucket": ab, "Key": self.key(r)}),
                "PUT", None, "copy-out"),
            "CopyObject out if-match": ("copy_object", lambda r: dict(
                Bucket=bb, Key="stolen", CopySource={"Bucket": ab, "Key": self.key(r)},
                CopySourceIfMatch=self.secret_etag), "PUT", None, "copy-out"),
            "CopyObject in": ("copy_object", lambda r: dict(
                Bucket=ab, Key=self.key(r), CopySource={"Bucket": bb, "Key": "mine"}),
                "PUT", None, "copy-in"),
            "UploadPartCopy out": ("upload_part_copy", lambda r: dict(
                Bucket=bb, Key="bob-mp", UploadId=self.bup, PartNumber=1,
                CopySource={"Bucket": ab, "Key": self.key(r)}), "PUT", None, "copy-out"),
            "UploadPartCopy out range": ("upload_part_copy", lambda r: dict(
                Bucket=bb, Key="bob-mp", UploadId=self.bup, PartNumber=1,
                CopySource={"Bucket": ab, "Key": self.key(r)}, CopySourceRange="bytes=0-99"),
                "PUT", None, "copy-out"),
        }

    # ---- what counts as denied, and as a leak ----

    def assertNoLeak(self, headers, body, what):
        for h in headers:
            self.assertFalse(h in LEAKY_HEADERS or h.startswith("x-amz-meta-")
                             or h.startswith("x-amz-checksum-"),
                             "%s: response header %s" % (what, h))
        self.assertNotEqual(headers.get("content-length"), str(len(SECRET)), what)
        for needle in (SECRET[:32], b"nested secret", b"for-alice-only", b"alice",
                       self.secret_etag.strip('"').encode(), self.apart_etag.strip('"').encode(),
                       b"NoSuchKey", b"NoSuchUpload", b"<Key>", b"<Size>", b"<ETag>"):
            self.assertNotIn(needle, body, "%s: the response carries %r" % (what, needle[:20]))

    def denied_raw(self, resp, what):
        self.assertEqual(resp.status, 403, "%s: %r" % (what, resp))
        if resp.body:
            self.assertEqual(parse_error(resp.body).get("Code"), "AccessDenied",
                             "%s: %r" % (what, resp))
        self.assertNoLeak(resp.headers, resp.body, what)
        return resp.status, parse_error(resp.body).get("Code")

    def denied_boto(self, client, method, params, what):
        try:
            getattr(client, method)(**params)
        except ClientError as e:
            err = e.response
            status = err["ResponseMetadata"]["HTTPStatusCode"]
            code = err.get("Error", {}).get("Code")
            self.assertEqual((status, code in ("AccessDenied", "403")), (403, True),
                             "%s: %s" % (what, err.get("Error")))
            self.assertNoLeak({k.lower(): v for k, v in
                               err["ResponseMetadata"].get("HTTPHeaders", {}).items()},
                              repr(err.get("Error")).encode(), what)
            return status, code
        self.fail("%s: succeeded" % what)

    # ---- the modes ----

    def run_header_signed(self, client, label):
        for name, (method, params, _, _, _) in self.operations().items():
            got = []
            for real in (True, False):
                what = "%s %s (%s)" % (label, name, "existing" if real else "missing")
                with self.subTest(op=name, real=real):
                    got.append(self.denied_boto(client, method, params(real), what))
            if len(got) == 2:
                self.assertEqual(got[0], got[1],
                                 "%s %s: existing and missing differ" % (label, name))

    def presigned_request(self, client, method, params, body, headers, v2):
        """(url, body, headers) of a presigned request for one operation. The URL is presigned
        for the operation itself, so that headers SigV2 signs (x-amz-copy-source …) are signed;
        they are sent as botocore formats them. Bodies travel beside the URL."""
        p = dict(params)
        p.pop("Body", None)
        p.pop("MultipartUpload", None)
        extra = {}
        if isinstance(headers, dict):
            extra.update(headers)
        if v2:
            extra.pop("Content-MD5", None)  # SigV2 signs it; the presigned URL has none
        for name, header in (("CopySourceIfMatch", "x-amz-copy-source-if-match"),
                             ("CopySourceRange", "x-amz-copy-source-range")):
            if name in p:
                extra[header] = p[name]
        src = p.get("CopySource")
        if src:
            extra["x-amz-copy-source"] = urllib.parse.quote(
                "%s/%s" % (src["Bucket"], src["Key"]), safe="/-._~")
        if method == "delete_objects" and not v2:
            url = presign_v4(self.endpoint, self.bob_creds, "POST", "/" + p["Bucket"],
                             [("delete", "")])
        else:
            url = client.generate_presigned_url(method, Params=p, ExpiresIn=300)
        return url, body, extra

    def run_presigned(self, client, label, anonymous=False):
        for name, (method, params, http_method, body, headers) in self.operations().items():
            got = []
            for real in (True, False):
                what = "%s %s (%s)" % (label, name, "existing" if real else "missing")
                with self.subTest(op=name, real=real):
                    url, data, extra = self.presigned_request(client, method, params(real),
                                                              body, headers, label.endswith("v2"))
                    if anonymous:
                        url = unsigned(url)
                        self.assertNotIn("signature", url.lower())
                    got.append(self.denied_raw(send(http_method, url, data, extra), what))
            if len(got) == 2:
                self.assertEqual(got[0], got[1],
                                 "%s %s: existing and missing differ" % (label, name))

    # ---- the tests ----

    def test_controls_alice_may(self):
        # The same request shapes work for their owner: the denials below are about who asks.
        a = self.a
        self.assertEqual(a.get_object(Bucket=self.abucket, Key="secret", Range="bytes=0-9")
                         ["Body"].read(), SECRET[:10])
        for signer in (self.client(self.alice_creds, signature_version="s3v4"), a):
            url = signer.generate_presigned_url("get_object", Params={
                "Bucket": self.abucket, "Key": "secret"}, ExpiresIn=60)
            self.assertEqual(send("GET", url).body, SECRET)
        self.assertEqual(a.list_parts(Bucket=self.abucket, Key="mp-secret",
                                      UploadId=self.aup)["Parts"][0]["ETag"], self.apart_etag)
        url = presign_v4(self.endpoint, self.alice_creds, "GET", "/%s/secret" % self.abucket, [])
        self.assertEqual(send("GET", url).body, SECRET)
        # Missing things are reported as missing to their owner (what bob must never see).
        self.assertS3Error("NoSuchKey", 404, a.get_object, Bucket=self.abucket, Key="nope")
        self.assertS3Error("NoSuchUpload", 404, a.list_parts, Bucket=self.abucket,
                           Key="mp-secret", UploadId="bm9wZQ")

    def test_controls_bob_may(self):
        # Bob's signers, presigned URLs included, are valid: on his own bucket they work.
        for signer in (self.b4, self.b2):
            self.assertEqual(signer.get_object(Bucket=self.bbucket, Key="mine")["Body"].read(),
                             b"bob's own")
            url = signer.generate_presigned_url("get_object", Params={
                "Bucket": self.bbucket, "Key": "mine"}, ExpiresIn=60)
            self.assertEqual(send("GET", url).body, b"bob's own")
        url = presign_v4(self.endpoint, self.bob_creds, "GET", "/%s/mine" % self.bbucket, [])
        self.assertEqual(send("GET", url).body, b"bob's own")

    def test_sigv4_header(self):
        self.run_header_signed(self.b4, "sigv4")

    def test_sigv2_header(self):
        self.run_header_signed(self.b2, "sigv2")

    def test_presigned_v4(self):
        self.run_presigned(self.b4, "presigned v4")

    def test_presigned_v2(self):
        self.run_presigned(self.b2, "presigned v2")

    def test_anonymous(self):
        self.run_presigned(self.b4, "anonymous", anonymous=True)

    def test_bob_lists_only_his(self):
        names = [x["Name"] for x in self.b.list_buckets()["Buckets"]]
        self.assertEqual(names, [self.bbucket])
        ups = self.b.list_multipart_uploads(Bucket=self.bbucket).get("Uploads", [])
        self.assertEqual([u["UploadId"] for u in ups], [self.bup])

    def test_bob_cannot_take_the_bucket_name(self):
        self.assertS3Error("BucketAlreadyExists", 409, self.b.create_bucket, Bucket=self.abucket)

    def test_admin_endpoints_are_root_only(self):
        for method, path in (("GET", "/_cairn/gc"), ("POST", "/_cairn/gc"),
                             ("GET", "/_cairn/scrub")):
            with self.subTest(method=method, path=path):
                r = self.raw(method, path, creds=self.bob_creds)
                self.assertEqual(r.status, 403, r)
                self.assertEqual(parse_error(r.body).get("Code"), "AccessDenied", r)


if __name__ == "__main__":
    unittest.main()
