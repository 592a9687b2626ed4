//! Single-state cases: one state of the file's definition tested with TestState's
//! semantics and field names, so that a case can be checked against AWS's TestState
//! unchanged (and `serve`'s TestState runs the same code).
//!
//! ```yaml
//! - name: the retrier waits 4 s before the second retry
//!   stateName: Charge                 # TestState's fields, as AWS names them
//!   input: { amount: 5 }
//!   mock: { errorOutput: { error: Lambda.ServiceException, cause: busy } }   # or result: {...}
//!   stateConfiguration: { retrierRetryCount: 1 }
//!   inspectionLevel: DEBUG            # INFO (default), DEBUG, TRACE
//!   context: {...}                    # $$, with a mock
//!   variables: {...}
//!   expect:                           # TestState's response fields
//!     status: RETRIABLE               # SUCCEEDED | FAILED | RETRIABLE | CAUGHT_ERROR
//!     nextState: Charge
//!     inspectionData: { errorDetails: { retryIndex: 0, retryBackoffIntervalSeconds: 4 } }
//! ```
//!
//! `output` and the inspection data's JSON-text fields are compared as JSON (a string
//! holding JSON, as AWS's response has it, is read first); `inspectionData` is a subset.

use std::sync::Arc;

use serde_json::{Map, Value};
use sfnlite_engine::clock::VirtualClock;
use sfnlite_engine::test_state::{TestStateRequest, test_state};
use sfnlite_engine::{HistoryStore, MemoryStore, Registry};
use sfnlite_states::eval::test_state::{InspectionLevel, Mock, Refusal, StateConfiguration};
use sfnlite_states::eval::test_state_api::{self, FieldError, JSON_TEXT_FIELDS, Reading};

use super::expect::{Mismatch, differences};
use super::file::kind;
use crate::commands::services::{self, Services};

/// A single-state case's request.
#[derive(Debug)]
pub(crate) struct SingleState {
    state_name: String,
    context: Option<Value>,
    variables: Map<String, Value>,
    mock: Option<Mock>,
    configuration: StateConfiguration,
    level: InspectionLevel,
    expect: Map<String, Value>,
}

/// The fields a single-state case may have.
pub(crate) const FIELDS: [&str; 10] = [
    "name",
    "stateName",
    "input",
    "inputFile",
    "context",
    "variables",
    "mock",
    "stateConfiguration",
    "inspectionLevel",
    "expect",
];

const EXPECTED: [&str; 8] =
    ["status", "output", "outputContains", "error", "cause", "causeContains", "nextState", "inspectionData"];

const STATUSES: [&str; 4] = ["SUCCEEDED", "FAILED", "RETRIABLE", "CAUGHT_ERROR"];

fn field_error(at: &str, error: FieldError) -> String {
    match error {
        FieldError::Validation(message) | FieldError::Serialization(message) => format!("{at}: {message}"),
        FieldError::Constraint { value, field, rule } => format!("{at}: {field} = {value}: {rule}"),
    }
}

/// Reads the TestState fields of case `object` (at pointer `at`).
pub(crate) fn read(object: &Map<String, Value>, at: &str) -> Result<SingleState, String> {
    if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "{at}/{unknown}: unknown field of a single-state case (expected one of: {})",
            FIELDS.join(", ")
        ));
    }
    let state_name = match object.get("stateName") {
        Some(Value::String(name)) => name.clone(),
        other => {
            return Err(format!("{at}/stateName: expected a state's name, found {}", other.map_or("nothing", kind)));
        }
    };
    let context = match object.get("context") {
        None => None,
        Some(context @ Value::Object(_)) => Some(context.clone()),
        Some(other) => return Err(format!("{at}/context: expected an object, found {}", kind(other))),
    };
    let variables = match object.get("variables") {
        None => Map::new(),
        Some(Value::Object(variables)) => variables.clone(),
        Some(other) => return Err(format!("{at}/variables: expected an object, found {}", kind(other))),
    };
    let mock = object
        .get("mock")
        .map(|m| test_state_api::mock(m, Reading::TestFile))
        .transpose()
        .map_err(|e| field_error(&format!("{at}/mock"), e))?;
    let configuration = test_state_api::configuration(object.get("stateConfiguration"), Reading::TestFile)
        .map_err(|e| field_error(&format!("{at}/stateConfiguration"), e))?;
    let level = match object.get("inspectionLevel") {
        None => InspectionLevel::Info,
        Some(Value::String(text)) => InspectionLevel::parse(text)
            .ok_or_else(|| format!("{at}/inspectionLevel: '{text}' is not INFO, DEBUG or TRACE"))?,
        Some(other) => return Err(format!("{at}/inspectionLevel: expected a string, found {}", kind(other))),
    };
    let expect = match object.get("expect") {
        Some(Value::Object(expect)) => expect.clone(),
        Some(other) => return Err(format!("{at}/expect: expected an object, found {}", kind(other))),
        None => return Err(format!("{at}/expect: missing (what the case checks)")),
    };
    if let Some(unknown) = expect.keys().find(|k| !EXPECTED.contains(&k.as_str())) {
        return Err(format!(
            "{at}/expect/{unknown}: unknown field of a single-state case (expected one of: {})",
            EXPECTED.join(", ")
        ));
    }
    if let Some(status) = expect.get("status")
        && !status.as_str().is_some_and(|s| STATUSES.contains(&s))
    {
        return Err(format!("{at}/expect/status: {status} is not a TestState status ({})", STATUSES.join(", ")));
    }
    Ok(SingleState { state_name, context, variables, mock, configuration, level, expect })
}

/// Reads JSON text (a response's or an expectation's) as JSON; other values as they are.
fn as_json(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
        other => other.clone(),
    }
}

/// The response with its JSON-text fields read as JSON.
fn readable(response: &Value) -> Value {
    let mut response = response.clone();
    if let Some(output) = response.get("output").map(as_json) {
        response["output"] = output;
    }
    if let Some(Value::Object(data)) = response.get_mut("inspectionData") {
        for key in JSON_TEXT_FIELDS {
            if let Some(value) = data.get(key).map(as_json) {
                data.insert(key.into(), value);
            }
        }
    }
    response
}

/// Runs the case on `definition` and checks its response.
pub(crate) fn run(
    single: &SingleState,
    definition: &str,
    input: &Value,
    (start, seed): (i64, u64),
    services: &Services,
) -> Result<Vec<Mismatch>, String> {
    let request = TestStateRequest {
        definition: definition.to_owned(),
        state_name: Some(single.state_name.clone()),
        input: input.clone(),
        context: single.context.clone(),
        variables: single.variables.clone(),
        inspection_level: single.level,
        mock: single.mock.clone(),
        configuration: single.configuration.clone(),
        role_arn: Some("arn:aws:iam::123456789012:role/sfnlite".into()),
        region: services.lambda.region().to_owned(),
    };
    let mut registry = Registry::new();
    let logs: Arc<dyn HistoryStore> = Arc::new(MemoryStore::new());
    services::register(&mut registry, services, true, Some(logs));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let outcome = runtime.block_on(async {
        let clock = VirtualClock::starting_at(start);
        test_state(&registry, &clock, seed, &request).await
    });
    let response = match outcome {
        Ok(outcome) => test_state_api::response(&outcome, single.level),
        Err(Refusal::Validation(message)) => return Err(format!("TestState refuses the case: {message}")),
        Err(Refusal::InvalidDefinition(message)) => return Err(format!("TestState refuses the definition: {message}")),
    };
    Ok(check(&single.expect, &readable(&response)))
}

/// What differs between the expected fields and the (readable) response.
fn check(expect: &Map<String, Value>, response: &Value) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let text = |value: &Value| value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    let shown = |value: Option<&Value>| value.map_or_else(|| "none".to_owned(), text);
    for (key, expected) in expect {
        match key.as_str() {
            "output" | "outputContains" => {
                let actual = response.get("output").cloned().unwrap_or(Value::Null);
                for (pointer, want, got) in differences(&as_json(expected), &actual, key == "outputContains") {
                    let at = if pointer.is_empty() { String::new() } else { format!(" {pointer}") };
                    out.push(Mismatch { what: format!("{key}{at}"), expected: want, actual: got });
                }
            }
            "inspectionData" => {
                let mut wanted = expected.clone();
                if let Value::Object(data) = &mut wanted {
                    for key in JSON_TEXT_FIELDS {
                        if let Some(value) = data.get(key).map(as_json) {
                            data.insert(key.into(), value);
                        }
                    }
                }
                let actual = response.get("inspectionData").cloned().unwrap_or(Value::Null);
                for (pointer, want, got) in differences(&wanted, &actual, true) {
                    out.push(Mismatch { what: format!("inspectionData{pointer}"), expected: want, actual: got });
                }
            }
            "causeContains" => {
                let cause = response.get("cause").and_then(Value::as_str);
                if !cause.is_some_and(|c| expected.as_str().is_some_and(|part| c.contains(part))) {
                    out.push(Mismatch {
                        what: key.clone(),
                        expected: text(expected),
                        actual: shown(response.get("cause")),
                    });
                }
            }
            _ => {
                if response.get(key) != Some(expected) {
                    out.push(Mismatch {
                        what: key.clone(),
                        expected: text(expected),
                        actual: shown(response.get(key)),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn responses_are_compared_as_json() {
        let response =
            readable(&json!({"status": "CAUGHT_ERROR", "output": "{\"a\":1,\"b\":2}", "nextState": "Refund",
            "inspectionData": {"afterInputPath": "{\"x\":1}", "errorDetails": {"catchIndex": 0}}}));
        let expect = |e: Value| check(e.as_object().unwrap(), &response);
        assert_eq!(expect(json!({"status": "CAUGHT_ERROR", "outputContains": {"a": 1}, "nextState": "Refund"})), []);
        assert_eq!(
            expect(json!({"inspectionData": {"afterInputPath": "{\"x\": 1}", "errorDetails": {"catchIndex": 0}}})),
            []
        );
        let wrong: Vec<String> = expect(
            json!({"status": "FAILED", "output": {"a": 1}, "inspectionData": {"errorDetails": {"catchIndex": 1}}}),
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            wrong,
            [
                "status: expected FAILED, got CAUGHT_ERROR",
                "output /b: expected no such key, got 2",
                "inspectionData/errorDetails/catchIndex: expected 1, got 0",
            ]
        );
    }
}
