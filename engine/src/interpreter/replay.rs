//! Replay: running an execution again against its stored history, to resume or redrive it.
//!
//! The interpreter runs from the start; each event it would record is looked up by a
//! [`Key`]: the event it follows, its type, and its subject (a state name or a Map
//! iteration index). A stored event with that key is *replayed*: its id and timestamp are
//! reused, nothing is appended, and the effect it stands for is not performed again (task
//! outcomes are read back; waits and retry delays that already ended are skipped). Where
//! the stored history has nothing after the event followed (the process died there), that
//! thread of control goes live. Where the history goes on after it with other events, the
//! run has diverged from what was recorded: [`Lookup::Diverged`], never a silent switch to
//! live.

use std::collections::{HashMap, HashSet};
use std::mem::Discriminant;
use std::sync::Arc;

use serde_json::{Map, Value};
use sfnlite_states::history::{EventDetails, HistoryEvent, Payload, StateType};
use sfnlite_states::{ErrorName, StatesError};

/// What identifies an event within its thread of control.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    previous: u64,
    kind: Discriminant<EventDetails>,
    subject: Subject,
}

/// The state or iteration an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    None,
    State(Arc<str>),
    Iteration(usize),
}

impl Key {
    fn of(previous: u64, details: &EventDetails) -> Key {
        let subject = match details {
            EventDetails::MapIterationStarted { index, .. }
            | EventDetails::MapIterationSucceeded { index, .. }
            | EventDetails::MapIterationFailed { index, .. }
            | EventDetails::MapIterationAborted { index, .. } => Subject::Iteration(*index),
            EventDetails::StateEntered { name, .. }
            | EventDetails::StateExited { name, .. }
            | EventDetails::WaitStateAborted { name } => Subject::State(name.clone()),
            _ => Subject::None,
        };
        Key { previous, kind: std::mem::discriminant(details), subject }
    }
}

/// A replay met an event that its stored history does not explain: the definition, an
/// adapter or a mock no longer behaves as it did when the history was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the replay diverged from the stored history after event {previous}: it records {recorded} where the history has {}",
    stored.join(", ")
)]
pub struct Divergence {
    /// The event both follow.
    pub previous: u64,
    /// What the replay records there (type and subject).
    pub recorded: String,
    /// What the stored history has there.
    pub stored: Vec<String>,
}

/// The answer to "has this event been recorded already?".
#[derive(Debug)]
pub(crate) enum Lookup<'r> {
    /// Yes: reuse it.
    Replayed(&'r HistoryEvent),
    /// No, and the history ends there for this thread: record it.
    Live,
    /// No, and the history has something else there.
    Diverged(Divergence),
}

/// How a stored Map attempt ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MapEnd {
    /// The iterations aborted when it failed, in the order recorded.
    pub(crate) aborted: Vec<usize>,
    /// The iterations that started and ended on their own.
    pub(crate) ran: HashSet<usize>,
    /// True when it ended with `MapStateFailed`.
    pub(crate) failed: bool,
}

/// A replayed state's stored output and assignments.
pub(crate) type StoredExit<'r> = (&'r Payload, Option<&'r Arc<Map<String, Value>>>);

/// A stored history being replayed.
pub(crate) struct Replay {
    events: Vec<HistoryEvent>,
    by_key: HashMap<Key, usize>,
    /// For each event id, the (kept) events that follow it.
    followers: HashMap<u64, Vec<usize>>,
    /// Events after which several threads start (Map and Parallel starts).
    fan_outs: HashSet<u64>,
    /// For each event a state was entered after, that state's name: from every stored
    /// event, those a redrive runs again included, since where a replayed Choice went is
    /// fixed by the history even when the state it went to failed.
    entered_after: HashMap<u64, Arc<str>>,
}

/// Events that end a Map or Parallel attempt, following its start.
fn ends_fan_out(details: &EventDetails) -> bool {
    matches!(
        details,
        EventDetails::MapIterationAborted { .. }
            | EventDetails::MapStateFailed
            | EventDetails::MapStateSucceeded
            | EventDetails::ParallelStateFailed
            | EventDetails::StateExited { .. }
    )
}

fn describe(details: &EventDetails) -> String {
    match details {
        EventDetails::MapIterationStarted { index, .. }
        | EventDetails::MapIterationSucceeded { index, .. }
        | EventDetails::MapIterationFailed { index, .. }
        | EventDetails::MapIterationAborted { index, .. } => format!("{} #{index}", details.type_name()),
        other => match other.state_name() {
            Some(name) => format!("{} '{name}'", other.type_name()),
            None => other.type_name(),
        },
    }
}

impl Replay {
    /// Indexes a stored history to resume it. Attempts before each `ExecutionRedriven`
    /// event are read as [`Replay::for_redrive`] read them then.
    pub(crate) fn for_resume(events: Vec<HistoryEvent>) -> Replay {
        let mut excluded = vec![false; events.len()];
        for (i, event) in events.iter().enumerate() {
            if matches!(event.details, EventDetails::ExecutionRedriven { .. }) {
                exclude_unsuccessful(&events[..i], &mut excluded[..i]);
            }
        }
        Replay::index(events, &excluded)
    }

    /// Indexes an ended execution's history to redrive it: what succeeded is replayed;
    /// states entered but never exited run again from their start, and the events that
    /// ended the attempt (failures, aborts, the execution's end) are left out.
    pub(crate) fn for_redrive(events: Vec<HistoryEvent>) -> Replay {
        let resumed = Replay::for_resume(events);
        let mut excluded: Vec<bool> = resumed
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| resumed.by_key.get(&Key::of(e.previous_event_id, &e.details)) != Some(&i))
            .collect();
        exclude_unsuccessful(&resumed.events, &mut excluded);
        Replay::index(resumed.events, &excluded)
    }

    fn index(events: Vec<HistoryEvent>, excluded: &[bool]) -> Replay {
        let mut by_key = HashMap::new();
        let mut followers: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut fan_outs = HashSet::new();
        let mut entered_after = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            if let EventDetails::StateEntered { name, .. } = &event.details {
                entered_after.entry(event.previous_event_id).or_insert_with(|| name.clone());
            }
            if matches!(event.details, EventDetails::MapStateStarted { .. } | EventDetails::ParallelStateStarted) {
                fan_outs.insert(event.id);
            }
            if excluded[i] {
                continue;
            }
            by_key.insert(Key::of(event.previous_event_id, &event.details), i);
            followers.entry(event.previous_event_id).or_default().push(i);
        }
        Replay { events, by_key, followers, fan_outs, entered_after }
    }

    /// The stored events, in order.
    pub(crate) fn events(&self) -> &[HistoryEvent] {
        &self.events
    }

    /// When the current attempt began: the last redrive, or the start.
    pub(crate) fn attempt_start(&self) -> Option<i64> {
        self.events
            .iter()
            .rev()
            .find(|e| matches!(e.details, EventDetails::ExecutionRedriven { .. }))
            .or(self.events.first())
            .map(|e| e.timestamp)
    }

    /// The highest event id stored.
    pub(crate) fn max_id(&self) -> u64 {
        self.events.iter().map(|e| e.id).max().unwrap_or(0)
    }

    /// Looks up the event a run is about to record after `previous`.
    pub(crate) fn lookup(&self, previous: u64, details: &EventDetails) -> Lookup<'_> {
        if let Some(&i) = self.by_key.get(&Key::of(previous, details)) {
            return Lookup::Replayed(&self.events[i]);
        }
        let Some(stored) = self.followers.get(&previous) else {
            return Lookup::Live;
        };
        // The execution can be stopped or time out anywhere. After a Map or Parallel start,
        // threads not yet started start live, and so does the state's end when the stored
        // history has none yet.
        let anywhere =
            matches!(details, EventDetails::ExecutionAborted { .. } | EventDetails::ExecutionTimedOut { .. });
        let at_fan_out = self.fan_outs.contains(&previous)
            && (matches!(details, EventDetails::MapIterationStarted { .. } | EventDetails::StateEntered { .. })
                || !stored.iter().any(|&i| ends_fan_out(&self.events[i].details)));
        if anywhere || at_fan_out {
            return Lookup::Live;
        }
        Lookup::Diverged(Divergence {
            previous,
            recorded: describe(details),
            stored: stored.iter().map(|&i| describe(&self.events[i].details)).collect(),
        })
    }

    /// True when the stored history goes on after `event_id` in the same thread: the
    /// effect between (a wait, a retry delay) is over.
    pub(crate) fn continues_after(&self, event_id: u64) -> bool {
        self.followers.contains_key(&event_id)
    }

    /// The stored `StateExited` of `state` after event `previous`, by its index.
    fn exited(&self, previous: u64, state: &Arc<str>) -> Option<usize> {
        static EXITED: std::sync::OnceLock<Discriminant<EventDetails>> = std::sync::OnceLock::new();
        let kind = *EXITED.get_or_init(|| {
            std::mem::discriminant(&EventDetails::StateExited {
                state_type: StateType::Pass,
                name: Arc::from(""),
                output: Payload::default(),
                assigned_variables: None,
            })
        });
        self.by_key.get(&Key { previous, kind, subject: Subject::State(state.clone()) }).copied()
    }

    /// The stored `StateExited` of `state` after event `previous`: its output and
    /// assignments, which a replay adopts instead of recomputing them.
    pub(crate) fn stored_exit(&self, previous: u64, state: &Arc<str>) -> Option<StoredExit<'_>> {
        match &self.events[self.exited(previous, state)?].details {
            EventDetails::StateExited { output, assigned_variables, .. } => Some((output, assigned_variables.as_ref())),
            _ => None,
        }
    }

    /// True when the Choice `state`, entered at event `entered`, has a stored exit and a
    /// stored next state: the replay takes both instead of evaluating its rules again.
    pub(crate) fn choice_decided(&self, entered: u64, state: &Arc<str>) -> bool {
        self.exited(entered, state).is_some_and(|i| self.entered_after.contains_key(&self.events[i].id))
    }

    /// The state the stored history entered after event `exited` (a replayed `Exited`):
    /// where a replayed transition goes, whatever re-evaluating it would give now.
    pub(crate) fn stored_next_state(&self, exited: u64) -> Option<&Arc<str>> {
        self.entered_after.get(&exited)
    }

    /// How the stored history ended the Map attempt started at event `started`, if it
    /// did: the iterations it aborted (in order) and whether the Map failed. A replay
    /// ends the attempt the same way, and runs only the iterations that ended on their own.
    pub(crate) fn map_end(&self, started: u64) -> Option<MapEnd> {
        let mut end = MapEnd::default();
        let mut at = started;
        loop {
            let next = self.followers.get(&at)?.iter().find_map(|&i| {
                let event = &self.events[i];
                match &event.details {
                    EventDetails::MapIterationAborted { index, .. } => Some((event.id, Some(*index), false)),
                    EventDetails::MapStateFailed => Some((event.id, None, true)),
                    EventDetails::MapStateSucceeded => Some((event.id, None, false)),
                    _ => None,
                }
            })?;
            match next {
                (id, Some(index), _) => {
                    end.aborted.push(index);
                    at = id;
                }
                (_, None, failed) => {
                    end.failed = failed;
                    end.ran = self.followers[&started]
                        .iter()
                        .filter_map(|&i| match &self.events[i].details {
                            EventDetails::MapIterationStarted { index, .. } if !end.aborted.contains(index) => {
                                Some(*index)
                            }
                            _ => None,
                        })
                        .collect();
                    return Some(end);
                }
            }
        }
    }

    /// The item count of the stored `MapStateStarted` that follows event `previous`.
    pub(crate) fn map_length(&self, previous: u64) -> Option<usize> {
        self.followers.get(&previous)?.iter().find_map(|&i| match self.events[i].details {
            EventDetails::MapStateStarted { length } => Some(length),
            _ => None,
        })
    }

    /// True when the stored history ended the Map Run started at event `started`
    /// (`MapRunSucceeded` or `MapRunFailed` kept): its children are as they ended, and a
    /// redrive does not run them again.
    pub(crate) fn map_run_ended(&self, started: u64) -> bool {
        self.followers.get(&started).is_some_and(|followers| {
            followers.iter().any(|&i| match self.events[i].details {
                EventDetails::MapRunSucceeded | EventDetails::MapRunFailed { .. } => true,
                // Its redrives come between its start and its end.
                EventDetails::MapRunRedriven { .. } => self.map_run_ended(self.events[i].id),
                _ => false,
            })
        })
    }

    /// How many times the execution was redriven after event `event_id`.
    pub(crate) fn redrives_after(&self, event_id: u64) -> u32 {
        let redriven = |e: &&HistoryEvent| matches!(e.details, EventDetails::ExecutionRedriven { .. });
        self.events.iter().filter(|e| e.id > event_id).filter(redriven).count() as u32
    }

    /// The stored `TaskSubmitted` output that follows `event_id` (a callback task's
    /// service call that already returned).
    pub(crate) fn submitted(&self, event_id: u64) -> Option<Value> {
        self.followers.get(&event_id)?.iter().find_map(|&i| match &self.events[i].details {
            EventDetails::TaskSubmitted { output, .. } => Some(Value::clone(output)),
            _ => None,
        })
    }

    /// The stored `ActivityStarted` that follows `event_id`: the worker's name.
    pub(crate) fn activity_started(&self, event_id: u64) -> Option<Option<String>> {
        self.followers.get(&event_id)?.iter().find_map(|&i| match &self.events[i].details {
            EventDetails::ActivityStarted { worker_name } => Some(worker_name.clone()),
            _ => None,
        })
    }

    /// The stored outcome of the task whose last event was `event_id`, if it finished.
    pub(crate) fn task_outcome(&self, event_id: u64) -> Option<Result<Value, StatesError>> {
        self.followers.get(&event_id)?.iter().find_map(|&i| match &self.events[i].details {
            EventDetails::TaskSucceeded { output, .. }
            | EventDetails::LambdaFunctionSucceeded { output }
            | EventDetails::ActivitySucceeded { output } => Some(Ok(Value::clone(output))),
            EventDetails::TaskFailed { error, cause, .. }
            | EventDetails::TaskTimedOut { error, cause, .. }
            | EventDetails::ActivityFailed { error, cause }
            | EventDetails::ActivityTimedOut { error, cause }
            | EventDetails::LambdaFunctionFailed { error, cause }
            | EventDetails::LambdaFunctionTimedOut { error, cause } => Some(Err(StatesError {
                error: ErrorName::parse(error.as_deref().unwrap_or_default()),
                cause: cause.clone(),
            })),
            _ => None,
        })
    }
}

/// For each event: the `Entered` event of the state it belongs to, the Map or Parallel
/// `Entered` it runs inside, and which `Entered` events reached their `Exited`.
#[derive(Default)]
struct Ownership {
    owner: HashMap<u64, u64>,
    enclosing: HashMap<u64, u64>,
    finished: HashSet<u64>,
}

impl Ownership {
    /// A state's Exited event follows the last event of that state, not its Entered event,
    /// so walk each thread: an Entered is finished when its thread reaches a matching Exited.
    fn of(events: &[HistoryEvent]) -> Ownership {
        let by_id: HashMap<u64, &HistoryEvent> = events.iter().map(|e| (e.id, e)).collect();
        let mut o = Ownership::default();
        for event in events {
            let previous = event.previous_event_id;
            // A branch's first event starts a thread inside the Parallel; the Parallel's own
            // end (which also follows its start) does not.
            // (A branch starts with an Entered event: an Exited right after the start is the
            // Parallel's own.)
            let own_end = matches!(
                event.details,
                EventDetails::ParallelStateSucceeded
                    | EventDetails::ParallelStateFailed
                    | EventDetails::ParallelStateAborted
                    | EventDetails::StateExited { .. }
            );
            let starts_child = !own_end
                && by_id.get(&previous).is_some_and(|p| {
                    matches!(p.details, EventDetails::MapIterationStarted { .. } | EventDetails::ParallelStateStarted)
                });
            let around = if starts_child { o.owner.get(&previous) } else { o.enclosing.get(&previous) }.copied();
            if let Some(around) = around {
                o.enclosing.insert(event.id, around);
            }
            let own = match &event.details {
                EventDetails::StateEntered { .. } => Some(event.id),
                _ => o.owner.get(&previous).copied(),
            };
            match (own, &event.details) {
                (Some(entered), EventDetails::StateExited { .. }) => {
                    o.finished.insert(entered);
                }
                (Some(entered), _) => {
                    o.owner.insert(event.id, entered);
                }
                _ => {}
            }
        }
        o
    }

    /// True when the event is inside a state that finished (a Map whose failure was
    /// caught, retried or tolerated): it belongs to a successful step.
    fn kept_by_success(&self, id: u64) -> bool {
        if self.owner.get(&id).is_some_and(|o| *o != id && self.finished.contains(o)) {
            return true;
        }
        let mut around = self.enclosing.get(&id).copied();
        while let Some(container) = around {
            if self.finished.contains(&container) {
                return true;
            }
            around = self.enclosing.get(&container).copied();
        }
        false
    }
}

/// Marks what a redrive runs again, following AWS: "a state is unsuccessful if there's no
/// `<stateType>Exited` event corresponding to the `<stateType>Entered` event". An
/// unsuccessful Map or Parallel state keeps its successful iterations and branches; any
/// other unsuccessful state is dropped from its `Entered` event on, with every event that
/// follows from it. The events that ended the attempt are dropped too.
fn exclude_unsuccessful(events: &[HistoryEvent], excluded: &mut [bool]) {
    let ownership = Ownership::of(events);
    let index: HashMap<u64, usize> = events.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    for (i, event) in events.iter().enumerate() {
        let parent_dropped = index.get(&event.previous_event_id).is_some_and(|&p| excluded[p]);
        let ends_attempt = matches!(
            event.details,
            EventDetails::ExecutionFailed { .. }
                | EventDetails::ExecutionTimedOut { .. }
                | EventDetails::ExecutionAborted { .. }
                | EventDetails::MapIterationFailed { .. }
                | EventDetails::MapIterationAborted { .. }
                | EventDetails::MapStateFailed
                | EventDetails::MapRunFailed { .. }
                | EventDetails::MapRunAborted
                | EventDetails::ParallelStateFailed
        );
        let unfinished_simple_state = match &event.details {
            EventDetails::StateEntered { state_type, .. } => {
                !matches!(state_type, StateType::Map | StateType::Parallel) && !ownership.finished.contains(&event.id)
            }
            _ => false,
        };
        if parent_dropped || ((ends_attempt || unfinished_simple_state) && !ownership.kept_by_success(event.id)) {
            excluded[i] = true;
        }
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
