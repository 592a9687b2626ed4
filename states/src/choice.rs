//! Choice rules (JSONPath query language): parsing with validation, and evaluation.
//!
//! A rule is parsed once, when the definition is loaded, into a [`ChoiceRule`] that holds
//! compiled [`Path`]s and typed literals; [`ChoiceRule::evaluate`] then only reads the
//! input. JSONata `Condition` rules are not handled here.
//!
//! Behaviour, as recorded against AWS (`choice_operators_*` conformance cases):
//! - A comparison whose `Variable` (or `…Path` operand) has the wrong type is simply false:
//!   `StringEquals` on a number, `NumericEquals` on `"1"`, `BooleanEquals` on `0`,
//!   `TimestampEquals` on a string that is not a timestamp…
//! - Numbers compare by value: `1` equals `1.0`, `0` equals `0.0`.
//! - `IsPresent` is the only test that tolerates a missing `Variable`; every other test,
//!   and a missing `…Path` operand, fails the state with `States.Runtime`:
//!   "Invalid path '$.x': The choice state's condition path references an invalid value."
//! - `And` and `Or` short-circuit, so `IsPresent` can guard a later comparison.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::diagnostic::{DiagnosticCode, Diagnostics, child};
use crate::error::EvalError;
use crate::path::{Path, Selects};
use crate::timestamp::{EpochNanos, parse_iso8601};

/// One Choice rule (top-level rules also carry `Next`, handled by the caller).
#[derive(Debug, Clone)]
pub enum ChoiceRule {
    /// `And`: true when every rule is true (evaluated in order, stopping at the first false).
    And(Vec<ChoiceRule>),
    /// `Or`: true when one rule is true (evaluated in order, stopping at the first true).
    Or(Vec<ChoiceRule>),
    /// `Not`: the negation of one rule.
    Not(Box<ChoiceRule>),
    /// `Variable` with one comparison operator.
    Comparison {
        /// `Variable`: what the test looks at.
        variable: Path,
        /// The comparison operator and its operand.
        test: Test,
    },
}

/// A comparison operator with its operand, named as in ASL (a `…Path` operator is the
/// plain one with an [`Operand::Path`]).
#[derive(Debug, Clone)]
pub enum Test {
    /// `StringEquals`, `StringLessThan`, `StringGreaterThan`, `StringLessThanEquals`,
    /// `StringGreaterThanEquals` and their `…Path` forms. Ordering compares UTF-16 code
    /// units, as Java's `String.compareTo` does.
    String(Relation, Operand<Box<str>>),
    /// `StringMatches` (ASL has no `StringMatchesPath`).
    StringMatches(StringPattern),
    /// `NumericEquals`, `NumericLessThan`, … and their `…Path` forms.
    Numeric(Relation, Operand<Number>),
    /// `BooleanEquals` and `BooleanEqualsPath`.
    BooleanEquals(Operand<bool>),
    /// `TimestampEquals`, `TimestampLessThan`, … and their `…Path` forms.
    Timestamp(Relation, Operand<EpochNanos>),
    /// `IsNull`: whether the value is `null` (or, with `false`, is not).
    IsNull(bool),
    /// `IsPresent`: whether `Variable` selects anything.
    IsPresent(bool),
    /// `IsNumeric`: whether the value is a number.
    IsNumeric(bool),
    /// `IsString`: whether the value is a string.
    IsString(bool),
    /// `IsBoolean`: whether the value is `true` or `false`.
    IsBoolean(bool),
    /// `IsTimestamp`: whether the value is a string holding a valid timestamp.
    IsTimestamp(bool),
}

/// How a `String*`, `Numeric*` or `Timestamp*` comparison relates `Variable` to its operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `…Equals`.
    Equals,
    /// `…LessThan`.
    LessThan,
    /// `…GreaterThan`.
    GreaterThan,
    /// `…LessThanEquals`.
    LessThanEquals,
    /// `…GreaterThanEquals`.
    GreaterThanEquals,
}

impl Relation {
    /// The relation's part of the operator name, e.g. `LessThanEquals`.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Equals => "Equals",
            Relation::LessThan => "LessThan",
            Relation::GreaterThan => "GreaterThan",
            Relation::LessThanEquals => "LessThanEquals",
            Relation::GreaterThanEquals => "GreaterThanEquals",
        }
    }

    fn from_suffix(text: &str) -> Option<Relation> {
        [
            Relation::Equals,
            Relation::LessThan,
            Relation::GreaterThan,
            Relation::LessThanEquals,
            Relation::GreaterThanEquals,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }

    /// Whether `variable.cmp(operand) == ordering` satisfies the relation.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equals => ordering.is_eq(),
            Relation::LessThan => ordering.is_lt(),
            Relation::GreaterThan => ordering.is_gt(),
            Relation::LessThanEquals => ordering.is_le(),
            Relation::GreaterThanEquals => ordering.is_ge(),
        }
    }
}

/// The second operand of a comparison: a literal, or (for `…Path` operators) a path read
/// from the same scope as `Variable`.
#[derive(Debug, Clone)]
pub enum Operand<T> {
    /// The literal from the definition.
    Value(T),
    /// The path of a `…Path` operator.
    Path(Path),
}

/// A compiled `StringMatches` pattern: `*` matches any run of characters (including none);
/// a backslash makes the next character literal (`\*` is a star, `\\` a backslash).
/// No other character is special, and matching is case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringPattern {
    text: Box<str>,
    /// The literal pieces between the wildcards (one more than there are wildcards).
    parts: Vec<Box<str>>,
}

impl StringPattern {
    /// Compiles a pattern. A trailing lone backslash stands for itself.
    pub fn parse(text: &str) -> StringPattern {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => parts.push(std::mem::take(&mut current).into_boxed_str()),
                '\\' => current.push(chars.next().unwrap_or('\\')),
                c => current.push(c),
            }
        }
        parts.push(current.into_boxed_str());
        StringPattern { text: text.into(), parts }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `text` matches the pattern.
    pub fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.parts.split_first() else {
            return text.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == &**first;
        };
        // Anchor the literal prefix and suffix; the pieces between wildcards can then be
        // found greedily, leftmost first.
        let Some(remaining) = text.strip_prefix(&**first) else {
            return false;
        };
        let Some(mut remaining) = remaining.strip_suffix(&**last) else {
            return false;
        };
        for part in middle {
            match remaining.find(&**part) {
                Some(at) => remaining = &remaining[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// The kind of value a comparison operator takes, before its literal is read.
#[derive(Clone, Copy)]
enum Kind {
    String(Relation),
    StringMatches,
    Numeric(Relation),
    BooleanEquals,
    Timestamp(Relation),
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

/// Recognizes a comparison operator name: the kind, and whether it is a `…Path` form.
fn operator_kind(name: &str) -> Option<(Kind, bool)> {
    let simple = match name {
        "StringMatches" => Some(Kind::StringMatches),
        "IsNull" => Some(Kind::IsNull),
        "IsPresent" => Some(Kind::IsPresent),
        "IsNumeric" => Some(Kind::IsNumeric),
        "IsString" => Some(Kind::IsString),
        "IsBoolean" => Some(Kind::IsBoolean),
        "IsTimestamp" => Some(Kind::IsTimestamp),
        _ => None,
    };
    if let Some(kind) = simple {
        return Some((kind, false));
    }
    let (base, is_path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    if base == "BooleanEquals" {
        return Some((Kind::BooleanEquals, is_path));
    }
    let kind = if let Some(rel) = base.strip_prefix("String") {
        Kind::String(Relation::from_suffix(rel)?)
    } else if let Some(rel) = base.strip_prefix("Numeric") {
        Kind::Numeric(Relation::from_suffix(rel)?)
    } else if let Some(rel) = base.strip_prefix("Timestamp") {
        Kind::Timestamp(Relation::from_suffix(rel)?)
    } else {
        return None;
    };
    Some((kind, is_path))
}

/// Reads the literal (or path) of a comparison operator. `name` is the field name,
/// `location` where its value sits.
fn parse_test(
    kind: Kind,
    is_path: bool,
    name: &str,
    value: &Value,
    location: &str,
    diags: &mut Diagnostics,
) -> Option<Test> {
    if is_path {
        let Some(text) = value.as_str() else {
            type_error(diags, location, name, "STRING");
            return None;
        };
        let path = match Path::parse(text) {
            Ok(path) => path,
            Err(e) => {
                diags.error(
                    DiagnosticCode::InvalidJsonPath,
                    location,
                    format!("The value for the field '{name}' must be a valid JSONPath: {e}"),
                );
                return None;
            }
        };
        return Some(match kind {
            Kind::String(rel) => Test::String(rel, Operand::Path(path)),
            Kind::Numeric(rel) => Test::Numeric(rel, Operand::Path(path)),
            Kind::BooleanEquals => Test::BooleanEquals(Operand::Path(path)),
            Kind::Timestamp(rel) => Test::Timestamp(rel, Operand::Path(path)),
            _ => unreachable!("only comparisons have a Path form"),
        });
    }
    let test = match kind {
        Kind::String(rel) => value.as_str().map(|s| Test::String(rel, Operand::Value(s.into()))),
        Kind::StringMatches => value.as_str().map(|s| Test::StringMatches(StringPattern::parse(s))),
        Kind::Numeric(rel) => value.as_number().map(|n| Test::Numeric(rel, Operand::Value(n.clone()))),
        Kind::Timestamp(rel) => match value.as_str() {
            Some(text) => {
                let nanos = parse_iso8601(text);
                if nanos.is_none() {
                    diags.error(
                        DiagnosticCode::SchemaValidationFailed,
                        location,
                        format!(
                            "The value for the field '{name}' must be an ISO 8601 timestamp such as 2016-03-14T01:59:00Z, not '{text}'"
                        ),
                    );
                }
                return nanos.map(|n| Test::Timestamp(rel, Operand::Value(n)));
            }
            None => None,
        },
        Kind::BooleanEquals => value.as_bool().map(|b| Test::BooleanEquals(Operand::Value(b))),
        Kind::IsNull => value.as_bool().map(Test::IsNull),
        Kind::IsPresent => value.as_bool().map(Test::IsPresent),
        Kind::IsNumeric => value.as_bool().map(Test::IsNumeric),
        Kind::IsString => value.as_bool().map(Test::IsString),
        Kind::IsBoolean => value.as_bool().map(Test::IsBoolean),
        Kind::IsTimestamp => value.as_bool().map(Test::IsTimestamp),
    };
    if test.is_none() {
        let expected = match kind {
            Kind::String(_) | Kind::StringMatches | Kind::Timestamp(_) => "STRING",
            Kind::Numeric(_) => "NUMBER",
            _ => "BOOLEAN",
        };
        type_error(diags, location, name, expected);
    }
    test
}

fn type_error(diags: &mut Diagnostics, location: &str, name: &str, expected: &str) {
    diags.error(
        DiagnosticCode::SchemaValidationFailed,
        location,
        format!("The value for the field '{name}' must be a {expected}"),
    );
}

/// What one operator field of a rule parsed to.
enum Parsed {
    Rule(ChoiceRule),
    Test(Test),
}

/// Parses the array of `And` / `Or`.
fn parse_list(name: &str, value: &Value, location: &str, diags: &mut Diagnostics) -> Option<Vec<ChoiceRule>> {
    let Some(items) = value.as_array() else {
        diags.error(
            DiagnosticCode::SchemaValidationFailed,
            location,
            format!("The value for the field '{name}' must be an ARRAY of Choice Rules"),
        );
        return None;
    };
    if items.is_empty() {
        diags.error(
            DiagnosticCode::SchemaValidationFailed,
            location,
            format!("The field '{name}' should be non-empty"),
        );
        return None;
    }
    let mut rules = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match ChoiceRule::parse(item, &child(location, i), false, diags) {
            Some(rule) => rules.push(rule),
            None => ok = false,
        }
    }
    ok.then_some(rules)
}

impl ChoiceRule {
    /// Parses a rule object. `location` is where `value` sits in the definition (e.g. "/States/C/Choices/0").
    ///
    /// `top_level` is true for elements of `Choices`: they must have a string `Next`
    /// (reported here when missing or not a string; the caller reads and resolves it) and
    /// may have `Assign` (read by the caller). Nested rules inside `And`/`Or`/`Not` must
    /// have neither. Any rule may have a string `Comment`.
    ///
    /// A rule has exactly one of `And`, `Or`, `Not` or a comparison operator; a comparison
    /// also needs `Variable`, which `And`/`Or`/`Not` must not have. Every problem is
    /// reported into `diags` (`INVALID_JSON_PATH` for a malformed path, otherwise
    /// `SCHEMA_VALIDATION_FAILED`) at the location of the offending field, or of the rule
    /// when a field is missing. Returns `None` when anything in the rule, nested rules
    /// included, was reported.
    pub fn parse(value: &Value, location: &str, top_level: bool, diags: &mut Diagnostics) -> Option<ChoiceRule> {
        let Some(map) = value.as_object() else {
            diags.error(DiagnosticCode::SchemaValidationFailed, location, "A Choice Rule must be an OBJECT");
            return None;
        };
        let mut ok = true;
        // `Some(None)`: present but unusable (already reported).
        let mut variable: Option<Option<Path>> = None;
        let mut operators: Vec<(&str, Option<Parsed>)> = Vec::with_capacity(1);
        for (key, item) in map {
            let here = child(location, key);
            match key.as_str() {
                "Next" if top_level => {
                    if !item.is_string() {
                        diags.error(
                            DiagnosticCode::SchemaValidationFailed,
                            here,
                            "The value for the field 'Next' must be a STRING",
                        );
                        ok = false;
                    }
                }
                "Next" => {
                    diags.error(
                        DiagnosticCode::SchemaValidationFailed,
                        here,
                        "The field 'Next' is only supported in a top-level Choice Rule, not inside 'And', 'Or' or 'Not'",
                    );
                    ok = false;
                }
                "Assign" if top_level => {}
                "Comment" => {
                    if !item.is_string() {
                        diags.error(
                            DiagnosticCode::SchemaValidationFailed,
                            here,
                            "The value for the field 'Comment' must be a STRING",
                        );
                        ok = false;
                    }
                }
                "Variable" => {
                    variable = Some(match item.as_str() {
                        Some(text) => match Path::parse(text) {
                            Ok(path) => Some(path),
                            Err(e) => {
                                diags.error(
                                    DiagnosticCode::InvalidJsonPath,
                                    here,
                                    format!("The value for the field 'Variable' must be a valid JSONPath: {e}"),
                                );
                                None
                            }
                        },
                        None => {
                            diags.error(
                                DiagnosticCode::SchemaValidationFailed,
                                here,
                                "The value for the field 'Variable' must be a STRING",
                            );
                            None
                        }
                    });
                }
                "And" => operators.push((
                    key.as_str(),
                    parse_list(key, item, &here, diags).map(|r| Parsed::Rule(ChoiceRule::And(r))),
                )),
                "Or" => operators
                    .push((key.as_str(), parse_list(key, item, &here, diags).map(|r| Parsed::Rule(ChoiceRule::Or(r))))),
                "Not" => {
                    let rule = if item.is_object() {
                        ChoiceRule::parse(item, &here, false, diags).map(|r| Parsed::Rule(ChoiceRule::Not(Box::new(r))))
                    } else {
                        diags.error(
                            DiagnosticCode::SchemaValidationFailed,
                            here,
                            "The value for the field 'Not' must be an OBJECT (one Choice Rule)",
                        );
                        None
                    };
                    operators.push((key.as_str(), rule));
                }
                other => match operator_kind(other) {
                    Some((kind, is_path)) => {
                        operators.push((
                            key.as_str(),
                            parse_test(kind, is_path, other, item, &here, diags).map(Parsed::Test),
                        ));
                    }
                    None => {
                        diags.error(
                            DiagnosticCode::SchemaValidationFailed,
                            here,
                            format!("The field '{other}' is not supported by Step Functions in a Choice Rule"),
                        );
                        ok = false;
                    }
                },
            }
        }
        if top_level && !map.contains_key("Next") {
            diags.error(
                DiagnosticCode::SchemaValidationFailed,
                location,
                "The field 'Next' is required but was missing",
            );
            ok = false;
        }
        if operators.len() != 1 {
            let message = if operators.is_empty() {
                "A Choice Rule must have one of 'And', 'Or', 'Not' or a comparison operator (such as 'StringEquals' with 'Variable')"
                    .to_owned()
            } else {
                let names: Vec<String> = operators.iter().map(|(name, _)| format!("'{name}'")).collect();
                format!(
                    "A Choice Rule must have exactly one of 'And', 'Or', 'Not' or a comparison operator, found {}",
                    names.join(", ")
                )
            };
            diags.error(DiagnosticCode::SchemaValidationFailed, location, message);
            return None;
        }
        let (name, parsed) = operators.pop().expect("exactly one operator");
        let logical = matches!(name, "And" | "Or" | "Not");
        if logical && variable.is_some() {
            diags.error(
                DiagnosticCode::SchemaValidationFailed,
                child(location, "Variable"),
                format!("The field 'Variable' is not supported together with '{name}'"),
            );
            ok = false;
        }
        if !logical && variable.is_none() {
            diags.error(
                DiagnosticCode::SchemaValidationFailed,
                location,
                format!("The field 'Variable' is required with '{name}' but was missing"),
            );
            ok = false;
        }
        match (parsed?, variable) {
            (Parsed::Rule(rule), None) if ok => Some(rule),
            (Parsed::Test(test), Some(Some(variable))) if ok => Some(ChoiceRule::Comparison { variable, test }),
            _ => None,
        }
    }

    /// Evaluates the rule.
    ///
    /// Fails (`States.Runtime`) when a path other than an `IsPresent` `Variable` selects
    /// nothing; a value of the wrong type makes a comparison false.
    pub fn evaluate<'a>(&self, scope: &impl Selects<'a>) -> Result<bool, EvalError> {
        match self {
            ChoiceRule::And(rules) => {
                for rule in rules {
                    if !rule.evaluate(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            ChoiceRule::Or(rules) => {
                for rule in rules {
                    if rule.evaluate(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            ChoiceRule::Not(rule) => Ok(!rule.evaluate(scope)?),
            ChoiceRule::Comparison { variable, test } => compare(variable, test, scope),
        }
    }
}

/// AWS's cause for a path that selects nothing in a Choice rule.
fn invalid_path(path: &Path) -> EvalError {
    EvalError::Runtime(format!("Invalid path '{path}': The choice state's condition path references an invalid value."))
}

fn select<'a>(path: &Path, scope: &impl Selects<'a>) -> Result<Cow<'a, Value>, EvalError> {
    scope.select(path).map_err(|_| invalid_path(path))
}

fn compare<'a>(variable: &Path, test: &Test, scope: &impl Selects<'a>) -> Result<bool, EvalError> {
    let value = match scope.select(variable) {
        Ok(value) => value,
        Err(_) => {
            return match test {
                Test::IsPresent(expected) => Ok(!*expected),
                _ => Err(invalid_path(variable)),
            };
        }
    };
    let value: &Value = &value;
    Ok(match test {
        Test::IsPresent(expected) => *expected,
        Test::IsNull(expected) => value.is_null() == *expected,
        Test::IsNumeric(expected) => value.is_number() == *expected,
        Test::IsString(expected) => value.is_string() == *expected,
        Test::IsBoolean(expected) => value.is_boolean() == *expected,
        Test::IsTimestamp(expected) => value.as_str().and_then(parse_iso8601).is_some() == *expected,
        Test::StringMatches(pattern) => value.as_str().is_some_and(|s| pattern.matches(s)),
        Test::String(relation, operand) => {
            let other;
            let right: Option<&str> = match operand {
                Operand::Value(s) => Some(s),
                Operand::Path(path) => {
                    other = select(path, scope)?;
                    other.as_str()
                }
            };
            match (value.as_str(), right) {
                (Some(left), Some(right)) => match relation {
                    Relation::Equals => left == right,
                    _ => relation.holds(compare_utf16(left, right)),
                },
                _ => false,
            }
        }
        Test::Numeric(relation, operand) => {
            let other;
            let right: Option<&Number> = match operand {
                Operand::Value(n) => Some(n),
                Operand::Path(path) => {
                    other = select(path, scope)?;
                    match &*other {
                        Value::Number(n) => Some(n),
                        _ => None,
                    }
                }
            };
            match (value, right) {
                (Value::Number(left), Some(right)) => compare_numbers(left, right).is_some_and(|o| relation.holds(o)),
                _ => false,
            }
        }
        Test::BooleanEquals(operand) => {
            let right = match operand {
                Operand::Value(b) => Some(*b),
                Operand::Path(path) => select(path, scope)?.as_bool(),
            };
            matches!((value.as_bool(), right), (Some(left), Some(right)) if left == right)
        }
        Test::Timestamp(relation, operand) => {
            let right = match operand {
                Operand::Value(nanos) => Some(*nanos),
                Operand::Path(path) => select(path, scope)?.as_str().and_then(parse_iso8601),
            };
            match (value.as_str().and_then(parse_iso8601), right) {
                (Some(left), Some(right)) => relation.holds(left.cmp(&right)),
                _ => false,
            }
        }
    })
}

/// Orders strings by UTF-16 code units (Java's `String.compareTo`). UTF-8 byte order is
/// code point order, which differs only when the first differing characters are a
/// supplementary character (a surrogate pair in UTF-16) and one in U+E000..=U+FFFF.
fn compare_utf16(a: &str, b: &str) -> Ordering {
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    // Both strings share the bytes before `common`, so they share this boundary too.
    let mut start = common;
    while !a.is_char_boundary(start) {
        start -= 1;
    }
    match (a[start..].chars().next(), b[start..].chars().next()) {
        (Some(x), Some(y)) => {
            let (mut bx, mut by) = ([0u16; 2], [0u16; 2]);
            let (ux, uy): (&[u16], &[u16]) = (x.encode_utf16(&mut bx), y.encode_utf16(&mut by));
            ux.cmp(uy)
        }
        _ => a.len().cmp(&b.len()),
    }
}

/// An integer held by a JSON number, when it is one.
fn integer(n: &Number) -> Option<i128> {
    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
}

/// Compares two JSON numbers by value, exactly (integers are not rounded to `f64`).
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => compare_integer_float(x, b.as_f64()?),
        (None, Some(y)) => compare_integer_float(y, a.as_f64()?).map(Ordering::reverse),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn compare_integer_float(i: i128, f: f64) -> Option<Ordering> {
    // `i as f64` rounds to the nearest double; when that differs from `f`, it orders `i`
    // correctly. When it equals `f`, `f` is integral and small enough to convert exactly.
    match (i as f64).partial_cmp(&f)? {
        Ordering::Equal => Some(i.cmp(&(f as i128))),
        ordering => Some(ordering),
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests read the AWS-recorded corpus and time bounds
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diagnostic::Diagnostic;
    use crate::history::Payload;
    use crate::json::Json;
    use crate::path::{PayloadScope, Scope};

    fn parse(rule: &Value, top_level: bool) -> (Option<ChoiceRule>, Vec<Diagnostic>) {
        let mut diags = Diagnostics::default();
        let parsed = ChoiceRule::parse(rule, "/States/C/Choices/0", top_level, &mut diags);
        (parsed, diags.into_sorted())
    }

    fn compile(rule: &Value) -> ChoiceRule {
        let (parsed, diags) = parse(rule, false);
        assert!(diags.is_empty(), "{rule}: {diags:?}");
        parsed.unwrap_or_else(|| panic!("{rule} did not parse"))
    }

    /// Evaluates over a `serde_json` scope, and checks that a payload scope (the payload
    /// made in either form) gives the same.
    fn eval(rule: &Value, input: &Value) -> Result<bool, EvalError> {
        let context = json!({"Execution": {"Name": "exec-1"}, "State": {"RetryCount": 0}});
        let rule = compile(rule);
        let outcome = rule.evaluate(&Scope::new(input, &context));
        for payload in [Payload::new(input.clone()), Payload::from_json(Json::from(input))] {
            let scope = PayloadScope { input: &payload, context: &context, variables: None };
            assert_eq!(rule.evaluate(&scope), outcome, "{input}");
        }
        outcome
    }

    /// `(rule, input, expected)`: each rule is evaluated on its input.
    fn check(cases: &[(Value, Value, bool)]) {
        for (rule, input, expected) in cases {
            assert_eq!(eval(rule, input), Ok(*expected), "{rule} on {input}");
        }
    }

    /// `{"Variable": "$.v", op: operand}` evaluated on `{"v": value}`.
    fn check_op(op: &str, operand: Value, cases: &[(Value, bool)]) {
        let mut rule = json!({"Variable": "$.v"});
        rule[op] = operand;
        for (value, expected) in cases {
            let input = json!({"v": value});
            assert_eq!(eval(&rule, &input), Ok(*expected), "{rule} on {input}");
        }
    }

    /// `{"Variable": "$.v", opPath: "$.w"}` evaluated on `{"v": left, "w": right}`.
    fn check_path_op(op: &str, cases: &[(Value, Value, bool)]) {
        let mut rule = json!({"Variable": "$.v"});
        rule[format!("{op}Path")] = json!("$.w");
        for (left, right, expected) in cases {
            let input = json!({"v": left, "w": right});
            assert_eq!(eval(&rule, &input), Ok(*expected), "{rule} on {input}");
        }
    }

    fn runtime(path: &str) -> Result<bool, EvalError> {
        Err(EvalError::Runtime(format!(
            "Invalid path '{path}': The choice state's condition path references an invalid value."
        )))
    }

    #[test]
    fn string_operators() {
        check_op(
            "StringEquals",
            json!("Hello"),
            &[
                (json!("Hello"), true),
                (json!("hello"), false),
                (json!("Hello "), false),
                (json!(""), false),
                (json!(null), false),
                (json!(1), false),
                (json!(["Hello"]), false),
                (json!({"Hello": 1}), false),
                (json!(true), false),
            ],
        );
        check_op("StringEquals", json!("\t\r\n"), &[(json!("\t\n"), false), (json!("\t\r\n"), true)]);
        check_op(
            "StringLessThan",
            json!("B"),
            &[(json!("A"), true), (json!("B"), false), (json!("AZ"), true), (json!("b"), false)],
        );
        check_op("StringLessThan", json!(""), &[(json!(""), false)]);
        check_op("StringGreaterThan", json!("A "), &[(json!("A"), false), (json!("A  "), true), (json!("B"), true)]);
        check_op("StringGreaterThan", json!("ABC"), &[(json!("AB"), false), (json!("ABD"), true), (json!(3), false)]);
        check_op("StringLessThanEquals", json!("A"), &[(json!("A"), true), (json!("AB"), false), (json!(""), true)]);
        check_op(
            "StringGreaterThanEquals",
            json!("AB"),
            &[(json!("A"), false), (json!("AB"), true), (json!("B"), true)],
        );
        check_path_op(
            "StringEquals",
            &[
                (json!("Hello"), json!("Hello"), true),
                (json!("\t\n"), json!("\t\r\n"), false),
                (json!("1"), json!(1), false),
                (json!(1), json!(1), false),
            ],
        );
        check_path_op("StringLessThan", &[(json!("A"), json!("AB"), true), (json!(""), json!(""), false)]);
        check_path_op("StringGreaterThan", &[(json!("AB"), json!("ABC"), false), (json!("b"), json!("a"), true)]);
        check_path_op("StringLessThanEquals", &[(json!("A"), json!("AB"), true), (json!(""), json!(""), true)]);
        check_path_op("StringGreaterThanEquals", &[(json!("A"), json!("AB"), false), (json!(""), json!(""), true)]);
    }

    #[test]
    fn strings_order_by_utf16_code_units() {
        // U+1F600 is a surrogate pair (0xD83D…) in UTF-16, so it sorts below U+FF21 ('Ａ'),
        // although its code point is larger.
        check_op("StringLessThan", json!("\u{FF21}"), &[(json!("\u{1F600}"), true), (json!("\u{FF21}"), false)]);
        check_op("StringGreaterThan", json!("\u{1F600}"), &[(json!("\u{FF21}"), true)]);
        check_op("StringGreaterThan", json!("é"), &[(json!("z"), false), (json!("ê"), true), (json!("éa"), true)]);
        assert_eq!(compare_utf16("a\u{1F600}", "a\u{1F601}"), Ordering::Less);
        assert_eq!(compare_utf16("\u{E000}", "\u{10000}"), Ordering::Greater);
        assert_eq!(compare_utf16("ab", "abc"), Ordering::Less);
        assert_eq!(compare_utf16("é", "é"), Ordering::Equal);
        assert_eq!(compare_utf16("\u{e9}", "\u{e8}x"), Ordering::Greater);
    }

    #[test]
    fn string_matches() {
        let cases: &[(&str, &str, bool)] = &[
            ("log-*.txt", "log-2024.txt", true),
            ("log-*.txt", "log-.txt", true),
            ("log-*.txt", "log-2024.txt.gz", false),
            ("log-*.txt", "Log-1.txt", false),
            ("foo*.log", "foo23.log", true),
            ("*.log", "zebra.log", true),
            ("foo*.*", "foobar.zebra", true),
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
            ("*ab*ab*", "xabyab", true),
            ("*ab*ab*", "xaby", false),
            ("**", "x", true),
            // Escapes (the JSON text "\\*" is the string `\*`).
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "aXb", false),
            ("*\\**", "x*y", true),
            ("*\\**", "xy", false),
            ("\\\\", "\\", true),
            ("a\\\\*", "a\\xyz", true),
            ("a\\\\*", "axyz", false),
            ("\\a", "a", true),
            ("end\\", "end\\", true),
            ("?", "x", false),
            ("?", "?", true),
            ("h.llo", "hello", false),
            ("*é*", "café au lait", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(StringPattern::parse(pattern).matches(text), *expected, "{pattern:?} vs {text:?}");
            check_op("StringMatches", json!(pattern), &[(json!(text), *expected)]);
        }
        check_op("StringMatches", json!("*"), &[(json!(1), false), (json!(null), false), (json!(["a"]), false)]);
        assert_eq!(StringPattern::parse("a\\*b*").as_str(), "a\\*b*");
    }

    #[test]
    fn numeric_operators() {
        check_op(
            "NumericEquals",
            json!(1),
            &[
                (json!(1), true),
                (json!(1.0), true),
                (json!(1.1), false),
                (json!(0), false),
                (json!("1"), false),
                (json!(true), false),
                (json!(null), false),
                (json!([1]), false),
                (json!({"A": 1}), false),
            ],
        );
        check_op(
            "NumericEquals",
            json!(0.0),
            &[(json!(0), true), (json!(-0.0), true), (json!(0.0), true), (json!(false), false)],
        );
        check_op("NumericEquals", json!(2.22), &[(json!(2.22), true), (json!(2.2200000001), false)]);
        check_op(
            "NumericLessThan",
            json!(1),
            &[(json!(0), true), (json!(0.999), true), (json!(1), false), (json!(1.0), false), (json!(-5), true)],
        );
        check_op(
            "NumericGreaterThan",
            json!(0),
            &[(json!(0), false), (json!(0.0), false), (json!(1), true), (json!(0.001), true), (json!(-1), false)],
        );
        check_op(
            "NumericLessThanEquals",
            json!(0),
            &[(json!(0), true), (json!(0.0), true), (json!(1), false), (json!(-0.5), true)],
        );
        check_op("NumericGreaterThanEquals", json!(1.5), &[(json!(1.5), true), (json!(2), true), (json!(1), false)]);
        check_path_op(
            "NumericEquals",
            &[
                (json!(0), json!(0.0), true),
                (json!(1), json!(1.0), true),
                (json!(1.1), json!(1), false),
                (json!(null), json!(0), false),
                (json!(0), json!("0"), false),
                (json!(true), json!(1), false),
            ],
        );
        check_path_op(
            "NumericLessThan",
            &[(json!(0), json!(1), true), (json!(1), json!(0), false), (json!(0), json!(0), false)],
        );
        check_path_op("NumericGreaterThan", &[(json!(1), json!(0.5), true), (json!(0.0), json!(0), false)]);
        check_path_op("NumericLessThanEquals", &[(json!(0.0), json!(0), true), (json!(2), json!(1), false)]);
        check_path_op("NumericGreaterThanEquals", &[(json!(1), json!(1), true), (json!(0), json!(1), false)]);
    }

    #[test]
    fn numbers_compare_exactly() {
        let n = |v: Value| match v {
            Value::Number(n) => n,
            _ => unreachable!(),
        };
        let big = n(json!(9_007_199_254_740_993_u64)); // 2^53 + 1
        let big_float = n(json!(9_007_199_254_740_992.0_f64)); // 2^53
        assert_eq!(compare_numbers(&big, &big_float), Some(Ordering::Greater));
        assert_eq!(compare_numbers(&big_float, &big), Some(Ordering::Less));
        assert_eq!(compare_numbers(&n(json!(u64::MAX)), &n(json!(-1))), Some(Ordering::Greater));
        assert_eq!(compare_numbers(&n(json!(i64::MIN)), &n(json!(-1e300))), Some(Ordering::Greater));
        assert_eq!(compare_numbers(&n(json!(3)), &n(json!(3.0))), Some(Ordering::Equal));
        assert_eq!(compare_numbers(&n(json!(-3)), &n(json!(-2.5))), Some(Ordering::Less));
        assert_eq!(compare_numbers(&n(json!(1e20)), &n(json!(u64::MAX))), Some(Ordering::Greater));
    }

    #[test]
    fn boolean_equals() {
        check_op(
            "BooleanEquals",
            json!(true),
            &[
                (json!(true), true),
                (json!(false), false),
                (json!(1), false),
                (json!("true"), false),
                (json!(null), false),
                (json!({}), false),
            ],
        );
        check_op(
            "BooleanEquals",
            json!(false),
            &[(json!(false), true), (json!(true), false), (json!(0), false), (json!(""), false), (json!([]), false)],
        );
        check_path_op(
            "BooleanEquals",
            &[
                (json!(true), json!(true), true),
                (json!(false), json!(false), true),
                (json!(false), json!(true), false),
                (json!(0), json!(false), false),
                (json!(true), json!("true"), false),
            ],
        );
    }

    #[test]
    fn timestamp_operators() {
        let t = "2012-10-09T19:00:55Z";
        check_op(
            "TimestampEquals",
            json!(t),
            &[
                (json!(t), true),
                (json!("2012-10-09T19:00:55.000Z"), true),
                (json!("2012-10-09T20:00:55+01:00"), true),
                (json!("2012-10-09T17:30:55-01:30"), true),
                (json!("2012-10-09T19:00:56Z"), false),
                (json!("2012-10-09T19:00:55.001Z"), false),
                (json!("2012-10-09T19:00:55"), false),
                (json!("2012-10-09 19:00:55Z"), false),
                (json!("2023-02-24 12:15:56.832957"), false),
                (json!("2012-10-09"), false),
                (json!(" "), false),
                (json!(null), false),
                (json!(0), false),
                (json!([t]), false),
                (json!({}), false),
                (json!(true), false),
            ],
        );
        check_op(
            "TimestampLessThan",
            json!(t),
            &[(json!("2012-10-09T19:00:54.999Z"), true), (json!(t), false), (json!("2012-10-09T19:00:55+01:00"), true)],
        );
        check_op(
            "TimestampGreaterThan",
            json!(t),
            &[(json!("2012-10-09T19:00:56Z"), true), (json!(t), false), (json!("2012-10-09T19:00:55-00:01"), true)],
        );
        check_op(
            "TimestampLessThanEquals",
            json!(t),
            &[(json!(t), true), (json!("2012-10-09T19:00:56Z"), false), (json!("2012-10-09T19:00:55.5+00:00"), false)],
        );
        check_op(
            "TimestampGreaterThanEquals",
            json!("2016-03-14T01:59:00.123456789Z"),
            &[(json!("2016-03-14T01:59:00.123456789Z"), true), (json!("2016-03-14T01:59:00.123456788Z"), false)],
        );
        check_path_op(
            "TimestampEquals",
            &[
                (json!(t), json!(t), true),
                (json!("2012-10-09T19:00:56Z"), json!(t), false),
                (json!(t), json!("not a timestamp"), false),
                (json!(t), json!(1), false),
            ],
        );
        check_path_op(
            "TimestampLessThan",
            &[(json!("2012-10-09T19:00:56Z"), json!(t), false), (json!(t), json!("2012-10-09T19:00:56Z"), true)],
        );
        check_path_op("TimestampGreaterThan", &[(json!(t), json!("2012-10-09T19:00:56Z"), false)]);
        check_path_op(
            "TimestampLessThanEquals",
            &[(json!("2012-10-09T19:00:56Z"), json!(t), false), (json!(t), json!(t), true)],
        );
        check_path_op("TimestampGreaterThanEquals", &[(json!(t), json!(t), true)]);
    }

    #[test]
    fn type_tests() {
        let values = [
            json!(null),
            json!(0),
            json!(1.1),
            json!(""),
            json!("HelloWorld"),
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T19:00:55"),
            json!(true),
            json!(false),
            json!([]),
            json!({"A": 0}),
        ];
        // (operator, expected for each value above, with `true`)
        let table: &[(&str, [bool; 11])] = &[
            ("IsNull", [true, false, false, false, false, false, false, false, false, false, false]),
            ("IsPresent", [true; 11]),
            ("IsNumeric", [false, true, true, false, false, false, false, false, false, false, false]),
            ("IsString", [false, false, false, true, true, true, true, false, false, false, false]),
            ("IsBoolean", [false, false, false, false, false, false, false, true, true, false, false]),
            ("IsTimestamp", [false, false, false, false, false, true, false, false, false, false, false]),
        ];
        for (op, expected) in table {
            for (value, expected) in values.iter().zip(expected) {
                check_op(op, json!(true), &[(value.clone(), *expected)]);
                check_op(op, json!(false), &[(value.clone(), !*expected)]);
            }
        }
    }

    #[test]
    fn missing_paths() {
        let input = json!({"present": 1, "obj": {"x": null}});
        check(&[
            (json!({"Variable": "$.absent", "IsPresent": true}), input.clone(), false),
            (json!({"Variable": "$.absent", "IsPresent": false}), input.clone(), true),
            (json!({"Variable": "$.absent.deeper", "IsPresent": false}), input.clone(), true),
            (json!({"Variable": "$.obj.x", "IsPresent": true}), input.clone(), true),
            (json!({"Variable": "$.present[0]", "IsPresent": true}), input.clone(), false),
        ]);
        for op in [
            json!({"Variable": "$.absent", "IsNull": true}),
            json!({"Variable": "$.absent", "IsNull": false}),
            json!({"Variable": "$.absent", "IsString": false}),
            json!({"Variable": "$.absent", "IsNumeric": false}),
            json!({"Variable": "$.absent", "IsBoolean": false}),
            json!({"Variable": "$.absent", "IsTimestamp": false}),
            json!({"Variable": "$.absent", "StringEquals": "x"}),
            json!({"Variable": "$.absent", "StringMatches": "*"}),
            json!({"Variable": "$.absent", "NumericEquals": 1}),
            json!({"Variable": "$.absent", "BooleanEquals": true}),
            json!({"Variable": "$.absent", "TimestampEquals": "2012-10-09T19:00:55Z"}),
            json!({"Variable": "$.absent", "NumericEqualsPath": "$.present"}),
        ] {
            assert_eq!(eval(&op, &input), runtime("$.absent"), "{op}");
        }
        assert_eq!(eval(&json!({"Variable": "$.no.such", "NumericEquals": 1}), &input), runtime("$.no.such"));
        // A missing `…Path` operand fails too, even when the variable has another type.
        for op in ["StringEqualsPath", "NumericLessThanPath", "BooleanEqualsPath", "TimestampGreaterThanPath"] {
            let rule = json!({"Variable": "$.present", op: "$.nope"});
            assert_eq!(eval(&rule, &input), runtime("$.nope"), "{rule}");
        }
    }

    #[test]
    fn and_or_not() {
        let input = json!({"type": "Private", "value": 22});
        check(&[
            (json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}}), input.clone(), false),
            (json!({"Not": {"Variable": "$.type", "StringEquals": "Public"}}), input.clone(), true),
            (
                json!({"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20}, {"Variable": "$.value", "NumericLessThan": 30}]}),
                input.clone(),
                true,
            ),
            (
                json!({"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20}, {"Variable": "$.value", "NumericLessThan": 22}]}),
                input.clone(),
                false,
            ),
            (
                json!({"Or": [{"Variable": "$.value", "NumericEquals": 0}, {"Variable": "$.type", "StringMatches": "Pri*"}]}),
                input.clone(),
                true,
            ),
            (json!({"Or": [{"Variable": "$.value", "IsString": true}]}), input.clone(), false),
            (
                json!({"Not": {"Not": {"And": [{"Variable": "$", "IsPresent": true}, {"Or": [{"Variable": "$.type", "IsNull": true}, {"Variable": "$.value", "NumericEquals": 22.0}]}]}}}),
                input.clone(),
                true,
            ),
            // Short-circuit: the guard stops evaluation before the missing path is read.
            (
                json!({"And": [{"Variable": "$.absent", "IsPresent": true}, {"Variable": "$.absent", "StringEquals": "x"}]}),
                input.clone(),
                false,
            ),
            (
                json!({"Or": [{"Variable": "$.absent", "IsPresent": false}, {"Variable": "$.absent", "StringEquals": "x"}]}),
                input.clone(),
                true,
            ),
        ]);
        let rule =
            json!({"Or": [{"Variable": "$.value", "IsString": true}, {"Variable": "$.absent", "StringEquals": "x"}]});
        assert_eq!(eval(&rule, &input), runtime("$.absent"));
        let rule = json!({"Not": {"Variable": "$.absent", "IsNull": true}});
        assert_eq!(eval(&rule, &input), runtime("$.absent"));
    }

    #[test]
    fn whole_input_context_and_variables() {
        // The map-state break scenario: items compared at `$`.
        let rule = json!({"And": [{"IsPresent": true, "Variable": "$"}, {"And": [{"IsNumeric": true, "Variable": "$"}, {"NumericEquals": 3, "Variable": "$"}]}]});
        let results: Vec<bool> = [json!(1), json!("Hello"), json!({}), json!(3.3), json!(3)]
            .iter()
            .map(|item| eval(&rule, item).unwrap())
            .collect();
        assert_eq!(results, [false, false, false, false, true]);
        check(&[
            (json!({"Variable": "$$.Execution.Name", "StringEquals": "exec-1"}), json!({}), true),
            (json!({"Variable": "$$.State.RetryCount", "NumericLessThanEqualsPath": "$.max"}), json!({"max": 0}), true),
            (json!({"Variable": "$.list[1].v", "NumericEquals": 2}), json!({"list": [{"v": 1}, {"v": 2}]}), true),
            (json!({"Variable": "$.a-b['c d']", "StringEquals": "x"}), json!({"a-b": {"c d": "x"}}), true),
        ]);
        assert_eq!(eval(&json!({"Variable": "$$.Nope", "IsNull": true}), &json!({})), runtime("$$.Nope"));

        let rule = compile(&json!({"Variable": "$guess", "StringEqualsPath": "$answer"}));
        let vars: serde_json::Map<String, Value> =
            [("guess".to_owned(), json!("42")), ("answer".to_owned(), json!("42"))].into_iter().collect();
        let (input, context) = (json!({}), json!({}));
        let scope = Scope { input: &input, context: &context, variables: Some(&vars) };
        assert_eq!(rule.evaluate(&scope), Ok(true));
        let scope = Scope::new(&input, &context);
        assert_eq!(rule.evaluate(&scope), runtime("$guess"));
        let present = compile(&json!({"Variable": "$guess", "IsPresent": true}));
        assert_eq!(present.evaluate(&scope), Ok(false));
    }

    #[test]
    fn parsed_shape() {
        let rule = compile(&json!({"Variable": "$.x", "NumericLessThanPath": "$.y", "Comment": "c"}));
        let ChoiceRule::Comparison { variable, test: Test::Numeric(Relation::LessThan, Operand::Path(path)) } = rule
        else {
            panic!("{rule:?}");
        };
        assert_eq!((variable.as_str(), path.as_str()), ("$.x", "$.y"));
        let rule = compile(&json!({"Or": [{"Variable": "$.x", "IsNull": false}], "Comment": "c"}));
        assert!(
            matches!(&rule, ChoiceRule::Or(rules) if matches!(rules[..], [ChoiceRule::Comparison { test: Test::IsNull(false), .. }]))
        );
        let rule = compile(&json!({"Variable": "$.t", "TimestampEquals": "1970-01-01T00:00:01Z"}));
        assert!(matches!(
            rule,
            ChoiceRule::Comparison { test: Test::Timestamp(Relation::Equals, Operand::Value(1_000_000_000)), .. }
        ));
    }

    /// Parses `rule` and returns its diagnostics as `(code, location)`.
    fn problems(rule: Value, top_level: bool) -> Problems {
        let (parsed, diags) = parse(&rule, top_level);
        assert_eq!(parsed.is_none(), !diags.is_empty(), "{rule}: {parsed:?} with {diags:?}");
        diags.into_iter().map(|d| (d.code.as_str(), d.location)).collect()
    }

    /// Expected diagnostics: `(code, location)`.
    type Problems = Vec<(&'static str, String)>;

    #[test]
    fn validation() {
        const SCHEMA: &str = "SCHEMA_VALIDATION_FAILED";
        const PATH: &str = "INVALID_JSON_PATH";
        let at = |suffix: &str| format!("/States/C/Choices/0{suffix}");
        // Valid top-level rules.
        assert_eq!(problems(json!({"Variable": "$.x", "IsNull": true, "Next": "A"}), true), []);
        assert_eq!(
            problems(json!({"Variable": "$.x", "IsNull": true, "Next": "A", "Assign": {"v": 1}, "Comment": "c"}), true),
            []
        );
        assert_eq!(
            problems(json!({"Not": {"Variable": "$.x", "IsNull": true, "Comment": "c"}, "Next": "A"}), true),
            []
        );

        let cases: Vec<(Value, bool, Problems)> = vec![
            // `Next` is required at the top level, refused below it.
            (json!({"Variable": "$.x", "IsNull": true}), true, vec![(SCHEMA, at(""))]),
            (json!({"Variable": "$.x", "IsNull": true, "Next": 3}), true, vec![(SCHEMA, at("/Next"))]),
            (json!({"Variable": "$.x", "IsNull": true, "Next": "A"}), false, vec![(SCHEMA, at("/Next"))]),
            (
                json!({"And": [{"Variable": "$.x", "IsNull": true, "Next": "A"}], "Next": "A"}),
                true,
                vec![(SCHEMA, at("/And/0/Next"))],
            ),
            (json!({"Variable": "$.x", "IsNull": true, "Assign": {}}), false, vec![(SCHEMA, at("/Assign"))]),
            // Exactly one operator.
            (json!({"Variable": "$.x", "Next": "A"}), true, vec![(SCHEMA, at(""))]),
            (json!({"Next": "A"}), true, vec![(SCHEMA, at(""))]),
            (
                json!({"Variable": "$.x", "StringEquals": "a", "StringMatches": "a*", "Next": "A"}),
                true,
                vec![(SCHEMA, at(""))],
            ),
            (
                json!({"And": [{"Variable": "$.x", "IsNull": true}], "Not": {"Variable": "$.x", "IsNull": true}, "Next": "A"}),
                true,
                vec![(SCHEMA, at(""))],
            ),
            // `Variable` goes with comparisons only.
            (json!({"StringEquals": "a", "Next": "A"}), true, vec![(SCHEMA, at(""))]),
            (
                json!({"Variable": "$.x", "Not": {"Variable": "$.x", "IsNull": true}, "Next": "A"}),
                true,
                vec![(SCHEMA, at("/Variable"))],
            ),
            (json!({"Variable": 1, "IsNull": true, "Next": "A"}), true, vec![(SCHEMA, at("/Variable"))]),
            (json!({"Variable": "x", "IsNull": true, "Next": "A"}), true, vec![(PATH, at("/Variable"))]),
            (json!({"Variable": "$.a[", "IsNull": true}), false, vec![(PATH, at("/Variable"))]),
            (
                json!({"Variable": "$.x", "StringEqualsPath": "nope", "Next": "A"}),
                true,
                vec![(PATH, at("/StringEqualsPath"))],
            ),
            (
                json!({"Variable": "$.x", "NumericEqualsPath": 3, "Next": "A"}),
                true,
                vec![(SCHEMA, at("/NumericEqualsPath"))],
            ),
            // Operand types.
            (json!({"Variable": "$.x", "StringEquals": 1, "Next": "A"}), true, vec![(SCHEMA, at("/StringEquals"))]),
            (
                json!({"Variable": "$.x", "StringMatches": null, "Next": "A"}),
                true,
                vec![(SCHEMA, at("/StringMatches"))],
            ),
            (json!({"Variable": "$.x", "NumericEquals": "1", "Next": "A"}), true, vec![(SCHEMA, at("/NumericEquals"))]),
            (
                json!({"Variable": "$.x", "BooleanEquals": "true", "Next": "A"}),
                true,
                vec![(SCHEMA, at("/BooleanEquals"))],
            ),
            (json!({"Variable": "$.x", "IsPresent": 1, "Next": "A"}), true, vec![(SCHEMA, at("/IsPresent"))]),
            (
                json!({"Variable": "$.x", "TimestampEquals": 0, "Next": "A"}),
                true,
                vec![(SCHEMA, at("/TimestampEquals"))],
            ),
            (
                json!({"Variable": "$.x", "TimestampLessThan": "2012-10-09", "Next": "A"}),
                true,
                vec![(SCHEMA, at("/TimestampLessThan"))],
            ),
            // Unknown fields, including operators ASL does not define.
            (
                json!({"Variable": "$.x", "StringMatchesPath": "$.y", "Next": "A"}),
                true,
                vec![(SCHEMA, at("")), (SCHEMA, at("/StringMatchesPath"))],
            ),
            (json!({"Variable": "$.x", "IsNull": true, "Next": "A", "Foo": 1}), true, vec![(SCHEMA, at("/Foo"))]),
            (json!({"Variable": "$.x", "IsNull": true, "Comment": 1}), false, vec![(SCHEMA, at("/Comment"))]),
            (json!({"Condition": "{% true %}", "Next": "A"}), true, vec![(SCHEMA, at("")), (SCHEMA, at("/Condition"))]),
            // And / Or / Not shapes.
            (json!({"And": [], "Next": "A"}), true, vec![(SCHEMA, at("/And"))]),
            (json!({"Or": {"Variable": "$.x", "IsNull": true}, "Next": "A"}), true, vec![(SCHEMA, at("/Or"))]),
            (json!({"Not": [{"Variable": "$.x", "IsNull": true}], "Next": "A"}), true, vec![(SCHEMA, at("/Not"))]),
            (json!({"And": [1], "Next": "A"}), true, vec![(SCHEMA, at("/And/0"))]),
            (
                json!({"Or": [{"Variable": "$.x", "IsNull": true}, {"Not": {"Variable": "x", "StringEquals": 1}}], "Next": "A"}),
                true,
                vec![(PATH, at("/Or/1/Not/Variable")), (SCHEMA, at("/Or/1/Not/StringEquals"))],
            ),
            (json!("StringEquals"), true, vec![(SCHEMA, at(""))]),
        ];
        for (rule, top_level, expected) in cases {
            let mut found = problems(rule.clone(), top_level);
            let mut expected = expected;
            found.sort();
            expected.sort();
            assert_eq!(found, expected, "{rule}");
        }
    }

    #[test]
    fn diagnostics_read_well() {
        let (_, diags) = parse(&json!({"Variable": "$.x", "NumericEquals": "1"}), true);
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            [
                "error[SCHEMA_VALIDATION_FAILED] at /States/C/Choices/0: The field 'Next' is required but was missing",
                "error[SCHEMA_VALIDATION_FAILED] at /States/C/Choices/0/NumericEquals: The value for the field 'NumericEquals' must be a NUMBER",
            ]
        );
    }

    /// Replays the recorded `choice_operators_*` cases (and other Choice-first cases): the
    /// first state is a Choice whose branches are Pass states with a constant `Result`, so
    /// the branch AWS took is visible in the recorded output (the corpus is in ../shared).
    #[test]
    fn recorded_aws_cases() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/cases");
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the conformance corpus is missing at {}: {e}", dir.display()));
        let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        let (mut checked, mut operators_checked) = (0, 0);
        let mut failures = Vec::new();
        for file in names {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let Ok(case) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let features = case["features"].as_array().cloned().unwrap_or_default();
            if features.iter().any(|f| f == "JSONata" || f == "Assign") || case["expected"]["status"] != "SUCCEEDED" {
                continue;
            }
            let definition = &case["definition"];
            let Some(start) = definition["StartAt"].as_str() else {
                continue;
            };
            let state = &definition["States"][start];
            if state["Type"] != "Choice" || definition.get("QueryLanguage").is_some() {
                continue;
            }
            let mut target = state["Default"].as_str();
            let context = json!({"Execution": {"Input": case["input"]}});
            let scope = Scope::new(&case["input"], &context);
            let mut outcome = Ok(());
            for (i, rule) in state["Choices"].as_array().into_iter().flatten().enumerate() {
                let mut diags = Diagnostics::default();
                let Some(parsed) = ChoiceRule::parse(rule, &format!("/States/{start}/Choices/{i}"), true, &mut diags)
                else {
                    outcome = Err(format!("did not parse: {:?}", diags.into_sorted()));
                    break;
                };
                match parsed.evaluate(&scope) {
                    Ok(true) => {
                        target = rule["Next"].as_str();
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        outcome = Err(format!("failed: {e:?}"));
                        break;
                    }
                }
            }
            if let Err(message) = outcome {
                failures.push(format!("{name}: {message}"));
                continue;
            }
            let Some(next) = target.map(|t| &definition["States"][t]) else {
                failures.push(format!("{name}: no choice matched"));
                continue;
            };
            // Only branches whose output is a constant tell which branch was taken.
            if next["Type"] != "Pass"
                || next.get("Result").is_none()
                || next.get("ResultPath").is_some()
                || next.get("OutputPath").is_some()
            {
                continue;
            }
            checked += 1;
            if name.starts_with("choice_operators") {
                operators_checked += 1;
            }
            if next["Result"] != case["expected"]["output"] {
                failures.push(format!(
                    "{name}: took '{}', AWS output {}",
                    target.unwrap_or_default(),
                    case["expected"]["output"]
                ));
            }
        }
        assert!(failures.is_empty(), "{} of {checked} cases differ from AWS:\n{}", failures.len(), failures.join("\n"));
        eprintln!("{checked} recorded cases agree with AWS ({operators_checked} choice_operators)");
        assert!(operators_checked >= 300, "only {operators_checked} choice_operators cases were checked");
    }
}
