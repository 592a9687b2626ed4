//! The graph in Mermaid (`flowchart TD`): `sfnlite graph --format mermaid`, for Markdown
//! documents. Node ids are generated (`s0`, `s1`…); names go in quoted labels.

use std::collections::HashMap;
use std::fmt::Write;

use super::{END, EdgeKind, START, Scope};

/// The Mermaid text of a definition's graph.
pub fn to_mermaid(graph: &Scope) -> String {
    let mut out = String::from("flowchart TD\n");
    let mut ids = HashMap::new();
    scope(&mut out, graph, 1, &mut ids);
    if graph.edges.iter().any(|e| e.to == END) {
        out.push_str("  END((( )))\n");
    }
    for (line, _) in edges(graph, &ids) {
        let _ = writeln!(out, "  {line}");
    }
    out.push_str("  classDef start fill:#16191f,stroke:#16191f\n");
    out
}

fn id(ids: &mut HashMap<String, String>, pointer: &str) -> String {
    let next = ids.len();
    ids.entry(pointer.to_owned()).or_insert_with(|| format!("s{next}")).clone()
}

fn scope(out: &mut String, s: &Scope, depth: usize, ids: &mut HashMap<String, String>) {
    let pad = "  ".repeat(depth);
    if s.start.is_some() {
        let start = id(ids, &format!("{}{START}", s.pointer));
        let _ = writeln!(out, "{pad}{start}(( )):::start");
    }
    for node in &s.nodes {
        let n = id(ids, &node.pointer);
        let label = format!("{}<br/><small>{}</small>", text(&node.name), text(&node.kind));
        let shape = match node.kind.as_str() {
            "Choice" => format!("{n}{{\"{label}\"}}"),
            "Succeed" | "Fail" => format!("{n}([\"{label}\"])"),
            _ if !node.children.is_empty() => format!("{n}[[\"{label}\"]]"),
            _ => format!("{n}[\"{label}\"]"),
        };
        let _ = writeln!(out, "{pad}{shape}");
        for (i, child) in node.children.iter().enumerate() {
            let group = id(ids, &child.pointer);
            let title = if node.kind == "Parallel" {
                format!("{} · branch {}", node.name, i + 1)
            } else {
                format!("{} · iteration", node.name)
            };
            let _ = writeln!(out, "{pad}subgraph {group}[\"{}\"]", text(&title));
            scope(out, child, depth + 1, ids);
            let _ = writeln!(out, "{pad}end");
            let _ = writeln!(out, "{pad}{n} -.- {group}");
        }
    }
}

/// Every edge of a scope and the scopes inside it, as Mermaid lines.
fn edges(s: &Scope, ids: &HashMap<String, String>) -> Vec<(String, ())> {
    let mut lines = Vec::new();
    let name = |p: &str| if p == END { "END".to_owned() } else { ids.get(p).cloned().unwrap_or_else(|| "END".into()) };
    if let Some(start) = &s.start {
        lines.push((format!("{} --> {}", name(&format!("{}{START}", s.pointer)), name(start)), ()));
    }
    for e in &s.edges {
        let arrow = if matches!(e.kind, EdgeKind::Catch(_)) { "-.->" } else { "-->" };
        let line = match e.kind.label() {
            Some(label) => format!("{} {arrow}|\"{}\"| {}", name(&e.from), text(label), name(&e.to)),
            None => format!("{} {arrow} {}", name(&e.from), name(&e.to)),
        };
        lines.push((line, ()));
    }
    for node in &s.nodes {
        for child in &node.children {
            lines.extend(edges(child, ids));
        }
    }
    lines
}

/// Text for a quoted Mermaid label: quotes and markup characters as entity codes.
fn text(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::graph;
    use super::*;
    use serde_json::json;

    #[test]
    fn mermaid_has_shapes_subgraphs_and_labels() {
        let m = to_mermaid(&graph(&json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "\"#\"", "Next": "P"}], "Default": "<E&>"},
            "P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]},
            "<E&>": {"Type": "Fail"}
        }})));
        assert!(m.starts_with("flowchart TD\n"));
        assert!(m.contains(r#"s1{"C<br/><small>Choice</small>"}"#), "{m}");
        assert!(m.contains("subgraph"));
        assert!(m.contains(r#"-->|"$.x == #quot;\#quot;#35;\#quot;#quot;"|"#), "{m}");
        assert!(m.contains("--> END"));
        assert!(m.contains(r##"(["#lt;E#amp;#gt;<br/><small>Fail</small>"])"##), "{m}");
    }
}
