//! TestState: one state run on its own, as AWS's `TestState` API does, with what each of
//! its stages produced (`inspectionData`). Pure: a Task's effect (a real invocation, when
//! it is not mocked) happens between [`begin`] and [`complete`], in the engine.
//!
//! AWS's rules (Developer Guide, "Testing states with TestState"): Pass, Wait, Choice,
//! Succeed and Fail run as they would in an execution, except that a Wait does not wait;
//! Task, Map and Parallel take a mocked result or error (`mock`); a Task without a mock
//! is invoked. An error then goes through the state's Retry and Catch as the state's
//! attempt number `stateConfiguration.retrierRetryCount` would: `RETRIABLE` (with the
//! retrier's index and back-off), `CAUGHT_ERROR` (with the catcher's index, the output it
//! makes and its `Next`), or `FAILED`.

use serde_json::{Map, Value};

use super::fields::count;
use super::fields::{fail_error, wait_deadline};
use super::map::{Tolerance, items};
use super::steps::{self, Input};
use super::{Env, Exit, arguments, assign, catch_exit, check_result_size, states_object};
use super::{Stage, shape_result_observed, through_path};
use crate::definition::{ResultHandling, State, StateKind, StateMachine, Transition};
use crate::error::{ErrorName, EvalError, StatesError};
use crate::history::Payload;
use crate::retry::{Recovery, recover};

/// `inspectionLevel`: how much of the state's stages the answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InspectionLevel {
    /// The output, or the error and cause (the default).
    #[default]
    Info,
    /// Also `inspectionData`.
    Debug,
    /// Also the HTTP request and response (HTTP Tasks only).
    Trace,
}

impl InspectionLevel {
    /// Parses AWS's names (`INFO`, `DEBUG`, `TRACE`).
    pub fn parse(text: &str) -> Option<InspectionLevel> {
        match text {
            "INFO" => Some(InspectionLevel::Info),
            "DEBUG" => Some(InspectionLevel::Debug),
            "TRACE" => Some(InspectionLevel::Trace),
            _ => None,
        }
    }
}

/// `mock`: what the state's Task, Map or Parallel produced instead of running.
#[derive(Debug, Clone, PartialEq)]
pub enum Mock {
    /// `mock.result`: the raw result (before ResultSelector).
    Result(Value),
    /// `mock.errorOutput`: the error the attempt raised.
    Error(StatesError),
}

/// `stateConfiguration`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateConfiguration {
    /// `retrierRetryCount`: retries already made by the retrier the error matches.
    pub retrier_retry_count: u64,
    /// `errorCausedByState`: the state inside a Map or Parallel that raised a mocked error.
    pub error_caused_by_state: Option<String>,
    /// `mapIterationFailureCount`: failed iterations, checked against the tolerated failures.
    pub map_iteration_failure_count: Option<u64>,
    /// `mapItemReaderData`: the items a Map's ItemReader would read.
    pub map_item_reader_data: Option<Value>,
}

/// `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    /// The state ended normally.
    Succeeded,
    /// The state failed and nothing catches it.
    Failed,
    /// A retrier would run the state again.
    Retriable,
    /// A catcher took the error.
    CaughtError,
}

impl TestStatus {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Succeeded => "SUCCEEDED",
            TestStatus::Failed => "FAILED",
            TestStatus::Retriable => "RETRIABLE",
            TestStatus::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// `inspectionData` (each value is sent as JSON text); `None` fields are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspection {
    /// `input`.
    pub input: Option<Value>,
    /// `afterInputPath`.
    pub after_input_path: Option<Value>,
    /// `afterParameters`.
    pub after_parameters: Option<Value>,
    /// `afterArguments`.
    pub after_arguments: Option<Value>,
    /// `result`.
    pub result: Option<Value>,
    /// `afterResultSelector`.
    pub after_result_selector: Option<Value>,
    /// `afterResultPath`.
    pub after_result_path: Option<Value>,
    /// `afterItemsPath`.
    pub after_items_path: Option<Value>,
    /// `afterItemSelector`.
    pub after_item_selector: Option<Value>,
    /// `toleratedFailureCount`.
    pub tolerated_failure_count: Option<u64>,
    /// `toleratedFailurePercentage`.
    pub tolerated_failure_percentage: Option<f64>,
    /// `maxConcurrency`.
    pub max_concurrency: Option<u64>,
    /// The variables after the state's `Assign`.
    pub variables: Option<Map<String, Value>>,
    /// `errorDetails`.
    pub error_details: Option<ErrorDetails>,
}

/// `inspectionData.errorDetails`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ErrorDetails {
    /// `catchIndex`.
    pub catch_index: Option<usize>,
    /// `retryIndex`.
    pub retry_index: Option<usize>,
    /// `retryBackoffIntervalSeconds`.
    pub retry_backoff_interval_seconds: Option<u64>,
}

/// TestState's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// `status`.
    pub status: TestStatus,
    /// `output`.
    pub output: Option<Payload>,
    /// `error`.
    pub error: Option<StatesError>,
    /// The state that would run next: `Next`, a Choice's pick, a catcher's `Next`, or the
    /// state itself when it would be retried.
    pub next_state: Option<String>,
    /// `inspection`.
    pub inspection: Inspection,
}

/// A request AWS refuses before running anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `ValidationException`.
    Validation(String),
    /// `InvalidDefinition`.
    InvalidDefinition(String),
}

/// The state under test and what it sees.
pub struct Tested<'t> {
    /// `machine`.
    pub machine: &'t StateMachine,
    /// `state`.
    pub state: &'t State,
    /// `env`.
    pub env: Env<'t>,
    /// `mock`.
    pub mock: Option<&'t Mock>,
    /// `configuration`.
    pub configuration: &'t StateConfiguration,
    /// True when the request names a `roleArn`.
    pub has_role: bool,
}

/// What [`begin`] leaves for the engine.
#[derive(Debug)]
pub enum Begun {
    /// The state ran to its end.
    Done(TestOutcome),
    /// A Task that is not mocked: the engine invokes it with these parameters, then
    /// calls [`complete`] with what it got.
    Invoke(Pending),
    /// A mocked Task, Map or Parallel: [`complete`] takes the mock.
    Mocked(Pending),
}

/// A state between its input processing and its result.
#[derive(Debug)]
pub struct Pending {
    raw: Payload,
    /// The task's parameters (after Parameters or Arguments).
    pub parameters: Payload,
    inspection: Inspection,
}

/// AWS's checks of a request against the state it tests.
pub fn check(tested: &Tested<'_>) -> Result<(), Refusal> {
    let kind = &tested.state.kind;
    let type_name = kind.type_name();
    if tested.mock.is_some() && !matches!(kind, StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel(_)) {
        return Err(Refusal::Validation(format!("State type '{type_name}' is not supported when a mock is specified")));
    }
    if tested.mock.is_none() && matches!(kind, StateKind::Map(_) | StateKind::Parallel(_)) {
        return Err(Refusal::InvalidDefinition(
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]"
                .into(),
        ));
    }
    if tested.mock.is_none() && matches!(kind, StateKind::Task(_)) && !tested.has_role {
        return Err(Refusal::Validation("RoleArn must be specified when testing a Task state".into()));
    }

    let caused_by = tested.configuration.error_caused_by_state.is_some();
    match (kind, tested.mock) {
        (StateKind::Map(_) | StateKind::Parallel(_), Some(Mock::Error(_))) if !caused_by => Err(Refusal::Validation(
            "stateConfiguration.errorCausedByState must name the state that raised a mocked error of a Map or Parallel state"
                .into(),
        )),
        (StateKind::Map(map), Some(_))
            if map.item_reader.is_some()
                && !tested.configuration.map_item_reader_data.as_ref().is_some_and(Value::is_array) =>
        {
            Err(Refusal::Validation(
                "stateConfiguration.mapItemReaderData (a JSON array) must give the items of a Map with an ItemReader".into(),
            ))
        }
        (StateKind::Map(_), Some(Mock::Result(result))) if !result.is_array() => {
            Err(Refusal::Validation("Mocked result must be an array.".into()))
        }
        (StateKind::Parallel(parallel), Some(Mock::Result(result)))
            if result.as_array().is_none_or(|r| r.len() != parallel.branches.len()) =>
        {
            Err(Refusal::Validation(
                "Mocked result must contain the same number of items as number of Parallel branches.".into(),
            ))
        }
        _ => Ok(()),
    }
}

/// Runs the state up to its effect: input processing, and the whole state for the types
/// that have no effect.
pub fn begin(tested: &Tested<'_>, raw: Payload) -> Begun {
    let mut inspection = Inspection { input: Some((*raw).clone()), ..Inspection::default() };
    let state = tested.state;
    let env = &tested.env;
    let effective = match through_path(&state.input_path, raw.clone(), env) {
        Ok(effective) => effective,
        Err(e) => return Begun::Done(failed(tested, e, inspection)),
    };
    if state.jsonata.is_none() {
        inspection.after_input_path = Some((*effective).clone());
    }
    let input = Input { raw: raw.clone(), effective: effective.clone() };
    let ended = |exit: Result<Exit, EvalError>, next: Option<&str>, inspection: Inspection| match exit {
        Ok(exit) => Begun::Done(succeeded(tested, exit, next, inspection)),
        Err(e) => Begun::Done(failed(tested, e, inspection)),
    };
    let next_of = |transition: Transition| match transition {
        Transition::Next(id) => Some(tested.machine.states[id].name.to_string()),
        Transition::End => None,
    };
    let parameters = match &state.kind {
        StateKind::Pass(pass) if state.jsonata.is_some() => {
            let next = next_of(pass.transition);
            return ended(steps::pass(state, pass, input.raw, env), next.as_deref(), inspection);
        }
        StateKind::Pass(pass) => {
            let next = next_of(pass.transition);
            let exit = pass_stages(state, pass, input, env, &mut inspection);
            return ended(exit, next.as_deref(), inspection);
        }
        StateKind::Succeed => return ended(steps::plain(state, None, input, env), None, inspection),
        StateKind::Wait(wait) => {
            let exit = wait_deadline(wait, &effective, env, env.now)
                .and_then(|_| steps::plain(state, wait.assign.as_ref(), input, env));
            return ended(exit, next_of(wait.transition).as_deref(), inspection);
        }
        StateKind::Fail(fail) => {
            let error = fail_error(fail, &effective, env).unwrap_or_else(|e| e.into_states_error(&state.name, 1));
            return Begun::Done(TestOutcome {
                status: TestStatus::Failed,
                output: None,
                error: Some(error),
                next_state: None,
                inspection,
            });
        }
        StateKind::Choice(choice) => {
            return match steps::choose(state, choice, input, env) {
                Ok((next, exit)) => {
                    let next = tested.machine.states[next].name.to_string();
                    Begun::Done(succeeded(tested, exit, Some(&next), inspection))
                }
                Err(e) => Begun::Done(failed(tested, e, inspection)),
            };
        }
        StateKind::Task(task) => arguments(state, task.parameters.as_ref(), &effective, env),
        StateKind::Parallel(parallel) => arguments(state, parallel.parameters.as_ref(), &effective, env),
        StateKind::Map(map) => map_inspection(state, map, &effective, env, tested.configuration, &mut inspection)
            .map(|()| effective.clone()),
    };
    let parameters = match parameters {
        Ok(parameters) => parameters,
        Err(e) => return Begun::Done(failed(tested, e, inspection)),
    };
    if !matches!(state.kind, StateKind::Map(_)) {
        match state.jsonata {
            Some(_) => inspection.after_arguments = Some((*parameters).clone()),
            None => inspection.after_parameters = Some((*parameters).clone()),
        }
    }
    let pending = Pending { raw, parameters, inspection };
    match tested.mock {
        Some(_) => Begun::Mocked(pending),
        None => Begun::Invoke(pending),
    }
}

/// A JSONPath Pass, recording its stages as AWS's inspection data shows them: its
/// parameters (or its input), its `Result`, the result after ResultPath.
fn pass_stages(
    state: &State,
    pass: &crate::definition::PassState,
    input: Input,
    env: &Env<'_>,
    inspection: &mut Inspection,
) -> Result<Exit, EvalError> {
    let parameters = match &pass.parameters {
        Some(template) => Payload::from_json(template.render_in(&env.payload_scope(&input.effective), env.entropy)?),
        None => input.effective.clone(),
    };
    inspection.after_parameters = Some((*parameters).clone());
    let result = match &pass.result {
        Some(result) => {
            inspection.result = Some(result.clone());
            Payload::new(result.clone())
        }
        None => parameters,
    };
    inspection.after_result_selector = Some((*result).clone());
    check_result_size(&result, &state.name)?;
    let assigned = assign(pass.assign.as_ref(), &result, env)?;
    let combined = pass.result_path.apply_payload(input.raw, result)?;
    inspection.after_result_path = Some((*combined).clone());
    Ok(Exit { output: through_path(&state.output_path, combined, env)?, assigned })
}

/// A Map's items, selected items and limits, for `inspectionData`.
fn map_inspection(
    state: &State,
    map: &crate::definition::MapState,
    effective: &Payload,
    env: &Env<'_>,
    configuration: &StateConfiguration,
    inspection: &mut Inspection,
) -> Result<(), EvalError> {
    // With an ItemReader, the items are the configuration's (checked to be an array).
    let items = match (&map.item_reader, &configuration.map_item_reader_data) {
        (Some(_), Some(Value::Array(data))) => data.iter().cloned().map(Payload::new).collect(),
        _ => items(state, map, effective, env)?,
    };
    inspection.after_items_path = Some(Value::Array(items.iter().map(|i| (**i).clone()).collect()));
    let tolerance = Tolerance::of(map, effective, env)?;
    inspection.tolerated_failure_count = tolerance.count().map(|c| c.max(0) as u64);
    inspection.tolerated_failure_percentage = tolerance.percentage();
    let scope = env.scope(effective);
    inspection.max_concurrency = Some(count(&map.max_concurrency, &scope, env, "MaxConcurrency", Value::as_u64)?);
    if map.item_selector.is_some() || state.jsonata.as_ref().is_some_and(|j| j.item_selector.is_some()) {
        let mut selected = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let context = match env.context {
                Value::Object(context) => {
                    let mut context = context.clone();
                    context.insert("Map".into(), serde_json::json!({"Item": {"Index": index, "Value": &**item}}));
                    Value::Object(context)
                }
                _ => serde_json::json!({"Map": {"Item": {"Index": index, "Value": &**item}}}),
            };
            let item_env = Env { context: &context, ..*env };
            let jsonata_selector = state.jsonata.as_ref().and_then(|j| j.item_selector.as_ref());
            let value = match (jsonata_selector, &map.item_selector) {
                (Some(selector), _) => item_env.jsonata_render(
                    selector,
                    &states_object(effective.to_value(), &context, None, None),
                    "ItemSelector",
                )?,
                (None, Some(template)) => template.render(&item_env.scope(effective), env.entropy)?,
                (None, None) => unreachable!("checked above"),
            };
            selected.push(value);
        }
        inspection.after_item_selector = Some(Value::Array(selected));
    }
    Ok(())
}

/// Ends a Task, Map or Parallel with what its attempt produced: the mock, or the engine's
/// invocation.
pub fn complete(tested: &Tested<'_>, pending: Pending, attempt: Result<Value, StatesError>) -> TestOutcome {
    let state = tested.state;
    let handling = match state.kind.result_handling() {
        Some(handling) => handling,
        None => unreachable!("begin pends only Task, Map and Parallel"),
    };
    let Pending { raw, mut inspection, .. } = pending;
    let mut attempt = attempt;
    if let (StateKind::Map(map), Ok(_), Some(failures)) =
        (&state.kind, &attempt, tested.configuration.map_iteration_failure_count)
    {
        let total = inspection.after_items_path.as_ref().and_then(Value::as_array).map_or(0, Vec::len);
        match Tolerance::of(map, &raw, &tested.env) {
            Ok(tolerance) if tolerance.exceeded(failures as usize, total) => {
                let iteration_error = StatesError::new(ErrorName::Custom("States.ALL".into()), "");
                attempt = Err(tolerance.failure(iteration_error));
            }
            Ok(_) => {}
            Err(e) => return failed(tested, e, inspection),
        }
    }
    let result = match attempt {
        Ok(result) => Payload::new(result),
        Err(error) => return recovered(tested, handling, &raw, error, inspection),
    };
    inspection.result = Some((*result).clone());
    match shape(tested, handling, raw.clone(), result, &mut inspection) {
        Ok(exit) => {
            let next = match handling.transition {
                Transition::Next(id) => Some(tested.machine.states[id].name.to_string()),
                Transition::End => None,
            };
            succeeded(tested, exit, next.as_deref(), inspection)
        }
        Err(e) => recovered(tested, handling, &raw, e.into_states_error(&state.name, 1), inspection),
    }
}

/// ResultSelector → Assign → ResultPath → OutputPath (the interpreter's own), recording
/// each stage.
fn shape(
    tested: &Tested<'_>,
    handling: &ResultHandling,
    raw: Payload,
    result: Payload,
    inspection: &mut Inspection,
) -> Result<Exit, EvalError> {
    shape_result_observed(tested.state, handling, raw, result, &tested.env, &mut |stage, value| match stage {
        Stage::AfterResultSelector => inspection.after_result_selector = Some((**value).clone()),
        Stage::AfterResultPath => inspection.after_result_path = Some((**value).clone()),
    })
}

/// An attempt's error through Retry (at the configured retry count) and Catch.
fn recovered(
    tested: &Tested<'_>,
    handling: &ResultHandling,
    raw: &Payload,
    error: StatesError,
    mut inspection: Inspection,
) -> TestOutcome {
    let mut attempts = vec![tested.configuration.retrier_retry_count; handling.retry.len()];
    match recover(&handling.retry, &handling.catch, &error.error, &mut attempts) {
        Recovery::Retry { delay_millis, .. } => {
            let index = handling.retry.iter().position(|r| r.matches(&error.error));
            inspection.error_details = Some(ErrorDetails {
                retry_index: index,
                retry_backoff_interval_seconds: Some(delay_millis / 1000),
                catch_index: None,
            });
            TestOutcome {
                status: TestStatus::Retriable,
                output: None,
                error: Some(error),
                // AWS names no next state for a retry.
                next_state: None,
                inspection,
            }
        }
        Recovery::Catch(index) => {
            let catcher = &handling.catch[index];
            inspection.error_details = Some(ErrorDetails { catch_index: Some(index), ..ErrorDetails::default() });
            match catch_exit(catcher, raw, &error, &tested.env) {
                Ok(exit) => {
                    let next = tested.machine.states[catcher.next].name.to_string();
                    let mut outcome = succeeded(tested, exit, Some(&next), inspection);
                    outcome.status = TestStatus::CaughtError;
                    outcome.error = Some(error);
                    outcome
                }
                Err(e) => failed(tested, e, inspection),
            }
        }
        Recovery::Fail => {
            TestOutcome { status: TestStatus::Failed, output: None, error: Some(error), next_state: None, inspection }
        }
    }
}

fn succeeded(tested: &Tested<'_>, exit: Exit, next: Option<&str>, mut inspection: Inspection) -> TestOutcome {
    if exit.assigned.is_some() || !tested.env.variables.is_empty() {
        let mut variables = tested.env.variables.clone();
        variables.extend(exit.assigned.unwrap_or_default());
        inspection.variables = Some(variables);
    }
    TestOutcome {
        status: TestStatus::Succeeded,
        output: Some(exit.output),
        error: None,
        next_state: next.map(str::to_owned),
        inspection,
    }
}

/// A failure of the state's own fields (a path that matches nothing, a JSONata error…).
fn failed(tested: &Tested<'_>, error: EvalError, inspection: Inspection) -> TestOutcome {
    TestOutcome {
        status: TestStatus::Failed,
        output: None,
        error: Some(error.into_states_error(&tested.state.name, 1)),
        next_state: None,
        inspection,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::entropy::Entropy;
    use crate::parse_definition;

    struct Fixed;
    impl Entropy for Fixed {
        fn next_u64(&self) -> u64 {
            7
        }
    }

    fn machine(states: Value) -> StateMachine {
        let definition = json!({"StartAt": "S", "States": states});
        let (machine, diagnostics) = parse_definition(&definition.to_string());
        machine.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    fn run(machine: &StateMachine, input: Value, mock: Option<Mock>, configuration: StateConfiguration) -> TestOutcome {
        let variables = Map::new();
        let env = Env { context: &Value::Null, variables: &variables, now: 0, entropy: &Fixed };
        let tested = Tested {
            machine,
            state: &machine.states[machine.start_at],
            env,
            mock: mock.as_ref(),
            configuration: &configuration,
            has_role: false,
        };
        check(&tested).expect("accepted");
        match begin(&tested, Payload::new(input)) {
            Begun::Done(outcome) => outcome,
            Begun::Mocked(pending) => {
                let attempt = match &mock {
                    Some(Mock::Result(result)) => Ok(result.clone()),
                    Some(Mock::Error(error)) => Err(error.clone()),
                    None => unreachable!(),
                };
                complete(&tested, pending, attempt)
            }
            Begun::Invoke(_) => panic!("no invocation in these tests"),
        }
    }

    fn task(extra: Value) -> StateMachine {
        let mut task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "N"});
        task.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        machine(json!({"S": task, "N": {"Type": "Pass", "Next": "Handler"}, "Handler": {"Type": "Pass", "End": true}}))
    }

    #[test]
    fn a_mocked_task_shows_every_stage() {
        let m = task(json!({"InputPath": "$.in", "Parameters": {"x.$": "$.v"},
            "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.r", "OutputPath": "$.r"}));
        let outcome = run(
            &m,
            json!({"in": {"v": 1}}),
            Some(Mock::Result(json!({"Payload": 5, "StatusCode": 200}))),
            StateConfiguration::default(),
        );
        assert_eq!(outcome.status, TestStatus::Succeeded);
        assert_eq!(*outcome.output.unwrap(), json!({"p": 5}));
        assert_eq!(outcome.next_state.as_deref(), Some("N"));
        let i = outcome.inspection;
        assert_eq!(i.after_input_path, Some(json!({"v": 1})));
        assert_eq!(i.after_parameters, Some(json!({"x": 1})));
        assert_eq!(i.result, Some(json!({"Payload": 5, "StatusCode": 200})));
        assert_eq!(i.after_result_selector, Some(json!({"p": 5})));
        assert_eq!(i.after_result_path, Some(json!({"in": {"v": 1}, "r": {"p": 5}})));
    }

    #[test]
    fn errors_go_through_retry_at_the_configured_count_then_catch() {
        let m = task(json!({
            "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler", "ResultPath": "$.e"}]}));
        let boom = || Some(Mock::Error(StatesError::new(ErrorName::Custom("Boom".into()), "c")));
        let first = run(&m, json!({}), boom(), StateConfiguration::default());
        assert_eq!(first.status, TestStatus::Retriable);
        assert_eq!(first.next_state, None, "AWS names no next state for a retry");
        let details = first.inspection.error_details.unwrap();
        assert_eq!((details.retry_index, details.retry_backoff_interval_seconds), (Some(1), Some(2)));
        let second = run(&m, json!({}), boom(), StateConfiguration { retrier_retry_count: 1, ..Default::default() });
        assert_eq!(second.inspection.error_details.unwrap().retry_backoff_interval_seconds, Some(4));
        let caught =
            run(&m, json!({"a": 1}), boom(), StateConfiguration { retrier_retry_count: 2, ..Default::default() });
        assert_eq!(caught.status, TestStatus::CaughtError);
        assert_eq!(caught.next_state.as_deref(), Some("Handler"));
        assert_eq!(caught.inspection.error_details.unwrap().catch_index, Some(0));
        assert_eq!(*caught.output.unwrap(), json!({"a": 1, "e": {"Error": "Boom", "Cause": "c"}}));
    }

    #[test]
    fn an_uncaught_error_fails() {
        let m = task(json!({}));
        let outcome = run(
            &m,
            json!({}),
            Some(Mock::Error(StatesError::new(ErrorName::Custom("X".into()), "y"))),
            StateConfiguration::default(),
        );
        assert_eq!(outcome.status, TestStatus::Failed);
        assert_eq!(outcome.error.unwrap().to_value(), json!({"Error": "X", "Cause": "y"}));
        assert_eq!(outcome.next_state, None);
    }

    #[test]
    fn choice_picks_the_next_state_and_fail_reports_its_error() {
        let m = machine(json!({
            "S": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
            "Big": {"Type": "Succeed"}, "Small": {"Type": "Fail", "Error": "E", "Cause": "C"}}));
        let big = run(&m, json!({"n": 2}), None, StateConfiguration::default());
        assert_eq!((big.status, big.next_state.as_deref()), (TestStatus::Succeeded, Some("Big")));
        let small = run(&m, json!({"n": 0}), None, StateConfiguration::default());
        assert_eq!(small.next_state.as_deref(), Some("Small"));
        let fail = machine(json!({"S": {"Type": "Fail", "Error": "E", "Cause": "C"}}));
        let outcome = run(&fail, json!({}), None, StateConfiguration::default());
        assert_eq!(
            (outcome.status, outcome.error.unwrap().to_value()),
            (TestStatus::Failed, json!({"Error": "E", "Cause": "C"}))
        );
    }

    #[test]
    fn map_mocks_check_the_tolerated_failures() {
        let m = machine(json!({"S": {"Type": "Map", "ItemsPath": "$.items", "ToleratedFailureCount": 1,
            "ItemSelector": {"v.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}));
        let input = json!({"items": [1, 2, 3]});
        let ok = run(
            &m,
            input.clone(),
            Some(Mock::Result(json!([1, 2, 3]))),
            StateConfiguration { map_iteration_failure_count: Some(1), ..Default::default() },
        );
        assert_eq!(ok.status, TestStatus::Succeeded);
        assert_eq!(ok.inspection.after_item_selector, Some(json!([{"v": 1}, {"v": 2}, {"v": 3}])));
        assert_eq!(ok.inspection.tolerated_failure_count, Some(1));
        let over = run(
            &m,
            input,
            Some(Mock::Result(json!([1, 2, 3]))),
            StateConfiguration { map_iteration_failure_count: Some(2), ..Default::default() },
        );
        assert_eq!(over.status, TestStatus::Failed);
        assert_eq!(over.error.unwrap().error.as_str(), "States.ExceedToleratedFailureThreshold");
    }

    #[test]
    fn aws_refusals() {
        let variables = Map::new();
        let env = Env { context: &Value::Null, variables: &variables, now: 0, entropy: &Fixed };
        let pass = machine(json!({"S": {"Type": "Pass", "End": true}}));
        let mock = Mock::Result(json!(1));
        let configuration = StateConfiguration::default();
        let tested = |m: &'static StateMachine, mock: Option<&'static Mock>| Tested {
            machine: m,
            state: &m.states[m.start_at],
            env,
            mock,
            configuration: &configuration,
            has_role: false,
        };
        let leak = |m: StateMachine| &*Box::leak(Box::new(m));
        let mock: &'static Mock = Box::leak(Box::new(mock));
        let refusal = check(&tested(leak(pass), Some(mock))).unwrap_err();
        assert_eq!(refusal, Refusal::Validation("State type 'Pass' is not supported when a mock is specified".into()));
        let map = leak(machine(json!({"S": {"Type": "Map",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}})));
        assert!(matches!(check(&tested(map, None)), Err(Refusal::InvalidDefinition(_))));
        assert_eq!(check(&tested(map, Some(mock))), Err(Refusal::Validation("Mocked result must be an array.".into())));
        let task = leak(task(json!({})));
        assert_eq!(
            check(&tested(task, None)),
            Err(Refusal::Validation("RoleArn must be specified when testing a Task state".into()))
        );
        // TRACE is accepted for every state (AWS's recorded answers), showing what DEBUG does.
        assert!(check(&tested(task, Some(mock))).is_ok());
    }
}
