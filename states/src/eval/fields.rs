//! Fields whose value is a number or a time read at run time: counts (`MaxConcurrency`,
//! `ToleratedFailure…`), seconds (`TimeoutSeconds`, `HeartbeatSeconds`), a Wait's
//! deadline, and a Fail state's `Error` and `Cause`.

use serde_json::Value;

use super::Env;
use crate::definition::{Count, FailState, Seconds, TextField, WaitFor, WaitState};
use crate::error::{ErrorName, EvalError, StatesError};
use crate::history::Payload;
use crate::path::{Path, PayloadScope, Scope, Selects};
use crate::template::compact;
use crate::timestamp::parse_iso8601;

/// Seconds as milliseconds, saturating instead of overflowing on absurd values.
pub fn millis(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX).saturating_mul(1000)
}

/// The JSON type name AWS uses in messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A count (`MaxConcurrency`, `ToleratedFailure…`): literal, read through its `…Path`
/// field (a number or a string holding one, as AWS accepts), or a JSONata expression.
pub fn count<T: Copy + std::str::FromStr + TryFrom<L>, L: Copy>(
    count: &Count<L>,
    scope: &Scope<'_>,
    env: &Env<'_>,
    field: &str,
    from_json: impl Fn(&Value) -> Option<T>,
) -> Result<T, EvalError> {
    let kind = if field == "ToleratedFailurePercentage" { "float" } else { "integer" };
    match count {
        Count::Literal(n) => T::try_from(*n).map_err(|_| EvalError::Runtime(format!("{field} is out of range"))),
        Count::Path(path) => number_at(path, scope, &format!("{field}Path"), kind, from_json),
        Count::Jsonata(template) => {
            let value = env.jsonata_value(template, scope.input.clone(), field)?;
            from_json(&value).ok_or_else(|| {
                EvalError::Query(format!("The {field} field must evaluate to a number, but it was {}", compact(&value)))
            })
        }
    }
}

/// A number read through a `…Path` field: AWS takes a JSON number or a string holding one.
fn number_at<T: std::str::FromStr>(
    path: &Path,
    scope: &Scope<'_>,
    field: &str,
    kind: &str,
    from_json: impl Fn(&Value) -> Option<T>,
) -> Result<T, EvalError> {
    let value = path.select(scope).map_err(|miss| EvalError::Runtime(miss.invalid_path_message(path.as_str())))?;
    from_json(&value).or_else(|| value.as_str().and_then(|s| s.trim().parse().ok())).ok_or_else(|| {
        let shown = match &*value {
            Value::String(s) => s.clone(),
            other => compact(other),
        };
        EvalError::Runtime(format!("The {field} field refers to value \"{shown}\" which is not a valid {kind}: {path}"))
    })
}

/// `TimeoutSeconds` / `HeartbeatSeconds` (or their `…Path` / JSONata forms): a positive
/// integer, or `None` when the field is absent.
pub fn seconds(
    field: &Option<Seconds>,
    scope: &PayloadScope<'_>,
    env: &Env<'_>,
    name: &str,
) -> Result<Option<u64>, EvalError> {
    match field {
        None => Ok(None),
        Some(Seconds::Literal(s)) => Ok(Some(*s)),
        Some(Seconds::Jsonata(template)) => match env.jsonata_value(template, scope.input.to_value(), name)? {
            Value::Number(n) if n.as_u64().is_some_and(|s| s > 0) => Ok(n.as_u64()),
            other => Err(EvalError::Query(format!(
                "The {name} field must evaluate to a positive integer, but it was {}",
                compact(&other)
            ))),
        },
        Some(Seconds::Path(path)) => {
            let value = path
                .select_in(scope)
                .map_err(|miss| EvalError::Runtime(miss.invalid_path_message(path.as_str())))?
                .to_value();
            match value.as_u64() {
                Some(s) if s > 0 => Ok(Some(s)),
                _ => Err(EvalError::Runtime(format!(
                    "The value of {path} must be a positive integer, but it is {}",
                    compact(&value)
                ))),
            }
        }
    }
}

/// When a Wait state entered at `now` (epoch ms) ends, in epoch milliseconds.
pub fn wait_deadline(wait: &WaitState, effective: &Payload, env: &Env<'_>, now: i64) -> Result<i64, EvalError> {
    match &wait.wait_for {
        WaitFor::Seconds(s) => Ok(now.saturating_add(millis(*s))),
        WaitFor::Timestamp(nanos, _) => Ok((*nanos / 1_000_000) as i64),
        WaitFor::SecondsExpr(template) => match env.jsonata_value(template, effective.to_value(), "Seconds")? {
            Value::Number(n) if n.as_u64().is_some() => Ok(now.saturating_add(millis(n.as_u64().unwrap_or(0)))),
            other => Err(EvalError::Query(format!(
                "The Seconds field must evaluate to a non-negative integer, but it was {}",
                compact(&other)
            ))),
        },
        WaitFor::TimestampExpr(template) => {
            let value = env.jsonata_value(template, effective.to_value(), "Timestamp")?;
            let text = value.as_str().map_or_else(|| compact(&value), str::to_owned);
            parse_iso8601(&text).map(|n| (n / 1_000_000) as i64).ok_or_else(|| {
                EvalError::Query(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                ))
            })
        }
        WaitFor::SecondsPath(path) => seconds_path_deadline(path, &env.payload_scope(effective), now),
        WaitFor::TimestampPath(path) => timestamp_path_deadline(path, &env.payload_scope(effective)),
    }
}

fn seconds_path_deadline<'a>(path: &Path, scope: &impl Selects<'a>, now: i64) -> Result<i64, EvalError> {
    let value = scope.select(path).map_err(|_| {
        EvalError::Runtime(format!("The SecondsPath parameter does not reference an input value: {path}"))
    })?;
    match value.as_i64() {
        Some(s) if s >= 0 => Ok(now.saturating_add(millis(s as u64))),
        Some(s) => {
            Err(EvalError::Runtime(format!("The SecondsPath parameter references a negative value: {path} == {s}")))
        }
        None => Err(EvalError::Runtime(format!(
            "The SecondsPath parameter does not reference a valid integer: {path} == {}",
            compact(&value)
        ))),
    }
}

fn timestamp_path_deadline<'a>(path: &Path, scope: &impl Selects<'a>) -> Result<i64, EvalError> {
    let value = scope.select(path).map_err(|_| {
        EvalError::Runtime(format!("The TimestampPath parameter does not reference an input value: {path}"))
    })?;
    let text = value.as_str().unwrap_or_default();
    parse_iso8601(text).map(|n| (n / 1_000_000) as i64).ok_or_else(|| {
        let shown = value.as_str().map_or_else(|| compact(&value), str::to_owned);
        EvalError::Runtime(format!(
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {shown}"
        ))
    })
}

/// The error a Fail state raises, from `Error`/`ErrorPath` and `Cause`/`CausePath` (or
/// their JSONata forms). A Fail state without `Error` raises an error with no name.
pub fn fail_error(fail: &FailState, effective: &Value, env: &Env<'_>) -> Result<StatesError, EvalError> {
    let scope = env.scope(effective);
    let text = |field: &Option<TextField>, name: &str| -> Result<Option<String>, EvalError> {
        match field {
            None => Ok(None),
            Some(TextField::Literal(s)) => Ok(Some(s.clone())),
            Some(TextField::Dynamic(f)) => match f.eval(&scope, env.entropy, name)? {
                Value::String(s) => Ok(Some(s)),
                other => Err(EvalError::Runtime(format!(
                    "The {name} field must reference a string value, but it references {}",
                    compact(&other)
                ))),
            },
            Some(TextField::Jsonata(template)) => {
                let field = name.trim_end_matches("Path");
                match env.jsonata_value(template, effective.clone(), field)? {
                    Value::String(s) => Ok(Some(s)),
                    other => Err(EvalError::Query(format!(
                        "The {field} field must evaluate to a string, but it was {}",
                        compact(&other)
                    ))),
                }
            }
        }
    };
    let error = text(&fail.error, "ErrorPath")?;
    let cause = text(&fail.cause, "CausePath")?;
    Ok(StatesError { error: ErrorName::Custom(error.unwrap_or_default()), cause })
}

/// The error name as events and outcomes show it; a Fail state without `Error` has none.
pub fn error_text(name: &ErrorName) -> Option<String> {
    match name {
        ErrorName::Custom(s) if s.is_empty() => None,
        other => Some(other.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::definition::StateKind;
    use crate::eval::tests::{machine, with_env};

    fn wait(spec: Value) -> WaitState {
        let mut state = json!({"Type": "Wait", "End": true});
        state.as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
        match machine(state).states.swap_remove(0).kind {
            StateKind::Wait(w) => w,
            _ => unreachable!(),
        }
    }

    #[test]
    fn wait_deadlines_from_seconds_paths_and_timestamps() {
        let input = json!({"s": 5, "neg": -1, "t": "1970-01-01T00:00:10Z", "bad": "noon"});
        let input = Payload::from_json(crate::json::Json::from(input));
        let at = |spec: Value| with_env(json!({}), |env| wait_deadline(&wait(spec), &input, env, 1000));
        assert_eq!(at(json!({"Seconds": 3})).unwrap(), 4000);
        assert_eq!(at(json!({"SecondsPath": "$.s"})).unwrap(), 6000);
        assert_eq!(at(json!({"TimestampPath": "$.t"})).unwrap(), 10_000);
        assert_eq!(at(json!({"Timestamp": "1970-01-01T00:00:02Z"})).unwrap(), 2000);
        let EvalError::Runtime(message) = at(json!({"SecondsPath": "$.neg"})).unwrap_err() else { panic!() };
        assert_eq!(message, "The SecondsPath parameter references a negative value: $.neg == -1");
        let EvalError::Runtime(message) = at(json!({"TimestampPath": "$.bad"})).unwrap_err() else { panic!() };
        assert!(message.ends_with("format string: $.bad == noon"), "{message}");
        assert_eq!(at(json!({"Seconds": u64::MAX})).unwrap(), i64::MAX, "saturates");
        assert!(input.value_if_made().is_none(), "the paths read the persistent form");
    }

    #[test]
    fn counts_accept_numbers_and_numeric_strings_through_paths() {
        let path = |p: &str| Count::<u64>::Path(Path::parse(p).unwrap());
        let input = json!({"n": 3, "s": " 4 ", "x": "four"});
        let read = |c: &Count<u64>| {
            with_env(json!({}), |env| count(c, &env.scope(&input), env, "MaxConcurrency", Value::as_u64))
        };
        assert_eq!(read(&Count::Literal(2)).unwrap(), 2);
        assert_eq!(read(&path("$.n")).unwrap(), 3);
        assert_eq!(read(&path("$.s")).unwrap(), 4);
        let EvalError::Runtime(message) = read(&path("$.x")).unwrap_err() else { panic!() };
        assert_eq!(message, "The MaxConcurrencyPath field refers to value \"four\" which is not a valid integer: $.x");
    }

    #[test]
    fn seconds_must_be_positive() {
        let input = json!({"t": 0});
        let field = Some(Seconds::Path(Path::parse("$.t").unwrap()));
        let error = with_env(json!({}), |env| {
            seconds(&field, &env.payload_scope(&crate::history::Payload::new(input.clone())), env, "TimeoutSeconds")
        })
        .unwrap_err();
        assert_eq!(error, EvalError::Runtime("The value of $.t must be a positive integer, but it is 0".into()));
    }

    #[test]
    fn fail_error_and_cause_from_paths() {
        let m = machine(json!({"Type": "Fail", "ErrorPath": "$.e", "Cause": "literal"}));
        let StateKind::Fail(fail) = &m.states[0].kind else { panic!() };
        let error = with_env(json!({}), |env| fail_error(fail, &json!({"e": "Custom"}), env)).unwrap();
        assert_eq!(error, StatesError::new(ErrorName::Custom("Custom".into()), "literal"));
        let bad = with_env(json!({}), |env| fail_error(fail, &json!({"e": 1}), env)).unwrap_err();
        assert_eq!(
            bad,
            EvalError::Runtime("The ErrorPath field must reference a string value, but it references 1".into())
        );
        assert_eq!(error_text(&ErrorName::Custom(String::new())), None);
    }
}
