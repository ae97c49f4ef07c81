#!/usr/bin/env python3
"""boto3 against a real cairnd: buckets, objects, stored headers, Content-MD5 and flexible
checksums, conditional requests, ranges, response overrides, awkward keys, size limits, copy,
DeleteObjects and listing (v2 and v1). Error codes and statuses as the S3 API reference
documents them."""

import concurrent.futures
import datetime
import hashlib
import os
import random
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unittest  # noqa: E402

from cairn_it import (  # noqa: E402
    CairnTestCase, checksum_b64, etag_of, md5_b64, REGION,
)

UTC = datetime.timezone.utc


def body_of(resp):
    return resp["Body"].read()


def hdr(resp, name):
    return resp["ResponseMetadata"]["HTTPHeaders"].get(name.lower())


class BucketTests(CairnTestCase):
    def test_create_list_head_location_delete(self):
        b = self.unique()
        r = self.s3.create_bucket(Bucket=b)
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(r.get("Location"), "/" + b)
        listed = self.s3.list_buckets()["Buckets"]
        mine = [x for x in listed if x["Name"] == b]
        self.assertEqual(len(mine), 1, listed)
        age = datetime.datetime.now(UTC) - mine[0]["CreationDate"]
        self.assertLess(abs(age.total_seconds()), 300, mine[0])
        h = self.s3.head_bucket(Bucket=b)
        self.assertEqual(h["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(hdr(h, "x-amz-bucket-region"), REGION)
        # Buckets in us-east-1 have a LocationConstraint of null.
        self.assertIsNone(self.s3.get_bucket_location(Bucket=b).get("LocationConstraint"))
        d = self.s3.delete_bucket(Bucket=b)
        self.assertEqual(d["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.assertS3Error("404", 404, self.s3.head_bucket, Bucket=b)
        self.assertS3Error("NoSuchBucket", 404, self.s3.delete_bucket, Bucket=b)
        self.assertNotIn(b, [x["Name"] for x in self.s3.list_buckets()["Buckets"]])

    def test_list_buckets_sorted(self):
        names = [self.unique("sort") for _ in range(5)]
        for n in names:
            self.s3.create_bucket(Bucket=n)
        listed = [x["Name"] for x in self.s3.list_buckets()["Buckets"]]
        self.assertEqual(listed, sorted(listed))
        for n in names:
            self.assertIn(n, listed)
            self.s3.delete_bucket(Bucket=n)

    def test_location_constraint_equal_to_region(self):
        b = self.unique()
        self.s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.s3.head_bucket(Bucket=b)
        self.assertIsNone(self.s3.get_bucket_location(Bucket=b).get("LocationConstraint"))
        self.s3.delete_bucket(Bucket=b)

    def test_location_constraint_other_region(self):
        b = self.unique()
        try:
            self.s3.create_bucket(Bucket=b,
                                  CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            self.fail("a bucket in another region was created")
        except self.s3.exceptions.ClientError as e:
            # AWS answers IllegalLocationConstraintException when the constraint does not fit
            # the endpoint's region (InvalidLocationConstraint for a constraint it rejects).
            self.assertIn(e.response["Error"]["Code"],
                          ("IllegalLocationConstraintException", "InvalidLocationConstraint"))
            self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertS3Error("404", 404, self.s3.head_bucket, Bucket=b)

    def test_already_owned_by_you(self):
        b = self.unique()
        self.s3.create_bucket(Bucket=b)
        self.s3.put_object(Bucket=b, Key="keep", Body=b"still here")
        # AWS answers 200 for this in us-east-1 only for legacy reasons; cairn (like most S3
        # servers) answers BucketAlreadyOwnedByYou everywhere.
        self.assertS3Error("BucketAlreadyOwnedByYou", 409, self.s3.create_bucket, Bucket=b)
        self.assertEqual(body_of(self.s3.get_object(Bucket=b, Key="keep")), b"still here")
        self.s3.delete_object(Bucket=b, Key="keep")
        self.s3.delete_bucket(Bucket=b)

    def test_bucket_not_empty(self):
        b = self.unique()
        self.s3.create_bucket(Bucket=b)
        self.s3.put_object(Bucket=b, Key="x/y", Body=b"1")
        self.assertS3Error("BucketNotEmpty", 409, self.s3.delete_bucket, Bucket=b)
        self.s3.head_bucket(Bucket=b)
        self.assertEqual(body_of(self.s3.get_object(Bucket=b, Key="x/y")), b"1")
        self.s3.delete_object(Bucket=b, Key="x/y")
        self.s3.delete_bucket(Bucket=b)

    def test_invalid_names(self):
        # Names botocore lets through (its own check only limits the character set).
        bad = ["ab", "a" * 64, "Upper-case", "-leading", "trailing-", ".leading", "trailing.",
               "two..dots", "192.168.5.4", "under_score"]
        for name in bad:
            with self.subTest(name=name):
                self.assertS3Error("InvalidBucketName", 400, self.s3.create_bucket, Bucket=name)
        listed = [x["Name"] for x in self.s3.list_buckets()["Buckets"]]
        for name in bad:
            self.assertNotIn(name, listed)
        self.assertHealthy()

    def test_valid_edge_names(self):
        suffix = "".join(random.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=6))
        for name in ["ab" + suffix[:1], ("n" + suffix) * 9 + "abcdefghi", "1a.b-c." + suffix,
                     "9" + suffix]:
            name = name[:63]
            with self.subTest(name=name):
                self.s3.create_bucket(Bucket=name)
                self.s3.put_object(Bucket=name, Key="k", Body=b"v")
                self.assertEqual(body_of(self.s3.get_object(Bucket=name, Key="k")), b"v")
                self.s3.delete_object(Bucket=name, Key="k")
                self.s3.delete_bucket(Bucket=name)

    def test_missing_bucket(self):
        b = self.unique("missing")
        self.assertS3Error("NoSuchBucket", 404, self.s3.get_object, Bucket=b, Key="k")
        self.assertS3Error("NoSuchBucket", 404, self.s3.put_object, Bucket=b, Key="k", Body=b"")
        self.assertS3Error("NoSuchBucket", 404, self.s3.list_objects_v2, Bucket=b)
        self.assertS3Error("NoSuchBucket", 404, self.s3.get_bucket_location, Bucket=b)
        self.assertNotIn(b, [x["Name"] for x in self.s3.list_buckets()["Buckets"]])


class ObjectTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("obj")
        cls.s3.create_bucket(Bucket=cls.bucket)

    def put(self, key, body, **kw):
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **kw)

    def get(self, key, **kw):
        return self.s3.get_object(Bucket=self.bucket, Key=key, **kw)

    def head(self, key, **kw):
        return self.s3.head_object(Bucket=self.bucket, Key=key, **kw)

    def test_put_get_head_delete(self):
        data = os.urandom(100_000)
        r = self.put("plain", data)
        self.assertEqual(r["ETag"], etag_of(data))
        g = self.get("plain")
        self.assertEqual(body_of(g), data)
        self.assertEqual(g["ContentLength"], len(data))
        self.assertEqual(g["ETag"], etag_of(data))
        self.assertEqual(hdr(g, "accept-ranges"), "bytes")
        age = datetime.datetime.now(UTC) - g["LastModified"]
        self.assertLess(abs(age.total_seconds()), 300)
        h = self.head("plain")
        self.assertEqual(h["ContentLength"], len(data))
        self.assertEqual(h["ETag"], etag_of(data))
        self.assertEqual(h["LastModified"], g["LastModified"])
        d = self.s3.delete_object(Bucket=self.bucket, Key="plain")
        self.assertEqual(d["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.assertS3Error("NoSuchKey", 404, self.get, "plain")
        self.assertS3Error("404", 404, self.head, "plain")
        # Deleting what is not there succeeds (S3 deletes are idempotent).
        d = self.s3.delete_object(Bucket=self.bucket, Key="plain")
        self.assertEqual(d["ResponseMetadata"]["HTTPStatusCode"], 204)

    def test_empty_and_overwrite(self):
        r = self.put("empty", b"")
        self.assertEqual(r["ETag"], '"d41d8cd98f00b204e9800998ecf8427e"')
        g = self.get("empty")
        self.assertEqual(body_of(g), b"")
        self.assertEqual(g["ContentLength"], 0)
        self.put("empty", b"now something")
        self.assertEqual(body_of(self.get("empty")), b"now something")
        self.put("empty", b"")
        self.assertEqual(self.head("empty")["ContentLength"], 0)

    def test_default_content_type(self):
        # A PUT without Content-Type: S3 stores and returns binary/octet-stream.
        r = self.raw("PUT", "/%s/no-type" % self.bucket, body=b"abc")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.head("no-type")["ContentType"], "binary/octet-stream")

    def test_metadata_round_trip(self):
        meta = {"alpha": "one", "mixed-words": "Two Words  and,punct;=x", "empty-ish": "-",
                "num": "12345"}
        self.put("meta", b"m", Metadata=meta)
        self.assertEqual(self.get("meta")["Metadata"], meta)
        self.assertEqual(self.head("meta")["Metadata"], meta)
        # An overwrite replaces the metadata as a whole.
        self.put("meta", b"m2", Metadata={"beta": "two"})
        self.assertEqual(self.head("meta")["Metadata"], {"beta": "two"})
        self.put("meta", b"m3")
        self.assertEqual(self.head("meta")["Metadata"], {})

    def test_stored_headers(self):
        kw = dict(ContentType="text/x-cairn; charset=utf-8", ContentEncoding="x-cairn-enc",
                  ContentDisposition='attachment; filename="a b.txt"', ContentLanguage="en-GB",
                  CacheControl="max-age=60, private",
                  Expires=datetime.datetime(2030, 1, 1, tzinfo=UTC))
        self.put("headers", b"<stored headers>", **kw)
        for resp in (self.get("headers"), self.head("headers")):
            with self.subTest(op=resp["ResponseMetadata"]["HTTPStatusCode"]):
                self.assertEqual(resp["ContentType"], kw["ContentType"])
                self.assertEqual(resp["ContentEncoding"], kw["ContentEncoding"])
                self.assertEqual(resp["ContentDisposition"], kw["ContentDisposition"])
                self.assertEqual(resp["ContentLanguage"], kw["ContentLanguage"])
                self.assertEqual(resp["CacheControl"], kw["CacheControl"])
                self.assertEqual(hdr(resp, "expires"), "Tue, 01 Jan 2030 00:00:00 GMT")

    def test_content_md5(self):
        data = b"digest me" * 1000
        r = self.put("md5", data, ContentMD5=md5_b64(data))
        self.assertEqual(r["ETag"], etag_of(data))
        self.assertS3Error("BadDigest", 400, self.put, "md5", b"other bytes",
                           ContentMD5=md5_b64(b"something else"))
        self.assertS3Error("BadDigest", 400, self.put, "md5-new", b"other bytes",
                           ContentMD5=md5_b64(b"something else"))
        # Not a 16-byte value in base64: InvalidDigest.
        self.assertS3Error("InvalidDigest", 400, self.put, "md5-new", b"x",
                           ContentMD5="bm90LW1kNQ==")
        self.assertEqual(body_of(self.get("md5")), data)
        self.assertS3Error("404", 404, self.head, "md5-new")

    def test_checksums_computed_by_boto3(self):
        data = os.urandom(50_000)
        for alg in ("CRC32", "SHA1", "SHA256"):
            with self.subTest(alg=alg):
                key = "sum-" + alg
                want = checksum_b64(alg, data)
                r = self.put(key, data, ChecksumAlgorithm=alg)
                self.assertEqual(r.get("Checksum" + alg), want)
                g = self.get(key, ChecksumMode="ENABLED")
                self.assertEqual(g.get("Checksum" + alg), want)
                self.assertEqual(body_of(g), data)
                h = self.head(key, ChecksumMode="ENABLED")
                self.assertEqual(h.get("Checksum" + alg), want)

    def test_checksums_given_by_value(self):
        # CRC32C and CRC64NVME need awscrt in botocore: the test computes them and passes the
        # header value (botocore then sends it as it is).
        data = os.urandom(30_000) + b"tail"
        for alg in ("CRC32C", "CRC64NVME", "CRC32", "SHA1", "SHA256"):
            with self.subTest(alg=alg):
                key = "val-" + alg
                want = checksum_b64(alg, data)
                r = self.put(key, data, **{"Checksum" + alg: want})
                self.assertEqual(r.get("Checksum" + alg), want)
                g = self.get(key, ChecksumMode="ENABLED")
                self.assertEqual(g.get("Checksum" + alg), want)
                self.assertEqual(body_of(g), data)
                self.assertEqual(self.head(key, ChecksumMode="ENABLED").get("Checksum" + alg),
                                 want)
                wrong = checksum_b64(alg, data + b"!")
                self.assertS3Error("BadDigest", 400, self.put, key, b"new body",
                                   **{"Checksum" + alg: wrong})
                self.assertEqual(body_of(self.get(key)), data)

    def test_checksum_malformed_value(self):
        self.assertS3Error("InvalidRequest", 400, self.put, "bad-sum", b"x",
                           ChecksumCRC32="not base64!")
        self.assertS3Error("404", 404, self.head, "bad-sum")

    def test_default_client_checksum(self):
        # boto3's default config sends a CRC32 with every PutObject (when_supported).
        s3d = self.s3_default
        data = os.urandom(20_000)
        s3d.put_object(Bucket=self.bucket, Key="default-sum", Body=data)
        g = s3d.get_object(Bucket=self.bucket, Key="default-sum", ChecksumMode="ENABLED")
        self.assertEqual(body_of(g), data)
        self.assertEqual(g.get("ChecksumCRC32"), checksum_b64("CRC32", data))

    def test_conditional_get_head(self):
        data = b"conditional"
        etag = self.put("cond", data)["ETag"]
        lm = self.head("cond")["LastModified"]
        hour = datetime.timedelta(hours=1)
        for op in (self.get, self.head):
            with self.subTest(op=op.__name__):
                op("cond", IfMatch=etag)
                self.assertS3Error("PreconditionFailed" if op == self.get else "412", 412,
                                   op, "cond", IfMatch='"0123456789abcdef0123456789abcdef"')
                self.assertS3Error("304", 304, op, "cond", IfNoneMatch=etag)
                op("cond", IfNoneMatch='"0123456789abcdef0123456789abcdef"')
                # Not modified since its own Last-Modified (compared in whole seconds).
                self.assertS3Error("304", 304, op, "cond", IfModifiedSince=lm)
                op("cond", IfModifiedSince=lm - hour)
                self.assertS3Error("PreconditionFailed" if op == self.get else "412", 412,
                                   op, "cond", IfUnmodifiedSince=lm - hour)
                op("cond", IfUnmodifiedSince=lm)
                # If-Match true and If-Unmodified-Since false: 200 (RFC 7232 order, as S3).
                op("cond", IfMatch=etag, IfUnmodifiedSince=lm - hour)
                # If-None-Match false and If-Modified-Since true: 304.
                self.assertS3Error("304", 304, op, "cond", IfNoneMatch=etag,
                                   IfModifiedSince=lm - hour)
        g = self.get("cond", IfMatch=etag)
        self.assertEqual(body_of(g), data)

    def test_conditional_put(self):
        r = self.put("once", b"first", IfNoneMatch="*")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertS3Error("PreconditionFailed", 412, self.put, "once", b"second",
                           IfNoneMatch="*")
        self.assertEqual(body_of(self.get("once")), b"first")

    def test_ranges(self):
        data = bytes(range(256)) * 40
        n = len(data)
        self.put("range", data)
        cases = [("bytes=0-99", 0, 99), ("bytes=10000-", 10000, n - 1),
                 ("bytes=-100", n - 100, n - 1), ("bytes=10000-20000", 10000, n - 1),
                 ("bytes=5-5", 5, 5), ("bytes=-20000", 0, n - 1)]
        for rng, first, last in cases:
            with self.subTest(range=rng):
                g = self.get("range", Range=rng)
                self.assertEqual(g["ResponseMetadata"]["HTTPStatusCode"], 206)
                self.assertEqual(g["ContentRange"], "bytes %d-%d/%d" % (first, last, n))
                self.assertEqual(g["ContentLength"], last - first + 1)
                self.assertEqual(body_of(g), data[first:last + 1])
        for rng in ("bytes=20000-", "bytes=%d-" % n):
            with self.subTest(range=rng):
                self.assertS3Error("InvalidRange", 416, self.get, "range", Range=rng)
        # A Range header that does not parse is ignored: the whole object, 200.
        g = self.get("range", Range="bytes=abc")
        self.assertEqual(g["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(body_of(g), data)

    def test_response_overrides(self):
        self.put("override", b"o", ContentType="text/plain")
        g = self.get("override", ResponseContentType="application/x-over",
                     ResponseContentDisposition='inline; filename="o.bin"',
                     ResponseCacheControl="no-cache", ResponseContentLanguage="fr",
                     ResponseContentEncoding="x-over-enc",
                     ResponseExpires=datetime.datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC))
        self.assertEqual(g["ContentType"], "application/x-over")
        self.assertEqual(g["ContentDisposition"], 'inline; filename="o.bin"')
        self.assertEqual(g["CacheControl"], "no-cache")
        self.assertEqual(g["ContentLanguage"], "fr")
        self.assertEqual(g["ContentEncoding"], "x-over-enc")
        self.assertEqual(hdr(g, "expires"), "Mon, 03 Feb 2031 04:05:06 GMT")
        self.assertEqual(body_of(g), b"o")
        self.assertEqual(self.head("override")["ContentType"], "text/plain")

    def test_awkward_keys(self):
        keys = ["awk/with space", "awk/plus+sign", "awk/percent%20literal", "awk/100%",
                "awk/unicode-\u00fc-\u65e5\u672c-\U0001F642", "awk/dots/../up", "awk/..",
                "awk/a/./b", "awk/trailing/", "awk/double//slash", "awk/q?mark=1&x",
                "awk/hash#tag", "awk/tilde~star*(paren)", "awk/quote'\"", "awk/back\\slash",
                "awk/<xml>&amp;", "awk/ends with space ", "awk/semi;colon:comma,at@dollar$"]
        for k in keys:
            with self.subTest(key=k):
                self.put(k, k.encode())
                self.assertEqual(body_of(self.get(k)), k.encode())
                self.assertEqual(self.head(k)["ContentLength"], len(k.encode()))
        listed = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix="awk/"):
            listed += [c["Key"] for c in page.get("Contents", [])]
        self.assertEqual(listed, sorted(keys, key=lambda s: s.encode()))
        for k in keys:
            self.s3.delete_object(Bucket=self.bucket, Key=k)
        self.assertEqual(self.s3.list_objects_v2(Bucket=self.bucket, Prefix="awk/")["KeyCount"],
                         0)

    def test_key_length_limit(self):
        for k in ("k" * 1024, "\u00e9" * 512):  # 1024 bytes of UTF-8 each
            self.put(k, b"long")
            self.assertEqual(body_of(self.get(k)), b"long")
            self.s3.delete_object(Bucket=self.bucket, Key=k)
        for k in ("k" * 1025, "\u00e9" * 512 + "x"):
            self.assertS3Error("KeyTooLongError", 400, self.put, k, b"too long")
        self.assertHealthy()

    def test_metadata_limit(self):
        self.put("meta-ok", b"x", Metadata={"m": "v" * 1500})
        self.assertEqual(self.head("meta-ok")["Metadata"]["m"], "v" * 1500)
        self.assertS3Error("MetadataTooLarge", 400, self.put, "meta-big", b"x",
                           Metadata={"big": "v" * 2100})
        self.assertS3Error("MetadataTooLarge", 400, self.put, "meta-big", b"x",
                           Metadata={"k%02d" % i: "v" * 100 for i in range(25)})
        self.assertS3Error("404", 404, self.head, "meta-big")

    def test_version_id_null(self):
        self.put("ver", b"versioned?")
        self.assertEqual(body_of(self.get("ver", VersionId="null")), b"versioned?")
        self.assertEqual(self.head("ver", VersionId="null")["ContentLength"], 10)

    def test_version_id_other(self):
        # An unversioned bucket has only the null version: any other id is not the object.
        self.put("ver2", b"v")
        try:
            self.get("ver2", VersionId="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
            self.fail("a non-null versionId returned the object")
        except self.s3.exceptions.ClientError as e:
            self.assertIn((e.response["Error"]["Code"],
                           e.response["ResponseMetadata"]["HTTPStatusCode"]),
                          [("NoSuchVersion", 404), ("InvalidArgument", 400)])


class CopyTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("copy")
        cls.other = cls.unique("copy2")
        cls.s3.create_bucket(Bucket=cls.bucket)
        cls.s3.create_bucket(Bucket=cls.other)
        cls.data = os.urandom(200_000)
        cls.etag = cls.s3.put_object(Bucket=cls.bucket, Key="src", Body=cls.data,
                                     ContentType="image/x-src", Metadata={"from": "src"},
                                     CacheControl="max-age=1")["ETag"]

    def copy(self, dst_key, src_key="src", dst_bucket=None, **kw):
        return self.s3.copy_object(Bucket=dst_bucket or self.bucket, Key=dst_key,
                                   CopySource={"Bucket": self.bucket, "Key": src_key}, **kw)

    def test_copy_directive_copy(self):
        r = self.copy("dst-copy", dst_bucket=self.other)
        self.assertEqual(r["CopyObjectResult"]["ETag"], self.etag)
        g = self.s3.get_object(Bucket=self.other, Key="dst-copy")
        self.assertEqual(body_of(g), self.data)
        self.assertEqual(g["ContentType"], "image/x-src")
        self.assertEqual(g["Metadata"], {"from": "src"})
        self.assertEqual(g["CacheControl"], "max-age=1")
        self.assertEqual(g["ETag"], self.etag)

    def test_copy_directive_replace(self):
        self.copy("dst-replace", MetadataDirective="REPLACE", Metadata={"new": "yes"},
                  ContentType="text/x-new")
        g = self.s3.get_object(Bucket=self.bucket, Key="dst-replace")
        self.assertEqual(body_of(g), self.data)
        self.assertEqual(g["Metadata"], {"new": "yes"})
        self.assertEqual(g["ContentType"], "text/x-new")
        self.assertIsNone(g.get("CacheControl"))
        # The source is untouched.
        self.assertEqual(self.s3.head_object(Bucket=self.bucket, Key="src")["Metadata"],
                         {"from": "src"})

    def test_copy_conditions(self):
        hour = datetime.timedelta(hours=1)
        lm = self.s3.head_object(Bucket=self.bucket, Key="src")["LastModified"]
        self.copy("dst-cond", CopySourceIfMatch=self.etag)
        self.copy("dst-cond", CopySourceIfNoneMatch='"0123456789abcdef0123456789abcdef"')
        self.copy("dst-cond", CopySourceIfModifiedSince=lm - hour)
        self.copy("dst-cond", CopySourceIfUnmodifiedSince=lm)
        for kw in ({"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'},
                   {"CopySourceIfNoneMatch": self.etag},
                   {"CopySourceIfModifiedSince": lm},
                   {"CopySourceIfUnmodifiedSince": lm - hour}):
            with self.subTest(cond=list(kw)[0]):
                self.assertS3Error("PreconditionFailed", 412, self.copy, "dst-cond-no", **kw)
        self.assertS3Error("404", 404, self.s3.head_object, Bucket=self.bucket, Key="dst-cond-no")

    def test_copy_onto_itself(self):
        self.s3.put_object(Bucket=self.bucket, Key="self", Body=b"me", Metadata={"v": "1"})
        self.assertS3Error("InvalidRequest", 400, self.copy, "self", src_key="self")
        self.copy("self", src_key="self", MetadataDirective="REPLACE", Metadata={"v": "2"})
        h = self.s3.head_object(Bucket=self.bucket, Key="self")
        self.assertEqual(h["Metadata"], {"v": "2"})
        self.assertEqual(body_of(self.s3.get_object(Bucket=self.bucket, Key="self")), b"me")

    def test_copy_missing_source(self):
        self.assertS3Error("NoSuchKey", 404, self.copy, "dst-missing", src_key="nope")
        self.assertS3Error("NoSuchBucket", 404, self.s3.copy_object, Bucket=self.bucket,
                           Key="dst-missing",
                           CopySource={"Bucket": self.unique("gone"), "Key": "src"})
        self.assertS3Error("NoSuchBucket", 404, self.copy, "k", dst_bucket=self.unique("gone"))

    def test_copy_awkward_key_and_empty(self):
        key = "copy src/a b+c%d\u00fc?x=1"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"")
        self.copy("dst awk+", src_key=key)
        g = self.s3.get_object(Bucket=self.bucket, Key="dst awk+")
        self.assertEqual(body_of(g), b"")
        self.assertEqual(g["ETag"], etag_of(b""))


class DeleteObjectsTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("del")
        cls.s3.create_bucket(Bucket=cls.bucket)

    def keys(self, prefix):
        r = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [c["Key"] for c in r.get("Contents", [])]

    def test_verbose(self):
        keys = ["v/%d" % i for i in range(5)] + ["v/<&>\"' odd"]
        for k in keys:
            self.s3.put_object(Bucket=self.bucket, Key=k, Body=k.encode())
        self.s3.put_object(Bucket=self.bucket, Key="v/keep", Body=b"keep")
        r = self.s3.delete_objects(Bucket=self.bucket, Delete={
            "Objects": [{"Key": k} for k in keys + ["v/never-existed"]], "Quiet": False})
        self.assertEqual(sorted(d["Key"] for d in r.get("Deleted", [])),
                         sorted(keys + ["v/never-existed"]))
        self.assertEqual(r.get("Errors", []), [])
        self.assertEqual(self.keys("v/"), ["v/keep"])

    def test_quiet(self):
        keys = ["q/%d" % i for i in range(7)]
        for k in keys:
            self.s3.put_object(Bucket=self.bucket, Key=k, Body=b"q")
        r = self.s3.delete_objects(Bucket=self.bucket, Delete={
            "Objects": [{"Key": k} for k in keys], "Quiet": True})
        self.assertEqual(r.get("Deleted", []), [])
        self.assertEqual(r.get("Errors", []), [])
        self.assertEqual(self.keys("q/"), [])

    def test_missing_bucket(self):
        self.assertS3Error("NoSuchBucket", 404, self.s3.delete_objects,
                           Bucket=self.unique("gone"), Delete={"Objects": [{"Key": "a"}]})


class ListTests(CairnTestCase):
    MANY = 2500
    TREE = ["a/b/c", "a/b/d", "a/e", "f", "g/h", "g/i/j"]

    @classmethod
    def setUpFixtures(cls):
        cls.many = cls.unique("many")
        cls.tree = cls.unique("tree")
        cls.s3.create_bucket(Bucket=cls.many)
        cls.s3.create_bucket(Bucket=cls.tree)
        for k in cls.TREE:
            cls.s3.put_object(Bucket=cls.tree, Key=k, Body=k.encode())
        cls.many_keys = ["many/k%05d" % i for i in range(cls.MANY)]
        pool_client = cls.client(max_pool_connections=16)

        def put(k):
            pool_client.put_object(Bucket=cls.many, Key=k, Body=k.encode())

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            list(ex.map(put, cls.many_keys))

    def test_delimiter_and_prefix(self):
        r = self.s3.list_objects_v2(Bucket=self.tree, Delimiter="/")
        self.assertEqual([c["Key"] for c in r.get("Contents", [])], ["f"])
        self.assertEqual([p["Prefix"] for p in r.get("CommonPrefixes", [])], ["a/", "g/"])
        self.assertEqual(r["KeyCount"], 3)
        self.assertFalse(r["IsTruncated"])
        r = self.s3.list_objects_v2(Bucket=self.tree, Prefix="a/", Delimiter="/")
        self.assertEqual([c["Key"] for c in r.get("Contents", [])], ["a/e"])
        self.assertEqual([p["Prefix"] for p in r.get("CommonPrefixes", [])], ["a/b/"])
        self.assertEqual(r["Prefix"], "a/")
        r = self.s3.list_objects_v2(Bucket=self.tree, Prefix="a/b/")
        self.assertEqual([c["Key"] for c in r["Contents"]], ["a/b/c", "a/b/d"])
        self.assertNotIn("CommonPrefixes", r)
        r = self.s3.list_objects_v2(Bucket=self.tree, Prefix="zzz")
        self.assertEqual(r["KeyCount"], 0)
        self.assertNotIn("Contents", r)
        r = self.s3.list_objects_v2(Bucket=self.tree, Delimiter="b")
        self.assertEqual([p["Prefix"] for p in r.get("CommonPrefixes", [])], ["a/b"])

    def test_contents_fields(self):
        r = self.s3.list_objects_v2(Bucket=self.tree)
        self.assertEqual([c["Key"] for c in r["Contents"]], self.TREE)
        for c in r["Contents"]:
            self.assertEqual(c["Size"], len(c["Key"]))
            self.assertEqual(c["ETag"], etag_of(c["Key"].encode()))
            self.assertEqual(c["StorageClass"], "STANDARD")
            age = datetime.datetime.now(UTC) - c["LastModified"]
            self.assertLess(abs(age.total_seconds()), 600)
        self.assertEqual(r["Name"], self.tree)
        self.assertEqual(r["MaxKeys"], 1000)

    def test_paging_v2(self):
        got, token, pages = [], None, 0
        while True:
            kw = {"ContinuationToken": token} if token else {}
            r = self.s3.list_objects_v2(Bucket=self.many, MaxKeys=1000, **kw)
            pages += 1
            keys = [c["Key"] for c in r.get("Contents", [])]
            self.assertEqual(r["KeyCount"], len(keys))
            got += keys
            if not r["IsTruncated"]:
                self.assertNotIn("NextContinuationToken", r)
                break
            self.assertEqual(len(keys), 1000)
            token = r["NextContinuationToken"]
            self.assertTrue(token)
            self.assertLess(pages, 10)
        self.assertEqual(pages, 3)
        self.assertEqual(got, self.many_keys)

    def test_paging_small_pages(self):
        r = self.s3.list_objects_v2(Bucket=self.many, MaxKeys=7)
        self.assertEqual([c["Key"] for c in r["Contents"]], self.many_keys[:7])
        self.assertTrue(r["IsTruncated"])
        r = self.s3.list_objects_v2(Bucket=self.many, MaxKeys=7,
                                    ContinuationToken=r["NextContinuationToken"])
        self.assertEqual([c["Key"] for c in r["Contents"]], self.many_keys[7:14])

    def test_max_keys_capped_at_1000(self):
        r = self.s3.list_objects_v2(Bucket=self.many, MaxKeys=5000)
        self.assertEqual(len(r["Contents"]), 1000)
        self.assertTrue(r["IsTruncated"])

    def test_common_prefixes_count_toward_max_keys(self):
        seen, token = [], None
        for _ in range(10):
            kw = {"ContinuationToken": token} if token else {}
            r = self.s3.list_objects_v2(Bucket=self.tree, Delimiter="/", MaxKeys=1, **kw)
            entries = [c["Key"] for c in r.get("Contents", [])] + \
                [p["Prefix"] for p in r.get("CommonPrefixes", [])]
            self.assertEqual(len(entries), 1, r)
            seen += entries
            if not r["IsTruncated"]:
                break
            token = r["NextContinuationToken"]
        self.assertEqual(seen, ["a/", "f", "g/"])

    def test_start_after(self):
        got = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.many, StartAfter="many/k02000"):
            got += [c["Key"] for c in page.get("Contents", [])]
        self.assertEqual(got, self.many_keys[2001:])
        r = self.s3.list_objects_v2(Bucket=self.many, StartAfter="many/k99999")
        self.assertEqual(r["KeyCount"], 0)
        r = self.s3.list_objects_v2(Bucket=self.many, StartAfter="a", MaxKeys=2)
        self.assertEqual([c["Key"] for c in r["Contents"]], self.many_keys[:2])

    def test_encoding_type_url(self):
        keys = ["enc/a b+c%d/\u00fc", "enc/plain", "enc/<&>"]
        b = self.unique("enc")
        self.s3.create_bucket(Bucket=b)
        for k in keys:
            self.s3.put_object(Bucket=b, Key=k, Body=b"e")
        try:
            # botocore decodes the keys itself only when it chose EncodingType; asked for
            # explicitly, the raw encoded values come back.
            r = self.s3.list_objects_v2(Bucket=b, Prefix="enc/", EncodingType="url")
            self.assertEqual(r.get("EncodingType"), "url")
            raw = [c["Key"] for c in r["Contents"]]
            self.assertEqual([urllib.parse.unquote_plus(k) for k in raw],
                             sorted(keys, key=lambda s: s.encode()))
            for k in raw:
                self.assertFalse(set(k) & set(" +<>&\u00fc"), k)
            self.assertIn(r["Prefix"], ("enc/", "enc%2F"))
            # And what botocore decodes by default matches the stored keys.
            r = self.s3.list_objects_v2(Bucket=b, Prefix="enc/")
            self.assertEqual([c["Key"] for c in r["Contents"]],
                             sorted(keys, key=lambda s: s.encode()))
        finally:
            for k in keys:
                self.s3.delete_object(Bucket=b, Key=k)
            self.s3.delete_bucket(Bucket=b)

    def test_list_v1_marker(self):
        got, marker = [], ""
        for _ in range(10):
            r = self.s3.list_objects(Bucket=self.many, Marker=marker, MaxKeys=1000)
            keys = [c["Key"] for c in r.get("Contents", [])]
            got += keys
            if not r["IsTruncated"]:
                break
            marker = keys[-1]
        self.assertEqual(got, self.many_keys)
        r = self.s3.list_objects(Bucket=self.many, Marker="many/k02497")
        self.assertEqual([c["Key"] for c in r["Contents"]], self.many_keys[2498:])
        self.assertFalse(r["IsTruncated"])

    def test_list_v1_delimiter_next_marker(self):
        seen, marker = [], ""
        for _ in range(10):
            r = self.s3.list_objects(Bucket=self.tree, Delimiter="/", MaxKeys=1, Marker=marker)
            entries = [c["Key"] for c in r.get("Contents", [])] + \
                [p["Prefix"] for p in r.get("CommonPrefixes", [])]
            seen += entries
            if not r["IsTruncated"]:
                break
            marker = r["NextMarker"]
            self.assertEqual(marker, entries[-1])
        self.assertEqual(seen, ["a/", "f", "g/"])

    def test_list_missing_bucket(self):
        self.assertS3Error("NoSuchBucket", 404, self.s3.list_objects, Bucket=self.unique("no"))


class RestartTests(CairnTestCase):
    def test_objects_survive_a_restart(self):
        b = self.unique("restart")
        self.s3.create_bucket(Bucket=b)
        data = {"k%02d" % i: os.urandom(1000 * i) for i in range(20)}
        for k, v in data.items():
            self.s3.put_object(Bucket=b, Key=k, Body=v, ContentType="x/" + k,
                               Metadata={"key": k})
        self.s3.delete_object(Bucket=b, Key="k05")
        del data["k05"]
        self.s3.put_object(Bucket=b, Key="k06", Body=b"overwritten")
        data["k06"] = b"overwritten"
        self.server.restart()
        s3 = self.client()
        self.assertIn(b, [x["Name"] for x in s3.list_buckets()["Buckets"]])
        listed = {c["Key"]: c["ETag"] for c in s3.list_objects_v2(Bucket=b)["Contents"]}
        self.assertEqual(listed, {k: etag_of(v) for k, v in data.items()})
        for k, v in data.items():
            g = s3.get_object(Bucket=b, Key=k)
            self.assertEqual(body_of(g), v)
            if k != "k06":  # k06 was overwritten without metadata or content type
                self.assertEqual(g["Metadata"], {"key": k})
                self.assertEqual(g["ContentType"], "x/" + k)
            else:
                self.assertEqual(g["Metadata"], {})
        s3.put_object(Bucket=b, Key="after", Body=b"new")
        self.assertEqual(body_of(s3.get_object(Bucket=b, Key="after")), b"new")


if __name__ == "__main__":
    unittest.main()
