"""Seed D's ExtractS3Key ("extract-s3-key"), written from the seed's description: splits an
`s3://bucket/key` URI. No AWS calls."""


def lambda_handler(event, context):
    uri = event.get("s3_uri")
    if not uri or not uri.startswith("s3://"):
        return {"error": "Invalid S3 URI format", "uri": uri}
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not key:
        return {"error": "Invalid S3 URI format - no key", "uri": uri}
    return {"bucket": bucket, "key": key, "filename": key.rsplit("/", 1)[-1]}
