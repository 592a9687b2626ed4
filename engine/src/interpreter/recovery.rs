//! Task, Parallel and Map run attempts; between attempts, Retry and Catch decide what
//! follows a failure (the decision itself is `sfnlite_states::retry::recover`).

use sfnlite_states::definition::{MapState, ParallelState, ResultHandling, State, TaskState, Transition};
use sfnlite_states::eval::{Env, Exit, catch_exit};
use sfnlite_states::history::Payload;
use sfnlite_states::retry::{Recovery, jittered_delay, recover};
use sfnlite_states::{EvalError, StatesError};

use serde_json::{Value, json};

use super::{Flow, Run, Thread};
use crate::callbacks::task_token;

/// What a state was entered with: the raw input (for ResultPath), the effective input
/// (after InputPath), and when and at which event it was entered.
pub(super) struct Entry<'s> {
    pub(super) state: &'s State,
    pub(super) raw: Payload,
    pub(super) effective: Payload,
    pub(super) entered: u64,
    pub(super) entered_at: i64,
}

/// The states that run attempts under Retry and Catch.
#[derive(Clone, Copy)]
pub(super) enum Body<'s> {
    Task(&'s TaskState),
    Parallel(&'s ParallelState),
    Map(&'s MapState),
}

impl<'s> Body<'s> {
    fn handling(self) -> &'s ResultHandling {
        match self {
            Body::Task(t) => &t.handling,
            Body::Parallel(p) => &p.handling,
            Body::Map(m) => &m.handling,
        }
    }
}

impl<'a> Run<'a> {
    /// Runs a Task, Parallel or Map state: attempts, and Retry/Catch between them.
    pub(super) async fn with_recovery(
        &self,
        body: Body<'_>,
        entry: Entry<'_>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Flow, StatesError> {
        let mut attempts = vec![0; body.handling().retry.len()];
        let mut retry_count = 0;
        loop {
            let variables = thread.variables.clone();
            let mut context = self.execution_context().object(entry.state, entry.entered_at, retry_count);
            // A `.waitForTaskToken` task's attempt has a token: `$$.Task.Token`.
            let token = match body {
                Body::Task(task) if self.waits_for_token(task, &entry.state.name) => {
                    let token = task_token(self.seed, &self.info.arn, entry.entered, retry_count);
                    if let Value::Object(context) = &mut context {
                        context.insert("Task".into(), json!({ "Token": token }));
                    }
                    Some(token)
                }
                _ => None,
            };
            let env = self.env(&context, &variables, entry.entered_at);
            let attempt = match body {
                Body::Task(task) => self.task_attempt(task, &entry, &env, retry_count, token, thread).await,
                Body::Parallel(parallel) => self.parallel_attempt(parallel, &entry, &env, thread).await,
                Body::Map(map) => self.map_attempt(map, &entry, &env, thread).await,
            };
            let error = match attempt {
                Ok(exit) => {
                    drop(variables);
                    return Ok(thread.exit(entry.state, exit, body.handling().transition));
                }
                Err(e) => e.into_states_error(&entry.state.name, entry.entered),
            };
            let handling = body.handling();
            match recover(&handling.retry, &handling.catch, &error.error, &mut attempts) {
                Recovery::Retry { delay_millis, jitter } => {
                    let delay = jittered_delay(delay_millis, jitter, &self.entropy);
                    let until = thread.last_time.saturating_add(delay.min(i64::MAX as u64) as i64);
                    if !self.replayed_past(thread.last) {
                        let slept = self.sleep_until(until).await;
                        slept.map_err(|e| e.into_states_error(&entry.state.name, entry.entered))?;
                    }
                }
                Recovery::Catch(i) => {
                    let catcher = &handling.catch[i];
                    let exit = self.caught(catcher, &entry, &error, &env)?;
                    drop(variables);
                    return Ok(thread.exit(entry.state, exit, Transition::Next(catcher.next)));
                }
                Recovery::Fail => return Err(error),
            }
            retry_count += 1;
        }
    }

    /// A Catcher's exit from the state.
    fn caught(
        &self,
        catcher: &sfnlite_states::definition::Catcher,
        entry: &Entry<'_>,
        error: &StatesError,
        env: &Env<'_>,
    ) -> Result<Exit, StatesError> {
        catch_exit(catcher, &entry.raw, error, env)
            .map_err(|e: EvalError| e.into_states_error(&entry.state.name, entry.entered))
    }
}
