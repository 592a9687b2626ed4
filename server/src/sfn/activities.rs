//! Activities: CreateActivity, DescribeActivity, ListActivities, DeleteActivity, and
//! GetActivityTask (workers take the tasks that Task states schedule for an activity).

use serde_json::{Value, json};

use super::arn;
use super::error::ApiError;
use super::machines::tags;
use super::model::{Activity, Documents, Tag};
use super::paging::{listing, page};
use super::request::Request;
use super::{Api, seconds};

/// How long GetActivityTask waits for a task (AWS: 60 s).
const POLL: std::time::Duration = std::time::Duration::from_secs(60);

impl Api {
    fn activity_doc(&self, arn: &str) -> Result<Activity, ApiError> {
        arn::activity(arn)?;
        Documents(self.store.as_ref()).get::<Activity>(arn)?.ok_or_else(|| ApiError::no_activity(arn))
    }

    pub(super) fn create_activity(&self, request: &Request) -> Result<Value, ApiError> {
        let name = request.required("name")?;
        if !arn::valid_name(name) {
            return Err(ApiError::invalid_name(name));
        }
        let tags = tags(request)?;
        let arn = self.arn("activity", name);
        let _changing = self.changing();
        let docs = Documents(self.store.as_ref());
        // Creating an existing activity answers with it (CreateActivity is idempotent).
        let activity = match docs.get::<Activity>(&arn)? {
            Some(existing) => existing,
            None => {
                let activity = Activity { arn: arn.clone(), name: name.to_owned(), creation_date: self.now() };
                docs.put(&arn, &activity)?;
                activity
            }
        };
        if !tags.is_empty() {
            docs.put(&arn, &tags)?;
        }
        Ok(json!({"activityArn": activity.arn, "creationDate": seconds(activity.creation_date)}))
    }

    pub(super) fn describe_activity(&self, request: &Request) -> Result<Value, ApiError> {
        let activity = self.activity_doc(request.required("activityArn")?)?;
        Ok(json!({
            "activityArn": activity.arn,
            "name": activity.name,
            "creationDate": seconds(activity.creation_date),
            "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
        }))
    }

    pub(super) fn list_activities(&self, request: &Request) -> Result<Value, ApiError> {
        let max = request.max_results(1000, 100)?;
        let token = request.next_token(1024)?;
        let activities = Documents(self.store.as_ref()).all::<Activity>()?;
        let (activities, next) = page(activities, max, token, "ListActivities", |a| a.arn.clone())?;
        let items: Vec<Value> = activities
            .iter()
            .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": seconds(a.creation_date)}))
            .collect();
        Ok(listing("activities", items, next))
    }

    pub(super) fn delete_activity(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = request.required("activityArn")?;
        arn::activity(arn)?;
        let _changing = self.changing();
        let docs = Documents(self.store.as_ref());
        docs.delete::<Activity>(arn)?;
        docs.delete::<Vec<Tag>>(arn)?;
        Ok(json!({}))
    }

    /// GetActivityTask: no Task state schedules activities yet, so a poll of an existing
    /// activity finds no work (`{}`, as AWS answers when its long poll times out).
    /// GetActivityTask: the oldest task scheduled for the activity, waiting up to 60 s for
    /// one (AWS's long poll); `{}` when none came.
    pub(super) async fn get_activity_task(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = request.required("activityArn")?;
        self.activity_doc(arn)?;
        let worker = request.string("workerName")?.map(str::to_owned);
        if worker.as_ref().is_some_and(|w| w.chars().count() > 80) {
            return Err(ApiError::constraint("…", "workerName", "Member must have length less than or equal to 80"));
        }
        Ok(match self.callbacks.take(arn, worker, POLL).await {
            Some(task) => json!({"taskToken": task.token, "input": task.input.to_string()}),
            None => json!({}),
        })
    }
}
