//! A distributed Map's ResultWriter (pure: the engine writes the files): each child
//! execution's record in AWS's shape, the transformations (NONE, COMPACT, FLATTEN), the
//! files under `<Prefix>/<map run id>/` (`SUCCEEDED_0.json`, `FAILED_0.json`,
//! `PENDING_0.json`, then `manifest.json`), and the state's result
//! `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`.
//!
//! Choices where AWS says nothing (documented in the README): a file never splits (AWS
//! splits at 5 GB); records are in the order the children ended; `OutputType: JSONL` files are named `.jsonl`, one record per line; a
//! PENDING record is `{"Input", "Status": "PENDING"}`; a failed child's `RedriveStatus` is
//! `REDRIVABLE_BY_MAP_RUN`.

use serde_json::{Map, Value, json};

use crate::definition::Transformation;
use crate::error::{ErrorName, StatesError};
use crate::timestamp::format_millis;

/// A child execution as the ResultWriter reports it.
#[derive(Debug, Clone)]
pub struct ChildResult {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its state machine (`<machine>/<label>`).
    pub state_machine_arn: String,
    /// Its input.
    pub input: Value,
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: &'static str,
    /// Its output, when it succeeded.
    pub output: Option<Value>,
    /// Its error and cause, when it did not.
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
    /// Epoch milliseconds.
    pub start_millis: i64,
    /// Epoch milliseconds.
    pub stop_millis: i64,
}

impl ChildResult {
    /// The record AWS writes (the NONE transformation).
    pub fn record(&self) -> Value {
        let mut record = Map::new();
        record.insert("ExecutionArn".into(), json!(self.arn));
        record.insert("Input".into(), json!(self.input.to_string()));
        record.insert("InputDetails".into(), json!({"Included": true}));
        record.insert("Name".into(), json!(self.name));
        if let Some(output) = &self.output {
            record.insert("Output".into(), json!(output.to_string()));
            record.insert("OutputDetails".into(), json!({"Included": true}));
        }
        record.insert("RedriveCount".into(), json!(0));
        if self.status == "SUCCEEDED" {
            record.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
            record.insert("RedriveStatusReason".into(), json!("Execution is SUCCEEDED and cannot be redriven"));
        } else {
            record.insert("RedriveStatus".into(), json!("REDRIVABLE_BY_MAP_RUN"));
        }
        record.insert("StartDate".into(), json!(format_millis(self.start_millis)));
        record.insert("StateMachineArn".into(), json!(self.state_machine_arn));
        record.insert("Status".into(), json!(self.status));
        record.insert("StopDate".into(), json!(format_millis(self.stop_millis)));
        if self.status != "SUCCEEDED" {
            record.insert("Error".into(), self.error.clone().map_or(Value::Null, Value::String));
            record.insert("Cause".into(), self.cause.clone().map_or(Value::Null, Value::String));
        }
        Value::Object(record)
    }
}

/// A succeeded child under a transformation (NONE: its record; COMPACT: its output;
/// FLATTEN: its output, an array's elements one by one).
pub fn transform(child: ChildResult, transformation: Transformation) -> Vec<Value> {
    match transformation {
        Transformation::None => vec![child.record()],
        Transformation::Compact => vec![child.output.unwrap_or(Value::Null)],
        Transformation::Flatten => match child.output.unwrap_or(Value::Null) {
            Value::Array(items) => items,
            other => vec![other],
        },
    }
}

/// A result file's contents, written a value at a time (so that no tree of all the
/// records is ever held): a JSON array, or JSON Lines.
#[derive(Debug, Clone)]
pub struct Body {
    text: String,
    count: usize,
    json_lines: bool,
}

impl Body {
    /// An empty file.
    pub fn new(json_lines: bool) -> Body {
        Body { text: String::new(), count: 0, json_lines }
    }

    /// Appends a value.
    pub fn push(&mut self, value: &Value) {
        if self.json_lines {
            self.text.push_str(&value.to_string());
            self.text.push('\n');
        } else {
            self.text.push(if self.count == 0 { '[' } else { ',' });
            self.text.push_str(&value.to_string());
        }
        self.count += 1;
    }

    fn finish(mut self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        if !self.json_lines {
            self.text.push(']');
        }
        Some(self.text)
    }
}

/// One file to write: its status group, its key, its body.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultFile {
    /// `SUCCEEDED`, `FAILED` or `PENDING`.
    pub status: &'static str,
    /// The object key.
    pub key: String,
    /// The contents.
    pub body: String,
}

/// Where a Map Run's files go: `<Prefix>/<map run id>/` (a non-empty prefix gains a `/`).
pub fn folder(prefix: &str, map_run_arn: &str) -> String {
    let id = map_run_arn.rsplit(':').next().unwrap_or_default();
    match prefix {
        "" => format!("{id}/"),
        p if p.ends_with('/') => format!("{p}{id}/"),
        p => format!("{p}/{id}/"),
    }
}

/// The result files of a Map Run: a status with no record gets no file.
pub fn files(folder: &str, groups: [(&'static str, Body); 3]) -> Vec<ResultFile> {
    groups
        .into_iter()
        .filter_map(|(status, body)| {
            let extension = if body.json_lines { "jsonl" } else { "json" };
            let text = body.finish()?;
            Some(ResultFile { status, key: format!("{folder}{status}_0.{extension}"), body: text })
        })
        .collect()
}

/// `manifest.json`: the bucket, the Map Run, and each status's files (key and size).
pub fn manifest(bucket: &str, map_run_arn: &str, files: &[ResultFile]) -> Value {
    let list = |status: &str| -> Vec<Value> {
        files.iter().filter(|f| f.status == status).map(|f| json!({"Key": f.key, "Size": f.body.len()})).collect()
    };
    json!({"DestinationBucket": bucket, "MapRunArn": map_run_arn,
        "ResultFiles": {"FAILED": list("FAILED"), "PENDING": list("PENDING"), "SUCCEEDED": list("SUCCEEDED")}})
}

/// `States.ResultWriterFailed` with `cause`.
pub fn writer_failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(ErrorName::Custom("States.ResultWriterFailed".into()), cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(status: &'static str, output: Option<Value>) -> ChildResult {
        ChildResult {
            arn: "arn:aws:states:us-east-1:1:execution:m/l:c1".into(),
            name: "c1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m/l".into(),
            input: json!({"a": 1}),
            status,
            output,
            error: (status != "SUCCEEDED").then(|| "E".to_owned()),
            cause: None,
            start_millis: 0,
            stop_millis: 1000,
        }
    }

    #[test]
    fn records_and_transformations() {
        let ok = child("SUCCEEDED", Some(json!([1, 2])));
        let record = ok.record();
        assert_eq!(record["Input"], "{\"a\":1}");
        assert_eq!(record["Output"], "[1,2]");
        assert_eq!(record["StopDate"], "1970-01-01T00:00:01.000Z");
        assert_eq!(record["RedriveStatusReason"], "Execution is SUCCEEDED and cannot be redriven");
        let failed = child("FAILED", None).record();
        assert_eq!((failed["Error"].clone(), failed.get("Output")), (json!("E"), None));
        assert_eq!(transform(ok.clone(), Transformation::Compact), vec![json!([1, 2])]);
        assert_eq!(transform(ok, Transformation::Flatten), vec![json!(1), json!(2)]);
    }

    #[test]
    fn files_and_manifest() {
        let arn = "arn:aws:states:us-east-1:1:mapRun:m/l:abc";
        assert_eq!(folder("out", arn), "out/abc/");
        assert_eq!(folder("out/", arn), "out/abc/");
        assert_eq!(folder("", arn), "abc/");
        let mut one = Body::new(false);
        one.push(&json!(1));
        let made = files("out/abc/", [("SUCCEEDED", one), ("FAILED", Body::new(false)), ("PENDING", Body::new(false))]);
        let mut lines = Body::new(true);
        lines.push(&json!({"a": 1}));
        lines.push(&json!(2));
        let jsonl = files("p/", [("SUCCEEDED", lines), ("FAILED", Body::new(true)), ("PENDING", Body::new(true))]);
        assert_eq!((jsonl[0].key.as_str(), jsonl[0].body.as_str()), ("p/SUCCEEDED_0.jsonl", "{\"a\":1}\n2\n"));
        assert_eq!(
            made,
            vec![ResultFile { status: "SUCCEEDED", key: "out/abc/SUCCEEDED_0.json".into(), body: "[1]".into() }]
        );
        let manifest = manifest("b", arn, &made);
        assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([{"Key": "out/abc/SUCCEEDED_0.json", "Size": 3}]));
        assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    }
}
