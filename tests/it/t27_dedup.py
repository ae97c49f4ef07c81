#!/usr/bin/env python3
"""Global dedup through the S3 front end: the same 100 MiB body uploaded under a second key, into
a second bucket and by a second user adds (almost) nothing to the stored bytes that
`cairn stats DATADIR --json` reports beside the running daemon; a body with a few bytes inserted
in the middle adds only the chunks around the insertion. Every copy reads back intact."""

import hashlib
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cairn_it import CairnTestCase, MemorySampler  # noqa: E402

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


if __name__ == "__main__":
    unittest.main()
