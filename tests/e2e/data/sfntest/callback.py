"""A local handler for callback.sfntest.yaml: answers its own task token through
sfnlite's Step Functions endpoint, as a Lambda calling SendTaskSuccess would."""
import json

import boto3


def handler(event, context):
    boto3.client("stepfunctions").send_task_success(taskToken=event["token"], output=json.dumps({"ok": event["n"]}))
    return {}
