//! JSONPath as Step Functions uses it.
//!
//! Two kinds, as in the ASL specification:
//! - [`Path`]: any JSONPath (`InputPath`, `OutputPath`, `"key.$"` fields, `ItemsPath`, Choice `Variable`…).
//!   A *definite* path (names and indexes only) selects one node and fails when the node is missing;
//!   an *indefinite* path (wildcards, slices, filters, `..`, unions) yields an array of every match.
//! - [`ReferencePath`]: names and indexes only (`ResultPath`); it can also *write* into a document,
//!   creating missing objects on the way.
//!
//! Paths are parsed once, when the definition is loaded. Definite paths are walked directly;
//! indefinite ones are translated to RFC 9535 syntax and evaluated by `jsonpath-rust`.
//! The accepted syntax is the one AWS accepts (Jayway's): `$.a-b` and `$.a b` are names, `$['a']`
//! and `$[0]` are brackets, `$$` is the context object.

use std::borrow::Cow;
use std::fmt;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::{Map, Value};

use crate::json::{Entries, Json};
use crate::payload::Payload;

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's (effective) input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable (set by `Assign`).
    Variable(String),
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name` or `['name']`.
    Name(String),
    /// `[3]`, or `[-1]` counting from the end.
    Index(i64),
}

#[derive(Debug, Clone)]
enum Kind {
    Definite(Vec<Step>),
    Query(Box<JpQuery>),
}

/// A parsed JSONPath.
#[derive(Debug, Clone)]
pub struct Path {
    text: Box<str>,
    root: Root,
    kind: Kind,
}

/// The values a path can read from: `$` is a `serde_json` value, or (as a
/// [`PayloadScope`]) a [`Payload`].
#[derive(Debug)]
pub struct Scope<'a, I = Value> {
    /// What `$` refers to.
    pub input: &'a I,
    /// What `$$` refers to.
    pub context: &'a Value,
    /// Workflow variables (`$name`), when the caller has any.
    pub variables: Option<&'a Map<String, Value>>,
}

impl<I> Clone for Scope<'_, I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for Scope<'_, I> {}

impl<'a> Scope<'a> {
    /// A scope with no variables.
    pub fn new(input: &'a Value, context: &'a Value) -> Scope<'a> {
        Scope { input, context, variables: None }
    }
}

/// A [`Scope`] whose `$` is a [`Payload`]: a definite path from `$` selects in the
/// payload's persistent form (sharing what it selects); anything else reads its
/// `serde_json` form.
pub type PayloadScope<'a> = Scope<'a, Payload>;

/// Where paths read from: a [`Scope`] of `serde_json` values, or a [`PayloadScope`] (which
/// reads its payload's persistent form and copies only what a path selects).
pub trait Selects<'a> {
    /// What `path` selects, as [`Path::select`] does.
    fn select(&self, path: &Path) -> Result<Cow<'a, Value>, PathMiss>;
    /// The compact JSON text of `$`, for messages.
    fn input_text(&self) -> String;
}

impl<'a> Selects<'a> for Scope<'a> {
    fn select(&self, path: &Path) -> Result<Cow<'a, Value>, PathMiss> {
        path.select(self)
    }

    fn input_text(&self) -> String {
        serde_json::to_string(self.input).unwrap_or_default()
    }
}

impl<'a> Selects<'a> for PayloadScope<'a> {
    /// Borrows from the payload's `serde_json` form where it exists; else copies only what
    /// the path selects from its persistent form.
    fn select(&self, path: &Path) -> Result<Cow<'a, Value>, PathMiss> {
        let over = |input| Scope { input, context: self.context, variables: self.variables };
        match (path.root(), self.input.value_if_made()) {
            (Root::Input, Some(input)) => path.select(&over(input)),
            (Root::Input, None) => path.select_in(self).map(|json| Cow::Owned(json.to_value())),
            // `$$…` and `$name…` do not read the input: borrowed from the context or variables.
            _ => path.select(&over(&Value::Null)),
        }
    }

    fn input_text(&self) -> String {
        serde_json::to_string(self.input).unwrap_or_default()
    }
}

/// A definite path named a node that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMiss {
    /// The normalized path up to and including the step that failed, e.g. `$['a']`.
    pub normalized: String,
    /// True when the failing step was the last one (Jayway's "No results for path"),
    /// false when a step in the middle was missing ("Missing property in path").
    pub at_leaf: bool,
    /// True when the root variable itself does not exist.
    pub unknown_variable: bool,
}

impl PathMiss {
    /// AWS's wording for a missing node, e.g.
    /// `Invalid path '$.a' : No results for path: $['a']`.
    pub fn invalid_path_message(&self, path: &str) -> String {
        if self.at_leaf {
            format!("Invalid path '{path}' : No results for path: {}", self.normalized)
        } else {
            format!("Invalid path '{path}' : Missing property in path {}", self.normalized)
        }
    }
}

/// A path that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSyntaxError {
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PathSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A parsed segment before we know whether the path is definite.
enum Segment {
    Name(String),
    Index(i64),
    /// Anything that makes a path indefinite, already in RFC 9535 syntax.
    Complex(String),
}

impl Path {
    /// Parses a JSONPath (`$…`, `$$…`, or `$variable…`).
    pub fn parse(text: &str) -> Result<Path, PathSyntaxError> {
        let err = |message: String| PathSyntaxError { message };
        let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            let name_len = rest.char_indices().find(|(_, c)| *c == '.' || *c == '[').map_or(rest.len(), |(i, _)| i);
            if name_len == 0 {
                (Root::Input, rest)
            } else {
                let name = &rest[..name_len];
                if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(err(format!("invalid variable name '{name}' in path '{text}'")));
                }
                (Root::Variable(name.to_owned()), &rest[name_len..])
            }
        } else {
            return Err(err(format!("the path '{text}' does not start with '$'")));
        };
        let segments = parse_segments(rest).map_err(|m| err(format!("{m} in path '{text}'")))?;
        let definite = segments.iter().all(|s| !matches!(s, Segment::Complex(_)));
        let kind = if definite {
            Kind::Definite(
                segments
                    .into_iter()
                    .map(|s| match s {
                        Segment::Name(n) => Step::Name(n),
                        Segment::Index(i) => Step::Index(i),
                        Segment::Complex(_) => unreachable!("checked above"),
                    })
                    .collect(),
            )
        } else {
            let mut rfc = String::from("$");
            for segment in &segments {
                match segment {
                    Segment::Name(n) => push_rfc_name(&mut rfc, n),
                    Segment::Index(i) => rfc.push_str(&format!("[{i}]")),
                    Segment::Complex(c) => rfc.push_str(c),
                }
            }
            if let Some(why) = unbounded(&rfc) {
                return Err(err(format!("unsupported path '{text}': {why}, so evaluating it would have no bound")));
            }
            let query = parse_json_path(&rfc).map_err(|e| err(format!("invalid JSONPath '{text}': {e}")))?;
            Kind::Query(Box::new(query))
        };
        Ok(Path { text: text.into(), root, kind })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where the path starts.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// True when the path can select at most one node.
    pub fn is_definite(&self) -> bool {
        matches!(self.kind, Kind::Definite(_))
    }

    /// The steps of a definite path.
    pub fn steps(&self) -> Option<&[Step]> {
        match &self.kind {
            Kind::Definite(steps) => Some(steps),
            Kind::Query(_) => None,
        }
    }

    fn root_value<'a>(&self, scope: &Scope<'a>) -> Result<&'a Value, PathMiss> {
        match &self.root {
            Root::Input => Ok(scope.input),
            Root::Context => Ok(scope.context),
            Root::Variable(name) => scope.variables.and_then(|vars| vars.get(name)).ok_or_else(|| PathMiss {
                normalized: format!("${name}"),
                at_leaf: true,
                unknown_variable: true,
            }),
        }
    }

    /// Selects what the path names: the node for a definite path (borrowed), or the array
    /// of all matches for an indefinite one.
    pub fn select<'a>(&self, scope: &Scope<'a>) -> Result<Cow<'a, Value>, PathMiss> {
        let root = self.root_value(scope)?;
        match &self.kind {
            Kind::Definite(steps) => walk(root, steps).map(Cow::Borrowed),
            Kind::Query(query) => {
                let found = js_path_process(query, root).unwrap_or_default();
                Ok(Cow::Owned(Value::Array(found.into_iter().map(|r| r.val.clone()).collect())))
            }
        }
    }

    /// Like [`Path::select`], but returns an owned value.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, PathMiss> {
        self.select(scope).map(Cow::into_owned)
    }

    /// [`Path::select`] over a payload: a definite path from `$` shares what it selects;
    /// a query from `$` reads the payload's `serde_json` form (without keeping it).
    pub fn select_in(&self, scope: &PayloadScope<'_>) -> Result<Json, PathMiss> {
        let over = |input: &Value| {
            let scope = Scope { input, context: scope.context, variables: scope.variables };
            self.select(&scope).map(|selected| Json::from(selected.as_ref()))
        };
        match (&self.root, &self.kind) {
            // Only the selected part is converted when the payload has no persistent form.
            (Root::Input, Kind::Definite(steps)) => match scope.input.json_if_made() {
                Some(json) => walk(json, steps).cloned(),
                None => scope.input.with_value(|value| walk(value, steps).map(Json::from)),
            },
            (Root::Input, Kind::Query(_)) => scope.input.with_value(over),
            // `$$…` and `$name…` do not read the input.
            _ => over(&Value::Null),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Path) -> bool {
        self.text == other.text
    }
}

/// How deep filters (`[?…]`) may nest inside one another.
pub const MAX_FILTER_DEPTH: usize = 3;

/// Why an RFC 9535 path would take unbounded time, if it would. A filter runs its
/// expression for every candidate node; a root query (`$…`) inside a filter reads the whole
/// document each time, so one nested in a second filter costs the document's size cubed.
/// Root queries are allowed in outermost filters only, and filters nest at most
/// [`MAX_FILTER_DEPTH`] deep.
fn unbounded(path: &str) -> Option<String> {
    // One entry per open bracket: true once a filter selector (`?`) starts in it.
    let mut brackets: Vec<bool> = Vec::new();
    let (mut quote, mut escaped) = (None, false);
    // The first character is the path's own root.
    for c in path.chars().skip(1) {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        let filters = brackets.iter().filter(|filter| **filter).count();
        match c {
            '\'' | '"' => quote = Some(c),
            '[' => brackets.push(false),
            ']' => {
                brackets.pop();
            }
            '?' => {
                if let Some(top) = brackets.last_mut()
                    && !*top
                {
                    *top = true;
                    if filters + 1 > MAX_FILTER_DEPTH {
                        return Some(format!("filters nested more than {MAX_FILTER_DEPTH} deep"));
                    }
                }
            }
            '$' if filters >= 2 => {
                return Some(
                    "a query from the root ($) inside a nested filter (each level reads the whole document for every node)"
                        .into(),
                );
            }
            _ => {}
        }
    }
    None
}

fn push_rfc_name(out: &mut String, name: &str) {
    out.push_str("['");
    for c in name.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push_str("']");
}

/// Renders steps as Jayway prints them: `$['a'][0]`.
pub fn normalized(steps: &[Step]) -> String {
    let mut out = String::from("$");
    for step in steps {
        match step {
            Step::Name(n) => {
                out.push_str("['");
                out.push_str(n);
                out.push_str("']");
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Resolves a possibly negative index against a length.
fn index_in(len: usize, idx: i64) -> Option<usize> {
    let idx = if idx < 0 { len as i64 + idx } else { idx };
    usize::try_from(idx).ok().filter(|i| *i < len)
}

/// What a definite path walks: a `serde_json` value or a persistent [`Json`].
trait Document {
    /// The child `step` names: an object's entry or an array's item (None when missing,
    /// or when this is not the container the step reads).
    fn child(&self, step: &Step) -> Option<&Self>;
    /// True when this is the container `step` reads (an object for a name, an array for
    /// an index).
    fn holds(&self, step: &Step) -> bool;
}

impl Document for Value {
    fn child(&self, step: &Step) -> Option<&Value> {
        match (step, self) {
            (Step::Name(name), Value::Object(map)) => map.get(name),
            (Step::Index(idx), Value::Array(items)) => index_in(items.len(), *idx).map(|i| &items[i]),
            _ => None,
        }
    }

    fn holds(&self, step: &Step) -> bool {
        matches!((step, self), (Step::Name(_), Value::Object(_)) | (Step::Index(_), Value::Array(_)))
    }
}

impl Document for Json {
    fn child(&self, step: &Step) -> Option<&Json> {
        match (step, self) {
            (Step::Name(name), Json::Object(node)) => node.items().get(name),
            (Step::Index(idx), Json::Array(node)) => index_in(node.items().len(), *idx).map(|i| &node.items()[i]),
            _ => None,
        }
    }

    fn holds(&self, step: &Step) -> bool {
        matches!((step, self), (Step::Name(_), Json::Object(_)) | (Step::Index(_), Json::Array(_)))
    }
}

fn walk<'a, D: Document>(root: &'a D, steps: &[Step]) -> Result<&'a D, PathMiss> {
    let mut current = root;
    for (i, step) in steps.iter().enumerate() {
        match current.child(step) {
            Some(v) => current = v,
            None => {
                let at_leaf = i + 1 == steps.len();
                return Err(PathMiss {
                    normalized: normalized(if at_leaf { steps } else { &steps[..=i] }),
                    at_leaf,
                    unknown_variable: false,
                });
            }
        }
    }
    Ok(current)
}

fn parse_segments(mut rest: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("..") {
            // Descendant segment: `..name`, `..*` or `..[…]`.
            if let Some(after_star) = after.strip_prefix('*') {
                segments.push(Segment::Complex("..*".into()));
                rest = after_star;
            } else if after.starts_with('[') {
                let (inner, tail) = bracket(after)?;
                segments.push(Segment::Complex(format!("..[{}]", bracket_to_rfc(inner)?)));
                rest = tail;
            } else {
                let (name, tail) = dot_name(after);
                if name.is_empty() {
                    return Err("empty name after '..'".into());
                }
                let mut rfc = String::from("..");
                push_rfc_name(&mut rfc, name);
                segments.push(Segment::Complex(rfc));
                rest = tail;
            }
        } else if let Some(after) = rest.strip_prefix('.') {
            if let Some(after_star) = after.strip_prefix('*') {
                segments.push(Segment::Complex("[*]".into()));
                rest = after_star;
            } else {
                let (name, tail) = dot_name(after);
                if name.is_empty() {
                    return Err("empty name after '.'".into());
                }
                segments.push(Segment::Name(name.to_owned()));
                rest = tail;
            }
        } else if rest.starts_with('[') {
            let (inner, tail) = bracket(rest)?;
            segments.push(parse_bracket(inner)?);
            rest = tail;
        } else {
            return Err(format!("unexpected '{}'", rest.chars().next().unwrap_or(' ')));
        }
    }
    Ok(segments)
}

/// A dot-notation name runs to the next `.` or `[`.
fn dot_name(text: &str) -> (&str, &str) {
    let end = text.find(['.', '[']).unwrap_or(text.len());
    (&text[..end], &text[end..])
}

/// Tracks whether a scan is inside a quoted string (`'…'` or `"…"`, with `\` escapes),
/// for scanners that must not split paths or arguments inside quotes.
#[derive(Debug, Default)]
pub(crate) struct Quotes {
    quote: Option<char>,
    escaped: bool,
}

impl Quotes {
    /// Feeds one character; true when it belongs to a quoted string (quotes included).
    pub(crate) fn consume(&mut self, c: char) -> bool {
        match self.quote {
            Some(q) => {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.quote = None;
                }
                true
            }
            None if c == '\'' || c == '"' => {
                self.quote = Some(c);
                true
            }
            None => false,
        }
    }
}

/// Splits `[inner]tail`, honouring quotes and nesting inside the brackets.
fn bracket(text: &str) -> Result<(&str, &str), String> {
    let mut depth = 0usize;
    let mut quotes = Quotes::default();
    for (i, c) in text.char_indices() {
        if quotes.consume(c) {
            continue;
        }
        match c {
            '[' | '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok((&text[1..i], &text[i + 1..]));
                }
            }
            _ => {}
        }
    }
    Err("unclosed '['".into())
}

fn parse_bracket(inner: &str) -> Result<Segment, String> {
    let trimmed = inner.trim();
    if let Some(name) = single_quoted(trimmed) {
        return Ok(Segment::Name(name));
    }
    if let Ok(idx) = trimmed.parse::<i64>() {
        return Ok(Segment::Index(idx));
    }
    Ok(Segment::Complex(format!("[{}]", bracket_to_rfc(trimmed)?)))
}

fn single_quoted(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    if text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let body = &text[1..text.len() - 1];
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None; // more than one quoted item, e.g. a union
        }
        if c == '\\' {
            out.push(chars.next()?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Brackets that make a path indefinite: `*`, `a:b`, `?(…)`, unions. Jayway accepts
/// `?(expr)`; RFC 9535 accepts the same with the parentheses read as grouping.
fn bracket_to_rfc(inner: &str) -> Result<String, String> {
    let trimmed = inner.trim();
    if trimmed.is_empty() {
        return Err("empty '[]'".into());
    }
    Ok(trimmed.to_owned())
}

/// A path that may be written to: names and indexes only (`ResultPath`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferencePath {
    text: Box<str>,
    steps: Vec<Step>,
}

/// Why a value could not be written at a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    /// AWS's wording of the problem.
    pub message: String,
}

impl ReferencePath {
    /// Parses a reference path: `$`, `$.a.b`, `$['a'][0]`.
    pub fn parse(text: &str) -> Result<ReferencePath, PathSyntaxError> {
        let path = Path::parse(text)?;
        match (path.root, path.kind) {
            (Root::Input, Kind::Definite(steps)) => Ok(ReferencePath { text: text.into(), steps }),
            _ => Err(PathSyntaxError {
                message: format!("the reference path '{text}' must be a definite path starting with '$'"),
            }),
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The steps after `$`.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Reads the node the path names.
    pub fn get<'a>(&self, value: &'a Value) -> Result<&'a Value, PathMiss> {
        walk(value, &self.steps)
    }

    /// Writes `value` into `document` at this path, creating missing objects along the way.
    ///
    /// `$` replaces the whole document. A step through a value that is not an object
    /// (or an index past the end of an array) cannot be written; `document` is then unchanged.
    /// (The in-place form, kept as the tests' reference for [`ReferencePath::set_in_json`].)
    #[cfg(test)]
    pub fn set(&self, document: &mut Value, value: Value) -> Result<(), WriteError> {
        let Some((last, init)) = self.steps.split_last() else {
            *document = value;
            return Ok(());
        };
        // Check first, so that a failed write leaves the document as it was.
        self.check_writable(document)?;
        let mut current = document;
        for step in init {
            current = match step {
                Step::Name(name) => {
                    let map = current.as_object_mut().expect("checked above");
                    map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()))
                }
                Step::Index(idx) => {
                    let items = current.as_array_mut().expect("checked above");
                    let i = index_in(items.len(), *idx).expect("checked above");
                    &mut items[i]
                }
            };
        }
        match last {
            Step::Name(name) => {
                current.as_object_mut().expect("checked above").insert(name.clone(), value);
            }
            Step::Index(idx) => {
                let items = current.as_array_mut().expect("checked above");
                let i = index_in(items.len(), *idx).expect("checked above");
                items[i] = value;
            }
        }
        Ok(())
    }

    /// Whether the path can be written into `document`, and if not, AWS's error.
    fn check_writable<D: Document>(&self, document: &D) -> Result<(), WriteError> {
        let Some((last, init)) = self.steps.split_last() else { return Ok(()) };
        let mut probe: Option<&D> = Some(document);
        for (i, step) in init.iter().enumerate() {
            probe = match probe {
                Some(node) if node.holds(step) => node.child(step),
                None if matches!(step, Step::Name(_)) => None,
                _ => return Err(self.write_error(i)),
            };
            if probe.is_none() && matches!(step, Step::Index(_)) {
                return Err(self.write_error(i));
            }
        }
        match (last, probe) {
            (Step::Name(_), None) => Ok(()),
            (Step::Name(_), Some(node)) if node.holds(last) => Ok(()),
            (Step::Index(_), Some(node)) if node.child(last).is_some() => Ok(()),
            _ => Err(self.write_error(self.steps.len() - 1)),
        }
    }

    /// Writes `value` at this path into a copy of `document` (a persistent value others may
    /// hold), creating missing objects along the way: only the arrays
    /// and objects along the path are rebuilt (their other entries stay shared), so writing
    /// a result over a large part of the input costs nothing for that part.
    pub fn set_in_json(&self, document: &Json, value: Json) -> Result<Json, WriteError> {
        self.check_writable(document)?;
        Ok(json_with(Some(document), &self.steps, value))
    }

    fn write_error(&self, step: usize) -> WriteError {
        WriteError {
            message: format!(
                "Invalid path '{}' : Missing property in path {}",
                self.text,
                normalized(&self.steps[..=step])
            ),
        }
    }
}

/// `document` (absent: an empty object, as a write creates one) with `value`
/// written at `steps`, which [`ReferencePath::check_writable`] has accepted: the arrays and
/// objects along the path are copied (their entries shared), the rest is not touched.
fn json_with(node: Option<&Json>, steps: &[Step], value: Json) -> Json {
    // Down (iteratively: a path may have thousands of steps): the containers it goes
    // through, `None` where the write creates objects.
    let mut along: Vec<Option<&Json>> = Vec::with_capacity(steps.len());
    let mut current = node;
    for step in steps {
        along.push(current);
        current = current.and_then(|node| node.child(step));
    }
    // Up: each container copied with its written entry.
    let mut written = value;
    for (step, node) in steps.iter().zip(along).rev() {
        written = match (step, node) {
            (Step::Name(name), Some(Json::Object(object))) => {
                let mut entries = object.items().clone();
                entries.insert(name.clone(), written);
                Json::object(entries)
            }
            (Step::Name(name), None) => {
                let mut entries = Entries::with_capacity(1);
                entries.insert(name.clone(), written);
                Json::object(entries)
            }
            (Step::Index(idx), Some(Json::Array(array))) => match index_in(array.items().len(), *idx) {
                Some(at) => {
                    let mut items = array.items().clone();
                    items[at] = written;
                    Json::array(items)
                }
                None => written,
            },
            // (Not reached: the path was checked writable.)
            _ => written,
        };
    }
    written
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Selects over a `serde_json` value, and checks that selecting over a payload (made
    /// in either form) gives the same value or the same miss.
    fn sel(path: &str, input: Value) -> Result<Value, PathMiss> {
        let ctx = json!({"Execution": {"Id": "arn:x"}});
        let path = Path::parse(path).unwrap();
        let selected = path.eval(&Scope::new(&input, &ctx));
        for payload in [Payload::new(input.clone()), Payload::from_json(Json::from(&input))] {
            let scope = PayloadScope { input: &payload, context: &ctx, variables: None };
            assert_eq!(path.select_in(&scope).map(|json| json.to_value()), selected, "{path}");
        }
        selected
    }

    #[test]
    fn costly_filters_are_refused() {
        let refused = |path: &str| Path::parse(path).unwrap_err().message;
        // Found by fuzzing: root queries nested in filters took exponential time.
        assert!(refused("$[?nin($[?($.x[?(@ > 1)])], $.y)]").contains("root ($) inside a nested filter"));
        // Also when the filter is not the bracket's first selector, and with descendants.
        assert!(refused("$[0, ?$[0, ?$[0, ?@]]]").contains("nested filter"));
        assert!(refused("$..[?$..[?$..*]]").contains("nested filter"));
        assert!(refused("$[?@[?@[?@[?@]]]]").contains("more than 3 deep"));
        // Relative nesting, a root query in an outer filter, and quoted brackets are fine.
        assert!(Path::parse("$[?(@.a[?(@.b[?(@.c)])])]").is_ok());
        assert!(Path::parse("$[?(@.a == $.b)]").is_ok());
        assert!(Path::parse("$[?(@.a == '[?$[?$')]").is_ok());
        assert_eq!(sel("$.a[?(@.b[?(@ == 2)])]", json!({"a": [{"b": [2]}, {"b": [3]}]})).unwrap(), json!([{"b": [2]}]));
    }

    #[test]
    fn definite_paths() {
        let doc = json!({"a": {"b-c": [1, 2, {"d e": 3}]}, "x": null});
        let cases: &[(&str, Value)] = &[
            ("$", doc.clone()),
            ("$.a.b-c[1]", json!(2)),
            ("$.a['b-c'][-1]['d e']", json!(3)),
            ("$.a.b-c[2].d e", json!(3)),
            ("$.x", Value::Null),
            ("$[\"a\"]", doc["a"].clone()),
        ];
        for (path, expected) in cases {
            assert_eq!(sel(path, doc.clone()).as_ref(), Ok(expected), "{path}");
        }
        assert_eq!(sel("$$.Execution.Id", json!({})), Ok(json!("arn:x")));
    }

    #[test]
    fn indefinite_paths_return_arrays() {
        let doc = json!({"items": [{"v": 1}, {"v": 2}, {"w": 3}]});
        assert_eq!(sel("$.items[*].v", doc.clone()), Ok(json!([1, 2])));
        assert_eq!(sel("$.items[1:]", doc.clone()), Ok(json!([{"v": 2}, {"w": 3}])));
        assert_eq!(sel("$..v", doc.clone()), Ok(json!([1, 2])));
        assert_eq!(sel("$.items[?(@.v > 1)]", doc.clone()), Ok(json!([{"v": 2}])));
        assert_eq!(sel("$.missing[*].v", json!({})), Ok(json!([])));
        assert_eq!(sel("$.items[0,2]", doc), Ok(json!([{"v": 1}, {"w": 3}])));
    }

    #[test]
    fn misses_use_jayway_wording() {
        let miss = sel("$.a", json!({})).unwrap_err();
        assert_eq!(miss.invalid_path_message("$.a"), "Invalid path '$.a' : No results for path: $['a']");
        let miss = sel("$.no.such", json!({})).unwrap_err();
        assert_eq!(
            miss.invalid_path_message("$.no.such"),
            "Invalid path '$.no.such' : Missing property in path $['no']"
        );
    }

    #[test]
    fn a_reference_path_of_thousands_of_steps_writes_on_a_small_stack() {
        // Found by the fuzz corpus replay: the write recursed once per step.
        let text = format!("${}", ".a".repeat(5000));
        let path = ReferencePath::parse(&text).unwrap();
        let written = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let json = path.set_in_json(&Json::from(json!({"a": {"b": 1}})), Json::from(json!(7))).unwrap();
                let mut node = &json;
                let mut depth = 0;
                while let Some(next) = node.as_object().and_then(|o| o.get("a")) {
                    node = next;
                    depth += 1;
                }
                let leaf_is_the_value = *node == Json::from(json!(7));
                let kept_b = json.as_object().unwrap()["a"].as_object().unwrap().contains_key("b");
                // (Leaked: dropping 5,000 levels recurses, as serde_json's values do.)
                std::mem::forget(json);
                (depth, leaf_is_the_value, kept_b)
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(written, (5000, true, true));
    }

    #[test]
    fn reference_paths_write_and_create() {
        // In place and into a persistent copy (a shared input): the same document, key
        // order included, or the same error.
        let set = |path: &str, mut doc: Value, value: Value| {
            let path = ReferencePath::parse(path).unwrap();
            let copied = path.set_in_json(&Json::from(&doc), Json::from(&value)).map(|json| json.to_value());
            let written = path.set(&mut doc, value).map(|()| doc);
            assert_eq!(copied, written, "{path}");
            if let (Ok(a), Ok(b)) = (&copied, &written) {
                assert_eq!(a.to_string(), b.to_string(), "{path}: key order");
            }
            written
        };
        assert_eq!(set("$.a.b", json!({"x": 1}), json!(2)), Ok(json!({"x": 1, "a": {"b": 2}})));
        assert_eq!(set("$", json!(1), json!(2)), Ok(json!(2)));
        assert!(set("$.a.b", json!({"a": "str"}), json!(2)).is_err());
        assert!(set("$.a", json!([1]), json!(2)).is_err());
        assert!(set("$.l[5].x", json!({"l": [1]}), json!(2)).is_err());
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$$.a").is_err());
        assert_eq!(set("$.list[1]", json!({"list": [0, 0]}), json!(5)), Ok(json!({"list": [0, 5]})));
        assert_eq!(set("$.list[-1].k", json!({"list": [{}, {}]}), json!(5)), Ok(json!({"list": [{}, {"k": 5}]})));
        // A key written over keeps its place; a new one goes last.
        let doc = json!({"a": 1, "p": {"d": [1, 2], "s": 1}, "z": {"y": 0}});
        assert_eq!(set("$.p", doc.clone(), json!(9)).unwrap().to_string(), r#"{"a":1,"p":9,"z":{"y":0}}"#);
        assert_eq!(
            set("$.p.s", doc.clone(), json!(2)).unwrap().to_string(),
            r#"{"a":1,"p":{"d":[1,2],"s":2},"z":{"y":0}}"#
        );
        assert_eq!(set("$.z.n.m", doc.clone(), json!(3)).unwrap()["z"], json!({"y": 0, "n": {"m": 3}}));
        assert_eq!(set("$.p.d[0]", doc, json!("x")).unwrap()["p"]["d"], json!(["x", 2]));
    }

    #[test]
    fn syntax_errors() {
        for bad in ["a.b", "$.", "$[", "$.a[]", "$.a..", "$x-y"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Path::parse("$var.x").unwrap().root(), &Root::Variable("var".into()));
    }
}
