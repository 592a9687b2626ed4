//! ASL errors as data: the `{Error, Cause}` pairs that Retry and Catch see.
//!
//! Error *names* (`ErrorName`) are kept apart from error *matchers* (`ErrorMatcher`):
//! `States.ALL` is a matcher only, so it can never be raised.

use std::fmt;

use serde_json::Value;

/// The name of an ASL error, either one of the predefined `States.*` names or a custom one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// `States.Timeout`: a Task ran longer than `TimeoutSeconds` or missed a heartbeat, or the execution timed out.
    Timeout,
    /// A Task missed its heartbeat. Only `Retry` and `Catch` know it as
    /// `States.HeartbeatTimeout`; AWS reports it as `States.Timeout` (histories, Catch's
    /// `Error`), and `States.Timeout` matchers match it too.
    HeartbeatTimeout,
    /// `States.TaskFailed`: a Task failed during execution.
    TaskFailed,
    /// `States.Permissions`: insufficient privileges.
    Permissions,
    /// `States.ResultPathMatchFailure`: ResultPath could not be applied to the input.
    ResultPathMatchFailure,
    /// `States.ParameterPathFailure`: a `.$` field of Parameters could not be resolved.
    ParameterPathFailure,
    /// `States.QueryEvaluationError`: a JSONata expression failed.
    QueryEvaluationError,
    /// `States.BranchFailed`: a Parallel branch failed.
    BranchFailed,
    /// `States.NoChoiceMatched`: no Choice rule matched and there is no Default.
    NoChoiceMatched,
    /// `States.IntrinsicFailure`: an intrinsic function failed.
    IntrinsicFailure,
    /// `States.ExceedToleratedFailureThreshold`: a Map had more failures than tolerated.
    ExceedToleratedFailureThreshold,
    /// `States.ItemReaderFailed`: a distributed Map could not read its items.
    ItemReaderFailed,
    /// `States.ResultWriterFailed`: a distributed Map could not write its results.
    ResultWriterFailed,
    /// `States.DataLimitExceeded`: a payload exceeded the service quota.
    DataLimitExceeded,
    /// `States.Runtime`: a runtime exception that cannot be caught or retried.
    Runtime,
    /// Any other name, such as `Lambda.ServiceException` or a user's `CustomError`.
    Custom(String),
}

const PREDEFINED: &[(&str, ErrorName)] = &[
    ("States.Timeout", ErrorName::Timeout),
    ("States.HeartbeatTimeout", ErrorName::HeartbeatTimeout),
    ("States.TaskFailed", ErrorName::TaskFailed),
    ("States.Permissions", ErrorName::Permissions),
    ("States.ResultPathMatchFailure", ErrorName::ResultPathMatchFailure),
    ("States.ParameterPathFailure", ErrorName::ParameterPathFailure),
    ("States.QueryEvaluationError", ErrorName::QueryEvaluationError),
    ("States.BranchFailed", ErrorName::BranchFailed),
    ("States.NoChoiceMatched", ErrorName::NoChoiceMatched),
    ("States.IntrinsicFailure", ErrorName::IntrinsicFailure),
    ("States.ExceedToleratedFailureThreshold", ErrorName::ExceedToleratedFailureThreshold),
    ("States.ItemReaderFailed", ErrorName::ItemReaderFailed),
    ("States.ResultWriterFailed", ErrorName::ResultWriterFailed),
    ("States.DataLimitExceeded", ErrorName::DataLimitExceeded),
    ("States.Runtime", ErrorName::Runtime),
];

impl ErrorName {
    /// Parses an error name; unknown names (including unknown `States.*` ones) become `Custom`.
    pub fn parse(name: &str) -> ErrorName {
        PREDEFINED
            .iter()
            .find(|(text, _)| *text == name)
            .map(|(_, it)| it.clone())
            .unwrap_or_else(|| ErrorName::Custom(name.to_owned()))
    }

    /// The exact ASL spelling, e.g. `States.TaskFailed`.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorName::Custom(name) => name,
            ErrorName::HeartbeatTimeout => "States.Timeout",
            known => PREDEFINED.iter().find(|(_, it)| it == known).map(|(text, _)| *text).unwrap_or("States.Runtime"),
        }
    }

    /// True for the names listed in the ASL specification's predefined error table, and
    /// the HTTP Task's (`States.Http.Socket`, `States.Http.StatusCode.NNN`).
    pub fn is_predefined(name: &str) -> bool {
        let http_status = name
            .strip_prefix("States.Http.StatusCode.")
            .is_some_and(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()));
        name == "States.ALL"
            || name == "States.Http.Socket"
            || http_status
            || PREDEFINED.iter().any(|(text, _)| *text == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a Retrier's or Catcher's `ErrorEquals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorMatcher {
    /// `States.ALL`.
    All,
    /// Any other name, matched as the rules below describe.
    Name(ErrorName),
}

impl ErrorMatcher {
    /// Parses an `ErrorEquals` entry.
    pub fn parse(text: &str) -> ErrorMatcher {
        if text == "States.ALL" { ErrorMatcher::All } else { ErrorMatcher::Name(ErrorName::parse(text)) }
    }

    /// Whether this matcher applies to `error`.
    ///
    /// ASL: "`States.ALL` … matches any known error name", but it "cannot catch
    /// `States.DataLimitExceeded` or `States.Runtime`" (those terminate the execution).
    /// `States.TaskFailed` "acts as a wildcard that matches any known error except for
    /// `States.Timeout`"; it does not reach the two uncatchable errors either.
    pub fn matches(&self, error: &ErrorName) -> bool {
        if matches!(error, ErrorName::Runtime | ErrorName::DataLimitExceeded) {
            return false;
        }
        match self {
            ErrorMatcher::All => true,
            ErrorMatcher::Name(ErrorName::TaskFailed) => {
                !matches!(error, ErrorName::Timeout | ErrorName::HeartbeatTimeout)
            }
            ErrorMatcher::Name(ErrorName::Timeout) => matches!(error, ErrorName::Timeout | ErrorName::HeartbeatTimeout),
            ErrorMatcher::Name(name) => name == error,
        }
    }
}

/// An ASL error value: what a failing state raises and what Catch writes at its ResultPath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatesError {
    /// The error name (`Error`).
    pub error: ErrorName,
    /// The human-readable cause (`Cause`), when there is one.
    pub cause: Option<String>,
}

impl StatesError {
    /// An error with a cause.
    pub fn new(error: ErrorName, cause: impl Into<String>) -> StatesError {
        StatesError { error, cause: Some(cause.into()) }
    }

    /// A `States.Runtime` error with AWS's prefix naming the state and the event it entered at.
    pub fn runtime(state: &str, entered_event_id: u64, detail: &str) -> StatesError {
        StatesError::new(
            ErrorName::Runtime,
            format!(
                "An error occurred while executing the state '{state}' (entered at the event id #{entered_event_id}). {detail}"
            ),
        )
    }

    /// The `{"Error": …, "Cause": …}` object that Catch passes on.
    pub fn to_value(&self) -> Value {
        let mut map = serde_json::Map::new();
        // An error with no name (SendTaskFailure without `error`): AWS gives both as null.
        if self.error == ErrorName::Custom(String::new()) {
            map.insert("Error".into(), Value::Null);
            map.insert("Cause".into(), self.cause.clone().map_or(Value::Null, Value::String));
            return Value::Object(map);
        }
        map.insert("Error".into(), Value::String(self.error.as_str().to_owned()));
        if let Some(cause) = &self.cause {
            map.insert("Cause".into(), Value::String(cause.clone()));
        }
        Value::Object(map)
    }
}

impl fmt::Display for StatesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {}", self.error, cause),
            None => write!(f, "{}", self.error),
        }
    }
}

/// An error raised while evaluating a state's fields, before the state name and event id are known.
///
/// The interpreter turns it into a [`StatesError`] with [`EvalError::into_states_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A `States.Runtime` failure; the text is the part after AWS's "An error occurred…" prefix.
    Runtime(String),
    /// A `States.QueryEvaluationError` (a JSONata expression failed); the text is the part
    /// after the same prefix.
    Query(String),
    /// Any other ASL error (`States.IntrinsicFailure`, `States.QueryEvaluationError`, …).
    Raised(StatesError),
}

impl EvalError {
    /// A `States.IntrinsicFailure` with the given cause.
    pub fn intrinsic(cause: impl Into<String>) -> EvalError {
        EvalError::Raised(StatesError::new(ErrorName::IntrinsicFailure, cause))
    }

    /// Completes the error with the failing state's name and the id of its `…StateEntered` event.
    pub fn into_states_error(self, state: &str, entered_event_id: u64) -> StatesError {
        match self {
            EvalError::Runtime(detail) => StatesError::runtime(state, entered_event_id, &detail),
            EvalError::Query(detail) => StatesError::new(
                ErrorName::QueryEvaluationError,
                format!(
                    "An error occurred while executing the state '{state}' (entered at the event id #{entered_event_id}). {detail}"
                ),
            ),
            EvalError::Raised(error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_predefined_name_round_trips() {
        for (text, name) in PREDEFINED {
            assert_eq!(ErrorName::parse(text), *name);
            // A missed heartbeat is reported as AWS reports it.
            let shown = if *name == ErrorName::HeartbeatTimeout { "States.Timeout" } else { *text };
            assert_eq!(name.as_str(), shown);
        }
        let heartbeat = ErrorName::HeartbeatTimeout;
        assert!(ErrorMatcher::parse("States.HeartbeatTimeout").matches(&heartbeat));
        assert!(ErrorMatcher::parse("States.Timeout").matches(&heartbeat));
        assert!(!ErrorMatcher::parse("States.TaskFailed").matches(&heartbeat));
        assert!(!ErrorMatcher::parse("States.HeartbeatTimeout").matches(&ErrorName::Timeout));
        assert_eq!(ErrorName::parse("States.Nope"), ErrorName::Custom("States.Nope".into()));
    }

    #[test]
    fn matching_rules() {
        let check = |matcher: &str, error: &str, expected: bool| {
            assert_eq!(
                ErrorMatcher::parse(matcher).matches(&ErrorName::parse(error)),
                expected,
                "{matcher} vs {error}"
            );
        };
        check("States.ALL", "Custom", true);
        check("States.ALL", "States.Timeout", true);
        check("States.ALL", "States.Runtime", false);
        check("States.ALL", "States.DataLimitExceeded", false);
        check("States.TaskFailed", "Lambda.Unknown", true);
        check("States.TaskFailed", "States.Timeout", false);
        check("States.Runtime", "States.Runtime", false);
        check("States.Timeout", "States.Timeout", true);
        check("A", "B", false);
    }
}
