//! TagResource, UntagResource and ListTagsForResource, for state machines and activities.

use serde_json::{Value, json};

use super::Api;
use super::arn;
use super::error::ApiError;
use super::model::{Activity, Documents, StateMachine, Tag};
use super::request::Request;

impl Api {
    /// The tagged resource must exist: a state machine or an activity.
    fn tagged(&self, request: &Request) -> Result<String, ApiError> {
        let arn = request.required("resourceArn")?.to_owned();
        let docs = Documents(self.store.as_ref());
        let exists = match arn::machine(&arn) {
            Ok(_) => docs.get::<StateMachine>(&arn)?.is_some(),
            Err(_) => {
                arn::activity(&arn)?;
                docs.get::<Activity>(&arn)?.is_some()
            }
        };
        if !exists {
            return Err(ApiError::resource_not_found(format!("Resource not found: '{arn}'")));
        }
        Ok(arn)
    }

    pub(super) fn tag_resource(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = self.tagged(request)?;
        let given = super::machines::tags(request)?;
        let _changing = self.changing();
        let docs = Documents(self.store.as_ref());
        let mut tags = docs.get::<Vec<Tag>>(&arn)?.unwrap_or_default();
        for tag in given {
            match tags.iter_mut().find(|t| t.key == tag.key) {
                Some(existing) => existing.value = tag.value,
                None => tags.push(tag),
            }
        }
        if tags.len() > 50 {
            return Err(ApiError::new("TooManyTags", format!("Too many tags on resource '{arn}' (at most 50)")));
        }
        docs.put(&arn, &tags)?;
        Ok(json!({}))
    }

    pub(super) fn untag_resource(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = self.tagged(request)?;
        let keys: Vec<String> = match request.value("tagKeys") {
            None => Vec::new(),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|e| ApiError::serialization(format!("tagKeys must be a list of strings: {e}")))?,
        };
        let _changing = self.changing();
        let docs = Documents(self.store.as_ref());
        let mut tags = docs.get::<Vec<Tag>>(&arn)?.unwrap_or_default();
        tags.retain(|t| !keys.contains(&t.key));
        docs.put(&arn, &tags)?;
        Ok(json!({}))
    }

    pub(super) fn list_tags(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = self.tagged(request)?;
        let tags = Documents(self.store.as_ref()).get::<Vec<Tag>>(&arn)?.unwrap_or_default();
        Ok(json!({"tags": tags}))
    }
}
