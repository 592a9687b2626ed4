//! A distributed Map's attempt: a Map Run whose items run as child executions, as on AWS.
//!
//! The parent's history records `MapStateStarted`, `MapRunStarted {mapRunArn}`, then
//! `MapRunSucceeded` or `MapRunFailed {error, cause}` (no iteration events). Each item (or
//! batch) is a child execution of the state machine `<machine>/<label>` (the Map's
//! `ItemProcessor`), named `…:execution:<machine>/<label>:<id>`: a STANDARD child is an
//! execution of its own in the store, with its own history (`executions list`, `history`);
//! an EXPRESS child is kept in memory only, as AWS keeps none. The Map Run is a store
//! document (kind [`MAP_RUN_KIND`]) with AWS's DescribeMapRun fields, updated as it ends.
//!
//! Ids are derived, not drawn: the Map Run's from the parent execution and the event
//! before its start, a child's from the Map Run and its index. A resumed parent so finds
//! its children: ended ones give their outcome, RUNNING ones are resumed from their own
//! histories. Once the tolerated failures are exceeded (counted in items), the running
//! children are stopped (they end ABORTED); if the parent stops, its running children are
//! ended ABORTED too.

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use serde_json::{Value, json};
use sfnlite_states::definition::MapState;
use sfnlite_states::eval::items::ItemList;
use sfnlite_states::eval::map::Tolerance;
use sfnlite_states::eval::result_writer::ChildResult;
use sfnlite_states::eval::{Env, Exit, shape_result};
use sfnlite_states::history::{EventDetails, Payload};
use sfnlite_states::{ErrorName, EvalError, StatesError};

use super::express_redrive::{Earlier, failed_attempt};
use super::journal::{Journal, record_redrive};
use super::recovery::Entry;
use super::result_writer::Collected;
use super::{Effects, ExecutionInfo, Outcome, Replay, Run, Thread};
use crate::store::{ExecutionOrigin, ExecutionRecord, ExecutionStatus, HistoryStore, MemoryStore, StateMachineRecord};
use crate::{ACCOUNT_ID, StopRequest};

/// The store documents that describe Map Runs (by Map Run ARN).
pub const MAP_RUN_KIND: &str = "map-runs";

/// The store documents that record what a Map Run iterates over (`{items, digest}`, by
/// Map Run ARN), so that a resumed or redriven one knows whether it reads the same items.
pub(crate) const MAP_RUN_ITEMS_KIND: &str = "map-run-items";

/// What a Map Run iterates over, prepared by `map_attempt`.
pub(super) struct Plan {
    /// The children's inputs (items after ItemSelector, or batches), as JSON text.
    pub(super) inputs: ItemList,
    /// The items of each child (1, or its batch's).
    pub(super) weights: Vec<usize>,
    /// All the items.
    pub(super) items: usize,
    /// The items' digest (as read, before the ItemSelector).
    pub(super) digest: String,
    pub(super) limit: usize,
    pub(super) tolerance: Tolerance,
}

/// A derived id in a UUID's form.
fn derived_uuid(key: &str) -> String {
    let hash = |salt: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
        for byte in key.bytes() {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        // SplitMix64's finalizer: neighbouring keys give unrelated ids.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    };
    let (a, b) = (hash(1), hash(2));
    let hex = format!("{a:016x}{b:016x}");
    format!("{}-{}-4{}-a{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// How a child ended.
struct ChildEnd {
    index: usize,
    record: ExecutionRecord,
    /// An EXPRESS child that succeeded in an earlier attempt (it did not run again).
    earlier: bool,
}

/// The names of a Map Run: its ARN, its children's state machine, their ARNs' prefix.
struct Names {
    map_run_arn: String,
    machine_name: String,
    machine_arn: String,
    run_id: String,
}

impl<'a> Run<'a> {
    pub(super) async fn map_run(
        &self,
        map: &MapState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        plan: Plan,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        // A resumed or redriven Map Run reads its items again: they must be as many as when it
        // started (children are matched to items by index), or the Map Run fails at once.
        let recorded = self.replay.as_ref().and_then(|r| r.map_length(thread.last));
        let changed = recorded.filter(|n| *n != plan.items);
        thread.emit(EventDetails::MapStateStarted { length: recorded.unwrap_or(plan.items) });
        let run_id = derived_uuid(&format!("{}#map-run#{}", self.info.arn, thread.last));
        let label = map.label.clone().unwrap_or_else(|| derived_uuid(&entry.state.name)[..8].to_owned());
        let machine_name = format!("{}/{label}", self.info.state_machine_name);
        let names = Names {
            map_run_arn: format!(
                "arn:aws:states:{}:{ACCOUNT_ID}:mapRun:{}/{label}:{run_id}",
                self.info.region, self.info.state_machine_name
            ),
            machine_arn: format!("{}/{label}", self.info.state_machine_arn),
            machine_name,
            run_id,
        };
        thread.emit(EventDetails::MapRunStarted { map_run_arn: names.map_run_arn.clone() });
        // A Map Run the stored history already ended (a redrive of a later state): its
        // children are taken as they ended, none runs again.
        let settled = self.replay.as_ref().is_some_and(|r| r.map_run_ended(thread.last));
        // Each redrive of the parent since the Map Run started redrove it (it had not ended
        // well): `MapRunRedriven`, the earlier ones replayed.
        let redrives = match &self.replay {
            Some(replay) if !settled => replay.redrives_after(thread.last),
            _ => 0,
        };
        for redrive_count in 1..=redrives {
            thread.emit(EventDetails::MapRunRedriven { map_run_arn: names.map_run_arn.clone(), redrive_count });
        }
        let total = plan.inputs.len();
        let express = map.execution_type.as_deref() == Some("EXPRESS");
        // Children are matched to items by index: a resumed or redriven Map Run must read
        // the items it started with.
        let read = self.store.document(MAP_RUN_ITEMS_KIND, &names.map_run_arn).map_err(|e| self.store_failed(e))?;
        // EXPRESS children an earlier attempt saw succeed do not run again.
        let earlier = if express && redrives > 0 { Earlier::read(read.as_ref(), total) } else { Earlier::default() };
        // What the ResultWriter gathers (an export's destination evaluated now).
        let kept_files = earlier.files.clone();
        let collector = self.collector(map.result_writer.as_deref(), &names.map_run_arn, entry, env, total, kept_files);
        // (Items from the state input may differ on purpose: JSONata's `$uuid()`; and a Map
        // Run that ended runs no child again.)
        let differs = map.item_reader.is_some()
            && !settled
            && read.as_ref().is_some_and(|r| r["digest"].as_str() != Some(plan.digest.as_str()));
        let started_millis = self.clock.now_millis();
        // A resumed or redriven Map Run keeps the start it was recorded with.
        let stored = self.store.document(MAP_RUN_KIND, &names.map_run_arn).map_err(|e| self.store_failed(e))?;
        let started_millis = stored.as_ref().and_then(|d| d["startDate"].as_i64()).unwrap_or(started_millis);
        let mut document =
            MapRunDocument::new(&names, &self.info.arn, started_millis, &plan, map, env, &entry.effective);
        if redrives > 0 {
            // Redriven when the parent was (its last `ExecutionRedriven`).
            let redriven = self.replay.as_ref().and_then(|r| r.attempt_start()).unwrap_or(started_millis);
            document.value["redriveCount"] = json!(redrives);
            document.value["redriveDate"] = json!(redriven);
        }
        let early = match (changed, collector) {
            (Some(recorded), _) => Err(sfnlite_states::eval::items::reader_failed(format!(
                "the ItemReader now reads {} item(s) where the Map Run started with {recorded}: its objects changed; put them back as they were to resume or redrive",
                plan.items
            ))),
            (None, _) if differs => Err(sfnlite_states::eval::items::reader_failed(
                "the ItemReader now reads other items than the Map Run started with: its objects changed; put them back as they were to resume or redrive",
            )),
            (None, Err(error)) => Err(error.into_states_error(&entry.state.name, entry.entered)),
            (None, Ok(collected)) => Ok(collected),
        };
        let mut collected = match early {
            Ok(collected) => collected,
            Err(error) => {
                // The Map Run failed before any child started.
                if !settled {
                    document.end(self.clock.now_millis(), "FAILED");
                    self.put_map_run(&document)?;
                }
                let (name, cause) = (sfnlite_states::eval::fields::error_text(&error.error), error.cause.clone());
                thread.emit(EventDetails::MapRunFailed { error: name, cause });
                thread.emit(EventDetails::MapStateFailed);
                return Err(EvalError::Raised(error));
            }
        };
        self.flush()?;
        let definition = self.processor_definition(&entry.state.name)?;
        if !express {
            let record = StateMachineRecord::new(&names.machine_name, &definition);
            self.store.put_state_machine(&record).map_err(|e| self.store_failed(e))?;
        }
        let definition_hash = StateMachineRecord::new(&names.machine_name, &definition).hash;
        if !settled {
            self.put_map_run(&document)?;
        }
        let items_document = json!({"items": plan.items, "digest": plan.digest});
        if read.is_none() {
            self.store
                .put_document(MAP_RUN_ITEMS_KIND, &names.map_run_arn, &items_document)
                .map_err(|e| self.store_failed(e))?;
        }

        let (abort, aborted) = tokio::sync::watch::channel(false);
        // Owns the Map Run's document from here: kept current as children start and end,
        // and ended ABORTED (with the running children) if this future is dropped.
        let guard = RunningChildren::new(self.store, self.clock, document);
        // The children's results make the Map's output (or a preview's), unless exported.
        let exporting = matches!(collected, Collected::Export(_));
        let mut results = vec![Value::Null; if exporting { 0 } else { total }];
        // Which EXPRESS children succeeded (kept for a redrive if the Map Run fails).
        let mut succeeded = vec![false; if express && !settled { total } else { 0 }];
        let mut failures = 0;
        let mut failure: Option<StatesError> = None;
        let child = |index: usize| {
            let input = plan.inputs.get(index).map(Payload::new);
            let (names, aborted, guard, hash) = (&names, aborted.clone(), &guard, definition_hash.clone());
            let weight = plan.weights[index];
            let before = earlier.output(index);
            async move {
                let input = input.map_err(EvalError::Raised)?;
                let arn = format!(
                    "arn:aws:states:{}:{ACCOUNT_ID}:execution:{}:{}",
                    self.info.region,
                    names.machine_name,
                    derived_uuid(&format!("{}#{index}", names.run_id))
                );
                let earlier = before.is_some();
                self.child(map, names, (express, settled), &hash, arn, (input, weight, before), aborted, guard)
                    .await
                    .map(|record| ChildEnd { index, record, earlier })
            }
        };
        let mut pending = FuturesUnordered::new();
        let mut next = 0;
        loop {
            let done = if next < total && pending.len() < plan.limit && failure.is_none() {
                super::map::renew_budget().await;
                pending.push(child(next));
                next += 1;
                match pending.next().now_or_never() {
                    Some(Some(done)) => done,
                    _ => continue,
                }
            } else if self.clock.is_virtual() || settled {
                match pending.next().await {
                    Some(done) => done,
                    None => break,
                }
            } else {
                // On the real clock, DescribeMapRun's counts are written once a second while
                // children run (never on the virtual clock, whose time would move for it).
                let tick = self.clock.sleep_until(self.clock.now_millis() + 1000);
                tokio::select! {
                    done = pending.next() => match done {
                        Some(done) => done,
                        None => break,
                    },
                    () = tick => {
                        guard.save();
                        continue;
                    }
                }
            };
            let end = done?;
            let (status, result) = ended(&end.record);
            guard.ended(&end.record.arn, status, plan.weights[end.index]);
            if let Some(flag) = succeeded.get_mut(end.index) {
                *flag = status == ExecutionStatus::Succeeded;
            }
            let report = child_result(end.record);
            match result {
                Ok(output) if !exporting => results[end.index] = output.into_value(),
                Ok(_) => {}
                Err(_) => {
                    // A failed child stands in the results as AWS reports it (the NONE form).
                    if !exporting {
                        results[end.index] = report.record();
                    }
                    // Children this Map Run aborted itself do not count; others do (an
                    // aborted child found when resuming failed its Map Run then).
                    if failure.is_none() {
                        failures += plan.weights[end.index];
                    }
                    if failure.is_none() && plan.tolerance.exceeded(failures, plan.items) {
                        // A Map Run fails on its threshold (0 failures by default), whatever
                        // its children's errors.
                        failure = Some(StatesError::new(
                            ErrorName::ExceedToleratedFailureThreshold,
                            "The specified tolerated failure threshold was exceeded",
                        ));
                        // The running children stop; those not started never will.
                        let _ = abort.send(true);
                    }
                }
            }
            // An earlier attempt's child is in the SUCCEEDED files that attempt wrote.
            let written = exporting && end.earlier;
            if let Err(error) = if written { Ok(()) } else { self.collect(&mut collected, end.index, report).await } {
                // The results cannot be written: the Map Run fails, its running children stop.
                if failure.is_none() {
                    failure = Some(error);
                    let _ = abort.send(true);
                }
            }
        }
        drop(pending);
        // The ResultWriter's files (also when the Map Run failed: its FAILED and PENDING
        // files say what happened), or its transformed results.
        let (written, files) = match self.write_results(collected, &names.map_run_arn, &plan.inputs).await {
            Ok(Some((value, files))) => (Some(value), files),
            Ok(None) => (None, Vec::new()),
            Err(error) => {
                failure.get_or_insert(error);
                (None, Vec::new())
            }
        };
        if express && !settled {
            // What a redrive of this Map Run will not run again (nothing once it succeeded).
            let kept = match &failure {
                Some(_) => failed_attempt(
                    items_document,
                    &succeeded,
                    |i| (!exporting).then(|| results.get(i).cloned().unwrap_or_default()),
                    &files,
                ),
                None => items_document,
            };
            self.store.put_document(MAP_RUN_ITEMS_KIND, &names.map_run_arn, &kept).map_err(|e| self.store_failed(e))?;
        }
        let document = guard.end(failure.is_none());
        if !settled {
            self.put_map_run(&document)?;
        }
        match failure {
            Some(error) => {
                let (name, cause) = (sfnlite_states::eval::fields::error_text(&error.error), error.cause.clone());
                thread.emit(EventDetails::MapRunFailed { error: name, cause });
                thread.emit(EventDetails::MapStateFailed);
                Err(EvalError::Raised(error))
            }
            None => {
                thread.emit(EventDetails::MapRunSucceeded);
                thread.emit(EventDetails::MapStateSucceeded);
                let result = written.unwrap_or(Value::Array(results));
                shape_result(entry.state, &map.handling, entry.raw.clone(), Payload::new(result), env)
            }
        }
    }

    /// One child execution to its end: started, resumed (RUNNING in the store), or taken
    /// as it ended. Its status and result.
    #[allow(clippy::too_many_arguments)]
    async fn child(
        &self,
        map: &MapState,
        names: &Names,
        (express, settled): (bool, bool),
        definition_hash: &str,
        arn: String,
        (input, weight, before): (Payload, usize, Option<Value>),
        mut aborted: tokio::sync::watch::Receiver<bool>,
        guard: &RunningChildren<'_>,
    ) -> Result<ExecutionRecord, EvalError> {
        let memory = MemoryStore::new();
        let store: &dyn HistoryStore = if express { &memory } else { self.store };
        let existing = store.execution(&arn).map_err(|e| self.store_failed(e))?;
        let (record, replay) = match existing {
            // A redrive of the parent redrives the children that did not succeed.
            Some(record)
                if !settled
                    && !matches!(record.status, ExecutionStatus::Running | ExecutionStatus::Succeeded)
                    && record.redrive_count < self.info.redrive_count =>
            {
                self.redrive_child(store, record)?
            }
            Some(record) if record.status != ExecutionStatus::Running => return Ok(record),
            Some(record) => {
                let events = store.events(&arn).map_err(|e| self.store_failed(e))?;
                (record, Some(Replay::for_resume(events)))
            }
            None => {
                let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
                let record = ExecutionRecord {
                    arn: arn.clone(),
                    name,
                    state_machine_name: names.machine_name.clone(),
                    state_machine_arn: names.machine_arn.clone(),
                    definition_hash: definition_hash.to_owned(),
                    input: (*input).clone(),
                    status: ExecutionStatus::Running,
                    output: None,
                    error: None,
                    cause: None,
                    start_millis: self.clock.now_millis(),
                    stop_millis: None,
                    seed: self.seed ^ u64::from_str_radix(&arn[arn.len() - 12..], 16).unwrap_or(0),
                    virtual_clock: self.clock.is_virtual(),
                    redrive_count: 0,
                    origin: ExecutionOrigin {
                        map_run: Some(names.map_run_arn.clone()),
                        role_arn: Some(self.info.role_arn.clone()),
                        express,
                        ..ExecutionOrigin::default()
                    },
                };
                if let Some(output) = before {
                    // Succeeded in an earlier attempt (an EXPRESS child, not kept): as it ended.
                    let stop_millis = Some(record.start_millis);
                    return Ok(ExecutionRecord {
                        status: ExecutionStatus::Succeeded,
                        output: Some(output),
                        stop_millis,
                        ..record
                    });
                }
                store.put_execution(&record).map_err(|e| self.store_failed(e))?;
                (record, None)
            }
        };
        guard.started(&arn, weight, !express);
        let info = ExecutionInfo {
            arn: record.arn.clone(),
            name: record.name.clone(),
            state_machine_arn: record.state_machine_arn.clone(),
            state_machine_name: record.state_machine_name.clone(),
            role_arn: self.info.role_arn.clone(),
            region: self.info.region.clone(),
            input: Payload::new(record.input.clone()),
            redrive_count: record.redrive_count,
            sync_express: false,
            express,
        };
        let effects = Effects { clock: self.clock, registry: self.registry, store, callbacks: self.callbacks };
        let run = Run::new(info, effects, record.seed, replay);
        let stop = async move {
            let _ = aborted.wait_for(|a| *a).await;
            StopRequest {
                error: Some("States.Aborted".into()),
                cause: Some("The Map Run stopped: its tolerated failures were exceeded".into()),
            }
        };
        let outcome = run.execute(&map.item_processor, stop).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => return Err(EvalError::Runtime(format!("the child execution {arn} could not run: {e}"))),
        };
        let finished = finish(record, &outcome);
        store.put_execution(&finished).map_err(|e| self.store_failed(e))?;
        Ok(finished)
    }

    /// A child that did not succeed, set to run again as AWS's RedriveExecution does
    /// (`ExecutionRedriven`, its redrive count the parent's): its record and replay.
    fn redrive_child(
        &self,
        store: &dyn HistoryStore,
        mut record: ExecutionRecord,
    ) -> Result<(ExecutionRecord, Option<Replay>), EvalError> {
        // The tokens of the child's failed attempt are not answerable any more.
        self.callbacks.close_all(store, &record.arn).map_err(|e| self.store_failed(e))?;
        let events =
            record_redrive(store, &mut record, self.info.redrive_count, self.clock.now_millis()).map_err(|e| {
                EvalError::Runtime(format!("the child execution {} could not be redriven: {e}", record.arn))
            })?;
        Ok((record, Some(Replay::for_redrive(events))))
    }

    /// The ItemProcessor's definition, from the parent's stored definition.
    fn processor_definition(&self, state: &str) -> Result<String, EvalError> {
        let missing = || EvalError::Runtime(format!("the definition of the Map state '{state}' could not be read"));
        let record = self.store.execution(&self.info.arn).map_err(|e| self.store_failed(e))?.ok_or_else(missing)?;
        let stored = self.store.state_machine(&record.definition_hash).map_err(|e| self.store_failed(e))?;
        let text = stored.ok_or_else(missing)?.definition;
        sfnlite_states::definition::item_processor_definition(&text, state).ok_or_else(missing)
    }

    fn put_map_run(&self, document: &MapRunDocument) -> Result<(), EvalError> {
        self.store.put_document(MAP_RUN_KIND, &document.arn(), &document.value).map_err(|e| self.store_failed(e))
    }
}

/// The DescribeMapRun count of a child that ended with `status`.
fn status_key(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Succeeded => "succeeded",
        ExecutionStatus::TimedOut => "timedOut",
        ExecutionStatus::Aborted => "aborted",
        _ => "failed",
    }
}

/// A record's status and result (its output, or its error as ASL data).
fn ended(record: &ExecutionRecord) -> (ExecutionStatus, Result<Payload, StatesError>) {
    let result = match record.status {
        ExecutionStatus::Succeeded => Ok(Payload::new(record.output.clone().unwrap_or(Value::Null))),
        _ => Err(StatesError {
            error: ErrorName::parse(record.error.as_deref().unwrap_or("States.TaskFailed")),
            cause: record.cause.clone(),
        }),
    };
    (record.status, result)
}

/// A child's record as the ResultWriter reports it.
fn child_result(record: ExecutionRecord) -> ChildResult {
    ChildResult {
        status: record.status.as_str(),
        stop_millis: record.stop_millis.unwrap_or(record.start_millis),
        start_millis: record.start_millis,
        redrive_count: record.redrive_count,
        arn: record.arn,
        name: record.name,
        state_machine_arn: record.state_machine_arn,
        input: record.input,
        output: record.output,
        error: record.error,
        cause: record.cause,
    }
}

fn finish(mut record: ExecutionRecord, outcome: &Outcome) -> ExecutionRecord {
    record.status = outcome.status;
    record.output = outcome.output.clone();
    record.error = outcome.error.clone();
    record.cause = outcome.cause.clone();
    record.stop_millis = Some(outcome.stop_millis);
    record
}

/// A Map Run in progress: its document (counts kept current, written at most once a
/// second) and its STANDARD children running now. If the Map's future is dropped (the
/// parent stopped or timed out, a sibling branch failed), the running children are ended
/// ABORTED in the store and so is the Map Run, so none is left RUNNING.
struct RunningChildren<'s> {
    store: &'s dyn HistoryStore,
    clock: &'s dyn crate::clock::Clock,
    /// The children started here and not ended: whether each is in the store, and its items.
    running: std::cell::RefCell<std::collections::BTreeMap<String, (bool, usize)>>,
    document: std::cell::RefCell<Option<MapRunDocument>>,
    written: std::cell::Cell<i64>,
}

impl<'s> RunningChildren<'s> {
    fn new(store: &'s dyn HistoryStore, clock: &'s dyn crate::clock::Clock, document: MapRunDocument) -> Self {
        RunningChildren {
            store,
            clock,
            running: Default::default(),
            document: std::cell::RefCell::new(Some(document)),
            written: std::cell::Cell::new(clock.now_millis()),
        }
    }

    /// A child started (or resumed), holding `items` items.
    fn started(&self, arn: &str, items: usize, stored: bool) {
        self.running.borrow_mut().insert(arn.to_owned(), (stored, items));
        if let Some(document) = self.document.borrow_mut().as_mut() {
            document.move_count("pending", "running", items);
        }
        self.save_now_and_then();
    }

    /// A child ended with `status` (a child found ended never started here).
    fn ended(&self, arn: &str, status: ExecutionStatus, items: usize) {
        let was_running = self.running.borrow_mut().remove(arn).is_some();
        if let Some(document) = self.document.borrow_mut().as_mut() {
            let from = if was_running { "running" } else { "pending" };
            document.move_count(from, status_key(status), items);
        }
        self.save_now_and_then();
    }

    /// Writes the document when the last write is a second old.
    fn save_now_and_then(&self) {
        if self.clock.now_millis() - self.written.get() >= 1000 {
            self.save();
        }
    }

    /// Writes the document.
    fn save(&self) {
        self.written.set(self.clock.now_millis());
        if let Some(document) = self.document.borrow().as_ref() {
            let _ = self.store.put_document(MAP_RUN_KIND, &document.arn(), &document.value);
        }
    }

    /// The Map Run ended: its final document.
    fn end(&self, succeeded: bool) -> MapRunDocument {
        let mut document = self.document.borrow_mut().take().expect("ended once");
        document.end(self.clock.now_millis(), if succeeded { "SUCCEEDED" } else { "FAILED" });
        document
    }
}

impl Drop for RunningChildren<'_> {
    fn drop(&mut self) {
        if let Some(mut document) = self.document.borrow_mut().take() {
            for (_, items) in self.running.borrow().values() {
                document.move_count("running", "aborted", *items);
            }
            document.end(self.clock.now_millis(), "ABORTED");
            let _ = self.store.put_document(MAP_RUN_KIND, &document.arn(), &document.value);
        }
        let stored = std::mem::take(&mut *self.running.borrow_mut()).into_iter().filter(|(_, (stored, _))| *stored);
        for (arn, _) in stored {
            let Ok(Some(mut record)) = self.store.execution(&arn) else { continue };
            if record.status != ExecutionStatus::Running {
                continue;
            }
            let last = self.store.events(&arn).ok().and_then(|e| e.last().map(|e| e.id)).unwrap_or(0);
            let now = self.clock.now_millis();
            let journal = Journal::new(self.store, &arn, last);
            journal.append(last, now, EventDetails::ExecutionAborted { error: None, cause: None });
            if journal.finish().is_ok() {
                record.status = ExecutionStatus::Aborted;
                record.stop_millis = Some(now);
                let _ = self.store.put_execution(&record);
            }
        }
    }
}

/// A Map Run as DescribeMapRun shows it (epoch-millisecond dates; the API converts).
struct MapRunDocument {
    value: Value,
}

impl MapRunDocument {
    #[allow(clippy::too_many_arguments)]
    fn new(
        names: &Names,
        execution: &str,
        started: i64,
        plan: &Plan,
        map: &MapState,
        env: &Env<'_>,
        effective: &Value,
    ) -> MapRunDocument {
        let scope = env.scope(effective);
        // The fields AWS's recorded DescribeMapRun answers have.
        let counts = json!({"pending": plan.items, "running": 0, "succeeded": 0, "failed": 0, "timedOut": 0,
            "aborted": 0, "total": plan.items, "resultsWritten": 0});
        let executions = json!({"pending": plan.inputs.len(), "running": 0, "succeeded": 0, "failed": 0, "timedOut": 0,
            "aborted": 0, "total": plan.inputs.len(), "resultsWritten": 0});
        // The tolerance `map_attempt` evaluated already.
        let tolerated_count = plan.tolerance.count().unwrap_or(0).max(0);
        let tolerated_percentage = plan.tolerance.percentage().unwrap_or(0.0);
        let max_concurrency =
            sfnlite_states::eval::fields::count(&map.max_concurrency, &scope, env, "MaxConcurrency", Value::as_u64)
                .unwrap_or(0);
        MapRunDocument {
            value: json!({
                "mapRunArn": names.map_run_arn,
                "executionArn": execution,
                "stateMachineArn": names.machine_arn,
                "status": "RUNNING",
                "startDate": started,
                "maxConcurrency": max_concurrency,
                "toleratedFailurePercentage": tolerated_percentage,
                "toleratedFailureCount": tolerated_count,
                "itemCounts": counts,
                "executionCounts": executions,
            }),
        }
    }

    fn arn(&self) -> String {
        self.value["mapRunArn"].as_str().unwrap_or_default().to_owned()
    }

    /// Moves `items` items (and one execution) from one count to another; an ended child's
    /// result counts as written (to the Map's output or the ResultWriter's files).
    fn move_count(&mut self, from: &str, to: &str, items: usize) {
        for (counts, n) in [("itemCounts", items as u64), ("executionCounts", u64::from(items > 0))] {
            let counts = &mut self.value[counts];
            counts[from] = json!(counts[from].as_u64().unwrap_or(0).saturating_sub(n));
            counts[to] = json!(counts[to].as_u64().unwrap_or(0) + n);
            if !matches!(to, "running" | "pending") {
                counts["resultsWritten"] = json!(counts["resultsWritten"].as_u64().unwrap_or(0) + n);
            }
        }
    }

    /// The Map Run ended (children never started stay pending).
    fn end(&mut self, stopped: i64, status: &str) {
        self.value["status"] = json!(status);
        self.value["stopDate"] = json!(stopped);
    }
}
