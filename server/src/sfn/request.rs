//! A request body, read field by field with the checks every operation shares: types
//! (`SerializationException`), required fields (`ValidationException` naming the field)
//! and `maxResults`/`nextToken` constraints.

use serde_json::{Map, Value};

use super::error::ApiError;

/// The JSON object an operation received.
pub struct Request {
    fields: Map<String, Value>,
}

impl Request {
    /// Parses a body; an empty body is `{}`.
    pub fn parse(body: &[u8]) -> Result<Request, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Request { fields: Map::new() });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Request { fields }),
            Ok(_) => Err(ApiError::serialization("The request body must be a JSON object")),
            Err(e) => Err(ApiError::serialization(format!("The request body is not valid JSON: {e}"))),
        }
    }

    /// An optional string field.
    pub fn string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::serialization(format!(
                "Unexpected value for field '{name}': expected a string, got {other}"
            ))),
        }
    }

    /// A required string field.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.string(name)?.ok_or_else(|| ApiError::constraint("null", name, "Member must not be null"))
    }

    /// An optional boolean field.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ApiError::serialization(format!(
                "Unexpected value for field '{name}': expected a boolean, got {other}"
            ))),
        }
    }

    /// An optional field of any JSON type.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }

    /// `maxResults`: 0–1000, 0 or absent meaning `default`.
    pub fn max_results(&self, limit: u64, default: usize) -> Result<usize, ApiError> {
        match self.fields.get("maxResults") {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Ok(default),
                Some(n) if n < 0 => Err(ApiError::constraint(
                    &n.to_string(),
                    "maxResults",
                    "Member must have value greater than or equal to 0",
                )),
                Some(n) if n as u64 > limit => Err(ApiError::constraint(
                    &n.to_string(),
                    "maxResults",
                    &format!("Member must have value less than or equal to {limit}"),
                )),
                Some(n) => Ok(n as usize),
                None => Err(ApiError::serialization("maxResults must be an integer")),
            },
            Some(other) => Err(ApiError::serialization(format!("maxResults must be an integer, not {other}"))),
        }
    }

    /// `nextToken`, checked against its length limit (1024; 3096 for ListExecutions).
    pub fn next_token(&self, limit: usize) -> Result<Option<&str>, ApiError> {
        let token = self.string("nextToken")?;
        if let Some(token) = token
            && token.len() > limit
        {
            return Err(ApiError::constraint(
                token,
                "nextToken",
                &format!("Member must have length less than or equal to {limit}"),
            ));
        }
        Ok(token)
    }
}
