//! The drawing as SVG: the console's graph, and `sfnlite graph --format svg`.
//!
//! Classes and `data-` attributes follow the console's contract (ARCHITECTURE.md): every
//! state is a `g.sfn-state` with its pointer, name and type; groups are `g.sfn-group`;
//! edges are `g.sfn-edge.sfn-edge-{next,choice,default,catch}` with `data-from`/`data-to`.
//! The embedded style makes the file readable alone; the console restyles it by class.

use std::fmt::Write;

use super::layout::{EdgePath, Layout, MARKER, NodeBox, ScopeBox, TITLE, f, layout};
use super::{START, Scope};

const STYLE: &str = "\
.sfn-graph{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;font-size:13px}\
.sfn-state rect{fill:#fff;stroke:#5f6b7a;stroke-width:1.2}\
.sfn-state .sfn-name{fill:#16191f;text-anchor:middle;dominant-baseline:central}\
.sfn-state .sfn-kind{fill:#5f6b7a;font-size:10px;text-anchor:end}\
.sfn-group>.sfn-frame{fill:#f4f6f8;stroke:#8d99a8;stroke-width:1.2}\
.sfn-group>.sfn-title{fill:#16191f;font-weight:600}\
.sfn-branch>.sfn-frame{fill:#fff;stroke:#c6ccd4;stroke-dasharray:4 3}\
.sfn-edge path{fill:none;stroke:#5f6b7a;stroke-width:1.3;marker-end:url(#sfn-arrow)}\
.sfn-edge-catch path{stroke-dasharray:6 4;stroke:#b0361e}\
.sfn-edge-label{fill:#39424e;font-size:11px;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:4px}\
.sfn-start circle{fill:#16191f}.sfn-end circle{fill:#fff;stroke:#16191f;stroke-width:3}";

/// The SVG drawing of a definition's graph.
pub fn to_svg(graph: &Scope) -> String {
    render(&layout(graph))
}

fn render(l: &Layout) -> String {
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="sfn-graph" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="State machine graph">"#,
        w = f(l.width),
        h = f(l.height)
    );
    let _ = write!(
        out,
        r#"<style>{STYLE}</style><defs><marker id="sfn-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="context-stroke"/></marker></defs>"#
    );
    scope(&mut out, &l.scope);
    if let Some((x, y)) = l.end {
        let _ = write!(
            out,
            r#"<g class="sfn-end" data-pointer="END"><circle cx="{}" cy="{}" r="{}"/><title>End</title></g>"#,
            f(x),
            f(y),
            f(MARKER)
        );
    }
    out.push_str("</svg>");
    out
}

fn scope(out: &mut String, s: &ScopeBox) {
    out.push_str(r#"<g class="sfn-edges">"#);
    for e in &s.edges {
        edge(out, e);
    }
    out.push_str("</g>");
    if let Some((x, y)) = s.start {
        let _ = write!(
            out,
            r#"<g class="sfn-start" data-pointer="{}{START}"><circle cx="{}" cy="{}" r="{}"/><title>Start</title></g>"#,
            esc(&s.pointer),
            f(x),
            f(y),
            f(MARKER)
        );
    }
    for n in &s.nodes {
        node(out, n);
    }
}

fn edge(out: &mut String, e: &EdgePath) {
    let _ = write!(
        out,
        r#"<g class="sfn-edge sfn-edge-{}" data-from="{}" data-to="{}"><path d="{}"/>"#,
        e.kind.class(),
        esc(&e.from),
        esc(&e.to),
        e.path
    );
    if let Some(label) = e.kind.label() {
        let _ = write!(
            out,
            r#"<text class="sfn-edge-label" x="{}" y="{}">{}</text>"#,
            f(e.label_at.0),
            f(e.label_at.1),
            esc(label)
        );
    }
    out.push_str("</g>");
}

fn node(out: &mut String, n: &NodeBox) {
    let attributes =
        format!(r#"data-pointer="{}" data-name="{}" data-type="{}""#, esc(&n.pointer), esc(&n.name), esc(&n.kind));
    if n.children.is_empty() {
        let _ = write!(
            out,
            r#"<g class="sfn-state" tabindex="0" {attributes} transform="translate({},{})"><title>{}</title><rect width="{}" height="{}" rx="{}"/><text class="sfn-name" x="{}" y="{}">{}</text><text class="sfn-kind" x="{}" y="{}">{}</text></g>"#,
            f(n.x),
            f(n.y),
            esc(&format!("{} ({})", n.name, n.kind)),
            f(n.width),
            f(n.height),
            if matches!(n.kind.as_str(), "Succeed" | "Fail") { f(n.height / 2.0) } else { "6".into() },
            f(n.width / 2.0),
            f(n.height / 2.0 - 2.0),
            esc(&n.shown_name),
            f(n.width - 6.0),
            f(n.height - 4.0),
            esc(&n.kind)
        );
        return;
    }
    let _ = write!(
        out,
        r#"<g class="sfn-group" tabindex="0" {attributes} transform="translate({},{})"><title>{}</title><rect class="sfn-frame" width="{}" height="{}" rx="8"/><text class="sfn-title" x="10" y="{}">{}</text>"#,
        f(n.x),
        f(n.y),
        esc(&format!("{} ({})", n.name, n.kind)),
        f(n.width),
        f(n.height),
        f(TITLE / 2.0 + 5.0),
        esc(&format!("{} · {}", n.shown_name, n.kind))
    );
    let branches = n.kind == "Parallel";
    for child in &n.children {
        if branches {
            let _ = write!(
                out,
                r#"<g class="sfn-branch" data-pointer="{}" transform="translate({},{})"><rect class="sfn-frame" width="{}" height="{}" rx="6"/>"#,
                esc(&child.pointer),
                f(child.x),
                f(child.y),
                f(child.width),
                f(child.height)
            );
        } else {
            let _ = write!(out, r#"<g class="sfn-scope" transform="translate({},{})">"#, f(child.x), f(child.y));
        }
        scope(out, child);
        out.push_str("</g>");
    }
    out.push_str("</g>");
}

/// Escapes text for XML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
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
    fn the_drawing_names_every_state_and_edge() {
        let definition = json!({"StartAt": "Go <now>", "States": {
            "Go <now>": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done",
                         "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}]},
            "Oops": {"Type": "Fail"},
            "Done": {"Type": "Succeed"}
        }});
        let svg = to_svg(&graph(&definition));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(
            svg.contains(r#"data-pointer="/States/Go &lt;now&gt;" data-name="Go &lt;now&gt;" data-type="Task""#),
            "{svg}"
        );
        assert!(
            svg.contains(
                r#"class="sfn-edge sfn-edge-catch" data-from="/States/Go &lt;now&gt;" data-to="/States/Oops""#
            )
        );
        assert_eq!(svg.matches(r#"class="sfn-state""#).count(), 3);
        assert_eq!(svg.matches(r#"data-to="END""#).count(), 2);
        assert!(svg.contains(r#"class="sfn-start" data-pointer="/StartAt""#));
        // Well-formed enough for an XML parser: every element opened is closed.
        assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&#39;\u{fffd}");
    }
}
