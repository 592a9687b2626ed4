//! Intrinsic functions: `States.Format(…)`, `States.Array(…)` and the other sixteen.
//!
//! An intrinsic call is the value of a `"key.$"` field that starts with `States.`. It is
//! parsed once, with the definition ([`Intrinsic::parse`]); the argument paths are compiled
//! then, so evaluation ([`Intrinsic::eval`]) never re-parses anything.
//!
//! Syntax: `States.Name(arg, arg, …)`, where an argument is a string literal in single quotes
//! (`\'`, `\{`, `\}` and `\\` are its only escapes), a number, `true`, `false`, `null`, a path
//! (`$…`, `$$…`, `$variable…`) or a nested call. Whitespace may surround arguments.
//!
//! Failures behave as on AWS: a bad argument (wrong type, wrong count, out of range) or a path
//! argument that selects nothing fails the state with `States.Runtime` (not
//! `States.IntrinsicFailure`), and the cause names the whole expression as written:
//!
//! - `The function 'States.Format('{}', $.nope)' had the following error: The JsonPath argument
//!   for the field '$.nope' could not be found in the input '{"other":1}'`
//! - `The function 'States.MathAdd($.a, $.b)' had the following error: Invalid arguments in
//!   States.MathAdd`
//!
//! Numbers are coerced the way AWS (Java) does: `States.MathAdd` rounds each argument with
//! Java's `Math.round` (halves toward positive infinity: `2.5 → 3`, `-2.5 → -2`); the array
//! functions do the same with their integer arguments; `States.MathRandom` truncates its bounds
//! toward zero. A seeded `States.MathRandom` uses the `java.util.Random` generator, so a seed
//! always yields the same number.

use std::borrow::Cow;
use std::fmt;

use md5::Md5;
use serde_json::{Map, Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::entropy::Entropy;
use crate::error::EvalError;
use crate::path::{Path, Root, Selects};

/// The prefix every intrinsic function call starts with.
const PREFIX: &str = "States.";

/// AWS's limit on the string arguments of `States.Base64Encode`, `States.Base64Decode` and
/// `States.Hash` (in characters).
const MAX_STRING_ARGUMENT: usize = 10_000;

/// AWS's limit on the length of the array `States.ArrayRange` builds.
const MAX_RANGE_ITEMS: i64 = 1000;

/// Nesting deeper than this is refused by the parser (AWS documents a limit of 10 nested
/// calls; the parser only guards against runaway recursion).
const MAX_PARSE_DEPTH: usize = 64;

/// True when a `.$` value is an intrinsic call rather than a path (i.e. starts with `States.`).
pub fn is_intrinsic(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// A parsed intrinsic function call, e.g. `States.Format('{} {}', $.a, States.Array(1, 2))`.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    text: Box<str>,
    call: Call,
}

impl Intrinsic {
    /// Parses the whole text of a `"key.$"` value that starts with `States.`.
    ///
    /// `Err(message)` describes the syntax problem (for a validation diagnostic): an unknown
    /// function, a malformed literal or path, a missing parenthesis or comma, an unknown escape
    /// in a string literal… Argument counts and types are checked when the call is evaluated,
    /// as AWS does.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut parser = Parser { text, pos: 0 };
        let call = parser.call(0)?;
        parser.skip_ws();
        if parser.pos != text.len() {
            return Err(format!(
                "unexpected text '{}' after the end of the intrinsic function call",
                &text[parser.pos..]
            ));
        }
        Ok(Intrinsic { text: text.into(), call })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The outermost function's name, e.g. `States.Format`.
    pub fn function_name(&self) -> &'static str {
        self.call.func.name()
    }

    /// True when some path argument (at any depth) reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        self.call.uses_root(&|root| matches!(root, Root::Context))
    }

    /// True when some path argument (at any depth) reads a workflow variable (`$name`).
    pub fn uses_variables(&self) -> bool {
        self.call.uses_root(&|root| matches!(root, Root::Variable(_)))
    }

    /// Evaluates against the scope; randomness (States.UUID, States.MathRandom without seed)
    /// comes from `entropy`.
    ///
    /// Every failure is a `States.Runtime` error ([`EvalError::Runtime`]) whose text starts
    /// with `The function '<the whole call as written>' had the following error: `.
    pub fn eval<'a>(&'a self, scope: &impl Selects<'a>, entropy: &dyn Entropy) -> Result<Value, EvalError> {
        eval_call(&self.call, scope, entropy).map_err(|failure| {
            let detail = match failure {
                Failure::Missing(path) => format!(
                    "The JsonPath argument for the field '{path}' could not be found in the input '{}'",
                    scope.input_text()
                ),
                Failure::Invalid(detail) => detail,
            };
            EvalError::Runtime(format!("The function '{}' had the following error: {detail}", self.text))
        })
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// ---------------------------------------------------------------------------------------------
// The syntax tree.

/// The eighteen functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

const FUNCTIONS: &[(&str, Func)] = &[
    ("States.Format", Func::Format),
    ("States.StringToJson", Func::StringToJson),
    ("States.JsonToString", Func::JsonToString),
    ("States.Array", Func::Array),
    ("States.ArrayPartition", Func::ArrayPartition),
    ("States.ArrayContains", Func::ArrayContains),
    ("States.ArrayRange", Func::ArrayRange),
    ("States.ArrayGetItem", Func::ArrayGetItem),
    ("States.ArrayLength", Func::ArrayLength),
    ("States.ArrayUnique", Func::ArrayUnique),
    ("States.Base64Encode", Func::Base64Encode),
    ("States.Base64Decode", Func::Base64Decode),
    ("States.Hash", Func::Hash),
    ("States.JsonMerge", Func::JsonMerge),
    ("States.MathRandom", Func::MathRandom),
    ("States.MathAdd", Func::MathAdd),
    ("States.StringSplit", Func::StringSplit),
    ("States.UUID", Func::Uuid),
];

impl Func {
    fn lookup(name: &str) -> Option<Func> {
        FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    fn name(self) -> &'static str {
        FUNCTIONS.iter().find(|(_, f)| *f == self).map(|(n, _)| *n).unwrap_or("States.Unknown")
    }

    /// The accepted argument counts (`None` = no upper bound).
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::Array => (0, None),
            Func::Uuid => (0, Some(0)),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, Some(1)),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, Some(2)),
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
            Func::MathRandom => (2, Some(3)),
        }
    }
}

#[derive(Debug, Clone)]
struct Call {
    func: Func,
    args: Vec<Arg>,
    /// For `States.Format` with a literal template: the template, compiled at parse time
    /// (`Err` when it is malformed, reported when the call is evaluated, as AWS does).
    template: Option<Result<Vec<Piece>, String>>,
}

impl Call {
    fn uses_root(&self, test: &dyn Fn(&Root) -> bool) -> bool {
        self.args.iter().any(|arg| match arg {
            Arg::Path(path) => test(path.root()),
            Arg::Call(call) => call.uses_root(test),
            Arg::Literal(_) | Arg::Str { .. } => false,
        })
    }
}

#[derive(Debug, Clone)]
enum Arg {
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    /// A string literal: its value, and its text with only `\'` resolved (what a
    /// `States.Format` template is compiled from, so that `\{` stays a literal brace).
    Str {
        value: Value,
        raw: String,
    },
    Path(Path),
    Call(Call),
}

/// A piece of a `States.Format` template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Placeholder,
}

// ---------------------------------------------------------------------------------------------
// The parser.

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn call(&mut self, depth: usize) -> Result<Call, String> {
        if depth > MAX_PARSE_DEPTH {
            return Err("intrinsic functions are nested too deeply".into());
        }
        let start = self.pos;
        if !self.rest().starts_with(PREFIX) {
            return Err(format!("expected an intrinsic function at position {start}"));
        }
        self.pos += PREFIX.len();
        let name_len = self.rest().find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(self.rest().len());
        self.pos += name_len;
        let name = &self.text[start..self.pos];
        let func = Func::lookup(name).ok_or_else(|| format!("unknown intrinsic function '{name}'"))?;
        if self.peek() != Some('(') {
            return Err(format!("expected '(' after '{name}'"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg(depth)?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(format!("expected ',' or ')' but found '{c}' in the arguments of '{name}'"));
                    }
                    None => {
                        return Err(format!("missing ')' at the end of the arguments of '{name}'"));
                    }
                }
            }
        }
        let template = match (func, args.first()) {
            (Func::Format, Some(Arg::Str { raw, .. })) => Some(parse_template(raw)),
            _ => None,
        };
        Ok(Call { func, args, template })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, String> {
        let rest = self.rest();
        match rest.chars().next() {
            None => Err("missing argument at the end of the text".into()),
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(_) if rest.starts_with(PREFIX) => Ok(Arg::Call(self.call(depth + 1)?)),
            Some(c) => {
                let word_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
                let value = match &rest[..word_len] {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    "" => return Err(format!("unexpected '{c}' where an argument was expected")),
                    word => return Err(format!("invalid argument '{word}'")),
                };
                self.pos += word_len;
                Ok(Arg::Literal(value))
            }
        }
    }

    /// A single-quoted literal; the opening quote is at `pos`.
    fn string(&mut self) -> Result<Arg, String> {
        let mut value = String::new();
        let mut raw = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos += i + 1;
                    return Ok(Arg::Str { value: Value::String(value), raw });
                }
                '\\' => match chars.next() {
                    Some((_, '\'')) => {
                        value.push('\'');
                        raw.push('\'');
                    }
                    Some((_, e @ ('{' | '}' | '\\'))) => {
                        value.push(e);
                        raw.push('\\');
                        raw.push(e);
                    }
                    Some((_, e)) => {
                        return Err(format!(
                            "invalid escape sequence '\\{e}' in a string literal (only \\', \\{{, \\}} and \\\\ are allowed)"
                        ));
                    }
                    None => return Err("unterminated string literal".into()),
                },
                c => {
                    value.push(c);
                    raw.push(c);
                }
            }
        }
        Err("unterminated string literal".into())
    }

    /// A path runs to the next `,` or `)` outside brackets, parentheses and quotes.
    fn path(&mut self) -> Result<Arg, String> {
        let rest = self.rest();
        let mut depth = 0usize;
        let mut quotes = crate::path::Quotes::default();
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if quotes.consume(c) {
                continue;
            }
            match c {
                '[' | '(' => depth += 1,
                ']' | ')' if depth > 0 => depth -= 1,
                ',' | ')' => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let text = rest[..end].trim_end();
        let path = Path::parse(text).map_err(|e| format!("invalid path argument: {e}"))?;
        self.pos += end;
        Ok(Arg::Path(path))
    }

    fn number(&mut self) -> Result<Arg, String> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
            .unwrap_or(rest.len());
        let text = &rest[..len];
        let number = parse_number(text).ok_or_else(|| format!("invalid number '{text}'"))?;
        self.pos += len;
        Ok(Arg::Literal(Value::Number(number)))
    }
}

/// A JSON number: `-?digits(.digits)?([eE][+-]?digits)?`.
fn parse_number(text: &str) -> Option<Number> {
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    let mut integer = true;
    if bytes.get(i) == Some(&b'.') {
        integer = false;
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        integer = false;
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    if integer {
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// Compiles a `States.Format` template: `{}` is a placeholder; `\{`, `\}` and `\\` stand for
/// the character; any other `{` or `}` is an error.
fn parse_template(raw: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&e @ ('{' | '}' | '\\')) => {
                    chars.next();
                    text.push(e);
                }
                _ => text.push('\\'),
            },
            '{' => {
                if chars.peek() != Some(&'}') {
                    return Err("Invalid template in States.Format: matching '}' not found for '{'.".into());
                }
                chars.next();
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Placeholder);
            }
            '}' => {
                return Err("Invalid template in States.Format: matching '{' not found for '}'.".into());
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

/// Why a call failed, before the cause text is assembled.
enum Failure {
    /// A path argument selected nothing; the path as AWS reports it.
    Missing(String),
    /// The text after "had the following error: ".
    Invalid(String),
}

fn invalid(func: Func) -> Failure {
    Failure::Invalid(format!("Invalid arguments in {}", func.name()))
}

fn eval_arg<'a>(arg: &'a Arg, scope: &impl Selects<'a>, entropy: &dyn Entropy) -> Result<Cow<'a, Value>, Failure> {
    match arg {
        Arg::Literal(value) | Arg::Str { value, .. } => Ok(Cow::Borrowed(value)),
        Arg::Path(path) => scope.select(path).map_err(|_| {
            // A context path is reported relative to the context object: `$$.A.B` → `$.A.B`.
            let text = path.as_str();
            let shown = if matches!(path.root(), Root::Context) { &text[1..] } else { text };
            Failure::Missing(shown.to_owned())
        }),
        Arg::Call(call) => eval_call(call, scope, entropy).map(Cow::Owned),
    }
}

fn eval_call<'a>(call: &'a Call, scope: &impl Selects<'a>, entropy: &dyn Entropy) -> Result<Value, Failure> {
    let func = call.func;
    let args = call.args.iter().map(|arg| eval_arg(arg, scope, entropy)).collect::<Result<Vec<_>, _>>()?;
    let (min, max) = func.arity();
    if args.len() < min || max.is_some_and(|max| args.len() > max) {
        return Err(invalid(func));
    }
    let bad = || invalid(func);
    match func {
        Func::Format => {
            let compiled;
            let pieces = match &call.template {
                Some(Ok(pieces)) => pieces,
                Some(Err(message)) => return Err(Failure::Invalid(message.clone())),
                None => {
                    let template = args[0].as_str().ok_or_else(bad)?;
                    compiled = parse_template(template).map_err(Failure::Invalid)?;
                    &compiled
                }
            };
            let values = &args[1..];
            let holes = pieces.iter().filter(|p| **p == Piece::Placeholder).count();
            if holes != values.len() {
                return Err(Failure::Invalid(
                    "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}."
                        .into(),
                ));
            }
            let mut out = String::new();
            let mut values = values.iter();
            for piece in pieces {
                match piece {
                    Piece::Text(text) => out.push_str(text),
                    Piece::Placeholder => {
                        if let Some(value) = values.next() {
                            format_value(value, &mut out);
                        }
                    }
                }
            }
            Ok(Value::String(out))
        }
        Func::StringToJson => {
            let text = args[0].as_str().ok_or_else(bad)?;
            string_to_json(text).ok_or_else(bad)
        }
        Func::JsonToString => Ok(Value::String(serde_json::to_string(&*args[0]).map_err(|_| bad())?)),
        Func::Array => Ok(Value::Array(args.into_iter().map(Cow::into_owned).collect())),
        Func::ArrayPartition => {
            let items = args[0].as_array().ok_or_else(bad)?;
            let size = java_round(&args[1]).ok_or_else(bad)?;
            let size = usize::try_from(size).ok().filter(|s| *s > 0).ok_or_else(bad)?;
            Ok(Value::Array(items.chunks(size).map(|chunk| Value::Array(chunk.to_vec())).collect()))
        }
        Func::ArrayContains => {
            let items = args[0].as_array().ok_or_else(bad)?;
            Ok(Value::Bool(items.contains(&args[1])))
        }
        Func::ArrayRange => {
            let start = java_round(&args[0]).ok_or_else(bad)?;
            let end = java_round(&args[1]).ok_or_else(bad)?;
            let step = java_round(&args[2]).ok_or_else(bad)?;
            if step == 0 {
                return Err(bad());
            }
            let span = i128::from(end) - i128::from(start);
            let count = if (span >= 0) == (step > 0) || span == 0 { span / i128::from(step) + 1 } else { 0 };
            if count > i128::from(MAX_RANGE_ITEMS) {
                return Err(bad());
            }
            Ok(Value::Array((0..count as i64).map(|k| Value::from(start + k * step)).collect()))
        }
        Func::ArrayGetItem => {
            let items = args[0].as_array().ok_or_else(bad)?;
            let index = java_round(&args[1]).ok_or_else(bad)?;
            let item = usize::try_from(index).ok().and_then(|i| items.get(i)).ok_or_else(bad)?;
            Ok(item.clone())
        }
        Func::ArrayLength => Ok(Value::from(args[0].as_array().ok_or_else(bad)?.len())),
        Func::ArrayUnique => {
            let items = args[0].as_array().ok_or_else(bad)?;
            let mut unique: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                if !unique.contains(item) {
                    unique.push(item.clone());
                }
            }
            Ok(Value::Array(unique))
        }
        Func::Base64Encode => {
            let text = args[0].as_str().filter(|t| t.chars().count() <= MAX_STRING_ARGUMENT).ok_or_else(bad)?;
            Ok(Value::String(crate::base64::encode(text.as_bytes())))
        }
        Func::Base64Decode => {
            let text = args[0].as_str().filter(|t| t.chars().count() <= MAX_STRING_ARGUMENT).ok_or_else(bad)?;
            Ok(Value::String(String::from_utf8_lossy(&crate::base64::decode_lenient(text)).into_owned()))
        }
        Func::Hash => {
            let data = match &*args[0] {
                Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(serde_json::to_string(other).map_err(|_| bad())?),
            };
            if data.chars().count() > MAX_STRING_ARGUMENT {
                return Err(bad());
            }
            let algorithm = args[1].as_str().ok_or_else(bad)?;
            hash(algorithm, data.as_bytes()).map(Value::String).ok_or_else(bad)
        }
        Func::JsonMerge => {
            let (Value::Object(first), Value::Object(second), Value::Bool(false)) = (&*args[0], &*args[1], &*args[2])
            else {
                // AWS supports only the shallow mode (`false`).
                return Err(bad());
            };
            let mut merged: Map<String, Value> = first.clone();
            for (key, value) in second {
                merged.insert(key.clone(), value.clone());
            }
            Ok(Value::Object(merged))
        }
        Func::MathRandom => {
            let bound =
                |v: &Value| v.as_f64().map(f64::trunc).filter(|x| (i32::MIN as f64..=i32::MAX as f64).contains(x));
            let start = bound(&args[0]).ok_or_else(bad)? as i64;
            let end = bound(&args[1]).ok_or_else(bad)? as i64;
            let range = end - start;
            if range <= 0 || range > i64::from(i32::MAX) {
                return Err(bad());
            }
            let offset = match args.get(2) {
                Some(seed) => {
                    let seed = seed.as_i64().or_else(|| seed.as_f64().map(|f| f.trunc() as i64)).ok_or_else(bad)?;
                    i64::from(JavaRandom::new(seed).next_int_bounded(range as i32))
                }
                None => ((entropy.next_f64() * range as f64) as i64).min(range - 1),
            };
            Ok(Value::from(start + offset))
        }
        Func::MathAdd => {
            let operand = |v: &Value| java_round(v).filter(|n| i32::try_from(*n).is_ok());
            let a = operand(&args[0]).ok_or_else(bad)?;
            let b = operand(&args[1]).ok_or_else(bad)?;
            Ok(Value::from(a + b))
        }
        Func::StringSplit => {
            let (Some(text), Some(delimiters)) = (args[0].as_str(), args[1].as_str()) else {
                return Err(bad());
            };
            let parts = text
                .split(|c: char| delimiters.contains(c))
                .filter(|part| !part.is_empty())
                .map(|part| Value::String(part.to_owned()))
                .collect();
            Ok(Value::Array(parts))
        }
        Func::Uuid => Ok(Value::String(entropy.uuid_v4())),
    }
}

/// The integer a JSON number rounds to with Java's `Math.round` (ties toward +∞).
fn java_round(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else { return None };
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let x = n.as_f64()?;
    let rounded = if (x - x.trunc()).abs() == 0.5 { x.ceil() } else { x.round() };
    (rounded >= i64::MIN as f64 && rounded < i64::MAX as f64).then_some(rounded as i64)
}

/// How a `States.Format` argument is written into the result: strings as they are; other
/// scalars as JSON; objects and arrays the way Java prints its maps and lists
/// (`{Id=arn:…, Name=x}`, `[1, a]`), which is what AWS produces.
fn format_value(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                format_value(item, out);
            }
            out.push('}');
        }
    }
}

/// `States.StringToJson`: the first JSON value of the text (an empty or blank text is `null`,
/// text after the first value is ignored, as Jackson's `readTree` does); `None` if the text
/// does not start with a valid JSON value.
fn string_to_json(text: &str) -> Option<Value> {
    if text.trim().is_empty() {
        return Some(Value::Null);
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut value = stream.next()?.ok()?;
    // serde_json reads the integer `-0` as the float -0.0; Jackson reads it as the integer 0.
    if has_integer_negative_zero(text) {
        fix_negative_zero(&mut value);
    }
    Some(value)
}

/// True when the JSON text contains the integer token `-0` (outside strings).
fn has_integer_negative_zero(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if *b == b'\\' {
                escaped = true;
            } else if *b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'-' if bytes.get(i + 1) == Some(&b'0')
                && !matches!(bytes.get(i + 2), Some(b'.' | b'e' | b'E' | b'0'..=b'9')) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

fn fix_negative_zero(value: &mut Value) {
    match value {
        Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => *value = Value::from(0),
        Value::Array(items) => items.iter_mut().for_each(fix_negative_zero),
        Value::Object(map) => map.values_mut().for_each(fix_negative_zero),
        _ => {}
    }
}

/// The lowercase hex digest of `data` with an AWS hash algorithm name (`MD5`, `SHA-1`,
/// `SHA-256`, `SHA-384`, `SHA-512`), as `States.Hash` and JSONata's `$hash` compute it.
pub fn hash_hex(data: &str, algorithm: &str) -> Option<String> {
    hash(algorithm, data.as_bytes())
}

fn hash(algorithm: &str, data: &[u8]) -> Option<String> {
    let digest: Vec<u8> = match algorithm {
        "MD5" => Md5::digest(data).to_vec(),
        "SHA-1" => Sha1::digest(data).to_vec(),
        "SHA-256" => Sha256::digest(data).to_vec(),
        "SHA-384" => Sha384::digest(data).to_vec(),
        "SHA-512" => Sha512::digest(data).to_vec(),
        _ => return None,
    };
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// The linear congruential generator of `java.util.Random` (48-bit state), so a seeded
/// `States.MathRandom` gives the same number every time, as on AWS.
struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const INCREMENT: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> JavaRandom {
        JavaRandom { state: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK }
    }

    /// The next `bits` (≤ 32) random bits, as Java's `next(int)` returns them.
    fn next(&mut self, bits: u32) -> i32 {
        self.state = self.state.wrapping_mul(Self::MULTIPLIER).wrapping_add(Self::INCREMENT) & Self::MASK;
        (self.state >> (48 - bits)) as i32
    }

    /// Java's `nextInt(bound)` for `bound > 0`: uniform in `[0, bound)`.
    fn next_int_bounded(&mut self, bound: i32) -> i32 {
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests read the AWS-recorded corpus and time bounds
mod tests {
    use serde_json::json;

    use super::*;
    use crate::entropy::SeededEntropy;
    use crate::history::Payload;
    use crate::json::Json;
    use crate::path::{PayloadScope, Scope};

    fn context() -> Value {
        json!({
            "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:exec", "Name": "exec",
                          "Input": {"FunctionInput": "a,b", "input_field": {"constant_input_field": "constant_value"}}},
            "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"},
            "Map": {"Item": {"Index": 0, "Value": "Pikachu"}}
        })
    }

    fn run(text: &str, input: Value) -> Result<Value, EvalError> {
        let ctx = context();
        let vars = json!({"name": "John", "n": 5, "tpl": "It's {}!"});
        let scope = Scope { input: &input, context: &ctx, variables: vars.as_object() };
        let intrinsic = Intrinsic::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let result = intrinsic.eval(&scope, &SeededEntropy::new(7));
        // Over a payload (made in either form): the same value or the same error.
        for payload in [Payload::new(input.clone()), Payload::from_json(Json::from(&input))] {
            let scope = PayloadScope { input: &payload, context: &ctx, variables: vars.as_object() };
            assert_eq!(intrinsic.eval(&scope, &SeededEntropy::new(7)), result, "{text}");
        }
        result
    }

    fn ok(text: &str, input: Value) -> Value {
        run(text, input).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn runtime_cause(text: &str, input: Value) -> String {
        match run(text, input) {
            Err(EvalError::Runtime(cause)) => cause,
            other => panic!("{text}: expected a States.Runtime failure, got {other:?}"),
        }
    }

    /// Expected values recorded against AWS (conformance cases), plus the AWS documentation
    /// examples.
    #[test]
    fn recorded_results() {
        let fi = |v: Value| json!({"FunctionInput": v});
        let cases: Vec<(&str, Value, Value)> = vec![
            // States.Format (test_generic.py::test_format_1/2)
            (
                "States.Format('Formatting argument {}.', $.FunctionInput)",
                fi(json!("")),
                json!("Formatting argument ."),
            ),
            (
                "States.Format('Formatting argument {}.', $.FunctionInput)",
                fi(json!(null)),
                json!("Formatting argument null."),
            ),
            (
                "States.Format('Formatting argument {}.', $.FunctionInput)",
                fi(json!(1)),
                json!("Formatting argument 1."),
            ),
            (
                "States.Format('Formatting argument {}.', $.FunctionInput)",
                fi(json!(1.1)),
                json!("Formatting argument 1.1."),
            ),
            (
                "States.Format('Formatting argument {}.', $.FunctionInput)",
                fi(json!("{\"Arg1\": 1, \"Arg2\": []}")),
                json!("Formatting argument {\"Arg1\": 1, \"Arg2\": []}."),
            ),
            (
                "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)",
                fi(json!({"fst": " ", "snd": " "})),
                json!("Formatting arguments fst=  and snd= ."),
            ),
            (
                "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
                json!({}),
                json!(
                    "Formatting arguments fst=exec and snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:sm, Name=sm}."
                ),
            ),
            ("States.Format('Format:{}', 101)", json!({}), json!("Format:101")),
            (
                "States.Format('Hello {}, welcome to {}!', $name, $.place)",
                json!({"place": "X"}),
                json!("Hello John, welcome to X!"),
            ),
            ("States.Format($tpl, $$.Map.Item.Value)", json!({}), json!("It's Pikachu!")),
            ("States.Format($.t, 2020)", json!({"t": "year {}"}), json!("year 2020")),
            ("States.Format('\\{\\} \\'{}\\' \\\\{}', 1, 2)", json!({}), json!("{} '1' \\2")),
            ("States.Format('no placeholders')", json!({}), json!("no placeholders")),
            ("States.Format('{}', States.Array(1, 'a', null))", json!({}), json!("[1, a, null]")),
            // States.StringToJson / JsonToString (test_json_manipulation.py)
            ("States.StringToJson($.FunctionInput)", fi(json!("")), json!(null)),
            ("States.StringToJson($.FunctionInput)", fi(json!("null")), json!(null)),
            ("States.StringToJson($.FunctionInput)", fi(json!("-0")), json!(0)),
            ("States.StringToJson($.FunctionInput)", fi(json!("1")), json!(1)),
            ("States.StringToJson($.FunctionInput)", fi(json!("\"HelloWorld\"")), json!("HelloWorld")),
            ("States.StringToJson($.FunctionInput)", fi(json!("[1, 2, \"HelloWorld\"]")), json!([1, 2, "HelloWorld"])),
            ("States.JsonToString($.FunctionInput)", fi(json!(null)), json!("null")),
            ("States.JsonToString($.FunctionInput)", fi(json!(1.1)), json!("1.1")),
            ("States.JsonToString($.FunctionInput)", fi(json!([1, 2, "HelloWorld"])), json!("[1,2,\"HelloWorld\"]")),
            (
                "States.JsonToString($.FunctionInput)",
                fi(json!({"Arg1": 1, "Arg2": []})),
                json!("{\"Arg1\":1,\"Arg2\":[]}"),
            ),
            // States.JsonMerge (test_json_merge_escaped_argument)
            (
                "States.JsonMerge(States.StringToJson('{\"constant_in_literal\": \"false\"}'), $$.Execution.Input.input_field, false)",
                json!({}),
                json!({"constant_in_literal": "false", "constant_input_field": "constant_value"}),
            ),
            (
                "States.JsonMerge($.json1, $.json2, false)",
                json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}),
                json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}),
            ),
            // States.Array
            (
                "States.Array($.FunctionInput.fst, $.FunctionInput.snd)",
                fi(json!({"fst": 1.1, "snd": null})),
                json!([1.1, null]),
            ),
            (
                "States.Array('Foo', 2020, $.someJson, null)",
                json!({"someJson": {"r": "x"}}),
                json!(["Foo", 2020, {"r": "x"}, null]),
            ),
            ("States.Array()", json!({}), json!([])),
            // States.ArrayPartition
            ("States.ArrayPartition($.a, 2)", json!({"a": []}), json!([])),
            ("States.ArrayPartition($.a, 2)", json!({"a": [0, 1, 2]}), json!([[0, 1], [2]])),
            ("States.ArrayPartition($.a, 5)", json!({"a": [0, 1, 2, 3]}), json!([[0, 1, 2, 3]])),
            (
                "States.ArrayPartition($.a,4)",
                json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}),
                json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
            ),
            // States.ArrayContains
            ("States.ArrayContains($.a, $.v)", json!({"a": [], "v": null}), json!(false)),
            ("States.ArrayContains($.a, $.v)", json!({"a": [[1, 2, 3], 2], "v": [1, 2, 3]}), json!(true)),
            ("States.ArrayContains($.a, $.v)", json!({"a": [{"1": 2, "2": []}], "v": []}), json!(false)),
            ("States.ArrayContains($.a, $.v)", json!({"a": [{"1": 2, "2": []}], "v": {"2": [], "1": 2}}), json!(true)),
            ("States.ArrayContains($.a, $.v)", json!({"a": [true, false], "v": false}), json!(true)),
            // States.ArrayRange
            ("States.ArrayRange(0, 9, 3)", json!({}), json!([0, 3, 6, 9])),
            ("States.ArrayRange(0, 10, 3)", json!({}), json!([0, 3, 6, 9])),
            ("States.ArrayRange(1, 9, 9)", json!({}), json!([1])),
            ("States.ArrayRange(1, 9, 2)", json!({}), json!([1, 3, 5, 7, 9])),
            ("States.ArrayRange(0, 3, 1)", json!({}), json!([0, 1, 2, 3])),
            ("States.ArrayRange(5, 1, -2)", json!({}), json!([5, 3, 1])),
            ("States.ArrayRange(5, 1, 2)", json!({}), json!([])),
            ("States.ArrayRange(3, 3, -1)", json!({}), json!([3])),
            // States.ArrayGetItem / ArrayLength / ArrayUnique
            ("States.ArrayGetItem($.a, $.i)", json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}), json!(6)),
            ("States.ArrayLength($.a)", json!({"a": [null, null, true, [], {"a": 1}]}), json!(5)),
            ("States.ArrayUnique($.a)", json!({"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]}), json!([1, 2, 3, 4])),
            (
                "States.ArrayUnique($.a)",
                json!({"a": [null, null, 1, 1.1, 1, "x", [], [], {"a": 1}, {"a": 1}]}),
                json!([null, 1, 1.1, "x", [], {"a": 1}]),
            ),
            // States.Base64Encode / Base64Decode
            ("States.Base64Encode($.s)", json!({"s": ""}), json!("")),
            ("States.Base64Encode($.s)", json!({"s": "Data to encode"}), json!("RGF0YSB0byBlbmNvZGU=")),
            ("States.Base64Encode('Hello World')", json!({}), json!("SGVsbG8gV29ybGQ=")),
            ("States.Base64Encode('ab')", json!({}), json!("YWI=")),
            ("States.Base64Encode('✓')", json!({}), json!("4pyT")),
            ("States.Base64Decode($.s)", json!({"s": ""}), json!("")),
            ("States.Base64Decode($.s)", json!({"s": "RGF0YSB0byBlbmNvZGU="}), json!("Data to encode")),
            ("States.Base64Decode('44GT44KT44Gr44Gh44Gv')", json!({}), json!("こんにちは")),
            ("States.Base64Decode(' YWJj ZA== ')", json!({}), json!("abcd")),
            ("States.Base64Decode('YWJjZA')", json!({}), json!("abcd")),
            ("States.Base64Decode(States.Base64Encode($.s))", json!({"s": "round trip ✓"}), json!("round trip ✓")),
            // States.Hash (test_hash_calculations.py + AWS docs)
            ("States.Hash($.d, 'MD5')", json!({"d": "input data"}), json!("812f45842bc6d66ee14572ce20db8e86")),
            (
                "States.Hash($.d, 'SHA-1')",
                json!({"d": "input data"}),
                json!("aaff4a450a104cd177d28d18d74485e8cae074b7"),
            ),
            (
                "States.Hash($.d, 'SHA-256')",
                json!({"d": "input data"}),
                json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
            ),
            (
                "States.Hash($.d, 'SHA-384')",
                json!({"d": "input data"}),
                json!(
                    "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"
                ),
            ),
            (
                "States.Hash('Hash this string', 'SHA-256')",
                json!({}),
                json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"),
            ),
            // States.MathAdd (test_math_operations.py): each argument is rounded with Math.round.
            ("States.MathAdd($.a, $.b)", json!({"a": -9, "b": 3}), json!(-6)),
            ("States.MathAdd($.a, $.b)", json!({"a": -1.5, "b": 0}), json!(-1)),
            ("States.MathAdd($.a, $.b)", json!({"a": -1.51, "b": 0}), json!(-2)),
            ("States.MathAdd($.a, $.b)", json!({"a": 0.5, "b": 0}), json!(1)),
            ("States.MathAdd($.a, $.b)", json!({"a": 2.5, "b": 0}), json!(3)),
            ("States.MathAdd($.a, $.b)", json!({"a": -0.5, "b": 0.5}), json!(1)),
            ("States.MathAdd($.a, $.b)", json!({"a": -2.5, "b": 0}), json!(-2)),
            ("States.MathAdd($.a, $.b)", json!({"a": -3.5, "b": 0}), json!(-3)),
            ("States.MathAdd($.a, $.b)", json!({"a": -1.5, "b": -1.51}), json!(-3)),
            ("States.MathAdd($.a, $.b)", json!({"a": 1.49, "b": -1.49}), json!(0)),
            ("States.MathAdd($.Iterations, -1)", json!({"Iterations": 1}), json!(0)),
            ("States.MathAdd(States.MathAdd($n, 1), $n)", json!({}), json!(11)),
            // States.StringSplit (test_string_operations.py): every delimiter character splits,
            // empty pieces are dropped.
            ("States.StringSplit($.s, $.d)", json!({"s": " ", "d": ","}), json!([" "])),
            ("States.StringSplit($.s, $.d)", json!({"s": ", , ,", "d": ","}), json!([" ", " "])),
            ("States.StringSplit($.s, $.d)", json!({"s": ",,,,", "d": ","}), json!([])),
            (
                "States.StringSplit($.s, $.d)",
                json!({"s": "This.is+a,test=string", "d": ".+,="}),
                json!(["This", "is", "a", "test", "string"]),
            ),
            (
                "States.StringSplit($.s, $.d)",
                json!({"s": "split on T and \nnew line", "d": "T\n"}),
                json!(["split on ", " and ", "new line"]),
            ),
            ("States.StringSplit('Hello\nWorld', '\n')", json!({}), json!(["Hello", "World"])),
            ("States.StringSplit($$.Execution.Input.FunctionInput, ',')", json!({}), json!(["a", "b"])),
            // Nesting, as in the AWS documentation.
            (
                "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.Arn, '/'), 2), '.'), 1))",
                json!({"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/x/1.0.2"}),
                json!("1.0"),
            ),
        ];
        for (text, input, expected) in cases {
            assert_eq!(ok(text, input), expected, "{text}");
        }
    }

    #[test]
    fn paths_with_commas_brackets_and_filters() {
        let input = json!({"a": {"b,c": 1, "d)": 2}, "items": [{"v": 1}, {"v": 5}]});
        assert_eq!(ok("States.Array($.a['b,c'], $.a['d)'])", input.clone()), json!([1, 2]));
        assert_eq!(ok("States.ArrayLength($.items[?(@.v > 2)])", input.clone()), json!(1));
        assert_eq!(
            ok("States.Array( $.items[0].v , $ )", json!({"items": [{"v": 1}]})),
            json!([1, {"items": [{"v": 1}]}])
        );
        assert_eq!(ok("States.ArrayLength($.items[*].nope)", input), json!(0));
    }

    #[test]
    fn uuid_and_random() {
        let uuid = ok("States.UUID()", json!({}));
        let uuid = uuid.as_str().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        for (start, end) in [(0, 999), (9999, 99999), (-99999, -9999), (12, 44)] {
            let text = format!("States.MathRandom({start}, {end})");
            let n = ok(&text, json!({})).as_i64().unwrap();
            assert!((start..end).contains(&n), "{text} gave {n}");
        }
        // Bounds are truncated: 12.5..44.51 is [12, 44).
        let n = ok("States.MathRandom($.a, $.b)", json!({"a": 12.5, "b": 44.51})).as_i64().unwrap();
        assert!((12..44).contains(&n));
        // A seed always gives the same number (java.util.Random's nextInt).
        let seeded = ok("States.MathRandom(0, 999, 3)", json!({}));
        assert_eq!(seeded, ok("States.MathRandom($.a, $.b, $.c)", json!({"a": 0, "b": 999, "c": 3})));
        assert_eq!(seeded, json!(JavaRandom::new(3).next_int_bounded(999)));
    }

    #[test]
    fn java_random_matches_the_jdk() {
        // new java.util.Random(42).nextInt() == -1170105035; nextInt(10) == 0.
        assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
        assert_eq!(JavaRandom::new(42).next_int_bounded(10), 0);
        let mut r = JavaRandom::new(0);
        for _ in 0..100 {
            assert!((0..7).contains(&r.next_int_bounded(7)));
            assert!((0..16).contains(&r.next_int_bounded(16)));
        }
    }

    #[test]
    fn missing_path_arguments_use_aws_wording() {
        let cause = runtime_cause("States.Format('{}', $.nope)", json!({"other": 1}));
        assert_eq!(
            cause,
            "The function 'States.Format('{}', $.nope)' had the following error: \
             The JsonPath argument for the field '$.nope' could not be found in the input '{\"other\":1}'"
        );
        let cause = runtime_cause("States.Format('{} {}', $.other, States.Array($.a.b))", json!({"other": 1}));
        assert_eq!(
            cause,
            "The function 'States.Format('{} {}', $.other, States.Array($.a.b))' had the following error: \
             The JsonPath argument for the field '$.a.b' could not be found in the input '{\"other\":1}'"
        );
        let cause = runtime_cause("States.Format('{}', $$.Nope.Deep)", json!({"other": 1}));
        assert!(
            cause.ends_with(
                "The JsonPath argument for the field '$.Nope.Deep' could not be found in the input '{\"other\":1}'"
            ),
            "{cause}"
        );
        let cause = runtime_cause("States.Format('{}', $.items[5])", json!({"items": [1, 2]}));
        assert!(cause.contains("the field '$.items[5]'"), "{cause}");
        let cause = runtime_cause("States.Array($undefinedVar)", json!({}));
        assert!(cause.contains("the field '$undefinedVar'"), "{cause}");
    }

    #[test]
    fn bad_arguments_fail_with_states_runtime() {
        let cases: &[(&str, Value, &str)] = &[
            ("States.MathAdd($.a, $.b)", json!({"a": 1, "b": "NOT A NUMBER"}), "Invalid arguments in States.MathAdd"),
            ("States.MathAdd($.a, 1)", json!({"a": 2147483648_i64}), "Invalid arguments in States.MathAdd"),
            ("States.MathAdd(1)", json!({}), "Invalid arguments in States.MathAdd"),
            ("States.StringToJson($.s)", json!({"s": "{nope"}), "Invalid arguments in States.StringToJson"),
            ("States.StringToJson($.s)", json!({"s": {"a": 1}}), "Invalid arguments in States.StringToJson"),
            ("States.ArrayPartition($.a, 0)", json!({"a": [1]}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayPartition($.a, 0.49)", json!({"a": [1]}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayPartition($.a, 1)", json!({"a": "x"}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayRange(1, 5, 0)", json!({}), "Invalid arguments in States.ArrayRange"),
            ("States.ArrayRange(0, 1000, 1)", json!({}), "Invalid arguments in States.ArrayRange"),
            ("States.ArrayRange('a', 5, 1)", json!({}), "Invalid arguments in States.ArrayRange"),
            ("States.ArrayGetItem($.a, 3)", json!({"a": [1, 2, 3]}), "Invalid arguments in States.ArrayGetItem"),
            ("States.ArrayGetItem($.a, -1)", json!({"a": [1, 2, 3]}), "Invalid arguments in States.ArrayGetItem"),
            ("States.ArrayLength($.a)", json!({"a": {}}), "Invalid arguments in States.ArrayLength"),
            ("States.Base64Decode(123)", json!({}), "Invalid arguments in States.Base64Decode"),
            ("States.Base64Decode()", json!({}), "Invalid arguments in States.Base64Decode"),
            ("States.Base64Decode('aGVsbG8=', 'extra')", json!({}), "Invalid arguments in States.Base64Decode"),
            ("States.Hash('x', 'SHA-3')", json!({}), "Invalid arguments in States.Hash"),
            ("States.JsonMerge($.a, $.b, true)", json!({"a": {}, "b": {}}), "Invalid arguments in States.JsonMerge"),
            ("States.JsonMerge($.a, $.b, false)", json!({"a": {}, "b": []}), "Invalid arguments in States.JsonMerge"),
            ("States.MathRandom(1.4, 1.6)", json!({}), "Invalid arguments in States.MathRandom"),
            ("States.MathRandom(5, 1)", json!({}), "Invalid arguments in States.MathRandom"),
            ("States.StringSplit($.s, ',')", json!({"s": 1}), "Invalid arguments in States.StringSplit"),
            ("States.UUID(1)", json!({}), "Invalid arguments in States.UUID"),
            ("States.Format($.t, 1)", json!({"t": 123}), "Invalid arguments in States.Format"),
            (
                "States.Format('{} {}', $.a)",
                json!({"a": "x"}),
                "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}.",
            ),
            (
                "States.Format('{}', 1, 2)",
                json!({}),
                "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}.",
            ),
            (
                "States.Format('Hello {', $.a)",
                json!({"a": "x"}),
                "Invalid template in States.Format: matching '}' not found for '{'.",
            ),
            (
                "States.Format('Hello {{}}', $.a)",
                json!({"a": "x"}),
                "Invalid template in States.Format: matching '}' not found for '{'.",
            ),
            (
                "States.Format($.t)",
                json!({"t": "}"}),
                "Invalid template in States.Format: matching '{' not found for '}'.",
            ),
        ];
        for (text, input, detail) in cases {
            let cause = runtime_cause(text, input.clone());
            assert_eq!(cause, format!("The function '{text}' had the following error: {detail}"), "{text}");
        }
        let long = "A".repeat(10_001);
        assert!(
            runtime_cause("States.Base64Decode($.s)", json!({"s": long}))
                .ends_with("Invalid arguments in States.Base64Decode")
        );
        assert_eq!(
            ok("States.Base64Encode($.s)", json!({"s": "a".repeat(10_000)})).as_str().map(str::len),
            Some(13_336)
        );
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "States.Nope(1)",
            "States.Format",
            "States.Format('x'",
            "States.Format('x',)",
            "States.Format('x' 1)",
            "States.Format('unterminated)",
            "States.Format('bad \\n escape')",
            "States.Array(1) trailing",
            "States.Array(foo)",
            "States.Array(1.)",
            "States.Array(--1)",
            "States.Array($.)",
            "States.Array(a.b)",
            "States.format('x')",
        ] {
            assert!(Intrinsic::parse(bad).is_err(), "{bad} should not parse");
        }
        let err = Intrinsic::parse("States.Nope(1)").unwrap_err();
        assert_eq!(err, "unknown intrinsic function 'States.Nope'");
    }

    #[test]
    fn literals_and_metadata() {
        let parsed = Intrinsic::parse("States.Array(-1, 2.5, 1e3, true, false, null, 'it\\'s {x}')").unwrap();
        assert_eq!(parsed.as_str(), "States.Array(-1, 2.5, 1e3, true, false, null, 'it\\'s {x}')");
        assert_eq!(parsed.function_name(), "States.Array");
        assert!(!parsed.uses_context());
        assert_eq!(ok(parsed.as_str(), json!({})), json!([-1, 2.5, 1000.0, true, false, null, "it's {x}"]));
        assert!(Intrinsic::parse("States.Array(States.Format('{}', $$.Execution.Id))").unwrap().uses_context());
        assert!(Intrinsic::parse("States.Array($x)").unwrap().uses_variables());
        assert!(is_intrinsic("States.UUID()"));
        assert!(!is_intrinsic("$.States"));
    }

    /// Runs every recorded single-Pass-state case whose Parameters use only intrinsic calls
    /// (the corpus is in ../shared, beside the repository).
    #[test]
    fn conformance_pass_state_cases() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/cases");
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the conformance corpus is missing at {}: {e}", dir.display()));
        let mut checked = 0;
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Ok(case) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let states = case["definition"]["States"].as_object();
            let Some((_, state)) = states.filter(|s| s.len() == 1).and_then(|s| s.iter().next()) else {
                continue;
            };
            let Some(params) = state["Parameters"].as_object() else {
                continue;
            };
            let only_pass = state["Type"] == "Pass"
                && state
                    .as_object()
                    .is_some_and(|s| s.keys().all(|k| matches!(k.as_str(), "Type" | "Parameters" | "End")));
            let all_intrinsic = params.iter().all(|(k, v)| k.ends_with(".$") && v.as_str().is_some_and(is_intrinsic));
            if !only_pass || !all_intrinsic || case["expected"]["status"] != "SUCCEEDED" {
                continue;
            }
            let nondeterministic = case["nondeterministic"].as_array().is_some_and(|a| !a.is_empty());
            let input = case["input"].clone();
            let ctx = json!({"Execution": {"Input": input.clone(), "Name": "exec"}, "StateMachine": {"Id": "arn:sm", "Name": "sm"}});
            let scope = Scope::new(&input, &ctx);
            let mut output = Map::new();
            for (key, value) in params {
                let intrinsic = Intrinsic::parse(value.as_str().unwrap()).unwrap();
                let result = intrinsic.eval(&scope, &SeededEntropy::new(1));
                let result = result.unwrap_or_else(|e| panic!("{}: {e:?}", entry.path().display()));
                output.insert(key.trim_end_matches(".$").to_owned(), result);
            }
            if !nondeterministic {
                assert_eq!(Value::Object(output), case["expected"]["output"], "{}", entry.path().display());
            }
            checked += 1;
        }
        assert!(checked > 50, "only {checked} conformance cases were checked");
    }
}
