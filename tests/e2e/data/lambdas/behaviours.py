"""Handlers for the Lambda end-to-end tests: each shows one behaviour of the runtime."""

import json
import os
import time

import boto3

INVOCATIONS = 0  # module state survives between invocations of a warm worker


class OrderNotFound(Exception):
    pass


def echo(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    print(f"echo {json.dumps(event)}")
    return {
        "event": event,
        "invocation": INVOCATIONS,
        "pid": os.getpid(),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
        "env": {name: os.environ.get(name) for name in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_ENDPOINT_URL_S3", "GREETING", "LAMBDA_TASK_ROOT")},
        "cwd": os.getcwd(),
    }


def fail(event, context):
    raise OrderNotFound(f"order {event.get('id')} not found")


def slow(event, context):
    print("going to sleep")
    time.sleep(event.get("seconds", 10))
    return "woke up"


def crash_once(event, context):
    """Dies (as a segfault or os._exit would) the first time, answers the next."""
    marker = event["marker"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        print("crashing", flush=True)
        os._exit(3)
    return {"recovered": True, "pid": os.getpid()}


def unserialisable(event, context):
    return {"ids": {1, 2}}


def store_and_query(event, context):
    """Writes a CSV to the local S3, declares a table over it and queries it on Athena."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=event["bucket"])
    s3.put_object(Bucket=event["bucket"], Key="orders/part-0.csv", Body=b"1,apple,3\n2,pear,5\n")
    athena = boto3.client("athena")
    ddl = (f"CREATE EXTERNAL TABLE IF NOT EXISTS orders (id int, item string, qty int) "
           f"ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://{event['bucket']}/orders/'")
    answers = []
    for sql in (ddl, "SELECT item, qty FROM orders ORDER BY qty DESC"):
        query = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": "default"},
                                             WorkGroup="primary")["QueryExecutionId"]
        while True:
            state = athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]["State"]
            if state not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.05)
        answers.append(state)
    rows = athena.get_query_results(QueryExecutionId=query)["ResultSet"]["Rows"]
    return {"states": answers, "rows": [[c.get("VarCharValue") for c in r["Data"]] for r in rows]}


def answer_token(event, context):
    """Answers its own task token through sfnlite's Step Functions endpoint, as a worker would."""
    sfn = boto3.client("stepfunctions")
    if event.get("fail"):
        sfn.send_task_failure(taskToken=event["token"], error="Rejected", cause="by the handler")
    else:
        sfn.send_task_success(taskToken=event["token"], output=json.dumps({"approved": event["order"]}))
    return {"sent": True}


def hand_out_token(event, context):
    """Leaves the token where a test (a person, another system) picks it up later."""
    with open(event["path"], "w") as f:
        f.write(event["token"])
    return {"handedOut": True}


def spawn_and_hang(event, context):
    """Leaves a process behind that keeps printing, then runs past the function's timeout."""
    import subprocess
    subprocess.Popen(["sh", "-c", f"while true; do echo {event['marker']}; sleep 0.01; done"])
    time.sleep(60)
