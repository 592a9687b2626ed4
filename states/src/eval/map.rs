//! A Map state's items, each iteration's input (ItemSelector), its concurrency limit, and
//! AWS's rule for tolerated failures.

use serde_json::Value;

use super::context::{ExecutionContext, MapItem};
use super::fields::{count, json_type};
use super::{Env, states_object};
use crate::definition::{MapState, ProcessorMode, State};
use crate::error::{ErrorName, EvalError, StatesError};
use crate::history::Payload;
use crate::jsonata;
use crate::path::Path;
use crate::template::compact;

/// The items a Map state iterates: JSONata `Items`, `ItemsPath`, or the effective input;
/// they must form an array.
pub fn items(state: &State, map: &MapState, effective: &Value, env: &Env<'_>) -> Result<Vec<Payload>, EvalError> {
    let items = match (&map.items_path, state.jsonata.as_ref().and_then(|j| j.items.as_ref())) {
        (_, Some(template)) => {
            let items = env.jsonata_value(template, effective.clone(), "Items")?;
            if !items.is_array() {
                let text = match template {
                    jsonata::Template::Expr(expr) => expr.as_str().to_owned(),
                    _ => compact(&items),
                };
                return Err(EvalError::Query(format!(
                    "The JSONata expression '{text}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {}",
                    json_type(&items),
                    compact(&items)
                )));
            }
            items
        }
        (None, None) => effective.clone(),
        (Some(path), None) => path
            .eval(&env.scope(effective))
            .map_err(|miss| EvalError::Runtime(miss.invalid_path_message(path.as_str())))?,
    };
    match items {
        Value::Array(items) => Ok(items.into_iter().map(Payload::new).collect()),
        other if state.jsonata.is_some() => {
            Err(EvalError::Query(format!("Map state input must be an array but was: {}", compact(&other))))
        }
        other => {
            let path = map.items_path.as_ref().map_or("$", Path::as_str);
            Err(EvalError::Runtime(format!(
                "Item must be an array, but it is {} (ItemsPath '{path}' in state '{}')",
                compact(&other),
                state.name
            )))
        }
    }
}

/// How many child executions a distributed Map runs at once when `MaxConcurrency` is 0 or
/// absent (AWS's limit).
pub const DISTRIBUTED_MAX_CONCURRENCY: usize = 10_000;

/// How many iterations may run at once: `MaxConcurrency` (0: all of them inline, up to
/// 10,000 child executions in distributed mode).
pub fn concurrency_limit(map: &MapState, effective: &Value, env: &Env<'_>, total: usize) -> Result<usize, EvalError> {
    let max = count(&map.max_concurrency, &env.scope(effective), env, "MaxConcurrency", Value::as_u64)?;
    Ok(match max {
        0 if map.mode == ProcessorMode::Distributed => total.clamp(1, DISTRIBUTED_MAX_CONCURRENCY),
        0 => total.max(1),
        max => usize::try_from(max).unwrap_or(usize::MAX),
    })
}

/// Whether the Map has an ItemSelector (JSONPath or JSONata).
pub fn has_item_selector(state: &State, map: &MapState) -> bool {
    map.item_selector.is_some() || state.jsonata.as_ref().is_some_and(|j| j.item_selector.is_some())
}

/// `ToleratedFailureCount` and `ToleratedFailurePercentage`, evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    count: Option<i64>,
    percentage: Option<f64>,
}

impl Tolerance {
    /// Reads both fields (either may be a path or an expression) and checks their ranges.
    pub fn of(map: &MapState, effective: &Value, env: &Env<'_>) -> Result<Tolerance, EvalError> {
        let scope = env.scope(effective);
        let count_field = map.tolerated_failure_count.as_ref();
        let count = count_field.map(|c| count(c, &scope, env, "ToleratedFailureCount", Value::as_i64)).transpose()?;
        if count.is_some_and(|c| c < 0) {
            return Err(EvalError::Runtime("ToleratedFailureCount cannot be negative.".into()));
        }
        let percentage_field = map.tolerated_failure_percentage.as_ref();
        let percentage = percentage_field
            .map(|c| super::fields::count(c, &scope, env, "ToleratedFailurePercentage", Value::as_f64))
            .transpose()?;
        if percentage.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(EvalError::Runtime("ToleratedFailurePercentage must be between 0 and 100.".into()));
        }
        Ok(Tolerance { count, percentage })
    }

    /// `ToleratedFailureCount`, evaluated.
    pub fn count(&self) -> Option<i64> {
        self.count
    }

    /// `ToleratedFailurePercentage`, evaluated.
    pub fn percentage(&self) -> Option<f64> {
        self.percentage
    }

    /// No failure is tolerated.
    pub const NONE: Tolerance = Tolerance { count: None, percentage: None };

    /// True when `failures` of `total` iterations fail the Map: with a tolerance, once
    /// either threshold is exceeded; without one, at the first failure.
    pub fn exceeded(&self, failures: usize, total: usize) -> bool {
        if !self.is_set() {
            return failures > 0;
        }
        self.count.is_some_and(|c| failures as i64 > c)
            || self.percentage.is_some_and(|p| failures as f64 * 100.0 / total as f64 > p)
    }

    /// The error a Map fails with when `exceeded`: the iteration's own error without a
    /// tolerance, `States.ExceedToleratedFailureThreshold` with one.
    pub fn failure(&self, iteration_error: StatesError) -> StatesError {
        if self.is_set() {
            StatesError::new(
                ErrorName::ExceedToleratedFailureThreshold,
                "The specified tolerated failure threshold was exceeded",
            )
        } else {
            iteration_error
        }
    }

    fn is_set(&self) -> bool {
        self.count.is_some() || self.percentage.is_some()
    }
}

/// An iteration's input: the ItemSelector (JSONPath or JSONata) with `$$.Map.Item`, or the item.
pub fn item_input(
    state: &State,
    map: &MapState,
    execution: &ExecutionContext<'_>,
    effective: &Value,
    item: MapItem<'_>,
    env: &Env<'_>,
) -> Result<Option<Payload>, EvalError> {
    if !has_item_selector(state, map) {
        return Ok(None);
    }
    let jsonata_selector = state.jsonata.as_ref().and_then(|j| j.item_selector.as_ref());
    let context = execution.with_item(state, env.now, item);
    let env = Env { context: &context, ..*env };
    let rendered = match (jsonata_selector, &map.item_selector) {
        (Some(selector), _) => {
            env.jsonata_render(selector, &states_object(effective.clone(), &context, None, None), "ItemSelector")?
        }
        (None, Some(template)) => template.render(&env.scope(effective), env.entropy)?,
        (None, None) => unreachable!("checked above"),
    };
    Ok(Some(Payload::new(rendered)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::definition::StateKind;
    use crate::eval::tests::{machine, with_env};

    fn map_machine(extra: Value) -> crate::StateMachine {
        let mut map = json!({"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true});
        map.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        machine(map)
    }

    fn map_of(m: &crate::StateMachine) -> &MapState {
        let StateKind::Map(map) = &m.states[0].kind else { panic!() };
        map
    }

    #[test]
    fn tolerance_fails_when_either_threshold_is_exceeded() {
        let m = map_machine(json!({"ToleratedFailureCount": 2, "ToleratedFailurePercentage": 50}));
        let tolerance = with_env(json!({}), |env| Tolerance::of(map_of(&m), &json!([]), env)).unwrap();
        assert!(!tolerance.exceeded(2, 10));
        assert!(tolerance.exceeded(3, 10), "count exceeded");
        assert!(tolerance.exceeded(2, 3), "percentage exceeded");
        let error = tolerance.failure(StatesError::new(ErrorName::TaskFailed, "x"));
        assert_eq!(error.error, ErrorName::ExceedToleratedFailureThreshold);
        assert!(Tolerance::NONE.exceeded(1, 100));
        assert!(!Tolerance::NONE.exceeded(0, 100));
    }

    #[test]
    fn tolerance_ranges_are_checked() {
        let m = map_machine(json!({"ToleratedFailurePercentagePath": "$.p"}));
        let error = with_env(json!({}), |env| Tolerance::of(map_of(&m), &json!({"p": 150}), env)).unwrap_err();
        assert_eq!(error, EvalError::Runtime("ToleratedFailurePercentage must be between 0 and 100.".into()));
    }

    #[test]
    fn items_must_be_an_array() {
        let m = map_machine(json!({"ItemsPath": "$.xs"}));
        let read = with_env(json!({}), |env| items(&m.states[0], map_of(&m), &json!({"xs": [1, 2]}), env)).unwrap();
        assert_eq!(read.iter().map(|i| (**i).clone()).collect::<Vec<_>>(), vec![json!(1), json!(2)]);
        let error = with_env(json!({}), |env| items(&m.states[0], map_of(&m), &json!({"xs": 3}), env)).unwrap_err();
        assert_eq!(
            error,
            EvalError::Runtime("Item must be an array, but it is 3 (ItemsPath '$.xs' in state 'S')".into())
        );
    }

    #[test]
    fn item_selector_sees_the_item_and_the_state_input() {
        let m = map_machine(
            json!({"ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k"}}),
        );
        let execution = ExecutionContext {
            arn: "a",
            name: "n",
            input: &Value::Null,
            role_arn: "r",
            start_millis: 0,
            redrive_count: Some(0),
            state_machine_arn: "s",
            state_machine_name: "m",
        };
        let item = json!("x");
        let input = with_env(json!({}), |env| {
            item_input(&m.states[0], map_of(&m), &execution, &json!({"k": 9}), MapItem { index: 1, value: &item }, env)
        })
        .unwrap()
        .unwrap();
        assert_eq!(*input, json!({"i": 1, "v": "x", "k": 9}));
        let plain = map_machine(json!({}));
        let none = with_env(json!({}), |env| {
            item_input(
                &plain.states[0],
                map_of(&plain),
                &execution,
                &json!({}),
                MapItem { index: 0, value: &item },
                env,
            )
        });
        assert_eq!(none.unwrap(), None, "no selector: the item itself");
    }
}
