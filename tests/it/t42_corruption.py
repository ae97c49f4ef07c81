#!/usr/bin/env python3
"""A flipped byte in a pack file, with a real cairnd and boto3: GET of the affected object fails
with an error (never wrong bytes: a response whose headers already went out is cut short, so
the client sees a truncated body, not a complete wrong one; a GET whose first chunk is the
damaged one gets 500 InternalError before anything is sent), cairnd logs a line naming the
object and the chunk, ranges outside the damaged chunk and the other objects keep working, the
scrubber finds the damage (GET /_cairn/scrub), `cairn fsck` names the object, `cairn fsck
--repair` (cairnd stopped) deletes it, fsck is clean again, and uploading the same bytes again
stores a good copy."""

import hashlib
import http.client
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import (CairnServer, boto3, boto_client, raw_request,  # noqa: E402
                      sigv4_authorization, amz_now, tail_text)

MB = 1 << 20
BUCKET = "corrupt"


def get_or_error(s3, key, **kw):
    """(bytes, None) for a complete read, (partial bytes or None, exception) when it failed."""
    try:
        resp = s3.get_object(Bucket=BUCKET, Key=key, **kw)
    except Exception as e:  # noqa: BLE001 - any failure is what we want to see
        return None, e
    try:
        return resp["Body"].read(), None
    except Exception as e:  # noqa: BLE001
        return None, e


class Corruption(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if boto3 is None:
            raise unittest.SkipTest("boto3 is not importable")
        cls.server = CairnServer(extra_args=["--gc-interval", "0", "--scrub-rate",
                                             str(200 * MB)])
        cls.addClassCleanup(cls.stop)
        cls.server.start()
        cls.root = (cls.server.access_key, cls.server.secret_key)
        cls.s3 = boto_client(cls.server.endpoint, *cls.root)

    @classmethod
    def stop(cls):
        problem = cls.server.stop()
        if problem:
            raise AssertionError(problem)

    def pack_path(self):
        d = os.path.join(self.server.data_dir, "packs")
        packs = sorted(p for p in os.listdir(d) if p.startswith("pack-"))
        self.assertEqual(len(packs), 1, packs)
        return os.path.join(d, packs[0])

    def restart_with(self, *tool_args_list):
        """Stops cairnd, runs each `cairn` command (args tuples), restarts cairnd. Returns the
        CompletedProcess list."""
        rc, killed = self.server._reap()
        self.assertFalse(killed)
        out = [self.server.cairn_tool(*a, check=False, timeout=300) for a in tool_args_list]
        self.server.start_again()
        return out

    def test_flipped_byte(self):
        s3 = self.s3
        s3.create_bucket(Bucket=BUCKET)
        victim = os.urandom(8 * MB)
        others = {"other-%d" % i: os.urandom((i + 1) * 300000) for i in range(4)}
        s3.put_object(Bucket=BUCKET, Key="victim", Body=victim)
        for k, v in others.items():
            s3.put_object(Bucket=BUCKET, Key=k, Body=v)
        path = self.pack_path()
        log_at = self.server.log_size()
        with open(path, "r+b") as f:  # a byte in the middle of the victim's records
            f.seek(4 * MB)
            b = f.read(1)
            f.seek(4 * MB)
            f.write(bytes([b[0] ^ 0x20]))

        # boto3: the GET fails; never the full length of wrong bytes
        data, err = get_or_error(s3, "victim")
        self.assertIsNotNone(err, "GET of the damaged object succeeded")
        # raw HTTP: 200 and Content-Length went out, then the connection is cut short
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        amz = amz_now()
        hdrs = {"host": "127.0.0.1:%d" % self.server.port, "x-amz-date": amz,
                "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()}
        hdrs["Authorization"] = sigv4_authorization("GET", "/%s/victim" % BUCKET, None, hdrs,
                                                    hdrs["x-amz-content-sha256"], *self.root,
                                                    amz)
        conn.request("GET", "/%s/victim" % BUCKET, headers=hdrs)
        resp = conn.getresponse()
        if resp.status == 200:
            self.assertEqual(int(resp.getheader("Content-Length")), len(victim))
            with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
                resp.read()
        else:
            self.assertEqual(resp.status, 500)
        conn.close()
        # the log names the object and the chunk
        deadline = time.monotonic() + 5
        while True:
            log = tail_text(self.server.log_path, 200000, log_at)
            m = re.search(r"%s/victim: chunk ([0-9a-f]{64}) at offset (\d+)" % BUCKET, log)
            if m or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertIsNotNone(m, "no log line naming the object and chunk:\n" + log[-3000:])
        bad_chunk, bad_off = m.group(1), int(m.group(2))
        # a GET whose first chunk is the damaged one fails before anything is sent: 500
        r = raw_request(self.server.port, "GET", "/%s/victim" % BUCKET, sign=self.root,
                        headers={"Range": "bytes=%d-%d" % (bad_off, bad_off + 99)})
        self.assertEqual((r.status, r.error.get("Code")), (500, "InternalError"), r)
        # ranges clear of the damage and the other objects work
        data, err = get_or_error(s3, "victim", Range="bytes=0-1048575")
        self.assertIsNone(err, err)
        self.assertEqual(data, victim[:MB])
        for k, v in others.items():
            data, err = get_or_error(s3, k)
            self.assertIsNone(err, err)
            self.assertEqual(data, v, k)
        # the scrubber finds it (its next round starts within ~10 s)
        deadline = time.monotonic() + 30
        while True:
            r = raw_request(self.server.port, "GET", "/_cairn/scrub", sign=self.root)
            st = json.loads(r.body)
            if st["errors"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertGreaterEqual(st["errors"], 1, st)
        self.assertEqual(st["last_bad"], bad_chunk)
        self.assertIn("scrub: chunk %s" % bad_chunk, tail_text(self.server.log_path, 400000))
        # offline: fsck names the object; --repair deletes it; fsck is clean
        fsck, repair, again = self.restart_with(
            ("fsck", self.server.data_dir), ("fsck", self.server.data_dir, "--repair"),
            ("fsck", self.server.data_dir))
        print("\n" + fsck.stdout + repair.stdout + again.stdout)
        self.assertEqual(fsck.returncode, 1, fsck.stdout + fsck.stderr)
        self.assertIn("object %s/victim:" % BUCKET, fsck.stdout)
        self.assertIn(bad_chunk, fsck.stdout)
        self.assertEqual(repair.returncode, 0, repair.stdout + repair.stderr)
        self.assertIn("deleted object %s/victim" % BUCKET, repair.stdout)
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        # after the restart: the victim is gone, the others are intact, a re-upload is good
        data, err = get_or_error(s3, "victim")
        self.assertIn("NoSuchKey", str(err))
        for k, v in others.items():
            data, err = get_or_error(s3, k)
            self.assertIsNone(err, err)
            self.assertEqual(data, v, k)
        s3.put_object(Bucket=BUCKET, Key="victim", Body=victim)
        data, err = get_or_error(s3, "victim")
        self.assertIsNone(err, err)
        self.assertEqual(hashlib.sha256(data).digest(), hashlib.sha256(victim).digest())


if __name__ == "__main__":
    unittest.main(verbosity=2)
