//! One attempt of a Parallel state: every branch runs on a thread of its own, polled
//! together; the first failure cancels the others.

use sfnlite_states::history::Payload;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;
use sfnlite_states::EvalError;
use sfnlite_states::definition::ParallelState;
use sfnlite_states::eval::{Env, Exit, arguments, shape_result};
use sfnlite_states::history::EventDetails;

use super::recovery::Entry;
use super::{Run, Thread};

impl<'a> Run<'a> {
    pub(super) async fn parallel_attempt(
        &self,
        parallel: &ParallelState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        let input = arguments(entry.state, parallel.parameters.as_ref(), &entry.effective, env)?;
        let variables = Arc::new(env.variables.clone());
        thread.emit(EventDetails::ParallelStateStarted);
        let started = (thread.last, thread.last_time);
        let mut pending: FuturesUnordered<_> = parallel
            .branches
            .iter()
            .enumerate()
            .map(|(i, branch)| {
                let input = input.clone();
                let variables = &variables;
                async move {
                    let mut branch_thread = Thread::child(self, started, variables);
                    (i, self.run_machine(branch, input, &mut branch_thread).await)
                }
            })
            .collect();
        let mut results = vec![Value::Null; parallel.branches.len()];
        while let Some((i, result)) = pending.next().await {
            match result {
                Ok(output) => results[i] = output.into_value(),
                Err(error) => {
                    drop(pending);
                    (thread.last, thread.last_time) = started;
                    thread.emit(EventDetails::ParallelStateFailed);
                    return Err(EvalError::Raised(error));
                }
            }
        }
        (thread.last, thread.last_time) = started;
        shape_result(entry.state, &parallel.handling, entry.raw.clone(), Payload::new(Value::Array(results)), env)
    }
}
