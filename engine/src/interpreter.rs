//! Runs one execution: walks the state machine, performs effects (tasks through adapters,
//! waits on the clock, Map and Parallel fan-out), and records every history event.
//!
//! The ASL semantics (paths, templates, Choice rules, retry decisions) are pure functions
//! of `sfnlite-states`; this module only sequences them and does the effects.
//!
//! Concurrency: Map iterations and Parallel branches are futures polled together in the
//! execution's task (no threads), so a failing iteration cancels its siblings by dropping
//! them. Results are ordered by index, never by completion.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use serde_json::{Map, Value, json};
use sfnlite_states::definition::{
    ChoiceTest, Count, FailState, JitterStrategy, JsonataFields, MapState, ParallelState, PassState, Seconds, State,
    StateKind, StateMachine, TaskState, TextField, Transition, WaitFor, WaitState,
};
use sfnlite_states::definition::{PathField, ResultHandling, ResultPath};
use sfnlite_states::entropy::{Entropy, SeededEntropy};
use sfnlite_states::history::{EventDetails, HistoryEvent, Payload, StateType, TaskResource};
use sfnlite_states::io::exceeds_payload_limit;
use sfnlite_states::jsonata::{self, Bindings};
use sfnlite_states::path::{Path, Scope};
use sfnlite_states::retry::{Recovery, recover};
use sfnlite_states::template::{Template, compact};
use sfnlite_states::timestamp::{format_millis, parse_iso8601};
use sfnlite_states::{ErrorName, EvalError, StatesError};

use crate::adapter::{Registry, TaskRequest, is_lambda_function_arn};
use crate::clock::Clock;
use crate::store::{HistoryStore, StoreError};

type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What identifies an execution, and what the context object reports about it.
#[derive(Debug, Clone)]
pub struct ExecutionInfo {
    /// `arn:aws:states:<region>:<account>:execution:<machine>:<name>`.
    pub arn: String,
    /// The execution name.
    pub name: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// The role reported in `$$.Execution.RoleArn` and `ExecutionStarted`.
    pub role_arn: String,
    /// The region reported in task events.
    pub region: String,
    /// The execution input.
    pub input: Payload,
    /// How many times the execution was redriven (`$$.Execution.RedriveCount`).
    pub redrive_count: u32,
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `SUCCEEDED`.
    Succeeded,
    /// `FAILED`.
    Failed,
    /// `TIMED_OUT`.
    TimedOut,
    /// `ABORTED`.
    Aborted,
}

impl Status {
    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// The end of an execution, as DescribeExecution reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The final status.
    pub status: Status,
    /// The output, when SUCCEEDED.
    pub output: Option<Value>,
    /// The error, when it did not succeed (absent for a Fail state without `Error`).
    pub error: Option<String>,
    /// The cause, when there is one.
    pub cause: Option<String>,
    /// Epoch milliseconds.
    pub start_millis: i64,
    /// Epoch milliseconds.
    pub stop_millis: i64,
}

/// Entropy shared by the concurrent parts of one execution.
struct SharedEntropy(Mutex<SeededEntropy>);

impl Entropy for SharedEntropy {
    fn next_u64(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).next_u64()
    }
}

/// One running execution.
pub(crate) struct Run<'a> {
    pub(crate) info: ExecutionInfo,
    pub(crate) start_millis: i64,
    /// When this attempt began (the start, or the last redrive): TimeoutSeconds counts from here.
    attempt_start: i64,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) registry: &'a Registry,
    pub(crate) store: &'a dyn HistoryStore,
    entropy: SharedEntropy,
    next_id: Mutex<u64>,
    /// The stored history, when resuming.
    replay: Option<Replay>,
    /// Events recorded since the last flush to the store.
    pending: Mutex<Vec<HistoryEvent>>,
    store_error: Mutex<Option<StoreError>>,
}

/// The part of a run that one branch of control owns: it remembers the last event it
/// recorded, for `previousEventId`.
struct Thread<'r, 'a> {
    run: &'r Run<'a>,
    last: u64,
    /// The timestamp of `last`.
    last_time: i64,
    /// The workflow variables this thread sees. Map iterations and Parallel branches start
    /// with a copy of their parent's: they read outer variables, and what they assign
    /// stays inside.
    variables: Arc<Map<String, Value>>,
}

/// A stored history being replayed (resume). The interpreter runs from the start; each
/// event it records is looked up here by (previous event, type, state name or iteration
/// index). A match reuses the stored id and timestamp and appends nothing, and the effects
/// it stands for are not performed again: task outcomes are read back, waits and retry
/// delays that already ended are skipped. The first event without a match makes that
/// thread of control live.
pub(crate) struct Replay {
    events: Vec<HistoryEvent>,
    by_key: HashMap<(u64, String, String), usize>,
    followers: HashMap<u64, Vec<usize>>,
}

/// Marks what a redrive runs again, following AWS: "a state is unsuccessful if there's no
/// `<stateType>Exited` event corresponding to the `<stateType>Entered` event". An
/// unsuccessful Map or Parallel state keeps its successful iterations and branches; any
/// other unsuccessful state is dropped from its `Entered` event on, with every event that
/// follows from it. The events that ended the attempt are dropped too.
fn exclude_unsuccessful(events: &[HistoryEvent], excluded: &mut [bool]) {
    // A state's Exited event follows the last event of that state, not its Entered event,
    // so walk each thread: an Entered is finished when its thread reaches a matching Exited.
    // Also note, for every event, the Map or Parallel state it runs inside.
    let by_id: HashMap<u64, &HistoryEvent> = events.iter().map(|e| (e.id, e)).collect();
    let mut owner: HashMap<u64, u64> = HashMap::new(); // event id -> the Entered it belongs to
    let mut enclosing: HashMap<u64, u64> = HashMap::new(); // event id -> the Map/Parallel Entered around it
    let mut finished: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for event in events {
        let previous = event.previous_event_id;
        let starts_child = by_id.get(&previous).is_some_and(|p| {
            matches!(p.details, EventDetails::MapIterationStarted { .. } | EventDetails::ParallelStateStarted)
        });
        let around = if starts_child { owner.get(&previous) } else { enclosing.get(&previous) }.copied();
        if let Some(around) = around {
            enclosing.insert(event.id, around);
        }
        let own = match &event.details {
            EventDetails::StateEntered { .. } => Some(event.id),
            _ => owner.get(&previous).copied(),
        };
        match (own, &event.details) {
            (Some(entered), EventDetails::StateExited { .. }) => {
                finished.insert(entered);
            }
            (Some(entered), _) => {
                owner.insert(event.id, entered);
            }
            _ => {}
        }
    }
    // An event inside a state that finished (a Map whose failure was caught, retried or
    // tolerated) belongs to a successful step: it is kept.
    let kept_by_success = |id: u64| {
        if owner.get(&id).is_some_and(|o| *o != id && finished.contains(o)) {
            return true;
        }
        let mut around = enclosing.get(&id).copied();
        while let Some(container) = around {
            if finished.contains(&container) {
                return true;
            }
            around = enclosing.get(&container).copied();
        }
        false
    };
    let index: HashMap<u64, usize> = events.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    for (i, event) in events.iter().enumerate() {
        let parent_dropped = index.get(&event.previous_event_id).is_some_and(|&p| excluded[p]);
        let ends_attempt = matches!(
            event.details,
            EventDetails::ExecutionFailed { .. }
                | EventDetails::ExecutionTimedOut { .. }
                | EventDetails::ExecutionAborted { .. }
                | EventDetails::MapIterationFailed { .. }
                | EventDetails::MapIterationAborted { .. }
                | EventDetails::MapStateFailed
                | EventDetails::ParallelStateFailed
        );
        let unfinished_simple_state = match &event.details {
            EventDetails::StateEntered { state_type, .. } => {
                !matches!(state_type, StateType::Map | StateType::Parallel) && !finished.contains(&event.id)
            }
            _ => false,
        };
        if parent_dropped || ((ends_attempt || unfinished_simple_state) && !kept_by_success(event.id)) {
            excluded[i] = true;
        }
    }
}

fn replay_key(previous: u64, details: &EventDetails) -> (u64, String, String) {
    let which = match details {
        EventDetails::MapIterationStarted { index, .. }
        | EventDetails::MapIterationSucceeded { index, .. }
        | EventDetails::MapIterationFailed { index, .. }
        | EventDetails::MapIterationAborted { index, .. } => index.to_string(),
        other => other.state_name().unwrap_or_default().to_owned(),
    };
    (previous, details.type_name(), which)
}

impl Replay {
    /// Indexes a stored history to resume it. Attempts before each `ExecutionRedriven`
    /// event are read as [`Replay::for_redrive`] read them then.
    pub(crate) fn for_resume(events: Vec<HistoryEvent>) -> Replay {
        let mut excluded = vec![false; events.len()];
        for (i, event) in events.iter().enumerate() {
            if matches!(event.details, EventDetails::ExecutionRedriven { .. }) {
                exclude_unsuccessful(&events[..i], &mut excluded[..i]);
            }
        }
        Replay::index(events, &excluded)
    }

    /// Indexes an ended execution's history to redrive it: what succeeded is replayed;
    /// states entered but never exited run again from their start, and the events that
    /// ended the attempt (failures, aborts, the execution's end) are left out.
    pub(crate) fn for_redrive(events: Vec<HistoryEvent>) -> Replay {
        let mut replay = Replay::for_resume(events);
        let mut excluded = vec![false; replay.events.len()];
        for (i, event) in replay.events.iter().enumerate() {
            excluded[i] = replay.by_key.get(&replay_key(event.previous_event_id, &event.details)) != Some(&i);
        }
        exclude_unsuccessful(&replay.events, &mut excluded);
        replay = Replay::index(std::mem::take(&mut replay.events), &excluded);
        replay
    }

    fn index(events: Vec<HistoryEvent>, excluded: &[bool]) -> Replay {
        let mut by_key = HashMap::new();
        let mut followers: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            if excluded[i] {
                continue;
            }
            by_key.insert(replay_key(event.previous_event_id, &event.details), i);
            followers.entry(event.previous_event_id).or_default().push(i);
        }
        Replay { events, by_key, followers }
    }

    /// When the current attempt began: the last redrive, or the start.
    fn attempt_start(&self) -> Option<i64> {
        self.events
            .iter()
            .rev()
            .find(|e| matches!(e.details, EventDetails::ExecutionRedriven { .. }))
            .or(self.events.first())
            .map(|e| e.timestamp)
    }

    fn find(&self, previous: u64, details: &EventDetails) -> Option<&HistoryEvent> {
        self.by_key.get(&replay_key(previous, details)).map(|&i| &self.events[i])
    }

    /// True when the stored history goes on after `event_id` in the same thread.
    fn continues_after(&self, event_id: u64) -> bool {
        self.followers.contains_key(&event_id)
    }

    /// The stored outcome of the task whose last event was `event_id`, if it finished.
    fn task_outcome(&self, event_id: u64) -> Option<Result<Value, StatesError>> {
        self.followers.get(&event_id)?.iter().find_map(|&i| match &self.events[i].details {
            EventDetails::TaskSucceeded { output, .. } | EventDetails::LambdaFunctionSucceeded { output } => {
                Some(Ok(Value::clone(output)))
            }
            EventDetails::TaskFailed { error, cause, .. }
            | EventDetails::TaskTimedOut { error, cause, .. }
            | EventDetails::LambdaFunctionFailed { error, cause }
            | EventDetails::LambdaFunctionTimedOut { error, cause } => Some(Err(StatesError {
                error: ErrorName::parse(error.as_deref().unwrap_or_default()),
                cause: cause.clone(),
            })),
            _ => None,
        })
    }

    fn max_id(&self) -> u64 {
        self.events.iter().map(|e| e.id).max().unwrap_or(0)
    }
}

/// What a state was entered with: the raw input (for ResultPath), the effective input
/// (after InputPath), and when and at which event it was entered.
struct Entry<'s> {
    state: &'s State,
    raw: Payload,
    effective: Payload,
    entered: u64,
    entered_at: i64,
}

/// The states that run attempts under Retry and Catch.
#[derive(Clone, Copy)]
enum Body<'s> {
    Task(&'s TaskState),
    Parallel(&'s ParallelState),
    Map(&'s MapState),
}

impl<'s> Body<'s> {
    fn handling(self) -> &'s ResultHandling {
        match self {
            Body::Task(t) => &t.handling,
            Body::Parallel(p) => &p.handling,
            Body::Map(m) => &m.handling,
        }
    }
}

/// A request to stop an execution (AWS StopExecution): the error and cause it ends with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopRequest {
    /// The error recorded in `ExecutionAborted`.
    pub error: Option<String>,
    /// The cause recorded in `ExecutionAborted`.
    pub cause: Option<String>,
}

enum Ended {
    Finished(Result<Payload, StatesError>),
    TimedOut,
    Stopped(StopRequest),
}

/// How a state ends: its output and the variables its `Assign` set.
struct Exit {
    output: Payload,
    assigned: Option<Map<String, Value>>,
}

enum Flow {
    Next(usize, Payload),
    End(Payload),
}

/// What a state's fields read besides `$`: the context object and the workflow variables.
#[derive(Clone, Copy)]
struct Env<'e> {
    context: &'e Value,
    variables: &'e Map<String, Value>,
    /// When the state was entered (from its stored event, so a replay sees the same time).
    now: i64,
}

impl<'e> Env<'e> {
    fn scope<'s>(&self, input: &'s Value) -> Scope<'s>
    where
        'e: 's,
    {
        Scope { input, context: self.context, variables: Some(self.variables) }
    }
}

/// An `$$.Map.Item` value for ItemSelector.
#[derive(Clone, Copy)]
struct MapItem<'v> {
    index: usize,
    value: &'v Value,
}

impl<'a> Run<'a> {
    pub(crate) fn new(
        info: ExecutionInfo,
        clock: &'a dyn Clock,
        registry: &'a Registry,
        store: &'a dyn HistoryStore,
        seed: u64,
        replay: Option<Replay>,
    ) -> Run<'a> {
        let start_millis =
            replay.as_ref().and_then(|r| r.events.first()).map_or_else(|| clock.now_millis(), |e| e.timestamp);
        let attempt_start = replay.as_ref().and_then(Replay::attempt_start).unwrap_or(start_millis);
        Run {
            start_millis,
            attempt_start,
            info,
            clock,
            registry,
            store,
            entropy: SharedEntropy(Mutex::new(SeededEntropy::new(seed))),
            next_id: Mutex::new(replay.as_ref().map_or(0, Replay::max_id)),
            replay,
            pending: Mutex::new(Vec::new()),
            store_error: Mutex::new(None),
        }
    }

    /// Records an event (or finds it in the replayed history); returns its id and timestamp.
    fn record(&self, previous: u64, details: EventDetails) -> (u64, i64) {
        if let Some(stored) = self.replay.as_ref().and_then(|r| r.find(previous, &details)) {
            return (stored.id, stored.timestamp);
        }
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let timestamp = self.clock.now_millis();
        let event = HistoryEvent { id, previous_event_id: previous, timestamp, details };
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).push(event);
        (id, timestamp)
    }

    /// True when the replayed history already goes on after `event_id`: the effect between
    /// (a wait, a retry delay) is over.
    fn replayed_past(&self, event_id: u64) -> bool {
        self.replay.as_ref().is_some_and(|r| r.continues_after(event_id))
    }

    fn pending_len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Hands the events recorded so far to the store. Called before every effect, so that
    /// an event is stored before the effect it announces. Once a write has failed, nothing
    /// more is written (the stored history stays gap-free and resumable) and every effect
    /// is refused: the execution ends, and `execute` reports the store error.
    fn flush(&self) -> Result<(), EvalError> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let mut failed = self.store_error.lock().unwrap_or_else(|e| e.into_inner());
        if failed.is_none()
            && !batch.is_empty()
            && let Err(e) = self.store.append(&self.info.arn, batch)
        {
            *failed = Some(e);
        }
        match &*failed {
            None => Ok(()),
            Some(e) => Err(EvalError::Runtime(format!("the history could not be stored ({e}); the execution stops"))),
        }
    }

    /// Sleeps on the clock, after storing what was recorded.
    async fn sleep_until(&self, deadline: i64) -> Result<(), EvalError> {
        self.flush()?;
        self.clock.sleep_until(deadline).await;
        Ok(())
    }

    /// Runs the execution to its end, or until `stop` completes (AWS StopExecution).
    pub(crate) async fn execute(
        &self,
        machine: &StateMachine,
        stop: impl Future<Output = StopRequest>,
    ) -> Result<Outcome, StoreError> {
        let (started, started_at) = self.record(
            0,
            EventDetails::ExecutionStarted { input: self.info.input.clone(), role_arn: self.info.role_arn.clone() },
        );
        let mut thread = Thread { run: self, last: started, last_time: started_at, variables: Arc::default() };
        let body = self.run_machine(machine, self.info.input.clone(), &mut thread);
        let deadline = machine.timeout_seconds.map(|seconds| self.attempt_start.saturating_add(millis(seconds)));
        let timeout = async {
            match deadline {
                Some(deadline) => self.clock.sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        // Biased, so that the outcome is deterministic when several are ready at once (a
        // Wait ending exactly at the execution's deadline times out).
        let result = tokio::select! {
            biased;
            request = stop => Ended::Stopped(request),
            () = timeout => Ended::TimedOut,
            result = body => Ended::Finished(result),
        };
        let last = thread.last;
        let (status, output, error, cause) = match result {
            Ended::Finished(Ok(output)) => {
                self.record(last, EventDetails::ExecutionSucceeded { output: output.clone() });
                (Status::Succeeded, Some(Arc::unwrap_or_clone(output)), None, None)
            }
            Ended::Finished(Err(e)) => {
                let error = error_text(&e.error);
                self.record(last, EventDetails::ExecutionFailed { error: error.clone(), cause: e.cause.clone() });
                (Status::Failed, None, error, e.cause)
            }
            Ended::Stopped(request) => {
                self.record(
                    last,
                    EventDetails::ExecutionAborted { error: request.error.clone(), cause: request.cause.clone() },
                );
                (Status::Aborted, None, request.error, request.cause)
            }
            Ended::TimedOut => {
                let error = Some("States.Timeout".to_owned());
                self.record(last, EventDetails::ExecutionTimedOut { error: error.clone(), cause: None });
                (Status::TimedOut, None, error, None)
            }
        };
        let _ = self.flush();
        if let Some(e) = self.store_error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(e);
        }
        Ok(Outcome {
            status,
            output,
            error,
            cause,
            start_millis: self.start_millis,
            stop_millis: self.clock.now_millis(),
        })
    }

    fn run_machine<'s, 'r: 's>(
        &'s self,
        machine: &'s StateMachine,
        input: Payload,
        thread: &'s mut Thread<'r, 'a>,
    ) -> LocalFuture<'s, Result<Payload, StatesError>> {
        Box::pin(async move {
            let mut current = machine.start_at;
            let mut input = input;
            loop {
                // A loop of states that never wait must still let the execution's timeout and
                // a stop request run, and must not hold its history in memory forever.
                tokio::task::consume_budget().await;
                if self.pending_len() >= FLUSH_EVERY {
                    self.flush().map_err(|e| e.into_states_error(&machine.states[current].name, thread.last))?;
                }
                let state = &machine.states[current];
                match self.run_state(state, input, thread).await? {
                    Flow::Next(next, output) => {
                        current = next;
                        input = output;
                    }
                    Flow::End(output) => return Ok(output),
                }
            }
        })
    }

    /// The context object `$$` for a state.
    fn context(&self, state: &State, entered: i64, retry_count: u64, item: Option<MapItem<'_>>) -> Value {
        if !state.uses_context {
            return Value::Null;
        }
        let mut context = json!({
            "Execution": {
                "Id": self.info.arn,
                "Input": &*self.info.input,
                "Name": self.info.name,
                "RoleArn": self.info.role_arn,
                "StartTime": format_millis(self.start_millis),
                "RedriveCount": self.info.redrive_count,
            },
            "State": {"EnteredTime": format_millis(entered), "Name": &*state.name},
            "StateMachine": {"Id": self.info.state_machine_arn, "Name": self.info.state_machine_name},
        });
        // Only states that can retry report `$$.State.RetryCount`.
        if matches!(state.kind, StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_)) {
            context["State"]["RetryCount"] = json!(retry_count);
        }
        if let Some(item) = item {
            context["Map"] = json!({"Item": {"Index": item.index, "Value": item.value}});
        }
        context
    }

    async fn run_state(&self, state: &State, input: Payload, thread: &mut Thread<'_, 'a>) -> Result<Flow, StatesError> {
        let type_name = state.kind.state_type();
        let entered = thread.emit(EventDetails::StateEntered {
            state_type: type_name,
            name: state.name.clone(),
            input: input.clone(),
        });
        let entered_at = thread.last_time;
        let runtime = |e: EvalError| e.into_states_error(&state.name, entered);
        let context = self.context(state, entered_at, 0, None);
        let variables = thread.variables.clone();
        let env = Env { context: &context, variables: &variables, now: entered_at };
        let effective = through_path(&state.input_path, input.clone(), &env).map_err(runtime)?;
        let exit = match &state.kind {
            StateKind::Pass(pass) => {
                let exit = match &state.jsonata {
                    Some(fields) => {
                        let states = Self::states_object(&input, &context, None, None);
                        self.jsonata_exit(fields, &states, &env, input.clone())
                    }
                    None => self.pass(pass, state, input, effective, &env),
                };
                (exit.map_err(runtime)?, pass.transition)
            }
            StateKind::Succeed => {
                let exit = match &state.jsonata {
                    Some(fields) => {
                        let states = Self::states_object(&input, &context, None, None);
                        self.jsonata_exit(fields, &states, &env, input.clone()).map_err(runtime)?
                    }
                    None => Exit {
                        output: through_path(&state.output_path, effective, &env).map_err(runtime)?,
                        assigned: None,
                    },
                };
                (exit, Transition::End)
            }
            StateKind::Fail(fail) => return Err(self.fail(fail, &effective, &env).map_err(runtime)?),
            StateKind::Choice(choice) => {
                let scope = env.scope(&effective);
                let mut matched = None;
                for rule in &choice.choices {
                    let holds = match &rule.rule {
                        ChoiceTest::Rule(rule) => rule.evaluate(&scope).map_err(runtime)?,
                        ChoiceTest::Condition(condition) => {
                            match self.jsonata_value(condition, &effective, &env, "Condition").map_err(runtime)? {
                                Value::Bool(b) => b,
                                other => {
                                    return Err(runtime(EvalError::Query(format!(
                                        "The Condition field must evaluate to a boolean, but it was {}",
                                        compact(&other)
                                    ))));
                                }
                            }
                        }
                    };
                    if holds {
                        matched = Some(rule);
                        break;
                    }
                }
                let (next, rule_assign) = match (matched, choice.default) {
                    (Some(rule), _) => (rule.next, rule.assign.as_ref()),
                    (None, Some(default)) => (default, None),
                    (None, None) => {
                        return Err(StatesError::new(
                            ErrorName::NoChoiceMatched,
                            format!("No Matches! (state '{}', input '{}')", state.name, compact(&effective)),
                        ));
                    }
                };
                if let Some(fields) = &state.jsonata {
                    let states = Self::states_object(&input, &context, None, None);
                    let rule_fields = matched.and_then(|rule| rule.jsonata.as_deref());
                    let mut exit = self.jsonata_exit(fields, &states, &env, input.clone()).map_err(runtime)?;
                    if let Some(rule_fields) = rule_fields {
                        let rule_exit =
                            self.jsonata_exit(rule_fields, &states, &env, exit.output.clone()).map_err(runtime)?;
                        if let Some(more) = rule_exit.assigned {
                            exit.assigned.get_or_insert_with(Map::new).extend(more);
                        }
                        exit.output = rule_exit.output;
                    }
                    (exit, Transition::Next(next))
                } else {
                    let mut assigned = self.assign(choice.assign.as_ref(), &effective, &env).map_err(runtime)?;
                    if let Some(more) = self.assign(rule_assign, &effective, &env).map_err(runtime)? {
                        assigned.get_or_insert_with(Map::new).extend(more);
                    }
                    let output = through_path(&state.output_path, effective, &env).map_err(runtime)?;
                    (Exit { output, assigned }, Transition::Next(next))
                }
            }
            StateKind::Wait(wait) => {
                let until = self.wait_deadline(wait, &effective, &env, entered_at).map_err(runtime)?;
                if !self.replayed_past(entered) {
                    self.sleep_until(until).await.map_err(runtime)?;
                }
                let exit = match &state.jsonata {
                    Some(fields) => {
                        let states = Self::states_object(&input, &context, None, None);
                        self.jsonata_exit(fields, &states, &env, input.clone()).map_err(runtime)?
                    }
                    None => {
                        let assigned = self.assign(wait.assign.as_ref(), &effective, &env).map_err(runtime)?;
                        Exit { output: through_path(&state.output_path, effective, &env).map_err(runtime)?, assigned }
                    }
                };
                (exit, wait.transition)
            }
            StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_) => {
                let body = match &state.kind {
                    StateKind::Task(task) => Body::Task(task),
                    StateKind::Parallel(parallel) => Body::Parallel(parallel),
                    StateKind::Map(map) => Body::Map(map),
                    _ => unreachable!("matched above"),
                };
                let entry = Entry { state, raw: input, effective, entered, entered_at };
                return self.with_recovery(body, entry, thread).await;
            }
        };
        // The thread's variables must not be shared when `exit` assigns to them.
        drop(variables);
        Ok(thread.exit(state, exit.0, exit.1))
    }

    /// Evaluates an `Assign` template against `value` (JSONPath: `$` is the state's result).
    fn assign(
        &self,
        template: Option<&Template>,
        value: &Value,
        env: &Env<'_>,
    ) -> Result<Option<Map<String, Value>>, EvalError> {
        let Some(template) = template else {
            return Ok(None);
        };
        match template.render(&env.scope(value), &self.entropy)? {
            Value::Object(map) => check_assignment(map).map(Some),
            other => Err(EvalError::Runtime(format!("Assign must be an object, not {}", compact(&other)))),
        }
    }

    /// The `$states` object of a JSONata evaluation.
    fn states_object(input: &Value, context: &Value, result: Option<&Value>, error_output: Option<&Value>) -> Value {
        let mut states = Map::new();
        states.insert("input".into(), input.clone());
        states.insert("context".into(), context.clone());
        if let Some(result) = result {
            states.insert("result".into(), result.clone());
        }
        if let Some(error_output) = error_output {
            states.insert("errorOutput".into(), error_output.clone());
        }
        Value::Object(states)
    }

    fn bindings<'b>(&'b self, states: &'b Value, env: &'b Env<'b>) -> Bindings<'b> {
        Bindings { states, variables: env.variables, entropy: &self.entropy, now_millis: env.now }
    }

    /// A JSONata state's end: `Assign`, and `Output` (or `default_output`).
    fn jsonata_exit(
        &self,
        fields: &JsonataFields,
        states: &Value,
        env: &Env<'_>,
        default_output: Payload,
    ) -> Result<Exit, EvalError> {
        let bindings = self.bindings(states, env);
        let assigned = match &fields.assign {
            None => None,
            Some(template) => match template.render(&bindings, "Assign")? {
                Value::Object(map) => Some(check_assignment(map)?),
                other => return Err(EvalError::Query(format!("Assign must be an object, not {}", compact(&other)))),
            },
        };
        let output = match &fields.output {
            None => default_output,
            Some(template) => Arc::new(template.render(&bindings, "Output")?),
        };
        Ok(Exit { output, assigned })
    }

    /// The input of a task or of Parallel branches: JSONata `Arguments`, JSONPath
    /// `Parameters`, or the effective input.
    fn arguments(
        &self,
        state: &State,
        parameters: Option<&Template>,
        effective: &Payload,
        env: &Env<'_>,
    ) -> Result<Payload, EvalError> {
        match (parameters, state.jsonata.as_ref().and_then(|j| j.arguments.as_ref())) {
            (_, Some(arguments)) => Ok(Arc::new(self.jsonata_value(arguments, effective, env, "Arguments")?)),
            (Some(template), None) => Ok(Arc::new(template.render(&env.scope(effective), &self.entropy)?)),
            (None, None) => Ok(effective.clone()),
        }
    }

    /// Evaluates a JSONata field to a value.
    fn jsonata_value(
        &self,
        template: &jsonata::Template,
        input: &Value,
        env: &Env<'_>,
        field: &str,
    ) -> Result<Value, EvalError> {
        let states = Self::states_object(input, env.context, None, None);
        template.render(&self.bindings(&states, env), field)
    }

    fn pass(
        &self,
        pass: &PassState,
        state: &State,
        raw: Payload,
        effective: Payload,
        env: &Env<'_>,
    ) -> Result<Exit, EvalError> {
        let result = match (&pass.result, &pass.parameters) {
            (Some(result), _) => Arc::new(result.clone()),
            (None, Some(parameters)) => Arc::new(parameters.render(&env.scope(&effective), &self.entropy)?),
            (None, None) => effective,
        };
        check_result_size(&result, &state.name)?;
        let assigned = self.assign(pass.assign.as_ref(), &result, env)?;
        let combined = through_result_path(&pass.result_path, raw, result)?;
        Ok(Exit { output: through_path(&state.output_path, combined, env)?, assigned })
    }

    fn fail(&self, fail: &FailState, effective: &Value, env: &Env<'_>) -> Result<StatesError, EvalError> {
        let scope = env.scope(effective);
        let text = |field: &Option<TextField>, name: &str| -> Result<Option<String>, EvalError> {
            match field {
                None => Ok(None),
                Some(TextField::Literal(s)) => Ok(Some(s.clone())),
                Some(TextField::Dynamic(f)) => match f.eval(&scope, &self.entropy, name)? {
                    Value::String(s) => Ok(Some(s)),
                    other => Err(EvalError::Runtime(format!(
                        "The {name} field must reference a string value, but it references {}",
                        compact(&other)
                    ))),
                },
                Some(TextField::Jsonata(template)) => {
                    let field = name.trim_end_matches("Path");
                    match self.jsonata_value(template, effective, env, field)? {
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
        // A Fail state without `Error` ends the execution with no error name.
        Ok(StatesError { error: ErrorName::Custom(error.unwrap_or_default()), cause })
    }

    fn wait_deadline(&self, wait: &WaitState, effective: &Value, env: &Env<'_>, now: i64) -> Result<i64, EvalError> {
        let scope = env.scope(effective);
        match &wait.wait_for {
            WaitFor::SecondsExpr(template) => match self.jsonata_value(template, effective, env, "Seconds")? {
                Value::Number(n) if n.as_u64().is_some() => Ok(now.saturating_add(millis(n.as_u64().unwrap_or(0)))),
                other => Err(EvalError::Query(format!(
                    "The Seconds field must evaluate to a non-negative integer, but it was {}",
                    compact(&other)
                ))),
            },
            WaitFor::TimestampExpr(template) => {
                let value = self.jsonata_value(template, effective, env, "Timestamp")?;
                let text = value.as_str().map_or_else(|| compact(&value), str::to_owned);
                parse_iso8601(&text).map(|n| (n / 1_000_000) as i64).ok_or_else(|| {
                    EvalError::Query(format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                    ))
                })
            }
            WaitFor::Seconds(s) => Ok(now.saturating_add(millis(*s))),
            WaitFor::Timestamp(nanos, _) => Ok((*nanos / 1_000_000) as i64),
            WaitFor::SecondsPath(path) => {
                let value = path.select(&scope).map_err(|_| {
                    EvalError::Runtime(format!("The SecondsPath parameter does not reference an input value: {path}"))
                })?;
                match value.as_i64() {
                    Some(s) if s >= 0 => Ok(now.saturating_add(millis(s as u64))),
                    Some(s) => Err(EvalError::Runtime(format!(
                        "The SecondsPath parameter references a negative value: {path} == {s}"
                    ))),
                    None => Err(EvalError::Runtime(format!(
                        "The SecondsPath parameter does not reference a valid integer: {path} == {}",
                        compact(&value)
                    ))),
                }
            }
            WaitFor::TimestampPath(path) => {
                let value = path.select(&scope).map_err(|_| {
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
        }
    }

    /// Result processing shared by Task, Parallel and Map: ResultSelector → (Assign) →
    /// ResultPath → OutputPath (JSONata: Assign and Output with `$states.result`).
    fn shape_result(
        &self,
        state: &State,
        handling: &ResultHandling,
        raw: Payload,
        result: Payload,
        env: &Env<'_>,
    ) -> Result<Exit, EvalError> {
        // After the result is recorded (TaskSucceeded), so that a resume does not run the
        // task again; Map and Parallel results are checked here too.
        check_result_size(&result, &state.name)?;
        if let Some(fields) = &state.jsonata {
            let states = Self::states_object(&raw, env.context, Some(&result), None);
            return self.jsonata_exit(fields, &states, env, result);
        }
        let selected = match &handling.result_selector {
            Some(template) => Arc::new(template.render(&env.scope(&result), &self.entropy)?),
            None => result,
        };
        let assigned = self.assign(handling.assign.as_ref(), &selected, env)?;
        let combined = through_result_path(&handling.result_path, raw, selected)?;
        Ok(Exit { output: through_path(&state.output_path, combined, env)?, assigned })
    }

    /// Runs a Task, Parallel or Map state: attempts, and Retry/Catch between them.
    async fn with_recovery(
        &self,
        body: Body<'_>,
        entry: Entry<'_>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Flow, StatesError> {
        let mut attempts = vec![0; body.handling().retry.len()];
        let mut retry_count = 0;
        loop {
            let variables = thread.variables.clone();
            let context = self.context(entry.state, entry.entered_at, retry_count, None);
            let env = Env { context: &context, variables: &variables, now: entry.entered_at };
            let attempt = match body {
                Body::Task(task) => self.task_attempt(task, &entry, &env, retry_count, thread).await,
                Body::Parallel(parallel) => self.parallel_attempt(parallel, &entry, &env, thread).await,
                Body::Map(map) => self.map_attempt(map, &entry, &env, thread).await,
            };
            let error = match attempt {
                Ok(exit) => {
                    drop(variables);
                    return Ok(thread.exit(entry.state, exit, body.handling().transition));
                }
                Err(e) => e.into_states_error(&entry.state.name, entry.entered),
            };
            if let Some(flow) = self.recover_from(body, &entry, &env, &mut attempts, error, thread).await? {
                return Ok(flow);
            }
            retry_count += 1;
        }
    }

    /// Decides what follows a failed attempt: `Ok(None)` to retry (after sleeping),
    /// `Ok(Some(flow))` when a Catcher takes over, `Err` when the state fails.
    async fn recover_from(
        &self,
        body: Body<'_>,
        entry: &Entry<'_>,
        env: &Env<'_>,
        attempts: &mut [u64],
        error: StatesError,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Option<Flow>, StatesError> {
        let (state, raw, catch) = (entry.state, &entry.raw, &body.handling().catch);
        match recover(&body.handling().retry, catch, &error.error, attempts) {
            Recovery::Retry { delay_millis, jitter } => {
                let delay = match jitter {
                    JitterStrategy::None => delay_millis,
                    JitterStrategy::Full => (self.entropy.next_f64() * delay_millis as f64) as u64,
                };
                let until = thread.last_time.saturating_add(delay.min(i64::MAX as u64) as i64);
                if !self.replayed_past(thread.last) {
                    self.sleep_until(until).await.map_err(|e| e.into_states_error(&state.name, entry.entered))?;
                }
                Ok(None)
            }
            Recovery::Catch(i) => {
                let catcher = &catch[i];
                let error_output = Arc::new(error.to_value());
                let failed = |e: EvalError| e.into_states_error(&state.name, entry.entered);
                if let Some(fields) = &catcher.jsonata {
                    let states = Self::states_object(raw, env.context, None, Some(&error_output));
                    let exit = self.jsonata_exit(fields, &states, env, error_output).map_err(failed)?;
                    return Ok(Some(thread.exit(state, exit, Transition::Next(catcher.next))));
                }
                let assigned = self.assign(catcher.assign.as_ref(), &error_output, env).map_err(failed)?;
                let output = through_result_path(&catcher.result_path, raw.clone(), error_output).map_err(failed)?;
                Ok(Some(thread.exit(state, Exit { output, assigned }, Transition::Next(catcher.next))))
            }
            Recovery::Fail => Err(error),
        }
    }

    /// A count (`MaxConcurrency`, `ToleratedFailure…`): literal, read through its `…Path`
    /// field (a number or a string holding one, as AWS accepts), or a JSONata expression.
    fn count<T: Copy + std::str::FromStr + TryFrom<L>, L: Copy>(
        &self,
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
                let value = self.jsonata_value(template, scope.input, env, field)?;
                from_json(&value).ok_or_else(|| {
                    EvalError::Query(format!(
                        "The {field} field must evaluate to a number, but it was {}",
                        compact(&value)
                    ))
                })
            }
        }
    }

    fn seconds(
        &self,
        field: &Option<Seconds>,
        scope: &Scope<'_>,
        env: &Env<'_>,
        name: &str,
    ) -> Result<Option<u64>, EvalError> {
        match field {
            None => Ok(None),
            Some(Seconds::Literal(s)) => Ok(Some(*s)),
            Some(Seconds::Jsonata(template)) => match self.jsonata_value(template, scope.input, env, name)? {
                Value::Number(n) if n.as_u64().is_some_and(|s| s > 0) => Ok(n.as_u64()),
                other => Err(EvalError::Query(format!(
                    "The {name} field must evaluate to a positive integer, but it was {}",
                    compact(&other)
                ))),
            },
            Some(Seconds::Path(path)) => {
                let value =
                    path.select(scope).map_err(|miss| EvalError::Runtime(miss.invalid_path_message(path.as_str())))?;
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

    async fn task_attempt(
        &self,
        task: &TaskState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        retry_count: u64,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        let (state, raw, effective) = (entry.state, &entry.raw, &entry.effective);
        let lambda = is_lambda_function_arn(&task.resource);
        let scope = env.scope(effective);
        let parameters = self.arguments(state, task.parameters.as_ref(), effective, env)?;
        let credentials = task.credentials.as_ref().map(|c| c.render(&scope, &self.entropy)).transpose()?;
        let timeout = self.seconds(&task.timeout, &scope, env, "TimeoutSeconds")?;
        let heartbeat = self.seconds(&task.heartbeat, &scope, env, "HeartbeatSeconds")?;
        let resource = TaskResource::from_arn(&task.resource);
        if lambda {
            thread.emit(EventDetails::LambdaFunctionScheduled {
                resource: task.resource.clone(),
                input: parameters.clone(),
                timeout_seconds: timeout,
            });
            thread.emit(EventDetails::LambdaFunctionStarted);
        } else {
            thread.emit(EventDetails::TaskScheduled {
                resource: resource.clone(),
                region: region_of(&task.resource).unwrap_or(&self.info.region).to_owned(),
                parameters: parameters.clone(),
                timeout_seconds: timeout,
                heartbeat_seconds: heartbeat,
            });
            thread.emit(EventDetails::TaskStarted { resource: resource.clone() });
        }
        let deadline = timeout.map(|t| thread.last_time.saturating_add(millis(t)));
        let request = TaskRequest {
            state_name: state.name.to_string(),
            resource: task.resource.clone(),
            parameters,
            credentials,
            attempt: retry_count,
            deadline_millis: deadline,
            execution_arn: self.info.arn.clone(),
        };
        let replayed = self.replay.as_ref().and_then(|r| r.task_outcome(thread.last));
        let outcome = match self.registry.find(&state.name, &task.resource) {
            Some(adapter) if replayed.is_some() => {
                adapter.replayed(&request);
                replayed.expect("checked above")
            }
            None if replayed.is_some() => replayed.expect("checked above"),
            None => Err(StatesError::new(
                ErrorName::Runtime,
                format!(
                    "no task adapter runs the resource '{}' of state '{}' (mock it with --mock-config, or configure an adapter)",
                    task.resource, state.name
                ),
            )),
            Some(adapter) => {
                self.flush()?;
                let invocation = adapter.invoke(request);
                match deadline {
                    Some(deadline) => tokio::select! {
                        result = invocation => result,
                        () = self.clock.sleep_until(deadline) => Err(StatesError { error: ErrorName::Timeout, cause: None }),
                    },
                    None => invocation.await,
                }
            }
        };
        match outcome {
            Ok(result) => {
                let result = Arc::new(result);
                if lambda {
                    thread.emit(EventDetails::LambdaFunctionSucceeded { output: result.clone() });
                } else {
                    thread.emit(EventDetails::TaskSucceeded { resource, output: result.clone() });
                }
                self.shape_result(state, &task.handling, raw.clone(), result, env)
            }
            Err(error) => {
                let (name, cause) = (error_text(&error.error), error.cause.clone());
                let timed_out = error.error == ErrorName::Timeout;
                thread.emit(match (lambda, timed_out) {
                    (true, true) => EventDetails::LambdaFunctionTimedOut { error: name, cause },
                    (true, false) => EventDetails::LambdaFunctionFailed { error: name, cause },
                    (false, true) => EventDetails::TaskTimedOut { resource, error: name, cause },
                    (false, false) => EventDetails::TaskFailed { resource, error: name, cause },
                });
                Err(EvalError::Raised(error))
            }
        }
    }

    async fn parallel_attempt(
        &self,
        parallel: &ParallelState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        let (state, raw, effective) = (entry.state, &entry.raw, &entry.effective);
        let input = self.arguments(state, parallel.parameters.as_ref(), effective, env)?;
        let variables = Arc::new(env.variables.clone());
        let variables = &variables;
        thread.emit(EventDetails::ParallelStateStarted);
        let started = (thread.last, thread.last_time);
        let mut pending: FuturesUnordered<_> = parallel
            .branches
            .iter()
            .enumerate()
            .map(|(i, branch)| {
                let input = input.clone();
                async move {
                    let mut branch_thread =
                        Thread { run: self, last: started.0, last_time: started.1, variables: Arc::clone(variables) };
                    (i, self.run_machine(branch, input, &mut branch_thread).await)
                }
            })
            .collect();
        let mut results = vec![Value::Null; parallel.branches.len()];
        while let Some((i, result)) = pending.next().await {
            match result {
                Ok(output) => results[i] = Arc::unwrap_or_clone(output),
                Err(error) => {
                    drop(pending);
                    (thread.last, thread.last_time) = started;
                    thread.emit(EventDetails::ParallelStateFailed);
                    return Err(EvalError::Raised(error));
                }
            }
        }
        (thread.last, thread.last_time) = started;
        self.shape_result(state, &parallel.handling, raw.clone(), Arc::new(Value::Array(results)), env)
    }

    async fn map_attempt(
        &self,
        map: &MapState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        let (state, raw, effective, entered_at) = (entry.state, &entry.raw, &entry.effective, entry.entered_at);
        let scope = env.scope(effective);
        let items_expr = state.jsonata.as_ref().and_then(|j| j.items.as_ref());
        let items = match (&map.items_path, items_expr) {
            (_, Some(template)) => {
                let items = self.jsonata_value(template, effective, env, "Items")?;
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
            (None, None) => Value::clone(effective),
            (Some(path), None) => {
                path.eval(&scope).map_err(|miss| EvalError::Runtime(miss.invalid_path_message(path.as_str())))?
            }
        };
        if state.jsonata.is_some() && !items.is_array() {
            return Err(EvalError::Query(format!("Map state input must be an array but was: {}", compact(&items))));
        }
        let Value::Array(items) = items else {
            let path = map.items_path.as_ref().map_or("$", Path::as_str);
            return Err(EvalError::Runtime(format!(
                "Item must be an array, but it is {} (ItemsPath '{path}' in state '{}')",
                compact(&items),
                state.name
            )));
        };
        let max_concurrency = self.count(&map.max_concurrency, &scope, env, "MaxConcurrency", Value::as_u64)?;
        let tolerated_count = match &map.tolerated_failure_count {
            None => None,
            Some(c) => Some(self.count(c, &scope, env, "ToleratedFailureCount", Value::as_i64)?),
        };
        if tolerated_count.is_some_and(|c| c < 0) {
            return Err(EvalError::Runtime("ToleratedFailureCount cannot be negative.".into()));
        }
        let tolerated_percentage = match &map.tolerated_failure_percentage {
            None => None,
            Some(c) => Some(self.count(c, &scope, env, "ToleratedFailurePercentage", Value::as_f64)?),
        };
        if tolerated_percentage.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(EvalError::Runtime("ToleratedFailurePercentage must be between 0 and 100.".into()));
        }
        let tolerance_set = tolerated_count.is_some() || tolerated_percentage.is_some();
        let items: Vec<Payload> = items.into_iter().map(Arc::new).collect();
        let total = items.len();
        thread.emit(EventDetails::MapStateStarted { length: total });
        let started = (thread.last, thread.last_time);
        let limit = if max_concurrency == 0 { total.max(1) } else { max_concurrency as usize };
        let running: Mutex<Vec<bool>> = Mutex::new(vec![false; total]);
        let variables = Arc::new(env.variables.clone());
        let variables = &variables;
        let iteration = |index: usize| {
            let item = &items[index];
            let running = &running;
            async move {
                let name = state.name.clone();
                let mut iteration_thread =
                    Thread { run: self, last: started.0, last_time: started.1, variables: Arc::clone(variables) };
                let outcome = self
                    .map_iteration(map, state, effective, item, index, entered_at, &mut iteration_thread, running)
                    .await;
                let done = match &outcome {
                    Ok(_) => EventDetails::MapIterationSucceeded { name, index },
                    Err(_) => EventDetails::MapIterationFailed { name, index },
                };
                running.lock().unwrap_or_else(|e| e.into_inner())[index] = false;
                iteration_thread.emit(done);
                (index, outcome)
            }
        };
        let mut pending = FuturesUnordered::new();
        let mut next = 0;
        let mut results = vec![Value::Null; total];
        let mut failures = 0usize;
        loop {
            // Start iterations up to the limit, each as soon as it is pushed: one that never
            // waits finishes right here, so its memory is freed before the next one starts.
            let (index, outcome) = if next < total && pending.len() < limit {
                pending.push(iteration(next));
                next += 1;
                match pending.next().now_or_never() {
                    Some(Some(done)) => done,
                    _ => continue,
                }
            } else {
                match pending.next().await {
                    Some(done) => done,
                    None => break,
                }
            };
            let error = match outcome {
                Ok(output) => {
                    results[index] = Arc::unwrap_or_clone(output);
                    continue;
                }
                Err(error) => error,
            };
            failures += 1;
            // With a tolerance, the Map fails once either threshold is exceeded;
            // without one, at the first failure.
            let exceeded = if tolerance_set {
                tolerated_count.is_some_and(|c| failures as i64 > c)
                    || tolerated_percentage.is_some_and(|p| failures as f64 * 100.0 / total as f64 > p)
            } else {
                true
            };
            if !exceeded {
                results[index] = error.to_value();
                continue;
            }
            drop(pending);
            let aborted: Vec<usize> = running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.then_some(i))
                .collect();
            (thread.last, thread.last_time) = started;
            for i in aborted {
                thread.emit(EventDetails::MapIterationAborted { name: state.name.clone(), index: i });
            }
            thread.emit(EventDetails::MapStateFailed);
            let error = if tolerance_set {
                StatesError::new(
                    ErrorName::ExceedToleratedFailureThreshold,
                    "The specified tolerated failure threshold was exceeded",
                )
            } else {
                error
            };
            return Err(EvalError::Raised(error));
        }
        drop(pending);
        (thread.last, thread.last_time) = started;
        thread.emit(EventDetails::MapStateSucceeded);
        self.shape_result(state, &map.handling, raw.clone(), Arc::new(Value::Array(results)), env)
    }

    #[allow(clippy::too_many_arguments)]
    async fn map_iteration(
        &self,
        map: &MapState,
        state: &State,
        effective: &Value,
        item: &Payload,
        index: usize,
        entered_at: i64,
        thread: &mut Thread<'_, 'a>,
        running: &Mutex<Vec<bool>>,
    ) -> Result<Payload, StatesError> {
        running.lock().unwrap_or_else(|e| e.into_inner())[index] = true;
        thread.emit(EventDetails::MapIterationStarted { name: state.name.clone(), index });
        let input = match (&map.item_selector, state.jsonata.as_ref().and_then(|j| j.item_selector.as_ref())) {
            (_, Some(selector)) => {
                let context = self.context_with_item(state, entered_at, MapItem { index, value: item });
                let variables = thread.variables.clone();
                let env = Env { context: &context, variables: &variables, now: entered_at };
                let states = Self::states_object(effective, &context, None, None);
                let rendered = selector
                    .render(&self.bindings(&states, &env), "ItemSelector")
                    .map_err(|e| e.into_states_error(&state.name, thread.last))?;
                Arc::new(rendered)
            }
            (None, None) => item.clone(),
            (Some(template), None) => {
                let context = self.context_with_item(state, entered_at, MapItem { index, value: item });
                let variables = thread.variables.clone();
                let env = Env { context: &context, variables: &variables, now: entered_at };
                let rendered = template
                    .render(&env.scope(effective), &self.entropy)
                    .map_err(|e| e.into_states_error(&state.name, thread.last))?;
                Arc::new(rendered)
            }
        };
        self.run_machine(&map.item_processor, input, thread).await
    }

    fn context_with_item(&self, state: &State, entered_at: i64, item: MapItem<'_>) -> Value {
        let mut context = self.context(state, entered_at, 0, Some(item));
        if context.is_null() {
            context = json!({"Map": {"Item": {"Index": item.index, "Value": item.value}}});
        }
        context
    }
}

impl Thread<'_, '_> {
    /// Records the state's Exited event, takes its assignments, and moves on.
    fn exit(&mut self, state: &State, exit: Exit, transition: Transition) -> Flow {
        // When replaying, the stored output and assignments win over the recomputed ones:
        // whatever was not deterministic (UUIDs, random numbers, draws in another order)
        // cannot make the resumed execution diverge from what was recorded.
        let stored = self.run.replay.as_ref().and_then(|r| {
            let key = (self.last, format!("{}StateExited", state.kind.type_name()), state.name.to_string());
            r.by_key.get(&key).map(|&i| &r.events[i].details)
        });
        let exit = match stored {
            Some(EventDetails::StateExited { output, assigned_variables, .. }) => {
                Exit { output: output.clone(), assigned: assigned_variables.as_deref().cloned() }
            }
            _ => exit,
        };
        let assigned = exit.assigned.map(Arc::new);
        if let Some(assigned) = &assigned {
            let variables = Arc::make_mut(&mut self.variables);
            variables.extend(assigned.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self.emit(EventDetails::StateExited {
            state_type: state.kind.state_type(),
            name: state.name.clone(),
            output: exit.output.clone(),
            assigned_variables: assigned,
        });
        match transition {
            Transition::Next(n) => Flow::Next(n, exit.output),
            Transition::End => Flow::End(exit.output),
        }
    }

    fn emit(&mut self, details: EventDetails) -> u64 {
        (self.last, self.last_time) = self.run.record(self.last, details);
        self.last
    }
}

/// Applies `InputPath` or `OutputPath`; the default passes the same payload on.
fn through_path(field: &PathField, value: Payload, env: &Env<'_>) -> Result<Payload, EvalError> {
    match field {
        PathField::Default => Ok(value),
        _ => field.apply(&env.scope(&value)).map(Arc::new),
    }
}

/// Applies `ResultPath`; only a reference path copies the input (to write into it).
fn through_result_path(result_path: &ResultPath, raw: Payload, result: Payload) -> Result<Payload, EvalError> {
    match result_path {
        ResultPath::Default => Ok(result),
        ResultPath::Discard => Ok(raw),
        ResultPath::Path(_) => result_path.apply(Arc::unwrap_or_clone(raw), Arc::unwrap_or_clone(result)).map(Arc::new),
    }
}

/// AWS's variable quotas: a variable, and all the variables of one `Assign`, hold at most
/// 256 KiB of JSON text each.
fn check_assignment(assigned: Map<String, Value>) -> Result<Map<String, Value>, EvalError> {
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

/// How many events may wait in memory before they are stored even without an effect.
const FLUSH_EVERY: usize = 10_000;

/// Seconds as milliseconds, saturating instead of overflowing on absurd values.
fn millis(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX).saturating_mul(1000)
}

/// The JSON type name AWS uses in messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// AWS's payload quota: a state's result may not exceed 256 KiB of JSON text.
fn check_result_size(result: &Value, state: &str) -> Result<(), EvalError> {
    if exceeds_payload_limit(result) {
        return Err(EvalError::Raised(StatesError::new(
            ErrorName::DataLimitExceeded,
            format!(
                "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
            ),
        )));
    }
    Ok(())
}

/// The error name as events and outcomes show it; a Fail state without `Error` has none.
fn error_text(name: &ErrorName) -> Option<String> {
    match name {
        ErrorName::Custom(s) if s.is_empty() => None,
        other => Some(other.as_str().to_owned()),
    }
}

/// The region of an ARN such as `arn:aws:lambda:eu-west-1:…`, when it names one.
fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

fn path_value<'v>(path: &Path, scope: &Scope<'v>) -> Result<std::borrow::Cow<'v, Value>, EvalError> {
    path.select(scope).map_err(|miss| EvalError::Runtime(miss.invalid_path_message(path.as_str())))
}

fn invalid_number(field: &str, value: &Value, kind: &str, path: &Path) -> EvalError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => compact(other),
    };
    EvalError::Runtime(format!("The {field} field refers to value \"{shown}\" which is not a valid {kind}: {path}"))
}

/// A number read through a `…Path` field: AWS takes a JSON number or a string holding one.
fn number_at<T: std::str::FromStr>(
    path: &Path,
    scope: &Scope<'_>,
    field: &str,
    kind: &str,
    from_json: impl Fn(&Value) -> Option<T>,
) -> Result<T, EvalError> {
    let value = path_value(path, scope)?;
    from_json(&value)
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| invalid_number(field, &value, kind, path))
}

/// Renders an execution's stored history as AWS `GetExecutionHistory` JSON.
pub fn history_json(events: &[HistoryEvent]) -> Value {
    json!({"events": events.iter().map(HistoryEvent::to_json).collect::<Vec<_>>()})
}
