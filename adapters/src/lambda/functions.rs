//! Which local handler runs which Lambda function: function settings, handler specs
//! (`python:PATH:FUNCTION`, `node:PATH:FUNCTION`, `cmd:COMMAND`, or Lambda's own
//! `module.function` with a runtime), and the forms a `FunctionName` takes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The language a handler is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Python 3: a warm worker process running `python_bootstrap.py`.
    Python,
    /// Node.js: a warm worker process running `node_bootstrap.mjs`.
    Node,
    /// Any program, started per invocation: the event on stdin, the result on stdout.
    Command,
}

impl Runtime {
    /// Reads Lambda's runtime identifiers (`python3.12`, `nodejs20.x`) and sfnlite's
    /// (`python`, `node`, `cmd`).
    pub fn parse(text: &str) -> Option<Runtime> {
        if text == "python" || text.starts_with("python3") {
            Some(Runtime::Python)
        } else if text == "node" || text.starts_with("nodejs") {
            Some(Runtime::Node)
        } else if text == "cmd" || text == "provided" || text.starts_with("provided.") {
            Some(Runtime::Command)
        } else {
            None
        }
    }

    /// `AWS_EXECUTION_ENV`'s runtime part.
    pub(crate) fn execution_env(self) -> &'static str {
        match self {
            Runtime::Python => "AWS_Lambda_python3",
            Runtime::Node => "AWS_Lambda_nodejs",
            Runtime::Command => "AWS_Lambda_provided",
        }
    }
}

/// Where a handler's code is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A source file and the function in it (`python:lambdas/process.py:handler`).
    File {
        /// The file (absolute once resolved).
        path: PathBuf,
        /// The function's name.
        function: String,
    },
    /// Lambda's `module.function`, resolved in the code directory.
    Module(String),
    /// A shell command line (`cmd:…`), run with `sh -c`.
    Command(String),
}

/// One function's local handler and settings.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The function's name (what `FunctionName` names).
    pub name: String,
    /// The handler's language.
    pub runtime: Runtime,
    /// The handler.
    pub entry: Entry,
    /// The working directory and `LAMBDA_TASK_ROOT` (a `File` entry's folder by default).
    pub code_dir: PathBuf,
    /// Lambda's function timeout (default 3 s, as on AWS).
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (default 128 MB, as on AWS).
    pub memory_mb: u32,
    /// The function's environment variables.
    pub environment: BTreeMap<String, String>,
    /// How many invocations may run at once (each in a worker of its own).
    pub concurrency: usize,
    /// The interpreter (`python3` or `node` on the PATH by default).
    pub interpreter: Option<PathBuf>,
}

/// The defaults AWS applies to a new function.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// See [`DEFAULT_TIMEOUT`].
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Workers per function when the settings don't say.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// A handler spec that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHandler(pub String);

impl fmt::Display for BadHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FunctionConfig {
    /// A function from a handler spec: `python:PATH:FUNCTION`, `node:PATH:FUNCTION`,
    /// `cmd:COMMAND`, or `module.function` with `runtime` given. Relative paths are
    /// relative to `base` (the config file's folder, or the current directory for flags).
    pub fn from_spec(
        name: &str,
        spec: &str,
        runtime: Option<&str>,
        code_dir: Option<&Path>,
        base: &Path,
    ) -> Result<FunctionConfig, BadHandler> {
        // Workers run in the code directory, so every path is made absolute here.
        let base = if base.is_absolute() {
            base.to_path_buf()
        } else {
            std::env::current_dir().map(|cwd| cwd.join(base)).unwrap_or_else(|_| base.to_path_buf())
        };
        let base = base.as_path();
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        let explicit = runtime
            .map(|r| {
                Runtime::parse(r).ok_or_else(|| {
                    BadHandler(format!("runtime {r:?} is not one sfnlite runs (python3.x, nodejs*.x, or cmd)"))
                })
            })
            .transpose()?;
        let (runtime, entry) = match spec.split_once(':') {
            Some(("cmd", command)) if !command.trim().is_empty() => (Runtime::Command, Entry::Command(command.into())),
            Some((prefix @ ("python" | "node"), rest)) => {
                let runtime = if prefix == "python" { Runtime::Python } else { Runtime::Node };
                let Some((path, function)) = rest.rsplit_once(':').filter(|(p, f)| !p.is_empty() && !f.is_empty())
                else {
                    return Err(BadHandler(format!(
                        "handler {spec:?}: expected {prefix}:PATH:FUNCTION, e.g. {prefix}:lambdas/app.{}:handler",
                        if runtime == Runtime::Python { "py" } else { "mjs" }
                    )));
                };
                (runtime, Entry::File { path: resolve(Path::new(path)), function: function.into() })
            }
            _ => {
                let Some(runtime) = explicit else {
                    return Err(BadHandler(format!(
                        "handler {spec:?}: say which runtime runs it (python:PATH:FUNCTION, node:PATH:FUNCTION, \
                         cmd:COMMAND, or Lambda's module.function with runtime = \"python3.12\" and a code directory)"
                    )));
                };
                if runtime != Runtime::Command && !spec.contains('.') {
                    return Err(BadHandler(format!("handler {spec:?}: Lambda's form is module.function")));
                }
                let entry =
                    if runtime == Runtime::Command { Entry::Command(spec.into()) } else { Entry::Module(spec.into()) };
                (runtime, entry)
            }
        };
        if let Some(explicit) = explicit
            && explicit != runtime
        {
            return Err(BadHandler(format!("handler {spec:?} does not match runtime {:?}", runtime_name(explicit))));
        }
        let code_dir = match (code_dir, &entry) {
            (Some(dir), _) => resolve(dir),
            (None, Entry::File { path, .. }) => path.parent().map(Path::to_path_buf).unwrap_or_else(|| base.into()),
            (None, _) => base.to_path_buf(),
        };
        Ok(FunctionConfig {
            name: name.to_owned(),
            runtime,
            entry,
            code_dir,
            timeout: DEFAULT_TIMEOUT,
            memory_mb: DEFAULT_MEMORY_MB,
            environment: BTreeMap::new(),
            concurrency: DEFAULT_CONCURRENCY,
            interpreter: None,
        })
    }

    /// `AWS_LAMBDA_FUNCTION_HANDLER`, as Lambda shows it.
    pub fn handler_text(&self) -> String {
        match &self.entry {
            Entry::File { path, function } => {
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                format!("{stem}.{function}")
            }
            Entry::Module(m) => m.clone(),
            Entry::Command(c) => c.clone(),
        }
    }
}

fn runtime_name(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Python => "python",
        Runtime::Node => "node",
        Runtime::Command => "cmd",
    }
}

/// A function as a `FunctionName` (and `Qualifier`) names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The function's name.
    pub name: String,
    /// A version, an alias, or `$LATEST`, if named.
    pub qualifier: Option<String>,
    /// The region an ARN names, if any.
    pub region: Option<String>,
    /// The account an ARN names, if any.
    pub account: Option<String>,
}

impl FunctionRef {
    /// Reads the forms Lambda accepts: `name`, `name:qualifier`,
    /// `ACCOUNT:function:name[:qualifier]`, `arn:PARTITION:lambda:REGION:ACCOUNT:function:name[:qualifier]`.
    /// `None` when the text is none of them.
    pub fn parse(text: &str) -> Option<FunctionRef> {
        let fields: Vec<&str> = text.split(':').collect();
        let (name, qualifier, region, account) = match fields.as_slice() {
            [name] => (*name, None, None, None),
            [name, qualifier] => (*name, Some(*qualifier), None, None),
            [account, "function", name] => (*name, None, None, Some(*account)),
            [account, "function", name, qualifier] => (*name, Some(*qualifier), None, Some(*account)),
            ["arn", _, "lambda", region, account, "function", name] => (*name, None, Some(*region), Some(*account)),
            ["arn", _, "lambda", region, account, "function", name, qualifier] => {
                (*name, Some(*qualifier), Some(*region), Some(*account))
            }
            _ => return None,
        };
        if name.is_empty() || name.len() > 140 || qualifier.is_some_and(str::is_empty) {
            return None;
        }
        Some(FunctionRef {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            region: region.filter(|r| !r.is_empty()).map(str::to_owned),
            account: account.filter(|a| !a.is_empty()).map(str::to_owned),
        })
    }

    /// The function's ARN with its qualifier (Lambda's `invoked_function_arn`).
    pub fn arn(&self, default_region: &str) -> String {
        let region = self.region.as_deref().unwrap_or(default_region);
        let account = self.account.as_deref().unwrap_or(crate::lambda::ACCOUNT);
        let qualifier = self.qualifier.as_deref().map(|q| format!(":{q}")).unwrap_or_default();
        format!("arn:aws:lambda:{region}:{account}:function:{}{qualifier}", self.name)
    }

    /// The version that runs: a numbered version as named, `$LATEST` otherwise (locally an
    /// alias points at the one code there is).
    pub fn executed_version(&self) -> String {
        match &self.qualifier {
            Some(q) if q.chars().all(|c| c.is_ascii_digit()) => q.clone(),
            _ => "$LATEST".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form() {
        let plain = FunctionRef::parse("process").unwrap();
        assert_eq!((plain.name.as_str(), plain.qualifier.as_deref()), ("process", None));
        let q = FunctionRef::parse("<your-lambda-function-arn>:$LATEST").unwrap();
        assert_eq!((q.name.as_str(), q.qualifier.as_deref()), ("<your-lambda-function-arn>", Some("$LATEST")));
        let partial = FunctionRef::parse("123456789012:function:f:7").unwrap();
        assert_eq!((partial.account.as_deref(), partial.executed_version().as_str()), (Some("123456789012"), "7"));
        let full = FunctionRef::parse("arn:aws:lambda:eu-west-1:111122223333:function:f:live").unwrap();
        assert_eq!(full.arn("us-east-1"), "arn:aws:lambda:eu-west-1:111122223333:function:f:live");
        assert_eq!(full.executed_version(), "$LATEST");
        assert_eq!(plain.arn("us-east-1"), "arn:aws:lambda:us-east-1:123456789012:function:process");
        assert_eq!(FunctionRef::parse("a:b:c"), None);
        assert_eq!(FunctionRef::parse(""), None);
        assert_eq!(FunctionRef::parse("f:"), None);
    }

    #[test]
    fn handler_specs() {
        let base = Path::new("/repo");
        let py = FunctionConfig::from_spec("f", "python:lambdas/p.py:handler", None, None, base).unwrap();
        assert_eq!(py.runtime, Runtime::Python);
        assert_eq!(py.entry, Entry::File { path: "/repo/lambdas/p.py".into(), function: "handler".into() });
        assert_eq!(py.code_dir, Path::new("/repo/lambdas"));
        assert_eq!(py.handler_text(), "p.handler");
        let module = FunctionConfig::from_spec("f", "app.handler", Some("nodejs20.x"), Some(Path::new("fn")), base);
        let module = module.unwrap();
        assert_eq!((module.runtime, module.code_dir.as_path()), (Runtime::Node, Path::new("/repo/fn")));
        let cmd = FunctionConfig::from_spec("f", "cmd:jq -c .", None, None, base).unwrap();
        assert_eq!(cmd.entry, Entry::Command("jq -c .".into()));
        for bad in ["app.handler", "python:p.py", "node::h", "cmd:"] {
            assert!(FunctionConfig::from_spec("f", bad, None, None, base).is_err(), "{bad}");
        }
        assert!(FunctionConfig::from_spec("f", "python:p.py:h", Some("nodejs20.x"), None, base).is_err());
        assert!(FunctionConfig::from_spec("f", "app.h", Some("ruby3.3"), None, base).is_err());
    }
}
