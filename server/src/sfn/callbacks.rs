//! Task tokens: SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat answer a
//! `.waitForTaskToken` task (in this process, or recorded for when its execution resumes).

use serde_json::{Value, json};
use sfnlite_engine::{Signal, TokenError};

use super::Api;
use super::error::ApiError;
use super::request::Request;

/// The largest token the API accepts.
const MAX_TOKEN: usize = 2048;

impl Api {
    fn token<'r>(&self, request: &'r Request) -> Result<&'r str, ApiError> {
        let token = request.required("taskToken")?;
        if token.is_empty() || token.len() > MAX_TOKEN {
            return Err(ApiError::constraint(
                token,
                "taskToken",
                &format!("Member must have length less than or equal to {MAX_TOKEN}"),
            ));
        }
        Ok(token)
    }

    fn answer(&self, token: &str, signal: Signal) -> Result<Value, ApiError> {
        match self.callbacks.answer(self.store.as_ref(), token, signal) {
            Ok(()) => Ok(json!({})),
            Err(TokenError::Invalid) => Err(ApiError::new("InvalidToken", TokenError::Invalid.to_string())),
            Err(TokenError::Closed) => Err(ApiError::new("TaskTimedOut", TokenError::Closed.to_string())),
            Err(TokenError::Store(e)) => Err(ApiError::internal(e)),
        }
    }

    pub(super) fn send_task_success(&self, request: &Request) -> Result<Value, ApiError> {
        let token = self.token(request)?;
        let text = request.required("output")?;
        if text.len() > 256 * 1024 {
            return Err(ApiError::constraint("…", "output", "Member must have length less than or equal to 262144"));
        }
        let output: Value =
            serde_json::from_str(text).map_err(|e| ApiError::new("InvalidOutput", format!("Invalid output: {e}")))?;
        self.answer(token, Signal::Success(output))
    }

    pub(super) fn send_task_failure(&self, request: &Request) -> Result<Value, ApiError> {
        let token = self.token(request)?;
        let error = request.string("error")?;
        let cause = request.string("cause")?;
        if let Some(error) = error.filter(|e| e.chars().count() > 256) {
            return Err(ApiError::constraint(error, "error", "Member must have length less than or equal to 256"));
        }
        if cause.is_some_and(|c| c.chars().count() > 32_768) {
            return Err(ApiError::constraint("…", "cause", "Member must have length less than or equal to 32768"));
        }
        self.answer(token, Signal::Failure { error: error.map(str::to_owned), cause: cause.map(str::to_owned) })
    }

    pub(super) fn send_task_heartbeat(&self, request: &Request) -> Result<Value, ApiError> {
        let token = self.token(request)?;
        self.answer(token, Signal::Heartbeat)
    }
}
