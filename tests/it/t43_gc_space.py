#!/usr/bin/env python3
"""Space comes back: N MiB of unique data (CAIRN_GC_MEASURE_MB, default 256) uploaded through
boto3, deleted, then one compaction asked for with POST /_cairn/gc?wait=… (root only): the data
dir's disk usage (du: allocated blocks) returns to within 5 % of the uploaded size of where it
started. Also: the admin endpoints refuse other users and unsigned requests, GET /_cairn/gc
reports the run, and objects that were kept read back intact after the compaction moved them.
The numbers are printed."""

import hashlib
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import CairnServer, boto3, boto_client, raw_request  # noqa: E402

MB = 1 << 20
TOTAL_MB = int(os.environ.get("CAIRN_GC_MEASURE_MB", "256"))
OBJ_MB = 16


def du_bytes(path):
    """Allocated bytes under path (what du counts)."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_blocks * 512
    return total


class GcSpace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if boto3 is None:
            raise unittest.SkipTest("boto3 is not importable")
        # Packs of 64 MiB so the run has several; no periodic compaction, no scrubber.
        cls.server = CairnServer(extra_args=["--gc-interval", "0", "--scrub-rate", "0",
                                             "--pack-max-bytes", str(64 * MB)])
        cls.addClassCleanup(cls.stop)
        cls.server.start()
        cls.root = (cls.server.access_key, cls.server.secret_key)
        cls.s3 = boto_client(cls.server.endpoint, *cls.root, read_timeout=300)

    @classmethod
    def stop(cls):
        problem = cls.server.stop()
        if problem:
            raise AssertionError(problem)

    def admin(self, method, path, sign="root", query=None):
        return raw_request(self.server.port, method, path, query=query,
                           sign=self.root if sign == "root" else sign, timeout=900)

    def test_admin_access(self):
        ak, sk = self.server.add_user("gcuser")
        r = self.admin("POST", "/_cairn/gc", sign=(ak, sk))
        self.assertEqual(r.status, 403, r.body)
        r = self.admin("GET", "/_cairn/gc", sign=None)
        self.assertEqual(r.status, 403, r.body)
        r = self.admin("POST", "/_cairn/gc", query=[("wait", "0")])
        self.assertEqual(r.status, 400, r.body)
        r = self.admin("GET", "/_cairn/scrub")
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse(json.loads(r.body)["enabled"])

    def test_space_returns(self):
        bucket = "gc-space"
        self.s3.create_bucket(Bucket=bucket)
        keep = os.urandom(3 * MB)
        self.s3.put_object(Bucket=bucket, Key="keep", Body=keep)
        start = du_bytes(self.server.data_dir)
        t0 = time.monotonic()
        n = TOTAL_MB // OBJ_MB
        for i in range(n):
            self.s3.put_object(Bucket=bucket, Key="big/%d" % i, Body=os.urandom(OBJ_MB * MB))
        t_up = time.monotonic() - t0
        full = du_bytes(self.server.data_dir)
        for i in range(n):
            self.s3.delete_object(Bucket=bucket, Key="big/%d" % i)
        t0 = time.monotonic()
        r = self.admin("POST", "/_cairn/gc", query=[("wait", "900")])
        t_gc = time.monotonic() - t0
        self.assertEqual(r.status, 200, r.body)
        doc = json.loads(r.body)
        self.assertEqual(doc["last_error"], "", doc)
        after = du_bytes(self.server.data_dir)
        uploaded = n * OBJ_MB * MB
        print("\ngc space: uploaded %d MiB in %.1f s; du start %.1f MiB, full %.1f MiB, "
              "after delete+gc %.1f MiB (%+.2f %% of the uploaded size); gc %.1f s: %s"
              % (uploaded // MB, t_up, start / MB, full / MB, after / MB,
                 100.0 * (after - start) / uploaded, t_gc, json.dumps(doc["last"])))
        self.assertGreaterEqual(full - start, uploaded * 0.95)
        self.assertLessEqual(abs(after - start), uploaded * 0.05)
        self.assertGreaterEqual(doc["last"]["packs_removed"], 1)
        got = self.s3.get_object(Bucket=bucket, Key="keep")["Body"].read()
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(keep).digest())
        r = self.admin("GET", "/_cairn/gc")
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(json.loads(r.body)["runs"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
