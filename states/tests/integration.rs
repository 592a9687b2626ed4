//! The JSONata reference test suite (`../shared/jsonata-suite`, data from jsonata-js) run
//! against the JSONata engine sfnlite uses. AWS runs JSONata 2.0.6; the bar is 99.5% of
//! the cases.
//!
//! `cargo test -p sfnlite-states --test integration jsonata_reference_suite -- --nocapture`
//! prints the figure and every failing case.
//!
//! Also `purity`: the crate reaches for no IO, clock, environment or OS randomness.
//!
//! The tests read files and run `cargo tree`; the library may not (`states/clippy.toml`).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

mod purity;

use std::collections::BTreeMap;
use std::path::Path;

use jsonata_core::evaluator::{Context, Evaluator, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::Value;

enum Outcome {
    Pass,
    Fail(String),
}

fn expected_code(case: &Value) -> Option<&str> {
    case.get("code").and_then(Value::as_str).or_else(|| case.get("error")?.get("code")?.as_str())
}

fn input_of(case: &Value, datasets: &BTreeMap<String, String>) -> Result<JValue, String> {
    if let Some(name) = case.get("dataset").and_then(Value::as_str) {
        let text = datasets.get(name).ok_or_else(|| format!("no dataset {name}"))?;
        return JValue::from_json_str(text).map_err(|e| e.to_string());
    }
    match case.get("data") {
        Some(data) if !(data.is_null() && case.get("dataset").is_some()) => Ok(JValue::from(data.clone())),
        _ => Ok(JValue::Undefined),
    }
}

fn same(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => expected == got,
    }
}

fn run_case(case: &Value, datasets: &BTreeMap<String, String>) -> Outcome {
    let expr = case["expr"].as_str().unwrap_or_default();
    let code = expected_code(case);
    // Through the same rewrite as every expression sfnlite evaluates (its size guards).
    let ast = match sfnlite_states::jsonata::parse_guarded(expr) {
        Ok(ast) => ast,
        Err(e) => {
            let message = e.to_string();
            return match code {
                Some(c) if message.contains(c) => Outcome::Pass,
                _ => Outcome::Fail(format!("parse error {message}")),
            };
        }
    };
    let data = match input_of(case, datasets) {
        Ok(data) => data,
        Err(e) => return Outcome::Fail(e),
    };
    let mut context = Context::new();
    if let Some(Value::Object(bindings)) = case.get("bindings") {
        for (name, value) in bindings {
            context.bind(name.clone(), JValue::from(value.clone()));
        }
    }
    let options = EvaluatorOptions {
        timeout_ms: case.get("timelimit").and_then(Value::as_u64),
        max_stack_depth: case.get("depth").and_then(Value::as_u64).map(|d| d as usize),
        ..EvaluatorOptions::default()
    };
    let mut evaluator = Evaluator::with_options(context, options);
    sfnlite_states::jsonata::register_guards(&mut evaluator);
    match evaluator.evaluate(&ast, &data) {
        Err(e) => match code {
            Some(c) if e.code() == Some(c) || e.to_string().contains(c) => Outcome::Pass,
            _ => Outcome::Fail(format!("error {e}")),
        },
        Ok(_) if code.is_some() => Outcome::Fail(format!("expected error {}", code.unwrap_or_default())),
        Ok(value) if case.get("undefinedResult").and_then(Value::as_bool) == Some(true) => {
            if matches!(value, JValue::Undefined) { Outcome::Pass } else { Outcome::Fail("expected undefined".into()) }
        }
        Ok(value) => {
            let got = Value::from(&value);
            match case.get("result") {
                Some(expected) if same(expected, &got) => Outcome::Pass,
                Some(expected) => Outcome::Fail(format!("expected {expected}, got {got}")),
                None => Outcome::Fail("the case has no expectation".into()),
            }
        }
    }
}

#[test]
fn jsonata_reference_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/jsonata-suite");
    assert!(root.exists(), "the JSONata suite is missing at {} (../shared beside the repository)", root.display());
    let mut datasets = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("datasets")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        datasets.insert(name, std::fs::read_to_string(&path).unwrap());
    }
    let mut groups: Vec<_> = std::fs::read_dir(root.join("groups")).unwrap().map(|e| e.unwrap().path()).collect();
    groups.sort();
    let (mut passed, mut failures) = (0usize, Vec::new());
    for group in groups {
        let mut files: Vec<_> = std::fs::read_dir(&group)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let name = format!(
                "{}/{}",
                group.file_name().unwrap().to_string_lossy(),
                file.file_name().unwrap().to_string_lossy()
            );
            // Two cases hold lone UTF-16 surrogates, which JSON text in Rust cannot carry.
            let cases = match serde_json::from_str::<Value>(&std::fs::read_to_string(&file).unwrap()) {
                Ok(Value::Array(cases)) => cases,
                Ok(case) => vec![case],
                Err(e) => {
                    failures.push(format!("{name}: unreadable: {e}"));
                    continue;
                }
            };
            for (i, mut case) in cases.into_iter().enumerate() {
                if let Some(expr_file) = case.get("expr-file").and_then(Value::as_str) {
                    case["expr"] = Value::String(std::fs::read_to_string(group.join(expr_file)).unwrap());
                }
                match run_case(&case, &datasets) {
                    Outcome::Pass => passed += 1,
                    Outcome::Fail(why) => failures.push(format!("{name}#{i}: {why}")),
                }
            }
        }
    }
    let total = passed + failures.len();
    for failure in &failures {
        eprintln!("FAIL {failure}");
    }
    let rate = passed as f64 * 100.0 / total as f64;
    eprintln!("JSONata suite: {passed} passed, {} failed ({rate:.2}%)", failures.len());
    assert!(rate >= 99.5, "JSONata suite pass rate {rate:.2}% is below 99.5%");
}
