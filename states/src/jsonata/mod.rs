//! JSONata, as Step Functions uses it (`QueryLanguage: JSONata`).
//!
//! Expressions are written as `"{% … %}"` strings in a state's fields; they are parsed once,
//! with the definition, by `jsonata-core`, and evaluated with `$states` bound to
//! `{input, context, result?, errorOutput?}` and the workflow variables bound by name.
//! AWS's additions (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`) are host
//! functions; `$eval` is refused; `$now` and `$millis` read the time the runtime passes in,
//! and randomness comes from the runtime's [`Entropy`]: the same bindings, time and entropy give
//! the same result.

mod bounds;

use std::cell::Cell;
use std::rc::Rc;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::parser::parse;
use jsonata_core::value::JValue;
use serde_json::{Map, Number, Value};

use crate::diagnostic::{DiagnosticCode, Diagnostics, child};
use crate::entropy::{Entropy, SeededEntropy};
use crate::error::EvalError;
use crate::timestamp::format_millis;

/// A parsed JSONata expression (the text between `{%` and `%}`).
#[derive(Debug, Clone)]
pub struct Expr {
    text: Box<str>,
    ast: AstNode,
}

/// What an expression can read.
#[derive(Clone, Copy)]
pub struct Bindings<'a> {
    /// The `$states` object.
    pub states: &'a Value,
    /// The workflow variables.
    pub variables: &'a Map<String, Value>,
    /// Randomness for `$random` and `$uuid`.
    pub entropy: &'a dyn Entropy,
    /// Now, in epoch milliseconds, for `$now` and `$millis`.
    pub now_millis: i64,
}

/// The text of an expression when `text` is a `{% … %}` string.
/// The string must start with `{%` and end with `%}` exactly: `" {% … %} "` is a literal.
pub fn expression_text(text: &str) -> Option<&str> {
    text.strip_prefix("{%").and_then(|t| t.strip_suffix("%}")).map(str::trim)
}

impl Expr {
    /// Parses an expression. `$eval` is refused, as AWS does.
    pub fn parse(text: &str) -> Result<Expr, String> {
        if text.contains("$eval(") {
            return Err("the JSONata function $eval is not supported".into());
        }
        let ast = parse_guarded(text)?;
        Ok(Expr { text: text.into(), ast })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Evaluates; `Ok(None)` when the result is undefined.
    pub fn eval_optional(&self, bindings: &Bindings<'_>, field: &str) -> Result<Option<Value>, EvalError> {
        self.eval_within(bindings, field, TIME_LIMIT_MS)
    }

    /// [`Expr::eval_optional`] with another time bound (the fuzz target's is shorter, so that
    /// the inputs that run to it cost less).
    #[doc(hidden)]
    pub fn eval_within(
        &self,
        bindings: &Bindings<'_>,
        field: &str,
        time_limit_ms: u64,
    ) -> Result<Option<Value>, EvalError> {
        let mut context = Context::new();
        context.bind("states".to_owned(), JValue::from(bindings.states.clone()));
        for (name, value) in bindings.variables {
            context.bind(name.clone(), JValue::from(value.clone()));
        }
        let mut evaluator = bounded(context, time_limit_ms);
        register_functions(&mut evaluator, bindings);
        // jsonata-core can panic on some inputs (`$fromMillis(0, '[Y,64]')` divides by zero):
        // that is the expression's error, not the process's end.
        let evaluated =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| evaluator.evaluate(&self.ast, &JValue::Null)))
                .unwrap_or_else(|panic| {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err(EvaluatorError::EvaluationError(format!(
                        "the JSONata evaluator failed on this expression ({why})"
                    )))
                });
        match evaluated {
            Ok(JValue::Undefined) => Ok(None),
            Ok(value) if bounds::size_up_to(&value, bounds::MAX_BYTES) > bounds::MAX_BYTES => {
                Err(EvalError::Query(format!(
                    "The JSONata expression '{}' specified for the field '{field}' returned a value larger than {} bytes, sfnlite's bound on a JSONata value (MAX_BYTES).",
                    self.text,
                    bounds::MAX_BYTES
                )))
            }
            Ok(value) => Ok(Some(to_json(&value))),
            Err(e) => Err(EvalError::Query(format!(
                "The JSONata expression '{}' specified for the field '{field}' threw an error during evaluation. {}",
                self.text,
                message(&e)
            ))),
        }
    }

    /// Evaluates; an undefined result is AWS's States.QueryEvaluationError.
    pub fn eval(&self, bindings: &Bindings<'_>, field: &str) -> Result<Value, EvalError> {
        self.eval_optional(bindings, field)?.ok_or_else(|| {
            EvalError::Query(format!(
                "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                self.text
            ))
        })
    }
}

/// Parses and guards an expression as [`Expr::parse`] does, for running the JSONata
/// reference suite through the same rewrite (see `tests/integration.rs`).
#[doc(hidden)]
pub fn parse_guarded(text: &str) -> Result<AstNode, String> {
    let mut ast = parse(text).map_err(|e| e.to_string())?;
    bounds::guard(&mut ast)?;
    Ok(ast)
}

/// Registers the guards [`parse_guarded`] calls.
#[doc(hidden)]
pub fn register_guards(evaluator: &mut Evaluator) {
    bounds::register(evaluator);
}

/// Codes whose message differs between jsonata-core and jsonata-js (which AWS runs):
/// AWS reports jsonata-js's text.
const JSONATA_JS_MESSAGES: &[(&str, &str)] = &[("T1006", "T1006: Attempted to invoke a non-function")];

fn message(e: &EvaluatorError) -> String {
    let text = match e {
        EvaluatorError::TypeError(m) | EvaluatorError::ReferenceError(m) | EvaluatorError::EvaluationError(m) => m,
    };
    match e.code().and_then(|code| JSONATA_JS_MESSAGES.iter().find(|(c, _)| *c == code)) {
        Some((_, js)) => (*js).to_owned(),
        None => text.clone(),
    }
}

/// JSONata numbers are doubles; integral ones are written as integers, as AWS does.
fn to_json(value: &JValue) -> Value {
    match value {
        JValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::Number(Number::from(*n as i64)),
        JValue::Number(n) => Number::from_f64(*n).map_or(Value::Null, Value::Number),
        JValue::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        JValue::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        other => Value::from(other),
    }
}

/// A JSONata sequence: one item stands for itself, as built-in functions return them.
fn sequence(mut items: Vec<JValue>) -> JValue {
    if items.len() == 1 { items.remove(0) } else { JValue::from(items) }
}

fn error(code: &str, text: &str) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!("{code}: {text}"))
}

fn number(value: Option<&JValue>) -> Option<f64> {
    match value {
        Some(JValue::Number(n)) => Some(*n),
        _ => None,
    }
}

/// How long one expression may evaluate: a resource bound against runaway expressions (an
/// endless recursion), never reached by a working one (an expression over a 256 KiB payload
/// takes milliseconds). It is the only time `states` lets anything read: jsonata-core's
/// evaluator checks it. Half a second: well below the second the fuzz targets hold every
/// input to, so that an expression stopped by it (and its unwinding) is told apart from a
/// hang even on a loaded machine.
pub const TIME_LIMIT_MS: u64 = 500;
/// The longest sequence an expression may build (jsonata-js's `sequence` option): a
/// million items, eight times what a 256 KiB payload can hold. jsonata-core checks it when a
/// path step has built its sequence, so a path that multiplies (`$x.$x.$x…`) stops within
/// one step of it (at ten million, a step could build a gigabyte first).
const MAX_SEQUENCE: usize = 1_000_000;
/// The evaluator's bounds: time, sequence length (depth has jsonata-core's own, 30,000);
/// what built-ins build is bounded by [`bounds`].
fn bounded(context: Context, time_limit_ms: u64) -> Evaluator {
    let options = EvaluatorOptions {
        timeout_ms: Some(time_limit_ms),
        max_sequence_length: Some(MAX_SEQUENCE),
        ..EvaluatorOptions::default()
    };
    Evaluator::with_options(context, options)
}

fn register_functions(evaluator: &mut Evaluator, bindings: &Bindings<'_>) {
    // Randomness: one draw from the runtime's entropy seeds this evaluation's generator.
    let seed = Rc::new(Cell::new(bindings.entropy.next_u64()));
    let now = bindings.now_millis;
    let next = {
        let seed = Rc::clone(&seed);
        move || {
            let generator = SeededEntropy::new(seed.get());
            let value = generator.next_u64();
            seed.set(value);
            SeededEntropy::new(value)
        }
    };
    let random = next.clone();
    let _ = evaluator.register_fn_override("random", move |args: &[JValue]| {
        let value = match number(args.first()) {
            Some(seed) => SeededEntropy::new(seed.to_bits()).next_f64(),
            None => random().next_f64(),
        };
        Ok(JValue::Number(value))
    });
    let shuffler = next.clone();
    let _ = evaluator.register_fn_override("shuffle", move |args: &[JValue]| match args.first() {
        // Fisher-Yates, drawing from the runtime's entropy (jsonata-core's own reads the OS).
        Some(JValue::Array(items)) => {
            let mut items: Vec<JValue> = items.iter().cloned().collect();
            let generator = shuffler();
            for i in (1..items.len()).rev() {
                let j = (generator.next_u64() % (i as u64 + 1)) as usize;
                items.swap(i, j);
            }
            Ok(JValue::from(items))
        }
        Some(JValue::Undefined) | None => Ok(JValue::Undefined),
        Some(other) => Ok(JValue::from(vec![other.clone()])),
    });
    register_guards(evaluator);
    let _ = evaluator.register_fn("uuid", move |_: &[JValue]| Ok(JValue::from(next().uuid_v4())));
    let _ = evaluator.register_fn_override("now", move |_: &[JValue]| Ok(JValue::from(format_millis(now))));
    let _ = evaluator.register_fn_override("millis", move |_: &[JValue]| Ok(JValue::Number(now as f64)));
    let _ = evaluator.register_fn_override("eval", |_: &[JValue]| {
        Err(error("D3150", "the function $eval is not supported by AWS Step Functions"))
    });
    let _ = evaluator.register_fn("partition", |args: &[JValue]| {
        let (Some(JValue::Array(items)), Some(size)) = (args.first(), number(args.get(1))) else {
            return Err(error("T0410", "$partition expects an array and a chunk size"));
        };
        if size < 1.0 || size.fract() != 0.0 {
            return Err(error("D3160", "the chunk size of $partition must be a positive integer"));
        }
        let chunks: Vec<JValue> =
            items.iter().cloned().collect::<Vec<_>>().chunks(size as usize).map(|c| JValue::from(c.to_vec())).collect();
        Ok(JValue::from(chunks))
    });
    let _ = evaluator.register_fn("range", |args: &[JValue]| {
        let (Some(start), Some(end), Some(step)) = (number(args.first()), number(args.get(1)), number(args.get(2)))
        else {
            return Err(error("T0410", "$range expects a start, an end and a step"));
        };
        if step == 0.0 || ((end - start) / step) > 1000.0 {
            return Err(error("D3161", "$range makes at most 1000 items, with a non-zero step"));
        }
        let mut items = Vec::new();
        let mut current = start;
        while (step > 0.0 && current <= end) || (step < 0.0 && current >= end) {
            items.push(JValue::Number(current));
            // Far from zero, adding a small step may not change `current` (1e17 + 1 is 1e17).
            let next = current + step;
            if next == current || items.len() > 1000 {
                break;
            }
            current = next;
        }
        Ok(sequence(items))
    });
    let _ = evaluator.register_fn("hash", |args: &[JValue]| {
        let (Some(JValue::String(data)), Some(JValue::String(algorithm))) = (args.first(), args.get(1)) else {
            return Err(error("T0410", "$hash expects a string and an algorithm name"));
        };
        crate::intrinsics::hash_hex(data, algorithm).map(JValue::from).ok_or_else(|| {
            error("D3162", &format!("unknown hash algorithm '{algorithm}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"))
        })
    });
    let _ = evaluator.register_fn("parse", |args: &[JValue]| {
        let Some(JValue::String(text)) = args.first() else {
            return Err(error("T0410", "$parse expects a string"));
        };
        serde_json::from_str::<Value>(text)
            .map(JValue::from)
            .map_err(|e| error("D3163", &format!("$parse: the string is not JSON: {e}")))
    });
}

/// A JSON value whose `{% … %}` strings are expressions (Arguments, Output, Assign, …).
#[derive(Debug, Clone)]
pub enum Template {
    /// No expression inside.
    Literal(Value),
    /// A `{% … %}` string.
    Expr(Box<Expr>),
    /// An object with expressions below.
    Object(Vec<(String, Template)>),
    /// An array with expressions below.
    Array(Vec<Template>),
}

impl Template {
    /// Compiles a template, reporting bad expressions at `location`.
    pub fn compile(value: &Value, location: &str, diags: &mut Diagnostics) -> Template {
        if !has_expression(value) {
            return Template::Literal(value.clone());
        }
        match value {
            Value::String(text) => match expression_text(text).map(Expr::parse) {
                Some(Ok(expr)) => Template::Expr(Box::new(expr)),
                Some(Err(message)) => {
                    diags.error(
                        DiagnosticCode::SchemaValidationFailed,
                        location,
                        format!("invalid JSONata expression: {message}"),
                    );
                    Template::Literal(Value::Null)
                }
                None => Template::Literal(value.clone()),
            },
            Value::Object(map) => Template::Object(
                map.iter().map(|(k, v)| (k.clone(), Template::compile(v, &child(location, k), diags))).collect(),
            ),
            Value::Array(items) => Template::Array(
                items.iter().enumerate().map(|(i, v)| Template::compile(v, &child(location, i), diags)).collect(),
            ),
            other => Template::Literal(other.clone()),
        }
    }

    /// Evaluates the template. `field` names it in errors (`Output`, `Arguments/FunctionName`).
    pub fn render(&self, bindings: &Bindings<'_>, field: &str) -> Result<Value, EvalError> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Expr(expr) => expr.eval(bindings, field),
            Template::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, t)| t.render(bindings, &format!("{field}/{i}")))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, template) in fields {
                    out.insert(key.clone(), template.render(bindings, &format!("{field}/{key}"))?);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

impl Template {
    /// True when an expression may read `$states.context` (or `$states` as a whole), so the
    /// runtime builds the context object only for the states that need it.
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Expr(expr) => {
                let text = expr.as_str();
                text.match_indices("$states").any(|(i, _)| {
                    let rest = &text[i + "$states".len()..];
                    !(rest.starts_with(".input") || rest.starts_with(".result") || rest.starts_with(".errorOutput"))
                })
            }
            Template::Object(fields) => fields.iter().any(|(_, t)| t.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
        }
    }
}

/// True when a value holds a `{% … %}` string anywhere.
pub fn has_expression(value: &Value) -> bool {
    match value {
        Value::String(text) => expression_text(text).is_some(),
        Value::Object(map) => map.values().any(has_expression),
        Value::Array(items) => items.iter().any(has_expression),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests read the AWS-recorded corpus and time bounds
mod tests {
    use serde_json::json;

    use super::*;

    /// What jsonata-core alone gives, without sfnlite's rewrite (for comparisons).
    fn unguarded(text: &str, states: &Value) -> Option<Value> {
        let mut context = Context::new();
        context.bind("states".to_owned(), JValue::from(states.clone()));
        let mut evaluator = Evaluator::with_options(context, EvaluatorOptions::default());
        match evaluator.evaluate(&parse(text).unwrap(), &JValue::Null) {
            Ok(JValue::Undefined) => None,
            Ok(value) => Some(to_json(&value)),
            Err(e) => panic!("{text} fails without the rewrite: {e}"),
        }
    }

    fn eval(text: &str, states: Value) -> Result<Option<Value>, EvalError> {
        let entropy = SeededEntropy::new(1);
        let variables = Map::from_iter([("x".to_owned(), json!(41))]);
        let bindings = Bindings { states: &states, variables: &variables, entropy: &entropy, now_millis: 0 };
        Expr::parse(text).unwrap().eval_optional(&bindings, "Output")
    }

    #[test]
    fn states_variables_and_aws_functions() {
        let states = json!({"input": {"a": [1, 2, 3, 4, 5]}});
        assert_eq!(eval("$states.input.a[2]", states.clone()), Ok(Some(json!(3))));
        assert_eq!(eval("$x + 1", states.clone()), Ok(Some(json!(42))));
        assert_eq!(eval("$partition($states.input.a, 2)", states.clone()), Ok(Some(json!([[1, 2], [3, 4], [5]]))));
        assert_eq!(eval("$range(0, 10, 5)", states.clone()), Ok(Some(json!([0, 5, 10]))));
        assert_eq!(eval("$parse('{\"k\": [true]}')", states.clone()), Ok(Some(json!({"k": [true]}))));
        assert_eq!(eval("$hash('abc', 'MD5')", states.clone()), Ok(Some(json!("900150983cd24fb0d6963f7d28e17f72"))));
        assert_eq!(eval("$now()", states.clone()), Ok(Some(json!("1970-01-01T00:00:00.000Z"))));
        // Randomness comes from the runtime: the same entropy, the same shuffle.
        let shuffled = eval("$shuffle([1,2,3,4,5,6,7,8,9,10,11,12])", states.clone()).unwrap().unwrap();
        assert_eq!(eval("$shuffle([1,2,3,4,5,6,7,8,9,10,11,12])", states.clone()).unwrap().unwrap(), shuffled);
        assert_ne!(shuffled, json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
        let mut sorted: Vec<i64> = shuffled.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=12).collect::<Vec<_>>());
        assert_eq!(eval("$shuffle([])", states.clone()), Ok(Some(json!([]))));
        assert_eq!(eval("$shuffle(7)", states.clone()), Ok(Some(json!([7]))));
        // Functions called on the context value keep working (an override would not see it).
        let input = json!({"input": {"name": "a", "at": "1970-01-02T00:00:00Z"}});
        assert_eq!(eval("$states.input.name.$pad(3, '-')", input.clone()), Ok(Some(json!("a--"))));
        assert_eq!(eval("$states.input.at.$toMillis()", input), Ok(Some(json!(86_400_000))));
    }

    #[test]
    fn evaluation_is_bounded() {
        let states = json!({});
        let failed = |text: &str| format!("{:?}", eval(text, states.clone()).unwrap_err());
        // Endless recursion, in tail position or not, ends with an error naming its bound.
        let started = std::time::Instant::now();
        let endless = failed("($f := function($n) { $f($n + 1) }; $f(0))");
        assert!(endless.contains("timeout") || endless.contains("depth") || endless.contains("stack"), "{endless}");
        assert!(started.elapsed().as_millis() < u128::from(TIME_LIMIT_MS) + 5_000);
        let deep = failed("($f := function($n) { 1 + $f($n + 1) }; $f(0))");
        // (The depth bound, or the time bound first on a slow or loaded machine.)
        assert!(
            deep.contains("depth") || deep.contains("stack") || deep.contains("U1001") || deep.contains("D1012"),
            "{deep}"
        );
    }

    #[test]
    fn what_built_ins_build_is_bounded() {
        let input = json!({"input": {"name": "ab", "list": ["x", "y"]}});
        let ok = |text: &str| eval(text, input.clone()).unwrap();
        let failed = |text: &str| {
            let started = std::time::Instant::now();
            let error = format!("{:?}", eval(text, input.clone()).unwrap_err());
            assert!(started.elapsed().as_millis() < 2_000, "{text} took {:?}", started.elapsed());
            assert!(error.contains("MAX_BYTES"), "{text}: {error}");
        };
        failed("$pad('x', 555555552, '-')");
        failed("$pad('x', -555555552)");
        failed("$states.input.name.$pad(1e9)");
        failed("$reduce([1..40], function($a, $i) { $a & $a }, 'x')");
        failed("($s := $reduce([1..24], function($a, $i) { $a & $a }, 'x'); $join([1..20].($s)))");
        failed("($s := $reduce([1..20], function($a, $i) { $a & $a }, 'x'); $replace($s, 'x', $s))");
        failed("($s := $reduce([1..20], function($a, $i) { $a & $a }, 'x'); $s.$replace(/x/, $s))");
        failed("($s := $reduce([1..23], function($a, $i) { $a & $a }, 'x'); [1..5000].($s))");
        failed("$split($pad('', 16000000), '')");
        failed("$count($match($pad('', 4000000), /./))");
        failed("$encodeUrlComponent($encodeUrlComponent($pad('', 16000000, '%')))");
        failed("($s := $pad('', 8000000); $replace($pad('', 200), /./, function($m) { $s }))");
        // A trailing undefined limit is no limit (jsonata drops it).
        failed("($big := $pad('', 1000000); $length($pad('', 100).$replace(/./, function($m) { $big }, $nothing)))");
        // $join's separators, $string's indentation, and the built-ins used as values.
        failed("$length($join($split($pad('', 200000), ''), $pad('', 100)))");
        failed("($x := $reduce([1..10000], function($a, $i) { {'a': $a} }, 0); $length($string($x, true)))");
        failed("($p := $pad; $length($p('', 100000000)))");
        // Paths that multiply: bounded with bindings (#$) and without.
        let x = "($x := [1, 'a', {'b': 2}]; ";
        // A step that spreads arrays: a million items each giving a 1,000-item array (a
        // billion values, flattened in one untimed loop), by a variable and by a field.
        let y = "($y := [1..1000]; $o := {'a': $y}; ";
        for path in [
            "$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x",
            "$x.$x#$i.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x.$x",
            "$x.$x.$&$.$?P<x.$x.$x.$x.$x.$&$.$x.$x.$x.$x.$.$.$x.$x.$.$$.$.$x.$x.$.$.$x.$x.$x.$x.$x.$x",
            &format!("{y}$y.$y.$y)"),
            &format!("{y}$y.$y.$o.a)"),
        ] {
            let started = std::time::Instant::now();
            let error = format!("{:?}", eval(&format!("{x}$count({path}))"), input.clone()).unwrap_err());
            // The sequence bound (D2015), or the time bound first (D1012) in a debug build.
            assert!(error.contains("D2015") || error.contains("D1012"), "{path}: {error}");
            assert!(started.elapsed().as_millis() < 5_000, "{path} took {:?}", started.elapsed());
        }
        // What `*`, `**`, an array constructor and `$append` copy is counted with the paths'
        // steps: each of these built a billion values (or ran without end) in one untimed
        // loop, from a value that holds one array or object many times over.
        let a = "($a := [1..1000000]; $o := {'a': $a}; ";
        let tree = "$reduce([1..40], function($t, $i) { {'l': $t, 'r': $t} }, {'leaf': 1})";
        let nested = "$reduce([1..40], function($t, $i) { [[$t], [$t]] }, [1])";
        let copies = format!("[{}]", vec!["$a"; 300].join(", "));
        for path in [
            format!("{a}$count([1..1000].($o).*))"),
            format!("{a}$count([1..1000].($o).**))"),
            format!("$count({tree}.**)"),
            format!("$count({nested}.*)"),
            format!("$count({nested}.**)"),
            format!("{a}$count({copies}))"),
            "$count($reduce([1..40], function($t, $i) { [$t, $t] }, [1]))".to_owned(),
            "$count($reduce([1..40], function($t, $i) { $append($t, $t) }, [1]))".to_owned(),
            "($f := $append; $count($reduce([1..40], function($t, $i) { $f($t, $t) }, [1])))".to_owned(),
            // An array constructor as a step, `.(…)` and `.$f()` steps, a transform over a
            // value shared at every level, `$lookup` over an array of objects.
            format!("{a}$count($states.{copies}))"),
            format!("{a}$count([1..1000].($a)))"),
            format!("{a}$f := function() {{ $a }}; $count([1..1000].$f()))"),
            format!("($t := {tree}; $t ~> |x|{{}}|)"),
            format!("{a}$count($lookup($map([1..1000], function($i) {{ $o }}), 'a')))"),
            format!("{a}$count($map([1..1000], function($i) {{ $o }}) ~> $lookup('a')))"),
            // … with an undefined key, which jsonata-core looks up as "undefined".
            "($o := {'undefined': [1..1000000]}; $count($lookup($map([1..1000], function($i) { $o }), $nothing)))"
                .to_owned(),
            // A transform compares every value of its input with every target, and a target
            // found in the input with itself, over every path through it; two long texts
            // of one length byte by byte; and it copies the keys of what it rebuilds.
            "$count([1..1000000] ~> |$|{}|)".to_owned(),
            format!("{nested} ~> |$|{{}}|"),
            "($s := $pad('', 16000000, 'x'); $a := $s & 'a'; $b := $s & 'b'; [$a] ~> |[1..1000000].$b|{}|)".to_owned(),
            "($o := {$pad('', 16000000, 'x'): 1}; $count([1..1000].$o ~> |x|{}|))".to_owned(),
            "($x := [1..1000]; {'a': [1..1000].{'n': 0/0, 'v': $x}} ~> |a|{}|)".to_owned(),
            // What each target's update merges, and what its deletions shift.
            "($u := $merge([1..100000].{$string($): 0}); $count([1..10000].{} ~> |$|$u|))".to_owned(),
            "($o := $merge([1..200000].{$string($): 0}); $o ~> |$|{}, $keys($)|)".to_owned(),
            // A field step over items that are arrays: flattened before it is counted.
            "($o := {'x': [1..1000000]}; $k := [1..1000].$o; $count([[$k]].x))".to_owned(),
            // A `.[…]` step copies its first value once per item too.
            format!("{a}$count([1..1000].[$a]))"),
        ] {
            let started = std::time::Instant::now();
            let error = format!("{:?}", eval(&path, input.clone()).unwrap_err());
            assert!(error.contains("D2015") || error.contains("D1012"), "{path}: {error}");
            assert!(started.elapsed().as_millis() < 5_000, "{path} took {:?}", started.elapsed());
        }
        // A range operand past 2^53 (jsonata-core's size arithmetic overflowed on it, a
        // fuzz reproducer) is refused; ranges within it are as they were.
        for text in [
            "$count(-1.7e42..5)",
            "[5..1e300]",
            "$fortNmmuaber(177-1777777111111111111111111111111111111111123..5, '#')",
        ] {
            let error = format!("{:?}", eval(text, input.clone()).unwrap_err());
            assert!(error.contains("D2014"), "{text}: {error}");
        }
        assert_eq!(
            ok("[-2..1, 4503599627370494..4503599627370495]"),
            Some(json!([-2, -1, 0, 1, 4503599627370494i64, 4503599627370495i64]))
        );
        // Only a range jsonata-core would miscount is refused: an empty one, or one that is
        // not of integers, is what JSONata says it is.
        assert_eq!(ok("[1e300..0]"), Some(json!([])));
        assert_eq!(ok("$count(1e17..1e17)"), Some(json!(1)));
        for text in ["1e19..1e20", "1e300..1e300", "-1e300..-1e300"] {
            let error = format!("{:?}", eval(text, input.clone()).unwrap_err());
            assert!(error.contains("D2014") && error.contains("2^63"), "{text}: {error}");
        }
        // A transform whose targets come from its input, each found where it is (jsonata-core
        // compares each value with the targets in turn: past 2,000 or so targets such a
        // transform meets the time bound anyway), and the other uses of the rewritten
        // steps, still give what they gave.
        let items = json!({"input": {"items": (0..300).map(|i| json!({"id": i, "done": false})).collect::<Vec<_>>()}});
        let done = eval("$count(($states.input ~> |items|{'done': true}|).items[done])", items).unwrap();
        assert_eq!(done, Some(json!(300)));
        // A value is charged for the targets of its own kind: 2,000 orders of six values,
        // 500 of them targets, is not refused (objects are compared with 500 targets,
        // their fields with none); and a variable the location binds is seen by the update.
        let orders: Vec<Value> = (0..2000)
            .map(|i| json!({"id": i, "status": if i % 4 == 0 { "open" } else { "done" }, "a": 1, "b": "x", "c": null}))
            .collect();
        let queued = eval(
            "$count(($states.input ~> |orders[status='open']|{'status': 'queued'}|).orders[status='queued'])",
            json!({"input": {"orders": orders}}),
        );
        assert!(
            matches!(&queued, Ok(Some(n)) if n == &json!(500)) || format!("{queued:?}").contains("D1012"),
            "{queued:?}"
        );
        assert_eq!(
            ok("{'items': [{'a': 1}]} ~> | $x := items | {'v': $x.a} |"),
            Some(json!({"items": [{"a": 1, "v": 1}]}))
        );
        // Updates and deletions still do what they did.
        assert_eq!(
            ok("{'items': [{'a': 1, 'b': 2, 'c': 3}, {'a': 4}]} ~> |items|{'d': a}, ['b', 'c']|"),
            Some(json!({"items": [{"a": 1, "d": 1}, {"a": 4, "d": 4}]}))
        );
        assert_eq!(ok("{'a': {'x': 1}} ~> |a|null, 'x'|"), Some(json!({"a": {}})));
        let error = format!("{:?}", eval("{'a': {'x': 1}} ~> |a|5|", input.clone()).unwrap_err());
        assert!(error.contains("T2011"), "{error}");
        assert_eq!(ok("{'undefined': 7} ~> $lookup($nothing)"), Some(json!(7)));
        assert_eq!(ok("($k := [[{'x': [1, 2]}, {'x': 3}]]; $k.x)"), Some(json!([1, 2, 3])));
        let error = format!("{:?}", eval("1.5..1e300", input.clone()).unwrap_err());
        assert!(error.contains("T2003"), "{error}");
        // AWS's `$range` far from zero, where adding the step changes nothing, ends.
        assert_eq!(ok("$range(1e17, 1e17, 1)"), Some(json!(1e17)));
        // Accumulating with `$append` costs a value a step, not the accumulator's length.
        // (jsonata-core's own copying is quadratic here: in a debug build on a busy machine
        // it may meet the time bound, D1012, but never the count, D2015.)
        let accumulated =
            eval("$count($reduce([1..3000], function($acc, $v) { $append($acc, $v) }, []))", input.clone());
        assert!(
            matches!(&accumulated, Ok(Some(n)) if n == &json!(3000)) || format!("{accumulated:?}").contains("D1012"),
            "{accumulated:?}"
        );
        // … and they still give what they gave.
        let data = json!({"input": {"a": {"b": [1, [2, 3]], "c": {"d": 4}}, "e": [[5], 6]}});
        let same = |text: &str| eval(text, data.clone()).unwrap();
        assert_eq!(same("$states.input.a.*"), Some(json!([1, 2, 3, {"d": 4}])));
        assert_eq!(same("$states.input.a.c.*"), Some(json!(4)));
        assert_eq!(same("$count($states.input.**)"), Some(json!(9)));
        assert_eq!(same("$states.input.a.**.d"), Some(json!(4)));
        assert_eq!(
            same("[$states.input.e, [7], 1..2, $states.input.a.b]"),
            Some(json!([[5], 6, [7], 1, 2, 1, [2, 3]]))
        );
        assert_eq!(same("$append($states.input.e, 8)"), Some(json!([[5], 6, 8])));
        failed("($j := $join; $j($split($pad('', 200000), ''), $pad('', 100)))");
        // A built-in's name is the built-in wherever it is read so, even where the
        // expression binds that name elsewhere, before or after (in a lambda's parameters,
        // later in the same block); where it is bound, it is the value bound.
        failed("(function($pad) { 0 }; $reduce(['x', 1e9], $pad))");
        failed("($r := $reduce(['x', 1e9], $pad); $pad := 0; $r)");
        failed("($j := $join; $f := function($join) { $join }; $j($split($pad('', 200000), ''), $pad('', 100)))");
        assert_eq!(ok("($p := $pad; $pad := function($s, $w) { 'u' }; $p('a', 3))"), Some(json!("a  ")));
        assert_eq!(ok("($pad := function($s, $w) { 'u' }; $reduce(['x', 3], $pad))"), Some(json!("u")));
        assert_eq!(ok("$map(['a', 'b'], function($v) { $v ~> $uppercase })"), Some(json!(["A", "B"])));
        assert_eq!(ok("($f := $append; $f([1], [2, 3]))"), Some(json!([1, 2, 3])));
        assert_eq!(ok("$type($string)"), Some(json!("function")));
        assert_eq!(
            ok("$reduce([['a', 'b'], ['c']], function($t, $v) { $t & $join($v, '-') }, '')"),
            Some(json!("a-bc"))
        );
        // Partial application goes through the guards too.
        failed("$length($pad('', ?)(1000000000))");
        failed("$length($pad(?, ?)('', 100000000))");
        failed("($s := $pad('', 1000000); $length($replace(?, /./, ?)($s, $pad('', 1500))))");
        failed("($e := $encodeUrlComponent; $length($e($e($e($pad('', 16000000, '%'))))))");
        // jsonata-core panics on this picture: the expression's error, not the process's end.
        let panicked = format!("{:?}", eval("$fromMillis(0, '[Y,64]')", input.clone()));
        assert!(panicked.contains("evaluator failed"), "{panicked}");
        // Templating a 200 KB text through a replacement function is fine (what it adds counts).
        let template = format!("{}{{{{name}}}}{}", "x".repeat(100_000), "y".repeat(100_000));
        let data = json!({"input": {"t": template, "v": {"name": "z".repeat(200)}}});
        let done = eval(
            "$replace($states.input.t, /\\{\\{(\\w+)\\}\\}/, function($m) { $lookup($states.input.v, $m.groups[0]) })",
            data,
        )
        .unwrap();
        assert_eq!(done.and_then(|v| v.as_str().map(str::len)), Some(200_200));
        // The guarded built-ins mean what they meant, the context value included.
        assert_eq!(ok("$states.input.name.$pad(4, '-')"), Some(json!("ab--")));
        assert_eq!(ok("$pad('ab', -4)"), Some(json!("  ab")));
        assert_eq!(ok("$states.input.name.$replace('a', 'A')"), Some(json!("Ab")));
        assert_eq!(ok("$replace('aaa', 'a', 'b', 2)"), Some(json!("bba")));
        assert_eq!(ok("$states.input.name.$replace('b', 'B', 1)"), Some(json!("aB")));
        assert_eq!(ok("$replace('abc', /b/, function($m) { $uppercase($m.match) })"), Some(json!("aBc")));
        assert_eq!(ok("$states.input.list.$string()"), Some(json!(["x", "y"])));
        assert_eq!(ok("$join($states.input.list, '+') & 1 & null"), Some(json!("x+y1null")));
        assert_eq!(ok("$states.input.missing & 'z'"), Some(json!("z")));
        assert_eq!(ok("$pad($states.input.missing, 3)"), None);
        assert_eq!(ok("$string({'a': [1, 2]})"), Some(json!("{\"a\":[1,2]}")));
        // Regular expressions are JavaScript's: no nested classes or set operations (a
        // pathological one took a second to compile); escaped brackets are fine.
        for refused in ["/[[a]--[b]]/", "/[][a]]/", "/[^][a]]/", "/[\\S--x]/i", "/[a&&b]/", "/[a~~b]/"] {
            let error = Expr::parse(&format!("$match('a[b', {refused})")).unwrap_err();
            assert!(error.contains("inside a character class"), "{refused}: {error}");
        }
        assert_eq!(ok("$contains('a]b', /[\\]]/)"), Some(json!(true)));
        assert_eq!(ok("$contains('[ab]', /\\[[a-z]+\\]/)"), Some(json!(true)));
        assert_eq!(ok("$contains('a-b', /[a-]/)"), Some(json!(true)));
        assert_eq!(ok("$contains('a[b', /[\\[]/)"), Some(json!(true)));
        assert_eq!(ok("$replace('a]b', /]/, '-')"), Some(json!("a-b")));
        // Partial application, and functions passed as values.
        assert_eq!(ok("$map(['a', 'b'], $pad(?, 3, '-'))"), Some(json!(["a--", "b--"])));
        assert_eq!(ok("$replace(?, 'a', 'b')('aaa')"), Some(json!("bbb")));
        assert_eq!(ok("$string(?)(5)"), Some(json!("5")));
        assert_eq!(ok("$join(?, '-')(['a', 'b'])"), Some(json!("a-b")));
        assert_eq!(ok("$map([1, 2], $string)"), Some(json!(["1", "2"])));
        // What the rewrite touches means what it meant (compared with jsonata-core alone).
        let data = json!({"input": {"a": [{"b": 1, "c": [1, 2]}, {"b": 2, "c": [3]}], "s": "hello"}});
        for text in [
            "$map([{'a': 1}, {'a': 2}], $string)",
            "$states.input.a#$i.[c]",
            "$states.input.a#$i.[c, b]",
            "$states.input.a#$i.[c][1]",
            "$states.input.a#$i.{'b': b, 'i': $i}",
            "$states.input.a@$o.$o.c",
            "$map(['a', 'b'], $uppercase)",
            "$map(['a b'], $encodeUrlComponent)",
            "$pad(?, 5, '-')('ab')",
            "$replace(?, 'l', ?)($states.input.s, 'L')",
            "($j := $join(?, '+'); $j(['a', 'b']))",
        ] {
            assert_eq!(eval(text, data.clone()).unwrap(), unguarded(text, &data), "{text}");
        }
        assert_eq!(ok("($p := $pad; $p('a', 3, '-'))"), Some(json!("a--")));
        assert_eq!(ok("($pad := function($x) { 'mine' }; $pad('a', 9))"), Some(json!("mine")));
        assert_eq!(ok("$reduce([['a', 'b'], ['c']], function($acc, $v) { $acc & $join($v) }, '')"), Some(json!("abc")));
        assert_eq!(ok("$join(['a', 'b'])"), Some(json!("ab")));
        // Bindings in paths mean what they meant (the reference suite's focus, index and
        // parent cases run through the same rewrite).
        assert_eq!(
            ok("($x := [{'n': 'a'}, {'n': 'b'}]; $x#$i.{'n': n, 'i': $i})"),
            Some(json!([{"n": "a", "i": 0}, {"n": "b", "i": 1}]))
        );
        assert_eq!(ok("$states.input.list ~> $join(', ')"), Some(json!("x, y")));
        assert_eq!(ok("'abc' ~> $replace('b', 'B')"), Some(json!("aBc")));
        failed("$split($pad('', 200000), '') ~> $join($pad('', 100))");
        assert_eq!(ok("$string({'a': [1]}, true)"), Some(json!("{\n  \"a\": [\n    1\n  ]\n}")));
        // The guards' variables are not the user's.
        assert_eq!(ok("($__sfnlite_r0 := 'X'; $replace('abc', 'b', $__sfnlite_r0))"), Some(json!("aXc")));
        assert_eq!(ok("($r := 'X'; $replace('abc', /b/, function($m) { $r & $m.match }))"), Some(json!("aXbc")));
    }

    #[test]
    fn context_use_is_found_at_load_time() {
        let compile = |v: Value| Template::compile(&v, "/Output", &mut Diagnostics::default());
        assert!(!compile(json!({"a": "{% $states.input.x + $states.result %}"})).uses_context());
        assert!(compile(json!({"a": "{% $states.context.Execution.Id %}"})).uses_context());
        assert!(compile(json!(["{% $keys($states) %}"])).uses_context(), "$states as a whole");
        assert!(!compile(json!({"a": "$states.context (a literal)"})).uses_context());
    }

    #[test]
    fn undefined_and_errors_use_aws_wording() {
        let entropy = SeededEntropy::new(1);
        let states = json!({"input": {}});
        let variables = Map::new();
        let bindings = Bindings { states: &states, variables: &variables, entropy: &entropy, now_millis: 0 };
        let template = Template::compile(&json!({"r": "{% $nope %}"}), "/Output", &mut Diagnostics::default());
        assert_eq!(
            template.render(&bindings, "Output"),
            Err(EvalError::Query(
                "The JSONata expression '$nope' specified for the field 'Output/r' returned nothing (undefined)."
                    .into()
            ))
        );
    }
}
