#!/usr/bin/env python3
"""The S3 side of t41_disk_full.sh (argv[1]: an empty 48 MiB tmpfs for the data dir).

Two rounds, one cairnd each over the same data dir:
  1. the free-space reserve (--min-free 8 MiB): uploads of new data fail with 507
     InsufficientStorage before the file system is full;
  2. no reserve (--min-free 0): uploads run into the file system's own ENOSPC, which must also
     come back as 507, not as a crash or a 500.
In both: every object acknowledged before reads back byte-exact, HEAD and listings work, and
after deleting objects and one compaction (POST /_cairn/gc?wait=…) uploads succeed again. cairnd
must survive it all; `cairn fsck` runs at every stop and must be clean."""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import CairnServer, boto3, boto_client, raw_request  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

MB = 1 << 20
MNT = sys.argv.pop(1) if len(sys.argv) > 1 else None
BUCKET = "full"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class TmpfsServer(CairnServer):
    """A CairnServer whose data dir is on the tmpfs (its log stays on the normal disk)."""

    def start_on(self, data_dir):
        self.tmp = tempfile.mkdtemp(prefix="cairn-t41-log-")
        self.data_dir = data_dir
        os.makedirs(data_dir, exist_ok=True)
        self.log_path = os.path.join(self.tmp, "cairnd.log")
        self._spawn()
        self._wait_healthy()

    def respawn(self, extra):
        rc, killed = self._reap()
        assert not killed and rc in (0, -15), "cairnd stopped badly: %s" % rc
        self.extra_args = extra
        self._spawn(self.port)
        self._wait_healthy()


class DiskFull(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if boto3 is None or MNT is None:
            raise unittest.SkipTest("no boto3 or no tmpfs")
        cls.server = TmpfsServer(extra_args=["--min-free", str(8 * MB), "--gc-interval", "0",
                                             "--scrub-rate", "0",
                                             "--pack-max-bytes", str(4 * MB)])
        cls.addClassCleanup(cls.stop)
        cls.server.start_on(os.path.join(MNT, "data"))
        cls.root = (cls.server.access_key, cls.server.secret_key)
        cls.s3 = boto_client(cls.server.endpoint, *cls.root)
        cls.s3.create_bucket(Bucket=BUCKET)
        cls.acked = {}

    @classmethod
    def stop(cls):
        problem = cls.server.stop()
        shutil.rmtree(os.path.join(MNT, "data"), ignore_errors=True)
        if problem:
            raise AssertionError(problem)

    def fill(self, prefix):
        """Uploads 1 MiB objects until one fails; returns that ClientError."""
        for i in range(200):
            key = "%s/%03d" % (prefix, i)
            body = os.urandom(MB)
            try:
                self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            except ClientError as e:
                return e, i
            self.acked[key] = body
        self.fail("200 MiB fit on a 48 MiB tmpfs")

    def check_all(self):
        for key, body in self.acked.items():
            got = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            self.assertEqual(got, body, key)
            self.assertEqual(self.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"],
                             len(body))
        listed = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            listed.update(o["Key"] for o in page.get("Contents", []))
        self.assertEqual(listed, set(self.acked))

    def free_some(self, prefix, n):
        for key in sorted(k for k in self.acked if k.startswith(prefix))[:n]:
            self.s3.delete_object(Bucket=BUCKET, Key=key)
            del self.acked[key]
        r = raw_request(self.server.port, "POST", "/_cairn/gc", query=[("wait", "120")],
                        sign=self.root, timeout=200)
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def round(self, prefix, min_free):
        err, n = self.fill(prefix)
        status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        code = err.response["Error"]["Code"]
        print("\n%s (min_free %d): %d MiB stored, then %d %s; %.1f MiB free"
              % (prefix, min_free, n, status, code, free_bytes(MNT) / MB))
        self.assertEqual((status, code), (507, "InsufficientStorage"))
        self.assertTrue(self.server.is_running())
        if min_free:
            self.assertGreaterEqual(free_bytes(MNT), min_free // 2)
        self.check_all()
        before = free_bytes(MNT)
        gc = self.free_some(prefix, 10)
        print("%s: deleted 10 objects, gc freed %.1f MiB: %s"
              % (prefix, (free_bytes(MNT) - before) / MB, gc.decode()[:300]))
        self.assertGreater(free_bytes(MNT) - before, 5 * MB)
        body = os.urandom(MB)
        self.s3.put_object(Bucket=BUCKET, Key=prefix + "/after", Body=body)
        self.acked[prefix + "/after"] = body
        self.check_all()

    def test_disk_full(self):
        self.round("reserve", 8 * MB)
        self.server.respawn(["--min-free", "0", "--gc-interval", "0", "--scrub-rate", "0",
                             "--pack-max-bytes", str(4 * MB)])
        self.check_all()
        self.round("enospc", 0)
        self.assertTrue(self.server.is_running())


if __name__ == "__main__":
    unittest.main(verbosity=2)
