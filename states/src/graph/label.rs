//! The text along an edge: a Choice rule written short (`$.n > 3`, `{% … %}`'s text), or a
//! Catcher's errors.

use serde_json::Value;

/// The longest label, in characters; longer ones end with `…`.
const MAX_CHARS: usize = 32;

/// A Choice rule as a short condition.
pub(super) fn choice_rule(rule: &Value) -> String {
    shorten(&condition(rule, 0))
}

/// A Catcher's `ErrorEquals`, joined.
pub(super) fn errors(catcher: &Value) -> String {
    let names: Vec<&str> =
        catcher.get("ErrorEquals").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    shorten(&names.join(", "))
}

fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() { format!("{}…", head.trim_end()) } else { head }
}

/// Operators by symbol, longest suffix first; the `…Path` forms compare with a path's value.
const OPERATORS: &[(&str, &str)] =
    &[("LessThanEquals", "<="), ("GreaterThanEquals", ">="), ("LessThan", "<"), ("GreaterThan", ">"), ("Equals", "==")];

fn condition(rule: &Value, depth: usize) -> String {
    if depth > 4 {
        return "…".into();
    }
    if let Some(text) = rule.get("Condition") {
        return match text.as_str() {
            Some(t) => crate::jsonata::expression_text(t).unwrap_or(t).to_owned(),
            None => text.to_string(),
        };
    }
    let joined = |key: &str, op: &str| {
        rule.get(key).and_then(Value::as_array).map(|rules| {
            let parts: Vec<String> = rules.iter().map(|r| condition(r, depth + 1)).collect();
            format!("({})", parts.join(op))
        })
    };
    if let Some(text) = joined("And", " && ").or_else(|| joined("Or", " || ")) {
        return text;
    }
    if let Some(inner) = rule.get("Not") {
        return format!("!{}", condition(inner, depth + 1));
    }
    let variable = rule.get("Variable").and_then(Value::as_str).unwrap_or("?");
    let Some((key, value)) = rule.as_object().and_then(|o| {
        o.iter().find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment" | "Assign" | "Output"))
    }) else {
        return variable.to_owned();
    };
    let shown = |v: &Value| match v {
        Value::String(s) if key.ends_with("Path") => s.clone(),
        other => other.to_string(),
    };
    let operator = key.strip_suffix("Path").unwrap_or(key);
    if let Some(test) = operator.strip_prefix("Is") {
        let negated = value == &Value::Bool(false);
        return format!("{variable} is {}{}", if negated { "not " } else { "" }, test.to_lowercase());
    }
    if operator == "StringMatches" {
        return format!("{variable} matches {}", shown(value));
    }
    match OPERATORS.iter().find(|(suffix, _)| operator.ends_with(suffix)) {
        Some((_, symbol)) => format!("{variable} {symbol} {}", shown(value)),
        None => format!("{variable} {key} {}", shown(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_are_written_short() {
        assert_eq!(choice_rule(&json!({"Variable": "$.t", "StringEquals": "a", "Next": "X"})), r#"$.t == "a""#);
        assert_eq!(choice_rule(&json!({"Variable": "$.t", "NumericLessThanEqualsPath": "$.max"})), "$.t <= $.max");
        assert_eq!(choice_rule(&json!({"Variable": "$.t", "IsPresent": false})), "$.t is not present");
        assert_eq!(
            choice_rule(
                &json!({"And": [{"Variable": "$.a", "BooleanEquals": true}, {"Not": {"Variable": "$.b", "IsNull": true}}]})
            ),
            "($.a == true && !$.b is null)"
        );
        assert_eq!(choice_rule(&json!({"Condition": "{% $states.input.n > 3 %}"})), "$states.input.n > 3");
        assert_eq!(choice_rule(&json!({"Variable": "$.s", "StringMatches": "a*"})), r#"$.s matches "a*""#);
        let long = choice_rule(&json!({"Variable": "$.a_long_variable_name", "StringEquals": "and on and on"}));
        assert!(long.ends_with('…') && long.chars().count() <= MAX_CHARS + 1, "{long}");
        assert_eq!(errors(&json!({"ErrorEquals": ["A", "B"]})), "A, B");
    }
}
