//! Size bounds on what a JSONata expression builds.
//!
//! jsonata-core bounds time (checked between evaluation steps) and sequence length, but a
//! single built-in call can build a string of any size in one step: `$pad('', 1e9)`,
//! a string doubled by `&` thirty times, `$join` of ten million references to one long
//! string, `$replace` of every character by a long text. Such calls are guarded by
//! rewriting the parsed expression, so that the guard sees the values the built-in will:
//! - an argument of `$join` and `$string`, and an operand of `&`, passes through
//!   `$__sfnlite_bound(value)`, which refuses a value larger than [`MAX_BYTES`] as text;
//!   an argument of `$pad` passes through `$__sfnlite_width`, which also refuses a width
//!   beyond it;
//! - `$replace(a, b, c…)` becomes `($__sfnlite_r0 := a; …; $__sfnlite_replace($, …);
//!   $replace($__sfnlite_r0, …))`: the guard sees the context value too (`name.$replace(…)`
//!   replaces within `name`) and refuses a call whose output could pass [`MAX_BYTES`].
//!
//! The arguments are evaluated once, in their order, and the built-in still receives the
//! context value where jsonata inserts it, so nothing else changes. An expression's result
//! is measured the same way before it is turned into JSON.

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};
use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::{JValue, with_stack};

/// The largest string (in bytes) or value (as JSON text) an expression may build: 16 MiB,
/// 64 times AWS's 256 KiB payload quota, so no working expression meets it.
pub(super) const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The guard on one value.
pub(super) const BOUND: &str = "__sfnlite_bound";
/// The guard on an argument of `$pad` (a number is its width).
pub(super) const WIDTH: &str = "__sfnlite_width";
/// The guard on a `$replace` call.
pub(super) const REPLACE: &str = "__sfnlite_replace";
const REPLACE_ARG: &str = "__sfnlite_r";

/// Built-ins whose every argument is guarded.
const GUARDED: &[&str] = &["join", "string"];

/// Rewrites an expression so that the built-ins that can build large strings are guarded.
pub(super) fn guard(node: &mut AstNode) {
    with_stack(|| guard_inner(node));
}

fn guard_inner(node: &mut AstNode) {
    children(node, &mut |child| guard(child));
    match node {
        AstNode::Function { name, args, is_builtin: true } if GUARDED.contains(&name.as_str()) => {
            args.iter_mut().for_each(|arg| wrap(arg, BOUND));
        }
        AstNode::Function { name, args, is_builtin: true } if name == "pad" => {
            args.iter_mut().for_each(|arg| wrap(arg, WIDTH));
        }
        AstNode::Binary { op: BinaryOp::Concatenate, lhs, rhs } => {
            wrap(lhs, BOUND);
            wrap(rhs, BOUND);
        }
        AstNode::Function { name, args, is_builtin: true } if name == "replace" && !args.is_empty() => {
            let args = std::mem::take(args);
            let n = args.len();
            let var = |i: usize| AstNode::Variable(format!("{REPLACE_ARG}{i}"));
            let mut block: Vec<AstNode> = args
                .into_iter()
                .enumerate()
                .map(|(i, arg)| AstNode::Binary { op: BinaryOp::ColonEqual, lhs: Box::new(var(i)), rhs: Box::new(arg) })
                .collect();
            let mut check_args = vec![AstNode::Variable(String::new())];
            check_args.extend((0..n).map(var));
            block.push(AstNode::Function { name: REPLACE.into(), args: check_args, is_builtin: true });
            block.push(AstNode::Function { name: "replace".into(), args: (0..n).map(var).collect(), is_builtin: true });
            *node = AstNode::Block(block);
        }
        _ => {}
    }
}

fn wrap(node: &mut AstNode, guard: &str) {
    let inner = std::mem::replace(node, AstNode::Undefined);
    *node = AstNode::Function { name: guard.into(), args: vec![inner], is_builtin: true };
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

/// `$__sfnlite_bound(value)`: the value, unless it is too large as text.
pub(super) fn bound(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let value = args.first().cloned().unwrap_or(JValue::Undefined);
    match &value {
        JValue::String(s) if s.len() > MAX_BYTES => Err(too_large("a string")),
        JValue::Array(_) | JValue::Object(_) if size_up_to(&value, MAX_BYTES) > MAX_BYTES => {
            Err(too_large("a value as text"))
        }
        _ => Ok(value),
    }
}

/// `$__sfnlite_width(value)`: an argument of `$pad`; a number is a width.
pub(super) fn width(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    match args.first() {
        Some(JValue::Number(n)) if n.abs() > MAX_BYTES as f64 && n.is_finite() => {
            Err(too_large(&format!("a string padded to {n} characters")))
        }
        _ => bound(args),
    }
}

/// `$__sfnlite_replace($, args…)`: refuses a `$replace` whose output could pass the bound.
/// Which argument is the string follows jsonata's rule: with two arguments, or three whose
/// last is a limit, the context value is the string.
pub(super) fn replace(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let (context, given) = args.split_first().map_or((&JValue::Undefined, &[][..]), |(c, g)| (c, g));
    let context_first = given.len() == 2 || (given.len() == 3 && matches!(given[2], JValue::Number(_)));
    let (text, pattern, replacement, limit) = if context_first {
        (context, given.first(), given.get(1), given.get(2))
    } else {
        (given.first().unwrap_or(&JValue::Undefined), given.get(1), given.get(2), given.get(3))
    };
    let (JValue::String(text), Some(JValue::String(replacement))) = (text, replacement) else {
        // A function replacement's results are bounded as they are built.
        return Ok(JValue::Undefined);
    };
    if text.len() > MAX_BYTES {
        return Err(too_large("a string"));
    }
    let limit = match limit {
        Some(JValue::Number(n)) if *n >= 0.0 => *n as usize,
        _ => usize::MAX,
    };
    let matches = match pattern {
        Some(JValue::String(p)) if !p.is_empty() => text.matches(&**p).take(limit).count(),
        // A regular expression: as many matches as it could have.
        _ => (text.chars().count() + 1).min(limit),
    };
    if text.len().saturating_add(matches.saturating_mul(replacement.len())) > MAX_BYTES {
        return Err(too_large(&format!("$replace's result ({matches} replacements of {} bytes)", replacement.len())));
    }
    Ok(JValue::Undefined)
}
