#!/usr/bin/env python3
"""Authentication and authorization against a real cairnd: presigned URLs (SigV4 and SigV2),
expiry, wrong and unknown keys, anonymous requests, clock skew, malformed Authorization headers,
payload hash mismatch, SigV2 header auth, per-user isolation, and 256 concurrent clients."""

import datetime
import hashlib
import http.client
import os
import sys
import threading
import time
import unittest
import unittest.mock
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import botocore  # noqa: E402

from cairn_it import (  # noqa: E402
    CairnTestCase, RawResponse, amz_now, aws_chunked_signed, aws_chunked_trailer, checksum_b64,
    etag_of, raw_request, sha256_hex, sigv4_authorization,
)


def fetch(url, method="GET", body=None, headers=None):
    """One request to a (presigned) URL with http.client; returns a RawResponse."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        target = u.path + ("?" + u.query if u.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


class PresignTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("presign")
        cls.s3.create_bucket(Bucket=cls.bucket)
        cls.data = os.urandom(30_000)
        cls.s3.put_object(Bucket=cls.bucket, Key="obj key+1", Body=cls.data)
        cls.v4 = cls.s3v4
        cls.v2 = cls.client(signature_version="s3")

    def url(self, client, op="get_object", key="obj key+1", expires=300, **params):
        params.update(Bucket=self.bucket, Key=key)
        return client.generate_presigned_url(op, Params=params, ExpiresIn=expires)

    def test_get_v4(self):
        url = self.url(self.v4)
        self.assertIn("X-Amz-Signature=", url)
        r = fetch(url)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.data)

    def test_put_v4(self):
        body = b"presigned v4 put"
        r = fetch(self.url(self.v4, "put_object", key="put v4"), "PUT", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("etag"), etag_of(body))
        g = self.s3.get_object(Bucket=self.bucket, Key="put v4")
        self.assertEqual(g["Body"].read(), body)

    def test_get_put_v2(self):
        url = self.url(self.v2)
        self.assertIn("Signature=", url)
        self.assertIn("AWSAccessKeyId=", url)
        r = fetch(url)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.data)
        body = b"presigned v2 put"
        r = fetch(self.url(self.v2, "put_object", key="put v2"), "PUT", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="put v2")["Body"].read(),
                         body)

    def test_default_config(self):
        r = fetch(self.url(self.s3_default))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.data)

    def test_response_override(self):
        r = fetch(self.url(self.v4, ResponseContentType="text/x-presigned",
                           ResponseContentDisposition="attachment"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-type"), "text/x-presigned")
        self.assertEqual(r.headers.get("content-disposition"), "attachment")

    def test_expired(self):
        urls = {"v4": self.url(self.v4, expires=1), "v2": self.url(self.v2, expires=1),
                "v4-put": self.url(self.v4, "put_object", key="expired-put", expires=1)}
        time.sleep(2.5)
        for name, url in urls.items():
            with self.subTest(sig=name):
                r = fetch(url, "PUT" if name.endswith("put") else "GET",
                          b"late" if name.endswith("put") else None)
                self.assertRawError(r, "AccessDenied", 403)
        self.assertS3Error("404", 404, self.s3.head_object, Bucket=self.bucket, Key="expired-put")

    def test_expires_over_a_week(self):
        r = fetch(self.url(self.v4, expires=604801))
        self.assertRawError(r, "AuthorizationQueryParametersError", 400)

    def test_tampered(self):
        url = self.url(self.v4)
        other = url.replace("obj%20key%2B1", "obj%20key%2B2")
        self.assertNotEqual(url, other)
        self.assertRawError(fetch(other), "SignatureDoesNotMatch", 403)
        # The method is signed: a GET URL does not allow a PUT.
        self.assertRawError(fetch(url, "PUT", b"x"), "SignatureDoesNotMatch", 403)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="obj key+1")["Body"].read(),
                         self.data)
        v2 = self.url(self.v2)
        i = v2.index("Signature=") + len("Signature=")
        while not v2[i].isalnum() or v2[i - 1] == "%" or v2[i - 2] == "%":
            i += 1  # skip percent-encoded characters
        flipped = v2[:i] + ("A" if v2[i] != "A" else "B") + v2[i + 1:]
        self.assertRawError(fetch(flipped), "SignatureDoesNotMatch", 403)


class AuthErrorTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("auth")
        cls.s3.create_bucket(Bucket=cls.bucket)
        cls.s3.put_object(Bucket=cls.bucket, Key="exists", Body=b"original")

    def original_intact(self):
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="exists")["Body"].read(),
                         b"original")

    def test_wrong_secret(self):
        for sv in ("s3v4", "s3"):
            with self.subTest(signature_version=sv):
                # The last character replaced by a different one: the random secret may end in
                # any character, so a fixed replacement would sometimes leave it unchanged.
                last = "y" if self.root[1].endswith("x") else "x"
                bad = self.client((self.root[0], self.root[1][:-1] + last), signature_version=sv)
                self.assertS3Error("SignatureDoesNotMatch", 403, bad.list_buckets)
                self.assertS3Error("SignatureDoesNotMatch", 403, bad.get_object,
                                   Bucket=self.bucket, Key="exists")
                self.assertS3Error("SignatureDoesNotMatch", 403, bad.put_object,
                                   Bucket=self.bucket, Key="exists", Body=b"overwritten")
                self.assertS3Error("SignatureDoesNotMatch", 403, bad.put_object,
                                   Bucket=self.bucket, Key="new", Body=b"new")
        self.original_intact()
        self.assertS3Error("404", 404, self.s3.head_object, Bucket=self.bucket, Key="new")

    def test_unknown_key(self):
        for sv in ("s3v4", "s3"):
            with self.subTest(signature_version=sv):
                bad = self.client(("AKNOSUCHKEY000000000", "x" * 40), signature_version=sv)
                self.assertS3Error("InvalidAccessKeyId", 403, bad.list_buckets)
                self.assertS3Error("InvalidAccessKeyId", 403, bad.put_object,
                                   Bucket=self.bucket, Key="exists", Body=b"overwritten")
        self.original_intact()

    def test_anonymous(self):
        anon = self.client(signature_version=botocore.UNSIGNED)
        self.assertS3Error("AccessDenied", 403, anon.get_object, Bucket=self.bucket, Key="exists")
        self.assertS3Error("AccessDenied", 403, anon.put_object, Bucket=self.bucket,
                           Key="exists", Body=b"anon")
        self.assertS3Error("AccessDenied", 403, anon.list_objects_v2, Bucket=self.bucket)
        self.assertS3Error("AccessDenied", 403, anon.list_buckets)
        self.assertS3Error("AccessDenied", 403, anon.delete_object, Bucket=self.bucket,
                           Key="exists")
        self.original_intact()

    def test_sigv2_header_auth(self):
        v2 = self.client(signature_version="s3")
        v2.put_object(Bucket=self.bucket, Key="v2 key+", Body=b"sig v2", ContentType="a/b",
                      Metadata={"m": "v"})
        g = v2.get_object(Bucket=self.bucket, Key="v2 key+")
        self.assertEqual(g["Body"].read(), b"sig v2")
        self.assertEqual(g["Metadata"], {"m": "v"})
        keys = [c["Key"] for c in v2.list_objects(Bucket=self.bucket)["Contents"]]
        self.assertIn("v2 key+", keys)
        v2.delete_object(Bucket=self.bucket, Key="v2 key+")

    def test_clock_skew_botocore(self):
        for minutes in (-20, 20):
            with self.subTest(minutes=minutes):
                shifted = datetime.datetime.now(datetime.timezone.utc) + \
                    datetime.timedelta(minutes=minutes)
                with unittest.mock.patch("botocore.auth.get_current_datetime",
                                         return_value=shifted):
                    self.assertS3Error("RequestTimeTooSkewed", 403, self.s3.put_object,
                                       Bucket=self.bucket, Key="exists", Body=b"skewed")
        self.original_intact()

    def test_clock_skew_raw(self):
        path = "/%s/exists" % self.bucket
        for offset in (-3600, -16 * 60, 16 * 60, 86400):
            with self.subTest(offset=offset):
                r = self.raw("GET", path, amz_date=amz_now(offset))
                self.assertRawError(r, "RequestTimeTooSkewed", 403)
        # Within the allowed 15 minutes: accepted.
        for offset in (-300, 300):
            with self.subTest(offset=offset):
                r = self.raw("GET", path, amz_date=amz_now(offset))
                self.assertEqual((r.status, r.body), (200, b"original"))

    def malformed(self, authorization, extra=None):
        hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": amz_now(),
                "x-amz-content-sha256": sha256_hex(b""), "Authorization": authorization}
        hdrs.update(extra or {})
        return raw_request(self.port, "GET", "/%s/exists" % self.bucket, headers=hdrs)

    def test_malformed_authorization(self):
        ak = self.root[0]
        date = amz_now()[:8]
        cases = {
            "no fields": "AWS4-HMAC-SHA256",
            "garbage": "AWS4-HMAC-SHA256 garbage",
            "no signature": "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request, "
                            "SignedHeaders=host;x-amz-date" % (ak, date),
            "no signed headers": "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request, "
                                 "Signature=%s" % (ak, date, "0" * 64),
            "short credential": "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1, "
                                "SignedHeaders=host;x-amz-date, Signature=%s"
                                % (ak, date, "0" * 64),
            "bad terminator": "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws5_request, "
                              "SignedHeaders=host;x-amz-date, Signature=%s"
                              % (ak, date, "0" * 64),
        }
        for name, value in cases.items():
            with self.subTest(case=name):
                self.assertRawError(self.malformed(value), "AuthorizationHeaderMalformed", 400)
        self.assertHealthy()

    def signed_with_scope(self, region="us-east-1", service="s3", date=None):
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": now,
                "x-amz-content-sha256": sha256_hex(b"")}
        auth = sigv4_authorization("GET", "/%s/exists" % self.bucket, None, hdrs,
                                   sha256_hex(b""), self.root[0], self.root[1],
                                   now, region=region, service=service, scope_date=date)
        hdrs["Authorization"] = auth
        return raw_request(self.port, "GET", "/%s/exists" % self.bucket, headers=hdrs)

    def test_wrong_scope(self):
        # A correct signature over a scope this server does not serve.
        self.assertEqual(self.signed_with_scope().status, 200)
        self.assertRawError(self.signed_with_scope(region="eu-west-1"),
                            "AuthorizationHeaderMalformed", 400)
        self.assertRawError(self.signed_with_scope(service="ec2"),
                            "AuthorizationHeaderMalformed", 400)
        yesterday = (datetime.datetime.now(datetime.timezone.utc) -
                     datetime.timedelta(days=1)).strftime("%Y%m%d")
        self.assertRawError(self.signed_with_scope(date=yesterday),
                            "AuthorizationHeaderMalformed", 400)

    def test_unsupported_scheme(self):
        r = self.malformed("Bearer abcdef")
        self.assertRawError(r, "InvalidArgument", 400)

    def test_payload_hash_mismatch(self):
        path = "/%s/exists" % self.bucket
        r = self.raw("PUT", path, body=b"replacement", payload_hash=sha256_hex(b"something else"))
        self.assertRawError(r, "XAmzContentSHA256Mismatch", 400)
        r = self.raw("PUT", "/%s/mismatch-new" % self.bucket, body=b"replacement",
                     payload_hash=sha256_hex(b"something else"))
        self.assertRawError(r, "XAmzContentSHA256Mismatch", 400)
        self.original_intact()
        self.assertS3Error("404", 404, self.s3.head_object, Bucket=self.bucket,
                           Key="mismatch-new")

    def test_unsigned_payload(self):
        r = self.raw("PUT", "/%s/unsigned" % self.bucket, body=b"unsigned body",
                     payload_hash="UNSIGNED-PAYLOAD")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="unsigned")["Body"].read(),
                         b"unsigned body")

    def test_missing_content_sha256(self):
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": now}
        path = "/%s/no-sha" % self.bucket
        hdrs["Authorization"] = sigv4_authorization("PUT", path, None, hdrs, sha256_hex(b"body"),
                                                    self.root[0], self.root[1], now)
        r = raw_request(self.port, "PUT", path, headers=hdrs, body=b"body")
        self.assertRawError(r, "InvalidRequest", 400)
        self.assertS3Error("404", 404, self.s3.head_object, Bucket=self.bucket, Key="no-sha")


class ChunkedUploadTests(CairnTestCase):
    """aws-chunked bodies built by hand: signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, what
    the Java SDK v1 and MinIO's clients send over plain HTTP) and unsigned chunks with a trailing
    checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER, what the newer SDKs send)."""

    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("chunked")
        cls.s3.create_bucket(Bucket=cls.bucket)
        cls.body = os.urandom(150_000)

    def put_chunked(self, key, mode, encoded, decoded_len, extra=None):
        path = "/%s/%s" % (self.bucket, key)
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": now,
                "x-amz-content-sha256": mode, "content-encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(decoded_len)}
        hdrs.update(extra or {})
        auth = sigv4_authorization("PUT", path, None, hdrs, mode, self.root[0], self.root[1], now)
        hdrs["Authorization"] = auth
        return raw_request(self.port, "PUT", path, headers=hdrs, body=encoded), auth, now

    def signed(self, key, tamper=None):
        """A signed chunked PUT of self.body in 64 KiB chunks; tamper(encoded) may alter the
        bytes after signing."""
        mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        path = "/%s/%s" % (self.bucket, key)
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": now,
                "x-amz-content-sha256": mode, "content-encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(len(self.body))}
        auth = sigv4_authorization("PUT", path, None, hdrs, mode, self.root[0], self.root[1], now)
        seed = auth.rsplit("Signature=", 1)[1]
        encoded, _ = aws_chunked_signed(self.body, 65536, seed, now, self.root[1])
        if tamper:
            encoded = tamper(encoded)
        hdrs["Authorization"] = auth
        return raw_request(self.port, "PUT", path, headers=hdrs, body=encoded)

    def assertAbsent(self, key):
        self.assertS3Error("404", 404, self.s3.head_object, Bucket=self.bucket, Key=key)

    def test_signed_chunks(self):
        r = self.signed("signed")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("etag"), etag_of(self.body))
        g = self.s3.get_object(Bucket=self.bucket, Key="signed")
        self.assertEqual(g["Body"].read(), self.body)
        self.assertEqual(g["ContentLength"], len(self.body))
        self.assertNotIn("aws-chunked", g.get("ContentEncoding") or "")

    def test_signed_chunk_data_tampered(self):
        def flip(enc):
            i = enc.index(b"\r\n", enc.index(b"\r\n") + 2) + 100  # inside chunk 2's data
            return enc[:i] + bytes([enc[i] ^ 1]) + enc[i + 1:]

        self.assertRawError(self.signed("tampered", flip), "SignatureDoesNotMatch", 403)
        self.assertAbsent("tampered")

    def test_signed_final_chunk_signature_wrong(self):
        def zero_last(enc):
            i = enc.rindex(b"chunk-signature=") + len(b"chunk-signature=")
            return enc[:i] + b"0" * 64 + enc[i + 64:]

        self.assertRawError(self.signed("bad-final", zero_last), "SignatureDoesNotMatch", 403)
        self.assertAbsent("bad-final")

    def test_signed_body_cut_short(self):
        def drop_final(enc):
            return enc[:enc.rindex(b"0;chunk-signature=")]

        r = self.signed("cut", drop_final)
        self.assertEqual(r.status, 400, r)
        self.assertAbsent("cut")

    def test_unsigned_trailer_crc32(self):
        crc = checksum_b64("CRC32", self.body)
        enc = aws_chunked_trailer(self.body, 65536, "x-amz-checksum-crc32", crc)
        r, _, _ = self.put_chunked("trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", enc,
                                   len(self.body), {"x-amz-trailer": "x-amz-checksum-crc32"})
        self.assertEqual(r.status, 200, r)
        g = self.s3.get_object(Bucket=self.bucket, Key="trailer", ChecksumMode="ENABLED")
        self.assertEqual(g["Body"].read(), self.body)
        self.assertEqual(g.get("ChecksumCRC32"), crc)

    def test_unsigned_trailer_wrong_checksum(self):
        enc = aws_chunked_trailer(self.body, 65536, "x-amz-checksum-crc32",
                                  checksum_b64("CRC32", b"other"))
        r, _, _ = self.put_chunked("bad-trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", enc,
                                   len(self.body), {"x-amz-trailer": "x-amz-checksum-crc32"})
        self.assertRawError(r, "BadDigest", 400)
        self.assertAbsent("bad-trailer")

    def test_unsigned_trailer_http_chunked(self):
        # What the JS SDK v3 sends for a stream body: no Content-Length, HTTP chunked transfer
        # coding around the aws-chunked body, the length in x-amz-decoded-content-length.
        crc = checksum_b64("CRC32", self.body)
        enc = aws_chunked_trailer(self.body, 65536, "x-amz-checksum-crc32", crc)
        mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        path = "/%s/te-chunked" % self.bucket
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": now,
                "x-amz-content-sha256": mode, "content-encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(len(self.body)),
                "x-amz-trailer": "x-amz-checksum-crc32"}
        hdrs["Authorization"] = sigv4_authorization("PUT", path, None, hdrs, mode, self.root[0],
                                                    self.root[1], now)
        hdrs["Transfer-Encoding"] = "chunked"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            pieces = [enc[i:i + 30000] for i in range(0, len(enc), 30000)]
            try:
                conn.request("PUT", path, body=iter(pieces), headers=hdrs, encode_chunked=True)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered (and closed) before the body was read: read that answer
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.assertEqual(resp.status, 200, data)
        g = self.s3.get_object(Bucket=self.bucket, Key="te-chunked", ChecksumMode="ENABLED")
        self.assertEqual(g["Body"].read(), self.body)
        self.assertEqual(g.get("ChecksumCRC32"), crc)

    def test_decoded_length_mismatch(self):
        enc = aws_chunked_trailer(self.body, 65536, "x-amz-checksum-crc32",
                                  checksum_b64("CRC32", self.body))
        r, _, _ = self.put_chunked("bad-length", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", enc,
                                   len(self.body) + 10, {"x-amz-trailer": "x-amz-checksum-crc32"})
        self.assertEqual(r.status, 400, r)
        self.assertAbsent("bad-length")


class IsolationTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.a = cls.client(cls.add_user("alice"))
        cls.b = cls.client(cls.add_user("bob"))
        cls.abucket = cls.unique("alice")
        cls.bbucket = cls.unique("bob")
        cls.a.create_bucket(Bucket=cls.abucket)
        cls.b.create_bucket(Bucket=cls.bbucket)
        cls.a.put_object(Bucket=cls.abucket, Key="secret", Body=b"alice's")
        cls.b.put_object(Bucket=cls.bbucket, Key="mine", Body=b"bob's")

    def alice_intact(self):
        g = self.a.get_object(Bucket=self.abucket, Key="secret")
        self.assertEqual(g["Body"].read(), b"alice's")
        keys = [c["Key"] for c in self.a.list_objects_v2(Bucket=self.abucket)["Contents"]]
        self.assertEqual(keys, ["secret"])

    def test_list_buckets_shows_own_only(self):
        a = [x["Name"] for x in self.a.list_buckets()["Buckets"]]
        b = [x["Name"] for x in self.b.list_buckets()["Buckets"]]
        self.assertIn(self.abucket, a)
        self.assertNotIn(self.bbucket, a)
        self.assertIn(self.bbucket, b)
        self.assertNotIn(self.abucket, b)

    def test_object_operations_denied(self):
        b, bk = self.b, self.abucket
        self.assertS3Error("AccessDenied", 403, b.get_object, Bucket=bk, Key="secret")
        self.assertS3Error("403", 403, b.head_object, Bucket=bk, Key="secret")
        self.assertS3Error("AccessDenied", 403, b.put_object, Bucket=bk, Key="secret", Body=b"x")
        self.assertS3Error("AccessDenied", 403, b.put_object, Bucket=bk, Key="planted", Body=b"x")
        self.assertS3Error("AccessDenied", 403, b.delete_object, Bucket=bk, Key="secret")
        self.assertS3Error("AccessDenied", 403, b.delete_objects, Bucket=bk,
                           Delete={"Objects": [{"Key": "secret"}]})
        self.alice_intact()

    def test_bucket_operations_denied(self):
        b, bk = self.b, self.abucket
        self.assertS3Error("AccessDenied", 403, b.list_objects_v2, Bucket=bk)
        self.assertS3Error("AccessDenied", 403, b.list_objects, Bucket=bk)
        self.assertS3Error("403", 403, b.head_bucket, Bucket=bk)
        self.assertS3Error("AccessDenied", 403, b.get_bucket_location, Bucket=bk)
        self.assertS3Error("AccessDenied", 403, b.delete_bucket, Bucket=bk)
        self.assertS3Error("BucketAlreadyExists", 409, b.create_bucket, Bucket=bk)
        self.alice_intact()

    def test_copy_denied(self):
        # Out of alice's bucket into bob's, and from bob's into alice's.
        self.assertS3Error("AccessDenied", 403, self.b.copy_object, Bucket=self.bbucket,
                           Key="stolen", CopySource={"Bucket": self.abucket, "Key": "secret"})
        self.assertS3Error("404", 404, self.b.head_object, Bucket=self.bbucket, Key="stolen")
        self.assertS3Error("AccessDenied", 403, self.b.copy_object, Bucket=self.abucket,
                           Key="secret", CopySource={"Bucket": self.bbucket, "Key": "mine"})
        self.alice_intact()

    def test_presigned_by_other_user(self):
        url = self.b.generate_presigned_url("get_object", Params={
            "Bucket": self.abucket, "Key": "secret"}, ExpiresIn=60)
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request("GET", u.path + "?" + u.query)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        self.assertEqual(resp.status, 403, body)
        self.assertNotIn(b"alice's", body)

    def test_own_access_works(self):
        self.assertEqual(self.b.get_object(Bucket=self.bbucket, Key="mine")["Body"].read(),
                         b"bob's")
        self.a.copy_object(Bucket=self.abucket, Key="copy",
                           CopySource={"Bucket": self.abucket, "Key": "secret"})
        self.assertEqual(self.a.get_object(Bucket=self.abucket, Key="copy")["Body"].read(),
                         b"alice's")
        self.a.delete_object(Bucket=self.abucket, Key="copy")


class ConcurrencyTests(CairnTestCase):
    CLIENTS = 256

    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("conc")
        cls.s3.create_bucket(Bucket=cls.bucket)

    def test_256_concurrent_clients(self):
        n = self.CLIENTS
        barrier = threading.Barrier(n, timeout=60)
        results = [None] * n
        creds = self.root

        def one(i):
            body = hashlib.sha256(b"%d" % i).digest() * (32 + i % 64)
            path = "/%s/c/%04d" % (self.bucket, i)
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                conn.connect()
                barrier.wait()
                now = amz_now()
                hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": now,
                        "x-amz-content-sha256": sha256_hex(body)}
                hdrs["Authorization"] = sigv4_authorization("PUT", path, None, hdrs,
                                                            sha256_hex(body), *creds, now)
                conn.request("PUT", path, body=body, headers=hdrs)
                r = conn.getresponse()
                r.read()
                if r.status != 200 or r.getheader("etag") != etag_of(body):
                    results[i] = "PUT %d %s" % (r.status, r.getheader("etag"))
                    return
                hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": amz_now(),
                        "x-amz-content-sha256": sha256_hex(b"")}
                hdrs["Authorization"] = sigv4_authorization("GET", path, None, hdrs,
                                                            sha256_hex(b""), *creds,
                                                            hdrs["x-amz-date"])
                conn.request("GET", path, headers=hdrs)
                r = conn.getresponse()
                got = r.read()
                results[i] = "ok" if (r.status, got) == (200, body) else \
                    "GET %d, %d bytes" % (r.status, len(got))
            except Exception as e:  # noqa: BLE001 - any failure of a client is reported
                results[i] = "%s: %s" % (type(e).__name__, e)
            finally:
                conn.close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - t0
        bad = {i: r for i, r in enumerate(results) if r != "ok"}
        self.assertEqual(bad, {}, "%d of %d clients failed" % (len(bad), n))
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix="c/"):
            keys += [c["Key"] for c in page.get("Contents", [])]
        self.assertEqual(keys, ["c/%04d" % i for i in range(n)])
        self.assertHealthy()
        print("\n256 clients put+get in %.2f s" % elapsed, file=sys.stderr)

    def test_read_during_overwrite_and_delete(self):
        # A reader keeps the version it started on: the overwrite and the delete that happen
        # while it streams do not change (or cut) what it receives.
        old = os.urandom(32 << 20)
        self.s3.put_object(Bucket=self.bucket, Key="hot", Body=old)
        g = self.client().get_object(Bucket=self.bucket, Key="hot")
        first = g["Body"].read(1 << 20)
        self.s3.put_object(Bucket=self.bucket, Key="hot", Body=b"new content")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="hot")["Body"].read(),
                         b"new content")
        self.s3.delete_object(Bucket=self.bucket, Key="hot")
        self.assertS3Error("NoSuchKey", 404, self.s3.get_object, Bucket=self.bucket, Key="hot")
        rest = g["Body"].read()
        self.assertEqual(len(first) + len(rest), len(old))
        self.assertTrue(first + rest == old, "the reader got bytes of another version")

    def test_concurrent_writers_same_key(self):
        bodies = [hashlib.sha256(b"w%d" % i).digest() * 8192 for i in range(16)]
        pool = self.client(max_pool_connections=16)
        errors = []

        def writer(i):
            try:
                for _ in range(4):
                    pool.put_object(Bucket=self.bucket, Key="contended", Body=bodies[i])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("%d: %s" % (i, e))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        g = self.s3.get_object(Bucket=self.bucket, Key="contended")
        got = g["Body"].read()
        self.assertIn(got, bodies, "the object is none of the bodies written")
        self.assertEqual(g["ETag"], etag_of(got))
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="contended")["Contents"]
        self.assertEqual([(c["Key"], c["Size"], c["ETag"]) for c in listed],
                         [("contended", len(got), etag_of(got))])


if __name__ == "__main__":
    unittest.main()
