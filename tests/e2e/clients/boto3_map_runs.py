"""boto3 against `sfnlite serve`: a distributed Map's Map Run through ListMapRuns,
DescribeMapRun and ListExecutions(mapRunArn), and a child's DescribeExecution.
Usage: boto3_map_runs.py ENDPOINT. Prints one JSON object of what it saw."""

import json
import sys
import time

import boto3

sfn = boto3.client("stepfunctions", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
definition = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "Label": "fan", "ToleratedFailurePercentage": 50,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "C",
                      "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 3, "Next": "F"}],
                                       "Default": "P"},
                                 "F": {"Type": "Fail", "Error": "Three"}, "P": {"Type": "Pass", "End": True}}},
    "End": True}}}
machine = sfn.create_state_machine(name="fanout", definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
execution = sfn.start_execution(stateMachineArn=machine, name="one", input="[1, 2, 3, 4]")["executionArn"]
while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
    time.sleep(0.05)
runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
children = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"])["executions"]
failed = [c for c in children if c["status"] == "FAILED"]
child = sfn.describe_execution(executionArn=failed[0]["executionArn"])
output = json.loads(sfn.describe_execution(executionArn=execution)["output"])
print(json.dumps({
    "map_runs": len(runs), "map_run_arn": runs[0]["mapRunArn"], "status": run["status"],
    "items": run["itemCounts"], "tolerated": run["toleratedFailurePercentage"],
    "children": sorted(c["status"] for c in children), "child_map_run": child.get("mapRunArn"),
    "child_error": child.get("error"), "output": output,
    "start_is_seconds": isinstance(runs[0]["startDate"].timestamp(), float),
}))
