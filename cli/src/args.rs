//! Command-line arguments, as parsed (before any file is read).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run AWS Step Functions (Amazon States Language) workflows locally, with AWS semantics.
#[derive(Debug, Parser)]
#[command(name = "sfnlite", version, about)]
pub(crate) struct Cli {
    /// Where executions are recorded (default: `.sfnlite` in the current directory).
    #[arg(long, global = true, env = "SFNLITE_STORE", value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    /// Keep nothing: record executions in memory only.
    #[arg(long, global = true)]
    pub(crate) ephemeral: bool,

    /// The config file (default: `sfnlite.toml` in the current directory; also SFNLITE_CONFIG).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "no_config")]
    pub(crate) config: Option<PathBuf>,

    /// Read no config file.
    #[arg(long, global = true)]
    pub(crate) no_config: bool,

    /// The local S3's root: bucket B is the folder DIR/B (default `<store>/data`; also SFNLITE_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// Where Athena and S3 tasks go: the embedded local services or AWS (also SFNLITE_BACKEND).
    #[arg(long, global = true, value_enum)]
    pub(crate) backend: Option<Backend>,

    /// With `--backend aws`: the endpoint of an S3/Athena-compatible service (also AWS_ENDPOINT_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,

    /// With `--backend aws`: the region (also AWS_REGION).
    #[arg(long, global = true, value_name = "REGION")]
    pub(crate) region: Option<String>,

    /// With `--backend aws`: a profile of the shared AWS config files (also AWS_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) profile: Option<String>,

    /// With `--backend aws`: address buckets by path, not host name (also SFNLITE_S3_FORCE_PATH_STYLE).
    #[arg(long, global = true)]
    pub(crate) force_path_style: bool,

    /// Runs the Lambda function NAME with a local handler: `python:PATH:FUNCTION`,
    /// `node:PATH:FUNCTION` or `cmd:COMMAND` (repeatable; wins over sfnlite.toml's `[lambda.functions]`).
    #[arg(long = "lambda", global = true, value_name = "NAME=HANDLER")]
    pub(crate) lambdas: Vec<String>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run an execution to its end and print its output.
    Run(RunArgs),
    /// Check a definition and report every problem, with AWS diagnostic codes.
    Validate(ValidateArgs),
    /// Finish executions that a killed or crashed process left RUNNING.
    Resume(ResumeArgs),
    /// List recorded executions.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Describe one execution (AWS DescribeExecution).
    Describe(DescribeArgs),
    /// Show an execution's history (AWS GetExecutionHistory), or the page that shows it in a browser.
    History(HistoryArgs),
    /// Draw a definition's graph: SVG (the console's drawing), Graphviz DOT or Mermaid.
    Graph(GraphArgs),
    /// Register state machines that executions start by ARN (nested `states:startExecution`), as CreateStateMachine does.
    #[command(subcommand, name = "state-machines")]
    StateMachines(MachinesCommand),
    /// Activities: create, list and delete them, and work on their tasks with a handler.
    #[command(subcommand)]
    Activities(ActivitiesCommand),
    /// Answer a `.waitForTaskToken` task (AWS SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).
    #[command(subcommand)]
    Task(TaskCommand),
    /// Show what an execution's Lambda handlers printed, per invocation (like CloudWatch Logs).
    Logs(LogsArgs),
    /// Stop a running execution (AWS StopExecution): it ends ABORTED.
    Stop(StopArgs),
    /// Restart a FAILED, TIMED_OUT or ABORTED execution from where it failed (AWS RedriveExecution).
    Redrive(RedriveArgs),
    /// Print the settings in effect and where each came from.
    Config(ConfigArgs),
    /// Seed and read the S3 data that tasks and Athena see (like `aws s3`).
    #[command(subcommand)]
    S3(S3Command),
    /// Run Athena statements (like the Athena console): create tables, query them.
    #[command(subcommand)]
    Athena(AthenaCommand),
    /// Serve the Step Functions API on loopback, for the AWS CLI, boto3 and the SDKs.
    Serve(ServeArgs),
    /// A distributed Map's Map Runs: list an execution's, describe one (AWS ListMapRuns, DescribeMapRun).
    #[command(subcommand, name = "map-runs")]
    MapRuns(MapRunsCommand),
    /// Check the store for damage, or copy what is readable into a fresh store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Schedules that start executions (EventBridge Scheduler's rate, cron and at expressions).
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Run the schedules in the foreground (serve runs them too), printing what runs next.
    Scheduler(SchedulerArgs),
    /// Run workflow tests (`*.sfntest.yaml`/`.json` files): mocks, local handlers, a virtual clock, assertions; JUnit for CI.
    Test(TestArgs),
}

/// `sfnlite test`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct TestArgs {
    #[command(subcommand)]
    pub(crate) command: Option<TestCommand>,

    /// Test files, or folders to search for `*.sfntest.yaml`, `*.sfntest.yml` and `*.sfntest.json` (default: tests/ and definitions/).
    pub(crate) paths: Vec<PathBuf>,

    /// Also write a JUnit XML report to FILE (one testcase per case).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,

    /// Write one HTML page per failing case into DIR (the execution's graph, timeline and events, as `history --format html`).
    #[arg(long, value_name = "DIR")]
    pub(crate) html: Option<PathBuf>,

    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub(crate) format: TestFormat,

    /// Run only the cases whose `FILE › NAME` contains TEXT (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub(crate) filter: Option<String>,

    /// How many cases run at once (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) jobs: Option<usize>,

    /// List the cases that passed too.
    #[arg(short, long)]
    pub(crate) verbose: bool,

    /// Write the snapshots of cases that expect one (`snapshot: true`) instead of comparing them.
    #[arg(long)]
    pub(crate) update_snapshots: bool,

    /// The longest a case may run, in seconds of wall time (virtual time is not limited).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) case_timeout: u64,

    /// Report which states, transitions, Choice rules, Retriers and Catchers the cases exercised, per definition.
    #[arg(long)]
    pub(crate) coverage: bool,

    /// Fail (exit 1) when the coverage of all definitions together is below PCT percent (implies --coverage).
    #[arg(long, value_name = "PCT", value_parser = percentage)]
    pub(crate) min_coverage: Option<f64>,
}

fn percentage(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(n) if (0.0..=100.0).contains(&n) => Ok(n),
        _ => Err(format!("'{text}' is not a percentage from 0 to 100")),
    }
}

/// `sfnlite test record`.
#[derive(Debug, Subcommand)]
pub(crate) enum TestCommand {
    /// Make an execution into a test that replays it offline: a MockConfigFile of its Task states' answers and a test file expecting its path and end.
    Record(RecordArgs),
}

/// `sfnlite test record`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// An execution in the store (its name, ARN or id).
    #[arg(required_unless_present = "from_history", conflicts_with = "from_history")]
    pub(crate) execution: Option<String>,

    /// A history saved from AWS (`aws stepfunctions get-execution-history --execution-arn … > FILE`), instead.
    #[arg(long, value_name = "FILE", requires = "definition")]
    pub(crate) from_history: Option<PathBuf>,

    /// With --from-history: the definition the execution ran.
    #[arg(long, value_name = "FILE")]
    pub(crate) definition: Option<PathBuf>,

    /// With --from-history: a substitution the definition needs (written into the test file). Repeatable.
    #[arg(long = "sub", value_name = "KEY=VALUE", requires = "from_history")]
    pub(crate) substitutions: Vec<String>,

    /// The folder the files are written to.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) out: PathBuf,

    /// The files' names: NAME.sfntest.yaml, NAME.mock.json, NAME.asl.json (default: the state machine's name).
    #[arg(long)]
    pub(crate) name: Option<String>,

    /// Replace files that exist.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Report format of `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestFormat {
    /// A line per failure, then a summary.
    Text,
    /// One JSON object: counts, broken files, and every case with its mismatches.
    Json,
}

/// What a schedule is made of (all optional for `update`).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ScheduleFields {
    /// The state machine to start: its name or ARN (registered with `state-machines create` or CreateStateMachine).
    #[arg(long, value_name = "SM")]
    pub(crate) state_machine: Option<String>,
    /// `rate(5 minutes)`, `cron(0 8 * * ? *)` or `at(2026-12-01T08:00:00)`.
    #[arg(long, value_name = "EXPRESSION")]
    pub(crate) expression: Option<String>,
    /// The execution input (JSON; `<aws.scheduler.scheduled-time>` and the other context attributes are replaced).
    #[arg(long, value_name = "JSON")]
    pub(crate) input: Option<String>,
    /// The time zone of cron and at expressions (IANA, e.g. Europe/Paris; default UTC).
    #[arg(long, value_name = "TZ")]
    pub(crate) timezone: Option<String>,
    /// Start within this window after each time: OFF, 15m, 2h (at most 24h).
    #[arg(long, value_name = "WINDOW")]
    pub(crate) flexible_window: Option<String>,
    /// No run before this time (ISO 8601, e.g. 2026-12-01T00:00:00Z); rates count from it.
    #[arg(long, value_name = "TIME")]
    pub(crate) start_date: Option<String>,
    /// No run after this time (ISO 8601).
    #[arg(long, value_name = "TIME")]
    pub(crate) end_date: Option<String>,
    /// Runs missed while no scheduler ran: latest (run the latest once), all, or skip.
    #[arg(long, value_name = "POLICY")]
    pub(crate) missed: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MapRunsCommand {
    /// The Map Runs of an execution.
    List {
        /// The execution: its name, its ARN, or a unique prefix of either.
        execution: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// One Map Run: its status, and its items and child executions counted by status (JSON).
    Describe {
        /// The Map Run's ARN (or its id, the part after the last ':').
        map_run: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchedulesCommand {
    /// Creates a schedule.
    Create {
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        fields: ScheduleFields,
        /// Create it paused.
        #[arg(long)]
        disabled: bool,
    },
    /// Changes a schedule's fields.
    Update {
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        fields: ScheduleFields,
    },
    /// Lists the schedules, with their next run.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Shows a schedule, its last run and its next five runs (JSON).
    Describe {
        /// The schedule's name.
        name: String,
    },
    /// Deletes a schedule.
    Delete {
        /// The schedule's name.
        name: String,
    },
    /// Pauses a schedule (state DISABLED).
    Pause {
        /// The schedule's name.
        name: String,
    },
    /// Resumes a paused schedule (state ENABLED).
    Resume {
        /// The schedule's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SchedulerArgs {
    /// The clock: virtual time jumps to each run (each execution runs to its end first).
    #[arg(long, value_enum, default_value_t = ClockKind::Real)]
    pub(crate) clock: ClockKind,
    /// Where virtual time starts (ISO 8601; default now).
    #[arg(long, value_name = "TIME")]
    pub(crate) start: Option<String>,
    /// Stop after this long (10d, 36h, 90m, 30s).
    #[arg(long = "for", value_name = "DURATION")]
    pub(crate) duration: Option<String>,
}

/// STANDARD or EXPRESS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MachineType {
    /// Durable, with a history.
    #[value(name = "STANDARD", alias = "standard")]
    Standard,
    /// Express.
    #[value(name = "EXPRESS", alias = "express")]
    Express,
}

/// The format of `serve`'s log lines (one per request, on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The port (0: any free port; the address in use is printed on stderr).
    #[arg(long, default_value_t = 8083)]
    pub(crate) port: u16,

    /// The address to listen on (loopback; another address needs --allow-remote).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) bind: std::net::IpAddr,

    /// Allow listening on a non-loopback address: the API checks no credentials.
    #[arg(long)]
    pub(crate) allow_remote: bool,

    /// A Step Functions Local MockConfigFile: StartExecution on `<stateMachineArn>#<TestCase>`
    /// answers that test case's Task states from it.
    #[arg(long, value_name = "FILE")]
    pub(crate) mock_config: Option<PathBuf>,

    /// The format of the log lines on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// Check SigV4 signatures: only requests signed with a key of `[serve.access_keys]`
    /// in sfnlite.toml are served (by default any credentials are accepted).
    #[arg(long)]
    pub(crate) require_auth: bool,

    /// The largest object the S3 API accepts in one PutObject, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub(crate) max_object_mib: usize,
}

/// Where Athena and S3 tasks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    /// The embedded services: S3 is a folder tree, Athena an embedded SQL engine.
    Local,
    /// AWS (or an endpoint speaking its protocols), through the AWS SDK.
    Aws,
}

impl Backend {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Aws => "aws",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub(crate) format: TableFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum S3Command {
    /// Copy a file or object: either side may be a local path or s3://bucket/key.
    Cp(S3CpArgs),
    /// List buckets, or the objects under s3://bucket[/prefix].
    Ls(S3LsArgs),
    /// Print an object.
    Cat(S3UrlArg),
    /// Delete an object (or, with --recursive, every object under a prefix).
    Rm(S3RmArgs),
    /// Make a bucket.
    Mb(S3UrlArg),
}

#[derive(Debug, Args)]
pub(crate) struct S3CpArgs {
    /// The source: a local path or s3://bucket/key.
    pub(crate) source: String,
    /// The destination: a local path or s3://bucket/key (a trailing / keeps the source's name).
    pub(crate) destination: String,
    /// Copy a folder or prefix and everything below it.
    #[arg(long, short = 'r')]
    pub(crate) recursive: bool,
    /// The Content-Type of uploaded objects (default: by file extension).
    #[arg(long, value_name = "TYPE")]
    pub(crate) content_type: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct S3LsArgs {
    /// s3://bucket[/prefix]; no argument lists the buckets.
    pub(crate) url: Option<String>,
    /// Every object below the prefix, not just one level.
    #[arg(long, short = 'r')]
    pub(crate) recursive: bool,
}

#[derive(Debug, Args)]
pub(crate) struct S3RmArgs {
    /// s3://bucket/key (or a prefix with --recursive).
    pub(crate) url: String,
    /// Delete every object under the prefix.
    #[arg(long, short = 'r')]
    pub(crate) recursive: bool,
}

#[derive(Debug, Args)]
pub(crate) struct S3UrlArg {
    /// s3://bucket[/key]
    pub(crate) url: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AthenaCommand {
    /// Run one statement to its end and print its results.
    Query(AthenaQueryArgs),
}

/// How `athena query` prints results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum QueryFormat {
    /// An aligned table for people.
    Table,
    /// The result file exactly as Athena writes it.
    Csv,
    /// {"QueryExecution": ..., "Columns": [...], "Rows": [[...]]} with null for NULL.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct AthenaQueryArgs {
    /// The SQL statement.
    pub(crate) sql: String,
    /// The database of unqualified table names (QueryExecutionContext.Database).
    #[arg(long, value_name = "NAME")]
    pub(crate) database: Option<String>,
    /// The workgroup.
    #[arg(long, value_name = "NAME", default_value = "primary")]
    pub(crate) workgroup: String,
    /// Where the result files go (ResultConfiguration.OutputLocation).
    #[arg(long, value_name = "S3_URL")]
    pub(crate) output_location: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub(crate) format: QueryFormat,
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// The execution: its name, its ARN, or a unique prefix of either.
    pub(crate) execution: String,

    /// The error recorded in ExecutionAborted.
    #[arg(long, value_name = "ERROR")]
    pub(crate) error: Option<String>,

    /// The cause recorded in ExecutionAborted.
    #[arg(long, value_name = "CAUSE")]
    pub(crate) cause: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RedriveArgs {
    /// The execution: its name, its ARN, or a unique prefix of either.
    pub(crate) execution: String,

    #[command(flatten)]
    pub(crate) mocks: MockArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(crate) format: RunFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExecutionsCommand {
    /// List executions, oldest first.
    List(ListArgs),
    /// Remove closed executions (their histories, Map Runs, logs) and reclaim their space.
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Read every execution (record, definition, history) and document, and say what is intact
    /// and what is damaged (exit 1 when something is; exit 3 when the database itself cannot
    /// be opened, which leaves it as it was).
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Copy every readable execution (whole) and document into a fresh store at DIR, leaving
    /// this one untouched (exit 1 when something could not be copied).
    Salvage {
        /// The new store's directory (absent or empty).
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Only executions that closed at least this long ago: a number and a unit, s, m, h, d or w
    /// (AWS keeps a closed execution's history for 90d).
    #[arg(long, value_name = "AGE", value_parser = crate::commands::prune::parse_age)]
    pub(crate) older_than: Option<std::time::Duration>,

    /// Only executions with this status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED); repeatable.
    #[arg(long, value_name = "STATUS", value_parser = crate::commands::prune::parse_status)]
    pub(crate) status: Vec<sfnlite_engine::ExecutionStatus>,

    /// Remove every closed execution (needed when neither --older-than nor --status is given).
    #[arg(long)]
    pub(crate) all: bool,

    /// Say what would be removed, remove nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub(crate) format: TableFormat,
}

/// Table or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableFormat {
    /// A table for people.
    Table,
    /// JSON, in AWS's shapes.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only executions with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
    #[arg(long, value_name = "STATUS")]
    pub(crate) status: Option<String>,

    /// Only executions of this state machine.
    #[arg(long, value_name = "NAME")]
    pub(crate) state_machine: Option<String>,

    /// At most this many (the newest).
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub(crate) format: TableFormat,
}

#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    /// The execution: its name, its ARN, or a unique prefix of either.
    pub(crate) execution: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(crate) format: RunFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MachinesCommand {
    /// Registers a state machine NAME (its ARN: arn:aws:states:REGION:123456789012:stateMachine:NAME).
    Create {
        /// The state machine's name.
        name: String,
        #[command(flatten)]
        definition: MachineDefinition,
        /// STANDARD or EXPRESS.
        #[arg(long = "type", value_enum, default_value_t = MachineType::Standard)]
        machine_type: MachineType,
    },
    /// Replaces a registered state machine's definition.
    Update {
        /// The state machine's name.
        name: String,
        #[command(flatten)]
        definition: MachineDefinition,
    },
    /// Lists the registered state machines.
    List {
        /// `table` or `json` (ListStateMachines' shape).
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Deletes a registered state machine.
    Delete {
        /// The state machine's name.
        name: String,
    },
}

/// A definition for `state-machines create|update`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MachineDefinition {
    /// The definition (ASL JSON).
    #[arg(long, value_name = "FILE")]
    pub(crate) definition: PathBuf,
    /// Replace `${KEY}` in the definition first. Repeatable.
    #[arg(long = "sub", value_name = "KEY=VALUE")]
    pub(crate) substitutions: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ActivitiesCommand {
    /// Creates the activity NAME (its ARN: arn:aws:states:REGION:123456789012:activity:NAME).
    Create {
        /// The activity's name.
        name: String,
    },
    /// Lists the activities.
    List {
        /// `table` or `json` (ListActivities' shape).
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Deletes an activity.
    Delete {
        /// The activity's name.
        name: String,
    },
    /// Works on the activity's tasks: takes each (GetActivityTask) from the process that
    /// runs the executions (`serve`, or a `run`), runs HANDLER on its input, and answers
    /// (SendTaskSuccess, or SendTaskFailure with the handler's error).
    Work {
        /// The activity's name.
        name: String,
        /// The handler, as for Lambda functions: `python:FILE:FN`, `node:FILE:FN`, `cmd:COMMAND`.
        #[arg(long, value_name = "HANDLER")]
        handler: String,
        /// Stop after this many tasks (default: work until interrupted).
        #[arg(long, value_name = "N")]
        max_tasks: Option<u64>,
        /// The worker's name (in `ActivityStarted`).
        #[arg(long, value_name = "NAME")]
        worker_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TaskCommand {
    /// The task succeeds with OUTPUT as its result.
    Success {
        /// The task token (`$$.Task.Token`).
        token: String,
        /// The task's result, as JSON.
        #[arg(long, value_name = "JSON")]
        output: String,
    },
    /// The task fails with this error and cause (both optional, as in AWS).
    Failure {
        /// The task token.
        token: String,
        /// The error name that Retry and Catch see.
        #[arg(long)]
        error: Option<String>,
        /// The cause.
        #[arg(long)]
        cause: Option<String>,
    },
    /// The task is still being worked on (restarts its HeartbeatSeconds).
    Heartbeat {
        /// The task token.
        token: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The execution: its name, its ARN, or a unique prefix of either.
    pub(crate) execution: String,
    /// Only the invocations of this state.
    #[arg(long, value_name = "NAME")]
    pub(crate) state: Option<String>,
    /// `text`: the log lines; `json`: one object per invocation.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(crate) format: RunFormat,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The execution: its name, its ARN, or a unique prefix of either.
    pub(crate) execution: String,

    /// Output format: `html` is one self-contained page (graph, timeline, events) that opens from disk.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub(crate) format: HistoryFormat,

    /// Newest event first.
    #[arg(long, conflicts_with = "follow")]
    pub(crate) reverse: bool,

    /// Keep printing events as they arrive, until the execution ends (table rows, or one JSON event per line).
    #[arg(long, short)]
    pub(crate) follow: bool,

    /// Only the events after this id (what `--follow` asks the process holding the store for).
    #[arg(long, hide = true, value_name = "ID")]
    pub(crate) after_id: Option<u64>,
}

/// Output format of `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HistoryFormat {
    /// A timeline for people.
    Table,
    /// AWS GetExecutionHistory's `{"events": [...]}`.
    Json,
    /// A self-contained HTML page: the graph with the path taken, a timeline, the events.
    Html,
}

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    #[command(flatten)]
    pub(crate) definition: DefinitionArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Svg)]
    pub(crate) format: GraphFormat,
}

/// Output format of `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    /// SVG: the drawing the console shows.
    Svg,
    /// Graphviz DOT (`dot -Tpng`).
    Dot,
    /// A Mermaid flowchart, for Markdown.
    Mermaid,
}

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The execution: its name, its ARN, or a unique prefix of either.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub(crate) execution: Option<String>,

    /// Resume every RUNNING execution in the store.
    #[arg(long)]
    pub(crate) all: bool,

    #[command(flatten)]
    pub(crate) mocks: MockArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(crate) format: RunFormat,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct MockArgs {
    /// A Step Functions Local MockConfigFile with mocked task responses.
    #[arg(long, requires = "test_case", value_name = "FILE")]
    pub(crate) mock_config: Option<PathBuf>,

    /// The test case of the mock configuration to use.
    #[arg(long, requires = "mock_config", value_name = "NAME")]
    pub(crate) test_case: Option<String>,

    /// The state machine name: selects it in the mock configuration and names it in ARNs
    /// (default: the file name without `.asl.json`).
    #[arg(long, value_name = "NAME")]
    pub(crate) state_machine_name: Option<String>,
}

/// Output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunFormat {
    /// The output JSON on stdout; error and cause on stderr.
    Text,
    /// One JSON object with executionArn, name, status, output, error, cause, startDate, stopDate.
    Json,
}

/// Which clock executions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClockKind {
    /// Wall-clock time: Waits really wait.
    Real,
    /// Virtual time: Waits, retry backoff and timeouts complete instantly, and time stamps move by exactly the waited time.
    Virtual,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DefinitionArgs {
    /// The state machine definition (ASL JSON).
    pub(crate) file: PathBuf,

    /// Replace `${KEY}` in the definition before parsing (like SAM DefinitionSubstitutions). Repeatable.
    #[arg(long = "sub", value_name = "KEY=VALUE")]
    pub(crate) substitutions: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) definition: DefinitionArgs,

    /// The execution input, as JSON text.
    #[arg(long, conflicts_with = "input_file", value_name = "JSON")]
    pub(crate) input: Option<String>,

    /// Read the execution input from a file.
    #[arg(long, value_name = "PATH")]
    pub(crate) input_file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) mocks: MockArgs,

    /// Which clock to use (default: the config's for this file, else real).
    #[arg(long, value_enum)]
    pub(crate) clock: Option<ClockKind>,

    /// No progress line on the terminal (it is drawn on stderr only when stderr is a terminal).
    #[arg(long, short)]
    pub(crate) quiet: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(crate) format: RunFormat,

    /// The execution name (default: a random UUID).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// Seed for States.UUID, States.MathRandom and retry jitter (default: random).
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,

    /// The workflow type: EXPRESS runs as StartSyncExecution does (no `$$.Execution.RedriveCount`).
    #[arg(long = "type", value_enum, default_value_t = MachineType::Standard)]
    pub(crate) machine_type: MachineType,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ValidateFormat {
    /// One line per diagnostic.
    Text,
    /// AWS ValidateStateMachineDefinition's shape: {"result", "diagnostics"}.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    #[command(flatten)]
    pub(crate) definition: DefinitionArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub(crate) format: ValidateFormat,
}
