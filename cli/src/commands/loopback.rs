//! The API server that handlers reach: `serve`'s, or, for `run`, one started on a free
//! loopback port the first time a Lambda handler runs, over the same store and services.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use sfnlite_engine::mock::MockAdapter;
use sfnlite_engine::{HistoryStore, Registry, SystemClock};
use sfnlite_server::executor::Executor;
use sfnlite_server::{Adapters, Api, Server, ServerLimits, Services as Served};

use super::services::{self, Services};
use super::setup::runtime;

/// Tasks of API executions: the MockConfigFile's test case when one is named, then the
/// Athena and S3 services.
pub(crate) struct ApiAdapters {
    pub(crate) services: Services,
    pub(crate) mock_config: Option<(PathBuf, Value)>,
    pub(crate) logs: Arc<dyn HistoryStore>,
}

impl Adapters for ApiAdapters {
    fn registry(&self, machine: &str, test_case: Option<&str>) -> Result<Registry, String> {
        let mut registry = Registry::new();
        if let Some(test_case) = test_case {
            let Some((path, config)) = &self.mock_config else {
                return Err(format!(
                    "the execution names the test case '{test_case}', but sfnlite serve was started without --mock-config"
                ));
            };
            let mock = MockAdapter::from_config(config, Some(machine), test_case)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            registry.register(Arc::new(mock));
        }
        services::register(&mut registry, &self.services, false, Some(self.logs.clone()));
        Ok(registry)
    }
}

/// Makes `services.endpoint` start a loopback server over `store` when a handler first
/// needs one (or a task waits for its token); it is advertised in `store_dir`, so that
/// `sfnlite task …` reaches it. The server lives as long as the process.
pub(crate) fn start_on_demand(services: &Services, store: Arc<dyn HistoryStore>, store_dir: Option<PathBuf>) {
    let served = services.clone();
    services.endpoint.start_with(Box::new(move || {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("sfnlite-endpoint".into()).spawn(move || {
            let ready = tx.clone();
            let started = (move || -> Result<(), String> {
                let executor = Executor::start().map_err(|e| e.to_string())?;
                let (athena, s3) = (served.athena.clone(), served.s3.clone());
                let region = served.lambda.region().to_owned();
                let (callbacks, slot, local) =
                    (served.callbacks.clone(), served.api.clone(), served.local_runs.clone());
                let adapters = Arc::new(ApiAdapters { services: served, mock_config: None, logs: store.clone() });
                let reader = Arc::new(super::reading::Reader(store.clone()));
                let api = Api::new(store, Arc::new(SystemClock), &region, adapters, executor);
                let api = Arc::new(api.with_callbacks(callbacks).with_local_runs(local));
                slot.fill(&api);
                let runtime = runtime(false).map_err(|e| e.error.to_string())?;
                runtime.block_on(async move {
                    let address = SocketAddr::from(([127, 0, 0, 1], 0));
                    let served =
                        Served { sfn: api, athena: Some(athena), s3: Some(s3), reader: Some(reader), keys: None };
                    let server =
                        Server::bind(address, served, ServerLimits::default()).await.map_err(|e| e.to_string())?;
                    let local = server.local_addr().map_err(|e| e.to_string())?;
                    let _ = ready.send(Ok(format!("http://{local}")));
                    server.run(std::future::pending()).await.map_err(|e| e.to_string())
                })
            })();
            if let Err(e) = started {
                let _ = tx.send(Err(e));
            }
        });
        if let Err(e) = spawned {
            return Err(format!("cannot start the handlers' endpoint: {e}"));
        }
        let url = rx
            .recv()
            .map_err(|_| "the handlers' endpoint ended before it served".to_owned())?
            .map_err(|e| format!("cannot start the handlers' endpoint: {e}"))?;
        if let Some(dir) = &store_dir {
            super::remote::advertise(dir, &url, super::remote::Role::Run);
        }
        Ok(url)
    }));
}
