#!/usr/bin/env python3
"""Global dedup through the S3 front end: the same 100 MiB body uploaded under a second key, into
a second bucket and by a second user adds (almost) nothing to the stored bytes that
`cairn stats DATADIR --json` reports beside the running daemon; a body with a few bytes inserted
in the middle adds only the chunks around the insertion. Every copy reads back intact.

A single PUT long enough to checkpoint (more new chunks than a put keeps pinned: the checkpoint
records them in the index on a thread beside the upload) reads back intact with the body's MD5 as
its ETag, its chunks dedup a second copy, and one abandoned past its first checkpoint leaves no
object and a store that `cairn fsck` finds clean when the class's server stops.

The MD5 memo (the daemon remembers the MD5 state at each chunk boundary, so that bytes uploaded
again skip their MD5): a body put again, one changed in the middle, a multipart upload of the same
body (its parts' MD5s start afresh) by boto3 and by aws-cli, twice each, all get their exact S3
ETags; the daemon's count of memo hits at its stop shows that the repeats were served from the
memo; the memo outlives a restart (saved at the stop, read at the start)."""

import hashlib
import json
import os
import re
import socket
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import (  # noqa: E402
    CairnTestCase, MemorySampler, etag_of, multipart_etag, signed_head,
)

SIZE = 100 << 20
MB = 1 << 20


def find_key(doc, name):
    """The value of the first key called name anywhere in a JSON document, else None."""
    if isinstance(doc, dict):
        if name in doc:
            return doc[name]
        for v in doc.values():
            found = find_key(v, name)
            if found is not None:
                return found
    elif isinstance(doc, list):
        for v in doc:
            found = find_key(v, name)
            if found is not None:
                return found
    return None


class DedupCase(CairnTestCase):
    """One cairnd per subclass, so each starts from an empty store."""

    body = None

    @classmethod
    def setUpFixtures(cls):
        if DedupCase.body is None:
            DedupCase.body = os.urandom(SIZE)  # incompressible: stored bytes ~ raw bytes
            DedupCase.digest = hashlib.sha256(DedupCase.body).hexdigest()
        cls.bucket = cls.unique("dedup")
        cls.bucket2 = cls.unique("dedup2")
        cls.big = cls.client(read_timeout=300)
        cls.big.create_bucket(Bucket=cls.bucket)
        cls.big.create_bucket(Bucket=cls.bucket2)

    def stats(self):
        p = self.server.cairn_tool("stats", self.server.data_dir, "--json")
        doc = json.loads(p.stdout)
        out = {}
        for k in ("stored_bytes", "logical_bytes", "objects"):
            v = find_key(doc, k)
            self.assertIsInstance(v, int, "cairn stats --json has no integer %s: %s"
                                  % (k, p.stdout[:500]))
            out[k] = v
        return out

    def read_digest(self, client, bucket, key):
        g = client.get_object(Bucket=bucket, Key=key)
        h = hashlib.sha256()
        n = 0
        for chunk in g["Body"].iter_chunks(MB):
            h.update(chunk)
            n += len(chunk)
        return n, h.hexdigest()

    def put_and_measure(self, client, bucket, key, body):
        before = self.stats()
        client.put_object(Bucket=bucket, Key=key, Body=body)
        after = self.stats()
        self.assertEqual(after["objects"], before["objects"] + 1)
        self.assertEqual(after["logical_bytes"], before["logical_bytes"] + len(body))
        grown = after["stored_bytes"] - before["stored_bytes"]
        print("\n  %s/%s: stored bytes +%d" % (bucket, key, grown), file=sys.stderr)
        return grown


class SameBodyTests(DedupCase):
    # Bodies stream through the daemon: its anonymous memory stays far below one body's size.
    RSS_ANON_LIMIT_KIB = 64 << 10

    def test_same_body_four_times(self):
        if os.environ.get("CAIRN_IT_WRAP"):  # the pid is the wrapper's: no memory check
            self.same_body_four_times()
            return
        with MemorySampler(self.server.proc.pid) as mem:
            self.same_body_four_times()
        print("\n  cairnd peak RssAnon: %d KiB" % mem.peak_kib, file=sys.stderr)
        self.assertGreater(mem.peak_kib, 0, "could not read cairnd's memory")
        self.assertLess(mem.peak_kib, self.RSS_ANON_LIMIT_KIB)

    def same_body_four_times(self):
        grown = self.put_and_measure(self.big, self.bucket, "first", self.body)
        self.assertGreater(grown, SIZE * 0.95, "the first copy was not stored")
        self.assertLess(grown, SIZE * 1.05, "the first copy took far more than its size")
        self.assertLess(self.put_and_measure(self.big, self.bucket, "second key", self.body), MB)
        self.assertLess(self.put_and_measure(self.big, self.bucket2, "first", self.body), MB)
        other = self.client(self.add_user("second"), read_timeout=300)
        theirs = self.unique("theirs")
        other.create_bucket(Bucket=theirs)
        self.assertLess(self.put_and_measure(other, theirs, "copy", self.body), MB)
        for client, bucket, key in ((self.big, self.bucket, "first"),
                                    (self.big, self.bucket, "second key"),
                                    (self.big, self.bucket2, "first"), (other, theirs, "copy")):
            with self.subTest(bucket=bucket, key=key):
                self.assertEqual(self.read_digest(client, bucket, key), (SIZE, self.digest))


class ShiftedBodyTests(DedupCase):
    def test_insert_in_the_middle(self):
        self.big.put_object(Bucket=self.bucket, Key="base", Body=self.body)
        mid = SIZE // 2 + 12345
        shifted = self.body[:mid] + b"inserted!!" + self.body[mid:]
        # Content-defined chunking resynchronises after the insertion: a few chunks are new.
        grown = self.put_and_measure(self.big, self.bucket, "shifted", shifted)
        self.assertLess(grown, 4 * MB)
        self.assertEqual(self.read_digest(self.big, self.bucket, "shifted"),
                         (len(shifted), hashlib.sha256(shifted).hexdigest()))


# Past 8192 new chunks of ~32 KiB (256 MiB) a put checkpoints; 320 MiB makes one, joined at the end.
LONG = 320 << 20
PIECE = 8 * MB


class LongPutTests(DedupCase):
    path = None

    @classmethod
    def setUpFixtures(cls):
        super().setUpFixtures()
        fd, cls.path = tempfile.mkstemp(prefix="cairn-it-long-")
        cls.addClassCleanup(os.unlink, cls.path)
        md5, sha = hashlib.md5(), hashlib.sha256()
        with os.fdopen(fd, "wb") as f:
            for _ in range(LONG // PIECE):
                piece = os.urandom(PIECE)
                f.write(piece)
                md5.update(piece)
                sha.update(piece)
        cls.long_md5, cls.long_sha = md5.hexdigest(), sha.hexdigest()

    def test_put_past_a_checkpoint(self):
        before = self.stats()
        with open(self.path, "rb") as f:
            r = self.big.put_object(Bucket=self.bucket, Key="long", Body=f)
        self.assertEqual(r["ETag"], '"%s"' % self.long_md5)
        grown = self.stats()["stored_bytes"] - before["stored_bytes"]
        self.assertGreater(grown, LONG * 0.95)
        self.assertLess(grown, LONG * 1.05)
        self.assertEqual(self.read_digest(self.big, self.bucket, "long"), (LONG, self.long_sha))
        # The chunks the checkpoint entered unreferenced are the object's now: a copy dedups.
        with open(self.path, "rb") as f:
            self.assertLess(self.put_and_measure(self.big, self.bucket2, "long", f.read()), MB)

    def test_put_abandoned_past_a_checkpoint(self):
        before = self.stats()
        key = "abandoned"
        head = signed_head(self.port, self.root, "PUT", "/%s/%s" % (self.bucket, key),
                           extra={"Content-Length": str(LONG)})
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.sendall(head)
        # Bytes of its own (the other test's would find these chunks stored), past the
        # checkpoint and short of the end.
        for _ in range(300 * MB // PIECE):
            sock.sendall(os.urandom(PIECE))
        time.sleep(0.2)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST: the upload is abandoned
        time.sleep(0.5)  # the daemon notices on the connection's thread
        self.assertEqual(self.server.health(), 200)
        with self.assertRaises(Exception) as cm:
            self.big.head_object(Bucket=self.bucket, Key=key)
        self.assertEqual(cm.exception.response["Error"]["Code"], "404")
        self.assertEqual(self.stats()["objects"], before["objects"])
        # The daemon goes on: a small put and its read.
        self.big.put_object(Bucket=self.bucket, Key="after", Body=b"after")
        self.assertEqual(self.big.get_object(Bucket=self.bucket, Key="after")["Body"].read(),
                         b"after")


MEMO_SIZE = 24 * MB
PART = 8 * MB  # aws-cli's default part size; boto3's is set to the same below
MAX_CHUNK = 128 << 10  # the chunker's largest chunk: a body has at least size / MAX_CHUNK


class MemoTests(DedupCase):
    server_args = ("--md5-memo-save", "1")  # saved every second while running, as well

    def memo_counts(self):
        """(hits, misses) the daemon logged when it last stopped."""
        found = None
        with open(self.server.log_path, errors="replace") as f:
            for line in f:
                m = re.search(r"MD5 memo (\d+) hits, (\d+) misses", line)
                if m:
                    found = (int(m.group(1)), int(m.group(2)))
        self.assertIsNotNone(found, "cairnd logged no MD5 memo counts at its stop")
        return found

    def put_checked(self, key, body):
        r = self.big.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.assertEqual(r["ETag"], etag_of(body), key)

    def upload_checked(self, key, path, parts):
        from boto3.s3.transfer import TransferConfig
        cfg = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
        self.big.upload_file(path, self.bucket, key, Config=cfg)
        head = self.big.head_object(Bucket=self.bucket, Key=key)
        self.assertEqual(head["ETag"], multipart_etag(parts), key)

    def aws_cp_checked(self, key, path, parts):
        self.aws("s3", "cp", path, "s3://%s/%s" % (self.bucket, key))
        head = self.big.head_object(Bucket=self.bucket, Key=key)
        self.assertEqual(head["ETag"], multipart_etag(parts), key)

    def test_repeats_get_exact_etags(self):
        body = os.urandom(MEMO_SIZE)
        changed = bytearray(body)
        changed[MEMO_SIZE // 2] ^= 0x40
        changed = bytes(changed)
        parts = [body[i:i + PART] for i in range(0, MEMO_SIZE, PART)]
        fd, path = tempfile.mkstemp(prefix="cairn-it-memo-")
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        self.put_checked("one", body)
        self.put_checked("again", body)  # every chunk from the memo
        self.put_checked("changed", changed)  # the first half from the memo
        self.put_checked("changed again", changed)
        self.upload_checked("mpu", path, parts)  # part 1 as the body's start, 2 and 3 anew
        self.upload_checked("mpu again", path, parts)
        self.aws_cp_checked("cli", path, parts)
        self.aws_cp_checked("cli again", path, parts)
        self.server.restart()
        hits, misses = self.memo_counts()
        print("\n  MD5 memo: %d hits, %d misses" % (hits, misses), file=sys.stderr)
        # five whole repeats ("again", "changed again", "mpu again", "cli", "cli again"), each
        # of at least MEMO_SIZE / MAX_CHUNK chunks, less a part's last one (below the minimum)
        self.assertGreater(hits, 5 * (MEMO_SIZE // MAX_CHUNK - 3), (hits, misses))
        self.assertGreater(misses, 0)
        # the memo is saved at the stop and read at the start: a repeat after the restart is
        # found whole too
        self.put_checked("after restart", body)
        for key, data in (("again", body), ("changed again", changed),
                          ("after restart", body)):
            with self.subTest(key=key):
                self.assertEqual(self.read_digest(self.big, self.bucket, key),
                                 (len(data), hashlib.sha256(data).hexdigest()))
        self.server.restart()
        self.assertGreater(self.memo_counts()[0], MEMO_SIZE // MAX_CHUNK - 3)

    def test_memo_kept_through_a_crash(self):
        body = os.urandom(MEMO_SIZE)
        memo = os.path.join(self.server.data_dir, "md5memo")
        if os.path.exists(memo):
            os.unlink(memo)  # what an earlier test's stop left: only a save from now counts
        self.put_checked("before the crash", body)
        deadline = time.monotonic() + 60
        while not os.path.exists(memo) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(os.path.exists(memo), "no %s a minute after the put" % memo)
        # A save that began during the put holds the body's first chunks; the next one (a second
        # later) all of them. Any of them shows the memo reached the file without a clean stop.
        time.sleep(2.5)
        self.server.kill()
        self.server.start_again()
        self.put_checked("after the crash", body)
        self.server.restart()
        hits, misses = self.memo_counts()
        print("\n  MD5 memo after kill -9: %d hits, %d misses" % (hits, misses), file=sys.stderr)
        self.assertGreater(hits, 0, (hits, misses))
        self.assertEqual(self.read_digest(self.big, self.bucket, "after the crash"),
                         (len(body), hashlib.sha256(body).hexdigest()))


if __name__ == "__main__":
    unittest.main()
