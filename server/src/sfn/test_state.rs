//! TestState: reads AWS's request fields, runs `sfnlite_engine::test_state` (the same code
//! `sfnlite test`'s single-state cases use), and answers in AWS's shape: the output, error
//! and cause as JSON text, `inspectionData` at DEBUG and TRACE, `nextState`, `status`.
//!
//! `mock.fieldValidationMode` is accepted but mocks are never checked against the
//! services' response shapes (sfnlite has no service models); `revealSecrets` has nothing
//! to reveal locally, but is refused with a mock as on AWS.

use serde_json::{Map, Value};
use sfnlite_engine::test_state::{TestStateRequest, test_state};
use sfnlite_states::eval::test_state::{InspectionLevel, Refusal};
use sfnlite_states::eval::test_state_api::{self, FieldError, Reading};

use super::Api;
use super::error::ApiError;
use super::executions::parse_input;
use super::request::Request;

impl Api {
    pub(super) async fn test_state(&self, request: &Request) -> Result<Value, ApiError> {
        let definition = request.required("definition")?.to_owned();
        let level = match request.string("inspectionLevel")? {
            None => InspectionLevel::Info,
            Some(text) => InspectionLevel::parse(text).ok_or_else(|| {
                ApiError::constraint(
                    text,
                    "inspectionLevel",
                    "Member must satisfy enum value set: [INFO, DEBUG, TRACE]",
                )
            })?,
        };
        let mock = request.value("mock").map(|m| test_state_api::mock(m, Reading::Api)).transpose().map_err(refused)?;
        if mock.is_some() && request.boolean("revealSecrets")? == Some(true) {
            return Err(ApiError::validation("TestState does not support RevealSecrets when a mock is specified."));
        }
        let variables = match request.string("variables")? {
            None => Map::new(),
            Some(text) => match serde_json::from_str(text) {
                Ok(Value::Object(variables)) => variables,
                _ => return Err(ApiError::validation("variables must be a JSON object")),
            },
        };
        let context = match request.string("context")? {
            None => None,
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(context @ Value::Object(_)) => Some(context),
                _ => return Err(ApiError::validation("context must be a JSON object")),
            },
        };
        let test = TestStateRequest {
            definition,
            state_name: request.string("stateName")?.map(str::to_owned),
            input: parse_input(request.string("input")?)?,
            context,
            variables,
            inspection_level: level,
            mock,
            configuration: test_state_api::configuration(request.value("stateConfiguration"), Reading::Api)
                .map_err(refused)?,
            role_arn: request.string("roleArn")?.map(str::to_owned),
            region: self.region.clone(),
        };
        let registry = self.adapters.registry("TestStateMachine", None).map_err(ApiError::validation)?;
        let seed = sfnlite_engine::entropy::os_seed();
        match test_state(&registry, &*self.clock, seed, &test).await {
            Ok(outcome) => Ok(test_state_api::response(&outcome, level)),
            Err(Refusal::Validation(message)) => Err(ApiError::validation(message)),
            Err(Refusal::InvalidDefinition(message)) => Err(ApiError::new("InvalidDefinition", message)),
        }
    }
}

/// A TestState field refused as AWS refuses it.
fn refused(error: FieldError) -> ApiError {
    match error {
        FieldError::Validation(message) => ApiError::validation(message),
        FieldError::Serialization(message) => ApiError::serialization(message),
        FieldError::Constraint { value, field, rule } => ApiError::constraint(&value, &field, &rule),
    }
}
