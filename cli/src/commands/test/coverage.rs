//! Coverage of definitions by test cases (pure): which states, transitions, Choice rules
//! (and Defaults), Retriers and Catchers the cases' executions exercised, read from their
//! histories. Every item is named by its JSON pointer in the definition.
//!
//! How an execution exercises an item:
//! - a state: it was entered;
//! - a transition (`Next`, a Choice rule's `Next`, `Default`, a Catcher's `Next`): the
//!   state exited and the one it names was entered next;
//! - a Choice rule: the rule that matched the Choice's input (the rules are evaluated
//!   again on the input the history recorded, after `InputPath`); when that cannot tell
//!   (a JSONata `Condition`, a rule reading variables), the first rule going where the
//!   Choice went; a `Default`: the Choice went there and no rule matched;
//! - a Retrier: an attempt failed with an error it is the first to match, and the state
//!   tried again;
//! - a Catcher: an attempt failed, the state exited to the catcher's `Next`, and it is
//!   the first catcher to match the error (for a Map or Parallel, whose failure event
//!   names no error, the first catcher going there).

use std::collections::{BTreeMap, HashMap};

use super::thread::{Threads, starts_attempt};

use serde_json::{Value, json};
use sfnlite_states::ErrorName;
use sfnlite_states::choice::ChoiceRule;
use sfnlite_states::diagnostic::Diagnostics;
use sfnlite_states::error::ErrorMatcher;
use sfnlite_states::history::{EventDetails, HistoryEvent};
use sfnlite_states::path::{Path as JsonPath, Scope};

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    State,
    Transition,
    ChoiceRule,
    Retrier,
    Catcher,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::State => "states",
            Kind::Transition => "transitions",
            Kind::ChoiceRule => "choice rules",
            Kind::Retrier => "retriers",
            Kind::Catcher => "catchers",
        }
    }

    const ALL: [Kind; 5] = [Kind::State, Kind::Transition, Kind::ChoiceRule, Kind::Retrier, Kind::Catcher];
}

/// One coverable item of a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) kind: Kind,
    pub(crate) pointer: String,
}

/// A state's items, by what exercises them.
#[derive(Debug, Default)]
struct StateItems {
    state: Vec<usize>,
    /// (target, transition item) of `Next` (and End: none).
    next: Option<(String, usize)>,
    /// (target, rule item, transition item, the rule when JSONPath), in order.
    rules: Vec<(String, usize, usize, Option<ChoiceRule>)>,
    /// A Choice's `InputPath` (`None`: the whole input; `Some(None)`: null).
    input_path: Option<Option<JsonPath>>,
    default: Option<(String, usize, usize)>,
    /// (matchers, item), in order.
    retriers: Vec<(Vec<ErrorMatcher>, usize)>,
    /// (matchers, target, catcher item, transition item), in order.
    catchers: Vec<(Vec<ErrorMatcher>, String, usize, usize)>,
}

/// A definition's items, and what each state's events exercise.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) items: Vec<Item>,
    /// By state name (nested machines' states too; a name used at two levels gathers both).
    states: HashMap<String, Vec<StateItems>>,
}

impl Model {
    /// The items of a definition's JSON.
    pub(crate) fn of(definition: &Value) -> Model {
        let mut model = Model::default();
        model.machine(definition, "");
        model
    }

    fn add(&mut self, kind: Kind, pointer: String) -> usize {
        self.items.push(Item { kind, pointer });
        self.items.len() - 1
    }

    fn machine(&mut self, machine: &Value, at: &str) {
        let Some(states) = machine["States"].as_object() else { return };
        for (name, state) in states {
            let here = format!("{at}/States/{}", name.replace('~', "~0").replace('/', "~1"));
            let mut items = StateItems::default();
            items.state.push(self.add(Kind::State, here.clone()));
            if let Some(next) = state["Next"].as_str() {
                let edge = self.add(Kind::Transition, format!("{here}/Next"));
                items.next = Some((next.to_owned(), edge));
            }
            for (i, rule) in state["Choices"].as_array().into_iter().flatten().enumerate() {
                if let Some(next) = rule["Next"].as_str() {
                    let item = self.add(Kind::ChoiceRule, format!("{here}/Choices/{i}"));
                    let edge = self.add(Kind::Transition, format!("{here}/Choices/{i}/Next"));
                    let mut diagnostics = Diagnostics::default();
                    let parsed = ChoiceRule::parse(rule, &format!("{here}/Choices/{i}"), true, &mut diagnostics);
                    items.rules.push((next.to_owned(), item, edge, parsed));
                }
            }
            items.input_path = match state.get("InputPath") {
                None => None,
                Some(Value::String(path)) => JsonPath::parse(path).ok().map(Some),
                Some(_) => Some(None),
            };
            if let Some(default) = state["Default"].as_str() {
                let item = self.add(Kind::ChoiceRule, format!("{here}/Default"));
                let edge = self.add(Kind::Transition, format!("{here}/Default"));
                items.default = Some((default.to_owned(), item, edge));
            }
            let matchers = |entry: &Value| -> Vec<ErrorMatcher> {
                entry["ErrorEquals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(ErrorMatcher::parse)
                    .collect()
            };
            for (i, retrier) in state["Retry"].as_array().into_iter().flatten().enumerate() {
                let item = self.add(Kind::Retrier, format!("{here}/Retry/{i}"));
                items.retriers.push((matchers(retrier), item));
            }
            for (i, catcher) in state["Catch"].as_array().into_iter().flatten().enumerate() {
                if let Some(next) = catcher["Next"].as_str() {
                    let item = self.add(Kind::Catcher, format!("{here}/Catch/{i}"));
                    let edge = self.add(Kind::Transition, format!("{here}/Catch/{i}/Next"));
                    items.catchers.push((matchers(catcher), next.to_owned(), item, edge));
                }
            }
            self.states.entry(name.clone()).or_default().push(items);
            for field in ["ItemProcessor", "Iterator"] {
                if state[field].is_object() {
                    self.machine(&state[field], &format!("{here}/{field}"));
                }
            }
            for (i, branch) in state["Branches"].as_array().into_iter().flatten().enumerate() {
                self.machine(branch, &format!("{here}/Branches/{i}"));
            }
        }
    }

    /// Marks in `hit` what an execution's history exercised.
    pub(crate) fn observe(&self, events: &[HistoryEvent], hit: &mut [bool]) {
        let threads = Threads::of(events);
        for event in events {
            let EventDetails::StateEntered { name, input, .. } = &event.details else { continue };
            let Some(all) = self.states.get(&**name) else { continue };
            for items in all {
                items.state.iter().for_each(|&i| hit[i] = true);
            }
            // The entry's own events, up to its exit.
            let mut failure: Option<Option<ErrorName>> = None;
            let mut fan_out = event.id;
            for next in threads.entry(event.id) {
                if starts_attempt(&next.details) {
                    fan_out = next.id;
                    // An attempt after a failure: the first retrier matching it retried.
                    if let Some(error) = failure.take() {
                        for items in all {
                            let retrier =
                                items.retriers.iter().find(|(m, _)| error.as_ref().is_none_or(|e| matched(m, e)));
                            if let Some((_, item)) = retrier {
                                hit[*item] = true;
                            }
                        }
                    }
                    continue;
                }
                match &next.details {
                    EventDetails::TaskFailed { error, .. }
                    | EventDetails::LambdaFunctionFailed { error, .. }
                    | EventDetails::ActivityFailed { error, .. }
                    | EventDetails::MapRunFailed { error, .. } => {
                        failure = Some(Some(ErrorName::parse(error.as_deref().unwrap_or("States.TaskFailed"))));
                    }
                    EventDetails::TaskTimedOut { error, .. }
                    | EventDetails::LambdaFunctionTimedOut { error, .. }
                    | EventDetails::ActivityTimedOut { error, .. } => {
                        // `States.Timeout`, or `States.HeartbeatTimeout` as the event says.
                        failure = Some(Some(ErrorName::parse(error.as_deref().unwrap_or("States.Timeout"))));
                    }
                    // Its event names no error: the last failure of its iterations or
                    // branches does (or a MapRunFailed before, already read).
                    EventDetails::MapStateFailed | EventDetails::ParallelStateFailed if failure.is_none() => {
                        failure = Some(last_error(events, fan_out, next.id));
                    }
                    EventDetails::StateExited { .. } => {
                        let entered_next = threads.after(next.id).iter().find_map(|e| match &e.details {
                            EventDetails::StateEntered { name, .. } => Some(name.to_string()),
                            _ => None,
                        });
                        if let Some(target) = entered_next {
                            for items in all {
                                mark_exit(items, input, &target, failure.as_ref(), hit);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The Choice rule that matched `input` (as entered), when it can tell: `Some(None)` when
/// no rule matched.
fn matched_rule(items: &StateItems, input: &Value) -> Option<Option<usize>> {
    let context = Value::Null;
    let effective = match &items.input_path {
        None => input.clone(),
        Some(None) => Value::Object(serde_json::Map::new()),
        Some(Some(path)) => path.eval(&Scope::new(input, &context)).ok()?,
    };
    for (i, (_, _, _, rule)) in items.rules.iter().enumerate() {
        if rule.as_ref()?.evaluate(&Scope::new(&effective, &context)).ok()? {
            return Some(Some(i));
        }
    }
    Some(None)
}

/// Whether `error` is one of `matchers`'. A task's timeout is recorded as `States.Timeout`
/// whether its heartbeat or its whole time ran out, and is caught by either name, as the
/// engine catches it.
fn matched(matchers: &[ErrorMatcher], error: &ErrorName) -> bool {
    let heartbeat = *error == ErrorName::Timeout;
    matchers.iter().any(|m| m.matches(error) || (heartbeat && m.matches(&ErrorName::HeartbeatTimeout)))
}

/// The error of the last failure event after `from` and before `to` (by event id): what a
/// failing Map iteration or Parallel branch raised.
fn last_error(events: &[HistoryEvent], from: u64, to: u64) -> Option<ErrorName> {
    events.iter().rev().filter(|e| e.id > from && e.id < to).find_map(|e| match &e.details {
        EventDetails::TaskFailed { error, .. }
        | EventDetails::LambdaFunctionFailed { error, .. }
        | EventDetails::ActivityFailed { error, .. }
        | EventDetails::MapRunFailed { error, .. }
        | EventDetails::ExecutionFailed { error, .. } => Some(ErrorName::parse(error.as_deref()?)),
        EventDetails::TaskTimedOut { error, .. }
        | EventDetails::LambdaFunctionTimedOut { error, .. }
        | EventDetails::ActivityTimedOut { error, .. } => {
            Some(ErrorName::parse(error.as_deref().unwrap_or("States.Timeout")))
        }
        _ => None,
    })
}

/// A state exited to `target` (after a failure when `failure`): the transition, rule or
/// catcher that took it there.
fn mark_exit(items: &StateItems, input: &Value, target: &str, failure: Option<&Option<ErrorName>>, hit: &mut [bool]) {
    if let Some(error) = failure {
        let caught = items
            .catchers
            .iter()
            .find(|(matchers, next, _, _)| next == target && error.as_ref().is_none_or(|e| matched(matchers, e)));
        if let Some((_, _, item, edge)) = caught {
            hit[*item] = true;
            hit[*edge] = true;
            return;
        }
    }
    if !items.rules.is_empty() {
        // The rule evaluated again, when it agrees with where the Choice went.
        match matched_rule(items, input) {
            Some(Some(i)) if items.rules[i].0 == target => {
                hit[items.rules[i].1] = true;
                hit[items.rules[i].2] = true;
                return;
            }
            Some(None) if items.default.as_ref().is_some_and(|(next, _, _)| next == target) => {}
            _ => {
                if let Some((_, item, edge, _)) = items.rules.iter().find(|(next, _, _, _)| next == target) {
                    hit[*item] = true;
                    hit[*edge] = true;
                    return;
                }
            }
        }
    }
    if let Some((_, item, edge)) = items.default.as_ref().filter(|(next, _, _)| next == target) {
        hit[*item] = true;
        hit[*edge] = true;
    } else if let Some((_, edge)) = items.next.as_ref().filter(|(next, _)| next == target) {
        hit[*edge] = true;
    }
}

/// A definition's coverage: its items and which were exercised.
#[derive(Debug)]
pub(crate) struct Coverage {
    pub(crate) model: Model,
    pub(crate) hit: Vec<bool>,
}

impl Coverage {
    pub(crate) fn new(model: Model) -> Coverage {
        let hit = vec![false; model.items.len()];
        Coverage { model, hit }
    }

    /// (covered, total) of one kind, or of all with `None`.
    pub(crate) fn count(&self, kind: Option<Kind>) -> (usize, usize) {
        let chosen = self.model.items.iter().zip(&self.hit).filter(|(item, _)| kind.is_none_or(|k| item.kind == k));
        chosen.fold((0, 0), |(c, t), (_, hit)| (c + usize::from(*hit), t + 1))
    }

    pub(crate) fn uncovered(&self) -> impl Iterator<Item = &Item> {
        self.model.items.iter().zip(&self.hit).filter(|(_, hit)| !**hit).map(|(item, _)| item)
    }
}

fn percent((covered, total): (usize, usize)) -> f64 {
    if total == 0 { 100.0 } else { covered as f64 * 100.0 / total as f64 }
}

/// Every definition's coverage together: (covered, total).
pub(crate) fn overall(all: &BTreeMap<String, Coverage>) -> (usize, usize) {
    all.values().map(|c| c.count(None)).fold((0, 0), |(a, b), (c, t)| (a + c, b + t))
}

/// The coverage table, and the uncovered items by pointer.
pub(crate) fn table(all: &BTreeMap<String, Coverage>) -> String {
    use std::fmt::Write;
    let mut out = String::from("\nCoverage\n");
    let _ = writeln!(
        out,
        "{:<40} {:>9} {:>12} {:>13} {:>9} {:>9} {:>7}",
        "definition", "states", "transitions", "choice rules", "retriers", "catchers", "total"
    );
    for (definition, coverage) in all {
        let cell = |kind| {
            let (c, t) = coverage.count(Some(kind));
            if t == 0 { "-".to_owned() } else { format!("{c}/{t}") }
        };
        let _ = writeln!(
            out,
            "{:<40} {:>9} {:>12} {:>13} {:>9} {:>9} {:>6.1}%",
            definition,
            cell(Kind::State),
            cell(Kind::Transition),
            cell(Kind::ChoiceRule),
            cell(Kind::Retrier),
            cell(Kind::Catcher),
            percent(coverage.count(None))
        );
    }
    for (definition, coverage) in all {
        for item in coverage.uncovered() {
            let _ = writeln!(out, "uncovered {definition} {} ({})", item.pointer, item.kind.label());
        }
    }
    let _ = writeln!(out, "total {:.1}%", percent(overall(all)));
    out
}

/// The coverage as JSON.
pub(crate) fn json(all: &BTreeMap<String, Coverage>) -> Value {
    let definitions: Vec<Value> = all
        .iter()
        .map(|(definition, coverage)| {
            let mut kinds = serde_json::Map::new();
            for kind in Kind::ALL {
                let (covered, total) = coverage.count(Some(kind));
                kinds.insert(kind.label().replace(' ', "_"), json!({"covered": covered, "total": total}));
            }
            let uncovered: Vec<Value> = coverage
                .uncovered()
                .map(|i| json!({"pointer": i.pointer, "kind": i.kind.label().replace(' ', "_")}))
                .collect();
            json!({"definition": definition, "percent": percent(coverage.count(None)), "kinds": kinds, "uncovered": uncovered})
        })
        .collect();
    json!({"percent": percent(overall(all)), "definitions": definitions})
}

#[cfg(test)]
mod tests {

    use sfnlite_states::definition::StateType;
    use sfnlite_states::history::TaskResource;

    use super::*;

    fn definition() -> Value {
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "C",
                  "Retry": [{"ErrorEquals": ["Throttled"]}, {"ErrorEquals": ["States.ALL"]}],
                  "Catch": [{"ErrorEquals": ["Declined"], "Next": "Refund"}, {"ErrorEquals": ["States.ALL"], "Next": "Refund"}]},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "Done"},
                                                  {"Variable": "$.b", "IsPresent": true, "Next": "Refund"}], "Default": "Done"},
            "Refund": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"}}})
    }

    fn event(id: u64, details: EventDetails) -> HistoryEvent {
        HistoryEvent { id, previous_event_id: id - 1, timestamp: 0, details }
    }

    fn task(resource: &str) -> TaskResource {
        TaskResource { resource_type: "lambda".into(), resource: resource.into() }
    }

    #[test]
    fn a_retried_then_caught_task_covers_its_retrier_and_catcher() {
        let model = Model::of(&definition());
        let pointers: Vec<&str> = model.items.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers.len(), 18, "{pointers:?}");
        let scheduled = || EventDetails::TaskScheduled {
            resource: task("invoke"),
            region: "r".into(),
            parameters: sfnlite_states::history::Payload::new(json!({})),
            timeout_seconds: None,
            heartbeat_seconds: None,
        };
        let failed =
            |e: &str| EventDetails::TaskFailed { resource: task("invoke"), error: Some(e.into()), cause: None };
        let entered = |n: &str, t| EventDetails::StateEntered {
            state_type: t,
            name: n.into(),
            input: sfnlite_states::history::Payload::new(json!({})),
        };
        let exited = |n: &str, t| EventDetails::StateExited {
            state_type: t,
            name: n.into(),
            output: sfnlite_states::history::Payload::new(json!({})),
            assigned_variables: None,
        };
        let events = vec![
            event(
                1,
                EventDetails::ExecutionStarted {
                    input: sfnlite_states::history::Payload::new(json!({})),
                    role_arn: String::new(),
                },
            ),
            event(2, entered("T", StateType::Task)),
            event(3, scheduled()),
            event(4, failed("Throttled")),
            event(5, scheduled()),
            event(6, failed("Declined")),
            event(7, scheduled()),
            event(8, failed("Declined")),
            event(9, exited("T", StateType::Task)),
            event(10, entered("Refund", StateType::Pass)),
            event(11, exited("Refund", StateType::Pass)),
            event(12, entered("Done", StateType::Succeed)),
        ];
        let mut coverage = Coverage::new(model);
        coverage.model.observe(&events, &mut coverage.hit);
        let uncovered: Vec<&str> = coverage.uncovered().map(|i| i.pointer.as_str()).collect();
        assert_eq!(
            uncovered,
            [
                "/States/T/Next",
                "/States/T/Catch/1",
                "/States/T/Catch/1/Next",
                "/States/C",
                "/States/C/Choices/0",
                "/States/C/Choices/0/Next",
                "/States/C/Choices/1",
                "/States/C/Choices/1/Next",
                "/States/C/Default",
                "/States/C/Default",
            ],
            "both retriers retried (Throttled, then Declined by States.ALL), the first catcher caught"
        );
        assert_eq!(coverage.count(Some(Kind::Retrier)), (2, 2));
        assert_eq!(coverage.count(Some(Kind::State)), (3, 4));

        // A Choice whose two rules could both go to Refund: the rule that matched its input.
        let entered_with = |n: &str, t, input: Value| EventDetails::StateEntered {
            state_type: t,
            name: n.into(),
            input: sfnlite_states::history::Payload::new(input),
        };
        let choice = vec![
            event(1, entered_with("C", StateType::Choice, json!({"b": 1}))),
            event(2, exited("C", StateType::Choice)),
            event(3, entered("Refund", StateType::Pass)),
        ];
        coverage.model.observe(&choice, &mut coverage.hit);
        let now: Vec<&str> = coverage.uncovered().map(|i| i.pointer.as_str()).collect();
        assert!(!now.contains(&"/States/C/Choices/1") && now.contains(&"/States/C/Choices/0"), "{now:?}");
    }
}
