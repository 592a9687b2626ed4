//! The query lifecycle: StartQueryExecution (checks, `ClientRequestToken` idempotency,
//! output-location precedence, the QUEUED record), running a query on the service runtime
//! (RUNNING, then SUCCEEDED with result files or FAILED), StopQueryExecution (CANCELLED)
//! and GetQueryExecution (which runs again a query whose process died).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use sfnlite_states::entropy::Entropy;
use tokio::sync::watch;

use super::errors::QueryFailure;
use super::query_exec::Output;
use super::record::{
    AthenaErrorInfo, EngineVersion, QueryExecution, QueryExecutionContext, QueryStatus, Record, ResultConfiguration,
    ResultReuseInformation, Statistics,
};
use super::requests::{QueryRequest, StartQueryExecution};
use super::statement::{StatementType, bind_parameters, sql_starts_with, statement_type, substatement_type};
use super::{Inner, Workgroup, now_millis, sorted};
use crate::athena::{AthenaError, QueryState};
use crate::s3::S3Url;

impl QueryStatus {
    /// Ends the query in `state`, now.
    fn end(&mut self, state: QueryState) {
        self.state = state;
        self.completion_date_time = Some(now_millis());
    }

    /// Ends the query FAILED, with Athena's reason and error.
    fn fail(&mut self, failure: &QueryFailure) {
        self.end(QueryState::Failed);
        self.state_change_reason = Some(failure.message.clone());
        self.athena_error = Some(AthenaErrorInfo {
            error_category: failure.category,
            error_message: failure.message.clone(),
            error_type: failure.error_type,
            retryable: false,
        });
    }
}

/// Where results go: AWS's precedence of the workgroup's location and the request's.
fn output_location(workgroup: &Workgroup, requested: Option<&str>) -> Result<S3Url, AthenaError> {
    let chosen = if workgroup.enforce_configuration {
        workgroup.output_location.as_deref().or(requested)
    } else {
        requested.or(workgroup.output_location.as_deref())
    };
    let Some(location) = chosen else {
        return Err(AthenaError::invalid_request(
            "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.",
        ));
    };
    S3Url::parse(location).map(|u| u.as_folder()).ok_or_else(|| {
        AthenaError::invalid_request(format!("outputLocation is not a valid S3 path. Provided {location}"))
    })
}

/// A new query's execution, QUEUED, its results to go to `<location><id>.csv|txt`.
fn new_execution(id: String, request: &QueryRequest<'_>, location: &S3Url) -> QueryExecution {
    let sql = request.sql;
    let statement_type = statement_type(sql);
    let csv = statement_type == StatementType::Dml || sql_starts_with(sql, "explain");
    let result_file = location.join(&format!("{id}.{}", if csv { "csv" } else { "txt" }));
    QueryExecution {
        engine_version: EngineVersion::default(),
        execution_parameters: request.execution_parameters.map(<[String]>::to_vec),
        query: sql.to_owned(),
        query_execution_context: QueryExecutionContext {
            database: request.database.map(str::to_owned),
            catalog: request.catalog.map(str::to_owned),
        },
        query_execution_id: id,
        result_configuration: ResultConfiguration { output_location: result_file.to_string() },
        result_reuse_configuration: Default::default(),
        statement_type,
        statistics: Statistics::default(),
        status: QueryStatus {
            state: QueryState::Queued,
            state_change_reason: None,
            submission_date_time: now_millis(),
            completion_date_time: None,
            athena_error: None,
        },
        substatement_type: substatement_type(sql).map(str::to_owned),
        work_group: request.workgroup_name.to_owned(),
    }
}

/// The statistics of a query that ran: bytes scanned and where its time went.
fn final_statistics(output: Option<&Output>, engine_millis: i64, queued_millis: i64) -> Statistics {
    Statistics {
        data_scanned_in_bytes: output.map_or(0, |o| o.scanned),
        engine_execution_time_in_millis: Some(engine_millis),
        query_planning_time_in_millis: Some(output.map_or(0, |o| o.planning_millis as i64)),
        query_queue_time_in_millis: Some(queued_millis),
        result_reuse_information: Some(ResultReuseInformation { reused_previous_result: false }),
        service_pre_processing_time_in_millis: Some(0),
        service_processing_time_in_millis: Some(0),
        total_execution_time_in_millis: engine_millis + queued_millis,
    }
}

impl Inner {
    /// StartQueryExecution: `{"QueryExecutionId"}`; the query runs in the background.
    pub(super) fn start(self: &Arc<Self>, request: &Value) -> Result<Value, AthenaError> {
        let parsed = StartQueryExecution::parse(request)?;
        let checked = parsed.check(&self.workgroups)?;
        let location = output_location(checked.workgroup, checked.output_location)?;
        self.create_workgroup_bucket(checked.workgroup, &location)?;

        // Idempotency: the same token with the same request is the same query.
        let token = parsed.client_request_token()?;
        if let Some((t, fingerprint)) = token
            && let Some(existing) = self.find_token(t)
        {
            return match &existing.token {
                Some((_, f)) if f == fingerprint => {
                    Ok(json!({"QueryExecutionId": existing.execution.query_execution_id}))
                }
                _ => Err(AthenaError::invalid_request(
                    "Idempotent parameters do not match: the ClientRequestToken was used with a different request",
                )),
            };
        }

        let id = self.ids.lock().expect("ids").uuid_v4();
        let record = Record {
            execution: new_execution(id.clone(), &checked, &location),
            token: token.map(|(t, f)| (t.to_owned(), f.to_owned())),
            metadata: None,
        };
        self.save(&record)?;
        self.launch(id.clone());
        Ok(json!({"QueryExecutionId": id}))
    }

    /// The workgroup's own output location: its bucket is created on first use.
    fn create_workgroup_bucket(&self, workgroup: &Workgroup, location: &S3Url) -> Result<(), AthenaError> {
        let configured = workgroup.output_location.as_deref().and_then(S3Url::parse).map(|u| u.as_folder());
        if configured.as_ref() == Some(location) {
            let dir = self.s3.bucket_dir(&location.bucket).map_err(|e| AthenaError::invalid_request(e.message))?;
            let _ = std::fs::create_dir_all(dir);
        }
        Ok(())
    }

    /// Starts running a stored query on the service runtime.
    pub(super) fn launch(self: &Arc<Self>, id: String) {
        let (done_tx, done_rx) = watch::channel(false);
        self.live.lock().expect("live").insert(id.clone(), done_rx);
        let inner = self.clone();
        let task_id = id.clone();
        let task = crate::service::query_handle().spawn(async move {
            use futures_util::FutureExt;
            // A panic in the engine must not leave the query RUNNING forever.
            if std::panic::AssertUnwindSafe(inner.execute(&task_id)).catch_unwind().await.is_err() {
                let failure = QueryFailure::internal("INTERNAL_ERROR: the query engine failed unexpectedly");
                let _ = inner.update(&task_id, |r| {
                    if !r.state().is_terminal() {
                        r.execution.status.fail(&failure);
                    }
                });
            }
            inner.aborts.lock().expect("aborts").remove(&task_id);
            let _ = done_tx.send(true);
        });
        let mut aborts = self.aborts.lock().expect("aborts");
        // A query that ended before this line removed nothing: do not keep its handle.
        if !task.is_finished() {
            aborts.insert(id, task.abort_handle());
        }
    }

    /// Runs a query: RUNNING, then the statement and its result files, then SUCCEEDED or
    /// FAILED (unless it was stopped meanwhile).
    async fn execute(self: &Arc<Self>, id: &str) {
        let started = Instant::now();
        let Ok(record) = self.update(id, |r| {
            if !r.state().is_terminal() {
                r.execution.status.state = QueryState::Running;
            }
        }) else {
            return;
        };
        if record.state().is_terminal() {
            return; // stopped before it ran
        }
        let execution = &record.execution;
        let queued = (now_millis() - execution.status.submission_date_time).max(0);
        let outcome = self.produce(execution).await;
        let engine_millis = started.elapsed().as_millis() as i64;
        let _ = self.update(id, |r| {
            if r.state().is_terminal() {
                return; // cancelled meanwhile
            }
            r.execution.statistics = final_statistics(outcome.as_ref().ok().map(|(o, _)| o), engine_millis, queued);
            match &outcome {
                Ok((_, metadata)) => {
                    r.execution.status.end(QueryState::Succeeded);
                    r.metadata = Some(metadata.clone());
                }
                Err(failure) => r.execution.status.fail(failure),
            }
        });
    }

    /// Runs a query's statement and writes its results: what it produced and where the
    /// result metadata is.
    async fn produce(&self, execution: &QueryExecution) -> Result<(Output, String), QueryFailure> {
        let database = execution.query_execution_context.database.as_deref().unwrap_or("default").to_lowercase();
        let parameters = execution.execution_parameters.as_deref().unwrap_or_default();
        let sql = bind_parameters(&execution.query, parameters)?;
        let limits = self
            .workgroups
            .get(&execution.work_group)
            .map_or_else(|| Workgroup::default().limits(), Workgroup::limits)
            .map_err(QueryFailure::internal)?;
        // Past the time limit the statement is dropped; its table reads (on threads of
        // their own) see the same deadline and stop.
        let deadline = std::time::Instant::now() + limits.timeout;
        let output =
            tokio::time::timeout(limits.timeout, self.run_statement(&sql, &database, limits.memory_bytes, deadline))
                .await
                .map_err(|_| QueryFailure::time_limit(limits.timeout))?
                .map_err(|failure| {
                    if failure.message.contains(crate::athena::table::SCAN_DEADLINE) {
                        QueryFailure::time_limit(limits.timeout)
                    } else {
                        failure
                    }
                })?;
        let location = &execution.result_configuration.output_location;
        let metadata = self.write_results(location, &output, location.ends_with(".csv")).await?;
        Ok((output, metadata))
    }

    /// StopQueryExecution: `{}`; a query that has not ended is CANCELLED.
    pub(super) fn stop(&self, id: &str) -> Result<Value, AthenaError> {
        let record = self.load(id)?;
        if record.state().is_terminal() {
            return Ok(json!({}));
        }
        if let Some(abort) = self.aborts.lock().expect("aborts").remove(id) {
            abort.abort();
        }
        self.update(id, |r| {
            if r.state().is_terminal() {
                return; // it ended meanwhile
            }
            r.execution.status.end(QueryState::Cancelled);
            r.execution.status.state_change_reason = Some("Query cancelled by user".into());
        })?;
        if let Some(rx) = self.live.lock().expect("live").remove(id) {
            drop(rx);
        }
        Ok(json!({}))
    }

    /// GetQueryExecution; a query left QUEUED or RUNNING by a process that died runs again.
    pub(super) fn get(self: &Arc<Self>, id: &str) -> Result<Value, AthenaError> {
        let record = self.load(id)?;
        if !record.state().is_terminal() && !self.live.lock().expect("live").contains_key(id) {
            self.launch(id.to_owned());
        }
        let execution = serde_json::to_value(&record.execution).expect("a query execution serializes");
        Ok(json!({"QueryExecution": sorted(execution)}))
    }
}
