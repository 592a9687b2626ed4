"""Seed D's ExecuteSingleQuery, written from the seed's description: starts the query on
Athena, polls it every 2 s within the function's time budget (its remaining time less
10 s: past it, the query is reported RUNNING), then rewrites the result CSV next to it as
`<output_location><query_name>.csv`. Never raises: errors are returned as data."""

import time

import boto3

from csv_rewrite import rewrite

athena = boto3.client("athena")
s3 = boto3.client("s3")


def lambda_handler(event, context):
    query_id = event["query_id"]
    bucket, location = event["output_bucket"], event["output_location"]
    name = event.get("query_name", query_id)
    try:
        started = athena.start_query_execution(
            QueryString=event["query"],
            QueryExecutionContext={"Database": event.get("database", "default")},
            ResultConfiguration={"OutputLocation": f"s3://{bucket}/{location}"})
        execution_id = started["QueryExecutionId"]
        while True:
            execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            state = execution["Status"]["State"]
            if state not in ("RUNNING", "QUEUED"):
                break
            if context.get_remaining_time_in_millis() - 10_000 <= 0:
                return {"status": "RUNNING", "query_execution_id": execution_id, "query_id": query_id,
                        "output_bucket": bucket, "output_location": location}
            time.sleep(2)
        if state == "SUCCEEDED":
            raw = execution["ResultConfiguration"]["OutputLocation"]
            key = raw[len(f"s3://{bucket}/"):]
            text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            s3.put_object(Bucket=bucket, Key=f"{location}{name}.csv", Body=rewrite(text).encode("utf-8"),
                          ContentType="text/csv")
            return {"status": "SUCCEEDED", "query_execution_id": execution_id, "query_id": query_id,
                    "raw_result_file": raw, "formatted_csv_location": f"s3://{bucket}/{location}{name}.csv",
                    "output_bucket": bucket, "output_location": location}
        return {"status": "FAILED", "query_execution_id": execution_id, "query_id": query_id,
                "error": execution["Status"].get("StateChangeReason", "Unknown error"),
                "output_bucket": bucket, "output_location": location}
    except Exception as exc:
        return {"status": "ERROR", "query_id": query_id, "error": str(exc), "output_bucket": bucket,
                "output_location": location}
