//! A distributed Map's ResultWriter (pure: the engine writes the files): each child
//! execution's record in AWS's shape, the transformations (NONE, COMPACT, FLATTEN), the
//! files under `<Prefix>/<map run id>/` (`SUCCEEDED_0.json`, `FAILED_0.json`,
//! `PENDING_0.json`, then `manifest.json`), and the state's result
//! `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`.
//!
//! Choices where AWS says nothing (documented in the README): a file splits where it would
//! pass 5 GiB; records are in the order the children ended; `OutputType: JSONL` files are named `.jsonl`, one record per line; a
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
    /// How many times it was redriven (by its Map Run's redrives).
    pub redrive_count: u32,
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
        record.insert("RedriveCount".into(), json!(self.redrive_count));
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

/// Where AWS starts a status's next file (`SUCCEEDED_1.json`…): when a file would exceed
/// 5 GB (taken as 5 GiB, S3's largest single PUT).
pub const FILE_LIMIT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// One status's result files, written a value at a time and taken out in parts as they
/// fill, so that no tree of all the records, nor a whole file, is ever held: JSON arrays
/// (or JSON Lines), a new file where the current one would pass the file limit.
#[derive(Debug, Clone)]
pub struct Body {
    /// Text not taken yet.
    buffer: String,
    json_lines: bool,
    limit: u64,
    /// The current file: its index, its records, its bytes so far (taken ones included).
    file: usize,
    count: usize,
    bytes: u64,
}

/// A file a [`Body`] closed: its index and its last text (its remaining part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// `n` of `<STATUS>_<n>.json`.
    pub file: usize,
    /// The text not taken yet, which ends the file.
    pub tail: String,
    /// The file's size in bytes.
    pub size: u64,
}

impl Body {
    /// An empty file, split at AWS's limit.
    pub fn new(json_lines: bool) -> Body {
        Body::with_limit(json_lines, FILE_LIMIT_BYTES)
    }

    /// An empty file, split at `limit` bytes.
    pub fn with_limit(json_lines: bool, limit: u64) -> Body {
        Body { buffer: String::new(), json_lines, limit, file: 0, count: 0, bytes: 0 }
    }

    /// The same, numbering its files from `file` (files `0..file` exist already).
    pub fn starting_at(mut self, file: usize) -> Body {
        self.file = file;
        self
    }

    /// Whether files are JSON Lines.
    pub fn json_lines(&self) -> bool {
        self.json_lines
    }

    /// The index of the file being written.
    pub fn file(&self) -> usize {
        self.file
    }

    /// Appends a value; when it would take the file past the limit, the file is closed
    /// first (and returned) and the value starts the next one.
    pub fn push(&mut self, value: &Value) -> Option<Closed> {
        let text = value.to_string();
        // A record, its separator (`[` or `,`, or the line end), and the array's `]`.
        let needs = text.len() as u64 + 1 + u64::from(!self.json_lines);
        let closed = if self.count > 0 && self.bytes + needs > self.limit { self.close() } else { None };
        let separator = match (self.json_lines, self.count) {
            (true, _) => "",
            (false, 0) => "[",
            (false, _) => ",",
        };
        self.buffer.push_str(separator);
        self.buffer.push_str(&text);
        if self.json_lines {
            self.buffer.push('\n');
        }
        self.bytes += (separator.len() + text.len() + usize::from(self.json_lines)) as u64;
        self.count += 1;
        closed
    }

    /// The text written so far, once it is at least `min` bytes (a part to upload).
    pub fn take_part(&mut self, min: usize) -> Option<String> {
        (self.buffer.len() >= min && min > 0).then(|| std::mem::take(&mut self.buffer))
    }

    /// Closes the current file (none when it holds no record).
    fn close(&mut self) -> Option<Closed> {
        if self.count == 0 {
            return None;
        }
        if !self.json_lines {
            self.buffer.push(']');
            self.bytes += 1;
        }
        let closed = Closed { file: self.file, tail: std::mem::take(&mut self.buffer), size: self.bytes };
        self.file += 1;
        self.count = 0;
        self.bytes = 0;
        Some(closed)
    }

    /// The end: the last file, if it holds a record.
    pub fn finish(mut self) -> Option<Closed> {
        self.close()
    }
}

/// A result file's key: `<folder><STATUS>_<n>.json` (`.jsonl` for JSON Lines).
pub fn file_key(folder: &str, status: &str, file: usize, json_lines: bool) -> String {
    let extension = if json_lines { "jsonl" } else { "json" };
    format!("{folder}{status}_{file}.{extension}")
}

/// One file written: its status group, its key, its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFile {
    /// `SUCCEEDED`, `FAILED` or `PENDING`.
    pub status: &'static str,
    /// The object key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
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

/// `manifest.json`: the bucket, the Map Run, and each status's files (key and size).
pub fn manifest(bucket: &str, map_run_arn: &str, files: &[ResultFile]) -> Value {
    let list = |status: &str| -> Vec<Value> {
        files.iter().filter(|f| f.status == status).map(|f| json!({"Key": f.key, "Size": f.size})).collect()
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
            redrive_count: 0,
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

    /// Writes `values` and takes parts of at least `part` bytes: each file's text, whole.
    fn written(mut body: Body, values: &[Value], part: usize) -> Vec<(usize, String, u64)> {
        let mut files: Vec<(usize, String, u64)> = Vec::new();
        let mut current = String::new();
        for value in values {
            if let Some(closed) = body.push(value) {
                current.push_str(&closed.tail);
                files.push((closed.file, std::mem::take(&mut current), closed.size));
            }
            if let Some(text) = body.take_part(part) {
                current.push_str(&text);
            }
        }
        if let Some(closed) = body.finish() {
            current.push_str(&closed.tail);
            files.push((closed.file, current, closed.size));
        }
        files
    }

    #[test]
    fn files_split_at_the_limit_and_come_out_in_parts() {
        let values: Vec<Value> = (0..10).map(|i| json!({"n": i})).collect();
        // Each record `{"n":i}` is 7 bytes; with `[`, the commas and `]`, 3 make 25 bytes.
        let files = written(Body::with_limit(false, 25), &values, 5);
        assert_eq!(files.len(), 4, "{files:?}");
        for (index, (file, text, size)) in files.iter().enumerate() {
            assert_eq!(*file, index);
            assert_eq!(text.len() as u64, *size, "the size counts every byte of {text}");
            assert!(*size <= 25, "{text}");
            let parsed: Value = serde_json::from_str(text).unwrap();
            assert!(parsed.is_array());
        }
        let all: Vec<Value> =
            files.iter().flat_map(|(_, t, _)| serde_json::from_str::<Vec<Value>>(t).unwrap()).collect();
        assert_eq!(all, values, "every record once, in order");
        let lines = written(Body::with_limit(true, 16), &values, 1);
        assert_eq!(lines.iter().map(|(_, t, _)| t.as_str()).collect::<Vec<_>>()[0], "{\"n\":0}\n{\"n\":1}\n");
        assert_eq!(lines.len(), 5);
        // A record larger than the limit still gets a file of its own.
        let big = written(Body::with_limit(false, 4), &values[..2], 1000);
        assert_eq!(big.iter().map(|(_, t, _)| t.as_str()).collect::<Vec<_>>(), ["[{\"n\":0}]", "[{\"n\":1}]"]);
        assert!(Body::new(false).finish().is_none(), "no record, no file");
        assert_eq!(file_key("p/", "FAILED", 2, true), "p/FAILED_2.jsonl");
    }

    #[test]
    fn folders_and_manifest() {
        let arn = "arn:aws:states:us-east-1:1:mapRun:m/l:abc";
        assert_eq!(folder("out", arn), "out/abc/");
        assert_eq!(folder("out/", arn), "out/abc/");
        assert_eq!(folder("", arn), "abc/");
        let made = [ResultFile { status: "SUCCEEDED", key: "out/abc/SUCCEEDED_0.json".into(), size: 3 }];
        let manifest = manifest("b", arn, &made);
        assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([{"Key": "out/abc/SUCCEEDED_0.json", "Size": 3}]));
        assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    }
}
