//! Engine behaviour with a scripted fake adapter and virtual time: no test sleeps for real,
//! and every timestamp is exact.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sfnlite_engine::HistoryStore;
use sfnlite_engine::clock::BoxFuture;
use sfnlite_engine::{
    Engine, ExecutionStatus, MemoryStore, Outcome, Registry, StartRequest, TaskAdapter, TaskRequest, VirtualClock,
};
use sfnlite_states::history::{EventDetails, HistoryEvent, Payload};
use sfnlite_states::{ErrorName, StatesError, parse_definition};

#[path = "../../fuzz/src/targets.rs"]
#[allow(unreachable_pub, dead_code)]
mod fuzz_targets;

mod fuzz_corpus;

const EPOCH: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/// One scripted step of the fake adapter.
#[derive(Clone)]
enum Step {
    /// Succeed with this value after this many virtual milliseconds.
    Ok(Value, u64),
    /// Fail with this error.
    Err(&'static str),
}

/// Answers each state's invocations from a script; tracks concurrency and cancellations.
#[derive(Default)]
struct FakeAdapter {
    scripts: Mutex<HashMap<String, Vec<Step>>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    cancelled: AtomicUsize,
    invocations: AtomicUsize,
}

impl FakeAdapter {
    fn script(self, state: &str, steps: Vec<Step>) -> FakeAdapter {
        self.scripts.lock().unwrap().insert(state.to_owned(), steps);
        self
    }
}

struct Guard<'a>(&'a FakeAdapter, bool);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl TaskAdapter for FakeAdapter {
    fn name(&self) -> &str {
        "fake"
    }

    fn handles(&self, _state: &str, _resource: &sfnlite_states::resource::Resource) -> bool {
        true
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        self.invocations.fetch_add(1, Ordering::SeqCst);
        let step = {
            let mut scripts = self.scripts.lock().unwrap();
            let script = scripts.get_mut(&request.state_name).expect("scripted state");
            if script.len() > 1 { script.remove(0) } else { script[0].clone() }
        };
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let mut guard = Guard(self, false);
            let result = match step {
                Step::Ok(value, delay) => {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    let mut value = value;
                    if value == json!("echo") {
                        value = Value::clone(&request.parameters);
                    }
                    Ok(value)
                }
                Step::Err(name) => Err(StatesError::new(ErrorName::parse(name), format!("{name} from fake"))),
            };
            guard.1 = true;
            result
        })
    }
}

async fn run(definition: Value, input: Value, adapter: Arc<FakeAdapter>) -> (Outcome, Vec<HistoryEvent>) {
    let (machine, diagnostics) = parse_definition(&definition.to_string());
    let machine = machine.unwrap_or_else(|| panic!("invalid definition: {diagnostics:?}"));
    let mut registry = Registry::new();
    registry.register(adapter);
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(registry, Arc::new(VirtualClock::starting_at(EPOCH)), store.clone());
    let request = StartRequest {
        state_machine_name: "test".into(),
        definition: definition.to_string(),
        execution_name: "exec".into(),
        input,
        seed: 7,
        virtual_clock: true,
        origin: Default::default(),
    };
    let (info, outcome) = engine.run(&machine, request, std::future::pending()).await.expect("engine runs");
    let events = store.events(&info.arn).unwrap();
    (outcome, events)
}

fn types(events: &[HistoryEvent]) -> Vec<String> {
    events.iter().map(|e| e.details.type_name()).collect()
}

fn task(resource: &str) -> Value {
    json!({"Type": "Task", "Resource": resource, "End": true})
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_is_exact_in_virtual_time() {
    let mut state = task("arn:aws:states:::lambda:invoke");
    state["Retry"] = json!([{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}]);
    let definition = json!({"StartAt": "T", "States": {"T": state}});
    let adapter = Arc::new(
        FakeAdapter::default().script("T", vec![Step::Err("Boom"), Step::Err("Boom"), Step::Ok(json!({"ok": 1}), 0)]),
    );
    let (outcome, events) = run(definition, json!({}), adapter).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!({"ok": 1})));
    let scheduled: Vec<i64> = events
        .iter()
        .filter(|e| matches!(e.details, EventDetails::TaskScheduled { .. }))
        .map(|e| e.timestamp - EPOCH)
        .collect();
    assert_eq!(scheduled, vec![0, 2_000, 8_000], "2 s, then 2 × 3 = 6 s later");
    assert_eq!(outcome.stop_millis - outcome.start_millis, 8_000);
}

#[tokio::test(start_paused = true)]
async fn retries_exhausted_then_caught_with_result_path() {
    let mut state = task("arn:aws:states:::lambda:invoke");
    state["Retry"] = json!([{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1, "IntervalSeconds": 1}]);
    state["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}]);
    let definition = json!({"StartAt": "T", "States": {"T": state, "Handled": {"Type": "Succeed"}}});
    let adapter = Arc::new(FakeAdapter::default().script("T", vec![Step::Err("Lambda.Unknown")]));
    let (outcome, events) = run(definition, json!({"keep": true}), adapter).await;
    assert_eq!(
        outcome.output,
        Some(json!({"keep": true, "error": {"Error": "Lambda.Unknown", "Cause": "Lambda.Unknown from fake"}}))
    );
    let failed = events.iter().filter(|e| matches!(e.details, EventDetails::TaskFailed { .. })).count();
    assert_eq!(failed, 2, "one attempt and one retry");
    // Event ids are consecutive and every event follows an earlier one.
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.id, i as u64 + 1);
        assert!(event.previous_event_id < event.id);
    }
}

#[tokio::test(start_paused = true)]
async fn wait_of_an_hour_moves_virtual_time_exactly() {
    let definition = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {"at.$": "$$.State.EnteredTime"}, "End": true}
    }});
    let (outcome, events) = run(definition, json!({}), Arc::new(FakeAdapter::default())).await;
    assert_eq!(outcome.output, Some(json!({"at": "2026-01-01T01:00:00.000Z"})));
    assert_eq!(events.last().unwrap().timestamp - EPOCH, 3_600_000);
}

#[tokio::test(start_paused = true)]
async fn map_honours_max_concurrency_and_keeps_index_order() {
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 3,
        "ItemProcessor": {"StartAt": "T", "States": {"T": task("arn:aws:states:::lambda:invoke")}},
        "End": true
    }}});
    // Later items finish first: results must still be in index order.
    let steps = (0..10).map(|i| Step::Ok(json!(i), 1000 - i * 100)).collect();
    let adapter = Arc::new(FakeAdapter::default().script("T", steps));
    let (outcome, events) = run(definition, json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), adapter.clone()).await;
    assert_eq!(outcome.output, Some(json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])));
    assert_eq!(adapter.max_in_flight.load(Ordering::SeqCst), 3);
    let started = types(&events).iter().filter(|t| *t == "MapIterationStarted").count();
    assert_eq!(started, 10);
}

#[tokio::test(start_paused = true)]
async fn unbounded_map_finishes_iterations_that_never_wait_one_by_one() {
    // Past tokio's cooperative budget (128 states), iterations used to stop at their first
    // state and wait, so all 2,000 were alive at once and their events interleaved.
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 0,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true
    }}});
    let items: Vec<u64> = (0..2000).collect();
    let (outcome, events) = run(definition, json!(items), Arc::new(FakeAdapter::default())).await;
    assert_eq!(outcome.output, Some(json!(items)));
    let kinds = types(&events);
    let first = kinds.iter().position(|t| t == "MapIterationStarted").unwrap();
    for (i, chunk) in kinds[first..first + 4 * items.len()].chunks(4).enumerate() {
        assert_eq!(
            chunk,
            ["MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded"],
            "iteration {i}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn unbounded_map_runs_everything_at_once() {
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 0,
        "ItemProcessor": {"StartAt": "T", "States": {"T": task("arn:aws:states:::lambda:invoke")}},
        "End": true
    }}});
    let adapter = Arc::new(FakeAdapter::default().script("T", vec![Step::Ok(json!("echo"), 50)]));
    // A thousand: well past tokio's cooperative budget, which the Map yields to (see
    // `unbounded_map_finishes_iterations_that_never_wait_one_by_one`).
    let items: Vec<u64> = (0..1000).collect();
    let (outcome, _) = run(definition, json!(items), adapter.clone()).await;
    assert_eq!(outcome.output, Some(json!(items)));
    assert_eq!(adapter.max_in_flight.load(Ordering::SeqCst), 1000);
    assert_eq!(outcome.stop_millis - outcome.start_millis, 50);
}

#[tokio::test(start_paused = true)]
async fn failing_parallel_branch_cancels_the_others() {
    let definition = json!({"StartAt": "P", "States": {"P": {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "Slow", "States": {"Slow": task("arn:aws:states:::lambda:invoke")}},
            {"StartAt": "Fails", "States": {"Fails": task("arn:aws:states:::lambda:invoke")}}
        ],
        "End": true
    }}});
    let adapter = Arc::new(
        FakeAdapter::default().script("Slow", vec![Step::Ok(json!(1), 60_000)]).script("Fails", vec![Step::Err("Bad")]),
    );
    let (outcome, events) = run(definition, json!({}), adapter.clone()).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("Bad"));
    assert_eq!(adapter.cancelled.load(Ordering::SeqCst), 1, "the slow branch's task was dropped");
    assert_eq!(outcome.stop_millis - outcome.start_millis, 0);
    assert!(types(&events).contains(&"ParallelStateFailed".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn parallel_results_are_in_branch_order() {
    let branch = |name: &str| json!({"StartAt": name, "States": {name: task("arn:aws:states:::lambda:invoke")}});
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch("A"), branch("B")], "End": true}}});
    let adapter = Arc::new(
        FakeAdapter::default().script("A", vec![Step::Ok(json!("a"), 500)]).script("B", vec![Step::Ok(json!("b"), 10)]),
    );
    let (outcome, _) = run(definition, json!({}), adapter).await;
    assert_eq!(outcome.output, Some(json!(["a", "b"])));
}

#[tokio::test(start_paused = true)]
async fn task_timeout_raises_states_timeout() {
    let mut state = task("arn:aws:states:::lambda:invoke");
    state["TimeoutSeconds"] = json!(5);
    state["Catch"] = json!([{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"}, {"ErrorEquals": ["States.Timeout"], "Next": "Right"}]);
    let definition = json!({"StartAt": "T", "States": {
        "T": state,
        "Wrong": {"Type": "Fail", "Error": "TaskFailedMatchedTimeout"},
        "Right": {"Type": "Pass", "End": true}
    }});
    let adapter = Arc::new(FakeAdapter::default().script("T", vec![Step::Ok(json!(1), 100_000)]));
    let (outcome, events) = run(definition, json!({}), adapter).await;
    assert_eq!(outcome.output, Some(json!({"Error": "States.Timeout"})));
    assert_eq!(outcome.stop_millis - outcome.start_millis, 5_000);
    assert!(types(&events).contains(&"TaskTimedOut".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_ends_timed_out() {
    let definition =
        json!({"TimeoutSeconds": 10, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let (outcome, events) = run(definition, json!({}), Arc::new(FakeAdapter::default())).await;
    assert_eq!(outcome.status, ExecutionStatus::TimedOut);
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert_eq!(outcome.stop_millis - outcome.start_millis, 10_000);
    assert_eq!(types(&events).last().map(String::as_str), Some("ExecutionTimedOut"));
}

#[tokio::test(start_paused = true)]
async fn history_has_the_aws_shape() {
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": {"n": 1}, "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution", "Parameters": {"n.$": "$.n"}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "S"}], "Default": "F"},
        "F": {"Type": "Fail", "Error": "Unexpected"},
        "S": {"Type": "Succeed"}
    }});
    let adapter = Arc::new(FakeAdapter::default().script("T", vec![Step::Ok(json!("echo"), 0)]));
    let (_, events) = run(definition, json!({}), adapter).await;
    let history = sfnlite_engine::history_json(&events);
    insta::assert_json_snapshot!(history);
}

/// The same contract for every store: records round-trip, events come back in id order.
fn store_contract(store: &dyn HistoryStore) {
    use sfnlite_engine::{ExecutionRecord, ExecutionStatus, StateMachineRecord};
    let machine = StateMachineRecord::new("m", r#"{"StartAt": "P"}"#);
    store.put_state_machine(&machine).unwrap();
    assert_eq!(store.state_machine(&machine.hash).unwrap(), Some(machine.clone()));
    let mut record = ExecutionRecord {
        arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        name: "e".into(),
        state_machine_name: "m".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        definition_hash: machine.hash.clone(),
        input: json!({"a": 1}),
        status: ExecutionStatus::Running,
        output: None,
        error: None,
        cause: None,
        start_millis: EPOCH,
        stop_millis: None,
        seed: 3,
        virtual_clock: false,
        redrive_count: 0,
        origin: Default::default(),
    };
    store.put_execution(&record).unwrap();
    record.status = ExecutionStatus::Succeeded;
    // Payloads large enough that a store keeps the record in chunks (over 16 KiB).
    record.output = Some(json!({"rows": vec!["x".repeat(100); 400]}));
    store.put_execution(&record).unwrap();
    assert_eq!(store.execution(&record.arn).unwrap(), Some(record.clone()));
    assert_eq!(store.executions().unwrap(), vec![record.clone()]);
    // A value nested deeper than serde_json's default limit (128) reads back.
    let mut deep = json!(1);
    for _ in 0..1000 {
        deep = json!({"a": deep});
    }
    let mut deep_record = record.clone();
    deep_record.input = deep.clone();
    store.put_execution(&deep_record).unwrap();
    assert_eq!(store.execution(&record.arn).unwrap(), Some(deep_record));
    store.put_execution(&record).unwrap();
    // Listings read every record without its payloads.
    let summary = store.execution_summaries().unwrap();
    assert_eq!(summary, vec![record.clone().without_payloads()]);
    assert_eq!((summary[0].input.clone(), summary[0].output.clone()), (Value::Null, None));
    let event = |id: u64| HistoryEvent {
        id,
        previous_event_id: id - 1,
        timestamp: EPOCH + id as i64,
        details: EventDetails::StateEntered {
            state_type: sfnlite_states::history::StateType::Pass,
            name: "P".into(),
            input: Payload::new(json!({"n": id})),
        },
    };
    // Ids past 255 check that keys sort numerically.
    store.append(&record.arn, (1..=300).map(event).collect()).unwrap();
    store.append(&record.arn, vec![event(301)]).unwrap();
    let events = store.events(&record.arn).unwrap();
    assert_eq!(events.len(), 301);
    assert!(events.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1));
    assert_eq!(events[299], event(300));
    let mut deep_event = event(302);
    deep_event.details = EventDetails::StateEntered {
        state_type: sfnlite_states::history::StateType::Pass,
        name: "P".into(),
        input: Payload::new(deep),
    };
    store.append(&record.arn, vec![deep_event.clone()]).unwrap();
    assert_eq!(store.events(&record.arn).unwrap().last(), Some(&deep_event));
    assert!(store.events("arn:other").unwrap().is_empty());
    // Documents: by kind and key, listed in key order, kinds kept apart.
    store.put_document("activity", "arn:b", &json!({"n": 2})).unwrap();
    store.put_document("activity", "arn:a", &json!({"n": 1})).unwrap();
    store.put_document("activityX", "arn:c", &json!({"n": 3})).unwrap();
    store.put_document("activity", "arn:a", &json!({"n": 10})).unwrap();
    assert_eq!(store.document("activity", "arn:a").unwrap(), Some(json!({"n": 10})));
    let listed = store.documents("activity").unwrap();
    assert_eq!(listed, vec![("arn:a".to_owned(), json!({"n": 10})), ("arn:b".to_owned(), json!({"n": 2}))]);
    store.delete_document("activity", "arn:a").unwrap();
    store.delete_document("activity", "arn:none").unwrap();
    assert_eq!(store.document("activity", "arn:a").unwrap(), None);
    assert_eq!(store.documents("activityX").unwrap().len(), 1);
}

#[test]
fn memory_store_contract() {
    store_contract(&MemoryStore::new());
}

#[test]
fn sled_store_contract_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = sfnlite_engine::SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
    store_contract(&store);
    drop(store);
    let reopened = sfnlite_engine::SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
    assert_eq!(reopened.executions().unwrap().len(), 1, "records survive a reopen");
}

#[tokio::test(start_paused = true)]
async fn map_fails_when_either_tolerance_is_exceeded() {
    let map = |count: u64, percentage: u64| {
        json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "MaxConcurrency": 1,
            "ToleratedFailureCount": count, "ToleratedFailurePercentage": percentage,
            "ItemProcessor": {"StartAt": "T", "States": {"T": task("arn:aws:states:::lambda:invoke")}},
            "End": true
        }}})
    };
    let script = || {
        let mut steps: Vec<Step> = (0..10).map(|_| Step::Ok(json!("ok"), 0)).collect();
        steps[3] = Step::Err("Bad");
        steps[7] = Step::Err("Bad");
        Arc::new(FakeAdapter::default().script("T", steps))
    };
    let items = json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Two failures of ten: within a count of 5, over a percentage of 10.
    let (outcome, _) = run(map(5, 10), items.clone(), script()).await;
    assert_eq!(outcome.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    // Within both: the failed items' results are their errors.
    let (outcome, _) = run(map(5, 50), items, script()).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    let output = outcome.output.unwrap();
    assert_eq!(output[3], json!({"Error": "Bad", "Cause": "Bad from fake"}));
    assert_eq!(output[4], json!("ok"));
}

/// A loop of states that never wait still yields, so the execution's timeout fires (an
/// EXPRESS execution: a STANDARD one would reach its 25,000 events first).
#[tokio::test]
async fn a_loop_that_never_waits_still_times_out() {
    let definition = json!({"TimeoutSeconds": 1, "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.done", "IsPresent": true, "Next": "E"}], "Default": "A"},
        "E": {"Type": "Succeed"}
    }});
    let (machine, _) = parse_definition(&definition.to_string());
    let engine = Engine::new(Registry::new(), Arc::new(sfnlite_engine::SystemClock), Arc::new(MemoryStore::new()));
    let request = StartRequest {
        state_machine_name: "spin".into(),
        definition: definition.to_string(),
        execution_name: "spin".into(),
        input: json!({}),
        seed: 1,
        virtual_clock: false,
        origin: sfnlite_engine::ExecutionOrigin { sync_express: true, ..Default::default() },
    };
    let (_, outcome) = engine.run(&machine.unwrap(), request, std::future::pending()).await.unwrap();
    assert_eq!(outcome.status, ExecutionStatus::TimedOut);
}

/// A clock that moves a millisecond each time it is read.
struct TickingClock(std::sync::atomic::AtomicI64);

impl sfnlite_engine::Clock for TickingClock {
    fn now_millis(&self) -> i64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
    fn sleep_until(&self, _deadline: i64) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[tokio::test]
async fn the_stop_date_is_the_last_events_timestamp() {
    let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    let (machine, _) = parse_definition(&definition.to_string());
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(Registry::new(), Arc::new(TickingClock(EPOCH.into())), store.clone());
    let request = StartRequest {
        state_machine_name: "m".into(),
        definition: definition.to_string(),
        execution_name: "e".into(),
        input: json!({}),
        seed: 1,
        virtual_clock: false,
        origin: Default::default(),
    };
    let (info, outcome) = engine.run(&machine.unwrap(), request, std::future::pending()).await.unwrap();
    let arn = info.arn;
    let events = store.events(&arn).unwrap();
    let last = events.last().unwrap();
    assert_eq!(outcome.stop_millis, last.timestamp);
    assert_eq!(store.execution(&arn).unwrap().unwrap().stop_millis, Some(last.timestamp));
}

const STORED_ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:m:e";

/// A store holding a RUNNING execution of `definition` whose history is `events`.
fn stored_history(definition: &Value, events: Vec<HistoryEvent>) -> Arc<MemoryStore> {
    use sfnlite_engine::{ExecutionRecord, StateMachineRecord};
    let store = Arc::new(MemoryStore::new());
    let machine = StateMachineRecord::new("m", &definition.to_string());
    store.put_state_machine(&machine).unwrap();
    let record = ExecutionRecord {
        arn: STORED_ARN.to_owned(),
        name: "e".into(),
        state_machine_name: "m".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        definition_hash: machine.hash.clone(),
        input: json!({}),
        status: ExecutionStatus::Running,
        output: None,
        error: None,
        cause: None,
        start_millis: EPOCH,
        stop_millis: None,
        seed: 1,
        virtual_clock: true,
        redrive_count: 0,
        origin: Default::default(),
    };
    store.put_execution(&record).unwrap();
    store.append(STORED_ARN, events).unwrap();
    store
}

/// A store holding a RUNNING execution of `definition` whose history is `events` (ids
/// from 1, each after the one before, all at EPOCH).
fn stored_execution(definition: &Value, events: Vec<EventDetails>) -> Arc<MemoryStore> {
    let events = events
        .into_iter()
        .zip(1u64..)
        .map(|(details, id)| HistoryEvent { id, previous_event_id: id - 1, timestamp: EPOCH, details })
        .collect();
    stored_history(definition, events)
}

fn entered(state_type: sfnlite_states::history::StateType, name: &str, input: &Payload) -> EventDetails {
    EventDetails::StateEntered { state_type, name: name.into(), input: input.clone() }
}

/// The names of the states an execution entered, in order.
fn entered_names(store: &MemoryStore, arn: &str) -> Vec<String> {
    let events = store.events(arn).unwrap();
    events
        .iter()
        .filter_map(|e| match &e.details {
            EventDetails::StateEntered { name, .. } => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

/// A request to start execution `e` of machine `m` running `definition` on virtual time.
fn start_request(definition: &Value) -> StartRequest {
    StartRequest {
        state_machine_name: "m".into(),
        definition: definition.to_string(),
        execution_name: "e".into(),
        input: json!({}),
        seed: 1,
        virtual_clock: true,
        origin: Default::default(),
    }
}

/// The history of `make_nap_done` up to Make's exit with `output`.
fn made(output: &Payload) -> Vec<EventDetails> {
    use sfnlite_states::history::StateType;
    vec![
        EventDetails::ExecutionStarted { input: Payload::new(json!({})), role_arn: "r".into() },
        entered(StateType::Pass, "Make", &Payload::new(json!({}))),
        EventDetails::StateExited {
            state_type: StateType::Pass,
            name: "Make".into(),
            output: output.clone(),
            assigned_variables: None,
        },
    ]
}

fn make_nap_done() -> Value {
    json!({"StartAt": "Make", "States": {
        "Make": {"Type": "Pass", "Parameters": {"id.$": "States.UUID()"}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 5, "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}
    }})
}

/// A resumed execution continues from the outputs in its history, not from recomputed ones
/// (which may differ: UUIDs, random numbers, the time).
#[tokio::test(start_paused = true)]
async fn resume_adopts_stored_state_outputs() {
    use sfnlite_states::history::StateType;
    let stored = Payload::new(json!({"id": "recorded-before-the-crash"}));
    let store =
        stored_execution(&make_nap_done(), [made(&stored), vec![entered(StateType::Wait, "Nap", &stored)]].concat());
    let engine = Engine::new(Registry::new(), Arc::new(VirtualClock::starting_at(EPOCH + 2_000)), store.clone());
    let (_, outcome) = engine.resume(STORED_ARN, std::future::pending()).await.unwrap();
    assert_eq!(outcome.output, Some(json!({"id": "recorded-before-the-crash"})));
    assert_eq!(outcome.stop_millis - EPOCH, 5_000, "the Wait slept only what remained");
    let events = store.events(STORED_ARN).unwrap();
    assert_eq!(events.len(), 8, "4 stored, then WaitStateExited, Done entered/exited, ExecutionSucceeded");
}

/// A history that the definition cannot have produced stops the resume with a named
/// error; nothing is appended and the execution stays RUNNING.
#[tokio::test(start_paused = true)]
async fn resume_refuses_a_history_it_cannot_explain() {
    use sfnlite_engine::EngineError;
    use sfnlite_states::history::StateType;
    let output = Payload::new(json!({"id": "x"}));
    let store =
        stored_execution(&make_nap_done(), [made(&output), vec![entered(StateType::Pass, "Done", &output)]].concat());
    let engine = Engine::new(Registry::new(), Arc::new(VirtualClock::starting_at(EPOCH)), store.clone());
    let error = engine.resume(STORED_ARN, std::future::pending()).await.unwrap_err();
    let EngineError::Diverged { arn, divergence } = &error else { panic!("{error}") };
    assert_eq!(arn, STORED_ARN);
    assert_eq!((divergence.previous, divergence.recorded.as_str()), (3, "WaitStateEntered 'Nap'"));
    assert_eq!(divergence.stored, vec!["PassStateEntered 'Done'".to_owned()]);
    assert_eq!(store.events(STORED_ARN).unwrap().len(), 4, "nothing was appended");
    assert_eq!(store.execution(STORED_ARN).unwrap().unwrap().status, ExecutionStatus::Running);
}

/// The 256 KiB quota applies to a Map's collected results, not only to each iteration's.
#[tokio::test(start_paused = true)]
async fn map_results_over_the_payload_quota_fail() {
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": "x".repeat(1024), "End": true}}},
        "End": true
    }}});
    let items = Value::Array((0..300).map(|i| json!(i)).collect());
    let (outcome, _) = run(definition, items, Arc::new(FakeAdapter::default())).await;
    assert_eq!(outcome.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(
        outcome.cause.as_deref(),
        Some("The state/task 'M' returned a result with a size exceeding the maximum number of bytes service limit.")
    );
}

/// A Map whose failure aborted iterations that were still waiting is replayed as it was
/// recorded: a resume after the Map ended neither diverges nor runs the aborted
/// iterations' tasks again.
#[tokio::test(start_paused = true)]
async fn resume_replays_a_caught_map_failure_as_recorded() {
    let definition = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "Nap", "States": {
            "Nap": {"Type": "Wait", "SecondsPath": "$.d", "Next": "Work"},
            "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
         "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "After"}], "Next": "After"},
        "After": {"Type": "Wait", "Seconds": 10, "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}
    }});
    let input = json!({"items": [{"d": 5}, {"d": 1}, {"d": 5}]});
    let adapter = Arc::new(FakeAdapter::default().script("Work", vec![Step::Err("Boom")]));
    let (outcome, events) = run(definition.clone(), input.clone(), adapter.clone()).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(adapter.invocations.load(Ordering::SeqCst), 1, "only the short iteration reached its task");
    let aborted: Vec<&HistoryEvent> =
        events.iter().filter(|e| matches!(e.details, EventDetails::MapIterationAborted { .. })).collect();
    assert_eq!(aborted.len(), 2, "{:?}", types(&events));
    // The process died during the Wait after the Map: keep the history up to its entry.
    let cut = events
        .iter()
        .position(|e| matches!(&e.details, EventDetails::StateEntered { name, .. } if &**name == "After"))
        .unwrap();
    let mut record_input = events.clone();
    record_input.truncate(cut + 1);
    let store = stored_history(&definition, record_input);
    let mut record = store.execution(STORED_ARN).unwrap().unwrap();
    record.input = input;
    store.put_execution(&record).unwrap();
    let resumed = Arc::new(FakeAdapter::default().script("Work", vec![Step::Err("Boom")]));
    let mut registry = Registry::new();
    registry.register(resumed.clone());
    let engine = Engine::new(registry, Arc::new(VirtualClock::starting_at(events[cut].timestamp)), store.clone());
    let (_, outcome) = engine.resume(STORED_ARN, std::future::pending()).await.expect("no divergence");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(resumed.invocations.load(Ordering::SeqCst), 0, "aborted iterations are not run again");
    let after = store.events(STORED_ARN).unwrap();
    assert_eq!(types(&after), types(&events), "the resumed history is the uninterrupted one");
}

/// A redrive replays the path the first attempt took, even where re-evaluating a Choice
/// now would go elsewhere (`$$.Execution.RedriveCount` changed).
#[tokio::test(start_paused = true)]
async fn redrive_keeps_the_recorded_choice() {
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "Setup"}], "Default": "Skip"},
        "Setup": {"Type": "Pass", "Next": "Work"},
        "Skip": {"Type": "Pass", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}
    }});
    let adapter =
        Arc::new(FakeAdapter::default().script("Work", vec![Step::Err("Boom"), Step::Ok(json!({"ok": true}), 0)]));
    let (machine, _) = parse_definition(&definition.to_string());
    let mut registry = Registry::new();
    registry.register(adapter.clone());
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(registry, Arc::new(VirtualClock::starting_at(EPOCH)), store.clone());
    let request = start_request(&definition);
    let (info, first) = engine.run(&machine.unwrap(), request, std::future::pending()).await.unwrap();
    assert_eq!(first.status, ExecutionStatus::Failed);
    let (_, redriven) = engine.redrive(&info.arn, std::future::pending()).await.expect("no divergence");
    assert_eq!(redriven.status, ExecutionStatus::Succeeded);
    let entered = entered_names(&store, &info.arn);
    assert_eq!(entered, vec!["C", "Setup", "Work", "Work"], "Skip was never entered");
}

/// A redrive whose replay diverges leaves the execution as it ended (its redrive counted),
/// so it is not stuck RUNNING.
#[tokio::test(start_paused = true)]
async fn a_diverged_redrive_restores_the_ended_execution() {
    use sfnlite_engine::EngineError;
    use sfnlite_states::history::StateType;
    let output = Payload::new(json!({}));
    let store = stored_execution(
        &make_nap_done(),
        [
            made(&output),
            vec![
                entered(StateType::Pass, "Done", &output),
                EventDetails::StateExited {
                    state_type: StateType::Pass,
                    name: "Done".into(),
                    output: output.clone(),
                    assigned_variables: None,
                },
                EventDetails::ExecutionFailed { error: Some("E".into()), cause: None },
            ],
        ]
        .concat(),
    );
    let mut record = store.execution(STORED_ARN).unwrap().unwrap();
    (record.status, record.error, record.stop_millis) = (ExecutionStatus::Failed, Some("E".into()), Some(EPOCH));
    store.put_execution(&record).unwrap();
    let engine = Engine::new(Registry::new(), Arc::new(VirtualClock::starting_at(EPOCH)), store.clone());
    let error = engine.redrive(STORED_ARN, std::future::pending()).await.unwrap_err();
    assert!(matches!(error, EngineError::Diverged { .. }), "{error}");
    let after = store.execution(STORED_ARN).unwrap().unwrap();
    assert_eq!((after.status, after.redrive_count, after.error.as_deref()), (ExecutionStatus::Failed, 1, Some("E")));
}

/// A redrive of a Choice whose chosen state failed reruns that state: the Choice is not
/// evaluated again (with RedriveCount 1 it would now choose its Default).
#[tokio::test(start_paused = true)]
async fn redrive_reruns_the_state_a_choice_chose() {
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "F"}], "Default": "Later"},
        "F": {"Type": "Fail", "Error": "Stop"},
        "Later": {"Type": "Succeed"}
    }});
    let (machine, _) = parse_definition(&definition.to_string());
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(Registry::new(), Arc::new(VirtualClock::starting_at(EPOCH)), store.clone());
    let request = start_request(&definition);
    let (info, first) = engine.run(&machine.unwrap(), request, std::future::pending()).await.unwrap();
    assert_eq!(first.status, ExecutionStatus::Failed);
    let (_, again) = engine.redrive(&info.arn, std::future::pending()).await.expect("no divergence");
    assert_eq!((again.status, again.error.as_deref()), (ExecutionStatus::Failed, Some("Stop")));
    let entered = entered_names(&store, &info.arn);
    assert_eq!(entered, vec!["C", "F", "F"]);
}

/// An execution record for the retention tests.
fn closed(
    name: &str,
    status: ExecutionStatus,
    stop: Option<i64>,
    map_run: Option<&str>,
) -> sfnlite_engine::ExecutionRecord {
    sfnlite_engine::ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:m:{name}"),
        name: name.into(),
        state_machine_name: "m".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        definition_hash: "h".into(),
        input: json!({}),
        status,
        output: None,
        error: None,
        cause: None,
        start_millis: stop.unwrap_or(EPOCH) - 1,
        stop_millis: stop,
        seed: 1,
        virtual_clock: false,
        redrive_count: 0,
        origin: sfnlite_engine::ExecutionOrigin { map_run: map_run.map(str::to_owned), ..Default::default() },
    }
}

#[test]
fn prune_removes_what_the_criteria_select_with_what_belongs_to_it() {
    use sfnlite_engine::{PruneCriteria, prune};
    let day = 86_400_000;
    let now = EPOCH + 100 * day;
    let store = MemoryStore::new();
    let run_arn = "arn:aws:states:us-east-1:123456789012:mapRun:m/parent:1";
    let records = [
        closed("old-ok", ExecutionStatus::Succeeded, Some(EPOCH), None),
        closed("old-failed", ExecutionStatus::Failed, Some(EPOCH), None),
        closed("new-failed", ExecutionStatus::Failed, Some(now - day), None),
        closed("running", ExecutionStatus::Running, None, None),
        closed("parent", ExecutionStatus::Succeeded, Some(EPOCH), None),
        // The parent's children: a recent failure goes with its old parent.
        closed("child-1", ExecutionStatus::Failed, Some(now - day), Some(run_arn)),
        closed("child-2", ExecutionStatus::Succeeded, Some(EPOCH), Some(run_arn)),
        // A grandchild (child-1 ran a distributed Map of its own) goes with them.
        closed("grandchild", ExecutionStatus::Succeeded, Some(EPOCH), Some("run:child-1")),
        // A family with a RUNNING grandchild stays whole.
        closed("busy", ExecutionStatus::Succeeded, Some(EPOCH), None),
        closed("busy-child", ExecutionStatus::Succeeded, Some(EPOCH), Some("run:busy")),
        closed("busy-grandchild", ExecutionStatus::Running, None, Some("run:busy-child")),
    ];
    for record in &records {
        store.put_execution(record).unwrap();
        store
            .append(
                &record.arn,
                vec![HistoryEvent {
                    id: 1,
                    previous_event_id: 0,
                    timestamp: EPOCH,
                    details: EventDetails::ExecutionSucceeded { output: Payload::new(json!({})) },
                }],
            )
            .unwrap();
    }
    let arn = |name: &str| format!("arn:aws:states:us-east-1:123456789012:execution:m:{name}");
    store.put_document(sfnlite_engine::MAP_RUN_KIND, run_arn, &json!({"executionArn": arn("parent")})).unwrap();
    for parent in ["child-1", "busy", "busy-child"] {
        let run = format!("run:{parent}");
        store.put_document(sfnlite_engine::MAP_RUN_KIND, &run, &json!({"executionArn": arn(parent)})).unwrap();
    }
    store.put_document(sfnlite_engine::TOKEN_KIND, "t1", &json!({"executionArn": arn("old-ok")})).unwrap();
    store.put_document(sfnlite_engine::TOKEN_KIND, "t2", &json!({"executionArn": arn("running")})).unwrap();
    store.put_document("logs", &format!("{}#000000000002", arn("old-ok")), &json!({})).unwrap();
    store.put_document("logs", &format!("{}#000000000002", arn("old-okay")), &json!({})).unwrap();
    let criteria = |age: Option<i64>, statuses: Vec<ExecutionStatus>, dry_run: bool| PruneCriteria {
        older_than_millis: age,
        statuses,
        dry_run,
        keyed_by_execution: vec!["logs".into()],
        naming_execution: Vec::new(),
    };
    let names = |report: &sfnlite_engine::PruneReport| {
        report.executions.iter().map(|a| a.rsplit(':').next().unwrap().to_owned()).collect::<Vec<_>>()
    };

    // A dry run reports and keeps everything.
    let report = prune(&store, &criteria(Some(90 * day), vec![], true), now).unwrap();
    assert_eq!(names(&report), ["old-ok", "old-failed", "parent", "child-1", "child-2", "grandchild"]);
    assert_eq!(store.executions().unwrap().len(), 11);
    // By status: the children of a parent that stays stay too.
    let report = prune(&store, &criteria(None, vec![ExecutionStatus::Failed], false), now).unwrap();
    assert_eq!(names(&report), ["old-failed", "new-failed"]);
    // By age: the parent takes its children, its Map Run, its tokens and logs.
    let report = prune(&store, &criteria(Some(90 * day), vec![], false), now).unwrap();
    assert_eq!(names(&report), ["old-ok", "parent", "child-1", "child-2", "grandchild"]);
    assert_eq!(report.documents, 4, "{report:?}");
    let left: Vec<String> = store.executions().unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(left, ["running", "busy", "busy-child", "busy-grandchild"]);
    assert!(store.events(&arn("old-ok")).unwrap().is_empty());
    assert_eq!(store.document(sfnlite_engine::MAP_RUN_KIND, run_arn).unwrap(), None);
    assert_eq!(store.documents(sfnlite_engine::TOKEN_KIND).unwrap().len(), 1);
    assert_eq!(store.documents("logs").unwrap().len(), 1, "a log of another execution whose ARN shares a prefix stays");
    // RUNNING executions are never removed.
    assert!(prune(&store, &criteria(None, vec![], false), now).unwrap().executions.is_empty());
}
