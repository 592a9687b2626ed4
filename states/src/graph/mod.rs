//! A definition as a picture: its states and transitions as a graph, laid out once and
//! written as SVG (the drawing the console shows), Graphviz DOT or Mermaid.
//!
//! The graph is read from the definition's JSON as written (a Choice edge is labelled
//! with its rule's text), after validation: fields that are missing or of the wrong
//! type are skipped, never a panic. Every state and Parallel branch is named by its
//! JSON pointer in the definition, which is unique; the state's name is kept beside it
//! because history events name states only by name.

mod dot;
mod label;
mod layout;
mod mermaid;
mod svg;

use serde_json::Value;

pub use dot::to_dot;
pub use layout::{Layout, layout};
pub use mermaid::to_mermaid;
pub use svg::{esc as xml_escape, to_svg};

/// The pointer an edge names for a scope's start marker, relative to the scope.
pub const START: &str = "/StartAt";
/// What an edge to the end of the execution points to.
pub const END: &str = "END";

/// One scope: the top level, a Parallel branch or a Map's processor.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// Its JSON pointer ("" for the top level).
    pub pointer: String,
    /// The pointer of its `StartAt` state, when that state exists.
    pub start: Option<String>,
    /// Its states, in the order the definition lists them.
    pub nodes: Vec<Node>,
    /// Its transitions, in the order of the states and their fields.
    pub edges: Vec<Edge>,
}

/// A state.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The state's JSON pointer, e.g. `/States/Fetch`.
    pub pointer: String,
    /// Its name.
    pub name: String,
    /// Its `Type` as written (`Task`, `Map`…; `?` when absent).
    pub kind: String,
    /// What it holds: a Parallel's branches, or a Map's processor.
    pub children: Vec<Scope>,
}

/// Why one state follows another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeKind {
    /// `Next`.
    Next,
    /// A Choice rule; the label is the rule's text.
    Choice(String),
    /// A Choice's `Default`.
    Default,
    /// A Catcher; the label is its `ErrorEquals`.
    Catch(String),
}

impl EdgeKind {
    /// The class suffix the drawing uses: `next`, `choice`, `default` or `catch`.
    pub fn class(&self) -> &'static str {
        match self {
            EdgeKind::Next => "next",
            EdgeKind::Choice(_) => "choice",
            EdgeKind::Default => "default",
            EdgeKind::Catch(_) => "catch",
        }
    }

    /// The text written along the edge, if any.
    pub fn label(&self) -> Option<&str> {
        match self {
            EdgeKind::Choice(text) | EdgeKind::Catch(text) => Some(text),
            EdgeKind::Default => Some("Default"),
            EdgeKind::Next => None,
        }
    }
}

/// A transition from one state to another (or to [`END`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The source state's pointer.
    pub from: String,
    /// The target state's pointer, or [`END`] for a top-level terminal state.
    pub to: String,
    /// Why.
    pub kind: EdgeKind,
}

/// The graph of a definition: its top-level scope.
pub fn graph(definition: &Value) -> Scope {
    scope(definition, "", true)
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn pointer_key(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn scope(definition: &Value, pointer: &str, top: bool) -> Scope {
    let states = definition.get("States").and_then(Value::as_object);
    let state_pointer = |name: &str| format!("{pointer}/States/{}", pointer_key(name));
    let known = |name: &str| states.is_some_and(|s| s.contains_key(name));
    let start = definition.get("StartAt").and_then(Value::as_str).filter(|s| known(s)).map(state_pointer);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (name, state) in states.into_iter().flatten() {
        let from = state_pointer(name);
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("?").to_owned();
        let mut edge = |to: Option<&str>, kind: EdgeKind| {
            if let Some(to) = to.filter(|t| known(t)) {
                edges.push(Edge { from: from.clone(), to: state_pointer(to), kind });
            }
        };
        for rule in array(state, "Choices") {
            edge(rule.get("Next").and_then(Value::as_str), EdgeKind::Choice(label::choice_rule(rule)));
        }
        edge(state.get("Default").and_then(Value::as_str), EdgeKind::Default);
        edge(state.get("Next").and_then(Value::as_str), EdgeKind::Next);
        for catcher in array(state, "Catch") {
            edge(catcher.get("Next").and_then(Value::as_str), EdgeKind::Catch(label::errors(catcher)));
        }
        let terminal = state.get("End") == Some(&Value::Bool(true)) || matches!(kind.as_str(), "Succeed" | "Fail");
        if top && terminal {
            edges.push(Edge { from: from.clone(), to: END.to_owned(), kind: EdgeKind::Next });
        }
        let children = match kind.as_str() {
            "Parallel" => array(state, "Branches")
                .iter()
                .enumerate()
                .map(|(i, branch)| scope(branch, &format!("{from}/Branches/{i}"), false))
                .collect(),
            "Map" => ["ItemProcessor", "Iterator"]
                .into_iter()
                .find_map(|key| state.get(key).map(|p| scope(p, &format!("{from}/{key}"), false)))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        nodes.push(Node { pointer: from, name: name.clone(), kind, children });
    }
    Scope { pointer: pointer.to_owned(), start, nodes, edges }
}

fn array<'a>(state: &'a Value, key: &str) -> &'a [Value] {
    state.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Every node of a scope and of the scopes inside it.
pub fn all_nodes(scope: &Scope) -> Vec<&Node> {
    let mut out = Vec::new();
    let mut stack = vec![scope];
    while let Some(s) = stack.pop() {
        for node in &s.nodes {
            out.push(node);
            stack.extend(node.children.iter());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_edges_and_nested_scopes() {
        let definition = json!({
            "StartAt": "Pick",
            "States": {
                "Pick": {"Type": "Choice", "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Fan"}
                ], "Default": "Done"},
                "Fan": {"Type": "Parallel", "Next": "Done", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                    {"StartAt": "B/1", "States": {"B/1": {"Type": "Pass", "End": true}}}
                ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]},
                "Done": {"Type": "Succeed"}
            }
        });
        let g = graph(&definition);
        assert_eq!(g.start.as_deref(), Some("/States/Pick"));
        let names: Vec<_> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["Pick", "Fan", "Done"]);
        let edges: Vec<_> = g.edges.iter().map(|e| (e.from.as_str(), e.to.as_str(), e.kind.class())).collect();
        assert_eq!(
            edges,
            [
                ("/States/Pick", "/States/Fan", "choice"),
                ("/States/Pick", "/States/Done", "default"),
                ("/States/Fan", "/States/Done", "next"),
                ("/States/Fan", "/States/Done", "catch"),
                ("/States/Done", END, "next"),
            ]
        );
        assert_eq!(g.edges[0].kind.label(), Some("$.n > 3"));
        assert_eq!(g.edges[3].kind.label(), Some("States.ALL"));
        let branches = &g.nodes[1].children;
        assert_eq!(branches.len(), 2);
        assert_eq!(branches[1].start.as_deref(), Some("/States/Fan/Branches/1/States/B~11"));
        assert!(branches[1].edges.is_empty(), "an inner terminal state has no END edge");
        assert_eq!(all_nodes(&g).len(), 5);
    }

    #[test]
    fn transitions_to_unknown_states_are_skipped() {
        let g = graph(&json!({"StartAt": "X", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}));
        assert_eq!(g.start, None);
        assert!(g.edges.is_empty());
        assert!(graph(&json!(42)).nodes.is_empty());
    }
}
