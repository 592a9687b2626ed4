//! `sfnlite serve`: the Step Functions API on loopback, over the store and the services
//! that `run` uses. RUNNING executions left by a previous process resume at start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::anyhow;
use sfnlite_engine::{Clock, SystemClock};
use sfnlite_server::executor::Executor;
use sfnlite_server::sigv4::Keys;
use sfnlite_server::{Api, Server, ServerLimits, Services as Served};

use super::Failure;
use super::loopback::ApiAdapters;
use super::services::Services;
use super::setup::{open_store, runtime};
use crate::args::{LogFormat, ServeArgs};
use crate::config::Settings;
use crate::input::{parse_json, read_file};

fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `--require-auth`'s keys: `[serve.access_keys]`, each secret read from its variable.
pub(crate) fn access_keys(settings: &Settings) -> Result<Keys, Failure> {
    if settings.access_keys.is_empty() {
        return Err(Failure::usage(anyhow!(
            "--require-auth: no access keys; declare them in sfnlite.toml as [serve.access_keys] KEY_ID = \"VARIABLE_WITH_THE_SECRET\""
        )));
    }
    let mut keys = HashMap::new();
    for (id, variable) in &settings.access_keys {
        match std::env::var(variable) {
            Ok(secret) if !secret.is_empty() => {
                keys.insert(id.clone(), secret);
            }
            _ => {
                return Err(Failure::usage(anyhow!(
                    "--require-auth: [serve.access_keys] {id} names the variable {variable}, which is not set"
                )));
            }
        }
    }
    Ok(Keys(keys))
}

/// A fresh access key for this server's own clients (Lambda handlers, sfnlite commands
/// going through it), so that `--require-auth` never needs a user's key for them.
fn internal_key() -> Result<(String, String), Failure> {
    // From the kernel's CSPRNG, the id and the secret drawn apart (the id travels in clear).
    let mut bytes = [0u8; 40];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes))
        .map_err(|e| Failure::internal(anyhow!("cannot read /dev/urandom for the server's own key: {e}")))?;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    Ok((format!("SFNLITE{}", hex(&bytes[..8]).to_uppercase()), hex(&bytes[8..])))
}

pub(crate) fn serve(
    args: &ServeArgs,
    services: Services,
    keys: Option<Keys>,
    settings: &Settings,
    store: &Option<PathBuf>,
    ephemeral: bool,
) -> Result<ExitCode, Failure> {
    if !args.bind.is_loopback() && !args.allow_remote {
        return Err(Failure::usage(anyhow!(
            "--bind {}: sfnlite serves loopback only unless told otherwise; pass --allow-remote (and --require-auth to check signatures) to listen on {} anyway",
            args.bind,
            args.bind
        )));
    }
    let own = if keys.is_some() { Some(internal_key()?) } else { None };
    let keys = keys.map(|mut keys| {
        if let Some((id, secret)) = &own {
            keys.0.insert(id.clone(), secret.clone());
        }
        Arc::new(keys)
    });
    if let Some((id, secret)) = &own {
        services.endpoint.set_credentials(id.clone(), secret.clone());
    }
    let mock_config = match &args.mock_config {
        None => None,
        Some(path) => {
            let text = read_file(path).map_err(Failure::usage)?;
            Some((path.clone(), parse_json(&text, &path.display().to_string()).map_err(Failure::usage)?))
        }
    };
    init_logging(args.log_format);
    let advertised = (!ephemeral).then(|| super::setup::store_dir(store));
    let store = open_store(store, ephemeral)?;
    super::prune::retain(store.as_ref(), settings.retention);
    if let Some(retention) = settings.retention {
        // A server runs for days: the retention looks again every hour (and acts once a day).
        let kept = store.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3_600));
                super::prune::retain(kept.as_ref(), Some(retention));
            }
        });
    }
    let schedules_store = store.clone();
    let executor =
        Executor::start().map_err(|e| Failure::internal(anyhow!("cannot start the execution thread: {e}")))?;
    let (athena, s3, endpoint) = (services.athena.clone(), services.s3.clone(), services.endpoint.clone());
    let region = services.lambda.region().to_owned();
    let (callbacks, slot, local) = (services.callbacks.clone(), services.api.clone(), services.local_runs.clone());
    let adapters = Arc::new(ApiAdapters { services, mock_config, logs: store.clone() });
    let reader = Arc::new(super::reading::Reader(store.clone()));
    let api = Arc::new(
        Api::new(store, Arc::new(SystemClock), &region, adapters, executor)
            .with_callbacks(callbacks)
            .with_local_runs(local),
    );
    slot.fill(&api);
    let limits = ServerLimits {
        max_object: args.max_object_mib.saturating_mul(1024 * 1024),
        any_host: !args.bind.is_loopback(),
        ..ServerLimits::default()
    };
    runtime(false)?.block_on(async move {
        let address = SocketAddr::new(args.bind, args.port);
        let server = Server::bind(
            address,
            Served { sfn: api.clone(), athena: Some(athena), s3: Some(s3), reader: Some(reader), keys },
            limits,
        )
        .await
        .map_err(|e| Failure::usage(anyhow!("cannot listen on {address}: {e}")))?;
        let local = server.local_addr().map_err(|e| Failure::internal(e.into()))?;
        // Handlers reach this server (on loopback even when it listens on all addresses).
        let reachable =
            if local.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], local.port())) } else { local };
        endpoint.set(format!("http://{reachable}"));
        if let Some(dir) = &advertised {
            let userinfo = own.as_ref().map(|(id, secret)| format!("{id}:{secret}@")).unwrap_or_default();
            super::remote::advertise(dir, &format!("http://{userinfo}{reachable}"), super::remote::Role::Serve);
        }
        // Only once the port is ours (and handlers know it): a server that cannot listen
        // must not run anything.
        super::schedules::declare(&settings.schedules, schedules_store.as_ref(), &api, SystemClock.now_millis()).await?;
        let resumed = api.resume_running().map_err(|e| Failure::internal(anyhow!("{}: {}", e.name, e.message)))?;
        if !local.ip().is_loopback() {
            let checked = if own.is_some() { "signatures checked" } else { "with no authentication" };
            eprintln!("sfnlite: warning: listening on {local}, reachable from other machines, {checked}");
        }
        if resumed > 0 {
            eprintln!("sfnlite: resuming {resumed} RUNNING execution(s)");
        }
        eprintln!("sfnlite: serving the Step Functions API on http://{local}");
        // The schedules run beside the server, until it stops.
        let starter = Box::new(super::schedules::ThroughApi(api.clone()));
        let schedules = super::schedules::runner(schedules_store, Arc::new(SystemClock), starter, &region);
        let served = tokio::select! {
            served = server.run(shutdown()) => served,
            () = schedules.run(None, &super::schedules::report) => unreachable!("a scheduler on the real clock runs until stopped"),
        };
        if let Some(dir) = &advertised {
            super::remote::withdraw(dir);
        }
        served.map_err(|e| Failure::internal(e.into()))?;
        eprintln!("sfnlite: stopped; RUNNING executions resume when sfnlite serve starts again");
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGTERM or SIGINT.
pub(crate) async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
