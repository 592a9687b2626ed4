"""boto3's S3 client against `sfnlite serve`: ListObjects (V1) paging by marker, a
subresource sfnlite does not serve refused (the object untouched), requests from a
web page (an Origin header) or for another host name (DNS rebinding) refused, a
multipart upload listed (ListMultipartUploads, ListParts) then completed, and
DeleteBucket. Usage: boto3_s3.py ENDPOINT"""

import sys
import urllib.error
import urllib.request

import boto3

endpoint = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
s3.create_bucket(Bucket="bucket3")
for i in range(5):
    s3.put_object(Bucket="bucket3", Key=f"q/{i}", Body=b"x")
pages = s3.get_paginator("list_objects").paginate(Bucket="bucket3", PaginationConfig={"PageSize": 2})
keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
assert keys == [f"q/{i}" for i in range(5)], keys
try:
    s3.put_object_tagging(Bucket="bucket3", Key="q/0", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    raise SystemExit("a tagging request was taken for a PutObject")
except s3.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "NotImplemented", e.response
assert s3.get_object(Bucket="bucket3", Key="q/0")["Body"].read() == b"x"
request = urllib.request.Request(
    endpoint + "/bucket3?delete", data=b"<Delete><Object><Key>q/1</Key></Object></Delete>", method="POST",
    headers={"Origin": "http://evil.example", "Content-Type": "text/plain"})
try:
    urllib.request.urlopen(request)
    raise SystemExit("a request from a web page was served")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
assert s3.get_object(Bucket="bucket3", Key="q/1")["Body"].read() == b"x"
# A DNS name rebound to 127.0.0.1 is not served.
rebound = urllib.request.Request(endpoint + "/bucket3/q/1", headers={"Host": "evil.example"})
try:
    urllib.request.urlopen(rebound)
    raise SystemExit("a request for another host was served")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
# A multipart upload, listed while in progress, then completed.
upload = s3.create_multipart_upload(Bucket="bucket3", Key="big/file")["UploadId"]
s3.create_multipart_upload(Bucket="bucket3", Key="other/file")
first = s3.upload_part(Bucket="bucket3", Key="big/file", UploadId=upload, PartNumber=1, Body=b"a" * 5 * 2**20)
second = s3.upload_part(Bucket="bucket3", Key="big/file", UploadId=upload, PartNumber=2, Body=b"tail")
listed = s3.list_multipart_uploads(Bucket="bucket3", Prefix="big/")["Uploads"]
assert [(u["Key"], u["UploadId"]) for u in listed] == [("big/file", upload)], listed
parts = s3.list_parts(Bucket="bucket3", Key="big/file", UploadId=upload)["Parts"]
assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [
    (1, 5 * 2**20, first["ETag"]), (2, 4, second["ETag"])], parts
page = s3.list_parts(Bucket="bucket3", Key="big/file", UploadId=upload, MaxParts=1)
assert page["IsTruncated"] and page["NextPartNumberMarker"] == 1, page
rest = s3.list_parts(Bucket="bucket3", Key="big/file", UploadId=upload, PartNumberMarker=1)["Parts"]
assert [p["PartNumber"] for p in rest] == [2], rest
s3.complete_multipart_upload(Bucket="bucket3", Key="big/file", UploadId=upload, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]})
assert s3.head_object(Bucket="bucket3", Key="big/file")["ContentLength"] == 5 * 2**20 + 4
assert [u["Key"] for u in s3.list_multipart_uploads(Bucket="bucket3").get("Uploads", [])] == ["other/file"]
s3.delete_object(Bucket="bucket3", Key="big/file")
# DeleteBucket: refused while keys remain (folders left by deleted keys do not count),
# then the bucket is gone.
try:
    s3.delete_bucket(Bucket="bucket3")
    raise SystemExit("a bucket with objects was deleted")
except s3.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "BucketNotEmpty", e.response
for i in range(5):
    s3.delete_object(Bucket="bucket3", Key=f"q/{i}")
s3.delete_bucket(Bucket="bucket3")
assert "bucket3" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
try:
    s3.delete_bucket(Bucket="bucket3")
    raise SystemExit("a missing bucket was deleted")
except s3.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchBucket", e.response
print("ok")
