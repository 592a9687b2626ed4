//! TestState in AWS's JSON: the request's `mock` and `stateConfiguration` read into
//! [`Mock`] and [`StateConfiguration`], and the response (`status`, `output` and the
//! inspection data as JSON text, `error`, `cause`, `nextState`, `inspectionData`). Both
//! `serve`'s TestState and `sfnlite test`'s single-state cases use these.

use serde_json::{Map, Value, json};

use super::test_state::{Inspection, InspectionLevel, Mock, StateConfiguration, TestOutcome};
use crate::error::{ErrorName, StatesError};

/// A request field AWS would refuse, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    /// `ValidationException`.
    Validation(String),
    /// `SerializationException` (a field of the wrong JSON type).
    Serialization(String),
    /// A constraint of the API model.
    Constraint {
        /// The value given.
        value: String,
        /// Where (`mock.errorOutput.error`).
        field: String,
        /// The rule it fails.
        rule: String,
    },
}

/// How strictly a request is read: as AWS's API reads it, or as a test file may write it
/// (JSON values where the API takes JSON text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The API: `mock.result` and `mapItemReaderData` are JSON text.
    Api,
    /// A test file: they may be JSON values too.
    TestFile,
}

/// `mock`: `result` (JSON text) or `errorOutput{error, cause}`, not both.
pub fn mock(value: &Value, reading: Reading) -> Result<Mock, FieldError> {
    let Value::Object(mock) = value else {
        return Err(FieldError::Serialization("Unexpected value for field 'mock': expected an object".into()));
    };
    match (mock.get("result"), mock.get("errorOutput")) {
        (Some(_), Some(_)) => {
            Err(FieldError::Validation("A mock can have either a result or an errorOutput, not both".into()))
        }
        (Some(Value::String(text)), None) => serde_json::from_str(text)
            .map(Mock::Result)
            .map_err(|e| FieldError::Validation(format!("Mocked result must be valid JSON: {e}"))),
        (Some(result), None) if reading == Reading::TestFile && !result.is_null() => Ok(Mock::Result(result.clone())),
        (None, Some(Value::Object(error))) => {
            let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
            let Some(name) = text("error") else {
                return Err(FieldError::Constraint {
                    value: "null".into(),
                    field: "mock.errorOutput.error".into(),
                    rule: "Member must not be null".into(),
                });
            };
            Ok(Mock::Error(StatesError { error: ErrorName::parse(&name), cause: text("cause") }))
        }
        (None, None) => Err(FieldError::Validation("A mock must have a result or an errorOutput".into())),
        _ => Err(FieldError::Serialization("mock.result must be a string and mock.errorOutput an object".into())),
    }
}

/// `stateConfiguration` (`mapItemReaderData` as JSON text). A test file's may not name
/// other fields (a typo would otherwise be ignored).
pub fn configuration(value: Option<&Value>, reading: Reading) -> Result<StateConfiguration, FieldError> {
    let Some(Value::Object(config)) = value else { return Ok(StateConfiguration::default()) };
    const FIELDS: [&str; 4] =
        ["retrierRetryCount", "errorCausedByState", "mapIterationFailureCount", "mapItemReaderData"];
    if reading == Reading::TestFile
        && let Some(unknown) = config.keys().find(|k| !FIELDS.contains(&k.as_str()))
    {
        return Err(FieldError::Validation(format!(
            "unknown field {unknown} (expected one of: {})",
            FIELDS.join(", ")
        )));
    }
    let count = |key: &str| -> Result<Option<u64>, FieldError> {
        match config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| FieldError::Constraint {
                value: v.to_string(),
                field: format!("stateConfiguration.{key}"),
                rule: "Member must be a non-negative integer".into(),
            }),
        }
    };
    Ok(StateConfiguration {
        retrier_retry_count: count("retrierRetryCount")?.unwrap_or(0),
        error_caused_by_state: config.get("errorCausedByState").and_then(Value::as_str).map(str::to_owned),
        map_iteration_failure_count: count("mapIterationFailureCount")?,
        map_item_reader_data: match config.get("mapItemReaderData") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(serde_json::from_str(text).map_err(|e| {
                FieldError::Validation(format!("stateConfiguration.mapItemReaderData must be JSON: {e}"))
            })?),
            Some(items @ Value::Array(_)) if reading == Reading::TestFile => Some(items.clone()),
            Some(_) => {
                return Err(FieldError::Serialization("stateConfiguration.mapItemReaderData must be a string".into()));
            }
        },
    })
}

/// TestState's response.
pub fn response(outcome: &TestOutcome, level: InspectionLevel) -> Value {
    let mut out = json!({"status": outcome.status.as_str()});
    if let Some(output) = &outcome.output {
        out["output"] = json!(output.to_string());
    }
    if let Some(error) = &outcome.error {
        let value = error.to_value();
        out["error"] = value["Error"].clone();
        if let Some(cause) = value.get("Cause").filter(|c| !c.is_null()) {
            out["cause"] = cause.clone();
        }
    }
    if let Some(next) = &outcome.next_state {
        out["nextState"] = json!(next);
    }
    if level != InspectionLevel::Info {
        out["inspectionData"] = inspection_data(&outcome.inspection);
    }
    out
}

/// The fields of a response (and of its `inspectionData`) that hold JSON as text.
pub const JSON_TEXT_FIELDS: [&str; 11] = [
    "output",
    "input",
    "afterInputPath",
    "afterParameters",
    "afterArguments",
    "result",
    "afterResultSelector",
    "afterResultPath",
    "afterItemsPath",
    "afterItemSelector",
    "variables",
];

fn inspection_data(inspection: &Inspection) -> Value {
    let mut data = Map::new();
    let text = |value: &Option<Value>| value.as_ref().map(|v| Value::String(v.to_string()));
    for (key, value) in [
        ("input", &inspection.input),
        ("afterInputPath", &inspection.after_input_path),
        ("afterParameters", &inspection.after_parameters),
        ("afterArguments", &inspection.after_arguments),
        ("result", &inspection.result),
        ("afterResultSelector", &inspection.after_result_selector),
        ("afterResultPath", &inspection.after_result_path),
        ("afterItemsPath", &inspection.after_items_path),
        ("afterItemSelector", &inspection.after_item_selector),
    ] {
        if let Some(value) = text(value) {
            data.insert(key.into(), value);
        }
    }
    if let Some(variables) = &inspection.variables {
        data.insert("variables".into(), json!(Value::Object(variables.clone()).to_string()));
    }
    if let Some(count) = inspection.tolerated_failure_count {
        data.insert("toleratedFailureCount".into(), json!(count));
    }
    if let Some(percentage) = inspection.tolerated_failure_percentage {
        data.insert("toleratedFailurePercentage".into(), json!(percentage));
    }
    if let Some(max) = inspection.max_concurrency {
        data.insert("maxConcurrency".into(), json!(max));
    }
    if let Some(details) = inspection.error_details {
        let mut map = Map::new();
        if let Some(i) = details.catch_index {
            map.insert("catchIndex".into(), json!(i));
        }
        if let Some(i) = details.retry_index {
            map.insert("retryIndex".into(), json!(i));
        }
        if let Some(s) = details.retry_backoff_interval_seconds {
            map.insert("retryBackoffIntervalSeconds".into(), json!(s));
        }
        data.insert("errorDetails".into(), Value::Object(map));
    }
    Value::Object(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mocks_and_configurations_as_aws_reads_them() {
        use Reading::{Api, TestFile};
        assert_eq!(mock(&json!({"result": "{\"a\":1}"}), Api), Ok(Mock::Result(json!({"a": 1}))));
        assert!(matches!(mock(&json!({"result": {"a": 1}}), Api), Err(FieldError::Serialization(_))), "AWS takes text");
        assert_eq!(
            mock(&json!({"result": {"a": 1}}), TestFile),
            Ok(Mock::Result(json!({"a": 1}))),
            "a test file, a value"
        );
        assert!(matches!(mock(&json!({"result": null}), TestFile), Err(FieldError::Serialization(_))));
        assert!(matches!(mock(&json!({"result": "1", "errorOutput": {}}), Api), Err(FieldError::Validation(_))));
        assert!(matches!(mock(&json!({"errorOutput": {"cause": "c"}}), Api), Err(FieldError::Constraint { .. })));
        let config = configuration(Some(&json!({"retrierRetryCount": 2, "mapItemReaderData": "[1]"})), Api).unwrap();
        assert_eq!((config.retrier_retry_count, config.map_item_reader_data), (2, Some(json!([1]))));
        assert!(matches!(
            configuration(Some(&json!({"retrierRetryCount": -1})), Api),
            Err(FieldError::Constraint { .. })
        ));
        assert!(configuration(Some(&json!({"mapItemReaderData": [1]})), Api).is_err());
        assert!(configuration(Some(&json!({"mapItemReaderData": [1]})), TestFile).is_ok());
        assert!(configuration(Some(&json!({"retrierRetryCuont": 1})), TestFile).is_err(), "a typo");
    }
}
