//! What a case expects, and the check of an execution against it (pure: it reads the
//! outcome and the history, and answers the mismatches, each saying where and how).
//!
//! ```yaml
//! expect:
//!   status: FAILED                  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
//!   output: {...}                   # exactly
//!   outputContains: {...}           # a subset: objects' listed keys, arrays element-wise
//!   outputPaths: { "$.rows[0].n": 3 }  # JSONPath → value
//!   error: Athena.InvalidRequestException
//!   cause: "..."                    # exactly; or causeContains: "..."
//!   path: [Start, Query, Fail]      # every state entered, in order
//!   states:                         # a state's n-th entry (from 0; plain name: the first)
//!     Query[1]: { input: {...}, outputContains: {...}, attempts: 3, elapsed: 3600 }
//!   events: [ExecutionStarted, PassStateEntered, ...]   # every event type, in order
//!   elapsed: 7200                   # seconds of (virtual) time from start to end
//!   snapshot: true                  # end and history as in __snapshots__/ (see snapshot.rs)
//! ```

use serde_json::Value;
use sfnlite_states::history::{EventDetails, HistoryEvent};
use sfnlite_states::path::{Path as JsonPath, Scope};

use super::file::kind;
use super::thread::{Threads, starts_attempt};

/// What a case expects.
#[derive(Debug, Default)]
pub(crate) struct Expect {
    status: Option<String>,
    output: Option<Value>,
    output_contains: Option<Value>,
    output_paths: Vec<(String, JsonPath, Value)>,
    error: Option<String>,
    cause: Option<String>,
    cause_contains: Option<String>,
    path: Option<Vec<String>>,
    states: Vec<StateExpect>,
    events: Option<Vec<String>>,
    elapsed: Option<f64>,
    /// Compare the end and history with the case's snapshot.
    pub(crate) snapshot: bool,
}

/// What one entry of a state expects.
#[derive(Debug)]
struct StateExpect {
    /// As written (`Query[1]`).
    key: String,
    name: String,
    nth: usize,
    input: Option<Value>,
    input_contains: Option<Value>,
    output: Option<Value>,
    output_contains: Option<Value>,
    attempts: Option<u64>,
    elapsed: Option<f64>,
}

/// An execution as a case sees it.
#[derive(Debug)]
pub(crate) struct Observed<'a> {
    pub(crate) status: &'a str,
    pub(crate) output: Option<&'a Value>,
    pub(crate) error: Option<&'a str>,
    pub(crate) cause: Option<&'a str>,
    pub(crate) events: &'a [HistoryEvent],
    pub(crate) start_millis: i64,
    pub(crate) stop_millis: i64,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// What was checked, e.g. `output /rows/0/n` or `states.Query[1].attempts`.
    pub(crate) what: String,
    pub(crate) expected: String,
    pub(crate) actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: expected {}, got {}", self.what, self.expected, self.actual)
    }
}

const STATUSES: [&str; 4] = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 { format!("{}…", text.chars().take(200).collect::<String>()) } else { text }
}

fn seconds(value: &Value, at: &str) -> Result<f64, String> {
    value
        .as_f64()
        .filter(|s| *s >= 0.0)
        .ok_or_else(|| format!("{at}: expected a number of seconds, found {}", kind(value)))
}

fn names(value: &Value, at: &str) -> Result<Vec<String>, String> {
    let list = value.as_array().ok_or_else(|| format!("{at}: expected an array of names, found {}", kind(value)))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().map(str::to_owned).ok_or_else(|| format!("{at}/{i}: expected a string, found {}", kind(v)))
        })
        .collect()
}

fn text(value: &Value, at: &str) -> Result<String, String> {
    value.as_str().map(str::to_owned).ok_or_else(|| format!("{at}: expected a string, found {}", kind(value)))
}

impl Expect {
    /// Reads `expect` (at JSON pointer `at` of its file).
    pub(crate) fn read(value: &Value, at: &str) -> Result<Expect, String> {
        let object = value.as_object().ok_or_else(|| format!("{at}: expected an object, found {}", kind(value)))?;
        let known = [
            "status",
            "output",
            "outputContains",
            "outputPaths",
            "error",
            "cause",
            "causeContains",
            "path",
            "states",
            "events",
            "elapsed",
            "snapshot",
        ];
        if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("{at}/{unknown}: unknown field (expected one of: {})", known.join(", ")));
        }
        if object.is_empty() {
            return Err(format!("{at}: checks nothing (give a status, an output, a path…)"));
        }
        let mut expect = Expect::default();
        if let Some(status) = object.get("status") {
            let status = text(status, &format!("{at}/status"))?;
            if !STATUSES.contains(&status.as_str()) {
                return Err(format!("{at}/status: '{status}' is not a status ({})", STATUSES.join(", ")));
            }
            expect.status = Some(status);
        }
        expect.output = object.get("output").cloned();
        expect.output_contains = object.get("outputContains").cloned();
        if let Some(paths) = object.get("outputPaths") {
            let paths =
                paths.as_object().ok_or_else(|| format!("{at}/outputPaths: expected an object of JSONPath → value"))?;
            for (path, value) in paths {
                let parsed = JsonPath::parse(path).map_err(|e| format!("{at}/outputPaths/{path}: {e}"))?;
                expect.output_paths.push((path.clone(), parsed, value.clone()));
            }
        }
        expect.error = object.get("error").map(|v| text(v, &format!("{at}/error"))).transpose()?;
        expect.cause = object.get("cause").map(|v| text(v, &format!("{at}/cause"))).transpose()?;
        expect.cause_contains =
            object.get("causeContains").map(|v| text(v, &format!("{at}/causeContains"))).transpose()?;
        expect.path = object.get("path").map(|v| names(v, &format!("{at}/path"))).transpose()?;
        expect.events = object.get("events").map(|v| names(v, &format!("{at}/events"))).transpose()?;
        expect.elapsed = object.get("elapsed").map(|v| seconds(v, &format!("{at}/elapsed"))).transpose()?;
        expect.snapshot = match object.get("snapshot") {
            None => false,
            Some(Value::Bool(snapshot)) => *snapshot,
            Some(other) => return Err(format!("{at}/snapshot: expected true or false, found {}", kind(other))),
        };
        if let Some(states) = object.get("states") {
            let states =
                states.as_object().ok_or_else(|| format!("{at}/states: expected an object of state → expectations"))?;
            for (key, value) in states {
                expect.states.push(StateExpect::read(key, value, &format!("{at}/states/{key}"))?);
            }
        }
        Ok(expect)
    }

    /// The expectations that do not hold for `observed`.
    pub(crate) fn check(&self, observed: &Observed<'_>) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let mut mismatch = |what: &str, expected: String, actual: String| {
            out.push(Mismatch { what: what.to_owned(), expected, actual });
        };
        if let Some(status) = &self.status
            && status != observed.status
        {
            let why = match (observed.error, observed.cause) {
                (Some(error), Some(cause)) => format!(" ({error}: {})", truncate(cause)),
                (Some(error), None) => format!(" ({error})"),
                _ => String::new(),
            };
            mismatch("status", status.clone(), format!("{}{why}", observed.status));
        }
        let output = observed.output.unwrap_or(&Value::Null);
        if let Some(expected) = &self.output {
            for (pointer, want, got) in differences(expected, output, false) {
                mismatch(&format!("output {}", display_pointer(&pointer)), want, got);
            }
        }
        if let Some(expected) = &self.output_contains {
            for (pointer, want, got) in differences(expected, output, true) {
                mismatch(&format!("outputContains {}", display_pointer(&pointer)), want, got);
            }
        }
        for (text, path, expected) in &self.output_paths {
            let context = Value::Null;
            match path.eval(&Scope::new(output, &context)) {
                Ok(found) if differences(expected, &found, false).is_empty() => {}
                Ok(found) => mismatch(&format!("outputPaths {text}"), compact(expected), compact(&found)),
                Err(_) => mismatch(&format!("outputPaths {text}"), compact(expected), "nothing there".into()),
            }
        }
        let absent = || "none".to_owned();
        if let Some(error) = &self.error
            && Some(error.as_str()) != observed.error
        {
            mismatch("error", error.clone(), observed.error.map_or_else(absent, str::to_owned));
        }
        if let Some(cause) = &self.cause
            && Some(cause.as_str()) != observed.cause
        {
            mismatch("cause", quote(cause), observed.cause.map_or_else(absent, quote));
        }
        if let Some(part) = &self.cause_contains
            && !observed.cause.is_some_and(|c| c.contains(part.as_str()))
        {
            mismatch("causeContains", quote(part), observed.cause.map_or_else(absent, quote));
        }
        if let Some(path) = &self.path {
            let taken = path_taken(observed.events);
            if *path != taken {
                mismatch("path", list(path), list(&taken));
            }
        }
        if let Some(events) = &self.events {
            let types: Vec<String> = observed.events.iter().map(|e| e.details.type_name()).collect();
            if *events != types {
                let at = events.iter().zip(&types).position(|(a, b)| a != b).unwrap_or(events.len().min(types.len()));
                mismatch(&format!("events (from #{})", at + 1), list(&events[at..]), list(&types[at..]));
            }
        }
        if let Some(elapsed) = self.elapsed {
            let took = (observed.stop_millis - observed.start_millis) as f64 / 1000.0;
            if (took - elapsed).abs() > 0.0005 {
                mismatch("elapsed", format!("{elapsed} s"), format!("{took} s"));
            }
        }
        for state in &self.states {
            state.check(observed.events, &mut out);
        }
        out
    }
}

impl StateExpect {
    fn read(key: &str, value: &Value, at: &str) -> Result<StateExpect, String> {
        let (name, nth) = match key.strip_suffix(']').and_then(|k| k.rsplit_once('[')) {
            Some((name, n)) => {
                (name.to_owned(), n.parse().map_err(|_| format!("{at}: '[{n}]' is not an entry number (from 0)"))?)
            }
            None => (key.to_owned(), 0),
        };
        let object = value.as_object().ok_or_else(|| format!("{at}: expected an object, found {}", kind(value)))?;
        let known = ["input", "inputContains", "output", "outputContains", "attempts", "elapsed"];
        if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("{at}/{unknown}: unknown field (expected one of: {})", known.join(", ")));
        }
        let attempts = match object.get("attempts") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| format!("{at}/attempts: expected a count"))?),
        };
        Ok(StateExpect {
            key: key.to_owned(),
            name,
            nth,
            input: object.get("input").cloned(),
            input_contains: object.get("inputContains").cloned(),
            output: object.get("output").cloned(),
            output_contains: object.get("outputContains").cloned(),
            attempts,
            elapsed: object.get("elapsed").map(|v| seconds(v, &format!("{at}/elapsed"))).transpose()?,
        })
    }

    fn check(&self, events: &[HistoryEvent], out: &mut Vec<Mismatch>) {
        let entries = entries(events, &self.name);
        let mut mismatch = |what: &str, expected: String, actual: String| {
            out.push(Mismatch { what: format!("states.{}{what}", self.key), expected, actual });
        };
        let Some(entry) = entries.get(self.nth) else {
            mismatch("", format!("entry #{} of state '{}'", self.nth, self.name), format!("{} entries", entries.len()));
            return;
        };
        let compare = |label: &str,
                       expected: &Option<Value>,
                       actual: Option<&Value>,
                       subset: bool,
                       out: &mut Vec<(String, String, String)>| {
            if let Some(expected) = expected {
                match actual {
                    None => out.push((label.to_owned(), compact(expected), "no exit (the state did not end)".into())),
                    Some(actual) => {
                        for (pointer, want, got) in differences(expected, actual, subset) {
                            out.push((format!("{label} {}", display_pointer(&pointer)), want, got));
                        }
                    }
                }
            }
        };
        let mut found = Vec::new();
        compare(".input", &self.input, Some(&entry.input), false, &mut found);
        compare(".inputContains", &self.input_contains, Some(&entry.input), true, &mut found);
        compare(".output", &self.output, entry.output.as_ref(), false, &mut found);
        compare(".outputContains", &self.output_contains, entry.output.as_ref(), true, &mut found);
        for (what, expected, actual) in found {
            mismatch(what.trim_end(), expected, actual);
        }
        if let Some(attempts) = self.attempts
            && attempts != entry.attempts
        {
            mismatch(".attempts", attempts.to_string(), entry.attempts.to_string());
        }
        if let Some(elapsed) = self.elapsed {
            match entry.elapsed_millis {
                Some(took) if ((took as f64 / 1000.0) - elapsed).abs() <= 0.0005 => {}
                Some(took) => mismatch(".elapsed", format!("{elapsed} s"), format!("{} s", took as f64 / 1000.0)),
                None => mismatch(".elapsed", format!("{elapsed} s"), "no event after its entry".into()),
            }
        }
    }
}

/// One entry of a state: its input, its output when it exited, its attempts (service calls
/// or Map/Parallel runs, retries included), its duration (to its exit, or to its last event
/// when it failed the execution).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) input: Value,
    pub(crate) output: Option<Value>,
    pub(crate) attempts: u64,
    pub(crate) elapsed_millis: Option<i64>,
}

/// Every entry of the state `name`, in order (see `thread.rs` for an entry's events).
pub(crate) fn entries(events: &[HistoryEvent], name: &str) -> Vec<Entry> {
    let threads = Threads::of(events);
    let mut found = Vec::new();
    for event in events {
        let EventDetails::StateEntered { name: entered, input, .. } = &event.details else { continue };
        if &**entered != name {
            continue;
        }
        let mut entry = Entry { input: Value::clone(input), output: None, attempts: 0, elapsed_millis: None };
        for next in threads.entry(event.id) {
            if starts_attempt(&next.details) {
                entry.attempts += 1;
            }
            if let EventDetails::StateExited { output, .. } = &next.details {
                entry.output = Some(Value::clone(output));
            }
            // To its exit, or (a state that failed the execution) to its last event.
            entry.elapsed_millis = Some(next.timestamp - event.timestamp);
        }
        found.push(entry);
    }
    found
}

/// Every state entered, in the order of the history.
pub(crate) fn path_taken(events: &[HistoryEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.details {
            EventDetails::StateEntered { name, .. } => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

fn list(names: &[String]) -> String {
    format!("[{}]", names.join(", "))
}

fn quote(text: &str) -> String {
    format!("\"{}\"", truncate(text))
}

fn truncate(text: &str) -> String {
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_owned()
    }
}

fn display_pointer(pointer: &str) -> String {
    if pointer.is_empty() { "(the whole value)".to_owned() } else { pointer.to_owned() }
}

/// Where `actual` differs from `expected` (a subset when `subset`: objects need only the
/// expected keys, arrays match element by element): JSON pointer, expected, actual. At
/// most ten differences.
pub(crate) fn differences(expected: &Value, actual: &Value, subset: bool) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    diff(expected, actual, subset, String::new(), &mut out);
    out.truncate(10);
    out
}

fn diff(expected: &Value, actual: &Value, subset: bool, pointer: String, out: &mut Vec<(String, String, String)>) {
    if out.len() >= 10 {
        return;
    }
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let here = format!("{pointer}/{}", escape(key));
                match got.get(key) {
                    Some(found) => diff(value, found, subset, here, out),
                    None => out.push((here, compact(value), "no such key".into())),
                }
            }
            if !subset {
                for (key, value) in got.iter().filter(|(k, _)| !want.contains_key(*k)) {
                    out.push((format!("{pointer}/{}", escape(key)), "no such key".into(), compact(value)));
                }
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                diff(w, g, subset, format!("{pointer}/{i}"), out);
            }
        }
        (Value::Array(want), Value::Array(got)) => out.push((
            pointer,
            format!("{} element(s): {}", want.len(), compact(expected)),
            format!("{} element(s): {}", got.len(), compact(actual)),
        )),
        (want, got) if numbers_equal(want, got) || want == got => {}
        _ => out.push((pointer, compact(expected), compact(actual))),
    }
}

/// `1` and `1.0` are the same number in a test file.
fn numbers_equal(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if a.is_number() && b.is_number() && x == y)
}

#[cfg(test)]
mod tests {

    use serde_json::json;
    use sfnlite_states::definition::StateType;
    use sfnlite_states::history::TaskResource;

    use super::*;

    fn event(id: u64, previous: u64, timestamp: i64, details: EventDetails) -> HistoryEvent {
        HistoryEvent { id, previous_event_id: previous, timestamp, details }
    }

    fn entered(name: &str, state_type: StateType, input: Value) -> EventDetails {
        EventDetails::StateEntered {
            state_type,
            name: name.into(),
            input: sfnlite_states::history::Payload::new(input),
        }
    }

    fn exited(name: &str, state_type: StateType, output: Value) -> EventDetails {
        EventDetails::StateExited {
            state_type,
            name: name.into(),
            output: sfnlite_states::history::Payload::new(output),
            assigned_variables: None,
        }
    }

    /// A Task retried once (two attempts, 3 s apart), then a Pass.
    fn history() -> Vec<HistoryEvent> {
        let scheduled = || EventDetails::TaskScheduled {
            resource: TaskResource { resource_type: "lambda".into(), resource: "invoke".into() },
            region: "us-east-1".into(),
            parameters: sfnlite_states::history::Payload::new(json!({})),
            timeout_seconds: None,
            heartbeat_seconds: None,
        };
        vec![
            event(
                1,
                0,
                0,
                EventDetails::ExecutionStarted {
                    input: sfnlite_states::history::Payload::new(json!({"a": 1})),
                    role_arn: String::new(),
                },
            ),
            event(2, 1, 0, entered("Call", StateType::Task, json!({"a": 1}))),
            event(3, 2, 0, scheduled()),
            event(
                4,
                3,
                10,
                EventDetails::TaskFailed {
                    resource: TaskResource { resource_type: "lambda".into(), resource: "invoke".into() },
                    error: Some("E".into()),
                    cause: None,
                },
            ),
            event(5, 4, 3010, scheduled()),
            event(
                6,
                5,
                3020,
                EventDetails::TaskSucceeded {
                    resource: TaskResource { resource_type: "lambda".into(), resource: "invoke".into() },
                    output: sfnlite_states::history::Payload::new(json!({"n": 2})),
                },
            ),
            event(7, 6, 3020, exited("Call", StateType::Task, json!({"n": 2, "list": [1, 2]}))),
            event(8, 7, 3020, entered("Done", StateType::Pass, json!({"n": 2}))),
            event(9, 8, 3020, exited("Done", StateType::Pass, json!({"n": 2}))),
        ]
    }

    #[test]
    fn entries_count_attempts_and_time() {
        let found = entries(&history(), "Call");
        assert_eq!(
            found,
            [Entry {
                input: json!({"a": 1}),
                output: Some(json!({"n": 2, "list": [1, 2]})),
                attempts: 2,
                elapsed_millis: Some(3020)
            }]
        );
        assert_eq!(path_taken(&history()), ["Call", "Done"]);
    }

    #[test]
    fn expectations_report_what_differs_and_where() {
        let events = history();
        let output = json!({"n": 2, "rows": [{"id": "1"}], "extra": true});
        let observed = Observed {
            status: "SUCCEEDED",
            output: Some(&output),
            error: None,
            cause: None,
            events: &events,
            start_millis: 0,
            stop_millis: 3020,
        };
        let expect = Expect::read(
            &json!({"status": "SUCCEEDED", "outputContains": {"rows": [{"id": "1"}]}, "outputPaths": {"$.rows[0].id": "1"},
                "path": ["Call", "Done"], "elapsed": 3.02, "states": {"Call": {"attempts": 2, "outputContains": {"n": 2}, "elapsed": 3.02}}}),
            "/e",
        )
        .unwrap();
        assert_eq!(expect.check(&observed), []);
        let wrong = Expect::read(
            &json!({"status": "FAILED", "output": {"n": 3, "rows": [{"id": "1"}]}, "path": ["Call"],
                "states": {"Call[1]": {"attempts": 1}, "Done": {"attempts": 1}}, "outputPaths": {"$.nope": 1}}),
            "/e",
        )
        .unwrap();
        let found: Vec<String> = wrong.check(&observed).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "status: expected FAILED, got SUCCEEDED",
                "output /n: expected 3, got 2",
                "output /extra: expected no such key, got true",
                "outputPaths $.nope: expected 1, got nothing there",
                "path: expected [Call], got [Call, Done]",
                "states.Call[1]: expected entry #1 of state 'Call', got 1 entries",
                "states.Done.attempts: expected 1, got 0",
            ]
        );
        assert!(Expect::read(&json!({"status": "DONE"}), "/e").unwrap_err().contains("not a status"));
        assert!(Expect::read(&json!({"states": {"X[a]": {}}}), "/e").unwrap_err().contains("entry number"));
    }

    #[test]
    fn numbers_compare_by_value_and_arrays_by_length() {
        assert!(differences(&json!({"a": 1}), &json!({"a": 1.0}), false).is_empty());
        assert_eq!(differences(&json!([1]), &json!([1, 2]), true)[0].0, "");
        assert_eq!(differences(&json!({"a/b": 1}), &json!({}), true)[0].0, "/a~1b");
    }
}
