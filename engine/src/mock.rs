//! Mocked task responses in the AWS Step Functions Local `MockConfigFile` format:
//!
//! ```json
//! {"StateMachines": {"<machine>": {"TestCases": {"<test case>": {"<Task state>": "<mock name>"}}}},
//!  "MockedResponses": {"<mock name>": {"0": {"Return": {...}}, "1-2": {"Throw": {"Error": "E", "Cause": "C"}}}}}
//! ```
//!
//! Each invocation of a mocked state (retries and Map iterations included) takes the next
//! response: invocation `n` (0-based) uses the entry whose key is `n` or a range `a-b`
//! containing it. For legacy Lambda function ARNs the mocked `Return` is the Invoke
//! response `{"StatusCode", "Payload"}` and the state's result is its `Payload`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use sfnlite_states::resource::Resource;
use sfnlite_states::{ErrorName, StatesError};

use crate::adapter::{TaskAdapter, TaskRequest};
use crate::clock::BoxFuture;

/// A problem in a mock configuration file, with its location.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct MockConfigError {
    /// A JSON pointer into the file.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone)]
enum Response {
    Return(Value),
    Throw(StatesError),
}

#[derive(Debug, Clone)]
struct Mock {
    /// (first, last, response), sorted by `first`.
    ranges: Vec<(u64, u64, Response)>,
}

/// The mocks of one test case: an adapter that answers the states it names.
#[derive(Debug)]
pub struct MockAdapter {
    mocks: HashMap<String, Mock>,
    invocations: Mutex<HashMap<String, u64>>,
}

fn bad(location: impl Into<String>, message: impl Into<String>) -> MockConfigError {
    MockConfigError { location: location.into(), message: message.into() }
}

impl MockAdapter {
    /// Reads a MockConfigFile and selects a test case. `state_machine` may be omitted when
    /// the file describes exactly one state machine.
    pub fn from_config(
        config: &Value,
        state_machine: Option<&str>,
        test_case: &str,
    ) -> Result<MockAdapter, MockConfigError> {
        let machines = config
            .get("StateMachines")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("/StateMachines", "expected an object of state machines"))?;
        let (machine_name, machine) = match state_machine {
            Some(name) => (
                name.to_owned(),
                machines.get(name).ok_or_else(|| {
                    let known: Vec<&str> = machines.keys().map(String::as_str).collect();
                    bad(
                        "/StateMachines",
                        format!("no state machine named '{name}' (the file has: {})", known.join(", ")),
                    )
                })?,
            ),
            None if machines.len() == 1 => {
                let (name, machine) = machines.iter().next().expect("one entry");
                (name.clone(), machine)
            }
            None => {
                return Err(bad(
                    "/StateMachines",
                    format!(
                        "the file describes {} state machines; choose one with --state-machine-name",
                        machines.len()
                    ),
                ));
            }
        };
        let cases_loc = format!("/StateMachines/{machine_name}/TestCases");
        let case = machine
            .get("TestCases")
            .and_then(Value::as_object)
            .ok_or_else(|| bad(&cases_loc, "expected an object of test cases"))?
            .get(test_case)
            .ok_or_else(|| bad(&cases_loc, format!("no test case named '{test_case}'")))?
            .as_object()
            .ok_or_else(|| bad(format!("{cases_loc}/{test_case}"), "expected an object of state name → mock name"))?;
        let responses = config.get("MockedResponses").and_then(Value::as_object);
        let mut mocks = HashMap::new();
        for (state, mock_name) in case {
            let here = format!("{cases_loc}/{test_case}/{state}");
            let mock_name = mock_name.as_str().ok_or_else(|| bad(&here, "expected the name of a mocked response"))?;
            let mock_loc = format!("/MockedResponses/{mock_name}");
            let entries = responses.and_then(|r| r.get(mock_name)).and_then(Value::as_object).ok_or_else(|| {
                bad(&mock_loc, format!("the mocked response '{mock_name}' (used by state '{state}') is not defined"))
            })?;
            let mut ranges = Vec::new();
            for (key, entry) in entries {
                let entry_loc = format!("{mock_loc}/{key}");
                let (first, last) = parse_range(key).ok_or_else(|| {
                    bad(&entry_loc, "keys must be invocation numbers such as \"0\" or ranges such as \"1-3\"")
                })?;
                ranges.push((first, last, parse_response(entry, &entry_loc)?));
            }
            ranges.sort_by_key(|r| r.0);
            mocks.insert(state.clone(), Mock { ranges });
        }
        Ok(MockAdapter { mocks, invocations: Mutex::new(HashMap::new()) })
    }

    fn next_response(&self, state: &str) -> Option<(u64, Option<Response>)> {
        let mock = self.mocks.get(state)?;
        let mut counts = self.invocations.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(state.to_owned()).or_insert(0);
        let invocation = *n;
        *n += 1;
        let found = mock.ranges.iter().find(|(a, b, _)| (*a..=*b).contains(&invocation)).map(|r| r.2.clone());
        Some((invocation, found))
    }
}

fn parse_range(key: &str) -> Option<(u64, u64)> {
    match key.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => key.trim().parse().ok().map(|n| (n, n)),
    }
}

fn parse_response(entry: &Value, location: &str) -> Result<Response, MockConfigError> {
    let shape = "expected {\"Return\": …} or {\"Throw\": {\"Error\": …, \"Cause\": …}}";
    let Some(object) = entry.as_object() else { return Err(bad(location, shape)) };
    if let Some(other) = object.keys().find(|k| *k != "Return" && *k != "Throw") {
        return Err(bad(format!("{location}/{other}"), format!("unknown field; {shape}")));
    }
    match (object.get("Return"), object.get("Throw")) {
        (Some(_), Some(_)) => Err(bad(location, "an entry has either Return or Throw, not both")),
        (Some(value), None) => Ok(Response::Return(value.clone())),
        (None, Some(throw)) => {
            let text = |field: &str| {
                throw.get(field).and_then(Value::as_str).ok_or_else(|| {
                    bad(format!("{location}/Throw/{field}"), "expected a string (Throw needs Error and Cause)")
                })
            };
            let error = text("Error")?;
            let cause = text("Cause")?.to_owned();
            Ok(Response::Throw(StatesError { error: ErrorName::parse(error), cause: Some(cause) }))
        }
        (None, None) => Err(bad(location, shape)),
    }
}

impl TaskAdapter for MockAdapter {
    fn completes_callbacks(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        "mock"
    }

    fn handles(&self, state_name: &str, _resource: &Resource) -> bool {
        self.mocks.contains_key(state_name)
    }

    fn replayed(&self, request: &TaskRequest) {
        self.next_response(&request.state_name);
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        let outcome = match self.next_response(&request.state_name) {
            Some((_, Some(Response::Return(value)))) => {
                if matches!(*request.resource, Resource::LambdaFunction(_)) {
                    Ok(value.get("Payload").cloned().unwrap_or(value))
                } else {
                    Ok(value)
                }
            }
            Some((_, Some(Response::Throw(error)))) => Err(error),
            Some((n, None)) => Err(StatesError::new(
                ErrorName::Runtime,
                format!("the mock for state '{}' has no response for invocation {n}", request.state_name),
            )),
            None => Err(StatesError::new(ErrorName::Runtime, format!("no mock for state '{}'", request.state_name))),
        };
        Box::pin(async move { outcome })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ranges_and_errors() {
        assert_eq!(parse_range("0"), Some((0, 0)));
        assert_eq!(parse_range("1-3"), Some((1, 3)));
        assert_eq!(parse_range("3-1"), None);
        let config = json!({"StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}}, "MockedResponses": {}});
        let err = MockAdapter::from_config(&config, None, "T").unwrap_err();
        assert_eq!(err.location, "/MockedResponses/R");
        let err = MockAdapter::from_config(&config, Some("X"), "T").unwrap_err();
        assert!(err.message.contains("no state machine named 'X'"), "{err}");
        let entry = |response: serde_json::Value| {
            let config = json!({"StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}},
                "MockedResponses": {"R": {"0": response}}});
            MockAdapter::from_config(&config, None, "T").map(|_| ()).map_err(|e| e.to_string())
        };
        assert_eq!(entry(json!({"Return": 1})), Ok(()));
        assert_eq!(
            entry(json!({"Return": 1, "Throw": {"Error": "E", "Cause": "c"}})),
            Err("/MockedResponses/R/0: an entry has either Return or Throw, not both".into())
        );
        assert_eq!(
            entry(json!({"Throw": {"Error": "E"}})),
            Err("/MockedResponses/R/0/Throw/Cause: expected a string (Throw needs Error and Cause)".into())
        );
        assert!(entry(json!({"Retrun": 1})).unwrap_err().contains("/MockedResponses/R/0/Retrun: unknown field"));
    }
}
