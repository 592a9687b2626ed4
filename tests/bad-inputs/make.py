#!/usr/bin/env python3
"""Writes tests/bad-inputs/cases.json: malformed and hostile inputs, each with the exit code
sfnlite must give and the words its message must contain (what is wrong, and where: a JSON
pointer into the definition, a file:line:column, the flag, the config key). The e2e test
`bad_inputs` runs every case. Regenerate after editing: `python3 tests/bad-inputs/make.py`.

Cases are written by hand below (a few are produced by loops over fields and values); the
expectations come from the rules (AWS's, or sfnlite's documented ones), never from running
sfnlite."""
import base64
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
cases = []


def case(area, name, args, exit, stderr, files=None, stdin=None, absent=None):
    """`stderr`: words the output must contain; `absent`: words it must not."""
    cases.append({"area": area, "name": name, "args": args, "files": files or {}, "exit": exit,
                  "stderr": stderr, **({"stdin": stdin} if stdin is not None else {}),
                  **({"absent": absent} if absent else {})})


def machine(states, start=None, **top):
    return json.dumps({"StartAt": start or next(iter(states)), "States": states, **top})


def definition(name, states, pointer, words=(), start=None, absent=None, **top):
    """A definition that `validate` must refuse with a diagnostic at `pointer`."""
    text = machine(states, start, **top)
    case("definition", name, ["validate", "def.asl.json"], 1, ["def.asl.json", f"at {pointer}:", *words],
         {"def.asl.json": text}, absent=absent)


PASS = {"Type": "Pass", "End": True}

# --- Definitions: the top level -----------------------------------------------------------
for name, text, words in [
    ("not JSON", "{\"StartAt\": ", ["def.asl.json", "not valid JSON at line 1, column 12"]),
    ("an array", "[]", ["def.asl.json", "at /:"]),
    ("empty file", "", ["def.asl.json", "line 1, column 0"]),
    ("no StartAt", json.dumps({"States": {"A": PASS}}), ["StartAt"]),
    ("no States", json.dumps({"StartAt": "A"}), ["States"]),
    ("StartAt names nothing", json.dumps({"StartAt": "B", "States": {"A": PASS}}), ["/StartAt", "B"]),
    ("StartAt not a string", json.dumps({"StartAt": 3, "States": {"A": PASS}}), ["/StartAt"]),
    ("States not an object", json.dumps({"StartAt": "A", "States": []}), ["/States"]),
    ("empty States", json.dumps({"StartAt": "A", "States": {}}), ["/StartAt"]),
    ("unknown top-level field", json.dumps({"StartAt": "A", "States": {"A": PASS}, "Bogus": 1}), ["Bogus"]),
    ("TimeoutSeconds negative", json.dumps({"StartAt": "A", "States": {"A": PASS}, "TimeoutSeconds": -5}), ["TimeoutSeconds"]),
    ("TimeoutSeconds a string", json.dumps({"StartAt": "A", "States": {"A": PASS}, "TimeoutSeconds": "5"}), ["TimeoutSeconds"]),
    ("bad QueryLanguage", json.dumps({"StartAt": "A", "States": {"A": PASS}, "QueryLanguage": "SQL"}), ["QueryLanguage"]),
    ("Comment not a string", json.dumps({"StartAt": "A", "States": {"A": PASS}, "Comment": 5}), ["Comment"]),
    ("Version not a string", json.dumps({"StartAt": "A", "States": {"A": PASS}, "Version": 1}), ["Version"]),
    ("state name too long", json.dumps({"StartAt": "A" * 81, "States": {"A" * 81: PASS}}), ["/States/" + "A" * 81]),
    ("state not an object", json.dumps({"StartAt": "A", "States": {"A": 3}}), ["/States/A"]),
    ("duplicate state names", '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "A": {"Type": "Pass", "End": true}}}', ["at /States/A:"]),
    ("duplicate keys in a state", '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Type": "Pass", "End": true}}}', ["at /States/A/Type:"]),
]:
    case("definition", name, ["validate", "def.asl.json"], 1, words,
         {"def.asl.json": text})

# --- Definitions: every state type, field by field ----------------------------------------
definition("Type missing", {"A": {"End": True}}, "/States/A")
definition("Type unknown", {"A": {"Type": "Lambda", "End": True}}, "/States/A/Type")
definition("Type not a string", {"A": {"Type": 7, "End": True}}, "/States/A/Type")
definition("Next and End", {"A": {"Type": "Pass", "Next": "A", "End": True}}, "/States/A")
definition("neither Next nor End", {"A": {"Type": "Pass"}}, "/States/A")
definition("Next names nothing", {"A": {"Type": "Pass", "Next": "Z"}}, "/States/A/Next", ["Z"])
definition("Next not a string", {"A": {"Type": "Pass", "Next": 1}}, "/States/A/Next")
definition("End false", {"A": {"Type": "Pass", "End": False}}, "/States/A")
definition("End a string", {"A": {"Type": "Pass", "End": "yes"}}, "/States/A", ["End"])
definition("unreachable state", {"A": PASS, "B": PASS}, "/States/B")
definition("unknown field in Pass", {"A": {"Type": "Pass", "End": True, "Resource": "x"}}, "/States/A/Resource")
definition("unknown field in Succeed", {"A": {"Type": "Succeed", "Result": 1}}, "/States/A/Result")
definition("Succeed with Next", {"A": {"Type": "Succeed", "Next": "A"}}, "/States/A/Next")
definition("Fail with End", {"A": {"Type": "Fail", "End": True}}, "/States/A/End")
definition("Fail with Error and ErrorPath", {"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}, "/States/A")
definition("Fail with bad ErrorPath", {"A": {"Type": "Fail", "ErrorPath": "$$$"}}, "/States/A/ErrorPath")
definition("Fail with bad CausePath", {"A": {"Type": "Fail", "CausePath": "States.Nope()"}}, "/States/A/CausePath")
definition("Fail Error not a string", {"A": {"Type": "Fail", "Error": 5}}, "/States/A/Error")

for field, value in [("InputPath", "a.b"), ("OutputPath", "$["), ("ResultPath", "$.a[*]"), ("ResultPath", "$..a"),
                     ("InputPath", 5), ("OutputPath", True), ("ResultPath", "$.a[?(@.b)]"), ("InputPath", "$.a[")]:
    definition(f"Pass {field} {value!r}", {"A": {"Type": "Pass", "End": True, field: value}}, f"/States/A/{field}")

for key, value in [("x.$", "not a path"), ("x.$", "$.a["), ("x.$", "States.Nope(1)"), ("x.$", "States.Format("),
                   ("x.$", "States.Array(1,"), ("x.$", 5), ("x.$", "States.Format('{}', )"), ("x.$", "States.Format('a)")]:
    definition(f"Parameters {value!r}", {"A": {"Type": "Pass", "End": True, "Parameters": {key: value}}},
               "/States/A/Parameters/x.$")
definition("nested Parameters bad path", {"A": {"Type": "Pass", "End": True, "Parameters": {"a": {"b": [{"c.$": "$["}]}}}},
           "/States/A/Parameters/a/b/0/c.$")
definition("Result with ResultPath bad", {"A": {"Type": "Pass", "End": True, "Result": 1, "ResultPath": "x"}}, "/States/A/ResultPath")

for field, value in [("Seconds", -1), ("Seconds", "10"), ("Seconds", 1.5), ("Timestamp", "yesterday"),
                     ("Timestamp", "2026-13-01T00:00:00Z"), ("SecondsPath", "$["), ("TimestampPath", "nope"),
                     ("Timestamp", 5)]:
    definition(f"Wait {field} {value!r}", {"A": {"Type": "Wait", "End": True, field: value}}, f"/States/A/{field}",
               absent=["needs exactly one of"] if field in ("Seconds", "Timestamp") else None)
definition("Wait with nothing", {"A": {"Type": "Wait", "End": True}}, "/States/A", ["Seconds"])
definition("Wait with two", {"A": {"Type": "Wait", "End": True, "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z"}}, "/States/A")

CHOICE_TARGET = {"B": PASS}
for rule, pointer in [
    ({"Variable": "$.a", "Next": "B"}, "/States/A/Choices/0"),
    ({"Variable": "$.a", "StringEquals": 1, "Next": "B"}, "/States/A/Choices/0/StringEquals"),
    ({"Variable": "$.a", "NumericEquals": "1", "Next": "B"}, "/States/A/Choices/0/NumericEquals"),
    ({"Variable": "$.a", "BooleanEquals": "true", "Next": "B"}, "/States/A/Choices/0/BooleanEquals"),
    ({"Variable": "$.a", "TimestampEquals": "noon", "Next": "B"}, "/States/A/Choices/0/TimestampEquals"),
    ({"Variable": "$.a", "IsPresent": "yes", "Next": "B"}, "/States/A/Choices/0/IsPresent"),
    ({"Variable": "a", "StringEquals": "x", "Next": "B"}, "/States/A/Choices/0/Variable"),
    ({"Variable": "$.a", "StringEqualsPath": "x", "Next": "B"}, "/States/A/Choices/0/StringEqualsPath"),
    ({"Variable": "$.a", "StringEquals": "x"}, "/States/A/Choices/0"),
    ({"Variable": "$.a", "StringEquals": "x", "Next": "Z"}, "/States/A/Choices/0/Next"),
    ({"And": [], "Next": "B"}, "/States/A/Choices/0/And"),
    ({"And": {"Variable": "$.a", "IsNull": True}, "Next": "B"}, "/States/A/Choices/0/And"),
    ({"Not": [], "Next": "B"}, "/States/A/Choices/0/Not"),
    ({"Or": [{"Variable": "$.a", "IsNull": "no"}], "Next": "B"}, "/States/A/Choices/0/Or/0/IsNull"),
    ({"And": [{"Variable": "$.a", "IsNull": True, "Next": "B"}], "Next": "B"}, "/States/A/Choices/0/And/0/Next"),
    ({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "B"}, "/States/A/Choices/0"),
    ({"Variable": "$.a", "Bogus": 1, "Next": "B"}, "/States/A/Choices/0/Bogus"),
    ({"Variable": "$.a", "StringMatches": 5, "Next": "B"}, "/States/A/Choices/0/StringMatches"),
    ({"Condition": "{% true %}", "Next": "B"}, "/States/A/Choices/0/Condition"),
    (3, "/States/A/Choices/0"),
]:
    definition(f"Choice rule {json.dumps(rule)[:60]}", {"A": {"Type": "Choice", "Choices": [rule], "Default": "B"}, **CHOICE_TARGET}, pointer)
definition("Choice without Choices", {"A": {"Type": "Choice", "Default": "B"}, **CHOICE_TARGET}, "/States/A")
definition("Choice with empty Choices", {"A": {"Type": "Choice", "Choices": [], "Default": "B"}, **CHOICE_TARGET}, "/States/A/Choices")
definition("Choice with End", {"A": {"Type": "Choice", "End": True, "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "B"}]}, **CHOICE_TARGET}, "/States/A/End")
definition("Choice Default names nothing", {"A": {"Type": "Choice", "Default": "Z", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "B"}]}, **CHOICE_TARGET}, "/States/A/Default")
definition("Choice with ResultPath", {"A": {"Type": "Choice", "ResultPath": "$.x", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "B"}], "Default": "B"}, **CHOICE_TARGET}, "/States/A/ResultPath")

TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "End": True}
for field, value, pointer in [
    ("Resource", "not-an-arn", "/States/A/Resource"),
    ("Resource", 5, "/States/A/Resource"),
    ("TimeoutSeconds", 0, "/States/A/TimeoutSeconds"),
    ("TimeoutSeconds", -3, "/States/A/TimeoutSeconds"),
    ("TimeoutSeconds", "60", "/States/A/TimeoutSeconds"),
    ("HeartbeatSeconds", 0, "/States/A/HeartbeatSeconds"),
    ("TimeoutSecondsPath", "x", "/States/A/TimeoutSecondsPath"),
    ("HeartbeatSecondsPath", "$[", "/States/A/HeartbeatSecondsPath"),
    ("ResultSelector", {"x.$": "$["}, "/States/A/ResultSelector/x.$"),
    ("Retry", {}, "/States/A/Retry"),
    ("Retry", [{}], "/States/A/Retry/0/ErrorEquals"),
    ("Retry", [{"ErrorEquals": []}], "/States/A/Retry/0/ErrorEquals"),
    ("Retry", [{"ErrorEquals": ["E"], "MaxAttempts": -1}], "/States/A/Retry/0/MaxAttempts"),
    ("Retry", [{"ErrorEquals": ["E"], "BackoffRate": 0.5}], "/States/A/Retry/0/BackoffRate"),
    ("Retry", [{"ErrorEquals": ["E"], "IntervalSeconds": 0}], "/States/A/Retry/0/IntervalSeconds"),
    ("Retry", [{"ErrorEquals": ["E"], "JitterStrategy": "SOME"}], "/States/A/Retry/0/JitterStrategy"),
    ("Retry", [{"ErrorEquals": ["E"], "MaxDelaySeconds": 0}], "/States/A/Retry/0/MaxDelaySeconds"),
    ("Retry", [{"ErrorEquals": ["States.ALL", "E"]}], "/States/A/Retry/0/ErrorEquals/0"),
    ("Retry", [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}], "/States/A/Retry/0/ErrorEquals/0"),
    ("Retry", [{"ErrorEquals": ["E"], "Bogus": 1}], "/States/A/Retry/0/Bogus"),
    ("Retry", [{"ErrorEquals": "E"}], "/States/A/Retry/0/ErrorEquals"),
    ("Catch", [{"ErrorEquals": ["E"]}], "/States/A/Catch/0"),
    ("Catch", [{"ErrorEquals": ["E"], "Next": "Z"}], "/States/A/Catch/0/Next"),
    ("Catch", [{"ErrorEquals": [], "Next": "A"}], "/States/A/Catch/0/ErrorEquals"),
    ("Catch", [{"ErrorEquals": ["E"], "Next": "A", "ResultPath": "nope"}], "/States/A/Catch/0/ResultPath"),
    ("Catch", [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["E"], "Next": "A"}], "/States/A/Catch/0/ErrorEquals/0"),
    ("Catch", "all", "/States/A/Catch"),
    ("Parameters", {"FunctionName.$": "States.Nope()"}, "/States/A/Parameters/FunctionName.$"),
    ("Bogus", 1, "/States/A/Bogus"),
    ("Output", "x", "/States/A/Output"),
    ("Arguments", {"a": 1}, "/States/A/Arguments"),
    ("Assign", {"x.$": "$["}, "/States/A/Assign/x.$"),
]:
    definition(f"Task {field} {json.dumps(value)[:50]}", {"A": {**TASK, field: value}}, pointer)
definition("Task without Resource", {"A": {"Type": "Task", "End": True}}, "/States/A")
definition("Task with both Timeout and Path", {"A": {**TASK, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"}}, "/States/A")
definition("Task heartbeat not below timeout", {"A": {**TASK, "TimeoutSeconds": 5, "HeartbeatSeconds": 5}}, "/States/A/HeartbeatSeconds")

BRANCH = {"StartAt": "X", "States": {"X": PASS}}
for field, value, pointer in [
    ("Branches", [], "/States/A/Branches"),
    ("Branches", {}, "/States/A/Branches"),
    ("Branches", [{"StartAt": "Y", "States": {"X": PASS}}], "/States/A/Branches/0/StartAt"),
    ("Branches", [{"States": {"X": PASS}}], "/States/A/Branches/0"),
    ("Branches", [{"StartAt": "X", "States": {"X": {"Type": "Pass"}}}], "/States/A/Branches/0/States/X"),
    ("Branches", [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "A"}}}], "/States/A/Branches/0/States/X/Next"),
    ("Branches", [BRANCH, {"StartAt": "X", "States": {"X": {"Type": "Wait", "End": True}}}], "/States/A/Branches/1/States/X"),
    ("ResultSelector", {"a.$": "$["}, "/States/A/ResultSelector/a.$"),
    ("Retry", [{"ErrorEquals": ["E"], "MaxAttempts": "3"}], "/States/A/Retry/0/MaxAttempts"),
    ("Bogus", True, "/States/A/Bogus"),
]:
    state = {"Type": "Parallel", "Branches": [BRANCH], "End": True}
    state[field] = value
    definition(f"Parallel {field} {json.dumps(value)[:50]}", {"A": state}, pointer)

PROC = {"StartAt": "X", "States": {"X": PASS}}
for field, value, pointer in [
    ("ItemProcessor", {"StartAt": "Y", "States": {"X": PASS}}, "/States/A/ItemProcessor/StartAt"),
    ("ItemProcessor", {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "A"}}}, "/States/A/ItemProcessor/States/X/Next"),
    ("ItemProcessor", 3, "/States/A/ItemProcessor"),
    ("ItemsPath", "items", "/States/A/ItemsPath"),
    ("ItemsPath", "$[", "/States/A/ItemsPath"),
    ("MaxConcurrency", -1, "/States/A/MaxConcurrency"),
    ("MaxConcurrency", "2", "/States/A/MaxConcurrency"),
    ("MaxConcurrencyPath", "x", "/States/A/MaxConcurrencyPath"),
    ("ItemSelector", {"a.$": "States.Nope()"}, "/States/A/ItemSelector/a.$"),
    ("ToleratedFailurePercentage", 101, "/States/A/ToleratedFailurePercentage"),
    ("ToleratedFailurePercentage", -1, "/States/A/ToleratedFailurePercentage"),
    ("ToleratedFailureCount", -1, "/States/A/ToleratedFailureCount"),
    ("ToleratedFailureCountPath", "x", "/States/A/ToleratedFailureCountPath"),
    ("ItemBatcher", {"MaxItemsPerBatch": 0}, "/States/A/ItemBatcher/MaxItemsPerBatch"),
    ("ItemBatcher", 5, "/States/A/ItemBatcher"),
    ("ItemReader", {"Resource": "arn:aws:states:::s3:getObject"}, "/States/A/ItemReader/ReaderConfig"),
    ("ItemReader", {"Resource": "nope", "Parameters": {"Bucket": "b", "Key": "k"}}, "/States/A/ItemReader/Resource"),
    ("ResultWriter", {"Resource": "arn:aws:states:::s3:putObject"}, "/States/A/ResultWriter"),
    ("Label", "a" * 41, "/States/A/Label"),
    ("Label", "bad label", "/States/A/Label"),
    ("Iterator", PROC, "/States/A"),
    ("Bogus", 1, "/States/A/Bogus"),
]:
    state = {"Type": "Map", "ItemProcessor": PROC, "End": True}
    state[field] = value
    definition(f"Map {field} {json.dumps(value)[:50]}", {"A": state}, pointer)
definition("Map without ItemProcessor", {"A": {"Type": "Map", "End": True}}, "/States/A")
definition("Map inner state reaches outside", {"A": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "B"}}}}, "B": PASS}, "/States/A/ItemProcessor/States/X/Next")

# JSONata definitions
JQ = {"QueryLanguage": "JSONata"}
for field, value, pointer in [
    ("Output", "{% $states.input. %}", "/States/A/Output"),
    ("Output", "{% ( %}", "/States/A/Output"),
    ("Output", {"a": "{% 1 + %}"}, "/States/A/Output/a"),
    ("Assign", {"x": "{% $nope( %}"}, "/States/A/Assign/x"),
    ("InputPath", "$.a", "/States/A/InputPath"),
    ("Parameters", {"a": 1}, "/States/A/Parameters"),
    ("ResultPath", "$.a", "/States/A/ResultPath"),
    ("OutputPath", "$.a", "/States/A/OutputPath"),
    ("QueryLanguage", "JSONPath", "/States/A"),
]:
    definition(f"JSONata Pass {field} {json.dumps(value)[:40]}", {"A": {"Type": "Pass", "End": True, field: value}}, pointer, **JQ)
definition("JSONata Choice with Variable", {"A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "B"}], "Default": "B"}, "B": PASS}, "/States/A/Choices/0", **JQ)
definition("JSONata Choice bad Condition", {"A": {"Type": "Choice", "Choices": [{"Condition": "{% 1 = %}", "Next": "B"}], "Default": "B"}, "B": PASS}, "/States/A/Choices/0/Condition", **JQ)
definition("JSONata Wait Seconds bad", {"A": {"Type": "Wait", "Seconds": "{% ) %}", "End": True}}, "/States/A/Seconds", **JQ)
definition("JSONata Task Arguments bad", {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"FunctionName": "{% [ %}"}, "End": True}}, "/States/A/Arguments/FunctionName", **JQ)
definition("JSONata Map Items bad", {"A": {"Type": "Map", "Items": "{% ] %}", "ItemProcessor": PROC, "End": True}}, "/States/A/Items", **JQ)
definition("JSONata Fail Error bad", {"A": {"Type": "Fail", "Error": "{% ( %}"}}, "/States/A/Error", **JQ)

# --- Inputs ---------------------------------------------------------------------------------
OK_DEF = {"def.asl.json": machine({"A": PASS})}
for text, where in [("{\"a\": }", "--input:1:7"), ("{\"a\": 1,}", "--input:1:9"), ("[1, 2", "--input:1:5"),
                    ("nul", "--input:1:"), ("{\"a\": 1} x", "--input:1:10"), ("\"unterminated", "--input:1:"),
                    ("{'a': 1}", "--input:1:2"), ("{\"a\": 01}", "--input:1:"), ("", "--input"), ("{\"a\":\n\n  ?}", "--input:3:3")]:
    case("input", f"--input {text!r}", ["--ephemeral", "run", "def.asl.json", "--input", text], 2, [where, "invalid JSON"], OK_DEF)
for text, where in [("{\n  \"a\": [1,\n}", "in.json:3:1"), ("{\"a\": tru}", "in.json:1:"), ("\ufeff{}", "in.json"),
                    ("{}{}", "in.json:1:3")]:
    case("input", f"--input-file {text!r}", ["--ephemeral", "run", "def.asl.json", "--input-file", "in.json"], 2,
         [where], {**OK_DEF, "in.json": text})
case("input", "input file missing", ["--ephemeral", "run", "def.asl.json", "--input-file", "nope.json"], 2, ["nope.json"], OK_DEF)
case("input", "input over 256 KiB", ["--ephemeral", "run", "def.asl.json", "--input-file", "big.json"], 2,
     ["big.json", "262144"], {**OK_DEF, "big.json": json.dumps({"a": "x" * 270000})})
case("input", "definition file missing", ["--ephemeral", "run", "nope.asl.json"], 2, ["nope.asl.json"])
case("input", "definition is a directory", ["--ephemeral", "run", "."], 2, ["."])
case("input", "input file named -", ["--ephemeral", "run", "def.asl.json", "--input-file", "-"], 2, ["cannot read -"], OK_DEF, stdin="{oops")
case("input", "invalid UTF-8 input", ["--ephemeral", "run", "def.asl.json", "--input-file", "bad.json"], 2, ["bad.json", "UTF-8"],
     {**OK_DEF, "bad.json": {"base64": base64.b64encode(b'"a\xff"').decode()}})
case("input", "invalid UTF-8 definition", ["validate", "bad.asl.json"], 2, ["bad.asl.json", "UTF-8"], {"bad.asl.json": {"base64": base64.b64encode(b'{"StartAt\xff').decode()}})

# --- Intrinsics and paths at run time (States.Runtime, naming state and function) -----------
for expr, inp, words in [
    ("States.ArrayRange(1, $.s, 1)", {"s": "x"}, ["'P'", "States.ArrayRange"]),
    ("States.ArrayRange(1, 5000, 1)", {}, ["'P'", "States.ArrayRange"]),
    ("States.ArrayGetItem($.a, 10)", {"a": [1]}, ["'P'", "States.ArrayGetItem"]),
    ("States.ArrayPartition($.a, 0)", {"a": [1]}, ["'P'", "States.ArrayPartition"]),
    ("States.StringToJson($.s)", {"s": "{nope"}, ["'P'", "States.StringToJson"]),
    ("States.MathAdd($.a, 1)", {"a": "one"}, ["'P'", "States.MathAdd"]),
    ("States.MathRandom(5, 1)", {}, ["'P'", "States.MathRandom"]),
    ("States.Hash($.s, 'SHA-3')", {"s": "a"}, ["'P'", "States.Hash"]),
    ("States.Base64Encode($.s)", {"s": "x" * 10001}, ["'P'", "States.Base64Encode"]),
    ("States.Format('{} {}', $.a)", {"a": 1}, ["'P'", "States.Format"]),
    ("States.Format($.a)", {"a": 1}, ["'P'", "States.Format"]),
    ("States.JsonMerge($.a, $.b, false)", {"a": 1, "b": {}}, ["'P'", "States.JsonMerge"]),
    ("States.ArrayLength($.a)", {"a": {}}, ["'P'", "States.ArrayLength"]),
    ("States.StringSplit($.a, ',')", {"a": 5}, ["'P'", "States.StringSplit"]),
    ("States.ArrayContains($.a, 1)", {"a": "x"}, ["'P'", "States.ArrayContains"]),
    ("States.ArrayUnique($.a)", {"a": 3}, ["'P'", "States.ArrayUnique"]),
    ("$.missing", {}, ["'P'", "$.missing"]),
    ("States.ArrayRange(1, 2)", {}, ["'P'", "States.ArrayRange"]),
    ("States.MathAdd(1)", {}, ["'P'", "States.MathAdd"]),
    ("States.Hash('a')", {}, ["'P'", "States.Hash"]),
    ("States.UUID(1)", {}, ["'P'", "States.UUID"]),
    ("States.StringToJson()", {}, ["'P'", "States.StringToJson"]),
    ("States.JsonMerge($.a, $.b)", {"a": {}, "b": {}}, ["'P'", "States.JsonMerge"]),
    ("States.Base64Encode()", {}, ["'P'", "States.Base64Encode"]),
    ("States.Format('{}', $.missing)", {}, ["'P'", "$.missing"]),
]:
    d = machine({"P": {"Type": "Pass", "Parameters": {"x.$": expr}, "End": True}})
    case("intrinsic", f"{expr} on {json.dumps(inp)[:30]}", ["--ephemeral", "run", "def.asl.json", "--input", json.dumps(inp)], 1,
         ["States.Runtime", *words], {"def.asl.json": d})
for path, inp, words in [("$.a.b", {"a": 1}, ["InputPath", "$.a.b"]), ("$.x", {}, ["InputPath", "$.x"])]:
    d = machine({"P": {"Type": "Pass", "InputPath": path, "End": True}})
    case("intrinsic", f"InputPath {path} misses", ["--ephemeral", "run", "def.asl.json", "--input", json.dumps(inp)], 1,
         ["States.Runtime", "'P'", *words[1:]], {"def.asl.json": d})
d = machine({"P": {"Type": "Pass", "ResultPath": "$.a.b", "Result": 1, "End": True}})
case("intrinsic", "ResultPath into a number", ["--ephemeral", "run", "def.asl.json", "--input", "{\"a\": 5}"], 1,
     ["States.ResultPathMatchFailure", "$.a.b"], {"def.asl.json": d})
d = machine({"M": {"Type": "Map", "ItemsPath": "$.a", "ItemProcessor": PROC, "End": True}})
case("intrinsic", "ItemsPath not an array", ["--ephemeral", "run", "def.asl.json", "--input", "{\"a\": 5}"], 1,
     ["States.Runtime", "'M'"], {"def.asl.json": d})
d = machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}})
for value in ["\"ten\"", "-5", "1.5"]:
    case("intrinsic", f"SecondsPath {value}", ["--ephemeral", "run", "def.asl.json", "--clock", "virtual", "--input", f"{{\"s\": {value}}}"], 1,
         ["States.Runtime", "'W'"], {"def.asl.json": d})
d = machine({"W": {"Type": "Wait", "TimestampPath": "$.s", "End": True}})
case("intrinsic", "TimestampPath not a timestamp", ["--ephemeral", "run", "def.asl.json", "--input", "{\"s\": \"soon\"}"], 1,
     ["States.Runtime", "'W'"], {"def.asl.json": d})
d = machine({"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x", "Next": "B"}]}, "B": PASS})
case("intrinsic", "Choice with no match and no Default", ["--ephemeral", "run", "def.asl.json", "--input", "{\"a\": \"y\"}"], 1,
     ["States.NoChoiceMatched", "'C'"], {"def.asl.json": d})
case("intrinsic", "Choice Variable missing", ["--ephemeral", "run", "def.asl.json", "--input", "{}"], 1,
     ["States.Runtime", "'C'", "$.a"], {"def.asl.json": d})

# --- JSONata at run time ------------------------------------------------------------------------
for expr, words in [("{% $states.input.a.b.c + 1 %}", ["'P'"]), ("{% $error('boom') %}", ["'P'", "boom"]),
                    ("{% $number('x') %}", ["'P'"]), ("{% $nope() %}", ["'P'"]), ("{% [1,2] + 1 %}", ["'P'"]),
                    ("{% ($f := function($n){$f($n)}; $f(1)) %}", ["'P'"]), ("{% $parse('{x') %}", ["'P'"]),
                    ("{% $lookup() %}", ["'P'"])]:
    d = json.dumps({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": expr, "End": True}}})
    case("jsonata", expr, ["--ephemeral", "run", "def.asl.json", "--input", "{\"a\": 1}"], 1,
         ["States.QueryEvaluationError", *words], {"def.asl.json": d})
d = json.dumps({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Condition": "{% 'yes' %}", "Next": "B"}], "Default": "B"}, "B": {"Type": "Succeed"}}})
case("jsonata", "Condition not a boolean", ["--ephemeral", "run", "def.asl.json", "--input", "{}"], 1,
     ["States.QueryEvaluationError", "'C'"], {"def.asl.json": d})
d = json.dumps({"QueryLanguage": "JSONata", "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": "{% 'x' %}", "End": True}}})
case("jsonata", "Wait Seconds not a number", ["--ephemeral", "run", "def.asl.json", "--clock", "virtual", "--input", "{}"], 1,
     ["States.QueryEvaluationError", "'W'"], {"def.asl.json": d})
d = json.dumps({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map", "Items": "{% 5 %}", "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}}, "End": True}}})
case("jsonata", "Map Items not an array", ["--ephemeral", "run", "def.asl.json", "--input", "{}"], 1,
     ["States.QueryEvaluationError", "'M'"], {"def.asl.json": d})

# --- Mock files -------------------------------------------------------------------------------
MOCK_DEF = {"def.asl.json": machine({"T": TASK})}
mock_args = ["--ephemeral", "run", "def.asl.json", "--mock-config", "m.json", "--test-case", "C", "--state-machine-name", "def"]
for name, mock, words in [
    ("not JSON", "{", ["m.json", "1:"]),
    ("StateMachines missing", {}, ["m.json", "/StateMachines"]),
    ("StateMachines not an object", {"StateMachines": []}, ["m.json", "/StateMachines"]),
    ("machine unknown", {"StateMachines": {"other": {"TestCases": {"C": {}}}}, "MockedResponses": {}}, ["m.json", "def"]),
    ("TestCases missing", {"StateMachines": {"def": {}}, "MockedResponses": {}}, ["m.json", "/StateMachines/def"]),
    ("test case unknown", {"StateMachines": {"def": {"TestCases": {"D": {}}}}, "MockedResponses": {}}, ["m.json", "/StateMachines/def/TestCases", "'C'"]),
    ("response unknown", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {}}, ["m.json", "/MockedResponses/R", "'R'", "state 'T'"]),
    ("Return and Throw", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}, ["m.json", "/MockedResponses/R/0"]),
    ("neither Return nor Throw", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {"R": {"0": {}}}}, ["m.json", "/MockedResponses/R/0"]),
    ("bad range", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {"R": {"2-1": {"Return": 1}}}}, ["m.json", "/MockedResponses/R/2-1"]),
    ("range not a number", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {"R": {"a": {"Return": 1}}}}, ["m.json", "/MockedResponses/R/a"]),
    ("Throw without Error", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}}, ["m.json", "/MockedResponses/R/0/Throw"]),
    ("Throw not an object", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {"R": {"0": {"Throw": "E"}}}}, ["m.json", "/MockedResponses/R/0/Throw"]),
    ("response not an object", {"StateMachines": {"def": {"TestCases": {"C": {"T": "R"}}}}, "MockedResponses": {"R": []}}, ["m.json", "/MockedResponses/R"]),
    ("test case value not a string", {"StateMachines": {"def": {"TestCases": {"C": {"T": 5}}}}, "MockedResponses": {}}, ["m.json", "/StateMachines/def/TestCases/C/T"]),
]:
    text = mock if isinstance(mock, str) else json.dumps(mock)
    case("mock", name, mock_args, 2, words, {**MOCK_DEF, "m.json": text})
case("mock", "mock file missing", mock_args, 2, ["m.json"], MOCK_DEF)
case("mock", "--test-case without --mock-config", ["--ephemeral", "run", "def.asl.json", "--test-case", "C"], 2, ["--test-case"], MOCK_DEF)

# --- sfnlite.toml ---------------------------------------------------------------------------
CFG_ARGS = ["--ephemeral", "run", "def.asl.json"]
for name, toml, words in [
    ("not TOML", "x = [\n", ["sfnlite.toml", "line 1"]),
    ("unknown key", "bogus = 1\n", ["sfnlite.toml", "bogus"]),
    ("unknown table", "[nope]\nx = 1\n", ["sfnlite.toml", "nope"]),
    ("backend wrong", "backend = \"cloud\"\n", ["sfnlite.toml", "backend"]),
    ("backend wrong type", "backend = 5\n", ["sfnlite.toml", "backend"]),
    ("clock wrong", "[definitions.\"def.asl.json\"]\nclock = \"fast\"\n", ["sfnlite.toml", "[definitions.\"def.asl.json\"]", "clock must be", "\"fast\""]),
    ("retention wrong", "[store]\nretention = \"forever\"\n", ["sfnlite.toml", "retention"]),
    ("retention number", "[store]\nretention = 5\n", ["sfnlite.toml", "retention"]),
    ("query_timeout words", "[athena.workgroups.primary]\nquery_timeout = \"soon\"\n", ["sfnlite.toml", "athena.workgroups.primary", "query_timeout"]),
    ("query_timeout zero", "[athena.workgroups.primary]\nquery_timeout = 0\n", ["sfnlite.toml", "query_timeout"]),
    ("memory_limit_mib zero", "[athena.workgroups.w]\nmemory_limit_mib = 0\n", ["sfnlite.toml", "athena.workgroups.w", "memory_limit_mib"]),
    ("memory_limit_mib negative", "[athena.workgroups.w]\nmemory_limit_mib = -1\n", ["sfnlite.toml", "memory_limit_mib"]),
    ("mount named ..", "[s3.mounts]\n\"..\" = \"/tmp\"\n", ["sfnlite.toml", ".."]),
    ("mount bucket with capitals", "[s3.mounts]\n\"Bucket\" = \"/tmp\"\n", ["sfnlite.toml", "Bucket"]),
    ("lambda timeout too big", "[lambda.functions.f]\nhandler = \"python:f.py:h\"\ntimeout = 2000\n", ["sfnlite.toml", "lambda.functions.f", "timeout"]),
    ("lambda memory too small", "[lambda.functions.f]\nhandler = \"python:f.py:h\"\nmemory_size = 64\n", ["sfnlite.toml", "lambda.functions.f", "memory_size"]),
    ("lambda concurrency zero", "[lambda.functions.f]\nhandler = \"python:f.py:h\"\nconcurrency = 0\n", ["sfnlite.toml", "lambda.functions.f", "concurrency"]),
    ("lambda handler without runtime", "[lambda.functions.f]\nhandler = \"f.py:h\"\n", ["sfnlite.toml", "lambda.functions.f", "handler"]),
    ("lambda unknown key", "[lambda.functions.f]\nhandler = \"python:f.py:h\"\nbogus = 1\n", ["sfnlite.toml", "bogus"]),
    ("workgroup unknown key", "[athena.workgroups.w]\nbogus = 1\n", ["sfnlite.toml", "bogus"]),
    ("definition substitution not a string", "[definitions.\"def.asl.json\"]\nsubstitutions = 5\n", ["sfnlite.toml", "substitutions"]),
]:
    case("config", name, CFG_ARGS, 2, words, {**OK_DEF, "sfnlite.toml": toml})
case("config", "--config missing", ["--config", "nope.toml", "--ephemeral", "run", "def.asl.json"], 2, ["nope.toml"], OK_DEF)

# --- CLI usage -----------------------------------------------------------------------------------
H = "def.asl.json"
for name, args, words in [
    ("unknown command", ["frobnicate"], ["frobnicate"]),
    ("run without a file", ["run"], ["<FILE>"]),
    ("unknown flag", ["run", H, "--bogus"], ["--bogus"]),
    ("--clock wrong", ["run", H, "--clock", "sideways"], ["--clock", "sideways"]),
    ("--backend wrong", ["run", H, "--backend", "cloud"], ["--backend", "cloud"]),
    ("--seed not a number", ["run", H, "--seed", "x"], ["--seed"]),
    ("--seed negative", ["run", H, "--seed", "-1"], ["'-1'"]),
    ("--type wrong", ["run", H, "--type", "FAST"], ["--type", "FAST"]),
    ("--name empty", ["run", H, "--name", ""], ["--name"]),
    ("--name too long", ["run", H, "--name", "n" * 81], ["--name"]),
    ("--name with slash", ["run", H, "--name", "a/b"], ["--name", "a/b"]),
    ("--name with space", ["run", H, "--name", "a b"], ["--name"]),
    ("--name with bidi control", ["run", H, "--name", "a\u202eb"], ["--name"]),
    ("--name with a star", ["run", H, "--name", "a*"], ["--name"]),
    ("--state-machine-name with colon", ["run", H, "--state-machine-name", "a:b"], ["--state-machine-name"]),
    ("--sub without =", ["run", H, "--sub", "KEY"], ["--sub", "KEY"]),
    ("--sub with empty key", ["run", H, "--sub", "=v"], ["--sub", "=v"]),
    ("--input and --input-file", ["run", H, "--input", "{}", "--input-file", "x.json"], ["--input"]),
    ("--lambda without =", ["run", H, "--lambda", "f"], ["--lambda"]),
    ("--lambda unknown runtime", ["run", H, "--lambda", "f=ruby:x.rb:h"], ["--lambda"]),
    ("describe unknown execution", ["describe", "nope"], ["nope"]),
    ("history unknown execution", ["history", "nope"], ["nope"]),
    ("history bad format", ["history", "nope", "--format", "xml"], ["--format", "xml"]),
    ("resume unknown execution", ["resume", "nope"], ["nope"]),
    ("redrive unknown execution", ["redrive", "nope"], ["nope"]),
    ("stop unknown execution", ["stop", "nope"], ["nope"]),
    ("prune without criteria", ["executions", "prune"], ["prune"]),
    ("prune bad age", ["executions", "prune", "--older-than", "ten days"], ["--older-than"]),
    ("prune bad status", ["executions", "prune", "--status", "SLEEPING"], ["--status", "SLEEPING"]),
    ("executions list bad status", ["executions", "list", "--status", "SLEEPING"], ["--status"]),
    ("task success bad output", ["task", "success", "tok", "--output", "{nope"], ["--output"]),
    ("schedules create bad rate", ["schedules", "create", "s", "--state-machine", "m", "--expression", "rate(5 fortnights)"], ["rate(5 fortnights)"]),
    ("schedules create bad cron", ["schedules", "create", "s", "--state-machine", "m", "--expression", "cron(61 * * * ? *)"], ["cron(61 * * * ? *)"]),
    ("schedules create bad at", ["schedules", "create", "s", "--state-machine", "m", "--expression", "at(tomorrow)"], ["at(tomorrow)"]),
    ("schedules create bad timezone", ["schedules", "create", "s", "--state-machine", "m", "--expression", "rate(1 hour)", "--timezone", "Mars/Olympus"], ["Mars/Olympus"]),
    ("schedules describe unknown", ["schedules", "describe", "nope"], ["nope"]),
    ("serve bad port", ["serve", "--port", "99999"], ["--port"]),
    ("serve bad bind", ["serve", "--bind", "not-an-address"], ["--bind"]),
    ("s3 cp bad url", ["s3", "cp", "s3:/bucket", "x"], ["s3:// address"]),
    ("athena query empty", ["athena", "query", ""], ["query"]),
    ("athena query syntax", ["athena", "query", "SELEC 1"], ["SYNTAX_ERROR"]),
    ("athena unknown table", ["athena", "query", "SELECT * FROM nope"], ["TABLE_NOT_FOUND", "nope"]),
    ("athena bad database name", ["athena", "query", "CREATE DATABASE \"../../x\""], ["../../x"]),
    ("graph of a missing file", ["validate", "nope.asl.json"], ["nope.asl.json"]),
    ("test with a missing path", ["test", "nope/"], ["nope/"]),
    ("store check with --ephemeral", ["--ephemeral", "store", "check"], ["--ephemeral"]),
    ("store salvage without DIR", ["store", "salvage"], ["<DIR>"]),
]:
    expect = 1 if name in ("athena query syntax", "athena unknown table", "athena bad database name") else 2
    case("cli", name, args, expect, words, OK_DEF)
# An s3 operation that fails is exit 1 (README), naming the address and S3's error code.
case("cli", "s3 cat missing object", ["s3", "cat", "s3://nobucket/nokey"], 1, ["s3://nobucket/nokey", "NoSuchBucket"])
case("cli", "s3 cp to a key with ..", ["s3", "cp", "f.txt", "s3://bucket/../x"], 1, ["s3://bucket/../x", "'..' segment", "InvalidArgument"],
     {".data/bucket/keep": "", "f.txt": "hi"})
case("cli", "s3 cat a key climbing out", ["s3", "cat", "s3://bucket/a/../../x"], 1, ["'a/../../x'", "InvalidArgument"], {".data/bucket/keep": ""})

# --- sfnlite test files ----------------------------------------------------------------------------
for name, text, words in [
    ("unknown key", "definition: def.asl.json\ncases:\n  - name: a\n    input: {}\n    bogus: 1\n", ["t.sfntest.yaml", "bogus"]),
    ("missing definition", "definition: nope.asl.json\ncases:\n  - name: a\n", ["t.sfntest.yaml", "nope.asl.json"]),
    ("not YAML", "definition: [\n", ["t.sfntest.yaml"]),
    ("cases not a list", "definition: def.asl.json\ncases: 5\n", ["t.sfntest.yaml", "cases"]),
    ("mock for a missing state", "definition: def.asl.json\ncases:\n  - name: a\n    mocks:\n      Nope: {Return: 1}\n    expect:\n      status: SUCCEEDED\n", ["t.sfntest.yaml", "Nope"]),
    ("expect status wrong type", "definition: def.asl.json\ncases:\n  - name: a\n    expect:\n      status: 5\n", ["t.sfntest.yaml", "status"]),
    ("expect unknown status", "definition: def.asl.json\ncases:\n  - name: a\n    expect:\n      status: DONE\n", ["t.sfntest.yaml", "DONE"]),
    ("case without name", "definition: def.asl.json\ncases:\n  - input: {}\n", ["t.sfntest.yaml", "name"]),
]:
    case("test-file", name, ["test", "t.sfntest.yaml"], 2, words, {**OK_DEF, "t.sfntest.yaml": text})

# --- Damaged stores -------------------------------------------------------------------------------
case("store", "store is a file", ["--store", "store", "executions", "list"], 3, ["cannot", "store"], {"store": "not a directory"})
case("store", "store db is a file", ["--store", "store", "executions", "list"], 3, ["cannot open", "store"], {"store/db": "garbage"})
case("store", "check a missing store", ["--store", "nostore", "store", "check"], 2, ["nostore"])
case("store", "salvage into a used folder", ["--store", "store", "store", "salvage", "used"], 2, ["used"], {"store/x": "", "used/y": "", "store/db/conf": ""})

(HERE / "cases.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
print(f"{len(cases)} cases")
