//! ListMapRuns and DescribeMapRun: a distributed Map's Map Runs, as the engine records
//! them (store documents of kind `map-runs`), with epoch-second dates. The children are
//! listed by ListExecutions with `mapRunArn`.

use serde_json::{Value, json};
use sfnlite_engine::MAP_RUN_KIND;

use super::error::ApiError;
use super::paging::{listing, newest_first, page};
use super::request::Request;
use super::{Api, seconds};

/// A stored Map Run with its dates as the API sends them.
fn api_form(mut document: Value) -> Value {
    for key in ["startDate", "stopDate", "redriveDate"] {
        if let Some(millis) = document.get(key).and_then(Value::as_i64) {
            document[key] = seconds(millis);
        }
    }
    document
}

impl Api {
    pub(super) fn list_map_runs(&self, request: &Request) -> Result<Value, ApiError> {
        let execution = request.required("executionArn")?;
        let max = request.max_results(1000, 100)?;
        let token = request.next_token(1024)?;
        if self.store.execution(execution)?.is_none() {
            return Err(ApiError::no_execution(execution));
        }
        let runs: Vec<Value> = self
            .store
            .documents(MAP_RUN_KIND)?
            .into_iter()
            .map(|(_, run)| run)
            .filter(|run| run["executionArn"] == execution)
            .collect();
        let key = |run: &Value| format!("{}{}", newest_first(run["startDate"].as_i64().unwrap_or(0)), run["mapRunArn"]);
        let (runs, next) = page(runs, max, token, &format!("ListMapRuns {execution}"), key)?;
        let items = runs
            .into_iter()
            .map(|run| {
                let mut item = json!({"executionArn": run["executionArn"], "mapRunArn": run["mapRunArn"],
                    "stateMachineArn": run["stateMachineArn"], "startDate": run["startDate"]});
                if let Some(stop) = run.get("stopDate") {
                    item["stopDate"] = stop.clone();
                }
                api_form(item)
            })
            .collect();
        Ok(listing("mapRuns", items, next))
    }

    pub(super) fn describe_map_run(&self, request: &Request) -> Result<Value, ApiError> {
        let arn = request.required("mapRunArn")?;
        let run = self
            .store
            .document(MAP_RUN_KIND, arn)?
            .ok_or_else(|| ApiError::resource_not_found(format!("Map Run Does Not Exist: '{arn}'")))?;
        Ok(api_form(run))
    }
}
