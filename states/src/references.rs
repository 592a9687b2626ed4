//! Which workflow variables each state reads (DescribeStateMachine's `variableReferences`):
//! `$name` in paths, intrinsic functions and JSONata expressions, by state name, nested
//! states under their own names.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The variables each state references, for states that reference any.
pub fn variable_references(definition: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    machine(definition, &mut out);
    out
}

const NESTED: [&str; 3] = ["ItemProcessor", "Iterator", "Branches"];

fn machine(value: &Value, out: &mut BTreeMap<String, BTreeSet<String>>) {
    let Some(states) = value.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let mut found = BTreeSet::new();
        if let Value::Object(fields) = state {
            for (key, field) in fields {
                match key.as_str() {
                    "ItemProcessor" | "Iterator" => machine(field, out),
                    "Branches" => field.as_array().into_iter().flatten().for_each(|b| machine(b, out)),
                    _ => collect(key, field, &mut found),
                }
            }
        }
        if !found.is_empty() {
            out.entry(name.clone()).or_default().extend(found);
        }
    }
}

fn collect(key: &str, value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::String(text) if text.starts_with("{%") && text.ends_with("%}") => scan(text, true, found),
        Value::String(text) if key.ends_with(".$") || key.ends_with("Path") || key == "Variable" => {
            scan(text, false, found)
        }
        Value::Object(fields) => {
            for (key, field) in fields.iter().filter(|(k, _)| !NESTED.contains(&k.as_str())) {
                collect(key, field, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(key, item, found)),
        _ => {}
    }
}

/// `$name` references in a path or an expression (`$$`, `$.x`, `$[0]`; in JSONata also
/// `$states` and function calls `$f(`, are not variables).
fn scan(text: &str, jsonata: bool, found: &mut BTreeSet<String>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || (i > 0 && bytes[i - 1] == b'$') || bytes.get(i + 1) == Some(&b'$') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &text[start..end];
        let starts_well = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        let call = jsonata && bytes.get(end) == Some(&b'(');
        if starts_well && !call && !(jsonata && name == "states") {
            found.insert(name.to_owned());
        }
        i = end.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_by_state_in_paths_intrinsics_and_jsonata() {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "InputPath": "$answer", "Parameters": {"x.$": "States.MathAdd($a, $b)", "y.$": "$.z"},
                  "Assign": {"answer": 1}, "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$list", "ItemProcessor": {"StartAt": "In", "States": {
                "In": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $sum($states.input) + $bias %}", "End": true}}},
                  "End": true}
        }});
        let refs = variable_references(&definition);
        let names = |s: &str| refs[s].iter().cloned().collect::<Vec<_>>();
        assert_eq!(names("A"), vec!["a", "answer", "b"]);
        assert_eq!(names("M"), vec!["list"]);
        assert_eq!(names("In"), vec!["bias"]);
        assert_eq!(refs.len(), 3);
    }
}
