//! Settings: `sfnlite.toml`, environment variables and flags, each value with where it came
//! from (`sfnlite config` prints them). Precedence: flag, then environment, then the file,
//! then the built-in default. Relative paths in the file are relative to the file.
//!
//! ```toml
//! data_dir = ".sfnlite/data"      # the local S3's root (buckets are folders)
//! backend = "local"               # or "aws"
//!
//! [aws]                           # for backend = "aws"
//! region = "eu-west-1"
//! endpoint_url = "http://127.0.0.1:5000"
//! force_path_style = true
//! profile = "dev"
//!
//! [s3]
//! buckets = ["reports"]           # buckets that exist (made when missing), like a stack's
//! [s3.mounts]                     # buckets served from other folders
//! my-logs = "testdata/logs"
//!
//! [athena]
//! init = ["tables.sql"]           # DDL run before each command (use IF NOT EXISTS)
//! [athena.workgroups.primary]
//! output_location = "s3://sfnlite-athena-results/"
//! enforce_configuration = false
//!
//! [lambda]                        # local handlers for Lambda functions
//! backend = "local"               # or "aws": invoke the real functions (default: `backend`)
//! python = ".venv/bin/python"     # the interpreter of Python handlers (default python3)
//! node = "node"
//! [lambda.functions.process-results]
//! handler = "python:lambdas/process.py:handler"   # or node:FILE:FN, cmd:COMMAND, or module.fn + runtime
//! runtime = "python3.12"          # needed only for Lambda's own module.function form
//! code = "lambdas"                # the code directory (cwd, LAMBDA_TASK_ROOT)
//! timeout = 30                    # seconds (default 3, as on AWS)
//! memory_size = 256               # MB (default 128)
//! concurrency = 4                 # warm workers at most (default 8)
//! environment = { TABLE = "t" }
//!
//! [http.connections.orders-api]  # HTTP Tasks' ConnectionArn …:connection/orders-api/…
//! auth = "api_key"                # or "basic" (username, password_env), "oauth" (token_url,
//! header = "x-api-key"            #   client_id, client_secret_env, scope)
//! value_env = "ORDERS_API_KEY"    # secrets come from the environment, never from here
//!
//! [schedules.nightly-report]     # run by `serve` and `sfnlite scheduler`
//! state_machine = "report"        # a registered state machine (name or ARN), or
//! # definition = "workflows/report.asl.json"   # a file, registered as the machine `report`
//! expression = "cron(0 8 * * ? *)"
//! timezone = "Europe/Paris"
//! input = { day = "<aws.scheduler.scheduled-time>" }
//!
//! [store]
//! retention = "90d"               # closed executions older than this are pruned (at most
//!                                 # once a day, by `run` and `serve`); default: kept forever
//!
//! [serve.access_keys]            # for `serve --require-auth`: key id = secret's variable
//! AKIDEXAMPLE = "SFNLITE_SECRET"
//!
//! [definitions."workflows/report.asl.json"]   # defaults for `run` of that file
//! substitutions = { FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:f" }
//! mock_config = "workflows/report.mock.json"
//! test_case = "Local"
//! clock = "virtual"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde::Deserialize;
use sfnlite_adapters::athena::Workgroup;
use sfnlite_adapters::aws::AwsSettings;
use sfnlite_adapters::lambda::{FunctionConfig, Runtime};
use sfnlite_adapters::{Auth, Connection};

use crate::args::{Backend, Cli, ClockKind};

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    data_dir: Option<PathBuf>,
    backend: Option<String>,
    #[serde(default)]
    aws: AwsFile,
    #[serde(default)]
    s3: S3File,
    #[serde(default)]
    athena: AthenaFile,
    #[serde(default)]
    lambda: LambdaFile,
    #[serde(default)]
    http: HttpFile,
    #[serde(default)]
    serve: ServeFile,
    #[serde(default)]
    store: StoreFile,
    #[serde(default)]
    schedules: BTreeMap<String, ScheduleFile>,
    #[serde(default)]
    definitions: BTreeMap<PathBuf, DefinitionFile>,
}

/// `[schedules.NAME]`: a schedule `serve` and `sfnlite scheduler` run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    state_machine: Option<String>,
    definition: Option<PathBuf>,
    expression: String,
    input: Option<toml::Value>,
    timezone: Option<String>,
    flexible_window: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    missed: Option<String>,
    #[serde(default)]
    disabled: bool,
}

/// A schedule declared in sfnlite.toml.
#[derive(Debug, Clone)]
pub(crate) struct DeclaredSchedule {
    pub(crate) name: String,
    pub(crate) fields: crate::args::ScheduleFields,
    pub(crate) disabled: bool,
    /// `config <file> [schedules.NAME]`.
    pub(crate) source: String,
    /// A definition file registered (created or updated) as the state machine to start.
    pub(crate) definition: Option<PathBuf>,
}

/// `[serve]`: the access keys `serve --require-auth` accepts, each an access key id and
/// the environment variable holding its secret.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    #[serde(default)]
    access_keys: BTreeMap<String, String>,
}

/// `[store]`: the history store's retention.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    retention: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    #[serde(default)]
    connections: BTreeMap<String, ConnectionFile>,
}

/// A connection of HTTP Tasks; secrets are names of environment variables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionFile {
    auth: String,
    header: Option<String>,
    value_env: Option<String>,
    username: Option<String>,
    password_env: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    body: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LambdaFile {
    backend: Option<String>,
    python: Option<PathBuf>,
    node: Option<PathBuf>,
    #[serde(default)]
    functions: BTreeMap<String, FunctionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionFile {
    handler: String,
    runtime: Option<String>,
    code: Option<PathBuf>,
    timeout: Option<u32>,
    memory_size: Option<u32>,
    concurrency: Option<u32>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwsFile {
    region: Option<String>,
    endpoint_url: Option<String>,
    force_path_style: Option<bool>,
    profile: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3File {
    #[serde(default)]
    mounts: BTreeMap<String, PathBuf>,
    #[serde(default)]
    buckets: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AthenaFile {
    #[serde(default)]
    init: Vec<PathBuf>,
    #[serde(default)]
    workgroups: BTreeMap<String, Workgroup>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionFile {
    #[serde(default)]
    substitutions: BTreeMap<String, String>,
    mock_config: Option<PathBuf>,
    test_case: Option<String>,
    clock: Option<String>,
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Sourced<T> {
    pub(crate) value: T,
    pub(crate) source: String,
}

/// Defaults for `run` of one definition file.
#[derive(Debug, Clone, Default)]
pub(crate) struct DefinitionDefaults {
    pub(crate) substitutions: BTreeMap<String, String>,
    pub(crate) mock_config: Option<PathBuf>,
    pub(crate) test_case: Option<String>,
    pub(crate) clock: Option<ClockKind>,
}

/// Every setting in effect.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) file: Option<PathBuf>,
    pub(crate) data_dir: Sourced<PathBuf>,
    pub(crate) backend: Sourced<Backend>,
    pub(crate) region: Option<Sourced<String>>,
    pub(crate) endpoint_url: Option<Sourced<String>>,
    pub(crate) profile: Option<Sourced<String>>,
    pub(crate) force_path_style: Sourced<bool>,
    pub(crate) mounts: BTreeMap<String, PathBuf>,
    pub(crate) buckets: Vec<String>,
    pub(crate) athena_init: Vec<PathBuf>,
    pub(crate) workgroups: BTreeMap<String, Workgroup>,
    /// Local handlers of Lambda functions, with where each was set.
    pub(crate) lambdas: Vec<Sourced<FunctionConfig>>,
    /// The connections of HTTP Tasks.
    pub(crate) connections: Vec<Connection>,
    /// Where Lambda functions run: local handlers, or AWS (`[lambda] backend`, else `backend`).
    pub(crate) lambda_backend: Sourced<Backend>,
    /// `[serve.access_keys]`: access key id → the environment variable with its secret.
    pub(crate) access_keys: BTreeMap<String, String>,
    /// `[schedules.NAME]`.
    pub(crate) schedules: Vec<DeclaredSchedule>,
    /// `[store] retention`: closed executions older than this are pruned.
    pub(crate) retention: Option<std::time::Duration>,
    primary_is_default: bool,
    definitions: Vec<(PathBuf, DefinitionDefaults)>,
}

/// The built-in result location of the `primary` workgroup.
pub(crate) const DEFAULT_OUTPUT_LOCATION: &str = "s3://sfnlite-athena-results/";

fn env(name: &str) -> Option<Sourced<String>> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).map(|value| Sourced { value, source: format!("env {name}") })
}

fn pick<T>(flag: Option<(T, &str)>, env_names: &[&str], file: Option<T>, file_source: &str) -> Option<Sourced<T>>
where
    T: From<String>,
{
    if let Some((value, name)) = flag {
        return Some(Sourced { value, source: format!("flag {name}") });
    }
    for name in env_names {
        if let Some(s) = env(name) {
            return Some(Sourced { value: T::from(s.value), source: s.source });
        }
    }
    file.map(|value| Sourced { value, source: file_source.to_owned() })
}

fn parse_backend(text: &str, source: &str) -> anyhow::Result<Backend> {
    match text {
        "local" => Ok(Backend::Local),
        "aws" => Ok(Backend::Aws),
        other => Err(anyhow!("{source}: backend must be \"local\" or \"aws\", not {other:?}")),
    }
}

fn parse_clock(text: &str, source: &str) -> anyhow::Result<ClockKind> {
    match text {
        "real" => Ok(ClockKind::Real),
        "virtual" => Ok(ClockKind::Virtual),
        other => Err(anyhow!("{source}: clock must be \"real\" or \"virtual\", not {other:?}")),
    }
}

fn truthy(text: &str) -> bool {
    matches!(text.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

/// Resolves settings from the command line, the environment and the config file
/// (`--config`, `SFNLITE_CONFIG`, or `sfnlite.toml` in the current directory).
pub(crate) fn load(cli: &Cli) -> anyhow::Result<Settings> {
    let file_path = if cli.no_config {
        None
    } else if let Some(path) = cli.config.clone().or_else(|| std::env::var_os("SFNLITE_CONFIG").map(PathBuf::from)) {
        Some(path)
    } else {
        Some(PathBuf::from("sfnlite.toml")).filter(|p| p.is_file())
    };
    let text = match &file_path {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?,
        ),
        None => None,
    };
    settings(cli, file_path, text.as_deref())
}

/// `text` as `sfnlite.toml` with no flags (what the `config` fuzz target checks).
pub(crate) fn load_text(text: &str) -> anyhow::Result<Settings> {
    let cli = <Cli as clap::Parser>::try_parse_from(["sfnlite", "config"]).map_err(|e| anyhow!("{e}"))?;
    settings(&cli, Some(PathBuf::from("sfnlite.toml")), Some(text))
}

/// The settings from the flags, the environment and the config file's text.
fn settings(cli: &Cli, file_path: Option<PathBuf>, text: Option<&str>) -> anyhow::Result<Settings> {
    let (file, base) = match (&file_path, text) {
        (Some(path), Some(text)) => {
            // toml's messages give the line and column.
            let file: File = toml::from_str(text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (file, base)
        }
        _ => (File::default(), PathBuf::new()),
    };
    let from_file = file_path.as_ref().map(|p| format!("config {}", p.display())).unwrap_or_default();
    let relative =
        |p: &Path| if p.is_absolute() || base.as_os_str().is_empty() { p.to_path_buf() } else { base.join(p) };

    let data_dir = match (&cli.data_dir, env("SFNLITE_DATA_DIR"), &file.data_dir) {
        (Some(dir), _, _) => Sourced { value: dir.clone(), source: "flag --data-dir".into() },
        (None, Some(e), _) => Sourced { value: PathBuf::from(e.value), source: e.source },
        (None, None, Some(dir)) => Sourced { value: relative(dir), source: from_file.clone() },
        (None, None, None) => Sourced {
            value: cli.store.clone().unwrap_or_else(|| PathBuf::from(".sfnlite")).join("data"),
            source: "default (<store>/data)".into(),
        },
    };
    let backend = match (cli.backend, env("SFNLITE_BACKEND"), &file.backend) {
        (Some(b), _, _) => Sourced { value: b, source: "flag --backend".into() },
        (None, Some(e), _) => Sourced { value: parse_backend(&e.value, &e.source)?, source: e.source },
        (None, None, Some(b)) => Sourced { value: parse_backend(b, &from_file)?, source: from_file.clone() },
        (None, None, None) => Sourced { value: Backend::Local, source: "default".into() },
    };
    let region = pick(
        cli.region.clone().map(|r| (r, "--region")),
        &["AWS_REGION", "AWS_DEFAULT_REGION"],
        file.aws.region.clone(),
        &from_file,
    );
    let endpoint_url = pick(
        cli.endpoint_url.clone().map(|e| (e, "--endpoint-url")),
        &["AWS_ENDPOINT_URL"],
        file.aws.endpoint_url.clone(),
        &from_file,
    );
    let profile =
        pick(cli.profile.clone().map(|p| (p, "--profile")), &["AWS_PROFILE"], file.aws.profile.clone(), &from_file);
    let force_path_style = if cli.force_path_style {
        Sourced { value: true, source: "flag --force-path-style".into() }
    } else if let Some(e) = env("SFNLITE_S3_FORCE_PATH_STYLE") {
        Sourced { value: truthy(&e.value), source: e.source }
    } else if let Some(v) = file.aws.force_path_style {
        Sourced { value: v, source: from_file.clone() }
    } else {
        // S3-compatible endpoints seldom serve virtual-hosted buckets.
        Sourced { value: endpoint_url.is_some(), source: "default (true with an endpoint URL)".into() }
    };
    for bucket in file.s3.mounts.keys() {
        sfnlite_adapters::s3::check_bucket_name(bucket).map_err(|e| anyhow!("{from_file}: [s3.mounts] {e}"))?;
    }
    let mut workgroups = file.athena.workgroups;
    for (name, workgroup) in &workgroups {
        workgroup.limits().map_err(|e| anyhow!("{from_file}: [athena.workgroups.{name}] {e}"))?;
    }
    let primary_is_default = !workgroups.contains_key("primary");
    workgroups.entry("primary".into()).or_insert_with(|| Workgroup {
        output_location: Some(DEFAULT_OUTPUT_LOCATION.into()),
        enforce_configuration: false,
        ..Workgroup::default()
    });
    let mut definitions = Vec::new();
    for (path, defaults) in file.definitions {
        let where_ = format!("{from_file} [definitions.\"{}\"]", path.display());
        let clock = defaults.clock.as_deref().map(|c| parse_clock(c, &where_)).transpose()?;
        let key = relative(&path);
        let key = key.canonicalize().unwrap_or(key);
        definitions.push((
            key,
            DefinitionDefaults {
                substitutions: defaults.substitutions,
                mock_config: defaults.mock_config.as_deref().map(relative),
                test_case: defaults.test_case,
                clock,
            },
        ));
    }
    let lambdas = lambda_functions(cli, &file.lambda, &base, &from_file)?;
    let connections = http_connections(&file.http, &from_file)?;
    let lambda_backend = match &file.lambda.backend {
        Some(b) => Sourced { value: parse_backend(b, &format!("{from_file} [lambda]"))?, source: from_file.clone() },
        None => backend.clone(),
    };
    let schedules = file
        .schedules
        .iter()
        .map(|(name, s)| {
            let source = format!("{from_file} [schedules.{name}]");
            // The input may be written as TOML (a table) or as JSON text.
            let input = match &s.input {
                None => None,
                Some(toml::Value::String(text)) => Some(text.clone()),
                Some(other) => Some(serde_json::to_string(other).map_err(|e| anyhow!("{source}: input: {e}"))?),
            };
            let state_machine = match (&s.state_machine, &s.definition) {
                (Some(name), _) => name.clone(),
                (None, Some(file)) => {
                    let file_name = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                    file_name
                        .strip_suffix(".asl.json")
                        .or_else(|| file_name.strip_suffix(".json"))
                        .unwrap_or(&file_name)
                        .to_owned()
                }
                (None, None) => {
                    return Err(anyhow!(
                        "{source}: give state_machine (a registered state machine) or definition (a file)"
                    ));
                }
            };
            let fields = crate::args::ScheduleFields {
                state_machine: Some(state_machine),
                expression: Some(s.expression.clone()),
                input,
                timezone: s.timezone.clone(),
                flexible_window: s.flexible_window.clone(),
                start_date: s.start_date.clone(),
                end_date: s.end_date.clone(),
                missed: s.missed.clone(),
            };
            let definition = s.definition.as_deref().map(&relative);
            Ok(DeclaredSchedule { name: name.clone(), fields, disabled: s.disabled, source, definition })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Settings {
        schedules,
        access_keys: file.serve.access_keys.clone(),
        retention: match &file.store.retention {
            Some(text) => Some(
                crate::commands::prune::parse_age(text).map_err(|e| anyhow!("{from_file}: [store] retention: {e}"))?,
            ),
            None => None,
        },
        lambda_backend,
        lambdas,
        connections,
        file: file_path,
        data_dir,
        backend,
        region,
        endpoint_url,
        profile,
        force_path_style,
        buckets: file.s3.buckets.clone(),
        mounts: file.s3.mounts.iter().map(|(bucket, dir)| (bucket.clone(), relative(dir))).collect(),
        athena_init: file.athena.init.iter().map(|p| relative(p)).collect(),
        workgroups,
        primary_is_default,
        definitions,
    })
}

/// The connections of `[http.connections]`.
fn http_connections(file: &HttpFile, from_file: &str) -> anyhow::Result<Vec<Connection>> {
    let mut connections = Vec::new();
    for (name, c) in &file.connections {
        let place = format!("{from_file} [http.connections.{name}]");
        let need = |value: &Option<String>, field: &str| {
            value.clone().ok_or_else(|| anyhow!("{place}: auth = \"{}\" needs {field}", c.auth))
        };
        let auth = match c.auth.as_str() {
            "api_key" => {
                Auth::ApiKey { header: need(&c.header, "header")?, value_env: need(&c.value_env, "value_env")? }
            }
            "basic" => Auth::Basic {
                username: need(&c.username, "username")?,
                password_env: need(&c.password_env, "password_env")?,
            },
            "oauth" => Auth::OAuth {
                token_url: need(&c.token_url, "token_url")?,
                client_id: need(&c.client_id, "client_id")?,
                client_secret_env: need(&c.client_secret_env, "client_secret_env")?,
                scope: c.scope.clone(),
            },
            other => return Err(anyhow!("{place}: auth must be \"api_key\", \"basic\" or \"oauth\", not {other:?}")),
        };
        connections.push(Connection {
            name: name.clone(),
            auth,
            headers: c.headers.clone(),
            query: c.query.clone(),
            body: c.body.clone(),
        });
    }
    Ok(connections)
}

/// The functions of `[lambda.functions]`, then `--lambda` flags (which win).
fn lambda_functions(
    cli: &Cli,
    file: &LambdaFile,
    base: &Path,
    from_file: &str,
) -> anyhow::Result<Vec<Sourced<FunctionConfig>>> {
    let interpreter = |runtime: Runtime| match runtime {
        Runtime::Python => file.python.as_ref(),
        Runtime::Node => file.node.as_ref(),
        Runtime::Command => None,
    };
    // An interpreter given as a path (`.venv/bin/python`) is relative to the file; a bare
    // name (`python3.12`) is looked up on the PATH.
    let locate = |p: &PathBuf| if p.components().count() > 1 && p.is_relative() { base.join(p) } else { p.clone() };
    let mut functions: Vec<Sourced<FunctionConfig>> = Vec::new();
    for (name, f) in &file.functions {
        let place = format!("{from_file} [lambda.functions.{name}]");
        let mut config = FunctionConfig::from_spec(name, &f.handler, f.runtime.as_deref(), f.code.as_deref(), base)
            .map_err(|e| anyhow!("{place}: {e}"))?;
        if let Some(timeout) = f.timeout {
            if !(1..=900).contains(&timeout) {
                return Err(anyhow!("{place}: timeout must be 1 to 900 seconds (Lambda's range), not {timeout}"));
            }
            config.timeout = std::time::Duration::from_secs(timeout.into());
        }
        if let Some(memory) = f.memory_size {
            if !(128..=10_240).contains(&memory) {
                return Err(anyhow!("{place}: memory_size must be 128 to 10240 MB (Lambda's range), not {memory}"));
            }
            config.memory_mb = memory;
        }
        if let Some(concurrency) = f.concurrency {
            if concurrency == 0 {
                return Err(anyhow!("{place}: concurrency must be at least 1"));
            }
            config.concurrency = concurrency as usize;
        }
        config.environment = f.environment.clone();
        config.interpreter = interpreter(config.runtime).map(locate);
        functions.push(Sourced { value: config, source: from_file.to_owned() });
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    for flag in &cli.lambdas {
        let Some((name, spec)) = flag.split_once('=').filter(|(n, s)| !n.is_empty() && !s.is_empty()) else {
            return Err(anyhow!(
                "--lambda {flag:?}: expected NAME=HANDLER, e.g. --lambda process=python:lambdas/p.py:handler"
            ));
        };
        let mut config =
            FunctionConfig::from_spec(name, spec, None, None, &cwd).map_err(|e| anyhow!("--lambda {flag:?}: {e}"))?;
        config.interpreter = interpreter(config.runtime).map(locate);
        functions.retain(|f| f.value.name != name);
        functions.push(Sourced { value: config, source: "flag --lambda".into() });
    }
    Ok(functions)
}

impl Settings {
    /// The AWS SDK settings.
    pub(crate) fn aws(&self) -> AwsSettings {
        AwsSettings {
            region: self.region.as_ref().map(|s| s.value.clone()),
            endpoint_url: self.endpoint_url.as_ref().map(|s| s.value.clone()),
            profile: self.profile.as_ref().map(|s| s.value.clone()),
            force_path_style: self.force_path_style.value,
        }
    }

    /// The `run` defaults of a definition file, if the config has some.
    pub(crate) fn definition_defaults(&self, file: &Path) -> Option<&DefinitionDefaults> {
        let key = file.canonicalize().ok()?;
        self.definitions.iter().find(|(path, _)| *path == key).map(|(_, d)| d)
    }

    /// The `run` defaults of the definition file a state machine was named after (its
    /// file name without `.asl.json`): what `resume` and `redrive` use for their mocks.
    pub(crate) fn defaults_for_machine(&self, state_machine_name: &str) -> Option<&DefinitionDefaults> {
        self.definitions.iter().find_map(|(path, d)| {
            let file = path.file_name()?.to_str()?;
            let stem = file.strip_suffix(".asl.json").or_else(|| file.strip_suffix(".json")).unwrap_or(file);
            (stem == state_machine_name).then_some(d)
        })
    }

    /// Every setting as (name, value, source) rows, for `sfnlite config`.
    pub(crate) fn rows(&self) -> Vec<(String, String, String)> {
        let file_source = self.file.as_ref().map(|p| format!("config {}", p.display())).unwrap_or_default();
        let mut rows = vec![
            (
                "config".to_owned(),
                self.file.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(none)".into()),
                if self.file.is_some() { "found".into() } else { "no sfnlite.toml here".into() },
            ),
            ("data_dir".into(), self.data_dir.value.display().to_string(), self.data_dir.source.clone()),
            ("backend".into(), self.backend.value.as_str().into(), self.backend.source.clone()),
        ];
        let optional = |name: &str, v: &Option<Sourced<String>>| match v {
            Some(s) => (name.to_owned(), s.value.clone(), s.source.clone()),
            None => (name.to_owned(), "(unset)".into(), "the SDK's defaults".into()),
        };
        rows.push(optional("aws.region", &self.region));
        rows.push(optional("aws.endpoint_url", &self.endpoint_url));
        rows.push(optional("aws.profile", &self.profile));
        rows.push((
            "aws.force_path_style".into(),
            self.force_path_style.value.to_string(),
            self.force_path_style.source.clone(),
        ));
        for (bucket, dir) in &self.mounts {
            rows.push((format!("s3.mounts.{bucket}"), dir.display().to_string(), file_source.clone()));
        }
        for bucket in &self.buckets {
            rows.push(("s3.buckets".into(), bucket.clone(), file_source.clone()));
        }
        for path in &self.athena_init {
            rows.push(("athena.init".into(), path.display().to_string(), file_source.clone()));
        }
        for (name, wg) in &self.workgroups {
            let source =
                if name == "primary" && self.primary_is_default { "default".to_owned() } else { file_source.clone() };
            rows.push((
                format!("athena.workgroups.{name}"),
                format!(
                    "output_location={}{}{}",
                    wg.output_location.as_deref().unwrap_or("(none)"),
                    if wg.enforce_configuration { ", enforce_configuration" } else { "" },
                    wg.limits().map_or_else(
                        |_| String::new(),
                        |l| format!(
                            ", memory_limit_mib={}, query_timeout={}s",
                            l.memory_bytes >> 20,
                            l.timeout.as_secs()
                        )
                    )
                ),
                source,
            ));
        }
        rows.push((
            "lambda.backend".into(),
            self.lambda_backend.value.as_str().into(),
            self.lambda_backend.source.clone(),
        ));
        for f in &self.lambdas {
            let c = &f.value;
            rows.push((
                format!("lambda.functions.{}", c.name),
                format!(
                    "{:?} {} (timeout {} s, {} MB, concurrency {})",
                    c.runtime,
                    c.handler_text(),
                    c.timeout.as_secs(),
                    c.memory_mb,
                    c.concurrency
                ),
                f.source.clone(),
            ));
        }
        for (path, d) in &self.definitions {
            let mut parts: Vec<String> = d.substitutions.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if let Some(m) = &d.mock_config {
                parts.push(format!("mock_config={}", m.display()));
            }
            if let Some(t) = &d.test_case {
                parts.push(format!("test_case={t}"));
            }
            if let Some(c) = d.clock {
                parts.push(format!("clock={}", if c == ClockKind::Virtual { "virtual" } else { "real" }));
            }
            let shown = std::env::current_dir().ok().and_then(|d| path.strip_prefix(d).ok().map(Path::to_path_buf));
            rows.push((
                format!("definitions.{}", shown.as_deref().unwrap_or(path).display()),
                parts.join(", "),
                file_source.clone(),
            ));
        }
        rows
    }
}
