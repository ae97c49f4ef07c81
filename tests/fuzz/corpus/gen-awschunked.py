#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_awschunked (tests/fuzz/corpus/awschunked/).

Each file is the 6-byte header fuzz_awschunked.c reads (mode, four piece lengths, control byte)
followed by an aws-chunked body. Signed bodies are signed with the key and seed signature the
fuzz target uses (the AWS documentation example: secret wJalr...EXAMPLEKEY, 20130524/us-east-1/s3,
seed 4f232c43...a0a9), following the chunk-signature chain described in awschunked.h.
Run from anywhere: python3 tests/fuzz/corpus/gen-awschunked.py
"""
import base64
import hashlib
import hmac
import os
import zlib

SECRET = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DATE = "20130524"
AMZ_DATE = "20130524T000000Z"
SCOPE = DATE + "/us-east-1/s3/aws4_request"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
EMPTY = hashlib.sha256(b"").hexdigest()


def hm(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def signing_key():
    k = hm(b"AWS4" + SECRET, DATE)
    for part in ("us-east-1", "s3", "aws4_request"):
        k = hm(k, part)
    return k


KEY = signing_key()


def chunk_sig(prev, data):
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", AMZ_DATE, SCOPE, prev, EMPTY,
                     hashlib.sha256(data).hexdigest()])
    return hm(KEY, sts).hex()


def trailer_sig(prev, lines):
    # As the decoder hashes them: names lowercased, values trimmed.
    blob = "".join("%s:%s\n" % (n.lower(), v.strip(" \t")) for n, v in lines).encode()
    sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", AMZ_DATE, SCOPE, prev,
                     hashlib.sha256(blob).hexdigest()])
    return hm(KEY, sts).hex()


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def signed(chunks, trailers=None):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body."""
    out, prev = b"", SEED
    for data in chunks + [b""]:
        prev = chunk_sig(prev, data)
        out += b"%x;chunk-signature=%s\r\n" % (len(data), prev.encode())
        if data:
            out += data + b"\r\n"
    if trailers is None:
        return out + b"\r\n"
    for n, v in trailers:
        out += ("%s:%s\r\n" % (n, v)).encode()
    out += ("x-amz-trailer-signature:%s\r\n" % trailer_sig(prev, trailers)).encode()
    return out + b"\r\n"


def unsigned(chunks, trailers, ext=b""):
    out = b""
    for data in chunks:
        out += b"%x%s\r\n" % (len(data), ext) + data + b"\r\n"
    out += b"0\r\n"
    for n, v in trailers:
        out += ("%s:%s\r\n" % (n, v)).encode()
    return out + b"\r\n"


def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "awschunked")
    os.makedirs(here, exist_ok=True)
    a100 = b"a" * 100
    text = b"The quick brown fox jumps over the lazy dog.\r\n0;not-a-header\r\n"
    crc = [("x-amz-checksum-crc32", crc32_b64(a100 + text))]
    good_signed = signed([a100, text])
    bodies = {
        # mode, piece lengths, control byte, body
        "signed_two_chunks": (b"0", b"\x01\x07\x40\xff", b"0", good_signed),
        "signed_empty": (b"0", b"\x03\x03\x03\x03", b"0", signed([])),
        "signed_trailer": (b"1", b"\x05\x40\x02\x11", b"0", signed([a100, text], crc)),
        "signed_trailer_mixed_case": (b"1", b"\x10\x10\x10\x10", b"0",
                                      signed([text], [("X-Amz-Checksum-CRC32C", "  sOO8/Q==  "),
                                                      ("x-amz-meta-n", "v")])),
        "unsigned_trailer": (b"2", b"\x01\x02\x03\x04", b"0", unsigned([a100, text], crc)),
        "unsigned_ext_upper_hex": (b"2", b"\x20\x00\x20\x00", b"\x80",
                                   unsigned([a100 * 2], [], b";foo=bar").replace(b"c8", b"C8")),
        "signed_bad_second_sig": (b"0", b"\x40\x40\x40\x40", b"0",
                                  good_signed.replace(text, text.upper())),
        "signed_chunk_over_max": (b"0", b"\xff\xff\xff\xff", b"\x01", good_signed),
        "signed_bytes_after_end": (b"0", b"\x08\x08\x08\x08", b"0", good_signed + b"x"),
        "unsigned_lf_without_cr": (b"2", b"\x04\x04\x04\x04", b"0", b"5\nhello\r\n0\r\n\r\n"),
        "unsigned_line_too_long": (b"2", b"\x80\x80\x80\x80", b"0", b"1" + b"0" * 300 + b"\r\n"),
        "unsigned_huge_size": (b"2", b"\x01\x01\x01\x01", b"0", b"ffffffffffffffffff\r\n"),
        "unsigned_truncated": (b"2", b"\x03\x05\x07\x09", b"\x80", unsigned([a100], crc)[:-9]),
        "trailer_sig_in_unsigned": (b"2", b"\x09\x09\x09\x09", b"0",
                                    unsigned([text], [("x-amz-trailer-signature", EMPTY)])),
    }
    for name, (mode, lens, ctl, body) in bodies.items():
        with open(os.path.join(here, name), "wb") as f:
            f.write(mode + lens + ctl + body)


if __name__ == "__main__":
    main()
