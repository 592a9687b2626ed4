//! `sfnlite schedules …` (create, update, list, describe, delete, pause, resume) over the
//! store's schedule documents: run here when the store is free, or by the `serve` holding
//! it (like the reading commands), whose scheduler sees the change within a second.
//! `sfnlite scheduler` runs the schedules in the foreground; `serve` runs them too.
//! Schedules declared in sfnlite.toml (`[schedules.NAME]`) are written to the store when
//! either starts (`source = "config …"`; those made with the CLI are left alone).

use std::io::Write as _;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_engine::{Clock, HistoryStore};
use sfnlite_server::Api;
use sfnlite_server::schedules::runner::{Report, Runner, Starter};
use sfnlite_server::schedules::{self, Missed, Schedule, window_minutes};
use sfnlite_states::timestamp::{format_millis, parse_iso8601};

use super::Failure;
use super::inspect::Io;
use crate::args::{ScheduleFields, SchedulesCommand, TableFormat};

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn store_error(e: sfnlite_engine::StoreError) -> Failure {
    Failure::internal(e.into())
}

/// An ISO 8601 time given to `flag`, in epoch ms.
fn time(text: &str, flag: &str) -> Result<i64, Failure> {
    parse_iso8601(text).map(|nanos| (nanos / 1_000_000) as i64).ok_or_else(|| {
        Failure::usage(anyhow!("{flag} '{text}': not an ISO 8601 time with a zone, e.g. 2026-12-01T08:00:00Z"))
    })
}

/// `fields` applied to `schedule`.
fn apply(schedule: &mut Schedule, fields: &ScheduleFields) -> Result<(), Failure> {
    if let Some(v) = &fields.state_machine {
        schedule.state_machine = v.clone();
    }
    if let Some(v) = &fields.expression {
        schedule.expression = v.clone();
    }
    if let Some(v) = &fields.input {
        schedule.input = v.clone();
    }
    if let Some(v) = &fields.timezone {
        schedule.timezone = v.clone();
    }
    if let Some(v) = &fields.flexible_window {
        schedule.flexible_window_minutes = window_minutes(v).map_err(|e| Failure::usage(anyhow!("{e}")))?;
    }
    if let Some(v) = &fields.start_date {
        schedule.start_millis = time(v, "--start-date")?;
    }
    if let Some(v) = &fields.end_date {
        schedule.end_millis = Some(time(v, "--end-date")?);
    }
    if let Some(v) = &fields.missed {
        schedule.missed = Missed::parse(v).map_err(|e| Failure::usage(anyhow!("--missed: {e}")))?;
    }
    schedule.check().map_err(|e| Failure::usage(anyhow!("schedule {}: {e}", schedule.name)))?;
    Ok(())
}

/// A new schedule, before its fields are applied.
fn blank(name: &str, source: &str, now: i64) -> Schedule {
    Schedule {
        name: name.to_owned(),
        state_machine: String::new(),
        input: "{}".into(),
        expression: String::new(),
        timezone: "UTC".into(),
        flexible_window_minutes: 0,
        state: "ENABLED".into(),
        start_millis: now,
        end_millis: None,
        missed: Missed::default(),
        source: source.to_owned(),
        last_fire_millis: None,
        last_execution: None,
        last_error: None,
        created_millis: now,
    }
}

fn missing(name: &str) -> Failure {
    Failure::usage(anyhow!("no schedule named '{name}' (sfnlite schedules list shows them)"))
}

/// Runs one `schedules` command against `store`.
pub(crate) fn command(command: SchedulesCommand, store: &dyn HistoryStore, io: &mut Io) -> Result<ExitCode, Failure> {
    let now = now_millis();
    let find = |name: &str| schedules::get(store, name).map_err(store_error)?.ok_or_else(|| missing(name));
    match command {
        SchedulesCommand::Create { name, fields, disabled } => {
            if schedules::get(store, &name).map_err(store_error)?.is_some() {
                return Err(Failure::usage(anyhow!("a schedule named '{name}' exists (use schedules update)")));
            }
            let (Some(_), Some(_)) = (&fields.state_machine, &fields.expression) else {
                return Err(Failure::usage(anyhow!("schedules create needs --state-machine and --expression")));
            };
            let mut schedule = blank(&name, "cli", now);
            apply(&mut schedule, &fields)?;
            if disabled {
                schedule.state = "DISABLED".into();
            }
            warn_unknown_machine(store, &schedule, io);
            schedules::put(store, &schedule).map_err(store_error)?;
            describe(&schedule, io, now);
        }
        SchedulesCommand::Update { name, fields } => {
            let mut schedule = find(&name)?;
            apply(&mut schedule, &fields)?;
            warn_unknown_machine(store, &schedule, io);
            schedules::put(store, &schedule).map_err(store_error)?;
            describe(&schedule, io, now);
        }
        SchedulesCommand::Pause { name } => set_state(store, &name, "DISABLED", io, now)?,
        SchedulesCommand::Resume { name } => set_state(store, &name, "ENABLED", io, now)?,
        SchedulesCommand::Delete { name } => {
            find(&name)?;
            schedules::delete(store, &name).map_err(store_error)?;
            let _ = writeln!(io.err, "sfnlite: deleted schedule {name}");
        }
        SchedulesCommand::Describe { name } => describe(&find(&name)?, io, now),
        SchedulesCommand::List { format } => {
            let all = schedules::all(store).map_err(store_error)?;
            match format {
                TableFormat::Json => {
                    let items: Vec<Value> = all.iter().map(|s| summary(s, now)).collect();
                    let _ = writeln!(
                        io.out,
                        "{}",
                        serde_json::to_string_pretty(&json!({ "schedules": items })).unwrap_or_default()
                    );
                }
                TableFormat::Table => {
                    let _ = writeln!(
                        io.out,
                        "{:<24} {:<9} {:<28} {:<20} {:<24}",
                        "NAME", "STATE", "EXPRESSION", "STATE MACHINE", "NEXT RUN"
                    );
                    for s in &all {
                        let next = next_times(s, now, 1).first().map_or("-".to_owned(), |t| format_millis(*t));
                        let _ = writeln!(
                            io.out,
                            "{:<24} {:<9} {:<28} {:<20} {next}",
                            s.name, s.state, s.expression, s.state_machine
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn set_state(store: &dyn HistoryStore, name: &str, state: &str, io: &mut Io, now: i64) -> Result<(), Failure> {
    let mut schedule = schedules::get(store, name).map_err(store_error)?.ok_or_else(|| missing(name))?;
    resumed_now(&mut schedule, state, now);
    schedule.state = state.to_owned();
    schedules::put(store, &schedule).map_err(store_error)?;
    describe(&schedule, io, now);
    Ok(())
}

/// A paused schedule that resumes does not run the times it was paused for (they are not
/// missed runs): it counts from now.
fn resumed_now(schedule: &mut Schedule, state: &str, now: i64) {
    if schedule.state == "DISABLED" && state == "ENABLED" {
        schedule.last_fire_millis = Some(schedule.last_fire_millis.unwrap_or(i64::MIN).max(now));
    }
}

/// A state machine that is not registered makes every fire fail: say so now.
fn warn_unknown_machine(store: &dyn HistoryStore, schedule: &Schedule, io: &mut Io) {
    let wanted = &schedule.state_machine;
    let registered = store
        .documents("api.stateMachine")
        .unwrap_or_default()
        .iter()
        .any(|(arn, _)| arn == wanted || arn.rsplit_once(":stateMachine:").is_some_and(|(_, name)| name == wanted));
    // Versions and aliases are checked when the schedule runs.
    let versioned = wanted.starts_with("arn:") && wanted.matches(':').count() > 6;
    if !registered && !versioned {
        let _ = writeln!(
            io.err,
            "sfnlite: warning: no state machine {wanted} is registered yet (sfnlite state-machines create); runs fail until there is"
        );
    }
}

/// The next `n` times the schedule runs after `now` (before flexible windows).
fn next_times(schedule: &Schedule, now: i64, n: usize) -> Vec<i64> {
    let Ok(parsed) = schedule.check() else { return Vec::new() };
    if schedule.state != "ENABLED" {
        return Vec::new();
    }
    let mut after = schedule.last_fire_millis.unwrap_or(schedule.start_millis - 1).max(now);
    let mut times = Vec::new();
    while times.len() < n {
        match schedule.next_after(&parsed, after) {
            Some(t) => {
                times.push(t);
                after = t;
            }
            None => break,
        }
    }
    times
}

fn summary(schedule: &Schedule, now: i64) -> Value {
    let mut value = serde_json::to_value(schedule).unwrap_or_default();
    let next: Vec<String> = next_times(schedule, now, 5).into_iter().map(format_millis).collect();
    value["nextRuns"] = json!(next);
    value
}

fn describe(schedule: &Schedule, io: &mut Io, now: i64) {
    let _ = writeln!(io.out, "{}", serde_json::to_string_pretty(&summary(schedule, now)).unwrap_or_default());
}

/// `[schedules.NAME]` of sfnlite.toml, written to the store (replacing the config's
/// earlier version of each, keeping when it last ran); a schedule with a `definition`
/// file registers it as its state machine first. `now` is the scheduler's clock (virtual
/// time under `scheduler --clock virtual --start …`): a new schedule starts then.
pub(crate) async fn declare(
    declared: &[crate::config::DeclaredSchedule],
    store: &dyn HistoryStore,
    api: &Api,
    now: i64,
) -> Result<(), Failure> {
    for d in declared {
        if let (Some(file), Some(machine)) = (&d.definition, &d.fields.state_machine) {
            let text = crate::input::read_file(file).map_err(|e| Failure::usage(anyhow!("{}: {e:#}", d.source)))?;
            api.ensure_state_machine(machine, &text)
                .await
                .map_err(|e| Failure::usage(anyhow!("{}: {}: {}: {}", d.source, file.display(), e.name, e.message)))?;
        }
        let existing = schedules::get(store, &d.name).map_err(store_error)?;
        // Rebuilt from the file each time (a field removed there is gone), keeping only
        // when it was created and what its last run did.
        let mut schedule = blank(&d.name, &d.source, now);
        match existing {
            Some(existing) if !existing.source.starts_with("config") => {
                eprintln!(
                    "sfnlite: warning: {}: the schedule {} was made with the CLI; the config's is ignored",
                    d.source, d.name
                );
                continue;
            }
            Some(existing) => {
                schedule.created_millis = existing.created_millis;
                schedule.start_millis = existing.start_millis;
                schedule.last_fire_millis = existing.last_fire_millis;
                schedule.last_execution = existing.last_execution;
                schedule.last_error = existing.last_error;
                schedule.state = existing.state;
            }
            None => {}
        }
        apply(&mut schedule, &d.fields).map_err(|f| Failure::usage(anyhow!("{}: {:#}", d.source, f.error)))?;
        let state = if d.disabled { "DISABLED" } else { "ENABLED" };
        resumed_now(&mut schedule, state, now);
        schedule.state = state.into();
        schedules::put(store, &schedule).map_err(store_error)?;
    }
    // Schedules the config declared once and no longer does.
    for stale in schedules::all(store).map_err(store_error)? {
        if stale.source.starts_with("config") && !declared.iter().any(|d| d.name == stale.name) {
            schedules::delete(store, &stale.name).map_err(store_error)?;
            eprintln!("sfnlite: schedule {} is no longer in {}: deleted", stale.name, stale.source);
        }
    }
    Ok(())
}

/// Starts executions through the API's execution thread (`serve`).
pub(crate) struct ThroughApi(pub(crate) Arc<Api>);

impl Starter for ThroughApi {
    fn start<'a>(&'a self, body: Value) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + 'a>> {
        Box::pin(async move {
            let answer = self.0.call("StartExecution", body.to_string().as_bytes()).await;
            answer
                .map(|v| v["executionArn"].as_str().unwrap_or_default().to_owned())
                .map_err(|e| format!("{}: {}", e.name, e.message))
        })
    }
}

/// Runs each execution beside the scheduler, on the same runtime and (virtual) clock, so
/// that time moves for both; [`Inline::finish`] waits for them.
#[derive(Clone)]
pub(crate) struct Inline {
    api: Arc<Api>,
    running: Rc<std::cell::RefCell<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Inline {
    pub(crate) fn new(api: Arc<Api>) -> Inline {
        Inline { api, running: Rc::default() }
    }

    /// Waits for every execution started to end.
    pub(crate) async fn finish(&self) {
        let running = std::mem::take(&mut *self.running.borrow_mut());
        for run in running {
            let _ = run.await;
        }
    }
}

impl Starter for Inline {
    fn start<'a>(&'a self, body: Value) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + 'a>> {
        Box::pin(async move {
            let (answer, run) =
                self.api.start_here(body.to_string().as_bytes()).map_err(|e| format!("{}: {}", e.name, e.message))?;
            if let Some(run) = run {
                self.running.borrow_mut().push(tokio::task::spawn_local(run));
            }
            Ok(answer["executionArn"].as_str().unwrap_or_default().to_owned())
        })
    }
}

/// The scheduler's report line for each run and each next time (stderr).
pub(crate) fn report(event: Report<'_>) {
    match event {
        Report::Fired(fired) => match &fired.execution {
            Ok(arn) => eprintln!(
                "sfnlite: schedule {} ({}): started {arn}",
                fired.schedule,
                format_millis(fired.scheduled_millis)
            ),
            Err(e) => eprintln!(
                "sfnlite: schedule {} ({}): could not start: {e}",
                fired.schedule,
                format_millis(fired.scheduled_millis)
            ),
        },
        Report::Next { at, schedule } => eprintln!("sfnlite: next: schedule {schedule} at {}", format_millis(at)),
    }
}

/// The runner of a store's schedules.
pub(crate) fn runner(
    store: Arc<dyn HistoryStore>,
    clock: Arc<dyn Clock>,
    starter: Box<dyn Starter>,
    region: &str,
) -> Runner {
    Runner { store, clock, starter, region: region.to_owned() }
}

/// `10d`, `36h`, `90m`, `30s` in milliseconds.
fn duration_millis(text: &str) -> Result<i64, Failure> {
    let bad = || Failure::usage(anyhow!("--for '{text}': a number and a unit, d, h, m or s (e.g. 10d)"));
    let (number, unit) = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        .into_iter()
        .find_map(|(suffix, unit): (&str, i64)| text.strip_suffix(suffix).map(|n| (n, unit)))
        .ok_or_else(bad)?;
    let n: i64 = number.parse().map_err(|_| bad())?;
    n.checked_mul(unit).filter(|m| *m > 0).ok_or_else(bad)
}

/// `sfnlite scheduler`: the schedules in the foreground, each run and next time on stderr.
/// With `--clock virtual` (and `--for`), time jumps from run to run and executions run
/// beside the scheduler on the same virtual clock: ten days of an hourly schedule take
/// moments.
pub(crate) fn scheduler(
    args: &crate::args::SchedulerArgs,
    services: super::services::Services,
    settings: &crate::config::Settings,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
) -> Result<ExitCode, Failure> {
    let virtual_clock = args.clock == crate::args::ClockKind::Virtual;
    let start = args.start.as_deref().map(|t| time(t, "--start")).transpose()?;
    if start.is_some() && !virtual_clock {
        return Err(Failure::usage(anyhow!("--start sets where virtual time starts: use it with --clock virtual")));
    }
    let length = args.duration.as_deref().map(duration_millis).transpose()?;
    if virtual_clock && length.is_none() {
        return Err(Failure::usage(anyhow!(
            "--clock virtual needs --for (virtual time would run on without end); runs are recorded in the store like any other, so use a scratch --store or --ephemeral to try a schedule out"
        )));
    }
    let dir = (!ephemeral).then(|| super::setup::store_dir(store));
    let store = super::setup::open_store(store, ephemeral)?;
    let executor = sfnlite_server::executor::Executor::start()
        .map_err(|e| Failure::internal(anyhow!("cannot start the execution thread: {e}")))?;
    let region = services.lambda.region().to_owned();
    let (callbacks, slot, local) = (services.callbacks.clone(), services.api.clone(), services.local_runs.clone());
    let kept = services.clone();
    let reachable = (services.clone(), dir.clone());
    let adapters = Arc::new(super::loopback::ApiAdapters { services, mock_config: None, logs: store.clone() });
    let tasks = tokio::task::LocalSet::new();
    let ran = super::setup::runtime(virtual_clock)?.block_on(tasks.run_until(async move {
        let clock = super::setup::clock(virtual_clock, start);
        let api = Arc::new(
            Api::new(store.clone(), clock.clone(), &region, adapters, executor)
                .with_callbacks(callbacks)
                .with_local_runs(local),
        );
        slot.fill(&api);
        // Lambda handlers reach S3, Athena and Step Functions through a loopback server
        // over this store, started now: it also lets other sfnlite commands (`schedules …`,
        // the reading ones) reach the store while the scheduler holds it.
        let (services, dir) = reachable;
        super::loopback::start_on_demand(&services, store.clone(), dir);
        if let Err(e) = sfnlite_adapters::lambda::Endpoints::url(services.endpoint.as_ref()) {
            eprintln!("sfnlite: warning: {e}");
        }
        declare(&settings.schedules, store.as_ref(), &api, clock.now_millis()).await?;
        let inline = Inline::new(api.clone());
        let starter: Box<dyn Starter> =
            if virtual_clock { Box::new(inline.clone()) } else { Box::new(ThroughApi(api.clone())) };
        let until = length.map(|l| clock.now_millis().saturating_add(l));
        let runner = runner(store, clock, starter, &region);
        if runner.next_due().is_none() {
            eprintln!("sfnlite: no enabled schedule has a next run");
        }
        tokio::select! {
            () = runner.run(until, &report) => inline.finish().await,
            () = super::serve::shutdown() => eprintln!("sfnlite: scheduler stopped"),
        }
        Ok::<_, Failure>(ExitCode::SUCCESS)
    }));
    // What the executions left running (Lambda Event invocations, Athena queries).
    super::setup::settle(&kept);
    if let Some(dir) = &dir {
        super::remote::withdraw(dir);
    }
    ran
}
