//! What `run` and `resume` share: opening the store, mocks, clocks, the runtime, and
//! printing an execution's end.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_engine::mock::MockAdapter;
use sfnlite_engine::{
    Clock, ExecutionInfo, ExecutionRecord, ExecutionStatus, HistoryStore, MemoryStore, Outcome, Registry, SledStore,
    StoreError, SystemClock, VirtualClock,
};
use sfnlite_states::timestamp::format_millis;

use super::Failure;
use super::observed::Observed;
use super::services::Services;
use crate::args::{MockArgs, RunFormat};
use crate::input::{parse_json, read_file};

/// Where the store is: `--store`, `SFNLITE_STORE`, or `.sfnlite` in the current directory.
pub(crate) fn store_dir(store: &Option<PathBuf>) -> PathBuf {
    store.clone().unwrap_or_else(|| PathBuf::from(".sfnlite"))
}

/// How long to wait for another process to release the store (`SFNLITE_LOCK_WAIT_MS`, default 10 s).
pub(crate) fn lock_wait() -> Duration {
    let millis = std::env::var("SFNLITE_LOCK_WAIT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    Duration::from_millis(millis)
}

/// Opens the store (or an in-memory one with `--ephemeral`).
pub(crate) fn open_store(store: &Option<PathBuf>, ephemeral: bool) -> Result<Arc<dyn HistoryStore>, Failure> {
    let opened: Arc<dyn HistoryStore> = if ephemeral {
        Arc::new(MemoryStore::new())
    } else {
        Arc::new(open_sled(&store_dir(store), lock_wait()).map_err(store_failure)?)
    };
    // The crash hook exists in debug builds only (the tests run those).
    let crash_after = if cfg!(debug_assertions) { std::env::var("SFNLITE_TEST_CRASH_AFTER_EVENT").ok() } else { None };
    match crash_after.and_then(|v| v.parse().ok()) {
        // Test hook (`SFNLITE_TEST_CRASH_AFTER_EVENT=N`): the process dies, as by `kill -9`,
        // right after the batch of events holding event N is stored. The crash tests use it
        // to stop a run at every event boundary.
        Some(after) => Ok(Arc::new(Observed::new(opened, move |_, events| events.iter().any(|e| e.id >= after)))),
        None => Ok(opened),
    }
}

/// A store that cannot be used is an internal failure (exit 3), except when another
/// process holds it or it is too new: the user can act on those (exit 2).
pub(crate) fn store_failure(error: StoreError) -> Failure {
    match error {
        StoreError::InUse { .. } | StoreError::NewerFormat { .. } => Failure::usage(error.into()),
        StoreError::Corrupt { .. } => Failure::internal(anyhow::anyhow!(
            "{error}\n`sfnlite store check` lists what is intact; `sfnlite store salvage DIR` copies it into a new store"
        )),
        other => Failure::internal(other.into()),
    }
}

/// The adapters: the mocks of `--mock-config`, when given (they win), then Athena, S3 and
/// the Lambda functions' handlers (whose logs go to `store`).
pub(crate) fn registry(
    mocks: &MockArgs,
    services: &Services,
    virtual_clock: bool,
    store: &Arc<dyn HistoryStore>,
    store_dir: Option<PathBuf>,
) -> Result<Registry, Failure> {
    let mut registry = Registry::new();
    if let (Some(path), Some(test_case)) = (&mocks.mock_config, &mocks.test_case) {
        let text = read_file(path).map_err(Failure::usage)?;
        let config = parse_json(&text, &path.display().to_string()).map_err(Failure::usage)?;
        let mock = MockAdapter::from_config(&config, mocks.state_machine_name.as_deref(), test_case)
            .map_err(|e| Failure::usage(anyhow!("{}: {e}", path.display())))?;
        registry.register(Arc::new(mock));
    }
    super::services::register(&mut registry, services, virtual_clock, Some(store.clone()));
    let advertise = store_dir.is_some();
    super::loopback::start_on_demand(services, store.clone(), store_dir);
    if advertise {
        // Another terminal can read this store (`sfnlite history`, `task …`) while this
        // process holds it: its API server starts beside the execution, which does not wait.
        let endpoint = services.endpoint.clone();
        let _ = std::thread::Builder::new()
            .name("sfnlite-endpoint-start".into())
            .spawn(move || sfnlite_adapters::lambda::Endpoints::url(endpoint.as_ref()));
    }
    Ok(registry)
}

/// Refuses a definition that statically names a Lambda function with neither a local
/// handler nor a mock for its state.
pub(crate) fn check_functions(definition: &str, registry: &Registry, services: &Services) -> Result<(), Failure> {
    // On AWS, the functions are AWS's to find.
    if services.aws_lambda.is_some() {
        return Ok(());
    }
    let Ok(definition) = serde_json::from_str::<Value>(definition) else { return Ok(()) };
    for (state, resource, function) in sfnlite_adapters::static_functions(&definition) {
        let mocked = registry.find(&state, &resource).is_some_and(|a| a.name() == "mock");
        if mocked || services.lambda.has(&function) {
            continue;
        }
        let known = services.lambda.names();
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        return Err(Failure::usage(anyhow!(
            "state '{state}' invokes the Lambda function '{function}', which has no local handler and no mock \
             (functions with handlers: {known}). Map it in sfnlite.toml:\n\n  [lambda.functions.\"{function}\"]\n  \
             handler = \"python:lambdas/{file}.py:handler\"\n\nor on the command line: --lambda '{function}=python:lambdas/{file}.py:handler' \
             (also node:FILE:FUNCTION, cmd:COMMAND), or mock the state with --mock-config",
            file = function.replace(['-', '<', '>', ' '], "_").trim_matches('_')
        )));
    }
    Ok(())
}

/// Starts the API server at once when the definition has tasks that wait for a token, so
/// that `sfnlite task …` and other programs can answer them while the execution runs.
pub(crate) fn serve_tokens(definition: &str, services: &Services) {
    if (definition.contains(".waitForTaskToken") || definition.contains(":activity:"))
        && let Err(e) = sfnlite_adapters::lambda::Endpoints::url(services.endpoint.as_ref())
    {
        eprintln!("sfnlite: warning: task tokens can be answered only from this process: {e}");
    }
}

/// Ctrl-C ends the process as before, and takes the Lambda workers (which lead process
/// groups of their own, out of the terminal's reach) with it. For `run`, `resume` and
/// `redrive`; `serve` shuts down gracefully instead.
pub(crate) fn interrupt_takes_workers() {
    extern "C" fn on_interrupt(_: libc::c_int) {
        sfnlite_adapters::lambda::kill_all_workers();
        // SAFETY: `signal` and `raise` are async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::raise(libc::SIGINT);
        }
    }
    // SAFETY: installs a handler that only uses async-signal-safe calls.
    unsafe {
        libc::signal(libc::SIGINT, on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

/// Small pages, for a command that opens a store to read a little of it (`executions`,
/// `describe`, `history`, `logs`, `schedules`, `map-runs`, `task`, `stop`). mimalloc (v3)
/// advises the kernel to back its memory with transparent huge pages (`MADV_HUGEPAGE`; they
/// are used where the system's THP setting is `always` or `madvise`), which make executions
/// faster (fewer page faults; on 2026-12-02, CPU time with and without: loop10k 10.5 / 16.6
/// ms, payload 285 / 654 ms) but turn the first touch of a 2 MiB region into 2 MiB of memory:
/// `executions list` on an empty store took 49 MiB with them, 15 MiB without. Later page
/// faults of this process get 4 KiB pages; no child process is started by these commands.
pub(crate) fn small_pages() {
    SMALL_PAGES.store(true, std::sync::atomic::Ordering::Relaxed);
    set_huge_pages(REFUSED);
}

/// Set once a command chose small pages for its whole life.
static SMALL_PAGES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A huge-page setting as `PR_GET_THP_DISABLE` gives it: 0 allowed, 1 refused, 3 refused
/// except where advised (Linux 6.18); -1 unknown.
type HugePages = libc::c_int;
const REFUSED: HugePages = 1;

/// This process's huge-page setting (inherited from its parent).
fn huge_pages() -> HugePages {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_GET_THP_DISABLE takes no pointer and only reads the setting.
    unsafe {
        let zero: libc::c_ulong = 0;
        libc::prctl(libc::PR_GET_THP_DISABLE, zero, zero, zero, zero)
    }
    #[cfg(not(target_os = "linux"))]
    -1
}

/// Sets how this process's later page faults are served (an unknown setting is left).
fn set_huge_pages(setting: HugePages) {
    #[cfg(target_os = "linux")]
    if setting >= 0 {
        // The first argument refuses or allows; the second carries the flags a refusal
        // had (2: PR_THP_DISABLE_EXCEPT_ADVISED, accepted by the kernel that reported it).
        let (refused, flags) = (libc::c_ulong::from(setting != 0), (setting & 2) as libc::c_ulong);
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments and changes only how this
        // process's later page faults are served; a failure leaves the setting as it was.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, refused, flags, 0 as libc::c_ulong, 0 as libc::c_ulong);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = setting;
}

/// Opens the store in `dir` (see [`SledStore::open`]) on small pages. sled's first open in
/// a process allocates 41 metrics histograms of 512 KiB (though its metrics are off); with
/// huge pages each first touch zeroed a 2 MiB page: 58 % of a persisted one-state `run`'s
/// samples (2026-12-02, perf). With small pages (and sled allocating them zeroed,
/// Cargo.toml) only the pages touched are made. Huge pages come back for the execution
/// as the process had them, unless the command chose small pages.
pub(crate) fn open_sled(dir: &std::path::Path, wait: Duration) -> Result<SledStore, StoreError> {
    let setting = huge_pages();
    set_huge_pages(REFUSED);
    let opened = SledStore::open(dir, wait);
    if !SMALL_PAGES.load(std::sync::atomic::Ordering::Relaxed) {
        set_huge_pages(setting);
    }
    opened
}

/// A current-thread runtime; paused time for the virtual clock.
pub(crate) fn runtime(virtual_clock: bool) -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .start_paused(virtual_clock)
        .build()
        .map_err(|e| Failure::internal(anyhow!("cannot start the runtime: {e}")))
}

/// The clock; a virtual one starts at `virtual_start` (or now). Call inside the runtime.
pub(crate) fn clock(virtual_clock: bool, virtual_start: Option<i64>) -> Arc<dyn Clock> {
    if virtual_clock {
        Arc::new(VirtualClock::starting_at(virtual_start.unwrap_or_else(|| SystemClock.now_millis())))
    } else {
        Arc::new(SystemClock)
    }
}

/// What an execution left running in this process, waited for before it exits: queued
/// Lambda `Event` invocations, child executions, and Athena queries (the embedded Athena
/// runs them in the process; on AWS they would finish after the execution too).
pub(crate) fn settle(services: &Services) {
    services.lambda.wait_for_queued();
    let children = services.api.running_children();
    if children > 0 {
        eprintln!(
            "sfnlite: waiting for {children} child execution(s) this run started (Ctrl-C leaves them to `sfnlite resume`)"
        );
    }
    services.api.wait_for_children();
    let queries = services.athena.running();
    if queries > 0 {
        eprintln!("sfnlite: waiting for {queries} Athena query(ies) the execution started to end");
        sfnlite_adapters::service::handle().block_on(services.athena.settle());
    }
}

/// Prints how an execution ended: data on stdout, the error on stderr.
pub(crate) fn report(info: &ExecutionInfo, outcome: &Outcome, format: RunFormat) {
    match format {
        RunFormat::Json => {
            let report = json!({
                "executionArn": info.arn,
                "name": info.name,
                "status": outcome.status.as_str(),
                "output": outcome.output,
                "error": outcome.error,
                "cause": outcome.cause,
                "startDate": format_millis(outcome.start_millis),
                "stopDate": format_millis(outcome.stop_millis),
            });
            println!("{report}");
        }
        RunFormat::Text => {
            if let Some(output) = &outcome.output {
                println!("{}", serde_json::to_string_pretty(output).unwrap_or_else(|_| Value::Null.to_string()));
            } else {
                eprintln!(
                    "sfnlite: execution {} {}: {}{}",
                    info.name,
                    outcome.status.as_str(),
                    outcome.error.as_deref().unwrap_or("(no error name)"),
                    outcome.cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
                );
            }
        }
    }
}

/// Exit 0 when the execution succeeded, 1 otherwise.
pub(crate) fn exit_code(outcome: &Outcome) -> std::process::ExitCode {
    if outcome.status == ExecutionStatus::Succeeded {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}

/// What answers a continued execution's tasks: the mocks of the command line (else the
/// config's for the machine's file), then the services.
#[derive(Clone, Copy)]
pub(crate) struct TaskSetup<'a> {
    pub(crate) mocks: &'a MockArgs,
    pub(crate) services: &'a Services,
    pub(crate) settings: &'a crate::config::Settings,
}

/// How to carry on a stored execution.
#[derive(Clone, Copy)]
pub(crate) enum Continue {
    /// Finish one a process left RUNNING.
    Resume,
    /// Restart one that ended unsuccessfully.
    Redrive,
}

/// Resumes or redrives a stored execution on the clock it was started with (a virtual one
/// starts where its history stopped), then reports how it ended.
pub(crate) fn continue_execution(
    how: Continue,
    record: &ExecutionRecord,
    store: &Arc<dyn HistoryStore>,
    stop_dir: Option<PathBuf>,
    tasks: TaskSetup<'_>,
    format: RunFormat,
) -> Result<std::process::ExitCode, Failure> {
    let TaskSetup { mocks, services, settings } = tasks;
    let last_time = store.events(&record.arn).map_err(store_failure)?.last().map(|e| e.timestamp);
    // Without --mock-config, the config's mocks for the file the machine was named after.
    let mut mocks = mocks.clone();
    if mocks.mock_config.is_none()
        && let Some(defaults) = settings.defaults_for_machine(&record.state_machine_name)
        && let (Some(config), Some(test_case)) = (&defaults.mock_config, &defaults.test_case)
    {
        mocks.mock_config = Some(config.clone());
        mocks.test_case = Some(test_case.clone());
    }
    let stop_dir_for_withdraw = stop_dir.clone();
    let registry = registry(&mocks, services, record.virtual_clock, store, stop_dir.clone())?;
    let definition = store.state_machine(&record.definition_hash).ok().flatten().map(|m| m.definition);
    serve_tokens(definition.as_deref().unwrap_or_default(), services);
    let result = runtime(record.virtual_clock)?.block_on(async {
        let engine = sfnlite_engine::Engine::new(registry, clock(record.virtual_clock, last_time), store.clone())
            .with_callbacks(services.callbacks.clone());
        let (api_stop, ended) = services.local_runs.register(&record.arn);
        let signalled = super::stop::stop_signal(stop_dir, record.arn.clone(), record.name.clone());
        let stop = async move {
            tokio::select! {
                request = signalled => request,
                Ok(request) = api_stop => request,
            }
        };
        let result = match how {
            Continue::Resume => engine.resume(&record.arn, stop).await,
            Continue::Redrive => engine.redrive(&record.arn, stop).await,
        };
        let _ = ended.send(true);
        result
    });
    settle(services);
    if let Some(dir) = &stop_dir_for_withdraw {
        super::remote::withdraw(dir);
    }
    let (info, outcome) = result.map_err(super::engine_failure)?;
    let verb = match how {
        Continue::Resume => "resumed",
        Continue::Redrive => "redrove",
    };
    eprintln!("sfnlite: {verb} {}: {}", info.name, outcome.status.as_str());
    report(&info, &outcome, format);
    Ok(exit_code(&outcome))
}
