//! Size bounds on what a JSONata expression builds.
//!
//! jsonata-core bounds time (checked between evaluation steps) and sequence length, but a
//! single built-in call can build a string of any size in one step: `$pad('', 1e9)`,
//! a string doubled by `&` thirty times, `$join` of ten million references to one long
//! string, `$replace` of every character by a long text. Such calls are guarded by
//! rewriting the parsed expression, so that a guard sees the values the built-in will:
//! - an argument of `$string`, `$pad`, `$uppercase`, `$lowercase`, `$encodeUrl…`,
//!   `$base64encode`, `$split` and `$match`, and an operand of `&`, passes through
//!   `$sfnlite bound(value, max)`, which refuses a value larger than `max` as text
//!   ([`MAX_BYTES`], or less where the built-in makes more of its input: see `GUARDED`);
//!   `$pad`'s guard also refuses a width beyond [`MAX_BYTES`];
//! - calls whose output depends on several arguments become blocks that bind the arguments
//!   to hidden variables (evaluated once, in order), let a guard see them all, then call
//!   the built-in with them: `$join` (the items and the separator), `$string` with its
//!   `prettify` argument (indentation grows with depth), and `$replace`, whose guard also
//!   sees the context value (`name.$replace(…)` replaces within `name`), refuses a call
//!   whose output could pass [`MAX_BYTES`], and wraps a replacement function so that what
//!   its results add up to is counted as they come;
//! - the built-ins that build most, used as values (`$p := $pad`), become functions that
//!   call them through the same guards, wherever the name still means the built-in when it
//!   is read (see [`as_value`]);
//! - what `*` and `**` gather (but where a path walks data), what an array constructor
//!   copies (a `.[…]` step's too), what a `.(…)` or `.$f()` step gives, `$append`'s second
//!   argument, what `$lookup` and a counted field step flatten (checked before they do),
//!   and what a transform rebuilds are counted with the path steps' values
//!   ([`MAX_STEP_VALUES`]); a transform's comparisons (deep, untimed, every value of its
//!   input with every target) are made first, counted, under a bound of their own
//!   ([`MAX_TRANSFORM_UNITS`]).
//!
//! Placeholders (`$pad(?, 3)`) are left alone: partial application still works (a partial
//! call's own arguments are guarded). Regular expressions that are not JavaScript's are
//! refused when the expression is read (see [`regex_problem`]).
//!
//! The built-in still receives the context value where jsonata inserts it. (One difference:
//! a variable bound inside an argument of a guarded block, `$replace($y := …, …)`, is
//! bound in the block, not beyond it.) An expression's result is measured the same way
//! before it is turned into JSON. Path steps that compute their values are counted as they
//! produce them (`MAX_STEP_VALUES`, which says which steps). What these bounds do not cap
//! is how many bounded values an expression keeps at once: that is bounded by its time
//! (500 ms of copying); nor what jsonata-core flattens unchecked when a path's first step
//! runs over a context that is itself a long array of one large value (an object
//! constructor's group), nor a `.(…)` step whose block feeds a `%` (a tuple stream, which a
//! guard around it would break): those are bounded by the time alone. And a charge is made on `$`, which jsonata-core reads from an outer
//! binding where there is one (inside a group-by or a sort term) while `*`, `**` and a
//! transform read the data they are given: a function defined over one value and called
//! inside a group-by or sort term is charged for the wrong one.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};
use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::{JValue, with_stack};

/// The largest string (in bytes) or value (as JSON text) an expression may build: 16 MiB,
/// 64 times AWS's 256 KiB payload quota, so no working expression meets it.
pub(super) const MAX_BYTES: usize = 16 * 1024 * 1024;

// Every guard has a name with a space, which no expression can write or bind (so none can
// shadow it): those `wrap` puts in are named so; the templates call theirs as `$__v_…`,
// which `rename` turns into such a name (see `hidden`).
const BOUND: &str = "sfnlite bound";
const WIDTH: &str = "sfnlite width";
const REPLACE: &str = "__v_replace";
const PIECE: &str = "__v_piece";
const JOIN: &str = "__v_join";
const STEPS: &str = "sfnlite steps";
const LOOKUP: &str = "__v_lookup";
const FIELD: &str = "sfnlite field";
const TRANSFORM: &str = "sfnlite transform";
const UPDATE: &str = "sfnlite update";
const DELETE: &str = "sfnlite delete";
const BUILTIN: &str = "sfnlite builtin";
const RANGE: &str = "sfnlite range";

/// How many values the counted steps of paths may produce in one evaluation, in all.
/// jsonata-core evaluates a step's node item by item under its time bound, but then
/// flattens the arrays the items gave into one sequence in a single untimed loop, and
/// checks its sequence bound before flattening: `$y.$y.$y` with a 1,000-item `$y` builds a
/// billion values in that loop (32 GB), and a tuple-mode path (`#$i`, `@$v`, `%`) copies
/// its bindings per value unchecked too. So the steps after a path's first that compute
/// their values (a variable, a call, a block), with every step after them and every step
/// of a tuple-mode path or of a path that does not start from `$states` or a workflow
/// variable, are counted as their items come ([`steps`]); the evaluation fails once they
/// have made this many, so that such a flatten handles at most this many (about 160 MB and
/// 40 ms). A field or `$` step of a path that walks `$states` or a workflow variable is not
/// counted: it gives what the data holds, each node once, until a step computes, a
/// predicate may pick by position (so pick one item again), or `**` descends.
const MAX_STEP_VALUES: usize = 4_000_000;
const PRETTY: &str = "__v_pretty";

/// The largest input of `$split`: its pieces are values of their own (64 bytes or so each,
/// so a 1 MiB text split into characters takes about 64 MiB and 0.4 s).
const MAX_SPLIT: usize = 1024 * 1024;
/// The largest input of `$match`: each match is an object (with its groups), several
/// times dearer than a piece of `$split` (a state's payload is at most 256 KiB).
const MAX_MATCH: usize = 256 * 1024;

/// Built-ins whose arguments are guarded one by one, with the guard and the largest
/// argument: what the built-in builds is at most a few times that.
const GUARDED: &[(&str, &str, usize)] = &[
    ("string", BOUND, MAX_BYTES),
    ("pad", WIDTH, MAX_BYTES),
    ("uppercase", BOUND, MAX_BYTES / 3),
    ("lowercase", BOUND, MAX_BYTES / 3),
    ("encodeUrl", BOUND, MAX_BYTES / 3),
    ("encodeUrlComponent", BOUND, MAX_BYTES / 3),
    ("base64encode", BOUND, MAX_BYTES / 2),
    ("split", BOUND, MAX_SPLIT),
    ("match", BOUND, MAX_MATCH),
    // (Its second argument's items are copied: counted as path steps' values are, so that
    // doubling a sequence over and over stops at the bound; see `guard_inner`.)
    ("append", STEPS, 0),
];

/// Built-ins that, used as values, become functions of this many parameters calling them:
/// as many as `$map` and its kind pass the built-in (so `$string` takes one, and a
/// `$f := $string; $f(v, true)` is not indented).
const AS_VALUES: &[(&str, usize)] = &[
    ("pad", 3),
    ("join", 2),
    ("replace", 4),
    ("split", 3),
    ("match", 3),
    ("string", 1),
    ("uppercase", 1),
    ("lowercase", 1),
    ("encodeUrl", 1),
    ("encodeUrlComponent", 1),
    ("base64encode", 1),
    ("append", 2),
    ("lookup", 2),
];

/// A guarded call, as text (its `$__v_…` variables are renamed to names no expression can
/// write, see [`hidden`]): the arguments are bound first (`$__v_r0`…), then the guard
/// sees them, then the built-in runs on them.
fn template(name: &str, n: usize) -> String {
    let args: Vec<String> = (0..n).map(|i| format!("$__v_r{i}")).collect();
    let args = args.join(", ");
    match name {
        "join" => return format!("( ${JOIN}({args}); $join({args}) )"),
        // (With one argument, the object is the context value.)
        "lookup" => return format!("( ${LOOKUP}($, {args}); $lookup({args}) )"),
        "replace" => {}
        _ => return format!("( ${PRETTY}({args}); ${name}({args}) )"),
    }
    // `$replace`: the guard says which argument is the replacement and gives a budget id;
    // a replacement function is wrapped so that its results are charged to that budget.
    let mut text = format!("( $__v_c := ${REPLACE}($, {args});");
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

/// The name a template's guard (`__v_…`) is registered under.
fn hidden_name(name: &str) -> String {
    hidden(name).unwrap_or_else(|| name.to_owned())
}

/// Rewrites an expression so that the built-ins that can build large strings are guarded,
/// and refuses the regular expressions that are not JavaScript's (see [`regex_problem`]).
pub(super) fn guard(node: &mut AstNode) -> Result<(), String> {
    let mut bound_names = Bound::default();
    names_bound(node, &mut bound_names);
    let mut problem = None;
    guard_all(node, &bound_names, &mut problem);
    problem.map_or(Ok(()), Err)
}

/// The names an expression binds (`$x := …`, a function's parameters, a path's `@$v` and
/// `#$i`): a path from one of them may repeat a value (see [`MAX_STEP_VALUES`]).
#[derive(Default)]
struct Bound {
    names: HashSet<String>,
}

impl Bound {
    /// Whether `name` is bound anywhere in the expression.
    fn any(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

fn names_bound(node: &mut AstNode, out: &mut Bound) {
    with_stack(|| {
        match node {
            AstNode::Binary { op: BinaryOp::ColonEqual, lhs, .. } => {
                if let AstNode::Variable(name) = lhs.as_ref() {
                    out.names.insert(name.clone());
                }
            }
            AstNode::Lambda { params, .. } => out.names.extend(params.iter().cloned()),
            // `@$v`, `#$i` (and a `#$i` stage) bind names too.
            AstNode::Path { steps } => {
                for step in steps.iter() {
                    out.names.extend(step.focus.iter().chain(&step.index_var).cloned());
                    for stage in &step.stages {
                        if let Stage::Index(name) = stage {
                            out.names.insert(name.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        children(node, &mut |child| names_bound(child, out));
    })
}

fn guard_all(node: &mut AstNode, bound_names: &Bound, problem: &mut Option<String>) {
    with_stack(|| guard_inner(node, bound_names, problem));
}

/// A JSONata regular expression is JavaScript's (without the `v` flag), where `[` inside a
/// character class is that character and `--`, `&&`, `~~` are characters too. jsonata-core
/// hands the pattern to Rust's regex crate, which reads a nested class and set operations
/// there, and such classes can take a second to compile from a few hundred bytes, in one
/// step no time bound reaches. They mean something else in JavaScript anyway: refused.
/// (A `]` just after `[` or `[^` is read as Rust reads it, as a character.)
fn regex_problem(pattern: &str) -> Option<String> {
    let refuse = |what: &str| {
        Some(format!(
            "the regular expression /{pattern}/ has {what} inside a character class: escape it with \\ (sfnlite reads JSONata's regular expressions as JavaScript does, and the regex engine would read a nested class or a set operation)"
        ))
    };
    let chars: Vec<char> = pattern.chars().collect();
    let (mut i, mut in_class, mut class_start) = (0, false, 0);
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 2;
            continue;
        }
        if !in_class {
            if c == '[' {
                in_class = true;
                class_start = i + 1;
                if chars.get(class_start) == Some(&'^') {
                    class_start += 1;
                }
            }
        } else if c == ']' && i != class_start {
            in_class = false;
        } else if c == '[' {
            return refuse("'['");
        } else if let Some(&next) = chars.get(i + 1)
            && next == c
            && matches!(c, '-' | '&' | '~')
        {
            return refuse(&format!("'{c}{c}'"));
        }
        i += 1;
    }
    None
}

/// Whether a built-in's calls are guarded here.
fn guarded(name: &str) -> bool {
    matches!(name, "replace" | "join" | "lookup") || GUARDED.iter().any(|(n, _, _)| *n == name)
}

/// `x ~> $f(a)` is `$f(x, a)`: written so, for a guarded built-in, so that its guard sees `x`.
fn desugar_chain(node: &mut AstNode) {
    let AstNode::Binary { op: BinaryOp::ChainPipe, rhs, .. } = node else { return };
    let AstNode::Function { name, args, is_builtin: true } = rhs.as_ref() else { return };
    if !guarded(name) || args.iter().any(|a| matches!(a, AstNode::Placeholder)) {
        return;
    }
    if let AstNode::Binary { lhs, rhs, .. } = std::mem::replace(node, AstNode::Undefined)
        && let AstNode::Function { name, mut args, is_builtin } = *rhs
    {
        args.insert(0, *lhs);
        *node = AstNode::Function { name, args, is_builtin };
    }
}

/// A partial application of a guarded built-in (`$pad(?, 5)`) is a function of its
/// placeholders whose body calls the built-in (so the call is guarded like any other); the
/// other arguments are evaluated once, first, as a partial application does.
fn desugar_partial(node: &mut AstNode) {
    let AstNode::Function { name, args, is_builtin: true } = node else { return };
    if !(guarded(name) || name == "string") || !args.iter().any(|a| matches!(a, AstNode::Placeholder)) {
        return;
    }
    let (name, args) = (name.clone(), std::mem::take(args));
    let (mut bindings, mut params, mut call_args) = (Vec::new(), Vec::new(), Vec::new());
    for (i, arg) in args.into_iter().enumerate() {
        if matches!(arg, AstNode::Placeholder) {
            let param = format!("sfnlite p{i}");
            call_args.push(AstNode::Variable(param.clone()));
            params.push(param);
        } else {
            let given = format!("sfnlite g{i}");
            call_args.push(AstNode::Variable(given.clone()));
            bindings.push(AstNode::Binary {
                op: BinaryOp::ColonEqual,
                lhs: Box::new(AstNode::Variable(given)),
                rhs: Box::new(arg),
            });
        }
    }
    let call = AstNode::Function { name, args: call_args, is_builtin: true };
    bindings.push(AstNode::Lambda { params, body: Box::new(call), signature: None, thunk: false });
    *node = AstNode::Block(bindings);
}

fn guard_inner(node: &mut AstNode, bound_names: &Bound, problem: &mut Option<String>) {
    desugar_chain(node);
    desugar_partial(node);
    if let AstNode::Variable(name) = node
        && let Some(&(_, arity)) = AS_VALUES.iter().find(|(n, _)| n == name)
    {
        *node = as_value(name, arity, bound_names);
        return;
    }
    match node {
        // The variable an assignment binds is not a use of it (`$pad := …` stays so).
        AstNode::Binary { op: BinaryOp::ColonEqual, lhs, rhs } if matches!(lhs.as_ref(), AstNode::Variable(_)) => {
            guard_all(rhs, bound_names, problem)
        }
        _ => children(node, &mut |child| guard_all(child, bound_names, problem)),
    }
    guard_gather(node);
    if let AstNode::Regex { pattern, .. } = node
        && problem.is_none()
    {
        *problem = regex_problem(pattern);
    }
    let partial = |args: &[AstNode]| args.iter().any(|a| matches!(a, AstNode::Placeholder));
    if let AstNode::Path { steps } = node {
        let tuple_mode = steps
            .iter()
            .any(|s| s.focus.is_some() || s.index_var.is_some() || s.ancestor_label.is_some() || s.is_tuple);
        // A path from `$states` or a workflow variable (JSON, where no value appears twice)
        // walks data: a field or `$` step there gives what the items hold, no more, and keeps
        // jsonata-core's own step (its fast and compiled paths, its nested arrays). Once a
        // step computes its values, the items may repeat one value, and every later step
        // is counted.
        let mut walks_data = !tuple_mode
            && matches!(steps.first().map(|s| &s.node), Some(AstNode::Variable(name))
                if !name.is_empty() && !bound_names.any(name));
        // A predicate that may be a number (or numbers) picks items by position, and can
        // pick one item many times (`a[$z]` with `$z` a thousand zeros): the walk ends there.
        walks_data &= steps.first().is_none_or(|s| !may_repeat(s));
        for step in steps.iter_mut().skip(1) {
            // (`.(…)` must stay a path's own step, an array constructor's items are spread
            // by the path, and the others are not values.)
            let counted = match &mut step.node {
                // `.(…)` (and `.$f()`) must stay a path's own step: what it computes is
                // counted inside it, unless it is one object or scalar (`.({…})`, which keeps
                // jsonata-core's compiled step) or its block feeds a `%` (a tuple stream).
                AstNode::FunctionApplication(inner) => {
                    walks_data = false;
                    if may_spread(inner) && !step.inner_tuple {
                        wrap(inner, STEPS, 0);
                    }
                    false
                }
                // `*` and `**`, charged for what they gather (see `guard_gather`), except
                // while the path walks data: there they visit each node once.
                node if gathers(node).is_some() => {
                    if walks_data && let AstNode::Block(items) = node {
                        *node = items.pop().unwrap_or(AstNode::Undefined);
                    }
                    false
                }
                AstNode::Parent(_) | AstNode::Array(_) | AstNode::ArrayGroup(_) => false,
                AstNode::Name(_) => !walks_data,
                AstNode::Variable(name) if name.is_empty() => !walks_data,
                _ => true,
            };
            if counted {
                walks_data = false;
                // A field step over an item that is an array gives the field of every object
                // in it, flattened by jsonata-core in one untimed loop before `steps` sees
                // the result: checked first (see [`field`]).
                if let AstNode::Name(name) = &step.node {
                    let name = name.clone();
                    let inner = std::mem::replace(&mut step.node, AstNode::Undefined);
                    let check = AstNode::Function {
                        name: FIELD.into(),
                        args: vec![AstNode::Variable(String::new()), AstNode::String(name)],
                        is_builtin: true,
                    };
                    step.node = AstNode::Block(vec![check, inner]);
                }
                wrap(&mut step.node, STEPS, 0);
            }
            // (`**` reaches a node once per item above it, so nested items repeat nodes; an
            // array constructor step can name one item many times.)
            if may_repeat(step)
                || gathers(&step.node) == Some(Gather::Descendants)
                || matches!(step.node, AstNode::Descendant | AstNode::Array(_) | AstNode::ArrayGroup(_))
            {
                walks_data = false;
            }
        }
    }
    match node {
        AstNode::Function { name, args, is_builtin: true }
            if !partial(args)
                && match name.as_str() {
                    "replace" => (2..=4).contains(&args.len()),
                    "join" | "lookup" => (1..=2).contains(&args.len()),
                    "string" => args.len() == 2,
                    _ => false,
                } =>
        {
            let Ok(mut block) = jsonata_core::parser::parse(&template(name, args.len())) else { return };
            rename(&mut block);
            let mut steps: Vec<AstNode> = std::mem::take(args)
                .into_iter()
                .enumerate()
                .map(|(i, arg)| AstNode::Binary {
                    op: BinaryOp::ColonEqual,
                    lhs: Box::new(AstNode::Variable(format!("sfnlite r{i}"))),
                    rhs: Box::new(arg),
                })
                .collect();
            steps.push(block);
            *node = AstNode::Block(steps);
        }
        AstNode::Function { name, args, is_builtin: true } => {
            if let Some((_, guard, max)) = GUARDED.iter().find(|(n, _, _)| n == name) {
                // `$append` copies both arguments, but only its second is charged: doubling
                // (`$append($x, $x)`) still stops at the bound, and the usual accumulation,
                // `$reduce(…, function($acc, $v) { $append($acc, $v) }, [])`, costs one value
                // a step, not its accumulator's length (quadratic, refused past a few
                // thousand items). Copies of a first argument held at once are bounded by
                // the expression's time, as the rest (see the module's comment).
                let skip = usize::from(name == "append");
                // A placeholder (`$pad(?, 3)`) stays one: partial application.
                for arg in args.iter_mut().skip(skip).filter(|a| !matches!(a, AstNode::Placeholder)) {
                    wrap(arg, guard, *max);
                }
            }
        }
        // An array constructor copies the items of every array among its values into its
        // own, in one untimed loop per value: `[$a, $a, …]` of a large `$a` builds a copy per
        // `$a`. Those values are counted as path steps' are, all but the first (one value
        // copied into an array of its own makes nothing larger: `[1..10000000]` is JSONata's
        // largest range, and stays allowed). An array constructor among them stays one item
        // (a nested array) and is left as it is.
        // (A `.[…]` step builds its array once per item of the path: there even the first
        // value is a copy per item, and is counted.)
        AstNode::Array(items) => {
            for item in items.iter_mut().filter(|item| spreads(item)).skip(1) {
                wrap(item, STEPS, 0);
            }
        }
        AstNode::ArrayGroup(items) => {
            for item in items.iter_mut().filter(|item| spreads(item)) {
                wrap(item, STEPS, 0);
            }
        }
        AstNode::Binary { op: BinaryOp::Range, .. } => guard_range(node),
        // A transform rebuilds every object and array of its input, once per path to it (a
        // value held twice is walked twice), comparing each with every value its location
        // gave: charged once the location is evaluated, before jsonata-core walks the
        // input (see [`transform`]). The location becomes `$sfnlite transform($, location)`,
        // which gives what the location gave; not a block, which would be a scope of its
        // own (a variable the location binds is seen by the update).
        // The update and the deletions, evaluated once per target, pass through guards too:
        // what each update merges and each deletion shifts is charged (and a guard is a
        // step, where the time bound is checked: a bare `$u` is not).
        AstNode::Transform { location, update, delete } => {
            let guarded = |node: &mut AstNode, name: &str| {
                let inner = std::mem::replace(node, AstNode::Undefined);
                *node = AstNode::Function {
                    name: name.into(),
                    args: vec![AstNode::Variable(String::new()), inner],
                    is_builtin: true,
                };
            };
            guarded(location, TRANSFORM);
            guarded(update, UPDATE);
            if let Some(delete) = delete {
                guarded(delete, DELETE);
            }
        }
        AstNode::Binary { op: BinaryOp::Concatenate, lhs, rhs } => {
            wrap(lhs, BOUND, MAX_BYTES);
            wrap(rhs, BOUND, MAX_BYTES);
        }
        _ => {}
    }
}

/// Whether a value in an array constructor may be an array whose items it copies: not a
/// literal, a function, nor an array constructor (which stays one item, as jsonata-core's
/// `is_array_constructor` says).
fn spreads(item: &AstNode) -> bool {
    match item {
        AstNode::String(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Regex { .. }
        | AstNode::Lambda { .. }
        | AstNode::Array(_) => false,
        AstNode::Path { steps } => !matches!(steps.as_slice(),
            [step] if matches!(step.node, AstNode::Array(_))
                && step.index_var.is_none()
                && !step.stages.iter().any(|stage| matches!(stage, Stage::Index(_)))),
        _ => true,
    }
}

/// Whether what `node` gives may be an array that a path spreads: a block by its last
/// expression; an object constructor, a literal or a comparison gives one value.
fn may_spread(node: &AstNode) -> bool {
    match node {
        AstNode::Block(items) => items.last().is_some_and(may_spread),
        AstNode::Object(_)
        | AstNode::String(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Binary { op: BinaryOp::Concatenate, .. } => false,
        AstNode::Binary { op, .. } => !gives_boolean(op),
        _ => true,
    }
}

/// A built-in's name used as a value (`$p := $pad`, `$reduce(…, $pad)`), made into
/// `($sfnlite f := $pad; $sfnlite builtin($sfnlite f, 'pad') ? function(…) { guarded call of
/// $sfnlite f } : $sfnlite f)`: when the name still means the built-in where it is read
/// (which only the evaluation knows: `$pad := …` may bind it in any scope, before or after),
/// a function that calls that built-in through the same guards as a call by name;
/// otherwise the value the name is bound to, as it is.
fn as_value(name: &str, arity: usize, bound_names: &Bound) -> AstNode {
    const HELD: &str = "sfnlite f";
    let params: Vec<String> = (0..arity).map(|i| format!("sfnlite a{i}")).collect();
    let args = params.iter().map(|p| AstNode::Variable(p.clone())).collect();
    let mut call = AstNode::Function { name: name.to_owned(), args, is_builtin: true };
    let mut unused = None;
    guard_all(&mut call, bound_names, &mut unused);
    // The guarded call names the built-in once, where it runs: it calls the value held
    // instead (the built-in itself, whatever the name is bound to by the time it is called).
    fn call_held(node: &mut AstNode, name: &str) {
        with_stack(|| {
            if let AstNode::Function { name: called, .. } = node
                && called == name
            {
                *called = HELD.to_owned();
            }
            children(node, &mut |child| call_held(child, name));
        })
    }
    call_held(&mut call, name);
    let held = || AstNode::Variable(HELD.to_owned());
    AstNode::Block(vec![
        AstNode::Binary {
            op: BinaryOp::ColonEqual,
            lhs: Box::new(held()),
            rhs: Box::new(AstNode::Variable(name.to_owned())),
        },
        AstNode::Conditional {
            condition: Box::new(AstNode::Function {
                name: BUILTIN.to_owned(),
                args: vec![held(), AstNode::String(name.to_owned())],
                is_builtin: true,
            }),
            then_branch: Box::new(AstNode::Lambda { params, body: Box::new(call), signature: None, thunk: false }),
            else_branch: Some(Box::new(held())),
        },
    ])
}

/// `a..b` becomes `($sfnlite l := a; $sfnlite r := b; $sfnlite range($sfnlite l, $sfnlite r)
/// .. $sfnlite r)`: both operands evaluated once, in order, and seen together by
/// [`range_operands`] before jsonata-core makes the range.
fn guard_range(node: &mut AstNode) {
    let AstNode::Binary { op: BinaryOp::Range, lhs, rhs } = std::mem::replace(node, AstNode::Undefined) else {
        return;
    };
    let (l, r) = (|| AstNode::Variable("sfnlite l".into()), || AstNode::Variable("sfnlite r".into()));
    let bind = |name: AstNode, value: Box<AstNode>| AstNode::Binary {
        op: BinaryOp::ColonEqual,
        lhs: Box::new(name),
        rhs: value,
    };
    let checked = AstNode::Function { name: RANGE.into(), args: vec![l(), r()], is_builtin: true };
    *node = AstNode::Block(vec![
        bind(l(), lhs),
        bind(r(), rhs),
        AstNode::Binary { op: BinaryOp::Range, lhs: Box::new(checked), rhs: Box::new(r()) },
    ]);
}

/// `$sfnlite range(start, end)`: `start`, unless jsonata-core's size arithmetic would
/// overflow on the two. It takes a range's size as `end - start + 1` on the operands made
/// 64-bit integers (saturating past 2^63), which overflows for integers far enough apart:
/// a panic where overflow is checked, a wrapped size where not. Such a range is far past
/// JSONata's 10,000,000 items, so it is refused as that (D2014); every other pair, empty
/// or not an integer or not a number, goes on to jsonata-core's own checks.
fn range_operands(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if let (Some(JValue::Number(start)), Some(JValue::Number(end))) = (args.first(), args.get(1))
        && start.fract() == 0.0
        && end.fract() == 0.0
    {
        // jsonata-core makes the integers 64-bit, saturating: past ±2^63 they are no longer
        // the numbers given (`1e300..1e300` would give 9223372036854775807), so such a
        // range is refused (a non-empty one that far out is too large or not exact).
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if start <= end && (start.abs() >= LIMIT || end.abs() >= LIMIT) {
            return Err(EvaluatorError::EvaluationError(format!(
                "D2014: a range's ends must be integers within ±2^63, sfnlite's bound (jsonata-core's integers): {start}..{end}"
            )));
        }
        let (first, last) = (*start as i64, *end as i64);
        if first <= last && last.checked_sub(first).and_then(|d| d.checked_add(1)).is_none() {
            return Err(EvaluatorError::EvaluationError(format!(
                "D2014: Range operator results in too many elements (> 10,000,000): {start}..{end}"
            )));
        }
    }
    Ok(args.first().cloned().unwrap_or(JValue::Undefined))
}

/// `$sfnlite builtin(value, name)`: whether `value` is the built-in `name` itself.
fn is_builtin(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(JValue::Bool(matches!(
        (args.first(), args.get(1)),
        (Some(JValue::Builtin { name }), Some(JValue::String(wanted))) if name == wanted
    )))
}

/// What a `*` or `**` gathers from its context value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Gather {
    /// `*`: the values of an object's fields (or an array's items), arrays flattened.
    Fields,
    /// `**`: every value at or below it, objects included, arrays walked through.
    Descendants,
}

impl Gather {
    /// The guard that charges it.
    fn guard(self) -> &'static str {
        match self {
            Gather::Fields => "sfnlite gather *",
            Gather::Descendants => "sfnlite gather **",
        }
    }
}

/// `$sfnlite gather …($)`: charges what a gathering from the context value would visit.
fn gather_call(kind: Gather) -> AstNode {
    AstNode::Function { name: kind.guard().into(), args: vec![AstNode::Variable(String::new())], is_builtin: true }
}

/// `*` and `**` become `($sfnlite gather($, kind); *)`: a block that charges what the step
/// will gather from its context value to the paths' count ([`MAX_STEP_VALUES`]) before
/// jsonata-core's own `*` or `**` builds it, in one untimed loop, of any size (a value can
/// hold one large array many times over, and `**` walks a value shared at every level once
/// per path to it: twice as many at each level). The block's last expression is the step
/// itself, so what the path sees is unchanged.
fn guard_gather(node: &mut AstNode) {
    let kind = match node {
        AstNode::Wildcard => Gather::Fields,
        AstNode::Descendant => Gather::Descendants,
        _ => return,
    };
    let inner = std::mem::replace(node, AstNode::Undefined);
    *node = AstNode::Block(vec![gather_call(kind), inner]);
}

/// Which gathering step a node is, once guarded by [`guard_gather`].
fn gathers(node: &AstNode) -> Option<Gather> {
    let AstNode::Block(items) = node else { return None };
    let [AstNode::Function { name, .. }, inner] = items.as_slice() else { return None };
    let kind = [Gather::Fields, Gather::Descendants].into_iter().find(|kind| kind.guard() == name)?;
    matches!(inner, AstNode::Wildcard | AstNode::Descendant).then_some(kind)
}

/// Whether an operator always gives a boolean: a comparison, `and`, `or`, `in`.
fn gives_boolean(op: &BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Equal
            | BinaryOp::NotEqual
            | BinaryOp::LessThan
            | BinaryOp::LessThanOrEqual
            | BinaryOp::GreaterThan
            | BinaryOp::GreaterThanOrEqual
            | BinaryOp::And
            | BinaryOp::Or
            | BinaryOp::In
    )
}

/// Whether a step's predicates may select by position (a number, or an array of them),
/// which can select one item many times. A comparison, `and`, `or`, `in` or a boolean
/// literal cannot be a number.
fn may_repeat(step: &PathStep) -> bool {
    step.stages.iter().any(|stage| match stage {
        Stage::Filter(predicate) => match predicate.as_ref() {
            AstNode::Boolean(_) => false,
            AstNode::Binary { op, .. } => !gives_boolean(op),
            _ => true,
        },
        _ => false,
    })
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
/// most `limit` steps, however many times a value is shared). With `pretty`, each value
/// also counts its line's indentation (two spaces a level), as `$string(v, true)` writes.
pub(super) fn size_up_to(value: &JValue, limit: usize) -> usize {
    measure(value, limit, false)
}

fn measure(value: &JValue, limit: usize, pretty: bool) -> usize {
    let mut total = 0usize;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        total += if pretty { 2 * depth + 1 } else { 0 };
        total += match v {
            JValue::String(s) => s.len() + 2,
            JValue::Number(_) => 8,
            JValue::Array(items) => {
                if total + items.len() > limit {
                    return total + items.len();
                }
                stack.extend(items.iter().map(|item| (item, depth + 1)));
                items.len() + 1
            }
            JValue::Object(map) => {
                if total + map.len() > limit {
                    return total + map.len();
                }
                for (k, item) in map.iter() {
                    total += k.len() + 3;
                    stack.push((item, depth + 1));
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
        "{what} would be larger than {MAX_BYTES} bytes, sfnlite's bound on a JSONata value (MAX_BYTES)"
    ))
}

fn too_large_for(what: &str, max: usize) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!(
        "{what} is larger than {max} bytes, the most sfnlite lets this built-in take (its bound on a JSONata value is {MAX_BYTES} bytes, MAX_BYTES)"
    ))
}

fn max_of(args: &[JValue]) -> usize {
    match args.get(1) {
        Some(JValue::Number(n)) if *n >= 0.0 => *n as usize,
        _ => MAX_BYTES,
    }
}

/// `$sfnlite bound(value, max)`: the value, unless it is larger than `max` as text.
fn bound(args: &[JValue]) -> Result<JValue, EvaluatorError> {
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

/// `$sfnlite width(value, max)`: an argument of `$pad`; a number is a width.
fn width(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    match args.first() {
        Some(JValue::Number(n)) if n.abs() > max_of(args) as f64 && n.is_finite() => {
            Err(too_large(&format!("a string padded to {n} characters")))
        }
        _ => bound(args),
    }
}

/// `$sfnlite join(items, separator)`: the items' text and the separators between them.
fn join(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let separator = match args.get(1) {
        Some(JValue::String(s)) => s.len(),
        _ => 0,
    };
    if let Some(JValue::Array(items)) = args.first() {
        let mut total = separator.saturating_mul(items.len().saturating_sub(1));
        for item in items.iter() {
            if let JValue::String(s) = item {
                total = total.saturating_add(s.len());
            }
            if total > MAX_BYTES {
                return Err(too_large(&format!("$join's result ({} items)", items.len())));
            }
        }
    }
    Ok(JValue::Undefined)
}

/// `$sfnlite pretty(value, prettify)`: `$string`'s result, indented or not.
fn pretty(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let value = args.first().unwrap_or(&JValue::Undefined);
    let indented = matches!(args.get(1), Some(JValue::Bool(true)));
    if measure(value, MAX_BYTES, indented) > MAX_BYTES {
        return Err(too_large("$string's result"));
    }
    Ok(JValue::Undefined)
}

/// What each `$replace` call may still add through its replacement function (by id).
type Budgets = Rc<RefCell<Vec<usize>>>;

/// `$sfnlite replace($, args…)`: refuses a `$replace` whose output could pass the bound,
/// and answers `[the replacement's argument index, a budget id]`. Which argument is the
/// string follows jsonata's rule (trailing undefined arguments dropped first): with two
/// arguments, or three whose last is a limit, the context value is the string.
fn replace(args: &[JValue], budgets: &Budgets) -> Result<JValue, EvaluatorError> {
    let (context, mut given) = args.split_first().map_or((&JValue::Undefined, &[][..]), |(c, g)| (c, g));
    while let Some((JValue::Undefined, rest)) = given.split_last() {
        given = rest;
    }
    let context_first = given.len() == 2 || (given.len() == 3 && matches!(given[2], JValue::Number(_)));
    let (index, text, pattern, replacement, limit) = if context_first {
        (1, context, given.first(), given.get(1), given.get(2))
    } else {
        (2, given.first().unwrap_or(&JValue::Undefined), given.get(1), given.get(2), given.get(3))
    };
    let room = match text {
        JValue::String(text) if text.len() > MAX_BYTES => return Err(too_large("a string")),
        JValue::String(text) => {
            if let Some(JValue::String(r)) = replacement {
                let limit = match limit {
                    Some(JValue::Number(n)) if *n >= 0.0 => *n as usize,
                    _ => usize::MAX,
                };
                let matches = match pattern {
                    Some(JValue::String(p)) if !p.is_empty() => text.matches(&**p).take(limit).count(),
                    // A regular expression: as many matches as it could have.
                    _ => (text.chars().count() + 1).min(limit),
                };
                if matches.saturating_mul(r.len()) > MAX_BYTES - text.len() {
                    return Err(too_large(&format!("$replace's result ({matches} replacements of {} bytes)", r.len())));
                }
            }
            MAX_BYTES - text.len()
        }
        _ => MAX_BYTES,
    };
    let mut budgets = budgets.borrow_mut();
    budgets.push(room);
    Ok(JValue::from(vec![JValue::Number(index as f64), JValue::Number((budgets.len() - 1) as f64)]))
}

/// `$sfnlite piece(value, id)`: one result of a replacement function, charged to its call.
fn piece(args: &[JValue], budgets: &Budgets) -> Result<JValue, EvaluatorError> {
    let value = args.first().cloned().unwrap_or(JValue::Undefined);
    if let (JValue::String(s), Some(JValue::Number(id))) = (&value, args.get(1)) {
        let mut budgets = budgets.borrow_mut();
        if let Some(left) = budgets.get_mut(*id as usize) {
            if s.len() > *left {
                return Err(too_large("$replace's result (what its replacement function returned, in all)"));
            }
            *left -= s.len();
        }
    }
    Ok(value)
}

/// `$sfnlite steps(value, _)`: what a path step gave for one item, counted (an array
/// by its length: the path spreads it).
fn steps(args: &[JValue], produced: &Rc<std::cell::Cell<usize>>) -> Result<JValue, EvaluatorError> {
    let value = args.first().cloned().unwrap_or(JValue::Undefined);
    let count = match &value {
        JValue::Array(items) => items.len(),
        _ => 1,
    };
    charge(produced, count)?;
    Ok(value)
}

/// `$sfnlite gather …(value)`: charges to the paths' count how many values `*` or `**`
/// (`kind`) will gather from `value`, counting no further than the bound.
fn gather(kind: Gather, args: &[JValue], produced: &Rc<std::cell::Cell<usize>>) -> Result<JValue, EvaluatorError> {
    let room = MAX_STEP_VALUES.saturating_sub(produced.get());
    let count = match (kind, args.first()) {
        (Gather::Fields, Some(JValue::Object(map))) => leaves(map.values(), room),
        (Gather::Fields, Some(JValue::Array(items))) => leaves(items.iter(), room),
        (Gather::Fields, _) => 0,
        (Gather::Descendants, Some(value)) => descendants(value, room),
        (Gather::Descendants, None) => 0,
    };
    charge(produced, count)?;
    Ok(JValue::Undefined)
}

/// How much `*` does with these: each array flattened to its items, however deep. Every
/// value visited counts, arrays too (an array of empty arrays gives nothing, but walking it
/// takes as long). Counted up to `room + 1`.
fn leaves<'a>(values: impl Iterator<Item = &'a JValue>, room: usize) -> usize {
    walk(values.collect(), room, |value, stack| {
        if let JValue::Array(items) = value {
            stack.extend(items.iter());
        }
    })
}

/// How much `**` does with `value`: it gathers every value at or below it (arrays walked
/// through), once per path to it. Every value visited counts. Counted up to `room + 1`.
fn descendants(value: &JValue, room: usize) -> usize {
    walk(vec![value], room, |value, stack| match value {
        JValue::Array(items) => stack.extend(items.iter()),
        JValue::Object(map) => stack.extend(map.values()),
        _ => {}
    })
}

/// Visits values from `stack`, and those `below` pushes for each, counting every visit;
/// stops once the count passes `room`.
fn walk<'a>(mut stack: Vec<&'a JValue>, room: usize, below: impl Fn(&'a JValue, &mut Vec<&'a JValue>)) -> usize {
    let mut count = 0usize;
    while let Some(value) = stack.pop() {
        count += 1;
        if count > room {
            break;
        }
        below(value, &mut stack);
    }
    count
}

/// A `$lookup` key as jsonata-core reads it: a string, or undefined read as "undefined".
fn key_of(key: &JValue) -> Option<&str> {
    match key {
        JValue::String(key) => Some(key),
        JValue::Undefined => Some("undefined"),
        _ => None,
    }
}

/// How many values looking `key` up in `subject` copies: over an array, the values of the
/// key in its objects (however deeply nested), an array's items each, flattened into one
/// sequence in an untimed loop (what `$lookup` and a field step do). Counted up to
/// `room + 1`; nothing for a subject that is not an array.
fn flattened(subject: &JValue, key: &str, room: usize) -> usize {
    let JValue::Array(items) = subject else { return 0 };
    let (mut count, mut stack): (usize, Vec<&JValue>) = (0, items.iter().collect());
    while let Some(item) = stack.pop()
        && count <= room
    {
        count += 1;
        match item {
            JValue::Array(inner) => stack.extend(inner.iter()),
            JValue::Object(map) => {
                if let Some(JValue::Array(values)) = map.get(key) {
                    count = count.saturating_add(values.len());
                }
            }
            _ => {}
        }
    }
    count
}

/// `$sfnlite lookup($, args…)`: charges what `$lookup` will copy (see [`flattened`]). With
/// one argument, the object is the context value.
fn lookup(args: &[JValue], produced: &Rc<std::cell::Cell<usize>>) -> Result<JValue, EvaluatorError> {
    let (subject, key) = match args {
        [_, subject, key] | [subject, key] => (subject, key),
        _ => return Ok(JValue::Undefined),
    };
    let Some(key) = key_of(key) else { return Ok(JValue::Undefined) };
    let room = MAX_STEP_VALUES.saturating_sub(produced.get());
    charge(produced, flattened(subject, key, room))?;
    Ok(JValue::Undefined)
}

/// `$sfnlite field($, name)`: refuses a field step whose flattening (see [`flattened`])
/// would pass the bound; what it gives is then charged by `steps`.
fn field(args: &[JValue], produced: &Rc<std::cell::Cell<usize>>) -> Result<JValue, EvaluatorError> {
    if let [subject, JValue::String(key)] = args {
        let room = MAX_STEP_VALUES.saturating_sub(produced.get());
        if flattened(subject, key, room) > room {
            return Err(too_many());
        }
    }
    Ok(JValue::Undefined)
}

/// How much comparing may one transform do (see [`transform`]): a unit is a comparison or
/// a value visited within one, two a key looked up, one more per 64 bytes of text compared
/// and per 8 bytes of a key hashed (16 M units take some 50 to 100 ms in a release build).
const MAX_TRANSFORM_UNITS: usize = 16_000_000;

/// `$sfnlite transform(input, located)`: what a transform will do with its input once its
/// location gave `located` (which it gives back), done first under a bound. jsonata-core
/// walks the input, compares each value with every target in turn (`==`, deep, with no
/// shortcut for a value compared with itself) until one is equal, and rebuilds what it
/// walks: an object that is not a target with every key copied, one that is as a copy.
/// That walk, untimed, is made here with the same comparisons, counted ([`equal`]): past
/// [`MAX_TRANSFORM_UNITS`] the transform is refused; what it rebuilds is charged to the
/// paths' count (a value each, and a unit per 64 bytes of the keys it copies).
fn transform(args: &[JValue], produced: &Rc<std::cell::Cell<usize>>) -> Result<JValue, EvaluatorError> {
    let (input, located) = (args.first().unwrap_or(&JValue::Undefined), args.get(1).unwrap_or(&JValue::Undefined));
    let targets: Vec<&JValue> = match located {
        JValue::Array(items) => items.iter().collect(),
        JValue::Null => Vec::new(),
        other => vec![other],
    };
    let refused = || {
        EvaluatorError::EvaluationError(format!(
            "D2015: this transform would compare more than its bound of {MAX_TRANSFORM_UNITS} steps (sfnlite's MAX_TRANSFORM_UNITS)"
        ))
    };
    let (mut units, mut rebuilt, mut stack) = (0usize, 0usize, vec![input]);
    while let Some(value) = stack.pop() {
        let mut matched = false;
        for target in &targets {
            if equal(target, value, &mut units).ok_or_else(refused)? {
                matched = true;
                break;
            }
        }
        rebuilt = rebuilt.saturating_add(1);
        if let JValue::Object(map) = value {
            rebuilt = rebuilt.saturating_add(key_units(map)).saturating_add(if matched { map.len() } else { 0 });
        }
        if rebuilt > MAX_STEP_VALUES.saturating_sub(produced.get()) {
            return Err(too_many());
        }
        if !matched {
            match value {
                JValue::Array(items) => stack.extend(items.iter()),
                JValue::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
    }
    charge(produced, rebuilt)?;
    Ok(located.clone())
}

/// What copying an object's keys costs, counted as values: one per 64 bytes.
fn key_units(map: &jsonata_core::value::JMap) -> usize {
    map.keys().map(|k| k.len() / 64).fold(0, usize::saturating_add)
}

/// `$sfnlite update($, update)`: one target's update, charged for the fields it merges into
/// the target's copy (and their keys' bytes, copied), and given back.
fn update(args: &[JValue], produced: &Rc<std::cell::Cell<usize>>) -> Result<JValue, EvaluatorError> {
    let value = args.get(1).cloned().unwrap_or(JValue::Undefined);
    if let JValue::Object(map) = &value {
        charge(produced, map.len().saturating_add(key_units(map)))?;
    }
    Ok(value)
}

/// `$sfnlite delete($, names)`: one target's deletions, charged for what removing them
/// shifts (each removal moves the fields after it: the target's size per name), and given
/// back. `$` is the target.
fn delete(args: &[JValue], produced: &Rc<std::cell::Cell<usize>>) -> Result<JValue, EvaluatorError> {
    let names = args.get(1).cloned().unwrap_or(JValue::Undefined);
    let size = match args.first() {
        Some(JValue::Object(map)) => map.len(),
        _ => 0,
    };
    let count = match &names {
        JValue::Array(items) => items.len(),
        JValue::Undefined => 0,
        _ => 1,
    };
    charge(produced, count.saturating_mul(size.max(1)))?;
    Ok(names)
}

/// `a == b` as jsonata-core's `JValue` compares them (arrays item by item, objects by `a`'s
/// keys looked up in `b`, each pair in full before the next, NaN equal to nothing,
/// functions by identity), counting its work in `units`: `None` once they pass
/// [`MAX_TRANSFORM_UNITS`]. Iterative, so that deep values take no stack.
fn equal(a: &JValue, b: &JValue, units: &mut usize) -> Option<bool> {
    /// Two containers of one length being compared, and the next position.
    enum Frame<'a> {
        Array(&'a [JValue], &'a [JValue], usize),
        Object(&'a jsonata_core::value::JMap, &'a jsonata_core::value::JMap, usize),
    }
    let mut frames: Vec<Frame> = Vec::new();
    // The next pair: `a`'s value, `b`'s (none: a key `b` lacks), and the length of the key
    // looked up in `b` for it, if it is an object's.
    let mut next = Some((a, Some(b), None::<usize>));
    loop {
        if let Some((x, y, key)) = next.take() {
            // (A key is hashed to be looked up: some 20 ns per 64 bytes.)
            *units = units.saturating_add(1 + key.map_or(0, |len| 1 + len / 8));
            if *units > MAX_TRANSFORM_UNITS {
                return None;
            }
            let Some(y) = y else { return Some(false) };
            let same = match (x, y) {
                (JValue::Array(p), JValue::Array(q)) => {
                    frames.push(Frame::Array(p.as_slice(), q.as_slice(), 0));
                    p.len() == q.len()
                }
                (JValue::Object(p), JValue::Object(q)) => {
                    frames.push(Frame::Object(p, q, 0));
                    p.len() == q.len()
                }
                (JValue::String(p), JValue::String(q)) => {
                    if p.len() == q.len() {
                        *units = units.saturating_add(p.len() / 64);
                    }
                    p == q
                }
                (JValue::Null, JValue::Null) | (JValue::Undefined, JValue::Undefined) => true,
                (JValue::Bool(p), JValue::Bool(q)) => p == q,
                (JValue::Number(p), JValue::Number(q)) => p == q,
                (JValue::Lambda(p), JValue::Lambda(q)) => Rc::ptr_eq(p, q),
                (JValue::Builtin { name: p }, JValue::Builtin { name: q }) => p == q,
                (JValue::Regex { pattern: p, flags: f }, JValue::Regex { pattern: q, flags: g }) => p == q && f == g,
                _ => false,
            };
            if !same {
                return Some(false);
            }
        }
        match frames.last_mut() {
            None => return Some(true),
            Some(Frame::Array(p, q, i)) => {
                let (p, q): (&[JValue], &[JValue]) = (p, q);
                match (p.get(*i), q.get(*i)) {
                    (Some(x), y) => {
                        next = Some((x, y, None));
                        *i += 1;
                    }
                    (None, _) => {
                        frames.pop();
                    }
                }
            }
            Some(Frame::Object(p, q, i)) => {
                let (p, q): (&jsonata_core::value::JMap, &jsonata_core::value::JMap) = (p, q);
                match p.get_index(*i) {
                    Some((key, x)) => {
                        next = Some((x, q.get(key), Some(key.len())));
                        *i += 1;
                    }
                    None => {
                        frames.pop();
                    }
                }
            }
        }
    }
}

/// Adds `count` values to what the paths have produced, failing past the bound.
fn charge(produced: &std::cell::Cell<usize>, count: usize) -> Result<(), EvaluatorError> {
    produced.set(produced.get().saturating_add(count));
    if produced.get() > MAX_STEP_VALUES {
        return Err(too_many());
    }
    Ok(())
}

fn too_many() -> EvaluatorError {
    EvaluatorError::EvaluationError(format!(
        "D2015: the steps of this expression's paths produced more than {MAX_STEP_VALUES} values, sfnlite's bound on them (MAX_STEP_VALUES)"
    ))
}

/// Registers the guards the rewritten expression calls (each evaluation has its own).
pub(super) fn register(evaluator: &mut Evaluator) {
    let produced = Rc::new(std::cell::Cell::new(0));
    for kind in [Gather::Fields, Gather::Descendants] {
        let gathered = produced.clone();
        let _ = evaluator.register_fn(kind.guard(), move |args: &[JValue]| gather(kind, args, &gathered));
    }
    let looked_up = produced.clone();
    let _ = evaluator.register_fn(hidden_name(LOOKUP), move |args: &[JValue]| lookup(args, &looked_up));
    let fields = produced.clone();
    let _ = evaluator.register_fn(FIELD, move |args: &[JValue]| field(args, &fields));
    let transformed = produced.clone();
    let _ = evaluator.register_fn(TRANSFORM, move |args: &[JValue]| transform(args, &transformed));
    let updated = produced.clone();
    let _ = evaluator.register_fn(UPDATE, move |args: &[JValue]| update(args, &updated));
    let deleted = produced.clone();
    let _ = evaluator.register_fn(DELETE, move |args: &[JValue]| delete(args, &deleted));
    let _ = evaluator.register_fn(STEPS, move |args: &[JValue]| steps(args, &produced));
    let budgets: Budgets = Rc::default();
    let _ = evaluator.register_fn(BOUND, bound);
    let _ = evaluator.register_fn(BUILTIN, is_builtin);
    let _ = evaluator.register_fn(RANGE, range_operands);
    let _ = evaluator.register_fn(WIDTH, width);
    let _ = evaluator.register_fn(hidden_name(JOIN), join);
    let _ = evaluator.register_fn(hidden_name(PRETTY), pretty);
    let replace_budgets = budgets.clone();
    let _ = evaluator.register_fn(hidden_name(REPLACE), move |args: &[JValue]| replace(args, &replace_budgets));
    let _ = evaluator.register_fn(hidden_name(PIECE), move |args: &[JValue]| piece(args, &budgets));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` once guarded, as the parsed tree's debug text.
    fn guarded(text: &str) -> String {
        let mut ast = jsonata_core::parser::parse(text).unwrap();
        guard(&mut ast).unwrap();
        format!("{ast:?}")
    }

    /// How many steps of `text` are counted once it is guarded.
    fn counted(text: &str) -> usize {
        guarded(text).matches(STEPS).count()
    }

    #[test]
    fn steps_that_compute_are_counted_and_data_walks_are_not() {
        // Walking `$states` or a workflow variable: jsonata-core's own steps.
        assert_eq!(counted("$states.input.items.price"), 0);
        assert_eq!(counted("$sum($states.input.orders.amount)"), 0);
        assert_eq!(counted("$states.input.a.$"), 0);
        assert_eq!(counted("$filter($states.input.a, function($v) { $v.id in $states.input.b.id })"), 1);
        // A step that computes its values, and every step after it.
        assert_eq!(counted("$x.$x.$x"), 2);
        assert_eq!(counted("$states.input.$x.a.b"), 3);
        // (`.$f()` and `.(…)` are counted inside the step; `.({…})` gives one object.)
        assert_eq!(counted("$states.input.$f().a.b"), 3);
        assert_eq!(counted("$states.input.a.($x).b"), 2);
        assert_eq!(counted("$states.input.a.({'x': $})"), 0);
        // A path from a value bound in the expression may repeat one value: all counted.
        assert_eq!(counted("($y := [1, 2]; $y.a.b)"), 2);
        // Tuple mode: every step (as before).
        assert_eq!(counted("$states.input.items#$i.name"), 3);
        // Names bound by `@$v` are values of the expression's own: counted.
        assert!(counted("$d@$v.($v.k.k)") > 0);
        assert_eq!(counted("$states.input.items@$v.($v.k.k)"), 5);
        // A predicate that may pick by position ends the walk; a comparison does not.
        assert_eq!(counted("$states.a[$z].b"), 1);
        assert_eq!(counted("$states.a[0].b"), 1);
        assert_eq!(counted("$states.a[k > 1].b[k = 2 and j].c"), 0);
        assert_eq!(counted("$states.a.**.b.c"), 2);
        // (An array constructor step: each value is counted, copied once per item.)
        assert_eq!(counted("$states.a.[$, $].x"), 3);
        // `*` and `**` are charged for what they gather (before they gather it), and `*`
        // leaves the walk of data as it was; so are the arrays an array constructor copies.
        assert_eq!(guarded("$f().a.*.b.**").matches("sfnlite gather").count(), 2);
        // While a path walks data, `*` and `**` visit each node once: not charged.
        assert_eq!(guarded("$states.a.*.b.**").matches("sfnlite gather").count(), 0);
        assert_eq!(counted("$states.a.*.b.c"), 0);
        assert_eq!(counted("[$states.a, 1, 'x', [$states.b, $states.c], null, $states.d]"), 2);
        // An `@$pad` binds only along its path: `$pad` used as a value elsewhere is still
        // the guarded built-in.
        let ast = guarded("($x := [0]@$pad; $reduce(['x', 1e9], $pad))");
        assert!(ast.contains(WIDTH), "{ast}");
    }
}
