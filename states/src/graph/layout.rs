//! Where everything goes: a layered layout, top down, as the Step Functions console draws.
//!
//! Per scope: edges that close a loop are found by a depth-first walk from `StartAt` and
//! set aside; every state's rank is its longest distance from a source along the rest;
//! each rank is a row, and a state sits under the mean of its predecessors, pushed right
//! only as far as its row needs. Forward edges are curves from the bottom of a state to
//! the top of the next; loops go round the right side in lanes of their own. A Map or a
//! Parallel is a box holding its scopes, laid out first. Everything is linear in states
//! and edges, apart from sorting each row.

use std::collections::HashMap;

use super::{END, Edge, EdgeKind, START, Scope};

/// A state's height.
pub(super) const NODE_HEIGHT: f64 = 40.0;
const MIN_WIDTH: f64 = 110.0;
const MAX_WIDTH: f64 = 260.0;
/// The width of one character of a state's name (13 px sans-serif, a little generous).
pub(super) const CHAR_WIDTH: f64 = 7.4;
const RANK_GAP: f64 = 58.0;
const NODE_GAP: f64 = 36.0;
const PAD: f64 = 16.0;
/// The height of a group's title bar.
pub(super) const TITLE: f64 = 26.0;
const BRANCH_GAP: f64 = 16.0;
/// A start or end marker's radius.
pub(super) const MARKER: f64 = 7.0;
const LANE_GAP: f64 = 12.0;
const MARGIN: f64 = 12.0;

/// A laid-out definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The drawing's width.
    pub width: f64,
    /// The drawing's height.
    pub height: f64,
    /// The top-level scope, at (0, 0).
    pub scope: ScopeBox,
    /// The end marker's centre.
    pub end: Option<(f64, f64)>,
}

/// A scope, placed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeBox {
    /// Its pointer.
    pub pointer: String,
    /// Its position, relative to what holds it.
    pub x: f64,
    /// Its position, relative to what holds it.
    pub y: f64,
    /// Its size.
    pub width: f64,
    /// Its size.
    pub height: f64,
    /// The start marker's centre, when the scope has a start.
    pub start: Option<(f64, f64)>,
    /// Its states.
    pub nodes: Vec<NodeBox>,
    /// Its edges.
    pub edges: Vec<EdgePath>,
}

/// A state, placed (relative to its scope).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// Its pointer.
    pub pointer: String,
    /// Its name.
    pub name: String,
    /// Its type.
    pub kind: String,
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// The name as drawn (cut short with `…` when it does not fit).
    pub shown_name: String,
    /// A Map's or Parallel's scopes, placed relative to this box.
    pub children: Vec<ScopeBox>,
}

/// An edge, routed (relative to its scope).
#[derive(Debug, Clone, PartialEq)]
pub struct EdgePath {
    /// The source's pointer, or the scope's `…/StartAt` for the start marker.
    pub from: String,
    /// The target's pointer, or [`END`].
    pub to: String,
    /// Why.
    pub kind: EdgeKind,
    /// An SVG path.
    pub path: String,
    /// Where its label goes.
    pub label_at: (f64, f64),
}

/// Lays out a definition's graph.
pub fn layout(graph: &Scope) -> Layout {
    let mut scope = place_scope(graph);
    let mut end = None;
    let ends: Vec<usize> = (0..graph.edges.len()).filter(|&i| graph.edges[i].to == END).collect();
    if !ends.is_empty() {
        let (cx, cy) = (scope.width / 2.0, scope.height + RANK_GAP * 0.6);
        let by_pointer: HashMap<&str, usize> =
            scope.nodes.iter().enumerate().map(|(k, n)| (n.pointer.as_str(), k)).collect();
        let mut paths = Vec::with_capacity(ends.len());
        for &i in &ends {
            let Some(&k) = by_pointer.get(graph.edges[i].from.as_str()) else { continue };
            let node = &scope.nodes[k];
            let (sx, sy) = (node.x + node.width / 2.0, node.y + node.height);
            paths.push(EdgePath {
                from: node.pointer.clone(),
                to: END.into(),
                kind: EdgeKind::Next,
                path: curve((sx, sy), (cx, cy - MARKER)),
                label_at: ((sx + cx) / 2.0, (sy + cy) / 2.0),
            });
        }
        scope.edges.extend(paths);
        scope.height = cy + MARKER + MARGIN;
        end = Some((cx, cy));
    }
    Layout { width: scope.width, height: scope.height, scope, end }
}

fn place_scope(graph: &Scope) -> ScopeBox {
    let n = graph.nodes.len();
    let index: HashMap<&str, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.pointer.as_str(), i)).collect();
    // Sizes first: a group's is its scopes'.
    let mut boxes: Vec<NodeBox> = graph.nodes.iter().map(node_box).collect();
    let edges: Vec<(usize, usize, &Edge)> =
        graph.edges.iter().filter_map(|e| Some((index[e.from.as_str()], *index.get(e.to.as_str())?, e))).collect();
    let start = graph.start.as_deref().and_then(|s| index.get(s).copied());
    let (back, order) = back_edges(n, start, &edges);
    let rank = ranks(n, &edges, &back, &order);
    let rows = rank.iter().copied().max().map_or(0, |r| r + 1);

    // Rows, in first-visit order, then placed under their predecessors.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for &i in &order {
        members[rank[i]].push(i);
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, &(a, b, _)) in edges.iter().enumerate() {
        if !back[k] && a != b {
            preds[b].push(a);
        }
    }
    let first_row = if start.is_some() { 2.0 * MARKER + RANK_GAP * 0.6 } else { 0.0 };
    let mut y = first_row;
    let mut row_top = Vec::with_capacity(rows);
    let mut row_bottom = Vec::with_capacity(rows);
    let mut centre = vec![0.0_f64; n];
    for row in &members {
        let mut wanted: Vec<(f64, usize)> = row
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let p = &preds[i];
                let x =
                    if p.is_empty() { f64::NAN } else { p.iter().map(|&q| centre[q]).sum::<f64>() / p.len() as f64 };
                (if x.is_nan() { pos as f64 * 1e-3 - 1e9 } else { x }, i)
            })
            .collect();
        wanted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut right = f64::NEG_INFINITY;
        let height = row.iter().map(|&i| boxes[i].height).fold(0.0, f64::max);
        for (want, i) in wanted {
            let w = boxes[i].width;
            let left = if want < -1e8 { right + NODE_GAP } else { want - w / 2.0 };
            let left = if right.is_finite() {
                left.max(right + NODE_GAP)
            } else if want < -1e8 {
                0.0
            } else {
                left
            };
            boxes[i].x = left;
            boxes[i].y = y + (height - boxes[i].height) / 2.0;
            centre[i] = left + w / 2.0;
            right = left + w;
        }
        row_top.push(y);
        row_bottom.push(y + height);
        y += height + RANK_GAP;
    }
    // Shift right of the margin.
    let min_x = boxes.iter().map(|b| b.x).fold(f64::INFINITY, f64::min);
    let shift = if min_x.is_finite() { MARGIN - min_x } else { MARGIN };
    for b in &mut boxes {
        b.x += shift;
    }
    let mut width = boxes.iter().map(|b| b.x + b.width).fold(MIN_WIDTH, f64::max) + MARGIN;
    let height = if n == 0 { first_row + MARGIN } else { y - RANK_GAP + MARGIN };

    // Edges: forward curves spread over the source's bottom and the target's top, loops in lanes.
    let mut out_count = vec![0usize; n];
    let mut in_count = vec![0usize; n];
    let mut labelled = vec![0usize; n];
    for (k, &(a, b, e)) in edges.iter().enumerate() {
        if !back[k] {
            out_count[a] += 1;
            in_count[b] += 1;
            labelled[a] += usize::from(e.kind.label().is_some());
        }
    }
    let mut labels_seen = vec![0usize; n];
    let mut out_seen = vec![0usize; n];
    let mut in_seen = vec![0usize; n];
    let lane_base = width;
    let mut lanes = 0usize;
    let mut paths = Vec::new();
    for (k, &(a, b, edge)) in edges.iter().enumerate() {
        let (s, t) = (&boxes[a], &boxes[b]);
        let (path, label_at) = if back[k] {
            // Down into the gap under the source's row, right to a lane of its own, up into
            // the gap over the target's row, and down into the target: never through a row.
            let offset = 6.0 + 4.0 * (lanes % 4) as f64;
            let lane = lane_base + LANE_GAP * (lanes as f64 + 1.0);
            lanes += 1;
            let (sx, sy) = (s.x + s.width - 10.0, s.y + s.height);
            let below = row_bottom[rank[a]] + offset;
            let (tx, ty) = (t.x + t.width - 10.0, t.y);
            let above = row_top[rank[b]] - offset - 6.0;
            let path = format!(
                "M{} {} L{} {} L{} {} L{} {} L{} {} L{} {}",
                f(sx),
                f(sy),
                f(sx),
                f(below),
                f(lane),
                f(below),
                f(lane),
                f(above),
                f(tx),
                f(above),
                f(tx),
                f(ty)
            );
            (path, (lane, (below + above) / 2.0))
        } else {
            out_seen[a] += 1;
            in_seen[b] += 1;
            let sx = s.x + s.width * out_seen[a] as f64 / (out_count[a] + 1) as f64;
            let tx = t.x + t.width * in_seen[b] as f64 / (in_count[b] + 1) as f64;
            let (sy, ty) = (s.y + s.height, t.y);
            // Labels of one state's edges sit at different heights along their curves.
            let at = if edge.kind.label().is_some() {
                labels_seen[a] += 1;
                0.2 + 0.6 * (labels_seen[a] as f64 - 0.5) / labelled[a] as f64
            } else {
                0.5
            };
            (curve((sx, sy), (tx, ty)), curve_point((sx, sy), (tx, ty), at))
        };
        paths.push(EdgePath { from: edge.from.clone(), to: edge.to.clone(), kind: edge.kind.clone(), path, label_at });
    }
    width = width.max(lane_base + LANE_GAP * (lanes as f64 + 1.0));
    let start_at = start.map(|i| {
        let b = &boxes[i];
        let (cx, cy) = (b.x + b.width / 2.0, MARKER + 1.0);
        paths.insert(
            0,
            EdgePath {
                from: format!("{}{START}", graph.pointer),
                to: b.pointer.clone(),
                kind: EdgeKind::Next,
                path: curve((cx, cy + MARKER), (cx, b.y)),
                label_at: (cx, (cy + b.y) / 2.0),
            },
        );
        (cx, cy)
    });
    ScopeBox {
        pointer: graph.pointer.clone(),
        x: 0.0,
        y: 0.0,
        width,
        height,
        start: start_at,
        nodes: boxes,
        edges: paths,
    }
}

/// A state's box before placement; a group's holds its scopes, placed inside it.
fn node_box(node: &super::Node) -> NodeBox {
    let text_width = |s: &str| s.chars().count() as f64 * CHAR_WIDTH + 28.0;
    let shown_name = fit(&node.name, MAX_WIDTH);
    let mut b = NodeBox {
        pointer: node.pointer.clone(),
        name: node.name.clone(),
        kind: node.kind.clone(),
        x: 0.0,
        y: 0.0,
        width: text_width(&shown_name).clamp(MIN_WIDTH, MAX_WIDTH),
        height: NODE_HEIGHT,
        shown_name,
        children: Vec::new(),
    };
    if node.children.is_empty() {
        return b;
    }
    let mut x = PAD;
    let mut inner_height: f64 = 0.0;
    for scope in &node.children {
        let mut placed = place_scope(scope);
        placed.x = x;
        placed.y = TITLE + PAD;
        x += placed.width + BRANCH_GAP;
        inner_height = inner_height.max(placed.height);
        b.children.push(placed);
    }
    // Branches share one height, so their frames line up.
    for child in &mut b.children {
        child.height = inner_height;
    }
    b.width = (x - BRANCH_GAP + PAD).max(b.width);
    b.height = TITLE + PAD + inner_height + PAD;
    b
}

/// A name cut short (with `…`) to fit a width.
fn fit(name: &str, width: f64) -> String {
    let max = ((width - 28.0) / CHAR_WIDTH) as usize;
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let head: String = name.chars().take(max.saturating_sub(1)).collect();
    format!("{head}…")
}

/// The edges that close loops (by a depth-first walk from the start, then from every state
/// not yet seen, in definition order), and the order states were first reached.
fn back_edges(n: usize, start: Option<usize>, edges: &[(usize, usize, &Edge)]) -> (Vec<bool>, Vec<usize>) {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, &(a, _, _)) in edges.iter().enumerate() {
        out[a].push(k);
    }
    // 0 unseen, 1 on the walk's path, 2 done.
    let mut state = vec![0u8; n];
    let mut back = vec![false; edges.len()];
    let mut order = Vec::with_capacity(n);
    let roots = start.into_iter().chain(0..n);
    for root in roots {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        order.push(root);
        let mut stack = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&k) = out[v].get(*next) {
                *next += 1;
                let w = edges[k].1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        order.push(w);
                        stack.push((w, 0));
                    }
                    1 => back[k] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    (back, order)
}

/// Each state's longest distance from a source, along the edges that are not loops.
fn ranks(n: usize, edges: &[(usize, usize, &Edge)], back: &[bool], order: &[usize]) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, &(a, b, _)) in edges.iter().enumerate() {
        if !back[k] && a != b {
            indegree[b] += 1;
            out[a].push(b);
        }
    }
    let mut rank = vec![0usize; n];
    let mut ready: Vec<usize> = order.iter().rev().copied().filter(|&i| indegree[i] == 0).collect();
    while let Some(v) = ready.pop() {
        for &w in &out[v] {
            rank[w] = rank[w].max(rank[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(w);
            }
        }
    }
    rank
}

/// A vertical S-curve from a to b.
fn curve(a: (f64, f64), b: (f64, f64)) -> String {
    let dy = ((b.1 - a.1) / 2.0).max(12.0);
    format!("M{} {} C{} {} {} {} {} {}", f(a.0), f(a.1), f(a.0), f(a.1 + dy), f(b.0), f(b.1 - dy), f(b.0), f(b.1))
}

/// The point at parameter `u` of [`curve`]'s Bézier.
fn curve_point(a: (f64, f64), b: (f64, f64), u: f64) -> (f64, f64) {
    let dy = ((b.1 - a.1) / 2.0).max(12.0);
    let (p1, p2) = ((a.0, a.1 + dy), (b.0, b.1 - dy));
    let v = 1.0 - u;
    let at = |p0: f64, p1: f64, p2: f64, p3: f64| {
        v * v * v * p0 + 3.0 * v * v * u * p1 + 3.0 * v * u * u * p2 + u * u * u * p3
    };
    (at(a.0, p1.0, p2.0, b.0), at(a.1, p1.1, p2.1, b.1))
}

/// A coordinate, to a tenth.
pub(super) fn f(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{}", r as i64) } else { format!("{r:.1}") }
}

#[cfg(test)]
mod tests {
    use super::super::graph;
    use super::*;
    use serde_json::json;

    fn chain(n: usize) -> serde_json::Value {
        let mut states = serde_json::Map::new();
        for i in 0..n {
            let state = if i + 1 == n {
                json!({"Type": "Succeed"})
            } else {
                json!({"Type": "Pass", "Next": format!("S{}", i + 1)})
            };
            states.insert(format!("S{i}"), state);
        }
        json!({"StartAt": "S0", "States": states})
    }

    #[test]
    fn a_chain_is_one_column() {
        let l = layout(&graph(&chain(4)));
        let xs: Vec<f64> = l.scope.nodes.iter().map(|n| n.x).collect();
        assert!(xs.windows(2).all(|w| w[0] == w[1]), "{xs:?}");
        let ys: Vec<f64> = l.scope.nodes.iter().map(|n| n.y).collect();
        assert!(ys.windows(2).all(|w| w[1] > w[0] + NODE_HEIGHT), "{ys:?}");
        assert!(l.end.is_some_and(|(_, y)| y > ys[3]));
        assert!(l.scope.edges.iter().any(|e| e.from == "/StartAt" && e.to == "/States/S0"));
        assert!(l.scope.edges.iter().any(|e| e.from == "/States/S3" && e.to == END));
    }

    #[test]
    fn loops_go_round_and_branches_sit_side_by_side() {
        let definition = json!({"StartAt": "Wait", "States": {
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": true, "Next": "Fan"}], "Default": "Wait"},
            "Fan": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}
            ]}
        }});
        let l = layout(&graph(&definition));
        let by = |p: &str| l.scope.nodes.iter().find(|n| n.pointer == p).unwrap();
        assert!(by("/States/Check").y > by("/States/Wait").y);
        let back = l.scope.edges.iter().find(|e| e.to == "/States/Wait" && e.from == "/States/Check").unwrap();
        assert!(back.path.starts_with('M') && back.path.contains('L'), "a loop is routed in a lane: {}", back.path);
        let fan = by("/States/Fan");
        assert_eq!(fan.children.len(), 2);
        let (a, b) = (&fan.children[0], &fan.children[1]);
        assert!(b.x >= a.x + a.width, "branches side by side");
        assert!(fan.width >= a.width + b.width && fan.height > a.height);
        assert!(l.width >= fan.x + fan.width);
    }

    #[test]
    fn large_definitions_lay_out_quickly() {
        // Linear work: 20,000 states in well under a second even unoptimised.
        let l = layout(&graph(&chain(20_000)));
        assert_eq!(l.scope.nodes.len(), 20_000);
    }

    #[test]
    fn long_names_are_cut() {
        assert_eq!(fit("short", MAX_WIDTH), "short");
        let cut = fit(&"x".repeat(100), MAX_WIDTH);
        assert!(cut.ends_with('…') && cut.chars().count() < 40);
    }
}
