//! `sfnlite test [PATH…]`: finds test files (`*.sfntest.yaml|yml|json`; by default under
//! `tests/` and `definitions/`), runs their cases in parallel in this process, and reports
//! (text, JSON, JUnit XML). Exit codes: 0 every case passed, 1 a case failed or could not
//! run, 2 a test file is broken (or there is none), as for usage errors.
//!
//! `file.rs` reads the files, `expect.rs` checks an execution against a case,
//! `run.rs` runs cases, `report.rs` writes the reports.

mod coverage;
mod expect;
mod file;
mod record;
mod report;
mod run;
mod single;
mod snapshot;
mod thread;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::anyhow;

use super::Failure;
use super::services::Services;
use crate::args::{RecordArgs, TestArgs, TestCommand, TestFormat};

pub(crate) fn test(
    args: &TestArgs,
    services: &Services,
    settings: &crate::config::Settings,
    store: &Option<std::path::PathBuf>,
) -> Result<ExitCode, Failure> {
    if let Some(TestCommand::Record(record)) = &args.command {
        return record_test(record, store);
    }
    let paths = file::discover(&args.paths).map_err(|e| Failure::usage(anyhow!(e)))?;
    if paths.is_empty() {
        let where_ = if args.paths.is_empty() { "tests/ or definitions/".to_owned() } else { "the paths given".into() };
        return Err(Failure::usage(anyhow!(
            "no test files (*.sfntest.yaml, *.sfntest.yml, *.sfntest.json) under {where_}"
        )));
    }
    // Handlers reach S3, Athena and Step Functions through a loopback endpoint, started
    // when one first needs it (its store: executions that handlers start).
    let api_store: std::sync::Arc<dyn sfnlite_engine::HistoryStore> =
        std::sync::Arc::new(sfnlite_engine::MemoryStore::new());
    super::loopback::start_on_demand(services, api_store.clone(), None);
    let mut broken = Vec::new();
    let mut prepared = Vec::new();
    for path in &paths {
        let functions: Vec<_> = settings.lambdas.iter().map(|f| f.value.clone()).collect();
        match file::read(path).and_then(|f| run::prepare(f, services, &functions)) {
            Ok(file) => prepared.push(file),
            Err(problem) => broken.push(problem),
        }
    }
    let filter = args.filter.as_deref().map(str::to_lowercase);
    let jobs: Vec<(usize, usize)> = prepared
        .iter()
        .enumerate()
        .flat_map(|(f, p)| (0..p.file.cases.len()).map(move |c| (f, c)))
        .filter(|(f, c)| {
            let title = format!("{} › {}", prepared[*f].file.path.display(), prepared[*f].file.cases[*c].name);
            filter.as_ref().is_none_or(|needle| title.to_lowercase().contains(needle))
        })
        .collect();
    if jobs.is_empty() && filter.is_some() && broken.is_empty() {
        return Err(Failure::usage(anyhow!(
            "--filter: no case matches '{}'",
            args.filter.as_deref().unwrap_or_default()
        )));
    }
    let options = run::Options {
        update_snapshots: args.update_snapshots,
        case_timeout: std::time::Duration::from_secs(args.case_timeout),
        store: api_store.clone(),
    };
    let workers = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<run::CaseResult>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let progress = std::io::stderr().is_terminal() && jobs.len() > 1;
    let finished = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let job = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(f, c)) = jobs.get(job) else { break };
                    let result = run::run_case(&prepared[f], c, &options);
                    done.lock().unwrap_or_else(|e| e.into_inner())[job] = Some(result);
                    let count = finished.fetch_add(1, Ordering::Relaxed) + 1;
                    if progress {
                        eprint!("\r\x1b[2Ksfnlite test: {count}/{} case(s)", jobs.len());
                    }
                }
            });
        }
    });
    if progress {
        eprint!("\r\x1b[2K");
    }
    let results: Vec<run::CaseResult> =
        done.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect();
    // Coverage, per definition (as run), over every case that ran it.
    let covered = (args.coverage || args.min_coverage.is_some()).then(|| {
        let mut all: BTreeMap<String, coverage::Coverage> = BTreeMap::new();
        // One row per definition file, however test files reach it.
        let key_of = |path: &std::path::Path| {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            let here = std::env::current_dir().ok().and_then(|d| std::fs::canonicalize(d).ok());
            match here.as_ref().and_then(|here| canonical.strip_prefix(here).ok()) {
                Some(relative) => relative.display().to_string(),
                None => canonical.display().to_string(),
            }
        };
        // The definitions that cases ran (not single-state ones, not filtered out).
        let ran =
            |f: usize| jobs.iter().any(|(file, case)| *file == f && prepared[f].file.cases[*case].single.is_none());
        for file in prepared.iter().enumerate().filter(|(f, _)| ran(*f)).map(|(_, p)| p) {
            let key = key_of(&file.file.definition);
            let definition: serde_json::Value = serde_json::from_str(&file.text).unwrap_or_default();
            all.entry(key).or_insert_with(|| coverage::Coverage::new(coverage::Model::of(&definition)));
        }
        for (job, result) in jobs.iter().zip(&results) {
            let key = key_of(&prepared[job.0].file.definition);
            if let Some(entry) = all.get_mut(&key) {
                entry.model.observe(&result.events, &mut entry.hit);
            }
        }
        all
    });
    match args.format {
        TestFormat::Text => {
            print!("{}", report::text(&results, &broken, paths.len(), args.verbose));
            if let Some(all) = &covered {
                print!("{}", coverage::table(all));
            }
        }
        TestFormat::Json => {
            let mut report = report::json(&results, &broken);
            if let Some(all) = &covered {
                report["coverage"] = coverage::json(all);
            }
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        }
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&results, &broken))
            .map_err(|e| Failure::usage(anyhow!("--junit: cannot write {}: {e}", path.display())))?;
    }
    if let Some(dir) = &args.html {
        let written = report::html_pages(dir, &results, &prepared, api_store.as_ref())
            .map_err(|e| Failure::usage(anyhow!("--html: cannot write into {}: {e}", dir.display())))?;
        if written > 0 {
            eprintln!("sfnlite test: {written} page(s) of failing cases in {}", dir.display());
        }
    }
    let totals = report::totals(&results);
    let below = match (&covered, args.min_coverage) {
        (Some(all), Some(minimum)) => {
            let (c, t) = coverage::overall(all);
            let percent = if t == 0 { 100.0 } else { c as f64 * 100.0 / t as f64 };
            let below = percent + 1e-9 < minimum;
            if below {
                eprintln!("sfnlite: coverage {percent:.1}% is below --min-coverage {minimum}%");
            }
            below
        }
        _ => false,
    };
    Ok(if !broken.is_empty() {
        ExitCode::from(2)
    } else if totals.failed + totals.errors > 0 || below {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `sfnlite test record`: writes NAME.sfntest.yaml, NAME.mock.json (when a Task answered)
/// and, from the store, NAME.asl.json (the definition as it ran).
fn record_test(args: &RecordArgs, store: &Option<std::path::PathBuf>) -> Result<ExitCode, Failure> {
    let usage = |e: String| Failure::usage(anyhow!(e));
    let (history, definition_text, machine, case) = match (&args.execution, &args.from_history) {
        (Some(execution), _) => {
            let opened = super::setup::open_store(store, false)?;
            let record = sfnlite_engine::find_execution(opened.as_ref(), execution).map_err(super::engine_failure)?;
            let events = opened.events(&record.arn).map_err(super::setup::store_failure)?;
            let definition = opened
                .state_machine(&record.definition_hash)
                .map_err(super::setup::store_failure)?
                .ok_or_else(|| usage(format!("the definition of {} is not in the store", record.arn)))?
                .definition;
            let mut case = serde_json::Map::new();
            case.insert("name".into(), serde_json::json!(format!("replays {}", record.name)));
            case.insert("executionName".into(), serde_json::json!(record.name));
            case.insert("seed".into(), serde_json::json!(record.seed));
            (sfnlite_engine::history_json(&events), Some(definition), record.state_machine_name, case)
        }
        (None, Some(path)) => {
            let text = crate::input::read_file(path).map_err(Failure::usage)?;
            let history = crate::input::parse_json(&text, &path.display().to_string()).map_err(Failure::usage)?;
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "recorded".into());
            let mut case = serde_json::Map::new();
            case.insert("name".into(), serde_json::json!(format!("replays {stem}")));
            let machine = args
                .definition
                .as_ref()
                .and_then(|d| d.file_name())
                .map(|f| f.to_string_lossy().trim_end_matches(".json").trim_end_matches(".asl").to_owned())
                .unwrap_or(stem);
            (history, None, machine, case)
        }
        (None, None) => return Err(usage("give an execution, or --from-history FILE --definition FILE".into())),
    };
    let recorded = record::read(&history).map_err(|e| usage(format!("the history: {e}")))?;
    let name = args.name.clone().unwrap_or_else(|| machine.replace('/', "-"));
    std::fs::create_dir_all(&args.out).map_err(|e| usage(format!("--out: cannot make {}: {e}", args.out.display())))?;
    let mut written = Vec::new();
    let mut write = |file: String, text: String| -> Result<(), Failure> {
        let path = args.out.join(&file);
        if path.exists() && !args.force {
            return Err(usage(format!("{} exists (--force replaces it)", path.display())));
        }
        std::fs::write(&path, text).map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
        Ok(())
    };
    // The definition: as it ran (from the store), or as given (relative to --out).
    let definition = match (&definition_text, &args.definition) {
        (Some(text), _) => {
            let file = format!("{name}.asl.json");
            let pretty = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| text.clone());
            write(file.clone(), pretty + "\n")?;
            file
        }
        (None, Some(path)) => relative(path, &args.out),
        (None, None) => unreachable!("clap requires --definition with --from-history"),
    };
    let mocks = format!("{name}.mock.json");
    if !recorded.answers.is_empty() {
        let config = record::mock_config(&recorded, &machine);
        write(mocks.clone(), serde_json::to_string_pretty(&config).unwrap_or_default() + "\n")?;
    }
    let mut file = record::test_file(&recorded, &definition, &mocks, &machine, &case);
    if !args.substitutions.is_empty() {
        let mut subs = serde_json::Map::new();
        for pair in &args.substitutions {
            let (key, value) = pair
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| usage(format!("--sub {pair}: expected KEY=VALUE")))?;
            subs.insert(key.to_owned(), serde_json::json!(value));
        }
        if let Some(object) = file.as_object_mut() {
            // Right after the definition it applies to.
            let mut ordered = serde_json::Map::new();
            for (key, value) in std::mem::take(object) {
                let definition = key == "definition";
                ordered.insert(key, value);
                if definition {
                    ordered.insert("substitutions".into(), serde_json::Value::Object(subs.clone()));
                }
            }
            *object = ordered;
        }
    }
    let yaml = serde_norway::to_string(&file).map_err(|e| Failure::internal(anyhow!("cannot write YAML: {e}")))?;
    let header = "# Recorded by `sfnlite test record`: replays the execution offline, its Task states\n# answered as they were (the MockConfigFile's test case Recorded).\n";
    write(format!("{name}.sfntest.yaml"), format!("{header}{yaml}"))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `path` as seen from `dir` (both relative to the current folder, or absolute).
fn relative(path: &std::path::Path, dir: &std::path::Path) -> String {
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, dir) = (absolute(path), absolute(dir));
    let common = path.components().zip(dir.components()).take_while(|(a, b)| a == b).count();
    let mut out = std::path::PathBuf::new();
    for _ in dir.components().skip(common) {
        out.push("..");
    }
    for part in path.components().skip(common) {
        out.push(part);
    }
    out.display().to_string()
}
