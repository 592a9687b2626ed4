//! TestState's effects around the pure evaluation (`sfnlite_states::eval::test_state`):
//! reading the definition (one state, or a whole machine and a `stateName`), the context
//! object, the clock, and a real invocation of a Task that is not mocked. `serve`'s
//! TestState and `sfnlite test`'s single-state cases both call [`test_state`].

use sfnlite_states::history::Payload;

use serde_json::{Map, Value, json};
use sfnlite_states::StateMachine;
use sfnlite_states::definition::{State, StateKind};
use sfnlite_states::entropy::Entropy;
use sfnlite_states::entropy::SeededEntropy;
use sfnlite_states::eval::Env;
use sfnlite_states::eval::context::ExecutionContext;
use sfnlite_states::eval::test_state::{
    Begun, InspectionLevel, Mock, Refusal, StateConfiguration, TestOutcome, Tested, begin, check, complete,
};
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::{ErrorName, StatesError};

use crate::adapter::{Registry, TaskRequest};
use crate::clock::Clock;

/// The name a definition of one state is tested under (AWS does not say which it uses).
pub const SINGLE_STATE_NAME: &str = "TestState";

/// How long a TestState call may run, as on AWS (5 minutes).
const LIMIT_MILLIS: i64 = 300_000;

/// One TestState call, in AWS's terms.
#[derive(Debug, Clone, Default)]
pub struct TestStateRequest {
    /// `definition`: one state's JSON, or a whole state machine (with `state_name`).
    pub definition: String,
    /// `stateName`.
    pub state_name: Option<String>,
    /// `input`.
    pub input: Value,
    /// `context` (`$$`), only with a mock.
    pub context: Option<Value>,
    /// `variables`.
    pub variables: Map<String, Value>,
    /// `inspectionLevel`.
    pub inspection_level: InspectionLevel,
    /// `mock`.
    pub mock: Option<Mock>,
    /// `stateConfiguration`.
    pub configuration: StateConfiguration,
    /// `roleArn`.
    pub role_arn: Option<String>,
    /// The region of the ARNs made up for the context.
    pub region: String,
}

/// Runs one TestState call: AWS's refusals, or the state's outcome.
pub async fn test_state(
    registry: &Registry,
    clock: &dyn Clock,
    seed: u64,
    request: &TestStateRequest,
) -> Result<TestOutcome, Refusal> {
    let (machine, name) = tested_machine(&request.definition, request.state_name.as_deref())?;
    let state = machine
        .state(&name)
        .ok_or_else(|| Refusal::Validation(format!("State '{name}' does not exist in the state machine definition")))?;
    if request.context.is_some() && request.mock.is_none() {
        return Err(Refusal::Validation("Context can only be specified when a mock is specified".into()));
    }
    if let (Some(_), StateKind::Task(task)) = (&request.mock, &state.kind)
        && matches!(*task.resource, Resource::Activity(_))
    {
        return Err(Refusal::Validation("Activity state cannot be mocked".into()));
    }
    if let (None, StateKind::Task(task)) = (&request.mock, &state.kind) {
        let pattern = task.resource.integration().map(|i| i.pattern);
        if matches!(*task.resource, Resource::Activity(_))
            || matches!(pattern, Some(IntegrationPattern::Sync | IntegrationPattern::WaitForTaskToken))
        {
            return Err(Refusal::Validation(
                "TestState supports Activity, .sync and .waitForTaskToken tasks only with a mock".into(),
            ));
        }
    }
    let now = clock.now_millis();
    let prepared = Prepared::new(request, &machine, state, now, seed);
    let begun = prepared.with_tested(0, |tested| {
        check(tested)?;
        Ok(begin(tested, Payload::new(request.input.clone())))
    })?;
    let (pending, attempt) = match begun {
        Begun::Done(outcome) => return Ok(outcome),
        Begun::Mocked(pending) => match &request.mock {
            Some(Mock::Result(result)) => (pending, Ok(result.clone())),
            Some(Mock::Error(error)) => (pending, Err(error.clone())),
            None => unreachable!("begin mocks only with a mock"),
        },
        Begun::Invoke(pending) => {
            let StateKind::Task(task) = &state.kind else { unreachable!("begin invokes only Tasks") };
            let deadline = now.saturating_add(LIMIT_MILLIS);
            let task_request = TaskRequest {
                state_name: state.name.to_string(),
                resource: task.resource.clone(),
                parameters: pending.parameters.clone(),
                credentials: None,
                attempt: request.configuration.retrier_retry_count,
                deadline_millis: Some(deadline),
                execution_arn: prepared.execution_arn.clone(),
                event_id: 3,
                started_millis: now,
            };
            let attempt = match registry.find(&state.name, &task.resource) {
                None => Err(StatesError::new(
                    ErrorName::Runtime,
                    format!("no adapter runs the resource '{}'", task.resource.arn()),
                )),
                Some(adapter) => {
                    tokio::select! {
                        result = adapter.invoke(task_request) => result,
                        () = clock.sleep_until(deadline) => {
                            Err(StatesError::new(ErrorName::Timeout, "TestState runs for at most 5 minutes"))
                        }
                    }
                }
            };
            (pending, attempt)
        }
    };
    prepared.with_tested(1, |tested| Ok(complete(tested, pending, attempt)))
}

/// What the tested state sees, owned, so that no borrow of the (not `Sync`) entropy is
/// held across the invocation.
struct Prepared<'r> {
    request: &'r TestStateRequest,
    machine: &'r StateMachine,
    state: &'r State,
    context: Value,
    execution_arn: String,
    now: i64,
    seed: u64,
}

impl<'r> Prepared<'r> {
    fn new(request: &'r TestStateRequest, machine: &'r StateMachine, state: &'r State, now: i64, seed: u64) -> Self {
        let execution_name = SeededEntropy::new(seed).uuid_v4();
        let machine_arn =
            format!("arn:aws:states:{}:{}:stateMachine:TestStateMachine", request.region, crate::ACCOUNT_ID);
        let execution_arn = format!(
            "arn:aws:states:{}:{}:execution:TestStateMachine:{execution_name}",
            request.region,
            crate::ACCOUNT_ID
        );
        let role = request.role_arn.clone().unwrap_or_default();
        let context = match &request.context {
            Some(context) => context.clone(),
            None => ExecutionContext {
                arn: &execution_arn,
                name: &execution_name,
                input: &request.input,
                role_arn: &role,
                start_millis: now,
                redrive_count: Some(0),
                state_machine_arn: &machine_arn,
                state_machine_name: "TestStateMachine",
            }
            .object(state, now, request.configuration.retrier_retry_count),
        };
        Prepared { request, machine, state, context, execution_arn, now, seed }
    }

    /// Runs `phase` with the state's [`Tested`]; each phase draws from its own entropy.
    fn with_tested<T>(&self, phase: u64, run: impl FnOnce(&Tested<'_>) -> Result<T, Refusal>) -> Result<T, Refusal> {
        let entropy = SeededEntropy::new(self.seed.wrapping_add(phase.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let env = Env { context: &self.context, variables: &self.request.variables, now: self.now, entropy: &entropy };
        let tested = Tested {
            machine: self.machine,
            state: self.state,
            env,
            mock: self.request.mock.as_ref(),
            configuration: &self.request.configuration,
            has_role: self.request.role_arn.is_some(),
        };
        run(&tested)
    }
}

/// The machine a definition is tested in, and the tested state's name: a whole machine
/// (its `stateName`, or its `StartAt`), or one state, placed in a machine where the states
/// it names (`Next`, `Default`, a Choice rule's or a Catcher's `Next`) end at once.
fn tested_machine(definition: &str, state_name: Option<&str>) -> Result<(StateMachine, String), Refusal> {
    let value: Value = serde_json::from_str(definition)
        .map_err(|e| Refusal::InvalidDefinition(format!("Invalid State Machine Definition: '{e}'")))?;
    let Value::Object(object) = &value else {
        return Err(Refusal::InvalidDefinition("Definition must be a valid JSON object".into()));
    };
    let whole = object.contains_key("States") && object.contains_key("StartAt");
    let (text, name) = match (whole, state_name) {
        (true, Some(name)) => (definition.to_owned(), name.to_owned()),
        (true, None) => (definition.to_owned(), object["StartAt"].as_str().unwrap_or_default().to_owned()),
        (false, Some(_)) => {
            return Err(Refusal::Validation(
                "stateName can only be specified with a state machine definition (StartAt and States)".into(),
            ));
        }
        (false, None) => {
            let mut states = Map::new();
            for target in targets(object) {
                if target != SINGLE_STATE_NAME {
                    states.insert(target, json!({"Type": "Succeed"}));
                }
            }
            states.insert(SINGLE_STATE_NAME.into(), value.clone());
            (json!({"StartAt": SINGLE_STATE_NAME, "States": states}).to_string(), SINGLE_STATE_NAME.to_owned())
        }
    };
    let (machine, diagnostics) = sfnlite_states::parse_definition(&text);
    match machine {
        Some(machine) => Ok((machine, name)),
        None => {
            let first = diagnostics.iter().find(|d| d.severity == sfnlite_states::Severity::Error);
            let detail = first.map_or_else(String::new, |d| {
                let location = if whole { d.location.clone() } else { d.location.replacen("/States/TestState", "", 1) };
                format!("{}: {} at {}", d.code.as_str(), d.message, if location.is_empty() { "/" } else { &location })
            });
            Err(Refusal::InvalidDefinition(format!("Invalid State Machine Definition: '{detail}'")))
        }
    }
}

/// The state names one state's definition sends to.
fn targets(state: &Map<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(Value::String(name)) = v {
            names.push(name.clone());
        }
    };
    add(state.get("Next"));
    add(state.get("Default"));
    for list in ["Choices", "Catch"] {
        if let Some(Value::Array(items)) = state.get(list) {
            items.iter().for_each(|item| add(item.get("Next")));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use sfnlite_states::eval::test_state::TestStatus;

    fn request(definition: Value, input: Value) -> TestStateRequest {
        TestStateRequest {
            definition: definition.to_string(),
            input,
            region: "us-east-1".into(),
            ..TestStateRequest::default()
        }
    }

    #[tokio::test]
    async fn one_state_is_tested_with_its_next_states_made_up() {
        let definition = json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}],
            "Default": "Other"});
        let outcome = test_state(&Registry::new(), &SystemClock, 1, &request(definition, json!({"n": 1}))).await;
        let outcome = outcome.expect("runs");
        assert_eq!((outcome.status, outcome.next_state.as_deref()), (TestStatus::Succeeded, Some("One")));
    }

    #[tokio::test]
    async fn a_state_of_a_whole_machine_reads_the_context() {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"name.$": "$$.State.Name", "v.$": "$.v"}, "End": true}}});
        let mut r = request(definition, json!({"v": 2}));
        r.state_name = Some("B".into());
        let outcome = test_state(&Registry::new(), &SystemClock, 1, &r).await.expect("runs");
        assert_eq!(*outcome.output.unwrap(), json!({"name": "B", "v": 2}));
        r.state_name = Some("Nope".into());
        assert!(matches!(test_state(&Registry::new(), &SystemClock, 1, &r).await, Err(Refusal::Validation(_))));
    }

    #[tokio::test]
    async fn a_task_without_an_adapter_fails_and_bad_definitions_are_refused() {
        let definition = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
        let mut r = request(definition, json!({}));
        r.role_arn = Some("arn:aws:iam::123456789012:role/r".into());
        let outcome = test_state(&Registry::new(), &SystemClock, 1, &r).await.expect("runs");
        assert_eq!(outcome.status, TestStatus::Failed);
        let broken = request(json!({"Type": "Pass", "Next": 3}), json!({}));
        let refusal = test_state(&Registry::new(), &SystemClock, 1, &broken).await.unwrap_err();
        assert!(matches!(refusal, Refusal::InvalidDefinition(m) if m.starts_with("Invalid State Machine Definition")));
    }
}
