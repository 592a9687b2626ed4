"""Seed D's ResultsGatherer, written from the seed's description, with its defect kept:
the list of running queries is never emptied, so once any query was reported RUNNING the
function keeps answering RUNNING (unless one failed), and the state machine's 30 s Wait
loops for ever."""

import boto3
from botocore.exceptions import ClientError

from csv_rewrite import rewrite

athena = boto3.client("athena")
s3 = boto3.client("s3")


def lambda_handler(event, context):
    results = event["query_results"]
    running = [r for r in results if r.get("status") == "RUNNING"]
    completed = [r for r in results if r.get("status") == "SUCCEEDED"]
    failed = [r for r in results if r.get("status") not in ("RUNNING", "SUCCEEDED")]
    bucket = event["output_bucket"]
    for entry in running:
        try:
            execution = athena.get_query_execution(QueryExecutionId=entry["query_execution_id"])["QueryExecution"]
            state = execution["Status"]["State"]
            if state == "SUCCEEDED":
                raw = execution["ResultConfiguration"]["OutputLocation"]
                processed = f"{entry['output_location']}processed_{entry['query_id']}.csv"
                try:
                    s3.head_object(Bucket=bucket, Key=processed)
                except ClientError:
                    text = s3.get_object(Bucket=bucket, Key=raw[len(f"s3://{bucket}/"):])["Body"].read().decode("utf-8")
                    s3.put_object(Bucket=bucket, Key=processed, Body=rewrite(text).encode("utf-8"),
                                  ContentType="text/csv")
                completed.append({"status": "SUCCEEDED", "query_execution_id": entry["query_execution_id"],
                                  "query_id": entry["query_id"], "raw_result_file": raw,
                                  "formatted_csv_location": f"s3://{bucket}/{processed}", "output_bucket": bucket})
            elif state in ("FAILED", "CANCELLED"):
                failed.append({"status": "FAILED", "query_execution_id": entry["query_execution_id"],
                               "query_id": entry["query_id"],
                               "error": execution["Status"].get("StateChangeReason"), "output_bucket": bucket})
        except Exception as exc:
            failed.append({"status": "ERROR", "query_id": entry.get("query_id"), "error": str(exc),
                           "output_bucket": bucket})
    # The defect: `running` keeps the entries that just succeeded too.
    if running and not failed:
        return {"status": "RUNNING", "query_results": completed + running, "timestamp": event["timestamp"],
                "output_bucket": bucket}
    if failed:
        return {"status": "FAILED", "failed_queries": failed, "completed_queries": completed,
                "timestamp": event["timestamp"], "output_bucket": bucket}
    return {"status": "SUCCEEDED",
            "raw_result_files": [r["raw_result_file"] for r in completed if r.get("raw_result_file")],
            "formatted_csv_locations": [r["formatted_csv_location"] for r in completed if r.get("formatted_csv_location")],
            "timestamp": event["timestamp"], "output_bucket": bucket}
