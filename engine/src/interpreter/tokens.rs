//! What tasks that wait on a token share (`.waitForTaskToken` tasks and activities):
//! waiting for the answer under the heartbeat, closing the token however the wait ends,
//! and reading an answered failure.

use serde_json::Value;
use sfnlite_states::eval::fields::millis;
use sfnlite_states::{ErrorName, EvalError, StatesError};

use super::Run;
use crate::callbacks::{Ended, Signal};

/// Closes a token however its task stops waiting (answered, timed out, or cancelled by a
/// stop, a timeout or a failed sibling), so that it cannot be answered afterwards.
pub(super) struct CloseToken<'r, 'a> {
    run: &'r Run<'a>,
    token: &'r str,
    /// How the wait ended (a missed heartbeat is remembered in the token).
    pub(super) ended: Ended,
}

impl<'r, 'a> CloseToken<'r, 'a> {
    pub(super) fn new(run: &'r Run<'a>, token: &'r str) -> CloseToken<'r, 'a> {
        CloseToken { run, token, ended: Ended::Closed }
    }
}

impl Drop for CloseToken<'_, '_> {
    fn drop(&mut self) {
        if let Err(e) = self.run.callbacks.close(self.run.store, self.token, self.ended) {
            tracing::warn!("cannot close a task token: {e}");
        }
    }
}

/// The error of a SendTaskFailure: its name as given, except that a name Step Functions
/// gives meaning to (an uncatchable `States.Runtime`, a timeout) stays a plain name, and
/// none at all stays none (`{"Error": null, "Cause": null}`).
pub(super) fn answered_error(error: Option<String>) -> ErrorName {
    let name = error.unwrap_or_default();
    match ErrorName::parse(&name) {
        ErrorName::Runtime | ErrorName::DataLimitExceeded | ErrorName::Timeout | ErrorName::HeartbeatTimeout => {
            ErrorName::Custom(name)
        }
        other => other,
    }
}

impl<'a> Run<'a> {
    /// The first answer to a token; a heartbeat restarts the heartbeat's clock.
    pub(super) async fn answer(
        &self,
        mut answers: tokio::sync::mpsc::UnboundedReceiver<Signal>,
        heartbeat: Option<u64>,
    ) -> Result<Value, StatesError> {
        loop {
            let beat = heartbeat.map(|h| self.clock.now_millis().saturating_add(millis(h)));
            let signal = match beat {
                Some(until) => tokio::select! {
                    biased;
                    signal = answers.recv() => signal,
                    () = self.clock.sleep_until(until) => {
                        return Err(StatesError { error: ErrorName::HeartbeatTimeout, cause: None });
                    }
                },
                None => answers.recv().await,
            };
            match signal {
                Some(Signal::Success(output)) => return Ok(output),
                Some(Signal::Failure { error, cause }) => {
                    return Err(StatesError { error: answered_error(error), cause });
                }
                Some(Signal::Heartbeat) => continue,
                // Nobody can answer any more (the process is ending): wait for the deadline.
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// A store failure while handling a token: the journal closes, the execution stops.
    pub(super) fn store_failed(&self, error: crate::store::StoreError) -> EvalError {
        self.journal.close(super::RunError::Store(error));
        EvalError::Runtime("the execution stops: the store failed".to_owned())
    }
}
