"""Seed D's LoadQueries ("query-loader"), written from the seed's description: reads each
named query's SQL from S3 (`<query_prefix><name>.sql`) and plans its run (an id from the
name and the time, an output prefix per query). A read that fails is returned, not raised,
as upstream does (the Map then fails on the missing `query_params`)."""

import datetime

import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    query_prefix = event.get("query_prefix", "")
    output_prefix = event.get("output_prefix", "athena-results/")
    database = event.get("database", "default")
    queries = []
    for name in event["query_names"]:
        try:
            body = s3.get_object(Bucket=event["query_index_bucket"], Key=f"{query_prefix}{name}.sql")["Body"]
            queries.append((name, body.read().decode("utf-8")))
        except Exception as exc:  # upstream returns the error as data
            return {"status": "error", "error": f"Failed to load query '{name}': {exc}", "query_name": name}
    timestamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    params = []
    for name, sql in queries:
        query_id = f"{name}_{timestamp}"
        params.append({"query": sql, "query_id": query_id, "query_name": name, "database": database,
                       "output_bucket": event["output_bucket"], "output_location": f"{output_prefix}{query_id}/"})
    return {"query_params": params, "timestamp": timestamp, "output_bucket": event["output_bucket"],
            "output_prefix": output_prefix, "database": database}
