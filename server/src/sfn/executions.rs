//! StartExecution, DescribeExecution, DescribeStateMachineForExecution, ListExecutions,
//! GetExecutionHistory, StopExecution and RedriveExecution, over the engine and the store.

use std::time::Duration;

use serde_json::{Value, json};
use sfnlite_engine::{EngineError, ExecutionOrigin, ExecutionRecord, ExecutionStatus, StartRequest, StopRequest};
use sfnlite_states::history::HistoryEvent;

use super::arn::{self, MachineRef};
use super::error::ApiError;
use super::machines::parse;
use super::model::{Documents, MachineType, Revision, StateMachine};
use super::paging::{listing, newest_first, oldest_first, page};
use super::request::Request;
use super::{Api, seconds};
use crate::executor::Job;

const STATUSES: &str = "[SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]";

/// Jackson's words (what AWS's parser says) for the commonest malformed inputs; serde's
/// otherwise.
fn input_error(text: &str, error: &serde_json::Error) -> String {
    let at = text
        .lines()
        .take(error.line().saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum::<usize>()
        .saturating_add(error.column().saturating_sub(1));
    let rest = text.get(at.min(text.len())..).unwrap_or_default();
    let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let first = rest.chars().next();
    if !word.is_empty() && !text.trim_start().starts_with(['{', '[', '"']) {
        let start: String = text.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        return format!(
            "Unrecognized token '{start}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        );
    }
    if error.to_string().starts_with("key must be a string")
        && let Some(c) = first
    {
        return format!(
            "Unexpected character ('{c}' (code {})): was expecting double-quote to start field name",
            c as u32
        );
    }
    error.to_string()
}

/// An execution to run on the caller's runtime (not `Send`: the interpreter's futures are not).
pub type ExecutionRun = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// A StartExecution recorded and ready to run, or answered without running anything.
enum Begun {
    Answered(Value),
    Ready {
        engine: Box<sfnlite_engine::Engine>,
        machine: Box<sfnlite_states::StateMachine>,
        record: Box<sfnlite_engine::ExecutionRecord>,
        response: Value,
    },
}

/// `input`: a JSON text, `{}` when absent.
pub(super) fn parse_input(input: Option<&str>) -> Result<Value, ApiError> {
    let text = input.unwrap_or("{}");
    let invalid = |detail: String| {
        ApiError::new("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{detail}'"))
    };
    if text.trim().is_empty() {
        return Err(invalid("Invalid execution input.".to_owned()));
    }
    // The API model's constraint (AWS's 256 KiB quota on an execution's input).
    if text.len() > 262_144 {
        return Err(ApiError::constraint("…", "input", "Member must have length less than or equal to 262144"));
    }
    serde_json::from_str(text).map_err(|e| invalid(input_error(text, &e)))
}

/// DescribeExecution's `redriveStatus` and its reason.
fn redrive_status(status: ExecutionStatus) -> (&'static str, Option<String>) {
    match status {
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => ("REDRIVABLE", None),
        other => ("NOT_REDRIVABLE", Some(format!("Execution is {} and cannot be redriven", other.as_str()))),
    }
}

/// An execution as ListExecutions lists it.
fn list_item(record: &ExecutionRecord) -> Value {
    let mut item = json!({
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status.as_str(),
        "startDate": seconds(record.start_millis),
        "redriveCount": record.redrive_count,
    });
    if let Some(stop) = record.stop_millis {
        item["stopDate"] = seconds(stop);
    }
    if let Some(version) = &record.origin.version_arn {
        item["stateMachineVersionArn"] = json!(version);
    }
    if let Some(alias) = &record.origin.alias_arn {
        item["stateMachineAliasArn"] = json!(alias);
    }
    if let Some(map_run) = &record.origin.map_run {
        item["mapRunArn"] = json!(map_run);
    }
    item
}

/// A stored event as GetExecutionHistory returns it: epoch-second timestamps; without
/// execution data, no inputs or outputs.
fn api_event(event: &HistoryEvent, include_data: bool) -> Value {
    let mut json = event.to_json();
    json["timestamp"] = seconds(event.timestamp);
    if !include_data && let Value::Object(fields) = &mut json {
        for (_, details) in fields.iter_mut().filter(|(k, _)| k.ends_with("EventDetails")) {
            if let Value::Object(details) = details {
                for key in ["input", "output", "parameters"] {
                    if details.remove(key).is_some() {
                        details.insert(format!("{key}Details"), json!({"included": false}));
                    }
                }
            }
        }
    }
    json
}

impl Api {
    fn record(&self, arn: &str) -> Result<ExecutionRecord, ApiError> {
        arn::execution(arn)?;
        self.store.execution(arn)?.ok_or_else(|| ApiError::no_execution(arn))
    }

    /// What a StartExecution target runs: its revision, and the version and alias it went through.
    fn target(&self, target: &MachineRef) -> Result<(StateMachine, Revision, ExecutionOrigin), ApiError> {
        let machine = self.machine_doc(target.machine_arn()).map_err(|_| {
            ApiError::no_state_machine(match target {
                MachineRef::Machine { arn, .. } | MachineRef::Version { arn, .. } | MachineRef::Alias { arn, .. } => {
                    arn
                }
            })
        })?;
        let (revision, version_arn, alias_arn) = match target {
            MachineRef::Machine { .. } => (machine.revision.clone(), None, None),
            MachineRef::Version { arn, .. } => (self.version_doc(arn)?.revision, Some(arn.clone()), None),
            MachineRef::Alias { arn, .. } => {
                let version = self.alias_target(arn)?;
                (version.revision, Some(version.arn), Some(arn.clone()))
            }
        };
        let origin = ExecutionOrigin {
            role_arn: Some(revision.role_arn.clone()),
            version_arn,
            alias_arn,
            test_case: None,
            sync_express: false,
            express: false,
            api: true,
            map_run: None,
        };
        Ok((machine, revision, origin))
    }

    /// What StartExecution and StartSyncExecution read: the target, its test case, the
    /// name and the input.
    fn start_request(&self, request: &Request) -> Result<Start, ApiError> {
        let given = request.required("stateMachineArn")?;
        // `<machine ARN>#<test case>` picks a MockConfigFile test case (Step Functions Local).
        let (target, test_case) = match given.split_once('#') {
            Some((arn, case)) => (arn, Some(case.to_owned())),
            None => (given, None),
        };
        let target = arn::machine(target)?;
        let name = match request.string("name")? {
            Some(name) if !arn::valid_name(name) => return Err(ApiError::invalid_name(name)),
            Some(name) => name.to_owned(),
            None => sfnlite_engine::entropy::new_uuid(),
        };
        let input = parse_input(request.string("input")?)?;
        let (machine, revision, mut origin) = self.target(&target)?;
        origin.test_case = test_case.clone();
        let definition = parse(&revision.definition, revision.machine_type)?;
        Ok(Start { machine, revision, origin, definition, name, input, test_case })
    }

    /// Starts an EXPRESS execution on the execution thread; `reply` gets its end.
    fn start_express(
        &self,
        start: Start,
        reply: Option<
            tokio::sync::oneshot::Sender<
                Result<(sfnlite_engine::ExecutionInfo, sfnlite_engine::Outcome), sfnlite_engine::EngineError>,
            >,
        >,
    ) -> Result<String, ApiError> {
        let sync = reply.is_some();
        let engine = self.express_engine(&start.machine.name, start.test_case.as_deref())?;
        let arn = self
            .arn("express", &format!("{}:{}:{}", start.machine.name, start.name, sfnlite_engine::entropy::new_uuid()));
        let request = StartRequest {
            state_machine_name: start.machine.name.clone(),
            definition: start.revision.definition.clone(),
            execution_name: start.name,
            input: start.input,
            seed: sfnlite_engine::entropy::os_seed(),
            virtual_clock: false,
            origin: ExecutionOrigin { sync_express: sync, express: true, ..start.origin },
        };
        self.executor.submit(Job::Express {
            engine,
            machine: Box::new(start.definition),
            request,
            arn: arn.clone(),
            reply,
        });
        Ok(arn)
    }

    /// StartSyncExecution (EXPRESS only): runs the execution and answers with its end.
    pub(super) async fn start_sync_execution(&self, request: &Request) -> Result<Value, ApiError> {
        let start = self.start_request(request)?;
        if start.revision.machine_type != MachineType::Express {
            return Err(ApiError::new(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        let (machine_arn, name, input) = (start.machine.arn.clone(), start.name.clone(), start.input.clone());
        let (reply, ended) = tokio::sync::oneshot::channel();
        let arn = self.start_express(start, Some(reply))?;
        let (_, outcome) =
            ended.await.map_err(|_| ApiError::internal("the execution thread stopped"))?.map_err(ApiError::internal)?;
        let billed = ((outcome.stop_millis - outcome.start_millis).max(1) + 99) / 100 * 100;
        let mut out = json!({
            "executionArn": arn,
            "stateMachineArn": machine_arn,
            "name": name,
            "startDate": seconds(outcome.start_millis),
            "stopDate": seconds(outcome.stop_millis),
            "status": outcome.status.as_str(),
            "input": input.to_string(),
            "inputDetails": {"included": true},
            "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed},
        });
        if let Some(output) = &outcome.output {
            out["output"] = json!(output.to_string());
            out["outputDetails"] = json!({"included": true});
        }
        for (key, value) in [("error", &outcome.error), ("cause", &outcome.cause)] {
            if let Some(value) = value {
                out[key] = json!(value);
            }
        }
        Ok(out)
    }

    pub(super) async fn start_execution(&self, request: &Request) -> Result<Value, ApiError> {
        match self.begin_execution(request)? {
            Begun::Answered(response) => Ok(response),
            Begun::Ready { engine, machine, record, response } => {
                self.executor.submit(Job::Run { engine: *engine, machine, record: *record });
                Ok(response)
            }
        }
    }

    /// StartExecution, with the execution to be run by the caller (on its runtime and
    /// clock) instead of the execution thread: how `sfnlite scheduler --clock virtual`
    /// runs what it starts, so that virtual time moves for the executions and the
    /// schedules alike. The answer is StartExecution's, and the run (none when nothing is
    /// to run: EXPRESS, or the same execution already running).
    pub fn start_here(&self, body: &[u8]) -> Result<(Value, Option<ExecutionRun>), ApiError> {
        let request = Request::parse(body)?;
        match self.begin_execution(&request)? {
            Begun::Answered(response) => Ok((response, None)),
            Begun::Ready { engine, machine, record, response } => {
                let run = Box::pin(async move {
                    let _ = engine.run_started(&machine, *record, std::future::pending()).await;
                });
                Ok((response, Some(run)))
            }
        }
    }

    /// StartExecution up to recording the execution (or an answer without one: EXPRESS,
    /// or the same execution already running).
    fn begin_execution(&self, request: &Request) -> Result<Begun, ApiError> {
        let start = self.start_request(request)?;
        if start.revision.machine_type == MachineType::Express {
            let started = self.now();
            let arn = self.start_express(start, None)?;
            return Ok(Begun::Answered(json!({"executionArn": arn, "startDate": seconds(started)})));
        }
        let Start { machine, revision, origin, definition, name, input, test_case } = start;
        let engine = self.engine(&machine.name, test_case.as_deref())?;
        let arn = engine.execution_arn(&machine.name, &name);
        if let Some(existing) = self.store.execution(&arn)? {
            // StartExecution is idempotent while the same execution runs.
            if existing.status == ExecutionStatus::Running && existing.input == input {
                return Ok(Begun::Answered(json!({"executionArn": arn, "startDate": seconds(existing.start_millis)})));
            }
            return Err(ApiError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'")));
        }
        let start = StartRequest {
            state_machine_name: machine.name.clone(),
            definition: revision.definition.clone(),
            execution_name: name,
            input,
            seed: sfnlite_engine::entropy::os_seed(),
            virtual_clock: self.clock.is_virtual(),
            origin,
        };
        let record = engine.start(start).map_err(ApiError::internal)?;
        let response = json!({"executionArn": record.arn, "startDate": seconds(record.start_millis)});
        Ok(Begun::Ready { engine: Box::new(engine), machine: Box::new(definition), record: Box::new(record), response })
    }

    pub(super) fn describe_execution(&self, request: &Request) -> Result<Value, ApiError> {
        let record = self.record(request.required("executionArn")?)?;
        let metadata_only = request.string("includedData")? == Some("METADATA_ONLY");
        let mut out = list_item(&record);
        if !metadata_only {
            out["input"] = json!(record.input.to_string());
            out["inputDetails"] = json!({"included": true});
            if let Some(output) = &record.output {
                out["output"] = json!(output.to_string());
                out["outputDetails"] = json!({"included": true});
            }
        }
        for (key, value) in [("error", &record.error), ("cause", &record.cause)] {
            if let Some(value) = value {
                out[key] = json!(value);
            }
        }
        let (status, reason) = match (&record.origin.map_run, record.status) {
            (Some(_), ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted) => {
                ("REDRIVABLE_BY_MAP_RUN", None)
            }
            _ => redrive_status(record.status),
        };
        out["redriveStatus"] = json!(status);
        if let Some(reason) = reason {
            out["redriveStatusReason"] = json!(reason);
        }
        Ok(out)
    }

    pub(super) fn describe_machine_for_execution(&self, request: &Request) -> Result<Value, ApiError> {
        let record = self.record(request.required("executionArn")?)?;
        let stored = self.store.state_machine(&record.definition_hash)?;
        let definition = stored.map(|s| s.definition).unwrap_or_default();
        let machine = Documents(self.store.as_ref()).get::<StateMachine>(&record.state_machine_arn)?;
        let mut out = json!({
            "stateMachineArn": record.state_machine_arn,
            "name": record.state_machine_name,
            "definition": &definition,
            "roleArn": record.origin.role_arn.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:role/sfnlite", sfnlite_engine::ACCOUNT_ID)),
            "updateDate": seconds(machine.as_ref().map_or(record.start_millis, |m| m.update_date.unwrap_or(m.creation_date))),
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
            "tracingConfiguration": {"enabled": false},
        });
        if let Some(machine) = machine {
            out["loggingConfiguration"] = machine.revision.logging_configuration.clone();
            out["tracingConfiguration"] = machine.revision.tracing_configuration.clone();
            if let Some(id) = &machine.revision.revision_id {
                out["revisionId"] = json!(id);
            }
        }
        super::machines::add_variable_references(&mut out, &definition);
        for (key, value) in
            [("stateMachineVersionArn", &record.origin.version_arn), ("stateMachineAliasArn", &record.origin.alias_arn)]
        {
            if let Some(value) = value {
                out[key] = json!(value);
            }
        }
        Ok(out)
    }

    pub(super) fn list_executions(&self, request: &Request) -> Result<Value, ApiError> {
        let max = request.max_results(1000, 100)?;
        let token = request.next_token(3096)?;
        let status = match request.string("statusFilter")? {
            None => None,
            Some(text) => Some(ExecutionStatus::parse(text).filter(|s| s.as_str() == text).ok_or_else(|| {
                ApiError::constraint(text, "statusFilter", &format!("Member must satisfy enum value set: {STATUSES}"))
            })?),
        };
        let given = request.string("stateMachineArn")?;
        let map_run = request.string("mapRunArn")?;
        if given.is_some() && map_run.is_some() {
            return Err(ApiError::validation("Only one of stateMachineArn and mapRunArn can be given"));
        }
        let target = given.map(arn::machine).transpose()?;
        let mut records: Vec<ExecutionRecord> = self.store.execution_summaries()?;
        if let Some(map_run) = map_run {
            if self.store.document(sfnlite_engine::MAP_RUN_KIND, map_run)?.is_none() {
                return Err(ApiError::resource_not_found(format!("Map Run Does Not Exist: '{map_run}'")));
            }
            records.retain(|r| r.origin.map_run.as_deref() == Some(map_run));
        }
        if let Some(target) = &target {
            records.retain(|r| r.state_machine_arn == target.machine_arn());
            let machine = Documents(self.store.as_ref()).get::<StateMachine>(target.machine_arn())?;
            if machine.as_ref().is_some_and(|m| m.revision.machine_type == MachineType::Express) {
                return Err(ApiError::new(
                    "StateMachineTypeNotSupported",
                    "This operation is not supported by this type of state machine",
                ));
            }
            if records.is_empty() && machine.is_none() {
                return Err(ApiError::no_state_machine(target.machine_arn()));
            }
            match target {
                MachineRef::Version { arn, .. } => records.retain(|r| r.origin.version_arn.as_deref() == Some(arn)),
                MachineRef::Alias { arn, .. } => records.retain(|r| r.origin.alias_arn.as_deref() == Some(arn)),
                MachineRef::Machine { .. } => {}
            }
        }
        records.retain(|r| status.is_none_or(|s| r.status == s));
        records.sort_by(|a, b| b.start_millis.cmp(&a.start_millis).then(b.arn.cmp(&a.arn)));
        let scope = format!("ListExecutions {}{} {:?}", given.unwrap_or(""), map_run.unwrap_or(""), status);
        let (records, next) =
            page(records, max, token, &scope, |r| format!("{}{}", newest_first(r.start_millis), r.arn))?;
        Ok(listing("executions", records.iter().map(list_item).collect::<Vec<_>>(), next))
    }

    /// An execution's whole history in GetExecutionHistory's event shape, read once (the
    /// console's page; paging through the API would read the history once per page), and
    /// whether it runs on the virtual clock.
    pub(crate) fn whole_history(&self, arn: &str) -> Result<(Vec<Value>, bool), ApiError> {
        let record = self.record(arn)?;
        let events = self.store.events(arn)?;
        Ok((events.iter().map(|e| api_event(e, true)).collect(), record.virtual_clock))
    }

    pub(super) fn get_execution_history(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = request.required("executionArn")?;
        let max = request.max_results(1000, 100)?;
        let token = request.next_token(1024)?;
        let reverse = request.boolean("reverseOrder")?.unwrap_or(false);
        let include_data = request.boolean("includeExecutionData")?.unwrap_or(true);
        self.record(arn)?;
        let mut events = self.store.events(arn)?;
        if reverse {
            events.reverse();
        }
        let (events, next) = page(events, max, token, &format!("GetExecutionHistory {arn} {reverse}"), |e| {
            if reverse { newest_first(e.id as i64) } else { oldest_first(e.id as i64) }
        })?;
        Ok(listing("events", events.iter().map(|e| api_event(e, include_data)).collect::<Vec<_>>(), next))
    }

    pub(super) async fn stop_execution(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = request.required("executionArn")?;
        let stop = StopRequest {
            error: request.string("error")?.map(str::to_owned),
            cause: request.string("cause")?.map(str::to_owned),
        };
        let record = self.record(arn)?;
        if let (Some(map_run), ExecutionStatus::Running) = (&record.origin.map_run, record.status) {
            // Its parent runs it: stopping the child alone would race the parent.
            return Err(ApiError::validation(format!(
                "{arn} is a child execution of the Map Run {map_run}: stop its parent execution"
            )));
        }
        if let Some(mut done) = self.executor.stop(arn, stop.clone()).or_else(|| self.local.stop(arn, stop.clone())) {
            let _ = tokio::time::timeout(Duration::from_secs(30), done.wait_for(|d| *d)).await;
        } else if record.status == ExecutionStatus::Running {
            // No process runs it (its server died and it was not resumed): end it here.
            let engine = self.engine(&record.state_machine_name, None)?;
            match engine.abort_orphan(arn, stop) {
                Ok(_) | Err(EngineError::AlreadyEnded { .. }) => {}
                Err(e) => return Err(ApiError::internal(e)),
            }
        }
        let record = self.record(arn)?;
        Ok(json!({"stopDate": seconds(record.stop_millis.unwrap_or_else(|| self.now()))}))
    }

    pub(super) fn redrive_execution(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = request.required("executionArn")?;
        let record = self.record(arn)?;
        if self.executor.is_running(arn) {
            return Err(ApiError::new("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven"));
        }
        let engine = self.engine(&record.state_machine_name, record.origin.test_case.as_deref())?;
        let prepared = engine.prepare_redrive(arn).map_err(|e| match e {
            EngineError::NotRedrivable { status, .. } => {
                ApiError::new("ExecutionNotRedrivable", format!("Execution is {status} and cannot be redriven"))
            }
            e @ EngineError::MapRunChild { .. } => ApiError::new("ExecutionNotRedrivable", e.to_string()),
            EngineError::ExpressNotRedrivable { .. } => {
                ApiError::new("ExecutionNotRedrivable", "Express executions cannot be redriven")
            }
            EngineError::HistoryLimitNotRedrivable { .. } => {
                ApiError::new("ExecutionNotRedrivable", "Execution history event limit exceeded.")
            }
            other => ApiError::internal(other),
        })?;
        let redrive_date = seconds(prepared.redrive_millis());
        self.executor.submit(Job::Redrive { engine, prepared: Box::new(prepared) });
        Ok(json!({"redriveDate": redrive_date}))
    }

    /// Resumes every execution the store holds RUNNING (a previous server died): they go on
    /// where their histories stopped. Returns how many.
    pub fn resume_running(&self) -> Result<usize, ApiError> {
        let running: Vec<ExecutionRecord> = self
            .store
            .executions()?
            .into_iter()
            // Executions the server started, and `run`'s that no mock answered (a MockConfigFile
            // of the command line is not the server's).
            // A Map Run's children are resumed by their parent.
            .filter(|r| r.status == ExecutionStatus::Running && !r.virtual_clock && r.origin.map_run.is_none())
            .filter(|r| r.origin.api || r.origin.test_case.is_none())
            .filter(|r| !self.executor.is_running(&r.arn))
            .collect();
        for record in &running {
            let engine = self.engine(&record.state_machine_name, record.origin.test_case.as_deref())?;
            self.executor.submit(Job::Resume { engine, arn: record.arn.clone() });
        }
        Ok(running.len())
    }
}

/// A StartExecution request, read.
struct Start {
    machine: StateMachine,
    revision: Revision,
    origin: ExecutionOrigin,
    definition: sfnlite_states::StateMachine,
    name: String,
    input: Value,
    test_case: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_json_within_aws_quota() {
        assert_eq!(parse_input(Some(r#"{"a":1}"#)).unwrap(), serde_json::json!({"a": 1}));
        assert!(parse_input(Some("")).is_err());
        let big = format!("\"{}\"", "a".repeat(262_143));
        let refused = parse_input(Some(&big)).unwrap_err();
        assert!(format!("{refused:?}").contains("Member must have length less than or equal to 262144"), "{refused:?}");
        assert!(parse_input(Some(&format!("\"{}\"", "a".repeat(262_142)))).is_ok(), "262,144 bytes are accepted");
    }
}
