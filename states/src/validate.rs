//! Checks on the state graph: every state reachable from `StartAt`, and every state with a
//! path to a terminal state (Succeed, Fail, or `"End": true`). Nested machines (Parallel
//! branches, Map item processors) are checked too.

use petgraph::graphmap::DiGraphMap;
use petgraph::visit::{Bfs, Reversed};

use crate::definition::{StateKind, StateMachine, Transition};
use crate::diagnostic::{DiagnosticCode, Diagnostics, child};

/// The states a state can move to next (Next, Choices, Default, Catch targets).
pub fn successors(kind: &StateKind) -> Vec<usize> {
    let mut out = Vec::new();
    let push_transition = |t: &Transition, out: &mut Vec<usize>| {
        if let Transition::Next(n) = t {
            out.push(*n);
        }
    };
    match kind {
        StateKind::Pass(s) => push_transition(&s.transition, &mut out),
        StateKind::Wait(s) => push_transition(&s.transition, &mut out),
        StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_) => {
            let handling = kind.result_handling().expect("Task, Parallel and Map have one");
            push_transition(&handling.transition, &mut out);
            out.extend(handling.catch.iter().map(|c| c.next));
        }
        StateKind::Choice(s) => {
            out.extend(s.choices.iter().map(|c| c.next));
            out.extend(s.default);
        }
        StateKind::Succeed | StateKind::Fail(_) => {}
    }
    out
}

fn is_terminal(kind: &StateKind) -> bool {
    match kind {
        StateKind::Succeed | StateKind::Fail(_) => true,
        StateKind::Pass(s) => s.transition == Transition::End,
        StateKind::Wait(s) => s.transition == Transition::End,
        StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_) => {
            kind.result_handling().is_some_and(|h| h.transition == Transition::End)
        }
        StateKind::Choice(_) => false,
    }
}

/// Reports unreachable states and states that can never finish, for `machine` and the
/// machines nested in it. `location` is the machine's location (`""` for the top level).
pub fn check_graph(machine: &StateMachine, location: &str, diags: &mut Diagnostics) {
    let mut graph = DiGraphMap::<usize, ()>::new();
    for (i, state) in machine.states.iter().enumerate() {
        graph.add_node(i);
        for next in successors(&state.kind) {
            graph.add_edge(i, next, ());
        }
    }
    let states_loc = child(location, "States");
    let mut reachable = vec![false; machine.states.len()];
    let mut bfs = Bfs::new(&graph, machine.start_at);
    while let Some(n) = bfs.next(&graph) {
        reachable[n] = true;
    }
    let mut finishes = vec![false; machine.states.len()];
    let reversed = Reversed(&graph);
    for (i, state) in machine.states.iter().enumerate() {
        if is_terminal(&state.kind) && !finishes[i] {
            let mut bfs = Bfs::new(reversed, i);
            while let Some(n) = bfs.next(reversed) {
                finishes[n] = true;
            }
        }
    }
    if !finishes.iter().any(|f| *f) {
        let loc = if location.is_empty() { "/".to_owned() } else { location.to_owned() };
        diags.error(
            DiagnosticCode::MissingEndState,
            loc,
            "no state ends the execution (Succeed, Fail or \"End\": true)",
        );
    }
    for (i, state) in machine.states.iter().enumerate() {
        let here = child(&states_loc, &state.name);
        if !reachable[i] {
            diags.error(
                DiagnosticCode::UnreachableState,
                here.clone(),
                format!("the state '{}' cannot be reached from StartAt", state.name),
            );
        } else if !finishes[i] {
            diags.error(
                DiagnosticCode::NoPathToTerminalState,
                here.clone(),
                format!("the state '{}' has no path to a terminal state", state.name),
            );
        }
        match &state.kind {
            StateKind::Parallel(p) => {
                for (b, branch) in p.branches.iter().enumerate() {
                    check_graph(branch, &child(&child(&here, "Branches"), b), diags);
                }
            }
            StateKind::Map(m) => check_graph(&m.item_processor, &child(&here, "ItemProcessor"), diags),
            _ => {}
        }
    }
}

/// ASL: "State names MUST be unique within the scope of the whole state machine", Parallel
/// branches and Map item processors included. (Duplicates within one `States` object are
/// found on the JSON text, by `duplicates`.)
pub fn check_unique_names(machine: &StateMachine, diags: &mut Diagnostics) {
    fn walk<'m>(
        machine: &'m StateMachine,
        location: &str,
        seen: &mut std::collections::HashMap<&'m str, String>,
        diags: &mut Diagnostics,
    ) {
        let states_loc = child(location, "States");
        for state in &machine.states {
            let here = child(&states_loc, &state.name);
            if let Some(first) = seen.get(&*state.name) {
                diags.error(
                    DiagnosticCode::DuplicateStateName,
                    here.clone(),
                    format!("the state name '{}' is already used at {first}", state.name),
                );
            } else {
                seen.insert(&state.name, here.clone());
            }
            match &state.kind {
                StateKind::Parallel(p) => {
                    for (b, branch) in p.branches.iter().enumerate() {
                        walk(branch, &child(&child(&here, "Branches"), b), seen, diags);
                    }
                }
                StateKind::Map(m) => walk(&m.item_processor, &child(&here, "ItemProcessor"), seen, diags),
                _ => {}
            }
        }
    }
    walk(machine, "", &mut std::collections::HashMap::new(), diags);
}
