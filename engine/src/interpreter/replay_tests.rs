//! Replay's rules on hand-made histories: what a resume replays, what a redrive runs
//! again, and when a run has diverged.

use std::sync::Arc;

use serde_json::json;
use sfnlite_states::history::{EventDetails, HistoryEvent, Payload, StateType};

use super::{Lookup, Replay};

/// A history from (id, previous, details); timestamps are 10 × id.
fn history(events: Vec<(u64, u64, EventDetails)>) -> Vec<HistoryEvent> {
    events
        .into_iter()
        .map(|(id, previous, details)| HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp: id as i64 * 10,
            details,
        })
        .collect()
}

fn started() -> EventDetails {
    EventDetails::ExecutionStarted { input: Payload::new(json!({})), role_arn: "r".into() }
}

fn entered(kind: StateType, name: &str) -> EventDetails {
    EventDetails::StateEntered { state_type: kind, name: name.into(), input: Payload::new(json!({})) }
}

fn exited(kind: StateType, name: &str, output: serde_json::Value) -> EventDetails {
    EventDetails::StateExited {
        state_type: kind,
        name: name.into(),
        output: Payload::new(output),
        assigned_variables: None,
    }
}

fn failed() -> EventDetails {
    EventDetails::ExecutionFailed { error: Some("E".into()), cause: None }
}

fn iteration(index: usize, started: bool) -> EventDetails {
    if started {
        EventDetails::MapIterationStarted { name: "M".into(), index }
    } else {
        EventDetails::MapIterationSucceeded { name: "M".into(), index }
    }
}

fn replayed_id(lookup: Lookup<'_>) -> Option<u64> {
    match lookup {
        Lookup::Replayed(event) => Some(event.id),
        _ => None,
    }
}

#[test]
fn a_resume_replays_what_was_stored_and_goes_live_where_the_history_ends() {
    let replay = Replay::for_resume(history(vec![
        (1, 0, started()),
        (2, 1, entered(StateType::Pass, "A")),
        (3, 2, exited(StateType::Pass, "A", json!({"a": 1}))),
    ]));
    assert_eq!(replayed_id(replay.lookup(1, &entered(StateType::Pass, "A"))), Some(2));
    let (output, _) = replay.stored_exit(2, &Arc::from("A")).expect("stored");
    assert_eq!(**output, json!({"a": 1}));
    assert!(matches!(replay.lookup(3, &entered(StateType::Wait, "B")), Lookup::Live));
    assert_eq!((replay.max_id(), replay.attempt_start()), (3, Some(10)));
}

#[test]
fn a_different_event_where_the_history_goes_on_is_a_divergence() {
    let replay = Replay::for_resume(history(vec![
        (1, 0, started()),
        (2, 1, entered(StateType::Pass, "A")),
        (3, 2, exited(StateType::Pass, "A", json!({}))),
        (4, 3, entered(StateType::Pass, "B")),
    ]));
    let Lookup::Diverged(divergence) = replay.lookup(3, &entered(StateType::Pass, "C")) else { panic!("diverged") };
    assert_eq!(divergence.previous, 3);
    assert_eq!(divergence.recorded, "PassStateEntered 'C'");
    assert_eq!(divergence.stored, vec!["PassStateEntered 'B'".to_owned()]);
    assert_eq!(
        divergence.to_string(),
        "the replay diverged from the stored history after event 3: it records PassStateEntered 'C' where the history has PassStateEntered 'B'"
    );
    // A stop or the execution's timeout may come anywhere.
    let aborted = EventDetails::ExecutionAborted { error: None, cause: None };
    assert!(matches!(replay.lookup(3, &aborted), Lookup::Live));
}

#[test]
fn map_iterations_not_yet_started_go_live_beside_stored_ones() {
    let replay = Replay::for_resume(history(vec![
        (1, 0, started()),
        (2, 1, entered(StateType::Map, "M")),
        (3, 2, EventDetails::MapStateStarted { length: 3 }),
        (4, 3, iteration(0, true)),
        (5, 4, iteration(0, false)),
    ]));
    assert_eq!(replayed_id(replay.lookup(3, &iteration(0, true))), Some(4));
    assert!(matches!(replay.lookup(3, &iteration(1, true)), Lookup::Live));
    assert!(replay.continues_after(4));
    assert!(!replay.continues_after(5));
}

#[test]
fn a_redrive_reruns_the_failed_state_and_keeps_what_succeeded() {
    let scheduled = |n: u64| EventDetails::TaskScheduled {
        resource: sfnlite_states::resource::Resource::parse("arn:aws:states:::lambda:invoke").unwrap().history_form(),
        region: "us-east-1".into(),
        parameters: Payload::new(json!({"n": n})),
        timeout_seconds: None,
        heartbeat_seconds: None,
    };
    let replay = Replay::for_redrive(history(vec![
        (1, 0, started()),
        (2, 1, entered(StateType::Pass, "A")),
        (3, 2, exited(StateType::Pass, "A", json!({}))),
        (4, 3, entered(StateType::Task, "T")),
        (5, 4, scheduled(1)),
        (6, 5, failed()),
        (7, 6, EventDetails::ExecutionRedriven { redrive_count: 1 }),
    ]));
    assert_eq!(replayed_id(replay.lookup(2, &exited(StateType::Pass, "A", json!({})))), Some(3));
    assert!(matches!(replay.lookup(3, &entered(StateType::Task, "T")), Lookup::Live), "the failed state runs again");
    assert!(replay.task_outcome(5).is_none());
    assert_eq!(replay.attempt_start(), Some(70), "TimeoutSeconds counts from the redrive");
}

#[test]
fn a_redrive_keeps_the_successful_iterations_of_a_failed_map() {
    let replay = Replay::for_redrive(history(vec![
        (1, 0, started()),
        (2, 1, entered(StateType::Map, "M")),
        (3, 2, EventDetails::MapStateStarted { length: 2 }),
        (4, 3, iteration(0, true)),
        (5, 4, entered(StateType::Pass, "P")),
        (6, 5, exited(StateType::Pass, "P", json!(0))),
        (7, 6, iteration(0, false)),
        (8, 3, iteration(1, true)),
        (9, 8, entered(StateType::Fail, "F")),
        (10, 9, EventDetails::MapIterationFailed { name: "M".into(), index: 1 }),
        (11, 3, EventDetails::MapStateFailed),
        (12, 11, failed()),
    ]));
    assert_eq!(replayed_id(replay.lookup(3, &iteration(0, true))), Some(4));
    assert_eq!(replayed_id(replay.lookup(6, &iteration(0, false))), Some(7));
    assert_eq!(replayed_id(replay.lookup(3, &iteration(1, true))), Some(8), "the iteration itself is kept");
    assert!(matches!(replay.lookup(8, &entered(StateType::Fail, "F")), Lookup::Live), "its failed state reruns");
    assert!(matches!(replay.lookup(3, &EventDetails::MapStateSucceeded), Lookup::Live));
}

#[test]
fn stored_task_outcomes_are_read_back() {
    let replay = Replay::for_resume(history(vec![
        (1, 0, started()),
        (2, 1, entered(StateType::Task, "T")),
        (3, 2, EventDetails::LambdaFunctionStarted),
        (4, 3, EventDetails::LambdaFunctionFailed { error: Some("Boom".into()), cause: Some("c".into()) }),
    ]));
    let outcome = replay.task_outcome(3).expect("finished");
    let error = outcome.unwrap_err();
    assert_eq!((error.error.as_str(), error.cause.as_deref()), ("Boom", Some("c")));
}
