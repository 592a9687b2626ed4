//! A state entry's own events in a history (pure): those that follow from its
//! `StateEntered` event one after another (`previousEventId`), leaving the iterations and
//! branches a Map or Parallel starts to themselves, up to its `StateExited`. What
//! expectations (`states`) and coverage read.

use std::collections::HashMap;

use sfnlite_states::history::{EventDetails, HistoryEvent};

/// A history's events by the event they follow.
pub(crate) struct Threads<'e> {
    followers: HashMap<u64, Vec<&'e HistoryEvent>>,
}

impl<'e> Threads<'e> {
    pub(crate) fn of(events: &'e [HistoryEvent]) -> Threads<'e> {
        let mut followers: HashMap<u64, Vec<&HistoryEvent>> = HashMap::new();
        for event in events {
            followers.entry(event.previous_event_id).or_default().push(event);
        }
        Threads { followers }
    }

    /// The events that follow event `id` directly.
    pub(crate) fn after(&self, id: u64) -> &[&'e HistoryEvent] {
        self.followers.get(&id).map_or(&[], Vec::as_slice)
    }

    /// The entry's own events after its `StateEntered` event `entered`, up to and
    /// including its `StateExited` (or its last event, when it never exits).
    pub(crate) fn entry(&self, entered: u64) -> Vec<&'e HistoryEvent> {
        let mut own = Vec::new();
        let mut current = entered;
        while let Some(next) = self.after(current).iter().find(|e| {
            !matches!(e.details, EventDetails::StateEntered { .. } | EventDetails::MapIterationStarted { .. })
        }) {
            own.push(*next);
            if matches!(next.details, EventDetails::StateExited { .. }) {
                break;
            }
            current = next.id;
        }
        own
    }
}

/// Whether an event starts an attempt of its state (a service call, a Map or Parallel run).
pub(crate) fn starts_attempt(details: &EventDetails) -> bool {
    matches!(
        details,
        EventDetails::TaskScheduled { .. }
            | EventDetails::LambdaFunctionScheduled { .. }
            | EventDetails::ActivityScheduled { .. }
            | EventDetails::MapStateStarted { .. }
            | EventDetails::ParallelStateStarted
    )
}
