//! `sfnlite validate FILE`: every problem at once, with AWS codes and locations; and
//! `sfnlite graph FILE`, which draws a valid definition.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;
use sfnlite_states::{Diagnostic, Severity, StateMachine, parse_definition};

use super::Failure;
use crate::args::{DefinitionArgs, GraphArgs, GraphFormat, ValidateArgs, ValidateFormat};
use crate::input::{read_file, substitute, unresolved_placeholders};

/// Reads, substitutes and parses a definition: the text, the machine when valid, and the
/// diagnostics. Unreadable files are usage errors.
pub(crate) fn load(args: &DefinitionArgs) -> Result<(String, Option<StateMachine>, Vec<Diagnostic>), Failure> {
    let text = read_file(&args.file).map_err(Failure::usage)?;
    let text = substitute(&text, &args.substitutions).map_err(Failure::usage)?;
    for name in unresolved_placeholders(&text) {
        eprintln!("sfnlite: warning: {}: the placeholder ${{{name}}} has no --sub value", args.file.display());
    }
    let (machine, diagnostics) = parse_definition(&text);
    Ok((text, machine, diagnostics))
}

/// Prints diagnostics for people, one per line: `file: error[CODE] at /States/X: message`.
pub(crate) fn print_diagnostics(file: &Path, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{}: {d}", file.display());
    }
}

pub(crate) fn validate(args: ValidateArgs) -> Result<ExitCode, Failure> {
    let (_, machine, diagnostics) = load(&args.definition)?;
    let ok = machine.is_some();
    match args.format {
        ValidateFormat::Text => {
            for d in &diagnostics {
                println!("{}: {d}", args.definition.file.display());
            }
            let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            let warnings = diagnostics.len() - errors;
            if ok {
                eprintln!("{}: valid ({warnings} warning(s))", args.definition.file.display());
            } else {
                eprintln!("{}: invalid: {errors} error(s), {warnings} warning(s)", args.definition.file.display());
            }
        }
        ValidateFormat::Json => {
            let items: Vec<_> = diagnostics
                .iter()
                .map(|d| {
                    json!({
                        "severity": if d.severity == Severity::Error { "ERROR" } else { "WARNING" },
                        "code": d.code.as_str(),
                        "message": d.message,
                        "location": d.location,
                    })
                })
                .collect();
            println!("{}", json!({"result": if ok { "OK" } else { "FAIL" }, "diagnostics": items}));
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `sfnlite graph FILE`: the definition's graph on stdout. An invalid definition is
/// reported as `validate` reports it (exit 1): its graph would draw what cannot run.
pub(crate) fn graph(args: GraphArgs) -> Result<ExitCode, Failure> {
    let (text, machine, diagnostics) = load(&args.definition)?;
    if machine.is_none() {
        print_diagnostics(&args.definition.file, &diagnostics);
        eprintln!("{}: invalid; nothing drawn", args.definition.file.display());
        return Ok(ExitCode::from(1));
    }
    let definition: serde_json::Value = serde_json::from_str(&text).map_err(|e| Failure::internal(e.into()))?;
    let scope = sfnlite_states::graph::graph(&definition);
    let out = match args.format {
        GraphFormat::Svg => sfnlite_states::graph::to_svg(&scope),
        GraphFormat::Dot => sfnlite_states::graph::to_dot(&scope),
        GraphFormat::Mermaid => sfnlite_states::graph::to_mermaid(&scope),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}
