//! Running cases: each in an engine of its own (a store in memory, a virtual clock from
//! the file's start, its mocks first, then the services' adapters), so cases run in
//! parallel in one process and every run of a case is the same.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use sfnlite_engine::clock::VirtualClock;
use sfnlite_engine::mock::MockAdapter;
use sfnlite_engine::{Engine, ExecutionOrigin, HistoryStore, Registry, StartRequest, StopRequest};
use sfnlite_states::StateMachine;
use sfnlite_states::history::HistoryEvent;

use super::expect::{Mismatch, Observed};
use super::file::{Broken, Case, TestFile};
use crate::commands::services::{self, Services};
use sfnlite_adapters::lambda::{FunctionConfig, LocalLambda};

/// A file ready to run: its definition parsed, each case's mocks checked.
pub(crate) struct Prepared {
    pub(crate) file: TestFile,
    /// The services its cases use (the file's Lambda handlers over the config's).
    services: Services,
    /// The definition as run (substituted).
    pub(crate) text: String,
    machine: Arc<StateMachine>,
    /// Each case's MockConfigFile (one test case, `case`), when it has mocks.
    mocks: Vec<Option<Value>>,
}

/// How a case ended.
#[derive(Debug)]
pub(crate) enum Verdict {
    Passed,
    Failed(Vec<Mismatch>),
    /// It could not run (the engine or a service failed).
    Error(String),
}

/// A case's result.
#[derive(Debug)]
pub(crate) struct CaseResult {
    pub(crate) file: PathBuf,
    pub(crate) name: String,
    pub(crate) verdict: Verdict,
    /// Wall time.
    pub(crate) millis: f64,
    /// The execution's history (for coverage; empty when it could not run).
    pub(crate) events: Vec<HistoryEvent>,
    /// The execution's ARN in the test store, when one ran.
    pub(crate) arn: Option<String>,
}

/// The name of the test case made of a case's mocks.
const CASE: &str = "sfnlite-test-case";

/// The services of a file's cases: its Lambda handlers over the config's `functions`.
fn file_services(file: &TestFile, services: &Services, functions: &[FunctionConfig]) -> Result<Services, String> {
    if file.handlers.is_empty() {
        return Ok(services.clone());
    }
    let mut all: Vec<FunctionConfig> = functions.to_vec();
    for (name, spec) in &file.handlers {
        let mut config =
            FunctionConfig::from_spec(name, spec, None, None, &std::path::absolute(&file.dir).unwrap_or_default())
                .map_err(|e| format!("/handlers/{name}: {e}"))?;
        // The config's interpreter for the runtime, if it names one.
        config.interpreter = functions.iter().find(|f| f.runtime == config.runtime).and_then(|f| f.interpreter.clone());
        config.environment.insert("SFNLITE_VIRTUAL_SLEEP".into(), "1".into());
        all.retain(|f| f.name != *name);
        all.push(config);
    }
    let lambda = LocalLambda::new(all, services.lambda.region(), services.endpoint.clone());
    Ok(Services { lambda: Arc::new(lambda), ..services.clone() })
}

/// Parses the definition and checks every case's mocks (a problem is a broken file).
pub(crate) fn prepare(
    mut file: TestFile,
    services: &Services,
    functions: &[FunctionConfig],
) -> Result<Prepared, Broken> {
    let broken = |message: String| Broken { file: file.path.clone(), message };
    let services = &file_services(&file, services, functions).map_err(broken)?;
    let source = std::fs::read_to_string(&file.definition)
        .map_err(|e| broken(format!("/definition: cannot read {}: {e}", file.definition.display())))?;
    let text =
        crate::input::substitute(&source, &file.substitutions).map_err(|e| broken(format!("/substitutions: {e}")))?;
    let (machine, diagnostics) = sfnlite_states::parse_definition(&text);
    let Some(machine) = machine else {
        let first = diagnostics.iter().find(|d| d.severity == sfnlite_states::Severity::Error);
        let what = first.map(ToString::to_string).unwrap_or_else(|| "invalid".into());
        return Err(broken(format!("/definition: {}: {what}", file.definition.display())));
    };
    if let Ok(definition) = serde_json::from_str::<Value>(&text) {
        state_names(&definition, &mut file.state_names);
    }
    let mut mocks = Vec::with_capacity(file.cases.len());
    for case in &file.cases {
        let config = mock_config(&file, case).map_err(&broken)?;
        if let Some(config) = &config {
            MockAdapter::from_config(config, Some(&file.state_machine_name), CASE)
                .map_err(|e| broken(e.to_string()))?;
        }
        // A Lambda function the definition names needs a handler or a mock (a single-state
        // case calls at most its state's).
        if case.single.is_some() {
            mocks.push(None);
            continue;
        }
        let mut registry = Registry::new();
        if let Some(config) = &config
            && let Ok(adapter) = MockAdapter::from_config(config, Some(&file.state_machine_name), CASE)
        {
            registry.register(Arc::new(adapter));
        }
        crate::commands::setup::check_functions(&text, &registry, services)
            .map_err(|f| broken(format!("/cases/{}: {}", case.index, f.error)))?;
        mocks.push(config);
    }
    Ok(Prepared { services: services.clone(), file, text, machine: Arc::new(machine), mocks })
}

/// Every state name of a definition, nested machines' too.
fn state_names(machine: &Value, names: &mut std::collections::BTreeSet<String>) {
    for (name, state) in machine["States"].as_object().into_iter().flatten() {
        names.insert(name.clone());
        for field in ["ItemProcessor", "Iterator"] {
            state_names(&state[field], names);
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            state_names(branch, names);
        }
    }
}

/// The MockConfigFile of one case: the file's test case (when named), with the case's
/// inline mocks over it, as test case [`CASE`]. Problems name where they are.
fn mock_config(file: &TestFile, case: &Case) -> Result<Option<Value>, String> {
    if case.test_case.is_none() && case.mocks.is_empty() {
        return Ok(None);
    }
    let machine = &file.state_machine_name;
    let mut states = Map::new();
    let mut responses = Map::new();
    if let (Some(test_case), Some((path, config))) = (&case.test_case, &file.mock_config) {
        // The MockConfigFile's own problems, located in it.
        let named = config["StateMachines"].get(machine).map(|_| machine.as_str());
        let at_file = |e: sfnlite_engine::mock::MockConfigError| {
            let message = e.to_string().replace("with --state-machine-name", "with the test file's stateMachineName");
            format!("/mockConfig: {}: {message}", path.display())
        };
        MockAdapter::from_config(config, named, test_case).map_err(at_file)?;
        let machines = config["StateMachines"].as_object().into_iter().flatten();
        let chosen = match named {
            Some(name) => config["StateMachines"][name].clone(),
            None => machines.map(|(_, m)| m.clone()).next().unwrap_or_default(),
        };
        if let Some(mapping) = chosen["TestCases"][test_case].as_object() {
            states.extend(mapping.clone());
        }
        if let Some(all) = config["MockedResponses"].as_object() {
            responses.extend(all.clone());
        }
    }
    for (state, entries) in &case.mocks {
        if !file.state_names.contains(state) {
            return Err(format!("/cases/{}/mocks/{state}: the definition has no state named '{state}'", case.index));
        }
        let name = format!("sfnlite-inline:{state}");
        // Checked apart, so that a problem points into the test file.
        let alone = json!({"StateMachines": {machine: {"TestCases": {CASE: {state: name}}}},
            "MockedResponses": {name.clone(): entries}});
        MockAdapter::from_config(&alone, Some(machine), CASE).map_err(|e| {
            let inner = e.location.strip_prefix(&format!("/MockedResponses/{name}")).unwrap_or("");
            format!("/cases/{}/mocks/{state}{inner}: {}", case.index, e.message)
        })?;
        states.insert(state.clone(), json!(name));
        responses.insert(name, entries.clone());
    }
    Ok(Some(json!({"StateMachines": {machine: {"TestCases": {CASE: states}}}, "MockedResponses": responses})))
}

/// An execution name from a case's name (letters, digits, `-` and `_`) and a digest of
/// its file and name, so that cases of different files never share one (at most 80).
fn execution_name(file: &std::path::Path, case: &Case) -> String {
    let slug: String = case
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(70)
        .collect();
    let slug = slug.trim_matches('-');
    let key = format!("{}#{}", file.display(), case.name);
    let digest = key.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    if slug.is_empty() { format!("case-{}-{digest:08x}", case.index) } else { format!("{slug}-{digest:08x}") }
}

/// How cases run.
#[derive(Clone)]
pub(crate) struct Options {
    /// Write snapshots instead of comparing them.
    pub(crate) update_snapshots: bool,
    /// The longest a case may run, in wall time (a case that waits for a callback or an
    /// activity nobody answers would wait forever).
    pub(crate) case_timeout: std::time::Duration,
    /// Where every case's execution is kept: the store the handlers' endpoint serves, so
    /// that a handler can answer a task token (executions are in memory).
    pub(crate) store: Arc<dyn HistoryStore>,
}

/// Runs case `index` of a prepared file.
pub(crate) fn run_case(prepared: &Prepared, index: usize, options: &Options) -> CaseResult {
    let case = &prepared.file.cases[index];
    let started = Instant::now();
    let (verdict, events, arn) = match execute(prepared, index, &prepared.services, options) {
        Ok((mismatches, events, arn)) if mismatches.is_empty() => (Verdict::Passed, events, arn),
        Ok((mismatches, events, arn)) => (Verdict::Failed(mismatches), events, arn),
        Err(error) => (Verdict::Error(error), Vec::new(), None),
    };
    CaseResult {
        file: prepared.file.path.clone(),
        name: case.name.clone(),
        verdict,
        millis: started.elapsed().as_secs_f64() * 1000.0,
        events,
        arn,
    }
}

/// What a case's run gave: its mismatches, its history and its execution's ARN (none for a
/// single-state case).
type Ran = (Vec<Mismatch>, Vec<HistoryEvent>, Option<String>);

fn execute(prepared: &Prepared, index: usize, services: &Services, options: &Options) -> Result<Ran, String> {
    let (file, case) = (&prepared.file, &prepared.file.cases[index]);
    if let Some(single) = &case.single {
        let timing = (file.clock_start, case.seed);
        let mismatches = super::single::run(single, &prepared.text, &case.input, timing, services)?;
        return Ok((mismatches, Vec::new(), None));
    }
    let mut registry = Registry::new();
    if let Some(config) = &prepared.mocks[index] {
        let adapter =
            MockAdapter::from_config(config, Some(&file.state_machine_name), CASE).map_err(|e| e.to_string())?;
        registry.register(Arc::new(adapter));
    }
    let store = options.store.clone();
    services::register(&mut registry, services, true, Some(store.clone()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let request = StartRequest {
        state_machine_name: file.state_machine_name.clone(),
        definition: prepared.text.clone(),
        execution_name: case.execution_name.clone().unwrap_or_else(|| execution_name(&file.path, case)),
        input: case.input.clone(),
        seed: case.seed,
        virtual_clock: true,
        origin: ExecutionOrigin { test_case: case.test_case.clone(), ..Default::default() },
    };
    // A watchdog on the wall clock stops a case that runs too long (it ends ABORTED).
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let limit = options.case_timeout;
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let _ = stop_tx.send(());
            return true;
        }
        false
    });
    let ran = runtime.block_on(async {
        let clock = Arc::new(VirtualClock::starting_at(file.clock_start));
        let engine = Engine::new(registry, clock, store.clone()).with_callbacks(services.callbacks.clone());
        let stop = async move {
            match stop_rx.await {
                Ok(()) => StopRequest {
                    error: Some("sfnlite.CaseTimeout".into()),
                    cause: Some(format!("the case ran for more than {} s", limit.as_secs())),
                },
                Err(_) => std::future::pending().await,
            }
        };
        engine.run(&prepared.machine, request, stop).await
    });
    drop(done_tx);
    if watchdog.join().unwrap_or(false) {
        return Err(format!(
            "the case ran for more than {} s of wall time (--case-timeout) and was stopped: does a handler or a service it calls never answer?",
            limit.as_secs()
        ));
    }
    let (info, outcome) = ran.map_err(|e| format!("the execution could not run: {e}"))?;
    let events = store.events(&info.arn).map_err(|e| format!("its history could not be read: {e}"))?;
    let observed = Observed {
        status: outcome.status.as_str(),
        output: outcome.output.as_ref(),
        error: outcome.error.as_deref(),
        cause: outcome.cause.as_deref(),
        events: &events,
        start_millis: outcome.start_millis,
        stop_millis: outcome.stop_millis,
    };
    let mut mismatches = case.expect.check(&observed);
    if case.expect.snapshot {
        let path = super::snapshot::path(&file.path, &case.name);
        mismatches.extend(super::snapshot::check(
            &path,
            &super::snapshot::take(&observed, &events),
            options.update_snapshots,
        ));
    }
    Ok((mismatches, events, Some(info.arn)))
}
