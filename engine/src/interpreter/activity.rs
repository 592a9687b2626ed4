//! One attempt of a Task whose `Resource` is an activity ARN: `ActivityScheduled`, then
//! the task waits for a worker (GetActivityTask) — `ActivityStarted` with its name — and
//! then for the worker's answer (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat) under
//! `HeartbeatSeconds`; `TimeoutSeconds` bounds the whole, as on AWS.

use sfnlite_states::history::Payload;

use serde_json::Value;
use sfnlite_states::definition::TaskState;
use sfnlite_states::eval::fields::{error_text, millis};
use sfnlite_states::eval::{Exit, shape_result};
use sfnlite_states::history::EventDetails;
use sfnlite_states::resource::Activity;
use sfnlite_states::{ErrorName, EvalError, StatesError};

use super::recovery::Entry;
use super::tokens::CloseToken;
use super::{Run, Thread};
use crate::callbacks::{Ended, Opening, task_token};

/// What an activity attempt runs with.
pub(super) struct ActivityCall<'t> {
    pub(super) activity: &'t Activity,
    pub(super) input: Payload,
    pub(super) timeout: Option<u64>,
    pub(super) heartbeat: Option<u64>,
    pub(super) retry_count: u64,
}

impl<'a> Run<'a> {
    pub(super) async fn activity_attempt(
        &self,
        task: &TaskState,
        entry: &Entry<'_>,
        env: &sfnlite_states::eval::Env<'_>,
        call: ActivityCall<'_>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        thread.emit(EventDetails::ActivityScheduled {
            resource: call.activity.arn.clone(),
            input: call.input.clone(),
            timeout_seconds: call.timeout,
            heartbeat_seconds: call.heartbeat,
        });
        let deadline = call.timeout.map(|t| thread.last_time.saturating_add(millis(t)));
        let token = task_token(self.seed, &self.info.arn, entry.entered, call.retry_count);
        let outcome = match deadline {
            Some(deadline) => tokio::select! {
                biased;
                outcome = self.activity_outcome(&call, &token, entry, deadline, thread) => outcome?,
                () = self.clock.sleep_until(deadline) => Err(StatesError { error: ErrorName::Timeout, cause: None }),
            },
            None => self.activity_outcome(&call, &token, entry, i64::MAX, thread).await?,
        };
        match outcome {
            Ok(result) => {
                let result = Payload::new(result);
                thread.emit(EventDetails::ActivitySucceeded { output: result.clone() });
                shape_result(entry.state, &task.handling, entry.raw.clone(), result, env)
            }
            Err(error) => {
                let (name, cause) = (error_text(&error.error), error.cause.clone());
                thread.emit(if matches!(error.error, ErrorName::Timeout | ErrorName::HeartbeatTimeout) {
                    EventDetails::ActivityTimedOut { error: name, cause }
                } else {
                    EventDetails::ActivityFailed { error: name, cause }
                });
                Err(EvalError::Raised(error))
            }
        }
    }

    /// Waits for a worker, records `ActivityStarted`, then waits for the answer (or reads
    /// both back from the replayed history).
    async fn activity_outcome(
        &self,
        call: &ActivityCall<'_>,
        token: &str,
        entry: &Entry<'_>,
        deadline: i64,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Result<Value, StatesError>, EvalError> {
        let replay = self.replay.as_ref();
        if let Some(outcome) = replay.and_then(|r| r.task_outcome(thread.last)) {
            return Ok(outcome);
        }
        let opening = Opening {
            execution_arn: &self.info.arn,
            state_name: &entry.state.name,
            entered: entry.entered,
            deadline: Some(deadline).filter(|d| *d != i64::MAX && !self.clock.is_virtual()),
        };
        self.callbacks.open(self.store, token, opening).map_err(|e| self.store_failed(e))?;
        let mut guard = CloseToken::new(self, token);
        let worker = match replay.and_then(|r| r.activity_started(thread.last)) {
            Some(worker) => worker,
            None => {
                self.flush()?;
                let taken = self.callbacks.schedule(&call.activity.arn, token, Value::clone(&call.input));
                // The queue goes away with the process; nobody takes the task then.
                taken.await.unwrap_or(None)
            }
        };
        thread.emit(EventDetails::ActivityStarted { worker_name: worker });
        if let Some(outcome) = replay.and_then(|r| r.task_outcome(thread.last)) {
            return Ok(outcome);
        }
        self.flush()?;
        let answers = self.callbacks.listen(self.store, token).map_err(|e| self.store_failed(e))?;
        let outcome = self.answer(answers, call.heartbeat).await;
        if matches!(&outcome, Err(e) if e.error == ErrorName::HeartbeatTimeout) {
            guard.ended = Ended::Heartbeat;
        }
        Ok(outcome)
    }
}
