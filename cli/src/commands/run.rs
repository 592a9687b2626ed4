//! `sfnlite run FILE`: validate, run to the end (recording it), print the output.

use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::json;
use sfnlite_engine::entropy::{new_uuid, os_seed};
use sfnlite_engine::{Engine, ExecutionOrigin, Registry, StartRequest};

use super::Failure;
use super::progress::Progress;
use super::services::Services;
use super::setup::{check_functions, clock, exit_code, open_store, registry, report, runtime, serve_tokens, store_dir};
use super::stop::stop_signal;
use super::validate::{load, print_diagnostics};
use crate::args::{ClockKind, MachineType, RunArgs};
use crate::config::Settings;
use crate::input::{execution_input, read_file};

pub(crate) fn run(
    args: &RunArgs,
    settings: &Settings,
    services: &Services,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
) -> Result<ExitCode, Failure> {
    let stop_dir = (!ephemeral).then(|| store_dir(store));
    let advertised = stop_dir.clone();
    // The config's defaults for this file: substitutions (flags win), mocks and clock.
    let defaults = settings.definition_defaults(&args.definition.file).cloned().unwrap_or_default();
    let mut definition = args.definition.clone();
    definition.substitutions.extend(defaults.substitutions.iter().map(|(k, v)| format!("{k}={v}")));
    let mut mocks = args.mocks.clone();
    if mocks.mock_config.is_none()
        && let (Some(config), Some(test_case)) = (&defaults.mock_config, &defaults.test_case)
    {
        mocks.mock_config = Some(config.clone());
        mocks.test_case = Some(test_case.clone());
    }
    let (text, machine, diagnostics) = load(&definition)?;
    let Some(machine) = machine else {
        print_diagnostics(&args.definition.file, &diagnostics);
        return Err(Failure {
            error: anyhow!("{}: the definition is invalid", args.definition.file.display()),
            exit_code: 1,
        });
    };
    let input = match (&args.input, &args.input_file) {
        (Some(text), _) => execution_input(text, "--input").map_err(Failure::usage)?,
        (None, Some(path)) => {
            let text = read_file(path).map_err(Failure::usage)?;
            execution_input(&text, &path.display().to_string()).map_err(Failure::usage)?
        }
        (None, None) => json!({}),
    };
    let virtual_clock = args.clock.or(defaults.clock) == Some(ClockKind::Virtual);
    let state_machine_name = mocks.state_machine_name.clone().unwrap_or_else(|| {
        let file_name = args.definition.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let stem =
            file_name.strip_suffix(".asl.json").or_else(|| file_name.strip_suffix(".json")).unwrap_or(&file_name);
        // A name from the file name follows AWS's rule too: what it forbids becomes `_`.
        let name: String = stem
            .chars()
            .map(|c| if sfnlite_server::sfn::arn::valid_name(&c.to_string()) { c } else { '_' })
            .take(80)
            .collect();
        if name.is_empty() { "definition".to_owned() } else { name }
    });
    for (flag, name) in [("--name", args.name.as_ref()), ("--state-machine-name", mocks.state_machine_name.as_ref())] {
        if let Some(name) = name.filter(|name| !sfnlite_server::sfn::arn::valid_name(name)) {
            return Err(Failure::usage(anyhow!(
                "{flag} {name:?}: a name is 1 to 80 characters, without whitespace, brackets, ? * \" # % \\ ^ | ~ ` $ & , ; : / or control characters (AWS's rule)"
            )));
        }
    }
    // A running `sfnlite serve` holds the store: the execution runs there.
    if let Some(url) = stop_dir.as_deref().and_then(super::run_remote::serving) {
        if let Some(what) = super::run_remote::refusal(args, virtual_clock, mocks.mock_config.is_some(), settings) {
            return Err(Failure::usage(anyhow!(
                "the store is held by sfnlite serve, which runs executions on its own clock and adapters, so {what} cannot apply; stop the server, or use another --store or --ephemeral"
            )));
        }
        return super::run_remote::run(&url, args, &state_machine_name, &text, &input);
    }
    let store = open_store(store, ephemeral)?;
    super::prune::retain(store.as_ref(), settings.retention);
    let registry = registry(&mocks, services, virtual_clock, &store, stop_dir.clone())?;
    check_functions(&text, &registry, services)?;
    serve_tokens(&text, services);
    let seed = args.seed.unwrap_or_else(os_seed);
    // The default name comes from the operating system's randomness, not from --seed:
    // two runs with the same seed are two executions.
    let execution_name = args.name.clone().unwrap_or_else(new_uuid);
    let arn = Engine::new(Registry::new(), clock(virtual_clock, None), store.clone())
        .execution_arn(&state_machine_name, &execution_name);
    let (store, progress) = Progress::start(store, &arn, virtual_clock, args.quiet);
    let result = runtime(virtual_clock)?.block_on(async {
        let engine =
            Engine::new(registry, clock(virtual_clock, None), store).with_callbacks(services.callbacks.clone());
        // Stopped by `sfnlite stop` (a signal) or by StopExecution through this process's API.
        let (api_stop, ended) = services.local_runs.register(&arn);
        let signalled = stop_signal(stop_dir, arn, execution_name.clone());
        let stop = async move {
            tokio::select! {
                request = signalled => request,
                Ok(request) = api_stop => request,
            }
        };
        let request = StartRequest {
            state_machine_name,
            definition: text,
            execution_name,
            input,
            seed,
            virtual_clock,
            origin: ExecutionOrigin {
                test_case: mocks.mock_config.as_ref().and(mocks.test_case.clone()),
                sync_express: args.machine_type == MachineType::Express,
                express: args.machine_type == MachineType::Express,
                ..Default::default()
            },
        };
        let result = engine.run(&machine, request, stop).await;
        let _ = ended.send(true);
        result
    });
    progress.finish();
    let (info, outcome) = result.map_err(super::engine_failure)?;
    super::setup::settle(services);
    if let Some(dir) = &advertised {
        super::remote::withdraw(dir);
    }
    report(&info, &outcome, args.format);
    Ok(exit_code(&outcome))
}
