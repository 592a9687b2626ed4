//! The Step Functions API's errors: HTTP 400 with `{"__type", "message"}`, named and
//! worded as AWS names and words them (recorded messages verbatim).

use serde_json::{Value, json};

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The exception's name (`__type`), e.g. `StateMachineDoesNotExist`.
    pub name: &'static str,
    /// The message.
    pub message: String,
    /// The HTTP status (400 for every modelled exception).
    pub status: u16,
}

impl ApiError {
    /// An error named `name` (HTTP 400).
    pub fn new(name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { name, message: message.into(), status: 400 }
    }

    /// The response body.
    pub fn body(&self) -> Value {
        json!({"__type": self.name, "message": self.message})
    }

    /// `InvalidArn` for text that is not an ARN at all.
    pub fn invalid_arn_prefix(arn: &str) -> ApiError {
        ApiError::new("InvalidArn", format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"))
    }

    /// `InvalidArn` with AWS's reason.
    pub fn invalid_arn(reason: &str) -> ApiError {
        ApiError::new("InvalidArn", format!("Invalid Arn: '{reason}'"))
    }

    /// `StateMachineDoesNotExist`.
    pub fn no_state_machine(arn: &str) -> ApiError {
        ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
    }

    /// `ExecutionDoesNotExist` (AWS's wording is unrecorded; modelled on the state machine's).
    pub fn no_execution(arn: &str) -> ApiError {
        ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
    }

    /// `ActivityDoesNotExist`.
    pub fn no_activity(arn: &str) -> ApiError {
        ApiError::new("ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'"))
    }

    /// `ResourceNotFound`.
    pub fn resource_not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("ResourceNotFound", message)
    }

    /// `ValidationException` in AWS's "1 validation error detected" form.
    pub fn constraint(value: &str, field: &str, constraint: &str) -> ApiError {
        ApiError::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    /// `ValidationException` with a plain message.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", message)
    }

    /// `InvalidName`.
    pub fn invalid_name(name: &str) -> ApiError {
        ApiError::new("InvalidName", format!("Invalid Name: '{name}'"))
    }

    /// `SerializationException`: the body is not what the operation takes.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new("SerializationException", message)
    }

    /// An internal failure (a store error): HTTP 500, `InternalServerError`.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError { name: "InternalServerError", message: message.to_string(), status: 500 }
    }
}

impl From<sfnlite_engine::StoreError> for ApiError {
    fn from(error: sfnlite_engine::StoreError) -> ApiError {
        ApiError::internal(error)
    }
}
