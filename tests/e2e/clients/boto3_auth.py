"""`sfnlite serve --require-auth` against boto3: requests signed with the configured key
are served (Step Functions, S3, Athena, a presigned URL); a wrong secret, an unknown key,
no signature at all and a tampered or expired presigned URL are refused with AWS's error
codes. Usage: boto3_auth.py ENDPOINT KEY_ID SECRET. Prints "ok"."""

import json
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key, secret = sys.argv[1:4]


def client(service, key_id, secret_key):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret_key, config=Config(retries={"max_attempts": 1}))


def refused(call, code):
    try:
        call()
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, (code, e.response)
        return
    raise SystemExit(f"served although {code} was expected")


sfn = client("stepfunctions", key, secret)
assert sfn.list_state_machines()["stateMachines"] == []
refused(lambda: client("stepfunctions", key, "wrong").list_state_machines(), "InvalidSignatureException")
refused(lambda: client("stepfunctions", "NOSUCHKEY", secret).list_state_machines(), "UnrecognizedClientException")
refused(lambda: client("athena", key, "wrong").list_work_groups(), "InvalidSignatureException")
assert client("athena", key, secret).list_work_groups()["WorkGroups"][0]["Name"] == "primary"

s3 = client("s3", key, secret)
s3.create_bucket(Bucket="signed")
s3.put_object(Bucket="signed", Key="a b.txt", Body=b"hello")
assert s3.get_object(Bucket="signed", Key="a b.txt")["Body"].read() == b"hello"
refused(lambda: client("s3", key, "wrong").get_object(Bucket="signed", Key="a b.txt"), "SignatureDoesNotMatch")
refused(lambda: client("s3", "NOSUCHKEY", secret).list_buckets(), "InvalidAccessKeyId")

# Presigned URLs: botocore's default (Signature Version 2) and SigV4.
v4 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                  aws_secret_access_key=secret, config=Config(signature_version="s3v4"))
for signer in (s3, v4):
    def presign(expires):
        return signer.generate_presigned_url("get_object", Params={"Bucket": "signed", "Key": "a b.txt"},
                                             ExpiresIn=expires)
    url = presign(60)
    assert urllib.request.urlopen(url).read() == b"hello", url
    tampered = url.replace("Signature=", "Signature=0")
    assert tampered != url
    expiring = presign(1)
    time.sleep(2.1)
    for bad in (tampered, expiring):
        try:
            urllib.request.urlopen(bad)
            raise SystemExit(f"a bad presigned URL was served: {bad}")
        except urllib.error.HTTPError as e:
            assert e.code == 403, e.code
    # A presigned S3 URL is no key to the Step Functions API (an added, unsigned header).
    hijack = urllib.request.Request(url, data=b'{"name":"x"}', method="GET", headers={
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
    try:
        urllib.request.urlopen(hijack)
        raise SystemExit("a presigned S3 URL called the Step Functions API")
    except urllib.error.HTTPError as e:
        assert e.code == 400, e.code
# A presigned PUT (SigV4) uploads.
put = v4.generate_presigned_url("put_object", Params={"Bucket": "signed", "Key": "up.txt"}, ExpiresIn=60)
urllib.request.urlopen(urllib.request.Request(put, data=b"uploaded", method="PUT"))
assert s3.get_object(Bucket="signed", Key="up.txt")["Body"].read() == b"uploaded"

# A signed request replayed with another body is refused.
import botocore.auth
import botocore.awsrequest
import botocore.credentials
request = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=b'{"maxResults": 1}', headers={
    "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "states", "us-east-1").add_auth(request)
headers = dict(request.headers.items())
for extra, expected in (({}, "InvalidSignatureException"),
                        ({"X-Amz-Content-SHA256": __import__("hashlib").sha256(b'{"maxResults": 1}').hexdigest()},
                         "IncompleteSignatureException")):
    replayed = urllib.request.Request(endpoint + "/", data=b'{"maxResults": 2}', method="POST",
                                      headers={**headers, **extra})
    try:
        urllib.request.urlopen(replayed)
        raise SystemExit("a replayed request with another body was served")
    except urllib.error.HTTPError as e:
        assert json.loads(e.read())["__type"] == expected, expected

unsigned = urllib.request.Request(endpoint, data=b"{}", method="POST", headers={
    "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
try:
    urllib.request.urlopen(unsigned)
    raise SystemExit("an unsigned request was served")
except urllib.error.HTTPError as e:
    assert json.loads(e.read())["__type"] == "MissingAuthenticationTokenException"
print("ok")
