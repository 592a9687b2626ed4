//! Athena task resources: the optimized integration (`arn:aws:states:::athena:…`, with
//! `.sync` for StartQueryExecution) and the SDK integration (`…:aws-sdk:athena:…`).

use std::sync::Arc;

use serde_json::Value;
use sfnlite_engine::{TaskAdapter, TaskRequest};
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::{ErrorName, StatesError};

use super::request_id;
use crate::BoxFuture;
use crate::athena::{AthenaApi, AthenaError, QueryState, state_of};
use crate::service;

/// The Athena calls sfnlite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    StartQueryExecution,
    GetQueryExecution,
    GetQueryResults,
    StopQueryExecution,
}

/// A call, and how the resource asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AthenaTask {
    call: Call,
    /// The SDK integration (errors in SDK v2 style).
    sdk: bool,
    /// `.sync`: wait for the query to end.
    sync: bool,
}

impl AthenaTask {
    /// The task a resource names, if it is one this adapter runs.
    fn of(resource: &Resource) -> Option<AthenaTask> {
        let integration = resource.integration().filter(|i| i.service == "athena")?;
        let call = match integration.action.as_str() {
            "startQueryExecution" => Call::StartQueryExecution,
            "getQueryExecution" => Call::GetQueryExecution,
            "getQueryResults" => Call::GetQueryResults,
            "stopQueryExecution" => Call::StopQueryExecution,
            _ => return None,
        };
        let sync = match integration.pattern {
            IntegrationPattern::RequestResponse => false,
            // The SDK integrations support callbacks: the call's answer is `TaskSubmitted`'s.
            IntegrationPattern::WaitForTaskToken if integration.sdk => false,
            IntegrationPattern::Sync if call == Call::StartQueryExecution && !integration.sdk => true,
            _ => return None,
        };
        Some(AthenaTask { call, sdk: integration.sdk, sync })
    }
}

/// Athena task resources.
#[derive(Clone)]
pub struct AthenaTasks {
    api: Arc<dyn AthenaApi>,
    settle: bool,
}

impl AthenaTasks {
    /// The Athena tasks, on `api`.
    pub fn new(api: Arc<dyn AthenaApi>) -> AthenaTasks {
        AthenaTasks { api, settle: false }
    }

    /// Under a virtual clock, service work takes no virtual time: a request-response
    /// `startQueryExecution` then returns once its query has ended, so that the polling
    /// loops of workflows see the same states on every run.
    pub fn settle_queries(mut self, settle: bool) -> AthenaTasks {
        self.settle = settle;
        self
    }

    /// `startQueryExecution.sync`: starts the query and waits for its end; a query that
    /// does not succeed fails the task with its final GetQueryExecution as the cause.
    async fn start_and_wait(&self, parameters: Value, request: &TaskRequest) -> Result<Value, StatesError> {
        let api = self.api.clone();
        let started = service::run(async move { api.start_query_execution(parameters).await })
            .await
            .map_err(|e| athena_error(&e, false, request))?;
        let id = query_id(&started);
        let mut guard = StopOnDrop { api: self.api.clone(), id: Some(id.clone()) };
        let api = self.api.clone();
        let done = service::run(async move { api.wait_for_query(id).await }).await;
        guard.id = None;
        let done = done.map_err(|e| athena_error(&e, false, request))?;
        match state_of(&done) {
            Some(QueryState::Succeeded) => Ok(done),
            _ => Err(StatesError::new(ErrorName::TaskFailed, done.to_string())),
        }
    }

    /// A request-response call.
    async fn call(&self, call: Call, parameters: Value) -> Result<Value, AthenaError> {
        let api = self.api.clone();
        match call {
            Call::StartQueryExecution => {
                let settle = self.settle;
                service::run(async move {
                    let started = api.start_query_execution(parameters).await?;
                    if settle && let Some(id) = started.get("QueryExecutionId").and_then(Value::as_str) {
                        api.wait_for_query(id.to_owned()).await?;
                    }
                    Ok(started)
                })
                .await
            }
            Call::GetQueryExecution => {
                let id = query_id(&parameters);
                service::run(async move { api.get_query_execution(id).await }).await
            }
            Call::GetQueryResults => service::run(async move { api.get_query_results(parameters).await }).await,
            Call::StopQueryExecution => {
                let id = query_id(&parameters);
                service::run(async move { api.stop_query_execution(id).await }).await
            }
        }
    }
}

fn query_id(parameters: &Value) -> String {
    parameters.get("QueryExecutionId").and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn athena_error(error: &AthenaError, sdk: bool, request: &TaskRequest) -> StatesError {
    let id = request_id(request);
    let cause = if sdk {
        format!("{} (Service: Athena, Status Code: {}, Request ID: {id})", error.message, error.status)
    } else {
        format!(
            "{} (Service: AmazonAthena; Status Code: {}; Error Code: {}; Request ID: {id}; Proxy: null)",
            error.message, error.status, error.code
        )
    };
    StatesError::new(ErrorName::parse(&format!("Athena.{}", error.code)), cause)
}

/// Stops a `.sync` query if its task is dropped before the query ends.
struct StopOnDrop {
    api: Arc<dyn AthenaApi>,
    id: Option<String>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let api = self.api.clone();
            service::handle().spawn(async move {
                let _ = api.stop_query_execution(id).await;
            });
        }
    }
}

impl TaskAdapter for AthenaTasks {
    fn name(&self) -> &str {
        "athena"
    }

    fn handles(&self, _state_name: &str, resource: &Resource) -> bool {
        AthenaTask::of(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(async move {
            let Some(task) = AthenaTask::of(&request.resource) else {
                let message = format!("the Athena adapter does not run '{}'", request.resource);
                return Err(StatesError::new(ErrorName::Runtime, message));
            };
            let parameters = (*request.parameters).clone();
            if task.sync {
                return self.start_and_wait(parameters, &request).await;
            }
            self.call(task.call, parameters).await.map_err(|e| athena_error(&e, task.sdk, &request))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(arn: &str) -> Option<AthenaTask> {
        AthenaTask::of(&Resource::parse(arn).unwrap())
    }

    #[test]
    fn resources_name_calls() {
        let sync = task("arn:aws:states:::athena:startQueryExecution.sync").unwrap();
        assert_eq!(sync, AthenaTask { call: Call::StartQueryExecution, sdk: false, sync: true });
        let sdk = task("arn:aws-cn:states:::aws-sdk:athena:getQueryResults").unwrap();
        assert_eq!(sdk, AthenaTask { call: Call::GetQueryResults, sdk: true, sync: false });
        assert_eq!(task("arn:aws:states:::athena:getQueryResults.sync"), None, "only a query start can be .sync");
        assert_eq!(task("arn:aws:states:::aws-sdk:athena:startQueryExecution.sync"), None);
        assert_eq!(task("arn:aws:states:::athena:createNamedQuery"), None);
        assert_eq!(task("arn:aws:states:::lambda:invoke"), None);
    }
}
