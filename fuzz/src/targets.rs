//! The fuzz targets' bodies. Each takes any bytes and must return: no panic, no hang, no
//! unbounded allocation. Inputs that hold two parts (an expression and the JSON it reads)
//! separate them with a newline; the state target separates definition, input and mock
//! with NUL bytes. Used by the libFuzzer binaries (`fuzz/fuzz_targets/`) and by the corpus
//! replay in `engine/tests/integration/fuzz_corpus.rs`, which runs every kept input (and a
//! few thousand mutations of them) in `cargo test`.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use sfnlite_engine::test_state::{TestStateRequest, test_state};
use sfnlite_engine::{Registry, VirtualClock};
use sfnlite_states::choice::ChoiceRule;
use sfnlite_states::diagnostic::Diagnostics;
use sfnlite_states::entropy::SeededEntropy;
use sfnlite_states::eval::test_state_api::{self, Reading};
use sfnlite_states::history::Payload;
use sfnlite_states::json::Json;
use sfnlite_states::jsonata::{Bindings, Expr};
use sfnlite_states::path::{Path, PayloadScope, ReferencePath, Scope};
use sfnlite_states::template::{Template, compile_dynamic};

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets, by name (the libFuzzer binaries' names and the corpus folders').
pub const TARGETS: &[(&str, Target)] = &[
    ("definition", definition),
    ("path", path),
    ("intrinsic", intrinsic),
    ("template", template),
    ("jsonata", jsonata),
    ("choice", choice),
    ("state", state),
    ("mock_config", mock_config),
];

/// The document that expressions read when the input gives none.
fn default_input() -> Value {
    json!({
        "a": 1, "b": "two", "c": [1, 2, 3, {"d": null}], "e": {"f": true, "g": [1.5, -2, "x"]},
        "s": "2026-11-30T08:00:00Z", "n": -0.0, "big": 1e300, "empty": {}, "list": []
    })
}

fn context() -> Value {
    json!({
        "Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:e", "Name": "e",
                      "Input": {"a": 1}, "StartTime": "2026-11-30T08:00:00.000Z", "RoleArn": "r"},
        "State": {"Name": "S", "EnteredTime": "2026-11-30T08:00:00.000Z", "RetryCount": 0},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "Name": "m"},
        "Map": {"Item": {"Index": 0, "Value": {"k": "v"}}}
    })
}

/// `head` up to the first `separator`, and the JSON after it (or the default input).
fn split(data: &[u8], separator: u8) -> Option<(&str, Value)> {
    let text = std::str::from_utf8(data).ok()?;
    match text.split_once(char::from(separator)) {
        Some((head, rest)) => Some((head, serde_json::from_str(rest).unwrap_or_else(|_| default_input()))),
        None => Some((text, default_input())),
    }
}

/// A whole definition: parsing and every validation rule.
pub fn definition(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sfnlite_states::parse_definition(text);
    }
}

/// JSONPath (`Path`: selection, filters, slices) and reference paths (`ResultPath`: read and write).
pub fn path(data: &[u8]) {
    let Some((text, input)) = split(data, b'\n') else { return };
    let context = context();
    if let Ok(path) = Path::parse(text) {
        let _ = path.select(&Scope::new(&input, &context));
        let selected = path.eval(&Scope::new(&input, &context));
        // Over a payload, in either form: the same value or the same miss.
        for payload in payloads(&input) {
            let scope = PayloadScope { input: &payload, context: &context, variables: None };
            let over_payload = path.select_in(&scope).map(|json| json.to_value());
            assert_eq!(over_payload, selected, "{text}");
            assert_eq!(same_text(&over_payload), same_text(&selected), "{text}: key order");
        }
    }
    if let Ok(reference) = ReferencePath::parse(text) {
        let _ = reference.get(&input);
        let _ = reference.set_in_json(&Json::from(&input), Json::from(json!({"written": true})));
    }
}

/// The text of a result (equal values may still differ in key order; the text does not).
fn same_text<E>(result: &Result<Value, E>) -> Option<String> {
    result.as_ref().ok().map(Value::to_string)
}

/// A payload of `input` made in each of its two forms.
fn payloads(input: &Value) -> [Payload; 2] {
    [Payload::new(input.clone()), Payload::from_json(Json::from(input))]
}

/// A `.$` field's value: an intrinsic function call (or a path), evaluated.
pub fn intrinsic(data: &[u8]) {
    let Some((text, input)) = split(data, b'\n') else { return };
    let context = context();
    let mut diags = Diagnostics::default();
    if let Some(field) = compile_dynamic(text, "/States/S/Parameters/x.$", &mut diags) {
        let value = field.eval(&Scope::new(&input, &context), &SeededEntropy::new(7), "x.$");
        for payload in payloads(&input) {
            let scope = PayloadScope { input: &payload, context: &context, variables: None };
            let json = field.eval_in(&scope, &SeededEntropy::new(7), "x.$");
            let json = json.map(|json| json.to_value());
            assert_eq!(json, value, "{text}");
            assert_eq!(same_text(&json), same_text(&value), "{text}: key order");
        }
    }
}

/// A payload template (`Parameters`, `ResultSelector`, `ItemSelector`): compiled and rendered.
pub fn template(data: &[u8]) {
    let Some((text, input)) = split(data, b'\n') else { return };
    let Ok(value) = serde_json::from_str::<Value>(text) else { return };
    let context = context();
    let mut diags = Diagnostics::default();
    let template = Template::compile(&value, "/States/S/Parameters", &mut diags);
    if !diags.has_errors() {
        let value = template.render(&Scope::new(&input, &context), &SeededEntropy::new(7));
        for payload in payloads(&input) {
            let scope = PayloadScope { input: &payload, context: &context, variables: None };
            let json = template.render_in(&scope, &SeededEntropy::new(7)).map(|json| json.to_value());
            assert_eq!(json, value, "{text}");
            assert_eq!(same_text(&json), same_text(&value), "{text}: key order");
        }
    }
}

/// A JSONata expression, through `states` (its bounds, functions and `$states`).
pub fn jsonata(data: &[u8]) {
    let Some((text, input)) = split(data, b'\n') else { return };
    let Ok(expr) = Expr::parse(text) else { return };
    let states = json!({"input": input, "context": context()});
    let mut variables = Map::new();
    variables.insert("x".into(), json!([1, "a", {"b": 2}]));
    let bindings = Bindings {
        states: &states,
        variables: &variables,
        entropy: &SeededEntropy::new(7),
        now_millis: 1_796_025_600_000,
    };
    // 50 ms instead of 500: an input that runs to the bound is the bound working, and a
    // shorter one lets the fuzzer try ten times as many.
    let _ = expr.eval_within(&bindings, "Output", 50);
}

/// A Choice rule: parsed (top level, so with `Next`) and evaluated.
pub fn choice(data: &[u8]) {
    let Some((text, input)) = split(data, b'\n') else { return };
    let Ok(value) = serde_json::from_str::<Value>(text) else { return };
    let context = context();
    let mut diags = Diagnostics::default();
    if let Some(rule) = ChoiceRule::parse(&value, "/States/C/Choices/0", true, &mut diags) {
        let holds = rule.evaluate(&Scope::new(&input, &context));
        for payload in payloads(&input) {
            let scope = PayloadScope { input: &payload, context: &context, variables: None };
            assert_eq!(rule.evaluate(&scope), holds, "{text}");
        }
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a current-thread runtime")
    })
}

/// One state run as TestState runs it: `definition NUL input NUL mock`, where the
/// definition is one state or a whole machine, and the mock is TestState's `mock` object.
pub fn state(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == 0);
    let Some(Ok(definition)) = parts.next().map(std::str::from_utf8) else { return };
    let input = parts.next().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_else(default_input);
    let mock = parts
        .next()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| test_state_api::mock(&v, Reading::TestFile).ok());
    let request = TestStateRequest {
        definition: definition.to_owned(),
        input,
        variables: Map::new(),
        mock,
        region: "us-east-1".into(),
        ..TestStateRequest::default()
    };
    let registry = Registry::new();
    let clock = VirtualClock::starting_at(1_796_025_600_000);
    let _ = runtime().block_on(test_state(&registry, &clock, 7, &request));
}

/// A Step Functions Local MockConfigFile, and its first test case selected.
pub fn mock_config(data: &[u8]) {
    let Ok(config) = serde_json::from_slice::<Value>(data) else { return };
    let case = config
        .get("StateMachines")
        .and_then(Value::as_object)
        .and_then(|machines| machines.values().next())
        .and_then(|machine| machine.get("TestCases"))
        .and_then(Value::as_object)
        .and_then(|cases| cases.keys().next().cloned())
        .unwrap_or_else(|| "Case".into());
    let _ = sfnlite_engine::mock::MockAdapter::from_config(&config, None, &case);
}
