#!/usr/bin/env python3
"""Multipart uploads end to end, the parts t30 leaves out:

  * Checksums of every algorithm: COMPOSITE CRC32, CRC32C and SHA1 (the checksum of the part
    checksums, "-N"), FULL_OBJECT CRC32C; part checksums computed by cairnd when the client sends
    none, returned by UploadPart and ListParts; a wrong checksum in the CompleteMultipartUpload
    list is InvalidPart.
  * Metadata and Content-Type given to CreateMultipartUpload end up on the object.
  * A part announced above 5 GiB is EntityTooLarge before any body byte is read; part number
    10,000 is accepted and 10,001 is not; a bad partNumber on GET is InvalidArgument.
  * A CompleteMultipartUpload body above 8 MiB is MaxMessageLengthExceeded; 10,001 parts listed
    is MalformedXML.
  * ListMultipartUploads paging inside one key's uploads (upload-id-marker).
  * NoSuchUpload for UploadPartCopy and CompleteMultipartUpload of an upload for another key.
  * UploadPartCopy of more than 5 GiB (whole source or range) is InvalidRequest; the 5 GiB+
    source is itself built by reference from 81 part copies of a 64 MiB object.
  * GetObject/HeadObject partNumber=1 of a single-PUT object is the whole object.
"""

import base64
import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import CairnTestCase, checksum_b64  # noqa: E402

MiB = 1 << 20


def composite(algo, bodies):
    """S3's COMPOSITE checksum: the algorithm over the concatenated binary part checksums."""
    digests = b"".join(base64.b64decode(checksum_b64(algo, b)) for b in bodies)
    return checksum_b64(algo, digests) + "-%d" % len(bodies)


class MultipartMoreTests(CairnTestCase):
    @classmethod
    def setUpFixtures(cls):
        cls.bucket = cls.unique("mpm")
        cls.s3.create_bucket(Bucket=cls.bucket)
        # A client that sends no checksum of its own (recent botocore sends CRC32 by default,
        # which an upload created with another algorithm refuses, as S3 does).
        try:
            cls.quiet = cls.client(request_checksum_calculation="when_required")
        except TypeError:  # an older botocore sends none anyway
            cls.quiet = cls.client()

    def create(self, key, **kw):
        return self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, **kw)["UploadId"]

    def part(self, key, uid, n, body, client=None, **kw):
        return (client or self.s3).upload_part(Bucket=self.bucket, Key=key, UploadId=uid,
                                               PartNumber=n, Body=body, **kw)

    def complete(self, key, uid, parts, **kw):
        return self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}, **kw)

    # ---- checksums ----

    def upload_with_checksums(self, key, algo, ctype, bodies, send):
        """Uploads bodies as parts of an upload with algo/ctype; send: the client sends each
        part's checksum (else cairnd computes it). Returns the completion result."""
        uid = self.create(key, ChecksumAlgorithm=algo, ChecksumType=ctype)
        field = "Checksum" + algo
        parts = []
        for n, body in enumerate(bodies, 1):
            kw = {field: checksum_b64(algo, body)} if send else {"client": self.quiet}
            r = self.part(key, uid, n, body, **kw)
            self.assertEqual(r.get(field), checksum_b64(algo, body), (algo, n))
            parts.append({"PartNumber": n, "ETag": r["ETag"], field: r[field]})
        listed = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=uid)["Parts"]
        self.assertEqual([p.get(field) for p in listed], [p[field] for p in parts])
        return self.complete(key, uid, parts)

    def test_composite_every_algorithm(self):
        bodies = [os.urandom(5 * MiB), os.urandom(5 * MiB + 7), os.urandom(333)]
        for algo in ("CRC32", "CRC32C", "SHA1"):
            for send in (True, False):
                with self.subTest(algo=algo, client_sends=send):
                    key = "comp-%s-%d" % (algo, send)
                    r = self.upload_with_checksums(key, algo, "COMPOSITE", bodies, send)
                    want = composite(algo, bodies)
                    self.assertEqual(r["Checksum" + algo], want)
                    self.assertEqual(r.get("ChecksumType"), "COMPOSITE")
                    h = self.s3.head_object(Bucket=self.bucket, Key=key,
                                            ChecksumMode="ENABLED")
                    self.assertEqual(h["Checksum" + algo], want)
                    self.assertEqual(h.get("ChecksumType"), "COMPOSITE")

    def test_full_object_crc32c(self):
        bodies = [os.urandom(5 * MiB + 1), os.urandom(4321)]
        r = self.upload_with_checksums("full-crc32c", "CRC32C", "FULL_OBJECT", bodies, False)
        whole = b"".join(bodies)
        self.assertEqual(r["ChecksumCRC32C"], checksum_b64("CRC32C", whole))
        self.assertEqual(r.get("ChecksumType"), "FULL_OBJECT")
        g = self.s3.get_object(Bucket=self.bucket, Key="full-crc32c", ChecksumMode="ENABLED")
        self.assertEqual(g["ChecksumCRC32C"], checksum_b64("CRC32C", whole))
        self.assertEqual(g["Body"].read(), whole)

    def test_wrong_checksum_at_completion(self):
        key = "ck-wrong"
        uid = self.create(key, ChecksumAlgorithm="SHA256")
        body = os.urandom(1000)
        r = self.part(key, uid, 1, body, client=self.quiet)
        self.assertEqual(r["ChecksumSHA256"], checksum_b64("SHA256", body))
        self.assertS3Error("InvalidPart", 400, self.complete, key, uid,
                           [{"PartNumber": 1, "ETag": r["ETag"],
                             "ChecksumSHA256": checksum_b64("SHA256", b"other")}])
        r = self.complete(key, uid, [{"PartNumber": 1, "ETag": r["ETag"],
                                      "ChecksumSHA256": r["ChecksumSHA256"]}])
        self.assertEqual(r["ChecksumSHA256"], composite("SHA256", [body]))

    # ---- metadata ----

    def test_metadata_and_content_type(self):
        key = "meta"
        uid = self.create(key, ContentType="application/x-safetensors",
                          Metadata={"run": "42", "stage": "final"},
                          ContentDisposition="attachment; filename=model.bin",
                          CacheControl="no-cache")
        body = os.urandom(2000)
        r = self.part(key, uid, 1, body)
        self.complete(key, uid, [{"PartNumber": 1, "ETag": r["ETag"]}])
        for resp in (self.s3.head_object(Bucket=self.bucket, Key=key),
                     self.s3.get_object(Bucket=self.bucket, Key=key)):
            self.assertEqual(resp["ContentType"], "application/x-safetensors")
            self.assertEqual(resp["Metadata"], {"run": "42", "stage": "final"})
            self.assertEqual(resp.get("ContentDisposition"), "attachment; filename=model.bin")
            self.assertEqual(resp.get("CacheControl"), "no-cache")
            self.assertNotIn("x-cairn-parts",
                             {k.lower() for k in resp["ResponseMetadata"]["HTTPHeaders"]})

    # ---- limits ----

    def test_part_limits(self):
        key = "limits"
        uid = self.create(key)
        # 5 GiB + 1 announced, nothing sent: refused before any body byte.
        r = self.raw("PUT", "/%s/%s" % (self.bucket, key),
                     query=[("partNumber", "1"), ("uploadId", uid)],
                     headers={"content-length": str((5 << 30) + 1)},
                     payload_hash="UNSIGNED-PAYLOAD", timeout=15)
        self.assertRawError(r, "EntityTooLarge", 400)
        e = self.part(key, uid, 10000, b"last")["ETag"]
        self.assertS3Error("InvalidArgument", 400, self.part, key, uid, 10001, b"x")
        # A part checksum of another algorithm than the upload's is refused, as S3 does.
        ck = self.create("ck-other", ChecksumAlgorithm="CRC32C")
        self.assertS3Error("InvalidRequest", 400, self.part, "ck-other", ck, 1, b"x",
                           ChecksumCRC32=checksum_b64("CRC32", b"x"))
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="ck-other", UploadId=ck)
        r = self.complete(key, uid, [{"PartNumber": 10000, "ETag": e}])
        self.assertTrue(r["ETag"].endswith('-1"'), r["ETag"])
        for bad in ("0", "10001", "abc", "-1", "1.5", ""):
            with self.subTest(partNumber=bad):
                r = self.raw("GET", "/%s/%s" % (self.bucket, key), query=[("partNumber", bad)])
                self.assertRawError(r, "InvalidArgument", 400)

    def test_copy_source_above_5gib(self):
        # A 5 GiB + 64 MiB source made cheaply: 81 whole-object part copies of a 64 MiB object
        # reference its chunks (nothing is read or stored again).
        src = os.urandom(64 * MiB)
        self.s3.put_object(Bucket=self.bucket, Key="src64", Body=src)
        uid = self.create("huge")
        parts = []
        for n in range(1, 82):
            r = self.s3.upload_part_copy(Bucket=self.bucket, Key="huge", UploadId=uid,
                                         PartNumber=n,
                                         CopySource={"Bucket": self.bucket, "Key": "src64"})
            parts.append({"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]})
        self.complete("huge", uid, parts)
        size = self.s3.head_object(Bucket=self.bucket, Key="huge")["ContentLength"]
        self.assertEqual(size, 81 * 64 * MiB)
        r = self.s3.get_object(Bucket=self.bucket, Key="huge", Range="bytes=%d-%d"
                               % (size - 100, size - 1))
        self.assertEqual(r["Body"].read(), src[-100:])
        # Copying more than 5 GiB into one part, whole or as a range, is refused.
        uid = self.create("from-huge")
        self.assertS3Error("InvalidRequest", 400, self.s3.upload_part_copy, Bucket=self.bucket,
                           Key="from-huge", UploadId=uid, PartNumber=1,
                           CopySource={"Bucket": self.bucket, "Key": "huge"})
        self.assertS3Error("InvalidRequest", 400, self.s3.upload_part_copy, Bucket=self.bucket,
                           Key="from-huge", UploadId=uid, PartNumber=1,
                           CopySource={"Bucket": self.bucket, "Key": "huge"},
                           CopySourceRange="bytes=0-%d" % (5 << 30))
        # A small range of it is fine.
        r = self.s3.upload_part_copy(Bucket=self.bucket, Key="from-huge", UploadId=uid,
                                     PartNumber=1, CopySource={"Bucket": self.bucket,
                                                               "Key": "huge"},
                                     CopySourceRange="bytes=%d-%d" % (size - 1000, size - 1))
        self.assertEqual(r["CopyPartResult"]["ETag"],
                         '"%s"' % hashlib.md5(src[-1000:]).hexdigest())
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="from-huge", UploadId=uid)
        self.s3.delete_object(Bucket=self.bucket, Key="huge")

    def test_complete_body_limits(self):
        key = "body-limits"
        uid = self.create(key)
        e = self.part(key, uid, 1, b"x")["ETag"]
        part = b"<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>" % e.encode()
        q = [("uploadId", uid)]
        # More than 8 MiB of body: refused as too long.
        body = b"<CompleteMultipartUpload>" + part * ((8 * MiB) // len(part) + 1) + \
            b"</CompleteMultipartUpload>"
        self.assertRawError(self.raw("POST", "/%s/%s" % (self.bucket, key), query=q,
                                     body=body), "MaxMessageLengthExceeded", 400)
        # 10,001 parts listed (well under 8 MiB): not a valid part list.
        body = b"<CompleteMultipartUpload>" + b"".join(
            b"<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % (n, e.encode())
            for n in range(1, 10002)) + b"</CompleteMultipartUpload>"
        self.assertRawError(self.raw("POST", "/%s/%s" % (self.bucket, key), query=q,
                                     body=body), "MalformedXML", 400)
        r = self.complete(key, uid, [{"PartNumber": 1, "ETag": e}])
        self.assertTrue(r["ETag"].endswith('-1"'), r["ETag"])

    def test_part_number_of_single_put(self):
        body = os.urandom(3000)
        self.s3.put_object(Bucket=self.bucket, Key="single", Body=body)
        g = self.s3.get_object(Bucket=self.bucket, Key="single", PartNumber=1)
        self.assertEqual(g["Body"].read(), body)
        self.assertNotIn("PartsCount", g)
        h = self.s3.head_object(Bucket=self.bucket, Key="single", PartNumber=1)
        self.assertEqual(h["ContentLength"], 3000)
        self.assertS3Error("InvalidPartNumber", 416, self.s3.get_object, Bucket=self.bucket,
                           Key="single", PartNumber=2)

    # ---- listings and unknown uploads ----

    def test_uploads_paging_within_one_key(self):
        bucket = self.unique("lu1")
        self.s3.create_bucket(Bucket=bucket)
        ids = [self.s3.create_multipart_upload(Bucket=bucket, Key="same")["UploadId"]
               for _ in range(3)]
        ids.append(self.s3.create_multipart_upload(Bucket=bucket, Key="z")["UploadId"])
        seen, kw = [], {}
        for _ in range(10):
            r = self.s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1, **kw)
            self.assertEqual(len(r["Uploads"]), 1)
            seen.append((r["Uploads"][0]["Key"], r["Uploads"][0]["UploadId"]))
            if not r["IsTruncated"]:
                break
            self.assertEqual(r["NextKeyMarker"], seen[-1][0])
            self.assertEqual(r["NextUploadIdMarker"], seen[-1][1])
            kw = {"KeyMarker": r["NextKeyMarker"], "UploadIdMarker": r["NextUploadIdMarker"]}
        self.assertEqual(seen, [("same", i) for i in ids[:3]] + [("z", ids[3])])
        # A key marker alone skips every upload of that key.
        r = self.s3.list_multipart_uploads(Bucket=bucket, KeyMarker="same")
        self.assertEqual([u["Key"] for u in r["Uploads"]], ["z"])
        for key, uid in seen:
            self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)

    def test_no_such_upload_everywhere(self):
        self.s3.put_object(Bucket=self.bucket, Key="copy-src", Body=b"source bytes")
        uid = self.create("mine")
        e = self.part("mine", uid, 1, b"abc")["ETag"]
        bogus = "0123456789abcdef0123456789abcdef"
        self.assertS3Error("NoSuchUpload", 404, self.s3.upload_part_copy, Bucket=self.bucket,
                           Key="mine", UploadId=bogus, PartNumber=1,
                           CopySource={"Bucket": self.bucket, "Key": "copy-src"})
        self.assertS3Error("NoSuchUpload", 404, self.s3.upload_part_copy, Bucket=self.bucket,
                           Key="not-mine", UploadId=uid, PartNumber=1,
                           CopySource={"Bucket": self.bucket, "Key": "copy-src"})
        self.assertS3Error("NoSuchUpload", 404, self.s3.complete_multipart_upload,
                           Bucket=self.bucket, Key="not-mine", UploadId=uid,
                           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
        self.assertS3Error("NoSuchUpload", 404, self.s3.abort_multipart_upload,
                           Bucket=self.bucket, Key="not-mine", UploadId=uid)
        # The upload is untouched by all of that.
        parts = self.s3.list_parts(Bucket=self.bucket, Key="mine", UploadId=uid)["Parts"]
        self.assertEqual([(p["PartNumber"], p["ETag"]) for p in parts], [(1, e)])
        self.assertEqual(hashlib.md5(b"abc").hexdigest(), e.strip('"'))
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="mine", UploadId=uid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
