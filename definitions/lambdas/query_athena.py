"""Seed E's Lambda (shared/seed-workflows/e-athena-queries-via-lambda, "Lambda behaviour"),
written from its description: it ignores the event, starts one Athena query with the
function's environment (QUERY_STRING, DATABASE, OUTPUT_S3_BUCKET, ATHENA_WORKGROUP) and
returns at once, without waiting for the query or reading its results. Under sfnlite its
boto3 client reaches the embedded Athena (AWS_ENDPOINT_URL_ATHENA); a StartQueryExecution
error propagates as the function's error, as upstream."""

import json
import os

import boto3

OUTPUT_S3_BUCKET = os.environ["OUTPUT_S3_BUCKET"]
DATABASE = os.environ["DATABASE"]
ATHENA_WORKGROUP = os.environ["ATHENA_WORKGROUP"]
QUERY_STRING = os.environ["QUERY_STRING"]

athena = boto3.client("athena")


def lambda_handler(event, context):
    athena.start_query_execution(
        QueryString=QUERY_STRING,
        QueryExecutionContext={"Database": DATABASE},
        ResultConfiguration={"OutputLocation": OUTPUT_S3_BUCKET},
        WorkGroup=ATHENA_WORKGROUP,
    )
    return {"statusCode": 200, "body": json.dumps(f"Successfully ran query and saved to {OUTPUT_S3_BUCKET}!")}
