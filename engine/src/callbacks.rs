//! Task tokens: a `.waitForTaskToken` task waits until someone answers its token with
//! SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat.
//!
//! A token is derived from the execution's seed, its ARN, the state's `Entered` event and
//! the attempt, so a resumed execution waits on the same token it handed out, and a retried
//! attempt gets a new one (as on AWS). Each token is a store document (kind
//! [`TOKEN_KIND`]) written before the task's service call: who waits on it, whether it is
//! still open, and an answer that came while nobody listened (during the call itself, or
//! while no process ran the execution), which the task takes when it starts waiting.
//! [`Callbacks`] delivers answers to the tasks waiting in this process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::store::{ExecutionStatus, HistoryStore, StoreError};

/// The store documents of task tokens, by token.
pub const TOKEN_KIND: &str = "task-tokens";

/// An answer to a token.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// SendTaskSuccess: the task's result.
    Success(Value),
    /// SendTaskFailure: the task's error and cause (either may be absent).
    Failure {
        /// `error`.
        error: Option<String>,
        /// `cause`.
        cause: Option<String>,
    },
    /// SendTaskHeartbeat: the task is alive.
    Heartbeat,
}

impl Signal {
    fn to_json(&self) -> Value {
        match self {
            Signal::Success(output) => json!({"output": output}),
            Signal::Failure { error, cause } => json!({"error": error, "cause": cause}),
            Signal::Heartbeat => Value::Null,
        }
    }

    fn from_json(value: &Value) -> Option<Signal> {
        if let Some(output) = value.get("output") {
            return Some(Signal::Success(output.clone()));
        }
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        value.is_object().then(|| Signal::Failure { error: text("error"), cause: text("cause") })
    }
}

/// Why an answer was refused (the API's `InvalidToken` and `TaskTimedOut`).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No task ever had this token.
    #[error("Invalid token")]
    Invalid,
    /// The task ended (answered, timed out, or its execution ended).
    #[error("The task token has either expired or the task associated with the token has already been closed")]
    Closed,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The tasks of this process that wait on tokens, and the activity tasks that wait for a
/// worker (GetActivityTask).
#[derive(Debug, Default)]
pub struct Callbacks {
    waiting: Mutex<HashMap<String, mpsc::UnboundedSender<Signal>>>,
    /// Serializes answers, so that two answers to one token cannot both be taken.
    answering: Mutex<()>,
    /// Activity tasks not yet taken, by activity ARN, oldest first.
    queued: Mutex<HashMap<String, VecDeque<Queued>>>,
    /// Wakes workers polling for activity tasks.
    scheduled: Notify,
}

/// An activity task waiting for a worker.
#[derive(Debug)]
struct Queued {
    token: String,
    input: Value,
    /// Told the worker's name when one takes the task (closed when the task went away).
    taken: oneshot::Sender<Option<String>>,
}

/// An activity task a worker took: its token and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    /// The token to answer with.
    pub token: String,
    /// The task's input.
    pub input: Value,
}

/// What a token is opened for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opening<'a> {
    pub(crate) execution_arn: &'a str,
    pub(crate) state_name: &'a str,
    /// The state's `Entered` event.
    pub(crate) entered: u64,
    /// When TimeoutSeconds ends (epoch ms), on the real clock.
    pub(crate) deadline: Option<i64>,
}

/// How a token's task stopped waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Answered, timed out, or cancelled.
    Closed,
    /// Its heartbeat expired.
    Heartbeat,
}

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The token of attempt `attempt` of the state entered at event `entered`.
pub fn task_token(seed: u64, execution_arn: &str, entered: u64, attempt: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_be_bytes());
    hasher.update(execution_arn.as_bytes());
    hasher.update(entered.to_be_bytes());
    hasher.update(attempt.to_be_bytes());
    let first = hasher.finalize();
    let second = Sha256::digest(first);
    let bytes: Vec<u8> = first.iter().chain(second.iter()).copied().collect();
    // URL-safe, so that a token can be pasted into a command line or a URL unchanged.
    let text = sfnlite_states::base64::encode(&bytes).replace('+', "-").replace('/', "_");
    format!("AQ{}", text.trim_end_matches('='))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Callbacks {
    /// Nobody waits yet.
    pub fn new() -> Callbacks {
        Callbacks::default()
    }

    /// Answers a token: records a success or failure (so a task that is not waiting in this
    /// process finds it when it does), then tells the waiting task, if it is here.
    pub fn answer(&self, store: &dyn HistoryStore, token: &str, signal: Signal) -> Result<(), TokenError> {
        let _answering = lock(&self.answering);
        let Some(mut document) = store.document(TOKEN_KIND, token)? else {
            return Err(TokenError::Invalid);
        };
        let running = document["executionArn"]
            .as_str()
            .and_then(|arn| store.execution(arn).ok().flatten())
            .is_some_and(|e| e.status == ExecutionStatus::Running);
        // The same answer again (a handler re-run after a crash answers as before) is harmless.
        if signal != Signal::Heartbeat && document.get("answer").and_then(Signal::from_json).as_ref() == Some(&signal) {
            return Ok(());
        }
        let late = document["deadlineMillis"].as_i64().is_some_and(|deadline| now_millis() > deadline);
        if document["status"] != "waiting" || document.get("answer").is_some() || !running || late {
            return Err(TokenError::Closed);
        }
        if signal != Signal::Heartbeat {
            document["answer"] = signal.to_json();
            store.put_document(TOKEN_KIND, token, &document)?;
        }
        if let Some(waiter) = lock(&self.waiting).get(token) {
            let _ = waiter.send(signal);
        }
        Ok(())
    }

    /// Queues an activity task for the workers of `activity`; the receiver gets the name of
    /// the worker that takes it. Dropping the receiver withdraws the task.
    pub(crate) fn schedule(&self, activity: &str, token: &str, input: Value) -> oneshot::Receiver<Option<String>> {
        let (taken, receiver) = oneshot::channel();
        let task = Queued { token: token.to_owned(), input, taken };
        lock(&self.queued).entry(activity.to_owned()).or_default().push_back(task);
        self.scheduled.notify_waiters();
        receiver
    }

    /// GetActivityTask: the oldest task of `activity`, waiting up to `wait` for one.
    pub async fn take(&self, activity: &str, worker: Option<String>, wait: Duration) -> Option<ActivityTask> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.scheduled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut queued = lock(&self.queued);
                let queue = queued.entry(activity.to_owned()).or_default();
                while let Some(task) = queue.pop_front() {
                    // A task whose state stopped waiting (cancelled, timed out) is gone.
                    if task.taken.send(worker.clone()).is_ok() {
                        return Some(ActivityTask { token: task.token, input: task.input });
                    }
                }
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Opens a token for the task that will wait on it (before its service call).
    /// `deadline` (epoch ms, real clock only) is when its TimeoutSeconds ends: an answer
    /// after it is refused even when no process is waiting.
    pub(crate) fn open(&self, store: &dyn HistoryStore, token: &str, opening: Opening<'_>) -> Result<(), StoreError> {
        if store.document(TOKEN_KIND, token)?.is_none() {
            let mut document = json!({"executionArn": opening.execution_arn, "stateName": opening.state_name,
                                      "enteredEventId": opening.entered, "status": "waiting"});
            if let Some(deadline) = opening.deadline {
                document["deadlineMillis"] = json!(deadline);
            }
            store.put_document(TOKEN_KIND, token, &document)?;
        }
        Ok(())
    }

    /// The answer recorded for a token, if any (a task re-run after a crash does not call
    /// its service again once it has been answered; `sfnlite task` checks a lost response).
    pub fn recorded(&self, store: &dyn HistoryStore, token: &str) -> Result<Option<Signal>, StoreError> {
        Ok(store.document(TOKEN_KIND, token)?.and_then(|d| d.get("answer").and_then(Signal::from_json)))
    }

    /// True when the token's task ended by a missed heartbeat (histories say only
    /// `States.Timeout`; Retry and Catch tell the two apart).
    pub(crate) fn missed_heartbeat(&self, store: &dyn HistoryStore, token: &str) -> Result<bool, StoreError> {
        Ok(store.document(TOKEN_KIND, token)?.is_some_and(|d| d["ended"] == "heartbeat"))
    }

    /// Closes every open token of an execution (a redrive: the tasks that held them ended
    /// with the attempt that failed).
    pub fn close_all(&self, store: &dyn HistoryStore, execution_arn: &str) -> Result<(), StoreError> {
        for (token, mut document) in store.documents(TOKEN_KIND)? {
            if document["executionArn"] == execution_arn && document["status"] == "waiting" {
                document["status"] = json!("closed");
                store.put_document(TOKEN_KIND, &token, &document)?;
                lock(&self.waiting).remove(&token);
            }
        }
        Ok(())
    }

    /// Starts listening on a token; the answer recorded before, if any, comes first.
    pub(crate) fn listen(
        &self,
        store: &dyn HistoryStore,
        token: &str,
    ) -> Result<mpsc::UnboundedReceiver<Signal>, StoreError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let _answering = lock(&self.answering);
        if let Some(answer) =
            store.document(TOKEN_KIND, token)?.and_then(|d| d.get("answer").and_then(Signal::from_json))
        {
            let _ = tx.send(answer);
        }
        lock(&self.waiting).insert(token.to_owned(), tx);
        Ok(rx)
    }

    /// The task stopped waiting (answered, timed out, or cancelled); its token is closed
    /// once `closed` (an outcome is recorded).
    pub(crate) fn close(&self, store: &dyn HistoryStore, token: &str, ended: Ended) -> Result<(), StoreError> {
        let _answering = lock(&self.answering);
        lock(&self.waiting).remove(token);
        if let Some(mut document) = store.document(TOKEN_KIND, token)?
            && document["status"] != "closed"
        {
            document["status"] = json!("closed");
            if ended == Ended::Heartbeat {
                document["ended"] = json!("heartbeat");
            }
            store.put_document(TOKEN_KIND, token, &document)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_per_attempt_and_url_safe() {
        let a = task_token(7, "arn:x", 3, 0);
        assert_eq!(a, task_token(7, "arn:x", 3, 0));
        assert_ne!(a, task_token(7, "arn:x", 3, 1));
        assert_ne!(a, task_token(8, "arn:x", 3, 0));
        assert!(a.len() > 80 && a.len() <= 1024, "{}", a.len());
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
    }

    #[test]
    fn signals_round_trip_through_their_documents() {
        for signal in [
            Signal::Success(json!({"a": [1]})),
            Signal::Failure { error: Some("E".into()), cause: None },
            Signal::Failure { error: None, cause: None },
        ] {
            assert_eq!(Signal::from_json(&signal.to_json()), Some(signal));
        }
    }
}
