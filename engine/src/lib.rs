//! The sfnlite runtime: runs executions of ASL state machines on tokio, with time,
//! task adapters and history storage behind traits so that everything is deterministic
//! under test.
//!
//! ```text
//! cli ──► engine (this crate: Engine, interpreter, Clock, TaskAdapter, HistoryStore)
//!            └──► states (pure ASL: definitions, paths, templates, rules, events)
//! ```

#![forbid(unsafe_code)]

pub mod adapter;
pub mod callbacks;
pub mod clock;
pub mod entropy;
mod interpreter;
pub mod json;
pub mod mock;
pub mod store;
pub mod test_state;

use sfnlite_states::history::Payload;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use sfnlite_states::StateMachine;
use sfnlite_states::history::{EventDetails, HistoryEvent};

pub use adapter::{Registry, TaskAdapter, TaskRequest};
pub use callbacks::{ActivityTask, Callbacks, Signal, TOKEN_KIND, TokenError};
pub use clock::{Clock, SystemClock, VirtualClock};
pub use interpreter::{Divergence, ExecutionInfo, MAP_RUN_KIND, Outcome, RunError, StopRequest, history_json};
pub use store::{CheckReport, Damage, SalvageReport, check, salvage};
pub use store::{
    ExecutionOrigin, ExecutionRecord, ExecutionStatus, GarbageReport, HistoryStore, MemoryStore, PruneCriteria,
    PruneReport, SledStore, StateMachineRecord, StoreError, StoredDocument, prune,
};

use crate::interpreter::{Journal, Replay, Run, record_redrive};

/// The account id used in the ARNs sfnlite makes.
pub const ACCOUNT_ID: &str = "123456789012";

/// Why the engine could not run, resume or find an execution (Rust errors, not ASL ones).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A resumed or redriven execution did not follow its stored history; nothing after
    /// the divergence was stored. A resumed execution stays RUNNING; a redriven one goes
    /// back to the status it had.
    #[error("execution {arn}: {divergence}")]
    Diverged {
        /// The execution.
        arn: String,
        /// Where and how.
        divergence: Divergence,
    },
    /// No execution matches.
    #[error("no execution matches '{0}'")]
    NotFound(String),
    /// More than one execution matches a prefix.
    #[error("'{query}' matches {count} executions; give more of the name or the ARN")]
    Ambiguous {
        /// What was asked for.
        query: String,
        /// How many matched.
        count: usize,
    },
    /// An EXPRESS execution: AWS never redrives those.
    #[error("execution {arn} ran as EXPRESS; EXPRESS executions cannot be redriven")]
    ExpressNotRedrivable {
        /// The execution.
        arn: String,
    },
    /// A child execution of a distributed Map's Map Run: its parent is redriven or stopped.
    #[error("execution {arn} is a child of the Map Run {map_run}: redrive or stop its parent execution")]
    MapRunChild {
        /// The execution.
        arn: String,
        /// Its Map Run.
        map_run: String,
    },
    /// The execution's history reached AWS's quota: AWS does not redrive it.
    #[error(
        "execution {arn} reached the history quota of 25,000 events; it cannot be redriven (Execution history event limit exceeded.)"
    )]
    HistoryLimitNotRedrivable {
        /// The execution.
        arn: String,
    },
    /// The execution has not ended, so it cannot be redriven.
    #[error("execution {arn} is {status}; only FAILED, TIMED_OUT or ABORTED executions can be redriven")]
    NotRedrivable {
        /// The execution.
        arn: String,
        /// Its status.
        status: &'static str,
    },
    /// An execution with this name already exists (AWS ExecutionAlreadyExists).
    #[error("an execution named '{name}' already exists ({arn}); choose another --name")]
    AlreadyExists {
        /// The name.
        name: String,
        /// Its ARN.
        arn: String,
    },
    /// The execution has already ended.
    #[error("execution {arn} has already ended ({status})")]
    AlreadyEnded {
        /// The execution.
        arn: String,
        /// Its status.
        status: &'static str,
    },
    /// The stored definition of an execution is missing or no longer parses.
    #[error("execution {arn}: its stored definition cannot be used: {message}")]
    Definition {
        /// The execution.
        arn: String,
        /// What is wrong.
        message: String,
    },
}

/// Runs executions.
pub struct Engine {
    registry: Registry,
    clock: Arc<dyn Clock>,
    store: Arc<dyn HistoryStore>,
    region: String,
    callbacks: Arc<Callbacks>,
}

/// A redrive whose `ExecutionRedriven` event and RUNNING record are stored
/// ([`Engine::prepare_redrive`]), ready to run ([`Engine::run_redrive`]).
#[derive(Debug)]
pub struct PreparedRedrive {
    record: ExecutionRecord,
    before: ExecutionRecord,
    machine: StateMachine,
    events: Vec<HistoryEvent>,
    redrive_millis: i64,
}

impl PreparedRedrive {
    /// When the redrive was recorded (epoch ms): RedriveExecution's `redriveDate`.
    pub fn redrive_millis(&self) -> i64 {
        self.redrive_millis
    }

    /// The execution's ARN.
    pub fn arn(&self) -> &str {
        &self.record.arn
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The state machine's name (used in ARNs and `$$.StateMachine.Name`).
    pub state_machine_name: String,
    /// The definition text the machine was parsed from (stored, so that the execution can be resumed).
    pub definition: String,
    /// The execution name.
    pub execution_name: String,
    /// The execution input.
    pub input: Value,
    /// Seed of the execution's randomness (States.UUID, States.MathRandom, jitter).
    pub seed: u64,
    /// Whether the engine's clock is virtual (recorded, so that a resume uses the same kind).
    pub virtual_clock: bool,
    /// The role, version and alias it was started with (API starts; default for `run`).
    pub origin: ExecutionOrigin,
}

/// A run's Rust error, for the execution `arn`.
fn run_error(arn: &str, error: RunError) -> EngineError {
    match error {
        RunError::Store(e) => EngineError::Store(e),
        RunError::Diverged(divergence) => EngineError::Diverged { arn: arn.to_owned(), divergence },
    }
}

impl Engine {
    /// An engine with these adapters, clock and store, in region `us-east-1`.
    pub fn new(registry: Registry, clock: Arc<dyn Clock>, store: Arc<dyn HistoryStore>) -> Engine {
        Engine { registry, clock, store, region: "us-east-1".to_owned(), callbacks: Arc::default() }
    }

    /// Where answers to task tokens arrive (shared with the API that receives them).
    pub fn with_callbacks(mut self, callbacks: Arc<Callbacks>) -> Engine {
        self.callbacks = callbacks;
        self
    }

    /// What a run performs its effects with.
    fn effects(&self) -> interpreter::Effects<'_> {
        interpreter::Effects {
            clock: self.clock.as_ref(),
            registry: &self.registry,
            store: self.store.as_ref(),
            callbacks: &self.callbacks,
        }
    }

    /// Sets the region reported in ARNs and task events.
    pub fn with_region(mut self, region: impl Into<String>) -> Engine {
        self.region = region.into();
        self
    }

    /// The ARN of a state machine.
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!("arn:aws:states:{}:{ACCOUNT_ID}:stateMachine:{name}", self.region)
    }

    /// The ARN an execution of `state_machine_name` named `execution_name` gets.
    pub fn execution_arn(&self, state_machine_name: &str, execution_name: &str) -> String {
        format!("arn:aws:states:{}:{ACCOUNT_ID}:execution:{state_machine_name}:{execution_name}", self.region)
    }

    fn info(&self, record: &ExecutionRecord) -> ExecutionInfo {
        ExecutionInfo {
            arn: record.arn.clone(),
            name: record.name.clone(),
            state_machine_arn: record.state_machine_arn.clone(),
            state_machine_name: record.state_machine_name.clone(),
            role_arn: (record.origin.role_arn.clone())
                .unwrap_or_else(|| format!("arn:aws:iam::{ACCOUNT_ID}:role/sfnlite")),
            region: self.region.clone(),
            input: Payload::new(record.input.clone()),
            redrive_count: record.redrive_count,
            sync_express: record.origin.sync_express,
            express: record.origin.express || record.origin.sync_express,
        }
    }

    fn finish(&self, mut record: ExecutionRecord, outcome: &Outcome) -> Result<(), StoreError> {
        record.status = outcome.status;
        record.output = outcome.output.clone();
        record.error = outcome.error.clone();
        record.cause = outcome.cause.clone();
        record.stop_millis = Some(outcome.stop_millis);
        self.store.put_execution(&record)
    }

    /// Runs a new execution to its end, recording it (definition, execution, history) in the
    /// engine's store as it goes.
    /// `stop` ends the execution as AWS StopExecution does when it completes
    /// (`std::future::pending()` for never).
    pub async fn run(
        &self,
        machine: &StateMachine,
        request: StartRequest,
        stop: impl Future<Output = StopRequest>,
    ) -> Result<(ExecutionInfo, Outcome), EngineError> {
        let record = self.start(request)?;
        self.run_started(machine, record, stop).await
    }

    /// Records a new execution (its definition and its RUNNING record) without running it:
    /// what StartExecution answers before the execution goes on. Refuses a name in use.
    pub fn start(&self, request: StartRequest) -> Result<ExecutionRecord, EngineError> {
        let arn = self.execution_arn(&request.state_machine_name, &request.execution_name);
        if self.store.execution(&arn)?.is_some() {
            return Err(EngineError::AlreadyExists { name: request.execution_name, arn });
        }
        let definition = StateMachineRecord::new(&request.state_machine_name, &request.definition);
        self.store.put_state_machine(&definition)?;
        let record = ExecutionRecord {
            arn,
            name: request.execution_name,
            state_machine_arn: self.state_machine_arn(&request.state_machine_name),
            state_machine_name: request.state_machine_name,
            definition_hash: definition.hash,
            input: request.input,
            status: ExecutionStatus::Running,
            output: None,
            error: None,
            cause: None,
            start_millis: self.clock.now_millis(),
            stop_millis: None,
            seed: request.seed,
            virtual_clock: request.virtual_clock,
            redrive_count: 0,
            origin: request.origin,
        };
        self.store.put_execution(&record)?;
        Ok(record)
    }

    /// Runs an execution recorded by [`Engine::start`] to its end.
    pub async fn run_started(
        &self,
        machine: &StateMachine,
        record: ExecutionRecord,
        stop: impl Future<Output = StopRequest>,
    ) -> Result<(ExecutionInfo, Outcome), EngineError> {
        let info = self.info(&record);
        let run = Run::new(info.clone(), self.effects(), record.seed, None);
        let outcome = run.execute(machine, stop).await.map_err(|e| run_error(&info.arn, e))?;
        self.finish(record, &outcome)?;
        Ok((info, outcome))
    }

    fn stored_machine(&self, record: &ExecutionRecord) -> Result<StateMachine, EngineError> {
        let definition = self.store.state_machine(&record.definition_hash)?.ok_or_else(|| EngineError::Definition {
            arn: record.arn.clone(),
            message: format!("no state machine with hash {}", record.definition_hash),
        })?;
        let (machine, diagnostics) = sfnlite_states::parse_definition(&definition.definition);
        machine.ok_or_else(|| EngineError::Definition {
            arn: record.arn.clone(),
            message: diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        })
    }

    /// Restarts a FAILED, TIMED_OUT or ABORTED execution from where it failed, as AWS
    /// RedriveExecution does: an `ExecutionRedriven` event, then the unsuccessful states run
    /// again (in an inline Map or Parallel, only the failed or aborted iterations and
    /// branches); what succeeded is kept. TimeoutSeconds counts from the redrive.
    pub async fn redrive(
        &self,
        arn: &str,
        stop: impl Future<Output = StopRequest>,
    ) -> Result<(ExecutionInfo, Outcome), EngineError> {
        let prepared = self.prepare_redrive(arn)?;
        self.run_redrive(prepared, stop).await
    }

    /// The first half of [`Engine::redrive`]: records the `ExecutionRedriven` event and
    /// the RUNNING record (what RedriveExecution answers after), without running anything.
    pub fn prepare_redrive(&self, arn: &str) -> Result<PreparedRedrive, EngineError> {
        let mut record = self.store.execution(arn)?.ok_or_else(|| EngineError::NotFound(arn.to_owned()))?;
        if matches!(record.status, ExecutionStatus::Running | ExecutionStatus::Succeeded) {
            return Err(EngineError::NotRedrivable { arn: record.arn, status: record.status.as_str() });
        }
        if record.origin.sync_express || record.origin.express {
            return Err(EngineError::ExpressNotRedrivable { arn: record.arn });
        }
        // No room left for a redrive's events.
        if self.store.events(&record.arn)?.len() as u64 >= interpreter::MAX_HISTORY_EVENTS - 1 {
            return Err(EngineError::HistoryLimitNotRedrivable { arn: record.arn });
        }
        if let Some(map_run) = record.origin.map_run.clone() {
            return Err(EngineError::MapRunChild { arn: record.arn, map_run });
        }
        let before = record.clone();
        // The tokens of the failed attempt's tasks are not answerable any more.
        self.callbacks.close_all(self.store.as_ref(), &record.arn)?;
        let machine = self.stored_machine(&record)?;
        let redrive_millis = self.clock.now_millis();
        let count = record.redrive_count + 1;
        let events = record_redrive(self.store.as_ref(), &mut record, count, redrive_millis)
            .map_err(|e| run_error(&before.arn, e))?;
        Ok(PreparedRedrive { record, before, machine, events, redrive_millis })
    }

    /// The second half of [`Engine::redrive`]: runs the prepared redrive to its end.
    pub async fn run_redrive(
        &self,
        prepared: PreparedRedrive,
        stop: impl Future<Output = StopRequest>,
    ) -> Result<(ExecutionInfo, Outcome), EngineError> {
        let PreparedRedrive { record, before, machine, events, .. } = prepared;
        let info = self.info(&record);
        let replay = Replay::for_redrive(events);
        let run = Run::new(info.clone(), self.effects(), record.seed, Some(replay));
        let outcome = match run.execute(&machine, stop).await {
            Ok(outcome) => outcome,
            Err(RunError::Diverged(divergence)) => {
                // The execution goes back to how it ended (with its redrive counted, as the
                // stored ExecutionRedriven says), so that it can be redriven again.
                self.store.put_execution(&ExecutionRecord { redrive_count: record.redrive_count, ..before })?;
                return Err(EngineError::Diverged { arn: info.arn, divergence });
            }
            Err(e) => return Err(run_error(&info.arn, e)),
        };
        self.finish(record, &outcome)?;
        Ok((info, outcome))
    }

    /// Ends an execution that no process is running (its process died) as ABORTED, as AWS
    /// StopExecution does. A running execution is stopped through the `stop` future of the
    /// process that runs it.
    pub fn abort_orphan(&self, arn: &str, request: StopRequest) -> Result<ExecutionRecord, EngineError> {
        let mut record = self.store.execution(arn)?.ok_or_else(|| EngineError::NotFound(arn.to_owned()))?;
        if record.status != ExecutionStatus::Running {
            return Err(EngineError::AlreadyEnded { arn: record.arn, status: record.status.as_str() });
        }
        let last = self.store.events(&record.arn)?.last().map_or(0, |e| e.id);
        let now = self.clock.now_millis();
        let journal = Journal::new(self.store.as_ref(), &record.arn, last);
        let details = EventDetails::ExecutionAborted { error: request.error.clone(), cause: request.cause.clone() };
        journal.append(last, now, details);
        journal.finish().map_err(|e| run_error(&record.arn, e))?;
        record.status = ExecutionStatus::Aborted;
        (record.error, record.cause, record.stop_millis) = (request.error, request.cause, Some(now));
        self.store.put_execution(&record)?;
        // Its Map Runs end with it: their running children, then their documents.
        for (key, mut run) in self.store.documents(MAP_RUN_KIND)? {
            if run["executionArn"] != record.arn.as_str() || run["status"] != "RUNNING" {
                continue;
            }
            let mut ended = std::collections::HashMap::<&'static str, u64>::new();
            for child in self.store.executions()? {
                if child.origin.map_run.as_deref() != Some(key.as_str()) {
                    continue;
                }
                let status = match child.status {
                    ExecutionStatus::Running => self.abort_orphan(&child.arn, StopRequest::default())?.status,
                    other => other,
                };
                let count = match status {
                    ExecutionStatus::Succeeded => "succeeded",
                    ExecutionStatus::TimedOut => "timedOut",
                    ExecutionStatus::Aborted => "aborted",
                    _ => "failed",
                };
                *ended.entry(count).or_default() += 1;
            }
            // The counts from the children's records (items as executions: the batches'
            // sizes are not kept).
            for counts in ["executionCounts", "itemCounts"] {
                let total = run[counts]["total"].as_u64().unwrap_or(0);
                let done: u64 = ended.values().sum();
                for key in ["succeeded", "failed", "timedOut", "aborted"] {
                    run[counts][key] = serde_json::json!(ended.get(key).copied().unwrap_or(0));
                }
                run[counts]["running"] = serde_json::json!(0);
                run[counts]["pending"] = serde_json::json!(total.saturating_sub(done));
                run[counts]["resultsWritten"] = serde_json::json!(done);
            }
            run["status"] = serde_json::json!("ABORTED");
            run["stopDate"] = serde_json::json!(now);
            self.store.put_document(MAP_RUN_KIND, &key, &run)?;
        }
        Ok(record)
    }

    /// Finishes an execution that a process left RUNNING (killed, crashed, rebooted):
    /// replays its stored history and carries on from where it stopped. A task that was
    /// scheduled but had not finished runs again (at-least-once).
    pub async fn resume(
        &self,
        arn: &str,
        stop: impl Future<Output = StopRequest>,
    ) -> Result<(ExecutionInfo, Outcome), EngineError> {
        let record = self.store.execution(arn)?.ok_or_else(|| EngineError::NotFound(arn.to_owned()))?;
        if record.status != ExecutionStatus::Running {
            return Err(EngineError::AlreadyEnded { arn: record.arn, status: record.status.as_str() });
        }
        let machine = self.stored_machine(&record)?;
        let events = self.store.events(&record.arn)?;
        let info = self.info(&record);
        // The process may have died after storing the last event but before the record.
        if let Some(outcome) = ended(&events, &record) {
            self.finish(record, &outcome)?;
            return Ok((info, outcome));
        }
        let replay = Replay::for_resume(events);
        let run = Run::new(info.clone(), self.effects(), record.seed, Some(replay));
        let outcome = run.execute(&machine, stop).await.map_err(|e| run_error(&info.arn, e))?;
        self.finish(record, &outcome)?;
        Ok((info, outcome))
    }

    /// Finds an execution by name, ARN, or a unique prefix of either.
    pub fn find_execution(&self, query: &str) -> Result<ExecutionRecord, EngineError> {
        find_execution(self.store.as_ref(), query)
    }

    /// The store executions are recorded in.
    pub fn store(&self) -> &Arc<dyn HistoryStore> {
        &self.store
    }
}

/// The outcome a stored history already ends with, if it does.
fn ended(events: &[HistoryEvent], record: &ExecutionRecord) -> Option<Outcome> {
    let last = events.last()?;
    let (status, output, error, cause) = match &last.details {
        EventDetails::ExecutionSucceeded { output } => {
            (ExecutionStatus::Succeeded, Some(Value::clone(output)), None, None)
        }
        EventDetails::ExecutionFailed { error, cause } => (ExecutionStatus::Failed, None, error.clone(), cause.clone()),
        EventDetails::ExecutionTimedOut { error, cause } => {
            (ExecutionStatus::TimedOut, None, error.clone(), cause.clone())
        }
        EventDetails::ExecutionAborted { error, cause } => {
            (ExecutionStatus::Aborted, None, error.clone(), cause.clone())
        }
        _ => return None,
    };
    Some(Outcome { status, output, error, cause, start_millis: record.start_millis, stop_millis: last.timestamp })
}

/// Finds an execution by name, ARN, or a unique prefix of either.
///
/// A record that cannot be read does not hide the others (`store check` reports it), and
/// it still takes part in matching by its ARN (whose last segment is its name): naming it,
/// or a prefix only it matches, gives its read error, never another execution.
pub fn find_execution(store: &dyn HistoryStore, query: &str) -> Result<ExecutionRecord, EngineError> {
    if let Some(record) = store.execution(query)? {
        return Ok(record);
    }
    let mut all: Vec<Candidate> = Vec::new();
    for arn in store.execution_arns()? {
        let read = match store.execution(&arn) {
            Ok(Some(record)) => Ok(record),
            Ok(None) => continue,
            Err(error) => Err(error),
        };
        let name = match &read {
            Ok(record) => record.name.clone(),
            Err(_) => arn.rsplit(':').next().unwrap_or_default().to_owned(),
        };
        all.push((arn, name, read));
    }
    all.sort_by_key(|(arn, _, read)| (read.as_ref().map_or(i64::MAX, |r| r.start_millis), arn.clone()));
    let pick = |(_, _, read): Candidate| read.map_err(EngineError::from);
    if let Some(at) = all.iter().position(|(_, name, _)| name == query) {
        return pick(all.swap_remove(at));
    }
    let mut matching: Vec<Candidate> =
        all.into_iter().filter(|(arn, name, _)| name.starts_with(query) || arn.starts_with(query)).collect();
    match matching.len() {
        0 => Err(EngineError::NotFound(query.to_owned())),
        1 => pick(matching.remove(0)),
        count => Err(EngineError::Ambiguous { query: query.to_owned(), count }),
    }
}

/// An execution as [`find_execution`] matches it: ARN, name, and the record or why it
/// cannot be read.
type Candidate = (String, String, Result<ExecutionRecord, StoreError>);
