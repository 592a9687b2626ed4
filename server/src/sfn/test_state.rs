//! TestState: reads AWS's request fields, runs `sfnlite_engine::test_state` (the same code
//! `sfnlite test`'s single-state cases use), and answers in AWS's shape: the output, error
//! and cause as JSON text, `inspectionData` at DEBUG and TRACE, `nextState`, `status`.
//!
//! `mock.fieldValidationMode` is accepted but mocks are never checked against the
//! services' response shapes (sfnlite has no service models); `revealSecrets` has nothing
//! to reveal locally, but is refused with a mock as on AWS.

use serde_json::{Map, Value, json};
use sfnlite_engine::test_state::{TestStateRequest, test_state};
use sfnlite_states::eval::test_state::{Inspection, InspectionLevel, Mock, Refusal, StateConfiguration, TestOutcome};
use sfnlite_states::{ErrorName, StatesError};

use super::Api;
use super::error::ApiError;
use super::executions::parse_input;
use super::request::Request;

impl Api {
    pub(super) async fn test_state(&self, request: &Request) -> Result<Value, ApiError> {
        let definition = request.required("definition")?.to_owned();
        let level = match request.string("inspectionLevel")? {
            None => InspectionLevel::Info,
            Some(text) => InspectionLevel::parse(text).ok_or_else(|| {
                ApiError::constraint(
                    text,
                    "inspectionLevel",
                    "Member must satisfy enum value set: [INFO, DEBUG, TRACE]",
                )
            })?,
        };
        let mock = mock(request)?;
        if mock.is_some() && request.boolean("revealSecrets")? == Some(true) {
            return Err(ApiError::validation("TestState does not support RevealSecrets when a mock is specified."));
        }
        let variables = match request.string("variables")? {
            None => Map::new(),
            Some(text) => match serde_json::from_str(text) {
                Ok(Value::Object(variables)) => variables,
                _ => return Err(ApiError::validation("variables must be a JSON object")),
            },
        };
        let context = match request.string("context")? {
            None => None,
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(context @ Value::Object(_)) => Some(context),
                _ => return Err(ApiError::validation("context must be a JSON object")),
            },
        };
        let test = TestStateRequest {
            definition,
            state_name: request.string("stateName")?.map(str::to_owned),
            input: parse_input(request.string("input")?)?,
            context,
            variables,
            inspection_level: level,
            mock,
            configuration: configuration(request)?,
            role_arn: request.string("roleArn")?.map(str::to_owned),
            region: self.region.clone(),
        };
        let registry = self.adapters.registry("TestStateMachine", None).map_err(ApiError::validation)?;
        let seed = sfnlite_engine::entropy::os_seed();
        match test_state(&registry, &*self.clock, seed, &test).await {
            Ok(outcome) => Ok(answer(outcome, level)),
            Err(Refusal::Validation(message)) => Err(ApiError::validation(message)),
            Err(Refusal::InvalidDefinition(message)) => Err(ApiError::new("InvalidDefinition", message)),
        }
    }
}

/// `mock`: `result` (JSON text) or `errorOutput{error, cause}`, not both.
fn mock(request: &Request) -> Result<Option<Mock>, ApiError> {
    let Some(mock) = request.value("mock") else { return Ok(None) };
    let Value::Object(mock) = mock else {
        return Err(ApiError::serialization("Unexpected value for field 'mock': expected an object"));
    };
    match (mock.get("result"), mock.get("errorOutput")) {
        (Some(_), Some(_)) => Err(ApiError::validation("A mock can have either a result or an errorOutput, not both")),
        (Some(Value::String(text)), None) => serde_json::from_str(text)
            .map(|v| Some(Mock::Result(v)))
            .map_err(|e| ApiError::validation(format!("Mocked result must be valid JSON: {e}"))),
        (None, Some(Value::Object(error))) => {
            let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
            let Some(name) = text("error") else {
                return Err(ApiError::constraint("null", "mock.errorOutput.error", "Member must not be null"));
            };
            let name = ErrorName::parse(&name);
            Ok(Some(Mock::Error(StatesError { error: name, cause: text("cause") })))
        }
        (None, None) => Err(ApiError::validation("A mock must have a result or an errorOutput")),
        _ => Err(ApiError::serialization("mock.result must be a string and mock.errorOutput an object")),
    }
}

/// `stateConfiguration`.
fn configuration(request: &Request) -> Result<StateConfiguration, ApiError> {
    let Some(Value::Object(config)) = request.value("stateConfiguration") else {
        return Ok(StateConfiguration::default());
    };
    let count = |key: &str| -> Result<Option<u64>, ApiError> {
        match config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ApiError::constraint(
                    &v.to_string(),
                    &format!("stateConfiguration.{key}"),
                    "Member must be a non-negative integer",
                )
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
                ApiError::validation(format!("stateConfiguration.mapItemReaderData must be JSON: {e}"))
            })?),
            Some(_) => return Err(ApiError::serialization("stateConfiguration.mapItemReaderData must be a string")),
        },
    })
}

/// TestState's response.
fn answer(outcome: TestOutcome, level: InspectionLevel) -> Value {
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
