//! The ASL definition model, and the reader that builds it from JSON while collecting
//! every problem as a [`Diagnostic`](crate::diagnostic::Diagnostic).
//!
//! Field names are ASL's. Illegal combinations are unrepresentable: `Next`/`End` is a
//! [`Transition`], `ResultPath` is a [`ResultPath`] (absent, `null` and a path differ),
//! and the Wait duration is one [`WaitFor`].

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::choice::ChoiceRule;
use crate::diagnostic::{DiagnosticCode, Diagnostics, child};
use crate::error::{ErrorMatcher, ErrorName};
use crate::jsonata;
use crate::path::{Path, ReferencePath, Root};
use crate::resource::Resource;
use crate::template::{Field, Template, compile_dynamic};

/// Index of a state inside its [`StateMachine`].
pub type StateId = usize;

/// A state machine: the top level, a Parallel branch, or a Map's ItemProcessor.
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// `Comment`.
    pub comment: Option<String>,
    /// `StartAt`, resolved.
    pub start_at: StateId,
    /// `States`, in definition order.
    pub states: Vec<State>,
    /// Name → index.
    pub index: HashMap<String, StateId>,
    /// `TimeoutSeconds` (top level only).
    pub timeout_seconds: Option<u64>,
    /// `Version` (top level only).
    pub version: Option<String>,
    /// `QueryLanguage`.
    pub query_language: QueryLanguage,
}

impl StateMachine {
    /// The state with this name.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.index.get(name).map(|&i| &self.states[i])
    }
}

/// `QueryLanguage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    /// `JSONPath` (the default).
    JsonPath,
    /// `JSONata`.
    Jsonata,
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    /// The state's name (its key in `States`), shared with the events that name it.
    pub name: Arc<str>,
    /// `Comment`.
    pub comment: Option<String>,
    /// `InputPath` (not on Fail).
    pub input_path: PathField,
    /// `OutputPath` (not on Fail).
    pub output_path: PathField,
    /// True when a field of the state reads the context object `$$`,
    /// so the runtime builds it only when needed.
    pub uses_context: bool,
    /// The JSONata fields, when the state's query language is JSONata.
    pub jsonata: Option<Box<JsonataFields>>,
    /// The type-specific fields.
    pub kind: StateKind,
}

/// The fields a JSONata state (or Choice rule, or Catcher) evaluates with `$states`.
#[derive(Debug, Clone, Default)]
pub struct JsonataFields {
    /// `Arguments` (Task, Parallel): the task's or branches' input; default `$states.input`.
    pub arguments: Option<jsonata::Template>,
    /// `Output`: the state's output; default the result (or the input where there is none).
    pub output: Option<jsonata::Template>,
    /// `Assign`: variables set when the state ends.
    pub assign: Option<jsonata::Template>,
    /// `Items` (Map): the array to iterate; default `$states.input`.
    pub items: Option<jsonata::Template>,
    /// `ItemSelector` (Map): each iteration's input, with `$states.context.Map.Item`.
    pub item_selector: Option<jsonata::Template>,
}

/// `InputPath` or `OutputPath`.
#[derive(Debug, Clone)]
pub enum PathField {
    /// Absent: `$`, the value passes unchanged.
    Default,
    /// `null`: the value becomes `{}`.
    Null,
    /// A path.
    Path(Path),
}

/// `ResultPath`.
#[derive(Debug, Clone)]
pub enum ResultPath {
    /// Absent: the result replaces the input (`$`).
    Default,
    /// `null`: the result is discarded and the input passes on.
    Discard,
    /// A reference path: the result is written there, into the input.
    Path(ReferencePath),
}

/// `Next` or `End`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `Next`, resolved.
    Next(StateId),
    /// `"End": true`.
    End,
}

/// The fields that differ between state types.
#[derive(Debug, Clone)]
pub enum StateKind {
    /// `Pass`.
    Pass(PassState),
    /// `Task`.
    Task(Box<TaskState>),
    /// `Choice`.
    Choice(ChoiceState),
    /// `Wait`.
    Wait(WaitState),
    /// `Succeed`.
    Succeed,
    /// `Fail`.
    Fail(FailState),
    /// `Parallel`.
    Parallel(Box<ParallelState>),
    /// `Map`.
    Map(Box<MapState>),
}

/// The eight state types, as history events name them (`TaskStateEntered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub enum StateType {
    Pass,
    Task,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    /// The ASL `Type` name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

impl StateKind {
    /// What a Task, Parallel or Map does with its result or error.
    pub fn result_handling(&self) -> Option<&ResultHandling> {
        match self {
            StateKind::Task(t) => Some(&t.handling),
            StateKind::Parallel(p) => Some(&p.handling),
            StateKind::Map(m) => Some(&m.handling),
            _ => None,
        }
    }

    /// The state's type.
    pub fn state_type(&self) -> StateType {
        match self {
            StateKind::Pass(_) => StateType::Pass,
            StateKind::Task(_) => StateType::Task,
            StateKind::Choice(_) => StateType::Choice,
            StateKind::Wait(_) => StateType::Wait,
            StateKind::Succeed => StateType::Succeed,
            StateKind::Fail(_) => StateType::Fail,
            StateKind::Parallel(_) => StateType::Parallel,
            StateKind::Map(_) => StateType::Map,
        }
    }

    /// The ASL `Type` name.
    pub fn type_name(&self) -> &'static str {
        self.state_type().as_str()
    }
}

/// `Pass`.
#[derive(Debug, Clone)]
pub struct PassState {
    /// `Parameters`.
    pub parameters: Option<Template>,
    /// `Result`.
    pub result: Option<Value>,
    /// `ResultPath`.
    pub result_path: ResultPath,
    /// `Assign`: workflow variables set when the state ends.
    pub assign: Option<Template>,
    /// `Next` / `End`.
    pub transition: Transition,
}

/// `TimeoutSeconds` / `TimeoutSecondsPath` (and the heartbeat): a literal, a path, or a
/// JSONata expression.
pub type Seconds = Count<u64>;

/// `Task`.
#[derive(Debug, Clone)]
pub struct TaskState {
    /// `Resource`, parsed.
    pub resource: Arc<Resource>,
    /// `Parameters`.
    pub parameters: Option<Template>,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout: Option<Seconds>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat: Option<Seconds>,
    /// `Credentials`.
    pub credentials: Option<Template>,
    /// ResultSelector, ResultPath, Assign, Retry, Catch, Next/End.
    pub handling: ResultHandling,
}

/// What Task, Parallel and Map do with their result or their error.
#[derive(Debug, Clone)]
pub struct ResultHandling {
    /// `ResultSelector`.
    pub result_selector: Option<Template>,
    /// `ResultPath`.
    pub result_path: ResultPath,
    /// `Assign`: workflow variables set when the state ends.
    pub assign: Option<Template>,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
    /// `Next` / `End`.
    pub transition: Transition,
}

/// What a Choice rule tests.
#[derive(Debug, Clone)]
pub enum ChoiceTest {
    /// A JSONPath rule (comparison operators, And, Or, Not).
    Rule(ChoiceRule),
    /// A JSONata `Condition`.
    Condition(jsonata::Template),
}

/// One element of `Choices`.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The rule.
    pub rule: ChoiceTest,
    /// JSONata `Output` and `Assign` of this rule.
    pub jsonata: Option<Box<JsonataFields>>,
    /// `Next`, resolved.
    pub next: StateId,
    /// `Assign` of this rule, applied when it matches.
    pub assign: Option<Template>,
}

/// `Choice`.
#[derive(Debug, Clone)]
pub struct ChoiceState {
    /// `Choices`.
    pub choices: Vec<Choice>,
    /// `Default`, resolved.
    pub default: Option<StateId>,
    /// `Assign`: workflow variables set when the state ends.
    pub assign: Option<Template>,
}

/// What a Wait state waits for.
#[derive(Debug, Clone)]
pub enum WaitFor {
    /// `Seconds`.
    Seconds(u64),
    /// `SecondsPath`.
    SecondsPath(Path),
    /// `Timestamp` (epoch nanoseconds, and the text as written).
    Timestamp(i128, String),
    /// `TimestampPath`.
    TimestampPath(Path),
    /// JSONata `Seconds`.
    SecondsExpr(jsonata::Template),
    /// JSONata `Timestamp`.
    TimestampExpr(jsonata::Template),
}

/// `Wait`.
#[derive(Debug, Clone)]
pub struct WaitState {
    /// The duration or deadline.
    pub wait_for: WaitFor,
    /// `Assign`: workflow variables set when the state ends.
    pub assign: Option<Template>,
    /// `Next` / `End`.
    pub transition: Transition,
}

/// A value given literally or read from the input (`Error` / `ErrorPath`, `Cause` / `CausePath`).
#[derive(Debug, Clone)]
pub enum TextField {
    /// A literal string.
    Literal(String),
    /// A path (or an intrinsic function) evaluated against the input.
    Dynamic(Field),
    /// A JSONata expression.
    Jsonata(jsonata::Template),
}

/// `Fail`.
#[derive(Debug, Clone)]
pub struct FailState {
    /// `Error` / `ErrorPath`.
    pub error: Option<TextField>,
    /// `Cause` / `CausePath`.
    pub cause: Option<TextField>,
}

/// `Parallel`.
#[derive(Debug, Clone)]
pub struct ParallelState {
    /// `Branches`.
    pub branches: Vec<StateMachine>,
    /// `Parameters`.
    pub parameters: Option<Template>,
    /// ResultSelector, ResultPath, Assign, Retry, Catch, Next/End.
    pub handling: ResultHandling,
}

/// `ProcessorConfig.Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorMode {
    /// `INLINE` (the default).
    Inline,
    /// `DISTRIBUTED`.
    Distributed,
}

/// A count given literally or read from the input at run time.
#[derive(Debug, Clone)]
pub enum Count<T> {
    /// A literal.
    Literal(T),
    /// A reference path.
    Path(Path),
    /// A JSONata expression.
    Jsonata(jsonata::Template),
}

/// A template in the state's query language: JSONPath (`Parameters`, `.$` fields) or
/// JSONata (`Arguments`, `{% %}`).
#[derive(Debug, Clone)]
pub enum AnyTemplate {
    /// A JSONPath payload template.
    JsonPath(Template),
    /// A JSONata template.
    Jsonata(jsonata::Template),
}

impl AnyTemplate {
    /// True when the template reads the context object.
    pub fn uses_context(&self) -> bool {
        match self {
            AnyTemplate::JsonPath(t) => t.uses_context(),
            AnyTemplate::Jsonata(t) => t.uses_context(),
        }
    }
}

/// Where a distributed Map reads its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderResource {
    /// `arn:aws:states:::s3:getObject`: one object's contents.
    GetObject,
    /// `arn:aws:states:::s3:listObjectsV2`: the objects under a prefix.
    ListObjectsV2,
}

/// `ReaderConfig.InputType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// `CSV`.
    Csv,
    /// `JSON`: an array, or an object's values.
    Json,
    /// `JSONL`: one item per line.
    Jsonl,
    /// `MANIFEST`: an S3 inventory or Athena manifest.
    Manifest,
    /// `PARQUET`.
    Parquet,
}

/// `ReaderConfig.CSVHeaderLocation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvHeaders {
    /// `FIRST_ROW`.
    FirstRow,
    /// `GIVEN`, with `CSVHeaders`.
    Given(Vec<String>),
}

/// `ItemReader`.
#[derive(Debug, Clone)]
pub struct ItemReader {
    /// `Resource`.
    pub resource: ReaderResource,
    /// `Parameters` or `Arguments` (`Bucket`, `Key` or `Prefix`…).
    pub parameters: Option<AnyTemplate>,
    /// `ReaderConfig.InputType` (none for a listing).
    pub input_type: Option<InputType>,
    /// `ReaderConfig.CSVHeaderLocation` and `CSVHeaders`.
    pub csv_headers: CsvHeaders,
    /// `ReaderConfig.CSVDelimiter` (a comma by default).
    pub csv_delimiter: char,
    /// `ReaderConfig.MaxItems` / `MaxItemsPath`.
    pub max_items: Option<Count<u64>>,
    /// `ReaderConfig.ItemsPointer` (a JSON Pointer into a JSON file).
    pub items_pointer: Option<String>,
    /// `ReaderConfig.ManifestType` (`S3_INVENTORY`, `ATHENA_DATA`).
    pub manifest_type: Option<String>,
}

/// `ResultWriter.WriterConfig.Transformation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformation {
    /// Each child's record, with its metadata.
    None,
    /// The children's outputs only.
    Compact,
    /// The children's outputs, arrays concatenated.
    Flatten,
}

/// `ResultWriter`.
#[derive(Debug, Clone)]
pub struct ResultWriter {
    /// `Parameters` or `Arguments` (`Bucket`, `Prefix`), with `Resource`
    /// `arn:aws:states:::s3:putObject`: the results are exported to S3. Without them (a
    /// `WriterConfig` alone), the transformed results are the state's result.
    pub parameters: Option<AnyTemplate>,
    /// `WriterConfig.Transformation` (NONE when exporting without a WriterConfig).
    pub transformation: Transformation,
    /// `WriterConfig.OutputType` JSONL (else JSON).
    pub json_lines: bool,
}

/// `ItemBatcher`.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    /// `MaxItemsPerBatch` / `MaxItemsPerBatchPath`.
    pub max_items: Option<Count<u64>>,
    /// `MaxInputBytesPerBatch` / `MaxInputBytesPerBatchPath`.
    pub max_bytes: Option<Count<u64>>,
    /// `BatchInput`.
    pub batch_input: Option<AnyTemplate>,
}

/// `Map`.
#[derive(Debug, Clone)]
pub struct MapState {
    /// `ItemProcessor` (or the legacy `Iterator`).
    pub item_processor: StateMachine,
    /// `ItemProcessor.ProcessorConfig.Mode`.
    pub mode: ProcessorMode,
    /// `ItemProcessor.ProcessorConfig.ExecutionType` (distributed mode).
    pub execution_type: Option<String>,
    /// `ItemsPath` (absent: `$`).
    pub items_path: Option<Path>,
    /// `ItemSelector` (or the legacy `Parameters`).
    pub item_selector: Option<Template>,
    /// `ItemReader` (distributed mode).
    pub item_reader: Option<Box<ItemReader>>,
    /// `ItemBatcher` (distributed mode).
    pub item_batcher: Option<Box<ItemBatcher>>,
    /// `ResultWriter` (distributed mode).
    pub result_writer: Option<Box<ResultWriter>>,
    /// `MaxConcurrency` / `MaxConcurrencyPath` (0: no limit).
    pub max_concurrency: Count<u64>,
    /// `ToleratedFailureCount` / `ToleratedFailureCountPath`.
    pub tolerated_failure_count: Option<Count<u64>>,
    /// `ToleratedFailurePercentage` / `ToleratedFailurePercentagePath`.
    pub tolerated_failure_percentage: Option<Count<f64>>,
    /// `Label`.
    pub label: Option<String>,
    /// ResultSelector, ResultPath, Assign, Retry, Catch, Next/End.
    pub handling: ResultHandling,
}

/// `JitterStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterStrategy {
    /// `NONE` (the default).
    None,
    /// `FULL`: the delay is drawn uniformly from `[0, delay]`.
    Full,
}

/// One element of `Retry`.
#[derive(Debug, Clone)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<ErrorMatcher>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3; 0 never retries).
    pub max_attempts: u64,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy`.
    pub jitter_strategy: JitterStrategy,
}

impl Retrier {
    /// True when this retrier handles `error`.
    pub fn matches(&self, error: &ErrorName) -> bool {
        self.error_equals.iter().any(|m| m.matches(error))
    }

    /// The delay before retry number `attempt` (1-based), in milliseconds, before jitter:
    /// `IntervalSeconds × BackoffRate^(attempt-1)`, capped by `MaxDelaySeconds`.
    pub fn delay_millis(&self, attempt: u64) -> u64 {
        let exponent = attempt.saturating_sub(1).min(i32::MAX as u64) as i32;
        let mut seconds = self.interval_seconds as f64 * self.backoff_rate.powi(exponent);
        if let Some(max) = self.max_delay_seconds {
            seconds = seconds.min(max as f64);
        }
        (seconds * 1000.0).min(u64::MAX as f64 / 2.0) as u64
    }
}

/// One element of `Catch`.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<ErrorMatcher>,
    /// `Next`, resolved.
    pub next: StateId,
    /// `ResultPath` (absent: the error output replaces the input).
    pub result_path: ResultPath,
    /// `Assign`, evaluated against the error output.
    pub assign: Option<Template>,
    /// JSONata `Output` and `Assign`, with `$states.errorOutput`.
    pub jsonata: Option<Box<JsonataFields>>,
}

impl Catcher {
    /// True when this catcher handles `error`.
    pub fn matches(&self, error: &ErrorName) -> bool {
        self.error_equals.iter().any(|m| m.matches(error))
    }
}

/// Parses a definition from JSON text. Returns the model when there are no errors, and
/// every diagnostic (errors and warnings) in any case.
pub fn parse_definition(text: &str) -> (Option<StateMachine>, Vec<crate::diagnostic::Diagnostic>) {
    let mut diags = Diagnostics::default();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            diags.error(DiagnosticCode::InvalidJsonDescription, "/", {
                // serde_json ends its message with the place; say it once, first.
                let text = e.to_string();
                let what = text.rfind(" at line ").map_or(text.as_str(), |at| &text[..at]);
                format!("the definition is not valid JSON at line {}, column {}: {what}", e.line(), e.column())
            });
            return (None, diags.into_sorted());
        }
    };
    for location in crate::duplicates::duplicate_keys(text) {
        let is_state = location.rsplit_once('/').is_some_and(|(parent, _)| parent.ends_with("/States"));
        if is_state {
            diags.error(DiagnosticCode::DuplicateStateName, location, "two states have this name");
        } else {
            diags.error(
                DiagnosticCode::SchemaValidationFailed,
                location,
                "this field appears twice in the same object",
            );
        }
    }
    let machine = read_machine(&value, "", true, QueryLanguage::JsonPath, &mut diags);
    if let Some(machine) = &machine {
        crate::validate::check_graph(machine, "", &mut diags);
        crate::validate::check_unique_names(machine, &mut diags);
    }
    let ok = !diags.has_errors();
    (machine.filter(|_| ok), diags.into_sorted())
}

/// What is wrong with a Map's `Label`, in AWS's words: at most 40 characters, none of
/// whitespace, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /` or control characters.
fn label_problem(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("Label cannot be empty".to_owned());
    }
    if label.chars().count() > 40 {
        return Some("Label cannot exceed 40 characters".to_owned());
    }
    let invalid = |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    let shown = |c: char| crate::diagnostic::python_repr(&c.to_string());
    label.chars().find(|c| invalid(*c)).map(|c| format!("Label contains invalid character: {}", shown(c)))
}

/// Reads a state machine (top level, branch or item processor) at `location`.
fn read_machine(
    value: &Value,
    location: &str,
    top_level: bool,
    inherited: QueryLanguage,
    diags: &mut Diagnostics,
) -> Option<StateMachine> {
    let loc = if location.is_empty() { "/" } else { location };
    let Some(obj) = value.as_object() else {
        diags.error(DiagnosticCode::SchemaValidationFailed, loc, "expected a JSON object");
        return None;
    };
    // AWS reports a machine's missing fields together: "These fields are required: [States, StartAt]".
    let missing: Vec<&str> = ["States", "StartAt"].into_iter().filter(|k| !obj.contains_key(*k)).collect();
    if !missing.is_empty() {
        let message = format!("These fields are required: [{}]", missing.join(", "));
        diags.error(DiagnosticCode::SchemaValidationFailed, loc, message);
    }
    let mut fields = Fields::new(obj, location, diags);
    let comment = fields.string("Comment");
    let start_at = if obj.contains_key("StartAt") { fields.required_string("StartAt") } else { None };
    let version = if top_level { fields.string("Version") } else { None };
    if let Some(v) = &version
        && v != "1.0"
    {
        fields.diags.error(
            DiagnosticCode::SchemaValidationFailed,
            child(location, "Version"),
            "Version must be \"1.0\"",
        );
    }
    let timeout_seconds = if top_level { fields.positive_int("TimeoutSeconds") } else { None };
    let query_language = match fields.string("QueryLanguage").as_deref() {
        None => inherited,
        Some("JSONPath") => QueryLanguage::JsonPath,
        Some("JSONata") => QueryLanguage::Jsonata,
        Some(other) => {
            fields.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                child(location, "QueryLanguage"),
                format!("QueryLanguage must be JSONPath or JSONata, not '{other}'"),
            );
            QueryLanguage::JsonPath
        }
    };
    if top_level {
        fields.diags.root_jsonata = query_language == QueryLanguage::Jsonata;
    }
    let states_value = fields.take("States");
    if !top_level {
        // Branches and item processors may also carry ProcessorConfig, read by the caller.
        fields.take("ProcessorConfig");
    }
    fields.finish();
    let states_loc = child(location, "States");
    let Some(states_obj) = states_value.and_then(Value::as_object) else {
        if states_value.is_some() {
            diags.error(DiagnosticCode::SchemaValidationFailed, states_loc, "'States' must be an object");
        }
        return None;
    };
    if states_obj.is_empty() {
        diags.error(DiagnosticCode::SchemaValidationFailed, &states_loc, "'States' must contain at least one state");
    }
    let index: HashMap<String, StateId> = states_obj.keys().enumerate().map(|(i, k)| (k.clone(), i)).collect();
    let resolver = Resolver { index: &index };
    let mut states = Vec::with_capacity(states_obj.len());
    let mut all_ok = true;
    for (name, state_value) in states_obj {
        let here = child(&states_loc, name);
        if name.is_empty() || name.chars().count() > 80 {
            diags.error(DiagnosticCode::SchemaValidationFailed, &here, "a state name must have 1 to 80 characters");
        }
        match read_state(name, state_value, &here, query_language, &resolver, diags) {
            Some(state) => states.push(state),
            None => all_ok = false,
        }
    }
    let start = start_at.as_deref().and_then(|s| {
        let found = index.get(s).copied();
        if found.is_none() {
            diags.error(
                DiagnosticCode::MissingTransitionTarget,
                child(location, "StartAt"),
                format!("StartAt names the state '{s}', which does not exist"),
            );
        }
        found
    });
    if !all_ok {
        return None;
    }
    Some(StateMachine { comment, start_at: start?, states, index, timeout_seconds, version, query_language })
}

struct Resolver<'a> {
    index: &'a HashMap<String, StateId>,
}

impl Resolver<'_> {
    fn resolve(&self, name: &str, location: String, field: &str, diags: &mut Diagnostics) -> Option<StateId> {
        let found = self.index.get(name).copied();
        if found.is_none() {
            diags.error(
                DiagnosticCode::MissingTransitionTarget,
                location,
                format!("{field} names the state '{name}', which does not exist"),
            );
        }
        found
    }
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn read_state(
    name: &str,
    value: &Value,
    location: &str,
    parent_language: QueryLanguage,
    resolver: &Resolver<'_>,
    diags: &mut Diagnostics,
) -> Option<State> {
    let Some(obj) = value.as_object() else {
        diags.error(DiagnosticCode::SchemaValidationFailed, location, "a state must be a JSON object");
        return None;
    };
    let mut f = Fields::new(obj, location, diags);
    let type_name = f.required_string("Type");
    let comment = f.string("Comment");
    let language = match f.string("QueryLanguage").as_deref() {
        None => parent_language,
        Some("JSONPath") if f.diags.root_jsonata => {
            f.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                location,
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            );
            QueryLanguage::Jsonata
        }
        Some("JSONPath") => QueryLanguage::JsonPath,
        Some("JSONata") => QueryLanguage::Jsonata,
        Some(other) => {
            f.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                child(location, "QueryLanguage"),
                format!("QueryLanguage must be JSONPath or JSONata, not '{other}'"),
            );
            parent_language
        }
    };
    f.jsonata = language == QueryLanguage::Jsonata;
    let type_name = type_name?;
    let has_io = type_name != "Fail";
    let input_path = if has_io { f.path_field("InputPath") } else { PathField::Default };
    let output_path = if has_io { f.path_field("OutputPath") } else { PathField::Default };
    let kind = match type_name.as_str() {
        "Pass" => {
            let parameters = f.template("Parameters");
            let result = f.take_jsonpath("Result").cloned();
            let result_path = f.result_path("ResultPath");
            let assign = f.template("Assign");
            let transition = f.transition(resolver)?;
            StateKind::Pass(PassState { parameters, result, result_path, assign, transition })
        }
        "Task" => {
            // An invalid resource is reported, and the state still read to its end, so that
            // every other problem of the state is reported too.
            let resource = f.required_string("Resource").map(|r| match Resource::parse(&r) {
                Ok(resource) => Arc::new(resource),
                Err(invalid) => {
                    f.diags.error(DiagnosticCode::InvalidResource, child(location, "Resource"), invalid.to_string());
                    Arc::new(Resource::Other(r))
                }
            });
            // `arn:aws:states:::s3:…` names a distributed Map's reader and writer, not a task.
            if let Some(integration) = resource.as_ref().and_then(|r| r.integration())
                && !integration.sdk
                && integration.service == "s3"
            {
                f.diags.error(
                    DiagnosticCode::InvalidResource,
                    child(location, "Resource"),
                    format!(
                        "S3 has no optimized integration for Task states: use arn:aws:states:::aws-sdk:s3:{}",
                        integration.action
                    ),
                );
            }
            let parameters = f.template("Parameters");
            let timeout = f.seconds("TimeoutSeconds", "TimeoutSecondsPath");
            let heartbeat = f.seconds("HeartbeatSeconds", "HeartbeatSecondsPath");
            if let (Some(Seconds::Literal(t)), Some(Seconds::Literal(h))) = (&timeout, &heartbeat)
                && h >= t
            {
                f.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    child(location, "HeartbeatSeconds"),
                    "HeartbeatSeconds must be smaller than TimeoutSeconds",
                );
            }
            let credentials = f.template("Credentials");
            let handling = f.result_handling(resolver)?;
            StateKind::Task(Box::new(TaskState {
                resource: resource?,
                parameters,
                timeout,
                heartbeat,
                credentials,
                handling,
            }))
        }
        "Choice" => {
            let choices = f.choices(resolver);
            let default =
                f.string("Default").and_then(|d| resolver.resolve(&d, child(location, "Default"), "Default", f.diags));
            let assign = f.template("Assign");
            StateKind::Choice(ChoiceState { choices: choices?, default, assign })
        }
        "Wait" => {
            let mut found = Vec::new();
            // A field given with a bad value is reported where it is, not again as missing.
            let mut given_badly = false;
            if let Some(expr) = f.expression("Seconds") {
                found.push(WaitFor::SecondsExpr(expr));
            }
            if let Some(expr) = f.expression("Timestamp") {
                found.push(WaitFor::TimestampExpr(expr));
            }
            if let Some(v) = f.take_jsonpath_or_unused("Seconds") {
                match v.as_u64() {
                    Some(s) => found.push(WaitFor::Seconds(s)),
                    None => {
                        given_badly = true;
                        f.diags.error(
                            DiagnosticCode::SchemaValidationFailed,
                            child(location, "Seconds"),
                            "Seconds must be a non-negative integer",
                        )
                    }
                }
            }
            if let Some(p) = f.path("SecondsPath") {
                found.push(WaitFor::SecondsPath(p));
            }
            if let Some(t) = f.take_jsonpath_or_unused("Timestamp").map(|v| v.as_str().unwrap_or_default().to_owned()) {
                match crate::timestamp::parse_iso8601(&t) {
                    Some(at) => found.push(WaitFor::Timestamp(at, t)),
                    None => {
                        given_badly = true;
                        f.diags.error(
                            DiagnosticCode::SchemaValidationFailed,
                            child(location, "Timestamp"),
                            format!("'{t}' is not an ISO 8601 extended offset date-time"),
                        )
                    }
                }
            }
            if let Some(p) = f.path("TimestampPath") {
                found.push(WaitFor::TimestampPath(p));
            }
            let assign = f.template("Assign");
            let transition = f.transition(resolver)?;
            if found.len() != 1 {
                if found.is_empty() && given_badly {
                    return None;
                }
                f.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    location,
                    "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                );
                return None;
            }
            StateKind::Wait(WaitState { wait_for: found.pop()?, assign, transition })
        }
        "Succeed" => StateKind::Succeed,
        "Fail" => {
            let error = f.text_field("Error", "ErrorPath");
            let cause = f.text_field("Cause", "CausePath");
            StateKind::Fail(FailState { error, cause })
        }
        "Parallel" => {
            let branches = f.branches();
            let parameters = f.template("Parameters");
            let handling = f.result_handling(resolver)?;
            StateKind::Parallel(Box::new(ParallelState { branches: branches?, parameters, handling }))
        }
        "Map" => read_map(&mut f, resolver)?,
        other => {
            f.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                child(location, "Type"),
                format!("'{other}' is not a state type (Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map)"),
            );
            return None;
        }
    };
    let jsonata = f.jsonata.then(|| {
        let mut fields = f.jsonata_fields();
        if type_name == "Task" || type_name == "Parallel" {
            fields.arguments = f.jsonata_template("Arguments");
        }
        if type_name == "Map" {
            fields.items = f.jsonata_template("Items");
            fields.item_selector = f.jsonata_template("ItemSelector");
        }
        Box::new(fields)
    });
    let uses_context = f.uses_context;
    f.finish();
    Some(State { name: Arc::from(name), comment, input_path, output_path, uses_context, jsonata, kind })
}

fn read_map(f: &mut Fields<'_, '_>, resolver: &Resolver<'_>) -> Option<StateKind> {
    let location = f.location.to_owned();
    let (processor_value, processor_field) = match (f.take("ItemProcessor"), f.take("Iterator")) {
        (Some(p), None) => (Some(p), "ItemProcessor"),
        (None, Some(i)) => (Some(i), "Iterator"),
        (Some(_), Some(_)) => {
            f.diags.error(DiagnosticCode::SchemaValidationFailed, &location, "use ItemProcessor or Iterator, not both");
            (None, "ItemProcessor")
        }
        (None, None) => {
            f.diags.error(DiagnosticCode::SchemaValidationFailed, &location, "a Map state needs an ItemProcessor");
            (None, "ItemProcessor")
        }
    };
    let processor_loc = child(&location, processor_field);
    let mut mode = ProcessorMode::Inline;
    let mut execution_type = None;
    if let Some(config) = processor_value.and_then(|p| p.get("ProcessorConfig")) {
        let config_loc = child(&processor_loc, "ProcessorConfig");
        match config.as_object() {
            Some(cfg) => {
                let mut cf = Fields::new(cfg, &config_loc, f.diags);
                match cf.string("Mode").as_deref() {
                    None | Some("INLINE") => {}
                    Some("DISTRIBUTED") => mode = ProcessorMode::Distributed,
                    Some(other) => cf.diags.error(
                        DiagnosticCode::SchemaValidationFailed,
                        child(&config_loc, "Mode"),
                        format!("Mode must be INLINE or DISTRIBUTED, not '{other}'"),
                    ),
                }
                execution_type = cf.string("ExecutionType");
                cf.finish();
            }
            None => {
                f.diags.error(DiagnosticCode::SchemaValidationFailed, config_loc, "ProcessorConfig must be an object")
            }
        }
    }
    let language = if f.jsonata { QueryLanguage::Jsonata } else { QueryLanguage::JsonPath };
    let item_processor = processor_value.and_then(|p| read_machine(p, &processor_loc, false, language, f.diags));
    // EXPRESS children are EXPRESS workflows: no distributed Map runs in them.
    if execution_type.as_deref() == Some("EXPRESS")
        && let Some(processor) = &item_processor
    {
        for at in distributed_maps(processor, &format!("{processor_loc}/States")) {
            f.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                at,
                "a distributed Map cannot run inside an EXPRESS child execution (ExecutionType EXPRESS)",
            );
        }
    }
    let items_path = f.path("ItemsPath");
    let item_selector = match (f.template("ItemSelector"), f.template("Parameters")) {
        (Some(s), None) | (None, Some(s)) => Some(s),
        (None, None) => None,
        (Some(_), Some(_)) => {
            f.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                &location,
                "use ItemSelector or Parameters, not both",
            );
            None
        }
    };
    let jsonata = f.jsonata;
    let item_reader = f.take("ItemReader").and_then(|v| {
        let at = child(&location, "ItemReader");
        read_item_reader(v, &at, jsonata, f.diags).map(Box::new)
    });
    let item_batcher = f.take("ItemBatcher").and_then(|v| {
        let at = child(&location, "ItemBatcher");
        read_item_batcher(v, &at, jsonata, f.diags).map(Box::new)
    });
    let reads_context = item_reader.as_ref().and_then(|r| r.parameters.as_ref()).is_some_and(AnyTemplate::uses_context)
        || item_batcher.as_ref().and_then(|b| b.batch_input.as_ref()).is_some_and(AnyTemplate::uses_context);
    f.uses_context |= reads_context;
    if mode == ProcessorMode::Inline && (item_reader.is_some() || item_batcher.is_some()) {
        f.diags.error(
            DiagnosticCode::SchemaValidationFailed,
            &location,
            "ItemReader and ItemBatcher need a distributed Map (ItemProcessor.ProcessorConfig.Mode DISTRIBUTED)",
        );
    }
    let result_writer = f.take("ResultWriter").and_then(|v| {
        let at = child(&location, "ResultWriter");
        read_result_writer(v, &at, jsonata, f.diags).map(Box::new)
    });
    f.uses_context |= result_writer.as_ref().and_then(|w| w.parameters.as_ref()).is_some_and(AnyTemplate::uses_context);
    if mode == ProcessorMode::Inline && result_writer.is_some() {
        f.diags.error(
            DiagnosticCode::SchemaValidationFailed,
            &location,
            "ResultWriter needs a distributed Map (ItemProcessor.ProcessorConfig.Mode DISTRIBUTED)",
        );
    }
    let max_concurrency = f.count_u64("MaxConcurrency", "MaxConcurrencyPath").unwrap_or(Count::Literal(0));
    let tolerated_failure_count = f.count_u64("ToleratedFailureCount", "ToleratedFailureCountPath");
    let tolerated_failure_percentage = f.count_f64("ToleratedFailurePercentage", "ToleratedFailurePercentagePath");
    let label = f.string("Label");
    if let Some(problem) = label.as_deref().and_then(label_problem) {
        let here = f.here("Label");
        f.diags.error(DiagnosticCode::SchemaValidationFailed, here, problem);
    }
    let handling = f.result_handling(resolver)?;
    Some(StateKind::Map(Box::new(MapState {
        item_processor: item_processor?,
        mode,
        execution_type,
        items_path,
        item_selector,
        item_reader,
        item_batcher,
        result_writer,
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
        label,
        handling,
    })))
}

/// A nested object's fields, in the state's query language.
fn object_fields<'v, 'd>(
    value: &'v Value,
    location: &'v str,
    jsonata: bool,
    diags: &'d mut Diagnostics,
) -> Option<Fields<'v, 'd>> {
    match value.as_object() {
        Some(obj) => {
            let mut fields = Fields::new(obj, location, diags);
            fields.jsonata = jsonata;
            Some(fields)
        }
        None => {
            diags.error(DiagnosticCode::SchemaValidationFailed, location, "must be an object");
            None
        }
    }
}

/// `Parameters` (JSONPath) or `Arguments` (JSONata) of a nested object.
fn any_template(f: &mut Fields<'_, '_>, path_key: &'static str, jsonata_key: &'static str) -> Option<AnyTemplate> {
    if f.jsonata {
        f.jsonata_template(jsonata_key).map(AnyTemplate::Jsonata)
    } else {
        f.template(path_key).map(AnyTemplate::JsonPath)
    }
}

fn read_item_reader(value: &Value, location: &str, jsonata: bool, diags: &mut Diagnostics) -> Option<ItemReader> {
    let mut f = object_fields(value, location, jsonata, diags)?;
    let resource = match f.required_string("Resource").as_deref() {
        Some("arn:aws:states:::s3:getObject") => Some(ReaderResource::GetObject),
        Some("arn:aws:states:::s3:listObjectsV2") => Some(ReaderResource::ListObjectsV2),
        Some(other) => {
            let at = f.here("Resource");
            f.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                at,
                format!("an ItemReader's Resource is arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2, not '{other}'"),
            );
            None
        }
        None => None,
    };
    let parameters = any_template(&mut f, "Parameters", "Arguments");
    let mut reader = ItemReader {
        resource: resource.unwrap_or(ReaderResource::GetObject),
        parameters,
        input_type: None,
        csv_headers: CsvHeaders::FirstRow,
        csv_delimiter: ',',
        max_items: None,
        items_pointer: None,
        manifest_type: None,
    };
    let config_at = child(location, "ReaderConfig");
    if let Some(config) = f.take("ReaderConfig")
        && let Some(mut c) = object_fields(config, &config_at, jsonata, f.diags)
    {
        let bad = |c: &mut Fields<'_, '_>, key: &str, message: String| {
            let at = c.here(key);
            c.diags.error(DiagnosticCode::SchemaValidationFailed, at, message);
        };
        reader.input_type = match c.string("InputType").as_deref() {
            None => None,
            Some("CSV") => Some(InputType::Csv),
            Some("JSON") => Some(InputType::Json),
            Some("JSONL") => Some(InputType::Jsonl),
            Some("MANIFEST") => Some(InputType::Manifest),
            Some("PARQUET") => Some(InputType::Parquet),
            Some(other) => {
                bad(
                    &mut c,
                    "InputType",
                    format!("InputType must be CSV, JSON, JSONL, MANIFEST or PARQUET, not '{other}'"),
                );
                None
            }
        };
        let headers: Option<Vec<String>> = c.take("CSVHeaders").and_then(|v| match v.as_array() {
            Some(items) if items.iter().all(Value::is_string) => {
                Some(items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            }
            _ => None,
        });
        reader.csv_headers = match (c.string("CSVHeaderLocation").as_deref(), headers) {
            (None | Some("FIRST_ROW"), None) => CsvHeaders::FirstRow,
            (Some("GIVEN"), Some(headers)) => CsvHeaders::Given(headers),
            (Some("GIVEN"), None) => {
                bad(&mut c, "CSVHeaders", "CSVHeaderLocation GIVEN needs CSVHeaders, an array of strings".into());
                CsvHeaders::FirstRow
            }
            (_, Some(_)) => {
                bad(&mut c, "CSVHeaders", "CSVHeaders are read only with CSVHeaderLocation GIVEN".into());
                CsvHeaders::FirstRow
            }
            (Some(other), None) => {
                bad(
                    &mut c,
                    "CSVHeaderLocation",
                    format!("CSVHeaderLocation must be FIRST_ROW or GIVEN, not '{other}'"),
                );
                CsvHeaders::FirstRow
            }
        };
        reader.csv_delimiter = match c.string("CSVDelimiter").as_deref() {
            None | Some("COMMA") => ',',
            Some("PIPE") => '|',
            Some("SEMICOLON") => ';',
            Some("SPACE") => ' ',
            Some("TAB") => '\t',
            Some(other) => {
                bad(
                    &mut c,
                    "CSVDelimiter",
                    format!("CSVDelimiter must be COMMA, PIPE, SEMICOLON, SPACE or TAB, not '{other}'"),
                );
                ','
            }
        };
        reader.max_items = c.count_u64("MaxItems", "MaxItemsPath");
        reader.items_pointer = c.string("ItemsPointer");
        if let Some(pointer) = reader.items_pointer.as_deref().filter(|p| !p.is_empty() && !p.starts_with('/')) {
            bad(&mut c, "ItemsPointer", format!("ItemsPointer is a JSON Pointer, starting with '/': not '{pointer}'"));
        }
        reader.manifest_type = c.string("ManifestType");
        match reader.manifest_type.as_deref() {
            None | Some("S3_INVENTORY") => {}
            Some("ATHENA_DATA") => bad(
                &mut c,
                "ManifestType",
                "ManifestType ATHENA_DATA (Athena UNLOAD manifests) is not supported by sfnlite yet".into(),
            ),
            Some(other) => {
                bad(&mut c, "ManifestType", format!("ManifestType must be ATHENA_DATA or S3_INVENTORY, not '{other}'"))
            }
        }
        match c.string("Transformation").as_deref() {
            None | Some("NONE") => {}
            Some("LOAD_AND_FLATTEN") => {
                bad(&mut c, "Transformation", "Transformation LOAD_AND_FLATTEN is not supported by sfnlite yet".into())
            }
            Some(other) => {
                bad(&mut c, "Transformation", format!("Transformation must be NONE or LOAD_AND_FLATTEN, not '{other}'"))
            }
        }
        c.finish();
    }
    f.finish();
    // An S3 inventory manifest says its own format.
    if reader.manifest_type.as_deref() == Some("S3_INVENTORY") && reader.input_type.is_none() {
        reader.input_type = Some(InputType::Manifest);
    }
    if reader.resource == ReaderResource::GetObject && reader.input_type.is_none() {
        diags.error(
            DiagnosticCode::SchemaValidationFailed,
            config_at,
            "an ItemReader that reads an object (s3:getObject) needs ReaderConfig.InputType",
        );
    }
    Some(reader)
}

fn read_result_writer(value: &Value, location: &str, jsonata: bool, diags: &mut Diagnostics) -> Option<ResultWriter> {
    let mut f = object_fields(value, location, jsonata, diags)?;
    let resource = f.string("Resource");
    if let Some(other) = resource.as_deref().filter(|r| *r != "arn:aws:states:::s3:putObject") {
        let at = f.here("Resource");
        f.diags.error(
            DiagnosticCode::SchemaValidationFailed,
            at,
            format!("a ResultWriter's Resource is arn:aws:states:::s3:putObject, not '{other}'"),
        );
    }
    let parameters = any_template(&mut f, "Parameters", "Arguments");
    let mut writer = ResultWriter { parameters, transformation: Transformation::None, json_lines: false };
    let config_at = child(location, "WriterConfig");
    let config = f.take("WriterConfig");
    if let Some(config) = config
        && let Some(mut c) = object_fields(config, &config_at, jsonata, f.diags)
    {
        writer.transformation = match c.string("Transformation").as_deref() {
            None | Some("NONE") => Transformation::None,
            Some("COMPACT") => Transformation::Compact,
            Some("FLATTEN") => Transformation::Flatten,
            Some(other) => {
                let at = c.here("Transformation");
                c.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    at,
                    format!("Transformation must be NONE, COMPACT or FLATTEN, not '{other}'"),
                );
                Transformation::None
            }
        };
        writer.json_lines = match c.string("OutputType").as_deref() {
            None | Some("JSON") => false,
            Some("JSONL") => true,
            Some(other) => {
                let at = c.here("OutputType");
                c.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    at,
                    format!("OutputType must be JSON or JSONL, not '{other}'"),
                );
                false
            }
        };
        c.finish();
    }
    match (resource.is_some(), writer.parameters.is_some()) {
        (true, false) | (false, true) => f.diags.error(
            DiagnosticCode::SchemaValidationFailed,
            location,
            "a ResultWriter that exports needs both Resource and Parameters (or Arguments)",
        ),
        (false, false) if config.is_none() => f.diags.error(
            DiagnosticCode::SchemaValidationFailed,
            location,
            "a ResultWriter needs WriterConfig, or Resource and Parameters (or Arguments)",
        ),
        _ => {}
    }
    f.finish();
    Some(writer)
}

fn read_item_batcher(value: &Value, location: &str, jsonata: bool, diags: &mut Diagnostics) -> Option<ItemBatcher> {
    let mut f = object_fields(value, location, jsonata, diags)?;
    let max_items = f.count_u64("MaxItemsPerBatch", "MaxItemsPerBatchPath");
    let max_bytes = f.count_u64("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath");
    if let Some(Count::Literal(0)) = max_items {
        let at = f.here("MaxItemsPerBatch");
        f.diags.error(DiagnosticCode::SchemaValidationFailed, at, "MaxItemsPerBatch must be at least 1");
    }
    if let Some(Count::Literal(bytes)) = max_bytes
        && !(1..=262_144).contains(&bytes)
    {
        let at = f.here("MaxInputBytesPerBatch");
        f.diags.error(DiagnosticCode::SchemaValidationFailed, at, "MaxInputBytesPerBatch must be between 1 and 262144");
    }
    let batch_input = if f.jsonata {
        f.jsonata_template("BatchInput").map(AnyTemplate::Jsonata)
    } else {
        f.take("BatchInput").map(|v| {
            let at = child(location, "BatchInput");
            AnyTemplate::JsonPath(Template::compile(v, &at, f.diags))
        })
    };
    if max_items.is_none() && max_bytes.is_none() {
        f.diags.error(
            DiagnosticCode::SchemaValidationFailed,
            location,
            "an ItemBatcher needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)",
        );
    }
    f.finish();
    Some(ItemBatcher { max_items, max_bytes, batch_input })
}

/// Reads the fields of one JSON object, remembering which were used so that
/// unknown fields can be reported at the end.
struct Fields<'v, 'd> {
    obj: &'v Map<String, Value>,
    location: &'v str,
    used: Vec<&'v str>,
    diags: &'d mut Diagnostics,
    uses_context: bool,
    /// The object belongs to a JSONata state: JSONPath-only fields are not read (and so
    /// are reported as unsupported), and `{% … %}` strings are expressions.
    jsonata: bool,
}

/// Fields only JSONata states have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Condition", "Items"];

/// Fields only JSONPath states have; a JSONata state leaves them unread, so they are
/// reported as unsupported there.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "MaxItemsPath",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatchPath",
    "Assign",
    "ItemSelector",
];

impl<'v, 'd> Fields<'v, 'd> {
    fn new(obj: &'v Map<String, Value>, location: &'v str, diags: &'d mut Diagnostics) -> Fields<'v, 'd> {
        Fields { obj, location, used: Vec::new(), diags, uses_context: false, jsonata: false }
    }

    /// Reads a field, unless it is JSONPath-only and this is a JSONata object.
    fn take_jsonpath(&mut self, key: &'v str) -> Option<&'v Value> {
        if self.jsonata && JSONPATH_ONLY.contains(&key) {
            return None;
        }
        self.take(key)
    }

    /// Reads a field that has not been read already (as an expression).
    fn take_jsonpath_or_unused(&mut self, key: &'v str) -> Option<&'v Value> {
        if self.used.contains(&key) {
            return None;
        }
        self.take(key)
    }

    /// A JSONata template field (`Output`, `Arguments`, …).
    fn jsonata_template(&mut self, key: &'v str) -> Option<jsonata::Template> {
        let value = self.take(key)?;
        let at = self.here(key);
        let template = jsonata::Template::compile(value, &at, self.diags);
        self.uses_context |= template.uses_context();
        Some(template)
    }

    /// `Output` and `Assign` of a JSONata object.
    fn jsonata_fields(&mut self) -> JsonataFields {
        JsonataFields {
            output: self.jsonata_template("Output"),
            assign: self.jsonata_template("Assign"),
            ..JsonataFields::default()
        }
    }

    /// In a JSONata object, a `{% … %}` string field (`Seconds`, `TimeoutSeconds`, …).
    fn expression(&mut self, key: &'v str) -> Option<jsonata::Template> {
        if !self.jsonata {
            return None;
        }
        match self.obj.get(key) {
            Some(value @ Value::String(text)) if jsonata::expression_text(text).is_some() => {
                self.used.push(key);
                let at = self.here(key);
                let template = jsonata::Template::compile(value, &at, self.diags);
                self.uses_context |= template.uses_context();
                Some(template)
            }
            _ => None,
        }
    }

    fn here(&self, key: &str) -> String {
        child(self.location, key)
    }

    fn take(&mut self, key: &'v str) -> Option<&'v Value> {
        self.used.push(key);
        self.obj.get(key)
    }

    fn finish(self) {
        for key in self.obj.keys() {
            if !self.used.contains(&key.as_str()) && !COMMON.contains(&key.as_str()) {
                let type_name = self.obj.get("Type").and_then(Value::as_str);
                let message = match type_name {
                    _ if self.jsonata && JSONPATH_ONLY.contains(&key.as_str()) => {
                        format!("the field '{key}' is not supported when QueryLanguage is JSONata")
                    }
                    _ if !self.jsonata && JSONATA_ONLY.contains(&key.as_str()) => {
                        format!("the field '{key}' is only supported when QueryLanguage is JSONata")
                    }
                    Some(t) => format!("the field '{key}' is not supported by a {t} state"),
                    None => format!("the field '{key}' is not supported here"),
                };
                self.diags.error(DiagnosticCode::SchemaValidationFailed, child(self.location, key), message);
            }
        }
    }

    fn type_error(&mut self, key: &str, expected: &str) {
        let at = self.here(key);
        self.diags.error(DiagnosticCode::SchemaValidationFailed, at, format!("'{key}' must be {expected}"));
    }

    fn string(&mut self, key: &'v str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.type_error(key, "a string");
                None
            }
        }
    }

    fn required_string(&mut self, key: &'v str) -> Option<String> {
        if !self.obj.contains_key(key) {
            let loc = if self.location.is_empty() { "/".to_owned() } else { self.location.to_owned() };
            self.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                loc,
                format!("These fields are required: [{key}]"),
            );
            self.used.push(key);
            return None;
        }
        self.string(key)
    }

    fn positive_int(&mut self, key: &'v str) -> Option<u64> {
        match self.take(key)? {
            Value::Number(n) if n.as_u64().is_some_and(|v| v > 0) => n.as_u64(),
            _ => {
                self.type_error(key, "a positive integer");
                None
            }
        }
    }

    fn non_negative_int(&mut self, key: &'v str) -> Option<u64> {
        match self.take(key)? {
            Value::Number(n) if n.as_u64().is_some() => n.as_u64(),
            _ => {
                self.type_error(key, "a non-negative integer");
                None
            }
        }
    }

    fn note_path(&mut self, path: &Path) {
        if *path.root() == Root::Context {
            self.uses_context = true;
        }
    }

    fn path(&mut self, key: &'v str) -> Option<Path> {
        if self.jsonata && JSONPATH_ONLY.contains(&key) {
            return None;
        }
        let text = self.string(key)?;
        match Path::parse(&text) {
            Ok(p) => {
                self.note_path(&p);
                Some(p)
            }
            Err(e) => {
                let at = self.here(key);
                self.diags.error(DiagnosticCode::InvalidJsonPath, at, e.message);
                None
            }
        }
    }

    fn path_field(&mut self, key: &'v str) -> PathField {
        if self.jsonata {
            return PathField::Default;
        }
        match self.obj.get(key) {
            None => {
                self.used.push(key);
                PathField::Default
            }
            Some(Value::Null) => {
                self.used.push(key);
                PathField::Null
            }
            Some(_) => self.path(key).map_or(PathField::Default, PathField::Path),
        }
    }

    fn result_path(&mut self, key: &'v str) -> ResultPath {
        match self.take_jsonpath(key) {
            None => ResultPath::Default,
            Some(Value::Null) => ResultPath::Discard,
            Some(Value::String(text)) => match ReferencePath::parse(text) {
                Ok(p) => ResultPath::Path(p),
                Err(e) => {
                    let at = self.here(key);
                    self.diags.error(DiagnosticCode::InvalidJsonPath, at, e.message);
                    ResultPath::Default
                }
            },
            Some(_) => {
                self.type_error(key, "a reference path or null");
                ResultPath::Default
            }
        }
    }

    fn template(&mut self, key: &'v str) -> Option<Template> {
        let value = self.take_jsonpath(key)?;
        let at = self.here(key);
        let template = Template::compile(value, &at, self.diags);
        if template.uses_context() {
            self.uses_context = true;
        }
        Some(template)
    }

    fn seconds(&mut self, key: &'v str, path_key: &'v str) -> Option<Seconds> {
        if let Some(expr) = self.expression(key) {
            return Some(Seconds::Jsonata(expr));
        }
        let literal = self.positive_int(key);
        let path = self.path(path_key);
        self.either(key, path_key, literal, path)
    }

    fn count_u64(&mut self, key: &'v str, path_key: &'v str) -> Option<Count<u64>> {
        if let Some(expr) = self.expression(key) {
            return Some(Count::Jsonata(expr));
        }
        let literal = self.non_negative_int(key);
        let path = self.path(path_key);
        self.either(key, path_key, literal, path)
    }

    fn count_f64(&mut self, key: &'v str, path_key: &'v str) -> Option<Count<f64>> {
        if let Some(expr) = self.expression(key) {
            return Some(Count::Jsonata(expr));
        }
        let literal = match self.take(key) {
            None => None,
            Some(v) => match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                _ => {
                    self.type_error(key, "a number between 0 and 100");
                    None
                }
            },
        };
        let path = self.path(path_key);
        self.either(key, path_key, literal, path)
    }

    /// Reports a field given both literally and through its `…Path` twin.
    fn both(&mut self, key: &str, path_key: &str) {
        let loc = self.location.to_owned();
        self.diags.error(DiagnosticCode::SchemaValidationFailed, loc, format!("use {key} or {path_key}, not both"));
    }

    fn either<T>(&mut self, key: &str, path_key: &str, literal: Option<T>, path: Option<Path>) -> Option<Count<T>> {
        match (literal, path) {
            (Some(_), Some(_)) => {
                self.both(key, path_key);
                None
            }
            (Some(v), None) => Some(Count::Literal(v)),
            (None, Some(p)) => Some(Count::Path(p)),
            (None, None) => None,
        }
    }

    fn text_field(&mut self, key: &'v str, path_key: &'v str) -> Option<TextField> {
        if let Some(expr) = self.expression(key) {
            return Some(TextField::Jsonata(expr));
        }
        let literal = self.string(key);
        let dynamic = self.take_jsonpath(path_key).and_then(Value::as_str).map(str::to_owned).and_then(|text| {
            let at = self.here(path_key);
            let field = compile_dynamic(&text, &at, self.diags)?;
            if field.uses_context() {
                self.uses_context = true;
            }
            Some(field)
        });
        match (literal, dynamic) {
            (Some(_), Some(_)) => {
                self.both(key, path_key);
                None
            }
            (Some(s), None) => Some(TextField::Literal(s)),
            (None, Some(t)) => Some(TextField::Dynamic(t)),
            (None, None) => None,
        }
    }

    /// ResultSelector, ResultPath, Assign, Retry, Catch and Next/End of a Task, Parallel or Map.
    fn result_handling(&mut self, resolver: &Resolver<'_>) -> Option<ResultHandling> {
        let result_selector = self.template("ResultSelector");
        let result_path = self.result_path("ResultPath");
        let assign = self.template("Assign");
        let retry = self.retriers();
        let catch = self.catchers(resolver);
        let transition = self.transition(resolver)?;
        Some(ResultHandling { result_selector, result_path, assign, retry, catch, transition })
    }

    fn transition(&mut self, resolver: &Resolver<'_>) -> Option<Transition> {
        let next = self.take("Next");
        let end = self.take("End");
        let location = self.location.to_owned();
        match (next, end) {
            (Some(Value::String(n)), None | Some(Value::Bool(false))) => {
                resolver.resolve(n, child(&location, "Next"), "Next", self.diags).map(Transition::Next)
            }
            (None, Some(Value::Bool(true))) => Some(Transition::End),
            (Some(_), Some(Value::Bool(true))) => {
                self.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    location,
                    "a state cannot have both Next and End",
                );
                None
            }
            (Some(_), _) => {
                self.type_error("Next", "a state name");
                None
            }
            (None, _) => {
                self.diags.error(
                    DiagnosticCode::MissingEndState,
                    location,
                    "the state has neither 'Next' nor '\"End\": true'",
                );
                None
            }
        }
    }

    fn error_equals(&mut self, obj: &Map<String, Value>, location: &str, is_last: bool) -> Vec<ErrorMatcher> {
        let here = child(location, "ErrorEquals");
        let Some(items) = obj.get("ErrorEquals").and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                here,
                "ErrorEquals must be a non-empty array of error names",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(name) = item.as_str() else {
                self.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    child(&here, i),
                    "an error name must be a string",
                );
                continue;
            };
            let matcher = ErrorMatcher::parse(name);
            if matcher == ErrorMatcher::All && (items.len() != 1 || !is_last) {
                self.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    child(&here, i),
                    "States.ALL must appear alone in ErrorEquals, in the last Retrier or Catcher",
                );
            }
            if name.starts_with("States.") && !ErrorName::is_predefined(name) {
                self.diags.error(
                    DiagnosticCode::SchemaValidationFailed,
                    child(&here, i),
                    format!("'{name}' is not a predefined error; custom error names cannot start with 'States.'"),
                );
            }
            out.push(matcher);
        }
        out
    }

    fn list(&mut self, key: &'v str) -> Vec<(&'v Map<String, Value>, String)> {
        let Some(value) = self.take(key) else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.type_error(key, "an array");
            return Vec::new();
        };
        let base = self.here(key);
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_object() {
                Some(obj) => out.push((obj, child(&base, i))),
                None => self.diags.error(DiagnosticCode::SchemaValidationFailed, child(&base, i), "expected an object"),
            }
        }
        out
    }

    fn retriers(&mut self) -> Vec<Retrier> {
        let items = self.list("Retry");
        let count = items.len();
        let mut out = Vec::new();
        for (i, (obj, loc)) in items.into_iter().enumerate() {
            let error_equals = self.error_equals(obj, &loc, i + 1 == count);
            let mut rf = Fields::new(obj, &loc, self.diags);
            rf.take("ErrorEquals");
            let interval_seconds = rf.positive_int("IntervalSeconds").unwrap_or(1);
            let max_attempts = rf.non_negative_int("MaxAttempts").unwrap_or(3);
            let backoff_rate = match rf.take("BackoffRate") {
                None => 2.0,
                Some(v) => match v.as_f64() {
                    Some(b) if b >= 1.0 => b,
                    _ => {
                        rf.type_error("BackoffRate", "a number greater than or equal to 1.0");
                        2.0
                    }
                },
            };
            let max_delay_seconds = rf.positive_int("MaxDelaySeconds");
            let jitter_strategy = match rf.string("JitterStrategy").as_deref() {
                None | Some("NONE") => JitterStrategy::None,
                Some("FULL") => JitterStrategy::Full,
                Some(other) => {
                    rf.diags.error(
                        DiagnosticCode::SchemaValidationFailed,
                        child(&loc, "JitterStrategy"),
                        format!("JitterStrategy must be FULL or NONE, not '{other}'"),
                    );
                    JitterStrategy::None
                }
            };
            rf.finish();
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter_strategy,
            });
        }
        out
    }

    fn catchers(&mut self, resolver: &Resolver<'_>) -> Vec<Catcher> {
        let items = self.list("Catch");
        let count = items.len();
        let mut out = Vec::new();
        for (i, (obj, loc)) in items.into_iter().enumerate() {
            let error_equals = self.error_equals(obj, &loc, i + 1 == count);
            let mut cf = Fields::new(obj, &loc, self.diags);
            cf.jsonata = self.jsonata;
            cf.take("ErrorEquals");
            let result_path = cf.result_path("ResultPath");
            let assign = cf.template("Assign");
            let jsonata = cf.jsonata.then(|| Box::new(cf.jsonata_fields()));
            let next = cf.string("Next");
            if next.is_none() && !obj.contains_key("Next") {
                cf.diags.error(DiagnosticCode::SchemaValidationFailed, loc.clone(), "a Catcher needs 'Next'");
            }
            let catcher_reads_context = cf.uses_context;
            cf.finish();
            self.uses_context |= catcher_reads_context;
            if let Some(next) = next.and_then(|n| resolver.resolve(&n, child(&loc, "Next"), "Next", self.diags)) {
                out.push(Catcher { error_equals, next, result_path, assign, jsonata });
            }
        }
        out
    }

    fn choices(&mut self, resolver: &Resolver<'_>) -> Option<Vec<Choice>> {
        let present = self.obj.contains_key("Choices");
        let items = self.list("Choices");
        if items.is_empty() {
            let loc = if present { self.here("Choices") } else { self.location.to_owned() };
            self.diags.error(
                DiagnosticCode::SchemaValidationFailed,
                loc,
                "a Choice state needs a non-empty 'Choices' array",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (obj, loc) in items {
            if self.jsonata {
                let mut rf = Fields::new(obj, &loc, self.diags);
                rf.jsonata = true;
                rf.take("Comment");
                let condition = rf.jsonata_template("Condition");
                let fields = rf.jsonata_fields();
                let next = rf.string("Next");
                if condition.is_none() {
                    rf.diags.error(
                        DiagnosticCode::SchemaValidationFailed,
                        loc.clone(),
                        "a JSONata Choice rule needs 'Condition'",
                    );
                }
                let rule_reads_context = rf.uses_context;
                rf.finish();
                self.uses_context |= rule_reads_context;
                let next = next.and_then(|n| resolver.resolve(&n, child(&loc, "Next"), "Next", self.diags));
                match (condition, next) {
                    (Some(condition), Some(next)) => out.push(Choice {
                        rule: ChoiceTest::Condition(condition),
                        next,
                        assign: None,
                        jsonata: Some(Box::new(fields)),
                    }),
                    _ => ok = false,
                }
                continue;
            }
            let value = Value::Object(obj.clone());
            let rule = ChoiceRule::parse(&value, &loc, true, self.diags);
            let next = match obj.get("Next") {
                Some(Value::String(n)) => resolver.resolve(n, child(&loc, "Next"), "Next", self.diags),
                // ChoiceRule::parse reports a missing or malformed `Next` of a top-level rule.
                _ => None,
            };
            if choice_uses_context(obj) {
                self.uses_context = true;
            }
            let assign = obj.get("Assign").map(|a| {
                let template = Template::compile(a, &child(&loc, "Assign"), self.diags);
                if template.uses_context() {
                    self.uses_context = true;
                }
                template
            });
            match (rule, next) {
                (Some(rule), Some(next)) => {
                    out.push(Choice { rule: ChoiceTest::Rule(rule), next, assign, jsonata: None })
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn branches(&mut self) -> Option<Vec<StateMachine>> {
        let Some(value) = self.take("Branches") else {
            let loc = self.location.to_owned();
            self.diags.error(DiagnosticCode::SchemaValidationFailed, loc, "a Parallel state needs 'Branches'");
            return None;
        };
        let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
            self.type_error("Branches", "a non-empty array of state machines");
            return None;
        };
        let base = self.here("Branches");
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let language = if self.jsonata { QueryLanguage::Jsonata } else { QueryLanguage::JsonPath };
            match read_machine(item, &child(&base, i), false, language, self.diags) {
                Some(m) => out.push(m),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

fn choice_uses_context(obj: &Map<String, Value>) -> bool {
    obj.values().any(|v| match v {
        Value::String(s) => s.starts_with("$$"),
        Value::Array(items) => items.iter().any(|i| i.as_object().is_some_and(choice_uses_context)),
        Value::Object(o) => choice_uses_context(o),
        _ => false,
    })
}

/// The definition of a distributed Map's child executions: the `ItemProcessor` (or
/// `Iterator`) of the Map state named `state` in `definition`, without its
/// `ProcessorConfig`, with the query language it inherits. The first Map of that name,
/// searching branches and processors too.
pub fn item_processor_definition(definition: &str, state: &str) -> Option<String> {
    fn find<'v>(states: &'v Value, name: &str) -> Option<&'v Map<String, Value>> {
        let states = states.as_object()?;
        if let Some(found) = states.get(name).filter(|s| s["Type"] == "Map").and_then(Value::as_object) {
            return Some(found);
        }
        states.values().find_map(|s| {
            let processor = s.get("ItemProcessor").or_else(|| s.get("Iterator"));
            let nested = processor.into_iter().chain(s.get("Branches").and_then(Value::as_array).into_iter().flatten());
            nested.filter_map(|machine| machine.get("States")).find_map(|inner| find(inner, name))
        })
    }
    let root: Value = serde_json::from_str(definition).ok()?;
    let map = find(root.get("States")?, state)?;
    let mut processor = map.get("ItemProcessor").or_else(|| map.get("Iterator"))?.as_object()?.clone();
    processor.remove("ProcessorConfig");
    let language = map.get("QueryLanguage").or_else(|| root.get("QueryLanguage"));
    if let (Some(language), false) = (language, processor.contains_key("QueryLanguage")) {
        processor.insert("QueryLanguage".into(), language.clone());
    }
    Some(Value::Object(processor).to_string())
}

/// The locations (`/States/…`) of the distributed Maps in `machine`, its branches and
/// item processors included: AWS runs them only in a STANDARD workflow.
pub fn distributed_maps(machine: &StateMachine, location: &str) -> Vec<String> {
    let mut found = Vec::new();
    for state in &machine.states {
        let here = format!("{location}/{}", state.name);
        match &state.kind {
            StateKind::Map(map) => {
                if map.mode == ProcessorMode::Distributed {
                    found.push(here.clone());
                }
                found.extend(distributed_maps(&map.item_processor, &format!("{here}/ItemProcessor/States")));
            }
            StateKind::Parallel(parallel) => {
                for (i, branch) in parallel.branches.iter().enumerate() {
                    found.extend(distributed_maps(branch, &format!("{here}/Branches/{i}/States")));
                }
            }
            _ => {}
        }
    }
    found
}
