//! The requests of StartQueryExecution and GetQueryResults, parsed once with serde under
//! AWS's field names, and checked as Athena checks them, with its validation messages.
//!
//! A field may be absent, of its type, or of another type ([`Field`]): a mistyped field is
//! kept as sent, for the message that rejects it. Unknown fields are ignored; a nested
//! object (`QueryExecutionContext`, `ResultConfiguration`) that is not an object counts as
//! absent.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::{CATALOG_NAME, Workgroup};
use crate::athena::AthenaError;

/// A request field as sent. `null` is a value of another type, not an absent field.
#[derive(Debug, Clone, Default)]
pub(super) enum Field<T> {
    #[default]
    Absent,
    Valid(T),
    Invalid(Value),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(match T::deserialize(&value) {
            Ok(valid) => Field::Valid(valid),
            Err(_) => Field::Invalid(value),
        })
    }
}

impl<T> Field<T> {
    /// The value, if it has the field's type.
    fn valid(&self) -> Option<&T> {
        match self {
            Field::Valid(value) => Some(value),
            _ => None,
        }
    }
}

/// A nested object of a request; anything else counts as absent.
fn object_or_absent<'de, D: Deserializer<'de>, T: DeserializeOwned>(deserializer: D) -> Result<Option<T>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(if value.is_object() { T::deserialize(&value).ok() } else { None })
}

/// A request object parsed into `T` (whose fields cannot fail); anything but an object is
/// a request with no fields.
fn parse_object<T: DeserializeOwned + Default>(request: &Value) -> T {
    if request.is_object() { T::deserialize(request).unwrap_or_default() } else { T::default() }
}

/// AWS's message for a field that breaks a constraint (`field` spelled as AWS's
/// validation layer spells it: `queryString`).
fn validation(field: &str, value: &Value, constraint: &str) -> AthenaError {
    AthenaError::invalid_request(format!(
        "1 validation error detected: Value {} at '{field}' failed to satisfy constraint: {constraint}",
        if value.is_null() {
            "null".to_owned()
        } else {
            format!("'{}'", value.as_str().map_or(value.to_string(), str::to_owned))
        }
    ))
}

/// Rejects a present field that is not a string.
fn must_be_string(field: &Field<String>, name: &str) -> Result<(), AthenaError> {
    match field {
        Field::Invalid(value) => Err(validation(name, value, "Member must be a string")),
        _ => Ok(()),
    }
}

/// StartQueryExecution's `QueryExecutionContext`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct QueryExecutionContext {
    #[serde(rename = "Database", default)]
    database: Field<String>,
    /// Only `AwsDataCatalog`; a non-string one is ignored.
    #[serde(rename = "Catalog", default)]
    catalog: Field<String>,
}

/// StartQueryExecution's `ResultConfiguration` (its other members are ignored).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ResultConfiguration {
    #[serde(rename = "OutputLocation", default)]
    output_location: Field<String>,
}

/// A StartQueryExecution request.
#[derive(Debug, Default, Deserialize)]
pub(super) struct StartQueryExecution {
    #[serde(rename = "QueryString", default)]
    query_string: Field<String>,
    #[serde(rename = "ClientRequestToken", default)]
    client_request_token: Field<String>,
    #[serde(rename = "QueryExecutionContext", default, deserialize_with = "object_or_absent")]
    query_execution_context: Option<QueryExecutionContext>,
    #[serde(rename = "ResultConfiguration", default, deserialize_with = "object_or_absent")]
    result_configuration: Option<ResultConfiguration>,
    #[serde(rename = "WorkGroup", default)]
    work_group: Field<String>,
    #[serde(rename = "ExecutionParameters", default)]
    execution_parameters: Field<Vec<String>>,
    /// The request as sent without its `ClientRequestToken` (when it has one): a token
    /// used again must come with the same request.
    #[serde(skip)]
    fingerprint: String,
}

/// What a StartQueryExecution request asks for, once checked.
#[derive(Debug)]
pub(super) struct QueryRequest<'a> {
    pub(super) sql: &'a str,
    pub(super) workgroup_name: &'a str,
    pub(super) workgroup: &'a Workgroup,
    pub(super) database: Option<&'a str>,
    pub(super) catalog: Option<&'a str>,
    pub(super) output_location: Option<&'a str>,
    pub(super) execution_parameters: Option<&'a [String]>,
}

impl StartQueryExecution {
    /// Parses a request, which must be a JSON object.
    pub(super) fn parse(request: &Value) -> Result<StartQueryExecution, AthenaError> {
        if !request.is_object() {
            return Err(AthenaError::invalid_request("the request must be a JSON object"));
        }
        let mut parsed: StartQueryExecution = parse_object(request);
        if request.get("ClientRequestToken").is_some() {
            let mut fingerprint = request.clone();
            fingerprint.as_object_mut().map(|o| o.remove("ClientRequestToken"));
            parsed.fingerprint = fingerprint.to_string();
        }
        Ok(parsed)
    }

    /// Checks the request as Athena does, in its order (the query, the fields' types, the
    /// workgroup, the catalog, the parameters), `workgroups` being the workgroups there are.
    /// The output location and the token are checked after, by who uses them.
    pub(super) fn check<'a>(
        &'a self,
        workgroups: &'a BTreeMap<String, Workgroup>,
    ) -> Result<QueryRequest<'a>, AthenaError> {
        let sql = self.query_string()?;
        let context = self.query_execution_context.as_ref();
        let result_configuration = self.result_configuration.as_ref();
        must_be_string(&self.work_group, "workGroup")?;
        if let Some(configuration) = result_configuration {
            must_be_string(&configuration.output_location, "outputLocation")?;
        }
        if let Some(context) = context {
            must_be_string(&context.database, "database")?;
        }
        let (workgroup_name, workgroup) = self.workgroup(workgroups)?;
        let catalog = context.and_then(|c| c.catalog.valid()).map(String::as_str);
        if let Some(catalog) = catalog
            && !catalog.eq_ignore_ascii_case(CATALOG_NAME)
        {
            return Err(AthenaError::invalid_request(format!(
                "Catalog {catalog} was not found (sfnlite has only AwsDataCatalog)"
            )));
        }
        Ok(QueryRequest {
            sql,
            workgroup_name,
            workgroup,
            database: context.and_then(|c| c.database.valid()).map(String::as_str),
            catalog,
            output_location: result_configuration.and_then(|c| c.output_location.valid()).map(String::as_str),
            execution_parameters: self.execution_parameters()?,
        })
    }

    fn query_string(&self) -> Result<&str, AthenaError> {
        match &self.query_string {
            Field::Valid(sql) if (1..=262_144).contains(&sql.len()) => Ok(sql),
            other => {
                let value = match other {
                    Field::Absent => Value::Null,
                    Field::Valid(sql) => json!(sql),
                    Field::Invalid(value) => value.clone(),
                };
                Err(validation(
                    "queryString",
                    &value,
                    "Member must have length between 1 and 262144 and must not be null",
                ))
            }
        }
    }

    /// The workgroup (`primary` by default): its name and settings.
    fn workgroup<'a>(
        &'a self,
        workgroups: &'a BTreeMap<String, Workgroup>,
    ) -> Result<(&'a str, &'a Workgroup), AthenaError> {
        let name = self.work_group.valid().map_or("primary", String::as_str);
        let valid_name = !name.is_empty()
            && name.len() <= 128
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid_name {
            return Err(validation(
                "workGroup",
                &json!(name),
                "Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}",
            ));
        }
        let workgroup = workgroups
            .get(name)
            .ok_or_else(|| AthenaError::invalid_request(format!("WorkGroup {name} is not found.")))?;
        Ok((name, workgroup))
    }

    fn execution_parameters(&self) -> Result<Option<&[String]>, AthenaError> {
        let constraint = "Member must be a non-empty list of non-empty strings";
        match &self.execution_parameters {
            Field::Absent => Ok(None),
            Field::Valid(list) if !list.is_empty() && list.iter().all(|p| !p.is_empty()) => Ok(Some(list)),
            Field::Valid(list) => Err(validation("executionParameters", &json!(list), constraint)),
            Field::Invalid(value) => Err(validation("executionParameters", value, constraint)),
        }
    }

    /// The idempotency token (32 to 128 characters) and the request's fingerprint.
    pub(super) fn client_request_token(&self) -> Result<Option<(&str, &str)>, AthenaError> {
        match &self.client_request_token {
            Field::Absent => Ok(None),
            Field::Valid(token) if (32..=128).contains(&token.len()) => Ok(Some((token, &self.fingerprint))),
            Field::Valid(token) => Err(token_validation(&json!(token))),
            Field::Invalid(value) => Err(token_validation(value)),
        }
    }
}

fn token_validation(value: &Value) -> AthenaError {
    validation("clientRequestToken", value, "Member must have length between 32 and 128")
}

/// A GetQueryResults request.
#[derive(Debug, Default, Deserialize)]
pub(super) struct GetQueryResults {
    #[serde(rename = "QueryExecutionId", default)]
    query_execution_id: Field<String>,
    #[serde(rename = "NextToken", default)]
    next_token: Field<String>,
    #[serde(rename = "MaxResults", default)]
    max_results: Field<u64>,
}

impl GetQueryResults {
    /// Parses a request; anything but an object is one with no fields.
    pub(super) fn parse(request: &Value) -> GetQueryResults {
        parse_object(request)
    }

    /// The query's id (empty if missing or not a string: a query that is not found).
    pub(super) fn query_execution_id(&self) -> &str {
        self.query_execution_id.valid().map_or("", String::as_str)
    }

    /// The page size: 1 to 1000, 1000 by default.
    pub(super) fn max_results(&self) -> Result<usize, AthenaError> {
        let constraint = "Member must have value between 1 and 1000";
        match &self.max_results {
            Field::Absent => Ok(1000),
            Field::Valid(n) if (1..=1000).contains(n) => Ok(*n as usize),
            Field::Valid(n) => Err(validation("maxResults", &json!(n), constraint)),
            Field::Invalid(value) => Err(validation("maxResults", value, constraint)),
        }
    }

    /// The `NextToken`, `Err(())` if it is not a string.
    pub(super) fn next_token(&self) -> Result<Option<&str>, ()> {
        match &self.next_token {
            Field::Absent => Ok(None),
            Field::Valid(token) => Ok(Some(token)),
            Field::Invalid(_) => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_type_errors() {
        let mut workgroups = BTreeMap::new();
        workgroups.insert("primary".to_owned(), Workgroup::default());
        let check = |request: Value| {
            let parsed = StartQueryExecution::parse(&request)?;
            parsed.check(&workgroups).map(|_| ())
        };
        let message = |request: Value| check(request).unwrap_err().message;
        assert!(message(json!({})).contains("Value null at 'queryString'"));
        assert!(message(json!({"QueryString": 5})).contains("Value '5' at 'queryString'"));
        assert!(message(json!({"QueryString": "x", "WorkGroup": null})).contains("Value null at 'workGroup'"));
        let database = json!({"QueryString": "x", "QueryExecutionContext": {"Database": 1}});
        assert!(message(database).contains("'database'"));
        let parameters = json!({"QueryString": "x", "ExecutionParameters": ["a", ""]});
        assert!(message(parameters).contains("Value '[\"a\",\"\"]' at 'executionParameters'"));
        // Not objects, or not strings where they are ignored: as if absent.
        assert!(check(json!({"QueryString": "x", "QueryExecutionContext": ["db"], "ResultConfiguration": 1})).is_ok());
        assert!(check(json!({"QueryString": "x", "QueryExecutionContext": {"Catalog": 7}})).is_ok());
        assert!(StartQueryExecution::parse(&json!([])).is_err());

        let results = GetQueryResults::parse(&json!({"QueryExecutionId": 5, "MaxResults": 2.0, "NextToken": null}));
        assert_eq!(results.query_execution_id(), "");
        assert!(results.max_results().unwrap_err().message.contains("Value '2.0' at 'maxResults'"));
        assert!(results.next_token().is_err());
        assert_eq!(GetQueryResults::parse(&json!("x")).max_results().unwrap(), 1000);
    }
}
