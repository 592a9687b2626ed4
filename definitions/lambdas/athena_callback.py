"""Lambda for seed C: async-athena-query-callbacker.

Input (the state machine's state when the Athena query has ended):
  {"ApiRequest": {"Query", "CallbackUrl"},
   "AthenaRequest": {"QueryExecutionId"},
   "AthenaResult": {"QueryExecution": {..., "ResultConfiguration": {"OutputLocation"},
                                       "Status": {"State", ...}}}}

It POSTs {"QueryResult": {"PresignedUrl", "ExpiredIn"}, "Status": <Status>} to
the CallbackUrl ("QueryResult" only when the query SUCCEEDED), prints the HTTP
status the callback answered, and returns that same object.

The S3 endpoint, region and credentials come from the environment
(AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...).
"""

import json
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

EXPIRES_IN = 3600  # seconds the download link stays valid
CALLBACK_TIMEOUT = 30  # seconds

# SigV4 and path-style URLs, so that the presigned link also works against a
# loopback endpoint such as http://127.0.0.1:PORT. Created once per container.
s3 = boto3.client(
    "s3",
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)


def split_s3_url(url):
    """"s3://bucket/a/b/id.csv" -> ("bucket", "a/b/id.csv")."""
    if not url.startswith("s3://"):
        raise ValueError(f"OutputLocation is not an s3://bucket/key URL: {url!r}")
    bucket, _, key = url[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"OutputLocation is not an s3://bucket/key URL: {url!r}")
    return bucket, key


def presign(bucket, key):
    """A GET URL for the object, valid EXPIRES_IN seconds (signed locally)."""
    try:
        return s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=EXPIRES_IN,
        )
    except ClientError as err:
        print(f"could not presign s3://{bucket}/{key}: {err}")
        return None


def post_callback(url, body):
    """POST body to url and return the HTTP status.

    An HTTP error status is only reported; a connection failure raises, so the
    Lambda (and the Step Functions task) fails.
    """
    request = urllib.request.Request(
        url,
        data=body.encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as reply:
            return reply.status
    except urllib.error.HTTPError as err:
        err.close()
        return err.code


def lambda_handler(event, context):
    callback_url = event["ApiRequest"]["CallbackUrl"]
    execution = event["AthenaResult"]["QueryExecution"]
    status = execution["Status"]

    response = {}
    if status["State"] == "SUCCEEDED":
        location = execution["ResultConfiguration"]["OutputLocation"]
        response["QueryResult"] = {
            "PresignedUrl": presign(*split_s3_url(location)),
            "ExpiredIn": EXPIRES_IN,
        }
    else:  # FAILED or CANCELLED: report the status only
        print(f"query did not succeed: {json.dumps(status)}")
    response["Status"] = status

    code = post_callback(callback_url, json.dumps(response))
    print(f"callback {callback_url} answered HTTP {code}")
    return response
