//! Snapshots (`expect: { snapshot: true }`): a case's end and history, in AWS's
//! `GetExecutionHistory` shape, kept in `__snapshots__/<test file>/<case>.json` beside the
//! test file and compared on every run. Payloads (JSON text in AWS's history) are kept as
//! JSON, so that a difference inside one is shown where it is. What changes between runs
//! of the same workflow is redacted, as insta does: event times become offsets from the
//! execution's start (`+5.000s`), UUIDs (query ids, `$uuid()`) become `[uuid]`, and the
//! times and durations services report on the wall clock (Athena's `SubmissionDateTime`,
//! `CompletionDateTime`, `*TimeInMillis`; S3's `LastModified`) become `[time]`. A missing
//! or different snapshot fails the case; `--update-snapshots` writes it instead.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sfnlite_states::history::HistoryEvent;

use super::expect::{Mismatch, Observed, differences};

/// Where a case's snapshot lives.
pub(crate) fn path(test_file: &Path, case: &str) -> PathBuf {
    let file = test_file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = [".sfntest.yaml", ".sfntest.yml", ".sfntest.json"]
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))
        .unwrap_or(&file)
        .to_owned();
    let slug: String =
        case.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    // Two names that make one slug (`a: b`, `a? b`) keep files of their own.
    let name = if slug == case {
        slug
    } else {
        let digest = case.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        format!("{slug}-{digest:08x}")
    };
    test_file.parent().unwrap_or(Path::new(".")).join("__snapshots__").join(stem).join(format!("{name}.json"))
}

/// Whether `text` is a UUID (8-4-4-4-12 hexadecimal digits).
fn is_uuid(text: &[u8]) -> bool {
    text.len() == 36
        && text
            .iter()
            .enumerate()
            .all(|(i, b)| if [8, 13, 18, 23].contains(&i) { *b == b'-' } else { b.is_ascii_hexdigit() })
}

/// `text` with every UUID in it replaced by `[uuid]`.
fn redact_uuids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len()
            && is_uuid(&bytes[i..i + 36])
            && text.is_char_boundary(i)
            && text.is_char_boundary(i + 36)
        {
            out.push_str("[uuid]");
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// Fields whose values are times or durations on the wall clock.
fn wall_clock(key: &str) -> bool {
    matches!(key, "SubmissionDateTime" | "CompletionDateTime" | "LastModified") || key.ends_with("TimeInMillis")
}

/// A value with its UUIDs and wall-clock times redacted, and JSON text (a history's
/// payloads) read as JSON.
fn redact(value: &Value) -> Value {
    match value {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ (Value::Object(_) | Value::Array(_))) => redact(&parsed),
            _ => Value::String(redact_uuids(text)),
        },
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), if wall_clock(k) && !v.is_object() { json!("[time]") } else { redact(v) }))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What a snapshot holds.
pub(crate) fn take(observed: &Observed<'_>, events: &[HistoryEvent]) -> Value {
    let history: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut json = event.to_json();
            if let Value::Object(map) = &mut json {
                let offset = (event.timestamp - observed.start_millis) as f64 / 1000.0;
                map.insert("timestamp".into(), json!(format!("+{offset:.3}s")));
            }
            redact(&json)
        })
        .collect();
    let mut snapshot = Map::new();
    snapshot.insert("status".into(), json!(observed.status));
    if let Some(output) = observed.output {
        snapshot.insert("output".into(), redact(output));
    }
    if let Some(error) = observed.error {
        snapshot.insert("error".into(), json!(error));
    }
    if let Some(cause) = observed.cause {
        snapshot.insert("cause".into(), json!(redact_uuids(cause)));
    }
    snapshot.insert("events".into(), Value::Array(history));
    Value::Object(snapshot)
}

/// Compares `actual` with the stored snapshot (or writes it, with `update`).
pub(crate) fn check(path: &Path, actual: &Value, update: bool) -> Vec<Mismatch> {
    let text = serde_json::to_string_pretty(actual).unwrap_or_default() + "\n";
    let write = || -> Vec<Mismatch> {
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(path, &text));
        match written {
            Ok(()) => Vec::new(),
            Err(e) => vec![Mismatch {
                what: "snapshot".into(),
                expected: format!("to write {}", path.display()),
                actual: e.to_string(),
            }],
        }
    };
    let stored = match std::fs::read_to_string(path) {
        Ok(stored) => stored,
        Err(_) if update => return write(),
        Err(_) => {
            return vec![Mismatch {
                what: "snapshot".into(),
                expected: format!("one at {}", path.display()),
                actual: "none (--update-snapshots writes it)".into(),
            }];
        }
    };
    let stored: Value = match serde_json::from_str(&stored) {
        Ok(value) => value,
        Err(_) if update => return write(),
        Err(e) => {
            return vec![Mismatch {
                what: "snapshot".into(),
                expected: format!("JSON in {}", path.display()),
                actual: e.to_string(),
            }];
        }
    };
    let found = differences(&stored, actual, false);
    if found.is_empty() {
        return Vec::new();
    }
    if update {
        return write();
    }
    found
        .into_iter()
        .map(|(pointer, expected, actual)| Mismatch { what: format!("snapshot {pointer}"), expected, actual })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_redacted_and_snapshots_live_beside_the_test_file() {
        assert_eq!(redact_uuids("s3://b/3c6f1d8e-0b7a-4c2e-9a51-7f2d3e4b5a60.csv and é"), "s3://b/[uuid].csv and é");
        assert_eq!(redact_uuids("3c6f1d8e-0b7a-4c2e-9a51"), "3c6f1d8e-0b7a-4c2e-9a51");
        assert_eq!(
            path(Path::new("tests/orders.sfntest.yaml"), "happy_path"),
            Path::new("tests/__snapshots__/orders/happy_path.json")
        );
        assert_ne!(path(Path::new("t.sfntest.yaml"), "a: b"), path(Path::new("t.sfntest.yaml"), "a? b"));
        assert_eq!(
            redact(
                &json!({"output": "{\"QueryExecution\":{\"Status\":{\"SubmissionDateTime\":1767225600000},\"Statistics\":{\"EngineExecutionTimeInMillis\":12}}}"})
            ),
            json!({"output": {"QueryExecution": {"Status": {"SubmissionDateTime": "[time]"}, "Statistics": {"EngineExecutionTimeInMillis": "[time]"}}}})
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.json");
        assert_eq!(check(&file, &json!({"a": 1}), false)[0].what, "snapshot");
        assert!(check(&file, &json!({"a": 1}), true).is_empty() && file.exists());
        assert!(check(&file, &json!({"a": 1}), false).is_empty());
        assert_eq!(check(&file, &json!({"a": 2}), false)[0].to_string(), "snapshot /a: expected 1, got 2");
    }
}
