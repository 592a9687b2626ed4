//! Size bounds on what a JSONata expression builds.
//!
//! jsonata-core bounds time (checked between evaluation steps) and sequence length, but a
//! single built-in call can build a string of any size in one step: `$pad('', 1e9)`,
//! a string doubled by `&` thirty times, `$join` of ten million references to one long
//! string, `$replace` of every character by a long text. Such calls are guarded by
//! rewriting the parsed expression, so that the guard sees the values the built-in will:
//! - an argument of `$join`, `$string`, `$pad`, `$uppercase`, `$lowercase`, `$encodeUrl…`,
//!   `$base64encode`, `$split` and `$match`, and an operand of `&`, passes through
//!   `$__sfnlite_bound(value, max)`, which refuses a value larger than `max` as text
//!   ([`MAX_BYTES`], or less where the built-in makes more of its input: see `GUARDED`);
//!   `$pad`'s guard also refuses a width beyond [`MAX_BYTES`];
//! - `$replace(a, b, c…)` becomes a block that binds its arguments to hidden variables, lets
//!   `$__sfnlite_replace($, …)` see them with the context value (`name.$replace(…)` replaces
//!   within `name`), refuses a call whose output could pass [`MAX_BYTES`], and wraps a
//!   replacement function so that each result is at most its share.
//!
//! Placeholders (`$pad(?, 3)`) are left alone: partial application still works (a partial
//! call is bounded by the result check only).
//!
//! The arguments are evaluated once, in their order, and the built-in still receives the
//! context value where jsonata inserts it. (One difference: a variable bound inside a
//! `$replace` argument, `$replace($y := …, …)`, is bound in the block, not beyond it.) An expression's result
//! is measured the same way before it is turned into JSON.

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};
use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::{JValue, with_stack};

/// The largest string (in bytes) or value (as JSON text) an expression may build: 16 MiB,
/// 64 times AWS's 256 KiB payload quota, so no working expression meets it.
pub(super) const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The guard on one value: `$__sfnlite_bound(value, max bytes)`.
pub(super) const BOUND: &str = "__sfnlite_bound";
/// The guard on an argument of `$pad` (a number is its width).
pub(super) const WIDTH: &str = "__sfnlite_width";
/// The guard on a `$replace` call: which argument is the replacement, and how large each
/// result of a replacement function may be.
pub(super) const REPLACE: &str = "__sfnlite_replace";
/// The guard on one result of a `$replace` replacement function.
pub(super) const PIECE: &str = "__sfnlite_piece";

/// The largest input of `$split`: its pieces are values of their own (64 bytes or so each,
/// so a 1 MiB text split into characters takes about 64 MiB and 0.4 s).
const MAX_SPLIT: usize = 1024 * 1024;
/// The largest input of `$match`: each match is an object (with its groups), several
/// times dearer than a piece of `$split`.
const MAX_MATCH: usize = 256 * 1024;

/// Built-ins whose arguments are guarded, with the guard and the largest argument: what
/// the built-in builds is at most a few times that.
const GUARDED: &[(&str, &str, usize)] = &[
    ("join", BOUND, MAX_BYTES),
    ("string", BOUND, MAX_BYTES),
    ("pad", WIDTH, MAX_BYTES),
    ("uppercase", BOUND, MAX_BYTES / 3),
    ("lowercase", BOUND, MAX_BYTES / 3),
    ("encodeUrl", BOUND, MAX_BYTES / 3),
    ("encodeUrlComponent", BOUND, MAX_BYTES / 3),
    ("base64encode", BOUND, MAX_BYTES / 2),
    ("split", BOUND, MAX_SPLIT),
    ("match", BOUND, MAX_MATCH),
];

/// The guarded `$replace` for `n` arguments, as text (its variables are renamed to names
/// no expression can write, see [`hidden`]): the arguments are bound first (`$__v_r0`…),
/// the guard sees them with the context value, and a replacement function is wrapped so
/// that each of its results is bounded (the guard says which argument is the replacement).
fn replace_template(n: usize) -> String {
    let args: Vec<String> = (0..n).map(|i| format!("$__v_r{i}")).collect();
    let mut text = format!("( $__v_c := ${REPLACE}($, {});", args.join(", "));
    let mut call = Vec::new();
    for i in 0..n {
        if i == 1 || i == 2 {
            text.push_str(&format!(
                " $__v_w{i} := ($__v_c[0] = {i} and $type($__v_r{i}) = 'function') ? function($__v_m) {{ ${PIECE}($__v_r{i}($__v_m), $__v_c[1]) }} : $__v_r{i};"
            ));
            call.push(format!("$__v_w{i}"));
        } else {
            call.push(format!("$__v_r{i}"));
        }
    }
    text.push_str(&format!(" $replace({}) )", call.join(", ")));
    text
}

/// The name an internal variable (`__v_…` in a template) really has: one with a space,
/// which no expression can write, so the user's own variables are never shadowed.
fn hidden(name: &str) -> Option<String> {
    name.strip_prefix("__v_").map(|rest| format!("sfnlite {rest}"))
}

/// Rewrites an expression so that the built-ins that can build large strings are guarded,
/// and refuses the regular expressions that are not JavaScript's (see [`regex_problem`]).
pub(super) fn guard(node: &mut AstNode) -> Result<(), String> {
    let mut problem = None;
    guard_all(node, &mut problem);
    problem.map_or(Ok(()), Err)
}

fn guard_all(node: &mut AstNode, problem: &mut Option<String>) {
    with_stack(|| guard_inner(node, problem));
}

/// A JSONata regular expression is JavaScript's (without the `v` flag), where `[` inside a
/// character class is that character. jsonata-core hands the pattern to Rust's regex
/// crate, where it opens a nested class, and nested classes with set operations (`--`,
/// `&&`, `~~`) can take a second to compile a pattern of a few hundred bytes, in one step
/// no time bound reaches. Such patterns mean something else in JavaScript anyway: refused.
fn regex_problem(pattern: &str) -> Option<String> {
    let (mut in_class, mut escaped) = (false, false);
    for c in pattern.chars() {
        match (escaped, in_class, c) {
            (true, _, _) => escaped = false,
            (false, _, '\\') => escaped = true,
            (false, false, '[') => in_class = true,
            (false, true, '[') => {
                return Some(format!(
                    "the regular expression /{pattern}/ has '[' inside a character class: write \\[ (sfnlite reads JSONata's regular expressions as JavaScript does, and nested classes are not JavaScript)"
                ));
            }
            (false, true, ']') => in_class = false,
            _ => {}
        }
    }
    None
}

fn guard_inner(node: &mut AstNode, problem: &mut Option<String>) {
    children(node, &mut |child| guard_all(child, problem));
    if let AstNode::Regex { pattern, .. } = node
        && problem.is_none()
    {
        *problem = regex_problem(pattern);
    }
    let partial = |args: &[AstNode]| args.iter().any(|a| matches!(a, AstNode::Placeholder));
    match node {
        AstNode::Function { name, args, is_builtin: true }
            if name == "replace" && (2..=4).contains(&args.len()) && !partial(args) =>
        {
            let args = std::mem::take(args);
            let Ok(mut template) = jsonata_core::parser::parse(&replace_template(args.len())) else { return };
            rename(&mut template);
            let mut block: Vec<AstNode> = args
                .into_iter()
                .enumerate()
                .map(|(i, arg)| AstNode::Binary {
                    op: BinaryOp::ColonEqual,
                    lhs: Box::new(AstNode::Variable(format!("sfnlite r{i}"))),
                    rhs: Box::new(arg),
                })
                .collect();
            block.push(template);
            *node = AstNode::Block(block);
        }
        AstNode::Function { name, args, is_builtin: true } => {
            if let Some((_, guard, max)) = GUARDED.iter().find(|(n, _, _)| n == name) {
                // A placeholder (`$pad(?, 3)`) stays one: partial application.
                for arg in args.iter_mut().filter(|a| !matches!(a, AstNode::Placeholder)) {
                    wrap(arg, guard, *max);
                }
            }
        }
        AstNode::Binary { op: BinaryOp::Concatenate, lhs, rhs } => {
            wrap(lhs, BOUND, MAX_BYTES);
            wrap(rhs, BOUND, MAX_BYTES);
        }
        _ => {}
    }
}

fn wrap(node: &mut AstNode, guard: &str, max: usize) {
    let inner = std::mem::replace(node, AstNode::Undefined);
    *node = AstNode::Function { name: guard.into(), args: vec![inner, AstNode::Number(max as f64)], is_builtin: true };
}

/// Gives a template's internal variables their hidden names.
fn rename(node: &mut AstNode) {
    with_stack(|| {
        match node {
            AstNode::Variable(name) | AstNode::Function { name, .. } => {
                if let Some(hidden) = hidden(name) {
                    *name = hidden;
                }
            }
            AstNode::Lambda { params, .. } => {
                for param in params.iter_mut() {
                    if let Some(hidden) = hidden(param) {
                        *param = hidden;
                    }
                }
            }
            _ => {}
        }
        children(node, &mut rename);
    })
}

fn children(node: &mut AstNode, f: &mut dyn FnMut(&mut AstNode)) {
    match node {
        AstNode::Path { steps } => steps.iter_mut().for_each(|s| step(s, f)),
        AstNode::Binary { lhs, rhs, .. } => {
            f(lhs);
            f(rhs);
        }
        AstNode::Unary { operand, .. } => f(operand),
        AstNode::Function { args, .. } => args.iter_mut().for_each(&mut *f),
        AstNode::Call { procedure, args } => {
            f(procedure);
            args.iter_mut().for_each(&mut *f);
        }
        AstNode::Lambda { body, .. } => f(body),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter_mut().for_each(&mut *f)
        }
        AstNode::Object(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            f(k);
            f(v);
        }),
        AstNode::ObjectTransform { input, pattern } => {
            f(input);
            pattern.iter_mut().for_each(|(k, v)| {
                f(k);
                f(v);
            });
        }
        AstNode::Conditional { condition, then_branch, else_branch } => {
            f(condition);
            f(then_branch);
            if let Some(e) = else_branch {
                f(e);
            }
        }
        AstNode::FunctionApplication(inner) => f(inner),
        AstNode::Sort { input, terms } => {
            f(input);
            terms.iter_mut().for_each(|(t, _)| f(t));
        }
        AstNode::Transform { location, update, delete } => {
            f(location);
            f(update);
            if let Some(d) = delete {
                f(d);
            }
        }
        AstNode::String(_)
        | AstNode::Name(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Placeholder
        | AstNode::Regex { .. }
        | AstNode::Variable(_)
        | AstNode::ParentVariable(_)
        | AstNode::Wildcard
        | AstNode::Descendant
        | AstNode::Parent(_) => {}
    }
}

fn step(s: &mut PathStep, f: &mut dyn FnMut(&mut AstNode)) {
    f(&mut s.node);
    for stage in &mut s.stages {
        if let Stage::Filter(filter) = stage {
            f(filter);
        }
    }
}

/// The size of a value as JSON text, counted up to just past `limit` (so the count costs at
/// most `limit` steps, however many times a value is shared).
pub(super) fn size_up_to(value: &JValue, limit: usize) -> usize {
    let mut total = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        total += match v {
            JValue::String(s) => s.len() + 2,
            JValue::Number(_) => 8,
            JValue::Array(items) => {
                stack.extend(items.iter());
                items.len() + 1
            }
            JValue::Object(map) => {
                for (k, item) in map.iter() {
                    total += k.len() + 3;
                    stack.push(item);
                }
                2
            }
            _ => 4,
        };
        if total > limit {
            return total;
        }
    }
    total
}

fn too_large(what: &str) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!(
        "{what} would be larger than {} bytes, sfnlite's bound on a JSONata value (MAX_BYTES)",
        MAX_BYTES
    ))
}

fn max_of(args: &[JValue]) -> usize {
    match args.get(1) {
        Some(JValue::Number(n)) if *n >= 0.0 => *n as usize,
        _ => MAX_BYTES,
    }
}

fn too_large_for(what: &str, max: usize) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!(
        "{what} is larger than {max} bytes, the most sfnlite lets this built-in take (its bound on a JSONata value is {MAX_BYTES} bytes, MAX_BYTES)"
    ))
}

/// `$__sfnlite_bound(value, max)`: the value, unless it is larger than `max` as text.
pub(super) fn bound(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let value = args.first().cloned().unwrap_or(JValue::Undefined);
    let max = max_of(args);
    match &value {
        JValue::String(s) if s.len() > max => Err(too_large_for("a string", max)),
        JValue::Array(_) | JValue::Object(_) if size_up_to(&value, max) > max => {
            Err(too_large_for("a value as text", max))
        }
        _ => Ok(value),
    }
}

/// `$__sfnlite_width(value, max)`: an argument of `$pad`; a number is a width.
pub(super) fn width(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    match args.first() {
        Some(JValue::Number(n)) if n.abs() > max_of(args) as f64 && n.is_finite() => {
            Err(too_large(&format!("a string padded to {n} characters")))
        }
        _ => bound(args),
    }
}

/// `$__sfnlite_replace($, args…)`: refuses a `$replace` whose output could pass the bound,
/// and answers `[the replacement's argument index, the most bytes one result of a
/// replacement function may have]`. Which argument is the string follows jsonata's rule:
/// with two arguments, or three whose last is a limit, the context value is the string.
pub(super) fn replace(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let (context, given) = args.split_first().map_or((&JValue::Undefined, &[][..]), |(c, g)| (c, g));
    let context_first = given.len() == 2 || (given.len() == 3 && matches!(given[2], JValue::Number(_)));
    let (index, text, pattern, replacement, limit) = if context_first {
        (1, context, given.first(), given.get(1), given.get(2))
    } else {
        (2, given.first().unwrap_or(&JValue::Undefined), given.get(1), given.get(2), given.get(3))
    };
    let answer = |piece: usize| Ok(JValue::from(vec![JValue::Number(index as f64), JValue::Number(piece as f64)]));
    let JValue::String(text) = text else { return answer(MAX_BYTES) };
    if text.len() > MAX_BYTES {
        return Err(too_large("a string"));
    }
    let limit = match limit {
        Some(JValue::Number(n)) if *n >= 0.0 => *n as usize,
        _ => usize::MAX,
    };
    let matches = match pattern {
        Some(JValue::String(p)) if !p.is_empty() => text.matches(&**p).take(limit).count(),
        // A regular expression or a matcher function: as many matches as it could have.
        _ => (text.chars().count() + 1).min(limit),
    };
    let room = MAX_BYTES - text.len();
    match replacement {
        Some(JValue::String(r)) if matches.saturating_mul(r.len()) > room => {
            Err(too_large(&format!("$replace's result ({matches} replacements of {} bytes)", r.len())))
        }
        _ => answer(room / matches.max(1)),
    }
}

/// `$__sfnlite_piece(value, max)`: one result of a replacement function.
pub(super) fn piece(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let value = args.first().cloned().unwrap_or(JValue::Undefined);
    match &value {
        JValue::String(s) if s.len() > max_of(args) => Err(too_large(&format!(
            "$replace's result (a replacement function's result of {} bytes, at each match)",
            s.len()
        ))),
        _ => Ok(value),
    }
}
