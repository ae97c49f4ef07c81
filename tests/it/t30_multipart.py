#!/usr/bin/env python3
"""Multipart uploads end to end against a real cairnd.

  * aws-cli `s3 cp` of a big file up and back byte-identical with default settings (8 MiB parts,
    10 at a time), then again under another key with 24 MiB parts: once the worker has
    re-chunked both objects' part seams, the second upload is almost entirely deduplicated
    (stored bytes grow by well under 1%). The file is 256 MiB by default; CAIRN_IT_BIG=1 makes
    it 2 GiB (about two minutes more on a 2-core box).
  * boto3 upload_file / download_file with 10 threads; GetObject/HeadObject with partNumber.
  * Every error: NoSuchUpload, InvalidPart, InvalidPartOrder, EntityTooSmall, MalformedXML,
    InvalidArgument (part number), InvalidPartNumber, InvalidRequest (Range with partNumber).
  * Abort (by the API and by `cairn uploads abort` beside the daemon) leaves `cairn stats` as it
    was before the upload, but for dead bytes and the chunk count.
  * ListParts and ListMultipartUploads paging; re-uploaded parts; parts in any order.
  * UploadPartCopy with x-amz-copy-source-range from a key with %25, spaces, '+' and unicode.
  * Composite (SHA256) and full-object (CRC64NVME, CRC32) checksums.
  * `aws s3 sync` of a tree with large and small files, both ways.
  * The sweep aborts uploads older than upload_max_age.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import (  # noqa: E402
    CairnServer, CairnTestCase, MemorySampler, boto_client, checksum_b64, crc64nvme,
    multipart_etag,
)

MiB = 1 << 20
BIG = (2 << 30) if os.environ.get("CAIRN_IT_BIG") == "1" else (256 << 20)
STAT_KEYS = ("objects", "logical_bytes", "chunk_refs", "raw_bytes", "stored_bytes")


def write_random(path, size, seed=None):
    """size random bytes to path in 16 MiB pieces; returns the SHA-256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MiB)
            b = os.urandom(n)
            h.update(b)
            f.write(b)
            left -= n
    return h.hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(16 * MiB), b""):
            h.update(b)
    return h.hexdigest()


class MultipartCase(CairnTestCase):
    def wait_healed(self, bucket, key, timeout=120):
        """Waits for cairnd's log to report the seams of bucket/key re-chunked (the background
        worker does it within a second or two of the completion)."""
        needle = " of %s/%s (" % (bucket, key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.server.log_path, errors="replace") as f:
                if any("healed" in ln and needle in ln for ln in f):
                    return
            time.sleep(0.2)
        self.fail("%s/%s not healed within %d s" % (bucket, key, timeout))

    def stats(self):
        p = self.server.cairn_tool("stats", self.server.data_dir, "--json")
        return json.loads(p.stdout)

    def assertStatsEqual(self, before, after):
        self.assertEqual({k: after[k] for k in STAT_KEYS}, {k: before[k] for k in STAT_KEYS})


class BigFileTests(MultipartCase):
    """aws-cli with its default multipart settings, then another part size."""

    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("big")
        cls.s3.create_bucket(Bucket=cls.bucket)
        cls.path = os.path.join(cls.server.tmp, "big.bin")
        cls.digest = write_random(cls.path, BIG)

    def cp(self, *args, config=None):
        return self.aws("s3", "cp", "--only-show-errors", *args, config_file=config,
                        timeout=900)

    def test_cp_up_and_back_then_other_part_size(self):
        t0 = time.monotonic()
        with MemorySampler(self.server.proc.pid) as mem:
            self.cp(self.path, "s3://%s/big" % self.bucket)
        up = time.monotonic() - t0
        head = self.s3.head_object(Bucket=self.bucket, Key="big")
        self.assertEqual(head["ContentLength"], BIG)
        self.assertTrue(head["ETag"].endswith('-%d"' % ((BIG + 8 * MiB - 1) // (8 * MiB))),
                        head["ETag"])
        back = os.path.join(self.server.tmp, "back.bin")
        self.cp("s3://%s/big" % self.bucket, back)
        self.assertEqual(file_sha256(back), self.digest)
        os.unlink(back)
        print("\n  %d MiB up in %.1f s, cairnd peak RssAnon %d MiB"
              % (BIG >> 20, up, mem.peak_kib >> 10), file=sys.stderr)
        if not os.environ.get("CAIRN_IT_WRAP"):  # else the pid is the wrapper's
            # 10 parts streaming at once: a few chunks each, whatever the object's size.
            self.assertGreater(mem.peak_kib, 0, "could not read cairnd's memory")
            self.assertLess(mem.peak_kib, 64 << 10)
        # The same bytes with 24 MiB parts: once both objects' seams are re-chunked (the
        # worker's seam healing), the second upload stores almost nothing new.
        config = os.path.join(self.server.tmp, "aws.conf")
        with open(config, "w") as f:
            f.write("[default]\ns3 =\n  multipart_chunksize = 24MB\n")
        self.wait_healed(self.bucket, "big")
        before = self.stats()
        self.cp(self.path, "s3://%s/big24" % self.bucket, config=config)
        unhealed = self.stats()["stored_bytes"] - before["stored_bytes"]
        self.wait_healed(self.bucket, "big24")
        after = self.stats()
        grown = after["stored_bytes"] - before["stored_bytes"]
        print("  second upload (24 MiB parts): stored bytes +%d (%.3f%%), +%d before its "
              "seams were healed" % (grown, 100.0 * grown / BIG, unhealed), file=sys.stderr)
        self.assertEqual(after["logical_bytes"], before["logical_bytes"] + BIG)
        self.assertLess(grown, BIG // 100)
        self.cp("s3://%s/big24" % self.bucket, back)
        self.assertEqual(file_sha256(back), self.digest)
        os.unlink(back)


class ApiTests(MultipartCase):
    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("mp")
        cls.s3.create_bucket(Bucket=cls.bucket)

    def create(self, key, **kw):
        return self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, **kw)["UploadId"]

    def part(self, key, uid, n, body, **kw):
        return self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=uid, PartNumber=n,
                                   Body=body, **kw)

    def complete(self, key, uid, parts, **kw):
        return self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}, **kw)

    def read(self, key, **kw):
        return self.s3.get_object(Bucket=self.bucket, Key=key, **kw)["Body"].read()

    # ---- transfers ----

    def test_boto3_transfer_10_threads(self):
        from boto3.s3.transfer import TransferConfig
        cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                             max_concurrency=10)
        src = os.path.join(self.server.tmp, "t.bin")
        digest = write_random(src, 61 * MiB + 12345)
        self.s3.upload_file(src, self.bucket, "t", Config=cfg)
        head = self.s3.head_object(Bucket=self.bucket, Key="t", ChecksumMode="ENABLED")
        self.assertTrue(head["ETag"].endswith('-13"'), head["ETag"])
        dst = os.path.join(self.server.tmp, "t.back")
        self.s3.download_file(self.bucket, "t", dst, Config=cfg)
        self.assertEqual(file_sha256(dst), digest)
        # partNumber: the part's bytes, 206, Content-Range and the part count.
        with open(src, "rb") as f:
            f.seek(5 * MiB)
            want = f.read(5 * MiB)
        r = self.s3.get_object(Bucket=self.bucket, Key="t", PartNumber=2)
        self.assertEqual(r["Body"].read(), want)
        self.assertEqual(r["PartsCount"], 13)
        self.assertEqual(r["ContentRange"], "bytes %d-%d/%d" % (5 * MiB, 10 * MiB - 1,
                                                                 61 * MiB + 12345))
        h = self.s3.head_object(Bucket=self.bucket, Key="t", PartNumber=13)
        self.assertEqual(h["ContentLength"], MiB + 12345)
        self.assertEqual(h["PartsCount"], 13)
        self.assertS3Error("InvalidPartNumber", 416, self.s3.get_object, Bucket=self.bucket,
                           Key="t", PartNumber=14)
        self.assertS3Error("InvalidRequest", 400, self.s3.get_object, Bucket=self.bucket,
                           Key="t", PartNumber=1, Range="bytes=0-1")
        os.unlink(src)
        os.unlink(dst)

    def test_parts_any_order_replaced(self):
        key = "order"
        uid = self.create(key)
        a, b, c = os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1000)
        results = {}

        def up(n, body):
            results[n] = self.part(key, uid, n, body)["ETag"]

        threads = [threading.Thread(target=up, args=(n, body))
                   for n, body in ((3, c), (1, a), (2, os.urandom(6 * MiB)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        up(2, b)  # replaces the first part 2
        parts = [{"PartNumber": n, "ETag": results[n]} for n in (1, 2, 3)]
        r = self.complete(key, uid, parts)
        self.assertEqual(r["ETag"], multipart_etag([a, b, c]))
        self.assertEqual(self.read(key), a + b + c)
        self.assertS3Error("NoSuchUpload", 404, self.complete, key, uid, parts)

    # ---- errors ----

    def test_errors(self):
        key = "err"
        uid = self.create(key)
        big, small = os.urandom(5 * MiB), b"x" * 100
        e1 = self.part(key, uid, 1, small)["ETag"]
        e2 = self.part(key, uid, 2, big)["ETag"]
        bogus = "0" * 32
        self.assertS3Error("NoSuchUpload", 404, self.part, key, bogus, 1, b"a")
        self.assertS3Error("NoSuchUpload", 404, self.part, "other-key", uid, 1, b"a")
        self.assertS3Error("NoSuchUpload", 404, self.s3.list_parts, Bucket=self.bucket,
                           Key=key, UploadId=bogus)
        self.assertS3Error("NoSuchUpload", 404, self.s3.abort_multipart_upload,
                           Bucket=self.bucket, Key=key, UploadId="not-an-id")
        self.assertS3Error("NoSuchUpload", 404, self.complete, key, bogus,
                           [{"PartNumber": 1, "ETag": e1}])
        self.assertS3Error("InvalidArgument", 400, self.part, key, uid, 0, b"a")
        self.assertS3Error("InvalidArgument", 400, self.part, key, uid, 10001, b"a")
        self.assertS3Error("InvalidPart", 400, self.complete, key, uid,
                           [{"PartNumber": 1, "ETag": e2}, {"PartNumber": 2, "ETag": e2}])
        self.assertS3Error("InvalidPart", 400, self.complete, key, uid,
                           [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e2}])
        self.assertS3Error("InvalidPartOrder", 400, self.complete, key, uid,
                           [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}])
        self.assertS3Error("EntityTooSmall", 400, self.complete, key, uid,
                           [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}])
        q = [("uploadId", uid)]
        for body in (b"<CompleteMultipartUpload><Part>", b"not xml",
                     b"<Other><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Other>",
                     b"<CompleteMultipartUpload></CompleteMultipartUpload>"):
            r = self.raw("POST", "/%s/%s" % (self.bucket, key), query=q, body=body)
            self.assertRawError(r, "MalformedXML", 400)
        # A small last part is fine; the upload is still intact after every error.
        r = self.complete(key, uid, [{"PartNumber": 2, "ETag": e2},
                                     {"PartNumber": 3, "ETag": self.part(key, uid, 3,
                                                                         small)["ETag"]}])
        self.assertEqual(self.read(key), big + small)
        self.assertS3Error("NoSuchUpload", 404, self.s3.abort_multipart_upload,
                           Bucket=self.bucket, Key=key, UploadId=uid)

    # ---- listings ----

    def test_list_parts_paging(self):
        uid = self.create("lp")
        etags = {n: self.part("lp", uid, n, b"part %d" % n)["ETag"] for n in (5, 1, 3, 2, 4)}
        r = self.s3.list_parts(Bucket=self.bucket, Key="lp", UploadId=uid, MaxParts=2)
        self.assertEqual([p["PartNumber"] for p in r["Parts"]], [1, 2])
        self.assertTrue(r["IsTruncated"])
        self.assertEqual(r["NextPartNumberMarker"], 2)
        self.assertEqual(r["Parts"][0]["ETag"], etags[1])
        self.assertEqual(r["Parts"][0]["Size"], 6)
        r = self.s3.list_parts(Bucket=self.bucket, Key="lp", UploadId=uid, MaxParts=2,
                               PartNumberMarker=2)
        self.assertEqual([p["PartNumber"] for p in r["Parts"]], [3, 4])
        r = self.s3.list_parts(Bucket=self.bucket, Key="lp", UploadId=uid,
                               PartNumberMarker=4)
        self.assertEqual([p["PartNumber"] for p in r["Parts"]], [5])
        self.assertFalse(r["IsTruncated"])
        pages = self.s3.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key="lp", UploadId=uid, PaginationConfig={"PageSize": 2})
        self.assertEqual([p["PartNumber"] for pg in pages for p in pg["Parts"]], [1, 2, 3, 4, 5])
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="lp", UploadId=uid)

    def test_list_uploads_paging(self):
        bucket = self.unique("lu")
        self.s3.create_bucket(Bucket=bucket)
        made = []
        for key in ("dir/b", "a", "dir/a", "a", "c"):
            made.append((key, self.s3.create_multipart_upload(Bucket=bucket,
                                                              Key=key)["UploadId"]))
        want = sorted(made, key=lambda m: m[0])  # ids sort by age within a key
        r = self.s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
        self.assertEqual([(u["Key"], u["UploadId"]) for u in r["Uploads"]], want[:2])
        self.assertTrue(r["IsTruncated"])
        r = self.s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2,
                                           KeyMarker=r["NextKeyMarker"],
                                           UploadIdMarker=r["NextUploadIdMarker"])
        self.assertEqual([(u["Key"], u["UploadId"]) for u in r["Uploads"]], want[2:4])
        pages = self.s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 2})
        self.assertEqual([(u["Key"], u["UploadId"]) for pg in pages for u in pg["Uploads"]],
                         want)
        r = self.s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
        self.assertEqual([u["Key"] for u in r["Uploads"]], ["a", "a", "c"])
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], ["dir/"])
        r = self.s3.list_multipart_uploads(Bucket=bucket, Prefix="dir/")
        self.assertEqual([u["Key"] for u in r["Uploads"]], ["dir/a", "dir/b"])
        self.assertEqual(r["Uploads"][0]["Initiator"]["DisplayName"], "root")
        for key, uid in made:
            self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
        self.assertNotIn("Uploads", self.s3.list_multipart_uploads(Bucket=bucket))

    # ---- UploadPartCopy ----

    def test_upload_part_copy_ranges(self):
        src_key = "src dir/100%25 \u00fcn\u00efc\u00f8de + plus"
        src = os.urandom(12 * MiB + 777)
        self.s3.put_object(Bucket=self.bucket, Key=src_key, Body=src)
        before = self.stats()
        uid = self.create("copied")
        ranges = [(1001, 5 * MiB + 1000), (5 * MiB + 1001, len(src) - 1)]
        parts = []
        for n, (a, b) in enumerate(ranges, 1):
            r = self.s3.upload_part_copy(Bucket=self.bucket, Key="copied", UploadId=uid,
                                         PartNumber=n,
                                         CopySource={"Bucket": self.bucket, "Key": src_key},
                                         CopySourceRange="bytes=%d-%d" % (a, b))
            self.assertEqual(r["CopyPartResult"]["ETag"],
                             '"%s"' % hashlib.md5(src[a:b + 1]).hexdigest())
            parts.append({"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]})
        # The whole object, through an explicitly encoded header with a leading slash.
        enc = "/%s/%s" % (self.bucket, urllib.parse.quote(src_key))
        r = self.raw("PUT", "/%s/copied" % self.bucket,
                     query=[("partNumber", "3"), ("uploadId", uid)],
                     headers={"x-amz-copy-source": enc})
        self.assertEqual(r.status, 200, r.body)
        parts.append({"PartNumber": 3, "ETag": '"%s"' % hashlib.md5(src).hexdigest()})
        self.complete("copied", uid, parts)
        body = self.read("copied")
        self.assertEqual(body, src[1001:] + src)
        grown = self.stats()["stored_bytes"] - before["stored_bytes"]
        print("\n  UploadPartCopy of %d bytes stored %d new bytes" % (len(body), grown),
              file=sys.stderr)
        self.assertLess(grown, 2 * MiB)
        self.assertS3Error("NoSuchKey", 404, self.s3.upload_part_copy, Bucket=self.bucket,
                           Key="x", UploadId=self.create("x"), PartNumber=1,
                           CopySource={"Bucket": self.bucket, "Key": "missing"})
        self.assertS3Error("InvalidRange", 416, self.s3.upload_part_copy, Bucket=self.bucket,
                           Key="x", UploadId=self.create("x"), PartNumber=1,
                           CopySource={"Bucket": self.bucket, "Key": src_key},
                           CopySourceRange="bytes=0-%d" % len(src))

    # ---- checksums ----

    def test_composite_sha256(self):
        key = "ck-sha"
        uid = self.create(key, ChecksumAlgorithm="SHA256")
        bodies = [os.urandom(5 * MiB), os.urandom(1234)]
        parts = []
        for n, body in enumerate(bodies, 1):
            r = self.part(key, uid, n, body, ChecksumSHA256=checksum_b64("SHA256", body))
            self.assertEqual(r["ChecksumSHA256"], checksum_b64("SHA256", body))
            parts.append({"PartNumber": n, "ETag": r["ETag"],
                          "ChecksumSHA256": r["ChecksumSHA256"]})
        r = self.complete(key, uid, parts)
        digests = b"".join(hashlib.sha256(b).digest() for b in bodies)
        want = base64.b64encode(hashlib.sha256(digests).digest()).decode() + "-2"
        self.assertEqual(r["ChecksumSHA256"], want)
        h = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        self.assertEqual(h["ChecksumSHA256"], want)
        self.assertEqual(h.get("ChecksumType"), "COMPOSITE")
        # A part with another algorithm's checksum is refused.
        uid = self.create(key, ChecksumAlgorithm="SHA256")
        self.assertS3Error("InvalidRequest", 400, self.part, key, uid, 1, b"abc",
                           ChecksumCRC32=checksum_b64("CRC32", b"abc"))
        self.assertS3Error("BadDigest", 400, self.part, key, uid, 1, b"abc",
                           ChecksumSHA256=checksum_b64("SHA256", b"abd"))
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=uid)

    def test_full_object_crc(self):
        for algo in ("CRC64NVME", "CRC32"):
            key = "ck-" + algo
            uid = self.create(key, ChecksumAlgorithm=algo, ChecksumType="FULL_OBJECT")
            bodies = [os.urandom(5 * MiB + 3), os.urandom(5 * MiB), os.urandom(99)]
            parts = []
            for n, body in enumerate(bodies, 1):
                arg = {"Checksum" + algo: checksum_b64(algo, body)}
                r = self.part(key, uid, n, body, **arg)
                parts.append(dict({"PartNumber": n, "ETag": r["ETag"]}, **arg))
            r = self.complete(key, uid, parts)
            whole = b"".join(bodies)
            self.assertEqual(r["Checksum" + algo], checksum_b64(algo, whole))
            self.assertEqual(r.get("ChecksumType"), "FULL_OBJECT")
            g = self.s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            self.assertEqual(g["Checksum" + algo], checksum_b64(algo, whole))
            self.assertEqual(g["Body"].read(), whole)
        self.assertEqual(crc64nvme(b"123456789"), 0xAE8B14860A799888)
        self.assertS3Error("InvalidRequest", 400, self.create, "x", ChecksumAlgorithm="SHA1",
                           ChecksumType="FULL_OBJECT")


class AbortTests(MultipartCase):
    """Its own daemon: no other test's completed object is being seam-healed (which changes
    chunk references) while the statistics are compared."""

    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("ab")
        cls.s3.create_bucket(Bucket=cls.bucket)

    create = ApiTests.create
    part = ApiTests.part

    def test_abort_restores_stats(self):
        shared = os.urandom(6 * MiB)
        self.s3.put_object(Bucket=self.bucket, Key="shared", Body=shared)
        before = self.stats()
        uid = self.create("ab")
        self.part("ab", uid, 1, shared)
        self.part("ab", uid, 2, os.urandom(5 * MiB))
        self.part("ab", uid, 2, os.urandom(5 * MiB))
        during = self.stats()
        self.assertGreater(during["chunk_refs"], before["chunk_refs"])
        listed = self.server.cairn_tool("uploads", "list", self.server.data_dir).stdout
        self.assertIn(uid, listed)
        line = [ln for ln in listed.splitlines() if ln.startswith(uid)][0].split("\t")
        self.assertEqual(line[1:3], [self.bucket, "ab"])
        self.assertEqual(line[4:6], ["2", str(11 * MiB)])
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="ab", UploadId=uid)
        after = self.stats()
        self.assertStatsEqual(before, after)
        self.assertGreater(after["dead_bytes"], before["dead_bytes"])
        self.assertS3Error("NoSuchUpload", 404, self.part, "ab", uid, 3, b"x")
        # The same through `cairn uploads abort` beside the running daemon.
        uid = self.create("ab2")
        self.part("ab2", uid, 1, shared)
        p = self.server.cairn_tool("uploads", "abort", self.server.data_dir, uid)
        self.assertIn("aborted", p.stdout)
        self.assertStatsEqual(before, self.stats())
        p = self.server.cairn_tool("uploads", "abort", self.server.data_dir, uid, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertS3Error("NoSuchUpload", 404, self.s3.list_parts, Bucket=self.bucket,
                           Key="ab2", UploadId=uid)


class SyncTests(MultipartCase):
    """`aws s3 sync` of a tree with large (multipart) and small files, up and down."""

    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("sync")
        cls.s3.create_bucket(Bucket=cls.bucket)

    def test_sync_tree(self):
        top = os.path.join(self.server.tmp, "tree")
        files = {"big1.bin": 20 * MiB + 5, "sub/big2.bin": 9 * MiB, "sub/deep/big3.bin": 8 * MiB,
                 "small.txt": 10, "sub/empty": 0, "sub/deep/s p a c e.txt": 4000}
        digests = {}
        for rel, size in files.items():
            path = os.path.join(top, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            digests[rel] = write_random(path, size)
            # LastModified has whole seconds: a file written in the second of its upload
            # would look newer than the object to the next sync.
            past = time.time() - 60
            os.utime(path, (past, past))
        self.aws("s3", "sync", "--only-show-errors", top, "s3://%s/t" % self.bucket,
                 timeout=600)
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="t/")["Contents"]
        etags = {o["Key"][2:]: o["ETag"] for o in listed}
        self.assertEqual(sorted(etags), sorted(files))
        self.assertTrue(etags["big1.bin"].endswith('-3"'), etags["big1.bin"])
        self.assertTrue(etags["sub/big2.bin"].endswith('-2"'), etags["sub/big2.bin"])
        down = os.path.join(self.server.tmp, "down")
        self.aws("s3", "sync", "--only-show-errors", "s3://%s/t" % self.bucket, down,
                 timeout=600)
        for rel in files:
            self.assertEqual(file_sha256(os.path.join(down, rel)), digests[rel], rel)
        # Nothing changed: a second sync transfers nothing.
        p = self.aws("s3", "sync", top, "s3://%s/t" % self.bucket)
        self.assertEqual(p.stdout.strip(), b"")


class SweepTests(unittest.TestCase):
    """A daemon with upload_max_age = 2 s aborts an abandoned upload by itself."""

    def test_sweep(self):
        server = CairnServer(extra_args=["--upload-max-age", "2"])
        self.addCleanup(lambda: self.assertIsNone(server.stop()))
        server.start()
        s3 = boto_client(server.endpoint, server.access_key, server.secret_key)
        s3.create_bucket(Bucket="sweep")
        uid = s3.create_multipart_upload(Bucket="sweep", Key="k")["UploadId"]
        s3.upload_part(Bucket="sweep", Key="k", UploadId=uid, PartNumber=1,
                       Body=os.urandom(MiB))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "Uploads" not in s3.list_multipart_uploads(Bucket="sweep"):
                break
            time.sleep(0.5)
        self.assertNotIn("Uploads", s3.list_multipart_uploads(Bucket="sweep"))
        stats = json.loads(server.cairn_tool("stats", server.data_dir, "--json").stdout)
        self.assertEqual(stats["chunk_refs"], 0)
        with open(server.log_path) as f:
            self.assertIn("aborted 1 upload(s) older than 2 s", f.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
