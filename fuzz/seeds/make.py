#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/seed-*) from the repository's
definitions and mock files and from hand-written expressions. Run from anywhere."""
import hashlib, json, pathlib

root = pathlib.Path(__file__).resolve().parents[2]
corpus = root / "fuzz" / "corpus"

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)

def put_each(target, expressions, document):
    """Each expression alone (read against the target's default input), and with `document`."""
    for expression in expressions:
        put(target, expression)
        put(target, expression + "\n" + document)


definitions = sorted((root / "definitions").glob("*.asl.json"))
for d in definitions:
    text = d.read_text()
    put("definition", text)
    machine = json.loads(text)
    for name, state in machine.get("States", {}).items():
        one = json.dumps(state)
        put("state", one + "\0" + '{"a": 1, "numbers": [1, 2]}' + "\0" + '{"result": "{\\"ok\\": true}"}')
        put("state", json.dumps(machine) + "\0{}\0")
        for key in ("Parameters", "ResultSelector", "ItemSelector", "Arguments", "Output"):
            if key in state:
                put("template", json.dumps(state[key]) + "\n" + '{"a": 1}')
        for rule in state.get("Choices", []):
            put("choice", json.dumps(rule) + "\n" + '{"a": 1, "b": "two"}')
for m in sorted((root / "definitions").glob("*.mock.json")):
    put("mock_config", m.read_text())

paths = ["$", "$.a", "$.c[0]", "$.c[-1:]", "$.c[1:3:2]", "$..d", "$.e.g[*]", "$.c[?(@.d == null)]",
         "$.c[?(@ > 1)]", "$['b']", "$.e['f','g']", "$$.Execution.Input", "$$.Map.Item.Value.k", "$.c.length()",
         "$.x.y.z", "$.c[(@.length-1)]", "$[?(@.a)]", "$.e.g[?(@ =~ /x.*/)]", "$.c[*].d"]
put_each("path", paths, '{"c": [{"d": 1}, {"d": [2, 3]}], "a": {"b": [1, 2]}}')

intrinsics = [
    "States.Format('Hello, {}!', $.b)", "States.StringToJson('{\"x\": 1}')", "States.JsonToString($.e)",
    "States.Array($.a, 'x', 3)", "States.ArrayPartition($.c, 2)", "States.ArrayContains($.c, 2)",
    "States.ArrayRange(1, 9, 2)", "States.ArrayGetItem($.c, 1)", "States.ArrayLength($.c)",
    "States.ArrayUnique(States.Array(1, 1, 2))", "States.Base64Encode($.b)", "States.Base64Decode('aGk=')",
    "States.Hash($.b, 'SHA-256')", "States.JsonMerge($.e, $.empty, false)", "States.MathRandom(1, 10)",
    "States.MathAdd($.a, -3)", "States.StringSplit('a,b,c', ',')", "States.UUID()",
    "States.Format('{} {}', States.ArrayLength($.c), States.MathAdd(1, 2))", "States.Format('\\{\\}')",
    "States.ArrayRange(0, 1000, 1)", "States.Hash($.e, 'MD5')",
]
put_each("intrinsic", intrinsics, '{"a": 5, "b": "x", "c": [1, 2, 2], "e": {"k": 1}, "empty": {}}')

jsonata = [
    "$states.input.a + 1", "$states.input.c[0]", "$sum($states.input.c[$type($) = 'number'])",
    "$map([1,2,3], function($v) { $v * 2 })", "$string($states.input)", "$states.context.Execution.Name",
    "$x[1] & '-' & $uppercase('a')", "$count($states.input.c) > 2 ? 'many' : 'few'", "$uuid()", "$random()",
    "$partition([1,2,3,4], 2)", "$hash('a', 'SHA-256')", "$parse('{\"a\": 1}')", "$range(1, 5)",
    "$merge([{'a': 1}, {'b': 2}])", "$now()", "$formatNumber(1234.5, '#,##0.00')", "$split('a,b', ',')",
    "($f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10))", "$states.input.e.g[0] * 2",
    "$sort([3,1,2])", "$reduce([1,2,3], function($a, $b) { $a + $b })", "$keys($states.input)",
    "$lookup($states.input, 'b')", "$toMillis($states.input.s)", "$fromMillis(0)", "$pad('x', 5, '-')",
    "{'k': $states.input.a, 'l': [1, 2]}", "$states.input.c[-1]", "$distinct([1, 1, 2])",
]
for j in jsonata:
    put("jsonata", j)

put("choice", json.dumps({"Variable": "$.a", "NumericEquals": 1, "Next": "X"}))
put("choice", json.dumps({"And": [{"Variable": "$.b", "StringMatches": "t*o", "Next": "X"},
                                  {"Not": {"Variable": "$.x", "IsPresent": True}}], "Next": "X"}))
put("choice", json.dumps({"Variable": "$.s", "TimestampLessThanPath": "$.s", "Next": "X"}))
put("choice", json.dumps({"Condition": "{% $states.input.a = 1 %}", "Next": "X"}))
put("template", json.dumps({"x.$": "$.a", "y": [1, {"z.$": "States.Format('{}', $.b)"}], "c.$": "$$.State.Name"}))
put("mock_config", json.dumps({"StateMachines": {"m": {"TestCases": {"Case": {"S": "R"}}}},
                               "MockedResponses": {"R": {"0": {"Return": {"a": 1}}, "1-2": {"Throw": {"Error": "E", "Cause": "c"}}}}}))

for sql in ["CREATE DATABASE IF NOT EXISTS logs COMMENT 'x' LOCATION 's3://b/p/'",
            "CREATE EXTERNAL TABLE IF NOT EXISTS logs.t (a INT, b STRING, c ARRAY<STRUCT<x: INT, y: MAP<STRING, DOUBLE>>>, d DECIMAL(10,2)) PARTITIONED BY (dt STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LOCATION 's3://b/t/' TBLPROPERTIES ('skip.header.line.count'='1')",
            "CREATE EXTERNAL TABLE t (a INT) ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' WITH SERDEPROPERTIES ('separatorChar'=',', 'quoteChar'='\"') STORED AS TEXTFILE LOCATION 's3://b/t/'",
            "CREATE EXTERNAL TABLE j (a INT) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://b/j/'",
            "CREATE EXTERNAL TABLE p (a INT) STORED AS PARQUET LOCATION 's3://b/p/'",
            "ALTER TABLE t ADD IF NOT EXISTS PARTITION (dt='2026-01-01') LOCATION 's3://b/t/dt=2026-01-01/'",
            "DROP TABLE IF EXISTS t", "DROP DATABASE logs CASCADE", "SHOW TABLES IN logs LIKE 't*'", "SHOW DATABASES",
            "DESCRIBE logs.t", "SHOW PARTITIONS t", "SELECT * FROM t", "MSCK REPAIR TABLE t", "SHOW CREATE TABLE t"]:
    put("ddl", sql)

# The api target: the first byte picks an operation (fuzz/src/services.rs, OPERATIONS).
OPERATIONS = ["CreateStateMachine", "DescribeStateMachine", "ListStateMachines", "UpdateStateMachine",
              "DeleteStateMachine", "ValidateStateMachineDefinition", "PublishStateMachineVersion",
              "ListStateMachineVersions", "DeleteStateMachineVersion", "CreateStateMachineAlias",
              "DescribeStateMachineAlias", "UpdateStateMachineAlias", "ListStateMachineAliases",
              "DeleteStateMachineAlias", "DescribeExecution", "DescribeStateMachineForExecution", "ListExecutions",
              "GetExecutionHistory", "CreateActivity", "DescribeActivity", "ListActivities", "DeleteActivity",
              "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "TagResource", "UntagResource",
              "ListTagsForResource", "TestState", "ListMapRuns", "DescribeMapRun"]
machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
execution_arn = "arn:aws:states:us-east-1:123456789012:execution:m:e"
activity_arn = "arn:aws:states:us-east-1:123456789012:activity:act"
one = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
bodies = {
    "CreateStateMachine": {"name": "m", "definition": one, "roleArn": "arn:aws:iam::123456789012:role/r", "tags": [{"key": "k", "value": "v"}]},
    "DescribeStateMachine": {"stateMachineArn": machine_arn}, "ListStateMachines": {"maxResults": 2},
    "UpdateStateMachine": {"stateMachineArn": machine_arn, "definition": one, "publish": True},
    "DeleteStateMachine": {"stateMachineArn": machine_arn}, "ValidateStateMachineDefinition": {"definition": one},
    "PublishStateMachineVersion": {"stateMachineArn": machine_arn}, "ListStateMachineVersions": {"stateMachineArn": machine_arn},
    "DeleteStateMachineVersion": {"stateMachineVersionArn": machine_arn + ":1"},
    "CreateStateMachineAlias": {"name": "prod", "routingConfiguration": [{"stateMachineVersionArn": machine_arn + ":1", "weight": 100}]},
    "DescribeStateMachineAlias": {"stateMachineAliasArn": machine_arn + ":prod"},
    "UpdateStateMachineAlias": {"stateMachineAliasArn": machine_arn + ":prod", "description": "x"},
    "ListStateMachineAliases": {"stateMachineArn": machine_arn}, "DeleteStateMachineAlias": {"stateMachineAliasArn": machine_arn + ":prod"},
    "DescribeExecution": {"executionArn": execution_arn}, "DescribeStateMachineForExecution": {"executionArn": execution_arn},
    "ListExecutions": {"stateMachineArn": machine_arn, "statusFilter": "RUNNING"},
    "GetExecutionHistory": {"executionArn": execution_arn, "reverseOrder": True},
    "CreateActivity": {"name": "act"}, "DescribeActivity": {"activityArn": activity_arn}, "ListActivities": {},
    "DeleteActivity": {"activityArn": activity_arn}, "SendTaskSuccess": {"taskToken": "t", "output": "{}"},
    "SendTaskFailure": {"taskToken": "t", "error": "E"}, "SendTaskHeartbeat": {"taskToken": "t"},
    "TagResource": {"resourceArn": machine_arn, "tags": [{"key": "a", "value": "b"}]},
    "UntagResource": {"resourceArn": machine_arn, "tagKeys": ["a"]}, "ListTagsForResource": {"resourceArn": machine_arn},
    "TestState": {"definition": json.dumps({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "End": True}), "input": "{\"a\": 1}", "inspectionLevel": "DEBUG"},
    "ListMapRuns": {"executionArn": execution_arn},
    "DescribeMapRun": {"mapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/x:y"},
}
for index, operation in enumerate(OPERATIONS):
    put("api", bytes([index]) + json.dumps(bodies[operation]).encode())

# The table target: the first byte picks the table (fuzz/src/services.rs, TABLES), the rest is the file.
import gzip
put("table", b"\x00" + b"#header\n1\t2\tann\t1.5\t2026-01-02\t2026-01-02 03:04:05\ttrue\t12.50\ta,b\tk:1,l:2\n\\N\t\t\t\t\t\t\t\t\t\n")
put("table", b"\x01" + b'"a","1","x"\n"b ""q""",2,\n')
put("table", b"\x02" + b'{"i": 1, "s": "x", "nested": {"x": 2, "y": [1.5]}, "m": {"k": "v"}, "ts": "2026-01-01 00:00:00"}\n{"i": "bad"}\n')
put("table", b"\x03" + b"PAR1\x00\x00PAR1")
put("table", b"\x04" + gzip.compress(b"1,a\n2,b\n", mtime=0))

# The config target: sfnlite.toml as `sfnlite` reads it (the repository's, and one with every table).
put("config", (root / "sfnlite.toml").read_text())
put("config", """data_dir = "data"
backend = "local"
[aws]
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:9000"
force_path_style = true
[s3]
buckets = ["a", "b"]
[s3.mounts]
logs = "definitions/data"
[athena]
init = ["x.sql"]
[athena.workgroups.primary]
output_location = "s3://r/"
memory_limit_mib = 512
query_timeout = "30m"
[lambda]
backend = "local"
[lambda.functions.f]
handler = "python:lambdas/f.py:handler"
timeout = 3
[http.connections.c]
authorization = "API_KEY"
api_key_name = "x-api-key"
api_key_value = "k"
[definitions."definitions/hello.asl.json"]
clock = "virtual"
substitutions = { A = "b" }
[schedules.nightly]
expression = "cron(0 3 * * ? *)"
definition = "definitions/hello.asl.json"
input = { a = 1 }
timezone = "Europe/Paris"
[store]
retention = "90d"
[serve]
access_keys = [{ access_key_id = "AKID", secret_access_key = "s" }]
""")
