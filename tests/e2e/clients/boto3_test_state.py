"""boto3's TestState against `sfnlite serve`, with botocore's switch for the `sync-` host
prefix (`Config(inject_host_prefix=False)`). Usage: boto3_test_state.py ENDPOINT

Calls TestState as AWS's "Testing states" examples do and prints one JSON object: each
call's answer (or error code and message) under the name of the call."""

import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sfn = boto3.client(
    "stepfunctions",
    endpoint_url=sys.argv[1],
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
)
ROLE = "arn:aws:iam::123456789012:role/r"
LAMBDA = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "echo", "Payload.$": "$"},
    "ResultSelector": {"answer.$": "$.Payload.event"},
    "ResultPath": "$.result",
    "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}],
    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
    "Next": "Done",
}


def call(**kwargs):
    try:
        answer = sfn.test_state(**kwargs)
        answer.pop("ResponseMetadata", None)
        return answer
    except ClientError as e:
        return {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}


facts = {
    "pass_debug": call(
        definition=json.dumps({"Type": "Pass", "InputPath": "$.a", "Parameters": {"b.$": "$.b"}, "ResultPath": "$.r",
                               "Next": "Next"}),
        input=json.dumps({"a": {"b": 1}}),
        inspectionLevel="DEBUG",
    ),
    "lambda_run": call(definition=json.dumps(LAMBDA), roleArn=ROLE, input=json.dumps({"order": 7}),
                       inspectionLevel="DEBUG"),
    "lambda_retry": call(
        definition=json.dumps(LAMBDA),
        input="{}",
        inspectionLevel="DEBUG",
        mock={"errorOutput": {"error": "Lambda.ServiceException", "cause": "down"}},
        stateConfiguration={"retrierRetryCount": 1},
    ),
    "lambda_caught": call(
        definition=json.dumps(LAMBDA),
        input="{}",
        inspectionLevel="DEBUG",
        mock={"errorOutput": {"error": "Lambda.ServiceException", "cause": "down"}},
        stateConfiguration={"retrierRetryCount": 3},
    ),
    "machine_state": call(
        definition=json.dumps({"StartAt": "A", "QueryLanguage": "JSONata", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Output": "{% $states.input.x * $factor %}", "Assign": {"seen": "{% $states.input.x %}"},
                  "End": True}}}),
        stateName="B",
        input=json.dumps({"x": 21}),
        variables=json.dumps({"factor": 2}),
        inspectionLevel="DEBUG",
    ),
    "mock_on_pass": call(definition=json.dumps({"Type": "Pass", "End": True}), mock={"result": "{}"}),
    "map_without_mock": call(definition=json.dumps({
        "Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True})),
    "task_without_role": call(definition=json.dumps(LAMBDA)),
}
print(json.dumps(facts))
