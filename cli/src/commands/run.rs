//! `sfnlite run FILE`: validate, run to the end, print the output.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_engine::mock::MockAdapter;
use sfnlite_engine::{Clock, Engine, MemoryStore, Registry, StartRequest, Status, SystemClock, VirtualClock};
use sfnlite_states::timestamp::format_millis;

use super::Failure;
use super::validate::{load, print_diagnostics};
use crate::args::{ClockKind, RunArgs, RunFormat};
use crate::input::{parse_json, read_file};

pub(crate) fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let (machine, diagnostics) = load(&args.definition)?;
    let Some(machine) = machine else {
        print_diagnostics(&args.definition.file, &diagnostics);
        return Err(Failure::usage(anyhow!("{}: the definition is invalid", args.definition.file.display())));
    };
    let input = match (&args.input, &args.input_file) {
        (Some(text), _) => parse_json(text, "--input").map_err(Failure::usage)?,
        (None, Some(path)) => {
            let text = read_file(path).map_err(Failure::usage)?;
            parse_json(&text, &path.display().to_string()).map_err(Failure::usage)?
        }
        (None, None) => json!({}),
    };
    let mut registry = Registry::new();
    if let (Some(path), Some(test_case)) = (&args.mock_config, &args.test_case) {
        let text = read_file(path).map_err(Failure::usage)?;
        let config = parse_json(&text, &path.display().to_string()).map_err(Failure::usage)?;
        let mock = MockAdapter::from_config(&config, args.state_machine_name.as_deref(), test_case)
            .map_err(|e| Failure::usage(anyhow!("{}: {e}", path.display())))?;
        registry.register(Arc::new(mock));
    }
    let state_machine_name = args.state_machine_name.clone().unwrap_or_else(|| {
        let file_name = args.definition.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let stem =
            file_name.strip_suffix(".asl.json").or_else(|| file_name.strip_suffix(".json")).unwrap_or(&file_name);
        stem.to_owned()
    });
    let seed = args.seed.unwrap_or_else(random_seed);
    let execution_name = args.name.clone().unwrap_or_else(|| {
        use sfnlite_states::entropy::{Entropy, SeededEntropy};
        SeededEntropy::new(seed ^ 0x5f3759df).uuid_v4()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(args.clock == ClockKind::Virtual)
        .build()
        .map_err(|e| Failure::internal(anyhow!("cannot start the runtime: {e}")))?;
    let result = runtime.block_on(async {
        let clock: Arc<dyn Clock> = match args.clock {
            ClockKind::Real => Arc::new(SystemClock),
            ClockKind::Virtual => Arc::new(VirtualClock::starting_at(SystemClock.now_millis())),
        };
        let engine = Engine::new(registry, clock, Arc::new(MemoryStore::new()));
        engine.run(&machine, StartRequest { state_machine_name, execution_name, input, seed }).await
    });
    let (info, outcome) = result.map_err(|e| Failure::internal(e.into()))?;
    match args.format {
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
    Ok(if outcome.status == Status::Succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A seed from the operating system's randomness (via the standard library's hasher keys).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(SystemClock.now_millis() as u64);
    hasher.finish()
}
