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
    /// Show an execution's history (AWS GetExecutionHistory).
    History(HistoryArgs),
    /// Stop a running execution (AWS StopExecution): it ends ABORTED.
    Stop(StopArgs),
    /// Restart a FAILED, TIMED_OUT or ABORTED execution from where it failed (AWS RedriveExecution).
    Redrive(RedriveArgs),
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

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The execution: its name, its ARN, or a unique prefix of either.
    pub(crate) execution: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub(crate) format: TableFormat,

    /// Newest event first.
    #[arg(long)]
    pub(crate) reverse: bool,
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

#[derive(Debug, Args)]
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

#[derive(Debug, Args)]
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

    /// Which clock to use.
    #[arg(long, value_enum, default_value_t = ClockKind::Real)]
    pub(crate) clock: ClockKind,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(crate) format: RunFormat,

    /// The execution name (default: a random UUID).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// Seed for States.UUID, States.MathRandom and retry jitter (default: random).
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
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
