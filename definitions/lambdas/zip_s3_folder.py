"""Seed D's zip-s3-folder, written from the seed's description: zips the formatted CSVs (or
the raw results) into `<zip_prefix>athena_results_<timestamp>.zip` with a manifest beside
it. A failure is returned (and recorded in an error file), not raised."""

import io
import json
import zipfile

import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    bucket, timestamp = event["output_bucket"], event["timestamp"]
    zip_prefix = event.get("zip_prefix") or "zipped-results/"
    if not zip_prefix.endswith("/"):
        zip_prefix += "/"
    try:
        files = event.get("formatted_csv_locations") or event.get("raw_result_files") or []
        destination = f"{zip_prefix}athena_results_{timestamp}.zip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for i, uri in enumerate(files):
                try:
                    if uri.startswith("s3://"):
                        source_bucket, _, key = uri[len("s3://"):].partition("/")
                    else:
                        source_bucket, key = bucket, uri
                    data = s3.get_object(Bucket=source_bucket, Key=key)["Body"].read()
                    archive.writestr(key.rsplit("/", 1)[-1] or f"file_{i}.csv", data)
                except Exception as exc:
                    print(f"skipping {uri}: {exc}")
        s3.put_object(Bucket=bucket, Key=destination, Body=buffer.getvalue(), ContentType="application/zip")
        manifest_key = f"{zip_prefix}manifest_{timestamp}.json"
        manifest = {"status": "success", "timestamp": timestamp, "file_count": len(files), "source_files": files,
                    "raw_files": event.get("raw_result_files"), "formatted_files": event.get("formatted_csv_locations"),
                    "output_location": f"s3://{bucket}/{destination}"}
        s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode(), ContentType="application/json")
        return {"status": "success", "output_bucket": bucket, "output_key": destination, "file_count": len(files),
                "manifest": f"s3://{bucket}/{manifest_key}"}
    except Exception as exc:
        try:
            s3.put_object(Bucket=bucket, Key=f"{zip_prefix}error_{timestamp}.json",
                          Body=json.dumps({"status": "failed", "error": str(exc), "timestamp": timestamp}).encode())
        except Exception:
            pass
        return {"status": "failed", "error": str(exc), "output_bucket": bucket, "timestamp": timestamp}
