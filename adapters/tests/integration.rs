//! The adapters' integration tests: the embedded Athena and the local S3 through their
//! APIs and through Step Functions tasks, and the AWS backends against a real server
//! speaking AWS's protocols on loopback (moto).

mod aws_moto;
mod local_athena;
mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};
use sfnlite_adapters::athena::{AthenaApi, LocalAthena, Workgroup};
use sfnlite_adapters::s3::{LocalS3, ObjectStore, PutRequest};

/// A data root with a local S3 and Athena over it; `primary` writes to s3://results/.
pub(crate) struct Local {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) s3: LocalS3,
    pub(crate) athena: LocalAthena,
}

pub(crate) fn local() -> Local {
    local_with(BTreeMap::new())
}

pub(crate) fn local_with(mut workgroups: BTreeMap<String, Workgroup>) -> Local {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("results")).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let s3 = LocalS3::new(dir.path(), HashMap::new());
    workgroups.entry("primary".into()).or_insert(Workgroup {
        output_location: Some("s3://results/".into()),
        enforce_configuration: false,
        ..Workgroup::default()
    });
    let athena = LocalAthena::new(s3.clone(), workgroups);
    Local { dir, s3, athena }
}

/// Runs `f` on the service runtime, as the adapters do.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    sfnlite_adapters::service::handle().block_on(f)
}

impl Local {
    pub(crate) fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        block_on(self.s3.put_object(PutRequest {
            bucket: bucket.into(),
            key: key.into(),
            body: body.into(),
            ..Default::default()
        }))
        .unwrap();
    }

    /// Runs a statement to its end; the final GetQueryExecution response.
    pub(crate) fn run(&self, sql: &str, database: Option<&str>) -> Value {
        let mut request = json!({"QueryString": sql});
        if let Some(db) = database {
            request["QueryExecutionContext"] = json!({"Database": db});
        }
        block_on(self.athena.run_statement(request)).unwrap()
    }

    /// Runs a statement that must succeed; its id.
    pub(crate) fn ok(&self, sql: &str, database: Option<&str>) -> String {
        let done = self.run(sql, database);
        assert_eq!(done["QueryExecution"]["Status"]["State"], "SUCCEEDED", "{sql}: {done:#}");
        done["QueryExecution"]["QueryExecutionId"].as_str().unwrap().to_owned()
    }

    /// The data rows of a query (header dropped), NULL as None.
    pub(crate) fn rows(&self, sql: &str, database: Option<&str>) -> Vec<Vec<Option<String>>> {
        let id = self.ok(sql, database);
        let page = block_on(self.athena.get_query_results(json!({"QueryExecutionId": id}))).unwrap();
        assert!(page.get("NextToken").is_none());
        page["ResultSet"]["Rows"].as_array().unwrap()[1..]
            .iter()
            .map(|row| {
                row["Data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.get("VarCharValue").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .collect()
    }

    pub(crate) fn api(&self) -> Arc<dyn AthenaApi> {
        Arc::new(self.athena.clone())
    }
}

/// `Some(text)` helpers for expected rows.
pub(crate) fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}
