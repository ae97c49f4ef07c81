#!/usr/bin/env python3
"""Shared harness for cairn's end-to-end tests (tests/it/t2x_*).

What it gives a test:
  * CairnServer: a real build/cairnd on a free 127.0.0.1 port with a fresh temp data dir and
    generated root credentials in its environment; stderr captured to a log file; stopped by
    PID (SIGTERM, then SIGKILL after a grace period) and its temp dir removed.
  * CairnTestCase: a unittest base class that runs one CairnServer per test class (also torn
    down when setUpClass fails, through addClassCleanup), prints the new part of cairnd's log
    when a test fails, and offers boto3 clients, aws-cli, `cairn user add`, a SigV4 signer for
    raw http.client requests, XML error parsing and S3 error assertions.
  * `python3 cairn_it.py serve ENVFILE`: the launcher the shell suites (t22, t23, t25, t24) use
    through cairn_it.sh. It starts a server, writes shell assignments (CAIRN_ENDPOINT, CAIRN_PORT,
    CAIRN_DATA, CAIRN_LOG, CAIRN_AK, CAIRN_SK, CAIRN_REGION) to ENVFILE once cairnd is healthy,
    and stops the server on SIGTERM/SIGINT, when its parent dies, or when cairnd dies (exit 1).

Environment: CAIRN_BUILD (build dir, default ../../build from here); CAIRN_IT_WRAP (a command
prefix such as "valgrind -q" for cairnd); CAIRN_IT_KEEP=1 keeps temp dirs; CAIRN_LOG_LEVEL is
passed through to cairnd.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import random
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

try:
    import boto3
    import botocore
    import botocore.config
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - only when the PATH python3 lacks boto3
    # Debian's python3-boto3 lives under /usr/bin/python3: re-run the suite there.
    if os.path.realpath(sys.executable) != "/usr/bin/python3" and os.path.exists(
        "/usr/bin/python3"
    ) and __name__ != "__main__":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    boto3 = None
    ClientError = Exception

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "us-east-1"
HEALTH_PATH = "/_cairn/health"
START_TIMEOUT_S = float(os.environ.get("CAIRN_IT_START_TIMEOUT", "30"))
STOP_GRACE_S = 20.0
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def build_dir():
    """Absolute build dir: $CAIRN_BUILD, else <repo>/build."""
    b = os.environ.get("CAIRN_BUILD")
    if not b:
        b = os.path.join(HERE, "..", "..", "build")
    return os.path.abspath(b)


def free_port():
    """A port that was free a moment ago (bind port 0 on loopback, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_access_key():
    return "AKCAIRN" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))


def random_secret_key():
    # '+' and '/' appear in real AWS secrets; they must never leak into URLs or break signing.
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(random.choices(alphabet, k=40))


def tail_text(path, max_bytes=6000, start=0):
    """The last max_bytes of a file from offset start on (decoded leniently)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            begin = max(start, end - max_bytes)
            f.seek(begin)
            data = f.read()
    except OSError as e:
        return "(no log: %s)" % e
    prefix = "...\n" if begin > start else ""
    return prefix + data.decode("utf-8", "replace")


class CairnServer:
    """One cairnd process on a free loopback port over a fresh temp data dir."""

    def __init__(self, build=None, region=REGION, extra_args=()):
        self.build = build or build_dir()
        self.cairnd = os.path.join(self.build, "cairnd")
        self.cairn = os.path.join(self.build, "cairn")
        self.region = region
        self.extra_args = list(extra_args)
        self.access_key = random_access_key()
        self.secret_key = random_secret_key()
        self.tmp = None
        self.data_dir = None
        self.log_path = None
        self.proc = None
        self.port = None
        self._log_file = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def _env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        for k in ("CAIRN_BUILD", "CAIRN_LOG_LEVEL"):
            if k in os.environ:
                env[k] = os.environ[k]
        env["CAIRN_ROOT_ACCESS_KEY"] = self.access_key
        env["CAIRN_ROOT_SECRET_KEY"] = self.secret_key
        return env

    def start(self):
        if not os.access(self.cairnd, os.X_OK):
            raise RuntimeError("no daemon at %s (run make)" % self.cairnd)
        self.tmp = tempfile.mkdtemp(prefix="cairn-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.mkdir(self.data_dir)
        self.log_path = os.path.join(self.tmp, "cairnd.log")
        # A port found free can be taken before cairnd binds it: try a few ports.
        last = None
        for _ in range(3):
            try:
                self._spawn()
                self._wait_healthy()
                return self
            except _PortBusy as e:
                last = e
                self._reap()
        raise RuntimeError("cairnd did not start: %s" % last)

    def restart(self):
        """Stops cairnd (SIGTERM; it must exit 0) and starts it again on the same port and data
        dir. Raises when the stop was not clean or the new process does not get healthy."""
        rc, killed = self._reap()
        if killed or rc not in (0, -signal.SIGTERM):
            raise RuntimeError("cairnd stopped badly for the restart (status %s, killed %s):\n%s"
                               % (rc, killed, tail_text(self.log_path)))
        self._spawn(self.port)
        self._wait_healthy()

    def kill(self):
        """Kills cairnd with SIGKILL, as a crash would (nothing runs at exit). Returns the exit
        status. start_again() brings it back."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        rc, _ = self._reap()
        return rc

    def start_again(self):
        """Starts cairnd again on the same port and data dir after kill() or a stop of the
        process; raises when it does not get healthy."""
        self._spawn(self.port)
        self._wait_healthy()

    def _spawn(self, port=None):
        self.port = port or free_port()
        argv = shlex.split(os.environ.get("CAIRN_IT_WRAP", "")) + [
            self.cairnd,
            "--data", self.data_dir,
            "--listen", "127.0.0.1:%d" % self.port,
            "--region", self.region,
        ] + self.extra_args
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(("=== %s\n" % " ".join(argv)).encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file,
            env=self._env(), cwd=self.tmp,
        )

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                log = tail_text(self.log_path)
                if "in use" in log.lower():
                    raise _PortBusy(log)
                raise RuntimeError("cairnd exited with %s during start:\n%s" % (rc, log))
            if self.health() == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("cairnd not healthy after %.0f s:\n%s"
                           % (START_TIMEOUT_S, tail_text(self.log_path)))

    def health(self, timeout=5.0):
        """Status of GET /_cairn/health, or None when no answer."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            conn.request("GET", HEALTH_PATH)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            return resp.status
        except (OSError, http.client.HTTPException):
            return None

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        """Stops the process (SIGTERM, then SIGKILL); returns (exit status, needed_kill)."""
        if self.proc is None:
            return None, False
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                killed = True
        rc = self.proc.returncode
        self.proc = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        return rc, killed

    def stop(self):
        """Stops cairnd, runs `cairn fsck` on its data dir, and removes the temp dir. Returns a
        problem description or None: cairnd dead before the stop, a non-zero exit, a stop that
        needed SIGKILL, or fsck finding problems."""
        was_running = self.is_running()
        had_proc = self.proc is not None
        rc, killed = self._reap()
        problem = None
        if had_proc and not was_running:
            problem = "cairnd died during the tests (exit status %s)" % rc
        elif killed:
            problem = "cairnd ignored SIGTERM for %.0f s (killed)" % STOP_GRACE_S
        elif rc not in (None, 0, -signal.SIGTERM):
            problem = "cairnd exited with status %s on SIGTERM" % rc
        if problem:
            problem += "\n--- cairnd log tail:\n" + tail_text(self.log_path)
        elif had_proc:
            problem = self.fsck()
        if self.tmp and os.environ.get("CAIRN_IT_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            print("cairn_it: kept %s" % self.tmp, file=sys.stderr)
        self.tmp = None
        return problem

    def fsck(self):
        """`cairn fsck` over the stopped daemon's data dir; a problem description or None."""
        if not os.access(self.cairn, os.X_OK) or not os.path.isdir(
                os.path.join(self.data_dir, "index")):
            return None
        try:
            p = self.cairn_tool("fsck", self.data_dir, check=False, timeout=300)
        except subprocess.TimeoutExpired:
            return "cairn fsck did not finish in 300 s"
        if p.returncode != 0:
            return "cairn fsck after the tests failed (%d):\n%s%s" % (
                p.returncode, p.stdout[-3000:], p.stderr[-3000:])
        return None

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except (OSError, TypeError):
            return 0

    # ---- the admin tool beside the running daemon ----

    def cairn_tool(self, *args, check=True, timeout=120):
        """Runs build/cairn with args; returns the CompletedProcess (text)."""
        p = subprocess.run([self.cairn] + list(args), capture_output=True, text=True,
                           timeout=timeout, env=self._env())
        if check and p.returncode != 0:
            raise RuntimeError("cairn %s failed (%d): %s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def add_user(self, name):
        """`cairn user add DATADIR NAME`; returns (access_key_id, secret_access_key)."""
        p = self.cairn_tool("user", "add", self.data_dir, name)
        fields = {}
        for line in p.stdout.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                fields[k.strip()] = v.strip()
        try:
            return fields["access_key_id"], fields["secret_access_key"]
        except KeyError:
            raise RuntimeError("unexpected `cairn user add` output: %r" % p.stdout)


class _PortBusy(Exception):
    pass


class MemorySampler:
    """Samples a process's anonymous resident memory (RssAnon, KiB) every 20 ms in a thread,
    as a context manager; .peak_kib is the highest value seen (0 when /proc is unreadable)."""

    def __init__(self, pid, interval=0.02):
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))
        except (OSError, ValueError):
            pass

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
        return False


# ---- SigV4 signing for raw requests ----

def uri_encode(s, safe="-_.~"):
    """RFC 3986 percent-encoding as SigV4 wants it (space -> %20, '/' only if in safe)."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return urllib.parse.quote(s, safe=safe)


def amz_now(offset_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y%m%dT%H%M%SZ")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def canonical_query(query):
    """query: list of (name, value) pairs, value may be None for a bare flag ('?delete')."""
    pairs = []
    for k, v in query or []:
        pairs.append((uri_encode(k), uri_encode("" if v is None else v)))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


def query_string(query):
    """The request's query string as sent (bare flags stay bare)."""
    parts = []
    for k, v in query or []:
        parts.append(uri_encode(k) if v is None else "%s=%s" % (uri_encode(k), uri_encode(v)))
    return "&".join(parts)


def sigv4_authorization(method, path, query, headers, payload_hash, access_key, secret_key,
                        amz_date, region=REGION, service="s3", scope_date=None):
    """The Authorization header value for headers (a dict, names any case, which must include
    host and x-amz-date). path is the raw (unencoded) path; it is encoded once, as S3 does.
    scope_date (YYYYMMDD) overrides the credential scope's date, normally amz_date's."""
    lower = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
    names = sorted(lower)
    canonical = "\n".join([
        method,
        uri_encode(path, safe="/-_.~"),
        canonical_query(query),
        "".join("%s:%s\n" % (n, lower[n]) for n in names),
        ";".join(names),
        payload_hash,
    ])
    date = scope_date or amz_date[:8]
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         sha256_hex(canonical.encode("utf-8"))])
    k = sigv4_signing_key(secret_key, date, region, service)
    sig = hmac.new(k, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, ";".join(names), sig)


def sigv4_signing_key(secret_key, date, region=REGION, service="s3"):
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def aws_chunked_signed(body, chunk_size, seed_signature, amz_date, secret_key, region=REGION):
    """body encoded as STREAMING-AWS4-HMAC-SHA256-PAYLOAD: chunks of chunk_size bytes, each
    'hex;chunk-signature=SIG' CRLF data CRLF, chained from the seed (request) signature, ending
    in the signed zero-length chunk. Returns (encoded bytes, list of the chunk signatures)."""
    key = sigv4_signing_key(secret_key, amz_date[:8], region)
    scope = "%s/%s/s3/aws4_request" % (amz_date[:8], region)
    prev, out, sigs = seed_signature, [], []
    pieces = [body[i:i + chunk_size] for i in range(0, len(body), chunk_size)] + [b""]
    for piece in pieces:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, sha256_hex(b""),
                             sha256_hex(piece)])
        prev = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        sigs.append(prev)
        out.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(piece), prev.encode(), piece))
    return b"".join(out), sigs


def aws_chunked_trailer(body, chunk_size, trailer_name, trailer_value):
    """body encoded as STREAMING-UNSIGNED-PAYLOAD-TRAILER: 'hex' CRLF data CRLF chunks, the zero
    chunk, then 'name:value' CRLF and the closing CRLF."""
    out = [b"%x\r\n%s\r\n" % (len(body[i:i + chunk_size]), body[i:i + chunk_size])
           for i in range(0, len(body), chunk_size)]
    out.append(b"0\r\n%s:%s\r\n\r\n" % (trailer_name.encode(), trailer_value.encode()))
    return b"".join(out)


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    @property
    def error(self):
        return parse_error(self.body)

    def __repr__(self):
        return "RawResponse(%d, %r)" % (self.status, self.body[:300])


def parse_error(body):
    """{'Code':…, 'Message':…} from an S3 XML error body; {} when it is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    if root.tag.replace(S3_NS, "") != "Error":
        return {}
    return {c.tag.replace(S3_NS, ""): (c.text or "") for c in root}


def signed_head(port, creds, method, path, payload_hash="UNSIGNED-PAYLOAD", extra=None,
                query=None, raw_path=None, end=True):
    """Request line and headers of a SigV4-signed request, as bytes; path is signed as the
    harness signs it, raw_path (already encoded) is what is sent instead when given. end=True
    adds the blank line that ends the header section."""
    now = amz_now()
    hdrs = {"host": "127.0.0.1:%d" % port, "x-amz-date": now, "x-amz-content-sha256": payload_hash}
    hdrs.update(extra or {})
    hdrs["Authorization"] = sigv4_authorization(method, path, query, hdrs, payload_hash,
                                                creds[0], creds[1], now)
    target = raw_path or uri_encode(path, safe="/-_.~")
    if query:
        target += "?" + "&".join(k if v is None else "%s=%s" % (k, uri_encode(v))
                                 for k, v in query)
    lines = ["%s %s HTTP/1.1" % (method, target)] + ["%s: %s" % kv for kv in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n" + ("\r\n" if end else "")).encode("utf-8")


def raw_request(port, method, path, query=None, headers=None, body=b"", sign=None,
                amz_date=None, payload_hash=None, timeout=30.0):
    """Sends one request over a fresh connection; returns a RawResponse.

    sign: (access_key, secret_key) to sign with SigV4, or None for an unsigned request.
    headers given here are sent and (when signing) all of them are signed, plus host,
    x-amz-date and x-amz-content-sha256 (payload_hash: default the body's SHA-256)."""
    hdrs = dict(headers or {})
    if sign is not None:
        if payload_hash is None:
            payload_hash = sha256_hex(body)
        amz_date = amz_date or amz_now()
        hdrs.setdefault("host", "127.0.0.1:%d" % port)
        hdrs.setdefault("x-amz-date", amz_date)
        hdrs.setdefault("x-amz-content-sha256", payload_hash)
        hdrs["Authorization"] = sigv4_authorization(
            method, path, query, hdrs, payload_hash, sign[0], sign[1], hdrs["x-amz-date"])
    target = uri_encode(path, safe="/-_.~")
    qs = query_string(query)
    if qs:
        target += "?" + qs
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host="host" in {k.lower() for k in hdrs},
                        skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if (body or method in ("PUT", "POST")) and "content-length" not in {
                k.lower() for k in hdrs}:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body if body else None)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


# ---- checksums boto3 cannot compute without awscrt ----

def _crc_table(poly):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


def _reflect(v, width):
    r = 0
    for i in range(width):
        if v >> i & 1:
            r |= 1 << (width - 1 - i)
    return r


_CRC32C_TABLE = _crc_table(_reflect(0x1EDC6F41, 32))
_CRC64NVME_TABLE = _crc_table(_reflect(0xAD93D23594C93659, 64))


def _crc_reflected(data, table, width):
    mask = (1 << width) - 1
    c = mask
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ mask


def crc32c(data):
    return _crc_reflected(data, _CRC32C_TABLE, 32)


def crc64nvme(data):
    return _crc_reflected(data, _CRC64NVME_TABLE, 64)


assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888


def checksum_b64(algorithm, data):
    """The x-amz-checksum-<algorithm> header value of data (base64 of the big-endian digest)."""
    import zlib
    a = algorithm.upper()
    if a == "CRC32":
        raw = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    elif a == "CRC32C":
        raw = crc32c(data).to_bytes(4, "big")
    elif a == "CRC64NVME":
        raw = crc64nvme(data).to_bytes(8, "big")
    elif a == "SHA1":
        raw = hashlib.sha1(data).digest()
    elif a == "SHA256":
        raw = hashlib.sha256(data).digest()
    else:
        raise ValueError(algorithm)
    return base64.b64encode(raw).decode()


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def etag_of(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def multipart_etag(parts):
    """S3's ETag of a multipart object from its parts' bytes."""
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(parts))


# ---- clients ----

def aws_cli_path():
    """Debian's aws-cli v2 when installed, else whatever `aws` is on PATH."""
    if os.access("/usr/bin/aws", os.X_OK):
        return "/usr/bin/aws"
    return shutil.which("aws")


def boto_client(endpoint, access_key, secret_key, signature_version=None, path_style=True,
                default_config=False, **config_kw):
    """A boto3 S3 client for endpoint. default_config=True passes no Config at all (what a user
    writing boto3.client('s3', endpoint_url=…) gets); otherwise path-style addressing, no
    retries (so errors surface as they are), and the given signature version."""
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=access_key,
              aws_secret_access_key=secret_key)
    if not default_config:
        cfg = dict(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60)
        if path_style:
            cfg["s3"] = {"addressing_style": "path"}
        if signature_version:
            cfg["signature_version"] = signature_version
        cfg.update(config_kw)
        kw["config"] = botocore.config.Config(**cfg)
    return boto3.session.Session().client("s3", **kw)


class CairnTestCase(unittest.TestCase):
    """Base class: one cairnd per test class, torn down also when setUpClass fails.

    Subclasses extend setUpClass by overriding setUpFixtures (a classmethod), which runs after
    the server is healthy: a failure there also stops the server."""

    server = None
    server_args = ()  # extra cairnd flags for this class's server
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if boto3 is None:
            raise unittest.SkipTest("boto3 is not importable")
        cls.server = CairnServer(extra_args=cls.server_args)
        cls.addClassCleanup(cls._stop_server)
        cls.server.start()
        cls.endpoint = cls.server.endpoint
        cls.port = cls.server.port
        cls.root = (cls.server.access_key, cls.server.secret_key)
        cls.s3 = cls.client()  # path-style, botocore's default signer (SigV4), no retries
        cls.s3v4 = cls.client(signature_version="s3v4")
        cls.s3_default = cls.client(default_config=True)  # no Config at all
        cls.setUpFixtures()

    @classmethod
    def setUpFixtures(cls):
        pass

    @classmethod
    def _stop_server(cls):
        server, cls.server = cls.server, None
        if server is None:
            return
        problem = server.stop()
        if problem:
            raise AssertionError(problem)

    @classmethod
    def client(cls, creds=None, **kw):
        """A boto3 client (root credentials unless creds=(ak, sk)); kw as for boto_client."""
        ak, sk = creds or cls.root
        return boto_client(cls.endpoint, ak, sk, **kw)

    @classmethod
    def add_user(cls, name):
        return cls.server.add_user(name)

    @classmethod
    def unique(cls, prefix="b"):
        """A fresh valid bucket name."""
        return "%s-%s" % (prefix, "".join(random.choices(string.ascii_lowercase + string.digits,
                                                         k=10)))

    # ---- running aws-cli ----

    def aws(self, *args, creds=None, check=True, aws_bin=None, config_file=None, timeout=120,
            input=None):
        ak, sk = creds or self.root
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk,
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": config_file or os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        })
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        argv = [aws_bin or aws_cli_path()] + list(args) + ["--endpoint-url", self.endpoint]
        p = subprocess.run(argv, capture_output=True, env=env, timeout=timeout, input=input)
        if check and p.returncode != 0:
            self.fail("%s -> %d\n%s%s" % (" ".join(argv), p.returncode,
                                          p.stdout.decode(errors="replace"),
                                          p.stderr.decode(errors="replace")))
        return p

    # ---- raw requests ----

    def raw(self, method, path, creds="root", **kw):
        """raw_request against this class's server; creds='root', None (unsigned) or (ak, sk)."""
        sign = self.root if creds == "root" else creds
        return raw_request(self.port, method, path, sign=sign, **kw)

    # ---- assertions ----

    def assertS3Error(self, code, status, fn, *args, **kw):
        """fn(*args, **kw) must raise a botocore ClientError with this Code and HTTP status.
        Returns the error response dict."""
        try:
            fn(*args, **kw)
        except ClientError as e:
            err = e.response
            got = (err.get("Error", {}).get("Code"),
                   err.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            self.assertEqual(got, (code, status),
                             "expected %s/%d, got %s: %s" % (code, status, got, err.get("Error")))
            return err
        self.fail("expected %s/%d, but the call succeeded" % (code, status))

    def assertRawError(self, resp, code, status):
        """A RawResponse must be an S3 XML error with this Code and HTTP status."""
        err = resp.error
        self.assertEqual((err.get("Code"), resp.status), (code, status),
                         "expected %s/%d, got %d %r" % (code, status, resp.status,
                                                        resp.body[:500]))
        self.assertIn("xml", resp.headers.get("content-type", ""),
                      "error without an XML content type")
        return err

    def assertHealthy(self):
        self.assertTrue(self.server.is_running(), "cairnd is not running")
        self.assertEqual(self.server.health(), 200, "health check failed")

    # ---- printing cairnd's log on failure ----

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        offset = self.server.log_size() if self.server else 0
        out = super().run(result)
        server = type(self).server
        if server is not None and len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n--- cairnd log during %s:\n%s\n---\n"
                             % (self.id(), tail_text(server.log_path, 4000, offset)))
        return out


# ---- the launcher for shell suites ----

def _serve(env_file):
    server = CairnServer()
    stop = {"sig": None}

    def on_signal(signum, _frame):
        stop["sig"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.getppid()
    try:
        server.start()
    except Exception as e:  # noqa: BLE001 - report any start failure to the shell
        print("cairn_it serve: %s" % e, file=sys.stderr)
        server.stop()
        return 1
    assigns = {
        "CAIRN_ENDPOINT": server.endpoint, "CAIRN_PORT": str(server.port),
        "CAIRN_DATA": server.data_dir, "CAIRN_LOG": server.log_path,
        "CAIRN_AK": server.access_key, "CAIRN_SK": server.secret_key, "CAIRN_REGION": REGION,
    }
    tmp = env_file + ".tmp"
    with open(tmp, "w") as f:
        for k, v in assigns.items():
            f.write("%s=%s\n" % (k, shlex.quote(v)))
    os.rename(tmp, env_file)
    rc = 0
    while stop["sig"] is None:
        if os.getppid() != parent:
            break
        if not server.is_running():
            break
        time.sleep(0.2)
    problem = server.stop()
    if problem:
        print("cairn_it serve: %s" % problem, file=sys.stderr)
        rc = 1
    return rc


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(_serve(sys.argv[2]))
    print("usage: cairn_it.py serve ENVFILE", file=sys.stderr)
    sys.exit(2)
