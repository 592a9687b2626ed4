"""Lambda for seed A's "Process results" step (sfn-athena-results).

The upstream Node.js function only logs its event (see process_results.mjs).
This variant also reads Athena's result CSV from S3 and returns a summary of it.

Event:  {"resultLocation": "s3://bucket/path/<QueryExecutionId>.csv"}
Return: {"resultLocation", "bucket", "key", "bytes", "columns", "rowCount", "rows"}
        where "rows" holds the first SAMPLE_ROWS rows as {column: value} objects.

The S3 endpoint, region and credentials come from the environment
(AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...),
so the same code runs against AWS and against sfnlite's local S3.
"""

import csv
import io
import json

import boto3
from botocore.config import Config

SAMPLE_ROWS = 3


def _null_aware_quoting():
    """Athena quotes every value and writes NULL as an empty *unquoted* field.

    csv.QUOTE_NOTNULL reads such a field as None, but only readers that
    support it do (Python 3.13+; 3.12 has the constant but ignores it when
    reading). Elsewhere NULL reads as "", like an empty string.
    """
    notnull = getattr(csv, "QUOTE_NOTNULL", None)
    if notnull is not None and next(csv.reader([","], quoting=notnull)) == [None, None]:
        return notnull
    return csv.QUOTE_MINIMAL


NULL_AWARE_QUOTING = _null_aware_quoting()

# Created once per container and reused by warm invocations. Path-style
# addressing keeps bucket names out of the host name, which loopback
# endpoints (http://127.0.0.1:PORT, http://localhost:PORT) need.
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def parse_s3_url(url):
    """Split "s3://bucket/key" into (bucket, key); ValueError otherwise."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise ValueError(f"resultLocation is not an s3://bucket/key URL: {url!r}")
    bucket, _, key = url[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"resultLocation is not an s3://bucket/key URL: {url!r}")
    return bucket, key


def handler(event, context):
    print(json.dumps(event))

    location = event.get("resultLocation") if isinstance(event, dict) else None
    bucket, key = parse_s3_url(location)
    obj = s3.get_object(Bucket=bucket, Key=key)

    # Stream the body through the csv module: quoted fields may contain
    # commas, doubled quotes and line breaks (RFC 4180).
    text = io.TextIOWrapper(obj["Body"], encoding="utf-8", newline="")
    reader = csv.reader(text, quoting=NULL_AWARE_QUOTING)
    columns = next(reader, [])
    rows, row_count = [], 0
    for row in reader:
        row_count += 1
        if len(rows) < SAMPLE_ROWS:
            rows.append(dict(zip(columns, row)))

    summary = {
        "resultLocation": location,
        "bucket": bucket,
        "key": key,
        "bytes": obj["ContentLength"],
        "columns": columns,
        "rowCount": row_count,
        "rows": rows,
    }
    print(json.dumps(summary))
    return summary
