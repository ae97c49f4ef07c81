#!/usr/bin/env python3
"""What issue 3 asks of cairnd that the other suites leave out (the audit is in the commit log):

  * virtual-hosted-style requests with --domain (raw SigV4 requests with a bucket Host header,
    and boto3 with addressing_style "virtual" through a resolver that maps *.domain to loopback);
  * ListObjectsV2 fetch-owner, ListObjects (v1) encoding-type=url, DeleteObject ?versionId=null,
    PutObject If-Match, DeleteObjects with exactly 1000 keys, a presigned URL valid for 7 days;
  * aws-chunked trailers for every checksum algorithm, and the signed-trailer mode
    (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER) with its trailer signature checked;
  * checksums returned only with x-amz-checksum-mode: ENABLED;
  * x-amz-request-id on every response, and the XML error document's Code, Message, Resource
    and RequestId; NotImplemented (501) for operations cairn does not have, changing nothing;
  * CopyObject adds no stored bytes (it references the same chunks);
  * the access log: one line per request (method, bucket, key, operation, status, bytes,
    duration, request id); secrets never in the log; `cairn user remove` beside a running
    cairnd takes effect at once; aws-cli s3api calls not made by t22;
  * the process (its own daemons): config file < environment < flags, CAIRN_CONFIG, the shipped
    config/cairnd.conf, bad keys and values; the embedded defaults; generated root credentials
    (0600, location and access key printed, never the secret, kept across restarts, overridden
    by the environment); SIGTERM with an upload and a download in flight (both finish, the
    listener closes at once), shutdown_timeout cutting a stalled upload (the old object stays),
    SIGINT; an idle keep-alive connection closed after header_timeout.
"""

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cairn_it  # noqa: E402
from cairn_it import (  # noqa: E402
    CairnTestCase, amz_now, aws_chunked_trailer, build_dir, checksum_b64, etag_of, free_port,
    raw_request, sha256_hex, sigv4_authorization, sigv4_signing_key,
)

import boto3  # noqa: E402
import botocore.config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

DOMAIN = "s3.cairn.test"
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
ACCESS_LINE = re.compile(r"^\S+ INFO (\S+) /([^/\s]*)/(\S*) (\S+) (\d{3}) (\d+) (\d+)ms "
                         r"([0-9a-f]{16})( aborted)?$")
SLACK = 3.0  # seconds of scheduling slack on a busy 2-core machine


@contextlib.contextmanager
def loopback_domain(domain):
    """Resolves every name under domain (and domain itself) to 127.0.0.1 in this process."""
    real = socket.getaddrinfo

    def fake(host, *args, **kw):
        if isinstance(host, str) and (host == domain or host.endswith("." + domain)):
            host = "127.0.0.1"
        return real(host, *args, **kw)

    socket.getaddrinfo = fake
    try:
        yield
    finally:
        socket.getaddrinfo = real


def json_find(doc, name):
    """The first value called name anywhere in a JSON document, else None."""
    if isinstance(doc, dict):
        if name in doc:
            return doc[name]
        doc = list(doc.values())
    if isinstance(doc, list):
        for v in doc:
            found = json_find(v, name)
            if found is not None:
                return found
    return None


def raw_target(port, method, target):
    """An unsigned request for a request target sent exactly as given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return cairn_it.RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                                    resp.read())
    finally:
        conn.close()


def hmac_hex(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class CoverageTests(CairnTestCase):
    """One cairnd started with --domain; every test also works path-style beside it."""

    server_args = ("--domain", DOMAIN)

    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("cov")
        cls.s3.create_bucket(Bucket=cls.bucket)
        cls.s3.put_object(Bucket=cls.bucket, Key="victim", Body=b"victim body")

    def vhost(self, bucket):
        return "%s.%s:%d" % (bucket, DOMAIN, self.port)

    def body(self, key, bucket=None):
        return self.s3.get_object(Bucket=bucket or self.bucket, Key=key)["Body"].read()

    def absent(self, key, bucket=None):
        self.assertS3Error("404", 404, self.s3.head_object, Bucket=bucket or self.bucket, Key=key)

    # ---- virtual-hosted style ----

    def test_virtual_hosted_raw(self):
        b = self.unique("vraw")
        host = {"host": self.vhost(b)}
        r = self.raw("PUT", "/", headers=host)
        self.assertEqual(r.status, 200, r)
        self.s3.head_bucket(Bucket=b)  # the same bucket, path-style
        r = self.raw("PUT", "/dir/a key+%.txt", headers=dict(host, **{"content-type": "t/x"}),
                     body=b"through the host name")
        self.assertEqual((r.status, r.headers.get("etag")),
                         (200, etag_of(b"through the host name")), r)
        self.assertEqual(self.body("dir/a key+%.txt", b), b"through the host name")
        r = self.raw("GET", "/dir/a key+%.txt", headers=host)
        self.assertEqual((r.status, r.body, r.headers.get("content-type")),
                         (200, b"through the host name", "t/x"))
        # A Host name in upper case names the same bucket (DNS names are case-insensitive).
        r = self.raw("HEAD", "/dir/a key+%.txt",
                     headers={"host": "%s.%s:%d" % (b, DOMAIN.upper(), self.port)})
        self.assertEqual(r.status, 200, r)
        r = self.raw("GET", "/", query=[("list-type", "2"), ("prefix", "dir/")], headers=host)
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"<Name>%s</Name>" % b.encode(), r.body)
        self.assertIn(b"<Key>dir/a key+%.txt</Key>", r.body)
        r = self.raw("GET", "/", query=[("location", None)], headers=host)
        self.assertEqual(r.status, 200, r)
        # The bare domain is the service (path-style): ListBuckets, and /bucket/key paths.
        r = self.raw("GET", "/", headers={"host": "%s:%d" % (DOMAIN, self.port)})
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"<Name>%s</Name>" % b.encode(), r.body)
        r = self.raw("GET", "/%s/dir/a key+%%.txt" % b,
                     headers={"host": "%s:%d" % (DOMAIN, self.port)})
        self.assertEqual((r.status, r.body), (200, b"through the host name"))
        # Errors name what the Host named.
        missing = self.unique("vmissing")
        r = self.raw("GET", "/k", headers={"host": self.vhost(missing)})
        self.assertEqual(self.assertRawError(r, "NoSuchBucket", 404).get("BucketName"), missing)
        r = self.raw("GET", "/nope", headers=host)
        self.assertRawError(r, "NoSuchKey", 404)
        r = self.raw("DELETE", "/dir/a key+%.txt", headers=host)
        self.assertEqual(r.status, 204, r)
        r = self.raw("DELETE", "/", headers=host)
        self.assertEqual(r.status, 204, r)
        self.assertS3Error("404", 404, self.s3.head_bucket, Bucket=b)

    def test_virtual_hosted_boto3(self):
        with loopback_domain(DOMAIN):
            v = cairn_it.boto_client("http://%s:%d" % (DOMAIN, self.port), *self.root,
                                     path_style=False, s3={"addressing_style": "virtual"})
            b = self.unique("vboto")
            v.create_bucket(Bucket=b)
            self.assertIn(b, [x["Name"] for x in v.list_buckets()["Buckets"]])
            data = os.urandom(70_000)
            v.put_object(Bucket=b, Key="v/k+1 x", Body=data, Metadata={"via": "vhost"})
            g = v.get_object(Bucket=b, Key="v/k+1 x", Range="bytes=10-19")
            self.assertEqual(g["Body"].read(), data[10:20])
            self.assertEqual(v.head_object(Bucket=b, Key="v/k+1 x")["Metadata"], {"via": "vhost"})
            v.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "v/k+1 x"})
            self.assertEqual([c["Key"] for c in v.list_objects_v2(Bucket=b)["Contents"]],
                             ["copy", "v/k+1 x"])
            url = v.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "copy"},
                                           ExpiresIn=60)
            self.assertTrue(url.startswith("http://%s.%s:" % (b, DOMAIN)), url)
            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conn.request("GET", u.path + "?" + u.query)
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, data))
            conn.close()
            # SigV2 signs the bucket of a virtual-hosted request into its resource.
            v2 = cairn_it.boto_client("http://%s:%d" % (DOMAIN, self.port), *self.root,
                                      path_style=False, signature_version="s3",
                                      s3={"addressing_style": "virtual"})
            v2.put_object(Bucket=b, Key="v2 key+", Body=b"sigv2")
            self.assertEqual(v2.get_object(Bucket=b, Key="v2 key+")["Body"].read(), b"sigv2")
            url = v2.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "v2 key+"},
                                            ExpiresIn=60)
            self.assertIn("AWSAccessKeyId=", url)
            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conn.request("GET", u.path + "?" + u.query)
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b"sigv2"))
            conn.close()
            v.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "copy"}, {"Key": "v/k+1 x"},
                                                           {"Key": "v2 key+"}]})
            v.delete_bucket(Bucket=b)
        self.assertNotIn(b, [x["Name"] for x in self.s3.list_buckets()["Buckets"]])

    # ---- listing, versions, conditional writes ----

    def test_fetch_owner(self):
        b = self.unique("owner")
        alice = self.client(self.add_user("owner-alice"))
        alice.create_bucket(Bucket=b)
        alice.put_object(Bucket=b, Key="k", Body=b"x")
        r = alice.list_objects_v2(Bucket=b)
        self.assertNotIn("Owner", r["Contents"][0])
        r = alice.list_objects_v2(Bucket=b, FetchOwner=True)
        self.assertEqual(r["Contents"][0]["Owner"]["ID"], "owner-alice")
        r = alice.list_objects_v2(Bucket=b, FetchOwner=False)
        self.assertNotIn("Owner", r["Contents"][0])
        # ListObjects (v1) always names the owner.
        self.assertEqual(alice.list_objects(Bucket=b)["Contents"][0]["Owner"]["ID"],
                         "owner-alice")
        alice.delete_object(Bucket=b, Key="k")
        alice.delete_bucket(Bucket=b)

    def test_list_v1_encoding_type_url(self):
        b = self.unique("enc1")
        keys = ["e/a b", "e/c+d", "e/\u00fc<&>"]
        self.s3.create_bucket(Bucket=b)
        for k in keys:
            self.s3.put_object(Bucket=b, Key=k, Body=b"1")
        r = self.raw("GET", "/" + b, query=[("encoding-type", "url"), ("prefix", "e/"),
                                            ("delimiter", "/"), ("marker", "e/a b")])
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"<EncodingType>url</EncodingType>", r.body)
        got = re.findall(rb"<Key>([^<]*)</Key>", r.body)
        self.assertEqual([urllib.parse.unquote(k.decode()) for k in got], keys[1:])
        for k in got:
            self.assertFalse(set(k) & set(b" +<>&"), k)
            self.assertTrue(all(c < 0x80 for c in k), k)
        r = self.s3.list_objects(Bucket=b, EncodingType="url", Prefix="e/")
        self.assertEqual([urllib.parse.unquote_plus(c["Key"]) for c in r["Contents"]], keys)
        # The echoed prefix and marker, NextMarker and CommonPrefixes are encoded too.
        self.s3.put_object(Bucket=b, Key="e/c+d/x y", Body=b"1")
        keys.append("e/c+d/x y")
        r = self.raw("GET", "/" + b, query=[("encoding-type", "url"), ("prefix", "e/"),
                                            ("delimiter", "/"), ("marker", "e/c+d"),
                                            ("max-keys", "1")])
        self.assertEqual(r.status, 200, r)
        for elem in (b"<Prefix>e/</Prefix>", b"<Marker>e/c%2Bd</Marker>",
                     b"<NextMarker>e/c%2Bd/</NextMarker>",
                     b"<CommonPrefixes><Prefix>e/c%2Bd/</Prefix></CommonPrefixes>",
                     b"<IsTruncated>true</IsTruncated>"):
            self.assertIn(elem, r.body)
        for k in keys:
            self.s3.delete_object(Bucket=b, Key=k)
        self.s3.delete_bucket(Bucket=b)

    def test_delete_version_id_null(self):
        self.s3.put_object(Bucket=self.bucket, Key="vnull", Body=b"v")
        r = self.s3.delete_object(Bucket=self.bucket, Key="vnull", VersionId="null")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.absent("vnull")
        # Another version id is not the null version: the object stays.
        self.s3.put_object(Bucket=self.bucket, Key="vother", Body=b"v")
        with self.assertRaises(ClientError) as cm:
            self.s3.delete_object(Bucket=self.bucket, Key="vother",
                                  VersionId="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
        self.assertIn((cm.exception.response["Error"]["Code"],
                       cm.exception.response["ResponseMetadata"]["HTTPStatusCode"]),
                      [("NoSuchVersion", 404), ("InvalidArgument", 400)])
        self.assertEqual(self.body("vother"), b"v")
        # A copy source may name the null version too.
        self.s3.copy_object(Bucket=self.bucket, Key="vcopy",
                            CopySource={"Bucket": self.bucket, "Key": "vother",
                                        "VersionId": "null"})
        self.assertEqual(self.body("vcopy"), b"v")

    def test_put_if_match(self):
        etag = self.s3.put_object(Bucket=self.bucket, Key="cas", Body=b"one")["ETag"]
        self.assertS3Error("PreconditionFailed", 412, self.s3.put_object, Bucket=self.bucket,
                           Key="cas", Body=b"lost", IfMatch=etag_of(b"something else"))
        self.assertEqual(self.body("cas"), b"one")
        r = self.s3.put_object(Bucket=self.bucket, Key="cas", Body=b"two", IfMatch=etag)
        self.assertEqual(r["ETag"], etag_of(b"two"))
        self.assertEqual(self.body("cas"), b"two")
        # The old ETag no longer matches: a second writer holding it loses.
        self.assertS3Error("PreconditionFailed", 412, self.s3.put_object, Bucket=self.bucket,
                           Key="cas", Body=b"stale", IfMatch=etag)
        self.assertEqual(self.body("cas"), b"two")
        # If-Match on a key with no current object: 404 NoSuchKey (as AWS), for "*" too.
        for cond in (etag, "*"):
            self.assertS3Error("NoSuchKey", 404, self.s3.put_object, Bucket=self.bucket,
                               Key="cas-missing", Body=b"x", IfMatch=cond)
        self.absent("cas-missing")
        # CompleteMultipartUpload checks the same conditions where it commits.
        for key, cond, code, status in (("cas", etag, "PreconditionFailed", 412),
                                        ("cas-missing", etag, "NoSuchKey", 404)):
            up = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
            part = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=up, PartNumber=1,
                                       Body=b"multipart")["ETag"]
            self.assertS3Error(code, status, self.s3.complete_multipart_upload,
                               Bucket=self.bucket, Key=key, UploadId=up, IfMatch=cond,
                               MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=up)
        self.assertEqual(self.body("cas"), b"two")
        self.absent("cas-missing")

    def test_put_if_none_match_race(self):
        # The condition is checked where the write commits: of racing creators exactly one wins.
        import concurrent.futures
        pool = self.client(max_pool_connections=12)
        bodies = [b"writer %d " % i * 5000 for i in range(12)]

        def create(i):
            try:
                pool.put_object(Bucket=self.bucket, Key="race", Body=bodies[i], IfNoneMatch="*")
                return 200
            except ClientError as e:
                return e.response["ResponseMetadata"]["HTTPStatusCode"]

        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            statuses = list(ex.map(create, range(12)))
        self.assertEqual(sorted(statuses), [200] + [412] * 11, statuses)
        self.assertEqual(self.body("race"), bodies[statuses.index(200)])

    def test_delete_objects_1000_keys(self):
        keys = ["many/%04d" % i for i in range(1000)]
        for k in keys[::100]:
            self.s3.put_object(Bucket=self.bucket, Key=k, Body=b"d")
        r = self.s3.delete_objects(Bucket=self.bucket,
                                   Delete={"Objects": [{"Key": k} for k in keys]})
        self.assertEqual(sorted(d["Key"] for d in r["Deleted"]), keys)
        self.assertEqual(r.get("Errors", []), [])
        self.assertEqual(self.s3.list_objects_v2(Bucket=self.bucket, Prefix="many/")["KeyCount"],
                         0)

    def test_presigned_seven_days(self):
        url = self.s3v4.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": "victim"}, ExpiresIn=604800)
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", u.path + "?" + u.query)
        resp = conn.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, b"victim body"))
        conn.close()

    # ---- checksums ----

    def put_chunked(self, key, mode, encoded, decoded_len, trailer):
        path = "/%s/%s" % (self.bucket, key)
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % self.port, "x-amz-date": now,
                "x-amz-content-sha256": mode, "content-encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(decoded_len), "x-amz-trailer": trailer}
        auth = sigv4_authorization("PUT", path, None, hdrs, mode, self.root[0], self.root[1], now)
        hdrs["Authorization"] = auth
        if callable(encoded):
            encoded = encoded(auth.rsplit("Signature=", 1)[1], now)
        return raw_request(self.port, "PUT", path, headers=hdrs, body=encoded)

    def test_trailer_every_algorithm(self):
        data = os.urandom(100_000)
        for alg in ALGORITHMS:
            with self.subTest(alg=alg):
                name = "x-amz-checksum-" + alg.lower()
                want = checksum_b64(alg, data)
                enc = aws_chunked_trailer(data, 40_000, name, want)
                r = self.put_chunked("tr-" + alg, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", enc,
                                     len(data), name)
                self.assertEqual(r.status, 200, r)
                g = self.s3.get_object(Bucket=self.bucket, Key="tr-" + alg,
                                       ChecksumMode="ENABLED")
                self.assertEqual(g["Body"].read(), data)
                self.assertEqual(g.get("Checksum" + alg), want)
                enc = aws_chunked_trailer(data, 40_000, name, checksum_b64(alg, data + b"x"))
                r = self.put_chunked("tr-" + alg, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", enc,
                                     len(data), name)
                self.assertRawError(r, "BadDigest", 400)
                self.assertEqual(self.body("tr-" + alg), data)

    def signed_trailer_body(self, data, trailer_name, trailer_value, tamper_sig=False):
        """A builder for STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: signed chunks chained from
        the seed signature, the signed final chunk, the trailer and its signature."""
        secret = self.root[1]

        def build(seed, amz_date):
            key = sigv4_signing_key(secret, amz_date[:8])
            scope = "%s/%s/s3/aws4_request" % (amz_date[:8], cairn_it.REGION)
            prev, out = seed, []
            for piece in [data[i:i + 32768] for i in range(0, len(data), 32768)] + [b""]:
                prev = hmac_hex(key, "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope,
                                                prev, sha256_hex(b""), sha256_hex(piece)]))
                out.append(b"%x;chunk-signature=%s\r\n" % (len(piece), prev.encode()))
                if piece:
                    out.append(piece + b"\r\n")
            line = "%s:%s" % (trailer_name, trailer_value)
            sig = hmac_hex(key, "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev,
                                           sha256_hex((line + "\n").encode())]))
            if tamper_sig:
                sig = ("1" if sig[0] != "1" else "2") + sig[1:]
            out.append(("%s\r\nx-amz-trailer-signature:%s\r\n\r\n" % (line, sig)).encode())
            return b"".join(out)

        return build

    def test_signed_trailer(self):
        mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        data = os.urandom(90_000)
        for alg in ("CRC32C", "SHA256"):
            with self.subTest(alg=alg):
                name = "x-amz-checksum-" + alg.lower()
                key = "signed-trailer-" + alg
                want = checksum_b64(alg, data)
                r = self.put_chunked(key, mode, self.signed_trailer_body(data, name, want),
                                     len(data), name)
                self.assertEqual((r.status, r.headers.get("etag")), (200, etag_of(data)), r)
                g = self.s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
                self.assertEqual((g["Body"].read(), g.get("Checksum" + alg)), (data, want))
                # A wrong trailer signature, then a well-signed wrong checksum: both refused.
                r = self.put_chunked(key, mode, self.signed_trailer_body(
                    b"other" + data, name, checksum_b64(alg, b"other" + data), tamper_sig=True),
                    len(data) + 5, name)
                self.assertRawError(r, "SignatureDoesNotMatch", 403)
                r = self.put_chunked(key, mode, self.signed_trailer_body(
                    b"other" + data, name, checksum_b64(alg, data)), len(data) + 5, name)
                self.assertRawError(r, "BadDigest", 400)
                self.assertEqual(self.body(key), data)

    def test_checksum_only_with_mode(self):
        data = b"checksum mode"
        self.s3.put_object(Bucket=self.bucket, Key="mode", Body=data,
                           ChecksumSHA256=checksum_b64("SHA256", data))
        for enabled in (False, True):
            with self.subTest(enabled=enabled):
                h = {"x-amz-checksum-mode": "ENABLED"} if enabled else {}
                for method in ("GET", "HEAD"):
                    r = self.raw(method, "/%s/mode" % self.bucket, headers=h)
                    self.assertEqual(r.status, 200, r)
                    got = r.headers.get("x-amz-checksum-sha256")
                    self.assertEqual(got, checksum_b64("SHA256", data) if enabled else None)

    # ---- request ids, error documents, unsupported operations ----

    def test_request_id_on_every_response(self):
        b, path = self.bucket, "/%s/victim" % self.bucket
        etag = etag_of(b"victim body")
        cases = [
            ("GET 200", lambda: self.raw("GET", path)),
            ("HEAD 200", lambda: self.raw("HEAD", path)),
            ("GET 206", lambda: self.raw("GET", path, headers={"Range": "bytes=0-1"})),
            ("GET 304", lambda: self.raw("GET", path, headers={"If-None-Match": etag})),
            ("HEAD 304", lambda: self.raw("HEAD", path, headers={"If-None-Match": etag})),
            ("GET 412", lambda: self.raw("GET", path, headers={"If-Match": '"0"'})),
            ("GET 416", lambda: self.raw("GET", path, headers={"Range": "bytes=100-"})),
            ("HEAD 404", lambda: self.raw("HEAD", "/%s/nope" % b)),
            ("GET 404", lambda: self.raw("GET", "/%s/nope" % b)),
            ("PUT 200", lambda: self.raw("PUT", "/%s/rid" % b, body=b"x")),
            ("DELETE 204", lambda: self.raw("DELETE", "/%s/rid" % b)),
            ("list 200", lambda: self.raw("GET", "/" + b, query=[("list-type", "2")])),
            ("anonymous 403", lambda: self.raw("GET", path, creds=None)),
            ("bad auth 400", lambda: self.raw("GET", path, creds=None,
                                              headers={"Authorization": "AWS4-HMAC-SHA256 x"})),
            ("501", lambda: self.raw("GET", "/" + b, query=[("acl", None)])),
            ("405", lambda: self.raw("PATCH", path)),
            ("health", lambda: self.raw("GET", "/_cairn/health", creds=None)),
            ("bad URI 400", lambda: raw_target(self.port, "GET", "/%s/%%zz" % b)),
        ]
        seen = set()
        for name, call in cases:
            with self.subTest(case=name):
                r = call()
                rid = r.headers.get("x-amz-request-id")
                self.assertRegex(rid or "", r"^[0-9A-Za-z]{8,}$", "%s: %r" % (name, r.headers))
                self.assertNotIn(rid, seen)
                seen.add(rid)
                self.assertTrue(r.headers.get("x-amz-id-2"), r.headers)
                if r.status >= 400 and r.body:
                    err = r.error
                    self.assertEqual(err.get("RequestId"), rid, r.body)
                    self.assertTrue(err.get("Code") and err.get("Message"), r.body)

    def test_error_document_shape(self):
        r = self.raw("GET", "/%s/no such/key%%2B1" % self.bucket)
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers.get("content-type"), "application/xml")
        self.assertTrue(r.body.startswith(b"<?xml"), r.body)
        err = r.error
        self.assertEqual(err["Code"], "NoSuchKey")
        self.assertEqual(err["Message"], "The specified key does not exist.")
        self.assertEqual(err["Resource"], "/%s/no%%20such/key%%252B1" % self.bucket)
        self.assertEqual(err["RequestId"], r.headers["x-amz-request-id"])
        self.assertEqual(err["Key"], "no such/key%2B1")
        missing = self.unique("gone")
        r = self.raw("GET", "/" + missing)
        err = self.assertRawError(r, "NoSuchBucket", 404)
        self.assertEqual((err["Resource"], err["BucketName"]), ("/" + missing, missing))

    def test_not_implemented(self):
        b, key = self.bucket, "/%s/victim" % self.bucket
        cases = [("GET", "/" + b, "acl", b""), ("PUT", "/" + b, "acl", b""),
                 ("GET", "/" + b, "policy", b""), ("PUT", "/" + b, "policy", b"{}"),
                 ("GET", "/" + b, "versions", b""), ("GET", "/" + b, "lifecycle", b""),
                 ("PUT", "/" + b, "versioning",
                  b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"),
                 ("GET", "/" + b, "cors", b""), ("DELETE", "/" + b, "tagging", b""),
                 ("GET", key, "tagging", b""), ("PUT", key, "tagging", b"<Tagging/>"),
                 ("GET", key, "acl", b""), ("PUT", key, "retention", b""),
                 ("POST", key, "restore", b""), ("POST", key, "select", b""),
                 ("GET", key, "attributes", b""), ("GET", "/", "website", b"")]
        for method, path, param, body in cases:
            with self.subTest(op="%s %s?%s" % (method, path, param)):
                r = self.raw(method, path, query=[(param, None)], body=body)
                self.assertRawError(r, "NotImplemented", 501)
        self.assertS3Error("NotImplemented", 501, self.s3.get_bucket_tagging, Bucket=b)
        self.assertS3Error("NotImplemented", 501, self.s3.put_object_acl, Bucket=b,
                           Key="victim", ACL="public-read")
        # Headers that ask for features cairn lacks are refused too, not ignored.
        self.assertS3Error("NotImplemented", 501, self.s3.put_object, Bucket=b, Key="victim",
                           Body=b"locked", ObjectLockMode="GOVERNANCE",
                           ObjectLockRetainUntilDate="2099-01-01T00:00:00Z")
        self.assertEqual(self.body("victim"), b"victim body")
        self.s3.head_bucket(Bucket=b)

    # ---- storage through S3 ----

    def stats(self):
        p = self.server.cairn_tool("stats", self.server.data_dir, "--json")
        doc = json.loads(p.stdout)
        return json_find(doc, "stored_bytes"), json_find(doc, "logical_bytes")

    def test_copy_adds_no_stored_bytes(self):
        data = os.urandom(6 << 20)
        self.s3.put_object(Bucket=self.bucket, Key="copy-src", Body=data)
        other = self.unique("copydst")
        self.s3.create_bucket(Bucket=other)
        stored0, logical0 = self.stats()
        self.s3.copy_object(Bucket=self.bucket, Key="copy-dst",
                            CopySource={"Bucket": self.bucket, "Key": "copy-src"})
        self.s3.copy_object(Bucket=other, Key="copy-dst", MetadataDirective="REPLACE",
                            CopySource={"Bucket": self.bucket, "Key": "copy-src"})
        stored1, logical1 = self.stats()
        self.assertEqual(logical1 - logical0, 2 * len(data))
        self.assertLess(stored1 - stored0, 64 << 10, "a copy stored the data again")
        self.s3.delete_object(Bucket=self.bucket, Key="copy-src")
        self.assertEqual(hashlib.sha256(self.body("copy-dst", other)).digest(),
                         hashlib.sha256(data).digest())

    # ---- the access log, secrets, users ----

    def access_lines(self, request_ids, offset):
        """{request id: match} of the access-log lines for request_ids (waits up to 5 s: the
        line is written when libmicrohttpd reports the request complete)."""
        found = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(self.server.log_path, "rb") as f:
                f.seek(offset)
                for line in f.read().decode("utf-8", "replace").splitlines():
                    m = ACCESS_LINE.match(line)
                    if m and m.group(8) in request_ids:
                        found[m.group(8)] = m
            if len(found) == len(request_ids):
                break
            time.sleep(0.1)
        return found

    def test_access_log_lines(self):
        offset = self.server.log_size()
        body = os.urandom(12345)
        calls = [
            ("PUT", "/%s/log dir/k" % self.bucket, {}, body, ("PUT", "log\\x20dir/k",
                                                              "PutObject", "200")),
            ("GET", "/%s/log dir/k" % self.bucket, {}, b"", ("GET", "log\\x20dir/k",
                                                             "GetObject", "200")),
            ("GET", "/%s/log dir/k" % self.bucket, {"Range": "bytes=0-99"}, b"",
             ("GET", "log\\x20dir/k", "GetObject", "206")),
            ("HEAD", "/%s/nope" % self.bucket, {}, b"", ("HEAD", "nope", "HeadObject", "404")),
            ("GET", "/" + self.bucket, {}, b"", ("GET", "", "ListObjects", "200")),
            ("DELETE", "/%s/log dir/k" % self.bucket, {}, b"",
             ("DELETE", "log\\x20dir/k", "DeleteObject", "204")),
        ]
        responses = []
        for method, path, hdrs, data, want in calls:
            r = self.raw(method, path, headers=hdrs, body=data)
            responses.append((r, want))
        ids = {r.headers["x-amz-request-id"] for r, _ in responses}
        lines = self.access_lines(ids, offset)
        for r, want in responses:
            with self.subTest(want=want):
                m = lines.get(r.headers["x-amz-request-id"])
                self.assertIsNotNone(m, "no access-log line for %s" % (want,))
                self.assertEqual((m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)),
                                 (want[0], self.bucket, want[1], want[2], want[3]))
                self.assertEqual(int(m.group(6)), len(r.body) if want[0] != "HEAD" else 0)
                self.assertLess(int(m.group(7)), 30_000)
                self.assertIsNone(m.group(9))
        get = lines[responses[1][0].headers["x-amz-request-id"]]
        self.assertEqual(int(get.group(6)), len(body))

    def test_users_beside_the_daemon_and_no_secrets_in_the_log(self):
        ak, sk = self.add_user("carol")
        carol = self.client((ak, sk))
        b = self.unique("carol")
        carol.create_bucket(Bucket=b)
        carol.put_object(Bucket=b, Key="k", Body=b"carol's")
        listed = self.server.cairn_tool("user", "list", self.server.data_dir).stdout
        self.assertIn("carol %s" % ak, listed)
        self.assertNotIn(sk, listed)
        self.server.cairn_tool("user", "remove", self.server.data_dir, "carol")
        self.assertS3Error("InvalidAccessKeyId", 403, carol.get_object, Bucket=b, Key="k")
        self.assertS3Error("InvalidAccessKeyId", 403, carol.put_object, Bucket=b, Key="k",
                           Body=b"after removal")
        # Root still owns everything and reads the bucket; the object is unchanged.
        self.assertEqual(self.body("k", b), b"carol's")
        with open(self.server.log_path, "rb") as f:
            log = f.read()
        for secret in (sk, self.root[1]):
            self.assertNotIn(secret.encode(), log, "a secret key is in cairnd's log")

    # ---- aws-cli s3api calls t22 does not make ----

    def test_aws_cli_s3api(self):
        if not cairn_it.aws_cli_path():
            self.skipTest("no aws-cli")
        b = self.unique("cli")
        self.aws("s3api", "create-bucket", "--bucket", b)
        self.aws("s3api", "head-bucket", "--bucket", b)
        out = json.loads(self.aws("s3api", "get-bucket-location", "--bucket", b).stdout)
        self.assertIn(out.get("LocationConstraint"), (None, "", "us-east-1"))
        out = json.loads(self.aws("s3api", "list-buckets").stdout)
        self.assertIn(b, [x["Name"] for x in out["Buckets"]])
        with tempfile.NamedTemporaryFile() as empty:
            for k in ("a", "b c", "d/e"):
                self.aws("s3api", "put-object", "--bucket", b, "--key", k, "--body", empty.name)
        out = json.loads(self.aws("s3api", "list-objects", "--bucket", b, "--max-keys", "2",
                                  "--no-paginate").stdout)
        self.assertEqual([c["Key"] for c in out["Contents"]], ["a", "b c"])
        self.assertTrue(out["IsTruncated"])
        p = self.aws("s3api", "head-object", "--bucket", b, "--key", "a", "--if-none-match",
                     etag_of(b""), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"304", p.stderr)
        out = json.loads(self.aws("s3api", "delete-objects", "--bucket", b, "--delete",
                                  "Objects=[{Key=a},{Key=b c},{Key=d/e}]").stdout)
        self.assertEqual(sorted(d["Key"] for d in out["Deleted"]), ["a", "b c", "d/e"])
        p = self.aws("s3api", "get-object", "--bucket", b, "--key", "a", os.devnull, check=False)
        self.assertIn(b"NoSuchKey", p.stderr)
        self.aws("s3api", "delete-bucket", "--bucket", b)
        p = self.aws("s3api", "head-bucket", "--bucket", b, check=False)
        self.assertIn(b"404", p.stderr)


# ---- the process: settings, credentials, defaults, shutdown ----

class Daemon:
    """A cairnd of this suite's own: exact argv (no flags added), environment and cwd. Its log
    goes to a file; stopped by PID."""

    def __init__(self, tmp, args=(), env=None, creds=("AKCOVERAGE", "coverage/secret+key"),
                 port=None, cwd=None):
        self.port = port
        self.creds = creds
        self.log_path = os.path.join(tmp, "cairnd-%d.log" % len(os.listdir(tmp)))
        e = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        if creds:
            e["CAIRN_ROOT_ACCESS_KEY"], e["CAIRN_ROOT_SECRET_KEY"] = creds
        e.update(env or {})
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([os.path.join(build_dir(), "cairnd")] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, env=e, cwd=cwd or tmp)

    def health(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/_cairn/health")
            st = c.getresponse().status
            c.close()
            return st
        except OSError:
            return None

    def healthy(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.health() == 200:
                return True
            time.sleep(0.05)
        return False

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if self.wait_exit() is None:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def s3(self, region="us-east-1", creds=None):
        ak, sk = creds or self.creds
        return boto3.session.Session().client(
            "s3", endpoint_url="http://127.0.0.1:%d" % self.port, region_name=region,
            aws_access_key_id=ak, aws_secret_access_key=sk,
            config=botocore.config.Config(s3={"addressing_style": "path"},
                                          retries={"total_max_attempts": 1}))


class ProcessTests(unittest.TestCase):
    def setUp(self):
        if not os.access(os.path.join(build_dir(), "cairnd"), os.X_OK):
            self.skipTest("no cairnd (run make)")
        self.tmp = tempfile.mkdtemp(prefix="cairn-it-t28-")
        self.logs = os.path.join(self.tmp, "logs")
        os.mkdir(self.logs)
        self.daemons = []
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for d in self.daemons:
            d.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def daemon(self, args=(), port=None, **kw):
        d = Daemon(self.logs, args, port=port, **kw)
        self.daemons.append(d)
        return d

    def started(self, args=(), port=None, **kw):
        d = self.daemon(args, port=port, **kw)
        self.assertTrue(d.healthy(), d.log_text())
        return d

    def stopped_cleanly(self, d, sig=signal.SIGTERM):
        self.assertEqual(d.stop(sig), 0, d.log_text())

    def fsck(self, data_dir):
        p = subprocess.run([os.path.join(build_dir(), "cairn"), "fsck", data_dir],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def listening_line(self, d):
        m = re.search(r"listening on (\S+):(\d+), data (\S+), region ([^,\s]+)(?:, domain (\S+))?",
                      d.log_text())
        self.assertIsNotNone(m, d.log_text())
        return m.groups()

    # ---- settings ----

    def test_config_file_environment_flags(self):
        data = os.path.join(self.tmp, "from-file")
        p1, p2, p3 = free_port(), free_port(), free_port()
        conf = os.path.join(self.tmp, "cairnd.conf")
        with open(conf, "w") as f:
            f.write("; test settings\n[cairnd]\ndata = %s\nlisten = 127.0.0.1:%d\n"
                    "region = file-region-1\ndomain = file.cairn.test\n"
                    "[other]\nignored = yes\n" % (data, p1))
        # The file alone.
        d = self.started(["--config", conf], port=p1)
        self.assertEqual(self.listening_line(d),
                         ("127.0.0.1", str(p1), data, "file-region-1", "file.cairn.test"))
        s3 = d.s3(region="file-region-1")
        s3.create_bucket(Bucket="settings")
        h = s3.head_bucket(Bucket="settings")
        self.assertEqual(h["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"],
                         "file-region-1")
        self.assertEqual(s3.get_bucket_location(Bucket="settings")["LocationConstraint"],
                         "file-region-1")
        # A LocationConstraint equal to the server's region is accepted, another one is not.
        s3.create_bucket(Bucket="settings2",
                         CreateBucketConfiguration={"LocationConstraint": "file-region-1"})
        with self.assertRaises(ClientError) as cm:
            s3.create_bucket(Bucket="settings3",
                             CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertTrue(os.path.isdir(os.path.join(data, "index")))
        self.stopped_cleanly(d)
        # CAIRN_CONFIG names the file; the environment beats it.
        env = {"CAIRN_CONFIG": conf, "CAIRN_REGION": "env-region-1",
               "CAIRN_LISTEN": "127.0.0.1:%d" % p2}
        d = self.started(env=env, port=p2)
        self.assertEqual(self.listening_line(d),
                         ("127.0.0.1", str(p2), data, "env-region-1", "file.cairn.test"))
        d.s3(region="env-region-1").head_bucket(Bucket="settings")
        self.stopped_cleanly(d)
        # Flags beat both (both flag spellings).
        d = self.started(["--region", "flag-region-1", "--listen=127.0.0.1:%d" % p3,
                          "--domain", "flag.cairn.test"], env=env, port=p3)
        self.assertEqual(self.listening_line(d),
                         ("127.0.0.1", str(p3), data, "flag-region-1", "flag.cairn.test"))
        self.stopped_cleanly(d)
        self.fsck(data)

    def test_shipped_config_file(self):
        shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                               "cairnd.conf")
        port = free_port()
        data = os.path.join(self.tmp, "shipped")
        d = self.started(["--config", shipped, "--data", data, "--listen",
                          "127.0.0.1:%d" % port], port=port)
        self.assertEqual(self.listening_line(d)[3:], ("us-east-1", None))
        self.stopped_cleanly(d)
        # Every key the shipped file documents is a flag and an environment variable too.
        with open(shipped) as f:
            values = dict(re.findall(r"^([a-z_]+)[ \t]*=[ \t]*(.*)$", f.read(), re.M))
        self.assertIn("max_connections", values)
        for key in values:
            with self.subTest(key=key):
                p = subprocess.run([os.path.join(build_dir(), "cairnd"), "--" + key],
                                   capture_output=True, text=True, timeout=10)
                self.assertIn("incomplete option", p.stderr)
                # Known as a flag: its documented default is taken, then --help exits 0.
                p = subprocess.run([os.path.join(build_dir(), "cairnd"),
                                    "--%s=%s" % (key, values[key]), "--help"],
                                   capture_output=True, text=True, timeout=10)
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_bad_settings(self):
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[cairnd]\nno_such_key = 1\n")
        cases = [(["--config", conf], {}, "no_such_key"),
                 (["--config", os.path.join(self.tmp, "missing.conf")], {}, "missing.conf"),
                 (["--max-connections", "lots"], {}, "max-connections"),
                 ([], {"CAIRN_MAX_CONNECTIONS": "lots"}, "CAIRN_MAX_CONNECTIONS"),
                 (["--no-such-flag", "1"], {}, "no-such-flag")]
        for args, env, text in cases:
            with self.subTest(args=args, env=env):
                d = self.daemon(args + ["--data", os.path.join(self.tmp, "never")], env=env)
                rc = d.wait_exit()
                self.assertNotIn(rc, (None, 0), d.log_text())
                self.assertIn(text, d.log_text())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "never")))

    def test_embedded_defaults(self):
        # No flags but --listen: the data dir is ./cairn-data, the region us-east-1.
        port = free_port()
        cwd = os.path.join(self.tmp, "cwd")
        os.mkdir(cwd)
        d = self.started(["--listen", "127.0.0.1:%d" % port], port=port, cwd=cwd)
        self.assertEqual(self.listening_line(d)[2:], ("./cairn-data", "us-east-1", None))
        d.s3().create_bucket(Bucket="defaults")
        self.assertTrue(os.path.isdir(os.path.join(cwd, "cairn-data", "index")))
        self.stopped_cleanly(d)
        # Nothing at all: 127.0.0.1:9000 (when that port is free here).
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as cairnd binds
            try:
                s.bind(("127.0.0.1", 9000))
            except OSError:
                print("\n  port 9000 busy: the default listen address is not tried",
                      file=sys.stderr)
                return
        d = self.started(port=9000, cwd=cwd)
        self.assertEqual(self.listening_line(d), ("127.0.0.1", "9000", "./cairn-data",
                                                  "us-east-1", None))
        self.assertIn("defaults", [b["Name"] for b in d.s3().list_buckets()["Buckets"]])
        self.stopped_cleanly(d)

    # ---- root credentials ----

    def test_generated_root_credentials(self):
        port = free_port()
        data = os.path.join(self.tmp, "gen")
        path = os.path.join(data, "root-credentials")
        args = ["--data", data, "--listen", "127.0.0.1:%d" % port]
        d = self.started(args, port=port, creds=None)
        with open(path) as f:
            text = f.read()
        fields = dict(re.findall(r"^(access_key_id|secret_access_key) = (\S+)$", text, re.M))
        ak, sk = fields["access_key_id"], fields["secret_access_key"]
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertRegex(ak, r"^[A-Z2-7]{20}$")
        self.assertEqual(len(sk), 40)
        log = d.log_text()
        self.assertIn("generated root credentials in %s (access key %s)" % (path, ak), log)
        self.assertNotIn(sk, log)
        d.s3(creds=(ak, sk)).create_bucket(Bucket="gen")
        self.stopped_cleanly(d)
        # A restart keeps the pair.
        d = self.started(args, port=port, creds=None)
        self.assertIn("root credentials in %s (access key %s)" % (path, ak), d.log_text())
        self.assertNotIn(sk, d.log_text())
        d.s3(creds=(ak, sk)).head_bucket(Bucket="gen")
        self.stopped_cleanly(d)
        with open(path) as f:
            self.assertEqual(f.read(), text)
        # The environment's pair wins; the file's is then no key at all.
        d = self.started(args, port=port)
        self.assertIn("root credentials from the environment", d.log_text())
        d.s3().head_bucket(Bucket="gen")
        with self.assertRaises(ClientError) as cm:
            d.s3(creds=(ak, sk)).head_bucket(Bucket="gen")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.stopped_cleanly(d)
        self.fsck(data)

    # ---- shutdown ----

    def raw_put_start(self, port, key, total, first):
        """Opens a connection, sends a signed PUT's headers (UNSIGNED-PAYLOAD, Content-Length
        total) and the first bytes of its body; returns the socket."""
        path = "/shut/" + key
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % port, "x-amz-date": now,
                "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
        hdrs["Authorization"] = sigv4_authorization("PUT", path, None, hdrs, "UNSIGNED-PAYLOAD",
                                                    "AKCOVERAGE", "coverage/secret+key", now)
        head = "PUT %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (
            path, "".join("%s: %s\r\n" % kv for kv in hdrs.items()), total)
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        s.sendall(head.encode() + first)
        return s

    @staticmethod
    def read_response(s):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def test_sigterm_lets_requests_in_flight_finish(self):
        port = free_port()
        data = os.path.join(self.tmp, "shut")
        args = ["--data", data, "--listen", "127.0.0.1:%d" % port, "--shutdown-timeout", "20"]
        d = self.started(args, port=port)
        s3 = d.s3()
        s3.create_bucket(Bucket="shut")
        big = os.urandom(24 << 20)
        s3.put_object(Bucket="shut", Key="big", Body=big)
        # A download read slowly, and an upload half sent, when SIGTERM arrives.
        g = s3.get_object(Bucket="shut", Key="big")["Body"]
        first = g.read(1 << 20)
        body = os.urandom(4 << 20)
        up = self.raw_put_start(port, "in flight", len(body), body[:len(body) // 2])
        time.sleep(0.5)
        d.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while d.health() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIsNone(d.health(), "new connections are still served after SIGTERM")
        self.assertIsNone(d.proc.poll(), "cairnd left before its requests finished")
        up.sendall(body[len(body) // 2:])
        resp = self.read_response(up)
        up.close()
        self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:300])
        self.assertIn(etag_of(body).encode(), resp)
        rest = g.read()
        self.assertTrue(first + rest == big, "the download was cut or changed")
        self.assertEqual(d.wait_exit(SLACK + 5), 0, d.log_text())
        log = d.log_text()
        self.assertIn("signal 15: shutting down", log)
        self.assertRegex(log, r"INFO PUT /shut/in\\x20flight PutObject 200 ")
        self.assertNotIn("still in flight", log)
        self.stopped_cleanly(d)
        self.fsck(data)
        d = self.started(args, port=port)
        self.assertEqual(d.s3().get_object(Bucket="shut", Key="in flight")["Body"].read(), body)
        self.stopped_cleanly(d, signal.SIGINT)
        self.assertIn("signal 2: shutting down", d.log_text())
        self.fsck(data)

    def test_shutdown_timeout_cuts_a_stalled_upload(self):
        port = free_port()
        data = os.path.join(self.tmp, "stall")
        args = ["--data", data, "--listen", "127.0.0.1:%d" % port, "--shutdown-timeout", "1"]
        d = self.started(args, port=port)
        s3 = d.s3()
        s3.create_bucket(Bucket="shut")
        s3.put_object(Bucket="shut", Key="victim", Body=b"the old object")
        up = self.raw_put_start(port, "victim", 1 << 20, os.urandom(300_000))
        time.sleep(0.5)
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(1 + SLACK + 5), 0, d.log_text())
        self.assertLess(time.monotonic() - t0, 1 + SLACK + 3)
        up.close()
        self.assertIn("closing 1 request(s) still in flight", d.log_text())
        self.stopped_cleanly(d)
        self.fsck(data)
        d = self.started(args, port=port)
        self.assertEqual(d.s3().get_object(Bucket="shut", Key="victim")["Body"].read(),
                         b"the old object")
        self.stopped_cleanly(d)

    def test_idle_keep_alive_connection_closed(self):
        port = free_port()
        d = self.started(["--data", os.path.join(self.tmp, "idle"), "--listen",
                          "127.0.0.1:%d" % port, "--header-timeout", "2"], port=port)
        # A signed ListBuckets (the health check closes its connection itself).
        now = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % port, "x-amz-date": now,
                "x-amz-content-sha256": sha256_hex(b"")}
        hdrs["Authorization"] = sigv4_authorization("GET", "/", None, hdrs, sha256_hex(b""),
                                                    *d.creds, now)
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        s.sendall(("GET / HTTP/1.1\r\n%s\r\n" % "".join(
            "%s: %s\r\n" % kv for kv in hdrs.items())).encode())
        resp = self.read_response(s)
        self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:300])
        self.assertNotIn(b"onnection: close", resp)
        t0 = time.monotonic()
        closed = False
        try:
            while time.monotonic() - t0 < 2 + SLACK + 5:
                chunk = s.recv(4096)
                if not chunk:
                    closed = True
                    break
        except OSError:
            closed = True
        s.close()
        self.assertTrue(closed, "an idle keep-alive connection stayed open")
        self.assertLess(time.monotonic() - t0, 2 + SLACK + 1)
        self.assertGreater(time.monotonic() - t0, 1.0, "closed long before header_timeout")
        self.stopped_cleanly(d)


if __name__ == "__main__":
    unittest.main()
