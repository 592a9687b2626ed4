//! `sfnlite test record`: an execution made into a test that replays it offline. From a
//! history in AWS's `GetExecutionHistory` shape (an execution in the store, or a file
//! saved with `aws stepfunctions get-execution-history`), it takes the input, how the
//! execution ended, the states it went through, and each Task state's service answers in
//! order (`Return` for a result, `Throw` for an error), and writes a MockConfigFile test
//! case of those answers and a test file whose case expects the same path and end.
//!
//! Activity states cannot be mocked (as in Step Functions Local): they are left to run.
//! A Task inside Map iterations is answered by invocation number, whatever the item, so
//! its answers are numbered in the order of the iterations (then of time), which is the
//! order a replay's iterations start in, rather than in the order they came. When states
//! ran at once (Parallel branches, Map iterations), the test does not expect the path,
//! whose order was the run's.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

/// The test case name in the MockConfigFile.
pub(crate) const TEST_CASE: &str = "Recorded";

/// What a history says, for a test.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Recorded {
    pub(crate) input: Value,
    pub(crate) status: String,
    pub(crate) output: Option<Value>,
    pub(crate) error: Option<String>,
    pub(crate) cause: Option<String>,
    pub(crate) path: Vec<String>,
    /// Whether states ran at once (Parallel branches, Map iterations): their order in the
    /// path is the one they happened to run in, so a replay is not held to it.
    pub(crate) concurrent: bool,
    /// Each Task state's answers, in order: `{"Return": …}` or `{"Throw": {…}}`.
    pub(crate) answers: BTreeMap<String, Vec<Value>>,
    /// Epoch milliseconds of the execution's start.
    pub(crate) start_millis: Option<i64>,
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// JSON text (as AWS's history has payloads) read as JSON.
fn payload(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
        Value::Null => Value::Null,
        other => other.clone(),
    }
}

/// The Map iterations an event is in: each Map's start event and the iteration's index,
/// outermost first.
type Iterations = Vec<(u64, u64)>;

/// Reads a history (`{"events": [...]}` or the array). Fails on what is not one.
pub(crate) fn read(history: &Value) -> Result<Recorded, String> {
    let events = history
        .get("events")
        .or(Some(history))
        .and_then(Value::as_array)
        .ok_or("expected a GetExecutionHistory answer ({\"events\": [...]})")?;
    if events.is_empty() {
        return Err("the history has no event".into());
    }
    let by_id: HashMap<u64, &Value> = events.iter().filter_map(|e| Some((e["id"].as_u64()?, e))).collect();
    // The state an event belongs to (back along previousEventId to a StateEntered), and
    // the Map iterations it is in (their Map's start event and index, outermost first).
    let owner = |event: &Value| -> Option<(String, Iterations)> {
        let mut current = event;
        let mut state = None;
        let mut iterations = Vec::new();
        for _ in 0..=by_id.len() {
            if state.is_none()
                && let Some(name) = current["stateEnteredEventDetails"]["name"].as_str()
            {
                state = Some(name.to_owned());
            }
            if let Some(index) = current["mapIterationStartedEventDetails"]["index"].as_u64() {
                iterations.push((current["previousEventId"].as_u64().unwrap_or(0), index));
            }
            match current["previousEventId"].as_u64().and_then(|id| by_id.get(&id)) {
                Some(previous) if current["previousEventId"].as_u64() != Some(0) => current = previous,
                _ => break,
            }
        }
        iterations.reverse();
        state.map(|state| (state, iterations))
    };
    // Each state's answers with where they came from, numbered once all are read.
    let mut answers: BTreeMap<String, Vec<(Iterations, Value)>> = BTreeMap::new();
    let mut recorded = Recorded::default();
    for event in events {
        let kind = event["type"].as_str().unwrap_or_default();
        match kind {
            "ExecutionStarted" => {
                recorded.input = payload(&event["executionStartedEventDetails"]["input"]);
                recorded.start_millis = event["timestamp"]
                    .as_str()
                    .and_then(sfnlite_states::timestamp::parse_iso8601)
                    .map(|n| (n / 1_000_000) as i64)
                    .or_else(|| event["timestamp"].as_f64().map(|s| (s * 1000.0) as i64));
            }
            "ExecutionSucceeded" => {
                recorded.status = "SUCCEEDED".into();
                recorded.output = Some(payload(&event["executionSucceededEventDetails"]["output"]));
            }
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted" => {
                recorded.status = match kind {
                    "ExecutionFailed" => "FAILED",
                    "ExecutionTimedOut" => "TIMED_OUT",
                    _ => "ABORTED",
                }
                .into();
                let key = format!("{}{}EventDetails", kind[..1].to_lowercase(), &kind[1..]);
                recorded.error = text(&event[&key]["error"]);
                recorded.cause = text(&event[&key]["cause"]);
            }
            "ParallelStateStarted" | "MapIterationStarted" => recorded.concurrent = true,
            _ if kind.ends_with("StateEntered") => {
                if let Some(name) = event["stateEnteredEventDetails"]["name"].as_str() {
                    recorded.path.push(name.to_owned());
                }
            }
            "TaskSucceeded" | "LambdaFunctionSucceeded" => {
                let key = if kind == "TaskSucceeded" {
                    "taskSucceededEventDetails"
                } else {
                    "lambdaFunctionSucceededEventDetails"
                };
                if let Some((state, iterations)) = owner(event) {
                    let output = payload(&event[key]["output"]);
                    // A Lambda function's own resource: a mock answers with its Invoke
                    // response, whose Payload is the result.
                    let answer = if kind == "LambdaFunctionSucceeded" {
                        json!({"Return": {"StatusCode": 200, "Payload": output}})
                    } else {
                        json!({"Return": output})
                    };
                    answers.entry(state).or_default().push((iterations, answer));
                }
            }
            "TaskFailed" | "TaskTimedOut" | "LambdaFunctionFailed" | "LambdaFunctionTimedOut" => {
                let key = format!("{}{}EventDetails", kind[..1].to_lowercase(), &kind[1..]);
                if let Some((state, iterations)) = owner(event) {
                    let error = text(&event[&key]["error"]).unwrap_or_else(|| {
                        if kind.ends_with("TimedOut") { "States.Timeout".into() } else { "States.TaskFailed".into() }
                    });
                    let cause = text(&event[&key]["cause"]).unwrap_or_default();
                    let answer = json!({"Throw": {"Error": error, "Cause": cause}});
                    answers.entry(state).or_default().push((iterations, answer));
                }
            }
            _ => {}
        }
    }
    if recorded.status.is_empty() {
        return Err("the execution has not ended (no ExecutionSucceeded, Failed, TimedOut or Aborted event)".into());
    }
    for (state, mut list) in answers {
        // Stable: within an iteration (or outside any), the order they came in.
        list.sort_by(|a, b| a.0.cmp(&b.0));
        recorded.answers.insert(state, list.into_iter().map(|(_, answer)| answer).collect());
    }
    Ok(recorded)
}

/// A state's answers as MockedResponses entries, equal neighbours as one range (`"0-2"`).
fn entries(answers: &[Value]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut start = 0;
    while start < answers.len() {
        let mut end = start;
        while end + 1 < answers.len() && answers[end + 1] == answers[start] {
            end += 1;
        }
        let key = if end == start { start.to_string() } else { format!("{start}-{end}") };
        out.insert(key, answers[start].clone());
        start = end + 1;
    }
    out
}

/// The MockConfigFile of a recording (state machine `machine`, test case [`TEST_CASE`]).
pub(crate) fn mock_config(recorded: &Recorded, machine: &str) -> Value {
    let mut states = Map::new();
    let mut responses = Map::new();
    for (state, answers) in &recorded.answers {
        let name = format!("{state} (recorded)");
        states.insert(state.clone(), json!(name));
        responses.insert(name, Value::Object(entries(answers)));
    }
    json!({"StateMachines": {machine: {"TestCases": {TEST_CASE: states}}}, "MockedResponses": responses})
}

/// The test file of a recording.
pub(crate) fn test_file(
    recorded: &Recorded,
    definition: &str,
    mocks: &str,
    machine: &str,
    case: &Map<String, Value>,
) -> Value {
    let mut expect = Map::new();
    expect.insert("status".into(), json!(recorded.status));
    if let Some(output) = &recorded.output {
        expect.insert("output".into(), output.clone());
    }
    if let Some(error) = &recorded.error {
        expect.insert("error".into(), json!(error));
    }
    if let Some(cause) = &recorded.cause {
        expect.insert("cause".into(), json!(cause));
    }
    if !recorded.concurrent {
        expect.insert("path".into(), json!(recorded.path));
    }
    let mut first = case.clone();
    first.insert("input".into(), recorded.input.clone());
    if !recorded.answers.is_empty() {
        first.insert("testCase".into(), json!(TEST_CASE));
    }
    first.insert("expect".into(), Value::Object(expect));
    let mut file = Map::new();
    file.insert("definition".into(), json!(definition));
    file.insert("stateMachineName".into(), json!(machine));
    if !recorded.answers.is_empty() {
        file.insert("mockConfig".into(), json!(mocks));
    }
    if let Some(start) = recorded.start_millis {
        file.insert("clock".into(), json!({"start": sfnlite_states::timestamp::format_millis(start)}));
    }
    file.insert("cases".into(), json!([first]));
    Value::Object(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_becomes_mocks_and_expectations() {
        let history = json!({"events": [
            {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": "2026-01-01T00:00:00.000Z",
             "executionStartedEventDetails": {"input": "{\"a\":1}"}},
            {"id": 2, "previousEventId": 0, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Call", "input": "{}"}},
            {"id": 3, "previousEventId": 2, "type": "TaskScheduled"},
            {"id": 4, "previousEventId": 3, "type": "TaskFailed", "taskFailedEventDetails": {"error": "Busy", "cause": "x"}},
            {"id": 5, "previousEventId": 4, "type": "TaskScheduled"},
            {"id": 6, "previousEventId": 5, "type": "TaskFailed", "taskFailedEventDetails": {"error": "Busy", "cause": "x"}},
            {"id": 7, "previousEventId": 6, "type": "TaskScheduled"},
            {"id": 8, "previousEventId": 7, "type": "TaskSucceeded", "taskSucceededEventDetails": {"output": "{\"n\":2}"}},
            {"id": 9, "previousEventId": 8, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "Call"}},
            {"id": 10, "previousEventId": 9, "type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": "{\"n\":2}"}}
        ]});
        let recorded = read(&history).unwrap();
        assert_eq!(
            (recorded.input.clone(), recorded.status.as_str(), recorded.path.clone()),
            (json!({"a": 1}), "SUCCEEDED", vec!["Call".to_owned()])
        );
        let mocks = mock_config(&recorded, "m");
        assert_eq!(
            mocks["MockedResponses"]["Call (recorded)"],
            json!({"0-1": {"Throw": {"Error": "Busy", "Cause": "x"}}, "2": {"Return": {"n": 2}}})
        );
        let file = test_file(&recorded, "m.asl.json", "m.mock.json", "m", &Map::new());
        assert_eq!(file["cases"][0]["expect"], json!({"status": "SUCCEEDED", "output": {"n": 2}, "path": ["Call"]}));
        assert_eq!(file["clock"]["start"], "2026-01-01T00:00:00.000Z");
        assert!(read(&json!({"events": [history["events"][0].clone()]})).unwrap_err().contains("has not ended"));

        // Two Map iterations whose Task answered in the other order: numbered by iteration.
        let map = json!({"events": [
            {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}"}},
            {"id": 2, "previousEventId": 0, "type": "MapStateEntered", "stateEnteredEventDetails": {"name": "M", "input": "[1,2]"}},
            {"id": 3, "previousEventId": 2, "type": "MapStateStarted"},
            {"id": 4, "previousEventId": 3, "type": "MapIterationStarted", "mapIterationStartedEventDetails": {"index": 0}},
            {"id": 5, "previousEventId": 3, "type": "MapIterationStarted", "mapIterationStartedEventDetails": {"index": 1}},
            {"id": 6, "previousEventId": 4, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "T", "input": "1"}},
            {"id": 7, "previousEventId": 5, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "T", "input": "2"}},
            {"id": 8, "previousEventId": 7, "type": "TaskSucceeded", "taskSucceededEventDetails": {"output": "\"second\""}},
            {"id": 9, "previousEventId": 6, "type": "TaskSucceeded", "taskSucceededEventDetails": {"output": "\"first\""}},
            {"id": 10, "previousEventId": 9, "type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": "[]"}}
        ]});
        let recorded = read(&map).unwrap();
        assert_eq!(recorded.answers["T"], [json!({"Return": "first"}), json!({"Return": "second"})]);
        assert!(read(&json!(3)).is_err());
    }
}
