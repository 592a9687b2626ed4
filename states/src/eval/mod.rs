//! What the interpreter computes between effects, as plain functions: a state's effective
//! input and output, its result handling (ResultSelector, ResultPath, OutputPath, Assign),
//! JSONata fields, the context object, counts and deadlines, Choice selection, Map items
//! and failure tolerance. No IO, no clock (the time a state was entered is passed in), no
//! randomness but the [`Entropy`] passed in.

pub mod context;
pub mod fields;
pub mod items;
pub mod map;
pub mod result_writer;
pub mod steps;
pub mod test_state;
pub mod test_state_api;

use serde_json::{Map, Value};

use crate::definition::{Catcher, JsonataFields, PathField, ResultHandling, State};
use crate::entropy::Entropy;
use crate::error::{ErrorName, EvalError, StatesError};
use crate::history::Payload;
use crate::io::{PAYLOAD_LIMIT_BYTES, exceeds_payload_limit};
use crate::jsonata::{self, Bindings};
use crate::path::{PayloadScope, Scope};
use crate::template::{Template, compact};

/// What a state's fields read besides `$`: the context object, the workflow variables,
/// when the state was entered (so that a replay sees the same time), and the entropy.
#[derive(Clone, Copy)]
pub struct Env<'e> {
    /// `$$`, or `Null` when the state never reads it.
    pub context: &'e Value,
    /// The variables the state sees.
    pub variables: &'e Map<String, Value>,
    /// When the state was entered (epoch ms; JSONata's `$now()`).
    pub now: i64,
    /// Randomness for `States.UUID`, `$random()`…
    pub entropy: &'e dyn Entropy,
}

impl<'e> Env<'e> {
    /// The JSONPath scope with a payload as `$` (see [`PayloadScope`]).
    pub fn payload_scope<'s>(&self, input: &'s Payload) -> PayloadScope<'s>
    where
        'e: 's,
    {
        PayloadScope { input, context: self.context, variables: Some(self.variables) }
    }

    /// The JSONPath scope with `input` as `$`.
    pub fn scope<'s>(&self, input: &'s Value) -> Scope<'s>
    where
        'e: 's,
    {
        Scope { input, context: self.context, variables: Some(self.variables) }
    }

    fn bindings<'b>(&'b self, states: &'b Value) -> Bindings<'b> {
        Bindings { states, variables: self.variables, entropy: self.entropy, now_millis: self.now }
    }

    /// Evaluates a JSONata field with `$states.input` = `input`.
    pub fn jsonata_value(&self, template: &jsonata::Template, input: Value, field: &str) -> Result<Value, EvalError> {
        let states = states_object(input, self.context, None, None);
        template.render(&self.bindings(&states), field)
    }

    /// Evaluates a JSONata field against a prepared `$states` object.
    pub fn jsonata_render(
        &self,
        template: &jsonata::Template,
        states: &Value,
        field: &str,
    ) -> Result<Value, EvalError> {
        template.render(&self.bindings(states), field)
    }
}

/// How a state ends: its output and the variables its `Assign` set.
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    /// The state's output.
    pub output: Payload,
    /// What `Assign` set, when the state has one.
    pub assigned: Option<Map<String, Value>>,
}

/// The `$states` object of a JSONata evaluation (JSONata reads `serde_json` values: a
/// payload is copied in, as [`Payload::to_value`] copies it, without keeping the copy).
pub fn states_object(input: Value, context: &Value, result: Option<Value>, error_output: Option<Value>) -> Value {
    let mut states = Map::new();
    states.insert("input".into(), input);
    states.insert("context".into(), context.clone());
    if let Some(result) = result {
        states.insert("result".into(), result);
    }
    if let Some(error_output) = error_output {
        states.insert("errorOutput".into(), error_output);
    }
    Value::Object(states)
}

/// Evaluates a JSONPath `Assign` template against `value` (`$` is the state's result).
pub fn assign(
    template: Option<&Template>,
    value: &Payload,
    env: &Env<'_>,
) -> Result<Option<Map<String, Value>>, EvalError> {
    let Some(template) = template else {
        return Ok(None);
    };
    match template.render_in(&env.payload_scope(value), env.entropy)?.to_value() {
        Value::Object(map) => check_assignment(map).map(Some),
        other => Err(EvalError::Runtime(format!("Assign must be an object, not {}", compact(&other)))),
    }
}

/// A JSONata state's end: `Assign`, and `Output` (or `default_output`).
pub fn jsonata_exit(
    fields: &JsonataFields,
    states: &Value,
    env: &Env<'_>,
    default_output: Payload,
) -> Result<Exit, EvalError> {
    let assigned = match &fields.assign {
        None => None,
        Some(template) => match env.jsonata_render(template, states, "Assign")? {
            Value::Object(map) => Some(check_assignment(map)?),
            other => return Err(EvalError::Query(format!("Assign must be an object, not {}", compact(&other)))),
        },
    };
    let output = match &fields.output {
        None => default_output,
        Some(template) => Payload::new(env.jsonata_render(template, states, "Output")?),
    };
    Ok(Exit { output, assigned })
}

/// The input of a task or of Parallel branches: JSONata `Arguments`, JSONPath
/// `Parameters`, or the effective input.
pub fn arguments(
    state: &State,
    parameters: Option<&Template>,
    effective: &Payload,
    env: &Env<'_>,
) -> Result<Payload, EvalError> {
    match (parameters, state.jsonata.as_ref().and_then(|j| j.arguments.as_ref())) {
        (_, Some(arguments)) => Ok(Payload::new(env.jsonata_value(arguments, effective.to_value(), "Arguments")?)),
        (Some(template), None) => {
            Ok(Payload::from_json(template.render_in(&env.payload_scope(effective), env.entropy)?))
        }
        (None, None) => Ok(effective.clone()),
    }
}

/// Applies `InputPath` or `OutputPath`; the default passes the same payload on.
pub fn through_path(field: &PathField, value: Payload, env: &Env<'_>) -> Result<Payload, EvalError> {
    match field {
        PathField::Default => Ok(value),
        _ => field.apply_in(&env.payload_scope(&value)),
    }
}

/// Result processing shared by Task, Parallel and Map: ResultSelector → (Assign) →
/// ResultPath → OutputPath (JSONata: Assign and Output with `$states.result`).
/// `raw` is the state's input, `result` what the task, branches or iterations produced.
pub fn shape_result(
    state: &State,
    handling: &ResultHandling,
    raw: Payload,
    result: Payload,
    env: &Env<'_>,
) -> Result<Exit, EvalError> {
    shape_result_observed(state, handling, raw, result, env, &mut |_, _| {})
}

/// A stage of [`shape_result`] that TestState shows (`inspectionData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// After ResultSelector.
    AfterResultSelector,
    /// After ResultPath.
    AfterResultPath,
}

/// [`shape_result`], telling `observe` what each JSONPath stage produced.
pub fn shape_result_observed(
    state: &State,
    handling: &ResultHandling,
    raw: Payload,
    result: Payload,
    env: &Env<'_>,
    observe: &mut dyn FnMut(Stage, &Payload),
) -> Result<Exit, EvalError> {
    check_result_size(&result, &state.name)?;
    if let Some(fields) = &state.jsonata {
        let states = states_object(raw.to_value(), env.context, Some(result.to_value()), None);
        return jsonata_exit(fields, &states, env, result);
    }
    let selected = match &handling.result_selector {
        Some(template) => Payload::from_json(template.render_in(&env.payload_scope(&result), env.entropy)?),
        None => result,
    };
    observe(Stage::AfterResultSelector, &selected);
    let assigned = assign(handling.assign.as_ref(), &selected, env)?;
    let combined = handling.result_path.apply_payload(raw, selected)?;
    observe(Stage::AfterResultPath, &combined);
    Ok(Exit { output: through_path(&state.output_path, combined, env)?, assigned })
}

/// A Catcher's end: the error output (`{"Error","Cause"}`) placed by its ResultPath,
/// with its Assign (JSONata: `$states.errorOutput`, Output and Assign).
pub fn catch_exit(catcher: &Catcher, raw: &Payload, error: &StatesError, env: &Env<'_>) -> Result<Exit, EvalError> {
    let error_output = Payload::new(error.to_value());
    if let Some(fields) = &catcher.jsonata {
        let states = states_object(raw.to_value(), env.context, None, Some(error_output.to_value()));
        return jsonata_exit(fields, &states, env, error_output);
    }
    let assigned = assign(catcher.assign.as_ref(), &error_output, env)?;
    let output = catcher.result_path.apply_payload(raw.clone(), error_output)?;
    Ok(Exit { output, assigned })
}

/// AWS's variable quotas: a variable, and all the variables of one `Assign`, hold at most
/// 256 KiB of JSON text each.
pub fn check_assignment(assigned: Map<String, Value>) -> Result<Map<String, Value>, EvalError> {
    let too_big = |what: String| {
        EvalError::Raised(StatesError::new(
            ErrorName::DataLimitExceeded,
            format!("{what} exceeds the maximum size of 256 KiB for assigned variables"),
        ))
    };
    if let Some((name, _)) = assigned.iter().find(|(_, value)| exceeds_payload_limit(value)) {
        return Err(too_big(format!("The variable '{name}'")));
    }
    let assigned = Value::Object(assigned);
    if exceeds_payload_limit(&assigned) {
        return Err(too_big("The Assign field".to_owned()));
    }
    match assigned {
        Value::Object(map) => Ok(map),
        _ => unreachable!("built as an object above"),
    }
}

/// AWS's payload quota: a state's result may not exceed 256 KiB of JSON text.
pub fn check_result_size(result: &Payload, state: &str) -> Result<(), EvalError> {
    if result.longer_than(PAYLOAD_LIMIT_BYTES) {
        return Err(EvalError::Raised(StatesError::new(
            ErrorName::DataLimitExceeded,
            format!(
                "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
            ),
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::entropy::SeededEntropy;
    use crate::{StateMachine, parse_definition};

    pub(crate) fn machine(state: Value) -> StateMachine {
        let definition = json!({"StartAt": "S", "States": {"S": state}});
        let (machine, diagnostics) = parse_definition(&definition.to_string());
        machine.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    /// Runs `f` with an environment: no context, `variables`, time 0, a fixed seed.
    pub(crate) fn with_env<T>(variables: Value, f: impl FnOnce(&Env<'_>) -> T) -> T {
        let Value::Object(variables) = variables else { panic!("variables must be an object") };
        let entropy = SeededEntropy::new(7);
        f(&Env { context: &Value::Null, variables: &variables, now: 0, entropy: &entropy })
    }

    fn handling(state: &State) -> &ResultHandling {
        match &state.kind {
            crate::definition::StateKind::Task(t) => &t.handling,
            _ => panic!("a Task"),
        }
    }

    #[test]
    fn result_selector_then_assign_then_result_path_then_output_path() {
        let m = machine(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "ResultSelector": {"v.$": "$.Payload"}, "Assign": {"seen.$": "$.v"},
            "ResultPath": "$.r", "OutputPath": "$.r", "End": true}));
        let state = &m.states[0];
        let exit = with_env(json!({}), |env| {
            shape_result(
                state,
                handling(state),
                Payload::new(json!({"in": 1})),
                Payload::new(json!({"Payload": 5})),
                env,
            )
        })
        .unwrap();
        assert_eq!(*exit.output, json!({"v": 5}));
        assert_eq!(exit.assigned, Some(json!({"seen": 5}).as_object().unwrap().clone()));
    }

    #[test]
    fn jsonata_results_see_states_result_and_variables() {
        let m =
            machine(json!({"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
            "Output": "{% $states.result.n + $base %}", "Assign": {"last": "{% $states.input.k %}"}, "End": true}));
        let state = &m.states[0];
        let exit = with_env(json!({"base": 10}), |env| {
            shape_result(state, handling(state), Payload::new(json!({"k": "x"})), Payload::new(json!({"n": 1})), env)
        })
        .unwrap();
        assert_eq!(*exit.output, json!(11));
        assert_eq!(exit.assigned, Some(json!({"last": "x"}).as_object().unwrap().clone()));
    }

    #[test]
    fn results_and_assignments_over_256_kib_are_refused() {
        let big = json!("x".repeat(300 * 1024));
        let error = check_result_size(&Payload::new(big.clone()), "S").unwrap_err();
        assert!(matches!(&error, EvalError::Raised(e) if e.error == ErrorName::DataLimitExceeded), "{error:?}");
        let mut one = Map::new();
        one.insert("v".into(), big);
        let EvalError::Raised(e) = check_assignment(one).unwrap_err() else { panic!() };
        assert_eq!(
            e.cause.as_deref(),
            Some("The variable 'v' exceeds the maximum size of 256 KiB for assigned variables")
        );
        let mut two = Map::new();
        two.insert("a".into(), json!("y".repeat(150 * 1024)));
        two.insert("b".into(), json!("y".repeat(150 * 1024)));
        let EvalError::Raised(e) = check_assignment(two).unwrap_err() else { panic!() };
        assert_eq!(
            e.cause.as_deref(),
            Some("The Assign field exceeds the maximum size of 256 KiB for assigned variables")
        );
    }

    #[test]
    fn a_catcher_places_the_error_output() {
        let m = machine(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Assign": {"e.$": "$.Error"}, "Next": "S"}],
            "End": true}));
        let catcher = &handling(&m.states[0]).catch[0];
        let error = StatesError::new(ErrorName::TaskFailed, "boom");
        let exit = with_env(json!({}), |env| catch_exit(catcher, &Payload::new(json!({"a": 1})), &error, env)).unwrap();
        assert_eq!(*exit.output, json!({"a": 1, "error": {"Error": "States.TaskFailed", "Cause": "boom"}}));
        assert_eq!(exit.assigned, Some(json!({"e": "States.TaskFailed"}).as_object().unwrap().clone()));
    }

    #[test]
    fn arguments_default_to_the_effective_input() {
        let m = machine(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"x.$": "$.a", "v.$": "$v"}, "End": true}));
        let state = &m.states[0];
        let crate::definition::StateKind::Task(task) = &state.kind else { panic!() };
        let input = Payload::new(json!({"a": 2}));
        let rendered = with_env(json!({"v": true}), |env| arguments(state, task.parameters.as_ref(), &input, env));
        assert_eq!(*rendered.unwrap(), json!({"x": 2, "v": true}));
        let same = with_env(json!({}), |env| arguments(state, None, &input, env)).unwrap();
        assert!(Payload::ptr_eq(&same, &input), "no Parameters: the same payload, not a copy");
    }
}
