//! The graph in Graphviz DOT: `sfnlite graph --format dot`. Maps and Parallels are clusters.

use std::fmt::Write;

use super::{END, EdgeKind, START, Scope};

/// The DOT text of a definition's graph.
pub fn to_dot(graph: &Scope) -> String {
    let mut out = String::from(
        "digraph StateMachine {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    let mut clusters = 0usize;
    scope(&mut out, graph, 1, &mut clusters);
    if graph.edges.iter().any(|e| e.to == END) {
        out.push_str("  \"END\" [label=\"End\", shape=doublecircle, width=0.2, style=filled, fillcolor=white];\n");
    }
    out.push_str("}\n");
    out
}

fn scope(out: &mut String, s: &Scope, depth: usize, clusters: &mut usize) {
    let pad = "  ".repeat(depth);
    if let Some(start) = &s.start {
        let id = quote(&format!("{}{START}", s.pointer));
        let _ = writeln!(out, "{pad}{id} [label=\"\", shape=circle, width=0.15, style=filled, fillcolor=black];");
        let _ = writeln!(out, "{pad}{id} -> {};", quote(start));
    }
    for node in &s.nodes {
        if node.children.is_empty() {
            let shape = match node.kind.as_str() {
                "Choice" => ", shape=diamond, style=filled",
                "Succeed" | "Fail" => ", shape=oval",
                _ => "",
            };
            let _ = writeln!(
                out,
                "{pad}{} [label={}{shape}];",
                quote(&node.pointer),
                quote(&format!("{}\n{}", node.name, node.kind))
            );
            continue;
        }
        // A group: its own node (the edges in and out attach to it) and a cluster per scope.
        let _ = writeln!(
            out,
            "{pad}{} [label={}, shape=box3d];",
            quote(&node.pointer),
            quote(&format!("{}\n{}", node.name, node.kind))
        );
        for child in &node.children {
            *clusters += 1;
            let _ = writeln!(out, "{pad}subgraph cluster_{clusters} {{");
            let part = if node.kind == "Parallel" {
                let index = child.pointer.rsplit('/').next().and_then(|i| i.parse::<usize>().ok()).unwrap_or(0);
                format!("branch {}", index + 1)
            } else {
                "iteration".to_owned()
            };
            let label = quote(&format!("{} · {part}", node.name));
            let _ = writeln!(out, "{pad}  label={label}; style=\"rounded,dashed\";");
            scope(out, child, depth + 1, clusters);
            let _ = writeln!(out, "{pad}}}");
            if let Some(start) = &child.start {
                let _ =
                    writeln!(out, "{pad}{} -> {} [style=dotted, arrowhead=none];", quote(&node.pointer), quote(start));
            }
        }
    }
    for e in &s.edges {
        let mut attrs = Vec::new();
        if let Some(label) = e.kind.label() {
            attrs.push(format!("label={}", quote(label)));
        }
        if matches!(e.kind, EdgeKind::Catch(_)) {
            attrs.push("style=dashed, color=\"#b0361e\"".into());
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "{pad}{} -> {}{attrs};", quote(&e.from), quote(&e.to));
    }
}

/// A DOT string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::graph;
    use super::*;
    use serde_json::json;

    #[test]
    fn dot_has_clusters_labels_and_dashed_catches() {
        let dot = to_dot(&graph(&json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "Next": "Say \"hi\""},
            "Say \"hi\"": {"Type": "Succeed"},
            "F": {"Type": "Fail"}
        }})));
        assert!(dot.starts_with("digraph StateMachine {") && dot.ends_with("}\n"));
        assert!(dot.contains("subgraph cluster_1 {"));
        assert!(dot.contains(r#""/States/M" -> "/States/F" [label="States.ALL", style=dashed"#), "{dot}");
        assert!(dot.contains(r#""/States/Say \"hi\"" -> "END";"#));
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    }
}
