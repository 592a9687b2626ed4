//! Input and output processing: `InputPath` → `Parameters` → (result) → `ResultSelector` →
//! `ResultPath` → `OutputPath`. Templates live in [`crate::template`]; this module applies
//! the path fields.

use serde_json::{Map, Value};

use crate::definition::{PathField, ResultPath};
use crate::error::{ErrorName, EvalError, StatesError};
use crate::json::{number_text_len, string_text_len};
use crate::path::{PayloadScope, ReferencePath};
use crate::payload::Payload;

impl PathField {
    /// Applies `InputPath` or `OutputPath` to a payload: absent passes it on, `null` gives
    /// `{}`, a path selects (and fails with States.Runtime when it selects nothing); a
    /// definite path from `$` shares what it selects.
    pub fn apply_in(&self, scope: &PayloadScope<'_>) -> Result<Payload, EvalError> {
        match self {
            PathField::Default => Ok(scope.input.clone()),
            PathField::Null => Ok(Payload::new(Value::Object(Map::new()))),
            PathField::Path(path) => path
                .select_in(scope)
                .map(Payload::from_json)
                .map_err(|miss| EvalError::Runtime(miss.invalid_path_message(path.as_str()))),
        }
    }
}

impl ResultPath {
    /// Combines the state's raw input with its result: absent replaces the input with the
    /// result, `null` keeps the input, a path writes the result into a copy of the input
    /// that shares everything but the arrays and objects along the path.
    ///
    /// A path that cannot be written raises `States.ResultPathMatchFailure`.
    pub fn apply_payload(&self, raw_input: Payload, result: Payload) -> Result<Payload, EvalError> {
        match self {
            ResultPath::Default => Ok(result),
            ResultPath::Discard => Ok(raw_input),
            ResultPath::Path(path) => path
                .set_in_json(&raw_input.to_json(), result.into_json())
                .map(Payload::from_json)
                .map_err(|_| result_path_failure(path, &raw_input)),
        }
    }
}

/// `States.ResultPathMatchFailure`, in AWS's words.
fn result_path_failure(path: &ReferencePath, input: &impl serde::Serialize) -> EvalError {
    let input = serde_json::to_string(input).unwrap_or_default();
    EvalError::Raised(StatesError::new(
        ErrorName::ResultPathMatchFailure,
        format!("Unable to apply ReferencePath {} to input {input}", path.as_str()),
    ))
}

/// The Step Functions payload quota: 256 KiB of JSON text (UTF-8).
pub const PAYLOAD_LIMIT_BYTES: usize = 262_144;

/// True when the compact JSON text of `value` is longer than [`PAYLOAD_LIMIT_BYTES`].
/// Walks the value without serializing it and stops as soon as the limit is passed.
pub fn exceeds_payload_limit(value: &Value) -> bool {
    text_longer_than(value, PAYLOAD_LIMIT_BYTES)
}

/// True when the compact JSON text of `value` is longer than `limit` bytes (counted as
/// [`Json::text_len`] counts them), stopping as soon as the limit is passed.
pub fn text_longer_than(value: &Value, limit: usize) -> bool {
    fn size(value: &Value, budget: &mut isize) {
        if *budget < 0 {
            return;
        }
        *budget -= match value {
            Value::Null => 4,
            Value::Bool(b) => 4 + isize::from(!*b),
            Value::Number(n) => number_text_len(n) as isize,
            Value::String(s) => string_text_len(s) as isize,
            Value::Array(items) => {
                for item in items {
                    size(item, budget);
                }
                items.len().max(1) as isize + 1
            }
            Value::Object(map) => {
                for (key, item) in map {
                    *budget -= string_text_len(key) as isize + 1;
                    size(item, budget);
                }
                map.len().max(1) as isize + 1
            }
        };
    }
    let mut budget = isize::try_from(limit).unwrap_or(isize::MAX);
    size(value, &mut budget);
    budget < 0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::json::Json;
    use crate::path::{Path, ReferencePath};

    /// Both forms of a payload of `value`.
    fn both(value: &Value) -> [Payload; 2] {
        [Payload::new(value.clone()), Payload::from_json(Json::from(value))]
    }

    #[test]
    fn input_and_output_paths() {
        let ctx = json!({});
        let input = json!({"a": {"b": 1}});
        for payload in both(&input) {
            let scope = PayloadScope { input: &payload, context: &ctx, variables: None };
            let apply = |field: PathField| field.apply_in(&scope).map(|p| p.to_value());
            assert_eq!(apply(PathField::Default), Ok(input.clone()));
            assert_eq!(apply(PathField::Null), Ok(json!({})));
            assert_eq!(apply(PathField::Path(Path::parse("$.a.b").unwrap())), Ok(json!(1)));
            assert_eq!(
                apply(PathField::Path(Path::parse("$.x").unwrap())),
                Err(EvalError::Runtime("Invalid path '$.x' : No results for path: $['x']".into()))
            );
        }
    }

    #[test]
    fn payload_limit_counts_json_text() {
        assert!(!exceeds_payload_limit(&json!({"a": "x".repeat(1000)})));
        assert!(exceeds_payload_limit(&json!({"a": "x".repeat(PAYLOAD_LIMIT_BYTES)})));
        assert!(exceeds_payload_limit(&json!(vec!["ab"; PAYLOAD_LIMIT_BYTES / 4])));
        // Escapes count as serde_json writes them: at exactly the quota, and one byte past it.
        for piece in ["\"", "\\", "\n", "\u{1}", "é", "a\tb"] {
            let repeated = piece.repeat(1000);
            let used = serde_json::to_string(&json!({ piece: repeated })).unwrap().len();
            let at_quota = json!({ piece: repeated, "f": "a".repeat(PAYLOAD_LIMIT_BYTES - used - 7) });
            assert_eq!(serde_json::to_string(&at_quota).unwrap().len(), PAYLOAD_LIMIT_BYTES);
            assert!(!exceeds_payload_limit(&at_quota), "{piece:?}");
            let past = json!({ piece: repeated, "f": "a".repeat(PAYLOAD_LIMIT_BYTES - used - 6) });
            assert!(exceeds_payload_limit(&past), "{piece:?}");
            // A payload's check (remembered lengths for the persistent form) agrees, keys
            // with escapes included.
            for payload in both(&at_quota) {
                assert!(!payload.longer_than(PAYLOAD_LIMIT_BYTES), "{piece:?}");
            }
            for payload in both(&past) {
                assert!(payload.longer_than(PAYLOAD_LIMIT_BYTES), "{piece:?}");
            }
        }
    }

    #[test]
    fn result_path_three_ways() {
        let input = json!({"a": 1});
        for (raw, result) in both(&input).into_iter().zip(both(&json!(2))) {
            let apply = |path: &ResultPath| path.apply_payload(raw.clone(), result.clone()).map(|p| p.to_value());
            assert_eq!(apply(&ResultPath::Default), Ok(json!(2)));
            assert_eq!(apply(&ResultPath::Discard), Ok(json!({"a": 1})));
            assert_eq!(
                apply(&ResultPath::Path(ReferencePath::parse("$.r.s").unwrap())),
                Ok(json!({"a": 1, "r": {"s": 2}}))
            );
            let bad = apply(&ResultPath::Path(ReferencePath::parse("$.a.b").unwrap()));
            let Err(EvalError::Raised(e)) = bad else { panic!("{bad:?}") };
            assert_eq!(e.error, ErrorName::ResultPathMatchFailure);
            assert_eq!(e.cause.as_deref(), Some(r#"Unable to apply ReferencePath $.a.b to input {"a":1}"#));
        }
    }
}
