//! Reading the store: `executions list`, `describe`, `history`. Data on stdout.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{Map, Value, json};
use sfnlite_engine::{ExecutionRecord, ExecutionStatus, HistoryStore, StoreError, find_execution, history_json};
use sfnlite_states::history::{EventDetails, HistoryEvent};
use sfnlite_states::timestamp::format_millis;

use super::Failure;
use super::setup::store_failure;
use crate::args::{DescribeArgs, HistoryArgs, HistoryFormat, ListArgs, LogsArgs, RunFormat, TableFormat};

/// What a reading command prints: kept, so that the process holding a store can answer
/// for another (`sfnlite history` while `run` or `serve` holds the store).
#[derive(Default)]
pub(crate) struct Io {
    pub(crate) out: Vec<u8>,
    pub(crate) err: Vec<u8>,
}

macro_rules! outln {
    ($io:expr, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($io.out, $($arg)*);
    }};
}

macro_rules! errln {
    ($io:expr, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($io.err, $($arg)*);
    }};
}

pub(crate) fn list(args: ListArgs, store: &dyn HistoryStore, io: &mut Io) -> Result<ExitCode, Failure> {
    let status = match &args.status {
        Some(text) => Some(ExecutionStatus::parse(text).ok_or_else(|| {
            Failure::usage(anyhow!("--status {text}: expected RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"))
        })?),
        None => None,
    };
    let mut executions: Vec<ExecutionRecord> = store
        .execution_summaries()
        .map_err(store_failure)?
        .into_iter()
        .filter(|e| status.is_none_or(|s| e.status == s))
        .filter(|e| args.state_machine.as_ref().is_none_or(|m| &e.state_machine_name == m))
        .collect();
    if let Some(limit) = args.limit {
        let skip = executions.len().saturating_sub(limit);
        executions.drain(..skip);
    }
    match args.format {
        TableFormat::Json => {
            let items: Vec<Value> = executions
                .iter()
                .map(|e| {
                    let mut item = json!({
                        "executionArn": e.arn,
                        "stateMachineArn": e.state_machine_arn,
                        "name": e.name,
                        "status": e.status.as_str(),
                        "startDate": format_millis(e.start_millis),
                    });
                    if let Some(stop) = e.stop_millis {
                        item["stopDate"] = json!(format_millis(stop));
                    }
                    item
                })
                .collect();
            outln!(io, "{}", serde_json::to_string_pretty(&json!({"executions": items})).unwrap_or_default());
        }
        TableFormat::Table => {
            outln!(io, "{:<38} {:<20} {:<10} {:<24} {:>10}", "NAME", "STATE MACHINE", "STATUS", "STARTED", "DURATION");
            for e in &executions {
                let duration = e.stop_millis.map_or_else(|| "-".to_owned(), |stop| seconds(stop - e.start_millis));
                outln!(
                    io,
                    "{:<38} {:<20} {:<10} {:<24} {:>10}",
                    e.name,
                    e.state_machine_name,
                    e.status.as_str(),
                    format_millis(e.start_millis),
                    duration
                );
            }
            errln!(io, "{} execution(s)", executions.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn seconds(millis: i64) -> String {
    format!("{:.3}s", millis as f64 / 1000.0)
}

fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn describe(args: DescribeArgs, store: &dyn HistoryStore, io: &mut Io) -> Result<ExitCode, Failure> {
    let e = find_execution(store, &args.execution).map_err(super::engine_failure)?;
    let mut fields = describe_json(&e);
    match args.format {
        RunFormat::Json => outln!(io, "{}", serde_json::to_string_pretty(&Value::Object(fields)).unwrap_or_default()),
        RunFormat::Text => {
            if let Some(parent) = started_by(store, &e.arn) {
                fields.insert("startedBy".into(), json!(parent));
            }
            for (key, value) in &fields {
                let shown = match value {
                    Value::String(s) => s.clone(),
                    other => text(other),
                };
                if !key.ends_with("Details") {
                    outln!(io, "{key:<16} {shown}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An execution as one self-contained HTML page (the console's, in file mode).
pub(crate) fn execution_page(e: &ExecutionRecord, events: &[HistoryEvent], definition: Option<&str>) -> String {
    use sfnlite_server::console::{Mode, Page, execution_data, page};
    let definition = definition.and_then(|text| serde_json::from_str::<Value>(text).ok()).unwrap_or(Value::Null);
    let mut json = history_json(events);
    let events = match json.get_mut("events").map(Value::take) {
        Some(Value::Array(events)) => events,
        _ => Vec::new(),
    };
    let data = execution_data(Mode::File, Value::Object(describe_json(e)), definition, events, e.virtual_clock);
    page(Page::Execution, &e.name, data)
}

/// AWS DescribeExecution's shape (input and output are JSON text), with ISO dates.
fn describe_json(e: &ExecutionRecord) -> Map<String, Value> {
    // AWS DescribeExecution: input and output are JSON text.
    let mut fields = Map::new();
    fields.insert("executionArn".into(), json!(e.arn));
    fields.insert("stateMachineArn".into(), json!(e.state_machine_arn));
    fields.insert("name".into(), json!(e.name));
    fields.insert("status".into(), json!(e.status.as_str()));
    fields.insert("startDate".into(), json!(format_millis(e.start_millis)));
    if let Some(stop) = e.stop_millis {
        fields.insert("stopDate".into(), json!(format_millis(stop)));
    }
    fields.insert("input".into(), json!(text(&e.input)));
    fields.insert("inputDetails".into(), json!({"included": true}));
    if let Some(output) = &e.output {
        fields.insert("output".into(), json!(text(output)));
        fields.insert("outputDetails".into(), json!({"included": true}));
    }
    if let Some(error) = &e.error {
        fields.insert("error".into(), json!(error));
    }
    if let Some(cause) = &e.cause {
        fields.insert("cause".into(), json!(cause));
    }
    fields.insert("redriveCount".into(), json!(e.redrive_count));
    fields
}

pub(crate) fn history(args: HistoryArgs, store: &dyn HistoryStore, io: &mut Io) -> Result<ExitCode, Failure> {
    let e = find_execution(store, &args.execution).map_err(super::engine_failure)?;
    // Those after `--after-id`, in order.
    let events = || -> Result<Vec<HistoryEvent>, Failure> {
        let mut events = store.events(&e.arn).map_err(store_failure)?;
        events.retain(|event| args.after_id.is_none_or(|after| event.id > after));
        Ok(events)
    };
    match args.format {
        HistoryFormat::Json => {
            // Newest first needs them all; in order they are written as they are read.
            let read = |each: &mut dyn FnMut(HistoryEvent)| match args.reverse {
                true => store.events(&e.arn).map(|events| events.into_iter().rev().for_each(each)),
                false => store.each_event(&e.arn, each),
            };
            history_json_streamed(read, args.after_id, &mut io.out).map_err(store_failure)?;
        }
        HistoryFormat::Html => {
            let definition = store.state_machine(&e.definition_hash).map_err(store_failure)?.map(|m| m.definition);
            outln!(io, "{}", execution_page(&e, &events()?, definition.as_deref()).trim_end());
        }
        HistoryFormat::Table => {
            let rows = timeline(&events()?, e.start_millis);
            if let Some(parent) = started_by(store, &e.arn) {
                outln!(io, "# started by {parent}");
            }
            outln!(io, "{:>5}  {:>10}  {:<28} {:<28} DETAIL", "ID", "TIME", "TYPE", "STATE");
            let ordered: Box<dyn Iterator<Item = &Row>> =
                if args.reverse { Box::new(rows.iter().rev()) } else { Box::new(rows.iter()) };
            for row in ordered {
                outln!(io, "{:>5}  {:>10}  {:<28} {:<28} {}", row.id, row.time, row.kind, row.state, row.detail);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes GetExecutionHistory's JSON to `out` as `read` hands over the events (those after
/// `after`): they are never all decoded at once (the text is). A read that fails half way
/// leaves `out` as it was, so no partial document comes before the error.
fn history_json_streamed(
    read: impl FnOnce(&mut dyn FnMut(HistoryEvent)) -> Result<(), StoreError>,
    after: Option<u64>,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let start = out.len();
    let mut writer = HistoryWriter::new(out);
    match read(&mut |event| writer.event(event, after)) {
        Ok(()) => {
            writer.end();
            Ok(())
        }
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// Writes GetExecutionHistory's JSON (`{"events": [...]}`, pretty-printed) an event at a
/// time, exactly as `serde_json::to_string_pretty` of the whole would.
struct HistoryWriter<'o> {
    out: &'o mut Vec<u8>,
    written: usize,
}

impl<'o> HistoryWriter<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.extend_from_slice(b"{\n  \"events\": [");
        HistoryWriter { out, written: 0 }
    }

    /// Writes `event` unless its id is at most `after`.
    fn event(&mut self, event: HistoryEvent, after: Option<u64>) {
        if after.is_some_and(|after| event.id <= after) {
            return;
        }
        let text = serde_json::to_string_pretty(&event.to_json()).unwrap_or_default();
        self.out.extend_from_slice(if self.written == 0 { b"\n" } else { b",\n" });
        // The event's lines, indented under the array (a JSON text has no raw newline in a
        // string, so its lines are its structure's).
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.out.push(b'\n');
            }
            self.out.extend_from_slice(b"    ");
            self.out.extend_from_slice(line.as_bytes());
        }
        self.written += 1;
    }

    fn end(self) {
        self.out.extend_from_slice(if self.written == 0 { b"]\n}\n" } else { b"\n  ]\n}\n" });
    }
}

/// The execution and state that started `arn` (a nested `states:startExecution`), if any.
fn started_by(store: &dyn HistoryStore, arn: &str) -> Option<String> {
    let link = store.document(sfnlite_server::PARENT_KIND, arn).ok().flatten()?;
    Some(format!("{} (state '{}')", link["parentArn"].as_str()?, link["stateName"].as_str().unwrap_or("?")))
}

/// `sfnlite logs EXEC`: each Lambda invocation's log (START, the handler's lines, END,
/// REPORT), in event order, headed by the state and the function.
pub(crate) fn logs(args: LogsArgs, store: &dyn HistoryStore, io: &mut Io) -> Result<ExitCode, Failure> {
    let e = find_execution(store, &args.execution).map_err(super::engine_failure)?;
    let prefix = sfnlite_adapters::log_key(&e.arn, 0);
    let prefix = &prefix[..prefix.len() - 12];
    let invocations: Vec<Value> = store
        .documents_with_prefix(sfnlite_adapters::LOG_KIND, prefix)
        .map_err(store_failure)?
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| args.state.as_deref().is_none_or(|s| v["stateName"] == s))
        .collect();
    if let Some(state) = &args.state
        && invocations.is_empty()
    {
        errln!(io, "sfnlite: no Lambda invocation of state '{state}' in {}", e.name);
    }
    match args.format {
        RunFormat::Json => {
            for invocation in &invocations {
                outln!(io, "{invocation}");
            }
        }
        RunFormat::Text => {
            for invocation in &invocations {
                outln!(
                    io,
                    "== {} (event {}) · function {}",
                    invocation["stateName"].as_str().unwrap_or("?"),
                    invocation["eventId"],
                    invocation["functionName"].as_str().unwrap_or("?")
                );
                for line in invocation["lines"].as_array().into_iter().flatten() {
                    outln!(io, "{}", line.as_str().unwrap_or_default());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

struct Row {
    id: u64,
    time: String,
    kind: String,
    state: String,
    detail: String,
}

/// One row per event: the state each event belongs to (inherited along previousEventId),
/// the attempt number of task schedules, Map iteration indexes, errors.
fn timeline(events: &[HistoryEvent], start: i64) -> Vec<Row> {
    let mut state_of: HashMap<u64, String> = HashMap::new();
    let mut attempt_of: HashMap<u64, u32> = HashMap::new();
    let short = |s: &str| {
        if s.chars().count() > 80 { format!("{}…", s.chars().take(79).collect::<String>()) } else { s.to_owned() }
    };
    events
        .iter()
        .map(|event| {
            let inherited = state_of.get(&event.previous_event_id).cloned().unwrap_or_default();
            let previous_attempt = attempt_of.get(&event.previous_event_id).copied().unwrap_or(0);
            let (state, attempt) = match &event.details {
                EventDetails::StateEntered { name, .. } => (name.to_string(), 0),
                EventDetails::TaskScheduled { .. } | EventDetails::LambdaFunctionScheduled { .. } => {
                    (inherited, previous_attempt + 1)
                }
                _ => (inherited, previous_attempt),
            };
            let detail = match &event.details {
                EventDetails::TaskScheduled { resource, .. } => {
                    let retry = if attempt > 1 { format!(" (attempt {attempt})") } else { String::new() };
                    format!("{}:{}{retry}", resource.resource_type, resource.resource)
                }
                EventDetails::LambdaFunctionScheduled { resource, .. } => {
                    let retry = if attempt > 1 { format!(" (attempt {attempt})") } else { String::new() };
                    format!("{resource}{retry}")
                }
                EventDetails::MapStateStarted { length } => format!("{length} item(s)"),
                EventDetails::MapRunStarted { map_run_arn } => map_run_arn.clone(),
                EventDetails::MapIterationStarted { index, .. }
                | EventDetails::MapIterationSucceeded { index, .. }
                | EventDetails::MapIterationFailed { index, .. }
                | EventDetails::MapIterationAborted { index, .. } => format!("iteration {index}"),
                EventDetails::TaskFailed { error, cause, .. }
                | EventDetails::TaskTimedOut { error, cause, .. }
                | EventDetails::LambdaFunctionFailed { error, cause }
                | EventDetails::LambdaFunctionTimedOut { error, cause }
                | EventDetails::ExecutionFailed { error, cause }
                | EventDetails::ExecutionTimedOut { error, cause }
                | EventDetails::ExecutionAborted { error, cause }
                | EventDetails::MapRunFailed { error, cause } => short(&format!(
                    "{}{}",
                    error.as_deref().unwrap_or(""),
                    cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
                )),
                EventDetails::StateExited { output, .. } | EventDetails::ExecutionSucceeded { output } => {
                    short(&text(output))
                }
                EventDetails::StateEntered { input, .. } | EventDetails::ExecutionStarted { input, .. } => {
                    short(&text(input))
                }
                _ => String::new(),
            };
            state_of.insert(event.id, state.clone());
            attempt_of.insert(event.id, attempt);
            Row {
                id: event.id,
                time: format!("+{}", seconds(event.timestamp - start)),
                kind: event.details.type_name(),
                state,
                detail,
            }
        })
        .collect()
}

/// `map-runs list EXEC` and `map-runs describe ARN`: the Map Runs the engine recorded.
pub(crate) fn map_runs(
    command: crate::args::MapRunsCommand,
    store: &dyn HistoryStore,
    io: &mut Io,
) -> Result<ExitCode, Failure> {
    use crate::args::MapRunsCommand;
    let runs = store.documents(sfnlite_engine::MAP_RUN_KIND).map_err(store_failure)?;
    // Dates as ISO 8601, as the other JSON views print them.
    let readable = |mut run: Value| {
        for key in ["startDate", "stopDate"] {
            if let Some(millis) = run.get(key).and_then(Value::as_i64) {
                run[key] = json!(format_millis(millis));
            }
        }
        run
    };
    match command {
        MapRunsCommand::List { execution, format } => {
            let record = find_execution(store, &execution).map_err(super::engine_failure)?;
            let mut mine: Vec<Value> =
                runs.into_iter().map(|(_, run)| run).filter(|run| run["executionArn"] == record.arn).collect();
            mine.sort_by_key(|run| run["startDate"].as_i64().unwrap_or(0));
            match format {
                TableFormat::Json => {
                    let items: Vec<Value> = mine.into_iter().map(readable).collect();
                    outln!(io, "{}", serde_json::to_string_pretty(&json!({ "mapRuns": items })).unwrap_or_default());
                }
                TableFormat::Table => {
                    outln!(
                        io,
                        "{:<10} {:>9} {:>9} {:>9} {:>9}  MAP RUN",
                        "STATUS",
                        "ITEMS",
                        "SUCCEEDED",
                        "FAILED",
                        "ABORTED"
                    );
                    for run in &mine {
                        let count = |key: &str| run["itemCounts"][key].as_u64().unwrap_or(0);
                        outln!(
                            io,
                            "{:<10} {:>9} {:>9} {:>9} {:>9}  {}",
                            run["status"].as_str().unwrap_or_default(),
                            count("total"),
                            count("succeeded"),
                            count("failed") + count("timedOut"),
                            count("aborted"),
                            run["mapRunArn"].as_str().unwrap_or_default()
                        );
                    }
                    outln!(io, "{} map run(s)", mine.len());
                }
            }
        }
        MapRunsCommand::Describe { map_run } => {
            let found: Vec<Value> = runs
                .into_iter()
                .filter(|(arn, _)| *arn == map_run || arn.rsplit(':').next() == Some(map_run.as_str()))
                .map(|(_, run)| run)
                .collect();
            let [run] = found.as_slice() else {
                return Err(Failure::usage(anyhow!(
                    "no Map Run '{map_run}' (sfnlite map-runs list EXECUTION shows them)"
                )));
            };
            outln!(io, "{}", serde_json::to_string_pretty(&readable(run.clone())).unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use sfnlite_states::history::{EventDetails, HistoryEvent, Payload, StateType};

    use super::*;

    fn events() -> Vec<HistoryEvent> {
        let input = Payload::new(json!({"a": [1, {"b": "line\nbreak"}], "e": {}, "f": []}));
        let mut events: Vec<HistoryEvent> = (1..=3)
            .map(|id| HistoryEvent {
                id,
                previous_event_id: id - 1,
                timestamp: 1_700_000_000_000 + id as i64,
                details: EventDetails::StateEntered {
                    state_type: StateType::Pass,
                    name: "S".into(),
                    input: input.clone(),
                },
            })
            .collect();
        // A raw newline in a string, and details that are an empty object.
        let failed = [(Some("a\nb".to_owned()), Some("c\r\n\"d\"".to_owned())), (None, None)];
        for (i, (error, cause)) in failed.into_iter().enumerate() {
            let id = 4 + i as u64;
            let details = EventDetails::ExecutionFailed { error, cause };
            events.push(HistoryEvent { id, previous_event_id: id - 1, timestamp: 1_700_000_000_100, details });
        }
        events
    }

    #[test]
    fn the_history_written_event_by_event_is_the_whole_pretty_printed() {
        for (all, after) in [(events(), None), (events(), Some(1)), (events(), Some(3)), (Vec::new(), None)] {
            let expected: Vec<HistoryEvent> = all.iter().filter(|e| after.is_none_or(|a| e.id > a)).cloned().collect();
            let expected = format!("{}\n", serde_json::to_string_pretty(&history_json(&expected)).unwrap());
            let mut out = Vec::new();
            let mut writer = HistoryWriter::new(&mut out);
            for event in all {
                writer.event(event, after);
            }
            writer.end();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn a_history_that_fails_half_way_leaves_no_partial_document() {
        let mut out = b"before\n".to_vec();
        let failing = |each: &mut dyn FnMut(HistoryEvent)| {
            events().into_iter().take(2).for_each(&mut *each);
            Err(StoreError::Corrupt { key: "k".into(), message: "damaged".into() })
        };
        assert!(history_json_streamed(failing, None, &mut out).is_err());
        assert_eq!(out, b"before\n");
        let whole = |each: &mut dyn FnMut(HistoryEvent)| {
            events().into_iter().for_each(&mut *each);
            Ok(())
        };
        let mut out = Vec::new();
        history_json_streamed(whole, None, &mut out).unwrap();
        assert_eq!(out, format!("{}\n", serde_json::to_string_pretty(&history_json(&events())).unwrap()).into_bytes());
    }
}
