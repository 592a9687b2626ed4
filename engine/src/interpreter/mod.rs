//! Runs one execution: walks the state machine, performs effects (tasks through adapters,
//! waits on the clock, Map and Parallel fan-out), and records every history event.
//!
//! What is computed between effects is pure and lives in `sfnlite_states::eval`; this
//! module sequences it and does the effects. One concern per file:
//! - `mod.rs`: the run (its start and end, the loop over states, threads of control);
//! - `step.rs`: one state, dispatched by type (Pass, Succeed, Fail, Choice, Wait here);
//! - `recovery.rs`: attempts of Task, Parallel and Map under Retry and Catch;
//! - `task.rs`, `parallel.rs`, `map.rs`: one attempt of each (`items.rs`: a distributed
//!   Map's ItemReader and ItemBatcher);
//! - `journal.rs`: event ids and batches on their way to the store;
//! - `replay.rs`: resuming and redriving from a stored history.
//!
//! Concurrency: Map iterations and Parallel branches are futures polled together in the
//! execution's task (no threads), so a failing iteration cancels its siblings by dropping
//! them. Results are ordered by index, never by completion.

mod activity;
mod express_redrive;
mod items;
mod journal;
mod map;
mod map_run;
mod parallel;
mod recovery;
mod replay;
mod result_writer;
mod step;
mod task;
mod tokens;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use sfnlite_states::definition::{State, StateId, StateKind, StateMachine, Transition};
use sfnlite_states::entropy::{Entropy, SeededEntropy};
use sfnlite_states::eval::context::ExecutionContext;
use sfnlite_states::eval::fields::{error_text, millis};
use sfnlite_states::eval::{Env, Exit};
use sfnlite_states::history::{EventDetails, HistoryEvent, Payload};
use sfnlite_states::{ErrorName, EvalError, StatesError};

pub use self::journal::RunError;
pub(crate) use self::journal::{Journal, record_redrive};
pub(crate) use self::map_run::MAP_RUN_ITEMS_KIND;
pub use self::map_run::MAP_RUN_KIND;
pub use self::replay::Divergence;
use self::replay::Lookup;
pub(crate) use self::replay::Replay;
use crate::adapter::Registry;
use crate::callbacks::Callbacks;
use crate::clock::Clock;
use crate::store::{ExecutionStatus, HistoryStore};

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
    /// A synchronous EXPRESS execution (its context object has no `RedriveCount`).
    pub sync_express: bool,
    /// An EXPRESS execution (synchronous or not, a distributed Map's EXPRESS child): at
    /// most five minutes long, with no history quota.
    pub express: bool,
}

/// The end of an execution, as DescribeExecution reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The final status (never `RUNNING`).
    pub status: ExecutionStatus,
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

/// A request to stop an execution (AWS StopExecution): the error and cause it ends with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopRequest {
    /// The error recorded in `ExecutionAborted`.
    pub error: Option<String>,
    /// The cause recorded in `ExecutionAborted`.
    pub cause: Option<String>,
}

/// Entropy shared by the concurrent parts of one execution.
struct SharedEntropy(Mutex<SeededEntropy>);

impl Entropy for SharedEntropy {
    fn next_u64(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).next_u64()
    }
}

/// One running execution.
/// What a run performs its effects with.
#[derive(Clone, Copy)]
pub(crate) struct Effects<'a> {
    pub(crate) clock: &'a dyn Clock,
    pub(crate) registry: &'a Registry,
    pub(crate) store: &'a dyn HistoryStore,
    pub(crate) callbacks: &'a Callbacks,
}

pub(crate) struct Run<'a> {
    info: ExecutionInfo,
    /// The execution's seed (task tokens are derived from it).
    seed: u64,
    store: &'a dyn HistoryStore,
    callbacks: &'a Callbacks,
    start_millis: i64,
    /// When this attempt began (the start, or the last redrive): TimeoutSeconds counts from here.
    attempt_start: i64,
    clock: &'a dyn Clock,
    registry: &'a Registry,
    journal: Journal<'a>,
    entropy: SharedEntropy,
    /// The stored history, when resuming or redriving.
    replay: Option<Replay>,
    /// Set once a STANDARD execution's history is full (AWS's 25,000 events): events are
    /// no longer recorded, and the execution fails at its next state.
    history_full: std::sync::atomic::AtomicBool,
    /// Told when the history fills.
    history_filled: tokio::sync::Notify,
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

/// Where a state leads.
enum Flow {
    Next(StateId, Payload),
    End(Payload),
}

enum Ended {
    Finished(Result<Payload, StatesError>),
    TimedOut,
    Stopped(StopRequest),
    /// The history reached AWS's quota.
    HistoryFull,
}

/// The cause of an execution whose history reached AWS's quota (AWS's words).
fn history_full_cause() -> String {
    format!("The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS}).")
}

/// How many events may wait in memory before they are stored even without an effect.
const FLUSH_EVERY: usize = 10_000;

impl<'a> Run<'a> {
    pub(crate) fn new(info: ExecutionInfo, effects: Effects<'a>, seed: u64, replay: Option<Replay>) -> Run<'a> {
        let Effects { clock, registry, store, callbacks } = effects;
        let start_millis =
            replay.as_ref().and_then(|r| r.events().first()).map_or_else(|| clock.now_millis(), |e| e.timestamp);
        let attempt_start = replay.as_ref().and_then(Replay::attempt_start).unwrap_or(start_millis);
        let journal = Journal::new(store, &info.arn, replay.as_ref().map_or(0, Replay::max_id));
        Run {
            seed,
            store,
            callbacks,
            start_millis,
            attempt_start,
            info,
            clock,
            registry,
            journal,
            entropy: SharedEntropy(Mutex::new(SeededEntropy::new(seed))),
            replay,
            history_full: std::sync::atomic::AtomicBool::new(false),
            history_filled: tokio::sync::Notify::new(),
        }
    }

    /// Records an event (or finds it in the replayed history); returns its id and timestamp.
    fn record(&self, previous: u64, details: EventDetails) -> (u64, i64) {
        if let Some(replay) = &self.replay {
            match replay.lookup(previous, &details) {
                Lookup::Replayed(stored) => return (stored.id, stored.timestamp),
                Lookup::Live => {}
                Lookup::Diverged(divergence) => self.journal.close(RunError::Diverged(divergence)),
            }
        }
        let timestamp = self.clock.now_millis();
        // A STANDARD execution's history holds at most 25,000 events, the last its end: past
        // that, nothing more is recorded and the execution fails (`run_machine` raises it).
        let ends = matches!(
            details,
            EventDetails::ExecutionSucceeded { .. }
                | EventDetails::ExecutionFailed { .. }
                | EventDetails::ExecutionAborted { .. }
                | EventDetails::ExecutionTimedOut { .. }
        );
        if !ends && !self.info.express && self.journal.next_id() >= MAX_HISTORY_EVENTS {
            self.history_full.store(true, std::sync::atomic::Ordering::Relaxed);
            // The execution ends at once (`execute` waits for this), whatever runs now.
            self.history_filled.notify_one();
            return (previous, timestamp);
        }
        (self.journal.append(previous, timestamp, details), timestamp)
    }

    /// True when the replayed history already goes on after `event_id`: the effect between
    /// (a wait, a retry delay) is over.
    fn replayed_past(&self, event_id: u64) -> bool {
        self.replay.as_ref().is_some_and(|r| r.continues_after(event_id))
    }

    /// Where a Choice goes: where the stored history went after its replayed `Exited`
    /// event (re-evaluated now, its rules may choose otherwise: `$$.Execution.RedriveCount`,
    /// `$random()`), else `next`. Other states' transitions are fixed by the definition.
    fn replayed_choice(&self, machine: &StateMachine, exited: u64, next: StateId) -> StateId {
        let stored = self.replay.as_ref().and_then(|r| r.stored_next_state(exited));
        match stored {
            Some(name) if *name != machine.states[next].name => {
                machine.states.iter().position(|s| s.name == *name).unwrap_or(next)
            }
            _ => next,
        }
    }

    /// Hands the events recorded so far to the store, before an effect. Once the journal
    /// is closed (a store write failed, or the replay diverged), every effect is refused:
    /// the execution ends, and `execute` reports why.
    fn flush(&self) -> Result<(), EvalError> {
        self.journal.flush().map_err(|closed| EvalError::Runtime(format!("the execution stops: {}", closed.0)))
    }

    /// Sleeps on the clock, after storing what was recorded.
    async fn sleep_until(&self, deadline: i64) -> Result<(), EvalError> {
        self.flush()?;
        self.clock.sleep_until(deadline).await;
        Ok(())
    }

    /// What the context object reports about this execution.
    fn execution_context(&self) -> ExecutionContext<'_> {
        ExecutionContext {
            arn: &self.info.arn,
            name: &self.info.name,
            input: &self.info.input,
            role_arn: &self.info.role_arn,
            start_millis: self.start_millis,
            redrive_count: (!self.info.sync_express).then_some(self.info.redrive_count),
            state_machine_arn: &self.info.state_machine_arn,
            state_machine_name: &self.info.state_machine_name,
        }
    }

    /// The environment of a state's evaluations.
    fn env<'e>(&'e self, context: &'e Value, variables: &'e Map<String, Value>, entered_at: i64) -> Env<'e> {
        Env { context, variables, now: entered_at, entropy: &self.entropy }
    }

    /// Runs the execution to its end, or until `stop` completes (AWS StopExecution).
    pub(crate) async fn execute(
        &self,
        machine: &StateMachine,
        stop: impl Future<Output = StopRequest>,
    ) -> Result<Outcome, RunError> {
        let started =
            EventDetails::ExecutionStarted { input: self.info.input.clone(), role_arn: self.info.role_arn.clone() };
        let (started, started_at) = self.record(0, started);
        let mut thread = Thread { run: self, last: started, last_time: started_at, variables: Arc::default() };
        let body = self.run_machine(machine, self.info.input.clone(), &mut thread);
        // The machine's TimeoutSeconds, within AWS's longest execution: a year for STANDARD,
        // five minutes for EXPRESS (AWS ends either with States.Timeout).
        let longest = if self.info.express { MAX_EXPRESS_SECONDS } else { MAX_STANDARD_SECONDS };
        let seconds = machine.timeout_seconds.map_or(longest, |seconds| seconds.min(longest));
        let deadline = Some(self.attempt_start.saturating_add(millis(seconds)));
        let timeout = async {
            match deadline {
                Some(deadline) => self.clock.sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        // Biased, so that the outcome is deterministic when several are ready at once (a
        // Wait ending exactly at the execution's deadline times out).
        let ended = tokio::select! {
            biased;
            request = stop => Ended::Stopped(request),
            () = timeout => Ended::TimedOut,
            () = self.history_filled.notified() => Ended::HistoryFull,
            result = body => Ended::Finished(result),
        };
        // The history filled while the body ran on (within one poll): the quota ends it.
        let ended =
            if self.history_full.load(std::sync::atomic::Ordering::Relaxed) { Ended::HistoryFull } else { ended };
        let outcome = self.end(thread.last, ended);
        self.journal.finish()?;
        Ok(outcome)
    }

    /// Records the execution's last event.
    fn end(&self, last: u64, ended: Ended) -> Outcome {
        let stop_millis;
        let (status, output, error, cause) = match ended {
            Ended::Finished(Ok(output)) => {
                (_, stop_millis) = self.record(last, EventDetails::ExecutionSucceeded { output: output.clone() });
                (ExecutionStatus::Succeeded, Some(output.into_value()), None, None)
            }
            Ended::Finished(Err(e)) => {
                let error = error_text(&e.error);
                (_, stop_millis) =
                    self.record(last, EventDetails::ExecutionFailed { error: error.clone(), cause: e.cause.clone() });
                (ExecutionStatus::Failed, None, error, e.cause)
            }
            Ended::Stopped(request) => {
                let details =
                    EventDetails::ExecutionAborted { error: request.error.clone(), cause: request.cause.clone() };
                (_, stop_millis) = self.record(last, details);
                (ExecutionStatus::Aborted, None, request.error, request.cause)
            }
            Ended::HistoryFull => {
                let error = Some("States.Runtime".to_owned());
                let cause = Some(history_full_cause());
                (_, stop_millis) =
                    self.record(last, EventDetails::ExecutionFailed { error: error.clone(), cause: cause.clone() });
                (ExecutionStatus::Failed, None, error, cause)
            }
            Ended::TimedOut => {
                let error = Some("States.Timeout".to_owned());
                (_, stop_millis) =
                    self.record(last, EventDetails::ExecutionTimedOut { error: error.clone(), cause: None });
                (ExecutionStatus::TimedOut, None, error, None)
            }
        };
        // The record's stopDate is the last event's timestamp, not a later reading of the clock.
        let start_millis = self.start_millis;
        Outcome { status, output, error, cause, start_millis, stop_millis }
    }

    /// Runs a state machine (the execution's, a Parallel branch, a Map item processor)
    /// from its `StartAt` to its end, on `thread`.
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
                if self.history_full.load(std::sync::atomic::Ordering::Relaxed) {
                    // Not catchable, as AWS's (States.Runtime ends the execution).
                    return Err(StatesError::new(ErrorName::Runtime, history_full_cause()));
                }
                if self.journal.pending_len() >= FLUSH_EVERY {
                    self.flush().map_err(|e| e.into_states_error(&machine.states[current].name, thread.last))?;
                }
                let state = &machine.states[current];
                match self.run_state(state, input, thread).await? {
                    Flow::Next(next, output) if matches!(state.kind, StateKind::Choice(_)) => {
                        (current, input) = (self.replayed_choice(machine, thread.last, next), output);
                    }
                    Flow::Next(next, output) => (current, input) = (next, output),
                    Flow::End(output) => return Ok(output),
                }
            }
        })
    }
}

impl<'r, 'a> Thread<'r, 'a> {
    /// A new thread (a Parallel branch, a Map iteration) that starts after event `after`
    /// (id, timestamp) with its own copy of `variables`.
    fn child(run: &'r Run<'a>, after: (u64, i64), variables: &Arc<Map<String, Value>>) -> Thread<'r, 'a> {
        Thread { run, last: after.0, last_time: after.1, variables: Arc::clone(variables) }
    }

    /// Records the state's Exited event, takes its assignments, and moves on.
    fn exit(&mut self, state: &State, exit: Exit, transition: Transition) -> Flow {
        // When replaying, the stored output and assignments win over the recomputed ones:
        // whatever was not deterministic (UUIDs, random numbers, draws in another order)
        // cannot make the resumed execution diverge from what was recorded.
        let stored = self.run.replay.as_ref().and_then(|r| r.stored_exit(self.last, &state.name));
        let (output, assigned) = match stored {
            Some((output, assigned)) => (output.clone(), assigned.cloned()),
            None => (exit.output, exit.assigned.map(Arc::new)),
        };
        if let Some(assigned) = &assigned {
            let variables = Arc::make_mut(&mut self.variables);
            variables.extend(assigned.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self.emit(EventDetails::StateExited {
            state_type: state.kind.state_type(),
            name: state.name.clone(),
            output: output.clone(),
            assigned_variables: assigned,
        });
        match transition {
            Transition::Next(n) => Flow::Next(n, output),
            Transition::End => Flow::End(output),
        }
    }

    fn emit(&mut self, details: EventDetails) -> u64 {
        (self.last, self.last_time) = self.run.record(self.last, details);
        self.last
    }
}

/// AWS's quota on a STANDARD execution's history (EXPRESS executions have none).
pub(crate) const MAX_HISTORY_EVENTS: u64 = 25_000;

/// AWS's longest STANDARD execution (a year) and EXPRESS execution (five minutes).
pub(crate) const MAX_STANDARD_SECONDS: u64 = 365 * 24 * 3600;
pub(crate) const MAX_EXPRESS_SECONDS: u64 = 300;

/// Renders an execution's stored history as AWS `GetExecutionHistory` JSON.
pub fn history_json(events: &[HistoryEvent]) -> Value {
    json!({"events": events.iter().map(HistoryEvent::to_json).collect::<Vec<_>>()})
}
