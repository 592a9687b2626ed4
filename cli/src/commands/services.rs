//! The Athena and S3 services that tasks and the `s3`/`athena` commands use, as the
//! settings choose them, and the adapters that put them behind Task resources.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::anyhow;
use sfnlite_adapters::athena::{AthenaApi, LocalAthena};
use sfnlite_adapters::lambda::{AwsLambda, Endpoints, LazyEndpoint, LocalLambda};
use sfnlite_adapters::s3::{LocalS3, ObjectStore};
use sfnlite_adapters::{AthenaTasks, HttpTasks, LambdaTasks, S3Tasks, aws};
use sfnlite_engine::{Callbacks, HistoryStore, Registry};
use sfnlite_server::{ApiSlot, LocalRuns, NestedExecutions};

use super::Failure;
use crate::args::Backend;
use crate::config::Settings;

/// The services: Athena, S3, and the Lambda functions that have local handlers.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) athena: Arc<dyn AthenaApi>,
    pub(crate) s3: Arc<dyn ObjectStore>,
    pub(crate) lambda: Arc<LocalLambda>,
    /// Where handlers reach sfnlite's S3, Athena and Step Functions APIs.
    pub(crate) endpoint: Arc<LazyEndpoint>,
    /// Answers to task tokens, shared by this process's engines and its API server.
    pub(crate) callbacks: Arc<Callbacks>,
    /// This process's Step Functions API, through which nested executions start.
    pub(crate) api: ApiSlot,
    /// HTTP Tasks, with the settings' connections.
    pub(crate) http: Arc<HttpTasks>,
    /// The executions this process runs itself, which its API can stop.
    pub(crate) local_runs: Arc<LocalRuns>,
    /// Lambda on AWS, when functions run there (`backend = "aws"`).
    pub(crate) aws_lambda: Option<Arc<AwsLambda>>,
}

/// Opens the services the settings choose. Locally, the config's `s3.buckets` are made
/// when missing and its `athena.init` scripts declare their databases and tables.
pub(crate) fn open(settings: &Settings) -> Result<Services, Failure> {
    let endpoint = Arc::new(LazyEndpoint::new());
    let region = settings.region.as_ref().map(|r| r.value.as_str()).unwrap_or("us-east-1");
    let functions = settings.lambdas.iter().map(|f| f.value.clone()).collect();
    let lambda = Arc::new(LocalLambda::new(functions, region, endpoint.clone()));
    // Nested executions need this process's API: `run` starts it (with its server) then.
    let starting = endpoint.clone();
    let api = ApiSlot::new(Some(Arc::new(move || starting.url().map(|_| ()))));
    let http = Arc::new(HttpTasks::new(settings.connections.clone(), region));
    let (athena, s3): Backends = match settings.backend.value {
        Backend::Aws => {
            let (athena, s3) = aws::backends(&settings.aws());
            (athena, s3)
        }
        Backend::Local => local_backends(settings)?,
    };
    let aws_lambda = (settings.lambda_backend.value == Backend::Aws).then(|| Arc::new(AwsLambda::new(settings.aws())));
    Ok(Services {
        athena,
        s3,
        lambda,
        endpoint,
        callbacks: Arc::default(),
        api,
        http,
        local_runs: Arc::default(),
        aws_lambda,
    })
}

/// An Athena and an S3.
type Backends = (Arc<dyn AthenaApi>, Arc<dyn ObjectStore>);

/// The embedded S3 and Athena: the config's `s3.buckets` are made when missing and its
/// `athena.init` scripts declare their databases and tables.
fn local_backends(settings: &Settings) -> Result<Backends, Failure> {
    let mounts: HashMap<String, std::path::PathBuf> = settings.mounts.clone().into_iter().collect();
    for (bucket, dir) in &mounts {
        sfnlite_adapters::s3::check_bucket_name(bucket).map_err(|e| Failure::usage(anyhow!("s3.mounts: {e}")))?;
        if !dir.is_dir() {
            return Err(Failure::usage(anyhow!(
                "the bucket {bucket} is mounted on {}, which is not a folder",
                dir.display()
            )));
        }
    }
    let s3 = LocalS3::new(settings.data_dir.value.clone(), mounts);
    for bucket in &settings.buckets {
        let dir = s3.bucket_dir(bucket).map_err(|e| Failure::usage(anyhow!("s3.buckets: {bucket}: {}", e.message)))?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::usage(anyhow!("cannot create the bucket folder {}: {e}", dir.display())))?;
    }
    let athena = LocalAthena::new(s3.clone(), settings.workgroups.clone());
    for script in &settings.athena_init {
        let text = std::fs::read_to_string(script)
            .map_err(|e| Failure::usage(anyhow!("cannot read the Athena init script {}: {e}", script.display())))?;
        athena.apply_ddl(&text, "default").map_err(|e| Failure::usage(anyhow!("{}: {e}", script.display())))?;
    }
    Ok((Arc::new(athena), Arc::new(s3)))
}

/// Adds the Athena, S3 and Lambda task adapters to `registry` (after any mocks, which
/// win); invocation logs go to `logs`.
pub(crate) fn register(
    registry: &mut Registry,
    services: &Services,
    virtual_clock: bool,
    logs: Option<Arc<dyn HistoryStore>>,
) {
    registry.register(Arc::new(AthenaTasks::new(services.athena.clone()).settle_queries(virtual_clock)));
    registry.register(Arc::new(S3Tasks::new(services.s3.clone())));
    let lambda = LambdaTasks::new(services.lambda.clone(), logs);
    registry.register(Arc::new(match &services.aws_lambda {
        Some(aws) => lambda.on_aws(aws.clone()),
        None => lambda,
    }));
    registry.register(Arc::new(NestedExecutions::new(services.api.clone())));
    registry.register(services.http.clone());
}
