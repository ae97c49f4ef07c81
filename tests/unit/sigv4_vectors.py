#!/usr/bin/env python3
"""Regenerates the botocore-signed vectors used by test_sigv4.c, test_sigv2.c (offline, no
network): python3 tests/unit/sigv4_vectors.py. Needs botocore."""
import datetime
import json
from unittest import mock
import botocore.auth as auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from urllib.parse import urlsplit

creds = Credentials('AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')
fixed = datetime.datetime(2024, 3, 9, 12, 34, 56)

def sign(cls, method, url, headers, body=b'', **kw):
    req = AWSRequest(method=method, url=url, headers=headers, data=body)
    with mock.patch('botocore.auth.get_current_datetime', return_value=fixed):
        s = cls(creds, 's3', 'eu-west-1', **kw)
        s.add_auth(req)
    return req

cases = [
 ('PUT', 'http://127.0.0.1:9000/bucket/dir/a%20b%2Bc%3Dd%26e~f%21g%27h%28i%29%2Aj%C3%A9.txt',
  {'Content-Type': 'text/plain', 'X-Amz-Meta-Note': '  two   spaces  here ', 'Content-MD5': '1B2M2Y8AsgTpgAAy4X2UQQ=='}, b'hello'),
 ('GET', 'http://127.0.0.1:9000/bucket?list-type=2&prefix=photos%2F2024%20x%2By&delimiter=%2F&max-keys=10&continuation-token=abc%3D%3D&encoding-type=url',
  {}, b''),
 ('POST', 'http://127.0.0.1:9000/bucket/key?uploads', {}, b''),
 ('DELETE', 'http://127.0.0.1:9000/bucket/key?uploadId=2~abc.def_GHI-jkl', {}, b''),
]
for m, u, h, b in cases:
    req = sign(auth.S3SigV4Auth, m, u, h, b)
    sp = urlsplit(req.url)
    print(json.dumps({'method': m, 'path': sp.path, 'query': sp.query,
        'headers': [[k, v] for k, v in req.headers.items()]}))

# presigned
req = AWSRequest(method='GET', url='http://127.0.0.1:9000/bucket/some%20key%2Bplus.bin?versionId=v1', headers={})
with mock.patch('botocore.auth.get_current_datetime', return_value=fixed):
    auth.S3SigV4QueryAuth(creds, 's3', 'eu-west-1', expires=3600).add_auth(req)
print(json.dumps({'presigned': req.url}))

# ---- SigV2 (HmacV1Auth / HmacV1QueryAuth) ----
creds = Credentials('AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')
D='Sat, 09 Mar 2024 12:34:56 GMT'
def go(m,u,h):
    req=AWSRequest(method=m,url=u,headers=h)
    with mock.patch.object(auth.HmacV1Auth,'_get_date',return_value=D):
        a=auth.HmacV1Auth(creds)
        sp=urlsplit(req.url)
        sts=a.canonical_string(m, sp, req.headers)
        a.add_auth(req)
    print(json.dumps({'m':m,'path':sp.path,'q':sp.query,'h':list(req.headers.items()),'sts':sts}))
go('PUT','http://127.0.0.1:9000/bucket/a%20b%2Bc.txt?partNumber=3&uploadId=xyz&foo=bar',{'Content-Type':'text/plain','Content-MD5':'1B2M2Y8AsgTpgAAy4X2UQQ==','X-Amz-Meta-B':' 2 ','x-amz-meta-a':'1','X-Amz-Storage-Class':'STANDARD'})
go('GET','http://127.0.0.1:9000/bucket?versions&prefix=p&response-content-type=text%2Fhtml',{})
req=AWSRequest(method='GET',url='http://127.0.0.1:9000/bucket/key%20x?versionId=v1',headers={})
with mock.patch('time.time', return_value=1709987696):
    auth.HmacV1QueryAuth(creds, expires=3600).add_auth(req)
print(json.dumps({'presigned':req.url}))
