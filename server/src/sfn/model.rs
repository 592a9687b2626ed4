//! The API's resources, kept in the store as documents (so they outlive the server):
//! state machines as the API knows them, their versions and aliases, activities, tags.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sfnlite_engine::HistoryStore;

use super::error::ApiError;

/// `STANDARD` or `EXPRESS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum MachineType {
    /// Durable, exactly-once, with a history.
    #[default]
    Standard,
    /// Short-lived, at-least-once.
    Express,
}

impl MachineType {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineType::Standard => "STANDARD",
            MachineType::Express => "EXPRESS",
        }
    }
}

/// What a state machine, or one of its versions, runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// The definition text, as given.
    pub definition: String,
    /// The role executions run as.
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    #[serde(rename = "type")]
    pub machine_type: MachineType,
    /// `loggingConfiguration` as given (AWS's default: level OFF).
    pub logging_configuration: Value,
    /// `tracingConfiguration` as given (default: disabled).
    pub tracing_configuration: Value,
    /// Set by each update (absent before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_id: Option<String>,
}

/// A state machine (the `$LATEST` revision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateMachine {
    /// Its ARN (the document's key).
    pub arn: String,
    /// Its name.
    pub name: String,
    /// What it runs now.
    pub revision: Revision,
    /// Epoch milliseconds.
    pub creation_date: i64,
    /// Epoch milliseconds of the last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_date: Option<i64>,
    /// The number the next published version gets.
    pub next_version: u64,
}

/// A published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// `<machine ARN>:<n>`.
    pub arn: String,
    /// The machine's ARN.
    pub machine_arn: String,
    /// What it runs.
    pub revision: Revision,
    /// `versionDescription`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Epoch milliseconds.
    pub creation_date: i64,
}

/// One route of an alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// The version routed to.
    pub state_machine_version_arn: String,
    /// Its share, 0–100.
    pub weight: u64,
}

/// An alias: a name for one or two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    /// `<machine ARN>:<alias name>`.
    pub arn: String,
    /// The machine's ARN.
    pub machine_arn: String,
    /// The alias name.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where executions started through it go.
    pub routing_configuration: Vec<Route>,
    /// Epoch milliseconds.
    pub creation_date: i64,
    /// Epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_date: Option<i64>,
}

/// An activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Epoch milliseconds.
    pub creation_date: i64,
}

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// A kind of document, and the type it holds.
pub trait Document: Serialize + DeserializeOwned {
    /// The collection's name in the store.
    const KIND: &'static str;
}

impl Document for StateMachine {
    const KIND: &'static str = "api.stateMachine";
}
impl Document for Version {
    const KIND: &'static str = "api.stateMachineVersion";
}
impl Document for Alias {
    const KIND: &'static str = "api.stateMachineAlias";
}
impl Document for Activity {
    const KIND: &'static str = "api.activity";
}
impl Document for Vec<Tag> {
    const KIND: &'static str = "api.tags";
}

/// Typed access to the documents of a store.
pub struct Documents<'s>(pub &'s dyn HistoryStore);

impl Documents<'_> {
    /// The document of type `T` under `key`.
    pub fn get<T: Document>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.0.document(T::KIND, key)? {
            None => Ok(None),
            Some(value) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| ApiError::internal(format!("stored {} {key} is damaged: {e}", T::KIND))),
        }
    }

    /// Every document of type `T`, in key order.
    pub fn all<T: Document>(&self) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        for (key, value) in self.0.documents(T::KIND)? {
            out.push(
                serde_json::from_value(value)
                    .map_err(|e| ApiError::internal(format!("stored {} {key} is damaged: {e}", T::KIND)))?,
            );
        }
        Ok(out)
    }

    /// Creates or replaces the document under `key`.
    pub fn put<T: Document>(&self, key: &str, value: &T) -> Result<(), ApiError> {
        let value = serde_json::to_value(value).map_err(ApiError::internal)?;
        Ok(self.0.put_document(T::KIND, key, &value)?)
    }

    /// Removes the document of type `T` under `key`.
    pub fn delete<T: Document>(&self, key: &str) -> Result<(), ApiError> {
        Ok(self.0.delete_document(T::KIND, key)?)
    }
}
