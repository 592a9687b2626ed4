//! One attempt of an inline Map state: iterations start as the concurrency limit allows,
//! each on a thread of its own; failures count against the tolerance, and once it is
//! exceeded the running iterations are aborted.

use std::sync::{Arc, Mutex};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;
use sfnlite_states::definition::{MapState, ProcessorMode};
use sfnlite_states::eval::context::MapItem;
use sfnlite_states::eval::items::ItemList;
use sfnlite_states::eval::map::{Tolerance, concurrency_limit, item_input, items};
use sfnlite_states::eval::{Env, Exit, shape_result};
use sfnlite_states::history::{EventDetails, Payload};
use sfnlite_states::{ErrorName, EvalError, StatesError};

use super::recovery::Entry;
use super::{Run, Thread};

/// Which iterations of a Map attempt are running (those are aborted when the Map fails).
struct Running(Mutex<Vec<bool>>);

impl Running {
    fn set(&self, index: usize, running: bool) {
        self.0.lock().unwrap_or_else(|e| e.into_inner())[index] = running;
    }

    fn indexes(&self) -> Vec<usize> {
        let running = self.0.lock().unwrap_or_else(|e| e.into_inner());
        running.iter().enumerate().filter_map(|(i, r)| r.then_some(i)).collect()
    }
}

/// What the iterations of a Map attempt produced so far. Failures count items: a failed
/// batch counts all of its items against the tolerance (AWS's rule is per item).
struct Tally {
    results: Vec<Value>,
    failures: usize,
    /// The items of each iteration (1, or a batch's).
    weights: Vec<usize>,
    /// The items of all iterations.
    items: usize,
}

impl<'a> Run<'a> {
    pub(super) async fn map_attempt(
        &self,
        map: &MapState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        if map.mode == ProcessorMode::Distributed {
            let plan = self.map_run_plan(map, entry, env).await?;
            return self.map_run(map, entry, env, plan, thread).await;
        }
        let mut items = items(entry.state, map, &entry.effective, env)?;
        let batched = map.item_batcher.is_some();
        let mut weights = vec![1; items.len()];
        let item_count = items.len();
        // With an ItemBatcher, each item is selected first and the batches are the iterations.
        if let Some(batcher) = &map.item_batcher {
            let execution = self.execution_context();
            let mut selected = ItemList::new();
            for (index, item) in items.iter().enumerate() {
                let input =
                    item_input(entry.state, map, &execution, &entry.effective, MapItem { index, value: item }, env)?;
                selected.push(input.as_deref().unwrap_or(item));
            }
            let (made, sizes) = super::items::batch(batcher, &selected, &entry.effective, env)?;
            items = (0..made.len())
                .map(|i| made.get(i).map(Payload::new))
                .collect::<Result<_, _>>()
                .map_err(EvalError::Raised)?;
            weights = sizes;
        }
        let total = items.len();
        let limit = concurrency_limit(map, &entry.effective, env, total)?;
        let tolerance = Tolerance::of(map, &entry.effective, env)?;
        thread.emit(EventDetails::MapStateStarted { length: total });
        let started = (thread.last, thread.last_time);
        let running = Running(Mutex::new(vec![false; total]));
        let mut tally = Tally { results: vec![Value::Null; total], failures: 0, weights, items: item_count };
        let variables = Arc::new(env.variables.clone());
        let iteration = |index: usize| {
            let (item, running, variables) = (&items[index], &running, &variables);
            async move {
                let mut iteration_thread = Thread::child(self, started, variables);
                running.set(index, true);
                let outcome = self.map_iteration(map, entry, env, (item, batched), index, &mut iteration_thread).await;
                running.set(index, false);
                let name = entry.state.name.clone();
                iteration_thread.emit(match &outcome {
                    Ok(_) => EventDetails::MapIterationSucceeded { name, index },
                    Err(_) => EventDetails::MapIterationFailed { name, index },
                });
                (index, outcome)
            }
        };
        // A replayed attempt that the stored history ended with a failure runs only the
        // iterations that ended on their own then, and ends as recorded (the iterations it
        // aborted depended on timing, which a replay does not reproduce).
        let stored_end = self.replay.as_ref().and_then(|r| r.map_end(started.0)).filter(|end| end.failed);
        let order: Vec<usize> =
            (0..total).filter(|i| stored_end.as_ref().is_none_or(|end| end.ran.contains(i))).collect();
        let mut pending = FuturesUnordered::new();
        let mut next = 0;
        let failure = loop {
            // Start iterations up to the limit, each as soon as it is pushed: one that never
            // waits finishes right here, so its memory is freed before the next one starts.
            let (index, outcome) = if next < order.len() && pending.len() < limit {
                renew_budget().await;
                pending.push(iteration(order[next]));
                next += 1;
                match pending.next().now_or_never() {
                    Some(Some(done)) => done,
                    _ => continue,
                }
            } else {
                match pending.next().await {
                    Some(done) => done,
                    None => break None,
                }
            };
            if let Some(error) = record_iteration(&mut tally, &tolerance, index, outcome) {
                break Some(error);
            }
        };
        drop(pending);
        (thread.last, thread.last_time) = started;
        if failure.is_some() || stored_end.is_some() {
            let aborted = stored_end.map_or_else(|| running.indexes(), |end| end.aborted);
            for index in aborted {
                thread.emit(EventDetails::MapIterationAborted { name: entry.state.name.clone(), index });
            }
            thread.emit(EventDetails::MapStateFailed);
            let error = failure.unwrap_or_else(|| {
                StatesError::new(
                    ErrorName::ExceedToleratedFailureThreshold,
                    "The specified tolerated failure threshold was exceeded",
                )
            });
            return Err(EvalError::Raised(tolerance.failure(error)));
        }
        thread.emit(EventDetails::MapStateSucceeded);
        let results = Payload::new(Value::Array(tally.results));
        shape_result(entry.state, &map.handling, entry.raw.clone(), results, env)
    }

    /// One iteration: its start event, its input (ItemSelector, unless the item is a batch
    /// of items selected already), the item processor.
    async fn map_iteration(
        &self,
        map: &MapState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        (item, batched): (&Payload, bool),
        index: usize,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Payload, StatesError> {
        thread.emit(EventDetails::MapIterationStarted { name: entry.state.name.clone(), index });
        if batched {
            return self.run_machine(&map.item_processor, item.clone(), thread).await;
        }
        let variables = thread.variables.clone();
        let env = Env { variables: &variables, ..*env };
        let execution = self.execution_context();
        let selected = item_input(entry.state, map, &execution, &entry.effective, MapItem { index, value: item }, &env)
            .map_err(|e| e.into_states_error(&entry.state.name, thread.last))?;
        drop(variables);
        self.run_machine(&map.item_processor, selected.unwrap_or_else(|| item.clone()), thread).await
    }
}

/// Called before a Map starts another iteration (or a distributed Map another child).
/// Out of tokio's cooperative budget, an iteration started now would stop at its first
/// state (which spends budget) and wait; with a high MaxConcurrency all the rest would, and
/// ten thousand iterations would be alive at once. Yielding first renews the budget, so
/// iterations that never wait finish one by one, while those that wait (a Wait, a Task)
/// still all start at once.
pub(super) async fn renew_budget() {
    if !tokio::task::coop::has_budget_remaining() {
        tokio::task::yield_now().await;
    }
}

/// Takes an iteration's outcome; returns the error that fails the Map once the tolerance
/// is exceeded. A tolerated failure's error output stands in the results.
fn record_iteration(
    state: &mut Tally,
    tolerance: &Tolerance,
    index: usize,
    outcome: Result<Payload, StatesError>,
) -> Option<StatesError> {
    match outcome {
        Ok(output) => {
            state.results[index] = output.into_value();
            None
        }
        Err(error) => {
            state.failures += state.weights[index];
            if tolerance.exceeded(state.failures, state.items) {
                return Some(error);
            }
            state.results[index] = error.to_value();
            None
        }
    }
}
